//! The HTTP API: one router per endpoint family, merged here, plus what every family shares:
//! [`ApiError`] (the only place an error becomes a status code), the capped body reader and the
//! middleware that counts requests and logs internal errors.

mod body;
mod federate;
mod prometheus;
mod remote_read;
pub(crate) mod remote_write;
mod status;

use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use panoptes_model::{Classify, ErrorKind, Matcher};

use crate::metrics::{HandlerLabels, RequestLabels};
use crate::state::AppState;

pub(crate) use body::read_body_capped;

/// Returns the router of every endpoint, the binary's extra routes (other ingestion protocols)
/// included, with request metrics and internal-error logging.
pub(crate) fn router(state: AppState, extra_routes: Option<Router>) -> Router {
    let routes = Router::new()
        .merge(status::router())
        .merge(prometheus::router())
        .merge(remote_write::router())
        .merge(remote_read::router())
        .merge(federate::router())
        .with_state(state.clone());
    let routes = match extra_routes {
        Some(extra) => routes.merge(extra),
        None => routes,
    };
    routes.layer(middleware::from_fn_with_state(state, observe_request))
}

/// Counts and times every request by matched route, and logs internal errors, whose details
/// ride in a response extension and never reach the client.
async fn observe_request(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let handler = request.extensions().get::<MatchedPath>().map_or("other", MatchedPath::as_str).to_owned();
    let method = request.method().clone();
    let started = Instant::now();
    let response = next.run(request).await;
    let elapsed = started.elapsed().as_secs_f64();
    if let Some(InternalError(detail)) = response.extensions().get::<InternalError>() {
        tracing::error!(handler = %handler, method = %method, status = response.status().as_u16(), error = %detail, "request failed");
    }
    let metrics = state.metrics();
    metrics
        .http_requests
        .get_or_create(&RequestLabels { handler: handler.clone(), code: response.status().as_u16() })
        .inc();
    metrics.http_request_duration.get_or_create(&HandlerLabels { handler }).observe(elapsed);
    response
}

/// Administration of the metrics store that is not part of [`panoptes_storage::Storage`]:
/// cardinality statistics and deletion. Implemented by the binary over its concrete store, so
/// that this crate never depends on one.
pub trait TsdbAdmin: Send + Sync {
    /// Returns head cardinality statistics, each list cut to `limit` entries.
    ///
    /// # Errors
    ///
    /// Returns [`panoptes_storage::Error::Unavailable`] while the store is not open.
    fn stats(&self, limit: usize) -> panoptes_storage::Result<TsdbStats>;

    /// Deletes the samples of series matching every matcher in `mint..=maxt`.
    ///
    /// # Errors
    ///
    /// Returns an error when the store is not open or the deletion cannot be logged.
    fn delete_series(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> panoptes_storage::Result<()>;

    /// Rewrites blocks with deletions so that deleted samples are gone from disk.
    ///
    /// # Errors
    ///
    /// Returns an error when the store is not open or a block cannot be rewritten.
    fn clean_tombstones(&self) -> panoptes_storage::Result<()>;
}

/// The running configuration, shown and reloaded through the API. Implemented by the binary,
/// which owns the configuration file and everything configured from it.
pub trait ConfigControl: Send + Sync {
    /// Reloads the configuration file and applies it. Runs on a blocking thread.
    ///
    /// # Errors
    ///
    /// Returns why the file was not applied; the running configuration then stays in force.
    fn reload(&self) -> Result<(), String>;

    /// Returns the running configuration as YAML, with secrets hidden.
    fn yaml(&self) -> String;

    /// Returns whether the last reload succeeded and when the running configuration was loaded,
    /// in milliseconds since the epoch.
    fn last_reload(&self) -> (bool, i64);

    /// Returns the configuration's external labels (`global.external_labels`).
    fn external_labels(&self) -> panoptes_model::Labels {
        panoptes_model::Labels::empty()
    }
}

/// Head cardinality statistics, shaped like Prometheus' `/api/v1/status/tsdb` answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TsdbStats {
    /// Series in the head.
    pub num_series: u64,
    /// Distinct label pairs in the head.
    pub num_label_pairs: u64,
    /// Chunks in the head.
    pub chunk_count: u64,
    /// Oldest sample time in the head, in milliseconds.
    pub min_time: i64,
    /// Newest sample time in the head, in milliseconds.
    pub max_time: i64,
    /// Metric names with the most series.
    pub series_count_by_metric_name: Vec<(String, u64)>,
    /// Label names with the most values.
    pub label_value_count_by_label_name: Vec<(String, u64)>,
    /// Label names by the memory their values take.
    pub memory_in_bytes_by_label_name: Vec<(String, u64)>,
    /// Label pairs with the most series.
    pub series_count_by_label_value_pair: Vec<(String, u64)>,
}

/// The internal details of a server-side failure, logged by [`observe_request`].
#[derive(Clone, Debug)]
struct InternalError(String);

/// An error answered to an HTTP client.
#[derive(Debug)]
pub(crate) enum ApiError {
    /// A failure of some [`ErrorKind`], with a message safe to show the client (for
    /// [`ErrorKind::Internal`], the message is logged and the client sees a generic text).
    Kind {
        /// What kind of failure.
        kind: ErrorKind,
        /// The message.
        message: String,
    },
    /// The request body is larger than allowed.
    PayloadTooLarge(String),
    /// The request's content type or encoding is not supported.
    UnsupportedMediaType(String),
    /// The client did not send the request body in time.
    RequestTimeout(String),
    /// A query failed during evaluation for a reason the query is responsible for (Prometheus'
    /// `execution` error type: duplicate label sets, too many samples, ...).
    Execution(String),
}

impl ApiError {
    /// Returns an error of `kind` with `message`.
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ApiError::Kind { kind, message: message.into() }
    }

    /// Returns a `BadData` error.
    pub(crate) fn bad_data(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::BadData, message)
    }

    /// Returns an `Unavailable` error for endpoints that need the store before it is open.
    pub(crate) fn storage_not_ready() -> Self {
        Self::new(ErrorKind::Unavailable, "Service Unavailable")
    }

    /// Returns an error from any classified error, using its display text as message.
    pub(crate) fn from_classified(error: &(impl Classify + std::fmt::Display)) -> Self {
        Self::new(error.kind(), error.to_string())
    }

    /// Returns the HTTP status of this error: the one place where kinds become statuses.
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            ApiError::Kind { kind, .. } => match kind {
                ErrorKind::BadData => StatusCode::BAD_REQUEST,
                ErrorKind::NotFound => StatusCode::NOT_FOUND,
                ErrorKind::Timeout => StatusCode::SERVICE_UNAVAILABLE,
                // Prometheus answers 499 ("client closed request") when the client went away.
                ErrorKind::Canceled => StatusCode::from_u16(499).unwrap_or(StatusCode::BAD_REQUEST),
                ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
                ErrorKind::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
                ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            },
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::Execution(_) => StatusCode::UNPROCESSABLE_ENTITY,
        }
    }

    /// Returns Prometheus' `errorType` for this error, as its `web/api/v1` answers it.
    pub(crate) fn error_type(&self) -> &'static str {
        match self {
            ApiError::Kind { kind, .. } => match kind {
                ErrorKind::BadData => "bad_data",
                ErrorKind::NotFound => "not_found",
                ErrorKind::Timeout => "timeout",
                ErrorKind::Canceled => "canceled",
                ErrorKind::Unavailable => "unavailable",
                ErrorKind::TooManyRequests => "execution",
                ErrorKind::Internal => "internal",
            },
            ApiError::PayloadTooLarge(_) | ApiError::UnsupportedMediaType(_) | ApiError::RequestTimeout(_) => {
                "bad_data"
            }
            ApiError::Execution(_) => "execution",
        }
    }

    /// Splits the error into the message shown to the client and, for internal errors, the
    /// details to log.
    fn into_message(self) -> (String, Option<InternalError>) {
        match self {
            ApiError::Kind { kind: ErrorKind::Internal, message } => {
                ("internal server error".to_owned(), Some(InternalError(message)))
            }
            ApiError::Kind { message, .. }
            | ApiError::PayloadTooLarge(message)
            | ApiError::UnsupportedMediaType(message)
            | ApiError::RequestTimeout(message)
            | ApiError::Execution(message) => (message, None),
        }
    }

    /// Renders the error in Prometheus' JSON envelope
    /// (`{"status":"error","errorType":...,"error":...}`), with the same status as
    /// [`IntoResponse`].
    pub(crate) fn into_prometheus_response(self) -> Response {
        let status = self.status();
        let error_type = self.error_type();
        let (message, internal) = self.into_message();
        // Written by hand to keep Prometheus' key order.
        let body = format!(
            r#"{{"status":"error","errorType":{},"error":{}}}"#,
            serde_json::Value::from(error_type),
            serde_json::Value::from(message)
        );
        let mut response = (status, [(header::CONTENT_TYPE, "application/json")], body).into_response();
        if let Some(internal) = internal {
            response.extensions_mut().insert(internal);
        }
        response
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let (body, internal) = self.into_message();
        let mut response =
            (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], format!("{body}\n")).into_response();
        if let Some(internal) = internal {
            response.extensions_mut().insert(internal);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(error: ApiError, expected: StatusCode) {
        assert_eq!(error.status(), expected);
        assert_eq!(error.into_response().status(), expected);
    }

    #[test]
    fn each_error_kind_has_its_status() {
        check(ApiError::bad_data("x"), StatusCode::BAD_REQUEST);
        check(ApiError::new(ErrorKind::NotFound, "x"), StatusCode::NOT_FOUND);
        check(ApiError::new(ErrorKind::Timeout, "x"), StatusCode::SERVICE_UNAVAILABLE);
        check(ApiError::new(ErrorKind::Canceled, "x"), StatusCode::from_u16(499).unwrap());
        check(ApiError::storage_not_ready(), StatusCode::SERVICE_UNAVAILABLE);
        check(ApiError::new(ErrorKind::TooManyRequests, "x"), StatusCode::TOO_MANY_REQUESTS);
        check(ApiError::new(ErrorKind::Internal, "x"), StatusCode::INTERNAL_SERVER_ERROR);
        check(ApiError::PayloadTooLarge("x".into()), StatusCode::PAYLOAD_TOO_LARGE);
        check(ApiError::UnsupportedMediaType("x".into()), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        check(ApiError::RequestTimeout("x".into()), StatusCode::REQUEST_TIMEOUT);
        check(ApiError::Execution("x".into()), StatusCode::UNPROCESSABLE_ENTITY);
    }

    #[test]
    fn prometheus_envelope_carries_error_type_and_same_status() {
        for (error, status, error_type) in [
            (ApiError::bad_data("bad"), 400, "bad_data"),
            (ApiError::Execution("exec".into()), 422, "execution"),
            (ApiError::new(ErrorKind::Timeout, "slow"), 503, "timeout"),
            (ApiError::new(ErrorKind::Unavailable, "down"), 503, "unavailable"),
            (ApiError::new(ErrorKind::Internal, "secret"), 500, "internal"),
        ] {
            let response = error.into_prometheus_response();
            assert_eq!(response.status().as_u16(), status);
            let body: serde_json::Value = serde_json::from_str(&body_text(response)).unwrap();
            assert_eq!(body["status"], "error");
            assert_eq!(body["errorType"], error_type);
            assert!(!body["error"].as_str().unwrap().contains("secret"));
        }
    }

    #[test]
    fn internal_details_stay_out_of_the_response_body() {
        let response = ApiError::new(ErrorKind::Internal, "disk /dev/sda1 failed").into_response();
        let detail = response.extensions().get::<InternalError>().map(|e| e.0.clone());
        assert_eq!(detail.as_deref(), Some("disk /dev/sda1 failed"));
        let body = body_text(response);
        assert_eq!(body, "internal server error\n");
    }

    fn body_text(response: Response) -> String {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let bytes = runtime.block_on(http_body_util::BodyExt::collect(response.into_body())).unwrap().to_bytes();
        String::from_utf8(bytes.to_vec()).unwrap()
    }
}
