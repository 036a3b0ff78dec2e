//! The matcher service's throughput as the stack serves it: one sighting per call, searched
//! against the active watchlist (exact, 512 dims) and discarded or turned into an alert.
//! Batched search without the service is `cargo bench -p baoan-matcher --bench search`.

use std::hint::black_box;

use baoan_api::{
    Actor, Command, Envelope, ListKind, MatchPolicy, PersonId, Role, Sighting, WatchlistEntry,
};
use baoan_faces::noise::{capture, identity};
use baoan_matcher::MatcherService;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

const DIM: usize = 512;
const SIGHTINGS: usize = 1000;

fn service(entries: u64) -> MatcherService {
    let mut m = MatcherService::new(DIM);
    let admin = Actor {
        role: Role::Admin,
        person: PersonId(1),
    };
    let send = |m: &mut MatcherService, command| {
        m.handle(&Envelope {
            actor: admin,
            sent_at: 0,
            command,
        })
        .expect("accepted")
    };
    send(
        &mut m,
        Command::SetMatchPolicy {
            policy: MatchPolicy {
                threshold: 0.25,
                top_k: 5,
                reviewers_required: 2,
            },
        },
    );
    let list: Vec<WatchlistEntry> = (0..entries)
        .map(|p| WatchlistEntry {
            entry_ref: p,
            list: ListKind::Wanted,
            legal_basis: format!("warrant {p}"),
            owner: "district police".into(),
            expires_at: u64::MAX,
            embedding: identity(9, p, DIM),
        })
        .collect();
    send(&mut m, Command::UpsertWatchlist { entries: list });
    m
}

fn bench(c: &mut Criterion) {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    // Mostly passers-by, one in fifty on the list: what a capture point sees.
    let sightings: Vec<Sighting> = (0..SIGHTINGS)
        .map(|s| {
            let person = if s % 50 == 0 {
                s as u64
            } else {
                1_000_000 + s as u64
            };
            Sighting {
                sighting_ref: s as u64,
                camera: 1,
                grid: 0,
                x_m: 0.0,
                y_m: 0.0,
                captured_at: 0,
                quality: 0.8,
                embedding: capture(&identity(9, person, DIM), 0.8, 3.0, &mut rng),
            }
        })
        .collect();
    let camera = Actor {
        role: Role::Camera,
        person: PersonId(7),
    };
    let mut group = c.benchmark_group("matcher_service");
    group.throughput(Throughput::Elements(SIGHTINGS as u64));
    for entries in [1_000u64, 10_000] {
        let mut m = service(entries);
        group.bench_function(format!("sightings/{entries}_entries"), |b| {
            let mut round = 0u64;
            b.iter(|| {
                round += 1;
                for s in &sightings {
                    let mut s = s.clone();
                    // A fresh key each round: a repeated key is answered from the alert.
                    s.sighting_ref += round * SIGHTINGS as u64;
                    black_box(
                        m.handle(&Envelope {
                            actor: camera,
                            sent_at: 1,
                            command: Command::SubmitSighting { sighting: s },
                        })
                        .expect("accepted"),
                    );
                }
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
