//! The commands the server routes, one `POST /{module}/{kind}` each, and an example of each for
//! the OpenAPI document (and for pointing at the field of a body that does not fit).
//!
//! The modules are the api's (`Module::ALL`). `baoan_api::Command` cannot be enumerated at run
//! time (its variants carry data), so the list of kinds is written out here; the tests check it
//! against an exhaustive `match` on `Command`, so a command added to the api breaks the build of
//! the tests until it is listed and has an example.

use baoan_api::blocks::{
    AddressLibraryData, BirthDate, BlockQuery, Feed, Finding, LibraryBuilding, LibraryCommunity,
    LibraryRoad, LibraryRoom, LibraryStreet, PersonRecord, Record, Sex,
};
use baoan_api::cases::{
    Agency, BusinessScope, CareCategory, CareWorkerEntry, CaseDirectory, CaseEvaluation,
    CaseSource, CaseWorkerEntry, CreditKind, CreditSource, DisputeFeatures, DisputeKind,
    PremisesFinding, Subject,
};
use baoan_api::{
    AlertId, Centre, Command, CommandDirectory, Department, Directory, GridEntry, IncidentId,
    IncidentSource, LeaderEntry, ListKind, MatchPolicy, Module, PersonId, ReportSource,
    ResolverEntry, RoadNetwork, Severity, Sighting, TaskId, UnitClass, UnitEntry, UnitId,
    WatchlistEntry,
};

/// Every command as `(module, kind)`: the server's routes are `POST /{module}/{kind}`.
pub const COMMAND_KINDS: &[(Module, &str)] = &[
    (Module::Grid, "load_directory"),
    (Module::Grid, "submit_report"),
    (Module::Grid, "accept_task"),
    (Module::Grid, "resolve_task"),
    (Module::Grid, "verify_task"),
    (Module::Grid, "reassign_task"),
    (Module::Grid, "query_assessment"),
    (Module::Grid, "query_backlog"),
    (Module::Command, "load_command_directory"),
    (Module::Command, "load_road_network"),
    (Module::Command, "report_incident"),
    (Module::Command, "unit_declined"),
    (Module::Command, "unit_arrived"),
    (Module::Command, "unit_cleared"),
    (Module::Command, "unit_available"),
    (Module::Command, "take_command"),
    (Module::Command, "close_incident"),
    (Module::Matcher, "upsert_watchlist"),
    (Module::Matcher, "remove_watchlist_entry"),
    (Module::Matcher, "set_match_policy"),
    (Module::Matcher, "submit_sighting"),
    (Module::Matcher, "review_alert"),
    (Module::Matcher, "export_matcher_audit"),
    (Module::Blocks, "load_address_library"),
    (Module::Blocks, "ingest_records"),
    (Module::Blocks, "resolve_conflict"),
    (Module::Blocks, "query_block"),
    (Module::Blocks, "export_linkage"),
    (Module::Cases, "load_case_directory"),
    (Module::Cases, "open_case"),
    (Module::Cases, "record_case_action"),
    (Module::Cases, "close_case"),
    (Module::Cases, "query_case"),
    (Module::Cases, "record_credit_event"),
    (Module::Cases, "acknowledge_credit"),
    (Module::Cases, "appeal_credit"),
    (Module::Cases, "query_credit"),
    (Module::Cases, "register_company"),
    (Module::Cases, "report_premises"),
    (Module::Cases, "report_trading"),
    (Module::Cases, "enrol_care"),
    (Module::Cases, "record_care_visit"),
    (Module::Cases, "complete_care_service"),
    (Module::Cases, "query_care"),
    (Module::Cases, "query_care_stats"),
    (Module::KeyPersons, "load_key_person_directory"),
    (Module::KeyPersons, "register_key_person"),
    (Module::KeyPersons, "record_follow_up"),
    (Module::KeyPersons, "report_warning_sign"),
    (Module::KeyPersons, "report_crisis"),
    (Module::KeyPersons, "close_key_person"),
    (Module::KeyPersons, "query_key_person"),
    (Module::KeyPersons, "query_key_person_stats"),
    (Module::KeyPersons, "export_key_person_access"),
    (Module::KeyPersons, "set_sighting_policy"),
];

/// The friendly alias of `grid/submit_report`: where a reporting client posts its reports.
pub use baoan_api::http::REPORTS_ALIAS;

/// The module that owns `kind`, with the kind as a `'static` string (for metric labels).
pub fn lookup(kind: &str) -> Option<(Module, &'static str)> {
    COMMAND_KINDS.iter().copied().find(|(_, k)| *k == kind)
}

/// The kinds of one module.
pub fn kinds_of(module: Module) -> Vec<&'static str> {
    COMMAND_KINDS
        .iter()
        .filter(|(m, _)| *m == module)
        .map(|(_, k)| *k)
        .collect()
}

/// A small valid example of every command, more than one where the roles allowed depend on a
/// field (a report's, an incident's or a case's `source`): those differ only in that field, so
/// the OpenAPI document can say which roles go with which value. Valid means well formed: the
/// stack may still refuse it (the task it names does not exist).
pub fn examples() -> Vec<Command> {
    [
        grid_examples(),
        command_examples(),
        matcher_examples(),
        blocks_examples(),
        case_examples(),
        credit_examples(),
        business_examples(),
        care_examples(),
        key_person_examples(),
    ]
    .concat()
}

/// The example of the kind `kind`, the first if it has several.
pub fn example_of(kind: &str) -> Option<Command> {
    examples().into_iter().find(|c| c.kind() == kind)
}

/// The grid module's: a two-grid directory, reports from both sources, a task's life.
fn grid_examples() -> Vec<Command> {
    let report = |source| Command::SubmitReport {
        report_ref: 1,
        source,
        grid: 0,
        item_type: 1,
        observed_at: 0,
        resolved_on_spot: false,
    };
    vec![
        Command::LoadDirectory {
            directory: Directory {
                grids: vec![
                    GridEntry {
                        grid: 0,
                        community: 0,
                        street: 0,
                        inspector: PersonId(1_000_001),
                        neighbours: vec![1],
                    },
                    GridEntry {
                        grid: 1,
                        community: 0,
                        street: 0,
                        inspector: PersonId(1_000_002),
                        neighbours: vec![0],
                    },
                ],
                resolvers: vec![ResolverEntry {
                    person: PersonId(2_000_001),
                    department: Department::Fire,
                    community: 0,
                    street: 0,
                }],
            },
        },
        report(ReportSource::Inspector),
        report(ReportSource::Hotline),
        report(ReportSource::Video),
        Command::AcceptTask { task: TaskId(1) },
        Command::ResolveTask { task: TaskId(1) },
        Command::VerifyTask {
            task: TaskId(1),
            passed: true,
        },
        Command::ReassignTask { task: TaskId(1) },
        Command::QueryAssessment,
        Command::QueryBacklog,
    ]
}

/// The command module's: a one-unit directory, incidents from each source, a unit's calls.
fn command_examples() -> Vec<Command> {
    let incident = |source| Command::ReportIncident {
        incident_ref: 1,
        source,
        emergency_type: 1,
        severity: Severity::IV,
        grid: 0,
        x_m: 1200.0,
        y_m: 800.0,
        observed_at: 0,
    };
    vec![
        Command::LoadCommandDirectory {
            directory: CommandDirectory {
                grids: vec![(0, 0), (0, 0)],
                units: vec![UnitEntry {
                    unit: UnitId(1),
                    class: UnitClass::Police,
                    x_m: 1000.0,
                    y_m: 1000.0,
                    grid: 0,
                    on_duty: true,
                }],
                leaders: vec![LeaderEntry {
                    person: PersonId(3_000_001),
                    centre: Centre::Street(0),
                }],
                departments_wait: true,
                four_duties: false,
            },
        },
        Command::LoadRoadNetwork {
            network: RoadNetwork {
                nodes: vec![[1000.0, 1000.0], [1200.0, 800.0]],
                arcs: vec![[0, 1], [1, 0]],
            },
        },
        incident(IncidentSource::Call),
        incident(IncidentSource::Inspector),
        incident(IncidentSource::Camera),
        Command::UnitDeclined {
            incident: IncidentId(1),
            unit: UnitId(1),
        },
        Command::UnitArrived {
            incident: IncidentId(1),
            unit: UnitId(1),
        },
        Command::UnitCleared {
            incident: IncidentId(1),
            unit: UnitId(1),
        },
        Command::UnitAvailable {
            unit: UnitId(1),
            available: true,
            x_m: 1000.0,
            y_m: 1000.0,
            grid: 0,
        },
        Command::CloseIncident {
            incident: IncidentId(1),
        },
        Command::TakeCommand {
            incident: IncidentId(1),
        },
    ]
}

/// The matcher's: a watchlist entry, a sighting and its review.
fn matcher_examples() -> Vec<Command> {
    vec![
        Command::UpsertWatchlist {
            entries: vec![WatchlistEntry {
                entry_ref: 1,
                list: ListKind::Missing,
                legal_basis: "missing-person report 2024-0001".into(),
                owner: "Xin'an police station".into(),
                expires_at: 86_400_000,
                embedding: vec![0.6, 0.8],
            }],
        },
        Command::RemoveWatchlistEntry {
            entry_ref: 1,
            reason: "found".into(),
        },
        Command::SetMatchPolicy {
            policy: MatchPolicy::default(),
        },
        Command::SubmitSighting {
            sighting: Sighting {
                sighting_ref: 1,
                camera: 1,
                grid: 0,
                x_m: 1000.0,
                y_m: 1000.0,
                captured_at: 0,
                quality: 0.9,
                embedding: vec![0.6, 0.8],
            },
        },
        Command::ReviewAlert {
            alert: AlertId(1),
            confirm: true,
        },
        Command::ExportMatcherAudit,
    ]
}

/// Block data's: a one-room address library, a department's record, a block query.
fn blocks_examples() -> Vec<Command> {
    vec![
        Command::LoadAddressLibrary {
            library: AddressLibraryData {
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
                    name: "创业路".into(),
                    former_names: vec![],
                }],
                buildings: vec![LibraryBuilding {
                    id: 0,
                    road: 0,
                    number: 12,
                    block: 1,
                    grid: 0,
                    residential: true,
                }],
                rooms: vec![LibraryRoom {
                    id: 0,
                    building: 0,
                    unit: 1,
                    room: 503,
                }],
            },
            more: false,
        },
        Command::IngestRecords {
            records: vec![Record::Person(PersonRecord {
                feed: Feed::RentalRegistration,
                record_ref: 1,
                name: "张伟".into(),
                id_number: Some("440306199001011234".into()),
                sex: Some(Sex::Male),
                birth_date: Some(BirthDate {
                    year: 1990,
                    month: 1,
                    day: 1,
                }),
                address: "创业路12号1栋1单元503".into(),
                phone: None,
                observed_at_ms: 0,
            })],
        },
        Command::ResolveConflict {
            conflict: 1,
            finding: Finding::AddressIs { room: 0 },
        },
        Command::QueryBlock {
            query: BlockQuery::Room { room: 0 },
        },
        Command::ExportLinkage,
    ]
}

/// Dispute cases': the agencies' directory, cases from each source, a case's life.
fn case_examples() -> Vec<Command> {
    let case = |source| Command::OpenCase {
        case_ref: 1,
        source,
        kind: DisputeKind::Neighbour,
        grid: 0,
        street: 0,
        x_m: 1200.0,
        y_m: 800.0,
        features: DisputeFeatures {
            prior_incidents: 1,
            ..DisputeFeatures::default()
        },
        observed_at: 0,
    };
    vec![
        Command::LoadCaseDirectory {
            directory: CaseDirectory {
                case_workers: vec![CaseWorkerEntry {
                    person: PersonId(4_000_001),
                    agency: Agency::Community,
                    street: Some(0),
                }],
                care_workers: vec![CareWorkerEntry {
                    person: PersonId(5_000_001),
                    community: 0,
                    street: 0,
                }],
            },
        },
        case(CaseSource::PoliceCall),
        case(CaseSource::Inspector),
        case(CaseSource::Community),
        Command::RecordCaseAction {
            task: 1,
            findings: None,
        },
        Command::CloseCase {
            case: 1,
            evaluation: CaseEvaluation {
                settled: true,
                satisfaction: 4,
            },
        },
        Command::QueryCase { case: 1 },
    ]
}

/// Credit's: a dishonesty record about a person, its delivery, appeal and query.
fn credit_examples() -> Vec<Command> {
    let person = || Subject::Person {
        id_number: "440306199001011234".into(),
    };
    vec![
        Command::RecordCreditEvent {
            event_ref: 1,
            subject: person(),
            kind: CreditKind::Dishonesty,
            source: CreditSource::Court,
            observed_at: 0,
        },
        Command::AcknowledgeCredit { delivery: 1 },
        Command::AppealCredit {
            event: 1,
            upheld: false,
        },
        Command::QueryCredit { subject: person() },
    ]
}

/// Business oversight's: a company registered, its premises checked, trading reported.
fn business_examples() -> Vec<Command> {
    vec![
        Command::RegisterCompany {
            registration_ref: 1,
            name: "深圳市宝安区海裕贸易有限公司".into(),
            credit_code: "91440300MA5EXAMPLE".into(),
            legal_representative_id: "440306199001011234".into(),
            address: "创业路12号1栋1单元503".into(),
            scope: BusinessScope::Retail,
            observed_at: 0,
        },
        Command::ReportPremises {
            task: 1,
            finding: PremisesFinding {
                place_exists: true,
                business_present: true,
            },
        },
        Command::ReportTrading {
            report_ref: 1,
            address: "创业路12号".into(),
        },
    ]
}

/// Community care's: an enrolment, a visit, a service, queries.
fn care_examples() -> Vec<Command> {
    vec![
        Command::EnrolCare {
            care_ref: 1,
            community: 0,
            category: CareCategory::ElderlyAlone,
            interval_days: 7,
        },
        Command::RecordCareVisit {
            care: 1,
            need_found: false,
        },
        Command::CompleteCareService { service: 1 },
        Command::QueryCare { care: 1 },
        Command::QueryCareStats,
    ]
}

/// Key persons': the directory, a registration, a follow-up, a warning sign, a crisis from the
/// team and from a caller, a closure, look-ups, the access log and the sighting policy.
fn key_person_examples() -> Vec<Command> {
    use baoan_api::key_persons::{
        Category, ClosureReason, CrisisSource, Findings, Function, KeyPersonDirectory,
        SightingPolicy, TeamMemberEntry, UrineTest,
    };
    let crisis = |crisis_ref, source| Command::ReportCrisis {
        crisis_ref,
        person: 1,
        source,
        grid: 0,
        x_m: 120.0,
        y_m: 80.0,
        observed_at: 0,
    };
    vec![
        Command::LoadKeyPersonDirectory {
            directory: KeyPersonDirectory {
                members: vec![TeamMemberEntry {
                    person: PersonId(8_000_000),
                    function: Function::Police,
                    community: 0,
                    grid: None,
                }],
            },
        },
        Command::RegisterKeyPerson {
            person_ref: 1,
            category: Category::CommunityDrugTreatment,
            risk: 1,
            grid: 0,
            community: 0,
            street: 0,
            x_m: 120.0,
            y_m: 80.0,
            guardian: Some(PersonId(9_000_000)),
            months_in_management: 4,
            next_due_at: Some(7 * 86_400_000),
            observed_at: 0,
        },
        Command::RecordFollowUp {
            person: 1,
            findings: Findings {
                risk: 1,
                adherent: true,
                warning_signs: false,
                urine: Some(UrineTest::Negative),
            },
        },
        Command::ReportWarningSign {
            person: 1,
            observed_at: 0,
        },
        crisis(1, CrisisSource::Team),
        crisis(2, CrisisSource::Caller),
        Command::CloseKeyPerson {
            person: 1,
            reason: ClosureReason::MovedAway,
        },
        Command::QueryKeyPerson { person: 1 },
        Command::QueryKeyPersonStats,
        Command::ExportKeyPersonAccess,
        Command::SetSightingPolicy {
            policy: SightingPolicy {
                police_from_risk: 3,
            },
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One arm per `Command` variant, and no wildcard: a variant added to the api stops this
    /// from compiling until it is given a number here (and so an example and a route).
    fn variant(c: &Command) -> usize {
        match c {
            Command::LoadDirectory { .. } => 0,
            Command::SubmitReport { .. } => 1,
            Command::AcceptTask { .. } => 2,
            Command::ResolveTask { .. } => 3,
            Command::VerifyTask { .. } => 4,
            Command::QueryAssessment => 5,
            Command::QueryBacklog => 6,
            Command::LoadCommandDirectory { .. } => 7,
            Command::ReportIncident { .. } => 8,
            Command::UnitDeclined { .. } => 9,
            Command::UnitArrived { .. } => 10,
            Command::UnitCleared { .. } => 11,
            Command::UnitAvailable { .. } => 12,
            Command::CloseIncident { .. } => 13,
            Command::UpsertWatchlist { .. } => 14,
            Command::RemoveWatchlistEntry { .. } => 15,
            Command::SetMatchPolicy { .. } => 16,
            Command::SubmitSighting { .. } => 17,
            Command::ReviewAlert { .. } => 18,
            Command::LoadAddressLibrary { .. } => 19,
            Command::IngestRecords { .. } => 20,
            Command::ResolveConflict { .. } => 21,
            Command::QueryBlock { .. } => 22,
            Command::ExportLinkage => 23,
            Command::LoadCaseDirectory { .. } => 24,
            Command::OpenCase { .. } => 25,
            Command::RecordCaseAction { .. } => 26,
            Command::CloseCase { .. } => 27,
            Command::QueryCase { .. } => 28,
            Command::RecordCreditEvent { .. } => 29,
            Command::AcknowledgeCredit { .. } => 30,
            Command::AppealCredit { .. } => 31,
            Command::QueryCredit { .. } => 32,
            Command::RegisterCompany { .. } => 33,
            Command::ReportPremises { .. } => 34,
            Command::ReportTrading { .. } => 35,
            Command::EnrolCare { .. } => 36,
            Command::RecordCareVisit { .. } => 37,
            Command::CompleteCareService { .. } => 38,
            Command::QueryCare { .. } => 39,
            Command::QueryCareStats => 40,
            Command::LoadRoadNetwork { .. } => 41,
            Command::LoadKeyPersonDirectory { .. } => 42,
            Command::RegisterKeyPerson { .. } => 43,
            Command::RecordFollowUp { .. } => 44,
            Command::ReportWarningSign { .. } => 45,
            Command::ReportCrisis { .. } => 46,
            Command::CloseKeyPerson { .. } => 47,
            Command::QueryKeyPerson { .. } => 48,
            Command::QueryKeyPersonStats => 49,
            Command::ExportKeyPersonAccess => 50,
            Command::SetSightingPolicy { .. } => 51,
            Command::ReassignTask { .. } => 52,
            Command::TakeCommand { .. } => 53,
            Command::ExportMatcherAudit => 54,
        }
    }
    const VARIANTS: usize = 55;

    #[test]
    fn every_command_variant_has_an_example_and_a_route_and_nothing_else_is_routed() {
        let examples = examples();
        let mut seen = [false; VARIANTS];
        for c in &examples {
            seen[variant(c)] = true;
            let entry = (c.module(), c.kind());
            assert!(
                COMMAND_KINDS.contains(&entry),
                "{entry:?} is a command of the api but not in COMMAND_KINDS"
            );
        }
        let missing: Vec<usize> = (0..VARIANTS).filter(|&i| !seen[i]).collect();
        assert!(
            missing.is_empty(),
            "variants numbered {missing:?} in `variant` have no example"
        );
        for entry in COMMAND_KINDS {
            assert!(
                examples.iter().any(|c| (c.module(), c.kind()) == *entry),
                "{entry:?} is in COMMAND_KINDS but no command of the api has that module and kind"
            );
        }
        assert_eq!(COMMAND_KINDS.len(), VARIANTS, "a kind is listed twice");
    }

    #[test]
    fn commands_are_listed_module_by_module_in_the_apis_order() {
        let mut modules: Vec<Module> = COMMAND_KINDS.iter().map(|(m, _)| *m).collect();
        modules.dedup();
        assert_eq!(modules, Module::ALL, "modules in order of Module::ALL");
        assert_eq!(
            lookup("submit_report"),
            Some((Module::Grid, "submit_report"))
        );
        assert_eq!(lookup("nonsense"), None);
    }
}
