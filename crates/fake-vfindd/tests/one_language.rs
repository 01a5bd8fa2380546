//! One fault language (issue 13) on the SVSP wire: the verdict point, written replies,
//! `every`, framed and raw reply texts, `split-every`, the legacy counters' shorthand aliases, and
//! the handle names shared with FakeClamd. Each test reads the raw bytes a client gets.

mod common;
use common::*;
use std::time::Duration;

use fake_vfindd::{Error, FakeVfindd};
use faults::FaultPlan;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use fixtures::wire::{read_end_text as read_end, svsp_session};

/// A server with the plan the shorthand `spec` gives.
async fn shorthand(spec: &str) -> Srv {
    server(FaultPlan::from_shorthand(spec).unwrap()).await
}

const SCANNED: &str = "READY\r\nQUEUED\r\nSCANNING \"/clean\"\r\n";

/// `drop@verdict` (the scripted `close-before-reply`): the request was read and scanned, the
/// connection closes where DONE would be (SVSP-CLIENT-10: no verdict is an error).
#[tokio::test]
async fn verdict_drop_closes_where_done_would_be() {
    let v = shorthand("drop@verdict").await;
    assert_eq!(
        session(v.s.addr(), &["SCAN/FILE /clean"]).await,
        eof(SCANNED)
    );
}

/// `truncate@verdict` (the scripted `close-mid-reply`): half of the DONE line, no
/// terminator, then FIN.
#[tokio::test]
async fn verdict_truncate_sends_half_of_done_then_closes() {
    let v = shorthand("truncate@verdict").await;
    // `DONE 0 : "/clean"\r\n` is 19 bytes: 9 are kept
    assert_eq!(
        session(v.s.addr(), &["SCAN/FILE /clean"]).await,
        eof(&format!("{SCANNED}DONE 0 : "))
    );
}

/// `reset@verdict`: RST in the place of DONE.
#[tokio::test]
async fn verdict_reset_aborts_in_place_of_done() {
    let v = shorthand("reset@verdict").await;
    match session(v.s.addr(), &["SCAN/FILE /clean"]).await {
        End::Reset(t) => assert!(!t.contains("DONE"), "{t:?}"),
        other => panic!("{other:?}"),
    }
}

/// `never-reply@verdict` (the scripted `silent`): the request is read, nothing more is
/// written (not even QUIT's OK), and the connection stays open.
#[tokio::test]
async fn verdict_never_reply_stays_open_and_silent() {
    let v = shorthand("never-reply@verdict").await;
    assert_eq!(
        svsp_session(
            v.s.addr(),
            &["SCAN/FILE /clean"],
            Duration::from_millis(700)
        )
        .await,
        End::Silent(SCANNED.to_string())
    );
}

/// `errno:EACCES@verdict` (the scripted `errno`): the scan ends with `EACCES "<target>"`
/// (SVSP-ERR-EACCES-1 form), with the request's id (SVSP-ID-1).
#[tokio::test]
async fn verdict_errno_names_the_target_with_the_id() {
    let v = shorthand("errno:EACCES@verdict").await;
    assert_eq!(
        session(v.s.addr(), &["7 SCAN/FILE /clean"]).await,
        eof("READY\r\n7 QUEUED\r\n7 SCANNING \"/clean\"\r\n7 EACCES \"/clean\"\r\nOK\r\n")
    );
}

/// The legacy `efault-every:N` alias = `efault@verdict,every=N` (SVSP-ERR-EFAULT-1): every
/// Nth verdict is EFAULT in the place of DONE, after the scan lines.
#[tokio::test]
async fn efault_every_alias_replaces_every_second_done() {
    let v = shorthand("efault-every:2").await;
    let t = session(v.s.addr(), &["1 SCAN/FILE /clean", "2 SCAN/FILE /clean"]).await;
    assert_eq!(
        t,
        eof(
            "READY\r\n1 QUEUED\r\n2 QUEUED\r\n1 SCANNING \"/clean\"\r\n1 DONE 0 : \"/clean\"\r\n\
             2 SCANNING \"/clean\"\r\n2 EFAULT Internal error\r\nOK\r\n"
        )
    );
}

/// `eagain@command=SCAN,every=2` (alias `eagain-every:2`, SVSP-ERR-EAGAIN-1) counts SCANs
/// over all connections: the 2nd SCAN, on a second connection, is refused.
#[tokio::test]
async fn every_counts_scans_over_all_connections() {
    let v = shorthand("eagain-every:2").await;
    let first = session(v.s.addr(), &["SCAN/FILE /clean"]).await;
    assert_eq!(
        first,
        eof(&format!("{SCANNED}DONE 0 : \"/clean\"\r\nOK\r\n"))
    );
    let second = session(v.s.addr(), &["SCAN/FILE /clean"]).await;
    assert_eq!(second, eof("READY\r\nEAGAIN Server busy\r\nOK\r\n"));
    assert_eq!(
        v.s.faults().plan().rules,
        FaultPlan::from_shorthand("eagain@command=SCAN,every=2")
            .unwrap()
            .rules
    );
}

/// `drop@replies=N` (alias `drop-connection-after:N-lines`): FIN after the Nth line.
#[tokio::test]
async fn drop_after_the_nth_written_line() {
    let v = shorthand("drop-connection-after:2-lines").await;
    assert_eq!(
        session(v.s.addr(), &["SCAN/FILE /clean"]).await,
        eof("READY\r\nQUEUED\r\n")
    );
}

/// `reply:TEXT@command=SCAN` (the scripted `reply`): the text, framed with the request id
/// and CRLF, in the place of the scan output; the connection goes on.
#[tokio::test]
async fn reply_text_is_framed_with_the_request_id() {
    let v = shorthand("reply:UNKNOWN COMMAND@command=SCAN").await;
    assert_eq!(
        session(v.s.addr(), &["5 SCAN/FILE /clean"]).await,
        eof("READY\r\n5 QUEUED\r\n5 UNKNOWN COMMAND\r\nOK\r\n")
    );
}

/// `reply-raw:...@verdict`: the decoded bytes, unframed, in the place of DONE.
#[tokio::test]
async fn raw_reply_bytes_go_out_unframed_at_the_verdict() {
    let v = shorthand("reply-raw:\\x01\\x02 what@verdict").await;
    assert_eq!(
        session(v.s.addr(), &["SCAN/FILE /clean"]).await,
        eof(&format!("{SCANNED}\u{1}\u{2} whatOK\r\n"))
    );
}

/// A reply text answers a command without verdict at once, in the place of its OK.
#[tokio::test]
async fn reply_text_answers_a_command_without_verdict() {
    let v = shorthand("reply:HELLO@command=ENABLE").await;
    assert_eq!(
        session(v.s.addr(), &["3 ENABLE ORIGINAL"]).await,
        eof("READY\r\n3 HELLO\r\nOK\r\n")
    );
}

/// `split-every:N/MS` (the scripted `split_reply = N`): replies arrive N bytes at a time.
#[tokio::test]
async fn split_every_writes_n_bytes_at_a_time() {
    let v = shorthand("split-every:4/40").await;
    let mut s = TcpStream::connect(v.s.addr()).await.unwrap();
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(T, s.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&buf[..n], b"READ");
    s.write_all(b"QUIT\r\n").await.unwrap();
    let rest = read_end(&mut s, T).await;
    assert_eq!(rest, eof("Y\r\nOK\r\n"));
}

/// `drop@command=SCAN` (the scripted `close-early`): a REQUEST gets no `SEND` line.
#[tokio::test]
async fn drop_at_the_scan_command_sends_no_send_line() {
    let v = shorthand("drop@command=SCAN").await;
    assert_eq!(
        session(v.s.addr(), &["SCAN/REQUEST x"]).await,
        eof("READY\r\n")
    );
}

/// The handle names of FakeClamd: `shutdown()`, `stopped()`, `is_shut_down()`, `Error`.
#[tokio::test]
async fn shutdown_and_stopped_end_the_server() {
    let s = FakeVfindd::builder().start().await.unwrap();
    let addr = s.addr();
    assert!(!s.is_shut_down());
    TcpStream::connect(addr).await.expect("serving");
    s.shutdown();
    tokio::time::timeout(T, s.stopped()).await.expect("stopped");
    assert!(s.is_shut_down());
    assert!(TcpStream::connect(addr).await.is_err(), "listener closed");
    let e: Result<FakeVfindd, Error> = FakeVfindd::builder().threads(0).start().await;
    assert!(matches!(e, Err(Error::Config(_))));
}
