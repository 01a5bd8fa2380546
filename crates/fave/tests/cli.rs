//! `fave-scan` end to end (assert_cmd): verdict lines, exit codes, --json, --stats, --trace,
//! stdin, environment configuration and flag precedence, bad flags.

mod common;

use assert_cmd::Command;
use common::*;
use nix::sys::stat::Mode;
use predicates::prelude::*;

fn bin() -> Command {
    let mut c = Command::cargo_bin("fave-scan").unwrap();
    c.env_remove("FL_FAVE_PARAMETER")
        .env_remove("FL_CLAMAV_CONNECTION");
    c
}

/// A scripted clamd session answering each INSTREAM: infected if the data contains EICAR.
fn scripted_clamd(
    l: Listener,
    scans: usize,
) -> (fave::Address, std::thread::JoinHandle<((), Vec<u8>)>) {
    serve(l, move |p| {
        let cmd = p.read_command().unwrap();
        let z = cmd[0] == b'z';
        let t: &[u8] = if z { b"\0" } else { b"\n" };
        for id in 1..=scans {
            p.read_command().unwrap();
            let (d, _) = p.read_stream().unwrap();
            let body = if d.windows(68).any(|w| w == eicar().as_slice()) {
                "stream: Test.Sig FOUND".to_string()
            } else {
                "stream: OK".to_string()
            };
            // one write, so that the trace shows the reply as one read
            let mut rec = format!("{id}: {body}").into_bytes();
            rec.extend_from_slice(t);
            p.send(&rec);
        }
        // END (CLAMD-SESSION-7), then close like clamd does
        let _ = p.read_command();
    })
}

fn addr_arg(a: &fave::Address) -> String {
    a.to_string()
}

#[test]
fn cli_exit_codes_and_result_lines() {
    let dir = tempfile::tempdir().unwrap();
    let clean = tmp_file(&dir, "clean.txt", b"hello");
    let bad = tmp_file(&dir, "eicar.com", &eicar());
    let (addr, h) = scripted_clamd(Listener::tcp(), 1);
    bin()
        .args(["--clamd", &addr_arg(&addr)])
        .arg(&clean)
        .assert()
        .code(0)
        .stdout(format!("{}: OK\n", clean.display()));
    h.join().unwrap();
    let (addr, h) = scripted_clamd(Listener::tcp(), 2);
    bin()
        .args(["--clamd", &addr_arg(&addr)])
        .arg(&clean)
        .arg(&bad)
        .assert()
        .code(1)
        .stdout(format!(
            "{}: OK\n{}: Test.Sig FOUND\n",
            clean.display(),
            bad.display()
        ));
    h.join().unwrap();
    // a missing file is an error line, and errors win over infections (exit 2)
    let (addr, h) = scripted_clamd(Listener::tcp(), 1);
    bin()
        .args(["--clamd", &addr_arg(&addr)])
        .arg(&bad)
        .arg(dir.path().join("missing"))
        .assert()
        .code(2)
        .stdout(
            predicate::str::contains("Test.Sig FOUND\n")
                .and(predicate::str::contains("missing: local I/O")),
        );
    h.join().unwrap();
}

#[test]
fn cli_daemon_down_is_exit_2() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    let dir = tempfile::tempdir().unwrap();
    let f = tmp_file(&dir, "a", b"x");
    bin()
        .args(["--clamd", &format!("127.0.0.1:{port}")])
        .arg(&f)
        .assert()
        .code(2)
        .stdout(
            predicate::str::contains(": cannot connect to 127.0.0.1")
                .and(predicate::str::ends_with(" ERROR\n")),
        );
}

#[test]
fn cli_stdin_json_stats_and_trace_over_unix_socket() {
    let (addr, h) = scripted_clamd(Listener::unix(), 1);
    let out = bin()
        .args([
            "--clamd",
            &addr_arg(&addr),
            "--json",
            "--stats",
            "--trace",
            "--chunk-size",
            "3",
            "-",
        ])
        .write_stdin(b"0123456789".to_vec())
        .assert()
        .code(0)
        .get_output()
        .clone();
    h.join().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(v["file"], "stdin");
    assert_eq!(v["verdict"], "clean");
    assert_eq!(v["stats"]["bytes"], 10);
    assert_eq!(v["stats"]["chunks"], 4, "10 bytes in chunks of 3");
    assert_eq!(v["stats"]["round_trips"], 1);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("C> [control] zIDSESSION\\0"), "{stderr}");
    assert!(
        stderr.contains("C> [control] [chunk header \\0\\0\\0\\x03 + 3 bytes]"),
        "{stderr}"
    );
    assert!(stderr.contains("S< [control] 1: stream: OK\\0"), "{stderr}");
    assert!(stderr.contains("C> [control] zEND\\0"), "{stderr}");
}

#[test]
fn cli_stats_text_on_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let f = tmp_file(&dir, "a", &[7u8; 1000]);
    let (addr, h) = scripted_clamd(Listener::tcp(), 1);
    bin()
        .args(["--clamd", &addr_arg(&addr), "--stats"])
        .arg(&f)
        .assert()
        .code(0)
        .stderr(
            predicate::str::contains("bytes=1000 chunks=1 round_trips=1 connections=1").and(
                predicate::str::contains("total: files=1 infected=0 errors=0 bytes=1000"),
            ),
        );
    h.join().unwrap();
}

/// FAVE-1/2: FL_FAVE_PARAMETER over FL_CLAMAV_CONNECTION; flags override both.
#[test]
fn cli_env_configuration_and_precedence() {
    let dir = tempfile::tempdir().unwrap();
    let f = tmp_file(&dir, "a", b"x");
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    // each row: where the working address goes; the other places name a dead port
    let dead = format!("127.0.0.1:{dead}");
    // (what, how the live address and the dead one are given)
    type Configure = fn(&mut Command, &str, &str);
    let rows: [(&str, Configure); 3] = [
        ("FL_CLAMAV_CONNECTION alone", |c, live, _| {
            c.env("FL_CLAMAV_CONNECTION", live);
        }),
        (
            "FL_FAVE_PARAMETER (with timeout part) wins over FL_CLAMAV_CONNECTION",
            |c, live, dead| {
                c.env("FL_CLAMAV_CONNECTION", dead)
                    .env("FL_FAVE_PARAMETER", format!("{live}:5"));
            },
        ),
        ("the flag wins over both", |c, live, dead| {
            c.env("FL_FAVE_PARAMETER", dead).args(["--clamd", live]);
        }),
    ];
    for (what, configure) in rows {
        let (addr, h) = scripted_clamd(Listener::tcp(), 1);
        let mut cmd = bin();
        configure(&mut cmd, &addr_arg(&addr), &dead);
        let out = cmd.arg(&f).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "FAVE-1/2, {what}: {out:?}");
        h.join().unwrap();
    }
    // a bad parameter string: one clear message, exit 2
    bin()
        .env("FL_FAVE_PARAMETER", "host:notaport")
        .arg(&f)
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("FL_FAVE_PARAMETER").and(predicate::str::contains("bad port")),
        );
}

#[test]
fn cli_bad_flags_exit_2() {
    bin().assert().code(2);
    bin()
        .args(["--clamd", "a:1", "--svsp", "b:2", "f"])
        .assert()
        .code(2);
    bin()
        .args(["--clamd", "a:1", "--chunk-size", "0", "f"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("chunk size"));
    bin()
        .args(["--clamd", "a:1", "--timeout", "-1", "f"])
        .assert()
        .code(2);
    bin()
        .args(["--svsp", "unix:/x", "f"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("TCP only"));
    bin()
        .arg("--help")
        .assert()
        .code(0)
        .stdout(predicate::str::contains("FL_FAVE_PARAMETER"));
}

/// The SVSP side of the CLI against the in-process fake vfindd.
#[test]
fn cli_svsp_sources_against_fake_vfindd() {
    let rt = runtime();
    let fake = rt
        .block_on(fake_vfindd::FakeVfindd::builder().start())
        .unwrap();
    let addr = format!("127.0.0.1:{}", fake.port());
    let dir = tempfile::tempdir().unwrap();
    let clean = tmp_file(&dir, "clean.txt", b"hello");
    let bad = tmp_file(&dir, "eicar.com", &eicar());
    for src in ["request", "port", "file", "file-sha1"] {
        bin()
            .args(["--svsp", &addr, "--svsp-source", src])
            .arg(&clean)
            .arg(&bad)
            .assert()
            .code(1)
            .stdout(format!(
                "{}: OK\n{}: CVDL DOS/EICAR.Test FOUND\n",
                clean.display(),
                bad.display()
            ));
    }
    let out = bin()
        .args(["--svsp", &addr, "--svsp-source", "file-sha1", "--json"])
        .arg(&bad)
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["sha1"], "3395856ce81f2b7382dee72602f798b642f14140");
    assert_eq!(v["names"][0], "CVDL DOS/EICAR.Test");
    drop(fake);
}

/// `--pipeline` against the fake clamd holding replies until END (session-order reverse).
#[test]
fn cli_pipeline_against_fake_clamd_reverse_order() {
    let rt = runtime();
    let fake = rt
        .block_on(
            fake_clamd::FakeClamd::builder()
                .session_order(fake_clamd::SessionOrder::Reverse)
                .start(),
        )
        .unwrap();
    let addr = fake.addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let clean = tmp_file(&dir, "clean.txt", b"hello");
    let bad = tmp_file(&dir, "eicar.com", &eicar());
    let out = bin()
        .args(["--clamd", &addr, "--pipeline", "--json"])
        .arg(&bad)
        .arg(&clean)
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let lines: Vec<serde_json::Value> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["verdict"], "infected");
    assert_eq!(lines[1]["verdict"], "clean");
    bin()
        .args(["--clamd", &addr, "--pipeline", "-"])
        .assert()
        .code(2);
    drop(fake);
}

/// A clamd that accepts and then says nothing: the scan can only end by our own deadline.
fn silent_clamd() -> (String, std::thread::JoinHandle<()>) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let h = std::thread::spawn(move || {
        l.set_nonblocking(false).unwrap();
        if let Ok((s, _)) = l.accept() {
            // hold the connection (reading nothing back) until the client goes away
            let _ = s.set_read_timeout(Some(std::time::Duration::from_secs(10)));
            let mut sink = Vec::new();
            let _ = std::io::Read::read_to_end(&mut &s, &mut sink);
        }
    });
    (addr, h)
}

/// Runs fave-scan with `--scan-timeout 1`, waiting at most 8 s (then kills it by pid):
/// (exit code, elapsed, stdout).
fn run_bounded(
    args: &[&std::ffi::OsStr],
    stdin: std::process::Stdio,
) -> (Option<i32>, std::time::Duration, String) {
    use std::time::{Duration, Instant};
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_fave-scan"))
        .args(args)
        .env_remove("FL_FAVE_PARAMETER")
        .env_remove("FL_CLAMAV_CONNECTION")
        .stdin(stdin)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let code = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st.code();
        }
        if start.elapsed() > Duration::from_secs(8) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("fave-scan still running after 8 s with --scan-timeout 1");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let elapsed = start.elapsed();
    let mut out = String::new();
    if let Some(mut o) = child.stdout.take() {
        let _ = std::io::Read::read_to_string(&mut o, &mut out);
    }
    (code, elapsed, out)
}

/// Hardening item 9 (FAVE scan timeout "from open to verdict", CLAMD-CLIENT-10): a silent
/// stdin pipe (`sleep 14 | fave-scan --scan-timeout 1 -`) ends in a timeout error, exit 2,
/// within the deadline; never clean, never a hang.
#[test]
fn cli_scan_timeout_covers_a_silent_stdin() {
    let (addr, h) = silent_clamd();
    // The write end stays open (and silent) for the whole run, like `sleep 14 |`.
    let (reader, writer) = std::io::pipe().unwrap();
    let (code, elapsed, out) = run_bounded(
        &[
            "--clamd".as_ref(),
            addr.as_ref(),
            "--scan-timeout".as_ref(),
            "1".as_ref(),
            "-".as_ref(),
        ],
        reader.into(),
    );
    drop(writer);
    assert_eq!(code, Some(2), "{out}");
    assert!(
        out.starts_with("stdin: timeout: whole scan (reading stdin)") && out.ends_with("ERROR\n"),
        "{out}"
    );
    assert!(elapsed < std::time::Duration::from_secs(4), "{elapsed:?}");
    h.join().unwrap();
}

/// Hardening item 9: a FIFO without a writer blocks already in open(2); the scan timeout
/// covers it (exit 2 within the deadline), in the one-by-one and the --pipeline mode.
#[test]
fn cli_scan_timeout_covers_a_fifo_without_writer() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    nix::unistd::mkfifo(&fifo, Mode::S_IRUSR | Mode::S_IWUSR).expect("mkfifo");
    for pipeline in [false, true] {
        let (addr, h) = silent_clamd();
        let mut args: Vec<&std::ffi::OsStr> = vec![
            "--clamd".as_ref(),
            addr.as_ref(),
            "--scan-timeout".as_ref(),
            "1".as_ref(),
        ];
        if pipeline {
            args.push("--pipeline".as_ref());
        }
        args.push(fifo.as_os_str());
        let (code, elapsed, out) = run_bounded(&args, std::process::Stdio::null());
        assert_eq!(code, Some(2), "pipeline={pipeline}: {out}");
        assert!(
            out.contains(": timeout: whole scan (reading ") && out.ends_with("ERROR\n"),
            "pipeline={pipeline}: {out}"
        );
        // --pipeline first waits out the batch's deadline (nothing sent), then the FIFO's own.
        let bound = if pipeline { 6 } else { 4 };
        assert!(
            elapsed < std::time::Duration::from_secs(bound),
            "pipeline={pipeline}: {elapsed:?}"
        );
        drop(h);
    }
}
