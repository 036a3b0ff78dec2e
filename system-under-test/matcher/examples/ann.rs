//! Throughput against accuracy of an approximate (HNSW graph) index next to exact search, on
//! the synthetic watchlist: FNIR at FPIR 0.003, NIST style.
//!
//!     cargo run --release -p baoan-matcher --example ann -- [ENTRIES] [MATED] [NON_MATED] [MAX_CONN] [EF_CONSTRUCTION] [SERIAL]
//!
//! Defaults: 1,000,000 entries × 512 dims (persons 0..ENTRIES), 2,000 mated and 6,000 non-mated
//! searches (capture quality uniform on [0.1, 1], noise scale 3, the same stream as
//! `accuracy.rs`), HNSW (`hnsw_rs`, dot distance `1 − ⟨a, b⟩` for unit vectors) with 16
//! connections per layer (32 on layer 0) and ef_construction 100, inserted in parallel
//! (`SERIAL` = 1: one insertion at a time, which makes the graph deterministic).
//!
//! Exact search (`ExactIndex::search_batch`, k = 10, threshold −1 so every score is seen) sets
//! the threshold at FPIR 0.003 from its non-mated top scores. For each `ef_search` the HNSW
//! index is searched (k = 10, in parallel over the queries on all cores), the returned ids are
//! re-scored with the exact canonical inner product (so scores are comparable with exact's, and
//! an ANN search can only lose candidates), and FPIR/FNIR are reported at exact's threshold and
//! at the ANN's own threshold for FPIR 0.003, with the recall of exact's top-1 on mated
//! searches. Memory is the process's peak RSS (`VmHWM`). Prints JSON; progress on stderr.
//!
//! Determinism: data and queries are seeded. `hnsw_rs` draws layer levels from a fixed-seed
//! RNG, so serial insertion builds the same graph every run; parallel insertion does not (the
//! level draws and the neighbour lists depend on thread timing), so its figures vary a little
//! between runs.

use std::cell::Cell;
use std::time::Instant;

use baoan_faces::eval::{Search, evaluate, non_mated_top_scores, threshold_at_fpir};
use baoan_faces::noise::{identity, searches};
use baoan_matcher::{ExactIndex, Hit};
use hnsw_rs::anndists::dist::{DistDot, Distance};
use hnsw_rs::hnsw::Hnsw;
use rayon::prelude::*;

const DIM: usize = 512;
const K: usize = 10;
const SEED: u64 = 20201;
const TARGET_FPIR: f64 = 0.003;
const EF_SEARCH: [usize; 7] = [16, 32, 64, 128, 256, 512, 1024];
/// Entries generated (in parallel) and inserted per step: bounds the temporary copies and sets
/// how often progress is shown.
const BATCH: usize = 20_000;
/// `hnsw_rs`'s layer cap (16 layers, 0..=15).
const MAX_LAYER: usize = 16;

fn arg(n: usize, default: f64) -> f64 {
    std::env::args()
        .nth(n)
        .map(|a| a.parse().expect("a number"))
        .unwrap_or(default)
}

thread_local! {
    /// Distance evaluations made on this thread (the work an HNSW search does; exact search
    /// makes one per entry).
    static EVALS: Cell<u64> = const { Cell::new(0) };
}

/// anndists' `DistDot` (`1 − ⟨a, b⟩`, for unit vectors), counting its evaluations.
#[derive(Default, Clone, Copy)]
struct CountedDot;

impl Distance<f32> for CountedDot {
    fn eval(&self, va: &[f32], vb: &[f32]) -> f32 {
        EVALS.with(|c| c.set(c.get() + 1));
        DistDot.eval(va, vb)
    }
}

fn evals() -> u64 {
    EVALS.with(Cell::get)
}

/// `VmHWM` (peak RSS) and `VmRSS` of this process, in MiB.
fn memory_mib() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// The 1-, 5- and 15-minute load averages (other jobs share the machine).
fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// Hits in the crate's order: score descending, then entry ascending.
fn sorted(mut hits: Vec<Hit>) -> Vec<Hit> {
    hits.sort_unstable_by(|a, b| b.score.total_cmp(&a.score).then(a.entry.cmp(&b.entry)));
    hits
}

fn main() {
    let entries = arg(1, 1_000_000.0) as usize;
    let mated = arg(2, 2_000.0) as usize;
    let non_mated = arg(3, 6_000.0) as usize;
    let max_conn = arg(4, 16.0) as usize;
    let ef_construction = arg(5, 100.0) as usize;
    let serial = arg(6, 0.0) != 0.0;
    let sigma_scale = 3.0f32;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("thread pool");

    // The list, straight into the exact index (one copy of the vectors), generated in parallel.
    let started = Instant::now();
    let mut exact = ExactIndex::new(DIM).expect("valid dim");
    for start in (0..entries).step_by(BATCH) {
        let end = (start + BATCH).min(entries);
        let rows: Vec<Vec<f32>> = pool.install(|| {
            (start..end)
                .into_par_iter()
                .map(|p| identity(SEED, p as u64, DIM))
                .collect()
        });
        for row in &rows {
            exact.add(row).expect("valid row");
        }
    }
    let generate_s = started.elapsed().as_secs_f64();
    let (hwm_exact, rss_exact) = memory_mib();
    eprintln!("{entries} entries generated in {generate_s:.1} s, RSS {rss_exact:.0} MiB");

    // Queries: exactly as accuracy.rs draws them.
    let (queries, mates) = searches(SEED, entries, mated, non_mated, sigma_scale, DIM);
    let nq = mates.len();
    let to_searches = |hits: Vec<Vec<Hit>>| -> Vec<Search> {
        hits.into_iter()
            .zip(&mates)
            .map(|(hits, &mate)| Search::new(mate, hits.iter().map(|h| (h.entry, h.score))))
            .collect()
    };

    // Exact: the reference and the threshold.
    let load_exact = load();
    let started = Instant::now();
    let exact_hits = exact.search_batch(&queries, K, -1.0, threads);
    let exact_s = started.elapsed().as_secs_f64();
    let exact_top1: Vec<Option<u32>> = exact_hits
        .iter()
        .map(|h| h.first().map(|h| h.entry))
        .collect();
    let exact_sets: Vec<Vec<u32>> = exact_hits
        .iter()
        .map(|h| h.iter().map(|h| h.entry).collect())
        .collect();
    let exact_searches = to_searches(exact_hits);
    let threshold = threshold_at_fpir(&non_mated_top_scores(&exact_searches), TARGET_FPIR);
    let m = evaluate(&exact_searches, threshold);
    let exact_qps = nq as f64 / exact_s;
    eprintln!(
        "exact: {exact_qps:.0} searches/s, threshold {threshold}, FNIR {:.4} (load {load_exact})",
        m.fnir.rate
    );
    let exact_json = serde_json::json!({
        "index": "exact f32", "searches_per_s": exact_qps, "load_avg": load_exact,
        "threshold": threshold, "fpir": m.fpir.rate, "fnir": m.fnir.rate, "fnir_se": m.fnir.se,
        "rank1_miss": m.rank1_miss.rate,
    });

    // HNSW build: its own copy of the vectors, inserted in batches with progress.
    let load_build = load();
    let evals_before: u64 = pool.broadcast(|_| evals()).iter().sum::<u64>() + evals();
    let started = Instant::now();
    let mut hnsw =
        Hnsw::<f32, CountedDot>::new(max_conn, entries, MAX_LAYER, ef_construction, CountedDot);
    for start in (0..entries).step_by(BATCH) {
        let end = (start + BATCH).min(entries);
        let items: Vec<(&[f32], usize)> = (start..end).map(|i| (exact.row(i as u32), i)).collect();
        if serial {
            for &item in &items {
                hnsw.insert_slice(item);
            }
        } else {
            pool.install(|| hnsw.parallel_insert_slice(&items));
        }
        let secs = started.elapsed().as_secs_f64();
        eprintln!(
            "hnsw: {end}/{entries} inserted, {secs:.0} s, ~{:.0} s to go (load {})",
            secs / end as f64 * (entries - end) as f64,
            load()
        );
    }
    hnsw.set_searching_mode(true);
    let build_s = started.elapsed().as_secs_f64();
    let build_evals = pool.broadcast(|_| evals()).iter().sum::<u64>() + evals() - evals_before;
    let (hwm_built, rss_built) = memory_mib();

    let mut results = vec![exact_json];
    for ef in EF_SEARCH {
        let load_search = load();
        let started = Instant::now();
        let answers: Vec<(Vec<Hit>, u64)> = pool.install(|| {
            queries
                .par_chunks(DIM)
                .map(|q| {
                    let before = evals();
                    let found = hnsw.search(q, K, ef);
                    let made = evals() - before;
                    let hits = sorted(
                        found
                            .iter()
                            .map(|n| {
                                let entry = n.d_id as u32;
                                Hit {
                                    entry,
                                    score: exact.score(q, entry),
                                }
                            })
                            .collect(),
                    );
                    (hits, made)
                })
                .collect()
        });
        let secs = started.elapsed().as_secs_f64();
        let (hits, made): (Vec<Vec<Hit>>, Vec<u64>) = answers.into_iter().unzip();
        let mean_evals = |mated: bool| {
            let v: Vec<u64> = made
                .iter()
                .zip(&mates)
                .filter(|(_, m)| m.is_some() == mated)
                .map(|(&e, _)| e)
                .collect();
            v.iter().sum::<u64>() as f64 / v.len().max(1) as f64
        };
        // Recall of exact's answers on the mated searches.
        let (mut top1, mut overlap, mut n) = (0usize, 0usize, 0usize);
        for (i, h) in hits.iter().enumerate() {
            if mates[i].is_none() {
                continue;
            }
            n += 1;
            let ann: Vec<u32> = h.iter().map(|h| h.entry).collect();
            top1 += usize::from(ann.first().copied() == exact_top1[i]);
            overlap += exact_sets[i].iter().filter(|e| ann.contains(e)).count();
        }
        let searches = to_searches(hits);
        let at_exact = evaluate(&searches, threshold);
        let own = threshold_at_fpir(&non_mated_top_scores(&searches), TARGET_FPIR);
        let at_own = evaluate(&searches, own);
        let qps = nq as f64 / secs;
        eprintln!(
            "hnsw ef {ef}: {qps:.0} searches/s, FNIR {:.4} at exact's threshold, top-1 recall {:.4} (load {load_search})",
            at_exact.fnir.rate,
            top1 as f64 / n as f64
        );
        results.push(serde_json::json!({
            "index": "hnsw", "ef_search": ef, "searches_per_s": qps,
            "speedup_vs_exact": qps / exact_qps, "load_avg": load_search,
            "at_exact_threshold": {
                "threshold": threshold, "fpir": at_exact.fpir.rate, "fnir": at_exact.fnir.rate,
                "fnir_se": at_exact.fnir.se,
            },
            "at_own_threshold": {
                "threshold": own, "fpir": at_own.fpir.rate, "fnir": at_own.fnir.rate,
                "fnir_se": at_own.fnir.se,
            },
            "rank1_miss": at_exact.rank1_miss.rate,
            "mated_top1_recall": top1 as f64 / n as f64,
            "distance_evals_per_search": { "mated": mean_evals(true), "non_mated": mean_evals(false) },
            "mated_recall_at_k": overlap as f64 / (n * K) as f64,
        }));
    }

    println!(
        "{}",
        serde_json::to_string_pretty(&serde_json::json!({
            "entries": entries, "dim": DIM, "k": K, "mated": mated, "non_mated": non_mated,
            "sigma_scale": sigma_scale, "quality": "uniform 0.1..1", "threads": threads,
            "target_fpir": TARGET_FPIR,
            "generate_s": generate_s,
            "exact_index": { "vm_hwm_mib": hwm_exact, "vm_rss_mib": rss_exact },
            "hnsw_build": {
                "crate": "hnsw_rs 0.3.5 (anndists DistDot, simdeez_f)",
                "max_conn": max_conn, "max_conn_layer0": 2 * max_conn,
                "ef_construction": ef_construction,
                "insertion": if serial { "serial (deterministic)" } else { "parallel (graph varies run to run)" },
                "build_s": build_s, "build_distance_evals_per_insert": build_evals as f64 / entries as f64, "load_avg_at_start": load_build, "load_avg_at_end": load(),
                "vm_hwm_mib": hwm_built, "vm_rss_mib": rss_built,
                "hnsw_rss_mib": rss_built - rss_exact,
                "layers": hnsw.get_max_level_observed() + 1,
            },
            "results": results,
        }))
        .expect("serialises")
    );
}
