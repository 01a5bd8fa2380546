//! The `cargo xtask oracle record|replay` operations, as library functions.

use std::path::Path;
use std::time::Duration;

use crate::case::{Case, CaseFile};
use crate::env::OracleEnv;
use crate::real::RealClamd;
use crate::runner::Target;
use crate::suite::{diff, run_cases, to_transcripts, Existing, Launcher, RealLauncher};
use crate::transcript::{Mismatch, TranscriptFile};
use crate::Error;

/// Conversations run at once.
pub const PARALLEL: usize = 8;

/// Cases whose name contains `filter` (all if `None`).
pub fn select(file: &CaseFile, filter: Option<&str>) -> Vec<Case> {
    file.cases
        .iter()
        .filter(|c| match filter {
            None => true,
            Some(f) => c.name.contains(f),
        })
        .cloned()
        .collect()
}

/// What a recording did.
pub struct RecordSummary {
    pub cases: usize,
    pub version: String,
    pub startups: Vec<(String, Duration)>,
}

/// Records every case against the real clamd and writes the transcript file. With a filter,
/// the matching transcripts are replaced in an existing file and the rest kept.
pub fn record(cases_path: &Path, out: &Path, filter: Option<&str>) -> Result<RecordSummary, Error> {
    if !RealClamd::available() {
        return Err(Error::Clamd(format!(
            "{} not found (install clamav-daemon, or set AVC_CLAMD_BIN)",
            RealClamd::bin().display()
        )));
    }
    let file = CaseFile::load(cases_path)?;
    let cases = select(&file, filter);
    let version = RealClamd::version()?;
    let env = OracleEnv::create()?;
    let run = run_cases(&file, &cases, &env, &RealLauncher, PARALLEL)?;
    let mut tf = to_transcripts(&run, &env, &version)?;
    if filter.is_some() && out.exists() {
        let old = TranscriptFile::load(out)?;
        let mut ts = tf.transcripts;
        for t in old.transcripts {
            if !ts.iter().any(|n| n.name == t.name) {
                ts.push(t);
            }
        }
        tf = TranscriptFile::new(&version, ts);
    }
    // Drop transcripts of cases that no longer exist.
    tf.transcripts
        .retain(|t| file.cases.iter().any(|c| c.name == t.name));
    std::fs::write(out, tf.to_json()).map_err(|e| Error::io(out, e))?;
    Ok(RecordSummary {
        cases: cases.len(),
        version,
        startups: run.startups,
    })
}

/// Replays the recorded cases against `launcher`'s servers; returns the mismatches.
pub fn replay_with(
    cases_path: &Path,
    transcripts: &Path,
    filter: Option<&str>,
    launcher: &dyn Launcher,
    env: &OracleEnv,
) -> Result<(usize, Vec<Mismatch>), Error> {
    let file = CaseFile::load(cases_path)?;
    let rec = TranscriptFile::load(transcripts)?;
    let cases = select(&file, filter);
    let run = run_cases(&file, &cases, env, launcher, PARALLEL)?;
    Ok((cases.len(), diff(&run, &rec, env, &rec.clamd_version)))
}

/// Replays against an already running server at `target`. Only cases of `profile` that do not
/// need a fresh server are run (the server must have been started with the matching config and
/// the corpus must be at `corpus`). Returns (cases run, mismatches).
pub fn replay_existing(
    cases_path: &Path,
    transcripts: &Path,
    target: Target,
    profile: &str,
    filter: Option<&str>,
    env: &OracleEnv,
) -> Result<(usize, Vec<Mismatch>), Error> {
    let file = CaseFile::load(cases_path)?;
    let rec = TranscriptFile::load(transcripts)?;
    let cases: Vec<Case> = select(&file, filter)
        .into_iter()
        .filter(|c| {
            c.profile == profile && (target.unix.is_some() || c.transport == crate::Transport::Tcp)
        })
        .collect();
    let run = run_cases(&file, &cases, env, &Existing(target), PARALLEL)?;
    Ok((cases.len(), diff(&run, &rec, env, &rec.clamd_version)))
}
