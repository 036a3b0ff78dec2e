//! `twin plan posts`: where the police posts should go for the 1-3-5 rule, how close to the best
//! the layout provably is, and — with `--simulate` — what the full simulation says once units are
//! busy.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use baoan_agents::command::{
    self, CommandConfig, Placement, expected_demand, mode_of, read_posts_csv,
};
use baoan_api::UnitClass;
#[cfg(feature = "exact")]
use baoan_planning::exact::Limits;
use baoan_planning::exact::{Exact, ExactStatus};
use baoan_planning::{Candidate, Instance, Tier, budget_curve, greedy, heuristic};
use baoan_reports::html::{Section, Table};
use baoan_reports::plot::{self, Series};
use baoan_reports::round3;
use baoan_scenarios::Scenario;
use baoan_world::proj::Crs;
use baoan_world::{RngStreams, Twin};
use serde::Serialize;

use crate::{Progress, RunError, RunOptions, check_inputs, load_scenario, resolve_pack};
use baoan_world::pack::Pack;

/// Six decimals: enough to show a gap of 0.01 % and stay byte-stable in plan.json.
fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

#[derive(Debug, Clone)]
pub struct PlanOptions {
    pub scenario: PathBuf,
    pub posts: usize,
    pub current: Option<PathBuf>,
    /// A district pack folder, instead of the scenario's `district`.
    pub pack: Option<PathBuf>,
    /// The datum of lon,lat in `current` and `candidates`.
    pub crs: Crs,
    pub candidates: Option<PathBuf>,
    pub out: Option<PathBuf>,
    pub simulate: bool,
    /// Write the single-radius version of the instance (auxiliary police within 3 minutes at
    /// noon) for a peer solver, and solve it here too.
    pub export_instance: Option<PathBuf>,
    /// Solve the integer programme to proven optimality (needs the `exact` feature).
    pub exact: bool,
    pub time_limit_s: f64,
    /// Give the solver the heuristic's layout as its first incumbent.
    pub warm_start: bool,
    /// Solver threads (0: the solver chooses).
    pub threads: u32,
    pub progress: Progress,
    /// With `simulate`: seeds each layout is simulated on (more than one: a sweep, read with
    /// intervals and the paired difference), and processes at once.
    pub seeds: usize,
    pub jobs: usize,
}

#[cfg(feature = "exact")]
fn solve_exact(inst: &Instance, opts: &PlanOptions, warm: &[usize]) -> Result<Exact, RunError> {
    let f = baoan_planning::exact::Formulation::new(inst);
    opts.progress.message(&format!(
        "solving the integer programme with HiGHS ({} candidates, {} coverage rows, {} non-zeros; time limit {} s)",
        f.direct.len(),
        f.rows(),
        f.nonzeros(),
        opts.time_limit_s
    ));
    let e = baoan_planning::exact::solve(
        inst,
        opts.posts,
        opts.warm_start.then_some(warm),
        Limits {
            time_s: opts.time_limit_s,
            threads: opts.threads,
        },
    )
    .map_err(RunError::Harness)?;
    opts.progress.message(&format!(
        "HiGHS: {:?}, coverage {:.6}, bound {:.6}, {:.1} s",
        e.status, e.coverage, e.bound, e.solve_s
    ));
    Ok(e)
}

const NO_SOLVER: &str = "--exact: this twin was built without the MIP solver; build it with `--features exact` (HiGHS, which needs cmake and libclang: `apt-get install cmake libclang-dev`)";

#[cfg(not(feature = "exact"))]
fn solve_exact(_: &Instance, _: &PlanOptions, _: &[usize]) -> Result<Exact, RunError> {
    Err(RunError::BadInput(NO_SOLVER.into()))
}

#[derive(Debug, Clone, Serialize)]
pub struct PlanReport {
    pub schema: &'static str,
    pub scenario: String,
    pub seed: u64,
    pub scale: f64,
    pub posts: usize,
    pub candidates: usize,
    pub demand_per_day: f64,
    /// Expected share of emergency demand covered (tiers and hours weighted), 0..1.
    pub coverage: f64,
    /// No layout of this many posts can cover more than this (submodularity bound).
    pub upper_bound: f64,
    /// Relative gap to the bound: an upper limit on how far from optimal the layout is.
    pub gap_at_most: f64,
    pub greedy_coverage: f64,
    /// The best heuristic layout (greedy and Lagrangian picks, then swaps).
    pub heuristic_coverage: f64,
    /// With `--exact`: what HiGHS proved.
    pub exact: Option<ExactSummary>,
    pub current_coverage: Option<f64>,
    pub uncoverable_grids: usize,
    pub budget_curve: Vec<(usize, f64)>,
    pub simulated: Vec<SimulatedLayout>,
    /// With `--simulate --seeds N` (N > 1): both layouts over N seeds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub simulated_over_seeds: Option<OverSeeds>,
    pub method: &'static str,
}

/// Current and planned posts simulated on the same seeds (a sweep in `sweep/`): each layout's
/// compliance with its 95% interval, and planned − current seed by seed.
#[derive(Debug, Clone, Serialize)]
pub struct OverSeeds {
    pub seeds: usize,
    pub sweep: String,
    /// Current posts first, then planned.
    pub layouts: Vec<(String, BTreeMap<String, crate::summary::Stats>)>,
    pub planned_minus_current: BTreeMap<String, crate::summary::Stats>,
}

/// The 1-3-5 figures a layout is judged by, as summary.json keys and labels.
pub const LAYOUT_FIGURES: [(&str, &str); 4] = [
    (
        "command.auxiliary_police.within_limit_share",
        "auxiliary police within 3 min",
    ),
    ("command.police.within_limit_share", "police within 5 min"),
    (
        "command.key_area.police.within_limit_share",
        "police within 5 min, key areas",
    ),
    ("command.all_tiers_within_limit_share", "all three tiers"),
];

/// The exact solve in the report (times are in perf.json).
#[derive(Debug, Clone, Serialize)]
pub struct ExactSummary {
    pub status: ExactStatus,
    /// The proven optimum, when the solver finished.
    pub optimum: Option<f64>,
    pub coverage: f64,
    pub bound: f64,
    pub gap: f64,
    /// How far the heuristic's layout is from the solver's bound.
    pub heuristic_gap: f64,
    pub rows: usize,
    pub columns: usize,
    pub nonzeros: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct SimulatedLayout {
    pub layout: String,
    pub expected_coverage: f64,
    pub auxiliary_police_within_3_min: f64,
    pub police_within_5_min: f64,
    pub all_tiers_within_limits: f64,
}

pub(crate) fn tier(name: &str, class: UnitClass, twin: &Twin, assumed: &command::Assumed) -> Tier {
    let mode = mode_of(class);
    let turnout_s = assumed.turnout_s(class);
    let p = twin.travel.modes[mode as usize];
    let budget_s = class.limit_s().expect("a tier") - turnout_s - p.overhead_s;
    // The hour's congestion: the mode's curve, or over real roads the car's per-class curves
    // weighted by how much of its time is on major roads.
    let hour_factor = twin.travel.hour_factors(mode);
    Tier {
        name: name.into(),
        weight: 1.0,
        radius_m: std::array::from_fn(|h| {
            (budget_s * p.speed_m_per_s / (p.street_factor * hour_factor[h])).max(0.0)
        }),
    }
}

fn points_file(
    twin: &Twin,
    path: &Path,
    source: &str,
    crs: Crs,
) -> Result<Vec<Candidate>, RunError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| RunError::BadInput(format!("{}: cannot read: {e}", path.display())))?;
    points_text(twin, &path.display().to_string(), &text, source, crs)
}

fn points_text(
    twin: &Twin,
    file: &str,
    text: &str,
    source: &str,
    crs: Crs,
) -> Result<Vec<Candidate>, RunError> {
    read_posts_csv(file, text, &twin.district.frame, crs)?
        .into_iter()
        .enumerate()
        .map(|(i, p)| match twin.district.grid_at(p) {
            Some(grid) => Ok(Candidate {
                grid,
                x_m: p.x,
                y_m: p.y,
                source: source.into(),
            }),
            None => Err(RunError::BadInput(format!(
                "{file}:{}: ({:.0}, {:.0}) is outside the district",
                i + 2,
                p.x,
                p.y
            ))),
        })
        .collect()
}

fn write_posts(twin: &Twin, layout: &[Candidate], path: &Path) -> Result<(), RunError> {
    let mut s = String::from("lon,lat,crs,x_m,y_m,grid,grid_code,street,community,source\n");
    for c in layout {
        let g = &twin.district.grids[c.grid as usize];
        let (lon, lat) = twin
            .district
            .frame
            .to_lonlat(geo::Coord { x: c.x_m, y: c.y_m });
        s += &format!(
            "{lon:.6},{lat:.6},wgs84,{:.1},{:.1},{},{},{},{},{}\n",
            c.x_m,
            c.y_m,
            g.id,
            g.code,
            twin.district.streets[g.street as usize].name_en,
            twin.district.communities[g.community as usize].name,
            c.source
        );
    }
    std::fs::write(path, s).map_err(|e| RunError::Harness(format!("{}: {e}", path.display())))
}

/// Plan the posts and write posts.csv, plan.json and index.html.
pub fn plan_posts(opts: &PlanOptions) -> Result<PlanReport, RunError> {
    let scenario = load_scenario(&opts.scenario, None, None)?;
    let run_opts = RunOptions {
        pack: opts.pack.clone(),
        ..RunOptions::default()
    };
    let pack = resolve_pack(&scenario, &run_opts)?;
    let config = check_inputs(&scenario, &run_opts, &pack)?
        .ok_or_else(|| RunError::BadInput("the scenario has no command loop to plan for".into()))?;
    check_plan_options(opts)?;
    let area = PlanningArea::build(&scenario, &config, &pack, opts.progress)?;
    let current = current_posts(&area, &pack, opts)?;
    let candidates = candidate_sites(&area, &current, opts, scenario.scale)?;
    let tiers = tiers(&area.twin, &config.assumed);
    let started = Instant::now();
    let inst = area.instance(&tiers, candidates);
    if let Some(dir) = &opts.export_instance {
        export_instance(dir, &area.demand, &inst, &tiers[0], opts, &area.twin)?;
    }
    let solution = solve(&inst, opts, scenario.scale, started)?;
    let current_coverage = {
        let idx: Vec<usize> = current
            .iter()
            .filter_map(|p| inst.candidates.iter().position(|q| q.grid == p.grid))
            .collect();
        Some(round3(inst.coverage(&idx)))
    };
    let out = opts
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("out/plan-{}-{}", scenario.name, opts.posts)));
    std::fs::create_dir_all(&out)
        .map_err(|e| RunError::Harness(format!("{}: {e}", out.display())))?;
    let chosen: Vec<Candidate> = solution
        .layout
        .iter()
        .map(|&j| inst.candidates[j].clone())
        .collect();
    write_posts(&area.twin, &chosen, &out.join("posts.csv"))?;
    write_posts(&area.twin, &current, &out.join("current-posts.csv"))?;
    let simulated = if opts.simulate && opts.seeds <= 1 {
        let expected = (solution.coverage, current_coverage);
        simulate_layouts(&scenario, &area.twin, &out, expected, opts)?
    } else {
        Vec::new()
    };
    let over_seeds = if opts.simulate && opts.seeds > 1 {
        Some(simulate_over_seeds(&out, opts)?)
    } else {
        None
    };
    let report = plan_report(
        &scenario,
        opts,
        &inst,
        &area.demand,
        &solution,
        current_coverage,
        simulated,
    );
    let report = PlanReport {
        simulated_over_seeds: over_seeds,
        ..report
    };
    write_plan(
        &out,
        &report,
        &solution,
        &inst,
        (&area.twin, &config.assumed),
        (&current, &chosen),
    )?;
    Ok(report)
}

/// The options the scenario cannot check: a budget of posts, and a solver when asked for one.
fn check_plan_options(opts: &PlanOptions) -> Result<(), RunError> {
    if opts.posts == 0 {
        return Err(RunError::BadInput(
            "--posts: expected at least one post".into(),
        ));
    }
    if opts.exact && !cfg!(feature = "exact") {
        return Err(RunError::BadInput(NO_SOLVER.into()));
    }
    Ok(())
}

/// The district a layout is planned or compared on: the scenario's twin, where its command loop
/// puts key areas and posts, and the emergencies expected by grid and by hour.
struct PlanningArea {
    twin: Twin,
    placement: Placement,
    demand: Vec<f64>,
    hours: [f64; 24],
}

impl PlanningArea {
    fn build(
        scenario: &Scenario,
        config: &CommandConfig,
        pack: &Pack,
        progress: Progress,
    ) -> Result<PlanningArea, RunError> {
        progress.message(&format!(
            "building district {} at scale {} (seed {})",
            pack.name,
            scenario.scale,
            scenario.district_seed()
        ));
        let (twin, _) = Twin::from_pack(pack, scenario.scale, scenario.district_seed())?;
        let twin = twin.with_paces(scenario);
        let placement = command::place(&twin, config, &RngStreams::new(scenario.district_seed()))?;
        let (demand, hours) = expected_demand(&twin, config, &placement);
        Ok(PlanningArea {
            twin,
            placement,
            demand,
            hours,
        })
    }

    /// The covering instance over these candidates, by network distance from each.
    fn instance(&self, tiers: &[Tier], candidates: Vec<Candidate>) -> Instance {
        let cand_grids: Vec<u32> = candidates.iter().map(|c| c.grid).collect();
        let travel = self.twin.travel.clone();
        Instance::new(
            self.demand.clone(),
            self.hours,
            tiers,
            candidates,
            move |j, i| travel.distance_m(cand_grids[j], i),
        )
    }
}

/// The two tiers a post's units serve under the 1-3-5 rule.
fn tiers(twin: &Twin, assumed: &command::Assumed) -> [Tier; 2] {
    [
        tier(
            "auxiliary_police",
            UnitClass::AuxiliaryPolice,
            twin,
            assumed,
        ),
        tier("police", UnitClass::Police, twin, assumed),
    ]
}

/// The current posts: a planner's file, else the pack's, else the scenario's own placement.
fn current_posts(
    area: &PlanningArea,
    pack: &Pack,
    opts: &PlanOptions,
) -> Result<Vec<Candidate>, RunError> {
    Ok(match (&opts.current, &pack.posts) {
        (Some(p), _) => points_file(&area.twin, p, "current post", opts.crs)?,
        (None, Some(f)) => points_text(&area.twin, &f.file, &f.text, "current post", f.crs)?,
        (None, None) => area
            .placement
            .posts
            .iter()
            .map(|p| Candidate {
                grid: p.grid,
                x_m: p.x_m,
                y_m: p.y_m,
                source: "current post".into(),
            })
            .collect(),
    })
}

/// Candidates: the key areas, the current posts, and the busiest grids' sites (or a file); one
/// per grid (distances are between grids), the first source named winning.
fn candidate_sites(
    area: &PlanningArea,
    current: &[Candidate],
    opts: &PlanOptions,
    scale: f64,
) -> Result<Vec<Candidate>, RunError> {
    let twin = &area.twin;
    let mut candidates: Vec<Candidate> = area
        .placement
        .key_areas
        .iter()
        .map(|k| grid_site(twin, k.grid, "key area"))
        .collect();
    candidates.extend(current.iter().cloned());
    match &opts.candidates {
        Some(p) => candidates.extend(points_file(twin, p, "candidate file", opts.crs)?),
        None => {
            let demand = &area.demand;
            let mut busiest: Vec<u32> = (0..twin.district.grids.len() as u32).collect();
            busiest.sort_by(|a, b| {
                demand[*b as usize]
                    .total_cmp(&demand[*a as usize])
                    .then(a.cmp(b))
            });
            let count = ((1000.0 * scale).round() as usize)
                .max(opts.posts * 3)
                .min(busiest.len());
            candidates.extend(
                busiest
                    .into_iter()
                    .take(count)
                    .map(|g| grid_site(twin, g, "grid site")),
            );
        }
    }
    let mut seen = vec![false; twin.district.grids.len()];
    candidates.retain(|c| !std::mem::replace(&mut seen[c.grid as usize], true));
    Ok(candidates)
}

/// A candidate at a grid's site.
fn grid_site(twin: &Twin, grid: u32, source: &str) -> Candidate {
    let s = twin.district.grids[grid as usize].site;
    Candidate {
        grid,
        x_m: s.x,
        y_m: s.y,
        source: source.into(),
    }
}

/// What the solvers made of an instance; the times go to perf.json.
struct Solution {
    greedy_coverage: f64,
    heuristic_coverage: f64,
    budget_curve: Vec<(usize, f64)>,
    exact: Option<Exact>,
    /// The better of the heuristic's and the exact solver's layouts, its coverage, and the
    /// tightest bound known.
    layout: Vec<usize>,
    coverage: f64,
    bound: f64,
    heuristic_s: f64,
    curve_s: f64,
    solve_s: f64,
}

/// Greedy, then the heuristic, the budget curve and (with `--exact`) the integer programme;
/// `started` is when the instance began to be built, which the solve time includes.
fn solve(
    inst: &Instance,
    opts: &PlanOptions,
    scale: f64,
    started: Instant,
) -> Result<Solution, RunError> {
    let max_budget = ((300.0 * scale).round() as usize)
        .max(opts.posts)
        .min(inst.candidates.len());
    let (order, _) = greedy(inst, opts.posts);
    let greedy_coverage = inst.coverage(&order);
    let (heuristic_layout, heuristic_bound) = heuristic(inst, opts.posts, 3000);
    let heuristic_coverage = inst.coverage(&heuristic_layout);
    let heuristic_s = started.elapsed().as_secs_f64();
    opts.progress.message(&format!(
        "heuristic: {} posts from {} candidates cover {:.4} (bound {:.4}) in {:.2} s",
        opts.posts,
        inst.candidates.len(),
        heuristic_coverage,
        heuristic_bound,
        heuristic_s
    ));
    let low = ((50.0 * scale).round() as usize).max(1);
    let curve_started = Instant::now();
    let budget_curve: Vec<(usize, f64)> = budget_curve(inst, low, max_budget)
        .into_iter()
        .map(|(k, v)| (k, round3(v)))
        .collect();
    let curve_s = curve_started.elapsed().as_secs_f64();
    let exact = if opts.exact {
        Some(solve_exact(inst, opts, &heuristic_layout)?)
    } else {
        None
    };
    let (layout, coverage, bound) = match &exact {
        Some(e) if e.coverage >= heuristic_coverage => (e.layout.clone(), e.coverage, e.bound),
        Some(e) => (heuristic_layout, heuristic_coverage, e.bound),
        None => (heuristic_layout, heuristic_coverage, heuristic_bound),
    };
    Ok(Solution {
        greedy_coverage,
        heuristic_coverage,
        budget_curve,
        exact,
        layout,
        coverage,
        bound,
        heuristic_s,
        curve_s,
        solve_s: started.elapsed().as_secs_f64(),
    })
}

/// The full simulation with the planned posts, then with the current ones (`expected`: the
/// coverage each has on paper), to show what busy units do to the plan.
fn simulate_layouts(
    scenario: &Scenario,
    twin: &Twin,
    out: &Path,
    expected: (f64, Option<f64>),
    opts: &PlanOptions,
) -> Result<Vec<SimulatedLayout>, RunError> {
    let progress = opts.progress;
    let (planned, current) = expected;
    let mut layouts = vec![("planned".to_string(), out.join("posts.csv"), planned)];
    if let Some(c) = current {
        layouts.push(("current".to_string(), out.join("current-posts.csv"), c));
    }
    let mut simulated = Vec::new();
    for (name, posts, expected) in layouts {
        progress.message(&format!(
            "simulating {} with the {name} posts",
            scenario.name
        ));
        let run_opts = RunOptions {
            posts: Some(posts),
            out: Some(out.join(format!("run-{name}"))),
            progress: Progress::Quiet,
            pack: opts.pack.clone(),
            ..RunOptions::default()
        };
        let summary = crate::run_scenario_on(scenario.clone(), &run_opts, Some(twin))?;
        let f = |k: &str| {
            summary.report.sections["command"]["figures"][k]
                .as_f64()
                .unwrap_or(0.0)
        };
        simulated.push(SimulatedLayout {
            layout: name,
            expected_coverage: round3(expected),
            auxiliary_police_within_3_min: f("command.auxiliary_police.within_limit_share"),
            police_within_5_min: f("command.police.within_limit_share"),
            all_tiers_within_limits: f("command.all_tiers_within_limit_share"),
        });
    }
    Ok(simulated)
}

/// Current and planned posts over `opts.seeds` seeds, as a sweep (`out/sweep`) run here.
fn simulate_over_seeds(out: &Path, opts: &PlanOptions) -> Result<OverSeeds, RunError> {
    let dir = out.join("sweep");
    let current = out.join("current-posts.csv");
    let planned = out.join("posts.csv");
    let args = crate::sweep::SweepArgs {
        scenario: opts.scenario.clone(),
        seeds: opts.seeds,
        first_seed: None,
        sets: Vec::new(),
        varies: Vec::new(),
        points: 2,
        posts: vec![current, planned],
        vary_district: false,
        scale: None,
        pack: opts.pack.clone(),
        out: dir.clone(),
        jobs: opts.jobs.max(1),
        emit: None,
        image: String::new(),
        mem_mib: 0,
        quiet: matches!(opts.progress, Progress::Quiet),
    };
    // A sweep folder from an earlier plan is replaced, not mixed in.
    if dir.exists() {
        std::fs::remove_dir_all(&dir)
            .map_err(|e| RunError::Harness(format!("{}: {e}", dir.display())))?;
    }
    crate::sweep::sweep(&args)?;
    let (summary, _) = crate::summary::summarize_dirs(std::slice::from_ref(&dir), None)?;
    let pick = |m: &BTreeMap<String, crate::summary::Stats>| {
        LAYOUT_FIGURES
            .iter()
            .filter_map(|(k, _)| m.get(*k).map(|s| (k.to_string(), *s)))
            .collect::<BTreeMap<_, _>>()
    };
    let names = ["current", "planned"];
    Ok(OverSeeds {
        seeds: opts.seeds,
        sweep: "sweep".into(),
        layouts: summary
            .settings
            .iter()
            .zip(names)
            .map(|(s, name)| (name.to_string(), pick(&s.metrics)))
            .collect(),
        planned_minus_current: summary
            .paired
            .first()
            .map(|p| pick(&p.metrics))
            .unwrap_or_default(),
    })
}

/// plan.json's content.
fn plan_report(
    scenario: &Scenario,
    opts: &PlanOptions,
    inst: &Instance,
    demand: &[f64],
    solution: &Solution,
    current_coverage: Option<f64>,
    simulated: Vec<SimulatedLayout>,
) -> PlanReport {
    let Solution {
        coverage,
        bound,
        heuristic_coverage,
        ..
    } = *solution;
    PlanReport {
        schema: "baoan-twin/plan/v1",
        scenario: scenario.name.clone(),
        seed: scenario.seed,
        scale: scenario.scale,
        posts: opts.posts,
        candidates: inst.candidates.len(),
        demand_per_day: round3(demand.iter().sum()),
        coverage: round3(coverage),
        upper_bound: round3(bound),
        gap_at_most: round3((bound - coverage) / bound.max(1e-12)),
        greedy_coverage: round3(solution.greedy_coverage),
        heuristic_coverage: round3(heuristic_coverage),
        exact: solution.exact.as_ref().map(|e| ExactSummary {
            status: e.status,
            optimum: (e.status == ExactStatus::Optimal).then_some(round6(e.coverage)),
            coverage: round6(e.coverage),
            bound: round6(e.bound),
            gap: round6(e.gap),
            heuristic_gap: round6((e.bound - heuristic_coverage) / e.bound.max(1e-12)),
            rows: e.rows,
            columns: e.columns,
            nonzeros: e.nonzeros,
        }),
        current_coverage,
        uncoverable_grids: inst.uncoverable().len(),
        budget_curve: solution.budget_curve.clone(),
        simulated,
        simulated_over_seeds: None,
        method: method(solution.exact.as_ref()),
    }
}

/// How the layout was found, in the words plan.json and the page use.
fn method(exact: Option<&Exact>) -> &'static str {
    match exact.map(|e| e.status) {
        Some(ExactStatus::Optimal) => {
            "integer programme solved to proven optimality by HiGHS (its first incumbent the heuristic's layout, unless --cold-start: greedy and Lagrangian picks, then one-for-one swaps)"
        }
        Some(ExactStatus::TimeLimit) => {
            "integer programme by HiGHS, stopped at its time limit: the best layout found and HiGHS's proven bound"
        }
        None => {
            "greedy and Lagrangian picks, then one-for-one swaps; gap against the lower of the submodularity and Lagrangian bounds (not a proven optimum: add --exact)"
        }
    }
}

/// plan.json, perf.json (the times, kept out of plan.json so it stays byte-stable),
/// index.html and map.html.
fn write_plan(
    out: &Path,
    report: &PlanReport,
    solution: &Solution,
    inst: &Instance,
    (twin, assumed): (&Twin, &command::Assumed),
    (current, planned): (&[Candidate], &[Candidate]),
) -> Result<(), RunError> {
    let exact = solution.exact.as_ref();
    std::fs::write(
        out.join("plan.json"),
        serde_json::to_string_pretty(report).expect("serialises") + "\n",
    )
    .map_err(|e| RunError::Harness(format!("{}: {e}", out.display())))?;
    std::fs::write(
        out.join("perf.json"),
        serde_json::to_string_pretty(&serde_json::json!({
            "solve_s": solution.solve_s,
            "heuristic_s": solution.heuristic_s,
            "budget_curve_s": solution.curve_s,
            "exact_build_s": exact.map(|e| e.build_s),
            "exact_solve_s": exact.map(|e| e.solve_s),
            "candidates": inst.candidates.len(),
        }))
        .expect("serialises")
            + "\n",
    )
    .map_err(|e| RunError::Harness(format!("{}: {e}", out.display())))?;
    // Each grid's covered share under each layout, for both pages.
    let grids = |l: &[Candidate]| l.iter().map(|p| p.grid).collect::<Vec<u32>>();
    let (cover_current, cover_planned) = (
        cover_by_grid(twin, inst, &grids(current)),
        cover_by_grid(twin, inst, &grids(planned)),
    );
    std::fs::write(
        out.join("index.html"),
        page(twin, (&cover_planned, &cover_current), report),
    )
    .map_err(|e| RunError::Harness(format!("{}: {e}", out.display())))?;
    let map = crate::map::layouts_map(
        twin,
        &format!("Post plan: {}", report.scenario),
        format!(
            "{} posts · seed {} · scale {} · current on the left, planned on the right · synthetic",
            report.posts, report.seed, report.scale
        ),
        &inst.demand,
        crate::map::Layout {
            label: "current posts".into(),
            assumed,
            posts: current,
            cover: &cover_current,
        },
        Some(crate::map::Layout {
            label: "planned posts".into(),
            assumed,
            posts: planned,
            cover: &cover_planned,
        }),
    );
    std::fs::write(out.join("map.html"), baoan_reports::map::page(&map))
        .map_err(|e| RunError::Harness(format!("{}: {e}", out.display())))
}

/// Share of each grid's demand a set of posts (by grid) covers, from the nearest of them.
fn cover_by_grid(twin: &Twin, inst: &Instance, post_grids: &[u32]) -> Vec<f64> {
    (0..twin.district.grids.len() as u32)
        .map(|i| {
            inst.cover(
                post_grids
                    .iter()
                    .map(|&g| twin.travel.distance_m(g, i))
                    .fold(f64::INFINITY, f64::min),
            )
        })
        .collect()
}

/// The plan's index.html: the layout's coverage against the bound, the simulations, the
/// budget curve and maps of coverage with the planned and the current posts.
fn page(twin: &Twin, (planned, current): (&[f64], &[f64]), r: &PlanReport) -> String {
    let map = |title: &str, cover: &[f64]| {
        let values = cover.iter().map(|c| Some(c * 100.0));
        baoan_agents::grid_map_svg(&twin.district, title, "% of demand covered", values)
    };
    let mut section = Section {
        title: format!("{} posts", r.posts),
        intro: plan_intro(r),
        ..Section::default()
    };
    if let Some(o) = &r.simulated_over_seeds {
        section.tables.push(over_seeds_table(o));
    }
    if !r.simulated.is_empty() {
        section.tables.push(simulated_table(r));
    }
    let curve = Series {
        name: "heuristic (swaps at every budget)".into(),
        points: r
            .budget_curve
            .iter()
            .map(|(k, v)| (*k as f64, v * 100.0))
            .collect(),
    };
    let figures = [
        plot::lines_svg(
            "Budget curve: coverage by number of posts",
            "posts",
            "% of demand covered",
            &[curve],
        ),
        map("Coverage with the planned posts", planned),
        map("Coverage with the current posts", current),
    ];
    for f in figures {
        match f {
            Ok(svg) => section.figures.push(svg),
            Err(e) => section.intro.push_str(&format!(" (a plot failed: {e})")),
        }
    }
    let head = format!(
        "<h1>Post plan: {}</h1><p class=\"sub\">seed {} · scale {} · {} candidates · {:.1} emergencies a day</p>\n<p><a href=\"map.html\">Interactive map: current and planned posts side by side, what each tier covers hour by hour, and the grids that gain and lose</a></p>\n",
        baoan_reports::xml(&r.scenario),
        r.seed,
        r.scale,
        r.candidates,
        r.demand_per_day
    );
    baoan_reports::html::standalone(
        &format!("Post plan: {}", r.scenario),
        &(head + &baoan_reports::html::section_html(&section)),
    )
}

/// The page's opening paragraph: coverage, bound and gap, the method, and the exact solve.
fn plan_intro(r: &PlanReport) -> String {
    format!(
        "Expected coverage {:.1}% of emergency demand (auxiliary police within 3 minutes and police within 5, over the day's hours); no layout of {} posts can exceed {:.1}%, so this one is at most {:.1}% from the best. {} grids cannot be covered from any candidate. Method: {}.",
        r.coverage * 100.0,
        r.posts,
        r.upper_bound * 100.0,
        r.gap_at_most * 100.0,
        r.uncoverable_grids,
        r.method
    ) + &r.exact.as_ref().map_or(String::new(), |e| {
        format!(
            " The integer programme had {} rows, {} columns and {} non-zeros; HiGHS {} at {:.4}% (bound {:.4}%); the heuristic alone reached {:.3}%, {:.3}% below the bound.",
            e.rows,
            e.columns,
            e.nonzeros,
            match e.status {
                ExactStatus::Optimal => "proved the optimum",
                ExactStatus::TimeLimit => "ran out of time",
            },
            e.coverage * 100.0,
            e.bound * 100.0,
            r.heuristic_coverage * 100.0,
            e.heuristic_gap * 100.0
        )
    })
}

/// Both layouts' compliance over seeds, with 95% intervals, and the paired difference.
fn over_seeds_table(o: &OverSeeds) -> Table {
    let cell = |m: &BTreeMap<String, crate::summary::Stats>, k: &str, points: bool| {
        m.get(k).map_or("—".to_string(), |s| {
            let f = |x: f64| {
                if points {
                    format!("{:+.1}", x * 100.0)
                } else {
                    format!("{:.1}", x * 100.0)
                }
            };
            format!("{}% [{}, {}]", f(s.mean), f(s.ci95_low), f(s.ci95_high))
        })
    };
    let mut rows: Vec<Vec<String>> = o
        .layouts
        .iter()
        .map(|(name, m)| {
            std::iter::once(name.clone())
                .chain(LAYOUT_FIGURES.iter().map(|(k, _)| cell(m, k, false)))
                .collect()
        })
        .collect();
    rows.push(
        std::iter::once("planned − current (paired by seed)".to_string())
            .chain(
                LAYOUT_FIGURES
                    .iter()
                    .map(|(k, _)| cell(&o.planned_minus_current, k, true)),
            )
            .collect(),
    );
    Table {
        caption: format!(
            "Under load over {} seeds (mean [95% interval]; the sweep is in {}/)",
            o.seeds, o.sweep
        ),
        header: std::iter::once("layout".to_string())
            .chain(LAYOUT_FIGURES.iter().map(|(_, l)| l.to_string()))
            .collect(),
        rows,
    }
}

/// Each simulated layout's coverage on paper next to its share within the limits under load.
fn simulated_table(r: &PlanReport) -> Table {
    Table {
        caption: "On paper and under load (full simulation, units busy)".into(),
        header: [
            "layout",
            "expected coverage",
            "auxiliary ≤ 3 min",
            "police ≤ 5 min",
            "all three tiers",
        ]
        .map(String::from)
        .to_vec(),
        rows: r
            .simulated
            .iter()
            .map(|s| {
                let p = |x: f64| format!("{:.1}%", x * 100.0);
                vec![
                    s.layout.clone(),
                    p(s.expected_coverage),
                    p(s.auxiliary_police_within_3_min),
                    p(s.police_within_5_min),
                    p(s.all_tiers_within_limits),
                ]
            })
            .collect(),
    }
}

/// What `twin compare` tells of two post layouts on one scenario.
#[derive(Debug, Clone, Serialize)]
pub struct LayoutComparison {
    pub scenario: String,
    pub a: String,
    pub b: String,
    pub posts_a: usize,
    pub posts_b: usize,
    pub coverage_a: f64,
    pub coverage_b: f64,
    pub grids_gaining: usize,
    pub grids_losing: usize,
    /// The grids whose covered demand changes most, both ways.
    pub biggest_changes: Vec<GridChange>,
}

#[derive(Debug, Clone, Serialize)]
pub struct GridChange {
    pub grid: String,
    pub street: String,
    pub community: String,
    pub demand_per_day: f64,
    pub coverage_a: f64,
    pub coverage_b: f64,
}

/// Two post layouts (CSV files) side by side on a scenario: coverage, maps of each and of the
/// change, and the grids that gain and lose most.
pub fn compare_layouts(
    scenario_path: &Path,
    a: &Path,
    b: &Path,
    out: &Path,
    progress: Progress,
) -> Result<LayoutComparison, RunError> {
    let scenario = load_scenario(scenario_path, None, None)?;
    let run_opts = RunOptions::default();
    let pack = resolve_pack(&scenario, &run_opts)?;
    let config = check_inputs(&scenario, &run_opts, &pack)?.ok_or_else(|| {
        RunError::BadInput("the scenario has no command loop to compare layouts for".into())
    })?;
    let area = PlanningArea::build(&scenario, &config, &pack, progress)?;
    let (la, lb) = (
        points_file(&area.twin, a, "layout a", Crs::Wgs84)?,
        points_file(&area.twin, b, "layout b", Crs::Wgs84)?,
    );
    let tiers = tiers(&area.twin, &config.assumed);
    let all: Vec<Candidate> = la.iter().chain(&lb).cloned().collect();
    let inst = area.instance(&tiers, all);
    let grids_of_layout = |l: &[Candidate]| l.iter().map(|p| p.grid).collect::<Vec<u32>>();
    let (ca, cb) = (
        cover_by_grid(&area.twin, &inst, &grids_of_layout(&la)),
        cover_by_grid(&area.twin, &inst, &grids_of_layout(&lb)),
    );
    let demand = &area.demand;
    let total: f64 = demand.iter().sum::<f64>().max(1e-12);
    let coverage =
        |c: &[f64]| round3(c.iter().zip(demand).map(|(c, d)| c * d).sum::<f64>() / total);
    let changes = grid_changes(&area.twin, demand, &ca, &cb);
    let cmp = LayoutComparison {
        scenario: scenario.name.clone(),
        a: a.display().to_string(),
        b: b.display().to_string(),
        posts_a: la.len(),
        posts_b: lb.len(),
        coverage_a: coverage(&ca),
        coverage_b: coverage(&cb),
        grids_gaining: changes.gaining,
        grids_losing: changes.losing,
        biggest_changes: changes.biggest,
    };
    std::fs::create_dir_all(out)
        .map_err(|e| RunError::Harness(format!("{}: {e}", out.display())))?;
    std::fs::write(
        out.join("compare.json"),
        serde_json::to_string_pretty(&cmp).expect("serialises") + "\n",
    )
    .map_err(|e| RunError::Harness(format!("{}: {e}", out.display())))?;
    std::fs::write(
        out.join("index.html"),
        comparison_page(&cmp, &area.twin, &ca, &cb),
    )
    .map_err(|e| RunError::Harness(format!("{}: {e}", out.display())))?;
    let map = crate::map::layouts_map(
        &area.twin,
        &format!("Layouts compared on {}", cmp.scenario),
        format!("A: {} · B: {} · synthetic", cmp.a, cmp.b),
        demand,
        crate::map::Layout {
            label: "layout A".into(),
            assumed: &config.assumed,
            posts: &la,
            cover: &ca,
        },
        Some(crate::map::Layout {
            label: "layout B".into(),
            assumed: &config.assumed,
            posts: &lb,
            cover: &cb,
        }),
    );
    std::fs::write(out.join("map.html"), baoan_reports::map::page(&map))
        .map_err(|e| RunError::Harness(format!("{}: {e}", out.display())))?;
    Ok(cmp)
}

/// How many grids gain and lose coverage from A to B, and the 20 whose covered demand changes
/// most, both ways.
struct GridChanges {
    gaining: usize,
    losing: usize,
    biggest: Vec<GridChange>,
}

fn grid_changes(twin: &Twin, demand: &[f64], ca: &[f64], cb: &[f64]) -> GridChanges {
    let mut changes: Vec<(f64, usize)> = (0..demand.len())
        .filter(|&i| (cb[i] - ca[i]).abs() > 1e-9)
        .map(|i| ((cb[i] - ca[i]) * demand[i], i))
        .collect();
    let (gaining, losing) = (
        changes.iter().filter(|c| c.0 > 0.0).count(),
        changes.iter().filter(|c| c.0 < 0.0).count(),
    );
    changes.sort_by(|x, y| y.0.abs().total_cmp(&x.0.abs()).then(x.1.cmp(&y.1)));
    let biggest = changes
        .iter()
        .take(20)
        .map(|&(_, i)| {
            let g = &twin.district.grids[i];
            GridChange {
                grid: g.code.clone(),
                street: twin.district.streets[g.street as usize].name_en.clone(),
                community: twin.district.communities[g.community as usize].name.clone(),
                demand_per_day: round3(demand[i]),
                coverage_a: round3(ca[i]),
                coverage_b: round3(cb[i]),
            }
        })
        .collect();
    GridChanges {
        gaining,
        losing,
        biggest,
    }
}

/// The comparison's index.html: the headline, the table of biggest changes, and maps of A, B
/// and the change (`ca`, `cb`: each grid's covered share under A and B).
fn comparison_page(cmp: &LayoutComparison, twin: &Twin, ca: &[f64], cb: &[f64]) -> String {
    let mut html = format!(
        "<h1>Layouts compared on {}</h1><p>A: {} ({} posts) covers {:.1}% of emergency demand; B: {} ({} posts) covers {:.1}%. {} grids gain, {} lose.</p>\n<p><a href=\"map.html\">Interactive map: A and B side by side or under a swipe, and the grids that gain and lose</a></p>\n",
        baoan_reports::xml(&cmp.scenario),
        baoan_reports::xml(&cmp.a),
        cmp.posts_a,
        cmp.coverage_a * 100.0,
        baoan_reports::xml(&cmp.b),
        cmp.posts_b,
        cmp.coverage_b * 100.0,
        cmp.grids_gaining,
        cmp.grids_losing
    );
    html += &baoan_reports::html::table_html(&Table {
        caption: "Grids that change most (demand-weighted)".into(),
        header: [
            "grid",
            "street",
            "community",
            "emergencies a day",
            "A covers",
            "B covers",
        ]
        .map(String::from)
        .to_vec(),
        rows: cmp
            .biggest_changes
            .iter()
            .map(|c| {
                vec![
                    c.grid.clone(),
                    c.street.clone(),
                    c.community.clone(),
                    format!("{:.2}", c.demand_per_day),
                    format!("{:.0}%", c.coverage_a * 100.0),
                    format!("{:.0}%", c.coverage_b * 100.0),
                ]
            })
            .collect(),
    });
    for f in [
        baoan_agents::grid_map_svg(
            &twin.district,
            "Coverage with A",
            "% of demand covered",
            ca.iter().map(|c| Some(c * 100.0)),
        ),
        baoan_agents::grid_map_svg(
            &twin.district,
            "Coverage with B",
            "% of demand covered",
            cb.iter().map(|c| Some(c * 100.0)),
        ),
        baoan_agents::grid_map_svg(
            &twin.district,
            "Change from A to B (grids that change)",
            "points of coverage",
            ca.iter()
                .zip(cb)
                .map(|(a, b)| ((b - a).abs() > 1e-9).then(|| (b - a) * 100.0)),
        ),
    ] {
        match f {
            Ok(svg) => html += &format!("<figure>{svg}</figure>"),
            Err(e) => html += &format!("<p>(a plot failed: {e})</p>"),
        }
    }
    baoan_reports::html::standalone(&format!("Layouts compared on {}", cmp.scenario), &html)
}

/// The single-radius instance (the auxiliary police's 3-minute reach at noon) as plain files for
/// a peer solver — demand.csv, pairs.csv (grid, candidate, metres within the radius), meta.json —
/// and the same instance solved here (exactly too, with `--exact`), for a side-by-side.
fn export_instance(
    dir: &Path,
    demand: &[f64],
    full: &Instance,
    tier: &Tier,
    opts: &PlanOptions,
    twin: &Twin,
) -> Result<(), RunError> {
    let io = |e: std::io::Error| RunError::Harness(format!("{}: {e}", dir.display()));
    std::fs::create_dir_all(dir).map_err(io)?;
    let radius = tier.radius_m[12];
    let mut d = String::from("grid,demand\n");
    for (i, v) in demand.iter().enumerate() {
        d += &format!("{i},{v}\n");
    }
    std::fs::write(dir.join("demand.csv"), d).map_err(io)?;
    let mut pairs = String::from("grid,candidate,metres\n");
    for (j, list) in full.reach.iter().enumerate() {
        for &(i, m) in list {
            if (m as f64) <= radius {
                pairs += &format!("{i},{j},{m}\n");
            }
        }
    }
    std::fs::write(dir.join("pairs.csv"), pairs).map_err(io)?;
    let started = Instant::now();
    let single = Tier {
        name: format!("{} at noon", tier.name),
        weight: 1.0,
        radius_m: [radius; 24],
    };
    let grids: Vec<u32> = full.candidates.iter().map(|c| c.grid).collect();
    let travel = twin.travel.clone();
    let inst = Instance::new(
        demand.to_vec(),
        [1.0 / 24.0; 24],
        &[single],
        full.candidates.clone(),
        move |j, i| travel.distance_m(grids[j], i),
    );
    let built_s = started.elapsed().as_secs_f64();
    let (layout, bound) = heuristic(&inst, opts.posts, 3000);
    let coverage = inst.coverage(&layout);
    let heuristic_s = started.elapsed().as_secs_f64();
    let exact = if opts.exact {
        Some(solve_exact(&inst, opts, &layout)?)
    } else {
        None
    };
    let total_s = started.elapsed().as_secs_f64();
    let meta = serde_json::json!({
        "grids": demand.len(), "candidates": full.candidates.len(), "posts": opts.posts, "radius_m": radius,
        "ours": {
            "heuristic": {"coverage": coverage, "bound": bound, "s": heuristic_s},
            "exact": exact.as_ref().map(|e| serde_json::json!({
                "status": e.status, "coverage": e.coverage, "bound": e.bound,
                "build_s": e.build_s, "solve_s": e.solve_s,
            })),
            "build_instance_s": built_s,
            "total_s": total_s,
        },
    });
    std::fs::write(
        dir.join("meta.json"),
        serde_json::to_string_pretty(&meta).expect("serialises") + "\n",
    )
    .map_err(io)?;
    opts.progress.message(&format!(
        "single-radius instance ({radius:.0} m) written to {}: ours {:.4}{} in {total_s:.2} s end to end",
        dir.display(),
        exact.as_ref().map_or(coverage, |e| e.coverage),
        exact.as_ref().map_or(format!(" (heuristic; bound {bound:.4})"), |e| format!(" ({:?})", e.status)),
    ));
    Ok(())
}
