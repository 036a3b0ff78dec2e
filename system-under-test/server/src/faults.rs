//! Faults on the HTTP path, for engineers who test how the harness's loops and their own clients
//! ride out a degraded platform: `twin serve --faults FILE` takes a plan of windows, each
//! slowing a module's calls, failing a share of them, taking the module down, or restarting the
//! whole server.
//!
//! ```toml
//! [[fault]]
//! at_s = 30          # seconds after the server started
//! for_s = 20
//! module = "grid"    # a module of the API, or "*" for all
//! kind = "latency"   # latency | errors | down
//! latency_ms = 250   # latency only: added before the call is carried
//!
//! [[fault]]
//! at_s = 60
//! for_s = 10
//! module = "matcher"
//! kind = "errors"
//! share = 0.2        # errors only: this share of calls is answered 503, evenly spread
//!
//! [[fault]]
//! at_s = 90
//! for_s = 2          # restart: how long the server stays down
//! module = "*"       # restart: the whole server
//! kind = "restart"
//! ```
//!
//! A restart is what a deployment does: the server stops taking connections, answers the calls
//! in flight, lets its journal commit everything, and after `for_s` starts again from the
//! journal, as a new process would. It needs a database (a stack kept in memory would be gone).
//!
//! A refused call (errors, down) is answered `503 injected_fault` with `Retry-After` before it
//! reaches the stack: it changes nothing and is not journaled, so what the stack acknowledged is
//! exactly what it carried. Which calls an `errors` window fails is decided by a counter, not a
//! random draw: the same calls in the same order are failed the same way. A window and that rule
//! are the api's (`baoan_api::faults`), shared with a scenario's `[[fault]]` windows.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use baoan_api::Module;
use baoan_api::faults::{error_share_fails, parse_target};
use serde::Deserialize;

pub use baoan_api::faults::{FaultKind, FaultWindow};

/// No window of a plan ends later than this many seconds after the start (a year).
pub const MAX_PLAN_S: f64 = 31_536_000.0;

/// Why a fault plan could not be used; the message names the file and the place in it.
#[derive(Debug, thiserror::Error)]
pub enum FaultsError {
    #[error("{path}: cannot read the fault plan: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Syntax { path: PathBuf, message: String },
    #[error("{path}: [[fault]] number {index} (line {line}): {field}: {problem}")]
    Invalid {
        path: PathBuf,
        index: usize,
        line: usize,
        field: &'static str,
        problem: String,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PlanFile {
    #[serde(default)]
    fault: Vec<toml::Spanned<FaultEntry>>,
}

/// One `[[fault]]` as the file writes it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FaultEntry {
    at_s: f64,
    for_s: f64,
    module: String,
    kind: FaultKind,
    latency_ms: Option<u64>,
    share: Option<f64>,
}

/// What is wrong with an entry: the field, and the problem.
type Problem = (&'static str, String);

/// What to do with a call now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Carry,
    /// Wait this long, then carry the call.
    Delay(Duration),
    /// Refuse the call. A module down says when its window ends, in whole seconds (at least
    /// 1): nothing gets through before. A share of errors says nothing (`None`): the next try
    /// will most likely pass, so the client's own backoff decides.
    Refuse {
        kind: FaultKind,
        retry_after_s: Option<u64>,
    },
}

/// The plan, and how many calls each kind of fault touched.
#[derive(Debug, Default)]
pub struct Faults {
    windows: Vec<FaultWindow>,
    /// Per window: calls that fell in it, for spreading an `errors` share evenly.
    seen: Vec<AtomicU64>,
    injected: [AtomicU64; 4],
}

impl Faults {
    pub fn load(path: &Path) -> Result<Faults, FaultsError> {
        let text = std::fs::read_to_string(path).map_err(|source| FaultsError::Read {
            path: path.to_owned(),
            source,
        })?;
        Faults::parse(&text, path)
    }

    /// The plan in `text` (read from `path`, named in errors).
    pub fn parse(text: &str, path: &Path) -> Result<Faults, FaultsError> {
        let file: PlanFile = toml::from_str(text).map_err(|e| FaultsError::Syntax {
            path: path.to_owned(),
            message: located(text, &e),
        })?;
        let mut windows = Vec::new();
        for (i, spanned) in file.fault.into_iter().enumerate() {
            let line = text[..spanned.span().start].matches('\n').count() + 1;
            let window =
                read_window(&spanned.into_inner(), &windows).map_err(|(field, problem)| {
                    FaultsError::Invalid {
                        path: path.to_owned(),
                        index: i + 1,
                        line,
                        field,
                        problem,
                    }
                })?;
            windows.push(window);
        }
        Ok(Faults {
            seen: windows.iter().map(|_| AtomicU64::new(0)).collect(),
            windows,
            injected: Default::default(),
        })
    }

    pub fn windows(&self) -> &[FaultWindow] {
        &self.windows
    }

    /// What to do with a call to `module` (`None`: a call of no module, such as the clock's,
    /// which only a window of every module catches) made `elapsed` after the server started. A
    /// refusal wins over a delay; delays of overlapping windows add up.
    pub fn decide(&self, module: Option<Module>, elapsed: Duration) -> Decision {
        let mut delay = Duration::ZERO;
        for (w, seen) in self.windows.iter().zip(&self.seen) {
            if !w.is_open_at(elapsed) || w.module.is_some_and(|m| Some(m) != module) {
                continue;
            }
            let refuse = match w.kind {
                FaultKind::Latency => {
                    delay += w.latency;
                    false
                }
                FaultKind::Down => true,
                // The server itself stops and starts (`Server::run_until`): no call is decided.
                FaultKind::Restart => false,
                FaultKind::Errors => {
                    error_share_fails(seen.fetch_add(1, Ordering::Relaxed), w.share)
                }
            };
            if refuse {
                self.count(w.kind);
                let left = w.end.saturating_sub(elapsed);
                return Decision::Refuse {
                    kind: w.kind,
                    retry_after_s: (w.kind == FaultKind::Down)
                        .then(|| left.as_secs_f64().ceil().max(1.0) as u64),
                };
            }
        }
        if delay.is_zero() {
            Decision::Carry
        } else {
            self.count(FaultKind::Latency);
            Decision::Delay(delay)
        }
    }

    /// The windows open at `elapsed`.
    pub fn active(&self, elapsed: Duration) -> impl Iterator<Item = &FaultWindow> {
        self.windows.iter().filter(move |w| w.is_open_at(elapsed))
    }

    fn count(&self, kind: FaultKind) {
        self.injected[position(kind)].fetch_add(1, Ordering::Relaxed);
    }

    /// Calls each kind of fault touched so far (latency, errors, down), and restarts done.
    pub fn injected(&self) -> [(FaultKind, u64); 4] {
        FaultKind::ALL.map(|k| (k, self.injected[position(k)].load(Ordering::Relaxed)))
    }

    /// The planned restarts, earliest first: when (from the start) and how long down.
    pub fn restarts(&self) -> Vec<(Duration, Duration)> {
        let mut r: Vec<(Duration, Duration)> = self
            .windows
            .iter()
            .filter(|w| w.kind == FaultKind::Restart)
            .map(|w| (w.start, w.end - w.start))
            .collect();
        r.sort();
        r
    }

    /// A planned restart was done.
    pub fn count_restart(&self) {
        self.count(FaultKind::Restart);
    }
}

/// Where `kind` is counted in `Faults::injected`.
fn position(kind: FaultKind) -> usize {
    FaultKind::ALL
        .iter()
        .position(|&k| k == kind)
        .expect("every kind is in ALL")
}

/// The window an entry describes; `earlier` are the plan's windows before it (a restart may not
/// overlap another).
fn read_window(f: &FaultEntry, earlier: &[FaultWindow]) -> Result<FaultWindow, Problem> {
    check_times(f)?;
    let module = parse_target(&f.module).map_err(|_| {
        (
            "module",
            format!(
                "no module `{}`; expected \"*\" or one of {}",
                f.module,
                Module::NAMES.join(", ")
            ),
        )
    })?;
    let (latency, share) = match f.kind {
        FaultKind::Latency => latency_of(f)?,
        FaultKind::Errors => share_of(f)?,
        FaultKind::Down => {
            takes_nothing(f, "a `down` fault takes neither latency_ms nor share")?;
            (Duration::ZERO, 1.0)
        }
        FaultKind::Restart => {
            takes_nothing(f, "a `restart` fault takes neither latency_ms nor share")?;
            check_restart(f, module, earlier)?;
            (Duration::ZERO, 1.0)
        }
    };
    Ok(FaultWindow {
        start: Duration::from_secs_f64(f.at_s),
        end: Duration::from_secs_f64(f.at_s + f.for_s),
        module,
        kind: f.kind,
        latency,
        share,
    })
}

/// A window starts at or after the start, lasts, and ends within a year.
fn check_times(f: &FaultEntry) -> Result<(), Problem> {
    if !(f.at_s.is_finite() && f.at_s >= 0.0) {
        return Err(("at_s", format!("expected seconds >= 0, got {}", f.at_s)));
    }
    if !(f.for_s.is_finite() && f.for_s > 0.0) {
        return Err(("for_s", format!("expected seconds > 0, got {}", f.for_s)));
    }
    if f.at_s + f.for_s > MAX_PLAN_S {
        return Err((
            "for_s",
            format!(
                "the window ends at {} s; a plan covers at most {MAX_PLAN_S} s (a year)",
                f.at_s + f.for_s
            ),
        ));
    }
    Ok(())
}

/// A latency window's latency (and its share, none).
fn latency_of(f: &FaultEntry) -> Result<(Duration, f64), Problem> {
    match (f.latency_ms, f.share) {
        (_, Some(_)) => Err(("share", "only an `errors` fault takes a share".into())),
        (Some(ms @ 1..=60_000), None) => Ok((Duration::from_millis(ms), 0.0)),
        (Some(ms), None) => Err((
            "latency_ms",
            format!("expected 1 to 60000 milliseconds, got {ms}"),
        )),
        (None, None) => Err(("latency_ms", "a latency fault needs latency_ms".into())),
    }
}

/// An errors window's share (and its latency, none).
fn share_of(f: &FaultEntry) -> Result<(Duration, f64), Problem> {
    match (f.latency_ms, f.share) {
        (Some(_), _) => Err((
            "latency_ms",
            "only a `latency` fault takes latency_ms".into(),
        )),
        (None, Some(s)) if s > 0.0 && s <= 1.0 => Ok((Duration::ZERO, s)),
        (None, Some(s)) => Err(("share", format!("expected a share in (0, 1], got {s}"))),
        (None, None) => Err(("share", "an errors fault needs a share".into())),
    }
}

fn takes_nothing(f: &FaultEntry, problem: &str) -> Result<(), Problem> {
    if f.latency_ms.is_some() || f.share.is_some() {
        return Err(("kind", problem.into()));
    }
    Ok(())
}

/// A restart is the whole server's, and the server can only be down once at a time.
fn check_restart(
    f: &FaultEntry,
    module: Option<Module>,
    earlier: &[FaultWindow],
) -> Result<(), Problem> {
    if module.is_some() {
        return Err((
            "module",
            format!(
                "a restart is the whole server's: expected \"*\", got `{}`",
                f.module
            ),
        ));
    }
    let from = Duration::from_secs_f64(f.at_s);
    if let Some(other) = earlier.iter().find(|w| {
        w.kind == FaultKind::Restart
            && w.start < from + Duration::from_secs_f64(f.for_s)
            && from < w.end
    }) {
        return Err((
            "at_s",
            format!(
                "this restart overlaps the one from {} s to {} s: the server can only be down \
                 once at a time",
                other.start.as_secs_f64(),
                other.end.as_secs_f64()
            ),
        ));
    }
    Ok(())
}

/// A TOML error with its line and column.
fn located(text: &str, e: &toml::de::Error) -> String {
    match e.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
            format!("{line}:{column}: {}", e.message())
        }
        None => e.message().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(text: &str) -> Result<Faults, FaultsError> {
        Faults::parse(text, Path::new("faults.toml"))
    }

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn windows_open_and_close_on_time_and_only_for_their_module() {
        let f = plan(
            "[[fault]]\nat_s = 10\nfor_s = 5\nmodule = \"grid\"\nkind = \"down\"\n\
             [[fault]]\nat_s = 0\nfor_s = 100\nmodule = \"*\"\nkind = \"latency\"\nlatency_ms = 30\n",
        )
        .unwrap();
        assert_eq!(
            f.decide(Some(Module::Grid), S(9)),
            Decision::Delay(Duration::from_millis(30))
        );
        assert_eq!(
            f.decide(Some(Module::Grid), S(10)),
            Decision::Refuse {
                kind: FaultKind::Down,
                retry_after_s: Some(5)
            }
        );
        assert_eq!(
            f.decide(Some(Module::Matcher), S(12)),
            Decision::Delay(Duration::from_millis(30))
        );
        assert_eq!(
            f.decide(Some(Module::Grid), S(15)),
            Decision::Delay(Duration::from_millis(30))
        );
        assert_eq!(f.decide(Some(Module::Grid), S(100)), Decision::Carry);
        let injected = f.injected();
        assert_eq!(injected[0], (FaultKind::Latency, 3));
        assert_eq!(injected[2], (FaultKind::Down, 1));
    }

    #[test]
    fn an_errors_share_fails_exactly_that_share_evenly() {
        let f = plan("[[fault]]\nat_s = 0\nfor_s = 60\nmodule = \"matcher\"\nkind = \"errors\"\nshare = 0.25\n")
            .unwrap();
        let failed: Vec<bool> = (0..12)
            .map(|_| {
                matches!(
                    f.decide(Some(Module::Matcher), S(1)),
                    Decision::Refuse { .. }
                )
            })
            .collect();
        assert_eq!(failed.iter().filter(|&&x| x).count(), 3);
        assert_eq!(
            failed,
            [
                false, false, false, true, false, false, false, true, false, false, false, true
            ]
        );
        assert_eq!(f.decide(Some(Module::Grid), S(1)), Decision::Carry);
    }

    #[test]
    fn restarts_are_listed_in_time_order_and_decide_no_call() {
        let f = plan(
            "[[fault]]\nat_s = 9\nfor_s = 0.5\nmodule = \"*\"\nkind = \"restart\"\n\n\
             [[fault]]\nat_s = 2\nfor_s = 1\nmodule = \"*\"\nkind = \"restart\"\n",
        )
        .unwrap();
        assert_eq!(
            f.restarts(),
            [
                (S(2), S(1)),
                (Duration::from_secs(9), Duration::from_millis(500))
            ]
        );
        assert_eq!(
            f.decide(Some(Module::Grid), Duration::from_millis(2500)),
            Decision::Carry
        );
        f.count_restart();
        assert_eq!(f.injected()[3], (FaultKind::Restart, 1));
    }

    #[test]
    fn a_bad_plan_names_the_fault_the_field_and_what_was_expected() {
        let cases = [
            (
                "[[fault]]\nat_s = 0\nfor_s = 1\nmodule = \"cameras\"\nkind = \"down\"\n",
                "faults.toml: [[fault]] number 1 (line 1): module: no module `cameras`; expected \"*\" or one of grid, command, matcher, blocks, cases",
            ),
            (
                "[[fault]]\nat_s = 0\nfor_s = 1\nmodule = \"grid\"\nkind = \"down\"\n\n[[fault]]\nat_s = 0\nfor_s = 0\nmodule = \"grid\"\nkind = \"down\"\n",
                "faults.toml: [[fault]] number 2 (line 7): for_s: expected seconds > 0, got 0",
            ),
            (
                "[[fault]]\nat_s = 0\nfor_s = 1\nmodule = \"grid\"\nkind = \"latency\"\n",
                "latency_ms: a latency fault needs latency_ms",
            ),
            (
                "[[fault]]\nat_s = 1e30\nfor_s = 1\nmodule = \"grid\"\nkind = \"down\"\n",
                "for_s: the window ends at 1000000000000000000000000000000 s; a plan covers at most 31536000 s (a year)",
            ),
            (
                "[[fault]]\nat_s = 0\nfor_s = 1\nmodule = \"grid\"\nkind = \"errors\"\nshare = 1.5\n",
                "share: expected a share in (0, 1], got 1.5",
            ),
            (
                "[[fault]]\nat_s = 0\nfor_s = 1\nmodule = \"grid\"\nkind = \"slow\"\n",
                "faults.toml: 5:8: unknown variant `slow`",
            ),
            (
                "[[fault]]\nat_s = 0\nfor_s = 1\nmodule = \"grid\"\nkind = \"down\"\nshre = 1\n",
                "faults.toml: 6:1: unknown field `shre`",
            ),
            (
                "[[fault]]\nat_s = 5\nfor_s = 1\nmodule = \"grid\"\nkind = \"restart\"\n",
                "module: a restart is the whole server's: expected \"*\", got `grid`",
            ),
            (
                "[[fault]]\nat_s = 5\nfor_s = 2\nmodule = \"*\"\nkind = \"restart\"\n\n\
                 [[fault]]\nat_s = 6\nfor_s = 1\nmodule = \"*\"\nkind = \"restart\"\n",
                "[[fault]] number 2 (line 7): at_s: this restart overlaps the one from 5 s to 7 s",
            ),
        ];
        for (text, want) in cases {
            let e = plan(text).expect_err(text).to_string();
            assert!(e.contains(want), "{e}\n  does not contain\n{want}");
        }
    }
}
