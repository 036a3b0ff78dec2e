//! The run's interactive map (map.html): what its data says must agree with the run's report,
//! and the page must be the same for the same scenario and seed. The page in a browser is
//! tested by tests/browser (CI runs it).

use std::path::{Path, PathBuf};

use baoan_scenarios::Scenario;
use baoan_twin::{Progress, RunOptions, run_scenario};
use serde_json::Value;

fn run_smoke(scale: f64, out: &Path) -> Value {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("scenarios/smoke.toml")).unwrap();
    let scenario = Scenario::parse("scenarios/smoke.toml", &text).unwrap();
    let opts = RunOptions {
        scale: Some(scale),
        out: Some(out.to_path_buf()),
        progress: Progress::Quiet,
        ..RunOptions::default()
    };
    run_scenario(scenario, &opts).unwrap();
    serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap()
}

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("baoan-twin-map-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// The JSON the page carries, as the page's script reads it.
fn map_data(html: &str) -> Value {
    let open = r#"<script type="application/json" id="map-data">"#;
    let start = html.find(open).expect("the page carries its data") + open.len();
    let end = start + html[start..].find("</script>").unwrap();
    serde_json::from_str(&html[start..end].replace("<\\/", "</")).unwrap()
}

fn len(v: &Value) -> usize {
    v.as_array().map_or(0, Vec::len)
}

#[test]
fn the_runs_map_agrees_with_its_report() {
    let out = temp("agree");
    let report = run_smoke(0.02, &out);
    let index = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(
        index.contains(r#"<a href="map.html">"#),
        "index.html links the map"
    );
    let html = std::fs::read_to_string(out.join("map.html")).unwrap();
    let d = map_data(&html);

    let grids = report["sections"]["district"]["grids"].as_u64().unwrap() as usize;
    assert_eq!(len(&d["grids"]["code"]), grids);
    assert_eq!(len(&d["grids"]["shape"]), grids);
    assert_eq!(len(&d["streets"]), 10);
    for m in d["metrics"].as_array().unwrap() {
        assert_eq!(len(&m["values"]), grids, "{}", m["key"]);
    }
    assert!(
        d["metrics"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["key"] == d["default_metric"]),
        "the figure shown first is on the list"
    );
    // Names in Chinese and in Latin letters.
    for c in d["communities"].as_array().unwrap() {
        let (zh, en) = (c["name"].as_str().unwrap(), c["name_en"].as_str().unwrap());
        assert!(
            !zh.is_ascii() && en.is_ascii() && !en.is_empty(),
            "{zh} / {en}"
        );
    }

    // Every incident the command loop closed or left open, each by its 1-3-5 outcome.
    let counts = &report["sections"]["command"]["counts"];
    let open: u64 = counts["open_at_end"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    let i = &d["incidents"];
    let n = len(&i["t"]);
    assert_eq!(n as u64, counts["closed"].as_u64().unwrap() + open);
    assert!(n > 0, "the smoke run has incidents");
    let limits = [60, 180, 300];
    for k in 0..n {
        let arrival: Vec<Option<u64>> = i["arrival_s"][k]
            .as_array()
            .unwrap()
            .iter()
            .map(Value::as_u64)
            .collect();
        let within = |t: usize| arrival[t].is_some_and(|s| s <= limits[t]);
        let outcome = i["outcome"][k].as_u64().unwrap();
        match outcome {
            0 => assert!(within(0) && within(1) && within(2), "{arrival:?}"),
            1 => assert!(within(2) && !(within(0) && within(1)), "{arrival:?}"),
            2 => assert!(!within(2), "{arrival:?}"),
            3 => {}
            _ => panic!("outcome {outcome}"),
        }
    }
    assert_eq!(
        (0..n).filter(|&k| i["outcome"][k] == 3).count() as u64,
        open
    );

    // Trips end after they start; the open incidents over time never go below zero.
    let trips = &d["trips"]["t"];
    assert!(len(trips) > 0);
    for t in trips.as_array().unwrap() {
        assert!(t[0].as_u64() <= t[1].as_u64(), "{t}");
    }
    let series = d["series"].as_array().unwrap();
    let open_series = series
        .iter()
        .find(|s| s["key"] == "command.open_incidents")
        .unwrap();
    let mut last = 0.0;
    for p in open_series["points"].as_array().unwrap() {
        let (t, v) = (p[0].as_f64().unwrap(), p[1].as_f64().unwrap());
        assert!(t >= last && v >= 0.0, "{p}");
        last = t;
    }

    // Police cover somewhere within 5 minutes, and no mask goes past the day's 24 hours. (At a
    // fiftieth of the district a grid is wider than an e-bike's 3 minutes, so auxiliary police
    // may cover none.)
    let view = &d["views"][0];
    assert_eq!(len(&view["coverage"]), 2);
    assert_eq!(view["coverage"][1]["key"], "cover.police");
    for c in view["coverage"].as_array().unwrap() {
        let masks: Vec<u64> = c["hours"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m.as_u64().unwrap())
            .collect();
        assert_eq!(masks.len(), grids);
        assert!(masks.iter().all(|&m| m < 1 << 24));
        if c["key"] == "cover.police" {
            assert!(masks.iter().any(|&m| m != 0), "police cover nothing");
        }
    }
    let posts = report["sections"]["command"]["placement"]["posts"]
        .as_u64()
        .unwrap();
    assert_eq!(len(&view["points"][0]["at"]) as u64, posts);
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn the_same_scenario_and_seed_draw_the_same_map() {
    let (a, b) = (temp("same-a"), temp("same-b"));
    run_smoke(0.01, &a);
    run_smoke(0.01, &b);
    let (ma, mb) = (
        std::fs::read(a.join("map.html")).unwrap(),
        std::fs::read(b.join("map.html")).unwrap(),
    );
    assert!(
        ma == mb,
        "map.html differs between two runs of one scenario and seed"
    );
    let _ = std::fs::remove_dir_all(&a);
    let _ = std::fs::remove_dir_all(&b);
}
