//! How Panoptes reaches a cluster: the in-cluster service account, a kubeconfig file (its
//! current context or a named one), or an explicit API server URL with authentication and TLS
//! settings. Every way ends in a `kube::Config`; explicit settings are expressed as a one-context
//! kubeconfig so that kube's own loader validates them and keeps re-reading token files, and an
//! explicit API server may add a proxy and extra headers.
//!
//! Secrets never appear in `Debug` output or logs.

use std::path::{Path, PathBuf};

use base64::Engine;
use kube::config::{KubeConfigOptions, Kubeconfig};
use serde_json::json;

use crate::error::{Error, Result};
pub use panoptes_model::Secret;

/// How requests to an explicit API server authenticate.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum ApiServerAuth {
    /// No credentials.
    #[default]
    None,
    /// A bearer token given inline.
    BearerToken(Secret),
    /// A bearer token read from a file, re-read periodically so rotated tokens are picked up.
    BearerTokenFile(PathBuf),
    /// HTTP basic authentication.
    Basic {
        /// The user name.
        username: String,
        /// The password.
        password: Secret,
    },
}

/// TLS settings for an explicit API server.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct TlsOptions {
    /// CA certificates, inline PEM.
    pub ca_pem: Option<String>,
    /// A file holding CA certificates (PEM).
    pub ca_file: Option<PathBuf>,
    /// The client certificate, inline PEM.
    pub cert_pem: Option<String>,
    /// A file holding the client certificate.
    pub cert_file: Option<PathBuf>,
    /// The client key, inline PEM.
    pub key_pem: Option<Secret>,
    /// A file holding the client key.
    pub key_file: Option<PathBuf>,
    /// The name the server certificate must carry, when it differs from the URL's host.
    pub server_name: Option<String>,
    /// Skips verification of the server certificate.
    pub insecure_skip_verify: bool,
}

/// An explicit API server and how to talk to it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct ApiServerOptions {
    /// The API server URL, e.g. `https://10.0.0.1:6443`.
    pub url: String,
    /// Authentication.
    pub auth: ApiServerAuth,
    /// TLS settings.
    pub tls: TlsOptions,
    /// The HTTP or HTTPS proxy every request goes through, by `CONNECT`; a user and password in
    /// the URL authenticate to the proxy with basic authentication. A secret, since the URL may
    /// hold the password.
    pub proxy_url: Option<Secret>,
    /// Headers added to every request, in order (a name may repeat); values are secrets.
    pub headers: Vec<(String, Secret)>,
}

/// The directory Kubernetes mounts a pod's service account into.
pub const SERVICE_ACCOUNT_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// Where the in-cluster connection finds the API server and the service account: the
/// `KUBERNETES_SERVICE_HOST`/`_PORT` variables and the `token`, `ca.crt` and `namespace` files of
/// [`SERVICE_ACCOUNT_DIR`] by default. Tests point it elsewhere; production never needs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InClusterOptions {
    /// The directory holding `token`, `ca.crt` and `namespace`.
    pub service_account_dir: PathBuf,
    /// The API server host; `KUBERNETES_SERVICE_HOST` (read at connection time) when `None`.
    pub service_host: Option<String>,
    /// The API server port; `KUBERNETES_SERVICE_PORT` (read at connection time) when `None`.
    pub service_port: Option<String>,
}

impl Default for InClusterOptions {
    fn default() -> Self {
        InClusterOptions {
            service_account_dir: PathBuf::from(SERVICE_ACCOUNT_DIR),
            service_host: None,
            service_port: None,
        }
    }
}

impl InClusterOptions {
    /// Returns the API server URL, as client-go builds it: `https://host:port`, IPv6 addresses
    /// in brackets.
    fn url(&self) -> Result<String> {
        let variable = |value: &Option<String>, name: &'static str| {
            value
                .clone()
                .or_else(|| std::env::var(name).ok())
                .filter(|value| !value.is_empty())
                .ok_or(Error::InClusterEnvironment { variable: name })
        };
        let host = variable(&self.service_host, "KUBERNETES_SERVICE_HOST")?;
        let port = variable(&self.service_port, "KUBERNETES_SERVICE_PORT")?;
        let port: u16 = port.parse().map_err(|_| Error::InClusterPort { value: port.clone() })?;
        Ok(match host.parse::<std::net::IpAddr>() {
            Ok(std::net::IpAddr::V6(address)) => format!("https://[{address}]:{port}"),
            _ => format!("https://{host}:{port}"),
        })
    }

    /// Builds the client configuration: the API server URL, the CA and namespace files read
    /// now, the token file left to kube, which re-reads it (and the CA file) about once a
    /// minute so that rotated tokens and CAs are used without a restart.
    async fn to_config(&self) -> Result<kube::Config> {
        let url = self.url()?;
        let dir = &self.service_account_dir;
        let namespace_path = dir.join("namespace");
        let namespace = read_file("in-cluster service account namespace", &namespace_path)?;
        let namespace = String::from_utf8_lossy(&namespace).trim().to_owned();
        let ca_path = dir.join("ca.crt");
        let ca = read_file("in-cluster service account ca.crt", &ca_path)?;
        let token_path = dir.join("token");
        // Read once so that a missing token is reported now, with its path; kube reads it again
        // for requests.
        read_file("in-cluster service account token", &token_path)?;
        let kubeconfig = json!({
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{ "name": "in-cluster", "cluster": {
                "server": url,
                "certificate-authority-data": base64_of(&ca),
            } }],
            "users": [{ "name": "in-cluster", "user": { "tokenFile": token_path } }],
            "contexts": [{ "name": "in-cluster", "context": {
                "cluster": "in-cluster", "user": "in-cluster", "namespace": namespace,
            } }],
            "current-context": "in-cluster",
        });
        let kubeconfig: Kubeconfig =
            serde_json::from_value(kubeconfig).map_err(|source| Error::Settings { url: url.clone(), source })?;
        let mut config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
            .await
            .map_err(|source| Error::ApiServer { url, source })?;
        if namespace.is_empty() {
            return Err(Error::InClusterNamespace { path: namespace_path });
        }
        config.default_namespace = namespace;
        // As kube's own in-cluster configuration: the CA file is re-read periodically.
        config.root_cert_file = Some(ca_path);
        Ok(config)
    }
}

/// Where a cluster is and which credentials reach it. Equal options share one [`Cluster`]
/// (and so its caches) in a [`Clusters`] registry.
///
/// [`Cluster`]: crate::Cluster
/// [`Clusters`]: crate::Clusters
// Built once per connection and kept as a registry key: the variants' sizes do not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ConnectionOptions {
    /// The service account Kubernetes mounts into pods (`KUBERNETES_SERVICE_HOST`/`_PORT`, the
    /// token, CA and namespace under `/var/run/secrets/kubernetes.io/serviceaccount/`).
    InCluster,
    /// A kubeconfig file; `context` picks a context other than the file's current one.
    Kubeconfig {
        /// The file.
        path: PathBuf,
        /// The context to use; the file's `current-context` when `None`.
        context: Option<String>,
    },
    /// An explicit API server.
    ApiServer(ApiServerOptions),
}

impl ConnectionOptions {
    /// Returns a short description for logs and metrics, without secrets.
    pub fn describe(&self) -> String {
        match self {
            ConnectionOptions::InCluster => "in-cluster".to_owned(),
            ConnectionOptions::Kubeconfig { path, context: None } => format!("kubeconfig {}", path.display()),
            ConnectionOptions::Kubeconfig { path, context: Some(context) } => {
                format!("kubeconfig {} context {context}", path.display())
            }
            ConnectionOptions::ApiServer(options) => options.url.clone(),
        }
    }

    /// Builds the kube client configuration.
    ///
    /// # Errors
    ///
    /// Returns what is missing or invalid: the in-cluster environment, the kubeconfig file or
    /// context, an unreadable certificate file, a malformed URL.
    pub(crate) async fn to_config(&self, in_cluster: &InClusterOptions) -> Result<kube::Config> {
        match self {
            ConnectionOptions::InCluster => in_cluster.to_config().await,
            ConnectionOptions::Kubeconfig { path, context } => {
                let kubeconfig =
                    Kubeconfig::read_from(path).map_err(|source| Error::Kubeconfig { path: path.clone(), source })?;
                let options = KubeConfigOptions { context: context.clone(), ..KubeConfigOptions::default() };
                kube::Config::from_custom_kubeconfig(kubeconfig, &options)
                    .await
                    .map_err(|source| Error::Kubeconfig { path: path.clone(), source })
            }
            ConnectionOptions::ApiServer(options) => {
                let kubeconfig = options.to_kubeconfig()?;
                let mut config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
                    .await
                    .map_err(|source| Error::ApiServer { url: options.url.clone(), source })?;
                options.add_proxy_and_headers(&mut config)?;
                Ok(config)
            }
        }
    }
}

fn base64_of(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn read_file(field: &'static str, path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| Error::ReadFile { field, path: path.to_owned(), source })
}

impl ApiServerOptions {
    /// Sets the proxy and the extra headers of `config`. Neither the proxy URL nor header values
    /// appear in errors.
    fn add_proxy_and_headers(&self, config: &mut kube::Config) -> Result<()> {
        let invalid = |setting: &'static str, reason: String| Error::Setting { url: self.url.clone(), setting, reason };
        if let Some(proxy) = &self.proxy_url {
            let url = proxy.expose();
            let scheme = url.split_once("://").map(|(scheme, _)| scheme.to_ascii_lowercase());
            if !matches!(scheme.as_deref(), Some("http" | "https")) {
                let scheme = scheme.unwrap_or_default();
                return Err(invalid(
                    "proxy_url",
                    format!("proxy scheme {scheme:?} is not supported (http and https are)"),
                ));
            }
            config.proxy_url = Some(url.parse().map_err(|_| invalid("proxy_url", "not a valid URL".to_owned()))?);
        }
        for (name, value) in &self.headers {
            let header = name.parse().map_err(|_| invalid("http_headers", format!("invalid header name {name:?}")))?;
            let value = value
                .expose()
                .parse()
                .map_err(|_| invalid("http_headers", format!("{name} has a value that is not a valid header value")))?;
            config.headers.push((header, value));
            if let Some((_, value)) = config.headers.last_mut() {
                value.set_sensitive(true);
            }
        }
        Ok(())
    }

    /// Expresses the settings as a kubeconfig with one cluster, one user and one context.
    /// Certificate files are read now (an unreadable file is a configuration error, reported
    /// with the setting's name); the token file is left to kube, which re-reads it.
    fn to_kubeconfig(&self) -> Result<Kubeconfig> {
        let mut cluster = json!({ "server": self.url });
        let tls = &self.tls;
        if tls.insecure_skip_verify {
            cluster["insecure-skip-tls-verify"] = json!(true);
        } else if let Some(pem) = &tls.ca_pem {
            cluster["certificate-authority-data"] = json!(base64_of(pem.as_bytes()));
        } else if let Some(path) = &tls.ca_file {
            cluster["certificate-authority-data"] = json!(base64_of(&read_file("tls_config.ca_file", path)?));
        }
        if let Some(name) = &tls.server_name {
            cluster["tls-server-name"] = json!(name);
        }
        let mut user = json!({});
        match &self.auth {
            ApiServerAuth::None => {}
            ApiServerAuth::BearerToken(token) => user["token"] = json!(token.expose()),
            ApiServerAuth::BearerTokenFile(path) => user["tokenFile"] = json!(path),
            ApiServerAuth::Basic { username, password } => {
                user["username"] = json!(username);
                user["password"] = json!(password.expose());
            }
        }
        if let Some(pem) = &tls.cert_pem {
            user["client-certificate-data"] = json!(base64_of(pem.as_bytes()));
        } else if let Some(path) = &tls.cert_file {
            user["client-certificate-data"] = json!(base64_of(&read_file("tls_config.cert_file", path)?));
        }
        if let Some(pem) = &tls.key_pem {
            user["client-key-data"] = json!(base64_of(pem.expose().as_bytes()));
        } else if let Some(path) = &tls.key_file {
            user["client-key-data"] = json!(base64_of(&read_file("tls_config.key_file", path)?));
        }
        let kubeconfig = json!({
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{ "name": "panoptes", "cluster": cluster }],
            "users": [{ "name": "panoptes", "user": user }],
            "contexts": [{ "name": "panoptes", "context": { "cluster": "panoptes", "user": "panoptes" } }],
            "current-context": "panoptes",
        });
        serde_json::from_value(kubeconfig).map_err(|source| Error::Settings { url: self.url.clone(), source })
    }
}
