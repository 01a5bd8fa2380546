//! The command line: exit codes, listing, sharding, report files, one-off clients, and the
//! server suites against the embedded fakes.

mod common;
use common::*;

use std::path::Path;

use assert_cmd::Command;

fn harness() -> Command {
    avc()
}

#[test]
fn bad_flag_exits_2() {
    harness().arg("--no-such-flag").assert().code(2);
    harness()
        .args(["--partition", "3/2", "--list"])
        .assert()
        .code(2);
    harness()
        .args(["--client", "no-such-profile", "--list"])
        .assert()
        .code(2);
}

/// Hardening item 8: configuration errors exit 2 (README exit codes), never 3 or a panic:
/// a non-UTF-8 argument, a profile that is a directory or not UTF-8, a missing `--root`,
/// `--server bogus`.
#[test]
fn configuration_errors_exit_2() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let out = harness()
        .arg(std::ffi::OsStr::from_bytes(b"--filter=\xff\xfe"))
        .arg("--list")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "non-UTF-8 argument");
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));

    let as_dir = dir.path().join("p.toml");
    std::fs::create_dir(&as_dir).unwrap();
    let not_utf8 = dir.path().join("bad.toml");
    std::fs::write(&not_utf8, b"\xff\xfe").unwrap();
    for profile in [&as_dir, &not_utf8] {
        let out = harness()
            .arg("--client")
            .arg(profile)
            .arg("--list")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "profile {}", profile.display());
        assert!(String::from_utf8_lossy(&out.stderr).contains(&*profile.to_string_lossy()));
    }

    let out = Command::cargo_bin("avc-conformance")
        .unwrap()
        .arg("--root")
        .arg(dir.path().join("missing"))
        .arg("--list")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "missing --root");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--root"));

    for bogus in ["bogus", "127.0.0.1", "127.0.0.1:99999", "a b:1"] {
        let out = harness().args(["--server", bogus]).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "--server {bogus}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("--server"));
    }
}

/// `--root .` works like the absolute path: the root is redacted from snapshots as `[REPO]`,
/// and redacting `.` used to rewrite every dot (`case: clamd[REPO]clean`).
#[test]
fn a_relative_root_is_redacted_as_its_absolute_path() {
    need_python!();
    let (dir, profile) = temp_file("py-good.toml", PY_GOOD_PROFILE);
    let snapshots = dir.path().join("snapshots");
    let out = Command::cargo_bin("avc-conformance")
        .unwrap()
        .current_dir(root())
        .args(["--root", ".", "--client"])
        .arg(&profile)
        .arg("--snapshots")
        .arg(&snapshots)
        .args(["--filter", "clamd.clean", "--skip", "clamd.clean-"])
        .env_remove("CI")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let text = std::fs::read_to_string(snapshots.join("py-good/clamd.clean.snap")).unwrap();
    assert!(text.contains("\ncase: clamd.clean\n"), "{text}");
    assert!(!text.contains("[REPO]"), "{text}");
}

/// Hardening item 8: a profile's `[[files]] path` may not leave the case's scratch
/// directory (`..`, absolute); the error names the profile and the path, exit 2.
#[test]
fn profile_files_escaping_the_case_directory_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    for bad in ["../../x", "/tmp/avc-escape"] {
        let p = dir.path().join("escape.toml");
        std::fs::write(
            &p,
            format!(
                "protocol = \"clamd\"\ncommand = \"true {{file}}\"\n[verdicts]\nclean = {{ exit = 0 }}\n[[files]]\npath = {bad:?}\ncontent = \"x\"\n"
            ),
        )
        .unwrap();
        let run = code_and_stderr(
            harness()
                .arg("--client")
                .arg(&p)
                .args(["--filter", "clamd.clean"]),
        );
        assert_exit(run, 2, &[&p.to_string_lossy(), bad]);
        assert!(!Path::new("/tmp/avc-escape").exists());
    }
}

#[test]
fn list_and_partition_split_the_cases() {
    let all = harness()
        .args(["--client", "all", "--list"])
        .output()
        .unwrap();
    assert!(all.status.success());
    let all = String::from_utf8(all.stdout).unwrap();
    let n = all.lines().count();
    assert!(all.contains("clamd.over-limit") && all.contains("CLAMD-CLIENT-4"));
    let mut total = 0;
    for k in 1..=3 {
        let part = harness()
            .args([
                "--client",
                "all",
                "--list",
                "--partition",
                &format!("{k}/3"),
            ])
            .output()
            .unwrap();
        total += String::from_utf8(part.stdout).unwrap().lines().count();
    }
    assert_eq!(total, n, "the shards cover every case exactly once");
    let filtered = harness()
        .args(["--client", "all", "--list", "--filter", "CLAMD-CLIENT-4"])
        .output()
        .unwrap();
    let filtered = String::from_utf8(filtered.stdout).unwrap();
    assert!(filtered.lines().count() < n && filtered.lines().all(|l| l.contains("CLAMD-CLIENT-4")));
}

#[test]
fn one_off_fail_open_client_exits_1_with_reports() {
    need_python!();
    let reports = Reports::new();
    let run = code_and_stderr(
        harness()
        .args([
            "--client-cmd",
            "python3 {test_clients}/clamd_client.py --timeout 2 --defect clean-on-error {addr} {file}",
            "--protocol",
            "clamd",
            "--filter",
            "clamd.reply-error,clamd.eicar",
        ])
        .args(reports.flags()),
    );
    let summary = [
        "FAIL-OPEN clamd.reply-error",
        "1 passed, 0 failed, 1 fail-open",
    ];
    assert_exit(run, 1, &summary);
    let j: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&reports.json).unwrap()).unwrap();
    assert_eq!(j["counts"]["fail_open"], 1);
    let xml = std::fs::read_to_string(&reports.junit).unwrap();
    assert!(
        xml.contains("<testsuite") && xml.contains("clamd.reply-error") && xml.contains("<failure")
    );
    assert!(std::fs::read_to_string(&reports.md)
        .unwrap()
        .contains("CLAMD-CLIENT-5"));
}

#[test]
fn one_off_good_client_exits_0() {
    need_python!();
    harness()
        .args([
            "--client-cmd",
            "python3 {test_clients}/clamd_client.py --timeout 2 {addr} {file}",
            "--filter",
            "clamd.eicar,clamd.clean",
        ])
        .assert()
        .code(0);
}

#[test]
fn unavailable_client_is_not_passed_and_can_be_required() {
    // flcl runs only with --program FLCL=...; without it every case is "not available".
    let run = code_and_stderr(
        harness()
            .args(["--client", "flcl", "--filter", "clamd.eicar"])
            .env_remove("FLCL"),
    );
    assert_exit(run, 0, &["0 passed", "1 not available"]);
    harness()
        .args([
            "--client",
            "flcl",
            "--filter",
            "clamd.eicar",
            "--require-available",
        ])
        .env_remove("FLCL")
        .assert()
        .code(3);
}

#[test]
fn server_suite_passes_against_a_scripted_target_only_when_it_replies_right() {
    // A server that answers nothing fails the PING case with the rule cited.
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        for s in l.incoming().take(1).flatten() {
            drop(s);
        }
    });
    let run = code_and_stderr(harness().args([
        "--server",
        &addr.to_string(),
        "--filter",
        "server.clamd.ping-z",
    ]));
    assert_exit(run, 1, &["CLAMD-CMD-1"]);
}

/// Issue 14 item 2: a run that selects no case exits 2 with one line saying why (a typo in
/// `--filter` used to give a green run), in a listing and in a run.
#[test]
fn filter_that_selects_no_case_exits_2_with_one_line_saying_why() {
    for args in [
        &["--filter", "CLAMD-CLIENT-4x", "--list"][..],
        &["--filter", "CLAMD-CLIENT-4x"][..],
        &["--client", "fave", "--skip", "clamd."][..],
    ] {
        let out = harness().args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{args:?}: one line: {err}");
        assert!(err.contains("no case selected"), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}

/// Issue 14 item 2: flags that would be silently ignored together exit 2 (`--protocol`
/// with `--client`, `--client-cmd` with `--client`, `--seed` without `--proptest`).
#[test]
fn conflicting_flags_exit_2_instead_of_being_ignored() {
    for args in [
        &["--protocol", "svsp", "--client", "fave", "--list"][..],
        &["--protocol", "svsp", "--list"][..],
        &["--client-cmd", "true", "--client", "fave", "--list"][..],
        &["--seed", "4", "--list"][..],
        &["--timeout", "3", "--client", "fave", "--list"][..],
    ] {
        let out = harness().args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("usage:"), "{args:?}: {err}");
    }
    // Their proper uses still work.
    harness()
        .args(["--protocol", "svsp", "--client-cmd", "true", "--list"])
        .assert()
        .code(0);
}

/// Issue 14 item 2: a closed stdout (`--list | head`) ends the run quietly: no panic, no
/// backtrace, exit 0.
#[test]
fn closed_stdout_ends_the_listing_quietly() {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = avc_process()
        .arg("--list")
        .env("RUST_BACKTRACE", "1")
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.is_empty(), "quiet: {err}");
}

/// Runs a one-off client (`client`: its flags) on case `id` alone, not its variants, with
/// every report written; the run must fail (exit 1).
fn failing_case(client: &[&str], id: &str) -> (std::process::Output, Reports) {
    let reports = Reports::new();
    let out = harness()
        .args(client)
        .args(["--filter", id, "--skip", &format!("{id}-")])
        .args(reports.flags())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{id}: {out:?}");
    (out, reports)
}

/// Issue 14 item 5: every failing row in every report carries its reason (the Markdown
/// table used to say "expect infected, got clean" and nothing more), and a hung client is
/// `hung` in the terminal, Markdown and JUnit alike (Markdown used to say "unclassified").
#[test]
fn every_failing_row_carries_its_reason_and_a_hang_reads_hung_everywhere() {
    let (out, reports) = failing_case(
        &["--client-cmd", "sleep 5", "--timeout", "0.5"],
        "clamd.clean",
    );
    let row = reports.md_row("| FAIL |");
    assert!(row.contains("got hung"), "{row}");
    assert!(row.contains("hung: client still running"), "{row}");
    let md = std::fs::read_to_string(&reports.md).unwrap();
    assert!(!md.contains("unclassified"), "{md}");
    let junit = std::fs::read_to_string(&reports.junit).unwrap();
    assert!(junit.contains("hung"), "{junit}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("hung"));

    let (_, reports) = failing_case(&["--client-cmd", "true"], "clamd.eicar");
    let row = reports.md_row("| FAIL-OPEN");
    assert!(
        row.contains("fail-open: client reported CLEAN") && row.contains("no reply"),
        "{row}"
    );
}

/// A one-off command that never reaches the daemon (here: it ignores every placeholder and
/// fails) gets a wrong verdict that says no connection arrived and where the address comes
/// from; a fail-open row keeps its own reason.
#[test]
fn a_wrong_verdict_without_any_connection_says_where_the_address_comes_from() {
    let (_, reports) = failing_case(&["--client-cmd", "sh -c 'exit 2'"], "clamd.clean");
    let row = reports.md_row("| FAIL |");
    assert!(
        row.contains("client reported ERROR")
            && row.contains("no connection reached the daemon")
            && row.contains("{port}"),
        "{row}"
    );

    let (_, reports) = failing_case(&["--client-cmd", "true"], "clamd.eicar");
    let md = std::fs::read_to_string(&reports.md).unwrap();
    assert!(
        !md.contains("no connection reached"),
        "fail-open says why: {md}"
    );
}

/// `requires_perl`: a Perl module that does not load makes the client not available, naming
/// the Debian package and the CPAN fallback; a module that loads lets it run.
#[test]
fn requires_perl_reports_a_missing_module_as_not_available() {
    if harness::runner::find_program("perl", &[]).is_none() {
        println!("SKIP: perl not found; the module checks need it");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let run = |module: &str| {
        let profile = dir.path().join("perl.toml");
        let requires = format!("requires_perl = [\"{module}\"]");
        write_profile(&profile, "perl -e exit(2)", &requires);
        code_and_stderr(&mut require_available(&profile, "clamd.clean"))
    };
    let missing = [
        "perl module `Avc::No::Such::Module` is not installed",
        "apt-get install -y libavc-no-such-module-perl",
    ];
    assert_exit(run("Avc::No::Such::Module"), 3, &missing);
    // a core module loads: the client runs (an error verdict for a clean file fails)
    assert_exit(run("File::Spec"), 1, &["0 not available"]);
}

/// A profile for a Node client (`node {profile_dir}/../scan.js`), written at
/// `<dir>/av-conformance/node.toml`, needing the npm package `package`.
fn node_profile(dir: &Path, package: &str) -> std::path::PathBuf {
    let profiles = dir.join("av-conformance");
    std::fs::create_dir_all(&profiles).unwrap();
    let path = profiles.join("node.toml");
    let requires = format!("requires_node = [\"{package}\"]");
    write_profile(&path, "node -e process.exit(2)", &requires);
    path
}

/// Writes at `path` a clamd profile that runs `command` (exit 0 reads clean, 2 error) and
/// has the line `requires` (`requires_perl = ["Some::Module"]`).
fn write_profile(path: &Path, command: &str, requires: &str) {
    let text = format!(
        "protocol = \"clamd\"\ncommand = {command:?}\n{requires}\n[verdicts]\n\
         clean = {{ exit = 0 }}\nerror = {{ exit = 2 }}\n"
    );
    std::fs::write(path, text).unwrap();
}

/// The harness on `profile` and case `case` alone, with `--require-available`.
fn require_available(profile: &Path, case: &str) -> Command {
    let mut c = harness();
    c.arg("--profile")
        .arg(profile)
        .args(["--filter", case, "--require-available"]);
    c
}

/// `requires_node`: an npm package missing beside the profile (or in a parent) makes the
/// client not available, naming the package and the fix; installed in a parent
/// `node_modules` (where `npm install` puts it for a script beside the profile), the client
/// runs; without `node` on PATH, that is what the note says.
#[test]
fn requires_node_reports_a_missing_npm_package_or_node_as_not_available() {
    let dir = tempfile::tempdir().unwrap();
    let profile = node_profile(dir.path(), "avc-test-npm-pkg");
    let run = |path: Option<&Path>| {
        let mut c = require_available(&profile, "clamd.clean");
        if let Some(p) = path {
            c.env("PATH", p);
        }
        code_and_stderr(&mut c)
    };

    let empty = tempfile::tempdir().unwrap();
    let no_node = ["program `node` (needed by requires_node) not found"];
    assert_exit(run(Some(empty.path())), 3, &no_node);

    if harness::runner::find_program("node", &[]).is_none() {
        println!("SKIP: node not found; the package checks need it");
        return;
    }
    let missing = [
        "node package `avc-test-npm-pkg` is not installed",
        "npm install avc-test-npm-pkg",
    ];
    assert_exit(run(None), 3, &missing);

    let pkg = dir.path().join("node_modules/avc-test-npm-pkg");
    std::fs::create_dir_all(&pkg).unwrap();
    std::fs::write(pkg.join("index.js"), "module.exports = {};\n").unwrap();
    std::fs::write(
        pkg.join("package.json"),
        "{\"name\": \"avc-test-npm-pkg\", \"version\": \"1.0.0\"}\n",
    )
    .unwrap();
    // it ran: an error verdict for a clean file is a plain failure
    assert_exit(run(None), 1, &["0 not available"]);
}

/// A client that crashed with a stack trace: the failure says `crashed (exit 7, ...)` (not a
/// debug-printed option) with the error line, and the excerpt shows the first line naming
/// the error when the last lines are stack frames (Node prints `Error: Cannot find module
/// ...` at the top of its trace).
#[test]
fn a_crash_shows_its_exit_code_and_the_error_line_above_a_stack_trace() {
    let script = "echo 'Error: Cannot find module avc-x' >&2; \
                  for i in 1 2 3 4 5 6 7 8; do echo \"    at frame $i\" >&2; done; exit 7";
    let cmd = format!("sh -c {}", shell_words::quote(script));
    let run = code_and_stderr(harness().args(["--client-cmd", &cmd, "--filter", "clamd.clean"]));
    let crash = [
        "crashed (exit 7, stack trace): Error: Cannot find module avc-x",
        "at frame 8",
    ];
    let err = assert_exit(run, 1, &crash);
    assert!(!err.contains("Some(7)"), "{err}");
}

/// `requires` with `{profile_dir}` (a client built beside its profile): the placeholder is
/// expanded, so a built client runs; one not built is not available with the missing path
/// named (never "`{profile_dir}/...` not found on PATH"), and `--require-available` exits 3.
#[test]
fn requires_profile_dir_path_is_expanded_and_named_when_missing() {
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("built.toml");
    write_profile(
        &profile,
        "sh -c 'exit 2'",
        "requires = [\"{profile_dir}/target/debug/scan\"]",
    );
    let run = || code_and_stderr(&mut require_available(&profile, "clamd.refused"));
    let want = format!(
        "required path {}/target/debug/scan does not exist",
        dir.path().display()
    );
    let err = assert_exit(run(), 3, &[&want]);
    assert!(!err.contains("{profile_dir}"), "{err}");
    let bin = dir.path().join("target/debug");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::write(bin.join("scan"), "").unwrap();
    // the refused case passes on exit 2
    assert_exit(run(), 0, &["1 passed"]);
}

/// `--keep` keeps each case's scratch directory after the run, where the report's note says
/// (a user debugging a client reads what the client left in `{dir}`): it was removed with
/// the run's own scratch directory, which held it.
#[test]
fn keep_leaves_the_case_directory_where_the_note_says() {
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("marker.toml");
    write_profile(&profile, "sh -c 'echo left > {dir}/mark; exit 2'", "");
    let json = dir.path().join("r.json");
    let out = harness()
        .arg("--profile")
        .arg(&profile)
        .args(["--filter", "clamd.clean", "--keep", "--report-json"])
        .arg(&json)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let text = report.to_string();
    let kept = text
        .split("scratch kept at ")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no 'scratch kept at' note: {text}"));
    let kept = Path::new(kept);
    let mark = std::fs::read_to_string(kept.join("mark"));
    // the run's scratch directory, which --keep leaves too: remove it (ours, by name)
    let run_dir = kept.parent().expect("inside the run's scratch directory");
    assert!(
        run_dir
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("avc-conformance-")),
        "{}",
        run_dir.display()
    );
    std::fs::remove_dir_all(run_dir).unwrap();
    assert_eq!(mark.expect("the case directory was kept").trim(), "left");
}
