//! Ending every process a client started, and only those: the client runs as the leader of
//! its own process group, and carries a per-run token in its environment, so that a helper
//! it daemonised (`setsid`, a new group) is still known as its own. Nothing else is
//! signalled: a process is ours when its process group is the client's, or when its
//! environment holds the token.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::Pid;

/// The environment variable that carries a client run's token.
pub const TOKEN_VAR: &str = "AVC_CONFORMANCE_CLIENT_RUN";

/// How long the processes of a client get after SIGTERM before SIGKILL.
pub const TERM_GRACE: Duration = Duration::from_millis(500);

/// How long SIGKILLed processes get to disappear before the harness goes on without them
/// (a process in uninterruptible sleep dies when its I/O ends).
const KILL_WAIT: Duration = Duration::from_secs(2);

const POLL: Duration = Duration::from_millis(20);

/// The processes of one client run: the group it leads and the token it hands down.
#[derive(Debug, Clone)]
pub struct ProcessTree {
    leader: Pid,
    token: String,
}

impl ProcessTree {
    /// A new token for a client about to start (`TOKEN_VAR` set to it in its environment).
    pub fn token() -> String {
        format!("{:032x}", rand::random::<u128>())
    }

    /// The tree of the client started as group leader `leader` with `token`.
    pub fn new(leader: u32, token: String) -> Self {
        ProcessTree {
            leader: Pid::from_raw(i32::try_from(leader).unwrap_or(i32::MAX)),
            token,
        }
    }

    /// The live (not zombie) processes of the client, the leader among them while it runs.
    /// The leader must not have been reaped yet: its zombie keeps the group's id from being
    /// reused.
    pub fn live(&self) -> Vec<Pid> {
        let needle = format!("{TOKEN_VAR}={}", self.token);
        all_pids()
            .into_iter()
            .filter(|&pid| match stat(pid) {
                Some((state, pgrp)) if !matches!(state, 'Z' | 'X' | 'x') => {
                    pgrp == self.leader.as_raw() || has_token(pid, &needle)
                }
                _ => false,
            })
            .collect()
    }

    /// Ends every live process of the client (SIGTERM, up to [`TERM_GRACE`], then SIGKILL)
    /// and returns the ones that were running.
    pub async fn end(&self) -> Vec<Pid> {
        let running = self.live_off_runtime().await;
        if running.is_empty() {
            return running;
        }
        self.signal(Signal::SIGTERM, &running);
        let mut left = self.wait_gone(TERM_GRACE).await;
        if !left.is_empty() {
            tracing::debug!(?left, "client processes outlived SIGTERM; SIGKILL");
            self.signal(Signal::SIGKILL, &left);
            left = self.wait_gone(KILL_WAIT).await;
        }
        if !left.is_empty() {
            tracing::warn!(?left, "client processes still alive after SIGKILL");
        }
        running
    }

    /// [`ProcessTree::live`] on a blocking thread: it reads every process's `/proc` files,
    /// which on a host with thousands of processes takes milliseconds that a runtime worker
    /// (shared by the proxies and fakes of the other cases) must not spend.
    async fn live_off_runtime(&self) -> Vec<Pid> {
        let tree = self.clone();
        match tokio::task::spawn_blocking(move || tree.live()).await {
            Ok(live) => live,
            // the runtime is shutting down: look here rather than leave processes
            Err(_) => self.live(),
        }
    }

    /// SIGKILL to the whole group now (a run dropped half way).
    pub fn kill_group(&self) {
        let _ = killpg(self.leader, Signal::SIGKILL);
    }

    /// Lists the tree among the running clients until the guard is dropped (before the
    /// leader is reaped).
    pub fn running(&self) -> Running {
        if let Ok(mut r) = RUNNING.lock() {
            r.push(self.clone());
        }
        Running(self.leader)
    }

    /// SIGKILL to every process of the tree now.
    fn kill_all(&self) {
        let live = self.live();
        self.signal(Signal::SIGKILL, &live);
    }

    /// `sig` to the group, and to each of `pids` outside it (the token carriers).
    fn signal(&self, sig: Signal, pids: &[Pid]) {
        let _ = killpg(self.leader, sig);
        for &pid in pids {
            if stat(pid).is_some_and(|(_, pgrp)| pgrp != self.leader.as_raw()) {
                let _ = kill(pid, sig);
            }
        }
    }

    /// Waits up to `limit` for every process of the client to end; returns those left.
    async fn wait_gone(&self, limit: Duration) -> Vec<Pid> {
        let deadline = Instant::now() + limit;
        loop {
            tokio::time::sleep(POLL).await;
            let left = self.live_off_runtime().await;
            if left.is_empty() || Instant::now() >= deadline {
                return left;
            }
        }
    }
}

/// The clients running now.
static RUNNING: Mutex<Vec<ProcessTree>> = Mutex::new(Vec::new());

/// Keeps a tree in [`RUNNING`] while it lives.
pub struct Running(Pid);

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(mut r) = RUNNING.lock() {
            r.retain(|t| t.leader != self.0);
        }
    }
}

/// Makes the harness the reaper of its clients' orphans (`PR_SET_CHILD_SUBREAPER`), so that
/// a process a client started outside its session and without its environment is still
/// found, as an adopted child of the harness, by [`end_adopted`]; and makes SIGINT, SIGTERM
/// and SIGHUP end every running client before the harness exits (`128 + signal`, as a
/// shell shows a process the signal ended): a client leads its own session, so a Ctrl-C
/// at the terminal no longer reaches it, and a harness that died of the signal would leave
/// it running. Call once, within the runtime, before any client starts.
pub fn guard_clients() {
    if let Err(e) = nix::sys::prctl::set_child_subreaper(true) {
        tracing::warn!("cannot adopt the clients' orphans: {e}");
    }
    end_clients_on_signal();
}

/// Ends (SIGKILL) and reaps every process the harness adopted from its clients and every
/// client still running; returns how many adopted processes were alive. For the end of a
/// run: any child left then is one.
pub fn end_adopted() -> usize {
    let trees = RUNNING.lock().map(|r| r.clone()).unwrap_or_default();
    for t in &trees {
        t.kill_all();
    }
    let me = nix::unistd::getpid().as_raw();
    let adopted: Vec<(Pid, char)> = all_pids()
        .into_iter()
        .filter_map(|pid| match stat3(pid) {
            Some((state, ppid, _)) if ppid == me => Some((pid, state)),
            _ => None,
        })
        .collect();
    let mut alive = 0;
    for &(pid, state) in &adopted {
        if !matches!(state, 'Z' | 'X' | 'x') {
            alive += 1;
            let _ = kill(pid, Signal::SIGKILL);
        }
    }
    for (pid, _) in adopted {
        // a SIGKILLed process is a zombie at once unless the kernel is busy on its behalf
        let deadline = Instant::now() + KILL_WAIT;
        while matches!(
            nix::sys::wait::waitpid(pid, Some(nix::sys::wait::WaitPidFlag::WNOHANG)),
            Ok(nix::sys::wait::WaitStatus::StillAlive)
        ) && Instant::now() < deadline
        {
            std::thread::sleep(POLL);
        }
    }
    if alive > 0 {
        tracing::warn!(
            alive,
            "ended processes the clients left outside their sessions"
        );
    }
    alive
}

fn end_clients_on_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let kinds = [
        (SignalKind::interrupt(), 2),
        (SignalKind::terminate(), 15),
        (SignalKind::hangup(), 1),
    ];
    for (kind, number) in kinds {
        let Ok(mut s) = signal(kind) else {
            tracing::warn!("cannot watch signal {number}: an interrupted run may leave clients");
            continue;
        };
        tokio::spawn(async move {
            if s.recv().await.is_some() {
                end_adopted();
                std::process::exit(128 + number);
            }
        });
    }
}

/// State and process group of `pid` from `/proc/<pid>/stat` (fields after the command
/// name, which may hold spaces and parentheses).
fn stat(pid: Pid) -> Option<(char, i32)> {
    stat3(pid).map(|(state, _, pgrp)| (state, pgrp))
}

/// State, parent and process group of `pid`.
fn stat3(pid: Pid) -> Option<(char, i32, i32)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &text[text.rfind(')')? + 1..];
    let mut fields = rest.split_ascii_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    let pgrp = fields.next()?.parse().ok()?;
    Some((state, ppid, pgrp))
}

/// Every process id in `/proc`.
fn all_pids() -> Vec<Pid> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .map(Pid::from_raw)
        .collect()
}

/// Whether the environment `pid` started with holds `needle` (`NAME=value`). Processes of
/// other users are unreadable, hence never ours.
fn has_token(pid: Pid, needle: &str) -> bool {
    std::fs::read(format!("/proc/{pid}/environ"))
        .is_ok_and(|env| env.split(|&b| b == 0).any(|var| var == needle.as_bytes()))
}
