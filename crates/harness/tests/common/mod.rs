//! Shared by the harness integration tests (`mod common;`): the repository root, whether
//! python3 (the test clients' language) is there, and a run context over a scratch dir.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use harness::runner::RunContext;

/// The repository root (conformance/, the profiles and the cases live there).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the repository root exists")
}

/// Whether `python3` runs: the test clients are python scripts, so tests skip visibly
/// without it.
pub fn python() -> bool {
    std::process::Command::new("python3")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Prints a visible SKIP line and returns true when python3 is missing (the test clients
/// are python scripts): `if skip_without_python() { return; }`.
pub fn skip_without_python() -> bool {
    let missing = !python();
    if missing {
        println!("SKIP: python3 not found; the test clients are python scripts");
    }
    missing
}

/// `need_python!();` ends the test with a SKIP line when python3 is missing.
#[allow(unused_macros)]
macro_rules! need_python {
    () => {
        if $crate::common::skip_without_python() {
            return;
        }
    };
}
#[allow(unused_imports)]
pub(crate) use need_python;

/// `avc-conformance --root <repository>` with snapshots on (as a user runs it), as a std
/// command for tests that spawn it or wait on it themselves.
pub fn avc_process() -> std::process::Command {
    let mut c = std::process::Command::new(assert_cmd::cargo::cargo_bin("avc-conformance"));
    c.arg("--root").arg(root());
    c
}

/// `avc-conformance --root <repository>` with snapshots on.
pub fn avc_with_snapshots() -> assert_cmd::Command {
    assert_cmd::Command::from_std(avc_process())
}

/// `avc-conformance --root <repository> --no-snapshots`, the start of most runs here.
pub fn avc() -> assert_cmd::Command {
    let mut c = avc_with_snapshots();
    c.arg("--no-snapshots");
    c
}

/// `--client-cmd` for the clamd test client with the `clean-on-error` defect (FAIL-OPEN on
/// clamd.reply-error, CLAMD-CLIENT-5), started through the shell script `wrap`.
pub fn clean_on_error_via(wrap: &Path) -> String {
    format!(
        "sh {} {{test_clients}}/clamd_client.py --timeout 2 --defect clean-on-error {{addr}} {{file}}",
        wrap.display()
    )
}

/// Runs `c`; its exit code (-1 for a signal) and its stdout.
pub fn code_and_stdout(c: &mut assert_cmd::Command) -> (i32, String) {
    let (code, stdout, _) = code_and_outputs(c);
    (code, stdout)
}

/// Runs `c`; its exit code (-1 for a signal) and its stderr.
pub fn code_and_stderr(c: &mut assert_cmd::Command) -> (i32, String) {
    let (code, _, stderr) = code_and_outputs(c);
    (code, stderr)
}

/// Fails unless `run` (an exit code and an output, as [`code_and_stderr`] gives them) ended
/// with `code` and its output holds each of `shown`; returns the output.
pub fn assert_exit(run: (i32, String), code: i32, shown: &[&str]) -> String {
    let (got, text) = run;
    assert_eq!(got, code, "exit code; the output:\n{text}");
    for s in shown {
        assert!(text.contains(s), "{s:?} is not in the output:\n{text}");
    }
    text
}

fn code_and_outputs(c: &mut assert_cmd::Command) -> (i32, String, String) {
    let out = c.output().unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (
        out.status.code().unwrap_or(-1),
        text(&out.stdout),
        text(&out.stderr),
    )
}

/// A run context on the repository root with `scratch` as scratch dir, nothing kept.
pub fn context(scratch: &Path) -> Arc<RunContext> {
    Arc::new(RunContext {
        root: root(),
        extra_path: Vec::new(),
        programs: BTreeMap::new(),
        scratch: scratch.to_path_buf(),
        keep: false,
    })
}

/// A clamd client profile whose command (`true`) exits 0, read as clean, without scanning.
pub const TRUE_PROFILE: &str =
    "protocol = \"clamd\"\ncommand = \"true {file}\"\n[verdicts]\nclean = { exit = 0 }\n";

/// A profile of the well-behaved Python test client as a user would write one (snapshots
/// on, the default).
pub const PY_GOOD_PROFILE: &str = "protocol = \"clamd\"\n\
     command = \"python3 {test_clients}/clamd_client.py --timeout 2 {addr} {file}\"\n\
     timeout_secs = 8\n\
     [verdicts]\nclean = { exit = 0 }\ninfected = { exit = 1 }\nerror = { exit = 2 }\n";

/// A scratch directory holding one file `name` with `text`; keep the directory alive as long
/// as the file is used.
pub fn temp_file(name: &str, text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

/// Scratch paths for the Markdown, JSON and JUnit reports of one run.
pub struct Reports {
    _dir: tempfile::TempDir,
    pub md: PathBuf,
    pub json: PathBuf,
    pub junit: PathBuf,
}

impl Reports {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let at = |name: &str| dir.path().join(name);
        Reports {
            md: at("r.md"),
            json: at("r.json"),
            junit: at("r.xml"),
            _dir: dir,
        }
    }

    /// `--report-md`, `--report-json` and `--report-junit` with these paths.
    pub fn flags(&self) -> Vec<&std::ffi::OsStr> {
        let mut flags = Vec::new();
        for (flag, path) in [
            ("--report-md", &self.md),
            ("--report-json", &self.json),
            ("--report-junit", &self.junit),
        ] {
            flags.push(flag.as_ref());
            flags.push(path.as_os_str());
        }
        flags
    }

    /// The Markdown report's first table row that starts with `prefix` (`"| FAIL |"`).
    pub fn md_row(&self, prefix: &str) -> String {
        let md = std::fs::read_to_string(&self.md).unwrap();
        md.lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no row {prefix:?} in {md}"))
            .to_string()
    }
}

/// Every 16-character piece of every printed form of EICAR: raw, the harness's `\\`
/// escaping, and JSON escaping of both (a cut must not leave one).
pub fn eicar_pieces() -> Vec<String> {
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

/// Fails when `text` (named `what` in the message) holds a piece of the EICAR body.
pub fn assert_no_eicar(what: &str, text: &str) {
    for p in eicar_pieces() {
        assert!(
            !text.contains(&p),
            "{what} shows a piece of the EICAR body: {p:?}\n{text}"
        );
    }
}
