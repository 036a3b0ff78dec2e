//! Where the command loop's units are: the 92 key areas (transit, commercial and dense
//! residential grids), the 161 posts at them (or a planner's posts from a CSV), patrols, the
//! 100,000 volunteer guards at their buildings with their daily rhythm, and department stations.

use baoan_api::UnitClass;
use baoan_world::geography::DistrictPlace;
use baoan_world::layers::PlaceKind;
use baoan_world::population::{BuildingKind, Population};
use baoan_world::proj::{Crs, Frame};
use baoan_world::{District, RngStreams, Twin};
use bevy_ecs::prelude::Resource;
use geo::Coord;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use super::CommandConfig;

const DAY_MS: u64 = 86_400_000;
const HOUR_MS: u64 = 3_600_000;

#[derive(Debug, Clone, Serialize)]
pub struct UnitSpec {
    pub class: UnitClass,
    /// What kind of volunteer, post or station this is, for reports.
    pub role: &'static str,
    #[serde(skip)]
    pub home: Coord<f64>,
    pub grid: u32,
    /// Daily duty window (ms since midnight, on → off, may wrap midnight); `None`: always.
    pub duty: Option<(u64, u64)>,
    pub post: Option<u32>,
    /// A post's auxiliary officer who directs traffic in the rush hours (四员联动): off the
    /// dispatch list then.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub traffic: bool,
}

/// The rush hours a post's traffic officer directs traffic, ms since midnight (assumed:
/// 07:30–09:00 and 17:30–19:00).
pub const TRAFFIC_DUTY: [(u64, u64); 2] = [
    (7 * HOUR_MS + HOUR_MS / 2, 9 * HOUR_MS),
    (17 * HOUR_MS + HOUR_MS / 2, 19 * HOUR_MS),
];

impl UnitSpec {
    /// Each day's changes of availability (ms since midnight, on or off): the duty window's
    /// ends and the traffic duty's.
    pub fn daily_changes(&self) -> Vec<(u64, bool)> {
        let mut out = Vec::new();
        if let Some((on, off)) = self.duty {
            out.extend([(on, true), (off, false)]);
        }
        if self.traffic {
            for (start, end) in TRAFFIC_DUTY {
                out.extend([(start, false), (end, true)]);
            }
        }
        out
    }

    pub fn on_duty_at(&self, t: u64) -> bool {
        let d = t % DAY_MS;
        if self.traffic && TRAFFIC_DUTY.iter().any(|(s, e)| d >= *s && d < *e) {
            return false;
        }
        match self.duty {
            None => true,
            Some((on, off)) => {
                let d = t % DAY_MS;
                if on < off {
                    d >= on && d < off
                } else {
                    d >= on || d < off
                }
            }
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct KeyArea {
    pub grid: u32,
    pub score: f64,
    pub transit: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Post {
    pub key_area: usize,
    pub grid: u32,
    pub x_m: f64,
    pub y_m: f64,
}

#[derive(Resource, Debug, Clone)]
pub struct Placement {
    pub key_areas: Vec<KeyArea>,
    pub key_area_grid: Vec<bool>,
    pub posts: Vec<Post>,
    pub units: Vec<UnitSpec>,
}

impl Placement {
    pub fn count(&self, class: UnitClass) -> usize {
        self.units.iter().filter(|u| u.class == class).count()
    }
}

fn scaled(n: u32, scale: f64) -> usize {
    ((n as f64 * scale).round() as usize).max(1)
}

/// A planner's posts file that cannot be taken as posts: the file, the line, and what was
/// expected there.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PostsError {
    #[error("{file}:1: empty; expected a header with x_m,y_m or lon,lat")]
    Empty { file: String },
    #[error("{file}:1: expected columns x_m,y_m or lon,lat, got {header:?}")]
    Header { file: String, header: String },
    #[error("{file}:{line}: column {column}: expected a number, got {got:?}")]
    NotANumber {
        file: String,
        line: usize,
        column: String,
        got: String,
    },
    #[error("{file}:{line}: column crs: {error}")]
    Crs {
        file: String,
        line: usize,
        error: String,
    },
    #[error("{file}: no posts listed")]
    NoPosts { file: String },
    #[error("{file}:{line}: post at ({x:.0}, {y:.0}) is outside the district")]
    OutsideDistrict {
        file: String,
        line: usize,
        x: f64,
        y: f64,
    },
}

/// A planner's posts: a CSV with a header naming `x_m,y_m` (local metres) or `lon,lat`.
/// Longitude and latitude are in `crs` (the caller's stated default, WGS-84 unless told), or in
/// the datum a row's own `crs` column names (`wgs84` or `gcj02`).
pub fn read_posts_csv(
    file: &str,
    text: &str,
    frame: &Frame,
    crs: Crs,
) -> Result<Vec<Coord<f64>>, PostsError> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let (_, header) = lines
        .next()
        .ok_or_else(|| PostsError::Empty { file: file.into() })?;
    let cols: Vec<&str> = header.split(',').map(str::trim).collect();
    let find = |name: &str| cols.iter().position(|c| *c == name);
    let (a, b, lonlat) = match (find("x_m"), find("y_m"), find("lon"), find("lat")) {
        (Some(x), Some(y), _, _) => (x, y, false),
        (_, _, Some(lon), Some(lat)) => (lon, lat, true),
        _ => {
            return Err(PostsError::Header {
                file: file.into(),
                header: header.into(),
            });
        }
    };
    let crs_column = find("crs");
    let mut out = Vec::new();
    for (i, line) in lines {
        let f: Vec<&str> = line.split(',').map(str::trim).collect();
        let num = |k: usize, name: &str| -> Result<f64, PostsError> {
            f.get(k)
                .and_then(|v| v.parse::<f64>().ok())
                .filter(|v| v.is_finite())
                .ok_or_else(|| PostsError::NotANumber {
                    file: file.into(),
                    line: i + 1,
                    column: name.into(),
                    got: f.get(k).copied().unwrap_or("").into(),
                })
        };
        let (u, v) = (num(a, cols[a])?, num(b, cols[b])?);
        let row_crs = match crs_column.and_then(|k| f.get(k)).filter(|c| !c.is_empty()) {
            Some(c) => c.parse::<Crs>().map_err(|e| PostsError::Crs {
                file: file.into(),
                line: i + 1,
                error: e.to_string(),
            })?,
            None => crs,
        };
        out.push(if lonlat {
            frame.project(row_crs, u, v)
        } else {
            Coord { x: u, y: v }
        });
    }
    if out.is_empty() {
        return Err(PostsError::NoPosts { file: file.into() });
    }
    Ok(out)
}

/// Place key areas, posts and units for the twin. Errors name the posts file and line.
pub fn place(
    twin: &Twin,
    config: &CommandConfig,
    streams: &RngStreams,
) -> Result<Placement, PostsError> {
    let d = &twin.district;
    let pop = &twin.population;
    let mut rng = streams.stream("command/placement/transit");
    let n = d.grids.len();
    let (score, transit) = crowd_scores(d, pop, config, &mut rng);
    // Key areas are where crowds are, whoever places the posts: a planner's layout moves the
    // posts, never the emergencies.
    let k = scaled(config.key_areas, config.scale).min(n);
    let key_areas = choose_key_areas(d, k, &score, &transit);
    // Each part of the placement draws from its own stream, so a planner's posts leave the
    // patrols, stations and volunteers exactly where they were: layouts compare like for like.
    let mut post_rng = streams.stream("command/placement/posts");
    let posts: Vec<Post> = match &config.posts_csv {
        Some((file, text)) => posts_from_csv(d, file, text, config.posts_crs, &key_areas)?,
        None => posts_at_key_areas(
            d,
            scaled(config.posts, config.scale).max(k),
            &key_areas,
            &mut post_rng,
        ),
    };
    let mut key_area_grid = vec![false; n];
    for ka in &key_areas {
        key_area_grid[ka.grid as usize] = true;
    }
    let mut units = post_units(&posts, config.four_duties);
    add_patrols_and_stations(d, config, &mut rng, &mut units);
    add_volunteers(pop, config, &mut rng, &mut units);
    Ok(Placement {
        key_areas,
        key_area_grid,
        posts,
        units,
    })
}

/// Each grid's crowd score — residents per km², companies (shops, offices), and transit hubs —
/// and which grids hold a transit hub.
fn crowd_scores(
    d: &District,
    pop: &Population,
    config: &CommandConfig,
    rng: &mut ChaCha8Rng,
) -> (Vec<f64>, Vec<bool>) {
    let n = d.grids.len();
    let mut companies = vec![0u32; n];
    for c in &pop.companies {
        companies[c.grid as usize] += 1;
    }
    let density: Vec<f64> = d
        .grids
        .iter()
        .map(|g| pop.residents_of_grid(g.id).len() as f64 / (g.area_m2 / 1e6).max(0.01))
        .collect();
    // Transit hubs and other crowd places: the pack's (metro entrances and bus stations are
    // hubs; malls, schools, hospitals, parks and urban villages draw crowds too), else drawn
    // where people live densely.
    let mut crowd = vec![0.0; n];
    let transit = if d.places.iter().any(|p| p.grid.is_some()) {
        let mut transit = vec![false; n];
        for p in &d.places {
            let Some(g) = p.grid else { continue };
            match p.kind {
                PlaceKind::MetroEntrance | PlaceKind::BusStation => transit[g as usize] = true,
                k if k.draws_crowds() => crowd[g as usize] = CROWD_PLACE_SCORE,
                _ => {}
            }
        }
        transit
    } else {
        draw_transit(&density, scaled(45, config.scale).min(n), rng)
    };
    // Land use: urban-village and commercial buildings per km² (the pack's, or the synthetic
    // population's), where the seed puts key areas.
    let mut land = vec![0.0; n];
    for b in &pop.buildings {
        if matches!(
            b.kind,
            BuildingKind::UrbanVillage | BuildingKind::Commercial
        ) {
            land[b.grid as usize] += 1.0;
        }
    }
    for (g, l) in d.grids.iter().zip(land.iter_mut()) {
        *l /= (g.area_m2 / 1e6).max(0.01);
    }
    let zd = z_scores(&density);
    let zc = z_scores(&companies.iter().map(|&c| c as f64).collect::<Vec<_>>());
    let zl = z_scores(&land);
    let score: Vec<f64> = (0..n)
        .map(|g| {
            zd[g]
                + zc[g]
                + LAND_USE_WEIGHT * zl[g]
                + if transit[g] { TRANSIT_SCORE } else { crowd[g] }
        })
        .collect();
    (score, transit)
}

/// Urban-village and commercial building density's weight in a grid's crowd score, against
/// residents' and companies' (assumed: as much as either).
const LAND_USE_WEIGHT: f64 = 1.0;

/// A transit hub's weight in a grid's crowd score, in standard deviations of density (assumed).
const TRANSIT_SCORE: f64 = 1.5;
/// Another crowd place's (mall, school, hospital, park, urban village), half a hub's (assumed).
const CROWD_PLACE_SCORE: f64 = 0.75;

/// Transit hubs where people live densely: grids drawn by density until `count` are hubs (or
/// the draws run out).
fn draw_transit(density: &[f64], count: usize, rng: &mut ChaCha8Rng) -> Vec<bool> {
    let mut transit = vec![false; density.len()];
    let total_density: f64 = density.iter().sum();
    for _ in 0..count * 4 {
        if transit.iter().filter(|t| **t).count() >= count {
            break;
        }
        let u = rng.random::<f64>() * total_density;
        let mut acc = 0.0;
        if let Some(g) = density.iter().position(|x| {
            acc += x;
            u < acc
        }) {
            transit[g] = true;
        }
    }
    transit
}

fn z_scores(v: &[f64]) -> Vec<f64> {
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    let sd = (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / v.len() as f64)
        .sqrt()
        .max(1e-9);
    v.iter().map(|x| (x - mean) / sd).collect::<Vec<f64>>()
}

/// The `k` highest-scoring grids, no more than a fair share in any one community.
fn choose_key_areas(d: &District, k: usize, score: &[f64], transit: &[bool]) -> Vec<KeyArea> {
    let n = d.grids.len();
    let per_community = k.div_ceil(d.communities.len()) + 1;
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| score[b].total_cmp(&score[a]).then(a.cmp(&b)));
    let mut taken = vec![0usize; d.communities.len()];
    let mut key_areas = Vec::new();
    for &g in &order {
        if key_areas.len() == k {
            break;
        }
        let c = d.grids[g].community as usize;
        if taken[c] < per_community {
            taken[c] += 1;
            key_areas.push(KeyArea {
                grid: g as u32,
                score: (score[g] * 1000.0).round() / 1000.0,
                transit: transit[g],
            });
        }
    }
    key_areas
}

/// A planner's posts, each serving the key area nearest to it.
fn posts_from_csv(
    d: &District,
    file: &str,
    text: &str,
    crs: Crs,
    key_areas: &[KeyArea],
) -> Result<Vec<Post>, PostsError> {
    let points = read_posts_csv(file, text, &d.frame, crs)?;
    let mut posts = Vec::new();
    for (i, p) in points.iter().enumerate() {
        let grid = d.grid_at(*p).ok_or_else(|| PostsError::OutsideDistrict {
            file: file.into(),
            line: i + 2,
            x: p.x,
            y: p.y,
        })?;
        let nearest = key_areas
            .iter()
            .enumerate()
            .map(|(k, ka)| {
                let s = d.grids[ka.grid as usize].site;
                (k, (s.x - p.x).powi(2) + (s.y - p.y).powi(2))
            })
            .min_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)))
            .map_or(0, |(k, _)| k);
        posts.push(Post {
            key_area: nearest,
            grid,
            x_m: p.x,
            y_m: p.y,
        });
    }
    Ok(posts)
}

/// One post at each key area's site, then more at the busiest until there are `count`.
fn posts_at_key_areas(
    d: &District,
    count: usize,
    key_areas: &[KeyArea],
    post_rng: &mut ChaCha8Rng,
) -> Vec<Post> {
    let mut posts: Vec<Post> = key_areas
        .iter()
        .enumerate()
        .map(|(i, ka)| {
            let s = d.grids[ka.grid as usize].site;
            Post {
                key_area: i,
                grid: ka.grid,
                x_m: s.x,
                y_m: s.y,
            }
        })
        .collect();
    // The busiest key areas get a second (and third ...) post.
    let mut i = 0;
    while posts.len() < count {
        let ka = i % key_areas.len();
        let g = &d.grids[key_areas[ka].grid as usize];
        let pt = super::random_point(g, post_rng);
        posts.push(Post {
            key_area: ka,
            grid: g.id,
            x_m: pt.x,
            y_m: pt.y,
        });
        i += 1;
    }
    posts
}

/// Each post: two auxiliary police and one police officer, around the clock; with the four
/// duties, the first auxiliary directs traffic in the rush hours.
fn post_units(posts: &[Post], four_duties: bool) -> Vec<UnitSpec> {
    let mut units = Vec::new();
    for (i, p) in posts.iter().enumerate() {
        let home = Coord { x: p.x_m, y: p.y_m };
        for (k, class) in [
            UnitClass::AuxiliaryPolice,
            UnitClass::AuxiliaryPolice,
            UnitClass::Police,
        ]
        .into_iter()
        .enumerate()
        {
            units.push(UnitSpec {
                class,
                role: "post",
                home,
                grid: p.grid,
                duty: None,
                post: Some(i as u32),
                traffic: four_duties && k == 0,
            });
        }
    }
    units
}

/// Patrols and department stations, spread over the district, and a flood team per street.
fn add_patrols_and_stations(
    d: &District,
    config: &CommandConfig,
    rng: &mut ChaCha8Rng,
    units: &mut Vec<UnitSpec>,
) {
    let stations = [
        (UnitClass::Police, "patrol car", 60, 1),
        (UnitClass::AuxiliaryPolice, "e-bike patrol", 100, 1),
        (UnitClass::Fire, "fire station", 12, 2),
        (UnitClass::Medical, "ambulance station", 40, 2),
        (UnitClass::Hazmat, "hazmat station", 2, 2),
    ];
    for (class, role, count, per_site) in stations {
        // Where the pack has the real stations, the units are there: patrol cars start from
        // police stations, fire crews from fire stations.
        let real = match class {
            UnitClass::Police => Some(PlaceKind::Police),
            UnitClass::Fire => Some(PlaceKind::FireStation),
            _ => None,
        };
        let sites: Vec<&DistrictPlace> = d
            .places
            .iter()
            .filter(|p| Some(p.kind) == real && p.grid.is_some())
            .collect();
        if sites.is_empty() {
            at_random_sites(
                d,
                rng,
                class,
                role,
                scaled(count, config.scale),
                per_site,
                units,
            );
            continue;
        }
        let units_wanted = (scaled(count, config.scale) * per_site).max(sites.len() * per_site);
        for k in 0..units_wanted {
            let p = sites[k % sites.len()];
            units.push(UnitSpec {
                class,
                role,
                home: p.at,
                grid: p.grid.expect("filtered"),
                duty: None,
                post: None,
                traffic: false,
            });
        }
    }
    for s in &d.streets {
        let g = &d.grids[s.grids.start as usize + rng.random_range(0..s.grids.len())];
        units.push(UnitSpec {
            class: UnitClass::Flood,
            role: "flood team",
            home: g.site,
            grid: g.id,
            duty: None,
            post: None,
            traffic: false,
        });
    }
}

/// `count` sites at random grids' sites, `per_site` units of `class` at each, always on duty.
fn at_random_sites(
    d: &District,
    rng: &mut ChaCha8Rng,
    class: UnitClass,
    role: &'static str,
    count: usize,
    per_site: usize,
    units: &mut Vec<UnitSpec>,
) {
    for _ in 0..count {
        let g = &d.grids[rng.random_range(0..d.grids.len())];
        for _ in 0..per_site {
            units.push(UnitSpec {
                class,
                role,
                home: g.site,
                grid: g.id,
                duty: None,
                post: None,
                traffic: false,
            });
        }
    }
}

/// How strongly volunteers gather at a kind of building: the seed puts the guards in urban
/// villages and busy commercial areas (assumed weights, relative to a residential compound).
pub fn volunteer_weight(kind: BuildingKind) -> f64 {
    match kind {
        BuildingKind::UrbanVillage => 3.0,
        BuildingKind::Commercial => 3.0,
        BuildingKind::Compound => 1.0,
        BuildingKind::Dormitory => 1.0,
        BuildingKind::Industrial => 0.5,
    }
}

/// Volunteers at their own buildings — more in urban villages and commercial streets — on duty
/// by what they do.
fn add_volunteers(
    pop: &Population,
    config: &CommandConfig,
    rng: &mut ChaCha8Rng,
    units: &mut Vec<UnitSpec>,
) {
    let volunteers = ((config.volunteers as f64 * config.scale).round() as usize).max(1);
    let buildings = &pop.buildings;
    let mut acc = 0.0;
    let cumulative: Vec<f64> = buildings
        .iter()
        .map(|b| {
            acc += volunteer_weight(b.kind);
            acc
        })
        .collect();
    for _ in 0..volunteers {
        let u = rng.random::<f64>() * acc;
        let i = cumulative
            .partition_point(|&c| c <= u)
            .min(buildings.len() - 1);
        let b = &buildings[i];
        let u: f64 = rng.random();
        let (role, duty) = if u < 0.4 {
            ("building head", (18 * HOUR_MS, 8 * HOUR_MS))
        } else if u < 0.65 {
            ("shop head", (9 * HOUR_MS, 22 * HOUR_MS))
        } else if u < 0.85 {
            ("property staff", (8 * HOUR_MS, 18 * HOUR_MS))
        } else if rng.random::<bool>() {
            ("guard, day shift", (8 * HOUR_MS, 20 * HOUR_MS))
        } else {
            ("guard, night shift", (20 * HOUR_MS, 8 * HOUR_MS))
        };
        let home = Coord {
            x: b.position[0] as f64,
            y: b.position[1] as f64,
        };
        units.push(UnitSpec {
            class: UnitClass::Volunteer,
            role,
            home,
            grid: b.grid,
            duty: Some(duty),
            post: None,
            traffic: false,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use baoan_world::proj::BAOAN;

    #[test]
    fn duty_windows_wrap_midnight() {
        let night = UnitSpec {
            class: UnitClass::Volunteer,
            role: "x",
            home: Coord { x: 0.0, y: 0.0 },
            grid: 0,
            duty: Some((20 * HOUR_MS, 8 * HOUR_MS)),
            post: None,
            traffic: false,
        };
        assert!(night.on_duty_at(2 * HOUR_MS));
        assert!(night.on_duty_at(DAY_MS + 21 * HOUR_MS));
        assert!(!night.on_duty_at(12 * HOUR_MS));
    }

    #[test]
    fn a_posts_file_names_the_line_that_is_wrong() {
        assert_eq!(
            read_posts_csv("p.csv", "x_m,y_m\n1,2\n3,4\n", &BAOAN, Crs::Wgs84)
                .unwrap()
                .len(),
            2
        );
        let e = read_posts_csv("p.csv", "x_m,y_m\n1,2\n3,four\n", &BAOAN, Crs::Wgs84).unwrap_err();
        assert!(e.to_string().starts_with("p.csv:3: column y_m"), "{e}");
        assert!(matches!(e, PostsError::NotANumber { line: 3, .. }), "{e:?}");
        assert!(
            read_posts_csv("p.csv", "a,b\n", &BAOAN, Crs::Wgs84)
                .unwrap_err()
                .to_string()
                .contains("expected columns")
        );
    }

    #[test]
    fn posts_in_gcj02_land_where_the_same_posts_in_wgs84_do() {
        let (lon, lat) = (113.88, 22.60);
        let (g_lon, g_lat) = baoan_world::proj::wgs84_to_gcj02(lon, lat);
        let wgs = format!("lon,lat\n{lon},{lat}\n");
        let gcj = format!("lon,lat\n{g_lon},{g_lat}\n");
        let by_row = format!("lon,lat,crs\n{g_lon},{g_lat},gcj02\n");
        let a = read_posts_csv("w.csv", &wgs, &BAOAN, Crs::Wgs84).unwrap()[0];
        let b = read_posts_csv("g.csv", &gcj, &BAOAN, Crs::Gcj02).unwrap()[0];
        let c = read_posts_csv("r.csv", &by_row, &BAOAN, Crs::Wgs84).unwrap()[0];
        let wrong = read_posts_csv("g.csv", &gcj, &BAOAN, Crs::Wgs84).unwrap()[0];
        let apart =
            |p: Coord<f64>, q: Coord<f64>| ((p.x - q.x).powi(2) + (p.y - q.y).powi(2)).sqrt();
        assert!(apart(a, b) < 1.0 && apart(a, c) < 1.0);
        // Read in the wrong datum, the post lands several hundred metres off.
        assert!(apart(a, wrong) > 200.0, "{}", apart(a, wrong));
        let e = read_posts_csv(
            "r.csv",
            "lon,lat,crs\n113.9,22.6,bd09\n",
            &BAOAN,
            Crs::Wgs84,
        )
        .unwrap_err();
        assert!(e.to_string().starts_with("r.csv:2: column crs"), "{e}");
    }
}
