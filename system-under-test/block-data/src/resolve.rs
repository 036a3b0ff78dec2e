//! Entity resolution of department records onto places: blocking, scored comparison,
//! deterministic clustering, block views by room, building and grid, and conflicts that become
//! inspectors' verification tasks.
//!
//! Records arrive one at a time ([`BlockData::ingest`]). Each is compared only with records that
//! share a blocking key, scored with Fellegi–Sunter weights ([`crate::person`]), and linked when
//! the score clears the link threshold. Clusters are recomputed for the connected component the
//! new record touches, from that component's links sorted by (score desc, record keys), so they
//! depend only on the set of records, not on arrival order or hash order.

use std::collections::BTreeMap;

use rustc_hash::{FxHashMap, FxHashSet};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::address::{AddressLibrary, BuildingId, GridId, MatchFailure, Place, RoomId};
use crate::person::{
    AddressAgreement, BirthDate, CompanyRecord, CompanyWeights, FieldAgreement, IdAgreement,
    IdentField, IdentScheme, NameAgreement, PairScore, PersonRecord, PersonWeights, Record,
    RecordKey, Sex, address_weight, company_code_weight, company_name_weight, compare_idents,
    compare_names, compare_values, field_weight, person_id_weight, person_name_weight,
};
use crate::text::{Interner, Sym, fold_char};

const NONE: u32 = u32::MAX;
const SLOTS: usize = 4;

/// Tunables of the resolver. Scores are in centibits (100 × log2 likelihood ratio).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Config {
    /// A pair at or above this score links (subject to the invalid-identifier rule).
    pub link_threshold_cb: i32,
    /// A pair at or above this score that does not link leaves the record pending review.
    pub review_threshold_cb: i32,
    /// More companies than this in one room raises a conflict for inspection ...
    pub max_companies_per_room: usize,
    /// ... or than this in a flat (a room of a residential building), where companies are few
    /// and a crowd of them is the classic false registration.
    pub max_companies_per_flat: usize,
    /// A blocking key shared by more records than this stops producing candidate pairs (a
    /// bound against quadratic blow-up on junk keys); counted in [`BlockingStats`].
    pub max_block_len: u32,
    /// Records accepted before ingest rejects with [`RejectReason::CapacityExceeded`].
    pub max_records: usize,
    /// How long a record whose address the library cannot place in a building waits before it
    /// becomes a visit: if meanwhile another record of the same person (or a company's other
    /// feeds) places the entity, nobody is sent. A company's registered address in the business
    /// registry is verified whatever else is known: the registration itself is what is checked.
    pub unknown_address_hold_ms: i64,
    pub person_weights: PersonWeights,
    pub company_weights: CompanyWeights,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            link_threshold_cb: 2000,
            review_threshold_cb: 1000,
            max_companies_per_room: 50,
            max_companies_per_flat: 3,
            max_block_len: 1000,
            max_records: 100_000_000,
            unknown_address_hold_ms: 3_600_000,
            person_weights: PersonWeights::default(),
            company_weights: CompanyWeights::default(),
        }
    }
}

/// A resolved person or company, named by the smallest record key among its records, so the
/// name does not depend on which record arrived first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ClusterId(pub RecordKey);

#[derive(Debug, Clone, PartialEq, Eq, Error, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum RejectReason {
    #[error("field `name` is empty, expected the person's or company's name")]
    EmptyName,
    #[error(
        "record {feed:?}/{record_ref} was already ingested with different content (fields {fields:?}); updates are not supported, expected an identical resubmission or a new record_ref"
    )]
    ConflictingResubmission {
        feed: crate::person::Feed,
        record_ref: u64,
        fields: Vec<String>,
    },
    #[error("field `birth_date` is {year:04}-{month:02}-{day:02}, expected a calendar date")]
    InvalidBirthDate { year: u16, month: u8, day: u8 },
    #[error("the block data holds {limit} records, its configured limit")]
    CapacityExceeded { limit: usize },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum PendingReason {
    /// A candidate scored between the review and link thresholds.
    PossibleMatch { with: RecordKey, score_cb: i32 },
    /// A candidate scored enough to link, but on an identifier that fails its check digit
    /// without agreeing name and birth date or place: a clerk must confirm.
    InvalidIdNeedsEvidence { with: RecordKey, score_cb: i32 },
}

/// Where a record stands. Every record ingested is in exactly one of these.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum RecordStatus {
    /// Part of a resolved entity (possibly on its own: a person no other feed knows yet).
    Linked {
        cluster: ClusterId,
        cluster_size: u32,
    },
    /// On its own, with a possible match that needs review or more evidence.
    Pending {
        cluster: ClusterId,
        reason: PendingReason,
    },
    Rejected {
        reason: RejectReason,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngestResult {
    pub key: RecordKey,
    pub status: RecordStatus,
    /// The same record (same key, same content) had been ingested before; nothing changed.
    pub repeated: bool,
}

/// Which blocking key produced candidate pairs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BlockKind {
    /// Same valid ID number.
    PersonIdNumber,
    /// Same name and birth date (given, or read from a valid ID number).
    PersonNameBirthDate,
    /// Same name in the same room (or building, when the room is unknown).
    PersonPlaceName,
    /// Same name and same first 14 ID characters: finds a typo in the last four.
    PersonNameIdPrefix,
    CompanyCreditCode,
    CompanyName,
    /// Same legal representative in the same building.
    CompanyRepresentativeBuilding,
}

impl BlockKind {
    pub const ALL: [BlockKind; 7] = [
        BlockKind::PersonIdNumber,
        BlockKind::PersonNameBirthDate,
        BlockKind::PersonPlaceName,
        BlockKind::PersonNameIdPrefix,
        BlockKind::CompanyCreditCode,
        BlockKind::CompanyName,
        BlockKind::CompanyRepresentativeBuilding,
    ];
}

/// How much work blocking did: candidate pairs per key (a pair found by two keys counts under
/// both), distinct pairs scored, and what came of them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockingStats {
    pub candidate_pairs: BTreeMap<BlockKind, u64>,
    pub pairs_scored: u64,
    pub links: u64,
    pub reviews: u64,
    /// Links withheld by the invalid-identifier rule.
    pub withheld_invalid_id: u64,
    pub oversized_block_skips: u64,
    /// Resubmissions rejected because their content differed from the accepted record.
    pub conflicting_resubmissions: u64,
    /// Records whose address the library could not place, settled without a visit because
    /// another record placed their entity in a building.
    pub unplaced_settled_by_entity: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum BlockKey {
    PersonId([u8; 18]),
    PersonNameBirth(Sym, u32),
    PersonPlaceName(u64, Sym),
    PersonNameIdPrefix(Sym, [u8; 14]),
    CompanyCode([u8; 18]),
    CompanyName(Sym),
    CompanyRepBuilding([u8; 18], BuildingId),
}

impl BlockKey {
    fn kind(&self) -> BlockKind {
        match self {
            BlockKey::PersonId(_) => BlockKind::PersonIdNumber,
            BlockKey::PersonNameBirth(..) => BlockKind::PersonNameBirthDate,
            BlockKey::PersonPlaceName(..) => BlockKind::PersonPlaceName,
            BlockKey::PersonNameIdPrefix(..) => BlockKind::PersonNameIdPrefix,
            BlockKey::CompanyCode(_) => BlockKind::CompanyCreditCode,
            BlockKey::CompanyName(_) => BlockKind::CompanyName,
            BlockKey::CompanyRepBuilding(..) => BlockKind::CompanyRepresentativeBuilding,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    Person,
    Company,
}

/// A record as stored: normalised, interned, placed.
#[derive(Debug, Clone)]
struct Stored {
    key: RecordKey,
    kind: EntityKind,
    name: Sym,
    /// ID number (people) or credit code (companies).
    ident: IdentField,
    /// Legal representative's ID number (companies).
    representative: IdentField,
    sex: Option<Sex>,
    birth_given: Option<BirthDate>,
    /// Given birth date, else the one in a valid ID number; 0 when unknown.
    birth: u32,
    address: Sym,
    phone: u64,
    observed_at_ms: i64,
    place: Place,
    /// An inspector's finding put the record somewhere else (or confirmed where it is).
    place_override: Option<Place>,
    /// An inspector found the record's entity is not at its place: left out of block views.
    hidden: bool,
}

impl Stored {
    fn same_content(&self, other: &Stored) -> Vec<&'static str> {
        let mut fields = Vec::new();
        let checks: [(&'static str, bool); 9] = [
            ("kind", self.kind == other.kind),
            ("name", self.name == other.name),
            ("id_number/credit_code", self.ident == other.ident),
            (
                "legal_representative_id",
                self.representative == other.representative,
            ),
            ("sex", self.sex == other.sex),
            ("birth_date", self.birth_given == other.birth_given),
            ("address", self.address == other.address),
            ("phone", self.phone == other.phone),
            (
                "observed_at_ms",
                self.observed_at_ms == other.observed_at_ms,
            ),
        ];
        for (field, same) in checks {
            if !same {
                fields.push(field);
            }
        }
        fields
    }

    fn effective_place(&self) -> Option<Place> {
        if self.hidden {
            None
        } else {
            Some(self.place_override.unwrap_or(self.place))
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Edge {
    a: u32,
    b: u32,
    score_cb: i32,
}

/// A connected component of the link graph: the records and links whose clustering is
/// recomputed together.
#[derive(Debug, Clone, Default)]
struct Component {
    members: Vec<u32>,
    edges: Vec<Edge>,
}

#[derive(Debug, Clone, Copy)]
struct Review {
    other: u32,
    score_cb: i32,
    withheld: bool,
}

/// The part of a record's preparation that reads block data but changes nothing, so a batch's
/// records are parsed on several threads before they are linked in order.
struct Parsed {
    /// The name folded (full-width to ASCII, punctuation and spaces dropped), and its hash.
    name: String,
    name_hash: u64,
    address_hash: u64,
    /// The library's answer for an address not cached when parsed; `None` when it was cached.
    located: Option<CachedAddress>,
    /// ID number (people) or credit code (companies), and a company's representative's.
    ident: IdentField,
    representative: IdentField,
}

#[derive(Debug, Clone, Copy)]
struct CachedAddress {
    place: Place,
    /// The text names a place the library lacks, or fits several equally.
    unresolved: bool,
}

pub type ConflictId = u64;

/// Something the feeds disagree on, or the library lacks, that an inspector should verify.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conflict {
    pub id: ConflictId,
    pub kind: ConflictKind,
    /// The record whose arrival raised it.
    pub raised_by: RecordKey,
    pub raised_at_ms: i64,
    pub resolution: Option<Resolution>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum ConflictKind {
    /// Two feeds place one person in different buildings.
    AddressDisagreement {
        person: ClusterId,
        records: [RecordKey; 2],
        places: [Place; 2],
    },
    /// More companies registered to one room than the configured limit.
    CrowdedRoom {
        room: RoomId,
        companies: Vec<ClusterId>,
        limit: usize,
    },
    /// An address naming a place the library does not have, or several equally.
    UnknownAddress {
        record: RecordKey,
        text: String,
        failure: MatchFailure,
    },
}

/// What an inspector found on site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Finding {
    /// The person lives in this room; records placing them elsewhere leave the block views.
    PersonLivesAt { room: RoomId },
    /// The person no longer lives in this building; records placing them there leave the views.
    PersonMovedOut { building: BuildingId },
    /// Exactly these companies are present in the room; the others leave its view.
    CompaniesPresent { companies: Vec<ClusterId> },
    /// The record's address is this room.
    AddressIs { room: RoomId },
    /// The address does not exist on the ground; the record leaves the views.
    AddressDoesNotExist,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resolution {
    pub finding: Finding,
    pub resolved_at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ResolveError {
    #[error("conflict {0} does not exist")]
    UnknownConflict(ConflictId),
    #[error("conflict {0} is already resolved")]
    AlreadyResolved(ConflictId),
    #[error("finding {finding} does not apply to a {conflict} conflict")]
    FindingDoesNotApply {
        conflict: &'static str,
        finding: &'static str,
    },
    #[error("room {0} is not in the address library")]
    UnknownRoom(RoomId),
    #[error("company {0:?} is not registered in room {1}, expected one of the room's companies")]
    CompanyNotInRoom(ClusterId, RoomId),
}

/// One person or company in a block view, with the records (and so the feeds) that put it there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Occupant {
    pub cluster: ClusterId,
    /// Sorted; the feed of each record is its provenance.
    pub records: Vec<RecordKey>,
}

impl Occupant {
    pub fn feeds(&self) -> Vec<crate::person::Feed> {
        let mut feeds: Vec<_> = self.records.iter().map(|k| k.feed).collect();
        feeds.dedup();
        feeds
    }
}

/// Who lives and works at a place, by resolved entity, sorted by cluster id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockView {
    pub persons: Vec<Occupant>,
    pub companies: Vec<Occupant>,
}

/// A company record's identifiers as text, each with whether it passes its check digit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompanyIdents {
    pub credit_code: Option<(String, bool)>,
    pub representative: Option<(String, bool)>,
}

/// Counts of records by state: their sum is every distinct record key ever offered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Accounting {
    pub linked: usize,
    pub pending: usize,
    pub rejected: usize,
}

/// The block data: records fused onto the address library, resolved into people and companies.
pub struct BlockData {
    library: AddressLibrary,
    config: Config,
    interner: Interner,
    records: Vec<Stored>,
    index: FxHashMap<RecordKey, u32>,
    rejected: FxHashMap<RecordKey, RejectReason>,

    blocks: FxHashMap<BlockKey, (u32, u32)>,
    next_in_block: Vec<[u32; SLOTS]>,

    /// Union-find over the link graph, ignoring the cannot-link rule.
    raw_parent: Vec<u32>,
    /// Component slot of a root record, `NONE` for a record without links.
    component_of_root: Vec<u32>,
    components: Vec<Component>,
    free_components: Vec<u32>,
    /// The record naming each record's cluster (smallest key), and at it the cluster size.
    cluster_rep: Vec<u32>,
    cluster_size: Vec<u32>,
    best_review: Vec<Option<Review>>,

    address_cache: FxHashMap<Sym, CachedAddress>,
    by_room: FxHashMap<RoomId, Vec<u32>>,
    by_building: FxHashMap<BuildingId, Vec<u32>>,

    conflicts: Vec<Conflict>,
    crowded_rooms_open: FxHashSet<RoomId>,
    in_address_conflict: FxHashSet<u32>,
    /// The latest time the platform has seen (a batch's sending, the clock's advance).
    clock_ms: i64,
    /// Records whose address reaches no building, in arrival order, with the time each is due
    /// for a verdict (see [`Config::unknown_address_hold_ms`]).
    awaiting_place: std::collections::VecDeque<(i64, u32)>,

    stats: BlockingStats,
    scratch_candidates: Vec<(u32, BlockKind)>,
}

impl BlockData {
    pub fn new(library: AddressLibrary, config: Config) -> Self {
        BlockData {
            library,
            config,
            interner: Interner::default(),
            records: Vec::new(),
            index: FxHashMap::default(),
            rejected: FxHashMap::default(),
            blocks: FxHashMap::default(),
            next_in_block: Vec::new(),
            raw_parent: Vec::new(),
            component_of_root: Vec::new(),
            components: Vec::new(),
            free_components: Vec::new(),
            cluster_rep: Vec::new(),
            cluster_size: Vec::new(),
            best_review: Vec::new(),
            address_cache: FxHashMap::default(),
            by_room: FxHashMap::default(),
            by_building: FxHashMap::default(),
            conflicts: Vec::new(),
            crowded_rooms_open: FxHashSet::default(),
            in_address_conflict: FxHashSet::default(),
            clock_ms: 0,
            awaiting_place: std::collections::VecDeque::new(),
            stats: BlockingStats::default(),
            scratch_candidates: Vec::new(),
        }
    }

    pub fn library(&self) -> &AddressLibrary {
        &self.library
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    pub fn blocking_stats(&self) -> &BlockingStats {
        &self.stats
    }

    // --------------------------------------------------------------------------------------------
    // Ingest
    // --------------------------------------------------------------------------------------------

    /// Takes one department record: places it, links it to a person or company (or leaves it
    /// pending or rejects it, with the reason), and raises conflicts it reveals. Re-ingesting
    /// the same record with the same content changes nothing.
    pub fn ingest(&mut self, record: &Record) -> IngestResult {
        let parsed = self.parse(record);
        self.ingest_parsed(record, parsed)
    }

    /// [`BlockData::ingest`] for each record in order, with the same results: the part of the
    /// work that reads nothing ingest changes (folding names, parsing identifiers, locating new
    /// addresses in the library) runs on every core first, then the records are linked one by
    /// one. The thread count never changes a result.
    pub fn ingest_batch(&mut self, records: &[Record]) -> Vec<IngestResult> {
        use rayon::prelude::*;
        // Below this a batch is parsed on the caller's thread: handing out work costs more.
        const PARALLEL_FROM: usize = 256;
        let parsed: Vec<Parsed> = if records.len() >= PARALLEL_FROM {
            let this = &*self;
            records
                .par_iter()
                .with_min_len(64)
                .map(|r| this.parse(r))
                .collect()
        } else {
            records.iter().map(|r| self.parse(r)).collect()
        };
        records
            .iter()
            .zip(parsed)
            .map(|(r, p)| self.ingest_parsed(r, p))
            .collect()
    }

    fn ingest_parsed(&mut self, record: &Record, parsed: Parsed) -> IngestResult {
        let key = record.key();
        let stored = match self.prepare(record, parsed) {
            Ok(stored) => stored,
            Err(reason) => return self.reject(key, reason),
        };
        if let Some(&i) = self.index.get(&key) {
            let differing = self.records[i as usize].same_content(&stored);
            if differing.is_empty() {
                return IngestResult {
                    key,
                    status: self.status_of(i),
                    repeated: true,
                };
            }
            self.stats.conflicting_resubmissions += 1;
            return IngestResult {
                key,
                status: RecordStatus::Rejected {
                    reason: RejectReason::ConflictingResubmission {
                        feed: key.feed,
                        record_ref: key.record_ref,
                        fields: differing.into_iter().map(String::from).collect(),
                    },
                },
                repeated: false,
            };
        }
        if self.records.len() >= self.config.max_records {
            return self.reject(
                key,
                RejectReason::CapacityExceeded {
                    limit: self.config.max_records,
                },
            );
        }
        // A record once rejected and now acceptable (a corrected resubmission) is accepted.
        self.rejected.remove(&key);
        let i = self.insert(stored);
        self.link(i);
        self.raise_conflicts(i);
        IngestResult {
            key,
            status: self.status_of(i),
            repeated: false,
        }
    }

    fn reject(&mut self, key: RecordKey, reason: RejectReason) -> IngestResult {
        if self.index.contains_key(&key) {
            // The accepted record stands; this submission is refused.
            self.stats.conflicting_resubmissions += 1;
            return IngestResult {
                key,
                status: RecordStatus::Rejected { reason },
                repeated: false,
            };
        }
        let repeated = self.rejected.get(&key) == Some(&reason);
        self.rejected.insert(key, reason.clone());
        IngestResult {
            key,
            status: RecordStatus::Rejected { reason },
            repeated,
        }
    }

    fn locate_cached(&self, text: &str) -> CachedAddress {
        let m = self.library.locate(text);
        CachedAddress {
            place: m.place,
            unresolved: m.is_not_found() || m.is_ambiguous(),
        }
    }

    /// The record's folded name as a symbol; an empty one is refused.
    fn intern_name(&mut self, parsed: &Parsed) -> Result<Sym, RejectReason> {
        let name = self.interner.intern_hashed(&parsed.name, parsed.name_hash);
        if parsed.name.is_empty() {
            return Err(RejectReason::EmptyName);
        }
        Ok(name)
    }

    /// What can be worked out of a record without changing block data (see [`Parsed`]).
    fn parse(&self, record: &Record) -> Parsed {
        let (name, address) = match record {
            Record::Person(p) => (&p.name, &p.address),
            Record::Company(c) => (&c.name, &c.registered_address),
        };
        let name: String = name.chars().filter_map(fold_char).collect();
        let address_hash = Interner::hash(address);
        let known = self
            .interner
            .get_hashed(address, address_hash)
            .is_some_and(|sym| self.address_cache.contains_key(&sym));
        let (ident, representative) = match record {
            Record::Person(p) => (
                IdentField::parse(p.id_number.as_deref(), IdentScheme::IdNumber),
                IdentField::Missing,
            ),
            Record::Company(c) => (
                IdentField::parse(c.credit_code.as_deref(), IdentScheme::CreditCode),
                IdentField::parse(c.legal_representative_id.as_deref(), IdentScheme::IdNumber),
            ),
        };
        Parsed {
            name_hash: Interner::hash(&name),
            name,
            address_hash,
            located: (!known).then(|| self.locate_cached(address)),
            ident,
            representative,
        }
    }

    fn place_of(&mut self, text: &str, parsed: &Parsed) -> (Sym, CachedAddress) {
        let sym = self.interner.intern_hashed(text, parsed.address_hash);
        if let Some(&cached) = self.address_cache.get(&sym) {
            return (sym, cached);
        }
        // `parse` located every address not cached then, and the cache only grows.
        let cached = parsed
            .located
            .expect("an address uncached when parsed was located then");
        self.address_cache.insert(sym, cached);
        (sym, cached)
    }

    fn prepare(&mut self, record: &Record, parsed: Parsed) -> Result<Stored, RejectReason> {
        let key = record.key();
        match record {
            Record::Person(p) => self.prepare_person(key, p, parsed),
            Record::Company(c) => self.prepare_company(key, c, parsed),
        }
    }

    fn prepare_person(
        &mut self,
        key: RecordKey,
        p: &PersonRecord,
        parsed: Parsed,
    ) -> Result<Stored, RejectReason> {
        let name = self.intern_name(&parsed)?;
        let birth_given = p.birth_date;
        let given = match birth_given {
            Some(d) => Some(d.as_yyyymmdd().ok_or(RejectReason::InvalidBirthDate {
                year: d.year,
                month: d.month,
                day: d.day,
            })?),
            None => None,
        };
        let ident = parsed.ident;
        let birth = given
            .or_else(|| ident.valid().map(|i| i.birth_yyyymmdd()))
            .unwrap_or(0);
        let sex = p.sex.or_else(|| ident.valid().map(|i| i.sex()));
        let phone = p
            .phone
            .as_deref()
            .map(|ph| {
                ph.chars()
                    .filter_map(fold_char)
                    .filter(char::is_ascii_digit)
                    .take(19)
                    .fold(0u64, |v, d| v * 10 + u64::from(d as u8 - b'0'))
            })
            .unwrap_or(0);
        let (address, cached) = self.place_of(&p.address, &parsed);
        Ok(Stored {
            key,
            kind: EntityKind::Person,
            name,
            ident,
            representative: IdentField::Missing,
            sex,
            birth_given,
            birth,
            address,
            phone,
            observed_at_ms: p.observed_at_ms,
            place: cached.place,
            place_override: None,
            hidden: false,
        })
    }

    fn prepare_company(
        &mut self,
        key: RecordKey,
        c: &CompanyRecord,
        parsed: Parsed,
    ) -> Result<Stored, RejectReason> {
        let name = self.intern_name(&parsed)?;
        let (address, cached) = self.place_of(&c.registered_address, &parsed);
        Ok(Stored {
            key,
            kind: EntityKind::Company,
            name,
            ident: parsed.ident,
            representative: parsed.representative,
            sex: None,
            birth_given: None,
            birth: 0,
            address,
            phone: 0,
            observed_at_ms: c.observed_at_ms,
            place: cached.place,
            place_override: None,
            hidden: false,
        })
    }

    fn insert(&mut self, stored: Stored) -> u32 {
        let i = self.records.len() as u32;
        self.index.insert(stored.key, i);
        if let Some(room) = stored.place.room {
            self.by_room.entry(room).or_default().push(i);
        }
        if let Some(building) = stored.place.building {
            self.by_building.entry(building).or_default().push(i);
        }
        self.records.push(stored);
        self.next_in_block.push([NONE; SLOTS]);
        self.raw_parent.push(i);
        self.component_of_root.push(NONE);
        self.cluster_rep.push(i);
        self.cluster_size.push(1);
        self.best_review.push(None);
        i
    }

    fn block_keys(&self, r: &Stored) -> [Option<BlockKey>; SLOTS] {
        match r.kind {
            EntityKind::Person => {
                let place_key = match (r.place.room, r.place.building) {
                    (Some(room), _) => Some(u64::from(room)),
                    (None, Some(b)) => Some((1 << 32) | u64::from(b)),
                    _ => None,
                };
                [
                    r.ident.valid().map(|id| BlockKey::PersonId(id.bytes)),
                    (r.birth != 0).then_some(BlockKey::PersonNameBirth(r.name, r.birth)),
                    place_key.map(|p| BlockKey::PersonPlaceName(p, r.name)),
                    r.ident.parsed().map(|id| {
                        BlockKey::PersonNameIdPrefix(
                            r.name,
                            id.bytes[..14].try_into().expect("14 bytes"),
                        )
                    }),
                ]
            }
            EntityKind::Company => [
                r.ident
                    .valid()
                    .map(|code| BlockKey::CompanyCode(code.bytes)),
                Some(BlockKey::CompanyName(r.name)),
                match (r.representative.valid(), r.place.building) {
                    (Some(rep), Some(b)) => Some(BlockKey::CompanyRepBuilding(rep.bytes, b)),
                    _ => None,
                },
                None,
            ],
        }
    }

    /// Finds candidates through the blocks, scores them, and updates links and clusters.
    fn link(&mut self, i: u32) {
        let keys = self.block_keys(&self.records[i as usize]);
        let mut candidates = std::mem::take(&mut self.scratch_candidates);
        candidates.clear();
        for (slot, key) in keys.iter().enumerate() {
            let Some(key) = key else { continue };
            let kind = key.kind();
            let entry = self.blocks.entry(*key).or_insert((NONE, 0));
            let (head, len) = *entry;
            if len < self.config.max_block_len {
                let mut j = head;
                while j != NONE {
                    candidates.push((j, kind));
                    j = self.next_in_block[j as usize][slot];
                }
                *self.stats.candidate_pairs.entry(kind).or_default() += u64::from(len);
            } else {
                self.stats.oversized_block_skips += 1;
            }
            *entry = (i, len + 1);
            self.next_in_block[i as usize][slot] = head;
        }
        candidates.sort_unstable_by_key(|&(j, _)| j);
        candidates.dedup_by_key(|&mut (j, _)| j);

        let mut links: Vec<Edge> = Vec::new();
        for &(j, _) in &candidates {
            let score = self.score(i, j);
            self.stats.pairs_scored += 1;
            let linkable = score.total_cb >= self.config.link_threshold_cb;
            let withheld =
                linkable && score.id_fails_check && !self.evidence_beyond_id(&score, i, j);
            if linkable && !withheld {
                self.stats.links += 1;
                links.push(Edge {
                    a: i,
                    b: j,
                    score_cb: score.total_cb,
                });
            } else if score.total_cb >= self.config.review_threshold_cb {
                if withheld {
                    self.stats.withheld_invalid_id += 1;
                } else {
                    self.stats.reviews += 1;
                }
                let review = Review {
                    other: j,
                    score_cb: score.total_cb,
                    withheld,
                };
                self.offer_review(i, review);
                self.offer_review(j, Review { other: i, ..review });
            }
        }
        self.scratch_candidates = candidates;
        if !links.is_empty() {
            self.add_links(i, links);
        }
    }

    fn evidence_beyond_id(&self, score: &PairScore, i: u32, j: u32) -> bool {
        match self.records[i as usize].kind {
            EntityKind::Person => score.has_evidence_beyond_id(),
            EntityKind::Company => {
                let names = matches!(score.name, NameAgreement::Exact | NameAgreement::OneEdit);
                let place = matches!(
                    score.address,
                    AddressAgreement::SameRoom | AddressAgreement::SameBuilding
                );
                let (a, b) = (&self.records[i as usize], &self.records[j as usize]);
                let representative = matches!(
                    (a.representative.valid(), b.representative.valid()),
                    (Some(x), Some(y)) if x == y
                );
                names && (place || representative)
            }
        }
    }

    /// Keeps each record's best review candidate: highest score, then smallest key, so the
    /// choice does not depend on arrival order.
    fn offer_review(&mut self, at: u32, review: Review) {
        let better = match self.best_review[at as usize] {
            None => true,
            Some(current) => {
                (
                    review.score_cb,
                    std::cmp::Reverse(self.records[review.other as usize].key),
                ) > (
                    current.score_cb,
                    std::cmp::Reverse(self.records[current.other as usize].key),
                )
            }
        };
        if better {
            self.best_review[at as usize] = Some(review);
        }
    }

    fn compare_places(a: &Place, b: &Place) -> AddressAgreement {
        match (a.room, b.room, a.building, b.building) {
            (Some(x), Some(y), _, _) if x == y => AddressAgreement::SameRoom,
            (_, _, Some(x), Some(y)) if x == y => AddressAgreement::SameBuilding,
            (_, _, Some(_), Some(_)) => AddressAgreement::Different,
            _ => AddressAgreement::Missing,
        }
    }

    /// The Fellegi–Sunter score of a pair of records of the same kind.
    pub(crate) fn score(&self, i: u32, j: u32) -> PairScore {
        let (a, b) = (&self.records[i as usize], &self.records[j as usize]);
        let name = compare_names(self.interner.resolve(a.name), self.interner.resolve(b.name));
        let id = compare_idents(a.ident, b.ident);
        let address = Self::compare_places(&a.place, &b.place);
        let id_fails_check =
            id != IdAgreement::Missing && (a.ident.fails_check() || b.ident.fails_check());
        match a.kind {
            EntityKind::Person => {
                let w = &self.config.person_weights;
                let birth = compare_values(
                    (a.birth != 0).then_some(a.birth),
                    (b.birth != 0).then_some(b.birth),
                );
                let sex = compare_values(a.sex, b.sex);
                let phone = compare_values(
                    (a.phone != 0).then_some(a.phone),
                    (b.phone != 0).then_some(b.phone),
                );
                let total_cb = person_name_weight(w, name)
                    + person_id_weight(w, id)
                    + field_weight(birth, w.birth_agree, w.birth_disagree)
                    + field_weight(sex, w.sex_agree, w.sex_disagree)
                    + address_weight(address, w.same_room, w.same_building, w.address_different)
                    + field_weight(phone, w.phone_agree, w.phone_disagree);
                PairScore {
                    name,
                    id,
                    birth,
                    sex,
                    address,
                    phone,
                    id_fails_check,
                    total_cb,
                }
            }
            EntityKind::Company => {
                let w = &self.config.company_weights;
                let representative = compare_values(
                    a.representative.valid().map(|r| r.bytes),
                    b.representative.valid().map(|r| r.bytes),
                );
                let total_cb = company_name_weight(w, name)
                    + company_code_weight(w, id)
                    + field_weight(
                        representative,
                        w.representative_equal,
                        w.representative_different,
                    )
                    + address_weight(address, w.same_room, w.same_building, w.address_different);
                PairScore {
                    name,
                    id,
                    birth: FieldAgreement::Missing,
                    sex: FieldAgreement::Missing,
                    address,
                    phone: representative,
                    id_fails_check,
                    total_cb,
                }
            }
        }
    }

    // --------------------------------------------------------------------------------------------
    // Clustering
    // --------------------------------------------------------------------------------------------

    fn find(&mut self, mut x: u32) -> u32 {
        while self.raw_parent[x as usize] != x {
            let parent = self.raw_parent[x as usize];
            self.raw_parent[x as usize] = self.raw_parent[parent as usize];
            x = parent;
        }
        x
    }

    fn take_component(&mut self, root: u32) -> Component {
        match self.component_of_root[root as usize] {
            NONE => Component {
                members: vec![root],
                edges: Vec::new(),
            },
            slot => {
                self.component_of_root[root as usize] = NONE;
                self.free_components.push(slot);
                std::mem::take(&mut self.components[slot as usize])
            }
        }
    }

    fn add_links(&mut self, i: u32, links: Vec<Edge>) {
        let mut roots: Vec<u32> = links.iter().map(|e| e.b).chain([i]).collect();
        for r in roots.iter_mut() {
            *r = self.find(*r);
        }
        roots.sort_unstable();
        roots.dedup();
        // Merge smaller components into the largest.
        let mut parts: Vec<Component> = roots.iter().map(|&r| self.take_component(r)).collect();
        parts.sort_by_key(|c| std::cmp::Reverse(c.members.len()));
        let mut merged = parts.swap_remove(0);
        for part in parts {
            merged.members.extend(part.members);
            merged.edges.extend(part.edges);
        }
        merged.edges.extend(links);
        let root = roots[0];
        for &r in &roots {
            self.raw_parent[r as usize] = root;
        }
        self.recluster(&merged);
        let slot = match self.free_components.pop() {
            Some(slot) => {
                self.components[slot as usize] = merged;
                slot
            }
            None => {
                self.components.push(merged);
                (self.components.len() - 1) as u32
            }
        };
        self.component_of_root[root as usize] = slot;
    }

    fn anchor(&self, r: u32) -> Option<[u8; 18]> {
        self.records[r as usize].ident.valid().map(|i| i.bytes)
    }

    /// Clusters one component: its links in (score desc, smaller key, larger key) order, each
    /// merging two clusters unless they hold different valid identifiers (two people, or two
    /// firms, can never be one). The result depends only on the component's links.
    fn recluster(&mut self, component: &Component) {
        let members = &component.members;
        let mut anchors: Vec<[u8; 18]> = members.iter().filter_map(|&m| self.anchor(m)).collect();
        anchors.sort_unstable();
        anchors.dedup();
        if anchors.len() <= 1 {
            // No two distinct identifiers: the whole component is one entity.
            let rep = *members
                .iter()
                .min_by_key(|&&m| self.records[m as usize].key)
                .expect("a component has members");
            for &m in members {
                self.cluster_rep[m as usize] = rep;
            }
            self.cluster_size[rep as usize] = members.len() as u32;
            return;
        }

        let mut sorted_members = members.clone();
        sorted_members.sort_unstable();
        let local = |r: u32| {
            sorted_members
                .binary_search(&r)
                .expect("edge within component")
        };
        let mut edges: Vec<(i32, RecordKey, RecordKey, usize, usize)> = component
            .edges
            .iter()
            .map(|e| {
                let (ka, kb) = (
                    self.records[e.a as usize].key,
                    self.records[e.b as usize].key,
                );
                let (lo, hi) = if ka < kb { (ka, kb) } else { (kb, ka) };
                (-e.score_cb, lo, hi, local(e.a), local(e.b))
            })
            .collect();
        edges.sort_unstable_by_key(|&(score, lo, hi, _, _)| (score, lo, hi));

        let n = sorted_members.len();
        let mut parent: Vec<usize> = (0..n).collect();
        let mut root_anchor: Vec<Option<[u8; 18]>> =
            sorted_members.iter().map(|&m| self.anchor(m)).collect();
        fn root(parent: &mut [usize], mut x: usize) -> usize {
            while parent[x] != x {
                parent[x] = parent[parent[x]];
                x = parent[x];
            }
            x
        }
        for &(_, _, _, a, b) in &edges {
            let (ra, rb) = (root(&mut parent, a), root(&mut parent, b));
            if ra == rb {
                continue;
            }
            match (root_anchor[ra], root_anchor[rb]) {
                (Some(x), Some(y)) if x != y => continue,
                (x, y) => {
                    let (keep, gone) = if ra < rb { (ra, rb) } else { (rb, ra) };
                    parent[gone] = keep;
                    root_anchor[keep] = x.or(y);
                }
            }
        }
        let mut rep_of_root: Vec<u32> = vec![NONE; n];
        let mut size_of_root: Vec<u32> = vec![0; n];
        for (l, &m) in sorted_members.iter().enumerate() {
            let r = root(&mut parent, l);
            size_of_root[r] += 1;
            let current = rep_of_root[r];
            if current == NONE || self.records[m as usize].key < self.records[current as usize].key
            {
                rep_of_root[r] = m;
            }
        }
        for (l, &m) in sorted_members.iter().enumerate() {
            let r = root(&mut parent, l);
            self.cluster_rep[m as usize] = rep_of_root[r];
            if rep_of_root[r] == m {
                self.cluster_size[m as usize] = size_of_root[r];
            }
        }
    }

    fn cluster_id(&self, i: u32) -> ClusterId {
        ClusterId(self.records[self.cluster_rep[i as usize] as usize].key)
    }

    fn status_of(&self, i: u32) -> RecordStatus {
        let cluster = self.cluster_id(i);
        let size = self.cluster_size[self.cluster_rep[i as usize] as usize];
        match self.best_review[i as usize] {
            Some(review) if size == 1 => {
                let with = self.records[review.other as usize].key;
                let reason = if review.withheld {
                    PendingReason::InvalidIdNeedsEvidence {
                        with,
                        score_cb: review.score_cb,
                    }
                } else {
                    PendingReason::PossibleMatch {
                        with,
                        score_cb: review.score_cb,
                    }
                };
                RecordStatus::Pending { cluster, reason }
            }
            _ => RecordStatus::Linked {
                cluster,
                cluster_size: size,
            },
        }
    }

    /// Where a record stands now (clusters grow as records arrive).
    pub fn status(&self, key: &RecordKey) -> Option<RecordStatus> {
        if let Some(&i) = self.index.get(key) {
            return Some(self.status_of(i));
        }
        self.rejected.get(key).map(|reason| RecordStatus::Rejected {
            reason: reason.clone(),
        })
    }

    /// A record's blocking keys, hashed: two records are ever compared only if they share one.
    /// For an auditor measuring how many true matches blocking could find at all.
    pub fn blocking_signature(&self, key: &RecordKey) -> Vec<u64> {
        use std::hash::{Hash, Hasher};
        let Some(&i) = self.index.get(key) else {
            return Vec::new();
        };
        self.block_keys(&self.records[i as usize])
            .into_iter()
            .flatten()
            .map(|k| {
                let mut h = rustc_hash::FxHasher::default();
                k.hash(&mut h);
                h.finish()
            })
            .collect()
    }

    /// Every record kept, in arrival order.
    pub fn keys(&self) -> impl Iterator<Item = RecordKey> + '_ {
        self.records.iter().map(|r| r.key)
    }

    /// Where the block views put a record (after any inspector's finding); `None` if an
    /// inspector found it is not there, or the record is unknown.
    pub fn record_place(&self, key: &RecordKey) -> Option<Place> {
        self.index
            .get(key)
            .and_then(|&i| self.records[i as usize].effective_place())
    }

    /// A company record's credit code and its legal representative's ID number as held (each
    /// only when it has the right shape; `valid` says whether it passes its check digit).
    pub fn company_idents(&self, key: &RecordKey) -> Option<CompanyIdents> {
        let r = &self.records[*self.index.get(key)? as usize];
        if r.kind != EntityKind::Company {
            return None;
        }
        let text = |f: IdentField| {
            f.parsed().map(|i| {
                (
                    String::from_utf8(i.bytes.to_vec()).expect("identifiers are ASCII"),
                    i.valid,
                )
            })
        };
        Some(CompanyIdents {
            credit_code: text(r.ident),
            representative: text(r.representative),
        })
    }

    /// The cluster a record belongs to.
    pub fn cluster_of(&self, key: &RecordKey) -> Option<ClusterId> {
        self.index.get(key).map(|&i| self.cluster_id(i))
    }

    /// Every resolved entity as its sorted record keys, sorted: a canonical form of the
    /// clustering for comparison.
    pub fn clusters(&self) -> Vec<Vec<RecordKey>> {
        let mut by_rep: BTreeMap<RecordKey, Vec<RecordKey>> = BTreeMap::new();
        for (i, r) in self.records.iter().enumerate() {
            by_rep
                .entry(self.records[self.cluster_rep[i] as usize].key)
                .or_default()
                .push(r.key);
        }
        let mut clusters: Vec<Vec<RecordKey>> = by_rep
            .into_values()
            .map(|mut v| {
                v.sort_unstable();
                v
            })
            .collect();
        clusters.sort_unstable();
        clusters
    }

    /// Counts of records linked, pending and rejected.
    pub fn accounting(&self) -> Accounting {
        let mut a = Accounting {
            rejected: self.rejected.len(),
            ..Accounting::default()
        };
        for i in 0..self.records.len() as u32 {
            match self.status_of(i) {
                RecordStatus::Linked { .. } => a.linked += 1,
                RecordStatus::Pending { .. } => a.pending += 1,
                RecordStatus::Rejected { .. } => a.rejected += 1,
            }
        }
        a
    }

    /// Records pending review, sorted by key.
    pub fn pending(&self) -> Vec<(RecordKey, PendingReason)> {
        let mut out: Vec<(RecordKey, PendingReason)> = (0..self.records.len() as u32)
            .filter_map(|i| match self.status_of(i) {
                RecordStatus::Pending { reason, .. } => {
                    Some((self.records[i as usize].key, reason))
                }
                _ => None,
            })
            .collect();
        out.sort_unstable_by_key(|(k, _)| *k);
        out
    }

    // --------------------------------------------------------------------------------------------
    // Block views
    // --------------------------------------------------------------------------------------------

    fn view_of(
        &self,
        records: impl Iterator<Item = u32>,
        at: impl Fn(&Place) -> bool,
    ) -> BlockView {
        let mut persons: BTreeMap<ClusterId, Vec<RecordKey>> = BTreeMap::new();
        let mut companies: BTreeMap<ClusterId, Vec<RecordKey>> = BTreeMap::new();
        for i in records {
            let r = &self.records[i as usize];
            let Some(place) = r.effective_place() else {
                continue;
            };
            if !at(&place) {
                continue;
            }
            let target = match r.kind {
                EntityKind::Person => &mut persons,
                EntityKind::Company => &mut companies,
            };
            target.entry(self.cluster_id(i)).or_default().push(r.key);
        }
        let finish = |m: BTreeMap<ClusterId, Vec<RecordKey>>| -> Vec<Occupant> {
            m.into_iter()
                .map(|(cluster, mut records)| {
                    records.sort_unstable();
                    records.dedup();
                    Occupant { cluster, records }
                })
                .collect()
        };
        BlockView {
            persons: finish(persons),
            companies: finish(companies),
        }
    }

    /// People and companies in a room, with the records (feeds) that place them there.
    pub fn room_view(&self, room: RoomId) -> BlockView {
        let list = self.by_room.get(&room).map(Vec::as_slice).unwrap_or(&[]);
        self.view_of(list.iter().copied(), |p| p.room == Some(room))
    }

    /// People and companies in a building, including those placed only at building level.
    pub fn building_view(&self, building: BuildingId) -> BlockView {
        let list = self
            .by_building
            .get(&building)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        self.view_of(list.iter().copied(), |p| p.building == Some(building))
    }

    /// People and companies in all buildings of a grid.
    pub fn grid_view(&self, grid: GridId) -> BlockView {
        let buildings = self.library.buildings_of_grid(grid);
        let records = buildings
            .iter()
            .flat_map(|b| self.by_building.get(b).into_iter().flatten().copied());
        let lib = &self.library;
        self.view_of(records, |p| {
            p.building.and_then(|b| lib.grid_of_building(b)) == Some(grid)
        })
    }

    // --------------------------------------------------------------------------------------------
    // Conflicts
    // --------------------------------------------------------------------------------------------

    fn raise(&mut self, kind: ConflictKind, i: u32) -> ConflictId {
        let at = self.records[i as usize].observed_at_ms;
        self.raise_at(kind, i, at)
    }

    fn raise_at(&mut self, kind: ConflictKind, i: u32, at: i64) -> ConflictId {
        let id = self.conflicts.len() as ConflictId;
        self.conflicts.push(Conflict {
            id,
            kind,
            raised_by: self.records[i as usize].key,
            raised_at_ms: at,
            resolution: None,
        });
        id
    }

    /// Tells block data the time (a batch's sending time): records arriving now that need a
    /// verdict on their address are due at this time plus the hold.
    pub fn set_clock(&mut self, now_ms: i64) {
        self.clock_ms = self.clock_ms.max(now_ms);
    }

    /// When the first record waiting for a verdict on its address is due (`settle`).
    pub fn next_settle_ms(&self) -> Option<i64> {
        self.awaiting_place.front().map(|&(due, _)| due)
    }

    /// Records waiting for a verdict on an address the library could not place.
    pub fn awaiting_place(&self) -> usize {
        self.awaiting_place.len()
    }

    /// Gives the verdict on every unplaced address whose hold has passed by `now_ms`: a visit
    /// ([`ConflictKind::UnknownAddress`], raised at `now_ms`) unless another record has since
    /// placed the entity in a building (counted in
    /// [`BlockingStats::unplaced_settled_by_entity`]). Returns how many conflicts it raised.
    pub fn settle(&mut self, now_ms: i64) -> usize {
        self.set_clock(now_ms);
        let before = self.conflicts.len();
        while let Some(&(due, i)) = self.awaiting_place.front() {
            if due > now_ms {
                break;
            }
            self.awaiting_place.pop_front();
            let r = &self.records[i as usize];
            if r.place_override.is_some() || r.hidden {
                continue;
            }
            let registered = r.kind == EntityKind::Company
                && r.key.feed == crate::person::Feed::BusinessRegistry;
            let (key, address) = (r.key, r.address);
            if !registered && self.entity_placed_elsewhere(i) {
                self.stats.unplaced_settled_by_entity += 1;
                continue;
            }
            let text = self.interner.resolve(address).to_owned();
            if let Some(failure) = self.library.locate(&text).failure {
                self.raise_at(
                    ConflictKind::UnknownAddress {
                        record: key,
                        text,
                        failure,
                    },
                    i,
                    now_ms,
                );
            }
        }
        self.conflicts.len() - before
    }

    /// Whether another record of `i`'s entity puts it in a building.
    fn entity_placed_elsewhere(&mut self, i: u32) -> bool {
        self.cluster_members(i).into_iter().any(|m| {
            m != i
                && self.records[m as usize]
                    .effective_place()
                    .is_some_and(|p| p.building.is_some())
        })
    }

    fn raise_conflicts(&mut self, i: u32) {
        let r = self.records[i as usize].clone();
        let cached = self.address_cache[&r.address];
        // An address that reaches a building (a unit left out of a block of several) stays in
        // that building's view: only one the library cannot place in a building may need a
        // visit, decided once the hold has passed (`settle`).
        if cached.unresolved && cached.place.building.is_none() {
            let due = self
                .clock_ms
                .saturating_add(self.config.unknown_address_hold_ms);
            self.awaiting_place.push_back((due, i));
        }
        match r.kind {
            EntityKind::Person => self.check_address_disagreement(i),
            EntityKind::Company => {
                if let Some(room) = r.place.room {
                    self.check_crowded_room(i, room);
                }
            }
        }
    }

    fn cluster_members(&mut self, i: u32) -> Vec<u32> {
        let root = self.find(i);
        let rep = self.cluster_rep[i as usize];
        match self.component_of_root[root as usize] {
            NONE => vec![i],
            slot => self.components[slot as usize]
                .members
                .iter()
                .copied()
                .filter(|&m| self.cluster_rep[m as usize] == rep)
                .collect(),
        }
    }

    fn check_address_disagreement(&mut self, i: u32) {
        let Some(place) = self.records[i as usize].effective_place() else {
            return;
        };
        let Some(building) = place.building else {
            return;
        };
        let members = self.cluster_members(i);
        if members.len() < 2 || members.iter().any(|m| self.in_address_conflict.contains(m)) {
            return;
        }
        let feed = self.records[i as usize].key.feed;
        let other = members
            .iter()
            .copied()
            .filter(|&m| m != i && self.records[m as usize].key.feed != feed)
            .filter(|&m| {
                self.records[m as usize]
                    .effective_place()
                    .and_then(|p| p.building)
                    .is_some_and(|b| b != building)
            })
            .min_by_key(|&m| self.records[m as usize].key);
        let Some(other) = other else { return };
        let (a, b) = (&self.records[i as usize], &self.records[other as usize]);
        let kind = ConflictKind::AddressDisagreement {
            person: self.cluster_id(i),
            records: [b.key, a.key],
            places: [b.effective_place().unwrap_or_default(), place],
        };
        self.in_address_conflict.insert(i);
        self.in_address_conflict.insert(other);
        self.raise(kind, i);
    }

    fn companies_in_room(&self, room: RoomId) -> Vec<ClusterId> {
        let mut companies: Vec<ClusterId> = self
            .by_room
            .get(&room)
            .into_iter()
            .flatten()
            .copied()
            .filter(|&j| {
                let r = &self.records[j as usize];
                r.kind == EntityKind::Company
                    && r.effective_place().is_some_and(|p| p.room == Some(room))
            })
            .map(|j| self.cluster_id(j))
            .collect();
        companies.sort_unstable();
        companies.dedup();
        companies
    }

    fn check_crowded_room(&mut self, i: u32, room: RoomId) {
        if self.crowded_rooms_open.contains(&room) {
            return;
        }
        let companies = self.companies_in_room(room);
        let limit = if self.library.is_residential_room(room) {
            self.config.max_companies_per_flat
        } else {
            self.config.max_companies_per_room
        };
        if companies.len() > limit {
            self.crowded_rooms_open.insert(room);
            self.raise(
                ConflictKind::CrowdedRoom {
                    room,
                    companies,
                    limit,
                },
                i,
            );
        }
    }

    /// All conflicts raised so far, in the order they were raised.
    pub fn conflicts(&self) -> &[Conflict] {
        &self.conflicts
    }

    /// The records bearing a valid ID number (people) or credit code (companies), in the
    /// order they arrived: read off the identifier's block, so no second index is kept.
    pub fn records_with_ident(&self, ident: &[u8; 18], kind: EntityKind) -> Vec<RecordKey> {
        let key = match kind {
            EntityKind::Person => BlockKey::PersonId(*ident),
            EntityKind::Company => BlockKey::CompanyCode(*ident),
        };
        // The identifier is the first of both kinds' blocking keys (`block_keys`).
        let slot = 0;
        let mut keys = Vec::new();
        let mut j = self.blocks.get(&key).map_or(NONE, |&(head, _)| head);
        while j != NONE {
            keys.push(self.records[j as usize].key);
            j = self.next_in_block[j as usize][slot];
        }
        keys.reverse();
        keys
    }

    /// Conflicts still waiting for an inspector.
    pub fn open_conflicts(&self) -> impl Iterator<Item = &Conflict> {
        self.conflicts.iter().filter(|c| c.resolution.is_none())
    }

    fn relocate(&mut self, i: u32, place: Place) {
        let r = &mut self.records[i as usize];
        r.place_override = Some(place);
        r.hidden = false;
        if let Some(room) = place.room {
            self.by_room.entry(room).or_default().push(i);
        }
        if let Some(building) = place.building {
            self.by_building.entry(building).or_default().push(i);
        }
    }

    /// Applies an inspector's on-site finding to a conflict and updates the block views.
    pub fn resolve_conflict(
        &mut self,
        id: ConflictId,
        finding: Finding,
        resolved_at_ms: i64,
    ) -> Result<(), ResolveError> {
        let conflict = self
            .conflicts
            .get(id as usize)
            .ok_or(ResolveError::UnknownConflict(id))?;
        if conflict.resolution.is_some() {
            return Err(ResolveError::AlreadyResolved(id));
        }
        let kind = conflict.kind.clone();
        let not_applicable = |conflict: &'static str, finding: &Finding| {
            let finding = match finding {
                Finding::PersonLivesAt { .. } => "person_lives_at",
                Finding::PersonMovedOut { .. } => "person_moved_out",
                Finding::CompaniesPresent { .. } => "companies_present",
                Finding::AddressIs { .. } => "address_is",
                Finding::AddressDoesNotExist => "address_does_not_exist",
            };
            ResolveError::FindingDoesNotApply { conflict, finding }
        };
        match (&kind, &finding) {
            (
                ConflictKind::AddressDisagreement { records, .. },
                Finding::PersonLivesAt { room },
            ) => {
                let place = self
                    .library
                    .place_of_room(*room)
                    .ok_or(ResolveError::UnknownRoom(*room))?;
                let first = self.index[&records[0]];
                let members = self.cluster_members(first);
                let mut someone_there = false;
                for &m in &members {
                    match self.records[m as usize].effective_place() {
                        Some(p) if p.room == Some(*room) => someone_there = true,
                        Some(_) => self.records[m as usize].hidden = true,
                        None => {}
                    }
                }
                if !someone_there {
                    self.relocate(first, place);
                }
                for m in members {
                    self.in_address_conflict.remove(&m);
                }
            }
            (
                ConflictKind::AddressDisagreement { records, .. },
                Finding::PersonMovedOut { building },
            ) => {
                let first = self.index[&records[0]];
                let members = self.cluster_members(first);
                for &m in &members {
                    if self.records[m as usize]
                        .effective_place()
                        .and_then(|p| p.building)
                        == Some(*building)
                    {
                        self.records[m as usize].hidden = true;
                    }
                    self.in_address_conflict.remove(&m);
                }
            }
            (ConflictKind::CrowdedRoom { room, .. }, Finding::CompaniesPresent { companies }) => {
                let present_now = self.companies_in_room(*room);
                if let Some(missing) = companies.iter().find(|c| !present_now.contains(c)) {
                    return Err(ResolveError::CompanyNotInRoom(*missing, *room));
                }
                let list: Vec<u32> = self.by_room.get(room).cloned().unwrap_or_default();
                for j in list {
                    let r = &self.records[j as usize];
                    if r.kind == EntityKind::Company
                        && r.effective_place().is_some_and(|p| p.room == Some(*room))
                        && !companies.contains(&self.cluster_id(j))
                    {
                        self.records[j as usize].hidden = true;
                    }
                }
                self.crowded_rooms_open.remove(room);
            }
            (ConflictKind::UnknownAddress { record, .. }, Finding::AddressIs { room }) => {
                let place = self
                    .library
                    .place_of_room(*room)
                    .ok_or(ResolveError::UnknownRoom(*room))?;
                let i = self.index[record];
                self.relocate(i, place);
            }
            (ConflictKind::UnknownAddress { record, .. }, Finding::AddressDoesNotExist) => {
                let i = self.index[record];
                self.records[i as usize].hidden = true;
            }
            (ConflictKind::AddressDisagreement { .. }, f) => {
                return Err(not_applicable("address_disagreement", f));
            }
            (ConflictKind::CrowdedRoom { .. }, f) => return Err(not_applicable("crowded_room", f)),
            (ConflictKind::UnknownAddress { .. }, f) => {
                return Err(not_applicable("unknown_address", f));
            }
        }
        self.conflicts[id as usize].resolution = Some(Resolution {
            finding,
            resolved_at_ms,
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::address::Level;
    use crate::address::tests::library;
    use crate::checks::{complete_credit_code, complete_id_number};
    use crate::person::Feed;

    const ROOM_A: &str = "新安街道海裕社区兴华一路12号3栋2单元503室";
    const ROOM_A_ID: RoomId = 10002;
    const ROOM_B: &str = "西乡街道固戍社区兴华一路12号3栋1单元101室";
    const ROOM_B_ID: RoomId = 20001;

    fn id(body17: &str) -> String {
        complete_id_number(body17).unwrap()
    }

    /// The same ID with one body digit changed, so it fails its check.
    fn typo(id: &str, position: usize) -> String {
        let mut b = id.as_bytes().to_vec();
        b[position] = if b[position] == b'9' {
            b'0'
        } else {
            b[position] + 1
        };
        String::from_utf8(b).unwrap()
    }

    fn person(feed: Feed, r: u64, name: &str, id: Option<&str>, address: &str) -> Record {
        Record::Person(PersonRecord {
            feed,
            record_ref: r,
            name: name.into(),
            id_number: id.map(String::from),
            sex: None,
            birth_date: None,
            address: address.into(),
            phone: None,
            observed_at_ms: 1_000 + r as i64,
        })
    }

    fn company(feed: Feed, r: u64, name: &str, code: Option<&str>, address: &str) -> Record {
        Record::Company(CompanyRecord {
            feed,
            record_ref: r,
            name: name.into(),
            credit_code: code.map(String::from),
            legal_representative_id: None,
            registered_address: address.into(),
            observed_at_ms: 2_000 + r as i64,
        })
    }

    fn key(feed: Feed, record_ref: u64) -> RecordKey {
        RecordKey { feed, record_ref }
    }

    fn data() -> BlockData {
        BlockData::new(library(), Config::default())
    }

    #[test]
    fn records_of_one_person_from_several_feeds_form_one_cluster_in_the_room_view() {
        let mut bd = data();
        let wang = id("44030619900101123");
        let a = bd.ingest(&person(
            Feed::RentalRegistration,
            7,
            "王伟",
            Some(&wang),
            ROOM_A,
        ));
        assert!(matches!(
            a.status,
            RecordStatus::Linked {
                cluster_size: 1,
                ..
            }
        ));
        // Full-width ID digits and a building-less utility record in the same room.
        let wide: String = wang
            .chars()
            .map(|c| char::from_u32(c as u32 + 0xFEE0).unwrap())
            .collect();
        let b = bd.ingest(&person(
            Feed::HouseholdRegistration,
            9,
            "王伟",
            Some(&wide),
            ROOM_A,
        ));
        let c = bd.ingest(&person(Feed::UtilityAccounts, 1, "王 伟", None, ROOM_A));
        let cluster = ClusterId(key(Feed::HouseholdRegistration, 9));
        assert_eq!(
            b.status,
            RecordStatus::Linked {
                cluster,
                cluster_size: 2
            }
        );
        assert_eq!(
            c.status,
            RecordStatus::Linked {
                cluster,
                cluster_size: 3
            }
        );
        assert_eq!(
            bd.status(&a.key),
            Some(RecordStatus::Linked {
                cluster,
                cluster_size: 3
            })
        );
        let view = bd.room_view(ROOM_A_ID);
        assert_eq!(view.persons.len(), 1);
        assert_eq!(view.persons[0].cluster, cluster);
        assert_eq!(
            view.persons[0].feeds(),
            vec![
                Feed::HouseholdRegistration,
                Feed::RentalRegistration,
                Feed::UtilityAccounts
            ]
        );
        assert_eq!(bd.building_view(1000), view);
        assert_eq!(bd.grid_view(7), view);
        assert_eq!(bd.grid_view(9), BlockView::default());
        let stats = bd.blocking_stats();
        assert!(stats.candidate_pairs[&BlockKind::PersonIdNumber] >= 1);
        assert!(stats.candidate_pairs[&BlockKind::PersonPlaceName] >= 2);
        assert_eq!(stats.links, 3);
    }

    #[test]
    fn re_ingesting_an_identical_record_changes_nothing() {
        let mut bd = data();
        let wang = id("44030619900101123");
        let record = person(Feed::RentalRegistration, 7, "王伟", Some(&wang), ROOM_A);
        let first = bd.ingest(&record);
        bd.ingest(&person(
            Feed::HouseholdRegistration,
            9,
            "王伟",
            Some(&wang),
            ROOM_A,
        ));
        let before = (
            bd.clusters(),
            bd.blocking_stats().clone(),
            bd.len(),
            bd.conflicts().len(),
        );
        let again = bd.ingest(&record);
        assert!(again.repeated);
        assert!(!first.repeated);
        assert_eq!(Some(again.status), bd.status(&first.key));
        assert_eq!(
            before,
            (
                bd.clusters(),
                bd.blocking_stats().clone(),
                bd.len(),
                bd.conflicts().len()
            )
        );
        assert_eq!(bd.room_view(ROOM_A_ID).persons[0].records.len(), 2);
    }

    #[test]
    fn a_changed_resubmission_is_rejected_and_the_accepted_record_stands() {
        let mut bd = data();
        let record = person(Feed::RentalRegistration, 7, "王伟", None, ROOM_A);
        bd.ingest(&record);
        let changed = person(Feed::RentalRegistration, 7, "王玮", None, ROOM_B);
        let result = bd.ingest(&changed);
        match &result.status {
            RecordStatus::Rejected {
                reason: RejectReason::ConflictingResubmission { fields, .. },
            } => {
                assert_eq!(fields, &vec!["name".to_string(), "address".to_string()]);
            }
            other => panic!("expected a rejection, got {other:?}"),
        }
        assert!(matches!(
            bd.status(&result.key),
            Some(RecordStatus::Linked { .. })
        ));
        assert_eq!(bd.len(), 1);
        assert_eq!(
            bd.accounting(),
            Accounting {
                linked: 1,
                pending: 0,
                rejected: 0
            }
        );
    }

    #[test]
    fn bad_records_are_rejected_with_a_reason_and_counted() {
        let mut bd = data();
        let r = bd.ingest(&person(Feed::InspectorVisit, 1, " ", None, ROOM_A));
        assert_eq!(
            r.status,
            RecordStatus::Rejected {
                reason: RejectReason::EmptyName
            }
        );
        let mut bad_date = person(Feed::InspectorVisit, 2, "李娜", None, ROOM_A);
        if let Record::Person(p) = &mut bad_date {
            p.birth_date = Some(BirthDate {
                year: 1990,
                month: 2,
                day: 30,
            });
        }
        let r = bd.ingest(&bad_date);
        let RecordStatus::Rejected { reason } = &r.status else {
            panic!("{r:?}")
        };
        assert!(reason.to_string().contains("expected a calendar date"));
        assert!(bd.ingest(&bad_date).repeated);
        assert_eq!(
            bd.accounting(),
            Accounting {
                linked: 0,
                pending: 0,
                rejected: 2
            }
        );
        // A corrected resubmission is accepted.
        let good = person(Feed::InspectorVisit, 2, "李娜", None, ROOM_A);
        assert!(matches!(
            bd.ingest(&good).status,
            RecordStatus::Linked { .. }
        ));
        assert_eq!(
            bd.accounting(),
            Accounting {
                linked: 1,
                pending: 0,
                rejected: 1
            }
        );
    }

    #[test]
    fn an_id_failing_its_check_never_links_on_its_own() {
        let mut bd = data();
        let wang = id("44030619900101123");
        let bad = typo(&wang, 15);
        assert!(crate::validate_id_number(&bad).is_err());
        bd.ingest(&person(
            Feed::HouseholdRegistration,
            1,
            "王伟",
            Some(&wang),
            ROOM_A,
        ));
        // Same name, ID one digit off and failing its check, another address, no birth date:
        // the score clears the link threshold, but the rule withholds the link.
        let r = bd.ingest(&person(
            Feed::RentalRegistration,
            2,
            "王伟",
            Some(&bad),
            ROOM_B,
        ));
        match r.status {
            RecordStatus::Pending {
                reason: PendingReason::InvalidIdNeedsEvidence { with, score_cb },
                ..
            } => {
                assert_eq!(with, key(Feed::HouseholdRegistration, 1));
                assert!(score_cb >= bd.config().link_threshold_cb);
            }
            other => panic!("expected pending, got {other:?}"),
        }
        assert_eq!(bd.blocking_stats().withheld_invalid_id, 1);
        assert_eq!(bd.pending().len(), 2);
        // With the birth date as well, the same typo links.
        let mut with_birth = person(Feed::UtilityAccounts, 3, "王伟", Some(&bad), ROOM_B);
        if let Record::Person(p) = &mut with_birth {
            p.birth_date = Some(BirthDate {
                year: 1990,
                month: 1,
                day: 1,
            });
        }
        let r = bd.ingest(&with_birth);
        assert!(
            matches!(
                r.status,
                RecordStatus::Linked {
                    cluster_size: 3,
                    ..
                }
            ),
            "{r:?}"
        );
    }

    #[test]
    fn two_valid_ids_are_never_one_person_even_through_a_third_record() {
        let mut bd = data();
        let father = id("44030619650101123");
        let son = id("44030619650101145");
        bd.ingest(&person(
            Feed::HouseholdRegistration,
            1,
            "王伟",
            Some(&father),
            ROOM_A,
        ));
        bd.ingest(&person(
            Feed::HouseholdRegistration,
            2,
            "王伟",
            Some(&son),
            ROOM_A,
        ));
        // Name and room agree with both: it links to one of them, never both.
        bd.ingest(&person(Feed::UtilityAccounts, 3, "王伟", None, ROOM_A));
        let clusters = bd.clusters();
        assert_eq!(clusters.len(), 2, "{clusters:?}");
        assert_ne!(
            bd.cluster_of(&key(Feed::HouseholdRegistration, 1)),
            bd.cluster_of(&key(Feed::HouseholdRegistration, 2))
        );
        assert_eq!(bd.room_view(ROOM_A_ID).persons.len(), 2);
    }

    #[test]
    fn companies_link_on_credit_code_and_on_a_typo_with_evidence_only() {
        let mut bd = data();
        let code = complete_credit_code("9144030600ABCDEF").unwrap();
        let mut bad = code.clone().into_bytes();
        bad[10] = b'G';
        let bad = String::from_utf8(bad).unwrap();
        assert!(crate::validate_credit_code(&bad).is_err());
        let name = "深圳市宝安区兴华贸易有限公司";
        bd.ingest(&company(
            Feed::BusinessRegistry,
            1,
            name,
            Some(&code),
            ROOM_A,
        ));
        let r = bd.ingest(&company(Feed::InspectorVisit, 2, name, Some(&bad), ROOM_A));
        assert!(
            matches!(
                r.status,
                RecordStatus::Linked {
                    cluster_size: 2,
                    ..
                }
            ),
            "{r:?}"
        );
        // Same typo'd code and name, but registered elsewhere: not linked on the code.
        let r = bd.ingest(&company(Feed::UtilityAccounts, 3, name, Some(&bad), ROOM_B));
        assert!(matches!(r.status, RecordStatus::Pending { .. }), "{r:?}");
        assert_eq!(bd.room_view(ROOM_A_ID).companies.len(), 1);
    }

    #[test]
    fn feeds_placing_a_person_in_two_buildings_raise_a_conflict_an_inspector_settles() {
        let mut bd = data();
        let wang = id("44030619900101123");
        bd.ingest(&person(
            Feed::HouseholdRegistration,
            1,
            "王伟",
            Some(&wang),
            ROOM_A,
        ));
        bd.ingest(&person(
            Feed::RentalRegistration,
            2,
            "王伟",
            Some(&wang),
            ROOM_B,
        ));
        let open: Vec<&Conflict> = bd.open_conflicts().collect();
        assert_eq!(open.len(), 1);
        let conflict = open[0].clone();
        let ConflictKind::AddressDisagreement { records, .. } = &conflict.kind else {
            panic!("{conflict:?}")
        };
        assert_eq!(
            records,
            &[
                key(Feed::HouseholdRegistration, 1),
                key(Feed::RentalRegistration, 2)
            ]
        );
        assert_eq!(bd.room_view(ROOM_A_ID).persons.len(), 1);
        assert_eq!(bd.room_view(ROOM_B_ID).persons.len(), 1);
        assert_eq!(
            bd.resolve_conflict(conflict.id, Finding::AddressDoesNotExist, 5),
            Err(ResolveError::FindingDoesNotApply {
                conflict: "address_disagreement",
                finding: "address_does_not_exist"
            })
        );
        bd.resolve_conflict(conflict.id, Finding::PersonLivesAt { room: ROOM_B_ID }, 5)
            .unwrap();
        assert!(bd.room_view(ROOM_A_ID).persons.is_empty());
        assert_eq!(bd.room_view(ROOM_B_ID).persons.len(), 1);
        assert_eq!(
            bd.resolve_conflict(conflict.id, Finding::PersonLivesAt { room: ROOM_B_ID }, 6),
            Err(ResolveError::AlreadyResolved(conflict.id))
        );
        assert_eq!(bd.open_conflicts().count(), 0);
        assert_eq!(
            bd.resolve_conflict(99, Finding::AddressDoesNotExist, 6),
            Err(ResolveError::UnknownConflict(99))
        );
    }

    #[test]
    fn an_address_missing_from_the_library_becomes_a_verification_task() {
        let mut bd = data();
        let text = "新安街道海裕社区兴华一路12号9栋2单元503室";
        let r = bd.ingest(&person(Feed::InspectorVisit, 1, "李娜", None, text));
        assert!(matches!(r.status, RecordStatus::Linked { .. }));
        // Nobody is sent before the hold has passed: another feed might still place her.
        let hold = bd.config().unknown_address_hold_ms;
        assert_eq!(bd.settle(hold - 1), 0);
        assert_eq!(bd.awaiting_place(), 1);
        assert_eq!(bd.settle(hold), 1);
        assert_eq!(bd.awaiting_place(), 0);
        let conflict = bd.open_conflicts().next().cloned().expect("a conflict");
        assert_eq!(conflict.raised_at_ms, hold);
        match &conflict.kind {
            ConflictKind::UnknownAddress {
                record,
                text: t,
                failure,
            } => {
                assert_eq!(*record, r.key);
                assert_eq!(t, text);
                assert_eq!(failure.level(), Level::Building);
            }
            other => panic!("{other:?}"),
        }
        assert!(bd.room_view(ROOM_A_ID).persons.is_empty());
        assert_eq!(
            bd.resolve_conflict(conflict.id, Finding::AddressIs { room: 424242 }, 9),
            Err(ResolveError::UnknownRoom(424242))
        );
        bd.resolve_conflict(conflict.id, Finding::AddressIs { room: ROOM_A_ID }, 9)
            .unwrap();
        assert_eq!(bd.room_view(ROOM_A_ID).persons.len(), 1);
        assert_eq!(bd.grid_view(7).persons.len(), 1);
    }

    #[test]
    fn an_unplaceable_record_of_someone_another_feed_places_needs_no_visit() {
        let mut bd = data();
        let wang = id("44030619900101123");
        let lost = "新安街道海裕社区兴华一路12号9栋2单元503室";
        // The rental record's address is not in the library; the household record, an hour
        // later but within the hold, places the same person.
        let a = bd.ingest(&person(
            Feed::RentalRegistration,
            1,
            "王伟",
            Some(&wang),
            lost,
        ));
        bd.set_clock(1_000);
        bd.ingest(&person(
            Feed::HouseholdRegistration,
            2,
            "王伟",
            Some(&wang),
            ROOM_A,
        ));
        assert_eq!(bd.awaiting_place(), 1);
        let hold = bd.config().unknown_address_hold_ms;
        assert_eq!(bd.settle(hold), 0);
        assert_eq!(bd.blocking_stats().unplaced_settled_by_entity, 1);
        assert_eq!(bd.open_conflicts().count(), 0);
        assert_eq!(bd.room_view(ROOM_A_ID).persons.len(), 1);
        assert_eq!(bd.record_place(&a.key).and_then(|p| p.building), None);
        // A company's registered address is verified even when its utility account places it.
        let code = complete_credit_code("9144030600ABCDEF").unwrap();
        let name = "深圳市宝安区测试贸易有限公司";
        bd.ingest(&company(Feed::BusinessRegistry, 3, name, Some(&code), lost));
        bd.ingest(&company(
            Feed::UtilityAccounts,
            4,
            name,
            Some(&code),
            ROOM_A,
        ));
        assert_eq!(bd.settle(2 * hold), 1);
        let conflict = bd
            .open_conflicts()
            .next()
            .expect("the registry's record is verified");
        assert_eq!(conflict.raised_by, key(Feed::BusinessRegistry, 3));
    }

    #[test]
    fn too_many_companies_in_one_room_raise_a_conflict() {
        let mut bd = BlockData::new(
            library(),
            Config {
                max_companies_per_room: 2,
                max_companies_per_flat: 2,
                ..Config::default()
            },
        );
        let names = ["甲贸易有限公司", "乙科技有限公司", "丙物流有限公司"];
        for (i, name) in names.iter().enumerate() {
            let body = format!("91440306{:08}", 10_000_000 + i * 7);
            let code = complete_credit_code(&body).unwrap();
            bd.ingest(&company(
                Feed::BusinessRegistry,
                i as u64,
                name,
                Some(&code),
                ROOM_A,
            ));
        }
        let conflicts: Vec<Conflict> = bd.open_conflicts().cloned().collect();
        assert_eq!(conflicts.len(), 1, "{conflicts:?}");
        let ConflictKind::CrowdedRoom {
            room,
            companies,
            limit,
        } = &conflicts[0].kind
        else {
            panic!("{conflicts:?}")
        };
        assert_eq!((*room, companies.len(), *limit), (ROOM_A_ID, 3, 2));
        let keep = vec![companies[0]];
        assert_eq!(
            bd.resolve_conflict(
                conflicts[0].id,
                Finding::CompaniesPresent {
                    companies: vec![ClusterId(key(Feed::InspectorVisit, 9))]
                },
                1
            ),
            Err(ResolveError::CompanyNotInRoom(
                ClusterId(key(Feed::InspectorVisit, 9)),
                ROOM_A_ID
            ))
        );
        bd.resolve_conflict(
            conflicts[0].id,
            Finding::CompaniesPresent {
                companies: keep.clone(),
            },
            1,
        )
        .unwrap();
        let view = bd.room_view(ROOM_A_ID);
        assert_eq!(
            view.companies.iter().map(|o| o.cluster).collect::<Vec<_>>(),
            keep
        );
    }
}
