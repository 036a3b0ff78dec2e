//! Synthetic residents in households, placed in buildings with standard addresses (the address
//! library), and companies registered at addresses. Nothing here is a real person or firm.
//!
//! 4.48 million residents are stored column-wise in a few bytes each; names and ID numbers are
//! derived on demand from the seed and the resident's index, never stored as strings.

use std::collections::HashMap;
use std::fmt;

use geo::{BoundingRect, Contains, Coord, Point};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, LogNormal};
use rayon::prelude::*;
use serde::Serialize;

use crate::geography::{District, Grid, apportion};
use crate::ids;
use crate::rng::{RngStreams, mix64};

/// Year the synthetic population's ages are counted from.
pub const CENSUS_YEAR: u16 = 2025;
/// Companies and individual businesses per resident (synthetic; Shenzhen's market-entity density
/// is of this order).
pub const COMPANIES_PER_RESIDENT: f64 = 0.15;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BuildingKind {
    /// Urban-village "handshake" buildings: small rooms, mostly migrant tenants.
    UrbanVillage,
    /// Residential compounds (小区): family flats in high-rises.
    Compound,
    /// Factory dormitories: collective households.
    Dormitory,
    /// Shops and offices: companies, no residents.
    Commercial,
    /// Industrial parks: companies, no residents.
    Industrial,
}

#[derive(Debug, Clone, Serialize)]
pub struct Building {
    pub grid: u32,
    pub road: u32,
    /// House number on the road (门牌号).
    pub number: u16,
    /// Building number within its compound or row (栋).
    pub block: u16,
    pub kind: BuildingKind,
    pub floors: u8,
    pub units: u8,
    pub rooms_per_floor: u8,
    pub first_room: u32,
    pub position: [f32; 2],
}

impl Building {
    pub fn rooms(&self) -> u32 {
        self.floors as u32 * self.units as u32 * self.rooms_per_floor as u32
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Road {
    pub community: u32,
    pub name: String,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct Company {
    pub room: u32,
    pub grid: u32,
    pub industry: u8,
    /// 1 enterprise, 2 individual business.
    pub category: u8,
    pub legal_representative: u32,
    pub serial: u64,
}

/// The standard address of a room: street / community / road / number / building / unit / room.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Address {
    pub street: String,
    pub community: String,
    pub road: String,
    pub number: u16,
    pub building: u16,
    pub unit: u8,
    pub room: u16,
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "广东省深圳市宝安区{}{}{}{}号{}栋{}单元{}室",
            self.street,
            self.community,
            self.road,
            self.number,
            self.building,
            self.unit,
            self.room
        )
    }
}

const MALE: u8 = 1;
const REGISTERED: u8 = 2;

pub struct Population {
    seed: u64,
    pub roads: Vec<Road>,
    pub buildings: Vec<Building>,
    /// Room of each household.
    pub household_room: Vec<u32>,
    /// Per resident.
    pub resident_household: Vec<u32>,
    pub resident_age: Vec<u8>,
    resident_flags: Vec<u8>,
    /// Day of the year of birth (0-based) and the ID number's sequence (odd for men).
    resident_birth_day: Vec<u16>,
    resident_sequence: Vec<u16>,
    /// Index into `ids::MIGRANT_ORIGIN_CODES`, or `u16::MAX` for Bao'an.
    resident_origin: Vec<u16>,
    /// First resident of each grid; residents are stored grid by grid.
    pub grid_first_resident: Vec<u32>,
    pub companies: Vec<Company>,
}

/// Per-grid output of the parallel generator, concatenated in grid order.
struct GridPart {
    roads: Vec<Road>,
    buildings: Vec<Building>,
    household_room: Vec<u32>,
    household_sizes: Vec<u8>,
    ages: Vec<u8>,
    flags: Vec<u8>,
    birth_day: Vec<u16>,
    origin: Vec<u16>,
    companies: Vec<Company>,
}

fn household_size(kind: BuildingKind, rng: &mut ChaCha8Rng) -> u8 {
    let u: f64 = rng.random();
    let table: &[(f64, u8)] = match kind {
        BuildingKind::UrbanVillage => &[(0.35, 1), (0.65, 2), (0.85, 3), (0.95, 4), (1.0, 5)],
        BuildingKind::Compound => &[(0.10, 1), (0.35, 2), (0.70, 3), (0.90, 4), (1.0, 5)],
        _ => &[(0.2, 4), (0.5, 6), (1.0, 8)],
    };
    table.iter().find(|(p, _)| u < *p).map_or(1, |&(_, s)| s)
}

fn days_in_year(y: u16) -> u16 {
    if (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400) {
        366
    } else {
        365
    }
}

fn month_day(year: u16, day_of_year: u16) -> (u8, u8) {
    let feb = if days_in_year(year) == 366 { 29 } else { 28 };
    let months = [31, feb, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    let mut d = day_of_year;
    for (m, &len) in months.iter().enumerate() {
        if d < len {
            return (m as u8 + 1, d as u8 + 1);
        }
        d -= len;
    }
    (12, 31)
}

impl Population {
    /// Residents for every grid of `district` (≈4.48 M at scale 1), in parallel by grid with a
    /// random stream per grid, so the thread count never changes the result.
    pub fn build(district: &District, streams: &RngStreams) -> Population {
        let total = (district.population_total as f64 * district.scale).round() as usize;
        let mut weight_rng = streams.stream("population/grid-weights");
        let spread = LogNormal::new(0.0, 0.3).expect("valid");
        // Each grid's expected residents (the pack's figures, or its share of habitable land),
        // times a grid's own character.
        let weights: Vec<f64> = district
            .grids
            .iter()
            .map(|g| district.grid_residents[g.id as usize] * spread.sample(&mut weight_rng))
            .collect();
        let per_grid = apportion(total, &weights, 1);

        let parts: Vec<GridPart> = district
            .grids
            .par_iter()
            .map(|g| {
                let mut rng = streams.stream_for("population/grid", g.id as u64);
                generate_grid(district, g.id, per_grid[g.id as usize], &mut rng)
            })
            .collect();

        let mut pop = Population {
            seed: streams.seed,
            roads: Vec::new(),
            buildings: Vec::new(),
            household_room: Vec::new(),
            resident_household: Vec::with_capacity(total),
            resident_age: Vec::with_capacity(total),
            resident_flags: Vec::with_capacity(total),
            resident_birth_day: Vec::with_capacity(total),
            resident_sequence: Vec::with_capacity(total),
            resident_origin: Vec::with_capacity(total),
            grid_first_resident: Vec::with_capacity(district.grids.len() + 1),
            companies: Vec::new(),
        };
        for part in parts {
            let road_base = pop.roads.len() as u32;
            let room_base = pop.buildings.last().map_or(0, |b| b.first_room + b.rooms());
            let resident_base = pop.resident_age.len() as u32;
            pop.grid_first_resident.push(resident_base);
            pop.roads.extend(part.roads);
            for mut b in part.buildings {
                b.road += road_base;
                b.first_room += room_base;
                pop.buildings.push(b);
            }
            let mut resident = resident_base;
            for (room, size) in part.household_room.iter().zip(&part.household_sizes) {
                let h = pop.household_room.len() as u32;
                pop.household_room.push(room + room_base);
                for _ in 0..*size {
                    pop.resident_household.push(h);
                    resident += 1;
                }
            }
            pop.resident_age.extend(part.ages);
            pop.resident_flags.extend(part.flags);
            pop.resident_birth_day.extend(part.birth_day);
            pop.resident_origin.extend(part.origin);
            for mut c in part.companies {
                // Serials are the company's place in the register: unique, so credit codes are.
                c.serial = pop.companies.len() as u64;
                c.room += room_base;
                c.legal_representative += resident_base;
                pop.companies.push(c);
            }
            debug_assert_eq!(resident as usize, pop.resident_age.len());
        }
        pop.grid_first_resident.push(pop.resident_age.len() as u32);
        pop.assign_sequences();
        pop.unique_road_names(streams);
        pop
    }

    /// A community never has two roads of one name (the address office would not allow it, and
    /// an address could not tell them apart). Grids name their roads independently, so a
    /// repeated name is drawn again, deterministically, in road order.
    fn unique_road_names(&mut self, streams: &RngStreams) {
        let mut rng = streams.stream("population/road-names");
        let mut used: std::collections::HashSet<(u32, String)> =
            std::collections::HashSet::with_capacity(self.roads.len());
        for road in &mut self.roads {
            let mut tries = 0;
            while used.contains(&(road.community, road.name.clone())) && tries < 1000 {
                road.name = ids::road_name(rng.random());
                tries += 1;
            }
            used.insert((road.community, road.name.clone()));
        }
    }

    /// ID sequence numbers unique within (birthplace, birth date, sex), as GB 11643 requires;
    /// odd for men, even for women.
    fn assign_sequences(&mut self) {
        let n = self.resident_age.len();
        let mut used: HashMap<(u16, u16, u16, bool), u16> = HashMap::with_capacity(n / 8);
        self.resident_sequence = Vec::with_capacity(n);
        for i in 0..n {
            let year = CENSUS_YEAR - self.resident_age[i] as u16;
            let male = self.resident_flags[i] & MALE != 0;
            loop {
                let key = (
                    self.resident_origin[i],
                    year,
                    self.resident_birth_day[i],
                    male,
                );
                let count = used.entry(key).or_insert(0);
                if *count < 500 {
                    self.resident_sequence.push(*count * 2 + male as u16);
                    *count += 1;
                    break;
                }
                // That day is full for this birthplace: the next day (wrapping within the year).
                self.resident_birth_day[i] = (self.resident_birth_day[i] + 1) % days_in_year(year);
            }
        }
    }

    pub fn residents(&self) -> usize {
        self.resident_age.len()
    }

    pub fn households(&self) -> usize {
        self.household_room.len()
    }

    pub fn rooms(&self) -> u64 {
        self.buildings.iter().map(|b| b.rooms() as u64).sum()
    }

    pub fn is_male(&self, r: u32) -> bool {
        self.resident_flags[r as usize] & MALE != 0
    }

    pub fn is_registered(&self, r: u32) -> bool {
        self.resident_flags[r as usize] & REGISTERED != 0
    }

    pub fn registered(&self) -> usize {
        self.resident_flags
            .iter()
            .filter(|&&f| f & REGISTERED != 0)
            .count()
    }

    pub fn residents_of_grid(&self, grid: u32) -> std::ops::Range<u32> {
        self.grid_first_resident[grid as usize]..self.grid_first_resident[grid as usize + 1]
    }

    /// The resident's synthetic name, derived from the seed and index.
    pub fn name(&self, r: u32) -> String {
        ids::person_name(mix64(self.seed ^ mix64(r as u64)), self.is_male(r))
    }

    /// The resident's synthetic 18-digit ID number, with a valid GB 11643 check digit.
    pub fn id_number(&self, r: u32) -> String {
        let i = r as usize;
        let year = CENSUS_YEAR - self.resident_age[i] as u16;
        let (month, day) = month_day(year, self.resident_birth_day[i]);
        let area = match self.resident_origin[i] {
            u16::MAX => ids::SHENZHEN_BAOAN_CODE,
            o => ids::MIGRANT_ORIGIN_CODES[o as usize],
        };
        ids::compose_id_number(area, year, month, day, self.resident_sequence[i])
    }

    pub fn company_name(&self, c: usize) -> String {
        let co = &self.companies[c];
        ids::company_name(mix64(self.seed ^ co.serial), co.industry as usize)
    }

    /// The company's unified social credit code (GB 32100), with both check characters valid.
    pub fn credit_code(&self, c: usize) -> String {
        let co = &self.companies[c];
        ids::compose_credit_code(9, co.category, ids::SHENZHEN_BAOAN_CODE, co.serial)
    }

    /// The building a room is in: rooms are numbered building by building.
    pub fn building_of_room(&self, room: u32) -> usize {
        self.buildings.partition_point(|b| b.first_room <= room) - 1
    }

    /// The standard address of a room.
    pub fn address(&self, district: &District, room: u32) -> Address {
        let b = &self.buildings[self.building_of_room(room)];
        let index = room - b.first_room;
        let per_unit = b.floors as u32 * b.rooms_per_floor as u32;
        let unit = index / per_unit;
        let floor = (index % per_unit) / b.rooms_per_floor as u32;
        let on_floor = index % b.rooms_per_floor as u32;
        let grid = &district.grids[b.grid as usize];
        Address {
            street: district.streets[grid.street as usize].name_zh.clone(),
            community: district.communities[grid.community as usize].name.clone(),
            road: self.roads[b.road as usize].name.clone(),
            number: b.number,
            building: b.block,
            unit: unit as u8 + 1,
            room: ((floor + 1) * 100 + on_floor + 1) as u16,
        }
    }

    pub fn memory_bytes(&self) -> usize {
        let n = self.resident_age.len();
        n * (4 + 1 + 1 + 2 + 2 + 2)
            + self.household_room.len() * 4
            + self.buildings.len() * std::mem::size_of::<Building>()
            + self.companies.len() * std::mem::size_of::<Company>()
    }
}

fn generate_grid(
    district: &District,
    grid: u32,
    residents: usize,
    rng: &mut ChaCha8Rng,
) -> GridPart {
    let g = &district.grids[grid as usize];
    let community = g.community;
    // Each grid has a character: mostly urban village, mostly compounds, or industrial with
    // dormitories, as Bao'an's grids do.
    let character: f64 = rng.random();
    let (village, compound) = if character < 0.5 {
        (0.85, 0.12)
    } else if character < 0.8 {
        (0.3, 0.68)
    } else {
        (0.45, 0.15)
    };
    let industrial_grid = character >= 0.8;

    let road_count = rng.random_range(2..=5);
    let roads: Vec<Road> = (0..road_count)
        .map(|_| Road {
            community,
            name: ids::road_name(rng.random()),
        })
        .collect();
    let mut builder = GridBuilder {
        grid,
        g,
        land: &district.land,
        bbox: g.shape.bounding_rect().expect("a grid has an extent"),
        next_number: vec![1u16; road_count],
        rooms_total: 0,
        part: GridPart {
            roads,
            buildings: Vec::new(),
            household_room: Vec::new(),
            household_sizes: Vec::new(),
            ages: Vec::with_capacity(residents),
            flags: Vec::with_capacity(residents),
            birth_day: Vec::with_capacity(residents),
            origin: Vec::with_capacity(residents),
            companies: Vec::new(),
        },
    };
    builder.place_households(residents, (village, compound), rng);
    builder.add_companies(residents, industrial_grid, rng);
    builder.part
}

/// One grid's part as it is generated: where its buildings may stand, the next free house
/// number on each of its roads, and its rooms so far.
struct GridBuilder<'a> {
    grid: u32,
    g: &'a Grid,
    land: &'a crate::land::LandMask,
    bbox: geo::Rect<f64>,
    next_number: Vec<u16>,
    rooms_total: u32,
    part: GridPart,
}

impl GridBuilder<'_> {
    /// A point inside the grid where people can live — never on the airport, on water or in a
    /// forest park — (its site, which is drawn on habitable land, if 200 tries miss).
    fn position(&self, rng: &mut ChaCha8Rng) -> [f32; 2] {
        let (bbox, g) = (self.bbox, self.g);
        for _ in 0..200 {
            let p = Coord {
                x: rng.random_range(bbox.min().x..=bbox.max().x),
                y: rng.random_range(bbox.min().y..=bbox.max().y),
            };
            if g.shape.contains(&Point(p)) && self.land.habitable(p) {
                return [p.x as f32, p.y as f32];
            }
        }
        [g.site.x as f32, g.site.y as f32]
    }

    /// A new building of the kind, sized as that kind is, at the next number of a random road;
    /// returns its index in the part.
    fn new_building(&mut self, kind: BuildingKind, rng: &mut ChaCha8Rng) -> usize {
        let (floors, units, per_floor) = match kind {
            BuildingKind::UrbanVillage => (rng.random_range(5..=9), 1, rng.random_range(4..=8)),
            BuildingKind::Compound => (rng.random_range(18..=33), rng.random_range(2..=4), 4),
            BuildingKind::Dormitory => (rng.random_range(4..=7), 2, rng.random_range(8..=12)),
            BuildingKind::Commercial => (rng.random_range(2..=20), 1, rng.random_range(4..=10)),
            BuildingKind::Industrial => (rng.random_range(3..=6), 1, rng.random_range(2..=6)),
        };
        let road = rng.random_range(0..self.next_number.len());
        let number = self.next_number[road];
        self.next_number[road] += rng.random_range(1..=3);
        let b = Building {
            grid: self.grid,
            road: road as u32,
            number,
            block: (self.part.buildings.len() % 30) as u16 + 1,
            kind,
            floors,
            units,
            rooms_per_floor: per_floor,
            first_room: self.rooms_total,
            position: self.position(rng),
        };
        self.rooms_total += b.rooms();
        self.part.buildings.push(b);
        self.part.buildings.len() - 1
    }

    /// Fill rooms household by household, opening a new building when the current one is full;
    /// `shares`: the urban-village and compound shares of households (dormitories the rest).
    fn place_households(&mut self, residents: usize, shares: (f64, f64), rng: &mut ChaCha8Rng) {
        let (village, compound) = shares;
        let mut placed = 0usize;
        // The building being filled for each residential kind, and its next free room.
        let mut current: [Option<(usize, u32)>; 3] = [None; 3];
        while placed < residents {
            let u: f64 = rng.random();
            let kind = if u < village {
                BuildingKind::UrbanVillage
            } else if u < village + compound {
                BuildingKind::Compound
            } else {
                BuildingKind::Dormitory
            };
            let slot = kind as usize;
            let (b, next) = match current[slot] {
                Some((b, next)) if next < self.part.buildings[b].rooms() => (b, next),
                _ => (self.new_building(kind, rng), 0),
            };
            // About one room in ten stands empty.
            let skip = u32::from(rng.random::<f64>() < 0.1);
            let room_index = (next + skip).min(self.part.buildings[b].rooms() - 1);
            current[slot] = Some((b, room_index + 1));
            let room = self.part.buildings[b].first_room + room_index;
            let size = (household_size(kind, rng) as usize).min(residents - placed);
            self.part.household_room.push(room);
            self.part.household_sizes.push(size as u8);
            self.part.add_members(kind, size, rng);
            placed += size;
        }
    }

    /// Companies: shops and offices, industrial parks, and ground-floor businesses in homes.
    fn add_companies(&mut self, residents: usize, industrial_grid: bool, rng: &mut ChaCha8Rng) {
        let companies = ((residents as f64 * COMPANIES_PER_RESIDENT).round() as usize).max(1);
        let commercial = self.new_building(BuildingKind::Commercial, rng);
        let industrial = industrial_grid.then(|| self.new_building(BuildingKind::Industrial, rng));
        let part = &mut self.part;
        for _ in 0..companies {
            let u: f64 = rng.random();
            let b = match industrial {
                Some(ind) if u < 0.35 => ind,
                _ if u < 0.75 => commercial,
                _ => rng.random_range(0..part.buildings.len()),
            };
            let building = &part.buildings[b];
            let room = building.first_room + rng.random_range(0..building.rooms());
            let category = if u >= 0.75 || rng.random::<f64>() < 0.3 {
                2
            } else {
                1
            };
            let adults: Vec<u32> = (0..3)
                .map(|_| rng.random_range(0..part.ages.len() as u32))
                .collect();
            let legal = adults
                .iter()
                .copied()
                .find(|&r| part.ages[r as usize] >= 18)
                .unwrap_or(0);
            part.companies.push(Company {
                room,
                grid: self.grid,
                industry: rng.random_range(0..ids::INDUSTRIES.len()) as u8,
                category,
                legal_representative: legal,
                serial: 0,
            });
        }
    }
}

impl GridPart {
    /// A household's members: registered or from a migrant origin, a head, and the others by
    /// their place in the household (a collective one is working-age adults).
    fn add_members(&mut self, kind: BuildingKind, size: usize, rng: &mut ChaCha8Rng) {
        let registered_share = match kind {
            BuildingKind::Compound => 0.35,
            BuildingKind::UrbanVillage => 0.07,
            _ => 0.02,
        };
        let registered = rng.random::<f64>() < registered_share;
        let origin = if registered {
            u16::MAX
        } else {
            rng.random_range(0..ids::MIGRANT_ORIGIN_CODES.len()) as u16
        };
        let collective = kind == BuildingKind::Dormitory;
        let head_age: u8 = if collective {
            rng.random_range(18..=45)
        } else {
            rng.random_range(20..=62)
        };
        let head_male = rng.random::<f64>() < 0.55;
        for member in 0..size {
            let (age, male) = match (collective, member) {
                (true, _) => (rng.random_range(18..=50), rng.random::<f64>() < 0.6),
                (false, 0) => (head_age, head_male),
                (false, 1) => (
                    (head_age as i32 + rng.random_range(-4..=4)).clamp(18, 90) as u8,
                    !head_male,
                ),
                (false, 4) => (rng.random_range(55..=88), rng.random::<bool>()),
                (false, _) => (
                    rng.random_range(0..=(head_age.saturating_sub(20)).clamp(1, 17)),
                    rng.random::<bool>(),
                ),
            };
            self.ages.push(age);
            self.flags
                .push(if male { MALE } else { 0 } | if registered { REGISTERED } else { 0 });
            let year = CENSUS_YEAR - age as u16;
            self.birth_day.push(rng.random_range(0..days_in_year(year)));
            self.origin.push(origin);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn month_and_day_cover_leap_years() {
        assert_eq!(month_day(2024, 59), (2, 29));
        assert_eq!(month_day(2023, 59), (3, 1));
        assert_eq!(month_day(2023, 364), (12, 31));
    }

    #[test]
    fn address_reads_like_a_standard_address() {
        let a = Address {
            street: "西乡街道".into(),
            community: "固戍社区".into(),
            road: "兴华一路".into(),
            number: 12,
            building: 3,
            unit: 2,
            room: 503,
        };
        assert_eq!(
            a.to_string(),
            "广东省深圳市宝安区西乡街道固戍社区兴华一路12号3栋2单元503室"
        );
    }
}
