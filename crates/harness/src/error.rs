//! The harness's one error type.

use std::path::PathBuf;

/// Errors that stop the harness from running a case or a suite (as opposed to a client
/// failing a case, which is an [`crate::judge::Outcome`]).
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    #[error("{path}: {message}")]
    Config { path: PathBuf, message: String },
    #[error("template: {0}")]
    Template(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("fixture: {0}")]
    Fixture(String),
    #[error("daemon: {0}")]
    Daemon(String),
    #[error("client: {0}")]
    Client(String),
    #[error("usage: {0}")]
    Usage(String),
}

impl HarnessError {
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        HarnessError::Io {
            context: context.into(),
            source,
        }
    }

    pub fn config(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        HarnessError::Config {
            path: path.into(),
            message: message.into(),
        }
    }

    /// Exit code for this error: 2 for bad configuration or usage, 3 when the harness
    /// itself could not run (see the README's exit-code table).
    pub fn exit_code(&self) -> u8 {
        match self {
            HarnessError::Config { .. } | HarnessError::Template(_) | HarnessError::Usage(_) => 2,
            _ => 3,
        }
    }
}

pub type Result<T, E = HarnessError> = std::result::Result<T, E>;
