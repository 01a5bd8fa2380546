//! Issue 12 done-when "no binary panics on any argument": `fake-vfindd` run with arbitrary
//! argv (non-UTF-8 bytes mixed with its own flags) never panics nor dies of a signal. It
//! always listens on loopback (`--listen` only from a loopback/invalid list) and an
//! ephemeral port (`--svsp-port 0` appended unless given; given only as 0 or invalid); a
//! daemon that starts is killed by its pid after the time limit.

#[path = "../../fave/tests/support/argv_run.rs"]
mod argv_run;

use std::ffi::OsString;
use std::time::Duration;

use argv_run::{flag, Flag, Value};
use proptest::prelude::*;

const VOCAB: &[Flag] = &[
    flag("svsp-port", Value::Safe(&["0", "65536", "-1", "x"])),
    flag("SVSP-port", Value::Safe(&["0", "x"])),
    flag(
        "listen",
        Value::Safe(&["127.0.0.1", "::1", "localhost", "999.1.1.1", ""]),
    ),
    flag(
        "allow",
        Value::Any(&["127.0.0.0/8", "::1/128", "10.0.0.0/33", "x", ","]),
    ),
    flag("localhost", Value::None),
    flag(
        "max-connections",
        Value::Any(&["0", "1", "18446744073709551616"]),
    ),
    flag("profile", Value::Any(&["full", "first-version", "x"])),
    flag("dispatch", Value::Any(&["all", "one-per-read", "x"])),
    flag("eol", Value::Any(&["crlf", "lf", "x"])),
    flag(
        "queued",
        Value::Any(&[
            "always",
            "when-delayed",
            "never",
            "random:1",
            "random:",
            "random:x",
        ]),
    ),
    flag("quit", Value::Any(&["drain", "immediate", "x"])),
    flag("threads", Value::Any(&["0", "1", "2", "-1"])),
    flag("delay-ms", Value::Any(&["0", "1", "18446744073709551615"])),
    flag("max-queue", Value::Any(&["0", "1"])),
    flag(
        "stream-max-length",
        Value::Any(&["0", "1", "18446744073709551615"]),
    ),
    flag(
        "data-timeout",
        Value::Any(&["0", "0.5", "-1", "nan", "inf", "1e300"]),
    ),
    flag("scan-root", Value::Any(&["", ".", "/nonexistent"])),
    flag("virtual-root", Value::Any(&["", ".", "/nonexistent"])),
    flag("follow-symlinks", Value::None),
    flag("member-errors", Value::Any(&["skip", "terminal", "x"])),
    flag("port-send-echo", Value::None),
    flag("enable-future", Value::None),
    flag(
        "idle-timeout",
        Value::Any(&["0", "0.5", "-1", "nan", "inf", "1e300"]),
    ),
    flag("eicar-name", Value::Any(&["", "X", "a\nb"])),
    flag(
        "quirk",
        Value::Any(&["done-without-count", "unknown-line", "x", ","]),
    ),
    flag(
        "fault",
        Value::Any(&[
            "eagain-every:0",
            "efault-every:1",
            "drop-connection-after:0-lines",
            "reset@command=SCAN,times=1",
            "delay:18446744073709551615",
            "infected:X@p=2",
            "x:",
            "@",
        ]),
    ),
    flag("faults", Value::Any(&["", "/nonexistent.toml", "."])),
    flag(
        "admin",
        Value::Safe(&["127.0.0.1:0", "[::1]:0", "127.0.0.1:99999", "x"]),
    ),
    flag("admin-token", Value::Any(&["", "t0ken"])),
    flag("admin-token-file", Value::Any(&["", "/nonexistent", "."])),
    flag(
        "max-file-size",
        Value::Any(&["0", "1", "18446744073709551615", "-1"]),
    ),
    flag("help", Value::None),
    flag("version", Value::None),
];

proptest! {
    #![proptest_config(ProptestConfig {
        cases: argv_run::cases(64),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Issue 12: fake-vfindd never panics on any argv.
    #[test]
    fn fake_vfindd_never_panics_on_any_argv(
        items in proptest::collection::vec((any::<u32>(), proptest::collection::vec(any::<u8>(), 0..12)), 0..8)
    ) {
        let dir = tempfile::tempdir().unwrap();
        let bad_plan = dir.path().join("plan.toml");
        std::fs::write(&bad_plan, b"[[rule]]\nfault = 7\n\xff").unwrap();
        let extra: Vec<OsString> = vec![bad_plan.into_os_string(), dir.path().into()];
        let mut argv = argv_run::build_argv(VOCAB, &items, &extra);
        argv_run::ensure(&mut argv, "svsp-port", "0");
        let home = dir.path().as_os_str();
        let r = argv_run::run(
            env!("CARGO_BIN_EXE_fake-vfindd").as_ref(),
            &argv,
            &[("HOME", home), ("TMPDIR", home)],
            dir.path(),
            Duration::from_secs(2),
        );
        argv_run::check(&argv, &r).map_err(TestCaseError::fail)?;
    }
}
