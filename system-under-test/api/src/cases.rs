//! The cases module's part of the boundary — the platform's "key events": family and neighbour
//! disputes handled by five agencies, trust and dishonesty (credit) records with joint rewards and
//! penalties, business-registration oversight checked against block data, and follow-up care of
//! residents in community care.
//!
//! Every look-up of a case, a person's credit or a care record is role-checked and audited by the
//! stack; care records are the most sensitive in the stack and only the community's own care
//! workers may read them.

use serde::{Deserialize, Serialize};

use crate::{EscalationLevel, Millis};

/// Incident keys of cases escalated to command: this base plus the case's id, clear of any
/// client's keys and of the matcher's leads.
pub const CASE_REF_BASE: u64 = 1 << 61;

/// The command module's type for a dispute case turned acute (the nearest police unit goes to
/// the household); outside the 32 emergency types and apart from watchlist leads.
pub const ACUTE_DISPUTE: u16 = 0xFFFD;

// ------------------------------------------------------------------------------------------------
// Disputes
// ------------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum DisputeKind {
    /// Between partners or spouses: the domestic-violence law's protection orders apply.
    Domestic,
    /// Between other family members (parents and grown children, in-laws, inheritance).
    Family,
    Neighbour,
}

/// Where a dispute reached the platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum CaseSource {
    /// A 110 call, entered by a police dispatcher.
    PoliceCall,
    /// A grid inspector on patrol.
    Inspector,
    /// The community's own workers.
    Community,
}

/// What intake (or a later visit) learns about a dispute: the inputs of the risk assessment,
/// after the risk checklists used by police and women's federations.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct DisputeFeatures {
    /// Earlier calls or reports about the same parties in the past year.
    pub prior_incidents: u8,
    /// Physical violence in this incident.
    pub violence: bool,
    pub threats_to_kill: bool,
    /// A weapon used or at hand.
    pub weapon: bool,
    pub strangulation: bool,
    /// A recent or pending separation.
    pub separation: bool,
    /// Children live in the household.
    pub children: bool,
    pub alcohol_or_drugs: bool,
    /// Incidents are getting worse or more frequent.
    pub escalating: bool,
    /// The person at risk says they are afraid.
    pub afraid: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum RiskLevel {
    Low,
    Medium,
    High,
    /// Danger now: the case goes to command as an incident as well.
    Acute,
}

impl RiskLevel {
    pub const ALL: [RiskLevel; 4] = [
        RiskLevel::Low,
        RiskLevel::Medium,
        RiskLevel::High,
        RiskLevel::Acute,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            RiskLevel::Low => "low",
            RiskLevel::Medium => "medium",
            RiskLevel::High => "high",
            RiskLevel::Acute => "acute",
        }
    }
}

/// The five agencies that act on a dispute, each with its own action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Agency {
    /// A warning and a visit by the community police officer.
    Police,
    /// The women's federation's counselling.
    WomensFederation,
    /// Judicial mediation and legal aid.
    Mediation,
    /// The court's personal-safety protection order.
    Court,
    /// The community's follow-up care visit.
    Community,
}

impl Agency {
    pub const ALL: [Agency; 5] = [
        Agency::Police,
        Agency::WomensFederation,
        Agency::Mediation,
        Agency::Court,
        Agency::Community,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Agency::Police => "police",
            Agency::WomensFederation => "womens_federation",
            Agency::Mediation => "mediation",
            Agency::Court => "court",
            Agency::Community => "community",
        }
    }
    /// Whether the action is a visit to the household (and so may be combined with others').
    pub fn visits(self) -> bool {
        matches!(
            self,
            Agency::Police | Agency::WomensFederation | Agency::Community
        )
    }
}

/// An agency worker known to the cases module.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CaseWorkerEntry {
    pub person: crate::PersonId,
    pub agency: Agency,
    /// The street the worker serves (the court and mediation serve the whole district: `None`).
    pub street: Option<u32>,
}

/// A community care worker, who may see only the care records of their own community.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CareWorkerEntry {
    pub person: crate::PersonId,
    pub community: u32,
    pub street: u32,
}

/// Who acts on cases and care: the cases module's organisation data.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CaseDirectory {
    pub case_workers: Vec<CaseWorkerEntry>,
    pub care_workers: Vec<CareWorkerEntry>,
}

/// One agency's required action on a case, with its deadline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CaseTask {
    pub task: u64,
    pub case: u64,
    pub agency: Agency,
    pub due_at: Millis,
    /// Household visits due close together are made as one joint visit: tasks sharing this id.
    pub joint_visit: Option<u64>,
}

/// The closing evaluation a community worker records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CaseEvaluation {
    /// The parties' dispute is settled (mediated, protected, separated peacefully).
    pub settled: bool,
    /// The parties' satisfaction, 1 (poor) to 5 (good).
    pub satisfaction: u8,
}

/// A case as its assigned workers and auditors may read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CaseView {
    pub case: u64,
    pub case_ref: u64,
    pub kind: DisputeKind,
    pub source: CaseSource,
    pub grid: u32,
    pub street: u32,
    pub score: u32,
    pub level: RiskLevel,
    pub opened_at: Millis,
    pub tasks: Vec<CaseTaskView>,
    pub escalated_incident: Option<u64>,
    pub closed_at: Option<Millis>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CaseTaskView {
    pub task: CaseTask,
    pub done_at: Option<Millis>,
    pub by: Option<crate::PersonId>,
}

// ------------------------------------------------------------------------------------------------
// Credit
// ------------------------------------------------------------------------------------------------

/// Whom a credit record is about: a person by ID number, a company by credit code.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Subject {
    Person { id_number: String },
    Company { credit_code: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum CreditKind {
    /// A trust record: joint rewards (fast-track approvals, fewer inspections).
    Trust,
    /// A dishonesty record: joint penalties (restrictions on bidding, travel, licences).
    Dishonesty,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum CreditSource {
    /// A judgment not complied with, or a commendation.
    Court,
    /// A dispute case's outcome.
    Case,
    /// Business oversight (a false registration, say).
    Oversight,
}

/// How a record reached an entity it was not issued against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum CreditLink {
    /// The subject itself.
    Direct,
    /// A company's record reaching its legal representative.
    LegalRepresentative,
    /// A person's record reaching the companies they represent.
    RepresentedCompany,
}

/// The bodies that apply joint rewards and penalties, each acknowledging what it is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum CreditReceiver {
    MarketRegulation,
    Tax,
    Housing,
    PublicResources,
}

impl CreditReceiver {
    pub const ALL: [CreditReceiver; 4] = [
        CreditReceiver::MarketRegulation,
        CreditReceiver::Tax,
        CreditReceiver::Housing,
        CreditReceiver::PublicResources,
    ];
}

/// One entity's record sent to one receiving body; `revoke` retracts an earlier delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CreditDelivery {
    pub delivery: u64,
    pub event: u64,
    pub entity: Subject,
    pub link: CreditLink,
    pub receiver: CreditReceiver,
    pub revoke: bool,
    pub due_at: Millis,
}

/// A credit record as it stands on an entity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CreditEntry {
    pub event: u64,
    pub event_ref: u64,
    pub kind: CreditKind,
    pub source: CreditSource,
    pub link: CreditLink,
    pub recorded_at: Millis,
}

// ------------------------------------------------------------------------------------------------
// Business oversight
// ------------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum BusinessScope {
    /// Consulting, trading, software: may sit in an office or, a few, at home.
    Office,
    Retail,
    Catering,
    Manufacturing,
}

/// What block data says about a registration's address.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct AddressCheck {
    /// The address resolved to a room (or at least a building) of the library.
    pub found: bool,
    pub building: Option<u32>,
    pub room: Option<u32>,
    pub grid: Option<u32>,
    /// The building is residential.
    pub residential: bool,
    /// Companies already resolved at the room (the building when no room is known).
    pub companies_at_room: u32,
}

/// Why a registration was flagged for supervision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum FlagReason {
    /// The address is not in the library.
    AddressNotFound,
    /// A shop, restaurant or workshop registered in a flat.
    ResidentialPremises,
    /// Too many companies already at the room.
    CrowdedRoom,
    /// Not flagged by rule: drawn for the random spot check ("double random" supervision).
    SpotCheck,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum RegistrationDecision {
    Approved,
    /// Registered, and an inspector must check the premises.
    Flagged {
        reasons: Vec<FlagReason>,
    },
}

/// An inspector's finding at the premises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct PremisesFinding {
    /// The place exists.
    pub place_exists: bool,
    /// The registered business actually operates there.
    pub business_present: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum SupervisionVerdict {
    Compliant,
    /// The address does not exist: the registration is struck off and a dishonesty record made.
    FalseRegistration,
    /// The address exists but the business is not there.
    AddressMisuse,
    /// Trading at a place with no registration (from an inspector's report).
    UnlicensedTrading,
}

// ------------------------------------------------------------------------------------------------
// Care follow-up
// ------------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum CareCategory {
    /// An older person living alone.
    ElderlyAlone,
    Disability,
    /// A child whose parents work away.
    LeftBehindChild,
    /// Severe mental illness under community management.
    MentalHealth,
}

impl CareCategory {
    pub const ALL: [CareCategory; 4] = [
        CareCategory::ElderlyAlone,
        CareCategory::Disability,
        CareCategory::LeftBehindChild,
        CareCategory::MentalHealth,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            CareCategory::ElderlyAlone => "elderly_alone",
            CareCategory::Disability => "disability",
            CareCategory::LeftBehindChild => "left_behind_child",
            CareCategory::MentalHealth => "mental_health",
        }
    }
}

/// A care record as the community's care workers may read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CareView {
    pub care: u64,
    pub care_ref: u64,
    pub category: CareCategory,
    pub community: u32,
    pub worker: crate::PersonId,
    pub interval_days: u16,
    pub next_due_at: Millis,
    pub visits: u32,
    pub open_services: u32,
    pub escalation: Option<EscalationLevel>,
}

/// Counts only: what analysts may see of care.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CareStats {
    pub enrolled: u64,
    pub visits: u64,
    pub visits_on_time: u64,
    pub overdue_now: u64,
    pub services_opened: u64,
    pub services_done: u64,
}
