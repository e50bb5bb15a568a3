//! OAuth 2.0 client credentials (RFC 6749 section 4.4), as Prometheus' common HTTP client gets
//! them through golang.org/x/oauth2's `clientcredentials`: a token is requested from `token_url`
//! with `grant_type=client_credentials`, the scopes joined by spaces and `endpoint_params`, kept
//! and sent as `Authorization: <type> <token>` until 10 seconds before it expires.
//!
//! The client id and secret go in a basic `Authorization` header (each form-encoded, RFC 6749
//! section 2.3.1) first; when that request fails, once more as `client_id`/`client_secret` form
//! parameters, and the style that worked is kept (x/oauth2's auto-detection). The secret file is
//! read at every request, as Prometheus does, and a changed secret drops the token.
//!
//! Errors name the token URL and the HTTP status; the secret never appears in them (an error
//! body that echoes it has it replaced).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use panoptes_model::error_chain;
use reqwest::header::{self, HeaderValue};

use super::Source;
use crate::config::OAuth2;

/// A token is refreshed this long before it expires, as x/oauth2's `expiryDelta`, so that a
/// request never carries a token that expires on its way.
const EXPIRY_DELTA: Duration = Duration::from_secs(10);

/// The most of an error response quoted in an error message.
const MAX_QUOTED_ERROR_BYTES: usize = 256;

/// The most of a token response read; x/oauth2 reads 1 MiB.
const MAX_TOKEN_RESPONSE_BYTES: usize = 1 << 20;

/// How the client id and secret reach the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AuthStyle {
    /// A basic `Authorization` header.
    Header,
    /// `client_id` and `client_secret` form parameters.
    Params,
}

/// A token and when it must be replaced.
#[derive(Debug)]
struct Token {
    /// `<type> <access token>`, marked sensitive.
    authorization: HeaderValue,
    /// `None` when the server gave no `expires_in`: the token is used until the secret changes.
    refresh_at: Option<Instant>,
}

/// What the last token request left.
#[derive(Debug, Default)]
struct State {
    /// The secret the token (and the detected style) was obtained with.
    secret: Option<String>,
    token: Option<Token>,
    style: Option<AuthStyle>,
}

/// Fetches, caches and refreshes the token of one `oauth2` section.
#[derive(Debug)]
pub(super) struct TokenSource {
    client_id: String,
    secret: Option<Source>,
    token_url: String,
    /// The form parameters other than the client credentials, sorted by name as Go encodes them.
    params: BTreeMap<String, String>,
    /// The client of the token endpoint (`oauth2.tls_config` and its proxy settings).
    client: reqwest::Client,
    /// Held while a token is fetched, so that concurrent requests wait for one token request.
    state: tokio::sync::Mutex<State>,
}

impl TokenSource {
    /// Prepares the token requests of `config`; `client` reaches the token endpoint.
    ///
    /// # Errors
    ///
    /// Returns a message when `endpoint_params` would overwrite `scope`, as x/oauth2 refuses.
    pub(super) fn new(config: &OAuth2, client: reqwest::Client) -> Result<TokenSource, String> {
        let mut params = BTreeMap::from([("grant_type".to_owned(), "client_credentials".to_owned())]);
        if !config.scopes.is_empty() {
            params.insert("scope".to_owned(), config.scopes.join(" "));
        }
        for (name, value) in &config.endpoint_params {
            // grant_type may be overridden for servers that want another one, as x/oauth2 allows.
            if name != "grant_type" && params.contains_key(name) {
                return Err(format!("oauth2 endpoint_params cannot overwrite parameter {name:?}"));
            }
            params.insert(name.clone(), value.clone());
        }
        Ok(TokenSource {
            client_id: config.client_id.clone(),
            secret: Source::from_parts(config.client_secret.as_ref(), config.client_secret_file.as_deref()),
            token_url: config.token_url.clone(),
            params,
            client,
            state: tokio::sync::Mutex::new(State::default()),
        })
    }

    /// Returns the `Authorization` value of a request, fetching a token when there is none, it
    /// is about to expire or the secret changed.
    ///
    /// # Errors
    ///
    /// Returns a message naming the token URL when the secret cannot be read or no token can be
    /// obtained.
    pub(super) async fn authorization(&self) -> Result<HeaderValue, String> {
        let secret = match &self.secret {
            Some(source) => source.read().map_err(|error| format!("unable to read oauth2 client secret: {error}"))?,
            None => String::new(),
        };
        let mut state = self.state.lock().await;
        if state.secret.as_deref() != Some(secret.as_str()) {
            *state = State { secret: Some(secret.clone()), token: None, style: None };
        }
        if let Some(token) = &state.token
            && token.refresh_at.is_none_or(|at| Instant::now() < at)
        {
            return Ok(token.authorization.clone());
        }
        state.token = None;
        let token = match state.style {
            Some(style) => self.fetch(&secret, style).await?,
            None => match self.fetch(&secret, AuthStyle::Header).await {
                Ok(token) => {
                    state.style = Some(AuthStyle::Header);
                    token
                }
                Err(_) => {
                    let token = self.fetch(&secret, AuthStyle::Params).await?;
                    state.style = Some(AuthStyle::Params);
                    token
                }
            },
        };
        let authorization = token.authorization.clone();
        state.token = Some(token);
        Ok(authorization)
    }

    /// Makes one token request.
    async fn fetch(&self, secret: &str, style: AuthStyle) -> Result<Token, String> {
        let fail =
            |what: String| self.scrub(format!("oauth2: cannot fetch token from {:?}: {what}", self.token_url), secret);
        let mut params: Vec<(&str, &str)> = self.params.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        if style == AuthStyle::Params {
            if !self.client_id.is_empty() {
                params.push(("client_id", &self.client_id));
            }
            if !secret.is_empty() {
                params.push(("client_secret", secret));
            }
            params.sort_unstable();
        }
        // The serializer is not `Send`: it must be gone before the first await.
        let body = form_urlencoded::Serializer::new(String::new()).extend_pairs(params).finish();
        let mut request = self
            .client
            .post(&self.token_url)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body);
        if style == AuthStyle::Header {
            let mut value = HeaderValue::from_str(&self.basic_credentials(secret))
                .map_err(|_| fail("the client credentials are not a valid header value".to_owned()))?;
            value.set_sensitive(true);
            request = request.header(header::AUTHORIZATION, value);
        }
        let started = Instant::now();
        // Errors can name the URL; the token URL is named once, by `fail`.
        let mut response = request.send().await.map_err(|error| fail(error_chain(&error.without_url())))?;
        let status = response.status();
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .map(|value| value.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
            .unwrap_or_default();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|error| fail(error_chain(&error.without_url())))? {
            body.extend_from_slice(&chunk);
            if body.len() > MAX_TOKEN_RESPONSE_BYTES {
                return Err(fail(format!("the response is larger than {MAX_TOKEN_RESPONSE_BYTES} bytes")));
            }
        }
        let fields = parse_response(&content_type, &body);
        let error_code = fields.as_ref().ok().and_then(|fields| fields.error.clone()).filter(|code| !code.is_empty());
        if !status.is_success() || error_code.is_some() {
            let detail = match (&error_code, &fields) {
                (Some(code), Ok(fields)) => match &fields.error_description {
                    Some(description) if !description.is_empty() => format!("{code:?} {description:?}"),
                    _ => format!("{code:?}"),
                },
                _ => quote(&body),
            };
            let status =
                if status.is_success() { String::new() } else { format!("server returned HTTP status {status}: ") };
            return Err(fail(format!("{status}{detail}")));
        }
        let fields = fields.map_err(|error| fail(format!("cannot parse the response: {error}")))?;
        let access_token = fields.access_token.filter(|token| !token.is_empty());
        let Some(access_token) = access_token else {
            return Err(fail("server response missing access_token".to_owned()));
        };
        let mut authorization = HeaderValue::from_str(&format!("{} {access_token}", token_type(&fields.token_type)))
            .map_err(|_| fail("the access token is not a valid header value".to_owned()))?;
        authorization.set_sensitive(true);
        let refresh_at = fields
            .expires_in
            .filter(|&seconds| seconds > 0)
            .map(|seconds| (started + Duration::from_secs(seconds)).checked_sub(EXPIRY_DELTA).unwrap_or(started));
        Ok(Token { authorization, refresh_at })
    }

    /// The basic `Authorization` value: id and secret each form-encoded (RFC 6749 section 2.3.1),
    /// as x/oauth2 sends them.
    fn basic_credentials(&self, secret: &str) -> String {
        use base64::Engine as _;
        let encode = |text: &str| form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>();
        let pair = format!("{}:{}", encode(&self.client_id), encode(secret));
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(pair))
    }

    /// Replaces the secret wherever a message quotes it, as is, form-encoded or inside the basic
    /// credentials (an error body that echoes the request).
    fn scrub(&self, message: String, secret: &str) -> String {
        if secret.is_empty() {
            return message;
        }
        let encoded: String = form_urlencoded::byte_serialize(secret.as_bytes()).collect();
        let basic = self.basic_credentials(secret);
        let basic = basic.trim_start_matches("Basic ");
        [secret, encoded.as_str(), basic].iter().fold(message, |message, quoted| message.replace(quoted, "<secret>"))
    }
}

/// The fields of a token response (RFC 6749 sections 5.1 and 5.2) that are used.
#[derive(Debug, Default)]
struct TokenFields {
    access_token: Option<String>,
    token_type: Option<String>,
    expires_in: Option<u64>,
    error: Option<String>,
    error_description: Option<String>,
}

/// Parses a token response: form-encoded for `application/x-www-form-urlencoded` and
/// `text/plain` (some servers answer so), JSON otherwise, as x/oauth2 does.
fn parse_response(content_type: &str, body: &[u8]) -> Result<TokenFields, String> {
    if matches!(content_type, "application/x-www-form-urlencoded" | "text/plain") {
        let mut fields = TokenFields::default();
        for (name, value) in form_urlencoded::parse(body) {
            let value = Some(value.into_owned());
            match &*name {
                "access_token" => fields.access_token = value,
                "token_type" => fields.token_type = value,
                "expires_in" => fields.expires_in = value.and_then(|v| v.trim().parse().ok()),
                "error" => fields.error = value,
                "error_description" => fields.error_description = value,
                _ => {}
            }
        }
        return Ok(fields);
    }
    let json: serde_json::Value = serde_json::from_slice(body).map_err(|error| error.to_string())?;
    let text = |name: &str| json.get(name).and_then(serde_json::Value::as_str).map(str::to_owned);
    // `expires_in` is a number, or a string at some servers (PayPal), as x/oauth2 accepts.
    let expires_in = match json.get("expires_in") {
        Some(serde_json::Value::Number(number)) => {
            number.as_u64().or_else(|| number.as_f64().filter(|v| *v > 0.0).map(|v| v as u64))
        }
        Some(serde_json::Value::String(text)) => text.trim().parse().ok(),
        _ => None,
    };
    Ok(TokenFields {
        access_token: text("access_token"),
        token_type: text("token_type"),
        expires_in,
        error: text("error"),
        error_description: text("error_description"),
    })
}

/// The scheme of the `Authorization` header, as x/oauth2's `Token.Type`: `Bearer` when absent,
/// the usual spelling of `bearer`, `mac` and `basic`, else as given.
fn token_type(given: &Option<String>) -> String {
    match given.as_deref().unwrap_or("") {
        "" => "Bearer".to_owned(),
        kind if kind.eq_ignore_ascii_case("bearer") => "Bearer".to_owned(),
        kind if kind.eq_ignore_ascii_case("mac") => "MAC".to_owned(),
        kind if kind.eq_ignore_ascii_case("basic") => "Basic".to_owned(),
        kind => kind.to_owned(),
    }
}

/// At most the first 256 bytes of an error body, quoted.
fn quote(body: &[u8]) -> String {
    let mut end = body.len().min(MAX_QUOTED_ERROR_BYTES);
    while end > 0 && std::str::from_utf8(&body[..end]).is_err() {
        end -= 1;
    }
    let text = String::from_utf8_lossy(&body[..end]);
    format!("{:?}{}", text.trim(), if end < body.len() { "…" } else { "" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(content_type: &str, body: &str, expected: (Option<&str>, Option<&str>, Option<u64>, Option<&str>)) {
        let fields = parse_response(content_type, body.as_bytes()).expect("parses");
        let got =
            (fields.access_token.as_deref(), fields.token_type.as_deref(), fields.expires_in, fields.error.as_deref());
        assert_eq!(got, expected, "{content_type}: {body}");
    }

    #[test]
    fn token_responses_are_read_as_json_or_form_as_x_oauth2_does() {
        check(
            "application/json",
            r#"{"access_token":"t1","token_type":"bearer","expires_in":3600}"#,
            (Some("t1"), Some("bearer"), Some(3600), None),
        );
        check("", r#"{"access_token":"t1","expires_in":"60"}"#, (Some("t1"), None, Some(60), None));
        check("application/json", r#"{"access_token":"t1","expires_in":null}"#, (Some("t1"), None, None, None));
        check(
            "application/x-www-form-urlencoded",
            "access_token=a%2Bb&token_type=mac&expires_in=5",
            (Some("a+b"), Some("mac"), Some(5), None),
        );
        check("text/plain", "error=invalid_client", (None, None, None, Some("invalid_client")));
        assert!(parse_response("application/json", b"<html>").is_err());
    }

    #[test]
    fn token_types_are_spelt_as_x_oauth2_spells_them() {
        let spelt = |given: Option<&str>| token_type(&given.map(str::to_owned));
        assert_eq!(spelt(None), "Bearer");
        assert_eq!(spelt(Some("bearer")), "Bearer");
        assert_eq!(spelt(Some("MAC")), "MAC");
        assert_eq!(spelt(Some("basic")), "Basic");
        assert_eq!(spelt(Some("DPoP")), "DPoP");
    }

    #[test]
    fn endpoint_params_may_replace_grant_type_but_not_scope() {
        let config = |params: &[(&str, &str)]| OAuth2 {
            client_id: "id".into(),
            token_url: "http://token.invalid/".into(),
            scopes: vec!["a".into(), "b".into()],
            endpoint_params: params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            ..OAuth2::default()
        };
        let source = TokenSource::new(&config(&[("grant_type", "other"), ("audience", "x")]), reqwest::Client::new())
            .expect("grant_type may be replaced");
        let params: Vec<_> = source.params.iter().map(|(k, v)| format!("{k}={v}")).collect();
        assert_eq!(params, ["audience=x", "grant_type=other", "scope=a b"]);
        assert_eq!(
            TokenSource::new(&config(&[("scope", "c")]), reqwest::Client::new()).unwrap_err(),
            r#"oauth2 endpoint_params cannot overwrite parameter "scope""#
        );
    }

    #[test]
    fn error_bodies_are_quoted_short() {
        assert_eq!(quote(b" {\"error\":\"x\"}\n"), r#""{\"error\":\"x\"}""#);
        assert_eq!(quote(&[b'a'; 300]).chars().count(), 256 + 3);
    }
}
