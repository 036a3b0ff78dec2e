//! The disputes part of the report: how fast each agency acted, whether high-risk cases got
//! every action in time, and violence that happened against violence with nobody acting.

use std::collections::BTreeMap;

use baoan_api::Outcome;
use baoan_api::cases::{Agency, RiskLevel};
use baoan_reports::Invariant;
use baoan_reports::html::Table;
use serde_json::{Value, json};

use super::{CaseRec, CasesLedger, level_name, round4, share};
use crate::cases::CasesTruth;

impl CasesLedger {
    /// What the platform said about dispute cases.
    pub(super) fn take_dispute(&mut self, o: &Outcome, at: u64) {
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
            _ => {}
        }
    }
}

/// The cases' tasks counted by level and agency.
#[derive(Default)]
struct Tally {
    by_level: BTreeMap<RiskLevel, u64>,
    /// Per agency, each case's time from intake to the agency's first action.
    first_by_agency: BTreeMap<Agency, Vec<u64>>,
    /// Per agency: tasks due in the run, done, done on time.
    tasks_by_agency: BTreeMap<Agency, (u64, u64, u64)>,
    high_due: u64,
    high_all_on_time: u64,
    joint: u64,
}

impl Tally {
    fn count(ledger: &mut CasesLedger, end: u64) -> Tally {
        let mut tally = Tally::default();
        for rec in ledger.cases.values() {
            *tally.by_level.entry(rec.level).or_default() += 1;
            tally.joint += u64::from(rec.joint);
            let first = tally.count_tasks(rec, end);
            tally.note_first_actions(rec);
            if let Some(f) = first {
                ledger
                    .metrics
                    .hist("cases.first_action_s")
                    .record_ms(f - rec.opened_at);
            }
            if rec.level >= RiskLevel::High && rec.tasks.values().all(|t| t.1 <= end) {
                tally.high_due += 1;
                tally.high_all_on_time +=
                    u64::from(rec.tasks.values().all(|t| t.2.is_some_and(|d| d.1)));
            }
        }
        tally
    }

    /// Count a case's tasks per agency; returns when the case's first action came.
    fn count_tasks(&mut self, rec: &CaseRec, end: u64) -> Option<u64> {
        let mut first: Option<u64> = None;
        for &(agency, due, done) in rec.tasks.values() {
            let e = self.tasks_by_agency.entry(agency).or_default();
            if due <= end || done.is_some() {
                e.0 += 1;
            }
            if let Some((at, on_time)) = done {
                e.1 += 1;
                e.2 += u64::from(on_time);
                first = Some(first.map_or(at, |f: u64| f.min(at)));
            }
        }
        first
    }

    fn note_first_actions(&mut self, rec: &CaseRec) {
        for agency in Agency::ALL {
            if let Some(at) = rec
                .tasks
                .values()
                .filter(|t| t.0 == agency)
                .filter_map(|t| t.2.map(|d| d.0))
                .min()
            {
                self.first_by_agency
                    .entry(agency)
                    .or_default()
                    .push(at - rec.opened_at);
            }
        }
    }
}

/// Violence in the run's households, against the same households with nobody acting.
pub(super) struct Violence {
    households: u64,
    pub(super) occurred: u64,
    pub(super) counterfactual: u64,
    pub(super) prevented: u64,
    /// By the level of the household's first case: households, violent, violent with no
    /// action, prevented.
    by_first_level: BTreeMap<RiskLevel, [u64; 4]>,
}

impl Violence {
    fn count(
        ledger: &mut CasesLedger,
        truth: &CasesTruth,
        invariants: &mut Vec<Invariant>,
    ) -> Violence {
        let households = truth.households.len() as u64;
        let count = |f: &dyn Fn(&crate::cases::Household) -> bool| {
            truth.households.iter().filter(|h| f(h)).count() as u64
        };
        let occurred = count(&|h| h.violent_at.is_some());
        let counterfactual = count(&|h| h.counterfactual_at.is_some());
        let prevented = count(&|h| h.counterfactual_at.is_some() && h.violent_at.is_none());
        let worse = count(&|h| h.violent_at.is_some() && h.counterfactual_at.is_none());
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
        Violence {
            households,
            occurred,
            counterfactual,
            prevented,
            by_first_level: by_first_level(ledger, truth),
        }
    }
}

/// Households by their first case's risk level. Keyed by the level itself, so tables and JSON
/// run from low to acute.
fn by_first_level(ledger: &CasesLedger, truth: &CasesTruth) -> BTreeMap<RiskLevel, [u64; 4]> {
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
}

/// Each agency's first actions as a histogram, and their summaries by agency.
fn record_first_actions(
    ledger: &mut CasesLedger,
    first_by_agency: &BTreeMap<Agency, Vec<u64>>,
) -> serde_json::Map<String, Value> {
    let mut first_json = serde_json::Map::new();
    for (agency, times) in first_by_agency {
        let name = format!("cases.first_action_{}_s", agency.as_str());
        for &t in times {
            ledger.metrics.hist(&name).record_ms(t);
        }
        first_json.insert(
            agency.as_str().into(),
            serde_json::to_value(ledger.metrics.hist(&name).summary()).expect("serialisable"),
        );
    }
    first_json
}

/// The disputes part of the report.
pub(super) struct Disputes {
    tally: Tally,
    first_json: serde_json::Map<String, Value>,
    pub(super) high_on_time: f64,
    pub(super) violence: Violence,
}

impl Disputes {
    pub(super) fn summarise(
        ledger: &mut CasesLedger,
        truth: &CasesTruth,
        end: u64,
        invariants: &mut Vec<Invariant>,
    ) -> Disputes {
        let tally = Tally::count(ledger, end);
        let first_json = record_first_actions(ledger, &tally.first_by_agency);
        let high_on_time = share(tally.high_all_on_time, tally.high_due);
        ledger.metrics.set("cases.high_risk_on_time", high_on_time);
        let violence = Violence::count(ledger, truth, invariants);
        Disputes {
            tally,
            first_json,
            high_on_time,
            violence,
        }
    }

    fn agency_figures(&self, a: &Agency) -> (u64, u64, u64) {
        self.tally
            .tasks_by_agency
            .get(a)
            .copied()
            .unwrap_or_default()
    }

    pub(super) fn json(&self, ledger: &mut CasesLedger) -> Value {
        let agencies_json: serde_json::Map<String, Value> = Agency::ALL
            .iter()
            .map(|a| {
                let (due, done, on_time) = self.agency_figures(a);
                (
                    a.as_str().to_string(),
                    json!({"tasks_due_in_run": due, "done": done, "on_time": on_time,
                           "on_time_share": round4(share(on_time, due))}),
                )
            })
            .collect();
        let (t, v) = (&self.tally, &self.violence);
        json!({
            "households": v.households,
            "cases_opened": ledger.cases.len(),
            "by_level": t.by_level,
            "reassessed": ledger.reassessed,
            "joint_visit_tasks": t.joint,
            "escalated_to_command": ledger.escalated,
            "overdue": ledger.overdue,
            "closed": ledger.closed,
            "agencies": agencies_json,
            "first_action_s": self.first_json,
            "first_any_action_s": ledger.metrics.hist("cases.first_action_s").summary(),
            "high_risk_due_in_run": t.high_due,
            "high_risk_all_on_time": t.high_all_on_time,
            "high_risk_on_time_share": round4(self.high_on_time),
            "violence": {
                "occurred": v.occurred,
                "would_have_occurred_with_no_action": v.counterfactual,
                "prevented": v.prevented,
                "by_first_level": v.by_first_level,
            },
            "case_workers": ledger.case_workers,
        })
    }

    /// The agencies' actions, and households by their first case's level.
    pub(super) fn tables(&self, ledger: &mut CasesLedger) -> Vec<Table> {
        vec![
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
                rows: self.agency_rows(ledger),
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
                rows: self.level_rows(),
            },
        ]
    }

    fn agency_rows(&self, ledger: &mut CasesLedger) -> Vec<Vec<String>> {
        Agency::ALL
            .iter()
            .map(|a| {
                let (due, done, on_time) = self.agency_figures(a);
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
            .collect()
    }

    fn level_rows(&self) -> Vec<Vec<String>> {
        self.violence
            .by_first_level
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
            .collect()
    }

    /// The CDF of each agency's first action after intake.
    pub(super) fn figures(&self) -> Vec<String> {
        let mut figures = Vec::new();
        let series: Vec<baoan_reports::plot::Series> = self
            .tally
            .first_by_agency
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
        figures
    }
}
