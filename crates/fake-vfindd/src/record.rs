//! What the server saw and sent, per connection (for tests and the harness).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Mutex;

use faults::admin::live::{Dir, LiveCommand, LiveEvent, LiveState, LiveTranscript, Signature};

/// Connections kept (the oldest are dropped first), so a long-running daemon stays bounded.
pub const MAX_SESSIONS: usize = 10_000;

/// One connection's record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// The client's address.
    pub peer: SocketAddr,
    /// The connection was refused with DENIED.
    pub denied: bool,
    /// Raw bytes received on the control connection (capped).
    pub client_bytes: Vec<u8>,
    /// Raw bytes sent (capped).
    pub server_bytes: Vec<u8>,
    /// Command lines as framed (terminator removed), in processing order.
    pub commands: Vec<Vec<u8>>,
}

/// One connection: its public record plus the order of reads and writes.
#[derive(Debug)]
struct Slot {
    rec: SessionRecord,
    /// Reads and writes in order (within the same per-direction byte caps).
    events: Vec<LiveEvent>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Index of `slots[0]` in connection numbering (0-based, as `open` returns).
    base: usize,
    slots: VecDeque<Slot>,
}

impl Inner {
    fn get(&mut self, i: usize) -> Option<&mut Slot> {
        let at = i.checked_sub(self.base)?;
        self.slots.get_mut(at)
    }
}

/// Shared recorder. Indices stay valid after [`Recorder::clear`] and after old
/// connections were dropped: calls on a forgotten connection do nothing.
#[derive(Debug, Default)]
pub struct Recorder {
    inner: Mutex<Inner>,
    limit: usize,
}

impl Recorder {
    /// A recorder keeping at most `limit` bytes per direction per connection.
    pub fn new(limit: usize) -> Recorder {
        Recorder {
            inner: Mutex::default(),
            limit,
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut Inner) -> R) -> R {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut g)
    }

    /// Registers a connection; returns its index.
    pub fn open(&self, peer: SocketAddr) -> usize {
        self.with(|s| {
            if s.slots.len() >= MAX_SESSIONS {
                s.slots.pop_front();
                s.base += 1;
            }
            s.slots.push_back(Slot {
                rec: SessionRecord {
                    peer,
                    denied: false,
                    client_bytes: Vec::new(),
                    server_bytes: Vec::new(),
                    commands: Vec::new(),
                },
                events: Vec::new(),
            });
            s.base + s.slots.len() - 1
        })
    }

    /// Forgets every connection recorded so far (`POST /reset`).
    pub fn clear(&self) {
        self.with(|s| {
            s.base += s.slots.len();
            s.slots.clear();
        });
    }

    /// Appends what fits under `limit` to `v` and, in order, to the events.
    fn append(limit: usize, v: &mut Vec<u8>, events: &mut Vec<LiveEvent>, dir: Dir, data: &[u8]) {
        let room = limit.saturating_sub(v.len());
        let kept = &data[..data.len().min(room)];
        if kept.is_empty() {
            return;
        }
        v.extend_from_slice(kept);
        events.push(LiveEvent {
            dir,
            bytes: kept.to_vec(),
        });
    }

    /// Marks a connection as denied.
    pub fn denied(&self, i: usize) {
        self.with(|s| {
            if let Some(t) = s.get(i) {
                t.rec.denied = true;
            }
        });
    }
    /// Bytes from the client.
    pub fn client(&self, i: usize, data: &[u8]) {
        let l = self.limit;
        self.with(|s| {
            if let Some(t) = s.get(i) {
                Self::append(l, &mut t.rec.client_bytes, &mut t.events, Dir::Recv, data);
            }
        });
    }
    /// Bytes to the client.
    pub fn server(&self, i: usize, data: &[u8]) {
        let l = self.limit;
        self.with(|s| {
            if let Some(t) = s.get(i) {
                Self::append(l, &mut t.rec.server_bytes, &mut t.events, Dir::Sent, data);
            }
        });
    }
    /// A command line.
    pub fn command(&self, i: usize, line: &[u8]) {
        self.with(|s| {
            if let Some(t) = s.get(i) {
                if t.rec.commands.len() < 100_000 {
                    t.rec.commands.push(line.to_vec())
                }
            }
        });
    }
    /// Snapshot of all sessions.
    pub fn sessions(&self) -> Vec<SessionRecord> {
        self.with(|s| s.slots.iter().map(|t| t.rec.clone()).collect())
    }

    /// Command names of every recorded command, in connection order (for expectations).
    pub fn command_names(&self) -> Vec<String> {
        self.with(|s| {
            s.slots
                .iter()
                .flat_map(|t| t.rec.commands.iter().map(|l| command_name(l)))
                .collect()
        })
    }
}

/// The keyword of a command line: an SVSP id (digits) skipped, up to `/` or blank, upper
/// case (`SCAN`, `ENABLE`, `QUIT`), as fault triggers name it.
pub fn command_name(line: &[u8]) -> String {
    let text = String::from_utf8_lossy(line);
    let mut words = text.split_ascii_whitespace();
    let mut w = words.next().unwrap_or("");
    if !w.is_empty() && w.bytes().all(|b| b.is_ascii_digit()) {
        w = words.next().unwrap_or("");
    }
    w.split('/').next().unwrap_or("").to_ascii_uppercase()
}

/// The recorder as the admin API shows it (`GET /`, `/transcripts`, `/commands`).
pub(crate) struct LiveRecord {
    pub(crate) recorder: std::sync::Arc<Recorder>,
    pub(crate) signatures: Vec<Signature>,
}

impl LiveState for LiveRecord {
    fn transcripts(&self, last: usize) -> Vec<LiveTranscript> {
        self.recorder.with(|s| {
            let skip = s.slots.len().saturating_sub(last);
            s.slots
                .iter()
                .enumerate()
                .skip(skip)
                .map(|(k, t)| LiveTranscript {
                    conn: (s.base + k + 1) as u64,
                    transport: format!("tcp from {}", t.rec.peer),
                    note: t.rec.denied.then(|| "denied".to_string()),
                    events: t.events.clone(),
                    truncated: t.rec.client_bytes.len() >= self.recorder.limit
                        || t.rec.server_bytes.len() >= self.recorder.limit,
                })
                .collect()
        })
    }

    fn commands(&self, last: usize) -> Vec<LiveCommand> {
        self.recorder.with(|s| {
            let mut out = Vec::new();
            'all: for (k, t) in s.slots.iter().enumerate().rev() {
                for l in t.rec.commands.iter().rev() {
                    if out.len() == last {
                        break 'all;
                    }
                    out.push(LiveCommand {
                        conn: (s.base + k + 1) as u64,
                        name: command_name(l),
                        line: l.clone(),
                        session: None,
                        framing: None,
                    });
                }
            }
            out.reverse();
            out
        })
    }

    fn reset(&self) {
        self.recorder.clear();
    }

    fn signatures(&self) -> Vec<Signature> {
        self.signatures.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Live view: `POST /reset` forgets connections, yet a connection still open keeps a
    /// valid index (its later bytes are dropped, nothing panics).
    #[test]
    fn clear_keeps_open_indices_valid() {
        let r = Recorder::new(16);
        let peer: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let a = r.open(peer);
        r.client(a, b"ENABLE\n");
        r.clear();
        r.client(a, b"more");
        r.denied(a);
        r.command(a, b"SCAN");
        assert!(r.sessions().is_empty());
        let b = r.open(peer);
        assert_eq!(b, 1);
        r.server(b, b"READY\n");
        assert_eq!(r.sessions()[0].server_bytes, b"READY\n");
    }

    /// SVSP-ID-1: the keyword is found after an id, before `/FILE`.
    #[test]
    fn command_names_skip_ids_and_options() {
        assert_eq!(command_name(b"12 SCAN/FILE /x"), "SCAN");
        assert_eq!(command_name(b"enable"), "ENABLE");
        assert_eq!(command_name(b""), "");
    }
}
