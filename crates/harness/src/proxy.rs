//! The recording proxy: sits between the client and the daemon and records every byte both
//! ways with direction and time. Half-closes are passed on, so a client's `shutdown(SHUT_WR)`
//! reaches the daemon and a daemon's close reaches the client.
//!
//! For SVSP ([`ProxyOptions::svsp_data_channels`]) the proxy also puts itself into the data
//! channels, which otherwise bypass it: it rewrites the port of a daemon's `SEND <port>`
//! (SCAN/REQUEST, SVSP-SCAN-REQUEST-1) and of a client's `SCAN/PORT <port>`
//! (SVSP-SCAN-PORT-1) to a fresh listener of its own, relays the one connection that arrives
//! there to the original port, and records it as a connection of its own, marked as a data
//! channel of its control connection ([`EventKind::DataChannel`]).
//!
//! With a unix upstream ([`Upstream::Unix`]) and a unix listener, descriptors a client passes
//! (FILDES, CLAMD-FILDES-1) go on to the daemon with the bytes they came with and are
//! recorded ([`EventKind::Descriptors`]); see [`crate::fd_pass`].

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use tokio::task::JoinHandle;

use crate::data_lines::{LineRewriter, Piece, Watch};
use crate::error::{HarnessError, Result};
use crate::fd_pass::{Plain, Received, Sink, Source};
use crate::transcript::{DataSource, Dir, Event, EventKind, Transcript};
use fake_clamd::Peer;
use std::os::fd::AsRawFd;

/// Most bytes a proxy keeps in memory; later runs are recorded by length only. A client
/// that streams without end is judged on what it sent first, and the harness's memory stays
/// within about five times this (the checks parse the record: 16 MiB of 6-byte commands
/// peaked at about 90 MB). The largest case inputs (32 MiB, the `stop-reading` cases) are
/// larger on purpose: only about 7 MiB of them get through before the upload blocks.
pub const RECORD_CAP: usize = 16 << 20;
/// Most connections one proxy accepts (a runaway client cannot exhaust descriptors).
pub const MAX_CONNECTIONS: u32 = 256;
/// Most SVSP data channels one proxy opens; later SEND / SCAN/PORT lines pass unchanged (and
/// their data unrecorded).
pub const MAX_DATA_CHANNELS: u32 = 32;
/// How long a data channel listener waits for its one connection (the fake's default
/// `--data-timeout`, SVSP-SCAN-REQUEST-2).
pub const DATA_ACCEPT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the proxy waits for its own connection to a peer.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

struct Recorder {
    start: Instant,
    events: Mutex<Vec<Event>>,
    kept: AtomicUsize,
    /// Per connection, the local address of its socket to the daemon.
    upstream: Mutex<Vec<(u32, Peer)>>,
}

impl Recorder {
    fn upstream(&self, conn: u32, local: Option<Peer>) {
        if let (Some(addr), Ok(mut v)) = (local, self.upstream.lock()) {
            v.push((conn, addr));
        }
    }

    fn push(&self, conn: u32, kind: EventKind) {
        let at = self.start.elapsed();
        if let Ok(mut ev) = self.events.lock() {
            ev.push(Event { conn, at, kind });
        }
    }

    fn data(&self, conn: u32, dir: Dir, bytes: &[u8]) {
        let kept = self.kept.fetch_add(bytes.len(), Ordering::Relaxed);
        let truncated = kept + bytes.len() > RECORD_CAP;
        if truncated && self.lengthen_last(conn, dir, bytes.len()) {
            return;
        }
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

impl Recorder {
    /// Adds `len` to the last event when it is a truncated run of the same connection and
    /// direction: past the cap, a client that streams without end adds no event per read.
    fn lengthen_last(&self, conn: u32, dir: Dir, len: usize) -> bool {
        let Ok(mut ev) = self.events.lock() else {
            return false;
        };
        match ev.last_mut() {
            Some(Event {
                conn: c,
                kind:
                    EventKind::Data {
                        dir: d,
                        len: l,
                        truncated: true,
                        ..
                    },
                ..
            }) if *c == conn && *d == dir => {
                *l += len;
                true
            }
            _ => false,
        }
    }
}

/// Where the proxy listens for the client.
#[derive(Debug, Clone)]
pub enum Listen {
    Tcp(SocketAddr),
    Unix(PathBuf),
}

/// Where the proxy connects for each connection it accepts.
#[derive(Debug, Clone)]
pub enum Upstream {
    Tcp(SocketAddr),
    /// A unix socket: descriptors a unix client passes are passed on (FILDES).
    Unix(PathBuf),
}

impl From<SocketAddr> for Upstream {
    fn from(a: SocketAddr) -> Self {
        Upstream::Tcp(a)
    }
}

/// How the proxy treats its connections.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProxyOptions {
    /// Delays forwarding (and recording) the server's first bytes on each connection, so a
    /// client that talks before the greeting (SVSP READY, SVSP-CLIENT-1) is seen doing so
    /// whatever the scheduling.
    pub hold_greeting: Duration,
    /// Relay and record SVSP data channels (SCAN/REQUEST and SCAN/PORT). Off for clamd, whose
    /// bytes then pass exactly as read.
    pub svsp_data_channels: bool,
}

/// State shared by the accept loop, the connections and their data channels.
struct Shared {
    rec: Arc<Recorder>,
    /// Control connections' relays.
    conns: Mutex<Vec<JoinHandle<()>>>,
    /// Data channels' tasks (listening, then relaying).
    data: Mutex<Vec<JoinHandle<()>>>,
    /// Set by [`Proxy::finish`] once every control connection has ended: a data channel
    /// still waiting for its connection then stops waiting (nobody is left to open it).
    closing: tokio::sync::watch::Sender<bool>,
    next: AtomicU32,
    channels: AtomicU32,
}

impl Shared {
    fn track(list: &Mutex<Vec<JoinHandle<()>>>, h: JoinHandle<()>) {
        if let Ok(mut v) = list.lock() {
            v.push(h);
        }
    }
}

/// Awaits every task of `list` (also those added meanwhile) until `deadline`, then aborts
/// what is left.
async fn join_until(list: &Mutex<Vec<JoinHandle<()>>>, deadline: tokio::time::Instant) {
    loop {
        let handles: Vec<JoinHandle<()>> = match list.lock() {
            Ok(mut v) => v.drain(..).collect(),
            Err(_) => Vec::new(),
        };
        if handles.is_empty() {
            break;
        }
        for h in handles {
            let abort = h.abort_handle();
            if tokio::time::timeout_at(deadline, h).await.is_err() {
                abort.abort();
            }
        }
    }
}

/// A running proxy. Dropping it stops accepting; [`Proxy::finish`] returns the transcript.
pub struct Proxy {
    shared: Arc<Shared>,
    accept: JoinHandle<()>,
    /// TCP address the client should use (TCP listeners).
    pub tcp_addr: Option<SocketAddr>,
    /// Unix socket path the client should use (unix listeners).
    pub unix_path: Option<PathBuf>,
}

impl Proxy {
    /// Starts a proxy that forwards every accepted connection to `upstream`.
    pub async fn start(listen: Listen, upstream: impl Into<Upstream>) -> Result<Proxy> {
        Self::start_with(listen, upstream, ProxyOptions::default()).await
    }

    /// Like [`Proxy::start`], with options.
    pub async fn start_with(
        listen: Listen,
        upstream: impl Into<Upstream>,
        opts: ProxyOptions,
    ) -> Result<Proxy> {
        let upstream = upstream.into();
        let shared = Arc::new(Shared {
            rec: Arc::new(Recorder {
                start: Instant::now(),
                events: Mutex::new(Vec::new()),
                kept: AtomicUsize::new(0),
                upstream: Mutex::new(Vec::new()),
            }),
            conns: Mutex::new(Vec::new()),
            data: Mutex::new(Vec::new()),
            closing: tokio::sync::watch::channel(false).0,
            next: AtomicU32::new(1),
            channels: AtomicU32::new(0),
        });
        match listen {
            Listen::Tcp(addr) => {
                let l = TcpListener::bind(addr)
                    .await
                    .map_err(|e| HarnessError::io(format!("proxy bind {addr}"), e))?;
                let tcp_addr = l
                    .local_addr()
                    .map_err(|e| HarnessError::io("proxy addr", e))?;
                let sh = shared.clone();
                let accept = tokio::spawn(async move {
                    while let Ok((s, _)) = l.accept().await {
                        let _ = s.set_nodelay(true);
                        if !spawn_conn(s, upstream.clone(), opts, &sh) {
                            break;
                        }
                    }
                });
                Ok(Proxy {
                    shared,
                    accept,
                    tcp_addr: Some(tcp_addr),
                    unix_path: None,
                })
            }
            Listen::Unix(path) => {
                let l = UnixListener::bind(&path)
                    .map_err(|e| HarnessError::io(format!("proxy bind {}", path.display()), e))?;
                let sh = shared.clone();
                let accept = tokio::spawn(async move {
                    while let Ok((s, _)) = l.accept().await {
                        if !spawn_conn(s, upstream.clone(), opts, &sh) {
                            break;
                        }
                    }
                });
                Ok(Proxy {
                    shared,
                    accept,
                    tcp_addr: None,
                    unix_path: Some(path),
                })
            }
        }
    }

    /// Stops accepting, waits up to `grace` for open connections (and data channels) to end,
    /// and returns what was recorded. A data channel nobody connected to by the time every
    /// control connection has ended is not waited for: its peers are gone (the client has
    /// exited; the daemon saw its control connection end), so the grace would only pass.
    pub async fn finish(self, grace: Duration) -> Transcript {
        self.accept.abort();
        let deadline = tokio::time::Instant::now() + grace;
        // Control connections open data channels, so they end first.
        join_until(&self.shared.conns, deadline).await;
        self.shared.closing.send_replace(true);
        join_until(&self.shared.data, deadline).await;
        let mut events = match self.shared.rec.events.lock() {
            Ok(v) => v.clone(),
            Err(_) => Vec::new(),
        };
        events.sort_by_key(|e| e.at);
        let upstream_addrs = match self.shared.rec.upstream.lock() {
            Ok(v) => v.clone(),
            Err(_) => Vec::new(),
        };
        Transcript {
            events,
            upstream_addrs,
            daemon_streams: None,
            daemon_refused: None,
        }
    }

    /// The socket path, if any, as a displayable string.
    pub fn unix_display(&self) -> Option<String> {
        self.unix_path
            .as_deref()
            .map(Path::display)
            .map(|d| d.to_string())
    }
}

fn spawn_conn<S>(client: S, upstream: Upstream, opts: ProxyOptions, sh: &Arc<Shared>) -> bool
where
    S: ClientStream,
{
    let id = sh.next.fetch_add(1, Ordering::Relaxed);
    if id > MAX_CONNECTIONS {
        // Reset, not closed: a close would read as a complete empty reply (fail-open bait).
        // Later connections are refused (the listener goes).
        tracing::warn!("proxy: more than {MAX_CONNECTIONS} connections; refusing the rest");
        client.reset();
        return false;
    }
    let sh2 = sh.clone();
    let h = tokio::spawn(async move { run_conn(client, upstream, opts, id, sh2).await });
    Shared::track(&sh.conns, h);
    true
}

/// Connects within [`CONNECT_TIMEOUT`]; the error as it goes into the transcript.
async fn within_timeout<T>(
    connecting: impl std::future::Future<Output = std::io::Result<T>>,
) -> std::result::Result<T, String> {
    match tokio::time::timeout(CONNECT_TIMEOUT, connecting).await {
        Ok(Ok(s)) => Ok(s),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("connect timed out".into()),
    }
}

/// Connects to `addr` within [`CONNECT_TIMEOUT`], with the local address the daemon sees:
/// bound before connecting (loopback), so a connection the daemon refused at once still
/// matches its account (`fake_clamd::UploadAccount::refused`). The error as it goes into the
/// transcript.
async fn connect(addr: SocketAddr) -> (Option<SocketAddr>, std::result::Result<TcpStream, String>) {
    let socket = match addr {
        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4(),
        SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6(),
    };
    let socket = match socket {
        Ok(s) => s,
        Err(e) => return (None, Err(e.to_string())),
    };
    let bound = addr.ip().is_loopback().then(|| {
        let bound = socket.bind(SocketAddr::new(addr.ip(), 0));
        bound.and_then(|()| socket.local_addr()).ok()
    });
    let r = within_timeout(socket.connect(addr)).await.inspect(|s| {
        let _ = s.set_nodelay(true);
    });
    let local = bound
        .flatten()
        .or_else(|| r.as_ref().ok().and_then(|s| s.local_addr().ok()));
    (local, r)
}

/// Connects to the daemon's unix socket within [`CONNECT_TIMEOUT`], from a socket bound to
/// an abstract name of its own: the daemon sees that name as its peer, and its account of
/// the streams it read (`fake_clamd::streams`) finds this connection by it. Returns the
/// stream and the name.
async fn connect_unix(path: PathBuf) -> std::result::Result<(UnixStream, Vec<u8>), String> {
    use nix::sys::socket::{bind, connect, socket, AddressFamily, SockFlag, SockType, UnixAddr};
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let seq = NEXT.fetch_add(1, Ordering::Relaxed);
    let name = format!("avc-proxy-{}-{seq}", std::process::id()).into_bytes();
    let bound = name.clone();
    // A unix connect waits only while the daemon's backlog is full: on the blocking pool.
    let connecting = tokio::task::spawn_blocking(move || -> std::io::Result<UnixStream> {
        let fd = socket(
            AddressFamily::Unix,
            SockType::Stream,
            SockFlag::SOCK_CLOEXEC,
            None,
        )?;
        bind(fd.as_raw_fd(), &UnixAddr::new_abstract(&bound)?)?;
        connect(fd.as_raw_fd(), &UnixAddr::new(&path)?)?;
        let s = std::os::unix::net::UnixStream::from(fd);
        s.set_nonblocking(true)?;
        UnixStream::from_std(s)
    });
    let joined = async { connecting.await.map_err(std::io::Error::other)? };
    within_timeout(joined).await.map(|s| (s, name))
}

/// Records how connecting upstream went; the stream if it did. If it did not, the client is
/// reset, as the daemon's refusal would have reached it (a FIN would read as a complete
/// empty reply).
fn opened<T, S: ClientStream>(
    rec: &Recorder,
    id: u32,
    r: std::result::Result<T, String>,
    client: S,
) -> Option<(T, S)> {
    match r {
        Ok(s) => {
            rec.push(
                id,
                EventKind::Open {
                    upstream_error: None,
                },
            );
            Some((s, client))
        }
        Err(e) => {
            rec.push(
                id,
                EventKind::Open {
                    upstream_error: Some(e),
                },
            );
            client.reset();
            None
        }
    }
}

async fn run_conn<S>(client: S, upstream: Upstream, opts: ProxyOptions, id: u32, sh: Arc<Shared>)
where
    S: ClientStream,
{
    let upstream = match upstream {
        Upstream::Tcp(a) => a,
        Upstream::Unix(path) => {
            let Some(((server, name), client)) =
                opened(&sh.rec, id, connect_unix(path).await, client)
            else {
                return;
            };
            sh.rec.upstream(id, Some(Peer::Unix(name)));
            match client.into_unix() {
                Ok(client) => {
                    relay_fds(client, server, opts.hold_greeting, id, sh.rec.clone()).await
                }
                Err(client) => {
                    relay(client, server, opts.hold_greeting, id, sh.rec.clone(), None).await
                }
            }
            return;
        }
    };
    let (local, server) = connect(upstream).await;
    sh.rec.upstream(id, local.map(Peer::Tcp));
    let Some((server, client)) = opened(&sh.rec, id, server, client) else {
        return;
    };
    let channels = opts.svsp_data_channels.then(|| {
        let (client_local, client_peer) = match client.tcp_addrs() {
            Some((l, p)) => (l.ip(), p.ip()),
            None => (upstream.ip(), upstream.ip()),
        };
        Arc::new(Channels {
            shared: sh.clone(),
            parent: id,
            request_bind: client_local,
            daemon_host: upstream.ip(),
            port_bind: server.local_addr().map(|a| a.ip()).unwrap_or(upstream.ip()),
            client_host: client_peer,
            port_map: Mutex::new(Vec::new()),
        })
    });
    relay(
        client,
        server,
        opts.hold_greeting,
        id,
        sh.rec.clone(),
        channels,
    )
    .await;
}

/// Relays between the two sides until both directions ended, recording as it goes.
async fn relay<S, U>(
    client: S,
    server: U,
    hold: Duration,
    id: u32,
    rec: Arc<Recorder>,
    channels: Option<Arc<Channels>>,
) where
    S: ClientStream,
    U: AsyncRead + AsyncWrite + Unpin + Send,
{
    let (cr, cw) = tokio::io::split(client);
    let (sr, sw) = tokio::io::split(server);
    let sides = Sides {
        up: (Plain(cr), Plain(sw)),
        down: (Plain(sr), Plain(cw)),
    };
    let ((Plain(cr), _), (_, Plain(cw)), reset) =
        sides.relay(hold, id, rec.clone(), channels).await;
    end_client(cr.unsplit(cw), reset, id, &rec);
}

/// How the client's side ends once both directions did.
fn end_client<S: ClientStream>(client: S, reset: bool, id: u32, rec: &Recorder) {
    if reset {
        // The daemon reset the connection (or vanished while the client was sending): pass
        // the reset on, as the client would see it without the proxy (CLAMD-TRANS-5).
        client.reset();
    } else if let Some(e) = client.pending_error() {
        // A client that closed (not half-closed) while the reply was still coming answered
        // the bytes relayed after its close with a reset, which no read took: the same end
        // as a close with reply bytes unread, whichever came first (Exim on split replies).
        rec.push(
            id,
            EventKind::Error {
                dir: Dir::C2S,
                message: format!("peer gone: {}", e.kind()),
            },
        );
    }
}

/// [`relay`] between two unix sockets, passing on the descriptors the client passes
/// (CLAMD-FILDES-1). Unix sockets have no reset: a daemon's reset reaches the client as the
/// end of its connection.
async fn relay_fds(
    client: UnixStream,
    server: UnixStream,
    hold: Duration,
    id: u32,
    rec: Arc<Recorder>,
) {
    let (cr, cw) = client.into_split();
    let (sr, sw) = server.into_split();
    let sides = Sides {
        up: (cr, sw),
        down: (Plain(sr), Plain(cw)),
    };
    let ((cr, _), (_, Plain(cw)), reset) = sides.relay(hold, id, rec.clone(), None).await;
    if let Ok(client) = cr.reunite(cw) {
        end_client(client, reset, id, &rec);
    }
}

/// The two directions of one relayed connection: client to server, server to client.
struct Sides<R1, W1, R2, W2> {
    up: (R1, W1),
    down: (R2, W2),
}

impl<R1: Source, W1: Sink, R2: Source, W2: Sink> Sides<R1, W1, R2, W2> {
    /// Pumps both directions until both ended; returns the halves and whether the
    /// connection was aborted (a reset to pass on).
    async fn relay(
        self,
        hold: Duration,
        id: u32,
        rec: Arc<Recorder>,
        channels: Option<Arc<Channels>>,
    ) -> ((R1, W1), (R2, W2), bool) {
        let (cr, sw) = self.up;
        let (sr, cw) = self.down;
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
            channels
                .clone()
                .map(|c| (LineRewriter::new(Watch::ScanPort), c)),
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
            channels.map(|c| (LineRewriter::new(Watch::Send), c)),
        );
        let (up, down) = tokio::join!(up, down);
        let aborted = *abort_rx.borrow();
        (up, down, aborted)
    }
}

/// What a control connection needs to open data channels.
struct Channels {
    shared: Arc<Shared>,
    /// The control connection's id.
    parent: u32,
    /// REQUEST: the client connects to the host it used for the control connection
    /// (SVSP-CLIENT-15), i.e. the proxy's own address.
    request_bind: IpAddr,
    /// REQUEST: the daemon's host, where its SEND port is.
    daemon_host: IpAddr,
    /// PORT: the daemon connects to its control peer's address (SVSP-SCAN-PORT-1), i.e. the
    /// proxy's side of the upstream connection.
    port_bind: IpAddr,
    /// PORT: the client's host, where it listens.
    client_host: IpAddr,
    /// PORT: (proxy's port, client's port) of each rewritten SCAN/PORT line, so a daemon's
    /// `SEND <portnum>` echo of it (`--port-send-echo`, SVSP-SCAN-PORT-1) reaches the client
    /// with its own port again (SVSP-CLIENT-16) instead of opening a REQUEST channel.
    port_map: Mutex<Vec<(u16, u16)>>,
}

impl Channels {
    /// Opens a data channel for a SEND line (daemon to client) or a SCAN/PORT line (client to
    /// daemon) naming `port`; returns the proxy's port to put in the line instead, or None to
    /// pass the line unchanged (limit reached, or no listener could be bound).
    ///
    /// Not async on purpose: the data channel's task relays with the same `pump`, and an
    /// async `open` awaited inside `pump` would make its future's type refer to itself.
    fn open(&self, line_dir: Dir, port: u16) -> Option<u16> {
        let sh = &self.shared;
        if line_dir == Dir::S2C {
            let echo = self.port_map.lock().ok().and_then(|m| {
                m.iter()
                    .find(|(proxy_port, _)| *proxy_port == port)
                    .map(|(_, client_port)| *client_port)
            });
            if echo.is_some() {
                return echo;
            }
        }
        if sh.channels.fetch_add(1, Ordering::Relaxed) >= MAX_DATA_CHANNELS {
            return None;
        }
        let (bind, target, source) = match line_dir {
            Dir::S2C => (
                self.request_bind,
                SocketAddr::new(self.daemon_host, port),
                DataSource::Request,
            ),
            Dir::C2S => (
                self.port_bind,
                SocketAddr::new(self.client_host, port),
                DataSource::Port,
            ),
        };
        // A loopback bind does not block.
        let l = std::net::TcpListener::bind(SocketAddr::new(bind, 0)).ok()?;
        l.set_nonblocking(true).ok()?;
        let l = TcpListener::from_std(l).ok()?;
        let new_port = l.local_addr().ok()?.port();
        if line_dir == Dir::C2S {
            if let Ok(mut m) = self.port_map.lock() {
                m.push((new_port, port));
            }
        }
        let id = sh.next.fetch_add(1, Ordering::Relaxed);
        sh.rec.push(
            id,
            EventKind::DataChannel {
                of: self.parent,
                source,
            },
        );
        let rec = sh.rec.clone();
        let closing = sh.closing.subscribe();
        let h = tokio::spawn(
            async move { run_data_channel(l, target, source, id, rec, closing).await },
        );
        Shared::track(&sh.data, h);
        Some(new_port)
    }
}

/// Accepts the one connection of a data channel (SVSP-SCAN-REQUEST-1 step 3), connects to the
/// original port, and relays. `C` in the transcript is always the client program's side.
async fn run_data_channel(
    l: TcpListener,
    target: SocketAddr,
    source: DataSource,
    id: u32,
    rec: Arc<Recorder>,
    mut closing: tokio::sync::watch::Receiver<bool>,
) {
    // `biased`: a connection already queued is still taken when closing is set.
    let accepted = tokio::select! {
        biased;
        a = tokio::time::timeout(DATA_ACCEPT_TIMEOUT, l.accept()) => a,
        _ = closing.wait_for(|c| *c) => return,
    };
    drop(l);
    let first = match accepted {
        Ok(Ok((s, _))) => s,
        Ok(Err(e)) => {
            rec.push(
                id,
                EventKind::Open {
                    upstream_error: Some(format!("accept: {}", e.kind())),
                },
            );
            return;
        }
        Err(_) => {
            rec.push(
                id,
                EventKind::Open {
                    upstream_error: Some(format!(
                        "no connection within {} s",
                        DATA_ACCEPT_TIMEOUT.as_secs()
                    )),
                },
            );
            return;
        }
    };
    let _ = first.set_nodelay(true);
    let second = match connect(target).await.1 {
        Ok(s) => s,
        Err(e) => {
            rec.push(
                id,
                EventKind::Open {
                    upstream_error: Some(e),
                },
            );
            // A reset, not a FIN: an orderly close would look like an empty, complete stream
            // (and scan as clean); without the proxy the peer would have seen a failure.
            first.reset();
            return;
        }
    };
    rec.push(
        id,
        EventKind::Open {
            upstream_error: None,
        },
    );
    let (client_side, daemon_side) = match source {
        DataSource::Request => (first, second),
        DataSource::Port => (second, first),
    };
    relay(client_side, daemon_side, Duration::ZERO, id, rec, None).await;
}

/// A client-side stream the proxy can abort with a reset.
pub trait ClientStream: AsyncRead + AsyncWrite + Unpin + Send + 'static {
    /// Closes with RST where the transport has one.
    fn reset(self);
    /// (local, peer) addresses for TCP.
    fn tcp_addrs(&self) -> Option<(SocketAddr, SocketAddr)>;
    /// The unix socket, which can pass descriptors; `Err(self)` for other transports.
    fn into_unix(self) -> std::result::Result<UnixStream, Self>
    where
        Self: Sized;
    /// An error the socket got that no read or write reported (`SO_ERROR`: a reset).
    fn pending_error(&self) -> Option<std::io::Error>;
}

impl ClientStream for TcpStream {
    fn reset(self) {
        let _ = socket2::SockRef::from(&self).set_linger(Some(Duration::ZERO));
        drop(self);
    }

    fn tcp_addrs(&self) -> Option<(SocketAddr, SocketAddr)> {
        Some((self.local_addr().ok()?, self.peer_addr().ok()?))
    }

    fn into_unix(self) -> std::result::Result<UnixStream, Self> {
        Err(self)
    }

    fn pending_error(&self) -> Option<std::io::Error> {
        self.take_error().ok().flatten()
    }
}

impl ClientStream for UnixStream {
    fn reset(self) {
        drop(self);
    }

    fn tcp_addrs(&self) -> Option<(SocketAddr, SocketAddr)> {
        None
    }

    fn into_unix(self) -> std::result::Result<UnixStream, Self> {
        Ok(self)
    }

    fn pending_error(&self) -> Option<std::io::Error> {
        self.take_error().ok().flatten()
    }
}

/// Writes one run (with the descriptors that came with it); on failure records it and
/// raises the abort flag. Returns false then.
async fn forward<W: Sink>(
    w: &mut W,
    bytes: &[u8],
    fds: Vec<std::os::fd::OwnedFd>,
    dir: Dir,
    id: u32,
    rec: &Recorder,
    abort_tx: &tokio::sync::watch::Sender<bool>,
) -> bool {
    match w.send(bytes, fds).await {
        Ok(()) => true,
        Err(e) => {
            // The receiver is gone (the daemon reset while the client was sending): stop,
            // and let the caller reset the client's connection.
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
            false
        }
    }
}

/// Forwards what the rewriter released. The transcript shows the client's view: what it sent
/// (recorded by the caller as read) and what it received (recorded here, after rewriting).
#[allow(clippy::too_many_arguments)]
async fn forward_pieces<W: Sink>(
    w: &mut W,
    pieces: Vec<Piece>,
    ch: &Channels,
    dir: Dir,
    id: u32,
    rec: &Recorder,
    abort_tx: &tokio::sync::watch::Sender<bool>,
) -> bool {
    for p in pieces {
        let bytes = match p {
            Piece::Bytes(b) => b,
            Piece::Line { ref line, port, .. } => match ch.open(dir, port) {
                Some(new_port) => p.rewritten(new_port),
                None => line.clone(),
            },
        };
        if dir == Dir::S2C {
            rec.data(id, dir, &bytes);
        }
        if !forward(w, &bytes, Vec::new(), dir, id, rec, abort_tx).await {
            return false;
        }
    }
    true
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
    mut rewrite: Option<(LineRewriter, Arc<Channels>)>,
) -> (R, W)
where
    R: Source,
    W: Sink,
{
    let mut buf = vec![0u8; 64 * 1024];
    let mut first = true;
    // bytes read so far in this direction (where passed descriptors arrived)
    let mut offset = 0usize;
    loop {
        let read = tokio::select! {
            r = r.recv(&mut buf) => r,
            _ = abort_rx.wait_for(|v| *v) => break,
        };
        match read {
            Ok(Received { n: 0, .. }) => {
                if let Some((rw, ch)) = rewrite.as_mut() {
                    // Flush a held partial line at EOF, unchanged.
                    let rest = rw.finish();
                    if !rest.is_empty() {
                        let p = vec![Piece::Bytes(rest)];
                        if !forward_pieces(&mut w, p, ch, dir, id, &rec, &abort_tx).await {
                            break;
                        }
                    }
                }
                rec.push(id, EventKind::Eof { dir });
                break;
            }
            Ok(Received { n, fds, cut }) => {
                if first && !hold.is_zero() {
                    tokio::time::sleep(hold).await;
                }
                first = false;
                offset += n;
                let ok = match rewrite.as_mut() {
                    None => {
                        rec.data(id, dir, &buf[..n]);
                        if !fds.is_empty() || cut {
                            let count = fds.len();
                            rec.push(
                                id,
                                EventKind::Descriptors {
                                    count,
                                    after: offset,
                                    cut,
                                },
                            );
                        }
                        forward(&mut w, &buf[..n], fds, dir, id, &rec, &abort_tx).await
                    }
                    Some((rw, ch)) => {
                        if dir == Dir::C2S {
                            rec.data(id, dir, &buf[..n]);
                        }
                        let pieces = rw.feed(&buf[..n]);
                        forward_pieces(&mut w, pieces, ch, dir, id, &rec, &abort_tx).await
                    }
                };
                if !ok {
                    break;
                }
            }
            Err(e) => {
                if let Some((rw, ch)) = rewrite.as_mut() {
                    // What arrived before the error reached the client before it, too.
                    let rest = rw.finish();
                    if !rest.is_empty() {
                        let p = vec![Piece::Bytes(rest)];
                        let _ = forward_pieces(&mut w, p, ch, dir, id, &rec, &abort_tx).await;
                    }
                }
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
    if !*abort_rx.borrow() {
        // After a reset no FIN: the caller passes the RST on, and a FIN first would turn it
        // into an orderly end for the client.
        let _ = w.finish().await;
    }
    (r, w)
}
