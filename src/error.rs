//! The run's errors, typed up to the binary: each says what went wrong and where, and
//! `RunError::exit_code` is the one place they become exit codes (DESIGN.md: 2 bad input or
//! usage, 3 the harness itself failed; 0 and 1 are verdicts, not errors).

use std::path::PathBuf;

use baoan_scenarios::{Problem, ScenarioError};

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The scenario file: its syntax or a field, located.
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    /// The scenario checked against the district and the loops: each problem names its field.
    #[error("{}", lines(.0))]
    Problems(Vec<Problem>),
    /// A planner's posts file, located.
    #[error(transparent)]
    Posts(#[from] baoan_agents::command::PostsError),
    /// A district pack: its file, feature and field.
    #[error(transparent)]
    Pack(#[from] baoan_world::pack::PackError),
    /// A file the user named could not be read.
    #[error("{}: cannot read {what}: {source}", path.display())]
    Read {
        path: PathBuf,
        what: &'static str,
        source: std::io::Error,
    },
    /// A file of the run's output could not be written.
    #[error("{}: cannot write {what}: {source}", path.display())]
    Write {
        path: PathBuf,
        what: &'static str,
        source: std::io::Error,
    },
    /// The HTTP client of a deployed stack, and `twin load` / `twin soak`.
    #[error(transparent)]
    Load(#[from] baoan_load::LoadError),
    /// `twin serve`.
    #[error(transparent)]
    Serve(#[from] baoan_server::ServeError),
    /// The run's journal could not be written to the end.
    #[error("{0}")]
    Journal(String),
    /// The deployed stack failed a call for good (after its retries).
    #[error("the deployed stack failed at simulated {at_s:.1} s: {detail}")]
    StackFailed { at_s: f64, detail: String },
    /// Calls sent one at a time could not keep the scenario's schedule.
    #[error(
        "the harness fell behind its schedule: the call due at simulated {at_s:.3} s went out \
         {lag_ms:.0} ms late (the server answered too slowly for calls sent one at a time); \
         lower --speed, or raise --max-lag-s to accept it"
    )]
    Behind { at_s: f64, lag_ms: f64 },
    /// A flag, input file or value the user gave, named in the message.
    #[error("{0}")]
    BadInput(String),
    /// The harness itself failed (a bound hit, a bug), named in the message.
    #[error("{0}")]
    Harness(String),
}

fn lines(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| p.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

impl From<Vec<Problem>> for RunError {
    fn from(problems: Vec<Problem>) -> Self {
        RunError::Problems(problems)
    }
}

impl RunError {
    /// The exit code for this error: 2 when the user can fix the input, 3 when the harness, or
    /// the stack it drives, failed.
    pub fn exit_code(&self) -> i32 {
        use baoan_load::LoadError as L;
        use baoan_server::ServeError as S;
        match self {
            RunError::Scenario(_)
            | RunError::Problems(_)
            | RunError::Posts(_)
            | RunError::Pack(_)
            | RunError::Read { .. }
            | RunError::BadInput(_) => 2,
            // A bad URL, tokens file or spec is the engineer's to fix; a server that cannot be
            // reached or answers wrongly stops the harness.
            RunError::Load(
                L::BadUrl { .. } | L::Tokens(_) | L::MissingToken { .. } | L::BadSpec(_),
            ) => 2,
            RunError::Serve(
                S::Listen { .. } | S::Storage(_) | S::RestartWithoutStorage | S::Bus(_),
            ) => 2,
            RunError::Load(_)
            | RunError::Serve(_)
            | RunError::Write { .. }
            | RunError::Journal(_)
            | RunError::StackFailed { .. }
            | RunError::Behind { .. }
            | RunError::Harness(_) => 3,
        }
    }
}
