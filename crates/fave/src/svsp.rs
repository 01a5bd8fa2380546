//! SVSP engine: READY handshake, one request at a time with a unique identifier, FILE,
//! FILE-SHA1, REQUEST (connect to the SEND port on the control host) and PORT (listen before
//! sending the command), QUIT at the end (SVSP-CLIENT-1..20).

use std::io::{self, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use crate::config::ClientConfig;
use crate::error::FaveError;
use crate::trace::{Dir, Tracer};
use crate::transport::{Conn, Deadline, Stream, MAX_RECORD};
use crate::verdict::Verdict;

/// First wait before a request refused with `EAGAIN` is sent again (then doubling).
pub(crate) const BUSY_BACKOFF: Duration = Duration::from_millis(50);
use svsp_proto::{
    is_sendable_name, parse_response, Body, Command, Eol, Id, Response, ScanCommand, Source,
};

/// One parsed line: `Ok(None)` for blank lines; `Err` for a malformed line (fail closed).
fn parse(line: &[u8]) -> Result<Option<Response>, FaveError> {
    parse_response(line).map_err(|e| {
        FaveError::Protocol(format!(
            "malformed SVSP line `{}`: {e}",
            String::from_utf8_lossy(line)
        ))
    })
}

fn errno_error(errno: &svsp_proto::Errno, text: &[u8]) -> FaveError {
    // SVSP-CLIENT-10: only the errno name classifies; the text is for humans.
    FaveError::Daemon(format!(
        "{} {}",
        errno.as_str(),
        String::from_utf8_lossy(text)
    ))
}

fn strip_eol(line: &[u8]) -> &[u8] {
    let l = line.strip_suffix(b"\n").unwrap_or(line);
    l.strip_suffix(b"\r").unwrap_or(l)
}

pub(crate) struct SvspSession {
    conn: Conn,
    next_id: u32,
    peer: IpAddr,
    local: IpAddr,
    io_timeout: Duration,
    connect_timeout: Duration,
    pub(crate) broken: bool,
    /// A read (or the wait for a PORT data connection) already ran out of time: the daemon
    /// is not answering, so `QUIT` does not wait a second time for its `OK`.
    unresponsive: bool,
}

/// Accumulated state of one request.
#[derive(Default)]
pub(crate) struct RequestState {
    names: Vec<String>,
    pub(crate) sha1: Option<String>,
    /// The request ended with `EAGAIN` (SVSP-ERR-EAGAIN-1): it never became a scan and may be
    /// sent again after a back-off (SVSP-CLIENT-10).
    pub(crate) busy: bool,
}

impl SvspSession {
    /// Connect and wait for `READY` (SVSP-CLIENT-1).
    pub(crate) fn open(
        cfg: &ClientConfig,
        tracer: Tracer,
        dl: &Deadline,
    ) -> Result<SvspSession, FaveError> {
        let stream = Stream::connect(&cfg.address, &cfg.timeouts, dl)?;
        let peer = stream
            .peer_ip()
            .ok_or_else(|| FaveError::Config("SVSP needs TCP".into()))?;
        let local = stream
            .local_ip()
            .ok_or_else(|| FaveError::Config("SVSP needs TCP".into()))?;
        let conn = Conn::new(stream, cfg.timeouts.io, tracer);
        let mut s = SvspSession {
            conn,
            next_id: 0,
            peer,
            local,
            io_timeout: cfg.timeouts.io,
            connect_timeout: cfg.timeouts.connect,
            broken: false,
            unresponsive: false,
        };
        loop {
            match s.read_line(dl)? {
                None => return Err(FaveError::Refused("connection closed before READY".into())),
                Some(l) => {
                    return match parse(&l)? {
                        None => continue,
                        // SVSP-CLIENT-1.
                        Some(Response {
                            body: Body::Ready, ..
                        }) => Ok(s),
                        Some(Response {
                            body: Body::Denied, ..
                        }) => Err(FaveError::Refused("DENIED".into())),
                        Some(_) => Err(FaveError::Protocol(format!(
                            "expected READY, got `{}`",
                            String::from_utf8_lossy(&l)
                        ))),
                    };
                }
            }
        }
    }

    pub(crate) fn counters(&self) -> crate::transport::WireCounters {
        self.conn.counters
    }

    pub(crate) fn reusable(&mut self) -> bool {
        !self.broken && !self.conn.poll_early()
    }

    /// One line (terminator stripped), `None` at EOF. EOF inside a line is a truncation.
    fn read_line(&mut self, dl: &Deadline) -> Result<Option<Vec<u8>>, FaveError> {
        loop {
            if let Some(pos) = self.conn.buffer().iter().position(|&b| b == b'\n') {
                let line = strip_eol(&self.conn.buffer()[..=pos]).to_vec();
                self.conn.consume(pos + 1);
                return Ok(Some(line));
            }
            if self.conn.eof {
                if self.conn.buffer().is_empty() {
                    return Ok(None);
                }
                return Err(FaveError::ConnectionLost(format!(
                    "EOF inside a response line (truncated: {:?})",
                    String::from_utf8_lossy(self.conn.buffer())
                )));
            }
            if self.conn.buffer().len() > MAX_RECORD {
                return Err(FaveError::Protocol("response line too long".into()));
            }
            if let Err(e) = self.conn.fill(dl) {
                self.unresponsive |= matches!(e, FaveError::Timeout { .. });
                return Err(e);
            }
        }
    }

    /// SVSP-CLIENT-5: unique numeric identifiers (1..=9 digits).
    fn next_id(&mut self) -> Id {
        self.next_id = self.next_id % 999_999_999 + 1;
        Id::from_number(self.next_id).unwrap_or_else(|_| Id::parse("1").expect("literal id"))
    }

    fn send_command(
        &mut self,
        cmd: &Command,
        id: Option<&Id>,
        dl: &Deadline,
    ) -> Result<(), FaveError> {
        // SVSP-CLIENT-2/3: one command per write, CRLF.
        let line = cmd
            .encode(id, Eol::Crlf)
            .map_err(|e| FaveError::Unsupported(format!("cannot encode SVSP command: {e}")))?;
        self.conn
            .send(&line, dl, None)
            .inspect_err(|_| self.broken = true)
    }

    fn scan_cmd(source: Source, name: &[u8]) -> Command {
        // SVSP-CLIENT-6: an unsendable display name is simply left out for stream sources.
        let name = is_sendable_name(name).then(|| name.to_vec());
        Command::Scan(ScanCommand { source, name })
    }

    /// `SCAN/FILE` or `SCAN/FILE-SHA1` with an absolute path (SVSP-CLIENT-6). A request the
    /// server was too busy to take (`EAGAIN`) is sent again, with a new id, up to `retries`
    /// times after a doubling back-off that starts at [`BUSY_BACKOFF`], within the deadline
    /// (SVSP-ERR-EAGAIN-1, SVSP-CLIENT-10: the daemon reads the file itself, so nothing is
    /// lost by asking again).
    pub(crate) fn scan_path(
        &mut self,
        path: &[u8],
        sha1: bool,
        retries: u32,
        dl: &Deadline,
    ) -> (Verdict, RequestState) {
        let mut backoff = BUSY_BACKOFF;
        let mut attempt = 0;
        loop {
            let (v, st) = self.scan_path_once(path, sha1, dl);
            if !st.busy || attempt >= retries || self.broken {
                return (v, st);
            }
            let left = dl.remaining();
            if left <= backoff {
                return (v, st);
            }
            attempt += 1;
            self.conn.tracer.note(
                Dir::Sent,
                &format!("<EAGAIN: retry {attempt} of {retries} in {backoff:?}>"),
            );
            std::thread::sleep(backoff);
            backoff *= 2;
        }
    }

    fn scan_path_once(
        &mut self,
        path: &[u8],
        sha1: bool,
        dl: &Deadline,
    ) -> (Verdict, RequestState) {
        let mut st = RequestState::default();
        if !is_sendable_name(path) {
            return (
                Verdict::Error(FaveError::Unsupported(
                    "file name cannot be sent in a SVSP command".into(),
                )),
                st,
            );
        }
        let id = self.next_id();
        let source = if sha1 { Source::FileSha1 } else { Source::File };
        let cmd = Command::Scan(ScanCommand {
            source,
            name: Some(path.to_vec()),
        });
        if let Err(e) = self.send_command(&cmd, Some(&id), dl) {
            return (Verdict::Error(e), st);
        }
        let v = self.await_terminal(&id, dl, &mut st);
        (v, st)
    }

    /// `SCAN/REQUEST [name]`: wait for `SEND <port>`, connect to the control host at that port.
    pub(crate) fn start_request(
        &mut self,
        name: &[u8],
        dl: &Deadline,
    ) -> Result<(Id, TcpStream), FaveError> {
        let id = self.next_id();
        self.send_command(&Self::scan_cmd(Source::Request, name), Some(&id), dl)?;
        loop {
            let line = self.read_line(dl)?.ok_or_else(|| {
                self.broken = true;
                FaveError::ConnectionLost("EOF before SEND".into())
            })?;
            let Some(r) = parse(&line).inspect_err(|_| self.broken = true)? else {
                continue;
            };
            if r.id.as_ref() != Some(&id) {
                if r.id.is_none() {
                    if let Body::Error { errno, text } = &r.body {
                        return Err(errno_error(errno, text));
                    }
                }
                tracing::debug!(line = %String::from_utf8_lossy(&line), "SVSP line for another request ignored");
                continue;
            }
            match r.body {
                Body::Send(Some(port)) => {
                    // SVSP-CLIENT-15: connect to the host of the control connection.
                    let sa = SocketAddr::new(self.peer, port);
                    let t = dl.op_timeout(self.connect_timeout, "data connect")?;
                    let data =
                        TcpStream::connect_timeout(&sa, t).map_err(|e| FaveError::Connect {
                            addr: sa.to_string(),
                            reason: format!("SVSP data channel: {e}"),
                        })?;
                    let _ = data.set_nodelay(true);
                    self.conn
                        .tracer
                        .note(Dir::Sent, &format!("<data connection to {sa}>"));
                    return Ok((id, data));
                }
                Body::Send(None) => {
                    self.broken = true;
                    return Err(FaveError::Protocol(
                        "SEND without a port in reply to SCAN/REQUEST".into(),
                    ));
                }
                Body::Error { errno, text } => return Err(errno_error(&errno, &text)),
                Body::Queued | Body::Unknown(_) => continue,
                other => {
                    self.broken = true;
                    return Err(FaveError::Protocol(format!(
                        "unexpected {} before SEND",
                        other.keyword()
                    )));
                }
            }
        }
    }

    /// `SCAN/PORT <port> [name]`: listen first (SVSP-CLIENT-16), then send the command and
    /// accept one connection while watching the control connection for an error line.
    pub(crate) fn start_port(
        &mut self,
        name: &[u8],
        dl: &Deadline,
    ) -> Result<(Id, TcpStream), FaveError> {
        let listener = TcpListener::bind(SocketAddr::new(self.local, 0))
            .map_err(|e| FaveError::LocalIo(format!("cannot listen for SVSP PORT: {e}")))?;
        let port = listener
            .local_addr()
            .map_err(|e| FaveError::LocalIo(e.to_string()))?
            .port();
        listener
            .set_nonblocking(true)
            .map_err(|e| FaveError::LocalIo(e.to_string()))?;
        let id = self.next_id();
        self.send_command(&Self::scan_cmd(Source::Port(port), name), Some(&id), dl)?;
        let accept_dl =
            Deadline::after(dl.op_timeout(self.connect_timeout.max(self.io_timeout), "accept")?);
        loop {
            match listener.accept() {
                Ok((s, from)) => {
                    if from.ip() != self.peer {
                        tracing::warn!(%from, "SVSP PORT: connection from a foreign address dropped");
                        continue;
                    }
                    s.set_nonblocking(false)
                        .map_err(|e| FaveError::LocalIo(e.to_string()))?;
                    let _ = s.set_nodelay(true);
                    self.conn
                        .tracer
                        .note(Dir::Received, &format!("<data connection from {from}>"));
                    return Ok((id, s));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(FaveError::LocalIo(format!("accept: {e}"))),
            }
            if let Err(e) = accept_dl.op_timeout(
                Duration::from_secs(1),
                "waiting for the daemon's data connection",
            ) {
                self.unresponsive = true;
                return Err(e);
            }
            // Watch the control connection briefly: an error line ends the request.
            self.conn.poll_early();
            while let Some(pos) = self.conn.buffer().iter().position(|&b| b == b'\n') {
                let line = strip_eol(&self.conn.buffer()[..=pos]).to_vec();
                self.conn.consume(pos + 1);
                let Some(r) = parse(&line)? else { continue };
                let ours = r.id.as_ref() == Some(&id);
                match r.body {
                    Body::Error { errno, text } if ours || r.id.is_none() => {
                        return Err(errno_error(&errno, &text))
                    }
                    // SVSP-CLIENT-16: tolerate `SEND <our port>` (quirk --port-send-echo).
                    _ => continue,
                }
            }
            if self.conn.eof {
                self.broken = true;
                return Err(FaveError::ConnectionLost(
                    "control connection closed during SCAN/PORT".into(),
                ));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Read lines for request `id` until its terminal line (SVSP-SCAN-3).
    pub(crate) fn await_terminal(
        &mut self,
        id: &Id,
        dl: &Deadline,
        st: &mut RequestState,
    ) -> Verdict {
        loop {
            let line = match self.read_line(dl) {
                Ok(Some(l)) => l,
                Ok(None) => {
                    self.broken = true;
                    return Verdict::Error(FaveError::ConnectionLost("EOF before DONE".into()));
                }
                Err(e) => {
                    self.broken = true;
                    return Verdict::Error(e);
                }
            };
            let r = match parse(&line) {
                Ok(Some(r)) => r,
                Ok(None) => continue,
                Err(e) => {
                    self.broken = true;
                    return Verdict::Error(e);
                }
            };
            if r.id.as_ref() != Some(id) {
                if r.id.is_none() {
                    if let Body::Error { errno, text } = &r.body {
                        return Verdict::Error(errno_error(errno, text));
                    }
                }
                // SVSP-CLIENT-5: unknown ids are logged and ignored.
                tracing::debug!(line = %String::from_utf8_lossy(&line), "SVSP line for another request ignored");
                continue;
            }
            match r.body {
                Body::Infected { virus, .. } => {
                    let v = String::from_utf8_lossy(&virus).into_owned();
                    if !st.names.contains(&v) {
                        st.names.push(v);
                    }
                }
                Body::Done { count, sha1, .. } => {
                    st.sha1 = sha1.map(|h| h.to_ascii_lowercase());
                    // SVSP-CLIENT-10: infected on any INFECTED line or a count above 0.
                    if !st.names.is_empty() {
                        return Verdict::Infected(st.names.clone());
                    }
                    return match count {
                        Some(n) if n > 0 => {
                            Verdict::Infected(vec![format!("(unnamed: DONE count {n})")])
                        }
                        _ => Verdict::Clean,
                    };
                }
                Body::Error { errno, text } => {
                    // SVSP-CLIENT-10: classify by the errno name only
                    st.busy = errno == svsp_proto::Errno::Eagain;
                    return Verdict::Error(errno_error(&errno, &text));
                }
                // SVSP-CLIENT-8/12: QUEUED optional, unknown keywords ignored.
                Body::Queued | Body::Scanning(_) | Body::Send(_) | Body::Unknown(_) => {}
                Body::Ready | Body::Denied | Body::Ok => {
                    tracing::debug!("unexpected SVSP line ignored");
                }
            }
        }
    }

    /// `QUIT`, wait for `OK` or EOF, close (SVSP-CLIENT-18). After a read timed out the
    /// daemon has shown it does not answer: `QUIT` is still said, but not waited on.
    pub(crate) fn quit(mut self, timeout: Duration) {
        if self.broken {
            return;
        }
        let dl = Deadline::after(timeout);
        if self.send_command(&Command::Quit, None, &dl).is_err() || self.unresponsive {
            return;
        }
        while let Ok(Some(l)) = self.read_line(&dl) {
            if matches!(
                parse_response(&l),
                Ok(Some(Response { body: Body::Ok, .. }))
            ) {
                break;
            }
        }
    }
}

/// Write data on an SVSP data channel with the I/O timeout and the scan deadline.
pub(crate) fn data_write(
    data: &mut TcpStream,
    buf: &[u8],
    io_timeout: Duration,
    dl: &Deadline,
) -> Result<(), FaveError> {
    let mut off = 0;
    while off < buf.len() {
        let t = dl.op_timeout(io_timeout, "data write")?;
        data.set_write_timeout(Some(t))
            .map_err(|e| FaveError::from_io(&e, "set timeout", t))?;
        match data.write(&buf[off..]) {
            Ok(0) => {
                return Err(FaveError::ConnectionLost(
                    "data channel write returned 0".into(),
                ))
            }
            Ok(n) => off += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(FaveError::from_io(&e, "data channel write", t)),
        }
    }
    Ok(())
}
