//! The one capped reader through which every request body is read.

use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, header};
use bytes::Bytes;
use http_body_util::{BodyExt, LengthLimitError, Limited};

use super::ApiError;

/// Reads the whole body, refusing with `413 Payload Too Large` as soon as it (or its announced
/// `Content-Length`) exceeds `limit` bytes, so that no more than `limit` bytes are buffered, and
/// with `408 Request Timeout` when it takes longer than `timeout` (a stalled or slow client).
///
/// # Errors
///
/// Returns [`ApiError::PayloadTooLarge`] over the limit, [`ApiError::RequestTimeout`] after
/// `timeout`, and a `BadData` error when the body cannot be read (the client went away
/// mid-body, for example).
pub(crate) async fn read_body_capped(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
    timeout: Duration,
) -> Result<Bytes, ApiError> {
    let announced =
        headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if let Some(length) = announced
        && length > limit as u64
    {
        return Err(too_large(limit));
    }
    let Ok(collected) = tokio::time::timeout(timeout, Limited::new(body, limit).collect()).await else {
        return Err(ApiError::RequestTimeout(format!("request body not received within {timeout:?}")));
    };
    match collected {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<LengthLimitError>() => Err(too_large(limit)),
        Err(error) => Err(ApiError::bad_data(format!("cannot read request body: {error}"))),
    }
}

fn too_large(limit: usize) -> ApiError {
    ApiError::PayloadTooLarge(format!("request body exceeds the limit of {limit} bytes"))
}
