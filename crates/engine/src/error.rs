use std::path::PathBuf;

/// Errors from loading or compiling signatures.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// A signature line that does not parse; names the file and the 1-based line.
    #[error("{origin}:{line}: {message}")]
    Parse {
        origin: String,
        line: usize,
        message: String,
    },
    /// A database file or directory that cannot be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The signature set is valid line by line but cannot be compiled as a whole.
    #[error("cannot compile the body signatures: {0}")]
    Compile(String),
}
