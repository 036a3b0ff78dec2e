//! SVG plots of a knee search and a soak (plotters' SVG backend).

use std::error::Error;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::knee::KneeResult;
use crate::soak::SoakResult;

type Drawn = Result<(), Box<dyn Error>>;

const P50: RGBColor = RGBColor(78, 121, 167);
const P99: RGBColor = RGBColor(242, 142, 43);
const P999: RGBColor = RGBColor(225, 87, 89);
const SERVICE: RGBColor = RGBColor(89, 161, 79);
const SLO: RGBColor = RGBColor(60, 60, 60);
const KNEE: RGBColor = RGBColor(176, 122, 161);
const HARNESS: RGBColor = RGBColor(118, 183, 178);

/// Smallest latency placed on a log axis (0 would have no place).
const FLOOR_MS: f64 = 0.001;

fn render(
    width: u32,
    height: u32,
    draw: impl FnOnce(&DrawingArea<SVGBackend, Shift>) -> Drawn,
) -> Result<String, String> {
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        draw(&root).map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(buf)
}

/// A log range around `values` (and `also`), a little wider than the data.
fn log_range(values: impl Iterator<Item = f64>, also: &[f64]) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, 0.0f64);
    for v in values.chain(also.iter().copied()).filter(|v| v.is_finite()) {
        let v = v.max(FLOOR_MS);
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return (0.1, 10.0);
    }
    (lo / 1.5, hi * 1.5)
}

/// A line with a dot at each point, named in the legend.
fn line<DB: DrawingBackend, Y: Ranged<ValueType = f64>>(
    chart: &mut ChartContext<DB, Cartesian2d<plotters::coord::types::RangedCoordf64, Y>>,
    name: &str,
    color: RGBColor,
    points: Vec<(f64, f64)>,
) -> Drawn
where
    DB::ErrorType: 'static,
{
    chart
        .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))
        .map_err(|e| e.to_string())?
        .label(name)
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
    chart
        .draw_series(
            points
                .into_iter()
                .map(|p| Circle::new(p, 3, color.filled())),
        )
        .map_err(|e| e.to_string())?;
    Ok(())
}

/// Latency (ms, log scale) against offered rate: p50, p99 and p99.9 corrected and p99 service,
/// the SLO as a horizontal line and the knee as a vertical one.
pub(crate) fn knee_svg(r: &KneeResult) -> Result<String, String> {
    let steps = &r.steps;
    let xmax = steps
        .iter()
        .map(|s| s.result.offered_rate)
        .fold(1.0f64, f64::max)
        * 1.05;
    let (ylo, yhi) = log_range(
        steps.iter().flat_map(|s| {
            [
                s.result.corrected.p50_ms,
                s.result.corrected.p99_ms,
                s.result.corrected.p999_ms,
                s.result.service.p99_ms,
            ]
        }),
        &[r.slo_p99_ms],
    );
    let series = |f: fn(&crate::StepResult) -> f64| -> Vec<(f64, f64)> {
        steps
            .iter()
            .map(|s| (s.result.offered_rate, f(&s.result).max(FLOOR_MS)))
            .collect()
    };
    render(900, 560, |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(
                format!("Latency against offered rate — {}", r.base_url),
                ("sans-serif", 20),
            )
            .margin(14)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .build_cartesian_2d(0.0..xmax, (ylo..yhi).log_scale())?;
        chart
            .configure_mesh()
            .x_desc("offered rate (reports/s)")
            .y_desc("latency (ms, log scale)")
            .light_line_style(RGBColor(235, 235, 235))
            .draw()?;
        line(
            &mut chart,
            "p50 corrected",
            P50,
            series(|s| s.corrected.p50_ms),
        )?;
        line(
            &mut chart,
            "p99 corrected",
            P99,
            series(|s| s.corrected.p99_ms),
        )?;
        line(
            &mut chart,
            "p99.9 corrected",
            P999,
            series(|s| s.corrected.p999_ms),
        )?;
        line(
            &mut chart,
            "p99 service",
            SERVICE,
            series(|s| s.service.p99_ms),
        )?;
        chart
            .draw_series(LineSeries::new(
                [(0.0, r.slo_p99_ms), (xmax, r.slo_p99_ms)],
                SLO.stroke_width(1),
            ))?
            .label(format!("SLO p99 {} ms", r.slo_p99_ms))
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], SLO));
        if let Some(k) = r.knee_rate {
            chart
                .draw_series(LineSeries::new([(k, ylo), (k, yhi)], KNEE.stroke_width(2)))?
                .label(format!("knee {k:.0} reports/s"))
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], KNEE.stroke_width(2)));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(200, 200, 200))
            .draw()?;
        Ok(())
    })
}

/// Two charts: p99 latency over time (corrected and service, log scale) and resident memory of
/// the server and the harness (MiB) over time; the end of the warm-up marked on both.
pub(crate) fn soak_svg(r: &SoakResult) -> Result<String, String> {
    let xmax = r.samples.iter().map(|s| s.elapsed_s).fold(1.0f64, f64::max);
    let (ylo, yhi) = log_range(
        r.samples
            .iter()
            .flat_map(|s| [s.corrected_p99_ms, s.service_p99_ms]),
        &[],
    );
    let mib = |b: Option<u64>| b.map(|b| b as f64 / 1_048_576.0);
    let server: Vec<(f64, f64)> = r
        .samples
        .iter()
        .filter_map(|s| Some((s.elapsed_s, mib(s.server_rss_bytes)?)))
        .collect();
    let harness: Vec<(f64, f64)> = r
        .samples
        .iter()
        .filter_map(|s| Some((s.elapsed_s, mib(s.harness_rss_bytes)?)))
        .collect();
    let mem_max = server
        .iter()
        .chain(&harness)
        .map(|p| p.1)
        .fold(1.0f64, f64::max)
        * 1.15;
    render(900, 860, |root| {
        let (top, bottom) = root.split_vertically(430);
        let mut chart = ChartBuilder::on(&top)
            .caption(
                format!("Soak at {} reports/s — p99 latency per interval", r.rate),
                ("sans-serif", 20),
            )
            .margin(14)
            .x_label_area_size(40)
            .y_label_area_size(64)
            .build_cartesian_2d(0.0..xmax, (ylo..yhi).log_scale())?;
        chart
            .configure_mesh()
            .x_desc("seconds since start")
            .y_desc("latency (ms, log scale)")
            .light_line_style(RGBColor(235, 235, 235))
            .draw()?;
        let p = |f: fn(&crate::SoakSample) -> f64| -> Vec<(f64, f64)> {
            r.samples
                .iter()
                .map(|s| (s.elapsed_s, f(s).max(FLOOR_MS)))
                .collect()
        };
        line(&mut chart, "p99 corrected", P99, p(|s| s.corrected_p99_ms))?;
        line(&mut chart, "p99 service", SERVICE, p(|s| s.service_p99_ms))?;
        if r.warmup_s > 0.0 {
            chart
                .draw_series(LineSeries::new(
                    [(r.warmup_s, ylo), (r.warmup_s, yhi)],
                    SLO.stroke_width(1),
                ))?
                .label("end of warm-up")
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], SLO));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(200, 200, 200))
            .draw()?;

        let mut chart = ChartBuilder::on(&bottom)
            .caption("Resident memory", ("sans-serif", 20))
            .margin(14)
            .x_label_area_size(40)
            .y_label_area_size(64)
            .build_cartesian_2d(0.0..xmax, 0.0..mem_max)?;
        chart
            .configure_mesh()
            .x_desc("seconds since start")
            .y_desc("MiB")
            .light_line_style(RGBColor(235, 235, 235))
            .draw()?;
        let server_name = if server.is_empty() {
            "server (not exposed in /metrics)"
        } else {
            "server"
        };
        line(&mut chart, server_name, P50, server)?;
        line(&mut chart, "harness", HARNESS, harness)?;
        if r.warmup_s > 0.0 {
            chart.draw_series(LineSeries::new(
                [(r.warmup_s, 0.0), (r.warmup_s, mem_max)],
                SLO.stroke_width(1),
            ))?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(200, 200, 200))
            .draw()?;
        Ok(())
    })
}
