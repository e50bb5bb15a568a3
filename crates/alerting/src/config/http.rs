//! `http_config`: how receivers authenticate and connect (a subset of Prometheus' common HTTP
//! client configuration), and the client built from it with `panoptes-scrape`'s `HttpClient`.

use std::path::Path;
use std::time::Duration;

use panoptes_scrape::config as scrape;
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

    /// Builds a client for this configuration with the given request timeout: the scrape
    /// crate's `HttpClient`, the one implementation of Prometheus' HTTP client settings
    /// (authentication, TLS with `server_name`, proxies as Prometheus chooses them), also used
    /// by scrapes, service discovery and remote write.
    ///
    /// # Errors
    ///
    /// Returns a message naming the setting when a file cannot be read or the client cannot be
    /// built.
    pub(crate) fn build_client(&self, timeout: Duration) -> Result<ReceiverClient, String> {
        let client = panoptes_scrape::client::HttpClient::new(&self.to_scrape(), false)?;
        Ok(ReceiverClient { client, timeout })
    }

    /// The same settings in the scrape crate's terms.
    fn to_scrape(&self) -> scrape::HttpClientConfig {
        let tls = &self.tls_config;
        scrape::HttpClientConfig {
            basic_auth: self.basic_auth.as_ref().map(|basic| scrape::BasicAuth {
                username: basic.username.clone(),
                username_file: None,
                password: basic.password.clone(),
                password_file: basic.password_file.clone(),
            }),
            authorization: self.authorization.as_ref().map(|authorization| scrape::Authorization {
                scheme: authorization.kind.clone(),
                credentials: authorization.credentials.clone(),
                credentials_file: authorization.credentials_file.clone(),
            }),
            bearer_token: self.bearer_token.clone(),
            tls_config: scrape::TlsConfig {
                ca_file: tls.ca_file.clone(),
                cert_file: tls.cert_file.clone(),
                key_file: tls.key_file.clone(),
                server_name: tls.server_name.clone(),
                insecure_skip_verify: tls.insecure_skip_verify,
                min_version: tls.min_version.clone(),
                ..scrape::TlsConfig::default()
            },
            proxy_url: self.proxy_url.clone(),
            no_proxy: self.no_proxy.clone(),
            proxy_from_environment: self.proxy_from_environment,
            follow_redirects: self.follow_redirects,
            enable_http2: self.enable_http2,
            ..scrape::HttpClientConfig::default()
        }
    }
}

/// A receiver's HTTP client: the scrape crate's `HttpClient` with the notification timeout and
/// Alertmanager's user agent; cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct ReceiverClient {
    client: panoptes_scrape::client::HttpClient,
    timeout: Duration,
}

impl ReceiverClient {
    /// Starts a request with authentication applied.
    ///
    /// # Errors
    ///
    /// Returns a message when a credentials file cannot be read; never the URL.
    pub(crate) async fn request(&self, method: reqwest::Method, url: &str) -> Result<reqwest::RequestBuilder, String> {
        let request = self.client.request(method, url).await?;
        Ok(request.timeout(self.timeout).header(reqwest::header::USER_AGENT, USER_AGENT))
    }
}

/// The user agent of notifications.
const USER_AGENT: &str = concat!("Panoptes-Alertmanager/", env!("CARGO_PKG_VERSION"));
