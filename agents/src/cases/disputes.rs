//! Disputes: households whose hidden hazard of violence grows by the day and falls with each
//! agency's action, and the agency teams that do what the platform asks, in working hours.

use std::collections::BTreeMap;

use baoan_api::cases::{
    Agency, CaseDirectory, CaseEvaluation, CaseSource, CaseTask, CaseWorkerEntry, DisputeFeatures,
    DisputeKind,
};
use baoan_api::{Actor, Command, Outcome, PersonId, Role};
use baoan_scenarios::CasesLoop;
use baoan_world::Twin;
use baoan_world::bridge::FromStack;
use baoan_world::kernel::{Agenda, Streams};
use bevy_ecs::prelude::*;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Beta, Distribution, Exp, LogNormal, Poisson};

use super::{
    CasesAction, CasesConfig, CasesState, CasesTruth, DAY, HOUR, TAG_ACTION, TAG_CASE, TAG_OTHER,
    Tick, arrivals, bernoulli, credit, exp_wait, send, working_time,
};
use crate::handoff::PoliceLead;
use crate::staff;

/// How much each agency's action multiplies a household's hazard of violence.
fn action_effect(a: Agency) -> f64 {
    match a {
        Agency::Police => 0.5,
        Agency::WomensFederation => 0.7,
        Agency::Mediation => 0.6,
        Agency::Court => 0.3,
        Agency::Community => 0.8,
    }
}

/// Median hours of work an agency's action takes.
fn service_hours(a: Agency) -> f64 {
    match a {
        Agency::Police => 1.5,
        Agency::WomensFederation => 2.0,
        Agency::Mediation => 3.0,
        Agency::Court => 4.0,
        Agency::Community => 1.0,
    }
}

/// Of all cases, the share that need the agency at some level (for staffing the teams).
fn agency_demand(a: Agency, k: &CasesLoop) -> f64 {
    let family = k.domestic_share + k.family_share;
    match a {
        Agency::Police | Agency::Community | Agency::Mediation => 1.0,
        Agency::WomensFederation => 0.5 * family,
        Agency::Court => 0.2 * family,
    }
}

/// Hazard growth per day while nobody acts (disputes left alone get worse).
const HAZARD_GROWTH_PER_DAY: f64 = 0.05;

/// A household in a dispute, as the twin knows it.
#[derive(Debug, Clone)]
pub struct Household {
    pub kind: DisputeKind,
    /// The ID number of the party whose behaviour is at issue.
    pub party: String,
    pub grid: u32,
    pub street: u32,
    pub x: f64,
    pub y: f64,
    pub features: DisputeFeatures,
    /// Hidden severity in (0, 1).
    pub severity: f64,
    pub opened_at: u64,
    /// Hazard of violence per day at opening.
    pub base_rate: f64,
    /// The Exp(1) draw the cumulative hazard must reach for violence (shared with the
    /// counterfactual, so the two differ only by the actions).
    pub threshold: f64,
    /// Current rate factor (base rate times the actions' effects), the cumulative hazard at
    /// `since`, and the time it was last updated.
    factor: f64,
    cumulative: f64,
    since: u64,
    version: u32,
    pub violent_at: Option<u64>,
    /// When violence would have come with nobody acting.
    pub counterfactual_at: Option<u64>,
    pub actions: Vec<(u64, Agency)>,
}

impl Household {
    fn rate_at(&self, t: u64) -> f64 {
        self.factor * (HAZARD_GROWTH_PER_DAY * (t - self.opened_at) as f64 / DAY as f64).exp()
    }

    /// Cumulative hazard from `since` to `t` at the current factor (days).
    fn hazard_between(&self, t: u64) -> f64 {
        let g = HAZARD_GROWTH_PER_DAY;
        let d = |u: u64| (u - self.opened_at) as f64 / DAY as f64;
        self.factor / g * ((g * d(t)).exp() - (g * d(self.since)).exp())
    }

    /// When the cumulative hazard reaches the threshold at the current factor.
    fn violence_time(&self) -> u64 {
        let g = HAZARD_GROWTH_PER_DAY;
        let left = self.threshold - self.cumulative;
        let d0 = (self.since - self.opened_at) as f64 / DAY as f64;
        let x = (g * d0).exp() + g * left / self.factor;
        self.opened_at + ((x.ln() / g) * DAY as f64) as u64
    }

    fn act(&mut self, at: u64, agency: Agency) {
        let at = at.max(self.since);
        self.cumulative += self.hazard_between(at);
        self.since = at;
        self.factor *= action_effect(agency);
        self.version += 1;
        self.actions.push((at, agency));
    }

    /// What a visiting agency finds at `at`: violence so far, and whether things are worsening.
    fn findings(&self, at: u64) -> DisputeFeatures {
        let mut f = self.features;
        f.violence |= self.violent_at.is_some_and(|v| v <= at);
        f.escalating = self.rate_at(at) > 1.5 * self.base_rate;
        f
    }

    /// The command that brings the household's dispute to the platform.
    fn open_case_command(
        &self,
        case_ref: u64,
        source: CaseSource,
        features: DisputeFeatures,
        at: u64,
    ) -> Command {
        Command::OpenCase {
            case_ref,
            source,
            kind: self.kind,
            grid: self.grid,
            street: self.street,
            x_m: self.x,
            y_m: self.y,
            features,
            observed_at: at,
        }
    }
}

/// One agency team (a street's, or the district's): when each worker is next free.
#[derive(Debug, Clone, Default)]
pub(super) struct Team {
    free_at: Vec<u64>,
}

impl Team {
    /// Book the earliest-free worker for `hours` of work starting no sooner than `ready`, in
    /// working hours (police work around the clock). Returns (worker index, start, end).
    fn book(&mut self, ready: u64, work_ms: u64, around_the_clock: bool) -> (usize, u64, u64) {
        let (w, &free) = self
            .free_at
            .iter()
            .enumerate()
            .min_by_key(|&(i, &f)| (f, i))
            .expect("teams have at least one worker");
        let mut start = ready.max(free);
        if !around_the_clock {
            start = working_time(start);
        }
        let end = start + work_ms;
        self.free_at[w] = end;
        (w, start, end)
    }
}

/// Agency workers' identities: agency, street (the district's teams use street 0) and index.
fn case_worker(agency: Agency, street: u32, w: usize) -> PersonId {
    let a = Agency::ALL
        .iter()
        .position(|&x| x == agency)
        .expect("agency") as u32;
    PersonId(4_000_000 + a * 100_000 + street * 1_000 + w as u32)
}

fn team_key(agency: Agency, street: u32) -> (Agency, u32) {
    match agency {
        Agency::Mediation | Agency::Court => (agency, 0),
        _ => (agency, street),
    }
}

/// The intake's view of a dispute, drawn from its hidden severity.
fn draw_features(rng: &mut ChaCha8Rng, kind: DisputeKind, s: f64) -> DisputeFeatures {
    let intimate = kind != DisputeKind::Neighbour;
    let prior = Poisson::new(0.3 + 3.0 * s).expect("positive").sample(rng) as u8;
    DisputeFeatures {
        prior_incidents: prior,
        violence: bernoulli(rng, 0.1 + 0.6 * s),
        threats_to_kill: bernoulli(rng, 0.03 + 0.45 * s),
        weapon: bernoulli(rng, 0.02 + 0.3 * s),
        strangulation: intimate && bernoulli(rng, 0.01 + 0.25 * s),
        separation: intimate && bernoulli(rng, 0.15 + 0.35 * s),
        children: intimate && bernoulli(rng, 0.5),
        alcohol_or_drugs: bernoulli(rng, 0.15 + 0.3 * s),
        escalating: bernoulli(rng, 0.1 + 0.5 * s),
        afraid: intimate && bernoulli(rng, 0.2 + 0.6 * s),
    }
}

/// Agency teams sized to the expected load, each worker listed in the case directory.
pub(super) fn staff_teams(
    twin: &Twin,
    k: &CasesLoop,
    cases_per_day: f64,
    state: &mut CasesState,
    directory: &mut CaseDirectory,
) {
    let streets = twin.district.streets.len() as u32;
    // Teams sized to the expected load: cases a day times the share needing the agency times
    // hours of work, over a working day of nine hours, times the staffing factor.
    for agency in Agency::ALL {
        let district_wide = matches!(agency, Agency::Mediation | Agency::Court);
        let teams = if district_wide { 1 } else { streets };
        let load_h = cases_per_day * agency_demand(agency, k) * service_hours(agency) * 1.6
            / f64::from(teams);
        let workers = ((load_h / 9.0 * k.agency_staffing).ceil() as usize).max(1);
        for street in 0..teams {
            state.teams.insert(
                (agency, street),
                Team {
                    free_at: vec![0; workers],
                },
            );
            for w in 0..workers {
                directory.case_workers.push(CaseWorkerEntry {
                    person: case_worker(agency, street, w),
                    agency,
                    street: (!district_wide).then_some(street),
                });
            }
        }
    }
}

/// Every dispute of the run, and the violence each would come to with nobody acting.
pub(super) fn schedule(
    twin: &Twin,
    config: &CasesConfig,
    cases_per_day: f64,
    streams: &Streams,
    truth: &mut CasesTruth,
    agenda: &mut Agenda<CasesAction>,
) {
    let end = config.end_ms;
    // Households drawn from residents, so they follow where people live.
    let mut rng = streams.0.stream("cases/disputes");
    let severity = Beta::new(1.2, 3.0).expect("valid");
    let threshold = Exp::new(1.0).expect("valid");
    for at in arrivals(&mut rng, cases_per_day, end) {
        let household = draw_household(
            &mut rng,
            twin,
            &config.loop_,
            at,
            end,
            &severity,
            &threshold,
        );
        truth.households.push(household);
        let h = truth.households.len() - 1;
        agenda.schedule(at, CasesAction::Dispute(h));
        let v = truth.households[h].violence_time();
        if v < end {
            agenda.schedule(
                v,
                CasesAction::Violence {
                    household: h,
                    version: 0,
                },
            );
        }
    }
}

fn draw_kind(rng: &mut ChaCha8Rng, k: &CasesLoop) -> DisputeKind {
    let u = rng.random::<f64>();
    if u < k.domestic_share {
        DisputeKind::Domestic
    } else if u < k.domestic_share + k.family_share {
        DisputeKind::Family
    } else {
        DisputeKind::Neighbour
    }
}

/// A household falling into a dispute at `at`: where it lives, its kind, its hidden hazard.
fn draw_household(
    rng: &mut ChaCha8Rng,
    twin: &Twin,
    k: &CasesLoop,
    at: u64,
    end: u64,
    severity: &Beta<f64>,
    threshold: &Exp<f64>,
) -> Household {
    let pop = &twin.population;
    let r = rng.random_range(0..pop.residents() as u32);
    let room = pop.household_room[pop.resident_household[r as usize] as usize];
    let b = &pop.buildings[pop.building_of_room(room)];
    let grid = &twin.district.grids[b.grid as usize];
    let kind = draw_kind(rng, k);
    let s: f64 = severity.sample(rng);
    let base_rate = 0.002 + 0.25 * s * s;
    let e: f64 = threshold.sample(rng);
    let g = HAZARD_GROWTH_PER_DAY;
    // With nobody acting: the cumulative hazard base/g (e^{g d} - 1) reaches e at d.
    let cf_days = (1.0 + g * e / base_rate).ln() / g;
    let cf_at = at + (cf_days * DAY as f64) as u64;
    Household {
        kind,
        party: pop.id_number(r),
        grid: grid.id,
        street: grid.street,
        x: f64::from(b.position[0]),
        y: f64::from(b.position[1]),
        features: draw_features(rng, kind, s),
        severity: s,
        opened_at: at,
        base_rate,
        threshold: e,
        factor: base_rate,
        cumulative: 0.0,
        since: at,
        version: 0,
        violent_at: None,
        counterfactual_at: (cf_at < end).then_some(cf_at),
        actions: Vec::new(),
    }
}

/// The case's tasks as the platform set them; workers booked for the new ones.
pub(super) fn take_tasks(tick: &mut Tick, case: u64, tasks: Vec<CaseTask>, at: u64) {
    // A reassessment lists new tasks and tasks whose deadline moved: only the new ones need
    // workers (those already booked keep their booking).
    let known = tick.truth.case_tasks.entry(case).or_default();
    let mut new = Vec::new();
    for t in tasks {
        match known.iter_mut().find(|k| k.task == t.task) {
            Some(k) => *k = t,
            None => {
                known.push(t.clone());
                new.push(t);
            }
        }
    }
    plan_tasks(tick, case, &new, at);
}

/// Book agency workers for a case's new tasks: a joint visit's agencies go together.
fn plan_tasks(tick: &mut Tick, case: u64, tasks: &[CaseTask], at: u64) {
    let street = tick
        .truth
        .case_household
        .get(&case)
        .map_or(0, |&h| tick.truth.households[h].street);
    let mut groups: BTreeMap<u64, Vec<CaseTask>> = BTreeMap::new();
    let mut single = Vec::new();
    for t in tasks {
        match t.joint_visit {
            Some(v) => groups.entry(v).or_default().push(t.clone()),
            None => single.push(vec![t.clone()]),
        }
    }
    for group in groups.into_values().chain(single) {
        let done = book_group(tick, street, &group, at);
        tick.schedule_in_run(done, CasesAction::Act { tasks: group });
    }
}

/// Book one visit's workers; returns when the visit is done.
fn book_group(tick: &mut Tick, street: u32, group: &[CaseTask], at: u64) -> u64 {
    // Each worker reads the task within half an hour (minutes for police on an urgent one).
    let urgent = group.iter().any(|t| t.due_at <= at + 4 * HOUR);
    let react = if urgent {
        10.0 * 60_000.0
    } else {
        30.0 * 60_000.0
    };
    let ready = at + exp_wait(tick.rng, react);
    let mut start = ready;
    let mut works = Vec::new();
    for t in group {
        let key = team_key(t.agency, street);
        let work = (LogNormal::new((service_hours(t.agency) * HOUR as f64).ln(), 0.5)
            .expect("valid")
            .sample(tick.rng)) as u64;
        let around = t.agency == Agency::Police && urgent;
        let team = tick
            .state
            .teams
            .get_mut(&key)
            .expect("every agency has a team");
        let (w, s, _) = team.book(ready, work, around);
        start = start.max(s);
        works.push((key, w, work));
    }
    // The joint visit waits for its last member; each member is busy until it ends.
    let mut done = start;
    for (key, w, work) in works {
        let team = tick.state.teams.get_mut(&key).expect("team");
        team.free_at[w] = team.free_at[w].max(start + work);
        done = done.max(start + work);
    }
    done
}

/// The platform handed the case to command: police are expected at the household.
pub(super) fn expect_police_at_household(
    truth: &CasesTruth,
    case: u64,
    at: u64,
    police: &mut MessageWriter<PoliceLead>,
) {
    if let Some(&h) = truth.case_household.get(&case) {
        let hh = &truth.households[h];
        police.write(PoliceLead::Expected {
            key: baoan_api::cases::CASE_REF_BASE + case,
            grid: hh.grid,
            x: hh.x,
            y: hh.y,
            occurred_at: at,
        });
    }
}

fn next_case_ref(state: &mut CasesState) -> u64 {
    let case_ref = state.next_case_ref;
    state.next_case_ref += 1;
    case_ref
}

/// Who brings a dispute to the platform: a 110 call, an inspector or the community.
fn draw_source(rng: &mut ChaCha8Rng) -> CaseSource {
    match rng.random_range(0..10) {
        0..=4 => CaseSource::PoliceCall,
        5..=6 => CaseSource::Inspector,
        _ => CaseSource::Community,
    }
}

fn intake_actor(source: CaseSource, hh: &Household) -> Actor {
    match source {
        CaseSource::PoliceCall => staff::HOTLINE,
        CaseSource::Inspector => Actor {
            role: Role::Inspector,
            person: staff::inspector(hh.grid),
        },
        CaseSource::Community => Actor {
            role: Role::Caseworker,
            person: case_worker(Agency::Community, hh.street, 0),
        },
    }
}

/// A dispute reaches the platform.
pub(super) fn open_case(tick: &mut Tick, h: usize, at: u64) {
    let case_ref = next_case_ref(tick.state);
    tick.truth.ref_household.insert(case_ref, h);
    let hh = &tick.truth.households[h];
    let source = draw_source(tick.rng);
    let actor = intake_actor(source, hh);
    tick.ledger.disputes_opened += 1;
    let command = hh.open_case_command(case_ref, source, hh.features, at);
    send(tick.out, actor, at, command, TAG_CASE | case_ref);
}

/// The household's hazard reached its threshold: violence, and a fresh 110 call about it.
pub(super) fn turn_violent(tick: &mut Tick, household: usize, version: u32, at: u64) {
    let hh = &mut tick.truth.households[household];
    if hh.version != version || hh.violent_at.is_some() {
        return;
    }
    hh.violent_at = Some(at);
    let breach = hh
        .actions
        .iter()
        .any(|&(_, a)| a == Agency::Court)
        .then(|| hh.party.clone());
    // The violence is a fresh 110 call about the same household.
    let mut features = hh.features;
    features.violence = true;
    features.escalating = true;
    features.prior_incidents = features.prior_incidents.saturating_add(1);
    let case_ref = next_case_ref(tick.state);
    tick.truth.ref_household.insert(case_ref, household);
    if let Some(party) = breach {
        credit::record_breach(tick, household, party, at);
    }
    let hh = &tick.truth.households[household];
    let command = hh.open_case_command(case_ref, CaseSource::PoliceCall, features, at);
    send(tick.out, staff::HOTLINE, at, command, TAG_CASE | case_ref);
}

/// Agency workers do a visit's tasks; a case with every task done is closed next morning.
pub(super) fn do_tasks(tick: &mut Tick, tasks: Vec<CaseTask>, at: u64) {
    let case = tasks[0].case;
    let household = tick.truth.case_household.get(&case).copied();
    for t in &tasks {
        do_task(tick, household, t, at);
    }
    tick.truth
        .case_done
        .entry(case)
        .or_default()
        .extend(tasks.iter().map(|t| t.task));
    let all = tick.truth.case_tasks.get(&case).map_or(0, Vec::len);
    if tick.truth.case_done[&case].len() == all && tick.state.closing.insert(case) {
        // The community worker closes the case the next working morning.
        tick.schedule_in_run(
            working_time((at / DAY + 1) * DAY),
            CasesAction::Close { case },
        );
    }
}

/// One agency's action: it changes the household's hazard, and the platform hears of it.
fn do_task(tick: &mut Tick, household: Option<usize>, t: &CaseTask, at: u64) {
    let findings = household
        .filter(|_| t.agency.visits())
        .map(|h| tick.truth.households[h].findings(at));
    if let Some(h) = household {
        apply_action(tick, h, t.agency, at);
    }
    let street = household.map_or(0, |h| tick.truth.households[h].street);
    let (ag, st) = team_key(t.agency, street);
    send(
        tick.out,
        Actor {
            role: Role::Caseworker,
            person: case_worker(ag, st, 0),
        },
        at,
        Command::RecordCaseAction {
            task: t.task,
            findings,
        },
        TAG_ACTION | t.task,
    );
}

/// The action lowers the hazard of a household not yet violent, which moves its violence.
fn apply_action(tick: &mut Tick, h: usize, agency: Agency, at: u64) {
    let end = tick.end();
    let hh = &mut tick.truth.households[h];
    if hh.violent_at.is_none() {
        hh.act(at, agency);
        let v = hh.violence_time();
        if v < end {
            let version = hh.version;
            tick.agenda.schedule(
                v.max(at),
                CasesAction::Violence {
                    household: h,
                    version,
                },
            );
        }
    } else {
        hh.actions.push((at, agency));
    }
}

/// The community worker closes a case whose tasks are all done, saying whether it settled.
pub(super) fn close_case(tick: &mut Tick, case: u64, at: u64) {
    tick.state.closing.remove(&case);
    let done = tick.truth.case_done.get(&case).map_or(0, |d| d.len());
    let all = tick.truth.case_tasks.get(&case).map_or(0, Vec::len);
    if done < all {
        // A reassessment added work since: closed when that is done.
        return;
    }
    let Some(&h) = tick.truth.case_household.get(&case) else {
        return;
    };
    let hh = &tick.truth.households[h];
    let settled = hh.violent_at.is_none() && hh.rate_at(at) < 0.02;
    send(
        tick.out,
        Actor {
            role: Role::Caseworker,
            person: case_worker(Agency::Community, hh.street, 0),
        },
        at,
        Command::CloseCase {
            case,
            evaluation: CaseEvaluation {
                settled,
                satisfaction: if settled { 4 } else { 2 },
            },
        },
        TAG_OTHER | case,
    );
}

/// The stack's id of a case the twin opened, so later outcomes find their household.
pub(super) fn note_case_opened(truth: &mut CasesTruth, msg: &FromStack) {
    if let (Outcome::CaseOpened { case, case_ref, .. }, Some(tag)) = (&msg.outcome, msg.client_ref)
        && crate::registry::tag_of(tag) == TAG_CASE
        && let Some(&h) = truth.ref_household.get(case_ref)
    {
        truth.case_household.insert(*case, h);
    }
}
