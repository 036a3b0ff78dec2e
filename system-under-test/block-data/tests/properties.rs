//! Property tests of the block data's invariants: no record is lost, ingest is idempotent,
//! clustering does not depend on arrival order, and an ID number failing its check digit never
//! links two records on its own.

mod synth;

use std::collections::BTreeSet;

use baoan_block_data::checks::complete_id_number;
use baoan_block_data::person::{BirthDate, Feed, PersonRecord, Record, RecordKey};
use baoan_block_data::resolve::{BlockData, Config, RecordStatus};
use baoan_block_data::validate_id_number;
use proptest::prelude::*;

use synth::{Faults, Rng, feeds, world};

/// Faults far above realistic rates, so every code path is exercised in small samples.
const HARSH: Faults = Faults {
    id_typo: 0.25,
    name_typo: 0.15,
    full_width: 0.2,
    missing_community: 0.3,
    road_typo: 0.15,
    former_road_name: 0.1,
    chinese_numerals: 0.15,
    wrong_building: 0.1,
    moved: 0.2,
};

fn ingest_all(world: &synth::World, records: &[Record]) -> BlockData {
    let mut bd = BlockData::new(world.library.clone(), Config::default());
    for r in records {
        bd.ingest(r);
    }
    bd
}

/// Everything about the resolution that must not depend on arrival order.
fn outcome(bd: &BlockData, records: &[Record]) -> (Vec<Vec<RecordKey>>, Vec<Option<RecordStatus>>) {
    let mut keys: Vec<RecordKey> = records.iter().map(Record::key).collect();
    keys.sort_unstable();
    keys.dedup();
    (bd.clusters(), keys.iter().map(|k| bd.status(k)).collect())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn clusters_do_not_depend_on_arrival_order(seed in any::<u64>(), order in any::<u64>()) {
        let w = world(2, 6);
        let generated = feeds(&w, 60, seed, &HARSH);
        let first = ingest_all(&w, &generated.records);
        let mut shuffled = generated.records.clone();
        Rng::new(order).shuffle(&mut shuffled);
        let second = ingest_all(&w, &shuffled);
        prop_assert_eq!(outcome(&first, &generated.records), outcome(&second, &generated.records));
        // The room views agree too (they are built from the clusters).
        for room in w.rooms.iter().step_by(7) {
            prop_assert_eq!(first.room_view(room.id), second.room_view(room.id));
        }
    }

    #[test]
    fn a_batch_parsed_on_several_threads_links_as_one_record_at_a_time(seed in any::<u64>(), cut in 1usize..700) {
        let w = world(2, 6);
        // Enough records that batches cross the size parsed in parallel.
        let records = feeds(&w, 300, seed, &HARSH).records;
        prop_assume!(records.len() > 256);
        let mut one = BlockData::new(w.library.clone(), Config::default());
        let singly: Vec<_> = records.iter().map(|r| one.ingest(r)).collect();
        let mut batched = BlockData::new(w.library.clone(), Config::default());
        let mut in_batches = Vec::new();
        for chunk in records.chunks(cut) {
            in_batches.extend(batched.ingest_batch(chunk));
        }
        prop_assert_eq!(&singly, &in_batches);
        prop_assert_eq!(outcome(&one, &records), outcome(&batched, &records));
        prop_assert_eq!(one.conflicts(), batched.conflicts());
        let hold = Config::default().unknown_address_hold_ms;
        prop_assert_eq!(one.settle(hold), batched.settle(hold));
        prop_assert_eq!(one.conflicts(), batched.conflicts());
    }

    #[test]
    fn no_record_is_lost_and_re_ingest_changes_nothing(seed in any::<u64>(), order in any::<u64>()) {
        let w = world(1, 5);
        let mut records = feeds(&w, 40, seed, &HARSH).records;
        let mut rng = Rng::new(seed ^ order);
        // Add records that must be rejected: empty names, impossible birth dates, and changed
        // resubmissions of accepted records.
        for i in 0..5u64 {
            records.push(Record::Person(PersonRecord {
                feed: Feed::InspectorVisit,
                record_ref: 1_000_000 + i,
                name: if i % 2 == 0 { " ".into() } else { "王伟".into() },
                id_number: None,
                sex: None,
                birth_date: (i % 2 == 1).then_some(BirthDate { year: 2001, month: 2, day: 29 }),
                address: String::new(),
                phone: None,
                observed_at_ms: 0,
            }));
        }
        let resubmitted: Vec<Record> = records
            .iter()
            .take(3)
            .filter_map(|r| match r {
                Record::Person(p) => Some(Record::Person(PersonRecord { name: format!("{}甲", p.name), ..p.clone() })),
                _ => None,
            })
            .collect();
        records.extend(resubmitted);
        rng.shuffle(&mut records);

        let mut bd = BlockData::new(w.library.clone(), Config::default());
        for r in &records {
            let result = bd.ingest(r);
            prop_assert_eq!(result.key, r.key());
        }
        let offered: BTreeSet<RecordKey> = records.iter().map(Record::key).collect();
        let accounting = bd.accounting();
        prop_assert_eq!(accounting.linked + accounting.pending + accounting.rejected, offered.len());
        prop_assert!(accounting.rejected >= 5);
        for key in &offered {
            prop_assert!(bd.status(key).is_some(), "{:?} lost", key);
        }

        // Re-ingest everything accepted, in another order: nothing changes.
        let before = (bd.clusters(), bd.blocking_stats().clone(), bd.len(), bd.conflicts().len(), bd.accounting(), bd.awaiting_place());
        let mut again = records.clone();
        rng.shuffle(&mut again);
        for r in &again {
            let status_before = bd.status(&r.key());
            let result = bd.ingest(r);
            if result.repeated {
                prop_assert_eq!(Some(result.status), status_before);
            }
        }
        let mut stats_after = bd.blocking_stats().clone();
        // Changed resubmissions are refused again and counted; nothing else moves.
        stats_after.conflicting_resubmissions = before.1.conflicting_resubmissions;
        prop_assert_eq!(before, (bd.clusters(), stats_after, bd.len(), bd.conflicts().len(), bd.accounting(), bd.awaiting_place()));
    }
}

/// Records built to collide: two names one character apart, three valid ID numbers with the
/// same birth date (so different people look alike), their typos, and two rooms. Links pile
/// up between different people and the rule that two valid IDs are never one person has to cut
/// them, which is where arrival order could leak into the result.
fn colliding_records(picks: &[(u8, u8, u8, u8, bool)]) -> (synth::World, Vec<Record>) {
    let w = world(1, 2);
    let ids: Vec<String> = ["123", "125", "247"]
        .iter()
        .map(|seq| complete_id_number(&format!("44030619900101{seq}")).unwrap())
        .collect();
    let rooms = [w.rooms[0].id, w.rooms[1].id];
    let records = picks
        .iter()
        .enumerate()
        .map(|(i, &(name, id, room, feed, birth))| {
            let id_number = match id % 5 {
                0..=2 => Some(ids[id as usize % 3].clone()),
                3 => {
                    let mut b = ids[id as usize % 3].clone().into_bytes();
                    b[16] = if b[16] == b'9' { b'0' } else { b[16] + 1 };
                    Some(String::from_utf8(b).unwrap())
                }
                _ => None,
            };
            Record::Person(PersonRecord {
                feed: Feed::ALL[feed as usize % 5],
                record_ref: i as u64,
                name: if name % 2 == 0 {
                    "王伟".into()
                } else {
                    "王玮".into()
                },
                id_number,
                sex: None,
                birth_date: birth.then_some(BirthDate {
                    year: 1990,
                    month: 1,
                    day: 1,
                }),
                address: w
                    .library
                    .standard_address(rooms[room as usize % 2])
                    .unwrap(),
                phone: None,
                observed_at_ms: 0,
            })
        })
        .collect();
    (w, records)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn clusters_of_look_alike_people_do_not_depend_on_arrival_order(
        picks in prop::collection::vec((0u8..2, 0u8..15, 0u8..2, 0u8..5, any::<bool>()), 2..14),
        order in any::<u64>(),
    ) {
        let (w, records) = colliding_records(&picks);
        let first = ingest_all(&w, &records);
        let mut shuffled = records.clone();
        Rng::new(order).shuffle(&mut shuffled);
        let second = ingest_all(&w, &shuffled);
        prop_assert_eq!(outcome(&first, &records), outcome(&second, &records));
        // Never two valid ID numbers in one cluster.
        for cluster in first.clusters() {
            let valid: BTreeSet<String> = cluster
                .iter()
                .filter_map(|k| records.iter().find(|r| r.key() == *k))
                .filter_map(|r| match r {
                    Record::Person(p) => p.id_number.clone(),
                    _ => None,
                })
                .filter(|id| validate_id_number(id).is_ok())
                .collect();
            prop_assert!(valid.len() <= 1, "{:?}", cluster);
        }
    }
}

/// A record for the invalid-ID property: name, ID, birth date and room chosen by the test.
fn pair_record(
    feed: Feed,
    name: &str,
    id: &str,
    birth: Option<BirthDate>,
    address: &str,
) -> Record {
    Record::Person(PersonRecord {
        feed,
        record_ref: 1,
        name: name.into(),
        id_number: Some(id.into()),
        sex: None,
        birth_date: birth,
        address: address.into(),
        phone: None,
        observed_at_ms: 0,
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Two records whose ID numbers agree only through a check-digit failure (same invalid
    /// number, or one side mistyped) never link unless the names agree and the birth date or the
    /// building agrees as well.
    #[test]
    fn an_id_failing_its_check_never_links_two_records_alone(
        body in 0u32..1_000,
        typo_at in 0usize..17,
        both_invalid in any::<bool>(),
        name_b in prop::sample::select(vec!["王伟", "王玮", "王小明", "李娜", ""]),
        birth_b in prop::sample::select(vec![0u8, 1, 2]),
        birth_a_given in any::<bool>(),
        room_b in 0usize..4,
        room_a in 0usize..2,
    ) {
        let w = world(1, 3);
        let id = complete_id_number(&format!("44030619880305{body:03}")).unwrap();
        let mut bad = id.clone().into_bytes();
        bad[typo_at] = if bad[typo_at] == b'9' { b'0' } else { bad[typo_at] + 1 };
        let bad = String::from_utf8(bad).unwrap();
        prop_assume!(validate_id_number(&bad).is_err());
        let id_a = if both_invalid { bad.clone() } else { id.clone() };
        let birth = BirthDate { year: 1988, month: 3, day: 5 };
        let other = BirthDate { year: 1991, month: 7, day: 9 };
        let addresses: Vec<String> = [0usize, 1, 30, 100]
            .iter()
            .map(|&i| w.library.standard_address(w.rooms[i].id).unwrap())
            .collect();
        let a = pair_record(
            Feed::HouseholdRegistration,
            "王伟",
            &id_a,
            birth_a_given.then_some(birth),
            &addresses[room_a],
        );
        let b = pair_record(
            Feed::RentalRegistration,
            name_b,
            &bad,
            match birth_b { 0 => None, 1 => Some(birth), _ => Some(other) },
            &addresses[room_b],
        );
        let mut bd = BlockData::new(w.library.clone(), Config::default());
        bd.ingest(&a);
        bd.ingest(&b);
        if bd.cluster_of(&a.key()).is_some() && bd.cluster_of(&a.key()) == bd.cluster_of(&b.key()) {
            let names_agree = matches!(name_b, "王伟" | "王玮");
            // A valid ID supplies its birth date; an invalid one does not.
            let birth_a = if birth_a_given || !both_invalid { Some(birth) } else { None };
            let birth_b = match birth_b { 0 => None, 1 => Some(birth), _ => Some(other) };
            let births_agree = birth_a.is_some() && birth_a == birth_b;
            let same_building = w.library.building_of_room(w.rooms[[0usize, 1, 30, 100][room_a]].id)
                == w.library.building_of_room(w.rooms[[0usize, 1, 30, 100][room_b]].id);
            prop_assert!(
                names_agree && (births_agree || same_building),
                "linked on an invalid ID alone: {:?} / {:?}", a, b
            );
        }
    }
}

#[test]
fn realistic_feeds_link_with_high_precision_and_recall() {
    let w = world(2, 8);
    let generated = feeds(&w, 400, 7, &Faults::REALISTIC);
    let bd = ingest_all(&w, &generated.records);
    // Pairwise precision and recall against the generator's truth.
    let cluster: Vec<_> = generated
        .records
        .iter()
        .map(|r| bd.cluster_of(&r.key()).expect("accepted"))
        .collect();
    let (mut tp, mut fp, mut fn_) = (0u64, 0u64, 0u64);
    for i in 0..cluster.len() {
        for j in i + 1..cluster.len() {
            match (
                cluster[i] == cluster[j],
                generated.truth[i] == generated.truth[j],
            ) {
                (true, true) => tp += 1,
                (true, false) => fp += 1,
                (false, true) => fn_ += 1,
                _ => {}
            }
        }
    }
    let precision = tp as f64 / (tp + fp) as f64;
    let recall = tp as f64 / (tp + fn_) as f64;
    assert!(
        precision > 0.98,
        "precision {precision:.3} (tp {tp}, fp {fp})"
    );
    assert!(recall > 0.85, "recall {recall:.3} (tp {tp}, fn {fn_})");
}
