//! The rustls configuration of a client with `tls_config.server_name`: the server certificate is
//! verified against that name instead of the URL's host, as Prometheus does (Go's
//! `tls.Config.ServerName`). reqwest cannot do this itself, so the configuration is built here
//! and handed to it whole, with everything else `tls_config` asks for: the roots (`ca`/`ca_file`,
//! or the platform's as reqwest uses without them), the client certificate, the TLS versions and
//! `insecure_skip_verify`.
//!
//! SNI: reqwest's connector takes the name it sends from the URL's host (none for an IP address,
//! the usual case of a Kubernetes target). To send `server_name` as Go does, requests to
//! `https://` targets go through [`PerTargetClients`]: the URL's host becomes the server name,
//! a client made for that target resolves the server name to the target's host, and the Host
//! header keeps the target's address, as Prometheus sends it. These clients speak HTTP/1.1 (see
//! `build_client`). Without a DNS `server_name`, or with a proxy (whose `CONNECT` must name the
//! target), requests take the job's one client and `server_name` is used for verification only.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};

use super::{build_client, read_pem};
use crate::config::{HttpClientConfig, Secret, TlsConfig};

/// A per-target client unused this long is dropped (with its connections) when another target
/// gets one, so that targets that come and go do not pile up clients.
const IDLE_CLIENT: Duration = Duration::from_secs(10 * 60);

/// The clients of one job with a DNS `server_name`, one per target authority (`host:port`).
pub(super) struct PerTargetClients {
    server_name: String,
    config: HttpClientConfig,
    gzip: bool,
    clients: parking_lot::Mutex<HashMap<String, (reqwest::Client, Instant)>>,
}

impl std::fmt::Debug for PerTargetClients {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PerTargetClients").field("server_name", &self.server_name).finish_non_exhaustive()
    }
}

impl PerTargetClients {
    /// Returns the per-target clients `config` needs: `Some` with a `server_name` that is a DNS
    /// name and no proxy.
    ///
    /// # Errors
    ///
    /// Returns the message of a client that cannot be built from `config`.
    pub(super) fn for_config(config: &HttpClientConfig, gzip: bool) -> Result<Option<PerTargetClients>, String> {
        let Some(name) = config.tls_config.server_name.as_deref().filter(|name| !name.is_empty()) else {
            return Ok(None);
        };
        let has_proxy = config.proxy_url.as_ref().is_some_and(|url| !url.is_empty()) || config.proxy_from_environment;
        if has_proxy || !matches!(ServerName::try_from(name), Ok(ServerName::DnsName(_))) {
            return Ok(None);
        }
        let clients = PerTargetClients {
            server_name: name.to_ascii_lowercase(),
            config: config.clone(),
            gzip,
            clients: parking_lot::Mutex::new(HashMap::new()),
        };
        // Settings that cannot be built fail now, not at the first scrape.
        clients.build("localhost")?;
        Ok(Some(clients))
    }

    /// Starts a request to `url` (`https://`) whose connection names the server.
    ///
    /// # Errors
    ///
    /// Returns a message when `url` does not parse or has no host.
    pub(super) fn request(&self, method: reqwest::Method, url: &str) -> Result<reqwest::RequestBuilder, String> {
        let mut url = reqwest::Url::parse(url).map_err(|error| format!("invalid URL {url:?}: {error}"))?;
        let host = url.host_str().ok_or_else(|| format!("URL {url:?} has no host"))?.to_owned();
        let authority = match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.clone(),
        };
        let client = self.client_for(&authority, host.trim_start_matches('[').trim_end_matches(']'))?;
        url.set_host(Some(&self.server_name)).map_err(|error| format!("invalid server name: {error}"))?;
        Ok(client.request(method, url).header(reqwest::header::HOST, authority))
    }

    fn client_for(&self, authority: &str, host: &str) -> Result<reqwest::Client, String> {
        let now = Instant::now();
        let mut clients = self.clients.lock();
        if let Some((client, used)) = clients.get_mut(authority) {
            *used = now;
            return Ok(client.clone());
        }
        clients.retain(|_, (_, used)| now.duration_since(*used) < IDLE_CLIENT);
        let client = self.build(host)?;
        clients.insert(authority.to_owned(), (client.clone(), now));
        Ok(client)
    }

    fn build(&self, host: &str) -> Result<reqwest::Client, String> {
        let resolver = TargetResolver { server_name: self.server_name.clone(), target_host: host.to_owned() };
        build_client(&self.config, self.gzip, Some((Arc::new(resolver), &self.server_name)))
    }
}

/// Resolves the server name to the target's host (an address, or a name looked up); any other
/// name as the system resolver does.
struct TargetResolver {
    server_name: String,
    target_host: String,
}

impl reqwest::dns::Resolve for TargetResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = if name.as_str().eq_ignore_ascii_case(&self.server_name) {
            self.target_host.clone()
        } else {
            name.as_str().to_owned()
        };
        Box::pin(async move {
            // Port 0: the connector puts the URL's port on every address.
            let addresses: Vec<SocketAddr> = match host.parse::<IpAddr>() {
                Ok(ip) => vec![SocketAddr::new(ip, 0)],
                Err(_) => tokio::net::lookup_host((host.as_str(), 0)).await?.collect(),
            };
            Ok(Box::new(addresses.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// Builds the rustls configuration for `tls` verifying certificates against `name`; `http2`
/// offers `h2` by ALPN besides HTTP/1.1.
pub(super) fn rustls_config(tls: &TlsConfig, name: &str, http2: bool) -> Result<rustls::ClientConfig, String> {
    let server_name = ServerName::try_from(name.to_owned())
        .map_err(|_| format!("tls_config.server_name {name:?} is neither a DNS name nor an IP address"))?;
    let provider = crypto_provider();
    let versions = protocol_versions(tls)?;
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|error| format!("invalid TLS versions: {error}"))?;
    let verifier: Arc<dyn ServerCertVerifier> = if tls.insecure_skip_verify {
        Arc::new(SkipVerification { algorithms: provider.signature_verification_algorithms })
    } else {
        let inner: Arc<dyn ServerCertVerifier> = match read_pem(tls.ca.as_deref(), tls.ca_file.as_deref(), "CA")? {
            Some(ca) => {
                let mut roots = RootCertStore::empty();
                for certificate in CertificateDer::pem_slice_iter(&ca) {
                    let certificate =
                        certificate.map_err(|error| format!("unable to use specified CA cert: {error}"))?;
                    roots.add(certificate).map_err(|error| format!("unable to use specified CA cert: {error}"))?;
                }
                if roots.is_empty() {
                    return Err("unable to use specified CA cert: no certificate found".to_owned());
                }
                WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                    .build()
                    .map_err(|error| format!("unable to use specified CA cert: {error}"))?
            }
            None => Arc::new(
                rustls_platform_verifier::Verifier::new(provider.clone())
                    .map_err(|error| format!("unable to load the platform's root certificates: {error}"))?,
            ),
        };
        Arc::new(FixedNameVerifier { inner, name: server_name })
    };
    let builder = builder.dangerous().with_custom_certificate_verifier(verifier);
    let cert = read_pem(tls.cert.as_deref(), tls.cert_file.as_deref(), "client certificate")?;
    let key = read_pem(tls.key.as_ref().map(Secret::expose), tls.key_file.as_deref(), "client key")?;
    let mut config = if let (Some(cert), Some(key)) = (cert, key) {
        let invalid = |error: &dyn std::fmt::Display| format!("unable to use specified client cert and key: {error}");
        let chain = CertificateDer::pem_slice_iter(&cert).collect::<Result<Vec<_>, _>>().map_err(|e| invalid(&e))?;
        let key = PrivateKeyDer::from_pem_slice(&key).map_err(|e| invalid(&e))?;
        builder.with_client_auth_cert(chain, key).map_err(|e| invalid(&e))?
    } else {
        builder.with_no_client_auth()
    };
    config.alpn_protocols = if http2 { vec![b"h2".to_vec(), b"http/1.1".to_vec()] } else { vec![b"http/1.1".to_vec()] };
    Ok(config)
}

/// The provider reqwest uses: the process default if one was installed, else aws-lc-rs (the only
/// provider compiled in), chosen explicitly so that rustls never looks for a process default.
fn crypto_provider() -> Arc<CryptoProvider> {
    CryptoProvider::get_default().cloned().unwrap_or_else(|| Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
}

/// The versions rustls supports (TLS 1.2 and 1.3) between `min_version` and `max_version`.
fn protocol_versions(tls: &TlsConfig) -> Result<Vec<&'static rustls::SupportedProtocolVersion>, String> {
    let number = |name: &str| match name {
        "TLS10" => Ok(0x0301),
        "TLS11" => Ok(0x0302),
        "TLS12" => Ok(0x0303),
        "TLS13" => Ok(0x0304),
        other => Err(format!("unknown TLS version: {other}")),
    };
    let min = tls.min_version.as_deref().map(number).transpose()?.unwrap_or(0);
    let max = tls.max_version.as_deref().map(number).transpose()?.unwrap_or(u16::MAX);
    let versions: Vec<_> = rustls::ALL_VERSIONS
        .iter()
        .copied()
        .filter(|version| (min..=max).contains(&u16::from(version.version)))
        .collect();
    if versions.is_empty() {
        return Err("tls_config: no TLS version between min_version and max_version is supported".to_owned());
    }
    Ok(versions)
}

/// Verifies with `inner` (chain, validity, signatures) against `name` rather than the URL's host.
#[derive(Debug)]
struct FixedNameVerifier {
    inner: Arc<dyn ServerCertVerifier>,
    name: ServerName<'static>,
}

impl ServerCertVerifier for FixedNameVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _url_host: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.inner.verify_server_cert(end_entity, intermediates, &self.name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// `insecure_skip_verify`: any certificate is accepted; the handshake signatures are still checked
/// so that the connection is at least with the certificate's key holder.
#[derive(Debug)]
struct SkipVerification {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for SkipVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _url_host: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
