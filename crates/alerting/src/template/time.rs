//! Go time values inside templates. A time is carried as the text Go's `time.Time.String`
//! prints (`2024-03-04 01:30:00.5 +0000 UTC`), so that printing it matches Alertmanager, and is
//! parsed back by `date`, `tz`, `since` and `.Format`. Layouts use Go's reference time.

use jiff::Timestamp;
use jiff::tz::{Offset, TimeZone};

/// A parsed Go time: an instant, the offset it is shown in and the zone abbreviation.
pub(crate) struct GoTime {
    pub(crate) timestamp: Timestamp,
    pub(crate) offset: Offset,
    pub(crate) abbreviation: String,
}

/// Prints `timestamp` in `zone` as Go's `time.Time.String` does.
pub(crate) fn go_time_string(timestamp: Timestamp, zone: &TimeZone) -> String {
    let info = zone.to_offset_info(timestamp);
    let time = GoTime { timestamp, offset: info.offset(), abbreviation: info.abbreviation().to_owned() };
    format_go(&time, "2006-01-02 15:04:05.999999999 -0700 MST")
}

/// Parses the text [`go_time_string`] prints (also RFC 3339).
pub(crate) fn parse_go_time(text: &str) -> Result<GoTime, String> {
    let bad = || format!("cannot parse {text:?} as a time");
    if let Ok(timestamp) = text.parse::<Timestamp>() {
        return Ok(GoTime { timestamp, offset: Offset::UTC, abbreviation: "UTC".to_owned() });
    }
    let mut parts = text.split(' ');
    let (date, time, offset) =
        (parts.next().ok_or_else(bad)?, parts.next().ok_or_else(bad)?, parts.next().ok_or_else(bad)?);
    let abbreviation = parts.next().unwrap_or("").to_owned();
    let sign = if offset.starts_with('-') { -1 } else { 1 };
    let digits = offset.trim_start_matches(['+', '-']);
    if digits.len() != 4 {
        return Err(bad());
    }
    let hours: i32 = digits[..2].parse().map_err(|_| bad())?;
    let minutes: i32 = digits[2..].parse().map_err(|_| bad())?;
    let offset = Offset::from_seconds(sign * (hours * 3600 + minutes * 60)).map_err(|_| bad())?;
    let civil: jiff::civil::DateTime = format!("{date}T{time}").parse().map_err(|_| bad())?;
    let timestamp = offset.to_timestamp(civil).map_err(|_| bad())?;
    Ok(GoTime { timestamp, offset, abbreviation })
}

/// Returns the time shown in `zone` (`tz`).
pub(crate) fn in_zone(time: &GoTime, zone_name: &str) -> Result<String, String> {
    let zone = match zone_name {
        "UTC" | "" => TimeZone::UTC,
        "Local" => TimeZone::system(),
        name => TimeZone::get(name).map_err(|_| format!("unknown time zone {name}"))?,
    };
    Ok(go_time_string(time.timestamp, &zone))
}

/// Formats a time with a Go layout (`2006-01-02 15:04:05 MST`).
pub(crate) fn format_go(time: &GoTime, layout: &str) -> String {
    const MONTHS: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    const DAYS: [&str; 7] = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
    let civil = time.offset.to_datetime(time.timestamp);
    let (year, month, day) = (i32::from(civil.year()), civil.month() as usize, i32::from(civil.day()));
    let (hour, minute, second) = (i32::from(civil.hour()), i32::from(civil.minute()), i32::from(civil.second()));
    let nanos = civil.subsec_nanosecond();
    let weekday = civil.weekday().to_sunday_zero_offset() as usize;
    let offset_seconds = time.offset.seconds();
    let offset = |colon: bool, z: bool, with_seconds: bool, hours_only: bool| -> String {
        if z && offset_seconds == 0 {
            return "Z".to_owned();
        }
        let sign = if offset_seconds < 0 { '-' } else { '+' };
        let total = offset_seconds.abs();
        let (h, m, s) = (total / 3600, total / 60 % 60, total % 60);
        let separator = if colon { ":" } else { "" };
        let mut out = format!("{sign}{h:02}");
        if !hours_only {
            out.push_str(&format!("{separator}{m:02}"));
        }
        if with_seconds {
            out.push_str(&format!("{separator}{s:02}"));
        }
        out
    };
    let mut out = String::new();
    let mut rest = layout;
    while !rest.is_empty() {
        let table: [(&str, &dyn Fn() -> String); 36] = [
            ("January", &|| MONTHS[month - 1].to_owned()),
            ("Jan", &|| MONTHS[month - 1][..3].to_owned()),
            ("Monday", &|| DAYS[weekday].to_owned()),
            ("Mon", &|| DAYS[weekday][..3].to_owned()),
            ("MST", &|| {
                if time.abbreviation.is_empty() {
                    offset(false, false, false, false)
                } else {
                    time.abbreviation.clone()
                }
            }),
            ("2006", &|| format!("{year:04}")),
            ("-070000", &|| offset(false, false, true, false)),
            ("-07:00:00", &|| offset(true, false, true, false)),
            ("-0700", &|| offset(false, false, false, false)),
            ("-07:00", &|| offset(true, false, false, false)),
            ("-07", &|| offset(false, false, false, true)),
            ("Z070000", &|| offset(false, true, true, false)),
            ("Z07:00:00", &|| offset(true, true, true, false)),
            ("Z0700", &|| offset(false, true, false, false)),
            ("Z07:00", &|| offset(true, true, false, false)),
            ("Z07", &|| offset(false, true, false, true)),
            ("002", &|| format!("{:03}", civil.day_of_year())),
            ("01", &|| format!("{month:02}")),
            ("02", &|| format!("{day:02}")),
            ("03", &|| format!("{:02}", if hour % 12 == 0 { 12 } else { hour % 12 })),
            ("04", &|| format!("{minute:02}")),
            ("05", &|| format!("{second:02}")),
            ("06", &|| format!("{:02}", year % 100)),
            ("15", &|| format!("{hour:02}")),
            ("_2", &|| format!("{day:>2}")),
            ("PM", &|| if hour >= 12 { "PM" } else { "AM" }.to_owned()),
            ("pm", &|| if hour >= 12 { "pm" } else { "am" }.to_owned()),
            ("1", &|| month.to_string()),
            ("2", &|| day.to_string()),
            ("3", &|| (if hour % 12 == 0 { 12 } else { hour % 12 }).to_string()),
            ("4", &|| minute.to_string()),
            ("5", &|| second.to_string()),
            ("", &String::new),
            ("", &String::new),
            ("", &String::new),
            ("", &String::new),
        ];
        // Fractional seconds: `.000` (fixed) or `.999` (trailing zeros trimmed).
        if let Some(after) = rest.strip_prefix(['.', ','])
            && let Some(first) = after.chars().next()
            && (first == '0' || first == '9')
        {
            let digits = after.chars().take_while(|c| *c == first).count();
            let is_followed_by_digit = after[digits..].chars().next().is_some_and(|c| c.is_ascii_digit());
            if !is_followed_by_digit {
                let fraction = format!("{nanos:09}");
                let fraction = &fraction[..digits.min(9)];
                if first == '0' {
                    out.push_str(&rest[..1]);
                    out.push_str(fraction);
                } else {
                    let trimmed = fraction.trim_end_matches('0');
                    if !trimmed.is_empty() {
                        out.push_str(&rest[..1]);
                        out.push_str(trimmed);
                    }
                }
                rest = &after[digits..];
                continue;
            }
        }
        match table.iter().find(|(token, _)| !token.is_empty() && rest.starts_with(token)) {
            Some((token, value)) => {
                out.push_str(&value());
                rest = &rest[token.len()..];
            }
            None => {
                let c = rest.chars().next().unwrap_or(' ');
                out.push(c);
                rest = &rest[c.len_utf8()..];
            }
        }
    }
    out
}

/// Prints a duration as Go's `time.Duration.String` does (`1h2m3.5s`).
pub(crate) fn go_duration_string(seconds: f64) -> String {
    if seconds == 0.0 {
        return "0s".to_owned();
    }
    let sign = if seconds < 0.0 { "-" } else { "" };
    let nanos = (seconds.abs() * 1e9).round() as u128;
    if nanos < 1_000_000_000 {
        let (value, unit) = if nanos < 1_000 {
            (nanos as f64, "ns")
        } else if nanos < 1_000_000 {
            (nanos as f64 / 1e3, "µs")
        } else {
            (nanos as f64 / 1e6, "ms")
        };
        return format!("{sign}{value}{unit}");
    }
    let total_seconds = nanos / 1_000_000_000;
    let fraction = nanos % 1_000_000_000;
    let (hours, minutes, secs) = (total_seconds / 3600, total_seconds / 60 % 60, total_seconds % 60);
    let mut out = sign.to_owned();
    if hours > 0 {
        out.push_str(&format!("{hours}h"));
    }
    if hours > 0 || minutes > 0 {
        out.push_str(&format!("{minutes}m"));
    }
    out.push_str(&secs.to_string());
    if fraction > 0 {
        out.push('.');
        out.push_str(format!("{fraction:09}").trim_end_matches('0'));
    }
    out.push('s');
    out
}

/// Parses a Go duration string (`1h2m3.5s`, `250ms`) into seconds.
pub(crate) fn parse_go_duration(text: &str) -> Option<f64> {
    let (sign, mut rest) = match text.strip_prefix('-') {
        Some(rest) => (-1.0, rest),
        None => (1.0, text.strip_prefix('+').unwrap_or(text)),
    };
    if rest == "0" {
        return Some(0.0);
    }
    let mut total = 0.0;
    let mut any = false;
    while !rest.is_empty() {
        let number_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let number: f64 = rest[..number_len].parse().ok()?;
        rest = &rest[number_len..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let factor = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += number * factor;
        any = true;
    }
    any.then_some(sign * total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_times_like_go() {
        let timestamp: Timestamp = "2024-03-04T01:30:05.25Z".parse().unwrap();
        assert_eq!(go_time_string(timestamp, &TimeZone::UTC), "2024-03-04 01:30:05.25 +0000 UTC");
        let shanghai = TimeZone::get("Asia/Shanghai").unwrap();
        assert_eq!(go_time_string(timestamp, &shanghai), "2024-03-04 09:30:05.25 +0800 CST");
        let parsed = parse_go_time("2024-03-04 09:30:05.25 +0800 CST").unwrap();
        assert_eq!(parsed.timestamp, timestamp);
        assert_eq!(format_go(&parsed, "2006-01-02 15:04:05 MST"), "2024-03-04 09:30:05 CST");
        assert_eq!(format_go(&parsed, "Mon Jan _2 3:04PM Z07:00 .000"), "Mon Mar  4 9:30AM +08:00 .250");
        assert_eq!(format_go(&parsed, time::RFC3339), "2024-03-04T09:30:05+08:00");
    }

    mod time {
        pub(super) const RFC3339: &str = "2006-01-02T15:04:05Z07:00";
    }

    #[test]
    fn durations_round_trip_go_format() {
        assert_eq!(go_duration_string(3723.5), "1h2m3.5s");
        assert_eq!(go_duration_string(0.25), "250ms");
        assert_eq!(go_duration_string(60.0), "1m0s");
        assert_eq!(parse_go_duration("1h2m3.5s"), Some(3723.5));
        assert_eq!(parse_go_duration("abc"), None);
    }
}
