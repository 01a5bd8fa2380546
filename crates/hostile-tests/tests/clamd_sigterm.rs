//! SIGTERM to the `fake-clamd` binary during scans (issue 9): the daemon exits 0 promptly,
//! a reply computed before the signal is not lost, no client ever sees a truncated reply,
//! and streams cut short by the shutdown are closed cleanly.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start() -> (Daemon, SocketAddr) {
    let bin = common::fake_clamd_bin();
    let mut child = Command::new(bin)
        .args(["--tcp-port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn fake-clamd");
    let out = child.stdout.take().expect("stdout");
    let daemon = Daemon(child);
    let mut line = String::new();
    BufReader::new(out)
        .read_line(&mut line)
        .expect("LISTENING line");
    let addr = line
        .trim()
        .strip_prefix("LISTENING tcp ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .parse()
        .expect("address");
    (daemon, addr)
}

fn instream(data: &[u8], terminate: bool) -> Vec<u8> {
    let mut v = b"zINSTREAM\0".to_vec();
    for c in data.chunks(64 << 10) {
        v.extend_from_slice(&(c.len() as u32).to_be_bytes());
        v.extend_from_slice(c);
    }
    if terminate {
        v.extend_from_slice(&[0, 0, 0, 0]);
    }
    v
}

fn read_all(s: &mut TcpStream) -> Vec<u8> {
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return out,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
}

fn sigterm(d: &Daemon) {
    let pid = i32::try_from(d.0.id()).expect("pid");
    // SAFETY: kill(2) on the pid of a child we spawned and have not reaped.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
}

#[test]
fn clamd_sigterm_during_scans_keeps_computed_replies_and_exits_cleanly() {
    let (mut daemon, addr) = start();
    let clean = vec![b'c'; 2 << 20];
    let mut infected = vec![b'.'; 1 << 20];
    infected.extend_from_slice(scan_engine::MARKER_BYTES);

    // 1. replies computed before the signal: sent, scanned, left unread in the socket
    let mut done: Vec<(TcpStream, Vec<u8>)> = Vec::new();
    for (data, want) in [
        (&clean, "stream: OK\0".to_string()),
        (
            &infected,
            format!("stream: {} FOUND\0", scan_engine::MARKER_NAME),
        ),
    ] {
        let mut s = TcpStream::connect(addr).expect("connect");
        s.write_all(&instream(data, true)).expect("send");
        done.push((s, want.into_bytes()));
    }
    let mut session = TcpStream::connect(addr).expect("connect");
    session
        .write_all(b"zIDSESSION\0zPING\0")
        .expect("send session");
    // 2. scans in flight at the signal: complete streams still being written, and
    //    streams that will never finish
    let mut racing = Vec::new();
    for _ in 0..4 {
        let mut s = TcpStream::connect(addr).expect("connect");
        s.write_all(&instream(&clean, true)).expect("send");
        racing.push(s);
    }
    let mut partial = Vec::new();
    for _ in 0..4 {
        let mut s = TcpStream::connect(addr).expect("connect");
        s.write_all(&instream(&clean[..100_000], false))
            .expect("send");
        partial.push(s);
    }
    // streams still being written when the signal arrives (32 MiB each, paced)
    let mut writers = Vec::new();
    for _ in 0..2 {
        let mut s = TcpStream::connect(addr).expect("connect");
        let mut r = s.try_clone().expect("clone");
        let w = std::thread::spawn(move || {
            let _ = s.write_all(b"zINSTREAM\0");
            let chunk = instream(&[b'w'; 64 << 10], false);
            for _ in 0..512 {
                if s.write_all(&chunk[10..]).is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            let _ = s.write_all(&[0, 0, 0, 0]);
        });
        writers.push((w, std::thread::spawn(move || read_all(&mut r))));
    }
    // let the first scans finish and their replies be written
    std::thread::sleep(Duration::from_millis(500));

    let t = Instant::now();
    sigterm(&daemon);
    let status = loop {
        if let Some(st) = daemon.0.try_wait().expect("wait") {
            break st;
        }
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "fake-clamd still running 5 s after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "exit status after SIGTERM: {status}");

    for (mut s, want) in done {
        assert_eq!(read_all(&mut s), want, "a computed reply was lost");
    }
    let got = read_all(&mut session);
    assert_eq!(got, b"1: PONG\0", "session reply before SIGTERM lost");
    for mut s in racing {
        let got = read_all(&mut s);
        assert!(
            got.is_empty() || got == b"stream: OK\0",
            "truncated or wrong reply during shutdown: {got:?}"
        );
    }
    for (w, r) in writers {
        w.join().expect("writer");
        let got = r.join().expect("reader");
        assert!(
            got.is_empty() || got == b"stream: OK\0",
            "truncated or wrong reply to a stream cut by SIGTERM: {got:?}"
        );
    }
    for mut s in partial {
        let got = read_all(&mut s);
        assert!(got.is_empty(), "reply to an unfinished stream: {got:?}");
    }
    // the port is closed after exit
    assert!(TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err());
}
