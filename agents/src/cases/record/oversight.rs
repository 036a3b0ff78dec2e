//! The business oversight part of the report: how well registrations were screened and judged
//! against the truth, and trading reports judged unlicensed.

use std::collections::BTreeMap;

use baoan_api::Outcome;
use baoan_api::cases::{FlagReason, RegistrationDecision, SupervisionVerdict};
use serde_json::{Value, json};

use super::{CasesLedger, prf, round4};
use crate::cases::{CasesTruth, RegistrationTruth};

impl CasesLedger {
    /// What the platform said about registrations, premises and trading.
    pub(super) fn take_oversight(&mut self, o: &Outcome) {
        match o {
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
            _ => {}
        }
    }
}

/// The business oversight part of the report.
pub(super) struct Oversight {
    /// Registrations flagged by a rule (not a spot check), against the bad ones.
    pub(super) flag_p: f64,
    pub(super) flag_r: f64,
    flag_tp: u64,
    flagged: u64,
    bad: u64,
    /// By truth: registered, flagged, caught on inspection.
    by_truth: BTreeMap<&'static str, [u64; 3]>,
    verdicts_right: u64,
    trade_p: f64,
    trade_r: f64,
    trade_flagged: u64,
    trade_unlicensed: u64,
    reasons_count: BTreeMap<String, u64>,
}

impl Oversight {
    pub(super) fn summarise(ledger: &mut CasesLedger, truth: &CasesTruth) -> Oversight {
        let by_rule =
            |reasons: &Vec<FlagReason>| reasons.iter().any(|r| *r != FlagReason::SpotCheck);
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
        let (trade_p, trade_r, _, trade_flagged, trade_unlicensed) =
            prf(ledger.trading.iter().map(|(r, v)| {
                (
                    *v == SupervisionVerdict::UnlicensedTrading,
                    truth.trading.get(r) == Some(&false),
                )
            }));
        Oversight {
            flag_p,
            flag_r,
            flag_tp,
            flagged,
            bad,
            by_truth: by_truth(ledger, truth),
            verdicts_right: verdicts_right(ledger, truth),
            trade_p,
            trade_r,
            trade_flagged,
            trade_unlicensed,
            reasons_count: reasons_count(ledger),
        }
    }

    pub(super) fn json(&self, ledger: &CasesLedger) -> Value {
        json!({
            "registrations": ledger.registrations.len(),
            "flag_reasons": self.reasons_count,
            "by_truth": self.by_truth,
            "flag_by_rule": {"precision": round4(self.flag_p), "recall": round4(self.flag_r),
                              "true_positives": self.flag_tp, "flagged": self.flagged,
                              "bad": self.bad},
            "premises_checked": ledger.verdicts.len(),
            "verdicts_right": self.verdicts_right,
            "trading": {"reports": ledger.trading.len(), "judged_unlicensed": self.trade_flagged,
                        "unlicensed_in_truth": self.trade_unlicensed,
                        "precision": round4(self.trade_p), "recall": round4(self.trade_r)},
        })
    }
}

/// Registrations by their truth: registered, flagged, caught on inspection.
fn by_truth(ledger: &CasesLedger, truth: &CasesTruth) -> BTreeMap<&'static str, [u64; 3]> {
    let mut by_truth: BTreeMap<&str, [u64; 3]> = BTreeMap::new();
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
    by_truth
}

/// Inspections whose verdict matches what the registration really was.
fn verdicts_right(ledger: &CasesLedger, truth: &CasesTruth) -> u64 {
    ledger
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
        .count() as u64
}

/// How often each flag reason was given, by its name on the wire.
fn reasons_count(ledger: &CasesLedger) -> BTreeMap<String, u64> {
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
    reasons_count
}
