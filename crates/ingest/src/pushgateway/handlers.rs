//! The HTTP side of the push API: status codes and plain-text errors as the Pushgateway answers.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

use super::PushgatewayOptions;
use super::path::{GroupingKey, parse_grouping_key};
use super::render::{render_api_json, render_exposition};
use super::store::{PushMode, PushStore, parse_push_body};
use crate::body::{self, BodyError};

#[derive(Clone)]
pub(crate) struct PushState {
    pub(crate) store: Arc<PushStore>,
    pub(crate) options: Arc<PushgatewayOptions>,
}

/// A plain-text answer with a trailing newline, as Go's `http.Error` writes it.
fn text_error(status: StatusCode, message: impl std::fmt::Display) -> Response {
    (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], format!("{message}\n")).into_response()
}

fn body_error(error: BodyError) -> Response {
    let status = match error {
        BodyError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        BodyError::Timeout(_) => StatusCode::REQUEST_TIMEOUT,
        BodyError::Malformed(_) => StatusCode::BAD_REQUEST,
        BodyError::UnsupportedEncoding(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
    };
    text_error(status, error)
}

fn now_ms() -> i64 {
    let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX)
}

/// Returns the grouping part of the request path (after `/metrics/`), still percent-encoded.
fn grouping_part(uri: &Uri) -> &str {
    let path = uri.path();
    path.find("/metrics/").map_or(path, |start| &path[start + "/metrics/".len()..])
}

fn is_protobuf(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.trim_start().to_ascii_lowercase().starts_with("application/vnd.google.protobuf"))
}

pub(crate) async fn push_put(State(state): State<PushState>, uri: Uri, headers: HeaderMap, body: Body) -> Response {
    push(state, PushMode::ReplaceGroup, &uri, &headers, body).await
}

pub(crate) async fn push_post(State(state): State<PushState>, uri: Uri, headers: HeaderMap, body: Body) -> Response {
    push(state, PushMode::ReplaceSameName, &uri, &headers, body).await
}

async fn push(state: PushState, mode: PushMode, uri: &Uri, headers: &HeaderMap, body: Body) -> Response {
    let now_ms = now_ms();
    let grouping = match parse_grouping_key(grouping_part(uri)) {
        Ok(grouping) => grouping,
        Err(message) => return text_error(StatusCode::BAD_REQUEST, message),
    };
    if is_protobuf(headers) {
        return text_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "the protobuf delimited push format is not supported: push in the text format 0.0.4",
        );
    }
    let encoding = match body::content_encoding(headers) {
        Ok(encoding) => encoding,
        Err(error) => return body_error(error),
    };
    let raw = match body::read_capped(headers, body, state.options.max_body_bytes, state.options.read_timeout).await {
        Ok(raw) => raw,
        Err(error) => return body_error(error),
    };
    let max_body_bytes = state.options.max_body_bytes;
    // Parsing, checking the whole store for consistency and fsyncing the file stay off the
    // async workers.
    let result = tokio::task::spawn_blocking(move || {
        apply_push(&state.store, raw, encoding, max_body_bytes, &grouping, mode, now_ms)
    })
    .await;
    match result {
        Ok(response) => response,
        Err(error) => text_error(StatusCode::INTERNAL_SERVER_ERROR, format!("push task failed: {error}")),
    }
}

fn apply_push(
    store: &PushStore,
    raw: bytes::Bytes,
    encoding: body::Encoding,
    max_body_bytes: usize,
    grouping: &GroupingKey,
    mode: PushMode,
    now_ms: i64,
) -> Response {
    let decoded = match body::decode(raw, encoding, max_body_bytes) {
        Ok(decoded) => decoded,
        Err(error) => return body_error(error),
    };
    let (families, has_timestamps) = match parse_push_body(&decoded, store.limits()) {
        Ok(parsed) => parsed,
        Err(error) => return text_error(StatusCode::BAD_REQUEST, error),
    };
    let outcome = store.push(grouping, families, has_timestamps, mode, now_ms);
    if let Err(error) = &outcome.persist {
        tracing::error!(error = %error, "cannot persist the pushgateway store");
    }
    match outcome.push {
        Err(error) => {
            tracing::debug!(grouping = ?grouping, error = %error, "push refused");
            text_error(StatusCode::BAD_REQUEST, error)
        }
        Ok(()) => match outcome.persist {
            Ok(()) => StatusCode::OK.into_response(),
            Err(error) => text_error(StatusCode::INTERNAL_SERVER_ERROR, error),
        },
    }
}

pub(crate) async fn delete(State(state): State<PushState>, uri: Uri) -> Response {
    let grouping = match parse_grouping_key(grouping_part(&uri)) {
        Ok(grouping) => grouping,
        Err(message) => return text_error(StatusCode::BAD_REQUEST, message),
    };
    let store = Arc::clone(&state.store);
    match tokio::task::spawn_blocking(move || store.delete(&grouping)).await {
        Ok(Ok(())) => StatusCode::ACCEPTED.into_response(),
        Ok(Err(error)) => text_error(StatusCode::INTERNAL_SERVER_ERROR, error),
        Err(error) => text_error(StatusCode::INTERNAL_SERVER_ERROR, format!("delete task failed: {error}")),
    }
}

pub(crate) async fn wipe(State(state): State<PushState>) -> Response {
    let store = Arc::clone(&state.store);
    match tokio::task::spawn_blocking(move || store.wipe()).await {
        Ok(Ok(())) => StatusCode::ACCEPTED.into_response(),
        Ok(Err(error)) => text_error(StatusCode::INTERNAL_SERVER_ERROR, error),
        Err(error) => text_error(StatusCode::INTERNAL_SERVER_ERROR, format!("wipe task failed: {error}")),
    }
}

pub(crate) async fn exposition(State(state): State<PushState>) -> Response {
    let page = render_exposition(&state.store.groups());
    (StatusCode::OK, [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], page).into_response()
}

pub(crate) async fn api_metrics(State(state): State<PushState>) -> Response {
    let document = render_api_json(&state.store.groups());
    (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], document.to_string()).into_response()
}
