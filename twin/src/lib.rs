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
pub mod land;
pub mod layers;
pub mod osm;
pub mod pack;
pub mod population;
pub mod proj;
pub mod rng;
pub mod roads;
pub mod travel;

use std::sync::Arc;
use std::time::Instant;

use bevy_ecs::prelude::Resource;
use serde::Serialize;

pub use geography::{Counts, District};
pub use population::Population;
pub use rng::RngStreams;
pub use roads::RoadGraph;
pub use travel::{Mode, TravelTimes};

/// The built world, shared read-only by every plugin.
#[derive(Resource, Clone)]
pub struct Twin {
    pub district: Arc<District>,
    pub population: Arc<Population>,
    pub travel: Arc<TravelTimes>,
    /// The pack's road graph, when it has roads (the stack's arrival estimator gets it too).
    pub roads: Option<Arc<RoadGraph>>,
}

/// Wall-clock seconds each build step took (for perf.json, never for report.json).
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct BuildTimings {
    pub geography_s: f64,
    pub travel_s: f64,
    pub population_s: f64,
}

impl Twin {
    /// Build the default district (the built-in Bao'an pack) at `scale` from `seed`.
    pub fn build(scale: f64, seed: u64) -> (Twin, BuildTimings) {
        Twin::from_pack(&pack::Pack::baoan(), scale, seed)
            .expect("the built-in pack builds (tested)")
    }

    /// Build a pack's district at `scale` from `seed`: its divisions, travel times (on its roads
    /// when it has them, else the neighbour network) and population.
    /// The same district with the modes' paces of a scenario's assumptions (`travel.*`); the
    /// matrices are shared unless the paces differ from those it was built with.
    pub fn with_paces(mut self, scenario: &baoan_scenarios::Scenario) -> Twin {
        let modes = travel::modes_for(scenario);
        if self.travel.modes != modes {
            Arc::make_mut(&mut self.travel).modes = modes;
        }
        self
    }

    pub fn from_pack(
        pack: &pack::Pack,
        scale: f64,
        seed: u64,
    ) -> Result<(Twin, BuildTimings), pack::PackError> {
        let t0 = Instant::now();
        let district = District::from_pack(pack, scale, seed)?;
        let t1 = Instant::now();
        let roads = (!pack.roads.is_empty())
            .then(|| Arc::new(RoadGraph::build(&pack.roads, &district.frame)));
        let travel = match &roads {
            None => TravelTimes::build(&district),
            Some(graph) => TravelTimes::from_roads(&district, graph),
        };
        let t2 = Instant::now();
        let population = Population::build(&district, &RngStreams::new(seed));
        let t3 = Instant::now();
        let timings = BuildTimings {
            geography_s: (t1 - t0).as_secs_f64(),
            travel_s: (t2 - t1).as_secs_f64(),
            population_s: (t3 - t2).as_secs_f64(),
        };
        Ok((
            Twin {
                district: Arc::new(district),
                population: Arc::new(population),
                travel: Arc::new(travel),
                roads,
            },
            timings,
        ))
    }
}
