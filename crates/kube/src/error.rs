//! The error type of the kube crate.

use std::path::PathBuf;

use panoptes_model::{Classify, ErrorKind};

/// Everything that can fail while connecting to a cluster.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A variable of the in-cluster environment (`KUBERNETES_SERVICE_HOST`/`_PORT`) is unset.
    #[error("in-cluster connection: {variable} is not set (not running in a pod?)")]
    InClusterEnvironment {
        /// The variable.
        variable: &'static str,
    },
    /// `KUBERNETES_SERVICE_PORT` is not a port number.
    #[error("in-cluster connection: KUBERNETES_SERVICE_PORT {value:?} is not a port number")]
    InClusterPort {
        /// The variable's value.
        value: String,
    },
    /// The service account's namespace file is empty.
    #[error("in-cluster connection: the service account namespace file {path:?} is empty")]
    InClusterNamespace {
        /// The file.
        path: PathBuf,
    },
    /// A kubeconfig file cannot be read or does not name a usable context.
    #[error("cannot load kubeconfig file {path:?}")]
    Kubeconfig {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: kube::config::KubeconfigError,
    },
    /// The explicit API server settings cannot be turned into a client configuration.
    #[error("invalid API server settings for {url}")]
    ApiServer {
        /// The API server URL.
        url: String,
        /// What went wrong.
        #[source]
        source: kube::config::KubeconfigError,
    },
    /// The explicit API server settings do not form a valid kubeconfig.
    #[error("invalid API server settings for {url}")]
    Settings {
        /// The API server URL.
        url: String,
        /// What went wrong.
        #[source]
        source: serde_json::Error,
    },
    /// An explicit API server's proxy or header setting is unusable.
    #[error("invalid API server setting {setting} for {url}: {reason}")]
    Setting {
        /// The API server URL.
        url: String,
        /// The setting, e.g. `proxy_url`.
        setting: &'static str,
        /// What is wrong, without the setting's value.
        reason: String,
    },
    /// A file named by the settings (CA, client certificate or key) cannot be read.
    #[error("cannot read {field} file {path:?}")]
    ReadFile {
        /// The setting naming the file, e.g. `tls_config.ca_file`.
        field: &'static str,
        /// The file.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: std::io::Error,
    },
    /// A label or annotation allow-list is malformed.
    #[error("invalid allow-list at character {position}: {message}")]
    AllowList {
        /// Where (in characters from the start).
        position: usize,
        /// What is wrong.
        message: String,
    },
    /// The HTTP client cannot be built (TLS setup, certificates).
    #[error("cannot build the Kubernetes client")]
    Client(#[source] kube::Error),
}

/// The result type of the kube crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Classify for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            Error::InClusterEnvironment { .. }
            | Error::InClusterPort { .. }
            | Error::InClusterNamespace { .. }
            | Error::Kubeconfig { .. }
            | Error::ApiServer { .. }
            | Error::Settings { .. }
            | Error::Setting { .. }
            | Error::AllowList { .. }
            | Error::Client(_) => ErrorKind::BadData,
            Error::ReadFile { source, .. } if source.kind() == std::io::ErrorKind::NotFound => ErrorKind::NotFound,
            Error::ReadFile { .. } => ErrorKind::Unavailable,
        }
    }
}
