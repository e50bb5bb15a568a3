//! Grouping keys from request paths: `/metrics/job/<job>{/<label>/<value>}`, where `job@base64`
//! and `<label>@base64` mark a value as base64url-encoded, exactly as the Pushgateway's
//! `handler/push.go` reads them (messages included).

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};

/// A group's identity: its labels, `job` included, sorted by name. Values may be empty.
pub type GroupingKey = BTreeMap<String, String>;

const BASE64_SUFFIX: &str = "@base64";

/// Go's `base64.RawURLEncoding` after trimming `=`: no padding, trailing bits ignored.
const RAW_URL: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(true),
);

/// Returns the grouping key of a push or delete path: the part after `/metrics/` as it
/// appears in the request (still percent-encoded).
///
/// # Errors
///
/// Returns the Pushgateway's message for a malformed path.
pub fn parse_grouping_key(rest: &str) -> Result<GroupingKey, String> {
    let rest = percent_decode(rest).ok_or_else(|| format!("invalid URL escape in path {rest:?}"))?;
    let (is_job_base64, after) = if let Some(after) = rest.strip_prefix("job@base64/") {
        (true, after)
    } else if let Some(after) = rest.strip_prefix("job/") {
        (false, after)
    } else {
        return Err(format!("path must start with /metrics/job/ or /metrics/job@base64/, got /metrics/{rest}"));
    };
    let (job, labels) = match after.find('/') {
        Some(slash) => (&after[..slash], &after[slash..]),
        None => (after, ""),
    };
    let job = if is_job_base64 {
        decode_base64(job).map_err(|error| format!("invalid base64 encoding in job name {job:?}: {error}"))?
    } else {
        job.to_owned()
    };
    let mut key = split_labels(labels)?;
    if job.is_empty() {
        return Err("job name is required".to_owned());
    }
    key.insert("job".to_owned(), job);
    Ok(key)
}

/// Decodes base64url with or without padding, as the Pushgateway's `decodeBase64`.
fn decode_base64(text: &str) -> Result<String, String> {
    let bytes = RAW_URL.decode(text.trim_end_matches('=')).map_err(|error| error.to_string())?;
    String::from_utf8(bytes).map_err(|_| "decoded value is not valid UTF-8".to_owned())
}

/// Splits `/<name>/<value>...` into labels; later duplicates win, as in a Go map.
fn split_labels(labels: &str) -> Result<GroupingKey, String> {
    let mut result = GroupingKey::new();
    if labels.len() <= 1 {
        return Ok(result);
    }
    let components: Vec<&str> = labels[1..].split('/').collect();
    if !components.len().is_multiple_of(2) {
        return Err(format!("odd number of components in label string {labels:?}"));
    }
    for pair in components.chunks_exact(2) {
        let (name, value) = (pair[0], pair[1]);
        let trimmed = name.strip_suffix(BASE64_SUFFIX).unwrap_or(name);
        if !panoptes_model::is_valid_legacy_label_name(trimmed) || trimmed.starts_with("__") {
            return Err(format!("improper label name {trimmed:?}"));
        }
        if trimmed.len() == name.len() {
            result.insert(name.to_owned(), value.to_owned());
            continue;
        }
        let decoded = decode_base64(value)
            .map_err(|error| format!("invalid base64 encoding for label {trimmed}={value:?}: {error}"))?;
        result.insert(trimmed.to_owned(), decoded);
    }
    Ok(result)
}

/// Percent-decodes a URL path; `None` on a malformed escape or a result that is not UTF-8.
fn percent_decode(path: &str) -> Option<String> {
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(pairs: &[(&str, &str)]) -> GroupingKey {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn parses_paths_like_the_pushgateway() {
        let cases: &[(&str, Result<GroupingKey, &str>)] = &[
            ("job/j", Ok(key(&[("job", "j")]))),
            ("job/j/", Ok(key(&[("job", "j")]))),
            ("job/j/instance/i/zone/z", Ok(key(&[("job", "j"), ("instance", "i"), ("zone", "z")]))),
            ("job/j/instance/", Ok(key(&[("job", "j"), ("instance", "")]))),
            ("job/j/job/other", Ok(key(&[("job", "j")]))),
            ("job/j/a/1/a/2", Ok(key(&[("job", "j"), ("a", "2")]))),
            // "/path/to" and "" base64url-encoded, with and without padding.
            ("job@base64/L3BhdGgvdG8=/instance@base64/=", Ok(key(&[("job", "/path/to"), ("instance", "")]))),
            ("job/j/path@base64/L3BhdGgvdG8", Ok(key(&[("job", "j"), ("path", "/path/to")]))),
            ("job/a%20b", Ok(key(&[("job", "a b")]))),
            ("job/j/a", Err("odd number of components in label string \"/a\"")),
            ("job/j/__a/b", Err("improper label name \"__a\"")),
            ("job/j/a-b/c", Err("improper label name \"a-b\"")),
            ("job/j/a@base64/!!", Err("invalid base64 encoding for label a=\"!!\"")),
            ("job@base64/!!", Err("invalid base64 encoding in job name \"!!\"")),
            ("job@base64/", Err("job name is required")),
            ("job/%zz", Err("invalid URL escape")),
        ];
        for (path, want) in cases {
            match (parse_grouping_key(path), want) {
                (Ok(got), Ok(want)) => assert_eq!(&got, want, "{path}"),
                (Err(got), Err(want)) => assert!(got.starts_with(want), "{path}: {got:?} does not start with {want:?}"),
                (got, want) => panic!("{path}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn percent_encoded_slash_splits_like_a_decoded_path() {
        // Go routes on the decoded path, so an encoded slash separates components.
        assert_eq!(
            parse_grouping_key("job/j/a/b%2Fc"),
            Err("odd number of components in label string \"/a/b/c\"".to_owned())
        );
    }
}
