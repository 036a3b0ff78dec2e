//! Synthetic lattices of roads over the default district's frame, for the road graph's tests and
//! the `world` bench (`cargo bench -p baoan-benches --bench world -- roads`): made-up data, never
//! a district's real roads.

use geo::{BoundingRect, Coord, LineString};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::{Oneway, RoadClass, RoadLine};
use crate::geography::District;
use crate::proj::Frame;

/// Synthetic road classes of the lattices, with their weights (test data, not Bao'an's mix).
pub const MIX: [(RoadClass, u32); 11] = [
    (RoadClass::Motorway, 3),
    (RoadClass::Trunk, 4),
    (RoadClass::Primary, 8),
    (RoadClass::Secondary, 10),
    (RoadClass::Tertiary, 10),
    (RoadClass::Residential, 40),
    (RoadClass::Service, 5),
    (RoadClass::Footway, 8),
    (RoadClass::Cycleway, 5),
    (RoadClass::Path, 4),
    (RoadClass::Steps, 3),
];

/// A synthetic lattice of roads over a box of local metres: lines every `spacing` metres each
/// way, crossing at shared points; with `midpoints`, every block side has a shape point in its
/// middle (as OSM ways do), which chain contraction removes. Classes are drawn from `MIX`; a
/// quarter of the drivable lines are one-way (either way), a tenth carry a 30 km/h limit, a few
/// forbid or allow walking explicitly.
pub fn lattice(
    frame: &Frame,
    min: Coord<f64>,
    max: Coord<f64>,
    spacing: f64,
    midpoints: bool,
    seed: u64,
) -> Vec<RoadLine> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let steps = |lo: f64, hi: f64| -> Vec<f64> {
        let k = ((hi - lo) / spacing).floor() as usize;
        (0..=k).map(|i| lo + i as f64 * spacing).collect()
    };
    let (xs, ys) = (steps(min.x, max.x), steps(min.y, max.y));
    let total: u32 = MIX.iter().map(|m| m.1).sum();
    let mut lines = Vec::new();
    let mut add = |points: Vec<Coord<f64>>, rng: &mut ChaCha8Rng| {
        let mut pick = rng.random_range(0..total);
        let class = MIX
            .iter()
            .find(|m| {
                if pick < m.1 {
                    true
                } else {
                    pick -= m.1;
                    false
                }
            })
            .expect("pick < total")
            .0;
        let oneway = if class.drivable() && rng.random_bool(0.25) {
            if rng.random_bool(0.5) {
                Oneway::Forward
            } else {
                Oneway::Backward
            }
        } else {
            Oneway::Both
        };
        let max_speed_kmh = rng.random_bool(0.1).then_some(30.0);
        let foot = match class {
            RoadClass::Motorway | RoadClass::Trunk => rng.random_bool(0.3).then_some(true),
            _ => rng.random_bool(0.05).then_some(false),
        };
        lines.push(RoadLine {
            class,
            oneway,
            max_speed_kmh,
            foot,
            name: Some("synthetic".into()),
            line: LineString::from(
                points
                    .into_iter()
                    .map(|c| frame.to_lonlat(c))
                    .collect::<Vec<_>>(),
            ),
        });
    };
    let with_midpoints = |fixed: f64, along: &[f64], horizontal: bool| -> Vec<Coord<f64>> {
        let mut out = Vec::new();
        for (i, &a) in along.iter().enumerate() {
            if midpoints && i > 0 {
                let m = (along[i - 1] + a) / 2.0;
                out.push(if horizontal {
                    Coord { x: m, y: fixed }
                } else {
                    Coord { x: fixed, y: m }
                });
            }
            out.push(if horizontal {
                Coord { x: a, y: fixed }
            } else {
                Coord { x: fixed, y: a }
            });
        }
        out
    };
    for &y in &ys {
        add(with_midpoints(y, &xs, true), &mut rng);
    }
    for &x in &xs {
        add(with_midpoints(x, &ys, false), &mut rng);
    }
    lines
}

/// The district outline's box in local metres (min, max).
pub fn outline_box(d: &District) -> (Coord<f64>, Coord<f64>) {
    let b = d
        .outline
        .bounding_rect()
        .expect("the outline has an extent");
    (b.min(), b.max())
}
