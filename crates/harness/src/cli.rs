//! The command line (`cargo xtask conformance ...` and the `avc-conformance` binary).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use std::io::Write as _;

use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches, Parser};

use crate::case::{self, Case};
use crate::error::{HarnessError, Result};
use crate::judge::Status;
use crate::profile::{ClientProfile, Protocol};
use crate::report::{Report, Row};
use crate::runner::{self, CaseResult, RunContext};

/// Run AV clients (any language) against the fake clamd / SVSP daemons, record every byte,
/// judge verdicts and protocol obligations; or check a server with raw-byte cases.
///
/// Exit codes: 0 every case that ran passed; 1 a client (or server) failed a case;
/// 2 bad arguments or configuration; 3 the harness could not run (daemon, fixture,
/// client build/start failure, or --require-available with a missing client).
#[derive(Debug, Parser)]
#[command(name = "avc-conformance", version)]
pub struct Cli {
    /// Client profile(s) to run, by name (`all` = every profile). Default: the profiles
    /// tagged `default` (the reference client).
    #[arg(long = "client", value_name = "NAME")]
    pub clients: Vec<String>,
    /// One-off client command template (clamdscan exit convention: 0 clean, 1 infected,
    /// 2 error), e.g. 'clamdscan --stream --config-file={dir}/c.conf {file}'.
    #[arg(long, value_name = "TEMPLATE")]
    pub client_cmd: Option<String>,
    /// Protocol of --client-cmd, and of --server/--socket.
    #[arg(long, value_enum, default_value = "clamd")]
    pub protocol: ProtocolArg,
    /// Per-run timeout of --client-cmd, seconds.
    #[arg(long, default_value_t = 20.0)]
    pub timeout: f64,
    /// Program path for profiles with `program_from` (e.g. FLCL=/opt/flam/bin/flcl).
    #[arg(long = "program", value_name = "VAR=PATH")]
    pub programs: Vec<String>,
    /// Only cases whose id, rule ID or tag contains TERM (repeat or comma-separate).
    #[arg(long, value_name = "TERM", value_delimiter = ',')]
    pub filter: Vec<String>,
    /// Leave out cases whose id, rule ID or tag contains TERM (repeat or comma-separate).
    #[arg(long, value_name = "TERM", value_delimiter = ',')]
    pub skip: Vec<String>,
    /// List the selected cases and exit.
    #[arg(long)]
    pub list: bool,
    /// Run only shard K of N (1-based), to split a run over CI jobs.
    #[arg(long, value_name = "K/N")]
    pub partition: Option<String>,
    /// Cases run at once (default: 4 per core; a case mostly waits on its client); cases
    /// expected to wait longer (client time-outs, fault sleeps) run beside them, and every
    /// case starts longest first (see the harness README).
    #[arg(long, default_value_t = default_jobs())]
    pub jobs: usize,
    /// Write a Markdown report.
    #[arg(long, value_name = "PATH")]
    pub report_md: Option<PathBuf>,
    /// Write a JSON report.
    #[arg(long, value_name = "PATH")]
    pub report_json: Option<PathBuf>,
    /// Write a JUnit XML report.
    #[arg(long, value_name = "PATH")]
    pub report_junit: Option<PathBuf>,
    /// Write a self-contained HTML report (matrix, per-case timelines).
    #[arg(long, value_name = "PATH")]
    pub report_html: Option<PathBuf>,
    /// Known failures (TOML): exit 0 when only these fail, 1 on a new failure or on an
    /// entry whose case now passes.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// Write the current failures as a baseline file.
    #[arg(long, value_name = "FILE")]
    pub write_baseline: Option<PathBuf>,
    /// Let baseline entries with `status = "fail-open"` allow FAIL-OPEN.
    #[arg(long)]
    pub baseline_allow_fail_open: bool,
    /// Accept transcript snapshot differences and new snapshots (`--accept`; pending ones
    /// of an earlier run: `review --accept`).
    #[arg(long, visible_alias = "accept")]
    pub update_snapshots: bool,
    /// Snapshot directory, `DIR/<client>/<case>.snap` (default: conformance/snapshots in
    /// this repository, ./av-conformance/snapshots outside it).
    #[arg(long, value_name = "DIR")]
    pub snapshots: Option<PathBuf>,
    /// Do not compare transcript snapshots.
    #[arg(long)]
    pub no_snapshots: bool,
    /// Property-test the selected clients with N generated cases (instead of the suites).
    #[arg(long, value_name = "N")]
    pub proptest: Option<u32>,
    /// Seed for --proptest (printed on failure to replay it).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Check a server instead of clients: raw-byte cases against HOST:PORT.
    #[arg(long, value_name = "HOST:PORT", conflicts_with = "socket")]
    pub server: Option<String>,
    /// Check a server on a unix socket.
    #[arg(long, value_name = "PATH")]
    pub socket: Option<PathBuf>,
    /// Treat "not available" clients as a harness failure (exit 3); for CI.
    #[arg(long, env = "AVC_REQUIRE_CLIENTS")]
    pub require_available: bool,
    /// Keep each case's scratch directory.
    #[arg(long)]
    pub keep: bool,
    /// Repository root (default: found from the current directory; outside this
    /// repository the built-in cases and profiles are used).
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Client profile file to run, from any directory (repeatable).
    #[arg(long = "profile", value_name = "FILE")]
    pub profile_files: Vec<PathBuf>,
    /// Directory of your own client case files (`*.toml`), added to the built-in cases
    /// (repeatable).
    #[arg(long = "cases", value_name = "DIR")]
    pub case_dirs: Vec<PathBuf>,
    /// Config file holding profiles, cases, snapshots and reports (default:
    /// `av-conformance.toml` in the current directory, when present).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// `--jobs` default: 4 per core, within the flag's 1..=64.
fn default_jobs() -> usize {
    std::thread::available_parallelism()
        .map_or(4, |n| n.get().saturating_mul(4))
        .clamp(4, 64)
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ProtocolArg {
    Clamd,
    Svsp,
}

impl From<ProtocolArg> for Protocol {
    fn from(p: ProtocolArg) -> Self {
        match p {
            ProtocolArg::Clamd => Protocol::Clamd,
            ProtocolArg::Svsp => Protocol::Svsp,
        }
    }
}

/// Entry point of `cargo xtask conformance`: parses `args` (without the program name) and
/// runs; returns the exit code. Usage lines name `cargo xtask conformance`.
pub fn main_with_args(args: Vec<String>) -> u8 {
    main_as(
        "cargo xtask conformance",
        args.into_iter().map(OsString::from).collect(),
    )
}

/// Entry point of the installed `avc-conformance` binary, for raw OS arguments (without the
/// program name): an argument that is not UTF-8 where text is expected is a usage error
/// (exit 2), never a panic.
pub fn main_with_os_args(args: Vec<OsString>) -> u8 {
    main_as("avc-conformance", args)
}

/// Runs as `bin` (the name usage lines show; `--version` always says `avc-conformance`,
/// the package a user installed).
fn main_as(bin: &str, args: Vec<OsString>) -> u8 {
    if args.first().is_some_and(|a| a == "review") {
        return crate::review::main(review_args(args.into_iter().skip(1).collect()));
    }
    let parsed = Cli::command()
        .bin_name(bin)
        .try_get_matches_from(std::iter::once(OsString::from(bin)).chain(args))
        .and_then(|m| Cli::from_arg_matches(&m).map(|c| (c, m)));
    let (cli, matches) = match parsed {
        Ok(x) => x,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 2 } else { 0 };
        }
    };
    let given = |id: &str| matches.value_source(id) == Some(ValueSource::CommandLine);
    if let Err(why) = check_conflicts(&cli, given("protocol"), given("timeout")) {
        say(&format!("conformance: usage: {why}"));
        return 2;
    }
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
                tracing_subscriber::EnvFilter::new("warn,fake_clamd=error,fake_vfindd=error")
            }),
        )
        .with_writer(crate::redact::LogWriter(std::io::stderr))
        .try_init();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            say(&format!("conformance: cannot start the runtime: {e}"));
            return 3;
        }
    };
    let run = async {
        crate::process_tree::guard_clients();
        let code = run(cli).await;
        crate::process_tree::end_adopted();
        code
    };
    match rt.block_on(run) {
        Ok(code) => code,
        Err(e) => {
            say(&format!("conformance: {e}"));
            e.exit_code()
        }
    }
}

/// One line on stderr; a closed stderr is not an error worth a panic.
fn say(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// Flags that would be silently ignored together are a usage error (exit 2, issue 14
/// item 2): `--protocol` and `--timeout` belong to `--client-cmd` (and `--protocol` to
/// `--server`/`--socket`), a profile names its own protocol and timeout.
fn check_conflicts(cli: &Cli, protocol_given: bool, timeout_given: bool) -> Result<(), String> {
    let server = cli.server.is_some() || cli.socket.is_some();
    if protocol_given && cli.client_cmd.is_none() && !server {
        return Err(if cli.clients.is_empty() {
            "--protocol applies to --client-cmd, --server and --socket; the default run takes each profile's own protocol".into()
        } else {
            format!(
                "--protocol cannot be combined with --client {}: a profile names its own protocol (its `protocol` key)",
                cli.clients.join(",")
            )
        });
    }
    if cli.client_cmd.is_some() && !cli.clients.is_empty() {
        return Err("--client-cmd and --client cannot be combined: give one client".into());
    }
    if cli.client_cmd.is_some() && !cli.profile_files.is_empty() {
        return Err("--client-cmd and --profile cannot be combined: give one client".into());
    }
    if timeout_given && cli.client_cmd.is_none() {
        return Err(
            "--timeout applies to --client-cmd only (a profile sets `timeout_secs`)".into(),
        );
    }
    if cli.seed.is_some() && cli.proptest.is_none() {
        return Err("--seed applies to --proptest only".into());
    }
    if server
        && (cli.client_cmd.is_some()
            || !cli.clients.is_empty()
            || !cli.profile_files.is_empty()
            || cli.proptest.is_some())
    {
        return Err("--server/--socket check a server; they cannot be combined with --client, --client-cmd, --profile or --proptest".into());
    }
    if cli.update_snapshots && cli.no_snapshots {
        return Err("--update-snapshots and --no-snapshots cannot be combined".into());
    }
    Ok(())
}

fn parse_partition(s: &str) -> Result<(usize, usize)> {
    let bad = || HarnessError::Usage(format!("--partition {s}: want K/N with 1 <= K <= N"));
    let (k, n) = s.split_once('/').ok_or_else(bad)?;
    let (k, n): (usize, usize) = (
        k.trim().parse().map_err(|_| bad())?,
        n.trim().parse().map_err(|_| bad())?,
    );
    if k == 0 || n == 0 || k > n {
        return Err(bad());
    }
    Ok((k, n))
}

/// `--root DIR` must be a repository root (a directory with `conformance/`): anything else
/// is a usage error (exit 2), not a harness failure further on. The root is made absolute: transcripts redact it as `[REPO]`, and a relative spelling
/// such as `.` would be replaced wherever it occurs (`case: clamd[REPO]clean`).
fn check_root(dir: &Path) -> Result<PathBuf> {
    match dir.canonicalize() {
        Ok(abs) if abs.join("conformance").is_dir() => Ok(abs),
        _ => Err(HarnessError::Usage(format!(
            "--root {}: not a repository root (no conformance/ directory in it)",
            dir.display()
        ))),
    }
}

/// The run's root: `--root`, else this repository when the current directory is inside it,
/// else the built-in cases and profiles written to a scratch directory, which the returned
/// guard keeps alive for the run (issue 14: the installed binary works from any directory).
fn resolve_root(cli: &Cli, cwd: &Path) -> Result<(PathBuf, Option<tempfile::TempDir>)> {
    if let Some(r) = &cli.root {
        return Ok((check_root(r)?, None));
    }
    if let Some(r) = runner::find_root(cwd) {
        return Ok((r, None));
    }
    let dir = tempfile::Builder::new()
        .prefix("avc-conformance-data-")
        .tempdir()
        .map_err(|e| HarnessError::io("scratch dir for the built-in data", e))?;
    let root = crate::builtin::materialize(dir.path())?;
    Ok((root, Some(dir)))
}

/// `review` outside this repository looks at the snapshot directory a run there writes to
/// (the config file's `snapshots`, else `./av-conformance/snapshots`), unless the
/// arguments name one.
fn review_args(mut args: Vec<OsString>) -> Vec<OsString> {
    let names_dir = args.iter().any(|a| {
        let a = a.to_string_lossy();
        ["--snapshots", "--root"]
            .iter()
            .any(|f| a == *f || a.starts_with(&format!("{f}=")))
    });
    let Ok(cwd) = std::env::current_dir() else {
        return args;
    };
    if names_dir || runner::find_root(&cwd).is_some() {
        return args;
    }
    let dir = crate::user_config::Config::find(None, &cwd)
        .ok()
        .flatten()
        .and_then(|c| c.snapshots)
        .unwrap_or_else(|| cwd.join(crate::user_config::DEFAULT_SNAPSHOTS));
    args.extend([OsString::from("--snapshots"), dir.into_os_string()]);
    args
}

/// `--server HOST:PORT` must name a port and resolve: a bad address is a usage error
/// (exit 2), not one harness error per case (exit 3).
async fn check_server_addr(addr: &str) -> Result<()> {
    let bad = |why: &str| HarnessError::Usage(format!("--server {addr:?}: {why}"));
    if addr.parse::<std::net::SocketAddr>().is_ok() {
        return Ok(());
    }
    let (host, port) = addr.rsplit_once(':').ok_or_else(|| bad("want HOST:PORT"))?;
    port.parse::<u16>()
        .map_err(|_| bad("the port must be a number 0..=65535"))?;
    if host.is_empty()
        || !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-.[]:".contains(c))
    {
        return Err(bad("want HOST:PORT with a host name or IP address"));
    }
    match tokio::net::lookup_host(addr).await {
        Ok(mut addrs) => match addrs.next() {
            Some(_) => Ok(()),
            None => Err(bad("the host has no address")),
        },
        Err(e) => Err(bad(&format!("cannot resolve: {e}"))),
    }
}

/// Profiles selected by the command line.
fn select_profiles(cli: &Cli, root: &Path) -> Result<Vec<ClientProfile>> {
    if let Some(cmd) = &cli.client_cmd {
        if !(cli.timeout > 0.0 && cli.timeout <= 3600.0) {
            return Err(HarnessError::Usage("--timeout must be in (0, 3600]".into()));
        }
        return Ok(vec![ClientProfile::one_off(
            cmd,
            cli.protocol.into(),
            Duration::from_secs_f64(cli.timeout),
        )?]);
    }
    let all = ClientProfile::load_dir(&root.join("conformance").join("clients"))?;
    if cli.clients.is_empty() && cli.profile_files.is_empty() {
        return Ok(all
            .into_iter()
            .filter(|p| p.tags.iter().any(|t| t == "default"))
            .collect());
    }
    let mut out = Vec::new();
    for path in &cli.profile_files {
        out.push(ClientProfile::load(path)?);
    }
    if cli.clients.is_empty() {
        return Ok(out);
    }
    if cli.clients.iter().any(|c| c == "all") {
        out.extend(all);
        return Ok(out);
    }
    for name in &cli.clients {
        // A path to a profile file works too.
        if name.ends_with(".toml") {
            out.push(ClientProfile::load(Path::new(name))?);
            continue;
        }
        match all.iter().find(|p| &p.name == name) {
            Some(p) => out.push(p.clone()),
            None => {
                return Err(HarnessError::Usage(format!(
                    "no client profile {name:?} (known: {})",
                    all.iter()
                        .map(|p| p.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )))
            }
        }
    }
    Ok(out)
}

fn programs(cli: &Cli, profiles: &[ClientProfile]) -> Result<BTreeMap<String, PathBuf>> {
    let mut m = BTreeMap::new();
    for p in profiles {
        if let Some(var) = &p.program_from {
            if let Some(v) = std::env::var_os(var) {
                m.insert(var.clone(), PathBuf::from(v));
            }
        }
    }
    for s in &cli.programs {
        let (k, v) = s
            .split_once('=')
            .ok_or_else(|| HarnessError::Usage(format!("--program {s}: want VAR=PATH")))?;
        m.insert(k.to_string(), PathBuf::from(v));
    }
    Ok(m)
}

/// Builds profiles' `cargo_bin` programs; returns the directories to put on PATH, and
/// per-profile build errors.
fn build_programs(profiles: &[ClientProfile]) -> (Vec<PathBuf>, BTreeMap<String, String>) {
    let mut dirs = Vec::new();
    let mut errors = BTreeMap::new();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut built: BTreeMap<(String, String), Option<String>> = BTreeMap::new();
    for p in profiles {
        let Some(cb) = &p.cargo_bin else { continue };
        if let Some(prev) = built.get(&(cb.package.clone(), cb.bin.clone())) {
            if let Some(e) = prev {
                errors.insert(p.name.clone(), e.clone());
            }
            continue;
        }
        say(&format!(
            "conformance: building {} (cargo build -p {} --bin {})",
            p.name, cb.package, cb.bin
        ));
        let out = std::process::Command::new(&cargo)
            .args([
                "build",
                "-q",
                "-p",
                &cb.package,
                "--bin",
                &cb.bin,
                "--message-format=json",
            ])
            .stderr(std::process::Stdio::inherit())
            .output();
        match out {
            Ok(o) if o.status.success() => {
                // Find the executable cargo reported.
                let text = String::from_utf8_lossy(&o.stdout);
                let exe = text
                    .lines()
                    .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
                    .find_map(|v| {
                        let is_bin = v
                            .get("target")
                            .and_then(|t| t.get("name"))
                            .and_then(|n| n.as_str())
                            == Some(cb.bin.as_str());
                        if is_bin {
                            v.get("executable")
                                .and_then(|e| e.as_str())
                                .map(PathBuf::from)
                        } else {
                            None
                        }
                    });
                match exe.and_then(|e| e.parent().map(Path::to_path_buf)) {
                    Some(d) => {
                        if !dirs.contains(&d) {
                            dirs.push(d);
                        }
                    }
                    None => {
                        errors.insert(
                            p.name.clone(),
                            format!("cargo built {} but reported no executable", cb.bin),
                        );
                    }
                }
            }
            Ok(o) => {
                errors.insert(
                    p.name.clone(),
                    format!(
                        "cargo build -p {} --bin {} failed ({})",
                        cb.package, cb.bin, o.status
                    ),
                );
            }
            Err(e) => {
                errors.insert(p.name.clone(), format!("cannot run cargo: {e}"));
            }
        }
        built.insert(
            (cb.package.clone(), cb.bin.clone()),
            errors.get(&p.name).cloned(),
        );
    }
    (dirs, errors)
}

async fn run(mut cli: Cli) -> Result<u8> {
    let started = Instant::now();
    let cwd = std::env::current_dir().map_err(|e| HarnessError::io("current dir", e))?;
    if let Some(cfg) = crate::user_config::Config::find(cli.config.as_deref(), &cwd)? {
        apply_config(cfg, &mut cli);
    }
    // `builtin_data` keeps the scratch copy of the built-in data for the whole run.
    let (root, builtin_data) = resolve_root(&cli, &cwd)?;
    if builtin_data.is_some() && cli.snapshots.is_none() {
        cli.snapshots = Some(cwd.join(crate::user_config::DEFAULT_SNAPSHOTS));
    }
    let partition = cli.partition.as_deref().map(parse_partition).transpose()?;
    let mut extras = crate::outputs::Extras::new(
        &root,
        cli.report_html.as_deref(),
        cli.baseline.as_deref(),
        cli.write_baseline.as_deref(),
        cli.baseline_allow_fail_open,
    )?;
    if cli.jobs == 0 || cli.jobs > 64 {
        return Err(HarnessError::Usage("--jobs must be 1..=64".into()));
    }

    // Server suites.
    if let Some(addr) = &cli.server {
        check_server_addr(addr).await?;
    }
    if cli.server.is_some() || cli.socket.is_some() {
        let target = match (&cli.server, &cli.socket) {
            (Some(a), _) => crate::server::Target::Tcp(a.clone()),
            (None, Some(p)) => crate::server::Target::Unix(p.clone()),
            (None, None) => return Err(HarnessError::Usage("--server or --socket".into())),
        };
        let run = crate::server::ServerRun {
            protocol: cli.protocol.into(),
            target,
            filter: cli.filter.clone(),
            list: cli.list,
        };
        let rows = crate::server::run_target(&run, &root).await?;
        if rows.is_empty() {
            return Err(HarnessError::Usage(format!(
                "no case selected: no {} server case matches --filter {} / --skip {}",
                Protocol::from(cli.protocol),
                cli.filter.join(","),
                cli.skip.join(",")
            )));
        }
        return finish(&cli, rows, Vec::new(), started, &extras);
    }

    let mut profiles = select_profiles(&cli, &root)?;
    if builtin_data.is_some() {
        // No workspace to build in: a shipped profile's program must be installed
        // (`cargo install fave`) and is looked up on PATH like any other.
        for p in &mut profiles {
            if let Some(cb) = p.cargo_bin.take() {
                p.requires.push(cb.bin);
            }
        }
    }
    if profiles.is_empty() {
        return Err(HarnessError::Usage("no client profile selected".into()));
    }
    // Snapshots and report rows are keyed by profile name.
    if let Some((i, _)) = profiles
        .iter()
        .enumerate()
        .find(|(i, p)| profiles[..*i].iter().any(|q| q.name == p.name))
    {
        return Err(HarnessError::Usage(format!(
            "two selected profiles are named {:?}: give one a `name` key",
            profiles[i].name
        )));
    }
    let cases = case::load_dirs(
        &root.join("conformance").join("cases").join("client"),
        &cli.case_dirs,
    )?;
    let mut pairs: Vec<(ClientProfile, Case)> = Vec::new();
    for p in &profiles {
        for c in cases.iter().filter(|c| c.applies_to(p)) {
            if (cli.filter.is_empty() || cli.filter.iter().any(|f| c.matches(f)))
                && !cli.skip.iter().any(|f| c.matches(f))
            {
                pairs.push((p.clone(), c.clone()));
            }
        }
    }
    // The default run also runs the server suites, which `--filter` may select alone.
    let server_suites =
        cli.client_cmd.is_none() && cli.clients.is_empty() && cli.profile_files.is_empty();
    if pairs.is_empty() && (cli.list || !server_suites) {
        return Err(HarnessError::Usage(no_case_selected(&cli, &profiles)));
    }
    if let Some((k, n)) = partition {
        let selected = pairs.len();
        pairs = pairs
            .into_iter()
            .enumerate()
            .filter(|(i, _)| i % n == k - 1)
            .map(|(_, x)| x)
            .collect();
        if pairs.is_empty() && selected > 0 {
            return Err(HarnessError::Usage(format!(
                "no case selected: --partition {k}/{n} is empty ({selected} cases selected)"
            )));
        }
    }
    if cli.list {
        let mut out = std::io::stdout().lock();
        for (p, c) in &pairs {
            let line = writeln!(
                out,
                "{:<12} {:<40} {:<9} {}",
                p.name,
                c.id,
                c.expect.to_string(),
                c.rules.join(" ")
            );
            // A closed stdout (`--list | head`) ends the listing quietly.
            if line.is_err() {
                return Ok(0);
            }
        }
        let _ = out.flush();
        return Ok(0);
    }

    // Build only the programs of profiles that have a case to run.
    let used: Vec<ClientProfile> = profiles
        .iter()
        .filter(|p| cli.proptest.is_some() || pairs.iter().any(|(q, _)| q.name == p.name))
        .cloned()
        .collect();
    let (extra_path, build_errors) = build_programs(&used);
    let scratch = tempfile::Builder::new()
        .prefix("avc-conformance-")
        .tempdir()
        .map_err(|e| HarnessError::io("scratch dir", e))?;
    // --keep: every case's directory is inside the run's, which must outlive the run too
    let (scratch_path, _scratch_guard) = if cli.keep {
        (scratch.keep(), None)
    } else {
        (scratch.path().to_path_buf(), Some(scratch))
    };
    let ctx = Arc::new(RunContext {
        root: root.clone(),
        extra_path,
        programs: programs(&cli, &profiles)?,
        scratch: scratch_path,
        keep: cli.keep,
    });

    if let Some(n) = cli.proptest {
        let rows = crate::props::run(&profiles, &ctx, n, cli.seed, &build_errors).await?;
        return finish(&cli, rows, Vec::new(), started, &extras);
    }

    let mut notes = Vec::new();
    // A checkout records case durations (in its target directory) to order the next run.
    let mut durations = crate::schedule::Durations::load(
        builtin_data
            .is_none()
            .then(|| crate::schedule::Durations::default_path(&root)),
    );
    // Each transcript is compared with its snapshot as soon as its case ends.
    let after: Option<AfterCase> = (!cli.no_snapshots).then(|| {
        let opts =
            crate::review::Options::new(&root, cli.snapshots.as_deref(), cli.update_snapshots);
        let profiles = profiles.clone();
        Arc::new(move |r: &mut CaseResult| crate::review::check_one(r, &profiles, &opts))
            as AfterCase
    });
    // Server suites against the embedded fakes, when built in, beside the client cases.
    let (client_run, server_rows) = tokio::join!(
        run_scheduled(
            pairs,
            ctx.clone(),
            cli.jobs,
            &build_errors,
            &durations,
            after
        ),
        async {
            match server_suites {
                true => crate::server::run_embedded(&root, &cli.filter).await,
                false => Ok(Vec::new()),
            }
        }
    );
    let (results, noted) = client_run;
    durations.save(&results);
    notes.extend(crate::review::summarize(&noted));
    let mut rows: Vec<Row> = results.iter().map(row_of).collect();
    rows.extend(server_rows?);
    if rows.is_empty() {
        return Err(HarnessError::Usage(no_case_selected(&cli, &profiles)));
    }
    extras.details.add_results(&results, &cases);
    finish(&cli, rows, notes, started, &extras)
}

/// Fills in from the config file what the command line did not give (the command line
/// wins; `--profile`, `--client` or `--client-cmd` replace the file's `profiles`).
fn apply_config(cfg: crate::user_config::Config, cli: &mut Cli) {
    let names_client = !cli.clients.is_empty()
        || cli.client_cmd.is_some()
        || !cli.profile_files.is_empty()
        || cli.server.is_some()
        || cli.socket.is_some();
    if !names_client {
        cli.profile_files = cfg.profiles;
    }
    if cli.case_dirs.is_empty() {
        cli.case_dirs = cfg.cases;
    }
    if cli.filter.is_empty() {
        cli.filter = cfg.filter;
    }
    if cli.skip.is_empty() {
        cli.skip = cfg.skip;
    }
    cli.snapshots = cli.snapshots.take().or(cfg.snapshots);
    cli.report_junit = cli.report_junit.take().or(cfg.report_junit);
    cli.report_md = cli.report_md.take().or(cfg.report_md);
    cli.report_json = cli.report_json.take().or(cfg.report_json);
}

/// Reports the run that began at `started` (terminal, report files, extras); its exit code.
fn finish(
    cli: &Cli,
    rows: Vec<Row>,
    notes: Vec<String>,
    started: Instant,
    extras: &crate::outputs::Extras,
) -> Result<u8> {
    let report = Report {
        rows,
        seconds: started.elapsed().as_secs_f64(),
        notes,
    };
    let _ = write!(std::io::stderr(), "{}", report.terminal());
    report.write_files(
        cli.report_md.as_deref(),
        cli.report_json.as_deref(),
        cli.report_junit.as_deref(),
    )?;
    extras.finish(&report, cli.require_available)
}

/// Why no case was selected, in one line (issue 14 item 2: a typo in `--filter` must not
/// give a green run).
fn no_case_selected(cli: &Cli, profiles: &[ClientProfile]) -> String {
    let names = profiles
        .iter()
        .map(|p| format!("{} ({})", p.name, p.protocol))
        .collect::<Vec<_>>()
        .join(", ");
    if !cli.filter.is_empty() {
        format!(
            "no case selected: --filter {} matches no case id, rule ID or tag for {names}{} (see --list)",
            cli.filter.join(","),
            if cli.skip.is_empty() { String::new() } else { format!(" after --skip {}", cli.skip.join(",")) }
        )
    } else if !cli.skip.is_empty() {
        format!(
            "no case selected: --skip {} leaves out every case for {names}",
            cli.skip.join(",")
        )
    } else {
        format!("no case selected: no client case has the protocol of {names}")
    }
}

/// Runs (profile, case) pairs, printing progress; results in input order. Scheduled by
/// [`crate::schedule`] from what the cases' faults make them wait (no recorded durations).
pub async fn run_pairs(
    pairs: Vec<(ClientProfile, Case)>,
    ctx: Arc<RunContext>,
    jobs: usize,
    build_errors: &BTreeMap<String, String>,
) -> Vec<CaseResult> {
    let durations = crate::schedule::Durations::default();
    run_scheduled(pairs, ctx, jobs, build_errors, &durations, None)
        .await
        .0
}

/// A step run on each result as soon as its case has finished (off the runtime's threads):
/// the snapshot comparison, so that it overlaps the cases still waiting.
pub type AfterCase =
    Arc<dyn Fn(&mut CaseResult) -> Option<crate::review::Noted> + Send + Sync + 'static>;

/// Runs (profile, case) pairs longest first: `jobs` at a time, and the cases that mostly
/// wait beside them in a lane of their own ([`crate::schedule`]); prints progress; results
/// in input order, with what `after` noted for each (in input order too).
pub async fn run_scheduled(
    pairs: Vec<(ClientProfile, Case)>,
    ctx: Arc<RunContext>,
    jobs: usize,
    build_errors: &BTreeMap<String, String>,
    durations: &crate::schedule::Durations,
    after: Option<AfterCase>,
) -> (Vec<CaseResult>, Vec<crate::review::Noted>) {
    use crate::schedule::{Lane, MAX_WAITING};
    let total = pairs.len();
    let order = crate::schedule::plan(&pairs, durations);
    let mut pairs: Vec<Option<(ClientProfile, Case)>> = pairs.into_iter().map(Some).collect();
    let mut avail: BTreeMap<String, Option<String>> = BTreeMap::new();
    type Done = (usize, CaseResult, Option<crate::review::Noted>);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Done>();
    // One dispatcher per lane starts its cases in order as permits free up.
    let mut lanes: BTreeMap<bool, Vec<(usize, ClientProfile, Case)>> = BTreeMap::new();
    for (i, lane) in order {
        let Some((p, c)) = pairs[i].take() else {
            continue;
        };
        let why = avail
            .entry(p.name.clone())
            .or_insert_with(|| runner::availability(&p, &ctx))
            .clone();
        if let Some(why) = why {
            let _ = tx.send((i, CaseResult::not_available(&c, &p, &why), None));
        } else if let Some(e) = build_errors.get(&p.name) {
            let err = HarnessError::Client(e.clone());
            let _ = tx.send((i, CaseResult::harness_error(&c, &p, &err), None));
        } else {
            lanes
                .entry(lane == Lane::Waiting)
                .or_default()
                .push((i, p, c));
        }
    }
    for (waiting, list) in lanes {
        let sem = Arc::new(tokio::sync::Semaphore::new(if waiting {
            MAX_WAITING
        } else {
            jobs
        }));
        let (tx, ctx, after) = (tx.clone(), ctx.clone(), after.clone());
        tokio::spawn(async move {
            for (i, p, c) in list {
                let Ok(permit) = sem.clone().acquire_owned().await else {
                    return;
                };
                let (tx, ctx, after) = (tx.clone(), ctx.clone(), after.clone());
                tokio::spawn(async move {
                    let mut r = runner::run_case(&c, &p, &ctx).await;
                    let mut noted = None;
                    if let Some(f) = after {
                        let checked = tokio::task::spawn_blocking(move || {
                            let n = f(&mut r);
                            (r, n)
                        })
                        .await;
                        let Ok((checked, n)) = checked else { return };
                        (r, noted) = (checked, n);
                    }
                    drop(permit);
                    let _ = tx.send((i, r, noted));
                });
            }
        });
    }
    drop(tx);
    let mut out: Vec<Option<CaseResult>> = (0..total).map(|_| None).collect();
    let mut notes: Vec<Option<crate::review::Noted>> = (0..total).map(|_| None).collect();
    let mut done = 0;
    while let Some((i, r, noted)) = rx.recv().await {
        done += 1;
        if r.status != Status::NotAvailable {
            say(&format!(
                "[{done:>3}/{total}] {:<13} {:<10} {:<36} {:.2}s",
                r.status.label(),
                r.client,
                r.case_id,
                r.seconds
            ));
        }
        out[i] = Some(r);
        notes[i] = noted;
    }
    (
        out.into_iter().flatten().collect(),
        notes.into_iter().flatten().collect(),
    )
}

/// A row's one-line detail. A failing row names its reason (the first failure's rule and
/// what happened); a hung client reads `hung` in every report (issue 14 item 5).
fn row_detail(r: &CaseResult) -> String {
    let timed_out = r.run.as_ref().is_some_and(|x| x.timed_out);
    let got = match r.got {
        Some(v) => v.to_string(),
        None if timed_out => "hung".into(),
        None => "unclassified".into(),
    };
    match r.status {
        Status::NotAvailable | Status::HarnessError => r.note.clone().unwrap_or_default(),
        Status::NotApplicable => format!(
            "not applicable: {} (the client reported {got}) ({}; {})",
            r.not_applicable
                .as_deref()
                .unwrap_or("the case's expectation does not hold for the path the client took"),
            r.input,
            r.daemon
        ),
        Status::Pass => format!(
            "expect {}, got {got} ({}; {})",
            r.expected, r.input, r.daemon
        ),
        Status::Fail | Status::FailOpen => {
            let reason = match r.failures.first() {
                Some(f) => format!(": {} {}: {}", f.rule, f.kind, f.happened),
                None => String::new(),
            };
            let more = match r.failures.len() {
                0 | 1 => String::new(),
                n => format!(" (+{} more)", n - 1),
            };
            format!(
                "expect {}, got {got}{reason}{more} ({}; {})",
                r.expected, r.input, r.daemon
            )
        }
    }
}

/// A report row for a client case.
pub fn row_of(r: &CaseResult) -> Row {
    let detail = row_detail(r);
    let mut transcript = String::new();
    if !r.failures.is_empty() {
        transcript = r.transcript_log.clone();
        if let Some(run) = &r.run {
            transcript = format!("{}\n{transcript}", run.header());
        }
    }
    Row {
        status: r.status,
        detail,
        failures: r.failures.clone(),
        warnings: r
            .warnings
            .iter()
            .map(|w| format!("{}: {}", w.rule, w.message))
            .collect(),
        note: r.note.clone(),
        seconds: r.seconds,
        transcript,
        ..Row::new(
            format!("client:{}", r.client),
            r.case_id.clone(),
            r.rules.clone(),
            r.title.clone(),
        )
    }
}
