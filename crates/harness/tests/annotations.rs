//! Issue 16 part 4: under GitHub Actions (`GITHUB_STEP_SUMMARY` set) a Markdown summary
//! table is appended to that file and each failure is one `::error title=...::...` line
//! naming the case and the rule, escaped per GitHub's workflow-command rules (client output
//! cannot start a command of its own); outside GitHub neither appears.

mod common;
use common::*;

use std::path::Path;

/// A clean-on-error client (FAIL-OPEN on clamd.reply-error, CLAMD-CLIENT-5) that prints a
/// workflow command and table-breaking text of its own.
fn run(dir: &Path, summary: Option<&Path>) -> std::process::Output {
    let wrap = dir.join("wrap.sh");
    std::fs::write(
        &wrap,
        "#!/bin/sh\nprintf '::error title=forged::from the client\\n| x | <b>y</b> |\\n'\nexec python3 \"$@\"\n",
    )
    .unwrap();
    let mut cmd = avc();
    cmd.arg("--client-cmd")
        .arg(clean_on_error_via(&wrap))
        .args([
            "--filter",
            "clamd.reply-error,clamd.eicar",
            "--skip",
            "clamd.eicar-",
        ])
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_STEP_SUMMARY");
    if let Some(s) = summary {
        cmd.env("GITHUB_STEP_SUMMARY", s);
    }
    cmd.output().unwrap()
}

#[test]
fn github_step_summary_gets_a_table_and_each_failure_an_error_line() {
    need_python!();
    let (dir, summary) = temp_file("summary.md", "earlier step\n");
    let out = run(dir.path(), Some(&summary));
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let commands: Vec<&str> = stdout.lines().filter(|l| l.starts_with("::")).collect();
    assert_eq!(commands.len(), 1, "one line per failure: {stdout}");
    let line = commands[0];
    assert!(
        line.starts_with(
            "::error title=FAIL-OPEN clamd.reply-error CLAMD-CLIENT-5 [client%3Aclient-cmd]::"
        ),
        "{line}"
    );
    assert!(line.contains("FAIL-OPEN clamd.reply-error [client:client-cmd] CLAMD-CLIENT-5: expected verdict error"), "{line}");
    assert!(
        !stdout.contains("forged"),
        "client output never reaches stdout: {stdout}"
    );

    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(
        md.starts_with("earlier step\n## Conformance"),
        "appended: {md}"
    );
    assert!(md.contains("**1 passed, 0 failed, 1 fail-open"), "{md}");
    assert!(
        md.contains("| status | suite | case | rule | detail |"),
        "{md}"
    );
    let row = md
        .lines()
        .find(|l| l.contains("clamd.reply-error"))
        .expect("a table row for the failure");
    assert!(
        row.starts_with("| FAIL-OPEN | client:client-cmd | clamd.reply-error | CLAMD-CLIENT-5 |"),
        "{row}"
    );
    assert_eq!(
        row.matches(" | ").count(),
        4,
        "the detail cannot add a column: {row}"
    );
    assert!(
        !md.contains("clamd.eicar |"),
        "passing cases are counted, not listed: {md}"
    );
}

#[test]
fn no_annotations_outside_github_actions() {
    need_python!();
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), None);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!stdout.lines().any(|l| l.starts_with("::")), "{stdout}");
}
