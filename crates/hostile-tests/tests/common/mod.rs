//! Shared helpers for the hostile-peer tests (loopback only, bounded in time).
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

/// Resident set size of this process in bytes (Linux `/proc/self/status`).
pub fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// Raise RLIMIT_NOFILE to the hard limit; returns the new soft limit.
pub fn raise_nofile() -> u64 {
    // SAFETY: getrlimit/setrlimit with a valid pointer to a local struct.
    unsafe {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return 1024;
        }
        lim.rlim_cur = lim.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        lim.rlim_cur
    }
}

/// The `fake-clamd` binary of the workspace, built on demand with the same cargo, target
/// directory and profile as this test binary (`<target>/<profile>/deps/<test>` ->
/// `<target>/<profile>/fake-clamd`).
pub fn fake_clamd_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("test binary lives in <target>/<profile>/deps")
        .to_path_buf();
    let target_dir = profile_dir.parent().expect("target dir").to_path_buf();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "build",
            "--quiet",
            "-p",
            "fake-clamd",
            "--bin",
            "fake-clamd",
        ])
        .env("CARGO_TARGET_DIR", &target_dir);
    if profile_dir.file_name().and_then(|n| n.to_str()) == Some("release") {
        cmd.arg("--release");
    }
    let status = cmd.status().expect("running cargo build -p fake-clamd");
    assert!(status.success(), "cargo build -p fake-clamd failed");
    let bin = profile_dir.join("fake-clamd");
    assert!(bin.is_file(), "{} not found after build", bin.display());
    bin
}

pub const SHORT: Duration = Duration::from_secs(5);

/// SVSP: a control connection with a line reader (waits for READY on connect).
pub struct Ctl {
    pub s: tokio::net::TcpStream,
    buf: Vec<u8>,
}

impl Ctl {
    pub async fn connect(addr: std::net::SocketAddr) -> Ctl {
        let s = tokio::time::timeout(SHORT, tokio::net::TcpStream::connect(addr))
            .await
            .expect("connect in time")
            .expect("connect");
        let mut c = Ctl { s, buf: Vec::new() };
        assert_eq!(c.line().await.as_deref(), Some(&b"READY"[..]));
        c
    }

    /// The next line without its CRLF, or None on EOF / timeout.
    pub async fn line(&mut self) -> Option<Vec<u8>> {
        let deadline = std::time::Instant::now() + SHORT;
        loop {
            if let Some(i) = self.buf.iter().position(|&b| b == b'\n') {
                let mut l: Vec<u8> = self.buf.drain(..=i).collect();
                l.pop();
                if l.last() == Some(&b'\r') {
                    l.pop();
                }
                return Some(l);
            }
            let mut tmp = [0u8; 4096];
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match tokio::time::timeout(left, tokio::io::AsyncReadExt::read(&mut self.s, &mut tmp))
                .await
            {
                Ok(Ok(n)) if n > 0 => self.buf.extend_from_slice(&tmp[..n]),
                _ => return None,
            }
        }
    }

    /// Sends `<id> SCAN/FILE <path>` and asserts that a terminal line for `id` answers it
    /// (the daemon is still serving); returns the lines read.
    pub async fn still_answers(&mut self, id: &str, path: &str) -> Vec<String> {
        let cmd = format!("{id} SCAN/FILE {path}\r\n");
        tokio::io::AsyncWriteExt::write_all(&mut self.s, cmd.as_bytes())
            .await
            .expect("send");
        let lines = self.until_terminal(id).await;
        assert!(
            lines
                .last()
                .is_some_and(|l| l.starts_with(&format!("{id} "))),
            "no answer to {cmd:?}: {lines:?}"
        );
        lines
    }

    /// A fresh client connects to `addr` and gets an answer to a SCAN/FILE within
    /// `within` (the daemon still serves while it is attacked).
    pub async fn fresh_client_served(addr: std::net::SocketAddr, within: Duration) {
        let t = std::time::Instant::now();
        let mut c = Ctl::connect(addr).await;
        c.still_answers("9", "/nonexistent/fresh").await;
        assert!(
            t.elapsed() < within,
            "a fresh client waited {:?}",
            t.elapsed()
        );
    }

    /// Lines up to and including the first terminal one for `id` (DONE or an error).
    pub async fn until_terminal(&mut self, id: &str) -> Vec<String> {
        let mut out = Vec::new();
        while let Some(l) = self.line().await {
            let l = String::from_utf8_lossy(&l).into_owned();
            let terminal = l
                .strip_prefix(id)
                .and_then(|r| r.strip_prefix(' '))
                .is_some_and(|r| r.starts_with("DONE") || r.starts_with('E'));
            out.push(l);
            if terminal {
                break;
            }
        }
        out
    }
}
