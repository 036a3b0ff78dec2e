//! The matcher loop's actors: the district's cameras — 42,000 video channels, 57 high-altitude
//! lookouts and the 1,034 face-capture points, sited by place type — the people they see
//! (residents and visitors, a few of them on a watchlist), the watchlist's owners, and the
//! reviewers who confirm or reject alerts. A confirmed alert is a lead for command, whose
//! nearest police unit the command loop's actors move to the camera.
//!
//! Faces are synthetic (`baoan-faces`): each person has an identity vector, each capture is it
//! plus noise that grows as quality falls, and more for some groups (the model's demographic
//! differential). Sightings of people on no list are many and alike, so a scenario may send a
//! share of them (`matcher.sampling`) and scale their counts back up; sightings of listed people
//! always go. The harness also scores some searches itself, for the DET curve and to hold the
//! stack's answers against.

mod definition;
mod record;

use std::collections::{BTreeMap, HashMap, VecDeque};

use baoan_api::{
    Actor, AlertId, Command, Envelope, ListKind, MatchPolicy, Outcome, PersonId, Role, Sighting,
    WatchlistEntry,
};
use baoan_faces::noise::{capture, identity, threshold_for_fpir};
use baoan_faces::score::dot;
use baoan_scenarios::Scenario;
use baoan_world::bridge::{StackDoor, ToStack};
use baoan_world::geography::apportion;
use baoan_world::kernel::{Agenda, Journal, LoopSet, SimClock, SimSet, Streams};
use baoan_world::population::Population;
use baoan_world::{RngStreams, Twin};
use bevy_app::{App, Plugin, Startup, Update};
use bevy_ecs::prelude::*;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Binomial, Distribution, LogNormal, Poisson};

pub use definition::{Definition, NAME};
pub use record::{MatcherLedger, MatcherOutcome, finish};

use crate::handoff::{LeadProgress, PoliceLead};
use crate::staff;

/// client_ref tags of the matcher loop's commands (distinct from command's).
pub const TAG_SIGHTING: u64 = crate::registry::tags::MATCHER.tag(0);
pub const TAG_REVIEW: u64 = crate::registry::tags::MATCHER.tag(1);
pub const TAG_SETUP: u64 = crate::registry::tags::MATCHER.tag(2);

/// Identity numbers of people who are not residents: visitors, and listed people who never
/// come to the district. Residents' identity numbers are their index.
pub const VISITOR_BASE: u64 = 1 << 40;
pub const ABSENT_BASE: u64 = 1 << 41;

/// Where face-capture points stand: the place types the district's plan names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum PlaceKind {
    MetroEntrance,
    BusStation,
    School,
    Hospital,
    Park,
    Mall,
    KeyArea,
}

/// A place type's share of the points, relative footfall, hour profile and typical capture
/// quality (lighting, angle, distance).
struct KindSpec {
    kind: PlaceKind,
    name: &'static str,
    share: f64,
    footfall: f64,
    profile: &'static str,
    quality: f32,
}

const KINDS: [KindSpec; 7] = [
    KindSpec {
        kind: PlaceKind::MetroEntrance,
        name: "metro_entrance",
        share: 0.25,
        footfall: 1.6,
        profile: "commute",
        quality: 0.62,
    },
    KindSpec {
        kind: PlaceKind::BusStation,
        name: "bus_station",
        share: 0.15,
        footfall: 1.0,
        profile: "commute",
        quality: 0.52,
    },
    KindSpec {
        kind: PlaceKind::School,
        name: "school",
        share: 0.10,
        footfall: 0.35,
        profile: "daytime",
        quality: 0.70,
    },
    KindSpec {
        kind: PlaceKind::Hospital,
        name: "hospital",
        share: 0.08,
        footfall: 1.0,
        profile: "daytime",
        quality: 0.66,
    },
    KindSpec {
        kind: PlaceKind::Park,
        name: "park",
        share: 0.10,
        footfall: 0.6,
        profile: "evening",
        quality: 0.48,
    },
    KindSpec {
        kind: PlaceKind::Mall,
        name: "mall",
        share: 0.17,
        footfall: 1.3,
        profile: "evening",
        quality: 0.64,
    },
    KindSpec {
        kind: PlaceKind::KeyArea,
        name: "key_area",
        share: 0.15,
        footfall: 1.2,
        profile: "daytime",
        quality: 0.58,
    },
];

impl PlaceKind {
    fn spec(self) -> &'static KindSpec {
        KINDS.iter().find(|k| k.kind == self).expect("every kind")
    }
    pub fn as_str(self) -> &'static str {
        self.spec().name
    }
    pub const ALL: [PlaceKind; 7] = [
        PlaceKind::MetroEntrance,
        PlaceKind::BusStation,
        PlaceKind::School,
        PlaceKind::Hospital,
        PlaceKind::Park,
        PlaceKind::Mall,
        PlaceKind::KeyArea,
    ];
}

/// Age band × sex, the groups the report breaks error rates down by.
pub const GROUPS: [&str; 6] = [
    "child_female",
    "child_male",
    "adult_female",
    "adult_male",
    "elderly_female",
    "elderly_male",
];

fn group_of(age: u8, male: bool) -> usize {
    let band = if age < 14 {
        0
    } else if age >= 65 {
        2
    } else {
        1
    };
    band * 2 + male as usize
}

/// The matcher loop's settings, resolved against the district.
#[derive(Resource, Debug, Clone)]
pub struct MatcherConfig {
    /// Which grids are key areas (from command's placement), where face points are sited by
    /// residents; `None` (command off): every grid by residents.
    pub key_area_grid: Option<Vec<bool>>,
    pub face_points: usize,
    pub channels: usize,
    pub lookouts: usize,
    pub sightings_per_point_per_day: f64,
    pub visitor_share: f64,
    pub visitor_pool: u64,
    pub sampling: f64,
    pub det_searches: u32,
    pub dim: usize,
    pub noise_scale: f64,
    pub group_noise: [f64; 6],
    pub wanted: u32,
    pub missing: u32,
    pub listed_present_share: f64,
    pub expiring_share: f64,
    pub target_fpir: f64,
    /// The threshold the operator set (given, or calibrated for `target_fpir`).
    pub threshold: f32,
    pub top_k: u16,
    pub reviewers_required: u8,
    pub reviewers_on_duty: u32,
    pub review_ms: u64,
    pub false_confirm: f64,
    pub false_reject: f64,
    pub capture_delay_ms: u64,
    pub trail_ms: u64,
    pub end_ms: u64,
    pub scale: f64,
    /// The scenario's matcher surges: passers-by multiplied in a window, in some streets (by
    /// name; none named: everywhere).
    pub surges: Vec<MatcherSurge>,
}

/// A window in which the cameras of some streets see more (or fewer) people.
#[derive(Debug, Clone, PartialEq)]
pub struct MatcherSurge {
    pub start_ms: u64,
    pub end_ms: u64,
    pub streets: Vec<String>,
    pub multiplier: f64,
}

impl MatcherConfig {
    /// The multiplier of each street's passers-by in the hour starting at `hour_start`.
    fn street_multipliers(&self, district: &baoan_world::District, hour_start: u64) -> Vec<f64> {
        let mut m = vec![1.0; district.streets.len()];
        for s in self
            .surges
            .iter()
            .filter(|s| hour_start >= s.start_ms && hour_start < s.end_ms)
        {
            let mut hit = vec![s.streets.is_empty(); m.len()];
            for name in &s.streets {
                if let Some(street) = district.street_by_name(name) {
                    hit[street.id as usize] = true;
                }
            }
            for (x, h) in m.iter_mut().zip(hit) {
                if h {
                    *x *= s.multiplier;
                }
            }
        }
        m
    }

    pub fn from_scenario(s: &Scenario) -> MatcherConfig {
        let m = &s.matcher;
        let scaled = |n: u32| ((n as f64 * s.scale).round() as usize).max(1);
        let entries = (m.wanted + m.missing) as usize;
        let threshold = m
            .threshold
            .unwrap_or_else(|| threshold_for_fpir(m.target_fpir, m.dim as usize, entries.max(1)))
            as f32;
        let group_noise = std::array::from_fn(|g| {
            let band = match g / 2 {
                0 => m.child_noise,
                2 => m.elderly_noise,
                _ => 1.0,
            };
            let sex = if g % 2 == 0 { m.female_noise } else { 1.0 };
            m.noise_scale * band * sex
        });
        MatcherConfig {
            key_area_grid: None,
            face_points: scaled(m.face_points),
            channels: scaled(m.channels),
            lookouts: scaled(m.lookouts),
            sightings_per_point_per_day: m.sightings_per_point_per_day,
            visitor_share: m.visitor_share,
            visitor_pool: ((1_500_000.0 * s.scale) as u64).max(1_000),
            sampling: m.sampling,
            det_searches: m.det_searches,
            dim: m.dim as usize,
            noise_scale: m.noise_scale,
            group_noise,
            wanted: m.wanted,
            missing: m.missing,
            listed_present_share: m.listed_present_share,
            expiring_share: m.expiring_share,
            target_fpir: m.target_fpir,
            threshold,
            top_k: m.top_k as u16,
            reviewers_required: m.reviewers_required as u8,
            reviewers_on_duty: m.reviewers_on_duty,
            review_ms: m.review_time.ms(),
            false_confirm: m.reviewer_false_confirm,
            false_reject: m.reviewer_false_reject,
            capture_delay_ms: m.capture_delay.ms(),
            trail_ms: m.trail_time.ms(),
            end_ms: s.duration.ms(),
            scale: s.scale,
            surges: s
                .surges
                .iter()
                .filter(|x| x.target == NAME)
                .map(|x| MatcherSurge {
                    start_ms: x.start.ms(),
                    end_ms: x.end.ms(),
                    streets: x.streets.clone(),
                    multiplier: x.multiplier,
                })
                .collect(),
        }
    }

    pub fn policy(&self) -> MatchPolicy {
        MatchPolicy {
            threshold: self.threshold,
            top_k: self.top_k,
            reviewers_required: self.reviewers_required,
        }
    }
}

/// A face-capture point: one camera channel with face capture at a place.
#[derive(Debug, Clone)]
pub struct FacePoint {
    pub camera: u32,
    pub kind: PlaceKind,
    pub grid: u32,
    pub community: u32,
    pub x: f64,
    pub y: f64,
    /// Faces it sees a day, on average.
    pub per_day: f64,
}

/// The camera network: every channel's place (for the inventory), the lookouts, and the face
/// points that send sightings.
#[derive(Resource, Debug, Clone, Default)]
pub struct Cameras {
    pub points: Vec<FacePoint>,
    /// Channels per place type and per street (video only, no face capture).
    pub channels_by_kind: BTreeMap<&'static str, usize>,
    pub channels_by_street: Vec<usize>,
    pub lookouts_by_street: Vec<usize>,
}

/// Who is on the watchlist, in the twin's truth.
#[derive(Debug, Clone)]
pub struct Listed {
    pub person: u64,
    pub list: ListKind,
    pub group: usize,
    pub expires_at: u64,
    /// Lives in this community (residents), or passes through (visitors), or never comes.
    pub present: Presence,
    /// Police found them (in custody, or home): no longer sighted.
    pub found: bool,
    /// When the owner took the entry off the list.
    pub removed_at: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    Resident(u32),
    Visitor,
    Absent,
}

/// The watchlist as the twin built it: entries, their identity vectors, who is where.
#[derive(Resource, Debug, Clone, Default)]
pub struct Watchlist {
    pub face_seed: u64,
    pub entries: Vec<Listed>,
    /// Identity vectors, row-major (what the owners uploaded).
    pub vectors: Vec<f32>,
    pub by_person: HashMap<u64, u32>,
    pub by_community: Vec<Vec<u32>>,
    pub visitors: Vec<u32>,
    /// Entries by expiry time, and how far time has gone through them: the size of the list
    /// the stack searches, kept as time moves on (the analytic FPIR depends on it).
    expiries: Vec<(u64, u32)>,
    next_expiry: usize,
    active_count: u32,
}

impl Watchlist {
    /// On the list the stack holds at `at`: not expired, not taken off.
    pub fn active(&self, entry: u32, at: u64) -> bool {
        let e = &self.entries[entry as usize];
        e.expires_at > at && e.removed_at.is_none_or(|r| r > at)
    }

    /// Entries on the list at `at`; calls must come in time order.
    pub fn active_count_at(&mut self, at: u64) -> u32 {
        while let Some(&(t, e)) = self.expiries.get(self.next_expiry) {
            if t > at {
                break;
            }
            self.next_expiry += 1;
            if self.entries[e as usize].removed_at.is_none_or(|r| r > t) {
                self.active_count -= 1;
            }
        }
        self.active_count
    }

    /// The owner takes an active entry off the list at `at`.
    pub fn remove(&mut self, entry: u32, at: u64) {
        self.active_count_at(at);
        self.entries[entry as usize].removed_at = Some(at);
        self.active_count -= 1;
    }

    /// Still about in the district (not found, and living in or passing through it).
    pub fn present(&self, entry: u32) -> bool {
        let e = &self.entries[entry as usize];
        !e.found && !matches!(e.present, Presence::Absent)
    }

    /// Police found the person: they are no longer about to be sighted.
    pub fn found(&mut self, entry: u32) {
        match self.entries[entry as usize].present {
            Presence::Resident(c) => self.by_community[c as usize].retain(|&e| e != entry),
            Presence::Visitor => self.visitors.retain(|&e| e != entry),
            Presence::Absent => {}
        }
        self.entries[entry as usize].found = true;
    }
}

/// One sighting the twin will send: who it is, where, how good the capture.
#[derive(Debug, Clone, Copy)]
pub struct Sight {
    pub camera: u32,
    pub person: u64,
    pub group: u8,
    pub quality: f32,
    pub captured_at: u64,
}

#[derive(Debug, Clone, Copy)]
pub enum MatcherAction {
    Send(Sight),
    /// A false alert the twin did not send (sampling) reaches the review desk.
    ShadowAlert,
    /// The person was found: the entry's owner takes it off the list.
    Remove {
        entry: u32,
    },
    ReviewDone {
        alert: AlertId,
        reviewer: u32,
        confirm: bool,
    },
}

/// One review to do. `alert` is `None` for a false alert the twin did not send (sampling):
/// it takes a reviewer's time as the real one would, so the desk's queue is the full volume's.
#[derive(Debug, Clone, Copy)]
pub struct ReviewJob {
    pub alert: Option<AlertId>,
    pub queued_at: u64,
}

/// The review desk: alerts waiting for a reviewer, and who is busy until when.
#[derive(Resource, Default)]
pub struct ReviewDesk {
    pub queue: VecDeque<ReviewJob>,
    /// Reviewer time spent so far (ms), for utilisation.
    pub busy_ms: u64,
    /// Unsampled false alerts still owed to the desk (fractional part carried).
    pub shadow_carry: f64,
    pub busy_until: Vec<u64>,
    pub reviewed_by: HashMap<AlertId, Vec<u32>>,
    pub next: usize,
}

#[derive(Resource)]
pub(crate) struct MatcherRng {
    /// How many faces each point sees each hour: its own stream, so nothing the run does
    /// (who is found, how busy the review desk is) changes how many faces pass.
    counts: ChaCha8Rng,
    sightings: ChaCha8Rng,
    faces: ChaCha8Rng,
    review: ChaCha8Rng,
    found: ChaCha8Rng,
    sampled: ChaCha8Rng,
    shadow: ChaCha8Rng,
    /// Probability that a non-mated sighting sent is also scored by the harness.
    det_share: f64,
}

pub struct MatcherLoopPlugin {
    pub config: MatcherConfig,
}

/// The matcher loop's systems in one stage of a tick, in the kernel's chain of loops.
fn step(stage: SimSet) -> LoopSet {
    LoopSet::new(NAME, stage)
}

impl Plugin for MatcherLoopPlugin {
    fn build(&self, app: &mut App) {
        app.insert_resource(self.config.clone())
            .add_message::<PoliceLead>()
            .add_message::<LeadProgress>()
            .init_resource::<Cameras>()
            .init_resource::<Watchlist>()
            .init_resource::<ReviewDesk>()
            .init_resource::<MatcherLedger>()
            .init_resource::<Agenda<MatcherAction>>()
            .add_systems(Startup, (site_cameras, load_watchlist).chain())
            .add_systems(
                Update,
                (sightings_arise, act).chain().in_set(step(SimSet::Agents)),
            )
            .add_systems(Update, record::hear.in_set(step(SimSet::Hear)));
    }
}

fn random_in(g: &baoan_world::geography::Grid, rng: &mut ChaCha8Rng) -> (f64, f64) {
    let p = g.random_point(rng);
    (p.x, p.y)
}

/// Site the face points by place type, weighted by residents (schools, hospitals, parks, bus
/// stations, metro entrances), by shops and offices (malls), and at the key areas; spread the
/// video channels and lookouts over the grids.
fn site_cameras(
    twin: Res<Twin>,
    config: Res<MatcherConfig>,
    streams: Res<Streams>,
    video: Res<crate::video::VideoNetwork>,
    mut cameras: ResMut<Cameras>,
    mut journal: ResMut<Journal>,
) {
    let d = &twin.district;
    let pop = &twin.population;
    let mut rng = streams.0.stream("matcher/cameras");
    let residents: Vec<f64> = d
        .grids
        .iter()
        .map(|g| pop.residents_of_grid(g.id).len() as f64 + 1.0)
        .collect();
    let mut commercial = vec![1.0; d.grids.len()];
    for b in &pop.buildings {
        if matches!(
            b.kind,
            baoan_world::population::BuildingKind::Commercial
                | baoan_world::population::BuildingKind::Industrial
        ) {
            commercial[b.grid as usize] += 1.0;
        }
    }
    let key_area: Vec<f64> = match &config.key_area_grid {
        Some(key_area_grid) => key_area_grid
            .iter()
            .zip(&residents)
            .map(|(&k, r)| if k { *r } else { 0.0 })
            .collect(),
        None => residents.clone(),
    };
    let key_area = if key_area.iter().sum::<f64>() > 0.0 {
        key_area
    } else {
        residents.clone()
    };
    use crate::video::{cumulate, pick};
    let by_residents = cumulate(&residents);
    let by_commerce = cumulate(&commercial);
    let by_key_area = cumulate(&key_area);
    let counts = apportion(
        config.face_points,
        &KINDS.iter().map(|k| k.share).collect::<Vec<_>>(),
        0,
    );
    let mut points = Vec::with_capacity(config.face_points);
    for (spec, &n) in KINDS.iter().zip(&counts) {
        for _ in 0..n {
            let cumul = match spec.kind {
                PlaceKind::Mall => &by_commerce,
                PlaceKind::KeyArea => &by_key_area,
                _ => &by_residents,
            };
            let grid = pick(cumul, &mut rng);
            let g = &d.grids[grid as usize];
            let (x, y) = random_in(g, &mut rng);
            // Footfall varies from place to place around its type's level.
            let spread = LogNormal::new(0.0, 0.35).expect("valid").sample(&mut rng);
            points.push(FacePoint {
                camera: points.len() as u32 + 1,
                kind: spec.kind,
                grid,
                community: g.community,
                x,
                y,
                per_day: spec.footfall * spread,
            });
        }
    }
    // Scale so that the average point sees the scenario's daily faces.
    let mean = points.iter().map(|p| p.per_day).sum::<f64>() / points.len().max(1) as f64;
    for p in &mut points {
        p.per_day *= config.sightings_per_point_per_day / mean.max(1e-12);
    }
    // The video channels and lookouts are the shared network's (the face points are among its
    // place channels): the inventory reports them.
    journal.record(
        0,
        "cameras_sited",
        &serde_json::json!({"face_points": points.len(), "channels": config.channels, "lookouts": config.lookouts}),
    );
    let mut lookouts = vec![0usize; d.streets.len()];
    for l in &video.lookouts {
        lookouts[l.street as usize] += 1;
    }
    *cameras = Cameras {
        points,
        channels_by_kind: video.by_kind.iter().map(|(k, v)| (*k, *v)).collect(),
        channels_by_street: video.by_street.clone(),
        lookouts_by_street: lookouts,
    };
}

/// Build the synthetic watchlist (wanted adults; missing children and elderly people), some of
/// whom live in or pass through the district, and hand it and the policy to the stack.
fn load_watchlist(
    twin: Res<Twin>,
    config: Res<MatcherConfig>,
    streams: Res<Streams>,
    mut watchlist: ResMut<Watchlist>,
    mut door: StackDoor,
    mut ledger: ResMut<MatcherLedger>,
    mut commands: Commands,
) {
    let mut rng = streams.0.stream("matcher/watchlist");
    let face_seed: u64 = streams.0.stream("matcher/faces").random();
    let wl = draw_watchlist(&twin, &config, &mut rng, face_seed);
    let entries = watchlist_entries(&wl, config.dim);
    for command in [
        Command::SetMatchPolicy {
            policy: config.policy(),
        },
        Command::UpsertWatchlist { entries },
    ] {
        send_setup(&mut door, &mut ledger, command);
    }
    door.record(
        0,
        "watchlist_loaded",
        &serde_json::json!({"entries": wl.entries.len(), "threshold": config.threshold}),
    );
    commands.insert_resource(matcher_rng(streams.0, &config));
    *watchlist = wl;
}

/// The twin's truth of the list: who each entry is, where they are, and when it expires.
fn draw_watchlist(
    twin: &Twin,
    config: &MatcherConfig,
    rng: &mut ChaCha8Rng,
    face_seed: u64,
) -> Watchlist {
    let pop = &twin.population;
    let d = &twin.district;
    let total = (config.wanted + config.missing) as usize;
    let mut wl = Watchlist {
        face_seed,
        by_community: vec![Vec::new(); d.communities.len()],
        ..Watchlist::default()
    };
    let mut visitor_next = VISITOR_BASE;
    for k in 0..total {
        let list = if k < config.wanted as usize {
            ListKind::Wanted
        } else {
            ListKind::Missing
        };
        // The list is the police's, not the district's: a smaller twin sees fewer of them.
        let present = rng.random::<f64>() < config.listed_present_share * config.scale.min(1.0);
        let resident = present && rng.random::<f64>() < 0.6;
        let chosen = if resident {
            pick_resident(pop, list, &wl, rng)
        } else {
            None
        };
        let (person, presence, group) = match chosen {
            Some(r) => {
                let grid = &d.grids[grid_of_resident(pop, r) as usize];
                (
                    r as u64,
                    Presence::Resident(grid.community),
                    group_of(pop.resident_age[r as usize], pop.is_male(r)),
                )
            }
            None => someone_else(list, present, k, &mut visitor_next, rng),
        };
        let expires_at = if rng.random::<f64>() < config.expiring_share {
            rng.random_range(1..config.end_ms.max(2))
        } else {
            config.end_ms + 365 * 86_400_000
        };
        let listed = Listed {
            person,
            list,
            group,
            expires_at,
            present: presence,
            found: false,
            removed_at: None,
        };
        add_listed(&mut wl, config.dim, k as u32, listed);
    }
    wl.expiries = wl
        .entries
        .iter()
        .enumerate()
        .map(|(k, e)| (e.expires_at, k as u32))
        .collect();
    wl.expiries.sort_unstable();
    wl.active_count = wl.entries.len() as u32;
    wl
}

/// A resident of the list's ages not listed yet, in up to 200 draws.
fn pick_resident(
    pop: &Population,
    list: ListKind,
    wl: &Watchlist,
    rng: &mut ChaCha8Rng,
) -> Option<u32> {
    let residents = pop.residents() as u32;
    if residents == 0 {
        return None;
    }
    let fits = |r: u32| {
        let age = pop.resident_age[r as usize];
        match list {
            ListKind::Wanted => (18..=60).contains(&age),
            ListKind::Missing => !(14..65).contains(&age),
            ListKind::KeyPerson => age >= 18,
        }
    };
    for _ in 0..200 {
        let r = rng.random_range(0..residents);
        if fits(r) && !wl.by_person.contains_key(&(r as u64)) {
            return Some(r);
        }
    }
    None
}

/// A listed person who lives elsewhere: a visitor if they are about, else absent.
fn someone_else(
    list: ListKind,
    present: bool,
    k: usize,
    visitor_next: &mut u64,
    rng: &mut ChaCha8Rng,
) -> (u64, Presence, usize) {
    let (age, male) = match list {
        ListKind::Wanted => (rng.random_range(18..=60), rng.random::<f64>() < 0.85),
        ListKind::Missing => {
            if rng.random::<bool>() {
                (rng.random_range(3..14), rng.random())
            } else {
                (rng.random_range(65..90), rng.random())
            }
        }
        ListKind::KeyPerson => (rng.random_range(18..=70), rng.random()),
    };
    if present {
        *visitor_next += 1;
        (*visitor_next - 1, Presence::Visitor, group_of(age, male))
    } else {
        (
            ABSENT_BASE + k as u64,
            Presence::Absent,
            group_of(age, male),
        )
    }
}

/// Put an entry on the list, with its face and its place in the look-ups.
fn add_listed(wl: &mut Watchlist, dim: usize, entry: u32, listed: Listed) {
    match listed.present {
        Presence::Resident(c) => wl.by_community[c as usize].push(entry),
        Presence::Visitor => wl.visitors.push(entry),
        Presence::Absent => {}
    }
    wl.by_person.insert(listed.person, entry);
    wl.vectors
        .extend(identity(wl.face_seed, listed.person, dim));
    wl.entries.push(listed);
}

/// The list as its owners hand it to the stack: each entry's legal basis, owner and face.
fn watchlist_entries(wl: &Watchlist, dim: usize) -> Vec<WatchlistEntry> {
    wl.entries
        .iter()
        .enumerate()
        .map(|(k, e)| WatchlistEntry {
            entry_ref: k as u64,
            list: e.list,
            legal_basis: match e.list {
                ListKind::Wanted => format!("synthetic arrest warrant BA-W-{k:05}"),
                ListKind::Missing => format!("synthetic missing-person report BA-M-{k:05}"),
                ListKind::KeyPerson => format!("synthetic key-person register BA-K-{k:05}"),
            },
            owner: match e.list {
                ListKind::Wanted => {
                    "Bao'an public security sub-bureau, criminal investigation (synthetic)".into()
                }
                ListKind::Missing => {
                    "Bao'an public security sub-bureau, missing-persons desk (synthetic)".into()
                }
                ListKind::KeyPerson => "community health centre (synthetic)".into(),
            },
            expires_at: e.expires_at,
            embedding: wl.vectors[k * dim..(k + 1) * dim].to_vec(),
        })
        .collect()
}

/// Hand one setup command to the stack as its administrator, noting what it answered.
fn send_setup(door: &mut StackDoor, ledger: &mut MatcherLedger, command: Command) {
    match door.call(0, staff::ADMIN, command, TAG_SETUP) {
        Ok(outcomes) => {
            for o in outcomes {
                match o {
                    Outcome::WatchlistUpdated { version, active } => {
                        ledger.watchlist_version = version;
                        ledger.watchlist_active = active;
                    }
                    Outcome::MatchPolicySet { version } => ledger.policy_version = version,
                    _ => {}
                }
            }
        }
        Err(e) => ledger.setup_refused.push(e.to_string()),
    }
}

/// The loop's random streams, and how many non-mated searches to score: `det_searches` of the
/// expected number sent.
fn matcher_rng(s: RngStreams, config: &MatcherConfig) -> MatcherRng {
    let expected_sent = config.sightings_per_point_per_day
        * config.face_points as f64
        * config.sampling
        * config.end_ms as f64
        / 86_400_000.0;
    let det_share = (config.det_searches as f64 / expected_sent.max(1.0)).min(1.0);
    MatcherRng {
        counts: s.stream("matcher/sighting-counts"),
        sightings: s.stream("matcher/sightings"),
        faces: s.stream("matcher/captures"),
        review: s.stream("matcher/review"),
        found: s.stream("matcher/found"),
        sampled: s.stream("matcher/sampled"),
        shadow: s.stream("matcher/shadow"),
        det_share,
    }
}

fn grid_of_resident(pop: &Population, r: u32) -> u32 {
    (pop.grid_first_resident.partition_point(|&f| f <= r) - 1) as u32
}

/// Each simulated hour: how many faces each point sees; which of them are listed people (all
/// sent) and which of the rest are sent (the sampled share).
fn sightings_arise(
    clock: Res<SimClock>,
    twin: Res<Twin>,
    config: Res<MatcherConfig>,
    cameras: Res<Cameras>,
    watchlist: Res<Watchlist>,
    rng: Option<ResMut<MatcherRng>>,
    mut ledger: ResMut<MatcherLedger>,
    mut agenda: ResMut<Agenda<MatcherAction>>,
) {
    let Some(mut rng) = rng else { return };
    if !clock.now_ms.is_multiple_of(3_600_000) || clock.now_ms >= config.end_ms {
        return;
    }
    // How many pass comes from one stream; which listed people are among them from another
    // (the list shrinks as police find people, at times the review desk's load decides); which
    // of the others are sent, from a third. So `sampling` never changes how many faces pass,
    // and changes who is listed among them only through who has been found.
    let MatcherRng {
        counts,
        sightings: rng,
        sampled,
        shadow,
        ..
    } = &mut *rng;
    let mut unsent = 0;
    let pop = &twin.population;
    let d = &twin.district;
    let hour_start = clock.now_ms;
    let hour_end = (hour_start + 3_600_000).min(config.end_ms);
    let span = hour_end - hour_start;
    let hour = clock.hour_of_day();
    let night = !(6..20).contains(&hour);
    let visitors_listed = watchlist.visitors.len() as u64;
    let mut planned = Vec::new();
    let surge = config.street_multipliers(d, hour_start);
    for p in &cameras.points {
        let spec = p.kind.spec();
        let profile = baoan_scenarios::profile_weights(spec.profile);
        let mean = profile.iter().sum::<f64>() / 24.0;
        let street = d.communities[p.community as usize].street as usize;
        let lambda =
            p.per_day / 24.0 * profile[hour] / mean * span as f64 / 3_600_000.0 * surge[street];
        if lambda <= 0.0 {
            continue;
        }
        let n = Poisson::new(lambda).expect("positive").sample(counts) as u64;
        ledger.seen += n;
        let community = &d.communities[p.community as usize];
        let first = pop.grid_first_resident[community.grids.start as usize];
        let last = pop.grid_first_resident[community.grids.end as usize];
        let locals = (last - first) as f64;
        let listed_here = &watchlist.by_community[p.community as usize];
        let p_res = if locals > 0.0 {
            (1.0 - config.visitor_share) * listed_here.len() as f64 / locals
        } else {
            0.0
        };
        let p_vis = config.visitor_share * visitors_listed as f64 / config.visitor_pool as f64;
        let m_res = binomial(n, p_res, rng);
        let m_vis = binomial(n - m_res, p_vis, rng);
        let rest = n - m_res - m_vis;
        let k = binomial(rest, config.sampling, sampled);
        unsent += rest - k;
        ledger.unlisted_seen += rest;
        let quality = |rng: &mut ChaCha8Rng| {
            let q = spec.quality - if night { 0.15 } else { 0.0 }
                + 0.15 * Distribution::<f32>::sample(&rand_distr::StandardNormal, rng);
            q.clamp(0.05, 1.0)
        };
        let at = |rng: &mut ChaCha8Rng| hour_start + rng.random_range(0..span);
        for i in 0..m_res + m_vis {
            let entry = if i < m_res {
                listed_here[rng.random_range(0..listed_here.len())]
            } else {
                watchlist.visitors[rng.random_range(0..watchlist.visitors.len())]
            };
            let e = &watchlist.entries[entry as usize];
            planned.push(Sight {
                camera: p.camera,
                person: e.person,
                group: e.group as u8,
                quality: quality(rng),
                captured_at: at(rng),
            });
        }
        for _ in 0..k {
            let (person, group) = if sampled.random::<f64>() < config.visitor_share || locals == 0.0
            {
                let v = VISITOR_BASE
                    + visitors_listed
                    + sampled.random_range(
                        0..config.visitor_pool.saturating_sub(visitors_listed).max(1),
                    );
                // A visitor's age and sex follow from their number.
                let h = baoan_world::rng::mix64(v ^ watchlist.face_seed);
                (v, group_of((h % 80) as u8 + 5, (h >> 8) & 1 == 1))
            } else {
                let mut r = first + sampled.random_range(0..(last - first));
                let mut tries = 0;
                while watchlist.by_person.contains_key(&(r as u64)) && tries < 10 {
                    r = first + sampled.random_range(0..(last - first));
                    tries += 1;
                }
                if watchlist.by_person.contains_key(&(r as u64)) {
                    continue;
                }
                (
                    r as u64,
                    group_of(pop.resident_age[r as usize], pop.is_male(r)),
                )
            };
            planned.push(Sight {
                camera: p.camera,
                person,
                group: group as u8,
                quality: quality(sampled),
                captured_at: at(sampled),
            });
        }
    }
    for s in planned {
        let send_at = s.captured_at + config.capture_delay_ms;
        if send_at < config.end_ms {
            agenda.schedule(send_at, MatcherAction::Send(s));
        }
    }
    // The sightings not sent would still raise false alerts, and reviewers would still have to
    // look at them: they reach the desk at the rate the stack's answers show so far.
    let shadows = binomial(unsent, ledger.fpir_so_far(config.target_fpir), shadow);
    for _ in 0..shadows {
        let at = hour_start + shadow.random_range(0..span) + config.capture_delay_ms;
        if at < config.end_ms {
            agenda.schedule(at, MatcherAction::ShadowAlert);
        }
    }
}

fn binomial(n: u64, p: f64, rng: &mut ChaCha8Rng) -> u64 {
    if n == 0 || p <= 0.0 {
        return 0;
    }
    Binomial::new(n, p.min(1.0)).expect("valid").sample(rng)
}

/// Send the sightings that are due (capturing each face now); assign waiting alerts to free
/// reviewers; hand in finished reviews.
fn act(
    clock: Res<SimClock>,
    config: Res<MatcherConfig>,
    cameras: Res<Cameras>,
    mut watchlist: ResMut<Watchlist>,
    rng: Option<ResMut<MatcherRng>>,
    mut desk: ResMut<ReviewDesk>,
    mut ledger: ResMut<MatcherLedger>,
    mut agenda: ResMut<Agenda<MatcherAction>>,
    mut out: MessageWriter<ToStack>,
) {
    let Some(mut rng) = rng else { return };
    let rng = &mut *rng;
    while let Some((at, action)) = agenda.pop_before(clock.tick_end()) {
        match action {
            MatcherAction::Send(s) => {
                let sighting =
                    capture_sighting(&config, &cameras, &mut watchlist, rng, &mut ledger, at, s);
                if let Some(sighting) = sighting {
                    out.write(sighting);
                }
            }
            MatcherAction::ShadowAlert => desk.queue.push_back(ReviewJob {
                alert: None,
                queued_at: at,
            }),
            MatcherAction::Remove { entry } => {
                if !watchlist.active(entry, at) {
                    // It expired meanwhile: nothing to take off.
                    continue;
                }
                watchlist.remove(entry, at);
                out.write(removal(entry, at));
            }
            MatcherAction::ReviewDone {
                alert,
                reviewer,
                confirm,
            } => {
                out.write(review(alert, reviewer, confirm, at));
            }
        }
    }
    assign_reviews(&clock, &config, rng, &mut desk, &mut ledger, &mut agenda);
}

/// Capture a due sighting's face now, record the truth about it, and build the camera's
/// message; `None` if the person was found since this hour's sightings were drawn (they are
/// not about).
fn capture_sighting(
    config: &MatcherConfig,
    cameras: &Cameras,
    watchlist: &mut Watchlist,
    rng: &mut MatcherRng,
    ledger: &mut MatcherLedger,
    at: u64,
    s: Sight,
) -> Option<ToStack> {
    if watchlist
        .by_person
        .get(&s.person)
        .is_some_and(|&e| watchlist.entries[e as usize].found)
    {
        return None;
    }
    let dim = config.dim;
    let point = &cameras.points[s.camera as usize - 1];
    let noise = config.group_noise[s.group as usize] as f32;
    let face = identity(watchlist.face_seed, s.person, dim);
    let embedding = capture(&face, s.quality, noise, &mut rng.faces);
    // The truth: is this person on the list the stack holds at send time?
    let entry = watchlist.by_person.get(&s.person).copied();
    let mate = entry.filter(|&e| watchlist.active(e, at));
    let expired_mate = entry.filter(|&e| !watchlist.active(e, at));
    let mate_score = mate.map(|e| {
        dot(
            &embedding,
            &watchlist.vectors[e as usize * dim..(e as usize + 1) * dim],
        )
    });
    let evaluate =
        mate.is_none() && expired_mate.is_none() && rng.faces.random::<f64>() < rng.det_share;
    let top = evaluate.then(|| best_active_score(watchlist, &embedding, dim, at));
    let active = watchlist.active_count_at(at);
    let sighting_ref = ledger.next_ref;
    ledger.next_ref += 1;
    ledger.sent(
        sighting_ref,
        record::Sent {
            camera: s.camera,
            grid: point.grid,
            x: point.x,
            y: point.y,
            group: s.group,
            quality: s.quality,
            captured_at: s.captured_at,
            sent_at: at,
            mate,
            expired_mate,
            mate_score,
            top_score: top,
            active,
        },
    );
    Some(sighting_message(&s, point, sighting_ref, embedding, at))
}

/// The camera's message to the stack.
fn sighting_message(
    s: &Sight,
    point: &FacePoint,
    sighting_ref: u64,
    embedding: Vec<f32>,
    at: u64,
) -> ToStack {
    ToStack {
        envelope: Envelope {
            actor: Actor {
                role: Role::Camera,
                person: PersonId(8_000_000 + s.camera),
            },
            sent_at: at,
            command: Command::SubmitSighting {
                sighting: Sighting {
                    sighting_ref,
                    camera: s.camera,
                    grid: point.grid,
                    x_m: point.x,
                    y_m: point.y,
                    captured_at: s.captured_at,
                    quality: s.quality,
                    embedding,
                },
            },
        },
        client_ref: TAG_SIGHTING | sighting_ref,
    }
}

/// The harness's own best score of a capture over the entries active at `at`.
fn best_active_score(watchlist: &Watchlist, embedding: &[f32], dim: usize, at: u64) -> f32 {
    let mut best = f32::NEG_INFINITY;
    for (i, row) in watchlist.vectors.chunks_exact(dim).enumerate() {
        if watchlist.active(i as u32, at) {
            best = best.max(dot(row, embedding));
        }
    }
    best
}

/// The entry's owner takes a found person off the list.
fn removal(entry: u32, at: u64) -> ToStack {
    ToStack {
        envelope: Envelope {
            actor: staff::ADMIN,
            sent_at: at,
            command: Command::RemoveWatchlistEntry {
                entry_ref: entry as u64,
                reason: "found by police at a confirmed sighting (synthetic)".into(),
            },
        },
        client_ref: TAG_SETUP | entry as u64,
    }
}

/// A reviewer hands in their decision on an alert.
fn review(alert: AlertId, reviewer: u32, confirm: bool, at: u64) -> ToStack {
    ToStack {
        envelope: Envelope {
            actor: Actor {
                role: Role::Reviewer,
                person: reviewer_person(reviewer),
            },
            sent_at: at,
            command: Command::ReviewAlert { alert, confirm },
        },
        client_ref: TAG_REVIEW | alert.0,
    }
}

/// Free reviewers take the oldest waiting alerts they have not reviewed yet.
fn assign_reviews(
    clock: &SimClock,
    config: &MatcherConfig,
    rng: &mut MatcherRng,
    desk: &mut ReviewDesk,
    ledger: &mut MatcherLedger,
    agenda: &mut Agenda<MatcherAction>,
) {
    let now = clock.tick_end();
    if desk.busy_until.len() != config.reviewers_on_duty as usize {
        desk.busy_until = vec![0; config.reviewers_on_duty as usize];
    }
    let n = desk.busy_until.len();
    let review_time = LogNormal::new((config.review_ms as f64).ln(), 0.5).expect("valid");
    let mut skipped = VecDeque::new();
    while desk.busy_until.iter().any(|&b| b <= now) {
        let Some(job) = desk.queue.pop_front() else {
            break;
        };
        let done = job
            .alert
            .and_then(|a| desk.reviewed_by.get(&a).cloned())
            .unwrap_or_default();
        let start = desk.next;
        let free = (0..n)
            .map(|i| (start + i) % n)
            .find(|&r| desk.busy_until[r] <= now && !done.contains(&(r as u32)));
        let Some(r) = free else {
            skipped.push_back(job);
            continue;
        };
        desk.next = (r + 1) % n;
        let begin = job.queued_at.max(desk.busy_until[r]).max(clock.now_ms);
        let mut took = (review_time.sample(&mut rng.review) as u64).max(5_000);
        let Some(alert) = job.alert else {
            // An unsampled false alert: its first review, and the rare second one after a
            // mistaken confirmation, as one stretch of the reviewer's time.
            took = (took as f64
                * (1.0 + config.false_confirm * (config.reviewers_required as f64 - 1.0)))
                as u64;
            desk.busy_until[r] = begin + took;
            desk.busy_ms += took;
            continue;
        };
        let done_at = begin + took;
        desk.busy_until[r] = done_at;
        desk.busy_ms += took;
        desk.reviewed_by.entry(alert).or_default().push(r as u32);
        let right = ledger.alert_is_right(alert);
        let u = rng.review.random::<f64>();
        let confirm = if right {
            u >= config.false_reject
        } else {
            u < config.false_confirm
        };
        ledger.review_started(alert, begin.saturating_sub(job.queued_at));
        agenda.schedule(
            done_at,
            MatcherAction::ReviewDone {
                alert,
                reviewer: r as u32,
                confirm,
            },
        );
    }
    while let Some(job) = skipped.pop_back() {
        desk.queue.push_front(job);
    }
}

pub fn reviewer_person(r: u32) -> PersonId {
    PersonId(7_000_000 + r)
}

/// Refusals of the matcher loop's commands, kept for the report.
pub(crate) fn is_matcher_command(c: &Command) -> bool {
    c.module() == baoan_api::Module::Matcher
}
