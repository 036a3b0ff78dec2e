//! District packs through the `twin` binary, on a real OpenStreetMap extract (central Helsinki,
//! © OpenStreetMap contributors, ODbL; see twin/data/osm/README.md) and on the default pack:
//! make a pack, build its district, run the smoke scenario on it, and check its travel times.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use baoan_world::pack::Pack;
use baoan_world::roads::top_speed_m_per_s;
use baoan_world::{Mode, Twin};

const EXTRACT: &str = "twin/data/osm/helsinki.osm.pbf";

fn twin(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_twin"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap()
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("baoan-packs-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A pack made from the real extract, as a planner elsewhere would make one.
fn helsinki_pack(name: &str) -> PathBuf {
    let dir = temp_dir(name).join("pack");
    let out = twin(&[
        "pack",
        "from-osm",
        EXTRACT,
        "--streets",
        "3",
        "--grids",
        "40",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    dir
}

#[test]
fn a_pack_from_a_real_extract_builds_and_runs_the_smoke_scenario_keeping_every_invariant() {
    let pack = helsinki_pack("smoke");
    let page = pack.parent().unwrap().join("page");
    let shown = twin(&[
        "district",
        "--pack",
        pack.to_str().unwrap(),
        "--out",
        page.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(shown.status.code(), Some(0), "{}", text(&shown));
    let v: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(v["figures"]["travel"], "roads");
    assert_eq!(v["figures"]["grids"], 40);
    assert!(v["pack"]["layers"].as_array().unwrap().len() >= 8);
    let html = std::fs::read_to_string(page.join("index.html")).unwrap();
    assert!(html.contains("<svg") && html.contains("OpenStreetMap contributors"));

    let out_dir = pack.parent().unwrap().join("run");
    let run = twin(&[
        "run",
        "scenarios/smoke.toml",
        "--pack",
        pack.to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
        "--quiet",
    ]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("report.json")).unwrap())
            .unwrap();
    assert_eq!(report["pack"]["name"], "helsinki");
    assert_eq!(
        report["pack"]["hash"],
        Pack::load(&pack).unwrap().hash.as_str()
    );
    assert_eq!(report["passed"], true);
    for inv in report["invariants"].as_array().unwrap() {
        assert_eq!(inv["holds"], true, "invariant failed on the pack: {inv}");
    }
    assert!(!report["invariants"].as_array().unwrap().is_empty());
}

#[test]
fn on_real_roads_no_trip_beats_the_straight_line_and_every_grid_is_reachable_or_reported() {
    let pack = Pack::load(&helsinki_pack("roads")).unwrap();
    assert!(pack.roads.len() > 2000);
    let (twin, _) = Twin::from_pack(&pack, 1.0, 5).unwrap();
    let t = &twin.travel;
    assert_eq!(t.source_name(), "roads");
    let d = &twin.district;
    let report = t.road_report().expect("a road report");
    let n = d.grids.len() as u32;
    for (m, mode) in Mode::ALL.into_iter().enumerate() {
        let unreachable = &report.unreachable_grids_by_mode[m];
        for &g in unreachable {
            assert!(g < n);
        }
        let top = top_speed_m_per_s(mode);
        for a in 0..n {
            for b in 0..n {
                if a == b {
                    continue;
                }
                let (p, q) = (d.grids[a as usize].site, d.grids[b as usize].site);
                let straight = ((p.x - q.x).powi(2) + (p.y - q.y).powi(2)).sqrt();
                for hour in [3, 8, 18] {
                    let s = t.seconds(mode, a, b, hour);
                    assert!(
                        s + 1e-6 >= straight / top,
                        "{mode:?} {a}->{b} at {hour}h: {s:.1} s for {straight:.0} m"
                    );
                }
            }
        }
    }
    // The extract's roads reach every grid of its own hull.
    assert!(report.unreachable_grids_by_mode.iter().all(Vec::is_empty));
}

/// A boundary file with one bad feature, written for `from-osm --boundary`.
fn boundary(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn from_osm_refuses_bad_input_naming_the_file_the_feature_and_the_field() {
    let dir = temp_dir("bad");
    let out_dir = dir.join("pack");
    let run = |b: &str| {
        twin(&[
            "pack",
            "from-osm",
            EXTRACT,
            "--boundary",
            b,
            "--out",
            out_dir.to_str().unwrap(),
        ])
    };
    // An unclosed ring.
    let open = boundary(
        &dir,
        "open.geojson",
        r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{},"geometry":{"type":"Polygon","coordinates":[[[24.93,60.16],[24.96,60.16],[24.96,60.18],[24.93,60.18]]]}}]}"#,
    );
    let o = run(&open);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("open.geojson: feature 0: field geometry.coordinates[0]"),
        "{}",
        text(&o)
    );
    // Not GeoJSON.
    let csv = boundary(&dir, "b.geojson", "lon,lat\n1,2\n");
    let o = run(&csv);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("b.geojson:1:1: expected GeoJSON"),
        "{}",
        text(&o)
    );
    // A boundary with no roads of the extract inside it (the Bao'an outline).
    let o = run("twin/data/baoan/outline.geojson");
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("helsinki.osm.pbf: no roads inside the boundary"),
        "{}",
        text(&o)
    );
    // A file that is not an extract.
    let o = twin(&[
        "pack",
        "from-osm",
        "scenarios/smoke.toml",
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("smoke.toml"), "{}", text(&o));
    // Nothing was written by any of them.
    assert!(!out_dir.join("district.toml").exists());
}

#[test]
fn a_bad_pack_on_the_command_line_exits_2_with_its_place() {
    let dir = temp_dir("badpack");
    std::fs::write(
        dir.join("district.toml"),
        "[pack]\nname = \"x\"\n[boundary]\nfile = \"b.geojson\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("b.geojson"),
        r#"{"type":"Polygon","coordinates":[[[1,1],[2,1],[2,2],[1,3]]]}"#,
    )
    .unwrap();
    for args in [
        vec!["district", "--pack", dir.to_str().unwrap()],
        vec![
            "run",
            "scenarios/smoke.toml",
            "--pack",
            dir.to_str().unwrap(),
            "--quiet",
        ],
    ] {
        let o = twin(&args);
        assert_eq!(o.status.code(), Some(2), "{}", text(&o));
        assert!(
            text(&o).contains("b.geojson: feature 0: field geometry.coordinates[0]"),
            "{}",
            text(&o)
        );
    }
}

#[test]
fn the_packs_fire_stations_and_transit_hubs_place_the_command_loop() {
    use baoan_agents::command::{CommandConfig, place};
    use baoan_api::UnitClass;
    use baoan_world::layers::PlaceKind;
    let pack = Pack::load(&helsinki_pack("places")).unwrap();
    let (twin, _) = Twin::from_pack(&pack, 1.0, 5).unwrap();
    let d = &twin.district;
    let fire: Vec<_> = d
        .places
        .iter()
        .filter(|p| p.kind == PlaceKind::FireStation && p.grid.is_some())
        .collect();
    assert!(!fire.is_empty(), "the extract maps a fire station");
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/smoke.toml");
    let scenario = baoan_scenarios::Scenario::load(&file).unwrap();
    let config = CommandConfig::from_scenario(&scenario, &pack.street_names()).unwrap();
    let placement = place(&twin, &config, &baoan_world::RngStreams::new(5)).unwrap();
    let crews: Vec<_> = placement
        .units
        .iter()
        .filter(|u| u.class == UnitClass::Fire)
        .collect();
    assert!(!crews.is_empty());
    for u in crews {
        assert!(
            fire.iter().any(|p| p.at == u.home),
            "a fire crew away from the pack's fire stations"
        );
    }
}

#[test]
fn a_scenario_naming_its_pack_validates_and_replays_byte_for_byte() {
    let v = twin(&["validate", "scenarios/helsinki-day.toml"]);
    assert_eq!(v.status.code(), Some(0), "{}", text(&v));
    assert!(
        text(&v).contains("on district pack helsinki"),
        "{}",
        text(&v)
    );
    let dir = temp_dir("replay");
    let reports: Vec<String> = ["a", "b"]
        .iter()
        .map(|k| {
            let out = dir.join(k);
            let o = twin(&[
                "run",
                "scenarios/helsinki-day.toml",
                "--out",
                out.to_str().unwrap(),
                "--quiet",
            ]);
            assert_eq!(o.status.code(), Some(0), "{}", text(&o));
            std::fs::read_to_string(out.join("report.json")).unwrap()
        })
        .collect();
    assert_eq!(reports[0], reports[1]);
    let r: serde_json::Value = serde_json::from_str(&reports[0]).unwrap();
    assert_eq!(r["sections"]["district"]["travel"], "roads");
    // The stack estimates arrivals on the same roads: it took the network at set-up.
    let journaled = dir.join("journaled");
    let o = twin(&[
        "run",
        "scenarios/helsinki-day.toml",
        "--out",
        journaled.to_str().unwrap(),
        "--journal",
        "--quiet",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let journal = std::fs::read_to_string(journaled.join("journal.jsonl")).unwrap();
    assert!(
        journal.contains("\"road_network_loaded\""),
        "the stack never took the roads"
    );
    // A Bao'an street in a surge is refused on a pack that has no such street.
    let scenario = dir.join("s.toml");
    std::fs::write(
        &scenario,
        format!(
            "name = \"s\"\nduration = \"1h\"\ndistrict = \"{}\"\n[[surge]]\nloop = \"grid\"\nstart = \"00:00\"\nend = \"01:00\"\nstreets = [\"Xixiang\"]\nmultiplier = 2\n",
            Path::new(env!("CARGO_MANIFEST_DIR")).join("packs/helsinki").display()
        ),
    )
    .unwrap();
    let o = twin(&["validate", scenario.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("unknown street \"Xixiang\"") && text(&o).contains("Street 1"),
        "{}",
        text(&o)
    );
}

#[test]
fn the_planner_reads_congestion_by_road_class_over_real_roads() {
    use baoan_world::roads::{CAR_MAJOR_HOUR_FACTOR, CAR_MINOR_HOUR_FACTOR};
    use baoan_world::travel::CAR;
    let pack = Pack::load(&helsinki_pack("congestion")).unwrap();
    let (twin, _) = Twin::from_pack(&pack, 1.0, 5).unwrap();
    let f = twin.travel.hour_factors(Mode::Car);
    for h in 0..24 {
        assert!(
            f[h] >= CAR_MINOR_HOUR_FACTOR[h] - 1e-12 && f[h] <= CAR_MAJOR_HOUR_FACTOR[h] + 1e-12
        );
    }
    // Rush hour is slower than night on the extract's roads, whose primary and secondary
    // roads carry part of every car trip.
    assert!(f[18] > f[3] + 0.05, "{f:?}");
    // Without roads the planner keeps the neighbour network's curve.
    let (default, _) = Twin::build(0.01, 5);
    assert_eq!(default.travel.hour_factors(Mode::Car), CAR.hour_factor);
}
