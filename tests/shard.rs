//! `twin run --shard i/n` and `twin merge`: the district split by street across runs, and their
//! histograms merged into one report that agrees with the run that did it all at once.

use std::path::PathBuf;

use baoan_scenarios::Scenario;
use baoan_twin::{Progress, RunOptions, RunSummary, Shard, merge::merge, run_scenario};
use serde_json::Value;

fn scenario() -> Scenario {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("tests/golden/tiny.toml")).unwrap();
    let mut s = Scenario::parse("tests/golden/tiny.toml", &text).unwrap();
    // Block data runs on shard 1 alone, so its verification visits take patrol time only
    // there: with visits free of patrol time the shards' grids compare like for like.
    s.grid.patrol.visits_take_patrol = false;
    s
}

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("baoan-twin-shard-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn run(name: &str, shard: Option<Shard>) -> (PathBuf, RunSummary) {
    let out = dir(name);
    let summary = run_scenario(
        scenario(),
        &RunOptions {
            out: Some(out.clone()),
            progress: Progress::Quiet,
            shard,
            ..RunOptions::default()
        },
    )
    .unwrap();
    (out, summary)
}

fn latency(report: &Value, metric: &str) -> u64 {
    report["sections"]["grid"]["latency"][metric]["count"]
        .as_u64()
        .unwrap()
}

#[test]
fn shards_split_the_streets_and_merge_into_the_whole_runs_figures() {
    assert_eq!(Shard::parse("2/3"), Ok(Shard { index: 2, count: 3 }));
    for bad in ["0/3", "4/3", "1/11", "x", "1/"] {
        let e = Shard::parse(bad).unwrap_err();
        assert!(e.contains("expected i/n"), "{bad}: {e}");
    }
    let (a, b) = (Shard { index: 1, count: 2 }, Shard { index: 2, count: 2 });
    let (sa, sb) = (a.streets(), b.streets());
    assert_eq!(
        sa.len() + sb.len(),
        10,
        "every street in one shard: {sa:?} {sb:?}"
    );
    assert!(sa.iter().all(|s| !sb.contains(s)));

    let (_, whole) = run("whole", None);
    let (dir_a, part_a) = run("a", Some(a));
    let (dir_b, part_b) = run("b", Some(b));
    let report = |s: &RunSummary| -> Value { serde_json::from_str(&s.report.to_json()).unwrap() };
    let (whole, part_a, part_b) = (report(&whole), report(&part_a), report(&part_b));
    for r in [&part_a, &part_b] {
        for inv in r["invariants"].as_array().unwrap() {
            assert!(
                inv["holds"].as_bool().unwrap(),
                "invariant broken in a shard: {inv}"
            );
        }
    }
    // The grid's items are the streets': the shards' detections add up to about the whole's.
    let metric = "grid.detection_s";
    let (w, x, y) = (
        latency(&whole, metric),
        latency(&part_a, metric),
        latency(&part_b, metric),
    );
    assert!(x > 0 && y > 0, "both shards saw items: {x} {y}");
    let ratio = (x + y) as f64 / w as f64;
    assert!((0.85..1.15).contains(&ratio), "{x} + {y} against {w}");
    // Block data and the cases loops run on shard 1 only.
    assert!(part_a["sections"].get("blocks").is_some());
    assert!(part_b["sections"].get("blocks").is_none());

    let out = dir("merged");
    let merged = merge(&[dir_b.clone(), dir_a.clone()], &out).unwrap();
    assert_eq!(
        merged.seconds[metric].count,
        x + y,
        "the histograms merge bucket by bucket"
    );
    assert_eq!(merged.counts["grid.rejected"], 0.0);
    assert!(merged.passed, "{:?}", merged.slos);
    assert!(out.join("report.json").exists());

    // What cannot be merged is refused, naming why.
    let e = merge(std::slice::from_ref(&dir_a), &out).unwrap_err();
    assert!(e.to_string().contains("shard 2/2 missing"), "{e}");
    let e = merge(&[dir_a.clone(), dir_a.clone()], &out).unwrap_err();
    assert!(e.to_string().contains("both shard 1/2"), "{e}");
    let (whole_dir, _) = run("whole-again", None);
    let e = merge(&[dir_a, whole_dir], &out).unwrap_err();
    assert!(e.to_string().contains("was not a shard"), "{e}");
}
