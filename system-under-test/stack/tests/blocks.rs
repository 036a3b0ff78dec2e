//! Block data through the stack: the address library, departments' batches, roles, look-ups
//! named in the audit log, conflicts turned into inspectors' tasks and closed by their findings.

use baoan_api::blocks::{
    AddressLibraryData, BlockQuery, CompanyRecord, Feed, Finding, IngestStatus, LibraryBuilding,
    LibraryCommunity, LibraryRoad, LibraryRoom, LibraryStreet, PersonRecord, Record, RecordKey,
};
use baoan_api::{Actor, ApiError, Command, Envelope, Outcome, PersonId, Role, Stack};
use baoan_stack::InProcessStack;
use proptest::prelude::*;

fn send(
    s: &mut InProcessStack,
    role: Role,
    at: u64,
    command: Command,
) -> Result<Vec<Outcome>, ApiError> {
    s.send(&Envelope {
        actor: Actor {
            role,
            person: PersonId(42),
        },
        sent_at: at,
        command,
    })
}

/// One street, one community, one road with a former name, two buildings of 2 units × 4 rooms.
fn library() -> AddressLibraryData {
    let mut rooms = Vec::new();
    for b in 0..2u32 {
        for unit in 1..=2u8 {
            for room in [101u16, 102, 201, 202] {
                rooms.push(LibraryRoom {
                    id: rooms.len() as u32,
                    building: b,
                    unit,
                    room,
                });
            }
        }
    }
    AddressLibraryData {
        streets: vec![LibraryStreet {
            id: 0,
            name: "新安街道".into(),
        }],
        communities: vec![LibraryCommunity {
            id: 0,
            street: 0,
            name: "海裕社区".into(),
        }],
        roads: vec![LibraryRoad {
            id: 0,
            community: 0,
            name: "兴华路".into(),
            former_names: vec!["兴华一路".into()],
        }],
        buildings: vec![
            LibraryBuilding {
                id: 0,
                road: 0,
                number: 12,
                block: 1,
                grid: 7,
                residential: false,
            },
            LibraryBuilding {
                id: 1,
                road: 0,
                number: 12,
                block: 2,
                grid: 7,
                residential: true,
            },
        ],
        rooms,
    }
}

fn loaded() -> InProcessStack {
    let mut s = InProcessStack::new();
    send(
        &mut s,
        Role::Admin,
        0,
        Command::LoadAddressLibrary {
            library: library(),
            more: false,
        },
    )
    .unwrap();
    s
}

/// A synthetic person with a valid GB 11643 ID number.
const ID: &str = "440306199003070029";

fn person(feed: Feed, record_ref: u64, id: Option<&str>, address: &str) -> Record {
    Record::Person(PersonRecord {
        feed,
        record_ref,
        name: "林晓华".into(),
        id_number: id.map(str::to_string),
        sex: None,
        birth_date: None,
        address: address.into(),
        phone: None,
        observed_at_ms: 0,
    })
}

fn company(record_ref: u64, name: &str, address: &str) -> Record {
    Record::Company(CompanyRecord {
        feed: Feed::BusinessRegistry,
        record_ref,
        name: name.into(),
        credit_code: None,
        legal_representative_id: None,
        registered_address: address.into(),
        observed_at_ms: 0,
    })
}

fn ingested(out: &[Outcome]) -> Vec<(RecordKey, IngestStatus, bool)> {
    out.iter()
        .find_map(|o| match o {
            Outcome::RecordsIngested { results } => Some(
                results
                    .iter()
                    .map(|r| (r.key, r.status.clone(), r.repeated))
                    .collect(),
            ),
            _ => None,
        })
        .expect("a batch is answered record by record")
}

#[test]
fn the_id_check_holds_for_the_test_person() {
    assert!(baoan_block_data::validate_id_number(ID).is_ok());
}

#[test]
fn two_feeds_on_one_person_link_and_a_repeat_changes_nothing() {
    let mut s = loaded();
    let batch = vec![
        person(
            Feed::HouseholdRegistration,
            1,
            Some(ID),
            "广东省深圳市宝安区新安街道海裕社区兴华路12号1栋1单元101室",
        ),
        // Another department, an old road name and full-width digits: the same person and room.
        person(
            Feed::UtilityAccounts,
            9,
            Some(ID),
            "深圳宝安新安兴华一路１２号1栋1单元101",
        ),
    ];
    let first = ingested(
        &send(
            &mut s,
            Role::Department,
            10,
            Command::IngestRecords {
                records: batch.clone(),
            },
        )
        .unwrap(),
    );
    let clusters: Vec<_> = first
        .iter()
        .map(|(_, st, _)| match st {
            IngestStatus::Linked { cluster } => *cluster,
            other => panic!("expected linked, got {other:?}"),
        })
        .collect();
    assert_eq!(clusters[0], clusters[1]);
    let again = ingested(
        &send(
            &mut s,
            Role::Department,
            20,
            Command::IngestRecords { records: batch },
        )
        .unwrap(),
    );
    assert!(again.iter().all(|(_, _, repeated)| *repeated));
    assert_eq!(
        first.iter().map(|r| &r.1).collect::<Vec<_>>(),
        again.iter().map(|r| &r.1).collect::<Vec<_>>()
    );
    // The room's view shows one person, known to both departments.
    let out = send(
        &mut s,
        Role::Analyst,
        30,
        Command::QueryBlock {
            query: BlockQuery::Room { room: 0 },
        },
    )
    .unwrap();
    let Outcome::BlockAnswered { view, .. } = &out[0] else {
        panic!("{out:?}")
    };
    assert_eq!(view.persons.len(), 1);
    assert_eq!(view.persons[0].records.len(), 2);
}

#[test]
fn roles_are_checked_and_every_look_up_is_named_in_the_audit_log() {
    let mut s = loaded();
    let batch = vec![person(
        Feed::HouseholdRegistration,
        1,
        Some(ID),
        "新安街道海裕社区兴华路12号2栋2单元202室",
    )];
    // Only departments send records; only inspectors resolve; cameras look nothing up.
    assert!(matches!(
        send(
            &mut s,
            Role::Inspector,
            1,
            Command::IngestRecords {
                records: batch.clone()
            }
        ),
        Err(ApiError::Forbidden { .. })
    ));
    send(
        &mut s,
        Role::Department,
        2,
        Command::IngestRecords { records: batch },
    )
    .unwrap();
    let who = Command::QueryBlock {
        query: BlockQuery::Person {
            id_number: ID.into(),
        },
    };
    assert!(matches!(
        send(&mut s, Role::Camera, 3, who.clone()),
        Err(ApiError::Forbidden { .. })
    ));
    let out = send(&mut s, Role::Inspector, 4, who).unwrap();
    let Outcome::BlockAnswered { placed, .. } = &out[0] else {
        panic!("{out:?}")
    };
    assert_eq!(placed.len(), 1);
    assert_eq!(placed[0].room, Some(15));
    assert_eq!(placed[0].grid, Some(7));
    assert!(matches!(
        send(&mut s, Role::Analyst, 5, Command::ExportLinkage),
        Err(ApiError::Forbidden { .. })
    ));
    send(&mut s, Role::Auditor, 6, Command::ExportLinkage).unwrap();
    let audit: Vec<_> = s.audit().entries().collect();
    let lookups: Vec<_> = audit
        .iter()
        .filter(|e| e.command == "query_block" || e.command == "export_linkage")
        .collect();
    assert_eq!(lookups.len(), 4, "refused look-ups are logged too");
    for e in &lookups {
        let d = e.detail.as_deref().unwrap_or("");
        assert!(d.starts_with("look-up") || d.starts_with("export"), "{d}");
    }
    assert!(
        lookups
            .iter()
            .any(|e| e.detail.as_deref().unwrap().contains(ID))
    );
}

#[test]
fn bad_input_is_refused_with_its_place_and_changes_nothing() {
    let mut s = InProcessStack::new();
    // Records before the library: refused, nothing kept.
    let batch = vec![person(
        Feed::HouseholdRegistration,
        1,
        Some(ID),
        "兴华路12号1栋1单元101室",
    )];
    assert!(matches!(
        send(
            &mut s,
            Role::Department,
            1,
            Command::IngestRecords {
                records: batch.clone()
            }
        ),
        Err(ApiError::NotFound { .. })
    ));
    let mut lib = library();
    lib.roads[0].community = 9;
    let err = send(
        &mut s,
        Role::Admin,
        2,
        Command::LoadAddressLibrary {
            library: lib,
            more: false,
        },
    )
    .unwrap_err();
    assert!(err.to_string().contains("library.roads[0]"), "{err}");
    // Still no library.
    assert!(
        send(
            &mut s,
            Role::Department,
            3,
            Command::IngestRecords { records: batch }
        )
        .is_err()
    );
    let mut s = loaded();
    let err = send(
        &mut s,
        Role::Analyst,
        4,
        Command::QueryBlock {
            query: BlockQuery::Person {
                id_number: "440306199003070021".into(),
            },
        },
    )
    .unwrap_err();
    assert!(err.to_string().contains("check digit"), "{err}");
}

#[test]
fn a_crowded_flat_becomes_an_inspectors_task_and_the_finding_updates_the_view() {
    let mut s = loaded();
    // Eleven companies in an office room are business as usual.
    let office = "新安街道海裕社区兴华路12号1栋1单元102室";
    let batch: Vec<Record> = (0..11)
        .map(|i| {
            company(
                100 + i,
                &format!("深圳市宝安区测试贸易{i}号有限公司"),
                office,
            )
        })
        .collect();
    let out = send(
        &mut s,
        Role::Department,
        1,
        Command::IngestRecords { records: batch },
    )
    .unwrap();
    assert!(
        !out.iter()
            .any(|o| matches!(o, Outcome::ConflictRaised { .. })),
        "{out:?}"
    );
    // Four in a flat of the residential block are not.
    let flat = "新安街道海裕社区兴华路12号2栋1单元102室";
    let batch: Vec<Record> = (0..4)
        .map(|i| company(200 + i, &format!("深圳市宝安区示例科技{i}号有限公司"), flat))
        .collect();
    let out = send(
        &mut s,
        Role::Department,
        1,
        Command::IngestRecords { records: batch },
    )
    .unwrap();
    let task = out
        .iter()
        .find_map(|o| match o {
            Outcome::ConflictRaised { task } => Some(task.clone()),
            _ => None,
        })
        .expect("four companies in one flat raise a conflict");
    assert_eq!(task.kind, "crowded_room");
    assert_eq!(
        (task.grid, task.building, task.room),
        (Some(7), Some(1), Some(9))
    );
    // The inspector finds two of them there.
    let present: Vec<RecordKey> = task.records[..2].to_vec();
    send(
        &mut s,
        Role::Inspector,
        2,
        Command::ResolveConflict {
            conflict: task.conflict,
            finding: Finding::CompaniesPresent {
                companies: present.clone(),
            },
        },
    )
    .unwrap();
    let out = send(
        &mut s,
        Role::Analyst,
        3,
        Command::QueryBlock {
            query: BlockQuery::Room { room: 9 },
        },
    )
    .unwrap();
    let Outcome::BlockAnswered { view, .. } = &out[0] else {
        panic!("{out:?}")
    };
    assert_eq!(
        view.companies.iter().map(|c| c.cluster).collect::<Vec<_>>(),
        present
    );
    // A second finding on the same conflict is refused.
    assert!(
        send(
            &mut s,
            Role::Inspector,
            4,
            Command::ResolveConflict {
                conflict: task.conflict,
                finding: Finding::AddressDoesNotExist
            }
        )
        .is_err()
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Whatever is asked, by whomever: every call is in the audit log, and every look-up is
    /// named there.
    #[test]
    fn every_look_up_is_audited(ops in prop::collection::vec((0u8..4, 0u8..6, 0u32..20), 1..30)) {
        let mut s = loaded();
        let roles = [Role::Analyst, Role::Inspector, Role::Admin, Role::Camera, Role::Department, Role::Auditor];
        let mut lookups = 0;
        for (i, (op, role, x)) in ops.iter().enumerate() {
            let command = match op {
                0 => Command::QueryBlock { query: BlockQuery::Room { room: *x } },
                1 => Command::QueryBlock { query: BlockQuery::Grid { grid: *x } },
                2 => Command::QueryBlock { query: BlockQuery::Person { id_number: ID.into() } },
                _ => Command::IngestRecords { records: vec![person(Feed::InspectorVisit, *x as u64, Some(ID), "兴华路12号1栋1单元101室")] },
            };
            lookups += (*op < 3) as usize;
            let _ = send(&mut s, roles[*role as usize], i as u64 + 1, command);
        }
        let audit: Vec<_> = s.audit().entries().collect();
        prop_assert_eq!(audit.len(), ops.len() + 1, "the library load and every call");
        let named = audit.iter().filter(|e| e.detail.as_deref().is_some_and(|d| d.starts_with("look-up"))).count();
        prop_assert_eq!(named, lookups);
    }
}

/// A library too large for one request goes in parts: nothing is published until the last,
/// which builds the whole (a bad row refuses it naming the row's place across the parts, and
/// keeps the parts taken so far, as a refused call changes nothing).
#[test]
fn an_address_library_sent_in_parts_is_published_whole_at_the_last() {
    let whole = library();
    let parts = baoan_api::http::split_to_fit(
        &Command::LoadAddressLibrary {
            library: whole.clone(),
            more: false,
        },
        baoan_api::http::body_len(&whole) / 2 + 1024,
    )
    .unwrap()
    .expect("split in two or more");
    assert!(parts.len() >= 2);
    let (last, first) = parts.split_last().unwrap();
    let mut s = InProcessStack::new();
    for part in first {
        assert_eq!(send(&mut s, Role::Admin, 0, part.clone()).unwrap(), vec![]);
    }
    assert!(
        s.blocks.block_data().is_none(),
        "nothing published before the last part"
    );
    // A last part naming a building that is not there is refused, and the parts are kept.
    let mut bad = last.clone();
    if let Command::LoadAddressLibrary { library, .. } = &mut bad {
        library.rooms.push(LibraryRoom {
            id: 999,
            building: 42,
            unit: 1,
            room: 101,
        });
    }
    let e = send(&mut s, Role::Admin, 0, bad).unwrap_err();
    assert!(e.to_string().contains("rooms["), "{e}");
    let out = send(&mut s, Role::Admin, 0, last.clone()).unwrap();
    assert_eq!(
        out,
        vec![Outcome::AddressLibraryLoaded {
            buildings: whole.buildings.len() as u32,
            rooms: whole.rooms.len() as u32,
        }]
    );
    assert!(s.blocks.block_data().is_some());
}
