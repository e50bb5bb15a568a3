//! Alertmanager's time intervals (`time_intervals` of `mute_time_intervals` /
//! `active_time_intervals`): times of day, weekdays, days of month, months and years, each an
//! inclusive range (times are half-open), evaluated in the interval's `location`.

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An inclusive range of integers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InclusiveRange {
    /// The first value.
    pub begin: i32,
    /// The last value.
    pub end: i32,
}

/// A range of minutes of the day: `start_time` inclusive, `end_time` exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    /// The first minute (0-1439).
    pub start_minute: i32,
    /// The minute after the last (1-1440).
    pub end_minute: i32,
}

/// One time interval: every set field must match.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TimeInterval {
    /// Times of day.
    pub times: Vec<TimeRange>,
    /// Weekdays, 0 = Sunday.
    pub weekdays: Vec<InclusiveRange>,
    /// Days of month, negative counting from the end.
    pub days_of_month: Vec<InclusiveRange>,
    /// Months, 1 = January.
    pub months: Vec<InclusiveRange>,
    /// Years.
    pub years: Vec<InclusiveRange>,
    /// The location's name as written (`UTC` when unset).
    pub location: Option<String>,
    time_zone: Option<TimeZone>,
}

const WEEKDAYS: [&str; 7] = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"];
const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

impl TimeInterval {
    /// Returns whether `at` lies inside the interval.
    pub fn contains(&self, at: Timestamp) -> bool {
        let zone = self.time_zone.clone().unwrap_or(TimeZone::UTC);
        let local = at.to_zoned(zone);
        let date = local.date();
        if !self.times.is_empty() {
            let minute = i32::from(local.hour()) * 60 + i32::from(local.minute());
            if !self.times.iter().any(|range| range.start_minute <= minute && minute < range.end_minute) {
                return false;
            }
        }
        if !self.days_of_month.is_empty() {
            let days_in_month = i32::from(date.days_in_month());
            let day = i32::from(date.day());
            let is_inside = self.days_of_month.iter().any(|range| {
                let resolve = |d: i32| if d < 0 { days_in_month + d + 1 } else { d };
                let begin = resolve(range.begin).max(1);
                let end = resolve(range.end).min(days_in_month);
                begin <= day && day <= end
            });
            if !is_inside {
                return false;
            }
        }
        if !self.months.is_empty() {
            let month = i32::from(date.month());
            if !self.months.iter().any(|range| range.begin <= month && month <= range.end) {
                return false;
            }
        }
        if !self.weekdays.is_empty() {
            let weekday = i32::from(date.weekday().to_sunday_zero_offset());
            if !self.weekdays.iter().any(|range| range.begin <= weekday && weekday <= range.end) {
                return false;
            }
        }
        if !self.years.is_empty() {
            let year = i32::from(date.year());
            if !self.years.iter().any(|range| range.begin <= year && year <= range.end) {
                return false;
            }
        }
        true
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTimeRange {
    start_time: String,
    end_time: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTimeInterval {
    #[serde(default)]
    times: Vec<RawTimeRange>,
    #[serde(default)]
    weekdays: Vec<String>,
    #[serde(default)]
    days_of_month: Vec<String>,
    #[serde(default)]
    months: Vec<String>,
    #[serde(default)]
    years: Vec<String>,
    #[serde(default)]
    location: Option<String>,
}

fn parse_minute(text: &str) -> Result<i32, String> {
    let bad = || format!("couldn't parse timestamp {text}, invalid format");
    let (hours, minutes) = text.split_once(':').ok_or_else(bad)?;
    if hours.is_empty() || hours.len() > 2 || minutes.len() != 2 {
        return Err(bad());
    }
    let hours: i32 = hours.parse().map_err(|_| bad())?;
    let minutes: i32 = minutes.parse().map_err(|_| bad())?;
    if !(0..=24).contains(&hours) || !(0..60).contains(&minutes) || (hours == 24 && minutes != 0) {
        return Err(format!("timestamp {text} out of range"));
    }
    Ok(hours * 60 + minutes)
}

/// Parses `a` or `a:b` where each side goes through `value`.
fn parse_range(text: &str, value: &dyn Fn(&str) -> Result<i32, String>) -> Result<InclusiveRange, String> {
    // A leading minus sign (days of month) must not be taken for the separator.
    let separator = text.char_indices().skip(1).find(|(_, c)| *c == ':').map(|(i, _)| i);
    let (begin, end) = match separator {
        Some(index) => (value(&text[..index])?, value(&text[index + 1..])?),
        None => {
            let single = value(text)?;
            (single, single)
        }
    };
    Ok(InclusiveRange { begin, end })
}

fn named(names: &'static [&'static str], first: i32, what: &'static str) -> impl Fn(&str) -> Result<i32, String> {
    move |text: &str| {
        let lower = text.trim().to_lowercase();
        if let Some(index) = names.iter().position(|name| *name == lower) {
            return Ok(index as i32 + first);
        }
        if what == "month"
            && let Ok(number) = lower.parse::<i32>()
        {
            if (1..=12).contains(&number) {
                return Ok(number);
            }
            return Err(format!("{text} is not a valid month"));
        }
        Err(format!("{text} is not a valid {what}"))
    }
}

impl<'de> Deserialize<'de> for TimeInterval {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = RawTimeInterval::deserialize(deserializer)?;
        parse_interval(raw).map_err(serde::de::Error::custom)
    }
}

fn parse_interval(raw: RawTimeInterval) -> Result<TimeInterval, String> {
    let mut interval = TimeInterval::default();
    for time in raw.times {
        let start_minute = parse_minute(&time.start_time)?;
        let end_minute = parse_minute(&time.end_time)?;
        if start_minute >= end_minute {
            return Err("start time cannot be equal or greater than end time".to_owned());
        }
        interval.times.push(TimeRange { start_minute, end_minute });
    }
    let weekday = named(&WEEKDAYS, 0, "day");
    for text in &raw.weekdays {
        let range = parse_range(text, &weekday)?;
        if range.begin > range.end {
            return Err("start day cannot be before end day".to_owned());
        }
        interval.weekdays.push(range);
    }
    let day = |text: &str| -> Result<i32, String> {
        let number: i32 = text.trim().parse().map_err(|_| format!("{text} is not a valid day of month"))?;
        if number == 0 || !(-31..=31).contains(&number) {
            return Err(format!("{number} is not a valid day of the month: out of range"));
        }
        Ok(number)
    };
    for text in &raw.days_of_month {
        let range = parse_range(text, &day)?;
        if range.begin < 0 && range.end > 0 {
            return Err("end day must be negative if start day is negative".to_owned());
        }
        if (range.begin > 0) == (range.end > 0) && range.begin > range.end {
            return Err("start day cannot be before end day".to_owned());
        }
        interval.days_of_month.push(range);
    }
    let month = named(&MONTHS, 1, "month");
    for text in &raw.months {
        let range = parse_range(text, &month)?;
        if range.begin > range.end {
            return Err("end month is before start month".to_owned());
        }
        interval.months.push(range);
    }
    let year = |text: &str| text.trim().parse::<i32>().map_err(|_| format!("{text} is not a valid year"));
    for text in &raw.years {
        let range = parse_range(text, &year)?;
        if range.begin > range.end {
            return Err("end year must be after start year".to_owned());
        }
        interval.years.push(range);
    }
    if let Some(location) = &raw.location {
        let zone = match location.as_str() {
            "" | "UTC" => TimeZone::UTC,
            "Local" => TimeZone::system(),
            name => TimeZone::get(name).map_err(|e| format!("unknown time zone location {name:?}: {e}"))?,
        };
        interval.time_zone = Some(zone);
    }
    interval.location = raw.location;
    Ok(interval)
}

impl Serialize for TimeInterval {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let format_minute = |m: i32| format!("{:02}:{:02}", m / 60, m % 60);
        let ranges = |ranges: &[InclusiveRange]| -> Vec<String> {
            ranges
                .iter()
                .map(|r| if r.begin == r.end { r.begin.to_string() } else { format!("{}:{}", r.begin, r.end) })
                .collect()
        };
        let mut map = serializer.serialize_map(None)?;
        if !self.times.is_empty() {
            let times: Vec<serde_json::Value> = self
                .times
                .iter()
                .map(|t| {
                    serde_json::json!({"start_time": format_minute(t.start_minute), "end_time": format_minute(t.end_minute)})
                })
                .collect();
            map.serialize_entry("times", &times)?;
        }
        if !self.weekdays.is_empty() {
            let names: Vec<String> = self
                .weekdays
                .iter()
                .map(|r| {
                    let name = |d: i32| WEEKDAYS[d.clamp(0, 6) as usize];
                    if r.begin == r.end {
                        name(r.begin).to_owned()
                    } else {
                        format!("{}:{}", name(r.begin), name(r.end))
                    }
                })
                .collect();
            map.serialize_entry("weekdays", &names)?;
        }
        if !self.days_of_month.is_empty() {
            map.serialize_entry("days_of_month", &ranges(&self.days_of_month))?;
        }
        if !self.months.is_empty() {
            map.serialize_entry("months", &ranges(&self.months))?;
        }
        if !self.years.is_empty() {
            map.serialize_entry("years", &ranges(&self.years))?;
        }
        if let Some(location) = &self.location {
            map.serialize_entry("location", location)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn interval(yaml: &str) -> Result<TimeInterval, String> {
        serde_saphyr::from_str::<TimeInterval>(yaml).map_err(|e| e.to_string())
    }

    #[track_caller]
    fn check(yaml: &str, at: &str, expected: bool) {
        let interval = interval(yaml).unwrap();
        let at: Timestamp = at.parse().unwrap();
        assert_eq!(interval.contains(at), expected, "{yaml} at {at}");
    }

    #[test]
    fn matches_times_weekdays_days_months_years_in_location() {
        let office =
            "times: [{start_time: '09:00', end_time: '18:00'}]\nweekdays: ['monday:friday']\nlocation: Asia/Shanghai";
        // 2024-03-04 is a Monday; 01:30 UTC is 09:30 in Shanghai.
        check(office, "2024-03-04T01:30:00Z", true);
        check(office, "2024-03-04T00:59:00Z", false);
        check(office, "2024-03-04T10:00:00Z", false);
        // Saturday in Shanghai.
        check(office, "2024-03-09T02:00:00Z", false);
        check("days_of_month: ['-1']", "2024-02-29T12:00:00Z", true);
        check("days_of_month: ['-1']", "2024-02-28T12:00:00Z", false);
        check("days_of_month: ['1:5']", "2024-02-05T23:59:00Z", true);
        check("months: ['december', '1:2']", "2024-02-10T00:00:00Z", true);
        check("months: ['december', '1:2']", "2024-03-10T00:00:00Z", false);
        check("years: ['2020:2023']", "2024-03-10T00:00:00Z", false);
        check("times: [{start_time: '22:00', end_time: '24:00'}]", "2024-03-10T23:59:59Z", true);
    }

    #[test]
    fn refuses_bad_intervals() {
        let error = |yaml: &str| interval(yaml).unwrap_err();
        assert!(
            error("weekdays: ['funday']").contains("funday is not a valid day"),
            "{}",
            error("weekdays: ['funday']")
        );
        assert!(error("times: [{start_time: '10:00', end_time: '09:00'}]").contains("start time cannot be"));
        assert!(error("days_of_month: ['-3:4']").contains("end day must be negative"));
        assert!(error("location: Mars/Olympus").contains("unknown time zone location"));
        assert!(error("times: [{start_time: '25:00', end_time: '26:00'}]").contains("out of range"));
    }
}
