//! Runs a client program once: templated argv and environment, a timeout, captured output.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;

use crate::error::{HarnessError, Result};

/// Most output kept per stream.
pub const OUTPUT_CAP: usize = 1 << 20;

/// What one client run produced.
#[derive(Debug, Clone, Serialize)]
pub struct ClientRun {
    pub argv: Vec<String>,
    /// Exit code; `None` when killed by a signal or by the harness's timeout.
    pub exit: Option<i32>,
    pub timed_out: bool,
    pub stdout: String,
    pub stderr: String,
    #[serde(serialize_with = "ser_secs")]
    pub duration: Duration,
}

impl ClientRun {
    /// The exit status for people: `0`, `3`, or why there is none.
    pub fn exit_text(&self) -> String {
        match (self.exit, self.timed_out) {
            (Some(code), _) => code.to_string(),
            (None, true) => "none (killed at the timeout)".into(),
            (None, false) => "none (killed by a signal)".into(),
        }
    }

    /// The two lines that head a failure's transcript: the command and how it ended.
    pub fn header(&self) -> String {
        format!(
            "client: {}\nexit: {}",
            self.argv.join(" "),
            self.exit_text()
        )
    }
}

fn ser_secs<S: serde::Serializer>(d: &Duration, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

/// Runs `argv` with `env` added to the harness's environment, `extra_path` dirs put in front
/// of `PATH`, in `cwd`, killing it after `timeout`.
pub async fn run(
    argv: &[String],
    env: &BTreeMap<String, String>,
    extra_path: &[PathBuf],
    cwd: &Path,
    timeout: Duration,
) -> Result<ClientRun> {
    let Some(program) = argv.first() else {
        return Err(HarnessError::Client("empty command".into()));
    };
    let mut cmd = Command::new(program);
    cmd.args(&argv[1..])
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if !extra_path.is_empty() {
        let mut paths: Vec<PathBuf> = extra_path.to_vec();
        if let Some(p) = std::env::var_os("PATH") {
            paths.extend(std::env::split_paths(&p));
        }
        if let Ok(joined) = std::env::join_paths(paths) {
            cmd.env("PATH", joined);
        }
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let start = Instant::now();
    let mut child = cmd
        .spawn()
        .map_err(|e| HarnessError::Client(format!("cannot start {program:?}: {e}")))?;
    let out = child.stdout.take().map(|s| tokio::spawn(capture(s)));
    let err = child.stderr.take().map(|s| tokio::spawn(capture(s)));
    let (exit, timed_out) = match tokio::time::timeout(timeout, child.wait()).await {
        Ok(Ok(status)) => (status.code(), false),
        Ok(Err(e)) => {
            return Err(HarnessError::Client(format!(
                "waiting for {program:?}: {e}"
            )))
        }
        Err(_) => {
            let _ = child.start_kill();
            let _ = tokio::time::timeout(Duration::from_secs(5), child.wait()).await;
            (None, true)
        }
    };
    let duration = start.elapsed();
    let grab = |h: Option<tokio::task::JoinHandle<Vec<u8>>>| async move {
        match h {
            // A grandchild may keep the pipe open: do not wait for it forever.
            Some(h) => match tokio::time::timeout(Duration::from_secs(2), h).await {
                Ok(Ok(v)) => String::from_utf8_lossy(&v).into_owned(),
                _ => String::new(),
            },
            None => String::new(),
        }
    };
    Ok(ClientRun {
        argv: argv.to_vec(),
        exit,
        timed_out,
        stdout: grab(out).await,
        stderr: grab(err).await,
        duration,
    })
}

async fn capture<R: AsyncRead + Unpin>(mut r: R) -> Vec<u8> {
    let mut kept = Vec::new();
    let mut buf = vec![0u8; 8192];
    while let Ok(n) = r.read(&mut buf).await {
        if n == 0 {
            break;
        }
        let room = OUTPUT_CAP.saturating_sub(kept.len());
        kept.extend_from_slice(&buf[..n.min(room)]);
    }
    kept
}
