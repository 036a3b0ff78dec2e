use std::collections::BTreeMap;

use baoan_api::cases::*;
use baoan_api::{Actor, ApiError, Command, Envelope, EscalationLevel, Outcome, PersonId, Role};
use baoan_block_data::checks::{complete_credit_code, complete_id_number};

use super::*;

const H: u64 = HOUR_MS;
const D: u64 = DAY_MS;

fn actor(role: Role, person: u32) -> Actor {
    Actor {
        role,
        person: PersonId(person),
    }
}
fn admin() -> Actor {
    actor(Role::Admin, 1)
}
fn auditor() -> Actor {
    actor(Role::Auditor, 2)
}
fn dept() -> Actor {
    actor(Role::Department, 3)
}
fn cw(person: u32) -> Actor {
    actor(Role::Caseworker, person)
}
fn carer(person: u32) -> Actor {
    actor(Role::CareWorker, person)
}

// Case workers: police 10 (street 1), 11 (street 2); women's federation 20 (street 1);
// mediation 30 and court 40 (whole district); community 50 (street 1), 51 (street 2).
const POLICE: u32 = 10;
const POLICE_S2: u32 = 11;
const WOMENS: u32 = 20;
const MEDIATION: u32 = 30;
const COURT: u32 = 40;
const COMMUNITY: u32 = 50;
const COMMUNITY_S2: u32 = 51;

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
            w(POLICE, Agency::Police, Some(1)),
            w(POLICE_S2, Agency::Police, Some(2)),
            w(WOMENS, Agency::WomensFederation, Some(1)),
            w(MEDIATION, Agency::Mediation, None),
            w(COURT, Agency::Court, None),
            w(COMMUNITY, Agency::Community, Some(1)),
            w(COMMUNITY_S2, Agency::Community, Some(2)),
        ],
        care_workers: vec![c(61, 100, 1), c(60, 100, 1), c(62, 200, 2)],
    }
}

fn pid(n: u32) -> String {
    complete_id_number(&format!("44030619900101{:03}", n % 1000)).unwrap()
}
fn code(n: u32) -> String {
    complete_credit_code(&format!("91440300MA{:06}", n)).unwrap()
}
/// The identifier with its last check character altered.
fn typo(s: &str) -> String {
    let mut s = s.to_owned();
    let last = s.pop().unwrap();
    s.push(if last == '0' { '1' } else { '0' });
    s
}
fn person(id: &str) -> Subject {
    Subject::Person {
        id_number: id.into(),
    }
}
fn company(c: &str) -> Subject {
    Subject::Company {
        credit_code: c.into(),
    }
}

#[derive(Default)]
struct Fake {
    addresses: BTreeMap<String, AddressCheck>,
    companies: BTreeMap<String, Vec<String>>,
    reps: BTreeMap<String, String>,
}

impl Registry for Fake {
    fn check_address(&self, address: &str) -> AddressCheck {
        self.addresses.get(address).copied().unwrap_or_default()
    }
    fn companies_represented_by(&self, id_number: &str) -> Vec<String> {
        self.companies.get(id_number).cloned().unwrap_or_default()
    }
    fn representative_of(&self, credit_code: &str) -> Option<String> {
        self.reps.get(credit_code).cloned()
    }
}

struct World {
    svc: CasesService,
    reg: Fake,
}

impl World {
    fn new() -> Self {
        Self::with(CasesConfig::default())
    }
    fn with(config: CasesConfig) -> Self {
        let mut w = World {
            svc: CasesService::new(config),
            reg: Fake::default(),
        };
        w.ok(
            admin(),
            0,
            Command::LoadCaseDirectory {
                directory: directory(),
            },
        );
        w
    }
    fn send(&mut self, actor: Actor, at: u64, command: Command) -> Result<Vec<Outcome>, ApiError> {
        self.svc.handle(
            &Envelope {
                actor,
                sent_at: at,
                command,
            },
            &self.reg,
        )
    }
    fn ok(&mut self, actor: Actor, at: u64, command: Command) -> Vec<Outcome> {
        self.send(actor, at, command).expect("command accepted")
    }
    /// Sends a command that must be refused, and checks that it changed nothing.
    fn refuse(&mut self, actor: Actor, at: u64, command: Command) -> ApiError {
        let before = self.svc.clone();
        let stats = self.svc.stats();
        let err = self.send(actor, at, command).expect_err("command refused");
        assert_eq!(self.svc.stats(), stats);
        assert!(
            self.svc == before,
            "a refused command changed the state: {err}"
        );
        err
    }
    fn open(
        &mut self,
        at: u64,
        case_ref: u64,
        kind: DisputeKind,
        street: u32,
        f: DisputeFeatures,
    ) -> (u64, Vec<CaseTask>) {
        match self
            .ok(cw(COMMUNITY), at, open_cmd(case_ref, kind, street, f))
            .remove(0)
        {
            Outcome::CaseOpened { case, tasks, .. } => (case, tasks),
            other => panic!("{other:?}"),
        }
    }
    fn view(&mut self, case: u64) -> CaseView {
        match self.ok(auditor(), 0, Command::QueryCase { case }).remove(0) {
            Outcome::CaseAnswered { view } => view,
            other => panic!("{other:?}"),
        }
    }
    fn credit(&mut self, subject: &Subject) -> Vec<CreditEntry> {
        match self
            .ok(
                auditor(),
                0,
                Command::QueryCredit {
                    subject: subject.clone(),
                },
            )
            .remove(0)
        {
            Outcome::CreditAnswered { entries, .. } => entries,
            other => panic!("{other:?}"),
        }
    }
}

fn open_cmd(case_ref: u64, kind: DisputeKind, street: u32, features: DisputeFeatures) -> Command {
    Command::OpenCase {
        case_ref,
        source: CaseSource::Community,
        kind,
        grid: 7,
        street,
        x_m: 100.0,
        y_m: 200.0,
        features,
        observed_at: 0,
    }
}

fn act(task: u64, findings: Option<DisputeFeatures>) -> Command {
    Command::RecordCaseAction { task, findings }
}

fn close(case: u64, satisfaction: u8) -> Command {
    Command::CloseCase {
        case,
        evaluation: CaseEvaluation {
            settled: true,
            satisfaction,
        },
    }
}

fn low() -> DisputeFeatures {
    DisputeFeatures::default()
}
/// Violence and fear: 6 points.
fn medium() -> DisputeFeatures {
    DisputeFeatures {
        violence: true,
        afraid: true,
        ..low()
    }
}
/// Strangulation, violence, separation, children: 14 points.
fn high() -> DisputeFeatures {
    DisputeFeatures {
        strangulation: true,
        violence: true,
        separation: true,
        children: true,
        ..low()
    }
}
/// A weapon and threats to kill: 10 points, acute by rule.
fn acute() -> DisputeFeatures {
    DisputeFeatures {
        weapon: true,
        threats_to_kill: true,
        ..low()
    }
}

// ------------------------------------------------------------------------------------------------
// Scoring and levels
// ------------------------------------------------------------------------------------------------

#[test]
fn each_checklist_answer_scores_its_weight_and_prior_incidents_are_capped() {
    let c = CasesConfig::default();
    let one = |f: fn(&mut DisputeFeatures)| {
        let mut x = low();
        f(&mut x);
        c.score(&x)
    };
    assert_eq!(c.score(&low()), 0);
    assert_eq!(one(|f| f.violence = true), 4);
    assert_eq!(one(|f| f.threats_to_kill = true), 5);
    assert_eq!(one(|f| f.weapon = true), 5);
    assert_eq!(one(|f| f.strangulation = true), 6);
    assert_eq!(one(|f| f.separation = true), 3);
    assert_eq!(one(|f| f.children = true), 1);
    assert_eq!(one(|f| f.alcohol_or_drugs = true), 2);
    assert_eq!(one(|f| f.escalating = true), 3);
    assert_eq!(one(|f| f.afraid = true), 2);
    assert_eq!(one(|f| f.prior_incidents = 3), 6);
    assert_eq!(one(|f| f.prior_incidents = 5), 10);
    assert_eq!(one(|f| f.prior_incidents = 200), 10);
    let all = DisputeFeatures {
        prior_incidents: 9,
        violence: true,
        threats_to_kill: true,
        weapon: true,
        strangulation: true,
        separation: true,
        children: true,
        alcohol_or_drugs: true,
        escalating: true,
        afraid: true,
    };
    assert_eq!(c.score(&all), 10 + 4 + 5 + 5 + 6 + 3 + 1 + 2 + 3 + 2);
}

#[test]
fn levels_change_exactly_at_the_cutoffs() {
    let c = CasesConfig::default();
    let f = low();
    let at = |s| c.level(s, &f);
    assert_eq!(at(0), RiskLevel::Low);
    assert_eq!(at(5), RiskLevel::Low);
    assert_eq!(at(6), RiskLevel::Medium);
    assert_eq!(at(13), RiskLevel::Medium);
    assert_eq!(at(14), RiskLevel::High);
    assert_eq!(at(23), RiskLevel::High);
    assert_eq!(at(24), RiskLevel::Acute);
    assert_eq!(c.assess(&medium()), (6, RiskLevel::Medium));
    assert_eq!(c.assess(&high()), (14, RiskLevel::High));
    // A weapon with threats to kill is acute at only 10 points; either alone is not.
    assert_eq!(c.assess(&acute()), (10, RiskLevel::Acute));
    let weapon_only = DisputeFeatures {
        weapon: true,
        ..low()
    };
    assert_eq!(c.assess(&weapon_only), (5, RiskLevel::Low));
    let mut no_rule = c.clone();
    no_rule.cutoffs.acute_on_weapon_and_threats = false;
    assert_eq!(no_rule.assess(&acute()), (10, RiskLevel::Medium));
}

// ------------------------------------------------------------------------------------------------
// Required actions, joint visits
// ------------------------------------------------------------------------------------------------

#[test]
fn each_level_and_kind_requires_its_agencies_with_their_deadlines() {
    use Agency::*;
    use DisputeKind::*;
    use RiskLevel::*;
    let c = CasesConfig::default();
    for kind in [Domestic, Family, Neighbour] {
        assert_eq!(
            c.required(Low, kind),
            vec![(Mediation, 336), (Community, 168)]
        );
    }
    assert_eq!(
        c.required(Medium, Domestic),
        vec![
            (Police, 72),
            (WomensFederation, 168),
            (Mediation, 168),
            (Community, 72)
        ]
    );
    for kind in [Family, Neighbour] {
        assert_eq!(
            c.required(Medium, kind),
            vec![(Police, 72), (Mediation, 168), (Community, 72)]
        );
    }
    for kind in [Domestic, Family] {
        assert_eq!(
            c.required(High, kind),
            vec![
                (Police, 24),
                (WomensFederation, 48),
                (Mediation, 72),
                (Court, 72),
                (Community, 24)
            ]
        );
        assert_eq!(
            c.required(Acute, kind),
            vec![
                (Police, 2),
                (WomensFederation, 24),
                (Mediation, 72),
                (Court, 24),
                (Community, 24)
            ]
        );
    }
    assert_eq!(
        c.required(High, Neighbour),
        vec![(Police, 24), (Mediation, 72), (Community, 24)]
    );
    assert_eq!(
        c.required(Acute, Neighbour),
        vec![(Police, 2), (Mediation, 72), (Community, 24)]
    );
    // Neighbour disputes never reach the women's federation or the court.
    for level in RiskLevel::ALL {
        assert!(
            c.required(level, Neighbour)
                .iter()
                .all(|(a, _)| !matches!(a, WomensFederation | Court))
        );
    }
}

#[test]
fn household_visits_issued_together_share_one_joint_visit_and_the_earliest_deadline() {
    let mut w = World::new();
    let t0 = 1_000;
    let (case, tasks) = w.open(t0, 1, DisputeKind::Domestic, 1, acute());
    assert_eq!(case, 1);
    let by: BTreeMap<Agency, &CaseTask> = tasks.iter().map(|t| (t.agency, t)).collect();
    assert_eq!(tasks.len(), 5);
    assert_eq!(
        tasks.iter().map(|t| t.task).collect::<Vec<_>>(),
        vec![1, 2, 3, 4, 5]
    );
    let joint = by[&Agency::Police].joint_visit;
    assert!(joint.is_some());
    for visit in [Agency::Police, Agency::WomensFederation, Agency::Community] {
        assert_eq!(by[&visit].joint_visit, joint, "{visit:?}");
        assert_eq!(by[&visit].due_at, t0 + 2 * H, "{visit:?}");
    }
    assert_eq!(by[&Agency::Court].joint_visit, None);
    assert_eq!(by[&Agency::Court].due_at, t0 + 24 * H);
    assert_eq!(by[&Agency::Mediation].due_at, t0 + 72 * H);

    // A second case's visits form a joint visit of their own.
    let (_, tasks) = w.open(t0, 2, DisputeKind::Neighbour, 1, medium());
    let second: Vec<_> = tasks.iter().filter_map(|t| t.joint_visit).collect();
    assert_eq!(second.len(), 2);
    assert_ne!(Some(second[0]), joint);
    assert!(tasks.iter().all(|t| t.case == 2));
    assert_eq!(tasks[0].task, 6);

    // A single household visit is not a joint visit.
    let (_, tasks) = w.open(t0, 3, DisputeKind::Family, 1, low());
    assert!(tasks.iter().all(|t| t.joint_visit.is_none()));
    let community = tasks
        .iter()
        .find(|t| t.agency == Agency::Community)
        .unwrap();
    assert_eq!(community.due_at, t0 + 168 * H);
}

// ------------------------------------------------------------------------------------------------
// Reassessment
// ------------------------------------------------------------------------------------------------

#[test]
fn a_visit_raising_the_level_adds_missing_agencies_and_moves_deadlines_earlier() {
    let mut w = World::new();
    let (case, tasks) = w.open(0, 1, DisputeKind::Neighbour, 1, low());
    assert_eq!(
        tasks.iter().map(|t| (t.task, t.agency)).collect::<Vec<_>>(),
        vec![(1, Agency::Mediation), (2, Agency::Community)]
    );
    let out = w.ok(cw(COMMUNITY), 10 * H, act(2, Some(high())));
    assert_eq!(
        out,
        vec![
            Outcome::CaseActionRecorded {
                task: 2,
                case,
                agency: Agency::Community,
                on_time: true
            },
            Outcome::CaseReassessed {
                case,
                score: 14,
                level: RiskLevel::High,
                tasks: vec![
                    CaseTask {
                        task: 1,
                        case,
                        agency: Agency::Mediation,
                        due_at: 82 * H,
                        joint_visit: None
                    },
                    CaseTask {
                        task: 3,
                        case,
                        agency: Agency::Police,
                        due_at: 34 * H,
                        joint_visit: None
                    },
                ],
            }
        ]
    );
    // The overdue clock follows the moved deadline (82 h, allowed 72 h from the reassessment),
    // not the original 336 h.
    assert_eq!(w.svc.advance(34 * H), vec![]);
    let overdue = |task, agency, level| Outcome::CaseTaskOverdue {
        task,
        case,
        agency,
        level,
    };
    assert_eq!(
        w.svc.advance(34 * H + 1),
        vec![overdue(3, Agency::Police, EscalationLevel::Street)]
    );
    assert_eq!(
        w.svc.advance(46 * H + 1),
        vec![overdue(3, Agency::Police, EscalationLevel::District)]
    );
    assert_eq!(
        w.svc.advance(82 * H + 1),
        vec![overdue(1, Agency::Mediation, EscalationLevel::Street)]
    );
    assert_eq!(w.svc.advance(118 * H), vec![]);
    assert_eq!(
        w.svc.advance(118 * H + 1),
        vec![overdue(1, Agency::Mediation, EscalationLevel::District)]
    );
    assert_eq!(w.svc.advance(1_000 * H), vec![]);
}

#[test]
fn a_joint_visit_moves_as_one_and_the_level_never_falls() {
    let mut w = World::new();
    let (case, tasks) = w.open(0, 1, DisputeKind::Domestic, 1, medium());
    let j = tasks[0].joint_visit;
    assert!(j.is_some());
    assert_eq!(
        tasks
            .iter()
            .map(|t| (t.agency, t.due_at, t.joint_visit))
            .collect::<Vec<_>>(),
        vec![
            (Agency::Police, 72 * H, j),
            (Agency::WomensFederation, 72 * H, j),
            (Agency::Mediation, 168 * H, None),
            (Agency::Community, 72 * H, j),
        ]
    );
    // Mediation's visit finds high risk: the women's federation's own deadline would be
    // 10 + 48 h, but it visits with the police and community, due at 10 + 24 h.
    let out = w.ok(cw(MEDIATION), 10 * H, act(3, Some(high())));
    let Outcome::CaseReassessed { tasks, level, .. } = &out[1] else {
        panic!("{out:?}")
    };
    assert_eq!(*level, RiskLevel::High);
    assert_eq!(
        tasks
            .iter()
            .map(|t| (t.task, t.agency, t.due_at, t.joint_visit))
            .collect::<Vec<_>>(),
        vec![
            (1, Agency::Police, 34 * H, j),
            (2, Agency::WomensFederation, 34 * H, j),
            (4, Agency::Community, 34 * H, j),
            (5, Agency::Court, 82 * H, None),
        ]
    );
    // Lower findings later change nothing: no reassessment, the level stays high.
    let out = w.ok(cw(POLICE), 11 * H, act(1, Some(low())));
    assert_eq!(out.len(), 1);
    let v = w.view(case);
    assert_eq!((v.level, v.score), (RiskLevel::High, 14));
    // Findings at the same level: no reassessment either.
    let out = w.ok(cw(WOMENS), 11 * H, act(2, Some(high())));
    assert_eq!(out.len(), 1);
    assert!(w.svc.take_escalations().is_empty());
}

#[test]
fn turning_acute_queues_one_escalation_per_case_and_the_incident_shows_in_the_view() {
    let mut w = World::new();
    let (a, _) = w.open(5, 1, DisputeKind::Domestic, 1, acute());
    let esc = w.svc.take_escalations();
    assert_eq!(
        esc,
        vec![Escalation {
            case: a,
            grid: 7,
            x_m: 100.0,
            y_m: 200.0,
            at: 5
        }]
    );
    assert_eq!(esc[0].incident_ref(), CASE_REF_BASE + a);
    assert!(w.svc.take_escalations().is_empty());
    w.svc.set_incident(a, 77);
    assert_eq!(w.view(a).escalated_incident, Some(77));

    // Low, then acute on a visit: one escalation, with the police due 2 h from the visit.
    let (b, tasks) = w.open(0, 2, DisputeKind::Neighbour, 1, low());
    let community = tasks
        .iter()
        .find(|t| t.agency == Agency::Community)
        .unwrap();
    let out = w.ok(cw(COMMUNITY), 3 * H, act(community.task, Some(acute())));
    let Outcome::CaseReassessed { tasks, level, .. } = &out[1] else {
        panic!("{out:?}")
    };
    assert_eq!(*level, RiskLevel::Acute);
    let police = tasks.iter().find(|t| t.agency == Agency::Police).unwrap();
    assert_eq!(police.due_at, 5 * H);
    let esc = w.svc.take_escalations();
    assert_eq!(esc.len(), 1);
    assert_eq!((esc[0].case, esc[0].at), (b, 3 * H));
    // Nothing more once acute.
    let mediation = tasks
        .iter()
        .find(|t| t.agency == Agency::Mediation)
        .unwrap();
    w.ok(cw(MEDIATION), 4 * H, act(mediation.task, Some(acute())));
    assert!(w.svc.take_escalations().is_empty());
    assert_eq!(w.svc.stats().cases_escalated, 2);
}

// ------------------------------------------------------------------------------------------------
// Overdue escalation
// ------------------------------------------------------------------------------------------------

#[test]
fn overdue_tasks_escalate_once_per_level_in_task_order_and_done_tasks_never() {
    let mut w = World::new();
    // Tasks 1 (mediation, 336 h) and 2 (community, 168 h).
    w.open(0, 1, DisputeKind::Family, 1, low());
    // Tasks 3 (mediation) and 4 (community), opened later; 4 is done on time.
    w.open(H, 2, DisputeKind::Family, 1, low());
    w.ok(cw(COMMUNITY), 2 * H, act(4, None));
    assert_eq!(w.svc.advance(168 * H), vec![]);
    let out = w.svc.advance(168 * H + 1);
    assert_eq!(
        out,
        vec![Outcome::CaseTaskOverdue {
            task: 2,
            case: 1,
            agency: Agency::Community,
            level: EscalationLevel::Street
        }]
    );
    assert_eq!(w.svc.advance(168 * H + 2), vec![]);
    // Everything at once, far later: sorted by task, street before district, each once.
    let out = w.svc.advance(10_000 * H);
    let got: Vec<(u64, EscalationLevel)> = out
        .iter()
        .map(|o| match o {
            Outcome::CaseTaskOverdue { task, level, .. } => (*task, *level),
            other => panic!("{other:?}"),
        })
        .collect();
    use EscalationLevel::*;
    assert_eq!(
        got,
        vec![
            (1, Street),
            (1, District),
            (2, District),
            (3, Street),
            (3, District)
        ]
    );
    assert_eq!(w.svc.advance(20_000 * H), vec![]);
    // Late actions are recorded as late.
    let out = w.ok(cw(MEDIATION), 20_000 * H, act(1, None));
    assert_eq!(
        out,
        vec![Outcome::CaseActionRecorded {
            task: 1,
            case: 1,
            agency: Agency::Mediation,
            on_time: false
        }]
    );
    let s = w.svc.stats();
    assert_eq!(
        (s.case_tasks_overdue_street, s.case_tasks_overdue_district),
        (3, 3)
    );
}

// ------------------------------------------------------------------------------------------------
// Roles and the directory
// ------------------------------------------------------------------------------------------------

#[test]
fn nothing_but_loading_the_directory_is_taken_before_it_is_loaded() {
    let mut svc = CasesService::default();
    let env = |actor, command| Envelope {
        actor,
        sent_at: 0,
        command,
    };
    let err = svc
        .handle(
            &env(cw(COMMUNITY), open_cmd(1, DisputeKind::Family, 1, low())),
            &NoRegistry,
        )
        .unwrap_err();
    assert!(
        matches!(&err, ApiError::Refused { what, .. } if what == "case directory"),
        "{err:?}"
    );
    assert!(svc == CasesService::default());
    // Only admins load it, and it may be replaced.
    let load = Command::LoadCaseDirectory {
        directory: directory(),
    };
    assert!(matches!(
        svc.handle(&env(cw(COMMUNITY), load.clone()), &NoRegistry),
        Err(ApiError::Forbidden { .. })
    ));
    for _ in 0..2 {
        assert_eq!(
            svc.handle(&env(admin(), load.clone()), &NoRegistry),
            Ok(vec![Outcome::CaseDirectoryLoaded {
                case_workers: 7,
                care_workers: 3
            }])
        );
    }
    // A duplicated entry refuses the whole load, naming it.
    let mut bad = directory();
    bad.care_workers.push(bad.care_workers[0].clone());
    let before = svc.clone();
    let err = svc
        .handle(
            &env(admin(), Command::LoadCaseDirectory { directory: bad }),
            &NoRegistry,
        )
        .unwrap_err();
    assert!(
        matches!(&err, ApiError::Invalid { field, .. } if field == "directory.care_workers[3]"),
        "{err:?}"
    );
    assert!(svc == before);
}

#[test]
fn agency_workers_act_only_on_their_agencys_tasks_in_their_street() {
    let mut w = World::new();
    let (case, tasks) = w.open(0, 1, DisputeKind::Domestic, 1, high());
    let task = |a| tasks.iter().find(|t| t.agency == a).unwrap().task;
    // The role check comes first: an inspector may not record a case action at all.
    let err = w.refuse(
        actor(Role::Inspector, 5),
        H,
        act(task(Agency::Police), None),
    );
    assert!(matches!(err, ApiError::Forbidden { .. }));
    // The wrong street, the wrong agency, someone not in the directory.
    for who in [POLICE_S2, WOMENS, COURT, 999] {
        let err = w.refuse(cw(who), H, act(task(Agency::Police), None));
        assert!(
            matches!(&err, ApiError::Forbidden { allowed, .. } if allowed.contains("police")),
            "{err:?}"
        );
    }
    w.ok(cw(POLICE), H, act(task(Agency::Police), None));
    // District-wide workers serve every street.
    w.ok(cw(COURT), H, act(task(Agency::Court), None));
    // A case opened through the wrong role is refused by the role check.
    let err = w.refuse(
        cw(COMMUNITY),
        H,
        Command::OpenCase {
            case_ref: 9,
            source: CaseSource::PoliceCall,
            kind: DisputeKind::Family,
            grid: 0,
            street: 1,
            x_m: 0.0,
            y_m: 0.0,
            features: low(),
            observed_at: 0,
        },
    );
    assert!(matches!(err, ApiError::Forbidden { .. }));
    // Only the community's workers close, and only in their street.
    for who in [POLICE, COMMUNITY_S2, MEDIATION] {
        let err = w.refuse(cw(who), H, close(case, 4));
        assert!(matches!(err, ApiError::Forbidden { .. }), "{err:?}");
    }
}

#[test]
fn cases_are_read_by_auditors_and_by_workers_of_an_agency_on_the_case() {
    let mut w = World::new();
    let (case, _) = w.open(0, 1, DisputeKind::Neighbour, 1, low());
    assert_eq!(w.view(case).tasks.len(), 2);
    let q = Command::QueryCase { case };
    // Mediation has a task here; community serves street 1.
    w.ok(cw(MEDIATION), 0, q.clone());
    w.ok(cw(COMMUNITY), 0, q.clone());
    // The court and the police have no task on a low-risk case; street 2's community worker
    // does not serve street 1.
    for who in [COURT, POLICE, COMMUNITY_S2] {
        let err = w.refuse(cw(who), 0, q.clone());
        assert!(matches!(err, ApiError::Forbidden { .. }), "{who}: {err:?}");
    }
    // Analysts may not read cases.
    let err = w.refuse(actor(Role::Analyst, 4), 0, q.clone());
    assert!(matches!(err, ApiError::Forbidden { .. }));
    assert!(matches!(
        w.refuse(auditor(), 0, Command::QueryCase { case: 2 }),
        ApiError::NotFound { .. }
    ));
}

// ------------------------------------------------------------------------------------------------
// Closing, refusals, repeats
// ------------------------------------------------------------------------------------------------

#[test]
fn a_case_closes_only_when_every_required_action_is_done() {
    let mut w = World::new();
    let (case, tasks) = w.open(0, 1, DisputeKind::Family, 1, medium());
    w.ok(cw(POLICE), H, act(tasks[0].task, None));
    let err = w.refuse(cw(COMMUNITY), 2 * H, close(case, 4));
    match &err {
        ApiError::Refused { what, problem, .. } => {
            assert_eq!(what, "case");
            assert!(
                problem.contains("mediation") && problem.contains("community"),
                "{problem}"
            );
            assert!(!problem.contains("police"), "{problem}");
        }
        other => panic!("{other:?}"),
    }
    for t in &tasks[1..] {
        let who = match t.agency {
            Agency::Mediation => MEDIATION,
            Agency::Community => COMMUNITY,
            other => panic!("{other:?}"),
        };
        w.ok(cw(who), 2 * H, act(t.task, None));
    }
    for bad in [0, 6] {
        let err = w.refuse(cw(COMMUNITY), 3 * H, close(case, bad));
        assert!(
            matches!(&err, ApiError::Invalid { field, .. } if field == "evaluation.satisfaction"),
            "{err:?}"
        );
    }
    assert_eq!(
        w.ok(cw(COMMUNITY), 3 * H, close(case, 5)),
        vec![Outcome::CaseClosed { case, at: 3 * H }]
    );
    assert_eq!(w.view(case).closed_at, Some(3 * H));
    assert!(matches!(
        w.refuse(cw(COMMUNITY), 4 * H, close(case, 5)),
        ApiError::Refused { .. }
    ));
    let s = w.svc.stats();
    assert_eq!(
        (s.cases_closed, s.cases_settled, s.satisfaction_sum),
        (1, 1, 5)
    );
}

#[test]
fn refused_commands_change_nothing() {
    let mut w = World::new();
    w.reg.reps.insert(code(1), pid(1));
    let (case, tasks) = w.open(0, 1, DisputeKind::Domestic, 1, high());
    w.ok(cw(POLICE), H, act(tasks[0].task, None));
    let view = w.view(case);
    // A task done twice.
    let err = w.refuse(cw(POLICE), 2 * H, act(tasks[0].task, Some(acute())));
    assert!(matches!(err, ApiError::Refused { .. }), "{err:?}");
    // Unknown ids.
    assert!(matches!(
        w.refuse(cw(POLICE), 2 * H, act(99, None)),
        ApiError::NotFound { .. }
    ));
    assert!(matches!(
        w.refuse(cw(COMMUNITY), 2 * H, close(99, 3)),
        ApiError::NotFound { .. }
    ));
    // Bad fields.
    let mut bad = open_cmd(2, DisputeKind::Family, 1, low());
    if let Command::OpenCase { x_m, .. } = &mut bad {
        *x_m = f64::NAN;
    }
    assert!(matches!(
        w.refuse(cw(COMMUNITY), 2 * H, bad),
        ApiError::Invalid { field, .. } if field == "x_m"
    ));
    let mut late = open_cmd(2, DisputeKind::Family, 1, low());
    if let Command::OpenCase { observed_at, .. } = &mut late {
        *observed_at = 3 * H;
    }
    assert!(matches!(
        w.refuse(cw(COMMUNITY), 2 * H, late),
        ApiError::Invalid { field, .. } if field == "observed_at"
    ));
    let err = w.refuse(
        dept(),
        2 * H,
        Command::RecordCreditEvent {
            event_ref: 1,
            subject: person(&typo(&pid(1))),
            kind: CreditKind::Dishonesty,
            source: CreditSource::Court,
            observed_at: 0,
        },
    );
    match &err {
        ApiError::Invalid { field, problem } => {
            assert_eq!(field, "subject.id_number");
            assert!(
                problem.starts_with("expected an 18-character GB 11643 ID number"),
                "{problem}"
            );
        }
        other => panic!("{other:?}"),
    }
    let err = w.refuse(
        dept(),
        2 * H,
        Command::QueryCredit {
            subject: company("91440300"),
        },
    );
    assert!(matches!(&err, ApiError::Invalid { field, .. } if field == "subject.credit_code"));
    assert!(matches!(
        w.refuse(dept(), 2 * H, Command::AcknowledgeCredit { delivery: 1 }),
        ApiError::NotFound { .. }
    ));
    assert!(matches!(
        w.refuse(
            actor(Role::Reviewer, 8),
            2 * H,
            Command::AppealCredit {
                event: 1,
                upheld: true
            }
        ),
        ApiError::NotFound { .. }
    ));
    // Not a cases command.
    assert!(matches!(
        w.refuse(actor(Role::Analyst, 4), 2 * H, Command::QueryBacklog),
        ApiError::Invalid { field, .. } if field == "type"
    ));
    assert_eq!(w.view(case), view);
}

#[test]
fn repeated_refs_answer_the_first_outcome_and_change_nothing() {
    let mut w = World::new();
    let first = w.ok(cw(COMMUNITY), 0, open_cmd(1, DisputeKind::Family, 1, low()));
    let before = w.svc.clone();
    // Same ref, different content, later: the first answer.
    let again = w.ok(
        cw(COMMUNITY),
        5 * H,
        open_cmd(1, DisputeKind::Domestic, 2, acute()),
    );
    assert_eq!(again, first);
    assert!(w.svc == before);
    assert!(w.svc.take_escalations().is_empty());

    let event = |subject| Command::RecordCreditEvent {
        event_ref: 7,
        subject,
        kind: CreditKind::Trust,
        source: CreditSource::Court,
        observed_at: 0,
    };
    let first = w.ok(dept(), H, event(person(&pid(1))));
    let before = w.svc.clone();
    assert_eq!(w.ok(dept(), 2 * H, event(company(&code(2)))), first);
    assert!(w.svc == before);

    let enrol = |community, interval_days| Command::EnrolCare {
        care_ref: 3,
        community,
        category: CareCategory::ElderlyAlone,
        interval_days,
    };
    let first = w.ok(carer(60), H, enrol(100, 7));
    let before = w.svc.clone();
    assert_eq!(w.ok(carer(61), 2 * H, enrol(100, 30)), first);
    assert!(w.svc == before);
    // A worker of another community gets nothing back, not even the repeat.
    assert!(matches!(
        w.refuse(carer(62), 2 * H, enrol(200, 7)),
        ApiError::Forbidden { .. }
    ));
}

// ------------------------------------------------------------------------------------------------
// Credit
// ------------------------------------------------------------------------------------------------

#[test]
fn a_persons_record_reaches_their_companies_and_an_unreachable_link_is_reported() {
    let mut w = World::new();
    let (p1, c1, c3) = (pid(1), code(1), code(3));
    let bad_code = typo(&code(2));
    // Block data: p1 represents c1 (and c1 twice, and a mistyped code).
    w.reg
        .companies
        .insert(p1.clone(), vec![c1.clone(), bad_code.clone(), c1.clone()]);
    // This module: p1 also registered c3.
    w.ok(
        dept(),
        0,
        Command::RegisterCompany {
            registration_ref: 1,
            name: "Xin'an Trading".into(),
            credit_code: c3.clone(),
            legal_representative_id: p1.clone(),
            address: "nowhere".into(),
            scope: BusinessScope::Office,
            observed_at: 0,
        },
    );
    let out = w.ok(
        dept(),
        H,
        Command::RecordCreditEvent {
            event_ref: 10,
            subject: person(&p1),
            kind: CreditKind::Dishonesty,
            source: CreditSource::Court,
            observed_at: 0,
        },
    );
    let Outcome::CreditRecorded {
        event,
        event_ref,
        deliveries,
        undelivered,
    } = &out[0]
    else {
        panic!("{out:?}")
    };
    assert_eq!((*event, *event_ref), (1, 10));
    assert_eq!(undelivered, &vec![company(&bad_code)]);
    assert_eq!(deliveries.len(), 3 * 4);
    assert_eq!(
        deliveries.iter().map(|d| d.delivery).collect::<Vec<_>>(),
        (1..=12).collect::<Vec<_>>()
    );
    let mut cs = [c1.clone(), c3.clone()];
    cs.sort();
    let expected: Vec<(Subject, CreditLink, CreditReceiver)> = [(person(&p1), CreditLink::Direct)]
        .into_iter()
        .chain(
            cs.iter()
                .map(|c| (company(c), CreditLink::RepresentedCompany)),
        )
        .flat_map(|(e, l)| CreditReceiver::ALL.map(|r| (e.clone(), l, r)))
        .collect();
    assert_eq!(
        deliveries
            .iter()
            .map(|d| (d.entity.clone(), d.link, d.receiver))
            .collect::<Vec<_>>(),
        expected
    );
    assert!(deliveries.iter().all(|d| !d.revoke && d.due_at == 25 * H));
    assert_eq!(w.credit(&person(&p1))[0].link, CreditLink::Direct);
    assert_eq!(
        w.credit(&company(&c1))[0].link,
        CreditLink::RepresentedCompany
    );
    assert_eq!(
        w.credit(&company(&c3))[0].link,
        CreditLink::RepresentedCompany
    );
    assert_eq!(w.svc.stats().credit_undelivered, 1);
}

#[test]
fn a_companys_record_reaches_its_representatives_and_a_mistyped_one_is_undelivered() {
    let mut w = World::new();
    let (c1, c2) = (code(1), code(2));
    let typo_rep = typo(&pid(5));
    w.reg.reps.insert(c1.clone(), typo_rep.clone());
    w.reg.reps.insert(c2.clone(), pid(6));
    let record = |ref_, c: &str| Command::RecordCreditEvent {
        event_ref: ref_,
        subject: company(c),
        kind: CreditKind::Trust,
        source: CreditSource::Case,
        observed_at: 0,
    };
    let out = w.ok(dept(), 0, record(1, &c1));
    let Outcome::CreditRecorded {
        deliveries,
        undelivered,
        ..
    } = &out[0]
    else {
        panic!()
    };
    assert_eq!(undelivered, &vec![person(&typo_rep)]);
    assert_eq!(deliveries.len(), 4);
    assert!(deliveries.iter().all(|d| d.link == CreditLink::Direct));
    let out = w.ok(dept(), 0, record(2, &c2));
    let Outcome::CreditRecorded {
        deliveries,
        undelivered,
        ..
    } = &out[0]
    else {
        panic!()
    };
    assert!(undelivered.is_empty());
    assert_eq!(deliveries.len(), 8);
    assert!(
        deliveries[4..]
            .iter()
            .all(|d| d.entity == person(&pid(6)) && d.link == CreditLink::LegalRepresentative)
    );
    assert_eq!(
        w.credit(&person(&pid(6))),
        vec![CreditEntry {
            event: 2,
            event_ref: 2,
            kind: CreditKind::Trust,
            source: CreditSource::Case,
            link: CreditLink::LegalRepresentative,
            recorded_at: 0
        }]
    );
}

#[test]
fn acknowledgements_are_timed_once_and_repeats_answer_the_same() {
    let mut w = World::new();
    w.ok(
        dept(),
        0,
        Command::RecordCreditEvent {
            event_ref: 1,
            subject: person(&pid(1)),
            kind: CreditKind::Trust,
            source: CreditSource::Court,
            observed_at: 0,
        },
    );
    let ack = |delivery| Command::AcknowledgeCredit { delivery };
    let on_time = |delivery, on_time| vec![Outcome::CreditAcknowledged { delivery, on_time }];
    assert_eq!(w.ok(dept(), 24 * H, ack(1)), on_time(1, true));
    let before = w.svc.clone();
    assert_eq!(w.ok(dept(), 99 * H, ack(1)), on_time(1, true));
    assert!(w.svc == before);
    assert_eq!(w.ok(dept(), 24 * H + 1, ack(2)), on_time(2, false));
    let s = w.svc.stats();
    assert_eq!(
        (s.credit_acknowledged, s.credit_acknowledged_on_time),
        (2, 1)
    );
}

#[test]
fn an_upheld_appeal_removes_the_record_everywhere_and_revokes_every_delivery() {
    let mut w = World::new();
    let (p1, c1) = (pid(1), code(1));
    w.reg.companies.insert(p1.clone(), vec![c1.clone()]);
    let record = |event_ref| Command::RecordCreditEvent {
        event_ref,
        subject: person(&p1),
        kind: CreditKind::Dishonesty,
        source: CreditSource::Court,
        observed_at: 0,
    };
    let out = w.ok(dept(), 0, record(1));
    let Outcome::CreditRecorded { deliveries, .. } = out[0].clone() else {
        panic!()
    };
    w.ok(dept(), 0, record(2));
    let reviewer = actor(Role::Reviewer, 8);
    let appeal = |event, upheld| Command::AppealCredit { event, upheld };
    assert_eq!(
        w.ok(reviewer, H, appeal(1, false)),
        vec![Outcome::AppealDismissed { event: 1 }]
    );
    assert_eq!(w.credit(&company(&c1)).len(), 2);
    let out = w.ok(reviewer, 2 * H, appeal(1, true));
    let Outcome::CreditRevoked {
        event,
        deliveries: revokes,
    } = &out[0]
    else {
        panic!("{out:?}")
    };
    assert_eq!(*event, 1);
    assert_eq!(revokes.len(), deliveries.len());
    for (r, d) in revokes.iter().zip(&deliveries) {
        assert!(r.revoke);
        assert_eq!(
            (&r.entity, r.link, r.receiver, r.event),
            (&d.entity, d.link, d.receiver, 1)
        );
        assert_eq!(r.due_at, 26 * H);
        assert!(r.delivery > 16, "new ids after both events' deliveries");
    }
    // Event 2 still stands; event 1 stands nowhere.
    for s in [person(&p1), company(&c1)] {
        assert_eq!(
            w.credit(&s).iter().map(|e| e.event).collect::<Vec<_>>(),
            vec![2]
        );
    }
    assert!(matches!(
        w.refuse(reviewer, 3 * H, appeal(1, true)),
        ApiError::Refused { .. }
    ));
    assert!(matches!(
        w.refuse(reviewer, 3 * H, appeal(1, false)),
        ApiError::Refused { .. }
    ));
    // A revoke delivery is acknowledged like any other.
    let d = revokes[0].delivery;
    assert_eq!(
        w.ok(dept(), 3 * H, Command::AcknowledgeCredit { delivery: d }),
        vec![Outcome::CreditAcknowledged {
            delivery: d,
            on_time: true
        }]
    );
}

// ------------------------------------------------------------------------------------------------
// Business oversight
// ------------------------------------------------------------------------------------------------

fn register(n: u64, c: &str, rep: &str, address: &str, scope: BusinessScope) -> Command {
    Command::RegisterCompany {
        registration_ref: n,
        name: format!("Company {n}"),
        credit_code: c.into(),
        legal_representative_id: rep.into(),
        address: address.into(),
        scope,
        observed_at: 0,
    }
}

fn oversight_world() -> World {
    let mut w = World::with(CasesConfig {
        spot_check_share: 0.0,
        ..CasesConfig::default()
    });
    let place = |room, building, grid, residential, companies| AddressCheck {
        found: true,
        building: Some(building),
        room,
        grid: Some(grid),
        residential,
        companies_at_room: companies,
    };
    w.reg
        .addresses
        .insert("flat".into(), place(Some(7), 70, 3, true, 2));
    w.reg
        .addresses
        .insert("office".into(), place(Some(8), 80, 4, false, 0));
    w.reg
        .addresses
        .insert("office tower".into(), place(None, 80, 4, false, 0));
    w.reg
        .addresses
        .insert("empty shop".into(), place(Some(9), 90, 5, false, 0));
    w
}

fn decision(out: &[Outcome]) -> (RegistrationDecision, Option<u64>, Option<u32>, u32) {
    match &out[0] {
        Outcome::RegistrationChecked {
            decision,
            task,
            grid,
            check,
            ..
        } => (decision.clone(), *task, *grid, check.companies_at_room),
        other => panic!("{other:?}"),
    }
}

#[test]
fn registrations_are_flagged_for_their_reasons_counting_this_modules_own() {
    use FlagReason::*;
    let mut w = oversight_world();
    let flagged = |reasons: Vec<FlagReason>| RegistrationDecision::Flagged { reasons };
    let out = w.ok(
        dept(),
        0,
        register(1, &code(1), &pid(1), "flat", BusinessScope::Office),
    );
    assert_eq!(
        decision(&out),
        (RegistrationDecision::Approved, None, None, 2)
    );
    // Block data's two plus ours: the third company in a flat.
    let out = w.ok(
        dept(),
        0,
        register(2, &code(2), &pid(2), "flat", BusinessScope::Retail),
    );
    assert_eq!(
        decision(&out),
        (
            flagged(vec![ResidentialPremises, CrowdedRoom]),
            Some(1),
            Some(3),
            3
        )
    );
    let out = w.ok(
        dept(),
        0,
        register(
            3,
            &code(3),
            &pid(3),
            "unknown road 1",
            BusinessScope::Office,
        ),
    );
    assert_eq!(
        decision(&out),
        (flagged(vec![AddressNotFound]), Some(2), None, 0)
    );
    // The building-level count includes registrations in its rooms.
    w.ok(
        dept(),
        0,
        register(4, &code(4), &pid(4), "office", BusinessScope::Office),
    );
    let out = w.ok(
        dept(),
        0,
        register(5, &code(5), &pid(5), "office tower", BusinessScope::Office),
    );
    assert_eq!(
        decision(&out),
        (RegistrationDecision::Approved, None, None, 1)
    );
    // Field checks name the field.
    for (cmd, field) in [
        (
            register(9, &typo(&code(9)), &pid(9), "office", BusinessScope::Office),
            "credit_code",
        ),
        (
            register(9, &code(9), &typo(&pid(9)), "office", BusinessScope::Office),
            "legal_representative_id",
        ),
        (
            register(9, &code(9), &pid(9), "  ", BusinessScope::Office),
            "address",
        ),
    ] {
        let err = w.refuse(dept(), 0, cmd);
        assert!(
            matches!(&err, ApiError::Invalid { field: f, .. } if f == field),
            "{err:?}"
        );
    }
    // A credit code registers once.
    assert!(matches!(
        w.refuse(
            dept(),
            0,
            register(9, &code(1), &pid(9), "office", BusinessScope::Office)
        ),
        ApiError::Refused { .. }
    ));
    let s = w.svc.stats();
    assert_eq!((s.registrations, s.registrations_flagged), (5, 2));
}

#[test]
fn the_spot_check_draws_a_repeatable_share() {
    let c = CasesConfig::default();
    let drawn = (0..20_000u64).filter(|&r| c.spot_checked(r)).count();
    assert!((400..=800).contains(&drawn), "{drawn} of 20000 at 3%");
    assert_eq!(
        (0..1000u64)
            .filter(|&r| c.spot_checked(r))
            .collect::<Vec<_>>(),
        (0..1000u64)
            .filter(|&r| c.spot_checked(r))
            .collect::<Vec<_>>()
    );
    let mut always = c.clone();
    always.spot_check_share = 1.0;
    let mut w = World::with(always);
    w.reg.addresses = oversight_world().reg.addresses;
    let out = w.ok(
        dept(),
        0,
        register(1, &code(1), &pid(1), "office", BusinessScope::Office),
    );
    assert_eq!(
        decision(&out),
        (
            RegistrationDecision::Flagged {
                reasons: vec![FlagReason::SpotCheck]
            },
            Some(1),
            Some(4),
            0
        )
    );
}

#[test]
fn a_false_registration_makes_a_dishonesty_record_reaching_the_representative() {
    let mut w = oversight_world();
    let (c, rep) = (code(1), pid(1));
    w.ok(
        dept(),
        0,
        register(1, &c, &rep, "nowhere", BusinessScope::Office),
    );
    w.ok(
        dept(),
        0,
        register(2, &code(2), &pid(2), "nowhere 2", BusinessScope::Office),
    );
    w.ok(
        dept(),
        0,
        register(3, &code(3), &pid(3), "nowhere 3", BusinessScope::Office),
    );
    let inspector = actor(Role::Inspector, 9);
    let report = |task, place_exists, business_present| Command::ReportPremises {
        task,
        finding: PremisesFinding {
            place_exists,
            business_present,
        },
    };
    let out = w.ok(inspector, 2 * D, report(1, false, false));
    assert_eq!(out.len(), 2);
    assert_eq!(
        out[0],
        Outcome::PremisesChecked {
            task: 1,
            registration_ref: 1,
            verdict: SupervisionVerdict::FalseRegistration,
            credit_event: Some(1)
        }
    );
    let Outcome::CreditRecorded {
        event,
        event_ref,
        deliveries,
        undelivered,
    } = &out[1]
    else {
        panic!("{out:?}")
    };
    assert_eq!((*event, *event_ref), (1, OVERSIGHT_EVENT_REF_BASE + 1));
    assert!(undelivered.is_empty());
    assert_eq!(deliveries.len(), 8);
    assert_eq!(
        w.credit(&person(&rep))[0],
        CreditEntry {
            event: 1,
            event_ref: OVERSIGHT_EVENT_REF_BASE + 1,
            kind: CreditKind::Dishonesty,
            source: CreditSource::Oversight,
            link: CreditLink::LegalRepresentative,
            recorded_at: 2 * D
        }
    );
    assert!(matches!(
        w.refuse(inspector, 3 * D, report(1, true, true)),
        ApiError::Refused { .. }
    ));
    assert!(matches!(
        w.refuse(inspector, 3 * D, report(4, true, true)),
        ApiError::NotFound { .. }
    ));
    let verdict = |out: &[Outcome]| match &out[0] {
        Outcome::PremisesChecked {
            verdict,
            credit_event,
            ..
        } => (*verdict, *credit_event),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        verdict(&w.ok(inspector, 3 * D, report(2, true, false))),
        (SupervisionVerdict::AddressMisuse, None)
    );
    assert_eq!(
        verdict(&w.ok(inspector, 3 * D, report(3, true, true))),
        (SupervisionVerdict::Compliant, None)
    );
    assert_eq!(w.svc.stats().credit_events, 1);
}

#[test]
fn trading_where_no_company_is_registered_is_unlicensed() {
    let mut w = oversight_world();
    let inspector = actor(Role::Inspector, 9);
    let trading = |report_ref, address: &str| Command::ReportTrading {
        report_ref,
        address: address.into(),
    };
    let verdict = |v| {
        move |report_ref| {
            vec![Outcome::TradingChecked {
                report_ref,
                verdict: v,
            }]
        }
    };
    let compliant = verdict(SupervisionVerdict::Compliant);
    let unlicensed = verdict(SupervisionVerdict::UnlicensedTrading);
    assert_eq!(w.ok(inspector, 0, trading(1, "flat")), compliant(1));
    assert_eq!(w.ok(inspector, 0, trading(2, "office")), unlicensed(2));
    assert_eq!(w.ok(inspector, 0, trading(3, "nowhere")), unlicensed(3));
    w.ok(
        dept(),
        0,
        register(1, &code(1), &pid(1), "office", BusinessScope::Retail),
    );
    assert_eq!(w.ok(inspector, 0, trading(4, "office")), compliant(4));
    // The repeat answers the first verdict, though the office now has a company.
    assert_eq!(w.ok(inspector, 0, trading(2, "office")), unlicensed(2));
    assert_eq!(w.svc.stats().trading_reports, 4);
}

// ------------------------------------------------------------------------------------------------
// Care
// ------------------------------------------------------------------------------------------------

fn enrol(care_ref: u64, community: u32, interval_days: u16) -> Command {
    Command::EnrolCare {
        care_ref,
        community,
        category: CareCategory::Disability,
        interval_days,
    }
}

#[test]
fn care_goes_to_the_least_loaded_worker_of_the_community() {
    let mut w = World::new();
    let worker = |out: Vec<Outcome>| match &out[0] {
        Outcome::CareEnrolled { worker, .. } => worker.0,
        other => panic!("{other:?}"),
    };
    assert_eq!(worker(w.ok(carer(61), 0, enrol(1, 100, 7))), 60);
    assert_eq!(worker(w.ok(carer(61), 0, enrol(2, 100, 7))), 61);
    assert_eq!(worker(w.ok(carer(60), 0, enrol(3, 100, 7))), 60);
    assert_eq!(worker(w.ok(carer(62), 0, enrol(4, 200, 7))), 62);
    assert!(matches!(
        w.refuse(carer(62), 0, enrol(5, 100, 7)),
        ApiError::Forbidden { .. }
    ));
    for bad in [0, 91] {
        assert!(matches!(
            w.refuse(carer(60), 0, enrol(5, 100, bad)),
            ApiError::Invalid { field, .. } if field == "interval_days"
        ));
    }
    w.ok(carer(60), 0, enrol(5, 100, 90));
}

#[test]
fn care_visits_escalate_once_per_level_per_due_period_and_a_visit_clears_it() {
    let mut w = World::new();
    let out = w.ok(carer(60), 0, enrol(1, 100, 2));
    assert!(
        matches!(&out[0], Outcome::CareEnrolled { care: 1, next_due_at, .. } if *next_due_at == 2 * D)
    );
    let overdue = |level| vec![Outcome::CareVisitOverdue { care: 1, level }];
    assert_eq!(w.svc.advance(2 * D), vec![]);
    assert_eq!(w.svc.advance(2 * D + 1), overdue(EscalationLevel::Street));
    assert_eq!(w.svc.advance(3 * D), vec![]);
    assert_eq!(w.svc.advance(3 * D + 1), overdue(EscalationLevel::District));
    assert_eq!(w.svc.advance(9 * D), vec![]);
    assert_eq!(w.svc.stats().care.overdue_now, 1);
    // Any care worker of the community may visit; a late visit clears the escalation.
    let out = w.ok(
        carer(61),
        4 * D,
        Command::RecordCareVisit {
            care: 1,
            need_found: true,
        },
    );
    assert_eq!(
        out,
        vec![Outcome::CareVisitRecorded {
            care: 1,
            on_time: false,
            next_due_at: 6 * D,
            service: Some(1)
        }]
    );
    assert_eq!(w.svc.stats().care.overdue_now, 0);
    assert_eq!(w.svc.advance(6 * D), vec![]);
    assert_eq!(w.svc.advance(6 * D + 1), overdue(EscalationLevel::Street));
    let out = w.ok(
        carer(60),
        6 * D + 2,
        Command::RecordCareVisit {
            care: 1,
            need_found: false,
        },
    );
    assert!(matches!(
        &out[0],
        Outcome::CareVisitRecorded {
            on_time: false,
            service: None,
            ..
        }
    ));
    let s = w.svc.stats().care;
    assert_eq!(
        (
            s.enrolled,
            s.visits,
            s.visits_on_time,
            s.overdue_now,
            s.services_opened
        ),
        (1, 2, 0, 0, 1)
    );
}

#[test]
fn care_records_are_read_and_served_only_by_their_communitys_workers() {
    let mut w = World::new();
    w.ok(carer(60), 0, enrol(1, 100, 7));
    let visit = Command::RecordCareVisit {
        care: 1,
        need_found: true,
    };
    assert!(matches!(
        w.refuse(carer(62), D, visit.clone()),
        ApiError::Forbidden { .. }
    ));
    w.ok(carer(60), D, visit);
    let query = Command::QueryCare { care: 1 };
    for who in [carer(62), auditor(), actor(Role::Analyst, 4), cw(COMMUNITY)] {
        assert!(matches!(
            w.refuse(who, D, query.clone()),
            ApiError::Forbidden { .. }
        ));
    }
    let out = w.ok(carer(61), D, query.clone());
    let Outcome::CareAnswered { view } = &out[0] else {
        panic!()
    };
    assert_eq!(
        (
            view.visits,
            view.open_services,
            view.next_due_at,
            view.worker
        ),
        (1, 1, 8 * D, PersonId(60))
    );
    let complete = Command::CompleteCareService { service: 1 };
    assert!(matches!(
        w.refuse(carer(62), D, complete.clone()),
        ApiError::Forbidden { .. }
    ));
    assert_eq!(
        w.ok(carer(61), D, complete.clone()),
        vec![Outcome::CareServiceCompleted {
            service: 1,
            care: 1
        }]
    );
    assert!(matches!(
        w.refuse(carer(61), D, complete),
        ApiError::Refused { .. }
    ));
    assert!(matches!(
        w.refuse(carer(61), D, Command::CompleteCareService { service: 2 }),
        ApiError::NotFound { .. }
    ));
    // Counts only for analysts; care workers may not ask for them.
    let stats = Command::QueryCareStats;
    assert!(matches!(
        w.refuse(carer(60), D, stats.clone()),
        ApiError::Forbidden { .. }
    ));
    assert_eq!(
        w.ok(actor(Role::Analyst, 4), D, stats),
        vec![Outcome::CareStatsAnswered {
            stats: CareStats {
                enrolled: 1,
                visits: 1,
                visits_on_time: 1,
                overdue_now: 0,
                services_opened: 1,
                services_done: 1
            }
        }]
    );
}
