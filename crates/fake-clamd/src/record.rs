//! What the fake received and sent, for assertions in tests (bounded).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use clamd_proto::{Command, Framing};
use faults::admin::live::{Dir, LiveCommand, LiveEvent, LiveState, LiveTranscript, Signature};

use crate::transport::TransportKind;

/// One direction of bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Bytes received from the client (one read).
    Recv(Vec<u8>),
    /// Bytes sent to the client (one reply write).
    Sent(Vec<u8>),
    /// The client passed a file descriptor (FILDES).
    Fd,
    /// The server closed the connection.
    Closed,
}

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

/// Everything one connection did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transcript {
    /// Connection number (1-based, in accept order).
    pub conn: u64,
    /// Listener kind.
    pub transport: TransportKind,
    /// Events in order.
    pub events: Vec<Event>,
    /// Commands decoded on this connection.
    pub commands: Vec<RecordedCommand>,
    /// True when the byte limit cut the recording short.
    pub truncated: bool,
    bytes: usize,
}

impl Transcript {
    /// All bytes received, concatenated.
    pub fn received(&self) -> Vec<u8> {
        self.concat(|e| match e {
            Event::Recv(b) => Some(b),
            _ => None,
        })
    }

    /// All bytes sent, concatenated.
    pub fn sent(&self) -> Vec<u8> {
        self.concat(|e| match e {
            Event::Sent(b) => Some(b),
            _ => None,
        })
    }

    /// The bytes `pick` takes from each event, concatenated.
    fn concat(&self, pick: impl Fn(&Event) -> Option<&Vec<u8>>) -> Vec<u8> {
        self.events
            .iter()
            .filter_map(pick)
            .flatten()
            .copied()
            .collect()
    }
}

#[derive(Debug, Default)]
struct Inner {
    conns: VecDeque<Transcript>,
}

/// Shared recorder (cheap to clone).
#[derive(Debug, Clone)]
pub(crate) struct Recorder {
    inner: Arc<Mutex<Inner>>,
    byte_limit: usize,
    max_conns: usize,
}

impl Recorder {
    pub(crate) fn new(byte_limit: usize, max_conns: usize) -> Self {
        Recorder {
            inner: Arc::default(),
            byte_limit,
            max_conns: max_conns.max(1),
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut Inner) -> R) -> R {
        let mut g = match self.inner.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        f(&mut g)
    }

    pub(crate) fn open(&self, conn: u64, transport: TransportKind) {
        let max = self.max_conns;
        self.with(|i| {
            if i.conns.len() >= max {
                i.conns.pop_front();
            }
            i.conns.push_back(Transcript {
                conn,
                transport,
                events: Vec::new(),
                commands: Vec::new(),
                truncated: false,
                bytes: 0,
            });
        });
    }

    fn with_conn(&self, conn: u64, f: impl FnOnce(&mut Transcript)) {
        self.with(|i| {
            if let Some(t) = i.conns.iter_mut().rev().find(|t| t.conn == conn) {
                f(t);
            }
        });
    }

    pub(crate) fn event(&self, conn: u64, ev: Event) {
        let limit = self.byte_limit;
        self.with_conn(conn, |t| {
            let n = match &ev {
                Event::Recv(b) | Event::Sent(b) => b.len(),
                _ => 0,
            };
            if t.bytes + n > limit {
                t.truncated = true;
                return;
            }
            t.bytes += n;
            t.events.push(ev);
        });
    }

    pub(crate) fn command(&self, cmd: RecordedCommand) {
        let conn = cmd.conn;
        self.with_conn(conn, |t| {
            if t.commands.len() < 100_000 {
                t.commands.push(cmd);
            }
        });
    }

    pub(crate) fn transcripts(&self) -> Vec<Transcript> {
        self.with(|i| i.conns.iter().cloned().collect())
    }

    /// The newest `last` transcripts, oldest first (clones only those).
    pub(crate) fn last_transcripts(&self, last: usize) -> Vec<Transcript> {
        self.with(|i| {
            let skip = i.conns.len().saturating_sub(last);
            i.conns.iter().skip(skip).cloned().collect()
        })
    }

    /// The newest `last` commands, in connection order.
    pub(crate) fn last_commands(&self, last: usize) -> Vec<RecordedCommand> {
        self.with(|i| {
            let mut out: Vec<RecordedCommand> = Vec::new();
            for t in i.conns.iter().rev() {
                for c in t.commands.iter().rev() {
                    if out.len() == last {
                        break;
                    }
                    out.push(c.clone());
                }
            }
            out.reverse();
            out
        })
    }

    /// Names of every recorded command, in connection order (for expectations).
    pub(crate) fn command_names(&self) -> Vec<String> {
        self.with(|i| {
            i.conns
                .iter()
                .flat_map(|t| t.commands.iter().map(|c| command_name(&c.command)))
                .collect()
        })
    }

    pub(crate) fn clear(&self) {
        self.with(|i| i.conns.clear());
    }
}

/// `INSTREAM`, `SCAN`, ...; `UNKNOWN` for what did not parse.
fn command_name(c: &Command) -> String {
    c.name()
        .map_or("UNKNOWN", clamd_proto::CommandName::as_str)
        .to_string()
}

/// The recorder as the admin API shows it (`GET /`, `/transcripts`, `/commands`).
pub(crate) struct LiveRecord {
    pub(crate) recorder: Recorder,
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

impl LiveState for LiveRecord {
    fn transcripts(&self, last: usize) -> Vec<LiveTranscript> {
        self.recorder
            .last_transcripts(last)
            .into_iter()
            .map(|t| LiveTranscript {
                conn: t.conn,
                transport: match t.transport {
                    TransportKind::Tcp => "tcp",
                    TransportKind::Unix => "unix",
                }
                .to_string(),
                note: None,
                truncated: t.truncated,
                events: t
                    .events
                    .into_iter()
                    .map(|e| match e {
                        Event::Recv(b) => LiveEvent {
                            dir: Dir::Recv,
                            bytes: b,
                        },
                        Event::Sent(b) => LiveEvent {
                            dir: Dir::Sent,
                            bytes: b,
                        },
                        Event::Fd => LiveEvent {
                            dir: Dir::Fd,
                            bytes: Vec::new(),
                        },
                        Event::Closed => LiveEvent {
                            dir: Dir::Closed,
                            bytes: Vec::new(),
                        },
                    })
                    .collect(),
            })
            .collect()
    }

    fn commands(&self, last: usize) -> Vec<LiveCommand> {
        self.recorder
            .last_commands(last)
            .into_iter()
            .map(|c| {
                let name = command_name(&c.command);
                let mut line = name.clone().into_bytes();
                if let Some(p) = c.command.path() {
                    line.push(b' ');
                    line.extend_from_slice(p);
                }
                LiveCommand {
                    conn: c.conn,
                    name,
                    line,
                    session: c.session_id,
                    framing: Some(c.framing.name().to_string()),
                }
            })
            .collect()
    }

    fn reset(&self) {
        self.recorder.clear();
    }

    fn signatures(&self) -> Vec<Signature> {
        signatures()
    }
}
