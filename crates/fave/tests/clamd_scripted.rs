//! The clamd engine against scripted servers that replay exact bytes from clamd.md, including
//! faults (truncation, reset, silence, early size-limit reply). Fail closed everywhere.

mod common;

use std::time::{Duration, Instant};

use common::*;
use fave::{Client, FaveError, Framing, LimitOrigin, Verdict};

/// CLAMD-SESSION-3.
///
/// CLAMD-SESSION-1/3, CLAMD-INSTREAM-1/3, CLAMD-CLIENT-9: IDSESSION, two numbered INSTREAMs
/// on one connection, END at close; exact client bytes.
#[test]
fn clamd_session_3_two_scans_one_session_exact_bytes() {
    let (addr, h) = serve(Listener::tcp(), |p| {
        assert_eq!(p.read_command().unwrap(), b"zIDSESSION\0");
        assert_eq!(p.read_command().unwrap(), b"zINSTREAM\0");
        let (d1, _) = p.read_stream().unwrap();
        p.send(b"1: stream: OK\0");
        assert_eq!(p.read_command().unwrap(), b"zINSTREAM\0");
        let (d2, _) = p.read_stream().unwrap();
        p.send(b"2: stream: Win.Test.EICAR_HDB-1 FOUND\0");
        assert_eq!(p.read_command().unwrap(), b"zEND\0");
        (d1, d2)
    });
    let mut c = Client::new(clamd_cfg(addr)).unwrap();
    let r1 = c.scan_bytes("a", b"hello");
    assert_eq!(r1.verdict, Verdict::Clean);
    assert_eq!(r1.stats.connections, 1);
    assert_eq!(r1.stats.round_trips, 1);
    let r2 = c.scan_bytes("b", &eicar());
    assert_eq!(
        r2.verdict,
        Verdict::Infected(vec!["Win.Test.EICAR_HDB-1".into()])
    );
    assert_eq!(
        r2.stats.connections, 0,
        "second scan must reuse the session"
    );
    c.close();
    let ((d1, d2), seen) = h.join().unwrap();
    assert_eq!(d1, b"hello");
    assert_eq!(d2, eicar());
    let mut expect =
        b"zIDSESSION\0zINSTREAM\0\0\0\0\x05hello\0\0\0\0zINSTREAM\0\0\0\0\x44".to_vec();
    expect.extend_from_slice(&eicar());
    expect.extend_from_slice(b"\0\0\0\0zEND\0");
    assert_eq!(seen, expect);
}

/// CLAMD-FRAME-2 / CLAMD-FRAME-4: n framing and `\n`-terminated replies, over a unix socket.
#[test]
fn clamd_frame_2_n_framing_unix_socket() {
    let (addr, h) = serve(Listener::unix(), |p| {
        assert_eq!(p.read_command().unwrap(), b"nIDSESSION\n");
        assert_eq!(p.read_command().unwrap(), b"nINSTREAM\n");
        let (d, _) = p.read_stream().unwrap();
        p.send(b"1: stream: OK\n");
        assert_eq!(p.read_command().unwrap(), b"nEND\n");
        d
    });
    let mut cfg = clamd_cfg(addr);
    cfg.framing = Framing::N;
    let mut c = Client::new(cfg).unwrap();
    assert_eq!(c.scan_bytes("x", b"abc").verdict, Verdict::Clean);
    c.close();
    assert_eq!(h.join().unwrap().0, b"abc");
}

/// CLAMD-INSTREAM-3: zero chunks is a valid stream.
#[test]
fn clamd_instream_3_empty_stream() {
    let (addr, h) = serve(Listener::tcp(), |p| {
        p.read_command().unwrap();
        p.read_command().unwrap();
        let (d, sizes) = p.read_stream().unwrap();
        p.send(b"1: stream: OK\0");
        (d, sizes)
    });
    let mut c = Client::new(clamd_cfg(addr)).unwrap();
    assert_eq!(c.scan_bytes("empty", b"").verdict, Verdict::Clean);
    drop(c);
    let ((d, sizes), _) = h.join().unwrap();
    assert!(d.is_empty() && sizes.is_empty());
}

/// CLAMD-SESSION-4: replies are matched by number; a record for another number is skipped.
#[test]
fn clamd_session_4_reply_matched_by_number() {
    let (addr, _h) = serve(Listener::tcp(), |p| {
        p.read_command().unwrap();
        p.read_command().unwrap();
        p.read_stream().unwrap();
        p.send(b"7: stream: OK\0");
        p.send(b"1: stream: Some.Sig FOUND\0");
        assert_eq!(p.read_command().unwrap(), b"zEND\0");
    });
    let mut c = Client::new(clamd_cfg(addr)).unwrap();
    assert_eq!(
        c.scan_bytes("x", b"abc").verdict,
        Verdict::Infected(vec!["Some.Sig".into()])
    );
}

/// CLAMD-INSTREAM-3 / CLAMD-REPLY-4 / CLAMD-CLIENT-9: a per-file scan error
/// (`1: stream: <text> ERROR`) fails that scan (never clean), but clamd keeps the session: the
/// next scan reuses it and END is still sent before closing.
#[test]
fn clamd_client_9_end_after_per_file_error() {
    let (addr, h) = serve(Listener::tcp(), |p| {
        assert_eq!(p.read_command().unwrap(), b"zIDSESSION\0");
        assert_eq!(p.read_command().unwrap(), b"zINSTREAM\0");
        p.read_stream().unwrap();
        p.send(b"1: stream: Can't allocate memory ERROR\0");
        assert_eq!(p.read_command().unwrap(), b"zINSTREAM\0");
        p.read_stream().unwrap();
        p.send(b"2: stream: OK\0");
        assert_eq!(p.read_command().unwrap(), b"zEND\0");
    });
    let mut c = Client::new(clamd_cfg(addr)).unwrap();
    let v = c.scan_bytes("a", b"abc").verdict;
    assert!(
        matches!(v, Verdict::Error(FaveError::Daemon(ref m)) if m == "Can't allocate memory"),
        "{v:?}"
    );
    let r = c.scan_bytes("b", b"def");
    assert_eq!(r.verdict, Verdict::Clean);
    assert_eq!(
        r.stats.connections, 0,
        "the session survives a per-file error"
    );
    c.close();
    h.join().unwrap();
}

/// CLAMD-REPLY-2: after a closing error (`Error processing command.`) the session is over:
/// no END is sent into a closed session, and the next scan opens a new connection.
#[test]
fn clamd_reply_2_closing_error_ends_the_session_without_end() {
    let (addr, h) = serve(Listener::tcp(), |p| {
        p.read_command().unwrap();
        p.read_command().unwrap();
        p.read_stream().unwrap();
        p.send(b"1: Error processing command. ERROR\0");
        p.read_to_eof()
    });
    let mut c = Client::new(clamd_cfg(addr)).unwrap();
    let v = c.scan_bytes("a", b"abc").verdict;
    assert!(matches!(v, Verdict::Error(_)), "{v:?}");
    c.close();
    let (after, _) = h.join().unwrap();
    assert!(after.is_empty(), "nothing after a closing error: {after:?}");
}

fn one_scan_with_reply(reply: &'static [u8], close_after: bool) -> Verdict {
    let (addr, _h) = serve(Listener::tcp(), move |p| {
        p.read_command().unwrap();
        p.read_command().unwrap();
        let _ = p.read_stream();
        p.send(reply);
        if !close_after {
            p.read_to_eof();
        }
    });
    let mut c = Client::new(clamd_cfg(addr)).unwrap();
    c.scan_bytes("x", b"abc").verdict
}

/// Replies that must fail the scan, never read as clean, each with the error kind it maps to:
/// - CLAMD-CLIENT-3: EOF with no reply bytes; EOF inside a reply (no terminator) even if it
///   reads "OK"; a reply that does not parse.
/// - CLAMD-TIME-3 / CLAMD-CLIENT-9: `COMMAND READ TIMED OUT\n` (always `\n`, unnumbered)
///   fails the outstanding command.
/// - CLAMD-CLIENT-5: `UNKNOWN COMMAND` has no ERROR suffix and is still an error.
/// - CLAMD-INSTREAM-5 / CLAMD-CLIENT-4: the size-limit reply after the stream is a distinct
///   too-large error.
#[test]
fn clamd_client_error_replies_fail_the_scan() {
    type Check = fn(&Verdict) -> bool;
    let cases: [(&str, &'static [u8], bool, Check); 8] = [
        ("CLAMD-CLIENT-3 EOF without reply", b"", true, |v| {
            matches!(v, Verdict::Error(FaveError::ConnectionLost(_)))
        }),
        (
            "CLAMD-CLIENT-3 truncated OK",
            b"1: stream: OK",
            true,
            |v| matches!(v, Verdict::Error(FaveError::ConnectionLost(m)) if m.contains("truncated")),
        ),
        (
            "CLAMD-CLIENT-3 unparsable",
            b"1: stream: OK and more\0",
            false,
            |v| matches!(v, Verdict::Error(FaveError::Protocol(_))),
        ),
        (
            "CLAMD-CLIENT-3 other name",
            b"1: /some/path: OK\0",
            false,
            |v| matches!(v, Verdict::Error(FaveError::Protocol(_))),
        ),
        (
            "CLAMD-TIME-3 read timed out",
            b"COMMAND READ TIMED OUT\n",
            true,
            |v| matches!(v, Verdict::Error(FaveError::DaemonTimeout(_))),
        ),
        (
            "CLAMD-CLIENT-5 unknown command",
            b"1: UNKNOWN COMMAND\0",
            true,
            |v| matches!(v, Verdict::Error(FaveError::Daemon(m)) if m == "UNKNOWN COMMAND"),
        ),
        (
            "CLAMD-CLIENT-5 per-file error",
            b"1: stream: Can't allocate memory ERROR\0",
            false,
            |v| matches!(v, Verdict::Error(FaveError::Daemon(m)) if m.contains("allocate")),
        ),
        (
            "CLAMD-CLIENT-4 size limit",
            b"1: INSTREAM size limit exceeded. ERROR\0",
            true,
            |v| is_too_large(v, LimitOrigin::Server),
        ),
    ];
    for (case, reply, close_after, check) in cases {
        let v = one_scan_with_reply(reply, close_after);
        assert!(check(&v), "{case}: {v:?}");
    }
}

/// CLAMD-INSTREAM-8 mode reply-drain: the reply comes while we are still sending; the server
/// drains our data. The client must stop and report too-large.
#[test]
fn clamd_instream_8_early_limit_reply_with_drain_is_too_large() {
    let (addr, h) = serve(Listener::tcp(), |p| {
        p.read_command().unwrap();
        p.read_command().unwrap();
        let _hdr = p.read_exact_n(4).unwrap();
        p.send(b"1: INSTREAM size limit exceeded. ERROR\0");
        p.read_to_eof().len()
    });
    let mut c = Client::new(clamd_cfg(addr)).unwrap();
    let data = clean_bytes(8 << 20, 1);
    let r = c.scan_bytes("big", &data);
    assert!(
        is_too_large(&r.verdict, LimitOrigin::Server),
        "{:?}",
        r.verdict
    );
    assert!(
        r.stats.bytes < data.len() as u64,
        "client must stop sending after the reply"
    );
    drop(c);
    h.join().unwrap();
}

/// CLAMD-INSTREAM-8 / CLAMD-CLIENT-4: server replies and closes (or resets) while we send:
/// the verdict is an error (too-large if the reply could be read), never clean or infected,
/// and the client does not hang.
#[test]
fn clamd_client_4_limit_then_close_or_reset_never_clean() {
    for reset in [false, true] {
        let (addr, h) = serve(Listener::tcp(), move |p| {
            p.read_command().unwrap();
            p.read_command().unwrap();
            let _hdr = p.read_exact_n(4).unwrap();
            p.send(b"1: INSTREAM size limit exceeded. ERROR\0");
            if reset {
                p.io.reset();
            }
        });
        let mut c = Client::new(clamd_cfg(addr)).unwrap();
        let t0 = Instant::now();
        let r = c.scan_bytes("big", &clean_bytes(16 << 20, 2));
        assert!(
            matches!(
                r.verdict,
                Verdict::Error(FaveError::TooLarge { .. } | FaveError::ConnectionLost(_))
            ),
            "reset={reset}: {:?}",
            r.verdict
        );
        assert!(t0.elapsed() < Duration::from_secs(8), "must not hang");
        h.join().unwrap();
    }
}

/// Scans `abc` against a daemon that reads the request and then stays silent for 1.5 s,
/// with the timeouts `set` chooses; asserts a timeout verdict well before the daemon gives up.
fn assert_silent_daemon_times_out(set: impl FnOnce(&mut fave::Timeouts)) {
    let (addr, h) = serve(Listener::tcp(), |p| {
        p.read_command().unwrap();
        p.read_command().unwrap();
        let _ = p.read_stream();
        std::thread::sleep(Duration::from_millis(1500));
    });
    let mut cfg = clamd_cfg(addr);
    set(&mut cfg.timeouts);
    let mut c = Client::new(cfg).unwrap();
    let t0 = Instant::now();
    let v = c.scan_bytes("x", b"abc").verdict;
    assert!(
        matches!(v, Verdict::Error(FaveError::Timeout { .. })),
        "{v:?}"
    );
    assert!(t0.elapsed() < Duration::from_millis(1400));
    drop(c);
    h.join().unwrap();
}

/// CLAMD-CLIENT-10: a daemon that accepts and never answers hits our read timeout.
#[test]
fn clamd_client_10_silent_daemon_times_out() {
    assert_silent_daemon_times_out(|t| t.io = Duration::from_millis(300));
}

/// CLAMD-CLIENT-10.
///
/// The whole-scan timeout bounds a daemon that trickles nothing but keeps the connection.
#[test]
fn clamd_client_10_whole_scan_timeout() {
    assert_silent_daemon_times_out(|t| {
        t.io = Duration::from_secs(5);
        t.scan = Duration::from_millis(400);
    });
}

/// Connection refused: error verdict, never clean.
#[test]
fn clamd_daemon_down_is_connect_error() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    let mut c = Client::new(clamd_cfg(fave::Address::Tcp {
        host: "127.0.0.1".into(),
        port,
    }))
    .unwrap();
    let v = c.scan_bytes("x", b"abc").verdict;
    assert!(
        matches!(v, Verdict::Error(FaveError::Connect { .. })),
        "{v:?}"
    );
    let mut s = c.open("y");
    assert!(s.write(b"data").is_err());
    assert!(matches!(s.close().verdict, Verdict::Error(_)));
}

/// CLAMD-CLIENT-2: a known StreamMaxLength is respected: the stream is refused locally with a
/// distinct too-large error, nothing beyond the limit is sent, and the session survives.
#[test]
fn clamd_client_2_local_limit_refused_session_survives() {
    let (addr, h) = serve(Listener::tcp(), |p| {
        p.read_command().unwrap();
        p.read_command().unwrap();
        let (d1, _) = p.read_stream().unwrap();
        p.send(b"1: stream: OK\0");
        p.read_command().unwrap();
        let (d2, _) = p.read_stream().unwrap();
        p.send(b"2: stream: OK\0");
        (d1.len(), d2.len())
    });
    let mut cfg = clamd_cfg(addr);
    cfg.stream_max_length = Some(100);
    let mut c = Client::new(cfg).unwrap();
    let mut s = c.open("big");
    s.write(&[1u8; 60]).unwrap();
    let e = s.write(&[1u8; 41]).unwrap_err();
    assert!(matches!(
        e,
        FaveError::TooLarge {
            origin: LimitOrigin::Local,
            limit: Some(100),
            ..
        }
    ));
    let v = s.close().verdict;
    assert!(is_too_large(&v, LimitOrigin::Local), "{v:?}");
    // exactly the limit is fine (CLAMD-INSTREAM-4: exact StreamMaxLength accepted)
    let r = c.scan_bytes("exact", &[2u8; 100]);
    assert_eq!(r.verdict, Verdict::Clean);
    assert_eq!(r.stats.connections, 0);
    drop(c);
    let ((n1, n2), _) = h.join().unwrap();
    assert_eq!((n1, n2), (60, 100));
}

/// CLAMD-CLIENT-2.
///
/// A file over the known limit is refused before connecting.
#[test]
fn clamd_client_2_file_over_limit_refused_before_connect() {
    let dir = tempfile::tempdir().unwrap();
    let p = tmp_file(&dir, "big.bin", &[0u8; 1000]);
    let mut cfg = clamd_cfg(fave::Address::Tcp {
        host: "127.0.0.1".into(),
        port: 9,
    });
    cfg.stream_max_length = Some(999);
    let mut c = Client::new(cfg).unwrap();
    let r = c.scan_file(&p);
    assert!(matches!(
        r.verdict,
        Verdict::Error(FaveError::TooLarge {
            origin: LimitOrigin::Local,
            ..
        })
    ));
    assert_eq!(r.stats.connections, 0);
}

/// CLAMD-SESSION-8: a session the daemon timed out is replaced by a fresh connection.
#[test]
fn clamd_session_8_dead_session_is_replaced() {
    let l = Listener::tcp();
    let addr = l.address();
    let h = std::thread::spawn(move || {
        let mut p = l.accept();
        p.read_command().unwrap();
        p.read_command().unwrap();
        p.read_stream().unwrap();
        p.send(b"1: stream: OK\0");
        p.send(b"COMMAND READ TIMED OUT\n");
        drop(p);
        let mut q = l.accept();
        assert_eq!(q.read_command().unwrap(), b"zIDSESSION\0");
        q.read_command().unwrap();
        q.read_stream().unwrap();
        q.send(b"1: stream: OK\0");
        assert_eq!(q.read_command().unwrap(), b"zEND\0");
    });
    let mut c = Client::new(clamd_cfg(addr)).unwrap();
    assert_eq!(c.scan_bytes("a", b"1").verdict, Verdict::Clean);
    std::thread::sleep(Duration::from_millis(200));
    let r = c.scan_bytes("b", b"2");
    assert_eq!(r.verdict, Verdict::Clean);
    assert_eq!(r.stats.connections, 1);
    c.close();
    h.join().unwrap();
}

/// A scan dropped mid-stream cannot leave a half-framed session behind.
#[test]
fn clamd_abandoned_scan_drops_session() {
    let l = Listener::tcp();
    let addr = l.address();
    let h = std::thread::spawn(move || {
        let mut p = l.accept();
        p.read_to_eof();
        let mut q = l.accept();
        q.read_command().unwrap();
        q.read_command().unwrap();
        q.read_stream().unwrap();
        q.send(b"1: stream: OK\0");
        assert_eq!(q.read_command().unwrap(), b"zEND\0");
    });
    let mut c = Client::new(clamd_cfg(addr)).unwrap();
    {
        let mut s = c.open("a");
        s.write(b"partial").unwrap();
    }
    let r = c.scan_bytes("b", b"x");
    assert_eq!(r.verdict, Verdict::Clean);
    assert_eq!(r.stats.connections, 1);
    drop(c);
    h.join().unwrap();
}

/// FAVE-3: IPv6 addresses work (`[::1]:port`).
#[test]
fn clamd_ipv6_loopback() {
    let Some(l) = Listener::tcp6() else {
        println!("SKIP: no IPv6 loopback on this machine");
        return;
    };
    let (addr, h) = serve(l, |p| {
        p.read_command().unwrap();
        p.read_command().unwrap();
        p.read_stream().unwrap();
        p.send(b"1: stream: OK\0");
        assert_eq!(p.read_command().unwrap(), b"zEND\0");
    });
    assert!(addr.to_string().starts_with("[::1]:"), "{addr}");
    let parsed = fave::Address::parse(&addr.to_string(), 3310).unwrap();
    assert_eq!(parsed, addr);
    let mut c = Client::new(clamd_cfg(parsed)).unwrap();
    assert_eq!(c.scan_bytes("v6", b"data").verdict, Verdict::Clean);
    c.close();
    h.join().unwrap();
}

/// CLAMD-SESSION-4: exact bytes of a pipelined batch, replies in reverse order after END.
#[test]
fn clamd_session_4_pipelined_exact_bytes_reverse_replies() {
    let dir = tempfile::tempdir().unwrap();
    let a = tmp_file(&dir, "a", b"AAA");
    let b = tmp_file(&dir, "b", b"BB");
    let (addr, h) = serve(Listener::tcp(), |p| {
        assert_eq!(p.read_command().unwrap(), b"zIDSESSION\0");
        assert_eq!(p.read_command().unwrap(), b"zINSTREAM\0");
        p.read_stream().unwrap();
        assert_eq!(p.read_command().unwrap(), b"zINSTREAM\0");
        p.read_stream().unwrap();
        assert_eq!(p.read_command().unwrap(), b"zEND\0");
        p.send(b"2: stream: Sig.B FOUND\0");
        p.send(b"1: stream: OK\0");
    });
    let mut c = Client::new(clamd_cfg(addr)).unwrap();
    let r = c.scan_files_pipelined(&[a, b]);
    assert_eq!(r[0].verdict, Verdict::Clean);
    assert_eq!(r[1].verdict, Verdict::Infected(vec!["Sig.B".into()]));
    let (_, seen) = h.join().unwrap();
    assert_eq!(
        seen,
        b"zIDSESSION\0zINSTREAM\0\0\0\0\x03AAA\0\0\0\0zINSTREAM\0\0\0\0\x02BB\0\0\0\0zEND\0"
    );
}

/// CLAMD-SESSION-3.
///
/// The handle-style API (begin/write/end on the Client) for C-like callbacks: several scans
/// in one session, an abandoned scan drops the session, `end` without `begin` is an error.
#[test]
fn clamd_session_3_handle_api_begin_write_end() {
    let l = Listener::tcp();
    let addr = l.address();
    let h = std::thread::spawn(move || {
        let mut p = l.accept();
        p.read_command().unwrap();
        for id in 1..=2 {
            p.read_command().unwrap();
            let (d, _) = p.read_stream().unwrap();
            let body: &[u8] = if d == b"bad" {
                b"stream: X.Y FOUND\0"
            } else {
                b"stream: OK\0"
            };
            p.send(format!("{id}: ").as_bytes());
            p.send(body);
        }
        // third scan abandoned mid-stream: the client closes without END
        p.read_command().unwrap();
        p.read_to_eof();
    });
    let mut c = Client::new(clamd_cfg(addr)).unwrap();
    assert!(c.end().verdict.error().is_some());
    assert!(c.write(b"x").is_err());
    c.begin("one");
    c.write(b"go").unwrap();
    c.write(b"od").unwrap();
    assert_eq!(c.end().verdict, Verdict::Clean);
    c.begin("two");
    c.write(b"bad").unwrap();
    assert_eq!(c.end().verdict, Verdict::Infected(vec!["X.Y".into()]));
    c.begin("three");
    c.write(b"partial").unwrap();
    c.close();
    h.join().unwrap();
}
