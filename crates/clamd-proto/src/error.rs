//! The one error type of this crate.

/// Errors produced by the codecs of this crate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtoError {
    /// CLAMD-FRAME-9: a z/n command did not fit in the 4104-byte command buffer and more
    /// bytes arrived. The server closes the connection without a reply.
    #[error("command longer than the {capacity}-byte command buffer (CLAMD-FRAME-9)")]
    CommandTooLong {
        /// The buffer capacity.
        capacity: usize,
    },
    /// Client side: the argument cannot be expressed in the chosen framing
    /// (CLAMD-CLIENT-1: no `\0` at all, no `\n` in n/legacy mode).
    #[error("argument contains a byte that cannot be sent in {framing} framing (CLAMD-CLIENT-1)")]
    UnencodableArgument {
        /// Name of the framing.
        framing: &'static str,
    },
    /// Client side: [`crate::Command::Unknown`] has no wire form.
    #[error("an unknown command cannot be encoded")]
    UnknownCommand,
    /// Client side: a reply record grew beyond the configured bound without a terminator.
    #[error("reply record longer than {max} bytes without a terminator")]
    ReplyTooLong {
        /// The configured bound.
        max: usize,
    },
    /// Client side: the connection ended inside a reply record (CLAMD-CLIENT-3).
    #[error("connection ended in the middle of a reply ({pending} bytes without terminator)")]
    TruncatedReply {
        /// Number of buffered bytes without a terminator.
        pending: usize,
    },
}
