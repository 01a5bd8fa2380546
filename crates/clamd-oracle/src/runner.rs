//! Runs one case against a server over plain std sockets, bounded in time.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use fixtures::notation::Vars;
use fixtures::raw_case::{plan, Op};

use crate::case::{Case, Transport};
use crate::Error;

/// A reply that finishes later than this after the last step counts as `Delayed`. Real clamd
/// fires a T-second timeout in (T, T+1] s (observed >= T+0.07 s), the fake at T+0.5 s; the
/// shortest oracle timeout is 1 s, so 750 ms separates "immediate" from "timed out" with margin.
pub const DELAYED_AFTER: Duration = Duration::from_millis(750);
/// Hard cap on reply bytes kept per case (a misbehaving server cannot grow memory).
pub const MAX_REPLY: usize = 1 << 20;

/// Where a server listens.
#[derive(Debug, Clone)]
pub struct Target {
    pub tcp: SocketAddr,
    pub unix: Option<PathBuf>,
}

/// How the server ended the conversation.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum End {
    /// Orderly close (FIN) seen.
    Eof,
    /// The connection was reset (ECONNRESET/EPIPE while reading).
    Reset,
    /// Still open when the runner stopped waiting.
    Open,
}

/// When the server's close (or last byte, if it stayed open) came, relative to the end of the
/// client's last step.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Timing {
    /// Within [`DELAYED_AFTER`].
    Immediate,
    /// Later (a timeout fired).
    Delayed,
    /// The server stayed open and sent nothing after the last step.
    None,
}

/// What one run of a case observed (raw, not yet templated).
#[derive(Debug, Clone)]
pub struct Observed {
    pub reply: Vec<u8>,
    pub end: End,
    pub timing: Timing,
    /// First write error, if any (e.g. EPIPE after the server closed mid-upload).
    pub send_error: Option<String>,
    /// Whether the server still answered PING afterwards (only if the case asks).
    pub alive_after: Option<bool>,
    /// Milliseconds from the end of the last step until EOF/reset (diagnostics only).
    pub end_after_ms: Option<u64>,
}

enum Conn {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Conn {
    fn connect(target: &Target, transport: Transport) -> Result<Conn, Error> {
        match transport {
            Transport::Tcp => {
                let s = TcpStream::connect_timeout(&target.tcp, Duration::from_secs(3))
                    .map_err(|e| Error::Connect(target.tcp.to_string(), e))?;
                s.set_nodelay(true)
                    .map_err(|e| Error::Connect(target.tcp.to_string(), e))?;
                Ok(Conn::Tcp(s))
            }
            Transport::Unix => {
                let p = target
                    .unix
                    .as_ref()
                    .ok_or_else(|| Error::Cases("server has no unix socket".into()))?;
                let s = UnixStream::connect(p)
                    .map_err(|e| Error::Connect(p.display().to_string(), e))?;
                Ok(Conn::Unix(s))
            }
        }
    }

    fn reader(&self) -> std::io::Result<Box<dyn Read + Send>> {
        let timeout = Some(Duration::from_millis(20));
        Ok(match self {
            Conn::Tcp(s) => {
                let r = s.try_clone()?;
                r.set_read_timeout(timeout)?;
                Box::new(r)
            }
            Conn::Unix(s) => {
                let r = s.try_clone()?;
                r.set_read_timeout(timeout)?;
                Box::new(r)
            }
        })
    }

    fn write_all(&mut self, b: &[u8]) -> std::io::Result<()> {
        match self {
            Conn::Tcp(s) => s.write_all(b),
            Conn::Unix(s) => s.write_all(b),
        }
    }

    fn half_close(&self) -> std::io::Result<()> {
        match self {
            Conn::Tcp(s) => s.shutdown(Shutdown::Write),
            Conn::Unix(s) => s.shutdown(Shutdown::Write),
        }
    }

    fn send_fd(&self, bytes: &[u8], path: &Path) -> std::io::Result<()> {
        use std::os::fd::AsRawFd;
        let Conn::Unix(s) = self else {
            return Err(std::io::Error::other("send_fd needs a unix socket"));
        };
        let file = std::fs::File::open(path)?;
        let fds = [file.as_raw_fd()];
        let iov = [std::io::IoSlice::new(bytes)];
        let cmsg = [nix::sys::socket::ControlMessage::ScmRights(&fds)];
        let n = nix::sys::socket::sendmsg::<()>(
            s.as_raw_fd(),
            &iov,
            &cmsg,
            nix::sys::socket::MsgFlags::MSG_NOSIGNAL,
            None,
        )
        .map_err(std::io::Error::from)?;
        if n != bytes.len() {
            return Err(std::io::Error::other("short sendmsg"));
        }
        Ok(())
    }
}

struct ReadResult {
    bytes: Vec<u8>,
    end: End,
    end_at: Option<Instant>,
    last_byte_at: Option<Instant>,
}

fn read_loop(mut r: Box<dyn Read + Send>, stop: Arc<AtomicBool>, hard: Instant) -> ReadResult {
    let mut bytes = Vec::new();
    let mut buf = [0u8; 65536];
    let mut last_byte_at = None;
    loop {
        if stop.load(Ordering::Relaxed) || Instant::now() > hard {
            return ReadResult {
                bytes,
                end: End::Open,
                end_at: None,
                last_byte_at,
            };
        }
        match r.read(&mut buf) {
            Ok(0) => {
                return ReadResult {
                    bytes,
                    end: End::Eof,
                    end_at: Some(Instant::now()),
                    last_byte_at,
                }
            }
            Ok(n) => {
                let room = MAX_REPLY.saturating_sub(bytes.len());
                bytes.extend_from_slice(&buf[..n.min(room)]);
                last_byte_at = Some(Instant::now());
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock
                        | std::io::ErrorKind::TimedOut
                        | std::io::ErrorKind::Interrupted
                ) => {}
            Err(_) => {
                return ReadResult {
                    bytes,
                    end: End::Reset,
                    end_at: Some(Instant::now()),
                    last_byte_at,
                }
            }
        }
    }
}

/// Runs `case` against `target` and returns what happened. Bounded: the sum of the case's
/// sleeps plus its `wait_ms` plus a few seconds.
pub fn run_case(target: &Target, case: &Case, vars: &Vars) -> Result<Observed, Error> {
    // Build every step's bytes first so that notation errors are not mistaken for server
    // behaviour.
    let plan = plan(&case.steps, vars)?;

    let mut conn = Conn::connect(target, case.transport)?;
    let reader = conn
        .reader()
        .map_err(|e| Error::Connect("clone".into(), e))?;
    let stop = Arc::new(AtomicBool::new(false));
    let hard = Instant::now()
        + Duration::from_millis(plan.sleep_ms.saturating_add(case.wait_ms))
        + Duration::from_secs(20);
    let (tx, rx) = mpsc::channel();
    let stop2 = stop.clone();
    let handle = std::thread::spawn(move || {
        let r = read_loop(reader, stop2, hard);
        let _ = tx.send(());
        r
    });

    let mut send_error = None;
    for op in plan.ops() {
        let done = match op {
            Op::Write(bytes) => conn.write_all(bytes),
            Op::Sleep(ms) => {
                std::thread::sleep(Duration::from_millis(ms));
                Ok(())
            }
            Op::HalfClose => conn.half_close(),
            Op::SendFd(bytes, path) => conn.send_fd(bytes, path),
        };
        if let Err(e) = done {
            send_error = Some(e.kind().to_string());
            break;
        }
    }
    let steps_done = Instant::now();
    let _ = rx.recv_timeout(Duration::from_millis(case.wait_ms));
    stop.store(true, Ordering::Relaxed);
    let rr = handle
        .join()
        .map_err(|_| Error::Cases("reader thread panicked".into()))?;
    drop(conn);

    let since = |t: Instant| t.saturating_duration_since(steps_done);
    let (timing, end_after_ms) = match (rr.end_at, rr.last_byte_at) {
        (Some(t), _) => (
            if since(t) < DELAYED_AFTER {
                Timing::Immediate
            } else {
                Timing::Delayed
            },
            Some(since(t).as_millis() as u64),
        ),
        (None, Some(t)) if t > steps_done => (
            if since(t) < DELAYED_AFTER {
                Timing::Immediate
            } else {
                Timing::Delayed
            },
            None,
        ),
        _ => (Timing::None, None),
    };
    let alive_after = if case.probe_alive {
        std::thread::sleep(Duration::from_millis(300));
        Some(probe_ping(target))
    } else {
        None
    };
    Ok(Observed {
        reply: rr.bytes,
        end: rr.end,
        timing,
        send_error,
        alive_after,
        end_after_ms,
    })
}

/// One plain conversation over TCP: `request` written (a server that answers early, at a
/// size limit say, may close while it is still being written), then the reply read to the
/// close, at most `max` bytes, each read and write within `timeout`. `None` when it cannot
/// connect.
pub fn converse(target: &Target, request: &[u8], max: u64, timeout: Duration) -> Option<Vec<u8>> {
    let mut s = TcpStream::connect(target.tcp).ok()?;
    s.set_read_timeout(Some(timeout)).ok()?;
    s.set_write_timeout(Some(timeout)).ok()?;
    let _ = s.write_all(request);
    let mut reply = Vec::new();
    let _ = s.take(max).read_to_end(&mut reply);
    Some(reply)
}

/// Whether the server answers `zPING\0` with `PONG\0` on TCP within a second.
pub fn probe_ping(target: &Target) -> bool {
    ping_tcp(target.tcp, Duration::from_secs(1))
}

/// One `zPING\0` round trip (CLAMD-CMD-1).
pub fn ping_tcp(addr: SocketAddr, timeout: Duration) -> bool {
    let Ok(mut s) = TcpStream::connect_timeout(&addr, timeout) else {
        return false;
    };
    if s.set_read_timeout(Some(timeout)).is_err() || s.write_all(b"zPING\0").is_err() {
        return false;
    }
    let mut buf = [0u8; 16];
    let mut got = Vec::new();
    while let Ok(n) = s.read(&mut buf) {
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
        if got.len() >= 5 {
            break;
        }
    }
    got == b"PONG\0"
}
