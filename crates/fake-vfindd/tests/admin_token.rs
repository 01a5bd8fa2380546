//! The admin token options of the fake-vfindd binary (hardening item 7): a non-loopback admin
//! address without a token is a configuration error (exit 2, one line); with
//! `--admin-token-file` or `AVC_ADMIN_TOKEN` every admin request needs the bearer token.
//! The cases are shared with the other daemon in `fixtures::admin_token`.

use std::process::Command;

use fixtures::admin_token as case;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_fake-vfindd"));
    c.args(["--svsp-port=0"]).env_remove("AVC_ADMIN_TOKEN");
    c
}

/// Hardening item 7: `--admin 0.0.0.0:0` without a token: exit 2 with one clear line,
/// before anything is bound on the network.
#[test]
fn non_loopback_admin_without_token_exits_2() {
    case::non_loopback_admin_without_token_exits_2(bin);
}

/// Hardening item 7: `--admin-token` and `--admin-token-file` together are refused.
#[test]
fn admin_token_flag_and_file_together_exit_2() {
    case::admin_token_flag_and_file_together_exit_2(bin);
}

/// Hardening item 7: with `--admin-token-file`, no token and a wrong token get 401, the
/// right one 200.
#[test]
fn admin_token_file_is_required_and_checked() {
    case::admin_token_file_is_required_and_checked(bin);
}

/// Hardening item 7: the token can come from `AVC_ADMIN_TOKEN` (kept out of `ps`).
#[test]
fn admin_token_from_environment_is_checked() {
    case::admin_token_from_environment_is_checked(bin);
}
