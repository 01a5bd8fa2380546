//! Issue 12 done-when "no binary panics on any argument": `fake-vfindd` run with arbitrary
//! argv (non-UTF-8 bytes mixed with its own flags) never panics nor dies of a signal. It
//! always listens on loopback (`--listen` only from a loopback/invalid list) and an
//! ephemeral port (`--svsp-port 0` appended unless given; given only as 0 or invalid); a
//! daemon that starts is killed by its pid after the time limit.

use fixtures::argv::{flag, Flag, Target, Value};

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
    flag("data-timeout", fixtures::argv::SECONDS),
    flag("scan-root", Value::Any(&["", ".", "/nonexistent"])),
    flag("virtual-root", Value::Any(&["", ".", "/nonexistent"])),
    flag("follow-symlinks", Value::None),
    flag("member-errors", Value::Any(&["skip", "terminal", "x"])),
    flag("port-send-echo", Value::None),
    flag("enable-future", Value::None),
    flag("idle-timeout", fixtures::argv::SECONDS),
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

/// Issue 12: fake-vfindd never panics on any argv.
#[test]
fn fake_vfindd_never_panics_on_any_argv() {
    let dir = tempfile::tempdir().unwrap();
    Target::new(env!("CARGO_BIN_EXE_fake-vfindd"), VOCAB, dir.path())
        .extra_file("plan.toml", b"[[rule]]\nfault = 7\n\xff")
        .extra([dir.path()])
        .ensure("svsp-port", "0")
        .never_panics();
}
