//! The care part of the report: counts of visits and services, visits on time, and the
//! safeguard that a care record is read only by its own community's care workers.

use baoan_api::{Actor, ApiError, Command, Outcome, Role};
use baoan_reports::Invariant;
use bevy_ecs::prelude::*;
use serde_json::{Value, json};

use super::{CasesLedger, level_name, probe, round4, share};
use crate::cases::CasesTruth;
use crate::cases::care::care_worker;

impl CasesLedger {
    /// What the platform said about care visits and services.
    pub(super) fn take_care(&mut self, o: &Outcome) {
        match o {
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

/// The care part of the report.
pub(super) struct Care {
    pub(super) on_time: f64,
}

impl Care {
    pub(super) fn summarise(
        world: &mut World,
        ledger: &mut CasesLedger,
        truth: &CasesTruth,
        end: u64,
        invariants: &mut Vec<Invariant>,
    ) -> Care {
        let on_time = share(ledger.care_on_time, ledger.care_visits);
        ledger.metrics.set("cases.care_visits_on_time", on_time);
        if let Some((wrong_refused, right_answered, analyst_refused)) =
            probe_safeguard(world, truth, end)
        {
            invariants.push(Invariant::check(
                "cases: a care record is read only by its own community's care workers",
                wrong_refused && right_answered && analyst_refused,
                format!(
                    "other community refused: {wrong_refused}; own community answered: {right_answered}; analyst refused: {analyst_refused}"
                ),
            ));
        }
        Care { on_time }
    }

    pub(super) fn json(&self, ledger: &CasesLedger) -> Value {
        json!({
            "enrolled": ledger.care_enrolled,
            "care_workers": ledger.care_workers,
            "visits": ledger.care_visits,
            "on_time": ledger.care_on_time,
            "on_time_share": round4(self.on_time),
            "overdue": ledger.care_overdue,
            "services_opened": ledger.care_services,
            "services_done": ledger.care_services_done,
        })
    }
}

/// The safeguard, probed on the first enrolled record: a care worker of another community is
/// refused; the record's own community is answered; an analyst is refused. Returns the three
/// checks in that order, or nothing with no one enrolled.
fn probe_safeguard(world: &mut World, truth: &CasesTruth, end: u64) -> Option<(bool, bool, bool)> {
    let (care_ref, &care) = truth.care_id.iter().next()?;
    let community = truth.care[care_ref].0;
    let other = if community == 0 { 1 } else { 0 };
    let care_worker_of = |community| Actor {
        role: Role::CareWorker,
        person: care_worker(community, 0),
    };
    let wrong = probe(
        world,
        care_worker_of(other),
        Command::QueryCare { care },
        end,
    );
    let right = probe(
        world,
        care_worker_of(community),
        Command::QueryCare { care },
        end,
    );
    let analyst = probe(
        world,
        crate::staff::ANALYST,
        Command::QueryCare { care },
        end,
    );
    Some((
        matches!(wrong, Err(ApiError::Forbidden { .. })),
        matches!(right.as_deref(), Ok([Outcome::CareAnswered { .. }])),
        matches!(analyst, Err(ApiError::Forbidden { .. })),
    ))
}
