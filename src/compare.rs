//! `twin compare A B` for two runs: their verdicts, figures and latencies side by side, from the
//! report.json each left (a folder or the file itself).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use baoan_reports::html::Table;
use serde::Serialize;

use crate::RunError;

#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub metric: String,
    pub a: Option<f64>,
    pub b: Option<f64>,
}

fn report_path(p: &Path) -> PathBuf {
    if p.is_dir() {
        p.join("report.json")
    } else {
        p.to_path_buf()
    }
}

fn load(p: &Path) -> Result<serde_json::Value, RunError> {
    let path = report_path(p);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| RunError::BadInput(format!("{}: cannot read: {e}", path.display())))?;
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        RunError::BadInput(format!(
            "{}:{}:{}: not a report: {e}",
            path.display(),
            e.line(),
            e.column()
        ))
    })?;
    if v["schema"] != baoan_reports::REPORT_SCHEMA {
        return Err(RunError::BadInput(format!(
            "{}: expected schema {}, got {}",
            path.display(),
            baoan_reports::REPORT_SCHEMA,
            v["schema"]
        )));
    }
    Ok(v)
}

/// Every figure and every latency p50/p90 that either run has, in name order.
pub fn rows(a: &serde_json::Value, b: &serde_json::Value) -> Vec<Row> {
    let mut out = Vec::new();
    let mut names = BTreeSet::new();
    for r in [a, b] {
        for (loop_name, section) in r["sections"].as_object().into_iter().flatten() {
            for (k, _) in section["figures"].as_object().into_iter().flatten() {
                names.insert((
                    loop_name.clone(),
                    "figures".to_string(),
                    k.clone(),
                    String::new(),
                ));
            }
            for (k, _) in section["latency"].as_object().into_iter().flatten() {
                for stat in ["p50_s", "p90_s"] {
                    names.insert((
                        loop_name.clone(),
                        "latency".to_string(),
                        k.clone(),
                        stat.to_string(),
                    ));
                }
            }
        }
    }
    for (l, kind, k, stat) in names {
        let get = |r: &serde_json::Value| {
            let v = &r["sections"][&l][&kind][&k];
            if stat.is_empty() {
                v.as_f64()
            } else {
                v[&stat].as_f64()
            }
        };
        let metric = if stat.is_empty() {
            k.clone()
        } else {
            format!("{k} {}", stat.trim_end_matches("_s"))
        };
        out.push(Row {
            metric,
            a: get(a),
            b: get(b),
        });
    }
    out
}

/// Compare two runs and write compare.json and index.html into `out`.
pub fn compare_runs(a: &Path, b: &Path, out: &Path) -> Result<Vec<Row>, RunError> {
    let (ra, rb) = (load(a)?, load(b)?);
    let rows = rows(&ra, &rb);
    std::fs::create_dir_all(out)
        .map_err(|e| RunError::Harness(format!("{}: {e}", out.display())))?;
    let json = serde_json::json!({"a": a.display().to_string(), "b": b.display().to_string(), "passed": [ra["passed"], rb["passed"]], "rows": rows});
    std::fs::write(
        out.join("compare.json"),
        serde_json::to_string_pretty(&json).expect("serialises") + "\n",
    )
    .map_err(|e| RunError::Harness(format!("{}: {e}", out.display())))?;
    let fmt = |v: Option<f64>| v.map_or("—".to_string(), |x| format!("{x}"));
    let table = Table {
        caption: "Figures and latencies (seconds)".into(),
        header: ["metric", "A", "B", "B − A"].map(String::from).to_vec(),
        rows: rows
            .iter()
            .map(|r| {
                let d = match (r.a, r.b) {
                    (Some(x), Some(y)) => format!("{:+.3}", y - x),
                    _ => "—".into(),
                };
                vec![r.metric.clone(), fmt(r.a), fmt(r.b), d]
            })
            .collect(),
    };
    let verdict = |r: &serde_json::Value| {
        if r["passed"].as_bool() == Some(true) {
            "passed"
        } else {
            "failed"
        }
    };
    let body = format!(
        "<h1>Runs compared</h1><p>A: {} ({} seed {}, {}) · B: {} ({} seed {}, {})</p>\n{}",
        baoan_reports::xml(&a.display().to_string()),
        baoan_reports::xml(ra["scenario"]["name"].as_str().unwrap_or("?")),
        ra["seed"],
        verdict(&ra),
        baoan_reports::xml(&b.display().to_string()),
        baoan_reports::xml(rb["scenario"]["name"].as_str().unwrap_or("?")),
        rb["seed"],
        verdict(&rb),
        baoan_reports::html::table_html(&table)
    );
    let html = baoan_reports::html::standalone("Runs compared", &body);
    std::fs::write(out.join("index.html"), html)
        .map_err(|e| RunError::Harness(format!("{}: {e}", out.display())))?;
    Ok(rows)
}
