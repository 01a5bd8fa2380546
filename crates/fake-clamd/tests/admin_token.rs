//! The admin token options of the fake-clamd binary (hardening item 7): a non-loopback admin
//! address without a token is a configuration error (exit 2, one line); with
//! `--admin-token-file` or `AVC_ADMIN_TOKEN` every admin request needs the bearer token.
//! The cases are shared with the other daemon: `fixtures::admin_token_tests!`.

use std::process::Command;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_fake-clamd"));
    c.args(["--tcp-port", "0"]).env_remove("AVC_ADMIN_TOKEN");
    c
}

fixtures::admin_token_tests!(bin);
