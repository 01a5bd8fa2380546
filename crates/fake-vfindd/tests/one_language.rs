//! One fault language (issue 13) on the SVSP wire: the verdict point, written replies,
//! `every`, framed and raw reply texts, `split-every`, the legacy counters' shorthand aliases, and
//! the handle names shared with FakeClamd. Each test reads the raw bytes a client gets.

mod common;
use common::*;
use fake_vfindd::FakeDaemon;
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

/// One plan in the shorthand, one session (lines, then QUIT), and everything the client
/// gets up to the FIN: each row names the scripted behaviour it replaces and its rule.
#[tokio::test]
async fn shorthand_faults_seen_on_the_svsp_wire() {
    let scanned_then = |rest: &str| format!("{SCANNED}{rest}");
    let rows: [(&str, &str, &[&str], String); 9] = [
        (
            "drop@verdict (scripted close-before-reply; SVSP-CLIENT-10: no verdict is an \
             error): the request was scanned, the connection closes where DONE would be",
            "drop@verdict",
            &["SCAN/FILE /clean"],
            scanned_then(""),
        ),
        (
            "truncate@verdict (scripted close-mid-reply): 9 of the 19 bytes of DONE, then FIN",
            "truncate@verdict",
            &["SCAN/FILE /clean"],
            scanned_then("DONE 0 : "),
        ),
        (
            "errno:EACCES@verdict (scripted errno): `EACCES \"<target>\"` (SVSP-ERR-EACCES-1) \
             with the request's id (SVSP-ID-1)",
            "errno:EACCES@verdict",
            &["7 SCAN/FILE /clean"],
            "READY\r\n7 QUEUED\r\n7 SCANNING \"/clean\"\r\n7 EACCES \"/clean\"\r\nOK\r\n".into(),
        ),
        (
            "efault-every:2 = efault@verdict,every=2 (SVSP-ERR-EFAULT-1): every 2nd verdict is \
             EFAULT in the place of DONE, after the scan lines",
            "efault-every:2",
            &["1 SCAN/FILE /clean", "2 SCAN/FILE /clean"],
            "READY\r\n1 QUEUED\r\n2 QUEUED\r\n1 SCANNING \"/clean\"\r\n1 DONE 0 : \"/clean\"\r\n\
             2 SCANNING \"/clean\"\r\n2 EFAULT Internal error\r\nOK\r\n"
                .into(),
        ),
        (
            "drop-connection-after:2-lines = drop@replies=2: FIN after the 2nd line",
            "drop-connection-after:2-lines",
            &["SCAN/FILE /clean"],
            "READY\r\nQUEUED\r\n".into(),
        ),
        (
            "reply:TEXT@command=SCAN (scripted reply): the text framed with the request id \
             and CRLF in the place of the scan output; the connection goes on",
            "reply:UNKNOWN COMMAND@command=SCAN",
            &["5 SCAN/FILE /clean"],
            "READY\r\n5 QUEUED\r\n5 UNKNOWN COMMAND\r\nOK\r\n".into(),
        ),
        (
            "reply-raw:...@verdict: the decoded bytes, unframed, in the place of DONE",
            "reply-raw:\\x01\\x02 what@verdict",
            &["SCAN/FILE /clean"],
            scanned_then("\u{1}\u{2} whatOK\r\n"),
        ),
        (
            "a reply text answers a command without verdict at once, in the place of its OK",
            "reply:HELLO@command=ENABLE",
            &["3 ENABLE ORIGINAL"],
            "READY\r\n3 HELLO\r\nOK\r\n".into(),
        ),
        (
            "drop@command=SCAN (scripted close-early): a REQUEST gets no SEND line",
            "drop@command=SCAN",
            &["SCAN/REQUEST x"],
            "READY\r\n".into(),
        ),
    ];
    for (what, spec, lines, want) in rows {
        let v = shorthand(spec).await;
        assert_eq!(session(v.s.addr(), lines).await, eof(&want), "{what}");
    }
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
