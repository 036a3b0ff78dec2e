//! The cases loops' throughput through the in-process stack (role checks and the audit log
//! included): dispute cases opened (risk assessment and the agencies' tasks), credit records
//! (links looked up in block data, deliveries to every receiving body), company registrations
//! (the address checked against block data) and care visits.

use std::hint::black_box;
use std::time::Instant;

use baoan_api::blocks::{
    AddressLibraryData, CompanyRecord, Feed, LibraryBuilding, LibraryCommunity, LibraryRoad,
    LibraryRoom, LibraryStreet, Record,
};
use baoan_api::cases::{
    Agency, BusinessScope, CareCategory, CareWorkerEntry, CaseDirectory, CaseSource,
    CaseWorkerEntry, CreditKind, CreditSource, DisputeFeatures, DisputeKind, Subject,
};
use baoan_api::{Actor, Command, Envelope, PersonId, Role, Stack};
use baoan_stack::InProcessStack;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

mod common;
use common::timed;

const ROADS: [&str; 10] = [
    "兴华路",
    "创业路",
    "新湖路",
    "宝民路",
    "新安路",
    "前进路",
    "建安路",
    "裕安路",
    "海秀路",
    "公园路",
];
const BUILDINGS_PER_ROAD: u32 = 50;
const ROOMS: [u16; 20] = [
    101, 102, 103, 104, 201, 202, 203, 204, 301, 302, 303, 304, 401, 402, 403, 404, 501, 502, 503,
    504,
];

fn library() -> AddressLibraryData {
    let mut lib = AddressLibraryData {
        streets: vec![LibraryStreet {
            id: 0,
            name: "新安街道".into(),
        }],
        communities: vec![LibraryCommunity {
            id: 0,
            street: 0,
            name: "海裕社区".into(),
        }],
        ..Default::default()
    };
    for (r, name) in ROADS.iter().enumerate() {
        lib.roads.push(LibraryRoad {
            id: r as u32,
            community: 0,
            name: (*name).into(),
            former_names: vec![],
        });
        for n in 0..BUILDINGS_PER_ROAD {
            let id = lib.buildings.len() as u32;
            lib.buildings.push(LibraryBuilding {
                id,
                road: r as u32,
                number: n as u16 + 1,
                block: 1,
                grid: id / 10,
                residential: n % 2 == 0,
            });
            for room in ROOMS {
                lib.rooms.push(LibraryRoom {
                    id: lib.rooms.len() as u32,
                    building: id,
                    unit: 1,
                    room,
                });
            }
        }
    }
    lib
}

fn address(i: u64) -> String {
    let road = ROADS[(i % ROADS.len() as u64) as usize];
    let number = (i / 10) % u64::from(BUILDINGS_PER_ROAD) + 1;
    let room = ROOMS[((i / 500) % ROOMS.len() as u64) as usize];
    format!("宝安区新安街道海裕社区{road}{number}号1栋1单元{room}室")
}

/// GB 11643 ID numbers and GB 32100 credit codes made valid by trying check characters.
fn id_number(i: u64) -> String {
    let body = format!(
        "44030619{:02}0{}{:02}{:03}",
        70 + i % 30,
        1 + i % 9,
        10 + i % 18,
        i % 1000
    );
    ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "X"]
        .iter()
        .map(|c| format!("{body}{c}"))
        .find(|s| baoan_block_data::validate_id_number(s).is_ok())
        .expect("one check character fits")
}

fn credit_code(i: u64) -> String {
    const CHARS: &str = "0123456789ABCDEFGHJKLMNPQRTUWXY";
    for a in CHARS.chars() {
        for b in CHARS.chars() {
            let c = format!("914403060{:07}{a}{b}", i % 10_000_000);
            if baoan_block_data::validate_credit_code(&c).is_ok() {
                return c;
            }
        }
    }
    unreachable!()
}

fn actor(role: Role, person: u32) -> Actor {
    Actor {
        role,
        person: PersonId(person),
    }
}

/// A stack with the case directory, the address library and 20,000 companies whose legal
/// representatives are 5,000 people.
fn stack() -> InProcessStack {
    let mut s = InProcessStack::new();
    let directory = CaseDirectory {
        case_workers: Agency::ALL
            .iter()
            .enumerate()
            .map(|(i, &agency)| CaseWorkerEntry {
                person: PersonId(100 + i as u32),
                agency,
                street: None,
            })
            .collect(),
        care_workers: vec![CareWorkerEntry {
            person: PersonId(200),
            community: 0,
            street: 0,
        }],
    };
    let admin = actor(Role::Admin, 1);
    for command in [
        Command::LoadCaseDirectory { directory },
        Command::LoadAddressLibrary {
            library: library(),
            more: false,
        },
    ] {
        s.send(&Envelope {
            actor: admin,
            sent_at: 0,
            command,
        })
        .expect("set up");
    }
    let records: Vec<Record> = (0..20_000u64)
        .map(|i| {
            Record::Company(CompanyRecord {
                feed: Feed::BusinessRegistry,
                record_ref: i,
                name: format!("深圳市宝安{i}贸易有限公司"),
                credit_code: Some(credit_code(i)),
                legal_representative_id: Some(id_number(i % 5_000)),
                registered_address: address(i),
                observed_at_ms: 0,
            })
        })
        .collect();
    s.send(&Envelope {
        actor: actor(Role::Department, 9),
        sent_at: 0,
        command: Command::IngestRecords { records },
    })
    .expect("companies");
    s
}

fn features(i: u64) -> DisputeFeatures {
    DisputeFeatures {
        prior_incidents: (i % 4) as u8,
        violence: i.is_multiple_of(3),
        threats_to_kill: i.is_multiple_of(11),
        weapon: i.is_multiple_of(17),
        strangulation: i.is_multiple_of(23),
        separation: i.is_multiple_of(5),
        children: i.is_multiple_of(2),
        alcohol_or_drugs: i.is_multiple_of(7),
        escalating: i.is_multiple_of(6),
        afraid: i.is_multiple_of(4),
    }
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("cases");
    // Every iteration adds to the stack's state: fewer samples keep it to a few hundred
    // thousand cases, records or visits.
    g.sample_size(20);
    g.throughput(Throughput::Elements(1));
    g.bench_function("open_case", |b| {
        let (mut s, mut next) = (stack(), 0);
        b.iter_custom(|n| {
            timed(&mut s, &mut next, n, |i| Envelope {
                actor: actor(Role::Dispatcher, 3),
                sent_at: 1_000 + i,
                command: Command::OpenCase {
                    case_ref: i + 1,
                    source: CaseSource::PoliceCall,
                    kind: [
                        DisputeKind::Domestic,
                        DisputeKind::Family,
                        DisputeKind::Neighbour,
                    ][(i % 3) as usize],
                    grid: (i % 50) as u32,
                    street: 0,
                    x_m: 0.0,
                    y_m: 0.0,
                    features: features(i),
                    observed_at: 1_000 + i,
                },
            })
        })
    });
    g.bench_function("record_credit_event", |b| {
        let (mut s, mut next) = (stack(), 0);
        b.iter_custom(|n| {
            timed(&mut s, &mut next, n, |i| Envelope {
                actor: actor(Role::Department, 9),
                sent_at: 1_000 + i,
                command: Command::RecordCreditEvent {
                    event_ref: i + 1,
                    subject: if i % 2 == 0 {
                        Subject::Person {
                            id_number: id_number(i % 5_000),
                        }
                    } else {
                        Subject::Company {
                            credit_code: credit_code(i % 20_000),
                        }
                    },
                    kind: CreditKind::Dishonesty,
                    source: CreditSource::Court,
                    observed_at: 1_000 + i,
                },
            })
        })
    });
    g.bench_function("register_company", |b| {
        let (mut s, mut next) = (stack(), 0);
        b.iter_custom(|n| {
            timed(&mut s, &mut next, n, |i| Envelope {
                actor: actor(Role::Department, 9),
                sent_at: 1_000 + i,
                command: Command::RegisterCompany {
                    registration_ref: i + 1,
                    name: format!("深圳市新设{i}科技有限公司"),
                    credit_code: credit_code(1_000_000 + i),
                    legal_representative_id: id_number(i),
                    address: address(i * 7),
                    scope: BusinessScope::Office,
                    observed_at: 1_000 + i,
                },
            })
        })
    });
    g.bench_function("record_care_visit", |b| {
        let mut s = stack();
        let care_worker = actor(Role::CareWorker, 200);
        let enrolled = 10_000;
        for i in 0..enrolled {
            s.send(&Envelope {
                actor: care_worker,
                sent_at: 0,
                command: Command::EnrolCare {
                    care_ref: i + 1,
                    community: 0,
                    category: CareCategory::ElderlyAlone,
                    interval_days: 7,
                },
            })
            .expect("enrolled");
        }
        let mut next = 0;
        b.iter_custom(|n| {
            let envelopes: Vec<Envelope> = (next..next + n)
                .map(|i| Envelope {
                    actor: care_worker,
                    sent_at: 1_000 + i,
                    command: Command::RecordCareVisit {
                        care: i % enrolled + 1,
                        need_found: i.is_multiple_of(10),
                    },
                })
                .collect();
            next += n;
            let start = Instant::now();
            for e in &envelopes {
                black_box(s.send(e).expect("accepted"));
            }
            start.elapsed()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
