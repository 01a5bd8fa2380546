//! Issue 14 item 1: no test-signature body (EICAR, the marker) appears in plain or escaped
//! form in any output: terminal (stdout, stderr), Markdown, JSON and JUnit reports.

mod common;
use common::*;

/// Every form the EICAR bytes could take in an output: raw, the harness's `\\` escaping,
/// and JSON escaping of both; and every 16-byte piece of each (a cut must not leave one).
fn forbidden() -> Vec<String> {
    let e = scan_engine::eicar();
    let raw = String::from_utf8_lossy(&e).into_owned();
    let esc = harness::input::escape(&e);
    let mut forms = Vec::new();
    for base in [raw, esc] {
        let json = serde_json::to_string(&base).unwrap();
        forms.push(json[1..json.len() - 1].to_string());
        forms.push(base);
    }
    let mut pieces = Vec::new();
    for f in &forms {
        let chars: Vec<char> = f.chars().collect();
        for w in chars.windows(16) {
            pieces.push(w.iter().collect::<String>());
        }
    }
    pieces.sort();
    pieces.dedup();
    pieces
}

fn assert_clean(what: &str, bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    for p in forbidden() {
        assert!(
            !text.contains(&p),
            "{what} shows a piece of the EICAR body: {p:?}\n{text}"
        );
    }
}

/// Runs the harness with every report format on; checks stdout, stderr and each file.
fn run_and_scan(args: &[&str], expect_text: &str) {
    let dir = tempfile::tempdir().unwrap();
    let (md, json, junit) = (
        dir.path().join("r.md"),
        dir.path().join("r.json"),
        dir.path().join("r.xml"),
    );
    let out = avc()
        .args(args)
        .arg("--report-md")
        .arg(&md)
        .arg("--report-json")
        .arg(&json)
        .arg("--report-junit")
        .arg(&junit)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "the case must fail: {out:?}");
    assert_clean("stdout", &out.stdout);
    assert_clean("stderr", &out.stderr);
    let mut saw_label = false;
    for f in [&md, &json, &junit] {
        let b = std::fs::read(f).unwrap();
        assert_clean(&f.display().to_string(), &b);
        saw_label |= String::from_utf8_lossy(&b).contains(expect_text);
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
    if !python() {
        println!("SKIP: python3 not found; the broken test client is a python script");
        return;
    }
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
