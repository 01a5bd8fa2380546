//! `cargo xtask fixtures [--out DIR] [--large SIZE]...`: write the test corpus.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

/// Write every test input of the project (EICAR variants, archives, clean random data,
/// signature DBs for the real clamd and the fakes) plus `manifest.json`.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask fixtures")]
pub struct Args {
    /// Output directory [default: target/fixtures]
    #[arg(long)]
    out: Option<PathBuf>,
    /// Also write a clean random file of this size (e.g. 1G, 512M, 4096); repeatable.
    #[arg(long, value_parser = parse_size)]
    large: Vec<u64>,
}

/// `123`, `64K`, `512M`, `2G` (binary units, as clamd.conf sizes).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (digits, mult) = match s.chars().last().map(|c| c.to_ascii_uppercase()) {
        Some('K') => (&s[..s.len() - 1], 1u64 << 10),
        Some('M') => (&s[..s.len() - 1], 1 << 20),
        Some('G') => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .ok_or_else(|| format!("`{s}` is not a size (examples: 4096, 64K, 512M, 2G)"))
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let out = args
        .out
        .unwrap_or_else(|| fixtures::default_dir(&crate::workspace_root()));
    let manifest = fixtures::write_corpus(
        &out,
        &fixtures::CorpusOptions {
            large_sizes: args.large,
        },
    )?;
    let bytes: u64 = manifest.entries.iter().map(|e| e.size).sum();
    println!(
        "wrote {} files ({} bytes) and db/ to {}",
        manifest.entries.len(),
        bytes,
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}
