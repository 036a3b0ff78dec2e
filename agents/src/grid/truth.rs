//! The truth of the grid loop: items that really occur in grids, when, and whether they have
//! really been fixed — and residents who call the 12345 hotline about them.

use std::collections::HashMap;

use baoan_api::catalogue;
use baoan_api::{Command, Envelope, ReportSource, TaskId};
use baoan_world::Twin;
use baoan_world::bridge::ToStack;
use baoan_world::kernel::{Agenda, Journal, SimClock, Streams};
use bevy_ecs::prelude::*;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Exp, Poisson};
use serde::Serialize;

use super::GridConfig;
use super::inspectors::InspectorAction;
use crate::staff;
use crate::video::VideoNetwork;

/// Hotline reports carry the item id with this bit set, so the two reports of one item differ.
pub const HOTLINE_REF: u64 = crate::registry::tags::GRID_MORE.tag(0);

/// The grid loop's set-up (its directory) and the report's queries of the stack.
pub const TAG_SETUP: u64 = crate::registry::tags::GRID_MORE.tag(1);

/// Video reports carry the item id with this tag (the centres' operators and automated
/// detection report through a dispatcher).
pub const VIDEO_REF: u64 = crate::registry::tags::GRID_MORE.tag(2);

/// Supervisors' reassignments of escalated tasks carry the task id with this tag.
pub const TAG_SUPERVISOR: u64 = crate::registry::tags::GRID_MORE.tag(3);

#[derive(Debug, Clone, Serialize)]
pub struct Item {
    pub grid: u32,
    pub item_type: u16,
    pub occurred_at: u64,
    /// When the platform first heard of it (a report accepted or merged).
    pub reported_at: Option<u64>,
    pub first_source: Option<ReportSource>,
    pub task: Option<TaskId>,
    /// Really fixed on the ground (not just marked so).
    pub fixed: bool,
    /// A hotline report of it was folded into another item's task.
    pub merged_elsewhere: bool,
    /// Where it lies on its grid's patrol sweep (0..1).
    pub phase: f64,
    /// When the inspector or a resident would have reported it, were there no video.
    pub without_video_at: Option<u64>,
}

/// Items not yet closed, and the tallies of all items.
#[derive(Resource, Default)]
pub struct GridTruth {
    pub items: HashMap<u64, Item>,
    pub next_id: u64,
    pub occurred: u64,
    pub occurred_by_hour: [u64; 24],
    pub occurred_by_grid: Vec<u32>,
    pub hotline_calls: u64,
    pub hotline_calls_skipped_fixed: u64,
    /// Camera-visible items in a channel's view; video reports sent; those the video found
    /// already on the platform (or fixed).
    pub video_in_view: u64,
    pub video_reports: u64,
    pub video_already_known: u64,
    pub inspector_reports: u64,
    pub on_spot_reports: u64,
    pub skipped_already_reported: u64,
    cumulative_weights: Vec<f64>,
    streams: Option<(ChaCha8Rng, ChaCha8Rng)>,
    video_rng: Option<ChaCha8Rng>,
    grid_streams: Vec<ChaCha8Rng>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TruthAction {
    /// An item comes into being in a grid; `u` picks its type.
    Occur {
        grid: u32,
        u: f64,
    },
    HotlineCall {
        item: u64,
    },
    /// Automated detection or an operator's video patrol finds it on a channel.
    VideoReport {
        item: u64,
    },
}

impl GridTruth {
    fn item_type(&self, u: f64) -> u16 {
        let total = *self
            .cumulative_weights
            .last()
            .expect("catalogue is non-empty");
        let i = self.cumulative_weights.partition_point(|&c| c <= u * total);
        catalogue::item_types()[i.min(self.cumulative_weights.len() - 1)].code
    }
}

/// When the grid's inspector first notices an item that occurred at `t`: the patrol sweeps the
/// grid once per `sweep_ms` during each shift; the item lies at a fixed point of the sweep
/// (`phase`), and each pass notices it with `detect_probability`. `None` if not before `until`.
pub fn discovery_time(
    t: u64,
    phase: f64,
    config: &GridConfig,
    until: u64,
    rng: &mut ChaCha8Rng,
) -> Option<u64> {
    let day_ms = 86_400_000;
    let mut day = t / day_ms;
    while day * day_ms < until {
        for &(start, end) in &config.shifts {
            let shift_start = day * day_ms + start;
            let shift_end = day * day_ms + end;
            let mut pass = shift_start + (phase * config.sweep_ms as f64) as u64;
            while pass < shift_end {
                if pass >= until {
                    return None;
                }
                if pass >= t && rng.random::<f64>() < config.detect_probability {
                    return Some(pass);
                }
                pass += config.sweep_ms;
            }
        }
        day += 1;
    }
    None
}

/// At the top of each simulated hour, draw the hour's items for every grid (Poisson, thinned for
/// surges); each comes into being at its own moment.
pub fn plant_items(
    clock: Res<SimClock>,
    streams: Res<Streams>,
    twin: Res<Twin>,
    config: Res<GridConfig>,
    mut truth: ResMut<GridTruth>,
    mut truth_agenda: ResMut<Agenda<TruthAction>>,
) {
    if !clock.now_ms.is_multiple_of(3_600_000) || config.items_per_grid_per_day <= 0.0 {
        return;
    }
    let truth = &mut *truth;
    if truth.streams.is_none() {
        let types = catalogue::item_types();
        truth.cumulative_weights = types
            .iter()
            .scan(0.0, |acc, t| {
                *acc += t.weight;
                Some(*acc)
            })
            .collect();
        truth.streams = Some((
            streams.0.stream("grid/patrol"),
            streams.0.stream("grid/hotline"),
        ));
        truth.video_rng = Some(streams.0.stream("grid/video"));
        truth.grid_streams = (0..twin.district.grids.len())
            .map(|g| streams.0.stream_for("grid/items", g as u64))
            .collect();
        truth.occurred_by_grid = vec![0; twin.district.grids.len()];
    }
    let hour_start = clock.now_ms;
    let hour_end = (hour_start + 3_600_000).min(config.end_ms);
    let span_ms = hour_end - hour_start;
    let base =
        config.items_per_grid_per_day / 24.0 * config.hourly[clock.hour_of_day()] * span_ms as f64
            / 3_600_000.0;
    let mut planted = Vec::new();
    for grid in &twin.district.grids {
        // The most the surges can raise the rate within this hour, for thinning.
        let peak: f64 = config
            .surges
            .iter()
            .filter(|w| {
                w.start_ms < hour_end && w.end_ms > hour_start && w.streets[grid.street as usize]
            })
            .map(|w| w.multiplier.max(1.0))
            .product();
        let lambda = base * peak;
        if lambda <= 0.0 {
            continue;
        }
        let rng = &mut truth.grid_streams[grid.id as usize];
        let n = Poisson::new(lambda).expect("positive rate").sample(rng) as u64;
        let mut times: Vec<(u64, f64)> = (0..n)
            .map(|_| {
                (
                    hour_start + rng.random_range(0..span_ms),
                    rng.random::<f64>(),
                )
            })
            .collect();
        times.sort_unstable_by_key(|&(t, _)| t);
        for (t, u) in times {
            if rng.random::<f64>() * peak >= config.multiplier(t, grid.street) {
                continue;
            }
            planted.push((grid.id, t, u));
        }
    }
    for (grid, t, u) in planted {
        truth_agenda.schedule(t, TruthAction::Occur { grid, u });
    }
}

/// Items come into being (and with them what follows from the truth: the inspector's discovery,
/// perhaps a resident's call), and residents call about items unless visibly fixed.
pub fn occur_and_call(
    clock: Res<SimClock>,
    config: Res<GridConfig>,
    video: Res<VideoNetwork>,
    mut truth: ResMut<GridTruth>,
    mut journal: ResMut<Journal>,
    mut agenda: ResMut<Agenda<TruthAction>>,
    mut inspector_agenda: ResMut<Agenda<InspectorAction>>,
    mut out: MessageWriter<ToStack>,
) {
    let truth = &mut *truth;
    while let Some((at, action)) = agenda.pop_before(clock.tick_end()) {
        match action {
            TruthAction::Occur { grid, u } => {
                let id = truth.next_id;
                truth.next_id += 1;
                let item_type = truth.item_type(u);
                truth.occurred += 1;
                truth.occurred_by_hour[baoan_world::kernel::hour_of_day(at)] += 1;
                truth.occurred_by_grid[grid as usize] += 1;
                let (patrol, hotline) = truth.streams.as_mut().expect("initialised when planting");
                let phase: f64 = patrol.random();
                let mut without_video_at = None;
                if let Some(seen) = discovery_time(at, phase, &config, config.end_ms, patrol) {
                    without_video_at = Some(seen + config.report_delay_ms);
                    inspector_agenda.schedule(
                        seen + config.report_delay_ms,
                        InspectorAction::Report {
                            item: id,
                            seen_at: seen,
                        },
                    );
                }
                if hotline.random::<f64>() < config.hotline_share {
                    let delay =
                        Exp::new(1.0 / config.hotline_delay_ms as f64).expect("positive delay");
                    let call_at = at + delay.sample(hotline) as u64;
                    if call_at < config.end_ms {
                        agenda.schedule(call_at.max(at), TruthAction::HotlineCall { item: id });
                        without_video_at = without_video_at.min(Some(call_at)).or(Some(call_at));
                    }
                }
                let rng = truth.video_rng.as_mut().expect("set when planting");
                let find = video_finds(&video, grid, item_type, at, rng);
                if find != VideoFind::OutOfView {
                    truth.video_in_view += 1;
                }
                if let VideoFind::Found(t) = find
                    && t < config.end_ms
                {
                    agenda.schedule(t, TruthAction::VideoReport { item: id });
                }
                journal.record(
                    at,
                    "item_occurred",
                    &serde_json::json!({"item": id, "grid": grid, "item_type": item_type}),
                );
                truth.items.insert(
                    id,
                    Item {
                        grid,
                        item_type,
                        occurred_at: at,
                        reported_at: None,
                        first_source: None,
                        task: None,
                        fixed: false,
                        merged_elsewhere: false,
                        phase,
                        without_video_at,
                    },
                );
            }
            TruthAction::VideoReport { item } => {
                let Some(it) = truth
                    .items
                    .get(&item)
                    .filter(|it| !it.fixed && it.task.is_none())
                else {
                    // Fixed, or already a task the operator sees on the platform's map.
                    truth.video_already_known += 1;
                    continue;
                };
                submit(&mut out, at, item | VIDEO_REF, ReportSource::Video, it);
                truth.video_reports += 1;
            }
            TruthAction::HotlineCall { item } => {
                let Some(it) = truth.items.get(&item) else {
                    truth.hotline_calls_skipped_fixed += 1;
                    continue;
                };
                if it.fixed {
                    truth.hotline_calls_skipped_fixed += 1;
                    continue;
                }
                submit(&mut out, at, item | HOTLINE_REF, ReportSource::Hotline, it);
                truth.hotline_calls += 1;
            }
        }
    }
}

/// A centre's dispatcher enters a report of an item (a resident's call, a video find).
fn submit(
    out: &mut MessageWriter<ToStack>,
    at: u64,
    report_ref: u64,
    source: ReportSource,
    it: &Item,
) {
    out.write(ToStack {
        envelope: Envelope {
            actor: staff::HOTLINE,
            sent_at: at,
            command: Command::SubmitReport {
                report_ref,
                source,
                grid: it.grid,
                item_type: it.item_type,
                observed_at: at,
                resolved_on_spot: false,
            },
        },
        client_ref: report_ref,
    });
}

/// What the video network makes of an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VideoFind {
    /// Not a camera-visible type, or in no channel's view (or the video is off).
    OutOfView,
    /// In view, but nobody looked at the right moment.
    Missed,
    /// Found at this time.
    Found(u64),
}

/// Whether the video network finds an item of a camera-visible type that occurred at `at` in
/// a grid: the item is in some channel's view with the grid's coverage; automated detection
/// finds its share after its delay, else operators' video patrol finds its share.
pub fn video_finds(
    video: &VideoNetwork,
    grid: u32,
    item_type: u16,
    at: u64,
    rng: &mut ChaCha8Rng,
) -> VideoFind {
    let v = &video.settings;
    if !v.enabled || !crate::video::visible(item_type) {
        return VideoFind::OutOfView;
    }
    if rng.random::<f64>() >= video.coverage(grid) {
        return VideoFind::OutOfView;
    }
    let u: f64 = rng.random();
    if u < v.automated_share {
        VideoFind::Found(at + crate::exp_wait(rng, v.automated_delay.ms() as f64))
    } else if u < v.automated_share + (1.0 - v.automated_share) * v.patrol_share {
        VideoFind::Found(at + crate::exp_wait(rng, v.patrol_delay.ms() as f64))
    } else {
        VideoFind::Missed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn config() -> GridConfig {
        GridConfig {
            items_per_grid_per_day: 8.0,
            hourly: [1.0; 24],
            hotline_share: 0.2,
            hotline_delay_ms: 3_600_000,
            on_spot_share: 0.5,
            rework_share: 0.1,
            resolver_staffing: 1.0,
            shifts: vec![
                (8 * 3_600_000, 12 * 3_600_000),
                (14 * 3_600_000, 18 * 3_600_000),
            ],
            sweep_ms: 7_200_000,
            detect_probability: 1.0,
            report_delay_ms: 0,
            surges: vec![],
            end_ms: 3 * 86_400_000,
            backlog_every_ms: 600_000,
            supervision: None,
            resolve_retry_ms: 60_000,
        }
    }

    #[test]
    fn an_item_is_found_on_the_first_pass_after_it_occurs_within_a_shift() {
        let c = config();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        // Occurs at 09:00; phase 0.25 of a 2 h sweep passes at 08:30, 10:30, 14:30, 16:30.
        let t = discovery_time(9 * 3_600_000, 0.25, &c, c.end_ms, &mut rng);
        assert_eq!(t, Some(10 * 3_600_000 + 1_800_000));
        // Occurs at night: found on the next morning's pass.
        let t = discovery_time(20 * 3_600_000, 0.25, &c, c.end_ms, &mut rng);
        assert_eq!(t, Some(86_400_000 + 8 * 3_600_000 + 1_800_000));
    }

    #[test]
    fn nothing_is_found_after_the_run_ends_and_a_blind_patrol_finds_less() {
        let mut c = config();
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        assert_eq!(
            discovery_time(19 * 3_600_000, 0.5, &c, 20 * 3_600_000, &mut rng),
            None
        );
        c.detect_probability = 0.3;
        let found = (0..1000)
            .filter(|i| {
                discovery_time(
                    9 * 3_600_000,
                    (*i as f64) / 1000.0,
                    &c,
                    12 * 3_600_000,
                    &mut rng,
                )
                .is_some()
            })
            .count();
        assert!((150..450).contains(&found), "{found}");
    }
}
