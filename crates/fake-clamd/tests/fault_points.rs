//! The fault points fake-clamd gained with issue 13: the verdict (`verdict = true`), the
//! written replies (`replies = N`) and the `reply` fault (a text in the place of the
//! verdict), each observed on the wire from a raw tokio client.

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
    let plan = FaultPlan::from_shorthand(rule).expect("plan");
    FakeClamd::builder()
        .faults(plan.seed(1))
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
    let c = FakeClamd::builder()
        .faults(reply("UNKNOWN COMMAND", false))
        .start()
        .await
        .expect("start");
    let z = exchange(addr(&c), &instream(b"zINSTREAM\0", b"clean data")).await;
    assert_eq!(z, End::Eof(b"UNKNOWN COMMAND\0".to_vec()));
    let n = exchange(addr(&c), &instream(b"nINSTREAM\n", b"clean data")).await;
    assert_eq!(n, End::Eof(b"UNKNOWN COMMAND\n".to_vec()));
}

/// Issue 13, CLAMD-SESSION-3: inside IDSESSION the `reply` text carries the request number
/// `<n>: ` like every session reply.
#[tokio::test]
async fn reply_text_inside_idsession_is_numbered() {
    let c = FakeClamd::builder()
        .faults(reply(
            "stream: Oracle.Test.MarkerA-1.UNOFFICIAL FOUND",
            false,
        ))
        .start()
        .await
        .expect("start");
    let mut req = b"zIDSESSION\0zPING\0".to_vec();
    req.extend_from_slice(&instream(b"zINSTREAM\0", b"clean data"));
    req.extend_from_slice(b"zEND\0");
    let got = exchange(addr(&c), &req).await;
    assert_eq!(
        got,
        End::Eof(b"1: PONG\x002: stream: Oracle.Test.MarkerA-1.UNOFFICIAL FOUND\0".to_vec())
    );
}

/// Issue 13: with `raw = true` the decoded bytes of the text go out unframed (no id, no
/// terminator), then the connection closes.
#[tokio::test]
async fn raw_reply_sends_the_decoded_bytes_unframed() {
    let c = FakeClamd::builder()
        .faults(reply("\\x01\\x02 what is this", true))
        .start()
        .await
        .expect("start");
    let got = exchange(addr(&c), &instream(b"zINSTREAM\0", b"clean data")).await;
    assert_eq!(got, End::Eof(b"\x01\x02 what is this".to_vec()));
}

/// Issue 13: a `reply` rule fired at a command without a verdict answers that command; inside
/// IDSESSION the session goes on and the next command gets the next number.
#[tokio::test]
async fn reply_text_answers_a_command_without_verdict_and_the_session_goes_on() {
    let c = server("reply:HELLO@command=PING,times=1").await;
    let got = exchange(addr(&c), b"zIDSESSION\0zPING\0zPING\0zEND\0").await;
    assert_eq!(got, End::Eof(b"1: HELLO\x002: PONG\0".to_vec()));
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

/// Issue 13 (`truncate@verdict`, the scripted `close-mid-reply`): the first half of the
/// verdict line, no terminator, then FIN.
#[tokio::test]
async fn truncate_at_verdict_sends_half_the_verdict_then_fin() {
    let c = server("truncate@verdict").await;
    let got = exchange(addr(&c), &instream(b"zINSTREAM\0", b"clean data")).await;
    // "stream: OK\0" is 11 bytes
    assert_eq!(got, End::Eof(b"strea".to_vec()));
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

/// Issue 13 (`drop@replies=N`, fake-vfindd's `drop-connection-after`): the connection closes
/// once the Nth reply was written whole.
#[tokio::test]
async fn drop_after_the_first_written_reply() {
    let c = server("drop@replies=1").await;
    let got = exchange(addr(&c), b"zIDSESSION\0zPING\0zPING\0zEND\0").await;
    assert_eq!(got, End::Eof(b"1: PONG\0".to_vec()));
}

/// Issue 13, CLAMD-TIME-1 wire string: `timeout@replies=2` writes `COMMAND READ TIMED OUT`
/// after the second reply, then closes.
#[tokio::test]
async fn timeout_after_the_second_written_reply() {
    let c = server("timeout@replies=2").await;
    let got = exchange(addr(&c), b"zIDSESSION\0zPING\0zPING\0zPING\0zEND\0").await;
    assert_eq!(
        got,
        End::Eof(b"1: PONG\x002: PONG\0COMMAND READ TIMED OUT\n".to_vec())
    );
}
