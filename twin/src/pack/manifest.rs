//! `district.toml`: what a district pack holds, file by file, with each file's datum and source.
//! See PACKS.md at the project's root for the format a district engineer follows.

use serde::Deserialize;

/// The manifest as written. Unknown keys are refused (a misspelt layer would otherwise be
/// silently missing).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub pack: PackMeta,
    pub boundary: LayerRef,
    pub streets: Option<DivisionRef>,
    pub communities: Option<DivisionRef>,
    pub grids: Option<DivisionRef>,
    #[serde(default)]
    pub generate: Generate,
    pub roads: Option<LayerRef>,
    pub places: Option<LayerRef>,
    pub land_use: Option<LayerRef>,
    pub population: Option<PopulationRef>,
    pub posts: Option<LayerRef>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackMeta {
    /// A short name, used in report.json and output folders: letters, digits, `-` and `_`.
    pub name: String,
    /// What the pack is, for people.
    #[serde(default)]
    pub title: String,
    /// The datum of files that do not state one: "wgs84" (the default) or "gcj02".
    #[serde(default)]
    pub crs: Option<String>,
    /// The local frame's origin, WGS-84 [lon, lat]; the middle of the boundary if absent.
    #[serde(default)]
    pub origin: Option<[f64; 2]>,
    /// Free text: where the pack came from, what it is for.
    #[serde(default)]
    pub notes: String,
}

/// One file of the pack.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LayerRef {
    /// Path relative to the pack's folder.
    pub file: String,
    /// The file's datum; the pack's default if absent. OSM extracts are always WGS-84.
    #[serde(default)]
    pub crs: Option<String>,
    /// Where the data came from and its licence.
    #[serde(default)]
    pub source: String,
    /// Whether the layer is real data (true) or made up (false, the twin labels it synthetic).
    #[serde(default = "yes")]
    pub real: bool,
}

/// A level of division: polygons (`file`), or for streets seed points (`seeds`), or for
/// communities a list of names and codes (`names`) the twin generates cells for.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DivisionRef {
    #[serde(default)]
    pub file: Option<String>,
    #[serde(default)]
    pub seeds: Option<String>,
    #[serde(default)]
    pub names: Option<String>,
    #[serde(default)]
    pub crs: Option<String>,
    #[serde(default)]
    pub source: String,
    #[serde(default = "yes")]
    pub real: bool,
}

/// How many divisions to generate at scale 1 where the pack gives no polygons.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Generate {
    pub streets: Option<usize>,
    pub communities: Option<usize>,
    pub grids: Option<usize>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PopulationRef {
    /// Residents of the whole district at scale 1.
    #[serde(default)]
    pub total: Option<u64>,
    /// CSV `level,name,population` (level: street, community or grid; name: name or code).
    #[serde(default)]
    pub file: Option<String>,
    #[serde(default)]
    pub source: String,
    #[serde(default = "yes")]
    pub real: bool,
}

fn yes() -> bool {
    true
}
