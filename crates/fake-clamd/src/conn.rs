//! One client connection: moves bytes between the socket and the clamd-proto state
//! machines, applies sessions (section 10), timeouts (section 11) and the INSTREAM limit
//! modes (CLAMD-INSTREAM-8).

use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::FileExt;
use std::sync::Arc;
use std::time::Duration;

use clamd_proto::reply::{self, ReplyCtx, StatsInfo, Subject};
use clamd_proto::{
    Command, CommandDecoder, Framing, InstreamDecoder, InstreamEvent, Request, COMMAND_BUFFER_SIZE,
};
use tokio::sync::watch;
use tokio::time::Instant;

use faults::{Action, ConnFaults, Event as FaultEvent, ForcedReply, LimitMode, ReplyText};

use crate::config::{SessionOrder, StreamLimitMode};
use crate::record::RecordedCommand;
use crate::scan::{self, ScanCtx, ScanMode, Verdict};
use crate::shared::Shared;
use crate::transport::Conn;
use faults::record::Dir;

/// What to do with the connection after a command.
enum Flow {
    Continue,
    /// Close normally (FIN, or RST if unread input is pending: CLAMD-TRANS-5).
    Close,
    /// Drop without anything more.
    Abort,
}

/// Outcome of executing one command.
enum Exec {
    /// Reply records; the connection (or session) may go on.
    Reply(Vec<u8>),
    /// Reply, then close (also ends a session).
    Fatal(Vec<u8>),
    /// CLAMD-INSTREAM-5 reply; closing depends on the limit mode.
    LimitExceeded(Vec<u8>),
    /// Close without reply.
    Abort,
    /// An injected fault fired mid-command (faults crate).
    Fault(Action),
}

/// How an injected fault wants the connection closed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum FaultClose {
    /// Half-close, discard queued input, close: the client sees FIN.
    Fin,
    /// RST (`SO_LINGER {1, 0}`).
    Rst,
}

enum ReadOutcome {
    Data(usize),
    Eof,
    Timeout,
    Gone,
}

struct Session {
    next_id: u64,
    last_term: u8,
    deferred: Vec<Vec<u8>>,
}

/// Most reply bytes held for one write (a read of commands yields far fewer).
const OUT_HELD_MAX: usize = 64 * 1024;

/// Read size while an INSTREAM body is flowing (commands are read at most
/// `COMMAND_BUFFER_SIZE` at a time, as clamd does).
const STREAM_READ_SIZE: usize = 128 * 1024;

/// Lingering close: after the FIN, input is absorbed until it pauses this long...
const LINGER_IDLE: Duration = Duration::from_millis(20);
/// ...or for at most this long.
const LINGER_MAX: Duration = Duration::from_millis(250);
/// Longest hold of a connection after bytes that followed END (clamd holds it forever).
const HOLD_AFTER_END_MAX: Duration = Duration::from_secs(600);

pub(crate) struct Connection {
    shared: Arc<Shared>,
    conn: Conn,
    /// The peer, when it has an address (for [`Shared::streams_read`]).
    peer: Option<crate::Peer>,
    id: u64,
    dec: CommandDecoder,
    /// Read buffer; allocated on the first readable event, so an idle connection costs no
    /// buffer memory.
    buf: Vec<u8>,
    /// Bytes already read from the socket that the command buffer could not take yet (what
    /// followed an INSTREAM terminator in a large read). They are fed to the decoder before
    /// the socket is read again, at most its free space at a time, as if still in the socket.
    pending: bytes::BytesMut,
    deadline: Option<Instant>,
    /// The descriptor passed and not yet claimed by a FILDES: one slot, as clamd's (a newer
    /// one replaces it and the older is closed: "Unclaimed file descriptor received"), so a
    /// peer cannot fill the daemon's descriptor table.
    fd: Option<OwnedFd>,
    session: Option<Session>,
    stop: watch::Receiver<bool>,
    faults: ConnFaults,
    fault_close: Option<FaultClose>,
    /// Replies written on this connection (the `replies = N` fault point).
    replies: u64,
    /// Replies not written yet: while more requests of the same read wait, their replies
    /// are joined and go out in one write (see [`Connection::send`]).
    out: Vec<u8>,
}

impl Connection {
    pub(crate) fn new(shared: Arc<Shared>, conn: Conn, id: u64) -> Self {
        let stop = shared.shutdown.subscribe();
        let faults = shared.faults.connect();
        Connection {
            faults,
            fault_close: None,
            replies: 0,
            out: Vec::new(),
            shared,
            peer: conn.peer(),
            conn,
            id,
            dec: CommandDecoder::new(),
            buf: Vec::new(),
            pending: bytes::BytesMut::new(),
            deadline: None,
            fd: None,
            session: None,
            stop,
        }
    }

    fn deadline_after(&self, t: Duration) -> Option<Instant> {
        // CLAMD-TIME-4 [F]: fire at T + slack; 0 = no timeout
        (!t.is_zero()).then(|| Instant::now() + t + self.shared.config.fake.timeout_slack)
    }

    fn record(&self, dir: Dir, bytes: &[u8]) {
        if let Some(r) = &self.shared.recorder {
            r.event(self.id, dir, bytes);
        }
    }

    pub(crate) async fn run(mut self) {
        if let Some(r) = &self.shared.recorder {
            r.open(self.id, self.conn.kind().as_str());
        }
        // injected faults at accept: refuse (and clamd has no DENIED greeting: same), or a
        // daemon that reads nothing at all (stop-reading before the first byte)
        match self.faults.event(FaultEvent::Connect) {
            Some(Action::Refuse | Action::Denied) => {
                self.conn.set_reset_on_close();
                self.record(Dir::Closed, &[]);
                if let Some(peer) = &self.peer {
                    self.shared.streams_read.refused(peer);
                }
                return;
            }
            Some(Action::StopReading(hold)) => {
                self.stall(hold).await;
                self.conn.set_reset_on_close();
                self.record(Dir::Closed, &[]);
                return;
            }
            _ => {}
        }
        // CLAMD-TIME-1: from accept, the first command must complete in CommandReadTimeout
        self.deadline = self.deadline_after(self.shared.config.command_read_timeout);
        let flow = self.serve().await;
        // what was joined for one write goes out before any close
        self.flush_out().await;
        match self.fault_close {
            Some(FaultClose::Fin) => {
                self.conn.shutdown_write().await;
                self.conn.drain_queued(8 << 20);
            }
            Some(FaultClose::Rst) => self.conn.set_reset_on_close(),
            None => {}
        }
        if let (Flow::Close, None) = (flow, self.fault_close) {
            // observed on clamd 1.4.6: input the client is still sending at close time is
            // consumed, so the client sees FIN (e.g. after an over-long legacy line), not RST.
            // FIN first (the client's read ends now), then absorb what is still in flight.
            self.pending.clear();
            self.conn.shutdown_write().await;
            self.drain_idle(LINGER_IDLE, LINGER_MAX, 8 << 20).await;
        }
        self.record(Dir::Closed, &[]);
        // dropping the socket closes it (RST if unread input is pending: CLAMD-TRANS-5)
    }

    /// Sends one reply. Without fault rules, a reply is held while more requests of the same
    /// read are waiting and goes out with theirs in one write: the byte stream and its order
    /// are as with one write per reply, the replies are just not cut into segments one by
    /// one. Held replies are written before anything that waits (a socket read, a scan, a
    /// close), so no reply waits for the client or for other work.
    async fn send(&mut self, bytes: &[u8]) -> bool {
        self.send_reply(bytes, false).await
    }

    /// [`Connection::send`], told whether the caller has more replies to send right after
    /// this one (then it is held as when requests follow).
    async fn send_reply(&mut self, bytes: &[u8], more: bool) -> bool {
        if bytes.is_empty() {
            return true;
        }
        if self.fault_close.is_some() {
            return false;
        }
        let limit = self.shared.config.send_buf_timeout;
        if self.faults.plan_is_empty() {
            // no rule: no reply fault point to stop at
            self.record(Dir::Sent, bytes);
            self.faults.bytes_out(bytes.len());
            self.replies += 1;
            self.out.extend_from_slice(bytes);
            if (more || self.input_follows()) && self.out.len() < OUT_HELD_MAX {
                return true;
            }
            return self.flush_out().await;
        }
        if !self.flush_out().await {
            return false;
        }
        if !self.faults.shapes_writes() {
            self.record(Dir::Sent, bytes);
            self.faults.bytes_out(bytes.len());
            if self.conn.send(bytes, limit).await.is_err() {
                return false;
            }
            return self.reply_written().await;
        }
        // injected: delay, split, garbage, truncate
        let plan = self.faults.write_plan(bytes);
        for piece in plan.pieces {
            if !piece.delay.is_zero() {
                tokio::select! {
                    _ = tokio::time::sleep(piece.delay) => {}
                    _ = self.stop.wait_for(|v| *v) => return false,
                }
            }
            self.record(Dir::Sent, &piece.bytes);
            self.faults.bytes_out(piece.bytes.len());
            if self.conn.send(&piece.bytes, limit).await.is_err() {
                return false;
            }
        }
        if plan.close_after {
            self.fault_close = Some(FaultClose::Fin);
            return false;
        }
        self.reply_written().await
    }

    /// Writes the replies held by [`Connection::send`], in one write. False if the client is
    /// gone.
    async fn flush_out(&mut self) -> bool {
        if self.out.is_empty() {
            return true;
        }
        let out = std::mem::take(&mut self.out);
        let ok = self
            .conn
            .send(&out, self.shared.config.send_buf_timeout)
            .await
            .is_ok();
        // keep the allocation for the next batch
        self.out = out;
        self.out.clear();
        ok
    }

    /// The `replies = N` fault point: one more reply went out whole. False when a fault
    /// ends the connection here (FIN, RST, silence, or clamd's timeout line).
    async fn reply_written(&mut self) -> bool {
        self.replies += 1;
        let Some(a) = self.faults.event(FaultEvent::Reply { n: self.replies }) else {
            return true;
        };
        tracing::debug!(
            conn = self.id,
            ?a,
            replies = self.replies,
            "injected fault after a reply"
        );
        match a {
            Action::Drop => self.fault_close = Some(FaultClose::Fin),
            Action::Reset | Action::Refuse | Action::Denied => {
                self.fault_close = Some(FaultClose::Rst)
            }
            Action::NeverReply => self.never_reply().await,
            Action::StopReading(hold) => {
                self.stall(hold).await;
            }
            Action::Timeout => {
                let r = reply::timed_out();
                self.record(Dir::Sent, &r);
                self.faults.bytes_out(r.len());
                let _ = self
                    .conn
                    .send(&r, self.shared.config.send_buf_timeout)
                    .await;
                self.fault_close = Some(FaultClose::Fin);
            }
            // answers to a scan request: nothing to answer after a written reply
            Action::StreamLimit(_) | Action::Reply(_) => return true,
        }
        false
    }

    async fn read_once(&mut self, max: usize) -> ReadOutcome {
        let mut buf = std::mem::take(&mut self.buf);
        let out = self.read_into(&mut buf, max).await;
        self.buf = buf;
        out
    }

    /// One socket read of at most `max` bytes into `buf` (grown to `max` once the socket is
    /// readable), bounded by the deadline; records the bytes and any descriptors.
    async fn read_into(&mut self, buf: &mut Vec<u8>, max: usize) -> ReadOutcome {
        // no held reply waits for the client's next bytes
        if !self.flush_out().await {
            return ReadOutcome::Gone;
        }
        // injected: slow reads, read delays
        let rp = self.faults.read_plan();
        let max = rp.max.map_or(max, |m| m.min(max)).max(1);
        if !rp.delay.is_zero() {
            tokio::select! {
                _ = tokio::time::sleep(rp.delay) => {}
                _ = self.stop.wait_for(|v| *v) => return ReadOutcome::Gone,
            }
        }
        let deadline = self.deadline;
        let conn = &mut self.conn;
        let read = async {
            if buf.len() < max {
                // allocate only once there is something to read (idle connections stay small)
                if buf.is_empty() {
                    conn.wait_input().await?;
                }
                buf.resize(max, 0);
            }
            conn.recv(&mut buf[..max]).await
        };
        let timed = async {
            match deadline {
                Some(d) => tokio::time::timeout_at(d, read).await.ok(),
                None => Some(read.await),
            }
        };
        let res = tokio::select! {
            r = timed => r,
            _ = self.stop.wait_for(|v| *v) => return ReadOutcome::Gone,
        };
        match res {
            None => ReadOutcome::Timeout,
            Some(Ok((0, _))) => ReadOutcome::Eof,
            Some(Ok((n, fds))) => {
                match self.faults.bytes_in(n) {
                    Some(Action::Drop) => {
                        // injected: drop after N bytes
                        self.fault_close = Some(FaultClose::Fin);
                        return ReadOutcome::Gone;
                    }
                    Some(Action::StopReading(hold)) => {
                        // injected: these bytes arrived, then the daemon reads no more
                        self.record(Dir::Recv, &buf[..n]);
                        self.stall(hold).await;
                        return ReadOutcome::Gone;
                    }
                    _ => {}
                }
                self.record(Dir::Recv, &buf[..n]);
                for _ in &fds {
                    self.record(Dir::Fd, &[]);
                }
                if let Some(last) = fds.into_iter().last() {
                    self.fd = Some(last);
                }
                ReadOutcome::Data(n)
            }
            Some(Err(_)) => ReadOutcome::Gone,
        }
    }

    async fn serve(&mut self) -> Flow {
        loop {
            while let Some(req) = {
                self.dec.set_in_session(self.session.is_some());
                self.dec.next_request()
            } {
                // Boxed: the state of a command in progress (scans, INSTREAM) is large and an
                // idle connection, waiting in the read below, should not carry it.
                match Box::pin(self.handle(req)).await {
                    Flow::Continue => {}
                    other => return other,
                }
            }
            if !self.pending.is_empty() {
                // bytes read earlier that did not fit the command buffer: the next "read"
                if !self.flush_batch().await {
                    return Flow::Abort;
                }
                let n = self.dec.free_space().max(1).min(self.pending.len());
                let piece = self.pending.split_to(n);
                if self.dec.feed(&piece).is_err() {
                    // CLAMD-FRAME-9 (see below)
                    self.pending.clear();
                    self.drain(Duration::from_millis(50), 4 << 20).await;
                    return Flow::Close;
                }
                continue;
            }
            // CLAMD-FILDES-4 (observed on clamd 1.4.6): a descriptor still unclaimed once the
            // requests its read completed were handled is refused inside a session, and also
            // outside one when bytes of a request wait in the buffer (a command cut short, or
            // FILDES without its extra byte, which adds `Error processing command`):
            // `PROTOCOL ERROR: ancillary data sent without FILDES`, then close. A descriptor
            // must come with the FILDES request's last bytes.
            if self.fd.is_some() && (self.session.is_some() || !self.dec.buffered().is_empty()) {
                let ctx = match &self.session {
                    Some(s) => ReplyCtx {
                        // the number the next command would get
                        session_id: Some(s.next_id),
                        term: s.last_term,
                    },
                    // nothing parsed yet on this connection: clamd's default terminator
                    None => ReplyCtx::new(Framing::Z),
                };
                self.fd = None;
                let mut r = reply::ancillary_without_fildes(ctx);
                if self.dec.awaits_fildes_byte() {
                    r.extend_from_slice(&reply::error_processing_command(ctx));
                }
                self.send(&r).await;
                return Flow::Close;
            }
            // clamd order: the scan replies of this read follow its immediate replies
            if !self.flush_batch().await {
                return Flow::Abort;
            }
            let space = self.dec.free_space().max(1);
            match self.read_once(space).await {
                ReadOutcome::Data(n) => {
                    let (dec, buf) = (&mut self.dec, &self.buf);
                    if dec.feed(&buf[..n]).is_err() {
                        // CLAMD-FRAME-9: over-long command => close, no reply. Observed on
                        // clamd 1.4.6: the client sees a clean EOF, so discard what is
                        // already queued before closing.
                        self.drain(Duration::from_millis(50), 4 << 20).await;
                        return Flow::Close;
                    }
                }
                // CLAMD-CONN-4 / CLAMD-SESSION-8: EOF before a complete command => no reply.
                // The daemon read the client's end before its own: every stream before it was
                // read whole, and the client closed first (the harness's snapshots say so
                // from this account, not from the order a proxy happened to see).
                ReadOutcome::Eof => {
                    if let Some(peer) = &self.peer {
                        self.shared.streams_read.read_to_end(peer);
                    }
                    return Flow::Abort;
                }
                ReadOutcome::Gone => return Flow::Abort,
                ReadOutcome::Timeout => {
                    // CLAMD-TIME-1/2/3
                    self.send(&reply::timed_out()).await;
                    return Flow::Close;
                }
            }
        }
    }

    /// `--session-order clamd`: sends the scan replies held for the read just processed
    /// (clamd's workers answer after its reading thread has answered PING/VERSION/STATS of
    /// the same read, CLAMD-SESSION-4). False if the client is gone.
    async fn flush_batch(&mut self) -> bool {
        if self.shared.config.fake.session_order != SessionOrder::Clamd {
            return true;
        }
        let batch = match self.session.as_mut() {
            Some(s) if !s.deferred.is_empty() => std::mem::take(&mut s.deferred),
            _ => return true,
        };
        self.send_all(batch).await
    }

    /// Sends `replies` in order (joined into one write where no fault rule is installed).
    async fn send_all(&mut self, replies: Vec<Vec<u8>>) -> bool {
        let last = replies.len().saturating_sub(1);
        for (i, r) in replies.into_iter().enumerate() {
            if !self.send_reply(&r, i < last).await {
                return false;
            }
        }
        true
    }

    /// Whether input follows the current command in what was already read.
    fn input_follows(&self) -> bool {
        !self.dec.buffered().is_empty() || !self.pending.is_empty()
    }

    /// Observed on clamd 1.4.6 (CLAMD-SESSION-7): bytes after END in the read that carried it,
    /// while scans of the session are still pending, get `<k>: Error processing command.
    /// ERROR<t>` (k and t of the END); the pending scan replies are lost and clamd never
    /// closes the connection. The fake holds it open, discarding input, until the client
    /// closes or ReadTimeout passes (a bounded stand-in for clamd's leak; MISMATCHES.md).
    async fn bytes_after_end(&mut self, ctx: ReplyCtx) -> Flow {
        self.dec.take_buffered();
        self.pending.clear();
        if !self.send(&reply::error_processing_command(ctx)).await {
            return Flow::Abort;
        }
        let hold = match self.shared.config.read_timeout {
            t if t.is_zero() => HOLD_AFTER_END_MAX,
            t => t.min(HOLD_AFTER_END_MAX),
        };
        self.drain(hold, 64 << 20).await;
        Flow::Close
    }

    fn record_cmd(&self, session_id: Option<u64>, req: &Request) {
        if let Some(r) = &self.shared.recorder {
            r.command(
                self.id,
                RecordedCommand {
                    conn: self.id,
                    session_id,
                    framing: req.framing,
                    command: req.command.clone(),
                },
            );
        }
    }

    async fn handle(&mut self, req: Request) -> Flow {
        let term = req.terminator();
        if let Some(flow) = self.command_faults(&req).await {
            return flow;
        }
        let Some(session) = self.session.as_mut() else {
            return self.handle_single(req).await;
        };
        // CLAMD-SESSION-3: commands after IDSESSION are numbered 1, 2, 3, ...
        let id = session.next_id;
        session.next_id += 1;
        let last_term = session.last_term;
        self.record_cmd(Some(id), &req);
        if req.framing == Framing::Legacy {
            // CLAMD-SESSION-6: previous command's terminator, two lines, close
            let ctx = ReplyCtx {
                session_id: Some(id),
                term: last_term,
            };
            self.send(&reply::only_new_style_inside_session(ctx)).await;
            return Flow::Close;
        }
        if let Some(s) = self.session.as_mut() {
            s.last_term = term;
        }
        let ctx = ReplyCtx::session(id, req.framing);
        let allowed = req.command.name().is_some_and(|n| n.allowed_in_session());
        if !allowed {
            // CLAMD-SESSION-5: pending scan replies are lost
            self.send(&reply::invalid_inside_session(ctx)).await;
            return Flow::Close;
        }
        // CLAMD-SESSION-8: the read timer restarts on each complete command
        self.deadline = self.deadline_after(self.shared.config.read_timeout);
        match req.command {
            Command::End => {
                // CLAMD-SESSION-7: close after the last outstanding reply
                let mut deferred = self.session.take().map(|s| s.deferred).unwrap_or_default();
                match self.shared.config.fake.session_order {
                    SessionOrder::Clamd if !deferred.is_empty() && self.input_follows() => {
                        return self.bytes_after_end(ctx).await;
                    }
                    order => order.reorder(&mut deferred, self.shared.config.fake.session_seed),
                }
                if !self.send_all(deferred).await {
                    return Flow::Abort;
                }
                Flow::Close
            }
            Command::Stats if self.shared.config.fake.session_order == SessionOrder::Clamd => {
                // observed on clamd 1.4.6: STATS goes to a worker like a scan (its reply
                // follows this read's PINGs and is lost with the scans on a closing error)
                let r = self.quick_reply(&req.command, ctx);
                if let Some(s) = self.session.as_mut() {
                    s.deferred.push(r);
                }
                Flow::Continue
            }
            Command::Ping | Command::Version | Command::VersionCommands | Command::Stats => {
                // CLAMD-SESSION-4: answered at once
                let r = self.quick_reply(&req.command, ctx);
                if self.send(&r).await {
                    Flow::Continue
                } else {
                    Flow::Abort
                }
            }
            cmd => {
                // observed on clamd 1.4.6: FILDES without a descriptor while this session's
                // worker replies are pending adds `Error processing command` (same number)
                let extra_error = matches!(cmd, Command::Fildes)
                    && self.shared.config.fake.session_order == SessionOrder::Clamd
                    && self
                        .session
                        .as_ref()
                        .is_some_and(|s| !s.deferred.is_empty());
                self.exec_in_session(cmd, ctx, extra_error).await
            }
        }
    }

    async fn exec_in_session(&mut self, cmd: Command, ctx: ReplyCtx, extra_error: bool) -> Flow {
        match self.execute(cmd, ctx).await {
            Exec::Reply(r) => {
                self.deadline = self.deadline_after(self.shared.config.read_timeout);
                let defer = self.shared.config.fake.session_order != SessionOrder::Arrival;
                match self.session.as_mut() {
                    Some(s) if defer => {
                        s.deferred.push(r);
                        Flow::Continue
                    }
                    _ => {
                        if self.send(&r).await {
                            Flow::Continue
                        } else {
                            Flow::Abort
                        }
                    }
                }
            }
            Exec::Fatal(mut r) => {
                if extra_error {
                    r.extend_from_slice(&reply::error_processing_command(ctx));
                }
                self.send(&r).await;
                Flow::Close
            }
            Exec::LimitExceeded(r) => self.limit_exceeded(r).await,
            Exec::Abort => Flow::Abort,
            Exec::Fault(a) => self.apply_fault(a, ctx).await,
        }
    }

    /// Reports the command to the fault set and applies what fires now.
    async fn command_faults(&mut self, req: &Request) -> Option<Flow> {
        let name = req.command.name().map_or("UNKNOWN", |n| n.as_str());
        let scan = matches!(
            req.command,
            Command::Scan(_)
                | Command::ContScan(_)
                | Command::MultiScan(_)
                | Command::AllMatchScan(_)
                | Command::Instream
                | Command::Fildes
        );
        let (request, ctx) = match &self.session {
            Some(s) => (Some(s.next_id), ReplyCtx::session(s.next_id, req.framing)),
            None => (None, ReplyCtx::new(req.framing)),
        };
        let ev = FaultEvent::Command {
            name,
            request,
            scan,
        };
        if let Some(a) = self.faults.event(ev) {
            self.record_cmd(request, req);
            return Some(self.apply_fault(a, ctx).await);
        }
        if !scan {
            // a `reply` text for a command without verdict: in the place of its answer
            if let Some(r) = self.faults.take_reply() {
                self.record_cmd(request, req);
                if let Some(s) = self.session.as_mut() {
                    // the answered command keeps its number (CLAMD-SESSION-3)
                    s.next_id += 1;
                }
                let sent = self.send(&reply_text_bytes(ctx, &r)).await;
                return Some(match (sent, request) {
                    (true, Some(_)) if req.command != Command::End => Flow::Continue,
                    (true, _) => Flow::Close,
                    (false, _) => Flow::Abort,
                });
            }
            // a forced error line for a command without verdict: answer it now
            if let Some(f @ (ForcedReply::Error(_) | ForcedReply::Errno { .. })) =
                self.faults.take_forced()
            {
                self.record_cmd(request, req);
                let r = forced_bytes(ctx, None, &f);
                self.send(&r).await;
                return Some(Flow::Close);
            }
        }
        None
    }

    /// Applies an immediate injected fault.
    async fn apply_fault(&mut self, a: Action, ctx: ReplyCtx) -> Flow {
        tracing::debug!(conn = self.id, ?a, "injected fault");
        match a {
            Action::Drop => {
                self.fault_close = Some(FaultClose::Fin);
                Flow::Abort
            }
            Action::Reset | Action::Refuse | Action::Denied => {
                self.fault_close = Some(FaultClose::Rst);
                Flow::Abort
            }
            Action::NeverReply => {
                self.never_reply().await;
                Flow::Abort
            }
            Action::StopReading(hold) => {
                self.stall(hold).await;
                Flow::Abort
            }
            Action::Timeout => {
                // CLAMD-TIME-1/2/3 wire string, on demand
                self.send(&reply::timed_out()).await;
                Flow::Close
            }
            Action::StreamLimit(mode) => {
                // CLAMD-INSTREAM-5 reply, on demand
                let r = reply::size_limit_exceeded(ctx);
                let mode = match mode {
                    LimitMode::Configured => self.shared.config.fake.stream_limit,
                    LimitMode::Faithful => StreamLimitMode::Faithful,
                    LimitMode::Close => StreamLimitMode::Close,
                    LimitMode::ReplyDrain => StreamLimitMode::ReplyDrain,
                    LimitMode::Reset => StreamLimitMode::Reset,
                };
                self.limit_exceeded_with(r, mode).await
            }
            Action::Reply(f) => {
                let r = forced_bytes(ctx, None, &f);
                self.send(&r).await;
                Flow::Close
            }
        }
    }

    /// A command outside IDSESSION: one command per connection (CLAMD-CONN-1).
    async fn handle_single(&mut self, req: Request) -> Flow {
        self.record_cmd(None, &req);
        let ctx = ReplyCtx::new(req.framing);
        match req.command {
            Command::IdSession => {
                // CLAMD-SESSION-1: no reply; ReadTimeout applies from now
                self.session = Some(Session {
                    next_id: 1,
                    last_term: req.terminator(),
                    deferred: Vec::new(),
                });
                self.deadline = self.deadline_after(self.shared.config.read_timeout);
                Flow::Continue
            }
            Command::Shutdown | Command::Quit => {
                // CLAMD-CMD-5: no reply; the daemon exits (unless disabled [F])
                if self.shared.config.fake.allow_shutdown {
                    tracing::info!("SHUTDOWN received");
                    let _ = self.shared.shutdown.send(true);
                }
                Flow::Close
            }
            // CLAMD-CMD-6: no bytes, close
            Command::DetStats | Command::DetStatsClear => Flow::Close,
            // CLAMD-CMD-8/9
            Command::End | Command::Unknown => {
                self.send(&reply::unknown_command(ctx)).await;
                Flow::Close
            }
            Command::Reload => {
                // CLAMD-CMD-4: reply, reload asynchronously
                self.shared.reload();
                self.send(&reply::reloading(ctx)).await;
                Flow::Close
            }
            Command::Ping | Command::Version | Command::VersionCommands | Command::Stats => {
                // observed on clamd 1.4.6: STATS is a worker's job, so bytes after it in the
                // same read get CLAMD-CONN-3's line first, as after a path command
                if matches!(req.command, Command::Stats)
                    && !self.dec.buffered().is_empty()
                    && !self.send(&reply::error_processing_command(ctx)).await
                {
                    return Flow::Abort;
                }
                let r = self.quick_reply(&req.command, ctx);
                self.send(&r).await;
                Flow::Close
            }
            cmd => {
                // observed on clamd 1.4.6 (CLAMD-CONN-3): any byte after a path command in the
                // same read (even the "\n" left by "\r\n") => this line before the scan reply;
                // so after a FILDES that has its descriptor (a worker's job too)
                if (cmd.path().is_some() || (cmd == Command::Fildes && self.fd.is_some()))
                    && !self.dec.buffered().is_empty()
                    && !self.send(&reply::error_processing_command(ctx)).await
                {
                    return Flow::Abort;
                }
                self.exec_single(cmd, ctx).await
            }
        }
    }

    async fn exec_single(&mut self, cmd: Command, ctx: ReplyCtx) -> Flow {
        match self.execute(cmd, ctx).await {
            Exec::Reply(r) | Exec::Fatal(r) => {
                self.send(&r).await;
                Flow::Close
            }
            Exec::LimitExceeded(r) => self.limit_exceeded(r).await,
            Exec::Abort => Flow::Abort,
            Exec::Fault(a) => self.apply_fault(a, ctx).await,
        }
    }

    fn quick_reply(&self, cmd: &Command, ctx: ReplyCtx) -> Vec<u8> {
        let cfg = &self.shared.config;
        match cmd {
            Command::Ping => reply::pong(ctx),
            Command::Version => reply::version(ctx, &cfg.fake.version_text),
            Command::VersionCommands => reply::version_commands(ctx, &cfg.fake.version_text),
            _ => reply::stats(
                ctx,
                &StatsInfo {
                    max_threads: cfg.max_threads,
                    idle_timeout: cfg.idle_timeout,
                },
            ),
        }
    }

    async fn execute(&mut self, cmd: Command, ctx: ReplyCtx) -> Exec {
        // held replies do not wait for a scan
        if !self.flush_out().await {
            return Exec::Abort;
        }
        let name = cmd.name().map_or("SCAN", |n| n.as_str());
        let (mode, path) = match cmd {
            Command::Scan(p) => (ScanMode::Scan, p),
            Command::ContScan(p) => (ScanMode::ContScan, p),
            Command::MultiScan(p) => (ScanMode::MultiScan, p),
            Command::AllMatchScan(p) => (ScanMode::AllMatch, p),
            Command::Instream => return self.instream(ctx).await,
            Command::Fildes => return self.fildes(ctx).await,
            _ => return Exec::Reply(reply::unknown_command(ctx)),
        };
        // the path scan's verdict point: the request is whole once the command is
        if let Some(a) = self.verdict_point(name, ctx) {
            return verdict_fault(a, ctx, Subject::Path(&path));
        }
        // injected verdict for a path scan: one line about the path as sent
        if let Some(r) = self.injected_verdict(ctx, Subject::Path(&path)) {
            return Exec::Reply(r);
        }
        let sctx = self.shared.scan_ctx();
        let _permit = self.shared.scan_permits.acquire().await;
        let lines = tokio::task::spawn_blocking(move || scan::scan_path(&sctx, ctx, mode, &path))
            .await
            .unwrap_or_default();
        for l in &lines {
            self.log_reply(l);
        }
        Exec::Reply(lines.concat())
    }

    fn log_reply(&self, rec: &[u8]) {
        if self.shared.log.is_some() {
            let text = String::from_utf8_lossy(rec);
            let text = text.trim_end_matches(['\0', '\n']);
            if self.shared.config.log_clean || !text.ends_with(": OK") {
                self.shared.log_line(text);
            }
        }
    }

    /// Reports the verdict point (rules with `verdict = true`) of scan command `name`;
    /// returns the immediate fault to apply in the place of the verdict.
    fn verdict_point(&self, name: &str, ctx: ReplyCtx) -> Option<Action> {
        self.faults.event(FaultEvent::Verdict {
            name,
            request: ctx.session_id,
        })
    }

    /// A pending injected reply in the place of the verdict: a `reply` text (it wins, as on
    /// fake-vfindd), else a forced verdict or error about `subject`.
    fn injected_verdict(&self, ctx: ReplyCtx, subject: Subject<'_>) -> Option<Vec<u8>> {
        let forced = self.faults.take_forced();
        if let Some(r) = self.faults.take_reply() {
            return Some(reply_text_bytes(ctx, &r));
        }
        forced.map(|f| forced_bytes(ctx, Some(subject), &f))
    }

    /// The reply that ends a scan of `subject` by command `name`, after the faults at the
    /// verdict had their say.
    fn verdict_reply(&self, name: &str, ctx: ReplyCtx, subject: Subject<'_>, v: &Verdict) -> Exec {
        if let Some(a) = self.verdict_point(name, ctx) {
            return verdict_fault(a, ctx, subject);
        }
        if let Some(r) = self.injected_verdict(ctx, subject) {
            return Exec::Reply(r);
        }
        let r = match v {
            Verdict::Clean => reply::ok(ctx, subject),
            Verdict::Infected(names) => {
                let name = names.first().map_or("", String::as_str);
                reply::found(ctx, subject, name)
            }
        };
        self.log_reply(&r);
        Exec::Reply(r)
    }

    /// CLAMD-INSTREAM-*: chunks until the terminator, limit, timeout or EOF.
    async fn instream(&mut self, ctx: ReplyCtx) -> Exec {
        // Large reads while the body flows; the buffer goes back to command size after.
        let mut rbuf = std::mem::take(&mut self.buf);
        let out = self.instream_body(ctx, &mut rbuf).await;
        rbuf.truncate(COMMAND_BUFFER_SIZE);
        rbuf.shrink_to_fit();
        self.buf = rbuf;
        out
    }

    async fn instream_body(&mut self, ctx: ReplyCtx, rbuf: &mut Vec<u8>) -> Exec {
        let cfg = Arc::clone(&self.shared.config);
        let sctx = self.shared.scan_ctx();
        // StreamMaxLength 0: no limit, as on clamd 1.4.6
        let quota = match cfg.stream_max_length {
            0 => u64::MAX,
            n => n,
        };
        let mut ins = InstreamDecoder::new(quota);
        let mut scanner = sctx.tree_scanner(b"stream");
        let limits = sctx.limits();
        let mut size: u64 = 0;
        let mut oversize = None;
        let mut chunks: u64 = 0;
        // What the command buffer held after the command, then what was read earlier but not
        // fed yet: the first bytes of the body.
        let mut first = self.dec.take_buffered();
        first.extend_from_slice(&self.pending.split());
        let mut input: &[u8] = &first;
        // CLAMD-INSTREAM-7: ReadTimeout while streaming, restarted by each packet
        self.deadline = self.deadline_after(cfg.read_timeout);
        loop {
            let mut off = 0;
            loop {
                let (used, ev) = ins.decode(&input[off..]);
                off += used;
                match ev {
                    InstreamEvent::Data(d) => {
                        chunks += 1;
                        if let Some(a) = self.faults.event(FaultEvent::Chunk { n: chunks }) {
                            return Exec::Fault(a);
                        }
                        size += d.len() as u64;
                        if oversize.is_some() {
                        } else if let Err(limit) = limits.check_root(size) {
                            // CLAMD-INSTREAM-9: over MaxFileSize or MaxScanSize, not scanned
                            oversize = Some(limit);
                        } else if scanner.update(d).is_err() {
                            // CLAMD-INSTREAM-10
                            return Exec::Fatal(reply::error_writing_temp(ctx));
                        }
                    }
                    InstreamEvent::NeedMore => break,
                    InstreamEvent::End => {
                        // read whole, whatever the verdict point does next
                        if let Some(peer) = &self.peer {
                            self.shared.streams_read.read_whole(peer);
                        }
                        // Bytes after the terminator are the next commands of a session: the
                        // command buffer takes what fits, the rest waits its turn.
                        let rest = &input[off..];
                        let fits = rest.len().min(self.dec.free_space());
                        if self.dec.restore(&rest[..fits]).is_err() {
                            return Exec::Abort;
                        }
                        self.pending.extend_from_slice(&rest[fits..]);
                        let verdict = if let Some(limit) = oversize {
                            sctx.exceeded_verdict(limit)
                        } else {
                            let _permit = self.shared.scan_permits.acquire().await;
                            let job = tokio::task::spawn_blocking(move || {
                                let mut names = Vec::new();
                                let res = {
                                    let mut visit = ScanCtx::collector(&mut names);
                                    scanner.finish(&mut visit)
                                };
                                res.map(|summary| sctx.verdict_of(names, &summary, false))
                            });
                            match job.await {
                                Ok(Ok(verdict)) => verdict,
                                // CLAMD-INSTREAM-10: the spool could not be read back
                                _ => return Exec::Fatal(reply::error_writing_temp(ctx)),
                            }
                        };
                        return self.verdict_reply("INSTREAM", ctx, Subject::Stream, &verdict);
                    }
                    InstreamEvent::LimitExceeded {
                        requested,
                        remaining,
                    } => {
                        tracing::warn!(requested, remaining, "INSTREAM: Size limit reached");
                        return Exec::LimitExceeded(reply::size_limit_exceeded(ctx));
                    }
                }
            }
            match self.read_into(rbuf, STREAM_READ_SIZE).await {
                ReadOutcome::Data(n) => {
                    input = &rbuf[..n];
                    self.deadline = self.deadline_after(cfg.read_timeout);
                }
                // CLAMD-CONN-4: EOF mid-stream => close without reply
                ReadOutcome::Eof | ReadOutcome::Gone => return Exec::Abort,
                ReadOutcome::Timeout => return Exec::Fatal(reply::timed_out()),
            }
        }
    }

    /// CLAMD-FILDES-*.
    async fn fildes(&mut self, ctx: ReplyCtx) -> Exec {
        let Some(fd) = self.fd.take() else {
            // CLAMD-FILDES-3: also ends a session
            return Exec::Fatal(reply::no_fd_received(ctx));
        };
        // CLAMD-FILDES-2/5: our own descriptor number
        let n = i64::from(fd.as_raw_fd());
        let sctx = self.shared.scan_ctx();
        let _permit = self.shared.scan_permits.acquire().await;
        let res = tokio::task::spawn_blocking(move || {
            let file = std::fs::File::from(fd);
            let meta = file.metadata().ok();
            match meta {
                Some(m) if m.is_file() => {
                    let reader = PreadReader { file, pos: 0 };
                    sctx.scan_sized(b"", reader, m.len(), false).ok()
                }
                _ => None,
            }
        })
        .await
        .ok()
        .flatten();
        match res {
            Some(v) => self.verdict_reply("FILDES", ctx, Subject::Fd(n), &v),
            None => Exec::Reply(reply::fd_not_regular(ctx, n)),
        }
    }

    /// CLAMD-INSTREAM-5/8.
    async fn limit_exceeded(&mut self, r: Vec<u8>) -> Flow {
        let mode = self.shared.config.fake.stream_limit;
        self.limit_exceeded_with(r, mode).await
    }

    async fn limit_exceeded_with(&mut self, r: Vec<u8>, mode: StreamLimitMode) -> Flow {
        match mode {
            StreamLimitMode::Faithful => {
                self.send(&r).await;
                Flow::Close
            }
            StreamLimitMode::Close => {
                self.send(&r).await;
                self.flush_out().await;
                self.conn.shutdown_write().await;
                self.drain(Duration::from_secs(1), u64::MAX).await;
                Flow::Close
            }
            StreamLimitMode::ReplyDrain => {
                self.send(&r).await;
                self.drain(Duration::from_secs(1), u64::MAX).await;
                Flow::Close
            }
            StreamLimitMode::Reset => {
                self.flush_out().await;
                self.conn.set_reset_on_close();
                Flow::Abort
            }
        }
    }

    /// Injected `never-reply`: read and discard (bounded) until the client gives up. Input
    /// read to the client's EOF was all read, streams included, though not decoded: the
    /// daemon says so for its uploads (see [`crate::streams`]).
    async fn never_reply(&mut self) {
        if self.drain(Duration::from_secs(3600), 1 << 30).await {
            if let Some(peer) = &self.peer {
                self.shared.streams_read.read_to_end(peer);
            }
        }
    }

    /// Discard input until EOF, a pause of `idle`, `limit` in total, or `max_bytes`; true
    /// when it ended at the client's EOF.
    async fn drain_idle(&mut self, idle: Duration, limit: Duration, max_bytes: u64) -> bool {
        let end = Instant::now() + limit;
        let mut total = 0u64;
        loop {
            self.deadline = Some((Instant::now() + idle).min(end));
            match self.read_once(COMMAND_BUFFER_SIZE).await {
                ReadOutcome::Data(n) => {
                    total += n as u64;
                    if total >= max_bytes || Instant::now() >= end {
                        return false;
                    }
                }
                ReadOutcome::Eof => return true,
                _ => return false,
            }
        }
    }

    /// Injected `stop-reading` (CLAMD-CLIENT-10: clamd with a full MaxQueue, or stopped):
    /// neither read nor write for `hold`, the socket left open, so a client's upload blocks
    /// once the socket buffers are full. Daemon shutdown ends the wait at once; then the
    /// connection is reset (its unread input would make the close an RST anyway).
    async fn stall(&mut self, hold: Duration) {
        tracing::debug!(conn = self.id, ?hold, "injected stop-reading");
        tokio::select! {
            _ = tokio::time::sleep(hold) => {}
            _ = self.stop.wait_for(|v| *v) => {}
        }
        self.fault_close = Some(FaultClose::Rst);
    }

    /// Discard input until EOF, `limit` time or `max_bytes`; true when it ended at EOF.
    async fn drain(&mut self, limit: Duration, max_bytes: u64) -> bool {
        self.drain_idle(limit, limit, max_bytes).await
    }
}

/// The bytes of an injected reply (`infected`, `clean`, `error`, `errno`). In the place of a
/// verdict (`subject` given) an error is a per-file scan error, `<subject>: <text> ERROR`, after
/// which clamd keeps a session going (CLAMD-INSTREAM-3, CLAMD-REPLY-4); without a subject it is
/// a bare `<text> ERROR` line and the connection closes (CLAMD-REPLY-2).
fn forced_bytes(ctx: ReplyCtx, subject: Option<Subject<'_>>, f: &ForcedReply) -> Vec<u8> {
    let error_line = |text: &str| match subject {
        Some(subject) => reply::error(ctx, subject, text),
        None => reply::plain_error(ctx, text),
    };
    match f {
        // CLAMD-REPLY-1 shapes
        ForcedReply::Infected(name) => reply::found(ctx, subject.unwrap_or(Subject::Stream), name),
        ForcedReply::Clean => reply::ok(ctx, subject.unwrap_or(Subject::Stream)),
        ForcedReply::Error(text) => error_line(text),
        ForcedReply::Errno { name, text } => {
            let text = text.as_deref().unwrap_or(match name.as_str() {
                "EAGAIN" => "Server busy",
                "EFAULT" => "Internal error",
                _ => "injected error",
            });
            error_line(&format!("{name} {text}"))
        }
    }
}

/// An immediate fault at the verdict: an error reply (`eagain`, `efault`, ...) becomes the
/// scan's per-file error about `subject` (the session goes on, CLAMD-REPLY-4); the others
/// (drop, reset, never-reply, timeout) act in the verdict's place.
fn verdict_fault(a: Action, ctx: ReplyCtx, subject: Subject<'_>) -> Exec {
    match a {
        Action::Reply(f) => Exec::Reply(forced_bytes(ctx, Some(subject), &f)),
        other => Exec::Fault(other),
    }
}

/// The bytes of a `reply` fault: the text framed as this reply would be (`<n>: ` inside
/// IDSESSION, the command's terminator), or with `raw` exactly the decoded bytes.
fn reply_text_bytes(ctx: ReplyCtx, r: &ReplyText) -> Vec<u8> {
    let body = r.bytes();
    if r.raw {
        return body;
    }
    let mut out = Vec::with_capacity(body.len() + 24);
    if let Some(id) = ctx.session_id {
        // CLAMD-SESSION-3: "<id>: "
        out.extend_from_slice(format!("{id}: ").as_bytes());
    }
    out.extend_from_slice(&body);
    out.push(ctx.term);
    out
}

/// Reads a descriptor from offset 0 with `pread`, leaving the shared file offset alone.
struct PreadReader {
    file: std::fs::File,
    pos: u64,
}

impl std::io::Read for PreadReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.file.read_at(buf, self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}
