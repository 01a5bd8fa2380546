//! The live view from another language (issue 16 part 2): `tests/py/live_view.py` starts
//! the fake-clamd binary with `--admin 127.0.0.1:0`, sends PING and INSTREAM, and asserts
//! on `GET /commands` and `GET /transcripts` with urllib. Skips visibly without python3.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn python3() -> Option<&'static str> {
    Command::new("python3")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .ok()
        .filter(|s| s.success())
        .map(|_| "python3")
}

/// Live view: a Python client (standard library only) asserts on what the daemon
/// received (CLAMD-CMD-1 PING, CLAMD-INSTREAM-1), the EICAR body redacted.
#[test]
fn python_client_asserts_on_commands_and_transcripts_over_http() {
    let Some(py) = python3() else {
        eprintln!("SKIP python_client_asserts_on_commands_and_transcripts_over_http: python3 not installed");
        return;
    };
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py/live_view.py");
    let hex: String = scan_engine::eicar()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let mut child = Command::new(py)
        .arg(script)
        .arg(env!("CARGO_BIN_EXE_fake-clamd"))
        .env("AVC_EICAR_HEX", hex)
        .env_remove("AVC_ADMIN_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start python3");
    // bounded: the script's own timeouts are 5 s per step
    let start = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("live_view.py did not finish in 60 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().expect("output");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        out.status.success(),
        "live_view.py failed\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("live_view.py: ok"), "{stdout}");
}
