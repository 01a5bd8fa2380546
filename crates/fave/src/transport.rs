//! Blocking sockets (TCP and unix) with a timeout on connect, on every read and write, and a
//! deadline for the whole scan. A line/record reader bounded in bytes.

use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use crate::config::{Address, Timeouts};
use crate::error::FaveError;
use crate::trace::{Dir, Tracer};

/// Largest reply record we accept before calling the reply garbage (bounded reads).
pub(crate) const MAX_RECORD: usize = 64 * 1024;

/// A point in time after which the current scan fails with a timeout.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadline {
    at: Instant,
    total: Duration,
}

impl Deadline {
    pub(crate) fn after(total: Duration) -> Deadline {
        Deadline {
            at: Instant::now() + total,
            total,
        }
    }

    /// Time left before the deadline.
    pub(crate) fn remaining(&self) -> Duration {
        self.at.saturating_duration_since(Instant::now())
    }

    /// The whole-scan timeout error, naming what was going on when it passed.
    pub(crate) fn timeout_error(&self, what: &str) -> FaveError {
        FaveError::Timeout {
            what: format!("whole scan ({what})"),
            after: self.total,
        }
    }

    /// The timeout to use for the next single operation: `min(op, remaining)`.
    pub(crate) fn op_timeout(&self, op: Duration, what: &str) -> Result<Duration, FaveError> {
        let left = self.at.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(FaveError::Timeout {
                what: format!("whole scan ({what})"),
                after: self.total,
            });
        }
        Ok(op.min(left).max(Duration::from_millis(1)))
    }
}

pub(crate) enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Stream {
    pub(crate) fn connect(
        addr: &Address,
        t: &Timeouts,
        dl: &Deadline,
    ) -> Result<Stream, FaveError> {
        let timeout = dl.op_timeout(t.connect, "connect")?;
        let fail = |reason: String| FaveError::Connect {
            addr: addr.to_string(),
            reason,
        };
        match addr {
            Address::Unix(path) => {
                // Unix connects do not block on a listening socket; the first read/write carries
                // the I/O timeout.
                let s = UnixStream::connect(path).map_err(|e| fail(e.to_string()))?;
                Ok(Stream::Unix(s))
            }
            Address::Tcp { host, port } => {
                let addrs: Vec<SocketAddr> = match host.parse::<IpAddr>() {
                    Ok(ip) => vec![SocketAddr::new(ip, *port)],
                    Err(_) => (host.as_str(), *port)
                        .to_socket_addrs()
                        .map_err(|e| fail(format!("cannot resolve `{host}`: {e}")))?
                        .collect(),
                };
                let mut last = String::from("no address");
                for sa in addrs {
                    match TcpStream::connect_timeout(&sa, timeout) {
                        Ok(s) => {
                            let _ = s.set_nodelay(true);
                            return Ok(Stream::Tcp(s));
                        }
                        Err(e)
                            if matches!(
                                e.kind(),
                                io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
                            ) =>
                        {
                            return Err(FaveError::Timeout {
                                what: format!("connect to {sa}"),
                                after: timeout,
                            });
                        }
                        Err(e) => last = format!("{sa}: {e}"),
                    }
                }
                Err(fail(last))
            }
        }
    }

    fn set_read_timeout(&self, d: Duration) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_read_timeout(Some(d)),
            Stream::Unix(s) => s.set_read_timeout(Some(d)),
        }
    }

    fn set_write_timeout(&self, d: Duration) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_write_timeout(Some(d)),
            Stream::Unix(s) => s.set_write_timeout(Some(d)),
        }
    }

    pub(crate) fn peer_ip(&self) -> Option<IpAddr> {
        match self {
            Stream::Tcp(s) => s.peer_addr().ok().map(|a| a.ip()),
            Stream::Unix(_) => None,
        }
    }

    pub(crate) fn local_ip(&self) -> Option<IpAddr> {
        match self {
            Stream::Tcp(s) => s.local_addr().ok().map(|a| a.ip()),
            Stream::Unix(_) => None,
        }
    }

    fn raw_fd(&self) -> i32 {
        match self {
            Stream::Tcp(s) => s.as_raw_fd(),
            Stream::Unix(s) => s.as_raw_fd(),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            Stream::Unix(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Counters for `--stats` (FAVE-6).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct WireCounters {
    pub bytes_sent: u64,
    pub bytes_received: u64,
}

/// A connection: socket + receive buffer + timeouts + trace + counters.
pub(crate) struct Conn {
    pub(crate) stream: Stream,
    rbuf: Vec<u8>,
    pub(crate) eof: bool,
    io_timeout: Duration,
    pub(crate) tracer: Tracer,
    pub(crate) counters: WireCounters,
}

impl Conn {
    pub(crate) fn new(stream: Stream, io_timeout: Duration, tracer: Tracer) -> Conn {
        Conn {
            stream,
            rbuf: Vec::new(),
            eof: false,
            io_timeout,
            tracer,
            counters: WireCounters::default(),
        }
    }

    /// Write everything or fail; `label` is for the trace (None = trace the bytes themselves).
    pub(crate) fn send(
        &mut self,
        data: &[u8],
        dl: &Deadline,
        label: Option<&str>,
    ) -> Result<(), FaveError> {
        match label {
            Some(l) => self.tracer.note(Dir::Sent, l),
            None => self.tracer.bytes(Dir::Sent, data),
        }
        let mut off = 0;
        while off < data.len() {
            let t = dl.op_timeout(self.io_timeout, "write")?;
            self.stream
                .set_write_timeout(t)
                .map_err(|e| FaveError::from_io(&e, "set write timeout", t))?;
            match self.stream.write(&data[off..]) {
                Ok(0) => return Err(FaveError::ConnectionLost("write returned 0".into())),
                Ok(n) => {
                    off += n;
                    self.counters.bytes_sent += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(FaveError::from_io(&e, "write", t)),
            }
        }
        Ok(())
    }

    /// Read once (blocking up to the op timeout) into the buffer. Returns bytes read; 0 = EOF.
    pub(crate) fn fill(&mut self, dl: &Deadline) -> Result<usize, FaveError> {
        if self.eof {
            return Ok(0);
        }
        if self.rbuf.len() > MAX_RECORD {
            return Err(FaveError::Protocol(format!(
                "reply longer than {MAX_RECORD} bytes without terminator"
            )));
        }
        let t = dl.op_timeout(self.io_timeout, "read")?;
        self.stream
            .set_read_timeout(t)
            .map_err(|e| FaveError::from_io(&e, "set read timeout", t))?;
        let mut tmp = [0u8; 8192];
        loop {
            match self.stream.read(&mut tmp) {
                Ok(0) => {
                    self.eof = true;
                    self.tracer.note(Dir::Received, "<EOF>");
                    return Ok(0);
                }
                Ok(n) => {
                    self.counters.bytes_received += n as u64;
                    self.tracer.bytes(Dir::Received, &tmp[..n]);
                    self.rbuf.extend_from_slice(&tmp[..n]);
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(FaveError::from_io(&e, "read", t)),
            }
        }
    }

    /// Non-blocking check for reply bytes that arrived early (e.g. the size-limit reply while
    /// we are still streaming, CLAMD-INSTREAM-5). Returns true if anything (or EOF) arrived.
    pub(crate) fn poll_early(&mut self) -> bool {
        if self.eof {
            return true;
        }
        let mut tmp = [0u8; 4096];
        // SAFETY: recv into a valid, owned buffer of the given length on our own socket fd.
        let n = unsafe {
            libc::recv(
                self.stream.raw_fd(),
                tmp.as_mut_ptr().cast::<libc::c_void>(),
                tmp.len(),
                libc::MSG_DONTWAIT,
            )
        };
        match n {
            0 => {
                self.eof = true;
                self.tracer.note(Dir::Received, "<EOF>");
                true
            }
            n if n > 0 => {
                let n = n as usize;
                self.counters.bytes_received += n as u64;
                self.tracer.bytes(Dir::Received, &tmp[..n]);
                self.rbuf.extend_from_slice(&tmp[..n]);
                true
            }
            _ => false,
        }
    }

    pub(crate) fn buffer(&self) -> &[u8] {
        &self.rbuf
    }

    pub(crate) fn consume(&mut self, n: usize) {
        self.rbuf.drain(..n.min(self.rbuf.len()));
    }
}
