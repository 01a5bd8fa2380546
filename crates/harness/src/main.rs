//! `avc-conformance`: the harness binary (same interface as `cargo xtask conformance`).

fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(harness::cli::main_with_args(
        std::env::args().skip(1).collect(),
    ))
}
