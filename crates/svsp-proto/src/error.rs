//! The crate's error type.

use thiserror::Error;

/// Errors of the SVSP protocol crate (client-side encoding and response parsing).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SvspError {
    /// A name cannot be written raw in a command (SVSP-NAME-1, SVSP-CLIENT-6).
    #[error("name cannot be sent in an SVSP command (contains LF, ends in CR or starts with whitespace)")]
    UnsendableName,
    /// An identifier is not 1 to 9 ASCII digits (SVSP-ID-2).
    #[error("invalid SVSP identifier {0:?} (must be 1 to 9 ASCII digits)")]
    InvalidId(String),
    /// A quoted string in a response is malformed (SVSP-NAME-2).
    #[error("malformed quoted name in response: {0}")]
    BadQuotedName(&'static str),
    /// A response line with a known keyword has malformed arguments.
    #[error("malformed {keyword} response: {reason}")]
    MalformedResponse {
        /// The keyword (upper case).
        keyword: &'static str,
        /// What was wrong.
        reason: &'static str,
    },
    /// A response line that is empty after the identifier.
    #[error("response line has no keyword")]
    EmptyResponse,
}
