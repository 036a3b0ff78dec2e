//! index.html: one self-contained page (inline CSS and SVG, no scripts, nothing fetched).

use crate::{Report, slo_bounds, xml};

#[derive(Debug, Clone, Default)]
pub struct Table {
    pub caption: String,
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

#[derive(Debug, Clone, Default)]
pub struct Section {
    pub title: String,
    pub intro: String,
    pub tables: Vec<Table>,
    /// Inline SVG documents.
    pub figures: Vec<String>,
}

const STYLE: &str = "body{font-family:system-ui,-apple-system,'Segoe UI','Noto Sans CJK SC',sans-serif;margin:2rem auto;max-width:1100px;color:#222;padding:0 1rem}\
h1{margin-bottom:.2rem}h2{border-bottom:1px solid #ddd;padding-bottom:.3rem;margin-top:2.2rem}\
.sub{color:#666;margin-top:0}.pass{color:#1a7f37;font-weight:600}.fail{color:#cf222e;font-weight:600}\
table{border-collapse:collapse;margin:.8rem 0;font-size:.9rem}th,td{border:1px solid #ddd;padding:.25rem .6rem;text-align:right}\
th{background:#f6f8fa}td:first-child,th:first-child{text-align:left}caption{text-align:left;font-weight:600;padding:.3rem 0}\
figure{margin:1rem 0}svg{max-width:100%;height:auto}code{background:#f6f8fa;padding:.1rem .3rem}";

pub fn table_html(t: &Table) -> String {
    let mut s = String::from("<table>");
    if !t.caption.is_empty() {
        s += &format!("<caption>{}</caption>", xml(&t.caption));
    }
    s += "<tr>";
    for h in &t.header {
        s += &format!("<th>{}</th>", xml(h));
    }
    s += "</tr>";
    for row in &t.rows {
        s += "<tr>";
        for cell in row {
            let class = match cell.as_str() {
                "pass" | "holds" => " class=\"pass\"",
                "FAIL" | "BROKEN" => " class=\"fail\"",
                _ => "",
            };
            s += &format!("<td{class}>{}</td>", xml(cell));
        }
        s += "</tr>";
    }
    s + "</table>\n"
}

/// The verdict section: each SLO and invariant with its result.
pub fn verdict_section(report: &Report) -> Section {
    let slos = Table {
        caption: "Service-level objectives".into(),
        header: vec![
            "metric".into(),
            "stat".into(),
            "bound".into(),
            "measured".into(),
            "result".into(),
        ],
        rows: report
            .slos
            .iter()
            .map(|s| {
                vec![
                    s.metric.clone(),
                    s.stat.clone(),
                    slo_bounds(s),
                    s.value.map_or("no data".into(), |v| v.to_string()),
                    if s.passed { "pass" } else { "FAIL" }.into(),
                ]
            })
            .collect(),
    };
    let invariants = Table {
        caption: "Invariants".into(),
        header: vec!["invariant".into(), "detail".into(), "result".into()],
        rows: report
            .invariants
            .iter()
            .map(|i| {
                vec![
                    i.name.clone(),
                    i.detail.clone(),
                    if i.holds { "holds" } else { "BROKEN" }.into(),
                ]
            })
            .collect(),
    };
    Section {
        title: "Verdict".into(),
        intro: String::new(),
        tables: vec![slos, invariants],
        figures: vec![],
    }
}

/// A self-contained page around `body` (already HTML), with the house style.
pub fn standalone(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{} — baoan-twin</title><style>{STYLE}</style></head><body>\n{body}</body></html>\n",
        xml(title)
    )
}

/// A section's title, intro, tables and figures as HTML.
pub fn section_html(section: &Section) -> String {
    let mut s = format!("<h2>{}</h2>\n", xml(&section.title));
    if !section.intro.is_empty() {
        s += &format!("<p>{}</p>\n", xml(&section.intro));
    }
    for t in &section.tables {
        s += &table_html(t);
    }
    for f in &section.figures {
        s += "<figure>";
        s += f;
        s += "</figure>\n";
    }
    s
}

pub fn render(report: &Report, sections: &[Section]) -> String {
    render_with_links(report, sections, &[])
}

/// The report's page with links to pages beside it (the interactive map), under the verdict.
pub fn render_with_links(report: &Report, sections: &[Section], links: &[(&str, &str)]) -> String {
    let mut s = String::with_capacity(1 << 20);
    s += &format!("<h1>{}</h1>\n", xml(&report.scenario.name));
    s += &format!(
        "<p class=\"sub\">{} · seed {} · scale {} · {} simulated hours · stack: {} · build {}</p>\n",
        xml(&report.scenario.description),
        report.seed,
        report.scale,
        report.duration_s / 3600.0,
        xml(&report.stack),
        xml(&report.build)
    );
    s += &format!(
        "<p>Result: <span class=\"{}\">{}</span>. Reproduce with <code>{}</code>.</p>\n",
        if report.passed { "pass" } else { "fail" },
        if report.passed {
            "all SLOs met, all invariants held"
        } else {
            "an SLO or invariant failed"
        },
        xml(&report.reproduce)
    );
    for (href, text) in links {
        s += &format!("<p><a href=\"{}\">{}</a></p>\n", xml(href), xml(text));
    }
    for section in std::iter::once(&verdict_section(report)).chain(sections) {
        s += &section_html(section);
    }
    standalone(&report.scenario.name, &s)
}
