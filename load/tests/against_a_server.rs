//! The load generator against a real server on 127.0.0.1 (in process, its own runtime and
//! thread): reports accepted as real work, counts that add up, a server going away mid-run, a
//! rejected set-up, a short knee search and a short soak with their reports.
//!
//! No assertion is about speed: the machine is shared and noisy.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use baoan_load::{
    KneeSpec, KneeStop, LoadError, LoadTarget, RateGrowth, RateSpec, SoakSpec, StepVerdict,
    find_knee, parse_resident_memory, run_constant, soak, write_knee_report, write_soak_report,
};
use baoan_server::{AppState, Config, Server, Tokens};

const ADMIN: &str = "load-test-admin-0123456789";
const INSPECTOR: &str = "load-test-inspector-0123456789";
const INSPECTOR_PERSON: u32 = 1_000_001;

/// One run at a time: each load run and its server share two cores.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("baoan-load-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn tokens_file(dir: &Path) -> PathBuf {
    let path = dir.join("tokens.toml");
    std::fs::write(
        &path,
        format!(
            "[[token]]\ntoken = \"{ADMIN}\"\nrole = \"admin\"\nperson = 9000001\n\n\
             [[token]]\ntoken = \"{INSPECTOR}\"\nrole = \"inspector\"\nperson = {INSPECTOR_PERSON}\n"
        ),
    )
    .unwrap();
    path
}

struct Running {
    addr: SocketAddr,
    state: Arc<AppState>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Running {
    fn start(tokens: &Path) -> Running {
        let server = Server::bind(Config::local(Tokens::load(tokens).unwrap())).unwrap();
        let addr = server.local_addr();
        let state = server.state();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(server.run_until(async {
                let _ = stopped.await;
            }))
            .unwrap();
        });
        Running {
            addr,
            state,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn stop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
    }

    /// `GET /metrics` by hand.
    fn metrics(&self) -> String {
        let mut s = TcpStream::connect(self.addr).unwrap();
        write!(
            s,
            "GET /metrics HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.addr
        )
        .unwrap();
        let mut text = String::new();
        s.read_to_string(&mut text).unwrap();
        text
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Grid reports the stack took as new work, from its audit log.
fn reports_accepted(server: &Running) -> u64 {
    server
        .state
        .with_stack(|stack| {
            stack
                .audit()
                .entries()
                .filter(|e| e.command == "submit_report" && e.result == "ok")
                .count() as u64
        })
        .unwrap()
}

fn counter(metrics: &str, series: &str) -> u64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn a_modest_constant_rate_is_all_accepted_as_real_work() {
    let _one = serial();
    let dir = scratch("constant");
    let tokens = tokens_file(&dir);
    let server = Running::start(&tokens);
    let target = LoadTarget::from_tokens_file(&server.url(), &tokens).unwrap();
    assert_eq!(target.inspector_person, INSPECTOR_PERSON);

    let spec = RateSpec {
        rate: 500.0,
        duration: Duration::from_secs(2),
        warmup: Duration::ZERO,
        connections: 8,
        timeout: Duration::from_secs(5),
        progress: false,
    };
    let r = run_constant(&target, &spec).unwrap();

    assert_eq!(r.scheduled, 1000);
    assert!(
        (r.sent as f64 - 1000.0).abs() <= 20.0,
        "sent {} of 1000 scheduled",
        r.sent
    );
    assert_eq!(r.status.ok_2xx, r.sent, "{r:#?}");
    assert_eq!(r.responses, r.sent);
    assert_eq!(r.errors, 0, "{:?}", r.first_error);
    assert_eq!(r.corrected.count, r.sent);
    assert_eq!(r.service.count, r.sent);
    let (c, s) = (&r.corrected, &r.service);
    for (name, corrected, service) in [
        ("min", c.min_ms, s.min_ms),
        ("p50", c.p50_ms, s.p50_ms),
        ("p90", c.p90_ms, s.p90_ms),
        ("p99", c.p99_ms, s.p99_ms),
        ("p99.9", c.p999_ms, s.p999_ms),
        ("max", c.max_ms, s.max_ms),
    ] {
        assert!(
            corrected >= service,
            "{name}: corrected {corrected} < service {service}"
        );
    }

    // The stack took every report as a new task (plus the set-up's check report).
    let accepted = reports_accepted(&server);
    assert_eq!(accepted, r.sent + 1);
    let metrics = server.metrics();
    assert_eq!(
        counter(
            &metrics,
            r#"baoan_requests_total{module="grid",kind="submit_report",status="200"}"#
        ),
        r.sent + 1
    );
    assert_eq!(
        counter(
            &metrics,
            r#"baoan_requests_total{module="grid",kind="load_directory",status="200"}"#
        ),
        1
    );
    let rss = parse_resident_memory(&metrics).expect("the server's resident memory gauge");
    assert!(rss > 1 << 20, "{rss}");

    // A second run against the same server keeps the directory (the stack refuses to replace it
    // once reports exist) and its reports are still new work.
    let again = run_constant(
        &target,
        &RateSpec {
            rate: 200.0,
            duration: Duration::from_millis(500),
            ..spec
        },
    )
    .unwrap();
    assert_eq!(again.status.ok_2xx, 100, "{:?}", again.first_error);
    let accepted_now = reports_accepted(&server);
    assert_eq!(accepted_now, accepted + 101);
}

#[test]
fn a_server_stopped_mid_run_gives_counted_transport_errors() {
    let _one = serial();
    let dir = scratch("stopped");
    let tokens = tokens_file(&dir);
    let mut server = Running::start(&tokens);
    let target = LoadTarget::from_tokens_file(&server.url(), &tokens).unwrap();
    let stopper = {
        let stop = server.stop.take().unwrap();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(1200));
            let _ = stop.send(());
        })
    };
    let r = run_constant(
        &target,
        &RateSpec {
            rate: 200.0,
            duration: Duration::from_secs(3),
            warmup: Duration::ZERO,
            connections: 4,
            timeout: Duration::from_secs(2),
            progress: false,
        },
    )
    .unwrap();
    stopper.join().unwrap();
    server.stop();

    assert!(r.status.ok_2xx > 0, "{r:#?}");
    assert!(r.status.transport_errors > 0, "{r:#?}");
    assert!(r.status.connect_errors > 0, "{r:#?}");
    // Every request of the timetable is accounted for: answered, failed or never sent.
    assert_eq!(r.status.ok_2xx + r.errors, r.scheduled, "{r:#?}");
    let first = r.first_error.unwrap();
    assert!(first.contains(&server.addr.to_string()), "{first}");
}

#[test]
fn a_rejected_set_up_shows_the_servers_answer() {
    let _one = serial();
    let dir = scratch("rejected");
    let tokens = tokens_file(&dir);
    let server = Running::start(&tokens);
    let mut target = LoadTarget::from_tokens_file(&server.url(), &tokens).unwrap();
    target.admin_token = "not-a-token-of-this-server".into();
    let e = run_constant(&target, &RateSpec::default()).unwrap_err();
    let text = e.to_string();
    assert!(
        matches!(e, LoadError::SetupRejected { status: 401, .. }),
        "{text}"
    );
    assert!(text.contains("/grid/load_directory"), "{text}");
    assert!(text.contains("\"error\":\"unauthorized\""), "{text}");

    // Nobody listening: the address is named.
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let nowhere = LoadTarget {
        base_url: format!("http://127.0.0.1:{port}"),
        ..target
    };
    let text = run_constant(&nowhere, &RateSpec::default())
        .unwrap_err()
        .to_string();
    assert!(
        text.starts_with(&format!("cannot connect to 127.0.0.1:{port}")),
        "{text}"
    );
}

#[test]
fn a_short_knee_search_and_soak_leave_their_reports() {
    let _one = serial();
    let dir = scratch("knee-soak");
    let tokens = tokens_file(&dir);
    let server = Running::start(&tokens);
    let target = LoadTarget::from_tokens_file(&server.url(), &tokens).unwrap();

    let knee = find_knee(
        &target,
        &KneeSpec {
            start_rate: 100.0,
            max_rate: 250.0,
            growth: RateGrowth::Step(100.0),
            step_duration: Duration::from_secs(1),
            warmup: Duration::from_millis(200),
            connections: 4,
            // Generous: this checks the ramp's mechanics, not the machine's speed.
            slo_p99_ms: 5_000.0,
            max_error_rate: 0.0,
            timeout: Duration::from_secs(5),
            progress: false,
        },
    )
    .unwrap();
    let rates: Vec<f64> = knee.steps.iter().map(|s| s.result.offered_rate).collect();
    assert_eq!(rates, [100.0, 200.0, 250.0]);
    if knee.steps.iter().all(|s| s.verdict == StepVerdict::Meets) {
        assert_eq!(knee.stop, KneeStop::MaxRateReached);
        assert_eq!(knee.knee_rate, Some(250.0));
    }
    let files = write_knee_report(&dir.join("knee"), &knee).unwrap();
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&files.json).unwrap()).unwrap();
    assert_eq!(json["steps"].as_array().unwrap().len(), 3);
    assert!(json["steps"][0]["corrected"]["p99_ms"].is_number());
    let svg = std::fs::read_to_string(&files.svg).unwrap();
    assert!(svg.contains("<svg") && svg.contains("SLO p99"), "{svg}");
    assert!(
        std::fs::read_to_string(&files.html)
            .unwrap()
            .contains("knee.svg")
    );

    let soaked = soak(
        &target,
        &SoakSpec {
            rate: 100.0,
            duration: Duration::from_secs(2),
            warmup: Duration::from_secs(1),
            interval: Duration::from_secs(1),
            connections: 4,
            timeout: Duration::from_secs(5),
            progress: false,
        },
    )
    .unwrap();
    assert_eq!(soaked.samples.len(), 3, "{:#?}", soaked.samples);
    assert!(soaked.samples[0].warmup && !soaked.samples[2].warmup);
    assert_eq!(
        soaked.samples.iter().map(|s| s.sent).sum::<u64>(),
        300,
        "every request of the timetable is in one interval"
    );
    assert_eq!(soaked.total.scheduled, 200);
    assert!(soaked.samples.iter().all(|s| s.server_rss_bytes.is_some()));
    assert!(soaked.samples.iter().all(|s| s.harness_rss_bytes.is_some()));
    assert!(soaked.server_rss_growth_bytes.is_some());
    assert!(
        soaked.server_rss_bytes_per_call.is_some(),
        "calls were answered after the warm-up, so growth per call is known"
    );
    assert!(soaked.p99_drift_ms.is_some());
    let files = write_soak_report(&dir.join("soak"), &soaked).unwrap();
    let svg = std::fs::read_to_string(&files.svg).unwrap();
    assert!(svg.contains("Resident memory"), "{svg}");
    let _ = std::fs::remove_dir_all(&dir);
}
