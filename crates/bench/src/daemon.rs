//! Starting the daemons under test: the fakes as release binaries (the figures users see) or
//! in-process (the smoke test), and the real clamd through `clamd-oracle`.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

/// A running daemon; stopped (by its own pid, or in-process) on drop.
pub struct Running {
    pub addr: SocketAddr,
    /// The process to measure RSS of (`None` when in-process and meaningless).
    pub pid: Option<u32>,
    /// Spawn to the `LISTENING` line (fakes started as processes).
    pub to_listening: Option<Duration>,
    /// Spawn to the first `PONG` (clamd) or `READY` (vfindd).
    pub to_first_reply: Duration,
    /// What each start-up step took, in ms, in order (the fake-clamd binary only; empty
    /// otherwise): see [`startup_steps`].
    pub startup_steps: Vec<(String, f64)>,
    _guard: Guard,
}

enum Guard {
    Child(Child),
    FakeClamd(
        #[allow(dead_code)] fake_clamd::FakeClamd,
        #[allow(dead_code)] Arc<tokio::runtime::Runtime>,
    ),
    FakeVfindd(
        #[allow(dead_code)] fake_vfindd::FakeVfindd,
        #[allow(dead_code)] Arc<tokio::runtime::Runtime>,
    ),
    Real(#[allow(dead_code)] Box<clamd_oracle::real::RealClamd>),
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Guard::Child(child) = self {
            // Only the process we started, by its pid.
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// clamd.conf for the fake and the real clamd: same DB, limits raised for the benchmarks.
pub fn clamd_conf_lines(db_dir: &Path) -> Vec<String> {
    vec![
        format!("DatabaseDirectory {}", db_dir.display()),
        "StreamMaxLength 1100M".into(),
        "MaxQueue 20000".into(),
        "CommandReadTimeout 60".into(),
        "ReadTimeout 60".into(),
    ]
}

fn wait_for_pong(addr: SocketAddr, limit: Duration) -> anyhow::Result<()> {
    use std::io::{Read, Write};
    let t0 = Instant::now();
    loop {
        if let Ok(mut s) = std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
            let mut reply = Vec::new();
            if s.write_all(b"zPING\0").is_ok()
                && s.read_to_end(&mut reply).is_ok()
                && reply == b"PONG\0"
            {
                return Ok(());
            }
        }
        if t0.elapsed() > limit {
            bail!("no PONG from {addr} within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Spawn `bin args...`, wait for the stdout line starting with `prefix`, return it and the
/// time from spawn to that line.
pub fn spawn_until_line(
    bin: &Path,
    args: &[String],
    prefix: &str,
) -> anyhow::Result<(Child, String, Duration)> {
    let s = spawn_until(Command::new(bin).args(args), prefix)?;
    Ok((s.child, s.line, s.elapsed))
}

/// A spawned program that printed the line looked for.
pub struct Spawned {
    pub child: Child,
    /// The line starting with the prefix.
    pub line: String,
    /// Spawn to reading that line.
    pub elapsed: Duration,
    /// `CLOCK_MONOTONIC` just before the spawn and when the line was read.
    pub spawned_ns: u64,
    pub line_ns: u64,
    /// The stdout lines before it.
    pub earlier: Vec<String>,
}

/// Spawn `cmd`, wait for the stdout line starting with `prefix`.
pub fn spawn_until(cmd: &mut Command, prefix: &str) -> anyhow::Result<Spawned> {
    let bin = PathBuf::from(cmd.get_program());
    let spawned_ns = fake_clamd::startup_trace::monotonic_ns();
    let t0 = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("cannot start {}", bin.display()))?;
    let stdout = child.stdout.take().context("no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let mut earlier = Vec::new();
    loop {
        match lines.next() {
            Some(Ok(line)) if line.starts_with(prefix) => {
                let elapsed = t0.elapsed();
                let line_ns = fake_clamd::startup_trace::monotonic_ns();
                // Keep draining stdout so the daemon never blocks on a full pipe.
                std::thread::spawn(move || for _ in lines.by_ref() {});
                return Ok(Spawned {
                    child,
                    line,
                    elapsed,
                    spawned_ns,
                    line_ns,
                    earlier,
                });
            }
            Some(Ok(line)) => earlier.push(line),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                bail!("{} exited before printing `{prefix}`", bin.display());
            }
        }
    }
}

/// The `fake-clamd` binary with a generated clamd.conf on an ephemeral port.
pub fn fake_clamd_process(bin: &Path, work: &Path, db_dir: &Path) -> anyhow::Result<Running> {
    fake_clamd_process_with(bin, work, db_dir, &[])
}

/// [`fake_clamd_process`] with `extra` clamd.conf lines (after the shared ones).
pub fn fake_clamd_process_with(
    bin: &Path,
    work: &Path,
    db_dir: &Path,
    extra: &[String],
) -> anyhow::Result<Running> {
    let conf = work.join("fake-clamd.conf");
    let mut lines = vec!["TCPSocket 0".to_string(), "TCPAddr 127.0.0.1".to_string()];
    lines.extend(clamd_conf_lines(db_dir));
    lines.extend(extra.iter().cloned());
    std::fs::write(&conf, lines.join("\n") + "\n")?;
    let t0 = Instant::now();
    let spawned = spawn_until(
        Command::new(bin)
            .arg(format!("--config-file={}", conf.display()))
            .env(fake_clamd::startup_trace::ENV, "1"),
        "LISTENING tcp ",
    )?;
    let line = &spawned.line;
    let addr: SocketAddr = line["LISTENING tcp ".len()..]
        .trim()
        .parse()
        .with_context(|| format!("bad LISTENING line {line:?}"))?;
    wait_for_pong(addr, Duration::from_secs(10))?;
    let pong_ns = fake_clamd::startup_trace::monotonic_ns();
    Ok(Running {
        addr,
        pid: Some(spawned.child.id()),
        to_listening: Some(spawned.elapsed),
        to_first_reply: t0.elapsed(),
        startup_steps: startup_steps(&spawned, pong_ns),
        _guard: Guard::Child(spawned.child),
    })
}

/// The start-up steps of a traced fake-clamd (its `STARTUP-TRACE` line, see
/// `fake_clamd::startup_trace`), as (step, ms): spawn to `main` (exec, the loader, Rust's
/// runtime set-up), each stamped step of `main`, the `LISTENING` line reaching the bench, and
/// the first PING answered. Empty when the binary printed no trace.
pub fn startup_steps(spawned: &Spawned, pong_ns: u64) -> Vec<(String, f64)> {
    let Some(stamps) = spawned
        .earlier
        .iter()
        .find_map(|l| fake_clamd::startup_trace::parse_line(l))
    else {
        return Vec::new();
    };
    let ms = |from: u64, to: u64| to.saturating_sub(from) as f64 / 1e6;
    let mut steps = Vec::new();
    let mut prev = spawned.spawned_ns;
    for (i, (step, ns)) in stamps.iter().enumerate() {
        let name = if i == 0 {
            "spawn to main"
        } else {
            step.as_str()
        };
        steps.push((name.to_string(), ms(prev, *ns)));
        prev = *ns;
    }
    steps.push(("LISTENING read".into(), ms(prev, spawned.line_ns)));
    steps.push(("first PING answered".into(), ms(spawned.line_ns, pong_ns)));
    steps
}

/// The fake clamd inside this process (smoke test).
pub fn fake_clamd_in_process(
    rt: &Arc<tokio::runtime::Runtime>,
    db_dir: &Path,
) -> anyhow::Result<Running> {
    let t0 = Instant::now();
    let dir = db_dir.to_path_buf();
    let fake = rt.block_on(async move {
        fake_clamd::FakeClamd::builder()
            .database_directory(dir)
            .stream_max_length(1100 << 20)
            .start()
            .await
    })?;
    let addr = fake.addr().context("fake clamd has no TCP listener")?;
    wait_for_pong(addr, Duration::from_secs(10))?;
    Ok(Running {
        addr,
        pid: None,
        to_listening: None,
        to_first_reply: t0.elapsed(),
        startup_steps: Vec::new(),
        _guard: Guard::FakeClamd(fake, Arc::clone(rt)),
    })
}

/// The real clamd with the same DB and limits.
pub fn real_clamd(env: &clamd_oracle::env::OracleEnv) -> anyhow::Result<Running> {
    real_clamd_with(env, &[])
}

/// [`real_clamd`] with `extra` clamd.conf lines.
pub fn real_clamd_with(
    env: &clamd_oracle::env::OracleEnv,
    extra: &[String],
) -> anyhow::Result<Running> {
    let mut conf: Vec<String> = vec![
        "StreamMaxLength 1100M".into(),
        "CommandReadTimeout 60".into(),
        "ReadTimeout 60".into(),
    ];
    conf.extend(extra.iter().cloned());
    let profile = clamd_oracle::case::Profile {
        conf,
        fresh_per_case: false,
    };
    let real = clamd_oracle::real::RealClamd::start(env, "bench", &profile)?;
    Ok(Running {
        addr: real.target().tcp,
        pid: Some(real.pid()),
        to_listening: None,
        to_first_reply: real.startup,
        startup_steps: Vec::new(),
        _guard: Guard::Real(Box::new(real)),
    })
}

/// The `fake-vfindd` binary on an ephemeral port.
pub fn fake_vfindd_process(bin: &Path, stream_max: u64) -> anyhow::Result<Running> {
    let t0 = Instant::now();
    let (child, line, to_listening) = spawn_until_line(
        bin,
        &[
            "--svsp-port=0".into(),
            format!("--stream-max-length={stream_max}"),
            // SCAN/FILE reads files as large as the streams (the default is 64 MiB)
            format!("--max-file-size={stream_max}"),
            "--threads=2".into(),
        ],
        "LISTENING ",
    )?;
    let port: u16 = line["LISTENING ".len()..]
        .trim()
        .parse()
        .with_context(|| format!("bad LISTENING line {line:?}"))?;
    Ok(Running {
        addr: ([127, 0, 0, 1], port).into(),
        pid: Some(child.id()),
        to_listening: Some(to_listening),
        to_first_reply: t0.elapsed(),
        startup_steps: Vec::new(),
        _guard: Guard::Child(child),
    })
}

/// The fake vfindd inside this process (smoke test).
pub fn fake_vfindd_in_process(
    rt: &Arc<tokio::runtime::Runtime>,
    stream_max: u64,
) -> anyhow::Result<Running> {
    let t0 = Instant::now();
    let server = rt.block_on(async move {
        fake_vfindd::FakeVfindd::builder()
            .with_config(|c| {
                c.stream_max_length = stream_max;
                c.max_file_bytes = stream_max;
            })
            .start()
            .await
    })?;
    Ok(Running {
        addr: server.addr(),
        pid: None,
        to_listening: None,
        to_first_reply: t0.elapsed(),
        startup_steps: Vec::new(),
        _guard: Guard::FakeVfindd(server, Arc::clone(rt)),
    })
}

/// Where the release binaries are, next to the running bench binary.
pub fn sibling_binary(name: &str) -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let p = exe.parent()?.join(name);
    p.is_file().then_some(p)
}
