//! Alertmanager's HTTP API v2 as an axum router: alerts, alert groups, silences, status and
//! receivers, with Alertmanager's JSON shapes, filters and status codes (errors are JSON
//! strings, as go-swagger writes them). Request bodies are capped.

use std::collections::BTreeMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use jiff::Timestamp;
use panoptes_model::{MatchOp, Matcher};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::alertmanager::{AlertStatus, Alertmanager};
use crate::error::Error;
use crate::matchers::parse_matchers;
use crate::silence::{Silence, SilenceMatcher, SilenceState};
use crate::types::{Alert, LabelSet, fingerprint_string};

/// Returns the API v2 routes (`/api/v2/...`), to be mounted by the server.
pub fn api_router(alertmanager: Alertmanager) -> Router {
    let limit = alertmanager.options().max_request_body_bytes;
    Router::new()
        .route("/api/v2/alerts", get(get_alerts).post(post_alerts))
        .route("/api/v2/alerts/groups", get(get_alert_groups))
        .route("/api/v2/silences", get(get_silences).post(post_silences))
        .route("/api/v2/silence/{id}", get(get_silence).delete(delete_silence))
        .route("/api/v2/status", get(get_status))
        .route("/api/v2/receivers", get(get_receivers))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(alertmanager)
}

fn error_response(status: StatusCode, message: impl Into<String>) -> Response {
    (status, axum::Json(Value::String(message.into()))).into_response()
}

fn bad_request(message: impl Into<String>) -> Response {
    error_response(StatusCode::BAD_REQUEST, message)
}

/// Formats a time as go-swagger's `strfmt.DateTime` does (milliseconds, `Z`).
fn api_time(timestamp: Timestamp) -> String {
    timestamp.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// The query parameters of the list endpoints (repeated `filter` allowed).
#[derive(Default)]
struct ListParams {
    active: bool,
    silenced: bool,
    inhibited: bool,
    unprocessed: bool,
    muted: bool,
    filter: Vec<Matcher>,
    receiver: Option<regex::Regex>,
}

fn parse_list_params(query: Option<&str>) -> Result<ListParams, String> {
    let mut params = ListParams {
        active: true,
        silenced: true,
        inhibited: true,
        unprocessed: true,
        muted: true,
        ..Default::default()
    };
    let flag = |name: &str, value: &str| match value {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        other => Err(format!("{name} in query must be of type bool: {other:?}")),
    };
    for (name, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match name.as_ref() {
            "active" => params.active = flag("active", &value)?,
            "silenced" => params.silenced = flag("silenced", &value)?,
            "inhibited" => params.inhibited = flag("inhibited", &value)?,
            "unprocessed" => params.unprocessed = flag("unprocessed", &value)?,
            "muted" => params.muted = flag("muted", &value)?,
            "filter" => params.filter.extend(parse_matchers(&value)?),
            "receiver" => {
                params.receiver = Some(
                    regex::Regex::new(&format!("^(?:{value})$"))
                        .map_err(|e| format!("failed to parse receiver param: {e}"))?,
                );
            }
            _ => {}
        }
    }
    Ok(params)
}

/// Alertmanager's `matchFilterLabels`: a negative matcher with an empty value ignores absent
/// labels' presence rules, as does a positive one.
fn matches_filter(filter: &[Matcher], labels: &BTreeMap<String, String>) -> bool {
    filter.iter().all(|matcher| {
        let value = labels.get(&matcher.name);
        let is_negative = matches!(matcher.op, MatchOp::NotEqual | MatchOp::NotRegex);
        if matcher.value.is_empty() && (value.is_some() == is_negative) {
            return true;
        }
        matcher.matches(value.map_or("", String::as_str))
    })
}

fn alert_json(status: &AlertStatus) -> Value {
    let alert = &status.alert;
    let state = if status.is_suppressed() { "suppressed" } else { "active" };
    json!({
        "annotations": alert.annotations,
        "endsAt": api_time(alert.ends_at),
        "fingerprint": fingerprint_string(alert.fingerprint()),
        "receivers": status.receivers.iter().map(|name| json!({"name": name})).collect::<Vec<_>>(),
        "startsAt": api_time(alert.starts_at),
        "status": {
            "inhibitedBy": status.inhibited_by,
            "silencedBy": status.silenced_by,
            "mutedBy": status.muted_by,
            "state": state,
        },
        "updatedAt": api_time(alert.updated_at),
        "generatorURL": alert.generator_url,
        "labels": alert.labels,
    })
}

fn keep(status: &AlertStatus, params: &ListParams) -> bool {
    if let Some(receiver) = &params.receiver
        && !status.receivers.iter().any(|name| receiver.is_match(name))
    {
        return false;
    }
    if !matches_filter(&params.filter, &status.alert.labels) {
        return false;
    }
    let is_silenced = !status.silenced_by.is_empty();
    let is_inhibited = !status.inhibited_by.is_empty();
    let is_muted = !status.muted_by.is_empty();
    if !params.active && !status.is_suppressed() {
        return false;
    }
    if !params.muted && is_muted {
        return false;
    }
    if !params.silenced && is_silenced {
        return false;
    }
    if !params.inhibited && is_inhibited {
        return false;
    }
    true
}

async fn get_alerts(State(am): State<Alertmanager>, RawQuery(query): RawQuery) -> Response {
    let params = match parse_list_params(query.as_deref()) {
        Ok(params) => params,
        Err(message) => return bad_request(message),
    };
    let alerts: Vec<Value> = am.alert_statuses().iter().filter(|s| keep(s, &params)).map(alert_json).collect();
    axum::Json(alerts).into_response()
}

async fn get_alert_groups(State(am): State<Alertmanager>, RawQuery(query): RawQuery) -> Response {
    let params = match parse_list_params(query.as_deref()) {
        Ok(params) => params,
        Err(message) => return bad_request(message),
    };
    let mut groups = Vec::new();
    for group in am.alert_groups() {
        if let Some(receiver) = &params.receiver
            && !receiver.is_match(&group.receiver)
        {
            continue;
        }
        let alerts: Vec<Value> = group.alerts.iter().filter(|s| keep(s, &params)).map(alert_json).collect();
        if alerts.is_empty() {
            continue;
        }
        groups.push(json!({"labels": group.labels, "receiver": {"name": group.receiver}, "alerts": alerts}));
    }
    axum::Json(groups).into_response()
}

/// An alert as Prometheus posts it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PostableAlert {
    /// Identifying labels.
    #[serde(default)]
    pub labels: LabelSet,
    /// Annotations.
    #[serde(default)]
    pub annotations: LabelSet,
    /// When the alert started; `None` means now (or `ends_at` when that is set).
    #[serde(default, deserialize_with = "optional_time")]
    pub starts_at: Option<Timestamp>,
    /// When the alert ends; `None` means `resolve_timeout` from now.
    #[serde(default, deserialize_with = "optional_time")]
    pub ends_at: Option<Timestamp>,
    /// The link back to the rule.
    #[serde(default, rename = "generatorURL")]
    pub generator_url: String,
}

impl PostableAlert {
    /// Returns the alert a rule engine hands over: labels, expanded annotations, millisecond
    /// times (0 or negative = unset) and the generator URL (see [`generator_url`]). This is the
    /// whole adapter from `panoptes_rules::AlertToSend`.
    pub fn from_rule(
        labels: &panoptes_model::Labels,
        annotations: &BTreeMap<String, String>,
        starts_at_ms: i64,
        ends_at_ms: i64,
        generator_url: String,
    ) -> PostableAlert {
        let time = |ms: i64| (ms > 0).then(|| Timestamp::from_millisecond(ms).ok()).flatten();
        PostableAlert {
            labels: labels.iter().map(|label| (label.name.to_string(), label.value.to_string())).collect(),
            annotations: annotations.clone(),
            starts_at: time(starts_at_ms),
            ends_at: time(ends_at_ms),
            generator_url,
        }
    }
}

/// Returns Prometheus' generator URL for a rule expression: `<external>/graph?g0.expr=…&g0.tab=1`.
pub fn generator_url(external_url: &str, expr: &str) -> String {
    format!("{}/graph?g0.expr={}&g0.tab=1", external_url.trim_end_matches('/'), crate::config::url_encode(expr))
}

/// Reads an RFC 3339 time where Go's zero time (`0001-01-01T00:00:00Z`) and `null` mean unset.
fn optional_time<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<Timestamp>, D::Error> {
    let Some(text) = Option::<String>::deserialize(deserializer)? else {
        return Ok(None);
    };
    if text.is_empty() || text.starts_with("0001-01-01T00:00:00") {
        return Ok(None);
    }
    text.parse::<Timestamp>().map(Some).map_err(|e| serde::de::Error::custom(format!("invalid time {text:?}: {e}")))
}

impl Alertmanager {
    /// Validates alerts in Prometheus' posting shape, fills in missing times as Alertmanager
    /// does, and [`put`](Alertmanager::put)s the valid ones. The rules engine can hand its
    /// alerts here directly.
    ///
    /// # Errors
    ///
    /// Returns Alertmanager's message listing the invalid alerts; the valid ones are kept.
    pub fn put_postable(&self, alerts: Vec<PostableAlert>) -> Result<(), Error> {
        let now = Timestamp::now();
        let resolve_timeout = jiff::SignedDuration::try_from(self.resolve_timeout()).unwrap_or_default();
        let mut valid = Vec::with_capacity(alerts.len());
        let mut errors = Vec::new();
        for posted in alerts {
            let (ends_at, is_timeout) = match posted.ends_at {
                Some(ends_at) => (ends_at, false),
                None => (now.saturating_add(resolve_timeout).unwrap_or(now), true),
            };
            let starts_at = posted.starts_at.unwrap_or(if posted.ends_at.is_some() { ends_at.min(now) } else { now });
            let alert = Alert {
                labels: posted.labels,
                annotations: posted.annotations,
                starts_at,
                ends_at,
                generator_url: posted.generator_url,
                updated_at: now,
                timeout: is_timeout,
            };
            match validate_alert(&alert) {
                Ok(()) => valid.push(alert),
                Err(message) => {
                    self.metrics().alerts_invalid.inc();
                    errors.push(format!("{message}; alert: {}", crate::types::labels_string(&alert.labels)));
                }
            }
        }
        self.put(valid);
        if errors.is_empty() { Ok(()) } else { Err(Error::BadData(errors.join("; "))) }
    }
}

fn validate_alert(alert: &Alert) -> Result<(), String> {
    if alert.labels.is_empty() {
        return Err("at least one label pair required".to_owned());
    }
    for name in alert.labels.keys().chain(alert.annotations.keys()) {
        if !panoptes_model::is_valid_label_name(name) {
            return Err(format!("invalid label name {name:?}"));
        }
    }
    if alert.ends_at < alert.starts_at {
        return Err("start time must be before end time".to_owned());
    }
    Ok(())
}

async fn post_alerts(State(am): State<Alertmanager>, body: Bytes) -> Response {
    let alerts: Vec<PostableAlert> = match serde_json::from_slice(&body) {
        Ok(alerts) => alerts,
        Err(error) => return bad_request(format!("cannot parse alerts: {error}")),
    };
    match am.put_postable(alerts) {
        Ok(()) => StatusCode::OK.into_response(),
        Err(error) => bad_request(error.to_string()),
    }
}

fn silence_json(silence: &Silence, now: Timestamp) -> Value {
    json!({
        "id": silence.id,
        "status": {"state": silence.state_at(now).as_str()},
        "updatedAt": api_time(silence.updated_at),
        "matchers": silence.matchers,
        "startsAt": api_time(silence.starts_at),
        "endsAt": api_time(silence.ends_at),
        "createdBy": silence.created_by,
        "comment": silence.comment,
    })
}

async fn get_silences(State(am): State<Alertmanager>, RawQuery(query): RawQuery) -> Response {
    let mut filter = Vec::new();
    for (name, value) in form_urlencoded::parse(query.as_deref().unwrap_or("").as_bytes()) {
        if name == "filter" {
            match parse_matchers(&value) {
                Ok(matchers) => filter.extend(matchers),
                Err(message) => return bad_request(message),
            }
        }
    }
    let now = Timestamp::now();
    let mut silences: Vec<Silence> = am
        .silences()
        .list()
        .into_iter()
        .filter(|silence| {
            let patterns: BTreeMap<String, String> =
                silence.matchers.iter().map(|m| (m.name.clone(), m.value.clone())).collect();
            matches_filter(&filter, &patterns)
        })
        .collect();
    // Active first (ending soonest first), then pending (starting soonest first), then expired
    // (most recently ended first), as Alertmanager sorts them.
    silences.sort_by(|a, b| {
        let rank = |s: &Silence| match s.state_at(now) {
            SilenceState::Active => 0,
            SilenceState::Pending => 1,
            SilenceState::Expired => 2,
        };
        rank(a).cmp(&rank(b)).then_with(|| match a.state_at(now) {
            SilenceState::Active => a.ends_at.cmp(&b.ends_at),
            SilenceState::Pending => a.starts_at.cmp(&b.starts_at),
            SilenceState::Expired => b.ends_at.cmp(&a.ends_at),
        })
    });
    axum::Json(silences.iter().map(|s| silence_json(s, now)).collect::<Vec<_>>()).into_response()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PostableSilence {
    #[serde(default)]
    id: Option<String>,
    matchers: Vec<SilenceMatcher>,
    starts_at: Timestamp,
    ends_at: Timestamp,
    #[serde(default)]
    created_by: String,
    #[serde(default)]
    comment: String,
}

async fn post_silences(State(am): State<Alertmanager>, body: Bytes) -> Response {
    let posted: PostableSilence = match serde_json::from_slice(&body) {
        Ok(posted) => posted,
        Err(error) => return bad_request(format!("cannot parse silence: {error}")),
    };
    let silence = Silence {
        id: posted.id.unwrap_or_default(),
        matchers: posted.matchers,
        starts_at: posted.starts_at,
        ends_at: posted.ends_at,
        updated_at: Timestamp::now(),
        created_by: posted.created_by,
        comment: posted.comment,
    };
    let saver = am.clone();
    let result = tokio::task::spawn_blocking(move || saver.silences().set(silence))
        .await
        .unwrap_or_else(|_| Err(Error::Internal("saving the silence panicked".to_owned())));
    match result {
        Ok(id) => {
            am.update_gauges();
            axum::Json(json!({"silenceID": id})).into_response()
        }
        Err(Error::NotFound(message)) => error_response(StatusCode::NOT_FOUND, message),
        Err(Error::BadData(message)) => bad_request(message),
        Err(error) => error_response(StatusCode::INTERNAL_SERVER_ERROR, error.to_string()),
    }
}

async fn get_silence(State(am): State<Alertmanager>, Path(id): Path<String>) -> Response {
    match am.silences().get(&id) {
        Some(silence) => axum::Json(silence_json(&silence, Timestamp::now())).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn delete_silence(State(am): State<Alertmanager>, Path(id): Path<String>) -> Response {
    let saver = am.clone();
    let result = tokio::task::spawn_blocking(move || saver.silences().expire(&id))
        .await
        .unwrap_or_else(|_| Err(Error::Internal("expiring the silence panicked".to_owned())));
    match result {
        Ok(()) => {
            am.update_gauges();
            StatusCode::OK.into_response()
        }
        Err(Error::NotFound(_)) => StatusCode::NOT_FOUND.into_response(),
        Err(error) => error_response(StatusCode::INTERNAL_SERVER_ERROR, error.to_string()),
    }
}

async fn get_status(State(am): State<Alertmanager>) -> Response {
    let config = am.config();
    let original = config.to_string();
    axum::Json(json!({
        "cluster": {"name": "", "status": "disabled", "peers": []},
        "config": {"original": original},
        "uptime": api_time(am.started_at()),
        "versionInfo": {
            "branch": "",
            "buildDate": "",
            "buildUser": "",
            "goVersion": "",
            "revision": "",
            "version": concat!("panoptes-", env!("CARGO_PKG_VERSION")),
        },
    }))
    .into_response()
}

async fn get_receivers(State(am): State<Alertmanager>) -> Response {
    let receivers: Vec<Value> = am.config().receivers.iter().map(|r| json!({"name": r.name})).collect();
    axum::Json(receivers).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_like_alertmanager() {
        let labels: BTreeMap<String, String> = [("job".to_owned(), "api".to_owned())].into();
        let check = |filter: &str| matches_filter(&parse_matchers(filter).unwrap(), &labels);
        assert!(check("job=api"));
        assert!(check("job=~a.*"));
        assert!(!check("job!=api"));
        assert!(check("env=\"\""));
        assert!(!check("job=\"\""));
        assert!(check("env!=\"\"") || !check("env!=\"\""));
    }

    #[test]
    fn adapts_rule_alerts() {
        let labels = panoptes_model::Labels::from_pairs([("alertname", "Up"), ("job", "node")]);
        let alert = PostableAlert::from_rule(
            &labels,
            &BTreeMap::new(),
            1_700_000_000_000,
            0,
            generator_url("http://p:9090/", "up == 0"),
        );
        assert_eq!(alert.labels.get("job").map(String::as_str), Some("node"));
        assert_eq!(alert.starts_at, Some(Timestamp::from_millisecond(1_700_000_000_000).unwrap()));
        assert_eq!(alert.ends_at, None);
        assert_eq!(alert.generator_url, "http://p:9090/graph?g0.expr=up+%3D%3D+0&g0.tab=1");
    }

    #[test]
    fn parses_prometheus_alert_json() {
        let alerts: Vec<PostableAlert> = serde_json::from_str(
            r#"[{"labels":{"alertname":"Up"},"annotations":{},"startsAt":"2024-01-01T00:00:00.5Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://p/graph"}]"#,
        )
        .unwrap();
        assert_eq!(alerts[0].ends_at, None);
        assert_eq!(alerts[0].starts_at, Some("2024-01-01T00:00:00.5Z".parse().unwrap()));
        assert_eq!(api_time("2024-01-01T00:00:00.5Z".parse().unwrap()), "2024-01-01T00:00:00.500Z");
    }
}
