//! The layers a district pack is made of, in one neutral form whatever file they came from (an
//! OpenStreetMap extract, GeoJSON, CSV): roads, places, land use and administrative areas.
//! Coordinates here are WGS-84 longitude and latitude; `proj::Frame` takes them to local metres.

use std::fmt;
use std::str::FromStr;

use geo::{LineString, MultiPolygon};
use serde::Serialize;

/// A road's class, named as OpenStreetMap's `highway` values (links count as their road).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RoadClass {
    Motorway,
    Trunk,
    Primary,
    Secondary,
    Tertiary,
    Unclassified,
    Residential,
    LivingStreet,
    Service,
    Track,
    Pedestrian,
    Footway,
    Cycleway,
    Path,
    Steps,
}

impl RoadClass {
    pub const ALL: [RoadClass; 15] = [
        RoadClass::Motorway,
        RoadClass::Trunk,
        RoadClass::Primary,
        RoadClass::Secondary,
        RoadClass::Tertiary,
        RoadClass::Unclassified,
        RoadClass::Residential,
        RoadClass::LivingStreet,
        RoadClass::Service,
        RoadClass::Track,
        RoadClass::Pedestrian,
        RoadClass::Footway,
        RoadClass::Cycleway,
        RoadClass::Path,
        RoadClass::Steps,
    ];

    pub fn name(self) -> &'static str {
        match self {
            RoadClass::Motorway => "motorway",
            RoadClass::Trunk => "trunk",
            RoadClass::Primary => "primary",
            RoadClass::Secondary => "secondary",
            RoadClass::Tertiary => "tertiary",
            RoadClass::Unclassified => "unclassified",
            RoadClass::Residential => "residential",
            RoadClass::LivingStreet => "living_street",
            RoadClass::Service => "service",
            RoadClass::Track => "track",
            RoadClass::Pedestrian => "pedestrian",
            RoadClass::Footway => "footway",
            RoadClass::Cycleway => "cycleway",
            RoadClass::Path => "path",
            RoadClass::Steps => "steps",
        }
    }

    /// The class of an OSM `highway=*` value; `None` for what is not a way to travel on
    /// (construction, proposed, platforms, bus stops, corridors, raceways, ...).
    pub fn from_osm(highway: &str) -> Option<RoadClass> {
        let base = highway.strip_suffix("_link").unwrap_or(highway);
        Some(match base {
            "motorway" => RoadClass::Motorway,
            "trunk" => RoadClass::Trunk,
            "primary" => RoadClass::Primary,
            "secondary" => RoadClass::Secondary,
            "tertiary" => RoadClass::Tertiary,
            "unclassified" | "road" => RoadClass::Unclassified,
            "residential" => RoadClass::Residential,
            "living_street" => RoadClass::LivingStreet,
            "service" => RoadClass::Service,
            "track" => RoadClass::Track,
            "pedestrian" => RoadClass::Pedestrian,
            "footway" | "sidewalk" | "crossing" => RoadClass::Footway,
            "cycleway" => RoadClass::Cycleway,
            "path" | "bridleway" => RoadClass::Path,
            "steps" => RoadClass::Steps,
            _ => return None,
        })
    }

    /// Whether motor vehicles use this class at all.
    pub fn drivable(self) -> bool {
        !matches!(
            self,
            RoadClass::Pedestrian
                | RoadClass::Footway
                | RoadClass::Cycleway
                | RoadClass::Path
                | RoadClass::Steps
        )
    }

    /// Whether people may walk along it by default (OSM's `foot=*` overrides).
    pub fn walkable(self) -> bool {
        !matches!(self, RoadClass::Motorway | RoadClass::Trunk)
    }
}

impl fmt::Display for RoadClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown road class {0:?}: expected an OpenStreetMap highway value such as primary, residential or footway"
)]
pub struct UnknownRoadClass(pub String);

impl FromStr for RoadClass {
    type Err = UnknownRoadClass;
    fn from_str(s: &str) -> Result<RoadClass, UnknownRoadClass> {
        RoadClass::from_osm(s.trim()).ok_or_else(|| UnknownRoadClass(s.into()))
    }
}

/// Which way vehicles may go along a road's line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Oneway {
    Both,
    /// Only in the order of the line's points.
    Forward,
    /// Only against it (OSM's `oneway=-1`).
    Backward,
}

/// One road as a line of WGS-84 (lon, lat) points. Lines that meet share a point exactly (as
/// OSM ways share nodes): the road graph joins them there, and only there.
#[derive(Debug, Clone)]
pub struct RoadLine {
    pub class: RoadClass,
    pub oneway: Oneway,
    /// Signed speed limit, km/h, when the data gives one.
    pub max_speed_kmh: Option<f64>,
    /// OSM's `foot=yes|no` on the way, when given.
    pub foot: Option<bool>,
    pub name: Option<String>,
    pub line: LineString<f64>,
}

/// The kinds of place the loops and the planner care about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PlaceKind {
    MetroEntrance,
    BusStation,
    School,
    Hospital,
    Mall,
    Park,
    Police,
    FireStation,
    UrbanVillage,
}

impl PlaceKind {
    pub const ALL: [PlaceKind; 9] = [
        PlaceKind::MetroEntrance,
        PlaceKind::BusStation,
        PlaceKind::School,
        PlaceKind::Hospital,
        PlaceKind::Mall,
        PlaceKind::Park,
        PlaceKind::Police,
        PlaceKind::FireStation,
        PlaceKind::UrbanVillage,
    ];

    pub fn name(self) -> &'static str {
        match self {
            PlaceKind::MetroEntrance => "metro_entrance",
            PlaceKind::BusStation => "bus_station",
            PlaceKind::School => "school",
            PlaceKind::Hospital => "hospital",
            PlaceKind::Mall => "mall",
            PlaceKind::Park => "park",
            PlaceKind::Police => "police",
            PlaceKind::FireStation => "fire_station",
            PlaceKind::UrbanVillage => "urban_village",
        }
    }

    /// Whether crowds gather here (the command loop's key areas are drawn towards them).
    pub fn draws_crowds(self) -> bool {
        matches!(
            self,
            PlaceKind::MetroEntrance
                | PlaceKind::BusStation
                | PlaceKind::School
                | PlaceKind::Hospital
                | PlaceKind::Mall
                | PlaceKind::Park
                | PlaceKind::UrbanVillage
        )
    }
}

impl fmt::Display for PlaceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown place kind {0:?}: expected one of metro_entrance, bus_station, school, hospital, mall, park, police, fire_station, urban_village"
)]
pub struct UnknownPlaceKind(pub String);

impl FromStr for PlaceKind {
    type Err = UnknownPlaceKind;
    fn from_str(s: &str) -> Result<PlaceKind, UnknownPlaceKind> {
        PlaceKind::ALL
            .into_iter()
            .find(|k| k.name() == s.trim())
            .ok_or_else(|| UnknownPlaceKind(s.into()))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Place {
    pub kind: PlaceKind,
    pub name: Option<String>,
    pub lon: f64,
    pub lat: f64,
}

/// What land is used for, as far as where people live is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LandClass {
    Residential,
    UrbanVillage,
    Commercial,
    Industrial,
    Airport,
    Water,
    Forest,
    Park,
}

impl LandClass {
    pub const ALL: [LandClass; 8] = [
        LandClass::Residential,
        LandClass::UrbanVillage,
        LandClass::Commercial,
        LandClass::Industrial,
        LandClass::Airport,
        LandClass::Water,
        LandClass::Forest,
        LandClass::Park,
    ];

    pub fn name(self) -> &'static str {
        match self {
            LandClass::Residential => "residential",
            LandClass::UrbanVillage => "urban_village",
            LandClass::Commercial => "commercial",
            LandClass::Industrial => "industrial",
            LandClass::Airport => "airport",
            LandClass::Water => "water",
            LandClass::Forest => "forest",
            LandClass::Park => "park",
        }
    }

    /// Residents per unit area relative to ordinary built-up land (land no patch covers, which
    /// weighs 1). Named assumptions, source "assumed": homes are on residential land and in
    /// urban villages (denser); shops, offices and factories house a few (flats above shops,
    /// factory dormitories); nobody lives on the airport, on water, in forests or in parks.
    pub fn residents_weight(self) -> f64 {
        match self {
            LandClass::Residential => 2.0,
            LandClass::UrbanVillage => 4.0,
            LandClass::Commercial => 0.5,
            LandClass::Industrial => 0.5,
            LandClass::Airport | LandClass::Water | LandClass::Forest | LandClass::Park => 0.0,
        }
    }
}

impl fmt::Display for LandClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown land-use class {0:?}: expected one of residential, urban_village, commercial, industrial, airport, water, forest, park"
)]
pub struct UnknownLandClass(pub String);

impl FromStr for LandClass {
    type Err = UnknownLandClass;
    fn from_str(s: &str) -> Result<LandClass, UnknownLandClass> {
        LandClass::ALL
            .into_iter()
            .find(|k| k.name() == s.trim())
            .ok_or_else(|| UnknownLandClass(s.into()))
    }
}

/// One patch of land use, WGS-84.
#[derive(Debug, Clone)]
pub struct LandPatch {
    pub class: LandClass,
    pub name: Option<String>,
    pub shape: MultiPolygon<f64>,
}

/// An administrative area from the data (OSM `boundary=administrative`), WGS-84.
#[derive(Debug, Clone)]
pub struct AdminArea {
    pub name: String,
    pub admin_level: u8,
    pub shape: MultiPolygon<f64>,
}

/// Something a reader left out, and why: the pack report lists these.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Dropped {
    /// The layer: roads, places, land_use, boundary, ...
    pub layer: String,
    /// Why, in a few words: "unclosed ring", "outside the boundary", "no coordinates".
    pub reason: String,
    pub count: usize,
    /// The first few features it applies to (OSM ids or feature indexes).
    pub examples: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn osm_highway_values_map_to_classes_and_names_round_trip() {
        assert_eq!(
            RoadClass::from_osm("motorway_link"),
            Some(RoadClass::Motorway)
        );
        assert_eq!(RoadClass::from_osm("construction"), None);
        for c in RoadClass::ALL {
            assert_eq!(c.name().parse::<RoadClass>(), Ok(c));
        }
        for k in PlaceKind::ALL {
            assert_eq!(k.name().parse::<PlaceKind>(), Ok(k));
        }
        for k in LandClass::ALL {
            assert_eq!(k.name().parse::<LandClass>(), Ok(k));
        }
        assert!("mall ".parse::<PlaceKind>().is_ok());
        assert!("swamp".parse::<LandClass>().is_err());
        assert!(!RoadClass::Footway.drivable() && !RoadClass::Motorway.walkable());
    }
}
