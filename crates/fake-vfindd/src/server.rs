//! The tokio server: accept loop, sessions, data channels, worker pool.

use crate::config::{Config, Dispatch, QueuedMode, QuitMode};
use crate::record::Recorder;
use crate::scan::{run_request, ScanEnv, Target};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use svsp_proto::{
    parse_line, Body, Command, ErrorReply, FormatOptions, Frame, Id, LineFramer, OptionState,
    ParseConfig, Parsed, Response, ScanCommand, Source,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, Semaphore};
use tokio::task::JoinSet;
use tracing::{debug, info, warn};

use faults::{Action, ConnFaults, Event as FaultEvent, ForcedReply};

/// Read size of the control connection.
const READ_CHUNK: usize = 4096;
/// In `--dispatch=one-per-read` mode, stop reading while this much is buffered.
const ONE_PER_READ_BACKLOG: usize = 64 * 1024;
/// Lines queued towards one connection's writer.
const OUT_QUEUE: usize = 256;

/// State shared by all connections.
pub(crate) struct Shared {
    pub cfg: Config,
    pub env: ScanEnv,
    pub workers: Arc<Semaphore>,
    /// FIFO job queue towards the dispatcher (SVSP-CONC-4).
    pub jobs: mpsc::UnboundedSender<Job>,
    pub conns: AtomicUsize,
    pub scans_seen: AtomicU64,
    pub requests_accepted: AtomicU64,
    pub rng: Mutex<u64>,
    pub recorder: Arc<Recorder>,
    pub faults: faults::FaultSet,
}

impl Shared {
    fn parse_config(&self) -> ParseConfig {
        ParseConfig {
            profile: self.cfg.profile,
            enable_future: self.cfg.enable_future,
            stream_max_length: self.cfg.stream_max_length,
        }
    }

    fn format(&self) -> FormatOptions {
        FormatOptions {
            eol: self.cfg.eol,
            lowercase_keywords: self.cfg.quirks.lowercase_keywords,
        }
    }

    /// SVSP-RESP-QUEUED-1 modes.
    fn want_queued(&self) -> bool {
        match self.cfg.queued {
            QueuedMode::Always => true,
            QueuedMode::Never => false,
            QueuedMode::WhenDelayed => self.workers.available_permits() == 0,
            QueuedMode::Random(_) => {
                let mut s = self.rng.lock().unwrap_or_else(|p| p.into_inner());
                // splitmix64
                *s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
                let mut z = *s;
                z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
                (z ^ (z >> 31)) & 1 == 1
            }
        }
    }

    fn allowed(&self, ip: IpAddr) -> bool {
        (!self.cfg.localhost_only
            || ip.is_loopback()
            || matches!(ip, IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())))
            && self.cfg.allow.iter().any(|c| c.contains(ip))
    }
}

fn same_ip(a: IpAddr, b: IpAddr) -> bool {
    let norm = |ip: IpAddr| match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    };
    norm(a) == norm(b)
}

/// Accept loop until `shutdown` fires; then every connection is aborted.
pub(crate) async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut shutdown: oneshot::Receiver<()>,
) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
            r = listener.accept() => match r {
                Ok((stream, peer)) => {
                    let sh = shared.clone();
                    conns.spawn(async move { handle_conn(stream, peer, sh).await });
                }
                Err(e) => {
                    warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }
    }
    // hardening item 2: scans in progress on worker threads end at their next read
    shared.env.shutdown.store(true, Ordering::SeqCst);
    conns.abort_all();
    info!("fake-vfindd stopped");
}

struct ConnGuard<'a>(&'a AtomicUsize);
impl Drop for ConnGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

enum Out {
    Line(Response),
    Close,
    /// Injected reset: abort with RST instead of FIN.
    Reset,
    /// Injected faults fired: shape the lines from here on (keeps lines queued before the
    /// fault untouched).
    Mark,
}

/// A line sender that knows the request's id.
#[derive(Clone)]
struct Lines {
    tx: mpsc::Sender<Out>,
    cancelled: Arc<AtomicBool>,
}

impl Lines {
    async fn send(&self, id: &Option<Id>, body: Body) -> bool {
        !self.cancelled.load(Ordering::SeqCst)
            && self
                .tx
                .send(Out::Line(Response::with_id(id.clone(), body)))
                .await
                .is_ok()
    }
    fn blocking_send(&self, id: &Option<Id>, body: Body) -> bool {
        !self.cancelled.load(Ordering::SeqCst)
            && self
                .tx
                .blocking_send(Out::Line(Response::with_id(id.clone(), body)))
                .is_ok()
    }
}

/// Writes `bytes`, shaped by injected faults; false = stop writing (error or injected close).
async fn write_shaped(
    wr: &mut tokio::net::tcp::OwnedWriteHalf,
    bytes: &[u8],
    cf: &ConnFaults,
    shared: &Shared,
    rec: usize,
) -> bool {
    if !cf.shapes_writes() {
        // SVSP-FRAME-6: each line written whole and flushed at once.
        if wr.write_all(bytes).await.is_err() || wr.flush().await.is_err() {
            return false;
        }
        cf.bytes_out(bytes.len());
        shared.recorder.server(rec, bytes);
        return true;
    }
    let plan = cf.write_plan(bytes);
    for p in plan.pieces {
        if !p.delay.is_zero() {
            tokio::time::sleep(p.delay).await;
        }
        if wr.write_all(&p.bytes).await.is_err() || wr.flush().await.is_err() {
            return false;
        }
        cf.bytes_out(p.bytes.len());
        shared.recorder.server(rec, &p.bytes);
    }
    !plan.close_after
}

async fn writer(
    mut wr: tokio::net::tcp::OwnedWriteHalf,
    mut rx: mpsc::Receiver<Out>,
    shared: Arc<Shared>,
    rec: usize,
    cf: Arc<ConnFaults>,
) {
    let fmt = shared.format();
    let mut lines = 0u64;
    let mut armed = false;
    while let Some(out) = rx.recv().await {
        let resp = match out {
            Out::Line(resp) => resp,
            Out::Close => break,
            Out::Mark => {
                armed = true;
                continue;
            }
            Out::Reset => {
                // linger 0: the close becomes an immediate RST; no FIN from this half
                #[allow(deprecated)]
                let _ = wr.as_ref().set_linger(Some(Duration::ZERO));
                wr.forget();
                return;
            }
        };
        let bytes = resp.encode(fmt);
        if armed {
            if !write_shaped(&mut wr, &bytes, &cf, &shared, rec).await {
                break;
            }
        } else if wr.write_all(&bytes).await.is_err() || wr.flush().await.is_err() {
            // SVSP-FRAME-6: each line written whole and flushed at once.
            break;
        } else {
            cf.bytes_out(bytes.len());
            shared.recorder.server(rec, &bytes);
        }
        lines += 1;
        if shared
            .cfg
            .faults
            .drop_connection_after_lines
            .is_some_and(|n| lines >= n)
        {
            debug!("fault: dropping connection after {lines} lines");
            break;
        }
    }
    let _ = wr.shutdown().await;
}

async fn handle_conn(mut stream: TcpStream, peer: SocketAddr, shared: Arc<Shared>) {
    let rec = shared.recorder.open(peer);
    let n = shared.conns.fetch_add(1, Ordering::SeqCst) + 1;
    let _guard = ConnGuard(&shared.conns);
    let cf = Arc::new(shared.faults.connect());
    let injected = cf.event(FaultEvent::Connect);
    if let Some(Action::Refuse) = injected {
        // injected: RST before any byte
        #[allow(deprecated)]
        let _ = stream.set_linger(Some(Duration::ZERO));
        return;
    }
    // SVSP-CONN-2: DENIED, then close (also injected by the `denied` fault).
    if !shared.allowed(peer.ip())
        || n > shared.cfg.max_connections
        || injected == Some(Action::Denied)
    {
        shared.recorder.denied(rec);
        let bytes = Response::new(Body::Denied).encode(shared.format());
        let _ = stream.write_all(&bytes).await;
        shared.recorder.server(rec, &bytes);
        let _ = stream.shutdown().await;
        return;
    }
    let local = stream
        .local_addr()
        .map(|a| a.ip())
        .unwrap_or(IpAddr::from([127, 0, 0, 1]));
    let _ = stream.set_nodelay(true);
    let (rd, wr) = stream.into_split();
    let (tx, rx) = mpsc::channel(OUT_QUEUE);
    if cf.shapes_writes() {
        let _ = tx.send(Out::Mark).await;
    }
    let writer_task = tokio::spawn(writer(wr, rx, shared.clone(), rec, cf.clone()));
    let lines = Lines {
        tx,
        cancelled: Arc::new(AtomicBool::new(false)),
    };
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
            rec,
            faults: cf,
            requests: 0,
            silent: false,
            reset: false,
        };
        session.run().await;
        if session.reset {
            let _ = lines.tx.send(Out::Reset).await;
        }
    }
    let _ = lines.tx.send(Out::Close).await;
    drop(lines);
    let _ = writer_task.await;
}

enum Flow {
    Continue,
    /// Stop reading; finish outstanding requests (EOF, inline data).
    Drain,
    /// Close now (QUIT handled, or connection lost).
    Close,
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
    rec: usize,
    faults: Arc<ConnFaults>,
    /// Requests (non-blank command lines) so far.
    requests: u64,
    /// Injected `never-reply`: read and discard, answer nothing.
    silent: bool,
    /// Injected `reset`: end with RST.
    reset: bool,
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

/// The SVSP body of an injected error / errno reply.
fn forced_error(f: &ForcedReply) -> Option<Body> {
    match f {
        ForcedReply::Error(text) => Some(Body::Error {
            errno: svsp_proto::Errno::Efault,
            text: text.as_bytes().to_vec(),
        }),
        ForcedReply::Errno { name, text } => {
            let errno = svsp_proto::Errno::KNOWN
                .into_iter()
                .find(|e| e.as_str().eq_ignore_ascii_case(name))
                .unwrap_or_else(|| svsp_proto::Errno::Other(name.to_ascii_uppercase()));
            let text = text.clone().unwrap_or_else(|| {
                match errno {
                    svsp_proto::Errno::Eagain => "Server busy",
                    svsp_proto::Errno::Efault => "Internal error",
                    _ => "Injected error",
                }
                .to_string()
            });
            Some(Body::Error {
                errno,
                text: text.into_bytes(),
            })
        }
        ForcedReply::Infected(_) | ForcedReply::Clean => None,
    }
}

impl Session {
    async fn run(&mut self) {
        let mut buf = vec![0u8; READ_CHUNK];
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
                        if self.faults.bytes_in(n) == Some(Action::Drop) {
                            break Flow::Close; // injected: drop after N bytes
                        }
                        if self.silent {
                            continue; // injected never-reply: discard
                        }
                        self.shared.recorder.client(self.rec, &buf[..n]);
                        self.framer.push(&buf[..n]);
                        match self.dispatch().await {
                            Flow::Continue => {}
                            other => break other,
                        }
                    }
                    Err(_) => break Flow::Close,
                },
                Some(_) = self.tasks.join_next(), if !self.tasks.is_empty() => {}
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
        }
    }

    async fn drain(&mut self) {
        loop {
            tokio::select! {
                r = self.tasks.join_next() => if r.is_none() { break },
                _ = self.lines.tx.closed() => { self.cancel(); break; }
            }
        }
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
                    if self.silent {
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
            self.shared.recorder.command(self.rec, &line);
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
            let _ = self.lines.tx.send(Out::Mark).await;
        }
        if action.is_none() && scan_name.is_none() {
            // a forced error reply for a command without verdict: answer it now
            if let Some(body) = self.faults.take_forced().as_ref().and_then(forced_error) {
                return Some(self.reply(&id, body).await);
            }
        }
        let a = action?;
        debug!(?a, "injected fault");
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
            Action::StreamLimit(_) => {
                self.reply(
                    &id,
                    ErrorReply::SizeLimitExceeded(scan_name.unwrap_or_default()).body(),
                )
                .await
            }
            Action::Reply(f) => match forced_error(&f) {
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
        // SVSP-ERR-EAGAIN-1: per-connection queue limit, and the fault injection.
        let seen = self.shared.scans_seen.fetch_add(1, Ordering::SeqCst) + 1;
        let fault = self
            .shared
            .cfg
            .faults
            .eagain_every
            .is_some_and(|n| seen.is_multiple_of(n));
        if self.tasks.len() >= self.shared.cfg.max_queue || fault {
            return self.reply(&id, ErrorReply::ServerBusy.body()).await;
        }
        let accepted = self.shared.requests_accepted.fetch_add(1, Ordering::SeqCst) + 1;
        let efault = self
            .shared
            .cfg
            .faults
            .efault_every
            .is_some_and(|n| accepted.is_multiple_of(n));
        let opts = self.opts.clone(); // SVSP-CONC-3 snapshot
        let name = scan.display_name().to_vec();
        let ctx = ReqCtx {
            shared: self.shared.clone(),
            lines: self.lines.clone(),
            id: id.clone(),
            opts,
            efault,
            forced: self.faults.take_forced(),
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
            Source::Request => {
                let (local, peer) = (self.local, self.peer);
                self.tasks.spawn(async move {
                    if let Some(data) = ctx.request_channel(local, peer, &name).await {
                        ctx.queue_and_run(Target::Stream { name, data }).await;
                    }
                });
                Flow::Continue
            }
            Source::Port(port) => {
                let peer = self.peer;
                self.tasks.spawn(async move {
                    if let Some(data) = ctx.port_channel(peer, port, &name).await {
                        ctx.queue_and_run(Target::Stream { name, data }).await;
                    }
                });
                Flow::Continue
            }
            Source::Data(n) => {
                // SVSP-SCAN-DATA-1: SEND, then exactly n raw bytes on this connection.
                if !ctx.send(Body::Send(None)).await {
                    return Flow::Close;
                }
                let want = usize::try_from(n).unwrap_or(usize::MAX);
                let mut data = self.framer.take_raw(want);
                let mut buf = vec![0u8; READ_CHUNK];
                while data.len() < want {
                    match self.rd.read(&mut buf).await {
                        Ok(0) | Err(_) => return Flow::Drain,
                        Ok(got) => {
                            self.shared.recorder.client(self.rec, &buf[..got]);
                            let take = (want - data.len()).min(got);
                            data.extend_from_slice(&buf[..take]);
                            self.framer.push(&buf[take..got]);
                        }
                    }
                }
                self.tasks
                    .spawn(async move { ctx.queue_and_run(Target::Stream { name, data }).await });
                Flow::Continue
            }
            Source::Inline => {
                // SVSP-SCAN-INLINE-1: every byte up to the half-close is data.
                if !ctx.send(Body::Send(None)).await {
                    return Flow::Close;
                }
                let max = usize::try_from(self.shared.cfg.stream_max_length).unwrap_or(usize::MAX);
                let mut data = self.framer.take_raw(max.saturating_add(1));
                let mut over = data.len() > max;
                let mut buf = vec![0u8; READ_CHUNK];
                loop {
                    match self.rd.read(&mut buf).await {
                        Ok(0) => break,
                        Err(_) => return Flow::Close,
                        Ok(got) => {
                            self.shared.recorder.client(self.rec, &buf[..got]);
                            if !over {
                                data.extend_from_slice(&buf[..got]);
                                over = data.len() > max;
                            }
                        }
                    }
                }
                if over {
                    ctx.send(ErrorReply::SizeLimitExceeded(name).body()).await;
                } else {
                    self.tasks.spawn(async move {
                        ctx.queue_and_run(Target::Stream { name, data }).await
                    });
                }
                Flow::Drain
            }
        }
    }
}

/// A scan waiting for a worker.
pub(crate) struct Job {
    ctx: ReqCtx,
    target: Target,
    done: oneshot::Sender<()>,
}

/// Hands jobs to workers strictly in queue order (SVSP-CONC-4: FIFO, `--threads` workers).
pub(crate) async fn dispatcher(mut rx: mpsc::UnboundedReceiver<Job>, workers: Arc<Semaphore>) {
    while let Some(job) = rx.recv().await {
        let Ok(permit) = workers.clone().acquire_owned().await else {
            return;
        };
        tokio::spawn(async move {
            job.ctx.execute(job.target, permit).await;
            let _ = job.done.send(());
        });
    }
}

/// One accepted request's context.
struct ReqCtx {
    shared: Arc<Shared>,
    lines: Lines,
    id: Option<Id>,
    opts: OptionState,
    efault: bool,
    /// Injected verdict / error for this request.
    forced: Option<ForcedReply>,
}

impl ReqCtx {
    async fn send(&self, body: Body) -> bool {
        self.lines.send(&self.id, body).await
    }

    async fn queue_and_run(self, target: Target) {
        // Stream sources reach the queue once their data is complete (SVSP-RESP-QUEUED-1, INC-35).
        if self.shared.want_queued() && !self.send(Body::Queued).await {
            return;
        }
        self.run(target).await;
    }

    /// Puts the request on the FIFO queue now; the returned future ends with the request.
    fn enqueue(self, target: Target) -> impl std::future::Future<Output = ()> {
        let (done, rx) = oneshot::channel();
        let jobs = self.shared.jobs.clone();
        let _ = jobs.send(Job {
            ctx: self,
            target,
            done,
        });
        async move {
            let _ = rx.await;
        }
    }

    async fn run(self, target: Target) {
        self.enqueue(target).await
    }

    /// Scans on a blocking thread while holding a worker permit.
    async fn execute(self, target: Target, permit: tokio::sync::OwnedSemaphorePermit) {
        let shared = self.shared.clone();
        let lines = self.lines.clone();
        let id = self.id.clone();
        let opts = self.opts;
        let efault = self.efault;
        if let Some(f) = &self.forced {
            drop(permit);
            let target_name = match &target {
                Target::Path { name, .. } | Target::Stream { name, .. } => name.clone(),
            };
            // injected verdict: the SVSP-RESP-INFECTED-1 / SVSP-RESP-DONE-1 lines
            let scanning = Body::Scanning(vec![target_name.clone()]);
            let bodies = match f {
                ForcedReply::Infected(virus) => vec![
                    scanning,
                    Body::Infected {
                        virus: virus.as_bytes().to_vec(),
                        name: vec![target_name.clone()],
                        message: Vec::new(),
                    },
                    Body::Done {
                        count: Some(1),
                        target: target_name,
                        sha1: None,
                    },
                ],
                ForcedReply::Clean => vec![
                    scanning,
                    Body::Done {
                        count: Some(0),
                        target: target_name,
                        sha1: None,
                    },
                ],
                other => forced_error(other).into_iter().collect(),
            };
            for b in bodies {
                if !self.lines.send(&self.id, b).await {
                    break;
                }
            }
            return;
        }
        let res = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let cancelled = lines.cancelled.clone();
            let mut emit = |body: Body| lines.blocking_send(&id, body);
            run_request(&shared.env, &opts, target, efault, &cancelled, &mut emit);
        })
        .await;
        if res.is_err() {
            // SVSP-ERR-EFAULT-1: a panicking worker; the connection survives.
            warn!("scan worker failed");
            self.lines
                .send(&self.id, ErrorReply::InternalError.body())
                .await;
        }
    }

    /// SVSP-SCAN-REQUEST-1 / -2.
    async fn request_channel(&self, local: IpAddr, peer: IpAddr, name: &[u8]) -> Option<Vec<u8>> {
        let listener = match TcpListener::bind(SocketAddr::new(local, 0)).await {
            Ok(l) => l,
            Err(_) => {
                self.send(ErrorReply::InternalError.body()).await;
                return None;
            }
        };
        let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
        if !self.send(Body::Send(Some(port))).await {
            return None;
        }
        let deadline = tokio::time::Instant::now() + self.shared.cfg.data_timeout;
        let stream = loop {
            match tokio::time::timeout_at(deadline, listener.accept()).await {
                Ok(Ok((s, a))) if same_ip(a.ip(), peer) => break s,
                Ok(Ok((s, a))) => {
                    debug!("data connection from foreign {a} closed");
                    drop(s);
                }
                Ok(Err(_)) | Err(_) => {
                    self.send(ErrorReply::NoConnection(port).body()).await;
                    return None;
                }
            }
        };
        drop(listener);
        self.read_stream(stream, port, name).await
    }

    /// SVSP-SCAN-PORT-1.
    async fn port_channel(&self, peer: IpAddr, port: u16, name: &[u8]) -> Option<Vec<u8>> {
        if self.shared.cfg.port_send_echo && !self.send(Body::Send(Some(port))).await {
            return None;
        }
        let stream = match tokio::time::timeout(
            self.shared.cfg.data_timeout,
            TcpStream::connect(SocketAddr::new(peer, port)),
        )
        .await
        {
            Ok(Ok(s)) => s,
            _ => {
                self.send(ErrorReply::NoConnection(port).body()).await;
                return None;
            }
        };
        self.read_stream(stream, port, name).await
    }

    /// Reads a data connection to EOF, bounded in bytes and idle time.
    async fn read_stream(&self, mut s: TcpStream, port: u16, name: &[u8]) -> Option<Vec<u8>> {
        let max = usize::try_from(self.shared.cfg.stream_max_length).unwrap_or(usize::MAX);
        let mut data = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match tokio::time::timeout(self.shared.cfg.data_timeout, s.read(&mut buf)).await {
                Ok(Ok(0)) => return Some(data),
                Ok(Ok(n)) => {
                    if data.len() + n > max {
                        // CL-5: no QUEUED, single terminal line.
                        drop(s);
                        self.send(ErrorReply::SizeLimitExceeded(name.to_vec()).body())
                            .await;
                        return None;
                    }
                    data.extend_from_slice(&buf[..n]);
                }
                Ok(Err(_)) | Err(_) => {
                    self.send(ErrorReply::NoConnection(port).body()).await;
                    return None;
                }
            }
        }
    }
}
