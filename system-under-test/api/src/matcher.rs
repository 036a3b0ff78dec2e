//! The watchlist matcher's part of the boundary: watchlist entries, the match policy, sightings
//! from face-capture points, alerts and their review.
//!
//! An alert is a lead, never an action: it reaches command only after the number of reviewers
//! the policy requires have confirmed it. Every entry carries a legal basis, an owner and an
//! expiry; every alert names the watchlist and policy versions that produced it.

use serde::{Deserialize, Serialize};

use crate::Millis;

/// Not an emergency type: the code command gives an incident opened from a confirmed watchlist
/// alert, which needs the nearest police unit and nothing else.
pub const WATCHLIST_LEAD: u16 = 0;

/// Incident keys of confirmed alerts: this base plus the alert's id, clear of any client's keys.
pub const LEAD_REF_BASE: u64 = 1 << 62;

/// An alert the matcher raised from a sighting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct AlertId(pub u64);

/// Why a person is on a watchlist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum ListKind {
    /// Wanted by the police under a warrant.
    Wanted,
    /// Reported missing (a child, an elderly person with dementia).
    Missing,
    /// A key person under community management (the key-persons module's register): a
    /// confirmed sighting is a care lead for their team, and goes to police only as the
    /// sighting policy says.
    KeyPerson,
}

/// One watchlist entry. `entry_ref` is the owner's key; the embedding is a synthetic identity
/// vector (unit length, the matcher's dimension).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct WatchlistEntry {
    pub entry_ref: u64,
    pub list: ListKind,
    /// The warrant, case or report number the entry rests on.
    pub legal_basis: String,
    /// The unit that owns the entry and answers for it.
    pub owner: String,
    /// After this the entry never matches.
    pub expires_at: Millis,
    pub embedding: Vec<f32>,
}

/// How the matcher decides: a score threshold, how many candidates an alert lists, how many
/// distinct reviewers must confirm before command acts.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct MatchPolicy {
    pub threshold: f32,
    pub top_k: u16,
    pub reviewers_required: u8,
}

impl Default for MatchPolicy {
    fn default() -> Self {
        MatchPolicy {
            threshold: 0.5,
            top_k: 5,
            reviewers_required: 2,
        }
    }
}

/// A candidate in an alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct AlertCandidate {
    pub entry_ref: u64,
    pub list: ListKind,
    pub score: f32,
    /// What the entry rests on and who answers for it, for the reviewers.
    pub legal_basis: String,
    pub owner: String,
}

/// A face sighting from a capture point: only kept if it produced an alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Sighting {
    /// The sender's key: sending the same sighting twice returns the first answer.
    pub sighting_ref: u64,
    pub camera: u32,
    pub grid: u32,
    pub x_m: f64,
    pub y_m: f64,
    pub captured_at: Millis,
    /// Capture quality, 0 (unusable) to 1.
    pub quality: f32,
    pub embedding: Vec<f32>,
}

/// The matcher's use log, as a regulator asks of a remote biometric identification system (EU AI
/// Act, Article 12(3)): the period of use, the reference database each search was checked
/// against (watchlist and policy versions), the sightings that matched, and who verified each
/// result; with the safeguards' own figures and the stack's look-ups of personal data by role.
/// An auditor exports it (`ExportMatcherAudit`); the export is itself audited.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct MatcherAudit {
    /// The first and last search (the period of use); `None` before any.
    pub first_search_at: Option<Millis>,
    pub last_search_at: Option<Millis>,
    pub searches: u64,
    /// Searches that matched nothing: answered, then forgotten.
    pub no_match: u64,
    /// Sightings the matcher holds now: one for each pending or confirmed alert.
    pub sightings_held: u64,
    /// Sightings held that no pending or confirmed alert needs (a rejected alert's): the
    /// safeguard says 0.
    pub non_matching_retained: u64,
    /// The watchlist and policy in force now.
    pub watchlist_version: u32,
    pub policy_version: u32,
    /// Every alert raised, in order.
    pub alerts: Vec<AuditedAlert>,
    /// Calls that read personal data through the stack, by command and role.
    pub lookups: Vec<LookupCount>,
}

/// One alert as the use log keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct AuditedAlert {
    pub alert: AlertId,
    /// The sighting that matched (its sender's key; the embedding is never logged).
    pub sighting_ref: u64,
    pub camera: u32,
    pub raised_at: Millis,
    /// The watchlist entries it named.
    pub entry_refs: Vec<u64>,
    pub watchlist_version: u32,
    pub policy_version: u32,
    pub reviewers_required: u8,
    /// Who verified it, in order.
    pub reviews: Vec<AlertReview>,
    /// `pending`, `confirmed` or `rejected`.
    pub state: String,
    /// Whether the matcher still holds its sighting (never, once rejected).
    pub sighting_held: bool,
}

/// A reviewer's verdict on an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct AlertReview {
    pub reviewer: crate::PersonId,
    pub confirm: bool,
    pub at: Millis,
}

/// Calls of one command by one role that read personal data: allowed and refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct LookupCount {
    pub command: String,
    pub role: String,
    pub allowed: u64,
    pub refused: u64,
}
