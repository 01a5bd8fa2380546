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

/// Parses a task's arguments with clap and runs the task; after help (exit 0) or a usage
/// error (exit 2), which clap has printed, the task does not run.
fn parsed<A: clap::Parser>(
    task: &str,
    args: Vec<String>,
    run: fn(A) -> anyhow::Result<ExitCode>,
) -> anyhow::Result<ExitCode> {
    match A::try_parse_from(std::iter::once(format!("cargo xtask {task}")).chain(args)) {
        Ok(parsed) => run(parsed),
        Err(e) => {
            let _ = e.print();
            Ok(ExitCode::from(if e.use_stderr() { 2 } else { 0 }))
        }
    }
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
        "fixtures" => parsed(&task, rest, fixtures::run),
        "oracle" => parsed(&task, rest, oracle::run),
        "bench" => bench::run(rest),
        "test" => parsed(&task, rest, test::run),
        "fuzz" => parsed(&task, rest, fuzz::run),
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
