//! The cases loops' actors — the "key events" side of the platform, judged by outcomes:
//!
//! - **Disputes.** Households fall into family, partner and neighbour disputes at the scenario's
//!   rate; each has a hidden hazard of turning violent that grows day by day and falls with each
//!   agency's action (a police warning, counselling, mediation, a protection order, a community
//!   visit). Agency teams with working hours and finite hands do what the platform asks, so the
//!   violence that happens — and, drawn with the same random numbers, the violence that would have
//!   happened with no action at all — measures the platform, not just its timestamps.
//! - **Credit.** Courts send trust and dishonesty records about the twin's people and companies;
//!   some penalties are wrong and their subjects appeal; four receiving bodies apply what they are
//!   sent. The twin knows every company's legal representative, so links the platform missed show.
//! - **Business oversight.** Companies register at addresses — some that do not exist, shells piled
//!   into one flat, some registered where they never operate; inspectors check what the platform
//!   flags and report trading they see on patrol, licensed or not.
//! - **Care.** Residents in community care are visited by their community's care workers, each
//!   with a day's capacity; needs found become services.

mod definition;
pub mod record;

use std::collections::{BTreeMap, HashMap};

use baoan_api::cases::{
    Agency, BusinessScope, CareCategory, CareWorkerEntry, CaseDirectory, CaseEvaluation,
    CaseSource, CaseTask, CaseWorkerEntry, CreditKind, CreditSource, DisputeFeatures, DisputeKind,
    PremisesFinding, Subject,
};
use baoan_api::{Actor, Command, Envelope, Outcome, PersonId, Role};
use baoan_scenarios::{CasesLoop, Scenario};
use baoan_world::Twin;
use baoan_world::bridge::{FromStack, Refused, StackBridge, ToStack};
use baoan_world::ids;
use baoan_world::kernel::{Agenda, LoopSet, SimClock, SimSet, Streams};
use baoan_world::population::BuildingKind;
use bevy_app::{App, Plugin, Startup, Update};
use bevy_ecs::prelude::*;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Beta, Distribution, Exp, LogNormal, Poisson};

pub use definition::{Definition, NAME};
pub use record::{CasesLedger, CasesOutcome, finish};

/// The cases loops' systems in one stage of a tick, in the kernel's chain of loops.
fn step(stage: SimSet) -> LoopSet {
    LoopSet::new(NAME, stage)
}

use crate::staff;

/// client_ref tags of the cases loops' commands.
pub const TAG_CASE: u64 = crate::registry::tags::CASES.tag(0);
pub const TAG_ACTION: u64 = crate::registry::tags::CASES.tag(1);
pub const TAG_CREDIT: u64 = crate::registry::tags::CASES.tag(2);
pub const TAG_REGISTRATION: u64 = crate::registry::tags::CASES.tag(3);
pub const TAG_CARE: u64 = crate::registry::tags::CASES.tag(4);
pub const TAG_OTHER: u64 = crate::registry::tags::CASES.tag(5);

/// Event refs of breaches of protection orders, clear of the courts' other records.
const BREACH_REF_BASE: u64 = 1 << 40;

const HOUR: u64 = 3_600_000;
const DAY: u64 = 24 * HOUR;

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

#[derive(Resource, Debug, Clone)]
pub struct CasesConfig {
    pub loop_: CasesLoop,
    pub end_ms: u64,
    /// Registrations are checked against block data: only with the block loop on.
    pub oversight: bool,
}

impl CasesConfig {
    pub fn from_scenario(s: &Scenario) -> CasesConfig {
        CasesConfig {
            loop_: s.cases.clone(),
            end_ms: s.duration.ms(),
            oversight: s.blocks.enabled,
        }
    }
}

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
}

/// One agency team (a street's, or the district's): when each worker is next free.
#[derive(Debug, Clone, Default)]
struct Team {
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

/// The next moment within working hours (08:30-17:30), `t` itself if it is one.
pub fn working_time(t: u64) -> u64 {
    let day = t / DAY * DAY;
    let open = day + 8 * HOUR + HOUR / 2;
    let close = day + 17 * HOUR + HOUR / 2;
    if t < open {
        open
    } else if t >= close {
        open + DAY
    } else {
        t
    }
}

/// A company registering, as the twin knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RegistrationTruth {
    Honest,
    /// At an address that does not exist.
    FalseAddress,
    /// One of many shells piled into one flat.
    Shell,
    /// Registered at a real place where it does not operate.
    Misuse,
}

impl RegistrationTruth {
    pub fn is_bad(self) -> bool {
        self != RegistrationTruth::Honest
    }
    pub fn as_str(self) -> &'static str {
        match self {
            RegistrationTruth::Honest => "honest",
            RegistrationTruth::FalseAddress => "false_address",
            RegistrationTruth::Shell => "shell",
            RegistrationTruth::Misuse => "misuse",
        }
    }
}

/// What the twin knows behind the cases loops' commands.
#[derive(Resource, Default)]
pub struct CasesTruth {
    pub households: Vec<Household>,
    /// Stack case id → household, and the case's tasks as the stack set them.
    pub case_household: HashMap<u64, usize>,
    pub case_tasks: HashMap<u64, Vec<CaseTask>>,
    pub case_done: HashMap<u64, std::collections::BTreeSet<u64>>,
    /// case_ref → household (refs are the twin's own keys).
    pub ref_household: HashMap<u64, usize>,
    /// Credit: event_ref → (subject, wrong, true linked entities).
    pub credit: BTreeMap<u64, (Subject, bool, Vec<Subject>)>,
    pub registrations: BTreeMap<u64, RegistrationTruth>,
    /// Trading reports: report_ref → trading is licensed (a company really is there).
    pub trading: BTreeMap<u64, bool>,
    /// Care: care_ref → (community, category); the stack's care id once enrolled.
    pub care: BTreeMap<u64, (u32, CareCategory)>,
    pub care_id: BTreeMap<u64, u64>,
}

#[derive(Debug, Clone)]
pub enum CasesAction {
    /// A dispute reaches the platform.
    Dispute(usize),
    /// The household's hazard reached its threshold (stale unless the version matches).
    Violence {
        household: usize,
        version: u32,
    },
    /// Agency workers do these tasks (one, or a joint visit's).
    Act {
        tasks: Vec<CaseTask>,
    },
    Close {
        case: u64,
    },
    CreditEvent {
        event_ref: u64,
    },
    Acknowledge {
        delivery: u64,
    },
    Appeal {
        event: u64,
        upheld: bool,
    },
    Register(Box<Command>),
    Premises {
        task: u64,
        registration_ref: u64,
    },
    Trading {
        report_ref: u64,
        address: String,
    },
    CareVisit {
        care_ref: u64,
    },
    CareService {
        service: u64,
        community: u32,
    },
}

pub struct CasesLoopPlugin {
    pub config: CasesConfig,
}

impl Plugin for CasesLoopPlugin {
    fn build(&self, app: &mut App) {
        app.insert_resource(self.config.clone())
            .init_resource::<CasesTruth>()
            .init_resource::<CasesLedger>()
            .init_resource::<CasesState>()
            .init_resource::<Agenda<CasesAction>>()
            .add_systems(Startup, setup)
            .add_systems(
                Update,
                act.in_set(step(SimSet::Agents)),
            )
            .add_systems(
                Update,
                hear.in_set(step(SimSet::Hear)),
            );
    }
}

/// The twin's working state of the loops: teams, random streams, what waits for an answer.
#[derive(Resource, Default)]
pub struct CasesState {
    teams: BTreeMap<(Agency, u32), Team>,
    rng: Option<ChaCha8Rng>,
    /// Care workers' visits booked per (worker, day).
    care_booked: HashMap<(u32, u64), u32>,
    /// Outcomes heard this tick, to act on in the next.
    heard: Vec<(u64, Outcome)>,
    /// Cases with a closing visit booked.
    closing: std::collections::BTreeSet<u64>,
    next_case_ref: u64,
}

/// Agency workers' identities: agency, street (the district's teams use street 0) and index.
fn case_worker(agency: Agency, street: u32, w: usize) -> PersonId {
    let a = Agency::ALL
        .iter()
        .position(|&x| x == agency)
        .expect("agency") as u32;
    PersonId(4_000_000 + a * 100_000 + street * 1_000 + w as u32)
}

fn care_worker(community: u32, w: u32) -> PersonId {
    PersonId(5_000_000 + community * 100 + w)
}

fn team_key(agency: Agency, street: u32) -> (Agency, u32) {
    match agency {
        Agency::Mediation | Agency::Court => (agency, 0),
        _ => (agency, street),
    }
}

const COURT: Actor = Actor {
    role: Role::Department,
    person: PersonId(9_000_101),
};
const REGISTRY: Actor = Actor {
    role: Role::Department,
    person: PersonId(9_000_103),
};
const CREDIT_REVIEWER: Actor = Actor {
    role: Role::Reviewer,
    person: PersonId(9_000_201),
};

fn receiver_actor(r: baoan_api::cases::CreditReceiver) -> Actor {
    let n = baoan_api::cases::CreditReceiver::ALL
        .iter()
        .position(|&x| x == r)
        .expect("receiver") as u32;
    Actor {
        role: Role::Department,
        person: PersonId(9_000_110 + n),
    }
}

/// Poisson arrival times over the run at `per_day`.
fn arrivals(rng: &mut ChaCha8Rng, per_day: f64, end_ms: u64) -> Vec<u64> {
    if per_day <= 0.0 {
        return Vec::new();
    }
    let gap = Exp::new(per_day / DAY as f64).expect("positive rate");
    let mut t = 0.0;
    let mut out = Vec::new();
    loop {
        t += gap.sample(rng);
        if t >= end_ms as f64 {
            return out;
        }
        out.push(t as u64);
    }
}

fn bernoulli(rng: &mut ChaCha8Rng, p: f64) -> bool {
    rng.random::<f64>() < p.clamp(0.0, 1.0)
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

/// Teams, the case directory, care enrolments, and every arrival of the run on the agenda.
fn setup(
    twin: Res<Twin>,
    config: Res<CasesConfig>,
    streams: Res<Streams>,
    mut truth: ResMut<CasesTruth>,
    mut state: ResMut<CasesState>,
    mut ledger: ResMut<CasesLedger>,
    mut bridge: ResMut<StackBridge>,
    mut agenda: ResMut<Agenda<CasesAction>>,
) {
    let k = &config.loop_;
    let end = config.end_ms;
    let district = &twin.district;
    let pop = &twin.population;
    let residents = pop.residents() as f64;
    let streets = district.streets.len() as u32;

    // Teams sized to the expected load: cases a day times the share needing the agency times
    // hours of work, over a working day of nine hours, times the staffing factor.
    let cases_per_day = k.disputes_per_100k_per_day * residents / 100_000.0;
    let mut directory = CaseDirectory::default();
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
    for c in &district.communities {
        for w in 0..k.care_workers_per_community {
            directory.care_workers.push(CareWorkerEntry {
                person: care_worker(c.id, w),
                community: c.id,
                street: c.street,
            });
        }
    }
    ledger.case_workers = directory.case_workers.len() as u64;
    ledger.care_workers = directory.care_workers.len() as u64;
    let setup_send = |bridge: &mut StackBridge, ledger: &mut CasesLedger, actor, command| {
        let l = &mut *ledger;
        crate::send_before_run(bridge, &mut l.refused, &mut l.notes, actor, command)
    };
    setup_send(
        &mut bridge,
        &mut ledger,
        staff::ADMIN,
        Command::LoadCaseDirectory { directory },
    );

    // Disputes: households drawn from residents, so they follow where people live.
    let mut rng = streams.0.stream("cases/disputes");
    let severity = Beta::new(1.2, 3.0).expect("valid");
    let threshold = Exp::new(1.0).expect("valid");
    for at in arrivals(&mut rng, cases_per_day, end) {
        let r = rng.random_range(0..pop.residents() as u32);
        let room = pop.household_room[pop.resident_household[r as usize] as usize];
        let b = &pop.buildings[pop.building_of_room(room)];
        let grid = &district.grids[b.grid as usize];
        let u = rng.random::<f64>();
        let kind = if u < k.domestic_share {
            DisputeKind::Domestic
        } else if u < k.domestic_share + k.family_share {
            DisputeKind::Family
        } else {
            DisputeKind::Neighbour
        };
        let s: f64 = severity.sample(&mut rng);
        let base_rate = 0.002 + 0.25 * s * s;
        let e: f64 = threshold.sample(&mut rng);
        let g = HAZARD_GROWTH_PER_DAY;
        // With nobody acting: the cumulative hazard base/g (e^{g d} - 1) reaches e at d.
        let cf_days = (1.0 + g * e / base_rate).ln() / g;
        let cf_at = at + (cf_days * DAY as f64) as u64;
        truth.households.push(Household {
            kind,
            party: pop.id_number(r),
            grid: grid.id,
            street: grid.street,
            x: f64::from(b.position[0]),
            y: f64::from(b.position[1]),
            features: draw_features(&mut rng, kind, s),
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
        });
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

    // Credit: courts' records about the twin's people and companies.
    let mut rng = streams.0.stream("cases/credit");
    let scale_factor = residents / 4_480_000.0;
    // Ordered: subjects are drawn from it, and a run must not depend on hash order.
    let mut represented: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
    for (c, co) in pop.companies.iter().enumerate() {
        represented
            .entry(co.legal_representative)
            .or_default()
            .push(c);
    }
    let representatives: Vec<u32> = represented.keys().copied().collect();
    for at in arrivals(&mut rng, k.credit_events_per_day * scale_factor, end) {
        let event_ref = truth.credit.len() as u64 + 1;
        let dishonesty = bernoulli(&mut rng, 0.7);
        let (subject, links) = if !pop.companies.is_empty() && bernoulli(&mut rng, 0.6) {
            let c = rng.random_range(0..pop.companies.len());
            let rep = pop.companies[c].legal_representative;
            (
                Subject::Company {
                    credit_code: pop.credit_code(c),
                },
                vec![Subject::Person {
                    id_number: pop.id_number(rep),
                }],
            )
        } else {
            let r = if !represented.is_empty() && bernoulli(&mut rng, 0.5) {
                // Penalties fall more often on people who run companies.
                representatives[rng.random_range(0..representatives.len())]
            } else {
                rng.random_range(0..pop.residents() as u32)
            };
            let links = represented
                .get(&r)
                .into_iter()
                .flatten()
                .map(|&c| Subject::Company {
                    credit_code: pop.credit_code(c),
                })
                .collect();
            (
                Subject::Person {
                    id_number: pop.id_number(r),
                },
                links,
            )
        };
        let wrong = dishonesty && bernoulli(&mut rng, k.wrong_penalty_share);
        let kind = if dishonesty {
            CreditKind::Dishonesty
        } else {
            CreditKind::Trust
        };
        truth
            .credit
            .insert(event_ref, (subject.clone(), wrong, links));
        ledger.credit_kinds.insert(event_ref, kind);
        agenda.schedule(at, CasesAction::CreditEvent { event_ref });
    }

    // Business oversight: registrations (only against block data) and trading seen on patrol.
    if config.oversight {
        let mut rng = streams.0.stream("cases/registrations");
        let rooms_of = |kind: &dyn Fn(BuildingKind) -> bool| -> Vec<usize> {
            pop.buildings
                .iter()
                .enumerate()
                .filter(|(_, b)| kind(b.kind))
                .map(|(i, _)| i)
                .collect()
        };
        let commercial = rooms_of(&|k| matches!(k, BuildingKind::Commercial));
        let homes = rooms_of(&|k| matches!(k, BuildingKind::UrbanVillage | BuildingKind::Compound));
        let pick_room = |rng: &mut ChaCha8Rng, list: &[usize]| -> u32 {
            let b = &pop.buildings[list[rng.random_range(0..list.len())]];
            b.first_room + rng.random_range(0..b.rooms().max(1))
        };
        if !commercial.is_empty() && !homes.is_empty() {
            // A few flats receive every shell.
            let shell_flats: Vec<u32> = (0..4).map(|_| pick_room(&mut rng, &homes)).collect();
            let per_day = k.registrations_per_day * scale_factor;
            for (i, at) in arrivals(&mut rng, per_day, end).into_iter().enumerate() {
                let registration_ref = i as u64 + 1;
                let u = rng.random::<f64>();
                let t = if u < k.false_address_share {
                    RegistrationTruth::FalseAddress
                } else if u < k.false_address_share + k.shell_share {
                    RegistrationTruth::Shell
                } else if u < k.false_address_share + k.shell_share + k.misuse_share {
                    RegistrationTruth::Misuse
                } else {
                    RegistrationTruth::Honest
                };
                let scope = match rng.random_range(0..10) {
                    0..=4 => BusinessScope::Office,
                    5..=7 => BusinessScope::Retail,
                    8 => BusinessScope::Catering,
                    _ => BusinessScope::Manufacturing,
                };
                let (room, scope) = match t {
                    RegistrationTruth::FalseAddress => (pick_room(&mut rng, &commercial), scope),
                    RegistrationTruth::Shell => (
                        shell_flats[rng.random_range(0..shell_flats.len())],
                        BusinessScope::Office,
                    ),
                    // A shop's licence on a flat, or an office it never uses.
                    RegistrationTruth::Misuse if bernoulli(&mut rng, 0.5) => {
                        (pick_room(&mut rng, &homes), BusinessScope::Retail)
                    }
                    // Some small offices are run from home, lawfully.
                    RegistrationTruth::Honest if bernoulli(&mut rng, 0.05) => {
                        (pick_room(&mut rng, &homes), BusinessScope::Office)
                    }
                    RegistrationTruth::Misuse | RegistrationTruth::Honest => {
                        (pick_room(&mut rng, &commercial), scope)
                    }
                };
                let mut a = pop.address(district, room);
                if t == RegistrationTruth::FalseAddress {
                    // A real road, a house number it does not have.
                    a.number = 9_000 + rng.random_range(0..900);
                }
                let address = a.to_string();
                let serial = 50_000_000 + registration_ref;
                let rep = rng.random_range(0..pop.residents() as u32);
                truth.registrations.insert(registration_ref, t);
                agenda.schedule(
                    at,
                    CasesAction::Register(Box::new(Command::RegisterCompany {
                        registration_ref,
                        name: ids::company_name(serial, rng.random_range(0..8)),
                        credit_code: ids::compose_credit_code(
                            9,
                            1,
                            ids::SHENZHEN_BAOAN_CODE,
                            serial,
                        ),
                        legal_representative_id: pop.id_number(rep),
                        address,
                        scope,
                        observed_at: at,
                    })),
                );
            }
            let per_day = k.trading_reports_per_day * scale_factor;
            for (i, at) in arrivals(&mut rng, per_day, end).into_iter().enumerate() {
                let report_ref = i as u64 + 1;
                let unlicensed = bernoulli(&mut rng, k.unlicensed_share);
                let room = if unlicensed || pop.companies.is_empty() {
                    pick_room(&mut rng, &homes)
                } else {
                    pop.companies[rng.random_range(0..pop.companies.len())].room
                };
                truth
                    .trading
                    .insert(report_ref, !unlicensed && !pop.companies.is_empty());
                agenda.schedule(
                    working_time(at),
                    CasesAction::Trading {
                        report_ref,
                        address: pop.address(district, room).to_string(),
                    },
                );
            }
        }
    }

    // Care: residents enrolled at the start, visited by their community's workers.
    let mut rng = streams.0.stream("cases/care");
    let enrolled = (residents * k.care_per_1000 / 1_000.0).round() as u64;
    for care_ref in 1..=enrolled {
        let r = rng.random_range(0..pop.residents() as u32);
        let room = pop.household_room[pop.resident_household[r as usize] as usize];
        let grid = pop.buildings[pop.building_of_room(room)].grid;
        let community = district.grids[grid as usize].community;
        let category = match rng.random_range(0..20) {
            0..=8 => CareCategory::ElderlyAlone,
            9..=13 => CareCategory::Disability,
            14..=16 => CareCategory::LeftBehindChild,
            _ => CareCategory::MentalHealth,
        };
        truth.care.insert(care_ref, (community, category));
        let interval_days = care_interval(category);
        if let Some(out) = setup_send(
            &mut bridge,
            &mut ledger,
            Actor {
                role: Role::CareWorker,
                person: care_worker(community, 0),
            },
            Command::EnrolCare {
                care_ref,
                community,
                category,
                interval_days,
            },
        ) {
            for o in out {
                if let Outcome::CareEnrolled { care, .. } = o {
                    truth.care_id.insert(care_ref, care);
                }
            }
        }
        // Residents were enrolled long before the run: their next visits are spread over the
        // first interval (the platform starts counting at enrolment, so these are on time).
        let interval = u64::from(interval_days) * DAY;
        let first = (interval as f64 * rng.random_range(0.0..0.95)) as u64;
        if first < end {
            agenda.schedule(working_time(first), CasesAction::CareVisit { care_ref });
        }
    }
    ledger.care_enrolled = enrolled;
    state.rng = Some(streams.0.stream("cases/agencies"));
    state.next_case_ref = 1;
}

/// Days between follow-up visits, by category.
pub fn care_interval(c: CareCategory) -> u16 {
    match c {
        CareCategory::ElderlyAlone => 7,
        CareCategory::Disability => 30,
        CareCategory::LeftBehindChild | CareCategory::MentalHealth => 14,
    }
}

/// Visits a care worker makes in a day.
const CARE_VISITS_PER_DAY: u32 = 6;

fn act(
    clock: Res<SimClock>,
    config: Res<CasesConfig>,
    mut truth: ResMut<CasesTruth>,
    mut state: ResMut<CasesState>,
    mut ledger: ResMut<CasesLedger>,
    mut agenda: ResMut<Agenda<CasesAction>>,
    mut em: Option<ResMut<crate::command::Emergencies>>,
    mut command_ledger: Option<ResMut<crate::command::CommandLedger>>,
    mut out: MessageWriter<ToStack>,
) {
    let state = &mut *state;
    let end = config.end_ms;
    let mut rng = state.rng.take().expect("set up");
    // What the platform said last tick.
    for (at, o) in std::mem::take(&mut state.heard) {
        match o {
            Outcome::CaseOpened { case, tasks, .. }
            | Outcome::CaseReassessed { case, tasks, .. } => {
                // A reassessment lists new tasks and tasks whose deadline moved: only the new
                // ones need workers (those already booked keep their booking).
                let known = truth.case_tasks.entry(case).or_default();
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
                plan_tasks(
                    &mut state.teams,
                    &mut rng,
                    &truth,
                    case,
                    &new,
                    at,
                    end,
                    &mut agenda,
                );
            }
            Outcome::CaseEscalated { case, .. } => {
                if let Some(&h) = truth.case_household.get(&case) {
                    let hh = &truth.households[h];
                    crate::command::expect_police(
                        em.as_deref_mut(),
                        command_ledger.as_deref_mut(),
                        baoan_api::cases::CASE_REF_BASE + case,
                        hh.grid,
                        hh.x,
                        hh.y,
                        at,
                    );
                }
            }
            Outcome::CreditRecorded { deliveries, .. } => {
                for d in deliveries {
                    // Receiving bodies apply what they get within hours, a few after days.
                    let delay = if bernoulli(&mut rng, 0.03) {
                        DAY + (Exp::new(1.0 / (2.0 * DAY as f64))
                            .expect("rate")
                            .sample(&mut rng) as u64)
                    } else {
                        (LogNormal::new((2.0 * HOUR as f64).ln(), 0.8)
                            .expect("valid")
                            .sample(&mut rng)) as u64
                    };
                    let when = working_time(at + delay);
                    if when < end {
                        agenda.schedule(
                            when,
                            CasesAction::Acknowledge {
                                delivery: d.delivery,
                            },
                        );
                    }
                }
            }
            Outcome::CreditRevoked { deliveries, .. } => {
                for d in deliveries {
                    let delay = (LogNormal::new((2.0 * HOUR as f64).ln(), 0.8)
                        .expect("valid")
                        .sample(&mut rng)) as u64;
                    let when = working_time(at + delay);
                    if when < end {
                        agenda.schedule(
                            when,
                            CasesAction::Acknowledge {
                                delivery: d.delivery,
                            },
                        );
                    }
                }
            }
            Outcome::RegistrationChecked {
                registration_ref,
                task: Some(task),
                ..
            } => {
                // An inspector checks the premises within days, in working hours.
                let wait = Exp::new(1.0 / (2.0 * DAY as f64))
                    .expect("rate")
                    .sample(&mut rng) as u64;
                let when = working_time(at + wait);
                if when < end {
                    agenda.schedule(
                        when,
                        CasesAction::Premises {
                            task,
                            registration_ref,
                        },
                    );
                }
            }
            Outcome::CareVisitRecorded {
                care,
                service: Some(service),
                ..
            } => {
                let community = truth
                    .care_id
                    .iter()
                    .find(|&(_, &id)| id == care)
                    .and_then(|(r, _)| truth.care.get(r))
                    .map_or(0, |&(c, _)| c);
                let wait = Exp::new(1.0 / (2.0 * DAY as f64))
                    .expect("rate")
                    .sample(&mut rng) as u64;
                let when = working_time(at + wait);
                if when < end {
                    agenda.schedule(when, CasesAction::CareService { service, community });
                }
            }
            _ => {}
        }
    }

    while let Some((at, action)) = agenda.pop_before(clock.tick_end()) {
        match action {
            CasesAction::Dispute(h) => {
                let case_ref = state.next_case_ref;
                state.next_case_ref += 1;
                truth.ref_household.insert(case_ref, h);
                let hh = &truth.households[h];
                let source = match rng.random_range(0..10) {
                    0..=4 => CaseSource::PoliceCall,
                    5..=6 => CaseSource::Inspector,
                    _ => CaseSource::Community,
                };
                let actor = match source {
                    CaseSource::PoliceCall => staff::HOTLINE,
                    CaseSource::Inspector => Actor {
                        role: Role::Inspector,
                        person: staff::inspector(hh.grid),
                    },
                    CaseSource::Community => Actor {
                        role: Role::Caseworker,
                        person: case_worker(Agency::Community, hh.street, 0),
                    },
                };
                ledger.disputes_opened += 1;
                send(
                    &mut out,
                    actor,
                    at,
                    Command::OpenCase {
                        case_ref,
                        source,
                        kind: hh.kind,
                        grid: hh.grid,
                        street: hh.street,
                        x_m: hh.x,
                        y_m: hh.y,
                        features: hh.features,
                        observed_at: at,
                    },
                    TAG_CASE | case_ref,
                );
            }
            CasesAction::Violence { household, version } => {
                let hh = &mut truth.households[household];
                if hh.version != version || hh.violent_at.is_some() {
                    continue;
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
                let case_ref = state.next_case_ref;
                state.next_case_ref += 1;
                truth.ref_household.insert(case_ref, household);
                // Violence after a protection order is a breach: the court records it against
                // the party, a dishonesty record from the case.
                if let Some(party) = breach {
                    let event_ref = BREACH_REF_BASE + household as u64;
                    truth.credit.insert(
                        event_ref,
                        (Subject::Person { id_number: party }, false, Vec::new()),
                    );
                    ledger
                        .credit_kinds
                        .insert(event_ref, CreditKind::Dishonesty);
                    let when = working_time(at + DAY);
                    if when < end {
                        agenda.schedule(when, CasesAction::CreditEvent { event_ref });
                    }
                }
                let hh = &truth.households[household];
                send(
                    &mut out,
                    staff::HOTLINE,
                    at,
                    Command::OpenCase {
                        case_ref,
                        source: CaseSource::PoliceCall,
                        kind: hh.kind,
                        grid: hh.grid,
                        street: hh.street,
                        x_m: hh.x,
                        y_m: hh.y,
                        features,
                        observed_at: at,
                    },
                    TAG_CASE | case_ref,
                );
            }
            CasesAction::Act { tasks } => {
                let case = tasks[0].case;
                let household = truth.case_household.get(&case).copied();
                for t in &tasks {
                    let findings = household.filter(|_| t.agency.visits()).map(|h| {
                        let hh = &truth.households[h];
                        let mut f = hh.features;
                        f.violence |= hh.violent_at.is_some_and(|v| v <= at);
                        f.escalating = hh.rate_at(at) > 1.5 * hh.base_rate;
                        f
                    });
                    if let Some(h) = household {
                        let hh = &mut truth.households[h];
                        if hh.violent_at.is_none() {
                            hh.act(at, t.agency);
                            let v = hh.violence_time();
                            if v < end {
                                let version = hh.version;
                                agenda.schedule(
                                    v.max(at),
                                    CasesAction::Violence {
                                        household: h,
                                        version,
                                    },
                                );
                            }
                        } else {
                            hh.actions.push((at, t.agency));
                        }
                    }
                    let street = household.map_or(0, |h| truth.households[h].street);
                    let (ag, st) = team_key(t.agency, street);
                    send(
                        &mut out,
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
                truth
                    .case_done
                    .entry(case)
                    .or_default()
                    .extend(tasks.iter().map(|t| t.task));
                let all = truth.case_tasks.get(&case).map_or(0, Vec::len);
                if truth.case_done[&case].len() == all && state.closing.insert(case) {
                    // The community worker closes the case the next working morning.
                    let when = working_time((at / DAY + 1) * DAY);
                    if when < end {
                        agenda.schedule(when, CasesAction::Close { case });
                    }
                }
            }
            CasesAction::Close { case } => {
                state.closing.remove(&case);
                let done = truth.case_done.get(&case).map_or(0, |d| d.len());
                let all = truth.case_tasks.get(&case).map_or(0, Vec::len);
                if done < all {
                    // A reassessment added work since: closed when that is done.
                    continue;
                }
                let Some(&h) = truth.case_household.get(&case) else {
                    continue;
                };
                let hh = &truth.households[h];
                let settled = hh.violent_at.is_none() && hh.rate_at(at) < 0.02;
                send(
                    &mut out,
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
            CasesAction::CreditEvent { event_ref } => {
                let (subject, _, _) = truth.credit[&event_ref].clone();
                let kind = ledger.credit_kinds[&event_ref];
                send(
                    &mut out,
                    COURT,
                    at,
                    Command::RecordCreditEvent {
                        event_ref,
                        subject,
                        kind,
                        source: if event_ref >= BREACH_REF_BASE {
                            CreditSource::Case
                        } else {
                            CreditSource::Court
                        },
                        observed_at: at,
                    },
                    TAG_CREDIT | event_ref,
                );
            }
            CasesAction::Acknowledge { delivery } => {
                let Some(receiver) = ledger.delivery_receiver.get(&delivery).copied() else {
                    continue;
                };
                send(
                    &mut out,
                    receiver_actor(receiver),
                    at,
                    Command::AcknowledgeCredit { delivery },
                    TAG_CREDIT | delivery,
                );
            }
            CasesAction::Appeal { event, upheld } => {
                send(
                    &mut out,
                    CREDIT_REVIEWER,
                    at,
                    Command::AppealCredit { event, upheld },
                    TAG_CREDIT | event,
                );
            }
            CasesAction::Register(command) => {
                let Command::RegisterCompany {
                    registration_ref, ..
                } = *command
                else {
                    continue;
                };
                send(
                    &mut out,
                    REGISTRY,
                    at,
                    *command,
                    TAG_REGISTRATION | registration_ref,
                );
            }
            CasesAction::Premises {
                task,
                registration_ref,
            } => {
                let t = truth.registrations[&registration_ref];
                send(
                    &mut out,
                    Actor {
                        role: Role::Inspector,
                        person: staff::inspector(
                            ledger
                                .registration_grid
                                .get(&registration_ref)
                                .copied()
                                .unwrap_or(0),
                        ),
                    },
                    at,
                    Command::ReportPremises {
                        task,
                        finding: PremisesFinding {
                            place_exists: t != RegistrationTruth::FalseAddress,
                            business_present: t == RegistrationTruth::Honest,
                        },
                    },
                    TAG_REGISTRATION | task,
                );
            }
            CasesAction::Trading {
                report_ref,
                address,
            } => {
                send(
                    &mut out,
                    Actor {
                        role: Role::Inspector,
                        person: staff::inspector(0),
                    },
                    at,
                    Command::ReportTrading {
                        report_ref,
                        address,
                    },
                    TAG_OTHER | report_ref,
                );
            }
            CasesAction::CareVisit { care_ref } => {
                let Some(&care) = truth.care_id.get(&care_ref) else {
                    continue;
                };
                let (community, category) = truth.care[&care_ref];
                // The community's worker with room in their day, else the next day.
                let mut day = at / DAY;
                let mut chosen = None;
                while chosen.is_none() {
                    for w in 0..config.loop_.care_workers_per_community {
                        let booked = state
                            .care_booked
                            .entry((community * 1_000 + w, day))
                            .or_default();
                        if *booked < CARE_VISITS_PER_DAY {
                            *booked += 1;
                            chosen = Some(w);
                            break;
                        }
                    }
                    if chosen.is_none() {
                        day += 1;
                    }
                }
                let when = if day == at / DAY {
                    at
                } else {
                    working_time(day * DAY) + rng.random_range(0..8 * HOUR)
                };
                if when >= end {
                    continue;
                }
                if when > at {
                    // Re-queued to the day with room; the booking above holds it.
                    agenda.schedule(when, CasesAction::CareVisit { care_ref });
                    state
                        .care_booked
                        .entry((community * 1_000 + chosen.expect("chosen"), day))
                        .and_modify(|b| *b -= 1);
                    continue;
                }
                send(
                    &mut out,
                    Actor {
                        role: Role::CareWorker,
                        person: care_worker(community, chosen.expect("chosen")),
                    },
                    at,
                    Command::RecordCareVisit {
                        care,
                        need_found: bernoulli(&mut rng, 0.1),
                    },
                    TAG_CARE | care_ref,
                );
                // The next visit: about one interval on.
                let interval = f64::from(care_interval(category)) * DAY as f64;
                let next = at + (interval * rng.random_range(0.75..1.02)) as u64;
                if next < end {
                    agenda.schedule(working_time(next), CasesAction::CareVisit { care_ref });
                }
            }
            CasesAction::CareService { service, community } => {
                send(
                    &mut out,
                    Actor {
                        role: Role::CareWorker,
                        person: care_worker(community, 0),
                    },
                    at,
                    Command::CompleteCareService { service },
                    TAG_CARE | service,
                );
            }
        }
    }
    state.rng = Some(rng);
}

/// Book agency workers for a case's new tasks: a joint visit's agencies go together.
#[allow(clippy::too_many_arguments)]
fn plan_tasks(
    teams: &mut BTreeMap<(Agency, u32), Team>,
    rng: &mut ChaCha8Rng,
    truth: &CasesTruth,
    case: u64,
    tasks: &[CaseTask],
    at: u64,
    end: u64,
    agenda: &mut Agenda<CasesAction>,
) {
    let street = truth
        .case_household
        .get(&case)
        .map_or(0, |&h| truth.households[h].street);
    let mut groups: BTreeMap<u64, Vec<CaseTask>> = BTreeMap::new();
    let mut single = Vec::new();
    for t in tasks {
        match t.joint_visit {
            Some(v) => groups.entry(v).or_default().push(t.clone()),
            None => single.push(vec![t.clone()]),
        }
    }
    for group in groups.into_values().chain(single) {
        // Each worker reads the task within half an hour (minutes for police on an urgent one).
        let urgent = group.iter().any(|t| t.due_at <= at + 4 * HOUR);
        let react = if urgent {
            10.0 * 60_000.0
        } else {
            30.0 * 60_000.0
        };
        let ready = at + Exp::new(1.0 / react).expect("rate").sample(rng) as u64;
        let mut start = ready;
        let mut works = Vec::new();
        for t in &group {
            let key = team_key(t.agency, street);
            let work = (LogNormal::new((service_hours(t.agency) * HOUR as f64).ln(), 0.5)
                .expect("valid")
                .sample(rng)) as u64;
            let around = t.agency == Agency::Police && urgent;
            let team = teams.get_mut(&key).expect("every agency has a team");
            let (w, s, _) = team.book(ready, work, around);
            start = start.max(s);
            works.push((key, w, work));
        }
        // The joint visit waits for its last member; each member is busy until it ends.
        let mut done = start;
        for (key, w, work) in works {
            let team = teams.get_mut(&key).expect("team");
            team.free_at[w] = team.free_at[w].max(start + work);
            done = done.max(start + work);
        }
        if done < end {
            agenda.schedule(done, CasesAction::Act { tasks: group });
        }
    }
}

/// This tick's answers to the cases loops.
pub fn hear(
    config: Res<CasesConfig>,
    mut truth: ResMut<CasesTruth>,
    mut state: ResMut<CasesState>,
    mut ledger: ResMut<CasesLedger>,
    mut agenda: ResMut<Agenda<CasesAction>>,
    mut outcomes: MessageReader<FromStack>,
    mut refusals: MessageReader<Refused>,
) {
    for msg in outcomes.read() {
        if !record::is_cases_outcome(&msg.outcome) {
            continue;
        }
        if let (Outcome::CaseOpened { case, case_ref, .. }, Some(tag)) =
            (&msg.outcome, msg.client_ref)
            && tag & crate::command::TAG_MASK == TAG_CASE
            && let Some(&h) = truth.ref_household.get(case_ref)
        {
            truth.case_household.insert(*case, h);
        }
        if let Outcome::CreditRecorded {
            event, event_ref, ..
        } = &msg.outcome
            && let Some((_, wrong, _)) = truth.credit.get(event_ref)
        {
            // Wrong penalties are appealed within weeks and upheld; a tenth of right ones are
            // appealed and dismissed.
            let wrong = *wrong;
            let rng = state.rng.as_mut().expect("set up");
            let appeal = wrong
                || (ledger.credit_kinds.get(event_ref) == Some(&CreditKind::Dishonesty)
                    && bernoulli(rng, 0.1));
            if appeal {
                let wait = Exp::new(1.0 / (5.0 * DAY as f64))
                    .expect("rate")
                    .sample(rng) as u64;
                let when = working_time(msg.at + wait);
                if when < config.end_ms {
                    agenda.schedule(
                        when,
                        CasesAction::Appeal {
                            event: *event,
                            upheld: wrong,
                        },
                    );
                }
            }
        }
        ledger.take(&msg.outcome, msg.at);
        state.heard.push((msg.at, msg.outcome.clone()));
    }
    for r in refusals.read() {
        if r.envelope.command.module() != baoan_api::Module::Cases {
            continue;
        }
        let l = &mut *ledger;
        crate::note_refusal(&mut l.refused, &mut l.notes, r);
    }
}
