//! Fault windows on the path to the stack — a module slowed, failing a share of its calls, down,
//! or the whole stack restarting — and the one rule for which calls an errors window fails.
//!
//! Two places inject faults with this one meaning: a served stack's plan (`twin serve --faults`,
//! in real time from its start) and a scenario's `[[fault]]` windows (in simulated time, on the
//! harness's path to any stack). Each reads its own file format into a `FaultWindow`, so the two
//! cannot come to mean different things.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::{Module, UnknownModule};

/// What a fault window does to the calls it catches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// Each call is carried `latency` later.
    Latency,
    /// A `share` of calls fails (counted, evenly spread: see [`error_share_fails`]).
    Errors,
    /// No call gets through until the window ends.
    Down,
    /// The stack restarts at the window's start and is back at its end; every module.
    Restart,
}

impl FaultKind {
    /// Every kind, in the order above.
    pub const ALL: [FaultKind; 4] = [
        FaultKind::Latency,
        FaultKind::Errors,
        FaultKind::Down,
        FaultKind::Restart,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FaultKind::Latency => "latency",
            FaultKind::Errors => "errors",
            FaultKind::Down => "down",
            FaultKind::Restart => "restart",
        }
    }
}

/// The word fault files use for "every module".
pub const EVERY_MODULE: &str = "*";

/// The modules a fault file's `module` names: `None` for `"*"` (every module), else the one
/// module; an unknown name is an error, never every module.
pub fn parse_target(name: &str) -> Result<Option<Module>, UnknownModule> {
    if name == EVERY_MODULE {
        Ok(None)
    } else {
        Module::parse(name).map(Some)
    }
}

/// One window: from `start` to `end` (exclusive), measured from the origin of whoever injects it.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultWindow {
    pub start: Duration,
    pub end: Duration,
    /// The module whose calls it catches; `None`: every module.
    pub module: Option<Module>,
    pub kind: FaultKind,
    /// Errors only: the share of calls that fail, in (0, 1].
    pub share: f64,
    /// Latency only: how much later each call is carried.
    pub latency: Duration,
}

impl FaultWindow {
    /// Whether the window catches a call to `module` made at `at`.
    pub fn catches(&self, module: Module, at: Duration) -> bool {
        self.is_open_at(at) && self.module.is_none_or(|m| m == module)
    }

    /// Whether the window is open at `at`.
    pub fn is_open_at(&self, at: Duration) -> bool {
        self.start <= at && at < self.end
    }

    /// Its module's name, or `"*"`.
    pub fn module_name(&self) -> &'static str {
        self.module.map_or(EVERY_MODULE, Module::as_str)
    }
}

/// Whether the `n`-th call (counting from 0) an errors window of `share` sees fails: when the
/// running count of failures due, (n+1)·share, passes a whole number. A share of 0.2 fails
/// calls 5, 10, 15... (counting from 1): a counter, not a random draw, so the same calls in the
/// same order are failed the same way.
pub fn error_share_fails(n: u64, share: f64) -> bool {
    ((n + 1) as f64 * share).floor() > (n as f64 * share).floor()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_errors_share_fails_exactly_that_share_evenly() {
        let failed: Vec<u64> = (0..20).filter(|&n| error_share_fails(n, 0.2)).collect();
        assert_eq!(failed, [4, 9, 14, 19]);
        assert!((0..10).all(|n| error_share_fails(n, 1.0)));
    }

    #[test]
    fn a_window_catches_its_module_while_open_and_star_means_every_module() {
        let window = FaultWindow {
            start: Duration::from_secs(10),
            end: Duration::from_secs(20),
            module: parse_target("grid").unwrap(),
            kind: FaultKind::Down,
            share: 0.0,
            latency: Duration::ZERO,
        };
        assert!(window.catches(Module::Grid, Duration::from_secs(10)));
        assert!(!window.catches(Module::Grid, Duration::from_secs(20)));
        assert!(!window.catches(Module::Cases, Duration::from_secs(15)));
        assert_eq!(parse_target("*"), Ok(None));
        assert!(parse_target("firesafety").is_err());
        let every = FaultWindow {
            module: None,
            ..window
        };
        assert!(every.catches(Module::Cases, Duration::from_secs(15)));
        assert_eq!(every.module_name(), "*");
    }
}
