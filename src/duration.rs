//! `Duration`: a span of time written the way Kubernetes users write it (`5m`, `90s`, `1h30m`).

use std::fmt;
use std::str::FromStr;

/// A span of time read from `gitops.yaml` or a flag: one or more `<number><unit>` terms,
/// units `ms`, `s`, `m`, `h`, `d` (Go's `time.ParseDuration` without fractions, plus days),
/// or a bare `0`. Shown back in the same shape, largest unit first (`1h30m`, `0s`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Duration(std::time::Duration);

/// Text that is not a duration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not a duration: {reason} (write it like `30s`, `5m` or `1h30m`)")]
pub struct DurationError {
    text: String,
    reason: &'static str,
}

impl Duration {
    /// The zero span (`0s`).
    pub const ZERO: Self = Self(std::time::Duration::ZERO);

    /// A span of whole minutes.
    pub const fn from_mins(mins: u64) -> Self {
        Self(std::time::Duration::from_secs(mins * 60))
    }

    /// The span as the standard library's type, for sleeps and deadlines.
    pub const fn get(self) -> std::time::Duration {
        self.0
    }
}

impl From<std::time::Duration> for Duration {
    fn from(value: std::time::Duration) -> Self {
        Self(value)
    }
}

/// Milliseconds per unit, longest suffix first so `ms` is not read as `m` followed by junk.
const UNITS: [(&str, u128); 5] = [
    ("ms", 1),
    ("s", 1_000),
    ("m", 60_000),
    ("h", 3_600_000),
    ("d", 86_400_000),
];

impl FromStr for Duration {
    type Err = DurationError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let fail = |reason| DurationError {
            text: text.to_string(),
            reason,
        };
        if text == "0" {
            return Ok(Self::ZERO);
        }
        if text.is_empty() {
            return Err(fail("it is empty"));
        }
        let mut millis: u128 = 0;
        let mut rest = text;
        while !rest.is_empty() {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return Err(fail("expected a number"));
            }
            let number: u128 = rest[..digits]
                .parse()
                .map_err(|_| fail("the number is too large"))?;
            rest = &rest[digits..];
            let (unit, per) = UNITS
                .iter()
                .find(|(unit, _)| rest.starts_with(unit))
                .ok_or_else(|| {
                    fail("expected a unit (`ms`, `s`, `m`, `h` or `d`) after the number")
                })?;
            rest = &rest[unit.len()..];
            millis = number
                .checked_mul(*per)
                .and_then(|m| millis.checked_add(m))
                .ok_or_else(|| fail("it is too long"))?;
        }
        let millis = u64::try_from(millis).map_err(|_| fail("it is too long"))?;
        Ok(Self(std::time::Duration::from_millis(millis)))
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut millis = self.0.as_millis();
        if millis == 0 {
            return f.write_str("0s");
        }
        // Days are left out on the way back: `48h` reads better than `2d` in a plan.
        for (unit, per) in [("h", 3_600_000), ("m", 60_000), ("s", 1_000), ("ms", 1)] {
            if millis >= per {
                write!(f, "{}{unit}", millis / per)?;
                millis %= per;
            }
        }
        Ok(())
    }
}

impl<'de> serde::Deserialize<'de> for Duration {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Duration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration like `30s`, `5m` or `1h30m`")
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Duration, E> {
                text.parse().map_err(E::custom)
            }
            // A bare `0` is read by YAML as a number; it is the one number that needs no unit.
            fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<Duration, E> {
                if n == 0 {
                    Ok(Duration::ZERO)
                } else {
                    Err(E::custom(format!(
                        "`{n}` is not a duration: add a unit, like `{n}s` or `{n}m`"
                    )))
                }
            }
            fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<Duration, E> {
                match u64::try_from(n) {
                    Ok(n) => self.visit_u64(n),
                    Err(_) => Err(E::custom(format!(
                        "`{n}` is not a duration: it is negative"
                    ))),
                }
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

impl serde::Serialize for Duration {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<std::time::Duration, DurationError> {
        text.parse::<Duration>().map(Duration::get)
    }

    #[test]
    fn reads_the_units_users_write() {
        assert_eq!(parse("0s").unwrap(), std::time::Duration::ZERO);
        assert_eq!(parse("0").unwrap(), std::time::Duration::ZERO);
        assert_eq!(parse("5m").unwrap().as_secs(), 300);
        assert_eq!(parse("10m").unwrap().as_secs(), 600);
        assert_eq!(parse("1h30m").unwrap().as_secs(), 5_400);
        assert_eq!(parse("250ms").unwrap().as_millis(), 250);
        assert_eq!(parse("2d").unwrap().as_secs(), 172_800);
    }

    #[test]
    fn refuses_what_is_not_a_duration() {
        for bad in [
            "",
            "5",
            "m",
            "5x",
            "-5m",
            "1.5h",
            "5m ",
            "99999999999999999999999h",
        ] {
            let err = parse(bad).unwrap_err();
            assert!(
                err.to_string().contains(&format!("`{bad}`")),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn shows_the_largest_units_first() {
        for (text, shown) in [
            ("0s", "0s"),
            ("90s", "1m30s"),
            ("5m", "5m"),
            ("1h30m", "1h30m"),
            ("2d", "48h"),
        ] {
            assert_eq!(text.parse::<Duration>().unwrap().to_string(), shown);
        }
    }
}
