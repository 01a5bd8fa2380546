//! `cargo xtask fixtures` (placeholder: being written).

use std::process::ExitCode;

pub fn run(_args: Vec<String>) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`cargo xtask fixtures` is not implemented yet")
}
