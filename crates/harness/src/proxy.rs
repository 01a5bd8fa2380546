//! The recording proxy: sits between the client and the daemon and records every byte both
//! ways with direction and time. Half-closes are passed on, so a client's `shutdown(SHUT_WR)`
//! reaches the daemon and a daemon's close reaches the client.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UnixListener};
use tokio::task::JoinHandle;

use crate::error::{HarnessError, Result};
use crate::transcript::{Dir, Event, EventKind, Transcript};

/// Most bytes a proxy keeps in memory; later runs are recorded by length only.
pub const RECORD_CAP: usize = 256 << 20;
/// Most connections one proxy accepts (a runaway client cannot exhaust descriptors).
pub const MAX_CONNECTIONS: u32 = 256;

struct Recorder {
    start: Instant,
    events: Mutex<Vec<Event>>,
    kept: AtomicUsize,
}

impl Recorder {
    fn push(&self, conn: u32, kind: EventKind) {
        let at = self.start.elapsed();
        if let Ok(mut ev) = self.events.lock() {
            ev.push(Event { conn, at, kind });
        }
    }

    fn data(&self, conn: u32, dir: Dir, bytes: &[u8]) {
        let kept = self.kept.fetch_add(bytes.len(), Ordering::Relaxed);
        let truncated = kept + bytes.len() > RECORD_CAP;
        self.push(
            conn,
            EventKind::Data {
                dir,
                bytes: if truncated {
                    Vec::new()
                } else {
                    bytes.to_vec()
                },
                len: bytes.len(),
                truncated,
            },
        );
    }
}

/// Where the proxy listens for the client.
#[derive(Debug, Clone)]
pub enum Listen {
    Tcp(SocketAddr),
    Unix(PathBuf),
}

/// A running proxy. Dropping it stops accepting; [`Proxy::finish`] returns the transcript.
pub struct Proxy {
    recorder: Arc<Recorder>,
    accept: JoinHandle<()>,
    conns: Arc<Mutex<Vec<JoinHandle<()>>>>,
    /// TCP address the client should use (TCP listeners).
    pub tcp_addr: Option<SocketAddr>,
    /// Unix socket path the client should use (unix listeners).
    pub unix_path: Option<PathBuf>,
}

impl Proxy {
    /// Starts a proxy that forwards every accepted connection to `upstream`.
    pub async fn start(listen: Listen, upstream: SocketAddr) -> Result<Proxy> {
        Self::start_with(listen, upstream, Duration::ZERO).await
    }

    /// Like [`Proxy::start`]; `hold_greeting` delays forwarding (and recording) the server's
    /// first bytes on each connection, so a client that talks before the greeting (SVSP
    /// READY, SVSP-CLIENT-1) is seen doing so whatever the scheduling.
    pub async fn start_with(
        listen: Listen,
        upstream: SocketAddr,
        hold_greeting: Duration,
    ) -> Result<Proxy> {
        let recorder = Arc::new(Recorder {
            start: Instant::now(),
            events: Mutex::new(Vec::new()),
            kept: AtomicUsize::new(0),
        });
        let conns: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::new(Mutex::new(Vec::new()));
        let next = Arc::new(AtomicU32::new(1));
        match listen {
            Listen::Tcp(addr) => {
                let l = TcpListener::bind(addr)
                    .await
                    .map_err(|e| HarnessError::io(format!("proxy bind {addr}"), e))?;
                let tcp_addr = l
                    .local_addr()
                    .map_err(|e| HarnessError::io("proxy addr", e))?;
                let (rec, cs) = (recorder.clone(), conns.clone());
                let accept = tokio::spawn(async move {
                    while let Ok((s, _)) = l.accept().await {
                        let _ = s.set_nodelay(true);
                        if !spawn_conn(s, upstream, hold_greeting, &rec, &cs, &next) {
                            break;
                        }
                    }
                });
                Ok(Proxy {
                    recorder,
                    accept,
                    conns,
                    tcp_addr: Some(tcp_addr),
                    unix_path: None,
                })
            }
            Listen::Unix(path) => {
                let l = UnixListener::bind(&path)
                    .map_err(|e| HarnessError::io(format!("proxy bind {}", path.display()), e))?;
                let (rec, cs) = (recorder.clone(), conns.clone());
                let accept = tokio::spawn(async move {
                    while let Ok((s, _)) = l.accept().await {
                        if !spawn_conn(s, upstream, hold_greeting, &rec, &cs, &next) {
                            break;
                        }
                    }
                });
                Ok(Proxy {
                    recorder,
                    accept,
                    conns,
                    tcp_addr: None,
                    unix_path: Some(path),
                })
            }
        }
    }

    /// Stops accepting, waits up to `grace` for open connections to end, and returns what was
    /// recorded.
    pub async fn finish(self, grace: Duration) -> Transcript {
        self.accept.abort();
        let handles: Vec<JoinHandle<()>> = match self.conns.lock() {
            Ok(mut v) => v.drain(..).collect(),
            Err(_) => Vec::new(),
        };
        let deadline = tokio::time::Instant::now() + grace;
        for h in handles {
            let abort = h.abort_handle();
            if tokio::time::timeout_at(deadline, h).await.is_err() {
                abort.abort();
            }
        }
        let mut events = match self.recorder.events.lock() {
            Ok(v) => v.clone(),
            Err(_) => Vec::new(),
        };
        events.sort_by_key(|e| e.at);
        Transcript { events }
    }

    /// The socket path, if any, as a displayable string.
    pub fn unix_display(&self) -> Option<String> {
        self.unix_path
            .as_deref()
            .map(Path::display)
            .map(|d| d.to_string())
    }
}

fn spawn_conn<S>(
    client: S,
    upstream: SocketAddr,
    hold: Duration,
    rec: &Arc<Recorder>,
    conns: &Arc<Mutex<Vec<JoinHandle<()>>>>,
    next: &Arc<AtomicU32>,
) -> bool
where
    S: ClientStream,
{
    let id = next.fetch_add(1, Ordering::Relaxed);
    if id > MAX_CONNECTIONS {
        return false;
    }
    let rec = rec.clone();
    let h = tokio::spawn(async move { run_conn(client, upstream, hold, id, rec).await });
    if let Ok(mut v) = conns.lock() {
        v.push(h);
    }
    true
}

async fn run_conn<S>(client: S, upstream: SocketAddr, hold: Duration, id: u32, rec: Arc<Recorder>)
where
    S: ClientStream,
{
    let server =
        match tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(upstream)).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                rec.push(
                    id,
                    EventKind::Open {
                        upstream_error: Some(e.to_string()),
                    },
                );
                return; // dropping `client` closes it: the client sees the refusal as EOF
            }
            Err(_) => {
                rec.push(
                    id,
                    EventKind::Open {
                        upstream_error: Some("connect timed out".into()),
                    },
                );
                return;
            }
        };
    let _ = server.set_nodelay(true);
    rec.push(
        id,
        EventKind::Open {
            upstream_error: None,
        },
    );
    let (cr, cw) = tokio::io::split(client);
    let (sr, sw) = server.into_split();
    let (abort_tx, abort_rx) = tokio::sync::watch::channel(false);
    let abort_tx = Arc::new(abort_tx);
    let up = pump(
        cr,
        sw,
        Dir::C2S,
        Duration::ZERO,
        id,
        rec.clone(),
        abort_tx.clone(),
        abort_rx.clone(),
    );
    let down = pump(
        sr,
        cw,
        Dir::S2C,
        hold,
        id,
        rec.clone(),
        abort_tx.clone(),
        abort_rx.clone(),
    );
    let ((cr, _), (_, cw)) = tokio::join!(up, down);
    if *abort_rx.borrow() {
        // The daemon reset the connection (or vanished while the client was sending): pass
        // the reset on, as the client would see it without the proxy (CLAMD-TRANS-5).
        cr.unsplit(cw).reset();
    }
}

/// A client-side stream the proxy can abort with a reset.
pub trait ClientStream: AsyncRead + AsyncWrite + Unpin + Send + 'static {
    /// Closes with RST where the transport has one.
    fn reset(self);
}

impl ClientStream for TcpStream {
    fn reset(self) {
        let _ = socket2::SockRef::from(&self).set_linger(Some(Duration::ZERO));
        drop(self);
    }
}

impl ClientStream for tokio::net::UnixStream {
    fn reset(self) {
        drop(self);
    }
}

#[allow(clippy::too_many_arguments)]
async fn pump<R, W>(
    mut r: R,
    mut w: W,
    dir: Dir,
    hold: Duration,
    id: u32,
    rec: Arc<Recorder>,
    abort_tx: Arc<tokio::sync::watch::Sender<bool>>,
    mut abort_rx: tokio::sync::watch::Receiver<bool>,
) -> (R, W)
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut buf = vec![0u8; 64 * 1024];
    let mut first = true;
    loop {
        let read = tokio::select! {
            r = r.read(&mut buf) => r,
            _ = abort_rx.wait_for(|v| *v) => break,
        };
        match read {
            Ok(0) => {
                rec.push(id, EventKind::Eof { dir });
                break;
            }
            Ok(n) => {
                if first && !hold.is_zero() {
                    tokio::time::sleep(hold).await;
                }
                first = false;
                rec.data(id, dir, &buf[..n]);
                if let Err(e) = w.write_all(&buf[..n]).await {
                    // The receiver is gone (the daemon reset while the client was sending):
                    // stop, and let the caller reset the client's connection.
                    let other = match dir {
                        Dir::C2S => Dir::S2C,
                        Dir::S2C => Dir::C2S,
                    };
                    rec.push(
                        id,
                        EventKind::Error {
                            dir: other,
                            message: format!("peer gone: {}", e.kind()),
                        },
                    );
                    let _ = abort_tx.send(true);
                    break;
                }
            }
            Err(e) => {
                rec.push(
                    id,
                    EventKind::Error {
                        dir,
                        message: e.kind().to_string(),
                    },
                );
                if dir == Dir::S2C {
                    let _ = abort_tx.send(true);
                }
                break;
            }
        }
    }
    let _ = w.shutdown().await;
    (r, w)
}
