//! Department records of people and companies, and the field comparisons and Fellegi–Sunter
//! weights that decide whether two records describe the same person or company.

use serde::{Deserialize, Serialize};

use crate::checks::{id_shape, validate_credit_code, validate_id_number};
use crate::text::{fold_char, str_within_one_edit, within_one_edit};

pub use baoan_api::blocks::{BirthDate, CompanyRecord, Feed, PersonRecord, Record, RecordKey, Sex};

/// An 18-character identifier (ID number or credit code) after folding, with its check result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Ident {
    pub bytes: [u8; 18],
    pub valid: bool,
}

/// What a record's identifier field held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum IdentField {
    Missing,
    /// Not 18 identifier characters at all: ignored for matching.
    Malformed,
    Parsed(Ident),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IdentScheme {
    IdNumber,
    CreditCode,
}

impl IdentField {
    pub fn parse(raw: Option<&str>, scheme: IdentScheme) -> IdentField {
        let Some(raw) = raw else {
            return IdentField::Missing;
        };
        let mut buf = [0u8; 18];
        let mut len = 0;
        for c in raw.chars().filter_map(fold_char) {
            if !c.is_ascii() || len == 18 {
                return IdentField::Malformed;
            }
            buf[len] = c as u8;
            len += 1;
        }
        match len {
            0 => IdentField::Missing,
            18 => {
                let text = std::str::from_utf8(&buf).expect("ASCII");
                let (shape_ok, valid) = match scheme {
                    IdentScheme::IdNumber => {
                        (id_shape(text).is_ok(), validate_id_number(text).is_ok())
                    }
                    IdentScheme::CreditCode => {
                        let valid = validate_credit_code(text).is_ok();
                        let shape = text.bytes().all(|b| b.is_ascii_alphanumeric());
                        (shape, valid)
                    }
                };
                if shape_ok {
                    IdentField::Parsed(Ident { bytes: buf, valid })
                } else {
                    IdentField::Malformed
                }
            }
            _ => IdentField::Malformed,
        }
    }

    pub fn parsed(self) -> Option<Ident> {
        match self {
            IdentField::Parsed(ident) => Some(ident),
            _ => None,
        }
    }

    /// The identifier when it passes its check.
    pub fn valid(self) -> Option<Ident> {
        self.parsed().filter(|i| i.valid)
    }

    /// Present and failing its check (or malformed): never enough on its own to link.
    pub fn fails_check(self) -> bool {
        match self {
            IdentField::Missing => false,
            IdentField::Malformed => true,
            IdentField::Parsed(i) => !i.valid,
        }
    }
}

impl Ident {
    /// Birth date encoded in a valid ID number.
    pub fn birth_yyyymmdd(&self) -> u32 {
        self.bytes[6..14]
            .iter()
            .fold(0, |v, &d| v * 10 + u32::from(d - b'0'))
    }

    /// Sex encoded in a valid ID number: odd 17th digit for men.
    pub fn sex(&self) -> Sex {
        if (self.bytes[16] - b'0') % 2 == 1 {
            Sex::Male
        } else {
            Sex::Female
        }
    }
}

// ------------------------------------------------------------------------------------------------
// Field agreement levels
// ------------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NameAgreement {
    Exact,
    OneEdit,
    /// Same first character (the surname for most Han names), otherwise different.
    SameSurname,
    Different,
    Missing,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdAgreement {
    Equal,
    OneCharDifferent,
    Transposition,
    Different,
    Missing,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldAgreement {
    Agree,
    Disagree,
    Missing,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AddressAgreement {
    SameRoom,
    SameBuilding,
    Different,
    Missing,
}

pub(crate) fn compare_names(a: &str, b: &str) -> NameAgreement {
    if a.is_empty() || b.is_empty() {
        return NameAgreement::Missing;
    }
    match str_within_one_edit(a, b) {
        Some(0) => NameAgreement::Exact,
        Some(_) => NameAgreement::OneEdit,
        None if a.chars().next() == b.chars().next() => NameAgreement::SameSurname,
        None => NameAgreement::Different,
    }
}

pub(crate) fn compare_idents(a: IdentField, b: IdentField) -> IdAgreement {
    let (Some(x), Some(y)) = (a.parsed(), b.parsed()) else {
        return IdAgreement::Missing;
    };
    if x.bytes == y.bytes {
        return IdAgreement::Equal;
    }
    // Both check characters catch every single substitution and every swap of neighbours, so
    // two valid identifiers that differ are two people (or firms), however close they look.
    if x.valid && y.valid {
        return IdAgreement::Different;
    }
    let differing: Vec<usize> = (0..18).filter(|&i| x.bytes[i] != y.bytes[i]).collect();
    match differing.as_slice() {
        [_] => IdAgreement::OneCharDifferent,
        &[i, j] if j == i + 1 && within_one_edit(&x.bytes, &y.bytes) == Some(1) => {
            IdAgreement::Transposition
        }
        _ => IdAgreement::Different,
    }
}

pub(crate) fn compare_values<T: PartialEq>(a: Option<T>, b: Option<T>) -> FieldAgreement {
    match (a, b) {
        (Some(x), Some(y)) if x == y => FieldAgreement::Agree,
        (Some(_), Some(_)) => FieldAgreement::Disagree,
        _ => FieldAgreement::Missing,
    }
}

// ------------------------------------------------------------------------------------------------
// Weights
// ------------------------------------------------------------------------------------------------

/// Fellegi–Sunter log-likelihood weights for people, in centibits: 100 × log2(m / u), where m is
/// the chance of the outcome when two records are the same person and u when they are not. A
/// missing field weighs 0. The estimates (the m and u in each comment) are priors for Bao'an's
/// feeds; they are meant to be re-estimated (e.g. by EM) against labelled pairs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonWeights {
    /// m 0.92, u 1/2000 (same full name by chance among candidate pairs).
    pub name_exact: i32,
    /// m 0.05 (a clerk's one-character slip), u 0.002.
    pub name_one_edit: i32,
    /// m 0.02, u 0.06 (shared surnames are common).
    pub name_same_surname: i32,
    /// m 0.01, u 0.94.
    pub name_different: i32,
    /// m 0.96, u 2.2e-7 (one in 4.5 million).
    pub id_equal: i32,
    /// m 0.025 (one mistyped digit), u 1e-6. Only arises when one side fails its check.
    pub id_one_char: i32,
    /// m 0.01 (two neighbours swapped), u 5e-7.
    pub id_transposition: i32,
    /// m 0.005, u ≈ 1.
    pub id_different: i32,
    /// m 0.97, u 1/21,900 (a day among 60 years).
    pub birth_agree: i32,
    /// m 0.03, u ≈ 1.
    pub birth_disagree: i32,
    /// m 0.99, u 0.5.
    pub sex_agree: i32,
    /// m 0.01, u 0.5.
    pub sex_disagree: i32,
    /// m 0.55 (people move, feeds lag), u 2e-6 (one room among ~1.5 million, three occupants).
    pub same_room: i32,
    /// m 0.15, u 1e-3.
    pub same_building: i32,
    /// m 0.30, u ≈ 1.
    pub address_different: i32,
    /// m 0.6, u ~2.6e-4 (shared family phones cap it).
    pub phone_agree: i32,
    /// m 0.4, u ≈ 1.
    pub phone_disagree: i32,
}

impl Default for PersonWeights {
    fn default() -> Self {
        PersonWeights {
            name_exact: 1085,
            name_one_edit: 464,
            name_same_surname: -158,
            name_different: -655,
            id_equal: 2206,
            id_one_char: 1461,
            id_transposition: 1429,
            id_different: -764,
            birth_agree: 1437,
            birth_disagree: -506,
            sex_agree: 99,
            sex_disagree: -564,
            same_room: 1807,
            same_building: 723,
            address_different: -174,
            phone_agree: 1117,
            phone_disagree: -132,
        }
    }
}

/// Fellegi–Sunter weights for companies, in centibits (see [`PersonWeights`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompanyWeights {
    /// m 0.97, u 1e-8.
    pub code_equal: i32,
    /// m 0.02, u 3e-9.
    pub code_one_char: i32,
    /// m 0.01, u 1.5e-9.
    pub code_transposition: i32,
    /// m 0.004, u ≈ 1.
    pub code_different: i32,
    /// m 0.9, u 1e-4.
    pub name_exact: i32,
    /// m 0.06, u 5e-4.
    pub name_one_edit: i32,
    /// m 0.04, u ≈ 1.
    pub name_different: i32,
    /// m 0.8, u 4.5e-3 (one person represents several firms).
    pub representative_equal: i32,
    /// m 0.2, u ≈ 1.
    pub representative_different: i32,
    /// m 0.7, u 1.4e-3 (business centres host many firms per room).
    pub same_room: i32,
    /// m 0.2, u 1.2e-2.
    pub same_building: i32,
    /// m 0.1, u ≈ 1.
    pub address_different: i32,
}

impl Default for CompanyWeights {
    fn default() -> Self {
        CompanyWeights {
            code_equal: 2653,
            code_one_char: 2267,
            code_transposition: 2267,
            code_different: -797,
            name_exact: 1314,
            name_one_edit: 691,
            name_different: -464,
            representative_equal: 747,
            representative_different: -232,
            same_room: 897,
            same_building: 406,
            address_different: -332,
        }
    }
}

/// The per-field outcome and total weight of one compared pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairScore {
    pub name: NameAgreement,
    pub id: IdAgreement,
    pub birth: FieldAgreement,
    pub sex: FieldAgreement,
    pub address: AddressAgreement,
    pub phone: FieldAgreement,
    /// Either record's identifier fails its check digit (or is malformed).
    pub id_fails_check: bool,
    pub total_cb: i32,
}

impl PairScore {
    /// The rule that an identifier failing its check never links two records on its own: such
    /// a pair may link only if the names agree (exactly or one character off) and either the
    /// birth date or the place (same room or building) agrees too. For companies the second
    /// condition is the place or the legal representative.
    pub fn has_evidence_beyond_id(&self) -> bool {
        let names = matches!(self.name, NameAgreement::Exact | NameAgreement::OneEdit);
        let place = matches!(
            self.address,
            AddressAgreement::SameRoom | AddressAgreement::SameBuilding
        );
        names && (self.birth == FieldAgreement::Agree || place)
    }
}

pub(crate) fn person_name_weight(w: &PersonWeights, a: NameAgreement) -> i32 {
    match a {
        NameAgreement::Exact => w.name_exact,
        NameAgreement::OneEdit => w.name_one_edit,
        NameAgreement::SameSurname => w.name_same_surname,
        NameAgreement::Different => w.name_different,
        NameAgreement::Missing => 0,
    }
}

pub(crate) fn person_id_weight(w: &PersonWeights, a: IdAgreement) -> i32 {
    match a {
        IdAgreement::Equal => w.id_equal,
        IdAgreement::OneCharDifferent => w.id_one_char,
        IdAgreement::Transposition => w.id_transposition,
        IdAgreement::Different => w.id_different,
        IdAgreement::Missing => 0,
    }
}

pub(crate) fn field_weight(a: FieldAgreement, agree: i32, disagree: i32) -> i32 {
    match a {
        FieldAgreement::Agree => agree,
        FieldAgreement::Disagree => disagree,
        FieldAgreement::Missing => 0,
    }
}

pub(crate) fn address_weight(a: AddressAgreement, room: i32, building: i32, different: i32) -> i32 {
    match a {
        AddressAgreement::SameRoom => room,
        AddressAgreement::SameBuilding => building,
        AddressAgreement::Different => different,
        AddressAgreement::Missing => 0,
    }
}

pub(crate) fn company_name_weight(w: &CompanyWeights, a: NameAgreement) -> i32 {
    match a {
        NameAgreement::Exact => w.name_exact,
        NameAgreement::OneEdit => w.name_one_edit,
        NameAgreement::SameSurname | NameAgreement::Different => w.name_different,
        NameAgreement::Missing => 0,
    }
}

pub(crate) fn company_code_weight(w: &CompanyWeights, a: IdAgreement) -> i32 {
    match a {
        IdAgreement::Equal => w.code_equal,
        IdAgreement::OneCharDifferent => w.code_one_char,
        IdAgreement::Transposition => w.code_transposition,
        IdAgreement::Different => w.code_different,
        IdAgreement::Missing => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::complete_id_number;

    fn id(s: &str) -> IdentField {
        IdentField::parse(Some(s), IdentScheme::IdNumber)
    }

    #[test]
    fn id_fields_parse_fold_and_check() {
        let valid = complete_id_number("44030619900101123").unwrap();
        let IdentField::Parsed(ident) = id(&valid) else {
            panic!("valid id should parse")
        };
        assert!(ident.valid);
        assert_eq!(ident.birth_yyyymmdd(), 19900101);
        assert_eq!(ident.sex(), Sex::Male);
        // Full-width digits and spaces fold to the same identifier.
        let wide: String = valid
            .chars()
            .map(|c| char::from_u32(c as u32 + 0xFEE0).unwrap())
            .collect();
        assert_eq!(id(&format!(" {wide} ")), id(&valid));
        let mut typo = valid.clone().into_bytes();
        typo[10] = if typo[10] == b'0' { b'1' } else { b'0' };
        let typo = String::from_utf8(typo).unwrap();
        assert!(id(&typo).fails_check());
        assert!(id(&typo).parsed().is_some());
        assert_eq!(id("12345"), IdentField::Malformed);
        assert!(id("12345").fails_check());
        assert_eq!(
            IdentField::parse(None, IdentScheme::IdNumber),
            IdentField::Missing
        );
        assert_eq!(id("  "), IdentField::Missing);
        assert!(!IdentField::Missing.fails_check());
    }

    #[test]
    fn id_comparison_tells_typos_from_different_people() {
        let a = id("44030619900101123X");
        let b = id("44030619900101124X");
        let c = id("44030619900110123X");
        let d = id("44030619851231456X");
        assert_eq!(compare_idents(a, a), IdAgreement::Equal);
        assert_eq!(compare_idents(a, b), IdAgreement::OneCharDifferent);
        assert_eq!(compare_idents(a, c), IdAgreement::Transposition);
        assert_eq!(compare_idents(a, d), IdAgreement::Different);
        assert_eq!(compare_idents(a, IdentField::Missing), IdAgreement::Missing);
    }

    #[test]
    fn name_comparison_levels() {
        assert_eq!(compare_names("王伟", "王伟"), NameAgreement::Exact);
        assert_eq!(compare_names("王伟", "王玮"), NameAgreement::OneEdit);
        assert_eq!(compare_names("王伟", "王伟民"), NameAgreement::OneEdit);
        assert_eq!(compare_names("王伟", "王小明"), NameAgreement::SameSurname);
        assert_eq!(compare_names("王伟", "李娜"), NameAgreement::Different);
        assert_eq!(compare_names("", "李娜"), NameAgreement::Missing);
    }

    #[test]
    fn default_weights_follow_their_documented_probabilities() {
        let cb = |m: f64, u: f64| (100.0 * (m / u).log2()).round() as i32;
        let w = PersonWeights::default();
        assert_eq!(w.name_exact, cb(0.92, 1.0 / 2000.0));
        assert_eq!(w.id_equal, cb(0.96, 2.2e-7));
        assert_eq!(w.birth_agree, cb(0.97, 1.0 / 21_900.0));
        assert_eq!(w.same_room, cb(0.55, 2e-6));
        assert_eq!(w.id_different, cb(0.005, 1.0));
        let c = CompanyWeights::default();
        assert_eq!(c.code_equal, cb(0.97, 1e-8));
        assert_eq!(c.name_exact, cb(0.9, 1e-4));
    }
}
