//! The client against a real TLS server on loopback: `openssl s_server -WWW` (Debian's openssl)
//! with a certificate, made here, for the DNS name `kubernetes` only, as the Kubernetes API
//! server's certificate is when scraped by IP address.

use panoptes_test_util::tls::{OpensslServer, TestPki};
use rustls::pki_types::CertificateDer;

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

/// What a TLS server saw of one request: the SNI of the handshake and the Host header.
type Seen = std::sync::Arc<parking_lot::Mutex<Vec<(Option<String>, String)>>>;

/// A rustls server on loopback (a thread per connection, blocking I/O) with a certificate for
/// `DNS:kubernetes` only, recording the SNI each client sent and the Host header it asked for.
fn start_recording_server(pki: &TestPki) -> (u16, Seen) {
    use rustls::pki_types::pem::PemObject;
    use std::io::{BufRead, Write};
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(pki.path("server.pem"))
        .expect("server.pem")
        .collect::<Result<_, _>>()
        .expect("certificates");
    let key = rustls::pki_types::PrivateKeyDer::from_pem_file(pki.path("server.key")).expect("server.key");
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("server certificate");
    let config = std::sync::Arc::new(config);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    let seen: Seen = Default::default();
    let record = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let (config, record) = (config.clone(), record.clone());
            std::thread::spawn(move || {
                let connection = rustls::ServerConnection::new(config).expect("connection");
                let mut tls = std::io::BufReader::new(rustls::StreamOwned::new(connection, stream));
                let (mut host, mut path) = (String::new(), String::new());
                loop {
                    let mut line = String::new();
                    if tls.read_line(&mut line).unwrap_or(0) == 0 {
                        return; // The client gave up (a refused certificate).
                    }
                    let line = line.trim_end();
                    if line.is_empty() {
                        break;
                    }
                    if path.is_empty() {
                        path = line.split(' ').nth(1).unwrap_or("").to_owned();
                    }
                    if let Some((name, value)) = line.split_once(':')
                        && name.eq_ignore_ascii_case("host")
                    {
                        host = value.trim().to_owned();
                    }
                }
                let tls = tls.get_mut();
                record.lock().push((tls.conn.server_name().map(str::to_owned), host));
                let body = "named_requests_total 1\n";
                let answer = match path.as_str() {
                    // A redirect within the target, and one to another host.
                    "/moved" => "HTTP/1.1 302 Found\r\nlocation: /metrics\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".to_owned(),
                    "/away" => {
                        "HTTP/1.1 302 Found\r\nlocation: https://elsewhere.invalid/metrics\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                            .to_owned()
                    }
                    _ => {
                        format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len())
                    }
                };
                let _ = tls.write_all(answer.as_bytes());
                tls.conn.send_close_notify();
                let _ = tls.flush();
            });
        }
    });
    (port, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_name_is_sent_as_sni_while_the_host_header_stays_the_target() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::new(dir.path());
    pki.issue_server("server", "kubernetes", "DNS:kubernetes");
    let (first_port, first) = start_recording_server(&pki);
    let (second_port, second) = start_recording_server(&pki);
    let config = |server_name: Option<&str>, insecure: bool| HttpClientConfig {
        tls_config: TlsConfig {
            ca: Some(pki.ca_pem.clone()),
            server_name: server_name.map(str::to_owned),
            insecure_skip_verify: insecure,
            ..TlsConfig::default()
        },
        ..HttpClientConfig::default()
    };
    let fetch = |client: HttpClient, port: u16| async move {
        let url = format!("https://127.0.0.1:{port}/metrics");
        let response = client.get(&url).await?.send().await.map_err(|error| format!("{error:?}"))?;
        response.text().await.map_err(|error| error.to_string())
    };

    // One job's client, two targets: each handshake names the server, each Host is the target.
    let client = HttpClient::new(&config(Some("kubernetes"), false), false).expect("client");
    for _ in 0..2 {
        assert_eq!(fetch(client.clone(), first_port).await.as_deref(), Ok("named_requests_total 1\n"));
        assert_eq!(fetch(client.clone(), second_port).await.as_deref(), Ok("named_requests_total 1\n"));
    }
    let expected = |port: u16| vec![(Some("kubernetes".to_owned()), format!("127.0.0.1:{port}")); 2];
    assert_eq!(*first.lock(), expected(first_port));
    assert_eq!(*second.lock(), expected(second_port));

    // A redirect within the target is followed with the same SNI and Host; one to another host
    // is not (the Host header set for the target would go with it): its status is the answer.
    let moved = client.get(&format!("https://127.0.0.1:{first_port}/moved")).await.unwrap().send().await.unwrap();
    assert_eq!(moved.status(), 200);
    assert_eq!(first.lock().len(), 4, "/moved, then /metrics");
    assert!(
        first.lock().iter().all(|seen| *seen == (Some("kubernetes".to_owned()), format!("127.0.0.1:{first_port}")))
    );
    let away = client.get(&format!("https://127.0.0.1:{first_port}/away")).await.unwrap().send().await.unwrap();
    assert_eq!(away.status(), 302);
    assert_eq!(first.lock().len(), 5, "elsewhere.invalid was not asked");

    // The certificate is still verified against server_name, which is what was sent.
    let other = HttpClient::new(&config(Some("other"), false), false).expect("client");
    let error = fetch(other, first_port).await.expect_err("the certificate is for kubernetes only");
    assert!(error.contains("NotValidForName"), "{error}");

    // Without server_name, an IP address target gets no SNI (RFC 6066 names hosts only).
    let plain = HttpClient::new(&config(None, true), false).expect("client");
    assert_eq!(fetch(plain, first_port).await.as_deref(), Ok("named_requests_total 1\n"));
    assert_eq!(first.lock().last(), Some(&(None, format!("127.0.0.1:{first_port}"))));
}
