//! What the matcher loop measured, the way a 1:N evaluation measures it (the twin knows who
//! each face is): FPIR and FNIR at the operator's threshold with their standard errors, the
//! threshold and FNIR at FPIR 0.01, 0.003 and 0.001, rank-1 misses, the DET curve, error rates
//! by age band and sex, false alerts per camera-hour and per day at the district's full volume,
//! the reviewer workforce that implies, and the loop's times: sighting → alert → review →
//! police on scene.

use std::collections::{BTreeMap, HashMap};

use baoan_api::{AlertCandidate, AlertId, LEAD_REF_BASE, Outcome};
use baoan_faces::eval::{Proportion, threshold_at_fpir};
use baoan_faces::noise::{analytic_fpir, nonmate_tail, threshold_for_fpir};
use baoan_reports::html::{Section, Table};
use baoan_reports::plot::{self, Series};
use baoan_reports::{Invariant, Metrics, round3};
use baoan_world::bridge::{FromStack, Refused};
use baoan_world::kernel::{Agenda, SimClock};
use bevy_ecs::prelude::*;
use rand::Rng;
use serde::Serialize;

use super::{
    Cameras, GROUPS, MatcherAction, MatcherConfig, MatcherRng, PlaceKind, ReviewDesk, ReviewJob,
    TAG_SIGHTING, Watchlist, drop_lead, expect_lead, is_matcher_command,
};
use crate::command::{CommandLedger, Emergencies};

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
    mut em: Option<ResMut<Emergencies>>,
    mut command: Option<ResMut<CommandLedger>>,
    mut outcomes: MessageReader<FromStack>,
    mut refusals: MessageReader<Refused>,
) {
    let Some(mut rng) = rng else { return };
    let ledger = &mut *ledger;
    let kind_of = |camera: u32| -> &'static str {
        cameras
            .points
            .get(camera as usize - 1)
            .map_or("unknown", |p| p.kind.as_str())
    };
    for msg in outcomes.read() {
        match &msg.outcome {
            Outcome::SightingDiscarded { sighting_ref } => {
                if let Some(s) = ledger.pending.remove(sighting_ref) {
                    ledger.judge(
                        &s,
                        None,
                        config.threshold,
                        config.top_k as usize,
                        kind_of(s.camera),
                    );
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
                let right = ledger.judge(
                    &s,
                    Some(candidates),
                    config.threshold,
                    config.top_k as usize,
                    kind_of(s.camera),
                );
                ledger
                    .metrics
                    .hist("matcher.sighting_to_alert_s")
                    .record_ms(msg.at.saturating_sub(s.captured_at));
                ledger
                    .sent_at_of
                    .insert(*alert, (s.mate.filter(|_| right), s.captured_at));
                ledger.alerts.insert(
                    *alert,
                    AlertRec {
                        raised_at: msg.at,
                        right,
                        mated: s.mate.is_some(),
                        confirmed_at: None,
                        rejected_at: None,
                        reviews: 0,
                    },
                );
                desk.queue.push_back(ReviewJob {
                    alert: Some(*alert),
                    queued_at: msg.at,
                });
                expect_lead(
                    em.as_deref_mut(),
                    command.as_deref_mut(),
                    *alert,
                    s.grid,
                    s.x,
                    s.y,
                    s.captured_at,
                );
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
                if let Some((entry, captured_at)) = ledger.sent_at_of.remove(alert) {
                    ledger
                        .awaiting
                        .insert(*alert, Awaiting { entry, captured_at });
                }
                if let Some(a) = ledger.alerts.get_mut(alert) {
                    a.confirmed_at = Some(msg.at);
                    let ms = msg.at.saturating_sub(a.raised_at);
                    ledger
                        .metrics
                        .hist("matcher.alert_to_confirmed_s")
                        .record_ms(ms);
                }
                desk.reviewed_by.remove(alert);
            }
            Outcome::AlertRejected { alert } => {
                ledger.sent_at_of.remove(alert);
                if let Some(a) = ledger.alerts.get_mut(alert) {
                    a.rejected_at = Some(msg.at);
                }
                desk.reviewed_by.remove(alert);
                drop_lead(em.as_deref_mut(), command.as_deref_mut(), *alert);
            }
            _ => {}
        }
    }
    // Police reached a confirmed lead: the person is found if the trail is still warm, and the
    // entry's owner takes them off the list (they are in custody, or home).
    if let Some(cl) = command.as_deref() {
        let reached: Vec<(AlertId, u64)> = ledger
            .awaiting
            .keys()
            .filter_map(|id| {
                cl.lead_times(LEAD_REF_BASE + id.0)
                    .and_then(|(_, arrived)| arrived)
                    .map(|at| (*id, at))
            })
            .collect();
        for (id, at) in reached {
            let w = ledger.awaiting.remove(&id).expect("listed above");
            let Some(entry) = w.entry else {
                ledger.wrong_person_dispatches += 1;
                continue;
            };
            let delay = at.saturating_sub(w.captured_at) as f64;
            let p = (-delay / config.trail_ms.max(1) as f64).exp();
            if rng.found.random::<f64>() >= p || !watchlist.present(entry) {
                ledger.trail_cold += 1;
                continue;
            }
            watchlist.found(entry);
            let list = match watchlist.entries[entry as usize].list {
                baoan_api::ListKind::Wanted => "wanted",
                baoan_api::ListKind::Missing => "missing",
            };
            *ledger.found.entry(list).or_default() += 1;
            agenda.schedule(at + 600_000, MatcherAction::Remove { entry });
        }
    }
    for r in refusals.read() {
        if !is_matcher_command(&r.envelope.command) {
            continue;
        }
        if r.client_ref & super::TAG_SIGHTING == TAG_SIGHTING {
            ledger
                .pending
                .remove(&(r.client_ref & !crate::command::TAG_MASK));
        }
        crate::note_refusal(&mut ledger.refused, &mut ledger.notes, r);
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

pub fn finish(world: &mut World) -> MatcherOutcome {
    let config = world.resource::<MatcherConfig>().clone();
    let end_ms = world.resource::<SimClock>().now_ms.max(1);
    let days = end_ms as f64 / 86_400_000.0;
    let cameras = world.resource::<Cameras>().clone();
    let (desk_busy_ms, desk_queue, desk_queue_real) = {
        let d = world.resource::<ReviewDesk>();
        (
            d.busy_ms,
            d.queue.len(),
            d.queue.iter().filter(|j| j.alert.is_some()).count(),
        )
    };
    let (entries, present_res, present_vis, expired) = {
        let w = world.resource::<Watchlist>();
        (
            w.entries.len(),
            w.entries
                .iter()
                .filter(|e| matches!(e.present, super::Presence::Resident(_)))
                .count(),
            w.visitors.len(),
            w.entries.iter().filter(|e| e.expires_at <= end_ms).count(),
        )
    };
    // Leads: when police were sent and first arrived, from command's ledger.
    let lead_times: BTreeMap<AlertId, (Option<u64>, Option<u64>)> = {
        let l = world.get_resource::<CommandLedger>();
        let ledger = world.resource::<MatcherLedger>();
        ledger
            .alerts
            .iter()
            .filter(|(_, a)| a.confirmed_at.is_some())
            .map(|(id, _)| {
                (
                    *id,
                    l.and_then(|l| l.lead_times(LEAD_REF_BASE + id.0))
                        .unwrap_or((None, None)),
                )
            })
            .collect()
    };
    let mut ledger = world.resource_mut::<MatcherLedger>();
    let ledger = &mut *ledger;
    let t = config.threshold as f64;
    let dim = config.dim;
    let o = ledger.overall;
    let sampling = config.sampling;

    // Accuracy at the operator's threshold, measured on the stack's answers.
    let fpir = rate(o.false_alerts, o.non_mated);
    let fnir = rate(o.misses, o.mated);
    let rank1 = rate(o.rank1_misses, o.mated);
    // The model's FPIR for the searches as made: the list shrinks as entries expire or are
    // taken off, so average 1 − (1 − p)^N over the list sizes searched.
    let p_entry = nonmate_tail(t, dim);
    let searched: u64 = ledger.non_mated_by_list.values().sum();
    let analytic = if searched == 0 {
        analytic_fpir(t, dim, entries)
    } else {
        ledger
            .non_mated_by_list
            .iter()
            .map(|(&n, &c)| c as f64 * -(n as f64 * (-p_entry).ln_1p()).exp_m1())
            .sum::<f64>()
            / searched as f64
    };
    ledger.metrics.set("matcher.fpir", fpir.rate);
    ledger.metrics.set("matcher.fnir", fnir.rate);

    // At the FPIRs evaluators quote: the analytic threshold (the model's), and the one measured
    // on the harness's own scores of non-mated searches.
    let list_n = if searched == 0 {
        entries
    } else {
        (ledger
            .non_mated_by_list
            .iter()
            .map(|(&n, &c)| n as f64 * c as f64)
            .sum::<f64>()
            / searched as f64)
            .round() as usize
    };
    let at_fpir: Vec<AtFpir> = [0.01, 0.003, 0.001]
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
        .collect();

    // DET: FNIR against FPIR over thresholds spanning the scores seen.
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

    let groups: Vec<GroupRow> = GROUPS
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
        .collect();
    let fnirs: Vec<f64> = groups
        .iter()
        .filter(|g| g.mated >= 30)
        .map(|g| g.fnir.rate)
        .collect();
    let best = fnirs.iter().copied().fold(f64::INFINITY, f64::min);
    let worst = fnirs.iter().copied().fold(f64::NEG_INFINITY, f64::max);

    // False alerts at the district's full volume: the sampled non-mated alerts scaled back up,
    // plus alerts on listed people that named someone else first.
    let false_per_day =
        (o.false_alerts as f64 / sampling + ledger.wrong_candidate_alerts as f64) / days;
    let camera_hours = cameras.points.len() as f64 * 24.0;
    let per_camera_hour = false_per_day / camera_hours.max(1.0);
    let alerts_true_per_day = (o.mated - o.rank1_misses.min(o.mated)) as f64 / days;
    ledger
        .metrics
        .set("matcher.false_alerts_per_day", false_per_day);
    ledger
        .metrics
        .set("matcher.rejected", ledger.refused as f64);
    // Workforce: every alert gets a first review; those confirmed get the rest.
    let review_h = config.review_ms as f64 / 3_600_000.0 * 1.13; // mean of a lognormal(σ 0.5)
    let first_reviews = false_per_day + alerts_true_per_day;
    let later = alerts_true_per_day * (config.reviewers_required as f64 - 1.0)
        + false_per_day * config.false_confirm * (config.reviewers_required as f64 - 1.0);
    let reviewer_hours = (first_reviews + later) * review_h;

    // The loop's times.
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
    let hist = |m: &mut Metrics, name: &str| {
        let h = m.hist(name);
        serde_json::json!({"count": h.count(), "p50_s": round3(h.quantile_s(0.5)), "p90_s": round3(h.quantile_s(0.9)), "p99_s": round3(h.quantile_s(0.99))})
    };
    let latency = serde_json::json!({
        "sighting_to_alert": hist(&mut ledger.metrics, "matcher.sighting_to_alert_s"),
        "review_wait": hist(&mut ledger.metrics, "matcher.review_wait_s"),
        "alert_to_confirmed": hist(&mut ledger.metrics, "matcher.alert_to_confirmed_s"),
        "confirmed_to_arrival": hist(&mut ledger.metrics, "matcher.confirmed_to_arrival_s"),
        "alert_to_arrival": hist(&mut ledger.metrics, "matcher.alert_to_arrival_s"),
    });
    let kinds: Vec<serde_json::Value> = PlaceKind::ALL
        .iter()
        .map(|k| {
            let pts: Vec<_> = cameras.points.iter().filter(|p| p.kind == *k).collect();
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
        .collect();
    let quality: Vec<serde_json::Value> = ["below_0.33", "0.33_to_0.67", "above_0.67"]
        .iter()
        .zip(ledger.by_quality.iter())
        .map(|(band, q)| serde_json::json!({"quality": band, "fpir": rate(q.false_alerts, q.non_mated), "fnir": rate(q.misses, q.mated)}))
        .collect();
    let section = serde_json::json!({
        "cameras": {
            "face_points": cameras.points.len(),
            "channels": cameras.channels_by_kind.values().sum::<usize>() ,
            "channels_by_kind": cameras.channels_by_kind,
            "channels_by_street": cameras.channels_by_street,
            "lookouts_by_street": cameras.lookouts_by_street,
            "by_place": kinds,
        },
        "volume": {
            "faces_seen": ledger.seen,
            "faces_seen_per_day": round3(ledger.seen as f64 / days),
            "sampling": sampling,
            "non_mated_sent": o.non_mated,
            "mated_sent": o.mated,
            "expired_entry_sightings_sent": ledger.expired_sent,
            "harness_scored_non_mated": ledger.non_mated_top.len(),
        },
        "watchlist": {
            "entries": entries,
            "mean_entries_searched": list_n,
            "wanted": config.wanted,
            "missing": config.missing,
            "residents_listed": present_res,
            "visitors_listed": present_vis,
            "expired_during_run": expired,
            "version": ledger.watchlist_version,
            "policy_version": ledger.policy_version,
            "threshold": round6(t),
            "target_fpir": config.target_fpir,
            "top_k": config.top_k,
            "reviewers_required": config.reviewers_required,
            "dim": dim,
        },
        "accuracy": {
            "fpir": fpir,
            "fpir_analytic": round6(analytic),
            "fnir": fnir,
            "rank1_miss": rank1,
            "at_fpir": at_fpir,
            "by_group": groups,
            "fnir_worst_to_best_group": if best > 0.0 && worst.is_finite() { round3(worst / best) } else { f64::NAN },
            "by_quality": quality,
        },
        "alerts": {
            "raised": raised[0] + raised[1],
            "raised_right_person": raised[1],
            "false_alerts_per_day": round3(false_per_day),
            "false_alerts_per_camera_hour": round6(per_camera_hour),
            "true_alerts_per_day": round3(alerts_true_per_day),
            "reviewer_hours_per_day": round3(reviewer_hours),
            "reviewers_on_duty_needed": round3(reviewer_hours / 24.0 / 0.7),
            "confirmed_right_person": confirmed[1],
            "confirmed_wrong_person": confirmed[0],
            "rejected_right_person": rejected[1],
            "rejected_wrong_person": rejected[0],
            "awaiting_review_at_end": open_reviews,
            "reviewers_on_duty": config.reviewers_on_duty,
            "reviewer_utilisation": round3(desk_busy_ms as f64 / (config.reviewers_on_duty.max(1) as f64 * end_ms as f64)),
            "review_queue_at_end": desk_queue,
            "review_queue_at_end_sent_alerts": desk_queue_real,
            "leads_dispatched": dispatched,
            "leads_police_arrived": arrived,
            "persons_found": ledger.found,
            "trail_cold_on_arrival": ledger.trail_cold,
            "police_sent_to_the_wrong_person": ledger.wrong_person_dispatches,
        },
        "latency": latency,
        "checks": {
            "stack_missed": ledger.stack_missed,
            "stack_spurious": ledger.stack_spurious,
            "alerts_on_expired_entries": ledger.expired_alerts,
            "unanswered_sightings": ledger.pending.len(),
            "refused": ledger.refused,
        },
        "notes": ledger.notes,
        "det": det,
    });

    // Invariants the harness can judge from outside the stack.
    let n = o.non_mated as f64;
    let se = (analytic * (1.0 - analytic) / n.max(1.0)).sqrt();
    let fpir_close = o.non_mated < 1_000 || (fpir.rate - analytic).abs() <= 4.0 * se + 1e-12;
    let invariants = vec![
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
            "matcher: measured FPIR agrees with the model's analytic FPIR (4 SE)",
            fpir_close,
            format!(
                "measured {:.6} ± {:.6} on {} searches, analytic {:.6}",
                fpir.rate, se, o.non_mated, analytic
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
    ];

    let mut html = Section {
        title: "Matcher: cameras, watchlist alerts and review".into(),
        intro: format!(
            "{} face points saw {:.0} faces a day; {} of the sightings of people on no list went \
             through the matcher (counts scaled by 1/{}), every sighting of a listed person did. \
             Threshold {:.4} (calibrated for FPIR {}); an alert needs {} reviewers.",
            cameras.points.len(),
            ledger.seen as f64 / days,
            sampling,
            sampling,
            t,
            config.target_fpir,
            config.reviewers_required
        ),
        ..Section::default()
    };
    let pct = |r: &Rate| format!("{:.4} ± {:.4} (n {})", r.rate, r.se, r.n);
    html.tables.push(Table {
        caption: "Accuracy at the operator's threshold (from the stack's answers)".into(),
        header: vec!["measure".into(), "value".into()],
        rows: vec![
            vec!["FPIR".into(), pct(&fpir)],
            vec!["FPIR, analytic".into(), format!("{analytic:.6}")],
            vec!["FNIR".into(), pct(&fnir)],
            vec!["rank-1 miss".into(), pct(&rank1)],
            vec![
                "false alerts per day (full volume)".into(),
                format!("{false_per_day:.1}"),
            ],
            vec![
                "false alerts per camera-hour".into(),
                format!("{per_camera_hour:.5}"),
            ],
            vec![
                "reviewer-hours per day".into(),
                format!("{reviewer_hours:.1}"),
            ],
        ],
    });
    html.tables.push(Table {
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
    });
    html.tables.push(Table {
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
    });
    let det_points: Vec<(f64, f64)> = section["det"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| {
            let (fp, fnr) = (r["fpir"].as_f64()?, r["fnir"].as_f64()?);
            (fp > 0.0).then(|| (fp.log10(), fnr))
        })
        .collect();
    if let Ok(svg) = plot::lines_svg(
        "DET: FNIR against FPIR across thresholds",
        "log10 FPIR",
        "FNIR",
        &[Series {
            name: format!("{} entries × {} dims", entries, dim),
            points: det_points,
        }],
    ) {
        html.figures.push(svg);
    }
    MatcherOutcome {
        section,
        html,
        invariants,
        metrics: std::mem::take(&mut ledger.metrics),
    }
}
