//! Issue 12 done-when "no binary panics on any argument": `fake-clamd` run with arbitrary
//! argv (non-UTF-8 bytes mixed with its own flags) never panics nor dies of a signal. It
//! always binds loopback on an ephemeral port (`--tcp-port 0` appended unless given; given
//! only as 0 or invalid; config files only from a loopback list); a daemon that starts is
//! killed by its pid after the time limit. The driver (proptest, shrinking) and the
//! property are `fixtures::argv`, shared with the other binaries.

use fixtures::argv::{flag, Flag, Target, Value};

const VOCAB: &[Flag] = &[
    flag("config-file", Value::Safe(&["", ".", "/nonexistent.conf"])),
    flag("datadir", Value::Any(&["", ".", "/nonexistent"])),
    flag("foreground", Value::None),
    flag("debug", Value::None),
    flag("tcp-port", Value::Safe(&["0", "65536", "-1", "x"])),
    flag(
        "local-socket",
        Value::Safe(&["s.sock", "", "/nonexistent/s.sock"]),
    ),
    flag("version-text", Value::Any(&["", "ClamAV 1.4.6", "a\nb"])),
    flag(
        "stream-limit",
        Value::Any(&["faithful", "close", "reply-drain", "reset", "x"]),
    ),
    flag(
        "session-order",
        Value::Any(&["arrival", "reverse", "random", "x"]),
    ),
    flag("no-shutdown", Value::None),
    flag("official", Value::None),
    flag(
        "timeout-slack-ms",
        Value::Any(&["0", "18446744073709551615", "-1"]),
    ),
    flag("faults", Value::Any(&["", "/nonexistent.toml", "."])),
    flag(
        "fault",
        Value::Any(&[
            "reset@command=INSTREAM,chunk=2",
            "delay:18446744073709551615",
            "infected:X@p=2,seed=7",
            "x:",
            "@",
            "",
        ]),
    ),
    flag(
        "admin",
        Value::Safe(&["127.0.0.1:0", "[::1]:0", "127.0.0.1:99999", "x"]),
    ),
    flag("admin-token", Value::Any(&["", "t0ken"])),
    flag("admin-token-file", Value::Any(&["", "/nonexistent", "."])),
    flag("help", Value::None),
    flag("version", Value::None),
];

/// Issue 12: fake-clamd never panics on any argv.
#[test]
fn fake_clamd_never_panics_on_any_argv() {
    let dir = tempfile::tempdir().unwrap();
    // Config files the daemon may read: loopback/ephemeral only, plus broken ones.
    let good = "TCPSocket 0\nTCPAddr 127.0.0.1\nStreamMaxLength 1M\n";
    let broken = b"TCPSocket 0\nTCPAddr 127.0.0.1\nStreamMaxLength \xff\nFoo\n";
    Target::new(env!("CARGO_BIN_EXE_fake-clamd"), VOCAB, dir.path())
        .extra_file("good.conf", good)
        .extra_file("broken.conf", broken)
        .extra_file("plan.toml", b"[[rule]]\nfault = 7\n\xff")
        .ensure("tcp-port", "0")
        .never_panics();
}
