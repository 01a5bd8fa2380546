//! `cargo xtask oracle`: record the real clamd answering the raw-byte case table
//! (`conformance/oracle/cases.toml`) into `conformance/oracle/transcripts.json`, and replay
//! the recording against a server (spec `shared/spec/clamd.md`, section 18).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clamd_oracle::tasks;
use clamd_oracle::{OracleEnv, RealLauncher, Target};
use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "cargo xtask oracle",
    about = "Record the real clamd's answers to raw-byte cases, and replay them against a server",
    long_about = "Record the real clamd (ClamAV 1.4.x, /usr/sbin/clamd or $AVC_CLAMD_BIN) answering \
the raw-byte case table conformance/oracle/cases.toml, with a generated clamd.conf, a tiny signature \
DB (eicar.hdb + markers.ndb) and a corpus made at run time; write the transcripts (paths, version and \
fd numbers templated) to conformance/oracle/transcripts.json. Replay diffs a recording against a \
server. The test `cargo test -p clamd-oracle` replays every case against the fake clamd."
)]
pub struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Record transcripts from the real clamd (started per profile as a child process).
    Record {
        /// Output file.
        #[arg(long, default_value_os_t = clamd_oracle::default_transcripts_path())]
        out: PathBuf,
        /// Case table.
        #[arg(long, default_value_os_t = clamd_oracle::default_cases_path())]
        cases: PathBuf,
        /// Only cases whose name contains this text (their transcripts are replaced, the rest kept).
        #[arg(long)]
        filter: Option<String>,
    },
    /// Replay the recorded transcripts and print every difference (exit 1 if any).
    ///
    /// Without --server, each profile's server is a freshly started real clamd (checks that the
    /// recording is reproducible). With --server ADDR, the cases of one profile are played
    /// against that running server; it must load the oracle DB (see `oracle db`) and be able to
    /// read the corpus this command creates under $TMPDIR, and cases that stop the daemon are
    /// skipped.
    Replay {
        /// A running clamd-compatible server (host:port on loopback).
        #[arg(long)]
        server: Option<SocketAddr>,
        /// Its unix socket, for the unix-transport cases (with --server).
        #[arg(long)]
        unix: Option<PathBuf>,
        /// The profile the running server was configured as (with --server).
        #[arg(long, default_value = "main")]
        profile: String,
        /// Recorded transcripts.
        #[arg(long, default_value_os_t = clamd_oracle::default_transcripts_path())]
        transcripts: PathBuf,
        /// Case table.
        #[arg(long, default_value_os_t = clamd_oracle::default_cases_path())]
        cases: PathBuf,
        /// Only cases whose name contains this text.
        #[arg(long)]
        filter: Option<String>,
    },
    /// Write the oracle signature DB (eicar.hdb, markers.ndb) into DIR.
    Db {
        /// Target directory (created if missing).
        dir: PathBuf,
    },
}

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.cmd {
        Cmd::Record { out, cases, filter } => {
            let s = tasks::record(&cases, &out, filter.as_deref())?;
            println!(
                "recorded {} cases from clamd {} into {}",
                s.cases,
                s.version,
                out.display()
            );
            for (profile, d) in &s.startups {
                println!(
                    "  startup to first PONG ({profile}): {:.1} ms",
                    d.as_secs_f64() * 1000.0
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Replay {
            server,
            unix,
            profile,
            transcripts,
            cases,
            filter,
        } => {
            let env = OracleEnv::create()?;
            let (n, mismatches) = match server {
                Some(addr) => tasks::replay_existing(
                    &cases,
                    &transcripts,
                    Target { tcp: addr, unix },
                    &profile,
                    filter.as_deref(),
                    &env,
                )?,
                None => tasks::replay_with(
                    &cases,
                    &transcripts,
                    filter.as_deref(),
                    &RealLauncher,
                    &env,
                )?,
            };
            for m in &mismatches {
                println!("MISMATCH {m}");
            }
            let bad: std::collections::BTreeSet<&str> =
                mismatches.iter().map(|m| m.case.as_str()).collect();
            println!(
                "{} cases replayed, {} matched, {} mismatched",
                n,
                n - bad.len(),
                bad.len()
            );
            Ok(if bad.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Cmd::Db { dir } => {
            std::fs::create_dir_all(&dir)?;
            std::fs::write(dir.join("eicar.hdb"), clamd_oracle::env::EICAR_HDB)?;
            std::fs::write(dir.join("markers.ndb"), clamd_oracle::env::markers_ndb())?;
            println!("wrote {}/eicar.hdb and markers.ndb", dir.display());
            Ok(ExitCode::SUCCESS)
        }
    }
}
