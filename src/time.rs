//! Durations as people write them (`90s`, `30m`, `12h`, `1h30m`, `2d`) and timestamps as RFC 3339.

use std::time::{Duration, SystemTime};

/// Parses `1h30m`, `45s`, `2d`, `500ms`; a bare number is seconds.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err("empty duration".into());
    }
    if let Ok(secs) = t.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    let mut total = Duration::ZERO;
    let mut rest = t;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(format!(
                "`{text}` is not a duration like 90s, 30m, 12h, 1h30m or 2d"
            ));
        }
        let n: u64 = rest[..digits]
            .parse()
            .map_err(|_| format!("`{text}`: number too large"))?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let d = match unit {
            "ms" => Duration::from_millis(n),
            "s" => Duration::from_secs(n),
            "m" => Duration::from_secs(n * 60),
            "h" => Duration::from_secs(n * 3600),
            "d" => Duration::from_secs(n * 86_400),
            "" => {
                return Err(format!(
                    "`{text}`: every number needs a unit (ms, s, m, h, d)"
                ));
            }
            other => {
                return Err(format!(
                    "`{text}`: unknown unit `{other}` (use ms, s, m, h, d)"
                ));
            }
        };
        total += d;
    }
    Ok(total)
}

/// `2026-11-22T14:03:00Z`.
pub(crate) fn rfc3339(t: SystemTime) -> String {
    aws_smithy_types::DateTime::from(t)
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap_or_else(|_| "(unrepresentable time)".into())
}

/// `11h 58m`, `42s`, `3d 4h` — for people.
pub(crate) fn human(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m {}s", s / 60, s % 60),
        3600..86_400 => format!("{}h {}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d {}h", s / 86_400, (s % 86_400) / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("2d").unwrap(), Duration::from_secs(172_800));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert!(
            parse_duration("1x")
                .unwrap_err()
                .contains("unknown unit `x`")
        );
        assert!(parse_duration("h").is_err());
        assert!(parse_duration("1h30").unwrap_err().contains("needs a unit"));
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn formatting() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_420_070_400);
        assert_eq!(rfc3339(t), "2015-01-01T00:00:00Z");
        assert_eq!(human(Duration::from_secs(43_080)), "11h 58m");
        assert_eq!(human(Duration::from_secs(42)), "42s");
        assert_eq!(human(Duration::from_secs(90_000)), "1d 1h");
    }
}
