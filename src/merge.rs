//! `twin merge`: the shards of one run (`twin run --shard i/n`) as one report. Latency
//! histograms merge exactly, bucket by bucket; counts (`*.rejected`, `faults.*`) add up; series
//! sampled at the same times add up; a share or a score cannot be rebuilt from the shards'
//! values, so an SLO on one takes the worst shard's value and the merged report lists each
//! shard's.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use baoan_reports::{Metrics, SloResult, Summary, evaluate};
use baoan_scenarios::Scenario;
use serde::Serialize;
use serde_json::Value;

use crate::{MetricsFile, RunError};

/// The merged report (`report.json` in the output folder).
#[derive(Debug, Serialize)]
pub struct Merged {
    pub schema: &'static str,
    pub scenario: String,
    pub seed: u64,
    pub scale: f64,
    pub build: String,
    pub shards: Vec<String>,
    pub seconds: BTreeMap<String, Summary>,
    /// Counts, summed over the shards.
    pub counts: BTreeMap<String, f64>,
    /// Shares and scores, each shard's (in shard order): not summable.
    pub per_shard: BTreeMap<String, Vec<f64>>,
    pub slos: Vec<SloResult>,
    pub passed: bool,
}

/// A figure that adds up over shards (a count), as opposed to a share or a score.
fn summable(name: &str) -> bool {
    name.ends_with(".rejected") || name.starts_with("faults.")
}

struct Shard {
    dir: PathBuf,
    index: u32,
    count: u32,
    report: Value,
    scenario_toml: String,
    metrics: Metrics,
}

fn read_shard(dir: &Path) -> Result<Shard, RunError> {
    let read = |name: &str| -> Result<Value, RunError> {
        let path = dir.join(name);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            RunError::BadInput(format!(
                "{}: cannot read it ({e}); expected the output folder of `twin run --shard i/n`",
                path.display()
            ))
        })?;
        serde_json::from_str(&text).map_err(|e| {
            RunError::BadInput(format!(
                "{}:{}:{}: not JSON: {e}",
                path.display(),
                e.line(),
                e.column()
            ))
        })
    };
    let report = read("report.json")?;
    let file: MetricsFile = serde_json::from_value(read("metrics.json")?).map_err(|e| {
        RunError::BadInput(format!(
            "{}: not a twin metrics file: {e}",
            dir.join("metrics.json").display()
        ))
    })?;
    let Some(shard) = file.shard else {
        return Err(RunError::BadInput(format!(
            "{}: this run was not a shard (run it with `twin run --shard i/n`)",
            dir.display()
        )));
    };
    let metrics = Metrics::from_data(&file.metrics)
        .map_err(|e| RunError::BadInput(format!("{}: {e}", dir.join("metrics.json").display())))?;
    Ok(Shard {
        dir: dir.to_path_buf(),
        index: shard.index,
        count: shard.count,
        report,
        scenario_toml: file.scenario_toml,
        metrics,
    })
}

/// Merges the shards in `dirs` and writes `report.json` to `out`.
pub fn merge(dirs: &[PathBuf], out: &Path) -> Result<Merged, RunError> {
    if dirs.is_empty() {
        return Err(RunError::BadInput(
            "twin merge: give the shards' output folders".into(),
        ));
    }
    let mut shards = dirs
        .iter()
        .map(|d| read_shard(d))
        .collect::<Result<Vec<_>, _>>()?;
    shards.sort_by_key(|s| s.index);
    let first = &shards[0];
    for s in &shards[1..] {
        check_same_run(first, s)?;
    }
    check_every_shard_once(&shards)?;

    // The SLOs come from the scenario the shards ran.
    let scenario_file = first.report["scenario"]["file"]
        .as_str()
        .unwrap_or("scenario");
    let scenario = Scenario::parse(scenario_file, &first.scenario_toml)?;

    let (mut merged, per_shard) = add_up(&shards);
    take_worst_shard(&scenario, &per_shard, &mut merged);
    let slos = evaluate(&scenario.slos, &merged);
    let passed = slos.iter().all(|s| s.passed);
    let result = Merged {
        schema: "baoan-twin/merged-report/v1",
        scenario: scenario.name.clone(),
        seed: first.report["seed"].as_u64().unwrap_or(0),
        scale: first.report["scale"].as_f64().unwrap_or(0.0),
        build: first.report["build"].as_str().unwrap_or("").to_string(),
        shards: shards.iter().map(|s| s.dir.display().to_string()).collect(),
        seconds: merged
            .seconds
            .iter()
            .map(|(k, h)| (k.clone(), h.summary()))
            .collect(),
        counts: merged
            .figures
            .iter()
            .filter(|(k, _)| summable(k))
            .map(|(k, v)| (k.clone(), *v))
            .collect(),
        per_shard,
        slos,
        passed,
    };
    write_merged(&result, out)?;
    Ok(result)
}

/// That shard `s` is of the same run as the first: the same scenario as written (each shard
/// adds its own zero surges to what it runs), seed, scale, build and number of shards.
fn check_same_run(first: &Shard, s: &Shard) -> Result<(), RunError> {
    let same = |s: &Shard, key: &str| s.report.pointer(key) == first.report.pointer(key);
    for key in ["/scenario/name", "/seed", "/scale", "/build", ""] {
        let differs = if key.is_empty() {
            s.scenario_toml != first.scenario_toml
        } else {
            !same(s, key)
        };
        if differs {
            return Err(RunError::BadInput(format!(
                "{} and {}: `{}` differs; only shards of one run merge",
                first.dir.display(),
                s.dir.display(),
                if key.is_empty() {
                    "the scenario".to_string()
                } else {
                    key.trim_start_matches('/').replace('/', ".")
                }
            )));
        }
    }
    if s.count != first.count {
        return Err(RunError::BadInput(format!(
            "{} is shard {}/{} but {} is shard {}/{}",
            first.dir.display(),
            first.index,
            first.count,
            s.dir.display(),
            s.index,
            s.count
        )));
    }
    Ok(())
}

/// That the shards, sorted by index, are each of 1..=n exactly once.
fn check_every_shard_once(shards: &[Shard]) -> Result<(), RunError> {
    for w in shards.windows(2) {
        if w[0].index == w[1].index {
            return Err(RunError::BadInput(format!(
                "{} and {} are both shard {}/{}",
                w[0].dir.display(),
                w[1].dir.display(),
                w[0].index,
                w[0].count
            )));
        }
    }
    let first = &shards[0];
    let missing: Vec<String> = (1..=first.count)
        .filter(|i| !shards.iter().any(|s| s.index == *i))
        .map(|i| format!("{i}/{}", first.count))
        .collect();
    if !missing.is_empty() {
        return Err(RunError::BadInput(format!(
            "twin merge: shard {} missing; run it with `twin run --shard` and merge all {}",
            missing.join(", "),
            first.count
        )));
    }
    Ok(())
}

/// The shards' metrics as one run's: histograms and counts added up, series sampled at the
/// same times added up; with each shard's shares and scores, which do not add up.
fn add_up(shards: &[Shard]) -> (Metrics, BTreeMap<String, Vec<f64>>) {
    let mut merged = Metrics::default();
    let mut per_shard: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for s in shards {
        for (name, h) in &s.metrics.seconds {
            merged.hist(name).add(h);
        }
        for (name, v) in &s.metrics.figures {
            if summable(name) {
                *merged.figures.entry(name.clone()).or_insert(0.0) += v;
            } else {
                per_shard.entry(name.clone()).or_default().push(*v);
            }
        }
        for (name, points) in &s.metrics.series {
            match merged.series.get_mut(name) {
                None => {
                    merged.series.insert(name.clone(), points.clone());
                }
                Some(sum) if sum.len() == points.len() => {
                    for (a, b) in sum.iter_mut().zip(points) {
                        a.1 += b.1;
                    }
                }
                // Sampled at other times: not added up.
                Some(_) => {}
            }
        }
    }
    (merged, per_shard)
}

/// An SLO on a share takes the worst shard: the least for a lower bound, else the most.
fn take_worst_shard(
    scenario: &Scenario,
    per_shard: &BTreeMap<String, Vec<f64>>,
    merged: &mut Metrics,
) {
    for slo in &scenario.slos {
        if let Some(values) = per_shard.get(&slo.metric) {
            let worst = if slo.min.is_some() {
                values.iter().copied().fold(f64::INFINITY, f64::min)
            } else {
                values.iter().copied().fold(f64::NEG_INFINITY, f64::max)
            };
            merged.figures.insert(slo.metric.clone(), worst);
        }
    }
}

/// The merged report as `report.json` in `out`.
fn write_merged(result: &Merged, out: &Path) -> Result<(), RunError> {
    std::fs::create_dir_all(out).map_err(|e| {
        RunError::Harness(format!(
            "{}: cannot create the output folder: {e}",
            out.display()
        ))
    })?;
    let path = out.join("report.json");
    std::fs::write(
        &path,
        serde_json::to_string_pretty(result).expect("the merged report serialises") + "\n",
    )
    .map_err(|e| RunError::Harness(format!("{}: {e}", path.display())))
}
