//! `--version` and `--help` name the program a user installed (`avc-conformance`), not the
//! clap name it had inside the repository (`conformance`).

mod common;

use assert_cmd::Command;

fn out(args: &[&str]) -> (i32, String) {
    common::code_and_stdout(Command::cargo_bin("avc-conformance").unwrap().args(args))
}

/// `avc-conformance --version` prints `avc-conformance <version>` (exit 0), `review`
/// likewise; `--help` shows the installed name in its usage lines.
#[test]
fn version_and_help_name_avc_conformance() {
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(
        out(&["--version"]),
        (0, format!("avc-conformance {version}\n"))
    );
    assert_eq!(out(&["-V"]).1, format!("avc-conformance {version}\n"));
    let (code, help) = out(&["--help"]);
    assert_eq!(code, 0);
    assert!(help.contains("Usage: avc-conformance [OPTIONS]"), "{help}");
    let (code, help) = out(&["review", "--help"]);
    assert_eq!(code, 0);
    assert!(
        help.contains("Usage: avc-conformance review [OPTIONS]"),
        "{help}"
    );
    let (code, v) = out(&["review", "--version"]);
    assert_eq!(
        (code, v),
        (0, format!("avc-conformance review {version}\n"))
    );
}
