//! Sizes and durations as operators write them in manifests and the host
//! config: `"64 MiB"`, `"500ms"`, or plain numbers (bytes, seconds).

use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// Parses `"64 MiB"`, `"512KiB"`, `"1GiB"`, `"100"` (bytes). `None` for
/// anything else, or a size that does not fit.
pub fn parse_size(text: &str) -> Option<usize> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: usize = number.parse().ok()?;
    let factor: usize = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        _ => return None,
    };
    number.checked_mul(factor)
}

/// Parses `"10s"`, `"500ms"`, `"2m"`, `"1.5s"`. `None` for anything else,
/// or a duration that does not fit.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let secs = match unit.trim() {
        "ms" => number / 1000.0,
        "s" | "" => number,
        "m" => number * 60.0,
        _ => return None,
    };
    seconds(secs)
}

/// A non-negative, finite number of seconds; one too large for a
/// `Duration` becomes the largest, so the range check names it.
fn seconds(secs: f64) -> Option<Duration> {
    if !secs.is_finite() || secs < 0.0 {
        return None;
    }
    Some(Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX))
}

const SIZE: &str = "a size like \"64 MiB\" (units B, KiB, MiB, GiB) or a number of bytes";
const DURATION: &str =
    "a duration like \"10s\" or \"500ms\" (units ms, s, m) or a number of seconds";

/// Deserializes an optional size.
pub(crate) fn size<'de, D: Deserializer<'de>>(d: D) -> Result<Option<usize>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Bytes(u64),
        Text(String),
    }
    match Raw::deserialize(d).map_err(|_| serde::de::Error::custom(format!("expected {SIZE}")))? {
        Raw::Bytes(n) => usize::try_from(n)
            .map(Some)
            .map_err(|_| serde::de::Error::custom(format!("size {n} is too large"))),
        Raw::Text(t) => parse_size(&t).map(Some).ok_or_else(|| {
            serde::de::Error::custom(format!("invalid size `{t}`: expected {SIZE}"))
        }),
    }
}

/// Deserializes an optional duration.
pub(crate) fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Secs(f64),
        Text(String),
    }
    let raw = Raw::deserialize(d)
        .map_err(|_| serde::de::Error::custom(format!("expected {DURATION}")))?;
    let parsed = match raw {
        Raw::Secs(s) => seconds(s),
        Raw::Text(ref t) => parse_duration(t),
    };
    parsed
        .map(Some)
        .ok_or_else(|| serde::de::Error::custom(format!("invalid duration: expected {DURATION}")))
}

/// Checks that `value` (of key `key`, if set) lies in `min..=max`, saying
/// so in terms people read (`show`).
pub(crate) fn in_range<T: PartialOrd + Copy>(
    key: &str,
    value: Option<T>,
    min: T,
    max: T,
    show: impl Fn(T) -> String,
) -> Result<(), String> {
    match value {
        Some(v) if v < min || v > max => Err(format!(
            "`{key}` is {}; it must be between {} and {}",
            show(v),
            show(min),
            show(max)
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_durations_read_like_people_write_them() {
        assert_eq!(parse_size("64 MiB"), Some(64 << 20));
        assert_eq!(parse_size("512KiB"), Some(512 << 10));
        assert_eq!(parse_size("100"), Some(100));
        assert_eq!(parse_size("64 MB"), None);
        assert_eq!(parse_size("99999999999999999999 GiB"), None);
        assert_eq!(parse_duration("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("soon"), None);
        // Far too large, not a panic.
        assert_eq!(parse_duration("1e30"), None);
        assert_eq!(
            parse_duration("100000000000000000000000000000s"),
            Some(Duration::MAX)
        );
        assert_eq!(seconds(1e30), Some(Duration::MAX));
        assert_eq!(seconds(f64::INFINITY), None);
        assert_eq!(seconds(f64::NAN), None);
        assert_eq!(seconds(-1.0), None);
    }
}
