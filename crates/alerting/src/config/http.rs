//! `http_config`: how receivers authenticate and connect (a subset of Prometheus' common HTTP
//! client configuration), and the `reqwest` client built from it.

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::Secret;

/// Basic authentication.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasicAuth {
    /// The user name.
    pub username: String,
    /// The password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<Secret>,
    /// A file holding the password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_file: Option<String>,
}

/// The `Authorization` header.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Authorization {
    /// The scheme (default `Bearer`).
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<Secret>,
    /// A file holding the credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_file: Option<String>,
}

/// TLS settings of a receiver's connection.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// A PEM file of CA certificates to trust.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<String>,
    /// A PEM client certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_file: Option<String>,
    /// The PEM key of the client certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_file: Option<String>,
    /// The server name to verify.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
    /// Skips certificate verification.
    #[serde(default)]
    pub insecure_skip_verify: bool,
    /// The minimum TLS version (`TLS12`, `TLS13`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_version: Option<String>,
}

/// A receiver's HTTP client configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpClientConfig {
    /// Basic authentication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basic_auth: Option<BasicAuth>,
    /// The `Authorization` header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization: Option<Authorization>,
    /// A bearer token (deprecated form of `authorization`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bearer_token: Option<Secret>,
    /// TLS settings.
    #[serde(default)]
    pub tls_config: TlsConfig,
    /// An HTTP proxy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_url: Option<String>,
    /// Hosts that bypass the proxy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_proxy: Option<String>,
    /// Takes the proxy from the environment.
    #[serde(default)]
    pub proxy_from_environment: bool,
    /// Follows redirects (default true).
    #[serde(default = "default_true")]
    pub follow_redirects: bool,
    /// Allows HTTP/2 (default true).
    #[serde(default = "default_true")]
    pub enable_http2: bool,
}

fn default_true() -> bool {
    true
}

impl Default for HttpClientConfig {
    fn default() -> Self {
        HttpClientConfig {
            basic_auth: None,
            authorization: None,
            bearer_token: None,
            tls_config: TlsConfig::default(),
            proxy_url: None,
            no_proxy: None,
            proxy_from_environment: false,
            follow_redirects: true,
            enable_http2: true,
        }
    }
}

impl HttpClientConfig {
    /// Checks what Prometheus' `HTTPClientConfig.Validate` checks.
    pub(crate) fn validate(&self) -> Result<(), String> {
        let auth_count = [self.basic_auth.is_some(), self.authorization.is_some(), self.bearer_token.is_some()]
            .iter()
            .filter(|set| **set)
            .count();
        if auth_count > 1 {
            return Err("at most one of basic_auth, authorization and bearer_token must be configured".to_owned());
        }
        if let Some(basic) = &self.basic_auth
            && basic.password.is_some()
            && basic.password_file.is_some()
        {
            return Err("at most one of basic_auth password & password_file must be configured".to_owned());
        }
        if let Some(authorization) = &self.authorization {
            if authorization.kind.as_deref().is_some_and(|kind| kind.eq_ignore_ascii_case("basic")) {
                return Err(r#"authorization type cannot be set to "basic", use "basic_auth" instead"#.to_owned());
            }
            if authorization.credentials.is_some() && authorization.credentials_file.is_some() {
                return Err("at most one of authorization credentials & credentials_file must be configured".to_owned());
            }
        }
        if let Some(proxy) = &self.proxy_url {
            reqwest::Url::parse(proxy).map_err(|e| format!("invalid proxy_url {proxy:?}: {e}"))?;
        }
        Ok(())
    }

    /// Joins relative file paths onto `dir`.
    pub(crate) fn resolve_paths(&mut self, dir: &Path) {
        let join = |file: &mut Option<String>| {
            if let Some(path) = file
                && !path.is_empty()
                && Path::new(path).is_relative()
            {
                *path = dir.join(&*path).display().to_string();
            }
        };
        if let Some(basic) = &mut self.basic_auth {
            join(&mut basic.password_file);
        }
        if let Some(authorization) = &mut self.authorization {
            join(&mut authorization.credentials_file);
        }
        join(&mut self.tls_config.ca_file);
        join(&mut self.tls_config.cert_file);
        join(&mut self.tls_config.key_file);
    }

    /// Builds a client for this configuration with the given request timeout.
    ///
    /// # Errors
    ///
    /// Returns a message when a file cannot be read or the client cannot be built.
    pub(crate) fn build_client(&self, timeout: Duration) -> Result<reqwest::Client, String> {
        let mut builder = reqwest::Client::builder()
            .timeout(timeout)
            .user_agent(concat!("Panoptes-Alertmanager/", env!("CARGO_PKG_VERSION")));
        if !self.follow_redirects {
            builder = builder.redirect(reqwest::redirect::Policy::none());
        }
        if self.tls_config.insecure_skip_verify {
            builder = builder.tls_danger_accept_invalid_certs(true);
        }
        if let Some(ca_file) = &self.tls_config.ca_file {
            let pem = std::fs::read(ca_file).map_err(|e| format!("cannot read ca_file {ca_file:?}: {e}"))?;
            let certificates = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| format!("cannot parse ca_file {ca_file:?}: {e}"))?;
            for certificate in certificates {
                builder = builder.add_root_certificate(certificate);
            }
        }
        if let (Some(cert_file), Some(key_file)) = (&self.tls_config.cert_file, &self.tls_config.key_file) {
            let mut pem = std::fs::read(cert_file).map_err(|e| format!("cannot read cert_file {cert_file:?}: {e}"))?;
            pem.extend(std::fs::read(key_file).map_err(|e| format!("cannot read key_file {key_file:?}: {e}"))?);
            let identity = reqwest::Identity::from_pem(&pem).map_err(|e| format!("bad client certificate: {e}"))?;
            builder = builder.identity(identity);
        }
        if let Some(proxy_url) = &self.proxy_url {
            let mut proxy = reqwest::Proxy::all(proxy_url).map_err(|e| format!("invalid proxy_url: {e}"))?;
            if let Some(no_proxy) = &self.no_proxy {
                proxy = proxy.no_proxy(reqwest::NoProxy::from_string(no_proxy));
            }
            builder = builder.proxy(proxy);
        } else if !self.proxy_from_environment {
            builder = builder.no_proxy();
        }
        builder.build().map_err(|e| format!("cannot build HTTP client: {e}"))
    }

    /// Adds the configured authentication to a request.
    ///
    /// # Errors
    ///
    /// Returns a message when a credentials file cannot be read.
    pub(crate) fn authenticate(&self, request: reqwest::RequestBuilder) -> Result<reqwest::RequestBuilder, String> {
        let read = |file: &str| {
            std::fs::read_to_string(file)
                .map(|text| text.trim().to_owned())
                .map_err(|e| format!("cannot read credentials file {file:?}: {e}"))
        };
        if let Some(basic) = &self.basic_auth {
            let password = match (&basic.password, &basic.password_file) {
                (Some(password), _) => password.expose().to_owned(),
                (None, Some(file)) => read(file)?,
                (None, None) => String::new(),
            };
            return Ok(request.basic_auth(&basic.username, Some(password)));
        }
        if let Some(authorization) = &self.authorization {
            let kind = authorization.kind.clone().unwrap_or_else(|| "Bearer".to_owned());
            let credentials = match (&authorization.credentials, &authorization.credentials_file) {
                (Some(credentials), _) => credentials.expose().to_owned(),
                (None, Some(file)) => read(file)?,
                (None, None) => String::new(),
            };
            return Ok(request.header(reqwest::header::AUTHORIZATION, format!("{kind} {credentials}")));
        }
        if let Some(token) = &self.bearer_token {
            return Ok(request.bearer_auth(token.expose()));
        }
        Ok(request)
    }
}
