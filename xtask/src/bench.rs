//! `cargo xtask bench [engine [BYTES] | daemons [--quick] ...]`: benchmarks, always release.
//!
//! * `engine [BYTES]`: scan-engine throughput and peak RSS on clean data (default 1 GiB).
//! * `daemons` (the default): the fakes against the real clamd and a raw loopback copy; prints
//!   a table of ratios and writes `target/bench/bench.{json,md}`. Extra arguments go to
//!   `avc-bench` (`--quick`, `--skip-real`, `--out DIR`, `--only instream,idle`).

use std::path::PathBuf;
use std::process::{Command, ExitCode};

fn cargo(args: &[&str]) -> anyhow::Result<bool> {
    Ok(Command::new(env!("CARGO"))
        .current_dir(crate::workspace_root())
        .args(args)
        .status()?
        .success())
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::workspace_root().join("target"))
}

fn exit(ok: bool) -> ExitCode {
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

pub fn run(args: Vec<String>) -> anyhow::Result<ExitCode> {
    let mut args = args.into_iter().peekable();
    match args.peek().map(String::as_str) {
        Some("engine") => {
            args.next();
            let bytes = match args.next() {
                Some(s) => crate::fixtures::parse_size(&s).map_err(anyhow::Error::msg)?,
                None => 1 << 30,
            };
            let bytes = bytes.to_string();
            Ok(exit(cargo(&[
                "run",
                "--quiet",
                "--release",
                "-p",
                "scan-engine",
                "--example",
                "engine_bench",
                "--",
                &bytes,
            ])?))
        }
        Some("-h" | "--help") => {
            println!(
                "usage: cargo xtask bench engine [BYTES]        scan-engine throughput (default 1G)\n       \
                 cargo xtask bench [daemons] [--quick] [--skip-real] [--out DIR] [--only STEP,..]\n\n\
                 `daemons` compares the fakes with the real clamd and a raw loopback copy\n\
                 and writes target/bench/bench.json and bench.md. Steps: startup, instream,\n\
                 ping, idle, vfindd, dbload, suite."
            );
            Ok(ExitCode::SUCCESS)
        }
        _ => {
            if args.peek().map(String::as_str) == Some("daemons") {
                args.next();
            }
            if !cargo(&[
                "build",
                "--quiet",
                "--release",
                "-p",
                "fake-clamd",
                "-p",
                "fake-vfindd",
                "-p",
                "avc-bench",
            ])? {
                anyhow::bail!("release build failed");
            }
            let bin = target_dir().join("release").join("avc-bench");
            let status = Command::new(&bin)
                .current_dir(crate::workspace_root())
                .args(args)
                .status()?;
            Ok(exit(status.success()))
        }
    }
}
