//! The district platform as one in-process service: it routes each command of `baoan-api` to the
//! domain module that owns it (grid, command and matcher today; block data and cases as they land),
//! checks roles, and keeps the append-only audit log of every call.
//!
//! The harness drives it through the `Stack` trait, the same trait an HTTP client of a deployed
//! stack implements. It depends only on the stack's own crates.

use baoan_api::{Actor, AlertId, ApiError, Command, Envelope, Millis, Outcome, Stack};
use baoan_command::CommandService;
use baoan_grid::GridService;
use baoan_matcher::MatcherService;
use serde::Serialize;

/// One line of the audit log: who did what, when, and whether it was allowed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEntry {
    pub seq: u64,
    pub at: Millis,
    pub actor: Actor,
    pub command: &'static str,
    /// `ok`, or the refusal's message.
    pub result: String,
    /// What a call did with personal data: the alert it raised, confirmed or rejected, or that
    /// a search matched nothing (the sighting itself is never logged).
    pub detail: Option<String>,
}

/// Append-only: entries can be read and counted, never changed or removed.
#[derive(Debug, Default)]
pub struct AuditLog {
    entries: Vec<AuditEntry>,
    refused: u64,
}

impl AuditLog {
    fn append(
        &mut self,
        at: Millis,
        actor: Actor,
        command: &'static str,
        result: String,
        detail: Option<String>,
    ) {
        if result != "ok" {
            self.refused += 1;
        }
        let seq = self.entries.len() as u64;
        self.entries.push(AuditEntry {
            seq,
            at,
            actor,
            command,
            result,
            detail,
        });
    }

    pub fn entries(&self) -> &[AuditEntry] {
        &self.entries
    }

    pub fn refused(&self) -> u64 {
        self.refused
    }
}

/// The reference stack, called directly with virtual time.
#[derive(Default)]
pub struct InProcessStack {
    pub grid: GridService,
    pub command: CommandService,
    pub matcher: MatcherService,
    audit: AuditLog,
    /// Confirmed alerts command refused to open, and why (reported, never dropped silently).
    lead_refusals: Vec<(AlertId, String)>,
}

impl InProcessStack {
    pub fn new() -> Self {
        Self::default()
    }

    /// A stack whose matcher is configured (its embedding dimension) by the caller.
    pub fn with_matcher(matcher: MatcherService) -> Self {
        InProcessStack {
            matcher,
            ..Self::default()
        }
    }

    pub fn audit(&self) -> &AuditLog {
        &self.audit
    }

    pub fn lead_refusals(&self) -> &[(AlertId, String)] {
        &self.lead_refusals
    }
}

/// The personal-data part of a call's outcomes, for the audit log.
fn audit_detail(outcomes: &[Outcome]) -> Option<String> {
    let parts: Vec<String> = outcomes
        .iter()
        .filter_map(|o| match o {
            Outcome::SightingDiscarded { .. } => Some("search: no match, nothing kept".into()),
            Outcome::AlertRaised {
                alert,
                candidates,
                watchlist_version,
                policy_version,
                ..
            } => Some(format!(
                "search: alert {} raised on entries {:?} (watchlist v{watchlist_version}, policy v{policy_version})",
                alert.0,
                candidates.iter().map(|c| c.entry_ref).collect::<Vec<_>>()
            )),
            Outcome::AlertReviewed { alert, confirm, .. } => Some(format!(
                "alert {} {}",
                alert.0,
                if *confirm { "confirmed by this reviewer" } else { "rejected by this reviewer" }
            )),
            Outcome::AlertConfirmed { alert, entry_ref } => {
                Some(format!("alert {} confirmed on entry {entry_ref}", alert.0))
            }
            Outcome::AlertRejected { alert } => {
                Some(format!("alert {} rejected; its sighting deleted", alert.0))
            }
            Outcome::WatchlistUpdated { version, active } => {
                Some(format!("watchlist v{version}: {active} active entries"))
            }
            _ => None,
        })
        .collect();
    (!parts.is_empty()).then(|| parts.join("; "))
}

impl Stack for InProcessStack {
    fn send(&mut self, env: &Envelope) -> Result<Vec<Outcome>, ApiError> {
        let result = match &env.command {
            Command::LoadDirectory { .. }
            | Command::SubmitReport { .. }
            | Command::AcceptTask { .. }
            | Command::ResolveTask { .. }
            | Command::VerifyTask { .. }
            | Command::QueryAssessment
            | Command::QueryBacklog => self.grid.handle(env),
            Command::LoadCommandDirectory { .. }
            | Command::ReportIncident { .. }
            | Command::UnitDeclined { .. }
            | Command::UnitArrived { .. }
            | Command::UnitCleared { .. }
            | Command::UnitAvailable { .. }
            | Command::CloseIncident { .. } => self.command.handle(env),
            Command::UpsertWatchlist { .. }
            | Command::RemoveWatchlistEntry { .. }
            | Command::SetMatchPolicy { .. }
            | Command::SubmitSighting { .. }
            | Command::ReviewAlert { .. } => self.matcher.handle(env),
        };
        // A confirmed alert is handed to command inside the stack: the nearest police go.
        let result = result.map(|mut outcomes| {
            let confirmed: Vec<AlertId> = outcomes
                .iter()
                .filter_map(|o| match o {
                    Outcome::AlertConfirmed { alert, .. } => Some(*alert),
                    _ => None,
                })
                .collect();
            for alert in confirmed {
                let Some(s) = self.matcher.confirmed_sighting(alert).cloned() else {
                    continue;
                };
                match self.command.open_lead(
                    env.sent_at,
                    alert,
                    s.grid,
                    s.x_m,
                    s.y_m,
                    s.captured_at.min(env.sent_at),
                ) {
                    Ok(more) => outcomes.extend(more),
                    // Command could not take it (no directory, an unknown grid): the alert
                    // stays confirmed, and the refusal is kept for the report.
                    Err(e) => self.lead_refusals.push((alert, e.to_string())),
                }
            }
            outcomes
        });
        let verdict = match &result {
            Ok(_) => "ok".to_string(),
            Err(e) => e.to_string(),
        };
        let detail = result
            .as_ref()
            .ok()
            .and_then(|outcomes| audit_detail(outcomes));
        self.audit
            .append(env.sent_at, env.actor, env.command.kind(), verdict, detail);
        result
    }

    fn advance(&mut self, now: Millis) -> Vec<Outcome> {
        let mut out = self.grid.advance(now);
        out.extend(self.matcher.advance(now));
        out
    }

    fn name(&self) -> String {
        "in-process".into()
    }
}
