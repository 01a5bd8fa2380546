//! Issue 16 part 3: the known-failures baseline. `--baseline FILE` makes a run exit 0 when
//! only listed cases fail, 1 on a new failure and 1 on a listed case that now passes
//! (stale); `--write-baseline FILE` writes the current failures and loads back; FAIL-OPEN
//! is baselined only with `--baseline-allow-fail-open` and still has its own report section.

mod common;
use common::*;

use std::path::Path;

/// The test client with a defect (`""` for none), on the cases `filter` selects: (exit code,
/// stderr).
fn run(defect: &str, filter: &str, extra: &[&str]) -> (i32, String) {
    let defect = if defect.is_empty() {
        String::new()
    } else {
        format!("--defect {defect} ")
    };
    let client =
        format!("python3 {{test_clients}}/clamd_client.py --timeout 2 {defect}{{addr}} {{file}}");
    code_and_stderr(
        avc()
            .args(["--client-cmd", &client, "--filter", filter])
            .args(extra)
            .env_remove("GITHUB_STEP_SUMMARY")
            .env_remove("GITHUB_ACTIONS"),
    )
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
    assert_exit(run("unprefixed", filter, &args), 1, &[]);
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
    let known = ["2 known failure(s), 0 new failure(s), 0 stale"];
    assert_exit(run("unprefixed", filter, &args), 0, &known);

    // Only one of the two listed: the other is a new failure.
    let one: String = text
        .split("\n[[failure]]")
        .take(2)
        .collect::<Vec<_>>()
        .join("\n[[failure]]");
    std::fs::write(&b, &one).unwrap();
    let new = ["1 new failure(s)", "NEW   FAIL"];
    assert_exit(run("unprefixed", filter, &args), 1, &new);
}

/// A listed case that passes now is a stale entry: exit 1, named on the terminal; an entry
/// for a case this run did not select is only noted.
#[test]
fn stale_baseline_entry_exits_1() {
    need_python!();
    let over_limit = "[[failure]]\nclient = \"client-cmd\"\ncase = \"clamd.over-limit\"\nreason = \"not run here\"\n";
    let (_dir, b) = temp_file(
        "known.toml",
        &format!("[[failure]]\nclient = \"client-cmd\"\ncase = \"clamd.clean\"\nreason = \"was broken\"\n\n{over_limit}"),
    );
    let args = ["--skip", "clamd.clean-", "--baseline", s(&b)];
    let stale = [
        "STALE clamd.clean",
        "not checked by this run: client-cmd/clamd.over-limit",
    ];
    assert_exit(run("", "clamd.clean", &args), 1, &stale);
    // Without the stale entry the same run is green.
    std::fs::write(&b, over_limit).unwrap();
    assert_exit(run("", "clamd.clean", &args), 0, &[]);
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
    let fail_open = |extra: &[&str]| run("clean-on-error", "clamd.reply-error", extra);
    assert_exit(fail_open(&["--write-baseline", s(&b)]), 1, &[]);
    let text = std::fs::read_to_string(&b).unwrap();
    assert!(
        text.contains("# [[failure]]") && !text.contains("\n[[failure]]"),
        "{text}"
    );
    // a commented entry allows nothing
    assert_exit(fail_open(&["--baseline", s(&b)]), 1, &[]);

    let allow = "--baseline-allow-fail-open";
    assert_exit(fail_open(&["--write-baseline", s(&b), allow]), 1, &[]);
    let text = std::fs::read_to_string(&b).unwrap();
    assert!(
        text.contains("\n[[failure]]") && text.contains("status = \"fail-open\""),
        "{text}"
    );

    assert_exit(fail_open(&["--baseline", s(&b)]), 2, &[allow]);

    let with_html = ["--baseline", s(&b), allow, "--report-html", s(&html)];
    // still shown
    assert_exit(fail_open(&with_html), 0, &["FAIL-OPEN clamd.reply-error"]);
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
        let run = code_and_stderr(
            avc_with_snapshots()
                .args(["--client-cmd", "false", "--filter", "clamd.clean"])
                .args(&args),
        );
        let err = assert_exit(run, 2, &[]);
        assert!(!err.contains("passed"), "no case ran: {args:?}: {err}");
    }
}
