//! Travel on real roads: a district pack's `RoadLine`s as a graph per mode, and travel times
//! between every pair of grids over it, by mode and hour.
//!
//! Nodes are the lines' distinct points (lines meet where they share a point exactly), each
//! segment an edge. Every mode gets its own directed graph (compressed sparse rows, integer
//! weights in deciseconds): the car on drivable roads honouring one-ways, the e-bike on drivable
//! roads below trunk plus cycleways and paths, the walker on walkable ways both ways. Each grid's
//! site is snapped to the nearest node of the mode's largest strongly connected component; then
//! one Dijkstra per grid (in parallel, each independent of the others, so the thread count never
//! changes a result) reads the times at every grid's node. The car's time is kept in two parts,
//! seconds on major and on minor roads along the free-flow path, so each hour's congestion
//! weighs them separately.
//!
//! Every speed and factor here is an assumption, named and documented where it is defined.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::time::Instant;

use geo::Coord;
use rayon::prelude::*;
use rstar::RTree;
use rstar::primitives::GeomWithData;
use serde::Serialize;

use crate::geography::District;
use crate::layers::{Oneway, RoadClass, RoadLine};
use crate::proj::Frame;
use crate::travel::{CAR, Mode, ModeParams, WALK};

/// Node keys: longitude and latitude rounded to 1e-7 degree (about a centimetre), so a point two
/// lines share in the data is one node.
pub const NODE_KEY_PER_DEG: f64 = 1e7;

/// Car free-flow speed on motorways (高速公路), km/h. Assumed: below the 100-120 km/h limits of
/// the expressways crossing Bao'an (Guangshen, Yanjiang, Jihe), for merging and ramps.
pub const CAR_MOTORWAY_KMH: f64 = 90.0;
/// Car free-flow speed on trunk roads (城市快速路), km/h. Assumed: inside the 60-100 km/h design
/// range China's urban road code (CJJ 37-2012) gives expressways, towards its lower end.
pub const CAR_TRUNK_KMH: f64 = 70.0;
/// Car free-flow speed on primary roads (主干路), km/h. Assumed: the top of CJJ 37-2012's
/// 40-60 km/h arterial range less signal delay, a typical urban free-flow speed in Chinese cities.
pub const CAR_PRIMARY_KMH: f64 = 50.0;
/// Car free-flow speed on secondary roads (次干路), km/h. Assumed: the middle of CJJ 37-2012's
/// 30-50 km/h sub-arterial range.
pub const CAR_SECONDARY_KMH: f64 = 40.0;
/// Car free-flow speed on tertiary roads (支路), km/h. Assumed: the middle of CJJ 37-2012's
/// 20-40 km/h branch-road range.
pub const CAR_TERTIARY_KMH: f64 = 30.0;
/// Car free-flow speed on unclassified roads, km/h. Assumed: as a branch road.
pub const CAR_UNCLASSIFIED_KMH: f64 = 30.0;
/// Car free-flow speed on residential streets, km/h. Assumed: the lower half of the branch-road
/// range, for parked cars and crossing pedestrians in dense neighbourhoods and urban villages.
pub const CAR_RESIDENTIAL_KMH: f64 = 25.0;
/// Car speed on living streets (shared space), km/h. Assumed: walking-plus pace.
pub const CAR_LIVING_STREET_KMH: f64 = 10.0;
/// Car speed on service roads (estate lanes, car parks, factory yards), km/h. Assumed.
pub const CAR_SERVICE_KMH: f64 = 15.0;
/// Car speed on tracks (unpaved), km/h. Assumed.
pub const CAR_TRACK_KMH: f64 = 15.0;

/// E-bike cruising ceiling, km/h. Assumed: riders keep under China's 25 km/h design limit for
/// e-bikes (GB 17761-2018); an e-bike goes at min(the class's car speed, this).
pub const EBIKE_MAX_KMH: f64 = 20.0;
/// E-bike speed on cycleways, km/h. Assumed: the ceiling, since nothing faster shares them.
pub const EBIKE_CYCLEWAY_KMH: f64 = 20.0;
/// E-bike speed on paths (shared with walkers, often unpaved), km/h. Assumed.
pub const EBIKE_PATH_KMH: f64 = 12.0;

/// Walking speed, m/s: the neighbour network's (`travel::WALK`), an adult's usual pace.
pub const WALK_M_PER_S: f64 = WALK.speed_m_per_s;
/// Walking pace on steps against level ground. Assumed: half.
pub const STEPS_PACE_FACTOR: f64 = 0.5;

/// The access leg from a grid's site to its road node: straight line × this, at the mode's speed
/// on a residential street. Assumed: the usual detour of a short walk or ride through a block.
pub const ACCESS_DETOUR: f64 = 1.2;
/// A grid whose nearest node of the mode's main component is farther than this (metres) is
/// unreachable for the mode. Assumed: farther than anyone walks or rides to reach a road.
pub const MAX_ACCESS_M: f64 = 2000.0;
/// Unreachable pairs go the straight line × this at the mode's nominal speed
/// (`ModeParams::speed_m_per_s`) and hour factor. Assumed: a generous detour for a trip the data
/// has no roads for.
pub const FALLBACK_DETOUR: f64 = 1.5;

/// Reuses the shape of a 24-hour factor array with free flow (the quietest hour) as 1.0,
/// scaling how far each hour rises above it by `amplitude`.
const fn free_flow_shape(f: [f64; 24], amplitude: f64) -> [f64; 24] {
    let mut min = f[0];
    let mut i = 1;
    while i < 24 {
        if f[i] < min {
            min = f[i];
        }
        i += 1;
    }
    let mut out = [1.0; 24];
    let mut i = 0;
    while i < 24 {
        out[i] = 1.0 + (f[i] / min - 1.0) * amplitude;
        i += 1;
    }
    out
}

/// Congestion on major roads (motorway to secondary) by hour, against free flow. Assumed: the
/// shape of the neighbour network's `CAR.hour_factor` with its quietest hour as free flow, which
/// puts the evening peak at about 2.06 × free flow, in line with the peak travel-time indexes
/// Chinese navigation firms publish for Shenzhen's arterials.
pub const CAR_MAJOR_HOUR_FACTOR: [f64; 24] = free_flow_shape(CAR.hour_factor, 1.0);
/// Congestion on minor roads (tertiary and below) by hour. Assumed: the same shape at half the
/// rise (peak about 1.53), since local streets carry less through traffic.
pub const CAR_MINOR_HOUR_FACTOR: [f64; 24] = free_flow_shape(CAR.hour_factor, 0.5);

// No hour is quicker than free flow (so no trip beats the straight line at top speed), and
// minor roads never congest more than major ones.
const _: () = {
    let mut h = 0;
    while h < 24 {
        assert!(CAR_MINOR_HOUR_FACTOR[h] >= 1.0);
        assert!(CAR_MINOR_HOUR_FACTOR[h] <= CAR_MAJOR_HOUR_FACTOR[h]);
        h += 1;
    }
};

/// A matrix cell for a pair with no road route (a grid too far from the mode's roads).
pub const UNREACHABLE: u16 = u16::MAX;
/// The largest time a matrix cell holds, seconds (18.2 h); longer ones are clamped and counted.
pub const MAX_SECONDS: u16 = u16::MAX - 1;

const MODES: usize = 3;

/// Car free-flow speed of a class, km/h; `None` where cars do not go.
pub fn car_class_kmh(class: RoadClass) -> Option<f64> {
    Some(match class {
        RoadClass::Motorway => CAR_MOTORWAY_KMH,
        RoadClass::Trunk => CAR_TRUNK_KMH,
        RoadClass::Primary => CAR_PRIMARY_KMH,
        RoadClass::Secondary => CAR_SECONDARY_KMH,
        RoadClass::Tertiary => CAR_TERTIARY_KMH,
        RoadClass::Unclassified => CAR_UNCLASSIFIED_KMH,
        RoadClass::Residential => CAR_RESIDENTIAL_KMH,
        RoadClass::LivingStreet => CAR_LIVING_STREET_KMH,
        RoadClass::Service => CAR_SERVICE_KMH,
        RoadClass::Track => CAR_TRACK_KMH,
        RoadClass::Pedestrian
        | RoadClass::Footway
        | RoadClass::Cycleway
        | RoadClass::Path
        | RoadClass::Steps => return None,
    })
}

/// Whether the car's congestion on this class follows the major-road curve.
pub fn is_major(class: RoadClass) -> bool {
    matches!(
        class,
        RoadClass::Motorway | RoadClass::Trunk | RoadClass::Primary | RoadClass::Secondary
    )
}

/// Speed of `mode` along a class before any signed limit, m/s; `None` where the mode may not go
/// (walking ignores the line's `foot=*` here: see `speed_on`).
pub fn class_speed_m_per_s(mode: Mode, class: RoadClass) -> Option<f64> {
    match mode {
        Mode::Car => car_class_kmh(class).map(|v| v / 3.6),
        Mode::EBike => match class {
            RoadClass::Motorway | RoadClass::Trunk => None,
            RoadClass::Cycleway => Some(EBIKE_CYCLEWAY_KMH / 3.6),
            RoadClass::Path => Some(EBIKE_PATH_KMH / 3.6),
            c => car_class_kmh(c).map(|v| v.min(EBIKE_MAX_KMH) / 3.6),
        },
        Mode::Walk => Some(if class == RoadClass::Steps {
            WALK_M_PER_S * STEPS_PACE_FACTOR
        } else {
            WALK_M_PER_S
        }),
    }
}

/// Speed of `mode` along one line, m/s: its class's speed capped by a signed limit, walking only
/// where walkable (`foot=yes` allows, `foot=no` forbids); `None` where the mode may not go.
pub fn speed_on(mode: Mode, line: &RoadLine) -> Option<f64> {
    if mode == Mode::Walk {
        let walks = match line.foot {
            Some(allowed) => allowed,
            None => line.class.walkable(),
        };
        if !walks {
            return None;
        }
    }
    let v = class_speed_m_per_s(mode, line.class)?;
    Some(match line.max_speed_kmh {
        Some(limit) if limit.is_finite() && limit > 0.0 => v.min(limit / 3.6),
        _ => v,
    })
}

/// The fastest `mode` goes on any road, m/s: no trip can beat the straight line at this speed.
pub fn top_speed_m_per_s(mode: Mode) -> f64 {
    RoadClass::ALL
        .into_iter()
        .filter_map(|c| class_speed_m_per_s(mode, c))
        .fold(0.0, f64::max)
}

/// The speed of an access leg (site to node), m/s: the mode on a residential street.
pub fn access_speed_m_per_s(mode: Mode) -> f64 {
    class_speed_m_per_s(mode, RoadClass::Residential).expect("every mode uses residential streets")
}

/// Which ways `mode` may go along a line: (with its points' order, against it).
fn directions(mode: Mode, line: &RoadLine) -> (bool, bool) {
    let two_way = mode == Mode::Walk || (mode == Mode::EBike && line.class == RoadClass::Cycleway);
    match (two_way, line.oneway) {
        (true, _) | (false, Oneway::Both) => (true, true),
        (false, Oneway::Forward) => (true, false),
        (false, Oneway::Backward) => (false, true),
    }
}

/// A directed graph in compressed sparse rows: node v's arcs are `offsets[v]..offsets[v + 1]`,
/// each with a target, a weight (deciseconds) and the part of it on major roads (the car's).
#[derive(Debug, Clone, Default, PartialEq)]
struct Csr {
    offsets: Vec<u32>,
    targets: Vec<u32>,
    weights: Vec<u32>,
    major: Vec<u32>,
}

/// One arc while building: (from, to, weight, major part).
type Arc = (u32, u32, u32, u32);

impl Csr {
    /// From arcs in any order: sorted, exact duplicates dropped, so the layout is canonical.
    fn from_arcs(nodes: usize, mut arcs: Vec<Arc>) -> Csr {
        arcs.sort_unstable();
        arcs.dedup();
        let mut offsets = vec![0u32; nodes + 1];
        for a in &arcs {
            offsets[a.0 as usize + 1] += 1;
        }
        for v in 0..nodes {
            offsets[v + 1] += offsets[v];
        }
        Csr {
            offsets,
            targets: arcs.iter().map(|a| a.1).collect(),
            weights: arcs.iter().map(|a| a.2).collect(),
            major: arcs.iter().map(|a| a.3).collect(),
        }
    }

    fn nodes(&self) -> usize {
        self.offsets.len() - 1
    }

    fn arcs(&self) -> usize {
        self.targets.len()
    }

    fn out(&self, v: u32) -> std::ops::Range<usize> {
        self.offsets[v as usize] as usize..self.offsets[v as usize + 1] as usize
    }

    fn reversed(&self) -> Csr {
        let mut arcs = Vec::with_capacity(self.arcs());
        for v in 0..self.nodes() as u32 {
            for a in self.out(v) {
                arcs.push((self.targets[a], v, self.weights[a], self.major[a]));
            }
        }
        Csr::from_arcs(self.nodes(), arcs)
    }
}

/// The road network as one graph per mode.
pub struct RoadGraph {
    /// Node positions, local metres.
    nodes: Vec<Coord<f64>>,
    keys: HashMap<(i64, i64), u32>,
    segments: usize,
    modes: [Csr; MODES],
}

fn node_key(lon: f64, lat: f64) -> (i64, i64) {
    (
        (lon * NODE_KEY_PER_DEG).round() as i64,
        (lat * NODE_KEY_PER_DEG).round() as i64,
    )
}

/// Deciseconds to cover `metres` at `speed` m/s, rounded up (at least 1), so a stored time is
/// never shorter than the true one.
fn deciseconds(metres: f64, speed_m_per_s: f64) -> u32 {
    ((metres / speed_m_per_s * 10.0).ceil() as u32).max(1)
}

impl RoadGraph {
    /// The graph of `lines` (WGS-84) in `frame`'s local metres. Points that are not finite are
    /// skipped; a segment whose two ends round to one node is dropped.
    pub fn build(lines: &[RoadLine], frame: &Frame) -> RoadGraph {
        let mut keys: HashMap<(i64, i64), u32> = HashMap::new();
        let mut nodes: Vec<Coord<f64>> = Vec::new();
        let mut arcs: [Vec<Arc>; MODES] = Default::default();
        let mut segments = 0;
        for line in lines {
            let speeds = Mode::ALL.map(|m| speed_on(m, line));
            let ways = Mode::ALL.map(|m| directions(m, line));
            let major = is_major(line.class);
            let mut prev: Option<u32> = None;
            for p in line
                .line
                .coords()
                .filter(|p| p.x.is_finite() && p.y.is_finite())
            {
                let key = node_key(p.x, p.y);
                let id = *keys.entry(key).or_insert_with(|| {
                    nodes.push(frame.to_metres(
                        key.0 as f64 / NODE_KEY_PER_DEG,
                        key.1 as f64 / NODE_KEY_PER_DEG,
                    ));
                    (nodes.len() - 1) as u32
                });
                if let Some(a) = prev
                    && a != id
                {
                    segments += 1;
                    let (pa, pb) = (nodes[a as usize], nodes[id as usize]);
                    let length = ((pa.x - pb.x).powi(2) + (pa.y - pb.y).powi(2)).sqrt();
                    for m in 0..MODES {
                        let Some(speed) = speeds[m] else { continue };
                        let w = deciseconds(length, speed);
                        let mj = if Mode::ALL[m] == Mode::Car && major {
                            w
                        } else {
                            0
                        };
                        if ways[m].0 {
                            arcs[m].push((a, id, w, mj));
                        }
                        if ways[m].1 {
                            arcs[m].push((id, a, w, mj));
                        }
                    }
                }
                prev = Some(id);
            }
        }
        let n = nodes.len();
        RoadGraph {
            nodes,
            keys,
            segments,
            modes: arcs.map(|a| Csr::from_arcs(n, a)),
        }
    }

    pub fn nodes(&self) -> usize {
        self.nodes.len()
    }

    /// The mode's network as the stack's arrival estimator takes it: only the nodes the mode's
    /// arcs touch (renumbered in id order), and its directed arcs.
    pub fn network(&self, mode: Mode) -> baoan_api::RoadNetwork {
        let csr = &self.modes[mode as usize];
        let mut used = vec![false; self.nodes.len()];
        for v in 0..self.nodes.len() as u32 {
            for a in csr.out(v) {
                used[v as usize] = true;
                used[csr.targets[a] as usize] = true;
            }
        }
        let mut index = vec![u32::MAX; self.nodes.len()];
        let mut nodes = Vec::new();
        for (v, &u) in used.iter().enumerate() {
            if u {
                index[v] = nodes.len() as u32;
                let p = self.nodes[v];
                nodes.push([p.x, p.y]);
            }
        }
        let mut arcs = Vec::with_capacity(csr.targets.len());
        for v in 0..self.nodes.len() as u32 {
            for a in csr.out(v) {
                arcs.push([index[v as usize], index[csr.targets[a] as usize]]);
            }
        }
        baoan_api::RoadNetwork { nodes, arcs }
    }

    /// A node's position, local metres.
    pub fn node(&self, id: u32) -> Coord<f64> {
        self.nodes[id as usize]
    }

    /// The node at a WGS-84 point of the data, if a line passes through it.
    pub fn node_at(&self, lon: f64, lat: f64) -> Option<u32> {
        self.keys.get(&node_key(lon, lat)).copied()
    }

    /// Segments between consecutive distinct points of the lines (undirected).
    pub fn segments(&self) -> usize {
        self.segments
    }

    /// Directed arcs `mode` may use.
    pub fn arcs(&self, mode: Mode) -> usize {
        self.modes[mode as usize].arcs()
    }

    /// Free-flow deciseconds from node to node by `mode` over the whole graph, if any route.
    pub fn shortest_deciseconds(&self, mode: Mode, from: u32, to: u32) -> Option<u32> {
        let g = &self.modes[mode as usize];
        let mut target = vec![false; g.nodes()];
        target[to as usize] = true;
        let mut s = Scratch::new(g.nodes());
        s.run(g, from, &target, 1);
        (s.dist[to as usize] != u32::MAX).then_some(s.dist[to as usize])
    }
}

/// Dijkstra's working arrays, reused from one source to the next.
struct Scratch {
    dist: Vec<u32>,
    major: Vec<u32>,
    heap: BinaryHeap<Reverse<u64>>,
}

impl Scratch {
    fn new(nodes: usize) -> Scratch {
        Scratch {
            dist: vec![u32::MAX; nodes],
            major: vec![0; nodes],
            heap: BinaryHeap::new(),
        }
    }

    /// Shortest deciseconds from `source` until all `targets` (nodes marked in `is_target`) are
    /// settled, with the major-road part of each chosen path. The heap orders by (time, node
    /// id), so ties settle by id and a result never depends on anything but the graph.
    fn run(&mut self, g: &Csr, source: u32, is_target: &[bool], targets: usize) {
        self.dist.fill(u32::MAX);
        self.major.fill(0);
        self.heap.clear();
        self.dist[source as usize] = 0;
        self.heap.push(Reverse(source as u64));
        let mut left = targets;
        while let Some(Reverse(key)) = self.heap.pop() {
            let (d, v) = ((key >> 32) as u32, key as u32);
            if d > self.dist[v as usize] {
                continue;
            }
            if is_target[v as usize] {
                left -= 1;
                if left == 0 {
                    break;
                }
            }
            let mv = self.major[v as usize];
            for a in g.out(v) {
                let w = g.targets[a];
                let nd = d.saturating_add(g.weights[a]);
                if nd < self.dist[w as usize] {
                    self.dist[w as usize] = nd;
                    self.major[w as usize] = mv.saturating_add(g.major[a]);
                    self.heap.push(Reverse(((nd as u64) << 32) | w as u64));
                }
            }
        }
    }
}

/// Membership of the largest strongly connected component (Kosaraju, iterative), and its size.
/// Ties in size go to the component found first, which depends only on the graph.
fn largest_component(g: &Csr) -> (Vec<bool>, usize) {
    let n = g.nodes();
    let mut visited = vec![false; n];
    let mut order = Vec::with_capacity(n);
    let mut stack: Vec<(u32, usize)> = Vec::new();
    for s in 0..n as u32 {
        if visited[s as usize] {
            continue;
        }
        visited[s as usize] = true;
        stack.push((s, g.out(s).start));
        while let Some(top) = stack.last_mut() {
            let v = top.0;
            if top.1 < g.out(v).end {
                let w = g.targets[top.1];
                top.1 += 1;
                if !visited[w as usize] {
                    visited[w as usize] = true;
                    stack.push((w, g.out(w).start));
                }
            } else {
                order.push(v);
                stack.pop();
            }
        }
    }
    let rev = g.reversed();
    let mut comp = vec![u32::MAX; n];
    let mut sizes: Vec<usize> = Vec::new();
    let mut todo: Vec<u32> = Vec::new();
    for &s in order.iter().rev() {
        if comp[s as usize] != u32::MAX {
            continue;
        }
        let c = sizes.len() as u32;
        comp[s as usize] = c;
        todo.push(s);
        let mut size = 0;
        while let Some(v) = todo.pop() {
            size += 1;
            for a in rev.out(v) {
                let w = rev.targets[a];
                if comp[w as usize] == u32::MAX {
                    comp[w as usize] = c;
                    todo.push(w);
                }
            }
        }
        sizes.push(size);
    }
    let Some((best, &size)) = sizes
        .iter()
        .enumerate()
        .max_by_key(|&(c, &size)| (size, Reverse(c)))
    else {
        return (Vec::new(), 0);
    };
    (comp.iter().map(|&c| c == best as u32).collect(), size)
}

/// The graph Dijkstra searches for one mode: the largest component only, with chains of
/// pass-through nodes (exactly two neighbours, entered from one and left to the other) replaced
/// by one arc when `contract` is set. Nodes in `keep` (grids' nodes) always stay.
struct Search {
    csr: Csr,
    /// Search node of each graph node, `u32::MAX` if none.
    index: Vec<u32>,
}

fn search_graph(g: &Csr, inside: &[bool], keep: &[bool], contract: bool) -> Search {
    let n = g.nodes();
    let rev = g.reversed();
    // Arcs of a node within the component, loops left out.
    let arcs_within = |c: &Csr, v: u32| -> Vec<usize> {
        c.out(v)
            .filter(|&a| c.targets[a] != v && inside[c.targets[a] as usize])
            .collect()
    };
    let pass_through: Vec<bool> = (0..n as u32)
        .map(|v| {
            if !contract || !inside[v as usize] || keep[v as usize] {
                return false;
            }
            let outs = arcs_within(g, v);
            let ins = arcs_within(&rev, v);
            let mut neighbours: Vec<u32> = outs
                .iter()
                .map(|&a| g.targets[a])
                .chain(ins.iter().map(|&a| rev.targets[a]))
                .collect();
            neighbours.sort_unstable();
            neighbours.dedup();
            if neighbours.len() != 2 {
                return false;
            }
            let mut out_t: Vec<u32> = outs.iter().map(|&a| g.targets[a]).collect();
            let mut in_t: Vec<u32> = ins.iter().map(|&a| rev.targets[a]).collect();
            out_t.sort_unstable();
            in_t.sort_unstable();
            (out_t.len() == 2 && out_t == neighbours && in_t == neighbours)
                || (out_t.len() == 1 && in_t.len() == 1 && out_t != in_t)
        })
        .collect();
    let mut index = vec![u32::MAX; n];
    let mut kept = 0u32;
    for v in 0..n {
        if inside[v] && !pass_through[v] {
            index[v] = kept;
            kept += 1;
        }
    }
    let mut arcs = Vec::new();
    for s in 0..n as u32 {
        if index[s as usize] == u32::MAX {
            continue;
        }
        for a in g.out(s) {
            let (mut prev, mut cur) = (s, g.targets[a]);
            if !inside[cur as usize] {
                continue;
            }
            let (mut w, mut mj) = (g.weights[a], g.major[a]);
            let mut steps = 0;
            while pass_through[cur as usize] {
                let next = g
                    .out(cur)
                    .find(|&b| {
                        let t = g.targets[b];
                        inside[t as usize] && t != prev && t != cur
                    })
                    .expect("a pass-through node has a way on");
                w = w.saturating_add(g.weights[next]);
                mj = mj.saturating_add(g.major[next]);
                (prev, cur) = (cur, g.targets[next]);
                steps += 1;
                assert!(steps <= n, "a chain of pass-through nodes closed on itself");
            }
            if cur != s {
                arcs.push((index[s as usize], index[cur as usize], w, mj));
            }
        }
    }
    // Parallel arcs: keep the quickest (then the one with less on major roads).
    arcs.sort_unstable();
    arcs.dedup_by_key(|a| (a.0, a.1));
    Search {
        csr: Csr::from_arcs(kept as usize, arcs),
        index,
    }
}

/// What the road source of travel times is made of; deterministic (no wall-clock).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RoadReport {
    pub nodes: usize,
    /// Segments between consecutive points of the lines.
    pub segments: usize,
    /// Directed arcs each mode may use (walk, e-bike, car).
    pub edges_by_mode: [usize; MODES],
    /// Nodes and arcs each mode's Dijkstra searches: the largest component, chains contracted.
    pub search_nodes_by_mode: [usize; MODES],
    pub search_edges_by_mode: [usize; MODES],
    /// The largest strongly connected component's share of the nodes the mode can use.
    pub largest_component_share_by_mode: [f64; MODES],
    /// Grids farther than `MAX_ACCESS_M` from the mode's main component, by id.
    pub unreachable_grids_by_mode: [Vec<u32>; MODES],
    /// Ordered pairs of distinct grids that fall back to the straight line (`FALLBACK_DETOUR`).
    pub fallback_pairs_by_mode: [u64; MODES],
    /// Ordered pairs whose road time exceeded `MAX_SECONDS` and was clamped.
    pub saturated_pairs_by_mode: [u64; MODES],
    /// Mean straight distance from a reachable grid's site to its node, metres.
    pub mean_access_m_by_mode: [f64; MODES],
}

/// Wall-clock seconds of the road source's build (for perf output only).
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct RoadPerf {
    /// Components, snapping and chain contraction.
    pub prepare_s: f64,
    /// One Dijkstra per grid and mode.
    pub all_pairs_s: f64,
}

/// Travel times over roads between every pair of grids: u16 seconds of the node-to-node legs
/// (walk, e-bike, car on major roads, car on minor roads) plus each grid's access legs.
#[derive(Clone)]
pub struct RoadTimes {
    n: usize,
    walk: Vec<u16>,
    ebike: Vec<u16>,
    car_major: Vec<u16>,
    car_minor: Vec<u16>,
    /// Seconds from each grid's site to its node, by mode (free flow).
    access_s: [Vec<f64>; MODES],
    sites: Vec<Coord<f64>>,
    pub(crate) report: RoadReport,
    pub(crate) perf: RoadPerf,
}

/// Whole seconds of `ds` deciseconds, rounded up and clamped; whether it was clamped.
fn to_seconds(ds: u32) -> (u16, bool) {
    let s = ds.div_ceil(10);
    if s > MAX_SECONDS as u32 {
        (MAX_SECONDS, true)
    } else {
        (s as u16, false)
    }
}

/// Where each grid meets one mode's roads.
struct Snap {
    /// Graph node of each grid, `None` if unreachable.
    node: Vec<Option<u32>>,
    access_m: Vec<f64>,
}

fn snap(g: &RoadGraph, inside: &[bool], sites: &[Coord<f64>]) -> Snap {
    let tree = RTree::bulk_load(
        (0..g.nodes())
            .filter(|&v| inside[v])
            .map(|v| GeomWithData::new([g.nodes[v].x, g.nodes[v].y], v as u32))
            .collect(),
    );
    let (node, access_m) = sites
        .iter()
        .map(|s| {
            let mut near = tree.nearest_neighbor_iter_with_distance_2(&[s.x, s.y]);
            let Some((first, d2)) = near.next() else {
                return (None, 0.0);
            };
            // Equally near nodes: the lowest id.
            let best = near
                .take_while(|&(_, e2)| e2 == d2)
                .map(|(p, _)| p.data)
                .fold(first.data, u32::min);
            let d = d2.sqrt();
            if d > MAX_ACCESS_M {
                (None, 0.0)
            } else {
                (Some(best), d)
            }
        })
        .unzip();
    Snap { node, access_m }
}

impl RoadTimes {
    pub fn build(district: &District, graph: &RoadGraph, contract: bool) -> RoadTimes {
        let t0 = Instant::now();
        let n = district.grids.len();
        let sites: Vec<Coord<f64>> = district.grids.iter().map(|g| g.site).collect();
        let mut report = RoadReport {
            nodes: graph.nodes(),
            segments: graph.segments(),
            edges_by_mode: [0; MODES],
            search_nodes_by_mode: [0; MODES],
            search_edges_by_mode: [0; MODES],
            largest_component_share_by_mode: [0.0; MODES],
            unreachable_grids_by_mode: Default::default(),
            fallback_pairs_by_mode: [0; MODES],
            saturated_pairs_by_mode: [0; MODES],
            mean_access_m_by_mode: [0.0; MODES],
        };
        let mut access_s: [Vec<f64>; MODES] = Default::default();
        let mut prepared = Vec::with_capacity(MODES);
        for mode in Mode::ALL {
            let m = mode as usize;
            let g = &graph.modes[m];
            let (inside, size) = largest_component(g);
            let used = (0..g.nodes() as u32)
                .filter(|&v| !g.out(v).is_empty())
                .count();
            let snapped = snap(graph, &inside, &sites);
            let mut keep = vec![false; g.nodes()];
            for v in snapped.node.iter().flatten() {
                keep[*v as usize] = true;
            }
            let search = search_graph(g, &inside, &keep, contract);
            let nodes: Vec<Option<u32>> = snapped
                .node
                .iter()
                .map(|v| v.map(|v| search.index[v as usize]))
                .collect();
            let unreachable: Vec<u32> = (0..n as u32)
                .filter(|&i| nodes[i as usize].is_none())
                .collect();
            let reachable = (n - unreachable.len()) as u64;
            report.edges_by_mode[m] = g.arcs();
            report.search_nodes_by_mode[m] = search.csr.nodes();
            report.search_edges_by_mode[m] = search.csr.arcs();
            report.largest_component_share_by_mode[m] = if used == 0 {
                0.0
            } else {
                size.min(used) as f64 / used as f64
            };
            report.fallback_pairs_by_mode[m] =
                n as u64 * (n as u64).saturating_sub(1) - reachable * reachable.saturating_sub(1);
            report.mean_access_m_by_mode[m] = if reachable == 0 {
                0.0
            } else {
                nodes
                    .iter()
                    .zip(&snapped.access_m)
                    .filter(|(v, _)| v.is_some())
                    .map(|(_, d)| d)
                    .sum::<f64>()
                    / reachable as f64
            };
            report.unreachable_grids_by_mode[m] = unreachable;
            access_s[m] = snapped
                .access_m
                .iter()
                .map(|d| d * ACCESS_DETOUR / access_speed_m_per_s(mode))
                .collect();
            prepared.push((search, nodes));
        }
        let t1 = Instant::now();

        let cells = n * n;
        let mut walk = vec![UNREACHABLE; cells];
        let mut ebike = vec![UNREACHABLE; cells];
        let mut car_major = vec![UNREACHABLE; cells];
        let mut car_minor = vec![UNREACHABLE; cells];
        let (walk_search, walk_nodes) = &prepared[Mode::Walk as usize];
        report.saturated_pairs_by_mode[0] =
            all_pairs(&walk_search.csr, walk_nodes, &mut walk, None);
        let (bike_search, bike_nodes) = &prepared[Mode::EBike as usize];
        report.saturated_pairs_by_mode[1] =
            all_pairs(&bike_search.csr, bike_nodes, &mut ebike, None);
        let (car_search, car_nodes) = &prepared[Mode::Car as usize];
        report.saturated_pairs_by_mode[2] = all_pairs(
            &car_search.csr,
            car_nodes,
            &mut car_minor,
            Some(&mut car_major),
        );
        let perf = RoadPerf {
            prepare_s: (t1 - t0).as_secs_f64(),
            all_pairs_s: t1.elapsed().as_secs_f64(),
        };
        RoadTimes {
            n,
            walk,
            ebike,
            car_major,
            car_minor,
            access_s,
            sites,
            report,
            perf,
        }
    }

    /// The free-flow parts of a trip between distinct grids, seconds: (on major roads, on minor
    /// roads and access legs); `None` if either grid is unreachable for the mode. Walk and
    /// e-bike put everything in the second part.
    fn parts(&self, mode: Mode, from: u32, to: u32) -> Option<(f64, f64)> {
        let m = mode as usize;
        let cell = from as usize * self.n + to as usize;
        let access = self.access_s[m][from as usize] + self.access_s[m][to as usize];
        match mode {
            Mode::Walk | Mode::EBike => {
                let s = if mode == Mode::Walk {
                    self.walk[cell]
                } else {
                    self.ebike[cell]
                };
                (s != UNREACHABLE).then_some((0.0, s as f64 + access))
            }
            Mode::Car => {
                let (major, minor) = (self.car_major[cell], self.car_minor[cell]);
                (major != UNREACHABLE).then_some((major as f64, minor as f64 + access))
            }
        }
    }

    fn straight_m(&self, from: u32, to: u32) -> f64 {
        let (a, b) = (self.sites[from as usize], self.sites[to as usize]);
        ((a.x - b.x).powi(2) + (a.y - b.y).powi(2)).sqrt()
    }

    /// Seconds between distinct grids leaving in `hour`. Car: overhead + major × the major-road
    /// factor + (minor + access) × the minor-road factor; walk and e-bike: overhead + road time ×
    /// the mode's own hour factor. Unreachable pairs: the straight line × `FALLBACK_DETOUR` at
    /// the mode's nominal speed and hour factor.
    pub(crate) fn seconds(&self, p: &ModeParams, mode: Mode, from: u32, to: u32, h: usize) -> f64 {
        match self.parts(mode, from, to) {
            None => {
                p.overhead_s
                    + self.straight_m(from, to) * FALLBACK_DETOUR / p.speed_m_per_s
                        * p.hour_factor[h]
            }
            Some((major, minor)) if mode == Mode::Car => {
                p.overhead_s + major * CAR_MAJOR_HOUR_FACTOR[h] + minor * CAR_MINOR_HOUR_FACTOR[h]
            }
            Some((_, all)) => p.overhead_s + all * p.hour_factor[h],
        }
    }

    /// The car's free-flow seconds between distinct grids, access legs included, overhead not
    /// (the fallback's straight line at the car's nominal speed if unreachable).
    pub(crate) fn car_free_flow_s(&self, car: &ModeParams, from: u32, to: u32) -> f64 {
        match self.parts(Mode::Car, from, to) {
            Some((major, minor)) => major + minor,
            None => self.straight_m(from, to) * FALLBACK_DETOUR / car.speed_m_per_s,
        }
    }

    /// The share of all pairs' free-flow car time spent on major roads (access legs, which
    /// count as minor, left out), for the planner's district-wide congestion.
    pub(crate) fn car_major_share(&self) -> f64 {
        let (mut major, mut minor) = (0u64, 0u64);
        for (&a, &b) in self.car_major.iter().zip(&self.car_minor) {
            if a != UNREACHABLE && b != UNREACHABLE {
                major += a as u64;
                minor += b as u64;
            }
        }
        major as f64 / (major + minor).max(1) as f64
    }

    pub(crate) fn memory_bytes(&self) -> usize {
        2 * (self.walk.len() + self.ebike.len() + self.car_major.len() + self.car_minor.len())
            + 8 * self.access_s.iter().map(Vec::len).sum::<usize>()
            + 16 * self.sites.len()
    }
}

/// Fills `total` (or, with `major`, the minor part in `total` and the major part in `major`)
/// row by row: one Dijkstra from each reachable grid's node, in parallel; each row depends only
/// on the graph, so the thread count never changes a cell. Returns the pairs clamped.
fn all_pairs(g: &Csr, nodes: &[Option<u32>], total: &mut [u16], major: Option<&mut [u16]>) -> u64 {
    let n = nodes.len();
    if n == 0 {
        return 0;
    }
    let mut is_target = vec![false; g.nodes()];
    for v in nodes.iter().flatten() {
        is_target[*v as usize] = true;
    }
    let targets = is_target.iter().filter(|&&t| t).count();
    let major_rows: Vec<Option<&mut [u16]>> = match major {
        Some(m) => m.chunks_mut(n).map(Some).collect(),
        None => (0..n).map(|_| None).collect(),
    };
    total
        .par_chunks_mut(n)
        .zip(major_rows)
        .enumerate()
        .map_init(
            || Scratch::new(g.nodes()),
            |scratch, (i, (row, mut major_row))| {
                let Some(source) = nodes[i] else {
                    return 0u64;
                };
                scratch.run(g, source, &is_target, targets);
                let mut clamped = 0;
                for (j, node) in nodes.iter().enumerate() {
                    let Some(t) = node else { continue };
                    let d = scratch.dist[*t as usize];
                    if let Some(major_row) = major_row.as_deref_mut() {
                        let mj = scratch.major[*t as usize];
                        let (a, ca) = to_seconds(mj);
                        let (b, cb) = to_seconds(d - mj);
                        major_row[j] = a;
                        row[j] = b;
                        clamped += (ca || cb) as u64;
                    } else {
                        let (s, c) = to_seconds(d);
                        row[j] = s;
                        clamped += c as u64;
                    }
                }
                clamped
            },
        )
        .sum()
}

pub mod lattice;

#[cfg(test)]
mod tests;
