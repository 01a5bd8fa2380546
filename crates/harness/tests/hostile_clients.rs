//! A hostile review of the harness against the clients it runs: a client may be broken in
//! any way, and the harness must stay bounded, say what happened, end every process the
//! client started (and only those), and never show a signature body. Each attack is a tiny
//! script in the test's temp dir, run through a profile by the harness binary.

mod common;
use common::*;

use std::path::PathBuf;
use std::time::{Duration, Instant};

/// A client in Python whose behaviour the second argument picks; every process it starts
/// appends its pid to the file named by the first.
const PROCS_CLIENT: &str = r#"
import os, signal, sys, time
pids, mode = sys.argv[1], sys.argv[2]
def note():
    with open(pids, "a") as f:
        f.write("%d\n" % os.getpid())
def noted():
    try:
        return len(open(pids).read().split())
    except OSError:
        return 0
if mode == "hang":
    note()
    time.sleep(300)
if mode == "leave":
    if os.fork() == 0:
        # stays in the client's group, holds stdout open
        note(); time.sleep(300); os._exit(0)
    if os.fork() == 0:
        # daemonised: a new session, deaf to SIGTERM, holds stderr open
        os.setsid()
        if os.fork() == 0:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            note(); time.sleep(300); os._exit(0)
        os._exit(0)
    end = time.time() + 10
    while noted() < 2 and time.time() < end:
        time.sleep(0.02)
    sys.exit(0)
"#;

/// A scratch dir with `client.py` (`script`) and `profile.toml` running `command` (where
/// `{client}` and `{pids}` name the script and the pid file) with `timeout_secs`.
struct Attack {
    dir: tempfile::TempDir,
}

impl Attack {
    fn new(script: &str, command: &str, timeout_secs: u32) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let client = dir.path().join("client.py");
        std::fs::write(&client, script).unwrap();
        let command = command
            .replace("{client}", &client.to_string_lossy())
            .replace("{pids}", &dir.path().join("pids").to_string_lossy());
        let profile = format!(
            "protocol = \"clamd\"\ncommand = {command:?}\ntimeout_secs = {timeout_secs}\n\
             snapshots = false\n[verdicts]\nclean = {{ exit = 0 }}\ninfected = {{ exit = 1 }}\n"
        );
        std::fs::write(dir.path().join("profile.toml"), profile).unwrap();
        Attack { dir }
    }

    fn profile(&self) -> PathBuf {
        self.dir.path().join("profile.toml")
    }

    /// Runs the harness on case `case` with every report; returns its exit code, the wall
    /// time and the JSON report.
    fn run(&self, case: &str, reports: &Reports) -> (Option<i32>, Duration, String) {
        let start = Instant::now();
        let out = avc()
            .arg("--client")
            .arg(self.profile())
            .args(["--filter", case, "--skip", &format!("{case}-")])
            .args(reports.flags())
            .output()
            .unwrap();
        let took = start.elapsed();
        let json = std::fs::read_to_string(&reports.json).unwrap_or_default();
        (out.status.code(), took, json)
    }

    /// The processes the client noted that are still alive (not zombies), each SIGKILLed
    /// here so that a failing test leaves nothing behind. A pid counts only while its
    /// command line names this attack's directory (never another process that got the pid).
    fn survivors(&self) -> Vec<i32> {
        let pids = std::fs::read_to_string(self.dir.path().join("pids")).unwrap_or_default();
        let mark = self.dir.path().to_string_lossy().into_owned();
        let mut alive = Vec::new();
        for pid in pids
            .split_whitespace()
            .filter_map(|p| p.parse::<i32>().ok())
        {
            let ours = std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(&mark));
            if ours && !zombie(pid) {
                alive.push(pid);
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
        alive
    }

    fn noted(&self) -> usize {
        std::fs::read_to_string(self.dir.path().join("pids"))
            .unwrap_or_default()
            .split_whitespace()
            .count()
    }
}

fn zombie(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rfind(')')
                .and_then(|i| s[i + 1..].trim_start().chars().next())
        })
        .is_none_or(|state| state == 'Z' || state == 'X')
}

/// A client started through `sh -c` hangs: at the timeout the whole group goes (the shell
/// and the Python process under it), not only the shell the harness started. The old
/// harness killed the direct child only and left the Python process running.
#[test]
fn a_hanging_grandchild_is_ended_at_the_timeout() {
    if skip_without_python() {
        return;
    }
    let a = Attack::new(PROCS_CLIENT, "sh -c 'python3 {client} {pids} hang'", 1);
    let reports = Reports::new();
    let (code, took, json) = a.run("clamd.clean", &reports);
    assert_eq!(a.noted(), 1, "the client ran: {json}");
    let left = a.survivors();
    assert!(left.is_empty(), "processes left running: {left:?}");
    assert_eq!(code, Some(1), "a timed-out client fails the case: {json}");
    assert!(
        json.contains("killed at the timeout"),
        "the report says how it ended: {json}"
    );
    // 1 s timeout, 0.5 s grace; no 2 s wait for a pipe a survivor holds
    assert!(took < Duration::from_secs(20), "took {took:?}");
}

/// A client exits 0 (clean, the right verdict) but leaves two helpers running: one in its
/// group holding stdout, one daemonised (`setsid`) that ignores SIGTERM. The harness ends
/// both (SIGKILL after the grace), says so as a warning, and does not wait on the pipes
/// they held.
#[test]
fn helpers_left_running_after_a_normal_exit_are_ended_and_reported() {
    if skip_without_python() {
        return;
    }
    let a = Attack::new(PROCS_CLIENT, "python3 {client} {pids} leave", 20);
    let reports = Reports::new();
    let (code, took, json) = a.run("clamd.clean", &reports);
    assert_eq!(a.noted(), 2, "both helpers started: {json}");
    let left = a.survivors();
    assert!(left.is_empty(), "processes left running: {left:?}");
    assert_eq!(code, Some(0), "the verdict was right: {json}");
    assert!(
        json.contains("processes: left running after the client ended: 2 processes"),
        "the report says what the client left: {json}"
    );
    assert!(took < Duration::from_secs(15), "took {took:?}");
}
