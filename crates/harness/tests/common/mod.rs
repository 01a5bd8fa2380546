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

/// `avc-conformance --root <repository> --no-snapshots`, the start of most runs here.
pub fn avc() -> assert_cmd::Command {
    let mut c = assert_cmd::Command::cargo_bin("avc-conformance").unwrap();
    c.arg("--root").arg(root()).arg("--no-snapshots");
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
