//! The recording proxy relays and records SVSP data channels (SVSP-SCAN-PORT-1,
//! SVSP-SCAN-REQUEST-1) as connections of their own, marked as data channels of their control
//! connection; with the option off (clamd) bytes pass exactly as read. The reference client
//! only uses REQUEST in the conformance cases, so PORT is driven here by a scripted client.

use std::net::SocketAddr;
use std::time::Duration;

use harness::daemon::{self, DaemonSpec};
use harness::proxy::{Listen, Proxy, ProxyOptions};
use harness::snapshot::render_as_expected;
use harness::transcript::{DataSource, Dir, Transcript};
use harness::{Protocol, Verdict};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

const T: Duration = Duration::from_secs(10);

fn svsp_opts() -> ProxyOptions {
    ProxyOptions {
        hold_greeting: Duration::ZERO,
        svsp_data_channels: true,
    }
}

async fn start_fake_vfindd() -> (daemon::RunningDaemon, Proxy) {
    let d = daemon::start(&DaemonSpec::default(), Protocol::Svsp, None)
        .await
        .unwrap();
    let p = Proxy::start_with(
        Listen::Tcp("127.0.0.1:0".parse().unwrap()),
        d.addr().unwrap(),
        svsp_opts(),
    )
    .await
    .unwrap();
    (d, p)
}

/// Reads response lines until one for `id` is terminal (DONE or an errno line).
async fn until_terminal(r: &mut BufReader<tokio::net::tcp::OwnedReadHalf>, id: &str) -> String {
    let mut all = String::new();
    loop {
        let mut line = String::new();
        let n = tokio::time::timeout(T, r.read_line(&mut line))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0, "EOF before the terminal line; got {all:?}");
        all.push_str(&line);
        let mut w = line.split_whitespace();
        if w.next() == Some(id) {
            let kw = w.next().unwrap_or("");
            if kw == "DONE" || kw.starts_with('E') {
                return all;
            }
        }
    }
}

/// A scripted SVSP client using SCAN/PORT (SVSP-CLIENT-16): listen, send the command, accept
/// one connection, write the data, close; then QUIT. `listen` false: name a port nobody
/// listens on. Returns the response lines.
async fn port_client(proxy: SocketAddr, data: &[u8], listen: bool) -> (String, u16) {
    let s = TcpStream::connect(proxy).await.unwrap();
    let (r, mut w) = s.into_split();
    let mut r = BufReader::new(r);
    let mut ready = String::new();
    r.read_line(&mut ready).await.unwrap();
    assert_eq!(ready, "READY\r\n");
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let l = if listen {
        Some(l)
    } else {
        drop(l);
        None
    };
    w.write_all(format!("7 SCAN/PORT {port} sample.bin\r\n").as_bytes())
        .await
        .unwrap();
    if let Some(l) = l {
        let (mut dc, _) = tokio::time::timeout(T, l.accept()).await.unwrap().unwrap();
        dc.write_all(data).await.unwrap();
        dc.shutdown().await.unwrap();
        // The daemon closes after reading to EOF.
        let mut rest = Vec::new();
        let _ = tokio::time::timeout(T, dc.read_to_end(&mut rest)).await;
        assert!(rest.is_empty());
    }
    let replies = until_terminal(&mut r, "7").await;
    w.write_all(b"QUIT\r\n").await.unwrap();
    let mut ok = String::new();
    let _ = tokio::time::timeout(T, r.read_line(&mut ok)).await;
    (replies, port)
}

/// SVSP-SCAN-PORT-1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn svsp_scan_port_1_data_channel_is_relayed_and_recorded() {
    let (_d, proxy) = start_fake_vfindd().await;
    let addr = proxy.tcp_addr.unwrap();
    let data = scan_engine::eicar();
    let (replies, client_port) = port_client(addr, &data, true).await;
    let t: Transcript = proxy.finish(Duration::from_millis(500)).await;
    assert!(
        replies.contains("7 INFECTED ") && replies.contains("7 DONE 1 : \"sample.bin\""),
        "{replies}"
    );
    // One control connection; the data channel is not one.
    let conns = t.connections();
    assert_eq!(conns.len(), 1, "{}", t.raw_log(200));
    let dcs = t.data_channels(conns[0]);
    assert_eq!(dcs.len(), 1, "{}", t.raw_log(200));
    let (dc, source) = dcs[0];
    assert_eq!(source, DataSource::Port);
    // The data bytes, in the client's direction; nothing from the daemon.
    assert_eq!(t.bytes(dc, Dir::C2S), data);
    assert!(t.bytes(dc, Dir::S2C).is_empty());
    // The control transcript shows what the client sent: its own port.
    let sent = String::from_utf8(t.bytes(conns[0], Dir::C2S)).unwrap();
    assert_eq!(
        sent,
        format!("7 SCAN/PORT {client_port} sample.bin\r\nQUIT\r\n")
    );
    // The client checks see one well-behaved control connection.
    let findings = harness::checks::svsp::check(&t);
    assert!(findings.is_empty(), "{findings:?}");
    let snap = render_as_expected(Protocol::Svsp, "svsp.port", Verdict::Infected, &t);
    let sha1 = "3395856ce81f2b7382dee72602f798b642f14140"; // of the 68-byte EICAR file
    assert!(
        snap.contains(
            "  C: 7 SCAN/PORT [PORT] sample.bin\\r\\n\n  C: QUIT\\r\\n\n  S: READY\\r\\n\n"
        ),
        "{snap}"
    );
    assert!(
        snap.contains(&format!(
            "  data channel 1 (SCAN/PORT, daemon connected to the client's port):\n    C: <68 bytes, sha1 {sha1}>\n    client side: closed, server side: closed\n"
        )),
        "{snap}"
    );
    assert!(!snap.contains(&client_port.to_string()), "{snap}");
}

/// SVSP-SCAN-PORT-1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn svsp_scan_port_1_unreachable_client_port_is_not_clean() {
    // Without the proxy the daemon's connect would fail (ENOENT). Through it, the daemon's
    // connect succeeds, so the proxy must reset it rather than close: an orderly close would be
    // an empty stream, scanned as clean.
    let (_d, proxy) = start_fake_vfindd().await;
    let addr = proxy.tcp_addr.unwrap();
    let (replies, _) = port_client(addr, b"", false).await;
    let t = proxy.finish(Duration::from_millis(500)).await;
    assert!(!replies.contains("7 DONE"), "{replies}");
    assert!(replies.contains("7 ENOENT"), "{replies}");
    let conns = t.connections();
    let dcs = t.data_channels(conns[0]);
    assert_eq!(dcs.len(), 1);
    assert!(t.upstream_error(dcs[0].0).is_some(), "{}", t.raw_log(200));
}

/// An upstream that greets, then sends one SEND line and waits for `accept` connections on
/// the announced port; what arrives there is returned.
async fn send_upstream(
    line_id: &str,
) -> (SocketAddr, tokio::task::JoinHandle<Vec<u8>>, TcpListener) {
    let up = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = up.local_addr().unwrap();
    let data_l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let data_port = data_l.local_addr().unwrap().port();
    let line = format!("{line_id}SEND {data_port}\n");
    let h = tokio::spawn(async move {
        let (mut s, _) = up.accept().await.unwrap();
        // Byte at a time, as the split-reply faults do.
        for b in format!("READY\r\n{line}").bytes() {
            s.write_all(&[b]).await.unwrap();
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let mut rest = Vec::new();
        let _ = tokio::time::timeout(T, s.read_to_end(&mut rest)).await;
        rest
    });
    (addr, h, data_l)
}

/// Reads until `lines` whole lines have arrived.
async fn read_lines(c: &mut TcpStream, lines: usize) -> Vec<u8> {
    let mut got = Vec::new();
    while !got.ends_with(b"\n") || got.iter().filter(|b| **b == b'\n').count() < lines {
        let mut b = [0u8; 64];
        let n = tokio::time::timeout(T, c.read(&mut b))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0);
        got.extend_from_slice(&b[..n]);
    }
    got
}

/// SVSP-RESP-SEND-1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn svsp_resp_send_1_rewritten_only_for_svsp() {
    // SVSP: the port in `SEND` is the proxy's; the data arrives at the daemon's port, recorded.
    let (up, h, data_l) = send_upstream("3 ").await;
    let daemon_port = data_l.local_addr().unwrap().port();
    let p = Proxy::start_with(Listen::Tcp("127.0.0.1:0".parse().unwrap()), up, svsp_opts())
        .await
        .unwrap();
    let mut c = TcpStream::connect(p.tcp_addr.unwrap()).await.unwrap();
    let text = String::from_utf8(read_lines(&mut c, 2).await).unwrap();
    let port: u16 = text
        .trim_end()
        .rsplit(' ')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap();
    assert!(text.starts_with("READY\r\n3 SEND "), "{text}");
    assert_ne!(port, daemon_port);
    let mut dc = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let (mut at_daemon, _) = tokio::time::timeout(T, data_l.accept())
        .await
        .unwrap()
        .unwrap();
    dc.write_all(b"payload").await.unwrap();
    dc.shutdown().await.unwrap();
    let mut received = Vec::new();
    at_daemon.read_to_end(&mut received).await.unwrap();
    assert_eq!(received, b"payload");
    drop(at_daemon);
    drop(dc);
    c.shutdown().await.unwrap();
    let _ = h.await;
    let t = p.finish(Duration::from_millis(500)).await;
    let dcs = t.data_channels(1);
    assert_eq!(dcs.len(), 1, "{}", t.raw_log(200));
    assert_eq!(dcs[0].1, DataSource::Request);
    assert_eq!(t.bytes(dcs[0].0, Dir::C2S), b"payload");
    // The control transcript holds what the client received.
    assert_eq!(
        t.bytes(1, Dir::S2C),
        format!("READY\r\n3 SEND {port}\n").into_bytes()
    );

    // clamd (option off): the same line passes as is, no data channel.
    let (up, h, data_l) = send_upstream("").await;
    let daemon_port = data_l.local_addr().unwrap().port();
    let p = Proxy::start(Listen::Tcp("127.0.0.1:0".parse().unwrap()), up)
        .await
        .unwrap();
    let mut c = TcpStream::connect(p.tcp_addr.unwrap()).await.unwrap();
    let want = format!("READY\r\nSEND {daemon_port}\n");
    let mut got = vec![0u8; want.len()];
    tokio::time::timeout(T, c.read_exact(&mut got))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got, want.as_bytes());
    c.shutdown().await.unwrap();
    let _ = h.await;
    let t = p.finish(Duration::from_millis(300)).await;
    assert!(t.data_channels(1).is_empty());
    assert_eq!(t.connections(), vec![1]);
}

/// SVSP-CLIENT-16.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn svsp_client_16_port_send_echo_repeats_the_clients_own_port() {
    // `--port-send-echo` (SVSP-SCAN-PORT-1): the daemon repeats the port it was given, which is
    // the proxy's; the client must see its own port (SVSP-CLIENT-16), and no REQUEST channel
    // may be opened for it.
    let d = fake_vfindd::FakeVfindd::builder()
        .port_send_echo(true)
        .start()
        .await
        .unwrap();
    let proxy = Proxy::start_with(
        Listen::Tcp("127.0.0.1:0".parse().unwrap()),
        d.addr(),
        svsp_opts(),
    )
    .await
    .unwrap();
    let (replies, client_port) = port_client(proxy.tcp_addr.unwrap(), b"clean data", true).await;
    let t = proxy.finish(Duration::from_millis(500)).await;
    assert!(
        replies.contains(&format!("7 SEND {client_port}\r\n")),
        "{replies}"
    );
    assert!(replies.contains("7 DONE 0"), "{replies}");
    let dcs = t.data_channels(1);
    assert_eq!(dcs.len(), 1, "{}", t.raw_log(200));
    assert_eq!(dcs[0].1, DataSource::Port);
    assert_eq!(t.bytes(dcs[0].0, Dir::C2S), b"clean data");
}

/// SVSP-SCAN-REQUEST-1: a data channel nobody connected to is listed without a connection,
/// and `finish` does not spend its grace waiting for it once the control connection has
/// ended on both sides (the client has gone; nobody is left to connect).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn svsp_scan_request_1_unused_data_channel_does_not_hold_finish() {
    let (up, h, _data_l) = send_upstream("3 ").await;
    let p = Proxy::start_with(Listen::Tcp("127.0.0.1:0".parse().unwrap()), up, svsp_opts())
        .await
        .unwrap();
    let mut c = TcpStream::connect(p.tcp_addr.unwrap()).await.unwrap();
    let got = read_lines(&mut c, 2).await;
    assert!(got.starts_with(b"READY\r\n3 SEND "), "{got:?}");
    // The client leaves without using the channel; the upstream sees EOF and closes.
    c.shutdown().await.unwrap();
    drop(c);
    let _ = h.await;
    let grace = T;
    let started = std::time::Instant::now();
    let t = p.finish(grace).await;
    let took = started.elapsed();
    assert!(
        took < grace / 2,
        "finish waited {took:?} of its {grace:?} grace for a channel nobody will open"
    );
    let dcs = t.data_channels(1);
    assert_eq!(dcs.len(), 1, "{}", t.raw_log(200));
    assert!(t.bytes(dcs[0].0, Dir::C2S).is_empty());
    let snap = render_as_expected(Protocol::Svsp, "svsp.unused-channel", Verdict::Error, &t);
    assert!(snap.contains("data channel 1 (SCAN/REQUEST"), "{snap}");
    assert!(snap.contains("    no connection\n"), "{snap}");
}
