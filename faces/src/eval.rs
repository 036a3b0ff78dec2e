//! NIST-style 1:N identification metrics (FRVT/FRTE 1:N vocabulary).
//!
//! * **FPIR(t)** — share of *non-mated* searches (subject not on the list)
//!   returning at least one candidate with score `>= t`.
//! * **FNIR(t)** — share of *mated* searches whose mate is not among the
//!   returned candidates (the search's top-k) with score `>= t`.
//! * **Rank-1 miss rate** — share of mated searches whose top candidate
//!   (highest score, ties to the lowest entry) is not the mate, or that
//!   returned nothing. Threshold-independent (it only depends on what the
//!   search returned).
//!
//! Every rate comes as a [`Proportion`] with its binomial standard error
//! `sqrt(p (1 − p) / n)`. NaN scores are treated as absent candidates.

use serde::{Deserialize, Serialize};

/// One candidate a search returned: the entry's position in the list and its score.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Hit {
    pub entry: u32,
    pub score: f32,
}

/// One search as seen by the evaluator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Search {
    /// The mate's entry id if the searched person is on the list.
    pub mate: Option<u32>,
    /// What the search returned (top-k, any order).
    pub hits: Vec<Hit>,
}

impl Search {
    /// A search from what an index returned, as `(entry, score)` pairs.
    pub fn new(mate: Option<u32>, hits: impl IntoIterator<Item = (u32, f32)>) -> Search {
        Search {
            mate,
            hits: hits
                .into_iter()
                .map(|(entry, score)| Hit { entry, score })
                .collect(),
        }
    }
}

/// A count out of `n`, its rate and the rate's standard error.
/// With `n = 0`, `rate` and `se` are NaN.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Proportion {
    pub count: usize,
    pub n: usize,
    pub rate: f64,
    pub se: f64,
}

impl Proportion {
    pub fn new(count: usize, n: usize) -> Self {
        if n == 0 {
            return Proportion {
                count,
                n,
                rate: f64::NAN,
                se: f64::NAN,
            };
        }
        let rate = count as f64 / n as f64;
        Proportion {
            count,
            n,
            rate,
            se: standard_error(rate, n),
        }
    }
}

/// Standard error of a proportion: `sqrt(p (1 − p) / n)` (NaN for n = 0).
pub fn standard_error(p: f64, n: usize) -> f64 {
    if n == 0 {
        return f64::NAN;
    }
    (p * (1.0 - p) / n as f64).sqrt()
}

/// Metrics at one threshold.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    pub threshold: f32,
    pub fpir: Proportion,
    pub fnir: Proportion,
    pub rank1_miss: Proportion,
}

/// One point of a DET curve.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DetPoint {
    pub threshold: f32,
    pub fpir: Proportion,
    pub fnir: Proportion,
}

/// Highest non-NaN score among `hits`, `None` if there is none.
pub fn top_score(hits: &[Hit]) -> Option<f32> {
    hits.iter()
        .map(|h| h.score)
        .filter(|s| !s.is_nan())
        .reduce(f32::max)
}

/// Score of `mate` among `hits` (highest if repeated), `None` if absent.
pub fn mate_score(hits: &[Hit], mate: u32) -> Option<f32> {
    hits.iter()
        .filter(|h| h.entry == mate && !h.score.is_nan())
        .map(|h| h.score)
        .reduce(f32::max)
}

/// Top candidate: highest score, ties to the lowest entry.
fn top_hit(hits: &[Hit]) -> Option<Hit> {
    hits.iter()
        .filter(|h| !h.score.is_nan())
        .copied()
        .reduce(|a, b| {
            if b.score > a.score || (b.score == a.score && b.entry < a.entry) {
                b
            } else {
                a
            }
        })
}

/// FPIR, FNIR and rank-1 miss rate at `threshold`.
pub fn evaluate(searches: &[Search], threshold: f32) -> Metrics {
    let (mut nm, mut fp, mut m, mut fn_, mut r1) = (0, 0, 0, 0, 0);
    for s in searches {
        match s.mate {
            None => {
                nm += 1;
                if top_score(&s.hits).is_some_and(|t| t >= threshold) {
                    fp += 1;
                }
            }
            Some(mate) => {
                m += 1;
                if !mate_score(&s.hits, mate).is_some_and(|t| t >= threshold) {
                    fn_ += 1;
                }
                if top_hit(&s.hits).is_none_or(|h| h.entry != mate) {
                    r1 += 1;
                }
            }
        }
    }
    Metrics {
        threshold,
        fpir: Proportion::new(fp, nm),
        fnir: Proportion::new(fn_, m),
        rank1_miss: Proportion::new(r1, m),
    }
}

/// DET curve: FPIR and FNIR at each of `thresholds` (in the given order).
/// O((searches + thresholds) log searches).
pub fn det(searches: &[Search], thresholds: &[f32]) -> Vec<DetPoint> {
    let mut non_mated = Vec::new();
    let mut mated = Vec::new();
    let (mut n_nm, mut n_m) = (0, 0);
    for s in searches {
        match s.mate {
            None => {
                n_nm += 1;
                non_mated.extend(top_score(&s.hits));
            }
            Some(mate) => {
                n_m += 1;
                mated.extend(mate_score(&s.hits, mate));
            }
        }
    }
    non_mated.sort_unstable_by(f32::total_cmp);
    mated.sort_unstable_by(f32::total_cmp);
    // `v` is NaN-free and ascending; nothing is `>=` a NaN threshold.
    let count_ge = |v: &[f32], t: f32| {
        if t.is_nan() {
            0
        } else {
            v.len() - v.partition_point(|&x| x < t)
        }
    };
    thresholds
        .iter()
        .map(|&t| DetPoint {
            threshold: t,
            fpir: Proportion::new(count_ge(&non_mated, t), n_nm),
            fnir: Proportion::new(n_m - count_ge(&mated, t), n_m),
        })
        .collect()
}

/// Top score of every non-mated search (`-inf` where it returned nothing),
/// the input of [`threshold_at_fpir`].
pub fn non_mated_top_scores(searches: &[Search]) -> Vec<f32> {
    searches
        .iter()
        .filter(|s| s.mate.is_none())
        .map(|s| top_score(&s.hits).unwrap_or(f32::NEG_INFINITY))
        .collect()
}

/// Empirical threshold for a target FPIR: the smallest `t` (as f32) such
/// that the share of `non_mated_top_scores` `>= t` is at most
/// `target_fpir`. NaN scores count as "no candidate". Returns `-inf` when
/// the target allows every search to be a false positive, `+inf` for an
/// empty input or a NaN target.
pub fn threshold_at_fpir(non_mated_top_scores: &[f32], target_fpir: f64) -> f32 {
    let n = non_mated_top_scores.len();
    if n == 0 || target_fpir.is_nan() {
        return f32::INFINITY;
    }
    // Allowed false positives (a tiny tolerance absorbs target*n rounding).
    let allowed = (target_fpir.max(0.0) * n as f64 + 1e-9).floor();
    if allowed >= n as f64 {
        return f32::NEG_INFINITY;
    }
    let m = allowed as usize;
    let mut s: Vec<f32> = non_mated_top_scores
        .iter()
        .map(|&x| if x.is_nan() { f32::NEG_INFINITY } else { x })
        .collect();
    // Descending; the (m+1)-th largest must fall below the threshold.
    s.sort_unstable_by(|a, b| b.total_cmp(a));
    s[m].next_up()
}
