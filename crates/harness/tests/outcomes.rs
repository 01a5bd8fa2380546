//! Issue 14 items 3 and 4: FAIL-OPEN only when the scan really failed (the daemon sent no
//! verdict), and a fault case whose fault never fired is "not applicable", never a pass, a
//! failure or a FAIL-OPEN, and does not fail the run.
//!
//! The clients are small python scripts written into a scratch directory at run time.

mod common;
use common::{need_python, root};

use std::collections::BTreeMap;

use harness::case::{self, Case};
use harness::judge::Status;
use harness::profile::ClientProfile;
use harness::report::Report;
use harness::runner::CaseResult;

/// Sends `first` then the file as one INSTREAM chunk and the terminator, reads one reply,
/// then prints clean whatever it got (exit 0).
const ALWAYS_CLEAN: &str = r#"
import socket, struct, sys
mode, addr, path = sys.argv[1], sys.argv[2], sys.argv[3]
host, _, port = addr.rpartition(":")
data = open(path, "rb").read()
if mode == "none":
    print(path + ": OK")
    sys.exit(0)
s = socket.create_connection((host, int(port)), timeout=3)
s.settimeout(3)
try:
    if mode == "unprefixed":
        s.sendall(b"INSTREAM\n" + struct.pack(">I", len(data)) + data + b"\0\0\0\0")
    elif mode == "instream":
        s.sendall(b"zINSTREAM\0" + struct.pack(">I", len(data)) + data + b"\0\0\0\0")
    elif mode == "scan":
        s.sendall(b"zSCAN " + path.encode() + b"\0")
    s.recv(4096)
except OSError:
    pass
print(path + ": OK")
sys.exit(0)
"#;

async fn run(mode: &str, case_ids: &[&str]) -> Vec<CaseResult> {
    let root = root();
    let scratch = tempfile::tempdir().unwrap();
    let script = scratch.path().join("always_clean.py");
    std::fs::write(&script, ALWAYS_CLEAN).unwrap();
    let profile_path = scratch.path().join(format!("always-clean-{mode}.toml"));
    std::fs::write(
        &profile_path,
        format!(
            "description = \"prints clean whatever the daemon said\"\nprotocol = \"clamd\"\n\
             command = [\"python3\", {script:?}, {mode:?}, \"{{addr}}\", \"{{file}}\"]\n\
             timeout_secs = 8\nsnapshots = false\n\n[verdicts]\nclean = {{ exit = 0 }}\n\
             infected = {{ exit = 1 }}\nerror = {{ exit = 2 }}\n",
            script = script.to_str().unwrap(),
        ),
    )
    .unwrap();
    let p = ClientProfile::load(&profile_path).unwrap();
    let cases: Vec<Case> = case::load_dir(&root.join("conformance/cases/client")).unwrap();
    let pairs: Vec<(ClientProfile, Case)> = cases
        .into_iter()
        .filter(|c| case_ids.contains(&c.id.as_str()))
        .map(|c| (p.clone(), c))
        .collect();
    assert_eq!(
        pairs.len(),
        case_ids.len(),
        "unknown case id in {case_ids:?}"
    );
    let ctx = common::context(scratch.path());
    harness::cli::run_pairs(pairs, ctx, 2, &BTreeMap::new()).await
}

fn get<'a>(rs: &'a [CaseResult], id: &str) -> &'a CaseResult {
    rs.iter().find(|r| r.case_id == id).unwrap()
}

/// Runs case `id` with the client that scans by path: it must be NOT-APPLICABLE with no
/// failure. Returns its result and the run's report.
async fn not_applicable_by_path(id: &str) -> (CaseResult, Report) {
    let rs = run("scan", &[id]).await;
    let r = get(&rs, id).clone();
    assert_eq!(r.status, Status::NotApplicable, "{:?}", r.failures);
    assert!(r.failures.is_empty(), "{:?}", r.failures);
    let report = Report {
        rows: rs.iter().map(harness::cli::row_of).collect(),
        seconds: 0.0,
        notes: Vec::new(),
    };
    (r, report)
}

/// Issue 14 item 3 (CLAMD-CLIENT-5): clean after `UNKNOWN COMMAND` (not a verdict) is
/// FAIL-OPEN, even where the case expects infected (it used to be a plain FAIL). FAIL-OPEN
/// needs a scan that really failed: a client that got the daemon's `FOUND` verdict and still
/// said clean missed a detection (FAIL), it did not fail open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clean_after_a_reply_that_is_no_verdict_is_fail_open_clamd_client_5() {
    need_python!();
    let rs = run("unprefixed", &["clamd.eicar"]).await;
    let r = get(&rs, "clamd.eicar");
    assert_eq!(r.status, Status::FailOpen, "{:?}", r.failures);
    let f = &r.failures[0];
    assert_eq!(
        (f.kind.as_str(), f.rule.as_str()),
        ("fail-open", "CLAMD-CLIENT-5")
    );
    assert!(f.happened.contains("UNKNOWN COMMAND"), "{}", f.happened);

    let rs = run("instream", &["clamd.eicar"]).await;
    let r = get(&rs, "clamd.eicar");
    assert_eq!(r.status, Status::Fail, "{:?}", r.failures);
    assert_eq!(r.failures[0].kind, "missed-detection");
}

/// Issue 14 item 4: a client that scans by path never meets an INSTREAM fault; the daemon
/// answers OK truthfully. The case is not applicable (it used to be a FAIL-OPEN: a false
/// accusation), is listed in its own section, and does not change the exit code. An
/// INSTREAM client on the same case meets the fault and is FAIL-OPEN.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_that_never_fired_is_not_applicable_and_does_not_fail_the_run() {
    need_python!();
    let id = "clamd.fault-reset-mid-stream";
    let (r, report) = not_applicable_by_path(id).await;
    assert!(r.not_applicable.unwrap().contains("the fault never fired"));
    let c = report.counts();
    assert_eq!(
        (c.passed, c.failed, c.fail_open, c.not_applicable),
        (0, 0, 0, 1)
    );
    assert_eq!(report.exit_code(false), 0);
    let term = report.terminal();
    assert!(term.contains("NOT APPLICABLE"), "{term}");
    assert!(
        term.contains("it waits for INSTREAM, and the client sent only SCAN"),
        "{term}"
    );
    assert!(report.markdown().contains("## Not applicable"));

    let rs = run("instream", &[id]).await;
    assert_eq!(get(&rs, id).status, Status::FailOpen);
    // A client that never reaches the daemon meets no fault either, but no scan happened:
    // its clean is FAIL-OPEN, not "not applicable".
    let rs = run("none", &[id]).await;
    assert_eq!(get(&rs, id).status, Status::FailOpen);
}

/// CLAMD-CLIENT-4: `clamd.over-limit` assumes INSTREAM (`applies_if_sent`). A client that
/// scans by path gets the daemon's truthful `OK` (StreamMaxLength binds only a stream), so
/// the case is NOT-APPLICABLE and every report says why; it used to fail as a wrong verdict.
/// An INSTREAM client that says clean after `INSTREAM size limit exceeded` is FAIL-OPEN.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_limit_is_not_applicable_to_a_client_that_never_sent_instream_clamd_client_4() {
    need_python!();
    let id = "clamd.over-limit";
    let (r, report) = not_applicable_by_path(id).await;
    let why = "the client never sent INSTREAM, only SCAN: StreamMaxLength does not apply";
    assert_eq!(r.not_applicable.as_deref(), Some(why));
    assert_eq!(report.exit_code(false), 0);
    let term = report.terminal();
    assert!(term.contains(why), "{term}");
    assert!(!term.contains("does not touch"), "no fault here: {term}");
    assert!(report.markdown().contains(why));
    let json = serde_json::to_string(&report.rows).unwrap();
    assert!(json.contains(why), "{json}");

    let rs = run("instream", &[id]).await;
    let r = get(&rs, id);
    assert_eq!(r.status, Status::FailOpen, "{:?}", r.failures);
    assert_eq!(r.failures[0].rule, "CLAMD-CLIENT-4");
}
