//! A broken client has one cause, and every report says it first, in the words a client
//! author acts on: a crash with its exception line, a silent exit 0, a program that is not
//! installed. Run as a user would: the binary, real profiles, `--report-md/-json/-html`.

mod common;
use common::{avc, need_python};

use std::path::{Path, PathBuf};

/// The three report files of a run in a scratch directory.
struct Reports {
    _dir: tempfile::TempDir,
    md: PathBuf,
    json: PathBuf,
    html: PathBuf,
}

impl Reports {
    fn new() -> Reports {
        let dir = tempfile::tempdir().unwrap();
        Reports {
            md: dir.path().join("r.md"),
            json: dir.path().join("r.json"),
            html: dir.path().join("r.html"),
            _dir: dir,
        }
    }

    fn read(p: &Path) -> String {
        std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    /// The first line of the Markdown report's "Failures by rule" list.
    fn first_tally_line(&self) -> String {
        let md = Self::read(&self.md);
        let section = md.split("## Failures by rule").nth(1).expect("a tally");
        section
            .lines()
            .find(|l| l.starts_with("- "))
            .expect("a tally line")
            .to_string()
    }

    /// The JSON report's tallies.
    fn tallies(&self) -> Vec<serde_json::Value> {
        let v: serde_json::Value = serde_json::from_str(&Self::read(&self.json)).unwrap();
        v["failures_by_rule"]
            .as_array()
            .expect("failures_by_rule")
            .clone()
    }
}

/// Runs the harness on the clamd cases with `client` args, writing every report; returns
/// the exit code, stderr and the reports.
fn run(client: &[&str]) -> (Option<i32>, String, Reports) {
    let reports = Reports::new();
    let out = avc()
        .args(client)
        .args(["--filter", "clamd."])
        .arg("--report-md")
        .arg(&reports.md)
        .arg("--report-json")
        .arg(&reports.json)
        .arg("--report-html")
        .arg(&reports.html)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        reports,
    )
}

fn profile(dir: &Path, name: &str, command: &str, clean: &str) -> PathBuf {
    let p = dir.join(format!("{name}.toml"));
    std::fs::write(
        &p,
        format!(
            "protocol = \"clamd\"\ncommand = {command}\nsnapshots = false\n[verdicts]\n\
             clean = {clean}\ninfected = {{ exit = 1, stdout = \"FOUND\" }}\nerror = {{ exit = 2 }}\n"
        ),
    )
    .unwrap();
    p
}

/// CLAMD-CLIENT-3, CLAMD-CLIENT-6: a Python client that raises before it connects fails
/// every case; the report's first tally line says it crashed in all of them, with the
/// exception line, instead of one line per rule; each case says `crashed` with that line
/// (Markdown, JSON and HTML alike).
#[test]
fn clamd_client_3_a_crashing_client_is_one_cause_with_its_exception_line() {
    need_python!();
    let dir = tempfile::tempdir().unwrap();
    let script = "def connect(host, port):\n    raise ConnectionRefusedError(111, 'Connection refused')\nconnect('{host}', {port})\n";
    let command = format!("[\"python3\", \"-c\", {script:?}]");
    let p = profile(dir.path(), "crashy", &command, "{ exit = 0 }");
    let (code, err, reports) = run(&["--profile", p.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{err}");
    let first = reports.first_tally_line();
    let n = reports.tallies()[0]["cases"].as_array().unwrap().len();
    assert!(n >= 30, "{n}: {first}");
    assert!(
        first.starts_with(&format!(
            "- client:crashy: all {n} cases, one cause (crashed): crashed (exit 1, Python traceback): ConnectionRefusedError: [Errno 111] Connection refused; no connection reached the daemon"
        )),
        "{first}"
    );
    assert_eq!(reports.tallies().len(), 1, "{:?}", reports.tallies());
    assert!(err.contains("CLAMD-CLIENT-3 (crashed)"), "{err}");
    let html = Reports::read(&reports.html);
    assert!(html.contains("ConnectionRefusedError: [Errno 111] Connection refused"));
    // each case's "client reported" cell names the crash, not "unclassified output"
    assert!(html.contains("nothing (crashed)"), "html cell");
    assert!(!html.contains("unclassified output"), "html cell");
}

/// CLAMD-CLIENT-6: a client that exits 0 printing nothing (a Node callback that never
/// fired) under a profile whose clean rule wants a line: one cause, "exit 0 with no
/// output (did the callback run?)".
#[test]
fn clamd_client_6_a_silent_exit_0_is_one_cause_asking_about_the_callback() {
    let dir = tempfile::tempdir().unwrap();
    let p = profile(
        dir.path(),
        "silent",
        "\"true {host} {port} {file}\"",
        "{ exit = 0, stdout = ': OK$' }",
    );
    let (code, err, reports) = run(&["--profile", p.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{err}");
    let first = reports.first_tally_line();
    assert!(
        first.starts_with("- client:silent: all ")
            && first.contains(
                " cases, one cause (no-output): exit 0 with no output (did the callback run?"
            ),
        "{first}"
    );
    assert_eq!(reports.tallies().len(), 1, "{:?}", reports.tallies());
}

/// A client program that is not installed: every case is a harness error (exit 3) and the
/// tally has one line naming the program and the system's reason.
#[test]
fn a_client_that_is_not_installed_is_one_line_naming_the_program() {
    let (code, err, reports) = run(&["--client-cmd", "avc-no-such-scanner --port {port} {file}"]);
    assert_eq!(code, Some(3), "{err}");
    let first = reports.first_tally_line();
    assert!(
        first.starts_with("- client:client-cmd: all ")
            && first.contains("one cause (could-not-run): could not run: ")
            && first.contains("avc-no-such-scanner"),
        "{first}"
    );
    assert_eq!(reports.tallies().len(), 1, "{:?}", reports.tallies());
    assert!(err.contains("one cause (could-not-run)"), "{err}");
}

/// CLAMD-CLIENT-3: a driver that exits 2 before it connects (read as "error") tested
/// nothing: no case it never reached passes, and the run exits 1 with one client-wide cause,
/// "no connection reached the daemon". Only the cases where nothing listens
/// (`clamd.refused`, `clamd.fault-refuse`: a refused attempt leaves no trace) pass.
#[test]
fn clamd_client_3_a_client_that_never_connects_passes_no_case_it_never_reached() {
    let reports = Reports::new();
    let out = avc()
        .args(["--client-cmd", "sh -c \"exit 2\"", "--protocol", "clamd"])
        .args(["--filter", "CLAMD-CLIENT-3", "--report-json"])
        .arg(&reports.json)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let v: serde_json::Value = serde_json::from_str(&Reports::read(&reports.json)).unwrap();
    let rows = v["report"]["rows"].as_array().unwrap();
    let mut passed: Vec<&str> = rows
        .iter()
        .filter(|r| r["status"] == "pass")
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    passed.sort_unstable();
    assert_eq!(passed, ["clamd.fault-refuse", "clamd.refused"], "{err}");
    assert!(rows.len() > 10, "{}", rows.len());
    let tallies = reports.tallies();
    assert_eq!(tallies.len(), 1, "{tallies:?}");
    assert_eq!(tallies[0]["kind"], "not-connected");
    assert!(
        tallies[0]["example"]
            .as_str()
            .unwrap()
            .contains("no connection reached the daemon"),
        "{tallies:?}"
    );
    assert!(err.contains("one cause (not-connected)"), "{err}");
}
