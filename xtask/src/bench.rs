//! `cargo xtask bench <what>`: benchmarks, always in release mode.
//!
//! `engine [BYTES]`: scan-engine throughput and peak RSS on clean data (default 1 GiB).

use std::process::{Command, ExitCode};

pub fn run(args: Vec<String>) -> anyhow::Result<ExitCode> {
    let mut args = args.into_iter();
    match args.next().as_deref() {
        Some("engine") => {
            let bytes = match args.next() {
                Some(s) => crate::fixtures::parse_size(&s).map_err(anyhow::Error::msg)?,
                None => 1 << 30,
            };
            let status = Command::new(env!("CARGO"))
                .current_dir(crate::workspace_root())
                .args([
                    "run",
                    "--quiet",
                    "--release",
                    "-p",
                    "scan-engine",
                    "--example",
                    "engine_bench",
                    "--",
                ])
                .arg(bytes.to_string())
                .status()?;
            Ok(if status.success() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Some("-h" | "--help") | None => {
            println!("usage: cargo xtask bench engine [BYTES]   (e.g. 1G; default 1 GiB)");
            Ok(ExitCode::SUCCESS)
        }
        Some(other) => {
            anyhow::bail!("unknown benchmark `{other}` (try `cargo xtask bench --help`)")
        }
    }
}
