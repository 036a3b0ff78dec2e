//! The key-persons loop — the platform's third "smart governance" system beside key events and
//! key areas. Residents with severe mental disorders and in community drug treatment or
//! rehabilitation are drawn at the scenario's prevalences and registered with the platform,
//! which gives each a five-in-one team (police officer, doctor, grid inspector, social worker,
//! guardian) and pushes follow-ups by grade and due date. Each person has a hidden course
//! (`course.rs`): stable stretches, episodes of warning signs then relapse, some ending in harm
//! with nobody acting. The team works the platform's tasks in working hours with the share of
//! their time their other work leaves them; what a follow-up finds depends on where the person
//! really is; a warning sign seen by a guardian or the inspector on patrol brings a follow-up
//! forward; an acute relapse is handed to command (police and an ambulance, 1-3-5). Harm comes
//! when a person deteriorates unnoticed — and, on the same draws with nobody acting, the harm
//! that would have come: "incidents prevented" is measured, not asserted.
//!
//! The loop also tests the safeguards from outside: out-of-team look-ups (another community's
//! doctor, a guardian, an analyst, a closed record's former team) that the stack must refuse and
//! log, and at the end the auditor's export of the access log checked against every look-up the
//! twin made.

mod course;
mod definition;
mod faces;
pub mod record;
mod team;

use std::collections::{BTreeMap, HashMap};

use baoan_api::key_persons::{
    Category, ClosureReason, CrisisSource, Findings, FollowUpTask, Function, KEY_PERSON_ENTRY_BASE,
    KEY_PERSON_REF_BASE, KeyPersonDirectory, SightingPolicy, Team, UrineTest,
};
use baoan_api::{Actor, Command, Envelope, Outcome, PersonId, Role, UnitClass};
use baoan_scenarios::{KeyPersonsLoop, Scenario};
use baoan_world::Twin;
use baoan_world::bridge::{FromStack, Refused, StackDoor, ToStack};
use baoan_world::kernel::{Agenda, LoopSet, SimClock, SimSet, Streams};
use bevy_app::{App, Plugin, Startup, Update};
use bevy_ecs::prelude::*;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

pub use course::{ASSUMPTIONS, Assumption, Course, State};
pub use definition::{Definition, NAME};
pub use record::KeyPersonsLedger;
pub use team::Staff;

use crate::handoff::{LeadProgress, PoliceLead};

pub const TAG_REGISTER: u64 = crate::registry::tags::KEY_PERSONS.tag(0);
pub const TAG_FOLLOW_UP: u64 = crate::registry::tags::KEY_PERSONS.tag(1);
pub const TAG_WARNING: u64 = crate::registry::tags::KEY_PERSONS.tag(2);
pub const TAG_CRISIS: u64 = crate::registry::tags::KEY_PERSONS.tag(3);
pub const TAG_QUERY: u64 = crate::registry::tags::KEY_PERSONS.tag(4);
/// Look-ups the stack must refuse (the safeguard probes).
pub const TAG_PROBE: u64 = crate::registry::tags::KEY_PERSONS.tag(5);
pub const TAG_CLOSE: u64 = crate::registry::tags::KEY_PERSONS.tag(6);
/// The directory, the sighting policy and the register before the run; the report's checks.
pub const TAG_SETUP: u64 = crate::registry::tags::KEY_PERSONS.tag(7);
/// Face captures of key persons, and enrolments of new ones on the watchlist.
pub const TAG_SIGHTING: u64 = crate::registry::tags::KEY_PERSONS.tag(8);
/// The key-persons office's reviews of alerts on key persons.
pub const TAG_REVIEW: u64 = crate::registry::tags::KEY_PERSONS.tag(9);

const HOUR: u64 = 3_600_000;
const DAY: u64 = 24 * HOUR;

fn step(stage: SimSet) -> LoopSet {
    LoopSet::new(NAME, stage)
}

#[derive(Resource, Debug, Clone)]
pub struct KeyPersonsConfig {
    pub loop_: KeyPersonsLoop,
    pub end_ms: u64,
    /// Face sightings of key persons: on where the matcher loop is off.
    pub faces: Option<faces::Faces>,
}

impl KeyPersonsConfig {
    pub fn from_scenario(s: &Scenario) -> KeyPersonsConfig {
        KeyPersonsConfig {
            loop_: s.key_persons.clone(),
            end_ms: s.duration.ms(),
            faces: faces::Faces::from_scenario(s),
        }
    }
}

/// A key person as the twin knows them.
#[derive(Debug, Clone)]
pub struct Person {
    pub category: Category,
    pub grid: u32,
    pub community: u32,
    pub street: u32,
    pub x: f64,
    pub y: f64,
    pub guardian: Option<PersonId>,
    /// When they enter management: 0 for the register the run starts with.
    pub joins_at: u64,
    pub course: Course,
    /// The stack's record id and the team it gave, once registered.
    pub record: Option<u64>,
    pub team: Option<Team>,
    /// When each episode was ended early by the team (treatment, admission, isolation).
    pub ended: Vec<Option<u64>>,
    /// When each episode was first seen by the team (a follow-up that found it).
    pub detected: Vec<Option<u64>>,
    /// Harm that happened (factual).
    pub harm_at: Option<u64>,
    /// Out of the community (left, or in compulsory isolation) or off the register.
    pub closed: bool,
    /// The platform closed the record (it said `KeyPersonClosed`). A close the platform never
    /// carried (a fault refused it) leaves the record open there, and the checks of closed
    /// records go by this, not by the twin's `closed`.
    pub record_closed: bool,
    /// The follow-up the team works on now: bumped by every new task, so an older visit is
    /// dropped.
    pub task_version: u32,
    /// The follow-up the platform pushed last: who leads it, whether police join, when it is due.
    pub task: Option<FollowUpTask>,
}

impl Person {
    /// The episode on at `t` (its index), and where the person stands.
    pub fn state_at(&self, t: u64) -> (Option<usize>, State) {
        for (i, e) in self.course.episodes.iter().enumerate() {
            if e.onset > t {
                break;
            }
            let end = self.ended[i].map_or(e.remits_at, |x| x.min(e.remits_at));
            if t < end {
                let s = if t < e.relapse {
                    State::Unstable
                } else {
                    State::Relapse
                };
                return (Some(i), s);
            }
        }
        (None, State::Stable)
    }

    /// The team's police officer, when the platform's current task has police join the visit
    /// (grades 3–5).
    fn police_joining(&self) -> Option<PersonId> {
        self.task
            .filter(|t| t.with_police)
            .and_then(|_| self.team.as_ref()?.member(Function::Police))
    }

    /// End episode `i` at `t` (the team's doing), if it is still on.
    fn end_episode(&mut self, i: usize, t: u64) {
        if self.ended[i].is_none_or(|x| x > t) {
            self.ended[i] = Some(t);
        }
    }
}

#[derive(Debug, Clone)]
pub enum KpAction {
    /// The person passes a face-capture point.
    Sighted { person: usize },
    /// The office's reviewer decides an alert.
    Review {
        alert: baoan_api::AlertId,
        confirm: bool,
    },
    /// A newly registered person's face goes on the watchlist.
    Enrol { person: usize },
    /// A new diagnosis or drug order: the department registers the person.
    Join { person: usize },
    /// The lead member (and police) make a follow-up visit, if the task is still current.
    Visit { person: usize, version: u32 },
    /// A guardian or the inspector notices warning signs during episode `episode`.
    Notice {
        person: usize,
        episode: usize,
        by: Function,
    },
    /// Harm comes, unless the episode was ended first.
    Harm { person: usize, episode: usize },
    /// A caller reports harm done by a registered person.
    Call { person: usize, harm_at: u64 },
    /// The person moves away or dies: the team closes the record.
    Leave { person: usize, died: bool },
    /// An out-of-team look-up the stack must refuse.
    Probe,
}

/// The loop's working state: the people, the staff, the random streams, crises in flight.
#[derive(Resource, Default)]
pub struct KpState {
    pub people: Vec<Person>,
    pub by_record: HashMap<u64, usize>,
    pub staff: Staff,
    /// crisis_ref → (person, occurred at, source); incident key → crisis_ref.
    pub crises: BTreeMap<u64, (usize, u64, CrisisSource)>,
    pub crisis_keys: HashMap<u64, u64>,
    next_crisis_ref: u64,
    visits: Option<ChaCha8Rng>,
    probes: Option<ChaCha8Rng>,
    heard: Vec<(u64, Outcome)>,
    /// Faces: the seed of the register's photos, who each capture was of, the alert just
    /// confirmed (its care lead follows in the same answer).
    face_seed: u64,
    next_sighting: u64,
    sighted: HashMap<u64, usize>,
    confirmed: Option<baoan_api::AlertId>,
}

pub struct KeyPersonsLoopPlugin {
    pub config: KeyPersonsConfig,
}

impl Plugin for KeyPersonsLoopPlugin {
    fn build(&self, app: &mut App) {
        app.insert_resource(self.config.clone())
            .add_message::<PoliceLead>()
            .add_message::<LeadProgress>()
            .init_resource::<KpState>()
            .init_resource::<KeyPersonsLedger>()
            .init_resource::<Agenda<KpAction>>()
            .add_systems(Startup, setup)
            .add_systems(Update, act.in_set(step(SimSet::Agents)))
            .add_systems(Update, hear.in_set(step(SimSet::Hear)));
    }
}

use crate::exp_wait;

fn send(out: &mut MessageWriter<ToStack>, actor: Actor, at: u64, command: Command, tag: u64) {
    out.write(ToStack {
        envelope: Envelope {
            actor,
            sent_at: at,
            command,
        },
        client_ref: tag,
    });
}

fn team_actor(person: PersonId) -> Actor {
    Actor {
        role: Role::KeyPersonTeam,
        person,
    }
}

/// Draw the people, staff the teams, load the directory and the sighting policy, register
/// everyone, and put the run's episodes, departures and probes on the agenda.
#[allow(clippy::too_many_arguments)]
fn setup(
    twin: Res<Twin>,
    config: Res<KeyPersonsConfig>,
    streams: Res<Streams>,
    mut state: ResMut<KpState>,
    mut ledger: ResMut<KeyPersonsLedger>,
    mut door: StackDoor,
    mut agenda: ResMut<Agenda<KpAction>>,
) {
    let k = &config.loop_;
    let end = config.end_ms;
    let mut rng = streams.0.stream("key_persons/people");
    state.people = team::draw_people(&twin, k, end, &mut rng);
    let mut directory = KeyPersonDirectory::default();
    state.staff = Staff::hire(&twin, k, &state.people, &mut directory);
    ledger.staff_by_function = state.staff.count_by_function();
    let setup = |door: &mut StackDoor, ledger: &mut KeyPersonsLedger, actor, command| {
        crate::send_before_run(door, TAG_SETUP, ledger, actor, command)
    };
    setup(
        &mut door,
        &mut ledger,
        crate::staff::ADMIN,
        Command::LoadKeyPersonDirectory { directory },
    );
    setup(
        &mut door,
        &mut ledger,
        crate::staff::ADMIN,
        Command::SetSightingPolicy {
            policy: SightingPolicy {
                police_from_risk: k.sighting_police_from_risk,
            },
        },
    );
    let mut visits = streams.0.stream("key_persons/visits");
    for i in 0..state.people.len() {
        if state.people[i].joins_at > 0 {
            agenda.schedule(state.people[i].joins_at, KpAction::Join { person: i });
            continue;
        }
        register(
            &mut state,
            i,
            &mut door,
            &mut ledger,
            &mut visits,
            &mut rng,
            &mut agenda,
        );
    }
    let state = &mut *state;
    for (i, p) in state.people.iter().enumerate() {
        schedule_course(i, p, end, &mut rng, &mut agenda);
    }
    let mut r = streams.0.stream("key_persons/probes");
    if k.probes_per_day > 0.0 {
        let mut t = 0;
        loop {
            t += exp_wait(&mut r, DAY as f64 / k.probes_per_day);
            if t >= end {
                break;
            }
            agenda.schedule(t, KpAction::Probe);
        }
    }
    state.visits = Some(visits);
    state.probes = Some(r);
    state.next_crisis_ref = 1;
    if let Some(f) = config.faces {
        enrol_faces(
            &f,
            state,
            &streams,
            &mut door,
            &mut ledger,
            &mut agenda,
            end,
        );
    }
}

/// The register's faces on the watchlist, the policy the search works to, and every pass by a
/// face point on the agenda.
fn enrol_faces(
    f: &faces::Faces,
    state: &mut KpState,
    streams: &Streams,
    door: &mut StackDoor,
    ledger: &mut KeyPersonsLedger,
    agenda: &mut Agenda<KpAction>,
    end: u64,
) {
    state.face_seed = streams.0.stream("key_persons/faces").random();
    let entries = state
        .people
        .iter()
        .enumerate()
        .filter_map(|(i, p)| Some(f.entry(state.face_seed, i, p.record?)))
        .collect();
    let admin = crate::staff::ADMIN;
    let policy = f.policy(state.people.len());
    crate::send_before_run(door, TAG_SETUP, ledger, admin, policy);
    let upsert = Command::UpsertWatchlist { entries };
    crate::send_before_run(door, TAG_SETUP, ledger, admin, upsert);
    let mut rng = streams.0.stream("key_persons/sightings");
    f.schedule(&state.people, end, &mut rng, agenda);
    state.next_sighting = 1;
}

/// Register person `i` before the run (a register carried over: each person's next follow-up
/// falls somewhere in their current interval), and plan the first visit.
fn register(
    state: &mut KpState,
    i: usize,
    door: &mut StackDoor,
    ledger: &mut KeyPersonsLedger,
    visits: &mut ChaCha8Rng,
    rng: &mut ChaCha8Rng,
    agenda: &mut Agenda<KpAction>,
) {
    let p = &state.people[i];
    let risk = team::register_grade(rng);
    let months_in: u16 = if p.category.drugs() {
        rng.random_range(0..36)
    } else {
        rng.random_range(0..120)
    };
    let interval = register_interval(p.category, risk, months_in);
    // A due date: the end of one of the interval's days.
    let next_due_at = rng.random_range(1..=interval / DAY) * DAY - 1;
    let command = registration(p, i, risk, months_in, Some(next_due_at), 0);
    let tag = TAG_REGISTER | i as u64;
    let Some(out) = crate::send_before_run(door, tag, ledger, DEPARTMENT, command) else {
        return;
    };
    for o in out {
        ledger.take(&o, 0);
        registered(state, &o, 0, visits, agenda);
    }
}

/// The health bureau's or the police's feed, registering people.
const DEPARTMENT: Actor = Actor {
    role: Role::Department,
    person: PersonId(9_500_000),
};

/// Person `i`'s registration at `at`.
fn registration(
    p: &Person,
    i: usize,
    risk: u8,
    months_in: u16,
    next_due_at: Option<u64>,
    at: u64,
) -> Command {
    Command::RegisterKeyPerson {
        person_ref: i as u64,
        category: p.category,
        risk,
        grid: p.grid,
        community: p.community,
        street: p.street,
        x_m: p.x,
        y_m: p.y,
        guardian: p.guardian,
        months_in_management: months_in,
        next_due_at,
        observed_at: at,
    }
}

/// The platform registered someone: their record, their team, the first visit planned.
fn registered(
    state: &mut KpState,
    o: &Outcome,
    at: u64,
    visits: &mut ChaCha8Rng,
    agenda: &mut Agenda<KpAction>,
) {
    let Outcome::KeyPersonRegistered {
        person,
        person_ref,
        team,
        task,
        ..
    } = o
    else {
        return;
    };
    let i = *person_ref as usize;
    if state.people.get(i).is_none_or(|p| p.record.is_some()) {
        return;
    }
    state.by_record.insert(*person, i);
    state.people[i].record = Some(*person);
    state.people[i].team = Some(team.clone());
    plan_visit(state, i, *task, at, visits, agenda);
    if at > 0 {
        agenda.schedule(at, KpAction::Enrol { person: i });
    }
}

/// The interval between follow-ups in the register carried over (the national rules the
/// platform also follows): each person's next due date falls somewhere within it.
fn register_interval(category: Category, risk: u8, months_in: u16) -> u64 {
    let days = if category.drugs() {
        if risk >= 3 {
            14
        } else {
            [30, 60, 90][(months_in / 12).min(2) as usize]
        }
    } else if risk == 0 {
        90
    } else {
        14
    };
    days * DAY
}

/// The person's episodes' harms and the notices of those who live with them, and their leaving.
fn schedule_course(
    i: usize,
    p: &Person,
    end: u64,
    rng: &mut ChaCha8Rng,
    agenda: &mut Agenda<KpAction>,
) {
    let mut put = |t: u64, a: KpAction| {
        if t < end {
            agenda.schedule(t, a);
        }
    };
    for (e, ep) in p.course.episodes.iter().enumerate() {
        if let Some(h) = ep.harm_at {
            put(
                h,
                KpAction::Harm {
                    person: i,
                    episode: e,
                },
            );
        }
        if p.guardian.is_some() {
            let t = ep.onset + exp_wait(rng, DAY as f64 / course::GUARDIAN_NOTICES.value);
            put(
                t,
                KpAction::Notice {
                    person: i,
                    episode: e,
                    by: Function::Guardian,
                },
            );
        }
        let t = ep.relapse + exp_wait(rng, DAY as f64 / course::INSPECTOR_NOTICES.value);
        put(
            t,
            KpAction::Notice {
                person: i,
                episode: e,
                by: Function::GridInspector,
            },
        );
    }
    if let Some((t, died)) = p.course.leaves_at {
        put(t, KpAction::Leave { person: i, died });
    }
}

/// Book the visit for a task the platform pushed: the lead member (and the police officer for
/// grades 3–5) in the days before it is due, as their other work allows.
fn plan_visit(
    state: &mut KpState,
    i: usize,
    task: FollowUpTask,
    now: u64,
    visits: &mut ChaCha8Rng,
    agenda: &mut Agenda<KpAction>,
) {
    let p = &mut state.people[i];
    p.task_version += 1;
    p.task = Some(task);
    let ahead = (course::PLAN_AHEAD_DAYS.value * DAY as f64) as u64;
    let window = ahead.min(task.due_at.saturating_sub(now) / 2);
    // An hour's jitter, but never past the due date while it can still be met.
    let jitter = visits.random_range(0..HOUR);
    let ready = (now.max(task.due_at.saturating_sub(window)) + jitter)
        .min(task.due_at.saturating_sub(1))
        .max(now);
    let police = p.police_joining();
    let at = state.staff.book(task.lead, police, ready);
    let action = KpAction::Visit {
        person: i,
        version: state.people[i].task_version,
    };
    agenda.schedule(at, action);
}

/// What a follow-up finds at `at`: the episode on, where the person truly is, whether the
/// team saw it, and the findings it records.
struct Seen {
    episode: Option<usize>,
    truly: State,
    seen: bool,
    findings: Findings,
}

fn examine(p: &Person, at: u64, rng: &mut ChaCha8Rng) -> Seen {
    let (episode, truly) = p.state_at(at);
    let seen = match truly {
        State::Stable => false,
        State::Unstable => rng.random::<f64>() < course::DETECT_PRODROME.value,
        State::Relapse => rng.random::<f64>() < course::DETECT_RELAPSE.value,
    };
    let shown = if seen { truly } else { State::Stable };
    let near_harm = episode.is_some_and(|e| p.course.episodes[e].harm_at.is_some());
    let risk = course::assessed_grade(shown, near_harm, rng);
    let urine = p.category.drugs().then(|| {
        if truly == State::Relapse && rng.random::<f64>() < course::URINE_SENSITIVITY.value {
            UrineTest::Positive
        } else if rng.random::<f64>() < course::URINE_REFUSED.value {
            UrineTest::Refused
        } else {
            UrineTest::Negative
        }
    });
    let findings = Findings {
        risk,
        adherent: !seen || rng.random::<f64>() < course::ADHERENT_IN_EPISODE.value,
        warning_signs: seen,
        urine,
    };
    Seen {
        episode,
        truly,
        seen,
        findings,
    }
}

/// One tick: what the platform said last tick, then the actions that fall due.
#[allow(clippy::too_many_arguments)]
fn act(
    clock: Res<SimClock>,
    config: Res<KeyPersonsConfig>,
    mut state: ResMut<KpState>,
    mut ledger: ResMut<KeyPersonsLedger>,
    mut agenda: ResMut<Agenda<KpAction>>,
    mut out: MessageWriter<ToStack>,
) {
    let state = &mut *state;
    let mut visits = state.visits.take().expect("set up");
    for (at, o) in std::mem::take(&mut state.heard) {
        answer(state, &mut agenda, &mut visits, at, o);
    }
    let end = config.end_ms;
    while let Some((at, action)) = agenda.pop_before(clock.tick_end()) {
        let mut tick = Tick {
            state: &mut *state,
            ledger: &mut ledger,
            out: &mut out,
            visits: &mut visits,
            look_up_share: config.loop_.look_up_share,
            faces: config.faces,
            end,
        };
        match action {
            KpAction::Join { person } => tick.join(person, at),
            KpAction::Sighted { person } => tick.sighted(person, at),
            KpAction::Review { alert, confirm } => tick.review(alert, confirm, at),
            KpAction::Enrol { person } => tick.enrol(person, at),
            KpAction::Visit { person, version } => tick.visit(person, version, at),
            KpAction::Notice {
                person,
                episode,
                by,
            } => tick.notice(person, episode, by, at),
            KpAction::Harm { person, episode } => {
                if let Some(call) = tick.harm(person, episode, at) {
                    agenda.schedule(call.0, call.1);
                }
            }
            KpAction::Call { person, harm_at } => tick.call(person, harm_at, at),
            KpAction::Leave { person, died } => tick.leave(person, died, at),
            KpAction::Probe => tick.probe(at),
        }
    }
    state.visits = Some(visits);
}

/// What one action reads and changes.
struct Tick<'a, 'w> {
    state: &'a mut KpState,
    ledger: &'a mut KeyPersonsLedger,
    out: &'a mut MessageWriter<'w, ToStack>,
    visits: &'a mut ChaCha8Rng,
    look_up_share: f64,
    faces: Option<faces::Faces>,
    end: u64,
}

impl Tick<'_, '_> {
    fn open_record(&self, i: usize) -> Option<u64> {
        let p = &self.state.people[i];
        (!p.closed).then_some(p.record).flatten()
    }

    /// A follow-up: a look-up of the record first, then the findings as the person really is,
    /// then what the team does about what it saw.
    fn visit(&mut self, i: usize, version: u32, at: u64) {
        let Some(record) = self.open_record(i) else {
            return;
        };
        let p = &self.state.people[i];
        if version != p.task_version {
            return;
        }
        let Some(lead) = p.task.map(|t| t.lead) else {
            return;
        };
        if self.visits.random::<f64>() < self.look_up_share {
            self.ledger.look_ups_sent += 1;
            let query = Command::QueryKeyPerson { person: record };
            send(self.out, team_actor(lead), at, query, TAG_QUERY | i as u64);
        }
        let seen = examine(p, at, self.visits);
        let findings = seen.findings;
        let command = Command::RecordFollowUp {
            person: record,
            findings,
        };
        send(
            self.out,
            team_actor(lead),
            at,
            command,
            TAG_FOLLOW_UP | i as u64,
        );
        self.ledger
            .visit(if seen.seen { seen.truly } else { State::Stable });
        let with_police = self.state.people[i].police_joining();
        self.state.staff.visited(lead, with_police);
        if let Some(e) = seen.episode {
            self.act_on(i, e, lead, at, &seen);
        }
    }

    /// The team acts on a follow-up that came during episode `e`: a positive test ends it (the
    /// platform hands the person to the police), a grade of 4–5 is a crisis for command, a
    /// lower one adjusted treatment, which works as the episode's draw says.
    fn act_on(&mut self, i: usize, e: usize, lead: PersonId, at: u64, seen: &Seen) {
        let p = &mut self.state.people[i];
        if seen.seen && p.detected[e].is_none() {
            p.detected[e] = Some(at);
            let ep = p.course.episodes[e];
            self.ledger.detected(at - ep.onset, at < ep.relapse);
        }
        if seen.findings.urine == Some(UrineTest::Positive) {
            p.end_episode(e, at);
            return;
        }
        if !seen.seen {
            return;
        }
        if seen.findings.risk >= 4 {
            self.report_crisis(i, CrisisSource::Team, team_actor(lead), at, at);
            return;
        }
        let works = match seen.truly {
            State::Unstable => course::TREAT_PRODROME.value,
            _ => course::TREAT_RELAPSE.value,
        };
        if p.course.episodes[e].treat_u < works {
            p.end_episode(e, at);
            self.ledger.treated += 1;
        }
    }

    fn report_crisis(
        &mut self,
        i: usize,
        source: CrisisSource,
        actor: Actor,
        occurred: u64,
        at: u64,
    ) {
        let Some(record) = self.state.people[i].record else {
            return;
        };
        let crisis_ref = self.state.next_crisis_ref;
        self.state.next_crisis_ref += 1;
        self.state.crises.insert(crisis_ref, (i, occurred, source));
        let p = &self.state.people[i];
        send(
            self.out,
            actor,
            at,
            Command::ReportCrisis {
                crisis_ref,
                person: record,
                source,
                grid: p.grid,
                x_m: p.x,
                y_m: p.y,
                observed_at: occurred,
            },
            TAG_CRISIS | crisis_ref,
        );
        self.ledger.crisis_sent(source);
    }

    /// A new diagnosis or drug order reaches the platform: the first follow-up is the platform's
    /// to set, by the grade.
    fn join(&mut self, i: usize, at: u64) {
        let risk = team::register_grade(self.visits);
        let command = registration(&self.state.people[i], i, risk, 0, None, at);
        send(self.out, DEPARTMENT, at, command, TAG_REGISTER | i as u64);
    }

    /// The person passes a face point: the capture goes to the platform's search.
    fn sighted(&mut self, i: usize, at: u64) {
        let (Some(f), Some(_)) = (self.faces, self.open_record(i)) else {
            return;
        };
        let n = self.state.next_sighting;
        self.state.next_sighting += 1;
        self.state.sighted.insert(n, i);
        let p = &self.state.people[i];
        let (actor, command) = f.sighting(self.state.face_seed, i, p, n, at, self.visits);
        send(self.out, actor, at, command, TAG_SIGHTING | i as u64);
        self.ledger.sightings_sent += 1;
    }

    fn review(&mut self, alert: baoan_api::AlertId, confirm: bool, at: u64) {
        let command = Command::ReviewAlert { alert, confirm };
        send(self.out, faces::REVIEWER, at, command, TAG_REVIEW | alert.0);
    }

    /// A new registrant's face on the watchlist.
    fn enrol(&mut self, i: usize, at: u64) {
        let (Some(f), Some(record)) = (self.faces, self.open_record(i)) else {
            return;
        };
        let entries = vec![f.entry(self.state.face_seed, i, record)];
        let command = Command::UpsertWatchlist { entries };
        send(
            self.out,
            crate::staff::ADMIN,
            at,
            command,
            TAG_SIGHTING | i as u64,
        );
    }

    /// A guardian or the inspector saw warning signs: they tell the team through the platform.
    fn notice(&mut self, i: usize, e: usize, by: Function, at: u64) {
        let Some(record) = self.open_record(i) else {
            return;
        };
        let p = &self.state.people[i];
        if p.state_at(at).0 != Some(e) {
            return;
        }
        let Some(who) = p.team.as_ref().and_then(|t| t.member(by)) else {
            return;
        };
        send(
            self.out,
            team_actor(who),
            at,
            Command::ReportWarningSign {
                person: record,
                observed_at: at,
            },
            TAG_WARNING | i as u64,
        );
        self.ledger.warnings_sent += 1;
    }

    /// Harm comes if the episode is still on and the person still here; a caller reports it.
    fn harm(&mut self, i: usize, e: usize, at: u64) -> Option<(u64, KpAction)> {
        let p = &mut self.state.people[i];
        // Treatment, admission or isolation came first, or the person had left.
        if p.ended[e].is_some_and(|x| x <= at) || p.course.leaves_at.is_some_and(|(t, _)| t <= at) {
            return None;
        }
        p.harm_at.get_or_insert(at);
        p.end_episode(e, at);
        let managed = !p.closed;
        self.ledger.harm(at, managed);
        let call = at + exp_wait(self.visits, course::CALL_DELAY_MIN.value * 60_000.0);
        (managed && call < self.end).then_some((
            call,
            KpAction::Call {
                person: i,
                harm_at: at,
            },
        ))
    }

    fn call(&mut self, i: usize, harm_at: u64, at: u64) {
        if self.open_record(i).is_some() {
            self.report_crisis(i, CrisisSource::Caller, crate::staff::HOTLINE, harm_at, at);
        }
    }

    fn leave(&mut self, i: usize, died: bool, at: u64) {
        let record = self.open_record(i);
        let p = &mut self.state.people[i];
        p.closed = true;
        let (Some(record), Some(team)) = (record, p.team.as_ref()) else {
            return;
        };
        let Some(who) = team
            .member(Function::Police)
            .or(team.member(Function::Doctor))
        else {
            return;
        };
        let reason = if died {
            ClosureReason::Died
        } else {
            ClosureReason::MovedAway
        };
        send(
            self.out,
            team_actor(who),
            at,
            Command::CloseKeyPerson {
                person: record,
                reason,
            },
            TAG_CLOSE | i as u64,
        );
    }

    /// An out-of-team look-up: another community's doctor, the guardian, an analyst, or a
    /// closed record's former doctor. The stack must refuse each and log it.
    fn probe(&mut self, at: u64) {
        let rng = self.state.probes.as_mut().expect("set up");
        let kind = rng.random_range(0..4u8);
        let Some((record, who)) =
            team::probe_target(&self.state.people, &self.state.staff, kind, rng)
        else {
            return;
        };
        self.ledger.probe_sent(kind);
        send(
            self.out,
            who,
            at,
            Command::QueryKeyPerson { person: record },
            TAG_PROBE | u64::from(kind),
        );
    }
}

/// Act on one thing the platform said: a new task to plan, a closure.
fn answer(
    state: &mut KpState,
    agenda: &mut Agenda<KpAction>,
    visits: &mut ChaCha8Rng,
    at: u64,
    o: Outcome,
) {
    registered(state, &o, at, visits, agenda);
    match o {
        Outcome::AlertRaised {
            alert,
            sighting_ref,
            candidates,
            ..
        } => {
            // The reviewer compares the register's photo with the capture: the truth decides.
            let Some(&i) = state.sighted.get(&sighting_ref) else {
                return;
            };
            let mine = state.people[i].record.map(|r| KEY_PERSON_ENTRY_BASE + r);
            let confirm = candidates.first().map(|c| c.entry_ref) == mine;
            let wait = exp_wait(visits, faces::REVIEW_MIN * 60_000.0);
            agenda.schedule(at + wait, KpAction::Review { alert, confirm });
        }
        Outcome::FollowUpRecorded {
            task: Some(task), ..
        }
        | Outcome::FollowUpPushed { task } => {
            if let Some(&i) = state.by_record.get(&task.person) {
                plan_visit(state, i, task, at, visits, agenda);
            }
        }
        Outcome::KeyPersonClosed { person, .. } => {
            if let Some(&i) = state.by_record.get(&person) {
                state.people[i].closed = true;
                state.people[i].record_closed = true;
            }
        }
        _ => {}
    }
}

/// Command took a crisis: its units need to know where the person is before they hear of
/// their dispatch (the next tick's first stage), so the lead goes out in this tick's Hear,
/// ahead of command's Record.
fn expect_units(
    state: &mut KpState,
    crisis: u64,
    crisis_ref: u64,
    police: &mut MessageWriter<PoliceLead>,
) {
    let Some(&(i, occurred, _)) = state.crises.get(&crisis_ref) else {
        return;
    };
    let key = KEY_PERSON_REF_BASE + crisis;
    state.crisis_keys.insert(key, crisis_ref);
    let p = &state.people[i];
    police.write(PoliceLead::Expected {
        key,
        grid: p.grid,
        x: p.x,
        y: p.y,
        occurred_at: occurred,
    });
}

/// The first ambulance at a crisis takes the person to hospital: the episode ends there.
fn admit(state: &mut KpState, ledger: &mut KeyPersonsLedger, p: &LeadProgress) {
    let Some(&crisis_ref) = state.crisis_keys.get(&p.key) else {
        return;
    };
    let Some(&(i, occurred, source)) = state.crises.get(&crisis_ref) else {
        return;
    };
    ledger.lead_progress(crisis_ref, occurred, source, p);
    let medical = UnitClass::ALL
        .iter()
        .position(|c| *c == UnitClass::Medical)
        .expect("a class");
    if let Some(t) = p.first_arrival[medical] {
        let person = &mut state.people[i];
        if let (Some(e), _) = person.state_at(t) {
            person.end_episode(e, t);
        }
    }
}

/// What the platform answered a capture or a review: an alert to review, a confirmation, and a
/// care lead that also asks police (whose units must know where to go this tick).
fn sighting_outcome(
    state: &mut KpState,
    ledger: &mut KeyPersonsLedger,
    msg: &FromStack,
    police: &mut MessageWriter<PoliceLead>,
) {
    match &msg.outcome {
        Outcome::AlertRaised { .. } => {
            ledger.alerts.0 += 1;
            state.heard.push((msg.at, msg.outcome.clone()));
        }
        Outcome::AlertConfirmed { alert, .. } => {
            ledger.alerts.1 += 1;
            state.confirmed = Some(*alert);
        }
        Outcome::AlertRejected { .. } => ledger.alerts.2 += 1,
        Outcome::CareLead {
            person,
            police: true,
            seen_at,
            ..
        } => {
            let (Some(alert), Some(&i)) = (state.confirmed.take(), state.by_record.get(person))
            else {
                return;
            };
            let p = &state.people[i];
            police.write(PoliceLead::Expected {
                key: baoan_api::LEAD_REF_BASE + alert.0,
                grid: p.grid,
                x: p.x,
                y: p.y,
                occurred_at: *seen_at,
            });
        }
        _ => {}
    }
}

/// This tick's answers to the loop, and command's progress on its crises.
#[allow(clippy::too_many_arguments)]
fn hear(
    mut state: ResMut<KpState>,
    mut ledger: ResMut<KeyPersonsLedger>,
    mut outcomes: MessageReader<FromStack>,
    mut refusals: MessageReader<Refused>,
    mut progress: MessageReader<LeadProgress>,
    mut police: MessageWriter<PoliceLead>,
) {
    for msg in outcomes.read() {
        let tag = msg.client_ref.map(crate::registry::tag_of);
        if tag == Some(TAG_SIGHTING) || tag == Some(TAG_REVIEW) {
            sighting_outcome(&mut state, &mut ledger, msg, &mut police);
        }
        if !record::is_key_person_outcome(&msg.outcome) {
            continue;
        }
        ledger.take_message(msg);
        if let Outcome::CrisisOpened {
            crisis, crisis_ref, ..
        } = msg.outcome
        {
            expect_units(&mut state, crisis, crisis_ref, &mut police);
        }
        state.heard.push((msg.at, msg.outcome.clone()));
    }
    for r in refusals.read() {
        if r.envelope.command.module() != baoan_api::Module::KeyPersons {
            continue;
        }
        ledger.refusal(r);
    }
    for p in progress.read() {
        admit(&mut state, &mut ledger, p);
    }
}
