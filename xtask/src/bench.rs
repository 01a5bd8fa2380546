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
            let mut cmd = Command::new(&bin);
            cmd.current_dir(crate::workspace_root());
            if let Some(st) = static_fake_clamd()? {
                cmd.arg("--fake-clamd-static").arg(st);
            }
            let status = cmd.args(args).status()?;
            Ok(exit(status.success()))
        }
    }
}

/// The start-up rows' second binary: fake-clamd linked static and non-PIE, without debug
/// info (no dynamic loader, no relocations, a sixth of the size), built in its own target
/// directory so the flags touch nothing else. x86_64 Linux (glibc) only; None elsewhere or
/// when the build fails (the rows then measure the release binary alone).
fn static_fake_clamd() -> anyhow::Result<Option<PathBuf>> {
    const TRIPLE: &str = "x86_64-unknown-linux-gnu";
    if !cfg!(all(
        target_arch = "x86_64",
        target_os = "linux",
        target_env = "gnu"
    )) {
        return Ok(None);
    }
    let dir = target_dir().join("bench-static");
    let ok = Command::new(env!("CARGO"))
        .current_dir(crate::workspace_root())
        .args([
            "build",
            "--quiet",
            "--release",
            "-p",
            "fake-clamd",
            "--target",
            TRIPLE,
        ])
        .env("CARGO_TARGET_DIR", &dir)
        // with --target these reach the binary only, not build scripts or proc macros
        .env(
            "RUSTFLAGS",
            "-C target-feature=+crt-static -C relocation-model=static",
        )
        .env("CARGO_PROFILE_RELEASE_DEBUG", "0")
        .env("CARGO_PROFILE_RELEASE_STRIP", "true")
        .status()?
        .success();
    if !ok {
        eprintln!(
            "bench: the static fake-clamd did not build; start-up rows use the release binary"
        );
        return Ok(None);
    }
    Ok(Some(dir.join(TRIPLE).join("release").join("fake-clamd")))
}
