//! `cargo xtask conformance` (placeholder: being written).

use std::process::ExitCode;

pub fn run(_args: Vec<String>) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`cargo xtask conformance` is not implemented yet")
}
