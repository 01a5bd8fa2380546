//! Helpers for the integration tests: raw sockets, a corpus, an oracle-like DB.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UnixStream};

pub const UNOFFICIAL_EICAR: &str = "Win.Test.EICAR_HDB-1.UNOFFICIAL";

/// A corpus like the oracle's (`/c`), plus a DB directory with eicar.hdb and markers.ndb.
pub struct Corpus {
    pub dir: tempfile::TempDir,
}

impl Corpus {
    pub fn new() -> Corpus {
        let dir = tempfile::tempdir().expect("tempdir");
        let c = dir.path().join("c");
        let db = dir.path().join("db");
        std::fs::create_dir_all(c.join("mixed/sub")).unwrap();
        std::fs::create_dir_all(c.join("mixperm")).unwrap();
        std::fs::create_dir_all(&db).unwrap();
        let e = scan_engine::eicar();
        std::fs::write(
            db.join("eicar.hdb"),
            format!("{}:68:Win.Test.EICAR_HDB-1\n", scan_engine::EICAR_MD5),
        )
        .unwrap();
        let hex = |s: &str| s.bytes().map(|b| format!("{b:02x}")).collect::<String>();
        std::fs::write(
            db.join("markers.ndb"),
            format!(
                "Oracle.Test.MarkerA-1:0:*:{}\nOracle.Test.MarkerB-1:0:*:{}\n",
                hex("CLAMD-ORACLE-MARKER-A"),
                hex("CLAMD-ORACLE-MARKER-B")
            ),
        )
        .unwrap();
        std::fs::write(c.join("eicar.com"), &e).unwrap();
        std::fs::write(c.join("clean.txt"), b"hello\n").unwrap();
        std::fs::write(c.join("mixed/a.txt"), b"x").unwrap();
        std::fs::write(c.join("mixed/b_eicar.com"), &e).unwrap();
        std::fs::write(c.join("mixed/sub/d_eicar.com"), &e).unwrap();
        std::fs::write(
            c.join("markers.txt"),
            b"xx CLAMD-ORACLE-MARKER-B yy CLAMD-ORACLE-MARKER-A",
        )
        .unwrap();
        std::fs::write(c.join("mixperm/secret.com"), &e).unwrap();
        std::fs::write(c.join("empty"), b"").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            c.join("mixperm/secret.com"),
            std::fs::Permissions::from_mode(0o000),
        )
        .unwrap();
        nix::unistd::mkfifo(
            &c.join("fifo"),
            nix::sys::stat::Mode::from_bits_truncate(0o644),
        )
        .unwrap();
        std::os::unix::fs::symlink(c.join("eicar.com"), c.join("link.com")).unwrap();
        Corpus { dir }
    }

    pub fn c(&self) -> PathBuf {
        self.dir.path().join("c")
    }

    pub fn db(&self) -> PathBuf {
        self.dir.path().join("db")
    }

    /// A fake's builder over this corpus's database.
    pub fn builder(&self) -> fake_clamd::FakeClamdBuilder {
        fake_clamd::FakeClamd::builder().database_directory(self.db())
    }

    /// `<c>/<rel>` as bytes.
    pub fn p(&self, rel: &str) -> Vec<u8> {
        let mut v = self.c().into_os_string().into_encoded_bytes();
        if !rel.is_empty() {
            v.push(b'/');
            v.extend_from_slice(rel.as_bytes());
        }
        v
    }
}

pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

pub fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

#[allow(unused_imports)] // not every test file frames chunks
pub use fixtures::clamd_wire::chunk;

async fn read_all<R: AsyncReadExt + Unpin>(r: &mut R, limit: Duration) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut buf = [0u8; 65536];
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, r.read(&mut buf)).await {
            Err(_) => {
                return Err(format!(
                    "timeout after {:?} with {:?}",
                    limit,
                    String::from_utf8_lossy(&out)
                ))
            }
            Ok(Ok(0)) => return Ok(out),
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
            Ok(Err(e)) => return Err(format!("{e} after {:?}", String::from_utf8_lossy(&out))),
        }
    }
}

/// Send each part as its own write (20 ms apart), then read until EOF (10 s max).
pub async fn exchange(addr: std::net::SocketAddr, parts: &[&[u8]]) -> Result<Vec<u8>, String> {
    let mut s = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        s.write_all(p).await.map_err(|e| e.to_string())?;
    }
    read_all(&mut s, Duration::from_secs(10)).await
}

/// One write to the fake `s`, then its whole reply (10 s max); panics when that fails.
pub async fn ask(s: &fake_clamd::FakeClamd, data: &[u8]) -> Vec<u8> {
    ask_at(s.addr().expect("the fake listens on TCP"), data).await
}

/// [`ask`] at an address.
pub async fn ask_at(addr: std::net::SocketAddr, data: &[u8]) -> Vec<u8> {
    exchange(addr, &[data])
        .await
        .expect("the exchange completes")
}

/// Like [`exchange`], then half-close before reading.
pub async fn exchange_shut(addr: std::net::SocketAddr, data: &[u8]) -> Result<Vec<u8>, String> {
    let mut s = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    s.write_all(data).await.map_err(|e| e.to_string())?;
    s.shutdown().await.map_err(|e| e.to_string())?;
    read_all(&mut s, Duration::from_secs(10)).await
}

pub async fn exchange_unix(path: &Path, data: &[u8]) -> Result<Vec<u8>, String> {
    let mut s = UnixStream::connect(path).await.map_err(|e| e.to_string())?;
    s.write_all(data).await.map_err(|e| e.to_string())?;
    read_all(&mut s, Duration::from_secs(10)).await
}

/// Send `data` with `fd` as SCM_RIGHTS on one sendmsg over a Unix socket, then read to EOF.
pub async fn exchange_fd(
    path: &Path,
    data: &[u8],
    fd: std::os::fd::RawFd,
) -> Result<Vec<u8>, String> {
    use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
    use std::io::IoSlice;
    use std::os::fd::AsRawFd;
    let std_s = std::os::unix::net::UnixStream::connect(path).map_err(|e| e.to_string())?;
    let fds = [fd];
    let cmsg = [ControlMessage::ScmRights(&fds)];
    sendmsg::<()>(
        std_s.as_raw_fd(),
        &[IoSlice::new(data)],
        &cmsg,
        MsgFlags::empty(),
        None,
    )
    .map_err(|e| e.to_string())?;
    std_s.set_nonblocking(true).map_err(|e| e.to_string())?;
    let mut s = UnixStream::from_std(std_s).map_err(|e| e.to_string())?;
    read_all(&mut s, Duration::from_secs(10)).await
}

/// A clamd.conf for a fake on an ephemeral TCP port over `db`: `TCPSocket 0`,
/// `DatabaseDirectory`, then the `extra` lines (each ending in a newline).
pub fn conf_with(db: &Path, extra: &str) -> String {
    format!("TCPSocket 0\nDatabaseDirectory {}\n{extra}", db.display())
}

/// `builder` started (the test fails when the fake cannot start).
pub async fn started(builder: fake_clamd::FakeClamdBuilder) -> fake_clamd::FakeClamd {
    builder.start().await.expect("the fake starts")
}

/// `builder` started with the admin API on an ephemeral loopback port.
pub async fn with_admin(builder: fake_clamd::FakeClamdBuilder) -> fake_clamd::FakeClamd {
    started(builder.admin(fixtures::admin_http::EPHEMERAL)).await
}

/// Starts a fake from clamd.conf text (as `t.conf`).
pub async fn start_conf(conf: &str) -> fake_clamd::FakeClamd {
    let builder = fake_clamd::FakeClamd::builder().conf_text(conf, "t.conf");
    started(builder.expect("the test's clamd.conf parses")).await
}

/// Runs `cmd` to its end and asserts exit code 2 with `want` on stderr; returns stderr.
pub fn exits_2_saying(cmd: &mut std::process::Command, want: &str) -> String {
    let out = cmd.output().expect("run the binary");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{want}: {err}");
    assert!(err.contains(want), "{want}: {err}");
    err
}
