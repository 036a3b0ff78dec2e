use baoan_api::key_persons::*;
use baoan_api::{Actor, Command, Envelope, EscalationLevel, Outcome, PersonId, Role};

use crate::KeyPersonsService;
use crate::rules::DAY_MS;

pub(crate) fn actor(role: Role, person: u32) -> Actor {
    Actor {
        role,
        person: PersonId(person),
    }
}

fn send(s: &mut KeyPersonsService, who: Actor, at: u64, command: Command) -> Vec<Outcome> {
    s.handle(&Envelope {
        actor: who,
        sent_at: at,
        command,
    })
    .unwrap_or_else(|e| panic!("refused: {e}"))
}

fn member(person: u32, function: Function, community: u32, grid: Option<u32>) -> TeamMemberEntry {
    TeamMemberEntry {
        person: PersonId(person),
        function,
        community,
        grid,
    }
}

/// Community 0 with one member of each function (inspector of grid 3); community 1 with a
/// police officer and a doctor.
fn service() -> KeyPersonsService {
    let mut s = KeyPersonsService::new();
    let directory = KeyPersonDirectory {
        members: vec![
            member(10, Function::Police, 0, None),
            member(11, Function::Doctor, 0, None),
            member(12, Function::SocialWorker, 0, None),
            member(13, Function::GridInspector, 0, Some(3)),
            member(20, Function::Police, 1, None),
            member(21, Function::Doctor, 1, None),
        ],
    };
    send(
        &mut s,
        actor(Role::Admin, 1),
        0,
        Command::LoadKeyPersonDirectory { directory },
    );
    s
}

fn register(s: &mut KeyPersonsService, at: u64, category: Category, risk: u8) -> Vec<Outcome> {
    let person_ref = s.stats().registered + 100;
    send(
        s,
        actor(Role::Department, 5),
        at,
        Command::RegisterKeyPerson {
            person_ref,
            category,
            risk,
            grid: 3,
            community: 0,
            street: 0,
            x_m: 1.0,
            y_m: 2.0,
            guardian: Some(PersonId(900)),
            months_in_management: 0,
            next_due_at: None,
            observed_at: at,
        },
    )
}

fn findings(risk: u8, urine: Option<UrineTest>) -> Findings {
    Findings {
        risk,
        adherent: true,
        warning_signs: false,
        urine,
    }
}

#[test]
fn a_registration_gets_a_five_in_one_team_and_a_follow_up_by_grade() {
    let mut s = service();
    let out = register(&mut s, 0, Category::SevereMentalDisorder, 0);
    let Outcome::KeyPersonRegistered { team, task, .. } = &out[0] else {
        panic!("{out:?}")
    };
    let functions: Vec<Function> = team.members.iter().map(|m| m.0).collect();
    assert_eq!(
        functions,
        [
            Function::Police,
            Function::Doctor,
            Function::SocialWorker,
            Function::GridInspector,
            Function::Guardian
        ]
    );
    assert_eq!(
        task.lead,
        PersonId(11),
        "the doctor leads a mental-health follow-up"
    );
    assert_eq!(
        task.due_at,
        91 * DAY_MS - 1,
        "due by the end of the 90th day"
    );
    assert!(!task.with_police);
    let out = register(&mut s, 0, Category::CommunityDrugTreatment, 3);
    let Outcome::KeyPersonRegistered { task, .. } = &out[0] else {
        panic!("{out:?}")
    };
    assert_eq!(
        task.lead,
        PersonId(12),
        "the social worker leads drug treatment"
    );
    assert_eq!(task.due_at, 15 * DAY_MS - 1);
    assert!(task.with_police);
    assert!(out.contains(&Outcome::KeyPersonEscalated {
        person: 2,
        level: EscalationLevel::Street,
        reason: EscalationReason::HighRisk,
    }));
}

#[test]
fn only_the_team_reads_a_record_and_every_look_up_is_logged() {
    let mut s = service();
    register(&mut s, 0, Category::SevereMentalDisorder, 1);
    let q = Command::QueryKeyPerson { person: 1 };
    assert!(
        s.handle(&env(actor(Role::KeyPersonTeam, 11), 5, q.clone()))
            .is_ok()
    );
    // Another community's doctor, the guardian, an analyst: refused, and logged.
    for who in [
        actor(Role::KeyPersonTeam, 21),
        actor(Role::KeyPersonTeam, 900),
        actor(Role::Analyst, 2),
    ] {
        assert!(s.handle(&env(who, 6, q.clone())).is_err(), "{who:?}");
    }
    let log = s.access_log();
    assert_eq!(log.len(), 4);
    assert_eq!(log.iter().filter(|e| e.allowed).count(), 1);
    assert!(log.iter().all(|e| e.person == Some(1)));
    assert_eq!(log[1].reader, PersonId(21));
}

#[test]
fn a_closed_record_answers_auditors_only() {
    let mut s = service();
    register(&mut s, 0, Category::SevereMentalDisorder, 0);
    send(
        &mut s,
        actor(Role::KeyPersonTeam, 10),
        DAY_MS,
        Command::CloseKeyPerson {
            person: 1,
            reason: ClosureReason::MovedAway,
        },
    );
    let q = Command::QueryKeyPerson { person: 1 };
    assert!(
        s.handle(&env(actor(Role::KeyPersonTeam, 11), 2 * DAY_MS, q.clone()))
            .is_err()
    );
    let out = send(&mut s, actor(Role::Auditor, 7), 2 * DAY_MS, q);
    assert!(matches!(&out[0], Outcome::KeyPersonAnswered { view } if view.closed.is_some()));
}

#[test]
fn a_positive_test_is_a_breach_handed_to_the_police_and_the_term_closes_a_record() {
    let mut s = service();
    register(&mut s, 0, Category::CommunityDrugTreatment, 0);
    register(&mut s, 0, Category::CommunityRehabilitation, 0);
    let out = send(
        &mut s,
        actor(Role::KeyPersonTeam, 12),
        DAY_MS,
        Command::RecordFollowUp {
            person: 1,
            findings: findings(2, Some(UrineTest::Positive)),
        },
    );
    assert!(
        out.iter()
            .any(|o| matches!(o, Outcome::PoliceNotified { person: 1, .. }))
    );
    assert!(out.iter().any(|o| matches!(
        o,
        Outcome::KeyPersonClosed {
            reason: ClosureReason::CompulsoryIsolation,
            ..
        }
    )));
    // Record 2 never tested: overdue after 30 days, the district a week later, closed at three
    // years.
    let out = s.advance(3 * 365 * DAY_MS);
    assert!(out.contains(&Outcome::FollowUpOverdue {
        person: 2,
        level: EscalationLevel::District
    }));
    assert!(matches!(
        out.last(),
        Some(Outcome::KeyPersonClosed {
            person: 2,
            reason: ClosureReason::TermCompleted,
            ..
        })
    ));
    assert_eq!(s.stats().open, 0);
}

#[test]
fn a_crisis_is_handed_over_once_and_regrades_the_person() {
    let mut s = service();
    register(&mut s, 0, Category::SevereMentalDisorder, 0);
    let c = Command::ReportCrisis {
        crisis_ref: 7,
        person: 1,
        source: CrisisSource::Team,
        grid: 3,
        x_m: 0.0,
        y_m: 0.0,
        observed_at: 10,
    };
    let out = send(&mut s, actor(Role::KeyPersonTeam, 13), 10, c.clone());
    assert!(out.contains(&Outcome::KeyPersonRegraded {
        person: 1,
        from: 0,
        to: 4
    }));
    let crises = s.take_crises();
    assert_eq!(crises.len(), 1);
    s.set_incident(crises[0].crisis, baoan_api::IncidentId(55));
    let again = send(&mut s, actor(Role::KeyPersonTeam, 13), 20, c);
    assert!(matches!(
        again[0],
        Outcome::CrisisOpened {
            crisis: 1,
            incident: baoan_api::IncidentId(55),
            ..
        }
    ));
    assert!(s.take_crises().is_empty());
}

#[test]
fn a_sighting_reaches_police_only_from_the_policys_grade() {
    let mut s = service();
    register(&mut s, 0, Category::SevereMentalDisorder, 2);
    let entry = crate::KEY_PERSON_ENTRY_BASE + 1;
    // No policy yet: never police. The team's next follow-up comes within two days.
    let out = s.care_lead(entry, 4, 3, 50);
    assert!(
        matches!(out[1], Outcome::FollowUpPushed { task } if task.due_at == 3 * DAY_MS - 1),
        "{out:?}"
    );
    assert!(matches!(
        out[0],
        Outcome::CareLead {
            police: false,
            policy_version: 0,
            ..
        }
    ));
    send(
        &mut s,
        actor(Role::Admin, 1),
        60,
        Command::SetSightingPolicy {
            policy: SightingPolicy {
                police_from_risk: 2,
            },
        },
    );
    let out = s.care_lead(entry, 4, 3, 70);
    assert!(matches!(
        out[0],
        Outcome::CareLead {
            police: true,
            policy_version: 1,
            ..
        }
    ));
    assert!(
        s.care_lead(5, 4, 3, 70).is_empty(),
        "not a key person's entry"
    );
}

fn env(actor: Actor, sent_at: u64, command: Command) -> Envelope {
    Envelope {
        actor,
        sent_at,
        command,
    }
}
