//! The real clamd as a child process (foreground, generated clamd.conf, tiny DB).

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::case::Profile;
use crate::env::OracleEnv;
use crate::runner::{ping_tcp, Target};
use crate::Error;

/// Default location of the Debian clamav-daemon binary; override with `AVC_CLAMD_BIN`.
pub const DEFAULT_BIN: &str = "/usr/sbin/clamd";
/// How long clamd may take to answer its first PING.
pub const STARTUP_LIMIT: Duration = Duration::from_secs(30);

static SEQ: AtomicUsize = AtomicUsize::new(0);

/// A running real clamd, killed (by pid) on drop.
pub struct RealClamd {
    child: Child,
    target: Target,
    /// Time from spawn to the first `PONG`.
    pub startup: Duration,
    /// clamd's stdout/stderr.
    pub log_path: PathBuf,
    pub conf_path: PathBuf,
}

impl RealClamd {
    /// The clamd binary to run.
    pub fn bin() -> PathBuf {
        std::env::var_os("AVC_CLAMD_BIN").map_or_else(|| PathBuf::from(DEFAULT_BIN), PathBuf::from)
    }

    /// Whether the clamd binary exists.
    pub fn available() -> bool {
        Self::bin().is_file()
    }

    /// `clamd --version`, e.g. `1.4.6` (the part after `ClamAV `, before any `/`).
    pub fn version() -> Result<String, Error> {
        let out = Command::new(Self::bin())
            .arg("--version")
            .output()
            .map_err(|e| Error::io(&Self::bin(), e))?;
        let text = String::from_utf8_lossy(&out.stdout);
        let v = text
            .trim()
            .strip_prefix("ClamAV ")
            .and_then(|r| r.split('/').next())
            .ok_or_else(|| Error::Clamd(format!("unexpected --version output {text:?}")))?;
        Ok(v.to_string())
    }

    /// Starts clamd for `profile` in `env`: picks a free loopback port (clamd cannot bind port
    /// 0), retries on a bind collision, waits (bounded) for the first PONG.
    pub fn start(
        env: &OracleEnv,
        profile_name: &str,
        profile: &Profile,
    ) -> Result<RealClamd, Error> {
        let mut last = String::new();
        for _attempt in 0..5 {
            let n = SEQ.fetch_add(1, Ordering::Relaxed);
            let port = free_port()?;
            let unix = env.sock_dir.join(format!("{profile_name}-{n}.sock"));
            let conf_path = env.root().join(format!("clamd-{profile_name}-{n}.conf"));
            let log_path = env.root().join(format!("clamd-{profile_name}-{n}.log"));
            let conf = env.conf_text(profile, port, &unix, true);
            std::fs::write(&conf_path, conf).map_err(|e| Error::io(&conf_path, e))?;
            match Self::spawn(&conf_path, &log_path, port, &unix) {
                Ok(c) => return Ok(c),
                Err(Error::Clamd(msg)) if msg.contains("ind") => last = msg, // bind collision
                Err(e) => return Err(e),
            }
        }
        Err(Error::Clamd(format!(
            "could not start clamd after 5 attempts: {last}"
        )))
    }

    fn spawn(conf: &Path, log: &Path, port: u16, unix: &Path) -> Result<RealClamd, Error> {
        let logf = std::fs::File::create(log).map_err(|e| Error::io(log, e))?;
        let logf2 = logf.try_clone().map_err(|e| Error::io(log, e))?;
        let t0 = Instant::now();
        let child = Command::new(Self::bin())
            .arg(format!("--config-file={}", conf.display()))
            .stdin(Stdio::null())
            .stdout(logf)
            .stderr(logf2)
            .spawn()
            .map_err(|e| Error::io(&Self::bin(), e))?;
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let mut me = RealClamd {
            child,
            target: Target {
                tcp: addr,
                unix: Some(unix.to_path_buf()),
            },
            startup: Duration::ZERO,
            log_path: log.to_path_buf(),
            conf_path: conf.to_path_buf(),
        };
        loop {
            if let Ok(Some(status)) = me.child.try_wait() {
                let tail = log_tail(log);
                return Err(Error::Clamd(format!(
                    "clamd exited ({status}) before PONG: {tail}"
                )));
            }
            if ping_tcp(addr, Duration::from_millis(500)) {
                me.startup = t0.elapsed();
                tracing::info!(pid = me.child.id(), %addr, startup_ms = me.startup.as_millis() as u64, "real clamd up");
                return Ok(me);
            }
            if t0.elapsed() > STARTUP_LIMIT {
                return Err(Error::Clamd(format!(
                    "no PONG within {STARTUP_LIMIT:?}: {}",
                    log_tail(log)
                )));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    pub fn target(&self) -> &Target {
        &self.target
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for RealClamd {
    fn drop(&mut self) {
        use nix::sys::signal::{kill, Signal};
        use nix::unistd::Pid;
        let pid = Pid::from_raw(self.child.id() as i32);
        if let Ok(None) = self.child.try_wait() {
            let _ = kill(pid, Signal::SIGTERM);
            let t0 = Instant::now();
            while t0.elapsed() < Duration::from_secs(3) {
                if let Ok(Some(_)) = self.child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

fn free_port() -> Result<u16, Error> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| Error::io(Path::new("127.0.0.1:0"), e))?;
    let port = l
        .local_addr()
        .map_err(|e| Error::io(Path::new("127.0.0.1:0"), e))?
        .port();
    Ok(port)
}

fn log_tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with("Limits:") && !l.ends_with("support enabled."))
        .collect();
    lines[lines.len().saturating_sub(8)..].join(" | ")
}
