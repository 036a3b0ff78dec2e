//! The key-persons module's throughput through the in-process stack (role checks, the team
//! check, the access log and the audit log included): registrations (a team assigned, the
//! first follow-up pushed), follow-ups with their findings (re-grading, the next task), and
//! look-ups of a record by its team. 124 communities' staff and a register of 20,000 people,
//! about the district's.

use baoan_api::key_persons::{
    Category, Findings, Function, KeyPersonDirectory, TeamMemberEntry, UrineTest,
};
use baoan_api::{Actor, Command, Envelope, Outcome, PersonId, Role, Stack};
use baoan_stack::InProcessStack;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

mod common;
use common::timed;

const COMMUNITIES: u32 = 124;
const REGISTER: u64 = 20_000;

fn actor(role: Role, person: u32) -> Actor {
    Actor {
        role,
        person: PersonId(person),
    }
}

fn member(c: u32, f: u32) -> PersonId {
    PersonId(10_000_000 + c * 1_000 + f * 100)
}

/// A stack with every community's police officer, doctor and social worker.
fn stack() -> InProcessStack {
    let mut s = InProcessStack::new();
    let mut members = Vec::new();
    for c in 0..COMMUNITIES {
        for (k, function) in [Function::Police, Function::Doctor, Function::SocialWorker]
            .into_iter()
            .enumerate()
        {
            members.push(TeamMemberEntry {
                person: member(c, k as u32),
                function,
                community: c,
                grid: None,
            });
        }
    }
    s.send(&Envelope {
        actor: actor(Role::Admin, 1),
        sent_at: 0,
        command: Command::LoadKeyPersonDirectory {
            directory: KeyPersonDirectory { members },
        },
    })
    .expect("directory");
    s
}

fn registration(i: u64) -> Envelope {
    let category = if i.is_multiple_of(10) {
        Category::CommunityDrugTreatment
    } else {
        Category::SevereMentalDisorder
    };
    Envelope {
        actor: actor(Role::Department, 9),
        sent_at: 1_000,
        command: Command::RegisterKeyPerson {
            person_ref: i + 1,
            category,
            risk: (i % 4) as u8,
            grid: 0,
            community: (i % u64::from(COMMUNITIES)) as u32,
            street: 0,
            x_m: 10.0,
            y_m: 20.0,
            guardian: Some(PersonId(20_000_000 + i as u32)),
            months_in_management: (i % 36) as u16,
            next_due_at: None,
            observed_at: 1_000,
        },
    }
}

/// A register of `REGISTER` people, and each record's lead (the member who follows them up).
fn registered() -> (InProcessStack, Vec<PersonId>) {
    let mut s = stack();
    let mut leads = Vec::new();
    for i in 0..REGISTER {
        let out = s.send(&registration(i)).expect("registered");
        let Some(Outcome::KeyPersonRegistered { task, .. }) = out.first() else {
            panic!("{out:?}")
        };
        leads.push(task.lead);
    }
    (s, leads)
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("key_persons");
    g.throughput(Throughput::Elements(1));
    g.bench_function("register_key_person", |b| {
        let (mut s, mut next) = (stack(), 0);
        b.iter_custom(|n| timed(&mut s, &mut next, n, registration))
    });
    g.bench_function("record_follow_up", |b| {
        let (mut s, leads) = registered();
        let mut next = 0u64;
        b.iter_custom(|n| {
            timed(&mut s, &mut next, n, |i| {
                let person = i % REGISTER;
                let drugs = person.is_multiple_of(10);
                Envelope {
                    actor: actor(Role::KeyPersonTeam, leads[person as usize].0),
                    sent_at: 2_000 + i,
                    command: Command::RecordFollowUp {
                        person: person + 1,
                        findings: Findings {
                            risk: (i % 3) as u8,
                            adherent: true,
                            warning_signs: i % 3 != 0,
                            urine: drugs.then_some(UrineTest::Negative),
                        },
                    },
                }
            })
        })
    });
    g.bench_function("query_key_person", |b| {
        let (mut s, leads) = registered();
        let mut next = 0u64;
        b.iter_custom(|n| {
            timed(&mut s, &mut next, n, |i| {
                let person = i % REGISTER;
                Envelope {
                    actor: actor(Role::KeyPersonTeam, leads[person as usize].0),
                    sent_at: 2_000 + i,
                    command: Command::QueryKeyPerson { person: person + 1 },
                }
            })
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
