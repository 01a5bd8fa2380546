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
