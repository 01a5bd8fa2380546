//! Snapshot review without cargo-insta (issue 14 items 2 and 3): CI vs local handling of a
//! missing snapshot, pending differences shown and accepted by the harness binary itself,
//! and `--snapshots DIR`.

mod common;
use common::*;

use std::path::{Path, PathBuf};

use assert_cmd::Command;

/// A profile of the well-behaved Python client, as a user outside this repository would
/// write one (snapshots on, the default), in its own directory.
fn profile() -> (tempfile::TempDir, PathBuf) {
    temp_file("py-good.toml", PY_GOOD_PROFILE)
}

/// A scratch snapshot directory and where `clamd.clean`'s snapshot goes in it.
fn snapshot_dir() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let snap = dir.path().join("py-good/clamd.clean.snap");
    (dir, snap)
}

/// The harness on `profile` and the cases `filter` selects, with snapshots in `snapshots`,
/// as in CI (`CI` set) or locally.
fn with_snapshots(profile: &Path, filter: &str, snapshots: &Path, ci: bool) -> Command {
    let mut c = avc_with_snapshots();
    c.arg("--client").arg(profile);
    c.args(["--filter", filter, "--snapshots"]).arg(snapshots);
    if ci {
        c.env("CI", "true");
    } else {
        c.env_remove("CI");
    }
    c
}

/// One run of the profile on `clamd.clean` with snapshots in `dir`: (exit code, stderr).
fn run(dir: &Path, ci: bool, extra: &[&str]) -> (i32, String) {
    let (_keep, prof) = profile();
    code_and_stderr(with_snapshots(&prof, "clamd.clean", dir, ci).args(extra))
}

fn review(dir: &Path, extra: &[&str]) -> (i32, String) {
    code_and_stdout(
        Command::cargo_bin("avc-conformance")
            .unwrap()
            .arg("review")
            .arg("--snapshots")
            .arg(dir)
            .args(extra),
    )
}

/// Issue 14 item 2: with `CI` set a missing snapshot fails the case, writes nothing to the
/// snapshot, and names the command that accepts it; `--accept` then writes it.
#[test]
fn missing_snapshot_in_ci_fails_naming_the_accept_command() {
    need_python!();
    let (dir, snap) = snapshot_dir();
    let says = ["CI is set", "py-good.toml --filter clamd.clean", "--accept"];
    assert_exit(run(dir.path(), true, &[]), 1, &says);
    assert!(!snap.exists());
    assert!(
        snap.with_extension("snap.new").exists(),
        "pending file for review"
    );
    assert_exit(run(dir.path(), true, &["--accept"]), 0, &[]);
    assert!(snap.exists());
    assert!(!snap.with_extension("snap.new").exists());
}

/// Issue 14 items 2 and 3: locally a new snapshot is written into the `--snapshots` directory
/// and listed with its count; a changed one fails, `review` shows the diff (exit 1) and
/// `review --accept` accepts it, after which the run passes again. No cargo-insta involved.
#[test]
fn local_snapshots_are_written_listed_reviewed_and_accepted_in_the_chosen_dir() {
    need_python!();
    let (dir, snap) = snapshot_dir();
    let written = ["1 new snapshot(s) written (commit them): py-good/clamd.clean"];
    assert_exit(run(dir.path(), false, &[]), 0, &written);
    let good = std::fs::read_to_string(&snap).unwrap();
    assert!(good.contains("C: zINSTREAM\\0"), "{good}");
    assert!(!root()
        .join("conformance/snapshots/py-good/clamd.clean.snap")
        .exists());

    // Same client, same case: matches, nothing listed.
    let err = assert_exit(run(dir.path(), false, &[]), 0, &[]);
    assert!(!err.contains("snapshot(s)"), "{err}");

    std::fs::write(&snap, good.replace("zINSTREAM", "zSCAN")).unwrap();
    assert_exit(run(dir.path(), false, &[]), 1, &["1 snapshot(s) pending"]);
    let diff = [
        "pending: py-good/clamd.clean (changed)",
        "-  C: zSCAN\\0\n+  C: zINSTREAM\\0",
    ];
    assert_exit(review(dir.path(), &[]), 1, &diff);
    assert_exit(review(dir.path(), &["--accept"]), 0, &[]);
    assert_eq!(std::fs::read_to_string(&snap).unwrap(), good);
    assert_exit(review(dir.path(), &[]), 0, &["no pending snapshots"]);
    assert_exit(run(dir.path(), false, &[]), 0, &[]);
}

/// Issue 14 item 2: `review` on a directory that does not exist is an error (exit 3), and a
/// bad flag a usage error (exit 2).
#[test]
fn review_reports_a_missing_directory_and_bad_flags() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _) = review(&dir.path().join("nope"), &[]);
    assert_eq!(code, 3);
    let (code, _) = review(dir.path(), &["--accept", "--reject"]);
    assert_eq!(code, 2);
}

/// A client that never reaches the daemon, as a user's profile with a typo or a missing
/// module gives: its command (`false`) exits 1, read as error, before any connection.
const NEVER_CONNECTS: &str =
    "protocol = \"clamd\"\ncommand = \"false {file}\"\n[verdicts]\nclean = { exit = 0 }\nerror = { exit = 1 }\n";

/// One run of [`NEVER_CONNECTS`] on `cases` with snapshots in `dir` and a Markdown
/// report; (exit code, stderr, report).
fn run_never_connects(dir: &Path, cases: &str, ci: bool) -> (i32, String, String) {
    let (_keep, prof) = temp_file("typo.toml", NEVER_CONNECTS);
    let md = dir.join("report.md");
    let (code, err) = code_and_stderr(
        with_snapshots(&prof, cases, &dir.join("snaps"), ci)
            .arg("--report-md")
            .arg(&md),
    );
    (code, err, std::fs::read_to_string(&md).unwrap_or_default())
}

/// Files under `dir`, recursively (relative names).
fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            if e.path().is_dir() {
                todo.push(e.path());
            } else if let Ok(rel) = e.path().strip_prefix(dir) {
                out.push(rel.display().to_string());
            }
        }
    }
    out
}

/// CLAMD-CLIENT-3: a client that never reached the daemon gets no snapshot (locally and in
/// CI), neither in a case where it says the expected error (`clamd.close-before-reply`) nor in one
/// where it does not (`clamd.clean`); the summary and the report say why instead of "commit them". In the
/// case where nothing listens (`clamd.refused`) no connection is the point of the case,
/// and it is not listed.
#[test]
fn clamd_client_3_no_snapshot_of_a_client_that_never_connected() {
    for ci in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let (code, err, md) = run_never_connects(
            dir.path(),
            "clamd.clean,clamd.close-before-reply,clamd.refused",
            ci,
        );
        assert_eq!(code, 1, "clamd.clean fails: {err}");
        let snaps = dir.path().join("snaps");
        assert_eq!(files_under(&snaps), Vec::<String>::new(), "ci={ci}");
        assert!(!err.contains("commit them"), "{err}");
        let line = err
            .lines()
            .find(|l| l.contains("without a new snapshot"))
            .unwrap_or_else(|| panic!("no summary line: {err}"));
        assert!(line.contains("never reached the daemon"), "{line}");
        assert!(line.contains("typo/clamd.close-before-reply"), "{line}");
        assert!(line.contains("typo/clamd.clean"), "{line}");
        assert!(!line.contains("typo/clamd.refused"), "{line}");
        assert!(md.contains("without a new snapshot"), "{md}");
    }
}

/// CLAMD-CLIENT-3: a stored snapshot of an exchange is not passed silently by a run whose
/// client never connected: the case fails saying so, the stored file stays as it was, and
/// no pending file is offered for `review --accept`; once the file is deleted (the
/// documented way to say the client no longer connects there) the case fails only because
/// a client that never reached the daemon tested nothing.
#[test]
fn clamd_client_3_a_stored_exchange_fails_when_the_client_never_connected() {
    let dir = tempfile::tempdir().unwrap();
    let snap = dir.path().join("snaps/typo/clamd.close-before-reply.snap");
    std::fs::create_dir_all(snap.parent().unwrap()).unwrap();
    let stored = harness::snapshot::file_text(
        "typo.toml / clamd.close-before-reply",
        "typo",
        "clamd.close-before-reply",
        "case: clamd.close-before-reply\nexpect: error\ngot: error\nconnection 1:\n  C: zINSTREAM\\0",
    );
    std::fs::write(&snap, &stored).unwrap();
    let (code, err, md) = run_never_connects(dir.path(), "clamd.close-before-reply", false);
    let not_compared = [
        "nothing to compare with the stored snapshot",
        "1 stored snapshot(s) not compared",
    ];
    assert_exit((code, err), 1, &not_compared);
    assert!(md.contains("FAIL `clamd.close-before-reply`"), "{md}");
    assert_eq!(std::fs::read_to_string(&snap).unwrap(), stored);
    assert!(!snap.with_extension("snap.new").exists());
    std::fs::remove_file(&snap).unwrap();
    let (code, err, _) = run_never_connects(dir.path(), "clamd.close-before-reply", false);
    let not_connected = ["(not-connected)", "no connection reached the daemon"];
    let err = assert_exit((code, err), 1, &not_connected);
    assert!(!err.contains("nothing to compare"), "{err}");
}

/// CLAMD-CLIENT-4: a client that connected but whose output matched no verdict rule (here a
/// profile that forgot `error`, on the over-limit case) gets no new snapshot, locally or in
/// CI: the case fails on its verdict, and the summary says to fix that first instead of
/// "commit them".
#[test]
fn clamd_client_4_no_snapshot_without_a_verdict() {
    need_python!();
    let no_error_rule = "protocol = \"clamd\"\n\
         command = \"python3 {test_clients}/clamd_client.py --timeout 2 {addr} {file}\"\n\
         timeout_secs = 8\n[verdicts]\nclean = { exit = 0 }\ninfected = { exit = 1 }\n";
    let (_keep, prof) = temp_file("half.toml", no_error_rule);
    for ci in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let run = code_and_stderr(&mut with_snapshots(
            &prof,
            "clamd.over-limit",
            dir.path(),
            ci,
        ));
        let says = [
            "CLAMD-CLIENT-4 (unclassified)",
            "1 case(s) without a new snapshot: the client's output matched no verdict rule",
        ];
        let err = assert_exit(run, 1, &says);
        assert_eq!(files_under(dir.path()), Vec::<String>::new(), "ci={ci}");
        assert!(!err.contains("commit them"), "{err}");
    }
}

/// CLAMD-CLIENT-10: a client that connects and then hangs gets no new snapshot either, and
/// the note says what to fix: its own timeouts, not the profile's `[verdicts]`.
#[test]
fn clamd_client_10_a_hung_case_asks_for_a_client_timeout() {
    need_python!();
    let hangs = "protocol = \"clamd\"\n\
         command = [\"python3\", \"-c\", \"import socket, time; s = socket.create_connection(('{host}', {port})); time.sleep(60)\"]\n\
         timeout_secs = 1\n[verdicts]\nclean = { exit = 0 }\nerror = { exit = 2 }\n";
    let (_keep, prof) = temp_file("hangs.toml", hangs);
    let dir = tempfile::tempdir().unwrap();
    let run = code_and_stderr(&mut with_snapshots(&prof, "clamd.clean", dir.path(), false));
    let err = assert_exit(run, 1, &["1 case(s) without a new snapshot: the client hung and was killed at the profile's timeout: it needs its own connect and read timeouts (CLAMD-CLIENT-10"]);
    assert_eq!(files_under(dir.path()), Vec::<String>::new());
    assert!(!err.contains("[verdicts]` to fix"), "{err}");
}
