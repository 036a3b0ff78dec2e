//! Properties of the synthesised district at small scales, for random seeds: grids partition
//! their community and communities their street; every sampled point falls in exactly one grid;
//! ID numbers and credit codes always check; the same seed builds the same district.

use baoan_world::ids::{validate_credit_code, validate_id_number};
use baoan_world::{District, Mode, Population, RngStreams, TravelTimes};
use geo::{BoundingRect, Contains, Coord, Point};
use proptest::prelude::*;
use rand::Rng;

fn rel_err(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(1.0)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

    #[test]
    fn divisions_partition_their_parents(seed in 0u64..1_000_000, scale in prop::sample::select(vec![0.002, 0.01, 0.03])) {
        let d = District::build(scale, seed);
        prop_assert_eq!(d.streets.len(), 10);
        let street_total: f64 = d.streets.iter().map(|s| s.area_m2).sum();
        prop_assert!(rel_err(street_total, d.outline_area_m2) < 1e-6, "streets {} vs outline {}", street_total, d.outline_area_m2);
        for s in &d.streets {
            let communities: f64 = s.communities.clone().map(|c| d.communities[c as usize].area_m2).sum();
            prop_assert!(rel_err(communities, s.area_m2) < 1e-6, "street {}: {} vs {}", s.name_en, communities, s.area_m2);
            prop_assert!(!s.communities.is_empty());
        }
        for c in &d.communities {
            prop_assert!(!c.grids.is_empty());
            let grids: f64 = c.grids.clone().map(|g| d.grids[g as usize].area_m2).sum();
            prop_assert!(rel_err(grids, c.area_m2) < 1e-6, "community {}: {} vs {}", c.name, grids, c.area_m2);
            for g in c.grids.clone() {
                let grid = &d.grids[g as usize];
                prop_assert_eq!(grid.community, c.id);
                prop_assert_eq!(grid.street, c.street);
                prop_assert!(grid.area_m2 > 0.0);
                prop_assert!(grid.shape.contains(&Point(grid.site)), "grid {} does not contain its site", grid.code);
            }
        }
        // Every point of the district falls in exactly one grid (and none outside it).
        let bbox = d.outline.bounding_rect().unwrap();
        let mut rng = RngStreams::new(seed).stream("test/points");
        let mut inside = 0;
        for _ in 0..3000 {
            let p = Coord { x: rng.random_range(bbox.min().x..bbox.max().x), y: rng.random_range(bbox.min().y..bbox.max().y) };
            let owners = d.grids_containing(p);
            if d.outline.contains(&Point(p)) {
                inside += 1;
                prop_assert_eq!(owners.len(), 1, "point {:?} in grids {:?}", p, owners);
                prop_assert_eq!(d.grid_at(p), Some(owners[0]));
            } else {
                prop_assert!(owners.is_empty(), "point {:?} outside the district in grids {:?}", p, owners);
            }
        }
        prop_assert!(inside > 500);
    }

    #[test]
    fn synthetic_identifiers_always_check(seed in 0u64..1_000_000) {
        let d = District::build(0.002, seed);
        let pop = Population::build(&d, &RngStreams::new(seed));
        prop_assert!(pop.residents() > 8_000);
        let mut ids = std::collections::HashSet::new();
        for r in 0..pop.residents() as u32 {
            let id = pop.id_number(r);
            prop_assert!(validate_id_number(&id).is_ok(), "resident {}: {} {:?}", r, id, validate_id_number(&id));
            prop_assert!(ids.insert(id), "duplicate ID number for resident {}", r);
        }
        let mut codes = std::collections::HashSet::new();
        for c in 0..pop.companies.len() {
            let code = pop.credit_code(c);
            prop_assert!(validate_credit_code(&code).is_ok(), "company {}: {}", c, code);
            prop_assert!(codes.insert(code), "duplicate credit code for company {}", c);
        }
    }
}

#[test]
fn the_same_seed_builds_the_same_district_and_another_seed_another() {
    let a = District::build(0.01, 5);
    let b = District::build(0.01, 5);
    let c = District::build(0.01, 6);
    let sites = |d: &District| {
        d.grids
            .iter()
            .map(|g| (g.site.x.to_bits(), g.site.y.to_bits()))
            .collect::<Vec<_>>()
    };
    assert_eq!(sites(&a), sites(&b));
    assert_ne!(sites(&a), sites(&c));
    // Streets are the real ones: their shapes do not depend on the seed.
    assert_eq!(
        a.streets[3].area_m2.to_bits(),
        c.streets[3].area_m2.to_bits()
    );
}

#[test]
fn population_has_households_addresses_and_companies_of_the_right_size() {
    let d = District::build(0.01, 3);
    let pop = Population::build(&d, &RngStreams::new(3));
    assert_eq!(pop.residents(), 44_766, "4,476,554 × 0.01 rounded");
    let share = pop.registered() as f64 / pop.residents() as f64;
    assert!((0.05..0.35).contains(&share), "registered share {share}");
    assert!(pop.households() > pop.residents() / 5 && pop.households() < pop.residents());
    // Every household's room exists and its address names the grid's street and community.
    for h in (0..pop.households()).step_by(97) {
        let room = pop.household_room[h];
        let b = &pop.buildings[pop.building_of_room(room)];
        assert!(room >= b.first_room && room < b.first_room + b.rooms());
        let addr = pop.address(&d, room);
        let grid = &d.grids[b.grid as usize];
        assert_eq!(addr.street, d.streets[grid.street as usize].name_zh);
        assert_eq!(addr.community, d.communities[grid.community as usize].name);
        assert!(addr.to_string().starts_with("广东省深圳市宝安区"));
    }
    let per_resident = pop.companies.len() as f64 / pop.residents() as f64;
    assert!((0.1..0.2).contains(&per_resident), "{per_resident}");
    for r in pop.residents_of_grid(7) {
        assert!(!pop.name(r).is_empty());
    }
}

#[test]
fn travel_times_are_sane_and_rush_hour_is_slower_by_car() {
    let d = District::build(0.01, 3);
    let t = TravelTimes::build(&d);
    let n = d.grids.len() as u32;
    for a in 0..n {
        for b in 0..n {
            let walk = t.seconds(Mode::Walk, a, b, 3);
            let bike = t.seconds(Mode::EBike, a, b, 3);
            assert!(walk.is_finite() && walk >= 0.0);
            if a != b {
                // The network is never shorter than a straight line.
                let ga = d.grids[a as usize].site;
                let gb = d.grids[b as usize].site;
                let straight = ((ga.x - gb.x).powi(2) + (ga.y - gb.y).powi(2)).sqrt();
                assert!(
                    t.distance_m(a, b) + 2.0 >= straight,
                    "{a}->{b}: {} < {straight}",
                    t.distance_m(a, b)
                );
                assert!(t.distance_m(a, b) < 150_000.0);
                assert!(bike < walk);
                assert!(t.seconds(Mode::Car, a, b, 8) > t.seconds(Mode::Car, a, b, 3));
            }
        }
    }
}

#[test]
fn the_thread_count_never_changes_the_district() {
    let build = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let d = District::build(0.02, 11);
            let t = TravelTimes::build(&d);
            let p = Population::build(&d, &RngStreams::new(11));
            let shapes: Vec<u64> = d.grids.iter().map(|g| g.area_m2.to_bits()).collect();
            let travel: Vec<u64> = (0..d.grids.len() as u32)
                .map(|g| t.distance_m(0, g).to_bits())
                .collect();
            let people: Vec<String> = (0..p.residents() as u32)
                .step_by(101)
                .map(|r| p.id_number(r))
                .collect();
            (shapes, travel, people, p.companies.len())
        })
    };
    assert!(
        build(1) == build(2),
        "one thread and two must build the same district"
    );
}
