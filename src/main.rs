//! `twin`: the Bao'an twin's command line. Thin: parsing and exit codes; the work is in the
//! library crates.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use baoan_twin::{Progress, RunError, RunOptions};
use clap::{Parser, Subcommand};

// Linking a whole district's feeds allocates and frees tens of millions of small objects on one
// thread, and perf showed glibc's allocator consolidating and zeroing pages for a tenth of the
// time. With mimalloc, blocks-district linked in 89.9 s instead of 114.3 s and peaked at 9.3 GiB
// instead of 12.6 GiB, with the same report.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "twin",
    version,
    about = "Digital twin of Bao'an District driving its governance platform"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run a scenario on the in-process stack (or a deployed one, --stack) and write
    /// report.json, perf.json and index.html.
    Run {
        /// The scenario file (TOML), e.g. scenarios/baseline-day.toml.
        file: PathBuf,
        /// Override the scenario's seed.
        #[arg(long)]
        seed: Option<u64>,
        /// The seed the district is built with (default the scenario's district_seed, else
        /// the seed): a sweep holds it while --seed varies the day.
        #[arg(long)]
        district_seed: Option<u64>,
        /// Override the scenario's scale (0 < scale <= 1).
        #[arg(long)]
        scale: Option<f64>,
        /// A planner's police posts: CSV with x_m,y_m (local metres) or lon,lat columns.
        #[arg(long)]
        posts: Option<PathBuf>,
        /// The datum of --posts' lon,lat: wgs84 (GPS, OpenStreetMap) or gcj02 (Chinese web
        /// maps); default the scenario's command.posts_crs, which defaults to wgs84.
        #[arg(long)]
        crs: Option<baoan_world::proj::Crs>,
        /// A district pack folder (with district.toml), instead of the scenario's `district`
        /// (default: the built-in Bao'an pack).
        #[arg(long)]
        pack: Option<PathBuf>,
        /// Output folder (default: the scenario's output.dir, else out/<name>).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Write the event journal (journal.jsonl).
        #[arg(long)]
        journal: bool,
        /// Write JUnit XML of the SLOs and invariants (junit.xml).
        #[arg(long)]
        junit: bool,
        /// No progress output.
        #[arg(long)]
        quiet: bool,
        #[command(flatten)]
        stack: StackArgs,
        /// Run one shard i/n of the district, split by street (street k to shard k mod n + 1):
        /// grid, command and matcher work only in its streets; block data and the cases loops
        /// on shard 1. Writes metrics.json for `twin merge`.
        #[arg(long, value_parser = baoan_twin::Shard::parse)]
        shard: Option<baoan_twin::Shard>,
        /// Set an assumption by name for this run (repeatable): `--set command.call_delay=90`.
        /// `twin assumptions` lists the names, units and defaults.
        #[arg(long = "set", value_name = "NAME=VALUE", value_parser = baoan_scenarios::assumptions::parse_set)]
        sets: Vec<(String, f64)>,
    },
    /// Every behaviour number the twin assumes: name, value, unit and source. With --scenario,
    /// the values in that scenario (overrides marked).
    Assumptions {
        /// Print a JSON array of {name, value, unit, source}.
        #[arg(long)]
        json: bool,
        /// Show the values a scenario runs with.
        #[arg(long)]
        scenario: Option<PathBuf>,
    },
    /// Run a scenario over seeds and settings (every combination), one folder per run, in J
    /// local processes; or write a Slurm array script or a Kubernetes Indexed Job (`--emit`)
    /// that runs the same list. `twin summarize DIR` reads the folders.
    Sweep(baoan_twin::sweep::SweepArgs),
    /// Run one run of a sweep's list (what `twin sweep`'s processes, a Slurm array task and a
    /// Kubernetes Indexed Job's pod do): the index from the argument, else SLURM_ARRAY_TASK_ID
    /// or JOB_COMPLETION_INDEX.
    #[command(hide = true)]
    SweepTask { dir: PathBuf, index: Option<usize> },
    /// Summarize a sweep: per metric and setting the mean, standard deviation and 95% interval
    /// over seeds, paired differences between settings on common seeds, and which varied
    /// assumption moves each headline figure most (summary.json, index.html).
    Summarize {
        /// The sweep folder(s): each holds sweep.json and runs/.
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// Where summary.json and index.html go (default: the first folder).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Merge the output folders of every shard of a run (`twin run --shard i/n`) into one
    /// report: latency histograms merged exactly, counts added, SLOs evaluated again.
    Merge {
        /// The shards' output folders.
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// Where the merged report.json goes.
        #[arg(long, default_value = "out/merged")]
        out: PathBuf,
    },
    /// Build a district and print its figures; with --pack, validate the pack first and say
    /// what was read, generated and dropped. Draws the district (streets, roads, places) in
    /// an HTML page.
    District {
        #[arg(long, default_value_t = 1.0)]
        scale: f64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// A district pack folder (default: the built-in Bao'an pack).
        #[arg(long)]
        pack: Option<PathBuf>,
        /// Where the page goes (default out/district-<pack>).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Make and inspect district packs.
    Pack {
        #[command(subcommand)]
        what: PackCmd,
    },
    /// Plan for the district: where police posts should go.
    Plan {
        #[command(subcommand)]
        what: PlanCmd,
    },
    /// Two runs (folders or report.json files) side by side; or, with --scenario, two post
    /// layouts (CSV files): coverage, maps before and after, grids that gain and lose.
    Compare {
        a: PathBuf,
        b: PathBuf,
        /// The scenario to compare two layouts on.
        #[arg(long)]
        scenario: Option<PathBuf>,
        #[arg(long, default_value = "out/compare")]
        out: PathBuf,
    },
    /// Draw random valid scenarios at a tenth of the district or more and run them until the
    /// time is spent, checking every invariant; a failure is shrunk and written as a scenario
    /// file (`twin run` reproduces it). Exits 1 if any failed.
    Fuzz {
        /// How long to draw and run scenarios.
        #[arg(long)]
        minutes: f64,
        /// Seeds the draws: the same seed draws the same scenarios.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// The most re-runs spent shrinking one failure.
        #[arg(long, default_value_t = 40)]
        max_shrink_runs: u32,
        #[arg(long, default_value = "out/fuzz")]
        out: PathBuf,
        /// Only the summary, not a line per case.
        #[arg(long)]
        quiet: bool,
    },
    /// Check a scenario file (and the district pack it names) without running it.
    Validate {
        file: PathBuf,
        /// A district pack folder, instead of the scenario's `district`.
        #[arg(long)]
        pack: Option<PathBuf>,
    },
    /// Serve the stack over HTTP for clients and load tests: every command at
    /// POST /{module}/{kind} with a bearer token, and GET /health, /metrics (Prometheus) and
    /// /openapi.json. Every call is journaled (SQLite or PostgreSQL) before it is answered, and
    /// a restart replays the journal: nothing acknowledged is lost.
    Serve {
        /// The address to listen on (IP:port).
        #[arg(long, default_value = baoan_server::DEFAULT_LISTEN)]
        listen: SocketAddr,
        /// Who may call: a TOML file of `[[token]]` entries (token, role, person). Without it a
        /// development table, one token per role, is made and printed.
        #[arg(long)]
        tokens: Option<PathBuf>,
        /// The largest request body taken, in bytes (block-data batches are big).
        #[arg(long, default_value_t = baoan_server::DEFAULT_MAX_BODY)]
        max_body: usize,
        /// Where the stack's journal lives: sqlite://PATH (one file, WAL) or
        /// postgres://USER@HOST:PORT/DATABASE; `memory` keeps it in memory only.
        #[arg(long, default_value = baoan_server::DEFAULT_DATABASE)]
        database: String,
        /// A fault plan to inject on the HTTP path: `[[fault]]` windows (at_s, for_s, module,
        /// kind = latency | errors | down, latency_ms or share), timed from the start.
        #[arg(long)]
        faults: Option<PathBuf>,
        /// Where the server's time comes from: `wall` (its own, for production and load tests)
        /// or `caller` (each command's X-Sent-At and POST /clock/advance from a gateway token:
        /// for `twin run --stack` replaying a scenario's simulated time).
        #[arg(long, default_value = "wall", value_parser = ["wall", "caller"])]
        clock: String,
        /// Sightings through NATS JetStream (nats://HOST:PORT): stored in a stream, answered
        /// 202, carried by matcher workers (a queue group).
        #[arg(long)]
        bus: Option<String>,
        /// The JetStream stream's name.
        #[arg(long, default_value = baoan_server::bus::DEFAULT_STREAM, requires = "bus")]
        bus_stream: String,
        /// Matcher workers on this server (0: only publish; another server carries).
        #[arg(long, default_value_t = baoan_server::bus::DEFAULT_WORKERS, requires = "bus")]
        bus_workers: usize,
        /// A client must send a request's whole header within this many seconds of connecting
        /// or of starting it, or its connection is closed (slow clients hold no connection).
        #[arg(long, default_value_t = baoan_server::conn::DEFAULT_HEADER_READ_TIMEOUT.as_secs_f64())]
        header_read_timeout_s: f64,
        /// A keep-alive connection with no request for this many seconds is closed.
        #[arg(long, default_value_t = baoan_server::conn::DEFAULT_IDLE_TIMEOUT.as_secs_f64())]
        idle_timeout_s: f64,
        /// The most connections held at once; one more is answered 503 (Retry-After: 1) and
        /// closed.
        #[arg(long, default_value_t = baoan_server::conn::DEFAULT_MAX_CONNECTIONS)]
        max_connections: usize,
        /// Serve /metrics and /health also at this address (IP:port), without a token: an
        /// internal interface for Prometheus.
        #[arg(long)]
        metrics_listen: Option<SocketAddr>,
        /// GET /metrics on the main address then needs `Authorization: Bearer` this token.
        #[arg(long)]
        metrics_token: Option<String>,
    },
    /// Find the knee of a served stack: grid reports at a stepped-up arrival rate (open model,
    /// latency corrected for coordinated omission) until the p99 breaks the SLO; writes
    /// load.json, knee.svg and index.html. Exits 1 if no rate met the SLO, 3 if the generator
    /// itself fell behind.
    Load {
        #[command(flatten)]
        target: LoadTargetArgs,
        /// The first step's rate (reports per second).
        #[arg(long, default_value_t = 1000.0)]
        start_rate: f64,
        /// No step above this rate.
        #[arg(long, default_value_t = 40_000.0)]
        max_rate: f64,
        /// Each step's rate is the last one's times this.
        #[arg(long, default_value_t = 1.25)]
        factor: f64,
        /// Seconds measured per step (after its warm-up).
        #[arg(long, default_value_t = 15.0)]
        step_s: f64,
        /// Seconds of warm-up per step, left out of its figures.
        #[arg(long, default_value_t = 3.0)]
        warmup_s: f64,
        /// The SLO on the corrected p99, in milliseconds.
        #[arg(long, default_value_t = 20.0)]
        slo_p99_ms: f64,
        /// The largest share of non-2xx answers a step may have and still pass.
        #[arg(long, default_value_t = 0.001)]
        max_error_rate: f64,
        #[arg(long, default_value = "out/load")]
        out: PathBuf,
    },
    /// Soak a served stack: one rate for a long time, sampled every interval (latency, errors,
    /// the server's and the harness's memory); writes soak.json, soak.svg and index.html. Exits
    /// 3 if the generator fell behind.
    Soak {
        #[command(flatten)]
        target: LoadTargetArgs,
        /// Reports per second.
        #[arg(long)]
        rate: f64,
        /// Seconds measured (after the warm-up): 3600 for an hour.
        #[arg(long, default_value_t = 3600.0)]
        duration_s: f64,
        /// Seconds of warm-up: memory growth and latency drift are taken from its end.
        #[arg(long, default_value_t = 60.0)]
        warmup_s: f64,
        /// Seconds between samples.
        #[arg(long, default_value_t = 10.0)]
        interval_s: f64,
        #[arg(long, default_value = "out/soak")]
        out: PathBuf,
    },
}

/// Which served stack to load, and as whom.
#[derive(clap::Args)]
struct LoadTargetArgs {
    /// The served stack's base URL (what `twin serve` printed).
    #[arg(long)]
    stack: String,
    /// The tokens file the server was started with (`twin serve --tokens FILE`): an admin token
    /// loads the grid directory, an inspector token sends the reports.
    #[arg(long)]
    tokens: PathBuf,
    /// Keep-alive connections (each carries one request at a time).
    #[arg(long, default_value_t = 64)]
    connections: usize,
}

impl LoadTargetArgs {
    fn target(&self) -> Result<baoan_load::LoadTarget, RunError> {
        baoan_load::LoadTarget::from_tokens_file(&self.stack, &self.tokens).map_err(RunError::from)
    }
}

/// Where `twin run` sends the scenario's calls instead of the in-process stack.
#[derive(clap::Args)]
struct StackArgs {
    /// A deployed stack's base URL (http://host:port) started with `twin serve --clock caller`
    /// and a fresh database: the scenario drives it over HTTP, one gateway token speaking for
    /// every actor, and the report is the in-process one's (perf.json adds the transport's
    /// latency).
    #[arg(long)]
    stack: Option<String>,
    /// The server's tokens file: its first `gateway = true` token is used.
    #[arg(long, requires = "stack", conflicts_with = "token")]
    tokens: Option<PathBuf>,
    /// A gateway's token (else TWIN_STACK_TOKEN).
    #[arg(long, requires = "stack")]
    token: Option<String>,
    /// Simulated seconds per real second: each call goes out at its scheduled moment
    /// (`max`: each as soon as the last is answered).
    #[arg(long, default_value = "1", requires = "stack")]
    speed: String,
    /// A call going out this much later than scheduled means the harness cannot keep the
    /// schedule: the run stops with exit 3.
    #[arg(long, default_value_t = 1.0, requires = "stack")]
    max_lag_s: f64,
    /// How long one call is retried (HTTP 503, a dropped connection) before the run stops.
    #[arg(long, default_value_t = 60.0, requires = "stack")]
    retry_budget_s: f64,
    /// The most calls of one tick in flight at once, each on its own connection. Calls by one
    /// actor or about one subject keep their order; others may reach the stack in another order
    /// than in process, so the report may differ where calls compete (README). 1 sends one call
    /// at a time and gives the in-process report exactly.
    #[arg(long, default_value_t = baoan_load::DEFAULT_CONCURRENCY, requires = "stack")]
    concurrency: usize,
}

impl StackArgs {
    fn spec(&self) -> Result<Option<baoan_load::HttpStackSpec>, RunError> {
        let Some(base_url) = &self.stack else {
            return Ok(None);
        };
        let token = match (&self.tokens, &self.token) {
            (Some(path), _) => {
                let tokens = baoan_server::Tokens::load(path)
                    .map_err(|e| RunError::BadInput(e.to_string()))?;
                tokens
                    .gateway_token()
                    .ok_or_else(|| {
                        RunError::BadInput(format!(
                            "{}: no [[token]] with gateway = true; --stack needs a gateway's \
                             token to act for every person of the scenario",
                            path.display()
                        ))
                    })?
                    .to_string()
            }
            (None, Some(token)) => token.clone(),
            (None, None) => std::env::var("TWIN_STACK_TOKEN").map_err(|_| {
                RunError::BadInput(
                    "--stack: give a gateway's token with --token, --tokens FILE or \
                     TWIN_STACK_TOKEN (`twin serve` prints one in its development table)"
                        .into(),
                )
            })?,
        };
        let speed = match self.speed.as_str() {
            "max" => None,
            text => Some(
                text.parse::<f64>()
                    .ok()
                    .filter(|s| s.is_finite() && *s > 0.0)
                    .ok_or_else(|| {
                        RunError::BadInput(format!(
                            "--speed: expected simulated seconds per second (a positive number) or \
                         `max`, got `{text}`"
                        ))
                    })?,
            ),
        };
        Ok(Some(baoan_load::HttpStackSpec {
            base_url: base_url.clone(),
            token,
            speed,
            max_lag: seconds("max-lag-s", self.max_lag_s)?,
            retry_budget: seconds("retry-budget-s", self.retry_budget_s)?,
            concurrency: self.concurrency,
        }))
    }
}

fn seconds(flag: &str, s: f64) -> Result<std::time::Duration, RunError> {
    std::time::Duration::try_from_secs_f64(s)
        .ok()
        .filter(|_| s.is_finite())
        .ok_or_else(|| RunError::BadInput(format!("--{flag}: expected seconds ≥ 0, got {s}")))
}

#[derive(Subcommand)]
enum PackCmd {
    /// Make a district pack from an OpenStreetMap extract: roads, places and land use from its
    /// tags; the boundary given, else the extract's largest administrative area, else the
    /// roads' hull; streets, communities and grids generated inside it where people live.
    FromOsm(baoan_twin::packs::FromOsm),
}

#[derive(Subcommand)]
enum PlanCmd {
    /// Choose N post sites maximising 1-3-5 coverage of the scenario's emergency demand; writes
    /// posts.csv (readable by `twin run --posts`), plan.json and index.html.
    Posts {
        /// The scenario whose district, seed and emergency rates to plan for.
        #[arg(long)]
        scenario: PathBuf,
        /// How many posts.
        #[arg(long)]
        posts: usize,
        /// The current posts (CSV: x_m,y_m or lon,lat), evaluated and offered as candidates
        /// (default: the pack's posts, when it has them).
        #[arg(long)]
        current: Option<PathBuf>,
        /// A district pack folder, instead of the scenario's `district`.
        #[arg(long)]
        pack: Option<PathBuf>,
        /// The datum of lon,lat in --current and --candidates: wgs84 (default) or gcj02.
        #[arg(long, default_value = "wgs84")]
        crs: baoan_world::proj::Crs,
        /// Candidate sites (CSV) instead of the busiest grids' sites.
        #[arg(long)]
        candidates: Option<PathBuf>,
        #[arg(long)]
        out: Option<PathBuf>,
        /// Also run the full simulation with the planned (and current) posts: units busy.
        #[arg(long)]
        simulate: bool,
        /// With --simulate: simulate both layouts on this many seeds (a sweep in OUT/sweep) and
        /// report each with its 95% interval and the paired difference.
        #[arg(long, default_value_t = 1, requires = "simulate")]
        seeds: usize,
        /// Processes at once for --seeds.
        #[arg(long, default_value_t = 2, requires = "simulate")]
        jobs: usize,
        /// Write the single-radius instance for a peer solver (benches/peers/spopt_mclp.py).
        #[arg(long)]
        export_instance: Option<PathBuf>,
        /// Solve the integer programme to proven optimality with HiGHS (a build with
        /// `--features exact`); the heuristic's layout is its warm start.
        #[arg(long)]
        exact: bool,
        /// Seconds the exact solver may take; past it, the best layout found and the proven
        /// bound are reported.
        #[arg(long, default_value_t = 300.0, requires = "exact")]
        time_limit: f64,
        /// Start the exact solver cold, without the heuristic's layout as its incumbent (to
        /// measure what the warm start is worth).
        #[arg(long, requires = "exact")]
        cold_start: bool,
        /// Threads for the exact solver (0: the solver chooses).
        #[arg(long, default_value_t = 0, requires = "exact")]
        threads: u32,
        #[arg(long)]
        quiet: bool,
    },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    // A panic is the harness failing (a bound hit, a bug), not bad input: exit 3, not 101.
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| execute(cli.command)))
        .unwrap_or_else(|_| {
            Err(RunError::Harness(
                "the harness failed (see the message above)".into(),
            ))
        });
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("twin: {e}");
            ExitCode::from(e.exit_code() as u8)
        }
    }
}

/// One entry function per command; each returns the exit code or a typed error that `main`
/// maps to one.
fn execute(command: Cmd) -> Result<u8, RunError> {
    match command {
        Cmd::Run {
            file,
            seed,
            scale,
            posts,
            crs,
            pack,
            out,
            journal,
            junit,
            quiet,
            stack,
            shard,
            sets,
            district_seed,
        } => {
            let opts = RunOptions {
                seed,
                scale,
                posts,
                posts_crs: crs,
                out,
                journal,
                junit,
                progress: progress(quiet),
                stack: stack.spec()?,
                shard,
                pack,
                sets,
                district_seed,
            };
            run(&file, &opts, quiet)
        }
        Cmd::Assumptions { json, scenario } => assumptions(json, scenario.as_deref()),
        Cmd::Sweep(args) => baoan_twin::sweep::sweep(&args),
        Cmd::SweepTask { dir, index } => baoan_twin::sweep::task(&dir, index),
        Cmd::Summarize { dirs, out } => baoan_twin::summary::summarize(&dirs, out.as_deref()),
        Cmd::District {
            scale,
            seed,
            pack,
            out,
            json,
        } => district(scale, seed, pack, out, json),
        Cmd::Pack {
            what: PackCmd::FromOsm(opts),
        } => baoan_twin::packs::from_osm(&opts),
        Cmd::Merge { dirs, out } => merge(&dirs, &out),
        Cmd::Plan {
            what:
                PlanCmd::Posts {
                    scenario,
                    posts,
                    current,
                    pack,
                    crs,
                    candidates,
                    out,
                    simulate,
                    seeds,
                    jobs,
                    export_instance,
                    exact,
                    time_limit,
                    cold_start,
                    threads,
                    quiet,
                },
        } => plan_posts(baoan_twin::plan::PlanOptions {
            scenario,
            posts,
            current,
            pack,
            crs,
            candidates,
            out,
            simulate,
            export_instance,
            exact,
            time_limit_s: time_limit,
            warm_start: !cold_start,
            threads,
            progress: progress(quiet),
            seeds,
            jobs,
        }),
        Cmd::Compare {
            a,
            b,
            scenario,
            out,
        } => compare(&a, &b, scenario.as_deref(), &out),
        Cmd::Fuzz {
            minutes,
            seed,
            max_shrink_runs,
            out,
            quiet,
        } => fuzz(minutes, seed, max_shrink_runs, out, quiet),
        Cmd::Serve {
            listen,
            tokens,
            max_body,
            database,
            faults,
            clock,
            bus,
            bus_stream,
            bus_workers,
            header_read_timeout_s,
            idle_timeout_s,
            max_connections,
            metrics_listen,
            metrics_token,
        } => serve(
            listen,
            tokens,
            max_body,
            database,
            faults,
            &clock,
            bus.map(|url| baoan_server::BusConfig {
                url,
                stream: bus_stream,
                workers: bus_workers,
            }),
            Exposure {
                header_read_timeout_s,
                idle_timeout_s,
                max_connections,
                metrics: baoan_server::MetricsAccess {
                    listen: metrics_listen,
                    token: metrics_token,
                },
            },
        ),
        Cmd::Load {
            target,
            start_rate,
            max_rate,
            factor,
            step_s,
            warmup_s,
            slo_p99_ms,
            max_error_rate,
            out,
        } => {
            let spec = baoan_load::KneeSpec {
                start_rate,
                max_rate,
                growth: baoan_load::RateGrowth::Factor(factor),
                step_duration: seconds("step-s", step_s)?,
                warmup: seconds("warmup-s", warmup_s)?,
                connections: target.connections,
                slo_p99_ms,
                max_error_rate,
                ..baoan_load::KneeSpec::default()
            };
            load(&target, &spec, &out)
        }
        Cmd::Soak {
            target,
            rate,
            duration_s,
            warmup_s,
            interval_s,
            out,
        } => {
            let spec = baoan_load::SoakSpec {
                rate,
                duration: seconds("duration-s", duration_s)?,
                warmup: seconds("warmup-s", warmup_s)?,
                interval: seconds("interval-s", interval_s)?,
                connections: target.connections,
                ..baoan_load::SoakSpec::default()
            };
            soak(&target, &spec, &out)
        }
        Cmd::Validate { file, pack } => validate(&file, pack),
    }
}

fn progress(quiet: bool) -> Progress {
    if quiet {
        Progress::Quiet
    } else {
        Progress::Auto
    }
}

/// `twin run`: the run, its verdict on the terminal, where its report is.
fn run(file: &std::path::Path, opts: &RunOptions, quiet: bool) -> Result<u8, RunError> {
    let summary = baoan_twin::run(file, opts)?;
    let r = &summary.report;
    if !quiet {
        print_slos(&r.slos);
        if let Some(tiers) = r
            .sections
            .get(baoan_agents::command::NAME)
            .and_then(baoan_agents::command::tiers_of)
        {
            eprintln!("  1-3-5: {}", one_three_five(&tiers));
        }
        for i in r.invariants.iter().filter(|i| !i.holds) {
            eprintln!("  BROKEN invariant: {} ({})", i.name, i.detail);
        }
        print_run_perf(&summary.perf);
    }
    println!("report: {}", summary.out_dir.join("index.html").display());
    println!("json:   {}", summary.out_dir.join("report.json").display());
    if r.passed {
        Ok(0)
    } else {
        eprintln!(
            "twin: an SLO or invariant failed; reproduce with: {}",
            r.reproduce
        );
        Ok(1)
    }
}

/// Each tier's share within its limit, overall and in key areas.
fn one_three_five(tiers: &[baoan_agents::command::TierRow]) -> String {
    tiers
        .iter()
        .map(|t| {
            format!(
                "{} {:.0}% within {:.0} min (key areas {:.0}%)",
                t.tier,
                t.within_limit_share * 100.0,
                t.limit_s / 60.0,
                t.key_area_share * 100.0
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn print_run_perf(perf: &baoan_twin::Perf) {
    eprintln!(
        "twin: {} simulated hours in {:.1} s ({:.0}× real time, peak memory {:.0} MiB)",
        perf.simulated_s / 3600.0,
        perf.wall_s,
        perf.speedup,
        perf.peak_rss_mib
    );
    if let Some(t) = &perf.transport {
        eprintln!(
            "twin: over HTTP: {} calls and {} clock ticks, {} retried; latency from schedule \
             p50 {:.2} ms p99 {:.2} ms, service p50 {:.2} ms p99 {:.2} ms; latest send {:.1} ms \
             behind schedule",
            t.calls,
            t.advances,
            t.retries,
            t.latency_from_scheduled.p50_ms,
            t.latency_from_scheduled.p99_ms,
            t.service_time.p50_ms,
            t.service_time.p99_ms,
            t.max_lag_ms
        );
    }
}

/// `twin merge`: the shards' folders into one report.
fn merge(dirs: &[PathBuf], out: &std::path::Path) -> Result<u8, RunError> {
    let merged = baoan_twin::merge::merge(dirs, out)?;
    print_slos(&merged.slos);
    println!("json:   {}", out.join("report.json").display());
    Ok(if merged.passed { 0 } else { 1 })
}

/// `twin plan posts`: the layout, its bounds, and the simulations asked for.
fn plan_posts(opts: baoan_twin::plan::PlanOptions) -> Result<u8, RunError> {
    let r = baoan_twin::plan::plan_posts(&opts)?;
    let dir = opts
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("out/plan-{}-{}", r.scenario, r.posts)));
    if let Some(e) = &r.exact {
        println!(
            "exact: {} — coverage {:.4}%, bound {:.4}%, gap {:.4}%; the heuristic is {:.3}% below the bound",
            match e.status {
                baoan_planning::exact::ExactStatus::Optimal => "proven optimal",
                baoan_planning::exact::ExactStatus::TimeLimit => "time limit reached",
            },
            e.coverage * 100.0,
            e.bound * 100.0,
            e.gap * 100.0,
            e.heuristic_gap * 100.0
        );
    }
    println!(
        "{} posts: coverage {:.1}% (at most {:.1}% from the best: bound {:.1}%){}",
        r.posts,
        r.coverage * 100.0,
        r.gap_at_most * 100.0,
        r.upper_bound * 100.0,
        r.current_coverage.map_or(String::new(), |c| format!(
            "; current posts {:.1}%",
            c * 100.0
        ))
    );
    for s in &r.simulated {
        println!(
            "  simulated, {}: auxiliary police within 3 min {:.1}%, police within 5 min {:.1}%",
            s.layout,
            s.auxiliary_police_within_3_min * 100.0,
            s.police_within_5_min * 100.0
        );
    }
    if let Some(o) = &r.simulated_over_seeds {
        for (name, m) in o.layouts.iter().chain(std::iter::once(&(
            "planned − current".to_string(),
            o.planned_minus_current.clone(),
        ))) {
            let figures: Vec<String> = baoan_twin::plan::LAYOUT_FIGURES
                .iter()
                .filter_map(|(k, label)| {
                    m.get(*k).map(|s| {
                        format!(
                            "{label} {:.1}% [{:.1}, {:.1}]",
                            s.mean * 100.0,
                            s.ci95_low * 100.0,
                            s.ci95_high * 100.0
                        )
                    })
                })
                .collect();
            println!("  over {} seeds, {name}: {}", o.seeds, figures.join("; "));
        }
    }
    println!("posts:  {}", dir.join("posts.csv").display());
    println!("report: {}", dir.join("index.html").display());
    Ok(0)
}

/// `twin compare`: two runs, or two layouts on a scenario.
fn fuzz(
    minutes: f64,
    seed: u64,
    max_shrink_runs: u32,
    out: PathBuf,
    quiet: bool,
) -> Result<u8, RunError> {
    if !(minutes.is_finite() && minutes > 0.0) {
        return Err(RunError::BadInput(format!(
            "--minutes: expected a positive number of minutes, got {minutes}"
        )));
    }
    let opts = baoan_twin::fuzz::FuzzOptions {
        duration: std::time::Duration::from_secs_f64(minutes * 60.0),
        out: out.clone(),
        seed,
        max_shrink_runs,
        quiet,
    };
    let s = baoan_twin::fuzz::fuzz(&opts)?;
    let scales: Vec<String> = s
        .cases_by_scale
        .iter()
        .map(|(scale, n)| format!("{n} at {scale}"))
        .collect();
    println!(
        "fuzz: {} cases in {:.1} min ({}; {:.0} simulated hours), {} failed; {}",
        s.cases,
        s.minutes,
        scales.join(", "),
        s.simulated_hours,
        s.failures.len(),
        out.join("fuzz.json").display()
    );
    for f in &s.failures {
        println!(
            "fuzz: {} case(s): {} — `twin run {}`",
            f.cases,
            f.what,
            f.file.display()
        );
    }
    Ok(if s.failures.is_empty() { 0 } else { 1 })
}

fn compare(
    a: &std::path::Path,
    b: &std::path::Path,
    scenario: Option<&std::path::Path>,
    out: &std::path::Path,
) -> Result<u8, RunError> {
    match scenario {
        Some(s) => {
            let c = baoan_twin::plan::compare_layouts(s, a, b, out, Progress::Auto)?;
            println!(
                "A covers {:.1}%, B {:.1}% of emergency demand; {} grids gain, {} lose",
                c.coverage_a * 100.0,
                c.coverage_b * 100.0,
                c.grids_gaining,
                c.grids_losing
            );
        }
        None => {
            let rows = baoan_twin::compare::compare_runs(a, b, out)?;
            let changed = rows.iter().filter(|r| r.a != r.b).count();
            println!("{} figures compared, {changed} differ", rows.len());
        }
    }
    println!("report: {}", out.join("index.html").display());
    Ok(0)
}

/// `twin load`: the knee, and whether the generator kept its timetable.
fn load(
    target: &LoadTargetArgs,
    spec: &baoan_load::KneeSpec,
    out: &std::path::Path,
) -> Result<u8, RunError> {
    let result = baoan_load::find_knee(&target.target()?, spec)?;
    let files = baoan_load::write_knee_report(out, &result)?;
    let slo_p99_ms = spec.slo_p99_ms;
    match result.knee_rate {
        Some(rate) => eprintln!(
            "twin: the knee is {rate:.0} reports/s (corrected p99 within {slo_p99_ms} ms, \
             errors within {:.2}%); stopped: {:?}",
            spec.max_error_rate * 100.0,
            result.stop
        ),
        None => eprintln!(
            "twin: no step met the SLO (corrected p99 within {slo_p99_ms} ms); stopped: {:?}",
            result.stop
        ),
    }
    eprintln!("twin: report at {}", files.html.display());
    if result.generator_behind {
        eprintln!(
            "twin: the load generator fell behind its timetable ({}): the last step's \
             figures are the generator's limit, not the server's",
            result.generator_behind_detail.as_deref().unwrap_or("")
        );
        return Ok(3);
    }
    // No rate met the SLO: the served stack fails it, as a run failing its SLOs does.
    Ok(if result.knee_rate.is_some() { 0 } else { 1 })
}

/// `twin soak`: memory and latency over a long run at one rate.
fn soak(
    target: &LoadTargetArgs,
    spec: &baoan_load::SoakSpec,
    out: &std::path::Path,
) -> Result<u8, RunError> {
    let result = baoan_load::soak(&target.target()?, spec)?;
    let files = baoan_load::write_soak_report(out, &result)?;
    let mib = |b: Option<i64>| {
        b.map(|b| format!("{:+.1} MiB", b as f64 / 1048576.0))
            .unwrap_or_else(|| "unknown".into())
    };
    eprintln!(
        "twin: soak at {} reports/s for {} s: {} sent, error rate {:.4}, corrected p99 drift {}; \
         memory growth after warm-up: server {}{}, harness {}",
        spec.rate,
        spec.duration.as_secs_f64(),
        result.total.sent,
        result.total.error_rate,
        result
            .p99_drift_ms
            .map(|d| format!("{d:+.2} ms"))
            .unwrap_or_else(|| "unknown".into()),
        mib(result.server_rss_growth_bytes),
        result
            .server_rss_bytes_per_call
            .map(|b| format!(" ({b:.0} bytes a call)"))
            .unwrap_or_default(),
        mib(result.harness_rss_growth_bytes)
    );
    eprintln!("twin: report at {}", files.html.display());
    Ok(if result.generator_behind { 3 } else { 0 })
}

/// `twin assumptions`: the catalogue, at its defaults or as a scenario sets it.
fn assumptions(json: bool, scenario: Option<&std::path::Path>) -> Result<u8, RunError> {
    let defaults = baoan_scenarios::assumptions::catalogue();
    let values = match scenario {
        Some(file) => baoan_twin::load_scenario(file, None, None)?.assumption_values(),
        None => defaults.clone(),
    };
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&values).expect("assumptions serialise")
        );
        return Ok(0);
    }
    let width = values.iter().map(|a| a.name.len()).max().unwrap_or(4);
    println!("{:width$}  {:>12}  {:<18}  source", "name", "value", "unit");
    for (a, d) in values.iter().zip(&defaults) {
        let mark = if a.value != d.value {
            format!(" (default {})", d.value)
        } else {
            String::new()
        };
        println!(
            "{:width$}  {:>12}  {:<18}  {}{mark}",
            a.name, a.value, a.unit, a.source
        );
    }
    Ok(0)
}

/// `twin validate`: the scenario and the inputs it names, checked without running.
fn validate(file: &std::path::Path, pack: Option<PathBuf>) -> Result<u8, RunError> {
    let s = baoan_twin::load_scenario(file, None, None)?;
    let opts = RunOptions {
        pack,
        ..RunOptions::default()
    };
    let pack = baoan_twin::resolve_pack(&s, &opts)?;
    baoan_twin::check_inputs(&s, &opts, &pack)?;
    for (_, why) in s.constant_slos() {
        eprintln!(
            "{}: warning: a gate that cannot fail on the in-process stack: {why}",
            file.display()
        );
    }
    println!(
        "{}: valid scenario {:?} ({} simulated, scale {}, {} SLOs) on district pack {} ({})",
        file.display(),
        s.name,
        s.duration,
        s.scale,
        s.slos.len(),
        pack.name,
        &pack.hash[..12]
    );
    Ok(0)
}

/// `twin serve`'s limits on connections and where `/metrics` is served.
struct Exposure {
    header_read_timeout_s: f64,
    idle_timeout_s: f64,
    max_connections: usize,
    metrics: baoan_server::MetricsAccess,
}

impl Exposure {
    fn limits(&self) -> Result<baoan_server::ConnectionLimits, RunError> {
        let seconds = |flag: &str, s: f64| {
            if s.is_finite() && s > 0.0 {
                Ok(std::time::Duration::from_secs_f64(s))
            } else {
                Err(RunError::BadInput(format!(
                    "--{flag}: expected a positive number of seconds, got {s}"
                )))
            }
        };
        if self.max_connections == 0 {
            return Err(RunError::BadInput(
                "--max-connections: expected a positive number, got 0".into(),
            ));
        }
        if self
            .metrics
            .token
            .as_ref()
            .is_some_and(|t| t.len() < baoan_server::tokens::MIN_TOKEN_LEN)
        {
            return Err(RunError::BadInput(format!(
                "--metrics-token: expected at least {} characters",
                baoan_server::tokens::MIN_TOKEN_LEN
            )));
        }
        Ok(baoan_server::ConnectionLimits {
            header_read_timeout: seconds("header-read-timeout-s", self.header_read_timeout_s)?,
            idle_timeout: seconds("idle-timeout-s", self.idle_timeout_s)?,
            max_connections: self.max_connections,
        })
    }
}

#[allow(clippy::too_many_arguments)]
fn serve(
    listen: SocketAddr,
    tokens: Option<PathBuf>,
    max_body: usize,
    database: String,
    faults: Option<PathBuf>,
    clock: &str,
    bus: Option<baoan_server::BusConfig>,
    exposure: Exposure,
) -> Result<u8, RunError> {
    let clock = match clock {
        "caller" => baoan_server::ClockMode::Caller,
        _ => baoan_server::ClockMode::Wall,
    };
    let connections = exposure.limits()?;
    if max_body == 0 {
        return Err(RunError::BadInput(
            "--max-body: expected a positive number of bytes, got 0".into(),
        ));
    }
    let tokens = match tokens {
        Some(path) => {
            baoan_server::Tokens::load(&path).map_err(|e| RunError::BadInput(e.to_string()))?
        }
        None => baoan_server::tokens::development()
            .map_err(|e| RunError::Harness(format!("cannot draw development tokens: {e}")))?,
    };
    let faults = match faults {
        Some(path) => Some(std::sync::Arc::new(
            baoan_server::Faults::load(&path).map_err(|e| RunError::BadInput(e.to_string()))?,
        )),
        None => None,
    };
    if let Some(plan) = &faults {
        for w in plan.windows() {
            if w.kind == baoan_server::faults::FaultKind::Restart {
                eprintln!(
                    "twin: fault plan: restart of the server at {:.1} s, down for {:.1} s",
                    w.start.as_secs_f64(),
                    (w.end - w.start).as_secs_f64()
                );
                continue;
            }
            eprintln!(
                "twin: fault plan: {} on {} from {:.1} s to {:.1} s",
                w.kind.as_str(),
                w.module.map_or("every module", |m| m.as_str()),
                w.start.as_secs_f64(),
                w.end.as_secs_f64()
            );
        }
    }
    let in_memory = database == "memory";
    let config = baoan_server::Config {
        listen,
        tokens: tokens.clone(),
        max_body,
        database: (!in_memory).then_some(database),
        faults,
        clock,
        bus,
        connections,
        metrics: exposure.metrics,
    };
    baoan_server::serve(config, |server| {
        if let Some(addr) = server.metrics_addr() {
            eprintln!("twin: /metrics and /health also at http://{addr}");
        }
        if tokens.is_development() {
            eprint!(
                "twin: development tokens, for this run only (not for a deployment: pass --tokens FILE):\n{}",
                tokens.table()
            );
        }
        let r = server.replayed();
        if r.commands + r.advances > 0 {
            eprintln!(
                "twin: replayed the journal: {} calls and {} ticks of time-driven work; the \
                 clock resumes at {:.1} s",
                r.commands,
                r.advances,
                r.resumed_at as f64 / 1000.0
            );
        }
        eprintln!(
            "twin: serving the stack at http://{} (state: {}, clock: {})",
            server.local_addr(),
            server.state().storage(),
            clock.as_str()
        );
        if let Some(bus) = server.state().bus() {
            let c = bus.config();
            eprintln!(
                "twin: sightings go through NATS JetStream at {} (stream {}, {} matcher workers \
                 here)",
                c.url, c.stream, c.workers
            );
        }
        if clock == baoan_server::ClockMode::Caller {
            eprintln!(
                "twin: the caller's clock: time moves only with X-Sent-At and POST \
                 /clock/advance from a gateway token; drive it with `twin run SCENARIO --stack \
                 http://{}`",
                server.local_addr()
            );
        }
    })
    .map_err(|e| match e {
        baoan_server::ServeError::Listen { .. }
        | baoan_server::ServeError::Storage(_)
        | baoan_server::ServeError::RestartWithoutStorage
        | baoan_server::ServeError::Bus(_) => RunError::BadInput(e.to_string()),
        _ => RunError::Harness(e.to_string()),
    })?;
    if in_memory {
        eprintln!("twin: stopped; the stack's state (in memory) is gone with it");
    } else {
        eprintln!("twin: stopped; the journal keeps the stack's state for the next start");
    }
    Ok(0)
}

/// One line per SLO: passed or not, its bounds, what was measured.
fn print_slos(slos: &[baoan_reports::SloResult]) {
    for s in slos {
        eprintln!(
            "  {} {} {} {:<6} measured {}",
            if s.passed { "pass" } else { "FAIL" },
            s.metric,
            s.stat,
            baoan_reports::slo_bounds(s),
            s.value.map_or("no data".into(), |v| v.to_string())
        );
    }
}

/// `twin district`: load and check the pack, build its district, print what was read,
/// generated and dropped with the figures, and draw it.
fn district(
    scale: f64,
    seed: u64,
    pack: Option<PathBuf>,
    out: Option<PathBuf>,
    json: bool,
) -> Result<u8, RunError> {
    if !(scale > 0.0 && scale <= 1.0) {
        return Err(RunError::BadInput(format!(
            "--scale: expected a number in (0, 1], got {scale}"
        )));
    }
    let shown = baoan_twin::packs::show(scale, seed, pack.as_deref(), out.as_deref())?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&shown.json).expect("serialises")
        );
    } else {
        print!("{}", shown.text);
    }
    eprintln!("twin: district page at {}", shown.page.display());
    Ok(0)
}
