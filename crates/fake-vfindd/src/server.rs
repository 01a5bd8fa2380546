//! The server: the listener and its accept loop, admission (ACL and connection limit,
//! SVSP-CONN-2, and connect-time faults), and the handle ([`FakeVfindd`], [`Builder`]).

use crate::config::{Cidr, Config, Dispatch, MemberErrors, QueuedMode, Quirks, QuitMode};
use crate::queue::Queue;
use crate::record::Recorder;
use crate::shared::Shared;
use crate::Error;
use faults::admin::live::LiveRecord;
use faults::admin::live::Signature;
use faults::admin::{FakeDaemon, HandleCore};
use faults::record::CommandLine;
use faults::{Action, Event as FaultEvent};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use svsp_proto::{Body, Response};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::{info, warn};

/// Accept loop until `shutdown` fires; then every connection is aborted.
async fn serve(listener: TcpListener, shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            _ = async { let _ = stop.wait_for(|v| *v).await; } => break,
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
            r = listener.accept() => match r {
                Ok((stream, peer)) => {
                    let sh = shared.clone();
                    conns.spawn(async move { admit(stream, peer, sh).await });
                }
                Err(e) => {
                    warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }
    }
    // hardening item 2: scans in progress on worker threads end at their next read
    shared.env.shutdown.store(true, Ordering::SeqCst);
    conns.abort_all();
    info!("fake-vfindd stopped");
}

struct ConnGuard<'a>(&'a AtomicUsize);
impl Drop for ConnGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Admits a connection (or refuses it) and runs its session.
async fn admit(mut stream: TcpStream, peer: SocketAddr, shared: Arc<Shared>) {
    let conn = shared.next_conn.fetch_add(1, Ordering::SeqCst);
    shared.recorder.open(conn, format!("tcp from {peer}"));
    let n = shared.conns.fetch_add(1, Ordering::SeqCst) + 1;
    let _guard = ConnGuard(&shared.conns);
    let cf = Arc::new(shared.faults.connect());
    let injected = cf.event(FaultEvent::Connect);
    if let Some(Action::Refuse) = injected {
        // injected: RST before any byte
        #[allow(deprecated)]
        let _ = stream.set_linger(Some(Duration::ZERO));
        shared.refusals.push(peer);
        return;
    }
    if let Some(Action::StopReading(hold)) = injected {
        // injected stop-reading before the first byte: a stopped daemon, no READY; shutdown
        // aborts this task with the others
        tokio::time::sleep(hold).await;
        #[allow(deprecated)]
        let _ = stream.set_linger(Some(Duration::ZERO));
        return;
    }
    // SVSP-CONN-2: DENIED, then close (also injected by the `denied` fault).
    if !shared.allowed(peer.ip())
        || n > shared.cfg.max_connections
        || injected == Some(Action::Denied)
    {
        shared.recorder.note(conn, "denied");
        let bytes = Response::new(Body::Denied).encode(shared.format());
        let _ = stream.write_all(&bytes).await;
        shared.recorder.sent(conn, &bytes);
        let _ = stream.shutdown().await;
        return;
    }
    crate::session::run(stream, peer, shared.clone(), conn, cf).await;
}

/// A running fake vfindd. Dropping it stops the server and aborts its connections.
pub struct FakeVfindd {
    addr: SocketAddr,
    /// Set to stop the accept loop.
    stop: watch::Sender<bool>,
    /// Set once the accept loop has ended (every connection aborted).
    ended: watch::Receiver<bool>,
    core: HandleCore<CommandLine>,
    refusals: Arc<crate::shared::Refusals>,
}

/// Bodies the live view shows by label only: EICAR, the marker, `--signature`s.
fn signatures(cfg: &Config) -> Vec<Signature> {
    let mut out = vec![
        Signature::new("EICAR", scan_engine::eicar()),
        Signature::new(
            &format!("test signature {}", scan_engine::MARKER_NAME),
            scan_engine::MARKER_BYTES.to_vec(),
        ),
    ];
    for (name, body) in &cfg.extra_signatures {
        out.push(Signature::new(
            &format!("test signature {name}"),
            body.clone(),
        ));
    }
    out
}

impl FakeVfindd {
    /// A builder on an ephemeral loopback port with the spec's defaults.
    pub fn builder() -> Builder {
        let mut cfg = Config::default();
        cfg.listen.set_port(0);
        Builder { cfg }
    }

    /// Starts a server with this configuration.
    pub async fn start(cfg: Config) -> Result<FakeVfindd, Error> {
        cfg.validate()?;
        let (db, table) = crate::scan::build_db(&cfg)?;
        // hardening item 5: the roots must be directories
        let env = crate::scan::ScanEnv::new(&cfg, db, table).map_err(|e| {
            let which = match (&cfg.scan_root, &cfg.virtual_root) {
                (Some(p), _) | (None, Some(p)) => p.display().to_string(),
                (None, None) => String::new(),
            };
            Error::Config(format!(
                "--scan-root/--virtual-root {which}: {e} (a directory is required)"
            ))
        })?;
        let listener = tokio::net::TcpListener::bind(cfg.listen)
            .await
            .map_err(|source| Error::Bind {
                addr: cfg.listen.to_string(),
                source,
            })?;
        let addr = listener.local_addr()?;
        let recorder = Arc::new(Recorder::new(cfg.record_limits));
        let seed = match cfg.queued {
            QueuedMode::Random(s) => s,
            _ => 0,
        };
        let fault_set = faults::FaultSet::with_label(cfg.fault_plan.clone(), "fake-vfindd");
        if !cfg.fault_plan.rules.is_empty() {
            tracing::warn!(
                seed = fault_set.seed(),
                "fault injection active (seed {})",
                fault_set.seed()
            );
        }
        let admin = match cfg.admin {
            Some(a) => Some(
                faults::admin::AdminServer::start_with(
                    a,
                    fault_set.clone(),
                    faults::admin::AdminOptions::default()
                        .token(cfg.admin_token.clone())
                        .title("fake-vfindd")
                        .live(Arc::new(LiveRecord {
                            recorder: recorder.clone(),
                            signatures: signatures(&cfg),
                        })),
                )
                .await
                .map_err(|e| Error::Config(e.to_string()))?,
            ),
            None => None,
        };
        let shared_summary = cfg.refusal_summary();
        let (queue, dispatcher) = Queue::start(cfg.threads);
        let refusals = Arc::new(crate::shared::Refusals::default());
        let shared = Arc::new(Shared {
            refusals: refusals.clone(),
            queue,
            env,
            conns: AtomicUsize::new(0),
            next_conn: AtomicU64::new(1),
            rng: Mutex::new(seed),
            recorder: recorder.clone(),
            faults: fault_set.clone(),
            cfg,
        });
        let (stop, stop_rx) = watch::channel(false);
        let (ended, ended_rx) = watch::channel(false);
        tokio::spawn(async move {
            serve(listener, shared, stop_rx).await;
            dispatcher.abort();
            let _ = ended.send(true);
        });
        tracing::info!("fake-vfindd listening on {addr}");
        tracing::info!("{}", shared_summary);
        Ok(FakeVfindd {
            addr,
            stop,
            ended: ended_rx,
            core: HandleCore::new("fake-vfindd", fault_set, Some(recorder), admin),
            refusals,
        })
    }

    /// The peers whose connection the daemon refused at accept (fault `refuse`), oldest
    /// first, at most the last 1024.
    pub fn refused_peers(&self) -> Vec<SocketAddr> {
        self.refusals.list()
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }
}

/// The handle API shared with fake-clamd (transcripts, command lines, expectations, faults);
/// expectations name a command by its keyword (`SCAN` for `SCAN/FILE`):
///
/// ```no_run
/// # async fn demo() -> Result<(), fake_vfindd::Error> {
/// use fake_vfindd::FakeDaemon;
/// use faults::admin::Expectation;
/// let vfindd = fake_vfindd::FakeVfindd::builder().start().await?;
/// vfindd.expect(Expectation::command("SCAN").at_least(1));
/// // ... run the client ...
/// vfindd.verify().expect("the client scanned");
/// # Ok(()) }
/// ```
impl FakeDaemon for FakeVfindd {
    type Command = CommandLine;

    fn core(&self) -> &HandleCore<CommandLine> {
        &self.core
    }

    /// The listener closes, connections are aborted and scans in progress end at their
    /// next read (also what SIGTERM does in the binary).
    fn shutdown(&self) {
        let _ = self.stop.send(true);
    }

    fn is_shut_down(&self) -> bool {
        *self.stop.borrow()
    }

    /// Resolves once the accept loop has ended, too.
    fn stopped(&self) -> impl std::future::Future<Output = ()> + Send {
        let mut rx = self.ended.clone();
        async move {
            let _ = rx.wait_for(|v| *v).await;
        }
    }
}

impl Drop for FakeVfindd {
    /// Stops first; the core then checks the expectations.
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// Builder for [`FakeVfindd`] (defaults: spec defaults, ephemeral port).
#[derive(Debug, Clone)]
pub struct Builder {
    cfg: Config,
}

/// Builder methods that each set one config field to the value given.
macro_rules! setters {
    ($($(#[$m:meta])* $name:ident: $ty:ty => $field:ident;)*) => {
        $(
            $(#[$m])*
            pub fn $name(mut self, v: $ty) -> Self {
                self.cfg.$field = v;
                self
            }
        )*
    };
}

impl Builder {
    setters! {
        /// Listen address (port 0 = ephemeral).
        listen: SocketAddr => listen;
        /// `--threads`.
        threads: usize => threads;
        /// `--queued`.
        queued: QueuedMode => queued;
        /// `--dispatch`.
        dispatch: Dispatch => dispatch;
        /// `--quit`.
        quit: QuitMode => quit;
        /// `--eol`.
        eol: svsp_proto::Eol => eol;
        /// `--profile`.
        profile: svsp_proto::Profile => profile;
        /// `--max-connections`.
        max_connections: usize => max_connections;
        /// `--max-queue`.
        max_queue: usize => max_queue;
        /// `--stream-max-length`.
        stream_max_length: u64 => stream_max_length;
        /// `--data-timeout`.
        data_timeout: Duration => data_timeout;
        /// `--delay-ms`.
        delay: Duration => delay;
        /// `--follow-symlinks`.
        follow_symlinks: bool => follow_symlinks;
        /// `--member-errors`.
        member_errors: MemberErrors => member_errors;
        /// `--port-send-echo`.
        port_send_echo: bool => port_send_echo;
        /// `--enable-future`.
        enable_future: bool => enable_future;
        /// `--eicar-name`.
        eicar_name: String => eicar_name;
        /// `--quirk`s.
        quirks: Quirks => quirks;
        /// `--allow`.
        allow: Vec<Cidr> => allow;
        /// `--max-file-size` (hardening item 2).
        max_file_bytes: u64 => max_file_bytes;
        /// Max command line length.
        max_line: usize => max_line;
    }

    /// The fault plan (crate `faults`), as `FakeClamdBuilder::faults` (SVSP-FAKE-2).
    pub fn faults(mut self, plan: faults::FaultPlan) -> Self {
        self.cfg.fault_plan = plan;
        self
    }
    /// Serve the HTTP/JSON fault admin API on `addr` (`127.0.0.1:0`: ephemeral, see
    /// [`FakeVfindd::admin_addr`]).
    pub fn admin(mut self, addr: SocketAddr) -> Self {
        self.cfg.admin = Some(addr);
        self
    }
    /// Require `Authorization: Bearer TOKEN` on the admin API (needed for a non-loopback
    /// admin address).
    pub fn admin_token(mut self, token: faults::admin::AdminToken) -> Self {
        self.cfg.admin_token = Some(token);
        self
    }
    /// `--scan-root`.
    pub fn scan_root(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cfg.scan_root = Some(dir.into());
        self
    }
    /// Test hook: resolve all paths below `dir` (see [`Config::virtual_root`]).
    pub fn virtual_root(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cfg.virtual_root = Some(dir.into());
        self
    }
    /// `--idle-timeout` (zero: never close idle connections).
    pub fn idle_timeout(mut self, d: Duration) -> Self {
        self.cfg.idle_timeout = Some(d);
        self
    }
    /// Adds a literal test signature after EICAR and the markers.
    pub fn signature(mut self, name: &str, bytes: &[u8]) -> Self {
        self.cfg
            .extra_signatures
            .push((name.to_string(), bytes.to_vec()));
        self
    }
    /// Change anything in the config (as `FakeClamdBuilder::with_config`).
    pub fn with_config(mut self, f: impl FnOnce(&mut Config)) -> Self {
        f(&mut self.cfg);
        self
    }
    /// The configuration built so far.
    pub fn config(&self) -> &Config {
        &self.cfg
    }
    /// Starts the server.
    pub async fn start(self) -> Result<FakeVfindd, Error> {
        FakeVfindd::start(self.cfg).await
    }
}
