//! A fixed scenario and seed must reproduce the committed report.json byte for byte.

use std::path::PathBuf;

use baoan_scenarios::Scenario;
use baoan_twin::{Progress, RunOptions, run_scenario};

#[test]
fn the_golden_scenario_reproduces_its_report() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("tests/golden/tiny.toml")).unwrap();
    let scenario = Scenario::parse("tests/golden/tiny.toml", &text).unwrap();
    let out = std::env::temp_dir().join(format!("baoan-twin-golden-{}", std::process::id()));
    let opts = RunOptions {
        out: Some(out.clone()),
        progress: Progress::Quiet,
        ..RunOptions::default()
    };
    run_scenario(scenario, &opts).unwrap();
    let got = std::fs::read_to_string(out.join("report.json")).unwrap();
    let golden_path = root.join("tests/golden/tiny-report.json");
    if std::env::var_os("BAOAN_UPDATE_GOLDEN").is_some() {
        std::fs::write(&golden_path, &got).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&golden_path)
        .expect("tests/golden/tiny-report.json (create it with BAOAN_UPDATE_GOLDEN=1)");
    if got != want {
        let line = got
            .lines()
            .zip(want.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(got.lines().count().min(want.lines().count()));
        panic!(
            "report.json differs from the golden one at line {}:\n  got:  {}\n  want: {}\nIf the change is intended: BAOAN_UPDATE_GOLDEN=1 cargo test --test golden",
            line + 1,
            got.lines().nth(line).unwrap_or("<end>"),
            want.lines().nth(line).unwrap_or("<end>")
        );
    }
}
