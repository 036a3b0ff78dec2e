//! Scenario files: what a run of the twin simulates (seed, duration, scale, rates per loop with
//! hour-of-day profiles, surges), what it must achieve (SLO thresholds) and what it writes.
//!
//! Parsing is strict: an unknown key, a wrong type or an out-of-range value is refused with the
//! file, line and column where it was written and what was expected. This crate owns the schema
//! and the catalogue of metric names SLOs may use; it depends on nothing else in the project.

pub mod assumptions;
mod dur;
mod locate;
pub mod metrics;
#[cfg(feature = "proptest")]
pub mod strategies;

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::time::Duration;

use baoan_api::UnknownModule;
use baoan_api::faults::{FaultWindow, parse_target};

use serde::{Deserialize, Serialize};

pub use dur::Dur;
pub use locate::SourceMap;
pub use metrics::{METRICS, MetricDef, MetricKind};

/// The modules whose arrivals a surge can change (items, emergencies, sightings): the loops that
/// work street by street. The rest (block data's feeds, the cases loops) are district-wide.
pub const SURGE_TARGETS: [baoan_api::Module; 3] = [
    baoan_api::Module::Grid,
    baoan_api::Module::Command,
    baoan_api::Module::Matcher,
];

/// The names of `SURGE_TARGETS`, as a scenario writes them.
pub fn surge_target_names() -> Vec<&'static str> {
    SURGE_TARGETS.iter().map(|m| m.as_str()).collect()
}
/// Emergency categories a command surge may be limited to.
pub const CATEGORIES: &[&str] = &[
    "natural_disaster",
    "accident",
    "public_health",
    "social_security",
];
/// Named hour-of-day profiles; `hourly = [24 weights]` gives any other shape.
pub const PROFILES: &[&str] = &["flat", "daytime", "commute", "evening"];
/// What the report's map can colour grids by.
pub const MAP_METRICS: &[&str] = &[
    "report_to_closed_s",
    "detection_s",
    "items_per_day",
    "overdue_share",
];
/// Longest run a scenario may ask for; a bound, so that a typo cannot ask for a century.
pub const MAX_DURATION: Dur = Dur::hours(24 * 31);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// The seed the district is generated with — below a pack's given levels its grids, people,
    /// buildings, key areas, posts and cameras; default `seed`. A sweep holds it while the seed
    /// varies the day, so a planner's posts stand where they were planned on every seed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub district_seed: Option<u64>,
    /// Simulated time the run covers, from midnight of day one.
    pub duration: Dur,
    /// The kernel's fixed step.
    #[serde(default = "default_tick")]
    pub tick: Dur,
    /// 1.0 is the whole district (124 communities, 4,866 grids, ~4.48 M residents); smaller
    /// keeps the 10 streets and scales the rest.
    #[serde(default = "one")]
    pub scale: f64,
    /// The district pack the run uses: a folder holding `district.toml`, relative to this file;
    /// absent or "baoan" for the built-in Bao'an pack. `twin run --pack DIR` overrides it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub district: Option<String>,
    #[serde(default)]
    pub grid: GridLoop,
    #[serde(default)]
    pub command: CommandLoop,
    #[serde(default)]
    pub matcher: MatcherLoop,
    #[serde(default)]
    pub blocks: BlocksLoop,
    #[serde(default)]
    pub cases: CasesLoop,
    #[serde(default)]
    pub key_persons: KeyPersonsLoop,
    #[serde(default)]
    pub video: Video,
    /// Behaviour numbers moved off their defaults, by name (`twin assumptions` lists them):
    /// a scenario field's is written into the field, a code assumption's is read by the loops.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub assumptions: BTreeMap<String, f64>,
    #[serde(default, rename = "surge", skip_serializing_if = "Vec::is_empty")]
    pub surges: Vec<Surge>,
    /// Roads slowed or cut (typhoon, flooding) for a window, in some streets.
    #[serde(default, rename = "disruption", skip_serializing_if = "Vec::is_empty")]
    pub disruptions: Vec<Disruption>,
    /// Faults on the path from the actors to the stack (a module down, a share of calls
    /// failing, added latency) for a window: the loops must ride them out.
    #[serde(default, rename = "fault", skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<Fault>,
    #[serde(default, rename = "slo", skip_serializing_if = "Vec::is_empty")]
    pub slos: Vec<Slo>,
    #[serde(default)]
    pub output: Output,
    /// Where the scenario came from, for located errors; not part of the file.
    #[serde(skip)]
    pub source: SourceMap,
}

fn default_seed() -> u64 {
    1
}
fn default_tick() -> Dur {
    Dur::secs(1)
}
fn one() -> f64 {
    1.0
}
fn yes() -> bool {
    true
}

/// The grid loop: items occurring in grids, inspectors patrolling and reporting, resolvers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GridLoop {
    pub enabled: bool,
    /// Items (of the 153 types) that occur per grid per day, on average.
    pub items_per_grid_per_day: f64,
    /// A named hour-of-day profile for item occurrence ...
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// ... or 24 relative weights, midnight first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hourly: Option<Vec<f64>>,
    /// Share of items a resident also reports to the 12345 hotline.
    pub hotline_share: f64,
    /// Mean delay from an item occurring to a resident's call.
    pub hotline_delay: Dur,
    /// Of the item types an inspector may fix on the spot, the share they do fix.
    pub on_spot_share: f64,
    /// Share of resolutions that do not hold and fail verification.
    pub rework_share: f64,
    /// Resolvers per community and department, relative to the expected load.
    pub resolver_staffing: f64,
    pub patrol: Patrol,
    pub supervision: Supervision,
}

/// What happens when a task escalates: a supervisor at that level looks at it and hands it to
/// a resolver with less work, and escalated tasks are worked first. Off, escalation is a label.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Supervision {
    pub enabled: bool,
    /// Mean time from the escalation to the supervisor acting on it (exponential; assumed).
    pub act_within: Dur,
}

impl Default for Supervision {
    fn default() -> Self {
        Self {
            enabled: true,
            act_within: Dur::mins(30),
        }
    }
}

impl Default for GridLoop {
    fn default() -> Self {
        Self {
            enabled: true,
            items_per_grid_per_day: 8.0,
            profile: None,
            hourly: None,
            hotline_share: 0.2,
            hotline_delay: Dur::hours(3),
            on_spot_share: 0.6,
            rework_share: 0.08,
            resolver_staffing: 1.0,
            patrol: Patrol::default(),
            supervision: Supervision::default(),
        }
    }
}

impl GridLoop {
    /// Relative rate for each hour of the day, scaled to average 1.
    pub fn hourly_weights(&self) -> [f64; 24] {
        let raw: Vec<f64> = match (&self.hourly, self.profile.as_deref()) {
            (Some(h), _) => h.clone(),
            (None, name) => profile_weights(name.unwrap_or("daytime")).to_vec(),
        };
        normalise(&raw)
    }
}

/// Hour-of-day weights of the named profiles (midnight first).
pub fn profile_weights(name: &str) -> [f64; 24] {
    match name {
        "flat" => [1.0; 24],
        "commute" => [
            0.2, 0.1, 0.1, 0.1, 0.2, 0.4, 0.9, 1.8, 2.2, 1.5, 1.1, 1.0, 1.1, 1.0, 1.0, 1.1, 1.3,
            1.9, 2.2, 1.6, 1.1, 0.8, 0.5, 0.3,
        ],
        "evening" => [
            0.8, 0.6, 0.4, 0.3, 0.2, 0.2, 0.3, 0.5, 0.7, 0.8, 0.9, 1.0, 1.0, 1.0, 1.0, 1.0, 1.1,
            1.3, 1.6, 1.9, 2.0, 1.9, 1.6, 1.2,
        ],
        // "daytime" and the default: street life follows the working day.
        _ => [
            0.2, 0.15, 0.1, 0.1, 0.1, 0.2, 0.5, 1.0, 1.5, 1.7, 1.7, 1.6, 1.4, 1.4, 1.6, 1.7, 1.7,
            1.6, 1.4, 1.2, 1.0, 0.8, 0.5, 0.3,
        ],
    }
}

fn normalise(raw: &[f64]) -> [f64; 24] {
    let mut out = [1.0; 24];
    let mean = raw.iter().sum::<f64>() / 24.0;
    if raw.len() == 24 && mean > 0.0 {
        for (o, r) in out.iter_mut().zip(raw) {
            *o = r / mean;
        }
    }
    out
}

/// How inspectors patrol their grid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Patrol {
    /// Working shifts as clock times within each day, `[["08:30", "12:00"], ["14:00", "18:00"]]`.
    pub shifts: Vec<[Dur; 2]>,
    /// Time for one sweep of the whole grid.
    pub sweep: Dur,
    /// Chance that a sweep passing an item notices it.
    pub detect_probability: f64,
    /// From noticing an item to the report reaching the platform (photo, form, send).
    pub report_delay: Dur,
    /// Median time on site of a verification visit (block data, a grid task), taken from the
    /// patrol: a sweep that falls while the inspector is on a visit does not happen.
    pub visit_time: Dur,
    /// Whether visits take patrol time (off: the old free visits, to measure what they cost).
    pub visits_take_patrol: bool,
    /// Share of the shifts an inspector may spend on visits a day; visits beyond it wait for
    /// the next working day (assumed).
    pub visit_budget_share: f64,
    /// Share of verification visits whose finding is wrong (the wrong room recorded, a fix
    /// judged wrongly; assumed).
    pub finding_error_share: f64,
}

impl Default for Patrol {
    fn default() -> Self {
        Self {
            shifts: vec![
                [Dur::mins(8 * 60 + 30), Dur::hours(12)],
                [Dur::hours(14), Dur::hours(18)],
            ],
            sweep: Dur::hours(2),
            detect_probability: 0.85,
            report_delay: Dur::mins(3),
            visit_time: Dur::mins(20),
            visits_take_patrol: true,
            visit_budget_share: 0.5,
            finding_error_share: 0.05,
        }
    }
}

/// The command loop: emergencies of the 32 types, the 1-3-5 response, department units.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CommandLoop {
    pub enabled: bool,
    /// Emergencies a day in the whole district at scale 1 (scaled with the district).
    pub incidents_per_day: f64,
    /// Mean delay from an emergency to the call reaching command.
    pub call_delay: Dur,
    /// Share of dispatched volunteers who decline (busy, away).
    pub volunteer_decline_share: f64,
    /// Volunteer guards at scale 1 (the district's figure is 100,000).
    pub volunteers: u32,
    /// Police posts at scale 1 (161 at 92 key areas), unless `posts_csv` gives them.
    pub posts: u32,
    pub key_areas: u32,
    /// A planner's posts: CSV with columns x_m,y_m (local metres) or lon,lat; optional.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub posts_csv: Option<String>,
    /// The datum of `posts_csv`'s lon,lat: "wgs84" (GPS, OpenStreetMap; the default) or
    /// "gcj02" (Chinese web maps). A row's own `crs` column overrides it.
    pub posts_crs: String,
    /// 四员联动: post units also take traffic (rush-hour traffic duty, traffic control at
    /// accidents) and first fire response in their area. Off, posts do police work only.
    pub four_duties: bool,
    pub centres: Centres,
}

/// The "1+10+N+124" centres as people work them: call-takers at the district centre answer
/// the calls in turn and enter each on the platform as soon as they know where and what (the
/// platform then sends the 1-3-5 tiers); department units wait for the lead centre — its
/// dispatcher, or for level I and II a duty leader. Off, a call reaches the platform the moment
/// it is made and everything is dispatched at once (call → dispatch is 0).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Centres {
    pub enabled: bool,
    /// Call-takers on duty at the district centre, 08:00–20:00 and overnight (scaled, at
    /// least one).
    pub call_takers_day: u32,
    pub call_takers_night: u32,
    /// Median time from answering a call to entering it (place and type known; lognormal).
    pub take_call: Dur,
    /// Median rest of the call and its form after the entry, the call-taker still busy.
    pub wrap_up: Dur,
    /// Median time for the lead centre's dispatcher to send the department units (lognormal).
    pub dispatch: Dur,
    /// Department units wait for the lead centre (dispatcher, or duty leader for I and II).
    pub departments_wait: bool,
    /// A leader at any district or street centre may take command of any incident (the seed);
    /// off, only the district centre's two leaders on duty.
    pub leaders_anywhere: bool,
    /// Median time from a leader being free to the decision (lognormal).
    pub leader_decision: Dur,
    /// How long a leader stays in command of an incident, busy for any other.
    pub leader_command: Dur,
}

impl Default for Centres {
    fn default() -> Self {
        Self {
            enabled: true,
            call_takers_day: 12,
            call_takers_night: 6,
            take_call: Dur::secs(40),
            wrap_up: Dur::secs(60),
            dispatch: Dur::secs(45),
            departments_wait: true,
            leaders_anywhere: true,
            leader_decision: Dur::secs(150),
            leader_command: Dur::mins(45),
        }
    }
}

/// The district's video network as a detector: channels see camera-visible grid items in the
/// part of their grid they cover (found by automated detection and by operators' video patrol)
/// and the 57 lookouts see smoke, fire and crowds within their radius. Counts come from the
/// matcher's inventory (`matcher.channels`, `matcher.lookouts`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Video {
    pub enabled: bool,
    /// Share of its grid's street space one channel sees (assumed).
    pub view_share_per_channel: f64,
    /// Of camera-visible items in view, the share automated detection finds, and when.
    pub automated_share: f64,
    pub automated_delay: Dur,
    /// Of those it misses, the share operators' video patrol finds, and the mean wait.
    pub patrol_share: f64,
    pub patrol_delay: Dur,
    /// How far a lookout sees smoke, fire and crowd build-up, in metres.
    pub lookout_radius_m: f64,
    /// Of smoke, fire and crowd build-up in range, the share a lookout's operator raises, and
    /// the mean time to see it.
    pub lookout_share: f64,
    pub lookout_delay: Dur,
}

impl Default for Video {
    fn default() -> Self {
        Self {
            enabled: true,
            view_share_per_channel: 0.03,
            automated_share: 0.5,
            automated_delay: Dur::mins(5),
            patrol_share: 0.3,
            patrol_delay: Dur::mins(60),
            lookout_radius_m: 3000.0,
            lookout_share: 0.7,
            lookout_delay: Dur::secs(45),
        }
    }
}

impl Default for CommandLoop {
    fn default() -> Self {
        Self {
            enabled: true,
            incidents_per_day: 800.0,
            call_delay: Dur::secs(60),
            volunteer_decline_share: 0.1,
            volunteers: 100_000,
            posts: 161,
            key_areas: 92,
            posts_csv: None,
            posts_crs: "wgs84".into(),
            four_duties: true,
            centres: Centres::default(),
        }
    }
}

/// The matcher loop: the district's cameras, face sightings searched against the watchlists,
/// reviewers, and police sent to confirmed leads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MatcherLoop {
    pub enabled: bool,
    /// Face-capture points at scale 1 (the district's figure is 1,034); scaled with the district.
    pub face_points: u32,
    /// Video channels (metadata and footfall only; 42,000) and high-altitude lookouts (57).
    pub channels: u32,
    pub lookouts: u32,
    /// Faces a capture point sees in a day, on average over the points (≈ 15,000).
    pub sightings_per_point_per_day: f64,
    /// Share of passers-by who do not live in the district (commuters, visitors).
    pub visitor_share: f64,
    /// Share of the sightings of people on no list that go through the matcher; their counts
    /// are scaled back up by 1/sampling. Sightings of listed people always go. 1 sends all.
    pub sampling: f64,
    /// Non-mated searches the harness also scores itself against the whole list, for the DET
    /// curve and to check the stack's search (a random subset of those sent).
    pub det_searches: u32,
    /// Embedding dimension of the synthetic faces.
    pub dim: u32,
    /// Capture noise multiplier (1 is the model's base; larger is harder).
    pub noise_scale: f64,
    /// Extra noise for children (under 14) and elderly people (65 and over), and for women:
    /// the model's demographic differential, which the report measures.
    pub child_noise: f64,
    pub elderly_noise: f64,
    pub female_noise: f64,
    /// Synthetic watchlist: wanted persons and missing persons.
    pub wanted: u32,
    pub missing: u32,
    /// Share of listed persons who live in or pass through the district.
    pub listed_present_share: f64,
    /// Share of entries that expire during the run (they must stop matching at once).
    pub expiring_share: f64,
    /// The operator's threshold, calibrated for this FPIR on the list (analytically) ...
    pub target_fpir: f64,
    /// ... unless a threshold is given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    pub top_k: u32,
    /// Distinct reviewers who must confirm an alert before police are sent.
    pub reviewers_required: u32,
    /// Reviewers on duty at any hour.
    pub reviewers_on_duty: u32,
    /// Median time one review takes.
    pub review_time: Dur,
    /// A reviewer confirms an alert on the wrong person with this probability ...
    pub reviewer_false_confirm: f64,
    /// ... and rejects one on the right person with this one.
    pub reviewer_false_reject: f64,
    /// Capture to the sighting reaching the stack (detection, embedding, network).
    pub capture_delay: Dur,
    /// How fast a trail goes cold: police reaching the camera `t` after the capture find the
    /// person with probability exp(-t / trail_time); the owner then takes the entry off the list.
    pub trail_time: Dur,
}

impl Default for MatcherLoop {
    fn default() -> Self {
        Self {
            enabled: true,
            face_points: 1_034,
            channels: 42_000,
            lookouts: 57,
            sightings_per_point_per_day: 15_000.0,
            visitor_share: 0.3,
            sampling: 0.01,
            det_searches: 5_000,
            dim: 512,
            noise_scale: 3.0,
            child_noise: 1.15,
            elderly_noise: 1.1,
            female_noise: 1.03,
            wanted: 800,
            missing: 200,
            listed_present_share: 0.3,
            expiring_share: 0.05,
            target_fpir: 0.001,
            threshold: None,
            top_k: 5,
            reviewers_required: 2,
            reviewers_on_duty: 32,
            review_time: Dur::secs(90),
            reviewer_false_confirm: 0.02,
            reviewer_false_reject: 0.03,
            capture_delay: Dur::secs(2),
            trail_time: Dur::mins(15),
        }
    }
}

/// The block-data loop: department feeds about people and companies, with realistic faults,
/// linked by the platform onto the address library; conflicts verified by grid inspectors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BlocksLoop {
    pub enabled: bool,
    /// Share of the district's people and companies the feeds cover (1 = everyone; smaller
    /// runs faster, and every rate is still measured on what was sent).
    pub coverage: f64,
    /// Door-to-door visits an inspector records a day.
    pub visits_per_inspector_per_day: f64,
    /// Shares of records whose address text is abbreviated (no province/city, short street
    /// names), misses a level (community, unit), names a wrong building number, uses the road's
    /// former name, has full-width digits, or a one-character typo in the road name.
    pub address_abbreviated: f64,
    pub address_missing_level: f64,
    pub address_wrong_building: f64,
    pub address_old_road_name: f64,
    pub address_full_width: f64,
    pub address_typo: f64,
    /// Shares of person records with an ID-number typo (fails its check digit) or a name typo.
    pub id_typo: f64,
    pub name_typo: f64,
    /// Share of people whose household or rental record still shows a home they left.
    pub stale_moved: f64,
    /// Share of records a department sends twice (the same record, or a copy under a new key).
    pub duplicate: f64,
    /// Planted fraud at scale 1: rooms with many companies registered to them, and companies
    /// registered at addresses that do not exist.
    pub fraud_rooms: u32,
    pub companies_per_fraud_room: u32,
    pub fictitious_addresses: u32,
}

/// The cases loops: family and neighbour disputes handled by five agencies (each case with a
/// hidden hazard of turning violent that the right actions in time bring down), courts' credit
/// records with joint penalties, company registrations checked against block data (some false),
/// and follow-up visits of residents in community care.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CasesLoop {
    pub enabled: bool,
    /// Disputes reaching the platform per 100,000 residents a day.
    pub disputes_per_100k_per_day: f64,
    /// Shares of domestic (partners) and other family disputes; the rest are between neighbours.
    pub domestic_share: f64,
    pub family_share: f64,
    /// Agency workers relative to the expected load (1 = just enough on average).
    pub agency_staffing: f64,
    /// Courts' judgments and commendations a day at scale 1, each a credit record.
    pub credit_events_per_day: f64,
    /// Share of dishonesty records issued in error; their subjects appeal.
    pub wrong_penalty_share: f64,
    /// Company registrations a day at scale 1.
    pub registrations_per_day: f64,
    /// Shares of registrations at addresses that do not exist, of shell companies piled into
    /// one flat, and of companies registered where they do not operate.
    pub false_address_share: f64,
    pub shell_share: f64,
    pub misuse_share: f64,
    /// Trading an inspector notices and reports a day at scale 1 (some of it unlicensed).
    pub trading_reports_per_day: f64,
    /// Share of the trading reported that has no registration.
    pub unlicensed_share: f64,
    /// Residents in community care per 1,000 residents.
    pub care_per_1000: f64,
    /// Care workers per community.
    pub care_workers_per_community: u32,
}

impl Default for CasesLoop {
    fn default() -> Self {
        Self {
            enabled: true,
            disputes_per_100k_per_day: 3.0,
            domestic_share: 0.45,
            family_share: 0.3,
            agency_staffing: 1.5,
            credit_events_per_day: 60.0,
            wrong_penalty_share: 0.05,
            registrations_per_day: 300.0,
            false_address_share: 0.01,
            shell_share: 0.02,
            misuse_share: 0.03,
            trading_reports_per_day: 40.0,
            unlicensed_share: 0.3,
            care_per_1000: 5.0,
            care_workers_per_community: 3,
        }
    }
}

/// The key-persons loop: residents with severe mental disorders and in community drug treatment
/// or rehabilitation, their hidden course, and the five-in-one teams that follow them up. Off
/// unless the scenario turns it on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KeyPersonsLoop {
    pub enabled: bool,
    /// People with severe mental disorders under management per 1,000 residents. Default 4.5:
    /// the registered prevalence the National Mental Health Work Plan (2015–2020) set as its
    /// target; Bao'an's own register is not public.
    pub mental_per_1000: f64,
    /// People in community drug treatment per 1,000 residents. Default 0.3: assumed, a share of
    /// the 0.8 per 1,000 registered drug users nationally (China Drug Situation Report 2022).
    pub drug_treatment_per_1000: f64,
    /// People in community rehabilitation per 1,000 residents. Default 0.2: assumed, as above.
    pub rehabilitation_per_1000: f64,
    /// People a community mental-health doctor follows. Default 150: assumed.
    pub doctor_caseload: u32,
    /// People a drug-treatment social worker follows. Default 30: the 30:1 staffing of the
    /// community drug treatment and rehabilitation work norms.
    pub social_worker_caseload: u32,
    /// Community police officers per community. Default 2: assumed.
    pub police_per_community: u32,
    /// Share of working time the members spend on key persons beside their other work (the
    /// grid inspector patrols, the police officer answers calls). Defaults: doctor 0.8, social
    /// worker 0.9, police 0.2, inspector 0.1 — assumed.
    pub doctor_time_share: f64,
    pub social_worker_time_share: f64,
    pub police_time_share: f64,
    pub inspector_time_share: f64,
    /// Hours a follow-up visit takes, travel included. Default 1.5: assumed.
    pub visit_hours: f64,
    /// From this grade a confirmed face sighting of a key person reaches police as well as the
    /// team (0–5; 6 = never). Default 4: assumed policy.
    pub sighting_police_from_risk: u8,
    /// Out-of-team look-ups a day the twin attempts (another team's member, a guardian, an
    /// analyst, a closed record's former team), each of which the stack must refuse and log.
    /// Default 20.
    pub probes_per_day: f64,
    /// Look-ups a team member makes before a visit: the share of visits with one. Default 1.0.
    pub look_up_share: f64,
    /// Times a day a key person passes a face-capture point (their faces are enrolled on the
    /// platform's watchlist as key persons; a confirmed sighting is a care lead). Default 0.02,
    /// assumed: once in fifty days. Only where the matcher loop is off (it owns the watchlist
    /// and its false-alert accounting when on).
    pub sightings_per_person_per_day: f64,
}

impl Default for KeyPersonsLoop {
    fn default() -> Self {
        Self {
            enabled: false,
            mental_per_1000: 4.5,
            drug_treatment_per_1000: 0.3,
            rehabilitation_per_1000: 0.2,
            doctor_caseload: 150,
            social_worker_caseload: 30,
            police_per_community: 2,
            doctor_time_share: 0.8,
            social_worker_time_share: 0.9,
            police_time_share: 0.2,
            inspector_time_share: 0.1,
            visit_hours: 1.5,
            sighting_police_from_risk: 4,
            probes_per_day: 20.0,
            look_up_share: 1.0,
            sightings_per_person_per_day: 0.02,
        }
    }
}

impl Default for BlocksLoop {
    fn default() -> Self {
        Self {
            enabled: true,
            coverage: 1.0,
            visits_per_inspector_per_day: 20.0,
            address_abbreviated: 0.3,
            address_missing_level: 0.1,
            address_wrong_building: 0.01,
            address_old_road_name: 0.05,
            address_full_width: 0.05,
            address_typo: 0.03,
            id_typo: 0.02,
            name_typo: 0.02,
            stale_moved: 0.05,
            duplicate: 0.03,
            fraud_rooms: 40,
            companies_per_fraud_room: 12,
            fictitious_addresses: 100,
        }
    }
}

/// Roads slowed (and perhaps cut) in some streets for a window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Disruption {
    pub start: Dur,
    pub end: Dur,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub streets: Vec<String>,
    /// Travel times are multiplied by this (>= 1).
    pub travel_multiplier: f64,
    /// No unit can reach these streets until the window ends.
    #[serde(default)]
    pub unreachable: bool,
}

/// The stack's modules a fault can hit (`"*"`: all of them): the api's.
pub const FAULT_MODULES: &[&str] = &baoan_api::Module::NAMES;

/// What a fault does to the calls it catches, as a served stack's fault plan means it too. On
/// the harness's path: a module down holds each call until the window ends; a share of errors
/// fails some calls, tried again a little later; latency delivers each call `delay` later; a
/// restart (module `"*"` only) restarts the stack at `start` (a served one from its journal)
/// and holds calls until `end`.
pub use baoan_api::faults::FaultKind;

/// A fault on the path to the stack, for a window of simulated time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fault {
    pub start: Dur,
    pub end: Dur,
    /// A module of the stack (grid, command, matcher, blocks, cases) or `"*"`.
    pub module: String,
    pub kind: FaultKind,
    /// Errors only: the share of calls that fail, in (0, 1].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub share: Option<f64>,
    /// Latency only: how much later each call reaches the stack (at most 1h).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay: Option<Dur>,
}

impl Fault {
    /// The window this fault is, in simulated time from the run's start. A module that is not
    /// the stack's is an error (`check` refuses it first), never every module: only `"*"` is.
    pub fn window(&self) -> Result<FaultWindow, UnknownModule> {
        Ok(FaultWindow {
            start: Duration::from_millis(self.start.ms()),
            end: Duration::from_millis(self.end.ms()),
            module: parse_target(&self.module)?,
            kind: self.kind,
            share: self.share.unwrap_or(0.0),
            latency: Duration::from_millis(self.delay.map_or(0, |d| d.ms())),
        })
    }
}

/// A window in which a loop's rate is multiplied in some streets (or everywhere).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Surge {
    #[serde(rename = "loop")]
    pub target: String,
    pub start: Dur,
    pub end: Dur,
    /// Street names (Chinese or English) or division codes; empty means the whole district.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub streets: Vec<String>,
    pub multiplier: f64,
    /// Command surges only: limit to these emergency categories (empty: all).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<String>,
    /// Command surges only: limit to the key areas' grids.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub key_areas_only: bool,
}

/// A threshold the run must meet, in the spirit of k6's thresholds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Slo {
    pub metric: String,
    pub stat: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Output {
    /// Where the run's folder goes; `out/<name>` when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dir: Option<String>,
    /// Write the event journal (`journal.jsonl`).
    pub journal: bool,
    /// Write JUnit XML of the SLOs and invariants (`junit.xml`).
    pub junit: bool,
    /// Write `index.html` with the plots.
    pub html: bool,
    /// What the report's map colours grids by.
    pub map_metric: String,
    /// How often the backlog is sampled for the series in the report.
    pub backlog_every: Dur,
}

impl Default for Output {
    fn default() -> Self {
        Self {
            dir: None,
            journal: false,
            junit: false,
            html: yes(),
            map_metric: "report_to_closed_s".into(),
            backlog_every: Dur::mins(10),
        }
    }
}

/// One thing wrong with a scenario, with where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub file: String,
    pub line: usize,
    pub column: usize,
    /// The field, such as `grid.patrol.sweep`; empty when the problem is the file's syntax.
    pub field: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.file, self.line, self.column)?;
        if !self.field.is_empty() {
            write!(f, "`{}`: ", self.field)?;
        }
        f.write_str(&self.message)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("{file}: cannot read the scenario: {source}")]
    Read {
        file: String,
        source: std::io::Error,
    },
    #[error("{}", .problems.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("\n"))]
    Invalid { problems: Vec<Problem> },
}

impl Scenario {
    /// Read and validate a scenario file.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
            file: file.clone(),
            source,
        })?;
        Scenario::parse(&file, &text)
    }

    /// Parse and validate scenario text; `file` names it in errors.
    pub fn parse(file: &str, text: &str) -> Result<Scenario, ScenarioError> {
        let source = SourceMap::new(file, text);
        let mut scenario: Scenario = toml::from_str(text).map_err(|e| {
            let (line, column) = e.span().map_or((1, 1), |s| source.line_col(s.start));
            ScenarioError::Invalid {
                problems: vec![Problem {
                    file: file.into(),
                    line,
                    column,
                    field: String::new(),
                    message: e.message().trim().to_string(),
                }],
            }
        })?;
        scenario.source = source;
        scenario.take_assumptions()?;
        scenario.check()?;
        Ok(scenario)
    }

    /// Write the `[assumptions]` table's field overrides into their fields; a value a field
    /// cannot take is refused where the table is.
    fn take_assumptions(&mut self) -> Result<(), ScenarioError> {
        let problems: Vec<Problem> = self
            .apply_field_assumptions()
            .into_iter()
            .map(|(name, message)| self.problem(&format!("assumptions.{name}"), message))
            .collect();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ScenarioError::Invalid { problems })
        }
    }

    /// The scenario as a TOML file that parses back to the same scenario.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("a scenario always serialises")
    }

    /// Apply command-line overrides, then validate again (an override can be out of range too).
    pub fn with_overrides(
        mut self,
        seed: Option<u64>,
        scale: Option<f64>,
    ) -> Result<Scenario, ScenarioError> {
        if let Some(s) = seed {
            self.seed = s;
        }
        if let Some(s) = scale {
            self.scale = s;
        }
        self.check()?;
        Ok(self)
    }

    /// The seed the district is built with: `district_seed`, else `seed`.
    pub fn district_seed(&self) -> u64 {
        self.district_seed.unwrap_or(self.seed)
    }

    /// Set assumptions by name (`--set NAME=V`, a sweep's settings), over the scenario's own
    /// `[assumptions]`, then validate again.
    pub fn with_assumptions(mut self, sets: &[(String, f64)]) -> Result<Scenario, ScenarioError> {
        for (name, v) in sets {
            self.assumptions.insert(name.clone(), *v);
        }
        self.take_assumptions()?;
        self.check()?;
        Ok(self)
    }

    /// A located error for a field, for checks that need knowledge this crate does not have
    /// (such as whether a street name exists).
    pub fn problem(&self, field: &str, message: impl Into<String>) -> Problem {
        let (line, column) = self.source.locate(field);
        let file = if self.source.file.is_empty() {
            "<scenario>".to_string()
        } else {
            self.source.file.clone()
        };
        Problem {
            file,
            line,
            column,
            field: field.into(),
            message: message.into(),
        }
    }

    /// The output folder: the file's `output.dir`, else `out/<name>`.
    pub fn output_dir(&self) -> String {
        self.output
            .dir
            .clone()
            .unwrap_or_else(|| format!("out/{}", self.name))
    }

    /// Every range and consistency rule the schema cannot express by types alone.
    ///
    /// One function per section of the scenario, always called in the same order, so the same
    /// file gives the same list of problems; a new section is one new function.
    pub fn check(&self) -> Result<(), ScenarioError> {
        let mut p = Vec::new();
        let mut bad = |field: &str, msg: String| p.push(self.problem(field, msg));
        self.check_run(&mut bad);
        self.check_grid(&mut bad);
        self.check_patrol(&mut bad);
        self.check_surges(&mut bad);
        self.check_disruptions(&mut bad);
        self.check_faults(&mut bad);
        self.check_command(&mut bad);
        self.check_centres(&mut bad);
        self.check_video(&mut bad);
        self.check_blocks(&mut bad);
        self.check_cases(&mut bad);
        self.check_key_persons(&mut bad);
        self.check_matcher_sizes(&mut bad);
        self.check_matcher_behaviour(&mut bad);
        self.check_slos(&mut bad);
        self.check_output(&mut bad);
        self.check_assumptions(&mut bad);
        if p.is_empty() {
            Ok(())
        } else {
            Err(ScenarioError::Invalid { problems: p })
        }
    }

    /// The run as a whole: its name, seed, length, tick and scale.
    fn check_run(&self, bad: &mut impl FnMut(&str, String)) {
        if self.name.starts_with('.')
            || self.name.trim().is_empty()
            || self.name.len() > 80
            || !self
                .name
                .chars()
                .all(|c| c.is_alphanumeric() || "-_.".contains(c))
        {
            bad(
                "name",
                format!(
                    "expected 1-80 letters, digits, '-', '_' or '.', got {:?}",
                    self.name
                ),
            );
        }
        if let Some(d) = self.district_seed.filter(|d| *d > i64::MAX as u64) {
            bad(
                "district_seed",
                format!("expected 0..={}, got {d}", i64::MAX),
            );
        }
        if self.seed > i64::MAX as u64 {
            bad(
                "seed",
                format!("expected 0..={}, got {}", i64::MAX, self.seed),
            );
        }
        if self.duration.ms() == 0 || self.duration > MAX_DURATION {
            bad(
                "duration",
                format!(
                    "expected more than 0 and at most {MAX_DURATION}, got {}",
                    self.duration
                ),
            );
        }
        self.check_tick(bad);
        if !(self.scale > 0.0 && self.scale <= 1.0) {
            bad(
                "scale",
                format!("expected a number in (0, 1], got {}", self.scale),
            );
        }
    }

    /// The tick: it divides an hour, the backlog interval and the run's length.
    fn check_tick(&self, bad: &mut impl FnMut(&str, String)) {
        let t = self.tick.ms();
        // Hourly work (items, emergencies) happens at the tick that starts each hour, so a tick
        // must divide an hour exactly; and the backlog is sampled on tick boundaries.
        let tick_ok = t > 0
            && t <= 60_000
            && 3_600_000 % t == 0
            && (t < 1000 && 1000 % t == 0 || t.is_multiple_of(1000));
        if !tick_ok {
            bad(
                "tick",
                format!(
                    "expected 1ms..=60s dividing an hour evenly: a divisor of a second, or whole seconds dividing 3600 (e.g. 100ms, 1s, 10s, 15s, 60s), got {}",
                    self.tick
                ),
            );
        } else if !self.output.backlog_every.ms().is_multiple_of(t) {
            bad(
                "output.backlog_every",
                format!(
                    "expected a whole number of ticks ({}), got {}",
                    self.tick, self.output.backlog_every
                ),
            );
        }
        if self.tick.ms() > 0 && !self.duration.ms().is_multiple_of(self.tick.ms()) {
            bad(
                "duration",
                format!(
                    "expected a whole number of ticks ({}), got {}",
                    self.tick, self.duration
                ),
            );
        }
    }

    /// The grid loop's rates, staffing and hourly profile.
    fn check_grid(&self, bad: &mut impl FnMut(&str, String)) {
        let g = &self.grid;
        range(
            bad,
            "grid.items_per_grid_per_day",
            g.items_per_grid_per_day,
            0.0,
            1000.0,
        );
        range(bad, "grid.hotline_share", g.hotline_share, 0.0, 1.0);
        range(bad, "grid.on_spot_share", g.on_spot_share, 0.0, 1.0);
        range(bad, "grid.rework_share", g.rework_share, 0.0, 0.95);
        if !(g.resolver_staffing > 0.0 && g.resolver_staffing <= 10.0) {
            bad(
                "grid.resolver_staffing",
                format!("expected a number in (0, 10], got {}", g.resolver_staffing),
            );
        }
        if g.hotline_delay.ms() == 0 || g.hotline_delay > Dur::hours(24 * 7) {
            bad(
                "grid.hotline_delay",
                format!(
                    "expected more than 0 and at most 7d, got {}",
                    g.hotline_delay
                ),
            );
        }
        match (&g.profile, &g.hourly) {
            (Some(_), Some(_)) => bad(
                "grid.hourly",
                "give either `profile` or `hourly`, not both".into(),
            ),
            (Some(name), None) if !PROFILES.contains(&name.as_str()) => bad(
                "grid.profile",
                format!("expected one of {}, got {name:?}", PROFILES.join(", ")),
            ),
            (None, Some(h))
                if h.len() != 24
                    || h.iter().any(|w| !(w.is_finite() && *w >= 0.0))
                    || h.iter().sum::<f64>() <= 0.0 =>
            {
                bad(
                    "grid.hourly",
                    format!(
                        "expected 24 non-negative weights, not all zero (midnight first), got {} values",
                        h.len()
                    ),
                )
            }
            _ => {}
        }
    }

    /// The inspectors' patrol: shifts in order within a day, sweep, detection and delay.
    fn check_patrol(&self, bad: &mut impl FnMut(&str, String)) {
        let pat = &self.grid.patrol;
        if pat.shifts.is_empty() || pat.shifts.len() > 6 {
            bad(
                "grid.patrol.shifts",
                format!("expected 1 to 6 shifts, got {}", pat.shifts.len()),
            );
        }
        let mut previous_end = Dur(0);
        for (i, [start, end]) in pat.shifts.iter().enumerate() {
            if start >= end || *end > Dur::hours(24) || *start < previous_end {
                bad(
                    &format!("grid.patrol.shifts[{i}]"),
                    format!(
                        "expected start < end within one day, after the previous shift; got {start} to {end}"
                    ),
                );
            }
            previous_end = *end;
        }
        if pat.sweep < Dur::mins(5) || pat.sweep > Dur::hours(24) {
            bad(
                "grid.patrol.sweep",
                format!("expected 5m..=24h, got {}", pat.sweep),
            );
        }
        if !(pat.detect_probability > 0.0 && pat.detect_probability <= 1.0) {
            bad(
                "grid.patrol.detect_probability",
                format!(
                    "expected a probability in (0, 1], got {}",
                    pat.detect_probability
                ),
            );
        }
        if pat.report_delay > Dur::hours(2) {
            bad(
                "grid.patrol.report_delay",
                format!("expected at most 2h, got {}", pat.report_delay),
            );
        }
    }

    /// Surges: their loop, window and multiplier, then what only command surges take.
    fn check_surges(&self, bad: &mut impl FnMut(&str, String)) {
        if self.surges.len() > 1000 {
            bad(
                "surge",
                format!("expected at most 1000 surges, got {}", self.surges.len()),
            );
        }
        for (i, s) in self.surges.iter().enumerate() {
            if !surge_target_names().contains(&s.target.as_str()) {
                bad(
                    &format!("surge[{i}].loop"),
                    format!(
                        "expected one of {}, got {:?}",
                        surge_target_names().join(", "),
                        s.target
                    ),
                );
            }
            if s.start >= s.end {
                bad(
                    &format!("surge[{i}].end"),
                    format!(
                        "expected an end after the start ({}), got {}",
                        s.start, s.end
                    ),
                );
            }
            if !(s.multiplier >= 0.0 && s.multiplier <= 100.0) {
                bad(
                    &format!("surge[{i}].multiplier"),
                    format!("expected a number in [0, 100], got {}", s.multiplier),
                );
            }
        }
        for (i, s) in self.surges.iter().enumerate() {
            for (j, c) in s.categories.iter().enumerate() {
                if !CATEGORIES.contains(&c.as_str()) {
                    bad(
                        &format!("surge[{i}].categories[{j}]"),
                        format!("expected one of {}, got {c:?}", CATEGORIES.join(", ")),
                    );
                }
            }
            if s.target != "command" && (!s.categories.is_empty() || s.key_areas_only) {
                bad(
                    &format!("surge[{i}]"),
                    "`categories` and `key_areas_only` apply to command surges only".into(),
                );
            }
        }
    }

    /// Disruptions: their window and how much they slow travel.
    fn check_disruptions(&self, bad: &mut impl FnMut(&str, String)) {
        for (i, d) in self.disruptions.iter().enumerate() {
            if d.start >= d.end {
                bad(
                    &format!("disruption[{i}].end"),
                    format!(
                        "expected an end after the start ({}), got {}",
                        d.start, d.end
                    ),
                );
            }
            if !(d.travel_multiplier >= 1.0 && d.travel_multiplier <= 20.0) {
                bad(
                    &format!("disruption[{i}].travel_multiplier"),
                    format!("expected a number in [1, 20], got {}", d.travel_multiplier),
                );
            }
        }
    }

    /// Faults: their window and module, then the parameters their kind takes.
    fn check_faults(&self, bad: &mut impl FnMut(&str, String)) {
        for (i, f) in self.faults.iter().enumerate() {
            if f.start == Dur(0) {
                bad(
                    &format!("fault[{i}].start"),
                    "expected a time after the start (the loops' set-up calls at 0 are not \
                     faulted), got 0s"
                        .into(),
                );
            }
            if f.start >= f.end {
                bad(
                    &format!("fault[{i}].end"),
                    format!(
                        "expected an end after the start ({}), got {}",
                        f.start, f.end
                    ),
                );
            }
            if f.module != "*" && !FAULT_MODULES.contains(&f.module.as_str()) {
                bad(
                    &format!("fault[{i}].module"),
                    format!(
                        "expected \"*\" or one of {}, got {:?}",
                        FAULT_MODULES.join(", "),
                        f.module
                    ),
                );
            }
            Self::check_fault_parameters(i, f, bad);
        }
    }

    /// A fault's share or delay, which its kind decides (and a restart's module, always "*").
    fn check_fault_parameters(i: usize, f: &Fault, bad: &mut impl FnMut(&str, String)) {
        match (f.kind, f.share, f.delay) {
            (FaultKind::Errors, Some(s), None) if s > 0.0 && s <= 1.0 => {}
            (FaultKind::Errors, Some(s), None) => bad(
                &format!("fault[{i}].share"),
                format!("expected a share in (0, 1], got {s}"),
            ),
            (FaultKind::Errors, None, _) => bad(
                &format!("fault[{i}].share"),
                "an errors fault needs a share, such as share = 0.1".into(),
            ),
            (FaultKind::Latency, None, Some(d)) if d > Dur(0) && d <= Dur::hours(1) => {}
            (FaultKind::Latency, None, Some(d)) => bad(
                &format!("fault[{i}].delay"),
                format!("expected a delay in (0s, 1h], got {d}"),
            ),
            (FaultKind::Latency, _, None) => bad(
                &format!("fault[{i}].delay"),
                "a latency fault needs a delay, such as delay = \"30s\"".into(),
            ),
            (FaultKind::Down, None, None) => {}
            (FaultKind::Restart, None, None) if f.module == "*" => {}
            (FaultKind::Restart, None, None) => bad(
                &format!("fault[{i}].module"),
                format!(
                    "a restart is the whole stack's: expected \"*\", got {:?}",
                    f.module
                ),
            ),
            (kind, share, _) => bad(
                &format!(
                    "fault[{i}].{}",
                    if share.is_some() { "share" } else { "delay" }
                ),
                format!(
                    "a {} fault takes {}",
                    kind.as_str(),
                    match kind {
                        FaultKind::Down | FaultKind::Restart => "neither share nor delay",
                        FaultKind::Errors => "a share, not a delay",
                        FaultKind::Latency => "a delay, not a share",
                    }
                ),
            ),
        }
    }

    /// The command loop's incident rate, volunteers and posts.
    fn check_command(&self, bad: &mut impl FnMut(&str, String)) {
        let c = &self.command;
        range(
            bad,
            "command.incidents_per_day",
            c.incidents_per_day,
            0.0,
            1_000_000.0,
        );
        range(
            bad,
            "command.volunteer_decline_share",
            c.volunteer_decline_share,
            0.0,
            1.0,
        );
        if c.call_delay > Dur::hours(1) {
            bad(
                "command.call_delay",
                format!("expected at most 1h, got {}", c.call_delay),
            );
        }
        if c.volunteers > 1_000_000 {
            bad(
                "command.volunteers",
                format!("expected at most 1,000,000, got {}", c.volunteers),
            );
        }
        if c.posts == 0 || c.posts > 10_000 || c.key_areas == 0 || c.key_areas > c.posts {
            bad(
                "command.posts",
                format!(
                    "expected 1..=10000 posts and 1..=posts key areas, got {} posts at {} key areas",
                    c.posts, c.key_areas
                ),
            );
        }
    }

    /// The centres' staff and times, and the supervisors'.
    fn check_centres(&self, bad: &mut impl FnMut(&str, String)) {
        let c = &self.command.centres;
        for (field, n) in [
            ("command.centres.call_takers_day", c.call_takers_day),
            ("command.centres.call_takers_night", c.call_takers_night),
        ] {
            if n == 0 || n > 10_000 {
                bad(field, format!("expected 1..=10000 call-takers, got {n}"));
            }
        }
        for (field, d, most) in [
            ("command.centres.take_call", c.take_call, Dur::mins(30)),
            ("command.centres.wrap_up", c.wrap_up, Dur::mins(30)),
            ("command.centres.dispatch", c.dispatch, Dur::mins(30)),
            (
                "command.centres.leader_decision",
                c.leader_decision,
                Dur::hours(2),
            ),
            (
                "command.centres.leader_command",
                c.leader_command,
                Dur::hours(24),
            ),
            (
                "grid.supervision.act_within",
                self.grid.supervision.act_within,
                Dur::hours(72),
            ),
            (
                "grid.patrol.visit_time",
                self.grid.patrol.visit_time,
                Dur::hours(4),
            ),
        ] {
            if d.ms() == 0 || d > most {
                bad(
                    field,
                    format!("expected more than 0s and at most {most}, got {d}"),
                );
            }
        }
        range(
            bad,
            "grid.patrol.visit_budget_share",
            self.grid.patrol.visit_budget_share,
            0.05,
            1.0,
        );
        range(
            bad,
            "grid.patrol.finding_error_share",
            self.grid.patrol.finding_error_share,
            0.0,
            0.5,
        );
    }

    /// The video network's shares, delays and the lookouts' reach.
    fn check_video(&self, bad: &mut impl FnMut(&str, String)) {
        let v = &self.video;
        range(
            bad,
            "video.view_share_per_channel",
            v.view_share_per_channel,
            0.0,
            1.0,
        );
        range(bad, "video.automated_share", v.automated_share, 0.0, 1.0);
        range(bad, "video.patrol_share", v.patrol_share, 0.0, 1.0);
        range(bad, "video.lookout_share", v.lookout_share, 0.0, 1.0);
        range(
            bad,
            "video.lookout_radius_m",
            v.lookout_radius_m,
            0.0,
            20_000.0,
        );
        for (field, d) in [
            ("video.automated_delay", v.automated_delay),
            ("video.patrol_delay", v.patrol_delay),
            ("video.lookout_delay", v.lookout_delay),
        ] {
            if d.ms() == 0 || d > Dur::hours(24) {
                bad(
                    field,
                    format!("expected more than 0s and at most 24h, got {d}"),
                );
            }
        }
    }

    /// Block data: coverage, visit rate, the shares of each kind of dirty record, and fraud counts.
    fn check_blocks(&self, bad: &mut impl FnMut(&str, String)) {
        let b = &self.blocks;
        if !(b.coverage > 0.0 && b.coverage <= 1.0) {
            bad(
                "blocks.coverage",
                format!("expected a share in (0, 1], got {}", b.coverage),
            );
        }
        range(
            bad,
            "blocks.visits_per_inspector_per_day",
            b.visits_per_inspector_per_day,
            0.0,
            1_000.0,
        );
        for (field, v) in [
            ("blocks.address_abbreviated", b.address_abbreviated),
            ("blocks.address_missing_level", b.address_missing_level),
            ("blocks.address_wrong_building", b.address_wrong_building),
            ("blocks.address_old_road_name", b.address_old_road_name),
            ("blocks.address_full_width", b.address_full_width),
            ("blocks.address_typo", b.address_typo),
            ("blocks.id_typo", b.id_typo),
            ("blocks.name_typo", b.name_typo),
            ("blocks.stale_moved", b.stale_moved),
            ("blocks.duplicate", b.duplicate),
        ] {
            range(bad, field, v, 0.0, 1.0);
        }
        for (field, v) in [
            ("blocks.fraud_rooms", b.fraud_rooms),
            (
                "blocks.companies_per_fraud_room",
                b.companies_per_fraud_room,
            ),
            ("blocks.fictitious_addresses", b.fictitious_addresses),
        ] {
            if v > 100_000 {
                bad(field, format!("expected at most 100,000, got {v}"));
            }
        }
    }

    /// The cases loop's rates, staffing and shares (those that split one whole sum to at most 1).
    fn check_cases(&self, bad: &mut impl FnMut(&str, String)) {
        let k = &self.cases;
        for (field, v, hi) in [
            (
                "cases.disputes_per_100k_per_day",
                k.disputes_per_100k_per_day,
                10_000.0,
            ),
            ("cases.agency_staffing", k.agency_staffing, 100.0),
            (
                "cases.credit_events_per_day",
                k.credit_events_per_day,
                1_000_000.0,
            ),
            (
                "cases.registrations_per_day",
                k.registrations_per_day,
                1_000_000.0,
            ),
            (
                "cases.trading_reports_per_day",
                k.trading_reports_per_day,
                1_000_000.0,
            ),
            ("cases.care_per_1000", k.care_per_1000, 1_000.0),
        ] {
            range(bad, field, v, 0.0, hi);
        }
        if k.agency_staffing <= 0.0 {
            bad(
                "cases.agency_staffing",
                format!("expected more than 0, got {}", k.agency_staffing),
            );
        }
        for (field, v) in [
            ("cases.domestic_share", k.domestic_share),
            ("cases.family_share", k.family_share),
            ("cases.wrong_penalty_share", k.wrong_penalty_share),
            ("cases.false_address_share", k.false_address_share),
            ("cases.shell_share", k.shell_share),
            ("cases.misuse_share", k.misuse_share),
            ("cases.unlicensed_share", k.unlicensed_share),
        ] {
            range(bad, field, v, 0.0, 1.0);
        }
        if k.domestic_share + k.family_share > 1.0 {
            bad(
                "cases.family_share",
                format!(
                    "expected domestic_share + family_share <= 1, got {}",
                    k.domestic_share + k.family_share
                ),
            );
        }
        if k.false_address_share + k.shell_share + k.misuse_share > 1.0 {
            bad(
                "cases.misuse_share",
                "expected false_address_share + shell_share + misuse_share <= 1".to_string(),
            );
        }
        if k.enabled && (k.care_workers_per_community == 0 || k.care_workers_per_community > 1_000)
        {
            bad(
                "cases.care_workers_per_community",
                format!("expected 1..=1000, got {}", k.care_workers_per_community),
            );
        }
    }

    /// The key-persons loop: prevalences, caseloads, time shares, the sighting policy.
    fn check_key_persons(&self, bad: &mut impl FnMut(&str, String)) {
        let k = &self.key_persons;
        for (field, v, hi) in [
            ("key_persons.mental_per_1000", k.mental_per_1000, 100.0),
            (
                "key_persons.drug_treatment_per_1000",
                k.drug_treatment_per_1000,
                100.0,
            ),
            (
                "key_persons.rehabilitation_per_1000",
                k.rehabilitation_per_1000,
                100.0,
            ),
            ("key_persons.visit_hours", k.visit_hours, 24.0),
            ("key_persons.probes_per_day", k.probes_per_day, 1_000_000.0),
            (
                "key_persons.sightings_per_person_per_day",
                k.sightings_per_person_per_day,
                100.0,
            ),
        ] {
            range(bad, field, v, 0.0, hi);
        }
        for (field, v) in [
            ("key_persons.doctor_time_share", k.doctor_time_share),
            (
                "key_persons.social_worker_time_share",
                k.social_worker_time_share,
            ),
            ("key_persons.police_time_share", k.police_time_share),
            ("key_persons.inspector_time_share", k.inspector_time_share),
            ("key_persons.look_up_share", k.look_up_share),
        ] {
            range(bad, field, v, 0.0, 1.0);
        }
        if k.visit_hours <= 0.0 {
            bad(
                "key_persons.visit_hours",
                format!("expected more than 0 hours, got {}", k.visit_hours),
            );
        }
        for (field, v) in [
            ("key_persons.doctor_caseload", k.doctor_caseload),
            (
                "key_persons.social_worker_caseload",
                k.social_worker_caseload,
            ),
            ("key_persons.police_per_community", k.police_per_community),
        ] {
            if !(1..=10_000).contains(&v) {
                bad(field, format!("expected 1..=10000, got {v}"));
            }
        }
        for (field, v) in [
            ("key_persons.doctor_time_share", k.doctor_time_share),
            (
                "key_persons.social_worker_time_share",
                k.social_worker_time_share,
            ),
            ("key_persons.police_time_share", k.police_time_share),
        ] {
            if k.enabled && v <= 0.0 {
                bad(
                    field,
                    "expected more than 0: nobody would follow anyone up".into(),
                );
            }
        }
        if k.sighting_police_from_risk > 6 {
            bad(
                "key_persons.sighting_police_from_risk",
                format!(
                    "expected a grade 0..=5, or 6 for never, got {}",
                    k.sighting_police_from_risk
                ),
            );
        }
    }

    /// The matcher's sizes: cameras, watchlists, embedding, candidates and reviewers.
    fn check_matcher_sizes(&self, bad: &mut impl FnMut(&str, String)) {
        let m = &self.matcher;
        for (field, v, hi) in [
            ("matcher.face_points", m.face_points, 100_000),
            ("matcher.channels", m.channels, 10_000_000),
            ("matcher.lookouts", m.lookouts, 10_000),
            ("matcher.det_searches", m.det_searches, 1_000_000),
            ("matcher.wanted", m.wanted, 10_000_000),
            ("matcher.missing", m.missing, 10_000_000),
            ("matcher.reviewers_on_duty", m.reviewers_on_duty, 10_000),
        ] {
            if v > hi {
                bad(field, format!("expected at most {hi}, got {v}"));
            }
        }
        if !(16..=4096).contains(&m.dim) {
            bad("matcher.dim", format!("expected 16..=4096, got {}", m.dim));
        }
        if !(1..=100).contains(&m.top_k) {
            bad(
                "matcher.top_k",
                format!("expected 1..=100, got {}", m.top_k),
            );
        }
        if !(1..=5).contains(&m.reviewers_required)
            || m.reviewers_required > m.reviewers_on_duty.max(1)
        {
            bad(
                "matcher.reviewers_required",
                format!(
                    "expected 1..=5 and no more than reviewers_on_duty ({}), got {}",
                    m.reviewers_on_duty, m.reviewers_required
                ),
            );
        }
        if m.enabled && m.reviewers_on_duty == 0 {
            bad(
                "matcher.reviewers_on_duty",
                "expected at least 1 reviewer".into(),
            );
        }
    }

    /// The matcher's behaviour: sighting rates, noise, watchlist shares, review and timing.
    fn check_matcher_behaviour(&self, bad: &mut impl FnMut(&str, String)) {
        let m = &self.matcher;
        range(
            bad,
            "matcher.sightings_per_point_per_day",
            m.sightings_per_point_per_day,
            0.0,
            1_000_000.0,
        );
        range(bad, "matcher.visitor_share", m.visitor_share, 0.0, 1.0);
        if !(m.sampling > 0.0 && m.sampling <= 1.0) {
            bad(
                "matcher.sampling",
                format!("expected a share in (0, 1], got {}", m.sampling),
            );
        }
        range(bad, "matcher.noise_scale", m.noise_scale, 0.0, 20.0);
        range(bad, "matcher.child_noise", m.child_noise, 0.1, 10.0);
        range(bad, "matcher.elderly_noise", m.elderly_noise, 0.1, 10.0);
        range(bad, "matcher.female_noise", m.female_noise, 0.1, 10.0);
        range(
            bad,
            "matcher.listed_present_share",
            m.listed_present_share,
            0.0,
            1.0,
        );
        range(bad, "matcher.expiring_share", m.expiring_share, 0.0, 1.0);
        range(
            bad,
            "matcher.reviewer_false_confirm",
            m.reviewer_false_confirm,
            0.0,
            1.0,
        );
        range(
            bad,
            "matcher.reviewer_false_reject",
            m.reviewer_false_reject,
            0.0,
            1.0,
        );
        if !(m.target_fpir > 0.0 && m.target_fpir < 1.0) {
            bad(
                "matcher.target_fpir",
                format!("expected a rate in (0, 1), got {}", m.target_fpir),
            );
        }
        if let Some(t) = m.threshold {
            range(bad, "matcher.threshold", t, -1.0, 1.0);
        }
        if m.review_time < Dur::secs(1) || m.review_time > Dur::hours(2) {
            bad(
                "matcher.review_time",
                format!("expected 1s..=2h, got {}", m.review_time),
            );
        }
        if m.trail_time < Dur::secs(1) || m.trail_time > Dur::hours(24) {
            bad(
                "matcher.trail_time",
                format!("expected 1s..=24h, got {}", m.trail_time),
            );
        }
        if m.capture_delay > Dur::mins(10) {
            bad(
                "matcher.capture_delay",
                format!("expected at most 10m, got {}", m.capture_delay),
            );
        }
    }

    /// SLOs: a known metric, a statistic it offers, and finite bounds in order.
    fn check_slos(&self, bad: &mut impl FnMut(&str, String)) {
        for (i, slo) in self.slos.iter().enumerate() {
            match metrics::metric(&slo.metric) {
                None => bad(
                    &format!("slo[{i}].metric"),
                    format!(
                        "unknown metric {:?}; expected one of {}",
                        slo.metric,
                        METRICS
                            .iter()
                            .map(|m| m.name)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ),
                Some(def) => {
                    let stats = metrics::stats_for(def.kind);
                    if !stats.contains(&slo.stat.as_str()) {
                        bad(
                            &format!("slo[{i}].stat"),
                            format!(
                                "{} offers {}, got {:?}",
                                slo.metric,
                                stats.join(", "),
                                slo.stat
                            ),
                        );
                    }
                }
            }
            match (slo.min, slo.max) {
                (None, None) => bad(
                    &format!("slo[{i}]"),
                    "expected a bound: `max`, `min` or both".into(),
                ),
                (Some(lo), Some(hi)) if lo > hi => bad(
                    &format!("slo[{i}].min"),
                    format!("min {lo} is above max {hi}"),
                ),
                (lo, hi)
                    if lo.is_some_and(|v| !v.is_finite()) || hi.is_some_and(|v| !v.is_finite()) =>
                {
                    bad(&format!("slo[{i}]"), "bounds must be finite numbers".into())
                }
                _ => {}
            }
        }
    }

    /// The output's map metric and backlog sampling interval.
    fn check_output(&self, bad: &mut impl FnMut(&str, String)) {
        if !MAP_METRICS.contains(&self.output.map_metric.as_str()) {
            bad(
                "output.map_metric",
                format!(
                    "expected one of {}, got {:?}",
                    MAP_METRICS.join(", "),
                    self.output.map_metric
                ),
            );
        }
        if self.output.backlog_every < Dur::secs(1) || self.output.backlog_every > Dur::hours(24) {
            bad(
                "output.backlog_every",
                format!("expected 1s..=24h, got {}", self.output.backlog_every),
            );
        }
    }
}

impl Scenario {
    /// SLOs whose metric cannot vary on the in-process stack, with why: a gate that cannot fail
    /// tells its user nothing (`twin validate` warns of each).
    pub fn constant_slos(&self) -> Vec<(usize, String)> {
        self.slos
            .iter()
            .enumerate()
            .filter_map(|(i, slo)| {
                let why = match slo.metric.as_str() {
                    "grid.report_to_dispatch_s" => {
                        "the platform dispatches a report in the same simulated instant it \
                         accepts it, so the metric is always 0"
                    }
                    "blocks.arrival_to_view_s" => {
                        "a record is in the block views once its batch is answered, in the \
                         instant it was sent, so the metric is always 0"
                    }
                    "command.call_to_dispatch_s" if !self.command.centres.enabled => {
                        "with no call-takers modelled ([command.centres] enabled = false) a \
                         call is dispatched the instant it is made, so the metric is always 0"
                    }
                    _ => return None,
                };
                Some((i, format!("slo[{i}] ({}): {why}", slo.metric)))
            })
            .collect()
    }
}

fn range(bad: &mut impl FnMut(&str, String), field: &str, v: f64, lo: f64, hi: f64) {
    if !(v >= lo && v <= hi) {
        bad(field, format!("expected a number in [{lo}, {hi}], got {v}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = "name = \"t\"\nduration = \"2h\"\n";

    fn problems(text: &str) -> Vec<Problem> {
        match Scenario::parse("s.toml", text) {
            Err(ScenarioError::Invalid { problems }) => problems,
            other => panic!("expected problems, got {other:?}"),
        }
    }

    #[test]
    fn a_minimal_file_takes_the_defaults() {
        let s = Scenario::parse("s.toml", MINIMAL).unwrap();
        assert_eq!(s.duration, Dur::hours(2));
        assert_eq!(s.tick, Dur::secs(1));
        assert_eq!(s.scale, 1.0);
        assert!(s.grid.enabled);
        let w = s.grid.hourly_weights();
        assert!((w.iter().sum::<f64>() - 24.0).abs() < 1e-9);
    }

    #[test]
    fn unknown_keys_are_refused_where_they_stand() {
        let p = problems("name = \"t\"\nduration = \"2h\"\n[grid]\nitems_per_grid_per_dya = 3\n");
        assert_eq!((p[0].line, p[0].column), (4, 1), "{p:?}");
        assert!(
            p[0].message
                .contains("unknown field `items_per_grid_per_dya`"),
            "{}",
            p[0].message
        );
        assert!(p[0].to_string().starts_with("s.toml:4:1: "));
    }

    #[test]
    fn wrong_types_name_what_was_expected() {
        let p = problems("name = \"t\"\nduration = \"2h\"\nscale = \"big\"\n");
        assert_eq!(p[0].line, 3);
        assert!(
            p[0].message.contains("f64") || p[0].message.contains("float"),
            "{}",
            p[0].message
        );
        let p = problems("name = \"t\"\nduration = \"2 fortnights\"\n");
        assert_eq!((p[0].line, p[0].column), (2, 12), "{p:?}");
        assert!(p[0].message.contains("unknown unit"), "{}", p[0].message);
    }

    #[test]
    fn ticks_must_divide_an_hour_and_names_must_not_climb_folders() {
        let p = problems("name = \"t\"\nduration = \"7h\"\ntick = \"7s\"\n");
        assert_eq!(p[0].field, "tick", "{p:?}");
        let p = problems("name = \"..\"\nduration = \"1h\"\n");
        assert_eq!(p[0].field, "name", "{p:?}");
        assert!(
            Scenario::parse(
                "s.toml",
                "name = \"t\"\nduration = \"1h\"\ntick = \"15s\"\n"
            )
            .is_ok()
        );
    }

    #[test]
    fn out_of_range_values_point_at_the_value() {
        let text =
            "name = \"t\"\nduration = \"2h\"\nscale = 1.5\n[grid.patrol]\ndetect_probability = 0\n";
        let p = problems(text);
        assert_eq!(p.len(), 2, "{p:?}");
        assert_eq!(
            (p[0].field.as_str(), p[0].line, p[0].column),
            ("scale", 3, 9)
        );
        assert_eq!(
            (p[1].field.as_str(), p[1].line),
            ("grid.patrol.detect_probability", 5)
        );
        assert!(p[1].message.contains("(0, 1]"));
    }

    #[test]
    fn slos_must_name_known_metrics_and_fitting_stats() {
        let text = format!(
            "{MINIMAL}[[slo]]\nmetric = \"grid.report_to_closed_s\"\nstat = \"p90\"\nmax = 1\n[[slo]]\nmetric = \"grid.closed_share\"\nstat = \"p90\"\nmin = 0.5\n[[slo]]\nmetric = \"nope\"\nstat = \"p50\"\nmax = 1\n"
        );
        let p = problems(&text);
        assert_eq!(p.len(), 2, "{p:?}");
        assert_eq!((p[0].field.as_str(), p[0].line), ("slo[1].stat", 9));
        assert_eq!((p[1].field.as_str(), p[1].line), ("slo[2].metric", 12));
    }

    #[test]
    fn surges_need_a_known_loop_and_an_end_after_the_start() {
        let text = format!(
            "{MINIMAL}[[surge]]\nloop = \"grid\"\nstart = \"10:00\"\nend = \"09:00\"\nmultiplier = 2\n"
        );
        let p = problems(&text);
        assert_eq!(p[0].field, "surge[0].end");
        assert_eq!(p[0].line, 6);
    }

    #[test]
    fn faults_name_the_field_and_what_it_takes() {
        let fault = |body: &str| format!("{MINIMAL}[[fault]]\nmodule = \"grid\"\n{body}");
        let ok = Scenario::parse(
            "s.toml",
            &fault("start = \"00:30\"\nend = \"01:00\"\nkind = \"errors\"\nshare = 0.2\n"),
        )
        .unwrap();
        assert_eq!(ok.faults[0].kind, FaultKind::Errors);
        for (body, field, says) in [
            (
                "start = \"0s\"\nend = \"1h\"\nkind = \"down\"\n",
                "fault[0].start",
                "after the start",
            ),
            (
                "start = \"01:00\"\nend = \"00:30\"\nkind = \"down\"\n",
                "fault[0].end",
                "end after",
            ),
            (
                "start = \"1h\"\nend = \"2h\"\nkind = \"errors\"\n",
                "fault[0].share",
                "needs a share",
            ),
            (
                "start = \"1h\"\nend = \"2h\"\nkind = \"errors\"\nshare = 2\n",
                "fault[0].share",
                "(0, 1]",
            ),
            (
                "start = \"1h\"\nend = \"2h\"\nkind = \"latency\"\n",
                "fault[0].delay",
                "needs a delay",
            ),
            (
                "start = \"1h\"\nend = \"2h\"\nkind = \"latency\"\ndelay = \"2h\"\n",
                "fault[0].delay",
                "(0s, 1h]",
            ),
            (
                "start = \"1h\"\nend = \"2h\"\nkind = \"down\"\nshare = 0.5\n",
                "fault[0].share",
                "neither share nor delay",
            ),
            (
                "start = \"1h\"\nend = \"2h\"\nkind = \"restart\"\n",
                "fault[0].module",
                "whole stack's",
            ),
        ] {
            let p = problems(&fault(body));
            assert_eq!(p[0].field, field, "{body}: {p:?}");
            assert!(p[0].message.contains(says), "{body}: {p:?}");
            assert!(p[0].line >= 3, "located in the file: {p:?}");
        }
        let p = problems(&format!(
            "{MINIMAL}[[fault]]\nmodule = \"cameras\"\nstart = \"1h\"\nend = \"2h\"\nkind = \"down\"\n"
        ));
        assert_eq!(p[0].field, "fault[0].module");
        assert!(
            p[0].message
                .contains("grid, command, matcher, blocks, cases"),
            "{p:?}"
        );
    }

    #[test]
    fn overrides_are_validated_too() {
        let s = Scenario::parse("s.toml", MINIMAL).unwrap();
        assert!(s.clone().with_overrides(Some(9), Some(0.01)).is_ok());
        assert!(s.with_overrides(None, Some(0.0)).is_err());
    }

    #[test]
    fn the_library_of_scenarios_parses() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut seen = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "toml")
                && path.file_name() != Some("Cargo.toml".as_ref())
            {
                Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
                seen += 1;
            }
        }
        assert!(
            seen >= 2,
            "expected smoke.toml and baseline-day.toml in scenarios/"
        );
    }
}
