//! The fault vocabulary: what a daemon does wrong. Pure data (serde: TOML and JSON, tagged
//! by `kind`, kebab-case).

use serde::{Deserialize, Serialize};

/// Where a [`Fault::Delay`] applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DelayAt {
    /// Once, before the next reply.
    #[default]
    Reply,
    /// Before every byte of every later reply (the reply is written a byte at a time).
    Bytes,
    /// Before every read from the client for the rest of the connection.
    Read,
}

/// How a [`Fault::SplitReply`] cuts replies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SplitAt {
    /// One byte per write.
    #[default]
    Byte,
    /// Random boundaries (from the plan's seeded RNG), 1..=8 bytes per write.
    Random,
}

/// What follows a forced `INSTREAM size limit exceeded` (clamd CLAMD-INSTREAM-8 modes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LimitMode {
    /// The daemon's configured mode.
    #[default]
    Configured,
    /// Reply, then close at once (clamd's racy behaviour).
    Faithful,
    /// Reply, half-close, drain.
    Close,
    /// Reply, drain until the client closes, close.
    ReplyDrain,
    /// No reply, RST.
    Reset,
}

/// One fault. See `README.md` of this crate for the wire effect of each on both daemons.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Fault {
    /// Sleep `ms` milliseconds before the reply / between reply bytes / before each read.
    Delay {
        /// Milliseconds.
        ms: u64,
        /// Where (default `reply`).
        #[serde(default)]
        at: DelayAt,
    },
    /// Drain the client slowly: at most `bytes` per read, `ms` pause before each read.
    SlowRead {
        /// Bytes per read (at least 1).
        #[serde(default = "one")]
        bytes: usize,
        /// Pause before each read, milliseconds.
        #[serde(default)]
        ms: u64,
    },
    /// Write every later reply in pieces (one byte, or random boundaries), `ms` apart.
    SplitReply {
        /// How to cut.
        #[serde(default)]
        at: SplitAt,
        /// Pause between pieces, milliseconds.
        #[serde(default)]
        ms: u64,
    },
    /// Close the connection (FIN) at the trigger, or once `after_bytes` more bytes have
    /// been received from the client.
    Drop {
        /// Bytes to receive after the trigger before closing.
        #[serde(default)]
        after_bytes: Option<u64>,
    },
    /// Abort with RST (`SO_LINGER {1, 0}`), no reply.
    Reset,
    /// Keep reading, never answer, never close (the client must time out).
    NeverReply,
    /// Stop reading: from the trigger (or once `after_bytes` more bytes were received) the
    /// daemon reads nothing, writes nothing and keeps the socket open, as clamd does with a
    /// full `MaxQueue`/`MaxThreads` or while stopped; a client's upload blocks once the
    /// socket buffers are full (CLAMD-CLIENT-10, SVSP-CLIENT-19: the client must not hang).
    /// After `hold_ms` (default [`STOP_READING_HOLD_MS`]) or at daemon shutdown the
    /// connection is reset (unread input: RST).
    StopReading {
        /// Bytes to receive after the trigger before stopping (none or 0: at once).
        #[serde(default)]
        after_bytes: Option<u64>,
        /// How long the silent connection is held, milliseconds.
        #[serde(default)]
        hold_ms: Option<u64>,
    },
    /// Refuse the connection: accepted and reset at once, before any byte.
    Refuse,
    /// Reply garbage instead (the given text, else `len` seeded random printable bytes),
    /// then close.
    Garbage {
        /// Exact bytes to send (UTF-8 text, escapes as in TOML/JSON strings).
        #[serde(default)]
        text: Option<String>,
        /// Length of random garbage when `text` is absent.
        #[serde(default = "default_garbage_len")]
        len: usize,
    },
    /// Send only the start of the reply, then close: through the first `through` text where
    /// the reply has it, else the first `keep` bytes (default: half).
    Truncate {
        /// Bytes kept.
        #[serde(default)]
        keep: Option<usize>,
        /// Keep the reply up to and including the first occurrence of this text (`": OK"`
        /// cuts `stream: OK.Name FOUND`, `<path>: OK.Name FOUND` and `1: fd[9]: OK.Name FOUND`
        /// right after their `OK`, whatever the command or the session prefix).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        through: Option<String>,
    },
    /// Force the scan verdict: infected with this name.
    Infected {
        /// Virus name.
        name: String,
    },
    /// Force the scan verdict: clean.
    Clean,
    /// Answer the command with an error line. clamd: in the place of a scan verdict a per-file
    /// error `<subject>: <text> ERROR` (the session goes on, CLAMD-REPLY-4); for a command
    /// without verdict `<text> ERROR`, then close. SVSP: `EFAULT <text>`.
    Error {
        /// Message text.
        text: String,
    },
    /// Answer with an errno reply (SVSP: `<NAME> <text>`; clamd: `<NAME> <text> ERROR`, with
    /// the `<subject>: ` prefix in the place of a verdict, as for `error`).
    Errno {
        /// Errno name, e.g. `EACCES`.
        name: String,
        /// Message (default: a generic text per name).
        #[serde(default)]
        text: Option<String>,
    },
    /// clamd: `COMMAND READ TIMED OUT` now, then close (SVSP: silent close, as on idle timeout).
    Timeout,
    /// `INSTREAM size limit exceeded. ERROR` now (SVSP: `EINVAL Size limit exceeded`),
    /// followed as `mode` says.
    StreamLimit {
        /// What follows the reply.
        #[serde(default)]
        mode: LimitMode,
    },
    /// SVSP: `EAGAIN Server busy` for this request (clamd: as `errno`).
    Eagain,
    /// SVSP: `EFAULT Internal error` for this request (clamd: as `errno`).
    Efault,
    /// SVSP: `DENIED` instead of `READY`, then close (clamd: as `refuse`).
    Denied,
    /// Write every later reply in pieces of `bytes` bytes, `ms` apart (the scripted
    /// servers' `split_reply = N`).
    SplitEvery {
        /// Bytes per write (at least 1).
        bytes: usize,
        /// Pause between pieces, milliseconds.
        #[serde(default)]
        ms: u64,
    },
    /// This text in the place of the verdict (or of the answer to a command without one),
    /// framed as the protocol frames that reply: SVSP `[<id> ]<text><EOL>`; clamd
    /// `[<n>: ]<text><terminator>`. With `raw`, exactly the bytes of `text` after decoding
    /// its escapes (`\xHH`, `\n`, `\r`, `\t`, `\0`, `\\`: [`crate::escapes`]; a plan
    /// with any other backslash does not load), unframed.
    Reply {
        /// The reply text.
        text: String,
        /// Send `text` (escapes decoded) as is, without id or terminator.
        #[serde(default)]
        raw: bool,
    },
}

/// A reply text to send in the place of a verdict (from a [`Fault::Reply`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyText {
    /// The text as given.
    pub text: String,
    /// Unframed, escapes decoded.
    pub raw: bool,
}

impl ReplyText {
    /// The bytes to frame (`raw == false`: the text) or to send as is (`raw`: decoded).
    pub fn bytes(&self) -> Vec<u8> {
        if self.raw {
            // plans are checked at load (`FaultPlan::validate`); one built in code with a bad
            // escape sends its text as written
            crate::escapes::unescape(&self.text).unwrap_or_else(|_| self.text.as_bytes().to_vec())
        } else {
            self.text.as_bytes().to_vec()
        }
    }
}

/// How long a `stop-reading` connection is held by default: 60 s, the fake vfindd's idle
/// timeout and the longest a fake holds a silent peer elsewhere. Real clamd holds it until
/// the load clears (no bound at all while stopped); a fake must bound every wait, and 60 s
/// is longer than a client timeout should be. Cases that must outlast a slow client's own
/// timeout (Exim's 2 minutes) set `hold_ms`.
pub const STOP_READING_HOLD_MS: u64 = 60_000;

fn one() -> usize {
    1
}

fn default_garbage_len() -> usize {
    32
}

/// When a fault takes effect, by class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultClass {
    /// At accept time, before any byte: `refuse`, `denied`.
    Connect,
    /// Changes how the rest of the connection is read or written: `slow-read`,
    /// `delay` at `read`/`bytes`, `split-reply`, `split-every`, `drop` and `stop-reading`
    /// with `after_bytes`.
    Shaping,
    /// Acts now: `drop`, `reset`, `never-reply`, `stop-reading`, `timeout`, `stream-limit`,
    /// `eagain`, `efault`.
    Immediate,
    /// Changes the next reply: `delay` at `reply`, `garbage`, `truncate`, `infected`,
    /// `clean`, `error`, `errno`, `reply`.
    Reply,
}

impl Fault {
    /// The class of this fault.
    pub fn class(&self) -> FaultClass {
        match self {
            Fault::Refuse | Fault::Denied => FaultClass::Connect,
            Fault::SlowRead { .. } | Fault::SplitReply { .. } | Fault::SplitEvery { .. } => {
                FaultClass::Shaping
            }
            Fault::Delay { at, .. } => match at {
                DelayAt::Reply => FaultClass::Reply,
                DelayAt::Bytes | DelayAt::Read => FaultClass::Shaping,
            },
            Fault::Drop { after_bytes } | Fault::StopReading { after_bytes, .. } => {
                match after_bytes {
                    Some(_) => FaultClass::Shaping,
                    None => FaultClass::Immediate,
                }
            }
            Fault::Reset
            | Fault::NeverReply
            | Fault::Timeout
            | Fault::StreamLimit { .. }
            | Fault::Eagain
            | Fault::Efault => FaultClass::Immediate,
            Fault::Garbage { .. }
            | Fault::Truncate { .. }
            | Fault::Infected { .. }
            | Fault::Clean
            | Fault::Error { .. }
            | Fault::Errno { .. }
            | Fault::Reply { .. } => FaultClass::Reply,
        }
    }

    /// The `kind` name as written in plans.
    pub fn kind(&self) -> &'static str {
        match self {
            Fault::Delay { .. } => "delay",
            Fault::SlowRead { .. } => "slow-read",
            Fault::SplitReply { .. } => "split-reply",
            Fault::Drop { .. } => "drop",
            Fault::Reset => "reset",
            Fault::NeverReply => "never-reply",
            Fault::StopReading { .. } => "stop-reading",
            Fault::Refuse => "refuse",
            Fault::Garbage { .. } => "garbage",
            Fault::Truncate { .. } => "truncate",
            Fault::Infected { .. } => "infected",
            Fault::Clean => "clean",
            Fault::Error { .. } => "error",
            Fault::Errno { .. } => "errno",
            Fault::Timeout => "timeout",
            Fault::StreamLimit { .. } => "stream-limit",
            Fault::Eagain => "eagain",
            Fault::Efault => "efault",
            Fault::Denied => "denied",
            Fault::SplitEvery { .. } => "split-every",
            Fault::Reply { .. } => "reply",
        }
    }

    /// Whether this fault only concerns scan requests (forced verdicts, EAGAIN/EFAULT,
    /// stream limit): it never fires on PING, QUIT, ENABLE, ...
    pub fn scan_only(&self) -> bool {
        matches!(
            self,
            Fault::Infected { .. }
                | Fault::Clean
                | Fault::Eagain
                | Fault::Efault
                | Fault::StreamLimit { .. }
        )
    }
}

/// A forced reply content, taken by the daemon when it composes a reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ForcedReply {
    /// Infected with this name.
    Infected(String),
    /// Clean.
    Clean,
    /// An error line with this text.
    Error(String),
    /// An errno reply.
    Errno {
        /// Errno name.
        name: String,
        /// Message text (None: the daemon's default for that name).
        text: Option<String>,
    },
}
