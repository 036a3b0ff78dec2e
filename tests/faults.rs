//! Faults written in the scenario (`[[fault]]`): a module down, a share of calls failing and
//! added latency on the path to the stack. The loops ride them out — every held call reaches
//! the stack later, none is lost or refused — the report says what the faults did, and the run
//! stays byte-for-byte reproducible.

use std::path::PathBuf;

use baoan_scenarios::Scenario;
use baoan_twin::{Progress, RunOptions, run_scenario};
use serde_json::Value;

const FAULTS: &str = r#"
[[fault]]
start = "02:00"
end = "04:00"
module = "*"
kind = "errors"
share = 0.3

[[fault]]
start = "05:00"
end = "06:00"
module = "command"
kind = "latency"
delay = "30s"

[[fault]]
start = "09:00"
end = "10:00"
module = "grid"
kind = "down"
"#;

fn run(name: &str, faults: &str) -> (Value, Vec<u8>) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("tests/golden/tiny.toml")).unwrap() + faults;
    let scenario = Scenario::parse("tests/golden/tiny.toml", &text).unwrap();
    let out = std::env::temp_dir().join(format!("baoan-twin-faults-{}-{name}", std::process::id()));
    let summary = run_scenario(
        scenario,
        &RunOptions {
            out: Some(out.clone()),
            progress: Progress::Quiet,
            ..RunOptions::default()
        },
    )
    .unwrap();
    let bytes = std::fs::read(out.join("report.json")).unwrap();
    (
        serde_json::from_str(&summary.report.to_json()).unwrap(),
        bytes,
    )
}

#[test]
fn the_loops_ride_out_the_scenarios_faults_and_the_report_says_what_they_did() {
    let (clean, _) = run("clean", "");
    assert!(clean["sections"].get("faults").is_none());
    let (report, bytes) = run("a", FAULTS);
    for inv in report["invariants"].as_array().unwrap() {
        assert!(inv["holds"].as_bool().unwrap(), "invariant broken: {inv}");
    }
    let f = &report["sections"]["faults"];
    let windows = f["windows"].as_array().unwrap();
    assert_eq!(windows.len(), 3);
    let (errors, latency, down) = (&windows[0], &windows[1], &windows[2]);
    assert_eq!(errors["kind"], "errors");
    assert!(errors["refused"].as_u64().unwrap() > 0, "{f}");
    assert_eq!(latency["module"], "command");
    assert!(latency["delayed"].as_u64().unwrap() > 0, "{f}");
    assert!(down["refused"].as_u64().unwrap() > 0, "{f}");
    assert_eq!(
        f["pending_at_end"], 0,
        "every held call reached the stack: {f}"
    );
    // A report sent just after 09:00 waited for the grid to come back at 10:00.
    assert!(f["delay_max_s"].as_f64().unwrap() > 3000.0, "{f}");
    assert!(f["calls_held"].as_u64().unwrap() >= down["refused"].as_u64().unwrap());

    // Nothing was refused by the stack: the faults delayed calls, they did not lose them.
    let grid = |r: &Value| r["sections"]["grid"].clone();
    assert_eq!(grid(&report)["figures"]["grid.rejected"], 0.0);
    // The outage shows in report → dispatch: reports held until the grid came back.
    let dispatch_max = |r: &Value| {
        grid(r)["latency"]["grid.report_to_dispatch_s"]["max_s"]
            .as_f64()
            .unwrap()
    };
    assert!(
        dispatch_max(&report) > 3000.0 && dispatch_max(&clean) < 60.0,
        "faulted {} s, clean {} s",
        dispatch_max(&report),
        dispatch_max(&clean)
    );

    let (_, again) = run("b", FAULTS);
    assert!(
        bytes == again,
        "the same faults give a byte-identical report"
    );
}
