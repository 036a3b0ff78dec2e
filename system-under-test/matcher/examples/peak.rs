//! Peak throughput at 10,000 entries × 512 dims, 1,000-query batches.
//!
//! `cargo run --release --example peak [-- entries dim queries reps] [--export DIR]`
//!
//! `--export DIR` also writes the benchmarked vectors for a peer (FAISS, see
//! `benches/peers/faiss_flat.py`): `DIR/entries.f32` (entries × dim) and
//! `DIR/queries.f32` (queries × dim), raw little-endian f32 row-major;
//! `DIR/top1.u32`, our exact top-1 entry per query (no threshold), little-endian
//! u32; and `DIR/meta.json` with the shapes, `k` and our median searches/s, which
//! are also printed as one JSON line. Repetitions are at least 5 then.
use std::path::{Path, PathBuf};
use std::time::Instant;

use baoan_faces::noise::{capture, identity};
use baoan_matcher::{ExactIndex, Hit, Int8Index, Kernel};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn main() {
    let mut export: Option<PathBuf> = None;
    let mut args: Vec<usize> = Vec::new();
    let mut argv = std::env::args().skip(1);
    while let Some(a) = argv.next() {
        if a == "--export" {
            export = Some(argv.next().expect("--export needs a directory").into());
        } else if let Some(dir) = a.strip_prefix("--export=") {
            export = Some(dir.into());
        } else if let Ok(n) = a.parse() {
            args.push(n);
        }
    }
    let entries = args.first().copied().unwrap_or(10_000);
    let dim = args.get(1).copied().unwrap_or(512);
    let nq = args.get(2).copied().unwrap_or(1_000);
    let reps = args.get(3).copied().unwrap_or(5);
    let reps = if export.is_some() { reps.max(5) } else { reps };
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

    if let Some(dir) = &export {
        // Our exact top-1 without a threshold (every query has one), as the
        // reference a peer's top-1 is compared with.
        let top1: Vec<u32> = exact
            .search_batch(&queries, 1, f32::NEG_INFINITY, 1)
            .iter()
            .map(|h| h[0].entry)
            .collect();
        write_vectors(dir, &rows, &queries, &top1).expect("writing the export");
    }

    let run = |name: &str, f: &dyn Fn() -> Vec<Vec<Hit>>, n: usize| -> f64 {
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
        n as f64 / med
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
    let exact_1t = run(
        "exact search_batch 1 thread",
        &|| exact.search_batch(&queries, k, thr, 1),
        nq,
    );
    let exact_2t = run(
        "exact search_batch 2 threads",
        &|| exact.search_batch(&queries, k, thr, 2),
        nq,
    );
    let int8_1t = run(
        "int8 (auto) search_batch 1 thread",
        &|| int8.search_batch(&queries, k, thr, 1),
        nq,
    );
    let int8_2t = run(
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

    if let Some(dir) = &export {
        // FAISS applies no threshold: the exact path timed that way too.
        let nothr = f32::NEG_INFINITY;
        let exact_nothr_1t = run(
            "exact search_batch 1t, no threshold",
            &|| exact.search_batch(&queries, k, nothr, 1),
            nq,
        );
        let exact_nothr_2t = run(
            "exact search_batch 2t, no threshold",
            &|| exact.search_batch(&queries, k, nothr, 2),
            nq,
        );
        let ours = format!(
            "{{\"metric\": \"searches/s, median of {reps} after a warm-up\", \
             \"threshold\": {thr}, \"exact_kernel\": \"{:?}\", \"int8_kernel\": \"{:?}\", \
             \"exact_1t\": {exact_1t:.0}, \"exact_2t\": {exact_2t:.0}, \
             \"int8_1t\": {int8_1t:.0}, \"int8_2t\": {int8_2t:.0}, \
             \"exact_no_threshold_1t\": {exact_nothr_1t:.0}, \"exact_no_threshold_2t\": {exact_nothr_2t:.0}}}",
            exact.kernel(),
            int8.kernel()
        );
        let meta = format!(
            "{{\"entries\": {entries}, \"queries\": {nq}, \"dim\": {dim}, \"k\": {k}, \"ours\": {ours}}}\n"
        );
        std::fs::write(dir.join("meta.json"), &meta).expect("writing meta.json");
        println!("{{\"ours\": {ours}}}");
        println!("exported to {}", dir.display());
    }
}

/// Raw little-endian dumps of the benchmarked vectors and our top-1 ids.
fn write_vectors(dir: &Path, rows: &[f32], queries: &[f32], top1: &[u32]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let f32s = |v: &[f32]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
    std::fs::write(dir.join("entries.f32"), f32s(rows))?;
    std::fs::write(dir.join("queries.f32"), f32s(queries))?;
    let ids: Vec<u8> = top1.iter().flat_map(|x| x.to_le_bytes()).collect();
    std::fs::write(dir.join("top1.u32"), ids)
}
