//! Catalogue of the 153 item types (事项) grid inspectors report, embedded from `data/item_types.csv`.

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

/// Name of the embedded file, used in parse-error messages.
const FILE: &str = "item_types.csv";

/// The exact header line the embedded CSV must start with.
const HEADER: &str = "code,category,name_zh,name_en,department,urgency,deadline_h,on_spot,weight";

/// The raw embedded catalogue.
const CSV: &str = include_str!("../data/item_types.csv");

/// The department an item type is dispatched to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Department {
    CityManagement,
    HousingConstruction,
    EmergencyManagement,
    Fire,
    Environment,
    MarketSupervision,
    PublicSecurity,
    Water,
    Transport,
    CivilAffairs,
    Health,
    /// The community work station (社区工作站): disputes, social services.
    Community,
}

impl Department {
    pub const ALL: [Department; 12] = [
        Department::CityManagement,
        Department::HousingConstruction,
        Department::EmergencyManagement,
        Department::Fire,
        Department::Environment,
        Department::MarketSupervision,
        Department::PublicSecurity,
        Department::Water,
        Department::Transport,
        Department::CivilAffairs,
        Department::Health,
        Department::Community,
    ];

    /// The `snake_case` identifier used in the CSV and in serde.
    pub fn as_str(self) -> &'static str {
        match self {
            Department::CityManagement => "city_management",
            Department::HousingConstruction => "housing_construction",
            Department::EmergencyManagement => "emergency_management",
            Department::Fire => "fire",
            Department::Environment => "environment",
            Department::MarketSupervision => "market_supervision",
            Department::PublicSecurity => "public_security",
            Department::Water => "water",
            Department::Transport => "transport",
            Department::CivilAffairs => "civil_affairs",
            Department::Health => "health",
            Department::Community => "community",
        }
    }

    /// The department's short Chinese name.
    pub fn name_zh(self) -> &'static str {
        match self {
            Department::CityManagement => "城市管理",
            Department::HousingConstruction => "住房建设",
            Department::EmergencyManagement => "应急管理",
            Department::Fire => "消防救援",
            Department::Environment => "生态环境",
            Department::MarketSupervision => "市场监管",
            Department::PublicSecurity => "公安",
            Department::Water => "水务",
            Department::Transport => "交通运输",
            Department::CivilAffairs => "民政",
            Department::Health => "卫生健康",
            Department::Community => "社区工作站",
        }
    }

    /// Parses the `snake_case` identifier produced by [`Department::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.as_str() == s)
    }
}

/// How urgent an item type is; determines the band its deadline lies in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Urgency {
    /// Danger to life; deadline 2–4 h.
    Urgent,
    /// Deadline 12–24 h.
    High,
    /// Deadline 48–72 h.
    Normal,
    /// Deadline 120–168 h.
    Low,
}

impl Urgency {
    pub const ALL: [Urgency; 4] = [
        Urgency::Urgent,
        Urgency::High,
        Urgency::Normal,
        Urgency::Low,
    ];

    /// The `snake_case` identifier used in the CSV and in serde.
    pub fn as_str(self) -> &'static str {
        match self {
            Urgency::Urgent => "urgent",
            Urgency::High => "high",
            Urgency::Normal => "normal",
            Urgency::Low => "low",
        }
    }

    /// Parses the identifier produced by [`Urgency::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|u| u.as_str() == s)
    }
}

/// One reportable item type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ItemType {
    /// 1..=153, equal to the row's position in the catalogue.
    pub code: u16,
    /// `snake_case` category, e.g. `fire_safety`.
    pub category: String,
    pub name_zh: String,
    pub name_en: String,
    pub department: Department,
    pub urgency: Urgency,
    /// Hours allowed from dispatch to resolution.
    pub deadline_h: u32,
    /// Whether the inspector may resolve it on the spot himself.
    pub on_spot: bool,
    /// Relative daily frequency (positive).
    pub weight: f64,
}

/// All item types, ordered by code (`item_types()[i].code == i + 1`).
///
/// # Panics
/// On first call, if the embedded CSV is malformed (guarded by unit tests).
pub fn item_types() -> &'static [ItemType] {
    static TYPES: OnceLock<Vec<ItemType>> = OnceLock::new();
    TYPES.get_or_init(|| parse_csv(CSV))
}

/// The item type with the given code, if any.
pub fn item_type(code: u16) -> Option<&'static ItemType> {
    let index = usize::from(code).checked_sub(1)?;
    item_types().get(index)
}

/// Parses the catalogue text; panics naming `item_types.csv:LINE` on any malformed line.
/// Codes must run 1, 2, 3, … in file order.
fn parse_csv(text: &str) -> Vec<ItemType> {
    let mut types = Vec::new();
    for (n, line) in crate::data_lines(FILE, HEADER, text) {
        let fields: Vec<&str> = line.split(',').collect();
        let [
            code,
            category,
            name_zh,
            name_en,
            department,
            urgency,
            deadline_h,
            on_spot,
            weight,
        ] = fields[..]
        else {
            panic!(
                "{FILE}:{n}: expected 9 comma-separated fields, found {}",
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
        let is_snake = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        };
        if !is_snake(category) {
            bad("category", "a non-empty snake_case identifier", category);
        }
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
        let department = Department::parse(department).unwrap_or_else(|| {
            bad("department", "one of city_management, housing_construction, emergency_management, fire, environment, market_supervision, public_security, water, transport, civil_affairs, health, community", department)
        });
        let urgency = Urgency::parse(urgency)
            .unwrap_or_else(|| bad("urgency", "one of urgent, high, normal, low", urgency));
        let deadline_h: u32 = match deadline_h.parse() {
            Ok(h) if h > 0 => h,
            _ => bad("deadline_h", "a positive whole number of hours", deadline_h),
        };
        let on_spot = match on_spot {
            "true" => true,
            "false" => false,
            _ => bad("on_spot", "true or false", on_spot),
        };
        let weight: f64 = match weight.parse::<f64>() {
            Ok(w) if w.is_finite() && w > 0.0 => w,
            _ => bad("weight", "a positive finite number", weight),
        };
        types.push(ItemType {
            code,
            category: category.to_owned(),
            name_zh: name_zh.to_owned(),
            name_en: name_en.to_owned(),
            department,
            urgency,
            deadline_h,
            on_spot,
            weight,
        });
    }
    types
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashSet};

    use super::*;

    fn deadline_band(u: Urgency) -> (u32, u32) {
        match u {
            Urgency::Urgent => (2, 4),
            Urgency::High => (12, 24),
            Urgency::Normal => (48, 72),
            Urgency::Low => (120, 168),
        }
    }

    #[test]
    fn exactly_153_consecutive_codes() {
        let types = item_types();
        assert_eq!(types.len(), 153);
        for (i, t) in types.iter().enumerate() {
            assert_eq!(usize::from(t.code), i + 1);
            assert_eq!(item_type(t.code), Some(t));
        }
        assert!(item_type(0).is_none());
        assert!(item_type(154).is_none());
    }

    #[test]
    fn every_department_appears() {
        let seen: HashSet<Department> = item_types().iter().map(|t| t.department).collect();
        for d in Department::ALL {
            assert!(
                seen.contains(&d),
                "no item type dispatched to {}",
                d.as_str()
            );
        }
    }

    #[test]
    fn urgency_shares_within_bands() {
        let n = item_types().len() as f64;
        for (u, target) in [
            (Urgency::Urgent, 10.0),
            (Urgency::High, 20.0),
            (Urgency::Normal, 50.0),
            (Urgency::Low, 20.0),
        ] {
            let count = item_types().iter().filter(|t| t.urgency == u).count();
            let pct = 100.0 * count as f64 / n;
            assert!(
                (pct - target).abs() <= 5.0,
                "{}: {pct:.1}% not within {target}±5%",
                u.as_str()
            );
        }
    }

    #[test]
    fn no_urgent_type_is_on_spot() {
        for t in item_types() {
            assert!(
                !(t.urgency == Urgency::Urgent && t.on_spot),
                "code {} is urgent and on_spot",
                t.code
            );
        }
    }

    #[test]
    fn deadlines_within_urgency_band() {
        for t in item_types() {
            let (lo, hi) = deadline_band(t.urgency);
            assert!(
                (lo..=hi).contains(&t.deadline_h),
                "code {}: {} h outside {lo}..={hi} for {}",
                t.code,
                t.deadline_h,
                t.urgency.as_str()
            );
        }
    }

    #[test]
    fn names_unique() {
        let zh: HashSet<&str> = item_types().iter().map(|t| t.name_zh.as_str()).collect();
        let en: HashSet<&str> = item_types().iter().map(|t| t.name_en.as_str()).collect();
        assert_eq!(zh.len(), item_types().len(), "duplicate name_zh");
        assert_eq!(en.len(), item_types().len(), "duplicate name_en");
    }

    #[test]
    fn weights_positive() {
        for t in item_types() {
            assert!(
                t.weight > 0.0 && t.weight.is_finite(),
                "code {} weight {}",
                t.code,
                t.weight
            );
        }
    }

    #[test]
    fn categories_sized_8_to_16() {
        let mut sizes: BTreeMap<&str, usize> = BTreeMap::new();
        for t in item_types() {
            *sizes.entry(t.category.as_str()).or_default() += 1;
        }
        for (cat, n) in &sizes {
            assert!((8..=16).contains(n), "category {cat} has {n} types");
        }
    }

    #[test]
    fn enum_identifiers_round_trip() {
        for d in Department::ALL {
            assert_eq!(Department::parse(d.as_str()), Some(d));
            assert!(!d.name_zh().is_empty());
        }
        for u in Urgency::ALL {
            assert_eq!(Urgency::parse(u.as_str()), Some(u));
        }
        assert_eq!(Department::parse("police"), None);
        assert_eq!(Urgency::parse("Urgent"), None);
    }

    #[test]
    #[should_panic(expected = "item_types.csv:3: field `urgency`")]
    fn malformed_line_names_file_line_and_field() {
        let text =
            format!("{HEADER}\n1,a,甲,A,fire,high,12,false,1\n2,a,乙,B,fire,soon,12,false,1\n");
        parse_csv(&text);
    }

    #[test]
    #[should_panic(expected = "item_types.csv:2: expected 9 comma-separated fields, found 10")]
    fn extra_comma_is_rejected() {
        let text = format!("{HEADER}\n1,a,甲,A,fire,high,12,false,1,x\n");
        parse_csv(&text);
    }
}
