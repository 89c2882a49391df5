//! Text for people: sizes, durations and shortened values in messages.

use std::time::Duration;

/// `text` cut to at most `max` bytes (on a character boundary), with `…`
/// where it was cut.
pub(crate) fn shorten(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut cut = max;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push('…');
    }
    text
}

/// `1536` → `1.5 KiB`.
pub(crate) fn bytes_text(n: usize) -> String {
    const UNITS: [&str; 4] = ["bytes", "KiB", "MiB", "GiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} bytes")
    } else if value.fract() == 0.0 {
        format!("{value} {}", UNITS[unit])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// `2 s`, `500 ms`.
pub(crate) fn duration_text(d: Duration) -> String {
    if d.subsec_millis() == 0 || d.as_secs() >= 60 {
        format!("{} s", d.as_secs())
    } else {
        format!("{} ms", d.as_millis())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_durations_read_well() {
        assert_eq!(bytes_text(512), "512 bytes");
        assert_eq!(bytes_text(64 << 20), "64 MiB");
        assert_eq!(bytes_text(1536), "1.5 KiB");
        assert_eq!(duration_text(Duration::from_secs(2)), "2 s");
        assert_eq!(duration_text(Duration::from_millis(1500)), "1500 ms");
        assert_eq!(shorten("héllo".into(), 2), "h…");
    }
}
