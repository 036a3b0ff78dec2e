//! The district's joint emergency command ("1+10+N+124"): it takes incidents of the 32 types
//! from callers, inspectors and cameras, picks the lead centre by type and severity, names the
//! leaders on duty, dispatches the nearest free unit of each tier of the "1-3-5" rule (volunteer,
//! auxiliary police, police) and the department units the type needs, re-dispatches when a unit
//! declines, escalates when a tier cannot make its limit, tracks every unit's status, and closes.
//!
//! Nearest-free queries go through an R-tree per unit class. Like every module of the stack it
//! never reads a clock and depends only on `baoan-api`.

pub mod roads;

use std::collections::{BTreeSet, HashMap};

use baoan_api::emergency::{self, Owner, Severity};
use baoan_api::matcher::{LEAD_REF_BASE, WATCHLIST_LEAD};
use baoan_api::{
    AlertId, ApiError, Centre, Command, CommandDirectory, Envelope, IncidentId, Millis, Outcome,
    PersonId, UnitClass, UnitEntry, UnitId,
};
use rstar::RTree;
use rstar::primitives::GeomWithData;

/// Bounds, so that a runaway client is an error rather than unbounded memory.
pub const MAX_INCIDENTS: usize = 50_000_000;
pub const MAX_UNITS: usize = 2_000_000;
pub use baoan_api::units::DUTY_SHIFT_MS;

/// The stack's own estimate of how a class moves: speed over the ground (after detours) and the
/// time to get going. The twin's travel model is its own; the report compares the two.
pub fn pace(class: UnitClass) -> (f64, f64) {
    match class {
        UnitClass::Volunteer => (1.1, 20.0),
        UnitClass::AuxiliaryPolice => (3.8, 30.0),
        UnitClass::Police => (6.5, 60.0),
        UnitClass::Fire => (7.0, 90.0),
        UnitClass::Medical => (7.0, 60.0),
        UnitClass::Hazmat => (6.0, 120.0),
        UnitClass::Flood => (5.0, 120.0),
    }
}

/// 四员联动: fires (first fire response) and traffic accidents (traffic control) take a second
/// auxiliary police unit from the posts' duties.
pub fn a_four_duty_type(emergency_type: u16) -> bool {
    emergency::FIRE_TYPES.contains(&emergency_type) || emergency_type == emergency::TRAFFIC_ACCIDENT
}

/// Streets against the straight line, when no road network is loaded (assumed).
pub const STRAIGHT_LINE_DETOUR: f64 = 1.3;

pub fn eta_s(class: UnitClass, distance_m: f64) -> f64 {
    let (speed, turnout) = pace(class);
    turnout + distance_m / speed
}

pub use baoan_api::emergency::lead_centre;

/// One level up: community → street, street or department → district.
pub fn escalate(centre: Centre, street: u32) -> Centre {
    match centre {
        Centre::Community(_) => Centre::Street(street),
        Centre::Street(_) | Centre::Department(_) | Centre::District => Centre::District,
    }
}

/// What an incident needs: one of each tier (two police for I and II), and the department units
/// its type calls for (two fire crews for I and II).
pub fn needs(emergency_type: u16, severity: Severity) -> Vec<UnitClass> {
    if emergency_type == baoan_api::matcher::WATCHLIST_LEAD
        || emergency_type == baoan_api::cases::ACUTE_DISPUTE
    {
        // A confirmed watchlist alert (to find and check the person) or an acute dispute (to
        // the household): the nearest police unit.
        return vec![UnitClass::Police];
    }
    if emergency_type == baoan_api::KEY_PERSON_CRISIS {
        // A key person in crisis: the 1-3-5 tiers and an ambulance to take them to hospital.
        return vec![
            UnitClass::Volunteer,
            UnitClass::AuxiliaryPolice,
            UnitClass::Police,
            UnitClass::Medical,
        ];
    }
    let serious = matches!(severity, Severity::I | Severity::II);
    let mut out = vec![
        UnitClass::Volunteer,
        UnitClass::AuxiliaryPolice,
        UnitClass::Police,
    ];
    if serious {
        out.push(UnitClass::Police);
    }
    if let Some(t) = emergency::emergency_type(emergency_type) {
        for &k in &t.needs {
            let class = UnitClass::of_kind(k);
            out.push(class);
            if serious && class == UnitClass::Fire {
                out.push(class);
            }
        }
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnitStatus {
    OffDuty,
    Available,
    Dispatched(IncidentId),
    OnScene(IncidentId),
    /// Cleared from a scene, not yet reported free.
    Returning,
}

#[derive(Debug, Clone)]
pub struct UnitState {
    pub entry: UnitEntry,
    pub status: UnitStatus,
    pub x_m: f64,
    pub y_m: f64,
    pub grid: u32,
}

#[derive(Debug, Clone)]
pub struct Assignment {
    pub unit: UnitId,
    pub class: UnitClass,
    pub dispatched_at: Millis,
    pub eta_s: f64,
    pub arrived_at: Option<Millis>,
    pub cleared: bool,
}

#[derive(Debug, Clone)]
pub struct Incident {
    pub id: IncidentId,
    pub incident_ref: u64,
    pub emergency_type: u16,
    pub severity: Severity,
    pub grid: u32,
    pub x_m: f64,
    pub y_m: f64,
    pub reported_at: Millis,
    pub first_lead: Centre,
    pub lead: Centre,
    pub escalated: bool,
    pub assignments: Vec<Assignment>,
    /// Classes still without a unit.
    pub waiting: Vec<UnitClass>,
    pub declined: Vec<UnitId>,
    /// Department units held for a duty leader's decision (level I and II).
    pub held: Vec<UnitClass>,
    /// The leader who took command, when one did.
    pub commanded_by: Option<PersonId>,
    pub closed_at: Option<Millis>,
    /// Why it is open, for the report at the end of a run.
    pub open_reason: String,
}

impl Incident {
    pub fn is_open(&self) -> bool {
        self.closed_at.is_none()
    }
}

type Point = GeomWithData<[f64; 2], u32>;

struct Dir {
    grids: Vec<(u32, u32)>,
    leaders: HashMap<Centre, Vec<PersonId>>,
    departments_wait: bool,
    four_duties: bool,
    unit_index: HashMap<UnitId, u32>,
}

#[derive(Default)]
pub struct CommandService {
    dir: Option<Dir>,
    /// The road network arrival estimates follow, when one was loaded.
    roads: Option<roads::Roads>,
    units: Vec<UnitState>,
    free: HashMap<UnitClass, RTree<Point>>,
    incidents: Vec<Incident>,
    by_ref: HashMap<u64, IncidentId>,
    /// Incidents waiting for a unit of a class, oldest first.
    /// The third part, a running number, tells apart two waits of one incident for the same
    /// class (two police), however often a wait is retried.
    queue: HashMap<UnitClass, BTreeSet<(Millis, IncidentId, u64)>>,
    queue_seq: u64,
    pub open: u64,
    pub closed: u64,
}

fn invalid(field: impl Into<String>, problem: impl Into<String>) -> ApiError {
    ApiError::Invalid {
        field: field.into(),
        problem: problem.into(),
    }
}

fn conflict(incident: IncidentId, problem: impl Into<String>) -> ApiError {
    ApiError::Conflict {
        task: incident.0,
        problem: problem.into(),
    }
}

impl CommandService {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn incidents(&self) -> &[Incident] {
        &self.incidents
    }

    pub fn units(&self) -> &[UnitState] {
        &self.units
    }

    /// Units of a class free to be dispatched now.
    pub fn free_count(&self, class: UnitClass) -> usize {
        self.free.get(&class).map_or(0, |t| t.size())
    }

    pub fn incident(&self, id: IncidentId) -> Option<&Incident> {
        id.0.checked_sub(1)
            .and_then(|i| self.incidents.get(i as usize))
    }

    /// Carry one command of the command module. A refused command changes nothing.
    pub fn handle(&mut self, env: &Envelope) -> Result<Vec<Outcome>, ApiError> {
        baoan_api::authorize(&env.actor, &env.command)?;
        let now = env.sent_at;
        match &env.command {
            Command::LoadCommandDirectory { directory } => self.load(directory),
            Command::LoadRoadNetwork { network } => self.load_roads(network),
            Command::ReportIncident {
                incident_ref,
                emergency_type,
                severity,
                grid,
                x_m,
                y_m,
                observed_at,
                ..
            } => self.report(
                now,
                *incident_ref,
                *emergency_type,
                *severity,
                *grid,
                *x_m,
                *y_m,
                *observed_at,
                false,
            ),
            Command::UnitDeclined { incident, unit } => self.declined(now, *incident, *unit),
            Command::UnitArrived { incident, unit } => self.arrived(now, *incident, *unit),
            Command::UnitCleared { incident, unit } => self.cleared(*incident, *unit),
            Command::UnitAvailable {
                unit,
                available,
                x_m,
                y_m,
                grid,
            } => self.available(now, *unit, *available, *x_m, *y_m, *grid),
            Command::CloseIncident { incident } => self.close(now, *incident),
            Command::TakeCommand { incident } => self.take_command(now, env.actor, *incident),
            other => Err(invalid(
                "type",
                format!("{} is not a command-module command", other.kind()),
            )),
        }
    }

    fn dir(&self) -> Result<&Dir, ApiError> {
        self.dir.as_ref().ok_or_else(|| ApiError::Conflict {
            task: 0,
            problem: "no command directory loaded yet".into(),
        })
    }

    fn load_roads(&mut self, network: &baoan_api::RoadNetwork) -> Result<Vec<Outcome>, ApiError> {
        if !self.incidents.is_empty() {
            return Err(ApiError::Conflict {
                task: 0,
                problem: "the road network cannot be replaced once incidents exist".into(),
            });
        }
        let r = roads::Roads::new(network)?;
        let out = Outcome::RoadNetworkLoaded {
            nodes: r.nodes() as u32,
            arcs: r.arcs() as u32,
        };
        self.roads = Some(r);
        Ok(vec![out])
    }

    /// Metres a unit drives from `from` to `to`: on the roads when a network is loaded and
    /// joins them, else the straight line with a detour factor.
    fn travel_m(&self, from: [f64; 2], to: [f64; 2]) -> f64 {
        let straight = ((from[0] - to[0]).powi(2) + (from[1] - to[1]).powi(2)).sqrt();
        self.roads
            .as_ref()
            .and_then(|r| r.distance_m(from, to))
            .unwrap_or(straight * STRAIGHT_LINE_DETOUR)
    }

    fn load(&mut self, d: &CommandDirectory) -> Result<Vec<Outcome>, ApiError> {
        if !self.incidents.is_empty() {
            return Err(ApiError::Conflict {
                task: 0,
                problem: "the command directory cannot be replaced once incidents exist".into(),
            });
        }
        if d.grids.is_empty() {
            return Err(invalid("directory.grids", "expected at least one grid"));
        }
        if d.units.len() > MAX_UNITS {
            return Err(invalid(
                "directory.units",
                format!("at most {MAX_UNITS} units, got {}", d.units.len()),
            ));
        }
        let mut unit_index = HashMap::new();
        for (i, u) in d.units.iter().enumerate() {
            if unit_index.insert(u.unit, i as u32).is_some() {
                return Err(invalid(
                    format!("directory.units[{i}].unit"),
                    format!("unit {} is listed twice", u.unit.0),
                ));
            }
            if u.grid as usize >= d.grids.len() || !u.x_m.is_finite() || !u.y_m.is_finite() {
                return Err(invalid(
                    format!("directory.units[{i}]"),
                    "expected a known grid and finite coordinates",
                ));
            }
        }
        let mut leaders: HashMap<Centre, Vec<PersonId>> = HashMap::new();
        for l in &d.leaders {
            leaders.entry(l.centre).or_default().push(l.person);
        }
        for list in leaders.values_mut() {
            list.sort();
        }
        self.units = d
            .units
            .iter()
            .map(|u| UnitState {
                entry: u.clone(),
                status: UnitStatus::OffDuty,
                x_m: u.x_m,
                y_m: u.y_m,
                grid: u.grid,
            })
            .collect();
        let mut free: HashMap<UnitClass, Vec<Point>> = HashMap::new();
        for (i, u) in self.units.iter_mut().enumerate() {
            if u.entry.on_duty {
                u.status = UnitStatus::Available;
                free.entry(u.entry.class)
                    .or_default()
                    .push(GeomWithData::new([u.x_m, u.y_m], i as u32));
            }
        }
        self.free = UnitClass::ALL
            .iter()
            .map(|c| (*c, RTree::bulk_load(free.remove(c).unwrap_or_default())))
            .collect();
        self.dir = Some(Dir {
            grids: d.grids.clone(),
            leaders,
            departments_wait: d.departments_wait,
            four_duties: d.four_duties,
            unit_index,
        });
        Ok(vec![Outcome::CommandDirectoryLoaded {
            units: d.units.len() as u32,
            leaders: d.leaders.len() as u32,
        }])
    }

    fn unit(&self, unit: UnitId) -> Result<usize, ApiError> {
        self.dir()?
            .unit_index
            .get(&unit)
            .map(|&i| i as usize)
            .ok_or_else(|| ApiError::NotFound {
                what: "unit".into(),
                id: unit.0.to_string(),
            })
    }

    fn incident_index(&self, id: IncidentId) -> Result<usize, ApiError> {
        match self.incident(id) {
            Some(_) => Ok((id.0 - 1) as usize),
            None => Err(ApiError::NotFound {
                what: "incident".into(),
                id: id.0.to_string(),
            }),
        }
    }

    /// The two leaders on duty at a district or street centre now.
    pub fn duty(&self, centre: Centre, now: Millis) -> Vec<PersonId> {
        let Some(list) = self.dir.as_ref().and_then(|d| d.leaders.get(&centre)) else {
            return vec![];
        };
        if !matches!(centre, Centre::District | Centre::Street(_)) {
            return vec![];
        }
        baoan_api::units::leaders_on_duty(list, now)
    }

    #[allow(clippy::too_many_arguments)]
    /// A confirmed watchlist alert handed over by the matcher (inside the stack, not by a
    /// client): an incident at the sighting's place that needs the nearest police unit.
    pub fn open_lead(
        &mut self,
        now: Millis,
        alert: AlertId,
        grid: u32,
        x_m: f64,
        y_m: f64,
        observed_at: Millis,
    ) -> Result<Vec<Outcome>, ApiError> {
        self.report(
            now,
            LEAD_REF_BASE + alert.0,
            WATCHLIST_LEAD,
            Severity::IV,
            grid,
            x_m,
            y_m,
            observed_at,
            true,
        )
    }

    /// A dispute case turned acute: the nearest police unit goes to the household, as for a
    /// lead (the cases module keeps the agencies' own work).
    pub fn open_case_incident(
        &mut self,
        now: Millis,
        case: u64,
        grid: u32,
        x_m: f64,
        y_m: f64,
        observed_at: Millis,
    ) -> Result<Vec<Outcome>, ApiError> {
        self.report(
            now,
            baoan_api::cases::CASE_REF_BASE + case,
            baoan_api::cases::ACUTE_DISPUTE,
            Severity::IV,
            grid,
            x_m,
            y_m,
            observed_at,
            true,
        )
    }

    /// A key person in crisis (the key-persons module's hand-off): the 1-3-5 tiers and a
    /// medical unit go to where the person is.
    pub fn open_key_person_incident(
        &mut self,
        now: Millis,
        incident_ref: u64,
        grid: u32,
        x_m: f64,
        y_m: f64,
        observed_at: Millis,
    ) -> Result<Vec<Outcome>, ApiError> {
        self.report(
            now,
            incident_ref,
            baoan_api::KEY_PERSON_CRISIS,
            Severity::IV,
            grid,
            x_m,
            y_m,
            observed_at,
            true,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn report(
        &mut self,
        now: Millis,
        incident_ref: u64,
        emergency_type: u16,
        severity: Severity,
        grid: u32,
        x_m: f64,
        y_m: f64,
        observed_at: Millis,
        internal: bool,
    ) -> Result<Vec<Outcome>, ApiError> {
        if let Some(&id) = self.by_ref.get(&incident_ref) {
            let i = &self.incidents[(id.0 - 1) as usize];
            return Ok(vec![Outcome::IncidentOpened {
                incident: id,
                incident_ref,
                lead: i.lead,
                duty: self.duty(i.lead, i.reported_at),
            }]);
        }
        let dir = self.dir()?;
        let Some(&(community, street)) = dir.grids.get(grid as usize) else {
            return Err(ApiError::NotFound {
                what: "grid".into(),
                id: grid.to_string(),
            });
        };
        let owner = match emergency::emergency_type(emergency_type) {
            Some(kind) => kind.owner,
            // Only the stack itself opens leads (`open_lead`), never a client.
            None if internal
                && (emergency_type == WATCHLIST_LEAD
                    || emergency_type == baoan_api::cases::ACUTE_DISPUTE
                    || emergency_type == baoan_api::KEY_PERSON_CRISIS) =>
            {
                Some(Owner::PublicSecurity)
            }
            None => {
                return Err(invalid(
                    "emergency_type",
                    format!(
                        "expected a type code 1..={}, got {emergency_type}",
                        emergency::emergency_types().len()
                    ),
                ));
            }
        };
        if !x_m.is_finite() || !y_m.is_finite() {
            return Err(invalid("x_m", "expected finite coordinates"));
        }
        if observed_at > now {
            return Err(invalid(
                "observed_at",
                format!("{observed_at} ms is after the report was sent ({now} ms)"),
            ));
        }
        if self.incidents.len() >= MAX_INCIDENTS {
            return Err(ApiError::Conflict {
                task: 0,
                problem: format!("incident store full ({MAX_INCIDENTS})"),
            });
        }
        let id = IncidentId(self.incidents.len() as u64 + 1);
        let lead = lead_centre(owner, severity, community, street);
        self.incidents.push(Incident {
            id,
            incident_ref,
            emergency_type,
            severity,
            grid,
            x_m,
            y_m,
            reported_at: now,
            first_lead: lead,
            lead,
            escalated: false,
            assignments: Vec::new(),
            waiting: Vec::new(),
            declined: Vec::new(),
            held: Vec::new(),
            commanded_by: None,
            closed_at: None,
            open_reason: "units dispatched, not yet closed".into(),
        });
        self.by_ref.insert(incident_ref, id);
        self.open += 1;
        let mut out = vec![Outcome::IncidentOpened {
            incident: id,
            incident_ref,
            lead,
            duty: self.duty(lead, now),
        }];
        let dir = self.dir()?;
        let waits = dir.departments_wait;
        let leader = matches!(severity, Severity::I | Severity::II);
        let mut classes = needs(emergency_type, severity);
        if dir.four_duties && a_four_duty_type(emergency_type) {
            classes.push(UnitClass::AuxiliaryPolice);
        }
        let mut held = Vec::new();
        for class in classes {
            if waits && class.limit_s().is_none() {
                held.push(class);
            } else {
                self.dispatch_class(id, class, now, &mut out);
            }
        }
        if !held.is_empty() {
            let inc = &mut self.incidents[(id.0 - 1) as usize];
            inc.held = held.clone();
            inc.open_reason = "awaiting the lead centre's command".into();
            out.push(Outcome::AwaitingCommand {
                incident: id,
                classes: held,
                leader,
            });
        }
        Ok(out)
    }

    /// The lead centre takes command and the held units go now: a dispatcher for levels III and
    /// IV; for I and II a duty leader (any leader in the directory: which of them is at work is
    /// the organisation's business).
    fn take_command(
        &mut self,
        now: Millis,
        actor: baoan_api::Actor,
        id: IncidentId,
    ) -> Result<Vec<Outcome>, ApiError> {
        let i = self.incident_index(id)?;
        let needs_leader = matches!(self.incidents[i].severity, Severity::I | Severity::II);
        let is_leader = self
            .dir()?
            .leaders
            .values()
            .any(|list| list.binary_search(&actor.person).is_ok());
        if needs_leader && !is_leader {
            return Err(ApiError::Forbidden {
                role: actor.role.as_str().into(),
                command: format!(
                    "take_command for incident {} (person {})",
                    id.0, actor.person.0
                ),
                allowed: "a leader listed in the command directory (level I or II)".into(),
            });
        }
        let inc = &self.incidents[i];
        if !inc.is_open() || inc.commanded_by.is_some() {
            return Err(conflict(id, "closed, or already under a leader's command"));
        }
        let held = std::mem::take(&mut self.incidents[i].held);
        self.incidents[i].commanded_by = Some(actor.person);
        let mut out = vec![Outcome::IncidentCommanded {
            incident: id,
            by: actor.person,
        }];
        for class in held {
            self.dispatch_class(id, class, now, &mut out);
        }
        Ok(out)
    }

    /// The nearest free unit of `class` to the incident (not one that declined it), dispatched;
    /// escalation when even the nearest cannot make its tier's limit; waiting when none is free.
    fn dispatch_class(
        &mut self,
        id: IncidentId,
        class: UnitClass,
        now: Millis,
        out: &mut Vec<Outcome>,
    ) {
        let i = (id.0 - 1) as usize;
        let (x, y) = (self.incidents[i].x_m, self.incidents[i].y_m);
        let tree = self.free.get(&class).expect("a tree per class");
        let declined = &self.incidents[i].declined;
        let nearest = tree
            .nearest_neighbor_iter(&[x, y])
            .find(|p| !declined.contains(&self.units[p.data as usize].entry.unit))
            .copied();
        let Some(point) = nearest else {
            let reason = format!("no {} free", class.as_str());
            let inc = &mut self.incidents[i];
            inc.waiting.push(class);
            inc.open_reason = format!("waiting for a free {}", class.as_str());
            let nth = self.queue_seq;
            self.queue_seq += 1;
            self.queue
                .entry(class)
                .or_default()
                .insert((inc.reported_at, id, nth));
            out.push(Outcome::IncidentWaiting {
                incident: id,
                class,
                reason: reason.clone(),
            });
            if class.limit_s().is_some() {
                self.escalate(id, reason, out);
            }
            return;
        };
        self.free.get_mut(&class).expect("tree").remove(&point);
        let index = point.data as usize;
        let at = [self.units[index].x_m, self.units[index].y_m];
        let distance = self.travel_m(at, [x, y]);
        let unit = &mut self.units[index];
        let eta = eta_s(class, distance);
        unit.status = UnitStatus::Dispatched(id);
        let unit_id = unit.entry.unit;
        let inc = &mut self.incidents[i];
        inc.assignments.push(Assignment {
            unit: unit_id,
            class,
            dispatched_at: now,
            eta_s: eta,
            arrived_at: None,
            cleared: false,
        });
        out.push(Outcome::UnitDispatched {
            incident: id,
            unit: unit_id,
            class,
            eta_s: (eta * 10.0).round() / 10.0,
        });
        let since_report_s = now.saturating_sub(inc.reported_at) as f64 / 1000.0;
        if let Some(limit) = class.limit_s()
            && since_report_s + eta > limit
        {
            self.escalate(
                id,
                format!(
                    "nearest free {} is {:.0} s away; the limit is {limit:.0} s",
                    class.as_str(),
                    since_report_s + eta
                ),
                out,
            );
        }
    }

    fn escalate(&mut self, id: IncidentId, reason: String, out: &mut Vec<Outcome>) {
        let dir = self.dir.as_ref().expect("directory");
        let inc = &mut self.incidents[(id.0 - 1) as usize];
        let street = dir.grids[inc.grid as usize].1;
        inc.escalated = true;
        let to = escalate(inc.lead, street);
        if to != inc.lead {
            let from = inc.lead;
            inc.lead = to;
            out.push(Outcome::IncidentEscalated {
                incident: id,
                from,
                to,
                reason,
            });
        }
    }

    fn assignment(&self, id: IncidentId, unit: UnitId) -> Result<(usize, usize, usize), ApiError> {
        let i = self.incident_index(id)?;
        let u = self.unit(unit)?;
        let a = self.incidents[i]
            .assignments
            .iter()
            .rposition(|a| a.unit == unit)
            .ok_or_else(|| conflict(id, format!("unit {} is not assigned to it", unit.0)))?;
        Ok((i, u, a))
    }

    fn declined(
        &mut self,
        now: Millis,
        id: IncidentId,
        unit: UnitId,
    ) -> Result<Vec<Outcome>, ApiError> {
        let (i, u, a) = self.assignment(id, unit)?;
        if self.units[u].status != UnitStatus::Dispatched(id)
            || self.incidents[i].assignments[a].arrived_at.is_some()
        {
            return Err(conflict(
                id,
                format!("unit {} can decline only before arriving", unit.0),
            ));
        }
        let class = self.incidents[i].assignments[a].class;
        self.incidents[i].assignments.remove(a);
        self.incidents[i].declined.push(unit);
        self.make_free(u);
        let mut out = Vec::new();
        if self.incidents[i].is_open() {
            self.dispatch_class(id, class, now, &mut out);
        }
        Ok(out)
    }

    fn arrived(
        &mut self,
        now: Millis,
        id: IncidentId,
        unit: UnitId,
    ) -> Result<Vec<Outcome>, ApiError> {
        let (i, u, a) = self.assignment(id, unit)?;
        let asg = &self.incidents[i].assignments[a];
        if self.units[u].status != UnitStatus::Dispatched(id) {
            return Err(conflict(
                id,
                format!("unit {} is not on its way here", unit.0),
            ));
        }
        if now < asg.dispatched_at {
            return Err(invalid(
                "sent_at",
                format!(
                    "arrival at {now} ms precedes the dispatch at {} ms",
                    asg.dispatched_at
                ),
            ));
        }
        self.incidents[i].assignments[a].arrived_at = Some(now);
        let s = &mut self.units[u];
        s.status = UnitStatus::OnScene(id);
        (s.x_m, s.y_m, s.grid) = (
            self.incidents[i].x_m,
            self.incidents[i].y_m,
            self.incidents[i].grid,
        );
        Ok(vec![])
    }

    fn cleared(&mut self, id: IncidentId, unit: UnitId) -> Result<Vec<Outcome>, ApiError> {
        let (i, u, a) = self.assignment(id, unit)?;
        if self.units[u].status != UnitStatus::OnScene(id) {
            return Err(conflict(
                id,
                format!("unit {} must arrive before it clears", unit.0),
            ));
        }
        self.incidents[i].assignments[a].cleared = true;
        self.units[u].status = UnitStatus::Returning;
        Ok(vec![])
    }

    fn make_free(&mut self, u: usize) {
        let s = &mut self.units[u];
        s.status = UnitStatus::Available;
        let class = s.entry.class;
        let point = GeomWithData::new([s.x_m, s.y_m], u as u32);
        self.free.get_mut(&class).expect("tree").insert(point);
    }

    fn available(
        &mut self,
        now: Millis,
        unit: UnitId,
        available: bool,
        x_m: f64,
        y_m: f64,
        grid: u32,
    ) -> Result<Vec<Outcome>, ApiError> {
        let u = self.unit(unit)?;
        if grid as usize >= self.dir()?.grids.len() || !x_m.is_finite() || !y_m.is_finite() {
            return Err(invalid(
                "grid",
                "expected a known grid and finite coordinates",
            ));
        }
        match self.units[u].status {
            UnitStatus::Dispatched(id) | UnitStatus::OnScene(id) => {
                return Err(conflict(
                    id,
                    format!("unit {} is on an incident; clear it first", unit.0),
                ));
            }
            UnitStatus::Available => {
                let s = &self.units[u];
                let old = GeomWithData::new([s.x_m, s.y_m], u as u32);
                self.free
                    .get_mut(&s.entry.class)
                    .expect("tree")
                    .remove(&old);
            }
            UnitStatus::OffDuty | UnitStatus::Returning => {}
        }
        let s = &mut self.units[u];
        (s.x_m, s.y_m, s.grid) = (x_m, y_m, grid);
        let mut out = Vec::new();
        if available {
            self.make_free(u);
            // Whoever has waited longest for this class gets the nearest free unit now. Each
            // waiting incident is tried once: one that declined every free unit waits on.
            let class = self.units[u].entry.class;
            let waiting: Vec<(Millis, IncidentId, u64)> = self
                .queue
                .get(&class)
                .map(|q| q.iter().copied().collect())
                .unwrap_or_default();
            for (at, id, nth) in waiting {
                if self.free[&class].size() == 0 {
                    break;
                }
                self.queue
                    .get_mut(&class)
                    .expect("queue")
                    .remove(&(at, id, nth));
                let inc = &mut self.incidents[(id.0 - 1) as usize];
                let Some(pos) = inc.waiting.iter().position(|c| *c == class) else {
                    continue;
                };
                if !inc.is_open() {
                    continue;
                }
                inc.waiting.remove(pos);
                self.dispatch_class(id, class, now, &mut out);
            }
        } else {
            self.units[u].status = UnitStatus::OffDuty;
        }
        Ok(out)
    }

    fn close(&mut self, now: Millis, id: IncidentId) -> Result<Vec<Outcome>, ApiError> {
        let i = self.incident_index(id)?;
        let inc = &self.incidents[i];
        if !inc.is_open() {
            return Err(conflict(id, "already closed"));
        }
        if let Some(a) = inc.assignments.iter().find(|a| !a.cleared) {
            return Err(conflict(
                id,
                format!("unit {} has not cleared the scene", a.unit.0),
            ));
        }
        let inc = &mut self.incidents[i];
        inc.closed_at = Some(now);
        inc.waiting.clear();
        inc.held.clear();
        inc.open_reason.clear();
        self.open -= 1;
        self.closed += 1;
        Ok(vec![Outcome::IncidentClosed {
            incident: id,
            at: now,
        }])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lead_centre_follows_type_and_severity() {
        assert_eq!(lead_centre(None, Severity::I, 3, 1), Centre::District);
        assert_eq!(
            lead_centre(Some(Owner::Fire), Severity::II, 3, 1),
            Centre::District
        );
        assert_eq!(
            lead_centre(Some(Owner::Fire), Severity::IV, 3, 1),
            Centre::Department(Owner::Fire)
        );
        assert_eq!(lead_centre(None, Severity::III, 3, 1), Centre::Street(1));
        assert_eq!(lead_centre(None, Severity::IV, 3, 1), Centre::Community(3));
        assert_eq!(escalate(Centre::Community(3), 1), Centre::Street(1));
        assert_eq!(escalate(Centre::Street(1), 1), Centre::District);
    }

    #[test]
    fn serious_incidents_need_more_police() {
        let minor = needs(1, Severity::IV);
        let serious = needs(1, Severity::I);
        let police = |v: &[UnitClass]| v.iter().filter(|c| **c == UnitClass::Police).count();
        assert_eq!(police(&minor), 1);
        assert_eq!(police(&serious), 2);
        assert!(UnitClass::TIERS.iter().all(|t| minor.contains(t)));
    }
}
