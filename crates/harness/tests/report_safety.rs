//! Issue 14 item 1: no test-signature body (EICAR, the marker) appears in plain or escaped
//! form in any output: terminal (stdout, stderr), Markdown, JSON and JUnit reports.

mod common;
use common::*;

/// Runs the harness with every report format on; checks stdout, stderr and each file.
fn run_and_scan(args: &[&str], expect_text: &str) {
    let reports = Reports::new();
    let out = avc().args(args).args(reports.flags()).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "the case must fail: {out:?}");
    assert_no_eicar("stdout", &String::from_utf8_lossy(&out.stdout));
    assert_no_eicar("stderr", &String::from_utf8_lossy(&out.stderr));
    let mut saw_label = false;
    for f in [&reports.md, &reports.json, &reports.junit] {
        let text = String::from_utf8_lossy(&std::fs::read(f).unwrap()).into_owned();
        assert_no_eicar(&f.display().to_string(), &text);
        saw_label |= text.contains(expect_text);
    }
    assert!(
        saw_label,
        "the reports show the body by its label {expect_text:?}"
    );
}

/// A client that sends EICAR in a broken protocol (no z/n prefix): the failure excerpt and
/// the transcript carry the stream, and show `<EICAR, 68 bytes>` instead.
#[test]
fn eicar_sent_by_a_failing_client_is_redacted_in_every_output() {
    need_python!();
    let profile = root().join("conformance/test-clients/profiles/broken-unprefixed.toml");
    run_and_scan(
        &[
            "--client",
            profile.to_str().unwrap(),
            "--filter",
            "clamd.eicar",
        ],
        "<EICAR, 68 bytes>",
    );
}

/// A client that prints the file it was given (EICAR) and reports clean: its stdout tail is
/// quoted in every report, redacted.
#[test]
fn eicar_printed_by_a_failing_client_is_redacted_in_every_output() {
    run_and_scan(
        &[
            "--client-cmd",
            "cat {file}",
            "--protocol",
            "clamd",
            "--filter",
            "clamd.eicar",
            "--skip",
            "clamd.eicar-",
        ],
        "<EICAR, 68 bytes>",
    );
}
