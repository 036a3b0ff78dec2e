//! District packs: a district brought as a folder of files — boundary, divisions, roads, places,
//! land use, population, current posts — named by a manifest (`district.toml`) that states each
//! file's datum and source. The twin takes real data wherever a pack has it and generates what is
//! missing inside what is given (see `geography`). The built-in pack is Bao'an
//! (`twin/data/baoan/`), embedded in the binary so the default needs no files at run time.
//!
//! Loading converts every coordinate to WGS-84 (`proj`), keeps what can be used, drops what
//! cannot with a reason (`Dropped`), and refuses a pack whose errors would change what the
//! district is (a boundary or a division polygon that is broken, a manifest that names a missing
//! file), naming the file, the feature and the field.

mod divisions;
pub mod manifest;
pub mod read;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use geo::{BoundingRect, Intersects, MultiPolygon, Point};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::layers::{
    AdminArea, Dropped, LandClass, LandPatch, Oneway, Place, PlaceKind, RoadClass, RoadLine,
};
use crate::proj::{Crs, Frame};
use manifest::{DivisionRef, LayerRef, Manifest};
use read::{Feature, Geometry, Table};

/// A pack that cannot be used, and where.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PackError {
    #[error("{file}: cannot read: {error}")]
    Read { file: String, error: String },
    #[error("{file}:{line}:{column}: expected {expected}")]
    Syntax {
        file: String,
        line: usize,
        column: usize,
        expected: String,
    },
    #[error("{file}: {}field {field}: expected {expected}", feature.map_or(String::new(), |i| format!("feature {i}: ")))]
    Field {
        file: String,
        feature: Option<usize>,
        field: String,
        expected: String,
    },
    #[error("{file}: {error}")]
    Osm { file: String, error: String },
    #[error("{file}: {what}")]
    Unusable { file: String, what: String },
}

/// Where a pack's files come from.
#[derive(Debug, Clone)]
enum Files {
    /// Embedded in the binary: (name, bytes).
    Builtin(&'static [(&'static str, &'static str)]),
    Dir(PathBuf),
}

/// The built-in Bao'an pack's files.
const BAOAN_FILES: &[(&str, &str)] = &[
    (
        "district.toml",
        include_str!("../../data/baoan/district.toml"),
    ),
    (
        "outline.geojson",
        include_str!("../../data/baoan/outline.geojson"),
    ),
    (
        "street_seeds.csv",
        include_str!("../../data/baoan/street_seeds.csv"),
    ),
    (
        "divisions.csv",
        include_str!("../../data/baoan/divisions.csv"),
    ),
    (
        "land_use.geojson",
        include_str!("../../data/baoan/land_use.geojson"),
    ),
];

impl Files {
    fn label(&self, name: &str) -> String {
        match self {
            Files::Builtin(_) => format!("twin/data/baoan/{name}"),
            Files::Dir(dir) => dir.join(name).display().to_string(),
        }
    }

    fn read(&self, name: &str) -> Result<Vec<u8>, PackError> {
        match self {
            Files::Builtin(files) => files
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, text)| text.as_bytes().to_vec())
                .ok_or_else(|| PackError::Read {
                    file: self.label(name),
                    error: "not in the built-in pack".into(),
                }),
            Files::Dir(dir) => std::fs::read(dir.join(name)).map_err(|e| PackError::Read {
                file: self.label(name),
                error: e.to_string(),
            }),
        }
    }

    fn path(&self, name: &str) -> Option<PathBuf> {
        match self {
            Files::Builtin(_) => None,
            Files::Dir(dir) => Some(dir.join(name)),
        }
    }
}

/// A level of division as the pack gives it.
#[derive(Debug, Clone)]
pub enum Divisions {
    /// Polygons, each with its name, code and parent (the street or community it belongs to).
    Polygons(Vec<Area>),
    /// Street seed points: streets are the Voronoi cells of these points inside the boundary.
    Seeds(Vec<Seed>),
    /// Names and codes with their parent's code: cells are generated, names taken in order.
    Names(Vec<NameRow>),
    /// Nothing given: generated.
    Generate,
}

#[derive(Debug, Clone)]
pub struct Area {
    /// The feature's index in its file.
    pub index: usize,
    pub name: Option<String>,
    pub name_en: Option<String>,
    pub code: Option<String>,
    /// The name or code of the division it lies in, when the file says.
    pub parent: Option<String>,
    /// WGS-84.
    pub shape: MultiPolygon<f64>,
}

#[derive(Debug, Clone)]
pub struct Seed {
    pub code: String,
    pub name: String,
    pub name_en: String,
    /// WGS-84.
    pub lon: f64,
    pub lat: f64,
}

#[derive(Debug, Clone)]
pub struct NameRow {
    pub code: String,
    pub name: String,
    /// The name in Latin letters, when the file has a `name_en` column.
    pub name_en: Option<String>,
    pub parent: String,
}

/// Residents by division, from the pack's population file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PopulationRow {
    pub level: String,
    pub key: String,
    pub residents: u64,
    pub line: usize,
}

/// The current posts, as the planner and `twin run --posts` read them.
#[derive(Debug, Clone)]
pub struct PostsFile {
    pub file: String,
    pub text: String,
    pub crs: Crs,
}

/// What the pack said of one layer and what was read from it, for `twin district` and reports.
#[derive(Debug, Clone, Serialize)]
pub struct LayerInfo {
    pub layer: String,
    /// "read", "generated" (the twin makes it up inside what is given) or "absent".
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crs: Option<Crs>,
    pub source: String,
    /// Real data (true) or synthetic (false).
    pub real: bool,
    pub items: usize,
}

/// A loaded pack: every layer in WGS-84, what was dropped and why, and the content hash.
#[derive(Debug, Clone)]
pub struct Pack {
    pub name: String,
    pub title: String,
    pub notes: String,
    /// SHA-256 of the manifest and every file it names, in the order read (hex).
    pub hash: String,
    /// The folder, or None for the built-in pack.
    pub dir: Option<PathBuf>,
    /// The local frame's origin (WGS-84), from the manifest or the boundary's middle.
    pub origin: (f64, f64),
    pub boundary: MultiPolygon<f64>,
    pub streets: Divisions,
    pub communities: Divisions,
    pub grids: Divisions,
    pub generate: manifest::Generate,
    pub roads: Vec<RoadLine>,
    pub places: Vec<Place>,
    pub land: Vec<LandPatch>,
    pub admin: Vec<AdminArea>,
    pub population_total: Option<u64>,
    pub population: Vec<PopulationRow>,
    pub posts: Option<PostsFile>,
    pub layers: Vec<LayerInfo>,
    pub dropped: Vec<Dropped>,
}

/// The identity a report carries: which data a run used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PackId {
    pub name: String,
    pub hash: String,
}

/// Whether `key` names a division: its code, its name (with or without 街道 or 社区), or its
/// English name in any case.
pub fn answers_to(code: &str, name: &str, name_en: &str, key: &str) -> bool {
    let k = key.trim();
    !k.is_empty()
        && (code == k
            || name == k
            || name.trim_end_matches("街道") == k
            || name.trim_end_matches("社区") == k
            || name_en.eq_ignore_ascii_case(k))
}

/// A street as scenarios name it, known from the pack before its district is built.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StreetName {
    pub code: String,
    pub name: String,
    pub name_en: String,
}

impl StreetName {
    pub fn answers_to(&self, key: &str) -> bool {
        answers_to(&self.code, &self.name, &self.name_en, key)
    }
}

impl Pack {
    /// The local metric frame the pack's district is built in.
    pub fn frame(&self) -> Frame {
        Frame {
            origin_lon: self.origin.0,
            origin_lat: self.origin.1,
        }
    }

    /// The district's streets in order, as the built district will name them.
    pub fn street_names(&self) -> Vec<StreetName> {
        match &self.streets {
            Divisions::Polygons(areas) => areas
                .iter()
                .enumerate()
                .map(|(i, a)| {
                    let code = a.code.clone().unwrap_or_else(|| format!("{:02}", i + 1));
                    let name = a.name.clone().unwrap_or_else(|| code.clone());
                    StreetName {
                        name_en: a.name_en.clone().unwrap_or_else(|| name.clone()),
                        code,
                        name,
                    }
                })
                .collect(),
            Divisions::Seeds(seeds) => seeds
                .iter()
                .map(|s| StreetName {
                    code: s.code.clone(),
                    name: s.name.clone(),
                    name_en: s.name_en.clone(),
                })
                .collect(),
            _ if matches!(self.communities, Divisions::Polygons(_))
                || matches!(self.grids, Divisions::Polygons(_)) =>
            {
                vec![StreetName {
                    code: format!("{}-01", self.name),
                    name: "Street 1".into(),
                    name_en: "Street 1".into(),
                }]
            }
            _ => (0..self.generate.streets.unwrap_or(1).max(1))
                .map(|i| StreetName {
                    code: format!("{}-{:02}", self.name, i + 1),
                    name: format!("Street {}", i + 1),
                    name_en: format!("Street {}", i + 1),
                })
                .collect(),
        }
    }

    /// The built-in Bao'an pack.
    pub fn baoan() -> Pack {
        Loader::new(Files::Builtin(BAOAN_FILES))
            .load()
            .expect("the built-in Bao'an pack loads (tested)")
    }

    /// A pack from a folder holding `district.toml`.
    pub fn load(dir: &Path) -> Result<Pack, PackError> {
        if !dir.join("district.toml").is_file() {
            return Err(PackError::Read {
                file: dir.join("district.toml").display().to_string(),
                error:
                    "a district pack is a folder with a district.toml manifest; there is none here"
                        .into(),
            });
        }
        Loader::new(Files::Dir(dir.to_path_buf())).load()
    }

    pub fn id(&self) -> PackId {
        PackId {
            name: self.name.clone(),
            hash: self.hash.clone(),
        }
    }
}

/// Reads a pack's manifest and files once each, hashing them as it goes.
struct Loader {
    files: Files,
    hasher: Sha256,
    read: BTreeMap<String, ()>,
    osm: BTreeMap<String, crate::osm::OsmData>,
    dropped: Vec<Dropped>,
    layers: Vec<LayerInfo>,
    default_crs: Crs,
}

fn drop_note(dropped: &mut Vec<Dropped>, layer: &str, reason: &str, example: String) {
    if let Some(d) = dropped
        .iter_mut()
        .find(|d| d.layer == layer && d.reason == reason)
    {
        d.count += 1;
        if d.examples.len() < 5 {
            d.examples.push(example);
        }
        return;
    }
    dropped.push(Dropped {
        layer: layer.into(),
        reason: reason.into(),
        count: 1,
        examples: vec![example],
    });
}

impl Loader {
    fn new(files: Files) -> Loader {
        Loader {
            files,
            hasher: Sha256::new(),
            read: BTreeMap::new(),
            osm: BTreeMap::new(),
            dropped: Vec::new(),
            layers: Vec::new(),
            default_crs: Crs::Wgs84,
        }
    }

    /// A file's bytes, hashed the first time it is read.
    fn bytes(&mut self, name: &str) -> Result<Vec<u8>, PackError> {
        let bytes = self.files.read(name)?;
        if self.read.insert(name.to_string(), ()).is_none() {
            self.hasher.update(name.as_bytes());
            self.hasher.update([0]);
            self.hasher.update((bytes.len() as u64).to_le_bytes());
            self.hasher.update(&bytes);
        }
        Ok(bytes)
    }

    fn text(&mut self, name: &str) -> Result<String, PackError> {
        let bytes = self.bytes(name)?;
        String::from_utf8(bytes).map_err(|e| PackError::Read {
            file: self.files.label(name),
            error: format!("not UTF-8 text: {e}"),
        })
    }

    fn crs(
        &self,
        manifest: &scenarios_map::Map,
        field: &str,
        crs: &Option<String>,
    ) -> Result<Crs, PackError> {
        match crs {
            None => Ok(self.default_crs),
            Some(s) => s
                .parse::<Crs>()
                .map_err(|e| manifest.error(field, &e.to_string())),
        }
    }

    fn is_osm(file: &str) -> bool {
        file.ends_with(".pbf")
    }

    /// An OSM extract's layers, read once however many layers name it.
    fn osm(&mut self, file: &str) -> Result<&crate::osm::OsmData, PackError> {
        if self.osm.contains_key(file) {
            return Ok(&self.osm[file]);
        }
        self.bytes(file)?;
        let path = self.files.path(file).ok_or_else(|| PackError::Unusable {
            file: self.files.label(file),
            what: "the built-in pack cannot hold an OSM extract".into(),
        })?;
        let data = crate::osm::read_osm(&path).map_err(|e| PackError::Osm {
            file: self.files.label(file),
            error: e.to_string(),
        })?;
        self.dropped.extend(data.dropped.iter().cloned());
        Ok(self.osm.entry(file.to_string()).or_insert(data))
    }

    fn info(&mut self, layer: &str, r: Option<(&str, Option<Crs>, &str, bool)>, items: usize) {
        self.layers.push(match r {
            Some((file, crs, source, real)) => LayerInfo {
                layer: layer.into(),
                status: "read".into(),
                file: Some(file.into()),
                crs,
                source: source.into(),
                real,
                items,
            },
            None => LayerInfo {
                layer: layer.into(),
                status: "absent".into(),
                file: None,
                crs: None,
                source: String::new(),
                real: false,
                items: 0,
            },
        });
    }

    fn load(mut self) -> Result<Pack, PackError> {
        let manifest_text = self.text("district.toml")?;
        let label = self.files.label("district.toml");
        let map = scenarios_map::Map::new(&label, &manifest_text);
        let m: Manifest = toml::from_str(&manifest_text).map_err(|e| {
            let (line, column) = e.span().map_or((1, 1), |s| map.source.line_col(s.start));
            PackError::Syntax {
                file: label.clone(),
                line,
                column,
                expected: format!("a district pack manifest: {}", e.message()),
            }
        })?;
        let name_ok = !m.pack.name.is_empty()
            && m.pack
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !name_ok {
            return Err(map.error(
                "pack.name",
                "a short name of letters, digits, - and _ (it names output folders)",
            ));
        }
        self.default_crs = match &m.pack.crs {
            None => Crs::Wgs84,
            Some(s) => s
                .parse::<Crs>()
                .map_err(|e| map.error("pack.crs", &e.to_string()))?,
        };

        let boundary = self.boundary(&map, &m.boundary)?;
        let bbox = boundary
            .bounding_rect()
            .ok_or_else(|| PackError::Unusable {
                file: self.files.label(&m.boundary.file),
                what: "the boundary is empty".into(),
            })?;
        let origin = match m.pack.origin {
            Some([lon, lat]) => (lon, lat),
            None => (
                (bbox.min().x + bbox.max().x) / 2.0,
                (bbox.min().y + bbox.max().y) / 2.0,
            ),
        };
        let streets = self.divisions(&map, "streets", m.streets.as_ref())?;
        let communities = self.divisions(&map, "communities", m.communities.as_ref())?;
        let grids = self.divisions(&map, "grids", m.grids.as_ref())?;
        let roads = self.roads(&map, m.roads.as_ref(), &boundary)?;
        let places = self.places(&map, m.places.as_ref(), &boundary)?;
        let land = self.land(&map, m.land_use.as_ref())?;
        let (population_total, population) = self.population(m.population.as_ref())?;
        let posts = match &m.posts {
            None => {
                self.info("posts", None, 0);
                None
            }
            Some(r) => {
                let crs = self.crs(&map, "posts.crs", &r.crs)?;
                let text = self.text(&r.file)?;
                let rows = text
                    .lines()
                    .skip(1)
                    .filter(|l| !l.trim().is_empty())
                    .count();
                self.info("posts", Some((&r.file, Some(crs), &r.source, r.real)), rows);
                Some(PostsFile {
                    file: self.files.label(&r.file),
                    text,
                    crs,
                })
            }
        };
        let admin = self.osm.values().flat_map(|d| d.admin.clone()).collect();
        Ok(Pack {
            name: m.pack.name.clone(),
            title: m.pack.title.clone(),
            notes: m.pack.notes.clone(),
            hash: format!("{:x}", self.hasher.finalize_reset()),
            dir: match &self.files {
                Files::Dir(d) => Some(d.clone()),
                Files::Builtin(_) => None,
            },
            origin,
            boundary,
            streets,
            communities,
            grids,
            generate: m.generate.clone(),
            roads,
            places,
            land,
            admin,
            population_total,
            population,
            posts,
            layers: self.layers,
            dropped: self.dropped,
        })
    }

    /// The boundary: every area of the file, unioned; a broken ring refuses the pack.
    fn boundary(
        &mut self,
        map: &scenarios_map::Map,
        r: &LayerRef,
    ) -> Result<MultiPolygon<f64>, PackError> {
        let crs = self.crs(map, "boundary.crs", &r.crs)?;
        let file = self.files.label(&r.file);
        let text = self.text(&r.file)?;
        let boundary = read::all_areas(&file, &text, crs, "the district's boundary")?;
        self.info(
            "boundary",
            Some((&r.file, Some(crs), &r.source, r.real)),
            boundary.0.len(),
        );
        Ok(boundary)
    }

    /// A GeoJSON layer's features in its datum; features whose geometry is broken are dropped
    /// and listed under `layer`.
    fn droppable_features(
        &mut self,
        map: &scenarios_map::Map,
        layer: &str,
        r: &LayerRef,
    ) -> Result<(Vec<Feature>, Crs), PackError> {
        let crs = self.crs(map, &format!("{layer}.crs"), &r.crs)?;
        let label = self.files.label(&r.file);
        let text = self.text(&r.file)?;
        let (features, bad) = read::features(&label, &text, crs)?;
        for b in bad {
            drop_note(
                &mut self.dropped,
                layer,
                &format!("{}: {}", b.field, b.expected),
                format!("feature {}", b.index),
            );
        }
        Ok((features, crs))
    }

    fn divisions(
        &mut self,
        map: &scenarios_map::Map,
        layer: &str,
        r: Option<&DivisionRef>,
    ) -> Result<Divisions, PackError> {
        let Some(r) = r else {
            self.layers.push(LayerInfo {
                layer: layer.into(),
                status: "generated".into(),
                file: None,
                crs: None,
                source: "generated inside the level above (Voronoi cells of seeded points weighted by where people live)".into(),
                real: false,
                items: 0,
            });
            return Ok(Divisions::Generate);
        };
        let crs = self.crs(map, &format!("{layer}.crs"), &r.crs)?;
        let given = [&r.file, &r.seeds, &r.names]
            .iter()
            .filter(|f| f.is_some())
            .count();
        if given != 1
            || (r.seeds.is_some() && layer != "streets")
            || (r.names.is_some() && layer != "communities")
        {
            return Err(map.error(
                layer,
                &format!(
                    "exactly one of file (polygons){}{}",
                    if layer == "streets" {
                        ", seeds (points)"
                    } else {
                        ""
                    },
                    if layer == "communities" {
                        ", names (a list)"
                    } else {
                        ""
                    }
                ),
            ));
        }
        let (f, divisions) = match (&r.file, &r.seeds, &r.names) {
            (Some(f), _, _) => {
                let (label, text) = (self.files.label(f), self.text(f)?);
                (
                    f,
                    Divisions::Polygons(divisions::areas(&label, &text, crs, layer)?),
                )
            }
            (_, Some(f), _) => {
                let (label, text) = (self.files.label(f), self.text(f)?);
                (f, Divisions::Seeds(divisions::seeds(&label, &text, crs)?))
            }
            (_, _, Some(f)) => {
                let (label, text) = (self.files.label(f), self.text(f)?);
                (f, Divisions::Names(divisions::names(&label, &text)?))
            }
            (None, None, None) => unreachable!("exactly one is given (checked above)"),
        };
        let items = match &divisions {
            Divisions::Polygons(a) => a.len(),
            Divisions::Seeds(s) => s.len(),
            Divisions::Names(n) => n.len(),
            Divisions::Generate => 0,
        };
        self.info(layer, Some((f, Some(crs), &r.source, r.real)), items);
        Ok(divisions)
    }

    fn roads(
        &mut self,
        map: &scenarios_map::Map,
        r: Option<&LayerRef>,
        boundary: &MultiPolygon<f64>,
    ) -> Result<Vec<RoadLine>, PackError> {
        let Some(r) = r else {
            self.info("roads", None, 0);
            return Ok(Vec::new());
        };
        let (lines, crs) = if Self::is_osm(&r.file) {
            (self.osm(&r.file)?.roads.clone(), Crs::Wgs84)
        } else {
            let (features, crs) = self.droppable_features(map, "roads", r)?;
            let mut lines = Vec::new();
            for f in features {
                match road_of(&f) {
                    Ok(mut ls) => lines.append(&mut ls),
                    Err(reason) => drop_note(
                        &mut self.dropped,
                        "roads",
                        &reason,
                        format!("feature {}", f.index),
                    ),
                }
            }
            (lines, crs)
        };
        let total = lines.len();
        let kept: Vec<RoadLine> = lines
            .into_iter()
            .filter(|l| l.line.intersects(boundary))
            .collect();
        if kept.len() < total {
            self.dropped.push(Dropped {
                layer: "roads".into(),
                reason: "outside the boundary".into(),
                count: total - kept.len(),
                examples: Vec::new(),
            });
        }
        if kept.is_empty() {
            return Err(PackError::Unusable {
                file: self.files.label(&r.file),
                what: format!("no roads inside the boundary ({total} read, all outside it)"),
            });
        }
        self.info(
            "roads",
            Some((&r.file, Some(crs), &r.source, r.real)),
            kept.len(),
        );
        Ok(kept)
    }

    fn places(
        &mut self,
        map: &scenarios_map::Map,
        r: Option<&LayerRef>,
        boundary: &MultiPolygon<f64>,
    ) -> Result<Vec<Place>, PackError> {
        let Some(r) = r else {
            self.info("places", None, 0);
            return Ok(Vec::new());
        };
        let (places, crs) = if Self::is_osm(&r.file) {
            (self.osm(&r.file)?.places.clone(), Crs::Wgs84)
        } else {
            let crs = self.crs(map, "places.crs", &r.crs)?;
            let label = self.files.label(&r.file);
            let text = self.text(&r.file)?;
            let t = Table::parse(&label, &text)?;
            let (kind, lon, lat) = (t.column("kind")?, t.column("lon")?, t.column("lat")?);
            let name = t.optional("name");
            let mut out = Vec::new();
            for (line, row) in &t.rows {
                let k = match row.get(kind).map(|k| k.parse::<PlaceKind>()) {
                    Some(Ok(k)) => k,
                    _ => {
                        drop_note(
                            &mut self.dropped,
                            "places",
                            "unknown kind",
                            format!("line {line}"),
                        );
                        continue;
                    }
                };
                let num = |c: usize| {
                    row.get(c)
                        .and_then(|v| v.parse::<f64>().ok())
                        .filter(|v| v.is_finite())
                };
                let (Some(x), Some(y)) = (num(lon), num(lat)) else {
                    drop_note(
                        &mut self.dropped,
                        "places",
                        "no coordinates",
                        format!("line {line}"),
                    );
                    continue;
                };
                let (x, y) = crs.to_wgs84(x, y);
                out.push(Place {
                    kind: k,
                    name: name
                        .and_then(|c| row.get(c))
                        .filter(|n| !n.is_empty())
                        .cloned(),
                    lon: x,
                    lat: y,
                });
            }
            (out, crs)
        };
        let mut kept = Vec::new();
        for p in places {
            if boundary.intersects(&Point::new(p.lon, p.lat)) {
                kept.push(p);
            } else {
                drop_note(
                    &mut self.dropped,
                    "places",
                    "outside the boundary",
                    p.name.clone().unwrap_or_else(|| p.kind.to_string()),
                );
            }
        }
        self.info(
            "places",
            Some((&r.file, Some(crs), &r.source, r.real)),
            kept.len(),
        );
        Ok(kept)
    }

    fn land(
        &mut self,
        map: &scenarios_map::Map,
        r: Option<&LayerRef>,
    ) -> Result<Vec<LandPatch>, PackError> {
        let Some(r) = r else {
            self.info("land_use", None, 0);
            return Ok(Vec::new());
        };
        let (land, crs) = if Self::is_osm(&r.file) {
            (self.osm(&r.file)?.land.clone(), Crs::Wgs84)
        } else {
            let (features, crs) = self.droppable_features(map, "land_use", r)?;
            let mut out = Vec::new();
            for f in features {
                let class = f.text("class").map(|c| c.parse::<LandClass>());
                match (class, &f.geometry) {
                    (Some(Ok(class)), Geometry::Areas(shape)) => out.push(LandPatch {
                        class,
                        name: f.text("name"),
                        shape: shape.clone(),
                    }),
                    (Some(Ok(_)), _) => drop_note(
                        &mut self.dropped,
                        "land_use",
                        "not a polygon",
                        format!("feature {}", f.index),
                    ),
                    (Some(Err(e)), _) => drop_note(
                        &mut self.dropped,
                        "land_use",
                        &e.to_string(),
                        format!("feature {}", f.index),
                    ),
                    (None, _) => drop_note(
                        &mut self.dropped,
                        "land_use",
                        "no class property",
                        format!("feature {}", f.index),
                    ),
                }
            }
            (out, crs)
        };
        self.info(
            "land_use",
            Some((&r.file, Some(crs), &r.source, r.real)),
            land.len(),
        );
        Ok(land)
    }

    fn population(
        &mut self,
        r: Option<&manifest::PopulationRef>,
    ) -> Result<(Option<u64>, Vec<PopulationRow>), PackError> {
        let Some(r) = r else {
            self.info("population", None, 0);
            return Ok((None, Vec::new()));
        };
        let mut rows = Vec::new();
        if let Some(f) = &r.file {
            let label = self.files.label(f);
            let text = self.text(f)?;
            let t = Table::parse(&label, &text)?;
            let (level, name, pop) = (
                t.column("level")?,
                t.column("name")?,
                t.column("population")?,
            );
            for (line, row) in &t.rows {
                let lvl = row.get(level).cloned().unwrap_or_default();
                if !["street", "community", "grid"].contains(&lvl.as_str()) {
                    return Err(PackError::Syntax {
                        file: label,
                        line: *line,
                        column: level + 1,
                        expected: format!("level street, community or grid, got {lvl:?}"),
                    });
                }
                let residents = row
                    .get(pop)
                    .and_then(|v| v.replace('_', "").parse::<u64>().ok())
                    .ok_or_else(|| PackError::Syntax {
                        file: label.clone(),
                        line: *line,
                        column: pop + 1,
                        expected: "a whole number of residents".into(),
                    })?;
                rows.push(PopulationRow {
                    level: lvl,
                    key: row.get(name).cloned().unwrap_or_default(),
                    residents,
                    line: *line,
                });
            }
        }
        let file = r.file.clone().unwrap_or_else(|| "district.toml".into());
        self.info(
            "population",
            Some((&file, None, &r.source, r.real)),
            rows.len().max(usize::from(r.total.is_some())),
        );
        Ok((r.total, rows))
    }
}

/// A GeoJSON road feature's lines: `class` (or `highway`) an OSM highway value; optional
/// `oneway` (yes/no/-1 or true/false), `max_speed_kmh`, `foot` (yes/no), `name`.
fn road_of(f: &Feature) -> Result<Vec<RoadLine>, String> {
    let class_text = f
        .text("class")
        .or_else(|| f.text("highway"))
        .ok_or("no class property")?;
    let class: RoadClass = class_text
        .parse()
        .map_err(|e: crate::layers::UnknownRoadClass| e.to_string())?;
    let oneway = match f.properties.get("oneway") {
        None | Some(serde_json::Value::Null) => Oneway::Both,
        Some(serde_json::Value::Bool(b)) => {
            if *b {
                Oneway::Forward
            } else {
                Oneway::Both
            }
        }
        Some(v) => match v.as_str().map(str::trim).unwrap_or("") {
            "yes" | "true" | "1" => Oneway::Forward,
            "-1" | "reverse" => Oneway::Backward,
            "no" | "false" | "0" | "" => Oneway::Both,
            other => return Err(format!("oneway: expected yes, no or -1, got {other:?}")),
        },
    };
    let foot = match f.text("foot").as_deref() {
        Some("yes" | "designated" | "permissive") => Some(true),
        Some("no") => Some(false),
        _ => None,
    };
    let Geometry::Lines(lines) = &f.geometry else {
        return Err("not a LineString".into());
    };
    Ok(lines
        .iter()
        .filter(|l| l.0.len() >= 2)
        .map(|l| RoadLine {
            class,
            oneway,
            max_speed_kmh: f.number("max_speed_kmh").filter(|s| *s > 0.0),
            foot,
            name: f.text("name"),
            line: l.clone(),
        })
        .collect())
}

/// Manifest field errors located at `file:line:column` through the scenario crate's source map.
mod scenarios_map {
    use super::PackError;
    use baoan_scenarios::SourceMap;

    pub struct Map {
        pub source: SourceMap,
    }

    impl Map {
        pub fn new(file: &str, text: &str) -> Map {
            Map {
                source: SourceMap::new(file, text),
            }
        }

        pub fn error(&self, field: &str, expected: &str) -> PackError {
            let (line, column) = self
                .source
                .span_of(field)
                .map_or((1, 1), |s| self.source.line_col(s.start));
            PackError::Syntax {
                file: self.source.file.clone(),
                line,
                column,
                expected: format!("{field}: {expected}"),
            }
        }
    }
}
