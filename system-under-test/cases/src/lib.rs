//! `baoan-cases`: the platform's cases module (重点事件) — family and neighbour disputes acted on
//! by five agencies, trust and dishonesty (credit) records with joint rewards and penalties,
//! business-registration oversight checked against block data, and follow-up of residents in
//! community care.
//!
//! It speaks only `baoan-api` types, reads no clock (time arrives with each command) and draws
//! nothing at random: the spot check hashes the registration's ref. Outcomes never depend on
//! hash order. What it needs of block data it asks through [`Registry`], which the stack
//! implements over the block-data service.
//!
//! Every command is role-checked with [`baoan_api::authorize`] first; the directory then narrows
//! who may act on what (an agency's workers on their agency's tasks in their street, care workers
//! on their own community's records). A refused command changes nothing.
//!
//! Acute disputes are handed to command: [`CasesService::take_escalations`] gives the stack the
//! cases that turned acute, the stack opens an incident (key [`CASE_REF_BASE`] + case id) and
//! reports it back with [`CasesService::set_incident`].

#![forbid(unsafe_code)]

mod care;
mod config;
mod credit;
mod disputes;
mod oversight;

use std::collections::{BTreeMap, BTreeSet};

use baoan_api::cases::{AddressCheck, Agency, CASE_REF_BASE, CareStats, CaseDirectory};
use baoan_api::{Actor, ApiError, Command, Envelope, EscalationLevel, Millis, Module, Outcome};
use baoan_api::{PersonId, cases::Subject};
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

pub use config::{CasesConfig, Requirement, RiskCutoffs, RiskWeights};

pub const HOUR_MS: Millis = 3_600_000;
pub const DAY_MS: Millis = 24 * HOUR_MS;
/// Event refs of the dishonesty records oversight makes itself: this base plus the supervision
/// task's id, clear of clients' refs by convention (as [`CASE_REF_BASE`] is for incidents).
pub const OVERSIGHT_EVENT_REF_BASE: u64 = 1 << 62;
/// Longest interval between care visits a record may have.
pub const MAX_CARE_INTERVAL_DAYS: u16 = 90;

/// What the cases module asks of block data (the stack implements it over `BlockDataService`).
pub trait Registry {
    /// Where the address resolves and who is already there (companies at the room).
    fn check_address(&self, address: &str) -> AddressCheck;
    /// Credit codes of the companies whose legal representative bears this ID number.
    fn companies_represented_by(&self, id_number: &str) -> Vec<String>;
    /// The legal representative's ID number of the company with this credit code, as held.
    fn representative_of(&self, credit_code: &str) -> Option<String>;
}

/// A registry that knows nothing: no address resolves, no company or representative is linked.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoRegistry;

impl Registry for NoRegistry {
    fn check_address(&self, _address: &str) -> AddressCheck {
        AddressCheck::default()
    }
    fn companies_represented_by(&self, _id_number: &str) -> Vec<String> {
        Vec::new()
    }
    fn representative_of(&self, _credit_code: &str) -> Option<String> {
        None
    }
}

/// A case that turned acute: the stack opens a police incident for it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Escalation {
    pub case: u64,
    pub grid: u32,
    pub x_m: f64,
    pub y_m: f64,
    pub at: Millis,
}

impl Escalation {
    /// The incident key the stack should report it under.
    pub fn incident_ref(&self) -> u64 {
        CASE_REF_BASE + self.case
    }
}

/// Counts per loop, for the stack's figures.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CasesStats {
    pub cases_opened: u64,
    /// Cases by their level at opening, in the order of `RiskLevel::ALL`.
    pub cases_opened_by_level: [u64; 4],
    pub cases_reassessed: u64,
    pub cases_closed: u64,
    pub cases_settled: u64,
    /// Sum of closing satisfaction scores (divide by `cases_closed` for the mean).
    pub satisfaction_sum: u64,
    /// Cases handed to command as acute (at opening or on reassessment).
    pub cases_escalated: u64,
    pub case_tasks_issued: u64,
    pub case_tasks_done: u64,
    pub case_tasks_on_time: u64,
    /// Deadlines moved earlier by a reassessment.
    pub case_tasks_moved: u64,
    pub case_tasks_overdue_street: u64,
    pub case_tasks_overdue_district: u64,
    pub credit_events: u64,
    pub credit_deliveries: u64,
    /// Linked entities a record could not reach (their identifier fails its check).
    pub credit_undelivered: u64,
    pub credit_acknowledged: u64,
    pub credit_acknowledged_on_time: u64,
    pub credit_revoked: u64,
    pub credit_appeals_dismissed: u64,
    pub registrations: u64,
    pub registrations_flagged: u64,
    pub supervision_reports: u64,
    pub false_registrations: u64,
    pub address_misuse: u64,
    pub trading_reports: u64,
    pub unlicensed_trading: u64,
    pub care: CareStats,
}

/// The directory with the look-ups the checks need.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Dir {
    /// Person → (agency, street served; `None` = the whole district).
    case_workers: BTreeMap<PersonId, Vec<(Agency, Option<u32>)>>,
    /// Person → communities they care for.
    care_communities: BTreeMap<PersonId, BTreeSet<u32>>,
    /// Community → its care workers, by person id.
    community_workers: BTreeMap<u32, Vec<PersonId>>,
}

impl Dir {
    /// Whether the person works for the agency and serves the street.
    pub(crate) fn serves(&self, person: PersonId, agency: Agency, street: u32) -> bool {
        self.case_workers.get(&person).is_some_and(|entries| {
            entries
                .iter()
                .any(|&(a, s)| a == agency && s.is_none_or(|s| s == street))
        })
    }

    /// The agencies the person works for in the street.
    pub(crate) fn agencies_in(&self, person: PersonId, street: u32) -> BTreeSet<Agency> {
        self.case_workers
            .get(&person)
            .into_iter()
            .flatten()
            .filter(|(_, s)| s.is_none_or(|s| s == street))
            .map(|&(a, _)| a)
            .collect()
    }

    pub(crate) fn cares_for(&self, person: PersonId, community: u32) -> bool {
        self.care_communities
            .get(&person)
            .is_some_and(|c| c.contains(&community))
    }

    pub(crate) fn care_workers_of(&self, community: u32) -> &[PersonId] {
        self.community_workers
            .get(&community)
            .map_or(&[], Vec::as_slice)
    }
}

/// The cases module. Nothing but `LoadCaseDirectory` is taken before the directory is loaded.
#[derive(Debug, Clone, PartialEq)]
pub struct CasesService {
    pub(crate) config: CasesConfig,
    pub(crate) dir: Option<Dir>,
    // Disputes.
    pub(crate) cases: Vec<disputes::Case>,
    pub(crate) case_by_ref: FxHashMap<u64, u64>,
    pub(crate) tasks: Vec<disputes::Task>,
    pub(crate) joint_visits: u64,
    /// (when, task, level): the overdue clock of case tasks.
    pub(crate) task_clock: BTreeSet<(Millis, u64, EscalationLevel)>,
    pub(crate) escalations: Vec<Escalation>,
    // Credit.
    pub(crate) events: Vec<credit::Event>,
    pub(crate) event_by_ref: FxHashMap<u64, u64>,
    pub(crate) deliveries: Vec<credit::Delivery>,
    /// Entity → the records standing on it (event → link).
    pub(crate) standing: BTreeMap<Subject, BTreeMap<u64, baoan_api::cases::CreditLink>>,
    // Business oversight.
    pub(crate) registrations: Vec<oversight::Registration>,
    pub(crate) registration_by_ref: FxHashMap<u64, usize>,
    pub(crate) registration_by_code: FxHashMap<String, usize>,
    pub(crate) registrations_by_rep: FxHashMap<String, Vec<usize>>,
    pub(crate) own_at_room: FxHashMap<u32, u32>,
    pub(crate) own_at_building: FxHashMap<u32, u32>,
    pub(crate) supervision: Vec<oversight::Supervision>,
    pub(crate) trading: FxHashMap<u64, Outcome>,
    // Care.
    pub(crate) care: Vec<care::CareRecord>,
    pub(crate) care_by_ref: FxHashMap<u64, u64>,
    pub(crate) services: Vec<care::Service>,
    /// (when, care record, level): the overdue clock of care visits.
    pub(crate) care_clock: BTreeSet<(Millis, u64, EscalationLevel)>,
    pub(crate) worker_load: BTreeMap<PersonId, u32>,
    pub(crate) stats: CasesStats,
}

impl Default for CasesService {
    fn default() -> Self {
        Self::new(CasesConfig::default())
    }
}

pub(crate) fn invalid(field: impl Into<String>, problem: impl Into<String>) -> ApiError {
    ApiError::Invalid {
        field: field.into(),
        problem: problem.into(),
    }
}

pub(crate) fn not_found(what: &str, id: impl ToString) -> ApiError {
    ApiError::NotFound {
        what: what.into(),
        id: id.to_string(),
    }
}

pub(crate) fn refused(what: &str, id: impl ToString, problem: impl Into<String>) -> ApiError {
    ApiError::Refused {
        what: what.into(),
        id: id.to_string(),
        problem: problem.into(),
    }
}

/// The directory (not the role) does not let this person do this.
pub(crate) fn forbidden(actor: Actor, command: String, allowed: String) -> ApiError {
    ApiError::Forbidden {
        role: actor.role.as_str().into(),
        command: format!("{command} by person {}", actor.person.0),
        allowed,
    }
}

/// The 1-based dense id's slot, if it exists.
pub(crate) fn slot(id: u64, len: usize) -> Option<usize> {
    id.checked_sub(1)
        .and_then(|i| usize::try_from(i).ok())
        .filter(|&i| i < len)
}

impl CasesService {
    pub fn new(config: CasesConfig) -> Self {
        CasesService {
            config,
            dir: None,
            cases: Vec::new(),
            case_by_ref: FxHashMap::default(),
            tasks: Vec::new(),
            joint_visits: 0,
            task_clock: BTreeSet::new(),
            escalations: Vec::new(),
            events: Vec::new(),
            event_by_ref: FxHashMap::default(),
            deliveries: Vec::new(),
            standing: BTreeMap::new(),
            registrations: Vec::new(),
            registration_by_ref: FxHashMap::default(),
            registration_by_code: FxHashMap::default(),
            registrations_by_rep: FxHashMap::default(),
            own_at_room: FxHashMap::default(),
            own_at_building: FxHashMap::default(),
            supervision: Vec::new(),
            trading: FxHashMap::default(),
            care: Vec::new(),
            care_by_ref: FxHashMap::default(),
            services: Vec::new(),
            care_clock: BTreeSet::new(),
            worker_load: BTreeMap::new(),
            stats: CasesStats::default(),
        }
    }

    pub fn config(&self) -> &CasesConfig {
        &self.config
    }

    pub fn stats(&self) -> CasesStats {
        self.stats.clone()
    }

    /// Carry one command of the cases module. A refused command changes nothing.
    pub fn handle(
        &mut self,
        env: &Envelope,
        registry: &dyn Registry,
    ) -> Result<Vec<Outcome>, ApiError> {
        baoan_api::authorize(&env.actor, &env.command)?;
        if env.command.module() != Module::Cases {
            return Err(invalid(
                "type",
                format!("{} is not a cases-module command", env.command.kind()),
            ));
        }
        if let Command::LoadCaseDirectory { directory } = &env.command {
            return self.load_directory(directory);
        }
        self.dir()?;
        let (now, actor) = (env.sent_at, env.actor);
        match &env.command {
            Command::OpenCase {
                case_ref,
                source,
                kind,
                grid,
                street,
                x_m,
                y_m,
                features,
                observed_at,
            } => self.open_case(
                now,
                disputes::Intake {
                    case_ref: *case_ref,
                    source: *source,
                    kind: *kind,
                    grid: *grid,
                    street: *street,
                    x_m: *x_m,
                    y_m: *y_m,
                    features: *features,
                    observed_at: *observed_at,
                },
            ),
            Command::RecordCaseAction { task, findings } => {
                self.record_action(actor, now, *task, findings.as_ref())
            }
            Command::CloseCase { case, evaluation } => {
                self.close_case(actor, now, *case, evaluation)
            }
            Command::QueryCase { case } => self.query_case(actor, *case),
            Command::RecordCreditEvent {
                event_ref,
                subject,
                kind,
                source,
                observed_at,
            } => self.record_credit_event(
                now,
                registry,
                *event_ref,
                subject,
                *kind,
                *source,
                *observed_at,
            ),
            Command::AcknowledgeCredit { delivery } => self.acknowledge(now, *delivery),
            Command::AppealCredit { event, upheld } => self.appeal(now, *event, *upheld),
            Command::QueryCredit { subject } => self.query_credit(subject),
            Command::RegisterCompany {
                registration_ref,
                name,
                credit_code,
                legal_representative_id,
                address,
                scope,
                observed_at,
            } => self.register_company(
                now,
                registry,
                oversight::Application {
                    registration_ref: *registration_ref,
                    name,
                    credit_code,
                    legal_representative_id,
                    address,
                    scope: *scope,
                    observed_at: *observed_at,
                },
            ),
            Command::ReportPremises { task, finding } => {
                self.report_premises(actor, now, registry, *task, finding)
            }
            Command::ReportTrading {
                report_ref,
                address,
            } => self.report_trading(registry, *report_ref, address),
            Command::EnrolCare {
                care_ref,
                community,
                category,
                interval_days,
            } => self.enrol_care(actor, now, *care_ref, *community, *category, *interval_days),
            Command::RecordCareVisit { care, need_found } => {
                self.record_visit(actor, now, *care, *need_found)
            }
            Command::CompleteCareService { service } => self.complete_service(actor, now, *service),
            Command::QueryCare { care } => self.query_care(actor, *care),
            Command::QueryCareStats => Ok(vec![Outcome::CareStatsAnswered {
                stats: self.stats.care.clone(),
            }]),
            other => Err(invalid(
                "type",
                format!("{} is not a cases-module command", other.kind()),
            )),
        }
    }

    /// Escalate what is overdue by `now`: case tasks (by task id), then care visits (by record).
    /// The earliest time `advance` may have work (a case task or a care visit falling
    /// overdue), if any.
    pub fn next_due(&self) -> Option<Millis> {
        let task = self.task_clock.first().map(|&(at, _, _)| at);
        let care = self.care_clock.first().map(|&(at, _, _)| at);
        task.into_iter().chain(care).min()
    }

    pub fn advance(&mut self, now: Millis) -> Vec<Outcome> {
        let mut out = self.advance_tasks(now);
        out.extend(self.advance_care(now));
        out
    }

    /// Cases that turned acute since the last call, for the stack to open a police incident.
    pub fn take_escalations(&mut self) -> Vec<Escalation> {
        std::mem::take(&mut self.escalations)
    }

    /// The stack tells the module which incident command opened for an escalated case. An
    /// unknown case is ignored (the stack only reports cases it was given).
    pub fn set_incident(&mut self, case: u64, incident: u64) {
        if let Some(i) = slot(case, self.cases.len()) {
            self.cases[i].escalated_incident = Some(incident);
        }
    }

    pub(crate) fn dir(&self) -> Result<&Dir, ApiError> {
        self.dir.as_ref().ok_or_else(|| {
            refused(
                "case directory",
                "(none)",
                "not loaded yet: an admin must send load_case_directory first",
            )
        })
    }

    /// Load or replace the directory; a bad entry refuses the whole load and names it. Records
    /// already assigned keep their workers.
    fn load_directory(&mut self, d: &CaseDirectory) -> Result<Vec<Outcome>, ApiError> {
        let mut case_workers: BTreeMap<PersonId, Vec<(Agency, Option<u32>)>> = BTreeMap::new();
        for (i, w) in d.case_workers.iter().enumerate() {
            let entries = case_workers.entry(w.person).or_default();
            if entries.contains(&(w.agency, w.street)) {
                return Err(invalid(
                    format!("directory.case_workers[{i}]"),
                    format!(
                        "expected each (person, agency, street) once, got person {} as {} again",
                        w.person.0,
                        w.agency.as_str()
                    ),
                ));
            }
            entries.push((w.agency, w.street));
        }
        let mut care_communities: BTreeMap<PersonId, BTreeSet<u32>> = BTreeMap::new();
        let mut community_workers: BTreeMap<u32, Vec<PersonId>> = BTreeMap::new();
        let mut street_of: BTreeMap<u32, (u32, usize)> = BTreeMap::new();
        for (i, w) in d.care_workers.iter().enumerate() {
            if let Some(&(street, j)) = street_of.get(&w.community)
                && street != w.street
            {
                return Err(invalid(
                    format!("directory.care_workers[{i}].street"),
                    format!(
                        "expected street {street} for community {} (as in care_workers[{j}]), got {}",
                        w.community, w.street
                    ),
                ));
            }
            street_of.insert(w.community, (w.street, i));
            if !care_communities
                .entry(w.person)
                .or_default()
                .insert(w.community)
            {
                return Err(invalid(
                    format!("directory.care_workers[{i}]"),
                    format!(
                        "expected each (person, community) once, got person {} in community {} again",
                        w.person.0, w.community
                    ),
                ));
            }
            community_workers
                .entry(w.community)
                .or_default()
                .push(w.person);
        }
        for workers in community_workers.values_mut() {
            workers.sort_unstable();
        }
        self.dir = Some(Dir {
            case_workers,
            care_communities,
            community_workers,
        });
        Ok(vec![Outcome::CaseDirectoryLoaded {
            case_workers: d.case_workers.len() as u32,
            care_workers: d.care_workers.len() as u32,
        }])
    }
}

#[cfg(test)]
mod tests;
