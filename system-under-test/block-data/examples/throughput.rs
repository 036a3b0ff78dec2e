//! Ingest-and-link throughput on one core with realistic fault rates, plus pairwise precision
//! and recall against the generator's truth. A quick check, not the project's criterion bench.
//!
//! `cargo run --release --example throughput -- [persons]` (default 150,000 people, which makes
//! about 370,000 person and company records).

#[path = "../tests/synth/mod.rs"]
mod synth;

use std::collections::HashMap;
use std::time::Instant;

use baoan_block_data::person::Record;
use baoan_block_data::resolve::{BlockData, Config};

fn pairs(n: u64) -> u64 {
    n * n.saturating_sub(1) / 2
}

fn main() {
    let persons: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse().expect("persons must be a number"))
        .unwrap_or(150_000);
    let world = synth::world(4, 40);
    let generated = synth::feeds(&world, persons, 2026, &synth::Faults::REALISTIC);
    let records = &generated.records;
    let people = records
        .iter()
        .filter(|r| matches!(r, Record::Person(_)))
        .count();
    println!(
        "library: {} buildings, {} rooms; records: {} ({} person, {} company)",
        world.library.building_count(),
        world.library.room_count(),
        records.len(),
        people,
        records.len() - people
    );

    let mut bd = BlockData::new(world.library.clone(), Config::default());
    let start = Instant::now();
    for r in records {
        bd.ingest(r);
    }
    let elapsed = start.elapsed().as_secs_f64();
    println!(
        "ingest+link: {:.3} s, {:.0} records/s",
        elapsed,
        records.len() as f64 / elapsed
    );

    let start = Instant::now();
    for r in records.iter().take(100_000) {
        bd.ingest(r);
    }
    let repeat = start.elapsed().as_secs_f64();
    println!(
        "re-ingest of identical records: {:.0} records/s",
        records.len().min(100_000) as f64 / repeat
    );

    // Pairwise precision and recall from the cluster × truth contingency table.
    let mut cells: HashMap<(baoan_block_data::ClusterId, u64), u64> = HashMap::new();
    let mut by_cluster: HashMap<baoan_block_data::ClusterId, u64> = HashMap::new();
    let mut by_truth: HashMap<u64, u64> = HashMap::new();
    for (r, &t) in records.iter().zip(&generated.truth) {
        let c = bd
            .cluster_of(&r.key())
            .expect("every generated record is accepted");
        *cells.entry((c, t)).or_default() += 1;
        *by_cluster.entry(c).or_default() += 1;
        *by_truth.entry(t).or_default() += 1;
    }
    let tp: u64 = cells.values().map(|&n| pairs(n)).sum();
    let predicted: u64 = by_cluster.values().map(|&n| pairs(n)).sum();
    let actual: u64 = by_truth.values().map(|&n| pairs(n)).sum();
    let (precision, recall) = (tp as f64 / predicted as f64, tp as f64 / actual as f64);
    println!(
        "pairwise precision {:.4}, recall {:.4}, F1 {:.4}",
        precision,
        recall,
        2.0 * precision * recall / (precision + recall)
    );
    let a = bd.accounting();
    let stats = bd.blocking_stats();
    println!(
        "linked {}, pending {}, rejected {}; conflicts {}",
        a.linked,
        a.pending,
        a.rejected,
        bd.conflicts().len()
    );
    println!(
        "pairs scored {}, links {}, reviews {}, withheld (invalid ID) {}",
        stats.pairs_scored, stats.links, stats.reviews, stats.withheld_invalid_id
    );
    for (kind, n) in &stats.candidate_pairs {
        println!("  candidate pairs from {kind:?}: {n}");
    }
}
