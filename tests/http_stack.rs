//! `twin run --stack`: a scenario driven over HTTP through a served stack (`--clock caller`)
//! gives the report the in-process stack gives, whatever faults the HTTP path suffers; and the
//! transport refuses a server it cannot drive and says when it cannot keep its schedule.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use baoan_load::{DEFAULT_MAX_LAG, DEFAULT_RETRY_BUDGET, HttpStackSpec};
use baoan_scenarios::Scenario;
use baoan_server::{ClockMode, Config, Faults, Server, Tokens};
use baoan_twin::{Progress, RunError, RunOptions, RunSummary, run_scenario};
use serde_json::Value;

/// The golden scenario, shortened: every loop the default scenario runs, in seconds.
fn scenario() -> Scenario {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("tests/golden/tiny.toml"))
        .unwrap()
        .replace("duration = \"12h\"", "duration = \"6h\"");
    Scenario::parse("tests/golden/tiny.toml", &text).unwrap()
}

/// A served stack in memory on a free port, stopped when dropped.
struct Served {
    addr: SocketAddr,
    token: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(clock: ClockMode, faults: Option<&str>) -> Served {
    let tokens = Tokens::development().unwrap();
    let token = tokens.gateway_token().unwrap().to_string();
    let faults = faults.map(|text| {
        Arc::new(
            Faults::parse(
                text,
                std::path::Path::new("faults.toml"),
                baoan_server::commands::modules(),
            )
            .unwrap(),
        )
    });
    let server = Server::bind(Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        tokens,
        max_body: baoan_server::DEFAULT_MAX_BODY,
        database: None,
        faults,
        clock,
    })
    .unwrap();
    let addr = server.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        runtime
            .block_on(server.run_until(async {
                let _ = stopped.await;
            }))
            .unwrap();
    });
    Served {
        addr,
        token,
        stop: Some(stop),
        thread: Some(thread),
    }
}

fn spec(served: &Served, speed: Option<f64>) -> HttpStackSpec {
    HttpStackSpec {
        base_url: format!("http://{}", served.addr),
        token: served.token.clone(),
        speed,
        max_lag: DEFAULT_MAX_LAG,
        retry_budget: DEFAULT_RETRY_BUDGET,
    }
}

fn run(name: &str, stack: Option<HttpStackSpec>) -> Result<RunSummary, RunError> {
    let out = std::env::temp_dir().join(format!("baoan-twin-http-{}-{name}", std::process::id()));
    run_scenario(
        scenario(),
        &RunOptions {
            out: Some(out),
            progress: Progress::Quiet,
            stack,
            ..RunOptions::default()
        },
    )
}

/// report.json with the stack's name taken out: the one field the transport may change.
fn report_without_stack(summary: &RunSummary) -> Value {
    let mut v: Value = serde_json::from_str(&summary.report.to_json()).unwrap();
    let name = v["stack"].take();
    assert!(name.is_string(), "the report names its stack");
    v
}

#[test]
fn a_scenario_over_http_gives_the_in_process_report_even_through_faults() {
    let local = run("local", None).unwrap();
    let want = report_without_stack(&local);
    assert_eq!(local.report.stack, "in-process");

    let served = serve(ClockMode::Caller, None);
    let remote = run("http", Some(spec(&served, None))).unwrap();
    assert_eq!(remote.report.stack, "http");
    assert!(
        report_without_stack(&remote) == want,
        "the report over HTTP differs from the in-process one"
    );
    let t = remote.perf.transport.as_ref().expect("transport figures");
    let sent: u64 = ["grid", "command", "matcher", "blocks", "cases"]
        .iter()
        .filter_map(|m| remote.perf.stack.get(m))
        .map(|m| m.calls)
        .sum();
    assert_eq!(t.calls, sent, "every command went over HTTP");
    assert!(t.calls >= remote.perf.commands_sent);
    assert!(
        t.advances >= 6 * 3600,
        "a clock tick per simulated second: {}",
        t.advances
    );
    assert_eq!(t.retries, 0);
    assert!(t.service_time.count > 0 && t.latency_from_scheduled.count > 0);
    assert!(t.failed.is_none() && t.behind.is_none());
    drop(served);

    // One call in fifty refused everywhere, and a millisecond more on every matcher call, for
    // the whole run: the transport retries what was not carried, and the stack ends where it
    // would have.
    let faults = r#"
[[fault]]
at_s = 0
for_s = 3600
module = "*"
kind = "errors"
share = 0.02

[[fault]]
at_s = 0
for_s = 3600
module = "matcher"
kind = "latency"
latency_ms = 1
"#;
    let served = serve(ClockMode::Caller, Some(faults));
    let faulty = run("faults", Some(spec(&served, None))).unwrap();
    assert!(
        report_without_stack(&faulty) == want,
        "faults on the HTTP path changed the outcome"
    );
    let t = faulty.perf.transport.as_ref().unwrap();
    assert!(t.retries > 0, "the fault plan refused some calls");
}

#[test]
fn a_server_on_its_own_clock_is_refused_before_anything_runs() {
    let served = serve(ClockMode::Wall, None);
    let e = run("wall", Some(spec(&served, None))).expect_err("refused");
    assert_eq!(e.exit_code(), 2, "{e}");
    assert!(e.to_string().contains("--clock caller"), "{e}");

    let mut bad_token = spec(&served, None);
    bad_token.token = "not-a-token-of-this-server".into();
    drop(served);
    let served = serve(ClockMode::Caller, None);
    bad_token.base_url = format!("http://{}", served.addr);
    let e = run("bad-token", Some(bad_token)).expect_err("refused");
    assert_eq!(e.exit_code(), 3, "{e}");
    assert!(e.to_string().contains("401"), "{e}");
}

#[test]
fn a_schedule_the_server_cannot_keep_stops_the_run_with_exit_3() {
    let served = serve(ClockMode::Caller, None);
    let mut fast = spec(&served, Some(1.0e6));
    fast.max_lag = Duration::ZERO;
    let e = run("behind", Some(fast)).expect_err("fell behind");
    assert_eq!(e.exit_code(), 3, "{e}");
    assert!(e.to_string().contains("fell behind"), "{e}");
}
