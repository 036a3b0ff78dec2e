//! `twin assumptions`, `twin sweep` and `twin summarize` as people and CI use them: names
//! checked everywhere, every setting on the same seeds, intervals that move the right way,
//! runs from different builds refused, and the engines' job files.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn twin(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_twin"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap()
}

fn ok(out: Output) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "{err}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn refused(out: Output) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{err}");
    err
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("baoan-twin-sweep-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// A day of emergencies at a fifth of the district, nothing else: quick (a second a run), and
/// enough incidents (about 160) for the 1-3-5 shares to move.
fn command_scenario(dir: &Path) -> PathBuf {
    let file = dir.join("command.toml");
    std::fs::write(
        &file,
        "name = \"command-sweep\"\nseed = 3\nduration = \"24h\"\nscale = 0.2\n\
         [grid]\nenabled = false\n[matcher]\nenabled = false\n[blocks]\nenabled = false\n\
         [cases]\nenabled = false\n\
         [[slo]]\nmetric = \"command.rejected\"\nstat = \"value\"\nmax = 0\n\
         [output]\nhtml = false\n",
    )
    .unwrap();
    file
}

#[test]
fn assumptions_are_listed_with_units_and_sources_and_unknown_names_refused() {
    let list: Value = serde_json::from_str(&ok(twin(&["assumptions", "--json"]))).unwrap();
    let list = list.as_array().unwrap();
    assert!(list.len() > 100, "{}", list.len());
    for a in list {
        for field in ["name", "value", "unit", "source"] {
            assert!(!a[field].is_null(), "{a}");
        }
    }
    let car = list
        .iter()
        .find(|a| a["name"] == "travel.car.speed_m_per_s")
        .unwrap();
    assert_eq!(car["value"], 9.0);
    assert_eq!(car["unit"], "m/s");

    let err = refused(twin(&[
        "run",
        "scenarios/smoke.toml",
        "--set",
        "travel.car.sped=3",
    ]));
    assert!(
        err.contains("unknown assumption `travel.car.sped`"),
        "{err}"
    );
    assert!(
        err.contains("travel.car.speed_m_per_s"),
        "the near name: {err}"
    );
    let dir = temp_dir("names");
    let s = command_scenario(&dir);
    let s = s.to_str().unwrap();
    let out = dir.join("sw");
    let out = out.to_str().unwrap();
    let err = refused(twin(&[
        "sweep",
        s,
        "--seeds",
        "2",
        "--set",
        "nope.x=1,2",
        "--out",
        out,
    ]));
    assert!(err.contains("unknown assumption `nope.x`"), "{err}");
    let err = refused(twin(&[
        "sweep",
        s,
        "--seeds",
        "2",
        "--vary",
        "nope.y=1..2",
        "--out",
        out,
    ]));
    assert!(err.contains("unknown assumption `nope.y`"), "{err}");
    // A value the scenario's checks refuse is refused before anything runs.
    let err = refused(twin(&[
        "sweep",
        s,
        "--seeds",
        "2",
        "--set",
        "command.volunteer_decline_share=0.5,1.5",
        "--out",
        out,
    ]));
    assert!(
        err.contains("volunteer_decline_share") && err.contains("1.5"),
        "{err}"
    );
    assert!(!Path::new(out).join("runs").exists());
}

#[test]
fn a_sweep_runs_every_setting_on_common_seeds_and_its_summary_reads_the_effects() {
    let dir = temp_dir("sweep");
    let scenario = command_scenario(&dir);
    let out = dir.join("sw");
    ok(twin(&[
        "sweep",
        scenario.to_str().unwrap(),
        "--seeds",
        "3",
        "--set",
        "command.turnout.auxiliary_police_s=30,200",
        "--vary",
        "command.turnout.police_s=0..400",
        "--out",
        out.to_str().unwrap(),
        "--jobs",
        "2",
        "--quiet",
    ]));
    let plan = json(&out.join("sweep.json"));
    assert_eq!(
        plan["runs"].as_array().unwrap().len(),
        12,
        "2 settings and 2 points × 3 seeds"
    );
    let run = json(&out.join("runs/0000/run.json"));
    assert_eq!(run["seed"], 3);
    // The seeds vary the day; the district is the scenario's on every one.
    assert_eq!(json(&out.join("runs/0001/run.json"))["district_seed"], 3);
    let district =
        |run: &str| json(&out.join(run).join("report.json"))["sections"]["district"].clone();
    assert_eq!(district("runs/0000"), district("runs/0002"));
    assert_eq!(run["build_sha256"].as_str().unwrap().len(), 64);
    assert_eq!(run["pack"], "baoan");
    // A run's report lists the assumptions it moved off their defaults (30 s is the default).
    let listed = |run: &str| -> Vec<(String, f64)> {
        json(&out.join(run).join("report.json"))["assumptions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                (
                    a["name"].as_str().unwrap().to_string(),
                    a["value"].as_f64().unwrap(),
                )
            })
            .collect()
    };
    let turnout = "command.turnout.auxiliary_police_s".to_string();
    assert!(!listed("runs/0000").iter().any(|(n, _)| *n == turnout));
    assert!(listed("runs/0003").contains(&(turnout, 200.0)));

    let stdout = ok(twin(&["summarize", out.to_str().unwrap()]));
    assert!(stdout.contains("police within 5 min"), "{stdout}");
    let summary = json(&out.join("summary.json"));
    let settings = summary["settings"].as_array().unwrap();
    assert_eq!(settings.len(), 4);
    for s in settings {
        assert_eq!(s["seeds"], serde_json::json!([3, 4, 5]), "{}", s["setting"]);
        let m = &s["metrics"]["command.police.within_limit_share"];
        assert_eq!(m["n"], 3);
        assert!(m["ci95_low"].as_f64().unwrap() <= m["mean"].as_f64().unwrap());
        assert!(m["mean"].as_f64().unwrap() <= m["ci95_high"].as_f64().unwrap());
    }
    // Auxiliary police setting off 200 s after dispatch are never within 3 minutes: fewer,
    // seed by seed.
    let paired = &summary["paired"][0];
    assert_eq!(paired["b"], "command.turnout.auxiliary_police_s=200");
    let d = &paired["metrics"]["command.auxiliary_police.within_limit_share"];
    assert_eq!(d["n"], 3);
    assert!(d["mean"].as_f64().unwrap() < 0.0, "{d}");
    assert_eq!(
        settings[1]["metrics"]["command.auxiliary_police.within_limit_share"]["mean"],
        0.0
    );
    // A police turnout of 400 s leaves none within the 300 s limit: the tornado shows it.
    let police = summary["sensitivity"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["metric"] == "command.police.within_limit_share")
        .unwrap();
    let e = &police["by_assumption"][0];
    assert_eq!(e["assumption"], "command.turnout.police_s");
    assert_eq!(e["at_high"], 0.0);
    assert!(e["at_low"].as_f64().unwrap() > 0.02, "{e}");
    assert!(e["effect"]["ci95_high"].as_f64().unwrap() < 0.0, "{e}");
    // The SLO on rejected commands holds on every seed of every setting.
    let slos = settings[0]["slos"].as_array().unwrap();
    let rejected = slos
        .iter()
        .find(|x| x["slo"] == "command.rejected value ≤ 0")
        .unwrap();
    assert_eq!(
        (rejected["met"].as_u64(), rejected["of"].as_u64()),
        (Some(3), Some(3))
    );
    let page = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(page.contains("<svg") && page.contains("what moves it most"));

    // A run folder left by another list (here: another seed) is not taken as this list's run.
    let mut stale = json(&out.join("runs/0001/run.json"));
    let kept = stale.clone();
    stale["seed"] = Value::from(99);
    std::fs::write(out.join("runs/0001/run.json"), stale.to_string()).unwrap();
    ok(twin(&[
        "summarize",
        out.to_str().unwrap(),
        "--out",
        dir.join("stale").to_str().unwrap(),
    ]));
    let missing = json(&dir.join("stale/summary.json"))["missing"].clone();
    assert_eq!(missing.as_array().unwrap().len(), 1, "{missing}");
    assert!(
        missing[0].as_str().unwrap().ends_with("runs/0001"),
        "{missing}"
    );
    std::fs::write(out.join("runs/0001/run.json"), kept.to_string()).unwrap();

    // A run from another build is refused, naming both folders.
    let other = dir.join("other");
    std::fs::create_dir_all(other.join("runs")).unwrap();
    std::fs::copy(out.join("sweep.json"), other.join("sweep.json")).unwrap();
    let copy = other.join("runs/0000");
    std::fs::create_dir_all(&copy).unwrap();
    for f in ["metrics.json", "report.json"] {
        std::fs::copy(out.join("runs/0000").join(f), copy.join(f)).unwrap();
    }
    let mut record = json(&out.join("runs/0000/run.json"));
    record["build_sha256"] = Value::String("0".repeat(64));
    std::fs::write(copy.join("run.json"), record.to_string()).unwrap();
    let err = refused(twin(&[
        "summarize",
        out.to_str().unwrap(),
        other.to_str().unwrap(),
        "--out",
        dir.join("both").to_str().unwrap(),
    ]));
    assert!(err.contains("different builds"), "{err}");
    assert!(err.contains(copy.to_str().unwrap()), "{err}");
}

#[test]
fn the_engines_job_files_run_the_same_list() {
    let dir = temp_dir("emit");
    let scenario = command_scenario(&dir);
    let s = scenario.to_str().unwrap();
    let slurm = dir.join("slurm");
    let posts = dir.join("posts.csv");
    std::fs::write(
        &posts,
        "lon,lat\n113.883,22.573\n113.85,22.62\n113.83,22.70\n",
    )
    .unwrap();
    let printed = ok(twin(&[
        "sweep",
        s,
        "--seeds",
        "3",
        "--posts",
        posts.to_str().unwrap(),
        "--emit",
        "slurm",
        "--jobs",
        "2",
        "--out",
        slurm.to_str().unwrap(),
    ]));
    let script = std::fs::read_to_string(slurm.join("sweep.sbatch")).unwrap();
    assert!(printed.contains("sweep.sbatch"));
    assert!(script.contains("#SBATCH --array=0-2%2"), "{script}");
    assert!(script.contains("sweep-task"), "{script}");
    assert!(!slurm.join("runs/0000").exists(), "emitting runs nothing");
    // The list names its inputs inside the folder.
    let plan = json(&slurm.join("sweep.json"));
    let posts = plan["runs"][0]["posts"].as_str().unwrap();
    assert!(slurm.join(posts).exists(), "{posts}");
    assert!(slurm.join("inputs/scenario.toml").exists());

    let k8s = dir.join("k8s");
    ok(twin(&[
        "sweep",
        s,
        "--seeds",
        "4",
        "--emit",
        "k8s",
        "--jobs",
        "3",
        "--out",
        k8s.to_str().unwrap(),
    ]));
    let yaml = std::fs::read_to_string(k8s.join("sweep-job.yaml")).unwrap();
    for needle in [
        "kind: Job",
        "completionMode: Indexed",
        "completions: 4",
        "parallelism: 3",
        "args: [\"sweep-task\", \"/sweep\"]",
    ] {
        assert!(yaml.contains(needle), "{needle} in\n{yaml}");
    }
    let containerfile = std::fs::read_to_string(k8s.join("Containerfile")).unwrap();
    assert!(containerfile.contains("FROM scratch") && containerfile.contains("COPY twin /twin"));

    // A task runs its entry from the index the engine gives it.
    let task = Command::new(env!("CARGO_BIN_EXE_twin"))
        .args(["sweep-task", k8s.to_str().unwrap()])
        .env("JOB_COMPLETION_INDEX", "2")
        .output()
        .unwrap();
    assert_eq!(
        task.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&task.stderr)
    );
    assert_eq!(json(&k8s.join("runs/0002/run.json"))["seed"], 5);
    let err = refused(twin(&["sweep-task", k8s.to_str().unwrap(), "9"]));
    assert!(err.contains("index 9 is past the list's 4 runs"), "{err}");
}
