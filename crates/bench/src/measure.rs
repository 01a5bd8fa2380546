//! The measurements themselves: each talks to a daemon over loopback TCP and is bounded in
//! bytes and time.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

const IO_TIMEOUT: Duration = Duration::from_secs(120);

fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
    let s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    s.set_read_timeout(Some(IO_TIMEOUT))?;
    s.set_write_timeout(Some(IO_TIMEOUT))?;
    s.set_nodelay(true)?;
    Ok(s)
}

fn read_to_eof(s: &mut TcpStream) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    s.read_to_end(&mut out)?;
    Ok(out)
}

/// One pseudo-random 64 KiB block (clean: it matches no signature).
pub fn clean_block(len: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(len);
    fixtures::write_clean_random(42, len as u64, &mut v).expect("memory write");
    v
}

/// Bytes per second.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Throughput {
    pub bytes: u64,
    pub seconds: f64,
    pub mb_per_s: f64,
}

impl Throughput {
    fn new(bytes: u64, elapsed: Duration) -> Self {
        let (seconds, per_s) = per_second(bytes, elapsed);
        Self {
            bytes,
            seconds,
            mb_per_s: per_s / 1e6,
        }
    }
}

/// How long `elapsed` is in seconds, and `n` per second over it.
fn per_second(n: u64, elapsed: Duration) -> (f64, f64) {
    let seconds = elapsed.as_secs_f64();
    (seconds, n as f64 / seconds)
}

/// Write `total` bytes of `block` as INSTREAM chunks (4-byte length + data), one write per
/// chunk: the same bytes and write size for the daemons and the raw-copy reference.
fn send_chunks(s: &mut TcpStream, total: u64, block: &[u8]) -> io::Result<()> {
    let mut frame = Vec::with_capacity(block.len() + 4);
    let mut left = total;
    while left > 0 {
        let n = (block.len() as u64).min(left) as usize;
        frame.clear();
        frame.extend_from_slice(&(n as u32).to_be_bytes());
        frame.extend_from_slice(&block[..n]);
        s.write_all(&frame)?;
        left -= n as u64;
    }
    Ok(())
}

/// Send `total` bytes as INSTREAM chunks of `chunk` bytes (z-mode) and wait for the verdict.
pub fn instream(addr: SocketAddr, total: u64, chunk: usize) -> io::Result<(Throughput, Vec<u8>)> {
    let block = clean_block(chunk);
    let t0 = Instant::now();
    let mut s = connect(addr)?;
    s.write_all(b"zINSTREAM\0")?;
    send_chunks(&mut s, total, &block)?;
    s.write_all(&[0, 0, 0, 0])?;
    let reply = read_to_eof(&mut s)?;
    Ok((Throughput::new(total, t0.elapsed()), reply))
}

/// Send the file at `path` as INSTREAM chunks of `chunk` bytes (z-mode) and wait for the
/// verdict.
pub fn instream_file(
    addr: SocketAddr,
    path: &std::path::Path,
    chunk: usize,
) -> io::Result<(Throughput, Vec<u8>)> {
    let mut f = std::fs::File::open(path)?;
    let mut frame = vec![0u8; chunk + 4];
    let mut total = 0u64;
    let t0 = Instant::now();
    let mut s = connect(addr)?;
    s.write_all(b"zINSTREAM\0")?;
    loop {
        let n = f.read(&mut frame[4..])?;
        if n == 0 {
            break;
        }
        frame[..4].copy_from_slice(&(n as u32).to_be_bytes());
        s.write_all(&frame[..n + 4])?;
        total += n as u64;
    }
    s.write_all(&[0, 0, 0, 0])?;
    let reply = read_to_eof(&mut s)?;
    Ok((Throughput::new(total, t0.elapsed()), reply))
}

/// The reference: the same sender writes the same frames to a sink that only reads.
pub fn raw_copy(total: u64, chunk: usize) -> io::Result<Throughput> {
    raw_sink(total, chunk, send_chunks)
}

/// The reference for SVSP data channels: the same plain writes (no framing) to a sink.
pub fn raw_copy_plain(total: u64, chunk: usize) -> io::Result<Throughput> {
    raw_sink(total, chunk, send_plain)
}

fn raw_sink(
    total: u64,
    chunk: usize,
    send: fn(&mut TcpStream, u64, &[u8]) -> io::Result<()>,
) -> io::Result<Throughput> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let sink = std::thread::spawn(move || -> io::Result<()> {
        let (mut c, _) = listener.accept()?;
        let mut buf = vec![0u8; 256 * 1024];
        while c.read(&mut buf)? > 0 {}
        Ok(())
    });
    let block = clean_block(chunk);
    let t0 = Instant::now();
    let mut s = connect(addr)?;
    send(&mut s, total, &block)?;
    s.shutdown(std::net::Shutdown::Write)?;
    sink.join()
        .map_err(|_| io::Error::other("sink thread panicked"))??;
    Ok(Throughput::new(total, t0.elapsed()))
}

/// Write `total` bytes of `block`, one write per block (an SVSP data channel).
fn send_plain(s: &mut TcpStream, total: u64, block: &[u8]) -> io::Result<()> {
    let mut left = total;
    while left > 0 {
        let n = (block.len() as u64).min(left) as usize;
        s.write_all(&block[..n])?;
        left -= n as u64;
    }
    Ok(())
}

/// The SCAN/FILE reference: read `path` to its end with a `buf`-byte buffer (the engine's
/// read size), page cache as warm as for the daemon.
pub fn read_file(path: &std::path::Path, buf: usize) -> io::Result<Throughput> {
    let t0 = Instant::now();
    let mut f = std::fs::File::open(path)?;
    let mut b = vec![0u8; buf];
    let mut total = 0u64;
    loop {
        let n = f.read(&mut b)?;
        if n == 0 {
            break;
        }
        total += n as u64;
    }
    Ok(Throughput::new(total, t0.elapsed()))
}

/// The engine's own per-byte cost: `path` (cached) through a [`scan_engine::StreamScanner`]
/// in this process, 64 KiB at a time, with or without SHA-1.
pub fn engine_rate(
    path: &std::path::Path,
    db: std::sync::Arc<scan_engine::SignatureDb>,
    sha1: bool,
) -> io::Result<Throughput> {
    let t0 = Instant::now();
    let mut sc = scan_engine::StreamScanner::with_options(
        db,
        scan_engine::ScanOptions {
            sha1,
            ..Default::default()
        },
    );
    let f = std::fs::File::open(path)?;
    // the reader's buffer sets the chunk size the scanner sees
    io::copy(&mut io::BufReader::with_capacity(64 * 1024, f), &mut sc)?;
    let r = sc.finish();
    Ok(Throughput::new(r.size, t0.elapsed()))
}

/// Replies per second.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Rate {
    pub count: u64,
    pub seconds: f64,
    pub per_s: f64,
}

impl Rate {
    fn new(count: u64, elapsed: Duration) -> Self {
        let (seconds, per_s) = per_second(count, elapsed);
        Self {
            count,
            seconds,
            per_s,
        }
    }
}

/// `n` PINGs pipelined in one IDSESSION.
pub fn ping_pipelined(addr: SocketAddr, n: u64) -> io::Result<Rate> {
    pipelined(addr, n, b"zPING\0", b"PONG")
}

/// `n` copies of `request` pipelined in one IDSESSION, written in batches of at most 24 KiB
/// while a second thread counts the replies (records containing `reply`).
pub fn pipelined(addr: SocketAddr, n: u64, request: &[u8], reply: &[u8]) -> io::Result<Rate> {
    let t0 = Instant::now();
    let mut s = connect(addr)?;
    let mut reader = s.try_clone()?;
    let reply = reply.to_vec();
    let counter = std::thread::spawn(move || -> io::Result<u64> {
        let mut buf = vec![0u8; 64 * 1024];
        let mut count = 0u64;
        let mut tail: Vec<u8> = Vec::new();
        loop {
            let k = reader.read(&mut buf)?;
            if k == 0 {
                return Ok(count);
            }
            tail.extend_from_slice(&buf[..k]);
            let last_nul = tail.iter().rposition(|&b| b == 0);
            if let Some(end) = last_nul {
                count += tail[..=end]
                    .split(|&b| b == 0)
                    .filter(|r| r.windows(reply.len()).any(|w| w == reply))
                    .count() as u64;
                tail.drain(..=end);
            }
        }
    });
    s.write_all(b"zIDSESSION\0")?;
    let per_batch = (24 * 1024 / request.len()).max(1) as u64;
    let batch: Vec<u8> = request.repeat(per_batch as usize);
    let mut left = n;
    while left > 0 {
        let k = left.min(per_batch);
        s.write_all(&batch[..k as usize * request.len()])?;
        left -= k;
    }
    s.write_all(b"zEND\0")?;
    let got = counter
        .join()
        .map_err(|_| io::Error::other("reader thread panicked"))??;
    if got != n {
        return Err(io::Error::other(format!(
            "expected {n} replies in the session, got {got}"
        )));
    }
    Ok(Rate::new(n, t0.elapsed()))
}

/// A small INSTREAM request: `zINSTREAM\0`, one chunk of `data`, the zero chunk.
pub fn small_instream(data: &[u8]) -> Vec<u8> {
    let mut v = b"zINSTREAM\0".to_vec();
    v.extend_from_slice(&(data.len() as u32).to_be_bytes());
    v.extend_from_slice(data);
    v.extend_from_slice(&[0, 0, 0, 0]);
    v
}

/// `n` connections, one `zPING\0` each.
pub fn ping_per_connection(addr: SocketAddr, n: u64) -> io::Result<Rate> {
    let t0 = Instant::now();
    for _ in 0..n {
        let mut s = connect(addr)?;
        s.write_all(b"zPING\0")?;
        let reply = read_to_eof(&mut s)?;
        if reply != b"PONG\0" {
            return Err(io::Error::other(format!("unexpected reply {reply:?}")));
        }
    }
    Ok(Rate::new(n, t0.elapsed()))
}

/// Idle connections: how many of `k` opened connections got a PONG afterwards.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Idle {
    pub opened: u64,
    pub connected: u64,
    pub answered: u64,
    pub rss_kib: Option<u64>,
    pub seconds: f64,
}

/// Open `k` connections and keep them idle, measure the daemon's RSS, then PING on each
/// (in opening order) and count PONGs. Gives up on a connection after `patience`.
pub fn idle_connections(
    addr: SocketAddr,
    k: u64,
    pid: Option<u32>,
    patience: Duration,
) -> io::Result<Idle> {
    let t0 = Instant::now();
    let mut conns = Vec::with_capacity(k as usize);
    let mut failures_in_a_row = 0;
    for _ in 0..k {
        match TcpStream::connect_timeout(&addr, patience) {
            Ok(s) => {
                failures_in_a_row = 0;
                conns.push(s);
            }
            Err(_) => {
                failures_in_a_row += 1;
                if failures_in_a_row >= 20 {
                    break;
                }
            }
        }
    }
    let connected = conns.len() as u64;
    std::thread::sleep(Duration::from_millis(200));
    let rss_kib = pid.and_then(rss_kib);
    for s in &mut conns {
        let _ = s.write_all(b"zPING\0");
    }
    let mut answered = 0;
    let deadline = Instant::now() + patience.max(Duration::from_secs(2));
    for s in &mut conns {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        s.set_read_timeout(Some(left))?;
        let mut buf = [0u8; 8];
        let mut got = Vec::new();
        while got.len() < 5 {
            match s.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
        if got == b"PONG\0" {
            answered += 1;
        }
    }
    Ok(Idle {
        opened: k,
        connected,
        answered,
        rss_kib,
        seconds: t0.elapsed().as_secs_f64(),
    })
}

fn proc_status_kib(pid: u32, key: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with(key))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Resident set size of a process, KiB.
pub fn rss_kib(pid: u32) -> Option<u64> {
    proc_status_kib(pid, "VmRSS:")
}

/// Peak resident set size of a process, KiB.
pub fn peak_rss_kib(pid: u32) -> Option<u64> {
    proc_status_kib(pid, "VmHWM:")
}

/// Raise this process's open-file limit to its hard limit (for thousands of connections).
pub fn raise_nofile_limit() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid pointer to a local struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
    lim.rlim_cur
}

/// SVSP: open `k` connections and count `READY` greetings; then the server's RSS.
pub fn idle_connections_svsp(addr: SocketAddr, k: u64, pid: Option<u32>) -> io::Result<Idle> {
    let t0 = Instant::now();
    let mut conns = Vec::new();
    for _ in 0..k {
        if let Ok(s) = TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
            conns.push(s);
        }
    }
    let connected = conns.len() as u64;
    let mut answered = 0;
    for s in &mut conns {
        s.set_read_timeout(Some(Duration::from_secs(2)))?;
        let mut buf = [0u8; 16];
        if let Ok(n) = s.read(&mut buf) {
            if buf[..n].starts_with(b"READY") {
                answered += 1;
            }
        }
    }
    let rss_kib = pid.and_then(rss_kib);
    Ok(Idle {
        opened: k,
        connected,
        answered,
        rss_kib,
        seconds: t0.elapsed().as_secs_f64(),
    })
}

/// SVSP: one `SCAN/FILE` (or `SCAN/FILE-SHA1`, `cmd`) of `path`; returns the time to the
/// terminal line and the lines.
pub fn svsp_file(
    addr: SocketAddr,
    cmd: &str,
    path: &std::path::Path,
    bytes: u64,
) -> io::Result<(Throughput, String)> {
    let t0 = Instant::now();
    let mut s = connect(addr)?;
    let mut reader = io::BufReader::new(s.try_clone()?);
    read_line(&mut reader)?; // READY
    s.write_all(format!("{cmd} {}\r\n", path.display()).as_bytes())?;
    let lines = read_until_terminal(&mut reader)?;
    Ok((Throughput::new(bytes, t0.elapsed()), lines))
}

/// SVSP: one `SCAN/REQUEST` carrying `total` clean bytes over the data channel.
pub fn svsp_request(addr: SocketAddr, total: u64) -> io::Result<(Throughput, String)> {
    let block = clean_block(64 * 1024);
    let t0 = Instant::now();
    let mut s = connect(addr)?;
    let mut reader = io::BufReader::new(s.try_clone()?);
    read_line(&mut reader)?; // READY
    s.write_all(b"SCAN/REQUEST bench.bin\r\n")?;
    let send = read_line(&mut reader)?;
    let port: u16 = send
        .trim()
        .strip_prefix("SEND ")
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| io::Error::other(format!("expected SEND <port>, got {send:?}")))?;
    let mut data = connect(SocketAddr::new(addr.ip(), port))?;
    send_plain(&mut data, total, &block)?;
    data.shutdown(std::net::Shutdown::Write)?;
    let lines = read_until_terminal(&mut reader)?;
    Ok((Throughput::new(total, t0.elapsed()), lines))
}

/// SVSP: one `SCAN/PORT`: the daemon connects back and reads `total` clean bytes.
pub fn svsp_port(addr: SocketAddr, total: u64) -> io::Result<(Throughput, String)> {
    let block = clean_block(64 * 1024);
    let listener = TcpListener::bind(SocketAddr::new(addr.ip(), 0))?;
    let port = listener.local_addr()?.port();
    let t0 = Instant::now();
    let mut s = connect(addr)?;
    let mut reader = io::BufReader::new(s.try_clone()?);
    read_line(&mut reader)?; // READY
    s.write_all(format!("SCAN/PORT {port} bench.bin\r\n").as_bytes())?;
    // bounded: the daemon connects within its data timeout or answers with an error
    listener.set_nonblocking(true)?;
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut data = loop {
        match listener.accept() {
            Ok((d, _)) => break d,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(e) => return Err(e),
        }
    };
    data.set_nonblocking(false)?;
    data.set_write_timeout(Some(IO_TIMEOUT))?;
    data.set_nodelay(true)?;
    send_plain(&mut data, total, &block)?;
    data.shutdown(std::net::Shutdown::Write)?;
    let lines = read_until_terminal(&mut reader)?;
    Ok((Throughput::new(total, t0.elapsed()), lines))
}

fn read_line(r: &mut impl io::BufRead) -> io::Result<String> {
    let mut line = String::new();
    if r.read_line(&mut line)? == 0 {
        return Err(io::Error::other("EOF from the SVSP server"));
    }
    Ok(line)
}

fn read_until_terminal(r: &mut impl io::BufRead) -> io::Result<String> {
    let mut all = String::new();
    for _ in 0..100_000 {
        let line = read_line(r)?;
        all.push_str(&line);
        let word = line.split_whitespace().next().unwrap_or("");
        if word == "DONE" || word.starts_with('E') && word.len() > 1 {
            return Ok(all);
        }
    }
    Err(io::Error::other("no terminal SVSP line"))
}
