//! `twin run --stack`: a scenario driven over HTTP through a served stack (`--clock caller`)
//! gives the report the in-process stack gives, whatever faults the HTTP path suffers — errors,
//! latency, the server restarting from its journal on SQLite or PostgreSQL; and the transport
//! refuses a server it cannot drive and says when it cannot keep its schedule.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use baoan_load::{DEFAULT_MAX_LAG, DEFAULT_RETRY_BUDGET, HttpStackSpec};
use baoan_scenarios::Scenario;
use baoan_server::{BusConfig, ClockMode, Config, Faults, Server};
use baoan_twin::{Progress, RunError, RunOptions, RunSummary, run_scenario};
use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The golden scenario (12 h), or shortened: every loop the default scenario runs, in seconds.
fn scenario(duration: &str, extra: &str) -> Scenario {
    let text = std::fs::read_to_string(root().join("tests/golden/tiny.toml"))
        .unwrap()
        .replace("duration = \"12h\"", &format!("duration = \"{duration}\""))
        + extra;
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

fn plan(text: &str) -> Arc<Faults> {
    Arc::new(Faults::parse(text, std::path::Path::new("faults.toml")).unwrap())
}

fn serve(clock: ClockMode, faults: Option<&str>) -> Served {
    serve_on(clock, faults.map(plan), None, None)
}

/// A served stack journaled in `database` (in memory if `None`), with a fault plan and perhaps
/// a bus for sightings.
fn serve_on(
    clock: ClockMode,
    faults: Option<Arc<Faults>>,
    database: Option<String>,
    bus: Option<BusConfig>,
) -> Served {
    serve_config(|tokens| Config {
        database,
        faults,
        clock,
        bus,
        ..Config::local(tokens)
    })
}

/// A served stack on a caller's clock, in memory, taking bodies up to `max_body` bytes.
fn serve_limited(max_body: usize) -> Served {
    serve_config(|tokens| Config {
        clock: ClockMode::Caller,
        max_body,
        ..Config::local(tokens)
    })
}

fn serve_config(config: impl FnOnce(baoan_server::Tokens) -> Config) -> Served {
    let tokens = baoan_server::tokens::development().unwrap();
    let token = tokens.gateway_token().unwrap().to_string();
    let config = config(tokens);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (ready, addr) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let server = Server::open(config).await.unwrap();
            ready.send(server.local_addr()).unwrap();
            server
                .run_until(async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
    });
    Served {
        addr: addr.recv().expect("the server starts"),
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
        // One call at a time: the in-process order, so the in-process report exactly.
        concurrency: 1,
    }
}

fn run(name: &str, stack: Option<HttpStackSpec>) -> Result<RunSummary, RunError> {
    run_for("6h", name, stack)
}

fn run_for(
    duration: &str,
    name: &str,
    stack: Option<HttpStackSpec>,
) -> Result<RunSummary, RunError> {
    run_with(duration, "", name, stack)
}

/// The golden scenario for `duration` with `extra` TOML appended.
fn run_with(
    duration: &str,
    extra: &str,
    name: &str,
    stack: Option<HttpStackSpec>,
) -> Result<RunSummary, RunError> {
    let out = std::env::temp_dir().join(format!("baoan-twin-http-{}-{name}", std::process::id()));
    run_scenario(
        scenario(duration, extra),
        &RunOptions {
            out: Some(out),
            progress: Progress::Quiet,
            stack,
            ..RunOptions::default()
        },
    )
}

/// One shard of the golden scenario for `duration`, in process or over HTTP.
fn run_shard(
    duration: &str,
    name: &str,
    shard: baoan_twin::Shard,
    stack: Option<HttpStackSpec>,
) -> RunSummary {
    let out = std::env::temp_dir().join(format!("baoan-twin-http-{}-{name}", std::process::id()));
    let summary = run_scenario(
        scenario(duration, ""),
        &RunOptions {
            out: Some(out.clone()),
            progress: Progress::Quiet,
            stack,
            shard: Some(shard),
            ..RunOptions::default()
        },
    )
    .unwrap();
    let _ = std::fs::remove_dir_all(&out);
    summary
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
    // Most ticks had nothing due (the server says so in `X-Next-Due`) and were not sent; the
    // report above is the in-process one all the same.
    assert!(
        t.advances_skipped > t.advances / 2 && t.advances_skipped < t.advances,
        "{} of {} ticks left out",
        t.advances_skipped,
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

/// The key-persons module over the wire: registrations, follow-ups, look-ups by a team member
/// acting through the gateway, refused probes, the auditor's export — the same report as in
/// process.
/// Several calls of a tick in flight at once, on their own connections: calls by one actor or
/// about one subject keep their order, others may reach the stack in another order, so the day
/// may take another course where calls compete — but every invariant holds, and the calls go
/// together.
#[test]
fn a_tick_s_calls_in_flight_together_keep_every_invariant() {
    let served = serve(ClockMode::Caller, None);
    // The smoke day: busy enough that ticks carry several calls by different actors.
    let smoke = root().join("scenarios/smoke.toml");
    let remote = run_scenario(
        Scenario::load(&smoke).unwrap(),
        &RunOptions {
            out: Some(
                std::env::temp_dir()
                    .join(format!("baoan-twin-http-{}-concurrent", std::process::id())),
            ),
            progress: Progress::Quiet,
            stack: Some(HttpStackSpec {
                concurrency: 8,
                ..spec(&served, None)
            }),
            ..RunOptions::default()
        },
    )
    .unwrap();
    let t = remote.perf.transport.as_ref().expect("transport figures");
    assert_eq!(t.concurrency, 8);
    assert!(t.max_in_flight > 1, "calls went one at a time");
    assert!(t.failed.is_none() && t.behind.is_none());
    let failing: Vec<_> = remote
        .report
        .invariants
        .iter()
        .filter(|i| !i.holds)
        .map(|i| format!("{}: {}", i.name, i.detail))
        .collect();
    assert!(failing.is_empty(), "{failing:?}");
    assert!(remote.report.invariants.len() > 10);
}

/// The harness fits the server: its set-up calls larger than the server's `--max-body` go in
/// parts (the address library whole at the last part, the report unchanged), and one that
/// cannot be split stops the run before it starts, named, as bad input (exit 2).
#[test]
fn set_up_calls_are_split_to_the_server_s_body_limit_or_refused_by_name() {
    let local = run_for("1h", "limit-local", None).unwrap();
    let library = |s: &RunSummary| {
        s.perf
            .stack
            .get("load_address_library")
            .map_or(0, |m| m.calls)
    };
    assert_eq!(
        library(&local),
        1,
        "in process the library fits the default limit"
    );

    let served = serve_limited(64 * 1024);
    let remote = run_for("1h", "limit-http", Some(spec(&served, None))).unwrap();
    assert!(
        library(&remote) > 1,
        "the library went in {} part(s)",
        library(&remote)
    );
    // The watchlist's entries went in several upserts too, each a version of the watchlist as
    // the matcher counts them; nothing else in the report moves.
    let versions = |s: &RunSummary| {
        let mut v = report_without_stack(s);
        let counted = [
            v["sections"]["matcher"]["watchlist"]["version"].take(),
            v["sections"]["matcher"]["audit"]["watchlist_version"].take(),
        ];
        (v, counted)
    };
    let ((remote_rest, remote_versions), (local_rest, local_versions)) =
        (versions(&remote), versions(&local));
    assert!(
        remote_rest == local_rest,
        "set-up calls in parts give another report"
    );
    assert!(
        remote_versions[0].as_u64() > local_versions[0].as_u64(),
        "{remote_versions:?} against {local_versions:?}"
    );
    drop(served);

    let served = serve_limited(2 * 1024);
    let e = run_for("1h", "limit-tiny", Some(spec(&served, None))).unwrap_err();
    assert_eq!(e.exit_code(), 2, "{e}");
    let text = e.to_string();
    assert!(
        text.contains("2048 bytes") && text.contains("--max-body"),
        "{text}"
    );
}

#[test]
fn key_persons_over_http_give_the_in_process_report() {
    let extra = "\n[key_persons]\nenabled = true\nmental_per_1000 = 30\ndrug_treatment_per_1000 = 5\nprobes_per_day = 200\n";
    let local = run_with("6h", extra, "kp-local", None).unwrap();
    let served = serve(ClockMode::Caller, None);
    let remote = run_with("6h", extra, "kp-http", Some(spec(&served, None))).unwrap();
    assert!(
        report_without_stack(&remote) == report_without_stack(&local),
        "the key-persons report over HTTP differs from the in-process one"
    );
    let calls = remote.perf.stack.get("key_persons").map_or(0, |m| m.calls);
    assert!(calls > 300, "key-persons calls over HTTP: {calls}");
    let v = report_without_stack(&remote);
    assert!(v["sections"]["key_persons"]["access"]["probes"]["refused"].as_u64() > Some(10));
}

/// A shard drives a server of its own as the whole run does: shard 2 of 2 over HTTP gives the
/// in-process shard's report (so `twin merge` sees the same figures either way).
#[test]
fn a_shard_over_http_gives_the_in_process_shards_report() {
    let shard = baoan_twin::Shard { index: 2, count: 2 };
    let local = run_shard("3h", "shard-local", shard, None);
    let served = serve(ClockMode::Caller, None);
    let remote = run_shard("3h", "shard-http", shard, Some(spec(&served, None)));
    assert_eq!(remote.report.stack, "http");
    let grid_calls = remote.perf.stack.get("grid").map_or(0, |m| m.calls);
    assert!(grid_calls > 0, "the shard's inspectors reported over HTTP");
    assert!(
        report_without_stack(&remote) == report_without_stack(&local),
        "the shard's report over HTTP differs from the in-process shard's"
    );
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

/// Two restarts while the golden scenario runs over HTTP: the transport rides them out and the
/// report is the committed golden one — so nothing the stack acknowledged was lost, and the
/// stack rebuilt from its journal behaves as the one that never stopped.
fn a_scenario_rides_out_restarts_on(database: String) {
    let faults = plan(
        "[[fault]]\nat_s = 3\nfor_s = 0.3\nmodule = \"*\"\nkind = \"restart\"\n\n\
         [[fault]]\nat_s = 5\nfor_s = 0.3\nmodule = \"*\"\nkind = \"restart\"\n",
    );
    let served = serve_on(
        ClockMode::Caller,
        Some(Arc::clone(&faults)),
        Some(database),
        None,
    );
    // 12 simulated hours at 6,000 per second: over seven seconds, both restarts inside. The
    // server journals each of the 43,200 clock ticks with a commit of its own, so on a disk with
    // slow syncs the run falls tens of seconds behind that schedule (28 s in all on one machine):
    // this test is about restarts, not pace, so lateness is allowed (the pace has tests of its
    // own above).
    let mut paced = spec(&served, Some(6000.0));
    paced.max_lag = Duration::from_secs(600);
    let remote = run_for("12h", "restarts", Some(paced)).unwrap();
    assert_eq!(faults.injected()[3].1, 2, "both planned restarts happened");
    let t = remote.perf.transport.as_ref().unwrap();
    assert!(
        t.retries > 0,
        "calls met the server down and were sent again"
    );
    let golden = std::fs::read_to_string(root().join("tests/golden/tiny-report.json")).unwrap();
    let mut want: Value = serde_json::from_str(&golden).unwrap();
    want["stack"].take();
    assert!(
        report_without_stack(&remote) == want,
        "after restarts the report differs from the golden in-process one"
    );
}

#[test]
fn a_scenario_rides_out_restarts_on_sqlite() {
    let dir = std::env::temp_dir().join(format!("baoan-twin-http-sqlite-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    a_scenario_rides_out_restarts_on(format!("sqlite://{}", dir.join("stack.sqlite").display()));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
#[cfg_attr(
    skip_postgres,
    ignore = "BAOAN_SKIP_POSTGRES is set: needs the machine's PostgreSQL"
)]
fn a_scenario_rides_out_restarts_on_postgres() {
    let admin = std::env::var("BAOAN_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let name = format!("baoan_http_{}", std::process::id());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let url = runtime
        .block_on(baoan_server::store::create_postgres_database(&admin, &name))
        .unwrap_or_else(|e| {
            panic!(
                "cannot make a database on PostgreSQL ({e}); or set BAOAN_SKIP_POSTGRES=1 to skip"
            )
        });
    a_scenario_rides_out_restarts_on(url);
    runtime
        .block_on(baoan_server::store::drop_postgres_database(&admin, &name))
        .unwrap();
}

#[test]
fn a_restart_plan_without_a_database_is_refused() {
    let e = Server::bind(Config {
        faults: Some(plan(
            "[[fault]]\nat_s = 3\nfor_s = 1\nmodule = \"*\"\nkind = \"restart\"\n",
        )),
        clock: ClockMode::Caller,
        ..Config::local(baoan_server::tokens::development().unwrap())
    })
    .err()
    .expect("refused");
    assert!(e.to_string().contains("needs a database"), "{e}");
}

/// The golden scenario with its sightings through NATS JetStream and two matcher workers: the
/// harness waits for each sighting's outcomes (`X-Await-Outcomes`), and the report is the
/// committed golden one.
#[test]
#[cfg_attr(skip_nats, ignore = "BAOAN_SKIP_NATS is set: needs the machine's NATS")]
fn a_scenario_with_sightings_through_the_bus_gives_the_golden_report() {
    let bus = BusConfig {
        url: std::env::var("BAOAN_TEST_NATS").unwrap_or_else(|_| "nats://127.0.0.1:4222".into()),
        stream: format!("BAOAN_TEST_RUN_{}", std::process::id()),
        workers: 2,
    };
    let served = serve_on(ClockMode::Caller, None, None, Some(bus.clone()));
    let remote = run_for("12h", "bus", Some(spec(&served, None))).unwrap();
    let golden = std::fs::read_to_string(root().join("tests/golden/tiny-report.json")).unwrap();
    let mut want: Value = serde_json::from_str(&golden).unwrap();
    want["stack"].take();
    assert!(
        report_without_stack(&remote) == want,
        "with sightings through the bus the report differs from the golden in-process one"
    );
    drop(served);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let bus = baoan_server::Bus::connect(bus).await.unwrap();
        assert_eq!(
            bus.queued().await.unwrap(),
            0,
            "every sighting was carried and acknowledged"
        );
        bus.delete_stream().await.unwrap();
    });
}

/// A restart written in the scenario: at 03:00 the harness asks the served stack to restart
/// (`POST /admin/restart`) and holds calls until 03:10. The server comes back from its journal
/// and the report is the in-process one (whose stack has nothing to restart).
#[test]
fn a_restart_in_the_scenario_restarts_the_served_stack_and_loses_nothing() {
    let fault =
        "\n[[fault]]\nstart = \"03:00\"\nend = \"03:10\"\nmodule = \"*\"\nkind = \"restart\"\n";
    let local = run_with("6h", fault, "restart-local", None).unwrap();
    let dir = std::env::temp_dir().join(format!("baoan-twin-http-restart-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let database = format!("sqlite://{}", dir.join("stack.sqlite").display());
    let served = serve_on(ClockMode::Caller, None, Some(database), None);
    let remote = run_with("6h", fault, "restart-http", Some(spec(&served, None))).unwrap();
    let restart = |r: &RunSummary| {
        let mut v = report_without_stack(r);
        let said = v["sections"]["faults"]["windows"][0]["restart"].take();
        (v, said)
    };
    let (want, said_local) = restart(&local);
    let (got, said_remote) = restart(&remote);
    assert_eq!(said_local, "nothing to restart");
    assert_eq!(said_remote, "restarted");
    assert!(
        remote.perf.transport.as_ref().unwrap().retries > 0,
        "calls met the server down and were sent again"
    );
    assert!(got == want, "the restart changed the report");
    drop(served);
    std::fs::remove_dir_all(&dir).unwrap();
}
