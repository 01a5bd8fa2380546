//! Issue 12 done-when "no binary panics on any argument" (hardening item 8):
//! `avc-conformance` run with arbitrary argv (non-UTF-8 bytes mixed with its own flags)
//! never panics nor dies of a signal. It runs on a temporary copy of `conformance/` (cases,
//! profiles, test clients), in a temporary working directory, with `CARGO` pointing nowhere
//! (no builds), so that nothing it writes lands in the repository. `--client-cmd` is left
//! out (an arbitrary value would run an arbitrary program); `--server`, `--program` and the
//! report paths take only listed (loopback, relative) or invalid values.

mod common;

use std::ffi::OsString;
use std::path::Path;
use std::time::Duration;

use fixtures::argv::{flag, Flag, Target, Value};

/// Written paths stay relative to the temporary working directory.
const OUT_PATHS: &[&str] = &["r.out", "sub/r.out", "", "."];

const VOCAB: &[Flag] = &[
    flag(
        "client",
        Value::Any(&["all", "fave", "python-clamd", "flcl", "x.toml", "nope"]),
    ),
    flag("protocol", Value::Any(&["clamd", "svsp", "x"])),
    flag("timeout", fixtures::argv::SECONDS),
    flag(
        "program",
        Value::Safe(&["FLCL=/nonexistent/flcl", "FLCL=", "=x", "x"]),
    ),
    flag(
        "filter",
        Value::Any(&["clamd.eicar", "CLAMD-", "", ",", "server"]),
    ),
    flag("skip", Value::Any(&["clamd", "", ","])),
    flag("list", Value::None),
    flag(
        "partition",
        Value::Any(&[
            "1/1",
            "2/3",
            "0/0",
            "3/2",
            "1/",
            "/",
            "18446744073709551616/1",
        ]),
    ),
    flag("jobs", Value::Any(&["0", "1", "2", "65", "-1"])),
    flag("report-md", Value::Safe(OUT_PATHS)),
    flag("report-json", Value::Safe(OUT_PATHS)),
    flag("report-junit", Value::Safe(OUT_PATHS)),
    flag("update-snapshots", Value::None),
    flag("no-snapshots", Value::None),
    flag("proptest", Value::Any(&["0", "1", "4294967296"])),
    flag("seed", Value::Any(&["0", "18446744073709551615", "-1"])),
    flag(
        "server",
        Value::Safe(&["bogus", "127.0.0.1:1", "127.0.0.1:99999", ":1", "[::1]:1"]),
    ),
    flag("socket", Value::Safe(&["nope.sock", ""])),
    flag("require-available", Value::None),
    flag("keep", Value::None),
    flag("root", Value::Any(&["", ".", "/", "missing"])),
    flag("help", Value::None),
    flag("version", Value::None),
];

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), &dest).unwrap();
        }
    }
}

struct World {
    dir: tempfile::TempDir,
    extra: Vec<OsString>,
}

fn world() -> World {
    let repo = common::root();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    for sub in ["cases", "clients", "test-clients"] {
        copy_dir(
            &repo.join("conformance").join(sub),
            &root.join("conformance").join(sub),
        );
    }
    let profile = dir.path().join("p.toml");
    std::fs::write(&profile, common::TRUE_PROFILE).unwrap();
    let extra = vec![root.into_os_string(), profile.into_os_string()];
    World { dir, extra }
}

/// Issue 12: avc-conformance never panics on any argv.
#[test]
fn avc_conformance_never_panics_on_any_argv() {
    let w = world();
    // the copy, unless the case names a root itself (never the repository)
    let root = w.extra[0].to_string_lossy().into_owned();
    Target::new(env!("CARGO_BIN_EXE_avc-conformance"), VOCAB, w.dir.path())
        .extra(&w.extra)
        .ensure("root", &root)
        .env("CARGO", "/nonexistent/cargo")
        .env("FLCL", "/nonexistent/flcl")
        .limit(Duration::from_secs(3))
        .never_panics();
}
