//! An HTTP client built from Prometheus' `http_client_config` settings, shared by scrape loops,
//! HTTP service discovery, remote write and the Alertmanager notifier: authentication (basic,
//! `Authorization`, bearer token, each from the config or a file read at every request, as
//! Prometheus does; OAuth 2.0 client credentials in `oauth2.rs`), custom headers, redirects,
//! HTTP/2, TLS (`tls_config.server_name` verified and sent as SNI in `server_name.rs`) and
//! proxies (`proxy.rs`).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use crate::config::{HttpClientConfig, OAuth2, Secret, TlsConfig};

mod oauth2;
mod proxy;
mod server_name;
#[cfg(test)]
mod tests;

/// The `User-Agent` of every request Panoptes makes.
pub const USER_AGENT: &str = concat!("Panoptes/", env!("CARGO_PKG_VERSION"));

/// A value given inline in the configuration or read from a file at each request.
#[derive(Debug, Clone)]
enum Source {
    Inline(Secret),
    File(PathBuf),
}

impl Source {
    fn from_parts(inline: Option<&Secret>, file: Option<&str>) -> Option<Source> {
        match (inline.filter(|secret| !secret.is_empty()), file.filter(|file| !file.is_empty())) {
            (Some(secret), _) => Some(Source::Inline(secret.clone())),
            (None, Some(file)) => Some(Source::File(PathBuf::from(file))),
            (None, None) => None,
        }
    }

    /// Returns the value; files are trimmed of surrounding white space, as Prometheus does.
    fn read(&self) -> Result<String, String> {
        match self {
            Source::Inline(secret) => Ok(secret.expose().to_owned()),
            Source::File(path) => read_trimmed(path),
        }
    }
}

fn read_trimmed(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path)
        .map(|text| text.trim().to_owned())
        .map_err(|error| format!("unable to read file {}: {error}", path.display()))
}

/// How requests authenticate.
#[derive(Debug, Clone)]
enum Auth {
    None,
    Basic {
        username: Option<Source>,
        password: Option<Source>,
    },
    Header {
        scheme: String,
        credentials: Option<Source>,
    },
    /// OAuth 2.0 client credentials: a token fetched from the token endpoint and kept.
    OAuth2(Arc<oauth2::TokenSource>),
}

/// A configured HTTP client; cheap to clone.
#[derive(Debug, Clone)]
pub struct HttpClient {
    client: reqwest::Client,
    auth: Auth,
    /// Custom headers: name and the sources of its values.
    headers: Vec<(HeaderName, Vec<Source>)>,
    /// With `tls_config.server_name`, the clients that send it as SNI, one per target
    /// (`server_name.rs`); `None` otherwise, and then requests cost nothing more.
    per_target: Option<Arc<server_name::PerTargetClients>>,
}

impl HttpClient {
    /// Builds a client from a validated configuration. `gzip` enables transparent response
    /// decompression (scrapes ask for gzip unless `enable_compression: false`).
    ///
    /// # Errors
    ///
    /// Returns a message naming the setting that cannot be honoured (an unusable proxy URL, an
    /// unreadable CA or client certificate, a malformed header name, `oauth2.endpoint_params`
    /// that overwrite `scope`).
    pub fn new(config: &HttpClientConfig, gzip: bool) -> Result<HttpClient, String> {
        let client = build_client(config, gzip, None)?;
        let per_target = server_name::PerTargetClients::for_config(config, gzip)?.map(Arc::new);
        let auth = if let Some(oauth2) = &config.oauth2 {
            Auth::OAuth2(Arc::new(oauth2::TokenSource::new(oauth2, token_client(oauth2)?)?))
        } else if let Some(basic) = &config.basic_auth {
            let username = if basic.username.is_empty() {
                Source::from_parts(None, basic.username_file.as_deref())
            } else {
                Some(Source::Inline(Secret::new(basic.username.clone())))
            };
            Auth::Basic {
                username,
                password: Source::from_parts(basic.password.as_ref(), basic.password_file.as_deref()),
            }
        } else if let Some(authorization) = &config.authorization {
            Auth::Header {
                scheme: authorization.scheme.clone().filter(|scheme| !scheme.is_empty()).unwrap_or("Bearer".into()),
                credentials: Source::from_parts(
                    authorization.credentials.as_ref(),
                    authorization.credentials_file.as_deref(),
                ),
            }
        } else if let Some(source) =
            Source::from_parts(config.bearer_token.as_ref(), config.bearer_token_file.as_deref())
        {
            Auth::Header { scheme: "Bearer".into(), credentials: Some(source) }
        } else {
            Auth::None
        };
        let mut headers = Vec::new();
        for (name, header) in &config.http_headers {
            let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| format!("invalid header name {name:?}"))?;
            let mut sources: Vec<Source> =
                header.values.iter().map(|value| Source::Inline(Secret::new(value.clone()))).collect();
            sources.extend(header.secrets.iter().cloned().map(Source::Inline));
            sources.extend(header.files.iter().map(|file| Source::File(PathBuf::from(file))));
            headers.push((name, sources));
        }
        Ok(HttpClient { client, auth, headers, per_target })
    }

    /// Starts a GET request with authentication and custom headers applied.
    ///
    /// # Errors
    ///
    /// Returns a message when a credentials or header file cannot be read or no OAuth 2.0 token
    /// can be obtained.
    pub async fn get(&self, url: &str) -> Result<reqwest::RequestBuilder, String> {
        self.request(reqwest::Method::GET, url).await
    }

    /// Starts a POST request with authentication and custom headers applied.
    ///
    /// # Errors
    ///
    /// Returns a message when a credentials or header file cannot be read or no OAuth 2.0 token
    /// can be obtained.
    pub async fn post(&self, url: &str) -> Result<reqwest::RequestBuilder, String> {
        self.request(reqwest::Method::POST, url).await
    }

    /// Starts a request with authentication and custom headers applied. With `oauth2`, this is
    /// where a token is fetched when none is kept or it is about to expire.
    ///
    /// # Errors
    ///
    /// Returns a message when a credentials or header file cannot be read or no OAuth 2.0 token
    /// can be obtained.
    pub async fn request(&self, method: reqwest::Method, url: &str) -> Result<reqwest::RequestBuilder, String> {
        let mut request = match &self.per_target {
            Some(clients) if url.starts_with("https://") => clients.request(method, url)?,
            _ => self.client.request(method, url),
        };
        match &self.auth {
            Auth::None => {}
            Auth::Basic { username, password } => {
                let username = username.as_ref().map(Source::read).transpose()?.unwrap_or_default();
                let password = password.as_ref().map(Source::read).transpose()?;
                request = request.basic_auth(username, password);
            }
            Auth::Header { scheme, credentials } => {
                let credentials = credentials.as_ref().map(Source::read).transpose()?.unwrap_or_default();
                let mut value = HeaderValue::from_str(&format!("{scheme} {credentials}"))
                    .map_err(|_| "authorization credentials are not a valid header value".to_owned())?;
                value.set_sensitive(true);
                request = request.header(reqwest::header::AUTHORIZATION, value);
            }
            Auth::OAuth2(source) => {
                request = request.header(reqwest::header::AUTHORIZATION, source.authorization().await?);
            }
        }
        if !self.headers.is_empty() {
            let mut map = HeaderMap::new();
            for (name, sources) in &self.headers {
                for source in sources {
                    let value = HeaderValue::from_str(&source.read()?)
                        .map_err(|_| format!("header {name} has a value that is not a valid header value"))?;
                    map.append(name.clone(), value);
                }
            }
            request = request.headers(map);
        }
        Ok(request)
    }
}

/// Builds the reqwest client of `config`. A per-target client of `server_name.rs` passes its
/// resolver and server name.
fn build_client(
    config: &HttpClientConfig,
    gzip: bool,
    per_target: Option<(Arc<dyn reqwest::dns::Resolve>, &str)>,
) -> Result<reqwest::Client, String> {
    let builder = reqwest::Client::builder().user_agent(USER_AGENT).gzip(gzip);
    let mut builder = proxy::configure(
        builder,
        &proxy::ProxySettings {
            url: config.proxy_url.as_deref(),
            no_proxy: config.no_proxy.as_deref(),
            from_environment: config.proxy_from_environment,
            connect_header: &config.proxy_connect_header,
        },
    )?
    .redirect(match (config.follow_redirects, &per_target) {
        (false, _) => reqwest::redirect::Policy::none(),
        (true, None) => reqwest::redirect::Policy::limited(10),
        // The Host header set for the target would go along to another host: such redirects are
        // not followed (the scrape fails with the redirect's status), same-host ones are.
        (true, Some((_, server_name))) => {
            let server_name = server_name.to_string();
            reqwest::redirect::Policy::custom(move |attempt| {
                if attempt.previous().len() > 10 {
                    attempt.error("too many redirects")
                } else if attempt.url().host_str().is_some_and(|host| host.eq_ignore_ascii_case(&server_name)) {
                    attempt.follow()
                } else {
                    attempt.stop()
                }
            })
        }
    })
    .connect_timeout(Duration::from_secs(30))
    .pool_idle_timeout(Duration::from_secs(5 * 60));
    // A per-target client speaks HTTP/1.1, whose Host header carries the target's address while
    // the connection names the server; HTTP/2 would send the server name as `:authority`.
    let http2 = config.enable_http2 && per_target.is_none();
    if !http2 {
        builder = builder.http1_only();
    }
    if let Some((resolver, _)) = per_target {
        builder = builder.dns_resolver(resolver);
    }
    builder = configure_tls(builder, &config.tls_config, http2)?;
    builder.build().map_err(|error| format!("cannot build HTTP client: {error}"))
}

/// The client of an `oauth2` token endpoint: its own `tls_config`, redirects followed (as Go's
/// default client does), a bound on the whole request since scrapes wait for it.
fn token_client(oauth2: &OAuth2) -> Result<reqwest::Client, String> {
    let settings = proxy::ProxySettings {
        url: oauth2.proxy_url.as_deref(),
        no_proxy: oauth2.no_proxy.as_deref(),
        from_environment: oauth2.proxy_from_environment,
        connect_header: &oauth2.proxy_connect_header,
    };
    let builder = proxy::configure(reqwest::Client::builder().user_agent(USER_AGENT), &settings)
        .map_err(|error| format!("oauth2 {error}"))?
        .connect_timeout(Duration::from_secs(30))
        .timeout(TOKEN_REQUEST_TIMEOUT)
        .pool_idle_timeout(Duration::from_secs(10));
    let builder = configure_tls(builder, &oauth2.tls_config, true)?;
    builder.build().map_err(|error| format!("cannot build the oauth2 token client: {error}"))
}

/// The longest a token request may take; scrapes are bounded by their own timeout besides.
const TOKEN_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Applies `tls_config`: CA, client certificate, server name and verification. With
/// `server_name`, the rustls configuration is built in `server_name.rs`, since reqwest
/// verifies against the URL's host only; without it, reqwest's own settings do.
fn configure_tls(
    mut builder: reqwest::ClientBuilder,
    tls: &TlsConfig,
    http2: bool,
) -> Result<reqwest::ClientBuilder, String> {
    if let Some(name) = tls.server_name.as_deref().filter(|name| !name.is_empty()) {
        let config = server_name::rustls_config(tls, name, http2)?;
        return Ok(builder.tls_backend_preconfigured(config));
    }
    if let Some(ca) = read_pem(tls.ca.as_deref(), tls.ca_file.as_deref(), "CA")? {
        let certificates = reqwest::Certificate::from_pem_bundle(&ca)
            .map_err(|error| format!("unable to use specified CA cert: {error}"))?;
        if certificates.is_empty() {
            return Err("unable to use specified CA cert: no certificate found".to_owned());
        }
        builder = builder.tls_certs_only(certificates);
    }
    let cert = read_pem(tls.cert.as_deref(), tls.cert_file.as_deref(), "client certificate")?;
    let key = read_pem(tls.key.as_ref().map(Secret::expose), tls.key_file.as_deref(), "client key")?;
    if let (Some(mut cert), Some(key)) = (cert, key) {
        cert.push(b'\n');
        cert.extend_from_slice(&key);
        let identity = reqwest::Identity::from_pem(&cert)
            .map_err(|error| format!("unable to use specified client cert and key: {error}"))?;
        builder = builder.identity(identity);
    }
    if tls.insecure_skip_verify {
        builder = builder.tls_danger_accept_invalid_certs(true);
    }
    if let Some(version) = &tls.min_version {
        builder = builder.tls_version_min(tls_version(version)?);
    }
    if let Some(version) = &tls.max_version {
        builder = builder.tls_version_max(tls_version(version)?);
    }
    Ok(builder)
}

/// The PEM text given inline or read from `file`; `what` names it in the error.
fn read_pem(inline: Option<&str>, file: Option<&str>, what: &str) -> Result<Option<Vec<u8>>, String> {
    match (inline, file) {
        (Some(text), _) => Ok(Some(text.as_bytes().to_vec())),
        (None, Some(path)) => {
            std::fs::read(path).map(Some).map_err(|error| format!("unable to read {what} file {path}: {error}"))
        }
        (None, None) => Ok(None),
    }
}

fn tls_version(name: &str) -> Result<reqwest::tls::Version, String> {
    match name {
        "TLS10" => Ok(reqwest::tls::Version::TLS_1_0),
        "TLS11" => Ok(reqwest::tls::Version::TLS_1_1),
        "TLS12" => Ok(reqwest::tls::Version::TLS_1_2),
        "TLS13" => Ok(reqwest::tls::Version::TLS_1_3),
        other => Err(format!("unknown TLS version: {other}")),
    }
}
