//! Issue 12 done-when "no binary panics on any argument": `fave-scan` run with arbitrary
//! argv (non-UTF-8 bytes mixed with its own flags) against an in-process fake clamd and fake
//! vfindd on loopback never panics nor dies of a signal (hardening item 8/9).

mod common;

use std::ffi::OsString;
use std::time::Duration;

use common::runtime;
use fixtures::argv::{flag, Flag, Target, Value};

/// Addresses fave-scan may be pointed at: loopback, unix paths, malformed ones (never a
/// name that needs DNS). The live fakes' addresses are added at run time.
const ADDRS: &[&str] = &[
    "127.0.0.1:1",
    "[::1]:1",
    "127.0.0.1:99999",
    "127.0.0.1:",
    ":1",
    "",
    "unix:",
    "unix:nope.sock",
    "[::1",
    "127.0.0.1:1:5",
];

const VOCAB: &[Flag] = &[
    flag("clamd", Value::Safe(ADDRS)),
    flag("svsp", Value::Safe(ADDRS)),
    flag(
        "chunk-size",
        Value::Any(&["0", "1", "4096", "99999999999", "-1"]),
    ),
    flag("timeout", fixtures::argv::SECONDS),
    flag(
        "scan-timeout",
        Value::Any(&["0", "0.2", "1", "-1", "nan", "inf", "1e300"]),
    ),
    flag(
        "stream-max-length",
        Value::Any(&["0", "1", "10", "18446744073709551615"]),
    ),
    flag("busy-retries", Value::Any(&["0", "3", "4294967295"])),
    flag(
        "svsp-source",
        Value::Any(&["file", "file-sha1", "request", "port", "x"]),
    ),
    flag("framing", Value::Any(&["z", "n", "q"])),
    flag("json", Value::None),
    flag("stats", Value::None),
    flag("trace", Value::None),
    flag("pipeline", Value::None),
    flag("help", Value::None),
    flag("version", Value::None),
    // positional files
    flag("", Value::Any(&["-", ".", "/", "missing.bin", "/dev/null"])),
];

struct World {
    _rt: tokio::runtime::Runtime,
    _clamd: fake_clamd::FakeClamd,
    _vfindd: fake_vfindd::FakeVfindd,
    dir: tempfile::TempDir,
    extra: Vec<OsString>,
}

fn world() -> World {
    let rt = runtime();
    let clamd = rt
        .block_on(fake_clamd::FakeClamd::builder().start())
        .unwrap();
    let vfindd = rt
        .block_on(fake_vfindd::FakeVfindd::builder().start())
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let clean = dir.path().join("clean.txt");
    std::fs::write(&clean, b"hello").unwrap();
    let extra = vec![
        clamd.addr().unwrap().to_string().into(),
        format!("127.0.0.1:{}", vfindd.port()).into(),
        clean.into_os_string(),
    ];
    World {
        _rt: rt,
        _clamd: clamd,
        _vfindd: vfindd,
        dir,
        extra,
    }
}

/// Issue 12: fave-scan never panics on any argv.
#[test]
fn fave_scan_never_panics_on_any_argv() {
    let w = world();
    // without --clamd/--svsp: a loopback port, never clamav.daemon (DNS)
    Target::new(env!("CARGO_BIN_EXE_fave-scan"), VOCAB, w.dir.path())
        .extra(&w.extra)
        .env("FL_CLAMAV_CONNECTION", "127.0.0.1:1")
        .env("FL_FAVE_PARAMETER", "127.0.0.1:1")
        .limit(Duration::from_secs(3))
        .never_panics();
}
