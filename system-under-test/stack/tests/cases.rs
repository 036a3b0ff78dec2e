//! The cases module through the stack: an acute dispute handed to command's police, company
//! registrations checked against block data, credit penalties reaching the companies block data
//! links to a person, care records readable only by their own community, and every look-up of a
//! case, a person's credit or a care record named in the audit log, allowed or refused.

use baoan_api::blocks::{
    AddressLibraryData, CompanyRecord, Feed, LibraryBuilding, LibraryCommunity, LibraryRoad,
    LibraryRoom, LibraryStreet, Record,
};
use baoan_api::cases::{
    Agency, BusinessScope, CareCategory, CareWorkerEntry, CaseDirectory, CaseSource,
    CaseWorkerEntry, CreditKind, CreditLink, CreditSource, DisputeFeatures, DisputeKind,
    FlagReason, RegistrationDecision, RiskLevel, Subject,
};
use baoan_api::{
    Actor, ApiError, Command, CommandDirectory, Envelope, Outcome, PersonId, Role, Stack,
    UnitClass, UnitEntry, UnitId,
};
use baoan_stack::InProcessStack;
use proptest::prelude::*;

fn send(
    s: &mut InProcessStack,
    role: Role,
    person: u32,
    at: u64,
    command: Command,
) -> Result<Vec<Outcome>, ApiError> {
    s.send(&Envelope {
        actor: Actor {
            role,
            person: PersonId(person),
        },
        sent_at: at,
        command,
    })
}

/// A synthetic person with a valid GB 11643 ID number.
const ID: &str = "440306199003070029";

/// A synthetic company's credit code with both check characters right (found by trying them).
fn code() -> String {
    code_n(0)
}

fn code_n(n: u32) -> String {
    const CHARS: &str = "0123456789ABCDEFGHJKLMNPQRTUWXY";
    for a in CHARS.chars() {
        for b in CHARS.chars() {
            let c = format!("91440306MA5F{n:04}{a}{b}");
            if baoan_block_data::validate_credit_code(&c).is_ok() {
                return c;
            }
        }
    }
    unreachable!("some pair of check characters is right")
}

const POLICE: u32 = 100;
const COMMUNITY: u32 = 101;
const CARE_A: u32 = 200;
const CARE_B: u32 = 201;

fn directory() -> CaseDirectory {
    CaseDirectory {
        case_workers: [
            (POLICE, Agency::Police),
            (COMMUNITY, Agency::Community),
            (102, Agency::WomensFederation),
            (103, Agency::Mediation),
            (104, Agency::Court),
        ]
        .into_iter()
        .map(|(p, agency)| CaseWorkerEntry {
            person: PersonId(p),
            agency,
            street: Some(0).filter(|_| !matches!(agency, Agency::Mediation | Agency::Court)),
        })
        .collect(),
        care_workers: vec![
            CareWorkerEntry {
                person: PersonId(CARE_A),
                community: 0,
                street: 0,
            },
            CareWorkerEntry {
                person: PersonId(CARE_B),
                community: 1,
                street: 0,
            },
        ],
    }
}

/// One road, an office building (rooms 0-3) and a residential one (rooms 4-7).
fn library() -> AddressLibraryData {
    let mut rooms = Vec::new();
    for b in 0..2u32 {
        for room in [101u16, 102, 201, 202] {
            rooms.push(LibraryRoom {
                id: rooms.len() as u32,
                building: b,
                unit: 1,
                room,
            });
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
            former_names: vec![],
        }],
        buildings: (0..2)
            .map(|b| LibraryBuilding {
                id: b,
                road: 0,
                number: 12,
                block: b as u16 + 1,
                grid: 3,
                residential: b == 1,
            })
            .collect(),
        rooms,
    }
}

const FLAT: &str = "宝安区新安街道海裕社区兴华路12号2栋1单元201室";
const OFFICE: &str = "宝安区新安街道海裕社区兴华路12号1栋1单元101室";
const NOWHERE: &str = "宝安区新安街道海裕社区兴华路9012号1栋1单元101室";

fn stack() -> InProcessStack {
    let mut s = InProcessStack::new();
    send(
        &mut s,
        Role::Admin,
        1,
        0,
        Command::LoadCaseDirectory {
            directory: directory(),
        },
    )
    .unwrap();
    s
}

fn with_blocks() -> InProcessStack {
    let mut s = stack();
    send(
        &mut s,
        Role::Admin,
        1,
        0,
        Command::LoadAddressLibrary {
            library: library(),
            more: false,
        },
    )
    .unwrap();
    s
}

fn open_case(case_ref: u64, features: DisputeFeatures) -> Command {
    Command::OpenCase {
        case_ref,
        source: CaseSource::PoliceCall,
        kind: DisputeKind::Domestic,
        grid: 3,
        street: 0,
        x_m: 250.0,
        y_m: 200.0,
        features,
        observed_at: 1_000,
    }
}

#[test]
fn an_acute_dispute_sends_the_nearest_police_through_command() {
    let mut s = stack();
    let unit = |id: u32, class: UnitClass, x: f64| UnitEntry {
        unit: UnitId(id),
        class,
        x_m: x,
        y_m: 200.0,
        grid: 3,
        on_duty: true,
    };
    send(
        &mut s,
        Role::Admin,
        1,
        0,
        Command::LoadCommandDirectory {
            directory: CommandDirectory {
                grids: (0..5).map(|_| (0, 0)).collect(),
                units: vec![
                    unit(1, UnitClass::Police, 5_000.0),
                    unit(2, UnitClass::Police, 300.0),
                    unit(3, UnitClass::Volunteer, 260.0),
                ],
                leaders: vec![],
                departments_wait: false,
                four_duties: false,
            },
        },
    )
    .unwrap();
    let acute = DisputeFeatures {
        violence: true,
        weapon: true,
        threats_to_kill: true,
        ..DisputeFeatures::default()
    };
    let out = send(&mut s, Role::Dispatcher, 3, 2_000, open_case(1, acute)).unwrap();
    let Some(Outcome::CaseOpened { case, level, .. }) = out.first() else {
        panic!("{out:?}")
    };
    assert_eq!(*level, RiskLevel::Acute);
    assert!(
        out.iter()
            .any(|o| matches!(o, Outcome::CaseEscalated { case: c, .. } if c == case)),
        "{out:?}"
    );
    let sent: Vec<UnitId> = out
        .iter()
        .filter_map(|o| match o {
            Outcome::UnitDispatched { unit, .. } => Some(*unit),
            _ => None,
        })
        .collect();
    assert_eq!(
        sent,
        vec![UnitId(2)],
        "the nearest police unit, and only police"
    );

    // A low-risk case stays with the agencies.
    let out = send(
        &mut s,
        Role::Dispatcher,
        3,
        3_000,
        open_case(2, DisputeFeatures::default()),
    )
    .unwrap();
    assert!(
        !out.iter()
            .any(|o| matches!(o, Outcome::CaseEscalated { .. }))
    );
    assert!(s.case_refusals().is_empty(), "{:?}", s.case_refusals());
}

#[test]
fn registrations_are_checked_against_block_data() {
    let mut s = with_blocks();
    let companies: Vec<Record> = (0..3)
        .map(|i| {
            Record::Company(CompanyRecord {
                feed: Feed::BusinessRegistry,
                record_ref: i,
                name: format!("深圳市测试{i}贸易有限公司"),
                credit_code: None,
                legal_representative_id: None,
                registered_address: FLAT.into(),
                observed_at_ms: 0,
            })
        })
        .collect();
    send(
        &mut s,
        Role::Department,
        9,
        10,
        Command::IngestRecords { records: companies },
    )
    .unwrap();
    let register = |r: u64, address: &str, scope| Command::RegisterCompany {
        registration_ref: r,
        name: "深圳市新设科技有限公司".into(),
        credit_code: code_n(r as u32),
        legal_representative_id: ID.into(),
        address: address.into(),
        scope,
        observed_at: 100,
    };
    let reasons = |out: &[Outcome]| match &out[0] {
        Outcome::RegistrationChecked {
            decision: RegistrationDecision::Flagged { reasons },
            task,
            ..
        } => {
            assert!(task.is_some(), "a flagged registration gets an inspector");
            reasons.clone()
        }
        Outcome::RegistrationChecked {
            decision: RegistrationDecision::Approved,
            task,
            ..
        } => {
            assert!(task.is_none());
            Vec::new()
        }
        o => panic!("{o:?}"),
    };
    let out = send(
        &mut s,
        Role::Department,
        9,
        100,
        register(1, NOWHERE, BusinessScope::Office),
    )
    .unwrap();
    assert_eq!(reasons(&out), vec![FlagReason::AddressNotFound]);
    let out = send(
        &mut s,
        Role::Department,
        9,
        100,
        register(2, FLAT, BusinessScope::Retail),
    )
    .unwrap();
    let r = reasons(&out);
    assert!(r.contains(&FlagReason::ResidentialPremises), "{r:?}");
    assert!(
        r.contains(&FlagReason::CrowdedRoom),
        "three companies already in the flat: {r:?}"
    );
    let out = send(
        &mut s,
        Role::Department,
        9,
        100,
        register(3, OFFICE, BusinessScope::Office),
    )
    .unwrap();
    let Outcome::RegistrationChecked { check, .. } = &out[0] else {
        panic!()
    };
    assert!(check.found && !check.residential, "{check:?}");
    assert_eq!(check.grid, Some(3));
}

#[test]
fn a_penalty_on_a_person_reaches_the_companies_block_data_links_to_them() {
    let mut s = with_blocks();
    let company = Record::Company(CompanyRecord {
        feed: Feed::BusinessRegistry,
        record_ref: 1,
        name: "深圳市测试贸易有限公司".into(),
        credit_code: Some(code()),
        legal_representative_id: Some(ID.into()),
        registered_address: OFFICE.into(),
        observed_at_ms: 0,
    });
    send(
        &mut s,
        Role::Department,
        9,
        10,
        Command::IngestRecords {
            records: vec![company],
        },
    )
    .unwrap();
    let out = send(
        &mut s,
        Role::Department,
        9,
        100,
        Command::RecordCreditEvent {
            event_ref: 1,
            subject: Subject::Person {
                id_number: ID.into(),
            },
            kind: CreditKind::Dishonesty,
            source: CreditSource::Court,
            observed_at: 100,
        },
    )
    .unwrap();
    let Outcome::CreditRecorded {
        event, deliveries, ..
    } = &out[0]
    else {
        panic!("{out:?}")
    };
    let company = Subject::Company {
        credit_code: code(),
    };
    assert!(
        deliveries
            .iter()
            .any(|d| d.entity == company && d.link == CreditLink::RepresentedCompany),
        "{deliveries:?}"
    );
    // An upheld appeal removes it from the company too.
    send(
        &mut s,
        Role::Reviewer,
        8,
        200,
        Command::AppealCredit {
            event: *event,
            upheld: true,
        },
    )
    .unwrap();
    let out = send(
        &mut s,
        Role::Auditor,
        7,
        300,
        Command::QueryCredit { subject: company },
    )
    .unwrap();
    assert!(
        matches!(&out[0], Outcome::CreditAnswered { entries, .. } if entries.is_empty()),
        "{out:?}"
    );
}

#[test]
fn care_records_are_read_only_by_their_own_community() {
    let mut s = stack();
    let out = send(
        &mut s,
        Role::CareWorker,
        CARE_A,
        0,
        Command::EnrolCare {
            care_ref: 1,
            community: 0,
            category: CareCategory::ElderlyAlone,
            interval_days: 7,
        },
    )
    .unwrap();
    let Outcome::CareEnrolled { care, .. } = out[0] else {
        panic!("{out:?}")
    };
    assert!(
        send(
            &mut s,
            Role::CareWorker,
            CARE_A,
            5,
            Command::QueryCare { care }
        )
        .is_ok()
    );
    for (role, person) in [
        (Role::CareWorker, CARE_B),
        (Role::Analyst, 2),
        (Role::Auditor, 7),
        (Role::Admin, 1),
    ] {
        let r = send(&mut s, role, person, 6, Command::QueryCare { care });
        assert!(
            matches!(r, Err(ApiError::Forbidden { .. })),
            "{role:?}: {r:?}"
        );
    }
    // Analysts get counts only.
    let out = send(&mut s, Role::Analyst, 2, 7, Command::QueryCareStats).unwrap();
    assert!(matches!(&out[0], Outcome::CareStatsAnswered { stats } if stats.enrolled == 1));
}

#[derive(Debug, Clone)]
enum Look {
    Case(u64),
    Credit(bool),
    Care(u64),
    Stats,
}

fn look() -> impl Strategy<Value = (Look, Role, u32)> {
    let what = prop_oneof![
        (0u64..4).prop_map(Look::Case),
        any::<bool>().prop_map(Look::Credit),
        (0u64..3).prop_map(Look::Care),
        Just(Look::Stats),
    ];
    let role = prop_oneof![
        Just(Role::Caseworker),
        Just(Role::CareWorker),
        Just(Role::Analyst),
        Just(Role::Auditor),
        Just(Role::Admin),
        Just(Role::Inspector),
        Just(Role::Department),
    ];
    let person = prop_oneof![
        Just(POLICE),
        Just(COMMUNITY),
        Just(CARE_A),
        Just(CARE_B),
        Just(7u32)
    ];
    (what, role, person)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Every look-up of a case, a person's or company's credit or a care record is in the audit
    /// log, naming what was looked up, whether it was allowed or refused.
    #[test]
    fn every_look_up_is_audited(looks in prop::collection::vec(look(), 1..30)) {
        let mut s = stack();
        send(&mut s, Role::Dispatcher, 3, 2_000, open_case(1, DisputeFeatures::default())).unwrap();
        send(&mut s, Role::CareWorker, CARE_A, 10, Command::EnrolCare {
            care_ref: 1, community: 0, category: CareCategory::Disability, interval_days: 30,
        }).unwrap();
        for (i, (what, role, person)) in looks.iter().enumerate() {
            let command = match what {
                Look::Case(c) => Command::QueryCase { case: *c },
                Look::Credit(company) => Command::QueryCredit {
                    subject: if *company {
                        Subject::Company { credit_code: code() }
                    } else {
                        Subject::Person { id_number: ID.into() }
                    },
                },
                Look::Care(c) => Command::QueryCare { care: *c },
                Look::Stats => Command::QueryCareStats,
            };
            let before = s.audit().len();
            let result = send(&mut s, *role, *person, 3_000 + i as u64, command);
            prop_assert_eq!(s.audit().len(), before + 1);
            let entry = s.audit().get(before).expect("appended");
            prop_assert_eq!(entry.actor.role, *role);
            prop_assert_eq!(entry.result == "ok", result.is_ok());
            let detail = entry.detail.clone().unwrap_or_default();
            let named = match what {
                Look::Case(c) => detail.contains(&format!("case {c}")),
                Look::Credit(true) => detail.contains(&code()),
                Look::Credit(false) => detail.contains(ID),
                Look::Care(c) => detail.contains(&format!("care record {c}")),
                Look::Stats => detail.contains("care counts"),
            };
            prop_assert!(named, "{:?} not named in {:?}", what, detail);
        }
    }
}
