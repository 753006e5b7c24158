//! Durations as configuration writes them: a whole number and a unit (`30s`, `5m`, `2h`, `14d`).

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A duration read from `"<n><unit>"` with unit `s`, `m`, `h` or `d`; a bare integer is seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Span(pub Duration);

impl Span {
    pub fn seconds(self) -> u64 {
        self.0.as_secs()
    }

    pub fn parse(text: &str) -> Result<Span, String> {
        let t = text.trim();
        let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (number, unit) = t.split_at(split);
        let n: u64 = number
            .parse()
            .map_err(|_| format!("{text:?} is not a duration: write a whole number and a unit, like 30s, 5m, 2h or 14d"))?;
        let factor = match unit.trim() {
            "" | "s" => 1,
            "m" => 60,
            "h" => 3_600,
            "d" => 86_400,
            other => {
                return Err(format!(
                    "{text:?} has the unknown unit {other:?}: use s, m, h or d"
                ))
            }
        };
        Ok(Span(Duration::from_secs(n * factor)))
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0.as_secs();
        match s {
            0 => write!(f, "0s"),
            _ if s.is_multiple_of(86_400) => write!(f, "{}d", s / 86_400),
            _ if s.is_multiple_of(3_600) => write!(f, "{}h", s / 3_600),
            _ if s.is_multiple_of(60) => write!(f, "{}m", s / 60),
            _ => write!(f, "{s}s"),
        }
    }
}

impl Serialize for Span {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl serde::de::Visitor<'_> for Visit {
            type Value = Span;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str(
                    r#"a duration such as "30s", "5m", "2h", "14d" or a whole number of seconds"#,
                )
            }
            fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<Span, E> {
                Ok(Span(Duration::from_secs(n)))
            }
            fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<Span, E> {
                u64::try_from(n)
                    .map(|n| Span(Duration::from_secs(n)))
                    .map_err(|_| {
                        E::custom(format!("{n} seconds is negative; durations are 0 or more"))
                    })
            }
            fn visit_str<E: serde::de::Error>(self, t: &str) -> Result<Span, E> {
                Span::parse(t).map_err(E::custom)
            }
        }
        d.deserialize_any(Visit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_prints_the_largest_exact_one() {
        assert_eq!(Span::parse("14d").unwrap().seconds(), 1_209_600);
        assert_eq!(Span::parse("5m").unwrap().seconds(), 300);
        assert_eq!(Span::parse("90").unwrap().seconds(), 90);
        assert_eq!(Span::parse("90s").unwrap().to_string(), "90s");
        assert_eq!(Span::parse("120m").unwrap().to_string(), "2h");
        assert!(Span::parse("5 weeks").unwrap_err().contains("unit"));
        assert!(Span::parse("m").is_err());
    }
}
