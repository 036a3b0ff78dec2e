//! `twin fuzz --minutes M`: random valid scenarios at a tenth of the district or more, run one
//! after another until the time is spent, each checked against every invariant of the run and
//! for commands the stack refused. A failure is shrunk (proptest's value trees: a smaller scale,
//! a shorter run, fewer surges, disruptions and faults) and written as a scenario file that `twin
//! run` reproduces. The CI's property test runs the small scales; this is the long mode.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use baoan_scenarios::Scenario;
use baoan_scenarios::strategies::{LARGE_SCALES, large_scenario};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde::Serialize;

use crate::{Progress, RunError, RunOptions, run_scenario};

/// How a fuzz run goes.
#[derive(Debug, Clone)]
pub struct FuzzOptions {
    pub duration: Duration,
    /// Where the shrunk failures and fuzz.json go.
    pub out: PathBuf,
    /// Seeds the draws: the same seed draws the same scenarios in the same order.
    pub seed: u64,
    /// The most re-runs spent shrinking one failure.
    pub max_shrink_runs: u32,
    pub quiet: bool,
}

/// What a fuzz run did (fuzz.json).
#[derive(Debug, Clone, Serialize)]
pub struct FuzzSummary {
    pub seed: u64,
    pub minutes: f64,
    pub cases: u64,
    /// Cases by scale, in `LARGE_SCALES` order.
    pub cases_by_scale: Vec<(f64, u64)>,
    /// Simulated hours run in all.
    pub simulated_hours: f64,
    pub failures: Vec<FuzzFailure>,
}

/// One kind of failure (what broke, up to the first parenthesis), shrunk from the first case that
/// showed it; later cases that break the same way are counted, not shrunk again.
#[derive(Debug, Clone, Serialize)]
pub struct FuzzFailure {
    /// Cases that failed this way.
    pub cases: u64,
    /// The seeds of the scenarios that failed this way, as drawn.
    pub seeds: Vec<u64>,
    /// The scenario file that reproduces it (`twin run FILE`).
    pub file: PathBuf,
    /// What broke, in the smallest scenario that still breaks it.
    pub what: String,
    /// What broke in the scenario as first drawn.
    pub first: String,
    pub shrink_runs: u32,
}

/// At most this many characters of what broke go to the log, fuzz.json and the file's header
/// (an invariant's detail can list thousands of refusals).
const WHAT_CHARS: usize = 400;

fn shortened(what: String) -> String {
    match what.char_indices().nth(WHAT_CHARS) {
        Some((cut, _)) => format!("{} …", &what[..cut]),
        None => what,
    }
}

/// What one scenario run found wrong, if anything. SLOs are not checked: a random scenario may
/// well miss its targets; an invariant may not break, and no command may be refused.
fn check(scenario: &Scenario, scratch: &Path) -> Result<(), String> {
    let opts = RunOptions {
        out: Some(scratch.to_path_buf()),
        progress: Progress::Quiet,
        ..RunOptions::default()
    };
    let summary = match run_scenario(scenario.clone(), &opts) {
        Ok(s) => s,
        // A random valid scenario must run: an error is a finding.
        Err(e) => return Err(format!("the run failed: {e}")),
    };
    let broken: Vec<String> = summary
        .report
        .invariants
        .iter()
        .filter(|i| !i.holds)
        .map(|i| format!("invariant broken: {} ({})", i.name, i.detail))
        .collect();
    if let Some(first) = broken.first() {
        return Err(shortened(first.clone()));
    }
    let refused = summary
        .report
        .sections
        .get("grid")
        .and_then(|g| g["counts"]["refused"].as_u64());
    match refused {
        Some(0) | None => Ok(()),
        Some(n) => Err(format!("the stack refused {n} grid commands")),
    }
}

/// Draws and runs scenarios until `opts.duration` is spent; shrinks and writes each failure.
pub fn fuzz(opts: &FuzzOptions) -> Result<FuzzSummary, RunError> {
    fuzz_with(opts, check)
}

/// `fuzz` with the check given (the tests give one that needs no run).
fn fuzz_with(
    opts: &FuzzOptions,
    check: impl Fn(&Scenario, &Path) -> Result<(), String>,
) -> Result<FuzzSummary, RunError> {
    std::fs::create_dir_all(&opts.out)
        .map_err(|e| RunError::Harness(format!("{}: cannot create it: {e}", opts.out.display())))?;
    let scratch = opts.out.join("last-run");
    let mut seed_bytes = [0u8; 32];
    seed_bytes[..8].copy_from_slice(&opts.seed.to_le_bytes());
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes),
    );
    let strategy = large_scenario();
    let started = Instant::now();
    let mut summary = FuzzSummary {
        seed: opts.seed,
        minutes: opts.duration.as_secs_f64() / 60.0,
        cases: 0,
        cases_by_scale: LARGE_SCALES.iter().map(|&s| (s, 0)).collect(),
        simulated_hours: 0.0,
        failures: Vec::new(),
    };
    while started.elapsed() < opts.duration {
        let mut tree = strategy
            .new_tree(&mut runner)
            .map_err(|e| RunError::Harness(format!("cannot draw a scenario: {e}")))?;
        let scenario = tree.current();
        summary.cases += 1;
        if let Some(slot) = summary
            .cases_by_scale
            .iter_mut()
            .find(|(s, _)| *s == scenario.scale)
        {
            slot.1 += 1;
        }
        summary.simulated_hours += scenario.duration.ms() as f64 / 3.6e6;
        let t = Instant::now();
        let outcome = check(&scenario, &scratch);
        if !opts.quiet {
            eprintln!(
                "fuzz: case {} (scale {}, {:.0} h, seed {}): {} in {:.1} s; {:.1} min left",
                summary.cases,
                scenario.scale,
                scenario.duration.ms() as f64 / 3.6e6,
                scenario.seed,
                if outcome.is_ok() { "ok" } else { "FAILED" },
                t.elapsed().as_secs_f64(),
                opts.duration
                    .saturating_sub(started.elapsed())
                    .as_secs_f64()
                    / 60.0
            );
        }
        if let Err(first) = outcome {
            let kind = |w: &str| w.split(" (").next().unwrap_or(w).to_string();
            if let Some(seen) = summary
                .failures
                .iter_mut()
                .find(|f| kind(&f.first) == kind(&first))
            {
                seen.cases += 1;
                seen.seeds.push(scenario.seed);
                continue;
            }
            let number = summary.failures.len() + 1;
            let mut failure = shrink(&mut tree, first, opts, &scratch, number, &check)?;
            failure.seeds.push(scenario.seed);
            eprintln!(
                "fuzz: failure {}: {}\nfuzz: reproduce with `twin run {}`",
                summary.failures.len() + 1,
                failure.what,
                failure.file.display()
            );
            summary.failures.push(failure);
        }
    }
    let _ = std::fs::remove_dir_all(&scratch);
    let json = serde_json::to_string_pretty(&summary).expect("the summary serialises");
    std::fs::write(opts.out.join("fuzz.json"), json + "\n").map_err(|e| {
        RunError::Harness(format!(
            "{}: cannot write fuzz.json: {e}",
            opts.out.display()
        ))
    })?;
    Ok(summary)
}

/// proptest's shrinking by hand: simplify while the scenario still fails, complicate back when
/// a simplification made it pass; at most `max_shrink_runs` re-runs.
fn shrink(
    tree: &mut impl ValueTree<Value = Scenario>,
    first: String,
    opts: &FuzzOptions,
    scratch: &Path,
    number: usize,
    check: &impl Fn(&Scenario, &Path) -> Result<(), String>,
) -> Result<FuzzFailure, RunError> {
    let mut smallest = tree.current();
    let mut what = first.clone();
    let mut runs = 0;
    if tree.simplify() {
        while runs < opts.max_shrink_runs {
            runs += 1;
            let candidate = tree.current();
            let still = check(&candidate, scratch);
            if !opts.quiet {
                eprintln!(
                    "fuzz: shrinking {runs}/{} (scale {}, {:.0} h): {}",
                    opts.max_shrink_runs,
                    candidate.scale,
                    candidate.duration.ms() as f64 / 3.6e6,
                    if still.is_err() {
                        "still fails"
                    } else {
                        "passes"
                    }
                );
            }
            let more = match still {
                Err(w) => {
                    smallest = candidate;
                    what = w;
                    tree.simplify()
                }
                Ok(()) => tree.complicate(),
            };
            if !more {
                break;
            }
        }
    }
    let file = opts.out.join(format!("failure-{number}.toml"));
    let text = format!(
        "# Found by `twin fuzz` (seed {}), shrunk in {runs} re-runs.\n# {}\n{}",
        opts.seed,
        what.replace('\n', " "),
        smallest.to_toml()
    );
    std::fs::write(&file, text)
        .map_err(|e| RunError::Harness(format!("{}: cannot write it: {e}", file.display())))?;
    Ok(FuzzFailure {
        cases: 1,
        seeds: Vec::new(),
        file,
        what,
        first,
        shrink_runs: runs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A failure that needs scale ≥ 0.15 and over two hours shrinks to exactly that: the smallest
    /// scale and the shortest run that still fail, written as a scenario file that parses; a
    /// second case failing the same way is counted, not shrunk again.
    #[test]
    fn a_failure_is_shrunk_to_the_smallest_scenario_that_still_fails() {
        let out = std::env::temp_dir().join(format!("baoan-fuzz-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&out);
        let opts = FuzzOptions {
            duration: Duration::from_millis(300),
            out: out.clone(),
            seed: 3,
            max_shrink_runs: 200,
            quiet: true,
        };
        let fails = |s: &Scenario, _: &Path| {
            if s.scale >= 0.15 && s.duration.ms() > 2 * 3_600_000 {
                Err(format!("too big (scale {})", s.scale))
            } else {
                Ok(())
            }
        };
        let summary = fuzz_with(&opts, fails).unwrap();
        assert!(summary.cases >= 2, "{summary:?}");
        let [failure] = summary.failures.as_slice() else {
            panic!("one kind of failure: {summary:?}")
        };
        let text = std::fs::read_to_string(&failure.file).unwrap();
        let shrunk = Scenario::parse("failure-1.toml", &text).unwrap();
        assert_eq!(shrunk.scale, 0.15);
        assert_eq!(shrunk.duration.ms(), 3 * 3_600_000);
        assert!(
            shrunk.surges.is_empty() && shrunk.faults.is_empty(),
            "{text}"
        );
        assert_eq!(failure.cases as usize, failure.seeds.len());
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("fuzz.json")).unwrap()).unwrap();
        assert_eq!(json["cases"], summary.cases);
        std::fs::remove_dir_all(&out).unwrap();
    }
}
