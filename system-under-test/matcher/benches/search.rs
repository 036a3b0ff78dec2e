//! Criterion benches: 10,000 entries × 512 dims, batches of 1,000 queries,
//! exact and int8, 1 and 2 threads. Throughput is reported in queries/s.
use baoan_faces::noise::{capture, identity};
use baoan_matcher::{ExactIndex, Int8Index};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::hint::black_box;

const ENTRIES: usize = 10_000;
const DIM: usize = 512;
const QUERIES: usize = 1_000;

fn bench(c: &mut Criterion) {
    let rows: Vec<f32> = (0..ENTRIES as u64)
        .flat_map(|p| identity(7, p, DIM))
        .collect();
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let queries: Vec<f32> = (0..QUERIES as u64)
        .flat_map(|i| {
            let person = if i % 2 == 0 {
                (i * 7919) % ENTRIES as u64
            } else {
                1_000_000 + i
            };
            capture(&identity(7, person, DIM), 0.7, 1.0, &mut rng)
        })
        .collect();
    let exact = ExactIndex::from_rows(DIM, &rows).unwrap();
    let int8 = Int8Index::from_rows(DIM, false, &rows).unwrap();

    let mut g = c.benchmark_group("search_10k_x_512");
    g.throughput(Throughput::Elements(QUERIES as u64));
    g.sample_size(10);
    for threads in [1, 2] {
        g.bench_function(format!("exact_batch1000_t{threads}"), |b| {
            b.iter(|| exact.search_batch(black_box(&queries), 10, 0.3, threads))
        });
        g.bench_function(format!("int8_batch1000_t{threads}"), |b| {
            b.iter(|| int8.search_batch(black_box(&queries), 10, 0.3, threads))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
