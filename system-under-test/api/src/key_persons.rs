//! The key-persons module's part of the boundary — the platform's third "smart governance"
//! application beside key events and key areas: people with severe mental disorders under
//! community management, and people in community drug treatment or community rehabilitation,
//! each worked by a "five-in-one" team (the community police officer, a community doctor, the
//! grid inspector, a community social worker or cadre, and the family guardian).
//!
//! This is the most sensitive data the platform holds (health and criminal records). A record is
//! read by its own team and by auditors only; analysts get counts; a closed record answers
//! auditors alone; every look-up, allowed or refused, is kept in the module's access log, which
//! auditors export. A face sighting of a key person is a care lead for the team, and reaches
//! police only when the person's current risk grade is at or above the versioned policy's level.
//!
//! The rules follow the national work specification for severe mental disorders (国家卫生健康委
//! 《严重精神障碍管理治疗工作规范（2018年版）》: risk grades 0–5, follow-up within two weeks for
//! grades 1–5, every three months when stable) and the drug law and regulation (《禁毒法》 art. 33,
//! 《戒毒条例》 arts. 19 and 37: community drug treatment lasts three years, community
//! rehabilitation at most three; evading tests three times or using again is a serious breach,
//! reported to the police for compulsory isolation). What the texts do not fix is named an
//! assumption where it is set (`baoan-key-persons`).

use serde::{Deserialize, Serialize};

use crate::{EscalationLevel, Millis, PersonId};

/// Incident keys of key-person crises handed to command: this base plus the crisis id, clear of
/// clients' keys, of acute dispute cases (`CASE_REF_BASE`, 2^61) and of the matcher's leads
/// (2^62).
pub const KEY_PERSON_REF_BASE: u64 = 3 << 60;

/// The emergency type of a key-person crisis incident: opened by the stack itself (never by a
/// client), needing the 1-3-5 tiers and a medical unit.
pub const KEY_PERSON_CRISIS: u16 = 0xFFFE;

/// Watchlist entry refs of key persons enrolled for face search (`ListKind::KeyPerson`): this
/// base plus the record id.
pub const KEY_PERSON_ENTRY_BASE: u64 = 1 << 59;

/// The highest risk grade (国家规范 0–5).
pub const MAX_RISK: u8 = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(rename = "KeyPersonCategory"))]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// Schizophrenia, bipolar disorder and the other diagnoses of the 2018 specification, living
    /// at home under community management.
    SevereMentalDisorder,
    /// Ordered by the police into three years of community drug treatment (社区戒毒).
    CommunityDrugTreatment,
    /// Up to three years of community rehabilitation after compulsory isolation (社区康复).
    CommunityRehabilitation,
}

impl Category {
    pub const ALL: [Category; 3] = [
        Category::SevereMentalDisorder,
        Category::CommunityDrugTreatment,
        Category::CommunityRehabilitation,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Category::SevereMentalDisorder => "severe_mental_disorder",
            Category::CommunityDrugTreatment => "community_drug_treatment",
            Category::CommunityRehabilitation => "community_rehabilitation",
        }
    }

    /// The drug categories: urine tests at every follow-up, a fixed term.
    pub fn drugs(self) -> bool {
        self != Category::SevereMentalDisorder
    }
}

/// A team member's part in the five-in-one team.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Function {
    /// The community police officer (社区民警).
    Police,
    /// The community health centre's mental-health doctor (精防医生).
    Doctor,
    /// The grid's inspector (网格员).
    GridInspector,
    /// The community's social worker or cadre (社工/综治干部); the drug-treatment worker for drug
    /// categories.
    SocialWorker,
    /// The family guardian (监护人): reports warning signs, never reads the record.
    Guardian,
}

impl Function {
    pub const ALL: [Function; 5] = [
        Function::Police,
        Function::Doctor,
        Function::GridInspector,
        Function::SocialWorker,
        Function::Guardian,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Function::Police => "police",
            Function::Doctor => "doctor",
            Function::GridInspector => "grid_inspector",
            Function::SocialWorker => "social_worker",
            Function::Guardian => "guardian",
        }
    }
}

/// One professional team member the platform knows: their function and community (inspectors
/// also their grid). Guardians come with each registration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct TeamMemberEntry {
    pub person: PersonId,
    pub function: Function,
    pub community: u32,
    /// The inspector's grid; `None` for the other functions.
    pub grid: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct KeyPersonDirectory {
    pub members: Vec<TeamMemberEntry>,
}

/// A person's team: one member per function where the community has one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Team {
    pub members: Vec<(Function, PersonId)>,
}

impl Team {
    pub fn has(&self, person: PersonId) -> bool {
        self.members.iter().any(|&(_, p)| p == person)
    }

    pub fn function_of(&self, person: PersonId) -> Option<Function> {
        self.members
            .iter()
            .find(|&&(_, p)| p == person)
            .map(|&(f, _)| f)
    }

    pub fn member(&self, function: Function) -> Option<PersonId> {
        self.members
            .iter()
            .find(|&&(f, _)| f == function)
            .map(|&(_, p)| p)
    }
}

/// A urine test's result at a drug-treatment follow-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum UrineTest {
    Negative,
    Positive,
    /// Evaded or refused (three times is a serious breach).
    Refused,
}

/// What a follow-up found: the risk grade assessed (0–5), whether the person takes their
/// treatment, whether warning signs show, and for drug categories the urine test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Findings {
    pub risk: u8,
    pub adherent: bool,
    pub warning_signs: bool,
    pub urine: Option<UrineTest>,
}

/// Who reported a crisis: the team saw it coming (before harm), or a caller reported harm done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum CrisisSource {
    Team,
    /// A 110 call about a registered person, entered by a dispatcher.
    Caller,
}

/// Why a person left management.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum ClosureReason {
    /// The drug term (three years) ran out.
    TermCompleted,
    /// A serious breach of the drug agreement: handed to the police for compulsory isolation.
    CompulsoryIsolation,
    /// Moved out of the district (the new district takes the record over).
    MovedAway,
    Died,
    /// A mental disorder in full remission, taken off management on a doctor's review.
    Recovered,
}

/// Whom a face sighting of a key person reaches: the team always; police only from this grade.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct SightingPolicy {
    pub police_from_risk: u8,
}

/// A record as its team and auditors may read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct KeyPersonView {
    pub person: u64,
    pub person_ref: u64,
    pub category: Category,
    pub risk: u8,
    pub community: u32,
    pub street: u32,
    pub grid: u32,
    pub team: Team,
    pub registered_at: Millis,
    pub next_due_at: Millis,
    pub follow_ups: u32,
    pub refused_tests: u8,
    pub escalation: Option<EscalationLevel>,
    pub closed: Option<(Millis, ClosureReason)>,
    /// Every step on record: (time, what happened).
    pub history: Vec<(Millis, String)>,
}

/// One look-up in the access log: who, which record, when, and whether it was allowed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct AccessEntry {
    pub at: Millis,
    pub reader: PersonId,
    pub role: crate::Role,
    /// The record looked up; `None` for a counts query.
    pub person: Option<u64>,
    pub allowed: bool,
    /// What was returned, or why it was refused.
    pub detail: String,
}

/// Counts only, for analysts.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct KeyPersonStats {
    pub registered: u64,
    pub open: u64,
    pub by_category: Vec<(Category, u64)>,
    pub by_risk: [u64; 6],
    pub follow_ups: u64,
    pub follow_ups_on_time: u64,
    pub overdue_now: u64,
    pub crises: u64,
    pub care_leads: u64,
    pub police_leads: u64,
    pub closed: u64,
    pub look_ups: u64,
    pub look_ups_refused: u64,
}

/// A follow-up the platform pushed to the person's team: who leads it and when it is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct FollowUpTask {
    pub person: u64,
    pub lead: PersonId,
    pub due_at: Millis,
    /// Police join the visit (grades 3–5: the specification's "with the police's help").
    pub with_police: bool,
}

/// Why an escalation happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum EscalationReason {
    /// The follow-up is past its due date.
    Overdue,
    /// The risk grade is high (3–4: the street supervises; 5: the district).
    HighRisk,
}
