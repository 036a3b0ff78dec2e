//! A pack's division files: polygons (streets, communities, grids), street seed points, and a
//! list of community names, each refused with the file, the feature or line, and the field.

use super::read::{self, Geometry, Table};
use super::{Area, NameRow, PackError, Seed};
use crate::proj::Crs;

/// Every polygon of a division file, with its name, English name, code and parent (its street
/// for communities, its community for grids). A broken ring or a feature that is not an area
/// refuses the file: a missing division would change what the district is.
pub fn areas(label: &str, text: &str, crs: Crs, layer: &str) -> Result<Vec<Area>, PackError> {
    let (features, bad) = read::features(label, text, crs)?;
    if let Some(b) = bad.first() {
        return Err(PackError::Field {
            file: label.into(),
            feature: Some(b.index),
            field: b.field.clone(),
            expected: b.expected.clone(),
        });
    }
    let parent_key = if layer == "grids" {
        "community"
    } else {
        "street"
    };
    let mut areas = Vec::new();
    for f in features {
        let Geometry::Areas(shape) = &f.geometry else {
            return Err(PackError::Field {
                file: label.into(),
                feature: Some(f.index),
                field: "geometry.type".into(),
                expected: format!("a Polygon or MultiPolygon (one of the {layer})"),
            });
        };
        areas.push(Area {
            index: f.index,
            name: f.text("name"),
            name_en: f.text("name_en"),
            code: f.text("code"),
            parent: f.text(parent_key),
            shape: shape.clone(),
        });
    }
    if areas.is_empty() {
        return Err(PackError::Unusable {
            file: label.into(),
            what: format!("no polygons of {layer}"),
        });
    }
    Ok(areas)
}

/// Street seed points: `code,name[,name_en],lon,lat` in `crs`.
pub fn seeds(label: &str, text: &str, crs: Crs) -> Result<Vec<Seed>, PackError> {
    let t = Table::parse(label, text)?;
    let (code, name, lon, lat) = (
        t.column("code")?,
        t.column("name")?,
        t.column("lon")?,
        t.column("lat")?,
    );
    let name_en = t.optional("name_en");
    let mut seeds = Vec::new();
    for (line, row) in &t.rows {
        let num = |k: usize, field: &str| {
            row.get(k)
                .and_then(|v| v.parse::<f64>().ok())
                .filter(|v| v.is_finite())
                .ok_or_else(|| PackError::Syntax {
                    file: label.into(),
                    line: *line,
                    column: k + 1,
                    expected: format!("a number in column {field}"),
                })
        };
        let (x, y) = crs.to_wgs84(num(lon, "lon")?, num(lat, "lat")?);
        let get = |k: usize| row.get(k).cloned().unwrap_or_default();
        seeds.push(Seed {
            code: get(code),
            name: get(name),
            name_en: name_en.map(get).unwrap_or_else(|| get(name)),
            lon: x,
            lat: y,
        });
    }
    Ok(seeds)
}

/// Community names and codes with their street's code: `code,name[,name_en],parent_code` (or
/// `street`), keeping only `level = community` rows when the file has a level column (the national
/// division list does).
pub fn names(label: &str, text: &str) -> Result<Vec<NameRow>, PackError> {
    let t = Table::parse(label, text)?;
    let (code, name) = (t.column("code")?, t.column("name")?);
    let parent = t
        .optional("parent_code")
        .or(t.optional("street"))
        .ok_or_else(|| PackError::Syntax {
            file: label.into(),
            line: 1,
            column: 1,
            expected: "a column parent_code or street (the street each community is in)".into(),
        })?;
    let level = t.optional("level");
    let name_en = t.optional("name_en");
    Ok(t.rows
        .iter()
        .filter(|(_, row)| {
            level.is_none_or(|k| row.get(k).map(String::as_str) == Some("community"))
        })
        .map(|(_, row)| NameRow {
            code: row.get(code).cloned().unwrap_or_default(),
            name: row
                .get(name)
                .cloned()
                .unwrap_or_default()
                .trim_end_matches("居委会")
                .to_string(),
            name_en: name_en
                .and_then(|k| row.get(k))
                .filter(|n| !n.is_empty())
                .cloned(),
            parent: row.get(parent).cloned().unwrap_or_default(),
        })
        .collect())
}
