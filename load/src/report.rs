//! What a knee search or a soak leaves in a directory: the results as JSON, an SVG plot and a
//! small page showing both.

use std::path::{Path, PathBuf};

use crate::LoadError;
use crate::knee::{KneeResult, KneeStop};
use crate::plot::{knee_svg, soak_svg};
use crate::soak::SoakResult;

/// The files a report wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportFiles {
    pub json: PathBuf,
    pub svg: PathBuf,
    pub html: PathBuf,
}

fn write(path: &Path, text: &str) -> Result<(), LoadError> {
    std::fs::write(path, text).map_err(|source| LoadError::Write {
        path: path.to_path_buf(),
        source,
    })
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn page(title: &str, facts: &[(String, String)], svg: &str, json: &str) -> String {
    let rows: String = facts
        .iter()
        .map(|(k, v)| format!("<tr><th>{}</th><td>{}</td></tr>\n", escape(k), escape(v)))
        .collect();
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title>\n\
         <style>body{{font-family:sans-serif;margin:2em;color:#222}}th{{text-align:left;\
         padding-right:1.5em;font-weight:normal;color:#666}}img{{max-width:100%}}</style></head>\n\
         <body><h1>{t}</h1>\n<table>\n{rows}</table>\n<p><img src=\"{svg}\" alt=\"plot\"></p>\n\
         <p>All figures: <a href=\"{json}\">{json}</a></p></body></html>\n",
        t = escape(title),
    )
}

fn ms(v: f64) -> String {
    format!("{v:.2} ms")
}

/// Writes `load.json`, `knee.svg` and `index.html` into `dir` (created if missing).
pub fn write_knee_report(dir: &Path, result: &KneeResult) -> Result<ReportFiles, LoadError> {
    create(dir)?;
    let files = ReportFiles {
        json: dir.join("load.json"),
        svg: dir.join("knee.svg"),
        html: dir.join("index.html"),
    };
    write(&files.json, &serde_json::to_string_pretty(result)?)?;
    let svg = knee_svg(result).map_err(|message| LoadError::Plot {
        what: "knee",
        message,
    })?;
    write(&files.svg, &svg)?;
    let knee = match (result.knee_rate, result.stop) {
        (Some(k), KneeStop::MaxRateReached) => {
            format!("above {k:.0} reports/s (every step met the SLO)")
        }
        (Some(k), KneeStop::StepFailed) => format!("{k:.0} reports/s"),
        (None, _) => "below the first step: it already failed".into(),
    };
    let mut facts = vec![
        ("server".to_string(), result.base_url.clone()),
        ("knee".into(), knee),
        (
            "criteria".into(),
            format!(
                "corrected p99 ≤ {} ms, errors ≤ {:.3}%",
                result.slo_p99_ms,
                result.max_error_rate * 100.0
            ),
        ),
        (
            "steps".into(),
            format!(
                "{} of {} s (+{} s warm-up) over {} connections",
                result.steps.len(),
                result.step_duration_s,
                result.warmup_s,
                result.connections
            ),
        ),
    ];
    if let Some(last) = result.steps.last() {
        facts.push((
            "last step".into(),
            format!(
                "{:.0} reports/s offered: {:?}, p99 {}, errors {:.3}%",
                last.result.offered_rate,
                last.verdict,
                ms(last.result.corrected.p99_ms),
                last.result.error_rate * 100.0
            ),
        ));
    }
    if let Some(d) = &result.generator_behind_detail {
        facts.push(("GENERATOR BEHIND".into(), d.clone()));
    }
    write(
        &files.html,
        &page(
            "Knee of the district platform",
            &facts,
            "knee.svg",
            "load.json",
        ),
    )?;
    Ok(files)
}

/// Writes `soak.json`, `soak.svg` and `index.html` into `dir` (created if missing).
pub fn write_soak_report(dir: &Path, result: &SoakResult) -> Result<ReportFiles, LoadError> {
    create(dir)?;
    let files = ReportFiles {
        json: dir.join("soak.json"),
        svg: dir.join("soak.svg"),
        html: dir.join("index.html"),
    };
    write(&files.json, &serde_json::to_string_pretty(result)?)?;
    let svg = soak_svg(result).map_err(|message| LoadError::Plot {
        what: "soak",
        message,
    })?;
    write(&files.svg, &svg)?;
    let bytes = |b: Option<i64>| {
        b.map_or("n/a".to_string(), |b| {
            format!("{:+.1} MiB", b as f64 / 1_048_576.0)
        })
    };
    let t = &result.total;
    let mut facts = vec![
        ("server".to_string(), result.base_url.clone()),
        (
            "load".into(),
            format!(
                "{} reports/s for {} s (+{} s warm-up) over {} connections",
                result.rate, result.duration_s, result.warmup_s, result.connections
            ),
        ),
        (
            "after warm-up".into(),
            format!(
                "sent {} ({:.1}/s), answered {:.1}/s, errors {} ({:.3}%), p50 {}, p99 {}, max {}",
                t.sent,
                t.achieved_send_rate,
                t.response_rate,
                t.errors,
                t.error_rate * 100.0,
                ms(t.corrected.p50_ms),
                ms(t.corrected.p99_ms),
                ms(t.corrected.max_ms)
            ),
        ),
        (
            "server memory growth".into(),
            match result.server_rss_bytes_per_call {
                Some(per) => format!(
                    "{} ({per:.0} bytes a call answered)",
                    bytes(result.server_rss_growth_bytes)
                ),
                None => bytes(result.server_rss_growth_bytes),
            },
        ),
        (
            "harness memory growth".into(),
            bytes(result.harness_rss_growth_bytes),
        ),
        (
            "p99 drift".into(),
            match (result.p99_drift_ms, result.p99_drift_ratio) {
                (Some(d), Some(r)) => format!("{d:+.2} ms (×{r:.2})"),
                (Some(d), None) => format!("{d:+.2} ms"),
                _ => "n/a (no interval after the warm-up)".into(),
            },
        ),
    ];
    if result.generator_behind {
        facts.push((
            "GENERATOR BEHIND".into(),
            format!(
                "{:.1}% of sends left more than 10 ms late on an idle connection: the figures \
                 describe the generator",
                t.late_share * 100.0
            ),
        ));
    }
    write(
        &files.html,
        &page(
            "Soak of the district platform",
            &facts,
            "soak.svg",
            "soak.json",
        ),
    )?;
    Ok(files)
}

fn create(dir: &Path) -> Result<(), LoadError> {
    std::fs::create_dir_all(dir).map_err(|source| LoadError::Write {
        path: dir.to_path_buf(),
        source,
    })
}
