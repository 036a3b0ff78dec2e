//! The `twin` binary as CI and people use it: exit codes, located errors, the files a run leaves.

use std::path::PathBuf;
use std::process::Command;

fn twin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_twin"))
}

/// `twin ARGS` from the repository root (where scenarios/ is), its output collected.
fn twin_at_root(args: &[&str]) -> std::process::Output {
    twin()
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap()
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("baoan-twin-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `twin ARGS`, refused as bad input (exit 2): what it said on stderr.
fn refused(out: std::process::Output) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{err}");
    err
}

#[test]
fn a_bad_scenario_exits_2_naming_file_line_and_column() {
    let dir = temp_dir("bad");
    let file = dir.join("bad.toml");
    std::fs::write(
        &file,
        "name = \"bad\"\nduration = \"2h\"\n\n[grid]\nitems_per_grid_per_day = -3\n",
    )
    .unwrap();
    let err = refused(
        twin()
            .args(["run", file.to_str().unwrap(), "--quiet"])
            .output()
            .unwrap(),
    );
    assert!(err.contains("bad.toml:5:26"), "{err}");
    assert!(
        err.contains("grid.items_per_grid_per_day")
            && err.contains("expected a number in [0, 1000]"),
        "{err}"
    );
    assert!(!dir.join("out").exists());
}

#[test]
fn a_bad_key_persons_section_exits_2_naming_each_place() {
    let dir = temp_dir("bad-key-persons");
    let file = dir.join("kp.toml");
    std::fs::write(
        &file,
        "name = \"kp\"\nduration = \"2h\"\n\n[key_persons]\nenabled = true\ndoctor_time_share = 1.5\nsighting_police_from_risk = 9\n",
    )
    .unwrap();
    let err = refused(
        twin()
            .args(["run", file.to_str().unwrap(), "--quiet"])
            .output()
            .unwrap(),
    );
    assert!(
        err.contains("kp.toml:6:21") && err.contains("key_persons.doctor_time_share"),
        "{err}"
    );
    assert!(
        err.contains("kp.toml:7:29") && err.contains("expected a grade 0..=5, or 6 for never"),
        "{err}"
    );
    std::fs::write(&file, "name = \"kp\"\n[key_persons]\nenabeld = true\n").unwrap();
    let err = refused(
        twin()
            .args(["run", file.to_str().unwrap(), "--quiet"])
            .output()
            .unwrap(),
    );
    assert!(
        err.contains("kp.toml:3:1") && err.contains("enabeld"),
        "{err}"
    );
}

#[test]
fn an_unknown_street_in_a_surge_is_bad_input_with_its_place() {
    let dir = temp_dir("street");
    let file = dir.join("s.toml");
    std::fs::write(
        &file,
        "name = \"s\"\nduration = \"1h\"\nscale = 0.002\n[[surge]]\nloop = \"grid\"\nstart = \"00:00\"\nend = \"01:00\"\nstreets = [\"Xixiang\", \"Atlantis\"]\nmultiplier = 2\n",
    )
    .unwrap();
    let err = refused(
        twin()
            .args([
                "run",
                file.to_str().unwrap(),
                "--quiet",
                "--out",
                dir.join("out").to_str().unwrap(),
            ])
            .output()
            .unwrap(),
    );
    assert!(
        err.contains("s.toml:8:23") && err.contains("unknown street \"Atlantis\""),
        "{err}"
    );
    assert!(
        !dir.join("out").exists(),
        "nothing is written for bad input"
    );
}

#[test]
fn a_missing_file_and_a_bad_flag_are_usage_errors() {
    let out = twin()
        .args(["run", "/nonexistent/scenario.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read the scenario"));
    let out = twin()
        .args(["run", "scenarios/smoke.toml", "--scale", "2"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("expected a number in (0, 1]"));
    let out = twin().args(["frobnicate"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn validate_accepts_the_library() {
    for f in ["scenarios/smoke.toml", "scenarios/baseline-day.toml"] {
        let out = twin_at_root(&["validate", f]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn a_smoke_run_writes_its_folder_and_its_exit_code_matches_the_verdict() {
    let dir = temp_dir("smoke");
    let out = twin_at_root(&[
        "run",
        "scenarios/smoke.toml",
        "--quiet",
        "--junit",
        "--out",
        dir.to_str().unwrap(),
    ]);
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap();
    let passed = report["passed"].as_bool().unwrap();
    assert_eq!(
        out.status.code(),
        Some(if passed { 0 } else { 1 }),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(report["schema"], "baoan-twin/report/v1");
    assert!(
        report["sections"]["grid"]["counts"]["tasks_closed"]
            .as_u64()
            .unwrap()
            > 0
    );
    let html = std::fs::read_to_string(dir.join("index.html")).unwrap();
    assert!(html.contains("<svg") && html.contains("Grid loop"));
    assert!(
        !html.contains("src=\"http"),
        "index.html must be self-contained"
    );
    let perf: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("perf.json")).unwrap()).unwrap();
    assert!(perf["speedup"].as_f64().unwrap() > 0.0);
    assert!(
        std::fs::read_to_string(dir.join("junit.xml"))
            .unwrap()
            .contains("<testsuite")
    );
    assert!(
        dir.join("journal.jsonl").exists(),
        "smoke.toml asks for the journal"
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("index.html"));
}

#[test]
fn district_prints_the_published_structure() {
    let out = twin()
        .args(["district", "--scale", "0.01", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["figures"]["streets"], 10);
    assert_eq!(v["figures"]["communities"], 10);
    assert_eq!(v["figures"]["grids"], 49);
    assert_eq!(v["figures"]["by_street"][1]["name_en"], "Xixiang");
}

#[test]
fn a_planners_posts_file_is_used_and_a_bad_one_named_by_line() {
    let dir = temp_dir("posts");
    let posts = dir.join("posts.csv");
    std::fs::write(
        &posts,
        "lon,lat\n113.885,22.565\n113.870,22.595\n113.845,22.615\n",
    )
    .unwrap();
    let out = twin_at_root(&[
        "run",
        "scenarios/smoke.toml",
        "--quiet",
        "--posts",
        posts.to_str().unwrap(),
        "--out",
        dir.join("out").to_str().unwrap(),
    ]);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("out/report.json")).unwrap())
            .unwrap();
    assert_eq!(report["sections"]["command"]["placement"]["posts"], 3);

    std::fs::write(&posts, "lon,lat\n113.885,22.565\n113.870,north\n").unwrap();
    let err = refused(twin_at_root(&[
        "run",
        "scenarios/smoke.toml",
        "--quiet",
        "--posts",
        posts.to_str().unwrap(),
        "--out",
        dir.join("bad").to_str().unwrap(),
    ]));
    assert!(
        err.contains("posts.csv:3: column lat: expected a number"),
        "{err}"
    );
}

#[test]
fn validate_warns_of_a_gate_that_cannot_fail_and_the_library_has_none() {
    let dir = temp_dir("constant");
    let file = dir.join("c.toml");
    std::fs::write(
        &file,
        "name = \"c\"\nduration = \"1h\"\n[command.centres]\nenabled = false\n\
         [[slo]]\nmetric = \"grid.report_to_dispatch_s\"\nstat = \"p99\"\nmax = 1\n\
         [[slo]]\nmetric = \"command.call_to_dispatch_s\"\nstat = \"p90\"\nmax = 120\n\
         [[slo]]\nmetric = \"grid.report_to_closed_s\"\nstat = \"p50\"\nmax = 3600\n",
    )
    .unwrap();
    let out = twin()
        .args(["validate", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("slo[0] (grid.report_to_dispatch_s)"), "{err}");
    assert!(err.contains("slo[1] (command.call_to_dispatch_s)"), "{err}");
    assert!(!err.contains("slo[2]"), "{err}");
    for f in std::fs::read_dir(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios")).unwrap()
    {
        let path = f.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") && !path.ends_with("Cargo.toml") {
            let text = std::fs::read_to_string(&path).unwrap();
            let s = baoan_scenarios::Scenario::parse(path.to_str().unwrap(), &text).unwrap();
            assert_eq!(s.constant_slos(), vec![], "{}", path.display());
        }
    }
}

#[test]
fn validate_refuses_what_run_would_refuse() {
    let dir = temp_dir("validate");
    let file = dir.join("v.toml");
    std::fs::write(&file, "name = \"v\"\nduration = \"1h\"\n[[disruption]]\nstart = \"00:00\"\nend = \"01:00\"\nstreets = [\"Atlantis\"]\ntravel_multiplier = 2\n").unwrap();
    let err = refused(
        twin()
            .args(["validate", file.to_str().unwrap()])
            .output()
            .unwrap(),
    );
    assert!(
        err.contains("v.toml:6:") && err.contains("disruption[0].streets[0]"),
        "{err}"
    );
}

/// `twin plan posts` for three posts on the smoke district, into `dir`.
fn plan_smoke(dir: &std::path::Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "plan",
        "posts",
        "--scenario",
        "scenarios/smoke.toml",
        "--posts",
        "3",
        "--quiet",
        "--out",
        dir.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    twin_at_root(&args)
}

#[test]
fn plan_posts_writes_a_layout_that_twin_run_reads_back() {
    let dir = temp_dir("plan");
    let out = plan_smoke(&dir, &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plan: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("plan.json")).unwrap()).unwrap();
    let (coverage, bound) = (
        plan["coverage"].as_f64().unwrap(),
        plan["upper_bound"].as_f64().unwrap(),
    );
    assert!(coverage > 0.0 && coverage <= bound + 1e-9, "{plan}");
    let csv = std::fs::read_to_string(dir.join("posts.csv")).unwrap();
    assert_eq!(csv.lines().count(), 4, "a header and three posts:\n{csv}");
    let map = std::fs::read_to_string(dir.join("map.html")).unwrap();
    assert!(
        map.contains(r#""views":[{"label":"current posts""#)
            && map.contains(r#"{"label":"planned posts""#),
        "the plan's map shows the current and the planned posts"
    );
    // The planned posts go straight back into a run.
    let run = twin_at_root(&[
        "run",
        "scenarios/smoke.toml",
        "--quiet",
        "--posts",
        dir.join("posts.csv").to_str().unwrap(),
        "--out",
        dir.join("run").to_str().unwrap(),
    ]);
    assert!(
        matches!(run.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("run/report.json")).unwrap())
            .unwrap();
    assert_eq!(report["sections"]["command"]["placement"]["posts"], 3);
    assert!(report["reproduce"].as_str().unwrap().contains("--posts"));
}

/// `--exact` on the smoke district: HiGHS proves an optimum no heuristic beats, and the budget
/// curve is there at every budget.
#[cfg(feature = "exact")]
#[test]
fn plan_posts_exact_proves_the_optimum() {
    let dir = temp_dir("plan-exact");
    let out = plan_smoke(&dir, &["--exact"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plan: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("plan.json")).unwrap()).unwrap();
    let e = &plan["exact"];
    assert_eq!(e["status"], "optimal", "{plan}");
    let (opt, bound) = (e["optimum"].as_f64().unwrap(), e["bound"].as_f64().unwrap());
    assert!((opt - bound).abs() < 1e-5, "{plan}");
    assert!(
        plan["heuristic_coverage"].as_f64().unwrap() <= opt + 1e-3,
        "{plan}"
    );
    assert!(e["heuristic_gap"].as_f64().unwrap() >= -1e-6, "{plan}");
    let curve = plan["budget_curve"].as_array().unwrap();
    assert!(
        curve
            .windows(2)
            .all(|w| w[1][1].as_f64() >= w[0][1].as_f64()),
        "{plan}"
    );
}

/// Without the solver built in, `--exact` is a usage error that says how to get it.
#[cfg(not(feature = "exact"))]
#[test]
fn plan_posts_exact_without_the_solver_says_how_to_build_it() {
    let dir = temp_dir("plan-no-exact");
    let err = refused(plan_smoke(&dir, &["--exact"]));
    assert!(err.contains("--features exact"), "{err}");
    assert!(
        !dir.join("plan.json").exists(),
        "nothing written on a usage error"
    );
}

#[test]
fn compare_puts_two_runs_and_two_layouts_side_by_side() {
    let dir = temp_dir("compare");
    for (name, seed) in [("a", "7"), ("b", "8")] {
        let out = twin_at_root(&[
            "run",
            "scenarios/smoke.toml",
            "--quiet",
            "--seed",
            seed,
            "--out",
            dir.join(name).to_str().unwrap(),
        ]);
        assert!(matches!(out.status.code(), Some(0 | 1)));
    }
    let out = twin()
        .args([
            "compare",
            dir.join("a").to_str().unwrap(),
            dir.join("b").to_str().unwrap(),
            "--out",
            dir.join("runs").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let c: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("runs/compare.json")).unwrap())
            .unwrap();
    let rows = c["rows"].as_array().unwrap();
    assert!(
        rows.iter()
            .any(|r| r["metric"] == "grid.closed_share" && r["a"] != r["b"]),
        "two seeds differ somewhere"
    );

    let (pa, pb) = (dir.join("a.csv"), dir.join("b.csv"));
    std::fs::write(&pa, "lon,lat\n113.885,22.565\n").unwrap();
    std::fs::write(&pb, "lon,lat\n113.885,22.565\n113.870,22.595\n").unwrap();
    let out = twin_at_root(&[
        "compare",
        "--scenario",
        "scenarios/smoke.toml",
        pa.to_str().unwrap(),
        pb.to_str().unwrap(),
        "--out",
        dir.join("layouts").to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let c: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("layouts/compare.json")).unwrap())
            .unwrap();
    assert!(
        c["coverage_b"].as_f64().unwrap() >= c["coverage_a"].as_f64().unwrap(),
        "adding a post never loses coverage: {c}"
    );
    assert_eq!(c["grids_losing"], 0);
    let map = std::fs::read_to_string(dir.join("layouts/map.html")).unwrap();
    assert!(map.contains(r#""default_metric":"change.covered_demand""#));
    assert!(map.contains(r#"{"label":"layout B""#));

    let out = twin()
        .args(["compare", "/nonexistent/a", "/nonexistent/b"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn merge_takes_every_shard_and_refuses_anything_else_with_exit_2() {
    let dir = temp_dir("merge");
    let shard = |i: u32| {
        let out = dir.join(format!("s{i}"));
        let o = twin_at_root(&[
            "run",
            "tests/golden/tiny.toml",
            "--shard",
            &format!("{i}/2"),
            "--quiet",
            "--out",
            out.to_str().unwrap(),
        ]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(out.join("metrics.json").exists());
        out
    };
    let (a, b) = (shard(1), shard(2));
    let merged = dir.join("merged");
    let o = twin_at_root(&[
        "merge",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "--out",
        merged.to_str().unwrap(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(merged.join("report.json").exists());

    let o = twin_at_root(&[
        "merge",
        a.to_str().unwrap(),
        "--out",
        merged.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("shard 2/2 missing"));
    let nowhere = dir.join("nowhere");
    let o = twin_at_root(&["merge", nowhere.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("report.json: cannot read it"));
    let o = twin_at_root(&["run", "tests/golden/tiny.toml", "--shard", "3/2"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn twin_fuzz_refuses_a_time_that_is_not_positive() {
    let out = Command::new(env!("CARGO_BIN_EXE_twin"))
        .args(["fuzz", "--minutes", "0"])
        .output()
        .unwrap();
    let err = refused(out);
    assert!(
        err.contains("--minutes: expected a positive number of minutes, got 0"),
        "{err}"
    );
}
