//! What the grid loop measured: each task's timeline as the twin saw it (and the truth behind
//! it), latencies in HDR histograms, the backlog over time, and — at the end — the report
//! section, the plots and the invariants.

use std::collections::{BTreeMap, HashMap};

use baoan_api::catalogue::{self, Urgency};
use baoan_api::{Command, Outcome, ReportSource, TaskId};
use baoan_reports::html::{Section, Table};
use baoan_reports::plot::{self, Series};
use baoan_reports::{Hist, Invariant, Metrics, Summary, round3};
use baoan_world::bridge::{FromStack, PathFaults, Refused, StackDoor};
use baoan_world::geography::Street;
use baoan_world::kernel::{Journal, SimClock};
use baoan_world::{District, Twin};
use bevy_ecs::prelude::*;
use serde::Serialize;

use super::GridConfig;
use super::resolvers::Resolver;
use super::truth::{GridTruth, HOTLINE_REF, VIDEO_REF};
use crate::registry::TAG_MASK;
use crate::staff;

#[derive(Debug, Clone)]
struct TaskRecord {
    items: Vec<u64>,
    grid: u32,
    item_type: u16,
    urgency: Urgency,
    reported_at: u64,
    dispatched_at: Option<u64>,
    accepted_at: Option<u64>,
    /// The stack holds it accepted by its resolver now (a dispatch, reassignment or rework
    /// sends it back to be accepted again).
    accepted: bool,
    resolved_at: Option<u64>,
    deadline_at: Option<u64>,
    escalated: bool,
}

const MAX_NOTES: usize = 20;

/// The twin's ledger of the grid loop. Open tasks only: closed ones leave nothing behind but
/// their share of the histograms, so memory follows the backlog, not the run's length.
#[derive(Resource)]
pub struct GridLedger {
    tasks: HashMap<TaskId, TaskRecord>,
    closed: Vec<bool>,
    pub metrics: Metrics,
    per_type: Vec<Hist>,
    grid_closed: Vec<(u32, f64)>,
    grid_detected: Vec<(u32, f64)>,
    grid_overdue: Vec<u32>,
    pub tasks_created: u64,
    pub created_from_hotline: u64,
    pub reports_accepted: u64,
    pub reports_merged: u64,
    pub reports_refused: u64,
    pub false_merges: u64,
    pub dispatched: u64,
    pub unassigned: u64,
    pub reworks: u64,
    pub closed_count: u64,
    pub closed_overdue: u64,
    pub closed_unfixed: u64,
    pub items_closed: u64,
    pub escalated: u64,
    pub refused: u64,
    pub verifier_was_resolver: u64,
    /// Items first reported, by source; items the video found that nobody else would have
    /// reported within the run.
    pub first_by_source: BTreeMap<&'static str, u64>,
    pub video_only: u64,
    /// Supervisors' actions on escalated tasks.
    pub reassigned: u64,
    pub kept: u64,
    pub closed_twice: u64,
    pub after_close: u64,
    pub notes: Vec<String>,
}

impl Default for GridLedger {
    fn default() -> Self {
        Self {
            tasks: HashMap::new(),
            closed: Vec::new(),
            metrics: Metrics::default(),
            per_type: (0..catalogue::item_types().len())
                .map(|_| Hist::new(2))
                .collect(),
            grid_closed: Vec::new(),
            grid_detected: Vec::new(),
            grid_overdue: Vec::new(),
            tasks_created: 0,
            created_from_hotline: 0,
            reports_accepted: 0,
            reports_merged: 0,
            reports_refused: 0,
            false_merges: 0,
            dispatched: 0,
            unassigned: 0,
            reworks: 0,
            closed_count: 0,
            closed_overdue: 0,
            closed_unfixed: 0,
            items_closed: 0,
            escalated: 0,
            refused: 0,
            verifier_was_resolver: 0,
            first_by_source: BTreeMap::new(),
            video_only: 0,
            reassigned: 0,
            kept: 0,
            closed_twice: 0,
            after_close: 0,
            notes: Vec::new(),
        }
    }
}

impl GridLedger {
    pub fn task_grid(&self, task: TaskId) -> Option<u32> {
        self.tasks.get(&task).map(|t| t.grid)
    }
    pub fn task_items(&self, task: TaskId) -> Vec<u64> {
        self.tasks
            .get(&task)
            .map(|t| t.items.clone())
            .unwrap_or_default()
    }
    /// Whether the twin holds the task open (created, not yet closed).
    pub fn holds_open(&self, task: TaskId) -> bool {
        self.tasks.contains_key(&task)
    }

    /// Whether the task has escalated (it is then worked first).
    pub fn escalated(&self, task: TaskId) -> bool {
        self.tasks.get(&task).is_some_and(|t| t.escalated)
    }

    /// Whether the stack has the task accepted by its resolver now: a resolver marks it resolved
    /// only then, as the resolver's app allows.
    pub fn accepted(&self, task: TaskId) -> bool {
        self.tasks.get(&task).is_some_and(|t| t.accepted)
    }

    pub fn urgency(&self, task: TaskId) -> Option<Urgency> {
        self.tasks.get(&task).map(|t| t.urgency)
    }
    pub fn deadline(&self, task: TaskId) -> Option<u64> {
        self.tasks.get(&task).and_then(|t| t.deadline_at)
    }
    pub fn open_tasks(&self) -> usize {
        self.tasks.len()
    }

    fn note(&mut self, s: String) {
        if self.notes.len() < MAX_NOTES {
            self.notes.push(s);
        }
    }

    fn is_closed(&self, task: TaskId) -> bool {
        self.closed.get(task.0 as usize).copied().unwrap_or(false)
    }
}

fn ms_between(from: u64, to: u64) -> u64 {
    to.saturating_sub(from)
}

/// Outcomes and refusals of this tick, folded into the ledger and the truth.
pub fn take_outcomes(
    twin: Res<Twin>,
    mut ledger: ResMut<GridLedger>,
    mut truth: ResMut<GridTruth>,
    mut journal: ResMut<Journal>,
    mut outcomes: MessageReader<FromStack>,
    mut refusals: MessageReader<Refused>,
) {
    let ledger = &mut *ledger;
    if ledger.grid_closed.is_empty() {
        let n = twin.district.grids.len();
        ledger.grid_closed = vec![(0, 0.0); n];
        ledger.grid_detected = vec![(0, 0.0); n];
        ledger.grid_overdue = vec![0; n];
    }
    for msg in outcomes.read() {
        match &msg.outcome {
            // Reported when the inspector (or the hotline) sent it: a fault that held the
            // report on its way shows in report → dispatch, not in detection.
            Outcome::ReportAccepted { report_ref, task } => {
                ledger.report_accepted(&mut truth, *report_ref, *task, msg.sent_at)
            }
            Outcome::ReportMerged { report_ref, task } => {
                ledger.report_merged(&mut truth, *report_ref, *task)
            }
            other => ledger.task_outcome(&mut truth, &mut journal, other, msg.at),
        }
    }
    // Other loops count their own refusals.
    for r in refusals
        .read()
        .filter(|r| r.envelope.command.module() == baoan_api::Module::Grid)
    {
        ledger.refused += 1;
        if matches!(r.envelope.command, Command::SubmitReport { .. }) {
            ledger.reports_refused += 1;
        }
        let note = format!(
            "refused {} from {:?}: {}",
            r.envelope.command.kind(),
            r.envelope.actor.role,
            r.error
        );
        ledger.note(note);
    }
}

impl GridLedger {
    /// A report the stack took: the item's first report opens the twin's record of its task.
    fn report_accepted(&mut self, truth: &mut GridTruth, report_ref: u64, task: TaskId, at: u64) {
        self.reports_accepted += 1;
        if self.tasks.contains_key(&task) || self.is_closed(task) {
            return; // a repeated report answered with its first task
        }
        let item = report_ref & !(HOTLINE_REF | VIDEO_REF);
        let source = if report_ref & TAG_MASK == VIDEO_REF {
            ReportSource::Video
        } else if report_ref & TAG_MASK == HOTLINE_REF {
            ReportSource::Hotline
        } else {
            ReportSource::Inspector
        };
        let Some(it) = truth.items.get_mut(&item) else {
            self.note(format!("task {} for unknown item {item}", task.0));
            return;
        };
        it.task = Some(task);
        if it.reported_at.is_none() {
            it.reported_at = Some(at);
            it.first_source = Some(source);
            let delay = ms_between(it.occurred_at, at);
            self.metrics.hist("grid.detection_s").record_ms(delay);
            let name = source_name(source);
            *self.first_by_source.entry(name).or_default() += 1;
            self.metrics
                .hist(&format!("grid.{name}.detection_s"))
                .record_ms(delay);
            if source == ReportSource::Video {
                // What the video gained over the inspector's sweep or a resident's call.
                match it.without_video_at {
                    Some(w) => self
                        .metrics
                        .hist("grid.video.gain_s")
                        .record_ms(w.saturating_sub(at)),
                    None => self.video_only += 1,
                }
            }
            let g = &mut self.grid_detected[it.grid as usize];
            g.0 += 1;
            g.1 += delay as f64 / 1000.0;
        }
        let kind = catalogue::item_type(it.item_type);
        let urgency = kind.map_or(Urgency::Normal, |k| k.urgency);
        // The deadline runs from the report, whether or not the task is ever dispatched.
        let deadline_at = kind.map(|k| at + k.deadline_h as u64 * 3_600_000);
        self.tasks.insert(
            task,
            TaskRecord {
                items: vec![item],
                grid: it.grid,
                item_type: it.item_type,
                urgency,
                reported_at: at,
                dispatched_at: None,
                accepted_at: None,
                accepted: false,
                resolved_at: None,
                deadline_at,
                escalated: false,
            },
        );
        self.tasks_created += 1;
        self.created_from_hotline += (source == ReportSource::Hotline) as u64;
    }

    fn report_merged(&mut self, truth: &mut GridTruth, report_ref: u64, task: TaskId) {
        self.reports_merged += 1;
        let item = report_ref & !(HOTLINE_REF | VIDEO_REF);
        let same_item = self
            .tasks
            .get(&task)
            .is_some_and(|t| t.items.contains(&item));
        if let Some(it) = truth.items.get_mut(&item)
            && !same_item
            && it.task.is_none()
        {
            // The platform took a resident's call about this item as a repeat of another
            // item's task: nobody will fix this one unless the inspector reports it.
            it.merged_elsewhere = true;
            self.false_merges += 1;
        }
    }

    /// An outcome about a task the twin holds open; anything else is noted.
    fn task_outcome(
        &mut self,
        truth: &mut GridTruth,
        journal: &mut Journal,
        other: &Outcome,
        at: u64,
    ) {
        let Some(task) = task_of(other) else { return };
        if self.is_closed(task) {
            self.after_close += 1;
            self.note(format!("{other:?} for task {} after it closed", task.0));
            return;
        }
        if !self.tasks.contains_key(&task) {
            self.note(format!("{other:?} for a task the twin never saw created"));
            return;
        }
        if let Some(rec) = self.tasks.get_mut(&task) {
            match other {
                Outcome::TaskAccepted { .. } => rec.accepted = true,
                Outcome::TaskDispatched { .. }
                | Outcome::TaskReassigned { .. }
                | Outcome::TaskReworked { .. } => rec.accepted = false,
                _ => {}
            }
        }
        match other {
            Outcome::TaskDispatched { deadline_at, .. } => {
                self.task_dispatched(task, *deadline_at, at)
            }
            Outcome::TaskUnassigned { reason, .. } => {
                self.unassigned += 1;
                self.note(format!("task {} unassigned: {reason}", task.0));
            }
            Outcome::TaskAccepted { .. } => self.task_accepted(task, at),
            Outcome::VerificationRequested {
                verifier, resolver, ..
            } => self.verification_requested(task, *verifier, *resolver, at),
            Outcome::TaskReworked { .. } => self.reworks += 1,
            Outcome::TaskEscalated { .. } => self.task_escalated(task),
            Outcome::TaskReassigned { .. } => self.reassigned += 1,
            Outcome::TaskKept { .. } => self.kept += 1,
            Outcome::TaskClosed {
                at: closed_at,
                overdue,
                ..
            } => self.task_closed(truth, journal, task, *closed_at, *overdue),
            _ => {}
        }
    }

    fn task_dispatched(&mut self, task: TaskId, deadline_at: u64, at: u64) {
        let rec = self.tasks.get_mut(&task).expect("checked by the caller");
        rec.deadline_at = Some(deadline_at);
        if rec.resolved_at.is_some() {
            // A fix (the inspector's own, on the spot) failed verification and went to a
            // resolver: rework as much as a TaskReworked is.
            self.reworks += 1;
        }
        if rec.dispatched_at.is_none() {
            rec.dispatched_at = Some(at);
            self.dispatched += 1;
            // An on-spot fix that failed verification is dispatched only then: that is rework,
            // not the platform's dispatch latency.
            if rec.resolved_at.is_none() {
                self.metrics
                    .hist("grid.report_to_dispatch_s")
                    .record_ms(ms_between(rec.reported_at, at));
            }
        }
    }

    fn task_accepted(&mut self, task: TaskId, at: u64) {
        let rec = self.tasks.get_mut(&task).expect("checked by the caller");
        if rec.accepted_at.is_none() {
            rec.accepted_at = Some(at);
            let d = ms_between(rec.dispatched_at.unwrap_or(at), at);
            self.metrics.hist("grid.dispatch_to_accept_s").record_ms(d);
        }
    }

    fn verification_requested(
        &mut self,
        task: TaskId,
        verifier: baoan_api::PersonId,
        resolver: baoan_api::PersonId,
        at: u64,
    ) {
        let rec = self.tasks.get_mut(&task).expect("checked by the caller");
        let first = rec.resolved_at.is_none();
        rec.resolved_at = Some(at);
        if first && let Some(acc) = rec.accepted_at {
            self.metrics
                .hist("grid.accept_to_resolve_s")
                .record_ms(ms_between(acc, at));
        }
        if verifier == resolver {
            self.verifier_was_resolver += 1;
            self.note(format!(
                "task {}: verifier {} is the resolver",
                task.0, verifier.0
            ));
        }
    }

    fn task_escalated(&mut self, task: TaskId) {
        let rec = self.tasks.get_mut(&task).expect("checked by the caller");
        if !rec.escalated {
            rec.escalated = true;
            self.escalated += 1;
        }
    }

    /// A closed task leaves the ledger, its times go to the histograms and its items to the
    /// truth's closed count.
    fn task_closed(
        &mut self,
        truth: &mut GridTruth,
        journal: &mut Journal,
        task: TaskId,
        closed_at: u64,
        overdue: bool,
    ) {
        let rec = self.tasks.remove(&task).expect("checked by the caller");
        if self.closed.len() <= task.0 as usize {
            self.closed.resize(task.0 as usize + 1, false);
        }
        self.closed[task.0 as usize] = true;
        self.closed_count += 1;
        self.closed_overdue += overdue as u64;
        let total = ms_between(rec.reported_at, closed_at);
        if let Some(r) = rec.resolved_at {
            self.metrics
                .hist("grid.resolve_to_verify_s")
                .record_ms(ms_between(r, closed_at));
        }
        self.metrics
            .hist("grid.report_to_closed_s")
            .record_ms(total);
        self.metrics
            .hist(&format!("grid.{}.report_to_closed_s", rec.urgency.as_str()))
            .record_ms(total);
        self.per_type[rec.item_type as usize - 1].record_ms(total);
        let g = &mut self.grid_closed[rec.grid as usize];
        g.0 += 1;
        g.1 += total as f64 / 1000.0;
        self.grid_overdue[rec.grid as usize] += overdue as u32;
        for item in rec.items {
            if let Some(it) = truth.items.remove(&item) {
                self.items_closed += 1;
                self.closed_unfixed += (!it.fixed) as u64;
                self.metrics
                    .hist("grid.occurred_to_closed_s")
                    .record_ms(ms_between(it.occurred_at, closed_at));
            }
        }
        journal.record(
            closed_at,
            "task_closed",
            &serde_json::json!({"task": task.0, "overdue": overdue}),
        );
    }
}

fn task_of(o: &Outcome) -> Option<TaskId> {
    match o {
        Outcome::TaskDispatched { task, .. }
        | Outcome::TaskUnassigned { task, .. }
        | Outcome::TaskAccepted { task }
        | Outcome::VerificationRequested { task, .. }
        | Outcome::TaskReworked { task, .. }
        | Outcome::TaskClosed { task, .. }
        | Outcome::TaskEscalated { task, .. }
        | Outcome::TaskReassigned { task, .. }
        | Outcome::TaskKept { task, .. } => Some(*task),
        _ => None,
    }
}

/// The backlog over time, sampled at the scenario's interval.
pub fn sample_backlog(
    clock: Res<SimClock>,
    config: Res<GridConfig>,
    truth: Res<GridTruth>,
    mut ledger: ResMut<GridLedger>,
) {
    let end_of_tick = clock.tick_end();
    if !end_of_tick.is_multiple_of(config.backlog_every_ms) && end_of_tick != config.end_ms {
        return;
    }
    let hours = end_of_tick as f64 / 3_600_000.0;
    let open = ledger.tasks.len() as f64;
    let unreported = truth.items.values().filter(|i| i.task.is_none()).count() as f64;
    let escalated = ledger.tasks.values().filter(|t| t.escalated).count() as f64;
    ledger.metrics.push("grid.backlog_open", hours, open);
    ledger
        .metrics
        .push("grid.unreported_items", hours, unreported);
    ledger.metrics.push("grid.escalated_open", hours, escalated);
}

/// The grid loop's part of the report.
pub type GridOutcome = crate::LoopOutcome;

#[derive(Serialize)]
struct Counts {
    items_occurred: u64,
    items_first_reported_by_inspector: u64,
    items_first_reported_by_hotline: u64,
    items_unreported_at_end: u64,
    items_closed: u64,
    items_closed_but_not_fixed: u64,
    inspector_reports: u64,
    on_spot_reports: u64,
    hotline_calls: u64,
    hotline_calls_not_needed: u64,
    reports_merged: u64,
    false_merges: u64,
    tasks_created: u64,
    tasks_dispatched: u64,
    tasks_unassigned: u64,
    tasks_closed: u64,
    tasks_closed_overdue: u64,
    tasks_open_at_end: u64,
    tasks_open_past_deadline_at_end: u64,
    tasks_escalated: u64,
    reworks: u64,
    refused: u64,
}

#[derive(Serialize)]
struct TypeRow {
    code: u16,
    name_zh: &'static str,
    name_en: &'static str,
    department: &'static str,
    urgency: &'static str,
    deadline_h: u32,
    closed: u64,
    p50_s: f64,
    p90_s: f64,
}

#[derive(Serialize)]
struct StreetRow {
    code: String,
    name_zh: String,
    name_en: String,
    items: u64,
    tasks_closed: u64,
    mean_report_to_closed_s: f64,
    mean_detection_s: f64,
    overdue_share: f64,
}

#[derive(Serialize, Default)]
struct Grades {
    people: usize,
    a: usize,
    b: usize,
    c: usize,
    d: usize,
    mean_score: f64,
}

fn grades(r: &[baoan_api::Rating]) -> Grades {
    let mut g = Grades {
        people: r.len(),
        ..Grades::default()
    };
    for x in r {
        match x.grade {
            'A' => g.a += 1,
            'B' => g.b += 1,
            'C' => g.c += 1,
            _ => g.d += 1,
        }
    }
    g.mean_score = if r.is_empty() {
        0.0
    } else {
        round3(r.iter().map(|x| x.score).sum::<f64>() / r.len() as f64)
    };
    g
}

fn share(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        round3(a as f64 / b as f64)
    }
}

fn fmt_s(s: f64) -> String {
    if s >= 3600.0 {
        format!("{:.1} h", s / 3600.0)
    } else if s >= 60.0 {
        format!("{:.1} min", s / 60.0)
    } else {
        format!("{s:.1} s")
    }
}

/// What the end of the run reads: the district, the truth and the ledger, as they stand.
struct Books<'a> {
    now: u64,
    hours: f64,
    /// Inspectors' shift hours over the run, all grids.
    shift_hours: f64,
    district: &'a District,
    truth: &'a GridTruth,
    ledger: &'a GridLedger,
}

/// How the platform graded its people, as the report and the page show it.
#[derive(Serialize)]
struct Assessed {
    inspectors: Grades,
    resolvers: Grades,
    inspectors_with_misses: usize,
}

/// The resolvers' headcount and how busy they were over the run.
struct Staffing {
    resolvers: usize,
    utilisation: f64,
}

/// Close the books: query the stack for its backlog and assessment, check the invariants, and
/// produce the report section and the plots.
pub fn finish(world: &mut World, map_metric: &str) -> GridOutcome {
    let now = world.resource::<SimClock>().now_ms;
    // Reports a scenario fault still held when the run ended: sent, not yet answered.
    let reports_held = world.get_resource::<PathFaults>().map_or(0, |f| {
        f.held_at_end(|c| matches!(c, Command::SubmitReport { .. }))
    });
    let (stack_backlog, assessment) = (query_backlog(world, now), query_assessment(world, now));
    let twin = world.resource::<Twin>().clone();
    let hours = now as f64 / 3_600_000.0;
    let staffing = resolver_staffing(world, hours);
    let backlog_every_s = world.resource::<GridConfig>().backlog_every_ms / 1000;
    let supervision = world.resource::<GridConfig>().supervision.is_some();
    let world_video = world.get_resource::<crate::video::VideoNetwork>().map(|v| {
        (
            v.channels_per_grid.iter().sum::<u32>(),
            v.covered_grids(),
            v.settings.enabled,
        )
    });
    let inspector_time = world.get_resource::<crate::inspector_time::InspectorTime>();
    let shifts = world.resource::<GridConfig>().shifts.clone();
    let books = Books {
        now,
        hours,
        shift_hours: shift_hours(&shifts, now) * twin.district.grids.len() as f64,
        district: &twin.district,
        truth: world.resource::<GridTruth>(),
        ledger: world.resource::<GridLedger>(),
    };
    let counts = counts(&books);
    let metrics = grid_metrics(&books, &counts);
    let invariants = invariants(&books, reports_held, stack_backlog.as_ref());
    let by_street = by_street(&books);
    let assessed = assessed(assessment.as_ref());
    let section = serde_json::json!({
        "counts": counts,
        "figures": metrics.figures,
        "latency": latency(&metrics),
        "by_urgency": by_urgency(&metrics),
        "by_street": by_street,
        "by_source": by_source(&books, &metrics, world_video),
        "supervision": {
            "enabled": supervision,
            "reassigned": books.ledger.reassigned,
            "kept_with_resolver": books.ledger.kept,
        },
        "inspectors": inspectors_section(&books, inspector_time),
        "by_item_type": by_item_type(books.ledger),
        "occurred_by_hour": books.truth.occurred_by_hour,
        "backlog": backlog_section(&metrics, backlog_every_s),
        "staff": {
            "inspectors": books.district.grids.len(),
            "resolvers": staffing.resolvers,
            "resolver_utilisation": staffing.utilisation,
        },
        "assessment": assessed,
        "notes": books.ledger.notes,
    });
    let html = page(
        &books, &counts, &metrics, &by_street, &assessed, &staffing, map_metric,
    );
    GridOutcome {
        section,
        html,
        invariants,
        metrics,
        map: baoan_reports::map::MapLayers {
            metrics: map_metrics(&books),
            ..Default::default()
        },
    }
}

/// Ask the stack, as the analyst, what it holds at the end of the run.
fn ask_stack(
    world: &mut World,
    now: u64,
    command: Command,
) -> Result<Vec<Outcome>, baoan_api::ApiError> {
    StackDoor::call_after_run(world, now, staff::ANALYST, command, super::TAG_SETUP)
}

fn query_backlog(world: &mut World, now: u64) -> Option<baoan_api::Backlog> {
    match ask_stack(world, now, Command::QueryBacklog) {
        Ok(list) => list.into_iter().find_map(|o| {
            if let Outcome::Backlog { backlog } = o {
                Some(backlog)
            } else {
                None
            }
        }),
        Err(_) => None,
    }
}

fn query_assessment(world: &mut World, now: u64) -> Option<baoan_api::Assessment> {
    match ask_stack(world, now, Command::QueryAssessment) {
        Ok(list) => list.into_iter().find_map(|o| {
            if let Outcome::Assessment { assessment } = o {
                Some(assessment)
            } else {
                None
            }
        }),
        Err(_) => None,
    }
}

/// How many resolvers there are and the share of the run they spent working.
fn resolver_staffing(world: &World, hours: f64) -> Staffing {
    let busy_ms: u64 = world
        .iter_entities()
        .filter_map(|e| e.get::<Resolver>().map(|r| r.busy_ms))
        .sum();
    let resolvers = world
        .iter_entities()
        .filter(|e| e.contains::<Resolver>())
        .count();
    let utilisation = if resolvers == 0 || hours == 0.0 {
        0.0
    } else {
        round3(busy_ms as f64 / 3_600_000.0 / (resolvers as f64 * hours))
    };
    Staffing {
        resolvers,
        utilisation,
    }
}

fn counts(books: &Books) -> Counts {
    let (truth, ledger) = (books.truth, books.ledger);
    let unreported = truth
        .items
        .values()
        .filter(|i| i.reported_at.is_none())
        .count() as u64;
    let hotline_first = ledger.created_from_hotline;
    let open_past_deadline = ledger
        .tasks
        .values()
        .filter(|t| t.deadline_at.is_some_and(|d| d < books.now))
        .count() as u64;
    Counts {
        items_occurred: truth.occurred,
        items_first_reported_by_inspector: ledger.tasks_created - hotline_first,
        items_first_reported_by_hotline: hotline_first,
        items_unreported_at_end: unreported,
        items_closed: ledger.items_closed,
        items_closed_but_not_fixed: ledger.closed_unfixed,
        inspector_reports: truth.inspector_reports,
        on_spot_reports: truth.on_spot_reports,
        hotline_calls: truth.hotline_calls,
        hotline_calls_not_needed: truth.hotline_calls_skipped_fixed,
        reports_merged: ledger.reports_merged,
        false_merges: ledger.false_merges,
        tasks_created: ledger.tasks_created,
        tasks_dispatched: ledger.dispatched,
        tasks_unassigned: ledger.unassigned,
        tasks_closed: ledger.closed_count,
        tasks_closed_overdue: ledger.closed_overdue,
        tasks_open_at_end: ledger.tasks.len() as u64,
        tasks_open_past_deadline_at_end: open_past_deadline,
        tasks_escalated: ledger.escalated,
        reworks: ledger.reworks,
        refused: ledger.refused,
    }
}

/// The ledger's histograms, every declared latency (empty if nothing was measured), and the
/// loop's shares.
fn grid_metrics(books: &Books, counts: &Counts) -> Metrics {
    let (truth, ledger) = (books.truth, books.ledger);
    let unreported = counts.items_unreported_at_end;
    let open_past_deadline = counts.tasks_open_past_deadline_at_end;
    let hotline_first = counts.items_first_reported_by_hotline;
    let reported_items = truth.occurred - unreported;
    let mut metrics = ledger.metrics.clone();
    for def in baoan_scenarios::METRICS
        .iter()
        .filter(|m| m.kind == baoan_scenarios::MetricKind::Seconds && m.name.starts_with("grid."))
    {
        metrics.hist(def.name);
    }
    metrics.set(
        "grid.closed_share",
        share(ledger.closed_count, ledger.tasks_created),
    );
    metrics.set(
        "grid.overdue_share",
        share(
            ledger.closed_overdue + open_past_deadline,
            ledger.closed_count + open_past_deadline,
        ),
    );
    metrics.set(
        "grid.escalated_share",
        share(ledger.escalated, ledger.tasks_created),
    );
    metrics.set(
        "grid.rework_share",
        share(ledger.reworks, ledger.reworks + ledger.closed_count),
    );
    metrics.set(
        "grid.hotline_first_share",
        share(hotline_first, reported_items),
    );
    metrics.set("grid.unreported_share", share(unreported, truth.occurred));
    metrics.set("grid.rejected", ledger.refused as f64);
    metrics
}

fn invariants(
    books: &Books,
    reports_held: u64,
    stack_backlog: Option<&baoan_api::Backlog>,
) -> Vec<Invariant> {
    let (truth, ledger) = (books.truth, books.ledger);
    let reports_sent = truth.inspector_reports + truth.hotline_calls + truth.video_reports;
    let reports_answered = ledger.reports_accepted + ledger.reports_merged + ledger.reports_refused;
    vec![
        Invariant::check(
            "every report is accounted for",
            reports_sent == reports_answered + reports_held,
            format!(
                "{reports_sent} sent; {} accepted, {} merged, {} refused{}",
                ledger.reports_accepted,
                ledger.reports_merged,
                ledger.reports_refused,
                if reports_held > 0 {
                    format!(", {reports_held} still held by a scenario fault")
                } else {
                    String::new()
                }
            ),
        ),
        Invariant::check(
            "every item is closed, open on a task, or unreported",
            truth.occurred == ledger.items_closed + truth.items.len() as u64,
            format!(
                "{} occurred; {} closed, {} still open or unreported",
                truth.occurred,
                ledger.items_closed,
                truth.items.len()
            ),
        ),
        Invariant::check(
            "no task is both open and closed",
            ledger.closed_twice == 0 && ledger.after_close == 0,
            format!(
                "{} closed twice, {} outcomes after closing",
                ledger.closed_twice, ledger.after_close
            ),
        ),
        Invariant::check(
            "the verifier is never the resolver",
            ledger.verifier_was_resolver == 0,
            format!(
                "{} verifications requested of the resolver",
                ledger.verifier_was_resolver
            ),
        ),
        backlog_invariant(ledger, stack_backlog),
    ]
}

/// The stack's count of its tasks against the twin's.
fn backlog_invariant(ledger: &GridLedger, stack_backlog: Option<&baoan_api::Backlog>) -> Invariant {
    match stack_backlog {
        Some(b) => Invariant::check(
            "every task is closed or open with a state, as the stack and the twin both count",
            b.open() + b.closed == ledger.tasks_created
                && b.open() == ledger.tasks.len() as u64
                && b.closed == ledger.closed_count,
            format!(
                "stack: {} open ({} unassigned, {} dispatched, {} accepted, {} awaiting verification), {} closed; twin: {} created, {} open",
                b.open(),
                b.unassigned,
                b.dispatched,
                b.accepted,
                b.awaiting_verification,
                b.closed,
                ledger.tasks_created,
                ledger.tasks.len()
            ),
        ),
        None => Invariant::check(
            "the stack answers a backlog query",
            false,
            "no backlog returned",
        ),
    }
}

fn by_item_type(ledger: &GridLedger) -> Vec<TypeRow> {
    catalogue::item_types()
        .iter()
        .map(|t| {
            let h = &ledger.per_type[t.code as usize - 1];
            let s = h.summary();
            TypeRow {
                code: t.code,
                name_zh: t.name_zh.as_str(),
                name_en: t.name_en.as_str(),
                department: t.department.as_str(),
                urgency: t.urgency.as_str(),
                deadline_h: t.deadline_h,
                closed: s.count,
                p50_s: s.p50_s,
                p90_s: s.p90_s,
            }
        })
        .collect()
}

fn by_street(books: &Books) -> Vec<StreetRow> {
    books
        .district
        .streets
        .iter()
        .map(|s| street_row(books, s))
        .collect()
}

/// One street's figures, summed over its grids in their order.
fn street_row(books: &Books, s: &Street) -> StreetRow {
    let (truth, ledger) = (books.truth, books.ledger);
    let grids = s.grids.clone().map(|g| g as usize);
    let items: u64 = grids
        .clone()
        .map(|g| truth.occurred_by_grid.get(g).copied().unwrap_or(0) as u64)
        .sum();
    let (closed, sum) = grids.clone().fold((0u64, 0.0), |acc, g| {
        let c = ledger.grid_closed.get(g).copied().unwrap_or((0, 0.0));
        (acc.0 + c.0 as u64, acc.1 + c.1)
    });
    let (detected, dsum) = grids.clone().fold((0u64, 0.0), |acc, g| {
        let c = ledger.grid_detected.get(g).copied().unwrap_or((0, 0.0));
        (acc.0 + c.0 as u64, acc.1 + c.1)
    });
    let overdue: u64 = grids
        .map(|g| ledger.grid_overdue.get(g).copied().unwrap_or(0) as u64)
        .sum();
    StreetRow {
        code: s.code.clone(),
        name_zh: s.name_zh.clone(),
        name_en: s.name_en.clone(),
        items,
        tasks_closed: closed,
        mean_report_to_closed_s: if closed == 0 {
            0.0
        } else {
            round3(sum / closed as f64)
        },
        mean_detection_s: if detected == 0 {
            0.0
        } else {
            round3(dsum / detected as f64)
        },
        overdue_share: share(overdue, closed),
    }
}

/// One inspector's shift hours from the start of the run to `now`.
fn shift_hours(shifts: &[(u64, u64)], now: u64) -> f64 {
    let day = 86_400_000;
    let mut ms = 0;
    for d in 0..now.div_ceil(day) {
        for &(s, e) in shifts {
            let (a, b) = (d * day + s, (d * day + e).min(now));
            ms += b.saturating_sub(a);
        }
    }
    ms as f64 / 3_600_000.0
}

fn source_name(source: ReportSource) -> &'static str {
    match source {
        ReportSource::Inspector => "inspector",
        ReportSource::Hotline => "hotline",
        ReportSource::Video => "video",
    }
}

/// Detection (occurred → first reported) by the source that reported first, and what the
/// video network adds: items it found first, how much sooner than the inspector's sweep or a
/// resident's call, and those nobody else would have reported.
fn by_source(
    books: &Books,
    metrics: &Metrics,
    video: Option<(u32, usize, bool)>,
) -> serde_json::Value {
    let (truth, ledger) = (books.truth, books.ledger);
    let summary = |name: &str| metrics.seconds.get(name).map(|h| h.summary());
    let mut out = serde_json::Map::new();
    for source in ["inspector", "hotline", "video"] {
        out.insert(
            source.into(),
            serde_json::json!({
                "first_reports": ledger.first_by_source.get(source).copied().unwrap_or(0),
                "detection_s": summary(&format!("grid.{source}.detection_s")),
            }),
        );
    }
    let (channels, covered, enabled) = video.unwrap_or((0, 0, false));
    if let Some(serde_json::Value::Object(v)) = out.get_mut("video") {
        v.insert("enabled".into(), enabled.into());
        v.insert("channels".into(), channels.into());
        v.insert("grids_covered".into(), covered.into());
        v.insert("items_in_view".into(), truth.video_in_view.into());
        v.insert("reports_sent".into(), truth.video_reports.into());
        v.insert("already_known".into(), truth.video_already_known.into());
        v.insert("found_only_by_video".into(), ledger.video_only.into());
        v.insert(
            "gain_s".into(),
            serde_json::to_value(summary("grid.video.gain_s")).unwrap_or_default(),
        );
    }
    serde_json::Value::Object(out)
}

/// How the inspectors' shifts were spent: patrol hours, visit hours by what they were for, the
/// sweeps lost to visits and the findings that were wrong.
fn inspectors_section(
    books: &Books,
    time: Option<&crate::inspector_time::InspectorTime>,
) -> serde_json::Value {
    let Some(t) = time else {
        return serde_json::Value::Null;
    };
    let shift_h = books.shift_hours;
    let visit_h = t.total_visit_ms() as f64 / 3_600_000.0;
    serde_json::json!({
        "visits_take_patrol": t.takes_patrol,
        "shift_hours": round3(shift_h),
        "visit_hours": t.visit_ms.iter().map(|(k, v)| (*k, round3(*v as f64 / 3_600_000.0))).collect::<BTreeMap<_, _>>(),
        "visits": t.visits,
        "visit_share_of_shift": if shift_h > 0.0 { round3(visit_h / shift_h) } else { 0.0 },
        "patrol_hours": round3((shift_h - visit_h).max(0.0)),
        "sweeps_lost_to_visits": t.passes_lost,
        "visits_put_off_a_day_or_more": t.deferred,
        "mean_put_off_h": if t.deferred > 0 { round3(t.deferred_ms as f64 / t.deferred as f64 / 3_600_000.0) } else { 0.0 },
        "finding_error_share": t.error_share,
        "wrong_findings": t.wrong_findings,
    })
}

fn latency(metrics: &Metrics) -> BTreeMap<String, Summary> {
    metrics
        .seconds
        .iter()
        .map(|(k, h)| (k.clone(), h.summary()))
        .collect()
}

fn by_urgency(metrics: &Metrics) -> BTreeMap<&'static str, Option<Summary>> {
    Urgency::ALL
        .iter()
        .map(|u| {
            let key = format!("grid.{}.report_to_closed_s", u.as_str());
            (u.as_str(), metrics.seconds.get(&key).map(|h| h.summary()))
        })
        .collect()
}

fn backlog_section(metrics: &Metrics, every_s: u64) -> serde_json::Value {
    let values = |name: &str| {
        metrics
            .series
            .get(name)
            .map(|s| s.iter().map(|p| p.1).collect::<Vec<_>>())
    };
    serde_json::json!({
        "every_s": every_s,
        "open": values("grid.backlog_open"),
        "unreported_items": values("grid.unreported_items"),
    })
}

fn assessed(assessment: Option<&baoan_api::Assessment>) -> Assessed {
    let (inspectors, resolvers) = assessment.map_or((Grades::default(), Grades::default()), |a| {
        (grades(&a.inspectors), grades(&a.resolvers))
    });
    let inspectors_with_misses =
        assessment.map_or(0, |a| a.inspectors.iter().filter(|r| r.misses > 0).count());
    Assessed {
        inspectors,
        resolvers,
        inspectors_with_misses,
    }
}

/// The loop's part of the page: a summary, its tables and its plots.
fn page(
    books: &Books,
    counts: &Counts,
    metrics: &Metrics,
    by_street: &[StreetRow],
    assessed: &Assessed,
    staffing: &Staffing,
    map_metric: &str,
) -> Section {
    let mut html = Section {
        title: "Grid loop".into(),
        intro: intro(counts, staffing),
        ..Section::default()
    };
    html.tables.push(stage_table(metrics));
    html.tables.push(urgency_table(metrics));
    html.tables.push(source_table(books, metrics));
    html.tables.push(street_table(by_street));
    html.tables.push(assessment_table(assessed));
    for f in figures(books, metrics, map_metric) {
        match f {
            Ok(svg) => html.figures.push(svg),
            Err(e) => html.intro.push_str(&format!(" (a plot failed: {e})")),
        }
    }
    html
}

/// Detection by the source that reported an item first.
fn source_table(books: &Books, metrics: &Metrics) -> Table {
    Table {
        caption: "Detection (occurred → first reported) by who reported first".into(),
        header: ["source", "items first reported", "p50", "p90"]
            .map(String::from)
            .to_vec(),
        rows: [
            ("inspector", ReportSource::Inspector),
            ("hotline", ReportSource::Hotline),
            ("video", ReportSource::Video),
        ]
        .iter()
        .map(|(name, source)| {
            let s = summary_or_empty(
                metrics,
                &format!("grid.{}.detection_s", source_name(*source)),
            );
            vec![
                name.to_string(),
                books
                    .ledger
                    .first_by_source
                    .get(name)
                    .copied()
                    .unwrap_or(0)
                    .to_string(),
                format!("{:.0} s", s.p50_s),
                format!("{:.0} s", s.p90_s),
            ]
        })
        .collect(),
    }
}

fn intro(counts: &Counts, staffing: &Staffing) -> String {
    format!(
        "{} items occurred; {} were reported ({} first by a resident on the hotline), {} tasks closed ({} late), {} still open, {} items never reported by the end. Resolver utilisation {:.0}%.",
        counts.items_occurred,
        counts.items_occurred - counts.items_unreported_at_end,
        counts.items_first_reported_by_hotline,
        counts.tasks_closed,
        counts.tasks_closed_overdue,
        counts.tasks_open_at_end,
        counts.items_unreported_at_end,
        staffing.utilisation * 100.0
    )
}

/// A histogram's summary, or an empty one's where nothing was measured.
fn summary_or_empty(metrics: &Metrics, name: &str) -> Summary {
    metrics
        .seconds
        .get(name)
        .map(|h| h.summary())
        .unwrap_or_else(|| Hist::new(2).summary())
}

fn stage_table(metrics: &Metrics) -> Table {
    let stage_rows = [
        ("grid.detection_s", "occurred → reported"),
        ("grid.report_to_dispatch_s", "reported → dispatched"),
        ("grid.dispatch_to_accept_s", "dispatched → accepted"),
        ("grid.accept_to_resolve_s", "accepted → resolved"),
        ("grid.resolve_to_verify_s", "resolved → verified"),
        ("grid.report_to_closed_s", "reported → closed"),
        ("grid.occurred_to_closed_s", "occurred → closed"),
    ];
    Table {
        caption: "Closed-loop times".into(),
        header: ["stage", "count", "p50", "p90", "p99", "max"]
            .map(String::from)
            .to_vec(),
        rows: stage_rows
            .iter()
            .map(|(k, label)| {
                let s = summary_or_empty(metrics, k);
                vec![
                    label.to_string(),
                    s.count.to_string(),
                    fmt_s(s.p50_s),
                    fmt_s(s.p90_s),
                    fmt_s(s.p99_s),
                    fmt_s(s.max_s),
                ]
            })
            .collect(),
    }
}

fn urgency_table(metrics: &Metrics) -> Table {
    Table {
        caption: "Report → closed by urgency".into(),
        header: ["urgency", "closed", "p50", "p90", "p99"]
            .map(String::from)
            .to_vec(),
        rows: Urgency::ALL
            .iter()
            .map(|u| {
                let key = format!("grid.{}.report_to_closed_s", u.as_str());
                let s = summary_or_empty(metrics, &key);
                vec![
                    u.as_str().to_string(),
                    s.count.to_string(),
                    fmt_s(s.p50_s),
                    fmt_s(s.p90_s),
                    fmt_s(s.p99_s),
                ]
            })
            .collect(),
    }
}

fn street_table(by_street: &[StreetRow]) -> Table {
    Table {
        caption: "By street".into(),
        header: [
            "street",
            "items",
            "closed",
            "mean report → closed",
            "mean detection",
            "overdue share",
        ]
        .map(String::from)
        .to_vec(),
        rows: by_street
            .iter()
            .map(|s| {
                vec![
                    format!("{} {}", s.name_zh, s.name_en),
                    s.items.to_string(),
                    s.tasks_closed.to_string(),
                    fmt_s(s.mean_report_to_closed_s),
                    fmt_s(s.mean_detection_s),
                    format!("{:.1}%", s.overdue_share * 100.0),
                ]
            })
            .collect(),
    }
}

fn assessment_table(assessed: &Assessed) -> Table {
    Table {
        caption: "Automatic assessment (grades A-D)".into(),
        header: ["who", "people", "A", "B", "C", "D", "mean score"]
            .map(String::from)
            .to_vec(),
        rows: [
            ("inspectors", &assessed.inspectors),
            ("resolvers", &assessed.resolvers),
        ]
        .iter()
        .map(|(w, g)| {
            vec![
                w.to_string(),
                g.people.to_string(),
                g.a.to_string(),
                g.b.to_string(),
                g.c.to_string(),
                g.d.to_string(),
                format!("{:.1}", g.mean_score),
            ]
        })
        .collect(),
    }
}

/// The plots, in the page's order: closed-loop and detection CDFs, backlog, items by hour, map.
fn figures(
    books: &Books,
    metrics: &Metrics,
    map_metric: &str,
) -> [Result<String, plot::PlotError>; 5] {
    let backlog = |name: &str, label: &str| Series {
        name: label.into(),
        points: metrics.series.get(name).cloned().unwrap_or_default(),
    };
    let map_label = match map_metric {
        "detection_s" => "mean detection delay (h)",
        "items_per_day" => "items per day",
        "overdue_share" => "share of tasks closed late",
        _ => "mean report → closed (h)",
    };
    [
        plot::cdf_svg(
            "Report → closed, by urgency",
            "hours",
            &closed_cdfs(metrics),
            true,
        ),
        plot::cdf_svg(
            "Detection: occurred → first report",
            "hours",
            &[detection_cdf(metrics)],
            true,
        ),
        plot::time_series_svg(
            "Backlog over time",
            "items / tasks",
            &[
                backlog("grid.backlog_open", "open tasks"),
                backlog("grid.unreported_items", "unreported items"),
                backlog("grid.escalated_open", "escalated, open"),
            ],
        ),
        plot::bars_svg(
            "Items occurred by hour of day",
            "items",
            &books
                .truth
                .occurred_by_hour
                .iter()
                .enumerate()
                .map(|(h, n)| (format!("{h:02}:00"), *n as f64))
                .collect::<Vec<_>>(),
        ),
        crate::grid_map_svg(
            books.district,
            &format!("Grids by {map_label}"),
            map_label,
            map_values(books, map_metric).iter().copied(),
        ),
    ]
}

/// Report → closed per urgency, in hours.
fn closed_cdfs(metrics: &Metrics) -> Vec<Series> {
    Urgency::ALL
        .iter()
        .filter_map(|u| {
            metrics
                .seconds
                .get(&format!("grid.{}.report_to_closed_s", u.as_str()))
                .map(|h| (u, h))
        })
        .map(|(u, h)| Series {
            name: u.as_str().into(),
            points: h
                .cdf(400)
                .into_iter()
                .map(|(x, y)| (x / 3600.0, y))
                .collect(),
        })
        .collect()
}

/// Occurred → first report over all items, in hours.
fn detection_cdf(metrics: &Metrics) -> Series {
    let detection = metrics
        .seconds
        .get("grid.detection_s")
        .map(|h| h.cdf(400))
        .unwrap_or_default();
    Series {
        name: "all items".into(),
        points: detection
            .into_iter()
            .map(|(x, y)| (x / 3600.0, y))
            .collect(),
    }
}

/// Each grid's value of the scenario's map metric; `None` where the grid has nothing to show.
/// The grid loop's figures on the run's interactive map, one per `output.map_metric` choice.
fn map_metrics(books: &Books) -> Vec<baoan_reports::map::GridMetric> {
    [
        (
            "report_to_closed_s",
            "Grid items: report to closed, mean",
            "h",
            "the grid loop's tasks closed in the run",
            false,
        ),
        (
            "detection_s",
            "Grid items: occurred to first report, mean",
            "h",
            "the grid loop's items reported in the run",
            false,
        ),
        (
            "items_per_day",
            "Grid items occurred",
            "per day",
            "the twin's items (truth)",
            false,
        ),
        (
            "overdue_share",
            "Grid tasks closed after their deadline",
            "share",
            "the grid loop's tasks closed in the run",
            false,
        ),
    ]
    .into_iter()
    .map(
        |(key, label, unit, source, higher_is_better)| baoan_reports::map::GridMetric {
            key: format!("grid.{key}"),
            label: label.into(),
            unit: unit.into(),
            source: source.into(),
            higher_is_better,
            diverging: false,
            domain: None,
            values: map_values(books, key)
                .into_iter()
                .map(|v| v.map(baoan_reports::map::round4))
                .collect(),
        },
    )
    .collect()
}

fn map_values(books: &Books, map_metric: &str) -> Vec<Option<f64>> {
    let (truth, ledger, hours) = (books.truth, books.ledger, books.hours);
    (0..books.district.grids.len())
        .map(|g| match map_metric {
            "detection_s" => ledger
                .grid_detected
                .get(g)
                .filter(|c| c.0 > 0)
                .map(|c| c.1 / c.0 as f64 / 3600.0),
            "items_per_day" => truth
                .occurred_by_grid
                .get(g)
                .map(|&n| n as f64 / (hours / 24.0).max(1e-9)),
            "overdue_share" => ledger
                .grid_closed
                .get(g)
                .filter(|c| c.0 > 0)
                .map(|c| ledger.grid_overdue[g] as f64 / c.0 as f64),
            _ => ledger
                .grid_closed
                .get(g)
                .filter(|c| c.0 > 0)
                .map(|c| c.1 / c.0 as f64 / 3600.0),
        })
        .collect()
}
