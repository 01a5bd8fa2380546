//! Runs a client program once: templated argv and environment, a timeout, captured output.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::wait::{waitid, Id, WaitPidFlag};
use nix::unistd::Pid;
use serde::Serialize;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;

use crate::error::{HarnessError, Result};
use crate::process_tree::{self, ProcessTree};

/// Most output kept per stream.
pub const OUTPUT_CAP: usize = 1 << 20;

/// How long the output pipes may stay open once the client's processes are ended.
const PIPE_GRACE: Duration = Duration::from_secs(2);

/// What one client run produced.
#[derive(Debug, Clone, Serialize)]
pub struct ClientRun {
    pub argv: Vec<String>,
    /// Exit code; `None` when killed by a signal or by the harness's timeout.
    pub exit: Option<i32>,
    pub timed_out: bool,
    /// Processes the client left running when it exited (or was killed); the harness
    /// ended them.
    pub left_running: usize,
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

    /// The lines that head a failure's transcript: the command, how it ended, and the
    /// processes it left behind (if it did).
    pub fn header(&self) -> String {
        let mut h = format!(
            "client: {}\nexit: {}",
            self.argv.join(" "),
            self.exit_text()
        );
        if let Some(left) = self.left_running_text() {
            h.push_str("\nleft running: ");
            h.push_str(&left);
        }
        h
    }

    /// What the harness had to end after the client, for people (`None` when nothing).
    pub fn left_running_text(&self) -> Option<String> {
        let n = self.left_running;
        (n > 0).then(|| {
            let s = if n == 1 { "" } else { "es" };
            format!("{n} process{s} the client started (ended by the harness)")
        })
    }
}

/// Longest line of client output quoted in a report or on the terminal (characters).
pub const QUOTE_LINE: usize = 300;

/// Most lines of client output quoted at one place.
pub const QUOTE_LINES: usize = 40;

/// Client output made fit to quote on a terminal or in a report: control characters other
/// than newline and tab, and the bidirectional-text controls, are shown escaped (`\x1b`,
/// `\u{202e}`: a client's ESC[2J or OSC 8 link must not act on the reader's terminal),
/// each line is shortened to [`QUOTE_LINE`] characters and at most [`QUOTE_LINES`] lines
/// are kept.
pub fn quotable(s: &str) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let total = s.lines().count();
    for (n, line) in s.lines().enumerate() {
        if n == QUOTE_LINES {
            let _ = writeln!(out, "[{} more lines]", total - n);
            break;
        }
        for (shown, c) in line.chars().enumerate() {
            if shown == QUOTE_LINE {
                let more = line.chars().count() - shown;
                let _ = write!(out, "[{more} more characters]");
                break;
            }
            match c {
                '\t' => out.push(c),
                c if c.is_control() && (c as u32) < 0x100 => {
                    let _ = write!(out, "\\x{:02x}", c as u32);
                }
                c if c.is_control() || is_bidi_control(c) => {
                    let _ = write!(out, "\\u{{{:x}}}", c as u32);
                }
                c => out.push(c),
            }
        }
        out.push('\n');
    }
    if !s.ends_with('\n') && out.ends_with('\n') {
        out.pop();
    }
    out
}

/// The characters that reorder the text shown around them (embeddings, overrides, isolates).
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
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
    let token = ProcessTree::token();
    // Its own session (so its own process group, and no controlling terminal: a client
    // cannot write escapes to the user's terminal through /dev/tty or wait for a password
    // there), and the token in its environment: the harness can end every process the
    // client starts (a shell's children, a helper left running) and nothing else.
    cmd.env(process_tree::TOKEN_VAR, &token);
    // SAFETY: setsid is async-signal-safe and touches nothing of the parent's state.
    unsafe {
        cmd.pre_exec(|| {
            nix::unistd::setsid()
                .map(drop)
                .map_err(std::io::Error::from)
        });
    }
    let start = Instant::now();
    let mut child = cmd
        .spawn()
        .map_err(|e| HarnessError::Client(format!("cannot start {program:?}: {e}")))?;
    let Some(pid) = child.id() else {
        return Err(HarnessError::Client(format!(
            "{program:?} has no process id"
        )));
    };
    let tree = ProcessTree::new(pid, token);
    // A run dropped half way still ends the group (kill_on_drop reaches the leader only),
    // and an interrupted harness ends it too (process_tree::guard_clients).
    let mut guard = GroupGuard(Some(tree.clone()));
    let running = tree.running();
    // Told to stop when a process the harness could not end still holds a pipe.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let out = child
        .stdout
        .take()
        .map(|s| tokio::spawn(capture(s, stopped.clone())));
    let err = child
        .stderr
        .take()
        .map(|s| tokio::spawn(capture(s, stopped.clone())));
    let mut exited = tokio::task::spawn_blocking(move || exit_without_reaping(pid));
    let timed_out = tokio::time::timeout(timeout, &mut exited).await.is_err();
    let duration = start.elapsed();
    // The leader is not reaped yet (a zombie once it exited), so the group's id cannot be
    // reused by anyone else while its other members are ended.
    let ended = tree.end().await;
    // Nothing of the group is left; the leader is about to be reaped (its id freed).
    guard.0 = None;
    drop(running);
    let left_running = ended.iter().filter(|p| p.as_raw() != pid as i32).count();
    if left_running > 0 {
        tracing::info!(left_running, "client left processes running; ended them");
    }
    if timed_out {
        let _ = tokio::time::timeout(Duration::from_secs(5), exited).await;
    }
    let exit = match tokio::time::timeout(Duration::from_secs(5), child.wait()).await {
        Ok(Ok(status)) if !timed_out => status.code(),
        Ok(Ok(_)) => None,
        Ok(Err(e)) => {
            return Err(HarnessError::Client(format!(
                "waiting for {program:?}: {e}"
            )))
        }
        Err(_) => None,
    };
    let (stdout, stderr) = gather(out, err, stop).await;
    Ok(ClientRun {
        argv: argv.to_vec(),
        exit,
        timed_out,
        left_running,
        stdout,
        stderr,
        duration,
    })
}

/// The client's stdout and stderr as text. A process that left the client's session and
/// dropped the token may keep a pipe open: the pipes are read for [`PIPE_GRACE`] more, then
/// what came is taken and stderr says why it may be incomplete.
async fn gather(
    out: Option<tokio::task::JoinHandle<Captured>>,
    err: Option<tokio::task::JoinHandle<Captured>>,
    stop: tokio::sync::watch::Sender<bool>,
) -> (String, String) {
    let stopper = tokio::spawn(async move {
        tokio::time::sleep(PIPE_GRACE).await;
        let _ = stop.send(true);
    });
    let grab = |h: Option<tokio::task::JoinHandle<Captured>>| async move {
        match h {
            Some(h) => h.await.unwrap_or_default(),
            None => Captured::default(),
        }
    };
    let (out, err) = (grab(out).await, grab(err).await);
    stopper.abort();
    let held_open = out.held_open || err.held_open;
    let (stdout, mut stderr) = (out.into_text(), err.into_text());
    if held_open {
        tracing::warn!("a process the harness could not end held a client's output open");
        if !stderr.is_empty() && !stderr.ends_with('\n') {
            stderr.push('\n');
        }
        stderr.push_str(&format!(
            "[harness: the output was still open {}s after the client ended: a process \
             outside its session, without its environment, holds it]\n",
            PIPE_GRACE.as_secs()
        ));
    }
    (stdout, stderr)
}

/// Blocks until process `pid` (a child) has exited, leaving it a zombie for the caller to
/// reap (`WNOWAIT`).
fn exit_without_reaping(pid: u32) {
    let pid = Pid::from_raw(pid as i32);
    loop {
        match waitid(Id::Pid(pid), WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT) {
            Err(Errno::EINTR) => continue,
            _ => return,
        }
    }
}

/// SIGKILLs the client's group when a run ends before it could end the group itself.
/// Disarmed once the group is ended, before the leader is reaped (its id is free then).
struct GroupGuard(Option<ProcessTree>);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if let Some(t) = self.0.take() {
            t.kill_group();
        }
    }
}

/// Reads a client's stream to its end, keeping the first [`OUTPUT_CAP`] bytes and the length
/// of the longest printed signature body beyond (so that one cut by the cap can still be
/// recognised): the rest is read and dropped, since a client blocked on a full pipe would
/// seem to hang.
async fn capture<R: AsyncRead + Unpin>(
    mut r: R,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> Captured {
    let keep = OUTPUT_CAP + crate::redact::longest_form();
    let mut c = Captured::default();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = tokio::select! {
            read = r.read(&mut buf) => match read {
                Ok(n) if n > 0 => n,
                _ => break,
            },
            _ = stop.wait_for(|s| *s) => {
                c.held_open = true;
                break;
            }
        };
        c.total += n as u64;
        let room = keep.saturating_sub(c.kept.len());
        c.kept.extend_from_slice(&buf[..n.min(room)]);
    }
    c
}

/// The start of a stream and its length.
#[derive(Debug, Default)]
struct Captured {
    kept: Vec<u8>,
    total: u64,
    /// Still open when the harness stopped reading.
    held_open: bool,
}

impl Captured {
    /// The output as text: signature bodies redacted before the cut at [`OUTPUT_CAP`] (so
    /// the cut cannot leave a part of one), and a last line that says what was dropped.
    fn into_text(self) -> String {
        let mut text = crate::redact::text(&String::from_utf8_lossy(&self.kept));
        if self.total > OUTPUT_CAP as u64 {
            let mut cut = OUTPUT_CAP.min(text.len());
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
            text.push_str(&format!(
                "\n[harness: {} bytes of output, the first {OUTPUT_CAP} kept]\n",
                self.total
            ));
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Escapes, line length and line count of quoted client output.
    #[test]
    fn quoted_output_is_escaped_and_bounded() {
        assert_eq!(
            quotable("a\x1b[2J\tb\r\nc\u{202e}"),
            "a\\x1b[2J\tb\nc\\u{202e}"
        );
        let long = "x".repeat(QUOTE_LINE + 5);
        assert_eq!(
            quotable(&long),
            format!("{}[5 more characters]", "x".repeat(QUOTE_LINE))
        );
        let many = "l\n".repeat(QUOTE_LINES + 3);
        let q = quotable(&many);
        assert_eq!(q.lines().count(), QUOTE_LINES + 1, "{q}");
        assert!(q.ends_with("[3 more lines]\n"), "{q}");
    }
}
