//! Grid inspectors (网格员): one per grid, patrolling on a daily rhythm, reporting what they find
//! (fixing small things on the spot), and verifying resolutions on site.

use baoan_api::catalogue::{self, Urgency};
use baoan_api::{Actor, Command, Envelope, Outcome, PersonId, ReportSource, Role, TaskId};
use baoan_world::bridge::{FromStack, ToStack};
use baoan_world::kernel::{Agenda, SimClock, Streams};
use baoan_world::{Mode, Twin};
use bevy_ecs::prelude::*;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::GridConfig;
use super::record::GridLedger;
use super::truth::GridTruth;
use crate::inspector_time::InspectorTime;

#[derive(Component, Debug, Clone)]
pub struct Inspector {
    pub person: PersonId,
    pub grid: u32,
}

/// Inspector entities by grid id.
#[derive(Resource, Debug, Clone)]
pub struct Inspectors(pub Vec<Entity>);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InspectorAction {
    /// Send the report of an item noticed at `seen_at`.
    Report { item: u64, seen_at: u64 },
    /// Go and check a resolved task.
    Verify { task: TaskId, grid: u32 },
}

/// The next moment at or after `t` that falls inside a shift, if any in the next week.
pub fn next_on_shift(t: u64, shifts: &[(u64, u64)]) -> u64 {
    let day_ms = 86_400_000;
    for day in t / day_ms..t / day_ms + 7 {
        for &(start, end) in shifts {
            let (s, e) = (day * day_ms + start, day * day_ms + end);
            if t < e {
                return t.max(s);
            }
        }
    }
    t
}

/// Verification requests addressed to inspectors become visits on their next patrol.
pub fn hear_outcomes(
    clock: Res<SimClock>,
    twin: Res<Twin>,
    config: Res<GridConfig>,
    streams: Res<Streams>,
    inspectors: Res<Inspectors>,
    people: Query<&Inspector>,
    ledger: Res<GridLedger>,
    mut rng: Local<Option<ChaCha8Rng>>,
    mut outcomes: MessageReader<FromStack>,
    mut time: ResMut<InspectorTime>,
    mut agenda: ResMut<Agenda<InspectorAction>>,
) {
    let rng = rng.get_or_insert_with(|| streams.0.stream("grid/inspectors"));
    for msg in outcomes.read() {
        let Outcome::VerificationRequested { task, verifier, .. } = &msg.outcome else {
            continue;
        };
        let Some(grid) = ledger.task_grid(*task) else {
            continue;
        };
        let own = verifier
            .0
            .checked_sub(crate::staff::inspector(0).0)
            .map(|g| g as usize);
        let Some(&entity) = own.and_then(|g| inspectors.0.get(g)) else {
            continue;
        };
        let Ok(inspector) = people.get(entity) else {
            continue;
        };
        // Urgent fixes (gas, live wires, open manholes) are checked at once, at any hour: the
        // platform runs 24x7. Everything else waits for the verifier's next shift.
        let ready = clock.now_ms.max(msg.at);
        let start = if ledger.urgency(*task) == Some(Urgency::Urgent) {
            ready
        } else {
            next_on_shift(ready, &config.shifts)
        };
        let travel_ms = (twin.travel.seconds(
            Mode::Walk,
            inspector.grid,
            grid,
            baoan_world::kernel::hour_of_day(start),
        ) * 1000.0) as u64;
        let wanted = start + travel_ms + rng.random_range(5 * 60_000..45 * 60_000);
        // The visit takes the inspector from patrol, after their other visits.
        let at = time.book(inspector.grid, wanted, "grid_verification", rng);
        agenda.schedule(
            at,
            InspectorAction::Verify {
                task: *task,
                grid: inspector.grid,
            },
        );
    }
}

/// Due reports and verifications, sent as the inspector would send them from the field app.
pub fn patrol_and_verify(
    clock: Res<SimClock>,
    config: Res<GridConfig>,
    streams: Res<Streams>,
    ledger: Res<GridLedger>,
    mut truth: ResMut<GridTruth>,
    mut time: ResMut<InspectorTime>,
    mut rngs: Local<Option<(ChaCha8Rng, ChaCha8Rng)>>,
    mut agenda: ResMut<Agenda<InspectorAction>>,
    mut out: MessageWriter<ToStack>,
) {
    let (rng, lost) = rngs.get_or_insert_with(|| {
        (
            streams.0.stream("grid/inspector-actions"),
            streams.0.stream("grid/lost-passes"),
        )
    });
    while let Some((at, action)) = agenda.pop_before(clock.tick_end()) {
        match action {
            InspectorAction::Report { item, seen_at } => {
                let Some(it) = truth.items.get(&item) else {
                    continue;
                };
                if time.away(it.grid, seen_at) {
                    // The sweep did not happen: the inspector was on a visit. The next pass
                    // (the item's place on the sweep is the same) may see it.
                    time.passes_lost += 1;
                    if let Some(next) = super::truth::discovery_time(
                        seen_at + 1,
                        it.phase,
                        &config,
                        config.end_ms,
                        lost,
                    ) {
                        agenda.schedule(
                            next + config.report_delay_ms,
                            InspectorAction::Report {
                                item,
                                seen_at: next,
                            },
                        );
                    }
                    continue;
                }
                if it.task.is_some() || it.fixed {
                    // Already on the platform (a resident called first): the app shows it.
                    truth.skipped_already_reported += 1;
                    continue;
                }
                let kind =
                    catalogue::item_type(it.item_type).expect("planted types are in the catalogue");
                let on_spot = kind.on_spot && rng.random::<f64>() < config.on_spot_share;
                let (grid, item_type) = (it.grid, it.item_type);
                if on_spot && rng.random::<f64>() >= config.rework_share {
                    truth.items.get_mut(&item).expect("present").fixed = true;
                }
                truth.inspector_reports += 1;
                truth.on_spot_reports += on_spot as u64;
                let actor = Actor {
                    role: Role::Inspector,
                    person: crate::staff::inspector(grid),
                };
                let command = Command::SubmitReport {
                    report_ref: item,
                    source: ReportSource::Inspector,
                    grid,
                    item_type,
                    observed_at: seen_at,
                    resolved_on_spot: on_spot,
                };
                out.write(ToStack {
                    envelope: Envelope {
                        actor,
                        sent_at: at,
                        command,
                    },
                    client_ref: item,
                });
            }
            InspectorAction::Verify { task, grid } => {
                let really_fixed = ledger
                    .task_items(task)
                    .iter()
                    .all(|i| truth.items.get(i).is_none_or(|it| it.fixed));
                // The finding may be wrong.
                let right = time.finding("grid_verification", rng);
                let passed = really_fixed == right;
                let actor = Actor {
                    role: Role::Inspector,
                    person: crate::staff::inspector(grid),
                };
                out.write(ToStack {
                    envelope: Envelope {
                        actor,
                        sent_at: at,
                        command: Command::VerifyTask { task, passed },
                    },
                    client_ref: task.0,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_shift_work_waits_for_the_next_shift() {
        let shifts = [
            (8 * 3_600_000, 12 * 3_600_000),
            (14 * 3_600_000, 18 * 3_600_000),
        ];
        assert_eq!(next_on_shift(9 * 3_600_000, &shifts), 9 * 3_600_000);
        assert_eq!(next_on_shift(13 * 3_600_000, &shifts), 14 * 3_600_000);
        assert_eq!(
            next_on_shift(19 * 3_600_000, &shifts),
            86_400_000 + 8 * 3_600_000
        );
    }
}
