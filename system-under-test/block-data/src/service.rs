//! The block-data service behind the stack's block commands: it checks roles, builds the address
//! library the address office publishes, takes departments' batches, turns each new conflict
//! into a verification task for the grid's inspector, applies inspectors' findings, and answers
//! look-ups. The stack writes every call to its audit log; look-ups of people and companies are
//! named there.

use baoan_api::blocks::{
    AddressLibraryData, BlockQuery, BlockView as ApiView, Finding as ApiFinding, IngestStatus,
    IngestedRecord, Occupant as ApiOccupant, PlacedRecord, Record, RecordKey, VerificationTask,
};
use baoan_api::cases::AddressCheck;
use baoan_api::{ApiError, Command, Envelope, Outcome};
use rustc_hash::FxHashMap;

use crate::address::{AddressLibrary, Place};
use crate::person::{IdentField, IdentScheme};
use crate::resolve::{
    BlockData, BlockView, ClusterId, Config, ConflictKind, EntityKind, Finding, RecordStatus,
};

/// Largest batch a department may send in one call.
pub const MAX_BATCH: usize = 100_000;

fn invalid(field: &str, problem: impl Into<String>) -> ApiError {
    ApiError::Invalid {
        field: field.into(),
        problem: problem.into(),
    }
}

/// Counts for the stack's own figures.
#[derive(Debug, Clone, Copy, Default)]
pub struct ServiceStats {
    pub batches: u64,
    pub records: u64,
    pub lookups: u64,
    pub tasks: u64,
    pub resolved: u64,
}

/// The service: no block data until the address library is loaded.
pub struct BlockDataService {
    config: Config,
    data: Option<BlockData>,
    /// The parts of an address library received so far (`more: true`), built at the last.
    parts: Option<AddressLibraryData>,
    /// Valid legal representatives' ID numbers to the company records naming them.
    by_representative: FxHashMap<[u8; 18], Vec<RecordKey>>,
    conflicts_seen: usize,
    stats: ServiceStats,
}

impl Default for BlockDataService {
    fn default() -> Self {
        Self::new(Config::default())
    }
}

impl BlockDataService {
    pub fn new(config: Config) -> Self {
        BlockDataService {
            config,
            data: None,
            parts: None,
            by_representative: FxHashMap::default(),
            conflicts_seen: 0,
            stats: ServiceStats::default(),
        }
    }

    pub fn block_data(&self) -> Option<&BlockData> {
        self.data.as_ref()
    }

    pub fn stats(&self) -> ServiceStats {
        self.stats
    }

    pub fn handle(&mut self, env: &Envelope) -> Result<Vec<Outcome>, ApiError> {
        baoan_api::authorize(&env.actor, &env.command)?;
        match &env.command {
            Command::LoadAddressLibrary { library, more } => self.take_part(library, *more),
            Command::IngestRecords { records } => self.ingest(records, env.sent_at as i64),
            Command::ResolveConflict { conflict, finding } => {
                self.resolve(*conflict, finding, env.sent_at as i64)
            }
            Command::QueryBlock { query } => self.query(query),
            Command::ExportLinkage => {
                let data = self.loaded()?;
                let lib = data.library();
                let records = data
                    .keys()
                    .map(|k| {
                        let p = data.record_place(&k);
                        PlacedRecord {
                            key: k,
                            cluster: data.cluster_of(&k).map(|c| c.0),
                            grid: p
                                .and_then(|p| p.building)
                                .and_then(|b| lib.grid_of_building(b)),
                            building: p.and_then(|p| p.building),
                            room: p.and_then(|p| p.room),
                            blocks: data.blocking_signature(&k),
                        }
                    })
                    .collect();
                Ok(vec![Outcome::LinkageExported { records }])
            }
            other => Err(invalid(
                "command",
                format!("{} is not a block-data command", other.kind()),
            )),
        }
    }

    /// What block data says of an address a company wants to register at: whether it resolves
    /// to a place of the library, the building's use, and how many resolved companies already
    /// sit in the room (the building, for an address without a room). Nothing loaded: not found.
    pub fn check_address(&self, text: &str) -> AddressCheck {
        let Some(data) = self.data.as_ref() else {
            return AddressCheck::default();
        };
        let lib = data.library();
        let m = lib.locate(text);
        if m.is_not_found() || m.is_ambiguous() {
            return AddressCheck::default();
        }
        let (room, building) = (m.room(), m.building());
        let Some(b) = building else {
            return AddressCheck::default();
        };
        let companies = match room {
            Some(r) => data.room_view(r).companies.len(),
            None => data.building_view(b).companies.len(),
        };
        AddressCheck {
            found: true,
            building: Some(b),
            room,
            grid: lib.grid_of_building(b),
            residential: lib.is_residential_building(b),
            companies_at_room: companies as u32,
        }
    }

    /// Credit codes (passing their check) of the companies whose records name this person as
    /// legal representative, sorted.
    pub fn companies_represented_by(&self, id_number: &str) -> Vec<String> {
        let (Some(data), Some(id)) = (
            self.data.as_ref(),
            IdentField::parse(Some(id_number), IdentScheme::IdNumber).valid(),
        ) else {
            return Vec::new();
        };
        let mut codes: Vec<String> = self
            .by_representative
            .get(&id.bytes)
            .into_iter()
            .flatten()
            .filter_map(|k| data.company_idents(k)?.credit_code)
            .filter_map(|(code, valid)| valid.then_some(code))
            .collect();
        codes.sort();
        codes.dedup();
        codes
    }

    /// The legal representative's ID number on file for a company (as held, typos included:
    /// the caller checks it), from the company's first record that names one.
    pub fn representative_of(&self, credit_code: &str) -> Option<String> {
        let data = self.data.as_ref()?;
        let code = IdentField::parse(Some(credit_code), IdentScheme::CreditCode).valid()?;
        data.records_with_ident(&code.bytes, EntityKind::Company)
            .iter()
            .find_map(|k| data.company_idents(k)?.representative)
            .map(|(id, _)| id)
    }

    fn data_mut(&mut self) -> Result<&mut BlockData, ApiError> {
        self.data.as_mut().ok_or_else(|| ApiError::NotFound {
            what: "address library".into(),
            id: "(load it first with load_address_library)".into(),
        })
    }

    fn loaded(&self) -> Result<&BlockData, ApiError> {
        self.data.as_ref().ok_or_else(|| ApiError::NotFound {
            what: "address library".into(),
            id: "(load it first with load_address_library)".into(),
        })
    }

    /// One part of the address library: kept until the last (`more: false`), which builds the
    /// whole library from every part in the order sent. A library sent whole is its own last part.
    fn take_part(
        &mut self,
        lib: &AddressLibraryData,
        more: bool,
    ) -> Result<Vec<Outcome>, ApiError> {
        if self.data.is_some() {
            return Err(invalid(
                "library",
                "the address library is already loaded; it is published once",
            ));
        }
        if more {
            self.parts
                .get_or_insert_with(AddressLibraryData::default)
                .append(lib);
            return Ok(Vec::new());
        }
        let Some(mut whole) = self.parts.take() else {
            return self.load(lib);
        };
        let kept = whole.rows();
        whole.append(lib);
        let answer = self.load(&whole);
        if answer.is_err() {
            // A refused call changes nothing: the parts taken before it are kept.
            whole.truncate(kept);
            self.parts = Some(whole);
        }
        answer
    }

    /// Build the library; any bad entry refuses the whole load and names the entry (its index
    /// counts across parts).
    fn load(&mut self, lib: &AddressLibraryData) -> Result<Vec<Outcome>, ApiError> {
        let mut l = AddressLibrary::new();
        let at = |what: &str, i: usize, e: crate::address::LibraryError| {
            invalid(&format!("library.{what}[{i}]"), e.to_string())
        };
        for (i, s) in lib.streets.iter().enumerate() {
            l.add_street(s.id, &s.name)
                .map_err(|e| at("streets", i, e))?;
        }
        for (i, c) in lib.communities.iter().enumerate() {
            l.add_community(c.id, c.street, &c.name)
                .map_err(|e| at("communities", i, e))?;
        }
        for (i, r) in lib.roads.iter().enumerate() {
            let former: Vec<&str> = r.former_names.iter().map(String::as_str).collect();
            l.add_road(r.id, r.community, &r.name, &former)
                .map_err(|e| at("roads", i, e))?;
        }
        for (i, b) in lib.buildings.iter().enumerate() {
            l.add_building(b.id, b.road, b.number, b.block, b.grid)
                .map_err(|e| at("buildings", i, e))?;
            l.set_residential(b.id, b.residential);
        }
        for (i, r) in lib.rooms.iter().enumerate() {
            l.add_room(r.id, r.building, r.unit, r.room)
                .map_err(|e| at("rooms", i, e))?;
        }
        self.data = Some(BlockData::new(l, self.config.clone()));
        Ok(vec![Outcome::AddressLibraryLoaded {
            buildings: lib.buildings.len() as u32,
            rooms: lib.rooms.len() as u32,
        }])
    }

    /// The earliest time `advance` may have work, if any: a hold on an address passing, or at
    /// once if a conflict has not been handed out as a task yet.
    pub fn next_due(&self) -> Option<baoan_api::Millis> {
        let data = self.data.as_ref()?;
        if data.conflicts().len() > self.conflicts_seen {
            return Some(0);
        }
        data.next_settle_ms()
            .map(|at| at.max(0) as baoan_api::Millis)
    }

    /// The time-driven work: verdicts on addresses whose hold has passed, as tasks.
    pub fn advance(&mut self, now_ms: i64) -> Vec<Outcome> {
        let Some(data) = self.data.as_mut() else {
            return Vec::new();
        };
        data.settle(now_ms);
        self.new_tasks()
    }

    fn ingest(&mut self, records: &[Record], now_ms: i64) -> Result<Vec<Outcome>, ApiError> {
        if records.len() > MAX_BATCH {
            return Err(invalid(
                "records",
                format!(
                    "a batch holds at most {MAX_BATCH} records, got {}",
                    records.len()
                ),
            ));
        }
        let data = self.data_mut()?;
        data.set_clock(now_ms);
        let mut results = Vec::with_capacity(records.len());
        let mut placed_representatives = Vec::new();
        for (r, res) in records.iter().zip(data.ingest_batch(records)) {
            let status = match res.status {
                RecordStatus::Linked { cluster, .. } => IngestStatus::Linked { cluster: cluster.0 },
                RecordStatus::Pending { reason, .. } => IngestStatus::Pending {
                    reason: format!("{reason:?}"),
                },
                RecordStatus::Rejected { reason } => IngestStatus::Rejected {
                    reason: reason.to_string(),
                },
            };
            // People and companies by their own identifiers are found through block data's
            // blocks; a company's legal representative is indexed here.
            if !res.repeated
                && !matches!(status, IngestStatus::Rejected { .. })
                && let Record::Company(c) = r
                && let Some(rep) =
                    IdentField::parse(c.legal_representative_id.as_deref(), IdentScheme::IdNumber)
                        .valid()
            {
                placed_representatives.push((rep.bytes, res.key));
            }
            results.push(IngestedRecord {
                key: res.key,
                status,
                repeated: res.repeated,
            });
        }
        for (id, key) in placed_representatives {
            self.by_representative.entry(id).or_default().push(key);
        }
        self.stats.batches += 1;
        self.stats.records += records.len() as u64;
        let mut out = vec![Outcome::RecordsIngested { results }];
        out.extend(self.new_tasks());
        Ok(out)
    }

    /// Conflicts raised since the last call, as tasks for inspectors.
    fn new_tasks(&mut self) -> Vec<Outcome> {
        let Some(data) = self.data.as_ref() else {
            return Vec::new();
        };
        let conflicts = data.conflicts();
        let lib = data.library();
        let mut out = Vec::new();
        for c in &conflicts[self.conflicts_seen..] {
            let place_of = |p: &Place| {
                let grid = p.building.and_then(|b| lib.grid_of_building(b));
                (grid, p.building, p.room, p.community)
            };
            let (kind, (grid, building, room, community), records, entity) = match &c.kind {
                ConflictKind::AddressDisagreement {
                    person,
                    records,
                    places,
                } => (
                    "address_disagreement",
                    place_of(&places[0]),
                    records.to_vec(),
                    Some(person.0),
                ),
                ConflictKind::CrowdedRoom {
                    room, companies, ..
                } => (
                    "crowded_room",
                    lib.place_of_room(*room).map(|p| place_of(&p)).unwrap_or((
                        None,
                        None,
                        Some(*room),
                        None,
                    )),
                    companies.iter().map(|c| c.0).collect(),
                    None,
                ),
                ConflictKind::UnknownAddress { record, .. } => (
                    "unknown_address",
                    data.record_place(record)
                        .map(|p| place_of(&p))
                        .unwrap_or((None, None, None, None)),
                    vec![*record],
                    None,
                ),
            };
            out.push(Outcome::ConflictRaised {
                task: VerificationTask {
                    conflict: c.id,
                    kind: kind.into(),
                    grid,
                    building,
                    room,
                    records,
                    entity,
                    community,
                },
            });
        }
        self.stats.tasks += out.len() as u64;
        self.conflicts_seen = conflicts.len();
        out
    }

    fn resolve(
        &mut self,
        conflict: u64,
        finding: &ApiFinding,
        at: i64,
    ) -> Result<Vec<Outcome>, ApiError> {
        let finding = match finding {
            ApiFinding::PersonLivesAt { room } => Finding::PersonLivesAt { room: *room },
            ApiFinding::PersonMovedOut { building } => Finding::PersonMovedOut {
                building: *building,
            },
            // The inspector names companies by any of their records (the task's names may be
            // older than the latest linkage): each stands for its entity as it is now.
            ApiFinding::CompaniesPresent { companies } => {
                let data = self.loaded()?;
                let mut now: Vec<ClusterId> = companies
                    .iter()
                    .map(|k| data.cluster_of(k).unwrap_or(ClusterId(*k)))
                    .collect();
                now.sort_unstable();
                now.dedup();
                Finding::CompaniesPresent { companies: now }
            }
            ApiFinding::AddressIs { room } => Finding::AddressIs { room: *room },
            ApiFinding::AddressDoesNotExist => Finding::AddressDoesNotExist,
        };
        self.data_mut()?
            .resolve_conflict(conflict, finding, at)
            .map_err(|e| match e {
                crate::resolve::ResolveError::UnknownConflict(id) => ApiError::NotFound {
                    what: "conflict".into(),
                    id: id.to_string(),
                },
                other => invalid("finding", other.to_string()),
            })?;
        self.stats.resolved += 1;
        Ok(vec![Outcome::ConflictResolved { conflict }])
    }

    fn query(&mut self, query: &BlockQuery) -> Result<Vec<Outcome>, ApiError> {
        self.stats.lookups += 1;
        let data = self.loaded()?;
        let lib = data.library();
        let view = |v: BlockView| ApiView {
            persons: v.persons.into_iter().map(occupant).collect(),
            companies: v.companies.into_iter().map(occupant).collect(),
        };
        let placed = |keys: &[RecordKey]| -> Vec<PlacedRecord> {
            keys.iter()
                .map(|k| {
                    let p = data.record_place(k);
                    PlacedRecord {
                        key: *k,
                        cluster: data.cluster_of(k).map(|c| c.0),
                        grid: p
                            .and_then(|p| p.building)
                            .and_then(|b| lib.grid_of_building(b)),
                        building: p.and_then(|p| p.building),
                        room: p.and_then(|p| p.room),
                        blocks: Vec::new(),
                    }
                })
                .collect()
        };
        let (v, p) = match query {
            BlockQuery::Room { room } => (view(data.room_view(*room)), Vec::new()),
            BlockQuery::Building { building } => (view(data.building_view(*building)), Vec::new()),
            BlockQuery::Grid { grid } => (view(data.grid_view(*grid)), Vec::new()),
            BlockQuery::Address { text } => {
                let m = lib.locate(text);
                match (m.place.room, m.place.building) {
                    (Some(room), _) => (view(data.room_view(room)), Vec::new()),
                    (None, Some(b)) => (view(data.building_view(b)), Vec::new()),
                    _ => {
                        return Err(invalid(
                            "query.text",
                            format!(
                                "{text:?} does not name a building or room in the library: {}",
                                m.failure.map_or("too vague".to_string(), |f| f.to_string())
                            ),
                        ));
                    }
                }
            }
            BlockQuery::Person { id_number } => {
                let id = IdentField::parse(Some(id_number), IdentScheme::IdNumber)
                    .parsed()
                    .filter(|i| i.valid)
                    .ok_or_else(|| {
                        invalid(
                            "query.id_number",
                            "expected an 18-character ID number with a valid check digit",
                        )
                    })?;
                let keys = data.records_with_ident(&id.bytes, EntityKind::Person);
                (ApiView::default(), placed(&keys))
            }
            BlockQuery::Company { credit_code } => {
                let id = IdentField::parse(Some(credit_code), IdentScheme::CreditCode)
                    .parsed()
                    .filter(|i| i.valid)
                    .ok_or_else(|| {
                        invalid(
                            "query.credit_code",
                            "expected an 18-character unified social credit code with valid check characters",
                        )
                    })?;
                let keys = data.records_with_ident(&id.bytes, EntityKind::Company);
                (ApiView::default(), placed(&keys))
            }
        };
        Ok(vec![Outcome::BlockAnswered { view: v, placed: p }])
    }
}

fn occupant(o: crate::resolve::Occupant) -> ApiOccupant {
    ApiOccupant {
        cluster: o.cluster.0,
        records: o.records,
    }
}
