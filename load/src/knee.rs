//! Finding the knee: the highest offered rate at which the stack still answers within its p99
//! SLO without errors beyond the budget.

use std::time::Duration;

use serde::Serialize;

use crate::engine::{RateSpec, StepResult, run_step, step_line};
use crate::setup::{DEFAULT_GRIDS, prepare};
use crate::{LoadError, LoadTarget, runtime};

/// How the offered rate grows from one step to the next.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RateGrowth {
    /// Multiply by this (above 1): quick to bracket an unknown knee.
    Factor(f64),
    /// Add this many reports per second: fine resolution around a known one.
    Step(f64),
}

/// A knee search: rates from `start_rate` up to `max_rate`, each held for `warmup` then measured
/// for `step_duration`, judged against the corrected p99 SLO and the error budget.
#[derive(Debug, Clone, PartialEq)]
pub struct KneeSpec {
    pub start_rate: f64,
    pub max_rate: f64,
    pub growth: RateGrowth,
    pub step_duration: Duration,
    pub warmup: Duration,
    pub connections: usize,
    /// The SLO on the corrected p99 (what a caller on the timetable waits), in milliseconds.
    pub slo_p99_ms: f64,
    /// Largest share of requests not answered 2xx that a step may have and still pass.
    pub max_error_rate: f64,
    /// Per-request timeout (see `RateSpec::timeout`).
    pub timeout: Duration,
    /// One line on stderr per step.
    pub progress: bool,
}

impl Default for KneeSpec {
    fn default() -> Self {
        KneeSpec {
            start_rate: 100.0,
            max_rate: 100_000.0,
            growth: RateGrowth::Factor(1.5),
            step_duration: Duration::from_secs(20),
            warmup: Duration::from_secs(5),
            connections: 64,
            slo_p99_ms: 100.0,
            max_error_rate: 0.001,
            timeout: Duration::from_secs(10),
            progress: true,
        }
    }
}

impl KneeSpec {
    fn check(&self) -> Result<(), LoadError> {
        let bad = |m: String| Err(LoadError::BadSpec(m));
        if !(self.start_rate > 0.0 && self.start_rate.is_finite()) {
            return bad(format!(
                "start rate: expected above 0, got {}",
                self.start_rate
            ));
        }
        if !(self.max_rate >= self.start_rate && self.max_rate.is_finite()) {
            return bad(format!(
                "max rate: expected at least the start rate ({}), got {}",
                self.start_rate, self.max_rate
            ));
        }
        match self.growth {
            RateGrowth::Factor(f) if !(f > 1.0 && f.is_finite()) => {
                return bad(format!("rate factor: expected above 1, got {f}"));
            }
            RateGrowth::Step(s) if !(s > 0.0 && s.is_finite()) => {
                return bad(format!("rate step: expected above 0, got {s}"));
            }
            _ => {}
        }
        if self.slo_p99_ms.is_nan() || self.slo_p99_ms <= 0.0 {
            return bad(format!(
                "p99 SLO: expected above 0 ms, got {}",
                self.slo_p99_ms
            ));
        }
        if !(0.0..=1.0).contains(&self.max_error_rate) {
            return bad(format!(
                "error budget: expected a share in 0..=1, got {}",
                self.max_error_rate
            ));
        }
        Ok(())
    }

    fn next_rate(&self, rate: f64) -> f64 {
        match self.growth {
            RateGrowth::Factor(f) => rate * f,
            RateGrowth::Step(s) => rate + s,
        }
    }
}

/// How a step fared against the SLO, the error budget and the generator's own check (in that
/// order of precedence: a generator behind says nothing about the server).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepVerdict {
    Meets,
    GeneratorBehind,
    TooManyErrors,
    SloExceeded,
}

/// The verdict on one step.
pub fn step_verdict(step: &StepResult, slo_p99_ms: f64, max_error_rate: f64) -> StepVerdict {
    if step.generator_behind {
        StepVerdict::GeneratorBehind
    } else if step.error_rate > max_error_rate || step.responses == 0 {
        StepVerdict::TooManyErrors
    } else if step.corrected.p99_ms > slo_p99_ms {
        StepVerdict::SloExceeded
    } else {
        StepVerdict::Meets
    }
}

/// The knee of a ramp: the index of the last step meeting the SLO and the error budget with the
/// generator keeping up, in the unbroken run of such steps from the first. A step after a failing
/// one does not count (a ramp stops at its first failure; a lucky later step is noise).
pub fn select_knee(steps: &[StepResult], slo_p99_ms: f64, max_error_rate: f64) -> Option<usize> {
    steps
        .iter()
        .take_while(|s| step_verdict(s, slo_p99_ms, max_error_rate) == StepVerdict::Meets)
        .count()
        .checked_sub(1)
}

/// One step of the ramp with its verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KneeStep {
    pub verdict: StepVerdict,
    #[serde(flatten)]
    pub result: StepResult,
}

/// Why the ramp stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KneeStop {
    /// The step at this rate failed (its verdict says how).
    StepFailed,
    /// Every step up to the maximum rate passed: the knee is above `max_rate`.
    MaxRateReached,
}

/// A knee search's steps and findings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KneeResult {
    pub base_url: String,
    pub slo_p99_ms: f64,
    pub max_error_rate: f64,
    pub connections: usize,
    pub step_duration_s: f64,
    pub warmup_s: f64,
    pub steps: Vec<KneeStep>,
    /// The highest offered rate that met the SLO (see [`select_knee`]); `None` when even the
    /// first step failed.
    pub knee_rate: Option<f64>,
    pub knee_index: Option<usize>,
    pub stop: KneeStop,
    /// The ramp stopped because the generator could not keep its timetable: the knee may be the
    /// generator's, not the server's. The CLI exits 3 on it.
    pub generator_behind: bool,
    /// What the generator-behind check saw, when it fired.
    pub generator_behind_detail: Option<String>,
}

/// Steps the offered rate up from `start_rate` (the set-up once, then one [`RateSpec`] run per
/// step) until a step fails or `max_rate` has been run. Blocking.
pub fn find_knee(target: &LoadTarget, spec: &KneeSpec) -> Result<KneeResult, LoadError> {
    spec.check()?;
    let rt = runtime()?;
    rt.block_on(async {
        let endpoint = target.endpoint().await?;
        prepare(target, &endpoint, DEFAULT_GRIDS).await?;
        let mut steps: Vec<KneeStep> = Vec::new();
        let mut rate = spec.start_rate;
        let stop = loop {
            let step_spec = RateSpec {
                rate,
                duration: spec.step_duration,
                warmup: spec.warmup,
                connections: spec.connections,
                timeout: spec.timeout,
                progress: false,
            };
            let result = run_step(target, &endpoint, &step_spec).await?;
            let verdict = step_verdict(&result, spec.slo_p99_ms, spec.max_error_rate);
            if spec.progress {
                eprintln!(
                    "knee: step {}: {} -> {verdict:?}",
                    steps.len() + 1,
                    step_line(&result)
                );
            }
            steps.push(KneeStep { verdict, result });
            if verdict != StepVerdict::Meets {
                break KneeStop::StepFailed;
            }
            if rate >= spec.max_rate {
                break KneeStop::MaxRateReached;
            }
            rate = spec.next_rate(rate).min(spec.max_rate);
        };
        let results: Vec<StepResult> = steps.iter().map(|s| s.result.clone()).collect();
        let knee_index = select_knee(&results, spec.slo_p99_ms, spec.max_error_rate);
        let behind = steps
            .iter()
            .find(|s| s.verdict == StepVerdict::GeneratorBehind);
        Ok(KneeResult {
            base_url: target.base_url.clone(),
            slo_p99_ms: spec.slo_p99_ms,
            max_error_rate: spec.max_error_rate,
            connections: spec.connections,
            step_duration_s: spec.step_duration.as_secs_f64(),
            warmup_s: spec.warmup.as_secs_f64(),
            knee_rate: knee_index.map(|i| steps[i].result.offered_rate),
            knee_index,
            stop,
            generator_behind: behind.is_some(),
            generator_behind_detail: behind.map(|s| {
                format!(
                    "at an offered {:.0} reports/s, {} of {} sends ({:.1}%) left more than {} ms \
                     late on an idle connection: the generator could not keep its timetable \
                     (give it more cores or run it nearer the server)",
                    s.result.offered_rate,
                    s.result.late_by_generator,
                    s.result.sent,
                    s.result.late_share * 100.0,
                    crate::LATE_TOLERANCE.as_millis()
                )
            }),
            steps,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{LatencySummary, StatusCounts};

    fn step(rate: f64, p99_ms: f64, error_rate: f64, behind: bool) -> StepResult {
        StepResult {
            offered_rate: rate,
            connections: 8,
            duration_s: 10.0,
            warmup_s: 1.0,
            scheduled: 1000,
            sent: 1000,
            responses: 1000,
            status: StatusCounts::default(),
            errors: (error_rate * 1000.0) as u64,
            error_rate,
            achieved_send_rate: rate,
            response_rate: rate,
            reconnects: 0,
            corrected: LatencySummary {
                count: 1000,
                p99_ms,
                ..LatencySummary::default()
            },
            service: LatencySummary::default(),
            late_by_generator: 0,
            late_share: 0.0,
            generator_behind: behind,
            first_error: None,
        }
    }

    #[test]
    fn the_knee_is_the_last_step_meeting_the_slo() {
        let steps = [
            step(100.0, 5.0, 0.0, false),
            step(200.0, 9.0, 0.0, false),
            step(400.0, 60.0, 0.0, false),
            step(800.0, 900.0, 0.0, false),
        ];
        assert_eq!(select_knee(&steps, 50.0, 0.001), Some(1));
        assert_eq!(select_knee(&steps, 100.0, 0.001), Some(2));
        assert_eq!(select_knee(&steps, 1.0, 0.001), None);
        assert_eq!(select_knee(&steps, 1000.0, 0.001), Some(3));
        assert_eq!(select_knee(&[], 1000.0, 0.001), None);
    }

    #[test]
    fn a_step_with_errors_over_the_budget_is_not_a_knee() {
        let steps = [
            step(100.0, 5.0, 0.0, false),
            step(200.0, 6.0, 0.02, false),
            step(400.0, 7.0, 0.0, false),
        ];
        assert_eq!(
            step_verdict(&steps[1], 50.0, 0.01),
            StepVerdict::TooManyErrors
        );
        assert_eq!(select_knee(&steps, 50.0, 0.01), Some(0));
        // Within a looser budget it is.
        assert_eq!(select_knee(&steps, 50.0, 0.05), Some(2));
        let mut silent = step(100.0, 0.0, 0.0, false);
        silent.responses = 0;
        assert_eq!(step_verdict(&silent, 50.0, 1.0), StepVerdict::TooManyErrors);
    }

    #[test]
    fn a_step_where_the_generator_fell_behind_is_not_a_knee() {
        let steps = [step(100.0, 5.0, 0.0, false), step(200.0, 5.0, 0.0, true)];
        assert_eq!(
            step_verdict(&steps[1], 50.0, 0.01),
            StepVerdict::GeneratorBehind
        );
        assert_eq!(select_knee(&steps, 50.0, 0.01), Some(0));
    }

    #[test]
    fn rates_grow_by_factor_or_step_and_specs_are_checked() {
        let mut spec = KneeSpec::default();
        assert_eq!(spec.next_rate(100.0), 150.0);
        spec.growth = RateGrowth::Step(25.0);
        assert_eq!(spec.next_rate(100.0), 125.0);
        spec.growth = RateGrowth::Factor(1.0);
        assert!(spec.check().unwrap_err().to_string().contains("factor"));
        let spec = KneeSpec {
            max_rate: 10.0,
            ..KneeSpec::default()
        };
        assert!(spec.check().unwrap_err().to_string().contains("max rate"));
    }
}
