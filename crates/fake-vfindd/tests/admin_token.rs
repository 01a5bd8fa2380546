//! The admin token options of the fake-vfindd binary (hardening item 7): a non-loopback admin
//! address without a token is a configuration error (exit 2, one line); with
//! `--admin-token-file` or `AVC_ADMIN_TOKEN` every admin request needs the bearer token.

use std::io::{BufRead, Read, Write};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_fake-vfindd"));
    c.args(["--svsp-port=0"]).env_remove("AVC_ADMIN_TOKEN");
    c
}

/// Waits at most 10 s for the child to exit; returns (code, stderr).
fn exit_of(mut child: Child) -> (Option<i32>, String) {
    for _ in 0..200 {
        if let Ok(Some(st)) = child.try_wait() {
            let mut err = String::new();
            let _ = child.stderr.take().map(|mut e| e.read_to_string(&mut err));
            return (st.code(), err);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("still running after 10 s");
}

/// Starts the binary and returns it with its admin address (from the `ADMIN` line).
fn start(cmd: &mut Command) -> (Child, SocketAddr) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for l in std::io::BufReader::new(out).lines().map_while(Result::ok) {
            if let Some(a) = l.strip_prefix("ADMIN ") {
                let _ = tx.send(a.parse::<SocketAddr>().ok());
            }
        }
    });
    match rx.recv_timeout(Duration::from_secs(10)) {
        Ok(Some(a)) => (child, a),
        _ => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("no ADMIN line within 10 s");
        }
    }
}

/// GET /faults with an optional `Authorization` value; returns the status.
fn get_faults(admin: SocketAddr, auth: Option<&str>) -> u16 {
    let mut s = std::net::TcpStream::connect(admin).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let auth = auth.map_or(String::new(), |a| format!("Authorization: {a}\r\n"));
    write!(s, "GET /faults HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}\r\n").unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0)
}

/// Hardening item 7: `--admin 0.0.0.0:0` without a token: exit 2 with one clear line,
/// before anything is bound on the network.
#[test]
fn non_loopback_admin_without_token_exits_2() {
    let child = bin()
        .args(["--admin", "0.0.0.0:0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (code, err) = exit_of(child);
    assert_eq!(code, Some(2), "{err}");
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(
        lines[0].contains("0.0.0.0:0 is not loopback") && lines[0].contains("--admin-token"),
        "{err}"
    );
}

/// Hardening item 7: `--admin-token` and `--admin-token-file` together are refused.
#[test]
fn admin_token_flag_and_file_together_exit_2() {
    let child = bin()
        .args([
            "--admin",
            "127.0.0.1:0",
            "--admin-token",
            "a",
            "--admin-token-file",
            "/dev/null",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (code, err) = exit_of(child);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("not both"), "{err}");
}

/// Hardening item 7: with `--admin-token-file`, no token and a wrong token get 401, the
/// right one 200.
#[test]
fn admin_token_file_is_required_and_checked() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    std::fs::write(&file, "file-Token-42\n").unwrap();
    let (mut child, admin) = start(
        bin()
            .args(["--admin", "127.0.0.1:0", "--admin-token-file"])
            .arg(&file),
    );
    let got = [
        get_faults(admin, None),
        get_faults(admin, Some("Bearer file-Token-43")),
        get_faults(admin, Some("Bearer file-Token-42")),
    ];
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(got, [401, 401, 200]);
}

/// Hardening item 7: the token can come from `AVC_ADMIN_TOKEN` (kept out of `ps`).
#[test]
fn admin_token_from_environment_is_checked() {
    let (mut child, admin) = start(
        bin()
            .args(["--admin", "127.0.0.1:0"])
            .env("AVC_ADMIN_TOKEN", "env-Token-7"),
    );
    let got = [
        get_faults(admin, None),
        get_faults(admin, Some("Bearer wrong")),
        get_faults(admin, Some("Bearer env-Token-7")),
    ];
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(got, [401, 401, 200]);
}
