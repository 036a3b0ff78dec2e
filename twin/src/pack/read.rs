//! Reading a pack's GeoJSON and CSV files into WGS-84 shapes and rows.
//!
//! GeoJSON is read through serde_json rather than the `geojson` crate because a pack's errors
//! must name the file, the feature's index and the field (`features[12].geometry.coordinates
//! [0]: ring not closed`), and must tell a feature to drop (a land-use patch with a broken ring)
//! from a file to refuse; checking the JSON ourselves gives both in a few lines.

use geo::{Coord, LineString, MultiPolygon, Polygon};
use serde_json::{Map, Value};

use super::PackError;
use crate::proj::Crs;

/// One GeoJSON feature, converted to WGS-84.
#[derive(Debug, Clone)]
pub struct Feature {
    /// Its index in the file's `features` (0 for a lone Feature or geometry).
    pub index: usize,
    pub properties: Map<String, Value>,
    pub geometry: Geometry,
}

#[derive(Debug, Clone)]
pub enum Geometry {
    Point(Coord<f64>),
    Lines(Vec<LineString<f64>>),
    Areas(MultiPolygon<f64>),
}

impl Feature {
    /// A string property (numbers are taken as their text, as codes often are).
    pub fn text(&self, key: &str) -> Option<String> {
        match self.properties.get(key)? {
            Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }

    pub fn number(&self, key: &str) -> Option<f64> {
        match self.properties.get(key)? {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }
}

/// A feature the reader could not take, and why (the caller decides: refuse the file, or drop
/// the feature and say so).
#[derive(Debug, Clone, PartialEq)]
pub struct BadFeature {
    pub index: usize,
    pub field: String,
    pub expected: String,
}

/// Every feature of a GeoJSON text (FeatureCollection, Feature or bare geometry), in `crs`.
/// The file is refused if it is not GeoJSON at all; features that are are returned, and the
/// ones whose geometry is broken come back in the second list.
pub fn features(
    file: &str,
    text: &str,
    crs: Crs,
) -> Result<(Vec<Feature>, Vec<BadFeature>), PackError> {
    let root: Value = serde_json::from_str(text).map_err(|e| PackError::Syntax {
        file: file.into(),
        line: e.line(),
        column: e.column(),
        expected: format!("GeoJSON ({e})"),
    })?;
    let not_geojson = |got: &str| PackError::Field {
        file: file.into(),
        feature: None,
        field: "type".into(),
        expected: format!("a GeoJSON FeatureCollection, Feature or geometry; got {got}"),
    };
    let kind = root
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| not_geojson("no \"type\""))?;
    let items: Vec<(usize, &Value, Option<&Value>)> = match kind {
        "FeatureCollection" => root
            .get("features")
            .and_then(Value::as_array)
            .ok_or_else(|| PackError::Field {
                file: file.into(),
                feature: None,
                field: "features".into(),
                expected: "an array of features".into(),
            })?
            .iter()
            .enumerate()
            .map(|(i, f)| (i, f, f.get("geometry")))
            .collect(),
        "Feature" => vec![(0, &root, root.get("geometry"))],
        "Point" | "LineString" | "MultiLineString" | "Polygon" | "MultiPolygon" => {
            vec![(0, &Value::Null, Some(&root))]
        }
        other => return Err(not_geojson(&format!("{other:?}"))),
    };
    let mut good = Vec::new();
    let mut bad = Vec::new();
    for (index, feature, geometry) in items {
        let properties = feature
            .get("properties")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        match geometry.map(|g| geometry_of(g, crs)) {
            Some(Ok(geometry)) => good.push(Feature {
                index,
                properties,
                geometry,
            }),
            Some(Err((field, expected))) => bad.push(BadFeature {
                index,
                field: format!("geometry.{field}"),
                expected,
            }),
            None => bad.push(BadFeature {
                index,
                field: "geometry".into(),
                expected: "a geometry".into(),
            }),
        }
    }
    Ok((good, bad))
}

/// Every polygon of a file that must be whole (a boundary): a broken ring, or a feature that is
/// not an area, refuses the file naming the feature and the field.
pub fn all_areas(
    file: &str,
    text: &str,
    crs: Crs,
    what: &str,
) -> Result<MultiPolygon<f64>, PackError> {
    let (found, bad) = features(file, text, crs)?;
    if let Some(b) = bad.first() {
        return Err(PackError::Field {
            file: file.into(),
            feature: Some(b.index),
            field: b.field.clone(),
            expected: b.expected.clone(),
        });
    }
    let mut polygons = Vec::new();
    for f in found {
        match f.geometry {
            Geometry::Areas(mp) => polygons.extend(mp.0),
            _ => {
                return Err(PackError::Field {
                    file: file.into(),
                    feature: Some(f.index),
                    field: "geometry.type".into(),
                    expected: format!("a Polygon or MultiPolygon ({what})"),
                });
            }
        }
    }
    if polygons.is_empty() {
        return Err(PackError::Unusable {
            file: file.into(),
            what: format!("no polygon in {what}"),
        });
    }
    Ok(MultiPolygon(polygons))
}

type GeomError = (String, String);

fn position(v: &Value, crs: Crs, field: &str) -> Result<Coord<f64>, GeomError> {
    let pair = v.as_array().filter(|a| a.len() >= 2);
    let num = |k: usize| pair.and_then(|a| a[k].as_f64()).filter(|x| x.is_finite());
    match (num(0), num(1)) {
        (Some(lon), Some(lat))
            if (-180.0..=180.0).contains(&lon) && (-90.0..=90.0).contains(&lat) =>
        {
            let (lon, lat) = crs.to_wgs84(lon, lat);
            Ok(Coord { x: lon, y: lat })
        }
        _ => Err((
            field.into(),
            format!("a [longitude, latitude] position in degrees, got {v}"),
        )),
    }
}

fn positions(v: &Value, crs: Crs, field: &str) -> Result<Vec<Coord<f64>>, GeomError> {
    v.as_array()
        .ok_or_else(|| (field.to_string(), "an array of positions".to_string()))?
        .iter()
        .enumerate()
        .map(|(i, p)| position(p, crs, &format!("{field}[{i}]")))
        .collect()
}

fn ring(v: &Value, crs: Crs, field: &str) -> Result<LineString<f64>, GeomError> {
    let pts = positions(v, crs, field)?;
    if pts.len() < 4 {
        return Err((
            field.into(),
            format!("a linear ring of at least 4 positions, got {}", pts.len()),
        ));
    }
    if pts[0] != pts[pts.len() - 1] {
        return Err((
            field.into(),
            "a closed ring (last position equal to the first): the ring is not closed".into(),
        ));
    }
    Ok(LineString::from(pts))
}

fn polygon(v: &Value, crs: Crs, field: &str) -> Result<Polygon<f64>, GeomError> {
    let rings = v
        .as_array()
        .filter(|r| !r.is_empty())
        .ok_or_else(|| (field.to_string(), "an array of rings".to_string()))?;
    let outer = ring(&rings[0], crs, &format!("{field}[0]"))?;
    let inner = rings[1..]
        .iter()
        .enumerate()
        .map(|(i, r)| ring(r, crs, &format!("{field}[{}]", i + 1)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Polygon::new(outer, inner))
}

fn geometry_of(g: &Value, crs: Crs) -> Result<Geometry, GeomError> {
    let kind = g.get("type").and_then(Value::as_str).unwrap_or("");
    let c = g
        .get("coordinates")
        .ok_or_else(|| ("coordinates".to_string(), "coordinates".to_string()))?;
    let f = "coordinates";
    Ok(match kind {
        "Point" => Geometry::Point(position(c, crs, f)?),
        "LineString" => {
            let pts = positions(c, crs, f)?;
            if pts.len() < 2 {
                return Err((f.into(), "a line of at least 2 positions".into()));
            }
            Geometry::Lines(vec![LineString::from(pts)])
        }
        "MultiLineString" => Geometry::Lines(
            c.as_array()
                .ok_or_else(|| (f.to_string(), "an array of lines".to_string()))?
                .iter()
                .enumerate()
                .map(|(i, l)| positions(l, crs, &format!("{f}[{i}]")).map(LineString::from))
                .collect::<Result<_, _>>()?,
        ),
        "Polygon" => Geometry::Areas(MultiPolygon(vec![polygon(c, crs, f)?])),
        "MultiPolygon" => Geometry::Areas(MultiPolygon(
            c.as_array()
                .ok_or_else(|| (f.to_string(), "an array of polygons".to_string()))?
                .iter()
                .enumerate()
                .map(|(i, p)| polygon(p, crs, &format!("{f}[{i}]")))
                .collect::<Result<_, _>>()?,
        )),
        other => {
            return Err((
                "type".into(),
                format!(
                    "Point, LineString, MultiLineString, Polygon or MultiPolygon, got {other:?}"
                ),
            ));
        }
    })
}

/// A CSV file's rows as (line number, field by column name). Quoted fields and commas inside
/// them are handled by the `csv` crate.
pub struct Table {
    pub file: String,
    pub columns: Vec<String>,
    pub rows: Vec<(usize, Vec<String>)>,
}

impl Table {
    pub fn parse(file: &str, text: &str) -> Result<Table, PackError> {
        let mut reader = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .flexible(true)
            .from_reader(text.as_bytes());
        let columns: Vec<String> = reader
            .headers()
            .map_err(|e| PackError::Syntax {
                file: file.into(),
                line: 1,
                column: 1,
                expected: format!("a CSV header ({e})"),
            })?
            .iter()
            .map(str::to_string)
            .collect();
        let mut rows = Vec::new();
        for record in reader.records() {
            let record = record.map_err(|e| PackError::Syntax {
                file: file.into(),
                line: e.position().map_or(0, |p| p.line() as usize),
                column: 1,
                expected: format!("a CSV row ({e})"),
            })?;
            let line = record.position().map_or(0, |p| p.line() as usize);
            rows.push((line, record.iter().map(str::to_string).collect()));
        }
        Ok(Table {
            file: file.into(),
            columns,
            rows,
        })
    }

    /// The index of a required column, or an error naming the file and what was expected.
    pub fn column(&self, name: &str) -> Result<usize, PackError> {
        self.columns
            .iter()
            .position(|c| c == name)
            .ok_or_else(|| PackError::Syntax {
                file: self.file.clone(),
                line: 1,
                column: 1,
                expected: format!(
                    "a column named {name:?} in the header (columns: {})",
                    self.columns.join(",")
                ),
            })
    }

    pub fn optional(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unclosed_ring_is_named_by_feature_and_field() {
        let text = r#"{"type":"FeatureCollection","features":[
            {"type":"Feature","properties":{"name":"a"},"geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}},
            {"type":"Feature","properties":{},"geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,1]]]}}]}"#;
        let (good, bad) = features("x.geojson", text, Crs::Wgs84).unwrap();
        assert_eq!(good.len(), 1);
        assert_eq!(good[0].text("name").as_deref(), Some("a"));
        assert_eq!(bad.len(), 1);
        assert_eq!(bad[0].index, 1);
        assert_eq!(bad[0].field, "geometry.coordinates[0]");
        assert!(bad[0].expected.contains("not closed"));
    }

    #[test]
    fn a_file_that_is_not_geojson_is_refused_with_its_place() {
        let e = features("b.geojson", "{\"type\": \"Topology\"}", Crs::Wgs84).unwrap_err();
        assert!(e.to_string().starts_with("b.geojson: field type"), "{e}");
        let e = features("c.geojson", "{\n  \"type\": ,", Crs::Wgs84).unwrap_err();
        assert!(e.to_string().starts_with("c.geojson:2:"), "{e}");
    }

    #[test]
    fn gcj02_positions_come_back_in_wgs84() {
        let text = r#"{"type":"Point","coordinates":[113.9,22.6]}"#;
        let (good, _) = features("p.geojson", text, Crs::Gcj02).unwrap();
        let Geometry::Point(p) = good[0].geometry else {
            panic!("a point")
        };
        assert!((p.x - 113.9).abs() > 1e-3 && (p.x - 113.9).abs() < 1e-2);
    }

    #[test]
    fn csv_rows_keep_their_line_numbers_and_quoted_commas() {
        let t = Table::parse(
            "p.csv",
            "kind,name,lon,lat\n# a comment\nmall,\"A, B\",1,2\n",
        )
        .unwrap();
        assert_eq!(t.rows.len(), 2);
        assert_eq!(t.rows[1].1[1], "A, B");
        assert_eq!((t.rows[0].0, t.rows[1].0), (2, 3));
        assert!(t.column("crs").is_err());
    }
}
