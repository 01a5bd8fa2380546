//! Snapshot review without cargo-insta (issue 14 items 2 and 3): CI vs local handling of a
//! missing snapshot, pending differences shown and accepted by the harness binary itself,
//! and `--snapshots DIR`.

mod common;
use common::{need_python, root, temp_file, PY_GOOD_PROFILE};

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

/// One run of the profile on `clamd.clean` with snapshots in `dir`.
fn run(dir: &Path, ci: bool, extra: &[&str]) -> (i32, String) {
    let (_keep, prof) = profile();
    let mut c = Command::cargo_bin("avc-conformance").unwrap();
    c.arg("--root").arg(root()).arg("--client").arg(&prof);
    c.args(["--filter", "clamd.clean", "--snapshots"]);
    c.arg(dir).args(extra);
    if ci {
        c.env("CI", "true");
    } else {
        c.env_remove("CI");
    }
    let out = c.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn review(dir: &Path, extra: &[&str]) -> (i32, String) {
    let out = Command::cargo_bin("avc-conformance")
        .unwrap()
        .arg("review")
        .arg("--snapshots")
        .arg(dir)
        .args(extra)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// Issue 14 item 2: with `CI` set a missing snapshot fails the case, writes nothing to the
/// snapshot, and names the command that accepts it; `--accept` then writes it.
#[test]
fn missing_snapshot_in_ci_fails_naming_the_accept_command() {
    need_python!();
    let (dir, snap) = snapshot_dir();
    let (code, err) = run(dir.path(), true, &[]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("CI is set"), "{err}");
    assert!(err.contains("py-good.toml --filter clamd.clean"), "{err}");
    assert!(err.contains("--accept"), "{err}");
    assert!(!snap.exists());
    assert!(
        snap.with_extension("snap.new").exists(),
        "pending file for review"
    );
    let (code, err) = run(dir.path(), true, &["--accept"]);
    assert_eq!(code, 0, "{err}");
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
    let (code, err) = run(dir.path(), false, &[]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("1 new snapshot(s) written (commit them): py-good/clamd.clean"),
        "{err}"
    );
    let good = std::fs::read_to_string(&snap).unwrap();
    assert!(good.contains("C: zINSTREAM\\0"), "{good}");
    assert!(!root()
        .join("conformance/snapshots/py-good/clamd.clean.snap")
        .exists());

    // Same client, same case: matches, nothing listed.
    let (code, err) = run(dir.path(), false, &[]);
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("snapshot(s)"), "{err}");

    std::fs::write(&snap, good.replace("zINSTREAM", "zSCAN")).unwrap();
    let (code, err) = run(dir.path(), false, &[]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("1 snapshot(s) pending"), "{err}");
    let (code, out) = review(dir.path(), &[]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("pending: py-good/clamd.clean (changed)"),
        "{out}"
    );
    assert!(out.contains("-  C: zSCAN\\0\n+  C: zINSTREAM\\0"), "{out}");
    let (code, out) = review(dir.path(), &["--accept"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(std::fs::read_to_string(&snap).unwrap(), good);
    let (code, out) = review(dir.path(), &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("no pending snapshots"), "{out}");
    let (code, err) = run(dir.path(), false, &[]);
    assert_eq!(code, 0, "{err}");
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
