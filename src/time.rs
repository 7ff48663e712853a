//! Durations as people write them (`90s`, `30m`, `12h`, `1h30m`, `2d`) and timestamps as RFC 3339.

use std::time::{Duration, SystemTime};

/// The longest duration [`parse_duration`] accepts: 36,500 days (about a century). Anything longer
/// means "forever" to every flag that takes a duration, and a bound keeps every use — a deadline
/// `now + d`, a backoff `d × 1.5` — within what `Instant`, `SystemTime` and `Duration` represent.
pub(crate) const MAX_DURATION: Duration = Duration::from_secs(36_500 * 86_400);

/// Parses `1h30m`, `45s`, `2d`, `500ms`; a bare number is seconds. Every step is checked: a number or
/// a total above [`MAX_DURATION`] is an error saying it is too large, never a wrapped or saturated
/// value.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err("empty duration".into());
    }
    let too_large = || format!("`{text}` is too large (at most 36500d)");
    if let Ok(secs) = t.parse::<u64>() {
        return within(Duration::from_secs(secs)).ok_or_else(too_large);
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
        let n: u64 = rest[..digits].parse().map_err(|_| too_large())?;
        rest = &rest[digits..];
        // The unit is everything up to the next digit, so `µs` or `.5h` is named as it was written.
        let unit_len = rest
            .char_indices()
            .find(|(_, c)| c.is_ascii_digit())
            .map_or(rest.len(), |(i, _)| i);
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let per_unit: u64 = match unit {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "" => {
                return Err(format!(
                    "`{text}`: every number needs a unit (ms, s, m, h, d)"
                ));
            }
            "." | "," => {
                return Err(format!(
                    "`{text}`: whole numbers only; write 1h30m or 90m, not 1.5h"
                ));
            }
            other => {
                return Err(format!(
                    "`{text}`: unknown unit `{other}` (use ms, s, m, h, d)"
                ));
            }
        };
        let millis = n.checked_mul(per_unit).ok_or_else(too_large)?;
        total = total
            .checked_add(Duration::from_millis(millis))
            .and_then(within)
            .ok_or_else(too_large)?;
    }
    Ok(total)
}

/// `d`, when it is at most [`MAX_DURATION`].
fn within(d: Duration) -> Option<Duration> {
    (d <= MAX_DURATION).then_some(d)
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
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        /// No text panics the parser (overflow included); what it accepts is at most the maximum.
        #[test]
        fn durations_never_panic_or_wrap(
            text in prop_oneof!["[0-9]{0,25}(ms|s|m|h|d|x)?([0-9]{0,22}(ms|s|m|h|d))*", any::<String>()]
        ) {
            if let Ok(d) = parse_duration(&text) {
                prop_assert!(d <= MAX_DURATION);
            }
        }
    }

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
    fn durations_that_do_not_fit_are_too_large_never_wrapped() {
        let max = MAX_DURATION.as_secs();
        assert_eq!(parse_duration("36500d").unwrap(), MAX_DURATION);
        assert_eq!(parse_duration(&max.to_string()).unwrap(), MAX_DURATION);
        assert_eq!(
            parse_duration("36499d23h59m59s1000ms").unwrap(),
            MAX_DURATION
        );
        for text in [
            "36500d1ms",
            "36501d",
            &(max + 1).to_string(),
            "18446744073709551615",
            "18446744073709551616",
            "18446744073709551615s1s",
            "18446744073709551615ms",
            "9223372036854775807s",
            "307445734561825861m",
            "5124095576030432h",
            "213503982334602d",
            "99999999999999999999999999d",
            "36500d36500d",
        ] {
            let e = parse_duration(text).unwrap_err();
            assert!(e.contains("too large"), "{text}: {e}");
            assert!(e.contains(&format!("`{text}`")), "{text}: {e}");
        }
    }

    #[test]
    fn units_are_named_as_written() {
        assert!(
            parse_duration("1.5h")
                .unwrap_err()
                .contains("whole numbers only")
        );
        assert!(
            parse_duration("10µs")
                .unwrap_err()
                .contains("unknown unit `µs`")
        );
        assert!(
            parse_duration("1h 30m")
                .unwrap_err()
                .contains("unknown unit `h `")
        );
        assert!(parse_duration("-5s").is_err());
        assert_eq!(parse_duration(" 1m ").unwrap(), Duration::from_secs(60));
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
