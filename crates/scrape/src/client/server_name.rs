//! The rustls configuration of a client with `tls_config.server_name`: the server certificate is
//! verified against that name instead of the URL's host, as Prometheus does (Go's
//! `tls.Config.ServerName`). reqwest cannot do this itself, so the configuration is built here
//! and handed to it whole, with everything else `tls_config` asks for: the roots (`ca`/`ca_file`,
//! or the platform's as reqwest uses without them), the client certificate, the TLS versions and
//! `insecure_skip_verify`.
//!
//! SNI: reqwest's connector takes the name it sends from the URL's host (none for an IP address,
//! the usual case of a Kubernetes target), so `server_name` is used for verification only.

use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};

use super::read_pem;
use crate::config::{Secret, TlsConfig};

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
