//! The public streaming API: `Client::open` → `Scan::write`... → `Scan::close` → `Report`,
//! plus one-shot `scan_reader` / `scan_file` / `scan_bytes`. Blocking; usable from C-like
//! read/write callbacks. Sessions are kept open across scans (one IDSESSION / one SVSP
//! connection) and ended with END / QUIT by `Client::close` or drop.

use std::io::Read;
use std::net::{Shutdown, TcpStream};
use std::path::Path;
use std::time::Instant;

use crate::clamd::ClamdSession;
use crate::config::{ClientConfig, Protocol, SvspSource};
use crate::error::{FaveError, LimitOrigin};
use crate::source::{Next, TimedSource};
use crate::svsp::{self, RequestState, SvspSession};
use crate::trace::{Dir, TraceSink, Tracer};
use crate::transport::{Deadline, WireCounters};
use crate::verdict::{Report, Stats, Verdict};

/// A client for one daemon. Not thread-safe by design (one scan at a time); make one per thread.
pub struct Client {
    cfg: ClientConfig,
    trace: Option<TraceSink>,
    clamd: Option<ClamdSession>,
    svsp: Option<SvspSession>,
    /// The scan driven through `begin`/`write`/`end` (handle-style API).
    active: Option<ScanState>,
}

enum Backend {
    Clamd {
        id: u64,
    },
    Svsp {
        id: svsp_proto::Id,
        data: Option<TcpStream>,
    },
}

/// One scan in progress. Dropping it without [`Scan::close`] abandons the session.
pub struct Scan<'a> {
    client: &'a mut Client,
    st: ScanState,
}

/// The state of one scan, apart from the client it runs on.
struct ScanState {
    backend: Option<Backend>,
    failed: Option<FaveError>,
    local_limit_hit: bool,
    /// clamd: 4 bytes of header room followed by up to `chunk_size` data bytes.
    frame: Vec<u8>,
    stats: Stats,
    start: Instant,
    dl: Deadline,
    wire_base: WireCounters,
    data_bytes_sent: u64,
    done: bool,
}

impl Client {
    pub fn new(cfg: ClientConfig) -> Result<Client, FaveError> {
        cfg.validate()?;
        Ok(Client {
            cfg,
            trace: None,
            clamd: None,
            svsp: None,
            active: None,
        })
    }

    /// Receive every wire event (FAVE-6 TRACE).
    pub fn with_trace(mut self, sink: TraceSink) -> Client {
        self.trace = Some(sink);
        self
    }

    pub fn config(&self) -> &ClientConfig {
        &self.cfg
    }

    fn tracer(&self, channel: &'static str) -> Tracer {
        Tracer::new(self.trace.clone(), channel)
    }

    fn counters(&self) -> WireCounters {
        if let Some(s) = &self.clamd {
            return s.conn.counters;
        }
        if let Some(s) = &self.svsp {
            return s.counters();
        }
        WireCounters::default()
    }

    /// Make sure a usable session exists; returns the number of connections opened.
    fn ensure_session(&mut self, dl: &Deadline, stats: &mut Stats) -> Result<(), FaveError> {
        match self.cfg.protocol {
            Protocol::Clamd => {
                let reuse = match self.clamd.as_mut() {
                    Some(s) => s.reusable(self.cfg.session_idle_max),
                    None => false,
                };
                if !reuse {
                    if let Some(old) = self.clamd.take() {
                        old.end(self.cfg.timeouts.io);
                    }
                    self.clamd = Some(ClamdSession::open(&self.cfg, self.tracer("control"), dl)?);
                    stats.connections += 1;
                }
            }
            Protocol::Svsp => {
                let reuse = self.svsp.as_mut().is_some_and(|s| s.reusable());
                if !reuse {
                    if let Some(old) = self.svsp.take() {
                        old.quit(self.cfg.timeouts.io);
                    }
                    self.svsp = Some(SvspSession::open(&self.cfg, self.tracer("control"), dl)?);
                    stats.connections += 1;
                    stats.round_trips += 1; // READY
                }
            }
        }
        Ok(())
    }

    /// Open a streaming scan. `name` is the display name (SVSP REQUEST/PORT; ignored by clamd).
    /// Never fails here: a connection problem makes every `write` fail and `close` return an
    /// error verdict.
    pub fn open(&mut self, name: &str) -> Scan<'_> {
        let st = self.open_state(name);
        Scan { client: self, st }
    }

    fn open_state(&mut self, name: &str) -> ScanState {
        let start = Instant::now();
        let dl = Deadline::after(self.cfg.timeouts.scan);
        let mut stats = Stats::default();
        let mut failed = None;
        let mut backend = None;
        match self.ensure_session(&dl, &mut stats) {
            Err(e) => failed = Some(e),
            Ok(()) => match self.start_backend(name, &dl, &mut stats) {
                Ok(b) => backend = Some(b),
                Err(e) => failed = Some(e),
            },
        }
        let wire_base = if stats.connections > 0 {
            WireCounters::default()
        } else {
            self.counters()
        };
        if failed.is_some() {
            self.drop_broken();
        }
        let chunk = self.cfg.chunk_size;
        let mut frame = Vec::with_capacity(if self.cfg.protocol == Protocol::Clamd {
            chunk + 4
        } else {
            0
        });
        frame.extend_from_slice(&[0; 4]);
        ScanState {
            backend,
            failed,
            local_limit_hit: false,
            frame,
            stats,
            start,
            dl,
            wire_base,
            data_bytes_sent: 0,
            done: false,
        }
    }

    fn start_backend(
        &mut self,
        name: &str,
        dl: &Deadline,
        stats: &mut Stats,
    ) -> Result<Backend, FaveError> {
        match self.cfg.protocol {
            Protocol::Clamd => {
                let s = self
                    .clamd
                    .as_mut()
                    .ok_or_else(|| FaveError::Protocol("no session".into()))?;
                let id = s.start_instream(dl)?;
                Ok(Backend::Clamd { id })
            }
            Protocol::Svsp => {
                let s = self
                    .svsp
                    .as_mut()
                    .ok_or_else(|| FaveError::Protocol("no session".into()))?;
                let (id, data) = match self.cfg.svsp_source {
                    SvspSource::Port => s.start_port(name.as_bytes(), dl)?,
                    // FILE / FILE-SHA1 cannot carry a stream: use REQUEST (SVSP-CLIENT-6).
                    SvspSource::Request | SvspSource::File | SvspSource::FileSha1 => {
                        stats.round_trips += 1; // command → SEND
                        s.start_request(name.as_bytes(), dl)?
                    }
                };
                Ok(Backend::Svsp {
                    id,
                    data: Some(data),
                })
            }
        }
    }

    fn drop_broken(&mut self) {
        if self.clamd.as_ref().is_some_and(|s| s.broken) {
            self.clamd = None;
        }
        if self.svsp.as_ref().is_some_and(|s| s.broken) {
            self.svsp = None;
        }
    }

    /// Scan everything `r` yields. The whole-scan deadline is checked after every read; a
    /// read that blocks is not interrupted (use [`Client::scan_stdin`] / [`Client::scan_file`]
    /// for pipes and FIFOs, or [`Client::scan_reader_timed`]).
    pub fn scan_reader(&mut self, name: &str, mut r: impl Read) -> Report {
        let mut buf = vec![0u8; self.cfg.chunk_size.max(4096)];
        let mut scan = self.open(name);
        loop {
            match r.read(&mut buf) {
                Ok(0) => return scan.close(),
                Ok(n) => {
                    if scan.st.dl.remaining().is_zero() {
                        let e = scan.st.dl.timeout_error(&format!("reading {name}"));
                        return scan.abort(e);
                    }
                    if scan.write(&buf[..n]).is_err() {
                        return scan.close();
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return scan.abort(FaveError::LocalIo(format!("reading {name}: {e}"))),
            }
        }
    }

    /// Scan standard input; the whole-scan timeout covers waiting for it (a silent pipe is
    /// a timeout error, never a hang).
    pub fn scan_stdin(&mut self) -> Report {
        self.scan_reader_timed("stdin", std::io::stdin())
    }

    /// Scan everything `r` yields, reading it on a helper thread so that the whole-scan
    /// deadline ("from open to verdict") covers blocked reads too: when it passes, the
    /// verdict is a timeout error and the thread is abandoned.
    pub fn scan_reader_timed<R: Read + Send + 'static>(&mut self, name: &str, r: R) -> Report {
        self.scan_opened_timed(name, move || Ok(r))
    }

    /// [`Client::scan_reader_timed`] with the source opened on the helper thread too (opening
    /// a FIFO blocks until a writer comes).
    fn scan_opened_timed<R, F>(&mut self, name: &str, open: F) -> Report
    where
        R: Read,
        F: FnOnce() -> std::io::Result<R> + Send + 'static,
    {
        let source = TimedSource::spawn(open, self.cfg.chunk_size.max(4096));
        let mut scan = self.open(name);
        let mut source = match source {
            Ok(s) => s,
            Err(e) => {
                return scan.abort(FaveError::LocalIo(format!(
                    "reading {name}: cannot start the reader thread: {e}"
                )))
            }
        };
        loop {
            match source.next(&scan.st.dl) {
                Next::Data(piece) => {
                    if scan.write(&piece).is_err() {
                        return scan.close();
                    }
                }
                Next::Eof => return scan.close(),
                Next::Failed(e) => {
                    return scan.abort(FaveError::LocalIo(format!("reading {name}: {e}")))
                }
                Next::TimedOut => {
                    let e = scan.st.dl.timeout_error(&format!("reading {name}"));
                    return scan.abort(e);
                }
            }
        }
    }

    pub fn scan_bytes(&mut self, name: &str, data: &[u8]) -> Report {
        self.scan_reader(name, data)
    }

    /// Scan a local file. Files larger than a known `stream_max_length` are refused before
    /// anything is sent. With SVSP `File`/`FileSha1` sources the daemon reads the (absolute)
    /// path itself.
    pub fn scan_file(&mut self, path: &Path) -> Report {
        let start = Instant::now();
        let err = |e: FaveError| Report {
            verdict: Verdict::Error(e),
            stats: Stats {
                elapsed: start.elapsed(),
                ..Stats::default()
            },
            sha1: None,
        };
        if self.cfg.protocol == Protocol::Svsp
            && matches!(
                self.cfg.svsp_source,
                SvspSource::File | SvspSource::FileSha1
            )
        {
            let abs = match std::path::absolute(path) {
                Ok(p) => p,
                Err(e) => return err(FaveError::LocalIo(format!("{}: {e}", path.display()))),
            };
            return self.scan_svsp_path(&abs, start);
        }
        let meta = match std::fs::metadata(path) {
            Ok(m) => m,
            Err(e) => return err(FaveError::LocalIo(format!("{}: {e}", path.display()))),
        };
        if let Some(limit) = self.cfg.stream_max_length {
            if meta.is_file() && meta.len() > limit {
                return err(FaveError::TooLarge {
                    origin: LimitOrigin::Local,
                    limit: Some(limit),
                    detail: format!("{} is {} bytes", path.display(), meta.len()),
                });
            }
        }
        if !meta.is_file() {
            // A FIFO, device or socket can block in open and in read: the deadline covers both.
            let owned = path.to_path_buf();
            return self
                .scan_opened_timed(&path.to_string_lossy(), move || std::fs::File::open(&owned));
        }
        match std::fs::File::open(path) {
            Ok(f) => self.scan_reader(&path.to_string_lossy(), f),
            Err(e) => err(FaveError::LocalIo(format!("{}: {e}", path.display()))),
        }
    }

    fn scan_svsp_path(&mut self, abs: &Path, start: Instant) -> Report {
        use std::os::unix::ffi::OsStrExt;
        let dl = Deadline::after(self.cfg.timeouts.scan);
        let mut stats = Stats::default();
        if let Err(e) = self.ensure_session(&dl, &mut stats) {
            self.drop_broken();
            stats.elapsed = start.elapsed();
            return Report {
                verdict: Verdict::Error(e),
                stats,
                sha1: None,
            };
        }
        let base = if stats.connections > 0 {
            WireCounters::default()
        } else {
            self.counters()
        };
        let sha1 = self.cfg.svsp_source == SvspSource::FileSha1;
        let (verdict, st) = match self.svsp.as_mut() {
            Some(s) => s.scan_path(abs.as_os_str().as_bytes(), sha1, self.cfg.busy_retries, &dl),
            None => (
                Verdict::Error(FaveError::Protocol("no session".into())),
                RequestState::default(),
            ),
        };
        stats.round_trips += 1;
        stats.wire = diff(self.counters(), base);
        self.drop_broken();
        stats.elapsed = start.elapsed();
        Report {
            verdict,
            stats,
            sha1: st.sha1,
        }
    }

    /// clamd only (SVSP scans one file after the other): send every file as its own
    /// INSTREAM in one fresh IDSESSION without waiting, then `END`, then read all replies and
    /// match them by number (CLAMD-SESSION-4: they may come in any order, e.g. a daemon that
    /// holds replies until END). Files that could not be sent because the session broke are
    /// scanned again one by one on new sessions. Reports are in input order.
    pub fn scan_files_pipelined(&mut self, paths: &[std::path::PathBuf]) -> Vec<Report> {
        self.pipelined(paths, true)
    }

    fn pipelined(&mut self, paths: &[std::path::PathBuf], retry: bool) -> Vec<Report> {
        if self.cfg.protocol != Protocol::Clamd {
            return paths.iter().map(|p| self.scan_file(p)).collect();
        }
        if let Some(old) = self.clamd.take() {
            old.end(self.cfg.timeouts.io);
        }
        let start = Instant::now();
        let dl = Deadline::after(
            self.cfg
                .timeouts
                .scan
                .saturating_mul(paths.len().max(1) as u32),
        );
        let mut reports: Vec<Option<Report>> = vec![None; paths.len()];
        let err_report = |e: FaveError, stats: Stats| Report {
            verdict: Verdict::Error(e),
            stats,
            sha1: None,
        };
        let mut session = match ClamdSession::open(&self.cfg, self.tracer("control"), &dl) {
            Ok(s) => s,
            Err(e) => {
                return paths
                    .iter()
                    .map(|_| {
                        err_report(
                            e.clone(),
                            Stats {
                                elapsed: start.elapsed(),
                                ..Stats::default()
                            },
                        )
                    })
                    .collect()
            }
        };
        let chunk = self.cfg.chunk_size;
        let mut frame = vec![0u8; chunk + 4];
        let mut sent: Vec<(usize, u64, Stats)> = Vec::new();
        let mut first = true;
        // Non-regular files (FIFOs, devices) can block in open and read: scanned one by one
        // after the batch, under their own deadline.
        let mut deferred: Vec<usize> = Vec::new();
        for (i, p) in paths.iter().enumerate() {
            if session.broken {
                break;
            }
            if std::fs::metadata(p).is_ok_and(|m| !m.is_file()) {
                deferred.push(i);
                continue;
            }
            let mut stats = Stats {
                connections: u64::from(first),
                ..Stats::default()
            };
            let mut file = match std::fs::File::open(p) {
                Ok(f) => f,
                Err(e) => {
                    reports[i] = Some(err_report(
                        FaveError::LocalIo(format!("{}: {e}", p.display())),
                        stats,
                    ));
                    continue;
                }
            };
            if let (Some(limit), Ok(m)) = (self.cfg.stream_max_length, file.metadata()) {
                if m.is_file() && m.len() > limit {
                    let e = FaveError::TooLarge {
                        origin: LimitOrigin::Local,
                        limit: Some(limit),
                        detail: format!("{} is {} bytes", p.display(), m.len()),
                    };
                    reports[i] = Some(err_report(e, stats));
                    continue;
                }
            }
            let id = match session.start_instream(&dl) {
                Ok(id) => id,
                Err(_) => break,
            };
            first = false;
            let mut failed = None;
            loop {
                let n = match file.read(&mut frame[4..]) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        // mid-stream: the session cannot continue
                        session.broken = true;
                        failed = Some(FaveError::LocalIo(format!("{}: {e}", p.display())));
                        break;
                    }
                };
                if let Some(limit) = self.cfg.stream_max_length {
                    if stats.bytes + n as u64 > limit {
                        session.broken = true;
                        failed = Some(FaveError::TooLarge {
                            origin: LimitOrigin::Local,
                            limit: Some(limit),
                            detail: format!("{} grew past the limit", p.display()),
                        });
                        break;
                    }
                }
                frame[..4].copy_from_slice(&crate::clamd::chunk_header(n));
                if let Err(e) = session.send_frame(id, &frame[..n + 4], &dl) {
                    failed = Some(e);
                    break;
                }
                stats.bytes += n as u64;
                stats.chunks += 1;
            }
            if failed.is_none() {
                if let Err(e) = session.send_terminator(&dl) {
                    failed = Some(e);
                }
            }
            stats.round_trips = 1;
            match failed {
                Some(e) => {
                    stats.elapsed = start.elapsed();
                    reports[i] = Some(err_report(e, stats));
                    break;
                }
                None => sent.push((i, id, stats)),
            }
        }
        let ids: Vec<u64> = sent.iter().map(|(_, id, _)| *id).collect();
        let mut verdicts = session.end_and_collect(&ids, &dl);
        for (i, id, mut stats) in sent {
            stats.elapsed = start.elapsed();
            // No reply (the session ended early): left for the one-by-one retry below.
            if let Some(verdict) = verdicts.remove(&id) {
                reports[i] = Some(Report {
                    verdict,
                    stats,
                    sha1: None,
                });
            }
        }
        for i in deferred {
            reports[i] = Some(self.scan_file(&paths[i]));
        }
        // Not attempted, or no reply because the session broke: once more, one file per new
        // session (still pipelined: the reply may only come after END).
        paths
            .iter()
            .zip(reports)
            .map(|(p, r)| match r {
                Some(r) => r,
                None if retry => self.pipelined(std::slice::from_ref(p), false).remove(0),
                None => err_report(
                    FaveError::ConnectionLost("session ended without a reply for this file".into()),
                    Stats {
                        elapsed: start.elapsed(),
                        ..Stats::default()
                    },
                ),
            })
            .collect()
    }

    /// Handle-style API for C-like open/write/close callbacks (one handle = one `Client`):
    /// start a scan kept inside the client. A scan still open is abandoned first.
    pub fn begin(&mut self, name: &str) {
        if let Some(mut old) = self.active.take() {
            old.abandon(self);
        }
        let st = self.open_state(name);
        self.active = Some(st);
    }

    /// Feed data to the scan started with [`Client::begin`].
    pub fn write(&mut self, data: &[u8]) -> Result<(), FaveError> {
        let mut st = self
            .active
            .take()
            .ok_or_else(|| FaveError::Protocol("no scan open (call begin first)".into()))?;
        let r = st.write(self, data);
        self.active = Some(st);
        r
    }

    /// Finish the scan started with [`Client::begin`]; without one, an error verdict.
    pub fn end(&mut self) -> Report {
        match self.active.take() {
            Some(mut st) => st.close(self),
            None => Report {
                verdict: Verdict::Error(FaveError::Protocol(
                    "no scan open (call begin first)".into(),
                )),
                stats: Stats::default(),
                sha1: None,
            },
        }
    }

    /// End the session politely: `END` for clamd (CLAMD-CLIENT-9), `QUIT` for SVSP.
    pub fn close(&mut self) {
        if let Some(mut st) = self.active.take() {
            st.abandon(self);
        }
        let t = self.cfg.timeouts.io;
        if let Some(s) = self.clamd.take() {
            s.end(t);
        }
        if let Some(s) = self.svsp.take() {
            s.quit(t);
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.close();
    }
}

fn diff(now: WireCounters, base: WireCounters) -> WireCounters {
    WireCounters {
        bytes_sent: now.bytes_sent.saturating_sub(base.bytes_sent),
        bytes_received: now.bytes_received.saturating_sub(base.bytes_received),
    }
}

impl ScanState {
    /// Feed data. An `Err` means the scan has failed; `close` will return an error verdict (or
    /// the daemon's verdict on what it did receive, when that is *infected*).
    fn write(&mut self, c: &mut Client, mut data: &[u8]) -> Result<(), FaveError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let total = self.stats.bytes + data.len() as u64;
        if let Some(limit) = c.cfg.stream_max_length {
            if total > limit {
                // CLAMD-CLIENT-2/4: do not send past StreamMaxLength; distinct too-large error.
                let e = FaveError::TooLarge {
                    origin: LimitOrigin::Local,
                    limit: Some(limit),
                    detail: format!("stream would reach {total} bytes"),
                };
                self.local_limit_hit = true;
                self.failed = Some(e.clone());
                return Err(e);
            }
        }
        let chunk = c.cfg.chunk_size;
        let io = c.cfg.timeouts.io;
        let res = match self.backend.as_mut() {
            None => Err(FaveError::Protocol("scan not open".into())),
            Some(Backend::Clamd { id }) => {
                let id = *id;
                let mut r = Ok(());
                while !data.is_empty() {
                    let room = chunk + 4 - self.frame.len();
                    let take = room.min(data.len());
                    self.frame.extend_from_slice(&data[..take]);
                    data = &data[take..];
                    self.stats.bytes += take as u64;
                    if self.frame.len() == chunk + 4 {
                        r = self.flush_clamd(c, id);
                        if r.is_err() {
                            break;
                        }
                    }
                }
                r
            }
            Some(Backend::Svsp { data: stream, .. }) => {
                let mut r = Ok(());
                if let Some(s) = stream.as_mut() {
                    let tracer = Tracer::new(c.trace.clone(), "data");
                    for piece in data.chunks(chunk) {
                        tracer.note(Dir::Sent, &format!("[data {} bytes]", piece.len()));
                        r = svsp::data_write(s, piece, io, &self.dl);
                        if r.is_err() {
                            break;
                        }
                        self.stats.bytes += piece.len() as u64;
                        self.stats.chunks += 1;
                        self.data_bytes_sent += piece.len() as u64;
                    }
                }
                if let Err(e) = &r {
                    self.trace_note(c, &format!("<data channel write failed: {e}>"));
                }
                r
            }
        };
        if let Err(e) = &res {
            self.failed = Some(e.clone());
        }
        res
    }

    fn trace_note(&self, c: &Client, text: &str) {
        Tracer::new(c.trace.clone(), "data").note(Dir::Sent, text);
    }

    fn flush_clamd(&mut self, c: &mut Client, id: u64) -> Result<(), FaveError> {
        let len = self.frame.len() - 4;
        if len == 0 {
            return Ok(());
        }
        self.frame[..4].copy_from_slice(&crate::clamd::chunk_header(len));
        self.stats.chunks += 1;
        let s = c
            .clamd
            .as_mut()
            .ok_or_else(|| FaveError::Protocol("session gone".into()))?;
        let r = s.send_frame(id, &self.frame, &self.dl);
        self.frame.truncate(4);
        r
    }

    /// Finish the stream and get the verdict.
    fn close(&mut self, c: &mut Client) -> Report {
        let verdict = self.finish(c);
        self.report(c, verdict)
    }

    /// Give up (e.g. the local source failed). The stream is ended cleanly when possible so
    /// that the session survives, but the verdict is always the given error.
    fn abort(&mut self, c: &mut Client, err: FaveError) -> Report {
        if self.failed.is_none() {
            self.failed = Some(err.clone());
        }
        let _ = self.finish(c);
        self.report(c, Verdict::Error(err))
    }

    fn report(&mut self, c: &mut Client, verdict: Verdict) -> Report {
        self.done = true;
        self.stats.wire = diff(c.counters(), self.wire_base);
        self.stats.wire.bytes_sent += self.data_bytes_sent;
        c.drop_broken();
        self.stats.elapsed = self.start.elapsed();
        Report {
            verdict,
            stats: self.stats,
            sha1: None,
        }
    }

    fn finish(&mut self, c: &mut Client) -> Verdict {
        self.done = true;
        match self.backend.take() {
            None => Verdict::Error(
                self.failed
                    .clone()
                    .unwrap_or_else(|| FaveError::Protocol("scan not open".into())),
            ),
            Some(Backend::Clamd { id }) => {
                // A write already failed (and CLAMD-CLIENT-4's pending reply was read): error.
                if let Some(e) = &self.failed {
                    if !self.local_limit_hit || c.clamd.as_ref().is_none_or(|s| s.broken) {
                        if let Some(s) = c.clamd.as_mut() {
                            s.broken = true;
                        }
                        return Verdict::Error(e.clone());
                    }
                }
                if self.frame.len() > 4 {
                    if let Err(e) = self.flush_clamd(c, id) {
                        return Verdict::Error(e);
                    }
                }
                let Some(s) = c.clamd.as_mut() else {
                    return Verdict::Error(FaveError::Protocol("session gone".into()));
                };
                self.stats.round_trips += 1;
                let v = s.finish(id, &self.dl);
                match (&self.failed, v) {
                    (None, v) => v,
                    // Local limit: what was sent is infected → report it; otherwise too large.
                    (Some(_), Verdict::Infected(n)) => Verdict::Infected(n),
                    (Some(e), _) => Verdict::Error(e.clone()),
                }
            }
            Some(Backend::Svsp { id, data }) => {
                if let Some(d) = data {
                    // EOF on the data channel ends the data (SVSP-SCAN-REQUEST-1 step 2).
                    let _ = d.shutdown(Shutdown::Write);
                    drop(d);
                }
                let Some(s) = c.svsp.as_mut() else {
                    return Verdict::Error(FaveError::Protocol("session gone".into()));
                };
                self.stats.round_trips += 1;
                let mut st = RequestState::default();
                let v = s.await_terminal(&id, &self.dl, &mut st);
                match (&self.failed, v) {
                    (None, v) => v,
                    (Some(_), Verdict::Infected(n)) => Verdict::Infected(n),
                    // The daemon's own error explains a data-channel failure best.
                    (Some(_), Verdict::Error(d)) => Verdict::Error(d),
                    // Never clean when we could not send everything (fail closed).
                    (Some(e), Verdict::Clean) => Verdict::Error(e.clone()),
                }
            }
        }
    }
}

impl ScanState {
    /// Abandoned mid-stream: the session cannot be resynchronised.
    fn abandon(&mut self, c: &mut Client) {
        if !self.done {
            self.done = true;
            if let Some(s) = c.clamd.as_mut() {
                s.broken = true;
            }
            if let Some(s) = c.svsp.as_mut() {
                s.broken = true;
            }
            c.drop_broken();
        }
    }
}

impl Scan<'_> {
    /// Feed data. An `Err` means the scan has failed; `close` will return an error verdict (or
    /// the daemon's verdict on what it did receive, when that is *infected*).
    pub fn write(&mut self, data: &[u8]) -> Result<(), FaveError> {
        self.st.write(self.client, data)
    }

    /// Finish the stream and get the verdict.
    pub fn close(mut self) -> Report {
        self.st.close(self.client)
    }

    /// Give up (e.g. the local source failed); the verdict is always the given error.
    pub fn abort(mut self, err: FaveError) -> Report {
        self.st.abort(self.client, err)
    }
}

impl Drop for Scan<'_> {
    fn drop(&mut self) {
        self.st.abandon(self.client);
    }
}
