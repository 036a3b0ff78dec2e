//! What `GET /metrics` shows a Prometheus scraper: calls by command and status, latency by
//! module, the audit log's length and the time-driven work done.
//!
//! The exposition is written by hand: a handful of series whose labels come from the fixed list
//! of commands, which does not warrant a metrics crate and its registry.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds (seconds) of `baoan_request_seconds`' buckets: from a query answered in a
/// fraction of a millisecond to a block-data batch of many megabytes.
pub const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The server's counters. Labels are `'static` names from `COMMAND_KINDS`, never text from a
/// request, so a client cannot make series without end.
#[derive(Debug, Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
    advance_outcomes: AtomicU64,
    delegated: AtomicU64,
}

#[derive(Debug, Default)]
struct Inner {
    requests: BTreeMap<(&'static str, &'static str, u16), u64>,
    latency: BTreeMap<&'static str, Histogram>,
}

#[derive(Debug, Default)]
struct Histogram {
    /// Per bucket (not cumulative); the last is +Inf.
    counts: [u64; BUCKETS.len() + 1],
    sum: f64,
    count: u64,
}

impl Metrics {
    /// One call of `module/kind` answered with `status` after `took`.
    pub fn record(&self, module: &'static str, kind: &'static str, status: u16, took: Duration) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        *inner.requests.entry((module, kind, status)).or_default() += 1;
        let h = inner.latency.entry(module).or_default();
        let s = took.as_secs_f64();
        let bucket = BUCKETS
            .iter()
            .position(|&b| s <= b)
            .unwrap_or(BUCKETS.len());
        h.counts[bucket] += 1;
        h.sum += s;
        h.count += 1;
    }

    /// Outcomes of the stack's time-driven work (escalations), which no caller sees yet.
    pub fn add_advance_outcomes(&self, n: u64) {
        self.advance_outcomes.fetch_add(n, Ordering::Relaxed);
    }

    pub fn advance_outcomes(&self) -> u64 {
        self.advance_outcomes.load(Ordering::Relaxed)
    }

    /// A gateway's call made for another person (`X-Act-As`).
    pub fn add_delegated(&self) {
        self.delegated.fetch_add(1, Ordering::Relaxed);
    }

    pub fn delegated(&self) -> u64 {
        self.delegated.load(Ordering::Relaxed)
    }

    /// The Prometheus text exposition (format 0.0.4).
    /// The exposition; `journal` is (entries committed, commits) when the stack is journaled.
    pub fn render(&self, audit_entries: usize, journal: Option<(u64, u64)>) -> String {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = String::new();
        out.push_str(
            "# HELP baoan_requests_total Command calls, by module, kind and HTTP status.\n",
        );
        out.push_str("# TYPE baoan_requests_total counter\n");
        for ((module, kind, status), n) in &inner.requests {
            let _ = writeln!(
                out,
                "baoan_requests_total{{module=\"{module}\",kind=\"{kind}\",status=\"{status}\"}} {n}"
            );
        }
        out.push_str("# HELP baoan_request_seconds Time to answer a command call, by module.\n");
        out.push_str("# TYPE baoan_request_seconds histogram\n");
        for (module, h) in &inner.latency {
            let mut cumulative = 0;
            for (i, le) in BUCKETS
                .iter()
                .map(|b| b.to_string())
                .chain(["+Inf".to_string()])
                .enumerate()
            {
                cumulative += h.counts[i];
                let _ = writeln!(
                    out,
                    "baoan_request_seconds_bucket{{module=\"{module}\",le=\"{le}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "baoan_request_seconds_sum{{module=\"{module}\"}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "baoan_request_seconds_count{{module=\"{module}\"}} {}",
                h.count
            );
        }
        out.push_str("# HELP baoan_audit_entries Entries in the stack's audit log.\n");
        out.push_str("# TYPE baoan_audit_entries gauge\n");
        let _ = writeln!(out, "baoan_audit_entries {audit_entries}");
        out.push_str(
            "# HELP baoan_advance_outcomes_total Outcomes of the stack's time-driven work \
             (escalations, overdue visits).\n",
        );
        out.push_str("# TYPE baoan_advance_outcomes_total counter\n");
        let _ = writeln!(
            out,
            "baoan_advance_outcomes_total {}",
            self.advance_outcomes()
        );
        out.push_str(
            "# HELP baoan_delegated_calls_total Calls a gateway token made for another person \
             (X-Act-As).\n# TYPE baoan_delegated_calls_total counter\n",
        );
        let _ = writeln!(out, "baoan_delegated_calls_total {}", self.delegated());
        if let Some((entries, commits)) = journal {
            out.push_str(
                "# HELP baoan_journal_entries_total Journal entries committed since the server \
                 started.\n# TYPE baoan_journal_entries_total counter\n",
            );
            let _ = writeln!(out, "baoan_journal_entries_total {entries}");
            out.push_str(
                "# HELP baoan_journal_commits_total Transactions that committed them (grouped \
                 commits).\n# TYPE baoan_journal_commits_total counter\n",
            );
            let _ = writeln!(out, "baoan_journal_commits_total {commits}");
        }
        if let Some(bytes) = resident_memory_bytes() {
            out.push_str(
                "# HELP process_resident_memory_bytes Resident memory size in bytes.\n\
                 # TYPE process_resident_memory_bytes gauge\n",
            );
            let _ = writeln!(out, "process_resident_memory_bytes {bytes}");
        }
        out
    }
}

/// The server's resident memory (Linux: /proc/self/statm), what a soak watches for growth.
pub fn resident_memory_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // 4 KiB pages, as on the x86-64 Linux machines the twin is run on.
    Some(pages * 4096)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exposition_has_counters_cumulative_buckets_and_gauges() {
        let m = Metrics::default();
        m.record("grid", "submit_report", 200, Duration::from_micros(300));
        m.record("grid", "submit_report", 200, Duration::from_millis(3));
        m.record("grid", "query_backlog", 403, Duration::from_secs(20));
        m.add_advance_outcomes(4);
        let text = m.render(7, Some((12, 2)));
        for line in [
            "baoan_requests_total{module=\"grid\",kind=\"submit_report\",status=\"200\"} 2",
            "baoan_requests_total{module=\"grid\",kind=\"query_backlog\",status=\"403\"} 1",
            "baoan_request_seconds_bucket{module=\"grid\",le=\"0.0005\"} 1",
            "baoan_request_seconds_bucket{module=\"grid\",le=\"0.005\"} 2",
            "baoan_request_seconds_bucket{module=\"grid\",le=\"10\"} 2",
            "baoan_request_seconds_bucket{module=\"grid\",le=\"+Inf\"} 3",
            "baoan_request_seconds_count{module=\"grid\"} 3",
            "baoan_audit_entries 7",
            "baoan_advance_outcomes_total 4",
            "baoan_journal_entries_total 12",
            "baoan_journal_commits_total 2",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "no line {line:?} in\n{text}"
            );
        }
        let rss = text
            .lines()
            .find_map(|l| l.strip_prefix("process_resident_memory_bytes "))
            .expect("the resident memory gauge")
            .parse::<u64>()
            .unwrap();
        assert!(rss > 1 << 20, "a running test holds more than 1 MiB: {rss}");
        // Every sample line belongs to a declared family.
        for l in text.lines().filter(|l| !l.starts_with('#')) {
            let name = l.split(['{', ' ']).next().unwrap();
            let family = name
                .trim_end_matches("_bucket")
                .trim_end_matches("_sum")
                .trim_end_matches("_count");
            assert!(
                text.contains(&format!("# TYPE {family} ")),
                "{name} has no TYPE line"
            );
        }
    }
}
