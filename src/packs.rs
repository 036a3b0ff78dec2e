//! District packs from the command line: `twin district [--pack DIR]` (check a pack, build its
//! district, say what was read, generated and dropped, draw it) and `twin pack from-osm` (make
//! a pack from any OpenStreetMap extract).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use baoan_world::Twin;
use baoan_world::layers::{LandClass, PlaceKind, RoadClass};
use baoan_world::pack::{Pack, PackError, read};
use baoan_world::proj::Crs;
use geo::{Area, BoundingRect, ConvexHull, Coord, Intersects, MultiPoint, MultiPolygon, Point};
use serde_json::json;

use crate::RunError;
use crate::district::Figures;

/// What `twin district` shows: text for people, JSON for tools, and the page it drew.
pub struct Shown {
    pub text: String,
    pub json: serde_json::Value,
    pub page: PathBuf,
}

/// Load and check a pack (the built-in one when `dir` is None), build its district at `scale`,
/// and draw it into `out` (default `out/district-<pack>`).
pub fn show(
    scale: f64,
    seed: u64,
    dir: Option<&Path>,
    out: Option<&Path>,
) -> Result<Shown, RunError> {
    let started = Instant::now();
    let pack = match dir {
        Some(d) => Pack::load(d)?,
        None => Pack::baoan(),
    };
    let import_s = started.elapsed().as_secs_f64();
    let (twin, timings) = Twin::from_pack(&pack, scale, seed)?;
    let build_s = started.elapsed().as_secs_f64() - import_s;
    let figures = Figures::of(&twin);
    let rss = crate::peak_rss_mib();
    let out = out
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(format!("out/district-{}", pack.name)));
    std::fs::create_dir_all(&out).map_err(|source| RunError::Write {
        path: out.clone(),
        what: "the district's folder",
        source,
    })?;
    let page = out.join("index.html");
    std::fs::write(&page, draw(&pack, &twin, &figures)).map_err(|source| RunError::Write {
        path: page.clone(),
        what: "the district's page",
        source,
    })?;

    let mut text = pack_text(&pack);
    text += &figures.text();
    let _ = writeln!(
        text,
        "\ntravel times from the {}{}",
        twin.travel.source_name(),
        twin.travel
            .road_report()
            .map(|r| format!(
                ": {} road nodes; unreachable grids walk {}, e-bike {}, car {}",
                r.nodes,
                r.unreachable_grids_by_mode[0].len(),
                r.unreachable_grids_by_mode[1].len(),
                r.unreachable_grids_by_mode[2].len()
            ))
            .unwrap_or_default()
    );
    let _ = writeln!(
        text,
        "read in {import_s:.2} s, built in {build_s:.2} s (geography {:.2} s, travel times {:.2} s, population {:.2} s), peak memory {rss:.0} MiB",
        timings.geography_s, timings.travel_s, timings.population_s
    );
    let json = json!({
        "pack": {
            "name": pack.name,
            "title": pack.title,
            "hash": pack.hash,
            "layers": pack.layers,
            "dropped": pack.dropped,
        },
        "figures": figures,
        "roads": twin.travel.road_report(),
        "perf": {
            "import_s": import_s,
            "build_s": build_s,
            "steps": timings,
            "roads": twin.travel.road_perf(),
            "peak_rss_mib": rss,
            "travel_matrix_mib": twin.travel.memory_bytes() as f64 / 1048576.0,
            "population_mib": twin.population.memory_bytes() as f64 / 1048576.0,
        },
    });
    Ok(Shown { text, json, page })
}

/// The pack's layers as read, what was generated, and what was dropped and why.
fn pack_text(pack: &Pack) -> String {
    let mut s = format!(
        "pack {} ({}), sha256 {}\n",
        pack.name,
        if pack.title.is_empty() {
            "untitled"
        } else {
            &pack.title
        },
        pack.hash
    );
    for l in &pack.layers {
        let _ = writeln!(
            s,
            "  {:<12} {:<9} {:>7} {:<9} {:<24} {}",
            l.layer,
            l.status,
            if l.status == "read" {
                l.items.to_string()
            } else {
                String::new()
            },
            if l.status == "read" {
                if l.real { "real" } else { "synthetic" }
            } else {
                ""
            },
            l.file.as_deref().unwrap_or(""),
            l.crs.map_or(String::new(), |c| c.to_string())
        );
    }
    if pack.dropped.is_empty() {
        s += "  nothing dropped\n";
    }
    for d in &pack.dropped {
        let _ = writeln!(
            s,
            "  dropped {} {}: {}{}",
            d.count,
            d.layer,
            d.reason,
            if d.examples.is_empty() {
                String::new()
            } else {
                format!(" (e.g. {})", d.examples.join(", "))
            }
        );
    }
    s.push('\n');
    s
}

/// The district as one SVG: land use, grids, streets, roads and places, each a group the page
/// can hide, with names on hover; north up, 1,000 units across its longer side.
fn svg(pack: &Pack, twin: &Twin) -> String {
    let d = &twin.district;
    let b = d.outline.bounding_rect().expect("a district has an extent");
    let (w, h) = (b.width().max(1.0), b.height().max(1.0));
    let scale = 1000.0 / w.max(h);
    let pt = |c: Coord<f64>| ((c.x - b.min().x) * scale, (b.max().y - c.y) * scale);
    let path = |mp: &MultiPolygon<f64>| {
        let mut s = String::new();
        for poly in &mp.0 {
            for ring in std::iter::once(poly.exterior()).chain(poly.interiors()) {
                for (i, c) in ring.0.iter().enumerate() {
                    let (x, y) = pt(*c);
                    let _ = write!(s, "{}{x:.1},{y:.1}", if i == 0 { "M" } else { "L" });
                }
                s.push('Z');
            }
        }
        s
    };
    let mut svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {:.0} {:.0}" width="100%">"#,
        w * scale,
        h * scale
    );
    svg += r#"<g id="land">"#;
    for (class, shape) in d.land.patches() {
        let _ = write!(
            svg,
            r#"<path d="{}" fill="{}" fill-opacity="0.45" stroke="none"><title>{class}</title></path>"#,
            path(shape),
            land_colour(*class)
        );
    }
    svg += r#"</g><g id="grids" fill="none" stroke="gray" stroke-width="0.3">"#;
    for g in &d.grids {
        let _ = write!(
            svg,
            r#"<path d="{}"><title>grid {} — {} residents</title></path>"#,
            path(&g.shape),
            g.code,
            twin.population.residents_of_grid(g.id).len()
        );
    }
    svg += r#"</g><g id="streets" fill="none" stroke="rgb(51,51,51)" stroke-width="1.5">"#;
    for s in &d.streets {
        let _ = write!(
            svg,
            r#"<path d="{}"><title>{} {} ({})</title></path>"#,
            path(&s.shape),
            s.name_zh,
            s.name_en,
            s.code
        );
    }
    svg += r#"</g><g id="roads" fill="none" stroke-linecap="round">"#;
    for r in &pack.roads {
        let mut s = String::new();
        for (i, c) in r.line.0.iter().enumerate() {
            let (x, y) = pt(d.frame.to_metres(c.x, c.y));
            let _ = write!(s, "{}{x:.1},{y:.1}", if i == 0 { "M" } else { "L" });
        }
        let (colour, width) = road_style(r.class);
        let _ = write!(
            svg,
            r#"<path d="{s}" stroke="{colour}" stroke-width="{width}"><title>{}{}</title></path>"#,
            r.class,
            r.name
                .as_deref()
                .map(|n| format!(": {n}"))
                .unwrap_or_default()
        );
    }
    svg += r#"</g><g id="places">"#;
    for p in &d.places {
        let (x, y) = pt(p.at);
        let _ = write!(
            svg,
            r#"<circle cx="{x:.1}" cy="{y:.1}" r="3" fill="{}"><title>{}{}</title></circle>"#,
            place_colour(p.kind),
            p.kind,
            p.name
                .as_deref()
                .map(|n| format!(": {}", escape(n)))
                .unwrap_or_default()
        );
    }
    svg += "</g></svg>";
    svg
}

/// The district drawn in one self-contained page: streets, grids, land use, roads and places,
/// each a layer that can be switched off, with names on hover.
fn draw(pack: &Pack, twin: &Twin, figures: &Figures) -> String {
    let d = &twin.district;
    let svg = svg(pack, twin);
    let layers: String = pack
        .layers
        .iter()
        .map(|l| {
            format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                l.layer,
                l.status,
                l.items,
                if l.real { "real" } else { "synthetic" },
                escape(l.file.as_deref().unwrap_or("")),
                escape(&l.source)
            )
        })
        .collect();
    let dropped: String = pack
        .dropped
        .iter()
        .map(|x| {
            format!(
                "<li>{} {}: {} {}</li>",
                x.count,
                x.layer,
                escape(&x.reason),
                escape(&x.examples.join(", "))
            )
        })
        .collect();
    let toggles: String = ["streets", "grids", "land", "roads", "places"]
        .iter()
        .map(|id| {
            format!(
                r#"<label><input type="checkbox" checked onchange="document.getElementById('{id}').style.display=this.checked?'':'none'"> {id}</label> "#
            )
        })
        .collect();
    format!(
        r#"<!doctype html><html><head><meta charset="utf-8"><title>{title} — district pack {name}</title>
<style>body{{font-family:sans-serif;margin:1.5em;max-width:1100px}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:2px 6px;font-size:90%}}</style></head><body>
<h1>{title}</h1>
<p>Pack <b>{name}</b>, sha256 <code>{hash}</code>. {streets} streets, {communities} communities, {grids} grids, {residents} residents at scale {scale}. Travel times from the {travel}. Map in WGS-84 about ({olon:.4}, {olat:.4}); north is up.</p>
<p>{toggles}</p>
{svg}
<h2>Layers</h2><table><tr><th>layer</th><th>status</th><th>items</th><th></th><th>file</th><th>source</th></tr>{layers}</table>
<h2>Generated</h2><ul>{generated}</ul>
<h2>Dropped</h2><ul>{dropped}</ul>
<p>{provenance}</p>
{osm}
</body></html>
"#,
        title = escape(&figures.title),
        name = pack.name,
        hash = pack.hash,
        streets = figures.streets,
        communities = figures.communities,
        grids = figures.grids,
        residents = figures.residents,
        scale = figures.scale,
        travel = figures.travel,
        olon = d.frame.origin_lon,
        olat = d.frame.origin_lat,
        generated = d
            .generated
            .iter()
            .map(|g| format!("<li>{}</li>", escape(g)))
            .collect::<String>(),
        dropped = if dropped.is_empty() {
            "<li>nothing</li>".to_string()
        } else {
            dropped
        },
        provenance = escape(&figures.provenance),
        osm = if pack
            .layers
            .iter()
            .any(|l| l.file.as_deref().is_some_and(|f| f.ends_with(".pbf")))
        {
            "<p>Map data © OpenStreetMap contributors, ODbL.</p>"
        } else {
            ""
        },
    )
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn land_colour(c: LandClass) -> &'static str {
    match c {
        LandClass::Residential => "#e8c07d",
        LandClass::UrbanVillage => "#d9895b",
        LandClass::Commercial => "#c9a0dc",
        LandClass::Industrial => "#b0b0b0",
        LandClass::Airport => "#8c8c8c",
        LandClass::Water => "#6fa8dc",
        LandClass::Forest => "#6aa84f",
        LandClass::Park => "#b6d7a8",
    }
}

fn road_style(c: RoadClass) -> (&'static str, f64) {
    match c {
        RoadClass::Motorway | RoadClass::Trunk => ("#c0392b", 2.0),
        RoadClass::Primary | RoadClass::Secondary => ("#e67e22", 1.4),
        RoadClass::Tertiary | RoadClass::Unclassified => ("#555", 0.9),
        RoadClass::Residential | RoadClass::LivingStreet | RoadClass::Service => ("#777", 0.6),
        _ => ("#2e86c1", 0.4),
    }
}

fn place_colour(k: PlaceKind) -> &'static str {
    match k {
        PlaceKind::MetroEntrance | PlaceKind::BusStation => "#1f4e9c",
        PlaceKind::School => "#8e44ad",
        PlaceKind::Hospital => "#c0392b",
        PlaceKind::Mall => "#d35400",
        PlaceKind::Park => "#27ae60",
        PlaceKind::Police | PlaceKind::FireStation => "#000",
        PlaceKind::UrbanVillage => "#a04000",
    }
}

/// `twin pack from-osm`'s options.
#[derive(Debug, Clone, clap::Args)]
pub struct FromOsm {
    /// The extract (.osm.pbf), e.g. from Geofabrik or BBBike.
    pub extract: PathBuf,
    /// The district's boundary (GeoJSON Polygon or MultiPolygon, WGS-84 unless --crs).
    #[arg(long)]
    pub boundary: Option<PathBuf>,
    /// The boundary file's datum.
    #[arg(long, default_value = "wgs84")]
    pub crs: Crs,
    /// Streets to generate.
    #[arg(long, default_value_t = 4)]
    pub streets: usize,
    /// Communities to generate (default: one per 39 grids, as in Bao'an).
    #[arg(long)]
    pub communities: Option<usize>,
    /// Grids to generate (default: one per 0.084 km² of habitable land, as in Bao'an).
    #[arg(long)]
    pub grids: Option<usize>,
    /// The pack's short name (default: the extract's file name).
    #[arg(long)]
    pub name: Option<String>,
    /// The pack's folder (created; must not hold a pack already).
    #[arg(long)]
    pub out: PathBuf,
}

/// Make a district pack from an OSM extract, then load it back to check it.
pub fn from_osm(opts: &FromOsm) -> Result<u8, RunError> {
    let started = Instant::now();
    let label = opts.extract.display().to_string();
    if opts.out.join("district.toml").exists() {
        return Err(RunError::BadInput(format!(
            "{}: already holds a district pack; choose another --out",
            opts.out.display()
        )));
    }
    if opts.streets == 0 || opts.grids == Some(0) || opts.communities == Some(0) {
        return Err(RunError::BadInput(
            "--streets, --communities and --grids: expected at least 1".into(),
        ));
    }
    let osm = baoan_world::osm::read_osm(&opts.extract).map_err(|e| PackError::Osm {
        file: label.clone(),
        error: e.to_string(),
    })?;
    let (boundary, boundary_source) = choose_boundary(opts, &osm, &label)?;
    let inside = osm
        .roads
        .iter()
        .filter(|r| r.line.intersects(&boundary))
        .count();
    if inside == 0 {
        return Err(RunError::Pack(PackError::Unusable {
            file: label,
            what: format!(
                "no roads inside the boundary ({} roads in the extract, none inside {})",
                osm.roads.len(),
                boundary_source
            ),
        }));
    }
    let extract_name = opts
        .extract
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "extract.osm.pbf".into());
    let name = opts.name.clone().unwrap_or_else(|| {
        extract_name
            .trim_end_matches(".osm.pbf")
            .trim_end_matches(".pbf")
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    });
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(RunError::BadInput(format!(
            "--name: expected letters, digits, - and _ (it names output folders), got {name:?}"
        )));
    }
    std::fs::create_dir_all(&opts.out).map_err(|source| RunError::Write {
        path: opts.out.clone(),
        what: "the pack's folder",
        source,
    })?;
    let write = |file: &str, text: &[u8]| {
        let path = opts.out.join(file);
        std::fs::write(&path, text).map_err(|source| RunError::Write {
            path,
            what: "a file of the pack",
            source,
        })
    };
    let bytes = std::fs::read(&opts.extract).map_err(|source| RunError::Read {
        path: opts.extract.clone(),
        what: "the extract",
        source,
    })?;
    write(&extract_name, &bytes)?;
    write("boundary.geojson", geojson_of(&boundary).as_bytes())?;
    let boundary_real = opts.boundary.is_some() || !osm.admin.is_empty();
    let manifest = manifest_text(opts, &name, &extract_name, &boundary_source, boundary_real);
    write("district.toml", manifest.as_bytes())?;
    let pack = Pack::load(&opts.out)?;
    print!("{}", pack_text(&pack));
    println!(
        "boundary: {boundary_source}; {inside} of {} roads inside it",
        osm.roads.len()
    );
    eprintln!(
        "twin: pack {} written to {} in {:.2} s; next: twin district --pack {}",
        pack.name,
        opts.out.display(),
        started.elapsed().as_secs_f64(),
        opts.out.display()
    );
    Ok(0)
}

/// The boundary of a pack made from an extract, and where it came from: the file given, else
/// the extract's largest complete administrative area, else the hull of its roads.
fn choose_boundary(
    opts: &FromOsm,
    osm: &baoan_world::osm::OsmData,
    label: &str,
) -> Result<(MultiPolygon<f64>, String), RunError> {
    Ok(match &opts.boundary {
        Some(path) => (
            boundary_file(path, opts.crs)?,
            format!("{} (given)", path.display()),
        ),
        None => match osm.admin.iter().max_by(|a, b| {
            a.shape
                .unsigned_area()
                .total_cmp(&b.shape.unsigned_area())
                .then(b.admin_level.cmp(&a.admin_level))
        }) {
            Some(a) => (
                a.shape.clone(),
                format!(
                    "the extract's administrative boundary {} (level {})",
                    a.name, a.admin_level
                ),
            ),
            None => {
                let points: MultiPoint<f64> = osm
                    .roads
                    .iter()
                    .flat_map(|r| r.line.0.iter().map(|c| Point(*c)))
                    .collect();
                if points.0.is_empty() {
                    return Err(RunError::Pack(PackError::Unusable {
                        file: label.into(),
                        what: "no roads in the extract".into(),
                    }));
                }
                (
                    MultiPolygon(vec![points.convex_hull()]),
                    "the hull of the extract's roads".to_string(),
                )
            }
        },
    })
}

/// The manifest of a pack made from an extract: its layers all read from the extract, its
/// divisions generated.
fn manifest_text(
    opts: &FromOsm,
    name: &str,
    extract_name: &str,
    boundary_source: &str,
    boundary_real: bool,
) -> String {
    let mut generate = format!("streets = {}\n", opts.streets);
    if let Some(c) = opts.communities {
        let _ = writeln!(generate, "communities = {c}");
    }
    if let Some(g) = opts.grids {
        let _ = writeln!(generate, "grids = {g}");
    }
    let osm_source = "© OpenStreetMap contributors, ODbL 1.0";
    format!(
        r#"# Made by `twin pack from-osm {extract}` (baoan-twin). Roads, places and land use come
# from the extract's tags; streets, communities and grids are generated inside the boundary,
# weighted by where people live. See PACKS.md.

[pack]
name = "{name}"
title = "{name} (from OpenStreetMap)"
crs = "wgs84"
notes = "Real: roads, places and land use from OpenStreetMap; the boundary from {boundary_source}. Synthetic: streets, communities and grids, and the population's size (assumed density) unless population is added."

[boundary]
file = "boundary.geojson"
crs = "wgs84"
source = "{boundary_source}"
real = {boundary_real}

[generate]
{generate}
[roads]
file = "{extract_name}"
source = "{osm_source}"

[places]
file = "{extract_name}"
source = "{osm_source}"

[land_use]
file = "{extract_name}"
source = "{osm_source}"
"#,
        extract = toml_escape(&opts.extract.display().to_string()),
        extract_name = toml_escape(extract_name),
        boundary_source = toml_escape(boundary_source),
    )
}

/// A string as the inside of a TOML basic string.
fn toml_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// A boundary file given on the command line, read as a pack's boundary is: every area of it,
/// a broken ring refused with its feature and field.
fn boundary_file(path: &Path, crs: Crs) -> Result<MultiPolygon<f64>, RunError> {
    let text = std::fs::read_to_string(path).map_err(|source| RunError::Read {
        path: path.to_path_buf(),
        what: "the boundary",
        source,
    })?;
    Ok(read::all_areas(
        &path.display().to_string(),
        &text,
        crs,
        "the boundary",
    )?)
}

/// A WGS-84 MultiPolygon as a GeoJSON FeatureCollection of one feature.
fn geojson_of(mp: &MultiPolygon<f64>) -> String {
    let polys: Vec<serde_json::Value> =
        mp.0.iter()
            .map(|p| {
                let ring = |r: &geo::LineString<f64>| -> Vec<[f64; 2]> {
                    r.0.iter().map(|c| [c.x, c.y]).collect()
                };
                let mut rings = vec![ring(p.exterior())];
                rings.extend(p.interiors().iter().map(ring));
                json!(rings)
            })
            .collect();
    json!({
        "type": "FeatureCollection",
        "features": [{
            "type": "Feature",
            "properties": {},
            "geometry": { "type": "MultiPolygon", "coordinates": polys },
        }],
    })
    .to_string()
}
