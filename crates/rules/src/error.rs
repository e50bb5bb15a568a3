//! The errors of loading rule files and evaluating rules.

use std::fmt;

use panoptes_model::{Classify, ErrorKind};

/// A line and column in a rule file, both 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position {
    /// The line.
    pub line: u64,
    /// The column.
    pub column: u64,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// One problem found in a rule file, formatted like Prometheus' `rulefmt` errors:
/// `file: line:col: group "g", rule 2, "name": message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleFileError {
    /// The file's path as given.
    pub path: String,
    /// Where in the file, when known.
    pub position: Option<Position>,
    /// The group the problem is in, when it concerns a group.
    pub group: Option<String>,
    /// The rule's 1-based index in its group and its name (record or alert), when it concerns
    /// a rule.
    pub rule: Option<(usize, String)>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for RuleFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.path)?;
        if let Some(position) = self.position {
            write!(f, "{position}: ")?;
        }
        match (&self.group, &self.rule) {
            (Some(group), Some((index, name))) => write!(f, "group {group:?}, rule {index}, {name:?}: ")?,
            (Some(group), None) => write!(f, "group {group:?}: ")?,
            _ => {}
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for RuleFileError {}

/// An error of this crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A rule file could not be read.
    #[error("cannot read rule file {path:?}")]
    ReadFile {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A rule file is invalid; every problem found is listed.
    #[error("{}", join_errors(.0))]
    InvalidRuleFile(Vec<RuleFileError>),
    /// A rule's query failed.
    #[error("{0}")]
    Query(#[from] panoptes_promql::Error),
    /// A rule produced an invalid result (duplicate label sets, a non-vector result, a limit
    /// exceeded).
    #[error("{0}")]
    Evaluation(String),
    /// The store refused samples or could not be read.
    #[error(transparent)]
    Storage(#[from] panoptes_storage::Error),
}

fn join_errors(errors: &[RuleFileError]) -> String {
    errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n")
}

impl Classify for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            Error::ReadFile { .. } => ErrorKind::NotFound,
            Error::InvalidRuleFile(_) | Error::Evaluation(_) => ErrorKind::BadData,
            Error::Query(error) => error.kind(),
            Error::Storage(error) => error.kind(),
        }
    }
}

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
