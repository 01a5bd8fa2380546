//! Data channels are scanned while they arrive (issue 17): memory stays bounded by the read
//! size, not the stream limit, and verdicts do not depend on how the bytes were split.
mod common;

use common::*;
use fake_vfindd::FakeVfindd;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// A field of /proc/self/status in KiB (VmRSS, VmHWM).
fn status_kib(field: &str) -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    s.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("status field")
}

/// Clean filler: no signature matches a counting pattern.
fn filler(len: usize) -> Vec<u8> {
    (0..len).map(|i| b'a' + (i % 23) as u8).collect()
}

/// `SCAN/REQUEST <name>`: reads `SEND <port>` and returns the data connection.
async fn request(c: &mut Client, id: &str, name: &str) -> TcpStream {
    c.send(&format!("{id} SCAN/REQUEST {name}")).await;
    data_channel(c, id).await
}

/// A server with this stream limit and data-channel timeout, and a client past READY.
async fn streaming(max: u64, data_timeout: Duration) -> (FakeVfindd, Client) {
    connected(
        FakeVfindd::builder()
            .stream_max_length(max)
            .data_timeout(data_timeout),
    )
    .await
}

/// The same bytes as `SCAN/DATA` (collected, scanned afterwards): the verdict to compare with.
async fn data_verdict(c: &mut Client, id: &str, name: &str, data: &[u8]) -> Vec<String> {
    c.send(&format!("{id} SCAN/DATA {} {name}", data.len()))
        .await;
    assert_eq!(
        c.line().await.as_deref(),
        Some(format!("{id} SEND").as_str())
    );
    c.send_raw(data).await;
    c.until_terminal(&format!("{id} ")).await
}

fn strip_id(lines: &[String], id: &str) -> Vec<String> {
    lines
        .iter()
        .map(|l| l.strip_prefix(&format!("{id} ")).unwrap_or(l).to_string())
        .collect()
}

/// SVSP-SCAN-REQUEST-2, hardening item 2 (bounded memory): 256 MiB through SCAN/REQUEST with
/// a 1 GiB stream limit leave the process's peak RSS (VmHWM) within 64 MiB of where it was;
/// the old code collected the whole stream (256 MiB and more) before scanning it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn svsp_scan_request_2_streamed_256_mib_keeps_rss_bounded() {
    const TOTAL: usize = 256 << 20;
    let (_s, mut c) = streaming(1 << 30, Duration::from_secs(30)).await;
    let block = filler(64 * 1024);
    let before = status_kib("VmHWM");
    let t0 = Instant::now();
    let mut d = request(&mut c, "1", "big.bin").await;
    let mut sent = 0;
    while sent < TOTAL {
        d.write_all(&block).await.expect("data write");
        sent += block.len();
    }
    d.shutdown().await.expect("shutdown");
    let got = c.until_terminal("1 ").await;
    let grown = status_kib("VmHWM").saturating_sub(before);
    assert_eq!(
        got,
        [
            "1 QUEUED",
            "1 SCANNING \"big.bin\"",
            "1 DONE 0 : \"big.bin\""
        ]
    );
    assert!(
        grown < 64 * 1024,
        "peak RSS grew by {grown} KiB for a 256 MiB stream ({:?})",
        t0.elapsed()
    );
    c.quit().await;
}

/// SVSP-SCAN-REQUEST-2, SVSP-DET-1: EICAR split across two data-channel writes at every
/// position (a pause between them, so the server reads them apart) gets the same lines as
/// the same bytes sent with SCAN/DATA, which are collected and scanned whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn svsp_scan_request_2_eicar_at_any_split_same_verdict_as_scan_data() {
    let (_s, mut c) = connected(FakeVfindd::builder().enable_future(true)).await;
    let mut data = filler(1000);
    data.extend_from_slice(&eicar());
    data.extend_from_slice(&filler(300));
    let want = strip_id(&data_verdict(&mut c, "0", "e.bin", &data).await, "0");
    assert!(
        want.iter().any(|l| l.starts_with("INFECTED"))
            && want.last().unwrap().starts_with("DONE 1"),
        "{want:?}"
    );
    let eicar_len = eicar().len();
    for cut in 1000..=1000 + eicar_len {
        let mut d = request(&mut c, "1", "e.bin").await;
        d.write_all(&data[..cut]).await.unwrap();
        tokio::time::sleep(Duration::from_millis(3)).await;
        d.write_all(&data[cut..]).await.unwrap();
        d.shutdown().await.unwrap();
        let got = c.until_terminal("1 ").await;
        assert_eq!(strip_id(&got, "1"), want, "split at {cut}");
    }
    c.quit().await;
}

/// SVSP-SCAN-REQUEST-2, SVSP-SCAN-PORT-1, SVSP-NAME-6: a zip holding EICAR, sent in small
/// pieces over a REQUEST and a PORT channel, is opened and reported as with SCAN/DATA.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn svsp_scan_port_1_zip_over_channels_same_verdict_as_scan_data() {
    let (_s, mut c) = connected(FakeVfindd::builder().enable_future(true)).await;
    let zip = zip_bytes(&[("a.txt", b"clean"), ("in/e.com", &eicar())]);
    let want = strip_id(&data_verdict(&mut c, "0", "z.zip", &zip).await, "0");
    assert!(
        want.iter()
            .any(|l| l.contains("/in/e.com") && l.starts_with("INFECTED")),
        "{want:?}"
    );
    let mut d = request(&mut c, "1", "z.zip").await;
    for piece in zip.chunks(7) {
        d.write_all(piece).await.unwrap();
    }
    d.shutdown().await.unwrap();
    assert_eq!(strip_id(&c.until_terminal("1 ").await, "1"), want);

    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let bytes = zip.clone();
    let feeder = tokio::spawn(async move {
        let (mut s, _) = l.accept().await.unwrap();
        for piece in bytes.chunks(5) {
            s.write_all(piece).await.unwrap();
        }
        s.shutdown().await.unwrap();
    });
    let got = c.scan(&format!("2 SCAN/PORT {port} z.zip")).await;
    feeder.await.unwrap();
    assert_eq!(strip_id(&got, "2"), want);
    c.quit().await;
}

/// SVSP-SCAN-REQUEST-2 (wire unchanged while streaming): a channel reset after 1 MiB, one that
/// goes idle past `--data-timeout`, and one that passes the stream limit mid-stream each end
/// with their single error line (no QUEUED), and the connection goes on scanning.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn svsp_scan_request_2_reset_idle_and_over_limit_channels_mid_stream() {
    let (_s, mut c) = streaming(2 << 20, Duration::from_millis(400)).await;
    let block = filler(64 * 1024);
    let port_of = |d: &TcpStream| d.peer_addr().unwrap().port();

    let mut d = request(&mut c, "1", "r.bin").await;
    let port = port_of(&d);
    for _ in 0..16 {
        d.write_all(&block).await.unwrap();
    }
    d.set_zero_linger().unwrap();
    drop(d); // RST
    assert_eq!(
        c.line().await.unwrap(),
        format!("1 ENOENT No connection to port {port}")
    );

    let mut d = request(&mut c, "2", "i.bin").await;
    let port = port_of(&d);
    d.write_all(&block).await.unwrap();
    assert_eq!(
        c.line().await.unwrap(),
        format!("2 ENOENT No connection to port {port}")
    );
    drop(d);

    let mut d = request(&mut c, "3", "big.bin").await;
    let mut sent = 0;
    while sent <= 3 << 20 {
        if d.write_all(&block).await.is_err() {
            break; // the server closed the channel at the limit
        }
        sent += block.len();
    }
    drop(d);
    assert_eq!(
        c.line().await.unwrap(),
        "3 EINVAL Size limit exceeded: \"big.bin\""
    );

    let mut d = request(&mut c, "4", "ok.bin").await;
    d.write_all(&block).await.unwrap();
    d.shutdown().await.unwrap();
    assert_eq!(
        c.until_terminal("4 ").await,
        ["4 QUEUED", "4 SCANNING \"ok.bin\"", "4 DONE 0 : \"ok.bin\""]
    );
    c.quit().await;
}
