//! Accuracy of the exact and quantised indexes on the same searches, NIST style: FNIR at the
//! thresholds where each reaches FPIR 0.01, 0.003 and 0.001, rank-1 misses, and throughput.
//!
//!     cargo run --release -p baoan-matcher --example accuracy -- [ENTRIES] [MATED] [NON_MATED] [SIGMA_SCALE]
//!
//! Defaults: 10,000 entries × 512 dims, 10,000 mated and 30,000 non-mated searches, capture
//! quality uniform on [0.1, 1], noise scale 3 (the twin's default). Prints JSON, with the
//! analytic FPIR of the noise model next to each measured one (the measurement checked), and
//! what each operating point means for the district: false alerts a day from the 1,034 capture
//! points' ≈15,000 sightings each, and the reviewer-hours they cost (two reviews of a minute).

use std::time::Instant;

use baoan_faces::eval::{Search, evaluate, non_mated_top_scores, threshold_at_fpir};
use baoan_faces::noise::{analytic_fpir, identity, searches};
use baoan_matcher::{ExactIndex, Hit, Int8Index};

const DIM: usize = 512;
const K: usize = 10;
const SEED: u64 = 20201;
/// District-wide sightings a day: 1,034 face-capture points × about 15,000 each.
const SIGHTINGS_PER_DAY: f64 = 1034.0 * 15_000.0;
const REVIEWS_PER_ALERT: f64 = 2.0;
const REVIEW_S: f64 = 60.0;

fn arg(n: usize, default: f64) -> f64 {
    std::env::args()
        .nth(n)
        .map(|a| a.parse().expect("a number"))
        .unwrap_or(default)
}

fn main() {
    let entries = arg(1, 10_000.0) as usize;
    let mated = arg(2, 10_000.0) as usize;
    let non_mated = arg(3, 30_000.0) as usize;
    let sigma_scale = arg(4, 3.0) as f32;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());

    // The list: persons 0..entries. Mated searches are captures of listed persons; non-mated
    // ones of persons far outside the list.
    let mut rows = Vec::with_capacity(entries * DIM);
    for p in 0..entries {
        rows.extend(identity(SEED, p as u64, DIM));
    }
    let (queries, mates) = searches(SEED, entries, mated, non_mated, sigma_scale, DIM);

    let exact = ExactIndex::from_rows(DIM, &rows).expect("valid rows");
    let int8 = Int8Index::from_rows(DIM, false, &rows).expect("valid rows");
    let rerank = Int8Index::from_rows(DIM, true, &rows).expect("valid rows");
    let run = |name: &str, search: &dyn Fn() -> Vec<Vec<Hit>>| {
        let started = Instant::now();
        let hits = search();
        let secs = started.elapsed().as_secs_f64();
        let searches: Vec<Search> = hits
            .into_iter()
            .zip(&mates)
            .map(|(hits, &mate)| Search::new(mate, hits.iter().map(|h| (h.entry, h.score))))
            .collect();
        let top = non_mated_top_scores(&searches);
        let at: Vec<serde_json::Value> = [0.01, 0.003, 0.001]
            .iter()
            .map(|&target| {
                let t = threshold_at_fpir(&top, target);
                let m = evaluate(&searches, t);
                let false_alerts = m.fpir.rate * SIGHTINGS_PER_DAY;
                serde_json::json!({
                    "target_fpir": target, "threshold": t,
                    "fpir": m.fpir.rate, "fpir_se": m.fpir.se,
                    "analytic_fpir": analytic_fpir(t as f64, DIM, entries),
                    "fnir": m.fnir.rate, "fnir_se": m.fnir.se,
                    "district_false_alerts_per_day": false_alerts,
                    "reviewer_hours_per_day": false_alerts * REVIEWS_PER_ALERT * REVIEW_S / 3600.0,
                })
            })
            .collect();
        let rank1 = evaluate(&searches, f32::NEG_INFINITY).rank1_miss;
        serde_json::json!({
            "index": name,
            "searches_per_s": searches.len() as f64 / secs,
            "rank1_miss": rank1.rate,
            "at": at,
        })
    };
    // Threshold -1: every search returns its top k, so the evaluator sees every score.
    let results = vec![
        run("exact f32", &|| {
            exact.search_batch(&queries, K, -1.0, threads)
        }),
        run("int8", &|| int8.search_batch(&queries, K, -1.0, threads)),
        run("int8 + f32 re-rank", &|| {
            rerank.search_batch(&queries, K, -1.0, threads)
        }),
    ];
    println!(
        "{}",
        serde_json::to_string_pretty(&serde_json::json!({
            "entries": entries, "dim": DIM, "mated": mated, "non_mated": non_mated,
            "sigma_scale": sigma_scale, "quality": "uniform 0.1..1", "threads": threads,
            "results": results,
        }))
        .expect("serialises")
    );
}
