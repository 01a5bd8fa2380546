//! Issue 17, "the bench row shows the breakdown": with `FAKE_CLAMD_STARTUP_TRACE` set the
//! binary prints one `STARTUP-TRACE` line, every step stamped in order, before `LISTENING`;
//! without it, `LISTENING` is the first line (clients and the harness read it first).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use fake_clamd::startup_trace::{parse_line, ENV};

/// The stdout lines up to and including the first `LISTENING` line.
fn lines_until_listening(trace: bool) -> Vec<String> {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_fake-clamd"));
    cmd.args(["--tcp-port", "0"])
        .env_remove(ENV)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    if trace {
        cmd.env(ENV, "1");
    }
    let mut child = cmd.spawn().expect("fake-clamd starts");
    let mut lines = Vec::new();
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.expect("utf-8 stdout");
        let done = line.starts_with("LISTENING ");
        lines.push(line);
        if done || lines.len() > 10 {
            break;
        }
    }
    // only the process this test started, by its pid
    let _ = child.kill();
    let _ = child.wait();
    lines
}

#[test]
fn trace_line_stamps_every_step_in_order_before_listening() {
    let lines = lines_until_listening(true);
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines[1].starts_with("LISTENING tcp 127.0.0.1:"),
        "{lines:?}"
    );
    let stamps = parse_line(&lines[0]).unwrap_or_else(|| panic!("not a trace: {lines:?}"));
    let steps: Vec<&str> = stamps.iter().map(|s| s.0.as_str()).collect();
    assert_eq!(
        steps,
        ["main", "args", "log", "conf", "db", "runtime", "bind", "signals"]
    );
    assert!(
        stamps.windows(2).all(|w| w[0].1 <= w[1].1),
        "stamps go forward: {stamps:?}"
    );
}

#[test]
fn no_trace_without_the_variable() {
    let lines = lines_until_listening(false);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].starts_with("LISTENING tcp "), "{lines:?}");
}
