//! The vendored public data of the default district (see `data/PROVENANCE.md`), parsed once.

use geo::{Coord, LineString, MultiPolygon, Polygon};

use crate::proj::{BAOAN, Crs};

pub const OUTLINE_GEOJSON: &str = include_str!("../data/baoan/outline.geojson");
pub const DIVISIONS_CSV: &str = include_str!("../data/baoan/divisions.csv");
pub const STREET_SEEDS_CSV: &str = include_str!("../data/baoan/street_seeds.csv");
pub const FACTS_TOML: &str = include_str!("../data/baoan/facts.toml");

/// The district's published figures that the default twin reproduces.
pub mod facts {
    pub const STREETS: usize = 10;
    pub const COMMUNITIES: usize = 124;
    pub const GRIDS: usize = 4866;
    pub const POPULATION: u64 = 4_476_554;
    pub const ITEM_TYPES: usize = 153;
}

#[derive(Debug, Clone)]
pub struct StreetSeed {
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
    pub lon: f64,
    pub lat: f64,
}

#[derive(Debug, Clone)]
pub struct Division {
    pub code: String,
    pub name: String,
    pub level: String,
    pub parent: String,
}

impl StreetSeed {
    /// Whether `name` names this street: its division code, its Chinese name (with or without
    /// 街道), or its English name in any case.
    pub fn answers_to(&self, name: &str) -> bool {
        let n = name.trim();
        self.code == n
            || self.name_zh == n
            || self.name_zh.trim_end_matches("街道") == n
            || self.name_en.eq_ignore_ascii_case(n)
    }
}

/// The street a name refers to, as an index in `street_seeds()` order (the streets' ids).
pub fn street_index(name: &str) -> Option<usize> {
    street_seeds().iter().position(|s| s.answers_to(name))
}

pub fn street_seeds() -> Vec<StreetSeed> {
    STREET_SEEDS_CSV
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, line)| {
            let f: Vec<&str> = line.split(',').collect();
            let bad = || {
                panic!(
                    "street_seeds.csv:{}: expected code,name,name_en,lon,lat, got {line:?}",
                    i + 2
                )
            };
            if f.len() != 5 {
                bad();
            }
            StreetSeed {
                code: f[0].into(),
                name_zh: f[1].into(),
                name_en: f[2].into(),
                lon: f[3].parse().unwrap_or_else(|_| bad()),
                lat: f[4].parse().unwrap_or_else(|_| bad()),
            }
        })
        .collect()
}

pub fn divisions() -> Vec<Division> {
    DIVISIONS_CSV
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, line)| {
            let f: Vec<&str> = line.split(',').collect();
            assert!(
                f.len() == 4,
                "divisions.csv:{}: expected code,name,level,parent_code, got {line:?}",
                i + 2
            );
            Division {
                code: f[0].into(),
                name: f[1].into(),
                level: f[2].into(),
                parent: f[3].into(),
            }
        })
        .collect()
}

/// The district's land outline in local metres (the file is GCJ-02; the frame is WGS-84).
pub fn outline() -> MultiPolygon<f64> {
    let v: serde_json::Value =
        serde_json::from_str(OUTLINE_GEOJSON).expect("outline.geojson is valid JSON");
    assert_eq!(
        v["type"], "MultiPolygon",
        "outline.geojson: expected a MultiPolygon"
    );
    let ring = |r: &serde_json::Value| -> LineString<f64> {
        r.as_array()
            .expect("outline.geojson: a ring is an array")
            .iter()
            .map(|p| {
                let lon = p[0].as_f64().expect("outline.geojson: longitude");
                let lat = p[1].as_f64().expect("outline.geojson: latitude");
                BAOAN.project(Crs::Gcj02, lon, lat)
            })
            .collect::<Vec<Coord<f64>>>()
            .into()
    };
    let polygons = v["coordinates"]
        .as_array()
        .expect("outline.geojson: coordinates")
        .iter()
        .map(|poly| {
            let rings = poly.as_array().expect("outline.geojson: polygon rings");
            Polygon::new(ring(&rings[0]), rings[1..].iter().map(ring).collect())
        })
        .collect();
    MultiPolygon(polygons)
}
