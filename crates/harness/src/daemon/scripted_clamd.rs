//! A scripted clamd: enough of the protocol (z/n/legacy framing, IDSESSION, INSTREAM with
//! the StreamMaxLength quota, SCAN, PING, VERSION) to exercise clients, plus the faults of
//! [`Fault`] at the scan reply. Wire strings follow clamd.md; rule IDs are cited inline.

use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::scan::{infected, CLAMD_EICAR_NAME};
use super::{write_reply, Fault, ScriptConfig};

/// CLAMD-TRANS-4: the command buffer is PATH_MAX + 8 bytes.
const CMD_BUF: usize = 4104;
/// How long the scripted server waits for client bytes before giving up.
const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Most connections one scripted server accepts.
const MAX_CONNS: u32 = 1024;

pub async fn serve(l: TcpListener, cfg: Arc<ScriptConfig>) {
    let mut n = 0;
    while let Ok((s, _)) = l.accept().await {
        n += 1;
        if n > MAX_CONNS {
            break;
        }
        let cfg = cfg.clone();
        tokio::spawn(async move {
            let mut c = Conn {
                s,
                buf: BytesMut::with_capacity(8192),
            };
            if let Err(e) = c.run(&cfg).await {
                tracing::debug!("scripted clamd connection: {e}");
            }
        });
    }
}

/// Frames a reply for one command: session id prefix and the command's terminator.
struct Framer {
    id: Option<u32>,
    term: u8,
}

impl Framer {
    fn frame(&self, text: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        if let Some(id) = self.id {
            v.extend_from_slice(format!("{id}: ").as_bytes()); // CLAMD-SESSION-3
        }
        v.extend_from_slice(text);
        v.push(self.term); // CLAMD-FRAME-4
        v
    }
}

struct Conn {
    s: TcpStream,
    buf: BytesMut,
}

enum Next {
    Continue,
    Close,
}

impl Conn {
    /// Reads more bytes; false on EOF, error or timeout.
    async fn more(&mut self) -> bool {
        self.buf.reserve(64 * 1024);
        matches!(
            tokio::time::timeout(READ_TIMEOUT, self.s.read_buf(&mut self.buf)).await,
            Ok(Ok(n)) if n > 0
        )
    }

    async fn send(&mut self, cfg: &ScriptConfig, bytes: &[u8]) -> std::io::Result<()> {
        write_reply(&mut self.s, cfg, bytes).await
    }

    async fn run(&mut self, cfg: &ScriptConfig) -> std::io::Result<()> {
        let mut session = false;
        let mut next_id = 0u32;
        loop {
            while self.buf.is_empty() {
                if !self.more().await {
                    return Ok(());
                }
            }
            let mode = self.buf[0];
            if mode != b'z' && mode != b'n' {
                // CLAMD-FRAME-3 legacy mode: the first read is the command.
                let end = memchr::memchr(b'\n', &self.buf).unwrap_or(self.buf.len());
                let mut line = self.buf[..end].to_vec();
                while line.last().is_some_and(|c| *c == b'\r' || *c == b'\n') {
                    line.pop();
                }
                let reply: &[u8] = if session {
                    // CLAMD-SESSION-6 (simplified to its second line)
                    b"Error processing command. ERROR\n"
                } else {
                    match line.as_slice() {
                        b"PING" => b"PONG\n",
                        b"VERSION" => b"ClamAV 1.4.6\n",
                        _ => b"UNKNOWN COMMAND\n", // CLAMD-FRAME-5, CLAMD-CMD-9
                    }
                };
                self.send(cfg, reply).await?;
                return Ok(());
            }
            let term = if mode == b'z' { 0u8 } else { b'\n' };
            let pos = loop {
                if let Some(p) = memchr::memchr(term, &self.buf[1..]) {
                    break p + 1;
                }
                if self.buf.len() > CMD_BUF {
                    return Ok(()); // CLAMD-FRAME-9: over-long command, close with no reply
                }
                if !self.more().await {
                    return Ok(());
                }
            };
            let mut cmd = self.buf[1..pos].to_vec();
            self.buf.advance(pos + 1);
            if term == b'\n' {
                while cmd.last().is_some_and(|c| *c == b'\r' || *c == b'\n') {
                    cmd.pop(); // CLAMD-FRAME-2 chomp
                }
            }
            let id = if session {
                next_id += 1;
                Some(next_id)
            } else {
                None
            };
            let framer = Framer { id, term };
            let frame = |text: &[u8]| framer.frame(text);
            let next = match cmd.as_slice() {
                b"IDSESSION" if !session => {
                    session = true; // CLAMD-SESSION-1: no reply
                    Next::Continue
                }
                b"END" if session => return Ok(()), // CLAMD-SESSION-7
                b"PING" => {
                    self.send(cfg, &frame(b"PONG")).await?;
                    Next::Continue
                }
                b"VERSION" => {
                    self.send(cfg, &frame(b"ClamAV 1.4.6")).await?;
                    Next::Continue
                }
                b"INSTREAM" => self.instream(cfg, &framer).await?,
                c if c.starts_with(b"SCAN ") => {
                    let path = String::from_utf8_lossy(&c[5..]).into_owned();
                    let verdict = match std::fs::read(&path) {
                        Ok(d) if infected(&d, cfg.eicar_anywhere) => {
                            format!("{path}: {CLAMD_EICAR_NAME} FOUND")
                        }
                        Ok(_) => format!("{path}: OK"),
                        Err(_) => format!(
                            "{path}: File path check failure: No such file or directory. ERROR"
                        ),
                    };
                    self.scan_reply(cfg, &framer, verdict.as_bytes()).await?
                }
                _ if session => {
                    // CLAMD-SESSION-5
                    self.send(cfg, &frame(b"Command invalid inside IDSESSION. ERROR"))
                        .await?;
                    Next::Close
                }
                _ => {
                    self.send(cfg, &frame(b"UNKNOWN COMMAND")).await?; // CLAMD-CMD-9
                    Next::Close
                }
            };
            if matches!(next, Next::Close) || !session {
                // CLAMD-CONN-1: one command per connection outside a session.
                let _ = self.s.shutdown().await;
                return Ok(());
            }
        }
    }

    async fn instream(&mut self, cfg: &ScriptConfig, framer: &Framer) -> std::io::Result<Next> {
        let frame = |t: &[u8]| framer.frame(t);
        if cfg.fault == Fault::CloseEarly {
            return Ok(Next::Close);
        }
        let mut quota = cfg.stream_max_length; // CLAMD-INSTREAM-4
        let mut data: Vec<u8> = Vec::new();
        loop {
            while self.buf.len() < 4 {
                if !self.more().await {
                    return Ok(Next::Close); // CLAMD-CONN-4: incomplete stream, no reply
                }
            }
            let len = u32::from_be_bytes([self.buf[0], self.buf[1], self.buf[2], self.buf[3]]);
            self.buf.advance(4);
            if len == 0 {
                break;
            }
            if u64::from(len) > quota {
                // CLAMD-INSTREAM-5
                self.send(cfg, &frame(b"INSTREAM size limit exceeded. ERROR"))
                    .await?;
                self.drain().await;
                return Ok(Next::Close);
            }
            quota -= u64::from(len);
            let mut need = len as usize;
            while need > 0 {
                if self.buf.is_empty() && !self.more().await {
                    return Ok(Next::Close);
                }
                let take = need.min(self.buf.len());
                data.extend_from_slice(&self.buf[..take]);
                self.buf.advance(take);
                need -= take;
            }
        }
        // CLAMD-INSTREAM-3
        let verdict = if infected(&data, cfg.eicar_anywhere) {
            format!("stream: {CLAMD_EICAR_NAME} FOUND")
        } else {
            "stream: OK".to_string()
        };
        self.scan_reply(cfg, framer, verdict.as_bytes()).await
    }

    async fn scan_reply(
        &mut self,
        cfg: &ScriptConfig,
        framer: &Framer,
        verdict: &[u8],
    ) -> std::io::Result<Next> {
        let frame = |t: &[u8]| framer.frame(t);
        match &cfg.fault {
            Fault::Reply { text, raw } => {
                let bytes = if *raw {
                    crate::input::unescape(text)
                } else {
                    frame(text.as_bytes())
                };
                self.send(cfg, &bytes).await?;
                // As clamd: a per-file reply (`<subject>: ... OK|FOUND|ERROR`) leaves a session
                // open (CLAMD-REPLY-4); anything else ends the connection (CLAMD-REPLY-2).
                if !*raw && is_per_file_reply(text) {
                    Ok(Next::Continue)
                } else {
                    Ok(Next::Close)
                }
            }
            Fault::CloseBeforeReply => Ok(Next::Close),
            Fault::CloseMidReply => {
                let full = frame(verdict);
                let half = &full[..full.len() / 2];
                self.send(cfg, half).await?;
                Ok(Next::Close)
            }
            Fault::Silent => {
                self.drain_for(Duration::from_secs(120)).await;
                Ok(Next::Close)
            }
            Fault::ReadTimeout => {
                self.send(cfg, b"COMMAND READ TIMED OUT\n").await?; // CLAMD-TIME-3
                Ok(Next::Close)
            }
            _ => {
                self.send(cfg, &frame(verdict)).await?;
                Ok(Next::Continue)
            }
        }
    }

    /// Reads and discards input until EOF or 2 s (the fake's `limit=reply-drain` mode), so
    /// the client reliably reads the size-limit reply instead of a reset.
    async fn drain(&mut self) {
        self.drain_for(Duration::from_secs(2)).await
    }

    async fn drain_for(&mut self, d: Duration) {
        let deadline = tokio::time::Instant::now() + d;
        let mut scratch = vec![0u8; 64 * 1024];
        while let Ok(Ok(n)) = tokio::time::timeout_at(deadline, self.s.read(&mut scratch)).await {
            if n == 0 {
                break;
            }
        }
    }
}

/// Whether a reply text is about one scanned subject (`<subject>: <result>`), after which
/// clamd carries on with the session, as opposed to a connection-level error line.
fn is_per_file_reply(text: &str) -> bool {
    text.split_once(": ").is_some_and(|(subject, rest)| {
        !subject.is_empty()
            && (rest == "OK" || rest.ends_with(" FOUND") || rest.ends_with(" ERROR"))
    })
}

#[cfg(test)]
mod tests {
    use super::is_per_file_reply;

    #[test]
    fn per_file_replies_keep_the_session_connection_errors_do_not() {
        assert!(is_per_file_reply("stream: Can't allocate memory ERROR"));
        assert!(is_per_file_reply("stream: Sig-1 FOUND"));
        assert!(is_per_file_reply("/tmp/x: OK"));
        assert!(!is_per_file_reply("INSTREAM size limit exceeded. ERROR"));
        assert!(!is_per_file_reply("UNKNOWN COMMAND"));
        assert!(!is_per_file_reply("Error processing command. ERROR"));
    }
}
