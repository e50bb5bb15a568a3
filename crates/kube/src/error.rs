//! The error type of the kube crate.

use std::path::PathBuf;

use panoptes_model::{Classify, ErrorKind};

/// Everything that can fail while connecting to a cluster.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The in-cluster service account (token, CA, namespace) or environment is missing.
    #[error("cannot use the in-cluster service account")]
    InCluster(#[source] kube::config::InClusterError),
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
    /// The HTTP client cannot be built (TLS setup, certificates).
    #[error("cannot build the Kubernetes client")]
    Client(#[source] kube::Error),
}

/// The result type of the kube crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Classify for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            Error::InCluster(_)
            | Error::Kubeconfig { .. }
            | Error::ApiServer { .. }
            | Error::Settings { .. }
            | Error::Client(_) => ErrorKind::BadData,
            Error::ReadFile { source, .. } if source.kind() == std::io::ErrorKind::NotFound => ErrorKind::NotFound,
            Error::ReadFile { .. } => ErrorKind::Unavailable,
        }
    }
}
