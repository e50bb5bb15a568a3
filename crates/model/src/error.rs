//! The closed set of error kinds every Panoptes error maps to.

/// What kind of failure an error is, independent of the subsystem that raised it.
///
/// The HTTP layer maps a kind to a status code and a Prometheus `errorType` in exactly one place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The client sent something malformed or not allowed.
    BadData,
    /// The thing asked for does not exist.
    NotFound,
    /// The work took longer than allowed.
    Timeout,
    /// The work was cancelled, usually because the client went away.
    Canceled,
    /// A dependency or the process itself is not ready.
    Unavailable,
    /// A limit set for clients was exceeded.
    TooManyRequests,
    /// A bug or an I/O failure on our side.
    Internal,
}

/// Maps an error to its [`ErrorKind`]; implemented once per crate error type.
pub trait Classify {
    /// Returns the kind of this error.
    fn kind(&self) -> ErrorKind;
}

/// Returns an error's message followed by its sources', joined by `: ` (what a log line or an
/// API answer shows of a wrapped error).
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}
