//! The credit part of the report: how fast records reached every receiving body, how many of
//! the truly linked entities they reached, and whether revoked penalties were lifted.

use std::collections::BTreeMap;

use baoan_api::cases::{CreditLink, Subject};
use baoan_api::{Actor, Command, Outcome, Role};
use baoan_reports::Invariant;
use bevy_ecs::prelude::*;
use serde_json::{Value, json};

use super::{CasesLedger, probe, round4, share};
use crate::cases::CasesTruth;

impl CasesLedger {
    /// What the platform said about credit records.
    pub(super) fn take_credit(&mut self, o: &Outcome, at: u64) {
        match o {
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
            _ => {}
        }
    }
}

/// The credit part of the report.
pub(super) struct Credit {
    acked: u64,
    acked_on_time: u64,
    /// Records every receiving body applied.
    complete: u64,
    pub(super) true_links: u64,
    pub(super) reached_links: u64,
    undelivered: u64,
    revoke_total: u64,
    revoke_acked: u64,
    still_standing: u64,
}

impl Credit {
    pub(super) fn summarise(
        world: &mut World,
        ledger: &mut CasesLedger,
        truth: &CasesTruth,
        end: u64,
        invariants: &mut Vec<Invariant>,
    ) -> Credit {
        let (acked, acked_on_time, complete) = count_acknowledgements(ledger);
        let (true_links, reached_links, undelivered) = count_links(ledger, truth);
        let revoke_total = ledger.deliveries.values().filter(|d| d.2).count() as u64;
        let revoke_acked = ledger
            .deliveries
            .values()
            .filter(|d| d.2 && d.1.is_some())
            .count() as u64;
        let still_standing = count_still_standing(world, ledger, end);
        invariants.push(Invariant::check(
            "cases: a penalty removed on appeal stands on no entity it reached",
            still_standing == 0,
            format!(
                "{still_standing} entities still carry one of {} revoked records",
                ledger.upheld.len()
            ),
        ));
        Credit {
            acked,
            acked_on_time,
            complete,
            true_links,
            reached_links,
            undelivered,
            revoke_total,
            revoke_acked,
            still_standing,
        }
    }

    pub(super) fn json(&self, ledger: &mut CasesLedger) -> Value {
        json!({
            "records": ledger.events.len(),
            "deliveries": ledger.deliveries.values().filter(|d| !d.2).count(),
            "acknowledged": self.acked,
            "acknowledged_on_time": self.acked_on_time,
            "records_fully_applied": self.complete,
            "propagation_s": ledger.metrics.hist("cases.credit_propagation_s").summary(),
            "linked_entities_in_truth": self.true_links,
            "linked_entities_reached": self.reached_links,
            "link_recall": round4(share(self.reached_links, self.true_links)),
            "undelivered": self.undelivered,
            "appeals_upheld": ledger.upheld.len(),
            "appeals_dismissed": ledger.dismissed,
            "revoke_deliveries": self.revoke_total,
            "revoke_acknowledged": self.revoke_acked,
            "still_standing_after_revocation": self.still_standing,
        })
    }
}

/// Deliveries acknowledged (on time), and records applied by every receiving body, with the
/// time each took to be applied everywhere. Returns (acknowledged, on time, complete).
fn count_acknowledgements(ledger: &mut CasesLedger) -> (u64, u64, u64) {
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
    (acked, acked_on_time, complete)
}

/// Entities truly linked to the records, those the records reached, and deliveries that found
/// no receiving body. Returns (true links, reached, undelivered).
fn count_links(ledger: &CasesLedger, truth: &CasesTruth) -> (u64, u64, u64) {
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
    (true_links, reached_links, undelivered)
}

/// Every upheld appeal: the record must stand on none of the entities it reached. Asks the
/// stack, as an auditor, about each.
fn count_still_standing(world: &mut World, ledger: &CasesLedger, end: u64) -> u64 {
    let mut still_standing = 0u64;
    let auditor = Actor {
        role: Role::Auditor,
        person: baoan_api::PersonId(9_000_301),
    };
    for event in &ledger.upheld {
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
    still_standing
}
