//! Coordinates, done once: the two datums a district's data comes in, and the local metric frame
//! the twin computes in.
//!
//! - **WGS-84** is what GPS and OpenStreetMap use. The twin's own frame is WGS-84.
//! - **GCJ-02** is the offset datum that Chinese web maps (Amap, Tencent) publish, several hundred
//!   metres from WGS-84 in Shenzhen. The vendored Bao'an outline is GCJ-02. Outside China the
//!   offset is zero by definition.
//!
//! Every file a district pack or a planner gives states its datum, or takes a stated default,
//! and is converted here on the way in; nothing else in the twin converts.
//!
//! The local frame is an equirectangular projection about the district's middle: accurate to well
//! under a metre per kilometre over a district of 30 km, and cheap both ways.

use std::fmt;
use std::str::FromStr;

use geo::Coord;
use serde::{Deserialize, Serialize};

/// A geodetic datum for longitude and latitude.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Crs {
    /// WGS-84 (EPSG:4326): GPS, OpenStreetMap.
    Wgs84,
    /// GCJ-02: the offset datum of Chinese web maps.
    Gcj02,
}

impl Crs {
    pub const NAMES: [&'static str; 2] = ["wgs84", "gcj02"];

    pub fn name(self) -> &'static str {
        match self {
            Crs::Wgs84 => "wgs84",
            Crs::Gcj02 => "gcj02",
        }
    }

    /// A point in this datum to WGS-84.
    pub fn to_wgs84(self, lon: f64, lat: f64) -> (f64, f64) {
        match self {
            Crs::Wgs84 => (lon, lat),
            Crs::Gcj02 => gcj02_to_wgs84(lon, lat),
        }
    }

    /// A WGS-84 point in this datum.
    pub fn from_wgs84(self, lon: f64, lat: f64) -> (f64, f64) {
        match self {
            Crs::Wgs84 => (lon, lat),
            Crs::Gcj02 => wgs84_to_gcj02(lon, lat),
        }
    }
}

impl fmt::Display for Crs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown coordinate system {0:?}: expected one of wgs84, gcj02")]
pub struct UnknownCrs(pub String);

impl FromStr for Crs {
    type Err = UnknownCrs;
    fn from_str(s: &str) -> Result<Crs, UnknownCrs> {
        match s
            .trim()
            .to_ascii_lowercase()
            .replace(['-', '_'], "")
            .as_str()
        {
            "wgs84" | "epsg4326" | "gps" => Ok(Crs::Wgs84),
            "gcj02" | "amap" | "mars" => Ok(Crs::Gcj02),
            _ => Err(UnknownCrs(s.into())),
        }
    }
}

/// WGS-84 to GCJ-02 (the published forward transform; identity outside China).
pub fn wgs84_to_gcj02(lon: f64, lat: f64) -> (f64, f64) {
    coordtransform::wgs84_to_gcj02(lon, lat)
}

/// GCJ-02 to WGS-84. The transform has no closed-form inverse; the crate's one-step estimate can
/// be a metre or two off, so this refines it by fixed-point iteration on the forward transform
/// until the round trip agrees to about a millimetre.
pub fn gcj02_to_wgs84(lon: f64, lat: f64) -> (f64, f64) {
    let (mut w_lon, mut w_lat) = coordtransform::gcj02_to_wgs84(lon, lat);
    for _ in 0..10 {
        let (g_lon, g_lat) = wgs84_to_gcj02(w_lon, w_lat);
        let (d_lon, d_lat) = (lon - g_lon, lat - g_lat);
        w_lon += d_lon;
        w_lat += d_lat;
        if d_lon.abs() < 1e-9 && d_lat.abs() < 1e-9 {
            break;
        }
    }
    (w_lon, w_lat)
}

const METRES_PER_DEG_LAT: f64 = 110_574.0;

/// The district's local metric frame: east and north metres from an origin (WGS-84).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Frame {
    pub origin_lon: f64,
    pub origin_lat: f64,
}

/// The default district's frame: the middle of Bao'an (WGS-84).
pub const BAOAN: Frame = Frame {
    origin_lon: 113.85,
    origin_lat: 22.65,
};

impl Frame {
    fn metres_per_deg_lon(&self) -> f64 {
        111_320.0 * self.origin_lat.to_radians().cos()
    }

    /// WGS-84 (lon, lat) in degrees to (east, north) metres from the origin.
    pub fn to_metres(&self, lon: f64, lat: f64) -> Coord<f64> {
        Coord {
            x: (lon - self.origin_lon) * self.metres_per_deg_lon(),
            y: (lat - self.origin_lat) * METRES_PER_DEG_LAT,
        }
    }

    /// A point in any datum to local metres.
    pub fn project(&self, crs: Crs, lon: f64, lat: f64) -> Coord<f64> {
        let (lon, lat) = crs.to_wgs84(lon, lat);
        self.to_metres(lon, lat)
    }

    /// (east, north) metres back to WGS-84 (lon, lat) degrees.
    pub fn to_lonlat(&self, c: Coord<f64>) -> (f64, f64) {
        (
            self.origin_lon + c.x / self.metres_per_deg_lon(),
            self.origin_lat + c.y / METRES_PER_DEG_LAT,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metres_apart(a: (f64, f64), b: (f64, f64)) -> f64 {
        let f = Frame {
            origin_lon: a.0,
            origin_lat: a.1,
        };
        let (p, q) = (f.to_metres(a.0, a.1), f.to_metres(b.0, b.1));
        ((p.x - q.x).powi(2) + (p.y - q.y).powi(2)).sqrt()
    }

    #[test]
    fn the_frame_round_trips_and_a_degree_of_latitude_is_about_111_km() {
        let c = BAOAN.to_metres(113.9, 22.7);
        let (lon, lat) = BAOAN.to_lonlat(c);
        assert!((lon - 113.9).abs() < 1e-12 && (lat - 22.7).abs() < 1e-12);
        assert!((BAOAN.to_metres(113.85, 23.65).y - 110_574.0).abs() < 1.0);
    }

    #[test]
    fn gcj02_is_several_hundred_metres_off_in_shenzhen_and_round_trips_within_a_metre() {
        // A grid of points over Bao'an and beyond.
        for i in 0..=10 {
            for j in 0..=10 {
                let w = (113.70 + 0.03 * i as f64, 22.45 + 0.04 * j as f64);
                let g = wgs84_to_gcj02(w.0, w.1);
                let shift = metres_apart(w, g);
                assert!(
                    (200.0..800.0).contains(&shift),
                    "offset {shift:.0} m at {w:?}"
                );
                let back = gcj02_to_wgs84(g.0, g.1);
                assert!(metres_apart(w, back) < 0.01, "round trip off at {w:?}");
                let via = Crs::Gcj02.to_wgs84(g.0, g.1);
                assert!(metres_apart(w, via) < 1.0);
                assert_eq!(Crs::Gcj02.from_wgs84(w.0, w.1), g);
            }
        }
    }

    #[test]
    fn outside_china_the_datums_agree() {
        let helsinki = (24.94, 60.17);
        assert_eq!(wgs84_to_gcj02(helsinki.0, helsinki.1), helsinki);
        assert_eq!(gcj02_to_wgs84(helsinki.0, helsinki.1), helsinki);
    }

    #[test]
    fn datum_names_parse_and_unknown_ones_are_refused() {
        assert_eq!("WGS-84".parse::<Crs>(), Ok(Crs::Wgs84));
        assert_eq!("gcj02".parse::<Crs>(), Ok(Crs::Gcj02));
        assert!("bd09".parse::<Crs>().is_err());
    }
}
