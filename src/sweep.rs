//! `twin sweep`: one scenario over seeds and settings, one folder per run, run by local
//! processes, a Slurm job array or a Kubernetes Indexed Job.
//!
//! A sweep is a list written once (`DIR/sweep.json`) and run by index: `twin sweep-task DIR I`
//! runs entry I into `DIR/runs/NNNN/` and records what it ran on (`run.json`: seed, settings,
//! the binary's and the pack's hashes, the scenario's). The local runner starts J processes of
//! it; `--emit slurm` writes an sbatch array script and `--emit k8s` an Indexed Job whose pods
//! do the same with the index from `SLURM_ARRAY_TASK_ID` or `JOB_COMPLETION_INDEX`. No cluster
//! code of our own: the engines schedule, retry and collect logs.
//!
//! The folder is self-contained: the scenario (as parsed, with paths rewritten), a planner's
//! posts files and a district pack are copied under `DIR/inputs/`, and every path in
//! sweep.json is relative to DIR, so a container that mounts DIR anywhere runs the same list.
//!
//! Design: every `--set` value and posts file is combined with every other (a full factorial,
//! each a "setting"); every `--vary` assumption is varied alone over its points from the first
//! setting (one at a time, the design a tornado plot reads). Every setting runs on the same
//! seeds: common random numbers, so two settings' difference is read seed by seed.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use baoan_scenarios::assumptions::{self, Overrides};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{RunError, RunOptions};

pub const SWEEP_FORMAT: &str = "baoan-twin/sweep/v1";

/// Where a sweep runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Emit {
    /// An sbatch script with `#SBATCH --array` (`sbatch DIR/sweep.sbatch`).
    Slurm,
    /// A Kubernetes Indexed Job (`kubectl apply -f DIR/sweep-job.yaml`) and the Containerfile
    /// of the image it runs.
    K8s,
}

#[derive(Debug, Clone, clap::Args)]
pub struct SweepArgs {
    /// The scenario file (TOML).
    pub scenario: PathBuf,
    /// Seeds per setting: the scenario's seed and the next N-1 (or from --first-seed).
    #[arg(long)]
    pub seeds: usize,
    #[arg(long)]
    pub first_seed: Option<u64>,
    /// An assumption at several values, all combined with the other --set and --posts:
    /// `--set matcher.reviewers_on_duty=24,32,40` (repeatable).
    #[arg(long = "set", value_name = "NAME=V1,V2,…")]
    pub sets: Vec<String>,
    /// An assumption varied alone over --points evenly spaced values from LO to HI, for the
    /// sensitivity (tornado) plot: `--vary travel.car.speed_m_per_s=7..11` (repeatable).
    #[arg(long = "vary", value_name = "NAME=LO..HI")]
    pub varies: Vec<String>,
    /// Let each seed generate its own district too (below a pack's given levels: grids,
    /// people, key areas, posts, cameras). By default the district is the scenario's
    /// (district_seed, else its seed) on every seed, and the seeds vary the day.
    #[arg(long)]
    pub vary_district: bool,
    /// Points per --vary (2: LO and HI).
    #[arg(long, default_value_t = 2)]
    pub points: usize,
    /// Post layouts (CSV, as `twin run --posts`), each a setting: `--posts A.csv,B.csv`.
    #[arg(long, value_delimiter = ',')]
    pub posts: Vec<PathBuf>,
    /// Override the scenario's scale.
    #[arg(long)]
    pub scale: Option<f64>,
    /// A district pack folder instead of the scenario's `district` (copied into the sweep).
    #[arg(long)]
    pub pack: Option<PathBuf>,
    /// The sweep's folder.
    #[arg(long)]
    pub out: PathBuf,
    /// Local processes at once (and the engines' parallelism with --emit).
    #[arg(long, default_value_t = 2)]
    pub jobs: usize,
    /// Write the engine's job file instead of running.
    #[arg(long)]
    pub emit: Option<Emit>,
    /// The image the Kubernetes job runs (built from DIR/Containerfile).
    #[arg(long, default_value = "localhost/baoan-twin:latest")]
    pub image: String,
    /// Memory each run may use, for the engines' requests (baseline-day peaks at 2.2 GiB).
    #[arg(long, default_value_t = 4096)]
    pub mem_mib: u64,
    /// No line per finished run.
    #[arg(long)]
    pub quiet: bool,
}

/// One entry of the list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSpec {
    pub index: usize,
    pub seed: u64,
    /// The setting's label: its --set values and posts file, and the varied assumption's
    /// value ("base" for none); runs of one setting differ only by seed.
    pub setting: String,
    /// Assumptions set for this run, by name.
    pub settings: Overrides,
    /// The posts file, relative to the sweep's folder.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub posts: Option<String>,
    /// The assumption this run varies alone, and its value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vary: Option<(String, f64)>,
    pub dir: String,
}

/// sweep.json.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SweepPlan {
    pub format: String,
    pub scenario_name: String,
    /// The copied scenario, relative to the sweep's folder, and the SHA-256 of its text.
    pub scenario: String,
    pub scenario_sha256: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scale: Option<f64>,
    /// The seed every run's district is built with; absent with --vary-district (each run's
    /// own seed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub district_seed: Option<u64>,
    /// The copied district pack's folder, relative to the sweep's folder.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pack: Option<String>,
    pub seeds: Vec<u64>,
    /// The varied assumptions and their points, for the summary's tornado plot.
    pub varies: Vec<(String, Vec<f64>)>,
    pub runs: Vec<RunSpec>,
}

/// run.json: what one run ran on, for `twin summarize` to check runs belong together.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunRecord {
    #[serde(flatten)]
    pub spec: RunSpec,
    pub scenario_name: String,
    pub scenario_sha256: String,
    /// SHA-256 of the `twin` binary that ran it: "the same build".
    pub build_sha256: String,
    pub build: String,
    pub pack: String,
    pub pack_sha256: String,
    /// The seed the run's district was built with.
    pub district_seed: u64,
    /// 0 every SLO met, 1 one failed (a result, not an error).
    pub exit: u8,
    pub passed: bool,
}

fn bad(msg: String) -> RunError {
    RunError::BadInput(msg)
}

fn io(path: &Path, e: std::io::Error) -> RunError {
    RunError::Harness(format!("{}: {e}", path.display()))
}

/// SHA-256 of bytes, in hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// SHA-256 of the running binary: two runs with the same hash ran the same build.
pub fn build_sha256() -> Result<String, RunError> {
    let exe =
        std::env::current_exe().map_err(|e| RunError::Harness(format!("current exe: {e}")))?;
    let mut file = std::fs::File::open(&exe).map_err(|e| io(&exe, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(|e| io(&exe, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// `NAME=V1,V2,…` → (name, values), the name checked.
fn parse_set_values(text: &str) -> Result<(String, Vec<f64>), RunError> {
    let (name, values) = text
        .split_once('=')
        .ok_or_else(|| bad(format!("--set {text}: expected NAME=V1,V2,…")))?;
    let name = name.trim();
    if !assumptions::is_known(name) {
        return Err(bad(format!("--set {text}: {}", assumptions::unknown(name))));
    }
    let values = values
        .split(',')
        .map(|v| {
            v.trim()
                .parse::<f64>()
                .map_err(|_| bad(format!("--set {text}: `{}` is not a number", v.trim())))
        })
        .collect::<Result<Vec<f64>, _>>()?;
    Ok((name.to_string(), values))
}

/// `NAME=LO..HI` with `points` → (name, evenly spaced values), the name checked; whole-number
/// assumptions get whole points.
fn parse_vary(text: &str, points: usize) -> Result<(String, Vec<f64>), RunError> {
    let expected = || bad(format!("--vary {text}: expected NAME=LO..HI, LO < HI"));
    let (name, range) = text.split_once('=').ok_or_else(expected)?;
    let name = name.trim();
    if !assumptions::is_known(name) {
        return Err(bad(format!(
            "--vary {text}: {}",
            assumptions::unknown(name)
        )));
    }
    let (lo, hi) = range.split_once("..").ok_or_else(expected)?;
    let (lo, hi): (f64, f64) = (
        lo.trim().parse().map_err(|_| expected())?,
        hi.trim().parse().map_err(|_| expected())?,
    );
    if !(lo < hi) || points < 2 {
        return Err(bad(format!(
            "--vary {text}: expected LO < HI and --points ≥ 2, got {lo}..{hi} with {points}"
        )));
    }
    let whole = assumptions::field(name).is_some_and(|f| f.kind == assumptions::FieldKind::Integer)
        || assumptions::code_by_name(name).is_some_and(|c| c.integer);
    let mut values: Vec<f64> = (0..points)
        .map(|i| lo + (hi - lo) * i as f64 / (points - 1) as f64)
        .map(|v| if whole { v.round() } else { v })
        .collect();
    values.dedup();
    Ok((name.to_string(), values))
}

fn label(settings: &Overrides, posts: Option<&str>) -> String {
    let mut parts: Vec<String> = settings.iter().map(|(k, v)| format!("{k}={v}")).collect();
    if let Some(p) = posts {
        parts.insert(0, format!("posts={p}"));
    }
    if parts.is_empty() {
        "base".into()
    } else {
        parts.join(", ")
    }
}

/// The settings: every combination of the --set values and the posts files.
fn combinations(sets: &[(String, Vec<f64>)], posts: &[String]) -> Vec<(Overrides, Option<String>)> {
    let mut out: Vec<(Overrides, Option<String>)> = if posts.is_empty() {
        vec![(Overrides::new(), None)]
    } else {
        posts
            .iter()
            .map(|p| (Overrides::new(), Some(p.clone())))
            .collect()
    };
    for (name, values) in sets {
        out = out
            .into_iter()
            .flat_map(|(o, p)| {
                values.iter().map(move |v| {
                    let mut o = o.clone();
                    o.insert(name.clone(), *v);
                    (o, p.clone())
                })
            })
            .collect();
    }
    out
}

/// The list: each setting on every seed, then each varied assumption's points from the first
/// setting, on every seed.
pub fn plan_runs(
    seeds: &[u64],
    sets: &[(String, Vec<f64>)],
    varies: &[(String, Vec<f64>)],
    posts: &[String],
) -> Vec<RunSpec> {
    let combos = combinations(sets, posts);
    let mut runs = Vec::new();
    let mut push = |settings: Overrides, posts: Option<String>, vary: Option<(String, f64)>| {
        let setting = label(&settings, posts.as_deref());
        for &seed in seeds {
            let index = runs.len();
            runs.push(RunSpec {
                index,
                seed,
                setting: setting.clone(),
                settings: settings.clone(),
                posts: posts.clone(),
                vary: vary.clone(),
                dir: format!("runs/{index:04}"),
            });
        }
    };
    for (settings, p) in &combos {
        push(settings.clone(), p.clone(), None);
    }
    let (base, base_posts) = combos[0].clone();
    for (name, points) in varies {
        for &v in points {
            let mut settings = base.clone();
            settings.insert(name.clone(), v);
            push(settings, base_posts.clone(), Some((name.clone(), v)));
        }
    }
    runs
}

fn copy_dir(from: &Path, to: &Path) -> Result<(), RunError> {
    std::fs::create_dir_all(to).map_err(|e| io(to, e))?;
    for entry in std::fs::read_dir(from).map_err(|e| io(from, e))? {
        let entry = entry.map_err(|e| io(from, e))?;
        let path = entry.path();
        let target = to.join(entry.file_name());
        if path.is_dir() {
            copy_dir(&path, &target)?;
        } else {
            std::fs::copy(&path, &target).map_err(|e| io(&path, e))?;
        }
    }
    Ok(())
}

/// Copy the scenario, its pack and the posts files under `DIR/inputs/`; the scenario is
/// written as parsed, with its pack and posts paths pointing at the copies.
fn copy_inputs(
    args: &SweepArgs,
    scenario: &baoan_scenarios::Scenario,
) -> Result<(String, Option<String>, Vec<String>), RunError> {
    let inputs = args.out.join("inputs");
    std::fs::create_dir_all(&inputs).map_err(|e| io(&inputs, e))?;
    let base = args.scenario.parent().unwrap_or(Path::new("."));
    let mut copy = scenario.clone();
    let pack_dir = match (&args.pack, scenario.district.as_deref()) {
        (Some(p), _) => Some(p.clone()),
        (None, None | Some("baoan")) => None,
        (None, Some(d)) => Some(base.join(d)),
    };
    let pack = match pack_dir {
        Some(dir) => {
            copy_dir(&dir, &inputs.join("pack"))?;
            Some("inputs/pack".to_string())
        }
        None => None,
    };
    copy.district = None;
    if let Some(p) = &scenario.command.posts_csv {
        std::fs::copy(base.join(p), inputs.join("scenario-posts.csv"))
            .map_err(|e| io(&base.join(p), e))?;
        copy.command.posts_csv = Some("scenario-posts.csv".into());
    }
    let mut posts = Vec::new();
    for (i, p) in args.posts.iter().enumerate() {
        let name = p.file_name().map_or(format!("posts-{i}.csv"), |n| {
            format!("{i}-{}", n.to_string_lossy())
        });
        std::fs::copy(p, inputs.join(&name)).map_err(|e| io(p, e))?;
        posts.push(format!("inputs/{name}"));
    }
    let text = copy.to_toml();
    let path = inputs.join("scenario.toml");
    std::fs::write(&path, &text).map_err(|e| io(&path, e))?;
    Ok((text, pack, posts))
}

/// `twin sweep`: write the list, then run it here or write the engine's job file.
pub fn sweep(args: &SweepArgs) -> Result<u8, RunError> {
    if args.seeds == 0 || args.jobs == 0 {
        return Err(bad("--seeds and --jobs: expected at least 1".into()));
    }
    let sets = args
        .sets
        .iter()
        .map(|s| parse_set_values(s))
        .collect::<Result<Vec<_>, _>>()?;
    let varies = args
        .varies
        .iter()
        .map(|s| parse_vary(s, args.points))
        .collect::<Result<Vec<_>, _>>()?;
    let scenario = crate::load_scenario(&args.scenario, None, args.scale)?;
    // Every value is checked against the scenario before anything runs: a bad one fails here,
    // not in run 37 on a cluster.
    for (name, values) in sets.iter().chain(&varies) {
        for v in values {
            scenario
                .clone()
                .with_assumptions(&[(name.clone(), *v)])
                .map_err(|e| bad(format!("{name}={v}: {e}")))?;
        }
    }
    let pack = crate::resolve_pack(
        &scenario,
        &RunOptions {
            pack: args.pack.clone(),
            ..RunOptions::default()
        },
    )?;
    for p in &args.posts {
        let opts = RunOptions {
            posts: Some(p.clone()),
            ..RunOptions::default()
        };
        crate::check_inputs(&scenario, &opts, &pack)?;
    }
    std::fs::create_dir_all(args.out.join("runs")).map_err(|e| io(&args.out, e))?;
    let (text, pack, posts) = copy_inputs(args, &scenario)?;
    let first = args.first_seed.unwrap_or(scenario.seed);
    let seeds: Vec<u64> = (0..args.seeds as u64).map(|i| first + i).collect();
    let plan = SweepPlan {
        format: SWEEP_FORMAT.into(),
        scenario_name: scenario.name.clone(),
        scenario: "inputs/scenario.toml".into(),
        scenario_sha256: sha256_hex(text.as_bytes()),
        scale: args.scale,
        district_seed: (!args.vary_district).then(|| scenario.district_seed()),
        pack,
        runs: plan_runs(&seeds, &sets, &varies, &posts),
        seeds,
        varies,
    };
    let path = args.out.join("sweep.json");
    std::fs::write(
        &path,
        serde_json::to_string_pretty(&plan).expect("the plan serialises") + "\n",
    )
    .map_err(|e| io(&path, e))?;
    match args.emit {
        Some(Emit::Slurm) => emit_slurm(args, &plan),
        Some(Emit::K8s) => emit_k8s(args, &plan),
        None => run_locally(args, &plan),
    }
}

/// A sweep's JSON file parsed, or bad input naming the file, line and column.
pub fn parse_json<T: serde::de::DeserializeOwned>(path: &Path, text: &str) -> Result<T, RunError> {
    serde_json::from_str(text).map_err(|e| {
        bad(format!(
            "{}:{}:{}: {e}",
            path.display(),
            e.line(),
            e.column()
        ))
    })
}

/// Read a JSON file of a run or sweep.
pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, RunError> {
    let text =
        std::fs::read_to_string(path).map_err(|e| bad(format!("{}: {e}", path.display())))?;
    parse_json(path, &text)
}

/// Read a sweep's list.
pub fn read_plan(dir: &Path) -> Result<SweepPlan, RunError> {
    let path = dir.join("sweep.json");
    let text = std::fs::read_to_string(&path).map_err(|e| {
        bad(format!(
            "{}: cannot read the sweep's list ({e}); is {} a `twin sweep --out` folder?",
            path.display(),
            dir.display()
        ))
    })?;
    let plan: SweepPlan = parse_json(&path, &text)?;
    if plan.format != SWEEP_FORMAT {
        return Err(bad(format!(
            "{}: format {:?}, expected {SWEEP_FORMAT:?}",
            path.display(),
            plan.format
        )));
    }
    Ok(plan)
}

/// `twin sweep-task DIR [I]`: run entry I of the list into its folder.
pub fn task(dir: &Path, index: Option<usize>) -> Result<u8, RunError> {
    let index = match index {
        Some(i) => i,
        None => ["SLURM_ARRAY_TASK_ID", "JOB_COMPLETION_INDEX"]
            .iter()
            .find_map(|v| std::env::var(v).ok())
            .ok_or_else(|| {
                bad(
                    "sweep-task: give the run's index, or set SLURM_ARRAY_TASK_ID or \
                     JOB_COMPLETION_INDEX"
                        .into(),
                )
            })?
            .trim()
            .parse()
            .map_err(|e| bad(format!("sweep-task: the index is not a number: {e}")))?,
    };
    let plan = read_plan(dir)?;
    let spec = plan.runs.get(index).cloned().ok_or_else(|| {
        bad(format!(
            "sweep-task: index {index} is past the list's {} runs",
            plan.runs.len()
        ))
    })?;
    let opts = RunOptions {
        seed: Some(spec.seed),
        scale: plan.scale,
        posts: spec.posts.as_ref().map(|p| dir.join(p)),
        pack: plan.pack.as_ref().map(|p| dir.join(p)),
        out: Some(dir.join(&spec.dir)),
        sets: spec.settings.iter().map(|(k, v)| (k.clone(), *v)).collect(),
        district_seed: plan.district_seed,
        ..RunOptions::default()
    };
    let summary = crate::run(&dir.join(&plan.scenario), &opts)?;
    let r = &summary.report;
    let record = RunRecord {
        spec: spec.clone(),
        scenario_name: plan.scenario_name.clone(),
        scenario_sha256: plan.scenario_sha256.clone(),
        build_sha256: build_sha256()?,
        build: crate::BUILD.into(),
        pack: r.pack.name.clone(),
        pack_sha256: r.pack.hash.clone(),
        district_seed: plan.district_seed.unwrap_or(spec.seed),
        exit: if r.passed { 0 } else { 1 },
        passed: r.passed,
    };
    let path = dir.join(&spec.dir).join("run.json");
    std::fs::write(
        &path,
        serde_json::to_string_pretty(&record).expect("serialises") + "\n",
    )
    .map_err(|e| io(&path, e))?;
    Ok(0)
}

/// J processes of `twin sweep-task`, each taking the next index; a line per finished run.
fn run_locally(args: &SweepArgs, plan: &SweepPlan) -> Result<u8, RunError> {
    let exe =
        std::env::current_exe().map_err(|e| RunError::Harness(format!("current exe: {e}")))?;
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let failed: Mutex<Vec<(usize, String)>> = Mutex::default();
    let total = plan.runs.len();
    let started = Instant::now();
    let say = |text: String| {
        if !args.quiet {
            eprintln!("{text}");
        }
    };
    say(format!(
        "twin: sweep of {total} runs ({} settings × {} seeds{}) in {} processes",
        total / plan.seeds.len(),
        plan.seeds.len(),
        if plan.varies.is_empty() {
            ""
        } else {
            ", varied ones included"
        },
        args.jobs
    ));
    std::thread::scope(|s| {
        for _ in 0..args.jobs.min(total) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(spec) = plan.runs.get(i) else { break };
                    let log = args.out.join(format!("{}.log", spec.dir));
                    let t = Instant::now();
                    let status = std::fs::File::create(&log).and_then(|f| {
                        std::process::Command::new(&exe)
                            .arg("sweep-task")
                            .arg(&args.out)
                            .arg(i.to_string())
                            .stdin(std::process::Stdio::null())
                            .stdout(f.try_clone()?)
                            .stderr(f)
                            .status()
                    });
                    let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                    let ok = matches!(&status, Ok(s) if s.success());
                    if !ok {
                        let why = match status {
                            Ok(s) => format!("exit {s}; see {}", log.display()),
                            Err(e) => e.to_string(),
                        };
                        failed.lock().expect("not poisoned").push((i, why));
                    }
                    if !args.quiet {
                        eprintln!(
                            "twin: run {n}/{total} {} (seed {}, {}) in {:.1} s{}",
                            spec.dir,
                            spec.seed,
                            spec.setting,
                            t.elapsed().as_secs_f64(),
                            if ok { "" } else { " FAILED" }
                        );
                    }
                }
            });
        }
    });
    let failed = failed.into_inner().expect("not poisoned");
    say(format!(
        "twin: sweep done in {:.1} s; summarize with `twin summarize {}`",
        started.elapsed().as_secs_f64(),
        args.out.display()
    ));
    if failed.is_empty() {
        Ok(0)
    } else {
        for (i, why) in &failed {
            eprintln!("twin: run {i} failed: {why}");
        }
        Err(RunError::Harness(format!(
            "{} of {total} runs failed",
            failed.len()
        )))
    }
}

fn absolute(p: &Path) -> Result<PathBuf, RunError> {
    std::path::absolute(p).map_err(|e| io(p, e))
}

/// `DIR/sweep.sbatch`: a job array over the list, at most `--jobs` at once.
fn emit_slurm(args: &SweepArgs, plan: &SweepPlan) -> Result<u8, RunError> {
    let dir = absolute(&args.out)?;
    let exe =
        std::env::current_exe().map_err(|e| RunError::Harness(format!("current exe: {e}")))?;
    let script = format!(
        "#!/bin/sh\n\
         # A sweep of {name}: {n} runs, one array task each (`twin sweep-task` reads the index\n\
         # from SLURM_ARRAY_TASK_ID). Submit with `sbatch {path}`; then `twin summarize {dir}`.\n\
         #SBATCH --job-name=baoan-sweep-{name}\n\
         #SBATCH --array=0-{last}%{jobs}\n\
         #SBATCH --ntasks=1\n\
         #SBATCH --cpus-per-task=1\n\
         #SBATCH --mem={mem}M\n\
         #SBATCH --output={dir}/runs/slurm-%A_%a.out\n\
         exec {exe} sweep-task {dir}\n",
        name = plan.scenario_name,
        n = plan.runs.len(),
        path = dir.join("sweep.sbatch").display(),
        dir = dir.display(),
        last = plan.runs.len() - 1,
        jobs = args.jobs,
        mem = args.mem_mib,
        exe = exe.display(),
    );
    let path = args.out.join("sweep.sbatch");
    std::fs::write(&path, script).map_err(|e| io(&path, e))?;
    println!("{}", path.display());
    Ok(0)
}

/// The Containerfile for an image of the static `twin` binary: nothing but the binary.
pub const CONTAINERFILE: &str = "\
# The twin as an image of one static binary, for the sweep's Kubernetes Indexed Job.
# Build the binary statically (glibc, crt-static), then the image, with no registry:
#   RUSTFLAGS='-C target-feature=+crt-static' cargo build --release --target x86_64-unknown-linux-gnu
#   cp target/x86_64-unknown-linux-gnu/release/twin DIR/twin
#   buildah bud -f DIR/Containerfile -t baoan-twin:latest DIR     (or podman build)
FROM scratch
COPY twin /twin
USER 65534:65534
ENTRYPOINT [\"/twin\"]
";

/// `DIR/sweep-job.yaml` (an Indexed Job over the list, the sweep's folder on a volume) and
/// `DIR/Containerfile`.
fn emit_k8s(args: &SweepArgs, plan: &SweepPlan) -> Result<u8, RunError> {
    let name = format!(
        "baoan-sweep-{}",
        plan.scenario_name
            .to_lowercase()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect::<String>()
    );
    let name: String = name.trim_end_matches('-').chars().take(50).collect();
    let yaml = format!(
        "# A sweep of {scenario}: {n} runs as a Kubernetes Indexed Job; each pod runs\n\
         # `twin sweep-task /sweep` with its JOB_COMPLETION_INDEX. The sweep's folder (sweep.json,\n\
         # inputs/) goes on the volume claimed as `{name}`; runs/ is written there.\n\
         # Apply with `kubectl apply -f sweep-job.yaml`; then `twin summarize` on the folder.\n\
         apiVersion: batch/v1\n\
         kind: Job\n\
         metadata:\n\
         \x20 name: {name}\n\
         \x20 labels:\n\
         \x20   app.kubernetes.io/name: baoan-twin\n\
         \x20   app.kubernetes.io/component: sweep\n\
         spec:\n\
         \x20 completionMode: Indexed\n\
         \x20 completions: {n}\n\
         \x20 parallelism: {jobs}\n\
         \x20 backoffLimit: {backoff}\n\
         \x20 template:\n\
         \x20   metadata:\n\
         \x20     labels:\n\
         \x20       app.kubernetes.io/name: baoan-twin\n\
         \x20   spec:\n\
         \x20     restartPolicy: Never\n\
         \x20     securityContext:\n\
         \x20       runAsNonRoot: true\n\
         \x20       runAsUser: 65534\n\
         \x20       fsGroup: 65534\n\
         \x20     containers:\n\
         \x20       - name: twin\n\
         \x20         image: {image}\n\
         \x20         imagePullPolicy: IfNotPresent\n\
         \x20         args: [\"sweep-task\", \"/sweep\"]\n\
         \x20         resources:\n\
         \x20           requests:\n\
         \x20             cpu: \"1\"\n\
         \x20             memory: {mem}Mi\n\
         \x20           limits:\n\
         \x20             memory: {mem}Mi\n\
         \x20         volumeMounts:\n\
         \x20           - name: sweep\n\
         \x20             mountPath: /sweep\n\
         \x20     volumes:\n\
         \x20       - name: sweep\n\
         \x20         persistentVolumeClaim:\n\
         \x20           claimName: {name}\n",
        scenario = plan.scenario_name,
        n = plan.runs.len(),
        jobs = args.jobs,
        backoff = plan.runs.len().min(1000),
        image = args.image,
        mem = args.mem_mib,
    );
    let path = args.out.join("sweep-job.yaml");
    std::fs::write(&path, yaml).map_err(|e| io(&path, e))?;
    let cf = args.out.join("Containerfile");
    std::fs::write(&cf, CONTAINERFILE).map_err(|e| io(&cf, e))?;
    println!("{}", path.display());
    Ok(0)
}

/// Runs of a sweep that have finished, with their records; and the indexes that have not. A
/// run folder whose record is not the list's entry (left by an earlier list in the same
/// folder) counts as not finished: its figures belong to another run.
pub fn finished_runs(
    dir: &Path,
    plan: &SweepPlan,
) -> Result<(Vec<(RunRecord, PathBuf)>, Vec<usize>), RunError> {
    let mut done = Vec::new();
    let mut missing = Vec::new();
    for spec in &plan.runs {
        let run_dir = dir.join(&spec.dir);
        let path = run_dir.join("run.json");
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let record: RunRecord = parse_json(&path, &text)?;
                if record.spec == *spec {
                    done.push((record, run_dir));
                } else {
                    missing.push(spec.index);
                }
            }
            Err(_) => missing.push(spec.index),
        }
    }
    Ok((done, missing))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_combine_and_varies_go_one_at_a_time_on_common_seeds() {
        let sets = vec![("matcher.reviewers_on_duty".to_string(), vec![24.0, 32.0])];
        let varies = vec![("travel.car.speed_m_per_s".to_string(), vec![7.0, 11.0])];
        let posts = vec!["inputs/0-a.csv".to_string(), "inputs/1-b.csv".to_string()];
        let runs = plan_runs(&[5, 6, 7], &sets, &varies, &posts);
        // 2 posts × 2 values = 4 settings, plus 2 points of the varied one: 6 × 3 seeds.
        assert_eq!(runs.len(), 18);
        assert!(runs.iter().enumerate().all(|(i, r)| r.index == i));
        let settings: std::collections::BTreeSet<&str> =
            runs.iter().map(|r| r.setting.as_str()).collect();
        assert_eq!(settings.len(), 6);
        for s in &settings {
            let seeds: Vec<u64> = runs
                .iter()
                .filter(|r| r.setting == *s)
                .map(|r| r.seed)
                .collect();
            assert_eq!(seeds, vec![5, 6, 7], "{s}: every setting on the same seeds");
        }
        let varied: Vec<&RunSpec> = runs.iter().filter(|r| r.vary.is_some()).collect();
        assert_eq!(varied.len(), 6);
        for r in varied {
            // Varied from the first setting only.
            assert_eq!(r.posts.as_deref(), Some("inputs/0-a.csv"));
            assert_eq!(r.settings["matcher.reviewers_on_duty"], 24.0);
            assert_eq!(r.settings.len(), 2);
        }
    }

    #[test]
    fn bad_names_and_ranges_are_refused_naming_them() {
        let e = parse_set_values("command.call_dealy=1,2")
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown assumption `command.call_dealy`"), "{e}");
        let e = parse_vary("nope.x=1..2", 2).unwrap_err().to_string();
        assert!(e.contains("unknown assumption `nope.x`"), "{e}");
        assert!(parse_vary("travel.car.speed_m_per_s=9..7", 2).is_err());
        assert!(parse_vary("travel.car.speed_m_per_s=7..9", 1).is_err());
        assert!(parse_set_values("command.call_delay=1,x").is_err());
        let (_, pts) = parse_vary("matcher.reviewers_on_duty=20..30", 4).unwrap();
        assert_eq!(
            pts,
            vec![20.0, 23.0, 27.0, 30.0],
            "whole numbers stay whole"
        );
        let (_, pts) = parse_vary("travel.car.speed_m_per_s=7..11", 3).unwrap();
        assert_eq!(pts, vec![7.0, 9.0, 11.0]);
    }
}
