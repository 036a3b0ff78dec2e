//! The district platform as one in-process service: it routes each command of `baoan-api` to the
//! domain module that owns it (grid and command today; matcher, block data and cases as they land),
//! checks roles, and keeps the append-only audit log of every call.
//!
//! The harness drives it through the `Stack` trait, the same trait an HTTP client of a deployed
//! stack implements. It depends only on the stack's own crates.

use baoan_api::{Actor, ApiError, Command, Envelope, Millis, Outcome, Stack};
use baoan_command::CommandService;
use baoan_grid::GridService;
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
}

/// Append-only: entries can be read and counted, never changed or removed.
#[derive(Debug, Default)]
pub struct AuditLog {
    entries: Vec<AuditEntry>,
    refused: u64,
}

impl AuditLog {
    fn append(&mut self, at: Millis, actor: Actor, command: &'static str, result: String) {
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
    audit: AuditLog,
}

impl InProcessStack {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn audit(&self) -> &AuditLog {
        &self.audit
    }
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
        };
        let verdict = match &result {
            Ok(_) => "ok".to_string(),
            Err(e) => e.to_string(),
        };
        self.audit
            .append(env.sent_at, env.actor, env.command.kind(), verdict);
        result
    }

    fn advance(&mut self, now: Millis) -> Vec<Outcome> {
        self.grid.advance(now)
    }

    fn name(&self) -> String {
        "in-process".into()
    }
}
