//! The grid loop's actors: items that occur in grids (the truth), inspectors who patrol and
//! report and verify, resolvers who travel and fix, and residents who call the hotline.

mod definition;
mod inspectors;
mod record;
mod resolvers;
mod truth;

use std::collections::BTreeMap;

use baoan_api::catalogue::{self, Department};
use baoan_api::{Command, Directory, GridEntry, ResolverEntry};
use baoan_scenarios::{Problem, Scenario};
use baoan_world::bridge::StackDoor;
use baoan_world::kernel::{Agenda, LoopSet, SimSet};
use baoan_world::pack::StreetName;
use baoan_world::{District, Twin};
use bevy_app::{App, Plugin, Startup, Update};
use bevy_ecs::prelude::*;

pub use definition::{Definition, NAME};
pub use inspectors::{Inspector, InspectorAction, Inspectors};
pub use record::{GridLedger, GridOutcome, finish};
pub use resolvers::{Resolver, ResolverAction, Resolvers};
pub use truth::{GridTruth, HOTLINE_REF, TAG_SETUP, TruthAction};

use crate::staff;

/// A surge resolved against the district: a window, the streets it covers, a multiplier.
#[derive(Debug, Clone, PartialEq)]
pub struct SurgeWindow {
    pub start_ms: u64,
    pub end_ms: u64,
    /// Indexed by street id.
    pub streets: Vec<bool>,
    pub multiplier: f64,
}

/// The grid loop's settings, taken from a scenario and checked against the district.
#[derive(Resource, Debug, Clone)]
pub struct GridConfig {
    pub items_per_grid_per_day: f64,
    pub hourly: [f64; 24],
    pub hotline_share: f64,
    pub hotline_delay_ms: u64,
    pub on_spot_share: f64,
    pub rework_share: f64,
    pub resolver_staffing: f64,
    /// Shift windows within a day, ms since midnight.
    pub shifts: Vec<(u64, u64)>,
    pub sweep_ms: u64,
    pub detect_probability: f64,
    pub report_delay_ms: u64,
    pub surges: Vec<SurgeWindow>,
    pub end_ms: u64,
    pub backlog_every_ms: u64,
    /// Supervisors act on escalated tasks after a mean of this many ms; `None`: escalation is
    /// a label only.
    pub supervision: Option<u64>,
    /// A resolver's wait before trying a resolve again that the platform could not take yet
    /// (`grid.resolve_retry_s`).
    pub resolve_retry_ms: u64,
}

/// Where resolvers work: 08:00-20:00; urgent items are attended at any hour.
pub const WORK_START_MS: u64 = 8 * 3_600_000;
pub const WORK_END_MS: u64 = 20 * 3_600_000;

impl GridConfig {
    /// Every surge street named in the scenario that is not one of the district's streets,
    /// located in the file. Needs only the pack's street names, so it can run before the
    /// district is built.
    pub fn unknown_streets(s: &Scenario, streets: &[StreetName]) -> Vec<Problem> {
        let mut problems = Vec::new();
        for (i, surge) in s.surges.iter().enumerate() {
            for (j, name) in surge.streets.iter().enumerate() {
                if !streets.iter().any(|st| st.answers_to(name)) {
                    let known = streets
                        .iter()
                        .map(|x| format!("{} ({})", x.name_en, x.name))
                        .collect::<Vec<_>>();
                    problems.push(s.problem(
                        &format!("surge[{i}].streets[{j}]"),
                        format!(
                            "unknown street {name:?}; expected one of {}",
                            known.join(", ")
                        ),
                    ));
                }
            }
        }
        problems
    }

    pub fn from_scenario(s: &Scenario, district: &District) -> Result<GridConfig, Vec<Problem>> {
        let problems = Self::unknown_streets(s, &district.street_names());
        if !problems.is_empty() {
            return Err(problems);
        }
        let mut surges = Vec::new();
        for surge in s.surges.iter().filter(|x| x.target == NAME) {
            let mut mask = vec![surge.streets.is_empty(); district.streets.len()];
            for name in &surge.streets {
                if let Some(street) = district.street_by_name(name) {
                    mask[street.id as usize] = true;
                }
            }
            surges.push(SurgeWindow {
                start_ms: surge.start.ms(),
                end_ms: surge.end.ms(),
                streets: mask,
                multiplier: surge.multiplier,
            });
        }
        let g = &s.grid;
        Ok(GridConfig {
            items_per_grid_per_day: if g.enabled {
                g.items_per_grid_per_day
            } else {
                0.0
            },
            hourly: g.hourly_weights(),
            hotline_share: g.hotline_share,
            hotline_delay_ms: g.hotline_delay.ms(),
            on_spot_share: g.on_spot_share,
            rework_share: g.rework_share,
            resolver_staffing: g.resolver_staffing,
            shifts: g
                .patrol
                .shifts
                .iter()
                .map(|[a, b]| (a.ms(), b.ms()))
                .collect(),
            sweep_ms: g.patrol.sweep.ms(),
            detect_probability: g.patrol.detect_probability,
            report_delay_ms: g.patrol.report_delay.ms(),
            surges,
            end_ms: s.duration.ms(),
            backlog_every_ms: s.output.backlog_every.ms(),
            supervision: g
                .supervision
                .enabled
                .then_some(g.supervision.act_within.ms()),
            resolve_retry_ms: (s.assumption(&baoan_scenarios::assumptions::code::RESOLVE_RETRY)
                * 1000.0) as u64,
        })
    }

    /// The surge multiplier in force at `t` in a street.
    pub fn multiplier(&self, t: u64, street: u32) -> f64 {
        self.surges
            .iter()
            .filter(|w| t >= w.start_ms && t < w.end_ms && w.streets[street as usize])
            .map(|w| w.multiplier)
            .product()
    }
}

/// Mean minutes a resolver spends on site, by urgency (urgent first).
pub const HANDLING_MEDIAN_MIN: [f64; 4] = [30.0, 45.0, 60.0, 60.0];

/// Resolvers per community and department, from the load the scenario implies: expected tasks a
/// day × time each takes (travel, handling) over a working day at 75% utilisation, at least one.
pub fn staffing(config: &GridConfig, district: &District) -> Vec<ResolverEntry> {
    let types = catalogue::item_types();
    let total_weight: f64 = types.iter().map(|t| t.weight).sum();
    let mut share: BTreeMap<Department, f64> = BTreeMap::new();
    let mut busy_h: BTreeMap<Department, f64> = BTreeMap::new();
    for t in types {
        let dispatched = if t.on_spot {
            1.0 - config.on_spot_share * 0.9
        } else {
            1.0
        };
        let w = t.weight / total_weight * dispatched;
        *share.entry(t.department).or_default() += w;
        let handling_h = HANDLING_MEDIAN_MIN[t.urgency as usize] * 1.13 / 60.0;
        *busy_h.entry(t.department).or_default() +=
            w * (handling_h + 0.35) * (1.0 + config.rework_share);
    }
    let mut out = Vec::new();
    for c in &district.communities {
        let grids = c.grids.len() as f64;
        for dept in Department::ALL {
            let load_h =
                grids * config.items_per_grid_per_day * busy_h.get(&dept).copied().unwrap_or(0.0);
            let working_h = (WORK_END_MS - WORK_START_MS) as f64 / 3_600_000.0 * 0.75;
            let n = ((load_h / working_h) * config.resolver_staffing)
                .ceil()
                .max(1.0) as u32;
            for _ in 0..n {
                out.push(ResolverEntry {
                    person: staff::resolver(out.len() as u32),
                    department: dept,
                    community: c.id,
                    street: c.street,
                });
            }
        }
    }
    out
}

/// The directory the platform is loaded with: one inspector per grid, with the nearest grids of
/// the same community as stand-in verifiers, and the resolvers.
pub fn directory(district: &District, resolvers: &[ResolverEntry]) -> Directory {
    let grids = district
        .grids
        .iter()
        .map(|g| {
            let community = &district.communities[g.community as usize];
            let mut near: Vec<(u64, u32)> = community
                .grids
                .clone()
                .filter(|&o| o != g.id)
                .map(|o| {
                    let s = district.grids[o as usize].site;
                    (
                        ((s.x - g.site.x).powi(2) + (s.y - g.site.y).powi(2)) as u64,
                        o,
                    )
                })
                .collect();
            near.sort_unstable();
            GridEntry {
                grid: g.id,
                community: g.community,
                street: g.street,
                inspector: staff::inspector(g.id),
                neighbours: near.into_iter().take(4).map(|(_, o)| o).collect(),
            }
        })
        .collect();
    Directory {
        grids,
        resolvers: resolvers.to_vec(),
    }
}

/// The grid loop's systems in one stage of a tick, in the kernel's chain of loops.
fn step(stage: SimSet) -> LoopSet {
    LoopSet::new(NAME, stage)
}

/// Order of the grid loop's actors within a tick: items occur (and residents call), then
/// inspectors act, then resolvers — so a run never depends on how Bevy would order them.
#[derive(SystemSet, Debug, Clone, PartialEq, Eq, Hash)]
pub enum GridStep {
    Items,
    Inspectors,
    Resolvers,
}

/// Items occurring in grids (the truth) and residents' hotline calls about them.
pub struct GridItemsPlugin;

impl Plugin for GridItemsPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<GridTruth>()
            .init_resource::<Agenda<TruthAction>>()
            .add_systems(
                Update,
                (truth::plant_items, truth::occur_and_call)
                    .chain()
                    .in_set(step(SimSet::Agents))
                    .in_set(GridStep::Items),
            );
    }
}

/// One inspector per grid: patrols, reports, fixes small things, verifies others' fixes.
pub struct InspectorPlugin;

impl Plugin for InspectorPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<Agenda<InspectorAction>>()
            .add_systems(Startup, spawn_inspectors)
            .add_systems(
                Update,
                inspectors::hear_outcomes.in_set(step(SimSet::Inputs)),
            )
            .add_systems(
                Update,
                inspectors::patrol_and_verify
                    .in_set(step(SimSet::Agents))
                    .in_set(GridStep::Inspectors),
            );
    }
}

/// The departments' resolvers: accept, travel, fix, report resolved.
pub struct ResolverPlugin;

impl Plugin for ResolverPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<Agenda<ResolverAction>>()
            .add_systems(Startup, spawn_resolvers)
            .add_systems(
                Update,
                resolvers::hear_outcomes.in_set(step(SimSet::Inputs)),
            )
            .add_systems(
                Update,
                resolvers::work
                    .in_set(step(SimSet::Agents))
                    .in_set(GridStep::Resolvers),
            );
    }
}

/// The twin's ledger of the loop: outcomes folded in right after the bridge (so the last tick's
/// are never left unread), and the backlog sampled.
pub struct GridRecordPlugin;

impl Plugin for GridRecordPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<GridLedger>().add_systems(
            Update,
            (record::take_outcomes, record::sample_backlog)
                .chain()
                .in_set(step(SimSet::Record)),
        );
    }
}

/// The whole grid loop: its settings, the platform's directory, and the four plugins above.
pub struct GridLoopPlugin {
    pub config: GridConfig,
}

impl Plugin for GridLoopPlugin {
    fn build(&self, app: &mut App) {
        app.insert_resource(self.config.clone())
            .configure_sets(
                Update,
                (GridStep::Items, GridStep::Inspectors, GridStep::Resolvers).chain(),
            )
            .add_plugins((
                GridItemsPlugin,
                InspectorPlugin,
                ResolverPlugin,
                GridRecordPlugin,
            ))
            .add_systems(
                Startup,
                load_directory
                    .after(spawn_resolvers)
                    .after(spawn_inspectors),
            );
    }
}

fn spawn_inspectors(mut commands: Commands, twin: Res<Twin>) {
    let inspectors: Vec<Entity> = twin
        .district
        .grids
        .iter()
        .map(|g| {
            commands
                .spawn(Inspector {
                    person: staff::inspector(g.id),
                    grid: g.id,
                })
                .id()
        })
        .collect();
    commands.insert_resource(Inspectors(inspectors));
}

fn spawn_resolvers(mut commands: Commands, twin: Res<Twin>, config: Res<GridConfig>) {
    let district = &twin.district;
    let entries = staffing(&config, district);
    let resolvers: Vec<Entity> = entries
        .iter()
        .map(|e| {
            let base = district.communities[e.community as usize].grids.start;
            commands
                .spawn(Resolver::new(e.person, e.department, e.community, base))
                .id()
        })
        .collect();
    commands.insert_resource(Resolvers {
        entities: resolvers,
        entries,
    });
}

fn load_directory(twin: Res<Twin>, resolvers: Res<Resolvers>, mut door: StackDoor) {
    let command = Command::LoadDirectory {
        directory: directory(&twin.district, &resolvers.entries),
    };
    door.record(
        0,
        "directory",
        &serde_json::json!({"grids": twin.district.grids.len(), "resolvers": resolvers.entries.len()}),
    );
    // Without a directory nothing can be dispatched: a refusal is journaled and counted by the
    // bridge, and the run's report shows the consequences.
    let _ = door.call(0, staff::ADMIN, command, TAG_SETUP);
}
