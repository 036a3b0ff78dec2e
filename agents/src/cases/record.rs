//! The cases loops' ledger and report: how fast each agency acted, whether high-risk cases got
//! every action in time, violence that happened and violence prevented (against the same
//! households with nobody acting), how fast credit records reached every linked entity, how well
//! registrations were screened, and whether care visits came on time. Care appears only as counts.
//! Each loop's entries and figures are in a part of their own; this module holds the ledger,
//! the checks the report makes of the stack, and the report's outline.

mod care;
mod credit;
mod disputes;
mod oversight;

use std::collections::{BTreeMap, HashMap};

use baoan_api::cases::{
    Agency, CreditKind, CreditLink, CreditReceiver, FlagReason, RiskLevel, Subject,
    SupervisionVerdict,
};
use baoan_api::{Actor, ApiError, Command, EscalationLevel, Outcome};
use baoan_reports::html::Section;
use baoan_reports::{Invariant, Metrics};
use baoan_world::bridge::StackDoor;
use bevy_ecs::prelude::*;
use serde_json::json;

use super::{CasesConfig, CasesTruth};
use care::Care;
use credit::Credit;
use disputes::Disputes;
use oversight::Oversight;

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

impl crate::CountsRefusals for CasesLedger {
    fn refusals(&mut self) -> (&mut u64, &mut Vec<String>) {
        (&mut self.refused, &mut self.notes)
    }
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
    /// Note one outcome of the cases loops; each loop's part takes its own.
    pub(crate) fn take(&mut self, o: &Outcome, at: u64) {
        self.take_dispute(o, at);
        self.take_credit(o, at);
        self.take_oversight(o);
        self.take_care(o);
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
    StackDoor::call_after_run(world, at, actor, command, super::TAG_SETUP)
}

/// The cases section of the report, loop by loop: disputes, credit, oversight, care (in that
/// order, as the checks of the stack and the invariants have always come).
pub fn finish(world: &mut World) -> CasesOutcome {
    let end = world.resource::<CasesConfig>().end_ms;
    let truth = std::mem::take(&mut *world.resource_mut::<CasesTruth>());
    let mut ledger = std::mem::take(&mut *world.resource_mut::<CasesLedger>());
    let mut invariants = Vec::new();
    let disputes = Disputes::summarise(&mut ledger, &truth, end, &mut invariants);
    let credit = Credit::summarise(world, &mut ledger, &truth, end, &mut invariants);
    let oversight = Oversight::summarise(&mut ledger, &truth);
    let care = Care::summarise(world, &mut ledger, &truth, end, &mut invariants);
    ledger.metrics.set("cases.rejected", ledger.refused as f64);
    invariants.push(Invariant::check(
        "cases: no cases-loop command refused",
        ledger.refused == 0,
        format!("{} refused: {:?}", ledger.refused, ledger.notes),
    ));
    let tables = disputes.tables(&mut ledger);
    let section = json!({
        "disputes": disputes.json(&mut ledger),
        "credit": credit.json(&mut ledger),
        "oversight": oversight.json(&ledger),
        "care": care.json(&ledger),
        "refused": ledger.refused,
        "notes": ledger.notes,
    });
    let html = Section {
        title: "Cases: disputes, credit, business oversight and care".into(),
        intro: intro(&ledger, &disputes, &credit, &oversight, &care),
        tables,
        figures: disputes.figures(),
    };
    CasesOutcome {
        section,
        html,
        invariants,
        metrics: std::mem::take(&mut ledger.metrics),
        map: Default::default(),
    }
}

/// The report section's opening paragraph: each loop's headline figures.
fn intro(
    ledger: &CasesLedger,
    disputes: &Disputes,
    credit: &Credit,
    oversight: &Oversight,
    care: &Care,
) -> String {
    let violence = &disputes.violence;
    format!(
        "{} dispute cases; high-risk cases with every action on time {:.1}%; violence occurred in {} households and was prevented in {} (of {} that would have turned violent with no action). {} credit records, {:.1}% of linked entities reached; registrations flagged by rule: precision {:.2}, recall {:.2}; care visits on time {:.1}%.",
        ledger.cases.len(),
        100.0 * disputes.high_on_time,
        violence.occurred,
        violence.prevented,
        violence.counterfactual,
        ledger.events.len(),
        100.0 * share(credit.reached_links, credit.true_links),
        oversight.flag_p,
        oversight.flag_r,
        100.0 * care.on_time
    )
}
