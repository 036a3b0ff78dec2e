//! Travel times between any two grids for walking, e-bike and car, by hour of day.
//!
//! Two sources, one interface. Without road data (the default district), a network joins each
//! grid's site to its nearest neighbours over land; shortest network distances between all pairs
//! are computed once (Dijkstra from every grid, in parallel) and stored as one compact matrix. A
//! look-up is then O(1): distance × the mode's pace × the hour's congestion factor, plus the
//! mode's fixed overhead (unlocking a bike, reaching a car). With a district pack's roads,
//! `TravelTimes::from_roads` computes times per mode over the real road graph instead
//! (`roads.rs`).

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use geo::Coord;
use rayon::prelude::*;
use serde::Serialize;

use crate::geography::District;
use crate::roads::{self, RoadGraph, RoadPerf, RoadReport, RoadTimes};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Walk,
    EBike,
    Car,
}

impl Mode {
    pub const ALL: [Mode; 3] = [Mode::Walk, Mode::EBike, Mode::Car];
}

/// Pace and overhead of each mode: speed on the network, the extra length of real streets over
/// the network's straight links, and a fixed start-up time.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ModeParams {
    pub speed_m_per_s: f64,
    pub street_factor: f64,
    pub overhead_s: f64,
    /// Multiplier on travel time for each hour of the day (congestion, crowds).
    pub hour_factor: [f64; 24],
}

pub const WALK: ModeParams = ModeParams {
    speed_m_per_s: 1.3,
    street_factor: 1.15,
    overhead_s: 0.0,
    hour_factor: [1.0; 24],
};
pub const EBIKE: ModeParams = ModeParams {
    speed_m_per_s: 4.5,
    street_factor: 1.2,
    overhead_s: 20.0,
    hour_factor: [
        1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.02, 1.1, 1.15, 1.08, 1.03, 1.03, 1.05, 1.03, 1.03, 1.03,
        1.05, 1.12, 1.15, 1.08, 1.03, 1.0, 1.0, 1.0,
    ],
};
pub const CAR: ModeParams = ModeParams {
    speed_m_per_s: 9.0,
    street_factor: 1.3,
    overhead_s: 90.0,
    hour_factor: [
        0.85, 0.85, 0.85, 0.85, 0.85, 0.9, 1.05, 1.5, 1.7, 1.35, 1.15, 1.15, 1.2, 1.15, 1.15, 1.2,
        1.35, 1.65, 1.75, 1.45, 1.2, 1.05, 0.95, 0.9,
    ],
};

/// The modes' paces with a scenario's assumptions (`travel.*`: speed, street factor and
/// start-up; the hour factors stay). Over a pack's roads the graph's class speeds set the pace
/// between grids, and these the start-up, the local trips and the fallbacks.
pub fn modes_for(s: &baoan_scenarios::Scenario) -> [ModeParams; 3] {
    use baoan_scenarios::assumptions::code as a;
    let pace = |p: ModeParams, speed, street, overhead: Option<_>| ModeParams {
        speed_m_per_s: s.assumption(speed),
        street_factor: s.assumption(street),
        overhead_s: overhead.map_or(p.overhead_s, |o| s.assumption(o)),
        ..p
    };
    [
        pace(WALK, &a::WALK_SPEED, &a::WALK_STREET_FACTOR, None),
        pace(
            EBIKE,
            &a::EBIKE_SPEED,
            &a::EBIKE_STREET_FACTOR,
            Some(&a::EBIKE_OVERHEAD),
        ),
        pace(
            CAR,
            &a::CAR_SPEED,
            &a::CAR_STREET_FACTOR,
            Some(&a::CAR_OVERHEAD),
        ),
    ]
}

/// Trips shorter than this go by local streets rather than the grid network.
const LOCAL_TRIP_M: f64 = 800.0;
/// Local streets against the straight line, before the mode's own street factor.
const LOCAL_DETOUR: f64 = 1.1;

/// Links per grid site in the network (nearest neighbours over land).
const LINKS_PER_SITE: usize = 8;
/// Matrix unit: distances are stored in 2 m steps, so u16 reaches 131 km.
const METRES_PER_UNIT: f64 = 2.0;

/// Where the times come from.
#[derive(Clone)]
enum Source {
    /// The neighbour network: distance from grid i to grid j in `METRES_PER_UNIT`, row-major.
    Network { distance: Vec<u16> },
    /// Real roads, per mode.
    Roads(Box<RoadTimes>),
}

/// Cloned only when a run's paces differ from those of a district built for another run (the
/// planner simulating layouts under other assumptions); otherwise shared behind an `Arc`.
#[derive(Clone)]
pub struct TravelTimes {
    n: usize,
    source: Source,
    /// Mean distance from a grid's site to a point inside it.
    within_m: Vec<f32>,
    pub modes: [ModeParams; 3],
    /// Network links (the neighbour network), or road segments (roads), for reports and tests.
    pub links: usize,
    /// Links added to join islands of the neighbour network (none over roads).
    pub bridges_added: usize,
}

impl TravelTimes {
    pub fn build(district: &District) -> TravelTimes {
        let n = district.grids.len();
        let sites: Vec<Coord<f64>> = district.grids.iter().map(|g| g.site).collect();
        let mut adjacency: Vec<Vec<(u32, u32)>> = vec![Vec::new(); n];
        let mut links = 0;
        let over_land = |a: Coord<f64>, b: Coord<f64>| {
            [0.25, 0.5, 0.75].iter().all(|t| {
                district
                    .grid_at(Coord {
                        x: a.x + t * (b.x - a.x),
                        y: a.y + t * (b.y - a.y),
                    })
                    .is_some()
            })
        };
        let tree = rstar::RTree::bulk_load(
            sites
                .iter()
                .enumerate()
                .map(|(i, s)| rstar::primitives::GeomWithData::new([s.x, s.y], i as u32))
                .collect(),
        );
        let candidate_links: Vec<Vec<(u32, u32)>> = (0..n)
            .into_par_iter()
            .map(|i| {
                let s = sites[i];
                tree.nearest_neighbor_iter(&[s.x, s.y])
                    .filter(|nb| nb.data as usize != i)
                    .take(LINKS_PER_SITE)
                    .filter(|nb| over_land(s, sites[nb.data as usize]))
                    .map(|nb| (nb.data, dist_units(s, sites[nb.data as usize])))
                    .collect()
            })
            .collect();
        for (i, list) in candidate_links.into_iter().enumerate() {
            for (j, d) in list {
                adjacency[i].push((j, d));
                adjacency[j as usize].push((i as u32, d));
                links += 1;
            }
        }
        for list in &mut adjacency {
            list.sort_unstable();
            list.dedup();
        }
        let bridges_added = connect_components(&mut adjacency, &sites);
        let distance: Vec<u16> = (0..n)
            .into_par_iter()
            .flat_map_iter(|source| {
                shortest_from(&adjacency, source)
                    .into_iter()
                    .map(|d| d.min(u16::MAX as u32) as u16)
            })
            .collect();
        TravelTimes {
            n,
            source: Source::Network { distance },
            within_m: within_m(district),
            modes: [WALK, EBIKE, CAR],
            links,
            bridges_added,
        }
    }

    /// Travel times over a district pack's roads: one Dijkstra per grid and mode over `graph`
    /// (see `roads.rs`). The modes' parameters stay those of the neighbour network: overheads,
    /// the walk and e-bike hour factors, the fallback for unreachable pairs and the local-trip
    /// rule use them; the car's congestion is by road class instead
    /// (`roads::CAR_MAJOR_HOUR_FACTOR`, `roads::CAR_MINOR_HOUR_FACTOR`).
    pub fn from_roads(district: &District, graph: &RoadGraph) -> TravelTimes {
        Self::from_road_times(district, RoadTimes::build(district, graph, true))
    }

    pub(crate) fn from_road_times(district: &District, roads: RoadTimes) -> TravelTimes {
        TravelTimes {
            n: district.grids.len(),
            links: roads.report.segments,
            source: Source::Roads(Box::new(roads)),
            within_m: within_m(district),
            modes: [WALK, EBIKE, CAR],
            bridges_added: 0,
        }
    }

    /// "roads" or "neighbour network".
    pub fn source_name(&self) -> &'static str {
        match self.source {
            Source::Network { .. } => "neighbour network",
            Source::Roads(_) => "roads",
        }
    }

    /// What the road graph held and which grids it could not reach (roads only).
    pub fn road_report(&self) -> Option<&RoadReport> {
        match &self.source {
            Source::Roads(r) => Some(&r.report),
            Source::Network { .. } => None,
        }
    }

    /// Wall-clock seconds of the road build (roads only; for perf output, never reports).
    pub fn road_perf(&self) -> Option<RoadPerf> {
        match &self.source {
            Source::Roads(r) => Some(r.perf),
            Source::Network { .. } => None,
        }
    }

    /// Distance between two grids' sites, metres. The neighbour network: its shortest network
    /// distance. Roads: an *equivalent* distance, the car's free-flow time (access legs
    /// included, overhead not) converted at the car's nominal pace (`speed_m_per_s /
    /// street_factor`), so the planner's radius test, which divides a time budget by that pace,
    /// reads the road graph. A grid with itself: half the square root of its area.
    pub fn distance_m(&self, from: u32, to: u32) -> f64 {
        if from == to {
            return self.within_m[from as usize] as f64;
        }
        match &self.source {
            Source::Network { distance } => {
                distance[from as usize * self.n + to as usize] as f64 * METRES_PER_UNIT
            }
            Source::Roads(r) => {
                let car = &self.modes[Mode::Car as usize];
                r.car_free_flow_s(car, from, to) * car.speed_m_per_s / car.street_factor
            }
        }
    }

    /// Each hour's factor on free-flow travel for a mode, district-wide, for the post planner's
    /// radius test (`distance_m` × factor against a time budget). The neighbour network: the
    /// mode's own curve. Roads: walk and e-bike keep theirs; the car's is the per-class curves
    /// weighted by the share of car time spent on major roads over all pairs of grids.
    pub fn hour_factors(&self, mode: Mode) -> [f64; 24] {
        match (&self.source, mode) {
            (Source::Roads(r), Mode::Car) => {
                let major = r.car_major_share();
                std::array::from_fn(|h| {
                    major * roads::CAR_MAJOR_HOUR_FACTOR[h]
                        + (1.0 - major) * roads::CAR_MINOR_HOUR_FACTOR[h]
                })
            }
            _ => self.modes[mode as usize].hour_factor,
        }
    }

    /// Seconds to travel from grid `from` to grid `to` by `mode`, leaving in `hour` (0-23).
    /// Over roads, a pair a grid of which is unreachable for the mode goes the straight line ×
    /// `roads::FALLBACK_DETOUR` (counted in `road_report().fallback_pairs_by_mode`); a grid with
    /// itself is as on the neighbour network (half the square root of its area).
    pub fn seconds(&self, mode: Mode, from: u32, to: u32, hour: usize) -> f64 {
        let p = &self.modes[mode as usize];
        if let Source::Roads(r) = &self.source
            && from != to
        {
            return r.seconds(p, mode, from, to, hour % 24);
        }
        p.overhead_s
            + self.distance_m(from, to) * p.street_factor / p.speed_m_per_s
                * p.hour_factor[hour % 24]
    }

    /// Seconds from one point to another (local metres) by `mode`: short trips (the same grid,
    /// or under `LOCAL_TRIP_M` straight) follow local streets (straight line × `LOCAL_DETOUR` ×
    /// the mode's street factor); longer ones the network or the roads between the two grids'
    /// sites, never quicker than the local-street time.
    pub fn seconds_between(
        &self,
        mode: Mode,
        from_grid: u32,
        from: Coord<f64>,
        to_grid: u32,
        to: Coord<f64>,
        hour: usize,
    ) -> f64 {
        let straight = ((from.x - to.x).powi(2) + (from.y - to.y).powi(2)).sqrt();
        let local = straight * LOCAL_DETOUR;
        let short = from_grid == to_grid || straight < LOCAL_TRIP_M;
        if let Source::Roads(r) = &self.source
            && !short
        {
            let p = &self.modes[mode as usize];
            let h = hour % 24;
            let local_s =
                p.overhead_s + local * p.street_factor / p.speed_m_per_s * p.hour_factor[h];
            return r.seconds(p, mode, from_grid, to_grid, h).max(local_s);
        }
        let metres = if short {
            local
        } else {
            self.distance_m(from_grid, to_grid).max(local)
        };
        let p = &self.modes[mode as usize];
        p.overhead_s + metres * p.street_factor / p.speed_m_per_s * p.hour_factor[hour % 24]
    }

    pub fn grids(&self) -> usize {
        self.n
    }

    pub fn memory_bytes(&self) -> usize {
        self.within_m.len() * 4
            + match &self.source {
                Source::Network { distance } => distance.len() * 2,
                Source::Roads(r) => r.memory_bytes(),
            }
    }
}

fn within_m(district: &District) -> Vec<f32> {
    district
        .grids
        .iter()
        .map(|g| (0.5 * g.area_m2.sqrt()) as f32)
        .collect()
}

fn dist_units(a: Coord<f64>, b: Coord<f64>) -> u32 {
    (((a.x - b.x).powi(2) + (a.y - b.y).powi(2)).sqrt() / METRES_PER_UNIT)
        .round()
        .max(1.0) as u32
}

/// Dijkstra over integer distances; ties settle by node id, so results never depend on order.
fn shortest_from(adjacency: &[Vec<(u32, u32)>], source: usize) -> Vec<u32> {
    let mut dist = vec![u32::MAX; adjacency.len()];
    let mut heap = BinaryHeap::with_capacity(adjacency.len());
    dist[source] = 0;
    heap.push(Reverse((0u32, source as u32)));
    while let Some(Reverse((d, v))) = heap.pop() {
        if d > dist[v as usize] {
            continue;
        }
        for &(w, len) in &adjacency[v as usize] {
            let nd = d + len;
            if nd < dist[w as usize] {
                dist[w as usize] = nd;
                heap.push(Reverse((nd, w)));
            }
        }
    }
    dist
}

/// Join every island of the network to the main one by its shortest link (a bridge or a
/// ferry); returns how many were added.
fn connect_components(adjacency: &mut [Vec<(u32, u32)>], sites: &[Coord<f64>]) -> usize {
    let mut added = 0;
    loop {
        let reach = shortest_from(adjacency, 0);
        let (inside, outside): (Vec<usize>, Vec<usize>) =
            (0..adjacency.len()).partition(|&i| reach[i] != u32::MAX);
        if outside.is_empty() {
            return added;
        }
        let (a, b) = inside
            .iter()
            .flat_map(|&a| outside.iter().map(move |&b| (a, b)))
            .min_by_key(|&(a, b)| (dist_units(sites[a], sites[b]), a, b))
            .expect("both sides are non-empty");
        let d = dist_units(sites[a], sites[b]);
        adjacency[a].push((b as u32, d));
        adjacency[b].push((a as u32, d));
        added += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dijkstra_takes_the_shorter_way_round() {
        // 0 -1- 1 -1- 2, and a direct 0-2 link of 5.
        let adj = vec![
            vec![(1, 1), (2, 5)],
            vec![(0, 1), (2, 1)],
            vec![(1, 1), (0, 5)],
        ];
        assert_eq!(shortest_from(&adj, 0), vec![0, 1, 2]);
    }

    #[test]
    fn islands_are_joined_by_their_nearest_pair() {
        let sites = [
            Coord { x: 0.0, y: 0.0 },
            Coord { x: 10.0, y: 0.0 },
            Coord { x: 100.0, y: 0.0 },
        ];
        let mut adj = vec![vec![(1, 5)], vec![(0, 5)], vec![]];
        assert_eq!(connect_components(&mut adj, &sites), 1);
        assert!(adj[2].iter().any(|&(j, _)| j == 1));
    }
}
