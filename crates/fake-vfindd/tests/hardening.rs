//! Issue 12: a hostile peer and a careless operator (hardening items 1-8). Every test is
//! bounded in time; the binary tests kill their own child by handle.

mod common;

use common::*;
use fake_vfindd::FakeDaemon;
use fake_vfindd::FakeVfindd;
use sha1::{Digest, Sha1};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_fake-vfindd");

fn cpath(p: &Path) -> std::ffi::CString {
    std::ffi::CString::new(p.as_os_str().as_bytes()).unwrap()
}

/// Swaps two names atomically (renameat2 RENAME_EXCHANGE).
fn exchange(a: &std::ffi::CStr, b: &std::ffi::CStr) {
    // SAFETY: two valid NUL-terminated paths; the call only renames.
    unsafe {
        libc::syscall(
            libc::SYS_renameat2,
            libc::AT_FDCWD,
            a.as_ptr(),
            libc::AT_FDCWD,
            b.as_ptr(),
            libc::RENAME_EXCHANGE,
        );
    }
}

/// Hardening item 1 (SVSP-NAME-4, CL-7): while a peer swaps a directory inside the root
/// with a symlink to an outside directory holding an infected file, FILE, FILE on the
/// directory (tree walk) and FILE-SHA1 never see the outside file, with or without
/// `--follow-symlinks`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hardening_1_scan_root_symlink_swap_race_never_escapes() {
    let d = tempfile::tempdir().unwrap();
    let base = d.path().canonicalize().unwrap();
    let root = base.join("root");
    write(&root.join("d/x"), b"clean inside");
    write(&base.join("outside/x"), &eicar());
    std::os::unix::fs::symlink(base.join("outside"), root.join("l")).unwrap();
    let outside_sha1 = hex::encode(Sha1::digest(eicar()));
    let (cd, cl) = (cpath(&root.join("d")), cpath(&root.join("l")));
    for follow in [false, true] {
        let s = FakeVfindd::builder()
            .threads(2)
            .scan_root(&root)
            .follow_symlinks(follow)
            .start()
            .await
            .unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let swapper = {
            let (stop, cd, cl) = (stop.clone(), cd.clone(), cl.clone());
            std::thread::spawn(move || {
                let end = Instant::now() + Duration::from_secs(10);
                while !stop.load(Ordering::Relaxed) && Instant::now() < end {
                    exchange(&cd, &cl);
                }
            })
        };
        let mut c = Client::connect(s.addr()).await;
        let r = root.display();
        let cmds = [
            format!("SCAN/FILE {r}/d/x"),
            "SCAN/FILE d/x".to_string(),
            format!("SCAN/FILE {r}/d"),
            format!("SCAN/FILE-SHA1 {r}/d/x"),
        ];
        let (mut requests, mut clean) = (0u32, 0u32);
        let end = Instant::now() + Duration::from_millis(1500);
        while Instant::now() < end {
            for cmd in &cmds {
                c.send(cmd).await;
                let lines = c.until_terminal("").await;
                requests += 1;
                let last = lines.last().unwrap();
                assert!(
                    !lines.iter().any(|l| l.contains("INFECTED")) && !last.contains(&outside_sha1),
                    "escape (follow={follow}) on {cmd}: {lines:?}"
                );
                clean += u32::from(last.starts_with("DONE 0"));
            }
        }
        stop.store(true, Ordering::Relaxed);
        swapper.join().unwrap();
        // the race really ran: some requests found the inside file, in both states
        assert!(
            requests > 100 && clean > 0,
            "{requests} requests, {clean} clean"
        );
        s.shutdown();
        s.stopped().await;
    }
}

/// Hardening item 2: a file that claims size 0 but reads without end (/proc/self/pagemap)
/// is read by its size and answered at once; a FIFO target does not hang a worker; a file
/// over `--max-file-size` is not read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hardening_2_proc_self_pagemap_and_fifo_are_answered_within_a_second() {
    let d = tempfile::tempdir().unwrap();
    let fifo = d.path().join("fifo");
    // SAFETY: valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(cpath(&fifo).as_ptr(), 0o600) }, 0);
    write(&d.path().join("big"), &[b'a'; 100]);
    let (_s, mut c) = connected(FakeVfindd::builder().max_file_bytes(99)).await;
    let dir = d.path().display();
    let cases = [
        (
            "SCAN/FILE /proc/self/pagemap".to_string(),
            "DONE 0 : \"/proc/self/pagemap\"".to_string(),
        ),
        (
            format!("SCAN/FILE {dir}/fifo"),
            format!("EACCES \"{dir}/fifo\""),
        ),
        (
            format!("SCAN/FILE {dir}/big"),
            format!("EINVAL Size limit exceeded: \"{dir}/big\""),
        ),
    ];
    for (cmd, want) in cases {
        let t = Instant::now();
        c.send(&cmd).await;
        let lines = tokio::time::timeout(Duration::from_secs(1), c.until_terminal(""))
            .await
            .unwrap_or_else(|_| panic!("{cmd}: no answer within a second"));
        assert_eq!(lines.last().unwrap(), &want, "{cmd}");
        assert!(t.elapsed() < Duration::from_secs(1));
    }
}

/// Hardening item 2: stopping the server interrupts a scan in progress (a 1 TiB sparse
/// file) within a bounded time, so the runtime can shut down.
#[test]
fn hardening_2_stop_interrupts_a_scan_in_progress() {
    let d = tempfile::tempdir().unwrap();
    let f = std::fs::File::create(d.path().join("huge")).unwrap();
    f.set_len(1 << 40).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let root = d.path().to_path_buf();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let t = rt.block_on(async {
            let s = FakeVfindd::builder()
                .scan_root(&root)
                .max_file_bytes(u64::MAX)
                .start()
                .await
                .unwrap();
            let mut c = Client::connect(s.addr()).await;
            c.send("SCAN/FILE huge").await;
            assert_eq!(c.line().await.as_deref(), Some("QUEUED"));
            tokio::time::sleep(Duration::from_millis(300)).await;
            let t = Instant::now();
            s.shutdown();
            s.stopped().await;
            t
        });
        drop(rt); // waits for the blocking scan thread
        let _ = tx.send(t.elapsed());
    });
    let took = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the scan was not interrupted: runtime still waiting after 10 s");
    assert!(took < Duration::from_secs(2), "stop took {took:?}");
}

/// A spawned `fake-vfindd`, killed on drop.
struct Daemon {
    child: Child,
    port: u16,
    stderr: std::sync::mpsc::Receiver<String>,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(args: &[&str]) -> Daemon {
    let mut child = Command::new(BIN)
        .args(["--svsp-port", "0"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, stderr) = std::sync::mpsc::channel();
    let err = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for l in BufReader::new(err).lines().map_while(Result::ok) {
            let _ = tx.send(l);
        }
    });
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let port = line
        .trim()
        .strip_prefix("LISTENING ")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no LISTENING line: {line:?}"));
    Daemon {
        child,
        port,
        stderr,
    }
}

fn greet(port: u16) -> Vec<u8> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = vec![0u8; 64];
    let n = s.read(&mut buf).unwrap_or(0);
    buf.truncate(n);
    buf
}

/// Runs the binary to its exit, bounded: (exit code, stderr).
fn run_to_exit(args: &[&str]) -> (Option<i32>, String) {
    let mut child = Command::new(BIN)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let end = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            let mut err = String::new();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            return (st.code(), err);
        }
        if Instant::now() > end {
            let _ = child.kill();
            let _ = child.wait();
            panic!("fake-vfindd {args:?} did not exit within 5 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Hardening item 3: SIGHUP, SIGUSR1 and SIGUSR2 are survived; the daemon still greets.
#[test]
fn hardening_3_sighup_sigusr1_sigusr2_do_not_kill_the_daemon() {
    let mut d = spawn(&[]);
    let pid = libc::pid_t::try_from(d.child.id()).unwrap();
    for sig in [libc::SIGHUP, libc::SIGUSR1, libc::SIGUSR2] {
        // SAFETY: signalling our own child by its pid.
        assert_eq!(unsafe { libc::kill(pid, sig) }, 0);
        std::thread::sleep(Duration::from_millis(100));
        assert!(
            d.child.try_wait().unwrap().is_none(),
            "signal {sig} killed the daemon"
        );
        assert_eq!(greet(d.port), b"READY\r\n", "after signal {sig}");
    }
}

/// Hardening item 4: a port in use is exit 2 with one clear line.
#[test]
fn hardening_4_port_in_use_exits_2_with_one_line() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port().to_string();
    let (code, err) = run_to_exit(&["--svsp-port", &port]);
    assert_eq!(code, Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("cannot listen on 127.0.0.1:") && err.contains("in use"),
        "{err}"
    );
}

/// Hardening item 5: `--scan-root` naming a regular file is refused at start-up.
#[test]
fn hardening_5_scan_root_regular_file_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("file");
    write(&f, b"x");
    let (code, err) = run_to_exit(&["--svsp-port", "0", "--scan-root", f.to_str().unwrap()]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("--scan-root") && err.contains("not a directory"),
        "{err}"
    );
}

/// Hardening item 6: `--allow ""` is refused at start-up instead of denying everyone.
#[test]
fn hardening_6_empty_allow_list_is_refused_at_start_up() {
    let (code, err) = run_to_exit(&["--svsp-port", "0", "--allow", ""]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--allow lists no network"), "{err}");
}

/// Hardening item 7: with a connection cap, idle sockets are closed after the idle
/// timeout and a new client is then greeted; start-up says what is refused; the default
/// idle timeout is 60 s.
#[test]
fn hardening_7_idle_sockets_are_closed_and_a_new_client_is_greeted() {
    let d = spawn(&["--max-connections", "2", "--idle-timeout", "0.5"]);
    let summary = d.stderr.recv_timeout(Duration::from_secs(5)).unwrap();
    assert!(
        summary.contains("127.0.0.0/8,::1/128")
            && summary.contains("DENIED beyond 2 connections")
            && summary.contains("closed after 0.5s"),
        "{summary}"
    );
    let idle: Vec<TcpStream> = (0..2)
        .map(|_| {
            let mut s = TcpStream::connect(("127.0.0.1", d.port)).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut b = [0u8; 7];
            s.read_exact(&mut b).unwrap();
            assert_eq!(&b, b"READY\r\n");
            s
        })
        .collect();
    assert_eq!(greet(d.port), b"DENIED\r\n", "the cap is reached");
    for mut s in idle {
        let mut b = [0u8; 8];
        assert_eq!(
            s.read(&mut b).unwrap_or(0),
            0,
            "idle socket closed silently"
        );
    }
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(greet(d.port), b"READY\r\n");
    let def = spawn(&[]);
    let summary = def.stderr.recv_timeout(Duration::from_secs(5)).unwrap();
    assert!(summary.contains("closed after 60s"), "{summary}");
}

/// Hardening item 8: the `--faults` file is bounded: a FIFO does not block start-up and
/// an oversized file is refused, both with exit 2.
#[test]
fn hardening_8_faults_file_is_bounded() {
    let d = tempfile::tempdir().unwrap();
    let fifo = d.path().join("fifo");
    // SAFETY: valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(cpath(&fifo).as_ptr(), 0o600) }, 0);
    let (code, err) = run_to_exit(&["--svsp-port", "0", "--faults", fifo.to_str().unwrap()]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("not a regular file"), "{err}");
    let big = d.path().join("big.toml");
    let mut f = std::fs::File::create(&big).unwrap();
    for _ in 0..(2 << 10) {
        f.write_all(&[b'#'; 1024]).unwrap();
        f.write_all(b"\n").unwrap();
    }
    drop(f);
    let (code, err) = run_to_exit(&["--svsp-port", "0", "--faults", big.to_str().unwrap()]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("larger than"), "{err}");
}
