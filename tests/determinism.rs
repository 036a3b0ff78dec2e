//! The same scenario, seed and build give a byte-identical report.json and journal; another seed
//! gives another report. And for random scenarios, the grid loop's invariants hold.

use std::path::PathBuf;

use baoan_scenarios::Scenario;
use baoan_scenarios::strategies::small_scenario;
use baoan_twin::{Progress, RunOptions, run_scenario};
use proptest::prelude::*;

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("baoan-twin-det-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn opts(out: PathBuf, journal: bool) -> RunOptions {
    RunOptions {
        out: Some(out),
        journal,
        progress: Progress::Quiet,
        ..RunOptions::default()
    }
}

#[test]
fn the_same_seed_gives_a_byte_identical_report_and_journal() {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/smoke.toml"))
            .unwrap();
    let scenario = Scenario::parse("smoke.toml", &text).unwrap();
    let (a, b) = (temp_dir("a"), temp_dir("b"));
    run_scenario(scenario.clone(), &opts(a.clone(), true)).unwrap();
    run_scenario(scenario.clone(), &opts(b.clone(), true)).unwrap();
    let read = |d: &PathBuf, f: &str| std::fs::read(d.join(f)).unwrap();
    assert!(
        read(&a, "report.json") == read(&b, "report.json"),
        "report.json differs between identical runs"
    );
    assert!(
        read(&a, "journal.jsonl") == read(&b, "journal.jsonl"),
        "journal differs between identical runs"
    );

    let c = temp_dir("c");
    run_scenario(
        scenario.with_overrides(Some(8), None).unwrap(),
        &opts(c.clone(), false),
    )
    .unwrap();
    assert!(
        read(&a, "report.json") != read(&c, "report.json"),
        "another seed must give another report"
    );
}

/// Random scenarios per test run: `BAOAN_PROPTEST_CASES`, or 64 (about half a minute on two
/// cores; CI runs 256). `twin fuzz --minutes M` is the long mode, at a tenth of the district and more.
fn cases() -> u32 {
    std::env::var("BAOAN_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn grid_loop_invariants_hold_for_random_scenarios(s in small_scenario()) {
        let dir = temp_dir("prop");
        let toml = s.to_toml();
        let summary = run_scenario(s, &opts(dir, false)).map_err(|e| TestCaseError::fail(e.to_string()))?;
        for inv in &summary.report.invariants {
            prop_assert!(inv.holds, "invariant broken: {} ({})\nreproduce: save as repro.toml and run `twin run repro.toml`\n{}", inv.name, inv.detail, toml);
        }
        let grid = &summary.report.sections["grid"]["counts"];
        prop_assert_eq!(grid["refused"].as_u64(), Some(0), "the stack refused a command\n{}", toml);
    }
}
