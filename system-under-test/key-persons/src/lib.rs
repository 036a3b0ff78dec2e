//! `baoan-key-persons`: the platform's key-persons module (重点人员) — people with severe mental
//! disorders under community management and people in community drug treatment or
//! rehabilitation, each worked by a five-in-one team: information look-up, follow-up tasks
//! pushed to the team by grade and due date, the team's findings, re-grading, supervision of
//! overdue and high-risk cases by the street and the district, crises handed to command, and
//! closure when a person leaves management.
//!
//! It speaks only `baoan-api` types, reads no clock (time arrives with each command) and draws
//! nothing at random. Every command is role-checked with [`baoan_api::authorize`] first; then the
//! record's team narrows who may act or read: a team member on their own people only, a guardian
//! reports but never reads, a closed record answers auditors alone. Every look-up, allowed or
//! refused, goes into the access log (auditors export it) before the answer; that log is the one
//! thing a refused command changes.
//!
//! Crises are handed to command like the cases module's acute disputes:
//! [`KeyPersonsService::take_crises`] gives the stack the crises reported since, the stack opens
//! an incident (key [`KEY_PERSON_REF_BASE`] + crisis id) and reports it back with
//! [`KeyPersonsService::set_incident`]. Face sightings of key persons arrive from the matcher,
//! confirmed by human reviewers, through [`KeyPersonsService::care_lead`].

#![forbid(unsafe_code)]

mod record;
pub mod rules;

use std::collections::{BTreeMap, BTreeSet};

use baoan_api::key_persons::{
    AccessEntry, Category, Function, KEY_PERSON_REF_BASE, KeyPersonDirectory, KeyPersonStats,
    MAX_RISK, SightingPolicy,
};
use baoan_api::{
    Actor, ApiError, Command, Envelope, EscalationLevel, IncidentId, Millis, Module, Outcome,
    PersonId, Role,
};
use rustc_hash::FxHashMap;

pub use record::Record;

pub use baoan_api::key_persons::KEY_PERSON_ENTRY_BASE;

/// A crisis for the stack to open as a command incident.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Crisis {
    pub crisis: u64,
    pub crisis_ref: u64,
    pub person: u64,
    pub grid: u32,
    pub x_m: f64,
    pub y_m: f64,
    pub at: Millis,
}

impl Crisis {
    /// The incident key the stack should report it under.
    pub fn incident_ref(&self) -> u64 {
        KEY_PERSON_REF_BASE + self.crisis
    }
}

/// A crisis as the module keeps it (repeats of its ref get the first answer).
#[derive(Debug, Clone, PartialEq)]
struct CrisisRecord {
    crisis_ref: u64,
    person: u64,
    incident: Option<IncidentId>,
}

/// What the overdue clock may fire for a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    Overdue(EscalationLevel),
    TermEnds,
}

/// The directory, indexed: the professional members of each community by function (sorted),
/// the inspector of each grid, and each member's function and community.
#[derive(Debug, Clone, Default)]
struct Dir {
    by_community: BTreeMap<(u32, Function), Vec<PersonId>>,
    inspector_of: BTreeMap<u32, PersonId>,
}

#[derive(Debug, Clone, Default)]
pub struct KeyPersonsService {
    dir: Option<Dir>,
    records: Vec<Record>,
    by_ref: FxHashMap<u64, u64>,
    /// People assigned to each member, for the least-loaded choice.
    load: BTreeMap<PersonId, u32>,
    clock: BTreeSet<(Millis, u64, Timer)>,
    crises: Vec<CrisisRecord>,
    crisis_by_ref: FxHashMap<u64, u64>,
    handoffs: Vec<Crisis>,
    access: Vec<AccessEntry>,
    policy: Option<(u32, SightingPolicy)>,
    stats: KeyPersonStats,
}

pub(crate) fn invalid(field: impl Into<String>, problem: impl Into<String>) -> ApiError {
    ApiError::Invalid {
        field: field.into(),
        problem: problem.into(),
    }
}

pub(crate) fn not_found(what: &str, id: u64) -> ApiError {
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

pub(crate) fn forbidden(actor: Actor, command: String, allowed: String) -> ApiError {
    ApiError::Forbidden {
        role: actor.role.as_str().into(),
        command,
        allowed,
    }
}

impl KeyPersonsService {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn stats(&self) -> KeyPersonStats {
        let mut s = self.stats.clone();
        s.by_category = Category::ALL
            .iter()
            .map(|&c| {
                let n = self.records.iter().filter(|r| r.category == c).count();
                (c, n as u64)
            })
            .collect();
        s.by_risk = [0; 6];
        for r in self.records.iter().filter(|r| r.closed.is_none()) {
            s.by_risk[r.risk as usize] += 1;
        }
        s
    }

    /// The records, closed ones included (for the stack's own checks and tests; clients read
    /// a record through `query_key_person`).
    pub fn records(&self) -> &[Record] {
        &self.records
    }

    /// Everything the module holds but its access log and look-up counts, as text: two states
    /// are the same exactly when their digests are (the property tests compare them around a
    /// refused command).
    pub fn digest(&self) -> String {
        let mut stats = self.stats.clone();
        stats.look_ups = 0;
        stats.look_ups_refused = 0;
        let mut refs: Vec<_> = self.by_ref.iter().collect();
        refs.sort_unstable();
        let mut crisis_refs: Vec<_> = self.crisis_by_ref.iter().collect();
        crisis_refs.sort_unstable();
        format!(
            "{:?}|{:?}|{refs:?}|{:?}|{:?}|{:?}|{crisis_refs:?}|{:?}|{:?}|{stats:?}",
            self.dir, self.records, self.load, self.clock, self.crises, self.handoffs, self.policy
        )
    }

    /// The access log, in order (every look-up, allowed or refused).
    pub fn access_log(&self) -> &[AccessEntry] {
        &self.access
    }

    /// Carry one command of the key-persons module. A refused command changes nothing but the
    /// access log (a refused look-up is logged).
    pub fn handle(&mut self, env: &Envelope) -> Result<Vec<Outcome>, ApiError> {
        let (now, actor) = (env.sent_at, env.actor);
        if let Err(e) = baoan_api::authorize(&actor, &env.command) {
            if let Some(person) = look_up_target(&env.command) {
                self.log(now, actor, person, false, e.to_string());
            }
            return Err(e);
        }
        if env.command.module() != Module::KeyPersons {
            return Err(invalid(
                "type",
                format!("{} is not a key-persons command", env.command.kind()),
            ));
        }
        match &env.command {
            Command::LoadKeyPersonDirectory { directory } => return self.load_directory(directory),
            Command::SetSightingPolicy { policy } => return self.set_policy(*policy),
            Command::QueryKeyPersonStats => {
                self.log(now, actor, None, true, "counts only".into());
                return Ok(vec![Outcome::KeyPersonStatsAnswered {
                    stats: self.stats(),
                }]);
            }
            Command::ExportKeyPersonAccess => {
                let entries = self.access.clone();
                self.log(
                    now,
                    actor,
                    None,
                    true,
                    format!("access log export: {} entries", entries.len()),
                );
                return Ok(vec![Outcome::KeyPersonAccessExported { entries }]);
            }
            _ => {}
        }
        if self.dir.is_none() {
            return Err(refused(
                "key-person directory",
                "(none)",
                "not loaded yet: an admin must send load_key_person_directory first",
            ));
        }
        self.dispatch(now, actor, &env.command)
    }

    fn dispatch(
        &mut self,
        now: Millis,
        actor: Actor,
        command: &Command,
    ) -> Result<Vec<Outcome>, ApiError> {
        match command {
            Command::RegisterKeyPerson {
                person_ref,
                category,
                risk,
                grid,
                community,
                street,
                x_m,
                y_m,
                guardian,
                months_in_management,
                next_due_at,
                observed_at,
            } => self.register(
                now,
                record::Intake {
                    person_ref: *person_ref,
                    category: *category,
                    risk: *risk,
                    grid: *grid,
                    community: *community,
                    street: *street,
                    x_m: *x_m,
                    y_m: *y_m,
                    guardian: *guardian,
                    months_in: *months_in_management,
                    next_due_at: *next_due_at,
                    observed_at: *observed_at,
                },
            ),
            Command::RecordFollowUp { person, findings } => {
                self.follow_up(actor, now, *person, findings)
            }
            Command::ReportWarningSign {
                person,
                observed_at,
            } => self.warning_sign(actor, now, *person, *observed_at),
            Command::ReportCrisis {
                crisis_ref,
                person,
                source,
                grid,
                x_m,
                y_m,
                observed_at,
            } => self.crisis(
                actor,
                now,
                record::CrisisReport {
                    crisis_ref: *crisis_ref,
                    person: *person,
                    source: *source,
                    grid: *grid,
                    x_m: *x_m,
                    y_m: *y_m,
                    observed_at: *observed_at,
                },
            ),
            Command::CloseKeyPerson { person, reason } => {
                self.close_by_team(actor, now, *person, *reason)
            }
            Command::QueryKeyPerson { person } => self.query(actor, now, *person),
            other => Err(invalid(
                "type",
                format!("{} is not a key-persons command", other.kind()),
            )),
        }
    }

    /// Fire what is due by `now`: overdue follow-ups (street, then district) and drug terms that
    /// ran out, in time order then record order.
    /// The earliest time `advance` may have work (a follow-up or a team's timer), if any.
    pub fn next_due(&self) -> Option<Millis> {
        self.clock.first().map(|&(at, _, _)| at)
    }

    pub fn advance(&mut self, now: Millis) -> Vec<Outcome> {
        let mut out = Vec::new();
        while let Some(&(at, id, timer)) = self.clock.first() {
            if at > now {
                break;
            }
            self.clock.pop_first();
            self.fire(at, id, timer, &mut out);
        }
        out
    }

    /// Crises reported since the last call, for the stack to open as command incidents.
    pub fn take_crises(&mut self) -> Vec<Crisis> {
        std::mem::take(&mut self.handoffs)
    }

    /// The stack tells the module which incident command opened for a crisis.
    pub fn set_incident(&mut self, crisis: u64, incident: IncidentId) {
        if let Some(c) = slot(crisis, self.crises.len()).map(|i| &mut self.crises[i]) {
            c.incident = Some(incident);
            let person = c.person;
            if let Some(r) = slot(person, self.records.len()).map(|i| &mut self.records[i]) {
                r.note(
                    0,
                    format!("crisis {crisis}: command incident {}", incident.0),
                );
            }
        }
    }

    /// A face sighting of a key person confirmed by reviewers: a care lead for the team, which
    /// from grade 1 brings the next follow-up forward as a warning sign does; police too only if
    /// the person's grade is at or above the policy's. Nothing when `entry_ref` is not a key person's entry
    /// or the record is closed (a closed record leads nowhere).
    pub fn care_lead(
        &mut self,
        entry_ref: u64,
        camera: u32,
        grid: u32,
        seen_at: Millis,
    ) -> Vec<Outcome> {
        let Some(i) = entry_ref
            .checked_sub(KEY_PERSON_ENTRY_BASE)
            .and_then(|id| slot(id, self.records.len()))
        else {
            return Vec::new();
        };
        let (version, policy) = self.policy.unwrap_or((
            0,
            SightingPolicy {
                police_from_risk: MAX_RISK + 1,
            },
        ));
        let r = &mut self.records[i];
        if r.closed.is_some() {
            return Vec::new();
        }
        let police = r.risk >= policy.police_from_risk;
        r.note(
            seen_at,
            format!(
                "sighted at camera {camera} (grid {grid}): care lead to the team{}",
                if police { " and police" } else { "" }
            ),
        );
        let lead = Outcome::CareLead {
            person: r.id,
            camera,
            grid,
            seen_at,
            risk: r.risk,
            police,
            policy_version: version,
        };
        self.stats.care_leads += 1;
        self.stats.police_leads += u64::from(police);
        if r.risk < rules::LEAD_FORWARD_FROM_RISK {
            return vec![lead];
        }
        let task = self.bring_forward(i, seen_at);
        vec![lead, Outcome::FollowUpPushed { task }]
    }

    fn set_policy(&mut self, policy: SightingPolicy) -> Result<Vec<Outcome>, ApiError> {
        if policy.police_from_risk > MAX_RISK + 1 {
            return Err(invalid(
                "policy.police_from_risk",
                format!(
                    "expected a grade 0..={} ({} = never police), got {}",
                    MAX_RISK + 1,
                    MAX_RISK + 1,
                    policy.police_from_risk
                ),
            ));
        }
        let version = self.policy.map_or(1, |(v, _)| v + 1);
        self.policy = Some((version, policy));
        Ok(vec![Outcome::SightingPolicySet { version }])
    }

    /// Load or replace the directory; a bad entry refuses the whole load and names it. People
    /// already registered keep their teams.
    fn load_directory(&mut self, d: &KeyPersonDirectory) -> Result<Vec<Outcome>, ApiError> {
        let mut dir = Dir::default();
        let mut seen: BTreeMap<PersonId, usize> = BTreeMap::new();
        for (i, m) in d.members.iter().enumerate() {
            let field = format!("directory.members[{i}]");
            if let Some(j) = seen.insert(m.person, i) {
                return Err(invalid(
                    field,
                    format!(
                        "expected each person once, got person {} again (first at members[{j}])",
                        m.person.0
                    ),
                ));
            }
            match (m.function, m.grid) {
                (Function::Guardian, _) => {
                    return Err(invalid(
                        format!("{field}.function"),
                        "expected a professional function: guardians come with each registration",
                    ));
                }
                (Function::GridInspector, Some(g)) => {
                    if dir.inspector_of.insert(g, m.person).is_some() {
                        return Err(invalid(
                            format!("{field}.grid"),
                            format!("expected one inspector per grid, got a second for grid {g}"),
                        ));
                    }
                }
                (Function::GridInspector, None) => {
                    return Err(invalid(
                        format!("{field}.grid"),
                        "expected the inspector's grid",
                    ));
                }
                (_, Some(_)) => {
                    return Err(invalid(
                        format!("{field}.grid"),
                        "expected no grid: only inspectors have one",
                    ));
                }
                (_, None) => {}
            }
            dir.by_community
                .entry((m.community, m.function))
                .or_default()
                .push(m.person);
        }
        for v in dir.by_community.values_mut() {
            v.sort_unstable();
        }
        self.dir = Some(dir);
        Ok(vec![Outcome::KeyPersonDirectoryLoaded {
            members: d.members.len() as u32,
        }])
    }

    fn log(
        &mut self,
        at: Millis,
        actor: Actor,
        person: Option<u64>,
        allowed: bool,
        detail: String,
    ) {
        self.stats.look_ups += 1;
        self.stats.look_ups_refused += u64::from(!allowed);
        self.access.push(AccessEntry {
            at,
            reader: actor.person,
            role: actor.role,
            person,
            allowed,
            detail,
        });
    }

    fn record_index(&self, person: u64) -> Result<usize, ApiError> {
        slot(person, self.records.len()).ok_or_else(|| not_found("key person", person))
    }

    /// Read a record: its own team (not the guardian) while open, auditors always.
    fn query(&mut self, actor: Actor, now: Millis, person: u64) -> Result<Vec<Outcome>, ApiError> {
        let i = match self.record_index(person) {
            Ok(i) => i,
            Err(e) => {
                self.log(now, actor, Some(person), false, e.to_string());
                return Err(e);
            }
        };
        let r = &self.records[i];
        let reader = r.team.function_of(actor.person);
        let allowed = actor.role == Role::Auditor
            || (r.closed.is_none() && reader.is_some_and(|f| f != Function::Guardian));
        if !allowed {
            let why = if r.closed.is_some() {
                "auditors (the record is closed)".to_string()
            } else {
                format!("the team of key person {person} (not its guardian), auditors")
            };
            let e = forbidden(actor, format!("query_key_person on record {person}"), why);
            self.log(now, actor, Some(person), false, e.to_string());
            return Err(e);
        }
        let view = r.view();
        self.log(
            now,
            actor,
            Some(person),
            true,
            format!(
                "returned the record ({} history entries)",
                view.history.len()
            ),
        );
        Ok(vec![Outcome::KeyPersonAnswered { view }])
    }
}

/// The record a look-up command names, for the access log (`Some(None)`: a counts query or an
/// export; `None`: not a look-up).
fn look_up_target(command: &Command) -> Option<Option<u64>> {
    match command {
        Command::QueryKeyPerson { person } => Some(Some(*person)),
        Command::QueryKeyPersonStats | Command::ExportKeyPersonAccess => Some(None),
        _ => None,
    }
}

/// The index of 1-based `id` in a store of `len`, if it is there.
pub(crate) fn slot(id: u64, len: usize) -> Option<usize> {
    (id >= 1 && id <= len as u64).then(|| (id - 1) as usize)
}

#[cfg(test)]
mod tests;
