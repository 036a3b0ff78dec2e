//! Properties of the key-persons module over random command sequences from every kind of
//! actor (the record's team, its guardian, another community's members, analysts, auditors):
//! a refused command changes nothing but the access log; every follow-up past due is done or
//! escalated; a closed record answers auditors only; every look-up, allowed or refused, is in
//! the access log.

use baoan_api::key_persons::*;
use baoan_api::{Actor, Command, Envelope, PersonId, Role};
use baoan_key_persons::KeyPersonsService;
use baoan_key_persons::rules::DAY_MS;
use proptest::prelude::*;

const COMMUNITIES: u32 = 3;

/// Member `k` of `function` in community `c` (two of each professional function).
fn member(c: u32, function: usize, k: u32) -> PersonId {
    PersonId(100 + c * 20 + function as u32 * 2 + k)
}

fn guardian(n: u64) -> PersonId {
    PersonId(900 + n as u32)
}

fn directory() -> KeyPersonDirectory {
    let mut members = Vec::new();
    for c in 0..COMMUNITIES {
        for (f, function) in [Function::Police, Function::Doctor, Function::SocialWorker]
            .into_iter()
            .enumerate()
        {
            for k in 0..2 {
                members.push(TeamMemberEntry {
                    person: member(c, f, k),
                    function,
                    community: c,
                    grid: None,
                });
            }
        }
        members.push(TeamMemberEntry {
            person: PersonId(500 + c),
            function: Function::GridInspector,
            community: c,
            grid: Some(c),
        });
    }
    KeyPersonDirectory { members }
}

#[derive(Debug, Clone)]
enum Op {
    Register {
        n: u64,
        community: u32,
        drugs: bool,
        risk: u8,
    },
    FollowUp {
        who: u8,
        person: u64,
        risk: u8,
        urine: u8,
    },
    Warning {
        who: u8,
        person: u64,
    },
    Crisis {
        who: u8,
        person: u64,
        n: u64,
    },
    Close {
        who: u8,
        person: u64,
        reason: u8,
    },
    Query {
        who: u8,
        person: u64,
    },
    Stats {
        who: u8,
    },
    Export {
        who: u8,
    },
    Policy {
        grade: u8,
    },
    Wait {
        days: u64,
    },
}

/// Anyone who might send a command: a professional of some community, a guardian, an analyst,
/// an auditor, a department, an admin, a dispatcher, the inspector.
fn actor_of(who: u8) -> Actor {
    let team = |person| Actor {
        role: Role::KeyPersonTeam,
        person,
    };
    match who % 12 {
        0..=5 => team(member(
            u32::from(who / 12) % COMMUNITIES,
            usize::from(who % 3),
            u32::from(who % 2),
        )),
        6 => team(guardian(u64::from(who % 4))),
        7 => Actor {
            role: Role::Analyst,
            person: PersonId(2),
        },
        8 => Actor {
            role: Role::Auditor,
            person: PersonId(3),
        },
        9 => Actor {
            role: Role::Department,
            person: PersonId(4),
        },
        10 => Actor {
            role: Role::Dispatcher,
            person: PersonId(5),
        },
        _ => team(PersonId(500 + u32::from(who) % COMMUNITIES)),
    }
}

fn op() -> impl Strategy<Value = Op> {
    let person = 1u64..=8;
    prop_oneof![
        3 => (0u64..6, 0..COMMUNITIES, any::<bool>(), 0u8..=6)
            .prop_map(|(n, community, drugs, risk)| Op::Register { n, community, drugs, risk }),
        4 => (any::<u8>(), person.clone(), 0u8..=6, 0u8..4)
            .prop_map(|(who, person, risk, urine)| Op::FollowUp { who, person, risk, urine }),
        2 => (any::<u8>(), person.clone()).prop_map(|(who, person)| Op::Warning { who, person }),
        1 => (any::<u8>(), person.clone(), 0u64..4).prop_map(|(who, person, n)| Op::Crisis { who, person, n }),
        1 => (any::<u8>(), person.clone(), 0u8..5).prop_map(|(who, person, reason)| Op::Close { who, person, reason }),
        3 => (any::<u8>(), person).prop_map(|(who, person)| Op::Query { who, person }),
        1 => any::<u8>().prop_map(|who| Op::Stats { who }),
        1 => any::<u8>().prop_map(|who| Op::Export { who }),
        1 => (0u8..=7).prop_map(|grade| Op::Policy { grade }),
        3 => (0u64..40).prop_map(|days| Op::Wait { days }),
    ]
}

fn command_of(op: &Op, now: u64) -> Option<(Actor, Command)> {
    let category = |drugs| {
        if drugs {
            Category::CommunityDrugTreatment
        } else {
            Category::SevereMentalDisorder
        }
    };
    Some(match *op {
        Op::Register {
            n,
            community,
            drugs,
            risk,
        } => (
            actor_of(9),
            Command::RegisterKeyPerson {
                person_ref: n,
                category: category(drugs),
                risk,
                grid: community,
                community,
                street: 0,
                x_m: 1.0,
                y_m: 1.0,
                guardian: Some(guardian(n % 4)),
                months_in_management: (n * 7 % 40) as u16,
                next_due_at: None,
                observed_at: now,
            },
        ),
        Op::FollowUp {
            who,
            person,
            risk,
            urine,
        } => (
            actor_of(who),
            Command::RecordFollowUp {
                person,
                findings: Findings {
                    risk,
                    adherent: urine != 0,
                    warning_signs: risk > 0,
                    urine: [
                        None,
                        Some(UrineTest::Negative),
                        Some(UrineTest::Positive),
                        Some(UrineTest::Refused),
                    ][urine as usize],
                },
            },
        ),
        Op::Warning { who, person } => (
            actor_of(who),
            Command::ReportWarningSign {
                person,
                observed_at: now,
            },
        ),
        Op::Crisis { who, person, n } => (
            actor_of(who),
            Command::ReportCrisis {
                crisis_ref: n,
                person,
                source: if who % 2 == 0 {
                    CrisisSource::Team
                } else {
                    CrisisSource::Caller
                },
                grid: 0,
                x_m: 0.0,
                y_m: 0.0,
                observed_at: now,
            },
        ),
        Op::Close {
            who,
            person,
            reason,
        } => (
            actor_of(who),
            Command::CloseKeyPerson {
                person,
                reason: [
                    ClosureReason::MovedAway,
                    ClosureReason::Died,
                    ClosureReason::Recovered,
                    ClosureReason::TermCompleted,
                    ClosureReason::CompulsoryIsolation,
                ][reason as usize],
            },
        ),
        Op::Query { who, person } => (actor_of(who), Command::QueryKeyPerson { person }),
        Op::Stats { who } => (actor_of(who), Command::QueryKeyPersonStats),
        Op::Export { who } => (actor_of(who), Command::ExportKeyPersonAccess),
        Op::Policy { grade } => (
            Actor {
                role: Role::Admin,
                person: PersonId(1),
            },
            Command::SetSightingPolicy {
                policy: SightingPolicy {
                    police_from_risk: grade,
                },
            },
        ),
        Op::Wait { .. } => return None,
    })
}

fn is_look_up(c: &Command) -> bool {
    matches!(
        c,
        Command::QueryKeyPerson { .. }
            | Command::QueryKeyPersonStats
            | Command::ExportKeyPersonAccess
    )
}

/// Carry one operation at `now` (a wait moves the clock and lets the module's time-driven
/// work run); returns the time after it.
fn step(s: &mut KeyPersonsService, op: &Op, now: u64) -> u64 {
    if let Op::Wait { days } = op {
        let now = now + days * DAY_MS + 1;
        s.advance(now);
        return now;
    }
    let (actor, command) = command_of(op, now).expect("a command");
    let _ = s.handle(&Envelope {
        actor,
        sent_at: now,
        command,
    });
    now + 60_000
}

fn loaded() -> KeyPersonsService {
    let mut s = KeyPersonsService::new();
    s.handle(&Envelope {
        actor: Actor {
            role: Role::Admin,
            person: PersonId(1),
        },
        sent_at: 0,
        command: Command::LoadKeyPersonDirectory {
            directory: directory(),
        },
    })
    .expect("the directory loads");
    s
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn refused_commands_change_nothing_and_every_look_up_is_logged(ops in prop::collection::vec(op(), 1..80)) {
        let mut s = loaded();
        let (mut now, mut look_ups) = (1u64, 0usize);
        for op in &ops {
            if let Op::Wait { days } = op {
                now += days * DAY_MS + 1;
                s.advance(now);
                continue;
            }
            let (actor, command) = command_of(op, now).expect("a command");
            let before = s.digest();
            let counted = is_look_up(&command);
            let result = s.handle(&Envelope { actor, sent_at: now, command });
            look_ups += usize::from(counted);
            if let Err(e) = result {
                prop_assert_eq!(&before, &s.digest(), "refused ({}) but changed", e);
            }
            prop_assert_eq!(s.access_log().len(), look_ups, "a look-up missing from the access log");
            now += 60_000;
        }
    }

    #[test]
    fn every_due_follow_up_is_done_or_escalated(ops in prop::collection::vec(op(), 1..80)) {
        let mut s = loaded();
        let mut now = 1u64;
        for op in &ops {
            now = step(&mut s, op, now);
            s.advance(now);
            for r in s.records().iter().filter(|r| r.closed.is_none()) {
                prop_assert!(
                    r.next_due_at >= now || r.overdue.is_some(),
                    "record {} due at {} not escalated at {}", r.id, r.next_due_at, now
                );
            }
        }
    }

    #[test]
    fn a_closed_record_answers_auditors_only(ops in prop::collection::vec(op(), 1..80)) {
        let mut s = loaded();
        let mut now = 1u64;
        for op in &ops {
            now = step(&mut s, op, now);
        }
        let closed: Vec<(u64, Vec<PersonId>)> = s
            .records()
            .iter()
            .filter(|r| r.closed.is_some())
            .map(|r| (r.id, r.team.members.iter().map(|m| m.1).collect()))
            .collect();
        for (id, team) in closed {
            for person in team {
                let who = Actor { role: Role::KeyPersonTeam, person };
                let q = Command::QueryKeyPerson { person: id };
                let answer = s.handle(&Envelope { actor: who, sent_at: now, command: q });
                prop_assert!(answer.is_err(), "closed record {} answered team member {:?}", id, person);
            }
            let auditor = Actor { role: Role::Auditor, person: PersonId(3) };
            let q = Command::QueryKeyPerson { person: id };
            let answer = s.handle(&Envelope { actor: auditor, sent_at: now, command: q });
            prop_assert!(answer.is_ok(), "closed record {} refused an auditor: {:?}", id, answer);
        }
    }
}
