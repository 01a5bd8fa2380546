//! The per-connection loop of the control connection: READY, reading and framing lines
//! (SVSP-FRAME-*), commands, injected command faults, accepting scans (SVSP-SCAN-*) and
//! reading SCAN/DATA and inline bodies; requests then run on their own (`request`).

use crate::config::{Dispatch, QuitMode};
use crate::datachan::Channel;
use crate::feed::Fed;
use crate::request::{forced_error, reply_out, ReqCtx};
use crate::scan::{stream_scanner, Target};
use crate::shared::Shared;
use crate::writer::{writer, Lines, Out, Sink};
use faults::{Action, ConnFaults, Event as FaultEvent};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use svsp_proto::{
    parse_line, Body, Command, ErrorReply, Frame, Id, LineFramer, OptionOp, OptionState, Parsed,
    ScanCommand, Source,
};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio::task::JoinSet;
use tracing::debug;

/// Read size of the control connection.
const READ_CHUNK: usize = 4096;
/// In `--dispatch=one-per-read` mode, stop reading while this much is buffered.
const ONE_PER_READ_BACKLOG: usize = 64 * 1024;
/// IGNORE and EXCLUDE values one connection may hold, together (hostile review: the lists
/// grew with every distinct value, each request snapshots them, SVSP-CONC-3, and every
/// addition compares with all before it: 160 MB of lines took 330 MB and 40 s of CPU).
const MAX_OPTION_VALUES: usize = 1024;
/// Bytes of those values, together.
const MAX_OPTION_BYTES: usize = 64 * 1024;

/// Serves one accepted (and admitted) control connection to its end.
pub(crate) async fn run(
    stream: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    conn: u64,
    cf: Arc<ConnFaults>,
) {
    let local = stream
        .local_addr()
        .map(|a| a.ip())
        .unwrap_or(IpAddr::from([127, 0, 0, 1]));
    let _ = stream.set_nodelay(true);
    let (rd, wr) = stream.into_split();
    let (lines, rx) = Lines::new();
    if cf.shapes_writes() {
        lines.control(Out::Mark).await;
    }
    let sink = Sink {
        fmt: shared.format(),
        recorder: shared.recorder.clone(),
        conn,
        faults: cf.clone(),
        send_timeout: shared.cfg.send_timeout(),
        stall: lines.stall(),
    };
    let writer_task = tokio::spawn(writer(wr, rx, sink));
    // SVSP-CONN-1: READY first.
    if lines.send(&None, Body::Ready).await {
        let mut session = Session {
            shared: shared.clone(),
            rd,
            lines: lines.clone(),
            opts: OptionState::default(),
            framer: LineFramer::new(shared.cfg.max_line),
            tasks: JoinSet::new(),
            peer: peer.ip(),
            local,
            conn,
            faults: cf,
            requests: 0,
            silent: false,
            reset: false,
            stall_data: None,
        };
        session.run().await;
        if lines.is_silent() && !session.reset {
            // injected never-reply at the verdict: neither answer nor close
            session.discard_input().await;
        }
        if session.reset {
            lines.control(Out::Reset).await;
        }
    }
    lines.control(Out::Close).await;
    drop(lines);
    let _ = writer_task.await;
}

enum Flow {
    Continue,
    /// Stop reading; finish outstanding requests (EOF, inline data).
    Drain,
    /// Close now (QUIT handled, or connection lost).
    Close,
    /// Injected `stop-reading`: read and write nothing for this long, then reset.
    Stall(std::time::Duration),
}

struct Session {
    shared: Arc<Shared>,
    rd: tokio::net::tcp::OwnedReadHalf,
    lines: Lines,
    opts: OptionState,
    framer: LineFramer,
    tasks: JoinSet<()>,
    peer: IpAddr,
    local: IpAddr,
    /// The connection's number in the record.
    conn: u64,
    faults: Arc<ConnFaults>,
    /// Requests (non-blank command lines) so far.
    requests: u64,
    /// Injected `never-reply`: read and discard, answer nothing.
    silent: bool,
    /// Injected `reset`: end with RST.
    reset: bool,
    /// Injected `stop-reading` at a SCAN/REQUEST or SCAN/PORT command: the hold of its data
    /// channel, which is opened and never read.
    stall_data: Option<std::time::Duration>,
}

/// The command word of a line (after an optional `[id]`), upper case.
fn command_word(line: &[u8]) -> String {
    let mut rest = line.trim_ascii_start();
    if !rest.first().is_some_and(u8::is_ascii_alphabetic) {
        // an id comes first (SVSP-ID-1)
        let end = rest
            .iter()
            .position(|b| b.is_ascii_whitespace())
            .unwrap_or(rest.len());
        rest = rest[end..].trim_ascii_start();
    }
    let word: Vec<u8> = rest
        .iter()
        .take_while(|b| b.is_ascii_alphanumeric() || **b == b'/' || **b == b'-')
        .copied()
        .collect();
    let w = String::from_utf8_lossy(&word).to_ascii_uppercase();
    // `SCAN/FILE...` forms count as SCAN
    w.split('/').next().unwrap_or("").to_string()
}

/// Whether `op` keeps the IGNORE and EXCLUDE lists within [`MAX_OPTION_VALUES`] and
/// [`MAX_OPTION_BYTES`] (a value already listed adds nothing).
fn option_fits(opts: &OptionState, op: &OptionOp) -> bool {
    let (list, v) = match op {
        OptionOp::IgnoreAdd(v) => (&opts.ignore, v),
        OptionOp::ExcludeAdd(v) => (&opts.exclude, v),
        _ => return true,
    };
    if list.contains(v) {
        return true;
    }
    let held = || opts.ignore.iter().chain(&opts.exclude);
    held().count() < MAX_OPTION_VALUES
        && held().map(Vec::len).sum::<usize>() + v.len() <= MAX_OPTION_BYTES
}

impl Session {
    async fn run(&mut self) {
        let mut buf = vec![0u8; READ_CHUNK];
        let mut stalled = self.lines.stalled();
        let flow = loop {
            let idle = self
                .shared
                .cfg
                .effective_idle_timeout()
                .filter(|_| self.tasks.is_empty());
            let can_read = !(self.shared.cfg.dispatch == Dispatch::OnePerRead
                && self.framer.buffered() > ONE_PER_READ_BACKLOG);
            // injected: slow reads / read delays
            let rp = self.faults.read_plan();
            if !rp.delay.is_zero() {
                tokio::time::sleep(rp.delay).await;
            }
            let max = rp.max.unwrap_or(READ_CHUNK).clamp(1, READ_CHUNK);
            tokio::select! {
                r = self.rd.read(&mut buf[..max]), if can_read => match r {
                    Ok(0) => break Flow::Drain, // SVSP-CONN-4
                    Ok(n) => {
                        match self.faults.bytes_in(n) {
                            Some(Action::Drop) => break Flow::Close, // injected: drop after N bytes
                            Some(Action::StopReading(hold)) => {
                                // injected: these bytes arrived, then nothing more is read
                                self.shared.recorder.recv(self.conn, &buf[..n]);
                                break Flow::Stall(hold);
                            }
                            _ => {}
                        }
                        if self.silent || self.lines.is_silent() {
                            continue; // injected never-reply: discard
                        }
                        self.shared.recorder.recv(self.conn, &buf[..n]);
                        self.framer.push(&buf[..n]);
                        match self.dispatch().await {
                            Flow::Continue => {}
                            other => break other,
                        }
                    }
                    Err(_) => break Flow::Close,
                },
                Some(_) = self.tasks.join_next(), if !self.tasks.is_empty() => {}
                Ok(()) = stalled.changed() => {
                    // injected stop-reading at a verdict or after a reply
                    if let Some(hold) = *stalled.borrow() {
                        break Flow::Stall(hold);
                    }
                }
                _ = self.lines.tx.closed() => break Flow::Close,
                _ = async { match idle { Some(d) => tokio::time::sleep(d).await, None => std::future::pending().await } } => {
                    debug!("idle timeout"); // SVSP-CONN-5: silent close
                    break Flow::Close;
                }
            }
        };
        match flow {
            Flow::Drain => self.drain().await,
            Flow::Close | Flow::Continue => self.cancel(),
            Flow::Stall(hold) => self.stall(hold).await,
        }
    }

    /// Injected `stop-reading` (SVSP-CLIENT-19): requests end, nothing is read or written
    /// for `hold`, the socket stays open (a client's SCAN/DATA or inline upload blocks once
    /// the buffers are full); then RST. Daemon shutdown aborts the wait with the connection.
    async fn stall(&mut self, hold: std::time::Duration) {
        debug!(?hold, "injected stop-reading");
        self.cancel();
        self.lines.stop_reading(hold);
        tokio::time::sleep(hold).await;
        self.reset = true;
    }

    async fn drain(&mut self) {
        loop {
            tokio::select! {
                r = self.tasks.join_next() => if r.is_none() { break },
                _ = self.lines.tx.closed() => { self.cancel(); break; }
            }
        }
    }

    /// Reads and discards until the client closes (or the idle timeout).
    async fn discard_input(&mut self) {
        let mut buf = [0u8; READ_CHUNK];
        let idle = self.shared.cfg.effective_idle_timeout();
        loop {
            let r = match idle {
                Some(d) => tokio::time::timeout(d, self.rd.read(&mut buf)).await,
                None => Ok(self.rd.read(&mut buf).await),
            };
            match r {
                Ok(Ok(n)) if n > 0 => {
                    self.faults.bytes_in(n);
                }
                _ => break,
            }
        }
    }

    /// One read of a DATA or inline body, recorded; `None` when the peer sent nothing for
    /// `--data-timeout` (the body is abandoned and the connection closed, as a data
    /// channel that goes silent is). Counted for the byte faults: `drop` and `stop-reading`
    /// with `after_bytes` end the body here too (`None`).
    async fn read_data(&mut self, buf: &mut [u8]) -> Option<std::io::Result<usize>> {
        let len = buf.len();
        let max = self.faults.read_plan().max.unwrap_or(len).clamp(1, len);
        let buf = &mut buf[..max];
        let r = tokio::time::timeout(self.shared.cfg.data_timeout, self.rd.read(buf)).await;
        if let Ok(Ok(n)) = &r {
            self.shared.recorder.recv(self.conn, &buf[..*n]);
            match self.faults.bytes_in(*n) {
                Some(Action::Drop) => return None,
                Some(Action::StopReading(hold)) => {
                    self.stall(hold).await;
                    return None;
                }
                _ => {}
            }
        }
        r.ok()
    }

    fn cancel(&mut self) {
        self.lines.cancelled.store(true, Ordering::SeqCst);
        self.tasks.abort_all();
    }

    /// SVSP-FRAME-5.
    async fn dispatch(&mut self) -> Flow {
        match self.shared.cfg.dispatch {
            Dispatch::All => {
                while let Some(frame) = self.framer.next_frame() {
                    if self.silent || self.lines.is_silent() {
                        return Flow::Continue;
                    }
                    match self.frame(frame).await {
                        Flow::Continue => {}
                        other => return other,
                    }
                }
                Flow::Continue
            }
            Dispatch::OnePerRead => {
                while let Some(frame) = self.framer.next_frame() {
                    if let Frame::Line(l) = &frame {
                        if l.iter().all(|b| *b == b' ' || *b == b'\t') {
                            continue; // blank lines do not count
                        }
                    }
                    return self.frame(frame).await;
                }
                Flow::Continue
            }
        }
    }

    async fn frame(&mut self, frame: Frame) -> Flow {
        let line = match frame {
            // SVSP-FRAME-4: no id prefix.
            Frame::TooLong => return self.reply(&None, ErrorReply::LineTooLong.body()).await,
            Frame::Line(l) => l,
        };
        let parsed = parse_line(&line, &self.shared.parse_config());
        if !matches!(parsed, Parsed::Blank) {
            self.shared
                .recorder
                .command(self.conn, crate::record::command_line(self.conn, &line));
            if let Some(flow) = self.command_faults(&line, &parsed).await {
                return flow;
            }
        }
        match parsed {
            Parsed::Blank => Flow::Continue, // SVSP-FRAME-3
            Parsed::Error { id, error } => self.reply(&id, error.body()).await,
            Parsed::Command {
                id,
                command: Command::Option(op),
            } => {
                if !option_fits(&self.opts, &op) {
                    // beyond the per-connection budget: refused as a full queue is
                    return self.reply(&id, ErrorReply::ServerBusy.body()).await;
                }
                self.opts.apply(&op);
                self.reply(&id, Body::Ok).await
            }
            Parsed::Command {
                id,
                command: Command::Quit,
            } => {
                // SVSP-CMD-QUIT-1
                match self.shared.cfg.quit {
                    QuitMode::Drain => {
                        self.drain().await;
                        self.reply(&id, Body::Ok).await;
                    }
                    QuitMode::Immediate => {
                        self.lines.send(&id, Body::Ok).await;
                        self.cancel();
                    }
                }
                Flow::Close
            }
            Parsed::Command {
                id,
                command: Command::Scan(scan),
            } => self.scan(id, scan).await,
        }
    }

    /// Reports a command line to the fault set and applies what fires now.
    async fn command_faults(&mut self, line: &[u8], parsed: &Parsed) -> Option<Flow> {
        self.requests += 1;
        let (id, scan_name) = match parsed {
            Parsed::Command { id, command } => (
                id.clone(),
                match command {
                    Command::Scan(s) => Some(s.display_name().to_vec()),
                    _ => None,
                },
            ),
            Parsed::Error { id, .. } => (id.clone(), None),
            Parsed::Blank => (None, None),
        };
        let name = command_word(line);
        let ev = FaultEvent::Command {
            name: &name,
            request: Some(self.requests),
            scan: scan_name.is_some(),
        };
        let action = self.faults.event(ev);
        if self.faults.shapes_writes() {
            self.lines.control(Out::Mark).await;
        }
        if action.is_none() && scan_name.is_none() {
            // a forced error reply for a command without verdict: answer it now
            if let Some(body) = self
                .faults
                .take_forced()
                .and_then(|f| forced_error(&f, None))
            {
                return Some(self.reply(&id, body).await);
            }
            if let Some(r) = self.faults.take_reply() {
                self.lines.control(reply_out(&id, &r)).await;
                return Some(Flow::Continue);
            }
        }
        let a = action?;
        debug!(?a, "injected fault");
        if let Action::StopReading(hold) = a {
            let channel = matches!(parsed, Parsed::Command { command: Command::Scan(s), .. }
                if matches!(s.source, Source::Request | Source::Port(_)));
            if channel {
                // the upload goes over a data channel: that one is opened and not read
                self.stall_data = Some(hold);
                return None;
            }
            return Some(Flow::Stall(hold));
        }
        Some(match a {
            Action::Drop | Action::Timeout => {
                // SVSP has no timeout message: silent close, as SVSP-CONN-5
                self.cancel();
                Flow::Close
            }
            Action::Reset | Action::Refuse => {
                self.reset = true;
                self.cancel();
                Flow::Close
            }
            Action::Denied => {
                self.lines.send(&None, Body::Denied).await;
                Flow::Close
            }
            Action::NeverReply => {
                self.silent = true;
                self.framer = LineFramer::new(self.shared.cfg.max_line);
                Flow::Continue
            }
            Action::StopReading(hold) => Flow::Stall(hold),
            Action::StreamLimit(_) => {
                self.reply(
                    &id,
                    ErrorReply::SizeLimitExceeded(scan_name.unwrap_or_default()).body(),
                )
                .await
            }
            Action::Reply(f) => match forced_error(&f, None) {
                Some(body) => self.reply(&id, body).await,
                None => Flow::Continue,
            },
        })
    }

    async fn reply(&self, id: &Option<Id>, body: Body) -> Flow {
        if self.lines.send(id, body).await {
            Flow::Continue
        } else {
            Flow::Close
        }
    }

    async fn scan(&mut self, id: Option<Id>, scan: ScanCommand) -> Flow {
        while self.tasks.try_join_next().is_some() {}
        // SVSP-ERR-EAGAIN-1: per-connection queue limit.
        if self.tasks.len() >= self.shared.cfg.max_queue {
            return self.reply(&id, ErrorReply::ServerBusy.body()).await;
        }
        let opts = self.opts.clone(); // SVSP-CONC-3 snapshot
        let name = scan.display_name().to_vec();
        let ctx = ReqCtx {
            shared: self.shared.clone(),
            lines: self.lines.clone(),
            id: id.clone(),
            opts,
            faults: self.faults.clone(),
            request: self.requests,
            forced: self.faults.take_forced(),
            reply: self.faults.take_reply(),
        };
        match scan.source {
            Source::File | Source::FileSha1 => {
                // FILE reaches the queue at acceptance: QUEUED before any file-system check.
                if self.shared.want_queued() && !ctx.send(Body::Queued).await {
                    return Flow::Close;
                }
                let target = Target::Path {
                    name,
                    sha1: scan.source == Source::FileSha1,
                };
                let fut = ctx.enqueue(target); // queued in acceptance order
                self.tasks.spawn(fut);
                Flow::Continue
            }
            source @ (Source::Request | Source::Port(_)) => {
                let (local, peer) = (self.local, self.peer);
                let stall = self.stall_data.take();
                self.tasks.spawn(async move {
                    let ch = Channel {
                        cfg: &ctx.shared.cfg,
                        lines: &ctx.lines,
                        id: &ctx.id,
                        stall,
                    };
                    let scanner = stream_scanner(&ctx.shared.env, &ctx.opts, &name);
                    let fed = match source {
                        Source::Port(port) => ch.port(peer, port, &name, scanner).await,
                        _ => ch.request(local, peer, &name, scanner).await,
                    };
                    if let Some(fed) = fed {
                        ctx.queue_and_run(Target::Fed { name, fed }).await;
                    }
                });
                Flow::Continue
            }
            Source::Data(n) => {
                // SVSP-SCAN-DATA-1: SEND, then exactly n raw bytes on this connection,
                // scanned as they arrive (a queued request holds no copy of its bytes).
                if !ctx.send(Body::Send(None)).await {
                    return Flow::Close;
                }
                let mut fed = Fed::new(stream_scanner(&ctx.shared.env, &ctx.opts, &name));
                let want = usize::try_from(n).unwrap_or(usize::MAX);
                let first = self.framer.take_raw(want);
                let mut got = first.len();
                fed.update(&first);
                let mut buf = vec![0u8; READ_CHUNK];
                while got < want {
                    let read = match self.read_data(&mut buf).await {
                        Some(Ok(0) | Err(_)) => return Flow::Drain,
                        Some(Ok(read)) => read,
                        None => return Flow::Close,
                    };
                    let take = (want - got).min(read);
                    fed.update(&buf[..take]);
                    got += take;
                    self.framer.push(&buf[take..read]);
                }
                self.tasks
                    .spawn(async move { ctx.queue_and_run(Target::Fed { name, fed }).await });
                Flow::Continue
            }
            Source::Inline => {
                // SVSP-SCAN-INLINE-1: every byte up to the half-close is data.
                if !ctx.send(Body::Send(None)).await {
                    return Flow::Close;
                }
                let mut fed = Fed::new(stream_scanner(&ctx.shared.env, &ctx.opts, &name));
                let max = usize::try_from(self.shared.cfg.stream_max_length).unwrap_or(usize::MAX);
                let first = self.framer.take_raw(max.saturating_add(1));
                let mut total = first.len();
                fed.update(&first);
                let mut buf = vec![0u8; READ_CHUNK];
                loop {
                    match self.read_data(&mut buf).await {
                        Some(Ok(0)) => break,
                        Some(Err(_)) | None => return Flow::Close,
                        Some(Ok(read)) => {
                            total = total.saturating_add(read);
                            if total <= max {
                                fed.update(&buf[..read]);
                            }
                        }
                    }
                }
                if total > max {
                    ctx.send(ErrorReply::SizeLimitExceeded(name).body()).await;
                } else {
                    self.tasks
                        .spawn(async move { ctx.queue_and_run(Target::Fed { name, fed }).await });
                }
                Flow::Drain
            }
        }
    }
}
