//! Soaking: one rate for a long time, sampled per interval — latency, errors, and the resident
//! memory of the server and of the harness — to see whether the stack drifts or leaks.

use std::time::Duration;

use hyper::Method;
use hyper::body::Bytes;
use serde::Serialize;

use crate::client::one_shot;
use crate::engine::{RateSpec, Run, StepResult, Tally, fmt_rate};
use crate::setup::{DEFAULT_GRIDS, prepare};
use crate::target::Endpoint;
use crate::{LoadError, LoadTarget, runtime};

/// How long a `/metrics` read may take before the sample goes without the server's memory.
const METRICS_TIMEOUT: Duration = Duration::from_secs(2);

/// A soak: `rate` reports per second for `warmup + duration`, one sample every `interval`.
#[derive(Debug, Clone, PartialEq)]
pub struct SoakSpec {
    pub rate: f64,
    /// The measured part, after the warm-up.
    pub duration: Duration,
    /// Memory growth and latency drift are taken from the end of the warm-up.
    pub warmup: Duration,
    /// Time between samples (default 10 s).
    pub interval: Duration,
    pub connections: usize,
    /// Per-request timeout (see `RateSpec::timeout`).
    pub timeout: Duration,
    /// One line on stderr per sample.
    pub progress: bool,
}

impl Default for SoakSpec {
    fn default() -> Self {
        SoakSpec {
            rate: 100.0,
            duration: Duration::from_secs(3600),
            warmup: Duration::from_secs(60),
            interval: Duration::from_secs(10),
            connections: 64,
            timeout: Duration::from_secs(10),
            progress: true,
        }
    }
}

/// One interval of a soak. Requests are counted in the interval in which they were answered or
/// failed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SoakSample {
    /// Seconds from the start of the timetable to the end of this interval.
    pub elapsed_s: f64,
    pub interval_s: f64,
    /// The interval ended during the warm-up.
    pub warmup: bool,
    pub sent: u64,
    pub ok: u64,
    pub errors: u64,
    /// Sends per second in the interval.
    pub achieved_rate: f64,
    pub corrected_p50_ms: f64,
    pub corrected_p99_ms: f64,
    pub corrected_max_ms: f64,
    pub service_p50_ms: f64,
    pub service_p99_ms: f64,
    pub service_max_ms: f64,
    pub late_by_generator: u64,
    /// `process_resident_memory_bytes` from the server's `/metrics`, if it exposes it.
    pub server_rss_bytes: Option<u64>,
    /// The harness's own resident memory.
    pub harness_rss_bytes: Option<u64>,
}

/// A soak's samples, its measured part as a whole, and the trends an engineer looks for.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SoakResult {
    pub base_url: String,
    pub rate: f64,
    pub duration_s: f64,
    pub warmup_s: f64,
    pub interval_s: f64,
    pub connections: usize,
    pub samples: Vec<SoakSample>,
    /// The measured part (after the warm-up) as one step.
    pub total: StepResult,
    /// Last sample's server memory minus the sample's at the end of the warm-up (bytes).
    pub server_rss_growth_bytes: Option<i64>,
    /// The same for the harness (it should stay flat: its memory is constant by design).
    pub harness_rss_growth_bytes: Option<i64>,
    /// The server's growth per call it answered with success over the same span (bytes). The
    /// stack keeps what it is sent (a report's task and key, the call's audit record: a few
    /// hundred bytes), so some growth per call is its design; a figure well above that, or one
    /// that rises as soaks get longer, points to a leak.
    pub server_rss_bytes_per_call: Option<f64>,
    /// Corrected p99 of the last interval minus that of the first interval after the warm-up.
    pub p99_drift_ms: Option<f64>,
    /// The same as a ratio (last / first).
    pub p99_drift_ratio: Option<f64>,
    /// See `StepResult::generator_behind`: the CLI exits 3 on it.
    pub generator_behind: bool,
}

/// The value of `process_resident_memory_bytes` in a Prometheus text exposition, if present
/// (integer or float notation, with or without labels).
pub fn parse_resident_memory(metrics: &str) -> Option<u64> {
    metrics.lines().find_map(|line| {
        let line = line.trim();
        let rest = line.strip_prefix("process_resident_memory_bytes")?;
        let rest = if let Some(labelled) = rest.strip_prefix('{') {
            labelled.split_once('}')?.1
        } else {
            rest
        };
        if !rest.starts_with([' ', '\t']) {
            return None; // another metric whose name starts the same
        }
        let value: f64 = rest.split_whitespace().next()?.parse().ok()?;
        (value.is_finite() && value >= 0.0).then_some(value as u64)
    })
}

/// The harness's resident memory, from `/proc/self/status` (`VmRSS`); `None` off Linux.
pub fn harness_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some(kb * 1024)
}

async fn server_rss(endpoint: &Endpoint) -> Option<u64> {
    let (status, body) = one_shot(
        endpoint,
        Method::GET,
        baoan_api::http::METRICS,
        None,
        Bytes::new(),
        METRICS_TIMEOUT,
        "GET /metrics",
    )
    .await
    .ok()?;
    if status != 200 {
        return None;
    }
    parse_resident_memory(&String::from_utf8_lossy(&body))
}

/// Runs a soak (the set-up, then the timetable), sampling every `interval`. Blocking.
pub fn soak(target: &LoadTarget, spec: &SoakSpec) -> Result<SoakResult, LoadError> {
    if spec.interval.is_zero() {
        return Err(LoadError::BadSpec(
            "interval: expected more than 0 s".into(),
        ));
    }
    let rate_spec = RateSpec {
        rate: spec.rate,
        duration: spec.duration,
        warmup: spec.warmup,
        connections: spec.connections,
        timeout: spec.timeout,
        progress: false,
    };
    rate_spec.check()?;
    let rt = runtime()?;
    rt.block_on(async {
        let endpoint = target.endpoint().await?;
        prepare(target, &endpoint, DEFAULT_GRIDS).await?;
        if spec.progress {
            eprintln!(
                "soak: {} reports/s for {} s (+{} s warm-up) over {} connections to {}, a sample \
                 every {} s",
                fmt_rate(spec.rate),
                spec.duration.as_secs_f64(),
                spec.warmup.as_secs_f64(),
                spec.connections,
                endpoint.url,
                spec.interval.as_secs_f64()
            );
        }
        let run = Run::start(target, &endpoint, &rate_spec)?;
        let start = run.start_instant();
        let warmup_s = spec.warmup.as_secs_f64();
        let total_s = warmup_s + spec.duration.as_secs_f64();
        let mut samples = Vec::new();
        let mut tally = Tally::new();
        let mut n = 1u32;
        loop {
            let nominal = (spec.interval * n).as_secs_f64();
            let done_sending = nominal >= total_s;
            let end_s = nominal.min(total_s);
            let boundary = start + Duration::from_secs_f64(end_s);
            tokio::time::sleep_until(boundary.into()).await;
            if done_sending {
                // The answers still on their way belong to the last interval.
                while !run.is_done() {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
            run.drain_interval(&mut tally);
            let begin_s = samples.last().map_or(0.0, |s: &SoakSample| s.elapsed_s);
            let sample = sample(
                &tally,
                end_s,
                end_s - begin_s,
                end_s <= warmup_s,
                server_rss(&endpoint).await,
            );
            if spec.progress {
                eprintln!("soak: {}", sample_line(&sample));
            }
            samples.push(sample);
            if done_sending {
                break;
            }
            n += 1;
        }
        let total = run.finish().await?;
        let trends = trends(&samples, warmup_s);
        Ok(SoakResult {
            base_url: target.base_url.clone(),
            rate: spec.rate,
            duration_s: spec.duration.as_secs_f64(),
            warmup_s,
            interval_s: spec.interval.as_secs_f64(),
            connections: spec.connections,
            samples,
            generator_behind: total.generator_behind,
            total,
            server_rss_growth_bytes: trends.server_growth,
            harness_rss_growth_bytes: trends.harness_growth,
            server_rss_bytes_per_call: trends.server_per_call,
            p99_drift_ms: trends.drift_ms,
            p99_drift_ratio: trends.drift_ratio,
        })
    })
}

fn sample(
    t: &Tally,
    elapsed_s: f64,
    interval_s: f64,
    warmup: bool,
    server_rss_bytes: Option<u64>,
) -> SoakSample {
    let q = |h: &hdrhistogram::Histogram<u64>, q: f64| {
        if h.is_empty() {
            0.0
        } else {
            h.value_at_quantile(q) as f64 / 1000.0
        }
    };
    SoakSample {
        elapsed_s,
        interval_s,
        warmup,
        sent: t.sent,
        ok: t.status.ok_2xx,
        errors: t.status.errors(),
        achieved_rate: if interval_s > 0.0 {
            t.sent as f64 / interval_s
        } else {
            0.0
        },
        corrected_p50_ms: q(&t.corrected, 0.5),
        corrected_p99_ms: q(&t.corrected, 0.99),
        corrected_max_ms: q(&t.corrected, 1.0),
        service_p50_ms: q(&t.service, 0.5),
        service_p99_ms: q(&t.service, 0.99),
        service_max_ms: q(&t.service, 1.0),
        late_by_generator: t.late,
        server_rss_bytes,
        harness_rss_bytes: harness_rss_bytes(),
    }
}

fn mib(b: Option<u64>) -> String {
    b.map_or("n/a".into(), |b| format!("{:.1} MiB", b as f64 / 1048576.0))
}

fn sample_line(s: &SoakSample) -> String {
    format!(
        "{:.0} s{}: sent {}/s, p50 {:.2} ms, p99 {:.2} ms (service p99 {:.2} ms), errors {}, \
         server RSS {}, harness RSS {}",
        s.elapsed_s,
        if s.warmup { " (warm-up)" } else { "" },
        fmt_rate(s.achieved_rate),
        s.corrected_p50_ms,
        s.corrected_p99_ms,
        s.service_p99_ms,
        s.errors,
        mib(s.server_rss_bytes),
        mib(s.harness_rss_bytes)
    )
}

/// Memory growth and p99 drift after the warm-up.
#[derive(Debug, PartialEq)]
struct Trends {
    server_growth: Option<i64>,
    harness_growth: Option<i64>,
    server_per_call: Option<f64>,
    drift_ms: Option<f64>,
    drift_ratio: Option<f64>,
}

/// Growth: the last sample minus the one at the end of the warm-up (the first sample ending at
/// or after it). Drift: the last interval's p99 against the first interval wholly after the
/// warm-up.
fn trends(samples: &[SoakSample], warmup_s: f64) -> Trends {
    const EPS: f64 = 1e-9;
    let base_at = samples.iter().position(|s| s.elapsed_s >= warmup_s - EPS);
    let base = base_at.map(|k| &samples[k]);
    let first_after = samples
        .iter()
        .find(|s| s.elapsed_s - s.interval_s >= warmup_s - EPS);
    let last = samples.last();
    let growth = |f: fn(&SoakSample) -> Option<u64>| match (base, last) {
        (Some(b), Some(l)) => Some(f(l)? as i64 - f(b)? as i64),
        _ => None,
    };
    let (drift_ms, drift_ratio) = match (first_after, last) {
        (Some(f), Some(l)) => (
            Some(l.corrected_p99_ms - f.corrected_p99_ms),
            (f.corrected_p99_ms > 0.0).then(|| l.corrected_p99_ms / f.corrected_p99_ms),
        ),
        _ => (None, None),
    };
    let server_growth = growth(|s| s.server_rss_bytes);
    // Calls answered after the base sample: those its memory reading came before.
    let calls: u64 = base_at.map_or(0, |k| samples[k + 1..].iter().map(|s| s.ok).sum());
    Trends {
        server_per_call: server_growth
            .filter(|_| calls > 0)
            .map(|g| g as f64 / calls as f64),
        server_growth,
        harness_growth: growth(|s| s.harness_rss_bytes),
        drift_ms,
        drift_ratio,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_resident_memory_gauge_is_read_from_the_exposition() {
        let text = "# HELP process_resident_memory_bytes Resident memory size in bytes.\n\
                    # TYPE process_resident_memory_bytes gauge\n\
                    process_resident_memory_bytes_total 5\n\
                    process_resident_memory_bytes 123469824\n";
        assert_eq!(parse_resident_memory(text), Some(123_469_824));
        assert_eq!(
            parse_resident_memory("process_resident_memory_bytes 1.2e+08\n"),
            Some(120_000_000)
        );
        assert_eq!(
            parse_resident_memory("process_resident_memory_bytes{pid=\"1\"} 4096"),
            Some(4096)
        );
        assert_eq!(parse_resident_memory("baoan_audit_entries 7\n"), None);
        assert_eq!(
            parse_resident_memory("process_resident_memory_bytes NaN"),
            None
        );
        assert_eq!(parse_resident_memory(""), None);
    }

    #[test]
    fn the_harness_knows_its_own_memory_on_linux() {
        if cfg!(target_os = "linux") {
            assert!(harness_rss_bytes().unwrap() > 1 << 20);
        }
    }

    fn s(elapsed_s: f64, p99: f64, server: u64, harness: u64) -> SoakSample {
        SoakSample {
            elapsed_s,
            interval_s: 10.0,
            warmup: elapsed_s <= 20.0,
            sent: 10,
            ok: 10,
            errors: 0,
            achieved_rate: 0.0,
            corrected_p50_ms: 0.0,
            corrected_p99_ms: p99,
            corrected_max_ms: 0.0,
            service_p50_ms: 0.0,
            service_p99_ms: 0.0,
            service_max_ms: 0.0,
            late_by_generator: 0,
            server_rss_bytes: Some(server),
            harness_rss_bytes: Some(harness),
        }
    }

    #[test]
    fn growth_and_drift_are_taken_from_the_end_of_the_warm_up() {
        let samples = [
            s(10.0, 50.0, 100, 10),
            s(20.0, 40.0, 200, 20),
            s(30.0, 4.0, 250, 20),
            s(40.0, 5.0, 300, 21),
            s(50.0, 6.0, 400, 19),
        ];
        let t = trends(&samples, 20.0);
        assert_eq!(t.server_growth, Some(200));
        assert_eq!(t.harness_growth, Some(-1));
        // 200 bytes over the 30 calls answered after the base sample (10 in each interval).
        assert_eq!(t.server_per_call, Some(200.0 / 30.0));
        assert_eq!(t.drift_ms, Some(2.0));
        assert_eq!(t.drift_ratio, Some(1.5));
        let none = trends(&samples, 60.0);
        assert_eq!(none.server_growth, None);
        assert_eq!(none.server_per_call, None);
        assert_eq!(none.drift_ms, None);
    }
}
