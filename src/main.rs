//! `twin`: the Bao'an twin's command line. Thin: parsing and exit codes; the work is in the
//! library crates.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use baoan_twin::{Progress, RunError, RunOptions, district::Figures};
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
    /// Run a scenario on the in-process stack and write report.json, perf.json and index.html.
    Run {
        /// The scenario file (TOML), e.g. scenarios/baseline-day.toml.
        file: PathBuf,
        /// Override the scenario's seed.
        #[arg(long)]
        seed: Option<u64>,
        /// Override the scenario's scale (0 < scale <= 1).
        #[arg(long)]
        scale: Option<f64>,
        /// A planner's police posts: CSV with x_m,y_m (local metres) or lon,lat columns.
        #[arg(long)]
        posts: Option<PathBuf>,
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
    },
    /// Print the district's figures.
    District {
        #[arg(long, default_value_t = 1.0)]
        scale: f64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
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
    /// Check a scenario file without running it.
    Validate { file: PathBuf },
    /// Serve the stack over HTTP for clients and load tests: every command at
    /// POST /{module}/{kind} with a bearer token, and GET /health, /metrics (Prometheus) and
    /// /openapi.json. The stack is kept in memory: stopping the server (Ctrl-C) loses it.
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
    },
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
        /// The current posts (CSV: x_m,y_m or lon,lat), evaluated and offered as candidates.
        #[arg(long)]
        current: Option<PathBuf>,
        /// Candidate sites (CSV) instead of the busiest grids' sites.
        #[arg(long)]
        candidates: Option<PathBuf>,
        #[arg(long)]
        out: Option<PathBuf>,
        /// Also run the full simulation with the planned (and current) posts: units busy.
        #[arg(long)]
        simulate: bool,
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

fn execute(command: Cmd) -> Result<u8, RunError> {
    match command {
        Cmd::Run {
            file,
            seed,
            scale,
            posts,
            out,
            journal,
            junit,
            quiet,
        } => {
            let progress = if quiet {
                Progress::Quiet
            } else {
                Progress::Auto
            };
            baoan_twin::run(&file, &RunOptions { seed, scale, posts, out, journal, junit, progress }).map(|summary| {
                let r = &summary.report;
                if !quiet {
                    for s in &r.slos {
                        eprintln!(
                            "  {} {} {} {:<6} measured {}",
                            if s.passed { "pass" } else { "FAIL" },
                            s.metric,
                            s.stat,
                            baoan_reports::slo_bounds(s),
                            s.value.map_or("no data".into(), |v| v.to_string())
                        );
                    }
                    if let Some(tiers) = r.sections.get("command").and_then(|c| c["tiers"].as_array()) {
                        let share = |t: &serde_json::Value, k: &str| t[k].as_f64().unwrap_or(0.0) * 100.0;
                        let line: Vec<String> = tiers
                            .iter()
                            .map(|t| {
                                format!(
                                    "{} {:.0}% within {:.0} min (key areas {:.0}%)",
                                    t["tier"].as_str().unwrap_or("?"),
                                    share(t, "within_limit_share"),
                                    t["limit_s"].as_f64().unwrap_or(0.0) / 60.0,
                                    share(t, "key_area_share")
                                )
                            })
                            .collect();
                        eprintln!("  1-3-5: {}", line.join("; "));
                    }
                    for i in r.invariants.iter().filter(|i| !i.holds) {
                        eprintln!("  BROKEN invariant: {} ({})", i.name, i.detail);
                    }
                    eprintln!(
                        "twin: {} simulated hours in {:.1} s ({:.0}× real time, peak memory {:.0} MiB)",
                        summary.perf.simulated_s / 3600.0,
                        summary.perf.wall_s,
                        summary.perf.speedup,
                        summary.perf.peak_rss_mib
                    );
                }
                println!("report: {}", summary.out_dir.join("index.html").display());
                println!("json:   {}", summary.out_dir.join("report.json").display());
                if r.passed {
                    0
                } else {
                    eprintln!("twin: an SLO or invariant failed; reproduce with: {}", r.reproduce);
                    1
                }
            })
        }
        Cmd::District { scale, seed, json } => district(scale, seed, json),
        Cmd::Plan {
            what:
                PlanCmd::Posts {
                    scenario,
                    posts,
                    current,
                    candidates,
                    out,
                    simulate,
                    export_instance,
                    exact,
                    time_limit,
                    cold_start,
                    threads,
                    quiet,
                },
        } => {
            let progress = if quiet {
                Progress::Quiet
            } else {
                Progress::Auto
            };
            let opts = baoan_twin::plan::PlanOptions {
                scenario,
                posts,
                current,
                candidates,
                out: out.clone(),
                simulate,
                export_instance,
                exact,
                time_limit_s: time_limit,
                warm_start: !cold_start,
                threads,
                progress,
            };
            let r = baoan_twin::plan::plan_posts(&opts)?;
            let dir = out
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
            println!("posts:  {}", dir.join("posts.csv").display());
            println!("report: {}", dir.join("index.html").display());
            Ok(0)
        }
        Cmd::Compare {
            a,
            b,
            scenario,
            out,
        } => {
            match scenario {
                Some(s) => {
                    let c = baoan_twin::plan::compare_layouts(&s, &a, &b, &out, Progress::Auto)?;
                    println!(
                        "A covers {:.1}%, B {:.1}% of emergency demand; {} grids gain, {} lose",
                        c.coverage_a * 100.0,
                        c.coverage_b * 100.0,
                        c.grids_gaining,
                        c.grids_losing
                    );
                }
                None => {
                    let rows = baoan_twin::compare::compare_runs(&a, &b, &out)?;
                    let changed = rows.iter().filter(|r| r.a != r.b).count();
                    println!("{} figures compared, {changed} differ", rows.len());
                }
            }
            println!("report: {}", out.join("index.html").display());
            Ok(0)
        }
        Cmd::Serve {
            listen,
            tokens,
            max_body,
        } => serve(listen, tokens, max_body),
        Cmd::Validate { file } => {
            let s = baoan_twin::load_scenario(&file, None, None)?;
            baoan_twin::check_inputs(&s, &RunOptions::default())?;
            println!(
                "{}: valid scenario {:?} ({} simulated, scale {}, {} SLOs)",
                file.display(),
                s.name,
                s.duration,
                s.scale,
                s.slos.len()
            );
            Ok(0)
        }
    }
}

fn serve(listen: SocketAddr, tokens: Option<PathBuf>, max_body: usize) -> Result<u8, RunError> {
    if max_body == 0 {
        return Err(RunError::BadInput(
            "--max-body: expected a positive number of bytes, got 0".into(),
        ));
    }
    let tokens = match tokens {
        Some(path) => {
            baoan_server::Tokens::load(&path).map_err(|e| RunError::BadInput(e.to_string()))?
        }
        None => baoan_server::Tokens::development()
            .map_err(|e| RunError::Harness(format!("cannot draw development tokens: {e}")))?,
    };
    let server = baoan_server::Server::bind(baoan_server::Config {
        listen,
        tokens: tokens.clone(),
        max_body,
    })
    .map_err(|e| RunError::BadInput(e.to_string()))?;
    if tokens.is_development() {
        eprint!(
            "twin: development tokens, for this run only (not for a deployment: pass --tokens FILE):\n{}",
            tokens.table()
        );
    }
    eprintln!(
        "twin: serving the stack at http://{} (in memory; storage is not implemented yet)",
        server.local_addr()
    );
    server.run().map_err(|e| match e {
        baoan_server::ServeError::Listen { .. } => RunError::BadInput(e.to_string()),
        _ => RunError::Harness(e.to_string()),
    })?;
    eprintln!("twin: stopped; the stack's state is gone with it");
    Ok(0)
}

fn district(scale: f64, seed: u64, json: bool) -> Result<u8, RunError> {
    if !(scale > 0.0 && scale <= 1.0) {
        return Err(RunError::BadInput(format!(
            "--scale: expected a number in (0, 1], got {scale}"
        )));
    }
    let started = Instant::now();
    let (twin, timings) = baoan_world::Twin::build(scale, seed);
    let build_s = started.elapsed().as_secs_f64();
    let figures = Figures::of(&twin);
    let rss = baoan_twin::peak_rss_mib();
    if json {
        let value = serde_json::json!({
            "figures": figures,
            "perf": { "build_s": build_s, "steps": timings, "peak_rss_mib": rss, "travel_matrix_mib": twin.travel.memory_bytes() as f64 / 1048576.0, "population_mib": twin.population.memory_bytes() as f64 / 1048576.0 },
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&value).expect("serialises")
        );
    } else {
        print!("{}", figures.text());
        println!(
            "\nbuilt in {build_s:.2} s (geography {:.2} s, travel times {:.2} s, population {:.2} s), peak memory {rss:.0} MiB",
            timings.geography_s, timings.travel_s, timings.population_s
        );
    }
    Ok(0)
}
