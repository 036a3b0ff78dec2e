//! The exact answer: maximal covering as an integer programme, solved to proven optimality by
//! HiGHS.
//!
//! Each grid's coverage is a step function of the distance to its nearest post (tiers and hours
//! whose radius reaches it). With the grid's reachable candidates sorted by how much they would
//! cover, each distinct level `l` becomes a continuous column `y_l`, weighted by the level's
//! increment of demand, with the chained row `y_l ≤ y_{l-1} + Σ x_j` over the candidates that
//! first reach the grid at that level. Summed over a grid's levels the increments telescope to
//! the coverage of its nearest chosen post, so the programme's objective equals
//! [`Instance::coverage`] for every layout. The chain gives the same LP bound as the textbook
//! row `y_l ≤ Σ x_j` over every candidate reaching level `l`, with one entry per reach pair
//! instead of one per pair and level (a fifth of the non-zeros on the district). A first level
//! with a single candidate is folded into that candidate's own coefficient.
//!
//! The formulation is plain data and always built; the solver sits behind the `exact` feature,
//! because HiGHS is C++ built from source (it needs cmake and libclang, which a bare machine lacks).

use crate::Instance;

/// The sparse programme: candidate columns `x_j`, one continuous column per coverage level.
pub struct Formulation {
    /// Objective coefficient of each candidate (a grid's single-candidate first level, folded in).
    pub direct: Vec<f64>,
    /// Objective weight of each level's column (share of total demand).
    pub weight: Vec<f64>,
    /// The same grid's previous level, whose column bounds this one's too.
    pub prev: Vec<Option<u32>>,
    /// Level `r`'s new candidates are `members[start[r]..start[r + 1]]`.
    pub start: Vec<usize>,
    pub members: Vec<u32>,
}

impl Formulation {
    pub fn new(inst: &Instance) -> Formulation {
        let n = inst.demand.len();
        // Transpose the reach lists: each grid's candidates and the coverage each would give.
        let mut by_grid: Vec<Vec<(f64, u32)>> = vec![Vec::new(); n];
        for (j, list) in inst.reach.iter().enumerate() {
            for &(i, d) in list {
                let c = inst.cover(d as f64);
                if c > 0.0 && inst.demand[i as usize] > 0.0 {
                    by_grid[i as usize].push((c, j as u32));
                }
            }
        }
        let mut f = Formulation {
            direct: vec![0.0; inst.candidates.len()],
            weight: Vec::new(),
            prev: Vec::new(),
            start: vec![0],
            members: Vec::new(),
        };
        for (i, mut list) in by_grid.into_iter().enumerate() {
            // Best coverage first; ties by candidate so the programme is reproducible.
            list.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            let scale = inst.demand[i] / inst.total_demand;
            let (mut k, mut prev, mut carry) = (0, None, None);
            while k < list.len() {
                let (from, level) = (k, list[k].0);
                while k < list.len() && list[k].0 >= level {
                    k += 1;
                }
                let next = list.get(k).map_or(0.0, |e| e.0);
                let w = scale * (level - next);
                if from == 0 && k == 1 {
                    // y_1 <= x_j: the level is the candidate's own.
                    f.direct[list[0].1 as usize] += w;
                    carry = Some(list[0].1);
                    continue;
                }
                f.weight.push(w);
                f.prev.push(prev);
                f.members.extend(carry.take());
                f.members.extend(list[from..k].iter().map(|e| e.1));
                f.start.push(f.members.len());
                prev = Some(f.weight.len() as u32 - 1);
            }
        }
        f
    }

    pub fn rows(&self) -> usize {
        self.weight.len()
    }

    /// Matrix entries: each row's new candidates, its own column and its predecessor's, and
    /// the budget row.
    pub fn nonzeros(&self) -> usize {
        self.members.len()
            + self.weight.len()
            + self.prev.iter().filter(|p| p.is_some()).count()
            + self.direct.len()
    }

    /// The programme's objective for a layout, with each level's column at its largest
    /// feasible value.
    pub fn value(&self, chosen: &[usize]) -> f64 {
        let mut on = vec![false; self.direct.len()];
        for &j in chosen {
            on[j] = true;
        }
        let levels = self.levels(&on);
        chosen.iter().map(|&j| self.direct[j]).sum::<f64>()
            + (0..self.rows())
                .filter(|&r| levels[r])
                .map(|r| self.weight[r])
                .sum::<f64>()
    }

    /// Which levels a layout reaches (rows come after their predecessors).
    fn levels(&self, on: &[bool]) -> Vec<bool> {
        let mut y = vec![false; self.rows()];
        for r in 0..self.rows() {
            y[r] = self.prev[r].is_some_and(|p| y[p as usize])
                || self.members[self.start[r]..self.start[r + 1]]
                    .iter()
                    .any(|&j| on[j as usize]);
        }
        y
    }
}

/// How the solver stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExactStatus {
    /// The layout is optimal: the solver's bound meets it.
    Optimal,
    /// The time limit came first: the layout is the best found, the bound is still valid.
    TimeLimit,
}

/// What the exact solver found.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Exact {
    pub status: ExactStatus,
    pub layout: Vec<usize>,
    /// Coverage of the layout, re-evaluated on the instance.
    pub coverage: f64,
    /// The solver's proven upper bound on any layout's coverage.
    pub bound: f64,
    /// (bound - coverage) / bound.
    pub gap: f64,
    pub rows: usize,
    pub columns: usize,
    pub nonzeros: usize,
    pub build_s: f64,
    pub solve_s: f64,
}

/// Limits for the exact solve.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub time_s: f64,
    /// Solver threads (0: HiGHS chooses).
    pub threads: u32,
}

/// Solve the programme for `budget` posts with HiGHS (through the `highs` crate, the binding
/// good_lp uses: it is used directly because the report needs the solver's dual bound and node
/// count, which good_lp's solution type does not carry). `warm` — a heuristic layout — is passed
/// as the incumbent, so the solver only has to prove or beat it.
#[cfg(feature = "exact")]
pub fn solve(
    inst: &Instance,
    budget: usize,
    warm: Option<&[usize]>,
    limits: Limits,
) -> Result<Exact, String> {
    use highs::{HighsModelStatus, RowProblem, Sense};
    use std::time::Instant;

    let started = Instant::now();
    let f = Formulation::new(inst);
    let p = budget.min(inst.candidates.len());
    let mut problem = RowProblem::default();
    let x: Vec<_> = f
        .direct
        .iter()
        .map(|&c| problem.add_integer_column(c, 0.0..=1.0))
        .collect();
    let y: Vec<_> = f
        .weight
        .iter()
        .map(|&w| problem.add_column(w, 0.0..=1.0))
        .collect();
    problem.add_row(p as f64..=p as f64, x.iter().map(|&c| (c, 1.0)));
    for (r, &yr) in y.iter().enumerate() {
        let members = &f.members[f.start[r]..f.start[r + 1]];
        problem.add_row(
            ..=0.0,
            std::iter::once((yr, 1.0))
                .chain(f.prev[r].map(|p| (y[p as usize], -1.0)))
                .chain(members.iter().map(|&j| (x[j as usize], -1.0))),
        );
    }
    let (rows, columns) = (problem.num_rows(), problem.num_cols());
    let mut model = problem.optimise(Sense::Maximise);
    model.make_quiet();
    // Proven optimal: no relative gap allowed; HiGHS's absolute tolerance (1e-6 of the share
    // covered) is what "equal" means.
    model.set_option("mip_rel_gap", 0.0);
    model.set_option("time_limit", limits.time_s);
    model.set_option("random_seed", 0);
    if limits.threads > 0 {
        model.set_option("threads", limits.threads as i32);
    }
    if let Some(warm) = warm {
        let mut on = vec![false; f.direct.len()];
        for &j in warm.iter().take(p) {
            on[j] = true;
        }
        let cols: Vec<f64> = on
            .iter()
            .chain(&f.levels(&on))
            .map(|&b| if b { 1.0 } else { 0.0 })
            .collect();
        model
            .try_set_solution(Some(&cols), None, None, None)
            .map_err(|e| format!("HiGHS refused the warm start: {e:?}"))?;
    }
    let build_s = started.elapsed().as_secs_f64();
    let solved = model
        .try_solve()
        .map_err(|e| format!("HiGHS failed: {e:?}"))?;
    let solve_s = started.elapsed().as_secs_f64() - build_s;
    let status = match solved.status() {
        HighsModelStatus::Optimal => ExactStatus::Optimal,
        HighsModelStatus::ReachedTimeLimit => ExactStatus::TimeLimit,
        other => return Err(format!("HiGHS stopped with {other:?}")),
    };
    let solution = solved.get_solution();
    let layout: Vec<usize> = solution.columns()[..f.direct.len()]
        .iter()
        .enumerate()
        .filter(|(_, v)| **v > 0.5)
        .map(|(j, _)| j)
        .collect();
    let coverage = inst.coverage(&layout);
    let dual = solved
        .double_info_value(c"mip_dual_bound")
        .map_err(|e| format!("HiGHS has no dual bound: {e:?}"))?;
    // The bound can sit a rounding error below the incumbent when the two meet.
    let bound = dual.max(coverage).min(1.0);
    Ok(Exact {
        status,
        layout,
        coverage,
        bound,
        gap: (bound - coverage) / bound.max(1e-12),
        rows,
        columns,
        nonzeros: f.nonzeros(),
        build_s,
        solve_s,
    })
}
