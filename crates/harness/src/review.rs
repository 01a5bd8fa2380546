//! Snapshot review without cargo-insta: comparing a run's transcripts with the stored
//! snapshots (CI vs local behaviour, the summary of new and pending snapshots) and the
//! `review` subcommand that shows pending differences and accepts them. Everything works
//! from the `avc-conformance` binary alone, so a client in any language never needs cargo.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::Parser;

use crate::judge::{Failure, Status};
use crate::profile::ClientProfile;
use crate::runner::CaseResult;
use crate::snapshot::{self, Mode, NotKept, SnapshotOutcome};

/// Where snapshots are and how differences are handled in a run.
#[derive(Debug, Clone)]
pub struct Options {
    /// `<dir>/<client>/<case>.snap`.
    pub dir: PathBuf,
    pub mode: Mode,
}

impl Options {
    /// `--snapshots DIR` (relative to the current directory) or the repository's
    /// `conformance/snapshots`; CI from the environment.
    pub fn new(root: &Path, dir: Option<&Path>, accept: bool) -> Options {
        Options {
            dir: snapshot_dir(root, dir),
            mode: Mode {
                accept,
                ci: ci_from_env(),
            },
        }
    }
}

/// The snapshot directory: the given one, or `<root>/conformance/snapshots`.
pub fn snapshot_dir(root: &Path, dir: Option<&Path>) -> PathBuf {
    match dir {
        Some(d) => d.to_path_buf(),
        None => root.join("conformance").join("snapshots"),
    }
}

/// CI systems set `CI` (GitHub, GitLab, most others); `CI=false` or `0` or empty is not CI.
pub fn ci_from_env() -> bool {
    std::env::var("CI").is_ok_and(|v| !matches!(v.trim(), "" | "0" | "false" | "FALSE" | "False"))
}

/// Compares each result's transcript with its snapshot (profiles with `snapshots = false`
/// and cases that did not run are left alone), turns differences into failures, and returns
/// summary lines (new, accepted and pending snapshots, with their counts), also printed to
/// stderr.
pub fn check_all(
    results: &mut [CaseResult],
    profiles: &[ClientProfile],
    opts: &Options,
) -> Vec<String> {
    let noted: Vec<Noted> = results
        .iter_mut()
        .filter_map(|r| check_one(r, profiles, opts))
        .collect();
    summarize(&noted)
}

/// What [`check_one`] did with a snapshot that did not simply match, with the case's
/// `client/case` name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Noted {
    Written(String),
    Updated(String),
    Pending(String),
    /// No snapshot written: the client never reached the daemon.
    NotReached(String),
    /// No snapshot written: the client's output matched no verdict rule.
    NoVerdict(String),
    /// No snapshot written: the client hung (killed at the profile timeout).
    Hung(String),
    /// A stored snapshot not compared (a failure): the client never reached the daemon.
    Uncompared(String),
}

impl Noted {
    /// Its summary line in [`summarize`]: where the line stands, what it says, and whether a
    /// long list of names is cut short.
    fn group(&self) -> (usize, String, bool) {
        match self {
            Noted::Written(_) => (0, "new snapshot(s) written (commit them)".into(), false),
            Noted::Updated(_) => (1, "snapshot(s) accepted".into(), false),
            Noted::Pending(_) => (
                2,
                "snapshot(s) pending: show with `avc-conformance review`, accept with \
                 `avc-conformance review --accept`"
                    .into(),
                false,
            ),
            Noted::Uncompared(_) => (
                3,
                format!("stored snapshot(s) not compared (failed): {NOT_REACHED}"),
                true,
            ),
            Noted::NoVerdict(_) => (
                4,
                format!("case(s) without a new snapshot: {NO_VERDICT}"),
                true,
            ),
            Noted::Hung(_) => (5, format!("case(s) without a new snapshot: {HUNG}"), true),
            Noted::NotReached(_) => (
                6,
                format!("case(s) without a new snapshot (nothing to keep): {NOT_REACHED}"),
                true,
            ),
        }
    }

    /// The case's `client/case` name.
    pub fn name(&self) -> &str {
        match self {
            Noted::Written(n)
            | Noted::Updated(n)
            | Noted::Pending(n)
            | Noted::NotReached(n)
            | Noted::NoVerdict(n)
            | Noted::Hung(n)
            | Noted::Uncompared(n) => n,
        }
    }
}

/// Compares one result's transcript with its snapshot (see [`check_all`]); a difference
/// becomes a failure of the case.
pub fn check_one(r: &mut CaseResult, profiles: &[ClientProfile], opts: &Options) -> Option<Noted> {
    if !matches!(r.status, Status::Pass | Status::Fail | Status::FailOpen) {
        return None;
    }
    let profile = profiles
        .iter()
        .find(|p| p.name == r.client && p.snapshots)?;
    let text = snapshot::render(
        r.protocol,
        &r.case_id,
        r.expected,
        r.got,
        &r.transcript,
        &r.redactions,
        profile.snapshot_order,
    );
    let name = format!("{}/{}", r.client, r.case_id);
    let path = snapshot::path_for(&opts.dir, &r.client, &r.case_id);
    let source = profile.source.as_deref();
    match snapshot::check(&opts.dir, &r.client, &r.case_id, source, &text, opts.mode) {
        SnapshotOutcome::Matched => None,
        SnapshotOutcome::Written => {
            r.note = Some("new snapshot written".into());
            Some(Noted::Written(name))
        }
        SnapshotOutcome::Updated => {
            r.note = Some("snapshot accepted".into());
            Some(Noted::Updated(name))
        }
        SnapshotOutcome::Missing => {
            fail(
                r,
                format!("a stored snapshot {}", path.display()),
                format!(
                    "no snapshot stored, and CI is set so none is written; accept it \
                     locally with {}",
                    accept_command(profile, &r.case_id, opts)
                ),
                String::new(),
            );
            Some(Noted::Pending(name))
        }
        SnapshotOutcome::Mismatch(diff) => {
            fail(
                r,
                format!("transcript as in {}", path.display()),
                format!(
                    "the client's protocol exchange or verdict changed; see it with `avc-conformance \
                     review{}`, accept it with {}",
                    dir_flag(opts),
                    accept_command(profile, &r.case_id, opts)
                ),
                diff,
            );
            Some(Noted::Pending(name))
        }
        // Nothing listens in a refused case (`daemon::RunningDaemon::Refused`): no
        // connection is what the case is about, not a client that failed to start.
        SnapshotOutcome::NotWritten(NotKept::NoConnection) if r.daemon == "refuse" => {
            r.note = Some("no snapshot: nothing listens in this case".into());
            None
        }
        SnapshotOutcome::NotWritten(NotKept::NoConnection) => {
            r.note = Some(format!("no snapshot written: {NOT_REACHED}"));
            Some(Noted::NotReached(name))
        }
        // a hang is fixed by a client timeout, not by the profile's `[verdicts]`
        SnapshotOutcome::NotWritten(NotKept::NoVerdict)
            if r.run.as_ref().is_some_and(|x| x.timed_out) =>
        {
            r.note = Some(format!("no snapshot written: {HUNG}"));
            Some(Noted::Hung(name))
        }
        SnapshotOutcome::NotWritten(NotKept::NoVerdict) => {
            r.note = Some(format!("no snapshot written: {NO_VERDICT}"));
            Some(Noted::NoVerdict(name))
        }
        SnapshotOutcome::Uncompared => {
            fail(
                r,
                format!("transcript as in {}", path.display()),
                format!(
                    "{NOT_REACHED}, so there is nothing to compare with the stored snapshot \
                     (which records a protocol exchange); nothing was written. If the client \
                     is now meant not to connect in this case, delete that file"
                ),
                String::new(),
            );
            Some(Noted::Uncompared(name))
        }
        SnapshotOutcome::Error(e) => {
            r.note = Some(format!("snapshot: {e}"));
            None
        }
    }
}

/// Why a case has no transcript to snapshot (its output, in the report, says more).
const NOT_REACHED: &str = "the client never reached the daemon (it did not start, crashed \
     before it connected, or was given another address: see its output)";

/// Why a case whose client connected has no snapshot yet.
const NO_VERDICT: &str = "the client's output matched no verdict rule of the profile (a \
     crash, or `[verdicts]` to fix: see its output); the snapshot is written once a run gives \
     a verdict";

/// Why a case whose client hung has no snapshot yet.
const HUNG: &str = "the client hung and was killed at the profile's timeout: it needs its own \
     connect and read timeouts (CLAMD-CLIENT-10, SVSP-CLIENT-19); the snapshot is written once \
     a run gives a verdict";

/// The summary lines of [`check_all`] (in the order of `noted`), also printed to stderr.
pub fn summarize(noted: &[Noted]) -> Vec<String> {
    // line order -> (what the line says, whether a long list is cut short, the names)
    let mut groups: BTreeMap<usize, (String, bool, Vec<&str>)> = BTreeMap::new();
    for n in noted {
        let (at, what, short) = n.group();
        groups
            .entry(at)
            .or_insert_with(|| (what, short, Vec::new()))
            .2
            .push(n.name());
    }
    let mut notes = Vec::new();
    for (what, short, list) in groups.into_values() {
        let names = if short {
            shortlist(&list)
        } else {
            list.join(", ")
        };
        notes.push(format!("{} {what}: {names}", list.len()));
    }
    for n in &notes {
        eprintln!("conformance: {n}");
    }
    notes
}

/// The first names of a list and how many more: a client that never starts leaves every
/// case of the run without a snapshot (or its stored ones uncompared), and one line must
/// stay readable.
fn shortlist(names: &[&str]) -> String {
    const SHOWN: usize = 8;
    if names.len() <= SHOWN {
        return names.join(", ");
    }
    format!(
        "{} and {} more",
        names[..SHOWN].join(", "),
        names.len() - SHOWN
    )
}

fn fail(r: &mut CaseResult, expected: String, happened: String, excerpt: String) {
    if r.status == Status::Pass {
        r.status = Status::Fail;
    }
    r.failures.push(Failure {
        rule: crate::judge::SNAPSHOT_RULE.into(),
        kind: "snapshot".into(),
        expected,
        happened,
        excerpt,
    });
}

fn dir_flag(opts: &Options) -> String {
    if opts.dir.ends_with("conformance/snapshots") {
        String::new()
    } else {
        format!(" --snapshots {}", opts.dir.display())
    }
}

/// The command that accepts one case's snapshot (the same run, narrowed, with --accept).
fn accept_command(profile: &ClientProfile, case_id: &str, opts: &Options) -> String {
    // A profile given by path (outside conformance/clients) is named by its path again.
    let client = match &profile.source {
        Some(src)
            if !src
                .parent()
                .is_some_and(|d| d.ends_with("conformance/clients")) =>
        {
            format!("--client {}", src.display())
        }
        _ => format!("--client {}", profile.name),
    };
    format!(
        "`avc-conformance {client} --filter {case_id}{} --accept` (in this repository: \
         `cargo xtask conformance ...`), or `avc-conformance review --accept` after a local run",
        dir_flag(opts)
    )
}

/// `avc-conformance review`: show each pending snapshot difference, accept or reject them.
#[derive(Debug, Parser)]
#[command(name = "avc-conformance review", version)]
pub struct ReviewCli {
    /// Accept every pending snapshot (the `.snap.new` file replaces the `.snap`).
    #[arg(long, conflicts_with = "reject")]
    pub accept: bool,
    /// Delete every pending snapshot.
    #[arg(long)]
    pub reject: bool,
    /// Snapshot directory (default: conformance/snapshots of the repository).
    #[arg(long, value_name = "DIR")]
    pub snapshots: Option<PathBuf>,
    /// Repository root (default: found from the current directory).
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Only pending snapshots whose `client/case` contains TERM (repeat or comma-separate).
    #[arg(long, value_name = "TERM", value_delimiter = ',')]
    pub filter: Vec<String>,
}

/// Most pending files one review looks at (a bound on a directory walk).
const MAX_PENDING: usize = 10_000;

/// One pending snapshot: `client/case` and its `.snap.new` path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub name: String,
    pub path: PathBuf,
}

impl Pending {
    /// The `.snap` this pending file would replace.
    pub fn snap(&self) -> PathBuf {
        self.path.with_extension("")
    }
}

/// Pending snapshots under `dir` (`<dir>/<client>/<case>.snap.new`), sorted by name.
pub fn pending(dir: &Path) -> std::result::Result<Vec<Pending>, String> {
    let mut out = Vec::new();
    let clients = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for c in clients.flatten() {
        if !c.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let Ok(files) = std::fs::read_dir(c.path()) else {
            continue;
        };
        for f in files.flatten() {
            let file = f.file_name().to_string_lossy().into_owned();
            if let Some(case) = file.strip_suffix(".snap.new") {
                out.push(Pending {
                    name: format!("{}/{case}", c.file_name().to_string_lossy()),
                    path: f.path(),
                });
                if out.len() >= MAX_PENDING {
                    break;
                }
            }
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// The review text of one pending snapshot: a diff from the stored one, or the whole new one.
pub fn show(p: &Pending) -> std::result::Result<String, String> {
    let new = snapshot::read_body(&p.path)?.unwrap_or_default();
    Ok(match snapshot::read_body(&p.snap())? {
        Some(old) => format!(
            "pending: {} (changed)\n{}",
            p.name,
            snapshot::diff(&old, &new)
        ),
        None => format!(
            "pending: {} (new)\n{}\n",
            p.name,
            new.lines()
                .map(|l| format!("+{l}"))
                .collect::<Vec<_>>()
                .join("\n")
        ),
    })
}

/// Runs `review` with its arguments (after the word `review`); returns the exit code:
/// 0 nothing left pending, 1 differences shown but not accepted, 2 bad arguments, 3 the
/// snapshot directory cannot be read or a file cannot be moved.
pub fn main(args: Vec<OsString>) -> u8 {
    let cli = match ReviewCli::try_parse_from(
        std::iter::once(OsString::from("avc-conformance review")).chain(args),
    ) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 2 } else { 0 };
        }
    };
    let root = match (&cli.snapshots, &cli.root) {
        (Some(_), _) => PathBuf::new(),
        (None, Some(r)) => r.clone(),
        (None, None) => {
            let found = std::env::current_dir()
                .ok()
                .and_then(|d| crate::runner::find_root(&d));
            match found {
                Some(r) => r,
                None => {
                    eprintln!("conformance review: cannot find the repository root (a directory with conformance/); use --snapshots DIR or --root");
                    return 2;
                }
            }
        }
    };
    let dir = snapshot_dir(&root, cli.snapshots.as_deref());
    let all = match pending(&dir) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("conformance review: {e}");
            return 3;
        }
    };
    let selected: Vec<Pending> = all
        .into_iter()
        .filter(|p| cli.filter.is_empty() || cli.filter.iter().any(|f| p.name.contains(f)))
        .collect();
    if selected.is_empty() {
        println!("no pending snapshots in {}", dir.display());
        return 0;
    }
    let mut failed = false;
    for p in &selected {
        match show(p) {
            Ok(text) => println!("{text}"),
            Err(e) => {
                eprintln!("conformance review: {e}");
                failed = true;
                continue;
            }
        }
        let done = if cli.accept {
            std::fs::rename(&p.path, p.snap()).map(|_| "accepted")
        } else if cli.reject {
            std::fs::remove_file(&p.path).map(|_| "rejected")
        } else {
            Ok("")
        };
        match done {
            Ok("") => {}
            Ok(what) => println!("{what}: {}\n", p.name),
            Err(e) => {
                eprintln!("conformance review: {}: {e}", p.path.display());
                failed = true;
            }
        }
    }
    if failed {
        return 3;
    }
    if cli.accept || cli.reject {
        0
    } else {
        println!(
            "{} pending snapshot(s); accept them with `avc-conformance review --accept{}` (or --reject)",
            selected.len(),
            cli.snapshots
                .as_deref()
                .map(|d| format!(" --snapshots {}", d.display()))
                .unwrap_or_default()
        );
        1
    }
}
