//! The cases loops' ledger and report: how fast each agency acted, whether high-risk cases got
//! every action in time, violence that happened and violence prevented (against the same
//! households with nobody acting), how fast credit records reached every linked entity, how well
//! registrations were screened, and whether care visits came on time. Care appears only as counts.

use std::collections::{BTreeMap, HashMap};

use baoan_api::cases::{
    Agency, CreditKind, CreditLink, CreditReceiver, FlagReason, RegistrationDecision, RiskLevel,
    Subject, SupervisionVerdict,
};
use baoan_api::{Actor, ApiError, Command, Envelope, EscalationLevel, Outcome, Role};
use baoan_reports::html::{Section, Table};
use baoan_reports::{Invariant, Metrics};
use baoan_world::bridge::StackBridge;
use bevy_ecs::prelude::*;
use serde_json::json;

use super::{CasesConfig, CasesTruth, RegistrationTruth};

pub type CasesOutcome = crate::LoopOutcome;

/// When something was done (acknowledged), and whether by its deadline.
type Done = Option<(u64, bool)>;

/// A credit record: its ref, when recorded, the entities it reached (by link), and how many
/// linked entities it could not reach.
type EventRec = (u64, u64, Vec<(Subject, CreditLink)>, u64);

#[derive(Debug, Clone)]
struct CaseRec {
    opened_at: u64,
    level: RiskLevel,
    /// task → (agency, due, done at and on time).
    tasks: BTreeMap<u64, (Agency, u64, Done)>,
    joint: u32,
}

#[derive(Resource, Default)]
pub struct CasesLedger {
    pub refused: u64,
    pub notes: Vec<String>,
    pub case_workers: u64,
    pub care_workers: u64,
    pub disputes_opened: u64,
    cases: BTreeMap<u64, CaseRec>,
    reassessed: u64,
    escalated: u64,
    overdue: BTreeMap<&'static str, u64>,
    closed: u64,

    pub credit_kinds: HashMap<u64, CreditKind>,
    pub delivery_receiver: HashMap<u64, CreditReceiver>,
    /// delivery → (event, acknowledged at, on time, revoke).
    deliveries: BTreeMap<u64, (u64, Done, bool)>,
    /// event → (event_ref, recorded at, entities reached by link, undelivered).
    events: BTreeMap<u64, EventRec>,
    upheld: Vec<u64>,
    dismissed: u64,

    pub registration_grid: HashMap<u64, u32>,
    /// registration_ref → reasons flagged (empty: approved).
    registrations: BTreeMap<u64, Vec<FlagReason>>,
    verdicts: BTreeMap<u64, SupervisionVerdict>,
    trading: BTreeMap<u64, SupervisionVerdict>,

    pub care_enrolled: u64,
    care_visits: u64,
    care_on_time: u64,
    care_overdue: BTreeMap<&'static str, u64>,
    care_services: u64,
    care_services_done: u64,

    metrics: Metrics,
}

fn level_name(l: EscalationLevel) -> &'static str {
    match l {
        EscalationLevel::Street => "street",
        EscalationLevel::District => "district",
    }
}

/// Whether an outcome belongs to the cases loops (advance's outcomes carry no client ref).
pub(crate) fn is_cases_outcome(o: &Outcome) -> bool {
    matches!(
        o,
        Outcome::CaseOpened { .. }
            | Outcome::CaseReassessed { .. }
            | Outcome::CaseActionRecorded { .. }
            | Outcome::CaseEscalated { .. }
            | Outcome::CaseTaskOverdue { .. }
            | Outcome::CaseClosed { .. }
            | Outcome::CreditRecorded { .. }
            | Outcome::CreditAcknowledged { .. }
            | Outcome::CreditRevoked { .. }
            | Outcome::AppealDismissed { .. }
            | Outcome::RegistrationChecked { .. }
            | Outcome::PremisesChecked { .. }
            | Outcome::TradingChecked { .. }
            | Outcome::CareVisitRecorded { .. }
            | Outcome::CareServiceCompleted { .. }
            | Outcome::CareVisitOverdue { .. }
    )
}

impl CasesLedger {
    pub(crate) fn take(&mut self, o: &Outcome, at: u64) {
        match o {
            Outcome::CaseOpened {
                case, level, tasks, ..
            } => {
                let rec = self.cases.entry(*case).or_insert(CaseRec {
                    opened_at: at,
                    level: *level,
                    tasks: BTreeMap::new(),
                    joint: 0,
                });
                for t in tasks {
                    rec.tasks.insert(t.task, (t.agency, t.due_at, None));
                    rec.joint += u32::from(t.joint_visit.is_some());
                }
            }
            Outcome::CaseReassessed {
                case, level, tasks, ..
            } => {
                self.reassessed += 1;
                if let Some(rec) = self.cases.get_mut(case) {
                    rec.level = rec.level.max(*level);
                    for t in tasks {
                        let e = rec
                            .tasks
                            .entry(t.task)
                            .or_insert((t.agency, t.due_at, None));
                        e.1 = t.due_at;
                    }
                }
            }
            Outcome::CaseActionRecorded {
                task,
                case,
                on_time,
                ..
            } => {
                if let Some(rec) = self.cases.get_mut(case)
                    && let Some(t) = rec.tasks.get_mut(task)
                {
                    t.2 = Some((at, *on_time));
                }
            }
            Outcome::CaseEscalated { .. } => self.escalated += 1,
            Outcome::CaseTaskOverdue { level, .. } => {
                *self.overdue.entry(level_name(*level)).or_default() += 1
            }
            Outcome::CaseClosed { .. } => self.closed += 1,
            Outcome::CreditRecorded {
                event,
                event_ref,
                deliveries,
                undelivered,
            } => {
                let mut reached: Vec<(Subject, CreditLink)> = Vec::new();
                for d in deliveries {
                    self.delivery_receiver.insert(d.delivery, d.receiver);
                    self.deliveries.insert(d.delivery, (*event, None, false));
                    if !reached.iter().any(|(s, _)| s == &d.entity) {
                        reached.push((d.entity.clone(), d.link));
                    }
                }
                self.events
                    .insert(*event, (*event_ref, at, reached, undelivered.len() as u64));
            }
            Outcome::CreditAcknowledged { delivery, on_time } => {
                if let Some(d) = self.deliveries.get_mut(delivery)
                    && d.1.is_none()
                {
                    d.1 = Some((at, *on_time));
                }
            }
            Outcome::CreditRevoked { event, deliveries } => {
                self.upheld.push(*event);
                for d in deliveries {
                    self.delivery_receiver.insert(d.delivery, d.receiver);
                    self.deliveries.insert(d.delivery, (*event, None, true));
                }
            }
            Outcome::AppealDismissed { .. } => self.dismissed += 1,
            Outcome::RegistrationChecked {
                registration_ref,
                decision,
                grid,
                ..
            } => {
                let reasons = match decision {
                    RegistrationDecision::Approved => Vec::new(),
                    RegistrationDecision::Flagged { reasons } => reasons.clone(),
                };
                self.registrations.insert(*registration_ref, reasons);
                if let Some(g) = grid {
                    self.registration_grid.insert(*registration_ref, *g);
                }
            }
            Outcome::PremisesChecked {
                registration_ref,
                verdict,
                ..
            } => {
                self.verdicts.insert(*registration_ref, *verdict);
            }
            Outcome::TradingChecked {
                report_ref,
                verdict,
            } => {
                self.trading.insert(*report_ref, *verdict);
            }
            Outcome::CareVisitRecorded {
                on_time, service, ..
            } => {
                self.care_visits += 1;
                self.care_on_time += u64::from(*on_time);
                self.care_services += u64::from(service.is_some());
            }
            Outcome::CareServiceCompleted { .. } => self.care_services_done += 1,
            Outcome::CareVisitOverdue { level, .. } => {
                *self.care_overdue.entry(level_name(*level)).or_default() += 1
            }
            _ => {}
        }
    }
}

fn share(n: u64, d: u64) -> f64 {
    if d == 0 { 0.0 } else { n as f64 / d as f64 }
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// Precision, recall and counts of a flag against the truth.
fn prf(pairs: impl Iterator<Item = (bool, bool)>) -> (f64, f64, u64, u64, u64) {
    let (mut tp, mut flagged, mut actual) = (0, 0, 0);
    for (flag, truth) in pairs {
        flagged += u64::from(flag);
        actual += u64::from(truth);
        tp += u64::from(flag && truth);
    }
    (share(tp, flagged), share(tp, actual), tp, flagged, actual)
}

/// Send a check the report makes of the stack at the end of the run (audited like any call).
fn probe(
    world: &mut World,
    actor: Actor,
    command: Command,
    at: u64,
) -> Result<Vec<Outcome>, ApiError> {
    let mut bridge = world.resource_mut::<StackBridge>();
    bridge.sent += 1;
    bridge.stack.send(&Envelope {
        actor,
        sent_at: at,
        command,
    })
}

pub fn finish(world: &mut World) -> CasesOutcome {
    let end = world.resource::<CasesConfig>().end_ms;
    let truth = std::mem::take(&mut *world.resource_mut::<CasesTruth>());
    let mut ledger = std::mem::take(&mut *world.resource_mut::<CasesLedger>());
    let mut invariants = Vec::new();

    // --- Disputes -------------------------------------------------------------------------
    let mut by_level: BTreeMap<RiskLevel, u64> = BTreeMap::new();
    let mut first_by_agency: BTreeMap<Agency, Vec<u64>> = BTreeMap::new();
    let mut tasks_by_agency: BTreeMap<Agency, (u64, u64, u64)> = BTreeMap::new(); // due, done, on time
    let (mut high_due, mut high_all_on_time, mut joint) = (0u64, 0u64, 0u64);
    for rec in ledger.cases.values() {
        *by_level.entry(rec.level).or_default() += 1;
        joint += u64::from(rec.joint);
        let mut first: Option<u64> = None;
        for &(agency, due, done) in rec.tasks.values() {
            let e = tasks_by_agency.entry(agency).or_default();
            if due <= end || done.is_some() {
                e.0 += 1;
            }
            if let Some((at, on_time)) = done {
                e.1 += 1;
                e.2 += u64::from(on_time);
                first = Some(first.map_or(at, |f: u64| f.min(at)));
            }
        }
        for agency in Agency::ALL {
            if let Some(at) = rec
                .tasks
                .values()
                .filter(|t| t.0 == agency)
                .filter_map(|t| t.2.map(|d| d.0))
                .min()
            {
                first_by_agency
                    .entry(agency)
                    .or_default()
                    .push(at - rec.opened_at);
            }
        }
        if let Some(f) = first {
            ledger
                .metrics
                .hist("cases.first_action_s")
                .record_ms(f - rec.opened_at);
        }
        if rec.level >= RiskLevel::High && rec.tasks.values().all(|t| t.1 <= end) {
            high_due += 1;
            high_all_on_time += u64::from(rec.tasks.values().all(|t| t.2.is_some_and(|d| d.1)));
        }
    }
    let mut first_json = serde_json::Map::new();
    for (agency, times) in &first_by_agency {
        let name = format!("cases.first_action_{}_s", agency.as_str());
        for &t in times {
            ledger.metrics.hist(&name).record_ms(t);
        }
        first_json.insert(
            agency.as_str().into(),
            serde_json::to_value(ledger.metrics.hist(&name).summary()).expect("serialisable"),
        );
    }
    let high_on_time = share(high_all_on_time, high_due);
    ledger.metrics.set("cases.high_risk_on_time", high_on_time);

    // Violence, against the same households with nobody acting.
    let households = truth.households.len() as u64;
    let occurred = truth
        .households
        .iter()
        .filter(|h| h.violent_at.is_some())
        .count() as u64;
    let counterfactual = truth
        .households
        .iter()
        .filter(|h| h.counterfactual_at.is_some())
        .count() as u64;
    let prevented = truth
        .households
        .iter()
        .filter(|h| h.counterfactual_at.is_some() && h.violent_at.is_none())
        .count() as u64;
    let worse = truth
        .households
        .iter()
        .filter(|h| h.violent_at.is_some() && h.counterfactual_at.is_none())
        .count() as u64;
    invariants.push(Invariant::check(
        "cases: no household turned violent that would not have with nobody acting",
        worse == 0,
        format!("{worse} of {households}"),
    ));
    ledger
        .metrics
        .set("cases.escalations_occurred", occurred as f64);
    ledger
        .metrics
        .set("cases.escalations_prevented", prevented as f64);
    let by_intake_level = {
        // Keyed by the level itself, so tables and JSON run from low to acute.
        let mut m: BTreeMap<RiskLevel, [u64; 4]> = BTreeMap::new();
        for (case, rec) in &ledger.cases {
            let Some(&h) = truth.case_household.get(case) else {
                continue;
            };
            let hh = &truth.households[h];
            // The household's first case only.
            if truth
                .case_household
                .iter()
                .any(|(c, &x)| x == h && c < case)
            {
                continue;
            }
            let e = m.entry(rec.level).or_default();
            e[0] += 1;
            e[1] += u64::from(hh.violent_at.is_some());
            e[2] += u64::from(hh.counterfactual_at.is_some());
            e[3] += u64::from(hh.counterfactual_at.is_some() && hh.violent_at.is_none());
        }
        m
    };

    // --- Credit ---------------------------------------------------------------------------
    let mut acked = 0u64;
    let mut acked_on_time = 0u64;
    let mut last_ack: BTreeMap<u64, (u64, bool)> = BTreeMap::new(); // event → (latest, all acked)
    for (event, ack, revoke) in ledger.deliveries.values() {
        if *revoke {
            continue;
        }
        let e = last_ack.entry(*event).or_insert((0, true));
        match ack {
            Some((at, on_time)) => {
                acked += 1;
                acked_on_time += u64::from(*on_time);
                e.0 = e.0.max(*at);
            }
            None => e.1 = false,
        }
    }
    let mut complete = 0u64;
    for (event, (latest, all)) in &last_ack {
        if *all && let Some((_, recorded, _, _)) = ledger.events.get(event) {
            complete += 1;
            ledger
                .metrics
                .hist("cases.credit_propagation_s")
                .record_ms(latest - recorded);
        }
    }
    let mut true_links = 0u64;
    let mut reached_links = 0u64;
    let mut undelivered = 0u64;
    for (event_ref, recorded_links, und) in ledger
        .events
        .values()
        .map(|(r, _, reached, und)| (r, reached, und))
    {
        undelivered += und;
        if let Some((_, _, links)) = truth.credit.get(event_ref) {
            true_links += links.len() as u64;
            reached_links += links
                .iter()
                .filter(|l| recorded_links.iter().any(|(s, _)| &s == l))
                .count() as u64;
        }
    }
    let revoke_total = ledger.deliveries.values().filter(|d| d.2).count() as u64;
    let revoke_acked = ledger
        .deliveries
        .values()
        .filter(|d| d.2 && d.1.is_some())
        .count() as u64;
    // Every upheld appeal: the record must stand on none of the entities it reached.
    let mut still_standing = 0u64;
    let auditor = Actor {
        role: Role::Auditor,
        person: baoan_api::PersonId(9_000_301),
    };
    let upheld = ledger.upheld.clone();
    for event in &upheld {
        let Some((_, _, reached, _)) = ledger.events.get(event).cloned() else {
            continue;
        };
        for (subject, _) in reached {
            if let Ok(out) = probe(world, auditor, Command::QueryCredit { subject }, end)
                && out.iter().any(|o| {
                    matches!(o, Outcome::CreditAnswered { entries, .. }
                        if entries.iter().any(|e| e.event == *event))
                })
            {
                still_standing += 1;
            }
        }
    }
    invariants.push(Invariant::check(
        "cases: a penalty removed on appeal stands on no entity it reached",
        still_standing == 0,
        format!(
            "{still_standing} entities still carry one of {} revoked records",
            upheld.len()
        ),
    ));

    // --- Business oversight ---------------------------------------------------------------
    let by_rule = |reasons: &Vec<FlagReason>| reasons.iter().any(|r| *r != FlagReason::SpotCheck);
    let (flag_p, flag_r, flag_tp, flagged, bad) =
        prf(ledger.registrations.iter().map(|(r, reasons)| {
            (
                by_rule(reasons),
                truth.registrations.get(r).is_some_and(|t| t.is_bad()),
            )
        }));
    ledger
        .metrics
        .set("cases.registration_flag_precision", flag_p);
    ledger.metrics.set("cases.registration_flag_recall", flag_r);
    let mut by_truth: BTreeMap<&str, [u64; 3]> = BTreeMap::new(); // registered, flagged, caught
    for (r, reasons) in &ledger.registrations {
        let Some(t) = truth.registrations.get(r) else {
            continue;
        };
        let e = by_truth.entry(t.as_str()).or_default();
        e[0] += 1;
        e[1] += u64::from(!reasons.is_empty());
        e[2] += u64::from(matches!(
            ledger.verdicts.get(r),
            Some(SupervisionVerdict::FalseRegistration | SupervisionVerdict::AddressMisuse)
        ));
    }
    let verdicts_right = ledger
        .verdicts
        .iter()
        .filter(|(r, v)| {
            let t = truth.registrations.get(r).copied();
            matches!(
                (t, v),
                (
                    Some(RegistrationTruth::FalseAddress),
                    SupervisionVerdict::FalseRegistration
                ) | (
                    Some(RegistrationTruth::Shell | RegistrationTruth::Misuse),
                    SupervisionVerdict::AddressMisuse
                ) | (
                    Some(RegistrationTruth::Honest),
                    SupervisionVerdict::Compliant
                )
            )
        })
        .count() as u64;
    let (trade_p, trade_r, _, trade_flagged, trade_unlicensed) =
        prf(ledger.trading.iter().map(|(r, v)| {
            (
                *v == SupervisionVerdict::UnlicensedTrading,
                truth.trading.get(r) == Some(&false),
            )
        }));
    let mut reasons_count: BTreeMap<String, u64> = BTreeMap::new();
    for reasons in ledger.registrations.values() {
        for r in reasons {
            *reasons_count
                .entry(
                    serde_json::to_value(r)
                        .expect("serialisable")
                        .as_str()
                        .unwrap_or("?")
                        .to_string(),
                )
                .or_default() += 1;
        }
    }

    // --- Care -----------------------------------------------------------------------------
    let care_on_time = share(ledger.care_on_time, ledger.care_visits);
    ledger
        .metrics
        .set("cases.care_visits_on_time", care_on_time);
    // The safeguard, probed: a care worker of another community is refused; the record's own
    // community is answered.
    let probe_result = truth.care_id.iter().next().map(|(care_ref, &care)| {
        let community = truth.care[care_ref].0;
        let other = if community == 0 { 1 } else { 0 };
        let wrong = probe(
            world,
            Actor {
                role: Role::CareWorker,
                person: super::care::care_worker(other, 0),
            },
            Command::QueryCare { care },
            end,
        );
        let right = probe(
            world,
            Actor {
                role: Role::CareWorker,
                person: super::care::care_worker(community, 0),
            },
            Command::QueryCare { care },
            end,
        );
        let analyst = probe(
            world,
            crate::staff::ANALYST,
            Command::QueryCare { care },
            end,
        );
        (
            matches!(wrong, Err(ApiError::Forbidden { .. })),
            matches!(right.as_deref(), Ok([Outcome::CareAnswered { .. }])),
            matches!(analyst, Err(ApiError::Forbidden { .. })),
        )
    });
    if let Some((wrong_refused, right_answered, analyst_refused)) = probe_result {
        invariants.push(Invariant::check(
            "cases: a care record is read only by its own community's care workers",
            wrong_refused && right_answered && analyst_refused,
            format!(
                "other community refused: {wrong_refused}; own community answered: {right_answered}; analyst refused: {analyst_refused}"
            ),
        ));
    }
    ledger.metrics.set("cases.rejected", ledger.refused as f64);
    invariants.push(Invariant::check(
        "cases: no cases-loop command refused",
        ledger.refused == 0,
        format!("{} refused: {:?}", ledger.refused, ledger.notes),
    ));

    let agency_rows: Vec<Vec<String>> = Agency::ALL
        .iter()
        .map(|a| {
            let (due, done, on_time) = tasks_by_agency.get(a).copied().unwrap_or_default();
            let s = ledger
                .metrics
                .hist(&format!("cases.first_action_{}_s", a.as_str()))
                .summary();
            vec![
                a.as_str().into(),
                due.to_string(),
                done.to_string(),
                format!("{:.1}%", 100.0 * share(on_time, due)),
                format!("{:.1}", s.p50_s / 3600.0),
                format!("{:.1}", s.p90_s / 3600.0),
            ]
        })
        .collect();
    let agencies_json: serde_json::Map<String, serde_json::Value> = Agency::ALL
        .iter()
        .map(|a| {
            let (due, done, on_time) = tasks_by_agency.get(a).copied().unwrap_or_default();
            (
                a.as_str().to_string(),
                json!({"tasks_due_in_run": due, "done": done, "on_time": on_time,
                       "on_time_share": round4(share(on_time, due))}),
            )
        })
        .collect();
    let level_rows: Vec<Vec<String>> = by_intake_level
        .iter()
        .map(|(l, v)| {
            vec![
                l.as_str().to_string(),
                v[0].to_string(),
                v[2].to_string(),
                v[1].to_string(),
                v[3].to_string(),
            ]
        })
        .collect();

    let section = json!({
        "disputes": {
            "households": households,
            "cases_opened": ledger.cases.len(),
            "by_level": by_level,
            "reassessed": ledger.reassessed,
            "joint_visit_tasks": joint,
            "escalated_to_command": ledger.escalated,
            "overdue": ledger.overdue,
            "closed": ledger.closed,
            "agencies": agencies_json,
            "first_action_s": first_json,
            "first_any_action_s": ledger.metrics.hist("cases.first_action_s").summary(),
            "high_risk_due_in_run": high_due,
            "high_risk_all_on_time": high_all_on_time,
            "high_risk_on_time_share": round4(high_on_time),
            "violence": {
                "occurred": occurred,
                "would_have_occurred_with_no_action": counterfactual,
                "prevented": prevented,
                "by_first_level": by_intake_level,
            },
            "case_workers": ledger.case_workers,
        },
        "credit": {
            "records": ledger.events.len(),
            "deliveries": ledger.deliveries.values().filter(|d| !d.2).count(),
            "acknowledged": acked,
            "acknowledged_on_time": acked_on_time,
            "records_fully_applied": complete,
            "propagation_s": ledger.metrics.hist("cases.credit_propagation_s").summary(),
            "linked_entities_in_truth": true_links,
            "linked_entities_reached": reached_links,
            "link_recall": round4(share(reached_links, true_links)),
            "undelivered": undelivered,
            "appeals_upheld": upheld.len(),
            "appeals_dismissed": ledger.dismissed,
            "revoke_deliveries": revoke_total,
            "revoke_acknowledged": revoke_acked,
            "still_standing_after_revocation": still_standing,
        },
        "oversight": {
            "registrations": ledger.registrations.len(),
            "flag_reasons": reasons_count,
            "by_truth": by_truth,
            "flag_by_rule": {"precision": round4(flag_p), "recall": round4(flag_r),
                              "true_positives": flag_tp, "flagged": flagged, "bad": bad},
            "premises_checked": ledger.verdicts.len(),
            "verdicts_right": verdicts_right,
            "trading": {"reports": ledger.trading.len(), "judged_unlicensed": trade_flagged,
                        "unlicensed_in_truth": trade_unlicensed,
                        "precision": round4(trade_p), "recall": round4(trade_r)},
        },
        "care": {
            "enrolled": ledger.care_enrolled,
            "care_workers": ledger.care_workers,
            "visits": ledger.care_visits,
            "on_time": ledger.care_on_time,
            "on_time_share": round4(care_on_time),
            "overdue": ledger.care_overdue,
            "services_opened": ledger.care_services,
            "services_done": ledger.care_services_done,
        },
        "refused": ledger.refused,
        "notes": ledger.notes,
    });

    let mut figures = Vec::new();
    let series: Vec<baoan_reports::plot::Series> = first_by_agency
        .iter()
        .map(|(a, times)| {
            let mut t: Vec<f64> = times.iter().map(|&ms| ms as f64 / 3_600_000.0).collect();
            t.sort_by(f64::total_cmp);
            let n = t.len() as f64;
            baoan_reports::plot::Series {
                name: a.as_str().into(),
                points: t
                    .iter()
                    .enumerate()
                    .map(|(i, &x)| (x, (i + 1) as f64 / n))
                    .collect(),
            }
        })
        .collect();
    if !series.is_empty()
        && let Ok(svg) = baoan_reports::plot::cdf_svg(
            "Dispute cases: time from intake to each agency's first action",
            "hours",
            &series,
            false,
        )
    {
        figures.push(svg);
    }

    let html = Section {
        title: "Cases: disputes, credit, business oversight and care".into(),
        intro: format!(
            "{} dispute cases; high-risk cases with every action on time {:.1}%; violence occurred in {} households and was prevented in {} (of {} that would have turned violent with no action). {} credit records, {:.1}% of linked entities reached; registrations flagged by rule: precision {:.2}, recall {:.2}; care visits on time {:.1}%.",
            ledger.cases.len(),
            100.0 * high_on_time,
            occurred,
            prevented,
            counterfactual,
            ledger.events.len(),
            100.0 * share(reached_links, true_links),
            flag_p,
            flag_r,
            100.0 * care_on_time
        ),
        tables: vec![
            Table {
                caption: "Agencies' actions on dispute cases".into(),
                header: vec![
                    "agency".into(),
                    "tasks due in the run".into(),
                    "done".into(),
                    "on time".into(),
                    "first action p50 (h)".into(),
                    "p90 (h)".into(),
                ],
                rows: agency_rows,
            },
            Table {
                caption: "Households by their first case's risk level".into(),
                header: vec![
                    "level".into(),
                    "households".into(),
                    "violent with no action".into(),
                    "violent".into(),
                    "prevented".into(),
                ],
                rows: level_rows,
            },
        ],
        figures,
    };
    CasesOutcome {
        section,
        html,
        invariants,
        metrics: std::mem::take(&mut ledger.metrics),
    }
}
