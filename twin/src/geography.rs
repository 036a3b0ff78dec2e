//! The district's divisions: 10 real streets as Voronoi cells of their seed points clipped to the
//! real outline, communities and grids as Voronoi cells of relaxed random points clipped to their
//! parent — so every level partitions the one above — and point-to-grid look-up through an R-tree.

use std::ops::Range;

use geo::{
    Area, BooleanOps, BoundingRect, Contains, Coord, LineString, MultiPolygon, Point, Polygon, Rect,
};
use rand::Rng;
use rayon::prelude::*;
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{AABB, RTree};
use serde::Serialize;

use crate::data::{self, facts};
use crate::proj::{BAOAN, Crs, Frame};
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
    pub fn at_scale(scale: f64) -> Counts {
        let communities =
            ((facts::COMMUNITIES as f64 * scale).round() as usize).max(facts::STREETS);
        let grids = ((facts::GRIDS as f64 * scale).round() as usize).max(communities);
        Counts {
            streets: facts::STREETS,
            communities,
            grids,
        }
    }
}

pub struct District {
    /// The local metric frame every shape here is in.
    pub frame: Frame,
    pub scale: f64,
    pub seed: u64,
    pub outline: MultiPolygon<f64>,
    pub outline_area_m2: f64,
    pub streets: Vec<Street>,
    pub communities: Vec<Community>,
    pub grids: Vec<Grid>,
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

/// Random points inside `shape`, by rejection from its bounding box.
fn sample_inside(shape: &MultiPolygon<f64>, n: usize, rng: &mut impl Rng) -> Vec<Coord<f64>> {
    let bbox = shape.bounding_rect().expect("a division has an extent");
    let mut out = Vec::with_capacity(n);
    let mut tries = 0usize;
    while out.len() < n {
        tries += 1;
        assert!(
            tries < 10_000 + n * 10_000,
            "could not place points inside a division (is it empty?)"
        );
        let p = Coord {
            x: rng.random_range(bbox.min().x..bbox.max().x),
            y: rng.random_range(bbox.min().y..bbox.max().y),
        };
        if shape.contains(&Point(p)) {
            out.push(p);
        }
    }
    out
}

/// `k` well-spread sites inside `shape`: random points moved a few times towards the centre of
/// the area nearest to them (Lloyd's relaxation on a sample), so cells come out compact.
fn relaxed_sites(shape: &MultiPolygon<f64>, k: usize, rng: &mut impl Rng) -> Vec<Coord<f64>> {
    let mut sites = sample_inside(shape, k, rng);
    if k == 1 {
        return sites;
    }
    let samples = sample_inside(shape, (k * 24).clamp(200, 4000), rng);
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
                // A mean can fall outside a concave shape: then take the sample nearest to it.
                sites[i] = if shape.contains(&Point(m)) {
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
            sites[i] = sample_inside(shape, 1, rng)[0];
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

impl District {
    /// The default district at `scale`, synthesised deterministically from `seed`.
    pub fn build(scale: f64, seed: u64) -> District {
        let streams = RngStreams::new(seed);
        let counts = Counts::at_scale(scale);
        let outline = data::outline();
        let seeds = data::street_seeds();
        assert_eq!(
            seeds.len(),
            facts::STREETS,
            "street_seeds.csv must list the 10 streets"
        );
        let divisions = data::divisions();

        let street_sites: Vec<Coord<f64>> = seeds
            .iter()
            .map(|s| BAOAN.project(Crs::Gcj02, s.lon, s.lat))
            .collect();
        let street_shapes = partition(&outline, &street_sites);

        // Communities per street in proportion to the division list's counts.
        let listed: Vec<Vec<&data::Division>> = seeds
            .iter()
            .map(|s| {
                divisions
                    .iter()
                    .filter(|d| d.level == "community" && d.parent == s.code)
                    .collect()
            })
            .collect();
        let weights: Vec<f64> = listed.iter().map(|l| l.len().max(1) as f64).collect();
        let communities_per_street = apportion(counts.communities, &weights, 1);
        let grids_per_street = apportion(counts.grids, &weights, 0);

        let mut streets = Vec::new();
        let mut communities = Vec::new();
        let mut grids = Vec::new();
        for (s, seed_row) in seeds.iter().enumerate() {
            let shape = street_shapes[s].clone();
            let k = communities_per_street[s];
            let mut rng = streams.stream(&format!("geography/communities/{}", seed_row.code));
            let sites = relaxed_sites(&shape, k, &mut rng);
            let cells = partition(&shape, &sites);
            let first_community = communities.len() as u32;
            let first_grid = grids.len() as u32;
            // Grids of the street spread evenly over its communities (each at least one).
            let street_grids = grids_per_street[s].max(k);
            let per_community = apportion(street_grids, &vec![1.0; k], 1);
            for (c, cell) in cells.into_iter().enumerate() {
                let id = communities.len() as u32;
                let (code, name) = match listed[s].get(c) {
                    Some(d) => (
                        d.code.clone(),
                        d.name.trim_end_matches("居委会").to_string(),
                    ),
                    None => (
                        format!("{}{:03}", seed_row.code, 900 + c),
                        format!("{}第{}社区", seed_row.name_zh, c + 1),
                    ),
                };
                let mut grng = streams.stream(&format!("geography/grids/{code}"));
                let gsites = relaxed_sites(&cell, per_community[c], &mut grng);
                let gcells = partition(&cell, &gsites);
                let grid_start = grids.len() as u32;
                for (g, (gshape, gsite)) in gcells.into_iter().zip(gsites).enumerate() {
                    grids.push(Grid {
                        id: grids.len() as u32,
                        community: id,
                        street: s as u32,
                        code: format!("{code}-{:03}", g + 1),
                        area_m2: gshape.unsigned_area(),
                        shape: gshape,
                        site: gsite,
                    });
                }
                communities.push(Community {
                    id,
                    street: s as u32,
                    code,
                    name,
                    area_m2: cell.unsigned_area(),
                    shape: cell,
                    site: sites[c],
                    grids: grid_start..grids.len() as u32,
                });
            }
            streets.push(Street {
                id: s as u32,
                code: seed_row.code.clone(),
                name_zh: seed_row.name_zh.clone(),
                name_en: seed_row.name_en.clone(),
                area_m2: shape.unsigned_area(),
                shape,
                communities: first_community..communities.len() as u32,
                grids: first_grid..grids.len() as u32,
            });
        }

        let index = RTree::bulk_load(
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
        );
        District {
            frame: BAOAN,
            scale,
            seed,
            outline_area_m2: outline.unsigned_area(),
            outline,
            streets,
            communities,
            grids,
            index,
        }
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
        data::street_index(name).map(|i| &self.streets[i])
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
