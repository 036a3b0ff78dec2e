//! What the block-data loop measured against the truth: how many records were placed and how
//! well (address match rate and accuracy), how well the platform resolved people and companies
//! (pairwise and cluster precision, recall and F1, by pair of departments), whether planted fraud
//! was caught, how fresh the views are, and how fast conflicts went from raised to resolved.

use std::collections::{BTreeMap, HashMap};

use baoan_api::blocks::{Feed, IngestStatus, PlacedRecord, Record, RecordKey, VerificationTask};
use baoan_api::{Actor, Command, Outcome, PersonId, Role};
use baoan_reports::html::{Section, Table};
use baoan_reports::{Invariant, Metrics, round3};
use baoan_world::bridge::{FromStack, Refused, StackDoor};
use baoan_world::kernel::SimClock;
use bevy_ecs::prelude::*;
use serde::Serialize;

use super::feeds::Entity;
use super::{FeedTruth, entity_id};

#[derive(Resource, Default)]
pub struct BlocksLedger {
    pub sent: u64,
    pub repeated: u64,
    /// Records kept (linked or pending) the first time they were sent.
    pub kept_new: u64,
    pub by_feed: BTreeMap<&'static str, [u64; 3]>,
    pub refused: u64,
    pub notes: Vec<String>,
    /// When the records in flight were sent, for the time to the block view.
    in_flight: HashMap<RecordKey, u64>,
    pub(crate) new_tasks: Vec<(u64, VerificationTask)>,
    raised: HashMap<u64, (u64, String)>,
    pub opened: BTreeMap<String, u64>,
    pub closed: BTreeMap<String, u64>,
    pub visits_planned: u64,
    /// Raised conflicts by kind, with the records they name (for fraud detection).
    flagged_rooms: Vec<u32>,
    flagged_records: Vec<RecordKey>,
    pub metrics: Metrics,
}

impl crate::CountsRefusals for BlocksLedger {
    fn refusals(&mut self) -> (&mut u64, &mut Vec<String>) {
        (&mut self.refused, &mut self.notes)
    }
}

fn feed_name(f: Feed) -> &'static str {
    match f {
        Feed::HouseholdRegistration => "household_registration",
        Feed::RentalRegistration => "rental_registration",
        Feed::BusinessRegistry => "business_registry",
        Feed::UtilityAccounts => "utility_accounts",
        Feed::InspectorVisit => "inspector_visit",
    }
}

impl BlocksLedger {
    pub(crate) fn sending(&mut self, records: &[Record], at: u64) {
        for r in records {
            self.in_flight.insert(r.key(), at);
        }
    }

    pub(crate) fn visit_planned(&mut self, _conflict: u64) {
        self.visits_planned += 1;
    }

    /// The answers to a batch or a finding.
    pub(crate) fn take(&mut self, out: &[Outcome], at: u64) {
        for o in out {
            match o {
                Outcome::RecordsIngested { results } => {
                    for r in results {
                        self.sent += 1;
                        self.repeated += r.repeated as u64;
                        let slot = match r.status {
                            IngestStatus::Linked { .. } => 0,
                            IngestStatus::Pending { .. } => 1,
                            IngestStatus::Rejected { .. } => 2,
                        };
                        self.by_feed.entry(feed_name(r.key.feed)).or_default()[slot] += 1;
                        self.kept_new += (slot < 2 && !r.repeated) as u64;
                        // In-process the stack answers within the call; over HTTP this is real.
                        if let Some(sent) = self.in_flight.remove(&r.key)
                            && slot < 2
                        {
                            self.metrics
                                .hist("blocks.arrival_to_view_s")
                                .record_ms(at.saturating_sub(sent));
                        }
                    }
                }
                Outcome::ConflictRaised { task } => {
                    *self.opened.entry(task.kind.clone()).or_default() += 1;
                    self.raised.insert(task.conflict, (at, task.kind.clone()));
                    match task.kind.as_str() {
                        "crowded_room" => self.flagged_rooms.extend(task.room),
                        "unknown_address" => self.flagged_records.extend(task.records.first()),
                        _ => {}
                    }
                    self.new_tasks.push((at, task.clone()));
                }
                Outcome::ConflictResolved { conflict } => {
                    if let Some((raised, kind)) = self.raised.remove(conflict) {
                        *self.closed.entry(kind).or_default() += 1;
                        self.metrics
                            .hist("blocks.conflict_to_resolved_s")
                            .record_ms(at.saturating_sub(raised));
                    }
                }
                _ => {}
            }
        }
    }
}

/// This tick's answers to the block loop.
pub fn hear(
    mut ledger: ResMut<BlocksLedger>,
    mut outcomes: MessageReader<FromStack>,
    mut refusals: MessageReader<Refused>,
) {
    for msg in outcomes.read() {
        if matches!(
            msg.outcome,
            Outcome::RecordsIngested { .. }
                | Outcome::ConflictRaised { .. }
                | Outcome::ConflictResolved { .. }
        ) {
            ledger.take(std::slice::from_ref(&msg.outcome), msg.at);
        }
    }
    for r in refusals.read() {
        if r.envelope.command.module() != baoan_api::Module::Blocks {
            continue;
        }
        let l = &mut *ledger;
        crate::note_refusal(&mut l.refused, &mut l.notes, r);
    }
}

pub type BlocksOutcome = crate::LoopOutcome;

fn pairs(n: u64) -> u64 {
    n * n.saturating_sub(1) / 2
}

#[derive(Debug, Clone, Copy, Default, Serialize)]
struct Prf {
    true_pairs: u64,
    predicted_pairs: u64,
    correct_pairs: u64,
    precision: f64,
    recall: f64,
    f1: f64,
}

impl Prf {
    fn of(correct: u64, predicted: u64, actual: u64) -> Prf {
        let precision = if predicted == 0 {
            1.0
        } else {
            correct as f64 / predicted as f64
        };
        let recall = if actual == 0 {
            1.0
        } else {
            correct as f64 / actual as f64
        };
        let f1 = if precision + recall == 0.0 {
            0.0
        } else {
            2.0 * precision * recall / (precision + recall)
        };
        Prf {
            true_pairs: actual,
            predicted_pairs: predicted,
            correct_pairs: correct,
            precision: round4(precision),
            recall: round4(recall),
            f1: round4(f1),
        }
    }
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// Pairwise precision/recall of a clustering against the truth, from the contingency table of
/// (cluster, entity) cells: O(records).
fn pairwise(items: &[(RecordKey, u64)]) -> Prf {
    let mut cells: HashMap<(RecordKey, u64), u64> = HashMap::new();
    let mut clusters: HashMap<RecordKey, u64> = HashMap::new();
    let mut entities: HashMap<u64, u64> = HashMap::new();
    for &(c, e) in items {
        *cells.entry((c, e)).or_default() += 1;
        *clusters.entry(c).or_default() += 1;
        *entities.entry(e).or_default() += 1;
    }
    Prf::of(
        cells.values().map(|&n| pairs(n)).sum(),
        clusters.values().map(|&n| pairs(n)).sum(),
        entities.values().map(|&n| pairs(n)).sum(),
    )
}

/// Share of true entities whose records form exactly one predicted cluster holding nothing else.
fn exact_clusters(items: &[(RecordKey, u64)]) -> (u64, u64) {
    let mut cluster_of_entity: HashMap<u64, Option<RecordKey>> = HashMap::new();
    let mut size_of_cluster: HashMap<RecordKey, u64> = HashMap::new();
    let mut size_of_entity: HashMap<u64, u64> = HashMap::new();
    for &(c, e) in items {
        *size_of_cluster.entry(c).or_default() += 1;
        *size_of_entity.entry(e).or_default() += 1;
        cluster_of_entity
            .entry(e)
            .and_modify(|x| {
                if *x != Some(c) {
                    *x = None
                }
            })
            .or_insert(Some(c));
    }
    let exact = cluster_of_entity
        .iter()
        .filter(|(e, c)| c.is_some_and(|c| size_of_cluster[&c] == size_of_entity[*e]))
        .count() as u64;
    (exact, cluster_of_entity.len() as u64)
}

/// Records with a real address: placed at the right room, at the right building only, wrongly,
/// or not at all.
#[derive(Default)]
struct Addresses {
    with_address: u64,
    room_ok: u64,
    building_only: u64,
    wrong: u64,
    unplaced: u64,
    /// Unplaced records whose entity another record of theirs put in a building.
    unplaced_entity_placed: u64,
}

impl Addresses {
    fn match_rate(&self) -> f64 {
        (self.room_ok + self.building_only + self.wrong) as f64 / self.with_address.max(1) as f64
    }
    fn accuracy(&self) -> f64 {
        self.room_ok as f64 / (self.room_ok + self.wrong).max(1) as f64
    }
}

/// The exported records the platform linked, as (cluster, true entity), by kind and by feed.
#[derive(Default)]
struct Linked {
    persons: Vec<(RecordKey, u64)>,
    companies: Vec<(RecordKey, u64)>,
    per_feed: BTreeMap<Feed, Vec<(RecordKey, u64)>>,
}

pub fn finish(world: &mut World) -> BlocksOutcome {
    let now = world.resource::<SimClock>().now_ms;
    let placed = export_linkage(world, now);
    let truth = std::mem::take(&mut *world.resource_mut::<FeedTruth>());
    let mut ledger = std::mem::take(&mut *world.resource_mut::<BlocksLedger>());
    let addresses = addresses(&placed, &truth);
    let linked = linked(&placed, &truth);
    let person_prf = pairwise(&linked.persons);
    let company_prf = pairwise(&linked.companies);
    let (pe, pn) = exact_clusters(&linked.persons);
    let (ce, cn) = exact_clusters(&linked.companies);
    ledger.metrics.set("blocks.person_f1", person_prf.f1);
    ledger.metrics.set("blocks.company_f1", company_prf.f1);
    ledger.metrics.set("blocks.rejected", ledger.refused as f64);
    ledger
        .metrics
        .set("blocks.address_accuracy", round4(addresses.accuracy()));
    let section = serde_json::json!({
        "records": {
            "sent": ledger.sent,
            "repeated": ledger.repeated,
            "by_feed": ledger.by_feed.iter().map(|(f, v)| (f.to_string(), serde_json::json!({"linked": v[0], "pending": v[1], "rejected": v[2]}))).collect::<BTreeMap<_, _>>(),
            "exported_by_the_stack": placed.len(),
            "faults": truth.counts,
        },
        "addresses": addresses_section(&addresses),
        "persons": {"pairwise": person_prf, "entities": pn, "exact_clusters": pe, "exact_cluster_share": round4(pe as f64 / pn.max(1) as f64)},
        "companies": {"pairwise": company_prf, "entities": cn, "exact_clusters": ce, "exact_cluster_share": round4(ce as f64 / cn.max(1) as f64)},
        "by_department_pair": department_pair_rows(&linked.per_feed),
        "blocking": blocking(&placed, &truth),
        "fraud": fraud(&truth, &ledger),
        "conflicts": {"opened": ledger.opened, "closed": ledger.closed, "visits_planned": ledger.visits_planned,
            "time_to_consistency": hist(&mut ledger.metrics, "blocks.conflict_to_resolved_s")},
        "freshness": {
            "arrival_to_view": hist(&mut ledger.metrics, "blocks.arrival_to_view_s"),
        },
        "notes": ledger.notes,
    });
    let invariants = invariants(&ledger, placed.len());
    let html = Section {
        title: "Block data: department feeds linked onto the address library".into(),
        intro: format!(
            "{} records from five departments; people F1 {:.4}, companies F1 {:.4}; addresses placed {:.1}%, {:.2}% of them in the right room.",
            ledger.sent,
            person_prf.f1,
            company_prf.f1,
            addresses.match_rate() * 100.0,
            addresses.accuracy() * 100.0
        ),
        tables: vec![linkage_table(&person_prf, (pe, pn), &company_prf, (ce, cn))],
        figures: Vec::new(),
    };
    BlocksOutcome {
        section,
        html,
        invariants,
        metrics: std::mem::take(&mut ledger.metrics),
        map: Default::default(),
    }
}

/// The auditor's export: every record kept, its entity and its place.
fn export_linkage(world: &mut World, now: u64) -> Vec<PlacedRecord> {
    let auditor = Actor {
        role: Role::Auditor,
        person: PersonId(4),
    };
    match StackDoor::call_after_run(
        world,
        now,
        auditor,
        Command::ExportLinkage,
        super::TAG_SETUP,
    ) {
        Ok(out) => out
            .into_iter()
            .find_map(|o| match o {
                Outcome::LinkageExported { records } => Some(records),
                _ => None,
            })
            .unwrap_or_default(),
        Err(_) => Vec::new(),
    }
}

/// Where the platform placed each record with a real address, against the truth.
fn addresses(placed: &[PlacedRecord], truth: &FeedTruth) -> Addresses {
    let mut a = Addresses::default();
    // Entities another of whose records is in a building: an unplaced record of theirs leaves
    // nobody missing from the block views.
    let in_a_building: std::collections::HashSet<_> = placed
        .iter()
        .filter(|p| p.building.is_some())
        .filter_map(|p| p.cluster)
        .collect();
    for p in placed {
        let Some(t) = truth.truth.get(&p.key) else {
            continue;
        };
        let Some(room) = t.room else { continue };
        a.with_address += 1;
        match (p.room, p.building) {
            (Some(r), _) if r == room => a.room_ok += 1,
            (Some(_), _) => a.wrong += 1,
            (None, Some(b)) if truth.building_of_room(room) == Some(b) => a.building_only += 1,
            (None, Some(_)) => a.wrong += 1,
            (None, None) => {
                a.unplaced += 1;
                a.unplaced_entity_placed +=
                    p.cluster.is_some_and(|c| in_a_building.contains(&c)) as u64;
            }
        }
    }
    a
}

/// Each linked record's predicted cluster beside its true entity, in the export's order.
fn linked(placed: &[PlacedRecord], truth: &FeedTruth) -> Linked {
    let mut linked = Linked::default();
    for p in placed {
        let Some(t) = truth.truth.get(&p.key) else {
            continue;
        };
        let Some(cluster) = p.cluster else { continue };
        let item = (cluster, entity_id(t.entity));
        match t.entity {
            Entity::Person(_) => linked.persons.push(item),
            Entity::Company(_) => linked.companies.push(item),
        }
        linked.per_feed.entry(p.key.feed).or_default().push(item);
    }
    linked
}

fn addresses_section(a: &Addresses) -> serde_json::Value {
    serde_json::json!({
        "with_a_real_address": a.with_address,
        "room_correct": a.room_ok,
        "building_only": a.building_only,
        "wrong_place": a.wrong,
        "unplaced": a.unplaced,
        "unplaced_entity_placed_by_another_record": a.unplaced_entity_placed,
        "match_rate": round4(a.match_rate()),
        "accuracy": round4(a.accuracy()),
    })
}

/// By pair of departments: the records of the two feeds only, and the pairs between them.
fn department_pair_rows(
    per_feed: &BTreeMap<Feed, Vec<(RecordKey, u64)>>,
) -> Vec<serde_json::Value> {
    let mut by_pair: BTreeMap<(Feed, Feed), Vec<(RecordKey, u64)>> = BTreeMap::new();
    let feeds: Vec<Feed> = per_feed.keys().copied().collect();
    // People and companies never share an entity: only pairs of feeds about the same kind.
    let companies_feed = |f: &Feed| *f == Feed::BusinessRegistry;
    for (i, a) in feeds.iter().enumerate() {
        for b in feeds[i + 1..]
            .iter()
            .filter(|b| companies_feed(b) == companies_feed(a))
        {
            let mut items = per_feed[a].clone();
            items.extend(per_feed[b].iter().copied());
            by_pair.insert((*a, *b), items);
        }
    }
    by_pair
        .iter()
        .map(|((a, b), items)| {
            // Pairs within one feed are not this pair's: subtract each feed's own.
            let both = pairwise(items);
            let only_a = pairwise(&per_feed[a]);
            let only_b = pairwise(&per_feed[b]);
            let prf = Prf::of(
                both.correct_pairs - only_a.correct_pairs - only_b.correct_pairs,
                both.predicted_pairs - only_a.predicted_pairs - only_b.predicted_pairs,
                both.true_pairs - only_a.true_pairs - only_b.true_pairs,
            );
            serde_json::json!({"feeds": [feed_name(*a), feed_name(*b)], "pairs": prf})
        })
        .collect()
}

/// Blocking: of the true pairs, how many share a blocking key (the only pairs the platform
/// ever compares).
fn blocking(placed: &[PlacedRecord], truth: &FeedTruth) -> serde_json::Value {
    let mut groups: HashMap<u64, Vec<&PlacedRecord>> = HashMap::new();
    for p in placed {
        if let Some(t) = truth.truth.get(&p.key) {
            groups.entry(entity_id(t.entity)).or_default().push(p);
        }
    }
    let (mut true_pairs, mut kept_pairs) = ([0u64; 2], [0u64; 2]);
    for (e, g) in &groups {
        let kind = (*e >> 40 != 0) as usize;
        for (i, a) in g.iter().enumerate() {
            for b in &g[i + 1..] {
                true_pairs[kind] += 1;
                kept_pairs[kind] += a.blocks.iter().any(|k| b.blocks.contains(k)) as u64;
            }
        }
    }
    serde_json::json!({
        "persons": {"true_pairs": true_pairs[0], "sharing_a_block": kept_pairs[0], "recall": round4(kept_pairs[0] as f64 / true_pairs[0].max(1) as f64)},
        "companies": {"true_pairs": true_pairs[1], "sharing_a_block": kept_pairs[1], "recall": round4(kept_pairs[1] as f64 / true_pairs[1].max(1) as f64)},
    })
}

/// Planted fraud: crowded rooms flagged, and companies at addresses that do not exist.
fn fraud(truth: &FeedTruth, ledger: &BlocksLedger) -> serde_json::Value {
    let fraud_rooms: std::collections::HashSet<u32> = truth.fraud_rooms.iter().copied().collect();
    let flagged_rooms: std::collections::HashSet<u32> =
        ledger.flagged_rooms.iter().copied().collect();
    let rooms_tp = flagged_rooms.intersection(&fraud_rooms).count() as u64;
    let fictitious: std::collections::HashSet<RecordKey> = truth
        .truth
        .iter()
        .filter(|e| e.1.room.is_none())
        .map(|e| e.0)
        .collect();
    let flagged: std::collections::HashSet<RecordKey> =
        ledger.flagged_records.iter().copied().collect();
    let fict_tp = flagged.intersection(&fictitious).count() as u64;
    serde_json::json!({
        "crowded_rooms": {"planted": fraud_rooms.len(), "flagged": flagged_rooms.len(), "flagged_planted": rooms_tp,
            "precision": round4(rooms_tp as f64 / flagged_rooms.len().max(1) as f64),
            "recall": round4(rooms_tp as f64 / fraud_rooms.len().max(1) as f64)},
        // Every address the library lacks becomes a task; most are damaged real addresses the
        // inspector places, a few are planted: precision is of the flag, before the visit.
        "nonexistent_addresses": {"planted": fictitious.len(), "flagged": flagged.len(), "flagged_planted": fict_tp,
            "precision": round4(fict_tp as f64 / flagged.len().max(1) as f64),
            "recall": round4(fict_tp as f64 / fictitious.len().max(1) as f64),
            "flagged_by_fault": flagged_by_fault(truth, &flagged)},
    })
}

/// What made the flagged addresses unplaceable, by the faults the twin put in them.
fn flagged_by_fault(
    truth: &FeedTruth,
    flagged: &std::collections::HashSet<RecordKey>,
) -> BTreeMap<&'static str, u64> {
    let mut flagged_by_fault: BTreeMap<&'static str, u64> = BTreeMap::new();
    for k in flagged {
        if let Some(t) = truth.truth.get(k) {
            let mut any = false;
            for name in t.faults.names() {
                *flagged_by_fault.entry(name).or_default() += 1;
                any = true;
            }
            if !any {
                *flagged_by_fault.entry("none").or_default() += 1;
            }
        }
    }
    flagged_by_fault
}

/// A time's summary; a time nothing reached is reported (and kept) as an empty histogram.
fn hist(m: &mut Metrics, name: &str) -> serde_json::Value {
    let h = m.hist(name);
    serde_json::json!({"count": h.count(), "p50_s": round3(h.quantile_s(0.5)), "p90_s": round3(h.quantile_s(0.9)), "max_s": round3(h.quantile_s(1.0))})
}

fn invariants(ledger: &BlocksLedger, exported: usize) -> Vec<Invariant> {
    vec![
        Invariant::check(
            "blocks: no record lost (each linked, pending or rejected with a reason)",
            exported as u64 == ledger.kept_new,
            format!(
                "{} answers ({} repeats): {} kept the first time they came, {} held by the stack",
                ledger.sent, ledger.repeated, ledger.kept_new, exported
            ),
        ),
        Invariant::check(
            "blocks: no block-data command refused",
            ledger.refused == 0,
            format!("{} refused", ledger.refused),
        ),
    ]
}

/// Pairwise precision, recall and F1 of people and companies, with their exact clusters.
fn linkage_table(
    persons: &Prf,
    (pe, pn): (u64, u64),
    companies: &Prf,
    (ce, cn): (u64, u64),
) -> Table {
    Table {
        caption: "Linkage against the truth (pairwise)".into(),
        header: vec![
            "entities".into(),
            "precision".into(),
            "recall".into(),
            "F1".into(),
            "exact clusters".into(),
        ],
        rows: vec![
            vec![
                "persons".into(),
                format!("{:.4}", persons.precision),
                format!("{:.4}", persons.recall),
                format!("{:.4}", persons.f1),
                format!("{pe} of {pn}"),
            ],
            vec![
                "companies".into(),
                format!("{:.4}", companies.precision),
                format!("{:.4}", companies.recall),
                format!("{:.4}", companies.f1),
                format!("{ce} of {cn}"),
            ],
        ],
    }
}
