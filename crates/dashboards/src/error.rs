//! Errors of the dashboard store. Each variant that a Grafana client can provoke carries
//! Grafana's message and, where Grafana sends one, its `status` string, so the API answers
//! exactly what scripts written for Grafana expect.

use std::path::PathBuf;

use panoptes_model::{Classify, ErrorKind};

/// An error saving, reading or deleting dashboards.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request body or the dashboard JSON is malformed; names the JSON path.
    #[error("bad request data: {0}")]
    BadRequest(String),
    /// The dashboard has no title.
    #[error("Dashboard title cannot be empty")]
    TitleEmpty,
    /// The uid has characters other than letters, digits, `-` and `_`.
    #[error("uid contains illegal characters")]
    UidIllegal,
    /// The uid is longer than Grafana's limit.
    #[error("uid too long, max {MAX_UID_LEN} characters")]
    UidTooLong,
    /// No dashboard has this uid (or id).
    #[error("Dashboard not found")]
    NotFound,
    /// No version with this number exists for the dashboard.
    #[error("version not found")]
    VersionNotFound,
    /// The saved version is not the one the client started from (no `overwrite`).
    #[error("The dashboard has been changed by someone else")]
    VersionMismatch,
    /// Another dashboard in the same folder has the same title (no `overwrite`).
    #[error("A dashboard with the same name in the folder already exists")]
    NameExists,
    /// The id of the request belongs to another uid.
    #[error("A dashboard with the same uid already exists")]
    UidExists,
    /// The dashboard comes from the provisioning directory and cannot be saved through the API.
    #[error("Cannot save provisioned dashboard")]
    CannotSaveProvisioned,
    /// The dashboard comes from the provisioning directory and cannot be deleted through the API.
    #[error("provisioned dashboard cannot be deleted")]
    CannotDeleteProvisioned,
    /// No folder has this uid (the folder API).
    #[error("folder not found")]
    FolderNotFound,
    /// A dashboard is saved into a folder that does not exist.
    #[error("folder not found")]
    SaveFolderNotFound,
    /// A folder is created or renamed with a title another folder has.
    #[error("a folder or dashboard in the general folder with the same name already exists")]
    FolderExists,
    /// A folder is created with a uid a folder or dashboard has.
    #[error("a folder/dashboard with the same uid already exists")]
    FolderUidExists,
    /// A folder update started from another version (no `overwrite`).
    #[error("the folder has been changed by someone else")]
    FolderVersionMismatch,
    /// A folder without a title.
    #[error("folder title cannot be empty")]
    FolderTitleEmpty,
    /// An import names an input that the request does not supply.
    #[error("Dashboard input missing: {0}")]
    InputMissing(String),
    /// A file operation failed.
    #[error("{context}")]
    Io {
        /// What was being done, naming the file.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A stored or provisioned file could not be decoded.
    #[error("cannot decode {path}: {message}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What was wrong, with line and column.
        message: String,
    },
}

/// Grafana's longest uid.
pub const MAX_UID_LEN: usize = 40;

impl Error {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io { context: context.into(), source }
    }

    /// Returns the HTTP status Grafana answers this error with.
    pub fn http_status(&self) -> u16 {
        match self {
            Error::BadRequest(_)
            | Error::TitleEmpty
            | Error::UidIllegal
            | Error::UidTooLong
            | Error::UidExists
            | Error::CannotSaveProvisioned
            | Error::CannotDeleteProvisioned
            | Error::InputMissing(_)
            | Error::SaveFolderNotFound
            | Error::FolderTitleEmpty => 400,
            Error::NotFound | Error::VersionNotFound | Error::FolderNotFound => 404,
            Error::VersionMismatch | Error::NameExists => 412,
            Error::FolderExists | Error::FolderUidExists | Error::FolderVersionMismatch => 409,
            Error::Io { .. } | Error::Corrupt { .. } => 500,
        }
    }

    /// Returns Grafana's `status` string of the error's JSON body, where Grafana sends one.
    pub fn grafana_status(&self) -> Option<&'static str> {
        match self {
            Error::NotFound => Some("not-found"),
            Error::VersionMismatch => Some("version-mismatch"),
            Error::NameExists => Some("name-exists"),
            _ => None,
        }
    }
}

impl Classify for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            Error::BadRequest(_)
            | Error::TitleEmpty
            | Error::UidIllegal
            | Error::UidTooLong
            | Error::UidExists
            | Error::CannotSaveProvisioned
            | Error::CannotDeleteProvisioned
            | Error::InputMissing(_)
            | Error::VersionMismatch
            | Error::NameExists
            | Error::SaveFolderNotFound
            | Error::FolderExists
            | Error::FolderUidExists
            | Error::FolderVersionMismatch
            | Error::FolderTitleEmpty => ErrorKind::BadData,
            Error::NotFound | Error::VersionNotFound | Error::FolderNotFound => ErrorKind::NotFound,
            Error::Io { .. } | Error::Corrupt { .. } => ErrorKind::Internal,
        }
    }
}

/// This crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
