//! The server: listeners, accept loops with clamd's back-pressure, and the handle returned by [`FakeClamd::start`] / [`FakeClamdBuilder::start`].

use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use regex::bytes::Regex;
use scan_engine::SignatureDb;
use tokio::net::{TcpListener, TcpSocket, UnixListener};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinHandle;

use crate::config::{Config, SessionOrder, StreamLimitMode};
use crate::conn::Connection;
use crate::record::{RecordedCommand, Recorder};
use crate::shared::{load_db, open_log, DbSource, Shared};
use crate::transport::Conn;
use crate::Error;
use faults::admin::{FakeDaemon, HandleCore};

/// Builder for an in-process fake clamd, in the spirit of wiremock: one isolated server
/// per test on an ephemeral port, shut down on drop.
///
/// ```no_run
/// # async fn demo() -> Result<(), fake_clamd::Error> {
/// use fake_clamd::FakeDaemon; // commands(), transcripts(), expect(), verify()
/// let clamd = fake_clamd::FakeClamd::builder().stream_max_length(1024).start().await?;
/// let addr = clamd.addr().expect("tcp");
/// // ... run the client against addr ...
/// let cmds = clamd.commands();
/// # let _ = (addr, cmds); Ok(()) }
/// ```
pub struct FakeClamdBuilder {
    config: Config,
    db: DbSource,
    unix_in_temp: bool,
}

impl Default for FakeClamdBuilder {
    fn default() -> Self {
        let mut config = Config::ephemeral();
        config.fake.record = true;
        FakeClamdBuilder {
            config,
            db: DbSource::FromConfig,
            unix_in_temp: false,
        }
    }
}

impl FakeClamdBuilder {
    /// Start from a full config (listeners included). Recording stays as configured there.
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// Start from clamd.conf text (`origin` names it in errors). TCPSocket/LocalSocket
    /// come from the text; use [`Self::tcp_port`] to force an ephemeral port.
    pub fn conf_text(mut self, text: &str, origin: &str) -> Result<Self, Error> {
        let fake = self.config.fake.clone();
        self.config = Config::from_conf_text(text, origin)?;
        self.config.fake = fake;
        Ok(self)
    }

    /// Start from a clamd.conf file.
    pub fn conf_file(mut self, path: &Path) -> Result<Self, Error> {
        let fake = self.config.fake.clone();
        self.config = Config::from_conf_file(path)?;
        self.config.fake = fake;
        Ok(self)
    }

    /// Change anything in the config.
    pub fn with_config(mut self, f: impl FnOnce(&mut Config)) -> Self {
        f(&mut self.config);
        self
    }

    /// Listen on TCP 127.0.0.1:`port` (0 = ephemeral).
    pub fn tcp_port(mut self, port: u16) -> Self {
        let addrs = self
            .config
            .tcp
            .take()
            .map_or_else(|| vec!["127.0.0.1".to_string()], |t| t.addrs);
        self.config.tcp = Some(crate::config::TcpListen { port, addrs });
        self
    }

    /// No TCP listener.
    pub fn no_tcp(mut self) -> Self {
        self.config.tcp = None;
        self
    }

    /// Listen on a Unix socket at `path`.
    pub fn unix_socket(mut self, path: impl Into<PathBuf>) -> Self {
        self.config.local_socket = Some(path.into());
        self
    }

    /// Listen on a Unix socket in a fresh temporary directory (removed on drop).
    pub fn unix_socket_in_temp(mut self) -> Self {
        self.unix_in_temp = true;
        self
    }

    /// `StreamMaxLength`.
    pub fn stream_max_length(mut self, bytes: u64) -> Self {
        self.config.stream_max_length = bytes;
        self
    }

    /// `CommandReadTimeout` and `ReadTimeout`.
    pub fn timeouts(mut self, command_read: Duration, read: Duration) -> Self {
        self.config.command_read_timeout = command_read;
        self.config.read_timeout = read;
        self
    }

    /// Timeout slack (CLAMD-TIME-4, default 0.5 s).
    pub fn timeout_slack(mut self, slack: Duration) -> Self {
        self.config.fake.timeout_slack = slack;
        self
    }

    /// Use this database (RELOAD keeps it).
    pub fn database(mut self, db: Arc<SignatureDb>) -> Self {
        self.db = DbSource::Fixed(db);
        self
    }

    /// Load signatures from a directory (`.hdb/.hsb/.ndb`).
    pub fn database_directory(mut self, dir: impl Into<PathBuf>) -> Self {
        self.config.database_directory = Some(dir.into());
        self.db = DbSource::FromConfig;
        self
    }

    /// VERSION text.
    pub fn version_text(mut self, text: impl Into<String>) -> Self {
        self.config.fake.version_text = text.into();
        self
    }

    /// CLAMD-INSTREAM-8 mode.
    pub fn stream_limit(mut self, mode: StreamLimitMode) -> Self {
        self.config.fake.stream_limit = mode;
        self
    }

    /// CLAMD-SESSION-4 order.
    pub fn session_order(mut self, order: SessionOrder) -> Self {
        self.config.fake.session_order = order;
        self
    }

    /// Seed of `SessionOrder::Random`, so a run's reply order can be replayed.
    pub fn session_seed(mut self, seed: u64) -> Self {
        self.config.fake.session_seed = Some(seed);
        self
    }

    /// Whether SHUTDOWN/QUIT stop the server (default yes).
    pub fn allow_shutdown(mut self, yes: bool) -> Self {
        self.config.fake.allow_shutdown = yes;
        self
    }

    /// Drop `.UNOFFICIAL` from names loaded from files.
    pub fn official_names(mut self, yes: bool) -> Self {
        self.config.fake.official_names = yes;
        self
    }

    /// Record commands and transcripts (default on in the builder).
    pub fn record(mut self, yes: bool) -> Self {
        self.config.fake.record = yes;
        self
    }

    /// Install this fault plan at start (see the `faults` crate); change it later through
    /// [`FakeClamd::faults`].
    pub fn faults(mut self, plan: faults::FaultPlan) -> Self {
        self.config.fake.faults = plan;
        self
    }

    /// Serve the HTTP/JSON fault admin API on `addr` (use `127.0.0.1:0` for an ephemeral
    /// port, then [`FakeClamd::admin_addr`]).
    pub fn admin(mut self, addr: std::net::SocketAddr) -> Self {
        self.config.fake.admin = Some(addr);
        self
    }

    /// Require `Authorization: Bearer TOKEN` on the admin API (needed for a non-loopback
    /// admin address).
    pub fn admin_token(mut self, token: faults::admin::AdminToken) -> Self {
        self.config.fake.admin_token = Some(token);
        self
    }

    /// Bind and start serving.
    pub async fn start(mut self) -> Result<FakeClamd, Error> {
        let tempdir = if self.unix_in_temp {
            let dir = std::env::temp_dir().join(format!(
                "fake-clamd-{}-{}",
                std::process::id(),
                rand::random::<u64>()
            ));
            std::fs::create_dir_all(&dir).map_err(|source| Error::Io {
                what: format!("create {}", dir.display()),
                source,
            })?;
            self.config.local_socket = Some(dir.join("clamd.sock"));
            Some(dir)
        } else {
            None
        };
        let mut handle = start(self.config, self.db).await?;
        handle.tempdir = tempdir;
        Ok(handle)
    }
}

/// A running fake clamd. Dropping it stops the listeners and open connections.
pub struct FakeClamd {
    shared: Arc<Shared>,
    tcp_addrs: Vec<SocketAddr>,
    socket_path: Option<PathBuf>,
    tasks: Vec<JoinHandle<()>>,
    tempdir: Option<PathBuf>,
    core: HandleCore<RecordedCommand>,
}

impl FakeClamd {
    /// A builder with an ephemeral TCP port on 127.0.0.1, built-in signatures, recording on.
    pub fn builder() -> FakeClamdBuilder {
        FakeClamdBuilder::default()
    }

    /// Start with default builder settings.
    pub async fn start() -> Result<FakeClamd, Error> {
        Self::builder().start().await
    }

    /// The first TCP address.
    pub fn addr(&self) -> Option<SocketAddr> {
        self.tcp_addrs.first().copied()
    }

    /// All TCP addresses.
    pub fn addrs(&self) -> &[SocketAddr] {
        &self.tcp_addrs
    }

    /// The Unix socket path.
    pub fn socket_path(&self) -> Option<&Path> {
        self.socket_path.as_deref()
    }

    /// The effective configuration.
    pub fn config(&self) -> &Config {
        &self.shared.config
    }

    /// `LISTENING ...` lines as the binary prints them.
    pub fn listening_lines(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .tcp_addrs
            .iter()
            .map(|a| format!("LISTENING tcp {a}"))
            .collect();
        if let Some(p) = &self.socket_path {
            out.push(format!("LISTENING unix {}", p.display()));
        }
        out
    }

    /// What clamd does on SIGHUP: re-open `LogFile` and keep serving.
    pub fn reopen_log(&self) {
        self.shared.reopen_log();
    }

    /// What clamd does on SIGUSR2 (and RELOAD): re-read the signature database.
    pub fn reload(&self) {
        self.shared.reload();
    }

    /// Per TCP peer address (of the last 1024 peers), what the daemon read of its uploads:
    /// what a proxy in front of the daemon cannot see, whether an upload was read whole
    /// before the daemon answered or closed.
    pub fn uploads_read(&self) -> Vec<(SocketAddr, crate::UploadAccount)> {
        let tcp = |(p, a)| match p {
            crate::Peer::Tcp(addr) => Some((addr, a)),
            crate::Peer::Unix(_) => None,
        };
        self.shared
            .streams_read
            .list()
            .into_iter()
            .filter_map(tcp)
            .collect()
    }

    /// [`FakeClamd::uploads_read`] of every peer with an account: TCP peers and unix peers
    /// whose socket is bound to a name.
    pub fn peer_uploads_read(&self) -> Vec<(crate::Peer, crate::UploadAccount)> {
        self.shared.streams_read.list()
    }
}

/// The handle API shared with fake-vfindd (transcripts, commands, expectations, faults):
///
/// ```no_run
/// # async fn demo() -> Result<(), fake_clamd::Error> {
/// use fake_clamd::FakeDaemon;
/// use faults::admin::Expectation;
/// let clamd = fake_clamd::FakeClamd::start().await?;
/// clamd.expect(Expectation::command("INSTREAM").exactly(1));
/// clamd.expect(Expectation::connections().at_most(2));
/// // ... run the client ...
/// clamd.verify().expect("the client scanned once");
/// # Ok(()) }
/// ```
impl FakeDaemon for FakeClamd {
    type Command = RecordedCommand;

    fn core(&self) -> &HandleCore<RecordedCommand> {
        &self.core
    }

    /// Also what SHUTDOWN/QUIT does.
    fn shutdown(&self) {
        let _ = self.shared.shutdown.send(true);
        self.shared.cancel.cancel();
    }

    fn is_shut_down(&self) -> bool {
        *self.shared.shutdown.borrow()
    }

    fn stopped(&self) -> impl std::future::Future<Output = ()> + Send {
        let mut rx = self.shared.shutdown.subscribe();
        async move {
            let _ = rx.wait_for(|v| *v).await;
        }
    }
}

impl Drop for FakeClamd {
    /// Stops first; the core then checks the expectations (so the panic of an unmet one
    /// leaves nothing running).
    fn drop(&mut self) {
        self.stop_now();
    }
}

impl FakeClamd {
    fn stop_now(&mut self) {
        let _ = self.shared.shutdown.send(true);
        self.shared.cancel.cancel();
        for t in &self.tasks {
            t.abort();
        }
        if let Some(p) = &self.socket_path {
            let _ = std::fs::remove_file(p);
        }
        if let Some(p) = &self.shared.config.pid_file {
            let _ = std::fs::remove_file(p);
        }
        if let Some(d) = &self.tempdir {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

async fn bind_tcp(host: &str, port: u16, backlog: u32) -> Result<Vec<TcpListener>, Error> {
    let what = format!("{host}:{port}");
    // An address literal needs no resolver (which would cost a blocking-pool thread at
    // start-up); names go through the system resolver.
    let addrs: Vec<SocketAddr> = match host.parse::<std::net::IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => tokio::net::lookup_host((host, port))
            .await
            .map_err(|source| Error::Bind {
                what: what.clone(),
                source,
            })?
            .collect(),
    };
    let mut out = Vec::new();
    for addr in addrs.into_iter().take(1) {
        let sock = if addr.is_ipv4() {
            TcpSocket::new_v4()
        } else {
            TcpSocket::new_v6()
        }
        .map_err(|source| Error::Bind {
            what: what.clone(),
            source,
        })?;
        sock.set_reuseaddr(true).map_err(|source| Error::Bind {
            what: what.clone(),
            source,
        })?;
        sock.bind(addr).map_err(|source| Error::Bind {
            what: what.clone(),
            source,
        })?;
        // CLAMD-TRANS-6: backlog = MaxConnectionQueueLength
        out.push(sock.listen(backlog.max(1)).map_err(|source| Error::Bind {
            what: what.clone(),
            source,
        })?);
    }
    Ok(out)
}

fn bind_unix(config: &Config, path: &Path) -> Result<UnixListener, Error> {
    let what = path.display().to_string();
    if path.exists() && config.fix_stale_socket {
        // FixStaleSocket: remove a socket file nobody listens on
        if std::os::unix::net::UnixStream::connect(path).is_err() {
            let _ = std::fs::remove_file(path);
        }
    }
    let l = UnixListener::bind(path).map_err(|source| Error::Bind {
        what: what.clone(),
        source,
    })?;
    if let Some(mode) = config.local_socket_mode {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            .map_err(|source| Error::Bind { what, source })?;
    }
    Ok(l)
}

/// Bind the configured listeners and serve. Binding happens before this returns, so the
/// addresses are ready for clients.
pub async fn start(config: Config, db: DbSource) -> Result<FakeClamd, Error> {
    start_with(config, db, None).await
}

/// As [`start`] with the database already loaded by the caller (the binary loads it before
/// its runtime exists, which is the fastest start); RELOAD still reads `db`.
pub async fn start_preloaded(
    config: Config,
    db: DbSource,
    loaded: Arc<SignatureDb>,
) -> Result<FakeClamd, Error> {
    start_with(config, db, Some(loaded)).await
}

async fn start_with(
    config: Config,
    db: DbSource,
    preloaded: Option<Arc<SignatureDb>>,
) -> Result<FakeClamd, Error> {
    let exclude = config
        .exclude_path
        .iter()
        .map(|re| Regex::new(re).map_err(|e| Error::Invalid(format!("ExcludePath {re}: {e}"))))
        .collect::<Result<Vec<_>, _>>()?;
    let db_loaded = if let Some(loaded) = preloaded {
        loaded
    } else if matches!(db, DbSource::Fixed(_)) || config.database_directory.is_none() {
        // built-in signatures: microseconds, no need for a blocking-pool thread
        load_db(&config, &db)?
    } else if tokio::runtime::Handle::current().runtime_flavor()
        == tokio::runtime::RuntimeFlavor::MultiThread
    {
        // reading a tiny database takes well under a millisecond: cheaper in place than
        // handing it to a fresh blocking-pool thread (start-up time is a target)
        tokio::task::block_in_place(|| load_db(&config, &db))?
    } else {
        let c = config.clone();
        let src = db.clone();
        tokio::task::spawn_blocking(move || load_db(&c, &src))
            .await
            .map_err(|e| Error::Invalid(format!("database loader failed: {e}")))??
    };
    let mut tcp = Vec::new();
    if let Some(t) = &config.tcp {
        for host in &t.addrs {
            tcp.extend(bind_tcp(host, t.port, config.max_connection_queue_length).await?);
        }
    }
    let unix = match &config.local_socket {
        Some(p) => Some(bind_unix(&config, p)?),
        None => None,
    };
    let log = match &config.log_file {
        Some(p) => Some(std::sync::Mutex::new(open_log(p).map_err(|source| {
            Error::Io {
                what: format!("open LogFile {}", p.display()),
                source,
            }
        })?)),
        None => None,
    };
    if let Some(p) = &config.pid_file {
        std::fs::write(p, format!("{}\n", std::process::id())).map_err(|source| Error::Io {
            what: format!("write PidFile {}", p.display()),
            source,
        })?;
    }
    // CLAMD-SCAN-12: as root, answer path scans with the access rights of `User`
    let access = match (&config.user, nix::unistd::geteuid().is_root()) {
        (Some(name), true) => crate::scan::UserAccess::lookup(name).map(Arc::new),
        _ => None,
    };
    let (shutdown, _) = watch::channel(false);
    // the admin API serves transcripts and commands, so it records them too
    let recorder = (config.fake.record || config.fake.admin.is_some())
        .then(|| Arc::new(Recorder::new(config.fake.record_limits)));
    let max_queue = config.effective_max_queue();
    let fault_set = faults::FaultSet::with_label(config.fake.faults.clone(), "fake-clamd");
    if !config.fake.faults.rules.is_empty() {
        tracing::warn!(
            seed = fault_set.seed(),
            "fault injection active (seed {})",
            fault_set.seed()
        );
    }
    let admin = match config.fake.admin {
        Some(addr) => Some(
            faults::admin::AdminServer::start_with(
                addr,
                fault_set.clone(),
                admin_options(&config, recorder.as_ref()),
            )
            .await
            .map_err(|e| Error::Invalid(e.to_string()))?,
        ),
        None => None,
    };
    let shared = Arc::new(Shared {
        scan_permits: Semaphore::new(
            usize::try_from(config.max_threads.max(1))
                .unwrap_or(1)
                .min(4096),
        ),
        config: Arc::new(config),
        db: RwLock::new(db_loaded),
        db_source: db,
        exclude: Arc::new(exclude),
        access,
        recorder,
        shutdown,
        next_conn: AtomicU64::new(1),
        log,
        faults: fault_set,
        cancel: scan_engine::CancelFlag::new(),
        streams_read: Default::default(),
    });
    // CLAMD-TRANS-6: stop accepting while MaxQueue connections are open
    let queue = Arc::new(Semaphore::new(max_queue));
    let mut tasks = Vec::new();
    let mut tcp_addrs = Vec::new();
    for l in tcp {
        if let Ok(a) = l.local_addr() {
            tcp_addrs.push(a);
        }
        let sh = Arc::clone(&shared);
        let q = Arc::clone(&queue);
        tasks.push(tokio::spawn(accept_loop(sh, q, Listener::Tcp(l))));
    }
    let socket_path = shared.config.local_socket.clone();
    if let Some(l) = unix {
        let sh = Arc::clone(&shared);
        let q = Arc::clone(&queue);
        tasks.push(tokio::spawn(accept_loop(sh, q, Listener::Unix(l))));
    }
    tracing::info!(?tcp_addrs, ?socket_path, "fake clamd listening");
    let core = HandleCore::new(
        "fake-clamd",
        shared.faults.clone(),
        shared.recorder.clone(),
        admin,
    );
    Ok(FakeClamd {
        shared,
        tcp_addrs,
        socket_path,
        tasks,
        tempdir: None,
        core,
    })
}

/// Token, title and the recorder as live state of the admin API.
fn admin_options(config: &Config, recorder: Option<&Arc<Recorder>>) -> faults::admin::AdminOptions {
    let opts = faults::admin::AdminOptions::default()
        .token(config.fake.admin_token.clone())
        .title("fake-clamd");
    match recorder {
        Some(r) => opts.live(Arc::new(faults::admin::live::LiveRecord {
            recorder: r.clone(),
            signatures: crate::record::signatures(),
        })),
        None => opts,
    }
}

enum Listener {
    Tcp(TcpListener),
    Unix(UnixListener),
}

impl Listener {
    async fn accept(&self) -> std::io::Result<Conn> {
        match self {
            Listener::Tcp(l) => l.accept().await.map(|(s, _)| Conn::Tcp(s)),
            Listener::Unix(l) => l.accept().await.map(|(s, _)| Conn::Unix(s)),
        }
    }
}

async fn accept_loop(shared: Arc<Shared>, queue: Arc<Semaphore>, listener: Listener) {
    let mut stop = shared.shutdown.subscribe();
    loop {
        let permit = tokio::select! {
            p = Arc::clone(&queue).acquire_owned() => match p { Ok(p) => p, Err(_) => return },
            _ = stop.wait_for(|v| *v) => return,
        };
        let conn = tokio::select! {
            c = listener.accept() => c,
            _ = stop.wait_for(|v| *v) => return,
        };
        match conn {
            Ok(conn) => {
                let id = shared.next_conn.fetch_add(1, Ordering::Relaxed);
                let sh = Arc::clone(&shared);
                tokio::spawn(async move {
                    Connection::new(sh, conn, id).run().await;
                    drop(permit);
                });
            }
            Err(e) => {
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}
