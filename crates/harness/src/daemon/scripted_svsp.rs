//! A scripted SVSP server: READY greeting, ENABLE/DISABLE/QUIT, SCAN/FILE, SCAN/FILE-SHA1
//! SCAN/REQUEST and SCAN/PORT, QUEUED on/off/random, and the faults of [`Fault`]. Wire strings
//! follow svsp.md; rule IDs are cited inline.

use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use rand::{Rng, SeedableRng};
use sha1::{Digest, Sha1};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::scan::{scan, SVSP_EICAR_NAME};
use super::{write_reply, Fault, QueuedMode, ScriptConfig};

/// SVSP-FRAME-4: longest accepted line.
const MAX_LINE: usize = 8192;
const IDLE: Duration = Duration::from_secs(30);
const DATA_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_CONNS: u32 = 1024;
const GREETING_DELAY: Duration = Duration::from_millis(40);

pub async fn serve(l: TcpListener, cfg: Arc<ScriptConfig>) {
    let mut n = 0u32;
    while let Ok((s, _)) = l.accept().await {
        n += 1;
        if n > MAX_CONNS {
            break;
        }
        let cfg = cfg.clone();
        let seed = match cfg.queued {
            QueuedMode::Random(seed) => seed.wrapping_add(u64::from(n)),
            _ => 0,
        };
        tokio::spawn(async move {
            let mut c = Conn {
                s,
                buf: BytesMut::with_capacity(4096),
                rng: rand_chacha::ChaCha8Rng::seed_from_u64(seed),
            };
            if let Err(e) = c.run(&cfg).await {
                tracing::debug!("scripted svsp connection: {e}");
            }
        });
    }
}

struct Conn {
    s: TcpStream,
    buf: BytesMut,
    rng: rand_chacha::ChaCha8Rng,
}

/// SVSP-NAME-2: quote a name for a response.
pub fn quote(name: &[u8]) -> String {
    let mut s = String::from("\"");
    for &c in name {
        match c {
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            b'\n' => s.push_str("\\n"),
            _ => s.push(c as char),
        }
    }
    s.push('"');
    s
}

impl Conn {
    async fn line(&mut self) -> Option<Vec<u8>> {
        loop {
            if let Some(p) = memchr::memchr(b'\n', &self.buf) {
                let mut l = self.buf[..p].to_vec();
                self.buf.advance(p + 1);
                if l.last() == Some(&b'\r') {
                    l.pop(); // SVSP-FRAME-1
                }
                return Some(l);
            }
            if self.buf.len() > MAX_LINE {
                self.buf.clear();
            }
            self.buf.reserve(4096);
            match tokio::time::timeout(IDLE, self.s.read_buf(&mut self.buf)).await {
                Ok(Ok(n)) if n > 0 => {}
                _ => return None,
            }
        }
    }

    async fn send(
        &mut self,
        cfg: &ScriptConfig,
        id: &Option<String>,
        text: &str,
    ) -> std::io::Result<()> {
        let line = match id {
            Some(id) => format!("{id} {text}\r\n"), // SVSP-ID-1
            None => format!("{text}\r\n"),          // SVSP-FRAME-6 (CRLF)
        };
        write_reply(&mut self.s, cfg, line.as_bytes()).await
    }

    fn queued(&mut self, cfg: &ScriptConfig) -> bool {
        match cfg.queued {
            QueuedMode::Always => true,
            QueuedMode::Never => false,
            QueuedMode::Random(_) => self.rng.gen_bool(0.5),
        }
    }

    async fn run(&mut self, cfg: &ScriptConfig) -> std::io::Result<()> {
        if cfg.fault == Fault::Denied {
            self.s.write_all(b"DENIED\r\n").await?; // SVSP-CONN-2
            return Ok(());
        }
        // A short pause before READY makes "sent before READY" (SVSP-CLIENT-1) observable
        // regardless of scheduling; real servers may be this slow too.
        tokio::time::sleep(GREETING_DELAY).await;
        self.s.write_all(b"READY\r\n").await?; // SVSP-CONN-1
        while let Some(line) = self.line().await {
            let text = String::from_utf8_lossy(&line).into_owned();
            let trimmed = text.trim_start_matches([' ', '\t']);
            if trimmed.trim().is_empty() {
                continue; // SVSP-FRAME-3
            }
            // SVSP-FRAME-8 tokenisation
            let (first, rest) = split_token(trimmed);
            let (id, word, args) = if !first.is_empty()
                && first.len() <= 9
                && first.bytes().all(|b| b.is_ascii_digit())
            {
                let (w, a) = split_token(rest);
                (Some(first.to_string()), w.to_string(), a.to_string())
            } else {
                (None, first.to_string(), rest.to_string())
            };
            let upper = word.to_ascii_uppercase();
            match upper.as_str() {
                "QUIT" => {
                    self.send(cfg, &id, "OK").await?; // SVSP-CMD-QUIT-1
                    return Ok(());
                }
                "ENABLE" | "DISABLE" => self.send(cfg, &id, "OK").await?,
                "SCAN/FILE" | "SCAN/FILE-SHA1" | "SCAN/REQUEST" | "SCAN/PORT" => {
                    if !self.scan(cfg, &id, &upper, &args).await? {
                        return Ok(());
                    }
                }
                "" => self.send(cfg, &id, "EINVAL Missing command").await?,
                _ => {
                    // SVSP-ERR-EINVAL-1
                    let msg = format!("EINVAL Unrecognized command: {word}");
                    self.send(cfg, &id, &msg).await?
                }
            }
        }
        Ok(())
    }

    /// Runs one SCAN; false = close the connection.
    async fn scan(
        &mut self,
        cfg: &ScriptConfig,
        id: &Option<String>,
        word: &str,
        args: &str,
    ) -> std::io::Result<bool> {
        if cfg.fault == Fault::CloseEarly {
            return Ok(false);
        }
        let request = word == "SCAN/REQUEST" || word == "SCAN/PORT";
        if !request && args.is_empty() {
            self.send(cfg, id, "EINVAL Missing filename").await?;
            return Ok(true);
        }
        let (display, data) = if word == "SCAN/PORT" {
            // SVSP-SCAN-PORT-1: `<portnum> [<name>]`, checked at parse time
            let (port, name) = split_token(args);
            let Some(port) = port.parse::<u16>().ok().filter(|p| *p > 0) else {
                self.send(cfg, id, &format!("EINVAL Invalid port: {port}"))
                    .await?;
                return Ok(true);
            };
            match self.connect_back(cfg, id, port, name).await? {
                Some(d) => (name.as_bytes().to_vec(), d),
                None => return Ok(true),
            }
        } else if request {
            match self.receive(cfg, id, args).await? {
                Some(d) => (args.as_bytes().to_vec(), d),
                None => return Ok(true),
            }
        } else {
            if self.queued(cfg) {
                self.send(cfg, id, "QUEUED").await?; // SVSP-RESP-QUEUED-1
            }
            match std::fs::read(args) {
                Ok(d) => (args.as_bytes().to_vec(), d),
                Err(e) => {
                    let errno = if e.kind() == std::io::ErrorKind::NotFound {
                        "ENOENT"
                    } else {
                        "EACCES"
                    };
                    let msg = format!("{errno} {}", quote(args.as_bytes()));
                    self.send(cfg, id, &msg).await?;
                    return Ok(true);
                }
            }
        };
        if request && self.queued(cfg) {
            self.send(cfg, id, "QUEUED").await?;
        }
        let target = quote(&display);
        match &cfg.fault {
            Fault::Errno { name } => {
                let msg = format!("{name} {target}");
                self.send(cfg, id, &msg).await?;
                return Ok(true);
            }
            Fault::Reply { text, .. } => {
                self.send(cfg, id, text).await?;
                return Ok(true);
            }
            Fault::CloseBeforeReply => return Ok(false),
            Fault::Silent => {
                tokio::time::sleep(Duration::from_secs(120)).await;
                return Ok(false);
            }
            _ => {}
        }
        let parts = scan(&data, cfg.eicar_anywhere);
        let has_members = parts.len() > 1;
        let mut count = 0;
        for (i, p) in parts.iter().enumerate() {
            // Only leaves are reported when the root was opened (ORIGINAL off, SVSP-OPT-ORIGINAL-1).
            let is_container = parts
                .get(i + 1)
                .is_some_and(|n| n.chain.len() > p.chain.len());
            if has_members && is_container {
                continue;
            }
            let mut name = target.clone();
            for m in &p.chain {
                let m = if m.starts_with('/') {
                    m.clone()
                } else {
                    format!("/{m}")
                };
                name.push_str(" -> ");
                name.push_str(&quote(m.as_bytes())); // SVSP-NAME-3
            }
            self.send(cfg, id, &format!("SCANNING {name}")).await?;
            if p.infected {
                count += 1;
                // SVSP-RESP-INFECTED-1
                let msg = format!("INFECTED {SVSP_EICAR_NAME} : {name} : end at 68");
                self.send(cfg, id, &msg).await?;
            }
        }
        let mut done = format!("DONE {count} : {target}"); // SVSP-RESP-DONE-1
        if word == "SCAN/FILE-SHA1" {
            done.push_str(&format!(" : {}", hex::encode(Sha1::digest(&data))));
        }
        if cfg.fault == Fault::CloseMidReply {
            let half = done.len() / 2;
            write_reply(&mut self.s, cfg, &done.as_bytes()[..half]).await?;
            return Ok(false);
        }
        self.send(cfg, id, &done).await?;
        Ok(true)
    }

    /// SVSP-SCAN-REQUEST-1: announce a data port, read one connection to EOF.
    async fn receive(
        &mut self,
        cfg: &ScriptConfig,
        id: &Option<String>,
        name: &str,
    ) -> std::io::Result<Option<Vec<u8>>> {
        let ip = self.s.local_addr()?.ip();
        let l = TcpListener::bind((ip, 0)).await?;
        let port = l.local_addr()?.port();
        self.send(cfg, id, &format!("SEND {port}")).await?;
        let fail = format!("ENOENT No connection to port {port}"); // SVSP-SCAN-REQUEST-2
        let Ok(Ok((d, _))) = tokio::time::timeout(DATA_TIMEOUT, l.accept()).await else {
            self.send(cfg, id, &fail).await?;
            return Ok(None);
        };
        self.read_data(cfg, id, d, port, name).await
    }

    /// SVSP-SCAN-PORT-1: connect to the control peer's address at `port` (no SEND line),
    /// read to EOF.
    async fn connect_back(
        &mut self,
        cfg: &ScriptConfig,
        id: &Option<String>,
        port: u16,
        name: &str,
    ) -> std::io::Result<Option<Vec<u8>>> {
        let peer = self.s.peer_addr()?.ip();
        let connect = tokio::net::TcpStream::connect((peer, port));
        let Ok(Ok(d)) = tokio::time::timeout(DATA_TIMEOUT, connect).await else {
            let fail = format!("ENOENT No connection to port {port}");
            self.send(cfg, id, &fail).await?;
            return Ok(None);
        };
        self.read_data(cfg, id, d, port, name).await
    }

    /// Reads a data connection to EOF within the stream limit (SVSP-SCAN-REQUEST-2).
    async fn read_data(
        &mut self,
        cfg: &ScriptConfig,
        id: &Option<String>,
        mut d: tokio::net::TcpStream,
        port: u16,
        name: &str,
    ) -> std::io::Result<Option<Vec<u8>>> {
        let fail = format!("ENOENT No connection to port {port}");
        let mut data = Vec::new();
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            match tokio::time::timeout(DATA_TIMEOUT, d.read(&mut chunk)).await {
                Ok(Ok(0)) => break,
                Ok(Ok(n)) => {
                    data.extend_from_slice(&chunk[..n]);
                    if data.len() as u64 > cfg.stream_max_length {
                        let msg = format!("EINVAL Size limit exceeded: {}", quote(name.as_bytes()));
                        self.send(cfg, id, &msg).await?;
                        return Ok(None);
                    }
                }
                _ => {
                    self.send(cfg, id, &fail).await?;
                    return Ok(None);
                }
            }
        }
        Ok(Some(data))
    }
}

fn split_token(s: &str) -> (&str, &str) {
    match s.find([' ', '\t']) {
        Some(p) => (&s[..p], s[p..].trim_start_matches([' ', '\t'])),
        None => (s, ""),
    }
}
