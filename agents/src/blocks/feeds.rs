//! Department feeds derived from the twin's truth, with faults at the scenario's rates.
//!
//! Five departments tell the platform's block data what they hold about people and companies:
//! public security (registered residents), the rental office (tenants), market regulation (the
//! business registry), the utilities (one account holder per household) and the grid inspectors
//! (door-to-door visits during the run). Each record is written from the twin's truth and then
//! spoiled the way real department data is spoiled: shortened or incomplete address text, old
//! road names, full-width digits, typos in road names, names and ID numbers, homes people have
//! left, records sent twice. Planted fraud (many companies crowded into one flat, companies at
//! addresses that do not exist) gives the platform something to find.
//!
//! Beside every record the truth is kept (who it is about, which room its address really names,
//! which faults it carries), so the block-data loop can score linkage against it.
//!
//! Deliberately left out, so that nothing here pretends:
//! - company records carry no typos in the company name, the credit code or the legal
//!   representative's ID number (the scenario's `id_typo` and `name_typo` are shares of person
//!   records);
//! - a person record's birth date is the true one even when its ID number is mistyped (the form
//!   has a separate date field);
//! - a stale record's former home is any occupied room of the district, not one near the new
//!   home, and people who moved keep only one stale record (no chains of moves);
//! - planted fraud scales with the district and with `coverage` (at least one fraud room and one
//!   fictitious address when the scenario asks for any);
//! - `address_old_road_name` is honoured as a share of all records by raising the chance on the
//!   renamed roads (about a tenth of roads): records on other roads cannot carry a former name,
//!   so when renamed roads hold fewer homes than the rate, every record on them carries it and
//!   the overall share falls short.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};

use baoan_api::blocks::{
    AddressLibraryData, BirthDate, CompanyRecord, Feed, LibraryBuilding, LibraryCommunity,
    LibraryRoad, LibraryRoom, LibraryStreet, PersonRecord, Record, RecordKey, Sex,
};
use baoan_scenarios::BlocksLoop;
use baoan_world::population::BuildingKind;
use baoan_world::rng::mix64;
use baoan_world::{RngStreams, Twin, ids};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Serialize, Serializer};

const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 86_400_000;
/// Inspectors knock on doors between 08:30 and 18:00.
const WORK_START_MS: i64 = 8 * HOUR_MS + 30 * MINUTE_MS;
const WORK_END_MS: i64 = 18 * HOUR_MS;
/// The departments' nightly exports of the week before the run are what the platform starts from.
const BULK_NIGHTS: i64 = 7;
/// Share of roads the address office knows by a former name too.
const FORMER_NAME_SHARE: f64 = 0.10;
/// The standard prefix every library address starts with.
const FULL_PREFIX: &str = "广东省深圳市宝安区";
/// How clerks shorten the province/city/district prefix (the last is the full form).
const PREFIX_FORMS: [&str; 5] = ["", "深圳宝安", "宝安区", "深圳市宝安区", FULL_PREFIX];
/// Share of each feed's person records that carry a phone number.
const PHONE_SHARE_HOUSEHOLD: f64 = 0.3;
const PHONE_SHARE_RENTAL: f64 = 0.9;
const PHONE_SHARE_UTILITY: f64 = 1.0;
const PHONE_SHARE_VISIT: f64 = 0.6;
/// Mobile prefixes after the leading 1.
const PHONE_PREFIXES: [&str; 12] = [
    "38", "39", "35", "36", "37", "50", "58", "88", "86", "33", "80", "89",
];
/// Record references of copies sent under a new key: the original's sequence with this bit set.
const COPY_BIT: u64 = 1 << 63;

// Salts that keep the per-entity hashes of different decisions apart.
const COVER_PERSON: u64 = 0x636f_7665_7270_6572;
const COVER_COMPANY: u64 = 0x636f_7665_7263_6f6d;
const PHONE_SALT: u64 = 0x7068_6f6e_6500_0000;
const PLANTED_NAME_SALT: u64 = 0x706c_616e_7465_6400;

// ------------------------------------------------------------------------------------------
// Public types
// ------------------------------------------------------------------------------------------

/// Who a record is really about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Entity {
    /// A resident, by index in the population.
    Person(u32),
    /// A company, by index in the population's register; planted companies are numbered after
    /// the real ones.
    Company(u32),
}

/// The faults injected into one record, as a bit set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Faults(u16);

impl Faults {
    pub const NONE: Faults = Faults(0);
    /// Province/city/district prefix shortened or dropped, or the street without 街道.
    pub const ADDRESS_ABBREVIATED: Faults = Faults(1 << 0);
    /// The community or the unit left out.
    pub const MISSING_LEVEL: Faults = Faults(1 << 1);
    /// A building (栋) number that the road and house number do not have.
    pub const WRONG_BUILDING: Faults = Faults(1 << 2);
    /// The road's former name.
    pub const OLD_ROAD_NAME: Faults = Faults(1 << 3);
    /// Full-width digits.
    pub const FULL_WIDTH: Faults = Faults(1 << 4);
    /// One character of the road name replaced by a similar-looking or -sounding one.
    pub const ADDRESS_TYPO: Faults = Faults(1 << 5);
    /// One digit of the ID number's first 17 changed; the check digit fails.
    pub const ID_TYPO: Faults = Faults(1 << 6);
    /// One character of the person's name replaced.
    pub const NAME_TYPO: Faults = Faults(1 << 7);
    /// The address is a home the person has left.
    pub const STALE: Faults = Faults(1 << 8);
    /// A copy of another record sent under a new record reference.
    pub const DUPLICATE_COPY: Faults = Faults(1 << 9);
    /// A planted company crowded into a fraud room.
    pub const FRAUD_ROOM: Faults = Faults(1 << 10);
    /// A planted company at an address that does not exist.
    pub const FICTITIOUS: Faults = Faults(1 << 11);
    /// The same record (same key, same content) was sent twice.
    pub const RESENT: Faults = Faults(1 << 12);

    /// Every fault with its name, in bit order.
    pub const ALL: [(Faults, &'static str); 13] = [
        (Faults::ADDRESS_ABBREVIATED, "address_abbreviated"),
        (Faults::MISSING_LEVEL, "missing_level"),
        (Faults::WRONG_BUILDING, "wrong_building"),
        (Faults::OLD_ROAD_NAME, "old_road_name"),
        (Faults::FULL_WIDTH, "full_width"),
        (Faults::ADDRESS_TYPO, "address_typo"),
        (Faults::ID_TYPO, "id_typo"),
        (Faults::NAME_TYPO, "name_typo"),
        (Faults::STALE, "stale"),
        (Faults::DUPLICATE_COPY, "duplicate_copy"),
        (Faults::FRAUD_ROOM, "fraud_room"),
        (Faults::FICTITIOUS, "fictitious"),
        (Faults::RESENT, "resent"),
    ];

    pub fn contains(self, other: Faults) -> bool {
        self.0 & other.0 == other.0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn bits(self) -> u16 {
        self.0
    }

    /// Names of the faults set, in bit order.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        Faults::ALL
            .into_iter()
            .filter(move |(f, _)| self.contains(*f))
            .map(|(_, name)| name)
    }
}

impl std::ops::BitOr for Faults {
    type Output = Faults;
    fn bitor(self, rhs: Faults) -> Faults {
        Faults(self.0 | rhs.0)
    }
}

impl std::ops::BitOrAssign for Faults {
    fn bitor_assign(&mut self, rhs: Faults) {
        self.0 |= rhs.0;
    }
}

impl Serialize for Faults {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.names())
    }
}

/// The truth about one record key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RecordTruth {
    pub entity: Entity,
    /// The room the record's address really means (for a wrong building number: the room the
    /// clerk meant); `None` when the address does not exist at all.
    pub room: Option<u32>,
    /// Persons: where they live now (differs from `room` for stale records). Companies: `None`.
    pub current_room: Option<u32>,
    pub faults: Faults,
}

/// The truth of every record key, sorted by key (one entry per key even when a record was sent
/// twice). Looked up by binary search: 7 M entries sort faster than they hash.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TruthTable {
    entries: Vec<(RecordKey, RecordTruth)>,
}

impl TruthTable {
    pub fn get(&self, key: &RecordKey) -> Option<&RecordTruth> {
        self.entries
            .binary_search_by(|(k, _)| k.cmp(key))
            .ok()
            .map(|i| &self.entries[i].1)
    }

    pub fn contains_key(&self, key: &RecordKey) -> bool {
        self.get(key).is_some()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Entries in key order.
    pub fn iter(&self) -> impl Iterator<Item = &(RecordKey, RecordTruth)> {
        self.entries.iter()
    }
}

/// How many record keys of one feed carry each fault, and how many records were sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct FaultCounts {
    /// Distinct record keys.
    pub records: u64,
    /// Records sent, counting a record sent twice under one key twice.
    pub sent: u64,
    pub address_abbreviated: u64,
    pub missing_level: u64,
    pub wrong_building: u64,
    pub old_road_name: u64,
    pub full_width: u64,
    pub address_typo: u64,
    pub id_typo: u64,
    pub name_typo: u64,
    pub stale: u64,
    pub duplicate_copy: u64,
    pub fraud_room: u64,
    pub fictitious: u64,
    pub resent: u64,
}

impl FaultCounts {
    fn add(&mut self, faults: Faults, sent: u64) {
        self.records += 1;
        self.sent += sent;
        let fields: [(Faults, &mut u64); 13] = [
            (Faults::ADDRESS_ABBREVIATED, &mut self.address_abbreviated),
            (Faults::MISSING_LEVEL, &mut self.missing_level),
            (Faults::WRONG_BUILDING, &mut self.wrong_building),
            (Faults::OLD_ROAD_NAME, &mut self.old_road_name),
            (Faults::FULL_WIDTH, &mut self.full_width),
            (Faults::ADDRESS_TYPO, &mut self.address_typo),
            (Faults::ID_TYPO, &mut self.id_typo),
            (Faults::NAME_TYPO, &mut self.name_typo),
            (Faults::STALE, &mut self.stale),
            (Faults::DUPLICATE_COPY, &mut self.duplicate_copy),
            (Faults::FRAUD_ROOM, &mut self.fraud_room),
            (Faults::FICTITIOUS, &mut self.fictitious),
            (Faults::RESENT, &mut self.resent),
        ];
        for (fault, count) in fields {
            if faults.contains(fault) {
                *count += 1;
            }
        }
    }

    fn merge(&mut self, other: &FaultCounts) {
        let FaultCounts {
            records,
            sent,
            address_abbreviated,
            missing_level,
            wrong_building,
            old_road_name,
            full_width,
            address_typo,
            id_typo,
            name_typo,
            stale,
            duplicate_copy,
            fraud_room,
            fictitious,
            resent,
        } = *other;
        self.records += records;
        self.sent += sent;
        self.address_abbreviated += address_abbreviated;
        self.missing_level += missing_level;
        self.wrong_building += wrong_building;
        self.old_road_name += old_road_name;
        self.full_width += full_width;
        self.address_typo += address_typo;
        self.id_typo += id_typo;
        self.name_typo += name_typo;
        self.stale += stale;
        self.duplicate_copy += duplicate_copy;
        self.fraud_room += fraud_room;
        self.fictitious += fictitious;
        self.resent += resent;
    }
}

/// Per feed, how many records carry each fault.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FeedCounts {
    pub per_feed: BTreeMap<Feed, FaultCounts>,
}

impl FeedCounts {
    fn add(&mut self, feed: Feed, faults: Faults, sent: u64) {
        self.per_feed.entry(feed).or_default().add(faults, sent);
    }

    fn merge(&mut self, other: &FeedCounts) {
        for (feed, counts) in &other.per_feed {
            self.per_feed.entry(*feed).or_default().merge(counts);
        }
    }

    /// All feeds together.
    pub fn total(&self) -> FaultCounts {
        let mut total = FaultCounts::default();
        for counts in self.per_feed.values() {
            total.merge(counts);
        }
        total
    }
}

/// Everything the departments send, with the truth to score the platform against.
#[derive(Debug, Clone, PartialEq)]
pub struct Feeds {
    pub library: AddressLibraryData,
    /// Every record to send, with the simulated time (ms, may be negative = before the run) it
    /// reaches the platform, sorted by that time then by key.
    pub records: Vec<(i64, Record)>,
    /// The truth about each record key (a record sent twice under the same key appears once).
    pub truth: TruthTable,
    /// Rooms with planted companies, ascending.
    pub fraud_rooms: Vec<u32>,
    pub counts: FeedCounts,
}

// ------------------------------------------------------------------------------------------
// The address library
// ------------------------------------------------------------------------------------------

/// The address office's library: every street, community, road (with former names for about a
/// tenth of roads), building and room of the twin, ids being the twin's indexes.
pub fn address_library(twin: &Twin, streams: &RngStreams) -> AddressLibraryData {
    let district = &twin.district;
    let pop = &twin.population;
    let streets = district
        .streets
        .iter()
        .map(|s| LibraryStreet {
            id: s.id,
            name: s.name_zh.clone(),
        })
        .collect();
    let communities = district
        .communities
        .iter()
        .map(|c| LibraryCommunity {
            id: c.id,
            street: c.street,
            name: c.name.clone(),
        })
        .collect();

    // A former name must not be a name some road of the same community goes by now or went by
    // before: the old name would then point at two roads.
    let taken: HashSet<(u32, &str)> = pop
        .roads
        .iter()
        .map(|r| (r.community, r.name.as_str()))
        .collect();
    let mut rng = streams.stream("blocks/address-library/former-names");
    let mut former: Vec<Option<String>> = Vec::with_capacity(pop.roads.len());
    for road in &pop.roads {
        let renamed = rng.random::<f64>() < FORMER_NAME_SHARE;
        let mut chosen = None;
        if renamed {
            for _ in 0..8 {
                let candidate = ids::road_name(rng.random());
                if !taken.contains(&(road.community, candidate.as_str())) {
                    chosen = Some(candidate);
                    break;
                }
            }
        }
        former.push(chosen);
    }
    // `taken` borrows the population's names; the former names are checked against each other
    // in a second pass so that two roads of a community never share one.
    let mut roads = Vec::with_capacity(pop.roads.len());
    let mut formers_taken: HashSet<(u32, String)> = HashSet::new();
    for (i, (road, former)) in pop.roads.iter().zip(former).enumerate() {
        let former = former.filter(|f| formers_taken.insert((road.community, f.clone())));
        roads.push(LibraryRoad {
            id: i as u32,
            community: road.community,
            name: road.name.clone(),
            former_names: former.into_iter().collect(),
        });
    }

    let buildings = pop
        .buildings
        .iter()
        .enumerate()
        .map(|(i, b)| LibraryBuilding {
            id: i as u32,
            road: b.road,
            number: b.number,
            block: b.block,
            grid: b.grid,
            residential: matches!(
                b.kind,
                BuildingKind::UrbanVillage | BuildingKind::Compound | BuildingKind::Dormitory
            ),
        })
        .collect();

    let total_rooms = pop.rooms() as usize;
    let mut rooms = Vec::with_capacity(total_rooms);
    for (i, b) in pop.buildings.iter().enumerate() {
        for index in 0..b.rooms() {
            let (unit, room) = unit_and_room(b.floors, b.rooms_per_floor, index);
            rooms.push(LibraryRoom {
                id: b.first_room + index,
                building: i as u32,
                unit,
                room,
            });
        }
    }
    AddressLibraryData {
        streets,
        communities,
        roads,
        buildings,
        rooms,
    }
}

/// Unit and door number of the `index`-th room of a building, numbered as
/// `Population::address` numbers them: unit by unit, floor by floor, door by door.
fn unit_and_room(floors: u8, rooms_per_floor: u8, index: u32) -> (u8, u16) {
    let per_unit = floors as u32 * rooms_per_floor as u32;
    let unit = index / per_unit;
    let floor = (index % per_unit) / rooms_per_floor as u32;
    let on_floor = index % rooms_per_floor as u32;
    (unit as u8 + 1, ((floor + 1) * 100 + on_floor + 1) as u16)
}

// ------------------------------------------------------------------------------------------
// Generation
// ------------------------------------------------------------------------------------------

/// The departments' records for a run of `duration_ms`, derived from the twin with the faults
/// and planted fraud of `config`. Same twin, config and seed give the same feeds, whatever the
/// number of threads.
pub fn generate(twin: &Twin, config: &BlocksLoop, streams: &RngStreams, duration_ms: u64) -> Feeds {
    let library = address_library(twin, streams);
    let generator = Generator::new(twin, config, streams, &library, duration_ms);

    let grids = twin.district.grids.len();
    let parts = map_ordered(grids, |g| {
        let mut rng = streams.stream_for("blocks/feeds/grid", g as u64);
        generator.grid(g as u32, &mut rng)
    });
    let mut planted_rng = streams.stream("blocks/feeds/planted");
    let (planted, fraud_rooms) = generator.planted(&mut planted_rng);

    let total_records: usize =
        parts.iter().map(|p| p.records.len()).sum::<usize>() + planted.records.len();
    let total_truth: usize =
        parts.iter().map(|p| p.truth.len()).sum::<usize>() + planted.truth.len();
    let mut records = Vec::with_capacity(total_records);
    let mut truth = Vec::with_capacity(total_truth);
    let mut counts = FeedCounts::default();
    for part in parts.into_iter().chain(std::iter::once(planted)) {
        records.extend(part.records);
        truth.extend(part.truth);
        counts.merge(&part.counts);
    }
    // (time, key) is unique: a record sent twice under one key is sent at least a minute apart.
    records.sort_unstable_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.key().cmp(&b.1.key())));
    truth.sort_unstable_by_key(|(key, _)| *key);
    debug_assert!(
        truth.windows(2).all(|w| w[0].0 != w[1].0),
        "record keys repeat"
    );

    Feeds {
        library,
        records,
        truth: TruthTable { entries: truth },
        fraud_rooms,
        counts,
    }
}

/// `f(0..n)` on every core, results in index order (each item draws from its own stream, so the
/// thread count never changes a result).
fn map_ordered<T: Send>(n: usize, f: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |t| t.get())
        .min(n.max(1));
    let next = AtomicUsize::new(0);
    let mut slots: Vec<Option<T>> = (0..n).map(|_| None).collect();
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= n {
                            break done;
                        }
                        done.push((i, f(i)));
                    }
                })
            })
            .collect();
        for worker in workers {
            for (i, item) in worker.join().expect("a feed generator thread panicked") {
                slots[i] = Some(item);
            }
        }
    });
    slots
        .into_iter()
        .map(|s| s.expect("every item was generated"))
        .collect()
}

/// One grid's (or the planted fraud's) share of the feeds.
#[derive(Default)]
struct Part {
    records: Vec<(i64, Record)>,
    truth: Vec<(RecordKey, RecordTruth)>,
    counts: FeedCounts,
}

/// Where an address points, level by level (ids are the library's).
#[derive(Debug, Clone, Copy)]
struct Place {
    street: u32,
    community: u32,
    road: u32,
    number: u16,
    block: u16,
    unit: u8,
    room: u16,
}

/// FNV-1a of a name, to key look-up sets without storing strings.
fn name_hash(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

struct Generator<'a> {
    twin: &'a Twin,
    config: &'a BlocksLoop,
    seed: u64,
    duration_ms: u64,
    /// Street names without 街道, as clerks shorten them.
    street_short: Vec<String>,
    /// The road's former name, if it has one.
    road_former: Vec<Option<String>>,
    /// (street, road name) for every current and former road name: a road-name typo must not
    /// turn into another road of the street.
    road_names: HashSet<(u32, u64)>,
    /// (road name, house number, building number) of every building, under current and former
    /// names: a wrong building number must not exist on any road of that name.
    buildings_by_name: HashSet<(u64, u16, u16)>,
    /// (road name, house number) of every building, for fictitious addresses.
    numbers_by_name: HashSet<(u64, u16)>,
    /// Chance that a record on a renamed road uses the former name, so that the share of all
    /// records comes out at `address_old_road_name`.
    old_name_chance: f64,
    /// Per feed, the key that scrambles sequence numbers into the department's record references.
    ref_salt: [u64; 5],
}

impl<'a> Generator<'a> {
    fn new(
        twin: &'a Twin,
        config: &'a BlocksLoop,
        streams: &RngStreams,
        library: &AddressLibraryData,
        duration_ms: u64,
    ) -> Generator<'a> {
        let pop = &twin.population;
        let district = &twin.district;
        let street_short = district
            .streets
            .iter()
            .map(|s| {
                s.name_zh
                    .strip_suffix("街道")
                    .filter(|short| short.chars().count() >= 2)
                    .unwrap_or(&s.name_zh)
                    .to_string()
            })
            .collect();
        let road_former: Vec<Option<String>> = library
            .roads
            .iter()
            .map(|r| r.former_names.first().cloned())
            .collect();
        let road_street = |r: usize| district.communities[pop.roads[r].community as usize].street;
        let mut road_names = HashSet::new();
        for (r, road) in pop.roads.iter().enumerate() {
            road_names.insert((road_street(r), name_hash(&road.name)));
            if let Some(former) = &road_former[r] {
                road_names.insert((road_street(r), name_hash(former)));
            }
        }
        let mut buildings_by_name = HashSet::new();
        let mut numbers_by_name = HashSet::new();
        for b in &pop.buildings {
            let road = b.road as usize;
            let names = std::iter::once(&pop.roads[road].name).chain(&road_former[road]);
            for name in names {
                let h = name_hash(name);
                buildings_by_name.insert((h, b.number, b.block));
                numbers_by_name.insert((h, b.number));
            }
        }
        let renamed_homes = pop
            .household_room
            .iter()
            .filter(|&&room| {
                let b = &pop.buildings[pop.building_of_room(room)];
                road_former[b.road as usize].is_some()
            })
            .count();
        let renamed_share = renamed_homes as f64 / pop.households().max(1) as f64;
        let old_name_chance = if renamed_share > 0.0 {
            (config.address_old_road_name / renamed_share).min(1.0)
        } else {
            0.0
        };
        let ref_salt = std::array::from_fn(|i| mix64(streams.seed ^ mix64(0xfeed_0000 + i as u64)));
        Generator {
            twin,
            config,
            seed: streams.seed,
            duration_ms,
            street_short,
            road_former,
            road_names,
            buildings_by_name,
            numbers_by_name,
            old_name_chance,
            ref_salt,
        }
    }

    /// The department's reference for the `seq`-th record of a feed: unique within the feed
    /// (mix64 is a bijection) but telling the platform nothing about the twin's indexes.
    fn record_ref(&self, feed: Feed, seq: u64) -> u64 {
        mix64(seq ^ self.ref_salt[feed_index(feed)])
    }

    /// Whether the feeds cover this person or company: decided per entity from the seed, so a
    /// person is covered in every feed or in none.
    fn covered(&self, salt: u64, index: u64) -> bool {
        let coverage = self.config.coverage;
        if coverage >= 1.0 {
            return true;
        }
        let u = (mix64(self.seed ^ salt ^ mix64(index)) >> 11) as f64 / (1u64 << 53) as f64;
        u < coverage
    }

    fn place_of_room(&self, room: u32) -> Place {
        let pop = &self.twin.population;
        let b = &pop.buildings[pop.building_of_room(room)];
        let (unit, door) = unit_and_room(b.floors, b.rooms_per_floor, room - b.first_room);
        let grid = &self.twin.district.grids[b.grid as usize];
        Place {
            street: grid.street,
            community: grid.community,
            road: b.road,
            number: b.number,
            block: b.block,
            unit,
            room: door,
        }
    }

    /// Planted counts scale with the district and the coverage; a configured count never
    /// vanishes altogether.
    fn scaled(&self, count: u32) -> usize {
        if count == 0 {
            return 0;
        }
        let scaled = count as f64 * self.twin.district.scale * self.config.coverage.min(1.0);
        (scaled.round() as usize).max(1)
    }

    // --------------------------------------------------------------------------------------
    // Per grid
    // --------------------------------------------------------------------------------------

    fn grid(&self, g: u32, rng: &mut ChaCha8Rng) -> Part {
        let pop = &self.twin.population;
        let c = self.config;
        let mut part = Part::default();
        let residents = pop.residents_of_grid(g);

        // Household registration (registered residents) and rental registration (tenants).
        for r in residents.clone() {
            if !self.covered(COVER_PERSON, r as u64) {
                continue;
            }
            let home = pop.household_room[pop.resident_household[r as usize] as usize];
            let (feed, phone_share) = if pop.is_registered(r) {
                (Feed::HouseholdRegistration, PHONE_SHARE_HOUSEHOLD)
            } else {
                (Feed::RentalRegistration, PHONE_SHARE_RENTAL)
            };
            let mut faults = Faults::NONE;
            let mut room = home;
            if rng.random::<f64>() < c.stale_moved {
                room = self.former_home(rng, home);
                if room != home {
                    faults |= Faults::STALE;
                }
            }
            let arrival = bulk_arrival(rng, feed);
            let observed = arrival - rng.random_range(HOUR_MS..=730 * DAY_MS);
            self.person(
                rng,
                &mut part,
                PersonSpec {
                    feed,
                    seq: r as u64,
                    resident: r,
                    room,
                    current_room: home,
                    arrival,
                    observed,
                    phone_share,
                    faults,
                },
            );
        }

        // Utility accounts: one per household, held by one of its adults.
        let mut r = residents.start;
        while r < residents.end {
            let h = pop.resident_household[r as usize];
            let mut end = r + 1;
            while end < residents.end && pop.resident_household[end as usize] == h {
                end += 1;
            }
            let is_adult = |m: &u32| pop.resident_age[*m as usize] >= 18;
            let adults = (r..end).filter(is_adult).count();
            let holder = if adults == 0 {
                r
            } else {
                let k = rng.random_range(0..adults);
                (r..end).filter(is_adult).nth(k).expect("k < adults")
            };
            r = end;
            if !self.covered(COVER_PERSON, holder as u64) {
                continue;
            }
            let home = pop.household_room[h as usize];
            let arrival = bulk_arrival(rng, Feed::UtilityAccounts);
            let observed = arrival - rng.random_range(HOUR_MS..=730 * DAY_MS);
            self.person(
                rng,
                &mut part,
                PersonSpec {
                    feed: Feed::UtilityAccounts,
                    seq: h as u64,
                    resident: holder,
                    room: home,
                    current_room: home,
                    arrival,
                    observed,
                    phone_share: PHONE_SHARE_UTILITY,
                    faults: Faults::NONE,
                },
            );
        }

        // The business registry's companies registered in this grid.
        let first = pop.companies.partition_point(|co| co.grid < g);
        let last = pop.companies.partition_point(|co| co.grid <= g);
        for index in first..last {
            if !self.covered(COVER_COMPANY, index as u64) {
                continue;
            }
            let co = &pop.companies[index];
            let arrival = bulk_arrival(rng, Feed::BusinessRegistry);
            let observed = arrival - rng.random_range(HOUR_MS..=3650 * DAY_MS);
            let place = self.place_of_room(co.room);
            let mut faults = Faults::NONE;
            let address = self.address_text(rng, &place, true, &mut faults);
            let record = CompanyRecord {
                feed: Feed::BusinessRegistry,
                record_ref: self.record_ref(Feed::BusinessRegistry, index as u64),
                name: pop.company_name(index),
                credit_code: Some(pop.credit_code(index)),
                legal_representative_id: Some(pop.id_number(co.legal_representative)),
                registered_address: address,
                observed_at_ms: observed,
            };
            let truth = RecordTruth {
                entity: Entity::Company(index as u32),
                room: Some(co.room),
                current_room: None,
                faults,
            };
            self.emit(
                rng,
                &mut part,
                index as u64,
                Record::Company(record),
                arrival,
                truth,
            );
        }

        // Inspectors' door-to-door visits during the run, in working hours.
        if !residents.is_empty() {
            let days = (self.duration_ms as i64 + DAY_MS - 1) / DAY_MS;
            let per_day = c.visits_per_inspector_per_day.max(0.0);
            let mut visit = 0u64;
            for day in 0..days {
                let whole = per_day.floor() as u64;
                let n = whole + u64::from(rng.random::<f64>() < per_day - whole as f64);
                for _ in 0..n {
                    let at = day * DAY_MS + rng.random_range(WORK_START_MS..WORK_END_MS);
                    let r = rng.random_range(residents.clone());
                    let seq = (g as u64) << 32 | visit;
                    visit += 1;
                    if at >= self.duration_ms as i64 || !self.covered(COVER_PERSON, r as u64) {
                        continue;
                    }
                    let home = pop.household_room[pop.resident_household[r as usize] as usize];
                    self.person(
                        rng,
                        &mut part,
                        PersonSpec {
                            feed: Feed::InspectorVisit,
                            seq,
                            resident: r,
                            room: home,
                            current_room: home,
                            arrival: at,
                            observed: at,
                            phone_share: PHONE_SHARE_VISIT,
                            faults: Faults::NONE,
                        },
                    );
                }
            }
        }
        part
    }

    /// A home the person has left: another occupied room of the district.
    fn former_home(&self, rng: &mut ChaCha8Rng, home: u32) -> u32 {
        let rooms = &self.twin.population.household_room;
        for _ in 0..8 {
            let room = rooms[rng.random_range(0..rooms.len())];
            if room != home {
                return room;
            }
        }
        home
    }

    // --------------------------------------------------------------------------------------
    // Planted fraud
    // --------------------------------------------------------------------------------------

    /// Planted companies: crowds in a few fraud rooms, and registrations at addresses that do
    /// not exist. Numbered after the register's real companies.
    fn planted(&self, rng: &mut ChaCha8Rng) -> (Part, Vec<u32>) {
        let pop = &self.twin.population;
        let mut part = Part::default();
        let real = pop.companies.len() as u64;
        let mut next = 0u64;

        // Fraud rooms: ordinary flats, each with a nominee or two signing for every company.
        let wanted = self.scaled(self.config.fraud_rooms);
        let mut chosen: BTreeSet<u32> = BTreeSet::new();
        let mut fraud_rooms = Vec::with_capacity(wanted);
        let mut tries = 0;
        while fraud_rooms.len() < wanted && tries < wanted * 100 + 100 {
            tries += 1;
            let room = pop.household_room[rng.random_range(0..pop.household_room.len())];
            if chosen.insert(room) {
                fraud_rooms.push(room);
            }
        }
        for &room in &fraud_rooms {
            let nominees = [
                rng.random_range(0..pop.residents() as u32),
                rng.random_range(0..pop.residents() as u32),
            ];
            let place = self.place_of_room(room);
            for _ in 0..self.config.companies_per_fraud_room {
                let nominee = nominees[usize::from(rng.random::<f64>() < 0.2)];
                self.planted_company(
                    rng,
                    &mut part,
                    real + next,
                    &place,
                    Some(room),
                    nominee,
                    Faults::FRAUD_ROOM,
                );
                next += 1;
            }
        }

        // Fictitious addresses: a house number the road does not have.
        for _ in 0..self.scaled(self.config.fictitious_addresses) {
            let road = rng.random_range(0..pop.roads.len() as u32);
            let community = pop.roads[road as usize].community;
            let street = self.twin.district.communities[community as usize].street;
            let names: Vec<u64> = std::iter::once(&pop.roads[road as usize].name)
                .chain(&self.road_former[road as usize])
                .map(|n| name_hash(n))
                .collect();
            let mut number = rng.random_range(1..=400u16);
            while names
                .iter()
                .any(|&h| self.numbers_by_name.contains(&(h, number)))
            {
                number += rng.random_range(1..=7);
            }
            let place = Place {
                street,
                community,
                road,
                number,
                block: rng.random_range(1..=8),
                unit: 1,
                room: rng.random_range(1..=6u16) * 100 + rng.random_range(1..=4u16),
            };
            let nominee = rng.random_range(0..pop.residents() as u32);
            self.planted_company(
                rng,
                &mut part,
                real + next,
                &place,
                None,
                nominee,
                Faults::FICTITIOUS,
            );
            next += 1;
        }
        fraud_rooms.sort_unstable();
        (part, fraud_rooms)
    }

    fn planted_company(
        &self,
        rng: &mut ChaCha8Rng,
        part: &mut Part,
        index: u64,
        place: &Place,
        room: Option<u32>,
        legal_representative: u32,
        kind: Faults,
    ) {
        let pop = &self.twin.population;
        let industry = rng.random_range(0..ids::INDUSTRIES.len());
        let arrival = bulk_arrival(rng, Feed::BusinessRegistry);
        // Shell companies are registered in bursts, recently.
        let observed = arrival - rng.random_range(DAY_MS..=90 * DAY_MS);
        let mut faults = kind;
        let address = self.address_text(rng, place, room.is_some(), &mut faults);
        let record = CompanyRecord {
            feed: Feed::BusinessRegistry,
            record_ref: self.record_ref(Feed::BusinessRegistry, index),
            name: ids::company_name(mix64(self.seed ^ PLANTED_NAME_SALT ^ index), industry),
            credit_code: Some(ids::compose_credit_code(
                9,
                1,
                ids::SHENZHEN_BAOAN_CODE,
                index,
            )),
            legal_representative_id: Some(pop.id_number(legal_representative)),
            registered_address: address,
            observed_at_ms: observed,
        };
        let truth = RecordTruth {
            entity: Entity::Company(index as u32),
            room,
            current_room: None,
            faults,
        };
        self.emit(rng, part, index, Record::Company(record), arrival, truth);
    }

    // --------------------------------------------------------------------------------------
    // Records
    // --------------------------------------------------------------------------------------

    fn person(&self, rng: &mut ChaCha8Rng, part: &mut Part, spec: PersonSpec) {
        let pop = &self.twin.population;
        let c = self.config;
        let r = spec.resident;
        let mut faults = spec.faults;

        let mut name = pop.name(r);
        if rng.random::<f64>() < c.name_typo {
            name = name_typo(rng, &name);
            faults |= Faults::NAME_TYPO;
        }
        let mut id_number = pop.id_number(r);
        let birth_date = birth_date_of(&id_number);
        if rng.random::<f64>() < c.id_typo {
            id_number = id_typo(rng, &id_number);
            faults |= Faults::ID_TYPO;
        }
        let place = self.place_of_room(spec.room);
        let address = self.address_text(rng, &place, true, &mut faults);
        let phone = (rng.random::<f64>() < spec.phone_share).then(|| self.phone(r));
        let record = PersonRecord {
            feed: spec.feed,
            record_ref: self.record_ref(spec.feed, spec.seq),
            name,
            id_number: Some(id_number),
            sex: Some(if pop.is_male(r) {
                Sex::Male
            } else {
                Sex::Female
            }),
            birth_date: Some(birth_date),
            address,
            phone,
            observed_at_ms: spec.observed,
        };
        let truth = RecordTruth {
            entity: Entity::Person(r),
            room: Some(spec.room),
            current_room: Some(spec.current_room),
            faults,
        };
        self.emit(
            rng,
            part,
            spec.seq,
            Record::Person(record),
            spec.arrival,
            truth,
        );
    }

    /// Sends a record, perhaps twice: the same record again under its key (the department's
    /// export was re-run), or a copy under a new reference (entered twice).
    fn emit(
        &self,
        rng: &mut ChaCha8Rng,
        part: &mut Part,
        seq: u64,
        record: Record,
        arrival: i64,
        mut truth: RecordTruth,
    ) {
        let key = record.key();
        let feed = key.feed;
        let visit = feed == Feed::InspectorVisit;
        // A second sending must still fall inside its window: before the run for the nightly
        // exports (their windows end by 11:00 of the last night), inside the run for visits.
        let limit = if visit { self.duration_ms as i64 } else { 0 };
        let later = |rng: &mut ChaCha8Rng| {
            let delay = if visit {
                rng.random_range(MINUTE_MS..=30 * MINUTE_MS)
            } else {
                rng.random_range(MINUTE_MS..=6 * HOUR_MS)
            };
            Some(arrival + delay).filter(|&at| at < limit)
        };
        let duplicate = rng.random::<f64>() < self.config.duplicate;
        let resend = duplicate && rng.random::<bool>();
        if duplicate && resend {
            if let Some(again) = later(rng) {
                truth.faults |= Faults::RESENT;
                part.records.push((again, record.clone()));
            }
        } else if duplicate {
            let copy_arrival = if visit {
                later(rng)
            } else {
                Some(bulk_arrival(rng, feed))
            };
            if let Some(copy_arrival) = copy_arrival {
                let mut copy = record.clone();
                let copy_ref = self.record_ref(feed, COPY_BIT | seq);
                match &mut copy {
                    Record::Person(p) => p.record_ref = copy_ref,
                    Record::Company(c) => c.record_ref = copy_ref,
                }
                let copy_truth = RecordTruth {
                    faults: truth.faults | Faults::DUPLICATE_COPY,
                    ..truth
                };
                part.truth.push((copy.key(), copy_truth));
                part.counts.add(feed, copy_truth.faults, 1);
                part.records.push((copy_arrival, copy));
            }
        }
        let sent = if truth.faults.contains(Faults::RESENT) {
            2
        } else {
            1
        };
        part.counts.add(feed, truth.faults, sent);
        part.truth.push((key, truth));
        part.records.push((arrival, record));
    }

    /// The person's mobile number: fixed per person, so feeds agree on it.
    fn phone(&self, r: u32) -> String {
        let h = mix64(self.seed ^ PHONE_SALT ^ mix64(r as u64));
        let prefix = PHONE_PREFIXES[(h % PHONE_PREFIXES.len() as u64) as usize];
        format!("1{prefix}{:08}", (h >> 8) % 100_000_000)
    }

    /// The address text a clerk writes for `place`, with the address faults drawn at the
    /// scenario's rates (and recorded in `faults`). `exists`: the place is a library room, so a
    /// wrong building number can be drawn for it.
    fn address_text(
        &self,
        rng: &mut ChaCha8Rng,
        place: &Place,
        exists: bool,
        faults: &mut Faults,
    ) -> String {
        let c = self.config;
        let district = &self.twin.district;
        let pop = &self.twin.population;

        let mut prefix = FULL_PREFIX;
        let mut street = district.streets[place.street as usize].name_zh.as_str();
        if rng.random::<f64>() < c.address_abbreviated {
            let short = self.street_short[place.street as usize].as_str();
            // Any shortening but none at all (when the street has no short form, the prefix
            // must change).
            loop {
                let p = PREFIX_FORMS[rng.random_range(0..PREFIX_FORMS.len())];
                let s = if rng.random::<bool>() { short } else { street };
                if p != FULL_PREFIX || s != street {
                    prefix = p;
                    street = s;
                    break;
                }
            }
            *faults |= Faults::ADDRESS_ABBREVIATED;
        }

        let (mut with_community, mut with_unit) = (true, true);
        if rng.random::<f64>() < c.address_missing_level {
            if rng.random::<bool>() {
                with_community = false;
            } else {
                with_unit = false;
            }
            *faults |= Faults::MISSING_LEVEL;
        }

        let mut road: &str = &pop.roads[place.road as usize].name;
        if let Some(former) = &self.road_former[place.road as usize]
            && rng.random::<f64>() < self.old_name_chance
        {
            road = former;
            *faults |= Faults::OLD_ROAD_NAME;
        }

        let mut block = place.block;
        if exists && rng.random::<f64>() < c.address_wrong_building {
            block = self.wrong_block(rng, place);
            *faults |= Faults::WRONG_BUILDING;
        }

        let misspelt;
        if rng.random::<f64>() < c.address_typo
            && let Some(typo) = self.road_typo(rng, place.street, road)
        {
            misspelt = typo;
            road = &misspelt;
            *faults |= Faults::ADDRESS_TYPO;
        }

        let wide = rng.random::<f64>() < c.address_full_width;
        if wide {
            *faults |= Faults::FULL_WIDTH;
        }

        let mut text = String::with_capacity(112);
        text.push_str(prefix);
        text.push_str(street);
        if with_community {
            text.push_str(&district.communities[place.community as usize].name);
        }
        text.push_str(road);
        push_number(&mut text, place.number as u32, wide);
        text.push('号');
        push_number(&mut text, block as u32, wide);
        text.push('栋');
        if with_unit {
            push_number(&mut text, place.unit as u32, wide);
            text.push_str("单元");
        }
        push_number(&mut text, place.room as u32, wide);
        text.push('室');
        text
    }

    /// A building number that no road of this name has at this house number.
    fn wrong_block(&self, rng: &mut ChaCha8Rng, place: &Place) -> u16 {
        let pop = &self.twin.population;
        let names: Vec<u64> = std::iter::once(&pop.roads[place.road as usize].name)
            .chain(&self.road_former[place.road as usize])
            .map(|n| name_hash(n))
            .collect();
        let free = |block: u16| {
            block != place.block
                && names
                    .iter()
                    .all(|&h| !self.buildings_by_name.contains(&(h, place.number, block)))
        };
        for _ in 0..32 {
            let block = rng.random_range(1..=30);
            if free(block) {
                return block;
            }
        }
        // Blocks are numbered 1..=30 within a grid: past that nothing exists.
        (31..)
            .find(|&b| free(b))
            .expect("some block number is free")
    }

    /// `road` with one character replaced by a similar-looking or -sounding one, unless every
    /// such replacement names another road of the street.
    fn road_typo(&self, rng: &mut ChaCha8Rng, street: u32, road: &str) -> Option<String> {
        let chars: Vec<char> = road.chars().collect();
        let positions: Vec<usize> = (0..chars.len())
            .filter(|&i| confusable_road_char(chars[i]).is_some())
            .collect();
        if positions.is_empty() {
            return None;
        }
        let start = rng.random_range(0..positions.len());
        for k in 0..positions.len() {
            let at = positions[(start + k) % positions.len()];
            let mut typo = chars.clone();
            typo[at] = confusable_road_char(chars[at]).expect("filtered above");
            let typo: String = typo.into_iter().collect();
            if !self.road_names.contains(&(street, name_hash(&typo))) {
                return Some(typo);
            }
        }
        None
    }
}

/// What a person record is about and when it is sent.
struct PersonSpec {
    feed: Feed,
    /// Unique within the feed; scrambled into the record reference.
    seq: u64,
    resident: u32,
    /// The room the record's address names.
    room: u32,
    current_room: u32,
    arrival: i64,
    observed: i64,
    phone_share: f64,
    faults: Faults,
}

fn feed_index(feed: Feed) -> usize {
    match feed {
        Feed::HouseholdRegistration => 0,
        Feed::RentalRegistration => 1,
        Feed::BusinessRegistry => 2,
        Feed::UtilityAccounts => 3,
        Feed::InspectorVisit => 4,
    }
}

/// When a bulk record reaches the platform: in its department's nightly export window (each
/// department exports at its own hour) on one of the nights before the run.
fn bulk_arrival(rng: &mut ChaCha8Rng, feed: Feed) -> i64 {
    let export_hour = match feed {
        Feed::HouseholdRegistration => 1,
        Feed::RentalRegistration => 2,
        Feed::BusinessRegistry => 3,
        Feed::UtilityAccounts => 4,
        // Visits are sent as they are made; a caller never asks for a bulk time for them.
        Feed::InspectorVisit => 5,
    };
    let night = rng.random_range(1..=BULK_NIGHTS);
    -night * DAY_MS + export_hour * HOUR_MS + rng.random_range(0..HOUR_MS)
}

/// Appends `n` in ASCII or full-width digits.
fn push_number(text: &mut String, n: u32, wide: bool) {
    let mut digits = [0u8; 10];
    let mut len = 0;
    let mut rest = n;
    loop {
        digits[len] = (rest % 10) as u8;
        len += 1;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    for &d in digits[..len].iter().rev() {
        let base = if wide { '０' } else { '0' };
        text.push(char::from_u32(base as u32 + d as u32).expect("a digit"));
    }
}

/// The birth date an ID number encodes (positions 7–14).
fn birth_date_of(id_number: &str) -> BirthDate {
    let digits = |range: std::ops::Range<usize>| -> u32 {
        id_number.as_bytes()[range]
            .iter()
            .fold(0, |v, &d| v * 10 + u32::from(d - b'0'))
    };
    BirthDate {
        year: digits(6..10) as u16,
        month: digits(10..12) as u8,
        day: digits(12..14) as u8,
    }
}

/// One of the first 17 digits changed. Every single-digit change breaks the GB 11643 check
/// (the weights are non-zero modulo the prime 11); each typo is still verified.
fn id_typo(rng: &mut ChaCha8Rng, id_number: &str) -> String {
    let mut bytes = id_number.as_bytes().to_vec();
    for _ in 0..16 {
        let at = rng.random_range(0..17);
        let old = bytes[at];
        bytes[at] = b'0' + (old - b'0' + rng.random_range(1..10u8)) % 10;
        let typo = String::from_utf8(bytes.clone()).expect("ASCII digits");
        if ids::validate_id_number(&typo).is_err() {
            return typo;
        }
        bytes[at] = old;
    }
    unreachable!("a one-digit change always breaks the GB 11643 check digit")
}

/// Characters clerks confuse in given names: each group sounds alike (or nearly).
#[rustfmt::skip]
const NAME_HOMOPHONES: &[&str] = &[
    "伟玮炜韦维卫", "明鸣铭名", "敏民闽", "华化桦", "军君钧", "俊骏峻郡", "杰洁婕捷",
    "涛韬滔", "斌彬宾", "辉晖徽", "慧惠蕙", "鹏朋蓬", "飞菲霏", "鑫欣馨新心昕", "波博柏",
    "宇雨语羽禹", "玉钰郁", "浩昊皓灏", "凯恺锴", "健建剑", "帆凡", "旭煦", "宁凝", "龙隆",
    "林琳霖麟", "阳洋杨扬", "东冬", "峰锋丰枫", "文雯闻", "志智治", "兵冰", "亮靓",
    "成诚程承", "晨辰琛宸", "毅怡艺逸奕", "翔祥", "坤昆", "泽则", "哲喆", "瑞睿锐", "梓子紫",
    "嘉佳家", "恒衡", "宏鸿弘洪", "力丽莉立利", "山珊姗", "岩妍", "威薇", "庆青清晴倩",
    "贵桂", "金晶静婧", "荣蓉容", "光广", "耀瑶遥", "春纯", "楠南", "良梁", "远媛源",
    "奇琪琦淇", "芳方", "艳燕雁", "娟涓", "玲铃灵凌菱", "英莹瑛颖", "萍平", "琴芹",
    "云芸韵", "梅玫", "婷亭", "露璐", "婉宛", "悦月", "兰岚", "娅亚", "彤童", "涵寒",
    "雅亚", "秀绣", "霞夏", "丹单", "芬分", "菁精", "曼蔓", "冉然",
];

/// Fallback replacements for characters in no homophone group.
const NAME_FALLBACK: [char; 8] = ['伟', '明', '华', '丽', '芳', '军', '玲', '杰'];

/// The name with one character replaced (a given-name character when there is one).
fn name_typo(rng: &mut ChaCha8Rng, name: &str) -> String {
    let mut chars: Vec<char> = name.chars().collect();
    let at = if chars.len() >= 2 {
        rng.random_range(1..chars.len())
    } else {
        0
    };
    let old = chars[at];
    let group = NAME_HOMOPHONES.iter().find(|g| g.contains(old));
    let candidates: Vec<char> = match group {
        Some(g) => g.chars().filter(|&ch| ch != old).collect(),
        None => NAME_FALLBACK
            .iter()
            .copied()
            .filter(|&ch| ch != old)
            .collect(),
    };
    chars[at] = candidates[rng.random_range(0..candidates.len())];
    chars.into_iter().collect()
}

/// A character that looks or sounds like a road-name character; never a numeral (a numeral
/// would be read as a number) and never the 路/街/大道/巷 suffix or the series ordinal.
fn confusable_road_char(c: char) -> Option<char> {
    Some(match c {
        '兴' => '星',
        '华' => '化',
        '宝' => '保',
        '民' => '明',
        '创' => '闯',
        '业' => '叶',
        '海' => '每',
        '滨' => '宾',
        '前' => '钱',
        '进' => '近',
        '新' => '心',
        '安' => '按',
        '建' => '健',
        '裕' => '玉',
        '翻' => '番',
        '身' => '申',
        '文' => '纹',
        '化' => '花',
        '工' => '公',
        '学' => '雪',
        '府' => '付',
        '公' => '工',
        '园' => '元',
        '人' => '仁',
        '中' => '忠',
        '心' => '新',
        '富' => '福',
        '源' => '原',
        '德' => '得',
        '政' => '正',
        '城' => '成',
        '湖' => '胡',
        '碧' => '壁',
        '上' => '尚',
        '川' => '州',
        '长' => '常',
        '和' => '合',
        '平' => '坪',
        '乐' => '勒',
        '育' => '玉',
        '才' => '材',
        '主' => '住',
        '团' => '图',
        '结' => '洁',
        '设' => '没',
        '振' => '震',
        '朝' => '潮',
        '阳' => '杨',
        '光' => '广',
        '明' => '名',
        '沿' => '延',
        '江' => '汪',
        '环' => '还',
        '怀' => '坏',
        '福' => '富',
        '凤' => '风',
        '凰' => '皇',
        '桥' => '乔',
        '洪' => '红',
        '田' => '甜',
        '西' => '希',
        '乡' => '相',
        '永' => '泳',
        '沙' => '纱',
        '井' => '景',
        '松' => '送',
        '岗' => '港',
        '石' => '实',
        '岩' => '言',
        '航' => '杭',
        '固' => '故',
        '戍' => '戌',
        '灵' => '玲',
        '芝' => '之',
        '浪' => '朗',
        '留' => '流',
        '仙' => '先',
        '龙' => '隆',
        '金' => '今',
        '银' => '印',
        '桃' => '陶',
        '荔' => '莉',
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::sync::OnceLock;

    const SEED: u64 = 7;
    const TWO_DAYS_MS: u64 = 2 * DAY_MS as u64;

    fn twin() -> &'static Twin {
        static TWIN: OnceLock<Twin> = OnceLock::new();
        TWIN.get_or_init(|| Twin::build(0.002, SEED).0)
    }

    fn streams() -> RngStreams {
        RngStreams::new(SEED)
    }

    /// No faults, no duplicates, no planted fraud.
    fn clean() -> BlocksLoop {
        BlocksLoop {
            address_abbreviated: 0.0,
            address_missing_level: 0.0,
            address_wrong_building: 0.0,
            address_old_road_name: 0.0,
            address_full_width: 0.0,
            address_typo: 0.0,
            id_typo: 0.0,
            name_typo: 0.0,
            stale_moved: 0.0,
            duplicate: 0.0,
            fraud_rooms: 0,
            fictitious_addresses: 0,
            ..BlocksLoop::default()
        }
    }

    /// Every fault at a rate high enough to measure on a tiny twin.
    fn faulty() -> BlocksLoop {
        BlocksLoop {
            address_abbreviated: 0.3,
            address_missing_level: 0.2,
            address_wrong_building: 0.1,
            address_old_road_name: 0.05,
            address_full_width: 0.1,
            address_typo: 0.1,
            id_typo: 0.1,
            name_typo: 0.1,
            stale_moved: 0.1,
            duplicate: 0.1,
            ..BlocksLoop::default()
        }
    }

    /// The standard address of every library room, built from the library alone, by room id.
    fn library_addresses(lib: &AddressLibraryData) -> Vec<String> {
        lib.rooms
            .iter()
            .map(|r| {
                let b = &lib.buildings[r.building as usize];
                let road = &lib.roads[b.road as usize];
                let community = &lib.communities[road.community as usize];
                let street = &lib.streets[community.street as usize];
                format!(
                    "{FULL_PREFIX}{}{}{}{}号{}栋{}单元{}室",
                    street.name, community.name, road.name, b.number, b.block, r.unit, r.room
                )
            })
            .collect()
    }

    fn address_of(record: &Record) -> &str {
        match record {
            Record::Person(p) => &p.address,
            Record::Company(c) => &c.registered_address,
        }
    }

    #[test]
    fn library_rooms_map_back_to_population_addresses() {
        let t = twin();
        let lib = address_library(t, &streams());
        assert_eq!(lib.streets.len(), t.district.streets.len());
        assert_eq!(lib.roads.len(), t.population.roads.len());
        assert_eq!(lib.rooms.len() as u64, t.population.rooms());
        let texts = library_addresses(&lib);
        for (i, room) in lib.rooms.iter().enumerate() {
            assert_eq!(room.id, i as u32, "room ids are the global room index");
            assert_eq!(
                texts[i],
                t.population.address(&t.district, room.id).to_string(),
                "room {i}"
            );
        }
        let renamed = lib
            .roads
            .iter()
            .filter(|r| !r.former_names.is_empty())
            .count();
        assert!(renamed >= 1, "a tenth of roads should have a former name");
        assert!(
            renamed * 10 <= lib.roads.len() * 3,
            "{renamed} of {}",
            lib.roads.len()
        );
        for road in &lib.roads {
            for former in &road.former_names {
                let clash = lib
                    .roads
                    .iter()
                    .filter(|o| o.community == road.community)
                    .any(|o| {
                        &o.name == former || (o.id != road.id && o.former_names.contains(former))
                    });
                assert!(!clash, "former name {former} of road {} is taken", road.id);
            }
        }
        assert_eq!(lib, address_library(t, &streams()), "deterministic");
    }

    #[test]
    fn without_faults_every_record_is_the_truth() {
        let t = twin();
        let pop = &t.population;
        let feeds = generate(t, &clean(), &streams(), TWO_DAYS_MS);
        let mut per_feed: BTreeMap<Feed, usize> = BTreeMap::new();
        for (_, record) in &feeds.records {
            let truth = feeds.truth.get(&record.key()).expect("every key has truth");
            assert!(truth.faults.is_empty());
            let room = truth.room.expect("a real room");
            let standard = pop.address(&t.district, room).to_string();
            assert_eq!(address_of(record), standard);
            assert_eq!(feeds.library.rooms[room as usize].id, room);
            match (record, truth.entity) {
                (Record::Person(p), Entity::Person(r)) => {
                    assert_eq!(p.name, pop.name(r));
                    assert_eq!(p.id_number.as_deref(), Some(pop.id_number(r).as_str()));
                    assert_eq!(
                        ids::validate_id_number(p.id_number.as_ref().unwrap()),
                        Ok(())
                    );
                    assert_eq!(truth.current_room, truth.room);
                    let home = pop.household_room[pop.resident_household[r as usize] as usize];
                    assert_eq!(room, home);
                    let birth = p.birth_date.unwrap();
                    assert_eq!(
                        birth.as_yyyymmdd().map(|d| d.to_string()),
                        Some(pop.id_number(r)[6..14].to_string())
                    );
                    assert_eq!(
                        p.sex,
                        Some(if pop.is_male(r) {
                            Sex::Male
                        } else {
                            Sex::Female
                        })
                    );
                }
                (Record::Company(c), Entity::Company(i)) => {
                    assert_eq!(c.name, pop.company_name(i as usize));
                    assert_eq!(c.credit_code, Some(pop.credit_code(i as usize)));
                    assert_eq!(room, pop.companies[i as usize].room);
                }
                other => panic!("record and entity disagree: {other:?}"),
            }
            *per_feed.entry(record.key().feed).or_default() += 1;
        }
        let registered = pop.registered();
        assert_eq!(per_feed[&Feed::HouseholdRegistration], registered);
        assert_eq!(
            per_feed[&Feed::RentalRegistration],
            pop.residents() - registered
        );
        assert_eq!(per_feed[&Feed::UtilityAccounts], pop.households());
        assert_eq!(per_feed[&Feed::BusinessRegistry], pop.companies.len());
        // 20 visits per grid per day over two days.
        let visits = per_feed[&Feed::InspectorVisit];
        let expected = 2 * 20 * t.district.grids.len();
        assert_eq!(visits, expected);
        assert!(feeds.fraud_rooms.is_empty());
    }

    #[test]
    fn every_key_has_truth_and_records_are_ordered_in_time() {
        let t = twin();
        let feeds = generate(t, &faulty(), &streams(), TWO_DAYS_MS);
        let mut sent: HashMap<RecordKey, usize> = HashMap::new();
        for (at, record) in &feeds.records {
            let key = record.key();
            assert!(feeds.truth.contains_key(&key), "{key:?} has no truth");
            *sent.entry(key).or_default() += 1;
            if key.feed == Feed::InspectorVisit {
                let of_day = at.rem_euclid(DAY_MS);
                assert!(*at >= 0 && *at < TWO_DAYS_MS as i64, "{at}");
                assert!((WORK_START_MS..WORK_END_MS + 30 * MINUTE_MS).contains(&of_day));
            } else {
                assert!(
                    (-BULK_NIGHTS * DAY_MS..0).contains(at),
                    "bulk record at {at}"
                );
            }
        }
        assert_eq!(sent.len(), feeds.truth.len(), "no truth without a record");
        for (key, truth) in feeds.truth.iter() {
            let times = sent[key];
            assert_eq!(
                times,
                if truth.faults.contains(Faults::RESENT) {
                    2
                } else {
                    1
                }
            );
        }
        assert!(
            feeds
                .records
                .windows(2)
                .all(|w| (w[0].0, w[0].1.key()) < (w[1].0, w[1].1.key())),
            "sorted by time then key"
        );
        // Same key sent twice: the very same record.
        let mut first: HashMap<RecordKey, &Record> = HashMap::new();
        for (_, record) in &feeds.records {
            if let Some(earlier) = first.insert(record.key(), record) {
                assert_eq!(earlier, record);
            }
        }
        let total = feeds.counts.total();
        assert_eq!(total.records as usize, feeds.truth.len());
        assert_eq!(total.sent as usize, feeds.records.len());
    }

    #[test]
    fn id_typos_fail_the_check_digit_and_others_pass() {
        let t = twin();
        let feeds = generate(t, &faulty(), &streams(), TWO_DAYS_MS);
        let (mut typos, mut clean) = (0, 0);
        for (_, record) in &feeds.records {
            let Record::Person(p) = record else { continue };
            let truth = feeds.truth.get(&record.key()).unwrap();
            let id = p.id_number.as_deref().unwrap();
            let Entity::Person(r) = truth.entity else {
                panic!("person record of a company")
            };
            if truth.faults.contains(Faults::ID_TYPO) {
                assert!(ids::validate_id_number(id).is_err(), "{id} should fail");
                let real = t.population.id_number(r);
                let differing = id.bytes().zip(real.bytes()).filter(|(a, b)| a != b).count();
                assert_eq!(differing, 1, "{id} vs {real}");
                typos += 1;
            } else {
                assert_eq!(ids::validate_id_number(id), Ok(()), "{id}");
                assert_eq!(id, t.population.id_number(r));
                clean += 1;
            }
            if truth.faults.contains(Faults::NAME_TYPO) {
                let real = t.population.name(r);
                assert_ne!(p.name, real);
                assert_eq!(p.name.chars().count(), real.chars().count());
                let differing = p
                    .name
                    .chars()
                    .zip(real.chars())
                    .filter(|(a, b)| a != b)
                    .count();
                assert_eq!(differing, 1, "{} vs {real}", p.name);
            } else {
                assert_eq!(p.name, t.population.name(r));
            }
        }
        assert!(typos > 100 && clean > 1000, "{typos} typos, {clean} clean");
    }

    #[test]
    fn fault_shares_come_out_near_the_rates() {
        let t = twin();
        let config = faulty();
        let feeds = generate(t, &config, &streams(), TWO_DAYS_MS);
        // Original keys only: copies repeat their original's faults.
        let originals: Vec<&RecordTruth> = feeds
            .truth
            .iter()
            .map(|(_, truth)| truth)
            .filter(|truth| !truth.faults.contains(Faults::DUPLICATE_COPY))
            .collect();
        let n = originals.len() as f64;
        assert!(n > 5_000.0, "{n} records");
        let share = |of: &[&RecordTruth], fault: Faults| {
            of.iter().filter(|t| t.faults.contains(fault)).count() as f64 / of.len() as f64
        };
        let near = |name: &str, got: f64, rate: f64, count: usize| {
            let sd = (rate * (1.0 - rate) / count as f64).sqrt();
            assert!(
                (got - rate).abs() < 4.0 * sd + 0.005,
                "{name}: {got:.4} vs rate {rate} over {count}"
            );
        };
        let count = originals.len();
        near(
            "abbreviated",
            share(&originals, Faults::ADDRESS_ABBREVIATED),
            config.address_abbreviated,
            count,
        );
        near(
            "missing level",
            share(&originals, Faults::MISSING_LEVEL),
            config.address_missing_level,
            count,
        );
        near(
            "full width",
            share(&originals, Faults::FULL_WIDTH),
            config.address_full_width,
            count,
        );
        near(
            "address typo",
            share(&originals, Faults::ADDRESS_TYPO),
            config.address_typo,
            count,
        );
        let real: Vec<&RecordTruth> = originals
            .iter()
            .copied()
            .filter(|t| t.room.is_some())
            .collect();
        near(
            "wrong building",
            share(&real, Faults::WRONG_BUILDING),
            config.address_wrong_building,
            real.len(),
        );
        let persons: Vec<&RecordTruth> = originals
            .iter()
            .copied()
            .filter(|t| matches!(t.entity, Entity::Person(_)))
            .collect();
        near(
            "id typo",
            share(&persons, Faults::ID_TYPO),
            config.id_typo,
            persons.len(),
        );
        near(
            "name typo",
            share(&persons, Faults::NAME_TYPO),
            config.name_typo,
            persons.len(),
        );
        let registrations: Vec<&RecordTruth> = feeds
            .truth
            .iter()
            .filter(|(k, t)| {
                matches!(
                    k.feed,
                    Feed::HouseholdRegistration | Feed::RentalRegistration
                ) && !t.faults.contains(Faults::DUPLICATE_COPY)
            })
            .map(|(_, t)| t)
            .collect();
        near(
            "stale",
            share(&registrations, Faults::STALE),
            config.stale_moved,
            registrations.len(),
        );
        let duplicated = originals
            .iter()
            .filter(|t| t.faults.contains(Faults::RESENT))
            .count()
            + feeds
                .truth
                .iter()
                .filter(|(_, t)| t.faults.contains(Faults::DUPLICATE_COPY))
                .count();
        near("duplicate", duplicated as f64 / n, config.duplicate, count);
        // Old road names: on renamed roads, at the raised chance.
        let renamed_roads: HashSet<u32> = feeds
            .library
            .roads
            .iter()
            .filter(|r| !r.former_names.is_empty())
            .map(|r| r.id)
            .collect();
        let on_renamed: Vec<&RecordTruth> = real
            .iter()
            .copied()
            .filter(|t| {
                let b = feeds.library.rooms[t.room.unwrap() as usize].building;
                renamed_roads.contains(&feeds.library.buildings[b as usize].road)
            })
            .collect();
        let generator = Generator::new(t, &config, &streams(), &feeds.library, TWO_DAYS_MS);
        assert!(generator.old_name_chance > config.address_old_road_name);
        near(
            "old road name on renamed roads",
            share(&on_renamed, Faults::OLD_ROAD_NAME),
            generator.old_name_chance,
            on_renamed.len(),
        );
        let old_names = |of: &[&RecordTruth]| {
            of.iter()
                .filter(|t| t.faults.contains(Faults::OLD_ROAD_NAME))
                .count()
        };
        assert_eq!(
            old_names(&real),
            old_names(&on_renamed),
            "only renamed roads have old names"
        );
    }

    #[test]
    fn faults_show_in_the_text() {
        let t = twin();
        let feeds = generate(t, &faulty(), &streams(), TWO_DAYS_MS);
        let lib = &feeds.library;
        let texts = library_addresses(lib);
        // Everything up to the building number, for every library building.
        let buildings: HashSet<String> = texts
            .iter()
            .map(|a| a[..a.find('栋').unwrap()].to_string())
            .collect();
        let mut checked = [0usize; 5];
        for (_, record) in &feeds.records {
            let truth = feeds.truth.get(&record.key()).unwrap();
            let text = address_of(record);
            let f = truth.faults;
            assert_eq!(
                text.chars().any(|c| ('０'..='９').contains(&c)),
                f.contains(Faults::FULL_WIDTH),
                "{text}"
            );
            let Some(room) = truth.room else { continue };
            let b = &lib.buildings[lib.rooms[room as usize].building as usize];
            let road = &lib.roads[b.road as usize];
            if f.contains(Faults::OLD_ROAD_NAME) && !f.contains(Faults::ADDRESS_TYPO) {
                assert!(text.contains(&road.former_names[0]), "{text}");
                checked[0] += 1;
            }
            if !f.contains(Faults::OLD_ROAD_NAME) && !f.contains(Faults::ADDRESS_TYPO) {
                assert!(text.contains(&road.name), "{text}");
            }
            if f.contains(Faults::ADDRESS_TYPO) {
                assert!(!text.contains(&road.name), "{text}");
                checked[1] += 1;
            }
            if f.is_empty() || f == Faults::RESENT || f == Faults::DUPLICATE_COPY {
                assert_eq!(text, texts[room as usize]);
                checked[2] += 1;
            }
            if f.contains(Faults::ADDRESS_ABBREVIATED) {
                let street = lib.streets[lib.communities[road.community as usize].street as usize]
                    .name
                    .as_str();
                assert!(
                    !text.starts_with(&format!("{FULL_PREFIX}{street}")),
                    "{text}"
                );
                checked[3] += 1;
            }
            // A wrong building number, read back in the standard form, names no building.
            if f.contains(Faults::WRONG_BUILDING)
                && (f.0
                    & !(Faults::WRONG_BUILDING.0
                        | Faults::RESENT.0
                        | Faults::DUPLICATE_COPY.0
                        | Faults::ID_TYPO.0
                        | Faults::NAME_TYPO.0
                        | Faults::STALE.0))
                    == 0
            {
                assert!(
                    !buildings.contains(&text[..text.find('栋').unwrap()]),
                    "{text}"
                );
                checked[4] += 1;
            }
            if f.contains(Faults::STALE) {
                assert_ne!(truth.room, truth.current_room);
            } else if truth.current_room.is_some() {
                assert_eq!(truth.room, truth.current_room);
            }
        }
        assert!(
            checked.iter().all(|&c| c > 0),
            "every check ran: {checked:?}"
        );
    }

    #[test]
    fn generation_is_deterministic() {
        let t = twin();
        let a = generate(t, &faulty(), &streams(), TWO_DAYS_MS);
        let b = generate(t, &faulty(), &streams(), TWO_DAYS_MS);
        assert!(a == b, "same seed, same feeds");
        let c = generate(t, &faulty(), &RngStreams::new(SEED + 1), TWO_DAYS_MS);
        assert!(a.records != c.records, "another seed, other faults");
        let json = serde_json::to_string(&a.counts).unwrap();
        assert!(
            json.contains("\"household_registration\"") && json.contains("\"address_typo\""),
            "{json}"
        );
    }

    #[test]
    fn fraud_rooms_hold_the_planted_companies() {
        let t = twin();
        let config = BlocksLoop {
            fraud_rooms: 2_000,
            companies_per_fraud_room: 12,
            fictitious_addresses: 0,
            ..clean()
        };
        let feeds = generate(t, &config, &streams(), TWO_DAYS_MS);
        assert_eq!(feeds.fraud_rooms.len(), 4, "2000 rooms at scale 0.002");
        let real = t.population.companies.len() as u32;
        let mut per_room: BTreeMap<u32, BTreeSet<u32>> = BTreeMap::new();
        for (_, truth) in feeds.truth.iter() {
            if truth.faults.contains(Faults::FRAUD_ROOM) {
                let Entity::Company(c) = truth.entity else {
                    panic!("planted person")
                };
                assert!(c >= real, "planted companies come after the real ones");
                per_room.entry(truth.room.unwrap()).or_default().insert(c);
            }
        }
        assert_eq!(
            per_room.keys().copied().collect::<Vec<_>>(),
            feeds.fraud_rooms
        );
        for (room, companies) in &per_room {
            assert_eq!(companies.len(), 12, "room {room}");
        }
        // At scale 0.002 the default 40 rooms still leave one.
        let default = generate(
            t,
            &BlocksLoop {
                fraud_rooms: 40,
                ..clean()
            },
            &streams(),
            TWO_DAYS_MS,
        );
        assert_eq!(default.fraud_rooms.len(), 1);
        let none = generate(
            t,
            &BlocksLoop {
                fraud_rooms: 0,
                ..clean()
            },
            &streams(),
            TWO_DAYS_MS,
        );
        assert!(none.fraud_rooms.is_empty());
    }

    #[test]
    fn fictitious_addresses_name_no_library_room() {
        let t = twin();
        let config = BlocksLoop {
            fictitious_addresses: 5_000,
            ..clean()
        };
        let feeds = generate(t, &config, &streams(), TWO_DAYS_MS);
        let texts = library_addresses(&feeds.library);
        let all: HashSet<&str> = texts.iter().map(String::as_str).collect();
        let numbers: HashSet<&str> = texts.iter().map(|a| &a[..a.find('号').unwrap()]).collect();
        let mut fictitious = 0;
        for (_, record) in &feeds.records {
            let truth = feeds.truth.get(&record.key()).unwrap();
            if truth.faults.contains(Faults::FICTITIOUS) {
                let text = address_of(record);
                assert_eq!(truth.room, None);
                assert!(text.starts_with(FULL_PREFIX), "{text}");
                assert!(!all.contains(text), "{text} is a library room");
                assert!(
                    !numbers.contains(&text[..text.find('号').unwrap()]),
                    "{text}: the road has that number"
                );
                fictitious += 1;
            } else {
                assert!(truth.room.is_some());
            }
        }
        assert_eq!(fictitious, 10);
    }

    #[test]
    fn coverage_keeps_a_proportionate_share() {
        let t = twin();
        let pop = &t.population;
        let half = generate(
            t,
            &BlocksLoop {
                coverage: 0.5,
                ..clean()
            },
            &streams(),
            TWO_DAYS_MS,
        );
        let mut persons = HashSet::new();
        let mut companies = HashSet::new();
        for (key, truth) in half.truth.iter() {
            match truth.entity {
                Entity::Person(r)
                    if key.feed != Feed::InspectorVisit && key.feed != Feed::UtilityAccounts =>
                {
                    persons.insert(r);
                }
                Entity::Company(c) => {
                    companies.insert(c);
                }
                Entity::Person(_) => {}
            }
        }
        let person_share = persons.len() as f64 / pop.residents() as f64;
        let company_share = companies.len() as f64 / pop.companies.len() as f64;
        assert!((0.46..0.54).contains(&person_share), "{person_share}");
        assert!((0.44..0.56).contains(&company_share), "{company_share}");
        // A covered person is covered in every feed: visits and utility accounts name only them.
        for (key, truth) in half.truth.iter() {
            if let Entity::Person(r) = truth.entity {
                assert!(persons.contains(&r), "{key:?} names an uncovered person");
            }
        }
    }
}
