//! HTTP client settings shared by scrape configs, service discovery, Alertmanagers and remote
//! storage (Prometheus `common/config.HTTPClientConfig`), with its validation rules.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::units::Secret;

pub(crate) fn default_true() -> bool {
    true
}

/// HTTP basic authentication.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasicAuth {
    /// The user name.
    #[serde(default)]
    pub username: String,
    /// A file holding the user name.
    #[serde(default)]
    pub username_file: Option<String>,
    /// The password.
    #[serde(default)]
    pub password: Option<Secret>,
    /// A file holding the password.
    #[serde(default)]
    pub password_file: Option<String>,
}

/// The `Authorization` header.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Authorization {
    /// The scheme, `Bearer` when empty.
    #[serde(default, rename = "type")]
    pub scheme: Option<String>,
    /// The credentials.
    #[serde(default)]
    pub credentials: Option<Secret>,
    /// A file holding the credentials.
    #[serde(default)]
    pub credentials_file: Option<String>,
}

/// TLS settings of a client connection.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// The CA certificate, inline PEM.
    #[serde(default)]
    pub ca: Option<String>,
    /// A file holding the CA certificate.
    #[serde(default)]
    pub ca_file: Option<String>,
    /// The client certificate, inline PEM.
    #[serde(default)]
    pub cert: Option<String>,
    /// A file holding the client certificate.
    #[serde(default)]
    pub cert_file: Option<String>,
    /// The client key, inline PEM.
    #[serde(default)]
    pub key: Option<Secret>,
    /// A file holding the client key.
    #[serde(default)]
    pub key_file: Option<String>,
    /// The server name to verify.
    #[serde(default)]
    pub server_name: Option<String>,
    /// Disables server certificate verification.
    #[serde(default)]
    pub insecure_skip_verify: bool,
    /// The lowest TLS version (`TLS10` … `TLS13`).
    #[serde(default)]
    pub min_version: Option<String>,
    /// The highest TLS version.
    #[serde(default)]
    pub max_version: Option<String>,
}

impl TlsConfig {
    /// Checks the TLS settings as Prometheus does.
    ///
    /// # Errors
    ///
    /// Returns Prometheus' message for the first conflict found.
    pub fn validate(&self) -> Result<(), String> {
        if self.ca.is_some() && self.ca_file.is_some() {
            return Err("at most one of ca, ca_file & ca_ref must be configured".to_owned());
        }
        if self.cert.is_some() && self.cert_file.is_some() {
            return Err("at most one of cert, cert_file & cert_ref must be configured".to_owned());
        }
        if self.key.is_some() && self.key_file.is_some() {
            return Err("at most one of key, key_file & key_ref must be configured".to_owned());
        }
        let has_cert = self.cert.is_some() || self.cert_file.is_some();
        let has_key = self.key.is_some() || self.key_file.is_some();
        if has_cert && !has_key {
            return Err(
                "exactly one of key or key_file must be configured when a client certificate is configured".to_owned()
            );
        }
        if has_key && !has_cert {
            return Err(
                "exactly one of cert or cert_file must be configured when a client key is configured".to_owned()
            );
        }
        for version in [&self.min_version, &self.max_version].into_iter().flatten() {
            if !matches!(version.as_str(), "TLS10" | "TLS11" | "TLS12" | "TLS13") {
                return Err(format!("unknown TLS version: {version}"));
            }
        }
        Ok(())
    }
}

/// OAuth 2.0 client-credentials settings.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuth2 {
    /// The client id.
    pub client_id: String,
    /// The client secret.
    #[serde(default)]
    pub client_secret: Option<Secret>,
    /// A file holding the client secret.
    #[serde(default)]
    pub client_secret_file: Option<String>,
    /// Requested scopes.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// The token endpoint.
    pub token_url: String,
    /// Extra token request parameters.
    #[serde(default)]
    pub endpoint_params: BTreeMap<String, String>,
    /// TLS settings for the token endpoint.
    #[serde(default)]
    pub tls_config: TlsConfig,
    /// A proxy for the token endpoint.
    #[serde(default)]
    pub proxy_url: Option<String>,
    /// Hosts that bypass the proxy.
    #[serde(default)]
    pub no_proxy: Option<String>,
    /// Uses the proxy environment variables.
    #[serde(default)]
    pub proxy_from_environment: bool,
    /// Headers sent to the proxy on CONNECT.
    #[serde(default)]
    pub proxy_connect_header: BTreeMap<String, Vec<Secret>>,
}

/// Values of one custom HTTP header.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpHeader {
    /// Plain values.
    #[serde(default)]
    pub values: Vec<String>,
    /// Secret values.
    #[serde(default)]
    pub secrets: Vec<Secret>,
    /// Files whose contents are values.
    #[serde(default)]
    pub files: Vec<String>,
}

/// The HTTP client settings of one section, gathered from its fields.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpClientConfig {
    /// HTTP basic authentication.
    pub basic_auth: Option<BasicAuth>,
    /// The `Authorization` header.
    pub authorization: Option<Authorization>,
    /// OAuth 2.0.
    pub oauth2: Option<OAuth2>,
    /// A bearer token.
    pub bearer_token: Option<Secret>,
    /// A file holding a bearer token.
    pub bearer_token_file: Option<String>,
    /// TLS settings.
    pub tls_config: TlsConfig,
    /// A proxy URL.
    pub proxy_url: Option<String>,
    /// Hosts that bypass the proxy.
    pub no_proxy: Option<String>,
    /// Uses the proxy environment variables.
    pub proxy_from_environment: bool,
    /// Headers sent to the proxy on CONNECT.
    pub proxy_connect_header: BTreeMap<String, Vec<Secret>>,
    /// Follows HTTP redirects (default true).
    pub follow_redirects: bool,
    /// Allows HTTP/2 (default true).
    pub enable_http2: bool,
    /// Custom headers.
    pub http_headers: BTreeMap<String, HttpHeader>,
}

impl Default for HttpClientConfig {
    fn default() -> Self {
        HttpClientConfig {
            basic_auth: None,
            authorization: None,
            oauth2: None,
            bearer_token: None,
            bearer_token_file: None,
            tls_config: TlsConfig::default(),
            proxy_url: None,
            no_proxy: None,
            proxy_from_environment: false,
            proxy_connect_header: BTreeMap::new(),
            follow_redirects: true,
            enable_http2: true,
            http_headers: BTreeMap::new(),
        }
    }
}

impl HttpClientConfig {
    /// Checks the settings with the rules and messages of Prometheus' `HTTPClientConfig.Validate`.
    ///
    /// # Errors
    ///
    /// Returns Prometheus' message for the first conflict found.
    pub fn validate(&self) -> Result<(), String> {
        let has_bearer = self.bearer_token.as_ref().is_some_and(|token| !token.is_empty());
        let has_bearer_file = self.bearer_token_file.as_ref().is_some_and(|file| !file.is_empty());
        if has_bearer && has_bearer_file {
            return Err("at most one of bearer_token & bearer_token_file must be configured".to_owned());
        }
        if (self.basic_auth.is_some() || self.oauth2.is_some()) && (has_bearer || has_bearer_file) {
            return Err(
                "at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured".to_owned()
            );
        }
        if let Some(basic_auth) = &self.basic_auth {
            if !basic_auth.username.is_empty() && basic_auth.username_file.as_ref().is_some_and(|f| !f.is_empty()) {
                return Err(
                    "at most one of basic_auth username, username_file & username_ref must be configured".to_owned()
                );
            }
            if basic_auth.password.as_ref().is_some_and(|p| !p.is_empty())
                && basic_auth.password_file.as_ref().is_some_and(|f| !f.is_empty())
            {
                return Err(
                    "at most one of basic_auth password, password_file & password_ref must be configured".to_owned()
                );
            }
        }
        if let Some(authorization) = &self.authorization {
            if has_bearer || has_bearer_file {
                return Err("authorization is not compatible with bearer_token & bearer_token_file".to_owned());
            }
            if authorization.credentials.as_ref().is_some_and(|c| !c.is_empty())
                && authorization.credentials_file.as_ref().is_some_and(|f| !f.is_empty())
            {
                return Err("at most one of authorization credentials & credentials_file must be configured".to_owned());
            }
            if authorization.scheme.as_deref().is_some_and(|scheme| scheme.trim().eq_ignore_ascii_case("basic")) {
                return Err(r#"authorization type cannot be set to "basic", use "basic_auth" instead"#.to_owned());
            }
            if self.basic_auth.is_some() || self.oauth2.is_some() {
                return Err("at most one of basic_auth, oauth2 & authorization must be configured".to_owned());
            }
        }
        if let Some(oauth2) = &self.oauth2 {
            if self.basic_auth.is_some() {
                return Err("at most one of basic_auth, oauth2 & authorization must be configured".to_owned());
            }
            if oauth2.client_id.is_empty() {
                return Err("oauth2 client_id must be configured".to_owned());
            }
            if oauth2.token_url.is_empty() {
                return Err("oauth2 token_url must be configured".to_owned());
            }
            if oauth2.client_secret.as_ref().is_some_and(|s| !s.is_empty())
                && oauth2.client_secret_file.as_ref().is_some_and(|f| !f.is_empty())
            {
                return Err(
                    "at most one of oauth2 client_secret, client_secret_file & client_secret_ref must be configured"
                        .to_owned(),
                );
            }
            oauth2.tls_config.validate()?;
            validate_proxy(
                oauth2.proxy_url.as_deref(),
                oauth2.no_proxy.as_deref(),
                oauth2.proxy_from_environment,
                &oauth2.proxy_connect_header,
            )?;
        }
        validate_proxy(
            self.proxy_url.as_deref(),
            self.no_proxy.as_deref(),
            self.proxy_from_environment,
            &self.proxy_connect_header,
        )?;
        for name in self.http_headers.keys() {
            let canonical = canonical_header_name(name);
            if RESERVED_HTTP_HEADERS.contains(&canonical.as_str()) {
                return Err(format!("setting header {canonical:?} is not allowed"));
            }
        }
        self.tls_config.validate()
    }
}

/// Checks proxy settings with the rules and messages of Prometheus' `ProxyConfig.Validate`
/// (a section's and its `oauth2` token client's alike).
fn validate_proxy(
    proxy_url: Option<&str>,
    no_proxy: Option<&str>,
    from_environment: bool,
    connect_header: &BTreeMap<String, Vec<Secret>>,
) -> Result<(), String> {
    let has_proxy_url = proxy_url.is_some_and(|url| !url.is_empty());
    let has_no_proxy = no_proxy.is_some_and(|hosts| !hosts.is_empty());
    if !connect_header.is_empty() && !from_environment && !has_proxy_url {
        return Err(
            "if proxy_connect_header is configured, proxy_url or proxy_from_environment must also be configured"
                .to_owned(),
        );
    }
    if from_environment && has_proxy_url {
        return Err("if proxy_from_environment is configured, proxy_url must not be configured".to_owned());
    }
    if from_environment && has_no_proxy {
        return Err("if proxy_from_environment is configured, no_proxy must not be configured".to_owned());
    }
    if has_no_proxy && !has_proxy_url {
        return Err("if no_proxy is configured, proxy_url must also be configured".to_owned());
    }
    Ok(())
}

/// Headers an HTTP client sets itself, which `http_headers` must not override.
const RESERVED_HTTP_HEADERS: [&str; 18] = [
    "Authorization",
    "Host",
    "Content-Encoding",
    "Content-Length",
    "Content-Type",
    "User-Agent",
    "Connection",
    "Keep-Alive",
    "Proxy-Authenticate",
    "Proxy-Authorization",
    "Www-Authenticate",
    "Accept-Encoding",
    "X-Prometheus-Remote-Write-Version",
    "X-Prometheus-Remote-Read-Version",
    "X-Prometheus-Scrape-Timeout-Seconds",
    "X-Amz-Date",
    "X-Amz-Security-Token",
    "X-Amz-Content-Sha256",
];

/// Returns a header name in Go's canonical form (`user-agent` → `User-Agent`).
pub(crate) fn canonical_header_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = true;
    for c in name.chars() {
        out.push(if upper { c.to_ascii_uppercase() } else { c.to_ascii_lowercase() });
        upper = c == '-';
    }
    out
}

/// Joins a relative, non-empty path onto `dir`, as Prometheus' `JoinDir` does.
pub(crate) fn join_dir(dir: &std::path::Path, path: &mut String) {
    if !path.is_empty() && std::path::Path::new(path.as_str()).is_relative() {
        *path = dir.join(path.as_str()).display().to_string();
    }
}

/// Joins every relative path of an optional file setting onto `dir`.
pub(crate) fn join_dir_option(dir: &std::path::Path, path: &mut Option<String>) {
    if let Some(path) = path {
        join_dir(dir, path);
    }
}

impl TlsConfig {
    /// Resolves the relative file paths against `dir`.
    pub(crate) fn resolve_paths(&mut self, dir: &std::path::Path) {
        join_dir_option(dir, &mut self.ca_file);
        join_dir_option(dir, &mut self.cert_file);
        join_dir_option(dir, &mut self.key_file);
    }
}

/// Declares a configuration struct whose YAML mapping also holds the HTTP client fields inline,
/// as Prometheus' `yaml:",inline"` does; serde's `flatten` cannot be combined with
/// `deny_unknown_fields`, which we need for located unknown-key errors.
macro_rules! with_http_client_fields {
    (
        enable_http2_default = $http2_default:literal;
        $(#[$struct_meta:meta])*
        pub struct $name:ident {
            $(
                $(#[$field_meta:meta])*
                pub $field:ident : $ty:ty,
            )*
        }
    ) => {
        $(#[$struct_meta])*
        pub struct $name {
            $(
                $(#[$field_meta])*
                pub $field: $ty,
            )*
            /// HTTP basic authentication.
            #[serde(default)]
            pub basic_auth: Option<$crate::config::BasicAuth>,
            /// The `Authorization` header.
            #[serde(default)]
            pub authorization: Option<$crate::config::Authorization>,
            /// OAuth 2.0 client credentials.
            #[serde(default)]
            pub oauth2: Option<$crate::config::OAuth2>,
            /// A bearer token (prefer `authorization`).
            #[serde(default)]
            pub bearer_token: Option<$crate::config::Secret>,
            /// A file holding a bearer token (prefer `authorization`).
            #[serde(default)]
            pub bearer_token_file: Option<String>,
            /// TLS settings.
            #[serde(default)]
            pub tls_config: $crate::config::TlsConfig,
            /// A proxy URL.
            #[serde(default)]
            pub proxy_url: Option<String>,
            /// Hosts that bypass the proxy.
            #[serde(default)]
            pub no_proxy: Option<String>,
            /// Uses the proxy environment variables.
            #[serde(default)]
            pub proxy_from_environment: bool,
            /// Headers sent to the proxy on CONNECT.
            #[serde(default)]
            pub proxy_connect_header: std::collections::BTreeMap<String, Vec<$crate::config::Secret>>,
            /// Follows HTTP redirects (default true).
            #[serde(default = "crate::config::http::default_true")]
            pub follow_redirects: bool,
            /// Allows HTTP/2 (default true, false for remote write).
            #[serde(default = $http2_default)]
            pub enable_http2: bool,
            /// Custom headers.
            #[serde(default)]
            pub http_headers: std::collections::BTreeMap<String, $crate::config::HttpHeader>,
        }

        impl $name {
            /// Returns the HTTP client settings of this section.
            pub fn http_client(&self) -> $crate::config::HttpClientConfig {
                $crate::config::HttpClientConfig {
                    basic_auth: self.basic_auth.clone(),
                    authorization: self.authorization.clone(),
                    oauth2: self.oauth2.clone(),
                    bearer_token: self.bearer_token.clone(),
                    bearer_token_file: self.bearer_token_file.clone(),
                    tls_config: self.tls_config.clone(),
                    proxy_url: self.proxy_url.clone(),
                    no_proxy: self.no_proxy.clone(),
                    proxy_from_environment: self.proxy_from_environment,
                    proxy_connect_header: self.proxy_connect_header.clone(),
                    follow_redirects: self.follow_redirects,
                    enable_http2: self.enable_http2,
                    http_headers: self.http_headers.clone(),
                }
            }

            /// Resolves the relative file paths of the HTTP client settings against `dir`.
            fn resolve_http_paths(&mut self, dir: &std::path::Path) {
                use $crate::config::http::{join_dir, join_dir_option};
                join_dir_option(dir, &mut self.bearer_token_file);
                self.tls_config.resolve_paths(dir);
                if let Some(basic_auth) = &mut self.basic_auth {
                    join_dir_option(dir, &mut basic_auth.username_file);
                    join_dir_option(dir, &mut basic_auth.password_file);
                }
                if let Some(authorization) = &mut self.authorization {
                    join_dir_option(dir, &mut authorization.credentials_file);
                }
                if let Some(oauth2) = &mut self.oauth2 {
                    join_dir_option(dir, &mut oauth2.client_secret_file);
                    oauth2.tls_config.resolve_paths(dir);
                }
                for header in self.http_headers.values_mut() {
                    for file in &mut header.files {
                        join_dir(dir, file);
                    }
                }
            }
        }
    };
}

pub(crate) use with_http_client_fields;
