//! `twin`'s work behind the thin CLI: run a scenario on the in-process stack and write its
//! report; describe the district. Errors carry the exit code DESIGN.md gives them.

pub mod compare;
pub mod district;
mod error;
pub mod fuzz;
pub mod map;
pub mod merge;
pub mod packs;
pub mod plan;
mod progress;
pub mod summary;
pub mod sweep;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use baoan_api::{ApiError, Envelope, Millis, Outcome, Stack};

use baoan_agents::LoopOutcome;
use baoan_agents::command::{self, CommandConfig, Placement};
use baoan_agents::grid::GridConfig;
use baoan_agents::registry::{self, LoopContext, LoopDef};
use baoan_reports::{Report, evaluate, html};
use baoan_scenarios::Scenario;
use baoan_stack::InProcessStack;
use baoan_stack::MatcherService;
use baoan_world::bridge::{BridgePlugin, PathFaults, StackBridge};
use baoan_world::kernel::{Journal, KernelPlugin, SimClock};
use baoan_world::pack::{Pack, StreetName};
use baoan_world::{BuildTimings, Twin};
use bevy_app::{App, Update};
use bevy_ecs::schedule::{LogLevel, ScheduleBuildSettings};
use serde::Serialize;

pub use progress::Progress;

pub use error::RunError;

pub const BUILD: &str = concat!("baoan-twin ", env!("CARGO_PKG_VERSION"));

#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub seed: Option<u64>,
    pub scale: Option<f64>,
    /// A planner's posts (CSV), replacing the scenario's placement.
    pub posts: Option<PathBuf>,
    /// The datum of the posts file's lon,lat (`--crs`), overriding `command.posts_crs`.
    pub posts_crs: Option<baoan_world::proj::Crs>,
    pub out: Option<PathBuf>,
    pub journal: bool,
    pub junit: bool,
    pub progress: Progress,
    /// Drive a deployed stack over HTTP instead of the in-process one (`--stack`).
    pub stack: Option<baoan_load::HttpStackSpec>,
    /// Run one shard of the district (`--shard i/n`).
    pub shard: Option<Shard>,
    /// A district pack folder (`--pack`), overriding the scenario's `district`.
    pub pack: Option<PathBuf>,
    /// Assumptions set by name (`--set NAME=V`), over the scenario's own.
    pub sets: Vec<(String, f64)>,
    /// The seed the district is built with (`--district-seed`), over the scenario's.
    pub district_seed: Option<u64>,
}

/// One of `count` shards of a run, split by street (`twin run --shard index/count`): street `k`
/// (in the district's order) belongs to shard `k % count + 1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    /// `3/10`; why not, saying what was expected.
    pub fn parse(text: &str) -> Result<Shard, String> {
        let streets = baoan_world::data::facts::STREETS as u32;
        let bad = || {
            format!(
                "--shard: expected i/n with 1 <= i <= n <= {streets} (the district's streets), \
                 such as 2/5, got `{text}`"
            )
        };
        let (i, n) = text.split_once('/').ok_or_else(bad)?;
        let (index, count) = (
            i.trim().parse::<u32>().map_err(|_| bad())?,
            n.trim().parse::<u32>().map_err(|_| bad())?,
        );
        if index == 0 || index > count || count > streets {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }

    /// The streets (English names) of the default district this shard simulates.
    pub fn streets(&self) -> Vec<String> {
        self.streets_of(&Pack::baoan().street_names())
    }

    /// The streets (English names) of a district's `names` this shard simulates.
    pub fn streets_of(&self, names: &[StreetName]) -> Vec<String> {
        names
            .iter()
            .enumerate()
            .filter(|(k, _)| *k as u32 % self.count + 1 == self.index)
            .map(|(_, s)| s.name_en.to_string())
            .collect()
    }

    /// The scenario as this shard runs it on a district of streets `names`: the street-local
    /// loops (grid, command, matcher) only in its streets — a surge of zero everywhere else for
    /// the whole run — and the district-wide ones (block data's feeds, the cases loops) on
    /// shard 1 alone. A district with fewer streets than shards is refused.
    pub fn apply(
        &self,
        mut scenario: Scenario,
        names: &[StreetName],
    ) -> Result<Scenario, RunError> {
        if self.count as usize > names.len() {
            return Err(RunError::BadInput(format!(
                "--shard {}/{}: the district has only {} streets to split",
                self.index,
                self.count,
                names.len()
            )));
        }
        let mine = self.streets_of(names);
        let others: Vec<String> = names
            .iter()
            .map(|s| s.name_en.to_string())
            .filter(|s| !mine.contains(s))
            .collect();
        if !others.is_empty() {
            for target in baoan_scenarios::SURGE_TARGETS {
                scenario.surges.push(baoan_scenarios::Surge {
                    target: target.as_str().into(),
                    start: baoan_scenarios::Dur(0),
                    end: scenario.duration,
                    streets: others.clone(),
                    multiplier: 0.0,
                    categories: Vec::new(),
                    key_areas_only: false,
                });
            }
        }
        if self.index != 1 {
            scenario.blocks.enabled = false;
            scenario.cases.enabled = false;
        }
        Ok(scenario)
    }
}

/// `metrics.json`: what `twin merge` needs of a run — its shard and its metrics, histograms
/// bucket by bucket.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct MetricsFile {
    pub shard: Option<Shard>,
    /// The scenario as written, before a shard's own surges: shards of one run share it.
    pub scenario_toml: String,
    pub metrics: baoan_reports::MetricsData,
}

/// What a finished run tells its caller.
#[derive(Debug)]
pub struct RunSummary {
    pub out_dir: PathBuf,
    pub report: Report,
    pub perf: Perf,
}

/// perf.json: wall-clock figures, kept out of report.json so reports stay byte-identical.
#[derive(Debug, Clone, Serialize)]
pub struct Perf {
    pub build: &'static str,
    pub threads: usize,
    pub wall_s: f64,
    pub build_world: BuildTimings,
    pub simulate_s: f64,
    pub report_s: f64,
    pub simulated_s: f64,
    pub speedup: f64,
    pub ticks: u64,
    pub ticks_per_s: f64,
    pub events: u64,
    pub events_per_s: f64,
    pub commands_sent: u64,
    /// The stack's wall time per module (`grid`, `command`, `matcher`, `blocks`, `cases`,
    /// `time_driven`)
    /// and per command (`ingest_records`, `submit_sighting`, …); the rest of `simulate_s` is the
    /// twin's own work.
    pub stack: BTreeMap<&'static str, ModuleTime>,
    pub twin_s: f64,
    pub peak_rss_mib: f64,
    /// The HTTP transport's figures, when the run drove a deployed stack.
    pub transport: Option<baoan_load::TransportSummary>,
}

/// The key of `Perf::stack` for the stack's time-driven work; with the modules' names
/// (`baoan_api::Module::ALL`) these keys split the stack's time, the others split it by command.
const TIME_DRIVEN: &str = "time_driven";

fn splits_by_module(key: &str) -> bool {
    key == TIME_DRIVEN || baoan_api::Module::parse(key).is_ok()
}

/// Wall time the stack spent on each module's commands (and on its time-driven work).
#[derive(Debug, Clone, Default, Serialize)]
pub struct ModuleTime {
    pub calls: u64,
    pub seconds: f64,
}

/// The in-process stack, timed: how the run's wall time splits between the stack's modules
/// and the twin itself. Timing lives here, in the CLI, so that nothing in the twin reads the
/// wall clock.
struct TimedStack {
    inner: Box<dyn Stack>,
    times: Arc<Mutex<BTreeMap<&'static str, ModuleTime>>>,
}

impl Stack for TimedStack {
    fn send(&mut self, envelope: &Envelope) -> Result<Vec<Outcome>, ApiError> {
        let t = Instant::now();
        let r = self.inner.send(envelope);
        let took = t.elapsed().as_secs_f64();
        let mut times = self.times.lock().expect("not poisoned");
        for key in [envelope.command.module().as_str(), envelope.command.kind()] {
            let m = times.entry(key).or_default();
            m.calls += 1;
            m.seconds += took;
        }
        r
    }
    /// A tick's calls together: a transport may carry them at once, so the batch's wall time
    /// is shared evenly among its calls.
    fn send_all(&mut self, envelopes: &[&Envelope]) -> Vec<Result<Vec<Outcome>, ApiError>> {
        if self.inner.calls_in_flight() <= 1 {
            // One at a time: each call's own time.
            return envelopes.iter().map(|e| self.send(e)).collect();
        }
        let t = Instant::now();
        let r = self.inner.send_all(envelopes);
        let each = t.elapsed().as_secs_f64() / envelopes.len().max(1) as f64;
        let mut times = self.times.lock().expect("not poisoned");
        for envelope in envelopes {
            for key in [envelope.command.module().as_str(), envelope.command.kind()] {
                let m = times.entry(key).or_default();
                m.calls += 1;
                m.seconds += each;
            }
        }
        r
    }
    fn body_limit(&self) -> usize {
        self.inner.body_limit()
    }
    fn calls_in_flight(&self) -> usize {
        self.inner.calls_in_flight()
    }
    fn advance(&mut self, now: Millis) -> Vec<Outcome> {
        let t = Instant::now();
        let r = self.inner.advance(now);
        let mut times = self.times.lock().expect("not poisoned");
        let m = times.entry(TIME_DRIVEN).or_default();
        m.calls += 1;
        m.seconds += t.elapsed().as_secs_f64();
        r
    }
    fn name(&self) -> String {
        self.inner.name()
    }
    fn restart(
        &mut self,
        at: Millis,
        down_ms: Millis,
    ) -> Result<baoan_api::Restart, baoan_api::RestartError> {
        self.inner.restart(at, down_ms)
    }
}

pub use baoan_reports::peak_rss_mib;

/// Load a scenario and apply the command line's overrides.
pub fn load_scenario(
    file: &Path,
    seed: Option<u64>,
    scale: Option<f64>,
) -> Result<Scenario, RunError> {
    Ok(Scenario::load(file)?.with_overrides(seed, scale)?)
}

/// The Bevy app for a scenario: kernel, bridge to the stack, and every loop of the registry the
/// scenario runs, with the schedule's ambiguity detection turned into an error so system order is
/// always decided. Returns the app and the loops installed, in registry order.
pub fn build_app(
    scenario: &Scenario,
    twin: Twin,
    stack: StackBridge,
    journal: Journal,
    command: Option<(CommandConfig, Placement)>,
) -> Result<(App, Vec<&'static dyn LoopDef>), RunError> {
    let mut app = App::new();
    app.add_plugins(KernelPlugin {
        tick_ms: scenario.tick.ms(),
        end_ms: scenario.duration.ms(),
        seed: scenario.seed,
        loops: registry::loop_names(),
    })
    .add_plugins(BridgePlugin)
    .insert_resource(PathFaults::new(&scenario.faults));
    let ctx = LoopContext {
        scenario,
        twin: &twin,
        command: command.as_ref().map(|(c, _)| c),
        placement: command.as_ref().map(|(_, p)| p),
    };
    // One video network for every loop that watches through it.
    let scaled = |n: u32| ((n as f64 * scenario.scale).round() as usize).max(1);
    app.insert_resource(baoan_agents::video::VideoNetwork::site(
        &twin,
        &scenario.video,
        scaled(scenario.matcher.channels),
        scaled(scenario.matcher.lookouts),
        &baoan_world::RngStreams::new(scenario.district_seed()),
    ));
    app.insert_resource(baoan_agents::inspector_time::InspectorTime::new(
        &scenario.grid.patrol,
        scenario.assumption(&baoan_scenarios::assumptions::code::VISIT_SIGMA),
        twin.district.grids.len(),
        scenario.duration.ms(),
    ));
    let mut installed = Vec::new();
    for l in registry::LOOPS.iter().copied().filter(|l| l.enabled(&ctx)) {
        l.install(&mut app, &ctx).map_err(RunError::Problems)?;
        installed.push(l);
    }
    app.insert_resource(twin)
        .insert_resource(stack)
        .insert_resource(journal);
    app.edit_schedule(Update, |s| {
        s.set_build_settings(ScheduleBuildSettings {
            ambiguity_detection: LogLevel::Error,
            ..Default::default()
        });
    });
    Ok((app, installed))
}

/// Each installed loop's end-of-run outcome, in registry order.
fn finish_loops(
    world: &mut bevy_ecs::world::World,
    installed: &[&'static dyn LoopDef],
    scenario: &Scenario,
) -> Vec<(&'static str, LoopOutcome)> {
    installed
        .iter()
        .map(|l| (l.name(), l.finish(world, scenario)))
        .collect()
}

/// Run a scenario file on the in-process stack and write its folder.
pub fn run(file: &Path, opts: &RunOptions) -> Result<RunSummary, RunError> {
    let mut scenario = load_scenario(file, opts.seed, opts.scale)?.with_assumptions(&opts.sets)?;
    if opts.district_seed.is_some() {
        scenario.district_seed = opts.district_seed;
    }
    run_scenario(scenario, opts)
}

/// The district pack a run uses: `--pack`, else the scenario's `district` (a folder relative to
/// the scenario file, or "baoan"), else the built-in Bao'an pack.
pub fn resolve_pack(scenario: &Scenario, opts: &RunOptions) -> Result<Pack, RunError> {
    if let Some(dir) = &opts.pack {
        return Ok(Pack::load(dir)?);
    }
    match scenario.district.as_deref() {
        None | Some("baoan") => Ok(Pack::baoan()),
        Some(dir) => {
            let base = Path::new(&scenario.source.file)
                .parent()
                .unwrap_or(Path::new("."));
            Ok(Pack::load(&base.join(dir))?)
        }
    }
}

/// Everything about a run's input that can be checked without building the district: the
/// scenario's street names (the pack's), and the command loop's settings with a planner's posts
/// file (the scenario's `command.posts_csv`, or `--posts`, which wins). `twin validate` runs the
/// same.
pub fn check_inputs(
    scenario: &Scenario,
    opts: &RunOptions,
    pack: &Pack,
) -> Result<Option<CommandConfig>, RunError> {
    let streets = pack.street_names();
    let mut problems = GridConfig::unknown_streets(scenario, &streets);
    let mut command = match CommandConfig::from_scenario(scenario, &streets) {
        Ok(c) => Some(c),
        Err(p) => {
            problems.extend(p);
            None
        }
    };
    if !problems.is_empty() {
        return Err(RunError::Problems(problems));
    }
    if let (Some(c), Some(posts)) = (command.as_mut(), &opts.posts) {
        let text = std::fs::read_to_string(posts).map_err(|source| RunError::Read {
            path: posts.clone(),
            what: "the posts file",
            source,
        })?;
        c.posts_csv = Some((posts.display().to_string(), text));
    }
    if let (Some(c), Some(crs)) = (command.as_mut(), opts.posts_crs) {
        c.posts_crs = crs;
    }
    if let Some(Some((file, text))) = command.as_ref().map(|c| &c.posts_csv) {
        let crs = command
            .as_ref()
            .map_or(baoan_world::proj::Crs::Wgs84, |c| c.posts_crs);
        baoan_agents::command::read_posts_csv(file, text, &pack.frame(), crs)?;
    }
    Ok(command)
}

/// Run a parsed scenario (overrides in `opts` are not applied again) and write its folder.
pub fn run_scenario(scenario: Scenario, opts: &RunOptions) -> Result<RunSummary, RunError> {
    run_scenario_on(scenario, opts, None)
}

/// As `run_scenario`, on a district already built for this scenario's scale and seed (a planner
/// simulating several layouts builds it once).
pub fn run_scenario_on(
    scenario: Scenario,
    opts: &RunOptions,
    built: Option<&Twin>,
) -> Result<RunSummary, RunError> {
    let started = Instant::now();
    let prepared = prepare(scenario, opts, built)?;
    let out_dir = output_dir(&prepared.scenario, opts)?;
    let journal = if opts.journal || prepared.scenario.output.journal {
        let path = out_dir.join("journal.jsonl");
        Journal::to_file(&path).map_err(|source| RunError::Write {
            path,
            what: "the journal",
            source,
        })?
    } else {
        Journal::default()
    };
    let Prepared {
        scenario,
        scenario_toml,
        twin,
        timings,
        http,
        command,
    } = prepared;
    let counts = district::Figures::of(&twin);
    let stack_times: Arc<Mutex<BTreeMap<&'static str, ModuleTime>>> = Arc::default();
    let transport = http.as_ref().map(|h| h.stats());
    let inner: Box<dyn Stack> = match http {
        Some(h) => Box::new(h),
        None => Box::new(InProcessStack::with_matcher(MatcherService::new(
            scenario.matcher.dim as usize,
        ))),
    };
    let bridge = StackBridge::new(Box::new(TimedStack {
        inner,
        times: stack_times.clone(),
    }));
    let (mut app, installed) = build_app(&scenario, twin, bridge, journal, command)?;

    let sim_start = Instant::now();
    simulate(&mut app, &scenario, &opts.progress, transport.as_ref())?;
    let simulate_s = sim_start.elapsed().as_secs_f64();

    let report_start = Instant::now();
    let parts = finish_loops(app.world_mut(), &installed, &scenario);
    // The report's own queries went to the stack too: a transport that failed on one spoils it.
    if let Some(stats) = &transport {
        transport_gave_out(&stats.lock().expect("not poisoned"), scenario.duration.ms())?;
    }
    let events = {
        let mut j = app.world_mut().resource_mut::<Journal>();
        j.finish().map_err(RunError::Journal)?;
        j.events
    };
    let (report, sections, metrics, layers) =
        assemble_report(&app, &scenario, opts, &counts, parts);
    let out = Output { dir: &out_dir };
    if scenario.output.html {
        out.write_map(&app, &scenario, &report, layers, &metrics)?;
    }
    out.write_report(&report, &sections, &scenario, opts, metrics, scenario_toml)?;
    let stack = stack_times.lock().expect("not poisoned").clone();
    let perf = Perf {
        build: BUILD,
        threads: rayon_threads(),
        wall_s: started.elapsed().as_secs_f64(),
        build_world: timings,
        report_s: report_start.elapsed().as_secs_f64(),
        ..Perf::of_simulation(&app, &scenario, simulate_s, events, stack)
    };
    let perf = Perf {
        transport: match (&transport, &opts.stack) {
            (Some(stats), Some(spec)) => Some(stats.lock().expect("not poisoned").summary(spec)),
            _ => None,
        },
        ..perf
    };
    out.write(
        "perf.json",
        &(serde_json::to_string_pretty(&perf).expect("perf serialises") + "\n"),
    )?;
    Ok(RunSummary {
        out_dir,
        report,
        perf,
    })
}

/// What a run needs before anything is written: the scenario as this run (or shard) runs it,
/// checked; the deployed stack reached; the district built; command's posts placed.
struct Prepared {
    scenario: Scenario,
    /// The scenario as written, before a shard's own surges: shards of one run share it.
    scenario_toml: String,
    twin: Twin,
    timings: BuildTimings,
    http: Option<baoan_load::HttpStack>,
    command: Option<(CommandConfig, Placement)>,
}

fn prepare(
    scenario: Scenario,
    opts: &RunOptions,
    built: Option<&Twin>,
) -> Result<Prepared, RunError> {
    let scenario_toml = scenario.to_toml();
    let pack = resolve_pack(&scenario, opts)?;
    let scenario = match opts.shard {
        Some(shard) => shard.apply(scenario, &pack.street_names())?,
        None => scenario,
    };
    // Bad input is refused before anything is built or written.
    let command_config = check_inputs(&scenario, opts, &pack)?;
    // A deployed stack is reached (and its clock and matcher checked) before the district is
    // built: a wrong URL or token costs a second, not a build.
    let http = match &opts.stack {
        Some(spec) => Some(connect_stack(spec, &scenario, &opts.progress)?),
        None => None,
    };
    let (twin, timings) = match built {
        Some(t)
            if t.district.scale == scenario.scale
                && t.district.seed == scenario.district_seed()
                && t.district.pack == pack.id() =>
        {
            (t.clone(), BuildTimings::default())
        }
        _ => {
            opts.progress.message(&format!(
                "building district {} at scale {} (seed {})",
                pack.name,
                scenario.scale,
                scenario.district_seed()
            ));
            Twin::from_pack(&pack, scenario.scale, scenario.district_seed())?
        }
    };
    let twin = twin.with_paces(&scenario);
    let command = match command_config {
        Some(config) if config.enabled => {
            let placement = command::place(
                &twin,
                &config,
                &baoan_world::RngStreams::new(scenario.district_seed()),
            )?;
            Some((config, placement))
        }
        _ => None,
    };
    Ok(Prepared {
        scenario,
        scenario_toml,
        twin,
        timings,
        http,
        command,
    })
}

/// The run's folder, made; only now, with every input checked, does the run write anything.
fn output_dir(scenario: &Scenario, opts: &RunOptions) -> Result<PathBuf, RunError> {
    let out_dir = opts.out.clone().unwrap_or_else(|| {
        let dir = PathBuf::from(scenario.output_dir());
        match opts.shard {
            Some(s) => dir.join(format!("shard-{}-of-{}", s.index, s.count)),
            None => dir,
        }
    });
    std::fs::create_dir_all(&out_dir).map_err(|source| RunError::Write {
        path: out_dir.clone(),
        what: "the output folder",
        source,
    })?;
    Ok(out_dir)
}

/// Ticks until the scenario's end, showing progress; a deployed stack that failed or could not
/// keep the schedule stops the run.
fn simulate(
    app: &mut App,
    scenario: &Scenario,
    progress: &Progress,
    transport: Option<&Arc<Mutex<baoan_load::TransportStats>>>,
) -> Result<(), RunError> {
    let mut bar = progress.start(scenario.duration.ms());
    loop {
        let clock = *app.world().resource::<SimClock>();
        if clock.finished() {
            break;
        }
        app.update();
        if let Some(unfit) = app.world().resource::<StackBridge>().unfit() {
            return Err(RunError::BadInput(format!(
                "{}: the stack cannot take this run's set-up: {unfit}",
                scenario.source.file
            )));
        }
        if clock.ticks.is_multiple_of(256) {
            bar.update(clock.now_ms, app.world().resource::<Journal>().events);
        }
        if let Some(stats) = transport {
            transport_gave_out(&stats.lock().expect("not poisoned"), clock.now_ms)?;
        }
    }
    if let Some(stats) = transport {
        stats.lock().expect("not poisoned").schedule_over = true;
    }
    bar.finish();
    Ok(())
}

/// The report of a finished run: the district, each loop's section (registry order), the
/// faults, the SLOs judged on every loop's metrics, and the invariants.
fn assemble_report(
    app: &App,
    scenario: &Scenario,
    opts: &RunOptions,
    counts: &district::Figures,
    parts: Vec<(&'static str, LoopOutcome)>,
) -> (
    Report,
    Vec<html::Section>,
    baoan_reports::Metrics,
    Vec<baoan_reports::map::MapLayers>,
) {
    let stack_name = app.world().resource::<StackBridge>().stack_name();
    let mut report = Report::new(scenario, &stack_name, BUILD, reproduce(scenario, opts));
    let district = &app.world().resource::<Twin>().district;
    report.pack = baoan_reports::PackRef {
        name: district.pack.name.clone(),
        hash: district.pack.hash.clone(),
    };
    report.coordinates = baoan_reports::Coordinates {
        datum: "wgs84".into(),
        frame_origin: [district.frame.origin_lon, district.frame.origin_lat],
        posts_crs: app
            .world()
            .get_resource::<CommandConfig>()
            .filter(|c| c.posts_csv.is_some())
            .map(|c| c.posts_crs.to_string()),
    };
    report.section("district", counts);
    let mut metrics = baoan_reports::Metrics::default();
    let mut sections = vec![counts.html_section()];
    let mut invariants = Vec::new();
    let mut layers = Vec::new();
    for (name, part) in parts {
        layers.push(part.map);
        report.section(name, &part.section);
        sections.push(part.html);
        invariants.extend(part.invariants);
        metrics.merge(part.metrics);
    }
    if !scenario.faults.is_empty() {
        let faults = app.world().resource::<PathFaults>().summary();
        metrics.set("faults.calls_held", faults.calls_held as f64);
        metrics.set("faults.pending_at_end", faults.pending_at_end as f64);
        metrics.set("faults.delay_max_s", faults.delay_max_s);
        report.section("faults", &faults);
    }
    let slos = evaluate(&scenario.slos, &metrics);
    report.conclude(slos, invariants);
    (report, sections, metrics, layers)
}

/// The command that reproduces the run.
fn reproduce(scenario: &Scenario, opts: &RunOptions) -> String {
    let file = PathBuf::from(if scenario.source.file.is_empty() {
        format!("{}.toml", scenario.name)
    } else {
        scenario.source.file.clone()
    });
    let mut reproduce = format!(
        "twin run {} --seed {} --scale {}",
        file.display(),
        scenario.seed,
        scenario.scale
    );
    if let Some(posts) = &opts.posts {
        reproduce.push_str(&format!(" --posts {}", posts.display()));
    }
    if let Some(shard) = opts.shard {
        reproduce.push_str(&format!(" --shard {}/{}", shard.index, shard.count));
    }
    if let Some(pack) = &opts.pack {
        reproduce.push_str(&format!(" --pack {}", pack.display()));
    }
    if let Some(crs) = opts.posts_crs {
        reproduce.push_str(&format!(" --crs {crs}"));
    }
    if let Some(d) = opts.district_seed {
        reproduce.push_str(&format!(" --district-seed {d}"));
    }
    for (name, v) in &opts.sets {
        reproduce.push_str(&format!(" --set {name}={v}"));
    }
    reproduce
}

/// The run's folder.
struct Output<'a> {
    dir: &'a Path,
}

impl Output<'_> {
    fn write(&self, name: &str, text: &str) -> Result<(), RunError> {
        let path = self.dir.join(name);
        std::fs::write(&path, text).map_err(|source| RunError::Write {
            path,
            what: "a file of the run's output",
            source,
        })
    }

    /// map.html: the run on the interactive map.
    fn write_map(
        &self,
        app: &App,
        scenario: &Scenario,
        report: &Report,
        layers: Vec<baoan_reports::map::MapLayers>,
        metrics: &baoan_reports::Metrics,
    ) -> Result<(), RunError> {
        let world = app.world();
        let page = map::run_map(
            world.resource::<Twin>(),
            world
                .get_resource::<baoan_agents::command::Placement>()
                .zip(world.get_resource::<CommandConfig>())
                .map(|(p, c)| (p, &c.assumed)),
            &format!("{}: the district on the day", scenario.name),
            format!(
                "seed {} · scale {} · {} simulated hours · synthetic",
                report.seed,
                report.scale,
                report.duration_s / 3600.0
            ),
            scenario.duration.ms() as f64 / 1000.0,
            layers,
            &metrics.series,
        );
        self.write("map.html", &baoan_reports::map::page(&page))
    }

    /// report.json, metrics.json (for `twin merge`), and index.html and junit.xml if asked for.
    fn write_report(
        &self,
        report: &Report,
        sections: &[html::Section],
        scenario: &Scenario,
        opts: &RunOptions,
        metrics: baoan_reports::Metrics,
        scenario_toml: String,
    ) -> Result<(), RunError> {
        self.write("report.json", &report.to_json())?;
        let metrics_file = MetricsFile {
            shard: opts.shard,
            scenario_toml,
            metrics: metrics.data(),
        };
        self.write(
            "metrics.json",
            &(serde_json::to_string(&metrics_file).expect("metrics serialise") + "\n"),
        )?;
        if scenario.output.html {
            let links = [(
                "map.html",
                "Interactive map: the district, posts, coverage by tier and the day's incidents, replayed",
            )];
            self.write(
                "index.html",
                &html::render_with_links(report, sections, &links),
            )?;
        }
        if opts.junit || scenario.output.junit {
            self.write("junit.xml", &report.junit())?;
        }
        Ok(())
    }
}

impl Perf {
    /// The simulation's figures; the caller fills in the run's wall time, the district's build
    /// and the report's.
    fn of_simulation(
        app: &App,
        scenario: &Scenario,
        simulate_s: f64,
        events: u64,
        stack: BTreeMap<&'static str, ModuleTime>,
    ) -> Perf {
        let simulated_s = scenario.duration.ms() as f64 / 1000.0;
        let ticks = app.world().resource::<SimClock>().ticks;
        Perf {
            build: BUILD,
            threads: rayon_threads(),
            wall_s: 0.0,
            build_world: BuildTimings::default(),
            simulate_s,
            report_s: 0.0,
            simulated_s,
            speedup: simulated_s / simulate_s.max(1e-9),
            ticks,
            ticks_per_s: ticks as f64 / simulate_s.max(1e-9),
            events,
            events_per_s: events as f64 / simulate_s.max(1e-9),
            commands_sent: app.world().resource::<StackBridge>().sent(),
            twin_s: simulate_s
                - stack
                    .iter()
                    .filter(|(k, _)| splits_by_module(k))
                    .map(|(_, m)| m.seconds)
                    .sum::<f64>(),
            stack,
            peak_rss_mib: peak_rss_mib(),
            transport: None,
        }
    }
}

/// Connects to a deployed stack for `twin run --stack`, checking it can take this scenario.
fn connect_stack(
    spec: &baoan_load::HttpStackSpec,
    scenario: &Scenario,
    progress: &Progress,
) -> Result<baoan_load::HttpStack, RunError> {
    let http = baoan_load::HttpStack::connect(spec.clone())?;
    if scenario.matcher.enabled && http.matcher_dim() != scenario.matcher.dim as usize {
        return Err(RunError::BadInput(format!(
            "{}: matcher.dim = {}, but the stack at {} takes {}-dimensional faces",
            scenario.source.file,
            scenario.matcher.dim,
            spec.base_url,
            http.matcher_dim()
        )));
    }
    if http.audit_entries_at_start() > 0 {
        progress.message(&format!(
            "the stack at {} already holds {} audit entries: the report will differ from one on \
             a fresh stack",
            spec.base_url,
            http.audit_entries_at_start()
        ));
    }
    progress.message(&format!(
        "driving the stack at {} ({})",
        spec.base_url,
        match spec.speed {
            Some(s) => format!("{s} simulated seconds per second"),
            None => "as fast as it answers".into(),
        }
    ));
    Ok(http)
}

/// Stops the run when the HTTP transport could not keep its schedule or gave up on a call.
fn transport_gave_out(stats: &baoan_load::TransportStats, now_ms: Millis) -> Result<(), RunError> {
    if let Some(failed) = &stats.failed {
        return Err(RunError::StackFailed {
            at_s: now_ms as f64 / 1000.0,
            detail: failed.to_string(),
        });
    }
    if let Some(b) = stats.behind {
        return Err(RunError::Behind {
            at_s: b.at_ms as f64 / 1000.0,
            lag_ms: b.lag_ms,
        });
    }
    Ok(())
}

fn rayon_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
