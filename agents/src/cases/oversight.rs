//! Business oversight: companies registering at addresses, honest or not, the inspectors who
//! check the premises the platform flags, and trading they see on patrol.

use baoan_api::cases::{BusinessScope, PremisesFinding};
use baoan_api::{Actor, Command, PersonId, Role};
use baoan_scenarios::CasesLoop;
use baoan_world::Twin;
use baoan_world::ids;
use baoan_world::kernel::{Agenda, Streams};
use baoan_world::population::{BuildingKind, Population};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::{
    CasesAction, CasesConfig, CasesTruth, DAY, TAG_OTHER, TAG_REGISTRATION, Tick, arrivals,
    bernoulli, exp_wait, scale_factor, send, working_time,
};
use crate::staff;

const REGISTRY: Actor = Actor {
    role: Role::Department,
    person: PersonId(9_000_103),
};

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

/// The buildings companies register in: commercial ones, and homes.
struct Places<'a> {
    pop: &'a Population,
    commercial: Vec<usize>,
    homes: Vec<usize>,
    /// A few flats receive every shell.
    shell_flats: Vec<u32>,
}

impl<'a> Places<'a> {
    fn of(pop: &'a Population) -> Places<'a> {
        let buildings = |kind: &dyn Fn(BuildingKind) -> bool| -> Vec<usize> {
            pop.buildings
                .iter()
                .enumerate()
                .filter(|(_, b)| kind(b.kind))
                .map(|(i, _)| i)
                .collect()
        };
        Places {
            pop,
            commercial: buildings(&|k| matches!(k, BuildingKind::Commercial)),
            homes: buildings(&|k| matches!(k, BuildingKind::UrbanVillage | BuildingKind::Compound)),
            shell_flats: Vec::new(),
        }
    }

    fn pick_room(&self, rng: &mut ChaCha8Rng, list: &[usize]) -> u32 {
        let b = &self.pop.buildings[list[rng.random_range(0..list.len())]];
        b.first_room + rng.random_range(0..b.rooms().max(1))
    }

    fn commercial_room(&self, rng: &mut ChaCha8Rng) -> u32 {
        self.pick_room(rng, &self.commercial)
    }

    fn home(&self, rng: &mut ChaCha8Rng) -> u32 {
        self.pick_room(rng, &self.homes)
    }
}

/// Registrations (checked only against block data) and trading seen on patrol.
pub(super) fn schedule(
    twin: &Twin,
    config: &CasesConfig,
    streams: &Streams,
    truth: &mut CasesTruth,
    agenda: &mut Agenda<CasesAction>,
) {
    let mut rng = streams.0.stream("cases/registrations");
    let mut places = Places::of(&twin.population);
    if places.commercial.is_empty() || places.homes.is_empty() {
        return;
    }
    places.shell_flats = (0..4).map(|_| places.home(&mut rng)).collect();
    schedule_registrations(twin, config, &places, &mut rng, truth, agenda);
    schedule_trading(twin, config, &places, &mut rng, truth, agenda);
}

fn draw_truth(rng: &mut ChaCha8Rng, k: &CasesLoop) -> RegistrationTruth {
    let u = rng.random::<f64>();
    if u < k.false_address_share {
        RegistrationTruth::FalseAddress
    } else if u < k.false_address_share + k.shell_share {
        RegistrationTruth::Shell
    } else if u < k.false_address_share + k.shell_share + k.misuse_share {
        RegistrationTruth::Misuse
    } else {
        RegistrationTruth::Honest
    }
}

fn draw_scope(rng: &mut ChaCha8Rng) -> BusinessScope {
    match rng.random_range(0..10) {
        0..=4 => BusinessScope::Office,
        5..=7 => BusinessScope::Retail,
        8 => BusinessScope::Catering,
        _ => BusinessScope::Manufacturing,
    }
}

/// Where a registration says the company is, and what it says it does.
fn draw_premises(
    rng: &mut ChaCha8Rng,
    places: &Places,
    t: RegistrationTruth,
    scope: BusinessScope,
) -> (u32, BusinessScope) {
    match t {
        RegistrationTruth::FalseAddress => (places.commercial_room(rng), scope),
        RegistrationTruth::Shell => (
            places.shell_flats[rng.random_range(0..places.shell_flats.len())],
            BusinessScope::Office,
        ),
        // A shop's licence on a flat, or an office it never uses.
        RegistrationTruth::Misuse if bernoulli(rng, 0.5) => {
            (places.home(rng), BusinessScope::Retail)
        }
        // Some small offices are run from home, lawfully.
        RegistrationTruth::Honest if bernoulli(rng, 0.05) => {
            (places.home(rng), BusinessScope::Office)
        }
        RegistrationTruth::Misuse | RegistrationTruth::Honest => {
            (places.commercial_room(rng), scope)
        }
    }
}

/// Every company registration of the run, honest or not.
fn schedule_registrations(
    twin: &Twin,
    config: &CasesConfig,
    places: &Places,
    rng: &mut ChaCha8Rng,
    truth: &mut CasesTruth,
    agenda: &mut Agenda<CasesAction>,
) {
    let k = &config.loop_;
    let pop = &twin.population;
    let per_day = k.registrations_per_day * scale_factor(twin);
    for (i, at) in arrivals(rng, per_day, config.end_ms)
        .into_iter()
        .enumerate()
    {
        let registration_ref = i as u64 + 1;
        let t = draw_truth(rng, k);
        let scope = draw_scope(rng);
        let (room, scope) = draw_premises(rng, places, t, scope);
        let mut a = pop.address(&twin.district, room);
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
                credit_code: ids::compose_credit_code(9, 1, ids::SHENZHEN_BAOAN_CODE, serial),
                legal_representative_id: pop.id_number(rep),
                address,
                scope,
                observed_at: at,
            })),
        );
    }
}

/// Every report of trading seen on patrol, at a company's premises or an unlicensed home.
fn schedule_trading(
    twin: &Twin,
    config: &CasesConfig,
    places: &Places,
    rng: &mut ChaCha8Rng,
    truth: &mut CasesTruth,
    agenda: &mut Agenda<CasesAction>,
) {
    let k = &config.loop_;
    let pop = &twin.population;
    let per_day = k.trading_reports_per_day * scale_factor(twin);
    for (i, at) in arrivals(rng, per_day, config.end_ms)
        .into_iter()
        .enumerate()
    {
        let report_ref = i as u64 + 1;
        let unlicensed = bernoulli(rng, k.unlicensed_share);
        let room = if unlicensed || pop.companies.is_empty() {
            places.home(rng)
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
                address: pop.address(&twin.district, room).to_string(),
            },
        );
    }
}

/// A flagged registration: an inspector checks the premises within days, in working hours.
pub(super) fn schedule_premises_check(tick: &mut Tick, registration_ref: u64, task: u64, at: u64) {
    let wait = exp_wait(tick.rng, 2.0 * DAY as f64);
    tick.schedule_in_run(
        working_time(at + wait),
        CasesAction::Premises {
            task,
            registration_ref,
        },
    );
}

/// The registry passes a company's registration to the platform.
pub(super) fn register(tick: &mut Tick, command: Command, at: u64) {
    let Command::RegisterCompany {
        registration_ref, ..
    } = command
    else {
        return;
    };
    send(
        tick.out,
        REGISTRY,
        at,
        command,
        TAG_REGISTRATION | registration_ref,
    );
}

/// The inspector reports what the premises really are.
pub(super) fn check_premises(tick: &mut Tick, task: u64, registration_ref: u64, at: u64) {
    let t = tick.truth.registrations[&registration_ref];
    let grid = tick
        .ledger
        .registration_grid
        .get(&registration_ref)
        .copied()
        .unwrap_or(0);
    send(
        tick.out,
        Actor {
            role: Role::Inspector,
            person: staff::inspector(grid),
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

/// An inspector on patrol reports trading at an address.
pub(super) fn report_trading(tick: &mut Tick, report_ref: u64, address: String, at: u64) {
    send(
        tick.out,
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
