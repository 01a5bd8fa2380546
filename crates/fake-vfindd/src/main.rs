//! `fake-vfindd`: thin clap wrapper around the library (svsp.md section 12).

use clap::Parser;
use fake_vfindd::config::{
    parse_allow, parse_queued, Config, Dispatch, MemberErrors, Quirks, QuitMode,
};
use fake_vfindd::FakeDaemon;
use fake_vfindd::{Error as VfinddError, FakeVfindd};
use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use svsp_proto::{Eol, Profile};

/// Fake CyberSoft vfindd: an SVSP server for testing anti-virus clients.
#[derive(Debug, Parser)]
#[command(name = "fake-vfindd", version, about, long_about = None)]
struct Args {
    /// SVSP TCP port (also spelled --SVSP-port, any case). 0 = ephemeral: prints `LISTENING <port>`.
    #[arg(long = "svsp-port", default_value_t = 8081, value_name = "N")]
    svsp_port: u16,
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1", value_name = "ADDR")]
    listen: IpAddr,
    /// Allowed client networks, comma-separated CIDRs (default: loopback only). An empty
    /// list is refused at start-up (exit 2): a daemon that DENIES everyone is a mistake.
    #[arg(long, value_name = "CIDR[,CIDR...]")]
    allow: Option<String>,
    /// Accept loopback clients only.
    #[arg(short = 'l', long)]
    localhost: bool,
    /// Connections beyond this get DENIED (start-up prints what is refused on stderr).
    #[arg(long, default_value_t = 64, value_name = "N")]
    max_connections: usize,
    /// full (FILE, FILE-SHA1, REQUEST, PORT) or first-version (FILE only).
    #[arg(long, default_value = "full", value_parser = ["full", "first-version"])]
    profile: String,
    /// all: every line at once; one-per-read: one command per read event (FAQ 1 quirk).
    #[arg(long, default_value = "all", value_parser = ["all", "one-per-read"])]
    dispatch: String,
    /// Response line terminator.
    #[arg(long, default_value = "crlf", value_parser = ["crlf", "lf"])]
    eol: String,
    /// always, when-delayed, never, or random:<seed>.
    #[arg(long, default_value = "always", value_name = "MODE")]
    queued: String,
    /// drain (finish requests, then OK) or immediate.
    #[arg(long, default_value = "drain", value_parser = ["drain", "immediate"])]
    quit: String,
    /// Scan worker threads shared by all connections.
    #[arg(long, default_value_t = 4, value_name = "N")]
    threads: usize,
    /// Artificial delay per scanned part, in milliseconds.
    #[arg(long, default_value_t = 0, value_name = "MS")]
    delay_ms: u64,
    /// Outstanding requests per connection before EAGAIN.
    #[arg(long, default_value_t = 32, value_name = "N")]
    max_queue: usize,
    /// Largest REQUEST/PORT/DATA stream in bytes.
    #[arg(long, default_value_t = 1 << 20, value_name = "BYTES")]
    stream_max_length: u64,
    /// Data-channel timeout in seconds (fractions allowed).
    #[arg(long, default_value_t = 10.0, value_name = "SECS")]
    data_timeout: f64,
    /// Serve FILE/FILE-SHA1 only below this directory (EACCES otherwise); relative paths
    /// resolve here. Must be a directory. Every path is opened beneath it by the kernel
    /// (openat2 RESOLVE_BENEATH): symlinks are refused unless --follow-symlinks.
    #[arg(long, value_name = "DIR")]
    scan_root: Option<PathBuf>,
    /// Test hook: resolve every path below DIR, like a chroot (names in replies unchanged).
    #[arg(long, value_name = "DIR", hide = true)]
    virtual_root: Option<PathBuf>,
    /// Follow symbolic links inside scanned directories (and, under --scan-root, in the
    /// named path), only while they stay beneath the root.
    #[arg(long)]
    follow_symlinks: bool,
    /// skip: unreadable members are skipped; terminal: they end the request with EACCES.
    #[arg(long, default_value = "skip", value_parser = ["skip", "terminal"])]
    member_errors: String,
    /// Send `SEND <port>` for SCAN/PORT too (seed table quirk).
    #[arg(long)]
    port_send_echo: bool,
    /// Implement the FUTURE sources SCAN/DATA and bare SCAN (inline).
    #[arg(long)]
    enable_future: bool,
    /// Close idle connections without outstanding requests after SECS (0 = never), so
    /// idle sockets cannot hold every --max-connections slot.
    #[arg(long, default_value_t = 60.0, value_name = "SECS")]
    idle_timeout: f64,
    /// Largest file scanned by FILE / FILE-SHA1, in bytes (bigger: `EINVAL Size limit
    /// exceeded`, or a member error inside a directory). Files are read by their size.
    #[arg(long = "max-file-size", default_value_t = fake_vfindd::config::DEFAULT_MAX_FILE_BYTES, value_name = "BYTES")]
    max_file_size: u64,
    /// Detection name for EICAR.
    #[arg(long, default_value = fake_vfindd::config::DEFAULT_EICAR_NAME, value_name = "NAME")]
    eicar_name: String,
    /// done-without-count, infected-empty-archive-name, unknown-line, lowercase-keywords (repeatable, comma-separated).
    #[arg(long = "quirk", value_name = "NAME", value_delimiter = ',')]
    quirks: Vec<String>,
    /// Fault rules in the shared shorthand, exactly as fake-clamd takes them:
    /// `KIND[:ARG][@COND,COND...]`, rules joined by `;` (e.g. `reset@command=SCAN,times=1`,
    /// `infected:Fake.Virus@p=0.5,seed=7`, `truncate@verdict`, `drop@replies=3`; see the
    /// faults crate README). The first counters are aliases: `eagain-every:N`,
    /// `efault-every:N`, `drop-connection-after:N-lines`. Repeatable.
    #[arg(long = "fault", value_name = "SPEC")]
    faults: Vec<String>,
    /// Fault scenario file (TOML, the shared fault vocabulary).
    #[arg(long = "faults", value_name = "FILE")]
    fault_file: Option<std::path::PathBuf>,
    /// Serve the HTTP/JSON fault admin API here (e.g. 127.0.0.1:0); prints `ADMIN <addr>`.
    /// Writes need `Content-Type: application/json`; without a token the Host header must
    /// name loopback; a non-loopback ADDR needs a token (else exit 2). At most 16
    /// connections, 8 KiB headers, 64 KiB bodies.
    #[arg(long, value_name = "ADDR")]
    admin: Option<SocketAddr>,
    /// Require `Authorization: Bearer TOKEN` on every admin request (also env
    /// AVC_ADMIN_TOKEN; a flag shows in `ps`, prefer the file or the environment).
    #[arg(long, value_name = "TOKEN")]
    admin_token: Option<String>,
    /// Read the admin token from this file (one line).
    #[arg(long, value_name = "FILE")]
    admin_token_file: Option<PathBuf>,
}

/// The mode of a two-valued flag (clap admits only its two values): `when_is` if it is
/// `when`, else `otherwise`.
fn pick<T>(value: &str, when: &str, when_is: T, otherwise: T) -> T {
    if value == when {
        when_is
    } else {
        otherwise
    }
}

fn secs(v: f64, flag: &str) -> Result<Duration, VfinddError> {
    Duration::try_from_secs_f64(v).map_err(|_| {
        VfinddError::Config(format!("{flag} must be a non-negative number of seconds"))
    })
}

fn config(a: Args) -> Result<Config, VfinddError> {
    let mut quirks = Quirks::default();
    for q in &a.quirks {
        quirks.enable(q)?;
    }
    let mut plan = match &a.fault_file {
        // bounded, regular files only, FIFOs never block (hardening items 5 and 8)
        Some(p) => {
            faults::FaultPlan::from_toml_file(p).map_err(|e| VfinddError::Config(e.to_string()))?
        }
        None => faults::FaultPlan::default(),
    };
    // one value = one shorthand spec, as fake-clamd parses it (commas are conditions)
    for f in &a.faults {
        plan.merge(
            faults::FaultPlan::from_shorthand(f).map_err(|e| VfinddError::Config(e.to_string()))?,
        );
    }
    let mut cfg = Config {
        listen: SocketAddr::new(a.listen, a.svsp_port),
        localhost_only: a.localhost,
        max_connections: a.max_connections,
        profile: pick(
            &a.profile,
            "first-version",
            Profile::FirstVersion,
            Profile::Full,
        ),
        dispatch: pick(
            &a.dispatch,
            "one-per-read",
            Dispatch::OnePerRead,
            Dispatch::All,
        ),
        eol: pick(&a.eol, "lf", Eol::Lf, Eol::Crlf),
        queued: parse_queued(&a.queued)?,
        quit: pick(&a.quit, "immediate", QuitMode::Immediate, QuitMode::Drain),
        threads: a.threads,
        delay: Duration::from_millis(a.delay_ms),
        max_queue: a.max_queue,
        stream_max_length: a.stream_max_length,
        data_timeout: secs(a.data_timeout, "--data-timeout")?,
        scan_root: a.scan_root,
        virtual_root: a.virtual_root,
        follow_symlinks: a.follow_symlinks,
        member_errors: pick(
            &a.member_errors,
            "terminal",
            MemberErrors::Terminal,
            MemberErrors::Skip,
        ),
        port_send_echo: a.port_send_echo,
        enable_future: a.enable_future,
        idle_timeout: Some(secs(a.idle_timeout, "--idle-timeout")?),
        max_file_bytes: a.max_file_size,
        eicar_name: a.eicar_name,
        quirks,
        fault_plan: plan,
        admin_token: match a.admin {
            Some(_) => faults::admin::AdminToken::from_options(
                a.admin_token.as_deref(),
                a.admin_token_file.as_deref(),
            )
            .map_err(|e| VfinddError::Config(e.to_string()))?,
            None => None,
        },
        admin: a.admin,
        ..Config::default()
    };
    if let Some(allow) = &a.allow {
        cfg.allow = parse_allow(allow)?;
    }
    cfg.validate()?;
    Ok(cfg)
}

/// Hardening item 3: SIGHUP, SIGUSR1 and SIGUSR2 are logged, not fatal (the default
/// action would kill the daemon). Installed before the port is announced.
#[cfg(unix)]
fn survive_signals() {
    use tokio::signal::unix::{signal, SignalKind};
    for (kind, name) in [
        (SignalKind::hangup(), "SIGHUP"),
        (SignalKind::user_defined1(), "SIGUSR1"),
        (SignalKind::user_defined2(), "SIGUSR2"),
    ] {
        match signal(kind) {
            Ok(mut s) => {
                tokio::spawn(async move {
                    while s.recv().await.is_some() {
                        // no log file to reopen: stderr only
                        tracing::info!("received {name}; ignored, still serving");
                    }
                });
            }
            Err(e) => tracing::warn!("cannot handle {name}: {e}"),
        }
    }
}

/// SVSP-TRANS-1: `--SVSP-port` / `--svsp-port` in any case.
fn normalize_args(args: impl Iterator<Item = std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    args.map(|a| {
        let Some(s) = a.to_str() else { return a };
        let (name, rest) = match s.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (s, None),
        };
        if name.eq_ignore_ascii_case("--svsp-port") {
            match rest {
                Some(v) => format!("--svsp-port={v}").into(),
                None => "--svsp-port".into(),
            }
        } else {
            a
        }
    })
    .collect()
}

/// clap's message printed; exit 2 for a usage error, 0 for `--help` and `--version`.
fn usage_exit(e: clap::Error) -> ExitCode {
    let _ = e.print();
    ExitCode::from(if e.use_stderr() { 2 } else { 0 })
}

fn main() -> ExitCode {
    let args = match Args::try_parse_from(normalize_args(std::env::args_os())) {
        Ok(a) => a,
        Err(e) => return usage_exit(e),
    };
    // logs on stderr, `warn` unless RUST_LOG says otherwise
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let ephemeral = args.svsp_port == 0;
    let cfg = match config(args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("fake-vfindd: {e}");
            return ExitCode::from(2);
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("fake-vfindd: cannot start runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let code = rt.block_on(async move {
        #[cfg(unix)]
        survive_signals();
        let summary = cfg.refusal_summary();
        let server = match FakeVfindd::start(cfg).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("fake-vfindd: {e}");
                // hardening item 4: a port in use is a configuration error, as fake-clamd
                return ExitCode::from(match e {
                    VfinddError::Config(_) | VfinddError::Bind { .. } => 2,
                    _ => 1,
                });
            }
        };
        // hardening item 7: say at start-up whom the daemon will refuse
        eprintln!("fake-vfindd: {summary}");
        if ephemeral {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "LISTENING {}", server.port());
            let _ = out.flush();
        }
        if let Some(a) = server.admin_addr() {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "ADMIN {a}");
            let _ = out.flush();
        }
        if !server.faults().plan().rules.is_empty() {
            // the seed makes any run replayable: put `seed = N` in the scenario
            eprintln!("fake-vfindd: fault plan seed {}", server.faults().seed());
        }
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = async { #[cfg(unix)] { if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) { s.recv().await; } else { std::future::pending::<()>().await } } } => {}
        }
        server.shutdown();
        server.stopped().await;
        ExitCode::SUCCESS
    });
    // scans on worker threads stop at their next read; do not wait for them forever
    rt.shutdown_timeout(Duration::from_secs(2));
    code
}
