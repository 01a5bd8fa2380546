//! Hostile peers against the in-process fake vfindd (issue 9), loopback only, bounded in
//! time. Rule IDs refer to shared/spec/svsp.md.

mod common;

use std::time::{Duration, Instant};

use common::{rss_bytes, Ctl};
use fake_vfindd::FakeVfindd;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::time::sleep;

/// One test at a time: one of them measures this process's RSS.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const SIG_NAME: &str = "Hostile.Test.Sig-1";
const SIG_BYTES: &[u8] = b"HOSTILE-TESTS-SIGNATURE-1";

async fn server() -> FakeVfindd {
    FakeVfindd::builder()
        .signature(SIG_NAME, SIG_BYTES)
        .data_timeout(Duration::from_millis(300))
        .start()
        .await
        .expect("start fake vfindd")
}

/// SVSP-FRAME-4: an over-long line gets `EINVAL Line too long` once, its bytes are
/// discarded up to the next LF (memory stays flat), and the connection keeps working.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn svsp_frame_4_overlong_and_endless_lines_cut_off() {
    let _serial = SERIAL.lock().await;
    let srv = server().await;
    let mut c = Ctl::connect(srv.addr()).await;
    // just over the limit, with a digit prefix (no id is echoed)
    let mut long = b"7 SCAN/FILE /".to_vec();
    long.resize(svsp_proto::DEFAULT_MAX_LINE + 1, b'a');
    long.extend_from_slice(b"\r\n");
    c.s.write_all(&long).await.expect("send");
    assert_eq!(
        c.line().await.as_deref(),
        Some(&b"EINVAL Line too long"[..])
    );
    // an "endless" line: 32 MiB without LF
    let before = rss_bytes();
    let junk = vec![b'x'; 1 << 20];
    for _ in 0..32 {
        c.s.write_all(&junk).await.expect("server keeps reading");
    }
    c.s.write_all(b"\r\n").await.expect("send");
    assert_eq!(
        c.line().await.as_deref(),
        Some(&b"EINVAL Line too long"[..])
    );
    let growth = rss_bytes().saturating_sub(before);
    assert!(growth < 16 << 20, "RSS grew by {growth} bytes");
    // still serving after the over-long lines: a scan of a missing file answers with id 1
    c.still_answers("1", "/nonexistent/hostile").await;
}

/// SVSP-FRAME-1: a command delivered one byte per read gets exactly the same response
/// lines as the same command in one write.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn svsp_frame_1_one_byte_reads_same_response() {
    let _serial = SERIAL.lock().await;
    let srv = server().await;
    let dir = std::env::temp_dir().join(format!("hostile-vfindd-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tempdir");
    let file = dir.join("sig.bin");
    let mut body = b"prefix ".to_vec();
    body.extend_from_slice(SIG_BYTES);
    std::fs::write(&file, &body).expect("write sample");
    let cmd = format!("3 SCAN/FILE {}\r\n", file.display());

    let mut a = Ctl::connect(srv.addr()).await;
    a.s.write_all(cmd.as_bytes()).await.expect("send");
    let at_once = a.until_terminal("3").await;

    let mut b = Ctl::connect(srv.addr()).await;
    b.s.set_nodelay(true).expect("nodelay");
    for byte in cmd.as_bytes() {
        b.s.write_all(&[*byte]).await.expect("send byte");
        sleep(Duration::from_millis(2)).await;
    }
    let dribbled = b.until_terminal("3").await;
    let _ = std::fs::remove_dir_all(&dir);

    assert!(
        at_once.iter().any(|l| l.contains(SIG_NAME)),
        "signature not reported: {at_once:?}"
    );
    assert_eq!(dribbled, at_once);
}

/// SVSP-SCAN-REQUEST-2 / SVSP-SCAN-PORT-1: a data channel that never connects (REQUEST)
/// or cannot be reached (PORT) ends in `ENOENT No connection to port <port>` after
/// `--data-timeout`, and the control connection keeps working.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn svsp_scan_request_2_data_channel_never_connects() {
    let _serial = SERIAL.lock().await;
    let srv = server().await;
    let mut c = Ctl::connect(srv.addr()).await;
    let t = Instant::now();
    c.s.write_all(b"5 SCAN/REQUEST never\r\n")
        .await
        .expect("send");
    let lines = c.until_terminal("5").await;
    let port = lines
        .iter()
        .find_map(|l| l.strip_prefix("5 SEND "))
        .unwrap_or_else(|| panic!("no SEND line: {lines:?}"))
        .to_string();
    assert_eq!(
        lines.last().map(String::as_str),
        Some(format!("5 ENOENT No connection to port {port}").as_str())
    );
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());

    // PORT to a port nobody listens on: bind and drop to find a closed one
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("probe port")
        .port();
    c.s.write_all(format!("6 SCAN/PORT {closed} p\r\n").as_bytes())
        .await
        .expect("send");
    let lines = c.until_terminal("6").await;
    assert_eq!(
        lines.last().map(String::as_str),
        Some(format!("6 ENOENT No connection to port {closed}").as_str())
    );

    // a data connection that connects but never sends
    c.s.write_all(b"7 SCAN/REQUEST silent\r\n")
        .await
        .expect("send");
    let send = c
        .line()
        .await
        .map(|l| String::from_utf8_lossy(&l).into_owned());
    let lines_port = send
        .as_deref()
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|p| p.parse::<u16>().ok());
    let mut rest = vec![send.clone().unwrap_or_default()];
    if let Some(p) =
        lines_port.filter(|_| send.as_deref().is_some_and(|l| l.starts_with("7 SEND ")))
    {
        let _silent = TcpStream::connect(("127.0.0.1", p))
            .await
            .expect("data connect");
        rest.extend(c.until_terminal("7").await);
        assert_eq!(
            rest.last().map(String::as_str),
            Some(format!("7 ENOENT No connection to port {p}").as_str()),
            "{rest:?}"
        );
    } else {
        panic!("expected `7 SEND <port>`, got {send:?}");
    }
}

/// SVSP-FRAME-4 / load: many peers each sending a partial line byte by byte do not stop
/// a fresh client from being served (within --max-connections).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn svsp_conn_slow_peers_fresh_client_served() {
    let _serial = SERIAL.lock().await;
    common::raise_nofile();
    let srv = FakeVfindd::builder()
        .max_connections(600)
        .start()
        .await
        .expect("start");
    let mut peers = Vec::new();
    for _ in 0..500 {
        peers.push(TcpStream::connect(srv.addr()).await.expect("connect"));
    }
    for round in 0..3u8 {
        for p in &mut peers {
            let _ = p.write_all(&[b'1' + round]).await;
        }
        sleep(Duration::from_millis(100)).await;
    }
    Ctl::fresh_client_served(srv.addr(), Duration::from_secs(2)).await;
    drop(peers);
}

/// SVSP-CONC-4 / SVSP-CONN-5: a peer that pipelines scans and never reads a reply cannot
/// hold the shared scan workers: once its lines wait longer than the send timeout (the
/// idle timeout) its connection is reset, and a fresh client is served. Before the bound,
/// every worker blocked on the full reply queue and the fresh client waited forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn svsp_conc_4_peer_that_never_reads_cannot_hold_the_workers() {
    let _serial = SERIAL.lock().await;
    let srv = FakeVfindd::builder()
        .threads(2)
        // every scan gets a worker's reply (none is refused with a short EAGAIN)
        .max_queue(100_000)
        .idle_timeout(Duration::from_millis(500))
        .start()
        .await
        .expect("start");
    // the attacker: a tiny receive window, never reads
    let sock = tokio::net::TcpSocket::new_v4().expect("socket");
    sock.set_recv_buffer_size(1024).expect("SO_RCVBUF");
    let mut attacker = sock.connect(srv.addr()).await.expect("connect");
    // long names make long replies (`ENOENT "<name>"`): the queues fill after few commands
    let name = format!("/nonexistent/{}", "n".repeat(3000));
    let cmds: Vec<u8> = (1..=3000)
        .flat_map(|i| format!("{i} SCAN/FILE {name}{i}\r\n").into_bytes())
        .collect();
    // the daemon stops reading once its queues are full: send until it takes nothing
    // for 300 ms (or everything)
    let mut sent = 0;
    for piece in cmds.chunks(64 * 1024) {
        let w = tokio::time::timeout(Duration::from_millis(300), attacker.write_all(piece));
        if !matches!(w.await, Ok(Ok(()))) {
            break;
        }
        sent += piece.len();
    }
    eprintln!("attacker sent {sent} of {} bytes", cmds.len());

    Ctl::fresh_client_served(srv.addr(), Duration::from_secs(4)).await;

    // the stalled connection is gone (reset), not held open
    let mut buf = vec![0u8; 1 << 16];
    let gone = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match tokio::io::AsyncReadExt::read(&mut attacker, &mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(gone.is_ok(), "the non-reading connection stayed open");
}

/// SVSP-SCAN-REQUEST-2 / SVSP-CONC-4: silent data channels (a peer connects to each
/// `SEND <port>` and sends nothing, up to `--max-queue` of them) hold no blocking thread, so
/// scans still get one: before, each channel blocked a thread of the runtime's blocking pool
/// for the whole data timeout, and 512 of them stopped every SCAN/FILE. Here the pool is cut
/// to 8 threads so that 20 channels are beyond it.
#[test]
fn svsp_scan_request_2_silent_data_channels_leave_threads_for_scans() {
    let _serial = SERIAL.blocking_lock();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(8)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let srv = FakeVfindd::builder()
            .data_timeout(Duration::from_secs(6))
            .start()
            .await
            .expect("start");
        let mut c = Ctl::connect(srv.addr()).await;
        let cmds: String = (1..=20)
            .map(|i| format!("{i} SCAN/REQUEST r{i}\r\n"))
            .collect();
        c.s.write_all(cmds.as_bytes()).await.expect("send");
        let mut silent = Vec::new();
        while silent.len() < 20 {
            let line = c.line().await.expect("a SEND line per request");
            let line = String::from_utf8_lossy(&line).into_owned();
            if let Some(port) = line.split_once(" SEND ").map(|(_, p)| p.to_string()) {
                let port: u16 = port.parse().expect("port");
                let d = TcpStream::connect(("127.0.0.1", port)).await.expect("data");
                silent.push(d);
            }
        }
        // a trickle keeps each channel alive without finishing it
        for d in &mut silent {
            d.write_all(b"x").await.expect("trickle");
        }
        sleep(Duration::from_millis(300)).await;
        Ctl::fresh_client_served(srv.addr(), Duration::from_secs(3)).await;
        drop(silent);
    });
}

/// Whether the daemon closes `s` (EOF or reset) within `within`.
async fn closed_within(s: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 4096];
    tokio::time::timeout(within, async {
        loop {
            match tokio::io::AsyncReadExt::read(s, &mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    })
    .await
    .is_ok()
}

/// SVSP-SCAN-DATA-1 / SVSP-SCAN-INLINE-1: a body that stops arriving is bounded by
/// `--data-timeout` like a data channel: the connection closes. Before, the body reads had
/// no time bound at all (the idle timeout does not run while a body is read).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn svsp_scan_data_1_stalled_bodies_time_out() {
    let _serial = SERIAL.lock().await;
    let srv = FakeVfindd::builder()
        .enable_future(true)
        .data_timeout(Duration::from_millis(300))
        .idle_timeout(Duration::from_millis(300))
        .start()
        .await
        .expect("start");
    for (what, cmd) in [
        ("DATA", &b"1 SCAN/DATA 100 d\r\n0123456789"[..]),
        ("inline", &b"1 SCAN i\r\n0123456789"[..]),
    ] {
        let mut c = Ctl::connect(srv.addr()).await;
        c.s.write_all(cmd).await.expect("send");
        assert_eq!(c.line().await.as_deref(), Some(&b"1 SEND"[..]), "{what}");
        assert!(
            closed_within(&mut c.s, Duration::from_secs(3)).await,
            "a stalled {what} body held its connection"
        );
    }
}

/// SVSP-SCAN-DATA-1 / SVSP-ERR-EAGAIN-1: queued SCAN/DATA requests do not keep their
/// bodies: 4 connections x 32 queued 1 MiB bodies (all within the limits) grow the daemon
/// by far less than the 128 MiB they carry. Before, each waited in memory whole until a
/// worker took it (up to --max-connections x --max-queue x --stream-max-length: 2 GiB at
/// the defaults).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn svsp_scan_data_1_queued_bodies_are_not_kept() {
    let _serial = SERIAL.lock().await;
    let srv = FakeVfindd::builder()
        .enable_future(true)
        .threads(1)
        .delay(Duration::from_secs(3))
        .start()
        .await
        .expect("start");
    let before = rss_bytes();
    let body = vec![b'A'; 1 << 20];
    let mut conns = Vec::new();
    for _ in 0..4 {
        let mut c = Ctl::connect(srv.addr()).await;
        for i in 1..=32 {
            let cmd = format!("{i} SCAN/DATA {} d{i}\r\n", body.len());
            c.s.write_all(cmd.as_bytes()).await.expect("send");
            c.s.write_all(&body).await.expect("body");
        }
        conns.push(c);
    }
    // the last body is read once its QUEUED comes back
    for c in &mut conns {
        let mut queued = 0;
        while queued < 32 {
            let l = c.line().await.expect("a line per request");
            queued += usize::from(l.ends_with(b" QUEUED"));
        }
    }
    let growth = rss_bytes().saturating_sub(before);
    assert!(growth < 48 << 20, "RSS grew by {} MiB", growth >> 20);
}

/// `n` distinct `ENABLE <option> <prefix><i>` lines on `c`, 100 per write; how many were
/// refused with `EAGAIN Server busy`.
async fn distinct_values_refused(c: &mut Ctl, option: &str, prefix: &str, n: usize) -> usize {
    let mut busy = 0;
    for batch in 0..n.div_ceil(100) {
        let ids = batch * 100..(batch * 100 + 100).min(n);
        let count = ids.len();
        let cmds: String = ids
            .map(|i| format!("{i} ENABLE {option} {prefix}{i}\r\n"))
            .collect();
        c.s.write_all(cmds.as_bytes()).await.expect("send");
        for _ in 0..count {
            let l = c.line().await.expect("a reply per ENABLE");
            busy += usize::from(l.ends_with(b" EAGAIN Server busy"));
        }
    }
    busy
}

/// SVSP-CMD-ENABLE-1 / SVSP-ERR-EAGAIN-1: IGNORE and EXCLUDE values are held per
/// connection within a budget (1024 values, 64 KiB together): past it an addition is
/// refused with `EAGAIN Server busy` and the connection keeps working. Before, every
/// distinct value was kept, copied into each request's snapshot (SVSP-CONC-3) and compared
/// with every later one: 160 MB of such lines grew the binary to 330 MB and took 40 s of CPU.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn svsp_cmd_enable_1_option_lists_are_bounded() {
    let _serial = SERIAL.lock().await;
    let srv = server().await;
    // by count: 1100 short values, the last 76 refused
    let mut c = Ctl::connect(srv.addr()).await;
    let busy = distinct_values_refused(&mut c, "IGNORE", "Virus.", 1100).await;
    assert_eq!(busy, 1100 - 1024);
    c.still_answers("9", "/nonexistent/after-options").await;
    // by bytes: 4000-byte values, 16 fit in 64 KiB
    let mut c = Ctl::connect(srv.addr()).await;
    let pad = "v".repeat(4000);
    let busy = distinct_values_refused(&mut c, "EXCLUDE", &pad, 400).await;
    assert_eq!(busy, 400 - 16);
    c.still_answers("9", "/nonexistent/after-options").await;
}
