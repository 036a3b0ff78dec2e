//! District packs: the built-in Bao'an pack, a pack of real polygons, and bad packs refused with
//! the file, the feature and the field.

use std::path::{Path, PathBuf};

use baoan_world::pack::{Divisions, Pack};
use baoan_world::{District, Twin};
use geo::Coord;

/// A fresh folder for one test's pack.
fn pack_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("baoan-pack-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

/// A square polygon in lon/lat degrees as GeoJSON coordinates.
fn square(lon: f64, lat: f64, side: f64) -> String {
    format!(
        "[[[{lon},{lat}],[{},{lat}],[{},{}],[{lon},{}],[{lon},{lat}]]]",
        lon + side,
        lon + side,
        lat + side,
        lat + side
    )
}

fn feature(props: &str, coords: &str) -> String {
    format!(
        r#"{{"type":"Feature","properties":{{{props}}},"geometry":{{"type":"Polygon","coordinates":{coords}}}}}"#
    )
}

fn collection(features: &[String]) -> String {
    format!(
        r#"{{"type":"FeatureCollection","features":[{}]}}"#,
        features.join(",")
    )
}

#[test]
fn the_built_in_pack_is_the_folder_on_disk_and_says_what_is_real() {
    let builtin = Pack::baoan();
    let disk = Pack::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("data/baoan")).unwrap();
    assert_eq!(builtin.hash, disk.hash);
    assert_eq!(builtin.hash.len(), 64);
    assert_eq!(builtin.name, "baoan");
    let layer = |n: &str| builtin.layers.iter().find(|l| l.layer == n).unwrap();
    assert!(layer("boundary").real && layer("boundary").status == "read");
    assert!(!layer("streets").real, "street boundaries are synthetic");
    assert!(!layer("land_use").real && layer("land_use").items >= 4);
    assert_eq!(layer("roads").status, "absent");
    assert_eq!(layer("grids").status, "generated");
    assert!(matches!(builtin.streets, Divisions::Seeds(ref s) if s.len() == 10));
    assert_eq!(builtin.population_total, Some(4_476_554));
    assert_eq!(builtin.street_names().len(), 10);
    assert!(builtin.street_names()[1].answers_to("Xixiang"));
}

#[test]
fn nobody_lives_on_the_airport_water_or_forest_parks() {
    let (twin, _) = Twin::build(0.02, 7);
    let d = &twin.district;
    assert_eq!(d.pack.name, "baoan");
    assert_eq!(d.counts().streets, 10);
    let at = |b: &baoan_world::population::Building| Coord {
        x: b.position[0] as f64,
        y: b.position[1] as f64,
    };
    assert!(
        twin.population.buildings.len() > 200,
        "{}",
        twin.population.buildings.len()
    );
    let off = twin
        .population
        .buildings
        .iter()
        .filter(|b| !d.land.habitable(at(b)))
        .count();
    assert_eq!(off, 0, "buildings on uninhabitable land");
    // The airport is inside the district, and some grid covers it: its land is empty of homes,
    // not missing.
    let airport = d.frame.to_metres(113.812, 22.636);
    assert!(!d.land.habitable(airport));
    assert!(d.grid_at(airport).is_some());
    for g in &d.grids {
        assert!(
            d.land.habitable(g.site),
            "grid {} has its site off habitable land",
            g.code
        );
    }
    let expected = (4_476_554.0 * 0.02_f64).round() as usize;
    assert_eq!(twin.population.residents(), expected);
}

#[test]
fn a_pack_of_real_polygons_keeps_them_and_its_figures() {
    let dir = pack_dir("polygons");
    write(
        &dir,
        "district.toml",
        r#"
[pack]
name = "square-town"
[boundary]
file = "boundary.geojson"
[streets]
file = "streets.geojson"
[grids]
file = "grids.geojson"
[population]
file = "population.csv"
"#,
    );
    write(
        &dir,
        "boundary.geojson",
        &collection(&[feature("", &square(10.0, 50.0, 0.02))]),
    );
    write(
        &dir,
        "streets.geojson",
        &collection(&[
            feature(
                r#""name":"West","code":"W""#,
                "[[[10,50],[10.01,50],[10.01,50.02],[10,50.02],[10,50]]]",
            ),
            feature(
                r#""name":"East","code":"E""#,
                "[[[10.01,50],[10.02,50],[10.02,50.02],[10.01,50.02],[10.01,50]]]",
            ),
        ]),
    );
    let grids: Vec<String> = (0..4)
        .map(|k| {
            let (i, j) = (k % 2, k / 2);
            feature(
                &format!(r#""code":"G{k}""#),
                &square(10.0 + 0.01 * i as f64, 50.0 + 0.01 * j as f64, 0.01),
            )
        })
        .collect();
    write(&dir, "grids.geojson", &collection(&grids));
    write(
        &dir,
        "population.csv",
        "level,name,population\ngrid,G0,3000\ngrid,G1,1000\ngrid,G2,500\ngrid,G3,500\n",
    );
    let pack = Pack::load(&dir).unwrap();
    let d = District::from_pack(&pack, 1.0, 3).unwrap();
    assert_eq!(d.counts().streets, 2);
    assert_eq!(d.counts().grids, 4);
    let codes: Vec<&str> = d.grids.iter().map(|g| g.code.as_str()).collect();
    assert!(codes.contains(&"G0") && codes.contains(&"G3"));
    assert_eq!(d.population_total, 5000);
    let g0 = d.grids.iter().find(|g| g.code == "G0").unwrap();
    assert!((d.grid_residents[g0.id as usize] - 3000.0).abs() < 1e-6);
    // Each grid lies in the street its own polygon is in.
    let west = d.street_by_name("West").unwrap().id;
    assert_eq!(g0.street, west);
    // The same pack and seed build the same district.
    let again = District::from_pack(&pack, 1.0, 3).unwrap();
    assert_eq!(again.grids[2].site, d.grids[2].site);
}

#[test]
fn a_bad_pack_is_refused_naming_the_file_the_feature_and_the_field() {
    let dir = pack_dir("bad");
    let manifest = "[pack]\nname = \"bad\"\n[boundary]\nfile = \"boundary.geojson\"\n";
    write(&dir, "district.toml", manifest);
    // An unclosed ring.
    write(
        &dir,
        "boundary.geojson",
        &collection(&[feature(
            "",
            "[[[10,50],[10.01,50],[10.01,50.01],[10,50.01]]]",
        )]),
    );
    let e = Pack::load(&dir).unwrap_err().to_string();
    assert!(
        e.contains("boundary.geojson: feature 0: field geometry.coordinates[0]")
            && e.contains("not closed"),
        "{e}"
    );
    // Not GeoJSON at all.
    write(&dir, "boundary.geojson", "hello");
    let e = Pack::load(&dir).unwrap_err().to_string();
    assert!(e.contains("boundary.geojson:1:1: expected GeoJSON"), "{e}");
    // A misspelt layer in the manifest, located.
    write(
        &dir,
        "boundary.geojson",
        &collection(&[feature("", &square(10.0, 50.0, 0.01))]),
    );
    write(
        &dir,
        "district.toml",
        &format!("{manifest}[raods]\nfile = \"r.geojson\"\n"),
    );
    let e = Pack::load(&dir).unwrap_err().to_string();
    assert!(e.contains("district.toml:5:") && e.contains("raods"), "{e}");
    // An unknown datum, located at its field.
    write(
        &dir,
        "district.toml",
        "[pack]\nname = \"bad\"\n[boundary]\nfile = \"boundary.geojson\"\ncrs = \"bd09\"\n",
    );
    let e = Pack::load(&dir).unwrap_err().to_string();
    assert!(
        e.contains("district.toml:5:7") && e.contains("boundary.crs"),
        "{e}"
    );
    // A file the manifest names that is not there.
    write(
        &dir,
        "district.toml",
        &format!("{manifest}[land_use]\nfile = \"land.geojson\"\n"),
    );
    let e = Pack::load(&dir).unwrap_err().to_string();
    assert!(e.contains("land.geojson: cannot read"), "{e}");
    // Roads that all lie outside the boundary.
    write(
        &dir,
        "district.toml",
        &format!("{manifest}[roads]\nfile = \"roads.geojson\"\n"),
    );
    write(
        &dir,
        "roads.geojson",
        r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"class":"residential"},"geometry":{"type":"LineString","coordinates":[[20,50],[20.01,50]]}}]}"#,
    );
    let e = Pack::load(&dir).unwrap_err().to_string();
    assert!(
        e.contains("roads.geojson: no roads inside the boundary"),
        "{e}"
    );
    // Not a pack at all.
    let e = Pack::load(&std::env::temp_dir()).unwrap_err().to_string();
    assert!(e.contains("district.toml"), "{e}");
}
