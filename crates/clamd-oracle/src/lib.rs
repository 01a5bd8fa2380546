//! The clamd oracle: a table of raw-byte cases (`conformance/oracle/cases.toml`), a runner that
//! plays them against any clamd-compatible server, the real clamd as a child process
//! ([`real::RealClamd`]), committed transcripts (`conformance/oracle/transcripts.json`) and the
//! comparison used to replay them against the fake (spec: `shared/spec/clamd.md`, CLAMD-*).

pub mod case;
pub mod content_fuzz;
pub mod corpus;
pub mod env;
pub mod equiv;
pub mod explore;
mod files;
pub mod fuzz;
pub mod real;
pub mod runner;
pub mod sigs;
pub mod suite;
pub mod tasks;
pub mod transcript;

use std::path::{Path, PathBuf};

pub use case::{Case, CaseFile, Compare, Profile, Step, Transport};
pub use env::OracleEnv;
pub use real::RealClamd;
pub use runner::{run_case, End, Observed, Target, Timing};
pub use suite::{diff, run_cases, to_transcripts, Existing, Launcher, RealLauncher, RunningServer};
pub use transcript::{Mismatch, Transcript, TranscriptFile};

/// The crate's error type.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("bad byte notation: {0}")]
    Notation(#[from] fixtures::notation::Error),
    #[error("case steps: {0}")]
    Steps(#[from] fixtures::raw_case::Error),
    #[error("case file: {0}")]
    Cases(String),
    #[error("transcript file: {0}")]
    Transcripts(String),
    #[error("corpus: {0}")]
    Corpus(String),
    #[error("clamd: {0}")]
    Clamd(String),
    #[error("connect {0}: {1}")]
    Connect(String, std::io::Error),
}

impl Error {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Error {
        Error::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// `conformance/oracle/` in the workspace (from this crate's manifest dir).
pub fn oracle_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../conformance/oracle")
}

/// The committed case table.
pub fn default_cases_path() -> PathBuf {
    oracle_dir().join("cases.toml")
}

/// The committed transcripts.
pub fn default_transcripts_path() -> PathBuf {
    oracle_dir().join("transcripts.json")
}
