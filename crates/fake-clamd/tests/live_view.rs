//! The admin API's live view of fake-clamd (issue 16 part 2) and expectations in the Rust
//! API (issue 16 part 5).

mod common;

use fake_clamd::FakeDaemon;
use std::net::SocketAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};

use common::with_admin;
use fake_clamd::FakeClamd;
use faults::admin::Expectation;
use faults::{Fault, FaultPlan, Rule, Trigger};
use fixtures::admin_http::{get_json as json, http, reset_clears};
use fixtures::clamd_wire::instream;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One exchange on a fresh connection: send, read to EOF.
async fn talk(addr: SocketAddr, bytes: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(bytes).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), s.read_to_end(&mut out)).await;
    out
}

/// Live view: `/commands` and `/transcripts` list what the daemon received (CLAMD-CMD-1
/// PING, CLAMD-INSTREAM-1), the EICAR body shown only as `<EICAR, 68 bytes>`, also on the
/// page; `POST /reset` forgets them.
#[tokio::test]
async fn admin_lists_commands_and_redacted_transcripts_then_reset_clears() {
    let clamd = with_admin(FakeClamd::builder()).await;
    let (a, admin) = (clamd.addr().unwrap(), clamd.admin_addr().unwrap());
    assert_eq!(talk(a, b"zPING\0").await, b"PONG\0");
    let reply = talk(a, &instream(&scan_engine::eicar())).await;
    assert_eq!(reply, b"stream: Win.Test.EICAR_HDB-1 FOUND\0");

    let cmds = json(admin, "/commands").await;
    let names: Vec<&str> = cmds["commands"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["PING", "INSTREAM"]);
    assert_eq!(cmds["commands"][1]["framing"], "z");

    let ts = json(admin, "/transcripts").await;
    let ts = ts["transcripts"].as_array().unwrap();
    assert_eq!(ts.len(), 2);
    assert_eq!(ts[0]["received"], "zPING\\0");
    assert_eq!(ts[0]["sent"], "PONG\\0");
    assert_eq!(
        ts[1]["received"],
        "zINSTREAM\\0\\0\\0\\0D<EICAR, 68 bytes>\\0\\0\\0\\0"
    );
    assert_eq!(ts[1]["bytes_received"], 10 + 4 + 68 + 4);
    let eicar = String::from_utf8(scan_engine::eicar()).unwrap();
    let (_, raw) = http(admin, "GET", "/transcripts", "").await;
    assert!(!raw.contains(&eicar[..20]), "EICAR body in /transcripts");

    let (st, page) = http(admin, "GET", "/", "").await;
    assert_eq!(st, 200);
    assert!(page.contains("&lt;EICAR, 68 bytes&gt;"), "{page}");
    assert!(!page.contains(&eicar[..20]), "EICAR body on the page");
    assert!(page.contains("fake-clamd: live state"));

    reset_clears(admin, &["commands", "transcripts"]).await;
    assert!(clamd.commands().is_empty());
}

/// Live view: with `--admin` the daemon records even when the config does not ask for it
/// (the binary's default), so `/commands` is never silently empty.
#[tokio::test]
async fn admin_turns_recording_on() {
    let clamd = with_admin(FakeClamd::builder().record(false)).await;
    talk(clamd.addr().unwrap(), b"nPING\n").await;
    let cmds = json(clamd.admin_addr().unwrap(), "/commands").await;
    assert_eq!(cmds["commands"][0]["name"], "PING");
    assert_eq!(cmds["commands"][0]["framing"], "n");
}

/// Expectations: met expectations verify, on drop too (commands, connections, a rule's
/// firings).
#[tokio::test]
async fn met_expectations_verify_ok() {
    let plan = FaultPlan::new().rule(
        Rule::new(Trigger::command("VERSION"), Fault::Reset)
            .named("reset-version")
            .times(1),
    );
    let clamd = FakeClamd::builder().faults(plan).start().await.unwrap();
    clamd
        .expect(Expectation::command("instream").exactly(1))
        .expect(Expectation::command("PING").at_least(1))
        .expect(Expectation::connections().exactly(3))
        .expect(Expectation::fault_fired("reset-version").exactly(1))
        .expect(Expectation::command("SCAN").never());
    let a = clamd.addr().unwrap();
    talk(a, b"zPING\0").await;
    talk(a, &instream(b"clean")).await;
    talk(a, b"zVERSION\0").await;
    assert_eq!(clamd.verify(), Ok(()));
    drop(clamd); // no panic
}

/// Expectations: `verify()` returns every unmet expectation in one readable message.
#[tokio::test]
async fn unmet_expectations_are_listed_by_verify() {
    let clamd = FakeClamd::start().await.unwrap();
    clamd
        .expect(Expectation::command("INSTREAM").exactly(2))
        .expect(Expectation::connections().at_most(0))
        .expect(Expectation::fault_fired("missing"));
    talk(clamd.addr().unwrap(), &instream(b"clean")).await;
    let err = clamd.verify().unwrap_err();
    let msg = err.to_string();
    assert_eq!(err.failures.len(), 3, "{msg}");
    assert!(
        msg.starts_with("fake-clamd: 3 of 3 expectations not met:"),
        "{msg}"
    );
    for unmet in [
        "expected exactly 2 INSTREAM commands, received 1 (commands: INSTREAM)",
        "expected at most 0 connections, saw 1",
        "no rule of that name (rules: none)",
    ] {
        assert!(msg.contains(unmet), "{unmet}: {msg}");
    }
    // and dropping the handle panics with the same message
    let payload = catch_unwind(AssertUnwindSafe(move || drop(clamd))).expect_err("panics");
    assert_eq!(payload.downcast_ref::<String>(), Some(&msg));
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Expectations: dropping the handle with an unmet expectation panics with the message.
#[test]
fn drop_panics_on_unmet_expectation() {
    let rt = runtime();
    let clamd = rt.block_on(FakeClamd::start()).unwrap();
    clamd.expect(Expectation::command("INSTREAM"));
    let r = rt.block_on(async { catch_unwind(AssertUnwindSafe(move || drop(clamd))) });
    let payload = r.expect_err("drop must panic");
    let msg = payload
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    assert!(
        msg.contains("expected at least 1 INSTREAM commands, received 0"),
        "{msg}"
    );
}

/// Expectations: a test already panicking keeps its own panic (no double panic, which
/// would abort the test binary and hide the first message).
#[test]
fn no_second_panic_while_panicking() {
    let rt = runtime();
    let clamd = rt.block_on(FakeClamd::start()).unwrap();
    clamd.expect(Expectation::command("INSTREAM"));
    let r = catch_unwind(AssertUnwindSafe(move || {
        let _held = clamd;
        panic!("the test's own failure");
    }));
    let payload = r.expect_err("panics");
    assert_eq!(
        payload.downcast_ref::<&str>().copied(),
        Some("the test's own failure")
    );
}
