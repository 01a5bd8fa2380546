//! Verdicts and per-scan statistics.

use std::time::Duration;

use crate::error::FaveError;
use crate::transport::WireCounters;

/// The outcome of one scan. There is no way to build `Clean` from a failure: every error path
/// produces `Error` (fail closed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Clean,
    /// Signature names as the daemon sent them (never empty).
    Infected(Vec<String>),
    Error(FaveError),
}

impl Verdict {
    pub fn is_clean(&self) -> bool {
        matches!(self, Verdict::Clean)
    }
    pub fn is_infected(&self) -> bool {
        matches!(self, Verdict::Infected(_))
    }
    pub fn error(&self) -> Option<&FaveError> {
        match self {
            Verdict::Error(e) => Some(e),
            _ => None,
        }
    }
    /// `clean` / `infected` / `error`.
    pub fn label(&self) -> &'static str {
        match self {
            Verdict::Clean => "clean",
            Verdict::Infected(_) => "infected",
            Verdict::Error(_) => "error",
        }
    }
}

/// Statistics of one scan (FAVE-6 STATISTICS).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Stats {
    /// Payload bytes streamed (or, for SVSP FILE, 0).
    pub bytes: u64,
    /// INSTREAM chunks / data-channel writes.
    pub chunks: u64,
    /// Commands that needed an answer from the daemon (connect handshakes included).
    pub round_trips: u64,
    /// Connections opened for this scan (0 when an existing session was reused).
    pub connections: u64,
    pub wire: WireCounters,
    #[serde(serialize_with = "ser_micros")]
    pub elapsed: Duration,
}

fn ser_micros<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_micros().min(u64::MAX as u128) as u64)
}

/// Verdict plus statistics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub verdict: Verdict,
    pub stats: Stats,
    /// SVSP FILE-SHA1: the SHA-1 the daemon reported (lower-case hex).
    pub sha1: Option<String>,
}
