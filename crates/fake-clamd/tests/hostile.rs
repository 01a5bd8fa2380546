//! Bad input, limits and the deterministic INSTREAM limit modes.

mod common;

use std::time::{Duration, Instant};

use common::*;
use fake_clamd::{FakeClamd, StreamLimitMode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn alive(s: &FakeClamd) {
    assert_eq!(ask(s, b"zPING\0").await, b"PONG\0");
}

/// CLAMD-INSTREAM-4.
#[tokio::test]
async fn clamd_instream_4_exact_quota_through_the_server() {
    let s = started(FakeClamd::builder().stream_max_length(1000)).await;
    let a = s.addr().unwrap();
    let ok = cat(&[
        b"zINSTREAM\0",
        &chunk(&[1; 400]),
        &chunk(&[2; 600]),
        b"\0\0\0\0",
    ]);
    assert_eq!(ask_at(a, &ok).await, b"stream: OK\0");
    let over = cat(&[
        b"zINSTREAM\0",
        &chunk(&[1; 400]),
        &chunk(&[2; 601]),
        b"\0\0\0\0",
    ]);
    assert_eq!(
        ask_at(a, &over).await,
        b"INSTREAM size limit exceeded. ERROR\0"
    );
    // header checked before data: the reply comes although no data follows it
    let hdr = cat(&[b"zINSTREAM\0", &chunk(&[1; 1000]), &1u32.to_be_bytes()]);
    assert_eq!(
        ask_at(a, &hdr).await,
        b"INSTREAM size limit exceeded. ERROR\0"
    );
    alive(&s).await;
}

#[tokio::test]
async fn hostile_ffffffff_chunk_allocates_nothing_and_server_survives() {
    let s = FakeClamd::start().await.unwrap();
    for _ in 0..20 {
        assert_eq!(
            ask(&s, b"nINSTREAM\n\xff\xff\xff\xff").await,
            b"INSTREAM size limit exceeded. ERROR\n"
        );
    }
    alive(&s).await;
}

/// CLAMD-FRAME-9.
#[tokio::test]
async fn clamd_frame_9_endless_line_closes_without_reply() {
    let s = FakeClamd::start().await.unwrap();
    let t = Instant::now();
    let mut c = TcpStream::connect(s.addr().unwrap()).await.unwrap();
    let junk = vec![b'A'; 64 * 1024];
    c.write_all(b"n").await.unwrap();
    let mut sent = 0usize;
    let mut out = Vec::new();
    // keep writing until the server gives up; it must not buffer it all
    loop {
        match tokio::time::timeout(Duration::from_millis(200), c.write_all(&junk)).await {
            Ok(Ok(())) => sent += junk.len(),
            _ => break,
        }
        if sent > 64 << 20 {
            break;
        }
    }
    let _ = tokio::time::timeout(Duration::from_secs(5), c.read_to_end(&mut out)).await;
    assert!(out.is_empty(), "no reply bytes: {out:?}");
    assert!(sent < 64 << 20, "server kept reading an endless line");
    assert!(t.elapsed() < Duration::from_secs(10));
    // z-mode variant
    assert_eq!(ask(&s, &[b'z'; 5000]).await, b"");
    // CLAMD-FRAME-3: a legacy line is the first read, whatever its length
    assert_eq!(ask(&s, &vec![b'A'; 100_000]).await, b"UNKNOWN COMMAND\n");
    alive(&s).await;
}

/// CLAMD-CONN-4.
#[tokio::test]
async fn clamd_conn_4_half_close() {
    let s = FakeClamd::start().await.unwrap();
    let a = s.addr().unwrap();
    // after a complete command: reply still arrives
    assert_eq!(exchange_shut(a, b"zPING\0").await.unwrap(), b"PONG\0");
    assert_eq!(
        exchange_shut(a, b"zINSTREAM\0\0\0\0\0").await.unwrap(),
        b"stream: OK\0"
    );
    // before the command/stream is complete: close without reply, quickly
    let t = Instant::now();
    assert_eq!(exchange_shut(a, b"zPIN").await.unwrap(), b"");
    assert_eq!(exchange_shut(a, b"zINSTREAM\0\0\0").await.unwrap(), b"");
    assert_eq!(
        exchange_shut(a, b"zINSTREAM\0\0\0\0\x05ab").await.unwrap(),
        b""
    );
    assert_eq!(
        exchange_shut(a, b"zIDSESSION\0zPING\0").await.unwrap(),
        b"1: PONG\0"
    );
    assert!(t.elapsed() < Duration::from_secs(2));
    alive(&s).await;
}

/// CLAMD-FRAME-8.
#[tokio::test]
async fn clamd_frame_8_one_byte_sends() {
    let s = FakeClamd::start().await.unwrap();
    let e = scan_engine::eicar();
    let req = cat(&[b"nINSTREAM\n", &chunk(&e), b"\0\0\0\0"]);
    let parts: Vec<&[u8]> = req.chunks(1).collect();
    assert_eq!(
        exchange(s.addr().unwrap(), &parts).await.unwrap(),
        b"stream: Win.Test.EICAR_HDB-1 FOUND\n"
    );
    let parts: Vec<&[u8]> = b"nVERSIONCOMMANDS\n".chunks(1).collect();
    let got = exchange(s.addr().unwrap(), &parts).await.unwrap();
    assert!(
        got.starts_with(b"ClamAV 1.4.6| COMMANDS: SCAN QUIT"),
        "{got:?}"
    );
}

/// CLAMD-CONN-3.
#[tokio::test]
async fn clamd_conn_3_extra_bytes_after_path_command() {
    let corpus = Corpus::new();
    let s = started(corpus.builder()).await;
    let p = String::from_utf8(corpus.p("clean.txt")).unwrap();
    // observed on clamd 1.4.6: the line comes first, then the scan reply
    assert_eq!(
        ask(&s, format!("nSCAN {p}\r\n").as_bytes()).await,
        format!("Error processing command. ERROR\n{p}: OK\n").into_bytes()
    );
    assert_eq!(
        ask(&s, format!("zSCAN {p}\0zPING\0").as_bytes()).await,
        format!("Error processing command. ERROR\0{p}: OK\0").into_bytes()
    );
    // not when the extra bytes come later, not for PING
    assert_eq!(
        exchange(
            s.addr().unwrap(),
            &[format!("zSCAN {p}\0").as_bytes(), b"junk"]
        )
        .await
        .unwrap(),
        format!("{p}: OK\0").into_bytes()
    );
    assert_eq!(ask(&s, b"nPING\r\n").await, b"PONG\n");
}

/// CLAMD-SCAN-8.
#[tokio::test]
async fn clamd_scan_8_multiscan_empty_dir_sends_nothing() {
    let corpus = Corpus::new();
    std::fs::create_dir(corpus.c().join("emptydir")).unwrap();
    let s = started(corpus.builder()).await;
    let p = String::from_utf8(corpus.p("emptydir")).unwrap();
    assert_eq!(ask(&s, format!("zMULTISCAN {p}\0").as_bytes()).await, b"");
    assert_eq!(
        ask(&s, format!("zCONTSCAN {p}\0").as_bytes()).await,
        format!("{p}: OK\0").into_bytes()
    );
}

/// CLAMD-SCAN-12.
#[tokio::test]
async fn clamd_scan_12_user_access_emulated_as_root() {
    if !is_root() {
        println!("SKIP: not root, the User emulation only applies to a daemon running as root");
        return;
    }
    let corpus = Corpus::new();
    let conf = conf_with(&corpus.db(), "User nobody\n");
    let s = start_conf(&conf).await;
    let p = String::from_utf8(corpus.p("mixperm")).unwrap();
    // mixperm/ is 0755 (tempdir parents readable), secret.com is 0000
    use std::os::unix::fs::PermissionsExt;
    for d in [corpus.dir.path().to_path_buf(), corpus.c()] {
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    assert_eq!(
        ask(&s, format!("zSCAN {p}\0").as_bytes()).await,
        format!("{p}/secret.com: Access denied. ERROR\0{p}: OK\0").into_bytes()
    );
}

async fn over_limit_client(
    s: &FakeClamd,
) -> (
    Result<(), std::io::Error>,
    Vec<u8>,
    Option<std::io::ErrorKind>,
) {
    let mut c = TcpStream::connect(s.addr().unwrap()).await.unwrap();
    let mut req = b"zINSTREAM\0".to_vec();
    req.extend_from_slice(&(1u32 << 20).to_be_bytes());
    let payload = vec![7u8; 1 << 20];
    let w = async {
        c.write_all(&req).await?;
        c.write_all(&payload).await
    }
    .await;
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let mut err = None;
    loop {
        match tokio::time::timeout(Duration::from_secs(5), c.read(&mut buf)).await {
            Ok(Ok(0)) => break,
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
            Ok(Err(e)) => {
                err = Some(e.kind());
                break;
            }
            Err(_) => {
                err = Some(std::io::ErrorKind::TimedOut);
                break;
            }
        }
    }
    (w, out, err)
}

/// A fake with a 16-byte StreamMaxLength in `mode`.
async fn limited_to_16(mode: StreamLimitMode) -> FakeClamd {
    started(
        FakeClamd::builder()
            .stream_max_length(16)
            .stream_limit(mode),
    )
    .await
}

/// CLAMD-INSTREAM-8.
#[tokio::test]
async fn clamd_instream_8_limit_modes_are_deterministic() {
    // reply-drain: the whole upload succeeds, then the reply and EOF
    let s = limited_to_16(StreamLimitMode::ReplyDrain).await;
    for _ in 0..3 {
        let (w, out, err) = over_limit_client(&s).await;
        assert!(w.is_ok(), "{w:?}");
        assert_eq!(out, b"INSTREAM size limit exceeded. ERROR\0");
        assert_eq!(err, None);
    }
    // close: reply, then FIN right away
    let s = limited_to_16(StreamLimitMode::Close).await;
    let (_, out, err) = over_limit_client(&s).await;
    assert_eq!(out, b"INSTREAM size limit exceeded. ERROR\0");
    assert_eq!(err, None);
    // reset: no reply, ECONNRESET
    let s = limited_to_16(StreamLimitMode::Reset).await;
    for _ in 0..3 {
        let (_, out, err) = over_limit_client(&s).await;
        assert!(out.is_empty(), "{out:?}");
        assert_eq!(err, Some(std::io::ErrorKind::ConnectionReset));
    }
}

/// CLAMD-TRANS-6.
#[tokio::test]
async fn clamd_trans_6_idle_connections_do_not_block_forever() {
    let s = FakeClamd::builder()
        .timeouts(Duration::from_secs(1), Duration::from_secs(1))
        .timeout_slack(Duration::from_millis(100))
        .with_config(|c| {
            c.max_queue = 20;
            c.max_threads = 2;
        })
        .start()
        .await
        .unwrap();
    let mut idle = Vec::new();
    for _ in 0..150 {
        idle.push(TcpStream::connect(s.addr().unwrap()).await.unwrap());
    }
    // accepted connections are capped at MaxQueue; the rest wait in the backlog and are
    // served as idle ones time out
    let t = Instant::now();
    let got = tokio::time::timeout(
        Duration::from_secs(30),
        exchange(s.addr().unwrap(), &[b"zPING\0"]),
    )
    .await
    .expect("served eventually")
    .unwrap();
    assert_eq!(got, b"PONG\0");
    assert!(
        t.elapsed() >= Duration::from_millis(900),
        "PING should have waited for the queue"
    );
    drop(idle);
}

/// CLAMD-SESSION-4 with large INSTREAM reads: whatever follows the terminator in the same
/// read (here far more than the 4104-byte command buffer) is served as the next commands,
/// in order, none lost.
#[tokio::test]
async fn clamd_session_4_commands_after_a_stream_in_one_write_are_all_served() {
    // arrival order: this is about buffering; clamd's reply order is tests/clamd_order.rs
    let s = started(FakeClamd::builder().session_order(fake_clamd::SessionOrder::Arrival)).await;
    let body = vec![b'a'; 100_000];
    let pings = b"zPING\0".repeat(2000);
    let data = cat(&[
        b"zIDSESSION\0zINSTREAM\0",
        &chunk(&body),
        &[0, 0, 0, 0],
        &pings,
        b"zEND\0",
    ]);
    let got = exchange(s.addr().unwrap(), &[&data]).await.unwrap();
    let mut want = b"1: stream: OK\0".to_vec();
    for id in 2..=2001 {
        want.extend_from_slice(format!("{id}: PONG\0").as_bytes());
    }
    assert_eq!(
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(&want)
    );
    alive(&s).await;
}

/// CLAMD-FRAME-9 after a stream: an over-long command among the bytes that followed the
/// terminator still closes the connection without a reply for it.
#[tokio::test]
async fn clamd_frame_9_overlong_command_after_a_stream_closes() {
    // arrival order: this is about buffering; clamd's reply order is tests/clamd_order.rs
    let s = started(FakeClamd::builder().session_order(fake_clamd::SessionOrder::Arrival)).await;
    let data = cat(&[
        b"zIDSESSION\0zINSTREAM\0",
        &chunk(&[b'b'; 50_000]),
        &[0, 0, 0, 0],
        b"zPING\0z",
        &[b'x'; 10_000],
    ]);
    let got = ask(&s, &data).await;
    assert_eq!(got, b"1: stream: OK\x002: PONG\0");
    alive(&s).await;
}

/// CLAMD-TIME-6: a client that stops reading while its session's replies fill the socket
/// buffer loses them after `SendBufTimeout`: the fake gives up the write and closes, it
/// does not block forever nor deliver the rest later.
#[tokio::test]
async fn clamd_time_6_send_buf_timeout_abandons_an_unread_session() {
    let corpus = Corpus::new();
    let s = started(
        corpus
            .builder()
            .unix_socket_in_temp()
            .with_config(|c| c.send_buf_timeout = Duration::from_millis(200)),
    )
    .await;
    let n = 5000;
    let mut req = b"zIDSESSION\0".to_vec();
    for _ in 0..n {
        req.extend_from_slice(b"zVERSIONCOMMANDS\0");
    }
    req.extend_from_slice(b"zEND\0");
    let mut u = tokio::net::UnixStream::connect(s.socket_path().unwrap())
        .await
        .expect("connect");
    u.write_all(&req).await.expect("write the session");
    // not reading: about 170 bytes a reply, far more than the socket buffer holds
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut got = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), u.read_to_end(&mut got)).await;
    assert!(read.is_ok(), "the fake closed the connection");
    let replies = got.iter().filter(|&&b| b == 0).count();
    assert!(
        replies < n,
        "{replies} of {n} replies arrived: the blocked write was not abandoned"
    );
}
