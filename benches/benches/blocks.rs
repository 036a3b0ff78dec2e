//! The department feeds the block-data loop sends (people, companies, visits, utility accounts
//! and the address library) generated for a day: at a tenth of the district and for the whole
//! district (about 7 M records; the target is well under 30 s in release).

use std::hint::black_box;

use baoan_agents::blocks::feeds::generate;
use baoan_scenarios::BlocksLoop;
use baoan_world::{RngStreams, Twin};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const DAY_MS: u64 = 86_400_000;

fn feeds(c: &mut Criterion) {
    let mut g = c.benchmark_group("blocks feeds");
    g.sample_size(10);
    for (scale, least) in [(0.1, 600_000), (1.0, 6_000_000)] {
        let (twin, _) = Twin::build(scale, 1);
        let config = BlocksLoop::default();
        let streams = RngStreams::new(1);
        let records = generate(&twin, &config, &streams, DAY_MS).records.len();
        assert!(records > least, "{records} records at scale {scale}");
        g.throughput(Throughput::Elements(records as u64));
        g.bench_function(format!("a day at scale {scale}"), |b| {
            b.iter(|| generate(black_box(&twin), &config, &streams, DAY_MS))
        });
    }
    g.finish();
}

criterion_group!(benches, feeds);
criterion_main!(benches);
