//! Sightings through NATS JetStream (`twin serve --bus`), against the machine's NATS server
//! (`BAOAN_TEST_NATS`, by default nats://127.0.0.1:4222; `BAOAN_SKIP_NATS=1` compiles them as ignored, so the summary shows the skip).
//! Each test uses a stream of its own and deletes it.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use baoan_server::bus::spawn_workers;
use baoan_server::{AppState, BusConfig, router};
use baoan_stack::InProcessStack;
use common::*;
use serde_json::json;

fn config(workers: usize) -> BusConfig {
    static N: AtomicU32 = AtomicU32::new(0);
    BusConfig {
        url: std::env::var("BAOAN_TEST_NATS").unwrap_or_else(|_| "nats://127.0.0.1:4222".into()),
        stream: format!(
            "BAOAN_TEST_{}_{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ),
        workers,
    }
}

async fn served(config: BusConfig) -> Arc<AppState> {
    let state = AppState::new(
        InProcessStack::new(),
        tokens(),
        baoan_server::DEFAULT_MAX_BODY,
    );
    state.connect_bus(config).await.unwrap_or_else(|e| {
        panic!("{e} (start it: see README, \"The stack as a service\"; or BAOAN_SKIP_NATS=1)")
    });
    state
}

/// A sighting from camera 1 with a unit embedding of `dim` values.
fn sighting(sighting_ref: u64, dim: usize) -> String {
    let mut embedding = vec![0.0f32; dim];
    embedding[0] = 1.0;
    json!({ "sighting": {
        "sighting_ref": sighting_ref, "camera": 1, "grid": 0, "x_m": 0.0, "y_m": 0.0,
        "captured_at": 0, "quality": 0.9, "embedding": embedding
    } })
    .to_string()
}

const CAMERA: (&str, &str) = ("x-act-as", "camera:8000001");
const PATH: &str = "/matcher/submit_sighting";

/// A sighting sent by the gateway for camera 1, with `extra` headers.
async fn submit(router: &axum::Router, extra: &[(&str, &str)], body: &str) -> Answer {
    let mut headers = vec![CAMERA];
    headers.extend_from_slice(extra);
    send_with(router, "POST", PATH, Some(GATEWAY), &headers, body).await
}
const AWAIT: (&str, &str) = ("x-await-outcomes", "true");

/// Waits (up to 20 s) until `f` holds.
async fn eventually(what: &str, f: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(skip_nats, ignore = "BAOAN_SKIP_NATS is set: needs the machine's NATS")]
async fn sightings_are_queued_on_the_bus_and_carried_by_the_workers() {
    let config = config(2);
    let stream = config.stream.clone();
    let state = served(config).await;
    let workers = spawn_workers(&state);
    let router = router(Arc::clone(&state));
    let audited = || state.with_stack(|s| s.audit().len()).unwrap();
    let bus = Arc::clone(state.bus().unwrap());

    // Stored, then answered: 202 with where it waits.
    let before = audited();
    let a = submit(&router, &[], &sighting(1, 512)).await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.text);
    assert_eq!(a.json()["queued"]["stream"], stream.as_str());
    assert!(a.json()["queued"]["seq"].as_u64().unwrap() >= 1);
    eventually("a worker carried the sighting", || audited() == before + 1).await;

    // A caller that needs the outcomes waits for the worker's answer.
    let a = submit(&router, &[AWAIT], &sighting(2, 512)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.outcome_types(), ["sighting_discarded"]);

    // The stack's refusal comes back the same way (a face of the wrong dimension).
    let a = submit(&router, &[AWAIT], &sighting(3, 2)).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);
    assert_eq!(a.json()["error"], "invalid");

    // A role that may not send sightings is refused before anything is queued, and the
    // refusal is in the audit log like any other.
    let published = bus.counts().0;
    let before = audited();
    let a = post(&router, PATH, Some(INSPECTOR), &sighting(4, 512)).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "{}", a.text);
    assert_eq!(
        bus.counts().0,
        published,
        "nothing queued for a refused caller"
    );
    assert_eq!(audited(), before + 1, "the refusal is audited");

    let h = send(&router, "GET", "/health", None, "").await.json();
    assert_eq!(h["bus"]["stream"], stream.as_str());
    assert_eq!(h["bus"]["published"], 3);
    let m = send(&router, "GET", "/metrics", None, "").await;
    assert!(m.text.contains("baoan_bus_carried_total 3"), "{}", m.text);
    eventually("every message was acknowledged", || bus.counts().1 == 3).await;
    assert_eq!(bus.queued().await.unwrap(), 0);

    for w in workers {
        w.abort();
    }
    bus.delete_stream().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(skip_nats, ignore = "BAOAN_SKIP_NATS is set: needs the machine's NATS")]
async fn sightings_wait_in_the_stream_until_a_worker_takes_them() {
    let config = config(0);
    // A server that only publishes: the sightings wait, stored, for a worker.
    let front = served(config.clone()).await;
    let front_router = router(Arc::clone(&front));
    for r in 1..=3 {
        let a = submit(&front_router, &[], &sighting(r, 512)).await;
        assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.text);
    }
    let bus = Arc::clone(front.bus().unwrap());
    assert_eq!(bus.queued().await.unwrap(), 3);
    assert_eq!(front.with_stack(|s| s.audit().len()).unwrap(), 0);

    // A server with a worker on the same stream carries them.
    let back = served(BusConfig {
        workers: 1,
        ..config
    })
    .await;
    let workers = spawn_workers(&back);
    let carried = || back.with_stack(|s| s.audit().len()).unwrap();
    eventually("the worker carried all three", || carried() == 3).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while bus.queued().await.unwrap() > 0 {
        assert!(Instant::now() < deadline, "the stream did not empty");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for w in workers {
        w.abort();
    }
    bus.delete_stream().await.unwrap();
}
