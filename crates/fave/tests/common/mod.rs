//! Tiny scripted servers (std threads) that replay exact wire bytes from the specs and can
//! misbehave: truncated replies, resets, silence. Plus test data helpers.
#![allow(dead_code)]

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::thread::JoinHandle;
use std::time::Duration;

use fave::{Address, ClientConfig, Protocol};

/// EICAR, decoded at run time (never stored in plain form).
pub fn eicar() -> Vec<u8> {
    fixtures::eicar()
}

/// A two-worker runtime for the fakes that run in this process beside the blocking client.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("test runtime")
}

/// Run blocking client work next to an async fake.
pub async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.unwrap()
}

/// A daemon's TCP address as the client's [`Address`].
pub fn tcp(a: std::net::SocketAddr) -> Address {
    Address::Tcp {
        host: a.ip().to_string(),
        port: a.port(),
    }
}

/// The verdict for EICAR under the clamd name the tests' databases give it.
pub fn is_eicar(v: &fave::Verdict) -> bool {
    matches!(v, fave::Verdict::Infected(n) if n.len() == 1 && n[0].starts_with("Win.Test.EICAR_HDB-1"))
}

/// The too-large error, with the side that hit the limit.
pub fn is_too_large(v: &fave::Verdict, origin: fave::LimitOrigin) -> bool {
    matches!(v, fave::Verdict::Error(fave::FaveError::TooLarge { origin: o, .. }) if *o == origin)
}

/// A zip holding one deflated member.
pub fn zip_with(name: &str, data: &[u8]) -> Vec<u8> {
    fixtures::zip_of(&[(name, data)], true)
}

/// Deterministic clean bytes.
pub fn clean_bytes(n: usize, seed: u64) -> Vec<u8> {
    fixtures::clean_random(seed, n)
}

pub trait Io: Read + Write + Send {
    fn reset(&mut self);
    fn shutdown_write(&mut self);
}

impl Io for TcpStream {
    fn reset(&mut self) {
        let _ = socket2::SockRef::from(&*self).set_linger(Some(Duration::ZERO));
    }
    fn shutdown_write(&mut self) {
        let _ = self.shutdown(std::net::Shutdown::Write);
    }
}

impl Io for UnixStream {
    fn reset(&mut self) {}
    fn shutdown_write(&mut self) {
        let _ = self.shutdown(std::net::Shutdown::Write);
    }
}

/// One accepted connection on the scripted side; records everything it read.
pub struct Peer {
    pub io: Box<dyn Io>,
    pub seen: Vec<u8>,
    buf: Vec<u8>,
}

impl Peer {
    fn fill(&mut self) -> io::Result<usize> {
        let mut tmp = [0u8; 65536];
        let n = self.io.read(&mut tmp)?;
        self.seen.extend_from_slice(&tmp[..n]);
        self.buf.extend_from_slice(&tmp[..n]);
        Ok(n)
    }

    pub fn read_exact_n(&mut self, n: usize) -> io::Result<Vec<u8>> {
        while self.buf.len() < n {
            if self.fill()? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
        Ok(self.buf.drain(..n).collect())
    }

    /// Read a clamd command (up to and including `\0` or `\n`).
    pub fn read_command(&mut self) -> io::Result<Vec<u8>> {
        loop {
            if let Some(p) = self.buf.iter().position(|&b| b == 0 || b == b'\n') {
                return Ok(self.buf.drain(..=p).collect());
            }
            if self.fill()? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
    }

    /// Read INSTREAM chunks up to the terminator; returns (data, chunk sizes).
    pub fn read_stream(&mut self) -> io::Result<(Vec<u8>, Vec<usize>)> {
        let mut data = Vec::new();
        let mut sizes = Vec::new();
        loop {
            let h = self.read_exact_n(4)?;
            let len = u32::from_be_bytes([h[0], h[1], h[2], h[3]]) as usize;
            if len == 0 {
                return Ok((data, sizes));
            }
            sizes.push(len);
            data.extend(self.read_exact_n(len)?);
        }
    }

    /// Read one SVSP line (without the terminator).
    pub fn read_line(&mut self) -> io::Result<Vec<u8>> {
        let mut l = self.read_command_nl()?;
        while l.last() == Some(&b'\n') || l.last() == Some(&b'\r') {
            l.pop();
        }
        Ok(l)
    }

    fn read_command_nl(&mut self) -> io::Result<Vec<u8>> {
        loop {
            if let Some(p) = self.buf.iter().position(|&b| b == b'\n') {
                return Ok(self.buf.drain(..=p).collect());
            }
            if self.fill()? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
    }

    pub fn send(&mut self, b: &[u8]) {
        let _ = self.io.write_all(b);
        let _ = self.io.flush();
    }

    /// Read until EOF (bounded by the socket timeout); returns what came.
    pub fn read_to_eof(&mut self) -> Vec<u8> {
        let mut out = std::mem::take(&mut self.buf);
        let mut tmp = [0u8; 65536];
        while let Ok(n) = self.io.read(&mut tmp) {
            if n == 0 {
                break;
            }
            self.seen.extend_from_slice(&tmp[..n]);
            out.extend_from_slice(&tmp[..n]);
        }
        out
    }
}

pub enum Listener {
    Tcp(TcpListener),
    Unix(UnixListener, tempfile::TempDir),
}

impl Listener {
    pub fn tcp() -> Listener {
        Listener::Tcp(TcpListener::bind("127.0.0.1:0").expect("bind"))
    }
    /// IPv6 loopback, if the machine has it.
    pub fn tcp6() -> Option<Listener> {
        TcpListener::bind("[::1]:0").ok().map(Listener::Tcp)
    }
    pub fn unix() -> Listener {
        let dir = tempfile::tempdir().expect("tempdir");
        let l = UnixListener::bind(dir.path().join("s.sock")).expect("bind unix");
        Listener::Unix(l, dir)
    }
    pub fn address(&self) -> Address {
        match self {
            Listener::Tcp(l) => {
                let a = l.local_addr().expect("addr");
                Address::Tcp {
                    host: a.ip().to_string(),
                    port: a.port(),
                }
            }
            Listener::Unix(_, d) => Address::Unix(d.path().join("s.sock")),
        }
    }
    pub fn accept(&self) -> Peer {
        let io: Box<dyn Io> = match self {
            Listener::Tcp(l) => {
                let (s, _) = l.accept().expect("accept");
                s.set_read_timeout(Some(Duration::from_secs(10)))
                    .expect("timeout");
                Box::new(s)
            }
            Listener::Unix(l, _) => {
                let (s, _) = l.accept().expect("accept");
                s.set_read_timeout(Some(Duration::from_secs(10)))
                    .expect("timeout");
                Box::new(s)
            }
        };
        Peer {
            io,
            seen: Vec::new(),
            buf: Vec::new(),
        }
    }
}

/// Run `script` on the next accepted connection in a thread; join to get its result.
pub fn serve<T: Send + 'static>(
    l: Listener,
    script: impl FnOnce(&mut Peer) -> T + Send + 'static,
) -> (Address, JoinHandle<(T, Vec<u8>)>) {
    let addr = l.address();
    let h = std::thread::spawn(move || {
        let mut p = l.accept();
        let r = script(&mut p);
        (r, std::mem::take(&mut p.seen))
    });
    (addr, h)
}

pub fn clamd_cfg(addr: Address) -> ClientConfig {
    let mut c = ClientConfig::new(Protocol::Clamd, addr);
    c.timeouts.io = Duration::from_secs(5);
    c.timeouts.connect = Duration::from_secs(5);
    c.timeouts.scan = Duration::from_secs(20);
    c
}

pub fn svsp_cfg(addr: Address) -> ClientConfig {
    let mut c = ClientConfig::new(Protocol::Svsp, addr);
    c.timeouts.io = Duration::from_secs(5);
    c.timeouts.connect = Duration::from_secs(5);
    c.timeouts.scan = Duration::from_secs(20);
    c
}

pub fn tmp_file(dir: &tempfile::TempDir, name: &str, data: &[u8]) -> PathBuf {
    let p = dir.path().join(name);
    std::fs::write(&p, data).expect("write");
    p
}
