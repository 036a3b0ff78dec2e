//! The harness's HTTP load generator: for engineers who need to know how much reporting traffic
//! the deployed district platform (`twin serve`, or the stack behind any server speaking the same
//! routes) takes before its answers get slow, and whether it stays healthy for hours at a
//! realistic rate.
//!
//! The generator is an *open model*, like wrk2 or k6's constant-arrival-rate executor: grid
//! inspectors' reports are due on a fixed timetable whatever the server does, so a slow server
//! faces a growing queue — as it would in the district — instead of a politely waiting client.
//!
//! - Worker `k` of `C` (one keep-alive HTTP/1.1 connection each) sends request `j` at
//!   `start + (k + j·C) / rate`. Latency is measured twice: from the *scheduled* time (corrected
//!   for coordinated omission: what an inspector waiting on the platform sees) and from the
//!   actual send (service time: what the server took once it had the request).
//! - Every report is real work: before the load, the admin loads a directory of grids
//!   (`POST /grid/load_directory`) in which the inspector token's person inspects grid 0 and a
//!   fire-department resolver serves its community, so each report (`POST /grid/reports`, item
//!   type 1, a fire lane obstructed) creates and dispatches a task. The stack accepts an
//!   inspector's report only for the grid that person inspects, and a person inspects one grid,
//!   so all reports go to that grid; each carries a `report_ref` never used before.
//! - The generator checks itself: a request that went out more than 10 ms late although its
//!   connection was idle was delayed by the generator, not the server. When more than 1% of a
//!   step's sends are late that way the result says `generator_behind`, and the figures are not
//!   the server's: the rate is never lowered silently.
//! - Memory is constant: latencies go into HDR histograms (1 µs to 1 h, two significant digits)
//!   per worker, merged per interval and at the end; nothing is kept per request.
//!
//! Three runs: [`run_constant`] (one rate), [`find_knee`] (rates stepped up until the p99 SLO or
//! the error budget breaks) and [`soak`] (one rate for a long time, sampled per interval with the
//! server's and the harness's resident memory). [`write_knee_report`] and [`write_soak_report`]
//! leave JSON, an SVG plot and a small `index.html`. All runs block the calling thread: each runs
//! its own tokio runtime, so call them outside any runtime.
//!
//! [`HttpStack`] is the other half of the harness's HTTP side: a deployed stack as the twin's
//! `Stack`, so a whole scenario drives it (`twin run SCENARIO --stack URL`).

mod client;
mod engine;
mod knee;
mod plot;
mod report;
mod setup;
mod soak;
mod stack;
mod target;

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;

pub use engine::{
    GENERATOR_BEHIND_SHARE, LATE_TOLERANCE, LatencySummary, RateSpec, StatusCounts, StepResult,
    late_by_generator, run_constant,
};
pub use knee::{
    KneeResult, KneeSpec, KneeStep, KneeStop, RateGrowth, StepVerdict, find_knee, select_knee,
    step_verdict,
};
pub use report::{ReportFiles, write_knee_report, write_soak_report};
pub use setup::{DEFAULT_GRIDS, REPORT_GRID, REPORT_ITEM_TYPE, directory_body};
pub use soak::{SoakResult, SoakSample, SoakSpec, harness_rss_bytes, parse_resident_memory, soak};
pub use stack::{
    Behind, DEFAULT_CONCURRENCY, DEFAULT_MAX_LAG, DEFAULT_RETRY_BUDGET, HttpStack, HttpStackSpec,
    TransportStats, TransportSummary,
};
pub use target::LoadTarget;

/// Why a load run could not be made or its report not written. Each message names what failed
/// and what was expected, so an engineer can fix the command line or the server.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{url}: expected a plain HTTP base URL such as http://127.0.0.1:8080 ({problem})")]
    BadUrl { url: String, problem: String },
    #[error(transparent)]
    Tokens(#[from] baoan_api::http::TokensError),
    #[error(
        "{path}: no [[token]] with role = \"{role}\"; the load generator needs an admin token \
         (to load the grid directory) and an inspector token (to send reports)"
    )]
    MissingToken { path: PathBuf, role: &'static str },
    #[error("cannot resolve {host}: {source}")]
    Resolve { host: String, source: io::Error },
    #[error("cannot connect to {addr} (from {url}): {source}; is the server running there?")]
    Connect {
        addr: SocketAddr,
        url: String,
        source: io::Error,
    },
    #[error("{what}: the HTTP exchange with {addr} failed: {message}")]
    Http {
        what: String,
        addr: SocketAddr,
        message: String,
    },
    #[error("set-up: {what} was refused with HTTP {status}: {body}")]
    SetupRejected {
        what: String,
        status: u16,
        body: String,
    },
    #[error("invalid load specification: {0}")]
    BadSpec(String),
    #[error("cannot start the load generator's runtime: {0}")]
    Runtime(io::Error),
    #[error("{path}: cannot write the load report: {source}")]
    Write { path: PathBuf, source: io::Error },
    #[error("cannot draw the {what} plot: {message}")]
    Plot { what: &'static str, message: String },
    #[error("cannot write the results as JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// A multi-threaded runtime for one run: as many workers as the machine has cores.
fn runtime() -> Result<tokio::runtime::Runtime, LoadError> {
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .thread_name("baoan-load")
        .enable_all()
        .build()
        .map_err(LoadError::Runtime)
}
