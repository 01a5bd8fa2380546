//! `avc-conformance`: the harness binary (same interface as `cargo xtask conformance`).

fn main() -> std::process::ExitCode {
    // args_os: a non-UTF-8 argument is a usage error (exit 2), not a panic in std::env::args.
    std::process::ExitCode::from(harness::cli::main_with_os_args(
        std::env::args_os().skip(1).collect(),
    ))
}
