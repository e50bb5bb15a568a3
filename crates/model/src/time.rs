//! Millisecond timestamps and Prometheus duration strings.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Returns the current wall-clock time in milliseconds since the Unix epoch.
pub fn now_millis() -> i64 {
    let elapsed = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX)
}

/// Parses a Prometheus duration such as `15d`, `1h30m`, `500ms` or `2w`.
///
/// Units are `ms`, `s`, `m`, `h`, `d` (24h), `w` (7d) and `y` (365d), largest first, each at most
/// once, as Prometheus' `model.ParseDuration` accepts them.
///
/// # Errors
///
/// Returns a message naming the input when it is empty or not of that form.
pub fn parse_duration(input: &str) -> Result<Duration, String> {
    const UNITS: [(&str, u64); 7] = [
        ("y", 365 * 24 * 3_600_000),
        ("w", 7 * 24 * 3_600_000),
        ("d", 24 * 3_600_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
        ("ms", 1),
    ];
    let bad = || format!("not a valid duration string: {input:?}");
    if input == "0" {
        return Ok(Duration::ZERO);
    }
    if input.is_empty() {
        return Err(bad());
    }
    let mut rest = input;
    let mut total: u64 = 0;
    let mut last_unit_index: Option<usize> = None;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(bad());
        }
        let number: u64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        // "ms" must be tried before "m".
        let (index, millis) = if let Some(stripped) = rest.strip_prefix("ms") {
            rest = stripped;
            (6, 1)
        } else {
            let position = UNITS[..6].iter().position(|(unit, _)| rest.starts_with(unit)).ok_or_else(bad)?;
            rest = &rest[1..];
            (position, UNITS[position].1)
        };
        if last_unit_index.is_some_and(|last| index <= last) {
            return Err(bad());
        }
        last_unit_index = Some(index);
        total = number.checked_mul(millis).and_then(|part| total.checked_add(part)).ok_or_else(bad)?;
    }
    Ok(Duration::from_millis(total))
}

/// Formats a duration the way Prometheus prints one (`1h30m`, `15d`, `0s`).
pub fn format_duration(duration: Duration) -> String {
    let mut millis = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
    if millis == 0 {
        return "0s".to_owned();
    }
    let mut out = String::new();
    for (unit, size) in [
        ("y", 365 * 24 * 3_600_000u64),
        ("w", 7 * 24 * 3_600_000),
        ("d", 24 * 3_600_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
        ("ms", 1),
    ] {
        if millis >= size {
            out.push_str(&(millis / size).to_string());
            out.push_str(unit);
            millis %= size;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(input: &str, expected_millis: Option<u64>) {
        let got = parse_duration(input).ok().map(|d| d.as_millis() as u64);
        assert_eq!(got, expected_millis, "parse_duration({input:?})");
    }

    #[test]
    fn parses_prometheus_durations() {
        check("15d", Some(15 * 86_400_000));
        check("1h30m", Some(5_400_000));
        check("500ms", Some(500));
        check("2w", Some(14 * 86_400_000));
        check("1m1s1ms", Some(61_001));
        check("0", Some(0));
        check("", None);
        check("1x", None);
        check("30m1h", None);
        check("h", None);
        check("1.5h", None);
    }

    #[test]
    fn formats_round_trip() {
        for text in ["2w1d", "1h30m", "500ms", "2w", "0s", "1y1d"] {
            assert_eq!(format_duration(parse_duration(text).unwrap()), text);
        }
    }
}
