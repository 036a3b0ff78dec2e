//! Random sequences of cases-module commands against a fake block-data registry with a random
//! link graph (some links carrying mistyped identifiers), checking after every step:
//! * a refused command changes nothing (the whole state compared), and neither do look-ups or
//!   repeated refs, which answer the first outcome;
//! * a case is never closed with a required action missing;
//! * every credit record's deliveries and undelivered entities cover exactly the subject and the
//!   entities linked to it when it was recorded, each delivered entity to every receiving body;
//! * an upheld appeal leaves the record on no entity and revokes every earlier delivery;
//! * overdue escalations fire once per task and level, never for a done task, and a case is
//!   handed to command at most once, only when acute.

use std::collections::{BTreeMap, BTreeSet};

use baoan_api::cases::*;
use baoan_api::{Actor, ApiError, Command, Envelope, EscalationLevel, Outcome, PersonId, Role};
use baoan_cases::{CasesService, HOUR_MS, Registry};
use proptest::prelude::*;

// ------------------------------------------------------------------------------------------------
// Identifiers, with their check characters computed here (GB 11643, GB 11714, GB 32100).
// ------------------------------------------------------------------------------------------------

fn id_number(n: u32) -> String {
    let body = format!(
        "440306{:04}{:02}{:02}{:03}",
        1960 + n % 40,
        1 + n % 12,
        1 + n % 28,
        n % 1000
    );
    const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = body
        .bytes()
        .zip(W)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    let check = b"10X98765432"[(sum % 11) as usize] as char;
    format!("{body}{check}")
}

const CHARSET: &[u8] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";

fn credit_code(n: u32) -> String {
    let body = format!("91440300MA{:06}", n);
    let org: u32 = body.as_bytes()[8..16]
        .iter()
        .zip([3, 7, 9, 10, 5, 8, 4, 2])
        .map(|(&c, w)| {
            let v = if c.is_ascii_digit() {
                u32::from(c - b'0')
            } else {
                u32::from(c - b'A') + 10
            };
            v * w
        })
        .sum();
    let org = match 11 - org % 11 {
        10 => 'X',
        11 => '0',
        d => char::from(b'0' + d as u8),
    };
    let first17 = format!("{body}{org}");
    const W: [u32; 17] = [
        1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
    ];
    let sum: u32 = first17
        .bytes()
        .zip(W)
        .map(|(c, w)| CHARSET.iter().position(|&x| x == c).unwrap() as u32 * w)
        .sum();
    let check = CHARSET[((31 - sum % 31) % 31) as usize] as char;
    format!("{first17}{check}")
}

/// The identifier with its final check character altered: it fails its check.
fn typo(s: &str) -> String {
    let mut s = s.to_owned();
    let last = s.pop().unwrap();
    s.push(if last == '0' { '1' } else { '0' });
    s
}

const VALID_PERSONS: usize = 5;
const VALID_COMPANIES: usize = 6;

/// Five valid ID numbers, then mistyped copies of the first two.
fn persons() -> Vec<String> {
    let mut v: Vec<String> = (0..VALID_PERSONS as u32)
        .map(|n| id_number(n * 37 + 11))
        .collect();
    v.push(typo(&v[0]));
    v.push(typo(&v[1]));
    v
}

/// Six valid credit codes, then a mistyped copy of the first.
fn companies() -> Vec<String> {
    let mut v: Vec<String> = (0..VALID_COMPANIES as u32)
        .map(|n| credit_code(n * 101 + 7))
        .collect();
    v.push(typo(&v[0]));
    v
}

const ADDRESSES: [&str; 5] = ["addr0", "addr1", "addr2", "addr3", "nowhere"];

// ------------------------------------------------------------------------------------------------
// The fake registry: a random link graph over the pools.
// ------------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Graph {
    /// Per valid person: indices into `companies()` they represent in block data.
    companies_of: Vec<Vec<usize>>,
    /// Per valid company: index into `persons()` of its representative in block data.
    rep_of: Vec<Option<usize>>,
    addresses: Vec<AddressCheck>,
}

struct Fake {
    companies_of: BTreeMap<String, Vec<String>>,
    rep_of: BTreeMap<String, String>,
    addresses: BTreeMap<String, AddressCheck>,
}

impl Fake {
    fn new(g: &Graph) -> Self {
        let (p, c) = (persons(), companies());
        Fake {
            companies_of: g
                .companies_of
                .iter()
                .enumerate()
                .map(|(i, cs)| (p[i].clone(), cs.iter().map(|&j| c[j].clone()).collect()))
                .collect(),
            rep_of: g
                .rep_of
                .iter()
                .enumerate()
                .filter_map(|(j, r)| r.map(|r| (c[j].clone(), p[r].clone())))
                .collect(),
            addresses: ADDRESSES
                .iter()
                .zip(&g.addresses)
                .map(|(a, c)| (a.to_string(), *c))
                .collect(),
        }
    }
}

impl Registry for Fake {
    fn check_address(&self, address: &str) -> AddressCheck {
        self.addresses.get(address).copied().unwrap_or_default()
    }
    fn companies_represented_by(&self, id_number: &str) -> Vec<String> {
        self.companies_of
            .get(id_number)
            .cloned()
            .unwrap_or_default()
    }
    fn representative_of(&self, credit_code: &str) -> Option<String> {
        self.rep_of.get(credit_code).cloned()
    }
}

fn address_check() -> impl Strategy<Value = AddressCheck> {
    (
        any::<bool>(),
        0..3u32,
        prop::option::of(0..4u32),
        any::<bool>(),
        0..5u32,
    )
        .prop_map(
            |(found, building, room, residential, companies)| AddressCheck {
                found,
                building: found.then_some(building),
                room: if found { room } else { None },
                grid: found.then_some(building + 10),
                residential,
                companies_at_room: companies,
            },
        )
}

fn graph() -> impl Strategy<Value = Graph> {
    let n_companies = companies().len();
    let n_persons = persons().len();
    (
        prop::collection::vec(prop::collection::vec(0..n_companies, 0..4), VALID_PERSONS),
        prop::collection::vec(prop::option::of(0..n_persons), VALID_COMPANIES),
        prop::collection::vec(address_check(), ADDRESSES.len() - 1),
    )
        .prop_map(|(companies_of, rep_of, mut addresses)| {
            addresses.push(AddressCheck::default());
            Graph {
                companies_of,
                rep_of,
                addresses,
            }
        })
}

// ------------------------------------------------------------------------------------------------
// Commands
// ------------------------------------------------------------------------------------------------

/// Case workers in the directory: police 10 (street 1) and 11 (street 2), women's federation 20
/// and 21, mediation 30 and court 40 (district-wide), community 50 and 51.
fn directory() -> CaseDirectory {
    let w = |person, agency, street| CaseWorkerEntry {
        person: PersonId(person),
        agency,
        street,
    };
    let c = |person, community, street| CareWorkerEntry {
        person: PersonId(person),
        community,
        street,
    };
    CaseDirectory {
        case_workers: vec![
            w(10, Agency::Police, Some(1)),
            w(11, Agency::Police, Some(2)),
            w(20, Agency::WomensFederation, Some(1)),
            w(21, Agency::WomensFederation, Some(2)),
            w(30, Agency::Mediation, None),
            w(40, Agency::Court, None),
            w(50, Agency::Community, Some(1)),
            w(51, Agency::Community, Some(2)),
        ],
        care_workers: vec![c(60, 100, 1), c(61, 100, 1), c(62, 200, 2)],
    }
}

fn worker_for(agency: Agency, street: u32) -> u32 {
    let s2 = u32::from(street == 2);
    match agency {
        Agency::Police => 10 + s2,
        Agency::WomensFederation => 20 + s2,
        Agency::Mediation => 30,
        Agency::Court => 40,
        Agency::Community => 50 + s2,
    }
}

/// Any case worker (some not in the directory), or someone in a role that may not act.
fn someone(i: u8) -> Actor {
    const PEOPLE: [u32; 9] = [10, 11, 20, 21, 30, 40, 50, 51, 999];
    match PEOPLE.get(i as usize) {
        Some(&p) => Actor {
            role: Role::Caseworker,
            person: PersonId(p),
        },
        None => Actor {
            role: Role::Inspector,
            person: PersonId(5),
        },
    }
}

#[derive(Debug, Clone)]
enum Op {
    Open {
        case_ref: u64,
        source: CaseSource,
        kind: DisputeKind,
        street: u32,
        features: DisputeFeatures,
    },
    /// `who: None` is the task's own agency's worker for the street; `task` picks a known task.
    Act {
        task: usize,
        who: Option<u8>,
        findings: Option<DisputeFeatures>,
    },
    Close {
        case: usize,
        who: Option<u8>,
        satisfaction: u8,
    },
    QueryCase {
        case: u64,
        who: u8,
    },
    Credit {
        event_ref: u64,
        person: bool,
        index: usize,
        kind: CreditKind,
    },
    Ack {
        delivery: usize,
    },
    Appeal {
        event: usize,
        upheld: bool,
    },
    Register {
        registration_ref: u64,
        code: usize,
        rep: usize,
        address: usize,
        scope: BusinessScope,
    },
    Premises {
        task: usize,
        place_exists: bool,
        business_present: bool,
    },
    Trading {
        report_ref: u64,
        address: usize,
    },
    Enrol {
        care_ref: u64,
        who: u8,
        community: u32,
        interval_days: u16,
    },
    Visit {
        care: usize,
        who: u8,
        need_found: bool,
    },
    Complete {
        service: usize,
        who: u8,
    },
    ReloadDirectory,
    Advance,
}

fn features() -> impl Strategy<Value = DisputeFeatures> {
    (0..7u8, prop::collection::vec(prop::bool::weighted(0.3), 9)).prop_map(|(prior, b)| {
        DisputeFeatures {
            prior_incidents: prior,
            violence: b[0],
            threats_to_kill: b[1],
            weapon: b[2],
            strangulation: b[3],
            separation: b[4],
            children: b[5],
            alcohol_or_drugs: b[6],
            escalating: b[7],
            afraid: b[8],
        }
    })
}

fn op() -> impl Strategy<Value = Op> {
    let kind = prop_oneof![
        Just(DisputeKind::Domestic),
        Just(DisputeKind::Family),
        Just(DisputeKind::Neighbour)
    ];
    let source = prop_oneof![
        Just(CaseSource::PoliceCall),
        Just(CaseSource::Inspector),
        Just(CaseSource::Community)
    ];
    let scope = prop_oneof![
        Just(BusinessScope::Office),
        Just(BusinessScope::Retail),
        Just(BusinessScope::Catering),
        Just(BusinessScope::Manufacturing)
    ];
    let credit_kind = prop_oneof![Just(CreditKind::Trust), Just(CreditKind::Dishonesty)];
    let n_persons = persons().len();
    let n_companies = companies().len();
    prop_oneof![
        3 => (0..8u64, source, kind, 1..=2u32, features()).prop_map(
            |(case_ref, source, kind, street, features)| Op::Open {
                case_ref,
                source,
                kind,
                street,
                features
            }
        ),
        14 => (
            any::<usize>(),
            prop::option::weighted(0.2, 0..10u8),
            prop::option::weighted(0.4, features())
        )
            .prop_map(|(task, who, findings)| Op::Act {
                task,
                who,
                findings
            }),
        4 => (any::<usize>(), prop::option::weighted(0.2, 0..10u8), 0..7u8).prop_map(
            |(case, who, satisfaction)| Op::Close {
                case,
                who,
                satisfaction
            }
        ),
        1 => (1..10u64, 0..11u8).prop_map(|(case, who)| Op::QueryCase { case, who }),
        4 => (0..8u64, any::<bool>(), 0..n_persons.max(n_companies), credit_kind).prop_map(
            move |(event_ref, person, index, kind)| Op::Credit {
                event_ref,
                person,
                index: index % if person { n_persons } else { n_companies },
                kind
            }
        ),
        2 => any::<usize>().prop_map(|delivery| Op::Ack { delivery }),
        2 => (any::<usize>(), any::<bool>()).prop_map(|(event, upheld)| Op::Appeal { event, upheld }),
        3 => (0..8u64, 0..n_companies, 0..n_persons, 0..ADDRESSES.len(), scope).prop_map(
            |(registration_ref, code, rep, address, scope)| Op::Register {
                registration_ref,
                code,
                rep,
                address,
                scope
            }
        ),
        2 => (any::<usize>(), any::<bool>(), any::<bool>()).prop_map(
            |(task, place_exists, business_present)| Op::Premises {
                task,
                place_exists,
                business_present
            }
        ),
        1 => (0..5u64, 0..ADDRESSES.len())
            .prop_map(|(report_ref, address)| Op::Trading { report_ref, address }),
        2 => (0..5u64, 0..3u8, prop_oneof![Just(100u32), Just(200), Just(300)], 0..12u16)
            .prop_map(|(care_ref, who, community, interval_days)| Op::Enrol {
                care_ref,
                who,
                community,
                interval_days
            }),
        3 => (any::<usize>(), 0..3u8, any::<bool>()).prop_map(|(care, who, need_found)| Op::Visit {
            care,
            who,
            need_found
        }),
        2 => (any::<usize>(), 0..3u8).prop_map(|(service, who)| Op::Complete { service, who }),
        1 => Just(Op::ReloadDirectory),
        3 => Just(Op::Advance),
    ]
}

// ------------------------------------------------------------------------------------------------
// The model: what the outcomes said so far.
// ------------------------------------------------------------------------------------------------

#[derive(Default)]
struct Model {
    /// Task → (case, agency).
    tasks: BTreeMap<u64, (u64, Agency)>,
    case_street: BTreeMap<u64, u32>,
    case_tasks: BTreeMap<u64, BTreeSet<u64>>,
    done: BTreeSet<u64>,
    closed: BTreeSet<u64>,
    /// (command kind, ref) → the first answer.
    answered: BTreeMap<(&'static str, u64), Vec<Outcome>>,
    /// This module's registrations: credit code → representative.
    registered: BTreeMap<String, String>,
    /// Supervision task → the registration's credit code.
    supervision: BTreeMap<u64, String>,
    /// Event → its deliveries, revokes included.
    deliveries: BTreeMap<u64, Vec<CreditDelivery>>,
    revoked: BTreeSet<u64>,
    max_delivery: u64,
    escalated: BTreeSet<(u64, EscalationLevel)>,
    handed_over: BTreeSet<u64>,
    /// Care records and service tasks made.
    care: BTreeSet<u64>,
    services: BTreeSet<u64>,
}

/// A known id chosen by `sel`, or (one time in ten, or when none is known) `unknown`.
fn pick(known: impl IntoIterator<Item = u64>, sel: usize, unknown: u64) -> u64 {
    let known: Vec<u64> = known.into_iter().collect();
    if known.is_empty() || sel % 10 == 9 {
        unknown
    } else {
        known[(sel / 10) % known.len()]
    }
}

impl Model {
    /// Mostly open tasks; one time in five any task (done ones are refused).
    fn task(&self, sel: usize) -> u64 {
        let open: Vec<u64> = self
            .tasks
            .keys()
            .copied()
            .filter(|t| !self.done.contains(t))
            .collect();
        let unknown = self.tasks.len() as u64 + 1;
        if open.is_empty() || sel.is_multiple_of(5) {
            pick(self.tasks.keys().copied(), sel, unknown)
        } else {
            pick(open, sel, unknown)
        }
    }

    /// Mostly cases whose actions are all done; else any case.
    fn case(&self, sel: usize) -> u64 {
        let ready: Vec<u64> = self
            .case_tasks
            .iter()
            .filter(|(c, ts)| !self.closed.contains(c) && ts.is_subset(&self.done))
            .map(|(&c, _)| c)
            .collect();
        let unknown = self.case_street.len() as u64 + 1;
        if ready.is_empty() || sel.is_multiple_of(3) {
            pick(self.case_street.keys().copied(), sel, unknown)
        } else {
            pick(ready, sel, unknown)
        }
    }
}

fn is_valid(s: &Subject) -> bool {
    match s {
        Subject::Person { id_number } => persons()[..VALID_PERSONS].contains(id_number),
        Subject::Company { credit_code } => companies()[..VALID_COMPANIES].contains(credit_code),
    }
}

/// Every entity a record could stand on.
fn all_entities() -> Vec<Subject> {
    persons()[..VALID_PERSONS]
        .iter()
        .map(|p| Subject::Person {
            id_number: p.clone(),
        })
        .chain(
            companies()[..VALID_COMPANIES]
                .iter()
                .map(|c| Subject::Company {
                    credit_code: c.clone(),
                }),
        )
        .collect()
}

struct Run {
    svc: CasesService,
    fake: Fake,
    model: Model,
    now: u64,
}

impl Run {
    fn send(&mut self, actor: Actor, command: Command) -> Result<Vec<Outcome>, ApiError> {
        self.svc.handle(
            &Envelope {
                actor,
                sent_at: self.now,
                command,
            },
            &self.fake,
        )
    }

    fn auditor() -> Actor {
        Actor {
            role: Role::Auditor,
            person: PersonId(2),
        }
    }

    fn view(&mut self, case: u64) -> CaseView {
        match self.send(Self::auditor(), Command::QueryCase { case }) {
            Ok(mut out) => match out.remove(0) {
                Outcome::CaseAnswered { view } => view,
                other => panic!("{other:?}"),
            },
            Err(e) => panic!("{e}"),
        }
    }

    fn credit(&mut self, subject: &Subject) -> Vec<CreditEntry> {
        match self.send(
            Self::auditor(),
            Command::QueryCredit {
                subject: subject.clone(),
            },
        ) {
            Ok(mut out) => match out.remove(0) {
                Outcome::CreditAnswered { entries, .. } => entries,
                other => panic!("{other:?}"),
            },
            Err(e) => panic!("{e}"),
        }
    }

    /// The entities the record about `subject` should reach now, beyond the subject itself.
    fn expected_links(&self, subject: &Subject) -> BTreeSet<Subject> {
        match subject {
            Subject::Person { id_number } => self
                .fake
                .companies_represented_by(id_number)
                .into_iter()
                .chain(
                    self.model
                        .registered
                        .iter()
                        .filter(|(_, rep)| *rep == id_number)
                        .map(|(code, _)| code.clone()),
                )
                .map(|credit_code| Subject::Company { credit_code })
                .collect(),
            Subject::Company { credit_code } => self
                .fake
                .representative_of(credit_code)
                .into_iter()
                .chain(self.model.registered.get(credit_code).cloned())
                .map(|id_number| Subject::Person { id_number })
                .collect(),
        }
    }

    fn check_recorded(&mut self, subject: &Subject, out: &Outcome) {
        let Outcome::CreditRecorded {
            event,
            deliveries,
            undelivered,
            ..
        } = out
        else {
            panic!("{out:?}")
        };
        let links = self.expected_links(subject);
        let mut expected = links.clone();
        expected.insert(subject.clone());
        let delivered: BTreeSet<Subject> = deliveries.iter().map(|d| d.entity.clone()).collect();
        let missed: BTreeSet<Subject> = undelivered.iter().cloned().collect();
        assert_eq!(
            missed.len(),
            undelivered.len(),
            "undelivered repeats an entity"
        );
        assert!(delivered.is_disjoint(&missed));
        assert_eq!(
            &delivered | &missed,
            expected,
            "deliveries and undelivered cover the subject and its links"
        );
        assert!(delivered.iter().all(is_valid) && missed.iter().all(|s| !is_valid(s)));
        for entity in &delivered {
            let to: Vec<_> = deliveries.iter().filter(|d| &d.entity == entity).collect();
            assert_eq!(
                to.iter().map(|d| d.receiver).collect::<BTreeSet<_>>(),
                CreditReceiver::ALL.into_iter().collect(),
                "{entity:?} goes to every receiving body once"
            );
            assert_eq!(to.len(), CreditReceiver::ALL.len());
            let link = if entity == subject {
                CreditLink::Direct
            } else if matches!(subject, Subject::Person { .. }) {
                CreditLink::RepresentedCompany
            } else {
                CreditLink::LegalRepresentative
            };
            assert!(
                to.iter()
                    .all(|d| d.link == link && !d.revoke && d.event == *event)
            );
            let stands = self.credit(entity);
            assert!(stands.iter().any(|e| e.event == *event && e.link == link));
        }
        for d in deliveries {
            assert!(
                d.delivery > self.model.max_delivery,
                "delivery ids are fresh"
            );
            self.model.max_delivery = d.delivery;
        }
        self.model.deliveries.insert(*event, deliveries.clone());
    }

    fn check_revoked(&mut self, event: u64, revokes: &[CreditDelivery]) {
        let earlier: Vec<(Subject, CreditLink, CreditReceiver)> = self.model.deliveries[&event]
            .iter()
            .filter(|d| !d.revoke)
            .map(|d| (d.entity.clone(), d.link, d.receiver))
            .collect();
        let mut got: Vec<_> = revokes
            .iter()
            .map(|d| (d.entity.clone(), d.link, d.receiver))
            .collect();
        let mut want = earlier;
        got.sort();
        want.sort();
        assert_eq!(got, want, "a revoke for every earlier delivery");
        for d in revokes {
            assert!(d.revoke && d.event == event);
            assert!(
                d.delivery > self.model.max_delivery,
                "delivery ids are fresh"
            );
            self.model.max_delivery = d.delivery;
        }
        self.model.revoked.insert(event);
        self.model
            .deliveries
            .get_mut(&event)
            .unwrap()
            .extend(revokes.iter().cloned());
        for entity in all_entities() {
            let entries = self.credit(&entity);
            assert!(
                entries
                    .iter()
                    .all(|e| !self.model.revoked.contains(&e.event)),
                "revoked event still stands on {entity:?}"
            );
        }
    }

    fn take_tasks(&mut self, case: u64, tasks: &[CaseTask]) {
        for t in tasks {
            assert_eq!(t.case, case);
            let old = self.model.tasks.insert(t.task, (case, t.agency));
            assert!(old.is_none_or(|o| o == (case, t.agency)));
            self.model
                .case_tasks
                .entry(case)
                .or_default()
                .insert(t.task);
        }
        // One task per agency on a case.
        let agencies: Vec<Agency> = self.model.case_tasks[&case]
            .iter()
            .map(|t| self.model.tasks[t].1)
            .collect();
        let distinct: BTreeSet<_> = agencies.iter().collect();
        assert_eq!(distinct.len(), agencies.len());
    }

    /// Learn from a new (not repeated) command's outcomes, checking each.
    fn absorb(&mut self, op: &Op, out: &[Outcome]) {
        for o in out {
            match o {
                Outcome::CaseOpened { case, tasks, .. } => {
                    if let Op::Open { street, .. } = op {
                        self.model.case_street.insert(*case, *street);
                    }
                    self.take_tasks(*case, tasks);
                }
                Outcome::CaseReassessed { case, tasks, .. } => self.take_tasks(*case, tasks),
                Outcome::CaseActionRecorded { task, .. } => {
                    assert!(self.model.done.insert(*task), "a task done twice");
                }
                Outcome::CaseClosed { case, .. } => {
                    let missing: Vec<_> = self.model.case_tasks[case]
                        .difference(&self.model.done)
                        .collect();
                    assert!(missing.is_empty(), "case {case} closed missing {missing:?}");
                    let view = self.view(*case);
                    assert!(view.tasks.iter().all(|t| t.done_at.is_some()));
                    assert!(self.model.closed.insert(*case));
                }
                Outcome::CreditRecorded { .. } => {
                    let subject = match op {
                        Op::Credit { person, index, .. } => subject(*person, *index),
                        Op::Premises { .. } => {
                            let Some(Outcome::PremisesChecked { task, .. }) = out.first() else {
                                panic!("{out:?}")
                            };
                            Subject::Company {
                                credit_code: self.model.supervision[task].clone(),
                            }
                        }
                        other => panic!("credit recorded by {other:?}"),
                    };
                    self.check_recorded(&subject, o);
                }
                Outcome::CreditRevoked { event, deliveries } => {
                    self.check_revoked(*event, deliveries)
                }
                Outcome::RegistrationChecked { task, .. } => {
                    let Op::Register { code, rep, .. } = op else {
                        panic!()
                    };
                    let (code, rep) = (companies()[*code].clone(), persons()[*rep].clone());
                    if let Some(task) = task {
                        self.model.supervision.insert(*task, code.clone());
                    }
                    assert!(self.model.registered.insert(code, rep).is_none());
                }
                Outcome::CareEnrolled { care, .. } => {
                    assert!(self.model.care.insert(*care));
                }
                Outcome::CareVisitRecorded {
                    service: Some(s), ..
                } => {
                    assert!(self.model.services.insert(*s));
                }
                _ => {}
            }
        }
    }
}

fn subject(person: bool, index: usize) -> Subject {
    if person {
        Subject::Person {
            id_number: persons()[index].clone(),
        }
    } else {
        Subject::Company {
            credit_code: companies()[index].clone(),
        }
    }
}

fn command(run: &Run, op: &Op) -> (Actor, Command, Option<(&'static str, u64)>) {
    let role = |role, person| Actor {
        role,
        person: PersonId(person),
    };
    let carer = |who: u8| role(Role::CareWorker, 60 + u32::from(who));
    match op {
        Op::Open {
            case_ref,
            source,
            kind,
            street,
            features,
        } => (
            match source {
                CaseSource::PoliceCall => role(Role::Dispatcher, 3),
                CaseSource::Inspector => role(Role::Inspector, 5),
                CaseSource::Community => role(Role::Caseworker, 49 + street),
            },
            Command::OpenCase {
                case_ref: *case_ref,
                source: *source,
                kind: *kind,
                grid: street * 10,
                street: *street,
                x_m: 1.0,
                y_m: 2.0,
                features: *features,
                observed_at: 0,
            },
            Some(("open", *case_ref)),
        ),
        Op::Act {
            task,
            who,
            findings,
        } => {
            let task = &run.model.task(*task);
            let actor = match (who, run.model.tasks.get(task)) {
                (None, Some(&(case, agency))) => role(
                    Role::Caseworker,
                    worker_for(agency, run.model.case_street[&case]),
                ),
                (who, _) => someone(who.unwrap_or(0)),
            };
            (
                actor,
                Command::RecordCaseAction {
                    task: *task,
                    findings: *findings,
                },
                None,
            )
        }
        Op::Close {
            case,
            who,
            satisfaction,
        } => {
            let case = &run.model.case(*case);
            let actor = match (who, run.model.case_street.get(case)) {
                (None, Some(&street)) => {
                    role(Role::Caseworker, worker_for(Agency::Community, street))
                }
                (who, _) => someone(who.unwrap_or(0)),
            };
            (
                actor,
                Command::CloseCase {
                    case: *case,
                    evaluation: CaseEvaluation {
                        settled: satisfaction % 2 == 0,
                        satisfaction: *satisfaction,
                    },
                },
                None,
            )
        }
        Op::QueryCase { case, who } => (
            if *who == 10 {
                Run::auditor()
            } else {
                someone(*who)
            },
            Command::QueryCase { case: *case },
            None,
        ),
        Op::Credit {
            event_ref,
            person,
            index,
            kind,
        } => (
            role(Role::Department, 4),
            Command::RecordCreditEvent {
                event_ref: *event_ref,
                subject: subject(*person, *index),
                kind: *kind,
                source: CreditSource::Court,
                observed_at: 0,
            },
            Some(("credit", *event_ref)),
        ),
        Op::Ack { delivery } => (
            role(Role::Department, 4),
            Command::AcknowledgeCredit {
                delivery: pick(
                    1..=run.model.max_delivery,
                    *delivery,
                    run.model.max_delivery + 1,
                ),
            },
            None,
        ),
        Op::Appeal { event, upheld } => (
            role(Role::Reviewer, 6),
            Command::AppealCredit {
                event: pick(
                    run.model.deliveries.keys().copied(),
                    *event,
                    run.model.deliveries.len() as u64 + 1,
                ),
                upheld: *upheld,
            },
            None,
        ),
        Op::Register {
            registration_ref,
            code,
            rep,
            address,
            scope,
        } => (
            role(Role::Department, 4),
            Command::RegisterCompany {
                registration_ref: *registration_ref,
                name: format!("Company {registration_ref}"),
                credit_code: companies()[*code].clone(),
                legal_representative_id: persons()[*rep].clone(),
                address: ADDRESSES[*address].into(),
                scope: *scope,
                observed_at: 0,
            },
            Some(("register", *registration_ref)),
        ),
        Op::Premises {
            task,
            place_exists,
            business_present,
        } => (
            role(Role::Inspector, 5),
            Command::ReportPremises {
                task: pick(
                    run.model.supervision.keys().copied(),
                    *task,
                    run.model.supervision.len() as u64 + 1,
                ),
                finding: PremisesFinding {
                    place_exists: *place_exists,
                    business_present: *business_present,
                },
            },
            None,
        ),
        Op::Trading {
            report_ref,
            address,
        } => (
            role(Role::Inspector, 5),
            Command::ReportTrading {
                report_ref: *report_ref,
                address: ADDRESSES[*address].into(),
            },
            Some(("trading", *report_ref)),
        ),
        Op::Enrol {
            care_ref,
            who,
            community,
            interval_days,
        } => (
            carer(*who),
            Command::EnrolCare {
                care_ref: *care_ref,
                community: *community,
                category: CareCategory::ElderlyAlone,
                interval_days: *interval_days,
            },
            Some(("enrol", *care_ref)),
        ),
        Op::Visit {
            care,
            who,
            need_found,
        } => (
            carer(*who),
            Command::RecordCareVisit {
                care: pick(
                    run.model.care.iter().copied(),
                    *care,
                    run.model.care.len() as u64 + 1,
                ),
                need_found: *need_found,
            },
            None,
        ),
        Op::Complete { service, who } => (
            carer(*who),
            Command::CompleteCareService {
                service: pick(
                    run.model.services.iter().copied(),
                    *service,
                    run.model.services.len() as u64 + 1,
                ),
            },
            None,
        ),
        Op::ReloadDirectory => (
            role(Role::Admin, 1),
            Command::LoadCaseDirectory {
                directory: directory(),
            },
            None,
        ),
        Op::Advance => unreachable!(),
    }
}

fn is_lookup(c: &Command) -> bool {
    matches!(
        c,
        Command::QueryCase { .. }
            | Command::QueryCredit { .. }
            | Command::QueryCare { .. }
            | Command::QueryCareStats
            | Command::LoadCaseDirectory { .. }
    )
}

fn step(run: &mut Run, op: &Op) {
    if let Op::Advance = op {
        let out = run.svc.advance(run.now);
        let mut last = None;
        for o in &out {
            if let Outcome::CaseTaskOverdue { task, level, .. } = o {
                assert!(
                    last < Some((*task, *level)),
                    "overdue outcomes out of order"
                );
                last = Some((*task, *level));
                assert!(!run.model.done.contains(task), "a done task escalated");
                assert!(
                    run.model.escalated.insert((*task, *level)),
                    "task {task} escalated twice at {level:?}"
                );
            }
        }
        return;
    }
    let (actor, cmd, key) = command(run, op);
    let before = run.svc.clone();
    let result = run.send(actor, cmd.clone());
    match result {
        Err(e) => {
            assert!(run.svc == before, "refused {cmd:?} ({e}) changed the state");
        }
        Ok(out) => {
            if is_lookup(&cmd) {
                assert!(run.svc == before, "{} changed the state", cmd.kind());
            } else if let Some(first) = key.and_then(|k| run.model.answered.get(&k)) {
                assert_eq!(&out, first, "a repeat answers the first outcome");
                assert!(run.svc == before, "a repeated ref changed the state");
            } else {
                if let Some(k) = key {
                    run.model.answered.insert(k, out.clone());
                }
                run.absorb(op, &out);
            }
        }
    }
    for e in run.svc.take_escalations() {
        assert!(
            run.model.handed_over.insert(e.case),
            "case {} handed over twice",
            e.case
        );
        assert_eq!(e.at, run.now);
        assert_eq!(run.view(e.case).level, RiskLevel::Acute);
        run.svc.set_incident(e.case, 1_000 + e.case);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_command_sequences_keep_the_modules_promises(
        g in graph(),
        ops in prop::collection::vec((0..30u64, op()), 1..90),
    ) {
        let mut run = Run {
            svc: CasesService::default(),
            fake: Fake::new(&g),
            model: Model::default(),
            now: 0,
        };
        run.send(
            Actor { role: Role::Admin, person: PersonId(1) },
            Command::LoadCaseDirectory { directory: directory() },
        )
        .unwrap();
        for (dt, op) in &ops {
            run.now += dt * HOUR_MS;
            step(&mut run, op);
        }
        // At the end: no closed case lacks an action; every acute case was handed over; no
        // revoked record stands anywhere.
        let cases: Vec<u64> = run.model.case_street.keys().copied().collect();
        for case in cases {
            let view = run.view(case);
            if view.closed_at.is_some() {
                prop_assert!(view.tasks.iter().all(|t| t.done_at.is_some()));
            }
            prop_assert_eq!(
                view.level == RiskLevel::Acute,
                run.model.handed_over.contains(&case)
            );
            if view.level == RiskLevel::Acute {
                prop_assert_eq!(view.escalated_incident, Some(1_000 + case));
            }
        }
        for entity in all_entities() {
            for e in run.credit(&entity) {
                prop_assert!(!run.model.revoked.contains(&e.event));
            }
        }
    }
}

#[test]
fn the_generated_identifiers_pass_and_fail_block_datas_checks() {
    for p in &persons()[..VALID_PERSONS] {
        assert_eq!(baoan_block_data::validate_id_number(p), Ok(()), "{p}");
    }
    for p in &persons()[VALID_PERSONS..] {
        assert!(baoan_block_data::validate_id_number(p).is_err(), "{p}");
    }
    for c in &companies()[..VALID_COMPANIES] {
        assert_eq!(baoan_block_data::validate_credit_code(c), Ok(()), "{c}");
    }
    for c in &companies()[VALID_COMPANIES..] {
        assert!(baoan_block_data::validate_credit_code(c).is_err(), "{c}");
    }
    let distinct: BTreeSet<_> = persons().into_iter().chain(companies()).collect();
    assert_eq!(distinct.len(), persons().len() + companies().len());
}
