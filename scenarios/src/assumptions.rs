//! Every behaviour number of the twin as a named assumption: its value, unit and source.
//!
//! A figure a run reports rests on dozens of numbers the twin assumes — detection
//! probabilities, delays, decline shares, speeds, effect sizes. Here each has one name, and a
//! scenario's `[assumptions]` table, `twin run --set NAME=V` and `twin sweep --set/--vary` change
//! it by that name; `twin assumptions` prints them all and `report.json` lists those a run changed.
//!
//! Two kinds, one catalogue:
//!
//! - **Scenario fields** (`FIELDS`): numbers a scenario section already carries (`grid.patrol.
//!   detect_probability`). The name is the field's path; the default is the section's default;
//!   an override is written into the field, and the section's own checks apply to it.
//! - **Code assumptions** (`code::ALL`): numbers the loops and the district used to hold as
//!   constants (a unit's turnout, a mode's pace). The loops read them through
//!   `Scenario::assumption(&code::X)`, so a typo in a name cannot compile.
//!
//! Values are plain numbers in the listed unit: durations in seconds, shares in 0..1.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::{Scenario, dur::Dur};

/// How a scenario field holds its number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// A real number.
    Number,
    /// A whole number (a count, a grade).
    Integer,
    /// A duration, given in seconds.
    Duration,
}

/// A number a scenario section carries: its path, unit and where it comes from.
pub struct FieldAssumption {
    pub name: &'static str,
    pub kind: FieldKind,
    pub unit: &'static str,
    pub source: &'static str,
}

/// A number the loops or the district read at set-up.
#[derive(Debug, Clone, Copy)]
pub struct CodeAssumption {
    pub name: &'static str,
    pub default: f64,
    pub unit: &'static str,
    pub source: &'static str,
    /// The values it may take (inclusive); an override outside is refused.
    pub min: f64,
    pub max: f64,
    pub integer: bool,
}

/// One line of the catalogue as `twin assumptions --json` prints it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AssumptionValue {
    pub name: String,
    pub value: f64,
    pub unit: String,
    pub source: String,
}

/// An assumption a scenario (or `--set`) moved off its default, for report.json.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChangedAssumption {
    pub name: String,
    pub value: f64,
    pub default: f64,
    pub unit: String,
    pub source: String,
}

const ASSUMED: &str = "assumed";

macro_rules! fields {
    ($($name:literal, $kind:ident, $unit:literal, $source:expr;)*) => {
        /// The scenario fields that are behaviour numbers, by path. A numeric field not listed
        /// here must be in `HARNESS_SETTINGS` (a test walks the schema to keep it so).
        pub const FIELDS: &[FieldAssumption] = &[$(FieldAssumption {
            name: $name,
            kind: FieldKind::$kind,
            unit: $unit,
            source: $source,
        }),*];
    };
}

fields! {
    "grid.items_per_grid_per_day", Number, "items/grid/day", ASSUMED;
    "grid.hotline_share", Number, "share", ASSUMED;
    "grid.hotline_delay", Duration, "s", ASSUMED;
    "grid.on_spot_share", Number, "share", ASSUMED;
    "grid.rework_share", Number, "share", ASSUMED;
    "grid.resolver_staffing", Number, "× expected load", ASSUMED;
    "grid.patrol.sweep", Duration, "s", ASSUMED;
    "grid.patrol.detect_probability", Number, "probability", ASSUMED;
    "grid.patrol.report_delay", Duration, "s", ASSUMED;
    "grid.patrol.visit_time", Duration, "s", ASSUMED;
    "grid.patrol.visit_budget_share", Number, "share", ASSUMED;
    "grid.patrol.finding_error_share", Number, "share", ASSUMED;
    "grid.supervision.act_within", Duration, "s", ASSUMED;
    "command.incidents_per_day", Number, "incidents/day", ASSUMED;
    "command.call_delay", Duration, "s", ASSUMED;
    "command.volunteer_decline_share", Number, "share", ASSUMED;
    "command.volunteers", Integer, "guards", "the district's published figure (100,000 volunteer guards)";
    "command.posts", Integer, "posts", "the district's published figure (161 posts at 92 key areas)";
    "command.key_areas", Integer, "areas", "the district's published figure (92 key areas)";
    "command.centres.call_takers_day", Integer, "call-takers", ASSUMED;
    "command.centres.call_takers_night", Integer, "call-takers", ASSUMED;
    "command.centres.take_call", Duration, "s", ASSUMED;
    "command.centres.wrap_up", Duration, "s", ASSUMED;
    "command.centres.dispatch", Duration, "s", ASSUMED;
    "command.centres.leader_decision", Duration, "s", ASSUMED;
    "command.centres.leader_command", Duration, "s", ASSUMED;
    "video.view_share_per_channel", Number, "share of a grid", ASSUMED;
    "video.automated_share", Number, "share", ASSUMED;
    "video.automated_delay", Duration, "s", ASSUMED;
    "video.patrol_share", Number, "share", ASSUMED;
    "video.patrol_delay", Duration, "s", ASSUMED;
    "video.lookout_radius_m", Number, "m", ASSUMED;
    "video.lookout_share", Number, "share", ASSUMED;
    "video.lookout_delay", Duration, "s", ASSUMED;
    "matcher.face_points", Integer, "points", "the district's published figure (1,034 face-capture points)";
    "matcher.channels", Integer, "channels", "the district's published figure (42,000 video channels)";
    "matcher.lookouts", Integer, "lookouts", "the district's published figure (57 high-altitude lookouts)";
    "matcher.sightings_per_point_per_day", Number, "faces/point/day", ASSUMED;
    "matcher.visitor_share", Number, "share", ASSUMED;
    "matcher.noise_scale", Number, "× base noise", ASSUMED;
    "matcher.child_noise", Number, "× noise", "assumed, in the direction of NIST FRVT's demographic findings (NISTIR 8280)";
    "matcher.elderly_noise", Number, "× noise", "assumed, in the direction of NIST FRVT's demographic findings (NISTIR 8280)";
    "matcher.female_noise", Number, "× noise", "assumed, in the direction of NIST FRVT's demographic findings (NISTIR 8280)";
    "matcher.wanted", Integer, "persons", ASSUMED;
    "matcher.missing", Integer, "persons", ASSUMED;
    "matcher.listed_present_share", Number, "share", ASSUMED;
    "matcher.expiring_share", Number, "share", ASSUMED;
    "matcher.target_fpir", Number, "rate", "the operator's setting (a decision, not a belief)";
    "matcher.top_k", Integer, "candidates", "the operator's setting (a decision, not a belief)";
    "matcher.reviewers_required", Integer, "reviewers", "the platform's rule: two reviewers confirm an alert";
    "matcher.reviewers_on_duty", Integer, "reviewers", ASSUMED;
    "matcher.review_time", Duration, "s", ASSUMED;
    "matcher.reviewer_false_confirm", Number, "probability", ASSUMED;
    "matcher.reviewer_false_reject", Number, "probability", ASSUMED;
    "matcher.capture_delay", Duration, "s", ASSUMED;
    "matcher.trail_time", Duration, "s", ASSUMED;
    "blocks.visits_per_inspector_per_day", Number, "visits/day", ASSUMED;
    "blocks.address_abbreviated", Number, "share", ASSUMED;
    "blocks.address_missing_level", Number, "share", ASSUMED;
    "blocks.address_wrong_building", Number, "share", ASSUMED;
    "blocks.address_old_road_name", Number, "share", ASSUMED;
    "blocks.address_full_width", Number, "share", ASSUMED;
    "blocks.address_typo", Number, "share", ASSUMED;
    "blocks.id_typo", Number, "share", ASSUMED;
    "blocks.name_typo", Number, "share", ASSUMED;
    "blocks.stale_moved", Number, "share", ASSUMED;
    "blocks.duplicate", Number, "share", ASSUMED;
    "blocks.fraud_rooms", Integer, "rooms", ASSUMED;
    "blocks.companies_per_fraud_room", Integer, "companies", ASSUMED;
    "blocks.fictitious_addresses", Integer, "addresses", ASSUMED;
    "cases.disputes_per_100k_per_day", Number, "disputes/100k/day", ASSUMED;
    "cases.domestic_share", Number, "share", ASSUMED;
    "cases.family_share", Number, "share", ASSUMED;
    "cases.agency_staffing", Number, "× expected load", ASSUMED;
    "cases.credit_events_per_day", Number, "records/day", ASSUMED;
    "cases.wrong_penalty_share", Number, "share", ASSUMED;
    "cases.registrations_per_day", Number, "registrations/day", ASSUMED;
    "cases.false_address_share", Number, "share", ASSUMED;
    "cases.shell_share", Number, "share", ASSUMED;
    "cases.misuse_share", Number, "share", ASSUMED;
    "cases.trading_reports_per_day", Number, "reports/day", ASSUMED;
    "cases.unlicensed_share", Number, "share", ASSUMED;
    "cases.care_per_1000", Number, "per 1,000 residents", ASSUMED;
    "cases.care_workers_per_community", Integer, "workers", ASSUMED;
    "key_persons.mental_per_1000", Number, "per 1,000 residents", "the National Mental Health Work Plan (2015–2020)'s registered-prevalence target";
    "key_persons.drug_treatment_per_1000", Number, "per 1,000 residents", "assumed: a share of the 0.8 per 1,000 registered drug users (China Drug Situation Report 2022)";
    "key_persons.rehabilitation_per_1000", Number, "per 1,000 residents", "assumed: a share of the 0.8 per 1,000 registered drug users (China Drug Situation Report 2022)";
    "key_persons.doctor_caseload", Integer, "persons/doctor", ASSUMED;
    "key_persons.social_worker_caseload", Integer, "persons/worker", "the community drug treatment and rehabilitation work norms (30:1)";
    "key_persons.police_per_community", Integer, "officers", ASSUMED;
    "key_persons.doctor_time_share", Number, "share", ASSUMED;
    "key_persons.social_worker_time_share", Number, "share", ASSUMED;
    "key_persons.police_time_share", Number, "share", ASSUMED;
    "key_persons.inspector_time_share", Number, "share", ASSUMED;
    "key_persons.visit_hours", Number, "h", ASSUMED;
    "key_persons.sighting_police_from_risk", Integer, "grade", "assumed policy";
    "key_persons.probes_per_day", Number, "look-ups/day", ASSUMED;
    "key_persons.look_up_share", Number, "share", ASSUMED;
    "key_persons.sightings_per_person_per_day", Number, "sightings/day", ASSUMED;
}

/// Numeric scenario fields that are not behaviour but how the harness measures it (how much of
/// the work it samples, how big the synthetic faces are): not assumptions, never varied.
pub const HARNESS_SETTINGS: &[&str] = &[
    "matcher.sampling",
    "matcher.det_searches",
    "matcher.dim",
    "blocks.coverage",
];

/// The numbers the loops and the district read in code.
pub mod code {
    use super::{ASSUMED, CodeAssumption};

    const fn a(
        name: &'static str,
        default: f64,
        unit: &'static str,
        min: f64,
        max: f64,
    ) -> CodeAssumption {
        CodeAssumption {
            name,
            default,
            unit,
            source: ASSUMED,
            min,
            max,
            integer: false,
        }
    }

    /// Walking pace on the network (a brisk walk; volunteers go on foot).
    pub const WALK_SPEED: CodeAssumption = a("travel.walk.speed_m_per_s", 1.3, "m/s", 0.3, 4.0);
    /// An auxiliary police officer's e-bike pace.
    pub const EBIKE_SPEED: CodeAssumption = a("travel.ebike.speed_m_per_s", 4.5, "m/s", 1.0, 12.0);
    /// A patrol car's pace before congestion (32 km/h).
    pub const CAR_SPEED: CodeAssumption = a("travel.car.speed_m_per_s", 9.0, "m/s", 2.0, 30.0);
    /// How much longer real streets are than the network's straight links, by mode.
    pub const WALK_STREET_FACTOR: CodeAssumption =
        a("travel.walk.street_factor", 1.15, "× straight", 1.0, 3.0);
    pub const EBIKE_STREET_FACTOR: CodeAssumption =
        a("travel.ebike.street_factor", 1.2, "× straight", 1.0, 3.0);
    pub const CAR_STREET_FACTOR: CodeAssumption =
        a("travel.car.street_factor", 1.3, "× straight", 1.0, 3.0);
    /// Fixed start-up of a trip: unlocking the e-bike; reaching the car and leaving the lot.
    pub const EBIKE_OVERHEAD: CodeAssumption = a("travel.ebike.overhead_s", 20.0, "s", 0.0, 600.0);
    pub const CAR_OVERHEAD: CodeAssumption = a("travel.car.overhead_s", 90.0, "s", 0.0, 600.0);
    /// From a unit's dispatch to its setting off, by class.
    pub const TURNOUT_VOLUNTEER: CodeAssumption =
        a("command.turnout.volunteer_s", 30.0, "s", 0.0, 1800.0);
    pub const TURNOUT_AUXILIARY: CodeAssumption =
        a("command.turnout.auxiliary_police_s", 30.0, "s", 0.0, 1800.0);
    pub const TURNOUT_POLICE: CodeAssumption =
        a("command.turnout.police_s", 30.0, "s", 0.0, 1800.0);
    pub const TURNOUT_FIRE_MEDICAL: CodeAssumption =
        a("command.turnout.fire_medical_s", 60.0, "s", 0.0, 1800.0);
    pub const TURNOUT_HAZMAT_FLOOD: CodeAssumption =
        a("command.turnout.hazmat_flood_s", 120.0, "s", 0.0, 3600.0);
    /// Spread of the centres' handling times around their medians (lognormal σ).
    pub const HANDLING_SIGMA: CodeAssumption = a(
        "command.centres.handling_sigma",
        0.5,
        "lognormal σ",
        0.0,
        2.0,
    );
    /// Share of emergencies on a patrolling inspector's beat that the inspector reports first.
    pub const INSPECTOR_REPORTED_SHARE: CodeAssumption =
        a("command.inspector_reported_share", 0.15, "share", 0.0, 1.0);
    /// Mean wait of a further call about an emergency after its first call.
    pub const EXTRA_CALL_SPREAD: CodeAssumption =
        a("command.extra_call_spread_s", 120.0, "s", 0.0, 7200.0);
    /// A resolver whose resolve the platform cannot take yet (its accept not yet held) tries
    /// again after this long.
    pub const RESOLVE_RETRY: CodeAssumption = a("grid.resolve_retry_s", 60.0, "s", 1.0, 3600.0);
    /// Spread of an inspector's visit times around `grid.patrol.visit_time` (lognormal σ).
    pub const VISIT_SIGMA: CodeAssumption =
        a("grid.patrol.visit_sigma", 0.4, "lognormal σ", 0.0, 2.0);
    pub const ALL: &[CodeAssumption] = &[
        WALK_SPEED,
        EBIKE_SPEED,
        CAR_SPEED,
        WALK_STREET_FACTOR,
        EBIKE_STREET_FACTOR,
        CAR_STREET_FACTOR,
        EBIKE_OVERHEAD,
        CAR_OVERHEAD,
        TURNOUT_VOLUNTEER,
        TURNOUT_AUXILIARY,
        TURNOUT_POLICE,
        TURNOUT_FIRE_MEDICAL,
        TURNOUT_HAZMAT_FLOOD,
        HANDLING_SIGMA,
        INSPECTOR_REPORTED_SHARE,
        EXTRA_CALL_SPREAD,
        RESOLVE_RETRY,
        VISIT_SIGMA,
    ];
}

/// Whether `name` is an assumption (a scenario field's or a code one's).
pub fn is_known(name: &str) -> bool {
    field(name).is_some() || code_by_name(name).is_some()
}

pub fn field(name: &str) -> Option<&'static FieldAssumption> {
    FIELDS.iter().find(|f| f.name == name)
}

pub fn code_by_name(name: &str) -> Option<&'static CodeAssumption> {
    code::ALL.iter().find(|c| c.name == name)
}

/// "unknown assumption `x`", with the three nearest names, for every place a name is taken.
pub fn unknown(name: &str) -> String {
    let mut near: Vec<(usize, &str)> = names().map(|n| (edits(name, n), n)).collect();
    near.sort();
    let near: Vec<&str> = near.iter().take(3).map(|p| p.1).collect();
    format!(
        "unknown assumption `{name}`: did you mean {}? (`twin assumptions` lists them all)",
        near.join(", ")
    )
}

/// Levenshtein distance, for suggesting names (a dozen lines; not worth a crate).
fn edits(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

fn names() -> impl Iterator<Item = &'static str> {
    FIELDS
        .iter()
        .map(|f| f.name)
        .chain(code::ALL.iter().map(|c| c.name))
}

/// The scenario sections' defaults as one TOML table, for the fields' default values.
fn default_tree() -> toml::Table {
    #[derive(Serialize)]
    struct Sections {
        grid: crate::GridLoop,
        command: crate::CommandLoop,
        video: crate::Video,
        matcher: crate::MatcherLoop,
        blocks: crate::BlocksLoop,
        cases: crate::CasesLoop,
        key_persons: crate::KeyPersonsLoop,
    }
    let s = Sections {
        grid: Default::default(),
        command: Default::default(),
        video: Default::default(),
        matcher: Default::default(),
        blocks: Default::default(),
        cases: Default::default(),
        key_persons: Default::default(),
    };
    toml::Table::try_from(&s).expect("the sections serialise")
}

fn lookup<'a>(tree: &'a toml::Table, path: &str) -> Option<&'a toml::Value> {
    let mut parts = path.split('.');
    let mut v = tree.get(parts.next()?)?;
    for p in parts {
        v = v.as_table()?.get(p)?;
    }
    Some(v)
}

fn number_of(kind: FieldKind, v: &toml::Value) -> Option<f64> {
    match (kind, v) {
        (FieldKind::Duration, toml::Value::String(s)) => Dur::parse(s).ok().map(Dur::as_secs_f64),
        (FieldKind::Duration, toml::Value::Integer(i)) => Some(*i as f64),
        (_, toml::Value::Integer(i)) => Some(*i as f64),
        (_, toml::Value::Float(f)) => Some(*f),
        _ => None,
    }
}

/// The value a field assumption has in a tree (a scenario's, or the defaults').
fn field_value(tree: &toml::Table, f: &FieldAssumption) -> f64 {
    lookup(tree, f.name)
        .and_then(|v| number_of(f.kind, v))
        .unwrap_or_else(|| panic!("assumption {} is not a number in the schema", f.name))
}

/// The TOML value an override writes into a field, or why it cannot.
fn field_toml(f: &FieldAssumption, v: f64) -> Result<toml::Value, String> {
    if !v.is_finite() {
        return Err(format!("expected a finite number, got {v}"));
    }
    match f.kind {
        FieldKind::Number => Ok(toml::Value::Float(v)),
        FieldKind::Integer if v.fract() == 0.0 && v >= 0.0 && v <= u32::MAX as f64 => {
            Ok(toml::Value::Integer(v as i64))
        }
        FieldKind::Integer => Err(format!("expected a whole number ≥ 0 ({}), got {v}", f.unit)),
        FieldKind::Duration if v >= 0.0 && v < 1e12 => Ok(toml::Value::String(format!(
            "{}ms",
            (v * 1000.0).round() as u64
        ))),
        FieldKind::Duration => Err(format!("expected seconds ≥ 0, got {v}")),
    }
}

/// The whole catalogue at its defaults, in order: the scenario fields, then the code ones.
pub fn catalogue() -> Vec<AssumptionValue> {
    let tree = default_tree();
    FIELDS
        .iter()
        .map(|f| AssumptionValue {
            name: f.name.into(),
            value: field_value(&tree, f),
            unit: f.unit.into(),
            source: f.source.into(),
        })
        .chain(code::ALL.iter().map(|c| AssumptionValue {
            name: c.name.into(),
            value: c.default,
            unit: c.unit.into(),
            source: c.source.into(),
        }))
        .collect()
}

impl Scenario {
    /// A code assumption's value in this scenario: its override, else its default.
    pub fn assumption(&self, a: &CodeAssumption) -> f64 {
        self.assumptions.get(a.name).copied().unwrap_or(a.default)
    }

    /// Every assumption's value in this scenario, in the catalogue's order.
    pub fn assumption_values(&self) -> Vec<AssumptionValue> {
        let tree = toml::Table::try_from(self).expect("a scenario serialises");
        let mut all = catalogue();
        for a in &mut all {
            a.value = match field(&a.name) {
                Some(f) => field_value(&tree, f),
                None => self.assumptions.get(&a.name).copied().unwrap_or(a.value),
            };
        }
        all
    }

    /// The assumptions whose value here is not their default, for report.json.
    pub fn changed_assumptions(&self) -> Vec<ChangedAssumption> {
        catalogue()
            .into_iter()
            .zip(self.assumption_values())
            .filter(|(d, v)| d.value != v.value)
            .map(|(d, v)| ChangedAssumption {
                name: v.name,
                value: v.value,
                default: d.value,
                unit: v.unit,
                source: v.source,
            })
            .collect()
    }

    /// Write the `[assumptions]` table's scenario-field overrides into their fields. Returns
    /// each name that could not be taken, with why.
    pub(crate) fn apply_field_assumptions(&mut self) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        let overrides: Vec<(&'static FieldAssumption, f64)> = self
            .assumptions
            .iter()
            .filter_map(|(name, v)| field(name).map(|f| (f, *v)))
            .collect();
        if overrides.is_empty() {
            return problems;
        }
        let mut tree = toml::Table::try_from(&*self).expect("a scenario serialises");
        for (f, v) in overrides {
            match field_toml(f, v) {
                Ok(value) => set_path(&mut tree, f.name, value),
                Err(e) => problems.push((f.name.to_string(), e)),
            }
        }
        match tree.try_into::<Scenario>() {
            Ok(mut s) => {
                s.source = std::mem::take(&mut self.source);
                *self = s;
            }
            Err(e) => problems.push(("assumptions".into(), e.message().trim().to_string())),
        }
        problems
    }

    /// Unknown names and code assumptions out of their range.
    pub(crate) fn check_assumptions(&self, bad: &mut impl FnMut(&str, String)) {
        for (name, &v) in &self.assumptions {
            let at = format!("assumptions.{name}");
            if field(name).is_some() {
                continue;
            }
            let Some(c) = code_by_name(name) else {
                bad(&at, unknown(name));
                continue;
            };
            if !(v.is_finite() && v >= c.min && v <= c.max) || c.integer && v.fract() != 0.0 {
                bad(
                    &at,
                    format!(
                        "expected {} in {}..={} {}, got {v}",
                        if c.integer {
                            "a whole number"
                        } else {
                            "a number"
                        },
                        c.min,
                        c.max,
                        c.unit
                    ),
                );
            }
        }
    }
}

/// Overrides as `NAME=V` pairs (`--set`), checked by name; the value parsed as a number.
pub fn parse_set(text: &str) -> Result<(String, f64), String> {
    let (name, value) = text
        .split_once('=')
        .ok_or_else(|| format!("--set {text}: expected NAME=VALUE"))?;
    let name = name.trim();
    if !is_known(name) {
        return Err(format!("--set {text}: {}", unknown(name)));
    }
    let v: f64 = value.trim().parse().map_err(|_| {
        format!(
            "--set {text}: expected a number after `=`, got `{}`",
            value.trim()
        )
    })?;
    Ok((name.to_string(), v))
}

fn set_path(tree: &mut toml::Table, path: &str, value: toml::Value) {
    let (head, last) = path.rsplit_once('.').expect("a field path has a section");
    let mut t = tree;
    for p in head.split('.') {
        t = t
            .entry(p)
            .or_insert_with(|| toml::Value::Table(Default::default()))
            .as_table_mut()
            .expect("a section is a table");
    }
    t.insert(last.to_string(), value);
}

/// Overrides sorted by name: the form a scenario and a sweep's run record keep them in.
pub type Overrides = BTreeMap<String, f64>;

#[cfg(test)]
mod tests {
    use super::*;

    /// Every numeric leaf of the sections' defaults is an assumption or a harness setting, and
    /// every listed field exists: a new number in the schema must be named here.
    #[test]
    fn every_numeric_field_is_an_assumption_or_a_harness_setting() {
        fn walk(prefix: &str, t: &toml::Table, out: &mut Vec<String>) {
            for (k, v) in t {
                let path = format!("{prefix}{k}");
                match v {
                    toml::Value::Table(inner) => walk(&format!("{path}."), inner, out),
                    toml::Value::Integer(_) | toml::Value::Float(_) => out.push(path),
                    toml::Value::String(s) if Dur::parse(s).is_ok() && !s.contains(':') => {
                        out.push(path)
                    }
                    _ => {}
                }
            }
        }
        let mut leaves = Vec::new();
        walk("", &default_tree(), &mut leaves);
        let missing: Vec<&String> = leaves
            .iter()
            .filter(|l| field(l).is_none() && !HARNESS_SETTINGS.contains(&l.as_str()))
            .collect();
        assert!(
            missing.is_empty(),
            "numbers with no assumption: {missing:?}"
        );
        for f in FIELDS {
            assert!(
                leaves.iter().any(|l| l == f.name),
                "{} is not a field",
                f.name
            );
        }
    }

    #[test]
    fn names_are_unique_and_defaults_in_range() {
        let mut names: Vec<&str> = names().collect();
        let n = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), n, "a name is listed twice");
        for c in code::ALL {
            assert!(c.min <= c.default && c.default <= c.max, "{}", c.name);
        }
    }

    const BASE: &str = "name = \"t\"\nduration = \"1h\"\n";

    #[test]
    fn a_scenario_overrides_fields_and_code_assumptions_by_name() {
        let text = format!(
            "{BASE}[command]\ncall_delay = \"30s\"\n[assumptions]\n\"command.call_delay\" = 90\n\
             \"matcher.reviewers_on_duty\" = 40\n\"command.turnout.police_s\" = 45\n"
        );
        let s = Scenario::parse("t.toml", &text).unwrap();
        assert_eq!(
            s.command.call_delay,
            Dur::secs(90),
            "the table wins over the section"
        );
        assert_eq!(s.matcher.reviewers_on_duty, 40);
        assert_eq!(s.assumption(&code::TURNOUT_POLICE), 45.0);
        assert_eq!(s.assumption(&code::TURNOUT_VOLUNTEER), 30.0);
        let changed: Vec<(String, f64, f64)> = s
            .changed_assumptions()
            .into_iter()
            .map(|c| (c.name, c.value, c.default))
            .collect();
        assert_eq!(
            changed,
            vec![
                ("command.call_delay".into(), 90.0, 60.0),
                ("matcher.reviewers_on_duty".into(), 40.0, 32.0),
                ("command.turnout.police_s".into(), 45.0, 30.0),
            ]
        );
        // The echo parses back to the same scenario.
        let again = Scenario::parse("echo.toml", &s.to_toml()).unwrap();
        assert_eq!(again.command, s.command);
        assert_eq!(again.assumptions, s.assumptions);
    }

    #[test]
    fn bad_overrides_are_refused_where_written() {
        let text = format!("{BASE}[assumptions]\n\"command.call_dealy\" = 90\n");
        let e = Scenario::parse("t.toml", &text).unwrap_err().to_string();
        assert!(e.starts_with("t.toml:3:"), "{e}");
        assert!(e.contains("unknown assumption `command.call_dealy`"), "{e}");
        let text = format!("{BASE}[assumptions]\n\"matcher.reviewers_on_duty\" = 2.5\n");
        let e = Scenario::parse("t.toml", &text).unwrap_err().to_string();
        assert!(e.contains("expected a whole number"), "{e}");
        let text = format!("{BASE}[assumptions]\n\"travel.car.speed_m_per_s\" = 0\n");
        let e = Scenario::parse("t.toml", &text).unwrap_err().to_string();
        assert!(
            e.contains("travel.car.speed_m_per_s") && e.contains("2..=30"),
            "{e}"
        );
        let text = format!("{BASE}[assumptions]\n\"grid.patrol.detect_probability\" = 1.5\n");
        let e = Scenario::parse("t.toml", &text).unwrap_err().to_string();
        assert!(
            e.contains("detect_probability"),
            "the section's own check applies: {e}"
        );
    }

    #[test]
    fn set_parses_and_refuses_unknown_names() {
        assert_eq!(
            parse_set("command.call_delay=90").unwrap(),
            ("command.call_delay".to_string(), 90.0)
        );
        let e = parse_set("command.call_dealy=90").unwrap_err();
        assert!(e.contains("unknown assumption `command.call_dealy`"), "{e}");
        assert!(
            e.contains("command.call_delay"),
            "the near name is offered: {e}"
        );
        assert!(parse_set("command.call_delay").is_err());
        assert!(parse_set("command.call_delay=fast").is_err());
    }
}
