//! `GET /api/v1/alerts/history`: the history store behind Prometheus' JSON envelope
//! (`{"status":"success","data":[...]}`, errors with `errorType` and `error`).

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use jiff::Timestamp;
use serde_json::json;

use super::{EventKind, History, HistoryQuery};
use crate::matchers::{Matchers, parse_matchers};

/// The number of records a query returns when it sets no `limit`.
const DEFAULT_LIMIT: usize = 500;

/// Returns the route of `GET /api/v1/alerts/history`, to be mounted by the server.
pub fn history_router(history: History) -> Router {
    Router::new().route("/api/v1/alerts/history", get(get_history)).with_state(history)
}

fn error(status: StatusCode, error_type: &str, message: impl Into<String>) -> Response {
    (status, axum::Json(json!({"status": "error", "errorType": error_type, "error": message.into()}))).into_response()
}

async fn get_history(State(history): State<History>, RawQuery(query): RawQuery) -> Response {
    let max_limit = history.options().max_query_limit;
    let query = match parse_query(query.as_deref().unwrap_or(""), max_limit) {
        Ok(query) => query,
        Err(message) => return error(StatusCode::BAD_REQUEST, "bad_data", message),
    };
    let limit = query.limit;
    let page = match tokio::task::spawn_blocking(move || history.query(&query)).await {
        Ok(Ok(page)) => page,
        Ok(Err(failure)) => {
            tracing::error!(error = %failure, "alert history query failed");
            return error(StatusCode::INTERNAL_SERVER_ERROR, "internal", "cannot read the alert history");
        }
        Err(_) => return error(StatusCode::INTERNAL_SERVER_ERROR, "internal", "alert history query panicked"),
    };
    let mut body = json!({"status": "success", "data": page.records});
    if page.is_truncated {
        body["warnings"] = json!([format!("more records match; only the newest {limit} are returned")]);
    }
    axum::Json(body).into_response()
}

/// Parses the query string of a history request.
fn parse_query(raw: &str, max_limit: usize) -> Result<HistoryQuery, String> {
    let mut query = HistoryQuery { limit: DEFAULT_LIMIT.min(max_limit), ..HistoryQuery::default() };
    for (name, value) in form_urlencoded::parse(raw.as_bytes()) {
        match name.as_ref() {
            "start" => query.start = Some(parse_time(&value).map_err(|e| format!("invalid parameter \"start\": {e}"))?),
            "end" => query.end = Some(parse_time(&value).map_err(|e| format!("invalid parameter \"end\": {e}"))?),
            "match[]" => query.matchers.push(parse_selector(&value)?),
            "receiver" => query.receiver = Some(value.into_owned()),
            "kind" => {
                query.kind = match value.as_ref() {
                    "state" => Some(EventKind::State),
                    "delivery" => Some(EventKind::Delivery),
                    other => return Err(format!("invalid parameter \"kind\": {other:?} is not state or delivery")),
                }
            }
            "limit" => {
                let limit: usize =
                    value.parse().map_err(|_| format!("invalid parameter \"limit\": {value:?} is not a number"))?;
                if limit == 0 {
                    return Err("invalid parameter \"limit\": must be positive".to_owned());
                }
                if limit > max_limit {
                    return Err(format!("invalid parameter \"limit\": at most {max_limit} records per query"));
                }
                query.limit = limit;
            }
            _ => {}
        }
    }
    if let (Some(start), Some(end)) = (query.start, query.end)
        && end < start
    {
        return Err("end timestamp must not be before start time".to_owned());
    }
    Ok(query)
}

/// Parses a time as Prometheus' API does: Unix seconds (with a fraction) or RFC 3339.
fn parse_time(text: &str) -> Result<Timestamp, String> {
    if let Ok(seconds) = text.parse::<f64>() {
        if !seconds.is_finite() {
            return Err(format!("cannot parse {text:?} to a valid timestamp"));
        }
        let nanos = (seconds * 1e9).round();
        return Timestamp::from_nanosecond(i128::from(nanos as i64))
            .map_err(|_| format!("cannot parse {text:?} to a valid timestamp"));
    }
    text.parse::<Timestamp>().map_err(|_| format!("cannot parse {text:?} to a valid timestamp"))
}

/// Parses a series selector over alert labels: `{a="b"}`, `AlertName{a="b"}` or `AlertName`
/// (a leading name matches `alertname`).
fn parse_selector(text: &str) -> Result<Matchers, String> {
    let trimmed = text.trim();
    let (name, rest) = match trimmed.find('{') {
        Some(brace) => (trimmed[..brace].trim(), &trimmed[brace..]),
        None => (trimmed, ""),
    };
    let mut matchers = if rest.is_empty() {
        Vec::new()
    } else {
        parse_matchers(rest).map_err(|e| format!("invalid parameter \"match[]\": {e}"))?
    };
    if !name.is_empty() {
        let is_name = name
            .chars()
            .enumerate()
            .all(|(index, c)| c.is_ascii_alphabetic() || c == '_' || c == ':' || (index > 0 && c.is_ascii_digit()));
        if !is_name {
            return Err(format!("invalid parameter \"match[]\": {text:?} is not a series selector"));
        }
        matchers.push(panoptes_model::Matcher::equal("alertname", name));
    }
    if matchers.is_empty() {
        return Err(format!("invalid parameter \"match[]\": {text:?} has no matchers"));
    }
    Ok(Matchers(matchers))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_times_like_prometheus() {
        assert_eq!(parse_time("1700000000").unwrap(), Timestamp::from_second(1_700_000_000).unwrap());
        assert_eq!(parse_time("1700000000.5").unwrap(), Timestamp::from_millisecond(1_700_000_000_500).unwrap());
        assert_eq!(parse_time("2023-11-14T22:13:20Z").unwrap(), Timestamp::from_second(1_700_000_000).unwrap());
        assert!(parse_time("yesterday").is_err());
        assert!(parse_time("NaN").is_err());
    }

    #[test]
    fn parses_selectors_over_alert_labels() {
        let labels = |pairs: &[(&str, &str)]| -> crate::types::LabelSet {
            pairs.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect()
        };
        let selector = parse_selector("HighLatency{severity=~\"crit.*\"}").unwrap();
        assert!(selector.matches(&labels(&[("alertname", "HighLatency"), ("severity", "critical")])));
        assert!(!selector.matches(&labels(&[("alertname", "Other"), ("severity", "critical")])));
        assert!(parse_selector("{team=\"mesh\"}").unwrap().matches(&labels(&[("team", "mesh")])));
        assert!(parse_selector("{}").is_err());
        assert!(parse_selector("not a selector").is_err());
        assert!(parse_selector("{team=\"mesh\"").is_err());
    }

    #[test]
    fn rejects_bad_parameters() {
        assert!(parse_query("kind=other", 10).is_err());
        assert!(parse_query("limit=0", 10).is_err());
        assert!(parse_query("limit=11", 10).is_err());
        assert!(parse_query("start=2&end=1", 10).is_err());
        let query = parse_query("kind=delivery&receiver=hook&limit=7&match[]=A", 10).unwrap();
        assert_eq!(query.kind, Some(EventKind::Delivery));
        assert_eq!(query.receiver.as_deref(), Some("hook"));
        assert_eq!(query.limit, 7);
        assert_eq!(query.matchers.len(), 1);
    }
}
