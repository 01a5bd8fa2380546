//! The one error type of this crate.

use crate::conf::ConfError;

/// Errors of the fake clamd library and binary.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// clamd.conf syntax/type error, displayed exactly like clamd (CLAMD-CONF-1/2).
    #[error("{0}")]
    Conf(#[from] ConfError),
    /// Neither TCPSocket nor LocalSocket (CLAMD-CONF-4), displayed like clamd.
    #[error("ERROR: Please define server type (local and/or TCP).")]
    NoServerType,
    /// A semantically invalid setting.
    #[error("ERROR: {0}")]
    Invalid(String),
    /// Signature database could not be loaded.
    #[error("ERROR: cannot load the signature database from {dir}: {source}")]
    Db {
        /// The directory.
        dir: String,
        /// The engine's error.
        source: scan_engine::DbError,
    },
    /// Binding a listener failed.
    #[error("ERROR: cannot listen on {what}: {source}")]
    Bind {
        /// Address or path.
        what: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// Other I/O failure (pid file, log file, privileges).
    #[error("ERROR: {what}: {source}")]
    Io {
        /// What was attempted.
        what: String,
        /// The OS error.
        source: std::io::Error,
    },
}
