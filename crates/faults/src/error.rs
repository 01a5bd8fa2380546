//! The one error type of this crate.

/// Errors of plan parsing and the admin server.
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
    /// The admin server could not bind.
    #[error("cannot listen on admin address {addr}: {source}")]
    Bind {
        /// The address.
        addr: String,
        /// The OS error.
        source: std::io::Error,
    },
}
