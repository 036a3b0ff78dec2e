//! Deterministic SVG plots (CDFs, time series, bars, maps) for the self-contained report page.

use plotters::coord::Shift;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// Failure while rendering a plot.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// plotters reported a drawing error; kept as text because its error type is generic over the backend.
    #[error("plot drawing failed: {0}")]
    Drawing(String),
}

impl<E: std::error::Error + Send + Sync> From<DrawingAreaErrorKind<E>> for PlotError {
    fn from(e: DrawingAreaErrorKind<E>) -> Self {
        PlotError::Drawing(e.to_string())
    }
}

/// One named line of a chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

/// One area of a map: rings of (east m, north m) points, and its value (`None` = no data).
#[derive(Debug, Clone, PartialEq)]
pub struct MapArea {
    pub rings: Vec<Vec<(f64, f64)>>,
    pub value: Option<f64>,
}

type Root<'a> = DrawingArea<SVGBackend<'a>, Shift>;
type Chart<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<Axis, Axis>>;

const WIDTH: u32 = 800;
const PLOT_HEIGHT: u32 = 420;
// plotters' SVG backend writes font-size = size / 1.24; these pixel sizes survive that round trip
// exactly, so the SVG says font-size="18" rather than 17.98387...
const TITLE_PX: f64 = 18.0;
const LABEL_PX: f64 = 12.5;
const TICK_PX: f64 = 12.0;
const TITLE_SIZE: f64 = TITLE_PX * 1.24;
const LABEL_SIZE: f64 = LABEL_PX * 1.24;
const TICK_SIZE: f64 = TICK_PX * 1.24;

const TEXT: RGBColor = RGBColor(33, 33, 33);
const MUTED: RGBColor = RGBColor(110, 110, 110);
const AXIS: RGBColor = RGBColor(90, 90, 90);
const GRID: RGBColor = RGBColor(228, 228, 228);
const NO_DATA: RGBColor = RGBColor(204, 204, 204);

/// Tableau 10: distinct on white and reasonably colour-blind tolerant.
const PALETTE: [RGBColor; 10] = [
    RGBColor(78, 121, 167),
    RGBColor(242, 142, 43),
    RGBColor(225, 87, 89),
    RGBColor(118, 183, 178),
    RGBColor(89, 161, 79),
    RGBColor(237, 201, 72),
    RGBColor(176, 122, 161),
    RGBColor(255, 157, 167),
    RGBColor(156, 117, 95),
    RGBColor(186, 176, 172),
];

/// Viridis sampled at nine even stops; perceptually uniform and readable in greyscale.
const VIRIDIS: [(u8, u8, u8); 9] = [
    (68, 1, 84),
    (71, 45, 123),
    (59, 82, 139),
    (44, 114, 142),
    (33, 145, 140),
    (40, 174, 128),
    (94, 201, 98),
    (173, 220, 48),
    (253, 231, 37),
];

fn ramp(t: f64) -> RGBColor {
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.5
    };
    let pos = t * (VIRIDIS.len() - 1) as f64;
    let i = (pos.floor() as usize).min(VIRIDIS.len() - 2);
    let f = pos - i as f64;
    let (a, b) = (VIRIDIS[i], VIRIDIS[i + 1]);
    let mix = |x: u8, y: u8| (f64::from(x) + (f64::from(y) - f64::from(x)) * f).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// plotters' own estimate counts bytes, which badly overshoots non-ASCII names, so layout uses this instead.
fn text_width(s: &str, px: f64) -> f64 {
    s.chars()
        .map(|c| if c.is_ascii() { 0.6 * px } else { px })
        .sum()
}

fn font(size: f64, color: RGBColor, h: HPos, v: VPos) -> TextStyle<'static> {
    TextStyle {
        font: ("sans-serif", size).into_font(),
        color: color.to_backend_color(),
        pos: Pos::new(h, v),
    }
}

fn draw_text(root: &Root, s: &str, at: (i32, i32), style: &TextStyle) -> Result<(), PlotError> {
    root.draw(&Text::new(s.to_string(), at, style.clone()))?;
    Ok(())
}

fn draw_title(root: &Root, title: &str, width: u32) -> Result<(), PlotError> {
    let style = TextStyle::from(("sans-serif", TITLE_SIZE, FontStyle::Bold).into_font())
        .color(&TEXT)
        .pos(Pos::new(HPos::Center, VPos::Top));
    draw_text(root, title, (width as i32 / 2, 10), &style)
}

/// A number with about three significant digits, for legends and bar values.
fn fmt_sig(v: f64) -> String {
    if !v.is_finite() {
        return "n/a".to_string();
    }
    let v = v + 0.0; // turns -0.0 into 0.0
    let a = v.abs();
    if a != 0.0 && !(1e-3..1e6).contains(&a) {
        let e = format!("{v:.2e}");
        return match e.split_once('e') {
            Some((mantissa, exp)) => format!("{}e{exp}", trim_zeros(mantissa.to_string())),
            None => e,
        };
    }
    let decimals = if a == 0.0 {
        0
    } else {
        (2 - a.log10().floor() as i32).clamp(0, 4) as usize
    };
    trim_zeros(format!("{v:.decimals$}"))
}

fn trim_zeros(s: String) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

fn finite(p: &(f64, f64)) -> bool {
    p.0.is_finite() && p.1.is_finite()
}

fn finite_range(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    values
        .filter(|v| v.is_finite())
        .fold(None, |acc, v| match acc {
            None => Some((v, v)),
            Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
        })
}

/// Avoids the zero-width ranges that a single point or constant data would give.
fn widen(lo: f64, hi: f64) -> (f64, f64) {
    if hi - lo > hi.abs().max(lo.abs()) * 1e-9 {
        (lo, hi)
    } else {
        let d = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
        (lo - d, hi + d)
    }
}

fn nice_step(raw: f64) -> f64 {
    let mag = 10f64.powf(raw.log10().floor());
    let m = raw / mag;
    let n = match m {
        m if m <= 1.0 => 1.0,
        m if m <= 2.0 => 2.0,
        m if m <= 2.5 => 2.5,
        m if m <= 5.0 => 5.0,
        _ => 10.0,
    };
    n * mag
}

/// Hours read best on clock-like steps (3 h, 6 h, a day, a week) rather than 2.5 or 5.
fn hour_step(raw: f64) -> f64 {
    const STEPS: [f64; 10] = [0.25, 0.5, 1.0, 2.0, 3.0, 6.0, 12.0, 24.0, 48.0, 168.0];
    if raw < STEPS[0] {
        return nice_step(raw);
    }
    STEPS
        .iter()
        .copied()
        .find(|&s| s >= raw)
        .unwrap_or_else(|| nice_step(raw / 168.0) * 168.0)
}

#[derive(Clone, Copy)]
enum TickFmt {
    Fixed(usize),
    Sig,
    Pow10,
    Percent,
}

/// A plotted range with its tick positions (in plotted units: log10 of the value on a log axis).
///
/// Its own coordinate type so that the ticks are exactly ours and never plotters' own choice.
#[derive(Clone)]
struct Axis {
    lo: f64,
    hi: f64,
    ticks: Vec<f64>,
    fmt: TickFmt,
}

impl Axis {
    fn label(&self, v: f64) -> String {
        match self.fmt {
            TickFmt::Fixed(d) => format!("{:.d$}", v + 0.0),
            TickFmt::Sig => fmt_sig(v),
            TickFmt::Pow10 => fmt_sig(10f64.powf(v)),
            TickFmt::Percent => format!("{:.0}%", v * 100.0 + 0.0),
        }
    }

    fn max_label_width(&self, px: f64) -> f64 {
        self.ticks
            .iter()
            .map(|&t| text_width(&self.label(t), px))
            .fold(0.0, f64::max)
    }

    fn linear(lo: f64, hi: f64, target: usize, step_fn: fn(f64) -> f64) -> Axis {
        let (lo, hi) = widen(lo, hi);
        let step = step_fn((hi - lo) / target as f64);
        if !step.is_finite() || step <= 0.0 {
            return Axis {
                lo,
                hi,
                ticks: vec![lo, hi],
                fmt: TickFmt::Sig,
            };
        }
        let (first, last) = ((lo / step).floor(), (hi / step).ceil());
        let ticks: Vec<f64> = (first as i64..=last as i64)
            .map(|k| k as f64 * step)
            .collect();
        // Fixed decimals, unless the step is so large that the digits would only be zeros.
        let fmt = if step >= 1e5 {
            TickFmt::Sig
        } else {
            let exp = step.log10().floor();
            let quarter = (step / 10f64.powf(exp) - 2.5).abs() < 1e-9;
            let d = -exp + if quarter { 1.0 } else { 0.0 };
            TickFmt::Fixed(d.max(0.0) as usize)
        };
        Axis {
            lo: first * step,
            hi: last * step,
            ticks,
            fmt,
        }
    }

    /// Takes and plots log10 units on a linear axis, so both scales share one chart type.
    fn log10(l: f64, h: f64) -> Axis {
        let (mut l, mut h) = (l, h);
        if h - l < 1e-9 {
            l -= 0.5;
            h += 0.5;
        }
        let pad = (h - l) * 0.02;
        let (l, h) = (l - pad, h + pad);
        let decades = (l.floor() as i64)..=(h.ceil() as i64);
        let candidates = |mantissas: &[f64], every: i64| -> Vec<f64> {
            decades
                .clone()
                .filter(|d| d.rem_euclid(every) == 0)
                .flat_map(|d| {
                    mantissas
                        .iter()
                        .map(move |m| (m * 10f64.powi(d as i32)).log10())
                })
                .filter(|t| *t >= l && *t <= h)
                .collect()
        };
        let n_decades = h.ceil() as i64 - l.floor() as i64;
        let mut ticks = candidates(&[1.0, 2.0, 5.0], 1);
        if ticks.len() > 12 {
            ticks = candidates(&[1.0], (n_decades / 10).max(1));
        }
        if ticks.len() < 2 {
            ticks = candidates(&[1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0], 1);
        }
        if ticks.len() < 2 {
            ticks = vec![l, h];
        }
        Axis {
            lo: l,
            hi: h,
            ticks,
            fmt: TickFmt::Pow10,
        }
    }
}

impl Ranged for Axis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        let t = (v - self.lo) / (self.hi - self.lo);
        let t = if t.is_finite() { t } else { 0.5 };
        // `as` saturates, so far-off values cannot overflow.
        limit.0 + (t * f64::from(limit.1 - limit.0)).round() as i32
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.lo..self.hi
    }
}

struct LegendItem {
    name: String,
    color: RGBColor,
    x: i32,
    row: i32,
}

const LEGEND_ROW: i32 = 20;

/// Legends sit in their own strip under the title so they never cover data.
fn layout_legend(entries: &[(String, RGBColor)], width: u32) -> (Vec<LegendItem>, i32) {
    let (left, right) = (60.0, f64::from(width) - 20.0);
    let mut items = Vec::new();
    let (mut x, mut row) = (left, 0);
    for (name, color) in entries.iter().filter(|(n, _)| !n.is_empty()) {
        let w = 26.0 + text_width(name, LABEL_PX) + 18.0;
        if x > left && x + w > right {
            x = left;
            row += 1;
        }
        items.push(LegendItem {
            name: name.clone(),
            color: *color,
            x: x as i32,
            row,
        });
        x += w;
    }
    let rows = if items.is_empty() { 0 } else { row + 1 };
    (items, rows)
}

fn draw_legend(root: &Root, items: &[LegendItem], top: i32) -> Result<(), PlotError> {
    let style = font(LABEL_SIZE, TEXT, HPos::Left, VPos::Center);
    for it in items {
        let y = top + it.row * LEGEND_ROW + LEGEND_ROW / 2;
        root.draw(&PathElement::new(
            vec![(it.x, y), (it.x + 20, y)],
            it.color.stroke_width(3),
        ))?;
        draw_text(root, &it.name, (it.x + 26, y), &style)?;
    }
    Ok(())
}

fn header_height(legend_rows: i32) -> i32 {
    38 + legend_rows * LEGEND_ROW + if legend_rows > 0 { 6 } else { 0 }
}

/// Drops repeated pixels and interior points of straight runs: lossless on screen, much smaller SVG.
fn simplify(points: impl IntoIterator<Item = (i32, i32)>) -> Vec<(i32, i32)> {
    let mut out: Vec<(i32, i32)> = Vec::new();
    for p in points {
        if out.last() == Some(&p) {
            continue;
        }
        if out.len() >= 2 {
            let (a, b) = (out[out.len() - 2], out[out.len() - 1]);
            let (abx, aby) = (i64::from(b.0 - a.0), i64::from(b.1 - a.1));
            let (bcx, bcy) = (i64::from(p.0 - b.0), i64::from(p.1 - b.1));
            // Only when b lies between a and p: a reversal on the same line must keep its turning point.
            if abx * bcy == aby * bcx && abx * bcx + aby * bcy >= 0 {
                out.pop();
            }
        }
        out.push(p);
    }
    out
}

fn configure_mesh(
    chart: &mut Chart,
    x: &Axis,
    y: &Axis,
    x_desc: &str,
    y_desc: &str,
    y_grid: bool,
) -> Result<(), PlotError> {
    let x_fmt = |v: &f64| x.label(*v);
    let y_fmt = |v: &f64| y.label(*v);
    let mut mesh = chart.configure_mesh();
    mesh.x_desc(x_desc)
        .y_desc(y_desc)
        .axis_desc_style(font(LABEL_SIZE, TEXT, HPos::Center, VPos::Center))
        .label_style(font(TICK_SIZE, MUTED, HPos::Center, VPos::Center))
        .x_label_formatter(&x_fmt)
        .y_label_formatter(&y_fmt)
        .bold_line_style(GRID)
        .light_line_style(TRANSPARENT)
        .axis_style(AXIS)
        .max_light_lines(0);
    if !y_grid {
        mesh.disable_y_mesh();
    }
    mesh.draw()?;
    Ok(())
}

fn draw_no_data(root: &Root, chart: &Chart, x: &Axis, y: &Axis) -> Result<(), PlotError> {
    let centre = chart.backend_coord(&((x.lo + x.hi) / 2.0, (y.lo + y.hi) / 2.0));
    draw_text(
        root,
        "no data",
        centre,
        &font(TITLE_SIZE, MUTED, HPos::Center, VPos::Center),
    )
}

fn render(
    width: u32,
    height: u32,
    draw: impl FnOnce(&Root) -> Result<(), PlotError>,
) -> Result<String, PlotError> {
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, (width, height)).into_drawing_area();
        root.fill(&WHITE)?;
        draw(&root)?;
        root.present()?;
    }
    Ok(buf)
}

/// Shared body of the CDF and time-series charts: lines in plotted units, legend strip, axes.
fn line_chart(
    title: &str,
    x_desc: &str,
    y_desc: &str,
    lines: &[(String, Vec<(f64, f64)>)],
    x: &Axis,
    y: &Axis,
) -> Result<String, PlotError> {
    let entries: Vec<(String, RGBColor)> = lines
        .iter()
        .enumerate()
        .map(|(i, (name, pts))| {
            let name = if pts.is_empty() && !name.is_empty() {
                format!("{name} (no data)")
            } else {
                name.clone()
            };
            (name, PALETTE[i % PALETTE.len()])
        })
        .collect();
    let (legend, rows) = layout_legend(&entries, WIDTH);
    let header = header_height(rows);
    let height = header as u32 + PLOT_HEIGHT;
    let y_area = (y.max_label_width(TICK_PX) + 12.0 + 26.0).ceil() as u32;

    render(WIDTH, height, |root| {
        draw_title(root, title, WIDTH)?;
        draw_legend(root, &legend, 36)?;
        let (_, body) = root.split_vertically(header);
        let mut chart = ChartBuilder::on(&body)
            .margin(8)
            .margin_right(28)
            .x_label_area_size(50)
            .y_label_area_size(y_area)
            .build_cartesian_2d(x.clone(), y.clone())?;
        configure_mesh(&mut chart, x, y, x_desc, y_desc, true)?;

        if lines.iter().all(|(_, pts)| pts.is_empty()) {
            return draw_no_data(root, &chart, x, y);
        }
        for (i, (_, pts)) in lines.iter().enumerate() {
            let color = PALETTE[i % PALETTE.len()];
            let px = simplify(pts.iter().map(|p| chart.backend_coord(p)));
            match px.as_slice() {
                [] => {}
                [p] => {
                    root.draw(&Circle::new(*p, 4, color.filled()))?;
                }
                _ => {
                    root.draw(&PathElement::new(px, color.stroke_width(2)))?;
                }
            }
        }
        Ok(())
    })
}

/// Empirical CDFs: x = value (e.g. seconds; `x_label` should name the unit), y = share 0..1.
///
/// Points are sorted by x and joined by straight segments; pass the step corners for a staircase.
/// With `log_x`, points with x <= 0 cannot be placed and are skipped along with NaN/infinite ones.
pub fn cdf_svg(
    title: &str,
    x_label: &str,
    series: &[Series],
    log_x: bool,
) -> Result<String, PlotError> {
    let lines: Vec<(String, Vec<(f64, f64)>)> = series
        .iter()
        .map(|s| {
            let mut pts: Vec<(f64, f64)> = s
                .points
                .iter()
                .filter(|p| finite(p) && (!log_x || p.0 > 0.0))
                .map(|&(x, y)| (if log_x { x.log10() } else { x }, y))
                .collect();
            pts.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
            (s.name.clone(), pts)
        })
        .collect();

    let xs = || lines.iter().flat_map(|(_, p)| p.iter().map(|q| q.0));
    let x = match (finite_range(xs()), log_x) {
        (Some((lo, hi)), true) => Axis::log10(lo, hi),
        (Some((lo, hi)), false) => Axis::linear(lo, hi, 8, nice_step),
        (None, true) => Axis::log10(0.0, 2.0),
        (None, false) => Axis::linear(0.0, 1.0, 8, nice_step),
    };
    let (ylo, yhi) = finite_range(lines.iter().flat_map(|(_, p)| p.iter().map(|q| q.1)))
        .map_or((0.0, 1.0), |(lo, hi)| (lo.min(0.0), hi.max(1.0)));
    // A little headroom so curves running along 0% or 100% stay visible off the frame.
    let y = Axis {
        lo: ylo - 0.02,
        hi: yhi + 0.02,
        ticks: (0..=5).map(|k| f64::from(k) * 0.2).collect(),
        fmt: TickFmt::Percent,
    };
    line_chart(title, x_label, "cumulative share", &lines, &x, &y)
}

/// Time series: x = simulated hours since start, y = value; one line per series (points sorted by time).
pub fn time_series_svg(title: &str, y_label: &str, series: &[Series]) -> Result<String, PlotError> {
    xy_svg(
        title,
        "simulated hours since start",
        y_label,
        series,
        hour_step,
    )
}

/// Lines over any numeric x (a budget of posts, a request rate), with plain round ticks.
pub fn lines_svg(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
) -> Result<String, PlotError> {
    xy_svg(title, x_label, y_label, series, nice_step)
}

fn xy_svg(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
    x_step: fn(f64) -> f64,
) -> Result<String, PlotError> {
    let lines: Vec<(String, Vec<(f64, f64)>)> = series
        .iter()
        .map(|s| {
            let mut pts: Vec<(f64, f64)> = s.points.iter().copied().filter(finite).collect();
            // Stable, so samples sharing a timestamp keep their given order.
            pts.sort_by(|a, b| a.0.total_cmp(&b.0));
            (s.name.clone(), pts)
        })
        .collect();
    let xs = finite_range(lines.iter().flat_map(|(_, p)| p.iter().map(|q| q.0)));
    let ys = finite_range(lines.iter().flat_map(|(_, p)| p.iter().map(|q| q.1)));
    let (xlo, xhi) = xs.unwrap_or((0.0, 24.0));
    let x = Axis::linear(xlo, xhi, 8, x_step);
    let y = match ys {
        Some((lo, hi)) => {
            let pad = (hi - lo) * 0.03;
            // Non-negative quantities (counts, queue lengths) keep their zero baseline.
            let plo = if lo >= 0.0 {
                (lo - pad).max(0.0)
            } else {
                lo - pad
            };
            Axis::linear(plo, hi + pad, 6, nice_step)
        }
        None => Axis::linear(0.0, 1.0, 6, nice_step),
    };
    line_chart(title, x_label, y_label, &lines, &x, &y)
}

/// Horizontal bars, one per labelled category, top to bottom in the given order.
///
/// Horizontal so that long category names (streets) stay readable; the value axis carries `y_label`.
/// Non-finite values keep their row and show "n/a".
pub fn bars_svg(title: &str, y_label: &str, bars: &[(String, f64)]) -> Result<String, PlotError> {
    const ROW: u32 = 24;
    let n = bars.len();
    let rows = n.max(3) as u32;
    let height = header_height(0) as u32 + rows * ROW + 16 + 50;

    // Over-long names are cut so the bars keep at least half the width.
    let (labels, label_w) = row_labels(bars.iter().map(|(l, _)| l.as_str()), 0.4);
    let values: Vec<String> = bars.iter().map(|(_, v)| fmt_sig(*v)).collect();
    let value_w = values
        .iter()
        .map(|v| text_width(v, TICK_PX))
        .fold(0.0, f64::max);

    let (vlo, vhi) = finite_range(bars.iter().map(|b| b.1))
        .map_or((0.0, 1.0), |(lo, hi)| (lo.min(0.0), hi.max(0.0)));
    let x = Axis::linear(vlo, vhi, 6, nice_step);
    let y = rows_axis(rows);

    render(WIDTH, height, |root| {
        draw_title(root, title, WIDTH)?;
        let (_, body) = root.split_vertically(header_height(0));
        let mut chart = ChartBuilder::on(&body)
            .margin(8)
            .margin_right((value_w + 16.0).max(24.0) as u32)
            .x_label_area_size(50)
            .y_label_area_size((label_w + 14.0).max(20.0) as u32)
            .build_cartesian_2d(x.clone(), y.clone())?;
        configure_mesh(&mut chart, &x, &y, y_label, "", false)?;
        if n == 0 {
            return draw_no_data(root, &chart, &x, &y);
        }
        let color = PALETTE[0];
        let label_style = font(LABEL_SIZE, TEXT, HPos::Right, VPos::Center);
        let value_style = font(TICK_SIZE, MUTED, HPos::Left, VPos::Center);
        let left = chart.backend_coord(&(x.lo, 0.0)).0;
        for (i, (&(_, v), (label, value))) in
            bars.iter().zip(labels.iter().zip(&values)).enumerate()
        {
            let top = rows as f64 - i as f64;
            let mid = chart.backend_coord(&(0.0, top - 0.5)).1;
            draw_text(root, label, (left - 8, mid), &label_style)?;
            if v.is_finite() {
                let a = chart.backend_coord(&(0.0_f64.min(v), top - 0.15));
                let b = chart.backend_coord(&(0.0_f64.max(v), top - 0.85));
                if b.0 > a.0 {
                    root.draw(&Rectangle::new([a, b], color.filled()))?;
                }
                draw_text(root, value, (b.0 + 5, mid), &value_style)?;
            } else {
                let zero = chart.backend_coord(&(0.0, 0.0)).0;
                draw_text(root, value, (zero + 5, mid), &value_style)?;
            }
        }
        Ok(())
    })
}

/// The labels of a chart of horizontal rows, each cut to `share` of the chart's width, and the
/// widest one's width in pixels.
fn row_labels<'a>(labels: impl Iterator<Item = &'a str>, share: f64) -> (Vec<String>, f64) {
    let max_label = f64::from(WIDTH) * share;
    let labels: Vec<String> = labels.map(|l| truncate(l, max_label, LABEL_PX)).collect();
    let width = labels
        .iter()
        .map(|l| text_width(l, LABEL_PX))
        .fold(0.0, f64::max);
    (labels, width)
}

/// The category axis of a chart of horizontal rows: one unit a row, no ticks.
fn rows_axis(rows: u32) -> Axis {
    Axis {
        lo: 0.0,
        hi: rows as f64,
        ticks: Vec::new(),
        fmt: TickFmt::Sig,
    }
}

/// One row of a range chart: a label, a span from `lo` to `hi`, and a marked value (a mean).
#[derive(Debug, Clone, PartialEq)]
pub struct RangeRow {
    pub label: String,
    pub lo: f64,
    pub hi: f64,
    pub mark: Option<f64>,
}

/// Horizontal ranges, one per labelled row, top to bottom: with `bars`, filled bars from `lo`
/// to `hi` (a tornado plot: each assumption's figure at its low and high value); without,
/// whiskers with the mark as a dot (95% intervals around means). `reference` draws a vertical
/// line (the base setting's mean). Non-finite rows keep their place and show "n/a".
pub fn ranges_svg(
    title: &str,
    x_label: &str,
    rows: &[RangeRow],
    reference: Option<f64>,
    bars: bool,
) -> Result<String, PlotError> {
    const ROW: u32 = 26;
    let n = rows.len();
    let count = n.max(3) as u32;
    let height = header_height(0) as u32 + count * ROW + 16 + 50;
    let (labels, label_w) = row_labels(rows.iter().map(|r| r.label.as_str()), 0.45);
    let all = rows
        .iter()
        .flat_map(|r| [r.lo, r.hi].into_iter().chain(r.mark))
        .chain(reference);
    let (vlo, vhi) = finite_range(all).unwrap_or((0.0, 1.0));
    // A little room at the ends; equal ends are widened by the axis itself.
    let pad = (vhi - vlo) * 0.05;
    let x = Axis::linear(vlo - pad, vhi + pad, 6, nice_step);
    let y = rows_axis(count);
    render(WIDTH, height, |root| {
        draw_title(root, title, WIDTH)?;
        let (_, body) = root.split_vertically(header_height(0));
        let mut chart = ChartBuilder::on(&body)
            .margin(8)
            .margin_right(24)
            .x_label_area_size(50)
            .y_label_area_size((label_w + 14.0).max(20.0) as u32)
            .build_cartesian_2d(x.clone(), y.clone())?;
        configure_mesh(&mut chart, &x, &y, x_label, "", false)?;
        if n == 0 {
            return draw_no_data(root, &chart, &x, &y);
        }
        let label_style = font(LABEL_SIZE, TEXT, HPos::Right, VPos::Center);
        let na_style = font(TICK_SIZE, MUTED, HPos::Left, VPos::Center);
        let left = chart.backend_coord(&(x.lo, 0.0)).0;
        if let Some(r) = reference.filter(|r| r.is_finite()) {
            let a = chart.backend_coord(&(r, y.lo));
            let b = chart.backend_coord(&(r, y.hi));
            root.draw(&PathElement::new(vec![a, b], MUTED.stroke_width(1)))?;
        }
        for (i, (row, label)) in rows.iter().zip(&labels).enumerate() {
            let top = count as f64 - i as f64;
            let mid = chart.backend_coord(&(x.lo, top - 0.5)).1;
            draw_text(root, label, (left - 8, mid), &label_style)?;
            if !(row.lo.is_finite() && row.hi.is_finite()) {
                draw_text(root, "n/a", (left + 5, mid), &na_style)?;
                continue;
            }
            let (lo, hi) = (row.lo.min(row.hi), row.lo.max(row.hi));
            if bars {
                // Blue where the high value gives the larger figure, orange where the smaller.
                let colour = if row.hi >= row.lo {
                    PALETTE[0]
                } else {
                    PALETTE[1]
                };
                let a = chart.backend_coord(&(lo, top - 0.2));
                let b = chart.backend_coord(&(hi, top - 0.8));
                root.draw(&Rectangle::new(
                    [a, (b.0.max(a.0 + 1), b.1)],
                    colour.filled(),
                ))?;
            } else {
                let a = chart.backend_coord(&(lo, top - 0.5));
                let b = chart.backend_coord(&(hi, top - 0.5));
                root.draw(&PathElement::new(vec![a, b], PALETTE[0].stroke_width(2)))?;
                for end in [a, b] {
                    root.draw(&PathElement::new(
                        vec![(end.0, end.1 - 5), (end.0, end.1 + 5)],
                        PALETTE[0].stroke_width(2),
                    ))?;
                }
            }
            if let Some(m) = row.mark.filter(|m| m.is_finite()) {
                let c = chart.backend_coord(&(m, top - 0.5));
                root.draw(&Circle::new(c, 4, TEXT.filled()))?;
            }
        }
        Ok(())
    })
}

fn truncate(s: &str, max_w: f64, px: f64) -> String {
    if text_width(s, px) <= max_w {
        return s.to_string();
    }
    let mut out = String::new();
    let mut used = text_width("…", px);
    for c in s.chars() {
        let mut buf = [0u8; 4];
        used += text_width(c.encode_utf8(&mut buf), px);
        if used > max_w {
            break;
        }
        out.push(c);
    }
    out.push('…');
    out
}

/// The largest 1, 2 or 5 times a power of ten not above `x`: a round ground distance for the scale bar.
fn nice_floor(x: f64) -> f64 {
    let mag = 10f64.powf(x.log10().floor());
    let m = x / mag;
    let n = if m >= 5.0 {
        5.0
    } else if m >= 2.0 {
        2.0
    } else {
        1.0
    };
    n * mag
}

fn distance_label(metres: f64) -> String {
    if metres >= 1000.0 {
        format!("{} km", trim_zeros(format!("{:.3}", metres / 1000.0)))
    } else {
        format!("{} m", trim_zeros(format!("{metres:.3}")))
    }
}

/// Choropleth: each area filled by its value on a viridis ramp between the values' min and max,
/// grey where it has no value (or a non-finite one), north up, metres equal in x and y.
pub fn map_svg(
    title: &str,
    legend_label: &str,
    areas: &[MapArea],
    width_px: u32,
) -> Result<String, PlotError> {
    const MARGIN: f64 = 12.0;
    const TOP: f64 = 40.0;
    const LEGEND_H: f64 = 64.0;
    let width = width_px.clamp(240, 8000);
    let w = f64::from(width);

    let all_points = || {
        areas
            .iter()
            .flat_map(|a| a.rings.iter().flatten())
            .filter(|p| finite(p))
    };
    let xr = finite_range(all_points().map(|p| p.0));
    let yr = finite_range(all_points().map(|p| p.1));
    let value = |a: &MapArea| a.value.filter(|v| v.is_finite());
    let vr = finite_range(areas.iter().filter_map(value));
    let any_missing = areas.iter().any(|a| value(a).is_none());

    let avail = w - 2.0 * MARGIN;
    // Very tall extents are capped so the page does not become a scroll of mostly empty space.
    let max_h = avail * 1.4;
    // One scale for both axes keeps metres square; a zero extent (a line, a point) borrows the other.
    let (proj, map_h) = match (xr, yr) {
        (Some((x0, x1)), Some((y0, y1))) => {
            let span = (x1 - x0).max(y1 - y0);
            let span = if span > 0.0 { span } else { 1.0 };
            let dx = if x1 > x0 { x1 - x0 } else { span };
            let dy = if y1 > y0 { y1 - y0 } else { span };
            let scale = (avail / dx).min(max_h / dy);
            let proj = Projection {
                scale,
                centre: ((x0 + x1) / 2.0, (y0 + y1) / 2.0),
                at: (w / 2.0, TOP + dy * scale / 2.0),
                width_m: dx,
            };
            (Some(proj), dy * scale)
        }
        _ => (None, avail * 0.5),
    };
    let height = (TOP + map_h + 8.0 + LEGEND_H).ceil() as u32;

    let mut polys: Vec<(Vec<(i32, i32)>, RGBColor)> = Vec::new();
    if let Some(p) = &proj {
        for a in areas {
            let color = match (value(a), vr) {
                (Some(v), Some((lo, hi))) if hi > lo => ramp((v - lo) / (hi - lo)),
                (Some(_), _) => ramp(0.5),
                (None, _) => NO_DATA,
            };
            for ring in &a.rings {
                let mut px = simplify(ring.iter().filter(|q| finite(q)).map(|&q| p.to_px(q)));
                // SVG closes polygons itself; a repeated first point is only bytes.
                if px.len() > 1 && px.first() == px.last() {
                    px.pop();
                }
                if px.len() >= 3 {
                    polys.push((px, color));
                }
            }
        }
    }
    // Outlines separate neighbours when areas are large on screen, but would swamp small ones.
    let mean_size = if polys.is_empty() {
        0.0
    } else {
        polys.iter().map(|(px, _)| bbox_size(px)).sum::<f64>() / polys.len() as f64
    };
    let outline = mean_size >= 14.0;

    render(width, height, |root| {
        draw_title(root, title, width)?;
        if proj.is_none() {
            let centre = (width as i32 / 2, (TOP + map_h / 2.0) as i32);
            draw_text(
                root,
                "no data",
                centre,
                &font(TITLE_SIZE, MUTED, HPos::Center, VPos::Center),
            )?;
        }
        for (px, color) in &polys {
            root.draw(&Polygon::new(px.clone(), color.filled()))?;
        }
        if outline {
            let stroke = WHITE.stroke_width(1);
            for (px, _) in &polys {
                let mut closed = px.clone();
                closed.push(px[0]);
                root.draw(&PathElement::new(closed, stroke))?;
            }
        }

        let legend_top = (TOP + map_h + 8.0) as i32;
        let right = width as i32 - MARGIN as i32;
        let legend = ColourLegend::layout(
            legend_label,
            vr,
            any_missing,
            (MARGIN as i32, right),
            (w * 0.7) as i32,
        );
        legend.draw(root, legend_top)?;
        if let Some(p) = &proj {
            let x0 = MARGIN as i32 + 4;
            // The bar takes whatever room the colour legend leaves, up to a fifth of the map.
            let room = f64::from(legend.left - 24 - x0);
            let len = nice_floor((p.width_m / 5.0).min(room / p.scale));
            let x1 = x0 + (len * p.scale).round() as i32;
            if len.is_finite() && x1 - x0 >= 20 {
                let y = legend_top + 24;
                root.draw(&PathElement::new(
                    vec![(x0, y), (x0, y + 8), (x1, y + 8), (x1, y)],
                    TEXT.stroke_width(1),
                ))?;
                draw_text(
                    root,
                    &distance_label(len),
                    (x0, y - 4),
                    &font(TICK_SIZE, TEXT, HPos::Left, VPos::Bottom),
                )?;
            }
        }
        Ok(())
    })
}

/// Metres to pixels, north up: the data centre `centre` lands on pixel `at`.
struct Projection {
    scale: f64,
    centre: (f64, f64),
    at: (f64, f64),
    width_m: f64,
}

impl Projection {
    fn to_px(&self, (x, y): (f64, f64)) -> (i32, i32) {
        (
            (self.at.0 + (x - self.centre.0) * self.scale).round() as i32,
            (self.at.1 - (y - self.centre.1) * self.scale).round() as i32,
        )
    }
}

fn bbox_size(px: &[(i32, i32)]) -> f64 {
    let (mut x0, mut y0, mut x1, mut y1) = (i32::MAX, i32::MAX, i32::MIN, i32::MIN);
    for &(x, y) in px {
        (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
    }
    f64::from((x1 - x0) + (y1 - y0)) / 2.0
}

/// Gradient bar with min and max at its ends and the label above, plus a grey "no data" swatch,
/// right-aligned; laid out before drawing so the scale bar can keep clear of it.
struct ColourLegend {
    label: String,
    range: Option<(f64, f64)>,
    lo: String,
    hi: String,
    bar_x0: i32,
    bar_w: i32,
    /// Centre of the label, kept inside the image when the label is wider than the bar.
    label_x: i32,
    /// Left edge of the swatch, if any area lacks a value.
    no_data_x: Option<i32>,
    /// Leftmost pixel used by any part of the legend.
    left: i32,
}

impl ColourLegend {
    const BAR_H: i32 = 12;
    const STEPS: i32 = 60;

    fn layout(
        label: &str,
        range: Option<(f64, f64)>,
        any_missing: bool,
        (min_x, right): (i32, i32),
        max_w: i32,
    ) -> Self {
        let width = |s: &str, px: f64| text_width(s, px).ceil() as i32;
        let no_data_w = if any_missing {
            18 + 16 + width("no data", TICK_PX)
        } else {
            0
        };
        let no_data_x = any_missing.then_some(right - no_data_w + 18);
        let label_w = width(label, LABEL_PX);
        let Some((vlo, vhi)) = range else {
            return ColourLegend {
                label: label.to_string(),
                range,
                lo: String::new(),
                hi: String::new(),
                bar_x0: right - no_data_w,
                bar_w: 0,
                label_x: right - no_data_w - label_w / 2,
                no_data_x,
                left: right - no_data_w - label_w,
            };
        };
        let (lo, hi) = if vhi > vlo {
            (fmt_sig(vlo), fmt_sig(vhi))
        } else {
            (String::new(), format!("all {}", fmt_sig(vlo)))
        };
        let (lo_w, hi_w) = (width(&lo, TICK_PX), width(&hi, TICK_PX));
        let bar_w = (max_w - lo_w - hi_w - no_data_w - 14).clamp(60, 240);
        let bar_x0 = right - no_data_w - hi_w - 6 - bar_w;
        let label_x = (bar_x0 + bar_w / 2)
            .min(right - label_w / 2)
            .max(min_x + label_w / 2);
        let left = (bar_x0 - 6 - lo_w).min(label_x - label_w / 2);
        ColourLegend {
            label: label.to_string(),
            range,
            lo,
            hi,
            bar_x0,
            bar_w,
            label_x,
            no_data_x,
            left,
        }
    }

    fn draw(&self, root: &Root, top: i32) -> Result<(), PlotError> {
        let bar_y = top + 24;
        let mid_y = bar_y + Self::BAR_H / 2;
        let label_style = font(LABEL_SIZE, TEXT, HPos::Center, VPos::Bottom);
        if let Some((vlo, vhi)) = self.range {
            let (x0, w) = (self.bar_x0, self.bar_w);
            for i in 0..Self::STEPS {
                let a = x0 + w * i / Self::STEPS;
                let b = x0 + w * (i + 1) / Self::STEPS;
                let t = if vhi > vlo {
                    (f64::from(i) + 0.5) / f64::from(Self::STEPS)
                } else {
                    0.5
                };
                root.draw(&Rectangle::new(
                    [(a, bar_y), (b, bar_y + Self::BAR_H)],
                    ramp(t).filled(),
                ))?;
            }
            root.draw(&Rectangle::new(
                [(x0, bar_y), (x0 + w, bar_y + Self::BAR_H)],
                AXIS.stroke_width(1),
            ))?;
            draw_text(
                root,
                &self.lo,
                (x0 - 6, mid_y),
                &font(TICK_SIZE, TEXT, HPos::Right, VPos::Center),
            )?;
            draw_text(
                root,
                &self.hi,
                (x0 + w + 6, mid_y),
                &font(TICK_SIZE, TEXT, HPos::Left, VPos::Center),
            )?;
            draw_text(root, &self.label, (self.label_x, bar_y - 5), &label_style)?;
        } else {
            draw_text(root, &self.label, (self.label_x, bar_y - 5), &label_style)?;
        }
        if let Some(x) = self.no_data_x {
            root.draw(&Rectangle::new(
                [(x, bar_y), (x + 12, bar_y + Self::BAR_H)],
                NO_DATA.filled(),
            ))?;
            draw_text(
                root,
                "no data",
                (x + 16, mid_y),
                &font(TICK_SIZE, TEXT, HPos::Left, VPos::Center),
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(label: &str, lo: f64, hi: f64, mark: Option<f64>) -> RangeRow {
        RangeRow {
            label: label.into(),
            lo,
            hi,
            mark,
        }
    }

    #[test]
    fn ranges_draw_a_bar_or_a_whisker_per_row_and_equal_values_get_a_readable_axis() {
        let rows = [
            row("travel.car.speed_m_per_s 7..11", 0.38, 0.45, None),
            row("command.turnout.police_s 15..60", 0.44, 0.39, None),
        ];
        let svg = ranges_svg("police within 5 min", "share", &rows, Some(0.42), true).unwrap();
        assert!(svg.contains("travel.car.speed_m_per_s 7..11"));
        // Two bars, in the two colours of rising and falling.
        assert_eq!(
            svg.matches("<rect").count(),
            1 + 2,
            "the background and two bars"
        );
        assert!(svg.contains("#4E79A7") || svg.contains("#4e79a7"), "{svg}");
        let flat = [row("a", 0.0, 0.0, Some(0.0)), row("b", 0.0, 0.0, Some(0.0))];
        let svg = ranges_svg("all zero", "share", &flat, None, false).unwrap();
        assert!(!svg.contains("0.0000000"), "no runaway tick labels: {svg}");
        assert_eq!(svg.matches("<circle").count(), 2, "a mark per row");
        let na = [row("n/a row", f64::NAN, 1.0, None)];
        assert!(
            ranges_svg("t", "x", &na, None, true)
                .unwrap()
                .contains("n/a")
        );
    }

    fn series(name: &str, points: &[(f64, f64)]) -> Series {
        Series {
            name: name.to_string(),
            points: points.to_vec(),
        }
    }

    fn square(x: f64, y: f64, size: f64, value: Option<f64>) -> MapArea {
        MapArea {
            rings: vec![vec![
                (x, y),
                (x + size, y),
                (x + size, y + size),
                (x, y + size),
                (x, y),
            ]],
            value,
        }
    }

    fn assert_svg(svg: &str, title: &str) {
        assert!(
            svg.starts_with("<svg"),
            "not an svg: {}",
            &svg[..svg.len().min(80)]
        );
        assert!(svg.contains(title), "title {title:?} missing");
        assert!(svg.trim_end().ends_with("</svg>"));
    }

    fn sample_cdf() -> Vec<Series> {
        let a: Vec<(f64, f64)> = (1..=50)
            .map(|i| (f64::from(i) * 3.7, f64::from(i) / 50.0))
            .collect();
        let b: Vec<(f64, f64)> = (1..=80)
            .map(|i| (f64::from(i * i) * 0.2, f64::from(i) / 80.0))
            .collect();
        vec![series("baseline", &a), series("rush hour", &b)]
    }

    #[test]
    fn each_plot_is_svg_with_title() {
        assert_svg(
            &cdf_svg("Trip CDF", "seconds", &sample_cdf(), false).unwrap(),
            "Trip CDF",
        );
        assert_svg(
            &cdf_svg("Log CDF", "seconds", &sample_cdf(), true).unwrap(),
            "Log CDF",
        );
        let ts = vec![series("queue", &[(0.0, 1.0), (1.5, 4.0), (3.0, 2.0)])];
        assert_svg(
            &time_series_svg("Queue length", "vehicles", &ts).unwrap(),
            "Queue length",
        );
        let bars = vec![("Xixiang".to_string(), 12.0), ("Fuyong".to_string(), 3.5)];
        assert_svg(
            &bars_svg("Per street", "trips", &bars).unwrap(),
            "Per street",
        );
        let areas = vec![square(0.0, 0.0, 100.0, Some(1.0))];
        assert_svg(
            &map_svg("Demand map", "trips", &areas, 600).unwrap(),
            "Demand map",
        );
    }

    #[test]
    fn titles_are_escaped() {
        let svg = bars_svg("A & B <c>", "v", &[("x".into(), 1.0)]).unwrap();
        assert!(svg.contains("A &amp; B &lt;c&gt;"));
    }

    #[test]
    fn output_is_deterministic() {
        let s = sample_cdf();
        assert_eq!(
            cdf_svg("t", "s", &s, true).unwrap(),
            cdf_svg("t", "s", &s, true).unwrap()
        );
        assert_eq!(
            time_series_svg("t", "v", &s).unwrap(),
            time_series_svg("t", "v", &s).unwrap()
        );
        let bars = vec![("a".to_string(), 1.0), ("b".to_string(), 2.0)];
        assert_eq!(
            bars_svg("t", "v", &bars).unwrap(),
            bars_svg("t", "v", &bars).unwrap()
        );
        let areas = vec![
            square(0.0, 0.0, 10.0, Some(0.0)),
            square(10.0, 0.0, 10.0, None),
        ];
        assert_eq!(
            map_svg("t", "v", &areas, 500).unwrap(),
            map_svg("t", "v", &areas, 500).unwrap()
        );
    }

    #[test]
    fn empty_inputs_render_no_data() {
        for svg in [
            cdf_svg("e", "s", &[], false).unwrap(),
            cdf_svg("e", "s", &[series("none", &[])], true).unwrap(),
            time_series_svg("e", "v", &[]).unwrap(),
            bars_svg("e", "v", &[]).unwrap(),
            map_svg("e", "v", &[], 400).unwrap(),
            map_svg(
                "e",
                "v",
                &[MapArea {
                    rings: vec![],
                    value: Some(1.0),
                }],
                400,
            )
            .unwrap(),
        ] {
            assert!(svg.starts_with("<svg"));
            assert!(svg.contains("no data"));
        }
    }

    #[test]
    fn degenerate_inputs_do_not_panic() {
        let single = vec![series("one", &[(5.0, 0.5)])];
        let flat = vec![series("flat", &[(1.0, 3.0), (2.0, 3.0), (3.0, 3.0)])];
        let same_x = vec![series("same x", &[(2.0, 0.1), (2.0, 0.9)])];
        let nan = vec![series(
            "nan",
            &[
                (f64::NAN, 0.1),
                (1.0, f64::NAN),
                (f64::INFINITY, 0.5),
                (2.0, 0.7),
                (-1.0, 0.2),
                (0.0, 0.3),
            ],
        )];
        let zero = vec![series("zero", &[(0.0, 0.0), (0.0, 0.0)])];
        let huge = vec![series("huge", &[(-1e300, 0.0), (1e300, 1.0)])];
        for s in [&single, &flat, &same_x, &nan, &zero, &huge] {
            for log in [false, true] {
                assert!(cdf_svg("c", "s", s, log).unwrap().starts_with("<svg"));
            }
            assert!(time_series_svg("t", "v", s).unwrap().starts_with("<svg"));
        }
        for bars in [
            vec![("only".to_string(), 0.0)],
            vec![("a".to_string(), 5.0), ("b".to_string(), 5.0)],
            vec![("neg".to_string(), -3.0), ("pos".to_string(), 2.0)],
            vec![("nan".to_string(), f64::NAN), ("ok".to_string(), 1.0)],
            vec![
                ("x".repeat(300), 1e9),
                ("深圳宝安区西乡街道".to_string(), 1e-9),
            ],
        ] {
            assert!(bars_svg("b", "v", &bars).unwrap().starts_with("<svg"));
        }
        let maps = [
            vec![
                square(0.0, 0.0, 10.0, Some(2.0)),
                square(20.0, 0.0, 10.0, Some(2.0)),
            ],
            vec![square(0.0, 0.0, 10.0, None)],
            vec![square(0.0, 0.0, 10.0, Some(f64::NAN))],
            vec![MapArea {
                rings: vec![vec![(1.0, 1.0)]],
                value: Some(1.0),
            }],
            vec![MapArea {
                rings: vec![vec![(0.0, 0.0), (0.0, 50.0), (f64::NAN, 3.0)]],
                value: Some(1.0),
            }],
            vec![MapArea {
                rings: vec![vec![(0.0, 0.0), (1e5, 0.0), (1e5, 1.0)]],
                value: Some(1.0),
            }],
        ];
        for areas in &maps {
            assert!(map_svg("m", "v", areas, 0).unwrap().starts_with("<svg"));
        }
    }

    #[test]
    fn map_colours_follow_values() {
        let areas = vec![
            square(0.0, 0.0, 100.0, Some(0.0)),
            square(100.0, 0.0, 100.0, Some(1.0)),
        ];
        let svg = map_svg("two", "v", &areas, 400).unwrap();
        let fills: Vec<&str> = svg
            .lines()
            .filter(|l| l.contains("<polygon"))
            .filter_map(|l| l.split("fill=\"").nth(1))
            .filter_map(|s| s.split('"').next())
            .collect();
        assert_eq!(fills.len(), 2);
        assert_ne!(fills[0], fills[1]);
        assert_eq!(fills[0], "#440154");
        assert_eq!(fills[1], "#FDE725");
    }

    #[test]
    fn map_keeps_aspect_ratio() {
        let svg = map_svg(
            "wide",
            "v",
            &[MapArea {
                rings: vec![vec![(0.0, 0.0), (400.0, 0.0), (400.0, 100.0), (0.0, 100.0)]],
                value: Some(1.0),
            }],
            424,
        )
        .unwrap();
        let pts = svg
            .lines()
            .find(|l| l.contains("<polygon"))
            .and_then(|l| l.split("points=\"").nth(1))
            .unwrap();
        let xy: Vec<(i32, i32)> = pts
            .split_whitespace()
            .take_while(|s| !s.starts_with('/'))
            .filter_map(|p| p.trim_end_matches('"').split_once(','))
            .map(|(x, y)| (x.parse().unwrap(), y.parse().unwrap()))
            .collect();
        let w = xy.iter().map(|p| p.0).max().unwrap() - xy.iter().map(|p| p.0).min().unwrap();
        let h = xy.iter().map(|p| p.1).max().unwrap() - xy.iter().map(|p| p.1).min().unwrap();
        assert_eq!((w, h), (400, 100));
    }

    #[test]
    fn large_map_is_fast_and_compact() {
        let mut areas = Vec::new();
        for i in 0..4866 {
            let (cx, cy) = (f64::from(i % 70) * 300.0, f64::from(i / 70) * 300.0);
            let ring: Vec<(f64, f64)> = (0..20)
                .map(|k| {
                    let a = f64::from(k) / 20.0 * std::f64::consts::TAU;
                    (cx + 140.0 * a.cos(), cy + 140.0 * a.sin())
                })
                .collect();
            let value = if i % 17 == 0 {
                None
            } else {
                Some(f64::from(i % 101))
            };
            areas.push(MapArea {
                rings: vec![ring],
                value,
            });
        }
        let start = std::time::Instant::now();
        let svg = map_svg("big", "v", &areas, 900).unwrap();
        let took = start.elapsed();
        assert!(took.as_secs_f64() < 1.0, "took {took:?}");
        assert_eq!(svg.matches("<polygon").count(), 4866);
        assert!(svg.len() < 1_500_000, "svg is {} bytes", svg.len());
    }

    #[test]
    fn simplify_keeps_turning_points() {
        assert_eq!(
            simplify([(0, 0), (0, 0), (1, 0), (2, 0), (2, 5)]),
            vec![(0, 0), (2, 0), (2, 5)]
        );
        assert_eq!(
            simplify([(0, 0), (0, 9), (0, 3)]),
            vec![(0, 0), (0, 9), (0, 3)]
        );
    }

    #[test]
    fn tick_labels_are_clean() {
        let a = Axis::linear(0.0, 0.7, 7, nice_step);
        let labels: Vec<String> = a.ticks.iter().map(|&t| a.label(t)).collect();
        assert_eq!(
            labels,
            ["0.0", "0.1", "0.2", "0.3", "0.4", "0.5", "0.6", "0.7"]
        );
        let l = Axis::log10(0.05f64.log10(), 200f64.log10());
        let labels: Vec<String> = l.ticks.iter().map(|&t| l.label(t)).collect();
        assert!(
            labels.contains(&"0.1".to_string()) && labels.contains(&"100".to_string()),
            "{labels:?}"
        );
        let q = Axis::linear(-20.0, 120.0, 6, nice_step);
        assert_eq!(q.label(q.ticks[0]), "-25");
        let q = Axis::linear(0.0, 1.4, 6, nice_step);
        assert_eq!(q.label(q.ticks[1]), "0.25");
        assert_eq!(fmt_sig(-0.0), "0");
        assert_eq!(fmt_sig(2.5e6), "2.5e6");
        assert_eq!(fmt_sig(f64::NAN), "n/a");
        assert_eq!(fmt_sig(1234.6), "1235");
        assert_eq!(fmt_sig(0.01234), "0.0123");
    }
}
