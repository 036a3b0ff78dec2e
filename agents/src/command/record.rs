//! What the command loop measured: for each tier, the time from the call to the first unit on
//! scene and the share within the 1-3-5 limits — by key area and elsewhere, street and hour —
//! call to dispatch, waits for a free unit, escalations, unit-hour utilisation, and a map.

use std::collections::{BTreeMap, HashMap};

use baoan_api::{IncidentId, Outcome, UnitClass, UnitId};
use baoan_reports::html::{Section, Table};
use baoan_reports::plot::{self, Series};
use baoan_reports::{Invariant, Metrics, round3};
use baoan_world::bridge::{FromStack, Refused};
use baoan_world::geography::Street;
use baoan_world::kernel::{SimClock, hour_of_day};
use baoan_world::{District, Twin};
use bevy_ecs::prelude::*;
use serde::Serialize;

use super::{CommandConfig, Emergencies, Placement, TAG_AVAILABLE, TAG_MASK, Unit};
use crate::handoff::{LeadProgress, PoliceLead};

impl Rec {
    fn lead_progress(&self, key: u64) -> LeadProgress {
        LeadProgress {
            key,
            dispatched_at: self.dispatched_at,
            police_arrived_at: self.first_arrival[class_index(UnitClass::Police)],
            first_arrival: self.first_arrival,
        }
    }
}

#[derive(Debug, Clone, Default)]
struct Rec {
    kind: u16,
    occurred_at: u64,
    /// First report to command: a caller's call, an inspector's report, or a lookout.
    called_at: Option<u64>,
    /// A lookout could see it (type and range); one raised it before any caller.
    lookout_view: bool,
    lookout_first: bool,
    /// Department units held for the lead centre since (and whether for a duty leader).
    held_since: Option<(u64, bool)>,
    grid: u32,
    incident: Option<IncidentId>,
    dispatched_at: Option<u64>,
    first_arrival: [Option<u64>; 7],
    outstanding: u32,
    waiting: u32,
    waited: bool,
    escalated: bool,
    closing: bool,
    /// A lead from a confirmed watchlist alert: police only, outside the 1-3-5 statistics.
    lead: bool,
    /// Where it happened, local metres.
    x: f64,
    y: f64,
}

/// Per group (key area or not, street, hour, grid): incidents, and how many made each limit.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Compliance {
    pub incidents: u64,
    pub volunteer: u64,
    pub auxiliary_police: u64,
    pub police: u64,
    pub all_tiers: u64,
}

impl Compliance {
    fn add(&mut self, within: [bool; 3]) {
        self.incidents += 1;
        self.volunteer += within[0] as u64;
        self.auxiliary_police += within[1] as u64;
        self.police += within[2] as u64;
        self.all_tiers += within.iter().all(|w| *w) as u64;
    }
    fn share(&self, n: u64) -> f64 {
        if self.incidents == 0 {
            0.0
        } else {
            round3(n as f64 / self.incidents as f64)
        }
    }
}

#[derive(Resource, Default)]
pub struct CommandLedger {
    recs: HashMap<u64, Rec>,
    by_incident: HashMap<IncidentId, u64>,
    unit_on: HashMap<UnitId, (IncidentId, u64)>,
    pub metrics: Metrics,
    pub occurred: u64,
    pub called: u64,
    pub opened: u64,
    pub closed: u64,
    pub escalated: u64,
    pub waited: u64,
    pub refused: u64,
    pub double_booked: u64,
    pub arrival_before_dispatch: u64,
    pub late_without_escalation: u64,
    pub by_severity: BTreeMap<&'static str, u64>,
    overall: Compliance,
    key_area: Compliance,
    elsewhere: Compliance,
    by_street: Vec<Compliance>,
    by_hour: [Compliance; 24],
    by_grid: Vec<Compliance>,
    /// The same tables timed from the moment each emergency happened (the seed's reading).
    occ_overall: Compliance,
    occ_key_area: Compliance,
    occ_elsewhere: Compliance,
    occ_by_street: Vec<Compliance>,
    occ_by_hour: [Compliance; 24],
    pub lookout_view: u64,
    pub lookout_first: u64,
    pub calls_after_lookout: u64,
    /// Further calls about emergencies already called in (call-takers' time, no incident).
    pub extra_calls: u64,
    /// Where the leader who took each level I/II incident sat.
    pub leader_seats: BTreeMap<&'static str, u64>,
    pub notes: Vec<String>,
    /// Leads from confirmed watchlist alerts, closed: when police were sent and arrived.
    closed_leads: HashMap<u64, (Option<u64>, Option<u64>)>,
    pub leads_opened: u64,
    /// The incidents and the units' trips, for the run's map.
    pub trace: Trace,
}

/// What the run's map replays: each incident where and when command heard of it with how each
/// tier did, and each unit's trip out to a scene and home.
#[derive(Debug, Default)]
pub struct Trace {
    pub incidents: Vec<TracedIncident>,
    pub trips: Vec<TracedTrip>,
}

#[derive(Debug, Clone)]
pub struct TracedIncident {
    /// When command heard of it (else when it happened), ms.
    pub at: u64,
    pub closed_at: Option<u64>,
    pub x: f64,
    pub y: f64,
    pub kind: u16,
    pub outcome: IncidentOutcome,
    /// Each tier's first unit on scene, ms after `at`.
    pub arrival_ms: [Option<u64>; 3],
}

/// An incident's 1-3-5 outcome on the map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncidentOutcome {
    AllWithin,
    PoliceWithinOtherLate,
    PoliceLate,
    OpenAtEnd,
}

impl IncidentOutcome {
    pub const ALL: [IncidentOutcome; 4] = [
        IncidentOutcome::AllWithin,
        IncidentOutcome::PoliceWithinOtherLate,
        IncidentOutcome::PoliceLate,
        IncidentOutcome::OpenAtEnd,
    ];

    pub fn label(self) -> &'static str {
        match self {
            IncidentOutcome::AllWithin => "all three tiers within 1-3-5 minutes",
            IncidentOutcome::PoliceWithinOtherLate => {
                "police within 5 minutes; volunteers or auxiliary police late"
            }
            IncidentOutcome::PoliceLate => "police later than 5 minutes, or none came",
            IncidentOutcome::OpenAtEnd => "still open when the run ended",
        }
    }

    /// Colours for the map (ColorBrewer Set1-like, red for the worst).
    pub fn colour(self) -> &'static str {
        match self {
            IncidentOutcome::AllWithin => "#1a9641",
            IncidentOutcome::PoliceWithinOtherLate => "#fdae61",
            IncidentOutcome::PoliceLate => "#d7191c",
            IncidentOutcome::OpenAtEnd => "#7b3294",
        }
    }
}

#[derive(Debug, Clone)]
pub struct TracedTrip {
    pub class: UnitClass,
    pub from: (f64, f64),
    pub to: (f64, f64),
    pub depart: u64,
    pub arrive: u64,
}

fn class_index(c: UnitClass) -> usize {
    UnitClass::ALL
        .iter()
        .position(|x| *x == c)
        .expect("known class")
}

impl CommandLedger {
    pub fn occurred(&mut self, key: u64, truth: &super::Truth, at: u64) {
        let (kind, severity, grid) = (truth.kind, truth.severity, truth.grid);
        self.occurred += 1;
        *self.by_severity.entry(severity.as_str()).or_default() += 1;
        self.recs.insert(
            key,
            Rec {
                kind,
                occurred_at: at,
                grid,
                x: truth.x,
                y: truth.y,
                ..Rec::default()
            },
        );
    }

    /// Command already knows of it (called, reported or seen from a lookout).
    pub fn reported(&self, key: u64) -> bool {
        self.recs.get(&key).is_some_and(|r| r.called_at.is_some())
    }

    pub fn in_lookout_view(&mut self, key: u64) {
        if let Some(r) = self.recs.get_mut(&key) {
            r.lookout_view = true;
            self.lookout_view += 1;
        }
    }

    pub fn seen_by_lookout(&mut self, key: u64) {
        if let Some(r) = self.recs.get_mut(&key) {
            r.lookout_first = true;
            self.lookout_first += 1;
        }
    }

    /// The caller of an emergency a lookout raised first: the lead the lookout gained.
    pub fn call_after_lookout(&mut self, key: u64, at: u64) {
        self.calls_after_lookout += 1;
        if let Some(seen) = self.recs.get(&key).and_then(|r| r.called_at) {
            self.metrics
                .hist("command.lookout_lead_s")
                .record_ms(at.saturating_sub(seen));
        }
    }

    /// A call-taker answered a call made at `at`.
    pub fn answered(&mut self, at: u64, answered: u64) {
        self.metrics
            .hist("command.call_answer_s")
            .record_ms(answered.saturating_sub(at));
    }

    /// The lead centre's dispatcher entered it on the platform.
    pub fn entered(&mut self, key: u64, at: u64) {
        if let Some(first) = self.recs.get(&key).and_then(|r| r.called_at) {
            self.metrics
                .hist("command.call_to_entry_s")
                .record_ms(at.saturating_sub(first));
        }
    }

    /// Department units held for the lead centre: they keep the incident open like a wait for
    /// a free unit.
    fn held(&mut self, incident: IncidentId, at: u64, leader: bool) {
        if let Some(r) = self.rec(incident) {
            r.waiting += 1;
            r.held_since = Some((at, leader));
        }
    }

    /// The lead centre took command: how long the held units waited, by who decided.
    fn commanded(&mut self, incident: IncidentId, at: u64) {
        let mut wait = None;
        if let Some(r) = self.rec(incident) {
            r.waiting = r.waiting.saturating_sub(1);
            wait = r.held_since.take();
        }
        if let Some((since, leader)) = wait {
            let name = if leader {
                "command.leader_wait_s"
            } else {
                "command.dispatcher_wait_s"
            };
            self.metrics.hist(name).record_ms(at.saturating_sub(since));
        }
    }

    pub fn leader_chosen(&mut self, seat: super::centres::LeaderSeat) {
        *self.leader_seats.entry(seat.as_str()).or_default() += 1;
    }

    pub fn called(&mut self, key: u64, at: u64) {
        self.called += 1;
        if let Some(r) = self.recs.get_mut(&key) {
            r.called_at = Some(at);
        }
    }

    /// A watchlist alert was raised: if reviewers confirm it, the stack opens an incident under
    /// this key, and its police trip is followed like any other (but not counted in 1-3-5).
    pub fn expect_lead(&mut self, key: u64, grid: u32) {
        self.recs.insert(
            key,
            Rec {
                grid,
                lead: true,
                ..Rec::default()
            },
        );
    }

    /// The alert was rejected: no incident will come.
    pub fn drop_lead(&mut self, key: u64) {
        if self
            .recs
            .get(&key)
            .is_some_and(|r| r.lead && r.incident.is_none())
        {
            self.recs.remove(&key);
        }
    }

    /// A lead's dispatch and first police arrival, open or closed.
    pub fn lead_times(&self, key: u64) -> Option<(Option<u64>, Option<u64>)> {
        let police = class_index(UnitClass::Police);
        match self.recs.get(&key) {
            Some(r) if r.lead => Some((r.dispatched_at, r.first_arrival[police])),
            _ => self.closed_leads.get(&key).copied(),
        }
    }

    fn rec(&mut self, incident: IncidentId) -> Option<&mut Rec> {
        let key = self.by_incident.get(&incident)?;
        self.recs.get_mut(key)
    }

    /// A unit reached its incident; when it is the first of its class at a lead, the lead's
    /// progress for the loop that raised it.
    pub fn arrived(
        &mut self,
        incident: IncidentId,
        unit: UnitId,
        class: UnitClass,
        at: u64,
    ) -> Option<LeadProgress> {
        if let Some(&(on, dispatched)) = self.unit_on.get(&unit)
            && on == incident
            && at < dispatched
        {
            self.arrival_before_dispatch += 1;
        }
        let key = *self.by_incident.get(&incident)?;
        let r = self.recs.get_mut(&key)?;
        let slot = &mut r.first_arrival[class_index(class)];
        if slot.is_some() {
            return None;
        }
        *slot = Some(at);
        r.lead.then(|| r.lead_progress(key))
    }

    /// Another loop expects the stack to open an incident under `key` (police needed), or no
    /// longer does.
    pub fn police_lead(&mut self, lead: &PoliceLead) {
        match *lead {
            PoliceLead::Expected { key, grid, .. } => self.expect_lead(key, grid),
            PoliceLead::Withdrawn { key } => self.drop_lead(key),
        }
    }

    pub fn unit_released(&mut self, incident: IncidentId, unit: UnitId) {
        self.unit_on.remove(&unit);
        if let Some(r) = self.rec(incident) {
            r.outstanding = r.outstanding.saturating_sub(1);
        }
    }

    pub fn unit_cleared(&mut self, incident: IncidentId, unit: UnitId) {
        self.unit_released(incident, unit);
    }

    pub fn ready_to_close(&mut self, incident: IncidentId) -> bool {
        self.rec(incident)
            .is_some_and(|r| r.outstanding == 0 && r.waiting == 0 && !r.closing)
    }

    pub fn closing(&mut self, incident: IncidentId) {
        if let Some(r) = self.rec(incident) {
            r.closing = true;
        }
    }

    /// Each tier's first arrival against its limit, timed from `from`, recorded under `prefix`.
    fn judge(&mut self, r: &Rec, from: u64, prefix: &str) -> [bool; 3] {
        let mut within = [false; 3];
        for (i, tier) in UnitClass::TIERS.iter().enumerate() {
            let limit_ms = (tier.limit_s().expect("a tier") * 1000.0) as u64;
            if let Some(at) = r.first_arrival[class_index(*tier)] {
                let ms = at.saturating_sub(from);
                self.metrics
                    .hist(&format!("{prefix}.{}.arrival_s", tier.as_str()))
                    .record_ms(ms);
                within[i] = ms <= limit_ms;
            }
        }
        within
    }

    /// Fold an incident's arrivals into the compliance tables: from the call, and from the
    /// moment it happened.
    fn finalise(&mut self, r: &Rec, street: u32, key_area: bool) {
        let Some(call) = r.called_at else { return };
        let within = self.judge(r, call, "command");
        if !r.escalated {
            self.late_without_escalation += within.iter().filter(|w| !**w).count() as u64;
        }
        for class in [UnitClass::Fire, UnitClass::Medical] {
            if let Some(at) = r.first_arrival[class_index(class)] {
                self.metrics
                    .hist(&format!("command.{}.arrival_s", class.as_str()))
                    .record_ms(at.saturating_sub(call));
            }
        }
        if super::FIRE_TYPES.contains(&r.kind)
            && let Some(first) = r.first_arrival.iter().flatten().min()
        {
            self.metrics
                .hist("command.fire_first_response_s")
                .record_ms(first.saturating_sub(r.occurred_at));
        }
        self.overall.add(within);
        if key_area {
            self.key_area.add(within)
        } else {
            self.elsewhere.add(within)
        }
        self.by_street[street as usize].add(within);
        self.by_hour[hour_of_day(call)].add(within);
        self.by_grid[r.grid as usize].add(within);
        let within = self.judge(r, r.occurred_at, "command.from_occurrence");
        self.occ_overall.add(within);
        if key_area {
            self.occ_key_area.add(within)
        } else {
            self.occ_elsewhere.add(within)
        }
        self.occ_by_street[street as usize].add(within);
        self.occ_by_hour[hour_of_day(r.occurred_at)].add(within);
    }
}

impl CommandLedger {
    /// The incident on the run's map: where and when command heard of it, how each tier did.
    fn trace(&mut self, r: &Rec, closed_at: Option<u64>) {
        let at = r.called_at.unwrap_or(r.occurred_at);
        let arrival_ms =
            UnitClass::TIERS.map(|t| r.first_arrival[class_index(t)].map(|a| a.saturating_sub(at)));
        let within = |i: usize| {
            let limit_ms = (UnitClass::TIERS[i].limit_s().expect("a tier") * 1000.0) as u64;
            arrival_ms[i].is_some_and(|ms| ms <= limit_ms)
        };
        let outcome = match closed_at {
            None => IncidentOutcome::OpenAtEnd,
            Some(_) if !within(2) => IncidentOutcome::PoliceLate,
            Some(_) if within(0) && within(1) => IncidentOutcome::AllWithin,
            Some(_) => IncidentOutcome::PoliceWithinOtherLate,
        };
        self.trace.incidents.push(TracedIncident {
            at,
            closed_at,
            x: r.x,
            y: r.y,
            kind: r.kind,
            outcome,
            arrival_ms,
        });
    }

    /// A unit sets off from `from` at `depart` and reaches `to` at `arrive`.
    pub fn trip(
        &mut self,
        class: UnitClass,
        from: (f64, f64),
        to: (f64, f64),
        depart: u64,
        arrive: u64,
    ) {
        self.trace.trips.push(TracedTrip {
            class,
            from,
            to,
            depart,
            arrive,
        });
    }
}

/// This tick's outcomes of the command loop.
pub fn take_outcomes(
    twin: Res<Twin>,
    placement: Res<Placement>,
    mut ledger: ResMut<CommandLedger>,
    mut em: ResMut<Emergencies>,
    mut outcomes: MessageReader<FromStack>,
    mut refusals: MessageReader<Refused>,
    mut progress: MessageWriter<LeadProgress>,
) {
    let ledger = &mut *ledger;
    if ledger.by_grid.is_empty() {
        ledger.by_grid = vec![Compliance::default(); twin.district.grids.len()];
        ledger.by_street = vec![Compliance::default(); twin.district.streets.len()];
        ledger.occ_by_street = vec![Compliance::default(); twin.district.streets.len()];
    }
    for msg in outcomes.read() {
        match &msg.outcome {
            Outcome::IncidentOpened {
                incident,
                incident_ref,
                ..
            } if ledger
                .by_incident
                .insert(*incident, *incident_ref)
                .is_none() =>
            {
                // Leads the stack opens itself (watchlist alerts, acute cases) sit above CASE_REF_BASE.
                if *incident_ref >= baoan_api::cases::CASE_REF_BASE {
                    ledger.leads_opened += 1;
                } else {
                    ledger.opened += 1;
                }
                em.by_incident.insert(*incident, *incident_ref);
                if let Some(r) = ledger.recs.get_mut(incident_ref) {
                    r.incident = Some(*incident);
                }
            }
            Outcome::UnitDispatched { incident, unit, .. } => {
                let from_queue = msg
                    .client_ref
                    .is_some_and(|c| c & TAG_MASK == TAG_AVAILABLE);
                if let Some(&(other, _)) = ledger.unit_on.get(unit)
                    && other != *incident
                {
                    ledger.double_booked += 1;
                    ledger.notes.push(format!(
                        "unit {} sent to incident {} while on {}",
                        unit.0, incident.0, other.0
                    ));
                }
                ledger.unit_on.insert(*unit, (*incident, msg.at));
                let at = msg.at;
                let mut first = None;
                let key = ledger.by_incident.get(incident).copied();
                if let Some(r) = ledger.rec(*incident) {
                    r.outstanding += 1;
                    if from_queue {
                        r.waiting = r.waiting.saturating_sub(1);
                    }
                    if r.dispatched_at.is_none() {
                        r.dispatched_at = Some(at);
                        first = r.called_at.map(|c| at.saturating_sub(c));
                        if r.lead {
                            progress.write(r.lead_progress(key.expect("found by it")));
                        }
                    }
                }
                if let Some(ms) = first {
                    ledger
                        .metrics
                        .hist("command.call_to_dispatch_s")
                        .record_ms(ms);
                }
            }
            Outcome::IncidentWaiting { incident, .. } => {
                // A wait retried when a unit came free (and declined again) is the same wait.
                let retried = msg
                    .client_ref
                    .is_some_and(|c| c & TAG_MASK == TAG_AVAILABLE);
                if let Some(r) = ledger.rec(*incident) {
                    r.waiting += (!retried) as u32;
                    r.waited = true;
                }
            }
            Outcome::AwaitingCommand {
                incident, leader, ..
            } => ledger.held(*incident, msg.at, *leader),
            Outcome::IncidentCommanded { incident, .. } => ledger.commanded(*incident, msg.at),
            Outcome::IncidentEscalated { incident, .. } => {
                if let Some(r) = ledger.rec(*incident) {
                    r.escalated = true;
                }
            }
            Outcome::IncidentClosed { incident, .. } => {
                let Some(key) = ledger.by_incident.remove(incident) else {
                    continue;
                };
                em.by_incident.remove(incident);
                em.truth.remove(&key);
                if let Some(r) = ledger.recs.remove(&key) {
                    if r.lead {
                        let police = class_index(UnitClass::Police);
                        ledger
                            .closed_leads
                            .insert(key, (r.dispatched_at, r.first_arrival[police]));
                        continue;
                    }
                    ledger.closed += 1;
                    ledger.escalated += r.escalated as u64;
                    ledger.waited += r.waited as u64;
                    let street = twin.district.grids[r.grid as usize].street;
                    ledger.finalise(&r, street, placement.key_area_grid[r.grid as usize]);
                    ledger.trace(&r, Some(msg.at));
                }
            }
            _ => {}
        }
    }
    for r in refusals.read() {
        if matches!(
            r.envelope.command,
            baoan_api::Command::ReportIncident { .. }
                | baoan_api::Command::UnitArrived { .. }
                | baoan_api::Command::UnitCleared { .. }
                | baoan_api::Command::UnitDeclined { .. }
                | baoan_api::Command::UnitAvailable { .. }
                | baoan_api::Command::CloseIncident { .. }
                | baoan_api::Command::TakeCommand { .. }
        ) {
            crate::note_refusal(&mut ledger.refused, &mut ledger.notes, r);
        }
    }
}

pub type CommandOutcome = crate::LoopOutcome;

/// One tier's row of the 1-3-5 table (the section's `tiers`).
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct TierRow {
    pub tier: String,
    pub limit_s: f64,
    pub units: usize,
    pub within_limit_share: f64,
    pub key_area_share: f64,
    pub elsewhere_share: f64,
    pub p50_s: f64,
    pub p90_s: f64,
    pub utilisation: f64,
    /// The same tier timed from the moment the emergency happened.
    #[serde(default)]
    pub from_occurrence: FromOccurrence,
}

/// A tier's figures timed from the emergency, not the call (`TierRow::from_occurrence`).
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize)]
pub struct FromOccurrence {
    pub within_limit_share: f64,
    pub key_area_share: f64,
    pub elsewhere_share: f64,
    pub p50_s: f64,
    pub p90_s: f64,
}

/// The 1-3-5 table of a command section in a report, typed; `None` if the section has none.
pub fn tiers_of(section: &serde_json::Value) -> Option<Vec<TierRow>> {
    serde_json::from_value(section.get("tiers")?.clone()).ok()
}

/// Unit time on incidents per class over the run: busy milliseconds and the number of units.
struct UnitLoad {
    busy: BTreeMap<UnitClass, (u64, usize)>,
    hours: f64,
}

impl UnitLoad {
    fn utilisation(&self, c: UnitClass) -> f64 {
        self.busy.get(&c).map_or(0.0, |(ms, n)| {
            if *n == 0 || self.hours == 0.0 {
                0.0
            } else {
                round3(*ms as f64 / 3_600_000.0 / (*n as f64 * self.hours))
            }
        })
    }
}

pub fn finish(world: &mut World) -> CommandOutcome {
    let now = world.resource::<SimClock>().now_ms;
    let twin = world.resource::<Twin>().clone();
    let placement = world.resource::<Placement>().clone();
    let config = world.resource::<CommandConfig>().clone();
    let lookouts = world
        .get_resource::<crate::video::VideoNetwork>()
        .map_or(0, |v| v.lookouts.len());
    let load = unit_load(world, now);
    let blind = world.resource::<Emergencies>().blind_dispatches;
    let mut ledger = std::mem::take(&mut *world.resource_mut::<CommandLedger>());
    let open = open_incidents(&ledger);
    let open_reasons = judge_open(&mut ledger, &open, now, &twin.district, &placement);
    set_figures(&mut ledger);
    let tiers = tier_rows(&ledger, &placement, &load);
    let mut invariants = invariants(&ledger, &open, &open_reasons);
    invariants.push(Invariant::check(
        "every unit dispatched knows where to go",
        blind == 0,
        format!("{blind} dispatches to an incident whose place the units did not know"),
    ));
    let streets = &twin.district.streets;
    let section = serde_json::json!({
        "placement": {
            "key_areas": placement.key_areas.len(),
            "posts": placement.posts.len(),
            "units": UnitClass::ALL.iter().map(|c| (c.as_str(), placement.count(*c))).collect::<BTreeMap<_, _>>(),
            "disruptions": config.disruptions.len(),
        },
        "counts": counts_section(&ledger, &open_reasons),
        "tiers": tiers,
        "figures": ledger.metrics.figures,
        "latency": ledger.metrics.seconds.iter().map(|(n, h)| (n.clone(), h.summary())).collect::<BTreeMap<_, _>>(),
        "utilisation": UnitClass::ALL.iter().map(|c| (c.as_str(), load.utilisation(*c))).collect::<BTreeMap<_, _>>(),
        "by_street": streets.iter().map(|s| serde_json::json!({"code": s.code, "name_en": s.name_en, "compliance": ledger.by_street[s.id as usize], "from_occurrence": ledger.occ_by_street[s.id as usize]})).collect::<Vec<_>>(),
        "by_hour": ledger.by_hour,
        "by_hour_from_occurrence": ledger.occ_by_hour,
        "centres": centres_section(&config, &ledger),
        "lookouts": lookouts_section(&ledger, lookouts),
        "four_duties": config.four_duties,
        "notes": ledger.notes,
    });
    let html = page(&ledger, &twin.district, &placement, &tiers);
    let metrics = ledger.metrics.clone();
    let map = map_layers(&mut ledger, now);
    *world.resource_mut::<CommandLedger>() = ledger;
    CommandOutcome {
        section,
        html,
        invariants,
        metrics,
        map,
    }
}

/// The command loop on the run's map: 1-3-5 compliance by grid, each incident by its outcome,
/// the units' trips, and the incidents open over time. Takes the trace (it is not needed
/// again).
fn map_layers(ledger: &mut CommandLedger, now: u64) -> baoan_reports::map::MapLayers {
    let trace = std::mem::take(&mut ledger.trace);
    baoan_reports::map::MapLayers {
        metrics: grid_figures(&ledger.by_grid),
        incidents: Some(incidents_layer(&trace.incidents)),
        trips: Some(trips_layer(&trace.trips)),
        series: vec![baoan_reports::map::TimeSeries {
            key: "command.open_incidents".into(),
            label: "emergencies open".into(),
            points: open_over_time(&trace.incidents, now),
        }],
    }
}

/// Emergencies judged by grid, and the shares within each limit.
fn grid_figures(by_grid: &[Compliance]) -> Vec<baoan_reports::map::GridMetric> {
    use baoan_reports::map::GridMetric;
    let source = "the command loop's incidents closed in the run, timed from the call";
    let share = |label: &str, pick: fn(&Compliance) -> u64| GridMetric {
        key: format!("command.{}", label.replace(' ', "_")),
        label: format!("Incidents with {label}"),
        unit: "%".into(),
        source: source.into(),
        higher_is_better: true,
        diverging: false,
        domain: Some([0.0, 100.0]),
        values: by_grid
            .iter()
            .map(|c| (c.incidents > 0).then(|| round3(c.share(pick(c)) * 100.0)))
            .collect(),
    };
    vec![
        GridMetric {
            key: "command.incidents".into(),
            label: "Emergencies judged by 1-3-5".into(),
            unit: "incidents".into(),
            source: source.into(),
            higher_is_better: false,
            diverging: false,
            domain: None,
            values: by_grid.iter().map(|c| Some(c.incidents as f64)).collect(),
        },
        share("all three tiers within 1-3-5", |c| c.all_tiers),
        share("auxiliary police within 3 min", |c| c.auxiliary_police),
        share("police within 5 min", |c| c.police),
    ]
}

/// Each incident, column by column: when, where, its outcome and type, each tier's arrival.
fn incidents_layer(traced: &[TracedIncident]) -> baoan_reports::map::Incidents {
    let mut incidents = baoan_reports::map::Incidents {
        outcomes: IncidentOutcome::ALL
            .iter()
            .map(|o| o.label().into())
            .collect(),
        colours: IncidentOutcome::ALL
            .iter()
            .map(|o| o.colour().into())
            .collect(),
        tiers: UnitClass::TIERS
            .iter()
            .map(|t| t.as_str().replace('_', " "))
            .collect(),
        ..Default::default()
    };
    let mut kinds: Vec<u16> = traced.iter().map(|i| i.kind).collect();
    kinds.sort_unstable();
    kinds.dedup();
    incidents.kinds = kinds
        .iter()
        .map(|&k| {
            baoan_api::emergency::emergency_type(k).map_or_else(
                || format!("emergency type {k}"),
                |t| format!("{} {}", t.name_zh, t.name_en),
            )
        })
        .collect();
    for i in traced {
        incidents.t.push((i.at / 1000) as u32);
        incidents.x.push(i.x.round() as i32);
        incidents.y.push(i.y.round() as i32);
        let outcome = IncidentOutcome::ALL.iter().position(|o| *o == i.outcome);
        incidents.outcome.push(outcome.expect("listed") as u8);
        incidents
            .kind
            .push(kinds.binary_search(&i.kind).expect("listed") as u16);
        // Rounded up, so a tier within its limit in milliseconds is within it in seconds.
        let arrival = i
            .arrival_ms
            .iter()
            .map(|a| a.map(|ms| ms.div_ceil(1000) as u32));
        incidents.arrival_s.push(arrival.collect());
    }
    incidents
}

/// Emergencies open over the run, `[seconds, open]` at each call and close (those still open
/// close at `now`).
fn open_over_time(traced: &[TracedIncident], now: u64) -> Vec<[f64; 2]> {
    let mut changes = Vec::with_capacity(traced.len() * 2);
    for i in traced {
        changes.push((i.at, 1i64));
        changes.push((i.closed_at.unwrap_or(now), -1));
    }
    changes.sort_unstable();
    let mut open = 0i64;
    let mut points = vec![[0.0, 0.0]];
    for (at, change) in changes {
        open += change;
        points.push([(at / 1000) as f64, open as f64]);
    }
    points
}

/// The units' trips, column by column: class, from and to, set off and arrive.
fn trips_layer(traced: &[TracedTrip]) -> baoan_reports::map::Trips {
    let mut trips = baoan_reports::map::Trips {
        classes: UnitClass::ALL
            .iter()
            .map(|c| c.as_str().replace('_', " "))
            .collect(),
        colours: UnitClass::ALL
            .iter()
            .map(|c| unit_colour(*c).into())
            .collect(),
        ..Default::default()
    };
    let m = |v: f64| v.round() as i32;
    for t in traced {
        trips.class.push(class_index(t.class) as u8);
        trips
            .path
            .push([m(t.from.0), m(t.from.1), m(t.to.0), m(t.to.1)]);
        trips
            .t
            .push([(t.depart / 1000) as u32, (t.arrive / 1000) as u32]);
    }
    trips
}

/// A unit class's colour on the map (ColorBrewer Dark2).
pub fn unit_colour(c: UnitClass) -> &'static str {
    match c {
        UnitClass::Volunteer => "#1b9e77",
        UnitClass::AuxiliaryPolice => "#d95f02",
        UnitClass::Police => "#1f3fbf",
        UnitClass::Fire => "#e7298a",
        UnitClass::Medical => "#66a61e",
        UnitClass::Hazmat => "#e6ab02",
        UnitClass::Flood => "#a6761d",
    }
}

/// Who took the calls and decided: the staffing, and where the leaders who took command sat.
fn centres_section(config: &CommandConfig, ledger: &CommandLedger) -> serde_json::Value {
    let c = &config.centres;
    serde_json::json!({
        "enabled": c.enabled,
        "call_takers_day": c.call_takers_day,
        "call_takers_night": c.call_takers_night,
        "take_call_median_s": c.take_call.ms() as f64 / 1000.0,
        "dispatch_median_s": c.dispatch.ms() as f64 / 1000.0,
        "departments_wait": c.departments_wait,
        "wrap_up_median_s": c.wrap_up.ms() as f64 / 1000.0,
        "leaders_anywhere": c.leaders_anywhere,
        "leaders_by_seat": ledger.leader_seats,
        "further_calls": ledger.extra_calls,
    })
}

/// What the lookouts saw: emergencies in their view, those they raised first, and the lead.
fn lookouts_section(ledger: &CommandLedger, lookouts: usize) -> serde_json::Value {
    let lead = ledger
        .metrics
        .seconds
        .get("command.lookout_lead_s")
        .map(|h| h.summary());
    serde_json::json!({
        "lookouts": lookouts,
        "in_view": ledger.lookout_view,
        "first_seen_by_lookout": ledger.lookout_first,
        "calls_after_lookout": ledger.calls_after_lookout,
        "lookout_lead_s": lead,
    })
}

/// Each class's time on incidents, counting an incident still in hand up to now.
fn unit_load(world: &World, now: u64) -> UnitLoad {
    let mut busy: BTreeMap<UnitClass, (u64, usize)> = BTreeMap::new();
    for e in world.iter_entities() {
        if let Some(u) = e.get::<Unit>() {
            let extra = u.busy_since.map_or(0, |s| now.saturating_sub(s));
            let b = busy.entry(u.spec.class).or_default();
            b.0 += u.busy_ms + extra;
            b.1 += 1;
        }
    }
    UnitLoad {
        busy,
        hours: now as f64 / 3_600_000.0,
    }
}

/// The emergencies still open, by key. Watchlist leads are the matcher loop's to report; they
/// are not 1-3-5 emergencies.
fn open_incidents(ledger: &CommandLedger) -> Vec<(u64, Rec)> {
    let mut open: Vec<(u64, Rec)> = ledger
        .recs
        .iter()
        .filter(|(_, r)| !r.lead)
        .map(|(k, r)| (*k, r.clone()))
        .collect();
    open.sort_by_key(|(k, _)| *k);
    open
}

/// Incidents still open: their arrivals so far count too, so a long wait is not hidden by the
/// run ending (those called in the last ten minutes are too young to judge). Returns how many
/// are open for each reason.
fn judge_open(
    ledger: &mut CommandLedger,
    open: &[(u64, Rec)],
    now: u64,
    district: &District,
    placement: &Placement,
) -> BTreeMap<String, u64> {
    let mut open_reasons: BTreeMap<String, u64> = BTreeMap::new();
    for (_, r) in open {
        *open_reasons.entry(open_reason(r).to_string()).or_default() += 1;
        ledger.trace(r, None);
        if r.called_at
            .is_some_and(|c| now.saturating_sub(c) >= 600_000)
        {
            let street = district.grids[r.grid as usize].street;
            ledger.escalated += r.escalated as u64;
            ledger.waited += r.waited as u64;
            ledger.finalise(r, street, placement.key_area_grid[r.grid as usize]);
        }
    }
    open_reasons
}

fn open_reason(r: &Rec) -> &'static str {
    if r.called_at.is_none() {
        "not yet called in"
    } else if r.incident.is_none() {
        "in a centre's queue, or not taken on by the stack"
    } else if r.held_since.is_some() {
        "awaiting the lead centre's command"
    } else if r.waiting > 0 {
        "waiting for a free unit"
    } else if r.outstanding > 0 {
        "units still on the way or on scene"
    } else {
        "closing"
    }
}

fn share_of(n: u64, of: u64) -> f64 {
    if of == 0 {
        0.0
    } else {
        round3(n as f64 / of as f64)
    }
}

/// Every declared command latency (empty if nothing was measured), and the loop's shares.
fn set_figures(ledger: &mut CommandLedger) {
    let judged = ledger.overall.incidents;
    let m = &mut ledger.metrics;
    for def in baoan_scenarios::METRICS.iter().filter(|d| {
        d.name.starts_with("command.") && d.kind == baoan_scenarios::MetricKind::Seconds
    }) {
        m.hist(def.name);
    }
    let o = ledger.overall;
    let k = ledger.key_area;
    let figures = [
        ("command.volunteer.within_limit_share", o.share(o.volunteer)),
        (
            "command.auxiliary_police.within_limit_share",
            o.share(o.auxiliary_police),
        ),
        ("command.police.within_limit_share", o.share(o.police)),
        (
            "command.key_area.volunteer.within_limit_share",
            k.share(k.volunteer),
        ),
        (
            "command.key_area.auxiliary_police.within_limit_share",
            k.share(k.auxiliary_police),
        ),
        (
            "command.key_area.police.within_limit_share",
            k.share(k.police),
        ),
        ("command.all_tiers_within_limit_share", o.share(o.all_tiers)),
        (
            "command.lookout_first_share",
            share_of(ledger.lookout_first, ledger.lookout_view),
        ),
        (
            "command.escalated_share",
            share_of(ledger.escalated, judged),
        ),
        ("command.waited_share", share_of(ledger.waited, judged)),
        (
            "command.closed_share",
            share_of(ledger.closed, ledger.opened),
        ),
        ("command.rejected", ledger.refused as f64),
    ];
    for (name, v) in figures {
        m.set(name, v);
    }
    let (o, k) = (ledger.occ_overall, ledger.occ_key_area);
    for (tier, all, key) in [
        ("volunteer", o.volunteer, k.volunteer),
        ("auxiliary_police", o.auxiliary_police, k.auxiliary_police),
        ("police", o.police, k.police),
    ] {
        m.set(
            &format!("command.from_occurrence.{tier}.within_limit_share"),
            o.share(all),
        );
        m.set(
            &format!("command.from_occurrence.key_area.{tier}.within_limit_share"),
            k.share(key),
        );
    }
}

/// Each tier's limit, units, shares within the limit (all, key areas, elsewhere), times and
/// utilisation.
fn tier_rows(ledger: &CommandLedger, placement: &Placement, load: &UnitLoad) -> Vec<TierRow> {
    let (o, k, e) = (ledger.overall, ledger.key_area, ledger.elsewhere);
    let (oo, ok, oe) = (
        ledger.occ_overall,
        ledger.occ_key_area,
        ledger.occ_elsewhere,
    );
    UnitClass::TIERS
        .iter()
        .map(|t| {
            let summary = |prefix: &str| {
                ledger
                    .metrics
                    .seconds
                    .get(&format!("{prefix}.{}.arrival_s", t.as_str()))
                    .map(|h| h.summary())
            };
            let s = summary("command");
            let so = summary("command.from_occurrence");
            let pick = |c: &Compliance| match t {
                UnitClass::Volunteer => c.share(c.volunteer),
                UnitClass::AuxiliaryPolice => c.share(c.auxiliary_police),
                _ => c.share(c.police),
            };
            TierRow {
                tier: t.as_str().to_string(),
                limit_s: t.limit_s().expect("tier"),
                units: placement.count(*t),
                within_limit_share: pick(&o),
                key_area_share: pick(&k),
                elsewhere_share: pick(&e),
                p50_s: s.as_ref().map_or(0.0, |s| s.p50_s),
                p90_s: s.as_ref().map_or(0.0, |s| s.p90_s),
                utilisation: load.utilisation(*t),
                from_occurrence: FromOccurrence {
                    within_limit_share: pick(&oo),
                    key_area_share: pick(&ok),
                    elsewhere_share: pick(&oe),
                    p50_s: so.as_ref().map_or(0.0, |s| s.p50_s),
                    p90_s: so.as_ref().map_or(0.0, |s| s.p90_s),
                },
            }
        })
        .collect()
}

fn invariants(
    ledger: &CommandLedger,
    open: &[(u64, Rec)],
    open_reasons: &BTreeMap<String, u64>,
) -> Vec<Invariant> {
    vec![
        Invariant::check(
            "every emergency is called in, taken on, or pending",
            ledger.occurred >= ledger.called
                && ledger.called
                    == ledger.opened
                        + ledger
                            .recs
                            .values()
                            .filter(|r| r.called_at.is_some() && r.incident.is_none())
                            .count() as u64,
            format!(
                "{} occurred, {} called, {} taken on, {} refused",
                ledger.occurred, ledger.called, ledger.opened, ledger.refused
            ),
        ),
        Invariant::check(
            "every incident is closed or open with a reason",
            ledger.opened
                == ledger.closed + open.iter().filter(|(_, r)| r.incident.is_some()).count() as u64,
            format!(
                "{} taken on, {} closed, open: {:?}",
                ledger.opened, ledger.closed, open_reasons
            ),
        ),
        Invariant::check(
            "no unit is on two incidents at once",
            ledger.double_booked == 0,
            format!("{} double bookings", ledger.double_booked),
        ),
        Invariant::check(
            "no arrival precedes its dispatch",
            ledger.arrival_before_dispatch == 0,
            format!(
                "{} arrivals before dispatch",
                ledger.arrival_before_dispatch
            ),
        ),
    ]
}

fn counts_section(
    ledger: &CommandLedger,
    open_reasons: &BTreeMap<String, u64>,
) -> serde_json::Value {
    serde_json::json!({
        "occurred": ledger.occurred,
        "called": ledger.called,
        "taken_on": ledger.opened,
        "closed": ledger.closed,
        "judged": ledger.overall.incidents,
        "escalated": ledger.escalated,
        "waited_for_a_free_unit": ledger.waited,
        "late_tier_without_escalation": ledger.late_without_escalation,
        "refused": ledger.refused,
        "watchlist_leads_taken_on": ledger.leads_opened,
        "watchlist_leads_closed": ledger.closed_leads.len(),
        "by_severity": ledger.by_severity,
        "open_at_end": open_reasons,
    })
}

/// The loop's part of the page: a summary, the tiers and streets, and the plots.
fn page(
    ledger: &CommandLedger,
    district: &District,
    placement: &Placement,
    tiers: &[TierRow],
) -> Section {
    let o = ledger.overall;
    let mut html = Section {
        title: "Command and the 1-3-5 rule".into(),
        intro: format!(
            "{} emergencies occurred, {} were called in, {} closed; {} key areas with {} posts; {} volunteers. All three tiers within their limits for {:.1}% of incidents; {} escalated, {} waited for a free unit.",
            ledger.occurred,
            ledger.called,
            ledger.closed,
            placement.key_areas.len(),
            placement.posts.len(),
            placement.count(UnitClass::Volunteer),
            o.share(o.all_tiers) * 100.0,
            ledger.escalated,
            ledger.waited
        ),
        ..Section::default()
    };
    html.tables.push(tier_table(tiers));
    html.tables.push(street_table(ledger, &district.streets));
    for f in figures(ledger, district) {
        match f {
            Ok(svg) => html.figures.push(svg),
            Err(e) => html.intro.push_str(&format!(" (a plot failed: {e})")),
        }
    }
    html
}

fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

fn tier_table(tiers: &[TierRow]) -> Table {
    Table {
        caption: "Tiers of the 1-3-5 rule, from the call and from the moment it happened".into(),
        header: [
            "tier",
            "limit",
            "units",
            "within limit",
            "key areas",
            "elsewhere",
            "p50",
            "p90",
            "within, from occurrence",
            "key areas, from occurrence",
            "p50, from occurrence",
            "utilisation",
        ]
        .map(String::from)
        .to_vec(),
        rows: tiers
            .iter()
            .map(|t| {
                let o = &t.from_occurrence;
                vec![
                    t.tier.to_string(),
                    format!("{:.0} min", t.limit_s / 60.0),
                    t.units.to_string(),
                    pct(t.within_limit_share),
                    pct(t.key_area_share),
                    pct(t.elsewhere_share),
                    format!("{:.0} s", t.p50_s),
                    format!("{:.0} s", t.p90_s),
                    pct(o.within_limit_share),
                    pct(o.key_area_share),
                    format!("{:.0} s", o.p50_s),
                    pct(t.utilisation),
                ]
            })
            .collect(),
    }
}

fn street_table(ledger: &CommandLedger, streets: &[Street]) -> Table {
    Table {
        caption: "By street".into(),
        header: [
            "street",
            "incidents",
            "volunteer ≤ 1 min",
            "auxiliary ≤ 3 min",
            "police ≤ 5 min",
            "all three",
        ]
        .map(String::from)
        .to_vec(),
        rows: streets
            .iter()
            .map(|s| {
                let c = ledger.by_street[s.id as usize];
                vec![
                    format!("{} {}", s.name_zh, s.name_en),
                    c.incidents.to_string(),
                    pct(c.share(c.volunteer)),
                    pct(c.share(c.auxiliary_police)),
                    pct(c.share(c.police)),
                    pct(c.share(c.all_tiers)),
                ]
            })
            .collect(),
    }
}

/// The plots: call → first unit per tier, compliance by hour of the call, and by grid.
fn figures(ledger: &CommandLedger, district: &District) -> [Result<String, plot::PlotError>; 3] {
    let cdf: Vec<Series> = UnitClass::TIERS
        .iter()
        .chain([UnitClass::Fire, UnitClass::Medical].iter())
        .filter_map(|t| {
            ledger
                .metrics
                .seconds
                .get(&format!("command.{}.arrival_s", t.as_str()))
                .map(|h| (t, h))
        })
        .map(|(t, h)| Series {
            name: t.as_str().into(),
            points: h.cdf(400).into_iter().map(|(x, y)| (x / 60.0, y)).collect(),
        })
        .collect();
    let hourly: Vec<(String, f64)> = ledger
        .by_hour
        .iter()
        .enumerate()
        .map(|(h, c)| (format!("{h:02}:00"), c.share(c.all_tiers) * 100.0))
        .collect();
    [
        plot::cdf_svg("Call → first unit on scene, by tier", "minutes", &cdf, true),
        plot::bars_svg(
            "All three tiers within 1-3-5, by hour of the call",
            "% of incidents",
            &hourly,
        ),
        crate::grid_map_svg(
            district,
            "1-3-5 compliance by grid (all three tiers)",
            "% of incidents",
            ledger
                .by_grid
                .iter()
                .map(|c| (c.incidents > 0).then(|| c.share(c.all_tiers) * 100.0)),
        ),
    ]
}
