//! Synthetic identifiers for the twin: GB 11643 ID numbers, GB 32100 credit codes, and deterministic Chinese names.

use std::fmt;

/// Bao'an District's administrative division code (GB/T 2260).
pub const SHENZHEN_BAOAN_CODE: u32 = 440306;

/// County-level division codes (GB/T 2260) of places that send many migrants to Shenzhen.
///
/// Only codes still in force are listed: counties that were upgraded (e.g. 祁阳县 431121 → 祁阳市
/// 431181) changed code, and a superseded code would tie residents to a division that no
/// longer exists. Guangdong's own sending areas come first and fill about 40% of the
/// list, because intra-provincial migrants are the largest single group in Bao'an.
#[rustfmt::skip]
pub const MIGRANT_ORIGIN_CODES: &[u32] = &[
    // Guangdong — 梅州: 梅江区 梅县区 大埔县 五华县 兴宁市
    441402, 441403, 441422, 441424, 441481,
    // Guangdong — 汕头: 龙湖区 金平区 潮阳区 潮南区 澄海区
    440507, 440511, 440513, 440514, 440515,
    // Guangdong — 揭阳: 榕城区 揭东区 揭西县 惠来县 普宁市
    445202, 445203, 445222, 445224, 445281,
    // Guangdong — 湛江: 廉江市 雷州市 吴川市
    440881, 440882, 440883,
    // Guangdong — 茂名: 茂南区 电白区 高州市 化州市
    440902, 440904, 440981, 440982,
    // Guangdong — 汕尾 陆丰市, 河源 龙川县
    441581, 441622,
    // Hunan: 衡阳县 耒阳市 隆回县 邵东市 桂阳县 祁阳市 新化县 安化县
    430421, 430481, 430524, 430582, 431021, 431181, 431322, 430923,
    // Guangxi: 桂平市 博白县 陆川县 北流市 合浦县 藤县
    450881, 450923, 450922, 450981, 450521, 450422,
    // Jiangxi: 于都县 兴国县 宁都县 瑞金市 南康区
    360731, 360732, 360730, 360781, 360703,
    // Sichuan: 邻水县 南部县 仪陇县 渠县 大竹县
    511623, 511321, 511324, 511725, 511724,
    // Henan: 固始县 光山县 邓州市 鹿邑县
    411525, 411522, 411381, 411628,
    // Hubei: 麻城市 蕲春县 黄梅县 汉川市
    421181, 421126, 421127, 420984,
    // Guizhou: 威宁彝族回族苗族自治县 织金县
    520526, 520524,
    // Chongqing: 万州区 云阳县
    500101, 500235,
    // Fujian: 仙游县 上杭县
    350322, 350823,
];

/// Why an ID number or credit code was rejected.
///
/// Positions are 1-based because both standards number character positions from 1, so a
/// message can be checked directly against the standard's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdError {
    WrongLength {
        expected: usize,
        found: usize,
    },
    BadCharacter {
        position: usize,
        found: char,
        expected: &'static str,
    },
    InvalidBirthDate {
        year: u16,
        month: u8,
        day: u8,
    },
    CheckCharMismatch {
        scheme: &'static str,
        expected: char,
        found: char,
    },
}

impl fmt::Display for IdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdError::WrongLength { expected, found } => {
                write!(
                    f,
                    "wrong length: expected {expected} characters, found {found}"
                )
            }
            IdError::BadCharacter {
                position,
                found,
                expected,
            } => {
                write!(f, "character {position} is {found:?}, expected {expected}")
            }
            IdError::InvalidBirthDate { year, month, day } => write!(
                f,
                "birth date {year:04}-{month:02}-{day:02} does not exist, expected a real calendar date (YYYYMMDD)"
            ),
            IdError::CheckCharMismatch {
                scheme,
                expected,
                found,
            } => {
                write!(
                    f,
                    "{scheme} check character is {found:?}, expected {expected:?}"
                )
            }
        }
    }
}

impl std::error::Error for IdError {}

// ---------------------------------------------------------------------------
// GB 11643-1999 resident ID numbers
// ---------------------------------------------------------------------------

const ID_NUMBER_LEN: usize = 18;
const ID_NUMBER_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const ID_NUMBER_CHECK_CHARS: &[u8; 11] = b"10X98765432";

/// GB 11643 check character (`b'0'..=b'9'` or `b'X'`) for the first 17 digits.
///
/// # Panics
/// If any byte is not an ASCII digit.
pub fn id_number_check_char(first17: &[u8; 17]) -> u8 {
    let weighted_sum: u32 = first17
        .iter()
        .zip(ID_NUMBER_WEIGHTS)
        .map(|(&digit, weight)| {
            assert!(
                digit.is_ascii_digit(),
                "ID number body must be ASCII digits, got byte {digit:#04x}"
            );
            u32::from(digit - b'0') * weight
        })
        .sum();
    ID_NUMBER_CHECK_CHARS[(weighted_sum % 11) as usize]
}

/// Builds an 18-character ID number: area code, birth date, sequence (odd = male), check char.
///
/// # Panics
/// If `area_code` is not six digits, `sequence` exceeds 999, `year` is not four digits, or the
/// date does not exist — an ID number that cannot validate would poison everything built on it.
pub fn compose_id_number(area_code: u32, year: u16, month: u8, day: u8, sequence: u16) -> String {
    assert_six_digit_area_code(area_code);
    assert!(sequence <= 999, "sequence must be 0..=999, got {sequence}");
    assert!(
        (1000..=9999).contains(&year),
        "year must have four digits, got {year}"
    );
    assert!(
        is_real_date(year, month, day),
        "{year:04}-{month:02}-{day:02} is not a calendar date"
    );

    let body = format!("{area_code:06}{year:04}{month:02}{day:02}{sequence:03}");
    let first17: &[u8; 17] = body.as_bytes().try_into().expect("body is 17 ASCII digits");
    let check = id_number_check_char(first17);
    let mut id_number = body;
    id_number.push(char::from(check));
    id_number
}

/// Checks length, digits, birth date and check character of an 18-character ID number.
///
/// The check character must be an uppercase `X`, as the standard writes it; the twin never emits
/// lowercase, so a lowercase `x` signals data that did not come from [`compose_id_number`].
pub fn validate_id_number(s: &str) -> Result<(), IdError> {
    let found = s.chars().count();
    if found != ID_NUMBER_LEN {
        return Err(IdError::WrongLength {
            expected: ID_NUMBER_LEN,
            found,
        });
    }
    for (index, ch) in s.chars().enumerate() {
        let position = index + 1;
        if position == ID_NUMBER_LEN {
            if !(ch.is_ascii_digit() || ch == 'X') {
                return Err(IdError::BadCharacter {
                    position,
                    found: ch,
                    expected: "a decimal digit or 'X'",
                });
            }
        } else if !ch.is_ascii_digit() {
            return Err(IdError::BadCharacter {
                position,
                found: ch,
                expected: "a decimal digit",
            });
        }
    }

    let bytes = s.as_bytes();
    let year = parse_digits(&bytes[6..10]) as u16;
    let month = parse_digits(&bytes[10..12]) as u8;
    let day = parse_digits(&bytes[12..14]) as u8;
    if !is_real_date(year, month, day) {
        return Err(IdError::InvalidBirthDate { year, month, day });
    }

    let first17: &[u8; 17] = bytes[..17].try_into().expect("length checked above");
    let expected = id_number_check_char(first17);
    if bytes[17] != expected {
        return Err(IdError::CheckCharMismatch {
            scheme: "GB 11643",
            expected: char::from(expected),
            found: char::from(bytes[17]),
        });
    }
    Ok(())
}

fn parse_digits(digits: &[u8]) -> u32 {
    digits
        .iter()
        .fold(0, |value, &digit| value * 10 + u32::from(digit - b'0'))
}

fn is_leap_year(year: u16) -> bool {
    (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
}

fn is_real_date(year: u16, month: u8, day: u8) -> bool {
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(year) => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days_in_month).contains(&day)
}

fn assert_six_digit_area_code(area_code: u32) {
    assert!(
        (100_000..=999_999).contains(&area_code),
        "area code must have six digits, got {area_code}"
    );
}

// ---------------------------------------------------------------------------
// GB 32100-2015 unified social credit codes (embedding a GB 11714 organisation code)
// ---------------------------------------------------------------------------

const CREDIT_CODE_LEN: usize = 18;
/// I, O, S, V and Z are left out so codes survive being read aloud or handwritten.
const CREDIT_CHARSET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
const CREDIT_CODE_WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];
const ORG_CODE_WEIGHTS: [u32; 8] = [3, 7, 9, 10, 5, 8, 4, 2];
const ORG_CODE_BODY_LEN: usize = 8;

/// Number of distinct organisation-code bodies, hence of distinct credit codes per
/// (authority, category, area); serials are taken modulo this.
pub const CREDIT_SERIAL_SPACE: u64 = 31u64.pow(ORG_CODE_BODY_LEN as u32);

// Serials are scattered by an affine map so consecutive firms do not get visibly consecutive
// codes; the multiplier must be coprime to 31^8 (i.e. not a multiple of 31) to stay a bijection.
const BODY_MULTIPLIER: u64 = 602_214_076_019;
const BODY_OFFSET: u64 = 137_035_999_084;
const _: () = assert!(!BODY_MULTIPLIER.is_multiple_of(31) && BODY_MULTIPLIER < CREDIT_SERIAL_SPACE);
const _: () = assert!(BODY_OFFSET < CREDIT_SERIAL_SPACE);

fn credit_char_value(ch: u8) -> Option<u32> {
    CREDIT_CHARSET
        .iter()
        .position(|&c| c == ch)
        .map(|index| index as u32)
}

// GB 11714 values letters by alphabet position (A=10 … Z=35) even though some letters never
// appear, whereas GB 32100 values them by index in its 31-character set; the same letter
// therefore weighs differently in the two checks (e.g. 'M' is 22 here, 21 in GB 32100).
fn org_code_char_value(ch: u8) -> u32 {
    match ch {
        b'0'..=b'9' => u32::from(ch - b'0'),
        b'A'..=b'Z' => u32::from(ch - b'A') + 10,
        _ => unreachable!("organisation code characters are validated before weighting"),
    }
}

fn org_code_check_char(body: &[u8; ORG_CODE_BODY_LEN]) -> u8 {
    let weighted_sum: u32 = body
        .iter()
        .zip(ORG_CODE_WEIGHTS)
        .map(|(&ch, w)| org_code_char_value(ch) * w)
        .sum();
    match 11 - weighted_sum % 11 {
        10 => b'X',
        11 => b'0',
        digit => b'0' + digit as u8,
    }
}

fn credit_code_check_char(first17: &[u8]) -> u8 {
    let weighted_sum: u32 = first17
        .iter()
        .zip(CREDIT_CODE_WEIGHTS)
        .map(|(&ch, w)| {
            credit_char_value(ch).expect("credit code characters are validated before weighting")
                * w
        })
        .sum();
    CREDIT_CHARSET[((31 - weighted_sum % 31) % 31) as usize]
}

fn org_code_body(serial: u64) -> [u8; ORG_CODE_BODY_LEN] {
    let space = u128::from(CREDIT_SERIAL_SPACE);
    let scattered = (u128::from(serial % CREDIT_SERIAL_SPACE) * u128::from(BODY_MULTIPLIER)
        + u128::from(BODY_OFFSET))
        % space;
    let mut remaining = scattered as u64;
    let mut body = [0u8; ORG_CODE_BODY_LEN];
    for slot in body.iter_mut().rev() {
        *slot = CREDIT_CHARSET[(remaining % 31) as usize];
        remaining /= 31;
    }
    body
}

// Callers naturally write either `9` or `b'9'` for authority "9"; both encodings are disjoint
// (values 0..=30 vs ASCII 48..=89), so accepting both removes a silent-mistake trap.
fn credit_char_from_argument(argument: u8, what: &str) -> u8 {
    if let Some(&ch) = CREDIT_CHARSET.get(usize::from(argument)) {
        ch
    } else if CREDIT_CHARSET.contains(&argument) {
        argument
    } else {
        panic!("{what} must be a GB 32100 character or its value 0..=30, got {argument}")
    }
}

/// Builds an 18-character unified social credit code.
///
/// `authority` and `category` may be given as the code value (`9`, `1`) or its character
/// (`b'9'`, `b'1'`): authority 9 = market regulation; category 1 = enterprise,
/// 2 = individual business, 3 = farmers' cooperative. Distinct `serial`s below
/// [`CREDIT_SERIAL_SPACE`] give distinct codes for the same authority, category and area.
///
/// # Panics
/// If `authority` or `category` is outside the GB 32100 character set, or `area_code` is not six digits.
pub fn compose_credit_code(authority: u8, category: u8, area_code: u32, serial: u64) -> String {
    assert_six_digit_area_code(area_code);
    let mut code = Vec::with_capacity(CREDIT_CODE_LEN);
    code.push(credit_char_from_argument(
        authority,
        "registration authority",
    ));
    code.push(credit_char_from_argument(category, "entity category"));
    code.extend_from_slice(format!("{area_code:06}").as_bytes());
    let body = org_code_body(serial);
    code.extend_from_slice(&body);
    code.push(org_code_check_char(&body));
    code.push(credit_code_check_char(&code));
    String::from_utf8(code).expect("credit code charset is ASCII")
}

/// Checks length, character set, the embedded GB 11714 check and the GB 32100 check.
pub fn validate_credit_code(s: &str) -> Result<(), IdError> {
    let found = s.chars().count();
    if found != CREDIT_CODE_LEN {
        return Err(IdError::WrongLength {
            expected: CREDIT_CODE_LEN,
            found,
        });
    }
    for (index, ch) in s.chars().enumerate() {
        let position = index + 1;
        if (3..=8).contains(&position) {
            if !ch.is_ascii_digit() {
                return Err(IdError::BadCharacter {
                    position,
                    found: ch,
                    expected: "a decimal digit (administrative division code)",
                });
            }
        } else if !(ch.is_ascii() && CREDIT_CHARSET.contains(&(ch as u8))) {
            return Err(IdError::BadCharacter {
                position,
                found: ch,
                expected: "a digit or an uppercase letter other than I, O, S, V, Z",
            });
        }
    }

    let bytes = s.as_bytes();
    let body: &[u8; ORG_CODE_BODY_LEN] = bytes[8..16].try_into().expect("length checked above");
    let expected_org_check = org_code_check_char(body);
    if bytes[16] != expected_org_check {
        return Err(IdError::CheckCharMismatch {
            scheme: "GB 11714 organisation code",
            expected: char::from(expected_org_check),
            found: char::from(bytes[16]),
        });
    }

    let expected = credit_code_check_char(&bytes[..17]);
    if bytes[17] != expected {
        return Err(IdError::CheckCharMismatch {
            scheme: "GB 32100",
            expected: char::from(expected),
            found: char::from(bytes[17]),
        });
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Deterministic synthetic names
// ---------------------------------------------------------------------------

const GOLDEN_GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

fn splitmix64_mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

// Each generator gets its own domain so that e.g. person 7 and company 7 are unrelated.
const PERSON_NAME_DOMAIN: u64 = 0x0000_7065_7273_6F6E; // "person"
const COMPANY_NAME_DOMAIN: u64 = 0x0063_6F6D_7061_6E79; // "company"
const ROAD_NAME_DOMAIN: u64 = 0x0000_0000_726F_6164; // "road"

/// A splitmix64 stream seeded from (key, domain): the same key always yields the same draws.
struct KeyedDraws {
    state: u64,
}

impl KeyedDraws {
    fn new(key: u64, domain: u64) -> Self {
        Self {
            state: splitmix64_mix(key ^ splitmix64_mix(domain)),
        }
    }

    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GOLDEN_GAMMA);
        splitmix64_mix(self.state)
    }

    /// Uniform in `0..bound`; multiply-shift avoids the low-bit bias of `%`.
    fn below(&mut self, bound: usize) -> usize {
        ((u128::from(self.next_u64()) * bound as u128) >> 64) as usize
    }

    fn percent_chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    fn pick_char(&mut self, pool: &str) -> char {
        let index = self.below(pool.chars().count());
        pool.chars().nth(index).expect("index below pool length")
    }
}

/// Surnames with weights in units of 10,000 holders, approximating the Ministry of Public
/// Security's 2020 household-register counts. National rather than Guangdong weights are used
/// because most Bao'an residents are migrants from across the country.
#[rustfmt::skip]
const SURNAMES: &[(&str, u32)] = &[
    ("王", 10150), ("李", 10090), ("张", 9540), ("刘", 7210), ("陈", 6330),
    ("杨", 4620), ("黄", 3370), ("赵", 2860), ("吴", 2780), ("周", 2680),
    ("徐", 2020), ("孙", 1960), ("马", 1900), ("朱", 1810), ("胡", 1650),
    ("郭", 1580), ("何", 1490), ("林", 1420), ("高", 1410), ("罗", 1390),
    ("郑", 1240), ("梁", 1200), ("谢", 1010), ("宋", 990), ("唐", 980),
    ("许", 950), ("韩", 900), ("冯", 880), ("邓", 870), ("曹", 820),
    ("彭", 800), ("曾", 790), ("肖", 770), ("田", 730), ("董", 720),
    ("袁", 690), ("潘", 680), ("于", 680), ("蒋", 680), ("蔡", 670),
    ("余", 650), ("杜", 620), ("叶", 610), ("程", 600), ("苏", 590),
    ("魏", 580), ("吕", 570), ("丁", 560), ("任", 550), ("沈", 540),
    ("姚", 520), ("卢", 500), ("姜", 490), ("崔", 480), ("钟", 470),
    ("谭", 460), ("陆", 450), ("汪", 440), ("范", 430), ("金", 420),
    ("石", 410), ("廖", 400), ("贾", 390), ("夏", 380), ("韦", 370),
    ("付", 360), ("方", 350), ("白", 340), ("邹", 330), ("孟", 320),
    ("熊", 310), ("秦", 300), ("邱", 290), ("江", 280), ("尹", 270),
    ("薛", 260), ("闫", 250), ("段", 240), ("雷", 230), ("侯", 225),
    ("龙", 220), ("史", 215), ("陶", 210), ("黎", 205), ("贺", 200),
    ("顾", 195), ("毛", 190), ("郝", 185), ("龚", 180), ("邵", 175),
    ("万", 170), ("钱", 165), ("覃", 160), ("武", 155), ("戴", 150),
    ("孔", 145), ("汤", 140), ("庞", 135), ("樊", 130), ("兰", 125),
    ("殷", 120), ("施", 115), ("欧阳", 110),
];

const SURNAME_WEIGHT_TOTAL: u32 = {
    let mut total = 0;
    let mut index = 0;
    while index < SURNAMES.len() {
        total += SURNAMES[index].1;
        index += 1;
    }
    total
};

const MALE_GIVEN_NAME_CHARS: &str = "伟强磊军勇杰涛斌超明刚平辉鹏华飞鑫波宇浩凯健俊帆帅旭宁龙林阳东峰建文志国海兵亮成新振晨博毅彬锋鸣翔坤昊轩睿航泽然哲豪瑞诚梓子皓铭钧嘉恒宏伦森力山岩天威武永庆德福贵生发金荣胜利光耀春锐楠彪康骏晖炜家辰承乐良松柏江洪清政兴旺安全远达奇义仁智信忠宗祥卫";
const FEMALE_GIVEN_NAME_CHARS: &str = "芳娜敏静丽艳娟霞秀玲桂英燕萍红琴云莲洁梅琳素雪慧倩婷颖露瑶怡婉欣佳悦璐晶妍茜秋月莉萱雅蕾薇菲凤珍玉兰琼翠淑惠巧美娇媛环爱妹馨晓晴诗梦涵琪蓉珊彤冰菊荷香青岚蓓嫣黛姗丹婕娅姝姣妮琦瑾璇琬若依思语紫柔舒苗萌蕊芸芬菁芝莹滢灵凌可心沁悠宛曼嘉欢歆羽冉";
const SINGLE_CHAR_GIVEN_NAME_PERCENT: usize = 20;

fn pick_surname(draws: &mut KeyedDraws) -> &'static str {
    let mut ticket = draws.below(SURNAME_WEIGHT_TOTAL as usize) as u32;
    for &(surname, weight) in SURNAMES {
        if ticket < weight {
            return surname;
        }
        ticket -= weight;
    }
    unreachable!("ticket is below the summed weights")
}

/// A synthetic full name, the same for the same `key` and sex.
///
/// The surname depends only on `key`, so a household can share a key-derived surname
/// across sexes if the caller reuses the key.
pub fn person_name(key: u64, male: bool) -> String {
    let mut draws = KeyedDraws::new(key, PERSON_NAME_DOMAIN);
    let surname = pick_surname(&mut draws);
    let given_len = if draws.percent_chance(SINGLE_CHAR_GIVEN_NAME_PERCENT) {
        1
    } else {
        2
    };
    let pool = if male {
        MALE_GIVEN_NAME_CHARS
    } else {
        FEMALE_GIVEN_NAME_CHARS
    };
    let mut name = String::from(surname);
    for _ in 0..given_len {
        name.push(draws.pick_char(pool));
    }
    name
}

/// Industry words as they appear in registered Shenzhen company names.
pub const INDUSTRIES: &[&str] = &[
    "电子",
    "贸易",
    "科技",
    "物流",
    "餐饮管理",
    "五金制品",
    "服装",
    "塑胶制品",
    "建筑工程",
    "物业管理",
    "模具",
    "实业",
];

const TRADE_NAME_CHARS: &str = "华鑫宏兴盛达恒丰源泰隆昌通发利富嘉佳和新创安邦信德顺祥瑞永联金银海天宇星光明科博汇晟鼎润晖腾飞美亿万力诚凯豪友益众合航远广建成志伟辉荣胜锦东南中大立拓展峰旭俊";

// Longer suffixes only where registrants actually use them: "电子科技有限公司" is everywhere,
// "物业管理科技有限公司" is not.
fn company_suffix(industry_word: &str, draws: &mut KeyedDraws) -> &'static str {
    match industry_word {
        "电子" | "物流" | "模具" if draws.percent_chance(40) => "科技有限公司",
        "实业" | "贸易" if draws.percent_chance(25) => "发展有限公司",
        _ => "有限公司",
    }
}

/// A synthetic Shenzhen company name such as "深圳市鑫达电子科技有限公司".
///
/// # Panics
/// If `industry` is not an index into [`INDUSTRIES`].
pub fn company_name(key: u64, industry: usize) -> String {
    let industry_word = INDUSTRIES[industry];
    let mut draws = KeyedDraws::new(key, COMPANY_NAME_DOMAIN);
    let first = draws.pick_char(TRADE_NAME_CHARS);
    let second = loop {
        let candidate = draws.pick_char(TRADE_NAME_CHARS);
        if candidate != first {
            break candidate;
        }
    };
    let suffix = company_suffix(industry_word, &mut draws);
    format!("深圳市{first}{second}{industry_word}{suffix}")
}

#[rustfmt::skip]
const ROAD_STEMS: &[&str] = &[
    "兴华", "宝民", "创业", "海滨", "前进", "新安", "建安", "裕安", "翻身", "文化",
    "工业", "学府", "公园", "人民", "中心", "富华", "宝源", "德政", "宝城", "新湖",
    "碧海", "上川", "宝兴", "兴业", "创新", "科技", "长安", "和平", "安乐", "育才",
    "民主", "团结", "建设", "振兴", "朝阳", "光明", "湖滨", "沿江", "环城", "怀德",
    "福海", "凤凰", "新桥", "洪田", "西乡", "福永", "沙井", "松岗", "石岩", "航城",
    "固戍", "灵芝", "洪浪", "留仙", "宝华", "龙井", "金海", "银田", "桃源", "荔园",
];
const ROAD_ORDINALS: &str = "一二三四五六";

/// A synthetic road name such as "兴华一路", "创业路" or "海滨大道".
pub fn road_name(key: u64) -> String {
    let mut draws = KeyedDraws::new(key, ROAD_NAME_DOMAIN);
    let stem = ROAD_STEMS[draws.below(ROAD_STEMS.len())];
    let suffix = match draws.below(100) {
        0..60 => "路",
        60..80 => "街",
        80..88 => "大道",
        _ => "巷",
    };
    // Numbered series ("宝民一路…宝民六路") are common for roads and lanes, rare for streets,
    // and unheard of for avenues.
    let ordinal_percent = match suffix {
        "路" => 35,
        "巷" => 40,
        "街" => 10,
        _ => 0,
    };
    if draws.percent_chance(ordinal_percent) {
        let ordinal = draws.pick_char(ROAD_ORDINALS);
        format!("{stem}{ordinal}{suffix}")
    } else {
        format!("{stem}{suffix}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{HashMap, HashSet};

    fn with_check_char(first17: &str) -> String {
        let bytes: &[u8; 17] = first17.as_bytes().try_into().unwrap();
        format!("{first17}{}", char::from(id_number_check_char(bytes)))
    }

    #[test]
    fn published_gb11643_example_validates() {
        assert_eq!(id_number_check_char(b"11010519491231002"), b'X');
        assert_eq!(validate_id_number("11010519491231002X"), Ok(()));
    }

    #[test]
    fn composed_id_numbers_validate() {
        let mut composed = 0;
        for (i, &area) in MIGRANT_ORIGIN_CODES
            .iter()
            .chain([&SHENZHEN_BAOAN_CODE])
            .enumerate()
        {
            for year in (1940..=2012).step_by(3) {
                for month in 1..=12u8 {
                    for day in [1u8, 15, 28] {
                        let sequence = ((i * 37
                            + usize::from(year)
                            + usize::from(month) * 11
                            + usize::from(day))
                            % 1000) as u16;
                        let id = compose_id_number(area, year, month, day, sequence);
                        assert_eq!(id.len(), 18);
                        assert_eq!(validate_id_number(&id), Ok(()), "{id}");
                        assert_eq!(&id[14..17], format!("{sequence:03}"));
                        composed += 1;
                    }
                }
            }
        }
        assert!(composed > 50_000);
        for sequence in 0..=999 {
            let id = compose_id_number(SHENZHEN_BAOAN_CODE, 2000, 2, 29, sequence);
            assert_eq!(validate_id_number(&id), Ok(()), "{id}");
            let digit17 = id.as_bytes()[16] - b'0';
            assert_eq!(
                digit17 % 2 == 1,
                sequence % 2 == 1,
                "sex digit follows sequence parity"
            );
        }
        assert_eq!(
            validate_id_number(&compose_id_number(440306, 2024, 2, 29, 1)),
            Ok(())
        );
    }

    #[test]
    fn any_single_changed_character_fails_id_validation() {
        let id = compose_id_number(441402, 1988, 7, 16, 123);
        for position in 0..18 {
            for replacement in "0123456789X".chars() {
                if id.as_bytes()[position] == replacement as u8 {
                    continue;
                }
                let mut altered = id.clone().into_bytes();
                altered[position] = replacement as u8;
                let altered = String::from_utf8(altered).unwrap();
                assert!(
                    validate_id_number(&altered).is_err(),
                    "{altered} should fail"
                );
            }
        }
    }

    #[test]
    fn invalid_birth_dates_fail() {
        for date in [
            "19990229", "19000229", "20230431", "19991301", "19990001", "19990100", "19990132",
        ] {
            let id = with_check_char(&format!("440306{date}123"));
            assert!(
                matches!(
                    validate_id_number(&id),
                    Err(IdError::InvalidBirthDate { .. })
                ),
                "{id}"
            );
        }
        assert_eq!(
            validate_id_number(&with_check_char("44030620000229123")),
            Ok(())
        );
    }

    #[test]
    fn malformed_id_numbers_report_what_was_expected() {
        assert_eq!(
            validate_id_number("11010519491231002"),
            Err(IdError::WrongLength {
                expected: 18,
                found: 17
            })
        );
        assert_eq!(
            validate_id_number("11010519491231002x"),
            Err(IdError::BadCharacter {
                position: 18,
                found: 'x',
                expected: "a decimal digit or 'X'"
            })
        );
        assert!(matches!(
            validate_id_number("1101051949123100２X"),
            Err(IdError::BadCharacter { position: 17, .. })
        ));
        assert_eq!(
            validate_id_number("110105194912310021"),
            Err(IdError::CheckCharMismatch {
                scheme: "GB 11643",
                expected: 'X',
                found: '1'
            })
        );
        for error in [
            validate_id_number("1").unwrap_err(),
            validate_id_number("11010519491231002x").unwrap_err(),
            validate_id_number(&with_check_char("44030619990229123")).unwrap_err(),
            validate_id_number("110105194912310021").unwrap_err(),
        ] {
            assert!(error.to_string().contains("expected"), "{error}");
        }
    }

    #[test]
    fn known_credit_code_validates() {
        // Checked by hand first: GB 11714 body "M000100Y" weighs 22·3 + 1·5 + 34·2 = 139,
        // 11 − 139 mod 11 = 4 (matches position 17); the GB 32100 check then gives '3'.
        assert_eq!(validate_credit_code("91350100M000100Y43"), Ok(()));
    }

    #[test]
    fn composed_credit_codes_validate_and_are_distinct() {
        let mut seen = HashSet::new();
        let serials = (0..20_000u64)
            .chain((0..2_000).map(|i| CREDIT_SERIAL_SPACE - 1 - i))
            .chain((1..=2_000).map(|i| 20_000 + i * 424_242_421));
        for serial in serials {
            let code = compose_credit_code(9, 1, SHENZHEN_BAOAN_CODE, serial);
            assert_eq!(code.len(), 18);
            assert!(code.starts_with("91440306"), "{code}");
            assert_eq!(validate_credit_code(&code), Ok(()), "{code}");
            assert!(seen.insert(code), "duplicate code for serial {serial}");
        }
        for (authority, category) in [(b'9', b'2'), (b'9', b'3'), (5, 1), (b'Y', b'1')] {
            assert_eq!(
                validate_credit_code(&compose_credit_code(authority, category, 440300, 77)),
                Ok(())
            );
        }
        assert_eq!(
            compose_credit_code(9, 1, 440306, 5),
            compose_credit_code(b'9', b'1', 440306, 5)
        );
    }

    #[test]
    fn org_code_check_covers_x_and_zero_cases() {
        let mut check_chars = HashSet::new();
        for serial in 0..5_000 {
            let code = compose_credit_code(9, 1, 440306, serial);
            check_chars.insert(code.as_bytes()[16]);
        }
        assert!(check_chars.contains(&b'X') && check_chars.contains(&b'0'));
    }

    #[test]
    fn any_single_changed_character_fails_credit_validation() {
        let code = compose_credit_code(9, 1, SHENZHEN_BAOAN_CODE, 123_456);
        for position in 0..18 {
            for &replacement in CREDIT_CHARSET {
                if code.as_bytes()[position] == replacement {
                    continue;
                }
                let mut altered = code.clone().into_bytes();
                altered[position] = replacement;
                let altered = String::from_utf8(altered).unwrap();
                assert!(
                    validate_credit_code(&altered).is_err(),
                    "{altered} should fail"
                );
            }
        }
        assert!(matches!(
            validate_credit_code("91350100M000100Y4I"),
            Err(IdError::BadCharacter {
                position: 18,
                found: 'I',
                ..
            })
        ));
        assert!(matches!(
            validate_credit_code("91350100M000100Y53"),
            Err(IdError::CheckCharMismatch {
                scheme: "GB 11714 organisation code",
                expected: '4',
                found: '5'
            })
        ));
        assert!(matches!(
            validate_credit_code("9135"),
            Err(IdError::WrongLength {
                expected: 18,
                found: 4
            })
        ));
    }

    #[test]
    fn migrant_origin_codes_are_distinct_six_digit_and_outside_shenzhen() {
        let unique: HashSet<u32> = MIGRANT_ORIGIN_CODES.iter().copied().collect();
        assert_eq!(unique.len(), MIGRANT_ORIGIN_CODES.len());
        assert!((55..=70).contains(&MIGRANT_ORIGIN_CODES.len()));
        for &code in MIGRANT_ORIGIN_CODES {
            assert!((100_000..=999_999).contains(&code), "{code}");
            assert_ne!(
                code / 100,
                SHENZHEN_BAOAN_CODE / 100,
                "{code} is in Shenzhen"
            );
        }
    }

    #[test]
    fn name_pools_have_no_duplicates() {
        for pool in [
            MALE_GIVEN_NAME_CHARS,
            FEMALE_GIVEN_NAME_CHARS,
            TRADE_NAME_CHARS,
        ] {
            let unique: HashSet<char> = pool.chars().collect();
            assert_eq!(unique.len(), pool.chars().count());
        }
        assert!((110..=130).contains(&MALE_GIVEN_NAME_CHARS.chars().count()));
        assert!((110..=130).contains(&FEMALE_GIVEN_NAME_CHARS.chars().count()));
        let surnames: HashSet<&str> = SURNAMES.iter().map(|&(s, _)| s).collect();
        assert_eq!(surnames.len(), SURNAMES.len());
        assert!((95..=110).contains(&SURNAMES.len()));
        let stems: HashSet<&str> = ROAD_STEMS.iter().copied().collect();
        assert_eq!(stems.len(), ROAD_STEMS.len());
    }

    #[test]
    fn names_are_non_empty_deterministic_and_varied() {
        let mut people = HashSet::new();
        let mut companies = HashSet::new();
        let mut roads = HashSet::new();
        for key in 0..1_000u64 {
            let person = person_name(key, key % 2 == 0);
            let company = company_name(key, (key as usize) % INDUSTRIES.len());
            let road = road_name(key);
            assert!(
                person.chars().count() >= 2 && person.chars().count() <= 4,
                "{person}"
            );
            assert!(
                company.starts_with("深圳市") && company.ends_with("有限公司"),
                "{company}"
            );
            assert!(road.chars().count() >= 3, "{road}");
            assert_eq!(person, person_name(key, key % 2 == 0));
            assert_eq!(
                company,
                company_name(key, (key as usize) % INDUSTRIES.len())
            );
            assert_eq!(road, road_name(key));
            people.insert(person);
            companies.insert(company);
            roads.insert(road);
        }
        assert!(people.len() > 950, "{}", people.len());
        assert!(companies.len() > 950, "{}", companies.len());
        assert!(roads.len() > 300, "{}", roads.len());
    }

    #[test]
    fn given_names_follow_sex_pools_and_length_split() {
        let mut single = 0;
        let draws = 20_000u64;
        for key in 0..draws {
            for male in [true, false] {
                let name = person_name(key, male);
                let surname = SURNAMES
                    .iter()
                    .map(|&(s, _)| s)
                    .filter(|s| name.starts_with(s))
                    .max_by_key(|s| s.len())
                    .unwrap();
                let given = &name[surname.len()..];
                let pool = if male {
                    MALE_GIVEN_NAME_CHARS
                } else {
                    FEMALE_GIVEN_NAME_CHARS
                };
                assert!(given.chars().all(|c| pool.contains(c)), "{name}");
                if male && given.chars().count() == 1 {
                    single += 1;
                }
            }
        }
        let single_share = single as f64 / draws as f64;
        assert!((0.17..0.23).contains(&single_share), "{single_share}");
    }

    #[test]
    fn surnames_follow_table_weights() {
        let draws = 100_000u64;
        let mut counts: HashMap<&str, u64> = HashMap::new();
        for key in 0..draws {
            let name = person_name(key, key % 2 == 1);
            let surname = SURNAMES
                .iter()
                .map(|&(s, _)| s)
                .filter(|s| name.starts_with(s))
                .max_by_key(|s| s.len())
                .unwrap();
            *counts.entry(surname).or_default() += 1;
        }
        let mut ranked: Vec<(&str, u64)> = counts.iter().map(|(&s, &n)| (s, n)).collect();
        ranked.sort_by_key(|&(_, count)| std::cmp::Reverse(count));
        let top_five: Vec<&str> = ranked.iter().take(5).map(|&(s, _)| s).collect();
        for surname in ["王", "李", "张"] {
            assert!(top_five.contains(&surname), "{surname} not in {top_five:?}");
        }
        for &(surname, weight) in &SURNAMES[..10] {
            let expected = draws as f64 * f64::from(weight) / f64::from(SURNAME_WEIGHT_TOTAL);
            let observed = counts[surname] as f64;
            assert!(
                (observed - expected).abs() < 0.15 * expected,
                "{surname}: {observed} vs {expected}"
            );
        }
    }
}
