//! The command module's own arrival estimator on a road network (`LoadRoadNetwork`): the
//! distance a unit drives is the shortest path between the road nodes nearest to it and to the
//! incident, plus the straight legs to and from them. Without a network the estimate stays the
//! straight line with a detour factor.
//!
//! A search is a Dijkstra bounded by a few times the straight distance, over integer decimetres
//! with ties by node id, so the same call gives the same estimate wherever the stack runs.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use baoan_api::{ApiError, RoadNetwork};
use rstar::RTree;
use rstar::primitives::GeomWithData;

/// At most this many nodes and arcs (a large city's drivable network fits well inside).
pub const MAX_ROAD_NODES: usize = 5_000_000;
pub const MAX_ROAD_ARCS: usize = 20_000_000;
/// A search gives up beyond this multiple of the straight distance plus `SEARCH_SLACK_M`, and
/// the estimate falls back to the straight line with its detour factor.
const SEARCH_FACTOR: f64 = 4.0;
const SEARCH_SLACK_M: f64 = 3_000.0;

pub struct Roads {
    nodes: Vec<[f64; 2]>,
    first: Vec<u32>,
    to: Vec<u32>,
    /// Arc lengths in decimetres.
    length: Vec<u32>,
    tree: RTree<GeomWithData<[f64; 2], u32>>,
}

fn invalid(field: impl Into<String>, problem: impl Into<String>) -> ApiError {
    ApiError::Invalid {
        field: field.into(),
        problem: problem.into(),
    }
}

fn metres(a: [f64; 2], b: [f64; 2]) -> f64 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt()
}

impl Roads {
    /// The network checked: finite nodes, arcs between known nodes, within the bounds.
    pub fn new(net: &RoadNetwork) -> Result<Roads, ApiError> {
        if net.nodes.is_empty() || net.arcs.is_empty() {
            return Err(invalid("network", "expected at least one node and one arc"));
        }
        if net.nodes.len() > MAX_ROAD_NODES || net.arcs.len() > MAX_ROAD_ARCS {
            return Err(invalid(
                "network",
                format!("at most {MAX_ROAD_NODES} nodes and {MAX_ROAD_ARCS} arcs"),
            ));
        }
        if let Some(i) = net
            .nodes
            .iter()
            .position(|p| !p[0].is_finite() || !p[1].is_finite())
        {
            return Err(invalid(
                format!("network.nodes[{i}]"),
                "expected finite coordinates",
            ));
        }
        let n = net.nodes.len() as u32;
        let mut arcs: Vec<(u32, u32, u32)> = Vec::with_capacity(net.arcs.len());
        for (i, &[a, b]) in net.arcs.iter().enumerate() {
            if a >= n || b >= n {
                return Err(invalid(
                    format!("network.arcs[{i}]"),
                    format!("expected two node indexes below {n}, got [{a}, {b}]"),
                ));
            }
            let dm = (metres(net.nodes[a as usize], net.nodes[b as usize]) * 10.0).ceil() as u32;
            arcs.push((a, b, dm.max(1)));
        }
        arcs.sort_unstable();
        let mut first = vec![0u32; n as usize + 1];
        for &(a, _, _) in &arcs {
            first[a as usize + 1] += 1;
        }
        for i in 0..n as usize {
            first[i + 1] += first[i];
        }
        let tree = RTree::bulk_load(
            net.nodes
                .iter()
                .enumerate()
                .map(|(i, p)| GeomWithData::new(*p, i as u32))
                .collect(),
        );
        Ok(Roads {
            nodes: net.nodes.clone(),
            first,
            to: arcs.iter().map(|a| a.1).collect(),
            length: arcs.iter().map(|a| a.2).collect(),
            tree,
        })
    }

    pub fn nodes(&self) -> usize {
        self.nodes.len()
    }

    pub fn arcs(&self) -> usize {
        self.to.len()
    }

    fn nearest(&self, p: [f64; 2]) -> u32 {
        self.tree
            .nearest_neighbor(&p)
            .map(|n| n.data)
            .expect("a network has nodes")
    }

    /// Metres a unit at `from` travels to `to` on the roads, or None when the roads do not join
    /// them within the search bound.
    pub fn distance_m(&self, from: [f64; 2], to: [f64; 2]) -> Option<f64> {
        let (a, b) = (self.nearest(from), self.nearest(to));
        let access = metres(from, self.nodes[a as usize]) + metres(self.nodes[b as usize], to);
        if a == b {
            return Some(access.max(metres(from, to)));
        }
        let bound = ((metres(from, to) * SEARCH_FACTOR + SEARCH_SLACK_M) * 10.0) as u32;
        let mut dist: HashMap<u32, u32> = HashMap::new();
        let mut heap = BinaryHeap::new();
        dist.insert(a, 0);
        heap.push(Reverse((0u32, a)));
        while let Some(Reverse((d, v))) = heap.pop() {
            if v == b {
                return Some(access + d as f64 / 10.0);
            }
            if d > bound {
                return None;
            }
            if dist.get(&v).is_some_and(|&best| d > best) {
                continue;
            }
            for k in self.first[v as usize]..self.first[v as usize + 1] {
                let (w, nd) = (self.to[k as usize], d + self.length[k as usize]);
                if dist.get(&w).is_none_or(|&best| nd < best) {
                    dist.insert(w, nd);
                    heap.push(Reverse((nd, w)));
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_road_distance_follows_one_ways_and_is_never_shorter_than_the_straight_line() {
        // A square 0-1-2-3 of 100 m sides, one-way round: 0 → 1 → 2 → 3 → 0.
        let net = RoadNetwork {
            nodes: vec![[0.0, 0.0], [100.0, 0.0], [100.0, 100.0], [0.0, 100.0]],
            arcs: vec![[0, 1], [1, 2], [2, 3], [3, 0]],
        };
        let r = Roads::new(&net).unwrap();
        // 0 to 1 is one side; 1 to 0 goes the long way round.
        assert!((r.distance_m([0.0, 0.0], [100.0, 0.0]).unwrap() - 100.0).abs() < 0.2);
        assert!((r.distance_m([100.0, 0.0], [0.0, 0.0]).unwrap() - 300.0).abs() < 0.5);
        // Access legs count.
        let d = r.distance_m([0.0, -30.0], [100.0, 40.0]).unwrap();
        assert!(d >= ((100.0f64).powi(2) + 70.0f64.powi(2)).sqrt());
        assert!((d - (30.0 + 100.0 + 40.0)).abs() < 0.5, "{d}");
    }

    #[test]
    fn a_bad_network_is_refused_naming_the_arc() {
        let net = RoadNetwork {
            nodes: vec![[0.0, 0.0], [1.0, 0.0]],
            arcs: vec![[0, 1], [1, 7]],
        };
        let e = Roads::new(&net).err().unwrap();
        assert!(format!("{e:?}").contains("network.arcs[1]"), "{e:?}");
        let disjoint = RoadNetwork {
            nodes: vec![[0.0, 0.0], [1.0, 0.0], [9000.0, 0.0], [9001.0, 0.0]],
            arcs: vec![[0, 1], [2, 3]],
        };
        let r = Roads::new(&disjoint).unwrap();
        assert_eq!(r.distance_m([0.0, 0.0], [9001.0, 0.0]), None);
    }
}
