//! Load and hostile peers against the in-process fake clamd (issue 9), loopback only, each
//! bounded in time. Rule IDs refer to shared/spec/clamd.md.

mod common;

use fake_clamd::FakeDaemon;
use std::time::{Duration, Instant};

use clamd_proto::reply;
use common::{raise_nofile, rss_bytes, SHORT};
use fake_clamd::FakeClamd;
use fixtures::clamd_wire::chunk;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{sleep, timeout};

/// The tests measure this process's RSS and open many sockets: run them one at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// `INSTREAM size limit exceeded. ERROR\0` (CLAMD-INSTREAM-5, z framing).
fn size_limit_reply() -> Vec<u8> {
    format!("{} {}\0", reply::INSTREAM_SIZE_LIMIT_EXCEEDED, reply::ERROR).into_bytes()
}

/// Read until EOF (or error) with a deadline; returns the bytes and whether EOF/reset came.
async fn read_to_close(s: &mut TcpStream, limit: Duration) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match timeout(left, s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (out, true),
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
            Err(_) => return (out, false),
        }
    }
}

/// Read one z-terminated reply.
async fn read_z_reply(s: &mut TcpStream, limit: Duration) -> Vec<u8> {
    let mut out = Vec::new();
    let mut b = [0u8; 1];
    let deadline = Instant::now() + limit;
    while !out.ends_with(b"\0") {
        let left = deadline.saturating_duration_since(Instant::now());
        match timeout(left, s.read(&mut b)).await {
            Ok(Ok(1)) => out.push(b[0]),
            _ => break,
        }
    }
    out
}

/// A fake that records nothing (recording would count in the RSS measured), started, and
/// its TCP address.
async fn unrecorded(builder: fake_clamd::FakeClamdBuilder) -> (FakeClamd, std::net::SocketAddr) {
    let clamd = builder.record(false).start().await.expect("start");
    let addr = clamd.addr().expect("tcp");
    (clamd, addr)
}

async fn ping(addr: std::net::SocketAddr) -> Vec<u8> {
    let mut s = timeout(SHORT, TcpStream::connect(addr))
        .await
        .expect("connect in time")
        .expect("connect");
    s.write_all(b"zPING\0").await.expect("send PING");
    read_z_reply(&mut s, SHORT).await
}

/// CLAMD-TRANS-4 / CLAMD-TIME-1: 1,000 slowloris peers dribbling a command one byte at a
/// time do not stop a fresh client from getting PONG quickly (MaxQueue raised above the
/// number of peers; with clamd's default MaxQueue 100 the 101st connection waits, as in
/// clamd -- see `clamd_trans_6_connections_beyond_max_queue_queued_never_crash`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clamd_trans_4_slowloris_1000_peers_fresh_client_gets_pong() {
    let _serial = SERIAL.lock().await;
    raise_nofile();
    let (_clamd, addr) = unrecorded(FakeClamd::builder().with_config(|c| c.max_queue = 1100)).await;
    let mut peers = Vec::new();
    for _ in 0..1000 {
        peers.push(TcpStream::connect(addr).await.expect("slowloris connect"));
    }
    // dribble a few bytes of an endless command, one byte per peer per round
    for round in 0..3u8 {
        for p in &mut peers {
            p.write_all(&[if round == 0 { b'z' } else { b'P' }])
                .await
                .expect("dribble");
        }
        sleep(Duration::from_millis(200)).await;
    }
    let t = Instant::now();
    let pong = ping(addr).await;
    let took = t.elapsed();
    assert_eq!(pong, b"PONG\0");
    assert!(took < Duration::from_secs(1), "PONG took {took:?}");
    // the peers are still connected (not dropped to make room)
    let mut b = [0u8; 1];
    let still_open = timeout(Duration::from_millis(100), peers[0].read(&mut b))
        .await
        .is_err();
    assert!(still_open, "a slowloris peer was closed early");
    drop(peers);
}

/// CLAMD-INSTREAM-4: a `\xff\xff\xff\xff` chunk header is checked against StreamMaxLength
/// before any data: the size-limit reply comes at once and nothing is allocated for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clamd_instream_4_ffffffff_chunk_len_allocates_nothing() {
    let _serial = SERIAL.lock().await;
    let (_clamd, addr) = unrecorded(FakeClamd::builder().stream_max_length(1 << 20)).await;
    // warm up (runtime, buffers), then measure
    assert_eq!(ping(addr).await, b"PONG\0");
    let before = rss_bytes();
    for _ in 0..50 {
        let mut s = TcpStream::connect(addr).await.expect("connect");
        let t = Instant::now();
        s.write_all(b"zINSTREAM\0\xff\xff\xff\xff")
            .await
            .expect("send");
        let r = read_z_reply(&mut s, SHORT).await;
        assert_eq!(r, size_limit_reply());
        assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
    }
    let after = rss_bytes();
    let growth = after.saturating_sub(before);
    assert!(
        growth < 16 << 20,
        "RSS grew by {growth} bytes over 50 x 4 GiB chunk headers"
    );
    assert_eq!(ping(addr).await, b"PONG\0");
}

/// CLAMD-INSTREAM-4: exactly StreamMaxLength bytes are accepted (a marker ending at the
/// last allowed byte is found), one byte more is cut off with the size-limit reply.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clamd_instream_4_stream_past_limit_cut_off_at_limit() {
    let _serial = SERIAL.lock().await;
    const LIMIT: usize = 1000;
    let (_clamd, addr) = unrecorded(FakeClamd::builder().stream_max_length(LIMIT as u64)).await;
    let marker = scan_engine::MARKER_BYTES;
    let mut body = vec![b'.'; LIMIT - marker.len()];
    body.extend_from_slice(marker);
    assert_eq!(body.len(), LIMIT);

    // exactly at the limit, in 100-byte chunks: accepted and scanned to the last byte
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let req = fixtures::clamd_wire::instream_chunked(&body, 100);
    s.write_all(&req).await.expect("send");
    let r = read_z_reply(&mut s, SHORT).await;
    assert_eq!(
        r,
        format!("stream: {} FOUND\0", scan_engine::MARKER_NAME).into_bytes()
    );

    // one byte past the limit: the header of the chunk that crosses it is refused
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let mut req = b"zINSTREAM\0".to_vec();
    for c in body.chunks(100) {
        req.extend_from_slice(&chunk(c));
    }
    req.extend_from_slice(&chunk(b"X"));
    req.extend_from_slice(&[0, 0, 0, 0]);
    s.write_all(&req).await.expect("send");
    let (r, closed) = read_to_close(&mut s, SHORT).await;
    assert_eq!(r, size_limit_reply());
    assert!(
        closed,
        "connection not closed after the limit (CLAMD-INSTREAM-5)"
    );

    // 10 MiB offered against the 1000-byte limit in one chunk: refused at the header
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let mut req = b"zINSTREAM\0".to_vec();
    req.extend_from_slice(&(10u32 << 20).to_be_bytes());
    s.write_all(&req).await.expect("send");
    let r = read_z_reply(&mut s, SHORT).await;
    assert_eq!(r, size_limit_reply());
}

/// CLAMD-TRANS-4 / CLAMD-FRAME-9: a command that never ends is cut off at clamd's
/// 4104-byte buffer: the server closes without a reply, memory stays flat.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clamd_frame_9_endless_command_line_cut_off() {
    let _serial = SERIAL.lock().await;
    let (_clamd, addr) = unrecorded(FakeClamd::builder()).await;
    assert_eq!(ping(addr).await, b"PONG\0");
    let before = rss_bytes();
    for _ in 0..20 {
        let mut s = TcpStream::connect(addr).await.expect("connect");
        let mut line = b"zSCAN /".to_vec();
        line.resize(clamd_proto::COMMAND_BUFFER_SIZE, b'a');
        s.write_all(&line).await.expect("fill the buffer");
        // keep writing: the server must close; writes then fail (EPIPE/RST) or are dropped
        let junk = vec![b'a'; 64 << 10];
        let mut sent = line.len();
        let t = Instant::now();
        while sent < 64 << 20 && t.elapsed() < SHORT {
            match timeout(Duration::from_millis(500), s.write_all(&junk)).await {
                Ok(Ok(())) => sent += junk.len(),
                _ => break,
            }
        }
        assert!(
            sent < 64 << 20,
            "server swallowed {sent} bytes of one command line"
        );
        let (r, closed) = read_to_close(&mut s, SHORT).await;
        assert!(r.is_empty(), "reply to an over-long command: {r:?}");
        assert!(closed, "server did not close");
    }
    let growth = rss_bytes().saturating_sub(before);
    assert!(growth < 16 << 20, "RSS grew by {growth} bytes");
    assert_eq!(ping(addr).await, b"PONG\0");
}

/// CLAMD-TRANS-6: 2,000 connections beyond MaxQueue and MaxConnectionQueueLength are
/// queued (kernel backlog, SYN retries) or refused, never crash the daemon; the first
/// MaxQueue are served, and once they close the daemon answers a fresh client.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clamd_trans_6_connections_beyond_max_queue_queued_never_crash() {
    let _serial = SERIAL.lock().await;
    let nofile = raise_nofile();
    let n: usize = if nofile >= 12_000 {
        10_000
    } else if nofile >= 5000 {
        2000
    } else {
        400
    };
    let (clamd, addr) = unrecorded(FakeClamd::builder().with_config(|c| {
        c.max_threads = 2;
        c.max_queue = 32;
        c.max_connection_queue_length = 16;
    }))
    .await;
    let max_queue = clamd.config().effective_max_queue();
    assert_eq!(max_queue, 32);
    let mut tasks = Vec::new();
    for _ in 0..n {
        tasks.push(tokio::spawn(async move {
            // Ok(Some(reply)) = served, Ok(None) = connected but not served in time,
            // Err = refused / connect timed out
            let Ok(Ok(mut s)) = timeout(Duration::from_secs(2), TcpStream::connect(addr)).await
            else {
                return Err(());
            };
            if s.write_all(b"zIDSESSION\0zPING\0").await.is_err() {
                return Err(());
            }
            let r = read_z_reply(&mut s, Duration::from_secs(2)).await;
            // hold the connection a little so that the queue stays full
            sleep(Duration::from_millis(500)).await;
            Ok((!r.is_empty()).then_some(r))
        }));
    }
    let mut served = 0;
    let mut waiting = 0;
    let mut refused = 0;
    for t in tasks {
        match t.await.expect("task") {
            Ok(Some(r)) => {
                assert_eq!(r, b"1: PONG\0");
                served += 1;
            }
            Ok(None) => waiting += 1,
            Err(()) => refused += 1,
        }
    }
    eprintln!("{n} connections: served {served}, queued without reply {waiting}, refused/timed out {refused}");
    assert!(served >= max_queue, "only {served} served");
    assert_eq!(served + waiting + refused, n);
    assert!(!clamd.is_shut_down());
    // all clients gone: the daemon answers again
    let t = Instant::now();
    loop {
        let r = timeout(Duration::from_secs(2), ping(addr)).await;
        if let Ok(r) = r {
            assert_eq!(r, b"PONG\0");
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "daemon does not answer after the flood"
        );
    }
}

/// CLAMD-TRANS-4: the admin API's live view (`GET /transcripts`) reads the whole record
/// (64 MiB at the defaults, here 10 MiB of binary INSTREAM bytes from 40 connections) but
/// renders it off the event loop: fake-clamd keeps answering PING meanwhile. Before, the
/// render ran on the daemon's only loop thread (a current-thread runtime, as in the binary)
/// and every connection waited for it.
#[tokio::test(flavor = "current_thread")]
async fn clamd_trans_4_admin_live_view_does_not_stall_the_daemon() {
    let _serial = SERIAL.lock().await;
    let clamd = FakeClamd::builder()
        .admin("127.0.0.1:0".parse().expect("addr"))
        .start()
        .await
        .expect("start");
    let addr = clamd.addr().expect("tcp");
    let admin = clamd.admin_addr().expect("admin");
    // high bytes: each is rendered as a four-character `\xNN`
    let blob: Vec<u8> = (0..256 * 1024).map(|i| 0x80 | (i % 128) as u8).collect();
    for _ in 0..40 {
        let mut s = TcpStream::connect(addr).await.expect("connect");
        s.write_all(&fixtures::clamd_wire::instream(&blob))
            .await
            .expect("send");
        assert!(read_z_reply(&mut s, SHORT).await.ends_with(b"OK\0"));
    }
    let render =
        tokio::spawn(
            async move { fixtures::admin_http::http(admin, "GET", "/transcripts", "").await },
        );
    // how late the loop answers while the render runs
    let mut worst = Duration::ZERO;
    let t = Instant::now();
    while !render.is_finished() && t.elapsed() < Duration::from_secs(20) {
        let step = Instant::now();
        sleep(Duration::from_millis(10)).await;
        assert_eq!(ping(addr).await, b"PONG\0");
        worst = worst.max(step.elapsed());
    }
    let (status, _) = render.await.expect("render task");
    assert_eq!(status, 200);
    assert!(
        worst < Duration::from_millis(300),
        "a PING waited {worst:?} for the live view"
    );
}
