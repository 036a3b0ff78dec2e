//! The unified address library (统一地址库) and a tolerant matcher that places department
//! address text on a standard room or building, or says which level failed and why.
//!
//! Department clerks and residents write addresses many ways: full-width digits, "三栋" for
//! building 3, "深圳宝安" for the full province/city/district prefix, street names without
//! 街道, former road names, one-character typos, no community, no unit. The matcher undoes
//! these and lists every correction it applied, so a block view can show how sure it is. It
//! never guesses: a building number that does not exist stays unresolved at road level, and two
//! equally good candidates come back as ambiguous.

use std::fmt;

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::text::{chinese_digit, chinese_numeral_value, fold_char, within_one_edit};

pub type StreetId = u32;
pub type CommunityId = u32;
pub type RoadId = u32;
pub type BuildingId = u32;
pub type RoomId = u32;
pub type GridId = u32;

/// The levels of a standard address, from the street down to the room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Street,
    Community,
    Road,
    /// The house number on the road (门牌号).
    Number,
    /// The building (栋) at a house number.
    Building,
    Unit,
    Room,
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Level::Street => "street (街道)",
            Level::Community => "community (社区)",
            Level::Road => "road",
            Level::Number => "house number (号)",
            Level::Building => "building (栋)",
            Level::Unit => "unit (单元)",
            Level::Room => "room (室)",
        })
    }
}

/// A mistake in the entries given to build the library.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LibraryError {
    #[error("{level} id {id} is already in the library")]
    DuplicateId { level: Level, id: u32 },
    #[error("{level} id {id} refers to {parent_level} id {parent}, which is not in the library")]
    UnknownParent {
        level: Level,
        id: u32,
        parent_level: Level,
        parent: u32,
    },
    #[error("{level} id {id} has an empty name, expected the standard name")]
    EmptyName { level: Level, id: u32 },
    #[error("{level} id {id} duplicates the address of id {existing}")]
    DuplicateAddress {
        level: Level,
        id: u32,
        existing: u32,
    },
    #[error("{level} id {id}: {field} must be at least 1, found 0")]
    ZeroNumber {
        level: Level,
        id: u32,
        field: &'static str,
    },
}

#[derive(Debug, Clone)]
struct StreetEntry {
    name: Box<str>,
}

#[derive(Debug, Clone)]
struct CommunityEntry {
    street: StreetId,
    name: Box<str>,
}

#[derive(Debug, Clone)]
struct RoadEntry {
    community: CommunityId,
    name: Box<str>,
    /// Current name first, then former names; as characters for the typo search.
    names_chars: Vec<Box<[char]>>,
}

#[derive(Debug, Clone)]
struct BuildingEntry {
    road: RoadId,
    number: u16,
    block: u16,
    grid: GridId,
    /// Distinct units that have rooms, ascending.
    units: Vec<u8>,
    residential: bool,
}

#[derive(Debug, Clone, Copy)]
struct RoomEntry {
    building: BuildingId,
    unit: u8,
    room: u16,
}

/// What kinds of place a name in the dictionary can be.
#[derive(Debug, Clone, Copy, Default)]
struct DictEntry {
    street: bool,
    community: bool,
    road: bool,
}

/// The standard addresses of the district: streets, communities, roads (with former names),
/// buildings and rooms, with the indexes the matcher needs. Ids are the caller's.
#[derive(Debug, Clone, Default)]
pub struct AddressLibrary {
    streets: FxHashMap<StreetId, StreetEntry>,
    communities: FxHashMap<CommunityId, CommunityEntry>,
    roads: FxHashMap<RoadId, RoadEntry>,
    buildings: FxHashMap<BuildingId, BuildingEntry>,
    rooms: FxHashMap<RoomId, RoomEntry>,

    /// Every known name (normalised, full and short forms) for longest-match segmentation.
    dict: FxHashMap<Box<str>, DictEntry>,
    /// Bit n set when some dictionary name has n characters (n < 64).
    dict_lengths: u64,
    street_by_name: FxHashMap<Box<str>, Vec<StreetId>>,
    community_by_name: FxHashMap<Box<str>, Vec<CommunityId>>,
    road_by_name: FxHashMap<Box<str>, Vec<RoadId>>,
    road_by_alias: FxHashMap<Box<str>, Vec<RoadId>>,
    communities_of_street: FxHashMap<StreetId, Vec<CommunityId>>,
    roads_of_community: FxHashMap<CommunityId, Vec<RoadId>>,
    building_by_key: FxHashMap<(RoadId, u16, u16), BuildingId>,
    buildings_by_number: FxHashMap<(RoadId, u16), Vec<BuildingId>>,
    buildings_by_block: FxHashMap<(RoadId, u16), Vec<BuildingId>>,
    buildings_of_grid: FxHashMap<GridId, Vec<BuildingId>>,
    room_by_key: FxHashMap<(BuildingId, u8, u16), RoomId>,
    rooms_by_number: FxHashMap<(BuildingId, u16), Vec<RoomId>>,
}

/// Normalises a library name or free text the same way, so both sides of a look-up agree.
pub fn normalise(text: &str) -> String {
    let folded: String = text.chars().filter_map(fold_char).collect();
    if !folded.chars().any(|c| chinese_digit(c).is_some()) {
        return folded;
    }
    convert_numerals(&folded)
}

/// Markers after which a run of Chinese numerals is a number (building, unit, room, house
/// number), not part of a name such as 兴华一路 or 三围社区.
fn is_number_marker(c: char) -> bool {
    matches!(
        c,
        '栋' | '座' | '幢' | '单' | '室' | '号' | '楼' | '层' | '房'
    )
}

fn convert_numerals(folded: &str) -> String {
    let chars: Vec<char> = folded.chars().collect();
    let mut out = String::with_capacity(folded.len());
    let mut i = 0;
    while i < chars.len() {
        if chinese_digit(chars[i]).is_some() {
            let start = i;
            while i < chars.len() && chinese_digit(chars[i]).is_some() {
                i += 1;
            }
            let run = &chars[start..i];
            let converted = (i < chars.len() && is_number_marker(chars[i]))
                .then(|| chinese_numeral_value(run))
                .flatten();
            match converted {
                Some(value) => {
                    // "第三栋" reads as "3栋".
                    if out.ends_with('第') {
                        out.pop();
                    }
                    out.push_str(&value.to_string());
                }
                None => out.extend(run),
            }
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

fn short_form<'a>(name: &'a str, suffix: &str) -> Option<&'a str> {
    let short = name.strip_suffix(suffix)?;
    (short.chars().count() >= 2).then_some(short)
}

/// The checks a new street, community or road passes, in this order: a name left after
/// normalising, an id not yet used, and a parent (`level`, id, whether it is in the library)
/// already there. Returns the normalised name.
fn admit_named(
    level: Level,
    id: u32,
    name: &str,
    id_taken: bool,
    parent: Option<(Level, u32, bool)>,
) -> Result<String, LibraryError> {
    let name = normalise(name);
    if name.is_empty() {
        return Err(LibraryError::EmptyName { level, id });
    }
    if id_taken {
        return Err(LibraryError::DuplicateId { level, id });
    }
    if let Some((parent_level, parent, false)) = parent {
        return Err(LibraryError::UnknownParent {
            level,
            id,
            parent_level,
            parent,
        });
    }
    Ok(name)
}

impl AddressLibrary {
    pub fn new() -> Self {
        Self::default()
    }

    fn add_dict(&mut self, name: &str, set: impl Fn(&mut DictEntry)) {
        let len = name.chars().count();
        if len < 64 {
            self.dict_lengths |= 1 << len;
        }
        set(self.dict.entry(name.into()).or_default());
    }

    /// Adds a street (街道) by its standard name, e.g. "新安街道"; "新安" is then recognised too.
    pub fn add_street(&mut self, id: StreetId, name: &str) -> Result<(), LibraryError> {
        let name = admit_named(
            Level::Street,
            id,
            name,
            self.streets.contains_key(&id),
            None,
        )?;
        for form in [Some(name.as_str()), short_form(&name, "街道")]
            .into_iter()
            .flatten()
        {
            self.street_by_name.entry(form.into()).or_default().push(id);
            self.add_dict(form, |d| d.street = true);
        }
        self.streets.insert(id, StreetEntry { name: name.into() });
        Ok(())
    }

    /// Adds a community (社区) of a street, e.g. "海裕社区"; "海裕" is then recognised too.
    pub fn add_community(
        &mut self,
        id: CommunityId,
        street: StreetId,
        name: &str,
    ) -> Result<(), LibraryError> {
        let name = admit_named(
            Level::Community,
            id,
            name,
            self.communities.contains_key(&id),
            Some((Level::Street, street, self.streets.contains_key(&street))),
        )?;
        for form in [Some(name.as_str()), short_form(&name, "社区")]
            .into_iter()
            .flatten()
        {
            self.community_by_name
                .entry(form.into())
                .or_default()
                .push(id);
            self.add_dict(form, |d| d.community = true);
        }
        self.communities_of_street
            .entry(street)
            .or_default()
            .push(id);
        self.communities.insert(
            id,
            CommunityEntry {
                street,
                name: name.into(),
            },
        );
        Ok(())
    }

    /// Adds a road in a community, with its former names (old names residents still write).
    pub fn add_road(
        &mut self,
        id: RoadId,
        community: CommunityId,
        name: &str,
        former_names: &[&str],
    ) -> Result<(), LibraryError> {
        let name = admit_named(
            Level::Road,
            id,
            name,
            self.roads.contains_key(&id),
            Some((
                Level::Community,
                community,
                self.communities.contains_key(&community),
            )),
        )?;
        let mut names_chars = vec![name.chars().collect::<Box<[char]>>()];
        self.road_by_name
            .entry(name.as_str().into())
            .or_default()
            .push(id);
        self.add_dict(&name, |d| d.road = true);
        for former in former_names {
            let former = normalise(former);
            if former.is_empty() || former == name {
                continue;
            }
            names_chars.push(former.chars().collect());
            self.road_by_alias
                .entry(former.as_str().into())
                .or_default()
                .push(id);
            self.add_dict(&former, |d| d.road = true);
        }
        self.roads_of_community
            .entry(community)
            .or_default()
            .push(id);
        self.roads.insert(
            id,
            RoadEntry {
                community,
                name: name.into(),
                names_chars,
            },
        );
        Ok(())
    }

    /// Adds a building: house number (号) on a road, building number (栋) there, and the grid
    /// (网格) it lies in.
    pub fn add_building(
        &mut self,
        id: BuildingId,
        road: RoadId,
        number: u16,
        block: u16,
        grid: GridId,
    ) -> Result<(), LibraryError> {
        let level = Level::Building;
        if self.buildings.contains_key(&id) {
            return Err(LibraryError::DuplicateId { level, id });
        }
        if !self.roads.contains_key(&road) {
            return Err(LibraryError::UnknownParent {
                level,
                id,
                parent_level: Level::Road,
                parent: road,
            });
        }
        for (field, value) in [("house number", number), ("building number", block)] {
            if value == 0 {
                return Err(LibraryError::ZeroNumber { level, id, field });
            }
        }
        if let Some(&existing) = self.building_by_key.get(&(road, number, block)) {
            return Err(LibraryError::DuplicateAddress {
                level,
                id,
                existing,
            });
        }
        self.building_by_key.insert((road, number, block), id);
        self.buildings_by_number
            .entry((road, number))
            .or_default()
            .push(id);
        self.buildings_by_block
            .entry((road, block))
            .or_default()
            .push(id);
        self.buildings_of_grid.entry(grid).or_default().push(id);
        self.buildings.insert(
            id,
            BuildingEntry {
                residential: false,
                road,
                number,
                block,
                grid,
                units: Vec::new(),
            },
        );
        Ok(())
    }

    /// Adds a room: unit (单元) and room number (室) in a building.
    pub fn add_room(
        &mut self,
        id: RoomId,
        building: BuildingId,
        unit: u8,
        room: u16,
    ) -> Result<(), LibraryError> {
        let level = Level::Room;
        if self.rooms.contains_key(&id) {
            return Err(LibraryError::DuplicateId { level, id });
        }
        let Some(entry) = self.buildings.get_mut(&building) else {
            return Err(LibraryError::UnknownParent {
                level,
                id,
                parent_level: Level::Building,
                parent: building,
            });
        };
        for (field, value) in [("unit", u16::from(unit)), ("room number", room)] {
            if value == 0 {
                return Err(LibraryError::ZeroNumber { level, id, field });
            }
        }
        if let Some(&existing) = self.room_by_key.get(&(building, unit, room)) {
            return Err(LibraryError::DuplicateAddress {
                level,
                id,
                existing,
            });
        }
        if let Err(at) = entry.units.binary_search(&unit) {
            entry.units.insert(at, unit);
        }
        self.room_by_key.insert((building, unit, room), id);
        self.rooms_by_number
            .entry((building, room))
            .or_default()
            .push(id);
        self.rooms.insert(
            id,
            RoomEntry {
                building,
                unit,
                room,
            },
        );
        Ok(())
    }

    pub fn street_count(&self) -> usize {
        self.streets.len()
    }
    pub fn building_count(&self) -> usize {
        self.buildings.len()
    }
    pub fn room_count(&self) -> usize {
        self.rooms.len()
    }

    pub fn has_room(&self, room: RoomId) -> bool {
        self.rooms.contains_key(&room)
    }

    /// The building a room is in.
    pub fn building_of_room(&self, room: RoomId) -> Option<BuildingId> {
        self.rooms.get(&room).map(|r| r.building)
    }

    /// The grid a building lies in.
    pub fn grid_of_building(&self, building: BuildingId) -> Option<GridId> {
        self.buildings.get(&building).map(|b| b.grid)
    }

    /// Buildings of a grid, ascending.
    pub fn buildings_of_grid(&self, grid: GridId) -> Vec<BuildingId> {
        let mut list = self
            .buildings_of_grid
            .get(&grid)
            .cloned()
            .unwrap_or_default();
        list.sort_unstable();
        list
    }

    /// The full place (street … room) of a room.
    pub fn place_of_room(&self, room: RoomId) -> Option<Place> {
        let building = self.rooms.get(&room)?.building;
        let mut place = self.place_of_building(building)?;
        place.room = Some(room);
        Some(place)
    }

    /// The full place (street … building) of a building.
    pub fn place_of_building(&self, building: BuildingId) -> Option<Place> {
        let road = self.buildings.get(&building)?.road;
        let community = self.roads[&road].community;
        Some(Place {
            street: Some(self.communities[&community].street),
            community: Some(community),
            road: Some(road),
            building: Some(building),
            room: None,
        })
    }

    /// The standard address text of a room, e.g.
    /// "广东省深圳市宝安区新安街道海裕社区兴华一路12号3栋2单元503室".
    pub fn standard_address(&self, room: RoomId) -> Option<String> {
        let r = self.rooms.get(&room)?;
        let b = &self.buildings[&r.building];
        let road = &self.roads[&b.road];
        let community = &self.communities[&road.community];
        let street = &self.streets[&community.street];
        Some(format!(
            "广东省深圳市宝安区{}{}{}{}号{}栋{}单元{}室",
            street.name, community.name, road.name, b.number, b.block, r.unit, r.room
        ))
    }

    // ------------------------------------------------------------------------------------------
    // Parsing
    // ------------------------------------------------------------------------------------------

    /// Longest dictionary name starting at `text`'s beginning: (byte length, kinds).
    fn longest_name(&self, text: &str) -> Option<(usize, DictEntry)> {
        let mut ends = [0usize; 64];
        let mut count = 0;
        for (i, c) in text.char_indices() {
            if count == 63 {
                break;
            }
            count += 1;
            ends[count] = i + c.len_utf8();
        }
        (2..=count).rev().find_map(|n| {
            if self.dict_lengths & (1 << n) == 0 {
                return None;
            }
            self.dict.get(&text[..ends[n]]).map(|&d| (ends[n], d))
        })
    }

    /// Splits free text into address levels. Knows the library's names, so "新安" is read as
    /// the street and 新安一路 as a road by taking the longest known name at each point.
    pub fn parse(&self, text: &str) -> ParsedAddress {
        let normalized = normalise(text);
        let mut p = ParsedAddress::default();
        let s = normalized.as_str();
        let mut pos = self.strip_prefix(s, &mut p.had_prefix);

        while pos < s.len() {
            let rest = &s[pos..];
            let first = rest.chars().next().expect("pos < len");
            if first.is_ascii_digit() {
                pos += parse_number(rest, pos, &mut p);
                continue;
            }
            if let Some((len, kinds)) = self.longest_name(rest) {
                let span = Span::new(pos, pos + len);
                let placed = if kinds.street
                    && p.street.is_none()
                    && p.community.is_none()
                    && p.road.is_none()
                {
                    &mut p.street
                } else if kinds.community && p.community.is_none() && p.road.is_none() {
                    &mut p.community
                } else if kinds.road && p.road.is_none() {
                    &mut p.road
                } else {
                    &mut p.leftover
                };
                if placed.is_none() {
                    *placed = Some(span);
                }
                pos += len;
                continue;
            }
            // An unknown run (a typo, an unknown place): up to the next digit, the end of a
            // "…街道" or "…社区", or a known name.
            let mut end = pos;
            let mut level_suffix = None;
            for (i, c) in rest.char_indices() {
                if i > 0 && (c.is_ascii_digit() || self.longest_name(&rest[i..]).is_some()) {
                    break;
                }
                end = pos + i + c.len_utf8();
                let so_far = &rest[..i + c.len_utf8()];
                if so_far.ends_with("街道") {
                    level_suffix = Some(Level::Street);
                    break;
                }
                if so_far.ends_with("社区") {
                    level_suffix = Some(Level::Community);
                    break;
                }
            }
            let span = Some(Span::new(pos, end));
            match level_suffix {
                Some(Level::Street) if p.street.is_none() => p.street = span,
                Some(Level::Community) if p.community.is_none() => p.community = span,
                None if p.road.is_none() && (p.number.is_none() && p.block.is_none()) => {
                    p.road = span
                }
                _ => {
                    if p.leftover.is_none() {
                        p.leftover = span;
                    }
                }
            }
            pos = end;
        }
        p.normalized = normalized;
        p
    }

    /// Skips "广东省深圳市宝安区" and its shortened forms; returns where the rest begins.
    fn strip_prefix(&self, s: &str, had_prefix: &mut bool) -> usize {
        let mut pos = 0;
        for forms in [&["中国"][..], &["广东省", "广东"], &["深圳市", "深圳"]] {
            if let Some(form) = forms.iter().find(|f| s[pos..].starts_with(**f)) {
                pos += form.len();
                *had_prefix = true;
            }
        }
        let rest = &s[pos..];
        if rest.starts_with("宝安区") {
            pos += "宝安区".len();
            *had_prefix = true;
        } else if rest.starts_with("宝安") {
            // 宝安大道 is a road, not the district: keep "宝安" when a longer known name
            // starts with it.
            let longer_name = self
                .longest_name(rest)
                .is_some_and(|(len, _)| len > "宝安".len());
            if !longer_name {
                pos += "宝安".len();
                *had_prefix = true;
            }
        }
        pos
    }

    // ------------------------------------------------------------------------------------------
    // Matching
    // ------------------------------------------------------------------------------------------

    /// Resolves parsed text to the deepest place it identifies without guessing.
    pub fn match_address(&self, p: &ParsedAddress) -> AddressMatch {
        let mut m = AddressMatch::default();
        // `None`: a stage could not go on, and `m` says why and how deep it got.
        let _reached_room = self.match_stages(p, &mut m);
        m
    }

    /// The stages of a match, from the street down to the room; each narrows the place and
    /// records its corrections in `m`.
    fn match_stages(&self, p: &ParsedAddress, m: &mut AddressMatch) -> Option<()> {
        let street = self.match_street(p, m);
        let communities = self.match_communities(p, street, m);
        self.settle_area(m, street, &communities);
        let Some(given_road) = p.road() else {
            m.fail(MatchFailure::Missing { level: Level::Road });
            return None;
        };
        let roads = self.candidate_roads(given_road, &communities, street, m)?;
        let (road, lookup) = self.choose_road(p, given_road, &roads, m)?;
        self.settle_road(m, road, &communities, street);
        let building = self.accept_building(lookup, m)?;
        self.match_room(p, building, m)
    }

    /// The street the text names, exactly or one character off.
    fn match_street(&self, p: &ParsedAddress, m: &mut AddressMatch) -> Option<StreetId> {
        let given = p.street()?;
        if let Some(&[id]) = self.street_by_name.get(given).map(Vec::as_slice) {
            return Some(id);
        }
        let fuzzy = fuzzy_search(given, self.streets.iter().map(|(&id, s)| (id, &*s.name)));
        match fuzzy {
            Fuzzy::One(id) => {
                m.correct(
                    Correction::StreetTypo {
                        given: given.into(),
                        standard: self.streets[&id].name.to_string(),
                    },
                    0.9,
                );
                Some(id)
            }
            _ => {
                m.correct(
                    Correction::StreetUnrecognised {
                        given: given.into(),
                    },
                    0.9,
                );
                None
            }
        }
    }

    /// The communities the text's community may be: candidates, narrowed by the street when
    /// there is one; sorted, without repeats.
    fn match_communities(
        &self,
        p: &ParsedAddress,
        street: Option<StreetId>,
        m: &mut AddressMatch,
    ) -> Vec<CommunityId> {
        let mut communities: Vec<CommunityId> = Vec::new();
        let Some(given) = p.community() else {
            return communities;
        };
        let exact = self
            .community_by_name
            .get(given)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        communities.extend(
            exact
                .iter()
                .filter(|&&c| street.is_none_or(|s| self.communities[&c].street == s)),
        );
        if communities.is_empty() && !exact.is_empty() {
            // The community exists, in another street: the community is the more specific
            // statement, so trust it and note the street disagreement.
            communities.extend_from_slice(exact);
        }
        if communities.is_empty() {
            communities.extend(self.fuzzy_community(given, street, m));
        }
        communities.sort_unstable();
        communities.dedup();
        communities
    }

    /// The one community (of the street, if known) one character off the given name.
    fn fuzzy_community(
        &self,
        given: &str,
        street: Option<StreetId>,
        m: &mut AddressMatch,
    ) -> Option<CommunityId> {
        let scope: Vec<(CommunityId, &str)> = match street {
            Some(s) => self
                .communities_of_street
                .get(&s)
                .into_iter()
                .flatten()
                .map(|&c| (c, &*self.communities[&c].name))
                .collect(),
            None => self
                .communities
                .iter()
                .map(|(&c, e)| (c, &*e.name))
                .collect(),
        };
        match fuzzy_search(given, scope.into_iter()) {
            Fuzzy::One(c) => {
                m.correct(
                    Correction::CommunityTypo {
                        given: given.into(),
                        standard: self.communities[&c].name.to_string(),
                    },
                    0.9,
                );
                Some(c)
            }
            _ => {
                m.correct(
                    Correction::CommunityUnrecognised {
                        given: given.into(),
                    },
                    0.85,
                );
                None
            }
        }
    }

    /// Records the street and community reached, and the level they take the match to.
    fn settle_area(
        &self,
        m: &mut AddressMatch,
        street: Option<StreetId>,
        communities: &[CommunityId],
    ) {
        if let &[c] = communities {
            m.place.community = Some(c);
        }
        m.place.street = street;
        m.level = if m.place.community.is_some() {
            Some(Level::Community)
        } else if street.is_some() {
            Some(Level::Street)
        } else {
            None
        };
        self.settle_street(m, street);
    }

    /// The roads the given road may be, trying in turn its current and former names within the
    /// area, a one-character typo within the area, and the same names outside it; `None` when
    /// that ends the match (ambiguous or not found).
    fn candidate_roads(
        &self,
        given_road: &str,
        communities: &[CommunityId],
        street: Option<StreetId>,
        m: &mut AddressMatch,
    ) -> Option<Vec<RoadId>> {
        let mut roads = self.roads_by_name(given_road, communities, street, m);
        if roads.is_empty() && (!communities.is_empty() || street.is_some()) {
            roads = self.fuzzy_roads(given_road, communities, street);
            match roads.as_slice() {
                &[r] => m.correct(
                    Correction::RoadTypo {
                        given: given_road.into(),
                        standard: self.roads[&r].name.to_string(),
                    },
                    0.85,
                ),
                [] => {}
                many => {
                    m.fail(MatchFailure::Ambiguous {
                        level: Level::Road,
                        given: given_road.into(),
                        candidates: many.to_vec(),
                    });
                    return None;
                }
            }
        }
        if roads.is_empty() {
            roads = self.roads_outside_area(given_road, communities, street, m);
        }
        if roads.is_empty() {
            self.fail_road_not_found(given_road, street, m);
            return None;
        }
        Some(roads)
    }

    /// The area's roads by their current name, else by a former one (noted as a correction).
    fn roads_by_name(
        &self,
        given_road: &str,
        communities: &[CommunityId],
        street: Option<StreetId>,
        m: &mut AddressMatch,
    ) -> Vec<RoadId> {
        let by_name = self.road_by_name.get(given_road).map(Vec::as_slice);
        let roads = self.roads_in_area(by_name, communities, street);
        if !roads.is_empty() {
            return roads;
        }
        let by_alias = self.road_by_alias.get(given_road).map(Vec::as_slice);
        let roads = self.roads_in_area(by_alias, communities, street);
        if let &[r] = roads.as_slice() {
            m.correct(
                Correction::FormerRoadName {
                    given: given_road.into(),
                    standard: self.roads[&r].name.to_string(),
                },
                0.97,
            );
        } else if roads.len() > 1 {
            m.correct(
                Correction::FormerRoadName {
                    given: given_road.into(),
                    standard: String::new(),
                },
                0.97,
            );
        }
        roads
    }

    /// Those of `ids` inside the area, sorted, without repeats.
    fn roads_in_area(
        &self,
        ids: Option<&[RoadId]>,
        communities: &[CommunityId],
        street: Option<StreetId>,
    ) -> Vec<RoadId> {
        let mut v: Vec<RoadId> = ids
            .into_iter()
            .flatten()
            .copied()
            .filter(|&r| self.road_in_area(r, communities, street))
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    /// Whether the road lies in one of the communities, else in the street, else anywhere.
    #[inline]
    fn road_in_area(
        &self,
        road: RoadId,
        communities: &[CommunityId],
        street: Option<StreetId>,
    ) -> bool {
        let c = self.roads[&road].community;
        if !communities.is_empty() {
            communities.contains(&c)
        } else if let Some(s) = street {
            self.communities[&c].street == s
        } else {
            true
        }
    }

    /// The road exists, but not where the text says: the community or street in the text is
    /// wrong (or stale), so take the road's own (noted as a correction). Empty when the text
    /// named no area or no road has the name.
    fn roads_outside_area(
        &self,
        given_road: &str,
        communities: &[CommunityId],
        street: Option<StreetId>,
        m: &mut AddressMatch,
    ) -> Vec<RoadId> {
        let mut elsewhere: Vec<RoadId> = self
            .road_by_name
            .get(given_road)
            .into_iter()
            .chain(self.road_by_alias.get(given_road))
            .flatten()
            .copied()
            .collect();
        elsewhere.sort_unstable();
        elsewhere.dedup();
        if elsewhere.is_empty() || (communities.is_empty() && street.is_none()) {
            return Vec::new();
        }
        m.correct(
            Correction::RoadOutsideGivenArea {
                given: given_road.into(),
            },
            0.75,
        );
        elsewhere
    }

    /// Records that no road matched, naming the area it was looked for in.
    fn fail_road_not_found(
        &self,
        given_road: &str,
        street: Option<StreetId>,
        m: &mut AddressMatch,
    ) {
        let within = m
            .place
            .community
            .map(|c| self.communities[&c].name.to_string())
            .or_else(|| street.map(|s| self.streets[&s].name.to_string()))
            .unwrap_or_else(|| "the district".into());
        m.fail(MatchFailure::NotFound {
            level: Level::Road,
            given: given_road.into(),
            expected: format!(
                "a road of {within} (by current or former name, at most one character off)"
            ),
        });
    }

    /// The one road among the candidates that has the building (or, among several that do, the
    /// room); `None` when the candidates stay ambiguous.
    fn choose_road(
        &self,
        p: &ParsedAddress,
        given_road: &str,
        roads: &[RoadId],
        m: &mut AddressMatch,
    ) -> Option<(RoadId, BuildingLookup)> {
        // Look the building up on every candidate road; the building can tell same-named roads
        // of different communities apart.
        let lookups: Vec<(RoadId, BuildingLookup)> = roads
            .iter()
            .map(|&r| (r, self.find_building(r, p)))
            .collect();
        let found: Vec<&(RoadId, BuildingLookup)> = lookups
            .iter()
            .filter(|(_, l)| matches!(l, BuildingLookup::Found { .. }))
            .collect();
        // Same-named roads often share house and building numbers too; the room can still tell
        // them apart (a 26th floor exists in one tower only).
        let with_room: Vec<&(RoadId, BuildingLookup)> = if found.len() > 1 {
            found
                .iter()
                .copied()
                .filter(|(_, l)| match l {
                    BuildingLookup::Found { building, .. } => self.has_room_for(*building, p),
                    BuildingLookup::Failed(_) => false,
                })
                .collect()
        } else {
            Vec::new()
        };
        match (found.as_slice(), lookups.as_slice()) {
            (&[one], _) => Some((one.0, one.1.clone())),
            (many, _) if many.len() > 1 && with_room.len() == 1 => {
                m.correct(
                    Correction::RoadByRoom {
                        given: given_road.into(),
                    },
                    0.9,
                );
                Some((with_room[0].0, with_room[0].1.clone()))
            }
            ([], &[(r, ref l)]) => Some((r, l.clone())),
            (many, all) => {
                let candidates: Vec<RoadId> = if many.is_empty() {
                    all.iter().map(|(r, _)| *r).collect()
                } else {
                    many.iter().map(|(r, _)| *r).collect()
                };
                m.fail(MatchFailure::Ambiguous {
                    level: Level::Road,
                    given: given_road.into(),
                    candidates,
                });
                None
            }
        }
    }

    /// The building the chosen road's look-up found, recorded with any number it inferred.
    fn accept_building(&self, lookup: BuildingLookup, m: &mut AddressMatch) -> Option<BuildingId> {
        let building = match lookup {
            BuildingLookup::Found { building, inferred } => {
                if let Some(correction) = inferred {
                    let factor = if matches!(correction, Correction::BlockInferred { .. }) {
                        0.97
                    } else {
                        0.9
                    };
                    m.correct(correction, factor);
                }
                building
            }
            BuildingLookup::Failed(failure) => {
                m.fail(failure);
                return None;
            }
        };
        m.place.building = Some(building);
        m.level = Some(Level::Building);
        Some(building)
    }

    /// The room in the building, by unit and number, or by number alone when only one unit
    /// has it.
    fn match_room(
        &self,
        p: &ParsedAddress,
        building: BuildingId,
        m: &mut AddressMatch,
    ) -> Option<()> {
        let b = &self.buildings[&building];
        let Some(room_number) = p.room else {
            m.fail(MatchFailure::Missing { level: Level::Room });
            return None;
        };
        let room = match p.unit {
            Some(unit) => self
                .room_by_key
                .get(&(building, unit, room_number))
                .copied(),
            None => match self.room_without_unit(building, b, room_number, m) {
                Ok(room) => room,
                Err(ambiguous) => {
                    m.fail(ambiguous);
                    return None;
                }
            },
        };
        let Some(room) = room else {
            let given = match p.unit {
                Some(u) => format!("{u}单元{room_number}室"),
                None => format!("{room_number}室"),
            };
            m.fail(MatchFailure::NotFound {
                level: Level::Room,
                given,
                expected: format!(
                    "a room of {}号{}栋 (units {:?})",
                    b.number, b.block, b.units
                ),
            });
            return None;
        };
        m.place.room = Some(room);
        m.level = Some(Level::Room);
        Some(())
    }

    /// A room given without its unit: the one unit that has the number (noted as a
    /// correction), none, or an ambiguity when several units do.
    fn room_without_unit(
        &self,
        building: BuildingId,
        b: &BuildingEntry,
        room_number: u16,
        m: &mut AddressMatch,
    ) -> Result<Option<RoomId>, MatchFailure> {
        match self
            .rooms_by_number
            .get(&(building, room_number))
            .map(Vec::as_slice)
        {
            Some(&[only]) => {
                let unit = self.rooms[&only].unit;
                m.correct(
                    Correction::UnitInferred {
                        unit,
                        single_unit_building: b.units.len() == 1,
                    },
                    if b.units.len() == 1 { 0.99 } else { 0.93 },
                );
                Ok(Some(only))
            }
            Some(many) if many.len() > 1 => {
                let mut candidates = many.to_vec();
                candidates.sort_unstable();
                Err(MatchFailure::Ambiguous {
                    level: Level::Unit,
                    given: format!("{room_number}室"),
                    candidates,
                })
            }
            _ => Ok(None),
        }
    }

    /// Whether the building has the parsed room (with its unit, or in exactly one unit).
    fn has_room_for(&self, building: BuildingId, p: &ParsedAddress) -> bool {
        let Some(room) = p.room else { return false };
        match p.unit {
            Some(unit) => self.room_by_key.contains_key(&(building, unit, room)),
            None => self
                .rooms_by_number
                .get(&(building, room))
                .is_some_and(|v| v.len() == 1),
        }
    }

    /// Records a building's use as the address office has it.
    pub fn set_residential(&mut self, building: BuildingId, residential: bool) {
        if let Some(b) = self.buildings.get_mut(&building) {
            b.residential = residential;
        }
    }

    /// Whether the room is in a building used for homes.
    pub fn is_residential_room(&self, room: RoomId) -> bool {
        self.rooms
            .get(&room)
            .and_then(|r| self.buildings.get(&r.building))
            .is_some_and(|b| b.residential)
    }

    /// Whether the building is used for homes.
    pub fn is_residential_building(&self, building: BuildingId) -> bool {
        self.buildings.get(&building).is_some_and(|b| b.residential)
    }

    /// Parses and matches in one step.
    pub fn locate(&self, text: &str) -> AddressMatch {
        self.match_address(&self.parse(text))
    }

    fn settle_street(&self, m: &mut AddressMatch, given_street: Option<StreetId>) {
        if let Some(c) = m.place.community {
            let actual = self.communities[&c].street;
            if let Some(s) = given_street
                && s != actual
            {
                m.correct(
                    Correction::StreetFromCommunity {
                        given: self.streets[&s].name.to_string(),
                        standard: self.streets[&actual].name.to_string(),
                    },
                    0.85,
                );
            }
            m.place.street = Some(actual);
        }
    }

    fn settle_road(
        &self,
        m: &mut AddressMatch,
        road: RoadId,
        communities: &[CommunityId],
        street: Option<StreetId>,
    ) {
        let community = self.roads[&road].community;
        let standard = self.communities[&community].name.to_string();
        if communities.is_empty() {
            m.correct(Correction::CommunityInferred { standard }, 0.98);
        } else if !communities.contains(&community) {
            m.correct(
                Correction::CommunityFromRoad {
                    given: m
                        .place
                        .community
                        .map(|c| self.communities[&c].name.to_string())
                        .unwrap_or_default(),
                    standard,
                },
                0.8,
            );
        }
        m.place.community = Some(community);
        m.place.road = Some(road);
        m.level = Some(Level::Road);
        self.settle_street(m, street);
    }

    fn fuzzy_roads(
        &self,
        given: &str,
        communities: &[CommunityId],
        street: Option<StreetId>,
    ) -> Vec<RoadId> {
        let given: Vec<char> = given.chars().collect();
        let mut scope: Vec<CommunityId> = communities.to_vec();
        if scope.is_empty()
            && let Some(s) = street
        {
            scope = self
                .communities_of_street
                .get(&s)
                .cloned()
                .unwrap_or_default();
        }
        let mut hits: Vec<RoadId> = Vec::new();
        for c in scope {
            for &r in self.roads_of_community.get(&c).into_iter().flatten() {
                if self.roads[&r]
                    .names_chars
                    .iter()
                    .any(|n| within_one_edit(n, &given) == Some(1))
                {
                    hits.push(r);
                }
            }
        }
        hits.sort_unstable();
        hits.dedup();
        hits
    }

    fn find_building(&self, road: RoadId, p: &ParsedAddress) -> BuildingLookup {
        let road_name = &self.roads[&road].name;
        let describe = |ids: &[BuildingId]| -> String {
            let mut blocks: Vec<(u16, u16)> = ids
                .iter()
                .map(|b| (self.buildings[b].number, self.buildings[b].block))
                .collect();
            blocks.sort_unstable();
            let listed: Vec<String> = blocks
                .iter()
                .take(6)
                .map(|(n, b)| format!("{n}号{b}栋"))
                .collect();
            let more = if blocks.len() > 6 { " …" } else { "" };
            format!("one of {}{more} on {road_name}", listed.join(", "))
        };
        let sorted = |ids: &[BuildingId]| {
            let mut v = ids.to_vec();
            v.sort_unstable();
            v
        };
        match (p.number, p.block) {
            (Some(n), Some(b)) => match self.building_by_key.get(&(road, n, b)) {
                Some(&id) => BuildingLookup::Found {
                    building: id,
                    inferred: None,
                },
                None => {
                    let at_number = self.buildings_by_number.get(&(road, n));
                    let expected = match at_number {
                        Some(ids) => describe(ids),
                        None => format!("a house number that exists on {road_name}"),
                    };
                    BuildingLookup::Failed(MatchFailure::NotFound {
                        level: if at_number.is_some() {
                            Level::Building
                        } else {
                            Level::Number
                        },
                        given: format!("{n}号{b}栋"),
                        expected,
                    })
                }
            },
            (Some(n), None) => match self.buildings_by_number.get(&(road, n)).map(Vec::as_slice) {
                Some(&[id]) => BuildingLookup::Found {
                    building: id,
                    inferred: Some(Correction::BlockInferred {
                        block: self.buildings[&id].block,
                    }),
                },
                Some(ids) if ids.len() > 1 => BuildingLookup::Failed(MatchFailure::Ambiguous {
                    level: Level::Building,
                    given: format!("{n}号"),
                    candidates: sorted(ids),
                }),
                _ => BuildingLookup::Failed(MatchFailure::NotFound {
                    level: Level::Number,
                    given: format!("{n}号"),
                    expected: format!("a house number that exists on {road_name}"),
                }),
            },
            (None, Some(b)) => match self.buildings_by_block.get(&(road, b)).map(Vec::as_slice) {
                Some(&[id]) => BuildingLookup::Found {
                    building: id,
                    inferred: Some(Correction::NumberInferred {
                        number: self.buildings[&id].number,
                    }),
                },
                Some(ids) if ids.len() > 1 => BuildingLookup::Failed(MatchFailure::Ambiguous {
                    level: Level::Number,
                    given: format!("{b}栋"),
                    candidates: sorted(ids),
                }),
                _ => BuildingLookup::Failed(MatchFailure::NotFound {
                    level: Level::Building,
                    given: format!("{b}栋"),
                    expected: format!("a building number that exists on {road_name}"),
                }),
            },
            (None, None) => BuildingLookup::Failed(MatchFailure::Missing {
                level: Level::Number,
            }),
        }
    }
}

#[derive(Debug, Clone)]
enum BuildingLookup {
    Found {
        building: BuildingId,
        inferred: Option<Correction>,
    },
    Failed(MatchFailure),
}

enum Fuzzy {
    None,
    One(u32),
    Many,
}

/// Exact-or-one-edit search over a small candidate set; more than one hit is no answer.
fn fuzzy_search<'a>(given: &str, candidates: impl Iterator<Item = (u32, &'a str)>) -> Fuzzy {
    let given: Vec<char> = given.chars().collect();
    let mut hits: Vec<u32> = candidates
        .filter(|(_, name)| {
            let name: Vec<char> = name.chars().collect();
            within_one_edit(&name, &given).is_some()
        })
        .map(|(id, _)| id)
        .collect();
    hits.sort_unstable();
    hits.dedup();
    match hits.as_slice() {
        [] => Fuzzy::None,
        &[one] => Fuzzy::One(one),
        _ => Fuzzy::Many,
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Slot {
    Number,
    Building,
    Unit,
    Room,
    /// A floor ("5楼", "5层"): read and ignored, the room number carries it.
    Floor,
    /// A bare number followed by '-', as in "12号3-2-503" or "12-3-2-503".
    Dashed,
    /// A bare number at the end or before something unknown.
    Bare,
}

/// Reads a number and its marker ("12号", "3栋", "2单元", "503室"); returns bytes consumed.
fn parse_number(rest: &str, start: usize, p: &mut ParsedAddress) -> usize {
    let digits_end = rest
        .char_indices()
        .find(|(_, c)| !c.is_ascii_digit())
        .map_or(rest.len(), |(i, _)| i);
    let value: Option<u32> = rest[..digits_end].parse().ok();
    let after = &rest[digits_end..];
    const MARKERS: [(&str, Slot); 15] = [
        ("号楼", Slot::Building),
        ("号房", Slot::Room),
        ("号室", Slot::Room),
        ("单元", Slot::Unit),
        ("号", Slot::Number),
        ("栋", Slot::Building),
        ("座", Slot::Building),
        ("幢", Slot::Building),
        ("#", Slot::Building),
        ("室", Slot::Room),
        ("房", Slot::Room),
        ("楼", Slot::Floor),
        ("层", Slot::Floor),
        ("F", Slot::Floor),
        ("-", Slot::Dashed),
    ];
    let (slot, marker_len) = MARKERS
        .iter()
        .find(|(m, _)| after.starts_with(m))
        .map_or((Slot::Bare, 0), |&(m, slot)| (slot, m.len()));
    let consumed = digits_end + marker_len;
    let slot = match slot {
        // "12号" is the house number; a second "…号" after it is a room ("12号3栋5号").
        Slot::Number if p.number.is_some() => Slot::Room,
        Slot::Dashed if p.number.is_none() && p.block.is_none() => Slot::Number,
        Slot::Dashed if p.number.is_some() && p.block.is_none() => Slot::Building,
        Slot::Dashed if p.block.is_some() && p.unit.is_none() => Slot::Unit,
        Slot::Bare => Slot::Room,
        other => other,
    };
    let stored = match (slot, value) {
        (Slot::Number, Some(v)) if p.number.is_none() => {
            p.number = u16::try_from(v).ok();
            p.number.is_some()
        }
        (Slot::Building, Some(v)) if p.block.is_none() => {
            p.block = u16::try_from(v).ok();
            p.block.is_some()
        }
        (Slot::Unit, Some(v)) if p.unit.is_none() => {
            p.unit = u8::try_from(v).ok();
            p.unit.is_some()
        }
        (Slot::Room, Some(v)) if p.room.is_none() => {
            p.room = u16::try_from(v).ok();
            p.room.is_some()
        }
        (Slot::Floor, Some(_)) => true,
        _ => false,
    };
    if !stored && p.leftover.is_none() {
        p.leftover = Some(Span::new(start, start + consumed));
    }
    consumed
}

/// A byte range of [`ParsedAddress::normalized`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    start: u32,
    end: u32,
}

impl Span {
    fn new(start: usize, end: usize) -> Self {
        Span {
            start: start as u32,
            end: end as u32,
        }
    }
}

/// Free text split into address levels. Name parts borrow from the normalised text.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ParsedAddress {
    /// The text after width folding, punctuation removal and numeral conversion.
    pub normalized: String,
    /// Whether a province/city/district prefix (or a short form) was present.
    pub had_prefix: bool,
    street: Option<Span>,
    community: Option<Span>,
    road: Option<Span>,
    leftover: Option<Span>,
    pub number: Option<u16>,
    pub block: Option<u16>,
    pub unit: Option<u8>,
    pub room: Option<u16>,
}

impl ParsedAddress {
    fn part(&self, span: Option<Span>) -> Option<&str> {
        span.map(|s| &self.normalized[s.start as usize..s.end as usize])
    }
    pub fn street(&self) -> Option<&str> {
        self.part(self.street)
    }
    pub fn community(&self) -> Option<&str> {
        self.part(self.community)
    }
    pub fn road(&self) -> Option<&str> {
        self.part(self.road)
    }
    /// Text the parser could not place at any level.
    pub fn leftover(&self) -> Option<&str> {
        self.part(self.leftover)
    }
}

/// The place an address resolved to: every level down to the deepest one reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Place {
    pub street: Option<StreetId>,
    pub community: Option<CommunityId>,
    pub road: Option<RoadId>,
    pub building: Option<BuildingId>,
    pub room: Option<RoomId>,
}

/// A change the matcher made to the text to reach the standard address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Correction {
    StreetTypo {
        given: String,
        standard: String,
    },
    /// Street text that names no street; ignored.
    StreetUnrecognised {
        given: String,
    },
    /// The community lies in another street than the text says.
    StreetFromCommunity {
        given: String,
        standard: String,
    },
    CommunityTypo {
        given: String,
        standard: String,
    },
    /// Community text that names no community; ignored.
    CommunityUnrecognised {
        given: String,
    },
    /// No community in the text; taken from the road.
    CommunityInferred {
        standard: String,
    },
    /// The road lies in another community than the text says.
    CommunityFromRoad {
        given: String,
        standard: String,
    },
    /// A former name of the road; `standard` is empty when several roads once had it.
    FormerRoadName {
        given: String,
        standard: String,
    },
    /// One character off a road of the community (or street).
    RoadTypo {
        given: String,
        standard: String,
    },
    /// The road exists, but not in the community or street the text gives.
    RoadOutsideGivenArea {
        given: String,
    },
    /// No building number; the house number has only this building.
    BlockInferred {
        block: u16,
    },
    /// No house number; the road has only one building with this building number.
    NumberInferred {
        number: u16,
    },
    /// The road's name fits several roads with this house and building number, and only one
    /// of those buildings has the room.
    RoadByRoom {
        given: String,
    },
    /// No unit; only this unit has the room number.
    UnitInferred {
        unit: u8,
        single_unit_building: bool,
    },
}

/// Why a match stopped above the room level: the level and what was expected there.
#[derive(Debug, Clone, PartialEq, Eq, Error, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum MatchFailure {
    #[error("the address gives no {level}")]
    Missing { level: Level },
    #[error("{level} {given:?} is not in the address library; expected {expected}")]
    NotFound {
        level: Level,
        given: String,
        expected: String,
    },
    #[error("{level} {given:?} fits {} places equally well: {candidates:?}", candidates.len())]
    Ambiguous {
        level: Level,
        given: String,
        candidates: Vec<u32>,
    },
}

impl MatchFailure {
    pub fn level(&self) -> Level {
        match self {
            MatchFailure::Missing { level }
            | MatchFailure::NotFound { level, .. }
            | MatchFailure::Ambiguous { level, .. } => *level,
        }
    }
}

/// The outcome of matching: the deepest place reached, how sure, what was corrected, and why it
/// stopped (if it did not reach a room).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AddressMatch {
    pub place: Place,
    /// Deepest level resolved; `None` when nothing was.
    pub level: Option<Level>,
    /// 1.0 for an exact standard address; each correction lowers it.
    pub confidence: f32,
    pub corrections: Vec<Correction>,
    pub failure: Option<MatchFailure>,
}

impl Default for AddressMatch {
    fn default() -> Self {
        AddressMatch {
            place: Place::default(),
            level: None,
            confidence: 1.0,
            corrections: Vec::new(),
            failure: None,
        }
    }
}

impl AddressMatch {
    fn correct(&mut self, correction: Correction, factor: f32) {
        self.corrections.push(correction);
        self.confidence *= factor;
    }

    fn fail(&mut self, failure: MatchFailure) {
        self.failure = Some(failure);
    }

    pub fn room(&self) -> Option<RoomId> {
        self.place.room
    }

    pub fn building(&self) -> Option<BuildingId> {
        self.place.building
    }

    pub fn is_ambiguous(&self) -> bool {
        matches!(self.failure, Some(MatchFailure::Ambiguous { .. }))
    }

    /// The text names a place the library does not have (as opposed to leaving a level out).
    pub fn is_not_found(&self) -> bool {
        matches!(self.failure, Some(MatchFailure::NotFound { .. }))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Two streets, three communities; 兴华一路 exists in two communities (of two streets).
    pub(crate) fn library() -> AddressLibrary {
        let mut lib = AddressLibrary::new();
        lib.add_street(1, "新安街道").unwrap();
        lib.add_street(2, "西乡街道").unwrap();
        lib.add_community(10, 1, "海裕社区").unwrap();
        lib.add_community(11, 1, "上合社区").unwrap();
        lib.add_community(20, 2, "固戍社区").unwrap();
        lib.add_road(100, 10, "兴华一路", &["前进一路"]).unwrap();
        lib.add_road(101, 10, "创业二路", &[]).unwrap();
        lib.add_road(104, 10, "海秀路", &[]).unwrap();
        lib.add_road(105, 10, "海城路", &[]).unwrap();
        lib.add_road(102, 11, "兴华二路", &[]).unwrap();
        lib.add_road(103, 11, "宝安大道", &[]).unwrap();
        lib.add_road(200, 20, "兴华一路", &[]).unwrap();
        lib.add_building(1000, 100, 12, 3, 7).unwrap();
        lib.add_building(1001, 100, 12, 4, 7).unwrap();
        lib.add_building(1002, 100, 14, 1, 7).unwrap();
        lib.add_building(1030, 103, 100, 1, 8).unwrap();
        lib.add_building(2000, 200, 12, 3, 9).unwrap();
        lib.add_room(10001, 1000, 1, 503).unwrap();
        lib.add_room(10002, 1000, 2, 503).unwrap();
        lib.add_room(10003, 1000, 2, 504).unwrap();
        lib.add_room(10011, 1001, 1, 101).unwrap();
        lib.add_room(10021, 1002, 1, 503).unwrap();
        lib.add_room(10022, 1002, 1, 601).unwrap();
        lib.add_room(10301, 1030, 1, 201).unwrap();
        lib.add_room(20001, 2000, 1, 101).unwrap();
        lib
    }

    const STANDARD: &str = "广东省深圳市宝安区新安街道海裕社区兴华一路12号3栋2单元503室";

    fn has(m: &AddressMatch, pred: impl Fn(&Correction) -> bool) -> bool {
        m.corrections.iter().any(pred)
    }

    #[test]
    fn standard_address_matches_its_room_exactly() {
        let lib = library();
        assert_eq!(lib.standard_address(10002).as_deref(), Some(STANDARD));
        let m = lib.locate(STANDARD);
        assert_eq!(m.room(), Some(10002));
        assert_eq!(m.level, Some(Level::Room));
        assert_eq!(m.confidence, 1.0);
        assert!(m.corrections.is_empty());
        assert_eq!(m.failure, None);
        assert_eq!(m.place, lib.place_of_room(10002).unwrap());
        let p = lib.parse(STANDARD);
        assert_eq!(
            (p.street(), p.community(), p.road()),
            (Some("新安街道"), Some("海裕社区"), Some("兴华一路"))
        );
        assert_eq!(
            (p.number, p.block, p.unit, p.room),
            (Some(12), Some(3), Some(2), Some(503))
        );
        assert!(p.had_prefix);
    }

    #[test]
    fn full_width_digits_spaces_and_punctuation_are_normalised() {
        let lib = library();
        for text in [
            "广东省深圳市宝安区新安街道海裕社区兴华一路１２号３栋２单元５０３室",
            "新安街道，海裕社区 兴华一路12号 3栋 2单元 503室。",
            "（新安街道）海裕社区　兴华一路１２号３栋２单元５０３室",
        ] {
            let m = lib.locate(text);
            assert_eq!(m.room(), Some(10002), "{text}: {m:?}");
            assert!(m.corrections.is_empty(), "{text}");
        }
    }

    #[test]
    fn chinese_numerals_in_numbers_are_read_but_road_names_kept() {
        let lib = library();
        let p = lib.parse("新安街道海裕社区兴华一路十二号第三栋二单元五零三室");
        assert_eq!(p.road(), Some("兴华一路"));
        assert_eq!(
            (p.number, p.block, p.unit, p.room),
            (Some(12), Some(3), Some(2), Some(503))
        );
        assert_eq!(lib.match_address(&p).room(), Some(10002));
    }

    #[test]
    fn abbreviated_prefixes_and_short_names_are_accepted() {
        let lib = library();
        for text in [
            "深圳宝安新安海裕兴华一路12号3栋2单元503室",
            "宝安区新安街道海裕社区兴华一路12号3栋2单元503室",
            "深圳市宝安区新安海裕社区兴华一路12号3栋2单元503室",
            "广东深圳宝安新安街道海裕兴华一路12号3栋2单元503室",
            "新安街道海裕社区兴华一路12号3-2-503",
            "新安街道海裕社区兴华一路12-3-2-503",
            "新安街道海裕社区兴华一路12号3#2单元503房",
        ] {
            let m = lib.locate(text);
            assert_eq!(m.room(), Some(10002), "{text}: {m:?}");
        }
        // 宝安大道 is a road: the "宝安" in it is not the district.
        for text in [
            "深圳市宝安大道100号1栋1单元201室",
            "宝安区宝安大道100号1栋201室",
        ] {
            let m = lib.locate(text);
            assert_eq!(m.room(), Some(10301), "{text}: {m:?}");
        }
    }

    #[test]
    fn missing_community_is_inferred_from_the_road() {
        let lib = library();
        let m = lib.locate("新安街道兴华一路12号3栋2单元503室");
        assert_eq!(m.room(), Some(10002));
        assert!(has(
            &m,
            |c| matches!(c, Correction::CommunityInferred { standard } if standard == "海裕社区")
        ));
        assert!(m.confidence < 1.0);
        // No street or community: two 兴华一路 exist, but only one has a 14号.
        let m = lib.locate("兴华一路14号1栋503室");
        assert_eq!(m.room(), Some(10021), "{m:?}");
        assert_eq!(m.place.community, Some(10));
    }

    #[test]
    fn the_room_tells_same_named_roads_apart_when_only_one_building_has_it() {
        let lib = library();
        // 12号3栋 is on both 兴华一路, but only one of them has a 2单元503室.
        let m = lib.locate("兴华一路12号3栋2单元503室");
        assert_eq!(m.room(), Some(10002), "{m:?}");
        assert!(has(&m, |c| matches!(c, Correction::RoadByRoom { .. })));
        assert!(m.confidence < 1.0);
    }

    #[test]
    fn same_road_name_in_two_communities_without_context_is_ambiguous() {
        let mut lib = library();
        // 12号3栋2单元503室 exists on both 兴华一路: never pick one.
        lib.add_room(20002, 2000, 2, 503).unwrap();
        let m = lib.locate("兴华一路12号3栋2单元503室");
        assert!(m.is_ambiguous(), "{m:?}");
        assert_eq!(m.room(), None);
        assert_eq!(m.place.road, None);
        assert_eq!(
            m.failure,
            Some(MatchFailure::Ambiguous {
                level: Level::Road,
                given: "兴华一路".into(),
                candidates: vec![100, 200]
            })
        );
    }

    #[test]
    fn former_road_names_are_mapped_to_the_current_road() {
        let lib = library();
        let m = lib.locate("新安街道海裕社区前进一路12号3栋2单元503室");
        assert_eq!(m.room(), Some(10002));
        assert!(has(
            &m,
            |c| matches!(c, Correction::FormerRoadName { standard, .. } if standard == "兴华一路")
        ));
    }

    #[test]
    fn one_character_typos_in_road_names_are_corrected_within_the_area_only() {
        let lib = library();
        let m = lib.locate("新安街道海裕社区兴化一路12号3栋2单元503室");
        assert_eq!(m.room(), Some(10002));
        assert!(has(
            &m,
            |c| matches!(c, Correction::RoadTypo { given, standard } if given == "兴化一路" && standard == "兴华一路")
        ));
        // Street only: the street's roads are searched.
        let m = lib.locate("新安街道兴化一路12号3栋2单元503室");
        assert_eq!(m.room(), Some(10002), "{m:?}");
        // No area at all: no fuzzy search over the whole district.
        let m = lib.locate("兴化一路12号3栋2单元503室");
        assert_eq!(m.place.road, None);
        assert!(
            matches!(
                m.failure,
                Some(MatchFailure::NotFound {
                    level: Level::Road,
                    ..
                })
            ),
            "{m:?}"
        );
        // Two roads one edit away: ambiguous, not a guess.
        let m = lib.locate("新安街道海裕社区海明路1号");
        assert!(m.is_ambiguous(), "{m:?}");
        assert_eq!(m.place.road, None);
        // Two edits away: not found.
        let m = lib.locate("新安街道海裕社区兴化二路12号3栋2单元503室");
        assert!(
            matches!(
                m.failure,
                Some(MatchFailure::NotFound {
                    level: Level::Road,
                    ..
                })
            ),
            "{m:?}"
        );
    }

    #[test]
    fn community_typo_and_wrong_street_are_corrected() {
        let lib = library();
        let m = lib.locate("新安街道海欲社区兴华一路12号3栋2单元503室");
        assert_eq!(m.room(), Some(10002), "{m:?}");
        assert!(has(&m, |c| matches!(c, Correction::CommunityTypo { .. })));
        let m = lib.locate("西乡街道海裕社区兴华一路12号3栋2单元503室");
        assert_eq!(m.room(), Some(10002), "{m:?}");
        assert!(has(&m, |c| matches!(
            c,
            Correction::StreetFromCommunity { .. }
        )));
    }

    #[test]
    fn wrong_building_numbers_are_not_corrected() {
        let lib = library();
        let m = lib.locate("新安街道海裕社区兴华一路12号9栋2单元503室");
        assert_eq!(m.level, Some(Level::Road));
        assert_eq!(m.place.road, Some(100));
        assert_eq!(m.building(), None);
        assert_eq!(m.room(), None);
        match &m.failure {
            Some(MatchFailure::NotFound {
                level: Level::Building,
                given,
                expected,
            }) => {
                assert_eq!(given, "12号9栋");
                assert!(
                    expected.contains("12号3栋") && expected.contains("12号4栋"),
                    "{expected}"
                );
            }
            other => panic!("expected building not found, got {other:?}"),
        }
        assert!(m.failure.as_ref().unwrap().to_string().contains("expected"));
        let m = lib.locate("新安街道海裕社区兴华一路99号3栋2单元503室");
        assert_eq!(m.building(), None);
        assert!(
            matches!(
                m.failure,
                Some(MatchFailure::NotFound {
                    level: Level::Number,
                    ..
                })
            ),
            "{m:?}"
        );
    }

    #[test]
    fn missing_unit_is_inferred_only_when_one_unit_has_the_room() {
        let lib = library();
        let m = lib.locate("新安街道海裕社区兴华一路14号1栋601室");
        assert_eq!(m.room(), Some(10022));
        assert!(has(&m, |c| matches!(
            c,
            Correction::UnitInferred {
                unit: 1,
                single_unit_building: true
            }
        )));
        let m = lib.locate("新安街道海裕社区兴华一路12号3栋504室");
        assert_eq!(m.room(), Some(10003));
        assert!(has(&m, |c| matches!(
            c,
            Correction::UnitInferred {
                unit: 2,
                single_unit_building: false
            }
        )));
        // 503 exists in units 1 and 2: stays at the building, ambiguous at the unit.
        let m = lib.locate("新安街道海裕社区兴华一路12号3栋503室");
        assert_eq!(m.level, Some(Level::Building));
        assert_eq!(m.building(), Some(1000));
        assert_eq!(m.room(), None);
        assert!(
            matches!(&m.failure, Some(MatchFailure::Ambiguous { level: Level::Unit, candidates, .. }) if candidates == &vec![10001, 10002])
        );
    }

    #[test]
    fn missing_building_number_is_inferred_only_when_unique() {
        let lib = library();
        let m = lib.locate("新安街道海裕社区兴华一路14号503室");
        assert_eq!(m.room(), Some(10021));
        assert!(has(&m, |c| matches!(
            c,
            Correction::BlockInferred { block: 1 }
        )));
        let m = lib.locate("新安街道海裕社区兴华一路12号503室");
        assert_eq!(m.building(), None);
        assert!(
            matches!(&m.failure, Some(MatchFailure::Ambiguous { level: Level::Building, candidates, .. }) if candidates == &vec![1000, 1001])
        );
    }

    #[test]
    fn incomplete_addresses_stop_at_the_last_level_given() {
        let lib = library();
        let m = lib.locate("新安街道海裕社区");
        assert_eq!(m.level, Some(Level::Community));
        assert_eq!(m.place.community, Some(10));
        assert_eq!(
            m.failure,
            Some(MatchFailure::Missing { level: Level::Road })
        );
        let m = lib.locate("新安街道海裕社区兴华一路");
        assert_eq!(m.level, Some(Level::Road));
        assert_eq!(
            m.failure,
            Some(MatchFailure::Missing {
                level: Level::Number
            })
        );
        let m = lib.locate("新安街道海裕社区兴华一路12号3栋");
        assert_eq!(m.level, Some(Level::Building));
        assert_eq!(
            m.failure,
            Some(MatchFailure::Missing { level: Level::Room })
        );
        let m = lib.locate("新安街道海裕社区兴华一路12号3栋2单元999室");
        assert_eq!(m.building(), Some(1000));
        assert!(m.is_not_found());
        assert_eq!(
            m.failure.as_ref().map(MatchFailure::level),
            Some(Level::Room)
        );
        let m = lib.locate("");
        assert_eq!(m.level, None);
    }

    #[test]
    fn library_rejects_inconsistent_entries() {
        let mut lib = library();
        assert_eq!(
            lib.add_street(1, "福永街道"),
            Err(LibraryError::DuplicateId {
                level: Level::Street,
                id: 1
            })
        );
        assert!(matches!(
            lib.add_community(30, 9, "某社区"),
            Err(LibraryError::UnknownParent {
                parent_level: Level::Street,
                parent: 9,
                ..
            })
        ));
        assert_eq!(
            lib.add_building(1999, 100, 12, 3, 7),
            Err(LibraryError::DuplicateAddress {
                level: Level::Building,
                id: 1999,
                existing: 1000
            })
        );
        assert!(matches!(
            lib.add_room(1, 1000, 0, 101),
            Err(LibraryError::ZeroNumber { .. })
        ));
        assert!(matches!(
            lib.add_road(300, 10, " ", &[]),
            Err(LibraryError::EmptyName { .. })
        ));
        let e = lib.add_room(1, 4242, 1, 101).unwrap_err();
        assert!(e.to_string().contains("not in the library"), "{e}");
    }
}
