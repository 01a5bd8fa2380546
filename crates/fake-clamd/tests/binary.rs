//! The `fake-clamd` binary: LISTENING lines, PING, SHUTDOWN, bad config; and clamdscan
//! against it when clamdscan is installed.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::exits_2_saying;
use fixtures::files::write_in;

fn bin() -> Command {
    Command::new(assert_cmd::cargo::cargo_bin("fake-clamd"))
}

struct Running {
    child: Child,
    tcp: String,
    unix: Option<String>,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the binary on `conf` and reads its LISTENING lines: TCP, and unix too when the
/// config has a LocalSocket.
fn spawn_listening(conf: &Path, with_unix: bool) -> Running {
    let mut child = bin()
        .arg("-c")
        .arg(conf)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn fake-clamd");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut tcp = None;
    let mut unix = None;
    while tcp.is_none() || (with_unix && unix.is_none()) {
        let line = lines.next().expect("a LISTENING line").expect("utf8");
        if let Some(a) = line.strip_prefix("LISTENING tcp ") {
            tcp = Some(a.to_string());
        } else if let Some(p) = line.strip_prefix("LISTENING unix ") {
            unix = Some(p.to_string());
        } else {
            panic!("unexpected stdout line {line:?}");
        }
    }
    Running {
        child,
        tcp: tcp.unwrap_or_default(),
        unix,
    }
}

fn spawn(conf: &Path) -> Running {
    spawn_listening(conf, true)
}

fn spawn_tcp_only(conf: &Path) -> Running {
    spawn_listening(conf, false)
}

fn talk(addr: &str, req: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(req).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    out
}

#[test]
fn binary_prints_listening_lines_and_answers_ping() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("clamd.sock");
    let conf = dir.path().join("clamd.conf");
    std::fs::write(
        &conf,
        format!(
            "# test\nTCPSocket 0\nTCPAddr 127.0.0.1\nLocalSocket {}\nForeground yes\n",
            sock.display()
        ),
    )
    .unwrap();
    let t = Instant::now();
    let mut r = spawn(&conf);
    let startup = t.elapsed();
    assert!(r.tcp.starts_with("127.0.0.1:"), "{}", r.tcp);
    assert_eq!(r.unix.as_deref(), Some(sock.to_str().unwrap()));
    assert_eq!(talk(&r.tcp, b"zPING\0"), b"PONG\0");
    let mut u = std::os::unix::net::UnixStream::connect(&sock).unwrap();
    u.write_all(b"nVERSION\n").unwrap();
    let mut out = Vec::new();
    u.read_to_end(&mut out).unwrap();
    assert_eq!(out, b"ClamAV 1.4.6\n");
    // CLAMD-CMD-5: SHUTDOWN => no reply, process exits 0, socket file removed
    assert_eq!(talk(&r.tcp, b"zSHUTDOWN\0"), b"");
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(st) = r.child.try_wait().unwrap() {
            break st;
        }
        assert!(
            Instant::now() < deadline,
            "fake-clamd did not exit after SHUTDOWN"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success());
    assert!(!sock.exists());
    println!("fake-clamd startup to LISTENING: {startup:?}");
}

#[test]
fn binary_bad_config_exits_2_with_clamds_message() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("c.conf");
    std::fs::write(&conf, "Example\nTCPSocket 0\n").unwrap();
    exits_2_saying(
        bin().arg(format!("--config-file={}", conf.display())),
        &format!(
            "ERROR: Please edit the example config file {}",
            conf.display()
        ),
    );
    std::fs::write(&conf, "Foreground yes\n").unwrap();
    exits_2_saying(
        bin().arg("-c").arg(&conf),
        "ERROR: Please define server type (local and/or TCP).",
    );
    let out = bin().arg("--no-such-flag").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = bin().args(["--stream-limit", "bogus"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// CLAMD issue 4 "done when": clamdscan against the fake.
#[test]
fn clamdscan_against_the_fake() {
    let clamdscan = Path::new("/usr/bin/clamdscan");
    if !clamdscan.exists() {
        if std::env::var("AVC_REQUIRE_CLAMD").as_deref() == Ok("1") {
            panic!("AVC_REQUIRE_CLAMD=1 but /usr/bin/clamdscan is missing");
        }
        println!("SKIP: /usr/bin/clamdscan not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("clamd.conf");
    std::fs::write(&conf, "TCPSocket 0\nTCPAddr 127.0.0.1\n").unwrap();
    let r = spawn_tcp_only(&conf);
    let port = r.tcp.rsplit(':').next().unwrap().to_string();
    let client_conf = dir.path().join("client.conf");
    std::fs::write(
        &client_conf,
        format!("TCPSocket {port}\nTCPAddr 127.0.0.1\n"),
    )
    .unwrap();

    let files = dir.path().join("files");
    std::fs::create_dir(&files).unwrap();
    let clean = files.join("clean.txt");
    std::fs::write(&clean, b"just text\n").unwrap();
    let eicar = files.join("eicar.com");
    std::fs::write(&eicar, scan_engine::eicar()).unwrap();
    let zipped = files.join("eicar.zip");
    {
        let f = std::fs::File::create(&zipped).unwrap();
        let mut z = zip::ZipWriter::new(f);
        z.start_file("inner/eicar.com", zip::write::SimpleFileOptions::default())
            .unwrap();
        z.write_all(&scan_engine::eicar()).unwrap();
        z.finish().unwrap();
    }
    let missing = files.join("missing.txt");

    let run = |extra: &[&str], path: &Path| {
        let out = Command::new(clamdscan)
            .arg(format!("--config-file={}", client_conf.display()))
            .arg("--no-summary")
            .args(extra)
            .arg(path)
            .output()
            .expect("run clamdscan");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    for mode in [&[][..], &["--stream"][..]] {
        let (code, out) = run(mode, &clean);
        assert_eq!(code, Some(0), "{mode:?} clean: {out}");
        assert!(out.contains(": OK"), "{out}");
        let (code, out) = run(mode, &eicar);
        assert_eq!(code, Some(1), "{mode:?} eicar: {out}");
        assert!(out.contains("Win.Test.EICAR_HDB-1 FOUND"), "{out}");
        let (code, out) = run(mode, &zipped);
        assert_eq!(code, Some(1), "{mode:?} zip: {out}");
        assert!(
            out.contains("eicar.zip: Win.Test.EICAR_HDB-1 FOUND"),
            "{out}"
        );
    }
    let (code, out) = run(&[], &missing);
    assert_eq!(code, Some(2), "missing: {out}");
}

/// clamd's `User`: started as root, the binary drops to that user after binding, so path
/// scans get that user's permission errors (CLAMD-SCAN-12).
#[test]
fn binary_drops_privileges_to_user() {
    if !nix::unistd::geteuid().is_root() {
        println!("SKIP: not root, nothing to drop");
        return;
    }
    if nix::unistd::User::from_name("nobody")
        .ok()
        .flatten()
        .is_none()
    {
        println!("SKIP: no user nobody");
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let secret = dir.path().join("secret.txt");
    std::fs::write(&secret, b"x").unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    let conf = dir.path().join("clamd.conf");
    std::fs::write(&conf, "TCPSocket 0\nTCPAddr 127.0.0.1\nUser nobody\n").unwrap();
    let r = spawn_tcp_only(&conf);
    let p = secret.display().to_string();
    assert_eq!(
        talk(&r.tcp, format!("zSCAN {p}\0").as_bytes()),
        format!("{p}: Access denied. ERROR\0").into_bytes()
    );
}

/// CLAMD-CONF-5: the clamd-style overrides `--config-file=PATH`, `--datadir=PATH`,
/// `--foreground` and `--debug` are accepted; once bound on port 0 the binary prints its
/// readiness line with the ephemeral port, and `--datadir` replaces the database (a scan
/// finds the signature that only the override directory holds).
#[test]
fn clamd_conf_5_command_line_overrides_and_readiness_line() {
    let dir = tempfile::tempdir().unwrap();
    let conf = write_in(dir.path(), "clamd.conf", "TCPSocket 0\nTCPAddr 127.0.0.1\n");
    // md5 of the marker file's bytes, size 28
    let hdb = "b7245660e939b6c00006ab9411935778:28:Test.Conf5.Datadir\n";
    let db = write_in(dir.path(), "db/conf5.hdb", hdb)
        .parent()
        .expect("db/")
        .to_path_buf();
    let marker = write_in(dir.path(), "marker.txt", b"clamd-conf-5 datadir marker\n");
    let mut child = bin()
        .arg(format!("--config-file={}", conf.display()))
        .arg(format!("--datadir={}", db.display()))
        .arg("--foreground")
        .arg("--debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn fake-clamd");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let line = lines.next().expect("a readiness line").expect("utf8");
    let addr = line
        .strip_prefix("LISTENING tcp ")
        .unwrap_or_else(|| panic!("readiness line {line:?}"))
        .to_string();
    let port: u16 = addr
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse().ok())
        .expect("a port");
    assert_ne!(port, 0, "the ephemeral port, not 0");
    let reply = talk(&addr, format!("zSCAN {}\0", marker.display()).as_bytes());
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(
        String::from_utf8_lossy(&reply),
        format!(
            "{}: Test.Conf5.Datadir.UNOFFICIAL FOUND\0",
            marker.display()
        )
    );
}
