//! The fault points fake-clamd gained with issue 13: the verdict (`verdict = true`), the
//! written replies (`replies = N`) and the `reply` fault (a text in the place of the
//! verdict), each observed on the wire from a raw tokio client.

use fake_clamd::FakeDaemon;
use std::net::SocketAddr;
use std::time::Duration;

use fake_clamd::FakeClamd;
use faults::{Fault, FaultPlan, Trigger};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use fixtures::clamd_wire::instream_with as instream;
use fixtures::wire::{read_end, End};

const T: Duration = Duration::from_secs(10);

/// Reads until `want` bytes arrived (or the wait passed); returns what came.
async fn read_n(s: &mut TcpStream, want: usize) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while got.len() < want {
        match tokio::time::timeout(T, s.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => got.extend_from_slice(&buf[..n]),
            _ => break,
        }
    }
    got
}

async fn exchange(addr: SocketAddr, bytes: &[u8]) -> End {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(bytes).await.expect("write");
    read_end(&mut s, T).await
}

async fn server(rule: &str) -> FakeClamd {
    started(FaultPlan::from_shorthand(rule).expect("plan").seed(1)).await
}

async fn started(plan: FaultPlan) -> FakeClamd {
    FakeClamd::builder()
        .faults(plan)
        .start()
        .await
        .expect("start")
}

fn addr(c: &FakeClamd) -> SocketAddr {
    c.addr().expect("tcp address")
}

fn fired(c: &FakeClamd) -> u64 {
    c.faults().stats().rules.iter().map(|r| r.fired).sum()
}

/// A `reply` rule at the verdict (`when` omitted would answer the first command, even
/// IDSESSION).
fn reply(text: &str, raw: bool) -> FaultPlan {
    FaultPlan::new().seed(1).with(
        Trigger::verdict(),
        Fault::Reply {
            text: text.into(),
            raw,
        },
    )
}

/// Issue 13 (CLAMD-REPLY-1 framing): a `reply` text takes the verdict's place, with the
/// INSTREAM command's terminator (`\0` for `z`, `\n` for `n`), then the connection closes
/// as after any single command (CLAMD-CONN-1).
#[tokio::test]
async fn reply_text_replaces_the_verdict_with_the_commands_terminator() {
    let c = started(reply("UNKNOWN COMMAND", false)).await;
    let z = exchange(addr(&c), &instream(b"zINSTREAM\0", b"clean data")).await;
    assert_eq!(z, End::Eof(b"UNKNOWN COMMAND\0".to_vec()));
    let n = exchange(addr(&c), &instream(b"nINSTREAM\n", b"clean data")).await;
    assert_eq!(n, End::Eof(b"UNKNOWN COMMAND\n".to_vec()));
}

/// Issue 13 (`drop@verdict`, the scripted `close-before-reply`): the whole stream is read,
/// then the connection closes with no reply; the rule fires at the verdict only, never at a
/// command without one.
#[tokio::test]
async fn drop_at_verdict_reads_the_stream_then_closes_without_reply() {
    let c = server("drop@verdict").await;
    let pong = exchange(addr(&c), b"zPING\0").await;
    assert_eq!(pong, End::Eof(b"PONG\0".to_vec()));
    assert_eq!(fired(&c), 0, "a verdict rule fired at PING");
    let got = exchange(addr(&c), &instream(b"zINSTREAM\0", &[b'x'; 5000])).await;
    assert_eq!(got, End::Eof(Vec::new()));
    assert_eq!(fired(&c), 1);
}

/// Issue 13 (`never-reply@verdict`, the scripted `silent`): the request is read whole and
/// nothing comes back; the connection stays open.
#[tokio::test]
async fn never_reply_at_verdict_stays_silent() {
    let c = server("never-reply@verdict").await;
    let mut s = TcpStream::connect(addr(&c)).await.expect("connect");
    s.write_all(&instream(b"zINSTREAM\0", b"clean data"))
        .await
        .expect("write");
    assert_eq!(
        read_end(&mut s, Duration::from_millis(500)).await,
        End::Silent(Vec::new())
    );
    assert_eq!(fired(&c), 1);
}

/// Issue 13, CLAMD-REPLY-4: an errno fault at the verdict becomes the scan's per-file error
/// (`<n>: stream: EAGAIN Server busy ERROR`), and the session goes on.
#[tokio::test]
async fn errno_at_verdict_is_a_per_file_error_and_the_session_goes_on() {
    let c = server("eagain@verdict,times=1").await;
    let mut s = TcpStream::connect(addr(&c)).await.expect("connect");
    let mut req = b"zIDSESSION\0".to_vec();
    req.extend_from_slice(&instream(b"zINSTREAM\0", b"clean data"));
    s.write_all(&req).await.expect("write");
    let first = b"1: stream: EAGAIN Server busy ERROR\0";
    assert_eq!(read_n(&mut s, first.len()).await, first.to_vec());
    s.write_all(b"zPING\0zEND\0").await.expect("write");
    assert_eq!(read_end(&mut s, T).await, End::Eof(b"2: PONG\0".to_vec()));
}

/// Issue 13, one exchange per row on a fresh fake with one fault rule:
/// - CLAMD-SESSION-3: inside IDSESSION the `reply` text carries the request number `<n>: `
///   like every session reply;
/// - with `raw = true` the decoded bytes of the text go out unframed (no id, no
///   terminator), then the connection closes;
/// - a `reply` rule fired at a command without a verdict answers that command; inside
///   IDSESSION the session goes on and the next command gets the next number;
/// - `truncate@verdict` (the scripted `close-mid-reply`): the first half of the verdict
///   line, no terminator, then FIN;
/// - `drop@replies=N` (fake-vfindd's `drop-connection-after`): the connection closes once
///   the Nth reply was written whole;
/// - CLAMD-TIME-1 wire string: `timeout@replies=2` writes `COMMAND READ TIMED OUT` after the
///   second reply, then closes.
#[tokio::test]
async fn one_exchange_under_a_fault_rule() {
    let stream = instream(b"zINSTREAM\0", b"clean data");
    let in_session = [&b"zIDSESSION\0zPING\0"[..], &stream, b"zEND\0"].concat();
    let marker = "stream: Oracle.Test.MarkerA-1.UNOFFICIAL FOUND";
    let shorthand = |rule: &str| FaultPlan::from_shorthand(rule).expect("plan").seed(1);
    // (case, plan, request, reply then FIN)
    let rows: [(&str, FaultPlan, &[u8], &[u8]); 6] = [
        (
            "reply inside IDSESSION (CLAMD-SESSION-3)",
            reply(marker, false),
            &in_session,
            b"1: PONG\x002: stream: Oracle.Test.MarkerA-1.UNOFFICIAL FOUND\0",
        ),
        (
            "raw reply",
            reply("\\x01\\x02 what is this", true),
            &stream,
            b"\x01\x02 what is this",
        ),
        (
            "reply at a command",
            shorthand("reply:HELLO@command=PING,times=1"),
            b"zIDSESSION\0zPING\0zPING\0zEND\0",
            b"1: HELLO\x002: PONG\0",
        ),
        // "stream: OK\0" is 11 bytes
        (
            "truncate@verdict",
            shorthand("truncate@verdict"),
            &stream,
            b"strea",
        ),
        (
            "drop@replies=1",
            shorthand("drop@replies=1"),
            b"zIDSESSION\0zPING\0zPING\0zEND\0",
            b"1: PONG\0",
        ),
        (
            "timeout@replies=2 (CLAMD-TIME-1)",
            shorthand("timeout@replies=2"),
            b"zIDSESSION\0zPING\0zPING\0zPING\0zEND\0",
            b"1: PONG\x002: PONG\0COMMAND READ TIMED OUT\n",
        ),
    ];
    for (case, plan, req, want) in rows {
        let c = started(plan).await;
        let got = exchange(addr(&c), req).await;
        assert_eq!(got, End::Eof(want.to_vec()), "{case}");
    }
}

/// CLAMD-INSTREAM-2, the daemon's account of its uploads (the harness's snapshots show a
/// stream in full only when the daemon read it whole): a stream read through its terminator
/// counts even when a verdict fault then closes without a reply; one reset at its first
/// chunk does not; a `never-reply` connection whose input was read to the client's EOF was
/// read to its end, and so was a session the client closed after its verdict. A daemon that closes
/// after the terminator never reads the client's end, even when the client half-closed
/// right after its upload (who closed first is the daemon's account, CLAMD-CLIENT-3). Each
/// is keyed by the client's own address.
#[tokio::test]
async fn the_daemon_accounts_for_the_uploads_it_read() {
    use fake_clamd::UploadAccount;
    let upload = instream(b"zINSTREAM\0", &[b'a'; 3000]);
    let account = |c: &FakeClamd, me: SocketAddr| {
        c.uploads_read()
            .into_iter()
            .find(|(p, _)| *p == me)
            .map(|(_, a)| a)
            .unwrap_or_default()
    };
    let run = |rule: &'static str, half_close: bool| {
        let upload = upload.clone();
        async move {
            let c = server(rule).await;
            let mut s = TcpStream::connect(addr(&c)).await.expect("connect");
            let me = s.local_addr().expect("local address");
            // the daemon may reset mid-upload: the end is read either way
            let _ = s.write_all(&upload).await;
            if half_close {
                let _ = s.shutdown().await;
            }
            let end = read_end(&mut s, T).await;
            (c, me, end)
        }
    };
    let whole = UploadAccount {
        streams_whole: 1,
        read_to_end: false,
        refused: false,
    };
    for half_close in [false, true] {
        let (c, me, end) = run("drop@verdict", half_close).await;
        assert_eq!(end, End::Eof(Vec::new()));
        assert_eq!(account(&c, me), whole, "half-close {half_close}");
    }

    // no fault, inside a session: the verdict, then the client's FIN (no END), which the
    // daemon reads before it closes
    let c = server("").await;
    let mut s = TcpStream::connect(addr(&c)).await.expect("connect");
    let me = s.local_addr().expect("local address");
    s.write_all(&[&b"zIDSESSION\0"[..], &upload].concat())
        .await
        .expect("write");
    s.shutdown().await.expect("half-close");
    let end = read_end(&mut s, T).await;
    assert!(
        matches!(end, End::Eof(ref b) if b.starts_with(b"1: stream: OK")),
        "{end:?}"
    );
    let read_to_end = UploadAccount {
        streams_whole: 1,
        read_to_end: true,
        refused: false,
    };
    assert_eq!(account(&c, me), read_to_end);

    let (c, me, _) = run("reset@chunk=1", false).await;
    assert_eq!(account(&c, me), UploadAccount::default());

    let (c, me, end) = run("never-reply@command=INSTREAM", true).await;
    assert!(matches!(end, End::Eof(ref b) if b.is_empty()), "{end:?}");
    assert!(account(&c, me).read_to_end, "{:?}", c.uploads_read());
    assert_eq!(account(&c, me).streams_whole, 0, "drained, not decoded");

    // a connection refused at accept is the daemon's knowledge too (the proxy's connect may
    // or may not see the reset); the next connection is not refused
    let (c, me, end) = run("refuse@connection=1", false).await;
    // (a reset, or an EOF when the client's write already took the reset's error)
    assert!(
        matches!(end, End::Reset(ref b) | End::Eof(ref b) if b.is_empty()),
        "{end:?}"
    );
    assert!(account(&c, me).refused, "{:?}", c.uploads_read());
    let mut s = TcpStream::connect(addr(&c)).await.expect("connect");
    let next = s.local_addr().expect("local address");
    s.write_all(b"zPING\0").await.expect("write");
    assert_eq!(read_end(&mut s, T).await, End::Eof(b"PONG\0".to_vec()));
    assert!(!account(&c, next).refused, "{:?}", c.uploads_read());
}
