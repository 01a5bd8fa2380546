//! The crate's error type.

use thiserror::Error;

/// Errors of the fake vfindd (configuration and start-up; per-connection problems are
/// answered on the wire and logged, never returned).
#[derive(Debug, Error)]
pub enum Error {
    /// A configuration value is invalid.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// Binding the listener failed.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The signature database could not be built.
    #[error("signature database: {0}")]
    Db(String),
    /// Other I/O failure.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}
