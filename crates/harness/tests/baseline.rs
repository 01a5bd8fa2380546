//! Issue 16 part 3: the known-failures baseline. `--baseline FILE` makes a run exit 0 when
//! only listed cases fail, 1 on a new failure and 1 on a listed case that now passes
//! (stale); `--write-baseline FILE` writes the current failures and loads back; FAIL-OPEN
//! is baselined only with `--baseline-allow-fail-open` and still has its own report section.

mod common;
use common::*;

use std::path::Path;

use assert_cmd::Command;

/// The test client with a defect (`""` for none), on the cases `filter` selects.
fn run(defect: &str, filter: &str, extra: &[&str]) -> std::process::Output {
    let defect = if defect.is_empty() {
        String::new()
    } else {
        format!("--defect {defect} ")
    };
    avc()
        .args([
            "--client-cmd",
            &format!(
                "python3 {{test_clients}}/clamd_client.py --timeout 2 {defect}{{addr}} {{file}}"
            ),
            "--filter",
            filter,
        ])
        .args(extra)
        .env_remove("GITHUB_STEP_SUMMARY")
        .env_remove("GITHUB_ACTIONS")
        .output()
        .unwrap()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// CLAMD-CLIENT-1: an unprefixed client fails both cases (the daemon answers it with an
/// error, so its verdicts are wrong: CLAMD-CLIENT-5/-6); the written baseline lists both
/// with a reason, and a run with it exits 0; a baseline with one of them exits 1 (new).
#[test]
fn only_baselined_failures_exit_0_and_a_new_failure_exits_1() {
    need_python!();
    let dir = tempfile::tempdir().unwrap();
    let b = dir.path().join("known.toml");
    let filter = "clamd.clean,clamd.eicar";
    let skip = ["--skip", "clamd.eicar-,clamd.clean-"];
    let mut args = vec!["--write-baseline", s(&b)];
    args.extend(skip);
    let out = run("unprefixed", filter, &args);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let text = std::fs::read_to_string(&b).unwrap();
    assert_eq!(text.matches("[[failure]]").count(), 2, "{text}");
    assert!(
        text.contains("case = \"clamd.clean\"") && text.contains("case = \"clamd.eicar\""),
        "{text}"
    );
    assert!(
        text.contains("FAIL CLAMD-CLIENT-5 wrong-verdict"),
        "the reason names the rule: {text}"
    );

    let mut args = vec!["--baseline", s(&b)];
    args.extend(skip);
    let out = run("unprefixed", filter, &args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("2 known failure(s), 0 new failure(s), 0 stale"),
        "{err}"
    );

    // Only one of the two listed: the other is a new failure.
    let one: String = text
        .split("\n[[failure]]")
        .take(2)
        .collect::<Vec<_>>()
        .join("\n[[failure]]");
    std::fs::write(&b, &one).unwrap();
    let out = run("unprefixed", filter, &args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("1 new failure(s)") && err.contains("NEW   FAIL"),
        "{err}"
    );
}

/// A listed case that passes now is a stale entry: exit 1, named on the terminal; an entry
/// for a case this run did not select is only noted.
#[test]
fn stale_baseline_entry_exits_1() {
    need_python!();
    let (_dir, b) = temp_file(
        "known.toml",
        "[[failure]]\nclient = \"client-cmd\"\ncase = \"clamd.clean\"\nreason = \"was broken\"\n\n[[failure]]\nclient = \"client-cmd\"\ncase = \"clamd.over-limit\"\nreason = \"not run here\"\n",
    );
    let out = run(
        "",
        "clamd.clean",
        &["--skip", "clamd.clean-", "--baseline", s(&b)],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("STALE clamd.clean"), "{err}");
    assert!(
        err.contains("not checked by this run: client-cmd/clamd.over-limit"),
        "{err}"
    );
    // Without the stale entry the same run is green.
    std::fs::write(&b, "[[failure]]\nclient = \"client-cmd\"\ncase = \"clamd.over-limit\"\nreason = \"not run here\"\n").unwrap();
    let out = run(
        "",
        "clamd.clean",
        &["--skip", "clamd.clean-", "--baseline", s(&b)],
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
}

/// CLAMD-CLIENT-5 FAIL-OPEN: written as a comment without the flag (the run stays red);
/// with `--baseline-allow-fail-open` written and allowed, and the HTML report still lists
/// it in its FAIL-OPEN section. A fail-open entry without the flag is exit 2.
#[test]
fn fail_open_is_baselined_only_with_the_explicit_flag() {
    need_python!();
    let dir = tempfile::tempdir().unwrap();
    let b = dir.path().join("known.toml");
    let html = dir.path().join("r.html");
    let out = run(
        "clean-on-error",
        "clamd.reply-error",
        &["--write-baseline", s(&b)],
    );
    assert_eq!(out.status.code(), Some(1));
    let text = std::fs::read_to_string(&b).unwrap();
    assert!(
        text.contains("# [[failure]]") && !text.contains("\n[[failure]]"),
        "{text}"
    );
    let out = run(
        "clean-on-error",
        "clamd.reply-error",
        &["--baseline", s(&b)],
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "a commented entry allows nothing"
    );

    let out = run(
        "clean-on-error",
        "clamd.reply-error",
        &["--write-baseline", s(&b), "--baseline-allow-fail-open"],
    );
    assert_eq!(out.status.code(), Some(1));
    let text = std::fs::read_to_string(&b).unwrap();
    assert!(
        text.contains("\n[[failure]]") && text.contains("status = \"fail-open\""),
        "{text}"
    );

    let out = run(
        "clean-on-error",
        "clamd.reply-error",
        &["--baseline", s(&b)],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("--baseline-allow-fail-open"), "{err}");

    let out = run(
        "clean-on-error",
        "clamd.reply-error",
        &[
            "--baseline",
            s(&b),
            "--baseline-allow-fail-open",
            "--report-html",
            s(&html),
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("FAIL-OPEN clamd.reply-error"),
        "still shown: {err}"
    );
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("<h2 id=\"fail-open\">FAIL-OPEN</h2>"));
    assert!(page.contains("allowed by the baseline"), "{page}");
}

/// A bad baseline (no reason, unknown key, missing file) and the flag alone are exit 2
/// before any case runs.
#[test]
fn bad_baselines_exit_2_before_running() {
    let (_dir, b) = temp_file("bad.toml", "[[failure]]\nclient = \"x\"\ncase = \"y\"\n");
    for args in [
        vec!["--baseline", s(&b)],
        vec!["--baseline", "/nonexistent/known.toml"],
        vec!["--baseline-allow-fail-open"],
    ] {
        let out = Command::cargo_bin("avc-conformance")
            .unwrap()
            .arg("--root")
            .arg(root())
            .args(["--client-cmd", "false", "--filter", "clamd.clean"])
            .args(&args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(!err.contains("passed"), "no case ran: {err}");
    }
}
