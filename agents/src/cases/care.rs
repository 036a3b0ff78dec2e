//! Care: residents in community care, visited by their community's care workers, each with a
//! day's capacity; needs found on a visit become services.

use baoan_api::cases::{CareCategory, CareWorkerEntry, CaseDirectory};
use baoan_api::{Actor, Command, Outcome, PersonId, Role};
use baoan_scenarios::CasesLoop;
use baoan_world::Twin;
use baoan_world::bridge::StackDoor;
use baoan_world::kernel::{Agenda, Streams};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::{
    CasesAction, CasesConfig, CasesLedger, CasesState, CasesTruth, DAY, HOUR, TAG_CARE, Tick,
    bernoulli, exp_wait, send, send_before_run, working_time,
};

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

pub(super) fn care_worker(community: u32, w: u32) -> PersonId {
    PersonId(5_000_000 + community * 100 + w)
}

/// Every community's care workers, listed in the case directory.
pub(super) fn list_care_workers(twin: &Twin, k: &CasesLoop, directory: &mut CaseDirectory) {
    for c in &twin.district.communities {
        for w in 0..k.care_workers_per_community {
            directory.care_workers.push(CareWorkerEntry {
                person: care_worker(c.id, w),
                community: c.id,
                street: c.street,
            });
        }
    }
}

/// Where a resident in care lives (their community) and why they are in care.
fn draw_resident(rng: &mut ChaCha8Rng, twin: &Twin) -> (u32, CareCategory) {
    let pop = &twin.population;
    let r = rng.random_range(0..pop.residents() as u32);
    let room = pop.household_room[pop.resident_household[r as usize] as usize];
    let grid = pop.buildings[pop.building_of_room(room)].grid;
    let community = twin.district.grids[grid as usize].community;
    let category = match rng.random_range(0..20) {
        0..=8 => CareCategory::ElderlyAlone,
        9..=13 => CareCategory::Disability,
        14..=16 => CareCategory::LeftBehindChild,
        _ => CareCategory::MentalHealth,
    };
    (community, category)
}

/// Residents enrolled at the start, and each one's first visit on the agenda.
pub(super) fn enrol(
    twin: &Twin,
    config: &CasesConfig,
    streams: &Streams,
    truth: &mut CasesTruth,
    ledger: &mut CasesLedger,
    door: &mut StackDoor,
    agenda: &mut Agenda<CasesAction>,
) {
    let residents = twin.population.residents() as f64;
    let mut rng = streams.0.stream("cases/care");
    let enrolled = (residents * config.loop_.care_per_1000 / 1_000.0).round() as u64;
    for care_ref in 1..=enrolled {
        let (community, category) = draw_resident(&mut rng, twin);
        truth.care.insert(care_ref, (community, category));
        let interval_days = care_interval(category);
        enrol_one(door, ledger, truth, care_ref, community, category);
        // Residents were enrolled long before the run: their next visits are spread over the
        // first interval (the platform starts counting at enrolment, so these are on time).
        let interval = u64::from(interval_days) * DAY;
        let first = (interval as f64 * rng.random_range(0.0..0.95)) as u64;
        if first < config.end_ms {
            agenda.schedule(working_time(first), CasesAction::CareVisit { care_ref });
        }
    }
    ledger.care_enrolled = enrolled;
}

/// Enrol one resident with the platform, keeping the stack's care id.
fn enrol_one(
    door: &mut StackDoor,
    ledger: &mut CasesLedger,
    truth: &mut CasesTruth,
    care_ref: u64,
    community: u32,
    category: CareCategory,
) {
    let Some(out) = send_before_run(
        door,
        ledger,
        Actor {
            role: Role::CareWorker,
            person: care_worker(community, 0),
        },
        Command::EnrolCare {
            care_ref,
            community,
            category,
            interval_days: care_interval(category),
        },
    ) else {
        return;
    };
    for o in out {
        if let Outcome::CareEnrolled { care, .. } = o {
            truth.care_id.insert(care_ref, care);
        }
    }
}

/// A need found on a visit: the community's worker provides the service within days.
pub(super) fn schedule_service(tick: &mut Tick, care: u64, service: u64, at: u64) {
    let community = tick
        .truth
        .care_id
        .iter()
        .find(|&(_, &id)| id == care)
        .and_then(|(r, _)| tick.truth.care.get(r))
        .map_or(0, |&(c, _)| c);
    let wait = exp_wait(tick.rng, 2.0 * DAY as f64);
    tick.schedule_in_run(
        working_time(at + wait),
        CasesAction::CareService { service, community },
    );
}

/// Book the community's first worker with room on the visit's day, else the next day with
/// room. Returns (worker, day).
fn book_worker(state: &mut CasesState, community: u32, workers: u32, at: u64) -> (u32, u64) {
    let mut day = at / DAY;
    let mut chosen = None;
    while chosen.is_none() {
        for w in 0..workers {
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
    (chosen.expect("chosen"), day)
}

/// A care worker visits, or the visit moves to the next day with room.
pub(super) fn visit(tick: &mut Tick, care_ref: u64, at: u64) {
    let Some(&care) = tick.truth.care_id.get(&care_ref) else {
        return;
    };
    let (community, category) = tick.truth.care[&care_ref];
    // The community's worker with room in their day, else the next day.
    let workers = tick.config.loop_.care_workers_per_community;
    let (w, day) = book_worker(tick.state, community, workers, at);
    let when = if day == at / DAY {
        at
    } else {
        working_time(day * DAY) + tick.rng.random_range(0..8 * HOUR)
    };
    if when >= tick.end() {
        return;
    }
    if when > at {
        // Re-queued to the day with room; the booking above holds it.
        tick.agenda
            .schedule(when, CasesAction::CareVisit { care_ref });
        tick.state
            .care_booked
            .entry((community * 1_000 + w, day))
            .and_modify(|b| *b -= 1);
        return;
    }
    send(
        tick.out,
        Actor {
            role: Role::CareWorker,
            person: care_worker(community, w),
        },
        at,
        Command::RecordCareVisit {
            care,
            need_found: bernoulli(tick.rng, 0.1),
        },
        TAG_CARE | care_ref,
    );
    // The next visit: about one interval on.
    let interval = f64::from(care_interval(category)) * DAY as f64;
    let next = at + (interval * tick.rng.random_range(0.75..1.02)) as u64;
    if next < tick.end() {
        tick.agenda
            .schedule(working_time(next), CasesAction::CareVisit { care_ref });
    }
}

/// The care worker completes a service.
pub(super) fn complete_service(tick: &mut Tick, service: u64, community: u32, at: u64) {
    send(
        tick.out,
        Actor {
            role: Role::CareWorker,
            person: care_worker(community, 0),
        },
        at,
        Command::CompleteCareService { service },
        TAG_CARE | service,
    );
}
