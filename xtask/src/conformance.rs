//! `cargo xtask conformance`: thin wrapper over the harness library (`harness::cli`);
//! `cargo xtask conformance --help` lists the flags, crates/harness/README.md explains them.

use std::process::ExitCode;

pub fn run(args: Vec<String>) -> anyhow::Result<ExitCode> {
    Ok(ExitCode::from(harness::cli::main_with_args(args)))
}
