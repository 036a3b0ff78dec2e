//! Proptest strategies that generate valid random scenarios, for property tests across the project.

use baoan_api::Module;
use proptest::prelude::*;

use crate::{
    CATEGORIES, CommandLoop, Disruption, Dur, GridLoop, MatcherLoop, Output, PROFILES, Patrol,
    Scenario, Slo, Surge,
};

/// Streets a generated surge may name (English names; the twin also takes Chinese names and codes).
pub const STREET_NAMES: &[&str] = &[
    "Xin'an",
    "Xixiang",
    "Hangcheng",
    "Fuyong",
    "Fuhai",
    "Shajing",
    "Xinqiao",
    "Songgang",
    "Yanluo",
    "Shiyan",
];

fn share() -> impl Strategy<Value = f64> {
    (0u32..=100).prop_map(|x| x as f64 / 100.0)
}

/// The scales `small_scenario` draws from: fast enough for every test run, too small for the
/// 1-3-5 rule to mean much (a few dozen grids).
pub const SMALL_SCALES: [f64; 5] = [0.001, 0.002, 0.005, 0.01, 0.02];

/// The scales `large_scenario` draws from (`twin fuzz`): a tenth of the district and more,
/// where units, posts and key areas are there in numbers and 1-3-5 is measured.
pub const LARGE_SCALES: [f64; 4] = [0.1, 0.15, 0.25, 0.5];

/// Small, fast scenarios: `SMALL_SCALES`, up to a day, 1-10 s ticks.
pub fn small_scenario() -> impl Strategy<Value = Scenario> {
    scenario_at(SMALL_SCALES.to_vec(), 24)
}

/// Scenarios at a tenth of the district or more (`LARGE_SCALES`), up to 12 hours: what `twin
/// fuzz` draws until its time is spent.
pub fn large_scenario() -> impl Strategy<Value = Scenario> {
    scenario_at(LARGE_SCALES.to_vec(), 12)
}

/// Random valid scenarios at one of `scales`, lasting 1 to `max_hours` hours, with 1-10 s ticks.
/// Shrinking goes to the first scale listed, the shortest duration and fewer surges,
/// disruptions and faults. The seed is never shrunk: another seed is another world, not a
/// simpler one, and a binary search over its 63 bits would spend a shrink budget for nothing.
pub fn scenario_at(scales: Vec<f64>, max_hours: u64) -> impl Strategy<Value = Scenario> {
    (
        (0u64..=i64::MAX as u64).no_shrink(),
        (1u64..=max_hours).prop_map(Dur::hours),
        prop::sample::select(vec![Dur::secs(1), Dur::secs(5), Dur::secs(10)]),
        prop::sample::select(scales),
        grid_loop(),
        prop::collection::vec(surge(), 0..3),
        command_loop(),
        prop::collection::vec(disruption(), 0..2),
        matcher_loop(),
        cases_loop(),
        prop::collection::vec(fault(), 0..3),
        key_persons_loop(),
    )
        .prop_map(
            |(
                seed,
                duration,
                tick,
                scale,
                grid,
                surges,
                command,
                disruptions,
                matcher,
                cases,
                faults,
                key_persons,
            )| {
                Scenario {
                    name: "generated".into(),
                    description: String::new(),
                    seed,
                    district_seed: None,
                    duration,
                    tick,
                    scale,
                    district: None,
                    grid,
                    command,
                    matcher,
                    blocks: crate::BlocksLoop {
                        enabled: false,
                        ..crate::BlocksLoop::default()
                    },
                    cases,
                    key_persons,
                    // The seed's parity switches the video network, so both are exercised.
                    video: crate::Video {
                        enabled: seed % 2 == 0,
                        ..crate::Video::default()
                    },
                    assumptions: code_assumption_at_an_end(seed),
                    surges,
                    disruptions,
                    faults,
                    slos: vec![Slo {
                        metric: "grid.report_to_closed_s".into(),
                        stat: "p90".into(),
                        max: Some(7.0 * 86_400.0),
                        min: None,
                    }],
                    output: Output::default(),
                    source: Default::default(),
                }
            },
        )
}

/// A grid loop at a small district's rates, with a patrol.
fn grid_loop() -> impl Strategy<Value = GridLoop> {
    (
        (1u32..=40).prop_map(|x| x as f64 / 2.0),
        prop::option::of(prop::sample::select(PROFILES)),
        share(),
        (10u64..=480).prop_map(Dur::mins),
        share(),
        (0u32..=30).prop_map(|x| x as f64 / 100.0),
        (5u32..=30).prop_map(|x| x as f64 / 10.0),
        (30u64..=240).prop_map(Dur::mins),
        (50u32..=100).prop_map(|x| x as f64 / 100.0),
        (prop::bool::ANY, prop::bool::ANY, 0u32..=20),
    )
        .prop_map(
            |(
                rate,
                profile,
                hotline,
                delay,
                on_spot,
                rework,
                staffing,
                sweep,
                detect,
                (supervise, visits_cost, wrong),
            )| GridLoop {
                enabled: true,
                items_per_grid_per_day: rate,
                profile: profile.map(str::to_string),
                hourly: None,
                hotline_share: hotline,
                hotline_delay: delay,
                on_spot_share: on_spot,
                rework_share: rework,
                resolver_staffing: staffing,
                patrol: Patrol {
                    sweep,
                    detect_probability: detect,
                    visits_take_patrol: visits_cost,
                    finding_error_share: wrong as f64 / 100.0,
                    ..Patrol::default()
                },
                supervision: crate::Supervision {
                    enabled: supervise,
                    ..crate::Supervision::default()
                },
            },
        )
}

/// A grid or command surge of a few hours on a few streets.
fn surge() -> impl Strategy<Value = Surge> {
    (
        prop::bool::ANY,
        0u64..20,
        1u64..6,
        prop::sample::subsequence(STREET_NAMES, 0..3),
        (10u32..=50).prop_map(|x| x as f64 / 10.0),
        prop::sample::subsequence(CATEGORIES, 0..2),
        prop::bool::weighted(0.3),
    )
        .prop_map(
            |(command, start_h, len_h, streets, multiplier, categories, key_areas_only)| Surge {
                target: if command { "command" } else { "grid" }.into(),
                start: Dur::hours(start_h),
                end: Dur::hours(start_h + len_h),
                streets: streets.into_iter().map(str::to_string).collect(),
                multiplier,
                categories: if command {
                    categories.into_iter().map(str::to_string).collect()
                } else {
                    vec![]
                },
                key_areas_only: command && key_areas_only,
            },
        )
}

/// A command loop's incident rate, volunteers' declines, call delay and volunteer count.
fn command_loop() -> impl Strategy<Value = CommandLoop> {
    (
        (100u32..=3000),
        (0u32..=30),
        (10u64..=300),
        (20_000u32..=150_000),
        (prop::bool::ANY, prop::bool::ANY, prop::bool::ANY, 1u32..=20),
    )
        .prop_map(
            |(per_day, decline, delay_s, volunteers, (centres, anywhere, four, takers))| {
                CommandLoop {
                    incidents_per_day: per_day as f64,
                    volunteer_decline_share: decline as f64 / 100.0,
                    call_delay: Dur::secs(delay_s),
                    volunteers,
                    four_duties: four,
                    centres: crate::Centres {
                        enabled: centres,
                        leaders_anywhere: anywhere,
                        call_takers_day: takers,
                        call_takers_night: takers.div_ceil(2),
                        ..crate::Centres::default()
                    },
                    ..CommandLoop::default()
                }
            },
        )
}

/// A disruption slowing travel (or cutting it) on a few streets for a few hours.
fn disruption() -> impl Strategy<Value = Disruption> {
    (
        0u64..20,
        1u64..6,
        prop::sample::subsequence(STREET_NAMES, 1..3),
        (10u32..=40),
        prop::bool::weighted(0.3),
    )
        .prop_map(|(start_h, len_h, streets, mult, unreachable)| Disruption {
            start: Dur::hours(start_h),
            end: Dur::hours(start_h + len_h),
            streets: streets.into_iter().map(str::to_string).collect(),
            travel_multiplier: mult as f64 / 10.0,
            unreachable,
        })
}

/// Faults on the path to the stack: the loops must ride out an outage, failing calls and
/// added latency, whatever else the scenario does.
fn fault() -> impl Strategy<Value = crate::Fault> {
    (
        (1u64..=20 * 60),
        (1u64..=6 * 60),
        prop::sample::select(fault_targets()),
        (0u32..3),
        (1u32..=100),
        (1u64..=600),
    )
        .prop_map(|(start_min, len_min, module, kind, share, delay_s)| {
            let (kind, share, delay) = match kind {
                0 => (crate::FaultKind::Down, None, None),
                1 => (
                    crate::FaultKind::Errors,
                    Some(f64::from(share) / 100.0),
                    None,
                ),
                _ => (crate::FaultKind::Latency, None, Some(Dur::secs(delay_s))),
            };
            crate::Fault {
                start: Dur::secs(start_min * 60),
                end: Dur::secs((start_min + len_min) * 60),
                module: module.to_string(),
                kind,
                share,
                delay,
            }
        })
}

/// What a fault may hit: every module (`"*"`) or any one of the stack's.
fn fault_targets() -> Vec<&'static str> {
    std::iter::once("*")
        .chain(Module::ALL.map(Module::as_str))
        .collect()
}

/// A matcher small enough to run in a test: a few face points, a short watchlist, few reviewers.
fn matcher_loop() -> impl Strategy<Value = MatcherLoop> {
    (
        prop::bool::weighted(0.8),
        (0u32..=60),
        (1u32..=100),
        prop::sample::select(vec![32u32, 64, 128]),
        (1u32..=3),
        (0u32..=4),
        (0u32..=30),
    )
        .prop_map(
            |(enabled, points, wanted, dim, reviewers_required, reviewers, sampling)| MatcherLoop {
                enabled,
                face_points: points * 50,
                sightings_per_point_per_day: 2_000.0,
                sampling: (sampling as f64 / 100.0).max(0.005),
                det_searches: 200,
                dim,
                wanted,
                missing: wanted / 4,
                listed_present_share: 0.5,
                reviewers_required,
                reviewers_on_duty: reviewers_required + reviewers,
                ..MatcherLoop::default()
            },
        )
}

/// The cases loops at rates a small district still sees: disputes, credit records,
/// registrations (checked against block data only when it runs, which it does not here) and
/// care visits.
/// The key-persons loop at raised prevalences (a small district still has people to follow),
/// staffing from thin to ample, and any sighting policy.
fn key_persons_loop() -> impl Strategy<Value = crate::KeyPersonsLoop> {
    (
        prop::bool::weighted(0.5),
        (5u32..=60),
        (1u32..=10),
        (20u32..=300),
        (1u32..=10).prop_map(|x| x as f64 / 10.0),
        0u8..=6,
    )
        .prop_map(|(enabled, mental, drugs, caseload, share, police_from)| {
            crate::KeyPersonsLoop {
                enabled,
                mental_per_1000: f64::from(mental),
                drug_treatment_per_1000: f64::from(drugs),
                rehabilitation_per_1000: f64::from(drugs) / 2.0,
                doctor_caseload: caseload,
                doctor_time_share: share,
                sighting_police_from_risk: police_from,
                probes_per_day: 50.0,
                ..crate::KeyPersonsLoop::default()
            }
        })
}

fn cases_loop() -> impl Strategy<Value = crate::CasesLoop> {
    (
        prop::bool::weighted(0.6),
        (1u32..=40),
        (5u32..=30),
        (1u32..=4),
    )
        .prop_map(
            |(enabled, disputes, staffing, care_workers)| crate::CasesLoop {
                enabled,
                disputes_per_100k_per_day: f64::from(disputes),
                agency_staffing: f64::from(staffing) / 10.0,
                credit_events_per_day: 2_000.0,
                care_per_1000: 20.0,
                care_workers_per_community: care_workers,
                ..crate::CasesLoop::default()
            },
        )
}

/// One code assumption at the low or high end of its range, or none, chosen by the seed: the
/// property tests run the loops with every code assumption at both ends over many draws.
fn code_assumption_at_an_end(seed: u64) -> std::collections::BTreeMap<String, f64> {
    let all = crate::assumptions::code::ALL;
    let n = all.len() as u64;
    let pick = seed % (n + 1);
    let mut map = std::collections::BTreeMap::new();
    if let Some(a) = all.get(pick as usize) {
        map.insert(
            a.name.to_string(),
            if (seed / (n + 1)) % 2 == 0 {
                a.min
            } else {
                a.max
            },
        );
    }
    map
}
