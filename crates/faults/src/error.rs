//! The one error type of this crate.

/// Errors of plan parsing, plan files and the admin server.
#[derive(Debug, thiserror::Error)]
pub enum FaultsError {
    /// TOML/JSON syntax or schema error.
    #[error("invalid fault plan: {0}")]
    Parse(String),
    /// A value out of range, or a bad shorthand.
    #[error("invalid fault plan: {0}")]
    Invalid(String),
    /// Reading a scenario file failed.
    #[error("cannot read fault plan {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// A plan or token file that is too large, not a regular file, or not text.
    #[error("{0}")]
    File(String),
    /// An unsafe or inconsistent admin configuration (e.g. a non-loopback address without
    /// a token, hardening item 7).
    #[error("{0}")]
    AdminConfig(String),
    /// The admin server could not bind.
    #[error("cannot listen on admin address {addr}: {source}")]
    Bind {
        /// The address.
        addr: String,
        /// The OS error.
        source: std::io::Error,
    },
}
