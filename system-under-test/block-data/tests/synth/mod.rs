//! A small synthetic district and department feeds with realistic faults, for the property
//! tests and the throughput example. Everything is made up; ID numbers and credit codes carry
//! valid check characters unless a fault breaks them on purpose.

#![allow(dead_code)]

use baoan_block_data::AddressLibrary;
use baoan_block_data::checks::{complete_credit_code, complete_id_number};
use baoan_block_data::person::{BirthDate, CompanyRecord, Feed, PersonRecord, Record, Sex};

/// SplitMix64: tiny, seedable, good enough for test data.
#[derive(Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
    pub fn chance(&mut self, p: f64) -> bool {
        ((self.next_u64() >> 11) as f64 / (1u64 << 53) as f64) < p
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }
}

const STREETS: [&str; 4] = ["新安", "西乡", "福永", "沙井"];
const COMMUNITY_STEMS: [&str; 12] = [
    "海裕",
    "上合",
    "固戍",
    "翻身",
    "灵芝",
    "洪浪",
    "流塘",
    "黄田",
    "凤凰",
    "桥头",
    "白石厦",
    "和平",
];
const ROAD_STEMS: [&str; 16] = [
    "兴华", "创业", "宝民", "前进", "新湖", "建安", "裕安", "广深", "众里", "公园", "裕华", "金海",
    "甲岸", "新城", "龙井", "福中",
];
const ROAD_SUFFIXES: [&str; 5] = ["一路", "二路", "三路", "大道", "街"];
const SURNAMES: [&str; 16] = [
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭",
];
const GIVEN: [&str; 24] = [
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明",
    "超", "秀英", "霞", "平", "刚", "桂英", "建华", "志强",
];
const INDUSTRIES: [&str; 6] = ["贸易", "科技", "物流", "餐饮", "电子", "五金"];

#[derive(Debug, Clone)]
pub struct RoomAddress {
    pub id: u32,
    pub street: String,
    pub community: String,
    pub road: String,
    pub former_road: Option<String>,
    pub number: u16,
    pub block: u16,
    pub unit: u8,
    pub room: u16,
}

pub struct World {
    pub library: AddressLibrary,
    pub rooms: Vec<RoomAddress>,
}

/// A district of `streets` × 3 communities × 4 roads × `buildings_per_road` buildings, each of
/// 1–2 units × 6 floors × 4 rooms.
pub fn world(streets: usize, buildings_per_road: u16) -> World {
    let mut lib = AddressLibrary::new();
    let mut rooms = Vec::new();
    let (mut community_id, mut road_id, mut building_id, mut room_id) = (0u32, 0u32, 0u32, 0u32);
    let mut road_index = 0usize;
    for (s, street) in STREETS.iter().take(streets).enumerate() {
        let street_name = format!("{street}街道");
        lib.add_street(s as u32, &street_name).unwrap();
        for c in 0..3 {
            let community_name = format!(
                "{}社区",
                COMMUNITY_STEMS[(s * 3 + c) % COMMUNITY_STEMS.len()]
            );
            lib.add_community(community_id, s as u32, &community_name)
                .unwrap();
            for _ in 0..4 {
                let road_name = format!(
                    "{}{}",
                    ROAD_STEMS[road_index % ROAD_STEMS.len()],
                    ROAD_SUFFIXES[(road_index / ROAD_STEMS.len()) % ROAD_SUFFIXES.len()]
                );
                let former = road_index
                    .is_multiple_of(4)
                    .then(|| format!("{}旧街", ROAD_STEMS[road_index % ROAD_STEMS.len()]));
                let formers: Vec<&str> = former.iter().map(String::as_str).collect();
                lib.add_road(road_id, community_id, &road_name, &formers)
                    .unwrap();
                for b in 0..buildings_per_road {
                    let number = b * 2 + 1;
                    let block = b % 3 + 1;
                    let grid = community_id * 4 + u32::from(b % 4);
                    lib.add_building(building_id, road_id, number, block, grid)
                        .unwrap();
                    let units = if b % 3 == 0 { 2 } else { 1 };
                    for unit in 1..=units {
                        for floor in 1..=6u16 {
                            for r in 1..=4u16 {
                                let room = floor * 100 + r;
                                lib.add_room(room_id, building_id, unit, room).unwrap();
                                rooms.push(RoomAddress {
                                    id: room_id,
                                    street: street_name.clone(),
                                    community: community_name.clone(),
                                    road: road_name.clone(),
                                    former_road: former.clone(),
                                    number,
                                    block,
                                    unit,
                                    room,
                                });
                                room_id += 1;
                            }
                        }
                    }
                    building_id += 1;
                }
                road_id += 1;
                road_index += 1;
            }
            community_id += 1;
        }
    }
    World {
        library: lib,
        rooms,
    }
}

/// Fault rates for generated records (fractions of records).
#[derive(Debug, Clone, Copy)]
pub struct Faults {
    pub id_typo: f64,
    pub name_typo: f64,
    pub full_width: f64,
    pub missing_community: f64,
    pub road_typo: f64,
    pub former_road_name: f64,
    pub chinese_numerals: f64,
    pub wrong_building: f64,
    pub moved: f64,
}

impl Faults {
    /// Rates of the order seen in department feeds.
    pub const REALISTIC: Faults = Faults {
        id_typo: 0.02,
        name_typo: 0.02,
        full_width: 0.05,
        missing_community: 0.15,
        road_typo: 0.03,
        former_road_name: 0.05,
        chinese_numerals: 0.03,
        wrong_building: 0.01,
        moved: 0.05,
    };
}

fn wide(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                char::from_u32(c as u32 + 0xFEE0).unwrap()
            } else {
                c
            }
        })
        .collect()
}

fn chinese(n: u32) -> String {
    const D: [char; 10] = ['零', '一', '二', '三', '四', '五', '六', '七', '八', '九'];
    n.to_string()
        .chars()
        .map(|c| D[c.to_digit(10).unwrap() as usize])
        .collect()
}

fn address_text(rng: &mut Rng, a: &RoomAddress, f: &Faults) -> String {
    let prefix = *rng.pick(&[
        "广东省深圳市宝安区",
        "深圳市宝安区",
        "深圳宝安",
        "宝安区",
        "",
    ]);
    let street = if rng.chance(0.3) {
        a.street.trim_end_matches("街道").to_string()
    } else {
        a.street.clone()
    };
    let community = if rng.chance(f.missing_community) {
        String::new()
    } else {
        a.community.clone()
    };
    let mut road = a.road.clone();
    if let Some(former) = &a.former_road
        && rng.chance(f.former_road_name * 4.0)
    {
        road = former.clone();
    } else if rng.chance(f.road_typo) {
        let mut chars: Vec<char> = road.chars().collect();
        chars[1] = *rng.pick(&['化', '花', '划', '发']);
        road = chars.into_iter().collect();
    }
    let block = if rng.chance(f.wrong_building) {
        a.block + 20
    } else {
        a.block
    };
    let tail = if rng.chance(f.chinese_numerals) {
        format!(
            "{}号{}栋{}单元{}室",
            a.number,
            chinese(block.into()),
            chinese(a.unit.into()),
            chinese(a.room.into())
        )
    } else {
        format!("{}号{}栋{}单元{}室", a.number, block, a.unit, a.room)
    };
    let text = format!("{prefix}{street}{community}{road}{tail}");
    if rng.chance(f.full_width) {
        wide(&text)
    } else {
        text
    }
}

fn typo_id(rng: &mut Rng, id: &str) -> String {
    let mut b = id.as_bytes().to_vec();
    let at = 6 + rng.below(11) as usize;
    b[at] = if b[at] == b'9' { b'0' } else { b[at] + 1 };
    String::from_utf8(b).unwrap()
}

/// Generated records with the true entity of each (person index, or `u64::MAX / 2 + company`).
pub struct Feeds {
    pub records: Vec<Record>,
    pub truth: Vec<u64>,
}

/// About `persons` people with 1–4 records each, and 15% as many companies with 1–2 records.
pub fn feeds(world: &World, persons: usize, seed: u64, f: &Faults) -> Feeds {
    let mut rng = Rng::new(seed);
    let mut records = Vec::new();
    let mut truth = Vec::new();
    let mut refs = [0u64; 5];
    let mut next_ref = |feed: Feed| {
        let slot = Feed::ALL.iter().position(|&x| x == feed).unwrap();
        refs[slot] += 1;
        refs[slot]
    };
    for p in 0..persons {
        let surname = *rng.pick(&SURNAMES);
        let given = *rng.pick(&GIVEN);
        let given2 = if rng.chance(0.6) {
            *rng.pick(&GIVEN)
        } else {
            ""
        };
        let name = format!("{surname}{given}{given2}");
        let year = 1950 + rng.below(55) as u32;
        let (month, day) = (1 + rng.below(12) as u32, 1 + rng.below(28) as u32);
        let area = if rng.chance(0.3) {
            440306
        } else {
            *rng.pick(&[441402u32, 430421, 450881, 360731, 511623])
        };
        let male = rng.chance(0.5);
        let seq = (rng.below(500) * 2 + u64::from(male)) as u32;
        let id = complete_id_number(&format!("{area}{year:04}{month:02}{day:02}{seq:03}")).unwrap();
        let home = rng.pick(&world.rooms).clone();
        let birth = BirthDate {
            year: year as u16,
            month: month as u8,
            day: day as u8,
        };
        let sex = if male { Sex::Male } else { Sex::Female };
        let phone = format!("13{:09}", rng.below(1_000_000_000));
        let mut feeds_for_person: Vec<Feed> = Vec::new();
        if rng.chance(0.3) {
            feeds_for_person.push(Feed::HouseholdRegistration);
        }
        if rng.chance(0.7) {
            feeds_for_person.push(Feed::RentalRegistration);
        }
        if rng.chance(0.5) {
            feeds_for_person.push(Feed::UtilityAccounts);
        }
        if rng.chance(0.4) || feeds_for_person.is_empty() {
            feeds_for_person.push(Feed::InspectorVisit);
        }
        for feed in feeds_for_person {
            let room = if rng.chance(f.moved) {
                rng.pick(&world.rooms).clone()
            } else {
                home.clone()
            };
            let mut rec_name = name.clone();
            if rng.chance(f.name_typo) {
                let mut chars: Vec<char> = rec_name.chars().collect();
                let last = chars.len() - 1;
                chars[last] = *rng.pick(&['玮', '炜', '娅', '敏']);
                rec_name = chars.into_iter().collect();
            }
            let id_number = match feed {
                Feed::UtilityAccounts => None,
                _ if rng.chance(f.id_typo) => Some(typo_id(&mut rng, &id)),
                _ => Some(id.clone()),
            };
            let with_details = matches!(feed, Feed::HouseholdRegistration | Feed::InspectorVisit);
            records.push(Record::Person(PersonRecord {
                feed,
                record_ref: next_ref(feed),
                name: rec_name,
                id_number,
                sex: with_details.then_some(sex),
                birth_date: with_details.then_some(birth),
                address: address_text(&mut rng, &room, f),
                phone: matches!(feed, Feed::UtilityAccounts | Feed::RentalRegistration)
                    .then(|| phone.clone()),
                observed_at_ms: rng.below(86_400_000) as i64,
            }));
            truth.push(p as u64);
        }
    }
    let companies = (persons as f64 * 0.15).round() as usize;
    for c in 0..companies {
        let name = format!(
            "深圳市{}{}{}{}有限公司",
            rng.pick(&ROAD_STEMS),
            rng.pick(&GIVEN),
            rng.pick(&GIVEN),
            rng.pick(&INDUSTRIES)
        );
        let code = complete_credit_code(&format!("91440306{:08}", 10_000_000 + c * 37)).unwrap();
        let site = rng.pick(&world.rooms).clone();
        for feed in [Feed::BusinessRegistry, Feed::InspectorVisit] {
            if feed == Feed::InspectorVisit && !rng.chance(0.5) {
                continue;
            }
            let credit_code = if rng.chance(f.id_typo) {
                let mut b = code.clone().into_bytes();
                b[12] = if b[12] == b'9' { b'0' } else { b[12] + 1 };
                Some(String::from_utf8(b).unwrap())
            } else {
                Some(code.clone())
            };
            records.push(Record::Company(CompanyRecord {
                feed,
                record_ref: next_ref(feed),
                name: name.clone(),
                credit_code,
                legal_representative_id: None,
                registered_address: address_text(&mut rng, &site, f),
                observed_at_ms: rng.below(86_400_000) as i64,
            }));
            truth.push(u64::MAX / 2 + c as u64);
        }
    }
    Feeds { records, truth }
}
