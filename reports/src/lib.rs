//! What a run leaves behind for people and machines: metrics (HDR histograms, figures, series),
//! SLO evaluation, `report.json` (versioned, deterministic), `perf.json` (wall-clock figures,
//! kept apart so reports stay byte-identical), `index.html` (self-contained, plots as inline
//! SVG) and JUnit XML for CI.
//!
//! It depends only on `baoan-scenarios` (for SLO definitions); the loops hand it their sections.

pub mod html;
pub mod map;
pub mod metrics;
pub mod plot;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use baoan_scenarios::{Scenario, Slo};
use serde::Serialize;

pub use metrics::{Hist, HistData, Metrics, MetricsData, Summary, peak_rss_mib, round3};

/// Bumped whenever report.json changes shape.
pub const REPORT_SCHEMA: &str = "baoan-twin/report/v1";

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SloResult {
    pub metric: String,
    pub stat: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// What the run measured; `None` when it recorded nothing for the metric (a failure).
    pub value: Option<f64>,
    pub passed: bool,
}

/// Evaluate every SLO against the run's metrics. A metric with no data fails its SLO: a
/// threshold nobody could check is not a threshold met.
pub fn evaluate(slos: &[Slo], metrics: &Metrics) -> Vec<SloResult> {
    slos.iter()
        .map(|s| {
            let value = metrics.stat(&s.metric, &s.stat);
            let passed = value
                .is_some_and(|v| s.min.is_none_or(|lo| v >= lo) && s.max.is_none_or(|hi| v <= hi));
            SloResult {
                metric: s.metric.clone(),
                stat: s.stat.clone(),
                min: s.min,
                max: s.max,
                value: value.map(round3),
                passed,
            }
        })
        .collect()
}

/// A rule that must hold for every seed (nothing lost, verifier never the resolver, ...).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Invariant {
    pub name: String,
    pub holds: bool,
    pub detail: String,
}

impl Invariant {
    pub fn check(name: &str, holds: bool, detail: impl Into<String>) -> Invariant {
        Invariant {
            name: name.into(),
            holds,
            detail: detail.into(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ScenarioInfo {
    pub name: String,
    pub description: String,
    pub file: String,
    /// The scenario as run (after command-line overrides), so a report reproduces itself.
    pub toml: String,
}

/// Which district pack a report stands on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PackRef {
    pub name: String,
    pub hash: String,
}

/// The coordinate systems a run used.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Coordinates {
    pub datum: String,
    pub frame_origin: [f64; 2],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub posts_crs: Option<String>,
}

/// report.json: deterministic for a scenario, seed and build.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schema: &'static str,
    pub build: String,
    pub scenario: ScenarioInfo,
    pub seed: u64,
    pub scale: f64,
    pub duration_s: f64,
    pub tick_ms: u64,
    pub stack: String,
    /// The district pack the run used: its name and content hash (SHA-256 of its manifest and
    /// files), so every report says which data it stands on.
    pub pack: PackRef,
    /// The datums: every lon/lat the twin writes is WGS-84, about this frame origin; and the
    /// datum a planner's posts file was read in, when the run had one.
    pub coordinates: Coordinates,
    /// The assumptions this run moved off their defaults (`twin assumptions` lists them all).
    pub assumptions: Vec<baoan_scenarios::assumptions::ChangedAssumption>,
    /// One section per subject (district, grid loop ...), in name order.
    pub sections: BTreeMap<String, serde_json::Value>,
    pub slos: Vec<SloResult>,
    pub invariants: Vec<Invariant>,
    pub passed: bool,
    /// The command that reproduces this run.
    pub reproduce: String,
}

impl Report {
    pub fn new(scenario: &Scenario, stack: &str, build: &str, reproduce: String) -> Report {
        Report {
            schema: REPORT_SCHEMA,
            build: build.into(),
            scenario: ScenarioInfo {
                name: scenario.name.clone(),
                description: scenario.description.clone(),
                file: scenario.source.file.clone(),
                toml: scenario.to_toml(),
            },
            seed: scenario.seed,
            scale: scenario.scale,
            duration_s: scenario.duration.as_secs_f64(),
            tick_ms: scenario.tick.ms(),
            stack: stack.into(),
            pack: PackRef::default(),
            coordinates: Coordinates::default(),
            assumptions: scenario.changed_assumptions(),
            sections: BTreeMap::new(),
            slos: Vec::new(),
            invariants: Vec::new(),
            passed: false,
            reproduce,
        }
    }

    pub fn section(&mut self, name: &str, value: impl Serialize) {
        self.sections.insert(
            name.into(),
            serde_json::to_value(value).expect("sections serialise"),
        );
    }

    /// Settle the verdict: every SLO met and every invariant held.
    pub fn conclude(&mut self, slos: Vec<SloResult>, invariants: Vec<Invariant>) {
        self.passed = slos.iter().all(|s| s.passed) && invariants.iter().all(|i| i.holds);
        self.slos = slos;
        self.invariants = invariants;
    }

    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("reports serialise");
        s.push('\n');
        s
    }

    pub fn write_json(&self, dir: &Path) -> std::io::Result<()> {
        fs::write(dir.join("report.json"), self.to_json())
    }

    /// JUnit XML: one test case per SLO and per invariant, so CI can show which one failed.
    pub fn junit(&self) -> String {
        let mut cases = String::new();
        let mut failures = 0;
        for s in &self.slos {
            let name = format!("slo {} {} {}", s.metric, s.stat, bounds(s));
            let failure = (!s.passed).then(|| {
                format!(
                    "measured {}",
                    s.value.map_or("no data".into(), |v| v.to_string())
                )
            });
            failures += failure.is_some() as usize;
            cases.push_str(&case(&self.scenario.name, &name, failure.as_deref()));
        }
        for i in &self.invariants {
            let failure = (!i.holds).then_some(i.detail.as_str());
            failures += failure.is_some() as usize;
            cases.push_str(&case(
                &self.scenario.name,
                &format!("invariant {}", i.name),
                failure,
            ));
        }
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuite name=\"baoan-twin.{}\" tests=\"{}\" failures=\"{failures}\">\n{cases}</testsuite>\n",
            xml(&self.scenario.name),
            self.slos.len() + self.invariants.len()
        )
    }
}

fn bounds(s: &SloResult) -> String {
    match (s.min, s.max) {
        (Some(lo), Some(hi)) => format!("in [{lo}, {hi}]"),
        (Some(lo), None) => format!(">= {lo}"),
        (None, Some(hi)) => format!("<= {hi}"),
        (None, None) => String::new(),
    }
}

pub fn slo_bounds(s: &SloResult) -> String {
    bounds(s)
}

fn case(suite: &str, name: &str, failure: Option<&str>) -> String {
    match failure {
        None => format!(
            "  <testcase classname=\"{}\" name=\"{}\"/>\n",
            xml(suite),
            xml(name)
        ),
        Some(f) => format!(
            "  <testcase classname=\"{}\" name=\"{}\"><failure message=\"{}\"/></testcase>\n",
            xml(suite),
            xml(name),
            xml(f)
        ),
    }
}

pub fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slo(metric: &str, stat: &str, min: Option<f64>, max: Option<f64>) -> Slo {
        Slo {
            metric: metric.into(),
            stat: stat.into(),
            min,
            max,
        }
    }

    #[test]
    fn slos_pass_within_bounds_and_fail_without_data() {
        let mut m = Metrics::default();
        m.hist("grid.report_to_closed_s").record_ms(10_000);
        m.set("grid.overdue_share", 0.2);
        let r = evaluate(
            &[
                slo("grid.report_to_closed_s", "p90", None, Some(20.0)),
                slo("grid.overdue_share", "value", None, Some(0.1)),
                slo("grid.detection_s", "p50", None, Some(1.0)),
                slo("grid.overdue_share", "value", Some(0.1), Some(0.3)),
            ],
            &m,
        );
        assert_eq!(
            r.iter().map(|s| s.passed).collect::<Vec<_>>(),
            vec![true, false, false, true]
        );
        assert_eq!(r[2].value, None);
    }

    #[test]
    fn junit_names_each_failure() {
        let scenario = Scenario::parse("s.toml", "name = \"s\"\nduration = \"1h\"\n").unwrap();
        let mut report = Report::new(&scenario, "in-process", "test", "twin run s.toml".into());
        report.conclude(
            vec![SloResult {
                metric: "m".into(),
                stat: "p90".into(),
                min: None,
                max: Some(1.0),
                value: Some(2.0),
                passed: false,
            }],
            vec![Invariant::check("nothing lost", true, "")],
        );
        let x = report.junit();
        assert!(x.contains("tests=\"2\" failures=\"1\""), "{x}");
        assert!(x.contains("<failure message=\"measured 2\"/>"));
        assert!(!report.passed);
    }
}
