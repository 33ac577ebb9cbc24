//! Time as the dashboard shows and stores it: relative ages, durations, ISO-8601, Unix seconds.
//! Plain functions of their arguments; nobody here reads the clock.

use std::time::UNIX_EPOCH;
use std::time::{Duration, SystemTime};

/// "12 s ago", "3 min ago", "2 h ago", "4 d ago".
pub fn ago(then: SystemTime, now: SystemTime) -> String {
    let secs = now.duration_since(then).unwrap_or(Duration::ZERO).as_secs();
    match secs {
        0..=59 => format!("{secs} s ago"),
        60..=3599 => format!("{} min ago", secs / 60),
        3600..=86_399 => format!("{} h ago", secs / 3600),
        _ => format!("{} d ago", secs / 86_400),
    }
}

/// "3 d 4 h", "5 h 12 min", "7 min".
pub fn duration(secs: u64) -> String {
    let (d, h, m) = (secs / 86_400, (secs % 86_400) / 3600, (secs % 3600) / 60);
    if d > 0 {
        format!("{d} d {h} h")
    } else if h > 0 {
        format!("{h} h {m} min")
    } else {
        format!("{m} min")
    }
}

/// A Unix-seconds time as ISO-8601 UTC.
pub fn iso(t: SystemTime) -> String {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs();
    time::OffsetDateTime::from_unix_timestamp(i64::try_from(secs).unwrap_or(0))
        .ok()
        .and_then(|d| {
            d.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// A time as the original dashboard writes it (Python's `isoformat()` of a UTC time):
/// microseconds and `+00:00`, the fraction left out when it is exactly zero.
pub fn iso_us(t: SystemTime) -> String {
    let d = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or(Duration::ZERO);
    let Ok(dt) = time::OffsetDateTime::from_unix_timestamp(i64::try_from(d.as_secs()).unwrap_or(0))
    else {
        return String::new();
    };
    let (date, clock) = (dt.date(), dt.time());
    let mut out = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        date.year(),
        u8::from(date.month()),
        date.day(),
        clock.hour(),
        clock.minute(),
        clock.second()
    );
    let micros = d.subsec_micros();
    if micros != 0 {
        out.push_str(&format!(".{micros:06}"));
    }
    out.push_str("+00:00");
    out
}

/// A time as scripts send it back: ISO-8601 with an offset (`+00:00`, `Z`) or without one
/// (taken as UTC), a `T` or a space between date and time, and a `+` that arrived as a space
/// (a cursor put in a URL unencoded).
pub fn parse_iso(s: &str) -> Option<SystemTime> {
    let mut t = s.trim().to_string();
    if let Some((head, tail)) = t.rsplit_once(' ') {
        if head.len() >= 19 && tail.len() == 5 && tail.as_bytes().get(2) == Some(&b':') {
            t = format!("{head}+{tail}");
        }
    }
    if t.as_bytes().get(10) == Some(&b' ') {
        t.replace_range(10..11, "T");
    }
    let offset = t.ends_with(['Z', 'z']) || t.get(19..).is_some_and(|r| r.contains(['+', '-']));
    if !offset {
        t.push('Z');
    }
    let dt =
        time::OffsetDateTime::parse(&t, &time::format_description::well_known::Rfc3339).ok()?;
    let nanos = u64::try_from(dt.unix_timestamp_nanos()).ok()?;
    Some(SystemTime::UNIX_EPOCH + Duration::from_nanos(nanos))
}

/// Seconds since the Unix epoch, saturating.
pub fn unix_secs(t: SystemTime) -> u32 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| u32::try_from(d.as_secs()).unwrap_or(u32::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_times_read_naturally() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        assert_eq!(ago(now - Duration::from_secs(5), now), "5 s ago");
        assert_eq!(ago(now - Duration::from_secs(600), now), "10 min ago");
        assert_eq!(ago(now + Duration::from_secs(5), now), "0 s ago");
        assert_eq!(duration(90_061), "1 d 1 h");
        assert_eq!(iso(SystemTime::UNIX_EPOCH), "1970-01-01T00:00:00Z");
        let t = SystemTime::UNIX_EPOCH + Duration::from_micros(1_774_811_525_123_456);
        assert_eq!(iso_us(t), "2026-03-29T19:12:05.123456+00:00");
        assert_eq!(iso_us(SystemTime::UNIX_EPOCH), "1970-01-01T00:00:00+00:00");
        for written in [
            "2026-03-29T19:12:05.123456+00:00",
            "2026-03-29T19:12:05.123456 00:00",
            "2026-03-29 19:12:05.123456",
            "2026-03-29T19:12:05.123456Z",
            "2026-03-29T21:12:05.123456+02:00",
        ] {
            assert_eq!(parse_iso(written), Some(t), "{written}");
        }
        assert_eq!(
            parse_iso("2026-03-29T19:12:05"),
            Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_774_811_525))
        );
        assert_eq!(parse_iso("yesterday"), None);
        assert_eq!(parse_iso("1969-12-31T23:59:59Z"), None);
    }
}
