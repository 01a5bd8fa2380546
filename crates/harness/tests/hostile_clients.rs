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
    # a real scan first: a clean with no conversation would be FAIL-OPEN
    import socket, struct
    host, port, path = sys.argv[3], int(sys.argv[4]), sys.argv[5]
    data = open(path, "rb").read()
    s = socket.create_connection((host, port))
    s.sendall(b"zINSTREAM\0" + struct.pack(">I", len(data)) + data + b"\0\0\0\0")
    while s.recv(4096):
        pass
    s.close()
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
if mode == "hide":
    print("before the helper", flush=True)
    if os.fork() == 0:
        # outside the client's session and without its environment, holding both pipes
        os.setsid()
        os.execve(sys.executable, [sys.executable, sys.argv[0], pids, "hidden"], {})
    end = time.time() + 10
    while noted() < 1 and time.time() < end:
        time.sleep(0.02)
    sys.exit(0)
if mode == "hidden":
    note()
    time.sleep(300)
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
             [verdicts]\nclean = {{ exit = 0 }}\ninfected = {{ exit = 1 }}\n"
        );
        std::fs::write(dir.path().join("profile.toml"), profile).unwrap();
        Attack { dir }
    }

    fn profile(&self) -> PathBuf {
        self.dir.path().join("profile.toml")
    }

    /// `harness` (the binary with its first flags) on this client and case `case` only,
    /// with the Markdown, JSON and JUnit `reports`.
    fn on<'c>(
        &self,
        harness: &'c mut std::process::Command,
        case: &str,
        reports: &Reports,
    ) -> &'c mut std::process::Command {
        harness
            .arg("--client")
            .arg(self.profile())
            .args(["--filter", case, "--skip", &format!("{case}-")])
            .args(reports.flags())
    }

    /// Runs the harness on case `case` with every report; returns its exit code, the wall
    /// time and the JSON report.
    fn run(&self, case: &str, reports: &Reports) -> (Option<i32>, Duration, String) {
        let start = Instant::now();
        let out = self
            .on(avc_process().arg("--no-snapshots"), case, reports)
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

/// What a run of [`PROCS_CLIENT`] must show.
struct Expect {
    case: &'static str,
    /// Processes the client notes (all must be gone when the harness exits).
    started: usize,
    /// The harness's exit code.
    code: i32,
    /// Text the JSON report holds.
    says: &'static str,
    /// Most wall time of the harness.
    within: Duration,
}

/// Runs [`PROCS_CLIENT`] through `command` with `timeout_secs` and checks the run against
/// `e`.
fn run_leaving_nothing(command: &str, timeout_secs: u32, e: Expect) {
    need_python!();
    let a = Attack::new(PROCS_CLIENT, command, timeout_secs);
    let reports = Reports::new();
    let (code, took, json) = a.run(e.case, &reports);
    assert_eq!(a.noted(), e.started, "processes started: {json}");
    let left = a.survivors();
    assert!(left.is_empty(), "processes left running: {left:?}");
    assert_eq!(code, Some(e.code), "{json}");
    assert!(
        json.contains(e.says),
        "the report says {:?}: {json}",
        e.says
    );
    assert!(took < e.within, "took {took:?}");
}

/// A client started through `sh -c` hangs: at the timeout the whole group goes (the shell
/// and the Python process under it), not only the shell the harness started; the case
/// fails as killed at the timeout. The old harness killed the direct child only and left
/// the Python process running.
#[test]
fn a_hanging_grandchild_is_ended_at_the_timeout() {
    run_leaving_nothing(
        "sh -c 'python3 {client} {pids} hang'",
        1,
        Expect {
            case: "clamd.clean",
            started: 1,
            code: 1,
            says: "killed at the timeout",
            // 1 s timeout, 0.5 s grace; no 2 s wait for a pipe a survivor holds
            within: Duration::from_secs(20),
        },
    );
}

/// A client scans and exits 0 (clean, the right verdict) but leaves two helpers running: one in its
/// group holding stdout, one daemonised (`setsid`) that ignores SIGTERM. The harness ends
/// both (SIGKILL after the grace), says so as a warning, and does not wait on the pipes
/// they held.
#[test]
fn helpers_left_running_after_a_normal_exit_are_ended_and_reported() {
    run_leaving_nothing(
        "python3 {client} {pids} leave {host} {port} {file}",
        20,
        Expect {
            case: "clamd.clean",
            started: 2,
            code: 0,
            says: "processes: left running after the client ended: 2 processes",
            within: Duration::from_secs(15),
        },
    );
}

/// A client leaves a helper outside its session and without its environment (the token),
/// holding its output pipes, and says clean (FAIL-OPEN on clamd.eicar, so its output is
/// quoted). The case ends 2 s after the client with the output it printed and a line saying
/// the pipes were held; the helper, adopted by the harness (a child subreaper), is ended
/// when the run is over. The old harness quoted no output (it dropped what it had read
/// after 2 s) and left the helper running.
#[test]
fn a_helper_hidden_from_the_group_and_the_token_is_ended_at_the_end_of_the_run() {
    run_leaving_nothing(
        "python3 {client} {pids} hide",
        20,
        Expect {
            case: "clamd.eicar",
            started: 1,
            code: 1,
            says:
                "stdout: before the helper\\nstderr: [harness: the output was still open 2s after",
            within: Duration::from_secs(15),
        },
    );
}

/// A client that echoes the file it scans (EICAR, case clamd.eicar) every way a clamd-style
/// client plausibly does, and says it is clean (FAIL-OPEN, so its output is quoted):
/// stdout ends 30 bytes into the body at the 1 MiB cut; stderr has the body wrapped over
/// two lines, with `\r\n`, JSON-escaped and inside an error message; and it asks the daemon
/// to scan a file whose NAME is the body.
const SIGS_CLIENT: &str = r#"
import json, socket, sys
host, port, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
body = open(path, "rb").read()
s = socket.create_connection((host, port))
s.sendall(b"zSCAN /tmp/" + body + b"\0")
s.recv(4096)
s.close()
n = (1 << 20) - 30
pad = b"x" * 79 + b"\n"
sys.stdout.buffer.write(pad * (n // 80) + b"y" * (n % 80) + body + b"\n")
h = len(body) // 2
err = sys.stderr.buffer
err.write(b"wrapped: " + body[:h] + b"\n" + body[h:] + b"\n")
err.write(b"crlf: " + body + b"\r\n")
err.write(b"json: " + json.dumps(body.decode()).encode() + b"\n")
err.write(b"error: cannot scan " + body + b": refused\n")
"#;

/// No signature body, whole or a part of 16 bytes or more, in any output of a run whose
/// client echoes EICAR: terminal (with `RUST_LOG=debug`), Markdown, JSON, JUnit, HTML,
/// the baseline written and the snapshot. The old harness kept the 30 bytes left at the
/// output cut, the two halves of the wrapped body, and in the snapshot the body after its
/// first 3 bytes (the `/tmp/...` path redaction ate those first, so the whole body was no
/// longer recognised).
#[test]
fn echoed_signature_bodies_reach_no_output() {
    need_python!();
    let a = Attack::new(SIGS_CLIENT, "python3 {client} {host} {port} {file}", 20);
    let reports = Reports::new();
    let extra = tempfile::tempdir().unwrap();
    let html = extra.path().join("r.html");
    let baseline = extra.path().join("baseline.txt");
    let snaps = extra.path().join("snapshots");
    // snapshots on, written to a scratch directory
    let mut harness = avc_process();
    harness.env("RUST_LOG", "debug");
    let out = a
        .on(&mut harness, "clamd.eicar", &reports)
        .arg("--report-html")
        .arg(&html)
        .arg("--write-baseline")
        .arg(&baseline)
        .arg("--snapshots")
        .arg(&snaps)
        .arg("--update-snapshots")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "the case fails: {stderr}");
    assert_no_eicar("stdout", &String::from_utf8_lossy(&out.stdout));
    assert_no_eicar("stderr", &stderr);
    let mut files = vec![
        reports.md.clone(),
        reports.json.clone(),
        reports.junit.clone(),
        html,
        baseline,
    ];
    let snap_files: Vec<PathBuf> = walk(&snaps);
    assert_eq!(snap_files.len(), 1, "one snapshot written: {snap_files:?}");
    files.extend(snap_files);
    for f in &files {
        let text = String::from_utf8_lossy(&std::fs::read(f).unwrap()).into_owned();
        assert_no_eicar(&f.display().to_string(), &text);
    }
    let md = std::fs::read_to_string(&reports.md).unwrap();
    for shown in [
        "wrapped: <part of EICAR>\n<part of EICAR>\n",
        "crlf: <EICAR, 68 bytes>",
        // the body the 1 MiB cut fell into is recognised whole, and the cut is said
        "yy<EICAR, 68 bytes>\n\n[harness: 1048615 bytes of output, the first 1048576 kept]",
    ] {
        assert!(md.contains(shown), "the report shows {shown:?}: {md}");
    }
    let snap = std::fs::read_to_string(&files[5]).unwrap();
    assert!(snap.contains("zSCAN /tmp/<EICAR, 68 bytes>"), "{snap}");
}

/// Every file under `dir`.
fn walk(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// A client whose output is hostile to whoever reads the report: terminal escapes (clear
/// screen, colour, an OSC 8 link), NUL, BEL, a bare CR and invalid UTF-8 on stderr; on
/// stdout a 3 MB line and then 512 MiB more, after which it says clean (FAIL-OPEN on
/// clamd.eicar, so the output is quoted). The flood is read to its end without a false
/// timeout, and the quote is escaped and short wherever it goes. The old harness printed
/// the escapes raw and quoted a 1 MiB line in every report.
#[test]
fn hostile_output_is_escaped_shortened_and_drained() {
    need_python!();
    const FLOOD: &str = r#"
import sys
sys.stderr.buffer.write(b"error: \x1b[2J\x1b[31mred\x1b]8;;http://evil.example/\x07link"
    b"\x1b]8;;\x07 nul:\x00 bad:\xff\xfe bell:\x07 cr:\rXX \xe2\x80\xaeevil\n")
out = sys.stdout.buffer
out.write(b"L" * 3000000 + b"\n")
block = b"z" * (1 << 20)
for _ in range(512):
    out.write(block)
"#;
    let a = Attack::new(FLOOD, "python3 {client}", 30);
    let reports = Reports::new();
    let extra = tempfile::tempdir().unwrap();
    let html = extra.path().join("r.html");
    let start = Instant::now();
    let out = a
        .on(avc_process().arg("--no-snapshots"), "clamd.eicar", &reports)
        .arg("--report-html")
        .arg(&html)
        .output()
        .unwrap();
    let took = start.elapsed();
    let terminal = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{terminal}");
    assert!(took < Duration::from_secs(25), "took {took:?}");
    let md = std::fs::read_to_string(&reports.md).unwrap();
    assert!(md.contains("FAIL-OPEN"), "{md}");
    assert!(
        !md.contains("killed at the timeout"),
        "drained, not hung: {md}"
    );
    for (what, text) in [
        ("terminal", terminal.clone()),
        ("markdown", md.clone()),
        ("json", std::fs::read_to_string(&reports.json).unwrap()),
        ("junit", std::fs::read_to_string(&reports.junit).unwrap()),
        ("html", std::fs::read_to_string(&html).unwrap()),
    ] {
        assert!(text.len() < 64 * 1024, "{what}: {} bytes", text.len());
        let raw = text
            .chars()
            .find(|&c| (c.is_control() && c != '\n' && c != '\t') || c == '\u{202e}');
        assert_eq!(raw, None, "{what} holds a raw control character: {text}");
    }
    for shown in [
        "error: \\x1b[2J\\x1b[31mred\\x1b]8;;",
        "nul:\\x00 bad:\u{fffd}\u{fffd} bell:\\x07 cr:\\x0dXX \\u{202e}evil",
        // the kept first MiB of the 3 MB line, shortened
        "LLLL[1048",
        " more characters]\n",
        "[harness: 539870913 bytes of output, the first 1048576 kept]",
    ] {
        assert!(md.contains(shown), "the report shows {shown:?}: {md}");
        assert!(
            terminal.contains(shown),
            "the terminal shows {shown:?}: {terminal}"
        );
    }
}

/// Eight connections that upload 1 MiB INSTREAM chunks without end (the fake answers
/// `INSTREAM size limit exceeded` at 100 MiB and closes each): the recording proxy keeps
/// at most `RECORD_CAP` of it and the harness stays small. The old proxy kept 256 MiB and
/// the harness peaked near 800 MB.
#[test]
fn endless_uploads_keep_the_harness_small() {
    need_python!();
    const UPLOADS: &str = r#"
import socket, struct, sys, threading
host, port = sys.argv[1], int(sys.argv[2])
def upload():
    try:
        s = socket.create_connection((host, port))
        s.sendall(b"zINSTREAM\0")
        chunk = struct.pack(">I", 1 << 20) + b"a" * (1 << 20)
        while True:
            s.sendall(chunk)
    except OSError:
        pass
threads = [threading.Thread(target=upload) for _ in range(8)]
[t.start() for t in threads]
[t.join() for t in threads]
"#;
    let a = Attack::new(UPLOADS, "python3 {client} {host} {port}", 30);
    let reports = Reports::new();
    let (code, took, json) = a.run("clamd.clean", &reports);
    assert!(matches!(code, Some(0 | 1)), "{json}");
    let peak = children_peak_rss_kib();
    assert!(peak < 300 * 1024, "peak RSS of a child: {peak} KiB");
    assert!(took < Duration::from_secs(25), "took {took:?}");
}

/// A client that uploads 15 MiB (all of it kept by the recording proxy) as three million
/// 1-byte INSTREAM chunks: the checks, the snapshot and the report log parse the frames as
/// they go, so the harness stays near the size of what it records. The old harness kept a
/// struct per chunk in each of them and peaked at 267 MB here (65 MB now).
#[test]
fn millions_of_one_byte_chunks_keep_the_harness_small() {
    need_python!();
    // says "infected" (exit 1) whatever the reply: the case fails, so the report shows its
    // log, and the snapshot is written
    const TINY_CHUNKS: &str = r#"
import socket, sys
host, port = sys.argv[1], int(sys.argv[2])
s = socket.create_connection((host, port))
s.sendall(b"zINSTREAM\0")
block = b"\0\0\0\x01a" * (1 << 18)
for _ in range(12):
    s.sendall(block)
s.sendall(b"\0\0\0\0")
s.recv(4096)
sys.exit(1)
"#;
    let a = Attack::new(TINY_CHUNKS, "python3 {client} {host} {port}", 60);
    let reports = Reports::new();
    let snapshots = a.dir.path().join("snapshots");
    let mut harness = avc_process();
    // the snapshot is read below: it is written only outside CI (CI never writes one)
    harness.arg("--snapshots").arg(&snapshots).env_remove("CI");
    a.on(&mut harness, "clamd.clean", &reports)
        .stdout(std::process::Stdio::null());
    let (code, peak) = exit_and_peak_rss_kib(harness);
    let md = std::fs::read_to_string(&reports.md).unwrap_or_default();
    assert_eq!(code, 1, "the client says infected on a clean file: {md}");
    assert!(
        md.contains("<chunk 1 bytes> x"),
        "the report log shows the frames: {md}"
    );
    let snapshot = walk(&snapshots)
        .into_iter()
        .find(|p| p.extension().is_some_and(|e| e == "snap"))
        .map(|p| std::fs::read_to_string(p).unwrap())
        .unwrap_or_default();
    assert!(
        snapshot.contains("C: <chunk 1 bytes> x3145728\n  C: <chunk 0: end of stream>"),
        "the snapshot counts every chunk: {snapshot}"
    );
    println!("peak RSS of the harness on 3 million chunks: {peak} KiB");
    assert!(peak < 150 * 1024, "peak RSS of the harness: {peak} KiB");
}

/// Runs `c` to its end: its exit code (-1 for a signal) and the peak RSS (KiB) of it and
/// the children it waited for (its clients).
fn exit_and_peak_rss_kib(mut c: std::process::Command) -> (i32, i64) {
    // reaped by wait4 below, which std's wait cannot do: it drops the rusage
    #[allow(clippy::zombie_processes)]
    let child = c.spawn().unwrap();
    let mut status = 0;
    // SAFETY: wait4 only writes the status and the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as i32, "wait4");
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    (code, usage.ru_maxrss)
}

/// The largest peak RSS (KiB) of the children this test binary waited for (every harness
/// run of every test here; the clients' are in it too).
fn children_peak_rss_kib() -> i64 {
    // SAFETY: getrusage only writes the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    assert_eq!(rc, 0, "getrusage");
    usage.ru_maxrss
}

/// The harness interrupted (SIGINT, as Ctrl-C sends it; the client leads its own session,
/// so the terminal's Ctrl-C no longer reaches it directly) ends the clients it is running
/// before it exits 130. The old harness died of the signal and left them running.
#[test]
fn an_interrupted_harness_ends_its_running_clients() {
    need_python!();
    let a = Attack::new(PROCS_CLIENT, "sh -c 'python3 {client} {pids} hang'", 60);
    let mut harness = avc_process()
        .arg("--no-snapshots")
        .arg("--client")
        .arg(a.profile())
        .args(["--filter", "clamd.clean"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while a.noted() < 1 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(a.noted(), 1, "the client started");
    let pid = nix::unistd::Pid::from_raw(harness.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = harness.try_wait().unwrap() {
            break Some(s);
        }
        if Instant::now() > deadline {
            let _ = harness.kill();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let left = a.survivors();
    assert!(left.is_empty(), "processes left running: {left:?}");
    assert_eq!(status.and_then(|s| s.code()), Some(130), "{status:?}");
}

/// A client that opens connections one after another, past the proxy's limit of
/// `MAX_CONNECTIONS` (256), each asking PING: the ones beyond the limit are reset or
/// refused, never closed as if the daemon had sent a complete empty reply. The old proxy
/// closed the first one beyond the limit with a FIN.
#[test]
fn connections_past_the_proxy_limit_are_reset_not_closed() {
    need_python!();
    const MANY: &str = r#"
import socket, sys
host, port, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
kept, counts = [], {"pong": 0, "other": 0, "empty": 0, "reset": 0, "refused": 0}
for i in range(300):
    try:
        s = socket.create_connection((host, port), timeout=5)
        kept.append(s)
        s.sendall(b"zPING\0")
        reply = s.recv(100)
        counts["pong" if reply.startswith(b"PONG") else "other" if reply else "empty"] += 1
    except ConnectionRefusedError:
        counts["refused"] += 1
    except (ConnectionResetError, BrokenPipeError):
        counts["reset"] += 1
open(out, "w").write(" ".join("%s=%d" % kv for kv in sorted(counts.items())))
"#;
    let a = Attack::new(MANY, "python3 {client} {host} {port} {pids}", 30);
    let reports = Reports::new();
    let (_, _, json) = a.run("clamd.clean", &reports);
    let counts = std::fs::read_to_string(a.dir.path().join("pids"))
        .unwrap_or_else(|e| panic!("the client wrote its counts ({e}): {json}"));
    assert!(counts.contains("empty=0"), "{counts}");
    assert!(counts.contains("pong=256"), "{counts}");
    println!("{counts}");
}
