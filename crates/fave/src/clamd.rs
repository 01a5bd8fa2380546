//! clamd engine: one IDSESSION per connection, several INSTREAM scans per session, replies
//! matched by number, END before closing (FAVE-3/4, CLAMD-CLIENT-1..4, CLAMD-CLIENT-9).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use clamd_proto::client::{self as wire, ReplyBody, ReplySplitter, Subject};
use clamd_proto::{reply as texts, Command};

use crate::config::{ClientConfig, Framing};
use crate::error::{FaveError, LimitOrigin};
use crate::trace::{Dir, Tracer};
use crate::transport::{Conn, Deadline, Stream};
use crate::verdict::Verdict;

fn proto_framing(f: Framing) -> clamd_proto::Framing {
    match f {
        Framing::Z => clamd_proto::Framing::Z,
        Framing::N => clamd_proto::Framing::N,
    }
}

/// Encode a command without argument (cannot fail for these).
fn command(f: Framing, cmd: &Command) -> Vec<u8> {
    wire::encode_command(proto_framing(f), cmd).unwrap_or_default()
}

/// The 4-byte big-endian chunk header (CLAMD-INSTREAM-1).
pub(crate) fn chunk_header(len: usize) -> [u8; 4] {
    wire::chunk_header(len as u32)
}

/// How long we keep trying to read a pending reply after a write failed (CLAMD-CLIENT-4:
/// try to read it, but never hang).
const PENDING_REPLY_GRACE: Duration = Duration::from_secs(2);

pub(crate) struct ClamdSession {
    pub(crate) conn: Conn,
    framing: Framing,
    splitter: ReplySplitter,
    /// Replies that arrived for other commands of this session (pipelined mode), by number.
    stash: HashMap<u64, (Option<Subject>, ReplyBody)>,
    /// Number of the last command sent in this session (CLAMD-SESSION-3: numbered from 1).
    last_id: u64,
    last_used: Instant,
    /// A protocol-level failure happened; the session must not be reused.
    pub(crate) broken: bool,
}

impl ClamdSession {
    /// Connect and send `IDSESSION` (no reply expected, CLAMD-SESSION-1).
    pub(crate) fn open(
        cfg: &ClientConfig,
        tracer: Tracer,
        dl: &Deadline,
    ) -> Result<ClamdSession, FaveError> {
        let stream = Stream::connect(&cfg.address, &cfg.timeouts, dl)?;
        let mut conn = Conn::new(stream, cfg.timeouts.io, tracer);
        // CLAMD-SESSION-1: `zIDSESSION\0` / `nIDSESSION\n`.
        conn.send(&command(cfg.framing, &Command::IdSession), dl, None)?;
        Ok(ClamdSession {
            conn,
            framing: cfg.framing,
            splitter: ReplySplitter::new(proto_framing(cfg.framing)),
            stash: HashMap::new(),
            last_id: 0,
            last_used: Instant::now(),
            broken: false,
        })
    }

    /// Whether this session can carry another scan: not broken, not idle for too long, and the
    /// daemon has not sent anything unsolicited (a timeout reply or EOF).
    pub(crate) fn reusable(&mut self, idle_max: Duration) -> bool {
        if self.broken || self.last_used.elapsed() > idle_max {
            return false;
        }
        // Any unsolicited byte or EOF means the session is over (CLAMD-SESSION-8).
        !self.conn.poll_early()
    }

    /// Send `INSTREAM` and return its command number.
    pub(crate) fn start_instream(&mut self, dl: &Deadline) -> Result<u64, FaveError> {
        self.last_id += 1;
        let id = self.last_id;
        // CLAMD-INSTREAM-1: `zINSTREAM\0` (never legacy, CLAMD-CLIENT-1).
        let r = self
            .conn
            .send(&command(self.framing, &Command::Instream), dl, None);
        if r.is_err() {
            self.broken = true;
        }
        r.map(|_| id)
    }

    /// Send one framed chunk (`header` already in `frame[..4]`). On a write error, try to read
    /// the pending reply (CLAMD-CLIENT-4) and report it; never hang.
    pub(crate) fn send_frame(
        &mut self,
        id: u64,
        frame: &[u8],
        dl: &Deadline,
    ) -> Result<(), FaveError> {
        let label = format!(
            "[chunk header {} + {} bytes]",
            crate::trace::escape(&frame[..4]),
            frame.len() - 4
        );
        if let Err(e) = self.conn.send(frame, dl, Some(&label)) {
            self.broken = true;
            return Err(self.pending_reply_after_write_error(id, e));
        }
        // The size-limit reply comes while we are still sending (CLAMD-INSTREAM-5): notice it
        // between chunks without blocking. Replies to earlier (pipelined) commands are stashed.
        if self.conn.poll_early() {
            self.take_ready(id)?;
            if self.conn.eof {
                self.broken = true;
                return Err(FaveError::ConnectionLost(
                    "daemon closed the connection during the upload".into(),
                ));
            }
        }
        Ok(())
    }

    /// Process complete buffered records without blocking: replies for other commands are
    /// stashed; one for `current` (or an unnumbered one) before its stream ended is an error.
    fn take_ready(&mut self, current: u64) -> Result<(), FaveError> {
        loop {
            let rec = self.next_record()?;
            let Some(rec) = rec else { return Ok(()) };
            let reply = wire::parse_reply(&rec, true);
            match reply.session_id {
                Some(n) if n == current => {
                    self.broken = true;
                    return Err(reply_error(reply.body));
                }
                Some(n) => self.stash_reply(n, reply.subject, reply.body),
                None => {
                    self.broken = true;
                    return Err(reply_error(reply.body));
                }
            }
        }
    }

    /// The next complete reply record of what was read so far, if any; a malformed record
    /// breaks the session.
    fn next_record(&mut self) -> Result<Option<Vec<u8>>, FaveError> {
        self.move_to_splitter();
        self.splitter.next_record().map_err(|e| {
            self.broken = true;
            FaveError::Protocol(e.to_string())
        })
    }

    fn move_to_splitter(&mut self) {
        let n = self.conn.buffer().len();
        if n > 0 {
            self.splitter.push(self.conn.buffer());
            self.conn.consume(n);
        }
    }

    fn stash_reply(&mut self, n: u64, subject: Option<Subject>, body: ReplyBody) {
        if n == 0 || n > self.last_id || self.stash.contains_key(&n) {
            tracing::warn!(got = n, "clamd reply with an unexpected number ignored");
        } else {
            self.stash.insert(n, (subject, body));
        }
    }

    /// Send the terminator without waiting for the reply (pipelined mode).
    pub(crate) fn send_terminator(&mut self, dl: &Deadline) -> Result<(), FaveError> {
        self.conn
            .send(&wire::STREAM_TERMINATOR, dl, None)
            .inspect_err(|_| self.broken = true)
    }

    /// Pipelined mode: `END`, then read every reply until EOF and match them by number
    /// (CLAMD-SESSION-4: any order). Commands without a reply are left out of the map.
    pub(crate) fn end_and_collect(mut self, ids: &[u64], dl: &Deadline) -> HashMap<u64, Verdict> {
        let mut out = HashMap::new();
        let mut failure: Option<FaveError> = None;
        if !self.broken {
            if let Err(e) = self
                .conn
                .send(&command(self.framing, &Command::End), dl, None)
            {
                failure = Some(e);
            }
        }
        loop {
            self.move_to_splitter();
            match self.splitter.next_record() {
                Ok(Some(rec)) => {
                    let reply = wire::parse_reply(&rec, true);
                    match reply.session_id {
                        Some(n) => self.stash_reply(n, reply.subject, reply.body),
                        None => {
                            failure = Some(reply_error(reply.body));
                            break;
                        }
                    }
                    continue;
                }
                Ok(None) => {}
                Err(e) => {
                    failure = Some(FaveError::Protocol(e.to_string()));
                    break;
                }
            }
            if self.conn.eof {
                if self.splitter.finish().is_err() {
                    failure = Some(FaveError::ConnectionLost("EOF inside a reply".into()));
                }
                break;
            }
            if let Err(e) = self.conn.fill(dl) {
                failure = Some(e);
                break;
            }
        }
        if let Some(e) = failure {
            tracing::debug!(error = %e, "pipelined session ended with an error");
        }
        for &id in ids {
            if let Some((subject, body)) = self.stash.remove(&id) {
                out.insert(id, verdict_of(subject, body));
            }
        }
        out
    }

    fn pending_reply_after_write_error(&mut self, id: u64, write_err: FaveError) -> FaveError {
        self.conn.tracer.note(
            Dir::Sent,
            &format!("<write failed: {write_err}; reading pending reply>"),
        );
        let grace = Deadline::after(PENDING_REPLY_GRACE);
        match self.read_reply(id, &grace) {
            Ok((_, body)) => reply_error(body),
            // No readable reply: report the write error (error, not clean, not infected).
            Err(_) => write_err,
        }
    }

    /// Send the zero-length terminator and wait for the reply numbered `id`.
    pub(crate) fn finish(&mut self, id: u64, dl: &Deadline) -> Verdict {
        // CLAMD-INSTREAM-1: `\0\0\0\0` ends the stream.
        if let Err(e) = self.conn.send(&wire::STREAM_TERMINATOR, dl, None) {
            self.broken = true;
            return Verdict::Error(self.pending_reply_after_write_error(id, e));
        }
        let v = match self.read_reply(id, dl) {
            Ok((subject, body)) => {
                // A per-file scan error (`<id>: stream: <text> ERROR`) leaves the session open
                // (CLAMD-INSTREAM-3, CLAMD-REPLY-4): the scan failed, but END is still owed
                // (CLAMD-CLIENT-9). Any other error reply is one after which clamd closes
                // (CLAMD-REPLY-2 "close"), or one we cannot trust: the session is over.
                let per_file_error = matches!(
                    (&subject, &body),
                    (Some(Subject::Stream), ReplyBody::Error(_))
                );
                let v = verdict_of(subject, body);
                if v.error().is_some() && !per_file_error {
                    self.broken = true;
                }
                v
            }
            Err(e) => {
                self.broken = true;
                Verdict::Error(e)
            }
        };
        self.last_used = Instant::now();
        v
    }

    /// Read records until the one numbered `id` arrives. Records for other numbers are logged
    /// and skipped (CLAMD-SESSION-4: replies may come out of order). An unnumbered record is a
    /// session-level failure (timeout reply, or a reply the daemon sent outside the session).
    fn read_reply(
        &mut self,
        id: u64,
        dl: &Deadline,
    ) -> Result<(Option<Subject>, ReplyBody), FaveError> {
        if let Some(r) = self.stash.remove(&id) {
            return Ok(r);
        }
        loop {
            let rec = self.next_record()?;
            if let Some(rec) = rec {
                let reply = wire::parse_reply(&rec, true);
                match reply.session_id {
                    Some(n) if n == id => return Ok((reply.subject, reply.body)),
                    Some(n) => {
                        self.stash_reply(n, reply.subject, reply.body);
                        continue;
                    }
                    None => {
                        // Unnumbered (`COMMAND READ TIMED OUT`, or a reply outside a session):
                        // the session is over and this command failed (fail closed).
                        self.broken = true;
                        return Err(reply_error(reply.body));
                    }
                }
            }
            if self.conn.eof {
                self.broken = true;
                // CLAMD-CLIENT-3: EOF with no reply, or in the middle of one.
                return Err(FaveError::ConnectionLost(match self.splitter.finish() {
                    Ok(()) => "EOF before the reply".into(),
                    Err(_) => format!(
                        "EOF inside a reply (truncated: {:?})",
                        String::from_utf8_lossy(self.splitter.pending())
                    ),
                }));
            }
            self.conn.fill(dl)?;
        }
    }

    /// `END` then read until EOF (CLAMD-SESSION-7, CLAMD-CLIENT-9), bounded by `timeout`.
    pub(crate) fn end(mut self, timeout: Duration) {
        if self.broken {
            return;
        }
        let dl = Deadline::after(timeout);
        if self
            .conn
            .send(&command(self.framing, &Command::End), &dl, None)
            .is_err()
        {
            return;
        }
        while !self.conn.eof {
            if self.conn.fill(&dl).is_err() {
                break;
            }
            if self.conn.buffer().len() > 4096 {
                let n = self.conn.buffer().len();
                self.conn.consume(n);
            }
        }
    }
}

/// The verdict of an INSTREAM reply (CLAMD-INSTREAM-3): only `stream: OK` is clean.
fn verdict_of(subject: Option<Subject>, body: ReplyBody) -> Verdict {
    match (subject, body) {
        (Some(Subject::Stream), ReplyBody::Ok) => Verdict::Clean,
        (Some(Subject::Stream), ReplyBody::Found(name)) if !name.is_empty() => {
            Verdict::Infected(vec![name])
        }
        (_, other @ (ReplyBody::Ok | ReplyBody::Found(_))) => Verdict::Error(FaveError::Protocol(
            format!("verdict for a subject other than `stream`: {other:?}"),
        )),
        (_, other) => Verdict::Error(reply_error(other)),
    }
}

/// A reply that is not a verdict, as an error.
fn reply_error(body: ReplyBody) -> FaveError {
    match body {
        // CLAMD-INSTREAM-5 / CLAMD-CLIENT-4: a distinct too-large error.
        ReplyBody::Error(m) if m == texts::INSTREAM_SIZE_LIMIT_EXCEEDED => FaveError::TooLarge {
            origin: LimitOrigin::Server,
            limit: None,
            detail: m,
        },
        // CLAMD-TIME-3.
        ReplyBody::TimedOut => FaveError::DaemonTimeout(
            String::from_utf8_lossy(texts::COMMAND_READ_TIMED_OUT)
                .trim_end()
                .to_string(),
        ),
        ReplyBody::Error(m) => FaveError::Daemon(m),
        // CLAMD-CLIENT-5: no ERROR suffix, still an error.
        ReplyBody::UnknownCommand => FaveError::Daemon(texts::UNKNOWN_COMMAND.into()),
        ReplyBody::Ok => FaveError::Protocol("`OK` arrived before the stream was complete".into()),
        ReplyBody::Found(n) => FaveError::Protocol(format!(
            "verdict `{n} FOUND` arrived before the stream was complete"
        )),
        ReplyBody::Other(t) => FaveError::Protocol(format!(
            "unexpected reply `{}`",
            String::from_utf8_lossy(&t)
        )),
        other => FaveError::Protocol(format!("unexpected reply {other:?}")),
    }
}
