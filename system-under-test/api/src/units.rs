//! The command loop's vocabulary: response units and their classes, the "1-3-5" tiers, and the
//! "1+10+N+124" command centres.

use serde::{Deserialize, Serialize};

use crate::emergency::{Owner, UnitKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct UnitId(pub u32);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct IncidentId(pub u64);

/// What a unit is: one of the three tiers of the 1-3-5 rule, or a department's unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum UnitClass {
    /// 义警: building heads, shop heads, property staff, guards — on foot, within 1 minute.
    Volunteer,
    /// 辅警: within 3 minutes.
    AuxiliaryPolice,
    /// 民警: within 5 minutes.
    Police,
    Fire,
    Medical,
    Hazmat,
    Flood,
}

impl UnitClass {
    pub const ALL: [UnitClass; 7] = [
        UnitClass::Volunteer,
        UnitClass::AuxiliaryPolice,
        UnitClass::Police,
        UnitClass::Fire,
        UnitClass::Medical,
        UnitClass::Hazmat,
        UnitClass::Flood,
    ];
    /// The three tiers of the 1-3-5 rule.
    pub const TIERS: [UnitClass; 3] = [
        UnitClass::Volunteer,
        UnitClass::AuxiliaryPolice,
        UnitClass::Police,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            UnitClass::Volunteer => "volunteer",
            UnitClass::AuxiliaryPolice => "auxiliary_police",
            UnitClass::Police => "police",
            UnitClass::Fire => "fire",
            UnitClass::Medical => "medical",
            UnitClass::Hazmat => "hazmat",
            UnitClass::Flood => "flood",
        }
    }

    /// The 1-3-5 limit from the call, in seconds, for the three tiers.
    pub fn limit_s(self) -> Option<f64> {
        match self {
            UnitClass::Volunteer => Some(60.0),
            UnitClass::AuxiliaryPolice => Some(180.0),
            UnitClass::Police => Some(300.0),
            _ => None,
        }
    }

    pub fn of_kind(kind: UnitKind) -> UnitClass {
        match kind {
            UnitKind::Fire => UnitClass::Fire,
            UnitKind::Medical => UnitClass::Medical,
            UnitKind::Hazmat => UnitClass::Hazmat,
            UnitKind::Flood => UnitClass::Flood,
        }
    }
}

/// A command centre of the "1+10+N+124" structure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "level", content = "id", rename_all = "snake_case")]
pub enum Centre {
    /// The community's micro command centre (one of 124).
    Community(u32),
    /// The street's sub-centre (one of 10).
    Street(u32),
    /// A department's sub-centre, for its own types.
    Department(Owner),
    /// The district centre.
    District,
}

impl Centre {
    /// Community < department or street < district: where an escalation goes next.
    pub fn rank(self) -> u8 {
        match self {
            Centre::Community(_) => 0,
            Centre::Street(_) | Centre::Department(_) => 1,
            Centre::District => 2,
        }
    }
}

/// A response unit the command module knows: where it is based.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct UnitEntry {
    pub unit: UnitId,
    pub class: UnitClass,
    pub x_m: f64,
    pub y_m: f64,
    pub grid: u32,
    /// Whether the unit starts the run on duty.
    pub on_duty: bool,
}

/// A leader's duty shift at district and street centres.
pub const DUTY_SHIFT_MS: crate::Millis = 8 * 3_600_000;

/// The two leaders of a centre's roster (sorted by person) on duty at `now`: the roster turns
/// two places each shift.
pub fn leaders_on_duty(roster: &[crate::PersonId], now: crate::Millis) -> Vec<crate::PersonId> {
    if roster.is_empty() {
        return vec![];
    }
    let shift = (now / DUTY_SHIFT_MS) as usize;
    let mut out = vec![roster[(2 * shift) % roster.len()]];
    let second = roster[(2 * shift + 1) % roster.len()];
    if second != out[0] {
        out.push(second);
    }
    out
}

/// A leader who can be on duty at a district or street centre.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct LeaderEntry {
    pub person: crate::PersonId,
    pub centre: Centre,
}

/// The district's roads as the command module's arrival estimator reads them: nodes in the
/// district's local metres and the directed arcs a vehicle may take between them (an arc's
/// length is the straight line between its ends). The harness sends the same graph its own
/// travel times come from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct RoadNetwork {
    pub nodes: Vec<[f64; 2]>,
    pub arcs: Vec<[u32; 2]>,
}

/// The command module's organisation data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CommandDirectory {
    /// Indexed by grid id: (community, street).
    pub grids: Vec<(u32, u32)>,
    pub units: Vec<UnitEntry>,
    pub leaders: Vec<LeaderEntry>,
    /// Department units (fire, medical, hazmat, flood) wait for the lead centre: its
    /// dispatcher for levels III and IV, a duty leader for I and II (the 1-3-5 tiers go at
    /// once); off, everything is dispatched on the report.
    #[serde(default)]
    pub departments_wait: bool,
    /// 四员联动: fires and traffic accidents also get the nearest auxiliary police unit (a
    /// post's first fire response and traffic control).
    #[serde(default)]
    pub four_duties: bool,
}

/// How an incident reached command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum IncidentSource {
    Call,
    Inspector,
    Camera,
}
