//! Running one client case end to end: fixture, daemon, recording proxy, client, checks,
//! judgement.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::case::Case;
use crate::checks::{self, Finding, Level};
use crate::client_run::{self, ClientRun};
use crate::daemon;
use crate::error::{HarnessError, Result};
use crate::judge::{judge, Evidence, Failure, Status};
use crate::profile::{ClientProfile, Protocol, Transport, Verdict};
use crate::proxy::{Listen, Proxy, ProxyOptions};
use crate::template::{self, Vars};
use crate::transcript::Transcript;

/// How long the proxy holds an SVSP daemon's first bytes (READY), so that a client that
/// talks before the greeting (SVSP-CLIENT-1) is seen doing so whatever the scheduling.
pub const SVSP_GREETING_HOLD: Duration = Duration::from_millis(100);

/// How long the proxy waits, once the client has exited, for the daemon's side of its
/// connections to close. Connections end well before it (the run does not wait on it), so
/// it only has to outlast a daemon starved of CPU among many cases; a shorter one turned
/// `server side: closed` into `open` under load.
pub const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// What every case run shares.
#[derive(Debug, Clone)]
pub struct RunContext {
    /// Repository root (has `conformance/`).
    pub root: PathBuf,
    /// Directories put in front of PATH for clients (the built reference client).
    pub extra_path: Vec<PathBuf>,
    /// Paths for profiles with `program_from` (variable name -> program path).
    pub programs: BTreeMap<String, PathBuf>,
    /// Scratch root (one subdirectory per case run).
    pub scratch: PathBuf,
    /// Keep each case's scratch directory (for debugging).
    pub keep: bool,
}

impl RunContext {
    pub fn test_clients(&self) -> PathBuf {
        self.root.join("conformance").join("test-clients")
    }
}

/// Full result of one (client, case) pair.
#[derive(Debug, Clone, Serialize)]
pub struct CaseResult {
    pub case_id: String,
    pub client: String,
    pub protocol: Protocol,
    pub rules: Vec<String>,
    pub title: String,
    pub input: String,
    pub daemon: String,
    pub expected: Verdict,
    pub got: Option<Verdict>,
    pub status: Status,
    /// Why the case did not apply to this run (`judge::Judgement::not_applicable`), when the
    /// verdict was set aside: said by every report's NOT-APPLICABLE line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_applicable: Option<String>,
    pub failures: Vec<Failure>,
    pub warnings: Vec<Finding>,
    pub note: Option<String>,
    pub run: Option<ClientRun>,
    /// Timestamped byte log, shortened (for failure reports).
    pub transcript_log: String,
    #[serde(skip)]
    pub transcript: Transcript,
    #[serde(skip)]
    pub redactions: crate::snapshot::Redactions,
    pub seconds: f64,
}

impl CaseResult {
    fn skeleton(case: &Case, profile: &ClientProfile) -> Self {
        CaseResult {
            case_id: case.id.clone(),
            client: profile.name.clone(),
            protocol: case.protocol,
            rules: case.rules.clone(),
            title: case.title.clone(),
            input: case.input.label(),
            daemon: String::new(),
            expected: case.expect,
            got: None,
            status: Status::Pass,
            not_applicable: None,
            failures: Vec::new(),
            warnings: Vec::new(),
            note: None,
            run: None,
            transcript_log: String::new(),
            transcript: Transcript::default(),
            redactions: Default::default(),
            seconds: 0.0,
        }
    }

    pub fn not_available(case: &Case, profile: &ClientProfile, why: &str) -> Self {
        let mut r = Self::skeleton(case, profile);
        r.status = Status::NotAvailable;
        r.note = Some(why.to_string());
        r
    }

    pub fn harness_error(case: &Case, profile: &ClientProfile, err: &HarnessError) -> Self {
        let mut r = Self::skeleton(case, profile);
        r.status = Status::HarnessError;
        r.note = Some(err.to_string());
        r
    }
}

/// Why a profile cannot run here, if it cannot.
pub fn availability(profile: &ClientProfile, ctx: &RunContext) -> Option<String> {
    if let Some(var) = &profile.program_from {
        match ctx.programs.get(var) {
            None => return Some(format!("not available: give the program path with --program {var}=PATH or the environment variable {var}")),
            Some(p) if !p.exists() => return Some(format!("not available: {} does not exist", p.display())),
            Some(_) => {}
        }
    }
    for prog in &profile.requires {
        if find_program(prog, &ctx.extra_path).is_none() {
            // a path (often `{profile_dir}/...`: the client's own build) names itself
            return Some(if prog.contains('/') {
                format!("not available: required path {prog} does not exist (`requires` of the profile)")
            } else {
                format!("not available: program `{prog}` not found on PATH")
            });
        }
    }
    if let Some(Err(why)) = interpreter(&profile.requires_python, "python3", "requires_python", ctx)
    {
        return Some(why);
    }
    for module in &profile.requires_python {
        if !succeeds(
            std::process::Command::new("python3").args(["-c", &format!("import {module}")]),
        ) {
            return Some(format!(
                "not available: python module `{module}` is not installed (pip install {module})"
            ));
        }
    }
    node_packages_missing(profile, ctx).or_else(|| perl_modules_missing(profile, ctx))
}

/// Why `requires_perl` is not met, if it is not: each module must load with
/// `perl -M<module> -e 1` (names were checked at load, so nothing else runs).
fn perl_modules_missing(profile: &ClientProfile, ctx: &RunContext) -> Option<String> {
    let perl = match interpreter(&profile.requires_perl, "perl", "requires_perl", ctx)? {
        Ok(p) => p,
        Err(why) => return Some(why),
    };
    profile.requires_perl.iter().find_map(|module| {
        let loads = succeeds(std::process::Command::new(&perl).args([
            format!("-M{module}").as_str(),
            "-e",
            "1",
        ]));
        (!loads).then(|| {
            format!(
                "not available: perl module `{module}` is not installed (Debian: apt-get install \
                 -y {}; else cpanm {module})",
                debian_perl_package(module)
            )
        })
    })
}

/// Debian's package name for a Perl module: `ClamAV::Client` is `libclamav-client-perl`.
fn debian_perl_package(module: &str) -> String {
    format!("lib{}-perl", module.to_lowercase().replace("::", "-"))
}

/// The interpreter that a `requires_*` key (`key`) with these `items` needs: `None` when the
/// key lists nothing, else the program or why the client is not available.
fn interpreter(
    items: &[String],
    program: &str,
    key: &str,
    ctx: &RunContext,
) -> Option<Result<PathBuf, String>> {
    if items.is_empty() {
        return None;
    }
    Some(find_program(program, &ctx.extra_path).ok_or_else(|| {
        format!("not available: program `{program}` (needed by {key}) not found on PATH")
    }))
}

/// Whether a check command runs and exits 0 (its output is not wanted).
fn succeeds(cmd: &mut std::process::Command) -> bool {
    cmd.stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Succeeds when `require.resolve(process.argv[1])` finds the package; a package that
/// exports no `require` entry (ESM only) is installed all the same.
const NODE_RESOLVE: &str = "try { require.resolve(process.argv[1]) } \
     catch (e) { process.exit(e.code === 'ERR_PACKAGE_PATH_NOT_EXPORTED' ? 0 : 1) }";

/// Why `requires_node` is not met, if it is not: each package is resolved as `require`
/// does from the profile's directory, so a `node_modules` there or in any parent (where
/// `npm install` put it for a script beside the profile) counts, and so does `NODE_PATH`.
fn node_packages_missing(profile: &ClientProfile, ctx: &RunContext) -> Option<String> {
    let node = match interpreter(&profile.requires_node, "node", "requires_node", ctx)? {
        Ok(p) => p,
        Err(why) => return Some(why),
    };
    let dir = profile
        .source
        .as_deref()
        .and_then(Path::parent)
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    for package in &profile.requires_node {
        let mut resolve = std::process::Command::new(&node);
        resolve.args(["-e", NODE_RESOLVE, package]).current_dir(dir);
        if !succeeds(&mut resolve) {
            return Some(format!(
                "not available: node package `{package}` is not installed where {} can \
                 require it (npm install {package} there or in a parent directory)",
                std::path::absolute(dir)
                    .unwrap_or_else(|_| dir.to_path_buf())
                    .display()
            ));
        }
    }
    None
}

/// Looks a program up in `extra` then PATH (names with a `/` are taken as paths).
pub fn find_program(name: &str, extra: &[PathBuf]) -> Option<PathBuf> {
    if name.contains('/') {
        let p = PathBuf::from(name);
        return p.exists().then_some(p);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    extra
        .iter()
        .cloned()
        .chain(std::env::split_paths(&path))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// Runs CPU-heavy work (a 32 MiB input written, 16 MiB of transcript parsed) without
/// holding one of the runtime's workers: the fakes and proxies of the cases running beside
/// this one share them, and a worker busy for a second delays their replies past a
/// client's timeout (`clamd.fault-delay-reply` failed that way under load).
fn off_runtime<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(f),
        _ => f(),
    }
}

/// Runs one case with one client.
pub async fn run_case(case: &Case, profile: &ClientProfile, ctx: &RunContext) -> CaseResult {
    let start = Instant::now();
    let mut r = CaseResult::skeleton(case, profile);
    match run_inner(case, profile, ctx, &mut r).await {
        Ok(()) => {}
        Err(e) => {
            r.status = Status::HarnessError;
            r.note = Some(e.to_string());
        }
    }
    r.seconds = start.elapsed().as_secs_f64();
    r
}

async fn run_inner(
    case: &Case,
    profile: &ClientProfile,
    ctx: &RunContext,
    r: &mut CaseResult,
) -> Result<()> {
    let dir = tempfile::Builder::new()
        .prefix(&format!("{}-{}-", profile.name, case.id))
        .tempdir_in(&ctx.scratch)
        .map_err(|e| HarnessError::io("creating case directory", e))?;
    let dir_path = dir.path().to_path_buf();
    let file = off_runtime(|| case.input.write_to(&dir_path))?;

    // A plan that refuses the first connection gets no daemon: the client sees the refusal
    // directly (through the proxy, whether its first bytes beat an RST would depend on
    // timing).
    let plan = case.fault_plan();
    let daemon = daemon::start_on(&case.daemon, case.protocol, profile.transport, plan).await?;
    let daemon_addr = daemon.addr()?;
    let refuse = matches!(daemon, daemon::RunningDaemon::Refused(_));
    r.daemon = daemon.implementation().to_string();
    let proxy = if refuse {
        None
    } else {
        let listen = match profile.transport {
            Transport::Tcp => Listen::Tcp(
                "127.0.0.1:0"
                    .parse()
                    .map_err(|_| HarnessError::Daemon("addr".into()))?,
            ),
            Transport::Unix => Listen::Unix(dir_path.join("daemon.sock")),
        };
        let hold = match case.protocol {
            Protocol::Svsp => SVSP_GREETING_HOLD,
            Protocol::Clamd => Duration::ZERO,
        };
        let opts = ProxyOptions {
            hold_greeting: hold,
            // SVSP data channels bypass the control connection (SVSP-SCAN-REQUEST-1,
            // SVSP-SCAN-PORT-1): the proxy relays and records them too.
            svsp_data_channels: case.protocol == Protocol::Svsp,
        };
        // a unix client reaches a unix socket of the daemon (FILDES passes descriptors)
        Some(Proxy::start_with(listen, daemon.upstream()?, opts).await?)
    };
    let client_addr = proxy
        .as_ref()
        .and_then(|p| p.tcp_addr)
        .unwrap_or(daemon_addr);

    let mut vars = Vars::default();
    vars.set("host", client_addr.ip().to_string())
        .set("port", client_addr.port().to_string())
        .set("addr", client_addr.to_string())
        .set("file", file.to_string_lossy())
        .set("dir", dir_path.to_string_lossy())
        .set("test_clients", ctx.test_clients().to_string_lossy());
    match proxy.as_ref().and_then(|p| p.unix_display()) {
        Some(sock) => {
            vars.set("socket", sock);
        }
        None if profile.transport == Transport::Unix => {
            // refused: a socket path nobody listens on
            vars.set("socket", dir_path.join("refused.sock").to_string_lossy());
        }
        None => {}
    }
    if let Some(var) = &profile.program_from {
        if let Some(p) = ctx.programs.get(var) {
            vars.set("program", p.to_string_lossy());
        }
    }
    for (path, content) in &profile.files {
        let rel = template::expand(path, &vars)?;
        // The profile was checked at load time; the real expansion is checked again so
        // that no value can lead the write out of the case directory.
        if !crate::profile::is_contained_relative(&rel) {
            return Err(HarnessError::config(
                profile
                    .source
                    .clone()
                    .unwrap_or_else(|| PathBuf::from(&profile.name)),
                format!("files: path {path:?} expands to {rel:?}, outside the case directory"),
            ));
        }
        let p = dir_path.join(rel);
        std::fs::write(&p, template::expand(content, &vars)?)
            .map_err(|e| HarnessError::io(format!("writing {}", p.display()), e))?;
    }
    let argv: Vec<String> = profile
        .argv
        .iter()
        .map(|a| template::expand(a, &vars))
        .collect::<Result<_>>()?;
    let env: BTreeMap<String, String> = profile
        .env
        .iter()
        .map(|(k, v)| Ok((k.clone(), template::expand(v, &vars)?)))
        .collect::<Result<_>>()?;

    let run = client_run::run(&argv, &env, &ctx.extra_path, &dir_path, profile.timeout).await?;
    let mut transcript = match proxy {
        Some(p) => p.finish(CLOSE_GRACE).await,
        None => Transcript::default(),
    };
    // which uploads the daemon read whole: snapshots render them in full (snapshot.rs)
    transcript.daemon_streams = daemon.streams_read_whole();
    transcript.daemon_refused = daemon.refused_peers();
    // A case with fault rules whose fault never fired is not applicable (issue 14 item 4),
    // as is one whose `applies_if_sent` command the client never sent (judge::Evidence).
    let fault_fired = match (daemon.fault_stats(), case.faults.is_empty()) {
        (Some(stats), false) => Some(stats.rules.iter().any(|r| r.fired > 0)),
        _ => None,
    };
    drop(daemon);

    let (findings, j, log) = off_runtime(|| {
        let findings = match case.protocol {
            Protocol::Clamd => checks::clamd::check(&transcript),
            Protocol::Svsp => checks::svsp::check(&transcript),
        };
        let evidence = Evidence::of(case.protocol, &transcript, fault_fired);
        let j = judge(case, profile, &run, &findings, &evidence);
        (findings, j, crate::log_view::report_log(&transcript))
    });
    r.status = j.status;
    r.not_applicable = j.not_applicable;
    r.got = j.got;
    r.failures = j.failures;
    r.warnings = findings
        .into_iter()
        .filter(|f| f.level == Level::Should)
        .collect();
    // Not a protocol rule, but a client that leaves processes behind leaks them in use.
    if let Some(left) = run.left_running_text() {
        r.warnings.push(Finding {
            rule: "processes".into(),
            level: Level::Should,
            conn: 0,
            message: format!("left running after the client ended: {left}"),
            excerpt: String::new(),
        });
    }
    r.transcript_log = log;
    r.transcript = transcript;
    let mut red = crate::snapshot::Redactions::default();
    red.literals
        .push((dir_path.to_string_lossy().into_owned(), "[DIR]".into()));
    red.literals
        .push((ctx.root.to_string_lossy().into_owned(), "[REPO]".into()));
    r.redactions = red;
    r.run = Some(run);
    if ctx.keep {
        let kept = dir.keep();
        r.note = Some(format!("scratch kept at {}", kept.display()));
    }
    Ok(())
}

/// Directory of the repo given a path inside it (looks for `conformance/`).
pub fn find_root(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .find(|p| p.join("conformance").is_dir() && p.join("Cargo.toml").is_file())
        .map(Path::to_path_buf)
}
