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
//!
//! Each loop's actors live in their own module, as the stack keeps the loops apart; this module
//! holds what they share (the truth, the working state, the agenda of actions) and the three
//! Bevy systems, which call the loops in a fixed order so random draws and messages keep theirs.

pub mod care;
pub mod credit;
mod definition;
pub mod disputes;
pub mod oversight;
pub mod record;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use baoan_api::cases::{CareCategory, CaseDirectory, CaseTask, Subject};
use baoan_api::{Actor, Command, Envelope, Outcome};
use baoan_scenarios::{CasesLoop, Scenario};
use baoan_world::Twin;
use baoan_world::bridge::{FromStack, Refused, StackDoor, ToStack};
use baoan_world::kernel::{Agenda, LoopSet, SimClock, SimSet, Streams};
use bevy_app::{App, Plugin, Startup, Update};
use bevy_ecs::prelude::*;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Exp};

pub use care::care_interval;
pub use definition::{Definition, NAME};
pub use disputes::Household;
pub use oversight::RegistrationTruth;
pub use record::{CasesLedger, CasesOutcome, finish};

use crate::handoff::PoliceLead;

/// The cases loops' systems in one stage of a tick, in the kernel's chain of loops.
fn step(stage: SimSet) -> LoopSet {
    LoopSet::new(NAME, stage)
}

/// client_ref tags of the cases loops' commands.
pub const TAG_CASE: u64 = crate::registry::tags::CASES.tag(0);
pub const TAG_ACTION: u64 = crate::registry::tags::CASES.tag(1);
pub const TAG_CREDIT: u64 = crate::registry::tags::CASES.tag(2);
pub const TAG_REGISTRATION: u64 = crate::registry::tags::CASES.tag(3);
pub const TAG_CARE: u64 = crate::registry::tags::CASES.tag(4);
pub const TAG_OTHER: u64 = crate::registry::tags::CASES.tag(5);
/// The case directory and care enrolments before the run; the report's checks after.
pub const TAG_SETUP: u64 = crate::registry::tags::CASES.tag(6);

const HOUR: u64 = 3_600_000;
const DAY: u64 = 24 * HOUR;

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

/// What the twin knows behind the cases loops' commands.
#[derive(Resource, Default)]
pub struct CasesTruth {
    pub households: Vec<Household>,
    /// Stack case id → household, and the case's tasks as the stack set them.
    pub case_household: HashMap<u64, usize>,
    pub case_tasks: HashMap<u64, Vec<CaseTask>>,
    pub case_done: HashMap<u64, BTreeSet<u64>>,
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
            .add_message::<PoliceLead>()
            .init_resource::<CasesTruth>()
            .init_resource::<CasesLedger>()
            .init_resource::<CasesState>()
            .init_resource::<Agenda<CasesAction>>()
            .add_systems(Startup, setup)
            .add_systems(Update, act.in_set(step(SimSet::Agents)))
            .add_systems(Update, hear.in_set(step(SimSet::Hear)));
    }
}

/// The twin's working state of the loops: teams, random streams, what waits for an answer.
#[derive(Resource, Default)]
pub struct CasesState {
    teams: BTreeMap<(baoan_api::cases::Agency, u32), disputes::Team>,
    rng: Option<ChaCha8Rng>,
    /// Care workers' visits booked per (worker, day).
    care_booked: HashMap<(u32, u64), u32>,
    /// Outcomes heard this tick, to act on in the next.
    heard: Vec<(u64, Outcome)>,
    /// Cases with a closing visit booked.
    closing: BTreeSet<u64>,
    next_case_ref: u64,
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

/// The district's size against Bao'an's 4.48 million residents, for rates given district-wide.
fn scale_factor(twin: &Twin) -> f64 {
    twin.population.residents() as f64 / 4_480_000.0
}

fn bernoulli(rng: &mut ChaCha8Rng, p: f64) -> bool {
    rng.random::<f64>() < p.clamp(0.0, 1.0)
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

/// Send a command before the run starts, counting a refusal in the loops' ledger.
fn send_before_run(
    door: &mut StackDoor,
    ledger: &mut CasesLedger,
    actor: Actor,
    command: Command,
) -> Option<Vec<Outcome>> {
    crate::send_before_run(door, TAG_SETUP, ledger, actor, command)
}

/// Teams, the case directory, care enrolments, and every arrival of the run on the agenda.
#[allow(clippy::too_many_arguments)]
fn setup(
    twin: Res<Twin>,
    config: Res<CasesConfig>,
    streams: Res<Streams>,
    mut truth: ResMut<CasesTruth>,
    mut state: ResMut<CasesState>,
    mut ledger: ResMut<CasesLedger>,
    mut door: StackDoor,
    mut agenda: ResMut<Agenda<CasesAction>>,
) {
    let k = &config.loop_;
    let residents = twin.population.residents() as f64;
    let cases_per_day = k.disputes_per_100k_per_day * residents / 100_000.0;
    let mut directory = CaseDirectory::default();
    disputes::staff_teams(&twin, k, cases_per_day, &mut state, &mut directory);
    care::list_care_workers(&twin, k, &mut directory);
    ledger.case_workers = directory.case_workers.len() as u64;
    ledger.care_workers = directory.care_workers.len() as u64;
    send_before_run(
        &mut door,
        &mut ledger,
        crate::staff::ADMIN,
        Command::LoadCaseDirectory { directory },
    );
    let (truth, agenda) = (&mut *truth, &mut *agenda);
    disputes::schedule(&twin, &config, cases_per_day, &streams, truth, agenda);
    credit::schedule(&twin, &config, &streams, truth, &mut ledger, agenda);
    if config.oversight {
        oversight::schedule(&twin, &config, &streams, truth, agenda);
    }
    care::enrol(
        &twin,
        &config,
        &streams,
        truth,
        &mut ledger,
        &mut door,
        agenda,
    );
    state.rng = Some(streams.0.stream("cases/agencies"));
    state.next_case_ref = 1;
}

/// What one tick of the loops reads and changes: the truth, the working state, the ledger, the
/// agenda, the loops' random stream and the messages to the stack.
struct Tick<'a, 'w> {
    config: &'a CasesConfig,
    truth: &'a mut CasesTruth,
    state: &'a mut CasesState,
    ledger: &'a mut CasesLedger,
    agenda: &'a mut Agenda<CasesAction>,
    rng: &'a mut ChaCha8Rng,
    out: &'a mut MessageWriter<'w, ToStack>,
}

impl Tick<'_, '_> {
    fn end(&self) -> u64 {
        self.config.end_ms
    }

    /// Put an action on the agenda if it falls within the run.
    fn schedule_in_run(&mut self, when: u64, action: CasesAction) {
        if when < self.end() {
            self.agenda.schedule(when, action);
        }
    }
}

/// One Bevy system for the four loops, so their random draws and messages keep one order:
/// first what the platform said last tick, then this tick's actions.
#[allow(clippy::too_many_arguments)]
fn act(
    clock: Res<SimClock>,
    config: Res<CasesConfig>,
    mut truth: ResMut<CasesTruth>,
    mut state: ResMut<CasesState>,
    mut ledger: ResMut<CasesLedger>,
    mut agenda: ResMut<Agenda<CasesAction>>,
    mut out: MessageWriter<ToStack>,
) {
    let state = &mut *state;
    let mut rng = state.rng.take().expect("set up");
    let heard = std::mem::take(&mut state.heard);
    let mut tick = Tick {
        config: &config,
        truth: &mut truth,
        state,
        ledger: &mut ledger,
        agenda: &mut agenda,
        rng: &mut rng,
        out: &mut out,
    };
    for (at, o) in heard {
        answer(&mut tick, at, o);
    }
    while let Some((at, action)) = tick.agenda.pop_before(clock.tick_end()) {
        do_action(&mut tick, at, action);
    }
    state.rng = Some(rng);
}

/// Act on one thing the platform said.
fn answer(tick: &mut Tick, at: u64, o: Outcome) {
    match o {
        Outcome::CaseOpened { case, tasks, .. } | Outcome::CaseReassessed { case, tasks, .. } => {
            disputes::take_tasks(tick, case, tasks, at)
        }
        Outcome::CreditRecorded { deliveries, .. } => {
            credit::schedule_acknowledgements(tick, &deliveries, at)
        }
        Outcome::CreditRevoked { deliveries, .. } => {
            credit::schedule_revocation_acknowledgements(tick, &deliveries, at)
        }
        Outcome::RegistrationChecked {
            registration_ref,
            task: Some(task),
            ..
        } => oversight::schedule_premises_check(tick, registration_ref, task, at),
        Outcome::CareVisitRecorded {
            care,
            service: Some(service),
            ..
        } => care::schedule_service(tick, care, service, at),
        _ => {}
    }
}

/// Do one action that fell due this tick.
fn do_action(tick: &mut Tick, at: u64, action: CasesAction) {
    match action {
        CasesAction::Dispute(h) => disputes::open_case(tick, h, at),
        CasesAction::Violence { household, version } => {
            disputes::turn_violent(tick, household, version, at)
        }
        CasesAction::Act { tasks } => disputes::do_tasks(tick, tasks, at),
        CasesAction::Close { case } => disputes::close_case(tick, case, at),
        CasesAction::CreditEvent { event_ref } => credit::record_event(tick, event_ref, at),
        CasesAction::Acknowledge { delivery } => credit::acknowledge(tick, delivery, at),
        CasesAction::Appeal { event, upheld } => credit::appeal(tick, event, upheld, at),
        CasesAction::Register(command) => oversight::register(tick, *command, at),
        CasesAction::Premises {
            task,
            registration_ref,
        } => oversight::check_premises(tick, task, registration_ref, at),
        CasesAction::Trading {
            report_ref,
            address,
        } => oversight::report_trading(tick, report_ref, address, at),
        CasesAction::CareVisit { care_ref } => care::visit(tick, care_ref, at),
        CasesAction::CareService { service, community } => {
            care::complete_service(tick, service, community, at)
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
    mut police: MessageWriter<PoliceLead>,
) {
    for msg in outcomes.read() {
        if !record::is_cases_outcome(&msg.outcome) {
            continue;
        }
        disputes::note_case_opened(&mut truth, msg);
        // Command's units hear of their dispatch at the start of the next tick: the household's
        // place must reach command before then, in this tick (command folds leads in after Hear).
        if let Outcome::CaseEscalated { case, .. } = msg.outcome {
            disputes::expect_police_at_household(&truth, case, msg.at, &mut police);
        }
        credit::maybe_appeal(&config, &truth, &ledger, &mut state, &mut agenda, msg);
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
