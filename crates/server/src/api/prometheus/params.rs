//! Request parameters of the Prometheus API: the [`Params`] extractor (GET query string and POST
//! form body alike, as Go's `r.FormValue`) and the parsers of times, durations and `match[]`
//! selectors with Prometheus' error texts.

use axum::extract::{FromRequest, Request};
use axum::http::{Method, header};
use panoptes_model::Matcher;

use super::PromError;
use crate::api::{ApiError, read_body_capped};
use crate::state::AppState;

/// The largest form body accepted (Go's `http.Request.ParseForm` limit is 10 MB).
const MAX_FORM_BYTES: usize = 10 << 20;

/// Prometheus' `MinTime`, as clients such as Grafana send it, and its value in milliseconds.
const MIN_TIME_TEXT: &str = "-292273086-05-16T16:47:06Z";
/// Prometheus' `MaxTime`, as clients send it.
const MAX_TIME_TEXT: &str = "292277025-08-18T07:12:54.999999999Z";
/// `timestamp.FromTime(MinTime)` in Prometheus.
pub(crate) const MIN_TIME_MS: i64 = -9_223_309_901_257_974_000;
/// `timestamp.FromTime(MaxTime)` in Prometheus.
pub(crate) const MAX_TIME_MS: i64 = 9_223_309_901_257_974_999;

/// The form values of a request: those of the POST body first, then those of the URL query.
#[derive(Debug, Default)]
pub(crate) struct Form {
    pairs: Vec<(String, String)>,
}

impl Form {
    /// Returns a form over `pairs`.
    pub(crate) fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        Self { pairs }
    }

    /// Returns the first value of `name`, like Go's `FormValue` (`None` when absent or empty).
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.pairs.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str()).filter(|v| !v.is_empty())
    }

    /// Returns every value of `name`.
    pub(crate) fn all(&self, name: &str) -> Vec<&str> {
        self.pairs.iter().filter(|(key, _)| key == name).map(|(_, value)| value.as_str()).collect()
    }
}

/// A params type: parses and validates itself from the request's form values.
pub(crate) trait FromForm: Sized {
    /// Builds the params, failing with a `bad_data` error naming the invalid parameter.
    fn from_form(form: &Form) -> Result<Self, ApiError>;
}

/// Extracts `T` from the GET query string or the POST/PUT form body (read through the capped
/// reader).
#[derive(Debug)]
pub(crate) struct Params<T>(pub(crate) T);

impl<T: FromForm> FromRequest<AppState> for Params<T> {
    type Rejection = PromError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (parts, body) = request.into_parts();
        let mut pairs = Vec::new();
        let is_form = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.starts_with("application/x-www-form-urlencoded"));
        if is_form && (parts.method == Method::POST || parts.method == Method::PUT) {
            let bytes = read_body_capped(&parts.headers, body, MAX_FORM_BYTES, state.read_timeout()).await?;
            pairs.extend(form_urlencoded::parse(&bytes).into_owned());
        }
        if let Some(query) = parts.uri.query() {
            pairs.extend(form_urlencoded::parse(query.as_bytes()).into_owned());
        }
        Ok(Params(T::from_form(&Form::from_pairs(pairs))?))
    }
}

/// Returns Prometheus' error for a parameter that does not parse.
pub(crate) fn invalid_param(name: &str, message: impl std::fmt::Display) -> ApiError {
    ApiError::bad_data(format!("invalid parameter {name:?}: {message}"))
}

/// Parses the time parameter `name`: Unix seconds (fractions allowed) or RFC 3339; `default`
/// when absent.
pub(crate) fn time_param(form: &Form, name: &str, default: i64) -> Result<i64, ApiError> {
    match form.get(name) {
        None => Ok(default),
        Some(text) => parse_time(text).map_err(|message| invalid_param(name, message)),
    }
}

/// Parses a timestamp as Prometheus' `parseTime`, to milliseconds.
pub(crate) fn parse_time(text: &str) -> Result<i64, String> {
    let error = || format!("cannot parse {text:?} to a valid timestamp");
    if let Ok(seconds) = text.parse::<f64>() {
        if !seconds.is_finite() {
            return Err(error());
        }
        let whole = seconds.trunc();
        let fraction = ((seconds - whole) * 1000.0).round();
        let millis = whole * 1000.0 + fraction;
        if millis < i64::MIN as f64 || millis > i64::MAX as f64 {
            return Err(error());
        }
        return Ok(millis as i64);
    }
    match text {
        MIN_TIME_TEXT => return Ok(MIN_TIME_MS),
        MAX_TIME_TEXT => return Ok(MAX_TIME_MS),
        _ => {}
    }
    parse_rfc3339(text).ok_or_else(error)
}

/// Parses the duration parameter `name`: seconds (fractions allowed) or a Prometheus duration.
pub(crate) fn duration_param(form: &Form, name: &str) -> Result<Option<i64>, ApiError> {
    match form.get(name) {
        None => Ok(None),
        Some(text) => parse_duration_ms(text).map(Some).map_err(|message| invalid_param(name, message)),
    }
}

/// Parses a duration as Prometheus' `parseDuration`, to milliseconds.
pub(crate) fn parse_duration_ms(text: &str) -> Result<i64, String> {
    let error = || format!("cannot parse {text:?} to a valid duration");
    if let Ok(seconds) = text.parse::<f64>() {
        let millis = seconds * 1000.0;
        // Prometheus refuses durations that overflow int64 nanoseconds.
        if !millis.is_finite() || millis.abs() >= (i64::MAX / 1_000_000) as f64 {
            return Err(error());
        }
        return Ok(millis.round() as i64);
    }
    panoptes_model::time::parse_duration(text)
        .ok()
        .and_then(|duration| i64::try_from(duration.as_millis()).ok())
        .ok_or_else(error)
}

/// Parses every `match[]` selector into matcher sets (one per selector and `or` alternative).
pub(crate) fn match_params(form: &Form) -> Result<Vec<Vec<Matcher>>, ApiError> {
    let mut sets = Vec::new();
    for selector in form.all("match[]") {
        let parsed =
            panoptes_promql::parser::parse_selector(selector).map_err(|error| invalid_param("match[]", error))?;
        sets.extend(parsed);
    }
    Ok(sets)
}

/// Like [`match_params`], for endpoints where at least one `match[]` is required (`series`,
/// `admin/tsdb/delete_series`), refusing its absence with Prometheus' message.
pub(crate) fn required_match_params(form: &Form) -> Result<Vec<Vec<Matcher>>, ApiError> {
    if form.all("match[]").is_empty() {
        return Err(ApiError::bad_data("no match[] parameter provided"));
    }
    match_params(form)
}

/// Parses the `limit` parameter (0 or absent: no limit).
pub(crate) fn limit_param(form: &Form) -> Result<usize, ApiError> {
    match form.get("limit") {
        None => Ok(0),
        Some(text) => match text.parse::<i64>() {
            Ok(limit) if limit >= 0 => Ok(usize::try_from(limit).unwrap_or(usize::MAX)),
            Ok(_) => Err(invalid_param("limit", "limit must be non-negative")),
            Err(_) => Err(invalid_param("limit", format!("cannot parse {text:?} to a valid limit"))),
        },
    }
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` to milliseconds.
fn parse_rfc3339(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    if bytes.len() < 20 || !text.is_ascii() {
        return None;
    }
    let number = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = text.get(range)?;
        if part.bytes().all(|b| b.is_ascii_digit()) { part.parse().ok() } else { None }
    };
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
    if bytes[4] != b'-'
        || bytes[7] != b'-'
        || !matches!(bytes[10], b'T' | b't')
        || bytes[13] != b':'
        || bytes[16] != b':'
    {
        return None;
    }
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut rest = &text[19..];
    let mut millis = 0;
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let padded = format!("{:0<3}", &fraction[..digits.min(3)]);
        millis = padded.parse::<i64>().ok()?;
        rest = &fraction[digits..];
    }
    let offset_minutes = match rest {
        "Z" | "z" => 0,
        _ if rest.len() == 6 && (rest.starts_with('+') || rest.starts_with('-')) && &rest[3..4] == ":" => {
            let hours: i64 = rest[1..3].parse().ok()?;
            let minutes: i64 = rest[4..6].parse().ok()?;
            let total = hours * 60 + minutes;
            if rest.starts_with('-') { -total } else { total }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset_minutes * 60;
    Some(seconds * 1000 + millis)
}

/// Returns the days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub(crate) fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = (month + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// Formats milliseconds since the epoch as RFC 3339 in UTC (`2024-01-02T03:04:05.678Z`).
pub(crate) fn format_rfc3339(millis: i64) -> String {
    let seconds = millis.div_euclid(1000);
    let fraction = millis.rem_euclid(1000);
    let days = seconds.div_euclid(86_400);
    let second_of_day = seconds.rem_euclid(86_400);
    // Inverse of `days_from_civil`.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 { month_index + 3 } else { month_index - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    let (hour, minute, second) = (second_of_day / 3600, second_of_day % 3600 / 60, second_of_day % 60);
    if fraction == 0 {
        format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}Z")
    } else {
        let fraction = format!("{fraction:03}");
        format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}.{}Z", fraction.trim_end_matches('0'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check_time(text: &str, expected: Result<i64, ()>) {
        assert_eq!(parse_time(text).map_err(|_| ()), expected, "{text}");
    }

    #[test]
    fn times_are_unix_seconds_or_rfc3339() {
        check_time("1435781451.781", Ok(1_435_781_451_781));
        check_time("1435781451", Ok(1_435_781_451_000));
        check_time("-1.5", Ok(-1500));
        check_time("2015-07-01T20:10:51.781Z", Ok(1_435_781_451_781));
        check_time("2015-07-01T20:10:51Z", Ok(1_435_781_451_000));
        check_time("2015-07-01T22:10:51.781+02:00", Ok(1_435_781_451_781));
        check_time("1970-01-01T00:00:00.123456789Z", Ok(123));
        check_time(MIN_TIME_TEXT, Ok(MIN_TIME_MS));
        check_time(MAX_TIME_TEXT, Ok(MAX_TIME_MS));
        check_time("yesterday", Err(()));
        check_time("NaN", Err(()));
        check_time("2015-13-01T20:10:51Z", Err(()));
        assert_eq!(parse_time("x").unwrap_err(), "cannot parse \"x\" to a valid timestamp");
    }

    #[test]
    fn durations_are_seconds_or_prometheus_durations() {
        assert_eq!(parse_duration_ms("15"), Ok(15_000));
        assert_eq!(parse_duration_ms("0.5"), Ok(500));
        assert_eq!(parse_duration_ms("1m30s"), Ok(90_000));
        assert_eq!(parse_duration_ms("1e30"), Err("cannot parse \"1e30\" to a valid duration".to_owned()));
        assert!(parse_duration_ms("fast").is_err());
    }

    #[test]
    fn rfc3339_round_trips() {
        for millis in [0, 1_435_781_451_781, -86_400_000, 951_782_400_000, 4_102_444_800_500] {
            assert_eq!(parse_rfc3339(&format_rfc3339(millis)), Some(millis), "{}", format_rfc3339(millis));
        }
        assert_eq!(format_rfc3339(1_435_781_451_780), "2015-07-01T20:10:51.78Z");
    }

    #[test]
    fn form_values_prefer_the_body_and_skip_empty_ones() {
        let form = Form::from_pairs(vec![
            ("query".into(), "up".into()),
            ("query".into(), "down".into()),
            ("time".into(), String::new()),
            ("match[]".into(), "a".into()),
            ("match[]".into(), "b".into()),
        ]);
        assert_eq!(form.get("query"), Some("up"));
        assert_eq!(form.get("time"), None);
        assert_eq!(form.all("match[]"), ["a", "b"]);
    }
}
