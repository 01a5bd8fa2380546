//! Section 18 of the clamd spec: the reference transcripts, replayed on raw sockets.

mod common;

use fake_clamd::FakeDaemon;
use std::time::{Duration, Instant};

use common::*;
use fake_clamd::{FakeClamd, SessionOrder};

async fn server(corpus: &Corpus) -> FakeClamd {
    corpus
        .builder()
        .unix_socket_in_temp()
        .with_config(|c| {
            c.idle_timeout = 5;
        })
        .start()
        .await
        .expect("start")
}

/// (rule, request as written in pieces, reply)
type Row<'a> = (&'a str, &'a [&'a [u8]], &'a [u8]);

/// Each row's request, written in pieces on a fresh connection, gets the row's reply.
async fn replies_are(a: std::net::SocketAddr, rows: &[Row<'_>]) {
    for (rule, parts, want) in rows {
        let got = exchange(a, parts).await.unwrap();
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(want),
            "{rule}"
        );
    }
}

/// CLAMD-CMD-1; one row each for CLAMD-FRAME-3, CLAMD-FRAME-8, CLAMD-CONN-3, CLAMD-CMD-6,
/// CLAMD-CMD-8 and CLAMD-FRAME-5.
#[tokio::test]
async fn clamd_cmd_1_and_frame_transcripts() {
    let corpus = Corpus::new();
    let s = server(&corpus).await;
    let a = s.addr().unwrap();
    // (rule, request as written in pieces, reply)
    let rows: [Row; 10] = [
        ("CLAMD-CMD-1", &[b"zPING\0"], b"PONG\0"),
        ("CLAMD-CMD-1 n", &[b"nVERSION\n"], b"ClamAV 1.4.6\n"),
        ("CLAMD-CMD-1 legacy", &[b"PING"], b"PONG\n"),
        ("CLAMD-CMD-1 case", &[b"zping\0"], b"UNKNOWN COMMAND\0"),
        // a legacy command split over two packets
        ("CLAMD-FRAME-3", &[b"PI", b"NG"], b"UNKNOWN COMMAND\n"),
        ("CLAMD-FRAME-8", &[b"zPI", b"NG\0"], b"PONG\0"),
        // pipelining outside a session
        ("CLAMD-CONN-3", &[b"zPING\0zPING\0"], b"PONG\0"),
        // DETSTATS => nothing
        ("CLAMD-CMD-6", &[b"zDETSTATS\0"], b""),
        ("CLAMD-CMD-8", &[b"zEND\0"], b"UNKNOWN COMMAND\0"),
        ("CLAMD-FRAME-5", &[b"INSTREAM\n"], b"UNKNOWN COMMAND\n"),
    ];
    replies_are(a, &rows).await;
}

/// CLAMD-CMD-7.
/// CLAMD-TIME-5: `IdleTimeout` shows only as STATS `idle-timeout`.
#[tokio::test]
async fn clamd_cmd_7_stats_transcript() {
    let corpus = Corpus::new();
    let s = server(&corpus).await;
    let got = ask(&s, b"zSTATS\0").await;
    assert_eq!(
        got,
        b"POOLS: 1\n\nSTATE: VALID PRIMARY\nTHREADS: live 1  idle 0 max 10 idle-timeout 5\nQUEUE: 0 items\n\tSTATS 0.000005 \n\nMEMSTATS: heap N/A mmap N/A used N/A free N/A releasable N/A pools 1 pools_used 5.884M pools_total 5.964M\nEND\0"
    );
}

/// CLAMD-INSTREAM-2: 68 one-byte chunks get one reply, after the terminator (no per-chunk ack).
#[tokio::test]
async fn clamd_instream_transcripts() {
    let corpus = Corpus::new();
    let s = server(&corpus).await;
    let a = s.addr().unwrap();
    let e = scan_engine::eicar();
    let req = cat(&[b"zINSTREAM\0", &chunk(&e), b"\0\0\0\0"]);
    assert_eq!(
        ask_at(a, &req).await,
        format!("stream: {UNOFFICIAL_EICAR} FOUND\0").into_bytes()
    );
    assert_eq!(
        ask_at(a, b"zINSTREAM\0\xff\xff\xff\xff").await,
        b"INSTREAM size limit exceeded. ERROR\0"
    );
    // CLAMD-INSTREAM-3: zero chunks
    assert_eq!(ask_at(a, b"zINSTREAM\0\0\0\0\0").await, b"stream: OK\0");
    // CLAMD-DET-3: 1-byte chunks, 1-byte writes
    let mut one = b"nINSTREAM\n".to_vec();
    for b in &e {
        one.extend_from_slice(&chunk(&[*b]));
    }
    one.extend_from_slice(&[0; 4]);
    let parts: Vec<&[u8]> = one.chunks(97).collect();
    assert_eq!(
        exchange(a, &parts).await.unwrap(),
        format!("stream: {UNOFFICIAL_EICAR} FOUND\n").into_bytes()
    );
}

/// CLAMD-SCAN-1, CLAMD-SCAN-2, CLAMD-SCAN-4, CLAMD-SCAN-5, CLAMD-SCAN-6, CLAMD-DET-6 and
/// CLAMD-PARSE-4, one row each, with the CONTSCAN, FIFO and ALLMATCHSCAN transcripts.
#[tokio::test]
async fn clamd_scan_transcripts() {
    let corpus = Corpus::new();
    let s = server(&corpus).await;
    let a = s.addr().unwrap();
    let c = |rel: &str| String::from_utf8(corpus.p(rel)).unwrap();
    let scan = |cmd: &str, rel: &str| format!("z{cmd} {}\0", c(rel));
    let found = |rel: &str| format!("{}: {UNOFFICIAL_EICAR} FOUND\0", c(rel));
    let marker = |m: &str| {
        format!(
            "{}: Oracle.Test.Marker{m}-1.UNOFFICIAL FOUND\0",
            c("markers.txt")
        )
    };
    // (case, request, reply)
    let rows = [
        (
            "missing file",
            scan("SCAN", "does-not-exist.txt"),
            format!(
                "{}: File path check failure: No such file or directory. ERROR\0",
                c("does-not-exist.txt")
            ),
        ),
        (
            "CONTSCAN",
            scan("CONTSCAN", "mixed"),
            found("mixed/b_eicar.com") + &found("mixed/sub/d_eicar.com"),
        ),
        (
            "fifo",
            scan("SCAN", "fifo"),
            format!("{0}: Not supported file type ERROR\0{0}: OK\0", c("fifo")),
        ),
        (
            "ALLMATCHSCAN",
            scan("ALLMATCHSCAN", "markers.txt"),
            marker("B") + &marker("A"),
        ),
        // one name without all-match, lowest match end first (the file holds marker B
        // before marker A; real clamd 1.4.6 answers the same)
        ("CLAMD-DET-6", scan("SCAN", "markers.txt"), marker("B")),
        // the path echoed exactly
        (
            "CLAMD-SCAN-1",
            format!("zSCAN {}//mixed/../eicar.com\0", c("")),
            format!("{}//mixed/../eicar.com: {UNOFFICIAL_EICAR} FOUND\0", c("")),
        ),
        // one slash after a trailing '/'; SCAN stops at the first
        (
            "CLAMD-SCAN-2, CLAMD-SCAN-6",
            format!("zSCAN {}/\0", c("mixed")),
            found("mixed/b_eicar.com"),
        ),
        // a top-level symlink is skipped => OK
        (
            "CLAMD-SCAN-5",
            scan("SCAN", "link.com"),
            format!("{}: OK\0", c("link.com")),
        ),
        // an empty file
        (
            "CLAMD-SCAN-4",
            format!("nSCAN {}\n", c("empty")),
            format!("{}: OK\n", c("empty")),
        ),
        // an empty path, two spaces
        (
            "CLAMD-PARSE-4 empty",
            "zSCAN \0".to_string(),
            ": File path check failure: No such file or directory. ERROR\0".to_string(),
        ),
        (
            "CLAMD-PARSE-4 two spaces",
            "zSCAN  /x\0".to_string(),
            " /x: File path check failure: No such file or directory. ERROR\0".to_string(),
        ),
    ];
    for (case, req, want) in rows {
        let got = ask_at(a, req.as_bytes()).await;
        assert_eq!(String::from_utf8_lossy(&got), want, "{case}");
    }
}

/// CLAMD-SCAN-3.
#[tokio::test]
async fn clamd_scan_3_access_denied_transcripts() {
    if is_root() {
        println!("SKIP: running as root, every file is readable (Access denied cannot happen)");
        return;
    }
    let corpus = Corpus::new();
    let s = server(&corpus).await;
    let a = s.addr().unwrap();
    let c = |rel: &str| String::from_utf8(corpus.p(rel)).unwrap();
    assert_eq!(
        ask_at(a, format!("zSCAN {}\0", c("mixperm/secret.com")).as_bytes()).await,
        format!("{}: Access denied. ERROR\0", c("mixperm/secret.com")).into_bytes()
    );
    assert_eq!(
        ask_at(a, format!("zSCAN {}\0", c("mixperm")).as_bytes()).await,
        format!(
            "{}: Access denied. ERROR\0{}: OK\0",
            c("mixperm/secret.com"),
            c("mixperm")
        )
        .into_bytes()
    );
}

/// CLAMD-SESSION-4 (orders), one row each for CLAMD-SESSION-5, CLAMD-SESSION-6,
/// CLAMD-SESSION-7, CLAMD-SESSION-9 and CLAMD-SESSION-10, then CLAMD-SESSION-11.
#[tokio::test]
async fn clamd_session_transcripts() {
    let corpus = Corpus::new();
    let e = scan_engine::eicar();
    let session = cat(&[
        b"zIDSESSION\0zPING\0zVERSION\0zINSTREAM\0",
        &chunk(b"clean"),
        b"\0\0\0\0zINSTREAM\0",
        &chunk(&e),
        b"\0\0\0\0zPING\0zEND\0",
    ]);
    // clamd order (default): the PINGs and VERSION of the read first, then the streams
    let s = server(&corpus).await;
    assert_eq!(
        ask(&s, &session).await,
        format!("1: PONG\x002: ClamAV 1.4.6\x005: PONG\x003: stream: OK\x004: stream: {UNOFFICIAL_EICAR} FOUND\0")
            .into_bytes()
    );
    // session-order=reverse reproduces the recorded real-clamd order (CLAMD-SESSION-4)
    let r = started(corpus.builder().session_order(SessionOrder::Reverse)).await;
    assert_eq!(
        ask(&r, &session).await,
        format!("1: PONG\x002: ClamAV 1.4.6\x005: PONG\x004: stream: {UNOFFICIAL_EICAR} FOUND\x003: stream: OK\0")
            .into_bytes()
    );
    let a = s.addr().unwrap();
    // (rule, request as written in pieces, reply)
    let rows: [Row; 7] = [
        (
            "CLAMD-SESSION-5",
            &[b"zIDSESSION\0zPING\0zCONTSCAN /c/x\0"],
            b"1: PONG\x002: Command invalid inside IDSESSION. ERROR\0",
        ),
        (
            "CLAMD-SESSION-6",
            &[b"zIDSESSION\0zPING\0", b"PING\n"],
            b"1: PONG\x002: Only nCMDS\\n and zCMDS\\0 are accepted inside IDSESSION. ERROR\x002: Error processing command. ERROR\0",
        ),
        ("CLAMD-SESSION-7", &[b"zIDSESSION\0zEND\0"], b""),
        (
            "CLAMD-SESSION-7 after END",
            &[b"zIDSESSION\0zPING\0zEND\0zPING\0"],
            b"1: PONG\0",
        ),
        (
            "CLAMD-SESSION-9",
            &[b"zIDSESSION\0nPING\nzPING\0zEND\0"],
            b"1: PONG\n2: PONG\0",
        ),
        (
            "CLAMD-SESSION-10 FILDES",
            &[b"zIDSESSION\0zFILDES\0X"],
            b"1: No file descriptor received. ERROR\0",
        ),
        (
            "CLAMD-SESSION-10 INSTREAM",
            &[b"zIDSESSION\0zPING\0zINSTREAM\0\xff\xff\xff\xff"],
            b"1: PONG\x002: INSTREAM size limit exceeded. ERROR\0",
        ),
    ];
    replies_are(a, &rows).await;
    // CLAMD-SESSION-11: long sessions keep numbering
    let mut many = b"zIDSESSION\0".to_vec();
    for _ in 0..1024 {
        many.extend_from_slice(b"zVERSION\0");
    }
    many.extend_from_slice(b"zEND\0");
    let got = ask_at(a, &many).await;
    let expect: Vec<u8> = (1..=1024)
        .flat_map(|i| format!("{i}: ClamAV 1.4.6\0").into_bytes())
        .collect();
    assert_eq!(got, expect);
}

/// CLAMD-TIME-1.
#[tokio::test]
async fn clamd_time_1_silent_client_times_out() {
    let s = started(FakeClamd::builder().timeouts(Duration::from_secs(1), Duration::from_secs(1)))
        .await;
    let t = Instant::now();
    assert_eq!(ask(&s, b"").await, b"COMMAND READ TIMED OUT\n");
    let el = t.elapsed();
    // CLAMD-TIME-4: fires at T + 0.5 s
    assert!(
        el >= Duration::from_millis(1400) && el < Duration::from_millis(2500),
        "{el:?}"
    );
    // partial bytes do not extend it; z-mode still gets \n (CLAMD-TIME-3)
    assert_eq!(ask(&s, b"zPIN").await, b"COMMAND READ TIMED OUT\n");
    // CLAMD-INSTREAM-7: ReadTimeout inside a stream
    assert_eq!(
        ask(&s, b"zINSTREAM\0\0\0\0\x05ab").await,
        b"COMMAND READ TIMED OUT\n"
    );
}

/// CLAMD-FILDES-5: FILDES over the unix socket (SCM_RIGHTS), replies `fd[<n>]: ...`.
#[tokio::test]
async fn clamd_fildes_transcripts() {
    use std::os::fd::AsRawFd;
    let corpus = Corpus::new();
    let s = server(&corpus).await;
    let sock = s.socket_path().unwrap().to_path_buf();
    let f = std::fs::File::open(corpus.c().join("eicar.com")).unwrap();
    let got = String::from_utf8(
        exchange_fd(&sock, b"zFILDES\0X", f.as_raw_fd())
            .await
            .unwrap(),
    )
    .unwrap();
    let re = regex::Regex::new(&format!(
        r"^fd\[\d+\]: {} FOUND\x00$",
        regex::escape(UNOFFICIAL_EICAR)
    ))
    .unwrap();
    assert!(re.is_match(&got), "{got:?}");
    let d = std::fs::File::open(corpus.c()).unwrap();
    let got = String::from_utf8(
        exchange_fd(&sock, b"nFILDES\nX", d.as_raw_fd())
            .await
            .unwrap(),
    )
    .unwrap();
    assert!(
        regex::Regex::new(r"^fd\[\d+\]: Not a regular file ERROR\n$")
            .unwrap()
            .is_match(&got),
        "{got:?}"
    );
    // CLAMD-FILDES-3 over TCP and over unix without a descriptor
    assert_eq!(
        ask(&s, b"zFILDES\0X").await,
        b"No file descriptor received. ERROR\0"
    );
    assert_eq!(
        exchange_unix(&sock, b"zFILDES\0X").await.unwrap(),
        b"No file descriptor received. ERROR\0"
    );
    // CLAMD-FILDES-4
    let c = std::fs::File::open(corpus.c().join("clean.txt")).unwrap();
    assert_eq!(
        exchange_fd(&sock, b"zPING\0", c.as_raw_fd()).await.unwrap(),
        b"PONG\0"
    );
    let got = exchange_fd(&sock, b"zIDSESSION\0zPING\0", c.as_raw_fd())
        .await
        .unwrap();
    assert_eq!(
        got,
        b"1: PONG\x002: PROTOCOL ERROR: ancillary data sent without FILDES. ERROR\0"
    );
}

/// CLAMD-CMD-5.
#[tokio::test]
async fn clamd_cmd_5_shutdown_stops_the_server() {
    let s = FakeClamd::start().await.unwrap();
    assert_eq!(ask(&s, b"zSHUTDOWN\0").await, b"");
    tokio::time::timeout(Duration::from_secs(5), s.stopped())
        .await
        .expect("stopped");
    assert!(s.is_shut_down());
    // disabled: QUIT closes without reply, server keeps running
    let keep = started(FakeClamd::builder().allow_shutdown(false)).await;
    assert_eq!(ask(&keep, b"zQUIT\0").await, b"");
    assert_eq!(ask(&keep, b"zPING\0").await, b"PONG\0");
}

#[tokio::test]
async fn recorded_commands_and_transcripts() {
    let s = FakeClamd::start().await.unwrap();
    ask(&s, b"zIDSESSION\0zPING\0nVERSION\nzEND\0").await;
    let cmds = s.commands();
    assert_eq!(cmds.len(), 4);
    assert_eq!(cmds[1].session_id, Some(1));
    assert_eq!(cmds[2].framing, clamd_proto::Framing::N);
    let t = &s.transcripts()[0];
    assert_eq!(t.received(), b"zIDSESSION\0zPING\0nVERSION\nzEND\0");
    assert_eq!(t.sent(), b"1: PONG\x002: ClamAV 1.4.6\n");
}
