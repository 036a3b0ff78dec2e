//! The interactive maps (`map.html`) of a run, a post plan and a comparison of two layouts:
//! the district's divisions from the twin, coverage by tier as the post planner computes it,
//! and each loop's layers (see `baoan_reports::map`).

use baoan_agents::command::{Assumed, Placement, UnitSpec};
use baoan_api::UnitClass;
use baoan_reports::map::{
    Coverage, Division, GridMetric, Grids, MapFrame, MapLayers, MapPage, MapView, PointLayer,
    Shape, TimeSeries, round4, shape_of,
};
use baoan_world::{District, Twin};
use geo::{Coord, MultiPolygon};

/// How the page states its coordinates.
fn crs_note(district: &District) -> String {
    format!(
        "WGS-84 longitude and latitude (EPSG:4326), drawn in Web Mercator (EPSG:3857). The twin works in local metres east and north of {:.4}° E, {:.4}° N; a pack's GCJ-02 data was converted to WGS-84 when read. Pack: {} ({}).",
        district.frame.origin_lon,
        district.frame.origin_lat,
        district.pack.name,
        &district.pack.hash[..12.min(district.pack.hash.len())]
    )
}

fn shape(mp: &MultiPolygon<f64>) -> Shape {
    let rings: Vec<Vec<Vec<(f64, f64)>>> =
        mp.0.iter()
            .map(|p| {
                std::iter::once(p.exterior())
                    .chain(p.interiors())
                    .map(|r| r.0.iter().map(|c| (c.x, c.y)).collect())
                    .collect()
            })
            .collect();
    shape_of(
        rings
            .iter()
            .map(|p| p.iter().map(Vec::as_slice).collect::<Vec<_>>()),
    )
}

fn at(c: Coord<f64>) -> [i32; 2] {
    [c.x.round() as i32, c.y.round() as i32]
}

/// A page with the district drawn and nothing else yet.
pub fn district_page(district: &District, title: &str, subtitle: String) -> MapPage {
    let streets = district
        .streets
        .iter()
        .map(|s| {
            // A street's label at its largest community's site: always inside the street.
            let site = district.communities
                [s.communities.start as usize..s.communities.end as usize]
                .iter()
                .max_by(|a, b| a.area_m2.total_cmp(&b.area_m2))
                .map_or([0, 0], |c| at(c.site));
            Division {
                code: s.code.clone(),
                name: s.name_zh.clone(),
                name_en: s.name_en.clone(),
                street: s.id,
                site,
                shape: shape(&s.shape),
            }
        })
        .collect();
    let communities = district
        .communities
        .iter()
        .map(|c| Division {
            code: c.code.clone(),
            name: c.name.clone(),
            name_en: c.name_en.clone(),
            street: c.street,
            site: at(c.site),
            shape: shape(&c.shape),
        })
        .collect();
    let grids = Grids {
        code: district.grids.iter().map(|g| g.code.clone()).collect(),
        community: district.grids.iter().map(|g| g.community).collect(),
        shape: district.grids.iter().map(|g| shape(&g.shape)).collect(),
    };
    MapPage {
        title: title.into(),
        subtitle,
        back: Some("index.html".into()),
        frame: MapFrame {
            origin_lon: district.frame.origin_lon,
            origin_lat: district.frame.origin_lat,
        },
        crs: crs_note(district),
        streets,
        communities,
        grids,
        metrics: vec![residents(district)],
        ..MapPage::default()
    }
}

fn residents(district: &District) -> GridMetric {
    GridMetric {
        key: "residents".into(),
        label: "Residents at full scale".into(),
        unit: "people".into(),
        source: district.population_source.clone(),
        higher_is_better: false,
        diverging: false,
        domain: None,
        values: district
            .grid_residents
            .iter()
            .map(|&r| Some(round4(r)))
            .collect(),
    }
}

/// The two tiers the 1-3-5 rule times from posts, as the post planner reaches them.
const COVER_TIERS: [(UnitClass, &str, &str, &str); 2] = [
    (
        UnitClass::AuxiliaryPolice,
        "auxiliary police within 3 min by e-bike",
        "Auxiliary police, 3 min",
        "#ff7f00",
    ),
    (
        UnitClass::Police,
        "police within 5 min by car",
        "Police, 5 min",
        "#377eb8",
    ),
];

/// Which grids each tier reaches within its limit from `bases` (grids units start from), hour
/// by hour: the post planner's reach (turnout and the hour's congestion taken off the limit,
/// road distance from the base's grid).
pub fn coverage(
    twin: &Twin,
    assumed: &Assumed,
    of: &str,
    bases: impl Fn(UnitClass) -> Vec<u32>,
) -> Vec<Coverage> {
    COVER_TIERS
        .iter()
        .map(|&(class, label, short, colour)| {
            let tier = crate::plan::tier(class.as_str(), class, twin, assumed);
            let mut from = bases(class);
            from.sort_unstable();
            from.dedup();
            let hours = (0..twin.district.grids.len() as u32)
                .map(|g| {
                    let d = from
                        .iter()
                        .map(|&b| twin.travel.distance_m(b, g))
                        .fold(f64::INFINITY, f64::min);
                    (0..24)
                        .filter(|&h| d <= tier.radius_m[h])
                        .fold(0u32, |m, h| m | 1 << h)
                })
                .collect();
            Coverage {
                key: format!("cover.{}", class.as_str()),
                label: format!("Area with {label} ({of})"),
                short: short.into(),
                colour: colour.into(),
                hours,
            }
        })
        .collect()
}

/// The posts, key areas and stations of a run's placement.
fn placement_points(twin: &Twin, placement: &Placement) -> Vec<PointLayer> {
    let posts = PointLayer {
        key: "posts".into(),
        label: "Police posts / 警务岗亭".into(),
        colour: "#111111".into(),
        radius: 4.0,
        ring: false,
        at: placement
            .posts
            .iter()
            .map(|p| [p.x_m.round() as i32, p.y_m.round() as i32])
            .collect(),
        names: placement
            .posts
            .iter()
            .enumerate()
            .map(|(i, p)| {
                format!(
                    "post {} at key area {}, grid {}",
                    i + 1,
                    p.key_area + 1,
                    twin.district.grids[p.grid as usize].code
                )
            })
            .collect(),
    };
    let key_areas = PointLayer {
        key: "key_areas".into(),
        label: "Key areas / 重点区域".into(),
        colour: "#984ea3".into(),
        radius: 9.0,
        ring: true,
        at: placement
            .key_areas
            .iter()
            .map(|k| at(twin.district.grids[k.grid as usize].site))
            .collect(),
        names: placement
            .key_areas
            .iter()
            .enumerate()
            .map(|(i, k)| {
                format!(
                    "key area {} (score {:.2}{})",
                    i + 1,
                    k.score,
                    if k.transit { ", a transit hub" } else { "" }
                )
            })
            .collect(),
    };
    // Volunteers (100,000 in the district) are a figure by grid, not points.
    let mut bases: Vec<([i32; 2], &str)> = placement
        .units
        .iter()
        .filter(|u| u.role != "post" && u.class != UnitClass::Volunteer)
        .map(|u: &UnitSpec| (at(u.home), u.role))
        .collect();
    bases.sort_unstable();
    bases.dedup();
    let stations = PointLayer {
        key: "stations".into(),
        label: "Stations and patrol bases / 派出所、消防站等".into(),
        colour: "#a6761d".into(),
        radius: 3.0,
        ring: false,
        at: bases.iter().map(|b| b.0).collect(),
        names: bases.iter().map(|b| b.1.to_string()).collect(),
    };
    vec![posts, key_areas, stations]
}

/// The run's map: the district, residents and each loop's figures by grid, posts, key areas and
/// stations, coverage from the units' bases, incidents, trips and the backlog.
pub fn run_map(
    twin: &Twin,
    placement: Option<(&Placement, &Assumed)>,
    title: &str,
    subtitle: String,
    duration_s: f64,
    layers: Vec<MapLayers>,
    series: &std::collections::BTreeMap<String, Vec<(f64, f64)>>,
) -> MapPage {
    let mut page = district_page(&twin.district, title, subtitle);
    page.duration_s = duration_s;
    let mut view = MapView {
        label: String::new(),
        ..MapView::default()
    };
    if let Some((p, assumed)) = placement {
        view.points = placement_points(twin, p);
        let mut volunteers = vec![0u32; twin.district.grids.len()];
        for u in p.units.iter().filter(|u| u.class == UnitClass::Volunteer) {
            volunteers[u.grid as usize] += 1;
        }
        page.metrics.push(GridMetric {
            key: "volunteers".into(),
            label: "Volunteer guards based in the grid".into(),
            unit: "people".into(),
            source: "the command loop's placement".into(),
            higher_is_better: true,
            diverging: false,
            domain: None,
            values: volunteers.into_iter().map(|n| Some(n as f64)).collect(),
        });
        view.coverage = coverage(twin, assumed, "the units' bases", |class| {
            p.units
                .iter()
                .filter(|u| u.class == class)
                .map(|u| u.grid)
                .collect()
        });
    }
    page.views.push(view);
    for (key, label) in [
        ("grid.backlog_open", "grid tasks open"),
        ("grid.unreported_items", "grid items not yet reported"),
    ] {
        if let Some(points) = series.get(key) {
            page.series.push(TimeSeries {
                key: key.into(),
                label: label.into(),
                points: points.iter().map(|&(h, v)| [h * 3600.0, v]).collect(),
            });
        }
    }
    // A planner opens the map to see where the 1-3-5 rule is kept.
    // (All three tiers within 1-3-5 is rare where volunteers are few: police within 5 tells more.)
    page.default_metric = "command.police_within_5_min".into();
    for l in layers {
        page.metrics.extend(l.metrics);
        page.series.extend(l.series);
        page.incidents = page.incidents.or(l.incidents);
        page.trips = page.trips.or(l.trips);
    }
    page
}

/// A layout of posts on a layouts map: its name, posts, and each grid's covered share of its
/// emergency demand (as the post planner computes it).
pub struct Layout<'a> {
    pub label: String,
    /// The turnouts the layout's reach is drawn with.
    pub assumed: &'a Assumed,
    pub posts: &'a [baoan_planning::Candidate],
    pub cover: &'a [f64],
}

fn layout_view(twin: &Twin, l: &Layout) -> MapView {
    let grids: Vec<u32> = l.posts.iter().map(|p| p.grid).collect();
    MapView {
        label: l.label.clone(),
        points: vec![PointLayer {
            key: "posts".into(),
            label: "Posts / 警务岗亭".into(),
            colour: "#111111".into(),
            radius: 4.0,
            ring: false,
            at: l
                .posts
                .iter()
                .map(|p| [p.x_m.round() as i32, p.y_m.round() as i32])
                .collect(),
            names: l
                .posts
                .iter()
                .map(|p| {
                    let g = &twin.district.grids[p.grid as usize];
                    format!("{} (grid {})", p.source, g.code)
                })
                .collect(),
        }],
        coverage: coverage(twin, l.assumed, &l.label, |_| grids.clone()),
    }
}

fn cover_metric(label: &str, cover: &[f64]) -> GridMetric {
    GridMetric {
        key: format!("cover.{label}"),
        label: format!("Demand covered by the {label}"),
        unit: "%".into(),
        source: "the post planner: tiers and hours weighted".into(),
        higher_is_better: true,
        diverging: false,
        domain: Some([0.0, 100.0]),
        values: cover.iter().map(|c| Some(round4(c * 100.0))).collect(),
    }
}

/// A post plan's or a comparison's map: one layout, or two (A and B) side by side or under a
/// swipe, with demand, each layout's coverage and the grids that gain and lose from A to B.
pub fn layouts_map(
    twin: &Twin,
    title: &str,
    subtitle: String,
    demand: &[f64],
    a: Layout,
    b: Option<Layout>,
) -> MapPage {
    let mut page = district_page(&twin.district, title, subtitle);
    // The slider picks the hour of a day whose coverage the map shows.
    page.duration_s = 86_340.0;
    page.metrics.insert(
        0,
        GridMetric {
            key: "demand".into(),
            label: "Emergencies a day (the planner's demand)".into(),
            unit: "per day".into(),
            source: "the scenario's emergency rates by grid and hour".into(),
            values: demand.iter().map(|&d| Some(round4(d))).collect(),
            ..GridMetric::default()
        },
    );
    page.metrics.push(cover_metric(&a.label, a.cover));
    page.default_metric = format!("cover.{}", a.label);
    page.views.push(layout_view(twin, &a));
    if let Some(b) = b {
        page.metrics.push(cover_metric(&b.label, b.cover));
        let change = |weighted: bool| -> Vec<Option<f64>> {
            a.cover
                .iter()
                .zip(b.cover)
                .zip(demand)
                .map(|((ca, cb), d)| {
                    let delta = if weighted {
                        (cb - ca) * d
                    } else {
                        (cb - ca) * 100.0
                    };
                    ((cb - ca).abs() > 1e-9).then(|| round4(delta))
                })
                .collect()
        };
        page.metrics.push(GridMetric {
            key: "change.covered_demand".into(),
            label: format!(
                "Covered emergencies a day gained from {} to {}",
                a.label, b.label
            ),
            unit: "per day".into(),
            source: "the post planner; grey: no change".into(),
            higher_is_better: true,
            diverging: true,
            domain: None,
            values: change(true),
        });
        page.metrics.push(GridMetric {
            key: "change.cover".into(),
            label: format!("Coverage gained from {} to {}", a.label, b.label),
            unit: "points".into(),
            source: "the post planner; grey: no change".into(),
            higher_is_better: true,
            diverging: true,
            domain: None,
            values: change(false),
        });
        page.default_metric = "change.covered_demand".into();
        page.views.push(layout_view(twin, &b));
    }
    page
}
