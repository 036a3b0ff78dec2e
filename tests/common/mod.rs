//! What the end-to-end tests share: run a scenario on the in-process stack into a folder of its
//! own under the temporary directory, and read back its report.

use std::sync::atomic::{AtomicUsize, Ordering};

use baoan_scenarios::Scenario;
use baoan_twin::{Progress, RunOptions, run_scenario};
use serde_json::Value;

/// Run `scenario` quietly and return its report.json; the folder is removed afterwards.
pub fn report_of(scenario: Scenario, prefix: &str) -> Value {
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    let out = std::env::temp_dir().join(format!(
        "baoan-twin-{prefix}-{}-{}",
        std::process::id(),
        RUNS.fetch_add(1, Ordering::Relaxed)
    ));
    let opts = RunOptions {
        out: Some(out.clone()),
        progress: Progress::Quiet,
        ..RunOptions::default()
    };
    run_scenario(scenario, &opts).expect("the run");
    let text = std::fs::read_to_string(out.join("report.json")).expect("report.json");
    let _ = std::fs::remove_dir_all(&out);
    serde_json::from_str(&text).expect("json")
}

/// A number in the report at a JSON pointer.
pub fn f(v: &Value, pointer: &str) -> f64 {
    v.pointer(pointer)
        .and_then(Value::as_f64)
        .unwrap_or_else(|| panic!("{pointer} missing"))
}

/// Every invariant in the report holds.
pub fn assert_invariants_hold(report: &Value) {
    let broken: Vec<&Value> = report["invariants"]
        .as_array()
        .expect("invariants")
        .iter()
        .filter(|i| i["holds"] != Value::Bool(true))
        .collect();
    assert!(broken.is_empty(), "{broken:?}");
}
