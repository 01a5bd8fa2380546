//! SVSP-CONC-3 (option snapshot at acceptance) and SVSP-SCAN-TREE-3 (unreadable members are
//! skipped without a line).

mod common;
use common::*;
use fake_vfindd::FakeVfindd;
use std::time::Duration;

/// SVSP-CONC-3.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn svsp_conc_3_a_queued_request_keeps_the_options_it_was_accepted_with() {
    // One slow worker: request 2 waits in the queue while request 1 is scanned.
    let (_d, _s, mut c) = serve_slowly(Duration::from_millis(400), &[("e", &eicar())]).await;
    c.expect("1 SCAN/FILE /e", "1 QUEUED").await;
    c.expect("2 SCAN/FILE /e", "2 QUEUED").await;
    c.send("3 ENABLE IGNORE CVDL DOS/EICAR.Test").await;
    c.send("4 SCAN/FILE /e").await;
    let mut lines = Vec::new();
    while !lines.iter().any(|l: &String| l.starts_with("4 DONE")) {
        lines.push(c.line().await.expect("EOF before request 4 finished"));
    }
    let pos = |p: &str| lines.iter().position(|l| l.starts_with(p));
    let ok = pos("3 OK").expect("ENABLE answered");
    let done2 = pos("2 DONE").expect("request 2 finished");
    assert!(
        ok < done2,
        "ENABLE was processed while request 2 was pending: {lines:?}"
    );
    assert!(
        lines.contains(&"1 DONE 1 : \"/e\"".to_string()),
        "{lines:?}"
    );
    assert!(
        lines.contains(&"2 DONE 1 : \"/e\"".to_string()),
        "request 2 was accepted before IGNORE: {lines:?}"
    );
    assert!(
        lines.contains(&"4 DONE 0 : \"/e\"".to_string()),
        "request 4 was accepted after IGNORE: {lines:?}"
    );
    c.quit().await;
}

/// SVSP-SCAN-TREE-3.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn svsp_scan_tree_3_a_corrupt_archive_member_is_skipped_without_a_line() {
    // A deflated member whose first block header is damaged to the reserved block type
    // (BTYPE 11): zlib cannot inflate it, so it "cannot be read". (A flipped data byte
    // would not do: like clamd's cli_unzip, the engine does not check CRCs.)
    let noise = fixtures::clean_random(7, 20_000);
    let mut z = zip_bytes(&[
        ("good.txt", b"hello"),
        ("bad.bin", &noise),
        ("last.txt", b"bye"),
    ]);
    let at = z
        .windows(7)
        .position(|w| w == b"bad.bin")
        .expect("local header of bad.bin");
    // the local header's method (offset 8) and extra field length (offset 28)
    let header = at - 30;
    assert_eq!(
        u16::from_le_bytes([z[header + 8], z[header + 9]]),
        8,
        "bad.bin is deflated"
    );
    let extra = usize::from(u16::from_le_bytes([z[header + 28], z[header + 29]]));
    z[at + 7 + extra] |= 0b110;
    let (_d, _s, mut c) = serve(&[("z.zip", &z)]).await;
    let lines = c.scan("SCAN/FILE /z.zip").await;
    assert!(lines.last().unwrap().starts_with("DONE 0"), "{lines:?}");
    assert!(lines.iter().any(|l| l.contains("good.txt")), "{lines:?}");
    assert!(lines.iter().any(|l| l.contains("last.txt")), "{lines:?}");
    assert!(!lines.iter().any(|l| l.contains("bad.bin")), "{lines:?}");
    c.quit().await;
}

/// Elapsed time until connection B's request is done, when connection A's request was
/// accepted first, on a pool of `threads` workers each delayed by `delay` per part.
async fn second_connection_done_after(threads: usize, delay: Duration) -> Duration {
    let (_d, s, mut a) = served(
        FakeVfindd::builder().threads(threads).delay(delay),
        &[("f", b"x")],
    )
    .await;
    let mut b = Client::connect(s.addr()).await;
    let t = std::time::Instant::now();
    a.expect("1 SCAN/FILE /f", "1 QUEUED").await;
    assert_eq!(
        b.scan("2 SCAN/FILE /f").await.last().unwrap(),
        "2 DONE 0 : \"/f\""
    );
    let elapsed = t.elapsed();
    assert_eq!(
        a.until_terminal("1 ").await.last().unwrap(),
        "1 DONE 0 : \"/f\""
    );
    elapsed
}

/// SVSP-CONC-4: one pool of `--threads` workers is shared by all connections, in FIFO
/// order, and `--delay-ms` delays each part: with one worker, connection B's request waits
/// for connection A's (two delays); with two workers it does not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn svsp_conc_4_one_worker_pool_shared_by_all_connections_in_fifo_order() {
    let delay = Duration::from_millis(300);
    let one = second_connection_done_after(1, delay).await;
    assert!(
        one >= delay * 2 - Duration::from_millis(20),
        "one worker: {one:?}"
    );
    let two = second_connection_done_after(2, delay).await;
    assert!(two >= delay, "the delay applies: {two:?}");
    assert!(
        two < delay * 2,
        "two workers: B did not wait for A: {two:?}"
    );
}
