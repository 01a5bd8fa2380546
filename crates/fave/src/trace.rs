//! Wire trace (FAVE-6 TRACE): every byte sent and received, as escaped text; bulk data is
//! summarised (`[chunk 65536 bytes]`).

use std::sync::Arc;

/// Direction of a traced event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    Sent,
    Received,
}

/// One traced event: exact bytes or a summary note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceEvent {
    pub dir: Dir,
    /// Which channel: `control` or `data`.
    pub channel: &'static str,
    /// Escaped text (`\0`, `\n`, `\r`, `\xHH`), or a note in angle/square brackets.
    pub text: String,
}

impl std::fmt::Display for TraceEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let arrow = match self.dir {
            Dir::Sent => "C>",
            Dir::Received => "S<",
        };
        write!(f, "{arrow} [{}] {}", self.channel, self.text)
    }
}

/// The sink; cloneable and cheap.
pub type TraceSink = Arc<dyn Fn(&TraceEvent) + Send + Sync>;

#[derive(Clone, Default)]
pub(crate) struct Tracer {
    sink: Option<TraceSink>,
    channel: &'static str,
}

impl Tracer {
    pub(crate) fn new(sink: Option<TraceSink>, channel: &'static str) -> Tracer {
        Tracer { sink, channel }
    }

    pub(crate) fn bytes(&self, dir: Dir, data: &[u8]) {
        if let Some(s) = &self.sink {
            s(&TraceEvent {
                dir,
                channel: self.channel,
                text: escape(data),
            });
        }
    }

    pub(crate) fn note(&self, dir: Dir, text: &str) {
        if let Some(s) = &self.sink {
            s(&TraceEvent {
                dir,
                channel: self.channel,
                text: text.to_string(),
            });
        }
    }
}

/// Bytes shown as text (`\0 \n \r \t \\`, `\xHH`): the one escaper shared with clamd-proto.
pub use clamd_proto::display::escape;

#[cfg(test)]
mod tests {
    #[test]
    fn escape_controls() {
        assert_eq!(
            super::escape(b"zINSTREAM\0\x00\x01\n\\"),
            "zINSTREAM\\0\\0\\x01\\n\\\\"
        );
    }
}
