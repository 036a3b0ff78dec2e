//! `twin summarize`: what a sweep says, with how sure it is.
//!
//! Per setting and metric the mean, standard deviation and 95% interval over seeds; between
//! settings the paired difference seed by seed (the sweep runs every setting on the same seeds,
//! so chance common to both cancels); and for every assumption varied alone, how far it moves
//! each headline figure (the tornado plot). Written to `summary.json` and a page of plots.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use baoan_reports::html::{Section, Table, section_html, standalone};
use baoan_reports::plot::{RangeRow, ranges_svg};
use baoan_reports::{Metrics, xml};
use baoan_scenarios::{METRICS, MetricKind};
use serde::Serialize;

use crate::sweep::{RunRecord, finished_runs, read_json, read_plan};
use crate::{MetricsFile, RunError};

pub const SUMMARY_FORMAT: &str = "baoan-twin/summary/v1";

/// The figures a reader asks of a sweep first: the 1-3-5 compliance by tier, the closed loops'
/// p90s, harm prevented, the matcher's miss rate and the linkage's F1. Keys as in summary.json.
pub const HEADLINE: &[(&str, &str)] = &[
    (
        "command.volunteer.within_limit_share",
        "volunteers within 1 min",
    ),
    (
        "command.auxiliary_police.within_limit_share",
        "auxiliary police within 3 min",
    ),
    ("command.police.within_limit_share", "police within 5 min"),
    (
        "command.key_area.police.within_limit_share",
        "police within 5 min, key areas",
    ),
    (
        "command.all_tiers_within_limit_share",
        "all three tiers within limits",
    ),
    ("command.call_to_dispatch_s.p90", "call to dispatch p90 (s)"),
    (
        "grid.report_to_closed_s.p90",
        "grid report to closed p90 (s)",
    ),
    (
        "matcher.alert_to_confirmed_s.p90",
        "alert to confirmed p90 (s)",
    ),
    (
        "matcher.alert_to_arrival_s.p90",
        "alert to police arrival p90 (s)",
    ),
    (
        "cases.first_action_s.p90",
        "dispute to first action p90 (s)",
    ),
    ("cases.escalations_prevented", "dispute violence prevented"),
    (
        "key_persons.prevented_share",
        "key persons' harm prevented (share)",
    ),
    ("matcher.fnir", "matcher FNIR"),
    ("blocks.person_f1", "person linkage F1"),
];

/// Mean, spread and 95% interval of a sample.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Stats {
    pub n: usize,
    pub mean: f64,
    pub sd: f64,
    pub ci95_low: f64,
    pub ci95_high: f64,
}

/// Student's t at 0.975 for 1..=30 degrees of freedom (the usual table); beyond, the
/// Cornish–Fisher expansion about the normal quantile, within 0.001 of the exact value. One
/// quantile is all the summary needs, so a table rather than a statistics crate.
fn t975(df: usize) -> f64 {
    const TABLE: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
        2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
        2.052, 2.048, 2.045, 2.042,
    ];
    match df {
        0 => f64::NAN,
        1..=30 => TABLE[df - 1],
        _ => {
            let z = 1.959_964f64;
            let d = df as f64;
            z + (z.powi(3) + z) / (4.0 * d)
                + (5.0 * z.powi(5) + 16.0 * z.powi(3) + 3.0 * z) / (96.0 * d * d)
        }
    }
}

fn round6(x: f64) -> f64 {
    if x.is_finite() {
        let scale = 10f64.powi(6 - x.abs().max(1e-12).log10().ceil() as i32);
        (x * scale).round() / scale
    } else {
        x
    }
}

impl Stats {
    /// With one value the spread and interval are unknown (NaN, written as null).
    pub fn of(values: &[f64]) -> Stats {
        let n = values.len();
        let mean = values.iter().sum::<f64>() / n as f64;
        let sd = if n > 1 {
            (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt()
        } else {
            f64::NAN
        };
        let half = t975(n.saturating_sub(1)) * sd / (n as f64).sqrt();
        Stats {
            n,
            mean: round6(mean),
            sd: round6(sd),
            ci95_low: round6(mean - half),
            ci95_high: round6(mean + half),
        }
    }

    pub fn half_width(&self) -> f64 {
        (self.ci95_high - self.ci95_low) / 2.0
    }
}

/// One run's figures: every catalogue metric's usual statistics, by key.
fn figures_of(metrics: &Metrics) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for m in METRICS {
        let stats: &[&str] = match m.kind {
            MetricKind::Seconds => &["p50", "p90", "mean"],
            MetricKind::Figure => &["value"],
            MetricKind::Series => &["max"],
        };
        for stat in stats {
            if let Some(v) = metrics.stat(m.name, stat).filter(|v| v.is_finite()) {
                let key = if *stat == "value" {
                    m.name.to_string()
                } else {
                    format!("{}.{stat}", m.name)
                };
                out.insert(key, v);
            }
        }
    }
    out
}

/// A finished run with its figures and its SLOs' verdicts.
struct Run {
    record: RunRecord,
    dir: PathBuf,
    figures: BTreeMap<String, f64>,
    slos: Vec<(String, bool)>,
}

/// The SLOs a run's report judged, as "metric stat ≥ min ≤ max", with their verdicts.
fn slos_of(dir: &Path) -> Result<Vec<(String, bool)>, RunError> {
    let report: serde_json::Value = read_json(&dir.join("report.json"))?;
    Ok(report["slos"]
        .as_array()
        .map(|slos| {
            slos.iter()
                .map(|s| {
                    let mut label = format!(
                        "{} {}",
                        s["metric"].as_str().unwrap_or("?"),
                        s["stat"].as_str().unwrap_or("?")
                    );
                    if let Some(min) = s["min"].as_f64() {
                        label += &format!(" ≥ {min}");
                    }
                    if let Some(max) = s["max"].as_f64() {
                        label += &format!(" ≤ {max}");
                    }
                    (label, s["passed"].as_bool().unwrap_or(false))
                })
                .collect()
        })
        .unwrap_or_default())
}

fn load_run(record: RunRecord, dir: PathBuf) -> Result<Run, RunError> {
    let path = dir.join("metrics.json");
    let file: MetricsFile = read_json(&path)?;
    let metrics = Metrics::from_data(&file.metrics)
        .map_err(|e| RunError::BadInput(format!("{}: {e}", path.display())))?;
    Ok(Run {
        record,
        slos: slos_of(&dir)?,
        dir,
        figures: figures_of(&metrics),
    })
}

/// Runs that do not belong together are refused, naming one folder of each kind.
fn check_one_kind(runs: &[Run]) -> Result<(), RunError> {
    let checks: [(&str, fn(&RunRecord) -> String); 3] = [
        ("builds", |r| r.build_sha256.clone()),
        ("district packs", |r| {
            format!("{} {}", r.pack, r.pack_sha256)
        }),
        ("scenarios", |r| {
            format!("{} {}", r.scenario_name, r.scenario_sha256)
        }),
    ];
    for (what, key) in checks {
        let mut first: BTreeMap<String, &Path> = BTreeMap::new();
        for r in runs {
            first.entry(key(&r.record)).or_insert(&r.dir);
        }
        if first.len() > 1 {
            let list: Vec<String> = first
                .iter()
                .map(|(k, d)| format!("{} ({})", d.display(), short(k)))
                .collect();
            return Err(RunError::BadInput(format!(
                "these runs come from different {what}: {}; summarize runs of one {} together",
                list.join(" and "),
                what.trim_end_matches('s')
            )));
        }
    }
    Ok(())
}

fn short(key: &str) -> String {
    key.split(' ')
        .map(|w| {
            if w.len() == 64 {
                format!("{}…", &w[..12])
            } else {
                w.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// One setting's figures over its seeds.
#[derive(Debug, Clone, Serialize)]
pub struct SettingSummary {
    pub setting: String,
    /// The assumption this setting varies alone, and its value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vary: Option<(String, f64)>,
    pub seeds: Vec<u64>,
    /// Runs whose SLOs did not all hold.
    pub failed_slos: usize,
    /// Each SLO of the scenario: on how many of the seeds it was met. A gate met on some seeds
    /// and missed on others is a coin the scenario's one seed tosses.
    pub slos: Vec<SloOverSeeds>,
    pub metrics: BTreeMap<String, Stats>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SloOverSeeds {
    pub slo: String,
    pub met: usize,
    pub of: usize,
}

/// A setting against the reference, seed by seed.
#[derive(Debug, Clone, Serialize)]
pub struct Paired {
    pub a: String,
    pub b: String,
    /// b − a over the seeds both ran.
    pub metrics: BTreeMap<String, Stats>,
}

/// How far one varied assumption moves a figure: its mean at the lowest and highest value,
/// and the paired difference (highest − lowest) with its interval.
#[derive(Debug, Clone, Serialize)]
pub struct Effect {
    pub assumption: String,
    pub low: f64,
    pub high: f64,
    pub at_low: f64,
    pub at_high: f64,
    pub effect: Stats,
}

#[derive(Debug, Clone, Serialize)]
pub struct Sensitivity {
    pub metric: String,
    pub label: String,
    /// The reference setting's mean.
    pub base: f64,
    /// Largest |effect| first.
    pub by_assumption: Vec<Effect>,
}

/// summary.json.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub format: &'static str,
    pub scenario: String,
    pub scenario_sha256: String,
    pub build: String,
    pub build_sha256: String,
    pub pack: String,
    pub pack_sha256: String,
    pub runs: usize,
    /// The seed the districts were built with, when every run had the same one; absent when
    /// each seed built its own (`twin sweep --vary-district`).
    pub district_seed: Option<u64>,
    /// Listed runs with no result (not run yet, or failed): left out of every figure.
    pub missing: Vec<String>,
    pub settings: Vec<SettingSummary>,
    pub paired: Vec<Paired>,
    pub sensitivity: Vec<Sensitivity>,
}

/// `twin summarize DIR…`: write summary.json and the page, print the headline figures.
pub fn summarize(dirs: &[PathBuf], out: Option<&Path>) -> Result<u8, RunError> {
    let (summary, out) = summarize_dirs(dirs, out)?;
    print_headline(&summary);
    for m in &summary.missing {
        eprintln!("twin: warning: {m} has no result and is left out");
    }
    println!("summary: {}", out.join("summary.json").display());
    println!("report: {}", out.join("index.html").display());
    Ok(0)
}

/// Read the sweeps' finished runs, refuse a mix, and write summary.json and index.html into
/// `out` (default: the first folder). Returns the summary and where it went.
pub fn summarize_dirs(
    dirs: &[PathBuf],
    out: Option<&Path>,
) -> Result<(Summary, PathBuf), RunError> {
    let mut runs = Vec::new();
    let mut missing = Vec::new();
    for dir in dirs {
        let plan = read_plan(dir)?;
        let (done, absent) = finished_runs(dir, &plan)?;
        for (record, run_dir) in done {
            runs.push(load_run(record, run_dir)?);
        }
        missing.extend(
            absent
                .into_iter()
                .map(|i| dir.join(&plan.runs[i].dir).display().to_string()),
        );
    }
    if runs.is_empty() {
        return Err(RunError::BadInput(format!(
            "no finished runs in {}",
            dirs.iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    check_one_kind(&runs)?;
    let summary = summary_of(&runs, missing);
    let out = out.map_or_else(|| dirs[0].clone(), Path::to_path_buf);
    std::fs::create_dir_all(&out)
        .map_err(|e| RunError::Harness(format!("{}: {e}", out.display())))?;
    let write = |name: &str, text: String| {
        let path = out.join(name);
        std::fs::write(&path, text)
            .map_err(|e| RunError::Harness(format!("{}: {e}", path.display())))
    };
    write(
        "summary.json",
        serde_json::to_string_pretty(&summary).expect("the summary serialises") + "\n",
    )?;
    write("index.html", page(&summary)?)?;
    Ok((summary, out))
}

fn summary_of(runs: &[Run], missing: Vec<String>) -> Summary {
    // Settings in the order the sweep listed them.
    let mut order: Vec<String> = Vec::new();
    let mut by_setting: BTreeMap<String, Vec<&Run>> = BTreeMap::new();
    let mut sorted: Vec<&Run> = runs.iter().collect();
    sorted.sort_by_key(|r| (r.record.spec.index, r.dir.clone()));
    for r in sorted {
        let s = &r.record.spec.setting;
        if !by_setting.contains_key(s) {
            order.push(s.clone());
        }
        by_setting.entry(s.clone()).or_default().push(r);
    }
    let settings: Vec<SettingSummary> = order
        .iter()
        .map(|s| setting_summary(s, &by_setting[s]))
        .collect();
    let plain: Vec<&String> = order
        .iter()
        .filter(|s| by_setting[*s][0].record.spec.vary.is_none())
        .collect();
    let paired = match plain.split_first() {
        Some((reference, others)) => others
            .iter()
            .map(|b| Paired {
                a: (*reference).clone(),
                b: (*b).clone(),
                metrics: paired_stats(&by_setting[*reference], &by_setting[*b]),
            })
            .collect(),
        None => Vec::new(),
    };
    let first = &runs[0].record;
    Summary {
        format: SUMMARY_FORMAT,
        scenario: first.scenario_name.clone(),
        scenario_sha256: first.scenario_sha256.clone(),
        build: first.build.clone(),
        build_sha256: first.build_sha256.clone(),
        pack: first.pack.clone(),
        pack_sha256: first.pack_sha256.clone(),
        runs: runs.len(),
        district_seed: runs
            .iter()
            .all(|r| r.record.district_seed == first.district_seed)
            .then_some(first.district_seed),
        missing,
        sensitivity: sensitivity(&settings, &by_setting),
        settings,
        paired,
    }
}

fn setting_summary(setting: &str, runs: &[&Run]) -> SettingSummary {
    let keys: BTreeSet<&String> = runs.iter().flat_map(|r| r.figures.keys()).collect();
    SettingSummary {
        setting: setting.to_string(),
        vary: runs[0].record.spec.vary.clone(),
        seeds: runs.iter().map(|r| r.record.spec.seed).collect(),
        failed_slos: runs.iter().filter(|r| !r.record.passed).count(),
        slos: slos_over_seeds(runs),
        metrics: keys
            .into_iter()
            .map(|k| {
                let values: Vec<f64> = runs
                    .iter()
                    .filter_map(|r| r.figures.get(k).copied())
                    .collect();
                (k.clone(), Stats::of(&values))
            })
            .collect(),
    }
}

fn slos_over_seeds(runs: &[&Run]) -> Vec<SloOverSeeds> {
    let mut order: Vec<&String> = Vec::new();
    let mut tally: BTreeMap<&String, (usize, usize)> = BTreeMap::new();
    for r in runs {
        for (slo, met) in &r.slos {
            let t = tally.entry(slo).or_insert_with(|| {
                order.push(slo);
                (0, 0)
            });
            t.0 += usize::from(*met);
            t.1 += 1;
        }
    }
    order
        .into_iter()
        .map(|slo| SloOverSeeds {
            slo: slo.clone(),
            met: tally[slo].0,
            of: tally[slo].1,
        })
        .collect()
}

/// b − a for every figure both have, over the seeds both ran.
fn paired_stats(a: &[&Run], b: &[&Run]) -> BTreeMap<String, Stats> {
    let by_seed = |runs: &[&Run]| -> BTreeMap<u64, BTreeMap<String, f64>> {
        runs.iter()
            .map(|r| (r.record.spec.seed, r.figures.clone()))
            .collect()
    };
    let (a, b) = (by_seed(a), by_seed(b));
    let mut diffs: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for (seed, fa) in &a {
        let Some(fb) = b.get(seed) else { continue };
        for (k, va) in fa {
            if let Some(vb) = fb.get(k) {
                diffs.entry(k.clone()).or_default().push(vb - va);
            }
        }
    }
    diffs.into_iter().map(|(k, d)| (k, Stats::of(&d))).collect()
}

/// For each headline figure, each varied assumption's effect (its highest point against its
/// lowest, seed by seed), largest first.
fn sensitivity(
    settings: &[SettingSummary],
    by_setting: &BTreeMap<String, Vec<&Run>>,
) -> Vec<Sensitivity> {
    // Each varied assumption's settings, lowest value first.
    let mut varied: BTreeMap<String, Vec<(f64, &String)>> = BTreeMap::new();
    for s in settings {
        if let Some((name, v)) = &s.vary {
            varied
                .entry(name.clone())
                .or_default()
                .push((*v, &s.setting));
        }
    }
    if varied.is_empty() {
        return Vec::new();
    }
    for points in varied.values_mut() {
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    // A setting's mean of a figure, from its summary; the first setting not varying anything
    // is the base the tornado's line marks.
    let mean_of = |setting: &str, key: &str| {
        settings
            .iter()
            .find(|x| x.setting == setting)
            .and_then(|x| x.metrics.get(key))
            .map_or(f64::NAN, |m| m.mean)
    };
    let base = settings.iter().find(|s| s.vary.is_none());
    HEADLINE
        .iter()
        .filter_map(|&(key, label)| {
            let mut effects: Vec<Effect> = varied
                .iter()
                .filter_map(|(name, points)| {
                    let (lo, lo_s) = points.first()?;
                    let (hi, hi_s) = points.last()?;
                    let d = paired_stats(&by_setting[*lo_s], &by_setting[*hi_s]);
                    let effect = *d.get(key)?;
                    Some(Effect {
                        assumption: name.clone(),
                        low: *lo,
                        high: *hi,
                        at_low: mean_of(lo_s, key),
                        at_high: mean_of(hi_s, key),
                        effect,
                    })
                })
                .collect();
            if effects.is_empty() {
                return None;
            }
            effects.sort_by(|a, b| {
                b.effect
                    .mean
                    .abs()
                    .total_cmp(&a.effect.mean.abs())
                    .then(a.assumption.cmp(&b.assumption))
            });
            Some(Sensitivity {
                metric: key.to_string(),
                label: label.to_string(),
                base: base.map_or(f64::NAN, |b| mean_of(&b.setting, key)),
                by_assumption: effects,
            })
        })
        .collect()
}

fn fmt(v: f64) -> String {
    if !v.is_finite() {
        "n/a".into()
    } else if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.4}")
    }
}

fn interval(s: &Stats) -> String {
    if s.n < 2 {
        format!("{} (one run)", fmt(s.mean))
    } else {
        format!(
            "{} [{}, {}]",
            fmt(s.mean),
            fmt(s.ci95_low),
            fmt(s.ci95_high)
        )
    }
}

fn print_headline(summary: &Summary) {
    println!(
        "{}: {} runs, {} settings (mean [95% interval] over seeds)",
        summary.scenario,
        summary.runs,
        summary.settings.len()
    );
    for s in summary.settings.iter().filter(|s| s.vary.is_none()) {
        println!("  {} ({} seeds)", s.setting, s.seeds.len());
        for slo in s.slos.iter().filter(|x| x.met < x.of) {
            println!("    SLO {} met on {} of {} seeds", slo.slo, slo.met, slo.of);
        }
        for (key, label) in HEADLINE {
            if let Some(m) = s.metrics.get(*key) {
                println!("    {label:38} {}", interval(m));
            }
        }
    }
    for p in &summary.paired {
        println!("  {} − {} (paired by seed)", p.b, p.a);
        for (key, label) in HEADLINE {
            if let Some(m) = p.metrics.get(*key) {
                println!("    {label:38} {}", interval(m));
            }
        }
    }
}

fn plot(svg: Result<String, baoan_reports::plot::PlotError>) -> Result<String, RunError> {
    svg.map_err(|e| RunError::Harness(e.to_string()))
}

fn page(summary: &Summary) -> Result<String, RunError> {
    let district = summary
        .district_seed
        .map_or("each seed its own district".to_string(), |d| {
            format!("one district (seed {d}), the seeds vary the day")
        });
    let mut body = format!(
        "<h1>Sweep of {}</h1>\n<p class=\"sub\">{} runs · {} settings · build {}… · pack {} · \
         {district} · means with 95% intervals over seeds (Student's t); synthetic</p>\n",
        xml(&summary.scenario),
        summary.runs,
        summary.settings.len(),
        &summary.build_sha256[..12.min(summary.build_sha256.len())],
        xml(&summary.pack),
    );
    if !summary.missing.is_empty() {
        body += &format!(
            "<p class=\"fail\">{} listed runs have no result and are left out: {}</p>\n",
            summary.missing.len(),
            xml(&summary.missing.join(", "))
        );
    }
    for section in [
        headline_section(summary)?,
        paired_section(summary)?,
        sensitivity_section(summary)?,
    ] {
        if !(section.tables.is_empty() && section.figures.is_empty()) {
            body += &section_html(&section);
        }
    }
    body += &section_html(&all_metrics_section(summary));
    Ok(standalone(&format!("Sweep of {}", summary.scenario), &body))
}

/// A row of an interval plot: the 95% interval with the mean marked.
fn interval_row(label: &str, m: &Stats) -> RangeRow {
    RangeRow {
        label: label.to_string(),
        lo: m.ci95_low,
        hi: m.ci95_high,
        mark: Some(m.mean),
    }
}

fn headline_section(summary: &Summary) -> Result<Section, RunError> {
    let plain: Vec<&SettingSummary> = summary
        .settings
        .iter()
        .filter(|s| s.vary.is_none())
        .collect();
    let mut rows = Vec::new();
    let mut figures = Vec::new();
    for (key, label) in HEADLINE {
        let present: Vec<(&SettingSummary, &Stats)> = plain
            .iter()
            .filter_map(|s| s.metrics.get(*key).map(|m| (*s, m)))
            .collect();
        for (s, m) in &present {
            rows.push(vec![
                label.to_string(),
                s.setting.clone(),
                interval(m),
                fmt(m.sd),
                fmt(m.half_width()),
                m.n.to_string(),
            ]);
        }
        if !present.is_empty() {
            let ranges: Vec<RangeRow> = present
                .iter()
                .map(|(s, m)| interval_row(&s.setting, m))
                .collect();
            figures.push(plot(ranges_svg(
                label,
                "mean and 95% interval over seeds",
                &ranges,
                None,
                false,
            ))?);
        }
    }
    let slo_rows: Vec<Vec<String>> = plain
        .iter()
        .flat_map(|s| {
            s.slos.iter().map(|x| {
                vec![
                    x.slo.clone(),
                    s.setting.clone(),
                    format!("{} of {}", x.met, x.of),
                ]
            })
        })
        .collect();
    let mut tables = vec![Table {
        caption: "Mean [95% interval], standard deviation, half-width, runs".into(),
        header: [
            "figure",
            "setting",
            "mean [95% interval]",
            "sd",
            "± half-width",
            "n",
        ]
        .map(String::from)
        .to_vec(),
        rows,
    }];
    if !slo_rows.is_empty() {
        tables.push(Table {
            caption: "The scenario's SLOs: met on how many seeds".into(),
            header: ["SLO", "setting", "met"].map(String::from).to_vec(),
            rows: slo_rows,
        });
    }
    Ok(Section {
        title: "Headline figures by setting".into(),
        intro: "Each setting ran on the same seeds. The interval is where the mean over many more \
                seeds would lie, 19 times in 20; a figure whose intervals overlap across settings \
                has not been shown to differ by these runs (the paired differences below are \
                sharper)."
            .into(),
        tables,
        figures,
    })
}

fn paired_section(summary: &Summary) -> Result<Section, RunError> {
    let mut rows = Vec::new();
    let mut figures = Vec::new();
    for (key, label) in HEADLINE {
        let present: Vec<(&Paired, &Stats)> = summary
            .paired
            .iter()
            .filter_map(|p| p.metrics.get(*key).map(|m| (p, m)))
            .collect();
        for (p, m) in &present {
            let verdict = if m.ci95_low > 0.0 {
                "higher"
            } else if m.ci95_high < 0.0 {
                "lower"
            } else {
                "not shown to differ"
            };
            rows.push(vec![
                label.to_string(),
                format!("{} − {}", p.b, p.a),
                interval(m),
                verdict.to_string(),
                m.n.to_string(),
            ]);
        }
        if !present.is_empty() {
            let ranges: Vec<RangeRow> =
                present.iter().map(|(p, m)| interval_row(&p.b, m)).collect();
            figures.push(plot(ranges_svg(
                &format!("{label}: difference from {}", present[0].0.a),
                "paired difference, 95% interval",
                &ranges,
                Some(0.0),
                false,
            ))?);
        }
    }
    if rows.is_empty() {
        return Ok(Section::default());
    }
    Ok(Section {
        title: "Paired differences".into(),
        intro: "Each setting against the first, seed by seed on common random numbers: the same \
                emergencies, items and people in both, so the difference is the setting's."
            .into(),
        tables: vec![Table {
            caption: "Difference (b − a) [95% interval]".into(),
            header: [
                "figure",
                "b − a",
                "difference [95% interval]",
                "verdict",
                "seeds",
            ]
            .map(String::from)
            .to_vec(),
            rows,
        }],
        figures,
    })
}

fn sensitivity_section(summary: &Summary) -> Result<Section, RunError> {
    let mut tables = Vec::new();
    let mut figures = Vec::new();
    for s in &summary.sensitivity {
        let ranges: Vec<RangeRow> = s
            .by_assumption
            .iter()
            .map(|e| RangeRow {
                label: format!("{} {}..{}", e.assumption, e.low, e.high),
                lo: e.at_low,
                hi: e.at_high,
                mark: None,
            })
            .collect();
        figures.push(plot(ranges_svg(
            &format!("{}: what moves it most", s.label),
            "mean at the assumption's low value → high value (blue: rises, orange: falls)",
            &ranges,
            Some(s.base),
            true,
        ))?);
        tables.push(Table {
            caption: format!("{} (base {})", s.label, fmt(s.base)),
            header: [
                "assumption",
                "low → high",
                "at low",
                "at high",
                "effect [95% interval]",
            ]
            .map(String::from)
            .to_vec(),
            rows: s
                .by_assumption
                .iter()
                .map(|e| {
                    vec![
                        e.assumption.clone(),
                        format!("{} → {}", e.low, e.high),
                        fmt(e.at_low),
                        fmt(e.at_high),
                        interval(&e.effect),
                    ]
                })
                .collect(),
        });
    }
    if figures.is_empty() {
        return Ok(Section::default());
    }
    Ok(Section {
        title: "Sensitivity: which assumption moves each headline figure most".into(),
        intro: "Each varied assumption alone, from the first setting, at its low and high value \
                on the same seeds; the line is the first setting's mean."
            .into(),
        tables,
        figures,
    })
}

fn all_metrics_section(summary: &Summary) -> Section {
    let header: Vec<String> = std::iter::once("metric".to_string())
        .chain(
            summary
                .settings
                .iter()
                .filter(|s| s.vary.is_none())
                .map(|s| s.setting.clone()),
        )
        .collect();
    let plain: Vec<&SettingSummary> = summary
        .settings
        .iter()
        .filter(|s| s.vary.is_none())
        .collect();
    let keys: BTreeSet<&String> = plain.iter().flat_map(|s| s.metrics.keys()).collect();
    Section {
        title: "Every metric".into(),
        intro: "Mean [95% interval] over seeds, per setting.".into(),
        tables: vec![Table {
            caption: String::new(),
            header,
            rows: keys
                .into_iter()
                .map(|k| {
                    std::iter::once(k.clone())
                        .chain(
                            plain
                                .iter()
                                .map(|s| s.metrics.get(k).map_or("—".into(), interval)),
                        )
                        .collect()
                })
                .collect(),
        }],
        figures: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_follow_students_t() {
        // Five values: mean 3, sd sqrt(2.5); half-width t(4) · sd / sqrt(5) = 2.776 · 0.7071.
        let s = Stats::of(&[1.0, 2.0, 3.0, 4.0, 5.0]);
        assert_eq!(s.mean, 3.0);
        assert!((s.sd - 2.5f64.sqrt()).abs() < 1e-5);
        assert!((s.half_width() - 2.776 * 0.707_107).abs() < 1e-4, "{s:?}");
        let one = Stats::of(&[7.0]);
        assert_eq!(one.mean, 7.0);
        assert!(one.sd.is_nan() && one.ci95_low.is_nan());
        // The expansion beyond the table meets it at 30 and tends to the normal quantile.
        assert!((t975(31) - 2.040).abs() < 0.001, "{}", t975(31));
        assert!((t975(120) - 1.980).abs() < 0.001, "{}", t975(120));
        assert!(t975(31) < t975(30));
    }
}
