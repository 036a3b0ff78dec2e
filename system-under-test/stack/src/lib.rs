//! The district platform as one in-process service: it routes each command of `baoan-api` to the
//! domain module that owns it (grid, command, matcher, block data, cases), checks roles, and keeps
//! the append-only audit log of every call. Hand-offs between modules happen inside: a confirmed
//! watchlist alert and an acute dispute become police incidents in command, and the cases module
//! checks registrations and credit links against block data.
//!
//! The harness drives it through the `Stack` trait, the same trait an HTTP client of a deployed
//! stack implements. It depends only on the stack's own crates.

use baoan_api::{
    Actor, AlertId, ApiError, Command, Envelope, LookupCount, Millis, Module, Outcome, Role, Stack,
};
use baoan_block_data::BlockDataService;
pub use baoan_cases::{CasesConfig, CasesService};
use baoan_command::CommandService;
use baoan_grid::{GridService, Table};
pub use baoan_key_persons::KeyPersonsService;
pub use baoan_matcher::MatcherService;
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
///
/// Kept compact, because a full-volume day logs every one of 15 million searches: a fixed
/// 32-byte record per call, with the rare texts (refusals, what a call did with personal data)
/// in side tables and the commonest detail — a search that matched nothing — as a code. The
/// records sit in fixed-size chunks (the grid's `Table`), not a `Vec`: a `Vec` doubling at 2^20,
/// 2^21 and 2^22 calls copied every record under the stack's lock, and a served stack answered
/// nothing for 95, 179 and 340 ms (`twin soak` at 25,000 calls/s showed each pause).
#[derive(Debug, Default)]
pub struct AuditLog {
    records: Table<Record>,
    kinds: Vec<&'static str>,
    texts: Vec<String>,
    refused: u64,
}

#[derive(Debug, Clone, Copy)]
struct Record {
    at: Millis,
    actor: Actor,
    /// 0: ok; else 1 + index into `texts`.
    result: u32,
    /// 0: none; 1: a search that matched nothing; else 2 + index into `texts`.
    detail: u32,
    command: u8,
}

const NO_MATCH: &str = "search: no match, nothing kept";

impl AuditLog {
    fn append(
        &mut self,
        at: Millis,
        actor: Actor,
        command: &'static str,
        result: Result<(), String>,
        detail: Option<String>,
    ) {
        let command = match self.kinds.iter().position(|k| *k == command) {
            Some(i) => i as u8,
            None => {
                self.kinds.push(command);
                (self.kinds.len() - 1) as u8
            }
        };
        let result = match result {
            Ok(()) => 0,
            Err(text) => {
                self.refused += 1;
                self.texts.push(text);
                self.texts.len() as u32
            }
        };
        let detail = match detail {
            None => 0,
            Some(d) if d == NO_MATCH => 1,
            Some(d) => {
                self.texts.push(d);
                self.texts.len() as u32 + 1
            }
        };
        self.records.push(Record {
            at,
            actor,
            result,
            detail,
            command,
        });
    }

    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// One entry by its sequence number.
    pub fn get(&self, seq: usize) -> Option<AuditEntry> {
        let r = self.records.get(seq)?;
        Some(AuditEntry {
            seq: seq as u64,
            at: r.at,
            actor: r.actor,
            command: self.kinds[r.command as usize],
            result: match r.result {
                0 => "ok".to_string(),
                i => self.texts[i as usize - 1].clone(),
            },
            detail: match r.detail {
                0 => None,
                1 => Some(NO_MATCH.to_string()),
                i => Some(self.texts[i as usize - 2].clone()),
            },
        })
    }

    /// Every entry, in order.
    pub fn entries(&self) -> impl Iterator<Item = AuditEntry> + '_ {
        (0..self.records.len()).filter_map(|i| self.get(i))
    }

    pub fn refused(&self) -> u64 {
        self.refused
    }

    /// Calls of the given commands, by command and role: how many were allowed and how many
    /// refused, in the order of `kinds` and then of `Role::ALL`. Reads the compact records
    /// (a full-volume day's 15 million entries in well under a second).
    pub fn counts_by_role(&self, kinds: &[&str]) -> Vec<LookupCount> {
        let index: Vec<Option<usize>> = self
            .kinds
            .iter()
            .map(|k| kinds.iter().position(|w| w == k))
            .collect();
        let roles = Role::ALL.len();
        let mut counts = vec![[0u64; 2]; kinds.len() * roles];
        for r in self.records.iter() {
            if let Some(k) = index[r.command as usize] {
                let role = Role::ALL
                    .iter()
                    .position(|x| *x == r.actor.role)
                    .expect("every role is in Role::ALL");
                counts[k * roles + role][usize::from(r.result != 0)] += 1;
            }
        }
        counts
            .into_iter()
            .enumerate()
            .filter(|(_, [ok, refused])| ok + refused > 0)
            .map(|(i, [allowed, refused])| LookupCount {
                command: kinds[i / roles].to_string(),
                role: Role::ALL[i % roles].as_str().to_string(),
                allowed,
                refused,
            })
            .collect()
    }
}

/// Commands that read personal data, whose calls the matcher's audit counts by role: the
/// look-ups of block data, cases, credit, care and key persons, the exports, and a reviewer's
/// look at an alert (its sighting and candidates). Counts-only queries are not among them.
pub const PERSONAL_DATA_READS: [&str; 9] = [
    "query_block",
    "export_linkage",
    "query_case",
    "query_credit",
    "query_care",
    "query_key_person",
    "export_key_person_access",
    "review_alert",
    "export_matcher_audit",
];

/// The reference stack, called directly with virtual time.
#[derive(Default)]
pub struct InProcessStack {
    pub grid: GridService,
    pub command: CommandService,
    pub matcher: MatcherService,
    pub blocks: BlockDataService,
    pub cases: CasesService,
    pub key_persons: KeyPersonsService,
    audit: AuditLog,
    /// Confirmed alerts command refused to open, and why (reported, never dropped silently).
    lead_refusals: Vec<(AlertId, String)>,
    /// Acute cases command refused to open, and why.
    case_refusals: Vec<(u64, String)>,
    /// Key-person crises command refused to open, and why.
    crisis_refusals: Vec<(u64, String)>,
}

/// Block data as the cases module sees it: addresses for registrations, representatives for
/// credit links.
struct BlocksRegistry<'a>(&'a BlockDataService);

impl baoan_cases::Registry for BlocksRegistry<'_> {
    fn check_address(&self, address: &str) -> baoan_api::cases::AddressCheck {
        self.0.check_address(address)
    }
    fn companies_represented_by(&self, id_number: &str) -> Vec<String> {
        self.0.companies_represented_by(id_number)
    }
    fn representative_of(&self, credit_code: &str) -> Option<String> {
        self.0.representative_of(credit_code)
    }
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

    pub fn case_refusals(&self) -> &[(u64, String)] {
        &self.case_refusals
    }

    pub fn crisis_refusals(&self) -> &[(u64, String)] {
        &self.crisis_refusals
    }

    /// Key persons in crisis go to command as incidents (the 1-3-5 tiers and an ambulance);
    /// the module learns the incident.
    fn open_crises(&mut self, now: Millis, outcomes: &mut Vec<Outcome>) {
        for c in self.key_persons.take_crises() {
            let opened = self.command.open_key_person_incident(
                now,
                c.incident_ref(),
                c.grid,
                c.x_m,
                c.y_m,
                c.at.min(now),
            );
            match opened {
                Ok(more) => {
                    if let Some(incident) = more.iter().find_map(|o| match o {
                        Outcome::IncidentOpened { incident, .. } => Some(*incident),
                        _ => None,
                    }) {
                        self.key_persons.set_incident(c.crisis, incident);
                        outcomes.push(Outcome::CrisisOpened {
                            crisis: c.crisis,
                            crisis_ref: c.crisis_ref,
                            person: c.person,
                            incident,
                        });
                    }
                    outcomes.extend(more);
                }
                Err(err) => self.crisis_refusals.push((c.crisis, err.to_string())),
            }
        }
    }

    /// A confirmed alert: a key person's entry is a care lead for their team (police only as
    /// the sighting policy says); any other entry sends the nearest police.
    fn confirmed_alert(
        &mut self,
        now: Millis,
        alert: AlertId,
        entry_ref: u64,
        outcomes: &mut Vec<Outcome>,
    ) {
        let Some(s) = self.matcher.confirmed_sighting(alert).cloned() else {
            return;
        };
        let at = s.captured_at.min(now);
        if entry_ref >= baoan_key_persons::KEY_PERSON_ENTRY_BASE {
            let leads = self.key_persons.care_lead(entry_ref, s.camera, s.grid, at);
            let police = leads
                .iter()
                .any(|o| matches!(o, Outcome::CareLead { police: true, .. }));
            outcomes.extend(leads);
            if !police {
                return;
            }
        }
        match self.command.open_lead(now, alert, s.grid, s.x_m, s.y_m, at) {
            Ok(more) => outcomes.extend(more),
            // Command could not take it (no directory, an unknown grid): the alert stays
            // confirmed, and the refusal is kept for the report.
            Err(e) => self.lead_refusals.push((alert, e.to_string())),
        }
    }

    /// Acute cases go to command as police incidents; the case learns its incident.
    fn escalate_cases(&mut self, now: Millis, outcomes: &mut Vec<Outcome>) {
        for e in self.cases.take_escalations() {
            match self
                .command
                .open_case_incident(now, e.case, e.grid, e.x_m, e.y_m, e.at.min(now))
            {
                Ok(more) => {
                    if let Some(incident) = more.iter().find_map(|o| match o {
                        Outcome::IncidentOpened { incident, .. } => Some(*incident),
                        _ => None,
                    }) {
                        self.cases.set_incident(e.case, incident.0);
                        outcomes.push(Outcome::CaseEscalated {
                            case: e.case,
                            incident,
                        });
                    }
                    outcomes.extend(more);
                }
                Err(err) => self.case_refusals.push((e.case, err.to_string())),
            }
        }
    }
}

/// A look-up into the block data names what was looked up, and what it returned, whether or
/// not it was allowed: who looked at whom is what an audit must answer.
fn lookup_detail(command: &Command, outcomes: Option<&Vec<Outcome>>) -> Option<String> {
    let what = match command {
        Command::QueryBlock { query } => format!("look-up {query:?}"),
        Command::ExportLinkage => "export of every entity's records".to_string(),
        Command::QueryCase { case } => format!("look-up of case {case}"),
        Command::QueryCredit { subject } => format!("look-up of the credit of {subject:?}"),
        Command::QueryCare { care } => format!("look-up of care record {care}"),
        Command::QueryCareStats => "care counts".to_string(),
        Command::QueryKeyPerson { person } => format!("look-up of key person record {person}"),
        Command::QueryKeyPersonStats => "key-person counts".to_string(),
        Command::ExportKeyPersonAccess => "export of the key-person access log".to_string(),
        Command::ExportMatcherAudit => "export of the matcher's use log".to_string(),
        _ => return None,
    };
    let answer = outcomes
        .into_iter()
        .flatten()
        .find_map(|o| match o {
            Outcome::BlockAnswered { view, placed } => Some(format!(
                "returned {} persons, {} companies, {} placed records",
                view.persons.len(),
                view.companies.len(),
                placed.len()
            )),
            Outcome::LinkageExported { records } => Some(format!(
                "returned {} records with their entities",
                records.len()
            )),
            Outcome::CaseAnswered { view } => {
                Some(format!("returned the case ({} tasks)", view.tasks.len()))
            }
            Outcome::CreditAnswered { entries, .. } => {
                Some(format!("returned {} credit records", entries.len()))
            }
            Outcome::CareAnswered { .. } => Some("returned the care record".into()),
            Outcome::CareStatsAnswered { .. } => Some("returned counts only".into()),
            Outcome::KeyPersonAnswered { view } => Some(format!(
                "returned the record ({} history entries)",
                view.history.len()
            )),
            Outcome::KeyPersonStatsAnswered { .. } => Some("returned counts only".into()),
            Outcome::MatcherAuditExported { audit } => Some(format!(
                "returned {} alerts and {} look-up counts",
                audit.alerts.len(),
                audit.lookups.len()
            )),
            Outcome::KeyPersonAccessExported { entries } => {
                Some(format!("returned {} access entries", entries.len()))
            }
            _ => None,
        })
        .unwrap_or_else(|| "nothing returned".into());
    Some(format!("{what}: {answer}"))
}

/// The personal-data part of a call's outcomes, for the audit log.
fn audit_detail(outcomes: &[Outcome]) -> Option<String> {
    let parts: Vec<String> = outcomes
        .iter()
        .filter_map(|o| match o {
            Outcome::SightingDiscarded { .. } => Some(NO_MATCH.into()),
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
            Outcome::CareLead {
                person,
                police,
                policy_version,
                ..
            } => Some(format!(
                "care lead on key person {person} to the team{} (sighting policy v{policy_version})",
                if *police { " and police" } else { " only" }
            )),
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
        let result = match env.command.module() {
            Module::Grid => self.grid.handle(env),
            Module::Command => self.command.handle(env),
            Module::Matcher => self.matcher.handle(env),
            Module::Blocks => self.blocks.handle(env),
            Module::Cases => self.cases.handle(env, &BlocksRegistry(&self.blocks)),
            Module::KeyPersons => self.key_persons.handle(env),
        };
        // A confirmed alert is handed on inside the stack: the nearest police go, or a key
        // person's team.
        let result = result.map(|mut outcomes| {
            let confirmed: Vec<(AlertId, u64)> = outcomes
                .iter()
                .filter_map(|o| match o {
                    Outcome::AlertConfirmed { alert, entry_ref } => Some((*alert, *entry_ref)),
                    _ => None,
                })
                .collect();
            for (alert, entry_ref) in confirmed {
                self.confirmed_alert(env.sent_at, alert, entry_ref, &mut outcomes);
            }
            self.escalate_cases(env.sent_at, &mut outcomes);
            self.open_crises(env.sent_at, &mut outcomes);
            outcomes
        });
        // The matcher's use log carries the stack's look-ups of personal data (before this
        // export is itself logged, below).
        let mut result = result;
        if let Ok(outcomes) = &mut result {
            for o in outcomes.iter_mut() {
                if let Outcome::MatcherAuditExported { audit } = o {
                    audit.lookups = self.audit.counts_by_role(&PERSONAL_DATA_READS);
                }
            }
        }
        let verdict = match &result {
            Ok(_) => Ok(()),
            Err(e) => Err(e.to_string()),
        };
        let detail = lookup_detail(&env.command, result.as_ref().ok()).or_else(|| {
            result
                .as_ref()
                .ok()
                .and_then(|outcomes| audit_detail(outcomes))
        });
        self.audit
            .append(env.sent_at, env.actor, env.command.kind(), verdict, detail);
        result
    }

    fn next_due(&self) -> Option<Millis> {
        [
            self.grid.next_due(),
            self.matcher.next_due(),
            self.cases.next_due(),
            self.blocks.next_due(),
            self.key_persons.next_due(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    fn advance(&mut self, now: Millis) -> Vec<Outcome> {
        let mut out = self.grid.advance(now);
        out.extend(self.matcher.advance(now));
        out.extend(self.cases.advance(now));
        out.extend(self.blocks.advance(now as i64));
        out.extend(self.key_persons.advance(now));
        out
    }

    fn name(&self) -> String {
        "in-process".into()
    }
}
