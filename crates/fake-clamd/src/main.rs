//! `fake-clamd`: a thin command-line wrapper around the library.

use fake_clamd::FakeDaemon;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use fake_clamd::startup_trace::StartupTrace;
use fake_clamd::{Config, DbSource, SessionOrder, StreamLimitMode};

/// A fake ClamAV clamd 1.4 daemon: the same socket protocol byte for byte, built-in EICAR
/// signature, millisecond start-up. Prints `LISTENING tcp <addr>` / `LISTENING unix <path>`
/// on stdout once accepting.
#[derive(Parser, Debug)]
#[command(name = "fake-clamd", version)]
struct Cli {
    /// clamd.conf to read (same syntax and errors as clamd). Without it: clamd's defaults on
    /// 127.0.0.1:3310.
    #[arg(short = 'c', long = "config-file", value_name = "FILE")]
    config_file: Option<PathBuf>,
    /// Override DatabaseDirectory (load .hdb/.hsb/.ndb from here).
    #[arg(long, value_name = "DIR")]
    datadir: Option<PathBuf>,
    /// Accepted for clamd compatibility; the fake always runs in the foreground.
    #[arg(short = 'F', long)]
    foreground: bool,
    /// Debug logging on stderr.
    #[arg(long)]
    debug: bool,
    /// Override TCPSocket (0 = ephemeral).
    #[arg(long, value_name = "PORT")]
    tcp_port: Option<u16>,
    /// Override LocalSocket.
    #[arg(long, value_name = "PATH")]
    local_socket: Option<PathBuf>,
    /// VERSION reply text.
    #[arg(long, value_name = "TEXT")]
    version_text: Option<String>,
    /// After "INSTREAM size limit exceeded": faithful | close | reply-drain | reset.
    #[arg(long, value_name = "MODE", default_value = "faithful")]
    stream_limit: StreamLimitMode,
    /// Order of scan replies in IDSESSION: clamd (as clamd 1.4.6: PING/VERSION/STATS
    /// answered when read, scan replies after the immediate replies of the same read, a
    /// rejected command drops the scan replies not yet sent) | arrival (each reply as soon as
    /// ready) | reverse | random (scan replies held until END; random moves every one of them).
    #[arg(long, value_name = "ORDER", default_value = "clamd")]
    session_order: SessionOrder,
    /// Seed of `--session-order random` (default: a fresh one per session).
    #[arg(long, value_name = "N")]
    session_seed: Option<u64>,
    /// Ignore SHUTDOWN and QUIT (close the connection, keep running).
    #[arg(long)]
    no_shutdown: bool,
    /// Names from signature files without ".UNOFFICIAL" (mimic production).
    #[arg(long)]
    official: bool,
    /// Timeouts fire at T + this many milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 500)]
    timeout_slack_ms: u64,
    /// Fault scenario (TOML, see the faults crate README): `[[rule]] when = {...} fault = {...}`.
    #[arg(long, value_name = "FILE")]
    faults: Option<PathBuf>,
    /// Fault shorthand `KIND[:ARG][@COND,...]`, e.g. `reset@command=INSTREAM,chunk=2` or
    /// `delay:500`, `infected:Fake.Virus@p=0.5,seed=7` (repeatable; added after --faults).
    #[arg(long = "fault", value_name = "SPEC")]
    fault: Vec<String>,
    /// Serve the HTTP/JSON fault admin API here (e.g. 127.0.0.1:0); prints `ADMIN <addr>`.
    /// Writes need `Content-Type: application/json`; without a token the Host header must
    /// name loopback; a non-loopback ADDR needs a token (else exit 2). At most 16
    /// connections, 8 KiB headers, 64 KiB bodies.
    #[arg(long, value_name = "ADDR")]
    admin: Option<std::net::SocketAddr>,
    /// Require `Authorization: Bearer TOKEN` on every admin request (also env
    /// AVC_ADMIN_TOKEN; a flag shows in `ps`, prefer the file or the environment).
    #[arg(long, value_name = "TOKEN")]
    admin_token: Option<String>,
    /// Read the admin token from this file (one line).
    #[arg(long, value_name = "FILE")]
    admin_token_file: Option<PathBuf>,
}

fn fail(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("{msg}");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let mut trace = StartupTrace::from_env();
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) if e.use_stderr() => {
            let _ = e.print();
            return ExitCode::from(2);
        }
        Err(e) => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
    };
    trace.mark("args");
    // RUST_LOG directives when given; otherwise a plain level, which skips compiling an
    // EnvFilter (a quarter of a millisecond of start-up).
    let level = if cli.debug {
        tracing::Level::DEBUG
    } else {
        tracing::Level::WARN
    };
    let fmt = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let _ = match tracing_subscriber::EnvFilter::try_from_default_env() {
        Ok(filter) if std::env::var_os("RUST_LOG").is_some() => {
            fmt.with_env_filter(filter).try_init()
        }
        _ => fmt.with_max_level(level).try_init(),
    };
    trace.mark("log");

    let mut config = match &cli.config_file {
        Some(p) => match Config::from_conf_file(p) {
            Ok(c) => c,
            Err(e) => return fail(e),
        },
        None => Config::default(),
    };
    if let Some(d) = &cli.datadir {
        config.database_directory = Some(d.clone());
    }
    if let Some(port) = cli.tcp_port {
        let addrs = config
            .tcp
            .take()
            .map_or_else(|| vec!["127.0.0.1".into()], |t| t.addrs);
        config.tcp = Some(fake_clamd::TcpListen { port, addrs });
    }
    if let Some(p) = &cli.local_socket {
        config.local_socket = Some(p.clone());
    }
    if let Some(v) = &cli.version_text {
        config.fake.version_text = v.clone();
    }
    config.fake.stream_limit = cli.stream_limit;
    config.fake.session_order = cli.session_order;
    config.fake.session_seed = cli.session_seed;
    config.fake.allow_shutdown = !cli.no_shutdown;
    config.fake.official_names = cli.official;
    config.fake.timeout_slack = Duration::from_millis(cli.timeout_slack_ms);
    let _ = cli.foreground;
    let mut plan = match &cli.faults {
        Some(p) => match faults::FaultPlan::from_toml_file(p) {
            Ok(p) => p,
            Err(e) => return fail(format!("ERROR: {e}")),
        },
        None => faults::FaultPlan::default(),
    };
    for spec in &cli.fault {
        match faults::FaultPlan::from_shorthand(spec) {
            Ok(p) => {
                plan.seed = p.seed.or(plan.seed);
                plan.rules.extend(p.rules);
            }
            Err(e) => return fail(format!("ERROR: {e}")),
        }
    }
    config.fake.faults = plan;
    config.fake.admin = cli.admin;
    if cli.admin.is_some() {
        config.fake.admin_token = match faults::admin::AdminToken::from_options(
            cli.admin_token.as_deref(),
            cli.admin_token_file.as_deref(),
        ) {
            Ok(t) => t,
            Err(e) => return fail(format!("ERROR: {e}")),
        };
    }

    trace.mark("conf");
    // The database is read before the runtime exists: nothing else is running yet, and it
    // saves handing the work to a blocking-pool thread (start-up time is a target).
    let db = match fake_clamd::load_db(&config, &DbSource::FromConfig) {
        Ok(db) => db,
        Err(e) => return fail(e),
    };
    trace.mark("db");
    // One thread serves every connection (a fake's work per byte is small; scans of paths
    // run on the blocking pool): starts in a tenth of the time of a worker per core, and
    // avoids cross-thread wake-ups on every request.
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(format!("ERROR: cannot start the runtime: {e}")),
    };
    trace.mark("runtime");
    rt.block_on(async move {
        let user = config.user.clone();
        let server = match fake_clamd::start_preloaded(config, DbSource::FromConfig, db).await {
            Ok(s) => s,
            Err(e) => return fail(e),
        };
        trace.mark("bind");
        if let Some(u) = user {
            if let Err(e) = drop_privileges(&u) {
                return fail(e);
            }
        }
        // installed before LISTENING is printed: a signal right after it must not kill us
        use tokio::signal::unix::{signal, SignalKind};
        let signals = (|| {
            Ok::<_, std::io::Error>((
                signal(SignalKind::terminate())?,
                signal(SignalKind::interrupt())?,
                signal(SignalKind::hangup())?,
                signal(SignalKind::user_defined1())?,
                signal(SignalKind::user_defined2())?,
            ))
        })();
        let (mut term, mut int, mut hup, mut usr1, mut usr2) = match signals {
            Ok(s) => s,
            Err(e) => return fail(format!("ERROR: cannot install signal handler: {e}")),
        };
        trace.mark("signals");
        let mut out = std::io::stdout().lock();
        if let Some(line) = trace.line() {
            let _ = writeln!(out, "{line}");
        }
        for line in server.listening_lines() {
            let _ = writeln!(out, "{line}");
        }
        if let Some(a) = server.admin_addr() {
            let _ = writeln!(out, "ADMIN {a}");
        }
        if !server.faults().plan().rules.is_empty() {
            // the seed makes any run replayable: put `seed = N` in the scenario
            eprintln!("fake-clamd: fault plan seed {}", server.faults().seed());
        }
        let _ = out.flush();
        drop(out);
        // clamd 1.4.6: SIGHUP re-opens the log, SIGUSR2 reloads the database, SIGUSR1 is
        // ignored; each keeps the daemon serving (hardening item 4).
        loop {
            tokio::select! {
                _ = server.stopped() => break,
                _ = int.recv() => break,
                _ = term.recv() => break,
                _ = hup.recv() => {
                    tracing::info!("SIGHUP caught: re-opening log file");
                    server.reopen_log();
                }
                _ = usr1.recv() => tracing::info!("SIGUSR1 caught: ignored"),
                _ = usr2.recv() => {
                    tracing::info!("SIGUSR2 caught: reloading the database");
                    server.reload();
                }
            }
        }
        drop(server);
        ExitCode::SUCCESS
    })
}

/// clamd's `User`: when started as root, switch to that user after binding.
fn drop_privileges(name: &str) -> Result<(), String> {
    use nix::unistd::{getuid, setgid, setgroups, setuid, User};
    if !getuid().is_root() {
        return Ok(());
    }
    let user = User::from_name(name)
        .map_err(|e| format!("ERROR: Can't get information about user {name}: {e}"))?
        .ok_or_else(|| format!("ERROR: Can't get information about user {name}."))?;
    setgroups(&[user.gid]).map_err(|e| format!("ERROR: setgroups failed: {e}"))?;
    setgid(user.gid).map_err(|e| format!("ERROR: setgid({}) failed: {e}", user.gid))?;
    setuid(user.uid).map_err(|e| format!("ERROR: setuid({}) failed: {e}", user.uid))?;
    Ok(())
}
