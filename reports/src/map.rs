//! The interactive map (`map.html`) beside a run's, a plan's or a comparison's `index.html`:
//! streets, communities and grids with their figures on hover, posts, stations and key areas,
//! what each tier covers hour by hour, the day's incidents by their 1-3-5 outcome and the
//! units' trips on a time slider, with the backlog; for two post layouts, two maps side by side
//! or under a swipe.
//!
//! The page is one file: MapLibre GL JS and deck.gl (bundled from npm by `reports/map/build.mjs`
//! into `reports/assets`, licences in `MAP-LICENSES.txt`), the page's own script
//! (`assets/map.js`) and the data as JSON are all inlined, so it opens from disk with no
//! request. Shapes are in the twin's local frame as whole metres (the page turns them into
//! WGS-84 degrees), which keeps a full district's 4,866 grids under two megabytes.

use serde::Serialize;

use crate::xml;

/// What a loop adds to the run's map.
#[derive(Debug, Clone, Default)]
pub struct MapLayers {
    pub metrics: Vec<GridMetric>,
    pub incidents: Option<Incidents>,
    pub trips: Option<Trips>,
    pub series: Vec<TimeSeries>,
}

/// Everything the page draws.
#[derive(Debug, Clone, Default, Serialize)]
pub struct MapPage {
    pub title: String,
    pub subtitle: String,
    /// The page this one sits beside (`index.html`), linked from its header.
    pub back: Option<String>,
    pub frame: MapFrame,
    /// The coordinate system, as the page states it.
    pub crs: String,
    pub streets: Vec<Division>,
    pub communities: Vec<Division>,
    pub grids: Grids,
    /// Figures per grid, one chosen at a time to colour the grids.
    pub metrics: Vec<GridMetric>,
    /// The figure shown first (a key of `metrics`; the first when absent).
    pub default_metric: String,
    /// One map, or two for a comparison of layouts (A, then B).
    pub views: Vec<MapView>,
    pub incidents: Option<Incidents>,
    pub trips: Option<Trips>,
    /// Counts over the run (the backlog), seconds from the start.
    pub series: Vec<TimeSeries>,
    pub duration_s: f64,
}

/// The origin of the twin's local frame (east and north metres), WGS-84 degrees.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct MapFrame {
    pub origin_lon: f64,
    pub origin_lat: f64,
}

/// Polygons (each a list of rings: the outer first, then holes) as flat `[x0, y0, x1, y1, …]`
/// whole metres in the local frame.
pub type Shape = Vec<Vec<Vec<i32>>>;

/// A street or a community.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Division {
    pub code: String,
    pub name: String,
    pub name_en: String,
    /// A community's street (index); a street's own index.
    pub street: u32,
    /// Where its label goes: a point inside it.
    pub site: [i32; 2],
    pub shape: Shape,
}

/// The grids, column by column.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Grids {
    pub code: Vec<String>,
    pub community: Vec<u32>,
    pub shape: Vec<Shape>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct GridMetric {
    pub key: String,
    pub label: String,
    pub unit: String,
    /// Where the figure comes from (which loop, which assumption).
    pub source: String,
    /// Green for high values rather than red.
    pub higher_is_better: bool,
    /// A change around zero (gains and losses), coloured on a diverging ramp.
    pub diverging: bool,
    /// The colour ramp's ends (a share: 0 to 100); by default the values' 2nd and 98th
    /// percentiles.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<[f64; 2]>,
    /// One per grid, rounded to four significant digits; `None`: no data.
    pub values: Vec<Option<f64>>,
}

/// One map's own layers.
#[derive(Debug, Clone, Default, Serialize)]
pub struct MapView {
    pub label: String,
    pub points: Vec<PointLayer>,
    pub coverage: Vec<Coverage>,
}

/// Posts, stations, key areas: points with a name each.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PointLayer {
    pub key: String,
    pub label: String,
    pub colour: String,
    pub radius: f64,
    /// Drawn as a ring (an area, such as a key area) rather than a dot.
    pub ring: bool,
    pub at: Vec<[i32; 2]>,
    pub names: Vec<String>,
}

/// The grids a tier reaches within its limit, hour by hour: bit `h` of a grid's mask is set
/// when the tier covers it at hour `h` of the day.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Coverage {
    pub key: String,
    pub label: String,
    /// The label in a grid's hover box.
    pub short: String,
    pub colour: String,
    pub hours: Vec<u32>,
}

/// The run's incidents, column by column.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Incidents {
    /// What each outcome code means, and its colour.
    pub outcomes: Vec<String>,
    pub colours: Vec<String>,
    /// The tiers in `arrival_s`.
    pub tiers: Vec<String>,
    pub kinds: Vec<String>,
    /// When command heard of it (else when it happened), seconds from the start.
    pub t: Vec<u32>,
    pub x: Vec<i32>,
    pub y: Vec<i32>,
    pub outcome: Vec<u8>,
    pub kind: Vec<u16>,
    /// Each tier's first unit on scene, seconds after the call.
    pub arrival_s: Vec<Vec<Option<u32>>>,
}

/// Units' trips: out to a scene and home again, as straight lines timed by the twin's roads.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Trips {
    pub classes: Vec<String>,
    pub colours: Vec<String>,
    pub class: Vec<u8>,
    /// From `[x, y]` to `[x, y]`, whole metres.
    pub path: Vec<[i32; 4]>,
    /// Set off and arrive, seconds from the start.
    pub t: Vec<[u32; 2]>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct TimeSeries {
    pub key: String,
    pub label: String,
    /// `[seconds from the start, value]`.
    pub points: Vec<[f64; 2]>,
}

/// Four significant digits: enough for a hover box, and the page stays small.
pub fn round4(v: f64) -> f64 {
    if v == 0.0 || !v.is_finite() {
        return if v.is_finite() { 0.0 } else { f64::NAN };
    }
    let digits = 3 - v.abs().log10().floor() as i32;
    let p = 10f64.powi(digits);
    (v * p).round() / p
}

/// A shape's coordinates to whole metres: rings of `(x, y)` metres, per polygon.
pub fn shape_of<'a, P, R>(polygons: P) -> Shape
where
    P: IntoIterator<Item = R>,
    R: IntoIterator<Item = &'a [(f64, f64)]>,
{
    polygons
        .into_iter()
        .map(|rings| {
            rings
                .into_iter()
                .map(|ring| {
                    let mut flat = Vec::with_capacity(ring.len() * 2);
                    let mut last = None;
                    for &(x, y) in ring {
                        let p = [x.round() as i32, y.round() as i32];
                        // Vertices closer than a metre say nothing at this resolution.
                        if last != Some(p) {
                            flat.extend(p);
                            last = Some(p);
                        }
                    }
                    flat
                })
                .collect()
        })
        .collect()
}

const VENDOR_JS: &str = include_str!("../assets/map-vendor.js");
const WORKER_JS: &str = include_str!("../assets/maplibre-gl-worker.js");
const MAPLIBRE_CSS: &str = include_str!("../assets/maplibre-gl.css");
const PAGE_JS: &str = include_str!("../assets/map.js");

const PAGE_CSS: &str = r#"
html,body{margin:0;height:100%;font:14px/1.4 system-ui,"Noto Sans CJK SC","PingFang SC","Microsoft YaHei",sans-serif;color:#222}
body{display:flex;flex-direction:column}
header{padding:6px 12px;border-bottom:1px solid #ddd;display:flex;gap:16px;align-items:baseline;flex-wrap:wrap}
header h1{font-size:17px;margin:0} header .sub{color:#666} header a{margin-left:auto}
#main{flex:1;display:flex;min-height:0}
aside{width:320px;overflow:auto;padding:8px 12px;border-right:1px solid #ddd;box-sizing:border-box}
aside h2{font-size:13px;text-transform:uppercase;color:#555;margin:12px 0 4px}
aside label{display:block;margin:2px 0} aside select{width:100%}
.swatch{display:inline-block;width:11px;height:11px;margin:0 5px 0 3px;border:1px solid #0003;vertical-align:-1px}
.ramp{height:10px;border:1px solid #0002}.ends{display:flex;justify-content:space-between;font-size:12px}
.note,.crs{font-size:12px;color:#666}
#legend-metric .title,#legend-layers .title{font-weight:600;margin-top:6px}
.maps{flex:1;display:flex;position:relative;min-width:0}
.pane{flex:1;position:relative;min-width:0}
.pane .map{position:absolute;inset:0}
.pane .view-title{position:absolute;z-index:2;top:6px;left:8px;background:#fffd;padding:1px 6px;font-weight:600}
.pane .view-title:empty{display:none}
.maps.side .pane+.pane{border-left:2px solid #fff}
.maps.swipe .pane{position:absolute;inset:0}
#swipe{position:absolute;z-index:3;bottom:28px;left:20%;width:60%}
#swipe-line{position:absolute;z-index:3;top:0;bottom:0;width:2px;margin-left:-1px;background:#222;pointer-events:none}
.maps.swipe .pane+.pane .view-title{left:auto;right:48px}
.label{pointer-events:none;text-align:center;line-height:1.1;text-shadow:0 0 3px #fff,0 0 3px #fff}
.label span{display:block;font-size:10px}
.label.street b{font-size:14px}.label.community{display:none}.label.community b{font-size:11px;font-weight:500}
.zoomed .label.community{display:block}
.maplibregl-popup-content table{border-collapse:collapse;font-size:12px;margin-top:4px}
.maplibregl-popup-content td{padding:0 4px;border-top:1px solid #eee}.chosen td{font-weight:700}
.status{padding:4px 12px;color:#666}.status.failed{color:#b00;font-weight:700}
#series svg text{font-size:9px;fill:#555}
#clock{font-variant-numeric:tabular-nums}
"#;

/// The page: one self-contained HTML file.
pub fn page(map: &MapPage) -> String {
    // JSON inside a script element: only "</" could end it early; "<\/" means the same in JSON.
    let data = serde_json::to_string(map)
        .expect("the map serialises")
        .replace("</", "<\\/");
    let panes: String = (0..map.views.len().max(1))
        .map(|k| {
            format!(
                "<div class=\"pane\"><div class=\"map\" id=\"map-{k}\"></div><div class=\"view-title\" id=\"view-title-{k}\"></div></div>"
            )
        })
        .collect();
    let back = map.back.as_ref().map_or(String::new(), |b| {
        format!("<a href=\"{}\">the report</a>", xml(b))
    });
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>{title} — map — baoan-twin</title>
<style>{MAPLIBRE_CSS}</style><style>{PAGE_CSS}</style></head>
<body>
<header><h1>{title}</h1><span class="sub">{subtitle}</span>{back}</header>
<div class="status" id="status">Loading the map…</div>
<div id="main">
<aside>
<h2>Layers / 图层</h2><div id="layers"></div><div id="legend-layers"></div>
<div id="metric-box"><h2>Grid figure / 网格指标</h2><select id="metric" aria-label="Grid figure"></select><div id="legend-metric"></div></div>
<div id="time-box"><h2>Time / 时间</h2>
<input type="range" id="time" min="0" step="60" style="width:100%" aria-label="Time">
<div><button id="play" type="button">Play</button> <select id="speed" aria-label="Speed"><option value="60">1 min/s</option><option value="600" selected>10 min/s</option><option value="3600">1 h/s</option></select></div>
<div id="clock"></div><div id="series"></div></div>
<div id="compare-box" hidden><h2>Compare / 对比</h2><button id="mode-side" type="button">Side by side</button> <button id="mode-swipe" type="button">Swipe</button></div>
<h2>Coordinates / 坐标</h2><div class="crs" id="crs"></div>
<p class="note">Synthetic data: no real person or record. Map libraries: MapLibre GL JS, deck.gl (licences in the project's reports/assets/MAP-LICENSES.txt).</p>
</aside>
<div class="maps side" id="maps">{panes}<div id="swipe-line" hidden></div><input type="range" id="swipe" min="0" max="100" value="50" hidden aria-label="Swipe"></div>
</div>
<script type="application/json" id="map-data">{data}</script>
<script type="text/plain" id="maplibre-worker">{WORKER_JS}</script>
<script>{VENDOR_JS}</script>
<script>{PAGE_JS}</script>
</body></html>
"#,
        title = xml(&map.title),
        subtitle = xml(&map.subtitle),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn four_significant_digits() {
        assert_eq!(round4(1234.567), 1235.0);
        assert_eq!(round4(0.012345), 0.01235);
        assert_eq!(round4(-98.7654), -98.77);
        assert_eq!(round4(0.0), 0.0);
    }

    #[test]
    fn shapes_are_whole_metres_without_repeated_vertices() {
        let ring: Vec<(f64, f64)> = vec![(0.2, 0.4), (0.4, 0.1), (10.6, -3.5), (0.0, 0.0)];
        let shape = shape_of([[ring.as_slice()]]);
        assert_eq!(shape, vec![vec![vec![0, 0, 11, -4, 0, 0]]]);
    }

    #[test]
    fn the_page_inlines_everything_and_no_script_ends_early() {
        let map = MapPage {
            title: "a </script> title".into(),
            grids: Grids {
                code: vec!["</script><b>".into()],
                community: vec![0],
                shape: vec![vec![vec![vec![0, 0, 1, 0, 1, 1]]]],
            },
            views: vec![MapView::default()],
            ..MapPage::default()
        };
        let html = page(&map);
        for js in [VENDOR_JS, WORKER_JS, PAGE_JS] {
            assert!(!js.contains("</script") && !js.contains("<!--"));
        }
        // Four scripts, each closed once: data, worker, libraries, the page's own.
        assert_eq!(
            html.matches("<script>").count() + html.matches("<script type=").count(),
            4
        );
        assert_eq!(html.matches("</script>").count(), 4);
        assert!(html.contains("a &lt;/script&gt; title"));
        assert!(html.contains(r#""code":["<\/script><b>"]"#));
        assert!(!html.contains("data-ready"), "the page marks itself ready");
    }
}
