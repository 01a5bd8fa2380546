//! What the fake received and sent, for assertions in tests and the live view: the shared
//! bounded recorder of `faults::record`, with clamd's typed commands.

use clamd_proto::{Command, Framing};
use faults::admin::live::Signature;
use faults::record::{CommandLine, Recorded};

/// The recorder of one server.
pub(crate) type Recorder = faults::record::Recorder<RecordedCommand>;

/// Everything one connection did (`transport` is `tcp` or `unix`).
pub type Transcript = faults::record::Transcript<RecordedCommand>;

/// A command as decoded by the fake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedCommand {
    /// Connection number (1-based, in accept order).
    pub conn: u64,
    /// The IDSESSION number of the command, if inside a session.
    pub session_id: Option<u64>,
    /// Its framing.
    pub framing: Framing,
    /// The decoded command.
    pub command: Command,
}

impl Recorded for RecordedCommand {
    /// `INSTREAM`, `SCAN`, ...; `UNKNOWN` for what did not parse.
    fn name(&self) -> String {
        self.command
            .name()
            .map_or("UNKNOWN", clamd_proto::CommandName::as_str)
            .to_string()
    }

    fn line(&self) -> CommandLine {
        let name = self.name();
        let mut line = name.clone().into_bytes();
        if let Some(p) = self.command.path() {
            line.push(b' ');
            line.extend_from_slice(p);
        }
        CommandLine {
            conn: self.conn,
            name,
            line,
            session: self.session_id,
            framing: Some(self.framing.name().to_string()),
        }
    }
    fn heap_bytes(&self) -> usize {
        self.command.path().map_or(0, <[u8]>::len)
    }
}

/// Test-signature bodies shown by label only: EICAR and the built-in marker.
pub(crate) fn signatures() -> Vec<Signature> {
    vec![
        Signature::new("EICAR", scan_engine::eicar()),
        Signature::new(
            &format!("test signature {}", scan_engine::MARKER_NAME),
            scan_engine::MARKER_BYTES.to_vec(),
        ),
    ]
}
