//! Hardening (issue 12): what a hostile review of the `fake-clamd` binary found, one test per
//! item. Limits semantics (item 3) are differential against the real clamd in the oracle
//! case table (`limits_*` profiles, replayed by `clamd-oracle`'s tests); the tests here check
//! the fake on its own, so they run without clamd too.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use common::exits_2_saying;

struct Daemon {
    child: Child,
    tcp: String,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Daemon {
    fn pid(&self) -> Pid {
        Pid::from_raw(i32::try_from(self.child.id()).expect("pid"))
    }

    fn signal(&self, sig: Signal) {
        kill(self.pid(), sig).expect("signal our own child");
    }

    /// Waits (bounded) for the process to exit.
    fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Some(st) = self.child.try_wait().expect("try_wait") {
                return Some(st);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }
}

fn bin() -> Command {
    Command::new(assert_cmd::cargo::cargo_bin("fake-clamd"))
}

fn write_conf(dir: &Path, extra: &str) -> std::path::PathBuf {
    let conf = dir.join("clamd.conf");
    std::fs::write(
        &conf,
        format!("TCPSocket 0\nTCPAddr 127.0.0.1\nForeground yes\n{extra}"),
    )
    .expect("write conf");
    conf
}

fn spawn(conf: &Path) -> Daemon {
    let (child, said) = fixtures::daemon::start_announcing(
        bin().arg("-c").arg(conf).stderr(Stdio::null()),
        &["LISTENING tcp "],
    );
    let tcp = said[0].clone();
    assert!(!tcp.is_empty(), "no LISTENING tcp address");
    Daemon { child, tcp }
}

/// A daemon listening on TCP and on a unix socket in `dir` (its path returned too).
fn spawn_with_local_socket(dir: &Path) -> (Daemon, std::path::PathBuf) {
    let sock = dir.join("s.sock");
    let conf = write_conf(dir, &format!("LocalSocket {}\n", sock.display()));
    (spawn(&conf), sock)
}

fn talk(addr: &str, req: &[u8], timeout: Duration) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(timeout)).expect("timeout");
    s.write_all(req).expect("write");
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    out
}

/// Hardening item 2: `/proc/self/pagemap` claims 0 bytes and reads 256 GiB. clamd reads a file
/// by its stat size and answers OK at once; so must the fake, through SCAN and FILDES.
#[test]
fn hardening_2_file_that_lies_about_its_size_is_answered_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (d, sock) = spawn_with_local_socket(dir.path());
    for cmd in ["SCAN", "CONTSCAN", "MULTISCAN", "ALLMATCHSCAN"] {
        let t = Instant::now();
        let reply = talk(
            &d.tcp,
            format!("z{cmd} /proc/self/pagemap\0").as_bytes(),
            Duration::from_secs(10),
        );
        assert_eq!(reply, b"/proc/self/pagemap: OK\0", "{cmd}");
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "{cmd} took {:?}",
            t.elapsed()
        );
    }
    // CLAMD-FILDES-2 with a descriptor of the same kind
    let file = std::fs::File::open("/proc/self/pagemap").expect("open pagemap");
    let mut u = UnixStream::connect(&sock).expect("connect unix");
    u.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let t = Instant::now();
    send_with_fds(&u, b"zFILDES\0X", &[std::os::fd::AsRawFd::as_raw_fd(&file)]);
    let mut out = Vec::new();
    let _ = u.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out);
    assert!(
        text.starts_with("fd[") && text.ends_with("]: OK\0"),
        "FILDES reply {text:?}"
    );
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "FILDES took {:?}",
        t.elapsed()
    );
}

/// Hardening item 2: a shutdown interrupts scans in progress. A 64 GiB sparse file with no
/// size limits would take a minute to scan; SIGTERM must end the daemon within seconds.
#[test]
fn hardening_2_sigterm_interrupts_a_long_scan() {
    let dir = tempfile::tempdir().expect("tempdir");
    let big = dir.path().join("sparse.bin");
    std::fs::File::create(&big)
        .and_then(|f| f.set_len(64 << 30))
        .expect("sparse file");
    let conf = write_conf(dir.path(), "MaxFileSize 0\nMaxScanSize 0\n");
    let mut d = spawn(&conf);
    let addr = d.tcp.clone();
    let path = big.display().to_string();
    let client = std::thread::spawn(move || {
        talk(
            &addr,
            format!("zSCAN {path}\0").as_bytes(),
            Duration::from_secs(30),
        )
    });
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        d.child.try_wait().expect("try_wait").is_none(),
        "daemon died before SIGTERM"
    );
    let t = Instant::now();
    d.signal(Signal::SIGTERM);
    let status = d.wait_exit(Duration::from_secs(10));
    assert!(
        status.is_some(),
        "fake-clamd still running 10 s after SIGTERM during a scan"
    );
    println!("exit {:?} after SIGTERM in {:?}", status, t.elapsed());
    let reply = client.join().expect("client");
    assert!(
        !reply.ends_with(b": OK\0"),
        "an interrupted scan must not be reported clean: {reply:?}"
    );
}

/// Hardening item 4: clamd keeps serving after SIGHUP (re-opens its log), SIGUSR1 (ignored)
/// and SIGUSR2 (reloads the database); the fake died of each.
#[test]
fn hardening_4_sighup_sigusr1_sigusr2_keep_the_daemon_serving() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("clamd.log");
    let conf = write_conf(dir.path(), &format!("LogFile {}\n", log.display()));
    let mut d = spawn(&conf);
    for sig in [Signal::SIGHUP, Signal::SIGUSR1, Signal::SIGUSR2] {
        d.signal(sig);
        std::thread::sleep(Duration::from_millis(100));
        assert!(
            d.child.try_wait().expect("try_wait").is_none(),
            "fake-clamd exited on {sig}"
        );
        assert_eq!(
            talk(&d.tcp, b"zPING\0", Duration::from_secs(5)),
            b"PONG\0",
            "after {sig}"
        );
    }
    // logrotate: the log was moved away; SIGHUP makes the daemon write a new one
    let rotated = dir.path().join("clamd.log.1");
    std::fs::rename(&log, &rotated).expect("rotate");
    d.signal(Signal::SIGHUP);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !log.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(log.exists(), "SIGHUP did not re-open LogFile");
    assert_eq!(talk(&d.tcp, b"zPING\0", Duration::from_secs(5)), b"PONG\0");
}

/// Hardening item 5: `-c /dev/zero` grew to 4 GB; a config file is a regular file of bounded
/// size, anything else is refused at once with exit 2.
#[test]
fn hardening_5_config_from_dev_zero_or_a_huge_file_is_refused_quickly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let huge = dir.path().join("huge.conf");
    std::fs::write(&huge, vec![b'#'; 2 << 20]).expect("write");
    let fifo = dir.path().join("fifo.conf");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).expect("mkfifo");
    for path in [Path::new("/dev/zero"), huge.as_path(), fifo.as_path()] {
        let t = Instant::now();
        exits_2_saying(
            bin().arg("-c").arg(path).stdin(Stdio::null()),
            &format!("ERROR: Can't open/parse the config file {}", path.display()),
        );
        assert!(t.elapsed() < Duration::from_secs(5), "{}", path.display());
    }
}

/// Hardening item 11: clamd refuses `MaxThreads 0` at start-up (`thrmgr_new failed`).
#[test]
fn hardening_11_max_threads_0_is_refused_at_startup() {
    let dir = tempfile::tempdir().expect("tempdir");
    let conf = write_conf(dir.path(), "MaxThreads 0\n");
    let child = bin()
        .arg("-c")
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut d = Daemon {
        child,
        tcp: String::new(),
    };
    let status = d.wait_exit(Duration::from_secs(10));
    assert_eq!(
        status.and_then(|s| s.code()),
        Some(2),
        "must refuse to start"
    );
    let mut err = String::new();
    if let Some(mut e) = d.child.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    assert!(err.contains("ERROR: thrmgr_new failed"), "{err}");
}

/// Hardening item 3 (fail-open): `MaxFileSize 0` means no limit on clamd; the fake answered OK
/// for every file, EICAR included. Also `StreamMaxLength 0` (no limit) and `MaxScanSize 0`.
#[test]
fn hardening_3_zero_limits_mean_unlimited_never_clean_by_default() {
    let dir = tempfile::tempdir().expect("tempdir");
    let eicar = dir.path().join("eicar.com");
    std::fs::write(&eicar, scan_engine::eicar()).expect("write");
    let conf = write_conf(
        dir.path(),
        "MaxFileSize 0\nMaxScanSize 0\nStreamMaxLength 0\n",
    );
    let d = spawn(&conf);
    let reply = talk(
        &d.tcp,
        format!("zSCAN {}\0", eicar.display()).as_bytes(),
        Duration::from_secs(10),
    );
    assert!(
        reply.ends_with(b" FOUND\0"),
        "{}",
        String::from_utf8_lossy(&reply)
    );
    let e = scan_engine::eicar();
    let req = fixtures::clamd_wire::instream(&e);
    let reply = talk(&d.tcp, &req, Duration::from_secs(10));
    assert!(
        reply.starts_with(b"stream: ") && reply.ends_with(b" FOUND\0"),
        "{}",
        String::from_utf8_lossy(&reply)
    );
}

/// Sends `bytes` with `fds` as one SCM_RIGHTS message.
fn send_with_fds(u: &UnixStream, bytes: &[u8], fds: &[std::os::fd::RawFd]) {
    let iov = [std::io::IoSlice::new(bytes)];
    let cmsg = [nix::sys::socket::ControlMessage::ScmRights(fds)];
    nix::sys::socket::sendmsg::<()>(
        std::os::fd::AsRawFd::as_raw_fd(u),
        &iov,
        &cmsg,
        nix::sys::socket::MsgFlags::empty(),
        None,
    )
    .expect("sendmsg");
}

/// Waits (bounded) until the peer has read everything sent on `u` (its send queue is empty:
/// the descriptors in it have reached the reader's table).
fn wait_until_read(u: &UnixStream) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut queued: libc::c_int = 0;
        // SAFETY: TIOCOUTQ (= SIOCOUTQ) writes one int, the bytes not yet read by the peer.
        let rc = unsafe {
            libc::ioctl(
                std::os::fd::AsRawFd::as_raw_fd(u),
                libc::TIOCOUTQ,
                &mut queued,
            )
        };
        assert_eq!(rc, 0, "ioctl TIOCOUTQ");
        if queued == 0 || Instant::now() > deadline {
            assert_eq!(queued, 0, "the daemon did not read what was sent");
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// How many descriptors process `pid` holds.
fn open_fds(pid: Pid) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("read /proc/<pid>/fd")
        .count()
}

/// Hardening (session 10, CLAMD-FILDES-1, CLAMD-FILDES-4): descriptors a peer passes cannot
/// fill the daemon's table. As clamd 1.4.6: a descriptor must come with the FILDES request's
/// last bytes, and one passed with anything else that leaves bytes waiting is refused and
/// the connection closed; a control message of two descriptors is ignored (clamd then keeps
/// both open, a leak the fake does not copy) and one of more is a read error that ends the
/// connection. The fake closes every descriptor the kernel installed for it. Before, 300
/// messages of one descriptor each left 300 open in the daemon, and a message of 200 left
/// the 8 the reader took open, unowned.
#[test]
fn hardening_passed_descriptors_cannot_fill_the_daemons_table() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (d, sock) = spawn_with_local_socket(dir.path());
    let file = std::fs::File::open("/proc/self/pagemap").expect("open a file to pass");
    let raw = std::os::fd::AsRawFd::as_raw_fd(&file);
    let wait_for = |want: &dyn Fn(usize) -> bool| {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut n = open_fds(d.pid());
        while !want(n) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
            n = open_fds(d.pid());
        }
        n
    };
    let idle = open_fds(d.pid());
    let reply_to = |bytes: &[u8], fds: &[std::os::fd::RawFd]| {
        let mut u = UnixStream::connect(&sock).expect("connect unix");
        u.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        send_with_fds(&u, bytes, fds);
        let mut out = Vec::new();
        let _ = u.read_to_end(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    };

    // one descriptor with bytes that never complete a command: refused at once
    let u = UnixStream::connect(&sock).expect("connect unix");
    send_with_fds(&u, b"x", &[raw]);
    wait_until_read(&u);
    drop(u);
    for _ in 0..100 {
        let r = reply_to(b"zFIL", &[raw]);
        assert_eq!(
            r, "PROTOCOL ERROR: ancillary data sent without FILDES. ERROR\0",
            "{r:?}"
        );
    }
    // two in one message: ignored, and closed
    for _ in 0..100 {
        let r = reply_to(b"zFILDES\0X", &[raw, raw]);
        assert_eq!(r, "No file descriptor received. ERROR\0", "{r:?}");
    }
    let after = wait_for(&|n| n <= idle);
    assert!(after <= idle, "{after} open after 200 refused, {idle} idle");

    // 200 descriptors in one message: the connection ends, nothing stays open
    let r = reply_to(b"zFILDES\0X", &[raw; 200]);
    assert!(r.is_empty(), "{r:?}");
    let after = wait_for(&|n| n <= idle);
    assert!(
        after <= idle,
        "{after} open after 200 passed at once, {idle} idle"
    );

    // and the daemon still scans a descriptor passed the usual way
    let text = reply_to(b"zFILDES\0X", &[raw]);
    assert!(
        text.starts_with("fd[") && text.ends_with("]: OK\0"),
        "{text:?}"
    );
}
