//! The HTTP side of the InfluxDB endpoints: parameters, body, answers in InfluxDB's JSON shapes.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use panoptes_model::{Classify, ErrorKind};
use panoptes_storage::Storage;

use super::InfluxOptions;
use super::line::LineParser;
use super::mapping::{Mapper, Precision};
use crate::StorageHandle;
use crate::body::{self, BodyError};

/// The InfluxDB version announced by `/ping`; agents only check that the header exists.
const INFLUXDB_VERSION: &str = "1.8.10";

/// The largest `/query` body read: queries are short statements.
const MAX_QUERY_BODY_BYTES: usize = 1 << 20;

#[derive(Clone)]
pub(crate) struct InfluxState {
    storage: StorageHandle,
    options: Arc<InfluxOptions>,
}

impl InfluxState {
    pub(crate) fn new(storage: StorageHandle, options: InfluxOptions) -> Self {
        Self { storage, options: Arc::new(options) }
    }
}

/// Which API a request came through, deciding the shape of error answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Api {
    V1,
    V2,
}

/// An error answer in the request's API shape.
#[derive(Debug)]
struct WriteError {
    api: Api,
    status: StatusCode,
    message: String,
}

impl WriteError {
    fn new(api: Api, status: StatusCode, message: impl Into<String>) -> Self {
        Self { api, status, message: message.into() }
    }

    fn body_error(api: Api, error: BodyError) -> Self {
        let status = match error {
            BodyError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            BodyError::Timeout(_) => StatusCode::REQUEST_TIMEOUT,
            BodyError::Malformed(_) => StatusCode::BAD_REQUEST,
            BodyError::UnsupportedEncoding(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        };
        Self::new(api, status, error.to_string())
    }

    fn storage_error(api: Api, error: &panoptes_storage::Error) -> Self {
        let status = match error.kind() {
            ErrorKind::BadData => StatusCode::BAD_REQUEST,
            ErrorKind::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::Timeout | ErrorKind::Canceled => StatusCode::SERVICE_UNAVAILABLE,
            ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Self::new(api, status, error.to_string())
    }
}

impl IntoResponse for WriteError {
    fn into_response(self) -> Response {
        let body = match self.api {
            // InfluxDB 1.x: {"error": "..."} and the same text in X-Influxdb-Error.
            Api::V1 => serde_json::json!({ "error": self.message }),
            // InfluxDB 2.x: {"code": "...", "message": "..."} with its error codes.
            Api::V2 => {
                let code = match self.status {
                    StatusCode::BAD_REQUEST | StatusCode::UNSUPPORTED_MEDIA_TYPE => "invalid",
                    StatusCode::PAYLOAD_TOO_LARGE => "request too large",
                    StatusCode::TOO_MANY_REQUESTS => "too many requests",
                    StatusCode::SERVICE_UNAVAILABLE => "unavailable",
                    StatusCode::NOT_FOUND => "not found",
                    _ => "internal error",
                };
                serde_json::json!({ "code": code, "message": self.message })
            }
        };
        let mut response = (self.status, [(header::CONTENT_TYPE, "application/json; charset=utf-8")], body.to_string())
            .into_response();
        if self.api == Api::V1 {
            // Header values cannot hold every byte a message may: keep the header best-effort.
            let printable: String = self.message.chars().filter(|c| (' '..='~').contains(c)).take(1024).collect();
            if let Ok(value) = HeaderValue::from_str(&printable) {
                response.headers_mut().insert("x-influxdb-error", value);
            }
        }
        response
    }
}

fn query_params(uri: &Uri) -> Vec<(String, String)> {
    form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes()).into_owned().collect()
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
}

fn now_ms() -> i64 {
    let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX)
}

/// `POST /write?db=&rp=&precision=` (InfluxDB 1.x; `u` and `p` are accepted and ignored).
pub(crate) async fn write_v1(State(state): State<InfluxState>, uri: Uri, headers: HeaderMap, body: Body) -> Response {
    let params = query_params(&uri);
    let Some(precision) = Precision::parse_v1(param(&params, "precision")) else {
        let message = format!("invalid precision {:?}: expected n, u, ms, s, m or h", param(&params, "precision"));
        return WriteError::new(Api::V1, StatusCode::BAD_REQUEST, message).into_response();
    };
    let db = param(&params, "db").filter(|db| !db.is_empty()).map(str::to_owned);
    write(state, Api::V1, db, precision, &headers, body)
        .await
        .map_or_else(IntoResponse::into_response, |s| s.into_response())
}

/// `POST /api/v2/write?org=&bucket=&precision=` (InfluxDB 2.x). As in VictoriaMetrics, only a
/// `db` parameter (not `bucket`) becomes a label.
pub(crate) async fn write_v2(State(state): State<InfluxState>, uri: Uri, headers: HeaderMap, body: Body) -> Response {
    let params = query_params(&uri);
    let Some(precision) = Precision::parse_v2(param(&params, "precision")) else {
        let message = format!("invalid precision {:?}: expected ns, us, ms or s", param(&params, "precision"));
        return WriteError::new(Api::V2, StatusCode::BAD_REQUEST, message).into_response();
    };
    let db = param(&params, "db").filter(|db| !db.is_empty()).map(str::to_owned);
    write(state, Api::V2, db, precision, &headers, body)
        .await
        .map_or_else(IntoResponse::into_response, |s| s.into_response())
}

async fn write(
    state: InfluxState,
    api: Api,
    db: Option<String>,
    precision: Precision,
    headers: &HeaderMap,
    body: Body,
) -> Result<StatusCode, WriteError> {
    let now_ms = now_ms();
    let encoding = body::content_encoding(headers).map_err(|error| WriteError::body_error(api, error))?;
    let storage = state
        .storage
        .get()
        .ok_or_else(|| WriteError::new(api, StatusCode::SERVICE_UNAVAILABLE, "storage is not ready yet"))?;
    let limit = state.options.max_body_bytes;
    let raw = body::read_capped(headers, body, limit, state.options.read_timeout)
        .await
        .map_err(|error| WriteError::body_error(api, error))?;
    let options = Arc::clone(&state.options);
    // Decompressing, parsing and committing (which may fsync the WAL) stay off the async workers.
    let outcome = tokio::task::spawn_blocking(move || {
        let decoded =
            body::decode(raw, encoding, options.max_body_bytes).map_err(|error| WriteError::body_error(api, error))?;
        let mapper = Mapper { options: &options, db: db.as_deref(), precision, now_ms };
        write_lines(storage.as_ref(), &decoded, &mapper).map_err(|error| WriteError::storage_error(api, &error))
    })
    .await
    .map_err(|error| {
        WriteError::new(api, StatusCode::INTERNAL_SERVER_ERROR, format!("write task failed: {error}"))
    })??;
    match outcome.error_message() {
        None => Ok(StatusCode::NO_CONTENT),
        Some(message) => {
            tracing::debug!(
                rejected_lines = outcome.rejected_lines,
                rejected_samples = outcome.rejected_samples,
                "influx write partially rejected"
            );
            Err(WriteError::new(api, StatusCode::BAD_REQUEST, message))
        }
    }
}

/// What happened to the lines of one request.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct WriteOutcome {
    /// Lines holding a point (blank lines and comments are not counted).
    pub(crate) lines: usize,
    /// Lines refused whole (malformed, or over a limit).
    pub(crate) rejected_lines: usize,
    /// Samples stored.
    pub(crate) accepted_samples: u64,
    /// Samples the store refused (out of order, duplicate, invalid labels).
    pub(crate) rejected_samples: u64,
    /// The first problem, described for the client.
    pub(crate) first_error: Option<String>,
}

impl WriteOutcome {
    /// Returns the `400` message when something was refused, `None` when everything was stored.
    pub(crate) fn error_message(&self) -> Option<String> {
        let first = self.first_error.as_ref()?;
        Some(format!(
            "partial write: {first} ({} of {} lines and {} samples rejected; the other lines were stored)",
            self.rejected_lines, self.lines, self.rejected_samples
        ))
    }

    fn note(&mut self, message: impl FnOnce() -> String) {
        if self.first_error.is_none() {
            self.first_error = Some(message());
        }
    }
}

/// Parses `body` and appends every valid line to `storage` in one commit.
///
/// # Errors
///
/// Returns a storage error that concerns the whole batch (a limit, the store being closed, a
/// failed commit); per-line and per-sample problems are in the outcome instead.
pub(crate) fn write_lines(
    storage: &dyn Storage,
    body: &[u8],
    mapper: &Mapper<'_>,
) -> Result<WriteOutcome, panoptes_storage::Error> {
    let mut appender = storage.appender();
    let mut outcome = WriteOutcome::default();
    let mut fatal = None;
    for (raw, parsed) in LineParser::new(body) {
        outcome.lines += 1;
        let point = match parsed {
            Ok(point) => point,
            Err(error) => {
                outcome.rejected_lines += 1;
                outcome.note(|| {
                    format!(
                        "unable to parse line {}, column {}: {}: {raw:?}",
                        error.line,
                        error.column,
                        error.message,
                        raw = raw.to_string()
                    )
                });
                continue;
            }
        };
        let mapped = mapper.map_point(&point, |labels, t, v| {
            if fatal.is_some() {
                return;
            }
            match appender.append(labels, t, v) {
                Ok(()) => outcome.accepted_samples += 1,
                Err(error) if error.is_sample_error() => {
                    outcome.rejected_samples += 1;
                    outcome.note(|| format!("line {}: {error}", raw.number));
                }
                Err(error) => fatal = Some(error),
            }
        });
        if let Some(error) = fatal {
            return Err(error);
        }
        if let Err(message) = mapped {
            outcome.rejected_lines += 1;
            outcome.note(|| format!("line {}: {message}", raw.number));
        }
    }
    appender.commit()?;
    Ok(outcome)
}

/// `GET|HEAD /ping`: `204` with the version header, as InfluxDB answers health probes.
pub(crate) async fn ping() -> Response {
    (StatusCode::NO_CONTENT, [("x-influxdb-version", INFLUXDB_VERSION), ("x-influxdb-build", "OSS")]).into_response()
}

/// `GET|POST /query`: answers the statements agents send before writing (`SHOW DATABASES`,
/// `CREATE DATABASE`, which Telegraf's InfluxDB output sends at start-up) and refuses the rest;
/// Panoptes is queried with PromQL.
pub(crate) async fn query(
    State(state): State<InfluxState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let mut params = query_params(&uri);
    if method == Method::POST {
        match body::read_capped(&headers, body, MAX_QUERY_BODY_BYTES, state.options.read_timeout).await {
            Ok(form) => params.extend(form_urlencoded::parse(&form).into_owned()),
            Err(error) => return WriteError::body_error(Api::V1, error).into_response(),
        }
    }
    let Some(q) = param(&params, "q") else {
        return WriteError::new(Api::V1, StatusCode::BAD_REQUEST, "missing required parameter \"q\"").into_response();
    };
    let mut results = Vec::new();
    for (statement_id, statement) in q.split(';').map(str::trim).filter(|s| !s.is_empty()).enumerate() {
        let words: Vec<String> = statement.split_whitespace().take(2).map(str::to_ascii_uppercase).collect();
        let result = match words.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
            ["SHOW", "DATABASES"] => {
                let values: Vec<[&str; 1]> = state.options.database_names.iter().map(|name| [name.as_str()]).collect();
                serde_json::json!({
                    "statement_id": statement_id,
                    "series": [{ "name": "databases", "columns": ["name"], "values": values }],
                })
            }
            ["CREATE", "DATABASE"] | ["CREATE", "RETENTION"] => serde_json::json!({ "statement_id": statement_id }),
            _ => {
                let message = format!(
                    "unsupported InfluxQL statement {statement:?}: only SHOW DATABASES and CREATE DATABASE are \
                     answered; query Panoptes with PromQL"
                );
                return WriteError::new(Api::V1, StatusCode::BAD_REQUEST, message).into_response();
            }
        };
        results.push(result);
    }
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::json!({ "results": results }).to_string(),
    )
        .into_response()
}
