//! The served stack as a client sees it: routes, tokens, error answers, health, metrics and the
//! OpenAPI document. Calls go through the router in process (`oneshot`), except one over a real
//! socket on 127.0.0.1.

mod common;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use baoan_server::commands::{COMMAND_KINDS, REPORTS_ALIAS};
use baoan_server::{AppState, Config, Server, router};
use baoan_stack::InProcessStack;
use common::*;
use serde_json::{Value, json};
use tower::ServiceExt;

fn app_with_limit(max_body: usize) -> (Arc<AppState>, Router) {
    let state = AppState::new(InProcessStack::new(), tokens(), max_body);
    (Arc::clone(&state), router(state))
}

fn app() -> (Arc<AppState>, Router) {
    app_with_limit(baoan_server::DEFAULT_MAX_BODY)
}

#[tokio::test]
async fn a_report_at_the_alias_is_accepted_and_dispatched() {
    let (_, router) = app();
    load_directory(&router).await;
    let a = post(
        &router,
        REPORTS_ALIAS,
        Some(INSPECTOR),
        &report(1).to_string(),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.outcome_types(), ["report_accepted", "task_dispatched"]);
    assert_eq!(a.json()["outcomes"][1]["resolver"], 2000001);
    // The same report under its full name, with the same key: the task made the first time.
    let again = post(
        &router,
        "/grid/submit_report",
        Some(INSPECTOR),
        &report(1).to_string(),
    )
    .await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text);
    assert_eq!(
        again.json()["outcomes"][0]["task"],
        a.json()["outcomes"][0]["task"]
    );
}

#[tokio::test]
async fn a_role_not_allowed_is_403_naming_the_roles_allowed() {
    let (_, router) = app();
    let a = post(
        &router,
        "/grid/load_directory",
        Some(INSPECTOR),
        &directory().to_string(),
    )
    .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "{}", a.text);
    let body = a.json();
    assert_eq!(body["error"], "forbidden");
    assert_eq!(
        body["message"],
        "role inspector may not send load_directory; allowed: admin"
    );
}

#[tokio::test]
async fn no_token_or_an_unknown_one_is_401() {
    let (state, router) = app();
    for token in [None, Some("not-a-token-of-this-server")] {
        let a = post(&router, "/grid/query_backlog", token, "").await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{}", a.text);
        assert_eq!(a.json()["error"], "unauthorized");
        assert_eq!(a.headers[header::WWW_AUTHENTICATE], "Bearer");
    }
    let request = Request::post("/grid/query_backlog")
        .header(header::AUTHORIZATION, format!("Basic {ADMIN}"))
        .body(Body::empty())
        .unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    // An unauthenticated call never reaches the stack: nothing is audited.
    assert_eq!(state.with_stack(|s| s.audit().len()).unwrap(), 0);
}

#[tokio::test]
async fn malformed_json_is_400_with_line_and_column() {
    let (_, router) = app();
    let a = post(
        &router,
        "/grid/accept_task",
        Some(ADMIN),
        "{\n  \"task\": 1,\n  }",
    )
    .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.text);
    let body = a.json();
    assert_eq!(body["error"], "malformed_json");
    assert_eq!(
        (body["line"].as_u64(), body["column"].as_u64()),
        (Some(3), Some(3))
    );
}

#[tokio::test]
async fn unknown_fields_and_wrong_types_are_422_naming_the_field() {
    let (_, router) = app();
    let mut body = report(1);
    body["priority"] = json!("high");
    let a = post(&router, REPORTS_ALIAS, Some(INSPECTOR), &body.to_string()).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);
    assert_eq!(a.json()["error"], "unknown_field");
    assert_eq!(a.json()["field"], "priority");

    let mut body = report(1);
    body["grid"] = json!("zero");
    let a = post(&router, REPORTS_ALIAS, Some(INSPECTOR), &body.to_string()).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);
    assert_eq!(a.json()["error"], "invalid_body");
    assert_eq!(a.json()["field"], "grid");

    // The stack's own check of a value: a grid the directory lacks.
    load_directory(&router).await;
    let mut body = report(2);
    body["grid"] = json!(7);
    let a = post(&router, REPORTS_ALIAS, Some(INSPECTOR), &body.to_string()).await;
    assert!(
        a.status == StatusCode::UNPROCESSABLE_ENTITY || a.status == StatusCode::NOT_FOUND,
        "{}: {}",
        a.status,
        a.text
    );
}

#[tokio::test]
async fn unknown_paths_are_404_saying_what_exists() {
    let (_, router) = app();
    let a = post(&router, "/grid/submit_reprot", Some(ADMIN), "{}").await;
    assert_eq!(a.status, StatusCode::NOT_FOUND, "{}", a.text);
    assert_eq!(a.json()["error"], "unknown_command");
    assert!(
        a.json()["message"]
            .as_str()
            .unwrap()
            .contains("submit_report")
    );

    let a = post(&router, "/parking/submit_report", Some(ADMIN), "{}").await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert_eq!(a.json()["error"], "wrong_module");
    assert!(
        a.json()["message"]
            .as_str()
            .unwrap()
            .contains("POST /grid/submit_report")
    );

    let a = post(&router, "/parking/fine", Some(ADMIN), "{}").await;
    assert_eq!(a.json()["error"], "unknown_command");
    assert!(
        a.json()["message"]
            .as_str()
            .unwrap()
            .contains("grid, command, matcher, blocks, cases")
    );

    let a = send(&router, "GET", "/nothing/here/at/all", None, "").await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert_eq!(a.json()["error"], "no_route");

    let a = send(&router, "GET", "/grid/submit_report", Some(ADMIN), "").await;
    assert_eq!(a.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(a.json()["error"], "method_not_allowed");
}

#[tokio::test]
async fn a_body_over_the_limit_is_413() {
    let (state, router) = app_with_limit(1024);
    let records: Vec<Value> = (0..50)
        .map(|i| {
            json!({ "type": "person", "feed": "rental_registration", "record_ref": i,
            "name": "张伟", "id_number": null, "sex": null, "birth_date": null,
            "address": "创业路12号1栋1单元503", "phone": null, "observed_at_ms": 0 })
        })
        .collect();
    let body = json!({ "records": records }).to_string();
    assert!(body.len() > 1024);
    let a = post(&router, "/blocks/ingest_records", Some(ADMIN), &body).await;
    assert_eq!(a.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", a.text);
    assert_eq!(a.json()["error"], "payload_too_large");
    assert!(a.json()["message"].as_str().unwrap().contains("1024 bytes"));
    assert_eq!(state.with_stack(|s| s.audit().len()).unwrap(), 0);
}

#[tokio::test]
async fn a_refused_call_is_audited_and_changes_nothing() {
    let (state, router) = app();
    load_directory(&router).await;
    let a = post(
        &router,
        REPORTS_ALIAS,
        Some(INSPECTOR),
        &report(1).to_string(),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let backlog = post(&router, "/grid/query_backlog", Some(DISPATCHER), "").await;
    assert_eq!(backlog.status, StatusCode::OK, "{}", backlog.text);

    let audited = state.with_stack(|s| s.audit().len()).unwrap();
    // The inspector accepting a task dispatched to the fire department's resolver.
    let refused = post(
        &router,
        "/grid/accept_task",
        Some(INSPECTOR),
        r#"{"task": 1}"#,
    )
    .await;
    assert!(refused.status.is_client_error(), "{}", refused.text);
    // A directory may be loaded only once, before any report.
    let again = post(
        &router,
        "/grid/load_directory",
        Some(ADMIN),
        &directory().to_string(),
    )
    .await;
    assert!(again.status.is_client_error(), "{}", again.text);
    assert_eq!(state.with_stack(|s| s.audit().len()).unwrap(), audited + 2);
    let log = state
        .with_stack(|s| s.audit().entries().skip(audited).collect::<Vec<_>>())
        .unwrap();
    assert!(log.iter().all(|e| e.result != "ok"), "{log:?}");

    let after = post(&router, "/grid/query_backlog", Some(DISPATCHER), "").await;
    assert_eq!(
        after.json(),
        backlog.json(),
        "the refusals changed the backlog"
    );
}

#[tokio::test]
async fn health_needs_no_token_and_counts_the_audit_log() {
    let (_, router) = app();
    let a = send(&router, "GET", "/health", None, "").await;
    assert_eq!(a.status, StatusCode::OK);
    let body = a.json();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["audit_entries"], 0);
    assert!(body["uptime_s"].as_f64().unwrap() >= 0.0);

    post(&router, "/grid/query_backlog", Some(ANALYST), "{}").await;
    let body = send(&router, "GET", "/health", None, "").await.json();
    assert_eq!(body["audit_entries"], 1);
}

#[tokio::test]
async fn metrics_count_calls_by_command_and_status() {
    let (state, router) = app();
    post(&router, "/grid/query_backlog", Some(ANALYST), "").await;
    post(&router, "/grid/query_backlog", Some(INSPECTOR), "").await;
    post(&router, "/grid/query_backlog", None, "").await;
    post(&router, "/grid/nothing", Some(ANALYST), "").await;
    assert_eq!(state.advance().unwrap(), 0);
    let a = send(&router, "GET", "/metrics", None, "").await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(
        a.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    for line in [
        r#"baoan_requests_total{module="grid",kind="query_backlog",status="200"} 1"#,
        r#"baoan_requests_total{module="grid",kind="query_backlog",status="403"} 1"#,
        r#"baoan_requests_total{module="grid",kind="query_backlog",status="401"} 1"#,
        r#"baoan_requests_total{module="unknown",kind="unknown",status="404"} 1"#,
        r#"baoan_request_seconds_count{module="grid"} 3"#,
        "baoan_audit_entries 2",
        "baoan_advance_outcomes_total 0",
    ] {
        assert!(
            a.text.lines().any(|l| l == line),
            "no {line:?} in\n{}",
            a.text
        );
    }
}

#[tokio::test]
async fn every_path_of_the_openapi_document_is_served_and_every_command_is_in_it() {
    let (_, router) = app();
    let a = send(&router, "GET", "/openapi.json", None, "").await;
    assert_eq!(a.status, StatusCode::OK);
    let doc = a.json();
    let paths = doc["paths"].as_object().unwrap();
    for (path, item) in paths {
        for (method, _) in item.as_object().unwrap() {
            let answer = send(&router, &method.to_uppercase(), path, Some(ADMIN), "").await;
            assert_ne!(
                answer.status,
                StatusCode::NOT_FOUND,
                "{method} {path}: {}",
                answer.text
            );
            assert_ne!(
                answer.status,
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path}"
            );
        }
    }
    for (module, kind) in COMMAND_KINDS {
        assert!(
            paths[&format!("/{module}/{kind}")].get("post").is_some(),
            "{module}/{kind} is served but not in the document"
        );
    }
    assert!(paths.contains_key(REPORTS_ALIAS));
    // The example bodies of the document are accepted as they stand (the stack may still refuse
    // what they name).
    for (module, kind) in COMMAND_KINDS {
        let example = &paths[&format!("/{module}/{kind}")]["post"]["requestBody"]["content"]["application/json"]
            ["example"];
        let answer = post(
            &router,
            &format!("/{module}/{kind}"),
            Some(ADMIN),
            &example.to_string(),
        )
        .await;
        assert!(
            ![400, 413, 422].contains(&answer.status.as_u16())
                || answer.json()["error"] == "invalid",
            "{module}/{kind}: the example was not taken: {}",
            answer.text
        );
    }
}

/// The one call over the network: a server on 127.0.0.1 with a port of its own, a hand-written
/// HTTP/1.1 request, and a clean stop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_server_answers_over_tcp_and_stops_cleanly() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let server = Server::bind(Config::local(tokens())).unwrap();
    let addr = server.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.run_until(async {
        let _ = stopped.await;
    }));

    let body = directory().to_string();
    let request = format!(
        "POST /grid/load_directory HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {ADMIN}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        stream.read_to_string(&mut answer),
    )
    .await
    .expect("the server answers within 10 s")
    .unwrap();
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    let (_, body) = answer.split_once("\r\n\r\n").unwrap();
    let body: Value = serde_json::from_str(body).unwrap();
    assert_eq!(body["outcomes"][0]["type"], "directory_loaded");

    stop.send(()).unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(10), serving)
        .await
        .expect("the server stops within 10 s of being told")
        .unwrap()
        .unwrap();
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "still listening"
    );
}

#[tokio::test]
async fn a_large_body_is_carried_like_a_small_one() {
    // Over 16 KiB: parsed and carried on a blocking thread rather than the async worker.
    let (_, router) = app();
    let grids: Vec<Value> = (0..600)
        .map(|g| {
            json!({ "grid": g, "community": g / 50, "street": 0,
                    "inspector": 1_000_001 + g, "neighbours": [] })
        })
        .collect();
    let body = json!({ "directory": { "grids": grids, "resolvers": [
        { "person": 2000001, "department": "fire", "community": 0, "street": 0 }
    ] } })
    .to_string();
    assert!(body.len() > 16 * 1024, "{} bytes", body.len());
    let a = post(&router, "/grid/load_directory", Some(ADMIN), &body).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.outcome_types(), ["directory_loaded"]);
    let r = post(
        &router,
        REPORTS_ALIAS,
        Some(INSPECTOR),
        &report(1).to_string(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(
        r.outcome_types().contains(&"task_dispatched".to_string()),
        "{}",
        r.text
    );
}

/// A fault plan on the HTTP path: a module down answers 503 with Retry-After and carries
/// nothing; when its window closes the same call goes through; a latency window delays calls.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn planned_faults_refuse_or_delay_calls_and_change_nothing_they_refuse() {
    let plan = baoan_server::Faults::parse(
        "[[fault]]\nat_s = 0\nfor_s = 1.5\nmodule = \"grid\"\nkind = \"down\"\n\n\
         [[fault]]\nat_s = 0\nfor_s = 600\nmodule = \"*\"\nkind = \"latency\"\nlatency_ms = 40\n",
        std::path::Path::new("faults.toml"),
    )
    .unwrap();
    let state = AppState::new(
        InProcessStack::new(),
        tokens(),
        baoan_server::DEFAULT_MAX_BODY,
    );
    state.inject(Arc::new(plan)).unwrap();
    let router = router(Arc::clone(&state));
    let audit = || state.with_stack(|s| s.audit().len()).unwrap();

    let before = audit();
    let down = post(
        &router,
        "/grid/load_directory",
        Some(ADMIN),
        &directory().to_string(),
    )
    .await;
    assert_eq!(
        down.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        down.text
    );
    assert_eq!(down.json()["error"], "injected_fault");
    assert!(
        down.json()["message"]
            .as_str()
            .unwrap()
            .contains("grid/load_directory")
    );
    let retry: u64 = down.headers[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry), "Retry-After {retry}");
    assert_eq!(audit(), before, "a refused call reached the stack");

    let health = send(&router, "GET", "/health", None, "").await.json();
    let active: Vec<String> = health["faults_active"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            format!(
                "{} {}",
                f["module"].as_str().unwrap(),
                f["kind"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(active, ["grid down", "* latency"]);

    tokio::time::sleep(std::time::Duration::from_millis(1600)).await;
    load_directory(&router).await;
    let started = std::time::Instant::now();
    let a = post(
        &router,
        REPORTS_ALIAS,
        Some(INSPECTOR),
        &report(1).to_string(),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    // A functional check of the injected delay (a lower bound), not a speed measurement.
    assert!(started.elapsed() >= std::time::Duration::from_millis(40));

    let metrics = send(&router, "GET", "/metrics", None, "").await.text;
    assert!(
        metrics.contains("baoan_faults_injected_total{kind=\"down\"} 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("baoan_faults_injected_total{kind=\"latency\"} 2\n"),
        "{metrics}"
    );
    // A plan is given once.
    assert!(
        state
            .inject(Arc::new(baoan_server::Faults::default()))
            .is_err()
    );
}

#[tokio::test]
async fn a_gateway_acts_for_the_person_it_names_and_the_audit_log_says_who() {
    let (state, router) = app();
    load_directory(&router).await;
    let audited = |state: &AppState| state.with_stack(|s| s.audit().len()).unwrap();
    let a = send_with(
        &router,
        "POST",
        REPORTS_ALIAS,
        Some(GATEWAY),
        &[("x-act-as", "inspector:1000001")],
        &report(1).to_string(),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.outcome_types(), ["report_accepted", "task_dispatched"]);
    let entry = state
        .with_stack(|s| s.audit().get(s.audit().len() - 1).unwrap())
        .unwrap();
    assert_eq!(
        entry.actor.person.0, 1_000_001,
        "audited as the person acted for"
    );
    assert_eq!(entry.actor.role.as_str(), "inspector");

    // The role check is the named person's: a dispatcher may not send an inspector's report.
    let a = send_with(
        &router,
        "POST",
        REPORTS_ALIAS,
        Some(GATEWAY),
        &[("x-act-as", "dispatcher:9000002")],
        &report(2).to_string(),
    )
    .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "{}", a.text);
    assert_eq!(a.json()["error"], "forbidden");

    let before = audited(&state);
    // A token that is no gateway's may not act for anyone, and nothing is carried.
    let a = send_with(
        &router,
        "POST",
        REPORTS_ALIAS,
        Some(INSPECTOR),
        &[("x-act-as", "inspector:1000002")],
        &report(3).to_string(),
    )
    .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "{}", a.text);
    assert_eq!(a.json()["error"], "not_a_gateway");
    for bad in ["inspector", "boss:1", "inspector:x", "inspector:-1"] {
        let a = send_with(
            &router,
            "POST",
            REPORTS_ALIAS,
            Some(GATEWAY),
            &[("x-act-as", bad)],
            &report(4).to_string(),
        )
        .await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{bad}: {}", a.text);
        assert_eq!(a.json()["error"], "bad_act_as");
        assert!(
            a.json()["message"]
                .as_str()
                .unwrap()
                .contains("inspector:1000001")
        );
    }
    assert_eq!(
        audited(&state),
        before,
        "refused at the door: nothing audited or carried"
    );
    let m = send(&router, "GET", "/metrics", None, "").await;
    assert!(
        m.text.contains("baoan_delegated_calls_total 2"),
        "{}",
        m.text
    );
}

#[tokio::test]
async fn a_wall_clock_server_refuses_the_callers_time() {
    let (state, router) = app();
    load_directory(&router).await;
    let a = send_with(
        &router,
        "POST",
        REPORTS_ALIAS,
        Some(INSPECTOR),
        &[("x-sent-at", "5000")],
        &report(1).to_string(),
    )
    .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.text);
    assert_eq!(a.json()["error"], "clock_not_settable");
    let a = post(
        &router,
        "/clock/advance",
        Some(GATEWAY),
        r#"{"now": 60000}"#,
    )
    .await;
    assert_eq!(a.status, StatusCode::CONFLICT, "{}", a.text);
    assert_eq!(a.json()["error"], "wall_clock");
    let h = send(&router, "GET", "/health", None, "").await.json();
    assert_eq!(h["clock"], "wall");
    assert_eq!(h["matcher_dim"], 512);
    assert_eq!(state.clock_mode(), baoan_server::ClockMode::Wall);
}

#[tokio::test]
async fn a_callers_clock_takes_each_commands_time_and_moves_only_when_told() {
    let (state, router) = app();
    state.use_caller_clock();
    load_directory(&router).await;
    let a = send_with(
        &router,
        "POST",
        REPORTS_ALIAS,
        Some(GATEWAY),
        &[("x-act-as", "inspector:1000001"), ("x-sent-at", "5000")],
        &report(1).to_string(),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let last = |state: &AppState| {
        state
            .with_stack(|s| s.audit().get(s.audit().len() - 1).unwrap())
            .unwrap()
    };
    assert_eq!(
        last(&state).at,
        5000,
        "the command carries the caller's time"
    );
    let h = send(&router, "GET", "/health", None, "").await.json();
    assert_eq!(h["clock"], "caller");
    assert_eq!(h["now_ms"], 5000);
    // A call without X-Sent-At is at the clock's last time: it does not move by itself.
    std::thread::sleep(std::time::Duration::from_millis(20));
    let a = post(
        &router,
        REPORTS_ALIAS,
        Some(INSPECTOR),
        &report(2).to_string(),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(last(&state).at, 5000);

    // Only a gateway moves the clock; the answer carries the time-driven outcomes.
    let a = post(&router, "/clock/advance", Some(ADMIN), r#"{"now": 60000}"#).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "{}", a.text);
    assert_eq!(a.json()["error"], "not_a_gateway");
    let a = post(
        &router,
        "/clock/advance",
        Some(GATEWAY),
        r#"{"now": "soon"}"#,
    )
    .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);
    assert_eq!(a.json()["error"], "invalid_body");
    assert_eq!(a.json()["line"], 1);
    // Two days on: the tasks dispatched at 5 s are overdue, so the stack escalates them.
    let a = post(
        &router,
        "/clock/advance",
        Some(GATEWAY),
        r#"{"now": 172800000}"#,
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert!(
        !a.json()["outcomes"].as_array().unwrap().is_empty(),
        "overdue tasks escalate: {}",
        a.text
    );
    let h = send(&router, "GET", "/health", None, "").await.json();
    assert_eq!(h["now_ms"], 172_800_000u64);
    let a = send_with(
        &router,
        "POST",
        REPORTS_ALIAS,
        Some(INSPECTOR),
        &[("x-sent-at", "soon")],
        &report(3).to_string(),
    )
    .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.text);
    assert_eq!(a.json()["error"], "bad_sent_at");
}

#[tokio::test]
async fn a_restart_is_asked_only_by_a_gateway_of_a_journaled_server() {
    let (_, router) = app();
    let restart = |token, body| post(&router, "/admin/restart", Some(token), body);
    let a = restart(ADMIN, r#"{"down_ms": 100}"#).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "{}", a.text);
    assert_eq!(a.json()["error"], "not_a_gateway");
    let a = restart(GATEWAY, r#"{"down_ms": -1}"#).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);
    let a = restart(GATEWAY, r#"{"down_ms": 600001}"#).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);
    assert_eq!(a.json()["field"], "down_ms");
    // A stack in memory would come back empty: refused.
    let a = restart(GATEWAY, r#"{"down_ms": 100}"#).await;
    assert_eq!(a.status, StatusCode::CONFLICT, "{}", a.text);
    assert_eq!(a.json()["error"], "no_storage");
}
