//! Dispatch decisions of the command module with the district's full roster: 100,000 volunteers,
//! 161 posts (two auxiliary police and a police officer each), patrols and department crews.
//! A decision is one incident reported: lead centre, duty leaders, and the nearest free unit of
//! every class it needs. Criterion gives the mean rate; each decision's own time also goes into an
//! HDR histogram whose p50/p99/p999 are printed at the end.

use std::hint::black_box;
use std::time::{Duration, Instant};

use baoan_api::emergency::{self, Severity};
use baoan_api::{
    Actor, Centre, Command, CommandDirectory, Envelope, IncidentSource, LeaderEntry, Outcome,
    PersonId, Role, UnitClass, UnitEntry, UnitId,
};
use baoan_command::CommandService;
use criterion::{Criterion, criterion_group, criterion_main};
use hdrhistogram::Histogram;

const W: f64 = 30_000.0;
const H: f64 = 35_000.0;
const GRIDS: u32 = 4866;

struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn roster() -> CommandDirectory {
    let mut rng = Lcg(7);
    let mut units = Vec::new();
    let mut add = |class, x: f64, y: f64| {
        let id = UnitId(units.len() as u32 + 1);
        units.push(UnitEntry {
            unit: id,
            class,
            x_m: x,
            y_m: y,
            grid: ((x / W * 69.0) as u32 * 70 + (y / H * 69.0) as u32) % GRIDS,
            on_duty: true,
        });
    };
    for _ in 0..100_000 {
        add(UnitClass::Volunteer, rng.next() * W, rng.next() * H);
    }
    for _ in 0..161 {
        let (x, y) = (rng.next() * W, rng.next() * H);
        add(UnitClass::AuxiliaryPolice, x, y);
        add(UnitClass::AuxiliaryPolice, x, y);
        add(UnitClass::Police, x, y);
    }
    for (class, n) in [
        (UnitClass::Police, 60),
        (UnitClass::AuxiliaryPolice, 100),
        (UnitClass::Fire, 24),
        (UnitClass::Medical, 80),
        (UnitClass::Hazmat, 4),
        (UnitClass::Flood, 10),
    ] {
        for _ in 0..n {
            add(class, rng.next() * W, rng.next() * H);
        }
    }
    let leaders = (0..66)
        .map(|i| LeaderEntry {
            person: PersonId(100 + i),
            centre: if i < 6 {
                Centre::District
            } else {
                Centre::Street((i - 6) / 6)
            },
        })
        .collect();
    CommandDirectory {
        grids: (0..GRIDS).map(|g| (g / 40, g / 490)).collect(),
        units,
        leaders,
        departments_wait: false,
        four_duties: false,
    }
}

fn service() -> CommandService {
    let mut s = CommandService::new();
    let admin = Actor {
        role: Role::Admin,
        person: PersonId(1),
    };
    s.handle(&Envelope {
        actor: admin,
        sent_at: 0,
        command: Command::LoadCommandDirectory {
            directory: roster(),
        },
    })
    .unwrap();
    s
}

/// Release every unit an incident got, so the roster stays the same size between decisions.
fn release(s: &mut CommandService, outcomes: &[Outcome], at: u64) {
    let responder = Actor {
        role: Role::Responder,
        person: PersonId(9),
    };
    let mut incident = None;
    for o in outcomes {
        if let Outcome::UnitDispatched {
            incident: i, unit, ..
        } = o
        {
            incident = Some(*i);
            for command in [
                Command::UnitArrived {
                    incident: *i,
                    unit: *unit,
                },
                Command::UnitCleared {
                    incident: *i,
                    unit: *unit,
                },
            ] {
                s.handle(&Envelope {
                    actor: responder,
                    sent_at: at,
                    command,
                })
                .unwrap();
            }
            let u = &s.units()[unit.0 as usize - 1];
            let (x, y, g) = (u.entry.x_m, u.entry.y_m, u.entry.grid);
            s.handle(&Envelope {
                actor: responder,
                sent_at: at,
                command: Command::UnitAvailable {
                    unit: *unit,
                    available: true,
                    x_m: x,
                    y_m: y,
                    grid: g,
                },
            })
            .unwrap();
        }
    }
    if let Some(i) = incident {
        let _ = s.handle(&Envelope {
            actor: responder,
            sent_at: at,
            command: Command::CloseIncident { incident: i },
        });
    }
}

fn report(i: u64, rng: &mut Lcg) -> Envelope {
    let types = emergency::emergency_types().len() as u64;
    let (x, y) = (rng.next() * W, rng.next() * H);
    Envelope {
        actor: Actor {
            role: Role::Dispatcher,
            person: PersonId(3),
        },
        sent_at: i * 1000,
        command: Command::ReportIncident {
            incident_ref: i,
            source: IncidentSource::Call,
            emergency_type: (i % types) as u16 + 1,
            severity: if i.is_multiple_of(20) {
                Severity::II
            } else {
                Severity::IV
            },
            grid: (i * 7919 % GRIDS as u64) as u32,
            x_m: x,
            y_m: y,
            observed_at: i * 1000,
        },
    }
}

fn bench(c: &mut Criterion) {
    let mut s = service();
    let mut rng = Lcg(11);
    let mut latency = Histogram::<u64>::new_with_bounds(1, 1_000_000_000, 3).unwrap();
    let mut next = 1u64;
    c.bench_function("dispatch decision, 100k volunteers and 161 posts", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let env = report(next, &mut rng);
                let t = Instant::now();
                let out = black_box(s.handle(&env).unwrap());
                let dt = t.elapsed();
                total += dt;
                latency.record(dt.as_nanos().max(1) as u64).unwrap();
                release(&mut s, &out, next * 1000 + 500);
                next += 1;
            }
            total
        })
    });
    eprintln!(
        "dispatch decision latency over {} decisions: p50 {:.1} µs, p99 {:.1} µs, p99.9 {:.1} µs, max {:.1} µs; mean rate {:.0} decisions/s",
        latency.len(),
        latency.value_at_quantile(0.5) as f64 / 1000.0,
        latency.value_at_quantile(0.99) as f64 / 1000.0,
        latency.value_at_quantile(0.999) as f64 / 1000.0,
        latency.max() as f64 / 1000.0,
        1e9 / latency.mean()
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
