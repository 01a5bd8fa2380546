//! What a fake daemon received and sent, per connection: one bounded recorder for both
//! fakes. Their handles return its [`Transcript`]s (`transcripts()`, `commands()`), and the
//! admin API shows the same records live (`admin::live::LiveRecord`, `GET /transcripts`).
//!
//! Bounded (a long-running daemon must not grow): each connection keeps at most
//! [`Limits::bytes_per_connection`] bytes of record, both directions and its commands
//! together (what does not fit is dropped and the transcript marked `truncated`), each
//! event and command charged [`RECORD_OVERHEAD`] besides its bytes (a peer writing one byte
//! at a time must not cost 16 times its budget), at most [`MAX_COMMANDS_PER_CONNECTION`]
//! commands, and the recorder keeps the newest
//! [`Limits::connections`] connections holding at most [`Limits::total_bytes`] bytes of
//! traffic in all (the oldest connections are forgotten first), so many connections that each
//! stay under their own budget still cannot grow a long-running daemon.

use std::collections::VecDeque;
use std::sync::Mutex;

/// Commands kept per connection; later ones are not recorded.
pub const MAX_COMMANDS_PER_CONNECTION: usize = 100_000;

/// What one recorded event or command costs besides its bytes (its record and allocation).
pub const RECORD_OVERHEAD: usize = 64;

/// Direction (or kind) of one recorded event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    /// Bytes from the client.
    Recv,
    /// Bytes to the client.
    Sent,
    /// The client passed a file descriptor (clamd `FILDES`).
    Fd,
    /// The server closed the connection.
    Closed,
}

impl Dir {
    /// `recv`, `sent`, `fd`, `closed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Dir::Recv => "recv",
            Dir::Sent => "sent",
            Dir::Fd => "fd",
            Dir::Closed => "closed",
        }
    }
}

/// One event of a connection: one read, one reply write, a passed descriptor, the close.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// What happened.
    pub dir: Dir,
    /// The bytes (empty for `Fd`/`Closed`).
    pub bytes: Vec<u8>,
}

/// A command as the live view shows it; also what the fake vfindd records (its commands are
/// lines, with no typed form).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CommandLine {
    /// Connection number.
    pub conn: u64,
    /// Command name, upper case (`INSTREAM`, `SCAN`, `UNKNOWN`).
    pub name: String,
    /// The command as received, terminator and framing prefix removed.
    pub line: Vec<u8>,
    /// IDSESSION number (clamd).
    pub session: Option<u64>,
    /// Framing (clamd: `z`, `n`, `legacy`).
    pub framing: Option<String>,
}

/// A recorded command of one protocol.
pub trait Recorded: Clone + Send + Sync + 'static {
    /// Its name as fault triggers and expectations use it (`INSTREAM`, `SCAN`).
    fn name(&self) -> String;
    /// Its live-view form.
    fn line(&self) -> CommandLine;
    /// Bytes it holds on the heap (charged to the budgets with [`RECORD_OVERHEAD`]).
    fn heap_bytes(&self) -> usize;
}

impl Recorded for CommandLine {
    fn name(&self) -> String {
        self.name.clone()
    }
    fn line(&self) -> CommandLine {
        self.clone()
    }
    fn heap_bytes(&self) -> usize {
        self.name.len() + self.line.len() + self.framing.as_ref().map_or(0, String::len)
    }
}

/// Everything one connection did, as far as the limits allowed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Transcript<C> {
    /// Connection number (the daemon's; 1-based, never reused, not reset by `clear`).
    pub conn: u64,
    /// `tcp`, `unix`, or `tcp from <peer>`.
    pub transport: String,
    /// A remark (`denied`).
    pub note: Option<String>,
    /// Events in order.
    pub events: Vec<Event>,
    /// Commands decoded on this connection, in order.
    pub commands: Vec<C>,
    /// The byte limit cut the recording short.
    pub truncated: bool,
}

impl<C> Transcript<C> {
    /// All bytes received, concatenated.
    pub fn received(&self) -> Vec<u8> {
        self.joined(Dir::Recv)
    }

    /// All bytes sent, concatenated.
    pub fn sent(&self) -> Vec<u8> {
        self.joined(Dir::Sent)
    }

    /// True once the server closed the connection.
    pub fn closed(&self) -> bool {
        self.events.iter().any(|e| e.dir == Dir::Closed)
    }

    /// All bytes of one direction, joined.
    pub fn joined(&self, dir: Dir) -> Vec<u8> {
        self.events
            .iter()
            .filter(|e| e.dir == dir)
            .flat_map(|e| e.bytes.iter().copied())
            .collect()
    }
}

/// How much a [`Recorder`] keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of traffic per connection, both directions together.
    pub bytes_per_connection: usize,
    /// Connections kept; the oldest are dropped first.
    pub connections: usize,
    /// Bytes of traffic kept over all connections; beyond it the oldest connections are
    /// dropped first (the current one is kept: raise this to at least
    /// `bytes_per_connection`).
    pub total_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            bytes_per_connection: 256 * 1024,
            connections: 10_000,
            total_bytes: 64 << 20,
        }
    }
}

#[derive(Debug)]
struct Slot<C> {
    transcript: Transcript<C>,
    /// Bytes kept so far (the budget of [`Limits::bytes_per_connection`]).
    bytes: usize,
}

/// The shared recorder of one daemon. Calls naming a connection that was never opened, or
/// that [`Recorder::clear`] or the connection limit dropped, do nothing.
#[derive(Debug)]
pub struct Recorder<C> {
    slots: Mutex<Slots<C>>,
    limits: Limits,
}

#[derive(Debug)]
struct Slots<C> {
    /// Oldest first.
    list: VecDeque<Slot<C>>,
    /// Bytes kept over all of `list`.
    bytes: usize,
}

impl<C> Slots<C> {
    fn pop_oldest(&mut self) {
        if let Some(s) = self.list.pop_front() {
            self.bytes -= s.bytes;
        }
    }

    /// Adds `cost`, already charged to connection `conn`, to the total, then forgets the
    /// oldest connections, never `conn`, until the total fits.
    fn charge_total(&mut self, conn: u64, cost: usize, total: usize) {
        self.bytes += cost;
        while self.bytes > total && self.list.front().is_some_and(|s| s.transcript.conn != conn) {
            self.pop_oldest();
        }
    }
}

impl<C: Recorded> Recorder<C> {
    /// An empty recorder.
    pub fn new(limits: Limits) -> Self {
        Recorder {
            slots: Mutex::new(Slots {
                list: VecDeque::new(),
                bytes: 0,
            }),
            limits: Limits {
                connections: limits.connections.max(1),
                ..limits
            },
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut Slots<C>) -> R) -> R {
        let mut g = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut g)
    }

    /// The newest slot of connection `conn` (connections are looked up from the newest: the
    /// busy ones are recent).
    fn with_conn(&self, conn: u64, f: impl FnOnce(&mut Slot<C>)) {
        self.with(|slots| {
            if let Some(s) = find(&mut slots.list, conn) {
                f(s);
            }
        });
    }

    /// Starts the record of connection `conn`.
    pub fn open(&self, conn: u64, transport: impl Into<String>) {
        let max = self.limits.connections;
        let transport = transport.into();
        self.with(|slots| {
            while slots.list.len() >= max {
                slots.pop_oldest();
            }
            slots.list.push_back(Slot {
                transcript: Transcript {
                    conn,
                    transport,
                    note: None,
                    events: Vec::new(),
                    commands: Vec::new(),
                    truncated: false,
                },
                bytes: 0,
            });
        });
    }

    /// Records bytes in direction `dir` (or, with no bytes, an `Fd`/`Closed` event). Bytes
    /// past the connection's budget are dropped and the transcript marked truncated; the
    /// close is always recorded (once a connection, it costs nothing).
    pub fn event(&self, conn: u64, dir: Dir, data: &[u8]) {
        let limits = self.limits;
        self.with(|slots| {
            let Some(s) = find(&mut slots.list, conn) else {
                return;
            };
            let (kept, cost) = if dir == Dir::Closed {
                (data, 0)
            } else {
                let room = limits.bytes_per_connection.saturating_sub(s.bytes);
                if room < RECORD_OVERHEAD {
                    s.transcript.truncated = true;
                    return;
                }
                let fits = (room - RECORD_OVERHEAD).min(data.len());
                if fits < data.len() {
                    s.transcript.truncated = true;
                    if fits == 0 {
                        return;
                    }
                }
                (&data[..fits], RECORD_OVERHEAD + fits)
            };
            s.transcript.events.push(Event {
                dir,
                bytes: kept.to_vec(),
            });
            s.bytes += cost;
            slots.charge_total(conn, cost, limits.total_bytes);
        });
    }

    /// Bytes from the client.
    pub fn recv(&self, conn: u64, data: &[u8]) {
        self.event(conn, Dir::Recv, data);
    }

    /// Bytes to the client.
    pub fn sent(&self, conn: u64, data: &[u8]) {
        self.event(conn, Dir::Sent, data);
    }

    /// A remark on the connection (`denied`).
    pub fn note(&self, conn: u64, note: &str) {
        self.with_conn(conn, |s| s.transcript.note = Some(note.to_string()));
    }

    /// A decoded command (charged to the budgets like traffic; one that does not fit is
    /// dropped and the transcript marked truncated).
    pub fn command(&self, conn: u64, command: C) {
        let limits = self.limits;
        self.with(|slots| {
            let Some(s) = find(&mut slots.list, conn) else {
                return;
            };
            let cost = RECORD_OVERHEAD + command.heap_bytes();
            if s.transcript.commands.len() >= MAX_COMMANDS_PER_CONNECTION
                || s.bytes + cost > limits.bytes_per_connection
            {
                s.transcript.truncated = true;
                return;
            }
            s.transcript.commands.push(command);
            s.bytes += cost;
            slots.charge_total(conn, cost, limits.total_bytes);
        });
    }

    /// Forgets every connection recorded so far (`POST /reset`); connections still open
    /// record nothing more.
    pub fn clear(&self) {
        self.with(|slots| {
            slots.list.clear();
            slots.bytes = 0;
        });
    }

    /// The newest `last` transcripts, oldest first (clones only those).
    pub fn last_transcripts(&self, last: usize) -> Vec<Transcript<C>> {
        self.with(|slots| {
            let skip = slots.list.len().saturating_sub(last);
            slots
                .list
                .iter()
                .skip(skip)
                .map(|s| s.transcript.clone())
                .collect()
        })
    }

    /// Every transcript kept, oldest first.
    pub fn transcripts(&self) -> Vec<Transcript<C>> {
        self.last_transcripts(usize::MAX)
    }

    /// Every command kept, in connection order.
    pub fn commands(&self) -> Vec<C> {
        self.with(|slots| {
            slots
                .list
                .iter()
                .flat_map(|s| s.transcript.commands.iter().cloned())
                .collect()
        })
    }

    /// The newest `last` commands, in connection order.
    pub fn last_commands(&self, last: usize) -> Vec<C> {
        self.with(|slots| {
            let mut out: Vec<C> = slots
                .list
                .iter()
                .rev()
                .flat_map(|s| s.transcript.commands.iter().rev())
                .take(last)
                .cloned()
                .collect();
            out.reverse();
            out
        })
    }

    /// Names of every command kept, in connection order (for expectations).
    pub fn command_names(&self) -> Vec<String> {
        self.with(|slots| {
            slots
                .list
                .iter()
                .flat_map(|s| s.transcript.commands.iter().map(Recorded::name))
                .collect()
        })
    }
}

/// The newest slot of connection `conn`.
fn find<C>(list: &mut VecDeque<Slot<C>>, conn: u64) -> Option<&mut Slot<C>> {
    list.iter_mut().rev().find(|s| s.transcript.conn == conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recorder(
        bytes_per_connection: usize,
        connections: usize,
        total: usize,
    ) -> Recorder<CommandLine> {
        Recorder::new(Limits {
            bytes_per_connection,
            connections,
            total_bytes: total,
        })
    }

    /// The connection numbers kept.
    fn conns(r: &Recorder<CommandLine>) -> Vec<u64> {
        r.transcripts().iter().map(|t| t.conn).collect()
    }

    fn line(conn: u64, name: &str) -> CommandLine {
        CommandLine {
            conn,
            name: name.into(),
            line: name.as_bytes().to_vec(),
            ..CommandLine::default()
        }
    }

    const O: usize = RECORD_OVERHEAD;

    /// Both directions share one budget; what does not fit is cut, and the transcript says so.
    #[test]
    fn one_budget_per_connection_for_both_directions() {
        let r = recorder(2 * O + 10, 4, 1000);
        r.open(1, "tcp");
        r.recv(1, b"zPING\0");
        r.sent(1, b"PONG\0\0");
        r.sent(1, b"more");
        r.event(1, Dir::Closed, b"");
        let t = &r.transcripts()[0];
        assert_eq!(t.received(), b"zPING\0");
        assert_eq!(t.sent(), b"PONG");
        assert!(t.truncated);
        assert!(t.closed(), "events without bytes still fit");
    }

    /// The newest connections are kept; a dropped or cleared one records nothing more, and
    /// numbers are the daemon's, so a reset never mixes two connections.
    #[test]
    fn bounded_in_connections_and_cleared_connections_stay_quiet() {
        let r = recorder(1000, 2, 10_000);
        for conn in 1..=3 {
            r.open(conn, "tcp");
            r.command(conn, line(conn, "PING"));
        }
        assert_eq!(conns(&r), [2, 3]);
        r.recv(1, b"dropped");
        assert!(r.transcripts().iter().all(|t| t.received().is_empty()));
        r.clear();
        r.recv(3, b"late");
        r.note(3, "denied");
        assert!(r.transcripts().is_empty());
        r.open(4, "unix");
        assert_eq!(r.transcripts()[0].conn, 4);
    }

    /// Many connections each under their own budget still cannot pass the total: the
    /// oldest are forgotten first, never the one being written.
    #[test]
    fn total_budget_forgets_the_oldest_connections() {
        let r = recorder(O + 8, 100, 2 * (O + 8) + 4);
        for conn in 1..=10 {
            r.open(conn, "tcp");
            r.recv(conn, b"12345678");
        }
        assert_eq!(conns(&r), [9, 10], "16 of 20 bytes held");
        // a connection whose own budget exceeds the total keeps what it was given
        let big = recorder(O + 50, 100, 10);
        big.open(1, "tcp");
        big.recv(1, b"0123456789abcdef");
        big.open(2, "tcp");
        big.recv(2, b"xy");
        let t = big.transcripts();
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].received(), b"xy");
        big.clear();
        big.open(3, "tcp");
        big.recv(3, b"0123456789");
        assert_eq!(
            big.transcripts()[0].received(),
            b"0123456789",
            "clear resets the total"
        );
    }

    /// A peer writing a byte at a time, or sending command after command, pays for each
    /// record: the heap a connection holds stays near its budget, not 16 times it.
    #[test]
    fn every_event_and_command_is_charged_its_record() {
        let r = recorder(10 * O, 10, 100 * O);
        r.open(1, "tcp");
        for _ in 0..10_000 {
            r.recv(1, b"x");
        }
        let t = &r.transcripts()[0];
        assert!(t.events.len() < 10, "{} events", t.events.len());
        assert!(t.truncated);
        r.open(2, "tcp");
        for _ in 0..10_000 {
            r.command(2, line(2, "PING"));
        }
        let t = &r.transcripts()[1];
        assert!(t.commands.len() < 10, "{} commands", t.commands.len());
        assert!(t.truncated);
        r.event(2, Dir::Closed, b"");
        assert!(
            r.transcripts()[1].closed(),
            "the close is recorded past the budget"
        );
    }

    /// Commands come back in connection order, the newest `last` when asked for fewer.
    #[test]
    fn commands_in_connection_order() {
        let r: Recorder<CommandLine> = Recorder::new(Limits::default());
        r.open(1, "tcp");
        r.open(2, "tcp");
        r.command(1, line(1, "IDSESSION"));
        r.command(2, line(2, "VERSION"));
        r.command(1, line(1, "PING"));
        assert_eq!(r.command_names(), ["IDSESSION", "PING", "VERSION"]);
        let last: Vec<String> = r.last_commands(2).iter().map(|c| c.name.clone()).collect();
        assert_eq!(last, ["PING", "VERSION"]);
    }
}
