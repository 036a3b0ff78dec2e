//! The command module under random sequences: no unit is on two incidents at once; no arrival
//! precedes its dispatch; every incident is closed or open with a reason; a tier that cannot
//! make its limit escalates the incident; the lead centre follows the type and severity rules;
//! and a refused command changes nothing.

use baoan_api::emergency::{self, Severity};
use baoan_api::{
    Actor, Centre, Command, CommandDirectory, Envelope, IncidentId, IncidentSource, LeaderEntry,
    PersonId, Role, UnitClass, UnitEntry, UnitId,
};
use baoan_command::{CommandService, UnitStatus, lead_centre};
use proptest::prelude::*;

const GRIDS: u32 = 8;

fn grid_of(x: f64) -> u32 {
    ((x / 250.0) as u32).min(GRIDS - 1)
}

fn directory(units: &[(UnitClass, f64, f64, bool)]) -> CommandDirectory {
    CommandDirectory {
        grids: (0..GRIDS).map(|g| (g / 2, g / 4)).collect(),
        units: units
            .iter()
            .enumerate()
            .map(|(i, &(class, x, y, on_duty))| UnitEntry {
                unit: UnitId(i as u32 + 1),
                class,
                x_m: x,
                y_m: y,
                grid: grid_of(x),
                on_duty,
            })
            .collect(),
        leaders: vec![
            LeaderEntry {
                person: PersonId(10),
                centre: Centre::District,
            },
            LeaderEntry {
                person: PersonId(11),
                centre: Centre::District,
            },
            LeaderEntry {
                person: PersonId(12),
                centre: Centre::District,
            },
            LeaderEntry {
                person: PersonId(20),
                centre: Centre::Street(0),
            },
            LeaderEntry {
                person: PersonId(21),
                centre: Centre::Street(0),
            },
            LeaderEntry {
                person: PersonId(30),
                centre: Centre::Street(1),
            },
        ],
        departments_wait: false,
        four_duties: false,
    }
}

#[derive(Debug, Clone)]
enum Op {
    Report {
        kind: u16,
        severity: usize,
        x: f64,
        y: f64,
    },
    Decline {
        incident: u64,
        nth: usize,
    },
    Arrive {
        incident: u64,
        nth: usize,
        early: bool,
    },
    Clear {
        incident: u64,
        nth: usize,
    },
    Available {
        unit: u32,
        available: bool,
        x: f64,
    },
    Close {
        incident: u64,
    },
    /// Every unit of the incident takes its next rightful step.
    Progress {
        incident: u64,
    },
    Wait {
        minutes: u64,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (1u16..=33, 0usize..4, 0.0..2000.0f64, 0.0..2000.0f64).prop_map(|(kind, severity, x, y)| Op::Report { kind, severity, x, y }),
        1 => (1u64..8, 0usize..4).prop_map(|(incident, nth)| Op::Decline { incident, nth }),
        2 => (1u64..8, 0usize..4, prop::bool::weighted(0.1)).prop_map(|(incident, nth, early)| Op::Arrive { incident, nth, early }),
        2 => (1u64..8, 0usize..4).prop_map(|(incident, nth)| Op::Clear { incident, nth }),
        2 => (1u32..40, prop::bool::weighted(0.8), 0.0..2000.0f64).prop_map(|(unit, available, x)| Op::Available { unit, available, x }),
        1 => (1u64..8).prop_map(|incident| Op::Close { incident }),
        5 => (1u64..8).prop_map(|incident| Op::Progress { incident }),
        2 => (0u64..30).prop_map(|minutes| Op::Wait { minutes }),
    ]
}

fn units() -> impl Strategy<Value = Vec<(UnitClass, f64, f64, bool)>> {
    prop::collection::vec(
        (
            prop::sample::select(UnitClass::ALL.to_vec()),
            0.0..2000.0f64,
            0.0..2000.0f64,
            prop::bool::weighted(0.8),
        ),
        1..40,
    )
}

const RESPONDER: Actor = Actor {
    role: Role::Responder,
    person: PersonId(99),
};

fn digest(s: &CommandService) -> String {
    let inc: Vec<String> = s
        .incidents()
        .iter()
        .map(|i| {
            format!(
                "{:?}{:?}{}{:?}{:?}{:?}",
                i.lead,
                i.closed_at,
                i.assignments.len(),
                i.waiting,
                i.declined,
                i.assignments
                    .iter()
                    .map(|a| (a.unit, a.arrived_at, a.cleared))
                    .collect::<Vec<_>>()
            )
        })
        .collect();
    let units: Vec<String> = s
        .units()
        .iter()
        .map(|u| format!("{:?}{}{}", u.status, u.x_m, u.grid))
        .collect();
    let free: Vec<usize> = UnitClass::ALL.iter().map(|c| s.free_count(*c)).collect();
    format!("{inc:?}{units:?}{free:?}")
}

fn check(s: &CommandService) -> Result<(), TestCaseError> {
    for u in s.units() {
        let mine: Vec<_> = s
            .incidents()
            .iter()
            .filter(|i| {
                i.assignments
                    .iter()
                    .any(|a| a.unit == u.entry.unit && !a.cleared)
            })
            .map(|i| i.id)
            .collect();
        prop_assert!(
            mine.len() <= 1,
            "unit {} is on incidents {:?} at once",
            u.entry.unit.0,
            mine
        );
        match u.status {
            UnitStatus::Dispatched(id) | UnitStatus::OnScene(id) => prop_assert_eq!(mine, vec![id]),
            _ => prop_assert!(
                mine.is_empty(),
                "unit {} is {:?} yet assigned to {:?}",
                u.entry.unit.0,
                u.status,
                mine
            ),
        }
    }
    for class in UnitClass::ALL {
        let available = s
            .units()
            .iter()
            .filter(|u| u.entry.class == class && u.status == UnitStatus::Available)
            .count();
        prop_assert_eq!(
            s.free_count(class),
            available,
            "free {} units out of step",
            class.as_str()
        );
    }
    for i in s.incidents() {
        for a in &i.assignments {
            if let Some(t) = a.arrived_at {
                prop_assert!(
                    t >= a.dispatched_at,
                    "incident {}: arrival before dispatch",
                    i.id.0
                );
            }
        }
        prop_assert!(
            !i.is_open() || !i.open_reason.is_empty(),
            "incident {} open without a reason",
            i.id.0
        );
        let kind = emergency::emergency_type(i.emergency_type).expect("valid type");
        let (community, street) = ((i.grid / 2), (i.grid / 4));
        prop_assert_eq!(
            i.first_lead,
            lead_centre(kind.owner, i.severity, community, street)
        );
        prop_assert!(i.lead.rank() >= i.first_lead.rank());
        let missed = i.assignments.iter().any(|a| {
            a.class.limit_s().is_some_and(|l| {
                (a.dispatched_at - i.reported_at) as f64 / 1000.0 + a.eta_s > l + 0.1
            })
        }) || i.waiting.iter().any(|c| c.limit_s().is_some());
        if missed {
            prop_assert!(
                i.escalated,
                "incident {}: a tier missed its limit and it was not escalated",
                i.id.0
            );
            prop_assert!(i.lead.rank() > i.first_lead.rank() || i.first_lead == Centre::District);
        }
    }
    Ok(())
}

fn run(units: &[(UnitClass, f64, f64, bool)], ops: Vec<Op>) -> Result<(u64, u64), TestCaseError> {
    let mut s = CommandService::new();
    let admin = Actor {
        role: Role::Admin,
        person: PersonId(1),
    };
    s.handle(&Envelope {
        actor: admin,
        sent_at: 0,
        command: Command::LoadCommandDirectory {
            directory: directory(units),
        },
    })
    .unwrap();
    let mut now = 0u64;
    let mut next_ref = 0;
    for op in ops {
        now += 10_000;
        let mut commands = Vec::new();
        match op {
            Op::Report {
                kind,
                severity,
                x,
                y,
            } => {
                next_ref += 1;
                let command = Command::ReportIncident {
                    incident_ref: next_ref,
                    source: IncidentSource::Call,
                    emergency_type: kind,
                    severity: Severity::ALL[severity],
                    grid: grid_of(x),
                    x_m: x,
                    y_m: y,
                    observed_at: now - 1000,
                };
                commands.push((
                    Actor {
                        role: Role::Dispatcher,
                        person: PersonId(3),
                    },
                    command,
                    now,
                ));
            }
            Op::Decline { incident, nth }
            | Op::Clear { incident, nth }
            | Op::Arrive { incident, nth, .. } => {
                let Some(a) = s
                    .incident(IncidentId(incident))
                    .and_then(|i| i.assignments.get(nth))
                else {
                    continue;
                };
                let (unit, id) = (a.unit, IncidentId(incident));
                let (command, at) = match op {
                    Op::Decline { .. } => (Command::UnitDeclined { incident: id, unit }, now),
                    Op::Clear { .. } => (Command::UnitCleared { incident: id, unit }, now),
                    Op::Arrive { early, .. } => (
                        Command::UnitArrived { incident: id, unit },
                        if early {
                            a.dispatched_at.saturating_sub(1)
                        } else {
                            now
                        },
                    ),
                    _ => unreachable!(),
                };
                commands.push((RESPONDER, command, at));
            }
            Op::Available { unit, available, x } => {
                commands.push((
                    RESPONDER,
                    Command::UnitAvailable {
                        unit: UnitId(unit),
                        available,
                        x_m: x,
                        y_m: x,
                        grid: grid_of(x),
                    },
                    now,
                ));
            }
            Op::Close { incident } => commands.push((
                RESPONDER,
                Command::CloseIncident {
                    incident: IncidentId(incident),
                },
                now,
            )),
            Op::Progress { incident } => {
                let id = IncidentId(incident);
                let Some(i) = s.incident(id) else { continue };
                for a in &i.assignments {
                    match (a.arrived_at, a.cleared) {
                        (None, _) => commands.push((
                            RESPONDER,
                            Command::UnitArrived {
                                incident: id,
                                unit: a.unit,
                            },
                            now,
                        )),
                        (Some(_), false) => commands.push((
                            RESPONDER,
                            Command::UnitCleared {
                                incident: id,
                                unit: a.unit,
                            },
                            now,
                        )),
                        _ => {}
                    }
                }
                if i.assignments.iter().all(|a| a.cleared) {
                    commands.push((RESPONDER, Command::CloseIncident { incident: id }, now));
                }
                for u in s
                    .units()
                    .iter()
                    .filter(|u| u.status == UnitStatus::Returning)
                {
                    commands.push((
                        RESPONDER,
                        Command::UnitAvailable {
                            unit: u.entry.unit,
                            available: true,
                            x_m: u.x_m,
                            y_m: u.y_m,
                            grid: u.grid,
                        },
                        now,
                    ));
                }
            }
            Op::Wait { minutes } => now += minutes * 60_000,
        }
        for (actor, command, at) in commands {
            let before = digest(&s);
            if s.handle(&Envelope {
                actor,
                sent_at: at,
                command: command.clone(),
            })
            .is_err()
            {
                prop_assert_eq!(
                    before,
                    digest(&s),
                    "refused {:?} changed the state",
                    command
                );
            }
            check(&s)?;
        }
    }
    let escalated = s.incidents().iter().filter(|i| i.escalated).count() as u64;
    Ok((s.closed, escalated))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn command_keeps_units_incidents_and_escalations_straight(units in units(), ops in prop::collection::vec(op(), 1..100)) {
        run(&units, ops)?;
    }
}

#[test]
fn generated_sequences_close_and_escalate_incidents() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let strategy = (units(), prop::collection::vec(op(), 1..100));
    let (mut closing, mut escalating) = (0, 0);
    for _ in 0..100 {
        let (units, ops) = strategy.new_tree(&mut runner).unwrap().current();
        let (closed, escalated) = run(&units, ops).unwrap();
        closing += (closed > 0) as u32;
        escalating += (escalated > 0) as u32;
    }
    assert!(
        closing >= 20,
        "only {closing} of 100 sequences closed an incident"
    );
    assert!(
        escalating >= 20,
        "only {escalating} of 100 sequences escalated an incident"
    );
}

#[test]
fn the_nearest_free_unit_goes_and_a_decline_sends_the_next() {
    let units = [
        (UnitClass::Volunteer, 100.0, 100.0, true),
        (UnitClass::Volunteer, 900.0, 900.0, true),
        (UnitClass::Police, 0.0, 0.0, true),
    ];
    let mut s = CommandService::new();
    let admin = Actor {
        role: Role::Admin,
        person: PersonId(1),
    };
    s.handle(&Envelope {
        actor: admin,
        sent_at: 0,
        command: Command::LoadCommandDirectory {
            directory: directory(&units),
        },
    })
    .unwrap();
    let out = s
        .handle(&Envelope {
            actor: Actor {
                role: Role::Dispatcher,
                person: PersonId(3),
            },
            sent_at: 1000,
            command: Command::ReportIncident {
                incident_ref: 1,
                source: IncidentSource::Call,
                emergency_type: 25,
                severity: Severity::IV,
                grid: 0,
                x_m: 120.0,
                y_m: 100.0,
                observed_at: 900,
            },
        })
        .unwrap();
    let sent: Vec<(UnitId, UnitClass)> = out
        .iter()
        .filter_map(|o| {
            if let baoan_api::Outcome::UnitDispatched { unit, class, .. } = o {
                Some((*unit, *class))
            } else {
                None
            }
        })
        .collect();
    assert!(sent.contains(&(UnitId(1), UnitClass::Volunteer)), "{out:?}");
    assert!(out.iter().any(|o| matches!(
        o,
        baoan_api::Outcome::IncidentWaiting {
            class: UnitClass::AuxiliaryPolice,
            ..
        }
    )));
    let again = s
        .handle(&Envelope {
            actor: RESPONDER,
            sent_at: 2000,
            command: Command::UnitDeclined {
                incident: IncidentId(1),
                unit: UnitId(1),
            },
        })
        .unwrap();
    assert!(
        again.iter().any(|o| matches!(
            o,
            baoan_api::Outcome::UnitDispatched {
                unit: UnitId(2),
                ..
            }
        )),
        "{again:?}"
    );
}

/// With department units waiting for the lead centre: a level I building fire gets its 1-3-5
/// tiers at once and its fire crews only when a duty leader takes command (a dispatcher may not);
/// a level IV one takes its dispatcher's word. With the four duties, a fire also draws a second
/// auxiliary police unit.
#[test]
fn department_units_wait_for_the_lead_centre_and_a_serious_one_for_a_leader() {
    let units = [
        (UnitClass::Volunteer, 100.0, 100.0, true),
        (UnitClass::AuxiliaryPolice, 200.0, 100.0, true),
        (UnitClass::AuxiliaryPolice, 300.0, 100.0, true),
        (UnitClass::Police, 400.0, 100.0, true),
        (UnitClass::Police, 500.0, 100.0, true),
        (UnitClass::Fire, 600.0, 100.0, true),
        (UnitClass::Fire, 700.0, 100.0, true),
        (UnitClass::Fire, 800.0, 100.0, true),
    ];
    let mut s = CommandService::new();
    let send = |s: &mut CommandService, actor: Actor, command: Command| {
        s.handle(&Envelope {
            actor,
            sent_at: 1_000,
            command,
        })
    };
    let admin = Actor {
        role: Role::Admin,
        person: PersonId(1),
    };
    let dispatcher = Actor {
        role: Role::Dispatcher,
        person: PersonId(3),
    };
    let mut dir = directory(&units);
    dir.departments_wait = true;
    dir.four_duties = true;
    send(
        &mut s,
        admin,
        Command::LoadCommandDirectory { directory: dir },
    )
    .unwrap();
    let fire = |incident_ref, severity| Command::ReportIncident {
        incident_ref,
        source: IncidentSource::Call,
        emergency_type: 9,
        severity,
        grid: 0,
        x_m: 100.0,
        y_m: 100.0,
        observed_at: 0,
    };
    let classes = |out: &[baoan_api::Outcome]| -> Vec<UnitClass> {
        out.iter()
            .filter_map(|o| match o {
                baoan_api::Outcome::UnitDispatched { class, .. } => Some(*class),
                _ => None,
            })
            .collect()
    };
    let out = send(&mut s, dispatcher, fire(1, Severity::I)).unwrap();
    let sent = classes(&out);
    assert!(!sent.contains(&UnitClass::Fire), "{out:?}");
    assert_eq!(
        sent.iter()
            .filter(|c| **c == UnitClass::AuxiliaryPolice)
            .count(),
        2,
        "the post's first fire response: {out:?}"
    );
    assert!(
        out.iter()
            .any(|o| matches!(o, baoan_api::Outcome::AwaitingCommand { leader: true, .. }))
    );
    let take = Command::TakeCommand {
        incident: IncidentId(1),
    };
    assert!(
        send(&mut s, dispatcher, take.clone()).is_err(),
        "level I needs a leader"
    );
    let leader = Actor {
        role: Role::DutyLeader,
        person: PersonId(10),
    };
    let out = send(&mut s, leader, take.clone()).unwrap();
    assert_eq!(
        classes(&out),
        vec![UnitClass::Fire, UnitClass::Fire],
        "{out:?}"
    );
    assert!(send(&mut s, leader, take).is_err(), "commanded once");
    let out = send(&mut s, dispatcher, fire(2, Severity::IV)).unwrap();
    assert!(
        out.iter()
            .any(|o| matches!(o, baoan_api::Outcome::AwaitingCommand { leader: false, .. }))
    );
    let out = send(
        &mut s,
        dispatcher,
        Command::TakeCommand {
            incident: IncidentId(2),
        },
    )
    .unwrap();
    assert_eq!(classes(&out), vec![UnitClass::Fire], "{out:?}");
}
