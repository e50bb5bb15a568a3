//! The response format of HTTP-based discovery (`http_sd_configs`): a JSON list of
//! `{targets: [...], labels: {...}}` groups. Parsing only; polling belongs to the discovery
//! manager.

use super::TargetGroup;
use super::file::parse_groups;

/// The label holding the URL a target was discovered from.
pub const URL_LABEL: &str = "__meta_url";

/// Why an HTTP-SD response was rejected; messages match Prometheus'.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpSdError {
    /// The response is not JSON.
    #[error("unsupported content type {0:?}")]
    ContentType(String),
    /// The body is not a list of target groups.
    #[error("{0}")]
    Body(String),
}

/// Parses an HTTP-SD response body fetched from `url` with the given `Content-Type`; each group
/// gets `__meta_url` and the source `url:index`.
///
/// # Errors
///
/// Returns an [`HttpSdError`] for a non-JSON content type or a malformed body.
pub fn parse_response(body: &str, content_type: Option<&str>, url: &str) -> Result<Vec<TargetGroup>, HttpSdError> {
    let content_type = content_type.unwrap_or_default();
    let media_type = content_type.split(';').next().unwrap_or_default().trim();
    if !media_type.eq_ignore_ascii_case("application/json") {
        return Err(HttpSdError::ContentType(content_type.to_owned()));
    }
    parse_groups(body, true, (URL_LABEL, url), url).map_err(HttpSdError::Body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_json_responses() {
        let groups = parse_response(
            r#"[{"targets": ["a:1"], "labels": {"env": "prod"}}]"#,
            Some("application/json; charset=utf-8"),
            "http://sd/targets",
        )
        .expect("valid response");
        assert_eq!(groups.len(), 1);
        assert_eq!(groups[0].source, "http://sd/targets:0");
        assert_eq!(groups[0].labels.get(URL_LABEL).map(String::as_str), Some("http://sd/targets"));
        assert_eq!(groups[0].labels.get("env").map(String::as_str), Some("prod"));
        assert!(!groups[0].labels.contains_key(super::super::file::FILEPATH_LABEL));
    }

    #[test]
    fn rejects_other_content_and_bad_bodies() {
        assert_eq!(
            parse_response("[]", Some("text/plain"), "http://sd").expect_err("not json").to_string(),
            r#"unsupported content type "text/plain""#
        );
        assert_eq!(
            parse_response("[null]", Some("application/json"), "http://sd").expect_err("null group").to_string(),
            "nil target group item found"
        );
        assert!(parse_response("{", Some("application/json"), "http://sd").is_err());
    }
}
