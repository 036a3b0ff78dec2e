//! Peak throughput at 10,000 entries × 512 dims, 1,000-query batches.
//!
//! `cargo run --release --example peak [-- entries dim queries reps]`
use std::time::Instant;

use baoan_matcher::noise::{capture, identity};
use baoan_matcher::{ExactIndex, Hit, Int8Index, Kernel};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let entries = args.first().copied().unwrap_or(10_000);
    let dim = args.get(1).copied().unwrap_or(512);
    let nq = args.get(2).copied().unwrap_or(1_000);
    let reps = args.get(3).copied().unwrap_or(5);
    let (k, thr) = (10, 0.3f32);

    let rows: Vec<f32> = (0..entries as u64)
        .flat_map(|p| identity(7, p, dim))
        .collect();
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    // Half mated (captures of listed people), half non-mated.
    let queries: Vec<f32> = (0..nq as u64)
        .flat_map(|i| {
            let person = if i % 2 == 0 {
                (i * 7919) % entries as u64
            } else {
                1_000_000 + i
            };
            capture(&identity(7, person, dim), 0.7, 1.0, &mut rng)
        })
        .collect();

    let exact = ExactIndex::from_rows(dim, &rows).unwrap();
    let int8 = Int8Index::from_rows(dim, false, &rows).unwrap();
    let int8_avx2 = {
        let mut i = Int8Index::with_kernel(dim, false, Kernel::Avx2).unwrap();
        i.extend_from_rows(&rows).unwrap();
        i
    };
    let int8_rr = Int8Index::from_rows(dim, true, &rows).unwrap();
    println!(
        "entries={entries} dim={dim} queries/batch={nq} k={k} threshold={thr} reps={reps} (best / median)"
    );
    println!(
        "exact kernel {:?}, int8 kernel {:?}",
        exact.kernel(),
        int8.kernel()
    );
    let flops_per_query = 2.0 * dim as f64 * entries as f64;
    let reference = exact.search_batch(&queries, k, thr, 1);

    let run = |name: &str, f: &dyn Fn() -> Vec<Vec<Hit>>, n: usize| {
        let _ = f(); // warm-up
        let mut times: Vec<f64> = (0..reps)
            .map(|_| {
                let t = Instant::now();
                let r = f();
                let dt = t.elapsed().as_secs_f64();
                assert_eq!(r.len(), n);
                dt
            })
            .collect();
        times.sort_by(f64::total_cmp);
        let (best, med) = (times[0], times[times.len() / 2]);
        println!(
            "{name:<34} {:>9.0} searches/s ({:>9.0} median)  {:>6.1} GFLOP/s",
            n as f64 / best,
            n as f64 / med,
            n as f64 * flops_per_query / best / 1e9
        );
    };
    let single = &queries[..100 * dim];
    run(
        "exact single-query search(), 1t",
        &|| {
            single
                .chunks_exact(dim)
                .map(|q| exact.search(q, k, thr))
                .collect()
        },
        100,
    );
    run(
        "exact search_batch 1 thread",
        &|| exact.search_batch(&queries, k, thr, 1),
        nq,
    );
    run(
        "exact search_batch 2 threads",
        &|| exact.search_batch(&queries, k, thr, 2),
        nq,
    );
    run(
        "int8 (auto) search_batch 1 thread",
        &|| int8.search_batch(&queries, k, thr, 1),
        nq,
    );
    run(
        "int8 (auto) search_batch 2 threads",
        &|| int8.search_batch(&queries, k, thr, 2),
        nq,
    );
    run(
        "int8 (AVX2) search_batch 1 thread",
        &|| int8_avx2.search_batch(&queries, k, thr, 1),
        nq,
    );
    run(
        "int8 (AVX2) search_batch 2 threads",
        &|| int8_avx2.search_batch(&queries, k, thr, 2),
        nq,
    );
    run(
        "int8+rerank search_batch 1 thread",
        &|| int8_rr.search_batch(&queries, k, thr, 1),
        nq,
    );

    // Agreement of int8 with exact on top-1 (informational).
    let i8r = int8.search_batch(&queries, k, thr, 1);
    let agree = reference
        .iter()
        .zip(&i8r)
        .filter(|(a, b)| a.first().map(|h| h.entry) == b.first().map(|h| h.entry))
        .count();
    println!("int8 top-1 == exact top-1 on {agree}/{nq} queries");
}
