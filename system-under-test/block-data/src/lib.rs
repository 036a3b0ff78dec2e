//! `baoan-block-data`: the platform's block-data module (块数据). It fuses what each department
//! holds about people and companies (条数据: household registration, rental registration, the
//! business registry, utility accounts, inspectors' door-to-door visits) onto places from the
//! unified address library, so a room, a building or a grid shows who lives and works there and
//! which department said so.
//!
//! It owns the address library and matcher ([`address`]), the record and comparison model
//! ([`person`]), entity resolution with block views and conflicts ([`resolve`]) and the ID and
//! credit-code checks ([`checks`]). It reads no clock (record times arrive with the records) and
//! must not depend on anything in the harness: it never knows its feeds are synthetic.
//!
//! Determinism: clusters, cluster ids and pending states depend only on the set of records
//! ingested, never on their order or on hash order (property-tested), as long as no blocking key
//! outgrows [`resolve::Config::max_block_len`].
//!
//! Not done yet (each is a deliberate gap, not a hidden stub):
//! * Updates: a record resubmitted under the same key with different content is rejected
//!   ([`resolve::RejectReason::ConflictingResubmission`]), and a link once made is never withdrawn.
//! * Conflicts are raised at ingest time against the clusters as they are then, so which
//!   conflicts exist and their ids depend on arrival order; they are not re-evaluated when a
//!   later record changes a cluster.
//! * Addresses: lettered buildings (A座), "之一" sub-numbers, numerals with 百, floors given
//!   without a room, and village-group addresses (村/组) are not parsed; unknown streets and
//!   communities are dropped with a correction rather than failing the match.
//! * Weights are documented priors, not estimated from data (no EM); surnames are taken as the
//!   first character, so compound surnames (欧阳) only score as one-edit or different.
//! * A company's legal representative is compared by ID number only, not linked to the person
//!   clusters; state is in memory only (no persistence).

#![forbid(unsafe_code)]

pub mod address;
pub mod checks;
pub mod person;
pub mod resolve;
pub mod service;
mod text;

pub use address::{
    AddressLibrary, AddressMatch, Correction, Level, MatchFailure, ParsedAddress, Place,
};
pub use checks::{CheckError, validate_credit_code, validate_id_number};
pub use person::{BirthDate, CompanyRecord, Feed, PersonRecord, Record, RecordKey, Sex};
pub use resolve::{BlockData, ClusterId, Config, IngestResult, RecordStatus};
pub use service::BlockDataService;
