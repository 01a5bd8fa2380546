//! What the recording proxy saw: every byte both ways, per connection, with direction and
//! time offset.

use std::time::Duration;

use fake_clamd::Peer;

use serde::Serialize;

use crate::input::escape;

/// Direction of a byte run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Dir {
    /// client to server
    #[serde(rename = "C")]
    C2S,
    /// server to client
    #[serde(rename = "S")]
    S2C,
}

impl Dir {
    pub fn tag(self) -> &'static str {
        match self {
            Dir::C2S => "C",
            Dir::S2C => "S",
        }
    }
}

/// How an SVSP data channel was set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DataSource {
    /// The daemon announced a port with `SEND` and the client connected (SVSP-SCAN-REQUEST-1).
    Request,
    /// The client listened and named its port in `SCAN/PORT`; the daemon connected
    /// (SVSP-SCAN-PORT-1).
    Port,
}

impl DataSource {
    pub fn command(self) -> &'static str {
        match self {
            DataSource::Request => "SCAN/REQUEST",
            DataSource::Port => "SCAN/PORT",
        }
    }
}

/// One recorded event.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum EventKind {
    /// The client connected to the proxy (and the proxy to the daemon, unless `upstream_error`).
    Open { upstream_error: Option<String> },
    /// Bytes; `truncated` when the recorder's memory cap was reached (only the length is kept).
    Data {
        dir: Dir,
        #[serde(skip)]
        bytes: Vec<u8>,
        len: usize,
        truncated: bool,
    },
    /// Orderly end of one direction (FIN).
    Eof { dir: Dir },
    /// Read error in one direction (for example a reset).
    Error { dir: Dir, message: String },
    /// This connection is an SVSP data channel of control connection `of` (the first event of
    /// its connection, recorded when the proxy set up its listener). In its events `C` is the
    /// client program's side and `S` the daemon's, whoever connected.
    DataChannel { of: u32, source: DataSource },
    /// The client passed `count` open descriptors (`SCM_RIGHTS` on a unix socket, as a FILDES
    /// request does, CLAMD-FILDES-1) with the read that ended after byte `after` of its
    /// stream (counted from 1; the kernel ends a read at the message that carries them, so
    /// this is where the client's `sendmsg` ended, whatever the timing). `cut`: it passed
    /// more than the proxy takes per read; the kernel closed the rest (`MSG_CTRUNC`).
    Descriptors {
        count: usize,
        after: usize,
        cut: bool,
    },
}

/// How a passed descriptor shows in logs and snapshots.
pub fn descriptors_text(count: usize, cut: bool) -> String {
    let what = match count {
        1 => "<descriptor passed".to_string(),
        n => format!("<{n} descriptors passed"),
    };
    let more = if cut { ", more cut off>" } else { ">" };
    format!("{what}{more}")
}

#[derive(Debug, Clone, Serialize)]
pub struct Event {
    pub conn: u32,
    /// Time since the proxy started.
    #[serde(serialize_with = "ser_ms")]
    pub at: Duration,
    #[serde(flatten)]
    pub kind: EventKind,
}

fn ser_ms<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64() * 1000.0)
}

/// How [`Transcript::raw_log_with`] shows one merged byte run: (connection, direction, offset
/// of the run in that direction, bytes) -> text.
pub type ShowRun<'a> = dyn FnMut(u32, Dir, usize, &[u8]) -> String + 'a;

/// All events of one case run, in the order the proxy saw them.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Transcript {
    pub events: Vec<Event>,
    /// Per connection, the local address of the proxy's socket to the daemon (the peer
    /// address the daemon saw: TCP's, or the abstract name of a unix one).
    #[serde(skip)]
    pub upstream_addrs: Vec<(u32, Peer)>,
    /// The daemon's account of its uploads, when it gave one (the fake clamd does): per peer
    /// address, how many INSTREAM streams it read through their terminator (`u64::MAX`: it
    /// read everything the client sent, to its end).
    #[serde(skip)]
    pub daemon_streams: Option<Vec<(Peer, u64)>>,
    /// The peers whose connection the daemon refused at accept, when it says so.
    #[serde(skip)]
    pub daemon_refused: Option<Vec<Peer>>,
}

impl Transcript {
    /// A transcript of these events, with no daemon account.
    pub fn from_events(events: Vec<Event>) -> Self {
        Transcript {
            events,
            ..Default::default()
        }
    }

    /// How many INSTREAM streams of connection `conn` the daemon read through their
    /// terminator, by its own account; `None` when it gave none (then only the proxy's view
    /// is left). Whether a daemon that closed had read the upload whole cannot be told from
    /// the proxy's side: the client's last bytes may reach the proxy after the close either way.
    pub fn streams_read_whole(&self, conn: u32) -> Option<u64> {
        let account = self.daemon_streams.as_ref()?;
        let addr = &self.upstream_addrs.iter().find(|(c, _)| *c == conn)?.1;
        Some(
            account
                .iter()
                .rev()
                .find(|(a, _)| a == addr)
                .map_or(0, |(_, n)| *n),
        )
    }

    /// Whether the daemon read connection `conn`'s end (the client closed its side before the
    /// daemon closed), by the daemon's own account; `None` when it gave none.
    pub fn daemon_read_client_end(&self, conn: u32) -> Option<bool> {
        // the account marks input read to the client's end as every stream read whole
        self.streams_read_whole(conn).map(|n| n == u64::MAX)
    }

    /// Whether the daemon says it refused connection `conn` at accept (fault `refuse`):
    /// `None` without its account.
    pub fn refused_by_daemon(&self, conn: u32) -> Option<bool> {
        let refused = self.daemon_refused.as_ref()?;
        let addr = &self.upstream_addrs.iter().find(|(c, _)| *c == conn)?.1;
        Some(refused.contains(addr))
    }

    /// Control connections (every connection but SVSP data channels) in order of opening.
    pub fn connections(&self) -> Vec<u32> {
        let data: Vec<u32> = self.data_channels_all().into_iter().map(|d| d.0).collect();
        let mut v: Vec<u32> = Vec::new();
        for e in &self.events {
            if !v.contains(&e.conn) && !data.contains(&e.conn) {
                v.push(e.conn);
            }
        }
        v
    }

    /// SVSP data channels of one control connection, in order of setup: (id, source).
    pub fn data_channels(&self, of: u32) -> Vec<(u32, DataSource)> {
        self.data_channels_all()
            .into_iter()
            .filter(|d| d.1 == of)
            .map(|d| (d.0, d.2))
            .collect()
    }

    fn data_channels_all(&self) -> Vec<(u32, u32, DataSource)> {
        self.events
            .iter()
            .filter_map(|e| match e.kind {
                EventKind::DataChannel { of, source } => Some((e.conn, of, source)),
                _ => None,
            })
            .collect()
    }

    /// Descriptors the client passed on connection `conn`, in order: (after which byte of its
    /// stream, how many, whether more were cut off).
    pub fn descriptors(&self, conn: u32) -> Vec<(usize, usize, bool)> {
        self.events
            .iter()
            .filter_map(|e| match e.kind {
                EventKind::Descriptors { count, after, cut } if e.conn == conn => {
                    Some((after, count, cut))
                }
                _ => None,
            })
            .collect()
    }

    /// How a connection was set up, when it is not a plain control connection.
    pub fn upstream_error(&self, conn: u32) -> Option<&str> {
        self.events.iter().find_map(|e| match &e.kind {
            EventKind::Open {
                upstream_error: Some(err),
            } if e.conn == conn => Some(err.as_str()),
            _ => None,
        })
    }

    /// All bytes one side sent on one connection (truncated runs are left out).
    pub fn bytes(&self, conn: u32, dir: Dir) -> Vec<u8> {
        let mut out = Vec::new();
        for e in &self.events {
            if let (true, EventKind::Data { dir: d, bytes, .. }) = (e.conn == conn, &e.kind) {
                if *d == dir {
                    out.extend_from_slice(bytes);
                }
            }
        }
        out
    }

    /// Byte runs of one connection with their arrival times, for timing checks.
    pub fn runs(&self, conn: u32, dir: Dir) -> Vec<(Duration, &[u8])> {
        self.events
            .iter()
            .filter(|e| e.conn == conn)
            .filter_map(|e| match &e.kind {
                EventKind::Data { dir: d, bytes, .. } if *d == dir => {
                    Some((e.at, bytes.as_slice()))
                }
                _ => None,
            })
            .collect()
    }

    /// When one side ended its direction (FIN or error), if it did.
    pub fn end_of(&self, conn: u32, dir: Dir) -> Option<Duration> {
        self.events.iter().find_map(|e| match &e.kind {
            EventKind::Eof { dir: d } | EventKind::Error { dir: d, .. }
                if e.conn == conn && *d == dir =>
            {
                Some(e.at)
            }
            _ => None,
        })
    }

    /// Whether the recorder dropped bytes of this connection (memory cap).
    pub fn truncated(&self, conn: u32) -> bool {
        self.events.iter().any(|e| {
            e.conn == conn
                && matches!(
                    e.kind,
                    EventKind::Data {
                        truncated: true,
                        ..
                    }
                )
        })
    }

    /// Timestamped raw log (for reports): one line per event, consecutive byte runs of the
    /// same connection and direction merged, long runs shortened.
    pub fn raw_log(&self, max_run: usize) -> String {
        self.raw_log_with(&mut |_, _, _, bytes| shorten(bytes, max_run))
    }

    /// [`Transcript::raw_log`] with each merged byte run shown by `show(conn, dir, offset,
    /// bytes)`, where `offset` is where the run starts in that direction of the connection
    /// (counting bytes not kept).
    pub fn raw_log_with(&self, show: &mut ShowRun<'_>) -> String {
        let mut offsets: std::collections::HashMap<(u32, Dir), usize> = Default::default();
        let mut s = String::new();
        let mut i = 0;
        while i < self.events.len() {
            let e = &self.events[i];
            let t = e.at.as_secs_f64() * 1000.0;
            match &e.kind {
                EventKind::Open { upstream_error } => {
                    s.push_str(&format!("[{t:9.3} ms] #{} open", e.conn));
                    if let Some(err) = upstream_error {
                        s.push_str(&format!(" (upstream: {err})"));
                    }
                }
                EventKind::Data { dir, .. } => {
                    let mut bytes = Vec::new();
                    let mut lost = 0usize;
                    let mut j = i;
                    while let Some(Event {
                        conn,
                        kind:
                            EventKind::Data {
                                dir: d,
                                bytes: b,
                                len,
                                truncated,
                            },
                        ..
                    }) = self.events.get(j)
                    {
                        if *conn != e.conn || d != dir {
                            break;
                        }
                        if *truncated {
                            lost += len;
                        } else {
                            bytes.extend_from_slice(b);
                        }
                        j += 1;
                    }
                    let offset = offsets.entry((e.conn, *dir)).or_default();
                    let shown = show(e.conn, *dir, *offset, &bytes);
                    *offset += bytes.len() + lost;
                    s.push_str(&format!("[{t:9.3} ms] #{} {}: {shown}", e.conn, dir.tag()));
                    if lost > 0 {
                        s.push_str(&format!(" <+{lost} bytes not kept>"));
                    }
                    s.push('\n');
                    i = j;
                    continue;
                }
                EventKind::Eof { dir } => {
                    s.push_str(&format!("[{t:9.3} ms] #{} {}: <EOF>", e.conn, dir.tag()))
                }
                EventKind::Error { dir, message } => s.push_str(&format!(
                    "[{t:9.3} ms] #{} {}: <error {message}>",
                    e.conn,
                    dir.tag()
                )),
                EventKind::DataChannel { of, source } => s.push_str(&format!(
                    "[{t:9.3} ms] #{} data channel of #{of} ({})",
                    e.conn,
                    source.command()
                )),
                EventKind::Descriptors { count, cut, .. } => s.push_str(&format!(
                    "[{t:9.3} ms] #{} C: {}",
                    e.conn,
                    descriptors_text(*count, *cut)
                )),
            }
            s.push('\n');
            i += 1;
        }
        s
    }
}

/// Escaped bytes, with the middle of long runs replaced by a byte count.
pub fn shorten(bytes: &[u8], max: usize) -> String {
    if bytes.len() <= max {
        return escape(bytes);
    }
    let head = max * 2 / 3;
    let tail = max - head;
    format!(
        "{}…<{} bytes>…{}",
        escape(&bytes[..head]),
        bytes.len() - head - tail,
        escape(&bytes[bytes.len() - tail..])
    )
}
