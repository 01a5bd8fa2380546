//! Test helpers: a raw SVSP client over TCP and fixture files.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;

pub const T: Duration = Duration::from_secs(10);

pub struct Client {
    pub rd: BufReader<OwnedReadHalf>,
    pub wr: OwnedWriteHalf,
    pub log: String,
}

impl Client {
    pub async fn raw(addr: SocketAddr) -> Client {
        let s = TcpStream::connect(addr).await.expect("connect");
        let (rd, wr) = s.into_split();
        Client {
            rd: BufReader::new(rd),
            wr,
            log: String::new(),
        }
    }
    /// Connects and consumes READY.
    pub async fn connect(addr: SocketAddr) -> Client {
        let mut c = Client::raw(addr).await;
        assert_eq!(c.line().await.as_deref(), Some("READY"));
        c
    }
    pub async fn send(&mut self, line: &str) {
        self.log.push_str(&format!("C: {line}\n"));
        self.wr
            .write_all(format!("{line}\r\n").as_bytes())
            .await
            .expect("write");
    }
    pub async fn send_raw(&mut self, bytes: &[u8]) {
        self.wr.write_all(bytes).await.expect("write");
    }
    /// One raw line including its terminator; None at EOF.
    pub async fn raw_line(&mut self) -> Option<Vec<u8>> {
        let mut buf = Vec::new();
        let n = tokio::time::timeout(T, self.rd.read_until(b'\n', &mut buf))
            .await
            .expect("timeout reading line")
            .ok()?;
        (n > 0).then_some(buf)
    }
    /// One line, CRLF checked and removed; None at EOF.
    pub async fn line(&mut self) -> Option<String> {
        let raw = self.raw_line().await?;
        assert!(raw.ends_with(b"\r\n"), "line without CRLF: {raw:?}");
        let s = String::from_utf8_lossy(&raw[..raw.len() - 2]).into_owned();
        self.log.push_str(&format!("S: {s}\n"));
        Some(s)
    }
    pub async fn lines(&mut self, n: usize) -> Vec<String> {
        let mut v = Vec::new();
        for _ in 0..n {
            v.push(self.line().await.expect("unexpected EOF"));
        }
        v
    }
    /// Reads until the terminal line (DONE or E...) of `prefix` ("" for no id).
    pub async fn until_terminal(&mut self, prefix: &str) -> Vec<String> {
        let mut v = Vec::new();
        loop {
            let l = self.line().await.expect("EOF before terminal");
            let rest = l.strip_prefix(prefix).unwrap_or(&l).to_string();
            let term = rest.starts_with("DONE") || rest.starts_with('E');
            v.push(l);
            if term && (prefix.is_empty() || v.last().unwrap().starts_with(prefix)) {
                return v;
            }
        }
    }
    pub async fn until_eof(&mut self) -> Vec<String> {
        let mut v = Vec::new();
        while let Some(l) = self.line().await {
            v.push(l);
        }
        v
    }
    /// Sends `line` and asserts the one line it gets back.
    pub async fn expect(&mut self, line: &str, reply: &str) {
        self.send(line).await;
        assert_eq!(
            self.line().await.as_deref(),
            Some(reply),
            "reply to {line:?}"
        );
    }
    /// Sends `line` and reads its replies up to its terminal line (DONE or E...), with the
    /// line's `[id] ` prefix if it has one.
    pub async fn scan(&mut self, line: &str) -> Vec<String> {
        self.send(line).await;
        let digits = line.bytes().take_while(u8::is_ascii_digit).count();
        let prefix = match line.as_bytes().get(digits) {
            Some(b' ') if digits > 0 => &line[..=digits],
            _ => "",
        };
        self.until_terminal(prefix).await
    }
    pub async fn quit(&mut self) {
        self.send("QUIT").await;
        assert_eq!(self.line().await.as_deref(), Some("OK"));
        assert_eq!(self.line().await, None);
    }
}

pub fn eicar() -> Vec<u8> {
    scan_engine::eicar()
}

pub fn write(path: &Path, data: &[u8]) {
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p).unwrap();
    }
    std::fs::write(path, data).unwrap();
}

/// A deflated zip of `members`.
pub fn zip_bytes(members: &[(&str, &[u8])]) -> Vec<u8> {
    fixtures::zip_of(members, true)
}

/// A temp root holding `files` (relative path, bytes; parents created).
pub fn root_with(files: &[(&str, &[u8])]) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    for (name, data) in files {
        write(&d.path().join(name), data);
    }
    d
}

/// Reads `<id> SEND <port>` and connects a data channel to that port (no Nagle delay).
pub async fn data_channel(c: &mut Client, id: &str) -> TcpStream {
    let send = c.line().await.expect("SEND line");
    let port: u16 = send
        .strip_prefix(&format!("{id} SEND "))
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("expected {id} SEND <port>, got {send:?}"));
    let d = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect the data channel");
    d.set_nodelay(true).expect("nodelay");
    d
}

/// A one-thread builder (the order of replies is then fixed) over the virtual root `root`.
pub fn one_thread(root: &Path) -> fake_vfindd::Builder {
    fake_vfindd::FakeVfindd::builder()
        .threads(1)
        .virtual_root(root)
}

/// `builder` started, and a client past READY.
pub async fn connected(builder: fake_vfindd::Builder) -> (fake_vfindd::FakeVfindd, Client) {
    let s = builder.start().await.unwrap();
    let c = Client::connect(s.addr()).await;
    (s, c)
}

/// `builder` serving a temp root that holds `files`, and a client past READY.
pub async fn served(
    builder: fake_vfindd::Builder,
    files: &[(&str, &[u8])],
) -> (tempfile::TempDir, fake_vfindd::FakeVfindd, Client) {
    let d = root_with(files);
    let (s, c) = connected(builder.virtual_root(d.path())).await;
    (d, s, c)
}

/// [`served`] with one scan thread that waits `delay` before each part (requests queue).
pub async fn serve_slowly(
    delay: Duration,
    files: &[(&str, &[u8])],
) -> (tempfile::TempDir, fake_vfindd::FakeVfindd, Client) {
    served(
        fake_vfindd::FakeVfindd::builder().threads(1).delay(delay),
        files,
    )
    .await
}

/// [`served`] with one scan thread (the order of replies is then fixed).
pub async fn serve(
    files: &[(&str, &[u8])],
) -> (tempfile::TempDir, fake_vfindd::FakeVfindd, Client) {
    let d = root_with(files);
    let (s, c) = connected(one_thread(d.path())).await;
    (d, s, c)
}

pub fn gz_bytes(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// SVSP replies as text, to the end of the connection.
pub type End = fixtures::wire::End<String>;

/// A connection that ended with a FIN after `s`.
pub fn eof(s: &str) -> End {
    End::Eof(s.to_string())
}

/// Sends `lines` (each + CRLF) then QUIT, and reads to the end.
pub async fn session(addr: SocketAddr, lines: &[&str]) -> End {
    fixtures::wire::svsp_session(addr, lines, T).await
}

/// A one-thread server with a fault plan over a root holding `/clean` and `/eicar`.
pub struct Srv {
    pub s: fake_vfindd::FakeVfindd,
    _dir: tempfile::TempDir,
}

/// (No client connects here: connection counts and `conn=N` triggers stay the test's.)
pub async fn server(plan: faults::FaultPlan) -> Srv {
    let _dir = root_with(&[("clean", b"hello"), ("eicar", &eicar())]);
    let s = one_thread(_dir.path()).faults(plan).start().await.unwrap();
    Srv { s, _dir }
}
