//! The admin API's live view of fake-vfindd (issue 16 part 2) and expectations in the Rust
//! API (issue 16 part 5), with the same names as fake-clamd's.

mod common;
use common::*;
use fake_vfindd::FakeDaemon;

use std::panic::{catch_unwind, AssertUnwindSafe};

use fake_vfindd::FakeVfindd;
use faults::admin::Expectation;
use faults::FaultPlan;
use fixtures::admin_http::{get_json as json, http, reset_clears};

/// A path named after the marker signature's body: it crosses the wire both ways.
fn marker_path() -> String {
    format!(
        "/tmp/{}",
        String::from_utf8_lossy(scan_engine::MARKER_BYTES)
    )
}

/// One SCAN/FILE of the marker-named file, then QUIT (SVSP-SCAN-FILE-1, SVSP-CMD-QUIT-1).
async fn scan_once(s: &FakeVfindd) {
    let mut c = Client::raw(s.addr()).await;
    assert_eq!(c.line().await.unwrap(), "READY");
    c.send(&format!("7 SCAN/FILE {}", marker_path())).await;
    let _ = c.lines(3).await;
    c.send("QUIT").await;
    let _ = c.until_eof().await;
}

async fn server(dir: &std::path::Path, plan: FaultPlan) -> FakeVfindd {
    write(&dir.join(marker_path().trim_start_matches('/')), b"clean");
    one_thread(dir)
        .faults(plan)
        .admin(fixtures::admin_http::EPHEMERAL)
        .start()
        .await
        .unwrap()
}

/// Live view: `/commands` and `/transcripts` show the SVSP exchange in order (READY,
/// the scan lines, OK), with signature bodies redacted in both directions; the page too;
/// `POST /reset` clears them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_lists_commands_and_redacted_transcripts_then_reset_clears() {
    let d = tempfile::tempdir().unwrap();
    let s = server(d.path(), FaultPlan::new()).await;
    scan_once(&s).await;
    let admin = s.admin_addr().unwrap();
    let label = "<test signature Fake.Test.Marker-1, 21 bytes>";

    let cmds = json(admin, "/commands").await;
    let cmds = cmds["commands"].as_array().unwrap();
    assert_eq!(cmds.len(), 2);
    assert_eq!(cmds[0]["name"], "SCAN");
    assert_eq!(cmds[0]["line"], format!("7 SCAN/FILE /tmp/{label}"));
    assert_eq!(cmds[1]["name"], "QUIT");

    let ts = json(admin, "/transcripts").await;
    let t = &ts["transcripts"][0];
    assert_eq!(t["conn"], 1);
    let events = t["events"].as_array().unwrap();
    let dirs: Vec<&str> = events.iter().map(|e| e["dir"].as_str().unwrap()).collect();
    assert_eq!(dirs.first(), Some(&"sent"), "READY comes first: {dirs:?}");
    assert!(events[0]["text"]
        .as_str()
        .unwrap()
        .starts_with("READY\\r\\n"));
    assert!(dirs.contains(&"recv"));
    let sent = t["sent"].as_str().unwrap();
    assert!(
        sent.contains(&format!("7 SCANNING \"/tmp/{label}\"")),
        "{sent}"
    );
    assert!(sent.ends_with("OK\\r\\n"), "{sent}");
    let marker = String::from_utf8_lossy(scan_engine::MARKER_BYTES).into_owned();
    let (_, raw) = http(admin, "GET", "/transcripts", "").await;
    assert!(!raw.contains(&marker), "{raw}");
    let (_, page) = http(admin, "GET", "/", "").await;
    assert!(page.contains("fake-vfindd: live state"));
    assert!(!page.contains(&marker));
    assert!(page.contains("&lt;test signature Fake.Test.Marker-1, 21 bytes&gt;"));

    reset_clears(admin, &["commands"]).await;
    assert!(s.transcripts().is_empty());
    // numbering goes on after a reset, so a reused number never mixes two connections
    scan_once(&s).await;
    assert_eq!(
        json(admin, "/transcripts").await["transcripts"][0]["conn"],
        2
    );
}

/// Expectations: met ones verify (command keyword after an id, connections, a rule's
/// firings), unmet ones are listed by `verify()` and panic on drop with that message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expectations_verify_and_panic_on_drop() {
    let d = tempfile::tempdir().unwrap();
    let plan = FaultPlan::from_shorthand("delay:1@command=QUIT,name=slow-quit").unwrap();
    let s = server(d.path(), plan).await;
    s.expect(Expectation::command("scan").exactly(1))
        .expect(Expectation::connections().exactly(1))
        .expect(Expectation::fault_fired("slow-quit").exactly(1));
    scan_once(&s).await;
    assert_eq!(s.verify(), Ok(()));
    s.expect(Expectation::command("SCAN").at_least(2));
    let err = s.verify().unwrap_err().to_string();
    assert_eq!(
        err,
        "fake-vfindd: 1 of 4 expectations not met:\n  - expected at least 2 SCAN commands, received 1 (commands: SCAN, QUIT)"
    );
    let payload = catch_unwind(AssertUnwindSafe(move || drop(s))).expect_err("drop panics");
    assert_eq!(payload.downcast_ref::<String>(), Some(&err));
}
