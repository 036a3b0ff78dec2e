//! Reading an OpenStreetMap extract (`.osm.pbf`) into the neutral layers of `crate::layers`:
//! roads, places, land use and administrative areas, in WGS-84 (OSM's own datum, so nothing is
//! converted).
//!
//! The file is read in up to three passes, each decoding its blobs in parallel (results are put
//! back in file order, and every layer is sorted by OSM id, so the output does not depend on the
//! thread count):
//!
//! 1. ways and relations: the roads, the closed ways that are places or land use, and the
//!    relations (multipolygons, administrative boundaries) with their member ways' ids;
//! 2. only if a relation needs member ways pass 1 did not keep: those ways' node lists;
//! 3. nodes: the places tagged on nodes, and the coordinates of the nodes the kept ways use
//!    (a sorted `Vec` of id and position; no node the layers do not use is held).
//!
//! Features an extract clips at its edge are trimmed (roads keep their longest run of nodes
//! inside) or left out, and what is left out is listed in `OsmData::dropped`.

use std::collections::HashMap;
use std::fs::File;
use std::hash::Hash;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use geo::{Contains, Coord, LineString, MultiPolygon, Orient, Point, Polygon, Rect};
use osmpbf::{BlobDecode, BlobReader, PrimitiveBlock, RelMemberType};
use rayon::prelude::*;

use crate::layers::{
    AdminArea, Dropped, LandClass, LandPatch, Oneway, Place, PlaceKind, RoadClass, RoadLine,
};

/// Kilometres in a statute mile (the international mile, exactly 1,609.344 m): OSM's `maxspeed`
/// in mph becomes km/h with it.
pub const KMH_PER_MPH: f64 = 1.609_344;

/// How many example ids each `Dropped` entry lists (the pack report shows them).
pub const MAX_DROPPED_EXAMPLES: usize = 5;

/// The PBF features this reader understands; a file that requires any other is refused rather
/// than misread (`HistoricalInformation` files, for one, hold deleted versions).
const KNOWN_REQUIRED_FEATURES: [&str; 2] = ["OsmSchema-V0.6", "DenseNodes"];

/// Why an extract could not be read. Each names the file.
#[derive(Debug, thiserror::Error)]
pub enum OsmError {
    #[error("{}: cannot read the file: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: not an OpenStreetMap PBF file: {detail}", path.display())]
    NotPbf { path: PathBuf, detail: String },
    #[error("{}: blob {blob} (counting from 0) fails to decode: {detail}", path.display())]
    Blob {
        path: PathBuf,
        blob: usize,
        detail: String,
    },
    #[error("{}: the file requires the PBF feature {feature:?}, which this reader does not support", path.display())]
    Unsupported { path: PathBuf, feature: String },
}

/// How many elements of each type the file holds (all of them, kept or not).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OsmStats {
    pub nodes: usize,
    pub ways: usize,
    pub relations: usize,
}

/// An extract's layers. Each layer is in OSM id order (nodes, then ways, then relations where a
/// layer mixes them).
#[derive(Debug, Clone)]
pub struct OsmData {
    pub roads: Vec<RoadLine>,
    pub places: Vec<Place>,
    pub land: Vec<LandPatch>,
    pub admin: Vec<AdminArea>,
    pub dropped: Vec<Dropped>,
    pub stats: OsmStats,
    /// The extract's bounding box as its header states it (lon/lat), when it states one.
    pub bbox: Option<Rect<f64>>,
}

/// Read an `.osm.pbf` extract into the neutral layers.
pub fn read_osm(path: &Path) -> Result<OsmData, OsmError> {
    let mut drops = DropLog::default();

    // Pass 1: ways and relations.
    let scan1 = scan(path, pass_ways_and_relations)?;
    let bbox = scan1.bbox;
    let mut p1 = Pass1::default();
    for part in scan1.parts {
        p1.ways += part.ways;
        p1.relations += part.relations;
        p1.kept.extend(part.kept);
        p1.rels.extend(part.rels);
        drops.items.extend(part.drops);
    }
    p1.kept.sort_by_key(|w| w.id);
    p1.rels.sort_by_key(|r| r.id);

    // Every way a layer uses, by id, with its node list.
    let mut way_refs: Vec<(i64, Vec<i64>)> = p1
        .kept
        .iter_mut()
        .map(|w| (w.id, std::mem::take(&mut w.refs)))
        .collect();

    // Pass 2: relation members pass 1 did not keep.
    let mut missing: Vec<i64> = p1
        .rels
        .iter()
        .flat_map(|r| r.members.iter().map(|m| m.0))
        .filter(|id| way_refs.binary_search_by_key(id, |w| w.0).is_err())
        .collect();
    missing.sort_unstable();
    missing.dedup();
    if !missing.is_empty() {
        let scan2 = scan(path, |block| member_ways(block, &missing))?;
        way_refs.extend(scan2.parts.into_iter().flatten());
        way_refs.sort_by_key(|w| w.0);
    }

    // Pass 3: nodes.
    let mut needed: Vec<i64> = way_refs.iter().flat_map(|w| w.1.iter().copied()).collect();
    needed.sort_unstable();
    needed.dedup();
    let scan3 = scan(path, |block| pass_nodes(block, &needed))?;
    let mut nodes = 0;
    let mut coords: Vec<(i64, Coord<f64>)> = Vec::with_capacity(needed.len());
    let mut places: Vec<((u8, i64), Place)> = Vec::new();
    for part in scan3.parts {
        nodes += part.nodes;
        coords.extend(part.coords);
        places.extend(part.places.into_iter().map(|(id, p)| ((0, id), p)));
    }
    drop(needed);
    coords.sort_unstable_by_key(|c| c.0);
    let table = Tables {
        ways: &way_refs,
        coords: &coords,
    };

    let mut roads = Vec::new();
    let mut land: Vec<((u8, i64), LandPatch)> = Vec::new();
    for w in &p1.kept {
        let refs = table.refs(w.id).unwrap_or(&[]);
        if let Some(road) = &w.road {
            build_road(w.id, refs, road, &table, &mut roads, &mut drops);
        }
        if let Some(area) = &w.area {
            let ring: Option<Vec<Coord<f64>>> = refs.iter().map(|&n| table.coord(n)).collect();
            let Some(ring) = ring else {
                if area.place.is_some() {
                    drops.add(
                        "places",
                        "nodes outside the extract",
                        ElementType::Way,
                        w.id,
                    );
                }
                if area.land.is_some() {
                    drops.add(
                        "land_use",
                        "nodes outside the extract",
                        ElementType::Way,
                        w.id,
                    );
                }
                continue;
            };
            let ring = LineString::new(ring);
            if let Some(kind) = area.place {
                let (lon, lat) = mean_of_rings(std::slice::from_ref(&ring));
                places.push((
                    (1, w.id),
                    Place {
                        kind,
                        name: area.name.clone(),
                        lon,
                        lat,
                    },
                ));
            }
            if let Some(class) = area.land {
                let shape = MultiPolygon::new(vec![Polygon::new(ring, vec![])])
                    .orient(geo::orient::Direction::Default);
                land.push((
                    (1, w.id),
                    LandPatch {
                        class,
                        name: area.name.clone(),
                        shape,
                    },
                ));
            }
        }
    }

    let mut admin = Vec::new();
    for r in &p1.rels {
        let layer = if r.admin.is_some() {
            "boundary"
        } else if r.area.land.is_some() {
            "land_use"
        } else {
            "places"
        };
        let shape = match relation_shape(r, &table) {
            Ok(shape) => shape,
            Err(reason) => {
                drops.add(layer, reason, ElementType::Relation, r.id);
                continue;
            }
        };
        if let Some((admin_level, name)) = &r.admin {
            admin.push(AdminArea {
                name: name.clone(),
                admin_level: *admin_level,
                shape: shape.clone(),
            });
        }
        if let Some(kind) = r.area.place {
            let outers: Vec<LineString<f64>> =
                shape.0.iter().map(|p| p.exterior().clone()).collect();
            let (lon, lat) = mean_of_rings(&outers);
            places.push((
                (2, r.id),
                Place {
                    kind,
                    name: r.area.name.clone(),
                    lon,
                    lat,
                },
            ));
        }
        if let Some(class) = r.area.land {
            land.push((
                (2, r.id),
                LandPatch {
                    class,
                    name: r.area.name.clone(),
                    shape,
                },
            ));
        }
    }

    places.sort_by_key(|p| p.0);
    land.sort_by_key(|l| l.0);
    Ok(OsmData {
        roads,
        places: places.into_iter().map(|p| p.1).collect(),
        land: land.into_iter().map(|l| l.1).collect(),
        admin,
        dropped: drops.finish(),
        stats: OsmStats {
            nodes,
            ways: p1.ways,
            relations: p1.relations,
        },
        bbox,
    })
}

// ---------------------------------------------------------------------------------------------
// Reading the file

/// What one pass over the file produced: each data blob's part, in file order.
struct Scan<T> {
    parts: Vec<T>,
    bbox: Option<Rect<f64>>,
}

enum BlobOut<T> {
    Header {
        bbox: Option<Rect<f64>>,
        required: Vec<String>,
    },
    Data(T),
    Other,
}

/// Decode every blob of the file (in parallel) and map each data block with `f`.
fn scan<T, F>(path: &Path, f: F) -> Result<Scan<T>, OsmError>
where
    T: Send,
    F: Fn(&PrimitiveBlock) -> T + Sync + Send,
{
    let file = File::open(path).map_err(|source| OsmError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let reader = BlobReader::new(BufReader::new(file));
    let mut outs: Vec<(usize, Result<BlobOut<T>, osmpbf::Error>)> = reader
        .enumerate()
        .par_bridge()
        .map(|(i, blob)| {
            let out = blob.and_then(|blob| {
                Ok(match blob.decode()? {
                    BlobDecode::OsmHeader(h) => BlobOut::Header {
                        bbox: h.bbox().map(|b| {
                            Rect::new(
                                Coord {
                                    x: b.left,
                                    y: b.top.min(b.bottom),
                                },
                                Coord {
                                    x: b.right,
                                    y: b.top.max(b.bottom),
                                },
                            )
                        }),
                        required: h.required_features().to_vec(),
                    },
                    BlobDecode::OsmData(block) => BlobOut::Data(f(&block)),
                    BlobDecode::Unknown(_) => BlobOut::Other,
                })
            });
            (i, out)
        })
        .collect();
    outs.sort_by_key(|o| o.0);

    let not_pbf = |detail: String| OsmError::NotPbf {
        path: path.to_path_buf(),
        detail,
    };
    let mut parts = Vec::with_capacity(outs.len());
    let mut bbox = None;
    let mut seen_header = false;
    for (i, out) in outs {
        match out {
            Err(e) if i == 0 => return Err(not_pbf(e.to_string())),
            Err(e) => {
                return Err(OsmError::Blob {
                    path: path.to_path_buf(),
                    blob: i,
                    detail: e.to_string(),
                });
            }
            Ok(BlobOut::Header { bbox: b, required }) => {
                if let Some(feature) = required
                    .into_iter()
                    .find(|r| !KNOWN_REQUIRED_FEATURES.contains(&r.as_str()))
                {
                    return Err(OsmError::Unsupported {
                        path: path.to_path_buf(),
                        feature,
                    });
                }
                seen_header = true;
                bbox = bbox.or(b);
            }
            Ok(BlobOut::Data(_)) if !seen_header => {
                return Err(not_pbf(format!(
                    "blob {i} holds data before any OSMHeader block"
                )));
            }
            Ok(BlobOut::Data(part)) => parts.push(part),
            Ok(BlobOut::Other) => {}
        }
    }
    if !seen_header {
        return Err(not_pbf("no OSMHeader block".into()));
    }
    Ok(Scan { parts, bbox })
}

/// An element's tags, looked up by key.
struct Tags<'a>(Vec<(&'a str, &'a str)>);

impl<'a> Tags<'a> {
    fn new(it: impl Iterator<Item = (&'a str, &'a str)>) -> Tags<'a> {
        Tags(it.collect())
    }

    fn get(&self, key: &str) -> Option<&'a str> {
        self.0.iter().find(|t| t.0 == key).map(|t| t.1)
    }

    fn is(&self, key: &str, value: &str) -> bool {
        self.get(key) == Some(value)
    }

    fn is_any(&self, key: &str, values: &[&str]) -> bool {
        self.get(key).is_some_and(|v| values.contains(&v))
    }

    fn name(&self) -> Option<String> {
        self.get("name").map(str::to_owned)
    }
}

/// The OSM element types, for ids in `Dropped` examples ("way/123").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum ElementType {
    Way,
    Relation,
}

impl ElementType {
    fn name(self) -> &'static str {
        match self {
            ElementType::Way => "way",
            ElementType::Relation => "relation",
        }
    }
}

/// One left-out (or trimmed) feature, before they are counted.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct DropItem {
    layer: &'static str,
    reason: &'static str,
    element: ElementType,
    id: i64,
}

#[derive(Default)]
struct DropLog {
    items: Vec<DropItem>,
}

impl DropLog {
    fn add(&mut self, layer: &'static str, reason: &'static str, element: ElementType, id: i64) {
        self.items.push(DropItem {
            layer,
            reason,
            element,
            id,
        });
    }

    /// Count by layer and reason, with the lowest ids as examples.
    fn finish(mut self) -> Vec<Dropped> {
        self.items.sort();
        let mut out: Vec<Dropped> = Vec::new();
        for item in self.items {
            match out.last_mut() {
                Some(d) if d.layer == item.layer && d.reason == item.reason => {
                    d.count += 1;
                    if d.examples.len() < MAX_DROPPED_EXAMPLES {
                        d.examples
                            .push(format!("{}/{}", item.element.name(), item.id));
                    }
                }
                _ => out.push(Dropped {
                    layer: item.layer.into(),
                    reason: item.reason.into(),
                    count: 1,
                    examples: vec![format!("{}/{}", item.element.name(), item.id)],
                }),
            }
        }
        out
    }
}

// ---------------------------------------------------------------------------------------------
// Pass 1: ways and relations

/// A road's attributes from its way's tags.
#[derive(Debug, Clone)]
struct RoadTags {
    class: RoadClass,
    oneway: Oneway,
    max_speed_kmh: Option<f64>,
    foot: Option<bool>,
    name: Option<String>,
}

/// What an area (a closed way or a multipolygon) is, from its tags.
#[derive(Debug, Clone, Default)]
struct AreaTags {
    place: Option<PlaceKind>,
    land: Option<LandClass>,
    name: Option<String>,
}

struct KeptWay {
    id: i64,
    /// Moved into the way table once pass 1 is done.
    refs: Vec<i64>,
    road: Option<RoadTags>,
    /// Only for closed ways.
    area: Option<AreaTags>,
}

/// A member way's role in an area relation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Outer,
    Inner,
}

struct RelRec {
    id: i64,
    /// `(admin_level, name)` for an administrative boundary.
    admin: Option<(u8, String)>,
    area: AreaTags,
    /// Member ways in the relation's order.
    members: Vec<(i64, Role)>,
}

#[derive(Default)]
struct Pass1 {
    ways: usize,
    relations: usize,
    kept: Vec<KeptWay>,
    rels: Vec<RelRec>,
    drops: Vec<DropItem>,
}

fn pass_ways_and_relations(block: &PrimitiveBlock) -> Pass1 {
    let mut out = Pass1::default();
    for group in block.groups() {
        for way in group.ways() {
            out.ways += 1;
            let tags = Tags::new(way.tags());
            let road = road_tags(&tags);
            let refs: Vec<i64> = way.refs().collect();
            let closed = refs.len() >= 4 && refs.first() == refs.last();
            let area = closed
                .then(|| area_tags(&tags))
                .filter(|a| a.place.is_some() || a.land.is_some());
            if road.is_some() || area.is_some() {
                out.kept.push(KeptWay {
                    id: way.id(),
                    refs,
                    road,
                    area,
                });
            }
        }
        for rel in group.relations() {
            out.relations += 1;
            let tags = Tags::new(rel.tags());
            let ty = tags.get("type");
            let area = if ty == Some("multipolygon") {
                area_tags(&tags)
            } else {
                AreaTags::default()
            };
            let mut admin = None;
            if tags.is("boundary", "administrative")
                && matches!(ty, Some("boundary" | "multipolygon"))
            {
                let level = tags
                    .get("admin_level")
                    .and_then(|l| l.trim().parse::<u8>().ok());
                match (level, tags.name()) {
                    (Some(level), Some(name)) => admin = Some((level, name)),
                    _ => out.drops.push(DropItem {
                        layer: "boundary",
                        reason: "admin_level or name missing",
                        element: ElementType::Relation,
                        id: rel.id(),
                    }),
                }
            }
            if admin.is_none() && area.place.is_none() && area.land.is_none() {
                continue;
            }
            let members = rel
                .members()
                .filter(|m| m.member_type == RelMemberType::Way)
                .filter_map(|m| match m.role().unwrap_or("") {
                    "outer" | "" => Some((m.member_id, Role::Outer)),
                    "inner" => Some((m.member_id, Role::Inner)),
                    _ => None,
                })
                .collect();
            out.rels.push(RelRec {
                id: rel.id(),
                admin,
                area,
                members,
            });
        }
    }
    out
}

fn road_tags(t: &Tags) -> Option<RoadTags> {
    let highway = t.get("highway")?;
    let class = RoadClass::from_osm(highway)?;
    Some(RoadTags {
        class,
        oneway: oneway(
            t.get("oneway"),
            highway.starts_with("motorway") || t.is_any("junction", &["roundabout", "circular"]),
        ),
        max_speed_kmh: t.get("maxspeed").and_then(parse_maxspeed),
        foot: match t.get("foot") {
            Some("yes" | "designated" | "permissive") => Some(true),
            Some("no") => Some(false),
            _ => None,
        },
        name: t.name(),
    })
}

/// OSM's `oneway=*`. `implied` is true where OSM implies one way without the tag (motorways and
/// their links, roundabouts and `junction=circular`); `oneway=no` still overrides it. Values
/// the twin does not model (`reversible`, `alternating`: direction by time of day) count as
/// both ways.
fn oneway(value: Option<&str>, implied: bool) -> Oneway {
    match value {
        Some("yes" | "true" | "1") => Oneway::Forward,
        Some("-1" | "reverse") => Oneway::Backward,
        Some("no" | "false" | "0") => Oneway::Both,
        _ if implied => Oneway::Forward,
        _ => Oneway::Both,
    }
}

/// OSM's `maxspeed=*` in km/h: "50", "50 km/h" (or "kmh", "kph"), "30 mph". Everything else
/// ("signals", "none", "walk", country codes such as "FI:urban", several values "50;30") is
/// `None`: the twin then uses its class's speed.
pub fn parse_maxspeed(value: &str) -> Option<f64> {
    let v = value.trim();
    let (number, factor) = if let Some(n) = v.strip_suffix("mph") {
        (n, KMH_PER_MPH)
    } else if let Some(n) = ["km/h", "kmh", "kph"]
        .iter()
        .find_map(|unit| v.strip_suffix(unit))
    {
        (n, 1.0)
    } else {
        (v, 1.0)
    };
    let speed: f64 = number.trim().parse().ok()?;
    (speed.is_finite() && speed > 0.0).then_some(speed * factor)
}

/// What an area's tags make it: a place (first match in the brief's order) and a land class.
fn area_tags(t: &Tags) -> AreaTags {
    AreaTags {
        place: place_kind(t),
        land: land_class(t),
        name: t.name(),
    }
}

fn place_kind(t: &Tags) -> Option<PlaceKind> {
    let amenity = t.get("amenity");
    Some(if t.is("railway", "subway_entrance") {
        PlaceKind::MetroEntrance
    } else if amenity == Some("bus_station")
        || (t.is("public_transport", "station") && t.is("bus", "yes"))
    {
        PlaceKind::BusStation
    } else if t.is_any(
        "amenity",
        &["school", "college", "university", "kindergarten"],
    ) {
        PlaceKind::School
    } else if t.is_any("amenity", &["hospital", "clinic"]) {
        PlaceKind::Hospital
    } else if t.is_any("shop", &["mall", "department_store"]) {
        PlaceKind::Mall
    } else if t.is("leisure", "park") {
        PlaceKind::Park
    } else if amenity == Some("police") {
        PlaceKind::Police
    } else if amenity == Some("fire_station") {
        PlaceKind::FireStation
    } else if t.is_any("place", &["village", "hamlet"]) || is_urban_village_landuse(t) {
        // China's urban villages (城中村) are mapped as villages inside the city, or as
        // residential land tagged `residential=urban_village`.
        PlaceKind::UrbanVillage
    } else {
        return None;
    })
}

fn is_urban_village_landuse(t: &Tags) -> bool {
    t.is("landuse", "residential") && t.is("residential", "urban_village")
}

fn land_class(t: &Tags) -> Option<LandClass> {
    let landuse = t.get("landuse");
    Some(match landuse {
        Some("residential") if is_urban_village_landuse(t) => LandClass::UrbanVillage,
        Some("residential") => LandClass::Residential,
        Some("commercial" | "retail") => LandClass::Commercial,
        Some("industrial") => LandClass::Industrial,
        _ if t.is("aeroway", "aerodrome") => LandClass::Airport,
        Some("reservoir" | "basin") => LandClass::Water,
        _ if t.is("natural", "water") || t.is("waterway", "riverbank") => LandClass::Water,
        Some("forest") => LandClass::Forest,
        _ if t.is("natural", "wood") => LandClass::Forest,
        Some("grass" | "recreation_ground" | "cemetery") => LandClass::Park,
        _ if t.is_any("leisure", &["park", "garden"]) => LandClass::Park,
        _ => return None,
    })
}

// ---------------------------------------------------------------------------------------------
// Passes 2 and 3

fn member_ways(block: &PrimitiveBlock, wanted: &[i64]) -> Vec<(i64, Vec<i64>)> {
    let mut out = Vec::new();
    for group in block.groups() {
        for way in group.ways() {
            if wanted.binary_search(&way.id()).is_ok() {
                out.push((way.id(), way.refs().collect()));
            }
        }
    }
    out
}

#[derive(Default)]
struct Pass3 {
    nodes: usize,
    coords: Vec<(i64, Coord<f64>)>,
    places: Vec<(i64, Place)>,
}

fn pass_nodes(block: &PrimitiveBlock, needed: &[i64]) -> Pass3 {
    let mut out = Pass3::default();
    let mut visit = |id: i64, lon: f64, lat: f64, tags: Tags| {
        out.nodes += 1;
        if needed.binary_search(&id).is_ok() {
            out.coords.push((id, Coord { x: lon, y: lat }));
        }
        if let Some(kind) = place_kind(&tags) {
            out.places.push((
                id,
                Place {
                    kind,
                    name: tags.name(),
                    lon,
                    lat,
                },
            ));
        }
    };
    for group in block.groups() {
        for n in group.nodes() {
            visit(n.id(), n.lon(), n.lat(), Tags::new(n.tags()));
        }
        for n in group.dense_nodes() {
            visit(n.id(), n.lon(), n.lat(), Tags::new(n.tags()));
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Building the layers

/// The ways' node lists and the nodes' positions, both sorted by id.
struct Tables<'a> {
    ways: &'a [(i64, Vec<i64>)],
    coords: &'a [(i64, Coord<f64>)],
}

impl Tables<'_> {
    fn refs(&self, way: i64) -> Option<&[i64]> {
        self.ways
            .binary_search_by_key(&way, |w| w.0)
            .ok()
            .map(|i| self.ways[i].1.as_slice())
    }

    fn coord(&self, node: i64) -> Option<Coord<f64>> {
        self.coords
            .binary_search_by_key(&node, |c| c.0)
            .ok()
            .map(|i| self.coords[i].1)
    }
}

/// A road from its way: the longest run of nodes the extract holds (the whole way unless the
/// extract clipped it), with repeated consecutive nodes merged.
fn build_road(
    id: i64,
    refs: &[i64],
    tags: &RoadTags,
    table: &Tables,
    roads: &mut Vec<RoadLine>,
    drops: &mut DropLog,
) {
    let mut refs = refs.to_vec();
    refs.dedup();
    let mut best_run: Vec<Coord<f64>> = Vec::new();
    let mut run: Vec<Coord<f64>> = Vec::new();
    let mut clipped = false;
    for &n in &refs {
        match table.coord(n) {
            Some(c) => run.push(c),
            None => {
                clipped = true;
                if run.len() > best_run.len() {
                    best_run = std::mem::take(&mut run);
                } else {
                    run.clear();
                }
            }
        }
    }
    if run.len() > best_run.len() {
        best_run = run;
    }
    if best_run.len() < 2 {
        drops.add("roads", "nodes outside the extract", ElementType::Way, id);
        return;
    }
    if clipped {
        drops.add(
            "roads",
            "clipped at the extract's edge (longest run inside kept)",
            ElementType::Way,
            id,
        );
    }
    roads.push(RoadLine {
        class: tags.class,
        oneway: tags.oneway,
        max_speed_kmh: tags.max_speed_kmh,
        foot: tags.foot,
        name: tags.name.clone(),
        line: LineString::new(best_run),
    });
}

/// The mean of the rings' points, each ring's closing point counted once.
fn mean_of_rings(rings: &[LineString<f64>]) -> (f64, f64) {
    let (mut x, mut y, mut n) = (0.0, 0.0, 0usize);
    for ring in rings {
        let pts = &ring.0;
        let open = if pts.len() > 1 && pts.first() == pts.last() {
            &pts[..pts.len() - 1]
        } else {
            &pts[..]
        };
        for c in open {
            x += c.x;
            y += c.y;
            n += 1;
        }
    }
    let n = n.max(1) as f64;
    (x / n, y / n)
}

/// An area relation's shape: its member ways joined into outer and inner rings, each inner ring
/// in the outer ring that holds it. A member the extract lacks (or whose nodes it lacks) leaves
/// a ring that cannot close.
fn relation_shape(r: &RelRec, table: &Tables) -> Result<MultiPolygon<f64>, &'static str> {
    let rings_of = |role: Role| -> Result<Vec<LineString<f64>>, &'static str> {
        let mut segments = Vec::new();
        for &(id, _) in r.members.iter().filter(|m| m.1 == role) {
            match table.refs(id) {
                Some(refs) if refs.iter().all(|&n| table.coord(n).is_some()) => {
                    segments.push(refs.to_vec());
                }
                // Clipped by the extract: the ring cannot be closed without it (and whatever
                // closes without it is not the whole area).
                _ => return Err("unclosed ring"),
            }
        }
        let rings = assemble_rings(&segments).map_err(|_| "unclosed ring")?;
        Ok(rings
            .into_iter()
            .map(|ids| ids.iter().filter_map(|&n| table.coord(n)).collect())
            .collect())
    };
    let outers = rings_of(Role::Outer)?;
    let inners = rings_of(Role::Inner)?;
    if outers.is_empty() {
        return Err("no outer ring");
    }
    let mut polygons: Vec<Polygon<f64>> = outers
        .into_iter()
        .map(|ring| Polygon::new(ring, vec![]))
        .collect();
    for inner in inners {
        let probe = Point::from(inner.0[0]);
        // The smallest outer that holds it (an island's lake inside a lake's island).
        let holder = polygons
            .iter()
            .enumerate()
            .filter(|(_, p)| p.contains(&probe) || p.exterior().contains(&probe))
            .min_by(|a, b| {
                use geo::Area;
                a.1.unsigned_area().total_cmp(&b.1.unsigned_area())
            })
            .map(|(i, _)| i);
        match holder {
            Some(i) => polygons[i].interiors_push(inner),
            None => return Err("inner ring outside every outer ring"),
        }
    }
    Ok(MultiPolygon::new(polygons).orient(geo::orient::Direction::Default))
}

/// Why rings could not be assembled: the segment a ring began with that could not be closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the ring starting with segment {segment} cannot be closed")]
pub struct UnclosedRing {
    pub segment: usize,
}

/// Join segments (lists of node ids, as a relation's member ways are) end to end, in either
/// direction, into closed rings (first point == last point, at least three distinct points).
/// A segment already closed is a ring by itself. Deterministic: a ring starts from the first
/// unused segment and takes the first unused segment that continues it. Fails if any ring
/// cannot be closed.
pub fn assemble_rings<T: Copy + Eq + Hash>(
    segments: &[Vec<T>],
) -> Result<Vec<Vec<T>>, UnclosedRing> {
    let mut ends: HashMap<T, Vec<usize>> = HashMap::new();
    for (i, s) in segments.iter().enumerate() {
        if let (Some(&a), Some(&b)) = (s.first(), s.last())
            && a != b
        {
            ends.entry(a).or_default().push(i);
            ends.entry(b).or_default().push(i);
        }
    }
    let mut used = vec![false; segments.len()];
    let mut rings = Vec::new();
    for start in 0..segments.len() {
        if used[start] {
            continue;
        }
        used[start] = true;
        let mut ring = segments[start].clone();
        if ring.len() < 2 {
            return Err(UnclosedRing { segment: start });
        }
        while ring.first() != ring.last() {
            let end = *ring.last().expect("non-empty");
            let next = ends
                .get(&end)
                .and_then(|c| c.iter().copied().find(|&j| !used[j]))
                .ok_or(UnclosedRing { segment: start })?;
            used[next] = true;
            let seg = &segments[next];
            if seg[0] == end {
                ring.extend_from_slice(&seg[1..]);
            } else {
                ring.extend(seg.iter().rev().skip(1).copied());
            }
        }
        if ring.len() < 4 {
            return Err(UnclosedRing { segment: start });
        }
        rings.push(ring);
    }
    Ok(rings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::Area;

    const HELSINKI: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data/osm/helsinki.osm.pbf");

    fn helsinki() -> OsmData {
        read_osm(Path::new(HELSINKI)).expect("the vendored Helsinki extract reads")
    }

    #[test]
    fn helsinki_roads_have_classes_directions_and_lie_inside_the_extract() {
        let d = helsinki();
        let bbox = d
            .bbox
            .expect("the extract's header states its bounding box");
        let classes: std::collections::BTreeSet<RoadClass> =
            d.roads.iter().map(|r| r.class).collect();
        assert!(classes.contains(&RoadClass::Residential), "{classes:?}");
        assert!(classes.contains(&RoadClass::Footway), "{classes:?}");
        assert!(classes.len() >= 6, "{classes:?}");
        assert!(d.roads.iter().any(|r| r.oneway == Oneway::Forward));
        assert!(d.roads.iter().any(|r| r.oneway == Oneway::Both));
        assert!(d.roads.iter().any(|r| r.max_speed_kmh.is_some()));
        assert!(d.roads.iter().any(|r| r.name.is_some()));
        for r in &d.roads {
            assert!(r.line.0.len() >= 2, "{r:?}");
            for c in &r.line.0 {
                assert!(
                    bbox.contains(&Point::from(*c)) || bbox.to_polygon().exterior().contains(c),
                    "{c:?} outside {bbox:?}"
                );
            }
        }
        // The extract cuts ways at its edge: some are trimmed, some have no node inside.
        let dropped = |reason: &str| {
            d.dropped
                .iter()
                .find(|x| x.layer == "roads" && x.reason == reason)
                .map_or(0, |x| x.count)
        };
        assert!(dropped("nodes outside the extract") > 0);
        assert!(dropped("clipped at the extract's edge (longest run inside kept)") > 0);
    }

    #[test]
    fn helsinki_places_and_land_use() {
        let d = helsinki();
        let kinds: std::collections::BTreeSet<PlaceKind> =
            d.places.iter().map(|p| p.kind).collect();
        assert!(kinds.len() >= 2, "{kinds:?}");
        assert!(kinds.contains(&PlaceKind::MetroEntrance), "{kinds:?}");
        let classes: std::collections::BTreeSet<LandClass> =
            d.land.iter().map(|l| l.class).collect();
        assert!(classes.len() >= 2, "{classes:?}");
        let bbox = d.bbox.unwrap();
        for p in &d.places {
            // Places on areas sit at their ring's mean, so an area the extract clips is left
            // out rather than placed at a biased point; every place is then inside.
            assert!(bbox.contains(&Point::new(p.lon, p.lat)), "{p:?}");
        }
        for l in &d.land {
            for poly in &l.shape.0 {
                assert!(poly.exterior().is_closed(), "{l:?}");
            }
            assert!(l.shape.signed_area() > 0.0, "{l:?}");
        }
        // Multipolygon relations are assembled too: the Kaisaniemi park (relation 6627217) is a
        // patch with holes and a place; a fire station is mapped as a relation (167018).
        let park = d
            .land
            .iter()
            .find(|l| l.name.as_deref() == Some("Kaisaniemen puisto"))
            .expect("the park relation is assembled");
        assert_eq!(park.class, LandClass::Park);
        assert!(!park.shape.0[0].interiors().is_empty());
        let named = |kind, name: &str| {
            d.places
                .iter()
                .any(|p| p.kind == kind && p.name.as_deref() == Some(name))
        };
        assert!(named(PlaceKind::Park, "Kaisaniemen puisto"));
        assert!(named(PlaceKind::FireStation, "Erottajan paloasema"));
    }

    /// Every administrative boundary in this extract is cut by its edge (even the level-10
    /// neighbourhoods in the middle reach beyond it), so none is an area and each is listed as
    /// dropped; the synthetic extract below checks complete ones.
    #[test]
    fn helsinki_boundaries_are_all_clipped_and_reported() {
        let d = helsinki();
        assert!(
            d.admin.is_empty(),
            "{:?}",
            d.admin.iter().map(|a| &a.name).collect::<Vec<_>>()
        );
        let b = d
            .dropped
            .iter()
            .find(|x| x.layer == "boundary" && x.reason == "unclosed ring")
            .expect("clipped boundaries are reported");
        assert_eq!(b.count, 14);
        assert_eq!(b.examples.len(), MAX_DROPPED_EXAMPLES);
        assert_eq!(b.examples[0], "relation/34914");
        assert_eq!(
            d.stats,
            OsmStats {
                nodes: 24_260,
                ways: 5_130,
                relations: 620
            }
        );
    }

    #[test]
    fn the_same_file_reads_the_same_whatever_the_thread_count() {
        let read_with = |threads: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| format!("{:?}", helsinki()))
        };
        let one = read_with(1);
        assert_eq!(one, read_with(3));
    }

    fn temp_path(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!("baoan-osm-{}-{name}", std::process::id()))
    }

    #[test]
    fn a_file_that_is_not_pbf_is_refused_naming_it() {
        let path = temp_path("not-pbf.osm.pbf");
        std::fs::write(&path, "this is a text file, not an extract\n").unwrap();
        let err = read_osm(&path).unwrap_err();
        assert!(matches!(err, OsmError::NotPbf { .. }), "{err:?}");
        assert!(
            err.to_string().contains(&path.display().to_string()),
            "{err}"
        );

        std::fs::write(&path, "").unwrap();
        let err = read_osm(&path).unwrap_err();
        assert!(matches!(err, OsmError::NotPbf { .. }), "{err:?}");
        std::fs::remove_file(&path).unwrap();

        let missing = temp_path("missing.osm.pbf");
        let err = read_osm(&missing).unwrap_err();
        assert!(matches!(err, OsmError::Read { .. }), "{err:?}");
        assert!(
            err.to_string().contains(&missing.display().to_string()),
            "{err}"
        );
    }

    #[test]
    fn a_damaged_blob_after_the_header_is_named() {
        let bytes = std::fs::read(HELSINKI).unwrap();
        // Keep the header blob and the start of the first data blob only.
        let header_len = u32::from_be_bytes(bytes[0..4].try_into().unwrap()) as usize;
        let path = temp_path("truncated.osm.pbf");
        std::fs::write(&path, &bytes[..4 + header_len + 200]).unwrap();
        let err = read_osm(&path).unwrap_err();
        std::fs::remove_file(&path).unwrap();
        assert!(matches!(err, OsmError::Blob { blob: 1, .. }), "{err:?}");
        assert!(err.to_string().contains("truncated.osm.pbf"), "{err}");
    }

    #[test]
    fn rings_assemble_from_unordered_reversed_segments() {
        // A square 1-2-3-4 in three pieces, out of order, one reversed; and a closed way.
        let segments = vec![vec![3, 4, 1], vec![1, 2], vec![3, 2], vec![7, 8, 9, 7]];
        let rings = assemble_rings(&segments).unwrap();
        assert_eq!(rings, vec![vec![3, 4, 1, 2, 3], vec![7, 8, 9, 7]]);
    }

    #[test]
    fn a_ring_with_a_gap_cannot_close() {
        let segments = vec![vec![1, 2], vec![3, 2], vec![4, 5]];
        assert_eq!(assemble_rings(&segments), Err(UnclosedRing { segment: 0 }));
        // Closed, but with only two distinct points.
        assert_eq!(
            assemble_rings(&[vec![1, 2], vec![2, 1]]),
            Err(UnclosedRing { segment: 0 })
        );
    }

    #[test]
    fn maxspeed_values() {
        assert_eq!(parse_maxspeed("50"), Some(50.0));
        assert_eq!(parse_maxspeed("50 km/h"), Some(50.0));
        assert_eq!(parse_maxspeed("40kmh"), Some(40.0));
        let mph = parse_maxspeed("30 mph").unwrap();
        assert!((mph - 48.280_32).abs() < 1e-9, "{mph}");
        for v in [
            "signals", "none", "FI:urban", "walk", "50;30", "", "-5", "0",
        ] {
            assert_eq!(parse_maxspeed(v), None, "{v:?}");
        }
    }

    #[test]
    fn oneway_values_and_implied_directions() {
        assert_eq!(oneway(Some("yes"), false), Oneway::Forward);
        assert_eq!(oneway(Some("1"), false), Oneway::Forward);
        assert_eq!(oneway(Some("-1"), false), Oneway::Backward);
        assert_eq!(oneway(Some("reverse"), false), Oneway::Backward);
        assert_eq!(oneway(None, false), Oneway::Both);
        assert_eq!(oneway(None, true), Oneway::Forward);
        assert_eq!(oneway(Some("no"), true), Oneway::Both);
        assert_eq!(oneway(Some("reversible"), false), Oneway::Both);
    }

    // -----------------------------------------------------------------------------------------
    // A synthetic extract, written as PBF by the minimal protobuf encoder below (uncompressed
    // blobs, plain nodes), so that complete boundaries, multipolygons with holes and clipped
    // members can be checked end to end. Its features are made up; positions are near Bao'an.

    fn varint(buf: &mut Vec<u8>, mut v: u64) {
        loop {
            let b = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                buf.push(b);
                return;
            }
            buf.push(b | 0x80);
        }
    }
    fn zigzag(v: i64) -> u64 {
        ((v << 1) ^ (v >> 63)) as u64
    }
    fn field_varint(buf: &mut Vec<u8>, field: u64, v: u64) {
        varint(buf, field << 3);
        varint(buf, v);
    }
    fn field_bytes(buf: &mut Vec<u8>, field: u64, bytes: &[u8]) {
        varint(buf, (field << 3) | 2);
        varint(buf, bytes.len() as u64);
        buf.extend_from_slice(bytes);
    }
    fn field_packed(buf: &mut Vec<u8>, field: u64, values: impl IntoIterator<Item = u64>) {
        let mut inner = Vec::new();
        for v in values {
            varint(&mut inner, v);
        }
        field_bytes(buf, field, &inner);
    }
    fn deltas(values: &[i64]) -> Vec<u64> {
        let mut prev = 0;
        values
            .iter()
            .map(|&v| {
                let d = zigzag(v - prev);
                prev = v;
                d
            })
            .collect()
    }

    type TagList = &'static [(&'static str, &'static str)];
    /// A relation's members as (way id, role).
    type Members = Vec<(i64, &'static str)>;

    #[derive(Default)]
    struct SyntheticPbf {
        strings: Vec<String>,
        nodes: Vec<(i64, f64, f64, TagList)>,
        ways: Vec<(i64, Vec<i64>, TagList)>,
        relations: Vec<(i64, Members, TagList)>,
        /// Required features beyond OsmSchema-V0.6.
        required: Vec<&'static str>,
    }

    impl SyntheticPbf {
        fn sid(&mut self, s: &str) -> u64 {
            if self.strings.is_empty() {
                self.strings.push(String::new());
            }
            if let Some(i) = self.strings.iter().position(|x| x == s) {
                return i as u64;
            }
            self.strings.push(s.into());
            (self.strings.len() - 1) as u64
        }

        fn tags(&mut self, buf: &mut Vec<u8>, tags: TagList) {
            let keys: Vec<u64> = tags.iter().map(|t| self.sid(t.0)).collect();
            let vals: Vec<u64> = tags.iter().map(|t| self.sid(t.1)).collect();
            field_packed(buf, 2, keys);
            field_packed(buf, 3, vals);
        }

        fn write(mut self, path: &Path) {
            let (mut nodes, mut ways, mut rels) = (Vec::new(), Vec::new(), Vec::new());
            for (id, lon, lat, tags) in std::mem::take(&mut self.nodes) {
                let mut m = Vec::new();
                field_varint(&mut m, 1, zigzag(id));
                self.tags(&mut m, tags);
                // Granularity 100 nanodegrees: units of 1e-7 degrees.
                field_varint(&mut m, 8, zigzag((lat * 1e7).round() as i64));
                field_varint(&mut m, 9, zigzag((lon * 1e7).round() as i64));
                field_bytes(&mut nodes, 1, &m);
            }
            for (id, refs, tags) in std::mem::take(&mut self.ways) {
                let mut m = Vec::new();
                field_varint(&mut m, 1, id as u64);
                self.tags(&mut m, tags);
                field_packed(&mut m, 8, deltas(&refs));
                field_bytes(&mut ways, 3, &m);
            }
            for (id, members, tags) in std::mem::take(&mut self.relations) {
                let mut m = Vec::new();
                field_varint(&mut m, 1, id as u64);
                self.tags(&mut m, tags);
                let roles: Vec<u64> = members.iter().map(|x| self.sid(x.1)).collect();
                let ids: Vec<i64> = members.iter().map(|x| x.0).collect();
                field_packed(&mut m, 8, roles);
                field_packed(&mut m, 9, deltas(&ids));
                field_packed(&mut m, 10, members.iter().map(|_| 1)); // WAY
                field_bytes(&mut rels, 4, &m);
            }
            let mut table = Vec::new();
            for s in &self.strings {
                field_bytes(&mut table, 1, s.as_bytes());
            }
            let mut block = Vec::new();
            field_bytes(&mut block, 1, &table);
            for group in [nodes, ways, rels] {
                field_bytes(&mut block, 2, &group);
            }

            let mut header = Vec::new();
            let mut bbox = Vec::new();
            for (field, deg) in [(1, 113.0), (2, 114.0), (3, 23.0), (4, 22.0)] {
                field_varint(&mut bbox, field, zigzag((deg * 1e9) as i64));
            }
            field_bytes(&mut header, 1, &bbox);
            field_bytes(&mut header, 4, b"OsmSchema-V0.6");
            for feature in &self.required {
                field_bytes(&mut header, 4, feature.as_bytes());
            }

            let mut file = Vec::new();
            for (kind, body) in [("OSMHeader", header), ("OSMData", block)] {
                let mut blob = Vec::new();
                field_bytes(&mut blob, 1, &body);
                field_varint(&mut blob, 2, body.len() as u64);
                let mut blob_header = Vec::new();
                field_bytes(&mut blob_header, 1, kind.as_bytes());
                field_varint(&mut blob_header, 3, blob.len() as u64);
                file.extend_from_slice(&(blob_header.len() as u32).to_be_bytes());
                file.extend_from_slice(&blob_header);
                file.extend_from_slice(&blob);
            }
            std::fs::write(path, file).unwrap();
        }
    }

    /// Synthetic: two boundaries (one complete in three unordered pieces, one missing a member),
    /// a residential multipolygon with a hole, roads (an implied one-way motorway cut by the
    /// extract's edge, a reverse one-way with a speed in mph, a footway wholly outside), a metro
    /// entrance node and a school drawn as a closed way.
    fn synthetic() -> OsmData {
        let (x, y) = (113.85, 22.60);
        let mut pbf = SyntheticPbf::default();
        let corners = [(0.0, 0.0), (0.01, 0.0), (0.01, 0.01), (0.0, 0.01)];
        for (i, (dx, dy)) in corners.iter().enumerate() {
            pbf.nodes.push((1 + i as i64, x + dx, y + dy, &[]));
            // A square inside, for the hole.
            pbf.nodes.push((
                11 + i as i64,
                x + 0.003 + dx * 0.3,
                y + 0.003 + dy * 0.3,
                &[],
            ));
        }
        pbf.nodes.push((
            20,
            x + 0.005,
            y + 0.002,
            &[("railway", "subway_entrance"), ("name", "Exit A")],
        ));
        pbf.ways = vec![
            (1, vec![1, 2, 99], &[("highway", "motorway")]),
            (
                2,
                vec![2, 3],
                &[
                    ("highway", "residential"),
                    ("oneway", "-1"),
                    ("maxspeed", "30 mph"),
                    ("foot", "no"),
                ],
            ),
            (3, vec![97, 98], &[("highway", "footway")]),
            (
                4,
                vec![11, 12, 13, 14, 11],
                &[("amenity", "school"), ("name", "No. 1 School")],
            ),
            (101, vec![1, 2], &[]),
            (102, vec![3, 2], &[]),
            (103, vec![3, 4, 1], &[]),
            (105, vec![1, 2, 3, 4, 1], &[]),
            (106, vec![11, 14, 13, 12, 11], &[]),
        ];
        pbf.relations = vec![
            (
                201,
                vec![(103, "outer"), (101, "outer"), (102, "outer")],
                &[
                    ("type", "boundary"),
                    ("boundary", "administrative"),
                    ("admin_level", "10"),
                    ("name", "Synthetic A"),
                ],
            ),
            (
                202,
                vec![(101, "outer"), (104, "outer")],
                &[
                    ("type", "boundary"),
                    ("boundary", "administrative"),
                    ("admin_level", "10"),
                    ("name", "Synthetic B"),
                ],
            ),
            (
                203,
                vec![(105, "outer"), (106, "inner")],
                &[
                    ("type", "multipolygon"),
                    ("landuse", "residential"),
                    ("residential", "urban_village"),
                ],
            ),
        ];
        let path = temp_path("synthetic.osm.pbf");
        pbf.write(&path);
        let d = read_osm(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        d
    }

    #[test]
    fn synthetic_extract_boundaries_multipolygons_and_clipped_ways() {
        let d = synthetic();
        assert_eq!(
            d.stats,
            OsmStats {
                nodes: 9,
                ways: 9,
                relations: 3
            }
        );

        assert_eq!(d.admin.len(), 1);
        let a = &d.admin[0];
        assert_eq!((a.name.as_str(), a.admin_level), ("Synthetic A", 10));
        assert_eq!(a.shape.0.len(), 1);
        assert!(a.shape.0[0].exterior().is_closed());
        assert_eq!(a.shape.0[0].exterior().0.len(), 5);
        assert!(a.shape.signed_area() > 0.0);
        assert!((a.shape.unsigned_area() - 1e-4).abs() < 1e-9);
        let unclosed = d.dropped.iter().find(|x| x.layer == "boundary").unwrap();
        assert_eq!(
            (
                unclosed.reason.as_str(),
                unclosed.count,
                unclosed.examples.clone()
            ),
            ("unclosed ring", 1, vec!["relation/202".to_string()])
        );

        // The urban village: land with its hole, and a place at its outer ring's mean.
        assert_eq!(d.land.len(), 1);
        assert_eq!(d.land[0].class, LandClass::UrbanVillage);
        assert_eq!(d.land[0].shape.0[0].interiors().len(), 1);
        assert!((d.land[0].shape.unsigned_area() - (1e-4 - 0.09e-4)).abs() < 1e-9);
        assert!(d.land[0].shape.signed_area() > 0.0);

        let kinds: Vec<(PlaceKind, Option<&str>)> = d
            .places
            .iter()
            .map(|p| (p.kind, p.name.as_deref()))
            .collect();
        assert_eq!(
            kinds,
            vec![
                (PlaceKind::MetroEntrance, Some("Exit A")),
                (PlaceKind::School, Some("No. 1 School")),
                (PlaceKind::UrbanVillage, None),
            ]
        );
        let school = &d.places[1];
        assert!((school.lon - 113.8545).abs() < 1e-9 && (school.lat - 22.6045).abs() < 1e-9);

        // Roads in way order: the motorway keeps the part inside, one-way by implication.
        assert_eq!(d.roads.len(), 2);
        assert_eq!(d.roads[0].class, RoadClass::Motorway);
        assert_eq!(d.roads[0].oneway, Oneway::Forward);
        assert_eq!(d.roads[0].line.0.len(), 2);
        let r = &d.roads[1];
        assert_eq!(
            (r.class, r.oneway, r.foot),
            (RoadClass::Residential, Oneway::Backward, Some(false))
        );
        assert!((r.max_speed_kmh.unwrap() - 30.0 * KMH_PER_MPH).abs() < 1e-9);
        let roads_dropped: Vec<(&str, &[String])> = d
            .dropped
            .iter()
            .filter(|x| x.layer == "roads")
            .map(|x| (x.reason.as_str(), x.examples.as_slice()))
            .collect();
        assert_eq!(
            roads_dropped,
            vec![
                (
                    "clipped at the extract's edge (longest run inside kept)",
                    &["way/1".to_string()][..]
                ),
                ("nodes outside the extract", &["way/3".to_string()][..]),
            ]
        );
    }

    #[test]
    fn a_file_requiring_an_unknown_feature_is_refused() {
        let path = temp_path("history.osm.pbf");
        let pbf = SyntheticPbf {
            required: vec!["HistoricalInformation"],
            ..SyntheticPbf::default()
        };
        pbf.write(&path);
        let err = read_osm(&path).unwrap_err();
        std::fs::remove_file(&path).unwrap();
        assert!(
            matches!(&err, OsmError::Unsupported { feature, .. } if feature == "HistoricalInformation"),
            "{err:?}"
        );
        assert!(err.to_string().contains("history.osm.pbf"), "{err}");
    }
}
