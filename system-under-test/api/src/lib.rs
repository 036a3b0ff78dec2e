//! The boundary of the district platform (the *stack*): the commands a client sends — what
//! inspectors, resolvers, hotline dispatchers, analysts and administrators would send — and the
//! outcomes the stack returns, with the roles allowed to send each and the errors it answers.
//!
//! Every transport (in-process calls, HTTP) carries exactly these types, so the harness that
//! drives the in-process stack can drive a deployed one unchanged. This crate must not depend on
//! anything in the harness: the stack never knows it is simulated.

pub mod blocks;
pub mod cases;
pub mod catalogue;
pub mod emergency;
pub mod faults;
pub mod http;
pub mod key_persons;
pub mod matcher;
pub mod units;

use serde::{Deserialize, Serialize};

pub use catalogue::{Department, ItemType, Urgency};
pub use emergency::{Category, EmergencyType, Owner, Severity, UnitKind};
pub use key_persons::{KEY_PERSON_CRISIS, KEY_PERSON_REF_BASE};
pub use matcher::{
    AlertCandidate, AlertId, AlertReview, AuditedAlert, LEAD_REF_BASE, ListKind, LookupCount,
    MatchPolicy, MatcherAudit, Sighting, WATCHLIST_LEAD, WatchlistEntry,
};
pub use units::{
    Centre, CommandDirectory, IncidentId, IncidentSource, LeaderEntry, RoadNetwork, UnitClass,
    UnitEntry, UnitId,
};

/// The numbered data lines of an embedded CSV after its header, which must be `header`
/// exactly; blank lines are skipped. A wrong header panics naming the file: embedded data is
/// checked by the unit tests, never by users.
pub(crate) fn data_lines<'a>(
    file: &'a str,
    header: &'a str,
    text: &'a str,
) -> impl Iterator<Item = (usize, &'a str)> + 'a {
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim_end_matches('\r')));
    match lines.next() {
        Some((_, h)) if h == header => {}
        Some((n, h)) => panic!("{file}:{n}: header: expected {header:?}, found {h:?}"),
        None => panic!("{file}: empty file, expected header {header:?}"),
    }
    lines.filter(|(_, l)| !l.trim().is_empty())
}

/// Check that the actor's role may send the command; every module calls this on every call.
pub fn authorize(actor: &Actor, command: &Command) -> Result<(), ApiError> {
    let allowed = command.allowed_roles();
    if allowed.contains(&actor.role) {
        return Ok(());
    }
    Err(ApiError::Forbidden {
        role: actor.role.as_str().into(),
        command: command.kind().into(),
        allowed: allowed
            .iter()
            .map(|r| r.as_str())
            .collect::<Vec<_>>()
            .join(", "),
    })
}

/// Milliseconds since the start of the run. Every command carries the time it was sent; the stack
/// never reads a wall clock, so a run in virtual time is as valid as one in real time.
pub type Millis = u64;

/// Identifies staff known to the platform (inspectors, resolvers, dispatchers...), never residents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct PersonId(pub u32);

/// A task the grid module created from a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct TaskId(pub u64);

/// Roles of the platform's users; every command is checked against its allowed roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Inspector,
    Resolver,
    Dispatcher,
    Reviewer,
    Analyst,
    Auditor,
    Admin,
    /// A response unit's terminal: volunteers, police, department crews.
    Responder,
    /// A face-capture point's device credential: it may submit sightings and nothing else.
    Camera,
    /// A department's data feed: it may send its records and nothing else.
    Department,
    /// A worker of one of the five agencies acting on disputes (police, women's federation,
    /// mediation, court, community); the directory says which.
    Caseworker,
    /// A community care worker: the only role that may read care records, and only their own
    /// community's.
    CareWorker,
    /// A member of a key person's five-in-one team (police officer, doctor, grid inspector,
    /// social worker, guardian): acts on, and reads, only the records of their own people.
    KeyPersonTeam,
    /// A leader on duty at the district or a street centre: decides the response to a level I
    /// or II emergency (the department units wait for the decision).
    DutyLeader,
}

impl Role {
    /// Every role, in the order above (a development token table has one token for each).
    pub const ALL: [Role; 14] = [
        Role::Inspector,
        Role::Resolver,
        Role::Dispatcher,
        Role::Reviewer,
        Role::Analyst,
        Role::Auditor,
        Role::Admin,
        Role::Responder,
        Role::Camera,
        Role::Department,
        Role::Caseworker,
        Role::CareWorker,
        Role::KeyPersonTeam,
        Role::DutyLeader,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Inspector => "inspector",
            Role::Resolver => "resolver",
            Role::Dispatcher => "dispatcher",
            Role::Reviewer => "reviewer",
            Role::Analyst => "analyst",
            Role::Auditor => "auditor",
            Role::Admin => "admin",
            Role::Responder => "responder",
            Role::Camera => "camera",
            Role::Department => "department",
            Role::Caseworker => "caseworker",
            Role::CareWorker => "care_worker",
            Role::KeyPersonTeam => "key_person_team",
            Role::DutyLeader => "duty_leader",
        }
    }
}

/// Who sends a command: a person acting in a role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Actor {
    pub role: Role,
    pub person: PersonId,
}

/// One command as a transport carries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Envelope {
    pub actor: Actor,
    pub sent_at: Millis,
    pub command: Command,
}

/// Where a grid report came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum ReportSource {
    /// The grid's own inspector on patrol.
    Inspector,
    /// A resident's call to the 12345 hotline, entered by a dispatcher.
    Hotline,
    /// Seen on a video channel, by an operator's video patrol or automated detection at a
    /// centre, and entered by the centre's dispatcher.
    Video,
}

/// The platform's organisation data for the grid module: who works where.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Directory {
    pub grids: Vec<GridEntry>,
    pub resolvers: Vec<ResolverEntry>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct GridEntry {
    /// Dense ids 0..n; the position in `Directory::grids` must equal the id.
    pub grid: u32,
    pub community: u32,
    pub street: u32,
    pub inspector: PersonId,
    /// Nearby grids, nearest first: where a stand-in verifier comes from.
    pub neighbours: Vec<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ResolverEntry {
    pub person: PersonId,
    pub department: Department,
    pub community: u32,
    pub street: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Command {
    /// Replace the grid module's organisation data (admin). Allowed once, before any report.
    LoadDirectory {
        directory: Directory,
    },
    /// A report of an item found in a grid. `report_ref` is the sender's own key: sending the
    /// same key twice returns the task created the first time (at-least-once transports).
    SubmitReport {
        report_ref: u64,
        source: ReportSource,
        grid: u32,
        item_type: u16,
        observed_at: Millis,
        /// The inspector dealt with it on the spot; the task goes straight to verification by
        /// another inspector.
        resolved_on_spot: bool,
    },
    AcceptTask {
        task: TaskId,
    },
    ResolveTask {
        task: TaskId,
    },
    VerifyTask {
        task: TaskId,
        passed: bool,
    },
    /// A supervisor at the level a task escalated to hands it to the least-loaded resolver of
    /// its department at that level (street, or the whole district), if one has less work than
    /// its resolver; an escalated task is also worked first.
    ReassignTask {
        task: TaskId,
    },
    /// The automatic assessment of inspectors and resolvers so far (analyst).
    QueryAssessment,
    /// Counts of tasks by state (analyst, dispatcher).
    QueryBacklog,
    /// Replace the command module's organisation data: units, leaders, grids (admin).
    LoadCommandDirectory {
        directory: CommandDirectory,
    },
    /// The roads the command module estimates arrival times on (admin). Optional: without it
    /// the estimate is the straight line with a detour factor. Allowed before any incident.
    LoadRoadNetwork {
        network: RoadNetwork,
    },
    /// An emergency reported to command. `incident_ref` is the sender's key, as for reports.
    ReportIncident {
        incident_ref: u64,
        source: IncidentSource,
        emergency_type: u16,
        severity: Severity,
        grid: u32,
        x_m: f64,
        y_m: f64,
        observed_at: Millis,
    },
    /// The unit cannot take this incident (a volunteer busy with their own life).
    UnitDeclined {
        incident: IncidentId,
        unit: UnitId,
    },
    UnitArrived {
        incident: IncidentId,
        unit: UnitId,
    },
    /// The unit's work on scene is done; it is unavailable until it reports available again.
    UnitCleared {
        incident: IncidentId,
        unit: UnitId,
    },
    /// A unit comes on or goes off duty, or is back at a place and free.
    UnitAvailable {
        unit: UnitId,
        available: bool,
        x_m: f64,
        y_m: f64,
        grid: u32,
    },
    CloseIncident {
        incident: IncidentId,
    },
    /// The lead centre takes command of an incident — its dispatcher for levels III and IV, a
    /// duty leader for I and II: the department units held for the decision are dispatched.
    TakeCommand {
        incident: IncidentId,
    },
    /// Add or replace watchlist entries (admin); a new watchlist version.
    UpsertWatchlist {
        entries: Vec<WatchlistEntry>,
    },
    /// Take an entry off the watchlist (admin); a new watchlist version.
    RemoveWatchlistEntry {
        entry_ref: u64,
        reason: String,
    },
    /// Replace the match policy (admin); a new policy version.
    SetMatchPolicy {
        policy: MatchPolicy,
    },
    /// A face sighting from a capture point, searched against the active watchlist at once;
    /// kept only if it raises an alert.
    SubmitSighting {
        sighting: Sighting,
    },
    /// A reviewer's verdict on an alert: the candidate is (or is not) the person sighted.
    ReviewAlert {
        alert: AlertId,
        confirm: bool,
    },
    /// The matcher's use log (auditors): searches, every alert with the watchlist and policy
    /// versions that produced it and who reviewed it, sightings retained, and the stack's
    /// look-ups of personal data by role.
    ExportMatcherAudit,
    /// Publish the unified address library (admin).
    LoadAddressLibrary {
        library: blocks::AddressLibraryData,
        /// More parts follow: a library too large for one request body is sent in parts (rows
        /// in any split), each `more: true` but the last; the parts are answered with no
        /// outcomes and the library is built, checked and published whole at the last.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        more: bool,
    },
    /// A department's batch of records about people and companies.
    IngestRecords {
        records: Vec<blocks::Record>,
    },
    /// An inspector's on-site finding for a verification task.
    ResolveConflict {
        conflict: u64,
        finding: blocks::Finding,
    },
    /// Who lives and works at a place, or where a person or company is placed (audited).
    QueryBlock {
        query: blocks::BlockQuery,
    },
    /// Every resolved entity's records, for an auditor checking the linkage (audited).
    ExportLinkage,
    /// Replace the cases module's organisation data: agency and care workers (admin).
    LoadCaseDirectory {
        directory: cases::CaseDirectory,
    },
    /// A dispute reaches the platform; `case_ref` is the sender's key, as for reports.
    OpenCase {
        case_ref: u64,
        source: cases::CaseSource,
        kind: cases::DisputeKind,
        grid: u32,
        street: u32,
        /// The household's position, for the police if the case turns acute.
        x_m: f64,
        y_m: f64,
        features: cases::DisputeFeatures,
        observed_at: Millis,
    },
    /// An agency worker has done their agency's action on a case; a household visit may bring a
    /// fresh view of the risk.
    RecordCaseAction {
        task: u64,
        findings: Option<cases::DisputeFeatures>,
    },
    /// Close a case with its evaluation (community workers); refused while a required action is
    /// missing.
    CloseCase {
        case: u64,
        evaluation: cases::CaseEvaluation,
    },
    /// Read a case (its assigned workers, auditors); audited.
    QueryCase {
        case: u64,
    },
    /// A trust or dishonesty record from a court, a case or business oversight.
    RecordCreditEvent {
        event_ref: u64,
        subject: cases::Subject,
        kind: cases::CreditKind,
        source: cases::CreditSource,
        observed_at: Millis,
    },
    /// A receiving body has applied (or retracted) a delivered record.
    AcknowledgeCredit {
        delivery: u64,
    },
    /// The decision on an appeal against a credit record; an upheld appeal removes it everywhere.
    AppealCredit {
        event: u64,
        upheld: bool,
    },
    /// The credit records standing on a person or company; audited.
    QueryCredit {
        subject: cases::Subject,
    },
    /// A company registration, checked against block data before it is approved or flagged.
    RegisterCompany {
        registration_ref: u64,
        name: String,
        credit_code: String,
        legal_representative_id: String,
        address: String,
        scope: cases::BusinessScope,
        observed_at: Millis,
    },
    /// An inspector's finding at a registration's premises.
    ReportPremises {
        task: u64,
        finding: cases::PremisesFinding,
    },
    /// An inspector saw a business trading at an address.
    ReportTrading {
        report_ref: u64,
        address: String,
    },
    /// A resident enters community care, visited every `interval_days` by the community's workers.
    EnrolCare {
        care_ref: u64,
        community: u32,
        category: cases::CareCategory,
        interval_days: u16,
    },
    /// A follow-up visit made; a need found opens a service task.
    RecordCareVisit {
        care: u64,
        need_found: bool,
    },
    CompleteCareService {
        service: u64,
    },
    /// Read a care record (the community's care workers only); audited.
    QueryCare {
        care: u64,
    },
    /// Care in counts only (analysts, auditors, admins).
    QueryCareStats,
    /// Replace the key-persons module's organisation data: the teams' professional members
    /// (admin).
    LoadKeyPersonDirectory {
        directory: key_persons::KeyPersonDirectory,
    },
    /// A person enters management: a hospital's diagnosis through the health bureau, or the
    /// police's order of community drug treatment or rehabilitation (department feeds).
    /// `person_ref` is the sender's key, as for reports.
    RegisterKeyPerson {
        person_ref: u64,
        category: key_persons::Category,
        /// The risk grade at registration, 0–5.
        risk: u8,
        grid: u32,
        community: u32,
        street: u32,
        x_m: f64,
        y_m: f64,
        /// The family guardian, who joins the team.
        guardian: Option<PersonId>,
        /// Months already under management elsewhere (a register carried over): where a drug
        /// term stands.
        months_in_management: u16,
        /// The next follow-up's due date as a register carried over has it (at most 90 days
        /// ahead); `None`: set by the grade from now.
        next_due_at: Option<Millis>,
        observed_at: Millis,
    },
    /// A follow-up made by a team member, with its findings; re-grades the person and sets the
    /// next follow-up.
    RecordFollowUp {
        person: u64,
        findings: key_persons::Findings,
    },
    /// A team member (a guardian, the inspector on patrol) saw warning signs: a follow-up is
    /// pushed forward.
    ReportWarningSign {
        person: u64,
        observed_at: Millis,
    },
    /// The person is in crisis (harm imminent, or done): command takes it as an incident needing
    /// the 1-3-5 tiers and a medical unit. `crisis_ref` is the sender's key.
    ReportCrisis {
        crisis_ref: u64,
        person: u64,
        source: key_persons::CrisisSource,
        grid: u32,
        x_m: f64,
        y_m: f64,
        observed_at: Millis,
    },
    /// The person leaves management.
    CloseKeyPerson {
        person: u64,
        reason: key_persons::ClosureReason,
    },
    /// Read a record (its own team, auditors; a closed record auditors only); audited.
    QueryKeyPerson {
        person: u64,
    },
    /// Key persons in counts only (analysts, auditors, admins).
    QueryKeyPersonStats,
    /// The module's access log: every look-up, allowed or refused (auditors).
    ExportKeyPersonAccess,
    /// Replace the policy on face sightings of key persons (admin); a new policy version.
    SetSightingPolicy {
        policy: key_persons::SightingPolicy,
    },
}

/// The stack's domain modules, each owning its commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Module {
    Grid,
    Command,
    Matcher,
    Blocks,
    Cases,
    KeyPersons,
}

/// A module name that is not one of the stack's modules.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown module `{name}`: expected one of {}", Module::NAMES.join(", "))]
pub struct UnknownModule {
    pub name: String,
}

impl Module {
    /// Every module, in the order the stack lists them: each list of module names (fault
    /// targets, routes, scenario strategies) derives from this one.
    pub const ALL: [Module; 6] = [
        Module::Grid,
        Module::Command,
        Module::Matcher,
        Module::Blocks,
        Module::Cases,
        Module::KeyPersons,
    ];

    /// The name of every module, in the order of `ALL`.
    pub const NAMES: [&'static str; 6] = {
        let mut names = [""; 6];
        let mut i = 0;
        while i < names.len() {
            names[i] = Module::ALL[i].as_str();
            i += 1;
        }
        names
    };

    /// The module named `name`; an unknown name is an error, never "every module".
    pub fn parse(name: &str) -> Result<Module, UnknownModule> {
        Module::ALL
            .into_iter()
            .find(|m| m.as_str() == name)
            .ok_or_else(|| UnknownModule { name: name.into() })
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            Module::Grid => "grid",
            Module::Command => "command",
            Module::Matcher => "matcher",
            Module::Blocks => "blocks",
            Module::Cases => "cases",
            Module::KeyPersons => "key_persons",
        }
    }
}

impl std::fmt::Display for Module {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a call orders against others a transport has in flight at once (`Command::order`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallOrder {
    /// The call touches a whole module (set-up, a policy, the watchlist, an export, counts): it
    /// goes after every call sent before it, and every call sent after it waits for it.
    Barrier,
    /// The call keeps its order with every call by the same actor and, if it names one, every
    /// call about the same subject (a task, an incident, a unit, a case, a person…), given as a
    /// key unique across kinds of subject. Other calls may overtake it.
    Keyed(Option<u64>),
}

/// A subject key: the kind of subject in the top byte, its id below.
fn subject(kind: u8, id: u64) -> CallOrder {
    CallOrder::Keyed(Some((u64::from(kind) << 56) | (id & ((1 << 56) - 1))))
}

impl Command {
    /// What this call is about, for a transport with several calls in flight: calls about one
    /// subject, or by one actor, are carried in the order they were sent, so the stack sees each
    /// task's, incident's, unit's, case's and person's history as the sender made it. Calls
    /// about different subjects by different actors may reach the stack in another order than
    /// sent; where they compete (two incidents for the nearest free unit, two reports merged
    /// into one task) the answer may differ from the one-at-a-time order's.
    pub fn order(&self) -> CallOrder {
        use Command::*;
        match self {
            // Reports about one place merge into its open task: kept in order by place.
            SubmitReport {
                grid, item_type, ..
            } => subject(1, (u64::from(*grid) << 16) | u64::from(*item_type)),
            AcceptTask { task }
            | ResolveTask { task }
            | VerifyTask { task, .. }
            | ReassignTask { task } => subject(2, task.0),
            ReportIncident { incident_ref, .. } => subject(3, *incident_ref),
            // A unit's own messages keep their order whichever incident they are about.
            UnitDeclined { unit, .. }
            | UnitArrived { unit, .. }
            | UnitCleared { unit, .. }
            | UnitAvailable { unit, .. } => subject(4, unit.0 as u64),
            CloseIncident { incident } | TakeCommand { incident } => subject(5, incident.0),
            SubmitSighting { sighting } => subject(6, u64::from(sighting.camera)),
            ReviewAlert { alert, .. } => subject(7, alert.0),
            ResolveConflict { conflict, .. } => subject(8, *conflict),
            IngestRecords { .. } | QueryBlock { .. } => CallOrder::Keyed(None),
            OpenCase { case_ref, .. } => subject(9, *case_ref),
            RecordCaseAction { task, .. } => subject(10, *task),
            CloseCase { case, .. } | QueryCase { case } => subject(11, *case),
            RecordCreditEvent { event_ref, .. } => subject(12, *event_ref),
            AcknowledgeCredit { delivery } => subject(13, *delivery),
            AppealCredit { event, .. } => subject(14, *event),
            QueryCredit { .. } => CallOrder::Keyed(None),
            RegisterCompany {
                registration_ref, ..
            } => subject(15, *registration_ref),
            ReportPremises { task, .. } => subject(16, *task),
            ReportTrading { report_ref, .. } => subject(17, *report_ref),
            EnrolCare { care_ref, .. } => subject(18, *care_ref),
            RecordCareVisit { care, .. } | QueryCare { care } => subject(19, *care),
            CompleteCareService { service } => subject(20, *service),
            RegisterKeyPerson { person_ref, .. } => subject(21, *person_ref),
            RecordFollowUp { person, .. }
            | ReportWarningSign { person, .. }
            | CloseKeyPerson { person, .. }
            | QueryKeyPerson { person }
            | ReportCrisis { person, .. } => subject(22, *person),
            LoadDirectory { .. }
            | QueryAssessment
            | QueryBacklog
            | LoadCommandDirectory { .. }
            | LoadRoadNetwork { .. }
            | UpsertWatchlist { .. }
            | RemoveWatchlistEntry { .. }
            | SetMatchPolicy { .. }
            | ExportMatcherAudit
            | LoadAddressLibrary { .. }
            | ExportLinkage
            | LoadCaseDirectory { .. }
            | QueryCareStats
            | LoadKeyPersonDirectory { .. }
            | QueryKeyPersonStats
            | ExportKeyPersonAccess
            | SetSightingPolicy { .. } => CallOrder::Barrier,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Command::LoadDirectory { .. } => "load_directory",
            Command::SubmitReport { .. } => "submit_report",
            Command::AcceptTask { .. } => "accept_task",
            Command::ResolveTask { .. } => "resolve_task",
            Command::VerifyTask { .. } => "verify_task",
            Command::ReassignTask { .. } => "reassign_task",
            Command::QueryAssessment => "query_assessment",
            Command::QueryBacklog => "query_backlog",
            Command::LoadCommandDirectory { .. } => "load_command_directory",
            Command::LoadRoadNetwork { .. } => "load_road_network",
            Command::ReportIncident { .. } => "report_incident",
            Command::UnitDeclined { .. } => "unit_declined",
            Command::UnitArrived { .. } => "unit_arrived",
            Command::UnitCleared { .. } => "unit_cleared",
            Command::UnitAvailable { .. } => "unit_available",
            Command::CloseIncident { .. } => "close_incident",
            Command::TakeCommand { .. } => "take_command",
            Command::UpsertWatchlist { .. } => "upsert_watchlist",
            Command::RemoveWatchlistEntry { .. } => "remove_watchlist_entry",
            Command::SetMatchPolicy { .. } => "set_match_policy",
            Command::SubmitSighting { .. } => "submit_sighting",
            Command::ReviewAlert { .. } => "review_alert",
            Command::ExportMatcherAudit => "export_matcher_audit",
            Command::LoadAddressLibrary { .. } => "load_address_library",
            Command::IngestRecords { .. } => "ingest_records",
            Command::ResolveConflict { .. } => "resolve_conflict",
            Command::QueryBlock { .. } => "query_block",
            Command::ExportLinkage => "export_linkage",
            Command::LoadCaseDirectory { .. } => "load_case_directory",
            Command::OpenCase { .. } => "open_case",
            Command::RecordCaseAction { .. } => "record_case_action",
            Command::CloseCase { .. } => "close_case",
            Command::QueryCase { .. } => "query_case",
            Command::RecordCreditEvent { .. } => "record_credit_event",
            Command::AcknowledgeCredit { .. } => "acknowledge_credit",
            Command::AppealCredit { .. } => "appeal_credit",
            Command::QueryCredit { .. } => "query_credit",
            Command::RegisterCompany { .. } => "register_company",
            Command::ReportPremises { .. } => "report_premises",
            Command::ReportTrading { .. } => "report_trading",
            Command::EnrolCare { .. } => "enrol_care",
            Command::RecordCareVisit { .. } => "record_care_visit",
            Command::CompleteCareService { .. } => "complete_care_service",
            Command::QueryCare { .. } => "query_care",
            Command::QueryCareStats => "query_care_stats",
            Command::LoadKeyPersonDirectory { .. } => "load_key_person_directory",
            Command::RegisterKeyPerson { .. } => "register_key_person",
            Command::RecordFollowUp { .. } => "record_follow_up",
            Command::ReportWarningSign { .. } => "report_warning_sign",
            Command::ReportCrisis { .. } => "report_crisis",
            Command::CloseKeyPerson { .. } => "close_key_person",
            Command::QueryKeyPerson { .. } => "query_key_person",
            Command::QueryKeyPersonStats => "query_key_person_stats",
            Command::ExportKeyPersonAccess => "export_key_person_access",
            Command::SetSightingPolicy { .. } => "set_sighting_policy",
        }
    }

    /// The stack module that owns this command.
    pub fn module(&self) -> Module {
        match self {
            Command::LoadDirectory { .. }
            | Command::SubmitReport { .. }
            | Command::AcceptTask { .. }
            | Command::ResolveTask { .. }
            | Command::VerifyTask { .. }
            | Command::ReassignTask { .. }
            | Command::QueryAssessment
            | Command::QueryBacklog => Module::Grid,
            Command::LoadCommandDirectory { .. }
            | Command::LoadRoadNetwork { .. }
            | Command::ReportIncident { .. }
            | Command::UnitDeclined { .. }
            | Command::UnitArrived { .. }
            | Command::UnitCleared { .. }
            | Command::UnitAvailable { .. }
            | Command::CloseIncident { .. }
            | Command::TakeCommand { .. } => Module::Command,
            Command::UpsertWatchlist { .. }
            | Command::RemoveWatchlistEntry { .. }
            | Command::SetMatchPolicy { .. }
            | Command::SubmitSighting { .. }
            | Command::ReviewAlert { .. }
            | Command::ExportMatcherAudit => Module::Matcher,
            Command::LoadAddressLibrary { .. }
            | Command::IngestRecords { .. }
            | Command::ResolveConflict { .. }
            | Command::QueryBlock { .. }
            | Command::ExportLinkage => Module::Blocks,
            Command::LoadCaseDirectory { .. }
            | Command::OpenCase { .. }
            | Command::RecordCaseAction { .. }
            | Command::CloseCase { .. }
            | Command::QueryCase { .. }
            | Command::RecordCreditEvent { .. }
            | Command::AcknowledgeCredit { .. }
            | Command::AppealCredit { .. }
            | Command::QueryCredit { .. }
            | Command::RegisterCompany { .. }
            | Command::ReportPremises { .. }
            | Command::ReportTrading { .. }
            | Command::EnrolCare { .. }
            | Command::RecordCareVisit { .. }
            | Command::CompleteCareService { .. }
            | Command::QueryCare { .. }
            | Command::QueryCareStats => Module::Cases,
            Command::LoadKeyPersonDirectory { .. }
            | Command::RegisterKeyPerson { .. }
            | Command::RecordFollowUp { .. }
            | Command::ReportWarningSign { .. }
            | Command::ReportCrisis { .. }
            | Command::CloseKeyPerson { .. }
            | Command::QueryKeyPerson { .. }
            | Command::QueryKeyPersonStats
            | Command::ExportKeyPersonAccess
            | Command::SetSightingPolicy { .. } => Module::KeyPersons,
        }
    }

    /// The roles allowed to send this command; checked by the stack on every call.
    pub fn allowed_roles(&self) -> &'static [Role] {
        match self {
            Command::LoadDirectory { .. } => &[Role::Admin],
            Command::SubmitReport {
                source: ReportSource::Inspector,
                ..
            } => &[Role::Inspector],
            Command::SubmitReport {
                source: ReportSource::Hotline | ReportSource::Video,
                ..
            } => &[Role::Dispatcher],
            Command::AcceptTask { .. } | Command::ResolveTask { .. } => {
                &[Role::Resolver, Role::Inspector]
            }
            Command::VerifyTask { .. } => &[Role::Inspector],
            Command::ReassignTask { .. } => &[Role::Dispatcher],
            Command::QueryAssessment => &[Role::Analyst, Role::Auditor, Role::Admin],
            Command::QueryBacklog => &[Role::Analyst, Role::Dispatcher, Role::Admin],
            Command::LoadCommandDirectory { .. } | Command::LoadRoadNetwork { .. } => {
                &[Role::Admin]
            }
            Command::ReportIncident {
                source: IncidentSource::Inspector,
                ..
            } => &[Role::Inspector],
            Command::ReportIncident { .. } => &[Role::Dispatcher],
            Command::UnitDeclined { .. }
            | Command::UnitArrived { .. }
            | Command::UnitCleared { .. }
            | Command::UnitAvailable { .. } => &[Role::Responder],
            Command::CloseIncident { .. } => &[Role::Responder, Role::Dispatcher],
            Command::TakeCommand { .. } => &[Role::DutyLeader, Role::Dispatcher],
            Command::UpsertWatchlist { .. }
            | Command::RemoveWatchlistEntry { .. }
            | Command::SetMatchPolicy { .. } => &[Role::Admin],
            Command::SubmitSighting { .. } => &[Role::Camera],
            Command::ReviewAlert { .. } => &[Role::Reviewer],
            Command::ExportMatcherAudit => &[Role::Auditor],
            Command::LoadAddressLibrary { .. } => &[Role::Admin],
            Command::IngestRecords { .. } => &[Role::Department],
            Command::ResolveConflict { .. } => &[Role::Inspector],
            Command::QueryBlock { .. } => &[Role::Analyst, Role::Inspector, Role::Admin],
            Command::ExportLinkage => &[Role::Auditor],
            Command::LoadCaseDirectory { .. } => &[Role::Admin],
            Command::OpenCase {
                source: cases::CaseSource::PoliceCall,
                ..
            } => &[Role::Dispatcher],
            Command::OpenCase {
                source: cases::CaseSource::Inspector,
                ..
            } => &[Role::Inspector],
            Command::OpenCase { .. } => &[Role::Caseworker],
            Command::RecordCaseAction { .. } | Command::CloseCase { .. } => &[Role::Caseworker],
            Command::QueryCase { .. } => &[Role::Caseworker, Role::Auditor],
            Command::RecordCreditEvent { .. } | Command::AcknowledgeCredit { .. } => {
                &[Role::Department]
            }
            Command::AppealCredit { .. } => &[Role::Reviewer],
            Command::QueryCredit { .. } => &[Role::Department, Role::Analyst, Role::Auditor],
            Command::RegisterCompany { .. } => &[Role::Department],
            Command::ReportPremises { .. } | Command::ReportTrading { .. } => &[Role::Inspector],
            Command::EnrolCare { .. }
            | Command::RecordCareVisit { .. }
            | Command::CompleteCareService { .. }
            | Command::QueryCare { .. } => &[Role::CareWorker],
            Command::QueryCareStats => &[Role::Analyst, Role::Auditor, Role::Admin],
            Command::LoadKeyPersonDirectory { .. } | Command::SetSightingPolicy { .. } => {
                &[Role::Admin]
            }
            Command::RegisterKeyPerson { .. } => &[Role::Department],
            Command::RecordFollowUp { .. }
            | Command::ReportWarningSign { .. }
            | Command::CloseKeyPerson { .. } => &[Role::KeyPersonTeam],
            Command::ReportCrisis {
                source: key_persons::CrisisSource::Caller,
                ..
            } => &[Role::Dispatcher],
            Command::ReportCrisis { .. } => &[Role::KeyPersonTeam],
            Command::QueryKeyPerson { .. } => &[Role::KeyPersonTeam, Role::Auditor],
            Command::QueryKeyPersonStats => &[Role::Analyst, Role::Auditor, Role::Admin],
            Command::ExportKeyPersonAccess => &[Role::Auditor],
        }
    }
}

/// How far an overdue task has been escalated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum EscalationLevel {
    /// Past its deadline: the street's sub-centre takes it over.
    Street,
    /// Past 1.5 times its allowed time: the district centre.
    District,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Outcome {
    DirectoryLoaded {
        grids: u32,
        resolvers: u32,
    },
    /// A report became a new task.
    ReportAccepted {
        report_ref: u64,
        task: TaskId,
    },
    /// A report was folded into an open task for the same grid and item type.
    ReportMerged {
        report_ref: u64,
        task: TaskId,
    },
    TaskDispatched {
        task: TaskId,
        resolver: PersonId,
        deadline_at: Millis,
    },
    /// The task has no resolver yet; it stays open with this reason.
    TaskUnassigned {
        task: TaskId,
        reason: String,
    },
    TaskAccepted {
        task: TaskId,
    },
    VerificationRequested {
        task: TaskId,
        verifier: PersonId,
        resolver: PersonId,
    },
    TaskReworked {
        task: TaskId,
        resolver: PersonId,
    },
    TaskClosed {
        task: TaskId,
        at: Millis,
        overdue: bool,
    },
    TaskEscalated {
        task: TaskId,
        level: EscalationLevel,
        at: Millis,
    },
    /// A supervisor moved an escalated task to another resolver.
    TaskReassigned {
        task: TaskId,
        from: PersonId,
        to: PersonId,
        deadline_at: Millis,
    },
    /// A supervisor looked at an escalated task and left it with its resolver (nobody at that
    /// level has less work); it is worked first.
    TaskKept {
        task: TaskId,
        resolver: PersonId,
    },
    Assessment {
        assessment: Assessment,
    },
    Backlog {
        backlog: Backlog,
    },
    CommandDirectoryLoaded {
        units: u32,
        leaders: u32,
    },
    /// The command module took a road network for its arrival estimates.
    RoadNetworkLoaded {
        nodes: u32,
        arcs: u32,
    },
    /// An incident was taken on: its lead centre and the leaders on duty there.
    IncidentOpened {
        incident: IncidentId,
        incident_ref: u64,
        lead: Centre,
        duty: Vec<PersonId>,
    },
    /// A unit was sent; `eta_s` is the stack's own estimate.
    UnitDispatched {
        incident: IncidentId,
        unit: UnitId,
        class: UnitClass,
        eta_s: f64,
    },
    /// No unit of the class is free: the incident waits for one.
    IncidentWaiting {
        incident: IncidentId,
        class: UnitClass,
        reason: String,
    },
    /// The lead moved up because a tier could not make its limit.
    IncidentEscalated {
        incident: IncidentId,
        from: Centre,
        to: Centre,
        reason: String,
    },
    IncidentClosed {
        incident: IncidentId,
        at: Millis,
    },
    /// An incident's department units wait for the lead centre to take command: a duty leader
    /// (`leader`: levels I and II) or its dispatcher.
    AwaitingCommand {
        incident: IncidentId,
        classes: Vec<UnitClass>,
        leader: bool,
    },
    /// The lead centre took command; the held units are dispatched (outcomes follow).
    IncidentCommanded {
        incident: IncidentId,
        by: PersonId,
    },
    WatchlistUpdated {
        version: u32,
        active: u32,
    },
    MatchPolicySet {
        version: u32,
    },
    /// The sighting matched nothing at the policy's threshold: it was discarded, not stored.
    SightingDiscarded {
        sighting_ref: u64,
    },
    /// A lead for reviewers, never an action by itself.
    AlertRaised {
        alert: AlertId,
        sighting_ref: u64,
        camera: u32,
        candidates: Vec<AlertCandidate>,
        watchlist_version: u32,
        policy_version: u32,
        reviewers_required: u8,
    },
    AlertReviewed {
        alert: AlertId,
        reviewer: PersonId,
        confirm: bool,
        confirmations: u8,
    },
    /// Enough reviewers confirmed: command takes it as an incident.
    AlertConfirmed {
        alert: AlertId,
        entry_ref: u64,
    },
    /// A reviewer rejected it: nothing happens, and the sighting is deleted.
    AlertRejected {
        alert: AlertId,
    },
    /// The matcher's use log, for an auditor.
    MatcherAuditExported {
        audit: MatcherAudit,
    },
    AddressLibraryLoaded {
        buildings: u32,
        rooms: u32,
    },
    /// What became of each record of a batch, in the batch's order.
    RecordsIngested {
        results: Vec<blocks::IngestedRecord>,
    },
    /// Feeds disagree, or name a place the library lacks: an inspector should look.
    ConflictRaised {
        task: blocks::VerificationTask,
    },
    ConflictResolved {
        conflict: u64,
    },
    BlockAnswered {
        view: blocks::BlockView,
        /// For a person or company look-up: each record bearing the number, where it is placed.
        placed: Vec<blocks::PlacedRecord>,
    },
    /// Every record kept, with its entity (cluster) and where it is placed.
    LinkageExported {
        records: Vec<blocks::PlacedRecord>,
    },
    CaseDirectoryLoaded {
        case_workers: u32,
        care_workers: u32,
    },
    /// A dispute was taken on: its risk assessment and the agencies' required actions.
    CaseOpened {
        case: u64,
        case_ref: u64,
        score: u32,
        level: cases::RiskLevel,
        tasks: Vec<cases::CaseTask>,
    },
    /// A visit's findings changed the level: the actions the new level requires beyond those
    /// already set (deadlines only ever move earlier).
    CaseReassessed {
        case: u64,
        score: u32,
        level: cases::RiskLevel,
        tasks: Vec<cases::CaseTask>,
    },
    CaseActionRecorded {
        task: u64,
        case: u64,
        agency: cases::Agency,
        on_time: bool,
    },
    /// The risk is acute: command has the case as an incident (police).
    CaseEscalated {
        case: u64,
        incident: IncidentId,
    },
    /// An action is past its deadline: the street (then the district) supervises it.
    CaseTaskOverdue {
        task: u64,
        case: u64,
        agency: cases::Agency,
        level: EscalationLevel,
    },
    CaseClosed {
        case: u64,
        at: Millis,
    },
    CaseAnswered {
        view: cases::CaseView,
    },
    /// A credit record made: where it must be delivered (the subject and its linked entities, each
    /// to every receiving body) and the linked entities it could not reach.
    CreditRecorded {
        event: u64,
        event_ref: u64,
        deliveries: Vec<cases::CreditDelivery>,
        undelivered: Vec<cases::Subject>,
    },
    CreditAcknowledged {
        delivery: u64,
        on_time: bool,
    },
    /// An appeal succeeded: every delivery of the record is retracted.
    CreditRevoked {
        event: u64,
        deliveries: Vec<cases::CreditDelivery>,
    },
    AppealDismissed {
        event: u64,
    },
    CreditAnswered {
        subject: cases::Subject,
        entries: Vec<cases::CreditEntry>,
    },
    RegistrationChecked {
        registration_ref: u64,
        check: cases::AddressCheck,
        decision: cases::RegistrationDecision,
        /// The inspector's supervision task for a flagged registration.
        task: Option<u64>,
        grid: Option<u32>,
    },
    /// An inspector's finding decided a supervision task; a false registration also makes a
    /// dishonesty record.
    PremisesChecked {
        task: u64,
        registration_ref: u64,
        verdict: cases::SupervisionVerdict,
        credit_event: Option<u64>,
    },
    TradingChecked {
        report_ref: u64,
        verdict: cases::SupervisionVerdict,
    },
    CareEnrolled {
        care: u64,
        care_ref: u64,
        worker: PersonId,
        next_due_at: Millis,
    },
    CareVisitRecorded {
        care: u64,
        on_time: bool,
        next_due_at: Millis,
        service: Option<u64>,
    },
    CareServiceCompleted {
        service: u64,
        care: u64,
    },
    /// A follow-up visit is overdue: the street (then the district) supervises it.
    CareVisitOverdue {
        care: u64,
        level: EscalationLevel,
    },
    CareAnswered {
        view: cases::CareView,
    },
    CareStatsAnswered {
        stats: cases::CareStats,
    },
    KeyPersonDirectoryLoaded {
        members: u32,
    },
    /// A person entered management: their team and the first follow-up pushed to it.
    KeyPersonRegistered {
        person: u64,
        person_ref: u64,
        team: key_persons::Team,
        risk: u8,
        task: key_persons::FollowUpTask,
    },
    /// A follow-up recorded; the next one pushed (none once the record is closed).
    FollowUpRecorded {
        person: u64,
        on_time: bool,
        risk: u8,
        task: Option<key_persons::FollowUpTask>,
    },
    /// The person's risk grade changed.
    KeyPersonRegraded {
        person: u64,
        from: u8,
        to: u8,
    },
    /// A warning sign brought the next follow-up forward.
    FollowUpPushed {
        task: key_persons::FollowUpTask,
    },
    /// A follow-up is past due: the street (then the district) supervises it.
    FollowUpOverdue {
        person: u64,
        level: EscalationLevel,
    },
    /// A high grade put the person under the street's (grade 3–4) or the district's (5)
    /// supervision.
    KeyPersonEscalated {
        person: u64,
        level: EscalationLevel,
        reason: key_persons::EscalationReason,
    },
    /// The police were told (a grade of 3 or more, a positive test, a serious breach).
    PoliceNotified {
        person: u64,
        reason: String,
    },
    /// A crisis taken on: command has it as an incident.
    CrisisOpened {
        crisis: u64,
        crisis_ref: u64,
        person: u64,
        incident: IncidentId,
    },
    KeyPersonClosed {
        person: u64,
        at: Millis,
        reason: key_persons::ClosureReason,
    },
    KeyPersonAnswered {
        view: key_persons::KeyPersonView,
    },
    KeyPersonStatsAnswered {
        stats: key_persons::KeyPersonStats,
    },
    KeyPersonAccessExported {
        entries: Vec<key_persons::AccessEntry>,
    },
    SightingPolicySet {
        version: u32,
    },
    /// A confirmed face sighting of a key person, for the team (and for police only if the
    /// policy says the person's grade needs them).
    CareLead {
        person: u64,
        camera: u32,
        grid: u32,
        seen_at: Millis,
        risk: u8,
        police: bool,
        policy_version: u32,
    },
}

/// The automatic assessment the platform keeps of its people.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Assessment {
    pub inspectors: Vec<Rating>,
    pub resolvers: Vec<Rating>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Rating {
    pub person: PersonId,
    /// 0-100.
    pub score: f64,
    /// A (>= 90), B (>= 75), C (>= 60), D.
    pub grade: char,
    /// Reports filed (inspectors) or tasks resolved (resolvers).
    pub handled: u32,
    /// Share of the person's work done within its deadline.
    pub on_time_share: f64,
    /// Share of resolutions sent back by verification (resolvers), or share of verifications
    /// done late (inspectors).
    pub rework_share: f64,
    /// Items in the person's grid first reported by a resident rather than by the inspector.
    pub misses: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Backlog {
    pub unassigned: u64,
    pub dispatched: u64,
    pub accepted: u64,
    pub awaiting_verification: u64,
    pub closed: u64,
    pub escalated_open: u64,
}

impl Backlog {
    pub fn open(&self) -> u64 {
        self.unassigned + self.dispatched + self.accepted + self.awaiting_verification
    }
}

/// What the stack answers instead of outcomes when it refuses a command. Nothing is changed by a
/// refused command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "error", rename_all = "snake_case")]
pub enum ApiError {
    #[error("role {role} may not send {command}; allowed: {allowed}")]
    Forbidden {
        role: String,
        command: String,
        allowed: String,
    },
    #[error("{what} {id} not found")]
    NotFound { what: String, id: String },
    #[error("task {task}: {problem}")]
    Conflict { task: u64, problem: String },
    #[error("field `{field}`: {problem}")]
    Invalid { field: String, problem: String },
    /// The command is well formed but the thing it names is not in a state to take it (an
    /// alert already decided, a reviewer reviewing twice).
    #[error("{what} {id}: {problem}")]
    Refused {
        what: String,
        id: String,
        problem: String,
    },
}

/// A stack the harness can drive: the in-process one, or a client of a deployed one.
pub trait Stack: Send + Sync {
    /// Carry one command; the outcomes it caused right away, or why it was refused.
    fn send(&mut self, envelope: &Envelope) -> Result<Vec<Outcome>, ApiError>;
    /// Carry several commands sent within one tick, answered in the order given. A stack in the
    /// caller's memory carries them one by one, in order; a transport may have several in
    /// flight at once, keeping the order `Command::order` asks for.
    fn send_all(&mut self, envelopes: &[&Envelope]) -> Vec<Result<Vec<Outcome>, ApiError>> {
        envelopes.iter().map(|e| self.send(e)).collect()
    }
    /// Let the stack do its time-driven work (escalating overdue tasks) up to `now`.
    fn advance(&mut self, now: Millis) -> Vec<Outcome>;
    /// The earliest time the stack may have time-driven work: `advance` to any earlier time
    /// does nothing at all (no outcome, no change), so a caller may leave it out. `None`: no
    /// work is waiting; a stack that cannot tell says `Some(0)`.
    fn next_due(&self) -> Option<Millis> {
        Some(0)
    }
    /// The largest request body the stack takes: a caller splits its own set-up calls to fit
    /// (`http::split_to_fit`). A stack in the caller's memory takes anything, but is given the
    /// served stack's default, so a run makes the same calls in process as over HTTP.
    fn body_limit(&self) -> usize {
        http::DEFAULT_MAX_BODY
    }
    /// The most calls `send_all` has in flight at once (1: one at a time).
    fn calls_in_flight(&self) -> usize {
        1
    }
    /// A short name for reports, such as `in-process`.
    fn name(&self) -> String;
    /// Restart the stack at `at` as its operators would, down for about `down_ms` of the
    /// caller's time, keeping what it acknowledged: `Restarting` once the restart is under
    /// way, `NothingToRestart` for a stack in the caller's memory, or why it could not.
    fn restart(&mut self, at: Millis, down_ms: Millis) -> Result<Restart, RestartError> {
        let _ = (at, down_ms);
        Ok(Restart::NothingToRestart)
    }
}

/// What a stack asked to restart answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Restart {
    Restarting,
    /// The stack lives in the caller's memory: there is no process to restart.
    NothingToRestart,
}

impl Restart {
    pub fn as_str(self) -> &'static str {
        match self {
            Restart::Restarting => "restarted",
            Restart::NothingToRestart => "nothing to restart",
        }
    }
}

/// Why a stack did not restart.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RestartError {
    /// The stack answered and refused (its refusal, as it gave it).
    #[error("{0}")]
    Refused(String),
    /// The stack could not be reached to ask.
    #[error("{0}")]
    Unreachable(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    /// No wildcard: a role added to the api stops this from compiling until it is in `ALL`.
    fn position(role: Role) -> usize {
        match role {
            Role::Inspector => 0,
            Role::Resolver => 1,
            Role::Dispatcher => 2,
            Role::Reviewer => 3,
            Role::Analyst => 4,
            Role::Auditor => 5,
            Role::Admin => 6,
            Role::Responder => 7,
            Role::Camera => 8,
            Role::Department => 9,
            Role::Caseworker => 10,
            Role::CareWorker => 11,
            Role::KeyPersonTeam => 12,
            Role::DutyLeader => 13,
        }
    }

    #[test]
    fn every_role_is_listed_once_in_order() {
        for (i, r) in Role::ALL.into_iter().enumerate() {
            assert_eq!(position(r), i, "{r:?}");
        }
    }

    #[test]
    fn module_names_parse_back_and_an_unknown_name_is_refused() {
        for m in Module::ALL {
            assert_eq!(Module::parse(m.as_str()), Ok(m));
        }
        assert_eq!(Module::NAMES, Module::ALL.map(Module::as_str));
        let err = Module::parse("firesafety").unwrap_err();
        assert!(err.to_string().contains("`firesafety`"), "{err}");
        assert!(
            Module::parse("*").is_err(),
            "`*` is the fault plans' word, not a module"
        );
    }

    #[test]
    fn commands_round_trip_through_json_as_tagged_objects() {
        let cmd = Command::SubmitReport {
            report_ref: 7,
            source: ReportSource::Hotline,
            grid: 3,
            item_type: 12,
            observed_at: 1_000,
            resolved_on_spot: false,
        };
        let text = serde_json::to_string(&cmd).unwrap();
        assert!(text.starts_with(r#"{"type":"submit_report""#), "{text}");
        let back: Command = serde_json::from_str(&text).unwrap();
        assert_eq!(back, cmd);
    }

    #[test]
    fn hotline_reports_need_a_dispatcher_and_inspector_reports_an_inspector() {
        let report = |source| Command::SubmitReport {
            report_ref: 1,
            source,
            grid: 0,
            item_type: 1,
            observed_at: 0,
            resolved_on_spot: false,
        };
        assert_eq!(
            report(ReportSource::Hotline).allowed_roles(),
            &[Role::Dispatcher]
        );
        assert_eq!(
            report(ReportSource::Inspector).allowed_roles(),
            &[Role::Inspector]
        );
        assert!(
            !Command::QueryAssessment
                .allowed_roles()
                .contains(&Role::Inspector)
        );
    }
}
