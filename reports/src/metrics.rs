//! Run metrics: latency distributions in HDR histograms (constant memory however long the run),
//! single figures, and sampled series.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Longest latency a histogram tracks: 400 days in milliseconds. Longer values are clamped and
/// counted, never dropped.
const MAX_MS: u64 = 400 * 86_400_000;

/// A latency distribution in milliseconds.
#[derive(Clone)]
pub struct Hist {
    h: Histogram<u64>,
    pub clamped: u64,
}

impl std::fmt::Debug for Hist {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Hist(count={})", self.h.len())
    }
}

/// What a report shows of a distribution, in seconds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub count: u64,
    pub mean_s: f64,
    pub min_s: f64,
    pub p50_s: f64,
    pub p90_s: f64,
    pub p95_s: f64,
    pub p99_s: f64,
    pub p999_s: f64,
    pub max_s: f64,
}

/// Round to 3 decimals (milliseconds), so that reports are stable text.
pub fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

impl Hist {
    /// `significant` decimal digits of precision (2 for the many per-type histograms, 3 otherwise).
    pub fn new(significant: u8) -> Hist {
        Hist {
            h: Histogram::new_with_bounds(1, MAX_MS, significant).expect("valid histogram bounds"),
            clamped: 0,
        }
    }

    pub fn record_ms(&mut self, ms: u64) {
        let v = if ms > MAX_MS {
            self.clamped += 1;
            MAX_MS
        } else {
            ms
        };
        self.h.record(v).expect("value within bounds");
    }

    pub fn count(&self) -> u64 {
        self.h.len()
    }

    pub fn quantile_s(&self, q: f64) -> f64 {
        self.h.value_at_quantile(q) as f64 / 1000.0
    }

    pub fn summary(&self) -> Summary {
        if self.h.is_empty() {
            return Summary {
                count: 0,
                mean_s: 0.0,
                min_s: 0.0,
                p50_s: 0.0,
                p90_s: 0.0,
                p95_s: 0.0,
                p99_s: 0.0,
                p999_s: 0.0,
                max_s: 0.0,
            };
        }
        Summary {
            count: self.h.len(),
            mean_s: round3(self.h.mean() / 1000.0),
            min_s: self.h.min() as f64 / 1000.0,
            p50_s: self.quantile_s(0.5),
            p90_s: self.quantile_s(0.9),
            p95_s: self.quantile_s(0.95),
            p99_s: self.quantile_s(0.99),
            p999_s: self.quantile_s(0.999),
            max_s: self.h.max() as f64 / 1000.0,
        }
    }

    /// The empirical CDF as (seconds, share) at each recorded value step, thinned to at most
    /// `max_points`.
    pub fn cdf(&self, max_points: usize) -> Vec<(f64, f64)> {
        let total = self.h.len();
        if total == 0 {
            return Vec::new();
        }
        let mut points = Vec::new();
        let mut seen = 0u64;
        for v in self.h.iter_recorded() {
            seen += v.count_since_last_iteration();
            points.push((
                self.h.highest_equivalent(v.value_iterated_to()) as f64 / 1000.0,
                seen as f64 / total as f64,
            ));
        }
        if points.len() > max_points {
            let step = points.len() as f64 / max_points as f64;
            let last = *points.last().expect("non-empty");
            points = (0..max_points)
                .map(|i| points[(i as f64 * step) as usize])
                .collect();
            points.push(last);
        }
        points
    }

    pub fn add(&mut self, other: &Hist) {
        self.h.add(&other.h).expect("same bounds");
        self.clamped += other.clamped;
    }

    pub fn memory_bytes(&self) -> usize {
        self.h.distinct_values() * 8
    }

    /// The histogram as `metrics.json` keeps it, exactly: its buckets with their counts.
    pub fn data(&self) -> HistData {
        HistData {
            significant: self.h.sigfig(),
            clamped: self.clamped,
            buckets: self
                .h
                .iter_recorded()
                .map(|v| (v.value_iterated_to(), v.count_at_value()))
                .collect(),
        }
    }

    /// A histogram back from `metrics.json`; why not, if the data cannot be one.
    pub fn from_data(d: &HistData) -> Result<Hist, String> {
        if !(1..=5).contains(&d.significant) {
            return Err(format!(
                "significant: expected 1 to 5 digits, got {}",
                d.significant
            ));
        }
        let mut h = Hist::new(d.significant);
        h.clamped = d.clamped;
        for &(value, count) in &d.buckets {
            if value > MAX_MS {
                return Err(format!("a bucket at {value} ms is past {MAX_MS} ms"));
            }
            h.h.record_n(value, count).map_err(|e| e.to_string())?;
        }
        Ok(h)
    }
}

/// A histogram in `metrics.json`: precision, values clamped, and (value ms, count) per bucket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistData {
    pub significant: u8,
    pub clamped: u64,
    pub buckets: Vec<(u64, u64)>,
}

/// A run's metrics as `metrics.json` keeps them, for `twin merge`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct MetricsData {
    pub seconds: BTreeMap<String, HistData>,
    /// `None`: not a number (a share of nothing), which JSON cannot hold.
    pub figures: BTreeMap<String, Option<f64>>,
    pub series: BTreeMap<String, Vec<(f64, f64)>>,
}

/// Everything a run measured, by metric name (the names of `baoan_scenarios::METRICS`).
#[derive(Debug, Default, Clone)]
pub struct Metrics {
    pub seconds: BTreeMap<String, Hist>,
    pub figures: BTreeMap<String, f64>,
    /// Series sampled over the run: (simulated hours, value).
    pub series: BTreeMap<String, Vec<(f64, f64)>>,
}

impl Metrics {
    pub fn hist(&mut self, name: &str) -> &mut Hist {
        self.seconds
            .entry(name.to_string())
            .or_insert_with(|| Hist::new(3))
    }

    pub fn set(&mut self, name: &str, value: f64) {
        self.figures.insert(name.to_string(), value);
    }

    pub fn push(&mut self, name: &str, hours: f64, value: f64) {
        self.series
            .entry(name.to_string())
            .or_default()
            .push((hours, value));
    }

    pub fn data(&self) -> MetricsData {
        MetricsData {
            seconds: self
                .seconds
                .iter()
                .map(|(k, h)| (k.clone(), h.data()))
                .collect(),
            figures: self
                .figures
                .iter()
                .map(|(k, v)| (k.clone(), v.is_finite().then_some(*v)))
                .collect(),
            series: self.series.clone(),
        }
    }

    /// Metrics back from `metrics.json`; the first histogram that cannot be one, named.
    pub fn from_data(d: &MetricsData) -> Result<Metrics, String> {
        let mut seconds = BTreeMap::new();
        for (name, h) in &d.seconds {
            seconds.insert(
                name.clone(),
                Hist::from_data(h).map_err(|e| format!("seconds.{name}: {e}"))?,
            );
        }
        Ok(Metrics {
            seconds,
            figures: d
                .figures
                .iter()
                .map(|(k, v)| (k.clone(), v.unwrap_or(f64::NAN)))
                .collect(),
            series: d.series.clone(),
        })
    }

    /// Take in another loop's metrics (names never overlap between loops).
    pub fn merge(&mut self, other: Metrics) {
        self.seconds.extend(other.seconds);
        self.figures.extend(other.figures);
        self.series.extend(other.series);
    }

    /// A statistic of a metric, or `None` when the run recorded nothing for it.
    pub fn stat(&self, metric: &str, stat: &str) -> Option<f64> {
        if let Some(h) = self.seconds.get(metric) {
            if h.count() == 0 {
                return if stat == "count" { Some(0.0) } else { None };
            }
            let s = h.summary();
            return Some(match stat {
                "p50" => s.p50_s,
                "p90" => s.p90_s,
                "p95" => s.p95_s,
                "p99" => s.p99_s,
                "p999" => s.p999_s,
                "mean" => s.mean_s,
                "min" => s.min_s,
                "max" => s.max_s,
                "count" => s.count as f64,
                _ => return None,
            });
        }
        if let Some(v) = self.figures.get(metric) {
            return (stat == "value").then_some(*v);
        }
        let series = self.series.get(metric)?;
        if series.is_empty() {
            return None;
        }
        let values = series.iter().map(|p| p.1);
        match stat {
            "max" => values.reduce(f64::max),
            "mean" => Some(values.sum::<f64>() / series.len() as f64),
            "last" => series.last().map(|p| p.1),
            _ => None,
        }
    }
}

/// Peak resident memory of this process so far, in MiB (Linux; 0 elsewhere): the figure runs,
/// examples and peers report beside their wall time.
pub fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_within_the_histograms_precision() {
        let mut h = Hist::new(3);
        for v in 1..=100_000u64 {
            h.record_ms(v);
        }
        let s = h.summary();
        assert_eq!(s.count, 100_000);
        assert!((s.p50_s - 50.0).abs() / 50.0 < 0.001, "{}", s.p50_s);
        assert!((s.p99_s - 99.0).abs() / 99.0 < 0.001, "{}", s.p99_s);
        assert!((s.mean_s - 50.0).abs() < 0.1);
    }

    #[test]
    fn memory_stays_constant_as_values_pile_up() {
        let mut h = Hist::new(3);
        for v in 0..10_000u64 {
            h.record_ms(v * 997 % 3_600_000);
        }
        let before = h.memory_bytes();
        for v in 0..1_000_000u64 {
            h.record_ms(v * 997 % 3_600_000);
        }
        assert!(h.memory_bytes() <= before * 2);
        assert_eq!(h.count(), 1_010_000);
    }

    #[test]
    fn out_of_range_values_are_clamped_and_counted() {
        let mut h = Hist::new(2);
        h.record_ms(u64::MAX / 2);
        assert_eq!((h.count(), h.clamped), (1, 1));
    }

    #[test]
    fn cdf_ends_at_one_and_rises() {
        let mut h = Hist::new(3);
        for v in [5, 5, 10, 2000, 3000] {
            h.record_ms(v);
        }
        let cdf = h.cdf(100);
        assert_eq!(cdf.last().unwrap().1, 1.0);
        assert!(cdf.windows(2).all(|w| w[0].0 <= w[1].0 && w[0].1 <= w[1].1));
    }

    #[test]
    fn stats_come_from_the_right_kind_of_metric() {
        let mut m = Metrics::default();
        m.hist("a_s").record_ms(1500);
        m.set("b", 0.25);
        m.push("c", 0.0, 3.0);
        m.push("c", 1.0, 5.0);
        assert_eq!(m.stat("a_s", "max"), Some(1.5));
        assert_eq!(m.stat("b", "value"), Some(0.25));
        assert_eq!(m.stat("c", "mean"), Some(4.0));
        assert_eq!(m.stat("c", "last"), Some(5.0));
        assert_eq!(m.stat("missing", "value"), None);
    }
}
