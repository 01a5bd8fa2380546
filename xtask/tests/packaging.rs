//! The crates a user installs (`harness` with its `avc-conformance` binary, `fake-clamd`,
//! `fake-vfindd`, `fave`) and every crate they depend on package for crates.io:
//! `cargo package --workspace --no-verify` over every publishable member (the unpublished
//! ones, `publish = false`, are excluded by name from `cargo metadata`), so a missing
//! version on a path dependency, a dependency on an unpublished crate or a dev-dependency
//! cycle fails here. Each `.crate` is then read: no piece of EICAR, no large file, the
//! metadata crates.io shows, and the harness carries every file its `build.rs` compiles in.
//!
//! About 5 s (no build: `--no-verify`). The full check, which builds each packaged crate
//! from its tarball (about 3 minutes), is the same command without `--no-verify` (README,
//! "Test your client from its own repository").

use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

/// What a user installs; each must be publishable.
const USER_CRATES: &[&str] = &["avc-conformance", "fake-clamd", "fake-vfindd", "fave"];
/// No packaged file may be larger (the biggest source file is about 100 KiB).
const MAX_FILE_BYTES: u64 = 256 * 1024;
/// No `.crate` may be larger, compressed.
const MAX_CRATE_BYTES: u64 = 512 * 1024;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask sits in the workspace")
        .to_path_buf()
}

fn cargo() -> Command {
    let mut c = Command::new(env!("CARGO"));
    c.current_dir(workspace_root());
    c
}

/// One workspace member as `cargo metadata` describes it.
struct Member {
    name: String,
    publishable: bool,
    description: Option<String>,
    license: Option<String>,
    version: String,
}

fn members() -> Vec<Member> {
    let out = cargo()
        .args(["metadata", "--no-deps", "--format-version", "1"])
        .output()
        .expect("cargo metadata runs");
    assert!(out.status.success(), "cargo metadata: {out:?}");
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("metadata JSON");
    let text = |p: &serde_json::Value, key: &str| p[key].as_str().map(str::to_string);
    meta["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|p| Member {
            name: text(p, "name").expect("a name"),
            // `publish = false` is an empty registry list; absent (null) is any registry
            publishable: p["publish"].as_array().is_none_or(|r| !r.is_empty()),
            description: text(p, "description"),
            license: text(p, "license"),
            version: text(p, "version").expect("a version"),
        })
        .collect()
}

/// Every file of a `.crate` (a gzipped tar), by path below the `name-version/` prefix.
fn crate_files(path: &Path) -> Vec<(String, Vec<u8>)> {
    let file = std::fs::File::open(path).expect("the .crate opens");
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let mut files = Vec::new();
    for entry in archive.entries().expect("a tar") {
        let mut entry = entry.expect("a tar entry");
        let name = entry.path().expect("a path").to_string_lossy().into_owned();
        let name = name
            .split_once('/')
            .map_or(name.clone(), |(_, rest)| rest.to_string());
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).expect("an entry reads");
        files.push((name, bytes));
    }
    files
}

#[test]
fn the_user_facing_crates_and_their_dependencies_package_for_crates_io() {
    let members = members();
    for name in USER_CRATES {
        let m = members.iter().find(|m| m.name == *name).expect("a member");
        assert!(m.publishable, "{name} is `publish = false`");
    }
    let out_dir = tempfile::tempdir().unwrap();
    let mut cmd = cargo();
    cmd.args(["package", "--workspace", "--no-verify", "--allow-dirty"])
        .arg("--target-dir")
        .arg(out_dir.path());
    for m in members.iter().filter(|m| !m.publishable) {
        cmd.args(["--exclude", &m.name]);
    }
    let out = cmd.output().expect("cargo package runs");
    assert!(
        out.status.success(),
        "cargo package failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let eicar = scan_engine::eicar();
    let eicar_pieces: Vec<&[u8]> = eicar.windows(20).collect();
    for m in members.iter().filter(|m| m.publishable) {
        assert!(
            m.description.as_deref().is_some_and(|d| !d.is_empty())
                && m.license.as_deref().is_some_and(|l| !l.is_empty()),
            "{}: crates.io needs a description and a license",
            m.name
        );
        let path = out_dir
            .path()
            .join(format!("package/{}-{}.crate", m.name, m.version));
        let size = std::fs::metadata(&path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .len();
        assert!(size <= MAX_CRATE_BYTES, "{}: {size} bytes", path.display());
        let files = crate_files(&path);
        for (name, bytes) in &files {
            assert!(
                bytes.len() as u64 <= MAX_FILE_BYTES,
                "{} packages {name}, {} bytes",
                m.name,
                bytes.len()
            );
            assert!(
                !eicar_pieces
                    .iter()
                    .any(|p| memchr::memmem::find(bytes, p).is_some()),
                "{} packages {name}, which holds a piece of EICAR",
                m.name
            );
        }
        if m.name == "avc-conformance" {
            let packaged: BTreeSet<String> = files.iter().map(|(n, _)| n.clone()).collect();
            // the harness's build.rs compiles these in from conformance/
            let missing: Vec<_> = harness::builtin::FILES
                .iter()
                .map(|(path, _)| format!("builtin-data/{path}"))
                .filter(|p| !packaged.contains(p))
                .collect();
            assert!(
                missing.is_empty(),
                "the harness package lacks files its build.rs compiles in: {missing:?}"
            );
            // and the rule texts of the HTML report (build.rs reads `spec-data/*.md`, the
            // link to ../shared/spec, which `cargo package` must follow: a crate without
            // them builds a binary that shows rule IDs only)
            let specs = spec_files();
            assert!(!specs.is_empty(), "no spec-data/*.md beside the harness");
            let missing: Vec<_> = specs.iter().filter(|p| !packaged.contains(*p)).collect();
            assert!(
                missing.is_empty(),
                "the harness package lacks the specifications its build.rs compiles in: {missing:?}"
            );
        }
    }
}

/// `spec-data/<name>.md` of each specification beside the harness (through its link).
fn spec_files() -> Vec<String> {
    let dir = workspace_root().join("crates/harness/spec-data");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".md"))
        .map(|n| format!("spec-data/{n}"))
        .collect();
    names.sort();
    names
}
