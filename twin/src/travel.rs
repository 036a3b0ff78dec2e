//! Travel times between any two grids for walking, e-bike and car, by hour of day.
//!
//! A road network joins each grid's site to its nearest neighbours over land; shortest network
//! distances between all pairs are computed once (Dijkstra from every grid, in parallel) and
//! stored as one compact matrix. A look-up is then O(1): distance × the mode's pace × the hour's
//! congestion factor, plus the mode's fixed overhead (unlocking a bike, reaching a car).

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use geo::Coord;
use rayon::prelude::*;
use serde::Serialize;

use crate::geography::District;

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
#[derive(Debug, Clone, Copy, Serialize)]
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

/// Trips shorter than this go by local streets rather than the grid network.
const LOCAL_TRIP_M: f64 = 800.0;
/// Local streets against the straight line, before the mode's own street factor.
const LOCAL_DETOUR: f64 = 1.1;

/// Links per grid site in the network (nearest neighbours over land).
const LINKS_PER_SITE: usize = 8;
/// Matrix unit: distances are stored in 2 m steps, so u16 reaches 131 km.
const METRES_PER_UNIT: f64 = 2.0;

pub struct TravelTimes {
    n: usize,
    /// Network distance from grid i to grid j in `METRES_PER_UNIT`, row-major.
    distance: Vec<u16>,
    /// Mean distance from a grid's site to a point inside it.
    within_m: Vec<f32>,
    pub modes: [ModeParams; 3],
    /// Network links, for reports and tests.
    pub links: usize,
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
        let within_m = district
            .grids
            .iter()
            .map(|g| (0.5 * g.area_m2.sqrt()) as f32)
            .collect();
        TravelTimes {
            n,
            distance,
            within_m,
            modes: [WALK, EBIKE, CAR],
            links,
            bridges_added,
        }
    }

    /// Network distance between two grids' sites, metres.
    pub fn distance_m(&self, from: u32, to: u32) -> f64 {
        if from == to {
            return self.within_m[from as usize] as f64;
        }
        self.distance[from as usize * self.n + to as usize] as f64 * METRES_PER_UNIT
    }

    /// Seconds to travel from grid `from` to grid `to` by `mode`, leaving in `hour` (0-23).
    pub fn seconds(&self, mode: Mode, from: u32, to: u32, hour: usize) -> f64 {
        let p = &self.modes[mode as usize];
        p.overhead_s
            + self.distance_m(from, to) * p.street_factor / p.speed_m_per_s
                * p.hour_factor[hour % 24]
    }

    /// Seconds from one point to another (local metres) by `mode`: short trips follow local
    /// streets (straight line × 1.3); longer ones the network between the two grids' sites.
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
        let metres = if from_grid == to_grid || straight < LOCAL_TRIP_M {
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
        self.distance.len() * 2 + self.within_m.len() * 4
    }
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
