//! `cargo xtask fuzz`: run one fuzz target for a given time.
//!
//! The target bodies live in `crates/hostile-tests/src/targets.rs`; `fuzz/` wraps them as
//! cargo-fuzz (libFuzzer) targets. libFuzzer needs nightly-only rustc flags: on a stable
//! toolchain this task sets `RUSTC_BOOTSTRAP=1` for the cargo-fuzz build (which works with
//! `--sanitizer none`, the default here). Without `cargo-fuzz` installed (or with
//! `--engine loop`) it runs the time-bounded mutation loop
//! `crates/hostile-tests/examples/fuzz_loop.rs` over the same bodies instead.

use std::path::Path;
use std::process::{Command, ExitCode};

use anyhow::{bail, Context};
use clap::{Parser, ValueEnum};

/// Target names; kept in sync with `hostile_tests::TARGETS` and `fuzz/Cargo.toml` (a test
/// in hostile-tests checks the manifest).
const TARGETS: &[(&str, &str)] = &[
    (
        "clamd_command",
        "clamd_proto::CommandDecoder over arbitrary reads",
    ),
    (
        "clamd_instream",
        "clamd_proto::InstreamDecoder: quota, split independence",
    ),
    (
        "clamd_conf",
        "fake_clamd::conf::ClamdConf::parse + Config::from_conf",
    ),
    (
        "svsp_line",
        "svsp_proto::LineFramer + parse_line, encode round trip",
    ),
    (
        "svsp_response",
        "svsp_proto::parse_response, encode round trip",
    ),
    (
        "sigdb",
        "scan_engine add_text (.hdb/.hsb/.ndb) + chunked scan",
    ),
    (
        "archive",
        "scan_engine::scan_reader (tar/gzip/zip), small limits",
    ),
    (
        "mail",
        "scan_engine mail/MIME/mbox walk: split independence",
    ),
    (
        "compressed",
        "scan_engine bzip2/xz members: limits, split independence",
    ),
    (
        "cpio",
        "scan_engine cpio walk (odc/newc/crc/binary): split independence",
    ),
    (
        "sevenz",
        "scan_engine 7z walk (memory-limited coders): split independence",
    ),
    (
        "ole2",
        "scan_engine OLE2 walk (streams, Ole10Native, PowerPoint objects)",
    ),
    (
        "rtf",
        "scan_engine RTF \\objdata objects: split independence",
    ),
    (
        "pdf",
        "scan_engine PDF streams (Flate, ASCIIHex): split independence",
    ),
    ("html", "scan_engine HTML data: URIs: split independence"),
    (
        "legacy",
        "scan_engine BinHex/SZDD/TNEF/CAB/SIS/ARJ/CHM/implode walks: limits, split independence",
    ),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Engine {
    /// cargo-fuzz if installed, else the mutation loop.
    Auto,
    /// cargo-fuzz / libFuzzer (`cargo install cargo-fuzz`).
    Libfuzzer,
    /// The mutation loop (stable Rust, no extra tools).
    Loop,
}

#[derive(Parser, Debug)]
#[command(
    name = "cargo xtask fuzz",
    about = "Run a fuzz target for a given time (cargo-fuzz/libFuzzer, or a mutation loop)",
    after_help = "Corpus: fuzz/corpus/<target> (grown by libFuzzer), seeds: fuzz/seeds/<target>, \
crashes: fuzz/artifacts/<target>. Minimise a crash with \
`RUSTC_BOOTSTRAP=1 cargo fuzz tmin -s none <target> <file>` in fuzz/."
)]
pub struct Cli {
    /// The target (see --list).
    #[arg(required_unless_present = "list")]
    target: Option<String>,
    /// List the targets and exit.
    #[arg(long)]
    list: bool,
    /// Seconds to run.
    #[arg(long, default_value_t = 600)]
    time: u64,
    /// Which fuzzer to use.
    #[arg(long, value_enum, default_value_t = Engine::Auto)]
    engine: Engine,
    /// cargo-fuzz sanitizer (none, address, ...); `address` needs the ASan runtime.
    #[arg(long, default_value = "none")]
    sanitizer: String,
    /// libFuzzer -rss_limit_mb.
    #[arg(long, default_value_t = 2048)]
    rss_limit_mb: u64,
    /// libFuzzer -max_len.
    #[arg(long, default_value_t = 65536)]
    max_len: usize,
    /// Extra arguments passed to libFuzzer as is (after `--`).
    #[arg(last = true)]
    libfuzzer_args: Vec<String>,
}

fn cargo_fuzz_available() -> bool {
    Command::new("cargo")
        .args(["fuzz", "--version"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    if cli.list {
        for (name, about) in TARGETS {
            println!("{name:16} {about}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    let target = cli.target.clone().unwrap_or_default();
    if !TARGETS.iter().any(|(n, _)| *n == target) {
        eprintln!("xtask fuzz: unknown target `{target}` (see --list)");
        return Ok(ExitCode::from(2));
    }
    let root = crate::workspace_root();
    let fuzz_dir = root.join("fuzz");
    let engine = match cli.engine {
        Engine::Auto if cargo_fuzz_available() => Engine::Libfuzzer,
        Engine::Auto => {
            eprintln!("xtask fuzz: cargo-fuzz not found, using the mutation loop (cargo install cargo-fuzz for libFuzzer)");
            Engine::Loop
        }
        e => e,
    };
    let status = match engine {
        Engine::Libfuzzer => run_libfuzzer(&cli, &target, &fuzz_dir)?,
        _ => run_loop(&cli, &target, &root)?,
    };
    Ok(match status.code() {
        Some(0) => ExitCode::SUCCESS,
        Some(c) => {
            eprintln!(
                "xtask fuzz: {target} failed (exit {c}); crash inputs are in {}",
                fuzz_dir.join("artifacts").join(&target).display()
            );
            ExitCode::from(1)
        }
        None => bail!("the fuzzer was killed by a signal"),
    })
}

fn run_libfuzzer(
    cli: &Cli,
    target: &str,
    fuzz_dir: &Path,
) -> anyhow::Result<std::process::ExitStatus> {
    let corpus = fuzz_dir.join("corpus").join(target);
    std::fs::create_dir_all(&corpus).with_context(|| format!("creating {}", corpus.display()))?;
    let seeds = fuzz_dir.join("seeds").join(target);
    let mut cmd = Command::new("cargo");
    cmd.current_dir(fuzz_dir)
        // libFuzzer instrumentation flags are nightly-only; this lets a stable rustc accept them
        .env("RUSTC_BOOTSTRAP", "1")
        .args(["fuzz", "run", "--sanitizer", &cli.sanitizer, target])
        .arg(&corpus);
    if seeds.is_dir() {
        cmd.arg(&seeds);
    }
    cmd.arg("--")
        .arg(format!("-max_total_time={}", cli.time))
        .arg(format!("-rss_limit_mb={}", cli.rss_limit_mb))
        .arg(format!("-max_len={}", cli.max_len))
        .arg("-print_final_stats=1")
        .args(&cli.libfuzzer_args);
    eprintln!("xtask fuzz: {cmd:?}");
    cmd.status().context("running cargo fuzz")
}

fn run_loop(cli: &Cli, target: &str, root: &Path) -> anyhow::Result<std::process::ExitStatus> {
    let mut cmd = Command::new("cargo");
    cmd.current_dir(root)
        .args([
            "run",
            "-p",
            "hostile-tests",
            "--release",
            "--example",
            "fuzz_loop",
            "--",
            target,
        ])
        .arg(cli.time.to_string());
    eprintln!("xtask fuzz: {cmd:?}");
    cmd.status().context("running the fuzz loop")
}
