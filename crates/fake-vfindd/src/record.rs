//! What the server saw and sent, per connection (for tests and the harness).

use std::net::SocketAddr;
use std::sync::Mutex;

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

/// Shared recorder.
#[derive(Debug, Default)]
pub struct Recorder {
    sessions: Mutex<Vec<SessionRecord>>,
    limit: usize,
}

impl Recorder {
    /// A recorder keeping at most `limit` bytes per direction per connection.
    pub fn new(limit: usize) -> Recorder {
        Recorder {
            sessions: Mutex::new(Vec::new()),
            limit,
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut Vec<SessionRecord>) -> R) -> R {
        let mut g = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut g)
    }

    /// Registers a connection; returns its index.
    pub fn open(&self, peer: SocketAddr) -> usize {
        self.with(|s| {
            s.push(SessionRecord {
                peer,
                denied: false,
                client_bytes: Vec::new(),
                server_bytes: Vec::new(),
                commands: Vec::new(),
            });
            s.len() - 1
        })
    }

    fn append(limit: usize, v: &mut Vec<u8>, data: &[u8]) {
        let room = limit.saturating_sub(v.len());
        v.extend_from_slice(&data[..data.len().min(room)]);
    }

    /// Marks a connection as denied.
    pub fn denied(&self, i: usize) {
        self.with(|s| s[i].denied = true);
    }
    /// Bytes from the client.
    pub fn client(&self, i: usize, data: &[u8]) {
        let l = self.limit;
        self.with(|s| Self::append(l, &mut s[i].client_bytes, data));
    }
    /// Bytes to the client.
    pub fn server(&self, i: usize, data: &[u8]) {
        let l = self.limit;
        self.with(|s| Self::append(l, &mut s[i].server_bytes, data));
    }
    /// A command line.
    pub fn command(&self, i: usize, line: &[u8]) {
        self.with(|s| {
            if s[i].commands.len() < 100_000 {
                s[i].commands.push(line.to_vec())
            }
        });
    }
    /// Snapshot of all sessions.
    pub fn sessions(&self) -> Vec<SessionRecord> {
        self.with(|s| s.clone())
    }
}
