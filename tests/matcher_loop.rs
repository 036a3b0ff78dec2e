//! The matcher loop end to end on the in-process stack: sightings → alerts → two reviewers →
//! a lead in command → police at the camera; judged by the twin, which knows every face.

use std::path::PathBuf;

use baoan_scenarios::Scenario;
use baoan_twin::{Progress, RunOptions, run_scenario};
use serde_json::Value;

/// A small district with a long watchlist, so that listed people are about at this scale, and
/// 64-dimensional faces so that a debug build runs it in seconds.
const SCENARIO: &str = r#"
name = "matcher-loop"
seed = 99
duration = "12h"
scale = 0.02

[grid]
items_per_grid_per_day = 2.0

[command]
incidents_per_day = 400.0

[matcher]
sightings_per_point_per_day = 5000.0
dim = 64
wanted = 8000
missing = 2000
listed_present_share = 1.0
det_searches = 300
reviewers_on_duty = 4
"#;

fn run(extra: &str, name: &str) -> Value {
    let text = format!("{SCENARIO}{extra}");
    let scenario = Scenario::parse("matcher-loop.toml", &text).unwrap();
    let out: PathBuf =
        std::env::temp_dir().join(format!("baoan-twin-matcher-{}-{name}", std::process::id()));
    let summary = run_scenario(
        scenario,
        &RunOptions {
            out: Some(out),
            progress: Progress::Quiet,
            ..RunOptions::default()
        },
    )
    .unwrap();
    let report: Value = serde_json::from_str(&summary.report.to_json()).unwrap();
    for inv in report["invariants"].as_array().unwrap() {
        assert!(inv["holds"].as_bool().unwrap(), "invariant broken: {inv}");
    }
    report["sections"]["matcher"].clone()
}

fn n(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

#[test]
fn the_loop_closes_from_a_sighting_to_police_at_the_camera() {
    let m = run("sampling = 0.2\n", "closes");
    let volume = &m["volume"];
    assert!(
        n(&volume["mated_sent"]) > 0,
        "no listed person was sighted: {volume}"
    );
    assert!(n(&volume["non_mated_sent"]) > 2_000, "{volume}");
    let alerts = &m["alerts"];
    assert!(n(&alerts["raised_right_person"]) > 0, "{alerts}");
    assert!(n(&alerts["confirmed_right_person"]) > 0, "{alerts}");
    assert!(n(&alerts["leads_police_arrived"]) > 0, "{alerts}");
    assert!(
        n(&alerts["leads_police_arrived"]) <= n(&alerts["leads_dispatched"]),
        "{alerts}"
    );
    // Every alert has its sighting→alert time; confirmed ones their review time.
    let latency = &m["latency"];
    assert_eq!(
        n(&latency["sighting_to_alert"]["count"]),
        n(&alerts["raised"])
    );
    assert_eq!(
        n(&latency["alert_to_confirmed"]["count"]),
        n(&alerts["confirmed_right_person"]) + n(&alerts["confirmed_wrong_person"])
    );
    // The groups partition the searches.
    let groups = m["accuracy"]["by_group"].as_array().unwrap();
    let mated: u64 = groups.iter().map(|g| n(&g["mated"])).sum();
    let non_mated: u64 = groups.iter().map(|g| n(&g["non_mated"])).sum();
    assert_eq!(mated, n(&volume["mated_sent"]));
    assert_eq!(non_mated, n(&volume["non_mated_sent"]));
    // The DET curve falls in FPIR as the threshold rises.
    let det = m["det"].as_array().unwrap();
    assert!(det.len() > 10);
    for w in det.windows(2) {
        assert!(w[1]["fpir"].as_f64() <= w[0]["fpir"].as_f64(), "{w:?}");
        assert!(w[1]["fnir"].as_f64() >= w[0]["fnir"].as_f64(), "{w:?}");
    }
    let checks = &m["checks"];
    for k in [
        "stack_missed",
        "stack_spurious",
        "alerts_on_expired_entries",
        "unanswered_sightings",
        "refused",
    ] {
        assert_eq!(n(&checks[k]), 0, "{k}: {checks}");
    }
}

#[test]
fn sampling_changes_only_which_unlisted_sightings_are_sent() {
    let all = run("sampling = 1.0\n", "all");
    let some = run("sampling = 0.1\n", "some");
    // Appended keys land in [matcher], the last table of the scenario.
    assert_eq!(all["volume"]["sampling"], 1.0);
    assert_eq!(some["volume"]["sampling"], 0.1);
    assert_eq!(all["volume"]["faces_seen"], some["volume"]["faces_seen"]);
    // Listed people are all sent whatever the sampling; how many are still about to be seen
    // depends on when police found the others, which the review desk's load moves a little.
    let (ma, ms) = (
        n(&all["volume"]["mated_sent"]) as f64,
        n(&some["volume"]["mated_sent"]) as f64,
    );
    assert!(
        ma > 20.0 && (ma - ms).abs() <= (0.05 * ma).max(3.0),
        "{ma} vs {ms}"
    );
    let (a, s) = (
        n(&all["volume"]["non_mated_sent"]) as f64,
        n(&some["volume"]["non_mated_sent"]) as f64,
    );
    // About a tenth as many, well within binomial noise.
    assert!((s / a - 0.1).abs() < 0.03, "{s} of {a}");
}

#[test]
fn a_threshold_no_capture_reaches_raises_nothing_and_misses_every_mate() {
    let m = run("sampling = 0.2\nthreshold = 0.999\n", "strict");
    assert_eq!(n(&m["alerts"]["raised"]), 0);
    assert_eq!(m["accuracy"]["fpir"]["rate"], 0.0);
    assert!(n(&m["volume"]["mated_sent"]) > 0);
    assert_eq!(m["accuracy"]["fnir"]["rate"], 1.0);
    assert_eq!(n(&m["alerts"]["leads_dispatched"]), 0);
}

#[test]
fn matcher_surges_change_how_many_faces_the_cameras_see_in_their_streets() {
    let seen = |m: &Value| n(&m["volume"]["faces_seen"]);
    let base = seen(&run("", "surge-none"));
    let nobody = "[[surge]]\nloop = \"matcher\"\nstart = \"0h\"\nend = \"12h\"\nmultiplier = 0\n";
    assert_eq!(
        seen(&run(nobody, "surge-zero")),
        0,
        "a zero surge everywhere empties the streets"
    );
    let doubled = "[[surge]]\nloop = \"matcher\"\nstart = \"0h\"\nend = \"12h\"\nmultiplier = 2\n";
    let twice = seen(&run(doubled, "surge-double")) as f64;
    assert!(
        (twice / base as f64 - 2.0).abs() < 0.1,
        "doubling the passers-by: {base} → {twice}"
    );
    let one_street = "[[surge]]\nloop = \"matcher\"\nstart = \"0h\"\nend = \"12h\"\nstreets = [\"Xixiang\"]\nmultiplier = 0\n";
    let fewer = seen(&run(one_street, "surge-street"));
    assert!(
        fewer > 0 && fewer < base,
        "one street emptied: {base} → {fewer}"
    );
}
