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
