//! OAuth 2.0 client credentials against a fake authorization server: an axum token endpoint on
//! loopback that speaks RFC 6749's wire format (a form-encoded POST with basic or form client
//! authentication, a JSON token or error answer), and a real target that demands the bearer
//! token it issued. Scrapes go through the scrape manager, so the target errors checked are the
//! ones the targets API shows.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use panoptes_scrape::client::HttpClient;
use panoptes_scrape::config::{self, HttpClientConfig, OAuth2, Secret};
use panoptes_scrape::{Health, ScrapeManager};
use panoptes_storage::{MemStorage, StorageRef};
use parking_lot::Mutex;

/// One token request as the fake server saw it.
#[derive(Debug, Clone)]
struct TokenRequest {
    authorization: Option<String>,
    content_type: Option<String>,
    body: String,
}

/// How the fake authorization server answers.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Mode {
    /// A token valid for this many seconds.
    Issue { expires_in: u64 },
    /// 401 with an RFC 6749 error whose description echoes the request (and so the secret).
    Refuse,
}

#[derive(Clone)]
struct AuthServer {
    requests: Arc<Mutex<Vec<TokenRequest>>>,
    mode: Arc<Mutex<Mode>>,
    /// Client authentication by basic header is refused (the server wants form parameters).
    params_only: bool,
    /// The tokens issued so far; the last one is the one the target accepts.
    issued: Arc<Mutex<Vec<String>>>,
}

impl AuthServer {
    async fn start(params_only: bool) -> (AuthServer, SocketAddr) {
        let server = AuthServer {
            requests: Arc::default(),
            mode: Arc::new(Mutex::new(Mode::Issue { expires_in: 3600 })),
            params_only,
            issued: Arc::default(),
        };
        let state = server.clone();
        let app = Router::new().route(
            "/token",
            post(move |headers: HeaderMap, body: String| {
                let state = state.clone();
                async move { state.answer(&headers, body) }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
        (server, address)
    }

    fn answer(&self, headers: &HeaderMap, body: String) -> axum::response::Response {
        let text = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let request =
            TokenRequest { authorization: text(header::AUTHORIZATION), content_type: text(header::CONTENT_TYPE), body };
        self.requests.lock().push(request.clone());
        let json = [(header::CONTENT_TYPE, "application/json")];
        if self.params_only && request.authorization.is_some() {
            let error = r#"{"error":"invalid_client","error_description":"use client_secret_post"}"#;
            return (StatusCode::UNAUTHORIZED, json, error).into_response();
        }
        match *self.mode.lock() {
            Mode::Issue { expires_in } => {
                let mut issued = self.issued.lock();
                let token = format!("token-{}", issued.len() + 1);
                issued.push(token.clone());
                let answer = format!(r#"{{"access_token":"{token}","token_type":"bearer","expires_in":{expires_in}}}"#);
                (StatusCode::OK, json, answer).into_response()
            }
            Mode::Refuse => {
                let echo = request.authorization.unwrap_or_default();
                let description = format!("bad credentials {echo:?} {}", request.body);
                let answer = serde_json::json!({"error": "invalid_client", "error_description": description});
                (StatusCode::UNAUTHORIZED, json, answer.to_string()).into_response()
            }
        }
    }

    fn requests(&self) -> Vec<TokenRequest> {
        self.requests.lock().clone()
    }
}

/// A target that answers only to `Authorization: Bearer <the last token issued>`.
async fn start_target(auth: &AuthServer) -> (Arc<Mutex<Vec<String>>>, SocketAddr) {
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let (issued, record) = (auth.issued.clone(), seen.clone());
    let app = Router::new().route(
        "/metrics",
        get(move |headers: HeaderMap| {
            let (issued, record) = (issued.clone(), record.clone());
            async move {
                let given = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
                record.lock().push(given.clone());
                let expected = issued.lock().last().map(|token| format!("Bearer {token}"));
                if expected.as_deref() == Some(given.as_str()) {
                    (StatusCode::OK, "requests_total 1\n").into_response()
                } else {
                    (StatusCode::UNAUTHORIZED, "who are you?").into_response()
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    (seen, address)
}

/// Everything logged by the process.
fn captured_logs() -> &'static Arc<Mutex<Vec<u8>>> {
    panoptes_test_util::logs::capture(tracing::Level::DEBUG)
}

/// Polls `check` for up to 10 s.
async fn eventually(what: &str, check: impl FnMut() -> bool) {
    panoptes_test_util::eventually(what, Duration::from_secs(10), check).await;
}

const SECRET: &str = "s3cr+t/x";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scrapes_carry_a_kept_token_refreshed_before_expiry_and_token_errors_fail_the_target() {
    let logs = captured_logs();
    let (auth, auth_address) = AuthServer::start(false).await;
    let (seen, target_address) = start_target(&auth).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let secret_file = dir.path().join("client-secret");
    std::fs::write(&secret_file, format!("{SECRET}\n")).expect("write secret");
    let token_url = format!("http://{auth_address}/token");
    let yaml = format!(
        "scrape_configs:\n- job_name: app\n  scrape_interval: 200ms\n  scrape_timeout: 150ms\n  oauth2:\n    client_id: panoptes\n    client_secret_file: {}\n    scopes: [metrics.read, other]\n    token_url: {token_url}\n    endpoint_params: {{audience: targets}}\n  static_configs:\n  - targets: ['{target_address}']\n",
        secret_file.display()
    );
    let scrape_configs = config::parse_str(&yaml, "test.yml").expect("config parses").scrape_configs;
    let manager = ScrapeManager::new(tokio::runtime::Handle::current());
    manager.apply(scrape_configs, &BTreeMap::new()).expect("applies");
    manager.start(Arc::new(MemStorage::new()) as StorageRef);
    let health = || manager.targets().active.first().map(|target| target.health.clone()).expect("one target");

    // Five successful scrapes share one token.
    eventually("five scrapes with the token", || {
        seen.lock().iter().filter(|given| given.as_str() == "Bearer token-1").count() >= 5
    })
    .await;
    assert_eq!(health().health, Health::Up);
    let requests = auth.requests();
    assert_eq!(requests.len(), 1, "one token for every scrape: {requests:?}");
    // RFC 6749 section 4.4.2 with client authentication by basic header (section 2.3.1): id and
    // secret form-encoded ("+" and "/" escaped) before base64, as x/oauth2 sends them; the
    // parameters sorted by name as Go encodes them, the scopes joined by a space.
    assert_eq!(requests[0].authorization.as_deref(), Some("Basic cGFub3B0ZXM6czNjciUyQnQlMkZ4"));
    assert_eq!(requests[0].content_type.as_deref(), Some("application/x-www-form-urlencoded"));
    assert_eq!(requests[0].body, "audience=targets&grant_type=client_credentials&scope=metrics.read+other");

    // A rotated secret file is read at the next scrape and a token is fetched with it; tokens
    // issued now expire after 11 s, so each is refreshed after 1 s (10 s before its expiry).
    *auth.mode.lock() = Mode::Issue { expires_in: 11 };
    std::fs::write(&secret_file, "rotated").expect("rotate secret");
    eventually("a token for the rotated secret", || auth.requests().len() >= 2).await;
    assert_eq!(auth.requests()[1].authorization.as_deref(), Some("Basic cGFub3B0ZXM6cm90YXRlZA=="));
    let before = auth.requests().len();
    let scrapes_before = seen.lock().len();
    tokio::time::sleep(Duration::from_millis(3_500)).await;
    let refreshes = auth.requests().len() - before;
    let scrapes = seen.lock().len() - scrapes_before;
    assert!((2..=4).contains(&refreshes), "{refreshes} token requests in 3.5 s of 1 s tokens ({scrapes} scrapes)");
    assert!(scrapes >= 6 && scrapes > 2 * refreshes, "{scrapes} scrapes in 3.5 s");
    let rejected = seen.lock().iter().filter(|given| !given.starts_with("Bearer token-")).count();
    assert_eq!(rejected, 0, "every scrape carried a token");
    assert_eq!(health().health, Health::Up);

    // The token endpoint refuses: the scrape fails with an error naming the token URL and the
    // status, and the basic credentials the refusal echoes are replaced.
    *auth.mode.lock() = Mode::Refuse;
    eventually("the target is down", || health().health == Health::Down).await;
    let error = health().last_error;
    let expected = format!(
        r#"oauth2: cannot fetch token from {token_url:?}: server returned HTTP status 401 Unauthorized: "invalid_client" "bad credentials \"Basic <secret>\" audience=targets&grant_type=client_credentials&scope=metrics.read+other""#
    );
    assert_eq!(error, expected);

    manager.stop().await;
    let logs = String::from_utf8_lossy(&logs.lock()).into_owned();
    assert!(logs.contains("scrape failed"), "failed scrapes are logged: {logs}");
    for secret in [SECRET, "s3cr%2Bt%2Fx", "rotated", "cGFub3B0ZXM6"] {
        assert!(!logs.contains(secret), "{secret} is logged");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_credentials_move_to_the_form_when_the_server_refuses_basic_auth() {
    let (auth, auth_address) = AuthServer::start(true).await;
    *auth.mode.lock() = Mode::Issue { expires_in: 11 };
    let (seen, target_address) = start_target(&auth).await;
    let config = HttpClientConfig {
        oauth2: Some(OAuth2 {
            client_id: "panoptes".into(),
            client_secret: Some(Secret::new(SECRET.to_owned())),
            token_url: format!("http://{auth_address}/token"),
            ..OAuth2::default()
        }),
        ..HttpClientConfig::default()
    };
    config.validate().expect("valid");
    let client = HttpClient::new(&config, false).expect("client");
    let url = format!("http://{target_address}/metrics");
    for _ in 0..3 {
        let response = client.get(&url).await.expect("token").send().await.expect("scrape");
        assert_eq!(response.status(), StatusCode::OK);
    }
    let requests = auth.requests();
    assert_eq!(requests.len(), 2, "basic first, then the form; the token is kept: {requests:?}");
    assert!(requests[0].authorization.is_some());
    assert_eq!(requests[1].authorization, None);
    assert_eq!(requests[1].body, "client_id=panoptes&client_secret=s3cr%2Bt%2Fx&grant_type=client_credentials");
    assert_eq!(seen.lock().as_slice(), ["Bearer token-1"; 3]);

    // The style that worked is kept: once the 11 s token is due (after 1 s), the next token
    // request goes straight to the form.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    assert_eq!(client.get(&url).await.expect("token").send().await.expect("scrape").status(), StatusCode::OK);
    let requests = auth.requests();
    assert_eq!(requests.len(), 3, "{requests:?}");
    assert_eq!(requests[2].authorization, None);
    assert_eq!(seen.lock().last().map(String::as_str), Some("Bearer token-2"));

    // A refusal that echoes the form names the status, not the secret.
    *auth.mode.lock() = Mode::Refuse;
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let error = client.get(&url).await.expect_err("refused");
    assert_eq!(auth.requests().len(), 4, "no second style is tried once one worked");
    assert!(error.contains("server returned HTTP status 401 Unauthorized"), "{error}");
    assert!(error.contains("client_secret=<secret>"), "the echoed secret is replaced: {error}");
    assert!(!error.contains(SECRET) && !error.contains("s3cr%2Bt%2Fx"), "{error}");
}

#[test]
fn oauth2_settings_are_validated_as_prometheus_validates_them() {
    let oauth2 = || OAuth2 { client_id: "id".into(), token_url: "http://token.invalid/".into(), ..OAuth2::default() };
    let check = |config: HttpClientConfig, expected: &str| assert_eq!(config.validate().unwrap_err(), expected);
    check(
        HttpClientConfig { oauth2: Some(oauth2()), bearer_token: Some(Secret::new("t")), ..Default::default() },
        "at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured",
    );
    check(
        HttpClientConfig {
            oauth2: Some(oauth2()),
            authorization: Some(config::Authorization::default()),
            ..Default::default()
        },
        "at most one of basic_auth, oauth2 & authorization must be configured",
    );
    check(
        HttpClientConfig {
            oauth2: Some(oauth2()),
            basic_auth: Some(config::BasicAuth::default()),
            ..Default::default()
        },
        "at most one of basic_auth, oauth2 & authorization must be configured",
    );
    check(
        HttpClientConfig {
            oauth2: Some(OAuth2 {
                client_secret: Some(Secret::new("s")),
                client_secret_file: Some("/s".into()),
                ..oauth2()
            }),
            ..Default::default()
        },
        "at most one of oauth2 client_secret, client_secret_file & client_secret_ref must be configured",
    );
    check(
        HttpClientConfig { oauth2: Some(OAuth2 { client_id: String::new(), ..oauth2() }), ..Default::default() },
        "oauth2 client_id must be configured",
    );
    check(
        HttpClientConfig { oauth2: Some(OAuth2 { token_url: String::new(), ..oauth2() }), ..Default::default() },
        "oauth2 token_url must be configured",
    );
}
