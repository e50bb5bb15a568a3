//! The scrape client through a real HTTP forward proxy on loopback, written here: it reads each
//! request head, records it, and forwards absolute-form requests (RFC 9112 section 3.2.2) to
//! the target, resolving the made-up `metrics.test` to loopback; it answers `CONNECT` with 403
//! after recording the headers. Targets are axum servers on loopback.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use panoptes_scrape::client::HttpClient;
use panoptes_scrape::config::{HttpClientConfig, Secret};
use parking_lot::Mutex;
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// The request heads the proxy saw: request line, then header lines.
type Seen = Arc<Mutex<Vec<Vec<String>>>>;

async fn start_proxy() -> (Seen, SocketAddr) {
    let seen: Seen = Arc::default();
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    let record = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((client, _)) = listener.accept().await else { return };
            tokio::spawn(proxy_one(client, record.clone()));
        }
    });
    (seen, address)
}

/// Serves one request of one connection: the proxy announces `Connection: close`, so the
/// client opens a new connection (and the proxy sees a new head) for every request.
async fn proxy_one(client: TcpStream, seen: Seen) {
    let mut client = BufReader::new(client);
    let Some(head) = panoptes_test_util::read_http_head(&mut client).await else { return };
    seen.lock().push(head.clone());
    let request_line: Vec<&str> = head[0].split(' ').collect();
    if request_line[0] == "CONNECT" {
        let answer = "HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";
        let _ = client.get_mut().write_all(answer.as_bytes()).await;
        return;
    }
    // Absolute form: forward to the authority, in origin form.
    let url = request_line[1].strip_prefix("http://").expect("absolute-form request target");
    let (authority, path) = url.split_at(url.find('/').unwrap_or(url.len()));
    let upstream = authority.replace("metrics.test", "127.0.0.1");
    let mut upstream = TcpStream::connect(upstream).await.expect("upstream");
    let mut forwarded = format!("GET {path} HTTP/1.1\r\n");
    for header in &head[1..] {
        if !header.to_ascii_lowercase().starts_with("connection:") {
            forwarded.push_str(&format!("{header}\r\n"));
        }
    }
    forwarded.push_str("connection: close\r\n\r\n");
    upstream.write_all(forwarded.as_bytes()).await.expect("forward");
    let _ = tokio::io::copy(&mut upstream, client.get_mut()).await;
}

async fn start_target() -> SocketAddr {
    let app = Router::new().route("/metrics", get(|| async { "proxied_total 1\n" }));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    address
}

fn client(proxy: SocketAddr, no_proxy: Option<&str>, connect_header: BTreeMap<String, Vec<Secret>>) -> HttpClient {
    let config = HttpClientConfig {
        proxy_url: Some(format!("http://{proxy}")),
        no_proxy: no_proxy.map(str::to_owned),
        proxy_connect_header: connect_header,
        ..HttpClientConfig::default()
    };
    config.validate().expect("valid");
    HttpClient::new(&config, false).expect("client")
}

async fn fetch(client: &HttpClient, url: &str) -> Result<String, String> {
    let response = client.get(url).await?.send().await.map_err(|error| format!("{error:?}"))?;
    let status = response.status();
    let body = response.text().await.map_err(|error| error.to_string())?;
    if status.is_success() { Ok(body) } else { Err(format!("{status}: {body}")) }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_go_through_proxy_url_in_absolute_form_unless_no_proxy_spares_them() {
    let (seen, proxy) = start_proxy().await;
    let target = start_target().await;
    let port = target.port();
    let request_lines = || seen.lock().iter().map(|head| head[0].clone()).collect::<Vec<_>>();

    // Every request goes to the proxy, loopback included (Go's http.ProxyURL), in absolute form.
    let through = client(proxy, None, BTreeMap::new());
    let named = format!("http://metrics.test:{port}/metrics");
    assert_eq!(fetch(&through, &named).await.as_deref(), Ok("proxied_total 1\n"));
    assert_eq!(fetch(&through, &format!("http://{target}/metrics")).await.as_deref(), Ok("proxied_total 1\n"));
    assert_eq!(
        request_lines(),
        [format!("GET http://metrics.test:{port}/metrics HTTP/1.1"), format!("GET http://{target}/metrics HTTP/1.1")]
    );
    let host = seen.lock()[0].iter().find(|line| line.to_ascii_lowercase().starts_with("host:")).cloned();
    assert_eq!(host, Some(format!("host: metrics.test:{port}")), "the Host is the target's");

    // A no_proxy list naming another host still proxies metrics.test, and spares loopback
    // addresses as golang.org/x/net's httpproxy does.
    let sparing = client(proxy, Some("other.test"), BTreeMap::new());
    assert_eq!(fetch(&sparing, &named).await.as_deref(), Ok("proxied_total 1\n"));
    assert_eq!(fetch(&sparing, &format!("http://{target}/metrics")).await.as_deref(), Ok("proxied_total 1\n"));
    assert_eq!(request_lines().len(), 3, "only metrics.test went through the proxy: {:?}", request_lines());

    // Naming metrics.test bypasses the proxy: the made-up name is then looked up, and fails.
    let bypassing = client(proxy, Some("example.com,metrics.test"), BTreeMap::new());
    let error = fetch(&bypassing, &named).await.expect_err("metrics.test does not resolve");
    assert!(error.contains("dns error") || error.contains("failed to lookup"), "{error}");
    assert_eq!(request_lines().len(), 3, "the proxy saw nothing more: {:?}", request_lines());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_targets_tunnel_with_connect_and_the_proxy_connect_headers() {
    let (seen, proxy) = start_proxy().await;
    let headers = BTreeMap::from([("Proxy-Authorization".to_owned(), vec![Secret::new("Basic cHJveHk6c2VjcmV0")])]);
    let tunnel = client(proxy, None, headers);
    let error = fetch(&tunnel, "https://metrics.test:8443/metrics").await.expect_err("the proxy refuses the tunnel");
    assert!(error.contains("403") || error.to_ascii_lowercase().contains("tunnel"), "{error}");
    let head = seen.lock().first().cloned().expect("the proxy saw the CONNECT");
    assert_eq!(head[0], "CONNECT metrics.test:8443 HTTP/1.1");
    assert!(
        head.iter().any(|line| line.eq_ignore_ascii_case("proxy-authorization: Basic cHJveHk6c2VjcmV0")),
        "{head:?}"
    );
    assert!(!error.contains("cHJveHk6c2VjcmV0"), "the header value is not in the error: {error}");
}

#[test]
fn proxy_settings_are_validated_as_prometheus_validates_them() {
    let check = |config: HttpClientConfig, expected: &str| assert_eq!(config.validate().unwrap_err(), expected);
    let url = || Some("http://proxy:3128".to_owned());
    check(
        HttpClientConfig { no_proxy: Some("a".into()), ..Default::default() },
        "if no_proxy is configured, proxy_url must also be configured",
    );
    check(
        HttpClientConfig { proxy_url: url(), proxy_from_environment: true, ..Default::default() },
        "if proxy_from_environment is configured, proxy_url must not be configured",
    );
    check(
        HttpClientConfig { proxy_from_environment: true, no_proxy: Some("a".into()), ..Default::default() },
        "if proxy_from_environment is configured, no_proxy must not be configured",
    );
    check(
        HttpClientConfig {
            proxy_connect_header: BTreeMap::from([("X".to_owned(), vec![Secret::new("y")])]),
            ..Default::default()
        },
        "if proxy_connect_header is configured, proxy_url or proxy_from_environment must also be configured",
    );
    // The oauth2 token client's proxy settings follow the same rules.
    let oauth2 = panoptes_scrape::config::OAuth2 {
        client_id: "id".into(),
        token_url: "http://token.invalid/".into(),
        no_proxy: Some("a".into()),
        ..Default::default()
    };
    check(
        HttpClientConfig { oauth2: Some(oauth2), ..Default::default() },
        "if no_proxy is configured, proxy_url must also be configured",
    );
}
