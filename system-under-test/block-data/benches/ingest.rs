//! Ingest-and-link throughput on one core: departments' records (people and companies, with the
//! synthetic generator's realistic faults) placed on the address library and resolved.
//! `cargo bench -p baoan-block-data --bench ingest`; the figure is records per second.

#[path = "../tests/synth/mod.rs"]
mod synth;

use baoan_block_data::resolve::{BlockData, Config};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};

fn ingest(c: &mut Criterion) {
    let world = synth::world(4, 40);
    let generated = synth::feeds(&world, 40_000, 2026, &synth::Faults::REALISTIC);
    let records = generated.records;
    let mut g = c.benchmark_group("block_data");
    g.sample_size(10);
    g.throughput(Throughput::Elements(records.len() as u64));
    g.bench_function(format!("ingest_and_link_{}_records", records.len()), |b| {
        b.iter_batched(
            || BlockData::new(world.library.clone(), Config::default()),
            |mut bd| {
                for r in &records {
                    bd.ingest(r);
                }
                bd
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, ingest);
criterion_main!(benches);
