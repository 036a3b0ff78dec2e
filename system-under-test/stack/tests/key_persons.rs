//! A key person's face sighting through the stack: confirmed by a human reviewer, it is a care
//! lead for the person's team; it reaches police only from the grade the versioned sighting
//! policy names; the audit log says which.

use baoan_api::key_persons::{
    Category, Findings, Function, KeyPersonDirectory, SightingPolicy, TeamMemberEntry,
};
use baoan_api::{
    Actor, ApiError, Command, Envelope, ListKind, MatchPolicy, Outcome, PersonId, Role, Sighting,
    Stack, WatchlistEntry,
};
use baoan_faces::noise::{capture, identity};
use baoan_key_persons::KEY_PERSON_ENTRY_BASE;
use baoan_matcher::MatcherService;
use baoan_stack::InProcessStack;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

const DIM: usize = 64;
const DOCTOR: u32 = 11;

fn send(
    s: &mut InProcessStack,
    role: Role,
    person: u32,
    at: u64,
    command: Command,
) -> Result<Vec<Outcome>, ApiError> {
    s.send(&Envelope {
        actor: Actor {
            role,
            person: PersonId(person),
        },
        sent_at: at,
        command,
    })
}

/// A stack with one community's team, one registered person (grade 2) whose face is enrolled
/// for care leads, and a sighting policy sending police from grade 3.
fn stack() -> InProcessStack {
    let mut s = InProcessStack::with_matcher(MatcherService::new(DIM));
    let member = |person, function| TeamMemberEntry {
        person: PersonId(person),
        function,
        community: 0,
        grid: None,
    };
    let directory = KeyPersonDirectory {
        members: vec![
            member(10, Function::Police),
            member(DOCTOR, Function::Doctor),
        ],
    };
    let admin = |s: &mut InProcessStack, command| send(s, Role::Admin, 1, 0, command).unwrap();
    admin(&mut s, Command::LoadKeyPersonDirectory { directory });
    admin(
        &mut s,
        Command::SetSightingPolicy {
            policy: SightingPolicy {
                police_from_risk: 3,
            },
        },
    );
    admin(
        &mut s,
        Command::SetMatchPolicy {
            policy: MatchPolicy {
                threshold: 0.6,
                top_k: 3,
                reviewers_required: 1,
            },
        },
    );
    send(
        &mut s,
        Role::Department,
        4,
        0,
        Command::RegisterKeyPerson {
            person_ref: 1,
            category: Category::SevereMentalDisorder,
            risk: 2,
            grid: 0,
            community: 0,
            street: 0,
            x_m: 0.0,
            y_m: 0.0,
            guardian: None,
            months_in_management: 0,
            next_due_at: None,
            observed_at: 0,
        },
    )
    .unwrap();
    admin(
        &mut s,
        Command::UpsertWatchlist {
            entries: vec![WatchlistEntry {
                entry_ref: KEY_PERSON_ENTRY_BASE + 1,
                list: ListKind::KeyPerson,
                legal_basis: "severe mental disorder register, record 1".into(),
                owner: "community health centre".into(),
                expires_at: u64::MAX,
                embedding: identity(7, 1, DIM),
            }],
        },
    );
    s
}

/// A capture of the key person, reviewed and confirmed: the outcomes of the confirmation.
fn sighted(s: &mut InProcessStack, sighting_ref: u64, at: u64) -> Vec<Outcome> {
    let mut rng = ChaCha8Rng::seed_from_u64(sighting_ref);
    let sighting = Sighting {
        sighting_ref,
        camera: 3,
        grid: 0,
        x_m: 10.0,
        y_m: 20.0,
        captured_at: at,
        quality: 0.95,
        embedding: capture(&identity(7, 1, DIM), 0.95, 1.0, &mut rng),
    };
    let out = send(
        s,
        Role::Camera,
        900,
        at,
        Command::SubmitSighting { sighting },
    )
    .unwrap();
    let Some(Outcome::AlertRaised { alert, .. }) = out.first() else {
        panic!("expected an alert, got {out:?}")
    };
    let review = Command::ReviewAlert {
        alert: *alert,
        confirm: true,
    };
    send(s, Role::Reviewer, 5, at + 1_000, review).unwrap()
}

#[test]
fn a_confirmed_sighting_is_a_care_lead_and_reaches_police_only_from_the_policys_grade() {
    let mut s = stack();
    let out = sighted(&mut s, 1, 10_000);
    assert!(
        out.iter().any(|o| matches!(
            o,
            Outcome::CareLead {
                person: 1,
                police: false,
                policy_version: 1,
                ..
            }
        )),
        "{out:?}"
    );
    assert!(
        out.iter()
            .any(|o| matches!(o, Outcome::FollowUpPushed { task } if task.person == 1)),
        "the team's next follow-up is brought forward: {out:?}"
    );
    assert!(
        !out.iter()
            .any(|o| matches!(o, Outcome::IncidentOpened { .. }))
    );
    assert!(s.lead_refusals().is_empty(), "no police lead was tried");
    // The doctor finds the person at grade 4: the next sighting goes to police as well (command
    // has no directory here, so the lead it was given is refused — and kept for the report).
    let follow_up = Command::RecordFollowUp {
        person: 1,
        findings: Findings {
            risk: 4,
            adherent: false,
            warning_signs: true,
            urine: None,
        },
    };
    send(&mut s, Role::KeyPersonTeam, DOCTOR, 20_000, follow_up).unwrap();
    let out = sighted(&mut s, 2, 30_000);
    assert!(
        out.iter().any(|o| matches!(
            o,
            Outcome::CareLead {
                police: true,
                risk: 4,
                ..
            }
        )),
        "{out:?}"
    );
    assert_eq!(s.lead_refusals().len(), 1, "police were asked");
    let details: Vec<String> = s.audit().entries().filter_map(|e| e.detail).collect();
    assert!(
        details
            .iter()
            .any(|d| d.contains("care lead on key person 1 to the team only (sighting policy v1)")),
        "{details:?}"
    );
    assert!(
        details
            .iter()
            .any(|d| d.contains("care lead on key person 1 to the team and police")),
        "{details:?}"
    );
}

#[test]
fn look_ups_are_audited_in_the_stack_and_the_modules_access_log() {
    let mut s = stack();
    let q = Command::QueryKeyPerson { person: 1 };
    assert!(send(&mut s, Role::KeyPersonTeam, DOCTOR, 5, q.clone()).is_ok());
    assert!(send(&mut s, Role::KeyPersonTeam, 99, 6, q.clone()).is_err());
    assert!(send(&mut s, Role::Analyst, 2, 7, q).is_err());
    let audited: Vec<_> = s
        .audit()
        .entries()
        .filter(|e| e.command == "query_key_person")
        .collect();
    assert_eq!(audited.len(), 3);
    assert!(audited.iter().all(|e| {
        e.detail
            .as_deref()
            .is_some_and(|d| d.starts_with("look-up of key person record 1"))
    }));
    let log = s.key_persons.access_log();
    assert_eq!(log.len(), 3);
    assert_eq!(log.iter().filter(|e| e.allowed).count(), 1);
}
