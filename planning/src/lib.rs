//! Where police posts should go: maximal covering location on the twin's network travel times.
//! A post covers a grid for a tier (auxiliary police on e-bikes within 3 minutes, police by car
//! within 5) in the hours its travel time fits the limit; the objective is the demand-weighted
//! share of emergencies covered, over tiers and hours. Greedy with lazy evaluation builds the
//! budget curve; vertex swaps improve a layout; the submodularity bound says how far from the
//! optimum a layout can at most be.
//!
//! Pure computation on plain vectors: the twin builds the instance, the CLI writes the results.
//! This is written here rather than taken from a solver crate because the objective's structure
//! (one distance threshold per tier and hour) makes incremental evaluation exact and fast.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use serde::Serialize;

pub mod exact;

/// A tier that a post hosts, and how far (network metres) it reaches in each hour.
#[derive(Debug, Clone, Serialize)]
pub struct Tier {
    pub name: String,
    pub weight: f64,
    pub radius_m: [f64; 24],
}

/// A place a post could go: a grid and a point in it.
#[derive(Debug, Clone, Serialize)]
pub struct Candidate {
    pub grid: u32,
    pub x_m: f64,
    pub y_m: f64,
    /// key area, current post, grid site, or a planner's file.
    pub source: String,
}

pub struct Instance {
    /// Expected emergencies per grid per day.
    pub demand: Vec<f64>,
    pub candidates: Vec<Candidate>,
    /// For each candidate, the grids within the largest radius and their distance, by grid.
    pub reach: Vec<Vec<(u32, f32)>>,
    /// Coverage as a step function of distance: (radius, weight of hours and tiers reached).
    steps: Vec<(f64, f64)>,
    total_demand: f64,
}

impl Instance {
    /// `distance(candidate, grid)` gives network metres; only pairs within the largest radius
    /// are kept, so memory follows the coverage lists, not candidates × grids.
    pub fn new(
        demand: Vec<f64>,
        hour_share: [f64; 24],
        tiers: &[Tier],
        candidates: Vec<Candidate>,
        distance: impl Fn(usize, u32) -> f64,
    ) -> Instance {
        let tier_total: f64 = tiers.iter().map(|t| t.weight).sum::<f64>().max(1e-12);
        let mut steps: Vec<(f64, f64)> = tiers
            .iter()
            .flat_map(|t| {
                (0..24).map(move |h| (t.radius_m[h], t.weight / tier_total * hour_share[h]))
            })
            .filter(|(r, w)| *r > 0.0 && *w > 0.0)
            .collect();
        steps.sort_by(|a, b| a.0.total_cmp(&b.0));
        let max_r = steps.last().map_or(0.0, |s| s.0);
        let n = demand.len() as u32;
        let reach = (0..candidates.len())
            .map(|j| {
                (0..n)
                    .filter_map(|i| {
                        let d = distance(j, i);
                        (d <= max_r).then_some((i, d as f32))
                    })
                    .collect()
            })
            .collect();
        let total_demand = demand.iter().sum::<f64>().max(1e-12);
        Instance {
            demand,
            candidates,
            reach,
            steps,
            total_demand,
        }
    }

    /// Share of a grid's demand covered when its nearest post is `d` metres away.
    pub fn cover(&self, d: f64) -> f64 {
        // Steps sorted by radius: everything with radius >= d counts.
        let first = self.steps.partition_point(|s| s.0 < d);
        self.steps[first..].iter().map(|s| s.1).sum()
    }

    /// Demand-weighted share covered by a layout (0..1).
    pub fn coverage(&self, chosen: &[usize]) -> f64 {
        let mut best = vec![f64::INFINITY; self.demand.len()];
        for &j in chosen {
            for &(i, d) in &self.reach[j] {
                best[i as usize] = best[i as usize].min(d as f64);
            }
        }
        self.value(&best)
    }

    fn value(&self, best: &[f64]) -> f64 {
        best.iter()
            .zip(&self.demand)
            .filter(|(b, _)| b.is_finite())
            .map(|(b, d)| d * self.cover(*b))
            .sum::<f64>()
            / self.total_demand
    }

    fn gain(&self, j: usize, best: &[f64]) -> f64 {
        self.reach[j]
            .iter()
            .map(|&(i, d)| {
                let (i, d) = (i as usize, d as f64);
                if d < best[i] {
                    self.demand[i]
                        * (self.cover(d)
                            - if best[i].is_finite() {
                                self.cover(best[i])
                            } else {
                                0.0
                            })
                } else {
                    0.0
                }
            })
            .sum::<f64>()
            / self.total_demand
    }

    /// Grids no candidate can cover in any hour (reported, not a failure).
    pub fn uncoverable(&self) -> Vec<u32> {
        let mut reached = vec![false; self.demand.len()];
        for list in &self.reach {
            for &(i, _) in list {
                reached[i as usize] = true;
            }
        }
        (0..self.demand.len() as u32)
            .filter(|&i| !reached[i as usize] && self.demand[i as usize] > 0.0)
            .collect()
    }
}

#[derive(PartialEq)]
struct Gain(f64, usize, usize);
impl Eq for Gain {}
impl PartialOrd for Gain {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Gain {
    fn cmp(&self, o: &Self) -> Ordering {
        // Largest gain first; ties to the lower candidate index, so runs are reproducible.
        self.0.total_cmp(&o.0).then(o.1.cmp(&self.1))
    }
}

/// Greedy with lazy evaluation: the order posts are added in, and the coverage after each.
/// Coverage is submodular, so a stale gain is an upper bound and need only be refreshed when
/// it reaches the top.
pub fn greedy(inst: &Instance, budget: usize) -> (Vec<usize>, Vec<f64>) {
    let mut best = vec![f64::INFINITY; inst.demand.len()];
    let mut heap: BinaryHeap<Gain> = (0..inst.candidates.len())
        .map(|j| Gain(inst.gain(j, &best), j, 0))
        .collect();
    let (mut chosen, mut curve) = (Vec::new(), Vec::new());
    let mut value = 0.0;
    while chosen.len() < budget.min(inst.candidates.len()) {
        let Some(Gain(g, j, stamp)) = heap.pop() else {
            break;
        };
        if stamp != chosen.len() {
            heap.push(Gain(inst.gain(j, &best), j, chosen.len()));
            continue;
        }
        for &(i, d) in &inst.reach[j] {
            best[i as usize] = best[i as usize].min(d as f64);
        }
        value += g;
        chosen.push(j);
        curve.push(value);
    }
    (chosen, curve)
}

/// Improve a layout by exchanging one post for one candidate while that helps (at most
/// `max_swaps`): each pass tries every outside candidate against the post whose removal then
/// costs least, using each grid's nearest and second-nearest post.
pub fn improve(inst: &Instance, mut chosen: Vec<usize>, max_swaps: usize) -> Vec<usize> {
    let n = inst.demand.len();
    for _ in 0..max_swaps {
        // Nearest and second-nearest chosen post for each grid.
        let mut first = vec![(f64::INFINITY, usize::MAX); n];
        let mut second = vec![f64::INFINITY; n];
        for (k, &j) in chosen.iter().enumerate() {
            for &(i, d) in &inst.reach[j] {
                let (i, d) = (i as usize, d as f64);
                if d < first[i].0 {
                    second[i] = first[i].0;
                    first[i] = (d, k);
                } else if d < second[i] {
                    second[i] = d;
                }
            }
        }
        let cov = |d: f64| if d.is_finite() { inst.cover(d) } else { 0.0 };
        // Loss of removing post k alone: its grids fall back to their second-nearest.
        let mut loss = vec![0.0; chosen.len()];
        for i in 0..n {
            if first[i].1 != usize::MAX {
                loss[first[i].1] += inst.demand[i] * (cov(first[i].0) - cov(second[i]));
            }
        }
        let in_layout: Vec<bool> = {
            let mut v = vec![false; inst.candidates.len()];
            for &j in &chosen {
                v[j] = true;
            }
            v
        };
        let mut best_move: Option<(f64, usize, usize)> = None;
        for j in (0..inst.candidates.len()).filter(|&j| !in_layout[j]) {
            // Adding j: gain on its grids, and a correction to each post's loss where j would
            // become the fallback (or the nearest).
            let mut gain = 0.0;
            let mut correction: Vec<(usize, f64)> = Vec::new();
            for &(i, d) in &inst.reach[j] {
                let (i, d) = (i as usize, d as f64);
                let (d1, k) = first[i];
                if d < d1 {
                    gain += inst.demand[i] * (cov(d) - cov(d1));
                    if k != usize::MAX {
                        // Removing k no longer costs anything here: j serves the grid.
                        correction.push((k, -inst.demand[i] * (cov(d1) - cov(second[i]))));
                    }
                } else if k != usize::MAX && d < second[i] {
                    // j becomes the fallback if k goes.
                    correction.push((k, -inst.demand[i] * (cov(d) - cov(second[i]))));
                }
            }
            let mut adjusted = loss.clone();
            for (k, c) in correction {
                adjusted[k] += c;
            }
            let (k, l) = adjusted
                .iter()
                .enumerate()
                .min_by(|a, b| a.1.total_cmp(b.1).then(a.0.cmp(&b.0)))
                .map(|(k, l)| (k, *l))
                .unwrap_or((0, f64::INFINITY));
            let delta = (gain - l) / inst.total_demand;
            if delta > 1e-12 && best_move.is_none_or(|m| delta > m.0) {
                best_move = Some((delta, j, k));
            }
        }
        match best_move {
            Some((_, j, k)) => chosen[k] = j,
            None => break,
        }
    }
    chosen
}

/// An upper bound on the best coverage any layout of `budget` posts can reach: coverage is
/// monotone and submodular, so OPT ≤ f(S) + the sum of the `budget` largest single gains
/// over S.
pub fn upper_bound(inst: &Instance, chosen: &[usize], budget: usize) -> f64 {
    let mut best = vec![f64::INFINITY; inst.demand.len()];
    for &j in chosen {
        for &(i, d) in &inst.reach[j] {
            best[i as usize] = best[i as usize].min(d as f64);
        }
    }
    let mut gains: Vec<f64> = (0..inst.candidates.len())
        .map(|j| inst.gain(j, &best))
        .collect();
    gains.sort_by(|a, b| b.total_cmp(a));
    (inst.value(&best) + gains.iter().take(budget).sum::<f64>()).min(1.0)
}

/// A tighter upper bound from Lagrangian relaxation, by subgradient descent. Each (grid, step)
/// pair is a demand point that must be within that step's radius of a post; relaxing those
/// constraints with multipliers λ leaves a problem solved by sorting: every multiplier choice
/// gives a bound, and descent drives it down towards the optimum. `lower` is the value of a
/// known layout (it sets the step size); returns the best bound found in `iterations`.
pub fn lagrangian_bound(inst: &Instance, budget: usize, lower: f64, iterations: usize) -> f64 {
    lagrangian(inst, budget, lower, iterations).0
}

/// The Lagrangian bound and, as a by-product, the best layout among the relaxation's choices
/// (every subproblem picks `budget` posts; near the optimal multipliers those picks are good
/// starts for swaps — the classic Lagrangian heuristic).
pub fn lagrangian(
    inst: &Instance,
    budget: usize,
    lower: f64,
    iterations: usize,
) -> (f64, Vec<usize>, f64) {
    // Merge steps of equal radius: one demand point per grid and distinct radius.
    let mut radii: Vec<(f64, f64)> = Vec::new();
    for &(r, w) in &inst.steps {
        match radii.last_mut() {
            Some(last) if (last.0 - r).abs() < 1e-9 => last.1 += w,
            _ => radii.push((r, w)),
        }
    }
    let (n, s) = (inst.demand.len(), radii.len());
    if s == 0 || inst.candidates.is_empty() {
        return (0.0, Vec::new(), 0.0);
    }
    let value: Vec<f64> = (0..n * s)
        .map(|k| inst.demand[k / s] * radii[k % s].1 / inst.total_demand)
        .collect();
    // For each reach entry, the first step whose radius covers it.
    let first: Vec<Vec<(u32, u16)>> = inst
        .reach
        .iter()
        .map(|list| {
            list.iter()
                .map(|&(i, d)| (i, radii.partition_point(|r| r.0 < d as f64) as u16))
                .collect()
        })
        .collect();
    let mut lambda: Vec<f64> = value.iter().map(|v| v * 0.5).collect();
    let mut best = f64::INFINITY;
    let (mut best_layout, mut best_layout_value) = (Vec::new(), f64::NEG_INFINITY);
    let mut theta = 2.0;
    let mut since_improved = 0;
    let p = budget.min(inst.candidates.len());
    let mut suffix = vec![0.0; n * (s + 1)];
    for it in 0..iterations {
        // Suffix sums of λ per grid: what a post at distance step f earns there.
        for i in 0..n {
            suffix[i * (s + 1) + s] = 0.0;
            for k in (0..s).rev() {
                suffix[i * (s + 1) + k] = suffix[i * (s + 1) + k + 1] + lambda[i * s + k];
            }
        }
        let mut gains: Vec<(f64, usize)> = first
            .iter()
            .enumerate()
            .map(|(j, list)| {
                (
                    list.iter()
                        .map(|&(i, f)| suffix[i as usize * (s + 1) + f as usize])
                        .sum::<f64>(),
                    j,
                )
            })
            .collect();
        gains.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        let chosen: Vec<usize> = gains.iter().take(p).map(|g| g.1).collect();
        if it % 5 == 0 {
            let v = inst.coverage(&chosen);
            if v > best_layout_value {
                (best_layout, best_layout_value) = (chosen.clone(), v);
            }
        }
        let bound: f64 = value
            .iter()
            .zip(&lambda)
            .map(|(v, l)| (v - l).max(0.0))
            .sum::<f64>()
            + gains.iter().take(p).map(|g| g.0).sum::<f64>();
        if bound < best - 1e-12 {
            best = bound;
            since_improved = 0;
        } else {
            since_improved += 1;
            if since_improved >= 20 {
                theta /= 2.0;
                since_improved = 0;
            }
        }
        if best - lower <= 1e-9 || theta < 1e-6 {
            break;
        }
        // Subgradient: y_k (taken when v_k > λ_k) minus how many chosen posts cover k.
        let mut covered = vec![0u32; n * s];
        for &j in &chosen {
            for &(i, f) in &first[j] {
                for k in f as usize..s {
                    covered[i as usize * s + k] += 1;
                }
            }
        }
        let grad: Vec<f64> = (0..n * s)
            .map(|k| (value[k] > lambda[k]) as u8 as f64 - covered[k] as f64)
            .collect();
        let norm: f64 = grad.iter().map(|g| g * g).sum();
        if norm == 0.0 {
            break;
        }
        let step = theta * (bound - lower).max(1e-9) / norm;
        for (l, g) in lambda.iter_mut().zip(&grad) {
            *l = (*l + step * g).max(0.0);
        }
    }
    (best.min(1.0), best_layout, best_layout_value.max(0.0))
}

/// The best layout the heuristics find for `budget` posts: greedy then swaps, and the
/// Lagrangian heuristic's pick then swaps; returns the better layout and the Lagrangian bound.
pub fn heuristic(inst: &Instance, budget: usize, iterations: usize) -> (Vec<usize>, f64) {
    let (order, _) = greedy(inst, budget);
    let from_greedy = improve(inst, order, 500);
    let lower = inst.coverage(&from_greedy);
    let (bound, pick, _) = lagrangian(inst, budget, lower, iterations);
    let from_lagrangian = improve(inst, pick, 500);
    let layout = if inst.coverage(&from_lagrangian) > lower + 1e-12 {
        from_lagrangian
    } else {
        from_greedy
    };
    let bound = bound.min(upper_bound(inst, &layout, budget));
    (layout, bound)
}

/// Coverage for every budget from `from` to `to` posts, each layout improved by swaps: the
/// layout for `k + 1` posts starts from the one for `k` plus the best addition (or from greedy's
/// first `k + 1`, when that is better), so the curve never falls and never drops below greedy.
/// Returns (posts, coverage) pairs.
pub fn budget_curve(inst: &Instance, from: usize, to: usize) -> Vec<(usize, f64)> {
    let to = to.min(inst.candidates.len());
    let from = from.max(1);
    if from > to {
        return Vec::new();
    }
    let (order, greedy_curve) = greedy(inst, to);
    let mut layout: Vec<usize> = Vec::new();
    let mut curve = Vec::new();
    for k in from..=to {
        if k > from {
            let mut best = vec![f64::INFINITY; inst.demand.len()];
            let mut taken = vec![false; inst.candidates.len()];
            for &j in &layout {
                taken[j] = true;
                for &(i, d) in &inst.reach[j] {
                    best[i as usize] = best[i as usize].min(d as f64);
                }
            }
            let add = (0..inst.candidates.len())
                .filter(|&j| !taken[j])
                .map(|j| (inst.gain(j, &best), j))
                .max_by(|a, b| a.0.total_cmp(&b.0).then(b.1.cmp(&a.1)));
            if let Some((_, j)) = add {
                layout.push(j);
            }
            layout = improve(inst, layout, 500);
        }
        if k == from || inst.coverage(&layout) < greedy_curve[k - 1] - 1e-12 {
            let restart = improve(inst, order[..k].to_vec(), 500);
            if k == from || inst.coverage(&restart) > inst.coverage(&layout) {
                layout = restart;
            }
        }
        curve.push((k, inst.coverage(&layout)));
    }
    curve
}

/// Every layout of `budget` posts, for tests on small instances.
pub fn brute_force(inst: &Instance, budget: usize) -> (Vec<usize>, f64) {
    fn go(
        inst: &Instance,
        start: usize,
        budget: usize,
        cur: &mut Vec<usize>,
        best: &mut (Vec<usize>, f64),
    ) {
        if cur.len() == budget {
            let v = inst.coverage(cur);
            if v > best.1 + 1e-12 {
                *best = (cur.clone(), v);
            }
            return;
        }
        for j in start..inst.candidates.len() {
            cur.push(j);
            go(inst, j + 1, budget, cur, best);
            cur.pop();
        }
    }
    let mut best = (Vec::new(), 0.0);
    go(
        inst,
        0,
        budget.min(inst.candidates.len()),
        &mut Vec::new(),
        &mut best,
    );
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn instance(points: &[(f64, f64)], demand: Vec<f64>, cands: usize) -> Instance {
        let tiers = [
            Tier {
                name: "auxiliary_police".into(),
                weight: 1.0,
                radius_m: [30.0; 24],
            },
            Tier {
                name: "police".into(),
                weight: 1.0,
                radius_m: std::array::from_fn(|h| if h < 12 { 60.0 } else { 45.0 }),
            },
        ];
        let candidates: Vec<Candidate> = points
            .iter()
            .take(cands)
            .enumerate()
            .map(|(k, p)| Candidate {
                grid: k as u32,
                x_m: p.0,
                y_m: p.1,
                source: "grid site".into(),
            })
            .collect();
        let pts = points.to_vec();
        let cs = candidates.clone();
        Instance::new(demand, [1.0 / 24.0; 24], &tiers, candidates, move |j, i| {
            let (a, b) = ((cs[j].x_m, cs[j].y_m), pts[i as usize]);
            ((a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)).sqrt()
        })
    }

    fn small() -> impl Strategy<Value = (Vec<(f64, f64)>, Vec<f64>, usize, usize)> {
        (4usize..12).prop_flat_map(|n| {
            (
                prop::collection::vec((0.0..150.0f64, 0.0..150.0f64), n),
                prop::collection::vec(0.0..10.0f64, n),
                2..=n,
                1usize..4,
            )
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(150))]

        #[test]
        fn heuristic_never_beats_brute_force_and_the_bound_holds((pts, demand, cands, p) in small()) {
            let inst = instance(&pts, demand, cands);
            let p = p.min(cands);
            let (exact, opt) = brute_force(&inst, p);
            let (g, _) = greedy(&inst, p);
            let improved = improve(&inst, g.clone(), 50);
            let (vg, vi) = (inst.coverage(&g), inst.coverage(&improved));
            prop_assert!(vg <= opt + 1e-9 && vi <= opt + 1e-9, "heuristic {vg} / {vi} above the optimum {opt}");
            prop_assert!(vi + 1e-12 >= vg, "swaps made it worse: {vg} -> {vi}");
            prop_assert!(upper_bound(&inst, &improved, p) + 1e-9 >= opt, "bound below the optimum");
            prop_assert!(lagrangian_bound(&inst, p, vi, 300) + 1e-9 >= opt, "Lagrangian bound below the optimum");
            prop_assert!(greedy(&inst, p).0.len() == p && improved.len() == p && exact.len() == p);
            // Greedy is within 1 - 1/e of the optimum for monotone submodular coverage.
            prop_assert!(vg + 1e-9 >= (1.0 - 1.0 / std::f64::consts::E) * opt);
        }

        #[test]
        fn the_programme_scores_every_layout_as_the_instance_does(
            (pts, demand, cands, p) in small(),
            pick in prop::collection::vec(any::<prop::sample::Index>(), 1..6),
        ) {
            let inst = instance(&pts, demand, cands);
            let f = exact::Formulation::new(&inst);
            let mut layout: Vec<usize> = pick.iter().map(|k| k.index(cands)).collect();
            layout.sort_unstable();
            layout.dedup();
            prop_assert!((f.value(&layout) - inst.coverage(&layout)).abs() < 1e-9,
                "programme {} vs instance {}", f.value(&layout), inst.coverage(&layout));
            let (_, opt) = brute_force(&inst, p.min(cands));
            let (h, bound) = heuristic(&inst, p.min(cands), 300);
            prop_assert!(inst.coverage(&h) <= opt + 1e-9 && bound + 1e-9 >= opt);
        }

        #[test]
        fn coverage_never_falls_as_posts_are_added((pts, demand, cands, _p) in small()) {
            let inst = instance(&pts, demand, cands);
            let (_, curve) = greedy(&inst, cands);
            prop_assert!(curve.windows(2).all(|w| w[1] + 1e-12 >= w[0]));
            let swapped = budget_curve(&inst, 1, cands);
            prop_assert!(swapped.windows(2).all(|w| w[1].1 + 1e-12 >= w[0].1 && w[1].0 == w[0].0 + 1));
            for (k, v) in &swapped {
                prop_assert!(*v + 1e-12 >= curve[k - 1], "swaps fell below greedy at {k}");
                prop_assert!(*v <= brute_force(&inst, *k).1 + 1e-9);
            }
            for k in 1..=cands.min(3) {
                prop_assert!(brute_force(&inst, k).1 + 1e-12 >= brute_force(&inst, k - 1).1);
            }
        }
    }

    #[cfg(feature = "exact")]
    proptest! {
        #![proptest_config(ProptestConfig::with_cases(60))]

        #[test]
        fn the_exact_answer_is_brute_force_and_no_heuristic_beats_it((pts, demand, cands, p) in small()) {
            let inst = instance(&pts, demand, cands);
            let p = p.min(cands);
            let (_, opt) = brute_force(&inst, p);
            let (h, _) = heuristic(&inst, p, 300);
            let limits = exact::Limits { time_s: 60.0, threads: 1 };
            for warm in [None, Some(h.as_slice())] {
                let e = exact::solve(&inst, p, warm, limits).expect("HiGHS solves a small instance");
                prop_assert_eq!(e.status, exact::ExactStatus::Optimal);
                prop_assert_eq!(e.layout.len(), p);
                prop_assert!((e.coverage - opt).abs() < 1e-6, "exact {} vs brute force {opt}", e.coverage);
                prop_assert!(e.bound + 1e-9 >= e.coverage && e.gap <= 1e-6);
                prop_assert!(inst.coverage(&h) <= e.coverage + 1e-6);
            }
        }
    }

    #[test]
    fn cover_counts_tiers_and_hours_within_reach() {
        let inst = instance(&[(0.0, 0.0), (50.0, 0.0)], vec![1.0, 1.0], 1);
        assert!((inst.cover(10.0) - 1.0).abs() < 1e-12);
        // 50 m: only police, and only in the 12 hours with a 60 m radius: half of one tier.
        assert!((inst.cover(50.0) - 0.25).abs() < 1e-12);
        assert_eq!(inst.cover(100.0), 0.0);
        assert!((inst.coverage(&[0]) - (1.0 + 0.25) / 2.0).abs() < 1e-12);
    }
}
