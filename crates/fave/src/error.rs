//! The crate's single error type. Every variant is an *error verdict*: nothing here can ever
//! be read as "clean" (fail closed, CLAMD-CLIENT-3, SVSP-CLIENT-10).

use std::time::Duration;

/// Where a size limit was hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitOrigin {
    /// Refused locally: the configured `stream_max_length` would have been exceeded
    /// (CLAMD-CLIENT-2: a client SHOULD NOT send more than StreamMaxLength).
    Local,
    /// The daemon said so (`INSTREAM size limit exceeded. ERROR`, CLAMD-INSTREAM-5).
    Server,
}

/// Everything that can go wrong. Cloneable (messages, not sources) so that a verdict can be
/// stored and reported more than once.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FaveError {
    /// Bad address, parameter string or option.
    #[error("configuration: {0}")]
    Config(String),
    /// Could not connect (refused, unreachable, name not resolved).
    #[error("cannot connect to {addr}: {reason}")]
    Connect { addr: String, reason: String },
    /// Our own timeout: connect, one read or write, or the whole scan (CLAMD-CLIENT-10).
    #[error("timeout: {what} (after {after:?})")]
    Timeout { what: String, after: Duration },
    /// The daemon said its read timed out (`COMMAND READ TIMED OUT`, CLAMD-TIME-3).
    #[error("daemon timed out reading from us: {0}")]
    DaemonTimeout(String),
    /// Stream too large (CLAMD-CLIENT-4: a distinct "too large" error).
    #[error("stream too large ({origin:?} limit{}): {detail}", limit.map(|l| format!(" {l} bytes")).unwrap_or_default())]
    TooLarge {
        origin: LimitOrigin,
        limit: Option<u64>,
        detail: String,
    },
    /// The connection ended before the verdict: EOF, reset, broken pipe, truncated reply.
    #[error("connection lost: {0}")]
    ConnectionLost(String),
    /// A reply that does not parse, or that does not belong in this state.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The daemon reported an error for this scan (`... ERROR`, `UNKNOWN COMMAND`, an SVSP errno line).
    #[error("daemon error: {0}")]
    Daemon(String),
    /// SVSP `DENIED` or close before `READY` (SVSP-CLIENT-1).
    #[error("refused by daemon: {0}")]
    Refused(String),
    /// The chosen source cannot be used for this input (e.g. SVSP FILE for stdin).
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// Local I/O (reading the file to scan).
    #[error("local I/O: {0}")]
    LocalIo(String),
}

impl FaveError {
    /// Stable short name for JSON output and scripts.
    pub fn kind(&self) -> &'static str {
        match self {
            FaveError::Config(_) => "config",
            FaveError::Connect { .. } => "connect",
            FaveError::Timeout { .. } => "timeout",
            FaveError::DaemonTimeout(_) => "daemon-timeout",
            FaveError::TooLarge { .. } => "too-large",
            FaveError::ConnectionLost(_) => "connection-lost",
            FaveError::Protocol(_) => "protocol",
            FaveError::Daemon(_) => "daemon",
            FaveError::Refused(_) => "refused",
            FaveError::Unsupported(_) => "unsupported",
            FaveError::LocalIo(_) => "local-io",
        }
    }

    /// Map a socket error: timeouts stay timeouts, resets/EOF/EPIPE are connection loss.
    pub(crate) fn from_io(e: &std::io::Error, what: &str, after: Duration) -> FaveError {
        use std::io::ErrorKind as K;
        match e.kind() {
            K::WouldBlock | K::TimedOut => FaveError::Timeout {
                what: what.to_string(),
                after,
            },
            K::ConnectionReset
            | K::ConnectionAborted
            | K::BrokenPipe
            | K::UnexpectedEof
            | K::NotConnected => FaveError::ConnectionLost(format!("{what}: {e}")),
            _ => FaveError::ConnectionLost(format!("{what}: {e}")),
        }
    }
}
