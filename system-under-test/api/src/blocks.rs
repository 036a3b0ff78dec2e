//! Block data's part of the boundary: the records departments send (people and companies, each
//! keyed by its feed and the department's own reference), the address library the platform's
//! address office publishes, inspectors' on-site findings, look-ups and what they return.
//!
//! Every look-up of a person, a company or a place is role-checked and audited by the stack.

use serde::{Deserialize, Serialize};

/// The department feed a record came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Feed {
    /// Public security: registered residents (户籍).
    HouseholdRegistration,
    /// Rental registration of tenants (出租屋登记).
    RentalRegistration,
    /// Market regulation: the business registry (商事登记).
    BusinessRegistry,
    /// Water, power and gas account holders.
    UtilityAccounts,
    /// Grid inspectors' door-to-door visits (入户走访).
    InspectorVisit,
}

impl Feed {
    pub const ALL: [Feed; 5] = [
        Feed::HouseholdRegistration,
        Feed::RentalRegistration,
        Feed::BusinessRegistry,
        Feed::UtilityAccounts,
        Feed::InspectorVisit,
    ];
}

/// A record's identity: unique per feed, stable across resubmissions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct RecordKey {
    pub feed: Feed,
    pub record_ref: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Sex {
    Male,
    Female,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct BirthDate {
    pub year: u16,
    pub month: u8,
    pub day: u8,
}

impl BirthDate {
    /// `YYYYMMDD` as one number, or `None` for a date that does not exist (Gregorian calendar).
    pub fn as_yyyymmdd(self) -> Option<u32> {
        let leap = (self.year.is_multiple_of(4) && !self.year.is_multiple_of(100))
            || self.year.is_multiple_of(400);
        let days = match self.month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => 0,
        };
        (self.year > 0 && self.day >= 1 && self.day <= days).then(|| {
            u32::from(self.year) * 10_000 + u32::from(self.month) * 100 + u32::from(self.day)
        })
    }
}

/// A department's record of a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct PersonRecord {
    pub feed: Feed,
    pub record_ref: u64,
    pub name: String,
    /// GB 11643 ID number as the department holds it; may carry a typo.
    pub id_number: Option<String>,
    pub sex: Option<Sex>,
    pub birth_date: Option<BirthDate>,
    /// Address text as written; matched against the address library.
    pub address: String,
    pub phone: Option<String>,
    pub observed_at_ms: i64,
}

/// A department's record of a company or individual business.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CompanyRecord {
    pub feed: Feed,
    pub record_ref: u64,
    pub name: String,
    /// GB 32100 unified social credit code; may carry a typo.
    pub credit_code: Option<String>,
    /// The legal representative's ID number.
    pub legal_representative_id: Option<String>,
    pub registered_address: String,
    pub observed_at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum Record {
    Person(PersonRecord),
    Company(CompanyRecord),
}

impl Record {
    pub fn key(&self) -> RecordKey {
        match self {
            Record::Person(p) => RecordKey {
                feed: p.feed,
                record_ref: p.record_ref,
            },
            Record::Company(c) => RecordKey {
                feed: c.feed,
                record_ref: c.record_ref,
            },
        }
    }
}

/// The unified address library: streets, communities, roads (with their former names), buildings
/// on roads in grids, and rooms in buildings. Ids are the address office's.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct AddressLibraryData {
    pub streets: Vec<LibraryStreet>,
    pub communities: Vec<LibraryCommunity>,
    pub roads: Vec<LibraryRoad>,
    pub buildings: Vec<LibraryBuilding>,
    pub rooms: Vec<LibraryRoom>,
}

impl AddressLibraryData {
    /// Rows of each kind: streets, communities, roads, buildings, rooms.
    pub fn rows(&self) -> [usize; 5] {
        [
            self.streets.len(),
            self.communities.len(),
            self.roads.len(),
            self.buildings.len(),
            self.rooms.len(),
        ]
    }

    /// Adds a part's rows after these, kind by kind.
    pub fn append(&mut self, part: &AddressLibraryData) {
        self.streets.extend_from_slice(&part.streets);
        self.communities.extend_from_slice(&part.communities);
        self.roads.extend_from_slice(&part.roads);
        self.buildings.extend_from_slice(&part.buildings);
        self.rooms.extend_from_slice(&part.rooms);
    }

    /// Keeps the first `rows` of each kind (as `rows()` counts them).
    pub fn truncate(&mut self, rows: [usize; 5]) {
        self.streets.truncate(rows[0]);
        self.communities.truncate(rows[1]);
        self.roads.truncate(rows[2]);
        self.buildings.truncate(rows[3]);
        self.rooms.truncate(rows[4]);
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct LibraryStreet {
    pub id: u32,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct LibraryCommunity {
    pub id: u32,
    pub street: u32,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct LibraryRoad {
    pub id: u32,
    pub community: u32,
    pub name: String,
    /// Names the road was known by before (old signs, old records still use them).
    pub former_names: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct LibraryBuilding {
    pub id: u32,
    pub road: u32,
    /// House number on the road (门牌号).
    pub number: u16,
    /// Building number in its compound (栋).
    pub block: u16,
    pub grid: u32,
    /// Built for homes (the address office records each building's use): companies registered
    /// in a flat are what business oversight looks at first.
    #[serde(default)]
    pub residential: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct LibraryRoom {
    pub id: u32,
    pub building: u32,
    pub unit: u8,
    /// Floor and door, as on the door: 503.
    pub room: u16,
}

/// What an inspector found on site for a verification task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Finding {
    /// The person lives in this room; records placing them elsewhere leave the block views.
    PersonLivesAt { room: u32 },
    /// The person no longer lives in this building; records placing them there leave the views.
    PersonMovedOut { building: u32 },
    /// Exactly these companies (named by their cluster) are present in the room.
    CompaniesPresent { companies: Vec<RecordKey> },
    /// The record's address is this room.
    AddressIs { room: u32 },
    /// The address does not exist on the ground; the record leaves the views.
    AddressDoesNotExist,
}

/// A look-up in the block data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case", tag = "by")]
pub enum BlockQuery {
    Room {
        room: u32,
    },
    Building {
        building: u32,
    },
    Grid {
        grid: u32,
    },
    /// Free text, matched against the address library.
    Address {
        text: String,
    },
    /// A person by ID number: where the block data places them.
    Person {
        id_number: String,
    },
    /// A company by unified social credit code.
    Company {
        credit_code: String,
    },
}

/// What became of one record sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum IngestStatus {
    /// Linked into the entity named by its cluster (the smallest record key in it).
    Linked { cluster: RecordKey },
    /// Kept, waiting for more evidence or a review.
    Pending { reason: String },
    /// Refused, with what was wrong; nothing of it was kept.
    Rejected { reason: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct IngestedRecord {
    pub key: RecordKey,
    pub status: IngestStatus,
    /// The same record had been sent before: nothing changed.
    pub repeated: bool,
}

/// A conflict the platform wants an inspector to verify on site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct VerificationTask {
    pub conflict: u64,
    /// `address_disagreement`, `crowded_room` or `unknown_address`.
    pub kind: String,
    /// Where to go, as far as the platform knows.
    pub grid: Option<u32>,
    pub building: Option<u32>,
    pub room: Option<u32>,
    /// The records involved.
    pub records: Vec<RecordKey>,
    /// The entity (person or company cluster) concerned, if any.
    pub entity: Option<RecordKey>,
    /// The community, when the platform cannot place it closer.
    pub community: Option<u32>,
}

/// Where the block data places one record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct PlacedRecord {
    pub key: RecordKey,
    pub cluster: Option<RecordKey>,
    pub grid: Option<u32>,
    pub building: Option<u32>,
    pub room: Option<u32>,
    /// In the auditor's export: the record's blocking keys, hashed (records are compared only
    /// when they share one), so blocking can be judged against the truth.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blocks: Vec<u64>,
}

/// One person or company at a place, with the records (so the feeds) that put it there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Occupant {
    pub cluster: RecordKey,
    pub records: Vec<RecordKey>,
}

/// Who lives and works at a place.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct BlockView {
    pub persons: Vec<Occupant>,
    pub companies: Vec<Occupant>,
}
