//! The grid module under random sequences of commands — right and wrong senders, out-of-order
//! steps, time passing: a refused command changes nothing, the backlog always matches the tasks,
//! nobody verifies their own work, and every open task has a state (and a reason if unassigned).

use baoan_api::catalogue::{self, Department};
use baoan_api::{
    Actor, Command, Directory, Envelope, GridEntry, PersonId, ReportSource, ResolverEntry, Role,
    TaskId,
};
use baoan_grid::{GridService, TaskState};
use proptest::prelude::*;

const GRIDS: u32 = 4;

fn inspector(g: u32) -> PersonId {
    PersonId(100 + g)
}

fn directory(departments: &[Department]) -> Directory {
    let grids = (0..GRIDS)
        .map(|g| GridEntry {
            grid: g,
            community: g / 2,
            street: 0,
            inspector: inspector(g),
            neighbours: (0..GRIDS).filter(|&o| o != g).collect(),
        })
        .collect();
    let resolvers = departments
        .iter()
        .enumerate()
        .map(|(i, &d)| ResolverEntry {
            person: PersonId(500 + i as u32),
            department: d,
            community: (i % 2) as u32,
            street: 0,
        })
        .collect();
    Directory { grids, resolvers }
}

#[derive(Debug, Clone)]
enum Op {
    Report {
        grid: u32,
        item: u16,
        hotline: bool,
        on_spot: bool,
        wrong_sender: bool,
    },
    Accept {
        task: u64,
        person: u32,
    },
    Resolve {
        task: u64,
        person: u32,
    },
    Verify {
        task: u64,
        person: u32,
        passed: bool,
    },
    Advance {
        hours: u64,
    },
    Query {
        role: u8,
    },
    /// A supervisor moves an (escalated) task to a resolver with less work.
    Reassign {
        task: u64,
    },
    /// The task's rightful owner takes its next step (accept, resolve, or verify).
    Progress {
        task: u64,
        passed: bool,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..GRIDS + 1, 1u16..=160, any::<bool>(), any::<bool>(), prop::bool::weighted(0.1))
            .prop_map(|(grid, item, hotline, on_spot, wrong_sender)| Op::Report { grid, item, hotline, on_spot, wrong_sender }),
        3 => (1u64..10, 0u32..24).prop_map(|(task, person)| Op::Accept { task, person }),
        3 => (1u64..10, 0u32..24).prop_map(|(task, person)| Op::Resolve { task, person }),
        3 => (1u64..10, 0u32..24, any::<bool>()).prop_map(|(task, person, passed)| Op::Verify { task, person, passed }),
        1 => (0u64..100).prop_map(|hours| Op::Advance { hours }),
        1 => (0u8..7).prop_map(|role| Op::Query { role }),
        6 => (1u64..10, prop::bool::weighted(0.85)).prop_map(|(task, passed)| Op::Progress { task, passed }),
        2 => (1u64..10).prop_map(|task| Op::Reassign { task }),
    ]
}

/// People 0..4 are the inspectors, 4..12 the resolvers; 12 and above mean "whoever the task is
/// assigned to", so that sequences reach closure often enough to test it.
fn person(p: u32) -> Actor {
    if p < GRIDS {
        Actor {
            role: Role::Inspector,
            person: inspector(p),
        }
    } else {
        Actor {
            role: Role::Resolver,
            person: PersonId(500 + p - GRIDS),
        }
    }
}

fn assigned(s: &GridService, task: u64, p: u32, verifier: bool) -> Actor {
    if p < 12 {
        return person(p);
    }
    let t = s.task(TaskId(task));
    match (
        t.and_then(|t| if verifier { t.verifier } else { t.resolver }),
        verifier,
    ) {
        (Some(who), true) => Actor {
            role: Role::Inspector,
            person: who,
        },
        (Some(who), false) if who.0 < 500 => Actor {
            role: Role::Inspector,
            person: who,
        },
        (Some(who), false) => Actor {
            role: Role::Resolver,
            person: who,
        },
        (None, _) => person(p % 12),
    }
}

fn digest(s: &GridService) -> String {
    let tasks: Vec<String> = s
        .tasks()
        .iter()
        .map(|t| {
            format!(
                "{:?}/{:?}/{:?}/{}/{:?}/{:?}",
                t.state, t.resolver, t.verifier, t.reworks, t.escalation, t.closed_at
            )
        })
        .collect();
    format!("{tasks:?} {:?}", s.backlog())
}

/// Run one sequence, checking the books after every command; returns (closed, escalated).
/// A grid module with the test directory loaded by an administrator.
fn loaded(departments: &[Department]) -> GridService {
    let mut s = GridService::new();
    let admin = Actor {
        role: Role::Admin,
        person: PersonId(1),
    };
    s.handle(&Envelope {
        actor: admin,
        sent_at: 0,
        command: Command::LoadDirectory {
            directory: directory(departments),
        },
    })
    .unwrap();
    s
}

fn run_ops(departments: &[Department], ops: Vec<Op>) -> Result<(u64, u64), TestCaseError> {
    let mut s = loaded(departments);
    let mut now = 0u64;
    let mut next_ref = 0u64;
    for op in ops {
        now += 60_000;
        let (actor, command) = match op {
            Op::Report {
                grid,
                item,
                hotline,
                on_spot,
                wrong_sender,
            } => {
                next_ref += 1;
                let source = if hotline {
                    ReportSource::Hotline
                } else {
                    ReportSource::Inspector
                };
                let actor = match (hotline, wrong_sender) {
                    (true, false) => Actor {
                        role: Role::Dispatcher,
                        person: PersonId(3),
                    },
                    (false, false) => Actor {
                        role: Role::Inspector,
                        person: inspector(grid.min(GRIDS - 1)),
                    },
                    (_, true) => Actor {
                        role: Role::Resolver,
                        person: PersonId(500),
                    },
                };
                (
                    actor,
                    Command::SubmitReport {
                        report_ref: next_ref,
                        source,
                        grid,
                        item_type: item,
                        observed_at: now - 1000,
                        resolved_on_spot: on_spot,
                    },
                )
            }
            Op::Accept { task, person: p } => (
                assigned(&s, task, p, false),
                Command::AcceptTask { task: TaskId(task) },
            ),
            Op::Resolve { task, person: p } => (
                assigned(&s, task, p, false),
                Command::ResolveTask { task: TaskId(task) },
            ),
            Op::Verify {
                task,
                person: p,
                passed,
            } => (
                assigned(&s, task, p, true),
                Command::VerifyTask {
                    task: TaskId(task),
                    passed,
                },
            ),
            Op::Reassign { task } => (
                Actor {
                    role: Role::Dispatcher,
                    person: PersonId(4),
                },
                Command::ReassignTask { task: TaskId(task) },
            ),
            Op::Advance { hours } => {
                now += hours * 3_600_000;
                s.advance(now);
                continue;
            }
            Op::Progress { task, passed } => {
                let id = TaskId(task);
                let Some(t) = s.task(id) else { continue };
                match t.state {
                    TaskState::Dispatched => (
                        assigned(&s, task, 12, false),
                        Command::AcceptTask { task: id },
                    ),
                    TaskState::Accepted => (
                        assigned(&s, task, 12, false),
                        Command::ResolveTask { task: id },
                    ),
                    TaskState::AwaitingVerification => (
                        assigned(&s, task, 12, true),
                        Command::VerifyTask { task: id, passed },
                    ),
                    _ => continue,
                }
            }
            Op::Query { role } => {
                let roles = [
                    Role::Inspector,
                    Role::Resolver,
                    Role::Dispatcher,
                    Role::Reviewer,
                    Role::Analyst,
                    Role::Auditor,
                    Role::Admin,
                ];
                (
                    Actor {
                        role: roles[role as usize],
                        person: PersonId(9),
                    },
                    Command::QueryAssessment,
                )
            }
        };
        let before = digest(&s);
        let result = s.handle(&Envelope {
            actor,
            sent_at: now,
            command: command.clone(),
        });
        if result.is_err() {
            prop_assert_eq!(
                &before,
                &digest(&s),
                "refused {:?} changed the state",
                command
            );
        }
        // The backlog is exactly the tasks by state.
        let count = |st: TaskState| s.tasks().iter().filter(|t| t.state == st).count() as u64;
        let b = s.backlog();
        prop_assert_eq!(b.unassigned, count(TaskState::Unassigned));
        prop_assert_eq!(b.dispatched, count(TaskState::Dispatched));
        prop_assert_eq!(b.accepted, count(TaskState::Accepted));
        prop_assert_eq!(
            b.awaiting_verification,
            count(TaskState::AwaitingVerification)
        );
        prop_assert_eq!(b.closed, count(TaskState::Closed));
        prop_assert_eq!(
            b.escalated_open,
            s.tasks()
                .iter()
                .filter(|t| t.is_open() && t.escalation.is_some())
                .count() as u64
        );
        for t in s.tasks() {
            if let (Some(v), Some(r)) = (t.verifier, t.resolver) {
                prop_assert_ne!(v, r, "task {} would be verified by its resolver", t.id.0);
            }
            if t.state == TaskState::Unassigned {
                prop_assert!(
                    t.unassigned_reason.is_some(),
                    "task {} unassigned without a reason",
                    t.id.0
                );
            }
            prop_assert_eq!(t.closed_at.is_some(), t.state == TaskState::Closed);
            // Whoever holds a dispatched task is a resolver of its department.
            if t.state == TaskState::Dispatched && !t.resolved_on_spot {
                let dept = catalogue::item_type(t.item_type).map(|k| k.department);
                let holder = t.resolver.and_then(|p| p.0.checked_sub(500));
                prop_assert!(
                    holder.is_some_and(|i| Some(departments[i as usize]) == dept),
                    "task {} held by {:?}",
                    t.id.0,
                    t.resolver
                );
            }
            prop_assert!(catalogue::item_type(t.item_type).is_some());
        }
    }
    let escalated = s.tasks().iter().filter(|t| t.escalation.is_some()).count() as u64;
    Ok((s.backlog().closed, escalated))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn the_grid_module_keeps_its_books_straight(
        departments in prop::collection::vec(prop::sample::select(Department::ALL.to_vec()), 1..8),
        ops in prop::collection::vec(op(), 1..120),
    ) {
        run_ops(&departments, ops)?;
    }
}

/// The property above only means something if its sequences reach closure and escalation.
#[test]
fn generated_sequences_reach_closure_and_escalation() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let strategy = (
        prop::collection::vec(prop::sample::select(Department::ALL.to_vec()), 1..8),
        prop::collection::vec(op(), 1..120),
    );
    let (mut closing, mut escalating) = (0, 0);
    for _ in 0..100 {
        let (departments, ops) = strategy.new_tree(&mut runner).unwrap().current();
        let (closed, escalated) = run_ops(&departments, ops).unwrap();
        closing += (closed > 0) as u32;
        escalating += (escalated > 0) as u32;
    }
    assert!(
        closing >= 20,
        "only {closing} of 100 sequences closed a task"
    );
    assert!(
        escalating >= 10,
        "only {escalating} of 100 sequences escalated a task"
    );
}

#[test]
fn a_report_sent_twice_makes_one_task() {
    let mut s = loaded(&Department::ALL);
    let report = Envelope {
        actor: Actor {
            role: Role::Inspector,
            person: inspector(1),
        },
        sent_at: 10,
        command: Command::SubmitReport {
            report_ref: 42,
            source: ReportSource::Inspector,
            grid: 1,
            item_type: 5,
            observed_at: 5,
            resolved_on_spot: false,
        },
    };
    let first = s.handle(&report).unwrap();
    let second = s.handle(&report).unwrap();
    assert_eq!(s.tasks().len(), 1);
    assert_eq!(first[0], second[0]);
    assert_eq!(second.len(), 1, "a repeat does not dispatch again");
}

#[test]
fn an_on_spot_fix_is_verified_by_another_inspector() {
    let mut s = loaded(&Department::ALL);
    let on_spot = catalogue::item_types()
        .iter()
        .find(|t| t.on_spot)
        .unwrap()
        .code;
    let out = s
        .handle(&Envelope {
            actor: Actor {
                role: Role::Inspector,
                person: inspector(2),
            },
            sent_at: 10,
            command: Command::SubmitReport {
                report_ref: 1,
                source: ReportSource::Inspector,
                grid: 2,
                item_type: on_spot,
                observed_at: 5,
                resolved_on_spot: true,
            },
        })
        .unwrap();
    let verifier = out.iter().find_map(|o| match o {
        baoan_api::Outcome::VerificationRequested {
            verifier, resolver, ..
        } => Some((*verifier, *resolver)),
        _ => None,
    });
    let (v, r) = verifier.expect("verification requested at once");
    assert_eq!(r, inspector(2));
    assert_ne!(v, r);
}

/// Two fire resolvers in the street; one has three tasks, the other none. A task past its
/// deadline escalates to the street; its supervisor moves it to the idle resolver. A task not
/// escalated is refused; one the resolver has accepted stays with them.
#[test]
fn a_supervisor_moves_an_escalated_task_to_the_resolver_with_less_work() {
    let mut s = loaded(&[Department::Fire, Department::Fire]);
    let fire = catalogue::item_types()
        .iter()
        .find(|k| k.department == Department::Fire && !k.on_spot)
        .expect("a fire item");
    let supervisor = Actor {
        role: Role::Dispatcher,
        person: PersonId(4),
    };
    let send = |s: &mut GridService, actor: Actor, at: u64, command: Command| {
        s.handle(&Envelope {
            actor,
            sent_at: at,
            command,
        })
    };
    // Grid 0 is in community 0, whose resolver is person 500; community 1's is 501.
    for r in 1..=3 {
        send(
            &mut s,
            Actor {
                role: Role::Inspector,
                person: inspector(0),
            },
            1_000,
            Command::SubmitReport {
                report_ref: r,
                source: ReportSource::Inspector,
                grid: 0,
                item_type: fire.code,
                observed_at: 0,
                resolved_on_spot: false,
            },
        )
        .unwrap();
    }
    assert_eq!(s.task(TaskId(1)).unwrap().resolver, Some(PersonId(500)));
    let early = send(
        &mut s,
        supervisor,
        2_000,
        Command::ReassignTask { task: TaskId(1) },
    );
    assert!(early.is_err(), "not escalated yet: {early:?}");
    s.advance(1_000 + fire.deadline_h as u64 * 3_600_000);
    let out = send(
        &mut s,
        supervisor,
        1_000 + fire.deadline_h as u64 * 3_600_000,
        Command::ReassignTask { task: TaskId(1) },
    )
    .unwrap();
    assert!(
        matches!(
            out[..],
            [baoan_api::Outcome::TaskReassigned {
                from: PersonId(500),
                to: PersonId(501),
                ..
            }]
        ),
        "{out:?}"
    );
    assert_eq!(s.task(TaskId(1)).unwrap().resolver, Some(PersonId(501)));
    // Task 2's resolver accepts it: the supervisor leaves it with them.
    send(
        &mut s,
        Actor {
            role: Role::Resolver,
            person: PersonId(500),
        },
        1_000 + fire.deadline_h as u64 * 3_600_000,
        Command::AcceptTask { task: TaskId(2) },
    )
    .unwrap();
    let kept = send(
        &mut s,
        supervisor,
        1_000 + fire.deadline_h as u64 * 3_600_000,
        Command::ReassignTask { task: TaskId(2) },
    )
    .unwrap();
    assert!(
        matches!(kept[..], [baoan_api::Outcome::TaskKept { .. }]),
        "{kept:?}"
    );
}
