//! The world of the Bao'an twin: the district's geography (real outline and streets, synthesised
//! communities and grids), travel times, the synthetic population and its address library, and
//! the simulation kernel (virtual clock, named RNG streams, agenda, journal, the bridge to a
//! stack).
//!
//! It knows the stack only through `baoan-api`'s `Stack` trait and reads scenarios through
//! `baoan-scenarios`; actors live in `baoan-agents`, reports in `baoan-reports`.

pub mod bridge;
pub mod data;
pub mod geography;
pub mod ids;
pub mod kernel;
pub mod layers;
pub mod osm;
pub mod population;
pub mod proj;
pub mod rng;
pub mod travel;

use std::sync::Arc;
use std::time::Instant;

use bevy_ecs::prelude::Resource;
use serde::Serialize;

pub use geography::{Counts, District};
pub use population::Population;
pub use rng::RngStreams;
pub use travel::{Mode, TravelTimes};

/// The built world, shared read-only by every plugin.
#[derive(Resource, Clone)]
pub struct Twin {
    pub district: Arc<District>,
    pub population: Arc<Population>,
    pub travel: Arc<TravelTimes>,
}

/// Wall-clock seconds each build step took (for perf.json, never for report.json).
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct BuildTimings {
    pub geography_s: f64,
    pub travel_s: f64,
    pub population_s: f64,
}

impl Twin {
    /// Build the default district at `scale` from `seed`.
    pub fn build(scale: f64, seed: u64) -> (Twin, BuildTimings) {
        let t0 = Instant::now();
        let district = District::build(scale, seed);
        let t1 = Instant::now();
        let travel = TravelTimes::build(&district);
        let t2 = Instant::now();
        let population = Population::build(&district, &RngStreams::new(seed));
        let t3 = Instant::now();
        let timings = BuildTimings {
            geography_s: (t1 - t0).as_secs_f64(),
            travel_s: (t2 - t1).as_secs_f64(),
            population_s: (t3 - t2).as_secs_f64(),
        };
        (
            Twin {
                district: Arc::new(district),
                population: Arc::new(population),
                travel: Arc::new(travel),
            },
            timings,
        )
    }
}
