//! Capped request body reading and `Content-Encoding: gzip` decoding, shared by both protocols.
//! Behaves as the server's own capped reader: the announced length and the streamed bytes are
//! both checked, so no more than the limit is ever buffered.

use std::io::Read;
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, header};
use bytes::Bytes;
use http_body_util::{BodyExt, LengthLimitError, Limited};

/// Why a body could not be read or decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum BodyError {
    /// The body (or its decompressed form) exceeds the limit.
    #[error("request body exceeds the limit of {limit} bytes")]
    TooLarge { limit: usize },
    /// The client did not send the body in time.
    #[error("request body not received within {0:?}")]
    Timeout(Duration),
    /// The body could not be read or decompressed.
    #[error("{0}")]
    Malformed(String),
    /// The body uses a content encoding we do not decode.
    #[error("unsupported content encoding {0:?}: only gzip and identity are supported")]
    UnsupportedEncoding(String),
}

/// Reads the whole body, refusing it as soon as it exceeds `limit` bytes or takes longer than
/// `timeout`.
pub(crate) async fn read_capped(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
    timeout: Duration,
) -> Result<Bytes, BodyError> {
    let announced =
        headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|length| length > limit as u64) {
        return Err(BodyError::TooLarge { limit });
    }
    let Ok(collected) = tokio::time::timeout(timeout, Limited::new(body, limit).collect()).await else {
        return Err(BodyError::Timeout(timeout));
    };
    match collected {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<LengthLimitError>() => Err(BodyError::TooLarge { limit }),
        Err(error) => Err(BodyError::Malformed(format!("cannot read request body: {error}"))),
    }
}

/// Which decoding a request body needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encoding {
    Identity,
    Gzip,
}

/// Returns the body's encoding from its `Content-Encoding` header.
pub(crate) fn content_encoding(headers: &HeaderMap) -> Result<Encoding, BodyError> {
    let Some(value) = headers.get(header::CONTENT_ENCODING) else {
        return Ok(Encoding::Identity);
    };
    let value = value.to_str().unwrap_or_default().trim();
    if value.is_empty() || value.eq_ignore_ascii_case("identity") {
        Ok(Encoding::Identity)
    } else if value.eq_ignore_ascii_case("gzip") || value.eq_ignore_ascii_case("x-gzip") {
        Ok(Encoding::Gzip)
    } else {
        Err(BodyError::UnsupportedEncoding(value.to_owned()))
    }
}

/// Decodes `raw` into at most `max_decoded` bytes. CPU-bound: call it off the async workers.
pub(crate) fn decode(raw: Bytes, encoding: Encoding, max_decoded: usize) -> Result<Bytes, BodyError> {
    match encoding {
        Encoding::Identity => Ok(raw),
        Encoding::Gzip => {
            // Read one byte past the limit to tell "exactly the limit" from "over it".
            let mut decoder = flate2::read::MultiGzDecoder::new(&raw[..]).take(max_decoded as u64 + 1);
            let mut decoded = Vec::with_capacity(raw.len().saturating_mul(4).min(max_decoded));
            decoder
                .read_to_end(&mut decoded)
                .map_err(|error| BodyError::Malformed(format!("cannot decompress gzip request body: {error}")))?;
            if decoded.len() > max_decoded {
                return Err(BodyError::TooLarge { limit: max_decoded });
            }
            Ok(Bytes::from(decoded))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn gzip(data: &[u8]) -> Bytes {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(data).expect("write");
        Bytes::from(encoder.finish().expect("finish"))
    }

    #[test]
    fn decode_gzip_round_trips_and_enforces_the_decoded_limit() {
        let data = b"cpu value=1\n".repeat(100);
        assert_eq!(decode(gzip(&data), Encoding::Gzip, data.len()).expect("decode"), Bytes::from(data.clone()));
        assert_eq!(
            decode(gzip(&data), Encoding::Gzip, data.len() - 1),
            Err(BodyError::TooLarge { limit: data.len() - 1 })
        );
        assert!(matches!(decode(Bytes::from_static(b"not gzip"), Encoding::Gzip, 100), Err(BodyError::Malformed(_))));
    }

    #[test]
    fn content_encoding_accepts_gzip_and_identity_only() {
        let mut headers = HeaderMap::new();
        assert_eq!(content_encoding(&headers), Ok(Encoding::Identity));
        headers.insert(header::CONTENT_ENCODING, "GZIP".parse().expect("header"));
        assert_eq!(content_encoding(&headers), Ok(Encoding::Gzip));
        headers.insert(header::CONTENT_ENCODING, "br".parse().expect("header"));
        assert!(matches!(content_encoding(&headers), Err(BodyError::UnsupportedEncoding(_))));
    }
}
