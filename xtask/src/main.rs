//! `cargo xtask <task>`: the project's task runner (rust-analyzer's xtask pattern).
//!
//! Each task lives in its own module and parses its own arguments, so that tasks can grow
//! independently; this file only dispatches.

mod bench;
mod conformance;
mod fixtures;
mod fuzz;
mod oracle;
mod test;

use std::process::ExitCode;

const USAGE: &str = "\
usage: cargo xtask <task> [args...]

tasks:
  conformance   run the conformance suites (clients against the fake daemons, server suites)
  fixtures      write the test corpus (EICAR variants, archives, clean data, signature DBs)
  oracle        record / replay transcripts of the real clamd
  bench         benchmarks (engine, daemons vs real clamd and loopback)
  fuzz          run a fuzz target for a time (cargo-fuzz, or a mutation loop on stable)
  test          what CI checks: cargo fmt --check, clippy -D warnings, cargo test --workspace

`cargo xtask <task> --help` describes each task.";

/// The workspace root (xtask lives one level below it).
pub fn workspace_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask is inside the workspace")
        .to_path_buf()
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(task) = args.next() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let rest: Vec<String> = args.collect();
    let result = match task.as_str() {
        "conformance" => conformance::run(rest),
        "fixtures" => fixtures::run(rest),
        "oracle" => oracle::run(rest),
        "bench" => bench::run(rest),
        "test" => test::run(rest),
        "fuzz" => fuzz::run(rest),
        "-h" | "--help" | "help" => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        other => {
            eprintln!("xtask: unknown task `{other}`\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("xtask {task}: error: {err:#}");
            ExitCode::from(2)
        }
    }
}
