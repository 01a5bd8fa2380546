//! How a case's daemon ends a connection reaches the client unchanged: a refusal needs no
//! server (nothing listens), and a reset by the daemon reaches the client through the
//! recording proxy as a reset, not as an orderly FIN (CLAMD-CLIENT-3).

use std::io::ErrorKind;
use std::time::Duration;

use faults::{Fault, FaultPlan, Trigger};
use harness::daemon::{self, DaemonSpec, RunningDaemon};
use harness::proxy::{Listen, Proxy, ProxyOptions};
use harness::Protocol;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const T: Duration = Duration::from_secs(10);

/// The case's clamd daemon with a plan of one rule: `fault` when `when`.
async fn clamd_with(when: Trigger, fault: Fault) -> RunningDaemon {
    let plan = FaultPlan::new().with(when, fault);
    daemon::start(&DaemonSpec::default(), Protocol::Clamd, Some(plan))
        .await
        .expect("start")
}

/// Issue 13 (CLAMD-CLIENT-3): a plan that refuses the first connection starts no daemon; the
/// client gets an address where the kernel refuses the connection, reserved for the case,
/// and there are no fault counters.
#[tokio::test]
async fn refusal_needs_no_server() {
    let d = clamd_with(Trigger::always(), Fault::Refuse).await;
    assert!(matches!(d, RunningDaemon::Refused(_)));
    assert_eq!(d.implementation(), "refuse");
    assert!(d.fault_stats().is_none());
    let err = TcpStream::connect(d.addr().expect("addr"))
        .await
        .expect_err("something listens");
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
    // The port stays reserved while the case runs: a proxy or daemon of a case running
    // beside it cannot be given it (tokio binds with SO_REUSEADDR) and receive this client.
    let taken = tokio::net::TcpListener::bind(d.addr().expect("addr")).await;
    assert!(taken.is_err(), "the refused port was free to bind");
    drop(d);
}

/// Issue 13: a fake with a plan counts what fired (`fault_stats`, read by the runner for
/// NOT-APPLICABLE), from the one daemon the case runs on.
#[tokio::test]
async fn fault_stats_count_the_rules_that_fired() {
    let d = clamd_with(Trigger::command("PING"), Fault::Reset).await;
    let fired = |d: &RunningDaemon| -> u64 {
        d.fault_stats()
            .expect("a fake has stats")
            .rules
            .iter()
            .map(|r| r.fired)
            .sum()
    };
    assert_eq!(fired(&d), 0);
    let mut s = TcpStream::connect(d.addr().expect("addr"))
        .await
        .expect("connect");
    s.write_all(b"zPING\0").await.expect("write");
    let mut buf = [0u8; 16];
    let _ = tokio::time::timeout(T, s.read(&mut buf)).await;
    assert_eq!(fired(&d), 1);
}

/// CLAMD-CLIENT-3 through the proxy: the daemon resets after the scan command, and the
/// client reading through the proxy sees the reset (ECONNRESET), not an orderly EOF.
#[tokio::test]
async fn a_daemon_reset_reaches_the_client_as_a_reset() {
    let d = clamd_with(Trigger::command("INSTREAM"), Fault::Reset).await;
    let opts = ProxyOptions {
        hold_greeting: Duration::ZERO,
        svsp_data_channels: false,
    };
    let p = Proxy::start_with(
        Listen::Tcp("127.0.0.1:0".parse().expect("addr")),
        d.addr().expect("addr"),
        opts,
    )
    .await
    .expect("proxy");
    let mut s = TcpStream::connect(p.tcp_addr.expect("proxy tcp"))
        .await
        .expect("connect");
    s.write_all(b"zINSTREAM\0\0\0\0\x03abc\0\0\0\0")
        .await
        .expect("write");
    let mut buf = [0u8; 64];
    let got = tokio::time::timeout(T, s.read(&mut buf))
        .await
        .expect("no answer in time");
    match got {
        Err(e) => assert_eq!(e.kind(), ErrorKind::ConnectionReset),
        Ok(n) => panic!("read {n} bytes (0 = FIN) instead of a reset"),
    }
}

/// Bytes a client gets to write before an upload blocks on a daemon that stopped reading
/// (fault `stop-reading` at INSTREAM), through the proxy or straight to the daemon.
async fn written_before_blocking(through_proxy: bool) -> u64 {
    let stall = Fault::StopReading {
        after_bytes: None,
        hold_ms: Some(30_000),
    };
    let d = clamd_with(Trigger::command("INSTREAM"), stall).await;
    let upstream = d.addr().expect("addr");
    let p = match through_proxy {
        true => Some(
            Proxy::start(Listen::Tcp("127.0.0.1:0".parse().expect("addr")), upstream)
                .await
                .expect("proxy"),
        ),
        false => None,
    };
    let to = p.as_ref().and_then(|p| p.tcp_addr).unwrap_or(upstream);
    let mut s = TcpStream::connect(to).await.expect("connect");
    let body = fixtures::clamd_wire::instream_chunked(&vec![b'a'; 64 << 20], 64 * 1024);
    let (how, written) = fixtures::wire::upload(&mut s, &body, Duration::from_secs(2)).await;
    assert_eq!(
        how,
        fixtures::wire::Upload::Blocked,
        "{written} bytes written"
    );
    written
}

/// CLAMD-CLIENT-10 through the proxy: when the daemon stops reading, the proxy stops reading
/// the client too (it holds one 64 KiB read at most), so the client's upload blocks as it
/// would without the proxy, long before the proxy's 16 MiB record cap. The case
/// `clamd.fault-stop-reading` sends more than twice what gets through here.
#[tokio::test]
async fn a_daemon_that_stops_reading_blocks_the_upload_through_the_proxy() {
    let direct = written_before_blocking(false).await;
    let proxied = written_before_blocking(true).await;
    println!(
        "written before the upload blocked: {direct} bytes direct, {proxied} through the proxy"
    );
    assert!(
        proxied < harness::proxy::RECORD_CAP as u64,
        "the proxy buffered {proxied} bytes"
    );
    // the proxy adds its own socket buffers and one read, not the upload
    assert!(proxied < 2 * direct + (8 << 20), "{proxied} vs {direct}");
}

/// A proxy on a fresh loopback port in front of `upstream`.
async fn proxy_to(upstream: std::net::SocketAddr) -> Proxy {
    let opts = ProxyOptions {
        hold_greeting: Duration::ZERO,
        svsp_data_channels: false,
    };
    let listen = Listen::Tcp("127.0.0.1:0".parse().expect("addr"));
    Proxy::start_with(listen, upstream, opts)
        .await
        .expect("proxy")
}

/// CLAMD-CLIENT-3, fault `refuse` at a later connection: the client of the refused one gets
/// a reset through the proxy (never a FIN, which reads as a complete empty reply), and the
/// transcript finds the refusal in the daemon's account, whether or not the proxy's own
/// connect saw the reset; the connection before it was not refused.
#[tokio::test]
async fn a_refusal_at_a_later_connection_is_the_daemons_account() {
    let d = clamd_with(Trigger::connection(2), Fault::Refuse).await;
    let p = proxy_to(d.addr().expect("addr")).await;
    let to = p.tcp_addr.expect("proxy tcp");
    let mut first = TcpStream::connect(to).await.expect("connect");
    first.write_all(b"zPING\0").await.expect("write");
    let mut reply = Vec::new();
    let _ = tokio::time::timeout(T, first.read_to_end(&mut reply)).await;
    assert_eq!(reply, b"PONG\0");
    let mut second = TcpStream::connect(to).await.expect("connect");
    let mut buf = [0u8; 16];
    match tokio::time::timeout(T, second.read(&mut buf))
        .await
        .expect("no end in time")
    {
        Err(e) => assert_eq!(e.kind(), ErrorKind::ConnectionReset),
        Ok(n) => panic!("read {n} bytes (0 = FIN) instead of a reset"),
    }
    drop((first, second));
    let mut t = p.finish(T).await;
    t.daemon_refused = d.refused_peers();
    assert_eq!(t.refused_by_daemon(1), Some(false));
    assert_eq!(t.refused_by_daemon(2), Some(true), "{:?}", t.events);
    let s = harness::snapshot::render_as_expected(
        Protocol::Clamd,
        "clamd.x",
        harness::Verdict::Error,
        &t,
    );
    assert!(
        s.contains("connection 2:\n  server refused the connection at accept (reset before reading a byte)\n"),
        "{s}"
    );
}

/// A server that writes `stream`, and `: OK\0` 50 ms later, then closes; its address.
async fn split_reply_server() -> std::net::SocketAddr {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = l.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 64];
                let _ = s.read(&mut buf).await;
                let _ = s.write_all(b"stream").await;
                tokio::time::sleep(Duration::from_millis(50)).await;
                let _ = s.write_all(b": OK\0").await;
            });
        }
    });
    addr
}

/// Whether the proxy recorded the client's side as ended by an error (a reset).
fn client_reset(t: &harness::transcript::Transcript) -> bool {
    t.events.iter().any(|e| {
        matches!(&e.kind, harness::transcript::EventKind::Error { dir, .. } if *dir == harness::transcript::Dir::C2S)
    })
}

/// CLAMD-CLIENT-3, a client that closes on the first piece of a split reply (Exim on
/// `clamd.fault-split-reply-*`): with the rest still coming, its close (a FIN when nothing
/// was unread yet) is recorded as the reset its socket answers the rest with, as a close
/// with bytes unread is; a client that half-closes and reads the reply to its end is not.
#[tokio::test]
async fn a_client_that_closes_mid_reply_ends_as_a_reset_whichever_came_first() {
    let p = proxy_to(split_reply_server().await).await;
    let to = p.tcp_addr.expect("proxy tcp");
    let mut s = TcpStream::connect(to).await.expect("connect");
    s.write_all(b"zPING\0").await.expect("write");
    let mut buf = [0u8; 6];
    tokio::time::timeout(T, s.read_exact(&mut buf))
        .await
        .expect("in time")
        .expect("read");
    drop(s); // nothing unread yet: a FIN
    let t = p.finish(T).await;
    assert!(client_reset(&t), "{}", t.raw_log(80));

    let p = proxy_to(split_reply_server().await).await;
    let mut s = TcpStream::connect(p.tcp_addr.expect("proxy tcp"))
        .await
        .expect("connect");
    s.write_all(b"zPING\0").await.expect("write");
    s.shutdown().await.expect("half-close");
    let mut reply = Vec::new();
    tokio::time::timeout(T, s.read_to_end(&mut reply))
        .await
        .expect("in time")
        .expect("read");
    assert_eq!(reply, b"stream: OK\0");
    drop(s);
    let t = p.finish(T).await;
    assert!(!client_reset(&t), "{}", t.raw_log(80));
}
