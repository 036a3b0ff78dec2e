//! What the key-persons loop measured: follow-ups on time by grade, warning signs and how soon
//! the team saw them, re-grades and escalations, harm that happened and harm prevented (against
//! the same draws with nobody acting), crises handed to command and their 1-3-5 outcome from
//! the moment they happened and from the call, care leads from sightings, the members' time,
//! and the safeguards checked from outside: every look-up in the access log, no record read
//! outside its team, closed records answering auditors only.

use std::collections::{BTreeMap, HashMap};

use baoan_api::key_persons::{AccessEntry, CrisisSource, Function};
use baoan_api::{Actor, Command, Outcome, PersonId, Role, UnitClass};
use baoan_reports::html::{Section, Table};
use baoan_reports::{Invariant, Metrics};
use baoan_world::bridge::{FromStack, Refused, StackDoor};
use bevy_ecs::prelude::*;
use serde_json::json;

use super::course::{ASSUMPTIONS, State};
use super::{KeyPersonsConfig, KpState, TAG_PROBE, TAG_QUERY, TAG_SETUP};
use crate::LoopOutcome;
use crate::handoff::LeadProgress;
use crate::registry::tag_of;

/// Whether an outcome is one of the key-persons module's.
pub fn is_key_person_outcome(o: &Outcome) -> bool {
    matches!(
        o,
        Outcome::KeyPersonDirectoryLoaded { .. }
            | Outcome::KeyPersonRegistered { .. }
            | Outcome::FollowUpRecorded { .. }
            | Outcome::KeyPersonRegraded { .. }
            | Outcome::FollowUpPushed { .. }
            | Outcome::FollowUpOverdue { .. }
            | Outcome::KeyPersonEscalated { .. }
            | Outcome::PoliceNotified { .. }
            | Outcome::CrisisOpened { .. }
            | Outcome::KeyPersonClosed { .. }
            | Outcome::KeyPersonAnswered { .. }
            | Outcome::KeyPersonStatsAnswered { .. }
            | Outcome::KeyPersonAccessExported { .. }
            | Outcome::SightingPolicySet { .. }
            | Outcome::CareLead { .. }
    )
}

/// Grade bands of the follow-up rules: 0 (every three months), 1–2 and 3–5 (two weeks).
fn band(grade: u8) -> usize {
    match grade {
        0 => 0,
        1 | 2 => 1,
        _ => 2,
    }
}
const BANDS: [&str; 3] = ["0", "1-2", "3-5"];

/// A crisis as command handled it: when it happened, when the platform heard of it, and the
/// first arrival of each unit class.
#[derive(Debug, Clone, Default)]
struct CrisisRec {
    source: Option<CrisisSource>,
    occurred: u64,
    reported: u64,
    first_arrival: [Option<u64>; 7],
}

#[derive(Resource, Default)]
pub struct KeyPersonsLedger {
    pub refused: u64,
    pub notes: Vec<String>,
    pub staff_by_function: BTreeMap<&'static str, u64>,
    registered: BTreeMap<&'static str, u64>,
    grade: HashMap<u64, u8>,
    /// Each open record's current due date and whether its lateness was escalated.
    due: HashMap<u64, (u64, bool)>,
    closed_at: HashMap<u64, u64>,
    follow_ups: [(u64, u64); 3],
    late_unescalated: u64,
    regrades: (u64, u64),
    escalations: BTreeMap<String, u64>,
    police_notified: u64,
    pushed: u64,
    pub warnings_sent: u64,
    closures: BTreeMap<String, u64>,
    care_leads: (u64, u64),
    care_leads_below_policy: u64,
    policy_from: u8,
    visits_by_state: [u64; 3],
    detections: (u64, u64),
    /// Onset → detection of every episode found, for the CDF.
    detection_ms: Vec<u64>,
    pub treated: u64,
    harm: (u64, u64),
    crises: BTreeMap<u64, CrisisRec>,
    crises_sent: (u64, u64),
    crises_opened: u64,
    pub look_ups_sent: u64,
    look_ups_answered: u64,
    look_ups_refused: u64,
    probes_sent: [u64; 4],
    probes_refused: u64,
    probes_answered: u64,
    /// Face captures of key persons sent, and alerts raised, confirmed and rejected.
    pub sightings_sent: u64,
    pub alerts: (u64, u64, u64),
    /// Whether the run sights key persons (off where the matcher loop runs).
    pub sightings_on: bool,
    metrics: Metrics,
}

impl crate::CountsRefusals for KeyPersonsLedger {
    fn refusals(&mut self) -> (&mut u64, &mut Vec<String>) {
        (&mut self.refused, &mut self.notes)
    }
}

impl KeyPersonsLedger {
    pub fn visit(&mut self, shown: State) {
        let i = match shown {
            State::Stable => 0,
            State::Unstable => 1,
            State::Relapse => 2,
        };
        self.visits_by_state[i] += 1;
    }

    pub fn detected(&mut self, after_onset_ms: u64, before_relapse: bool) {
        self.detections.0 += 1;
        self.detections.1 += u64::from(before_relapse);
        self.detection_ms.push(after_onset_ms);
        self.metrics
            .hist("key_persons.onset_to_detection_s")
            .record_ms(after_onset_ms);
    }

    pub fn harm(&mut self, _at: u64, managed: bool) {
        if managed {
            self.harm.0 += 1;
        } else {
            self.harm.1 += 1;
        }
    }

    pub fn crisis_sent(&mut self, source: CrisisSource) {
        match source {
            CrisisSource::Team => self.crises_sent.0 += 1,
            CrisisSource::Caller => self.crises_sent.1 += 1,
        }
    }

    pub fn probe_sent(&mut self, kind: u8) {
        self.probes_sent[kind as usize] += 1;
    }

    /// Command's progress on a crisis (its latest word on each class's first arrival).
    pub fn lead_progress(
        &mut self,
        crisis_ref: u64,
        occurred: u64,
        source: CrisisSource,
        p: &LeadProgress,
    ) {
        let r = self.crises.entry(crisis_ref).or_default();
        r.source = Some(source);
        r.occurred = occurred;
        r.first_arrival = p.first_arrival;
    }

    /// Fold in one answer (to this loop's calls, or the module's time-driven work).
    pub fn take_message(&mut self, msg: &FromStack) {
        if let Some(r) = msg.client_ref {
            match tag_of(r) {
                t if t == TAG_PROBE => {
                    if matches!(msg.outcome, Outcome::KeyPersonAnswered { .. }) {
                        self.probes_answered += 1;
                    }
                }
                t if t == TAG_QUERY => self.look_ups_answered += 1,
                _ => {}
            }
            if tag_of(r) == super::TAG_CRISIS
                && let Outcome::CrisisOpened { crisis_ref, .. } = msg.outcome
            {
                self.crises.entry(crisis_ref).or_default().reported = msg.sent_at;
            }
        }
        self.take(&msg.outcome, msg.at);
    }

    pub fn take(&mut self, o: &Outcome, at: u64) {
        match o {
            Outcome::KeyPersonRegistered {
                person, risk, task, ..
            } => {
                self.grade.insert(*person, *risk);
                self.due.insert(*person, (task.due_at, false));
            }
            Outcome::FollowUpRecorded {
                person,
                on_time,
                task,
                ..
            } => {
                let b = band(self.grade.get(person).copied().unwrap_or(0));
                self.follow_ups[b].0 += 1;
                self.follow_ups[b].1 += u64::from(*on_time);
                if !on_time && !self.due.get(person).is_some_and(|d| d.1) {
                    self.late_unescalated += 1;
                    if self.notes.len() < 20 {
                        let due = self.due.get(person).map(|d| d.0);
                        self.notes.push(format!(
                            "record {person}: follow-up at {at} ms late (due {due:?} ms) with no escalation heard"
                        ));
                    }
                }
                match task {
                    Some(t) => {
                        self.due.insert(*person, (t.due_at, false));
                    }
                    None => {
                        self.due.remove(person);
                    }
                }
            }
            Outcome::KeyPersonRegraded { person, from, to } => {
                self.grade.insert(*person, *to);
                if to > from {
                    self.regrades.0 += 1;
                } else {
                    self.regrades.1 += 1;
                }
            }
            Outcome::FollowUpPushed { task } => {
                self.pushed += 1;
                // Brought forward, a new due date with its own clock; otherwise the old one
                // stands, escalated or not.
                let d = self.due.entry(task.person).or_insert((task.due_at, false));
                if d.0 != task.due_at {
                    *d = (task.due_at, false);
                }
            }
            Outcome::FollowUpOverdue { person, .. } => {
                if let Some(d) = self.due.get_mut(person) {
                    d.1 = true;
                }
            }
            Outcome::KeyPersonEscalated { level, reason, .. } => {
                let name = format!("{}_{}", snake(reason), snake(level));
                *self.escalations.entry(name).or_default() += 1;
            }
            Outcome::PoliceNotified { .. } => self.police_notified += 1,
            Outcome::CrisisOpened { .. } => self.crises_opened += 1,
            Outcome::KeyPersonClosed { person, reason, .. } => {
                self.due.remove(person);
                self.closed_at.insert(*person, at);
                *self.closures.entry(snake(reason)).or_default() += 1;
            }
            Outcome::CareLead { risk, police, .. } => {
                self.care_leads.0 += 1;
                self.care_leads.1 += u64::from(*police);
                self.care_leads_below_policy += u64::from(*police && *risk < self.policy_from);
            }
            _ => {}
        }
    }

    pub fn refusal(&mut self, r: &Refused) {
        match tag_of(r.client_ref) {
            t if t == TAG_PROBE => self.probes_refused += 1,
            t if t == TAG_QUERY => {
                self.look_ups_refused += 1;
                crate::note_refusal(&mut self.refused, &mut self.notes, r);
            }
            _ => crate::note_refusal(&mut self.refused, &mut self.notes, r),
        }
    }
}

/// A value's name as the api writes it (`moved_away`, `street`).
fn snake(v: &impl serde::Serialize) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        other => format!("{other:?}"),
    }
}

fn share(n: u64, d: u64) -> f64 {
    if d == 0 {
        0.0
    } else {
        (n as f64 / d as f64 * 10_000.0).round() / 10_000.0
    }
}

/// A look-up after the run (audited like any call).
fn probe(world: &mut World, actor: Actor, command: Command, at: u64) -> Option<Vec<Outcome>> {
    StackDoor::call_after_run(world, at, actor, command, TAG_SETUP).ok()
}

/// Closed records must answer their former team no longer, and auditors still: up to twenty
/// checked after the run. Returns (checked, answered a former member, refused an auditor).
fn check_closed(world: &mut World, end: u64) -> (u64, u64, u64) {
    let closed: Vec<(u64, PersonId)> = {
        let state = world.resource::<KpState>();
        state
            .people
            .iter()
            .filter(|p| p.record_closed)
            .filter_map(|p| {
                let t = p.team.as_ref()?;
                Some((
                    p.record?,
                    t.member(Function::Doctor).or(t.member(Function::Police))?,
                ))
            })
            .take(20)
            .collect()
    };
    let (mut answered, mut auditor_refused) = (0, 0);
    let auditor = Actor {
        role: Role::Auditor,
        person: PersonId(2_900),
    };
    for &(record, member) in &closed {
        let member = Actor {
            role: Role::KeyPersonTeam,
            person: member,
        };
        if probe(
            world,
            member,
            Command::QueryKeyPerson { person: record },
            end,
        )
        .is_some()
        {
            answered += 1;
        }
        if probe(
            world,
            auditor,
            Command::QueryKeyPerson { person: record },
            end,
        )
        .is_none()
        {
            auditor_refused += 1;
        }
    }
    (closed.len() as u64, answered, auditor_refused)
}

/// The access log checked against the teams: allowed reads of a record by anyone but its
/// team's professionals or an auditor, or by its team after it closed.
fn reads_outside_team(
    world: &World,
    entries: &[AccessEntry],
    closed_at: &HashMap<u64, u64>,
) -> u64 {
    let state = world.resource::<KpState>();
    entries
        .iter()
        .filter(|e| e.allowed && e.role != Role::Auditor)
        .filter_map(|e| Some((e, e.person?)))
        .filter(|(e, record)| {
            let team = state
                .by_record
                .get(record)
                .and_then(|&i| state.people[i].team.as_ref());
            let member = team
                .and_then(|t| t.function_of(e.reader))
                .is_some_and(|f| f != Function::Guardian);
            let after_close = closed_at.get(record).is_some_and(|&c| e.at > c);
            !member || after_close
        })
        .count() as u64
}

/// What the report asks the stack after the run, each call audited like any other: closed
/// records checked, the analyst's counts, and the auditor's export of the access log.
struct AfterRun {
    /// Closed records checked, how many answered a former team member, how many refused an
    /// auditor.
    closed: (u64, u64, u64),
    stats_open: Option<u64>,
    entries: Vec<AccessEntry>,
}

fn ask_after_run(world: &mut World, end: u64) -> AfterRun {
    let closed = check_closed(world, end);
    let stats = probe(
        world,
        crate::staff::ANALYST,
        Command::QueryKeyPersonStats,
        end,
    );
    let stats_open = stats.into_iter().flatten().find_map(|o| match o {
        Outcome::KeyPersonStatsAnswered { stats } => Some(stats.open),
        _ => None,
    });
    let auditor = Actor {
        role: Role::Auditor,
        person: PersonId(2_900),
    };
    let entries = probe(world, auditor, Command::ExportKeyPersonAccess, end)
        .into_iter()
        .flatten()
        .find_map(|o| match o {
            Outcome::KeyPersonAccessExported { entries } => Some(entries),
            _ => None,
        })
        .unwrap_or_default();
    AfterRun {
        closed,
        stats_open,
        entries,
    }
}

/// Harm read off the people: what the draws held with nobody acting, what happened, what the
/// teams prevented, and the episodes that began in the run.
struct Harm {
    counterfactual: u64,
    occurred: u64,
    prevented: u64,
    episodes: u64,
}

impl Harm {
    fn count(people: &[super::Person], end: u64) -> Harm {
        let would = |p: &&super::Person| p.course.counterfactual_harm().is_some();
        Harm {
            counterfactual: people.iter().filter(would).count() as u64,
            occurred: people.iter().filter(|p| p.harm_at.is_some()).count() as u64,
            prevented: people
                .iter()
                .filter(would)
                .filter(|p| p.harm_at.is_none())
                .count() as u64,
            episodes: people
                .iter()
                .flat_map(|p| p.course.episodes.iter())
                .filter(|e| e.onset < end)
                .count() as u64,
        }
    }
}

/// Follow-ups made and on time by grade band, and those fallen due in the run and never made:
/// they count against the share, by the grade that set them, so a team too stretched to visit
/// does not look punctual.
struct FollowUps {
    done: u64,
    on_time: u64,
    missed: [u64; 3],
    /// Past due at the end with no escalation (an invariant's count).
    unescalated: u64,
}

impl FollowUps {
    fn count(ledger: &KeyPersonsLedger, end: u64) -> FollowUps {
        let mut missed = [0u64; 3];
        for (record, &(due, _)) in &ledger.due {
            if due < end {
                missed[band(ledger.grade.get(record).copied().unwrap_or(0))] += 1;
            }
        }
        FollowUps {
            done: ledger.follow_ups.iter().map(|f| f.0).sum(),
            on_time: ledger.follow_ups.iter().map(|f| f.1).sum(),
            missed,
            unescalated: ledger
                .due
                .values()
                .filter(|&&(due, escalated)| due + 60_000 < end && !escalated)
                .count() as u64,
        }
    }

    fn on_time_share(&self) -> f64 {
        share(self.on_time, self.done + self.missed.iter().sum::<u64>())
    }

    fn json(&self, ledger: &KeyPersonsLedger) -> serde_json::Value {
        let by_level: BTreeMap<String, serde_json::Value> = BANDS
            .iter()
            .zip(ledger.follow_ups)
            .zip(self.missed)
            .map(|((b, (n, t)), m)| {
                let v = json!({"done": n, "missed": m, "on_time": share(t, n + m)});
                (b.to_string(), v)
            })
            .collect();
        let v = &ledger.visits_by_state;
        json!({
            "done": self.done,
            "missed": self.missed.iter().sum::<u64>(),
            "on_time": self.on_time_share(),
            "by_level": by_level,
            "visits_finding": {"nothing": v[0], "warning_signs": v[1], "relapse": v[2]},
        })
    }
}

/// The loop's invariants, each judged from outside the stack.
fn invariants(
    ledger: &KeyPersonsLedger,
    after: &AfterRun,
    outside: u64,
    follow: &FollowUps,
    open_twin: u64,
) -> Vec<Invariant> {
    let probes_sent: u64 = ledger.probes_sent.iter().sum();
    let look_ups_heard = ledger.look_ups_answered
        + ledger.look_ups_refused
        + ledger.probes_answered
        + ledger.probes_refused
        + 2 * after.closed.0
        + u64::from(after.stats_open.is_some());
    let (checked, answered, auditor_refused) = after.closed;
    let mut out = vec![
        Invariant::check(
            "key_persons: no record read outside its team",
            outside == 0 && ledger.probes_answered == 0,
            format!(
                "{outside} allowed reads in the access log by someone not on the record's team (or after it closed); {} of {probes_sent} out-of-team probes answered",
                ledger.probes_answered
            ),
        ),
        Invariant::check(
            "key_persons: every look-up is in the access log",
            after.entries.len() as u64 == look_ups_heard,
            format!(
                "{} entries in the auditor's export; {look_ups_heard} look-ups answered or refused by the stack before it",
                after.entries.len()
            ),
        ),
        Invariant::check(
            "key_persons: a closed record answers auditors only",
            answered == 0 && auditor_refused == 0,
            format!(
                "of {checked} closed records checked after the run, {answered} answered a former team member and {auditor_refused} refused an auditor"
            ),
        ),
        Invariant::check(
            "key_persons: every due follow-up is done or escalated",
            ledger.late_unescalated == 0 && follow.unescalated == 0,
            format!(
                "{} follow-ups done late with no escalation first; {} past due at the end with none",
                ledger.late_unescalated, follow.unescalated
            ),
        ),
        Invariant::check(
            "key_persons: the analyst's counts agree with the register",
            after.stats_open == Some(open_twin),
            format!(
                "stack says {:?} open records, the twin {open_twin}",
                after.stats_open
            ),
        ),
        Invariant::check(
            "key_persons: no key-persons command refused",
            ledger.refused == 0,
            format!("{} refused: {:?}", ledger.refused, ledger.notes),
        ),
    ];
    // Judged only when sightings led somewhere: with none it could not fail.
    if ledger.care_leads.0 > 0 {
        out.push(Invariant::check(
            "key_persons: no sighting reached police below the policy's grade",
            ledger.care_leads_below_policy == 0,
            format!(
                "{} of {} care leads went to police below grade {}",
                ledger.care_leads_below_policy, ledger.care_leads.0, ledger.policy_from
            ),
        ));
    }
    out
}

/// The section's JSON.
fn section_json(
    ledger: &mut KeyPersonsLedger,
    after: &AfterRun,
    harm: &Harm,
    follow: &FollowUps,
    utilisation: BTreeMap<&'static str, f64>,
) -> serde_json::Value {
    let handoffs = handoffs(ledger);
    let onset = ledger
        .metrics
        .hist("key_persons.onset_to_detection_s")
        .summary();
    let probes_sent: u64 = ledger.probes_sent.iter().sum();
    json!({
        "registered": {"total": ledger.registered.values().sum::<u64>(), "by_category": ledger.registered},
        "teams": {
            "make_up": "community police officer, community mental-health doctor, grid inspector, community social worker (the drug-treatment worker for drug cases), family guardian",
            "members_by_function": ledger.staff_by_function,
        },
        "follow_ups": follow.json(ledger),
        "warning_signs": {
            "episodes": harm.episodes,
            "reported_by_guardian_or_inspector": ledger.warnings_sent,
            "follow_ups_pushed": ledger.pushed,
            "detected": ledger.detections.0,
            "detected_before_relapse": ledger.detections.1,
            "onset_to_detection_s": onset,
            "treated": ledger.treated,
        },
        "regrades": {"up": ledger.regrades.0, "down": ledger.regrades.1},
        "escalations": ledger.escalations,
        "police_notified": ledger.police_notified,
        "incidents": {
            "occurred": harm.occurred,
            "occurred_off_register": ledger.harm.1,
            "counterfactual": harm.counterfactual,
            "prevented": harm.prevented,
            "prevented_share": share(harm.prevented, harm.counterfactual),
        },
        "acute_handoffs": handoffs,
        "care_leads": {
            "sightings": ledger.sightings_sent,
            "alerts": ledger.alerts.0,
            "confirmed": ledger.alerts.1,
            "rejected": ledger.alerts.2,
            "leads": ledger.care_leads.0,
            "to_police": ledger.care_leads.1,
            "police_from_grade": ledger.policy_from,
            "note": if ledger.sightings_on { "key persons pass face points at the scenario's rate; their faces are on the platform's watchlist as key persons" } else { "off: the matcher loop runs in this scenario and owns the watchlist (or the rate is 0)" },
        },
        "utilisation": utilisation,
        "closures": ledger.closures,
        "access": {
            "look_ups": ledger.look_ups_sent,
            "look_ups_refused": ledger.look_ups_refused,
            "probes": {"sent": probes_sent, "refused": ledger.probes_refused, "answered": ledger.probes_answered},
            "audited_entries": after.entries.len(),
            "closed_records_checked": after.closed.0,
        },
        "assumptions": ASSUMPTIONS,
        "refused": ledger.refused,
        "notes": ledger.notes,
    })
}

/// The section of the report: the loop's figures, its invariants and metrics.
pub fn finish(world: &mut World) -> LoopOutcome {
    let config = world.resource::<KeyPersonsConfig>().clone();
    let end = config.end_ms;
    let after = ask_after_run(world, end);
    let mut ledger = std::mem::take(&mut *world.resource_mut::<KeyPersonsLedger>());
    ledger.policy_from = config.loop_.sighting_police_from_risk;
    ledger.sightings_on = config.faces.is_some();
    let outside = reads_outside_team(world, &after.entries, &ledger.closed_at);
    let state = world.resource::<KpState>();
    let harm = Harm::count(&state.people, end);
    let (utilisation, lead_utilisation) = utilisation(&state.staff, end);
    let registered = state.people.iter().filter(|p| p.record.is_some());
    // Open on the platform: registered and not closed there (a close a fault refused stays open).
    let open_twin = registered.clone().filter(|p| !p.record_closed).count() as u64;
    for p in registered {
        *ledger.registered.entry(p.category.as_str()).or_default() += 1;
    }
    let follow = FollowUps::count(&ledger, end);
    let m = &mut ledger.metrics;
    m.set("key_persons.on_time", follow.on_time_share());
    m.set("key_persons.incidents_occurred", harm.occurred as f64);
    m.set("key_persons.prevented", harm.prevented as f64);
    let prevented_share = share(harm.prevented, harm.counterfactual);
    m.set("key_persons.prevented_share", prevented_share);
    m.set("key_persons.utilisation", lead_utilisation);
    m.set("key_persons.probes_answered", ledger.probes_answered as f64);
    m.set("key_persons.rejected", ledger.refused as f64);
    let invariants = invariants(&ledger, &after, outside, &follow, open_twin);
    let section = section_json(&mut ledger, &after, &harm, &follow, utilisation);
    let mut html = html_section(&section);
    html.figures = figures(
        world,
        &ledger,
        [harm.counterfactual, harm.occurred, harm.prevented],
    );
    LoopOutcome {
        section,
        html,
        invariants,
        metrics: std::mem::take(&mut ledger.metrics),
        map: Default::default(),
    }
}

/// Share of each function's key-person time spent on visits, and the doctors' and social
/// workers' together (the headline).
fn utilisation(staff: &super::Staff, end: u64) -> (BTreeMap<&'static str, f64>, f64) {
    let days = end as f64 / super::DAY as f64;
    let mut by: BTreeMap<&'static str, (f64, f64)> = BTreeMap::new();
    // The inspector's part is noticing on patrol, not visits: no visit time to count.
    for m in staff
        .members
        .values()
        .filter(|m| m.function != Function::GridInspector)
    {
        let available = days * 9.0 * 3_600_000.0 * m.share;
        let e = by.entry(m.function.as_str()).or_default();
        e.0 += m.busy_ms as f64;
        e.1 += available;
    }
    let lead = ["doctor", "social_worker"]
        .iter()
        .filter_map(|f| by.get(f))
        .fold((0.0, 0.0), |a, b| (a.0 + b.0, a.1 + b.1));
    let r = |(b, a): (f64, f64)| {
        if a > 0.0 {
            (b / a * 10_000.0).round() / 10_000.0
        } else {
            0.0
        }
    };
    (by.into_iter().map(|(k, v)| (k, r(v))).collect(), r(lead))
}

/// Crises by source, and the 1-3-5 outcome of each tier from the moment the crisis happened and
/// from the moment the platform heard of it.
fn handoffs(ledger: &mut KeyPersonsLedger) -> serde_json::Value {
    let idx = |c: UnitClass| UnitClass::ALL.iter().position(|x| *x == c).expect("class");
    let mut tiers = serde_json::Map::new();
    let mut from_call = serde_json::Map::new();
    for tier in UnitClass::TIERS {
        let limit = (tier.limit_s().expect("a tier") * 1000.0) as u64;
        let (mut n, mut within, mut within_call) = (0u64, 0u64, 0u64);
        for r in ledger.crises.values() {
            n += 1;
            if let Some(t) = r.first_arrival[idx(tier)] {
                within += u64::from(t.saturating_sub(r.occurred) <= limit);
                within_call += u64::from(t.saturating_sub(r.reported.max(r.occurred)) <= limit);
                if tier == UnitClass::Police {
                    ledger
                        .metrics
                        .hist("key_persons.handoff_police_s")
                        .record_ms(t.saturating_sub(r.occurred));
                }
            }
        }
        tiers.insert(
            tier.as_str().into(),
            json!({"crises": n, "within_limit": within, "share": share(within, n)}),
        );
        from_call.insert(
            tier.as_str().into(),
            json!({"crises": n, "within_limit": within_call, "share": share(within_call, n)}),
        );
    }
    let medical: Vec<u64> = ledger
        .crises
        .values()
        .filter_map(|r| Some(r.first_arrival[idx(UnitClass::Medical)]?.saturating_sub(r.occurred)))
        .collect();
    json!({
        "from_team": ledger.crises_sent.0,
        "from_callers": ledger.crises_sent.1,
        "opened": ledger.crises_opened,
        "with_arrivals": ledger.crises.len(),
        "from_occurrence": tiers,
        "from_call": from_call,
        "medical_arrivals": medical.len(),
        "medical_mean_s": if medical.is_empty() { 0.0 } else { medical.iter().sum::<u64>() as f64 / medical.len() as f64 / 1000.0 },
    })
}

/// The figures: where key persons live (per 1,000 residents, grid by grid), harm with nobody
/// acting against harm that happened, and how soon the teams found an episode.
fn figures(world: &World, ledger: &KeyPersonsLedger, harm: [u64; 3]) -> Vec<String> {
    let twin = world.resource::<baoan_world::Twin>();
    let state = world.resource::<KpState>();
    let mut per_grid = vec![0u32; twin.district.grids.len()];
    for p in &state.people {
        per_grid[p.grid as usize] += 1;
    }
    let pop = &twin.population;
    let density = per_grid.iter().enumerate().map(|(g, &n)| {
        let residents = pop.residents_of_grid(g as u32).len();
        (residents > 0).then(|| 1000.0 * f64::from(n) / residents as f64)
    });
    let mut out = Vec::new();
    if let Ok(svg) = crate::grid_map_svg(
        &twin.district,
        "Key persons under management, by grid",
        "per 1,000 residents",
        density,
    ) {
        out.push(svg);
    }
    let bars = [
        ("with nobody acting".to_string(), harm[0] as f64),
        ("happened".to_string(), harm[1] as f64),
        ("prevented".to_string(), harm[2] as f64),
    ];
    if let Ok(svg) =
        baoan_reports::plot::bars_svg("Harm by key persons (same draws)", "people", &bars)
    {
        out.push(svg);
    }
    let mut days: Vec<f64> = ledger
        .detection_ms
        .iter()
        .map(|&ms| ms as f64 / super::DAY as f64)
        .collect();
    days.sort_by(f64::total_cmp);
    let n = days.len() as f64;
    let points = days
        .iter()
        .enumerate()
        .map(|(i, &d)| (d, (i + 1) as f64 / n))
        .collect();
    if !days.is_empty()
        && let Ok(svg) = baoan_reports::plot::cdf_svg(
            "Episode onset to a follow-up that found it",
            "days",
            &[baoan_reports::plot::Series {
                name: "episodes found".into(),
                points,
            }],
            false,
        )
    {
        out.push(svg);
    }
    out
}

fn html_section(s: &serde_json::Value) -> Section {
    let f = |p: &str| s.pointer(p).cloned().unwrap_or_default().to_string();
    let mut rows = Vec::new();
    for (k, p) in [
        ("registered", "/registered/total"),
        ("follow-ups done", "/follow_ups/done"),
        ("follow-ups on time", "/follow_ups/on_time"),
        (
            "episodes (warning signs, then relapse)",
            "/warning_signs/episodes",
        ),
        (
            "episodes detected by a follow-up",
            "/warning_signs/detected",
        ),
        (
            "… before the relapse",
            "/warning_signs/detected_before_relapse",
        ),
        ("re-grades up", "/regrades/up"),
        ("re-grades down", "/regrades/down"),
        ("police told", "/police_notified"),
        ("harm that happened", "/incidents/occurred"),
        (
            "harm with nobody acting (same draws)",
            "/incidents/counterfactual",
        ),
        ("harm prevented", "/incidents/prevented"),
        ("crises handed to command", "/acute_handoffs/opened"),
        ("look-ups by the teams", "/access/look_ups"),
        ("out-of-team probes sent", "/access/probes/sent"),
        ("… refused", "/access/probes/refused"),
        ("access log entries", "/access/audited_entries"),
    ] {
        rows.push(vec![k.to_string(), f(p)]);
    }
    let mut tiers = Vec::new();
    for t in ["volunteer", "auxiliary_police", "police"] {
        tiers.push(vec![
            t.to_string(),
            f(&format!("/acute_handoffs/from_occurrence/{t}/share")),
            f(&format!("/acute_handoffs/from_call/{t}/share")),
        ]);
    }
    Section {
        title: "Key persons: severe mental disorders and drug treatment, by five-in-one teams"
            .into(),
        intro: format!(
            "{} people under management; follow-ups on time {}; harm happened {} times against {} with nobody acting on the same draws ({} prevented). Every look-up is checked against the access log; out-of-team probes refused: {}.",
            f("/registered/total"),
            f("/follow_ups/on_time"),
            f("/incidents/occurred"),
            f("/incidents/counterfactual"),
            f("/incidents/prevented"),
            f("/access/probes/refused"),
        ),
        tables: vec![
            Table {
                caption: "The loop's figures".into(),
                header: vec!["figure".into(), "value".into()],
                rows,
            },
            Table {
                caption: "Crises handed to command: share within the 1-3-5 limits".into(),
                header: vec![
                    "tier".into(),
                    "from occurrence".into(),
                    "from the call".into(),
                ],
                rows: tiers,
            },
        ],
        figures: Vec::new(),
    }
}
