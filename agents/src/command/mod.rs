//! The command loop's actors: emergencies of the 32 types (the truth), callers, the units of the
//! "1-3-5" rule — 100,000 volunteer guards at their buildings, auxiliary police and police at
//! the 161 posts of the 92 key areas and on patrol — and the departments' crews at their
//! stations. Units move on the twin's travel times, slowed or cut off by disruptions.

mod centres;
mod definition;
mod place;
pub mod record;

use std::collections::HashMap;

use baoan_api::emergency::{self, Category, Severity};
use baoan_api::{
    Actor, Command, CommandDirectory, Envelope, IncidentId, IncidentSource, Outcome, PersonId,
    Role, UnitClass, UnitId,
};
use baoan_scenarios::{Problem, Scenario};
use baoan_world::bridge::{FromStack, StackDoor, ToStack};
use baoan_world::kernel::{Agenda, Journal, LoopSet, SimClock, SimSet, Streams, hour_of_day};
use baoan_world::pack::StreetName;
use baoan_world::proj::Crs;
use baoan_world::{Mode, Twin};
use bevy_app::{App, Plugin, Startup, Update};
use bevy_ecs::prelude::*;
use geo::Coord;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Exp, LogNormal, Poisson};

pub use definition::{Definition, NAME};
pub use place::{Placement, PostsError, UnitSpec, place, read_posts_csv};
pub use record::{CommandLedger, CommandOutcome, TierRow, finish, take_outcomes, tiers_of};

use crate::handoff::{LeadProgress, PoliceLead};
use crate::staff;
use crate::video::VideoNetwork;
use centres::CentreStaff;

pub use baoan_api::emergency::FIRE_TYPES;

/// client_ref tags, so the ledger knows which command an outcome answers.
pub const TAG_REPORT: u64 = crate::registry::tags::COMMAND.tag(0);
pub const TAG_DECLINE: u64 = crate::registry::tags::COMMAND.tag(1);
pub const TAG_AVAILABLE: u64 = crate::registry::tags::COMMAND.tag(2);
pub const TAG_OTHER: u64 = crate::registry::tags::COMMAND.tag(3);
/// The command directory, sent before the run.
pub const TAG_SETUP: u64 = crate::registry::tags::COMMAND.tag(4);
/// A duty leader taking command (the held units' dispatches answer it).
pub const TAG_LEADER: u64 = crate::registry::tags::COMMAND.tag(5);
pub use crate::registry::TAG_MASK;

/// A command surge resolved against the district.
#[derive(Debug, Clone)]
pub struct CommandSurge {
    pub start_ms: u64,
    pub end_ms: u64,
    pub streets: Vec<bool>,
    pub categories: Vec<Category>,
    pub key_areas_only: bool,
    pub multiplier: f64,
}

#[derive(Debug, Clone)]
pub struct DisruptionWindow {
    pub start_ms: u64,
    pub end_ms: u64,
    pub streets: Vec<bool>,
    pub travel_multiplier: f64,
    pub unreachable: bool,
}

#[derive(Resource, Debug, Clone)]
pub struct CommandConfig {
    pub enabled: bool,
    pub incidents_per_day: f64,
    pub call_delay_ms: u64,
    pub volunteer_decline_share: f64,
    pub volunteers: u32,
    pub posts: u32,
    pub key_areas: u32,
    pub posts_csv: Option<(String, String)>,
    /// The datum of the posts file's lon,lat (`command.posts_crs`, or `--crs`).
    pub posts_crs: Crs,
    pub surges: Vec<CommandSurge>,
    pub disruptions: Vec<DisruptionWindow>,
    pub end_ms: u64,
    pub scale: f64,
    /// 四员联动: post units take traffic and first fire response too.
    pub four_duties: bool,
    /// The centres' staff and times (call-takers scaled with the district).
    pub centres: baoan_scenarios::Centres,
    /// The loop's numbers from the scenario's assumptions (`twin assumptions`).
    pub assumed: Assumed,
}

/// The command loop's code assumptions, read once from the scenario.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Assumed {
    /// Dispatch to setting off, seconds: volunteer, auxiliary police, police, fire and medical,
    /// hazmat and flood crews.
    pub turnout_s: [f64; 5],
    /// Spread of the centres' handling times around their medians (lognormal σ).
    pub handling_sigma: f64,
    /// Share of emergencies during patrol hours that the grid's inspector reports first.
    pub inspector_reported_share: f64,
    /// Mean wait of a further call after the first.
    pub extra_call_spread_ms: f64,
}

impl Assumed {
    pub fn of(s: &Scenario) -> Assumed {
        use baoan_scenarios::assumptions::code as a;
        Assumed {
            turnout_s: [
                s.assumption(&a::TURNOUT_VOLUNTEER),
                s.assumption(&a::TURNOUT_AUXILIARY),
                s.assumption(&a::TURNOUT_POLICE),
                s.assumption(&a::TURNOUT_FIRE_MEDICAL),
                s.assumption(&a::TURNOUT_HAZMAT_FLOOD),
            ],
            handling_sigma: s.assumption(&a::HANDLING_SIGMA),
            inspector_reported_share: s.assumption(&a::INSPECTOR_REPORTED_SHARE),
            extra_call_spread_ms: s.assumption(&a::EXTRA_CALL_SPREAD) * 1000.0,
        }
    }

    /// Seconds from a unit's dispatch to its setting off.
    pub fn turnout_s(&self, class: UnitClass) -> f64 {
        self.turnout_s[match class {
            UnitClass::Volunteer => 0,
            UnitClass::AuxiliaryPolice => 1,
            UnitClass::Police => 2,
            UnitClass::Fire | UnitClass::Medical => 3,
            UnitClass::Hazmat | UnitClass::Flood => 4,
        }]
    }
}

fn street_mask(
    s: &Scenario,
    field: &str,
    names: &[String],
    streets: &[StreetName],
    problems: &mut Vec<Problem>,
) -> Vec<bool> {
    let mut mask = vec![names.is_empty(); streets.len()];
    for (j, name) in names.iter().enumerate() {
        match streets.iter().position(|st| st.answers_to(name)) {
            Some(i) => mask[i] = true,
            None => problems
                .push(s.problem(&format!("{field}[{j}]"), format!("unknown street {name:?}"))),
        }
    }
    mask
}

impl CommandConfig {
    /// The command loop's settings, with street names (the district's `streets`) and a
    /// planner's posts file checked.
    pub fn from_scenario(
        s: &Scenario,
        streets: &[StreetName],
    ) -> Result<CommandConfig, Vec<Problem>> {
        let mut problems = Vec::new();
        let mut surges = Vec::new();
        for (i, surge) in s
            .surges
            .iter()
            .enumerate()
            .filter(|(_, x)| x.target == NAME)
        {
            let streets = street_mask(
                s,
                &format!("surge[{i}].streets"),
                &surge.streets,
                streets,
                &mut problems,
            );
            let categories = surge
                .categories
                .iter()
                .filter_map(|c| Category::parse(c))
                .collect();
            surges.push(CommandSurge {
                start_ms: surge.start.ms(),
                end_ms: surge.end.ms(),
                streets,
                categories,
                key_areas_only: surge.key_areas_only,
                multiplier: surge.multiplier,
            });
        }
        let mut disruptions = Vec::new();
        for (i, d) in s.disruptions.iter().enumerate() {
            let streets = street_mask(
                s,
                &format!("disruption[{i}].streets"),
                &d.streets,
                streets,
                &mut problems,
            );
            disruptions.push(DisruptionWindow {
                start_ms: d.start.ms(),
                end_ms: d.end.ms(),
                streets,
                travel_multiplier: d.travel_multiplier,
                unreachable: d.unreachable,
            });
        }
        let posts_csv = match &s.command.posts_csv {
            None => None,
            Some(path) => {
                // Relative to the scenario file, as a planner would expect.
                let base = std::path::Path::new(&s.source.file)
                    .parent()
                    .unwrap_or(std::path::Path::new("."));
                let full = base.join(path);
                match std::fs::read_to_string(&full) {
                    Ok(text) => Some((full.display().to_string(), text)),
                    Err(e) => {
                        problems.push(s.problem(
                            "command.posts_csv",
                            format!("cannot read {}: {e}", full.display()),
                        ));
                        None
                    }
                }
            }
        };
        let posts_crs = s.command.posts_crs.parse::<Crs>().unwrap_or_else(|e| {
            problems.push(s.problem("command.posts_crs", e.to_string()));
            Crs::Wgs84
        });
        if !problems.is_empty() {
            return Err(problems);
        }
        let c = &s.command;
        Ok(CommandConfig {
            enabled: c.enabled,
            incidents_per_day: c.incidents_per_day,
            call_delay_ms: c.call_delay.ms(),
            volunteer_decline_share: c.volunteer_decline_share,
            volunteers: c.volunteers,
            posts: c.posts,
            key_areas: c.key_areas,
            posts_csv,
            posts_crs,
            surges,
            disruptions,
            end_ms: s.duration.ms(),
            scale: s.scale,
            four_duties: c.four_duties,
            centres: baoan_scenarios::Centres {
                call_takers_day: scaled_staff(c.centres.call_takers_day, s.scale),
                call_takers_night: scaled_staff(c.centres.call_takers_night, s.scale),
                ..c.centres.clone()
            },
            assumed: Assumed::of(s),
        })
    }
}

/// Staff at scale: the district's figure times the scale, at least one.
fn scaled_staff(n: u32, scale: f64) -> u32 {
    ((n as f64 * scale).round() as u32).max(1)
}

impl CommandConfig {
    /// Travel-time multiplier for a trip leaving at `t` from or to a street.
    pub fn slowdown(&self, t: u64, streets: &[u32]) -> f64 {
        self.disruptions
            .iter()
            .filter(|d| {
                t >= d.start_ms && t < d.end_ms && streets.iter().any(|&s| d.streets[s as usize])
            })
            .map(|d| d.travel_multiplier)
            .fold(1.0, f64::max)
    }

    /// If the street is cut off at `t`, when it opens again.
    pub fn cut_off_until(&self, t: u64, street: u32) -> Option<u64> {
        self.disruptions
            .iter()
            .filter(|d| {
                d.unreachable && t >= d.start_ms && t < d.end_ms && d.streets[street as usize]
            })
            .map(|d| d.end_ms)
            .max()
    }
}

/// A unit in the twin: what it is, where it lives, when it is on duty.
#[derive(Component, Debug, Clone)]
pub struct Unit {
    pub id: UnitId,
    pub spec: UnitSpec,
    pub busy_since: Option<u64>,
    pub busy_ms: u64,
    pub incident: Option<IncidentId>,
}

#[derive(Resource, Debug, Default)]
pub struct Units {
    pub entities: Vec<Entity>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CommandAction {
    Occur {
        kind: u16,
        grid: u32,
        x: f64,
        y: f64,
        severity: usize,
    },
    Call {
        key: u64,
    },
    /// Someone else calls about an emergency already called in: a call-taker's time.
    ExtraCall,
    /// A lookout's operator sees smoke, fire or a crowd building.
    Sighted {
        key: u64,
    },
    /// A call-taker (or a lookout's operator) has entered it: the platform hears of it now.
    Enter {
        key: u64,
        source: IncidentSource,
    },
    /// The lead centre (its dispatcher, or a duty leader) takes command: department units go.
    TakeCommand {
        incident: IncidentId,
        by: Actor,
    },
    Decline {
        unit: UnitId,
        incident: IncidentId,
    },
    Arrive {
        unit: UnitId,
        incident: IncidentId,
    },
    Clear {
        unit: UnitId,
        incident: IncidentId,
    },
    /// Back at base (or coming on or off duty).
    /// A volunteer's daily duty change; it schedules the same change a day later.
    Shift {
        unit: UnitId,
        available: bool,
    },
    Available {
        unit: UnitId,
        available: bool,
    },
}

/// Other loops' calls for police, folded in before this tick's outcomes are: the incident the
/// stack opens for a lead finds its truth waiting.
fn take_police_leads(
    mut leads: MessageReader<PoliceLead>,
    mut em: ResMut<Emergencies>,
    mut ledger: ResMut<CommandLedger>,
) {
    for lead in leads.read() {
        match *lead {
            PoliceLead::Expected {
                key,
                grid,
                x,
                y,
                occurred_at,
            } => {
                em.truth.insert(
                    key,
                    Truth {
                        kind: baoan_api::WATCHLIST_LEAD,
                        severity: baoan_api::emergency::Severity::IV,
                        grid,
                        x,
                        y,
                        occurred_at,
                    },
                );
            }
            PoliceLead::Withdrawn { key } => {
                em.truth.remove(&key);
            }
        }
        ledger.police_lead(lead);
    }
}

/// What the twin knows of each emergency (the truth, and the ids the stack gave it).
#[derive(Resource, Default)]
pub struct Emergencies {
    pub next_key: u64,
    pub truth: HashMap<u64, Truth>,
    pub by_incident: HashMap<IncidentId, u64>,
    cumulative_grid: Vec<f64>,
    cumulative_grid_crowd: Vec<f64>,
    rng: Option<ChaCha8Rng>,
    unit_rng: Option<ChaCha8Rng>,
    lookout_rng: Option<ChaCha8Rng>,
    extra_call_rng: Option<ChaCha8Rng>,
    /// Units dispatched to an incident whose place the twin did not know when they heard of
    /// it: they cannot set off (another loop's lead reached command too late).
    pub blind_dispatches: u64,
}

#[derive(Debug, Clone)]
pub struct Truth {
    pub kind: u16,
    pub severity: Severity,
    pub grid: u32,
    pub x: f64,
    pub y: f64,
    pub occurred_at: u64,
}

/// The command loop's systems in one stage of a tick, in the kernel's chain of loops.
fn step(stage: SimSet) -> LoopSet {
    LoopSet::new(NAME, stage)
}

pub struct CommandLoopPlugin {
    pub config: CommandConfig,
    pub placement: Placement,
}

impl Plugin for CommandLoopPlugin {
    fn build(&self, app: &mut App) {
        app.insert_resource(self.config.clone())
            .insert_resource(self.placement.clone())
            .init_resource::<Emergencies>()
            .init_resource::<CommandLedger>()
            .init_resource::<Units>()
            .init_resource::<Agenda<CommandAction>>()
            .add_message::<PoliceLead>()
            .add_message::<LeadProgress>()
            .add_systems(
                Startup,
                (spawn_units, load_command_directory, staff_the_centres).chain(),
            )
            .add_systems(Update, hear_outcomes.in_set(step(SimSet::Inputs)))
            .add_systems(
                Update,
                (emergencies_arise, act)
                    .chain()
                    .in_set(step(SimSet::Agents)),
            )
            .add_systems(
                Update,
                (take_police_leads, record::take_outcomes)
                    .chain()
                    .in_set(step(SimSet::Record)),
            );
    }
}

fn spawn_units(
    mut commands: Commands,
    config: Res<CommandConfig>,
    placement: Res<Placement>,
    mut agenda: ResMut<Agenda<CommandAction>>,
) {
    let mut entities = Vec::with_capacity(placement.units.len());
    for (i, spec) in placement.units.iter().enumerate() {
        let id = UnitId(i as u32 + 1);
        // Volunteers come on and off duty by their daily rhythm, and a post's traffic officer
        // goes to and from the rush-hour traffic, as the stack is told. Only the first of each
        // day's changes is scheduled; each schedules the next day's, so the agenda holds a
        // unit's few daily changes however long the run.
        for (at, available) in spec.daily_changes() {
            if at > 0 && at < config.end_ms {
                agenda.schedule(
                    at,
                    CommandAction::Shift {
                        unit: id,
                        available,
                    },
                );
            }
        }
        entities.push(
            commands
                .spawn(Unit {
                    id,
                    spec: spec.clone(),
                    busy_since: None,
                    busy_ms: 0,
                    incident: None,
                })
                .id(),
        );
    }
    commands.insert_resource(Units { entities });
}

fn load_command_directory(
    twin: Res<Twin>,
    config: Res<CommandConfig>,
    placement: Res<Placement>,
    mut door: StackDoor,
) {
    let directory = CommandDirectory {
        grids: twin
            .district
            .grids
            .iter()
            .map(|g| (g.community, g.street))
            .collect(),
        units: placement
            .units
            .iter()
            .enumerate()
            .map(|(i, u)| baoan_api::UnitEntry {
                unit: UnitId(i as u32 + 1),
                class: u.class,
                x_m: u.home.x,
                y_m: u.home.y,
                grid: u.grid,
                on_duty: u.on_duty_at(0),
            })
            .collect(),
        leaders: leaders(&twin),
        departments_wait: config.centres.enabled && config.centres.departments_wait,
        four_duties: config.four_duties,
    };
    door.record(
        0,
        "command_directory",
        &serde_json::json!({"units": directory.units.len(), "leaders": directory.leaders.len()}),
    );
    // A refusal is journaled and counted by the bridge; no unit can be dispatched then.
    let _ = door.call(
        0,
        staff::ADMIN,
        Command::LoadCommandDirectory { directory },
        TAG_SETUP,
    );
    // With real roads, the stack estimates arrivals on the same graph the twin drives on
    // (vehicles' roads: one-ways kept).
    if let Some(graph) = &twin.roads {
        let network = graph.network(Mode::Car);
        door.record(
            0,
            "road_network",
            &serde_json::json!({"nodes": network.nodes.len(), "arcs": network.arcs.len()}),
        );
        let _ = door.call(
            0,
            staff::ADMIN,
            Command::LoadRoadNetwork { network },
            TAG_SETUP,
        );
    }
}

/// The centres' call-takers, dispatchers and leaders (the same roster the platform was given).
fn staff_the_centres(
    mut commands: Commands,
    twin: Res<Twin>,
    config: Res<CommandConfig>,
    streams: Res<Streams>,
) {
    commands.insert_resource(CentreStaff::new(
        config.centres.clone(),
        config.assumed.handling_sigma,
        &leaders(&twin),
        streams.0.stream("command/centres"),
    ));
}

/// Six leaders per district and street centre, two on duty in each eight-hour shift.
fn leaders(twin: &Twin) -> Vec<baoan_api::LeaderEntry> {
    let mut out = Vec::new();
    let centres = std::iter::once(baoan_api::Centre::District).chain(
        twin.district
            .streets
            .iter()
            .map(|s| baoan_api::Centre::Street(s.id)),
    );
    for (c, centre) in centres.enumerate() {
        for k in 0..6 {
            out.push(baoan_api::LeaderEntry {
                person: PersonId(5_000_000 + c as u32 * 10 + k),
                centre,
            });
        }
    }
    out
}

/// Expected emergencies per grid per day, and their share by hour of day, as the scenario's
/// rates imply: what a planner covers. Uses the same spatial model as the simulation
/// (residents, with social-security incidents drawn four times as much to key areas).
pub fn expected_demand(
    twin: &Twin,
    config: &CommandConfig,
    placement: &Placement,
) -> (Vec<f64>, [f64; 24]) {
    let grids = &twin.district.grids;
    let residents: Vec<f64> = grids
        .iter()
        .map(|g| twin.population.residents_of_grid(g.id).len() as f64 + 1.0)
        .collect();
    let crowd: Vec<f64> = grids
        .iter()
        .map(|g| {
            residents[g.id as usize]
                * if placement.key_area_grid[g.id as usize] {
                    4.0
                } else {
                    1.0
                }
        })
        .collect();
    let (sum_r, sum_c): (f64, f64) = (residents.iter().sum(), crowd.iter().sum());
    let types = emergency::emergency_types();
    let total_weight: f64 = types.iter().map(|t| t.weight).sum();
    let per_day = config.incidents_per_day * config.scale;
    let mut demand = vec![0.0; grids.len()];
    let mut hours = [0.0; 24];
    for t in types {
        let rate = per_day * t.weight / total_weight;
        let social = t.category == Category::SocialSecurity;
        for (g, d) in demand.iter_mut().enumerate() {
            *d += rate
                * if social {
                    crowd[g] / sum_c
                } else {
                    residents[g] / sum_r
                };
        }
        let profile = baoan_scenarios::profile_weights(if t.profile == "night" {
            "evening"
        } else {
            t.profile.as_str()
        });
        let mean = profile.iter().sum::<f64>() / 24.0;
        for (h, w) in hours.iter_mut().enumerate() {
            *w += rate * profile[h] / mean / 24.0;
        }
    }
    let total: f64 = hours.iter().sum();
    if total > 0.0 {
        for w in &mut hours {
            *w /= total;
        }
    }
    (demand, hours)
}

/// Each simulated hour: this hour's emergencies of every type (Poisson, thinned for surges).
fn emergencies_arise(
    clock: Res<SimClock>,
    twin: Res<Twin>,
    config: Res<CommandConfig>,
    streams: Res<Streams>,
    placement: Res<Placement>,
    mut em: ResMut<Emergencies>,
    mut agenda: ResMut<Agenda<CommandAction>>,
) {
    if !config.enabled || !clock.now_ms.is_multiple_of(3_600_000) || config.incidents_per_day <= 0.0
    {
        return;
    }
    let em = &mut *em;
    let district = &twin.district;
    if em.rng.is_none() {
        em.rng = Some(streams.0.stream("command/emergencies"));
        em.unit_rng = Some(streams.0.stream("command/units"));
        em.lookout_rng = Some(streams.0.stream("command/lookouts"));
        em.extra_call_rng = Some(streams.0.stream("command/extra-calls"));
        let mut acc = 0.0;
        em.cumulative_grid = district
            .grids
            .iter()
            .map(|g| {
                acc += twin.population.residents_of_grid(g.id).len() as f64 + 1.0;
                acc
            })
            .collect();
        let mut acc = 0.0;
        em.cumulative_grid_crowd = district
            .grids
            .iter()
            .map(|g| {
                let crowd = if placement.key_area_grid[g.id as usize] {
                    4.0
                } else {
                    1.0
                };
                acc += (twin.population.residents_of_grid(g.id).len() as f64 + 1.0) * crowd;
                acc
            })
            .collect();
    }
    let rng = em.rng.as_mut().expect("set above");
    let types = emergency::emergency_types();
    let total_weight: f64 = types.iter().map(|t| t.weight).sum();
    let hour_start = clock.now_ms;
    let hour_end = (hour_start + 3_600_000).min(config.end_ms);
    let span = hour_end - hour_start;
    let per_day = config.incidents_per_day * config.scale;
    for t in types {
        let profile = baoan_scenarios::profile_weights(match t.profile.as_str() {
            "night" => "evening",
            p => p,
        });
        let mean = profile.iter().sum::<f64>() / 24.0;
        let shape = profile[clock.hour_of_day()] / mean;
        let applicable =
            |s: &CommandSurge| s.categories.is_empty() || s.categories.contains(&t.category);
        let peak: f64 = config
            .surges
            .iter()
            .filter(|s| s.start_ms < hour_end && s.end_ms > hour_start && applicable(s))
            .map(|s| s.multiplier.max(1.0))
            .product();
        let lambda =
            per_day * t.weight / total_weight / 24.0 * shape * peak * span as f64 / 3_600_000.0;
        if lambda <= 0.0 {
            continue;
        }
        let n = Poisson::new(lambda).expect("positive").sample(rng) as u64;
        let crowd = t.category == Category::SocialSecurity;
        let weights = if crowd {
            &em.cumulative_grid_crowd
        } else {
            &em.cumulative_grid
        };
        let mut planned = Vec::new();
        for _ in 0..n {
            let at = hour_start + rng.random_range(0..span);
            let u = rng.random::<f64>() * weights.last().copied().unwrap_or(0.0);
            let grid = weights.partition_point(|&c| c <= u).min(weights.len() - 1) as u32;
            let g = &district.grids[grid as usize];
            let m: f64 = config
                .surges
                .iter()
                .filter(|s| {
                    at >= s.start_ms
                        && at < s.end_ms
                        && applicable(s)
                        && s.streets[g.street as usize]
                })
                .filter(|s| !s.key_areas_only || placement.key_area_grid[grid as usize])
                .map(|s| s.multiplier)
                .product();
            if rng.random::<f64>() * peak >= m {
                continue;
            }
            let sev_u = rng.random::<f64>() * t.severity_weights.iter().sum::<f64>();
            let mut acc = 0.0;
            let severity = t.severity_weights.iter().position(|w| {
                acc += w;
                sev_u < acc
            });
            let point = random_point(g, rng);
            planned.push((
                at,
                CommandAction::Occur {
                    kind: t.code,
                    grid,
                    x: point.x,
                    y: point.y,
                    severity: severity.unwrap_or(3),
                },
            ));
        }
        for (at, action) in planned {
            agenda.schedule(at, action);
        }
    }
}

/// A uniformly random point inside a grid (its site if fifty tries miss).
fn random_point(g: &baoan_world::geography::Grid, rng: &mut ChaCha8Rng) -> Coord<f64> {
    g.random_point(rng)
}

/// How a class travels and how long it takes to set off (seconds): the twin's truth.
pub fn mode_of(class: UnitClass) -> Mode {
    match class {
        UnitClass::Volunteer => Mode::Walk,
        UnitClass::AuxiliaryPolice => Mode::EBike,
        UnitClass::Police
        | UnitClass::Fire
        | UnitClass::Medical
        | UnitClass::Hazmat
        | UnitClass::Flood => Mode::Car,
    }
}

/// Department units wait for the lead centre: a level I or II incident for the first free duty
/// leader (see `CentreStaff::leader_for`), the rest for the lead centre's dispatcher.
#[allow(clippy::too_many_arguments)]
fn take_command(
    at: u64,
    incident: IncidentId,
    leader: bool,
    twin: &Twin,
    em: &Emergencies,
    staff_at: &mut CentreStaff,
    ledger: &mut CommandLedger,
    agenda: &mut Agenda<CommandAction>,
) {
    let Some(t) = em.by_incident.get(&incident).and_then(|k| em.truth.get(k)) else {
        return;
    };
    let g = &twin.district.grids[t.grid as usize];
    let (by, when) = if leader {
        let Some((person, seat, when)) = staff_at.leader_for(at, g.street) else {
            return;
        };
        ledger.leader_chosen(seat);
        let actor = Actor {
            role: Role::DutyLeader,
            person,
        };
        (actor, when)
    } else {
        let centre = centres::lead_of(t.kind, t.severity, g.community, g.street);
        (staff::HOTLINE, staff_at.dispatch(at, centre))
    };
    agenda.schedule(when, CommandAction::TakeCommand { incident, by });
}

/// Dispatches become trips (or declines); everything else is the ledger's.
fn hear_outcomes(
    twin: Res<Twin>,
    config: Res<CommandConfig>,
    units: Res<Units>,
    mut staff_at: ResMut<CentreStaff>,
    mut ledger: ResMut<CommandLedger>,
    mut em: ResMut<Emergencies>,
    mut people: Query<&mut Unit>,
    mut outcomes: MessageReader<FromStack>,
    mut agenda: ResMut<Agenda<CommandAction>>,
) {
    let em = &mut *em;
    for msg in outcomes.read() {
        if let Outcome::AwaitingCommand {
            incident, leader, ..
        } = &msg.outcome
        {
            take_command(
                msg.at,
                *incident,
                *leader,
                &twin,
                em,
                &mut staff_at,
                &mut ledger,
                &mut agenda,
            );
            continue;
        }
        let Outcome::UnitDispatched {
            incident,
            unit,
            class,
            ..
        } = &msg.outcome
        else {
            continue;
        };
        let Some(&entity) = units.entities.get(unit.0 as usize - 1) else {
            continue;
        };
        let Ok(mut u) = people.get_mut(entity) else {
            continue;
        };
        let Some(key) = em.by_incident.get(incident) else {
            em.blind_dispatches += 1;
            continue;
        };
        let Some(truth) = em.truth.get(key) else {
            em.blind_dispatches += 1;
            continue;
        };
        let rng = em
            .unit_rng
            .as_mut()
            .expect("initialised with the first emergencies");
        // The trip starts when the dispatch was made, not at the next tick: a tick must never
        // eat into a one-minute limit.
        let start = msg.at;
        u.incident = Some(*incident);
        u.busy_since = Some(start);
        if *class == UnitClass::Volunteer && rng.random::<f64>() < config.volunteer_decline_share {
            agenda.schedule(
                start + rng.random_range(10_000..40_000),
                CommandAction::Decline {
                    unit: *unit,
                    incident: *incident,
                },
            );
            continue;
        }
        let mode = mode_of(*class);
        let turnout_s = config.assumed.turnout_s(*class);
        let to = Coord {
            x: truth.x,
            y: truth.y,
        };
        let hour = hour_of_day(start);
        let street_from = twin.district.grids[u.spec.grid as usize].street;
        let street_to = twin.district.grids[truth.grid as usize].street;
        let slow = config.slowdown(start, &[street_from, street_to]);
        let travel_s =
            twin.travel
                .seconds_between(mode, u.spec.grid, u.spec.home, truth.grid, to, hour)
                * slow;
        let mut arrive = start + ((turnout_s + travel_s) * 1000.0) as u64;
        if let Some(open_at) = config.cut_off_until(start, street_to) {
            arrive = arrive.max(open_at + (travel_s * 1000.0) as u64);
        }
        let depart = (start + (turnout_s * 1000.0) as u64).min(arrive);
        let from = (u.spec.home.x, u.spec.home.y);
        ledger.trip(*class, from, (truth.x, truth.y), depart, arrive);
        agenda.schedule(
            arrive,
            CommandAction::Arrive {
                unit: *unit,
                incident: *incident,
            },
        );
    }
}

/// Emergencies occur and are called in; units arrive, work, clear, go home, change shift.
fn act(
    clock: Res<SimClock>,
    twin: Res<Twin>,
    config: Res<CommandConfig>,
    video: Res<VideoNetwork>,
    units: Res<Units>,
    mut staff_at: ResMut<CentreStaff>,
    mut em: ResMut<Emergencies>,
    mut people: Query<&mut Unit>,
    mut ledger: ResMut<CommandLedger>,
    mut journal: ResMut<Journal>,
    mut agenda: ResMut<Agenda<CommandAction>>,
    mut out: MessageWriter<ToStack>,
    mut progress: MessageWriter<LeadProgress>,
) {
    let em = &mut *em;
    while let Some((at, action)) = agenda.pop_before(clock.tick_end()) {
        match action {
            CommandAction::Occur {
                kind,
                grid,
                x,
                y,
                severity,
            } => {
                let key = em.next_key;
                em.next_key += 1;
                let truth = Truth {
                    kind,
                    severity: Severity::ALL[severity],
                    grid,
                    x,
                    y,
                    occurred_at: at,
                };
                occur(
                    at,
                    key,
                    truth,
                    (&config, &video),
                    em,
                    &mut ledger,
                    &mut journal,
                    &mut agenda,
                );
            }
            CommandAction::Call { .. }
            | CommandAction::ExtraCall
            | CommandAction::Sighted { .. }
            | CommandAction::Enter { .. }
            | CommandAction::TakeCommand { .. } => hear_of(
                at,
                action,
                &config,
                em,
                (&mut staff_at, &mut ledger),
                &mut agenda,
                &mut out,
            ),
            CommandAction::Decline { unit, incident } => {
                release(&units, &mut people, unit, at);
                ledger.unit_released(incident, unit);
                send_as_unit(
                    &mut out,
                    unit,
                    at,
                    Command::UnitDeclined { incident, unit },
                    TAG_DECLINE | unit.0 as u64,
                );
            }
            CommandAction::Arrive { unit, incident } => {
                let class = people
                    .get(units.entities[unit.0 as usize - 1])
                    .map_or(UnitClass::Volunteer, |u| u.spec.class);
                if let Some(p) = ledger.arrived(incident, unit, class, at) {
                    progress.write(p);
                }
                send_as_unit(
                    &mut out,
                    unit,
                    at,
                    Command::UnitArrived { incident, unit },
                    TAG_OTHER | unit.0 as u64,
                );
                work_on_scene(at, unit, incident, em, &mut agenda);
            }
            CommandAction::Clear { unit, incident } => {
                clear(
                    at,
                    unit,
                    incident,
                    &twin,
                    &units,
                    &mut people,
                    em,
                    &mut ledger,
                    &mut agenda,
                    &mut out,
                );
            }
            CommandAction::Shift { unit, available } => {
                if at + 86_400_000 < config.end_ms {
                    agenda.schedule(at + 86_400_000, CommandAction::Shift { unit, available });
                }
                agenda.schedule(at, CommandAction::Available { unit, available });
            }
            CommandAction::Available { unit, available } => {
                report_available(at, unit, available, &units, &people, &mut out);
            }
        }
    }
}

/// Command hears of an emergency — a call (answered and entered by a call-taker when the
/// centres are staffed), a further call about it, a lookout's sighting — and the lead centre
/// takes command.
fn hear_of(
    at: u64,
    action: CommandAction,
    config: &CommandConfig,
    em: &mut Emergencies,
    (staff_at, ledger): (&mut CentreStaff, &mut CommandLedger),
    agenda: &mut Agenda<CommandAction>,
    out: &mut MessageWriter<ToStack>,
) {
    match action {
        CommandAction::Call { key } => {
            if ledger.reported(key) {
                // A lookout saw it first: the caller's call finds it on the map.
                ledger.call_after_lookout(key, at);
                return;
            }
            ledger.called(key, at);
            let (actor, source) = reported_by(at, key, em, config.assumed.inspector_reported_share);
            if source == IncidentSource::Call && config.centres.enabled {
                let (answered, entered) = staff_at.take_call(at);
                ledger.answered(at, answered);
                agenda.schedule(entered, CommandAction::Enter { key, source });
            } else {
                report(at, key, actor, source, em, out);
            }
        }
        CommandAction::ExtraCall => {
            let (answered, _) = staff_at.take_call(at);
            ledger.answered(at, answered);
            ledger.extra_calls += 1;
        }
        CommandAction::Sighted { key } => {
            if ledger.reported(key) || !em.truth.contains_key(&key) {
                return;
            }
            ledger.called(key, at);
            ledger.seen_by_lookout(key);
            // The lookout's operator at the centre enters it at once.
            report(at, key, staff::HOTLINE, IncidentSource::Camera, em, out);
        }
        CommandAction::Enter { key, source } => {
            ledger.entered(key, at);
            report(at, key, staff::HOTLINE, source, em, out);
        }
        CommandAction::TakeCommand { incident, by } => {
            out.write(ToStack {
                envelope: Envelope {
                    actor: by,
                    sent_at: at,
                    command: Command::TakeCommand { incident },
                },
                client_ref: TAG_LEADER | incident.0,
            });
        }
        _ => unreachable!("only the hearing actions come here"),
    }
}

/// A responder speaks for its unit.
fn responder(u: UnitId) -> Actor {
    Actor {
        role: Role::Responder,
        person: PersonId(6_000_000 + u.0),
    }
}

/// A unit's responder tells the stack something at `at`.
fn send_as_unit(
    out: &mut MessageWriter<ToStack>,
    unit: UnitId,
    at: u64,
    command: Command,
    client_ref: u64,
) {
    out.write(ToStack {
        envelope: Envelope {
            actor: responder(unit),
            sent_at: at,
            command,
        },
        client_ref,
    });
}

/// An emergency happens: the truth, the ledger, the journal, and its call after a delay.
fn occur(
    at: u64,
    key: u64,
    truth: Truth,
    (config, video): (&CommandConfig, &VideoNetwork),
    em: &mut Emergencies,
    ledger: &mut CommandLedger,
    journal: &mut Journal,
    agenda: &mut Agenda<CommandAction>,
) {
    let rng = em.rng.as_mut().expect("set when planting");
    let delay = Exp::new(1.0 / config.call_delay_ms.max(1) as f64)
        .expect("positive")
        .sample(rng) as u64;
    let (severity, grid, kind) = (truth.severity, truth.grid, truth.kind);
    let seen = lookout_sees(&truth, at, video, em.lookout_rng.as_mut().expect("set"));
    ledger.occurred(key, &truth, at);
    em.truth.insert(key, truth);
    if let Some(seen) = seen {
        ledger.in_lookout_view(key);
        if seen < (at + delay).min(config.end_ms) {
            agenda.schedule(seen, CommandAction::Sighted { key });
        }
    }
    journal.record(
        at,
        "emergency_occurred",
        &serde_json::json!({"key": key, "type": kind, "severity": severity.as_str(), "grid": grid}),
    );
    if at + delay < config.end_ms {
        agenda.schedule(at + delay, CommandAction::Call { key });
    }
    // Others who saw it call too: each call takes a call-taker's time, and makes no incident.
    let rng = em.extra_call_rng.as_mut().expect("set");
    let mean = extra_calls(kind);
    if config.centres.enabled && mean > 0.0 {
        let n = Poisson::new(mean).expect("positive").sample(rng) as u64;
        for _ in 0..n {
            let t = at + delay + crate::exp_wait(rng, config.assumed.extra_call_spread_ms);
            if t < config.end_ms {
                agenda.schedule(t, CommandAction::ExtraCall);
            }
        }
    }
}

/// Mean further calls about one emergency, by how public it is (assumed): a typhoon's fallen
/// trees and floods are seen by many, a fight or a fire by some, an illness by few.
fn extra_calls(kind: u16) -> f64 {
    match emergency::emergency_type(kind).map(|t| t.category) {
        Some(Category::NaturalDisaster) => 3.0,
        Some(Category::Accident) => 2.0,
        Some(Category::SocialSecurity) => 1.0,
        Some(Category::PublicHealth) => 0.5,
        None => 0.0,
    }
}

/// Who reports an emergency that is called in: an inspector on patrol in the grid, from the field
/// app, or a caller to the command centre.
fn reported_by(
    at: u64,
    key: u64,
    em: &mut Emergencies,
    inspector_share: f64,
) -> (Actor, IncidentSource) {
    let grid = em.truth[&key].grid;
    let rng = em.rng.as_mut().expect("set when planting");
    let on_patrol = (8 * 3_600_000..18 * 3_600_000).contains(&(at % 86_400_000));
    if on_patrol && rng.random::<f64>() < inspector_share {
        (
            Actor {
                role: Role::Inspector,
                person: staff::inspector(grid),
            },
            IncidentSource::Inspector,
        )
    } else {
        (staff::HOTLINE, IncidentSource::Call)
    }
}

/// When a lookout's operator sees an emergency of a type visible from the rooftops within a
/// lookout's radius, if one does (`video.lookout_share` of them, after an exponential wait).
fn lookout_sees(t: &Truth, at: u64, video: &VideoNetwork, rng: &mut ChaCha8Rng) -> Option<u64> {
    let v = &video.settings;
    if !v.enabled || !crate::video::seen_from_a_lookout(t.kind) {
        return None;
    }
    video.lookout_in_range(t.x, t.y)?;
    if rng.random::<f64>() >= v.lookout_share {
        return None;
    }
    Some(at + crate::exp_wait(rng, v.lookout_delay.ms() as f64))
}

/// The platform hears of the emergency at `at`.
fn report(
    at: u64,
    key: u64,
    actor: Actor,
    source: IncidentSource,
    em: &Emergencies,
    out: &mut MessageWriter<ToStack>,
) {
    let t = &em.truth[&key];
    let command = Command::ReportIncident {
        incident_ref: key,
        source,
        emergency_type: t.kind,
        severity: t.severity,
        grid: t.grid,
        x_m: t.x,
        y_m: t.y,
        observed_at: t.occurred_at,
    };
    out.write(ToStack {
        envelope: Envelope {
            actor,
            sent_at: at,
            command,
        },
        client_ref: TAG_REPORT | key,
    });
}

/// A unit on scene works for a time drawn around its emergency type's median, then clears.
fn work_on_scene(
    at: u64,
    unit: UnitId,
    incident: IncidentId,
    em: &mut Emergencies,
    agenda: &mut Agenda<CommandAction>,
) {
    let kind = em
        .by_incident
        .get(&incident)
        .and_then(|k| em.truth.get(k))
        .map_or(1, |t| t.kind);
    let median_ms = emergency::emergency_type(kind).map_or(30.0, |t| t.on_scene_min) * 60_000.0;
    let rng = em.unit_rng.as_mut().expect("set");
    let on_scene = LogNormal::new(median_ms.ln(), 0.4)
        .expect("valid")
        .sample(rng) as u64;
    agenda.schedule(
        at + on_scene.max(60_000),
        CommandAction::Clear { unit, incident },
    );
}

/// A unit clears: the incident closes when it was the last, and the unit travels home.
fn clear(
    at: u64,
    unit: UnitId,
    incident: IncidentId,
    twin: &Twin,
    units: &Units,
    people: &mut Query<&mut Unit>,
    em: &Emergencies,
    ledger: &mut CommandLedger,
    agenda: &mut Agenda<CommandAction>,
    out: &mut MessageWriter<ToStack>,
) {
    send_as_unit(
        out,
        unit,
        at,
        Command::UnitCleared { incident, unit },
        TAG_OTHER | unit.0 as u64,
    );
    ledger.unit_cleared(incident, unit);
    if ledger.ready_to_close(incident) {
        ledger.closing(incident);
        send_as_unit(
            out,
            unit,
            at,
            Command::CloseIncident { incident },
            TAG_OTHER | incident.0,
        );
    }
    // Home again after the trip back.
    let entity = units.entities[unit.0 as usize - 1];
    let u = people.get(entity).expect("unit");
    let t = em.by_incident.get(&incident).and_then(|k| em.truth.get(k));
    let back_ms = t.map_or(0, |t| {
        let mode = mode_of(u.spec.class);
        (twin.travel.seconds_between(
            mode,
            t.grid,
            Coord { x: t.x, y: t.y },
            u.spec.grid,
            u.spec.home,
            hour_of_day(at),
        ) * 1000.0) as u64
    });
    if let Some(t) = t {
        let home = (u.spec.home.x, u.spec.home.y);
        ledger.trip(u.spec.class, (t.x, t.y), home, at, at + back_ms);
    }
    let available = u.spec.on_duty_at(at + back_ms);
    agenda.schedule(at + back_ms, CommandAction::Available { unit, available });
    release(units, people, unit, at + back_ms);
}

/// A unit home and free says so (on or off duty); one still on a job changes shift after it.
fn report_available(
    at: u64,
    unit: UnitId,
    available: bool,
    units: &Units,
    people: &Query<&mut Unit>,
    out: &mut MessageWriter<ToStack>,
) {
    let entity = units.entities[unit.0 as usize - 1];
    let u = people.get(entity).expect("unit");
    if u.incident.is_some() {
        return;
    }
    send_as_unit(
        out,
        unit,
        at,
        Command::UnitAvailable {
            unit,
            available,
            x_m: u.spec.home.x,
            y_m: u.spec.home.y,
            grid: u.spec.grid,
        },
        TAG_AVAILABLE | unit.0 as u64,
    );
}

fn release(units: &Units, people: &mut Query<&mut Unit>, unit: UnitId, at: u64) {
    let entity = units.entities[unit.0 as usize - 1];
    if let Ok(mut u) = people.get_mut(entity) {
        if let Some(since) = u.busy_since.take() {
            u.busy_ms += at.saturating_sub(since);
        }
        u.incident = None;
    }
}
