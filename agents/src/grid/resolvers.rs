//! Resolvers (整治员): department staff who receive dispatched tasks, accept them, ride to the
//! place, fix the item (or not quite), and report it resolved. One task at a time, earliest
//! deadline first; urgent items at any hour, the rest within working hours.

use std::collections::BTreeSet;

use baoan_api::catalogue::{Department, Urgency};
use baoan_api::{Actor, Command, Envelope, Outcome, PersonId, ResolverEntry, Role, TaskId};
use baoan_world::bridge::{FromStack, ToStack};
use baoan_world::kernel::{Agenda, SimClock, Streams, hour_of_day};
use baoan_world::{Mode, Twin};
use bevy_ecs::prelude::*;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, LogNormal};

use super::record::GridLedger;
use super::truth::GridTruth;
use super::{GridConfig, HANDLING_MEDIAN_MIN, WORK_END_MS, WORK_START_MS};

#[derive(Component, Debug, Clone)]
pub struct Resolver {
    pub person: PersonId,
    pub department: Department,
    pub community: u32,
    /// Where the resolver is now (a grid id).
    pub at_grid: u32,
    /// Tasks waiting: (deadline, task, grid).
    pub queue: BTreeSet<(u64, TaskId, u32)>,
    /// The task being worked on (accepted, travelling or on site).
    pub on_task: Option<TaskId>,
    /// How many times the resolver has taken up a task: a visit's accept and resolve carry it,
    /// so a visit cut short (the task moved away and back, even to the same resolver) does not
    /// act on the next visit's task.
    pub visit: u64,
    pub busy_ms: u64,
}

impl Resolver {
    pub fn new(person: PersonId, department: Department, community: u32, base_grid: u32) -> Self {
        Self {
            person,
            department,
            community,
            at_grid: base_grid,
            queue: BTreeSet::new(),
            on_task: None,
            visit: 0,
            busy_ms: 0,
        }
    }
}

#[derive(Resource, Debug, Clone)]
pub struct Resolvers {
    pub entities: Vec<Entity>,
    pub entries: Vec<ResolverEntry>,
}

impl Resolvers {
    fn entity(&self, person: PersonId) -> Option<Entity> {
        let index = person.0.checked_sub(crate::staff::resolver(0).0)? as usize;
        self.entities.get(index).copied()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResolverAction {
    /// Pick the next task if idle.
    Start { resolver: u32 },
    Accept {
        resolver: u32,
        task: TaskId,
        visit: u64,
    },
    Resolve {
        resolver: u32,
        task: TaskId,
        grid: u32,
        visit: u64,
    },
    /// The supervisor at the level a task escalated to looks at it.
    Supervise { task: TaskId },
}

/// The supervisor at a street or district centre (acting through the platform as a
/// dispatcher).
const SUPERVISOR: Actor = Actor {
    role: Role::Dispatcher,
    person: PersonId(4),
};

fn index_of(person: PersonId) -> u32 {
    person.0 - crate::staff::resolver(0).0
}

/// When a resolver may start on a task of this urgency at or after `t`.
fn start_time(t: u64, urgent: bool) -> u64 {
    if urgent {
        return t;
    }
    let day = t / 86_400_000 * 86_400_000;
    let clock = t - day;
    if clock < WORK_START_MS {
        day + WORK_START_MS
    } else if clock >= WORK_END_MS {
        day + 86_400_000 + WORK_START_MS
    } else {
        t
    }
}

/// Dispatches and reworks go into the resolver's queue; a reassigned task leaves its old
/// resolver's; an escalation brings the supervisor.
pub fn hear_outcomes(
    clock: Res<SimClock>,
    config: Res<GridConfig>,
    streams: Res<Streams>,
    resolvers: Res<Resolvers>,
    ledger: Res<GridLedger>,
    mut people: Query<&mut Resolver>,
    mut outcomes: MessageReader<FromStack>,
    mut rng: Local<Option<ChaCha8Rng>>,
    mut agenda: ResMut<Agenda<ResolverAction>>,
) {
    for msg in outcomes.read() {
        match &msg.outcome {
            Outcome::TaskEscalated { task, .. } => {
                if let Some(mean_ms) = config.supervision {
                    let rng = rng.get_or_insert_with(|| streams.0.stream("grid/supervisors"));
                    let at = msg.at + crate::exp_wait(rng, mean_ms as f64);
                    agenda.schedule(at, ResolverAction::Supervise { task: *task });
                }
                continue;
            }
            Outcome::TaskReassigned { task, from, .. } => {
                // The old resolver lets it go (mid-way if they had started on it).
                if let Some(mut r) = resolvers.entity(*from).and_then(|e| people.get_mut(e).ok()) {
                    r.queue.retain(|(_, t, _)| t != task);
                    if r.on_task == Some(*task) {
                        r.on_task = None;
                        agenda.schedule(
                            clock.now_ms.max(msg.at),
                            ResolverAction::Start {
                                resolver: index_of(*from),
                            },
                        );
                    }
                }
            }
            _ => {}
        }
        let (task, person, deadline) = match &msg.outcome {
            Outcome::TaskReassigned {
                task,
                to,
                deadline_at,
                ..
            } => (*task, *to, *deadline_at),
            Outcome::TaskDispatched {
                task,
                resolver,
                deadline_at,
            } => (*task, *resolver, *deadline_at),
            Outcome::TaskReworked { task, resolver } => {
                (*task, *resolver, ledger.deadline(*task).unwrap_or(u64::MAX))
            }
            _ => continue,
        };
        let Some(entity) = resolvers.entity(person) else {
            continue;
        };
        let Ok(mut r) = people.get_mut(entity) else {
            continue;
        };
        let grid = ledger.task_grid(task).unwrap_or(r.at_grid);
        r.queue.insert((deadline, task, grid));
        if r.on_task.is_none() {
            // A resolver between tasks looks at the queue; extra wake-ups are harmless.
            let urgent = ledger.urgency(task) == Some(Urgency::Urgent);
            agenda.schedule(
                start_time(clock.now_ms.max(msg.at), urgent),
                ResolverAction::Start {
                    resolver: index_of(person),
                },
            );
        }
    }
}

/// The resolvers' working day.
pub fn work(
    clock: Res<SimClock>,
    twin: Res<Twin>,
    config: Res<GridConfig>,
    streams: Res<Streams>,
    resolvers: Res<Resolvers>,
    ledger: Res<GridLedger>,
    mut truth: ResMut<GridTruth>,
    mut people: Query<&mut Resolver>,
    mut rng: Local<Option<ChaCha8Rng>>,
    mut agenda: ResMut<Agenda<ResolverAction>>,
    mut out: MessageWriter<ToStack>,
) {
    let rng = rng.get_or_insert_with(|| streams.0.stream("grid/resolvers"));
    while let Some((at, action)) = agenda.pop_before(clock.tick_end()) {
        match action {
            ResolverAction::Start { resolver } => {
                let entity = resolvers.entities[resolver as usize];
                let mut r = people.get_mut(entity).expect("resolver entity");
                if r.on_task.is_some() {
                    continue;
                }
                // Escalated work first (the supervisor's word), then urgent work; otherwise
                // earliest deadline first.
                let escalated = config.supervision.is_some();
                let next = r
                    .queue
                    .iter()
                    .find(|(_, task, _)| escalated && ledger.escalated(*task))
                    .or_else(|| {
                        r.queue
                            .iter()
                            .find(|(_, task, _)| ledger.urgency(*task) == Some(Urgency::Urgent))
                    })
                    .or_else(|| r.queue.first())
                    .copied();
                let Some(entry) = next else { continue };
                let urgent = ledger.urgency(entry.1) == Some(Urgency::Urgent);
                let when = start_time(at, urgent);
                if when > at {
                    agenda.schedule(when, ResolverAction::Start { resolver });
                    continue;
                }
                r.queue.remove(&entry);
                r.on_task = Some(entry.1);
                r.visit += 1;
                let visit = r.visit;
                let accept_at = at + rng.random_range(60_000..10 * 60_000);
                agenda.schedule(
                    accept_at,
                    ResolverAction::Accept {
                        resolver,
                        task: entry.1,
                        visit,
                    },
                );
                let hour = hour_of_day(accept_at);
                let travel_ms =
                    (twin.travel.seconds(Mode::EBike, r.at_grid, entry.2, hour) * 1000.0) as u64;
                let urgency = ledger.urgency(entry.1).unwrap_or(Urgency::Normal);
                let median = HANDLING_MEDIAN_MIN[urgency as usize] * 60_000.0;
                let handling_ms =
                    LogNormal::new(median.ln(), 0.5).expect("valid").sample(rng) as u64;
                let done = accept_at + travel_ms + handling_ms;
                r.busy_ms += done - at;
                agenda.schedule(
                    done,
                    ResolverAction::Resolve {
                        resolver,
                        task: entry.1,
                        grid: entry.2,
                        visit,
                    },
                );
            }
            ResolverAction::Supervise { task } => supervise(at, task, &ledger, &mut out),
            ResolverAction::Accept {
                resolver,
                task,
                visit,
            } => {
                if !on(&resolvers, &people, resolver, (task, visit)) {
                    continue; // reassigned while on the way
                }
                let person = crate::staff::resolver(resolver);
                let actor = Actor {
                    role: Role::Resolver,
                    person,
                };
                out.write(ToStack {
                    envelope: Envelope {
                        actor,
                        sent_at: at,
                        command: Command::AcceptTask { task },
                    },
                    client_ref: task.0,
                });
            }
            ResolverAction::Resolve {
                resolver,
                task,
                grid,
                visit,
            } => {
                if !on(&resolvers, &people, resolver, (task, visit)) {
                    continue;
                }
                // The accept has not reached the platform yet (a fault on the path held it):
                // the app will not mark the task resolved before, so the resolver tries again
                // in a minute.
                if ledger.holds_open(task) && !ledger.accepted(task) {
                    agenda.schedule(
                        at + config.resolve_retry_ms,
                        ResolverAction::Resolve {
                            resolver,
                            task,
                            grid,
                            visit,
                        },
                    );
                    continue;
                }
                let fix_holds = rng.random::<f64>() >= config.rework_share;
                for item in ledger.task_items(task) {
                    if let Some(it) = truth.items.get_mut(&item) {
                        it.fixed = fix_holds;
                    }
                }
                let person = crate::staff::resolver(resolver);
                let actor = Actor {
                    role: Role::Resolver,
                    person,
                };
                out.write(ToStack {
                    envelope: Envelope {
                        actor,
                        sent_at: at,
                        command: Command::ResolveTask { task },
                    },
                    client_ref: task.0,
                });
                let entity = resolvers.entities[resolver as usize];
                let mut r = people.get_mut(entity).expect("resolver entity");
                r.at_grid = grid;
                r.on_task = None;
                agenda.schedule(at, ResolverAction::Start { resolver });
            }
        }
    }
}

/// The supervisor asks the platform to move an escalated task still open.
fn supervise(at: u64, task: TaskId, ledger: &GridLedger, out: &mut MessageWriter<ToStack>) {
    if !ledger.holds_open(task) {
        return; // closed before the supervisor came to it
    }
    out.write(ToStack {
        envelope: Envelope {
            actor: SUPERVISOR,
            sent_at: at,
            command: Command::ReassignTask { task },
        },
        client_ref: super::truth::TAG_SUPERVISOR | task.0,
    });
}

/// Whether the resolver is still on this visit to the task (a supervisor may have moved it,
/// and moved it back).
fn on(
    resolvers: &Resolvers,
    people: &Query<&mut Resolver>,
    resolver: u32,
    (task, visit): (TaskId, u64),
) -> bool {
    people
        .get(resolvers.entities[resolver as usize])
        .is_ok_and(|r| r.on_task == Some(task) && r.visit == visit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_urgent_work_starts_at_night() {
        let night = 23 * 3_600_000;
        assert_eq!(start_time(night, true), night);
        assert_eq!(start_time(night, false), 86_400_000 + WORK_START_MS);
        assert_eq!(start_time(3 * 3_600_000, false), WORK_START_MS);
        assert_eq!(start_time(10 * 3_600_000, false), 10 * 3_600_000);
    }
}
