//! Catalogue of the 32 emergency types (突发事件) of the joint command, embedded from `data/emergency_types.csv`.

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

/// Name of the embedded file, used in parse-error messages.
const FILE: &str = "emergency_types.csv";

/// The exact header line the embedded CSV must start with.
const HEADER: &str = "code,category,name_zh,name_en,owner,needs,on_scene_min,weight,profile,severity_iv,severity_iii,severity_ii,severity_i";

/// The raw embedded catalogue.
const CSV: &str = include_str!("../data/emergency_types.csv");

/// The hour-of-day shapes an emergency type's frequency may follow.
pub const PROFILES: [&str; 5] = ["daytime", "commute", "evening", "night", "flat"];

/// The four categories of the Emergency Response Law (突发事件应对法).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Category {
    NaturalDisaster,
    Accident,
    PublicHealth,
    SocialSecurity,
}

impl Category {
    pub const ALL: [Category; 4] = [
        Category::NaturalDisaster,
        Category::Accident,
        Category::PublicHealth,
        Category::SocialSecurity,
    ];

    /// The `snake_case` identifier used in the CSV and in serde.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::NaturalDisaster => "natural_disaster",
            Category::Accident => "accident",
            Category::PublicHealth => "public_health",
            Category::SocialSecurity => "social_security",
        }
    }

    /// The category's Chinese name as the law gives it.
    pub fn name_zh(self) -> &'static str {
        match self {
            Category::NaturalDisaster => "自然灾害",
            Category::Accident => "事故灾难",
            Category::PublicHealth => "公共卫生事件",
            Category::SocialSecurity => "社会安全事件",
        }
    }

    /// Parses the identifier produced by [`Category::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// The department sub-centre that leads an emergency type at low severity. Types with no owner
/// (`none` in the CSV) are led by the community / street office.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Owner {
    Fire,
    Health,
    EmergencyManagement,
    PublicSecurity,
    Water,
    Transport,
}

impl Owner {
    pub const ALL: [Owner; 6] = [
        Owner::Fire,
        Owner::Health,
        Owner::EmergencyManagement,
        Owner::PublicSecurity,
        Owner::Water,
        Owner::Transport,
    ];

    /// The `snake_case` identifier used in the CSV and in serde.
    pub fn as_str(self) -> &'static str {
        match self {
            Owner::Fire => "fire",
            Owner::Health => "health",
            Owner::EmergencyManagement => "emergency_management",
            Owner::PublicSecurity => "public_security",
            Owner::Water => "water",
            Owner::Transport => "transport",
        }
    }

    /// The department's short Chinese name.
    pub fn name_zh(self) -> &'static str {
        match self {
            Owner::Fire => "消防救援",
            Owner::Health => "卫生健康",
            Owner::EmergencyManagement => "应急管理",
            Owner::PublicSecurity => "公安",
            Owner::Water => "水务",
            Owner::Transport => "交通运输",
        }
    }

    /// Parses the identifier produced by [`Owner::as_str`]; `none` is not an owner and gives `None`.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.as_str() == s)
    }
}

/// A kind of department unit an emergency type needs besides the 1-3-5 response tiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum UnitKind {
    Fire,
    Medical,
    Hazmat,
    Flood,
}

impl UnitKind {
    pub const ALL: [UnitKind; 4] = [
        UnitKind::Fire,
        UnitKind::Medical,
        UnitKind::Hazmat,
        UnitKind::Flood,
    ];

    /// The `snake_case` identifier used in the CSV and in serde.
    pub fn as_str(self) -> &'static str {
        match self {
            UnitKind::Fire => "fire",
            UnitKind::Medical => "medical",
            UnitKind::Hazmat => "hazmat",
            UnitKind::Flood => "flood",
        }
    }

    /// Parses the identifier produced by [`UnitKind::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|u| u.as_str() == s)
    }
}

/// Severity level of an incident (突发事件分级).
///
/// The derived order follows the level number, so `I < II < III < IV`: the *smallest* severity
/// is the *most serious*. `Severity as usize` indexes [`EmergencyType::severity_weights`]
/// (I = 0 … IV = 3). Serde uses the Roman numerals of [`Severity::as_str`], not `snake_case`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub enum Severity {
    /// 特别重大, particularly serious.
    I,
    /// 重大, serious.
    II,
    /// 较大, relatively serious.
    III,
    /// 一般, general.
    IV,
}

impl Severity {
    /// All levels, most serious first.
    pub const ALL: [Severity; 4] = [Severity::I, Severity::II, Severity::III, Severity::IV];

    /// The Roman numeral used in serde and in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::I => "I",
            Severity::II => "II",
            Severity::III => "III",
            Severity::IV => "IV",
        }
    }

    /// The level's Chinese name.
    pub fn name_zh(self) -> &'static str {
        match self {
            Severity::I => "特别重大",
            Severity::II => "重大",
            Severity::III => "较大",
            Severity::IV => "一般",
        }
    }

    /// Parses the numeral produced by [`Severity::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// One emergency type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct EmergencyType {
    /// 1..=32, equal to the row's position in the catalogue.
    pub code: u16,
    pub category: Category,
    pub name_zh: String,
    pub name_en: String,
    /// The sub-centre leading it at low severity; `None` when the community / street leads.
    pub owner: Option<Owner>,
    /// Department units needed besides the 1-3-5 tiers, without duplicates, in CSV order.
    pub needs: Vec<UnitKind>,
    /// Median minutes units spend on scene (positive).
    pub on_scene_min: f64,
    /// Relative daily frequency (positive).
    pub weight: f64,
    /// Hour-of-day shape, one of [`PROFILES`].
    pub profile: String,
    /// Relative weight of each level, indexed by `Severity as usize` (I, II, III, IV); all
    /// non-negative and finite, at least one positive.
    pub severity_weights: [f64; 4],
}

impl EmergencyType {
    /// The relative weight of `severity` for this type.
    pub fn severity_weight(&self, severity: Severity) -> f64 {
        self.severity_weights[severity as usize]
    }
}

/// All emergency types, ordered by code (`emergency_types()[i].code == i + 1`).
///
/// # Panics
/// On first call, if the embedded CSV is malformed (guarded by unit tests).
pub fn emergency_types() -> &'static [EmergencyType] {
    static TYPES: OnceLock<Vec<EmergencyType>> = OnceLock::new();
    TYPES.get_or_init(|| parse_csv(CSV))
}

/// The emergency type with the given code, if any.
pub fn emergency_type(code: u16) -> Option<&'static EmergencyType> {
    let index = usize::from(code).checked_sub(1)?;
    emergency_types().get(index)
}

/// Parses the catalogue text; panics naming `emergency_types.csv:LINE` on any malformed line.
/// Codes must run 1, 2, 3, … in file order.
fn parse_csv(text: &str) -> Vec<EmergencyType> {
    let mut types = Vec::new();
    for (n, line) in crate::data_lines(FILE, HEADER, text) {
        let fields: Vec<&str> = line.split(',').collect();
        let [
            code,
            category,
            name_zh,
            name_en,
            owner,
            needs,
            on_scene_min,
            weight,
            profile,
            severity_iv,
            severity_iii,
            severity_ii,
            severity_i,
        ] = fields[..]
        else {
            panic!(
                "{FILE}:{n}: expected 13 comma-separated fields, found {}",
                fields.len()
            );
        };
        let bad = |field: &str, expected: &str, found: &str| -> ! {
            panic!("{FILE}:{n}: field `{field}`: expected {expected}, found {found:?}")
        };
        let expected_code = types.len() + 1;
        let code: u16 = match code.parse() {
            Ok(c) if usize::from(c) == expected_code => c,
            _ => bad(
                "code",
                &format!("{expected_code} (codes run consecutively from 1)"),
                code,
            ),
        };
        let category = Category::parse(category).unwrap_or_else(|| {
            bad(
                "category",
                "one of natural_disaster, accident, public_health, social_security",
                category,
            )
        });
        if name_zh.trim().is_empty() || name_zh.trim() != name_zh {
            bad(
                "name_zh",
                "a non-empty name without surrounding spaces",
                name_zh,
            );
        }
        if name_en.trim().is_empty() || name_en.trim() != name_en {
            bad(
                "name_en",
                "a non-empty name without surrounding spaces",
                name_en,
            );
        }
        let owner = match owner {
            "none" => None,
            _ => Some(Owner::parse(owner).unwrap_or_else(|| {
                bad(
                    "owner",
                    "one of fire, health, emergency_management, public_security, water, transport, none",
                    owner,
                )
            })),
        };
        let mut kinds: Vec<UnitKind> = Vec::new();
        if !needs.is_empty() {
            for piece in needs.split(';') {
                match UnitKind::parse(piece) {
                    Some(k) if !kinds.contains(&k) => kinds.push(k),
                    _ => bad(
                        "needs",
                        "empty, or distinct unit kinds from fire, medical, hazmat, flood separated by `;`",
                        needs,
                    ),
                }
            }
        }
        let positive = |field: &str, s: &str| -> f64 {
            match s.parse::<f64>() {
                Ok(x) if x.is_finite() && x > 0.0 => x,
                _ => bad(field, "a positive finite number", s),
            }
        };
        let on_scene_min = positive("on_scene_min", on_scene_min);
        let weight = positive("weight", weight);
        if !PROFILES.contains(&profile) {
            bad(
                "profile",
                "one of daytime, commute, evening, night, flat",
                profile,
            );
        }
        let non_negative = |field: &str, s: &str| -> f64 {
            match s.parse::<f64>() {
                Ok(x) if x.is_finite() && x >= 0.0 => x,
                _ => bad(field, "a non-negative finite number", s),
            }
        };
        // Stored most serious first, the reverse of the CSV's column order.
        let severity_weights = [
            non_negative("severity_i", severity_i),
            non_negative("severity_ii", severity_ii),
            non_negative("severity_iii", severity_iii),
            non_negative("severity_iv", severity_iv),
        ];
        if severity_weights.iter().all(|&w| w == 0.0) {
            bad(
                "severity_iv..severity_i",
                "at least one positive weight",
                &format!("{severity_iv},{severity_iii},{severity_ii},{severity_i}"),
            );
        }
        types.push(EmergencyType {
            code,
            category,
            name_zh: name_zh.to_owned(),
            name_en: name_en.to_owned(),
            owner,
            needs: kinds,
            on_scene_min,
            weight,
            profile: profile.to_owned(),
            severity_weights,
        });
    }
    types
}

/// The lead centre for a type (its owner) and severity, by the district's protocol: the
/// district for I and II; a department's sub-centre for its own types at III and IV; otherwise
/// the street (III) or the community (IV). Shared by the stack and the centres the twin staffs.
pub fn lead_centre(
    owner: Option<Owner>,
    severity: Severity,
    community: u32,
    street: u32,
) -> crate::Centre {
    use crate::Centre;
    match (severity, owner) {
        (Severity::I | Severity::II, _) => Centre::District,
        (_, Some(o)) => Centre::Department(o),
        (Severity::III, None) => Centre::Street(street),
        (Severity::IV, None) => Centre::Community(community),
    }
}

/// Building fire, gas explosion, e-bike battery fire (the catalogue's codes): what a post's
/// first fire response (四员联动) is for, and the smoke and flame a lookout sees.
pub const FIRE_TYPES: [u16; 3] = [9, 12, 16];
/// Traffic accident with injuries: a post's traffic control (四员联动).
pub const TRAFFIC_ACCIDENT: u16 = 10;
/// Crowd crush risk at a key area, mass gathering: crowd build-up a lookout sees.
pub const CROWD_TYPES: [u16; 2] = [27, 32];

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashSet};

    use super::*;

    #[test]
    fn exactly_32_consecutive_codes() {
        let types = emergency_types();
        assert_eq!(types.len(), 32);
        for (i, t) in types.iter().enumerate() {
            assert_eq!(usize::from(t.code), i + 1);
            assert_eq!(emergency_type(t.code), Some(t));
        }
        assert!(emergency_type(0).is_none());
        assert!(emergency_type(33).is_none());
    }

    #[test]
    fn four_categories_of_8() {
        let mut sizes: BTreeMap<Category, usize> = BTreeMap::new();
        for t in emergency_types() {
            *sizes.entry(t.category).or_default() += 1;
        }
        for c in Category::ALL {
            assert_eq!(sizes.get(&c), Some(&8), "category {}", c.as_str());
        }
    }

    #[test]
    fn names_unique() {
        let zh: HashSet<&str> = emergency_types()
            .iter()
            .map(|t| t.name_zh.as_str())
            .collect();
        let en: HashSet<&str> = emergency_types()
            .iter()
            .map(|t| t.name_en.as_str())
            .collect();
        assert_eq!(zh.len(), emergency_types().len(), "duplicate name_zh");
        assert_eq!(en.len(), emergency_types().len(), "duplicate name_en");
    }

    #[test]
    fn weights_and_times_in_range() {
        for t in emergency_types() {
            assert!(
                (0.05..=30.0).contains(&t.weight),
                "code {} weight {}",
                t.code,
                t.weight
            );
            assert!(
                (10.0..=240.0).contains(&t.on_scene_min),
                "code {} on_scene_min {}",
                t.code,
                t.on_scene_min
            );
            assert!(PROFILES.contains(&t.profile.as_str()), "code {}", t.code);
        }
    }

    #[test]
    fn severity_weights_valid_and_mostly_iv() {
        let mut total = 0.0;
        let mut iv = 0.0;
        for t in emergency_types() {
            let sum: f64 = t.severity_weights.iter().sum();
            assert!(
                t.severity_weights
                    .iter()
                    .all(|w| w.is_finite() && *w >= 0.0)
                    && sum > 0.0,
                "code {} severity weights {:?}",
                t.code,
                t.severity_weights
            );
            for s in Severity::ALL {
                assert!(
                    t.severity_weight(s) <= t.severity_weight(Severity::IV),
                    "code {}: level {} outweighs IV",
                    t.code,
                    s.as_str()
                );
            }
            total += t.weight;
            iv += t.weight * t.severity_weight(Severity::IV) / sum;
        }
        assert!(
            iv / total > 0.8,
            "only {:.1}% of incidents are IV",
            100.0 * iv / total
        );
    }

    #[test]
    fn every_unit_kind_needed() {
        let seen: HashSet<UnitKind> = emergency_types()
            .iter()
            .flat_map(|t| t.needs.iter().copied())
            .collect();
        for k in UnitKind::ALL {
            assert!(seen.contains(&k), "no type needs {}", k.as_str());
        }
    }

    #[test]
    fn every_owner_leads_some_type() {
        let seen: HashSet<Option<Owner>> = emergency_types().iter().map(|t| t.owner).collect();
        for o in Owner::ALL {
            assert!(seen.contains(&Some(o)), "no type owned by {}", o.as_str());
        }
        assert!(seen.contains(&None), "no type led by the community");
    }

    #[test]
    fn severity_order_most_serious_first() {
        assert!(Severity::I < Severity::II);
        assert!(Severity::III < Severity::IV);
        assert_eq!(Severity::ALL.iter().min(), Some(&Severity::I));
        for (i, s) in Severity::ALL.into_iter().enumerate() {
            assert_eq!(s as usize, i);
        }
    }

    #[test]
    fn enum_identifiers_round_trip() {
        for c in Category::ALL {
            assert_eq!(Category::parse(c.as_str()), Some(c));
            assert!(!c.name_zh().is_empty());
            assert_eq!(
                serde_json::to_string(&c).unwrap(),
                format!("\"{}\"", c.as_str())
            );
        }
        for o in Owner::ALL {
            assert_eq!(Owner::parse(o.as_str()), Some(o));
            assert!(!o.name_zh().is_empty());
            assert_eq!(
                serde_json::to_string(&o).unwrap(),
                format!("\"{}\"", o.as_str())
            );
        }
        for k in UnitKind::ALL {
            assert_eq!(UnitKind::parse(k.as_str()), Some(k));
            assert_eq!(
                serde_json::to_string(&k).unwrap(),
                format!("\"{}\"", k.as_str())
            );
        }
        for s in Severity::ALL {
            assert_eq!(Severity::parse(s.as_str()), Some(s));
            assert!(!s.name_zh().is_empty());
            assert_eq!(
                serde_json::to_string(&s).unwrap(),
                format!("\"{}\"", s.as_str())
            );
        }
        assert_eq!(Owner::parse("none"), None);
        assert_eq!(Severity::parse("iv"), None);
        assert_eq!(UnitKind::parse("police"), None);
    }

    #[test]
    fn severity_columns_stored_most_serious_first() {
        let text = format!("{HEADER}\n1,accident,甲,A,fire,,30,1,flat,4,3,2,1\n");
        let t = &parse_csv(&text)[0];
        assert_eq!(t.severity_weights, [1.0, 2.0, 3.0, 4.0]);
        assert_eq!(t.severity_weight(Severity::IV), 4.0);
        assert_eq!(t.owner, Some(Owner::Fire));
        assert!(t.needs.is_empty());
    }

    #[test]
    #[should_panic(expected = "emergency_types.csv:3: field `profile`")]
    fn malformed_line_names_file_line_and_field() {
        let text = format!(
            "{HEADER}\n1,accident,甲,A,fire,fire,30,1,flat,1,0,0,0\n2,accident,乙,B,none,,30,1,noon,1,0,0,0\n"
        );
        parse_csv(&text);
    }

    #[test]
    #[should_panic(expected = "emergency_types.csv:2: field `needs`")]
    fn unknown_need_is_rejected() {
        let text = format!("{HEADER}\n1,accident,甲,A,fire,fire;police,30,1,flat,1,0,0,0\n");
        parse_csv(&text);
    }

    #[test]
    #[should_panic(expected = "emergency_types.csv:2: field `severity_iv..severity_i`")]
    fn all_zero_severity_is_rejected() {
        let text = format!("{HEADER}\n1,accident,甲,A,fire,,30,1,flat,0,0,0,0\n");
        parse_csv(&text);
    }

    #[test]
    #[should_panic(
        expected = "emergency_types.csv:2: expected 13 comma-separated fields, found 14"
    )]
    fn extra_comma_is_rejected() {
        let text = format!("{HEADER}\n1,accident,甲,A,fire,,30,1,flat,1,0,0,0,x\n");
        parse_csv(&text);
    }
}
