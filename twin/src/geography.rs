//! The district's divisions, built from a district pack: each level (streets, communities, grids)
//! is taken from the pack's polygons where it has them and otherwise generated inside the level
//! above as Voronoi cells of relaxed random points clipped to their parent — so every level
//! partitions the one above. Generated points are drawn where people live (the land-use mask),
//! so divisions come out smaller where it is dense, as real grids do. Point-to-grid look-up goes
//! through an R-tree.
//!
//! The default is the built-in Bao'an pack: the real outline, the 10 real streets as Voronoi
//! cells of hand-placed points, and the division list's community names.

use std::ops::Range;

use geo::{
    Area, BooleanOps, BoundingRect, Contains, Coord, LineString, MapCoords, MultiPolygon, Point,
    Polygon, Rect,
};
use rand::Rng;
use rayon::prelude::*;
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{AABB, RTree};
use serde::Serialize;

use crate::data::facts;
use crate::land::LandMask;
use crate::layers::PlaceKind;
use crate::pack::{self, Divisions, Pack, PackError, PackId, answers_to};
use crate::proj::Frame;
use crate::rng::RngStreams;

#[derive(Debug, Clone)]
pub struct Street {
    pub id: u32,
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
    pub shape: MultiPolygon<f64>,
    pub area_m2: f64,
    pub communities: Range<u32>,
    pub grids: Range<u32>,
}

#[derive(Debug, Clone)]
pub struct Community {
    pub id: u32,
    pub street: u32,
    pub code: String,
    pub name: String,
    /// The name in Latin letters (the name itself when the pack gives none).
    pub name_en: String,
    pub shape: MultiPolygon<f64>,
    pub area_m2: f64,
    pub site: Coord<f64>,
    pub grids: Range<u32>,
}

#[derive(Debug, Clone)]
pub struct Grid {
    pub id: u32,
    pub community: u32,
    pub street: u32,
    /// Community code and a three-digit number: `440306017001-007`.
    pub code: String,
    pub shape: MultiPolygon<f64>,
    pub area_m2: f64,
    /// The grid's Voronoi site: always inside the grid, so it stands for the grid on the road
    /// network (a centroid can fall outside a concave shape).
    pub site: Coord<f64>,
}

impl Grid {
    /// A uniformly random point inside the grid (its site if fifty tries miss).
    pub fn random_point(&self, rng: &mut impl Rng) -> Coord<f64> {
        let b = self.shape.bounding_rect().expect("a grid has an extent");
        for _ in 0..50 {
            let p = Coord {
                x: rng.random_range(b.min().x..=b.max().x),
                y: rng.random_range(b.min().y..=b.max().y),
            };
            if self.shape.contains(&Point(p)) {
                return p;
            }
        }
        self.site
    }
}

/// How many of each division a district at a given scale has. The 10 streets are always there;
/// below them the counts scale, keeping at least one community per street and one grid per
/// community.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Counts {
    pub streets: usize,
    pub communities: usize,
    pub grids: usize,
}

impl Counts {
    /// The default district's counts at a scale.
    pub fn at_scale(scale: f64) -> Counts {
        Counts {
            streets: facts::STREETS,
            communities: facts::COMMUNITIES,
            grids: facts::GRIDS,
        }
        .scaled(scale)
    }

    /// These counts at a scale: streets stay, communities and grids scale, at least one
    /// community per street and one grid per community.
    pub fn scaled(self, scale: f64) -> Counts {
        let communities = ((self.communities as f64 * scale).round() as usize).max(self.streets);
        let grids = ((self.grids as f64 * scale).round() as usize).max(communities);
        Counts {
            streets: self.streets,
            communities,
            grids,
        }
    }
}

/// A place from the pack (metro entrance, school, police station, ...) in local metres.
#[derive(Debug, Clone)]
pub struct DistrictPlace {
    pub kind: PlaceKind,
    pub name: Option<String>,
    pub at: Coord<f64>,
    pub grid: Option<u32>,
}

/// Grids per km² of habitable land when a pack gives no counts: Bao'an's published 4,866 grids
/// over its about 407 km² (source: facts.toml and the vendored outline).
pub const DEFAULT_GRIDS_PER_KM2: f64 = 4866.0 / 407.0;
/// Grids per community when a pack gives no counts: Bao'an's 4,866 over 124 (facts.toml).
pub const DEFAULT_GRIDS_PER_COMMUNITY: f64 = 4866.0 / 124.0;
/// Residents per km² of ordinary built-up land when a pack states no population: Bao'an's
/// census total over its land outside the airport, reservoirs and forest parks (assumed
/// representative of a dense Chinese urban district).
pub const DEFAULT_RESIDENTS_PER_KM2: f64 = 12_500.0;
/// Points sampled per division to estimate its habitable (weighted) area.
const WEIGHT_SAMPLES: usize = 48;

pub struct District {
    /// The local metric frame every shape here is in.
    pub frame: Frame,
    /// The pack it was built from: name and content hash.
    pub pack: PackId,
    /// The pack's own words on what is real and what is not.
    pub notes: String,
    /// The district's name (the pack's title, else its name).
    pub title: String,
    pub scale: f64,
    pub seed: u64,
    pub outline: MultiPolygon<f64>,
    pub outline_area_m2: f64,
    pub streets: Vec<Street>,
    pub communities: Vec<Community>,
    pub grids: Vec<Grid>,
    /// Where people live.
    pub land: LandMask,
    /// Residents each grid holds at scale 1 before the population's own spread: the pack's
    /// figures where it has them, else its total over habitable land by land-use weight.
    pub grid_residents: Vec<f64>,
    /// Residents of the whole district at scale 1.
    pub population_total: u64,
    /// Where the total came from (the pack's source, or the assumed density).
    pub population_source: String,
    pub places: Vec<DistrictPlace>,
    /// What the twin generated rather than read, level by level, for `twin district`.
    pub generated: Vec<String>,
    index: RTree<GeomWithData<Rectangle<[f64; 2]>, u32>>,
}

/// Split `total` into parts proportional to `weights` (largest remainder), each at least `floor`.
pub fn apportion(total: usize, weights: &[f64], floor: usize) -> Vec<usize> {
    let n = weights.len();
    assert!(
        total >= floor * n,
        "cannot give {n} parts at least {floor} each out of {total}"
    );
    let spare = total - floor * n;
    let sum: f64 = weights.iter().sum();
    let exact: Vec<f64> = weights.iter().map(|w| spare as f64 * w / sum).collect();
    let mut parts: Vec<usize> = exact.iter().map(|e| e.floor() as usize).collect();
    let mut order: Vec<usize> = (0..n).collect();
    // Largest remainder first; ties by position so the split is deterministic.
    order.sort_by(|&a, &b| {
        (exact[b] - exact[b].floor())
            .total_cmp(&(exact[a] - exact[a].floor()))
            .then(a.cmp(&b))
    });
    let short = spare - parts.iter().sum::<usize>();
    for &i in order.iter().take(short) {
        parts[i] += 1;
    }
    parts.iter().map(|p| p + floor).collect()
}

/// Convex Voronoi cell of `sites[i]` among `sites`, inside `frame`.
fn voronoi_cell(sites: &[Coord<f64>], i: usize, frame: Rect<f64>) -> Polygon<f64> {
    let mut ring: Vec<Coord<f64>> = frame.to_polygon().exterior().0[..4].to_vec();
    let s = sites[i];
    for (j, &o) in sites.iter().enumerate() {
        if j == i || ring.is_empty() {
            continue;
        }
        // Keep the half-plane nearer to s: (p - m) . (o - s) <= 0.
        let m = Coord {
            x: (s.x + o.x) / 2.0,
            y: (s.y + o.y) / 2.0,
        };
        let n = Coord {
            x: o.x - s.x,
            y: o.y - s.y,
        };
        let side = |p: Coord<f64>| (p.x - m.x) * n.x + (p.y - m.y) * n.y;
        let mut next = Vec::with_capacity(ring.len() + 1);
        for k in 0..ring.len() {
            let (a, b) = (ring[k], ring[(k + 1) % ring.len()]);
            let (da, db) = (side(a), side(b));
            if da <= 0.0 {
                next.push(a);
            }
            if (da <= 0.0) != (db <= 0.0) {
                let t = da / (da - db);
                next.push(Coord {
                    x: a.x + t * (b.x - a.x),
                    y: a.y + t * (b.y - a.y),
                });
            }
        }
        ring = next;
    }
    Polygon::new(LineString::from(ring), vec![])
}

/// Random points inside `shape`, drawn where people live: by rejection from its bounding box,
/// each point kept with probability proportional to the land's weight there. A division where
/// nobody lives at all (wholly airport or water) gets plain uniform points instead.
fn sample_inside(
    shape: &MultiPolygon<f64>,
    n: usize,
    land: &LandMask,
    rng: &mut impl Rng,
) -> Vec<Coord<f64>> {
    let bbox = shape.bounding_rect().expect("a division has an extent");
    let mut out = Vec::with_capacity(n);
    let mut tries = 0usize;
    let mut weighted = true;
    while out.len() < n {
        tries += 1;
        assert!(
            tries < 10_000 + n * 10_000,
            "could not place points inside a division (is it empty?)"
        );
        if weighted && out.is_empty() && tries > 2_000 + n * 200 {
            weighted = false;
        }
        let p = Coord {
            x: rng.random_range(bbox.min().x..bbox.max().x),
            y: rng.random_range(bbox.min().y..bbox.max().y),
        };
        if !shape.contains(&Point(p)) {
            continue;
        }
        if weighted {
            let keep: f64 = rng.random();
            if keep * land.max_weight() >= land.weight_at(p) {
                continue;
            }
        }
        out.push(p);
    }
    out
}

/// A division's habitable area: its area times the mean land weight over a sample of points.
fn weighted_area(shape: &MultiPolygon<f64>, land: &LandMask, rng: &mut impl Rng) -> f64 {
    let area = shape.unsigned_area();
    if land.patches().is_empty() {
        return area;
    }
    let Some(bbox) = shape.bounding_rect() else {
        return 0.0;
    };
    let mut sum = 0.0;
    let mut n = 0;
    let mut tries = 0;
    while n < WEIGHT_SAMPLES && tries < WEIGHT_SAMPLES * 200 {
        tries += 1;
        let p = Coord {
            x: rng.random_range(bbox.min().x..=bbox.max().x),
            y: rng.random_range(bbox.min().y..=bbox.max().y),
        };
        if shape.contains(&Point(p)) {
            sum += land.weight_at(p);
            n += 1;
        }
    }
    if n == 0 { area } else { area * sum / n as f64 }
}

/// `k` well-spread sites inside `shape`: random points moved a few times towards the centre of
/// the area nearest to them (Lloyd's relaxation on a sample), so cells come out compact.
fn relaxed_sites(
    shape: &MultiPolygon<f64>,
    k: usize,
    land: &LandMask,
    rng: &mut impl Rng,
) -> Vec<Coord<f64>> {
    let mut sites = sample_inside(shape, k, land, rng);
    if k == 1 {
        return sites;
    }
    let samples = sample_inside(shape, (k * 24).clamp(200, 4000), land, rng);
    for _ in 0..4 {
        let mut sum = vec![(0.0, 0.0, 0usize); k];
        let mut nearest_sample = vec![(f64::INFINITY, Coord { x: 0.0, y: 0.0 }); k];
        let mut owner = Vec::with_capacity(samples.len());
        for p in &samples {
            let (best, _) = sites
                .iter()
                .enumerate()
                .map(|(i, s)| (i, (s.x - p.x).powi(2) + (s.y - p.y).powi(2)))
                .min_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)))
                .expect("k > 0");
            sum[best].0 += p.x;
            sum[best].1 += p.y;
            sum[best].2 += 1;
            owner.push(best);
        }
        let means: Vec<Option<Coord<f64>>> = sum
            .iter()
            .map(|&(x, y, n)| {
                (n > 0).then(|| Coord {
                    x: x / n as f64,
                    y: y / n as f64,
                })
            })
            .collect();
        for (p, &o) in samples.iter().zip(&owner) {
            if let Some(m) = means[o] {
                let d = (p.x - m.x).powi(2) + (p.y - m.y).powi(2);
                if d < nearest_sample[o].0 {
                    nearest_sample[o] = (d, *p);
                }
            }
        }
        for i in 0..k {
            if let Some(m) = means[i] {
                // A mean can fall outside a concave shape, or where nobody lives: then take
                // the sample nearest to it.
                sites[i] = if shape.contains(&Point(m)) && land.habitable(m) {
                    m
                } else {
                    nearest_sample[i].1
                };
            }
        }
    }
    // Two sites may have collapsed onto the same sample; nudge duplicates apart deterministically.
    for i in 1..k {
        while sites[..i]
            .iter()
            .any(|s| (s.x - sites[i].x).abs() < 1e-6 && (s.y - sites[i].y).abs() < 1e-6)
        {
            sites[i] = sample_inside(shape, 1, land, rng)[0];
        }
    }
    sites
}

/// The Voronoi cells of `sites` clipped to `parent`, computed in parallel in a fixed order.
fn partition(parent: &MultiPolygon<f64>, sites: &[Coord<f64>]) -> Vec<MultiPolygon<f64>> {
    let bbox = parent.bounding_rect().expect("a division has an extent");
    let pad = 1000.0;
    let frame = Rect::new(
        Coord {
            x: bbox.min().x - pad,
            y: bbox.min().y - pad,
        },
        Coord {
            x: bbox.max().x + pad,
            y: bbox.max().y + pad,
        },
    );
    (0..sites.len())
        .into_par_iter()
        .map(|i| {
            let cell = voronoi_cell(sites, i, frame);
            let clipped = cell.intersection(parent);
            MultiPolygon(
                clipped
                    .0
                    .into_iter()
                    .filter(|p| p.unsigned_area() > 1e-6)
                    .collect(),
            )
        })
        .collect()
}

/// The file a division level came from, for errors.
fn layer_file(pack: &Pack, layer: &str) -> String {
    let file = pack
        .layers
        .iter()
        .find(|l| l.layer == layer)
        .and_then(|l| l.file.clone())
        .unwrap_or_else(|| "district.toml".into());
    match &pack.dir {
        Some(d) => d.join(file).display().to_string(),
        None => format!("twin/data/baoan/{file}"),
    }
}

/// How many divisions of each level to make at scale 1: the pack's polygons and lists where it
/// has them, its `[generate]` counts, else Bao'an's averages (grids per km², grids per community).
fn target_counts(pack: &Pack, outline: &MultiPolygon<f64>, land: &LandMask) -> Counts {
    let streets = match &pack.streets {
        Divisions::Polygons(a) => a.len(),
        Divisions::Seeds(s) => s.len(),
        _ => pack.generate.streets.unwrap_or(1).max(1),
    };
    let habitable_km2 = weighted_area(
        outline,
        land,
        &mut RngStreams::new(0).stream("geography/outline-weight"),
    ) / 1e6
        / land.max_weight();
    let grids = pack
        .generate
        .grids
        .unwrap_or_else(|| (habitable_km2 * DEFAULT_GRIDS_PER_KM2).round() as usize)
        .max(1);
    let communities = match &pack.communities {
        Divisions::Names(rows) => pack.generate.communities.unwrap_or(rows.len()),
        _ => pack
            .generate
            .communities
            .unwrap_or_else(|| (grids as f64 / DEFAULT_GRIDS_PER_COMMUNITY).round() as usize),
    }
    .max(streets);
    Counts {
        streets,
        communities,
        grids: grids.max(communities),
    }
}

/// Relative weights of the streets for sharing out communities and grids: the pack's street
/// populations when it gives one for every street, else their habitable area.
fn population_by(pack: &Pack, level: &str, cells: &[Cell], habitable: &[f64]) -> Vec<f64> {
    let given: Vec<Option<f64>> = cells
        .iter()
        .map(|c| {
            pack.population
                .iter()
                .find(|r| r.level == level && answers_to(&c.code, &c.name, &c.name_en, &r.key))
                .map(|r| r.residents as f64)
        })
        .collect();
    if given.iter().all(Option::is_some) && !given.is_empty() {
        given
            .into_iter()
            .map(|g| g.unwrap_or(0.0).max(1.0))
            .collect()
    } else {
        habitable.iter().map(|w| w.max(1.0)).collect()
    }
}

/// Clip a pack's polygon to its parent, refusing one that falls outside it.
fn clip_to(
    area: &pack::Area,
    shape: MultiPolygon<f64>,
    parent: &MultiPolygon<f64>,
    file: &str,
    what: &str,
) -> Result<MultiPolygon<f64>, PackError> {
    let clipped = MultiPolygon(
        shape
            .intersection(parent)
            .0
            .into_iter()
            .filter(|p| p.unsigned_area() > 1.0)
            .collect(),
    );
    if clipped.0.is_empty() {
        return Err(PackError::Field {
            file: file.into(),
            feature: Some(area.index),
            field: "geometry".into(),
            expected: format!("{what} (this one lies outside it)"),
        });
    }
    Ok(clipped)
}

#[allow(clippy::too_many_arguments)]
fn build_streets(
    pack: &Pack,
    outline: &MultiPolygon<f64>,
    land: &LandMask,
    frame: &Frame,
    n: usize,
    streams: &RngStreams,
    generated: &mut Vec<String>,
    project: impl Fn(&MultiPolygon<f64>) -> MultiPolygon<f64>,
) -> Result<Vec<Cell>, PackError> {
    let file = layer_file(pack, "streets");
    match &pack.streets {
        Divisions::Polygons(areas) => areas
            .iter()
            .enumerate()
            .map(|(i, a)| {
                let shape = clip_to(
                    a,
                    project(&a.shape),
                    outline,
                    &file,
                    "a street inside the boundary",
                )?;
                let mut rng = streams.stream_for("geography/street-site", i as u64);
                let code = a.code.clone().unwrap_or_else(|| format!("{:02}", i + 1));
                let name = a.name.clone().unwrap_or_else(|| code.clone());
                Ok(Cell {
                    site: inner_point(&shape, land, &mut rng),
                    name_en: a.name_en.clone().unwrap_or_else(|| name.clone()),
                    code,
                    name,
                    shape,
                })
            })
            .collect(),
        Divisions::Seeds(seeds) => {
            let sites: Vec<Coord<f64>> = seeds
                .iter()
                .map(|s| frame.to_metres(s.lon, s.lat))
                .collect();
            let shapes = partition(outline, &sites);
            seeds
                .iter()
                .zip(shapes)
                .zip(sites)
                .enumerate()
                .map(|(i, ((s, shape), site))| {
                    if shape.0.is_empty() {
                        return Err(PackError::Syntax {
                            file: file.clone(),
                            line: i + 2,
                            column: 1,
                            expected: format!("a seed point inside the boundary for {}", s.name),
                        });
                    }
                    Ok(Cell {
                        code: s.code.clone(),
                        name: s.name.clone(),
                        name_en: s.name_en.clone(),
                        shape,
                        site,
                    })
                })
                .collect()
        }
        _ if matches!(pack.communities, Divisions::Polygons(_))
            || matches!(pack.grids, Divisions::Polygons(_)) =>
        {
            // Real divisions below and none given here: one street holds them all, rather
            // than generated cells that would cut real communities or grids in two.
            generated.push(
                "1 street: the whole boundary (the pack gives divisions below it, not streets)"
                    .into(),
            );
            let mut rng = streams.stream("geography/streets");
            Ok(vec![Cell {
                code: format!("{}-01", pack.name),
                name: "Street 1".into(),
                name_en: "Street 1".into(),
                site: inner_point(outline, land, &mut rng),
                shape: outline.clone(),
            }])
        }
        _ => {
            generated.push(format!(
                "{n} streets: Voronoi cells of relaxed points inside the boundary, drawn where people live"
            ));
            let sites = relaxed_sites(outline, n, land, &mut streams.stream("geography/streets"));
            Ok(partition(outline, &sites)
                .into_iter()
                .zip(sites)
                .enumerate()
                .map(|(i, (shape, site))| Cell {
                    code: format!("{}-{:02}", pack.name, i + 1),
                    name: format!("Street {}", i + 1),
                    name_en: format!("Street {}", i + 1),
                    shape,
                    site,
                })
                .collect())
        }
    }
}

/// Generated cells inside `parent`: `k` Voronoi cells of relaxed points drawn where people live.
fn generate_cells(
    parent: &MultiPolygon<f64>,
    k: usize,
    land: &LandMask,
    rng: &mut impl Rng,
) -> Vec<(MultiPolygon<f64>, Coord<f64>)> {
    let sites = relaxed_sites(parent, k, land, rng);
    partition(parent, &sites).into_iter().zip(sites).collect()
}

/// Which of `parents` a given polygon belongs to: the one its `parent` property names, else
/// the one containing a point inside it.
fn parent_of(
    area: &pack::Area,
    shape: &MultiPolygon<f64>,
    parents: &[&Cell],
    land: &LandMask,
    rng: &mut impl Rng,
) -> Option<usize> {
    if let Some(key) = &area.parent
        && let Some(i) = parents
            .iter()
            .position(|p| answers_to(&p.code, &p.name, &p.name_en, key))
    {
        return Some(i);
    }
    let p = inner_point(shape, land, rng);
    parents.iter().position(|c| c.shape.contains(&Point(p)))
}

/// A pack's polygon placed in the level above: the parent its property names or a point of it
/// lies in, the polygon clipped to that parent, and a site inside it. `names` are the child's,
/// the parent's and the parents' names, for the error.
fn place_given(
    a: &pack::Area,
    parents: &[&Cell],
    land: &LandMask,
    rng: &mut impl Rng,
    project: &impl Fn(&MultiPolygon<f64>) -> MultiPolygon<f64>,
    file: &str,
    names: (&str, &str, &str),
) -> Result<(usize, MultiPolygon<f64>, Coord<f64>), PackError> {
    let (child, parent, plural) = names;
    let shape = project(&a.shape);
    let p = parent_of(a, &shape, parents, land, rng).ok_or_else(|| PackError::Field {
        file: file.into(),
        feature: Some(a.index),
        field: format!("properties.{parent}"),
        expected: format!(
            "a {child} inside one of the {plural} (name its {parent}, or draw it inside one)"
        ),
    })?;
    let shape = clip_to(
        a,
        shape,
        &parents[p].shape,
        file,
        &format!("a {child} inside its {parent}"),
    )?;
    let site = inner_point(&shape, land, rng);
    Ok((p, shape, site))
}

/// Communities from the pack's polygons, each in the street it names or lies in, clipped to it;
/// a street the pack gives none in becomes one community.
fn given_communities(
    areas: &[pack::Area],
    streets: &[Cell],
    land: &LandMask,
    streams: &RngStreams,
    generated: &mut Vec<String>,
    project: impl Fn(&MultiPolygon<f64>) -> MultiPolygon<f64>,
    file: &str,
) -> Result<Vec<Vec<Cell>>, PackError> {
    let mut out: Vec<Vec<Cell>> = streets.iter().map(|_| Vec::new()).collect();
    let parents: Vec<&Cell> = streets.iter().collect();
    for (i, a) in areas.iter().enumerate() {
        let mut rng = streams.stream_for("geography/community-site", i as u64);
        let (s, shape, site) = place_given(
            a,
            &parents,
            land,
            &mut rng,
            &project,
            file,
            ("community", "street", "streets"),
        )?;
        let code = a
            .code
            .clone()
            .unwrap_or_else(|| format!("{}-{:03}", streets[s].code, out[s].len() + 1));
        out[s].push(Cell {
            site,
            name: a.name.clone().unwrap_or_else(|| code.clone()),
            name_en: a.name_en.clone().unwrap_or_default(),
            code,
            shape,
        });
    }
    for (s, list) in out.iter_mut().enumerate() {
        if list.is_empty() {
            generated.push(format!(
                "1 community for street {} (the pack has none in it): the whole street",
                streets[s].name
            ));
            list.push(Cell {
                code: format!("{}-001", streets[s].code),
                name: streets[s].name.clone(),
                name_en: streets[s].name_en.clone(),
                shape: streets[s].shape.clone(),
                site: streets[s].site,
            });
        }
    }
    Ok(out)
}

/// Communities generated inside each street: as many as the pack's name list gives the street
/// (names and codes taken in order), else a share of the count by the street's population.
fn generated_communities(
    divisions: &Divisions,
    streets: &[Cell],
    street_people: &[f64],
    land: &LandMask,
    counts: Counts,
    streams: &RngStreams,
    generated: &mut Vec<String>,
) -> Vec<Vec<Cell>> {
    let mut out: Vec<Vec<Cell>> = streets.iter().map(|_| Vec::new()).collect();
    let listed: Vec<Vec<&crate::pack::NameRow>> = streets
        .iter()
        .map(|s| match divisions {
            Divisions::Names(rows) => rows.iter().filter(|r| r.parent == s.code).collect(),
            _ => Vec::new(),
        })
        .collect();
    let weights: Vec<f64> = match divisions {
        // The real number of communities each street has.
        Divisions::Names(_) => listed.iter().map(|l| l.len().max(1) as f64).collect(),
        _ => street_people.to_vec(),
    };
    let per_street = apportion(counts.communities, &weights, 1);
    generated.push(format!(
        "{} communities: Voronoi cells of relaxed points inside each street, drawn where people live{}",
        counts.communities,
        if matches!(divisions, Divisions::Names(_)) { "; names and codes from the pack's list" } else { "" }
    ));
    for (s, street) in streets.iter().enumerate() {
        let mut rng = streams.stream(&format!("geography/communities/{}", street.code));
        for (c, (shape, site)) in generate_cells(&street.shape, per_street[s], land, &mut rng)
            .into_iter()
            .enumerate()
        {
            let (code, name, name_en) = match listed[s].get(c) {
                Some(d) => (
                    d.code.clone(),
                    d.name.clone(),
                    d.name_en.clone().unwrap_or_default(),
                ),
                None if matches!(divisions, Divisions::Names(_)) => (
                    format!("{}{:03}", street.code, 900 + c),
                    format!("{}第{}社区", street.name, c + 1),
                    format!("{} Community {}", street.name_en, c + 1),
                ),
                None => (
                    format!("{}-{:03}", street.code, c + 1),
                    format!("{} {}", street.name_en, c + 1),
                    String::new(),
                ),
            };
            out[s].push(Cell {
                code,
                name,
                name_en,
                shape,
                site,
            });
        }
    }
    out
}

#[allow(clippy::too_many_arguments)]
fn build_communities(
    pack: &Pack,
    streets: &[Cell],
    street_people: &[f64],
    land: &LandMask,
    counts: Counts,
    streams: &RngStreams,
    generated: &mut Vec<String>,
    project: impl Fn(&MultiPolygon<f64>) -> MultiPolygon<f64>,
) -> Result<Vec<Vec<Cell>>, PackError> {
    Ok(match &pack.communities {
        Divisions::Polygons(areas) => {
            let file = layer_file(pack, "communities");
            given_communities(areas, streets, land, streams, generated, project, &file)?
        }
        Divisions::Generate if matches!(pack.grids, Divisions::Polygons(_)) => {
            // Real grids and no communities given: one community per street holds its grids.
            generated.push(format!(
                "{} communities, one per street (the pack gives grids, not communities)",
                streets.len()
            ));
            streets
                .iter()
                .map(|street| {
                    vec![Cell {
                        code: format!("{}-001", street.code),
                        name: street.name.clone(),
                        name_en: street.name_en.clone(),
                        shape: street.shape.clone(),
                        site: street.site,
                    }]
                })
                .collect()
        }
        divisions => generated_communities(
            divisions,
            streets,
            street_people,
            land,
            counts,
            streams,
            generated,
        ),
    })
}

#[allow(clippy::too_many_arguments)]
fn build_grids(
    pack: &Pack,
    street_people: &[f64],
    communities: &[Vec<Cell>],
    land: &LandMask,
    counts: Counts,
    streams: &RngStreams,
    generated: &mut Vec<String>,
    project: impl Fn(&MultiPolygon<f64>) -> MultiPolygon<f64>,
) -> Result<Vec<Vec<Cell>>, PackError> {
    let file = layer_file(pack, "grids");
    let flat: Vec<&Cell> = communities.iter().flatten().collect();
    let mut out: Vec<Vec<Cell>> = flat.iter().map(|_| Vec::new()).collect();
    if let Divisions::Polygons(areas) = &pack.grids {
        for (i, a) in areas.iter().enumerate() {
            let mut rng = streams.stream_for("geography/grid-site", i as u64);
            let (c, shape, site) = place_given(
                a,
                &flat,
                land,
                &mut rng,
                &project,
                &file,
                ("grid", "community", "communities"),
            )?;
            out[c].push(Cell {
                site,
                code: a.code.clone().unwrap_or_default(),
                name: a.name.clone().unwrap_or_default(),
                name_en: String::new(),
                shape,
            });
        }
        let mut empty = 0;
        for (c, list) in out.iter_mut().enumerate() {
            if list.is_empty() {
                empty += 1;
                list.push(Cell {
                    code: String::new(),
                    name: String::new(),
                    name_en: String::new(),
                    shape: flat[c].shape.clone(),
                    site: flat[c].site,
                });
            }
        }
        if empty > 0 {
            generated.push(format!("{empty} grids, one for each community the pack gives no grid in: the whole community"));
        }
        return Ok(out);
    }
    let per_street = apportion(counts.grids.max(flat.len()), street_people, 0);
    generated.push(format!(
        "{} grids: Voronoi cells of relaxed points inside each community, drawn where people live; each street's share by its population",
        counts.grids.max(flat.len())
    ));
    let mut c0 = 0;
    for (s, list) in communities.iter().enumerate() {
        let weights: Vec<f64> = list
            .iter()
            .map(|c| {
                weighted_area(
                    &c.shape,
                    land,
                    &mut streams.stream(&format!("geography/community-weight/{}", c.code)),
                )
                .max(1.0)
            })
            .collect();
        let per_community = apportion(per_street[s].max(list.len()), &weights, 1);
        for (k, community) in list.iter().enumerate() {
            let mut rng = streams.stream(&format!("geography/grids/{}", community.code));
            out[c0 + k] = generate_cells(&community.shape, per_community[k], land, &mut rng)
                .into_iter()
                .map(|(shape, site)| Cell {
                    code: String::new(),
                    name: String::new(),
                    name_en: String::new(),
                    shape,
                    site,
                })
                .collect();
        }
        c0 += list.len();
    }
    Ok(out)
}
/// A division level being built: shapes with their names, codes and sites.
struct Cell {
    code: String,
    name: String,
    name_en: String,
    shape: MultiPolygon<f64>,
    site: Coord<f64>,
}

/// A point inside a shape: its centroid if that is inside, else a random point inside it drawn
/// where people live. Given polygons are assigned to their parent by it, and it is their site.
fn inner_point(shape: &MultiPolygon<f64>, land: &LandMask, rng: &mut impl Rng) -> Coord<f64> {
    use geo::Centroid;
    match shape.centroid() {
        Some(c) if shape.contains(&c) => c.0,
        _ => sample_inside(shape, 1, land, rng)[0],
    }
}

/// The levels numbered and linked: streets in order, their communities, their grids (a grid
/// without a code from the pack is numbered within its community).
fn assemble(
    streets: Vec<Cell>,
    per_street_communities: &[Vec<Cell>],
    grid_cells: &[Vec<Cell>],
) -> (Vec<Street>, Vec<Community>, Vec<Grid>) {
    let mut out_streets = Vec::new();
    let mut communities = Vec::new();
    let mut grids = Vec::new();
    for (s, street) in streets.into_iter().enumerate() {
        let first_community = communities.len() as u32;
        let first_grid = grids.len() as u32;
        for community in per_street_communities[s].iter() {
            let id = communities.len() as u32;
            let grid_start = grids.len() as u32;
            for (g, cell) in grid_cells[id as usize].iter().enumerate() {
                grids.push(Grid {
                    id: grids.len() as u32,
                    community: id,
                    street: s as u32,
                    code: if cell.code.is_empty() {
                        format!("{}-{:03}", community.code, g + 1)
                    } else {
                        cell.code.clone()
                    },
                    area_m2: cell.shape.unsigned_area(),
                    shape: cell.shape.clone(),
                    site: cell.site,
                });
            }
            communities.push(Community {
                id,
                street: s as u32,
                code: community.code.clone(),
                name: community.name.clone(),
                name_en: if community.name_en.is_empty() {
                    community.name.clone()
                } else {
                    community.name_en.clone()
                },
                area_m2: community.shape.unsigned_area(),
                shape: community.shape.clone(),
                site: community.site,
                grids: grid_start..grids.len() as u32,
            });
        }
        out_streets.push(Street {
            id: s as u32,
            code: street.code,
            name_zh: street.name,
            name_en: street.name_en,
            area_m2: street.shape.unsigned_area(),
            shape: street.shape,
            communities: first_community..communities.len() as u32,
            grids: first_grid..grids.len() as u32,
        });
    }
    (out_streets, communities, grids)
}

/// Grids by bounding box, for point look-up.
fn grid_index(grids: &[Grid]) -> RTree<GeomWithData<Rectangle<[f64; 2]>, u32>> {
    RTree::bulk_load(
        grids
            .iter()
            .map(|g| {
                let b = g.shape.bounding_rect().expect("a grid has an extent");
                GeomWithData::new(
                    Rectangle::from_corners([b.min().x, b.min().y], [b.max().x, b.max().y]),
                    g.id,
                )
            })
            .collect(),
    )
}

impl District {
    /// The default district (the built-in Bao'an pack) at `scale`, deterministic from `seed`.
    pub fn build(scale: f64, seed: u64) -> District {
        District::from_pack(&Pack::baoan(), scale, seed).expect("the built-in pack builds (tested)")
    }

    /// A district from a pack at `scale` (which scales the generated levels and the population,
    /// never the pack's own polygons), deterministic from `seed`.
    pub fn from_pack(pack: &Pack, scale: f64, seed: u64) -> Result<District, PackError> {
        let streams = RngStreams::new(seed);
        let frame = pack.frame();
        let project = |mp: &MultiPolygon<f64>| -> MultiPolygon<f64> {
            mp.map_coords(|c| frame.to_metres(c.x, c.y))
        };
        let outline = project(&pack.boundary);
        let land = LandMask::new(
            pack.land
                .iter()
                .map(|p| (p.class, project(&p.shape)))
                .collect(),
        );
        let mut generated = Vec::new();
        let counts = target_counts(pack, &outline, &land).scaled(scale);

        let streets = build_streets(
            pack,
            &outline,
            &land,
            &frame,
            counts.streets,
            &streams,
            &mut generated,
            project,
        )?;
        let street_weight: Vec<f64> = streets
            .iter()
            .enumerate()
            .map(|(i, c)| {
                weighted_area(
                    &c.shape,
                    &land,
                    &mut streams.stream_for("geography/street-weight", i as u64),
                )
            })
            .collect();
        let street_people = population_by(pack, "street", &streets, &street_weight);

        // Communities, street by street.
        let per_street_communities: Vec<Vec<Cell>> = build_communities(
            pack,
            &streets,
            &street_people,
            &land,
            counts,
            &streams,
            &mut generated,
            project,
        )?;
        // Grids, community by community.
        let grid_cells = build_grids(
            pack,
            &street_people,
            &per_street_communities,
            &land,
            counts,
            &streams,
            &mut generated,
            project,
        )?;

        let (out_streets, communities, grids) =
            assemble(streets, &per_street_communities, &grid_cells);
        let index = grid_index(&grids);
        let mut district = District {
            frame,
            pack: pack.id(),
            notes: pack.notes.clone(),
            title: if pack.title.is_empty() {
                pack.name.clone()
            } else {
                pack.title.clone()
            },
            scale,
            seed,
            outline_area_m2: outline.unsigned_area(),
            outline,
            streets: out_streets,
            communities,
            grids,
            land,
            grid_residents: Vec::new(),
            population_total: 0,
            population_source: String::new(),
            places: Vec::new(),
            generated,
            index,
        };
        district.locate_places(pack);
        district.spread_population(pack, &streams);
        Ok(district)
    }

    /// The pack's places in local metres, each with the grid it is in.
    fn locate_places(&mut self, pack: &Pack) {
        self.places = pack
            .places
            .iter()
            .map(|p| {
                let at = self.frame.to_metres(p.lon, p.lat);
                DistrictPlace {
                    kind: p.kind,
                    name: p.name.clone(),
                    at,
                    grid: self.grid_at(at),
                }
            })
            .collect();
    }

    /// Residents per grid at scale 1: the pack's total spread over habitable land by land-use
    /// weight (or the assumed density when it states none), then its street, community and grid
    /// figures where it has them — the finest level wins — spread below over habitable land.
    fn spread_population(&mut self, pack: &Pack, streams: &RngStreams) {
        // Habitable area of each grid; a grid nobody can live in keeps a square metre, so it
        // still has its one household (its inspector patrols somebody).
        let w: Vec<f64> = self
            .grids
            .iter()
            .map(|g| {
                let mut rng = streams.stream_for("geography/grid-weight", g.id as u64);
                weighted_area(&g.shape, &self.land, &mut rng).max(1.0)
            })
            .collect();
        let sum: f64 = w.iter().sum();
        let (density, mut source) = match pack.population_total {
            Some(t) => (
                t as f64 / sum.max(1e-9),
                pack.layers
                    .iter()
                    .find(|l| l.layer == "population")
                    .map_or(String::new(), |l| l.source.clone()),
            ),
            None => (
                DEFAULT_RESIDENTS_PER_KM2 / 1e6,
                format!("assumed: {DEFAULT_RESIDENTS_PER_KM2} residents per km² of built-up land"),
            ),
        };
        let mut r: Vec<f64> = w.iter().map(|x| x * density).collect();
        let mut set =
            |level: &str, range: std::ops::Range<u32>, code: &str, name: &str, name_en: &str| {
                if let Some(row) = pack
                    .population
                    .iter()
                    .find(|row| row.level == level && answers_to(code, name, name_en, &row.key))
                {
                    let part = &mut r[range.start as usize..range.end as usize];
                    let have: f64 = part.iter().sum();
                    for x in part {
                        *x *= row.residents as f64 / have.max(1e-9);
                    }
                }
            };
        for s in &self.streets {
            set("street", s.grids.clone(), &s.code, &s.name_zh, &s.name_en);
        }
        for c in &self.communities {
            set("community", c.grids.clone(), &c.code, &c.name, "");
        }
        for g in &self.grids {
            set("grid", g.id..g.id + 1, &g.code, &g.code, "");
        }
        if !pack.population.is_empty() {
            source = format!("{source}; by division from the pack's population file");
        }
        self.population_total = r.iter().sum::<f64>().round() as u64;
        self.grid_residents = r;
        self.population_source = source;
    }
    /// The grid containing a point (local metres), if any: R-tree on bounding boxes, then an
    /// exact point-in-polygon test. Candidates are tried in id order, so a point exactly on a
    /// shared edge goes to the lower id.
    pub fn grid_at(&self, p: Coord<f64>) -> Option<u32> {
        let mut candidates: Vec<u32> = self
            .index
            .locate_all_at_point(&[p.x, p.y])
            .map(|g| g.data)
            .collect();
        candidates.sort_unstable();
        candidates
            .into_iter()
            .find(|&g| self.grids[g as usize].shape.contains(&Point(p)))
    }

    /// Every grid whose shape contains the point; more than one only on a shared edge.
    pub fn grids_containing(&self, p: Coord<f64>) -> Vec<u32> {
        let mut out: Vec<u32> = self
            .index
            .locate_all_at_point(&[p.x, p.y])
            .map(|g| g.data)
            .filter(|&g| self.grids[g as usize].shape.contains(&Point(p)))
            .collect();
        out.sort_unstable();
        out
    }

    /// Grids whose bounding boxes meet a box: candidates for neighbour searches.
    pub fn grids_near(&self, p: Coord<f64>, radius_m: f64) -> Vec<u32> {
        let env = AABB::from_corners(
            [p.x - radius_m, p.y - radius_m],
            [p.x + radius_m, p.y + radius_m],
        );
        let mut out: Vec<u32> = self
            .index
            .locate_in_envelope_intersecting(&env)
            .map(|g| g.data)
            .collect();
        out.sort_unstable();
        out
    }

    /// A street by Chinese name, English name or division code.
    pub fn street_by_name(&self, name: &str) -> Option<&Street> {
        self.streets
            .iter()
            .find(|s| answers_to(&s.code, &s.name_zh, &s.name_en, name))
    }

    /// The streets as scenarios name them.
    pub fn street_names(&self) -> Vec<pack::StreetName> {
        self.streets
            .iter()
            .map(|st| pack::StreetName {
                code: st.code.clone(),
                name: st.name_zh.clone(),
                name_en: st.name_en.clone(),
            })
            .collect()
    }

    pub fn counts(&self) -> Counts {
        Counts {
            streets: self.streets.len(),
            communities: self.communities.len(),
            grids: self.grids.len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apportion_is_proportional_exact_and_respects_the_floor() {
        let parts = apportion(124, &[22., 25., 9., 7., 7., 22., 8., 13., 5., 22.], 1);
        assert_eq!(parts.iter().sum::<usize>(), 124);
        assert!(parts.iter().all(|&p| p >= 1));
        assert!(parts[1] > parts[2]);
        assert_eq!(apportion(10, &[1.0; 10], 1), vec![1; 10]);
    }

    #[test]
    fn scale_keeps_the_structure() {
        assert_eq!(
            Counts::at_scale(1.0),
            Counts {
                streets: 10,
                communities: 124,
                grids: 4866
            }
        );
        let small = Counts::at_scale(0.01);
        assert_eq!(
            (small.streets, small.communities, small.grids),
            (10, 10, 49)
        );
        assert_eq!(Counts::at_scale(0.0001).grids, 10);
    }

    #[test]
    fn a_voronoi_cell_contains_its_site_and_not_the_others() {
        let sites = [
            Coord { x: 0.0, y: 0.0 },
            Coord { x: 10.0, y: 0.0 },
            Coord { x: 0.0, y: 10.0 },
        ];
        let frame = Rect::new(Coord { x: -50.0, y: -50.0 }, Coord { x: 50.0, y: 50.0 });
        let cell = voronoi_cell(&sites, 0, frame);
        assert!(cell.contains(&Point(sites[0])));
        assert!(!cell.contains(&Point(sites[1])) && !cell.contains(&Point(sites[2])));
        let total: f64 = (0..3)
            .map(|i| voronoi_cell(&sites, i, frame).unsigned_area())
            .sum();
        assert!((total - 10_000.0).abs() < 1e-6);
    }
}
