//! Section 14 reference transcripts, replayed byte for byte (insta snapshots).

mod common;
use common::*;
use fake_vfindd::FakeDaemon;
use fake_vfindd::FakeVfindd;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// `builder` with the test signature of the section-14 transcripts.
fn with_sick(builder: fake_vfindd::Builder) -> fake_vfindd::Builder {
    builder.signature("CVDL W32/Sick", b"SVSP-TEST-SICK")
}

/// One thread with the test signature over a root holding `files`, and a client past READY.
async fn sick_served(files: &[(&str, &[u8])]) -> (tempfile::TempDir, FakeVfindd, Client) {
    served(with_sick(FakeVfindd::builder().threads(1)), files).await
}

/// Over a root holding `files`: sends `line`, asserts the replies are `want` and returns
/// the client's log for the snapshot.
async fn one_request(files: &[(&str, &[u8])], line: &str, want: &[&str]) -> String {
    let (_d, _s, mut c) = sick_served(files).await;
    c.send(line).await;
    assert_eq!(c.lines(want.len()).await, want, "replies to {line:?}");
    c.log
}

fn sick_zip() -> Vec<u8> {
    let mut other = vec![b'.'; 1234 - 14];
    other.extend_from_slice(b"SVSP-TEST-SICK"); // ends at byte 1234
    zip_bytes(&[("some/file", b"clean"), ("other/file", &other)])
}

/// Transcript A: SVSP-RESP-READY-1 (greeting), SVSP-RESP-QUEUED-1 (`--queued=always`: one QUEUED),
/// SVSP-RESP-OK-1 (QUIT gets OK, the SCAN none).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn svsp_transcript_a_single_file() {
    let d = root_with(&[("tmp/foo", b"hello")]);
    let s = with_sick(one_thread(d.path())).start().await.unwrap();
    let mut c = Client::raw(s.addr()).await;
    let mut log = vec![c.line().await.unwrap()];
    c.send("SCAN/FILE /tmp/foo").await;
    log.extend(c.lines(3).await);
    c.send("QUIT").await;
    log.extend(c.until_eof().await);
    assert_eq!(
        log,
        [
            "READY",
            "QUEUED",
            "SCANNING \"/tmp/foo\"",
            "DONE 0 : \"/tmp/foo\"",
            "OK"
        ]
    );
    let raw = &s.transcripts()[0].sent();
    assert_eq!(
        raw.as_slice(),
        b"READY\r\nQUEUED\r\nSCANNING \"/tmp/foo\"\r\nDONE 0 : \"/tmp/foo\"\r\nOK\r\n"
    );
    let names: Vec<String> = s.commands().into_iter().map(|c| c.name).collect();
    assert_eq!(names, ["SCAN", "QUIT"]);
    s.clear_records();
    assert!(s.transcripts().is_empty() && s.commands().is_empty());
    insta::assert_snapshot!(c.log);
}

/// Transcript B: SVSP-SCAN-TREE-1 (an archive target is expanded, its parts listed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn svsp_transcript_b_ids_archive_parts_interleaving() {
    let (_d, _s, mut c) = served(
        with_sick(
            FakeVfindd::builder()
                .threads(2)
                .delay(Duration::from_millis(30)),
        ),
        &[("tmp/foo.zip", &sick_zip()), ("tmp/foo.exe", b"MZ clean")],
    )
    .await;
    c.expect("ENABLE RECURSE 1", "OK").await;
    c.expect("1 SCAN/FILE /tmp/foo.zip", "1 QUEUED").await;
    c.send("2 SCAN/FILE /tmp/foo.exe").await;
    let mut got = c.lines(7).await;
    c.send("QUIT").await;
    assert_eq!(c.until_eof().await, ["OK"]);
    // The interleaving varies (spec: "the order varies"); each request's own sequence is exact.
    let of = |p: &str| {
        got.iter()
            .filter(|l| l.starts_with(p))
            .cloned()
            .collect::<Vec<_>>()
    };
    assert_eq!(
        of("2 "),
        [
            "2 QUEUED",
            "2 SCANNING \"/tmp/foo.exe\"",
            "2 DONE 0 : \"/tmp/foo.exe\""
        ]
    );
    assert_eq!(
        of("1 "),
        [
            "1 SCANNING \"/tmp/foo.zip\" -> \"/some/file\"",
            "1 SCANNING \"/tmp/foo.zip\" -> \"/other/file\"",
            "1 INFECTED CVDL W32/Sick : \"/tmp/foo.zip\" -> \"/other/file\" : end at 1234",
            "1 DONE 1 : \"/tmp/foo.zip\""
        ]
    );
    got.sort();
    insta::assert_snapshot!(got.join("\n"));
}

/// Transcript C: SVSP-RESP-DONE-2 (FILE-SHA1: `DONE <count> : <target> : <sha1>`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn svsp_transcript_c_file_sha1_eicar() {
    let log = one_request(
        &[("srv/eicar.com", &eicar())],
        "7 SCAN/FILE-SHA1 /srv/eicar.com",
        &[
            "7 QUEUED",
            "7 SCANNING \"/srv/eicar.com\"",
            "7 INFECTED CVDL DOS/EICAR.Test : \"/srv/eicar.com\" : end at 68",
            "7 DONE 1 : \"/srv/eicar.com\" : 3395856ce81f2b7382dee72602f798b642f14140",
        ],
    )
    .await;
    insta::assert_snapshot!(log);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn svsp_transcript_d_request_remote() {
    let (_d, _s, mut c) = sick_served(&[]).await;
    c.send("3 SCAN/REQUEST report.doc").await;
    let mut data = data_channel(&mut c, "3").await;
    let port = data.peer_addr().unwrap().port();
    data.write_all(b"just a document").await.unwrap();
    data.shutdown().await.unwrap();
    let got = c.lines(3).await;
    assert_eq!(
        got,
        [
            "3 QUEUED",
            "3 SCANNING \"report.doc\"",
            "3 DONE 0 : \"report.doc\""
        ]
    );
    insta::assert_snapshot!(c.log.replace(&port.to_string(), "[port]"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn svsp_transcript_e_errors() {
    let d = root_with(&[]);
    let s = with_sick(one_thread(d.path())).start().await.unwrap();
    let mut c = Client::raw(s.addr()).await;
    let mut got = vec![c.line().await.unwrap()];
    for (cmd, n) in [
        ("wrongCommand", 1),
        ("SCAN/FILE nonexistent", 2),
        ("4 ENABLE FROBNICATE", 1),
        ("5 ENABLE RECURSE x", 1),
        ("6 SCAN/DATA 100", 1),
        ("SCAN/FILE /a SCAN/FILE /b", 2),
    ] {
        c.send(cmd).await;
        got.extend(c.lines(n).await);
    }
    c.send("QUIT").await;
    got.extend(c.until_eof().await);
    let want = "READY\nEINVAL Unrecognized command: wrongCommand\nQUEUED\nENOENT \"nonexistent\"\n4 ENOTSUP Unknown option: FROBNICATE\n5 EINVAL Invalid value for RECURSE: x\n6 ENOTSUP Unsupported source: DATA\nQUEUED\nENOENT \"/a SCAN/FILE /b\"\nOK";
    assert_eq!(got.join("\n"), want);
    assert_eq!(
        s.transcripts()[0].sent(),
        format!("{}\r\n", want.replace('\n', "\r\n")).into_bytes()
    );
    insta::assert_snapshot!(c.log);
}

/// Transcript F: SVSP-SCAN-TREE-1 (SCAN/FILE of a directory scans its own files).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn svsp_transcript_f_quoting() {
    let log = one_request(
        &[("tmp/we\"ird\\dir/line\nbreak.txt", b"clean")],
        "9 SCAN/FILE /tmp/we\"ird\\dir",
        &[
            "9 QUEUED",
            "9 SCANNING \"/tmp/we\\\"ird\\\\dir/line\\nbreak.txt\"",
            "9 DONE 0 : \"/tmp/we\\\"ird\\\\dir\"",
        ],
    )
    .await;
    insta::assert_snapshot!(log);
}
