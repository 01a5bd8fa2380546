//! `cargo xtask bench` (placeholder: being written).

use std::process::ExitCode;

pub fn run(_args: Vec<String>) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`cargo xtask bench` is not implemented yet")
}
