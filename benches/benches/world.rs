//! Building the district and the hot-path look-ups: travel time and point → grid; reading an
//! OSM extract; the road graph and its all-pairs travel times over a synthetic lattice at full
//! district scale.

use std::hint::black_box;
use std::path::Path;

use baoan_world::osm::read_osm;
use baoan_world::roads::RoadTimes;
use baoan_world::roads::lattice::{lattice, outline_box};
use baoan_world::{District, Mode, Population, RngStreams, RoadGraph, TravelTimes};
use criterion::{Criterion, criterion_group, criterion_main};
use geo::{BoundingRect, Coord};

fn build(c: &mut Criterion) {
    let mut g = c.benchmark_group("build");
    g.sample_size(10);
    g.bench_function("district scale 0.1", |b| {
        b.iter(|| District::build(black_box(0.1), 1))
    });
    let d = District::build(0.1, 1);
    g.bench_function("travel times scale 0.1", |b| {
        b.iter(|| TravelTimes::build(black_box(&d)))
    });
    g.bench_function("population scale 0.1", |b| {
        b.iter(|| Population::build(black_box(&d), &RngStreams::new(1)))
    });
    g.finish();
}

fn lookups(c: &mut Criterion) {
    let d = District::build(1.0, 1);
    let t = TravelTimes::build(&d);
    let n = d.grids.len() as u32;
    let mut i = 0u32;
    c.bench_function("travel seconds, full district", |b| {
        b.iter(|| {
            i = i.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            black_box(t.seconds(Mode::EBike, i % n, (i >> 8) % n, (i % 24) as usize))
        })
    });
    let bbox = d.outline.bounding_rect().unwrap();
    let (w, h) = (bbox.width(), bbox.height());
    let mut k = 0u64;
    c.bench_function("point to grid, full district", |b| {
        b.iter(|| {
            k = k.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let p = Coord {
                x: bbox.min().x + (k >> 40) as f64 / (1u64 << 24) as f64 * w,
                y: bbox.min().y + ((k >> 16) & 0xFF_FFFF) as f64 / (1u64 << 24) as f64 * h,
            };
            black_box(d.grid_at(p))
        })
    });
}

/// The vendored Helsinki extract (the CI's pack from a real OSM file) read into layers.
fn osm(c: &mut Criterion) {
    let path = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../twin/data/osm/helsinki.osm.pbf"
    ));
    let mut g = c.benchmark_group("osm");
    g.sample_size(10);
    g.bench_function("read helsinki.osm.pbf", |b| {
        b.iter(|| read_osm(black_box(path)).expect("the vendored extract reads"))
    });
    g.finish();
}

/// The road graph and all-pairs times over a synthetic lattice (≥ 100,000 segments, mixed
/// classes, some one-ways) for the full district's 4,866 grids, with chain contraction.
fn roads(c: &mut Criterion) {
    let d = District::build(1.0, 42);
    let (min, max) = outline_box(&d);
    let lines = lattice(&d.frame, min, max, 160.0, true, 42);
    let mut g = c.benchmark_group("roads");
    g.sample_size(10);
    g.bench_function("graph, full-district lattice", |b| {
        b.iter(|| RoadGraph::build(black_box(&lines), &d.frame))
    });
    let graph = RoadGraph::build(&lines, &d.frame);
    assert!(graph.segments() >= 100_000, "{} segments", graph.segments());
    g.bench_function("all pairs, full-district lattice", |b| {
        b.iter(|| RoadTimes::build(black_box(&d), &graph, true))
    });
    g.finish();
}

criterion_group!(benches, build, lookups, osm, roads);
criterion_main!(benches);
