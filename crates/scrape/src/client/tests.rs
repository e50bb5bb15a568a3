//! The client against a real TLS server on loopback: `openssl s_server -WWW` (Debian's openssl)
//! with a certificate, made here, for the DNS name `kubernetes` only, as the Kubernetes API
//! server's certificate is when scraped by IP address.

use panoptes_test_util::tls::{OpensslServer, TestPki};

use super::*;

/// `openssl s_server -WWW` serving `metrics`, with the CA that issued its certificate.
struct TlsServer {
    server: OpensslServer,
    ca_pem: String,
}

impl TlsServer {
    /// Makes a CA, a server certificate whose only name is `DNS:kubernetes` and a client
    /// certificate (`client.pem`, `client.key`), and serves them; with `verify_clients`, the
    /// server demands a client certificate of the CA.
    fn start(dir: &Path, verify_clients: bool) -> TlsServer {
        let pki = TestPki::new(dir);
        pki.issue_server("server", "kubernetes", "DNS:kubernetes");
        pki.issue_client("client", "panoptes");
        std::fs::write(dir.join("metrics"), "secure_requests_total 3\n").unwrap();
        TlsServer { server: OpensslServer::start(&pki, "server", verify_clients), ca_pem: pki.ca_pem }
    }

    /// GETs `/metrics` with a client built from `tls`: the body, or the error with its causes.
    async fn fetch(&self, tls: TlsConfig, http2: bool) -> Result<String, String> {
        let config = HttpClientConfig { tls_config: tls, enable_http2: http2, ..HttpClientConfig::default() };
        let client = HttpClient::new(&config, false)?;
        let url = format!("https://127.0.0.1:{}/metrics", self.server.port);
        let response = client.get(&url).await?.send().await.map_err(|error| {
            let mut message = error.to_string();
            let mut source = std::error::Error::source(&error);
            while let Some(cause) = source {
                message.push_str(&format!(": {cause}"));
                source = cause.source();
            }
            message
        })?;
        assert!(response.status().is_success(), "{}", response.status());
        response.text().await.map_err(|error| error.to_string())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_name_is_the_name_the_certificate_is_verified_against() {
    let dir = tempfile::tempdir().unwrap();
    let server = TlsServer::start(dir.path(), false);
    let tls = |server_name: Option<&str>| TlsConfig {
        ca: Some(server.ca_pem.clone()),
        server_name: server_name.map(str::to_owned),
        ..TlsConfig::default()
    };
    let body = "secure_requests_total 3\n";

    assert_eq!(server.fetch(tls(Some("kubernetes")), true).await.as_deref(), Ok(body));
    assert_eq!(server.fetch(tls(Some("kubernetes")), false).await.as_deref(), Ok(body), "HTTP/1.1 only");
    let ca_file = dir.path().join("ca.pem").display().to_string();
    let from_file = TlsConfig { ca: None, ca_file: Some(ca_file), ..tls(Some("kubernetes")) };
    assert_eq!(server.fetch(from_file, true).await.as_deref(), Ok(body), "ca_file");
    let tls12 = TlsConfig { max_version: Some("TLS12".into()), ..tls(Some("kubernetes")) };
    assert_eq!(server.fetch(tls12, true).await.as_deref(), Ok(body), "TLS 1.2");

    // Without server_name, the URL's host is verified (today's reqwest path); with another name,
    // that name.
    for (server_name, expected) in [(None, "\"127.0.0.1\""), (Some(""), "\"127.0.0.1\""), (Some("other"), "\"other\"")]
    {
        let error = server.fetch(tls(server_name), true).await.expect_err("wrong name refused");
        assert!(error.contains("certificate not valid for name"), "{server_name:?}: {error}");
        assert!(error.contains(expected), "{server_name:?}: {error}");
    }
    // The platform's roots do not know the CA made here.
    let no_ca = TlsConfig { ca: None, ..tls(Some("kubernetes")) };
    let error = server.fetch(no_ca, true).await.expect_err("unknown CA refused");
    assert!(error.contains("invalid peer certificate"), "{error}");

    // insecure_skip_verify accepts any name, as Prometheus does.
    let insecure = TlsConfig { insecure_skip_verify: true, ..tls(Some("other")) };
    assert_eq!(server.fetch(insecure, true).await.as_deref(), Ok(body), "insecure_skip_verify");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_name_with_a_client_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let server = TlsServer::start(dir.path(), true);
    let file = |name: &str| Some(dir.path().join(name).display().to_string());
    let tls =
        TlsConfig { ca: Some(server.ca_pem.clone()), server_name: Some("kubernetes".into()), ..TlsConfig::default() };
    let with_cert = TlsConfig { cert_file: file("client.pem"), key_file: file("client.key"), ..tls.clone() };
    assert_eq!(server.fetch(with_cert, true).await.as_deref(), Ok("secure_requests_total 3\n"));
    let error = server.fetch(tls, true).await.expect_err("the server demands a client certificate");
    assert!(error.contains("CertificateRequired"), "{error}");
}

#[test]
fn server_name_settings_that_cannot_be_used_are_refused() {
    let build =
        |tls: TlsConfig| HttpClient::new(&HttpClientConfig { tls_config: tls, ..HttpClientConfig::default() }, false);
    let named = |name: &str| TlsConfig { server_name: Some(name.to_owned()), ..TlsConfig::default() };
    assert_eq!(
        build(named("not a name!")).unwrap_err(),
        r#"tls_config.server_name "not a name!" is neither a DNS name nor an IP address"#
    );
    assert!(build(named("10.0.0.1")).is_ok(), "an IP address is a server name");
    assert_eq!(
        build(TlsConfig { max_version: Some("TLS11".into()), ..named("kubernetes") }).unwrap_err(),
        "tls_config: no TLS version between min_version and max_version is supported"
    );
    assert_eq!(
        build(TlsConfig { min_version: Some("TLS14".into()), ..named("kubernetes") }).unwrap_err(),
        "unknown TLS version: TLS14"
    );
    assert_eq!(
        build(TlsConfig { ca: Some("no PEM here".into()), ..named("kubernetes") }).unwrap_err(),
        "unable to use specified CA cert: no certificate found"
    );
}
