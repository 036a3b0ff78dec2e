//! Check characters of resident ID numbers (GB 11643) and unified social credit codes
//! (GB 32100, with the embedded GB 11714 organisation code), implemented here because the stack
//! depends on nothing in the harness.

use thiserror::Error;

/// Why an ID number or credit code fails its standard. Positions are 1-based, as the standards
/// number them.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CheckError {
    #[error("wrong length: expected {expected} characters, found {found}")]
    WrongLength { expected: usize, found: usize },
    #[error("character {position} is {found:?}, expected {expected}")]
    BadCharacter {
        position: usize,
        found: char,
        expected: &'static str,
    },
    #[error("birth date {year:04}-{month:02}-{day:02} does not exist, expected a calendar date")]
    InvalidBirthDate { year: u16, month: u8, day: u8 },
    #[error("{scheme} check character is {found:?}, expected {expected:?}")]
    CheckCharMismatch {
        scheme: &'static str,
        expected: char,
        found: char,
    },
}

const ID_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const ID_CHECK_CHARS: &[u8; 11] = b"10X98765432";

/// GB 11643 check character for 17 ASCII digits.
pub fn id_number_check_char(first17: &[u8; 17]) -> u8 {
    let sum: u32 = first17
        .iter()
        .zip(ID_WEIGHTS)
        .map(|(&d, w)| u32::from(d.wrapping_sub(b'0')) * w)
        .sum();
    ID_CHECK_CHARS[(sum % 11) as usize]
}

pub(crate) fn is_real_date(year: u16, month: u8, day: u8) -> bool {
    let leap = (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400);
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&day)
}

/// Checks shape (17 digits and a digit or `X`), birth date and check character of an
/// 18-character ID number.
pub fn validate_id_number(s: &str) -> Result<(), CheckError> {
    let bytes = id_shape(s)?;
    let digits = |r: std::ops::Range<usize>| {
        bytes[r]
            .iter()
            .fold(0u32, |v, &d| v * 10 + u32::from(d - b'0'))
    };
    let (year, month, day) = (
        digits(6..10) as u16,
        digits(10..12) as u8,
        digits(12..14) as u8,
    );
    if !is_real_date(year, month, day) {
        return Err(CheckError::InvalidBirthDate { year, month, day });
    }
    let expected = id_number_check_char(bytes[..17].try_into().expect("length checked"));
    if bytes[17] != expected {
        return Err(CheckError::CheckCharMismatch {
            scheme: "GB 11643",
            expected: char::from(expected),
            found: char::from(bytes[17]),
        });
    }
    Ok(())
}

/// The 18 bytes of an ID number that has the right shape, whatever its check character says.
pub(crate) fn id_shape(s: &str) -> Result<&[u8; 18], CheckError> {
    let found = s.chars().count();
    if found != 18 {
        return Err(CheckError::WrongLength {
            expected: 18,
            found,
        });
    }
    for (i, ch) in s.chars().enumerate() {
        let ok = ch.is_ascii_digit() || (i == 17 && ch == 'X');
        if !ok {
            return Err(CheckError::BadCharacter {
                position: i + 1,
                found: ch,
                expected: if i == 17 {
                    "a decimal digit or 'X'"
                } else {
                    "a decimal digit"
                },
            });
        }
    }
    Ok(s.as_bytes().try_into().expect("18 ASCII characters"))
}

/// I, O, S, V and Z are not used so codes survive being read aloud.
const CREDIT_CHARSET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
const CREDIT_WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];
const ORG_WEIGHTS: [u32; 8] = [3, 7, 9, 10, 5, 8, 4, 2];

fn credit_value(ch: u8) -> Option<u32> {
    CREDIT_CHARSET
        .iter()
        .position(|&c| c == ch)
        .map(|i| i as u32)
}

/// GB 11714 weighs letters by alphabet position (A = 10), unlike GB 32100 which uses the index
/// in its own 31-character set, so the two checks value the same letter differently.
fn org_check_char(body: &[u8]) -> u8 {
    let sum: u32 = body
        .iter()
        .zip(ORG_WEIGHTS)
        .map(|(&ch, w)| {
            let v = match ch {
                b'0'..=b'9' => u32::from(ch - b'0'),
                _ => u32::from(ch - b'A') + 10,
            };
            v * w
        })
        .sum();
    match 11 - sum % 11 {
        10 => b'X',
        11 => b'0',
        d => b'0' + d as u8,
    }
}

fn credit_check_char(first17: &[u8]) -> u8 {
    let sum: u32 = first17
        .iter()
        .zip(CREDIT_WEIGHTS)
        .map(|(&ch, w)| credit_value(ch).expect("validated before weighting") * w)
        .sum();
    CREDIT_CHARSET[((31 - sum % 31) % 31) as usize]
}

/// Checks length, character set, the embedded GB 11714 organisation-code check (position 17)
/// and the GB 32100 check (position 18) of a unified social credit code.
pub fn validate_credit_code(s: &str) -> Result<(), CheckError> {
    let found = s.chars().count();
    if found != 18 {
        return Err(CheckError::WrongLength {
            expected: 18,
            found,
        });
    }
    for (i, ch) in s.chars().enumerate() {
        let position = i + 1;
        if (3..=8).contains(&position) {
            if !ch.is_ascii_digit() {
                return Err(CheckError::BadCharacter {
                    position,
                    found: ch,
                    expected: "a decimal digit (administrative division code)",
                });
            }
        } else if !(ch.is_ascii() && CREDIT_CHARSET.contains(&(ch as u8))) {
            return Err(CheckError::BadCharacter {
                position,
                found: ch,
                expected: "a digit or an uppercase letter other than I, O, S, V, Z",
            });
        }
    }
    let bytes = s.as_bytes();
    let org_expected = org_check_char(&bytes[8..16]);
    if bytes[16] != org_expected {
        return Err(CheckError::CheckCharMismatch {
            scheme: "GB 11714 organisation code",
            expected: char::from(org_expected),
            found: char::from(bytes[16]),
        });
    }
    let expected = credit_check_char(&bytes[..17]);
    if bytes[17] != expected {
        return Err(CheckError::CheckCharMismatch {
            scheme: "GB 32100",
            expected: char::from(expected),
            found: char::from(bytes[17]),
        });
    }
    Ok(())
}

/// Completes 16 credit-code characters with both check characters; for tests and the
/// throughput example, which need valid codes without the harness.
pub fn complete_credit_code(first16: &str) -> Option<String> {
    let bytes = first16.as_bytes();
    if bytes.len() != 16 || !bytes.iter().all(|&b| credit_value(b).is_some()) {
        return None;
    }
    let mut code = bytes.to_vec();
    code.push(org_check_char(&bytes[8..16]));
    code.push(credit_check_char(&code));
    String::from_utf8(code).ok()
}

/// Completes 17 ID digits with the GB 11643 check character; for tests and examples.
pub fn complete_id_number(first17: &str) -> Option<String> {
    let bytes: &[u8; 17] = first17.as_bytes().try_into().ok()?;
    if !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut id = first17.to_owned();
    id.push(char::from(id_number_check_char(bytes)));
    Some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_id_numbers_validate_and_altered_ones_fail() {
        // 11010519491231002X is the standard's own worked example.
        assert_eq!(validate_id_number("11010519491231002X"), Ok(()));
        assert_eq!(
            validate_id_number("110105194912310021"),
            Err(CheckError::CheckCharMismatch {
                scheme: "GB 11643",
                expected: 'X',
                found: '1'
            })
        );
        assert!(matches!(
            validate_id_number("11010519491231002x"),
            Err(CheckError::BadCharacter { position: 18, .. })
        ));
        assert!(matches!(
            validate_id_number("110105194902300021"),
            Err(CheckError::InvalidBirthDate {
                month: 2,
                day: 30,
                ..
            })
        ));
        assert!(matches!(
            validate_id_number("1101051949"),
            Err(CheckError::WrongLength {
                expected: 18,
                found: 10
            })
        ));
        let id = complete_id_number("44030619900101123").unwrap();
        assert_eq!(validate_id_number(&id), Ok(()));
        // Every single-digit change in the body is caught by the check character.
        for position in 0..17 {
            for digit in b'0'..=b'9' {
                let mut altered = id.clone().into_bytes();
                if altered[position] == digit {
                    continue;
                }
                altered[position] = digit;
                let altered = String::from_utf8(altered).unwrap();
                assert!(validate_id_number(&altered).is_err(), "{altered}");
            }
        }
    }

    #[test]
    fn known_credit_code_validates_and_altered_ones_fail() {
        assert_eq!(validate_credit_code("91350100M000100Y43"), Ok(()));
        assert!(matches!(
            validate_credit_code("91350100M000100Y53"),
            Err(CheckError::CheckCharMismatch {
                scheme: "GB 11714 organisation code",
                expected: '4',
                found: '5'
            })
        ));
        assert!(matches!(
            validate_credit_code("91350100M000100Y44"),
            Err(CheckError::CheckCharMismatch {
                scheme: "GB 32100",
                expected: '3',
                ..
            })
        ));
        assert!(matches!(
            validate_credit_code("91350100M000100Y4I"),
            Err(CheckError::BadCharacter {
                position: 18,
                found: 'I',
                ..
            })
        ));
        assert_eq!(
            complete_credit_code("91350100M000100Y").as_deref(),
            Some("91350100M000100Y43")
        );
        let code = complete_credit_code("9144030600ABCDEF").unwrap();
        for position in 0..18 {
            for &replacement in CREDIT_CHARSET {
                let mut altered = code.clone().into_bytes();
                if altered[position] == replacement {
                    continue;
                }
                altered[position] = replacement;
                let altered = String::from_utf8(altered).unwrap();
                assert!(validate_credit_code(&altered).is_err(), "{altered}");
            }
        }
    }

    #[test]
    fn error_messages_say_what_was_expected() {
        for e in [
            validate_id_number("1").unwrap_err(),
            validate_id_number("110105194912310021").unwrap_err(),
            validate_credit_code("91350100M000100Y4I").unwrap_err(),
        ] {
            assert!(e.to_string().contains("expected"), "{e}");
        }
    }
}
