//! The grid module's throughput: a report accepted and dispatched, and a task's whole life.

use std::hint::black_box;

use baoan_api::catalogue::{self, Department};
use baoan_api::{
    Actor, Command, Directory, Envelope, GridEntry, Outcome, PersonId, ReportSource, ResolverEntry,
    Role, TaskId,
};
use baoan_grid::GridService;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};

const GRIDS: u32 = 4866;

fn service() -> GridService {
    let grids = (0..GRIDS)
        .map(|g| GridEntry {
            grid: g,
            community: g / 40,
            street: g / 500,
            inspector: PersonId(1_000_000 + g),
            neighbours: vec![(g + 1) % GRIDS],
        })
        .collect();
    let mut resolvers = Vec::new();
    for community in 0..=GRIDS / 40 {
        for d in Department::ALL {
            for _ in 0..3 {
                resolvers.push(ResolverEntry {
                    person: PersonId(2_000_000 + resolvers.len() as u32),
                    department: d,
                    community,
                    street: community / 12,
                });
            }
        }
    }
    let mut s = GridService::new();
    let admin = Actor {
        role: Role::Admin,
        person: PersonId(1),
    };
    s.handle(&Envelope {
        actor: admin,
        sent_at: 0,
        command: Command::LoadDirectory {
            directory: Directory { grids, resolvers },
        },
    })
    .unwrap();
    s
}

fn report(i: u64) -> Envelope {
    let grid = (i * 7919 % GRIDS as u64) as u32;
    let types = catalogue::item_types();
    let t = types
        .iter()
        .filter(|t| !t.on_spot)
        .nth((i % 100) as usize)
        .unwrap()
        .code;
    Envelope {
        actor: Actor {
            role: Role::Inspector,
            person: PersonId(1_000_000 + grid),
        },
        sent_at: i * 1000,
        command: Command::SubmitReport {
            report_ref: i,
            source: ReportSource::Inspector,
            grid,
            item_type: t,
            observed_at: i * 1000,
            resolved_on_spot: false,
        },
    }
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("grid module");
    g.throughput(Throughput::Elements(10_000));
    g.bench_function("10k reports accepted and dispatched", |b| {
        b.iter_batched(
            service,
            |mut s| {
                for i in 0..10_000 {
                    black_box(s.handle(&report(i)).unwrap());
                }
                s
            },
            BatchSize::LargeInput,
        )
    });
    g.bench_function("10k tasks from report to closed", |b| {
        b.iter_batched(
            service,
            |mut s| {
                for i in 0..10_000u64 {
                    let out = s.handle(&report(i)).unwrap();
                    let (task, resolver) = out
                        .iter()
                        .find_map(|o| {
                            if let Outcome::TaskDispatched { task, resolver, .. } = o {
                                Some((*task, *resolver))
                            } else {
                                None
                            }
                        })
                        .unwrap();
                    let r = Actor {
                        role: Role::Resolver,
                        person: resolver,
                    };
                    let at = i * 1000 + 500;
                    s.handle(&Envelope {
                        actor: r,
                        sent_at: at,
                        command: Command::AcceptTask { task },
                    })
                    .unwrap();
                    let v = s
                        .handle(&Envelope {
                            actor: r,
                            sent_at: at,
                            command: Command::ResolveTask { task },
                        })
                        .unwrap();
                    let verifier = v
                        .iter()
                        .find_map(|o| {
                            if let Outcome::VerificationRequested { verifier, .. } = o {
                                Some(*verifier)
                            } else {
                                None
                            }
                        })
                        .unwrap();
                    let inspector = Actor {
                        role: Role::Inspector,
                        person: verifier,
                    };
                    s.handle(&Envelope {
                        actor: inspector,
                        sent_at: at,
                        command: Command::VerifyTask {
                            task: TaskId(task.0),
                            passed: true,
                        },
                    })
                    .unwrap();
                }
                s
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
