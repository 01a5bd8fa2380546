//! The SVSP engine against the in-process fake vfindd (every source, verdicts, quirks and
//! faults), plus scripted servers for faults the fake does not produce.

mod common;

use fake_vfindd::FakeDaemon;
use std::path::PathBuf;
use std::time::Duration;

use common::*;
use fake_vfindd::{FakeVfindd, QueuedMode, Quirks};
use fave::{Address, Client, FaveError, Report, SvspSource, Verdict};

/// Installs one fault rule (the shared `faults` vocabulary, in its JSON form) as the fake's
/// plan. The plan's type is reached through `fake_vfindd::Config::fault_plan`, as fave does
/// not depend on the `faults` crate.
fn with_rule(b: fake_vfindd::Builder, rule: &str) -> fake_vfindd::Builder {
    let cfg = fake_vfindd::Config {
        fault_plan: serde_json::from_str(&format!(r#"{{"seed": 1, "rules": [{rule}]}}"#))
            .expect("fault rule"),
        ..Default::default()
    };
    b.faults(cfg.fault_plan)
}

/// `eagain@command=SCAN,every=N`: every Nth SCAN is refused with `EAGAIN Server busy`.
fn eagain_every(n: u64) -> String {
    format!(r#"{{"when": {{"command": "SCAN", "every": {n}}}, "fault": {{"kind": "eagain"}}}}"#)
}

const EICAR_NAME: &str = "CVDL DOS/EICAR.Test";

fn addr_of(f: &FakeVfindd) -> Address {
    tcp(f.addr())
}

/// Starts the fake `b` describes.
async fn start(b: fake_vfindd::Builder) -> FakeVfindd {
    b.start().await.unwrap()
}

/// Scans `inputs` (name, bytes) in order over one client of `fake` sending with `source`.
async fn scan_via(
    fake: &FakeVfindd,
    source: SvspSource,
    inputs: Vec<(&'static str, Vec<u8>)>,
) -> Vec<Report> {
    let mut cfg = svsp_cfg(addr_of(fake));
    cfg.svsp_source = source;
    blocking(move || {
        let mut c = Client::new(cfg).unwrap();
        let out = inputs.iter().map(|(n, d)| c.scan_bytes(n, d)).collect();
        c.close();
        out
    })
    .await
}

/// Scans `files` by path in order over one client of `fake` (`source`: FILE or FILE-SHA1),
/// with `busy_retries` retries of a refused request when given (else the default).
async fn scan_files(
    fake: &FakeVfindd,
    source: SvspSource,
    busy_retries: Option<u32>,
    files: Vec<PathBuf>,
) -> Vec<Report> {
    let mut cfg = svsp_cfg(addr_of(fake));
    cfg.svsp_source = source;
    cfg.busy_retries = busy_retries.unwrap_or(cfg.busy_retries);
    blocking(move || {
        let mut c = Client::new(cfg).unwrap();
        let out = files.iter().map(|f| c.scan_file(f)).collect();
        c.close();
        out
    })
    .await
}

/// SVSP-SCAN-REQUEST-1 / SVSP-CLIENT-15 and SVSP-SCAN-PORT-1 / SVSP-CLIENT-16: every verdict
/// through both stream sources, several requests on one connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn svsp_client_15_16_request_and_port_verdicts() {
    let fake = start(FakeVfindd::builder()).await;
    for source in [SvspSource::Request, SvspSource::Port] {
        let reports = scan_via(
            &fake,
            source,
            vec![
                ("clean.bin", clean_bytes(100_000, 3)),
                ("eicar.com", eicar()),
                ("eicar.zip", zip_with("inner/eicar.com", &eicar())),
                ("markers.txt", b"xx SVSP-FAKE-MARKER-B yy".to_vec()),
                ("", Vec::new()),
            ],
        )
        .await;
        assert_eq!(reports[0].verdict, Verdict::Clean, "{source:?}");
        assert_eq!(reports[0].stats.bytes, 100_000);
        assert_eq!(reports[0].stats.connections, 1);
        assert_eq!(
            reports[1].verdict,
            Verdict::Infected(vec![EICAR_NAME.into()]),
            "{source:?}"
        );
        assert_eq!(reports[1].stats.connections, 0, "session reused");
        assert_eq!(
            reports[2].verdict,
            Verdict::Infected(vec![EICAR_NAME.into()]),
            "{source:?}"
        );
        // SVSP-CLIENT-11: virus names with spaces are kept whole.
        assert_eq!(
            reports[3].verdict,
            Verdict::Infected(vec!["CVDL Test/Multi Word Name.B".into()])
        );
        assert_eq!(reports[4].verdict, Verdict::Clean);
    }
    let cmds: Vec<Vec<u8>> = fake.commands().into_iter().map(|c| c.line).collect();
    assert!(cmds
        .iter()
        .any(|c| c.windows(12).any(|w| w == b"SCAN/REQUEST")));
    assert!(cmds.iter().any(|c| c.windows(9).any(|w| w == b"SCAN/PORT")));
    assert!(
        cmds.iter().any(|c| c == b"QUIT"),
        "QUIT at the end (SVSP-CLIENT-18): {cmds:?}"
    );
}

/// SVSP-SCAN-FILE-1 / SVSP-SCAN-FILESHA1-1: the daemon reads the absolute path itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn svsp_scan_filesha1_1_file_sources() {
    let fake = start(FakeVfindd::builder()).await;
    let dir = tempfile::tempdir().unwrap();
    let clean = tmp_file(&dir, "clean.txt", b"hello world");
    let bad = tmp_file(&dir, "e.com", &eicar());
    let missing = dir.path().join("missing");
    for source in [SvspSource::File, SvspSource::FileSha1] {
        let files = vec![clean.clone(), bad.clone(), missing.clone()];
        let r = scan_files(&fake, source, None, files).await;
        assert_eq!(r[0].verdict, Verdict::Clean);
        assert_eq!(r[0].stats.bytes, 0, "FILE sends no data");
        assert_eq!(r[1].verdict, Verdict::Infected(vec![EICAR_NAME.into()]));
        // SVSP-ERR-ENOENT-1: an error, never clean; the connection stays usable.
        assert!(
            matches!(&r[2].verdict, Verdict::Error(FaveError::Daemon(m)) if m.starts_with("ENOENT")),
            "{:?}",
            r[2].verdict
        );
        if source == SvspSource::FileSha1 {
            assert_eq!(
                r[1].sha1.as_deref(),
                Some("3395856ce81f2b7382dee72602f798b642f14140")
            );
        } else {
            assert_eq!(r[1].sha1, None);
        }
    }
}

/// SVSP-SCAN-REQUEST-2: over the daemon's stream limit is an error, never clean.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn svsp_scan_request_2_over_limit_is_error() {
    let fake = start(FakeVfindd::builder().stream_max_length(64 * 1024)).await;
    for source in [SvspSource::Request, SvspSource::Port] {
        let r = scan_via(
            &fake,
            source,
            vec![("big", clean_bytes(4 << 20, 9)), ("small", b"ok".to_vec())],
        )
        .await;
        assert!(
            matches!(r[0].verdict, Verdict::Error(_)),
            "{source:?}: {:?}",
            r[0].verdict
        );
        assert_eq!(
            r[1].verdict,
            Verdict::Clean,
            "connection usable after the error (SVSP-CLIENT-20)"
        );
    }
}

/// SVSP-CLIENT-8: QUEUED never / at random changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn svsp_client_8_queued_modes() {
    for q in [QueuedMode::Never, QueuedMode::Random(7)] {
        let fake = start(FakeVfindd::builder().queued(q)).await;
        let r = scan_via(
            &fake,
            SvspSource::Request,
            vec![
                ("a", b"clean".to_vec()),
                ("b", eicar()),
                ("c", b"x".to_vec()),
            ],
        )
        .await;
        assert_eq!(r[0].verdict, Verdict::Clean);
        assert_eq!(r[1].verdict, Verdict::Infected(vec![EICAR_NAME.into()]));
        assert_eq!(r[2].verdict, Verdict::Clean);
    }
}

/// SVSP-CLIENT-9/12/16, INC-3: tolerated quirks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn svsp_client_9_12_quirks_tolerated() {
    let quirks = Quirks {
        done_without_count: true,
        infected_empty_archive_name: true,
        unknown_line: true,
        lowercase_keywords: true,
    };
    let fake = start(FakeVfindd::builder().quirks(quirks).port_send_echo(true)).await;
    for source in [SvspSource::Request, SvspSource::Port] {
        let r = scan_via(
            &fake,
            source,
            vec![
                ("a", b"clean".to_vec()),
                ("z.zip", zip_with("e.com", &eicar())),
            ],
        )
        .await;
        assert_eq!(r[0].verdict, Verdict::Clean, "{source:?}");
        assert_eq!(
            r[1].verdict,
            Verdict::Infected(vec![EICAR_NAME.into()]),
            "{source:?}"
        );
    }
}

/// SVSP-CLIENT-10.
///
/// SVSP-ERR-EAGAIN-1 / SVSP-ERR-EFAULT-1 / connection drop: errors, never clean.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn svsp_client_10_faults_are_errors() {
    let cases = [
        r#"{"when": {"command": "SCAN"}, "fault": {"kind": "eagain"}}"#,
        r#"{"when": {"verdict": true}, "fault": {"kind": "efault"}}"#,
        r#"{"when": {"replies": 2}, "fault": {"kind": "drop"}}"#,
    ];
    for f in cases {
        let fake = start(with_rule(FakeVfindd::builder(), f)).await;
        let r = scan_via(
            &fake,
            SvspSource::Request,
            vec![("a", b"clean data".to_vec())],
        )
        .await;
        assert!(
            matches!(r[0].verdict, Verdict::Error(_)),
            "{f:?}: {:?}",
            r[0].verdict
        );
    }
}

/// SVSP-SCAN-4 / SVSP-CLIENT-17: a first-version daemon refuses stream sources: error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn svsp_scan_4_first_version_profile_enotsup_is_error() {
    let fake = start(FakeVfindd::builder().profile(svsp_proto::Profile::FirstVersion)).await;
    let r = scan_via(&fake, SvspSource::Request, vec![("a", b"clean".to_vec())]).await;
    assert!(
        matches!(&r[0].verdict, Verdict::Error(FaveError::Daemon(m)) if m.starts_with("ENOTSUP")),
        "{:?}",
        r[0].verdict
    );
}

/// SVSP-CONN-2 / SVSP-CLIENT-1: DENIED is a refusal (error).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn svsp_client_1_denied_is_refused() {
    // max_connections 0 may be rejected by validation; an allow list then refuses instead
    let fake = match FakeVfindd::builder().max_connections(0).start().await {
        Ok(fake) => fake,
        Err(_) => {
            let allow = fake_vfindd::config::parse_allow("10.0.0.0/8").unwrap();
            start(FakeVfindd::builder().allow(allow)).await
        }
    };
    let r = scan_via(&fake, SvspSource::Request, vec![("a", b"x".to_vec())]).await;
    assert!(
        matches!(r[0].verdict, Verdict::Error(FaveError::Refused(_))),
        "{:?}",
        r[0].verdict
    );
}

/// SVSP-CLIENT-10.
///
/// Scripted: EOF before DONE, truncated line, unknown-id lines and a malformed DONE.
#[test]
fn svsp_client_10_scripted_faults() {
    fn run(script: fn(&mut Peer)) -> Verdict {
        let (addr, h) = serve(Listener::tcp(), move |p| {
            p.send(b"READY\r\n");
            let cmd = p.read_line().unwrap();
            assert!(
                cmd.starts_with(b"1 SCAN/FILE /"),
                "{}",
                String::from_utf8_lossy(&cmd)
            );
            script(p);
        });
        let mut cfg = svsp_cfg(addr);
        cfg.svsp_source = SvspSource::File;
        cfg.timeouts.io = Duration::from_secs(2);
        let mut c = Client::new(cfg).unwrap();
        let v = c.scan_file(std::path::Path::new("/etc/hostname")).verdict;
        drop(c);
        let _ = h.join();
        v
    }
    let v = run(|p| p.send(b"1 QUEUED\r\n1 SCANNING \"/etc/hostname\"\r\n"));
    assert!(
        matches!(v, Verdict::Error(FaveError::ConnectionLost(_))),
        "{v:?}"
    );
    let v = run(|p| p.send(b"1 QUEUED\r\n1 DONE 0 : \"/etc/host"));
    assert!(
        matches!(v, Verdict::Error(FaveError::ConnectionLost(_))),
        "{v:?}"
    );
    let v = run(|p| p.send(b"1 DONE zz : junk\r\n"));
    assert!(matches!(v, Verdict::Error(FaveError::Protocol(_))), "{v:?}");
    let v = run(|p| {
        p.send(b"9 INFECTED X : \"a\" : m\r\n9 DONE 1 : \"a\"\r\n1 DONE 0 : \"/etc/hostname\"\r\n");
        assert_eq!(p.read_line().unwrap(), b"QUIT");
        p.send(b"OK\r\n");
    });
    assert_eq!(v, Verdict::Clean);
    // SVSP-CLIENT-10: a DONE count above 0 without INFECTED lines is still infected.
    let v = run(|p| {
        p.send(b"1 DONE 2 : \"/etc/hostname\"\r\n");
        assert_eq!(p.read_line().unwrap(), b"QUIT");
        p.send(b"OK\r\n");
    });
    assert!(v.is_infected(), "{v:?}");
}

/// SVSP-CLIENT-18, SVSP-CLIENT-19: after a SCAN/REQUEST or SCAN/PORT timed out (the daemon
/// never sent `SEND`, never connected), the client still says `QUIT` but closes without
/// waiting a second I/O timeout for an `OK` that a silent daemon will not send.
#[test]
fn svsp_client_18_quit_after_a_timeout_does_not_wait_again() {
    let io = Duration::from_secs(2);
    for (source, command) in [
        (SvspSource::Request, &b"1 SCAN/REQUEST"[..]),
        (SvspSource::Port, &b"1 SCAN/PORT "[..]),
    ] {
        let (addr, h) = serve(Listener::tcp(), move |p| {
            p.send(b"READY\r\n");
            let cmd = p.read_line().unwrap();
            assert!(cmd.starts_with(command), "{cmd:?}");
            let quit = p.read_line().unwrap();
            let after_quit = std::time::Instant::now();
            let rest = p.read_to_eof();
            (quit, rest, after_quit.elapsed())
        });
        let mut cfg = svsp_cfg(addr);
        cfg.svsp_source = source;
        cfg.timeouts.io = io;
        cfg.timeouts.connect = io;
        let mut c = Client::new(cfg).unwrap();
        let v = c.scan_bytes("a", b"x").verdict;
        assert!(
            matches!(v, Verdict::Error(FaveError::Timeout { .. })),
            "{v:?}"
        );
        drop(c);
        let ((quit, rest, closed_after), _) = h.join().unwrap();
        assert_eq!(quit, b"QUIT", "{source:?}");
        assert!(rest.is_empty(), "nothing after QUIT: {rest:?}");
        assert!(
            closed_after < io / 2,
            "{source:?}: closed {closed_after:?} after QUIT; a wait for OK would take the I/O timeout ({io:?})"
        );
    }
}

/// SVSP-CLIENT-1: connection closed before READY, or garbage instead of READY.
#[test]
fn svsp_client_1_no_ready() {
    let (addr, h) = serve(Listener::tcp(), |_p| {});
    let mut c = Client::new(svsp_cfg(addr)).unwrap();
    let v = c.scan_bytes("a", b"x").verdict;
    assert!(matches!(v, Verdict::Error(FaveError::Refused(_))), "{v:?}");
    h.join().unwrap();
    let (addr, h) = serve(Listener::tcp(), |p| {
        p.send(b"HELLO\r\n");
        p.read_to_eof();
    });
    let mut c = Client::new(svsp_cfg(addr)).unwrap();
    let v = c.scan_bytes("a", b"x").verdict;
    assert!(matches!(v, Verdict::Error(FaveError::Protocol(_))), "{v:?}");
    drop(c);
    h.join().unwrap();
}

/// SVSP-ERR-EAGAIN-1 / SVSP-CLIENT-10: a FILE request refused with `EAGAIN Server busy` never
/// became a scan and is sent again after a back-off; other errors are final. With retries
/// off, or when every attempt is refused, the verdict is an error, never clean.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn svsp_client_10_eagain_file_request_is_retried() {
    let dir = tempfile::tempdir().unwrap();
    let clean = tmp_file(&dir, "clean.txt", b"hello world");
    let bad = tmp_file(&dir, "e.com", &eicar());
    // every 2nd SCAN is refused: scan 1 passes, scan 2 is refused and its retry passes
    let fake = start(with_rule(FakeVfindd::builder(), &eagain_every(2))).await;
    let r = scan_files(&fake, SvspSource::File, None, vec![clean.clone(), bad]).await;
    assert_eq!(r[0].verdict, Verdict::Clean);
    assert_eq!(r[1].verdict, Verdict::Infected(vec![EICAR_NAME.into()]));
    assert_eq!(
        r[1].stats.connections, 0,
        "the retry uses the same control connection"
    );

    for (every, retries) in [(1, 3), (2, 0)] {
        let fake = start(with_rule(FakeVfindd::builder(), &eagain_every(every))).await;
        let files = vec![clean.clone(), clean.clone()];
        let r = scan_files(&fake, SvspSource::File, Some(retries), files).await;
        let last = &r[1].verdict;
        assert!(
            matches!(last, Verdict::Error(FaveError::Daemon(m)) if m.starts_with("EAGAIN")),
            "every {every}, retries {retries}: {last:?}"
        );
    }
}
