//! Durations and times of day as scenario files write them: "90s", "15m", "24h", "2d", "08:30".

use std::fmt;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A span of simulated time in milliseconds. Written as a number with a unit (`500ms`, `30s`,
/// `15m`, `2h`, `1d`), as a clock time counted from the start of the run (`08:30`, `26:00`), or
/// as a bare integer of seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Dur(pub u64);

impl Dur {
    pub const fn secs(s: u64) -> Self {
        Dur(s * 1000)
    }
    pub const fn mins(m: u64) -> Self {
        Dur(m * 60_000)
    }
    pub const fn hours(h: u64) -> Self {
        Dur(h * 3_600_000)
    }
    pub fn ms(self) -> u64 {
        self.0
    }
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1000.0
    }

    pub fn parse(text: &str) -> Result<Dur, String> {
        let t = text.trim();
        let expected = "expected a duration such as \"500ms\", \"30s\", \"15m\", \"2h\", \"1d\" or a time \"08:30\"";
        if t.contains(':') {
            let parts: Vec<&str> = t.split(':').collect();
            if !(2..=3).contains(&parts.len())
                || parts
                    .iter()
                    .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
            {
                return Err(format!("{expected}, got {text:?}"));
            }
            let num = |p: &str| {
                p.parse::<u64>()
                    .map_err(|_| format!("{expected}, got {text:?}"))
            };
            let (h, m) = (num(parts[0])?, num(parts[1])?);
            let s = if parts.len() == 3 { num(parts[2])? } else { 0 };
            if m >= 60 || s >= 60 || h > 24 * 366 {
                return Err(format!(
                    "{text:?}: minutes and seconds must be below 60 and hours at most {}",
                    24 * 366
                ));
            }
            return Ok(Dur(((h * 60 + m) * 60 + s) * 1000));
        }
        let split = t
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(t.len());
        let (number, unit) = t.split_at(split);
        let value: f64 = number
            .parse()
            .map_err(|_| format!("{expected}, got {text:?}"))?;
        let unit_ms = match unit.trim() {
            "ms" => 1.0,
            "s" | "" => 1000.0,
            "m" | "min" => 60_000.0,
            "h" => 3_600_000.0,
            "d" => 86_400_000.0,
            other => return Err(format!("unknown unit {other:?} in {text:?}; {expected}")),
        };
        let ms = value * unit_ms;
        if !ms.is_finite() || ms > 400.0 * 86_400_000.0 {
            return Err(format!("{text:?} is longer than 400 days"));
        }
        if (ms - ms.round()).abs() > 1e-6 {
            return Err(format!("{text:?} is not a whole number of milliseconds"));
        }
        Ok(Dur(ms.round() as u64))
    }
}

impl fmt::Display for Dur {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0;
        for (unit, size) in [
            ("d", 86_400_000),
            ("h", 3_600_000),
            ("m", 60_000),
            ("s", 1000),
        ] {
            if ms >= size && ms.is_multiple_of(size) {
                return write!(f, "{}{unit}", ms / size);
            }
        }
        if ms == 0 {
            write!(f, "0s")
        } else {
            write!(f, "{ms}ms")
        }
    }
}

impl Serialize for Dur {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Dur;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "a duration string such as \"30s\", \"2h\", \"08:30\", or whole seconds",
                )
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Dur, E> {
                Dur::parse(v).map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Dur, E> {
                if v < 0 {
                    return Err(E::custom(format!(
                        "expected a non-negative number of seconds, got {v}"
                    )));
                }
                Dur::parse(&format!("{v}s")).map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Dur, E> {
                Dur::parse(&format!("{v}s")).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_and_clock_times_parse_to_milliseconds() {
        assert_eq!(Dur::parse("500ms"), Ok(Dur(500)));
        assert_eq!(Dur::parse("30s"), Ok(Dur::secs(30)));
        assert_eq!(Dur::parse("1.5h"), Ok(Dur::mins(90)));
        assert_eq!(Dur::parse("1d"), Ok(Dur::hours(24)));
        assert_eq!(Dur::parse("08:30"), Ok(Dur::mins(8 * 60 + 30)));
        assert_eq!(Dur::parse("26:00:30"), Ok(Dur(26 * 3_600_000 + 30_000)));
    }

    #[test]
    fn nonsense_is_refused_with_what_was_expected() {
        for bad in [
            "", "h", "3 weeks", "08:60", "1:2:3:4", "-5s", "0.0005s", "9999d",
        ] {
            let err = Dur::parse(bad).unwrap_err();
            assert!(!err.is_empty(), "{bad}");
        }
        assert!(Dur::parse("3w").unwrap_err().contains("unknown unit"));
    }

    #[test]
    fn display_round_trips() {
        for ms in [0, 1, 999, 1000, 90_000, 3_600_000, 86_400_000, 86_401_000] {
            let d = Dur(ms);
            assert_eq!(Dur::parse(&d.to_string()), Ok(d));
        }
    }
}
