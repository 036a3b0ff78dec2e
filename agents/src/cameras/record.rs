//! What the matcher loop measured, the way a 1:N evaluation measures it (the twin knows who
//! each face is): FPIR and FNIR at the operator's threshold with their standard errors, the
//! threshold and FNIR at FPIR 0.01, 0.003 and 0.001, rank-1 misses, the DET curve, error rates
//! by age band and sex, false alerts per camera-hour and per day at the district's full volume,
//! the reviewer workforce that implies, and the loop's times: sighting → alert → review →
//! police on scene.

use std::collections::{BTreeMap, HashMap};

use baoan_api::{
    Actor, AlertCandidate, AlertId, Command, LEAD_REF_BASE, MatcherAudit, Outcome, PersonId, Role,
};
use baoan_faces::eval::{Proportion, threshold_at_fpir};
use baoan_faces::noise::{analytic_fpir, nonmate_tail, threshold_for_fpir};
use baoan_reports::html::{Section, Table};
use baoan_reports::plot::{self, Series};
use baoan_reports::{Invariant, Metrics, round3};
use baoan_world::bridge::{FromStack, Refused, StackDoor};
use baoan_world::kernel::{Agenda, SimClock};
use bevy_ecs::prelude::*;
use rand::Rng;
use serde::Serialize;

use super::{
    Cameras, GROUPS, MatcherAction, MatcherConfig, MatcherRng, PlaceKind, ReviewDesk, ReviewJob,
    TAG_SIGHTING, Watchlist, is_matcher_command,
};
use crate::handoff::{LeadProgress, PoliceLead};
use crate::registry::{TAG_MASK, tag_of};

/// Scores this close to the threshold are not used to judge the stack's search: its kernels
/// and the harness's plain sum round differently in the last bits.
const SLACK: f32 = 1e-4;

/// A sighting sent and not yet answered, with the truth about it.
#[derive(Debug, Clone)]
pub struct Sent {
    pub camera: u32,
    pub grid: u32,
    pub x: f64,
    pub y: f64,
    pub group: u8,
    pub quality: f32,
    pub captured_at: u64,
    pub sent_at: u64,
    /// The person's active entry, if they are on the list the stack holds.
    pub mate: Option<u32>,
    /// The person's entry if it has expired: the stack must not alert on it.
    pub expired_mate: Option<u32>,
    /// The harness's own score of the capture against the mate's entry.
    pub mate_score: Option<f32>,
    /// For the non-mated searches the harness scored: the best score over the active list.
    pub top_score: Option<f32>,
    /// Entries on the list when it was searched.
    pub active: u32,
}

/// A confirmed lead the police have not reached yet.
#[derive(Debug, Clone, Copy)]
struct Awaiting {
    entry: Option<u32>,
    captured_at: u64,
}

#[derive(Debug, Clone)]
struct AlertRec {
    raised_at: u64,
    /// The top candidate is the person in the sighting.
    right: bool,
    mated: bool,
    confirmed_at: Option<u64>,
    rejected_at: Option<u64>,
    reviews: u32,
}

/// Counts of searches and errors, overall and per group.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Tally {
    pub non_mated: u64,
    pub false_alerts: u64,
    pub mated: u64,
    pub misses: u64,
    pub rank1_misses: u64,
}

#[derive(Resource, Default)]
pub struct MatcherLedger {
    pub next_ref: u64,
    /// Faces the points saw (all of them, sent or not) and those of people on no list.
    pub seen: u64,
    pub unlisted_seen: u64,
    pub watchlist_version: u32,
    pub watchlist_active: u32,
    pub policy_version: u32,
    pub setup_refused: Vec<String>,
    pending: HashMap<u64, Sent>,
    alerts: BTreeMap<AlertId, AlertRec>,
    /// Leads by key, as command reported them: (police first sent, first police arrival).
    lead_times: BTreeMap<u64, (Option<u64>, Option<u64>)>,
    pub overall: Tally,
    by_group: [Tally; 6],
    by_quality: [Tally; 3],
    by_kind: BTreeMap<&'static str, Tally>,
    /// Harness scores: best non-mate score of scored non-mated searches; mate scores.
    non_mated_top: Vec<f32>,
    mate_scores: Vec<f32>,
    /// Non-mated searches by the size of the list they searched, for the analytic FPIR.
    non_mated_by_list: BTreeMap<u32, u64>,
    pub expired_sent: u64,
    pub expired_alerts: u64,
    pub stack_missed: u64,
    pub stack_spurious: u64,
    /// Alerts on a listed person whose top candidate was someone else.
    pub wrong_candidate_alerts: u64,
    pub refused: u64,
    pub notes: Vec<String>,
    awaiting: BTreeMap<AlertId, Awaiting>,
    /// Entries whose person police found, and police trips that found no one (the person had
    /// moved on) or the wrong person (a mistaken confirmation).
    pub found: BTreeMap<&'static str, u64>,
    pub trail_cold: u64,
    pub wrong_person_dispatches: u64,
    sent_at_of: HashMap<AlertId, (Option<u32>, u64)>,
    pub metrics: Metrics,
}

impl MatcherLedger {
    /// The false-alert rate of non-mated searches so far, starting from the operator's target:
    /// what the sightings the twin does not send would raise.
    pub(crate) fn fpir_so_far(&self, target: f64) -> f64 {
        const PRIOR: f64 = 10_000.0;
        (self.overall.false_alerts as f64 + PRIOR * target)
            / (self.overall.non_mated as f64 + PRIOR)
    }

    pub fn sent(&mut self, sighting_ref: u64, s: Sent) {
        self.pending.insert(sighting_ref, s);
    }

    pub(crate) fn alert_is_right(&self, alert: AlertId) -> bool {
        self.alerts.get(&alert).is_some_and(|a| a.right)
    }

    pub(crate) fn review_started(&mut self, alert: AlertId, waited_ms: u64) {
        self.metrics
            .hist("matcher.review_wait_s")
            .record_ms(waited_ms);
        if let Some(a) = self.alerts.get_mut(&alert) {
            a.reviews += 1;
        }
    }

    /// Judge one answered sighting against the truth; returns whether the alert (if any) named
    /// the right person first.
    fn judge(
        &mut self,
        s: &Sent,
        candidates: Option<&[AlertCandidate]>,
        threshold: f32,
        top_k: usize,
        kind: &'static str,
    ) -> bool {
        let names = |e: u32| candidates.is_some_and(|c| c.iter().any(|x| x.entry_ref == e as u64));
        let top = candidates.and_then(|c| c.first()).map(|c| c.entry_ref);
        if let Some(e) = s.expired_mate {
            self.expired_sent += 1;
            if names(e) {
                self.expired_alerts += 1;
                self.notes
                    .push(format!("an alert named entry {e} after it expired"));
            }
            return false;
        }
        let q = ((s.quality * 3.0) as usize).min(2);
        let g = s.group as usize;
        let alerted = candidates.is_some();
        let mut tallies = [
            &mut self.overall,
            &mut self.by_group[g],
            &mut self.by_quality[q],
        ];
        match s.mate {
            None => {
                *self.non_mated_by_list.entry(s.active).or_default() += 1;
                for t in tallies.iter_mut() {
                    t.non_mated += 1;
                    t.false_alerts += alerted as u64;
                }
                let k = self.by_kind.entry(kind).or_default();
                k.non_mated += 1;
                k.false_alerts += alerted as u64;
                if let Some(best) = s.top_score {
                    self.non_mated_top.push(best);
                    if best >= threshold + SLACK && !alerted {
                        self.stack_missed += 1;
                    }
                    if best < threshold - SLACK && alerted {
                        self.stack_spurious += 1;
                    }
                }
                false
            }
            Some(e) => {
                let hit = names(e);
                let right = top == Some(e as u64);
                for t in tallies.iter_mut() {
                    t.mated += 1;
                    t.misses += (!hit) as u64;
                    t.rank1_misses += (!right) as u64;
                }
                let k = self.by_kind.entry(kind).or_default();
                k.mated += 1;
                k.misses += (!hit) as u64;
                if alerted && !right {
                    self.wrong_candidate_alerts += 1;
                }
                if let Some(score) = s.mate_score {
                    self.mate_scores.push(score);
                    let full = candidates.is_some_and(|c| c.len() >= top_k);
                    if score >= threshold + SLACK && !hit && !full {
                        self.stack_missed += 1;
                    }
                    if score < threshold - SLACK && hit {
                        self.stack_spurious += 1;
                    }
                }
                right
            }
        }
    }
}

/// This tick's answers to the matcher loop: judge each sighting, queue alerts for review,
/// follow reviews, and tell command's actors where a lead would send police.
pub fn hear(
    config: Res<MatcherConfig>,
    cameras: Res<Cameras>,
    mut watchlist: ResMut<Watchlist>,
    rng: Option<ResMut<MatcherRng>>,
    mut agenda: ResMut<Agenda<MatcherAction>>,
    mut ledger: ResMut<MatcherLedger>,
    mut desk: ResMut<ReviewDesk>,
    mut outcomes: MessageReader<FromStack>,
    mut refusals: MessageReader<Refused>,
    mut progress: MessageReader<LeadProgress>,
    mut police: MessageWriter<PoliceLead>,
) {
    let Some(mut rng) = rng else { return };
    let ledger = &mut *ledger;
    let kind_of = |camera: u32| -> &'static str {
        cameras
            .points
            .get(camera as usize - 1)
            .map_or("unknown", |p| p.kind.as_str())
    };
    let (threshold, top_k) = (config.threshold, config.top_k as usize);
    for msg in outcomes.read() {
        match &msg.outcome {
            Outcome::SightingDiscarded { sighting_ref } => {
                if let Some(s) = ledger.pending.remove(sighting_ref) {
                    ledger.judge(&s, None, threshold, top_k, kind_of(s.camera));
                }
            }
            Outcome::AlertRaised {
                alert,
                sighting_ref,
                candidates,
                ..
            } => {
                let Some(s) = ledger.pending.remove(sighting_ref) else {
                    continue;
                };
                let right = ledger.judge(&s, Some(candidates), threshold, top_k, kind_of(s.camera));
                ledger.alert_raised(*alert, &s, right, msg.at);
                desk.queue.push_back(ReviewJob {
                    alert: Some(*alert),
                    queued_at: msg.at,
                });
                police.write(PoliceLead::Expected {
                    key: LEAD_REF_BASE + alert.0,
                    grid: s.grid,
                    x: s.x,
                    y: s.y,
                    occurred_at: s.captured_at,
                });
            }
            // Confirmed by this reviewer and more are needed: the next one takes it.
            Outcome::AlertReviewed {
                alert,
                confirm: true,
                confirmations,
                ..
            } if *confirmations < config.reviewers_required => {
                desk.queue.push_back(ReviewJob {
                    alert: Some(*alert),
                    queued_at: msg.at,
                });
            }
            Outcome::AlertConfirmed { alert, .. } => {
                ledger.alert_confirmed(*alert, msg.at);
                desk.reviewed_by.remove(alert);
            }
            Outcome::AlertRejected { alert } => {
                ledger.alert_rejected(*alert, msg.at);
                desk.reviewed_by.remove(alert);
                police.write(PoliceLead::Withdrawn {
                    key: LEAD_REF_BASE + alert.0,
                });
            }
            _ => {}
        }
    }
    ledger.hear_lead_progress(progress.read().copied());
    ledger.police_reached(&config, &mut rng, &mut watchlist, &mut agenda);
    ledger.count_refusals(refusals.read());
}

impl MatcherLedger {
    /// An alert the stack raised: its latency, the lead it would become, and the truth about
    /// it, kept until reviewers decide.
    fn alert_raised(&mut self, alert: AlertId, s: &Sent, right: bool, at: u64) {
        self.metrics
            .hist("matcher.sighting_to_alert_s")
            .record_ms(at.saturating_sub(s.captured_at));
        self.sent_at_of
            .insert(alert, (s.mate.filter(|_| right), s.captured_at));
        self.alerts.insert(
            alert,
            AlertRec {
                raised_at: at,
                right,
                mated: s.mate.is_some(),
                confirmed_at: None,
                rejected_at: None,
                reviews: 0,
            },
        );
    }

    fn alert_confirmed(&mut self, alert: AlertId, at: u64) {
        if let Some((entry, captured_at)) = self.sent_at_of.remove(&alert) {
            self.awaiting.insert(alert, Awaiting { entry, captured_at });
        }
        if let Some(a) = self.alerts.get_mut(&alert) {
            a.confirmed_at = Some(at);
            let ms = at.saturating_sub(a.raised_at);
            self.metrics
                .hist("matcher.alert_to_confirmed_s")
                .record_ms(ms);
        }
    }

    fn alert_rejected(&mut self, alert: AlertId, at: u64) {
        self.sent_at_of.remove(&alert);
        if let Some(a) = self.alerts.get_mut(&alert) {
            a.rejected_at = Some(at);
        }
    }

    /// Police reached a confirmed lead: the person is found if the trail is still warm, and the
    /// entry's owner takes them off the list (they are in custody, or home).
    fn police_reached(
        &mut self,
        config: &MatcherConfig,
        rng: &mut MatcherRng,
        watchlist: &mut Watchlist,
        agenda: &mut Agenda<MatcherAction>,
    ) {
        let reached: Vec<(AlertId, u64)> = self
            .awaiting
            .keys()
            .filter_map(|id| {
                self.lead_times
                    .get(&(LEAD_REF_BASE + id.0))
                    .and_then(|(_, arrived)| *arrived)
                    .map(|at| (*id, at))
            })
            .collect();
        for (id, at) in reached {
            let w = self.awaiting.remove(&id).expect("listed above");
            let Some(entry) = w.entry else {
                self.wrong_person_dispatches += 1;
                continue;
            };
            let delay = at.saturating_sub(w.captured_at) as f64;
            let p = (-delay / config.trail_ms.max(1) as f64).exp();
            if rng.found.random::<f64>() >= p || !watchlist.present(entry) {
                self.trail_cold += 1;
                continue;
            }
            watchlist.found(entry);
            let list = match watchlist.entries[entry as usize].list {
                baoan_api::ListKind::Wanted => "wanted",
                baoan_api::ListKind::Missing => "missing",
                baoan_api::ListKind::KeyPerson => "key_person",
            };
            *self.found.entry(list).or_default() += 1;
            agenda.schedule(at + 600_000, MatcherAction::Remove { entry });
        }
    }

    /// What command said of its leads: when police were sent and first arrived.
    fn hear_lead_progress(&mut self, progress: impl Iterator<Item = LeadProgress>) {
        for p in progress {
            self.lead_times
                .insert(p.key, (p.dispatched_at, p.police_arrived_at));
        }
    }

    /// The matcher's refused commands; a refused sighting is answered, so no longer pending.
    fn count_refusals<'a>(&mut self, refusals: impl Iterator<Item = &'a Refused>) {
        for r in refusals {
            if !is_matcher_command(&r.envelope.command) {
                continue;
            }
            // The whole tag, not its bits: a refused review (17) or set-up call (18) has the
            // sighting's bit (16) too.
            if tag_of(r.client_ref) == TAG_SIGHTING {
                self.pending.remove(&(r.client_ref & !TAG_MASK));
            }
            crate::note_refusal(&mut self.refused, &mut self.notes, r);
        }
    }
}

pub type MatcherOutcome = crate::LoopOutcome;

#[derive(Serialize)]
struct Rate {
    rate: f64,
    se: f64,
    count: usize,
    n: usize,
}

fn rate(count: u64, n: u64) -> Rate {
    let p = Proportion::new(count as usize, n as usize);
    Rate {
        rate: round6(p.rate),
        se: round6(p.se),
        count: p.count,
        n: p.n,
    }
}

fn round6(x: f64) -> f64 {
    if x.is_finite() {
        (x * 1e6).round() / 1e6
    } else {
        x
    }
}

#[derive(Serialize)]
struct AtFpir {
    target_fpir: f64,
    threshold_analytic: f64,
    fnir_at_analytic: Rate,
    threshold_measured: f64,
    fnir_at_measured: Rate,
}

#[derive(Serialize)]
struct GroupRow {
    group: &'static str,
    non_mated: u64,
    fpir: Rate,
    mated: u64,
    fnir: Rate,
    rank1_miss: Rate,
}

#[derive(Serialize)]
struct DetRow {
    threshold: f64,
    fpir: f64,
    fnir: f64,
}

fn misses_below(scores: &[f32], t: f64) -> u64 {
    scores.iter().filter(|&&s| (s as f64) < t).count() as u64
}

/// What the end of the run reads beside the ledger: the configuration, the run's length, the
/// cameras, the review desk and the watchlist as they stand.
struct RunEnd {
    config: MatcherConfig,
    end_ms: u64,
    days: f64,
    cameras: Cameras,
    desk: DeskAtEnd,
    list: ListAtEnd,
}

struct DeskAtEnd {
    busy_ms: u64,
    queue: usize,
    /// Queued jobs that are alerts the stack raised (the rest stand for unsampled ones).
    queue_sent_alerts: usize,
}

struct ListAtEnd {
    entries: usize,
    residents: usize,
    visitors: usize,
    expired: usize,
}

/// Accuracy as a 1:N evaluation reports it.
struct Accuracy {
    fpir: Rate,
    fnir: Rate,
    rank1: Rate,
    /// The model's FPIR for the searches as made.
    analytic: f64,
    /// The mean size of the list a non-mated search searched.
    list_n: usize,
    at_fpir: Vec<AtFpir>,
    groups: Vec<GroupRow>,
    det: Vec<DetRow>,
}

/// The alerts at the district's full volume, and the reviewer time they take.
struct AlertLoad {
    false_per_day: f64,
    per_camera_hour: f64,
    true_per_day: f64,
    reviewer_hours: f64,
}

/// What became of the alerts raised; index 1 counts those naming the right person first.
struct AlertFates {
    raised: [u64; 2],
    confirmed: [u64; 2],
    rejected: [u64; 2],
    dispatched: u64,
    arrived: u64,
    open_reviews: usize,
}

/// The auditor who exports the matcher's use log after the run (a synthetic person).
const AUDITOR: Actor = Actor {
    role: Role::Auditor,
    person: PersonId(2_901),
};

/// The matcher's use log as the stack keeps it, read by an auditor after the run; `Err` says
/// why it could not be read (the report says so, and an invariant fails).
fn export_audit(world: &mut World, end: u64) -> Result<MatcherAudit, String> {
    let out = StackDoor::call_after_run(
        world,
        end,
        AUDITOR,
        Command::ExportMatcherAudit,
        super::TAG_SETUP,
    )
    .map_err(|e| e.to_string())?;
    out.into_iter()
        .find_map(|o| match o {
            Outcome::MatcherAuditExported { audit } => Some(audit),
            _ => None,
        })
        .ok_or_else(|| "the stack answered the export without the log".to_string())
}

pub fn finish(world: &mut World) -> MatcherOutcome {
    let run = run_end(world);
    let audit = export_audit(world, run.end_ms);
    let lead_times = lead_times(world);
    let mut ledger = world.resource_mut::<MatcherLedger>();
    let ledger = &mut *ledger;
    let accuracy = accuracy(ledger, &run);
    ledger.metrics.set("matcher.fpir", accuracy.fpir.rate);
    ledger.metrics.set("matcher.fnir", accuracy.fnir.rate);
    let load = alert_load(ledger, &run);
    ledger
        .metrics
        .set("matcher.false_alerts_per_day", load.false_per_day);
    ledger
        .metrics
        .set("matcher.rejected", ledger.refused as f64);
    let fates = follow_alerts(ledger, &lead_times);
    let latency = latency(&mut ledger.metrics);
    let section = serde_json::json!({
        "cameras": cameras_section(ledger, &run),
        "volume": volume_section(ledger, &run),
        "watchlist": watchlist_section(ledger, &run, accuracy.list_n),
        "accuracy": accuracy_section(ledger, &accuracy),
        "alerts": alerts_section(ledger, &run, &load, &fates),
        "latency": latency,
        "checks": {
            "stack_missed": ledger.stack_missed,
            "stack_spurious": ledger.stack_spurious,
            "alerts_on_expired_entries": ledger.expired_alerts,
            "unanswered_sightings": ledger.pending.len(),
            "refused": ledger.refused,
        },
        "notes": ledger.notes,
        "det": accuracy.det,
        "audit": match &audit {
            Ok(a) => serde_json::to_value(a).expect("the api's types serialise"),
            Err(why) => serde_json::json!({ "unavailable": why }),
        },
    });
    let mut invariants = invariants(ledger, &accuracy);
    invariants.extend(audit_invariants(ledger, &audit));
    let mut html = page(&section, ledger, &run, &accuracy, &load);
    if let Ok(a) = &audit {
        html.tables.extend(audit_tables(a));
    }
    MatcherOutcome {
        section,
        html,
        invariants,
        metrics: std::mem::take(&mut ledger.metrics),
        map: Default::default(),
    }
}

fn run_end(world: &World) -> RunEnd {
    let end_ms = world.resource::<SimClock>().now_ms.max(1);
    let desk = {
        let d = world.resource::<ReviewDesk>();
        DeskAtEnd {
            busy_ms: d.busy_ms,
            queue: d.queue.len(),
            queue_sent_alerts: d.queue.iter().filter(|j| j.alert.is_some()).count(),
        }
    };
    let list = {
        let w = world.resource::<Watchlist>();
        ListAtEnd {
            entries: w.entries.len(),
            residents: w
                .entries
                .iter()
                .filter(|e| matches!(e.present, super::Presence::Resident(_)))
                .count(),
            visitors: w.visitors.len(),
            expired: w.entries.iter().filter(|e| e.expires_at <= end_ms).count(),
        }
    };
    RunEnd {
        config: world.resource::<MatcherConfig>().clone(),
        end_ms,
        days: end_ms as f64 / 86_400_000.0,
        cameras: world.resource::<Cameras>().clone(),
        desk,
        list,
    }
}

/// Leads: when police were sent and first arrived, as command told the loop (with what it told
/// in the run's last tick, after the loop last heard).
fn lead_times(world: &mut World) -> BTreeMap<AlertId, (Option<u64>, Option<u64>)> {
    let unheard: Vec<LeadProgress> = world
        .get_resource_mut::<Messages<LeadProgress>>()
        .map(|mut m| m.drain().collect())
        .unwrap_or_default();
    let mut ledger = world.resource_mut::<MatcherLedger>();
    ledger.hear_lead_progress(unheard.into_iter());
    ledger
        .alerts
        .iter()
        .filter(|(_, a)| a.confirmed_at.is_some())
        .map(|(id, _)| {
            (
                *id,
                ledger
                    .lead_times
                    .get(&(LEAD_REF_BASE + id.0))
                    .copied()
                    .unwrap_or((None, None)),
            )
        })
        .collect()
}

/// Accuracy at the operator's threshold, measured on the stack's answers, beside the model's.
fn accuracy(ledger: &MatcherLedger, run: &RunEnd) -> Accuracy {
    let o = ledger.overall;
    let dim = run.config.dim;
    let list_n = mean_list_searched(ledger, run.list.entries);
    Accuracy {
        fpir: rate(o.false_alerts, o.non_mated),
        fnir: rate(o.misses, o.mated),
        rank1: rate(o.rank1_misses, o.mated),
        analytic: analytic_fpir_as_searched(ledger, run.config.threshold as f64, dim, run),
        list_n,
        at_fpir: at_fpirs(ledger, dim, list_n),
        groups: group_rows(ledger),
        det: det_curve(ledger),
    }
}

/// The model's FPIR for the searches as made: the list shrinks as entries expire or are
/// taken off, so average 1 − (1 − p)^N over the list sizes searched.
fn analytic_fpir_as_searched(ledger: &MatcherLedger, t: f64, dim: usize, run: &RunEnd) -> f64 {
    let p_entry = nonmate_tail(t, dim);
    let searched: u64 = ledger.non_mated_by_list.values().sum();
    if searched == 0 {
        analytic_fpir(t, dim, run.list.entries)
    } else {
        ledger
            .non_mated_by_list
            .iter()
            .map(|(&n, &c)| c as f64 * -(n as f64 * (-p_entry).ln_1p()).exp_m1())
            .sum::<f64>()
            / searched as f64
    }
}

fn mean_list_searched(ledger: &MatcherLedger, entries: usize) -> usize {
    let searched: u64 = ledger.non_mated_by_list.values().sum();
    if searched == 0 {
        entries
    } else {
        (ledger
            .non_mated_by_list
            .iter()
            .map(|(&n, &c)| n as f64 * c as f64)
            .sum::<f64>()
            / searched as f64)
            .round() as usize
    }
}

/// At the FPIRs evaluators quote: the analytic threshold (the model's), and the one measured
/// on the harness's own scores of non-mated searches.
fn at_fpirs(ledger: &MatcherLedger, dim: usize, list_n: usize) -> Vec<AtFpir> {
    [0.01, 0.003, 0.001]
        .into_iter()
        .map(|f| {
            let ta = threshold_for_fpir(f, dim, list_n.max(1));
            let tm = threshold_at_fpir(&ledger.non_mated_top, f) as f64;
            let n = ledger.mate_scores.len() as u64;
            AtFpir {
                target_fpir: f,
                threshold_analytic: round6(ta),
                fnir_at_analytic: rate(misses_below(&ledger.mate_scores, ta), n),
                threshold_measured: round6(tm),
                fnir_at_measured: rate(misses_below(&ledger.mate_scores, tm), n),
            }
        })
        .collect()
}

/// DET: FNIR against FPIR over thresholds spanning the scores seen.
fn det_curve(ledger: &MatcherLedger) -> Vec<DetRow> {
    let mut det = Vec::new();
    if !ledger.non_mated_top.is_empty() && !ledger.mate_scores.is_empty() {
        let mut nm = ledger.non_mated_top.clone();
        nm.sort_by(f32::total_cmp);
        let (lo, hi) = (nm[0] as f64, nm[nm.len() - 1] as f64 + 0.02);
        for i in 0..=60 {
            let th = lo + (hi - lo) * i as f64 / 60.0;
            let fp = nm.len() - nm.partition_point(|&s| (s as f64) < th);
            det.push(DetRow {
                threshold: round6(th),
                fpir: round6(fp as f64 / nm.len() as f64),
                fnir: round6(
                    misses_below(&ledger.mate_scores, th) as f64 / ledger.mate_scores.len() as f64,
                ),
            });
        }
    }
    det
}

fn group_rows(ledger: &MatcherLedger) -> Vec<GroupRow> {
    GROUPS
        .iter()
        .zip(ledger.by_group.iter())
        .map(|(name, g)| GroupRow {
            group: name,
            non_mated: g.non_mated,
            fpir: rate(g.false_alerts, g.non_mated),
            mated: g.mated,
            fnir: rate(g.misses, g.mated),
            rank1_miss: rate(g.rank1_misses, g.mated),
        })
        .collect()
}

/// The worst group's FNIR over the best's, among groups with enough mated searches to tell.
fn fnir_worst_to_best(groups: &[GroupRow]) -> f64 {
    let fnirs: Vec<f64> = groups
        .iter()
        .filter(|g| g.mated >= 30)
        .map(|g| g.fnir.rate)
        .collect();
    let best = fnirs.iter().copied().fold(f64::INFINITY, f64::min);
    let worst = fnirs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if best > 0.0 && worst.is_finite() {
        round3(worst / best)
    } else {
        f64::NAN
    }
}

/// False alerts at the district's full volume: the sampled non-mated alerts scaled back up,
/// plus alerts on listed people that named someone else first; and the reviewers they need.
fn alert_load(ledger: &MatcherLedger, run: &RunEnd) -> AlertLoad {
    let (o, config, days) = (ledger.overall, &run.config, run.days);
    let false_per_day =
        (o.false_alerts as f64 / config.sampling + ledger.wrong_candidate_alerts as f64) / days;
    let camera_hours = run.cameras.points.len() as f64 * 24.0;
    let per_camera_hour = false_per_day / camera_hours.max(1.0);
    let alerts_true_per_day = (o.mated - o.rank1_misses.min(o.mated)) as f64 / days;
    // Workforce: every alert gets a first review; those confirmed get the rest.
    let review_h = config.review_ms as f64 / 3_600_000.0 * 1.13; // mean of a lognormal(σ 0.5)
    let first_reviews = false_per_day + alerts_true_per_day;
    let later = alerts_true_per_day * (config.reviewers_required as f64 - 1.0)
        + false_per_day * config.false_confirm * (config.reviewers_required as f64 - 1.0);
    AlertLoad {
        false_per_day,
        per_camera_hour,
        true_per_day: alerts_true_per_day,
        reviewer_hours: (first_reviews + later) * review_h,
    }
}

/// Count each alert's fate and record the loop's times from alert to police on scene.
fn follow_alerts(
    ledger: &mut MatcherLedger,
    lead_times: &BTreeMap<AlertId, (Option<u64>, Option<u64>)>,
) -> AlertFates {
    let mut raised = [0u64; 2];
    let mut confirmed = [0u64; 2];
    let mut rejected = [0u64; 2];
    let mut dispatched = 0;
    let mut arrived = 0;
    for (id, a) in &ledger.alerts {
        let i = a.right as usize;
        raised[i] += 1;
        confirmed[i] += a.confirmed_at.is_some() as u64;
        rejected[i] += a.rejected_at.is_some() as u64;
        if let Some((d, arr)) = lead_times.get(id) {
            dispatched += d.is_some() as u64;
            if let Some(at) = arr {
                arrived += 1;
                ledger
                    .metrics
                    .hist("matcher.alert_to_arrival_s")
                    .record_ms(at.saturating_sub(a.raised_at));
                if let Some(c) = a.confirmed_at {
                    ledger
                        .metrics
                        .hist("matcher.confirmed_to_arrival_s")
                        .record_ms(at.saturating_sub(c));
                }
            }
        }
        let _ = a.mated;
    }
    let open_reviews = ledger
        .alerts
        .values()
        .filter(|a| a.confirmed_at.is_none() && a.rejected_at.is_none())
        .count();
    AlertFates {
        raised,
        confirmed,
        rejected,
        dispatched,
        arrived,
        open_reviews,
    }
}

/// The loop's times; a stage nothing reached is reported (and kept) as an empty histogram.
fn latency(metrics: &mut Metrics) -> serde_json::Value {
    let hist = |m: &mut Metrics, name: &str| {
        let h = m.hist(name);
        serde_json::json!({"count": h.count(), "p50_s": round3(h.quantile_s(0.5)), "p90_s": round3(h.quantile_s(0.9)), "p99_s": round3(h.quantile_s(0.99))})
    };
    serde_json::json!({
        "sighting_to_alert": hist(metrics, "matcher.sighting_to_alert_s"),
        "review_wait": hist(metrics, "matcher.review_wait_s"),
        "alert_to_confirmed": hist(metrics, "matcher.alert_to_confirmed_s"),
        "confirmed_to_arrival": hist(metrics, "matcher.confirmed_to_arrival_s"),
        "alert_to_arrival": hist(metrics, "matcher.alert_to_arrival_s"),
    })
}

fn cameras_section(ledger: &MatcherLedger, run: &RunEnd) -> serde_json::Value {
    let cameras = &run.cameras;
    serde_json::json!({
        "face_points": cameras.points.len(),
        "channels": cameras.channels_by_kind.values().sum::<usize>() ,
        "channels_by_kind": cameras.channels_by_kind,
        "channels_by_street": cameras.channels_by_street,
        "lookouts_by_street": cameras.lookouts_by_street,
        "by_place": by_place(ledger, run),
    })
}

/// Face points, traffic and errors per kind of place.
fn by_place(ledger: &MatcherLedger, run: &RunEnd) -> Vec<serde_json::Value> {
    let (sampling, days) = (run.config.sampling, run.days);
    PlaceKind::ALL
        .iter()
        .map(|k| {
            let pts: Vec<_> = run.cameras.points.iter().filter(|p| p.kind == *k).collect();
            let tally = ledger.by_kind.get(k.as_str()).copied().unwrap_or_default();
            serde_json::json!({
                "place": k.as_str(),
                "face_points": pts.len(),
                "faces_per_point_per_day": round3(pts.iter().map(|p| p.per_day).sum::<f64>() / pts.len().max(1) as f64),
                "non_mated_sent": tally.non_mated,
                "false_alerts_per_camera_hour": round6(if pts.is_empty() { 0.0 } else {
                    tally.false_alerts as f64 / sampling / days / (pts.len() as f64 * 24.0)
                }),
                "mated_sent": tally.mated,
                "fnir": rate(tally.misses, tally.mated).rate,
            })
        })
        .collect()
}

fn volume_section(ledger: &MatcherLedger, run: &RunEnd) -> serde_json::Value {
    let o = ledger.overall;
    serde_json::json!({
        "faces_seen": ledger.seen,
        "faces_seen_per_day": round3(ledger.seen as f64 / run.days),
        "sampling": run.config.sampling,
        "non_mated_sent": o.non_mated,
        "mated_sent": o.mated,
        "expired_entry_sightings_sent": ledger.expired_sent,
        "harness_scored_non_mated": ledger.non_mated_top.len(),
    })
}

fn watchlist_section(ledger: &MatcherLedger, run: &RunEnd, list_n: usize) -> serde_json::Value {
    let (config, list) = (&run.config, &run.list);
    serde_json::json!({
        "entries": list.entries,
        "mean_entries_searched": list_n,
        "wanted": config.wanted,
        "missing": config.missing,
        "residents_listed": list.residents,
        "visitors_listed": list.visitors,
        "expired_during_run": list.expired,
        "version": ledger.watchlist_version,
        "policy_version": ledger.policy_version,
        "threshold": round6(config.threshold as f64),
        "target_fpir": config.target_fpir,
        "top_k": config.top_k,
        "reviewers_required": config.reviewers_required,
        "dim": config.dim,
    })
}

fn accuracy_section(ledger: &MatcherLedger, accuracy: &Accuracy) -> serde_json::Value {
    let quality: Vec<serde_json::Value> = ["below_0.33", "0.33_to_0.67", "above_0.67"]
        .iter()
        .zip(ledger.by_quality.iter())
        .map(|(band, q)| serde_json::json!({"quality": band, "fpir": rate(q.false_alerts, q.non_mated), "fnir": rate(q.misses, q.mated)}))
        .collect();
    serde_json::json!({
        "fpir": accuracy.fpir,
        "fpir_analytic": round6(accuracy.analytic),
        "fnir": accuracy.fnir,
        "rank1_miss": accuracy.rank1,
        "at_fpir": accuracy.at_fpir,
        "by_group": accuracy.groups,
        "fnir_worst_to_best_group": fnir_worst_to_best(&accuracy.groups),
        "by_quality": quality,
    })
}

fn alerts_section(
    ledger: &MatcherLedger,
    run: &RunEnd,
    load: &AlertLoad,
    fates: &AlertFates,
) -> serde_json::Value {
    let config = &run.config;
    serde_json::json!({
        "raised": fates.raised[0] + fates.raised[1],
        "raised_right_person": fates.raised[1],
        "false_alerts_per_day": round3(load.false_per_day),
        "false_alerts_per_camera_hour": round6(load.per_camera_hour),
        "true_alerts_per_day": round3(load.true_per_day),
        "reviewer_hours_per_day": round3(load.reviewer_hours),
        "reviewers_on_duty_needed": round3(load.reviewer_hours / 24.0 / 0.7),
        "confirmed_right_person": fates.confirmed[1],
        "confirmed_wrong_person": fates.confirmed[0],
        "rejected_right_person": fates.rejected[1],
        "rejected_wrong_person": fates.rejected[0],
        "awaiting_review_at_end": fates.open_reviews,
        "reviewers_on_duty": config.reviewers_on_duty,
        "reviewer_utilisation": round3(run.desk.busy_ms as f64 / (config.reviewers_on_duty.max(1) as f64 * run.end_ms as f64)),
        "review_queue_at_end": run.desk.queue,
        "review_queue_at_end_sent_alerts": run.desk.queue_sent_alerts,
        "leads_dispatched": fates.dispatched,
        "leads_police_arrived": fates.arrived,
        "persons_found": ledger.found,
        "trail_cold_on_arrival": ledger.trail_cold,
        "police_sent_to_the_wrong_person": ledger.wrong_person_dispatches,
    })
}

/// How unlikely a count of false alerts must be under the model before the FPIR check fails.
const FPIR_CHECK_TAIL: f64 = 1e-6;

/// Whether `seen` events are too many or too few for a Poisson law of mean `expected`: either
/// tail below `tail`. Exact sums up to a mean of 50; beyond, the normal approximation with a
/// continuity correction (its z for `tail` = 1e-6 is about 4.75).
fn counts_disagree(seen: u64, expected: f64, tail: f64) -> bool {
    if expected <= 0.0 {
        return seen > 0;
    }
    if expected > 50.0 {
        let z = (seen as f64 - expected).abs() - 0.5;
        return z.max(0.0) / expected.sqrt() > 4.75;
    }
    // P(X <= seen) and P(X >= seen), term by term.
    let mut term = (-expected).exp();
    let (mut below, mut at_or_above) = (0.0, 1.0);
    for i in 0..=seen {
        if i > 0 {
            term *= expected / i as f64;
        }
        below += term;
        if i < seen {
            at_or_above -= term;
        }
    }
    below < tail || at_or_above < tail
}

/// Invariants the harness can judge from outside the stack.
fn invariants(ledger: &MatcherLedger, accuracy: &Accuracy) -> Vec<Invariant> {
    let (o, analytic, fpir) = (ledger.overall, accuracy.analytic, &accuracy.fpir);
    let n = o.non_mated as f64;
    let se = (analytic * (1.0 - analytic) / n.max(1.0)).sqrt();
    // Judged on the count of false alerts against the Poisson law the model implies: a few
    // expected false alerts make "4 standard errors" a 1-in-130 event (6 seen where 1.2 were
    // expected), so the check asks for a tail probability below one in a million instead.
    let fpir_close =
        o.non_mated < 1_000 || !counts_disagree(o.false_alerts, n * analytic, FPIR_CHECK_TAIL);
    vec![
        Invariant::check(
            "matcher: the stack's search agrees with the harness's own scoring",
            ledger.stack_missed == 0 && ledger.stack_spurious == 0,
            format!(
                "{} searches should have alerted and did not, {} alerted below the threshold",
                ledger.stack_missed, ledger.stack_spurious
            ),
        ),
        Invariant::check(
            "matcher: expired entries never produce an alert",
            ledger.expired_alerts == 0,
            format!(
                "{} alerts named an expired entry ({} sightings of expired entries sent)",
                ledger.expired_alerts, ledger.expired_sent
            ),
        ),
        Invariant::check(
            "matcher: measured FPIR agrees with the model's analytic FPIR (Poisson tails above 1e-6)",
            fpir_close,
            format!(
                "measured {:.6} ± {:.6} on {} searches ({} false alerts, {:.1} expected), analytic {:.6}",
                fpir.rate,
                se,
                o.non_mated,
                o.false_alerts,
                n * analytic,
                analytic
            ),
        ),
        Invariant::check(
            "matcher: every sighting answered, no command refused",
            ledger.refused == 0 && ledger.setup_refused.is_empty(),
            format!(
                "{} refused, setup refusals: {:?}",
                ledger.refused, ledger.setup_refused
            ),
        ),
    ]
}

/// The use log checked against what the harness saw: every alert the loop heard of is in it,
/// the sightings held are exactly those of alerts still standing, none of a rejected alert or
/// a non-match is kept, and every confirmed alert had its reviewers, each a different person.
fn audit_invariants(
    ledger: &MatcherLedger,
    audit: &Result<MatcherAudit, String>,
) -> Vec<Invariant> {
    let Ok(a) = audit else {
        let why = audit.as_ref().err().cloned().unwrap_or_default();
        return vec![Invariant::check(
            "matcher: an auditor can export the use log",
            false,
            why,
        )];
    };
    let logged: std::collections::BTreeSet<AlertId> = a.alerts.iter().map(|x| x.alert).collect();
    let missing: Vec<u64> = ledger
        .alerts
        .keys()
        .filter(|id| !logged.contains(id))
        .map(|id| id.0)
        .collect();
    let standing = ledger
        .alerts
        .values()
        .filter(|r| r.rejected_at.is_none())
        .count() as u64;
    let short: Vec<u64> = a
        .alerts
        .iter()
        .filter(|x| x.state == "confirmed")
        .filter(|x| {
            let mut who: Vec<u32> = x
                .reviews
                .iter()
                .filter(|r| r.confirm)
                .map(|r| r.reviewer.0)
                .collect();
            who.sort_unstable();
            who.dedup();
            who.len() < usize::from(x.reviewers_required)
        })
        .map(|x| x.alert.0)
        .collect();
    vec![
        Invariant::check(
            "matcher: the use log holds every alert the loop heard of",
            missing.is_empty(),
            format!(
                "{} in the log, {} heard; heard but not in the log: {missing:?}",
                a.alerts.len(),
                ledger.alerts.len()
            ),
        ),
        Invariant::check(
            "matcher: no sighting kept but those of alerts still standing (none of a non-match or a rejected alert)",
            a.non_matching_retained == 0 && a.sightings_held == standing,
            format!(
                "{} sightings held, {} alerts standing as the loop saw them, {} of rejected alerts",
                a.sightings_held, standing, a.non_matching_retained
            ),
        ),
        Invariant::check(
            "matcher: every confirmed alert was confirmed by its number of distinct reviewers",
            short.is_empty(),
            format!("alerts confirmed short of reviewers: {short:?}"),
        ),
    ]
}

/// The use log on the page: its figures, the reads of personal data by role, and the first
/// alerts with their versions and reviewers (report.json has them all).
fn audit_tables(a: &MatcherAudit) -> Vec<Table> {
    let at =
        |ms: Option<u64>| ms.map_or("—".to_string(), |t| format!("{:.1} h", t as f64 / 3.6e6));
    let figures = Table {
        caption:
            "The matcher's use log (EU AI Act, Article 12(3)), exported by an auditor after the run"
                .into(),
        header: vec!["measure".into(), "value".into()],
        rows: vec![
            vec![
                "period of use".into(),
                format!("{} to {}", at(a.first_search_at), at(a.last_search_at)),
            ],
            vec!["searches".into(), a.searches.to_string()],
            vec![
                "matched nothing (answered, nothing kept)".into(),
                a.no_match.to_string(),
            ],
            vec!["alerts".into(), a.alerts.len().to_string()],
            vec![
                "sightings held (standing alerts)".into(),
                a.sightings_held.to_string(),
            ],
            vec![
                "non-matching sightings retained".into(),
                a.non_matching_retained.to_string(),
            ],
            vec![
                "watchlist / policy version now".into(),
                format!("v{} / v{}", a.watchlist_version, a.policy_version),
            ],
        ],
    };
    let lookups = Table {
        caption: "Reads of personal data through the stack, by command and role".into(),
        header: vec![
            "command".into(),
            "role".into(),
            "allowed".into(),
            "refused".into(),
        ],
        rows: a
            .lookups
            .iter()
            .map(|l| {
                vec![
                    l.command.clone(),
                    l.role.clone(),
                    l.allowed.to_string(),
                    l.refused.to_string(),
                ]
            })
            .collect(),
    };
    const SHOWN: usize = 30;
    let alerts = Table {
        caption: format!(
            "Alerts, with the watchlist and policy versions that produced them and who reviewed them (the first {} of {}; report.json has all)",
            SHOWN.min(a.alerts.len()),
            a.alerts.len()
        ),
        header: vec![
            "alert".into(),
            "raised".into(),
            "camera".into(),
            "entries".into(),
            "watchlist / policy".into(),
            "reviews (person: verdict at)".into(),
            "state".into(),
            "sighting held".into(),
        ],
        rows: a
            .alerts
            .iter()
            .take(SHOWN)
            .map(|x| {
                let reviews: Vec<String> = x
                    .reviews
                    .iter()
                    .map(|r| {
                        format!(
                            "{}: {} at {:.2} h",
                            r.reviewer.0,
                            if r.confirm { "confirm" } else { "reject" },
                            r.at as f64 / 3.6e6
                        )
                    })
                    .collect();
                vec![
                    x.alert.0.to_string(),
                    format!("{:.2} h", x.raised_at as f64 / 3.6e6),
                    x.camera.to_string(),
                    format!("{:?}", x.entry_refs),
                    format!("v{} / v{}", x.watchlist_version, x.policy_version),
                    reviews.join("; "),
                    x.state.clone(),
                    if x.sighting_held { "yes" } else { "no" }.into(),
                ]
            })
            .collect(),
    };
    vec![figures, lookups, alerts]
}

/// The loop's part of the page; its tables read the section as the report has it.
fn page(
    section: &serde_json::Value,
    ledger: &MatcherLedger,
    run: &RunEnd,
    accuracy: &Accuracy,
    load: &AlertLoad,
) -> Section {
    let config = &run.config;
    let mut html = Section {
        title: "Matcher: cameras, watchlist alerts and review".into(),
        intro: format!(
            "{} face points saw {:.0} faces a day; {} of the sightings of people on no list went \
             through the matcher (counts scaled by 1/{}), every sighting of a listed person did. \
             Threshold {:.4} (calibrated for FPIR {}); an alert needs {} reviewers.",
            run.cameras.points.len(),
            ledger.seen as f64 / run.days,
            config.sampling,
            config.sampling,
            config.threshold as f64,
            config.target_fpir,
            config.reviewers_required
        ),
        ..Section::default()
    };
    html.tables.push(accuracy_table(accuracy, load));
    html.tables.push(at_fpir_table(section));
    html.tables.push(group_table(section));
    if let Ok(svg) = det_figure(section, run.list.entries, config.dim) {
        html.figures.push(svg);
    }
    html
}

fn accuracy_table(accuracy: &Accuracy, load: &AlertLoad) -> Table {
    let pct = |r: &Rate| format!("{:.4} ± {:.4} (n {})", r.rate, r.se, r.n);
    Table {
        caption: "Accuracy at the operator's threshold (from the stack's answers)".into(),
        header: vec!["measure".into(), "value".into()],
        rows: vec![
            vec!["FPIR".into(), pct(&accuracy.fpir)],
            vec!["FPIR, analytic".into(), format!("{:.6}", accuracy.analytic)],
            vec!["FNIR".into(), pct(&accuracy.fnir)],
            vec!["rank-1 miss".into(), pct(&accuracy.rank1)],
            vec![
                "false alerts per day (full volume)".into(),
                format!("{:.1}", load.false_per_day),
            ],
            vec![
                "false alerts per camera-hour".into(),
                format!("{:.5}", load.per_camera_hour),
            ],
            vec![
                "reviewer-hours per day".into(),
                format!("{:.1}", load.reviewer_hours),
            ],
        ],
    }
}

fn at_fpir_table(section: &serde_json::Value) -> Table {
    Table {
        caption:
            "FNIR at fixed FPIR (thresholds: the model's, and measured on the harness's scores)"
                .into(),
        header: vec![
            "FPIR".into(),
            "threshold (analytic)".into(),
            "FNIR".into(),
            "threshold (measured)".into(),
            "FNIR".into(),
        ],
        rows: section["accuracy"]["at_fpir"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| {
                let f = |v: &serde_json::Value| format!("{:.4}", v.as_f64().unwrap_or(f64::NAN));
                vec![
                    r["target_fpir"].to_string(),
                    f(&r["threshold_analytic"]),
                    f(&r["fnir_at_analytic"]["rate"]),
                    f(&r["threshold_measured"]),
                    f(&r["fnir_at_measured"]["rate"]),
                ]
            })
            .collect(),
    }
}

fn group_table(section: &serde_json::Value) -> Table {
    Table {
        caption:
            "By age band and sex (the model adds noise for children, elderly people and women)"
                .into(),
        header: vec![
            "group".into(),
            "FPIR".into(),
            "FNIR".into(),
            "rank-1 miss".into(),
        ],
        rows: section["accuracy"]["by_group"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|g| {
                let f = |k: &str| {
                    format!(
                        "{:.4} (n {})",
                        g[k]["rate"].as_f64().unwrap_or(f64::NAN),
                        g[k]["n"]
                    )
                };
                vec![
                    g["group"].as_str().unwrap_or("").to_string(),
                    f("fpir"),
                    f("fnir"),
                    f("rank1_miss"),
                ]
            })
            .collect(),
    }
}

/// The DET curve on a log FPIR axis (thresholds where no non-mated search alerted are left out).
fn det_figure(
    section: &serde_json::Value,
    entries: usize,
    dim: usize,
) -> Result<String, plot::PlotError> {
    let det_points: Vec<(f64, f64)> = section["det"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| {
            let (fp, fnr) = (r["fpir"].as_f64()?, r["fnir"].as_f64()?);
            (fp > 0.0).then(|| (fp.log10(), fnr))
        })
        .collect();
    plot::lines_svg(
        "DET: FNIR against FPIR across thresholds",
        "log10 FPIR",
        "FNIR",
        &[Series {
            name: format!("{} entries × {} dims", entries, dim),
            points: det_points,
        }],
    )
}

#[cfg(test)]
mod tests {
    use super::counts_disagree;

    #[test]
    fn the_fpir_check_fails_on_counts_the_model_makes_very_unlikely_and_only_then() {
        // Six false alerts where 1.2 were expected: one run in 130, not a broken model.
        assert!(!counts_disagree(6, 1.2, 1e-6));
        assert!(counts_disagree(20, 1.2, 1e-6));
        // None where 30 were expected.
        assert!(counts_disagree(0, 30.0, 1e-6));
        assert!(!counts_disagree(30, 30.0, 1e-6));
        // Large means: the normal approximation.
        assert!(!counts_disagree(140, 100.0, 1e-6));
        assert!(counts_disagree(160, 100.0, 1e-6));
        assert!(counts_disagree(1, 0.0, 1e-6) && !counts_disagree(0, 0.0, 1e-6));
    }
}
