//! Road graph tests on small hand-made graphs and on synthetic lattices of roads (every lattice
//! is synthetic, made up over the default district's frame: `lattice.rs`).

use std::sync::OnceLock;

use geo::LineString;
use proptest::prelude::*;

use super::lattice::{lattice, outline_box};
use super::*;
use crate::proj::BAOAN;
use crate::travel::TravelTimes;

/// A road through points given in BAOAN's local metres.
fn road(class: RoadClass, oneway: Oneway, points_m: &[(f64, f64)]) -> RoadLine {
    RoadLine {
        class,
        oneway,
        max_speed_kmh: None,
        foot: None,
        name: None,
        line: LineString::from(
            points_m
                .iter()
                .map(|&(x, y)| BAOAN.to_lonlat(Coord { x, y }))
                .collect::<Vec<_>>(),
        ),
    }
}

fn node(g: &RoadGraph, x: f64, y: f64) -> u32 {
    let (lon, lat) = BAOAN.to_lonlat(Coord { x, y });
    g.node_at(lon, lat)
        .expect("a line passes through the point")
}

/// Deciseconds between two nodes along a straight segment at `speed` m/s (node positions are
/// the data's points rounded to the node key, so a few millimetres off the metres given).
fn leg(g: &RoadGraph, a: u32, b: u32, speed: f64) -> u32 {
    let (p, q) = (g.node(a), g.node(b));
    deciseconds((p.x - q.x).hypot(p.y - q.y), speed)
}

fn small_district() -> &'static District {
    static D: OnceLock<District> = OnceLock::new();
    D.get_or_init(|| District::build(0.01, 42))
}

fn straight(d: &District, a: u32, b: u32) -> f64 {
    let (p, q) = (d.grids[a as usize].site, d.grids[b as usize].site);
    ((p.x - q.x).powi(2) + (p.y - q.y).powi(2)).sqrt()
}

#[test]
fn a_one_way_binds_the_car_and_the_e_bike_but_not_the_walker() {
    let lines = [
        road(
            RoadClass::Residential,
            Oneway::Forward,
            &[(0.0, 0.0), (500.0, 0.0)],
        ),
        road(
            RoadClass::Residential,
            Oneway::Backward,
            &[(0.0, 100.0), (500.0, 100.0)],
        ),
        road(
            RoadClass::Cycleway,
            Oneway::Forward,
            &[(0.0, 200.0), (500.0, 200.0)],
        ),
    ];
    let g = RoadGraph::build(&lines, &BAOAN);
    assert_eq!((g.nodes(), g.segments()), (6, 3));
    let (a, b) = (node(&g, 0.0, 0.0), node(&g, 500.0, 0.0));
    // 500 m at 25 km/h is about 72 s; on foot about 384.6 s.
    let by_car = leg(&g, a, b, CAR_RESIDENTIAL_KMH / 3.6);
    assert!((720..=721).contains(&by_car));
    assert_eq!(g.shortest_deciseconds(Mode::Car, a, b), Some(by_car));
    assert_eq!(g.shortest_deciseconds(Mode::Car, b, a), None);
    assert_eq!(g.shortest_deciseconds(Mode::EBike, b, a), None);
    let on_foot = leg(&g, a, b, WALK_M_PER_S);
    assert!((3846..=3847).contains(&on_foot));
    assert_eq!(g.shortest_deciseconds(Mode::Walk, a, b), Some(on_foot));
    assert_eq!(g.shortest_deciseconds(Mode::Walk, b, a), Some(on_foot));
    // oneway=-1 runs against the points' order.
    let (c, d) = (node(&g, 0.0, 100.0), node(&g, 500.0, 100.0));
    assert_eq!(g.shortest_deciseconds(Mode::Car, c, d), None);
    assert_eq!(
        g.shortest_deciseconds(Mode::Car, d, c),
        Some(leg(&g, c, d, CAR_RESIDENTIAL_KMH / 3.6))
    );
    // E-bikes ride cycleways both ways, one-way or not; cars never use them.
    let (e, f) = (node(&g, 0.0, 200.0), node(&g, 500.0, 200.0));
    assert_eq!(
        g.shortest_deciseconds(Mode::EBike, f, e),
        Some(leg(&g, e, f, EBIKE_CYCLEWAY_KMH / 3.6))
    );
    assert_eq!(g.shortest_deciseconds(Mode::Car, e, f), None);
}

#[test]
fn a_footway_is_walkable_only_and_foot_tags_override_the_class() {
    let mut no_foot = road(
        RoadClass::Residential,
        Oneway::Both,
        &[(0.0, 100.0), (400.0, 100.0)],
    );
    no_foot.foot = Some(false);
    let mut walkable_motorway = road(
        RoadClass::Motorway,
        Oneway::Both,
        &[(0.0, 200.0), (400.0, 200.0)],
    );
    walkable_motorway.foot = Some(true);
    let lines = [
        road(
            RoadClass::Footway,
            Oneway::Both,
            &[(0.0, 0.0), (400.0, 0.0)],
        ),
        no_foot,
        walkable_motorway,
        road(
            RoadClass::Steps,
            Oneway::Both,
            &[(0.0, 300.0), (13.0, 300.0)],
        ),
    ];
    let g = RoadGraph::build(&lines, &BAOAN);
    let (a, b) = (node(&g, 0.0, 0.0), node(&g, 400.0, 0.0));
    assert!(g.shortest_deciseconds(Mode::Walk, a, b).is_some());
    assert_eq!(g.shortest_deciseconds(Mode::EBike, a, b), None);
    assert_eq!(g.shortest_deciseconds(Mode::Car, a, b), None);
    let (c, d) = (node(&g, 0.0, 100.0), node(&g, 400.0, 100.0));
    assert_eq!(g.shortest_deciseconds(Mode::Walk, c, d), None);
    assert!(g.shortest_deciseconds(Mode::Car, c, d).is_some());
    let (e, f) = (node(&g, 0.0, 200.0), node(&g, 400.0, 200.0));
    assert!(g.shortest_deciseconds(Mode::Walk, e, f).is_some());
    assert_eq!(g.shortest_deciseconds(Mode::EBike, e, f), None);
    // Steps at half pace: 13 m at 0.65 m/s is about 20 s.
    let (s, t) = (node(&g, 0.0, 300.0), node(&g, 13.0, 300.0));
    let up = leg(&g, s, t, WALK_M_PER_S * STEPS_PACE_FACTOR);
    assert!((200..=201).contains(&up));
    assert_eq!(g.shortest_deciseconds(Mode::Walk, s, t), Some(up));
    assert_eq!(g.arcs(Mode::Car), 4);
    assert_eq!(g.arcs(Mode::Walk), 6);
}

#[test]
fn the_quicker_route_wins_over_the_shorter_one() {
    // Straight on a residential street (1,000 m), or round by a primary road (2 × 583 m).
    let lines = [
        road(
            RoadClass::Residential,
            Oneway::Both,
            &[(0.0, 0.0), (1000.0, 0.0)],
        ),
        road(
            RoadClass::Primary,
            Oneway::Both,
            &[(0.0, 0.0), (500.0, 300.0), (1000.0, 0.0)],
        ),
    ];
    let g = RoadGraph::build(&lines, &BAOAN);
    let (a, m, b) = (
        node(&g, 0.0, 0.0),
        node(&g, 500.0, 300.0),
        node(&g, 1000.0, 0.0),
    );
    let by_primary = leg(&g, a, m, CAR_PRIMARY_KMH / 3.6) + leg(&g, m, b, CAR_PRIMARY_KMH / 3.6);
    let by_street = leg(&g, a, b, CAR_RESIDENTIAL_KMH / 3.6);
    assert!(by_primary < by_street);
    assert_eq!(g.shortest_deciseconds(Mode::Car, a, b), Some(by_primary));
    // On foot both are 1.3 m/s, so the shorter one wins.
    assert_eq!(
        g.shortest_deciseconds(Mode::Walk, a, b),
        Some(leg(&g, a, b, WALK_M_PER_S))
    );
    // The e-bike is capped at 20 km/h on both: the shorter one again.
    assert_eq!(
        g.shortest_deciseconds(Mode::EBike, a, b),
        Some(leg(&g, a, b, EBIKE_MAX_KMH / 3.6))
    );
}

#[test]
fn a_signed_limit_caps_the_class_speed_and_the_e_bike_its_own() {
    let mut slow = road(RoadClass::Primary, Oneway::Both, &[(0.0, 0.0), (1.0, 0.0)]);
    slow.max_speed_kmh = Some(30.0);
    assert_eq!(speed_on(Mode::Car, &slow), Some(30.0 / 3.6));
    assert_eq!(speed_on(Mode::EBike, &slow), Some(EBIKE_MAX_KMH / 3.6));
    slow.max_speed_kmh = Some(-5.0);
    assert_eq!(speed_on(Mode::Car, &slow), Some(CAR_PRIMARY_KMH / 3.6));
    assert_eq!(top_speed_m_per_s(Mode::Car), CAR_MOTORWAY_KMH / 3.6);
    assert_eq!(top_speed_m_per_s(Mode::EBike), EBIKE_MAX_KMH / 3.6);
    assert_eq!(top_speed_m_per_s(Mode::Walk), WALK_M_PER_S);
    // Free flow is the quietest hour; major roads peak as the neighbour network's car does.
    assert_eq!(CAR_MAJOR_HOUR_FACTOR[3], 1.0);
    assert!(CAR_MAJOR_HOUR_FACTOR.iter().all(|&f| f >= 1.0));
    assert_eq!(CAR_MINOR_HOUR_FACTOR[3], 1.0);
    assert!((CAR_MAJOR_HOUR_FACTOR[18] - 1.75 / 0.85).abs() < 1e-12);
}

#[test]
fn chains_contract_to_the_same_times() {
    let d = small_district();
    let (min, max) = outline_box(d);
    let lines = lattice(&d.frame, min, max, 700.0, true, 5);
    let g = RoadGraph::build(&lines, &d.frame);
    let plain = RoadTimes::build(d, &g, false);
    let fast = RoadTimes::build(d, &g, true);
    for m in 0..MODES {
        assert!(fast.report.search_nodes_by_mode[m] < plain.report.search_nodes_by_mode[m]);
    }
    assert_eq!(plain.walk, fast.walk);
    assert_eq!(plain.ebike, fast.ebike);
    // Equal-time paths may split differently between major and minor roads; each part is
    // rounded up on its own.
    for c in 0..plain.car_major.len() {
        let (p, f) = (
            plain.car_major[c] as i32 + plain.car_minor[c] as i32,
            fast.car_major[c] as i32 + fast.car_minor[c] as i32,
        );
        assert!((p - f).abs() <= 1, "cell {c}: {p} against {f}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(6))]

    /// Whatever the lattice, no trip is quicker than the straight line at the mode's top speed,
    /// at any hour, on the road matrix or through `seconds_between`.
    #[test]
    fn no_trip_beats_the_straight_line_at_top_speed(
        seed in any::<u64>(),
        spacing in 400.0f64..1200.0,
        midpoints in any::<bool>(),
    ) {
        let d = small_district();
        let (min, max) = outline_box(d);
        let g = RoadGraph::build(&lattice(&d.frame, min, max, spacing, midpoints, seed), &d.frame);
        let t = TravelTimes::from_roads(d, &g);
        prop_assert_eq!(t.source_name(), "roads");
        let n = d.grids.len() as u32;
        for mode in Mode::ALL {
            let top = top_speed_m_per_s(mode);
            for a in 0..n {
                for b in (0..n).filter(|&b| b != a) {
                    let floor = straight(d, a, b) / top;
                    let (sa, sb) = (d.grids[a as usize].site, d.grids[b as usize].site);
                    for h in 0..24 {
                        let s = t.seconds(mode, a, b, h);
                        prop_assert!(s.is_finite() && s >= floor, "{mode:?} {a}->{b} at {h}: {s} < {floor}");
                        prop_assert!(t.seconds_between(mode, a, sa, b, sb, h) >= floor);
                    }
                }
            }
        }
    }
}

#[test]
fn the_car_is_slower_at_rush_hour_and_distance_is_its_free_flow_time_at_nominal_pace() {
    let d = small_district();
    let (min, max) = outline_box(d);
    let g = RoadGraph::build(&lattice(&d.frame, min, max, 600.0, false, 9), &d.frame);
    let t = TravelTimes::from_roads(d, &g);
    let r = t.road_report().expect("roads");
    assert!(r.unreachable_grids_by_mode[Mode::Car as usize].is_empty());
    assert!(
        r.largest_component_share_by_mode
            .iter()
            .all(|&s| s > 0.5 && s <= 1.0)
    );
    let car = t.modes[Mode::Car as usize];
    let n = d.grids.len() as u32;
    for a in 0..n {
        for b in (0..n).filter(|&b| b != a) {
            let (night, peak) = (
                t.seconds(Mode::Car, a, b, 3),
                t.seconds(Mode::Car, a, b, 18),
            );
            assert!(peak > night, "{a}->{b}: {peak} <= {night}");
            // At 03:00 both congestion curves are at free flow.
            let free = t.distance_m(a, b) * car.street_factor / car.speed_m_per_s;
            assert!((car.overhead_s + free - night).abs() < 1e-6);
            assert!(t.seconds(Mode::Walk, a, b, 3) > t.seconds(Mode::EBike, a, b, 3));
        }
    }
    assert!(t.memory_bytes() >= 4 * 2 * (n * n) as usize);
}

#[test]
fn a_grid_far_from_every_road_is_unreachable_and_falls_back_to_the_straight_line() {
    let d = small_district();
    let (min, max) = outline_box(d);
    // Roads over the western 40% of the district only.
    let cut = min.x + 0.4 * (max.x - min.x);
    let lines = lattice(&d.frame, min, Coord { x: cut, y: max.y }, 500.0, false, 3);
    let t = TravelTimes::from_roads(d, &RoadGraph::build(&lines, &d.frame));
    let r = t.road_report().expect("roads");
    let n = d.grids.len() as u32;
    let far: Vec<u32> = (0..n)
        .filter(|&g| d.grids[g as usize].site.x > cut + MAX_ACCESS_M)
        .collect();
    let near: Vec<u32> = (0..n)
        .filter(|&g| d.grids[g as usize].site.x < cut - 500.0)
        .collect();
    assert!(!far.is_empty() && !near.is_empty());
    for mode in Mode::ALL {
        let m = mode as usize;
        let unreachable = &r.unreachable_grids_by_mode[m];
        assert!(far.iter().all(|g| unreachable.contains(g)), "{mode:?}");
        assert!(unreachable.len() < n as usize);
        let reachable = (n as usize - unreachable.len()) as u64;
        assert_eq!(
            r.fallback_pairs_by_mode[m],
            (n as u64) * (n as u64 - 1) - reachable * (reachable - 1)
        );
        let p = t.modes[m];
        for &a in &far {
            for &b in near.iter().filter(|b| !unreachable.contains(b)) {
                for h in [3, 8, 18] {
                    let want = p.overhead_s
                        + straight(d, a, b) * FALLBACK_DETOUR / p.speed_m_per_s * p.hour_factor[h];
                    assert_eq!(t.seconds(mode, a, b, h), want);
                    assert_eq!(t.seconds(mode, b, a, h), want);
                }
            }
        }
    }
    // The walker's lattice is nearly one component: grids well inside it are reached.
    let walk_unreachable = &r.unreachable_grids_by_mode[Mode::Walk as usize];
    assert!(near.iter().all(|g| !walk_unreachable.contains(g)));
}

#[test]
fn without_any_road_every_pair_falls_back() {
    let d = small_district();
    let t = TravelTimes::from_roads(d, &RoadGraph::build(&[], &d.frame));
    let r = t.road_report().expect("roads");
    let n = d.grids.len();
    assert_eq!((r.nodes, r.segments), (0, 0));
    for m in 0..MODES {
        assert_eq!(r.unreachable_grids_by_mode[m].len(), n);
        assert_eq!(r.fallback_pairs_by_mode[m], (n * (n - 1)) as u64);
    }
    let car = t.modes[Mode::Car as usize];
    let want = car.overhead_s
        + straight(d, 0, 1) * FALLBACK_DETOUR / car.speed_m_per_s * car.hour_factor[8];
    assert_eq!(t.seconds(Mode::Car, 0, 1, 8), want);
}

#[test]
fn the_thread_count_never_changes_road_times() {
    let d = small_district();
    let (min, max) = outline_box(d);
    let lines = lattice(&d.frame, min, max, 450.0, true, 17);
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let t = TravelTimes::from_roads(d, &RoadGraph::build(&lines, &d.frame));
            let n = d.grids.len() as u32;
            let mut cells = Vec::new();
            for mode in Mode::ALL {
                for a in 0..n {
                    for b in 0..n {
                        for h in [3, 8, 18] {
                            cells.push(t.seconds(mode, a, b, h).to_bits());
                        }
                    }
                }
            }
            (cells, t.road_report().cloned())
        })
    };
    let one = run(1);
    assert!(one == run(2), "1 and 2 threads differ");
}
