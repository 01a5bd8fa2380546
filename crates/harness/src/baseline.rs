//! Known-failures baseline (`--baseline FILE`, `--write-baseline FILE`): a TOML list of the
//! cases each client is allowed to fail, each with a reason. A run with a baseline exits 0
//! when only listed cases fail, and 1 on a new failure or on a listed case that now passes
//! (a stale entry must be removed, so the list only ever shrinks by intent).
//!
//! An entry may name the rule IDs (or failure kinds) its case fails for (`rules`): a
//! failure that cites anything else is a new failure, so a listed case that starts failing
//! for a new reason does not pass unnoticed. A listed case that is NOT-APPLICABLE now (its
//! fault never fired, or the client never sent the command it assumes, and nothing failed)
//! is stale like one that passes: the entry covers no failure and must go.
//!
//! A snapshot difference (`SNAPSHOT`) is no known failure: it is a change to review and
//! accept. No entry covers it, `--write-baseline` never writes it (a case whose snapshot
//! alone differs gets a comment, not an entry), and an entry naming it is an error.
//!
//! FAIL-OPEN (clean when no scan happened) is the worst defect: an entry may cover it only
//! when it says `status = "fail-open"` and the run has `--baseline-allow-fail-open`. An entry
//! for a plain failure never covers a case that has become FAIL-OPEN.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{HarnessError, Result};
use crate::judge::{Status, SNAPSHOT_RULE};
use crate::report::{Report, Row};

/// A baseline file is small; anything larger is a mistake (and would be read whole).
const MAX_FILE: u64 = 1 << 20;

/// What a baseline entry allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Allowed {
    /// A failure other than FAIL-OPEN.
    #[default]
    Fail,
    /// FAIL-OPEN as well (needs `--baseline-allow-fail-open`).
    FailOpen,
}

/// One known failure.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// The client profile name (a report suite `client:<name>`), or the suite itself for
    /// server suites (`server:clamd`).
    pub client: String,
    /// The case id.
    pub case: String,
    /// Why this failure is accepted for now (required).
    pub reason: String,
    #[serde(default, skip_serializing_if = "is_fail")]
    pub status: Allowed,
    /// The rule IDs or failure kinds (`hung`, `protocol`, ...) the case may fail for; empty:
    /// any. Every failure of the row must cite one of them (by its rule or its kind).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<String>,
}

impl Entry {
    /// The failures of `row` this entry does not cover: a snapshot difference always, and
    /// with `rules` every failure citing none of them.
    fn uncovered<'a>(&self, row: &'a Row) -> Vec<&'a crate::judge::Failure> {
        row.failures
            .iter()
            .filter(|f| {
                f.is_snapshot()
                    || !(self.rules.is_empty()
                        || self.rules.iter().any(|r| *r == f.rule || *r == f.kind))
            })
            .collect()
    }
}

fn is_fail(a: &Allowed) -> bool {
    *a == Allowed::Fail
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default, rename = "failure")]
    failures: Vec<Entry>,
}

/// A loaded baseline.
#[derive(Debug, Clone, Default)]
pub struct Baseline {
    pub path: PathBuf,
    pub entries: Vec<Entry>,
    /// `--baseline-allow-fail-open` was given.
    pub allow_fail_open: bool,
}

/// The client name of a report suite, as a baseline entry writes it.
pub fn client_of(suite: &str) -> &str {
    suite.strip_prefix("client:").unwrap_or(suite)
}

fn is_failure(s: Status) -> bool {
    matches!(s, Status::Fail | Status::FailOpen)
}

/// Reads at most `MAX_FILE` bytes of a regular file (a FIFO or device never blocks us).
fn read_bounded(path: &Path) -> Result<String> {
    // A baseline that cannot be read is a configuration error (exit 2), like a bad one.
    let bad = |m: String| HarnessError::config(path, m);
    let meta =
        std::fs::metadata(path).map_err(|e| bad(format!("cannot read the baseline: {e}")))?;
    if !meta.is_file() {
        return Err(bad("the baseline is not a regular file".into()));
    }
    let f = std::fs::File::open(path).map_err(|e| bad(format!("cannot read the baseline: {e}")))?;
    let mut buf = Vec::new();
    f.take(MAX_FILE + 1)
        .read_to_end(&mut buf)
        .map_err(|e| bad(format!("cannot read the baseline: {e}")))?;
    if buf.len() as u64 > MAX_FILE {
        return Err(bad("the baseline is larger than 1 MiB".into()));
    }
    String::from_utf8(buf).map_err(|_| bad("the baseline is not UTF-8".into()))
}

impl Baseline {
    /// Parses and checks a baseline text (`origin` names it in errors; exit 2 on any error).
    pub fn parse(text: &str, origin: &Path, allow_fail_open: bool) -> Result<Self> {
        let file: File =
            toml::from_str(text).map_err(|e| HarnessError::config(origin, e.to_string()))?;
        let mut seen = BTreeSet::new();
        for e in &file.failures {
            let what = format!("[[failure]] client = {:?}, case = {:?}", e.client, e.case);
            if e.client.trim().is_empty() || e.case.trim().is_empty() {
                return Err(HarnessError::config(
                    origin,
                    format!("{what}: client and case must not be empty"),
                ));
            }
            if e.reason.trim().is_empty() {
                return Err(HarnessError::config(
                    origin,
                    format!("{what}: every entry needs a reason"),
                ));
            }
            if !seen.insert((e.client.clone(), e.case.clone())) {
                return Err(HarnessError::config(
                    origin,
                    format!("{what}: listed twice"),
                ));
            }
            if e.rules.iter().any(|r| r.trim().is_empty()) {
                return Err(HarnessError::config(
                    origin,
                    format!("{what}: rules must not contain an empty name"),
                ));
            }
            if e.rules
                .iter()
                .any(|r| r.eq_ignore_ascii_case(SNAPSHOT_RULE))
            {
                return Err(HarnessError::config(
                    origin,
                    format!("{what}: rules name {SNAPSHOT_RULE}, but a snapshot difference is no known failure: review it (`avc-conformance review`) and accept it (`--accept`), then remove {SNAPSHOT_RULE} from rules"),
                ));
            }
            if e.status == Allowed::FailOpen && !allow_fail_open {
                return Err(HarnessError::config(
                    origin,
                    format!("{what}: allows FAIL-OPEN (the client reports clean when no scan happened); baselining that needs --baseline-allow-fail-open"),
                ));
            }
        }
        Ok(Baseline {
            path: origin.to_path_buf(),
            entries: file.failures,
            allow_fail_open,
        })
    }

    /// Loads `--baseline FILE` (None without one). `--baseline-allow-fail-open` alone is a
    /// usage error: it would be silently ignored.
    pub fn load(
        path: Option<&Path>,
        allow_fail_open: bool,
        write_path: Option<&Path>,
    ) -> Result<Option<Self>> {
        match path {
            Some(p) => Ok(Some(Self::parse(&read_bounded(p)?, p, allow_fail_open)?)),
            None if allow_fail_open && write_path.is_none() => Err(HarnessError::Usage(
                "--baseline-allow-fail-open applies to --baseline and --write-baseline".into(),
            )),
            None => Ok(None),
        }
    }

    fn entry(&self, row: &Row) -> Option<&Entry> {
        self.entries
            .iter()
            .find(|e| e.client == client_of(&row.suite) && e.case == row.id)
    }

    /// Compares a finished run with the baseline.
    pub fn check(&self, report: &Report) -> Outcome {
        let mut out = Outcome::default();
        for (i, row) in report.rows.iter().enumerate() {
            let entry = self.entry(row);
            let new_reason = entry.map(|e| e.uncovered(row)).unwrap_or_default();
            let allowed = |e: &Entry| {
                row.status == Status::Fail
                    || (e.status == Allowed::FailOpen && self.allow_fail_open)
            };
            match (entry, row.status) {
                (Some(e), Status::Fail | Status::FailOpen)
                    if allowed(e) && !new_reason.is_empty() =>
                {
                    out.new.push(i);
                    let why: Vec<String> = new_reason
                        .iter()
                        .map(|f| format!("{} {}", f.rule, f.kind))
                        .collect();
                    let listed = if e.rules.is_empty() {
                        "any failure but a snapshot difference".to_string()
                    } else {
                        e.rules.join(", ")
                    };
                    out.notes.push(format!(
                        "{} [{}] fails for a reason its baseline entry does not list: {} (the entry lists {listed})",
                        row.id,
                        row.suite,
                        why.join(", "),
                    ));
                    if new_reason.iter().any(|f| f.is_snapshot()) {
                        out.notes.push(format!(
                            "{} [{}]: its snapshot differs; no baseline covers that: review it (`avc-conformance review`) and accept it (`--accept`)",
                            row.id, row.suite
                        ));
                    }
                }
                (Some(e), Status::Fail) => out.known.push((i, e.reason.clone())),
                (Some(e), Status::FailOpen)
                    if e.status == Allowed::FailOpen && self.allow_fail_open =>
                {
                    out.known.push((i, e.reason.clone()))
                }
                (Some(_), Status::FailOpen) => {
                    out.new.push(i);
                    out.notes.push(format!(
                        "{} [{}] is FAIL-OPEN; its baseline entry allows only a plain failure (FAIL-OPEN needs status = \"fail-open\" and --baseline-allow-fail-open)",
                        row.id, row.suite
                    ));
                }
                (Some(e), Status::Pass | Status::NotApplicable) => {
                    out.stale.push((i, e.reason.clone()))
                }
                (None, s) if is_failure(s) => out.new.push(i),
                _ => {}
            }
        }
        for e in &self.entries {
            let ran = report
                .rows
                .iter()
                .any(|r| client_of(&r.suite) == e.client && r.id == e.case);
            if !ran {
                out.unchecked.push(format!("{}/{}", e.client, e.case));
            }
        }
        out
    }
}

/// How a run compares with its baseline (row indexes into the report).
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// Failing rows the baseline allows, with the entry's reason.
    pub known: Vec<(usize, String)>,
    /// Failing rows the baseline does not allow.
    pub new: Vec<usize>,
    /// Rows that pass (or are NOT-APPLICABLE, failing nothing) although the baseline lists
    /// them.
    pub stale: Vec<(usize, String)>,
    /// Entries no row of this run checked (filtered out, another partition, not available).
    pub unchecked: Vec<String>,
    pub notes: Vec<String>,
}

impl Outcome {
    pub fn is_known(&self, row: usize) -> Option<&str> {
        self.known
            .iter()
            .find(|(i, _)| *i == row)
            .map(|(_, r)| r.as_str())
    }

    pub fn is_stale(&self, row: usize) -> bool {
        self.stale.iter().any(|(i, _)| *i == row)
    }

    /// The run's exit code with this baseline: 1 on a new failure or a stale entry, else
    /// as without a baseline (3 for harness errors, or a missing client when required).
    pub fn exit_code(&self, report: &Report, require_available: bool) -> u8 {
        if !self.new.is_empty() || !self.stale.is_empty() {
            return 1;
        }
        let c = report.counts();
        if c.harness_errors > 0 || (require_available && c.not_available > 0) {
            3
        } else {
            0
        }
    }

    /// `N known failure(s), N new failure(s), N stale entries`, said by every report.
    pub fn tally(&self) -> String {
        format!(
            "{} known failure(s), {} new failure(s), {} stale entr{}",
            self.known.len(),
            self.new.len(),
            self.stale.len(),
            if self.stale.len() == 1 { "y" } else { "ies" }
        )
    }

    /// The terminal lines about the baseline.
    pub fn terminal(&self, report: &Report, path: &Path) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "\nbaseline {}: {}", path.display(), self.tally());
        for i in &self.new {
            if let Some(r) = report.rows.get(*i) {
                let _ = writeln!(s, "  NEW   {} {} [{}]", r.status.label(), r.id, r.suite);
            }
        }
        for (i, reason) in &self.stale {
            if let Some(r) = report.rows.get(*i) {
                let now = if r.status == Status::NotApplicable {
                    "is NOT-APPLICABLE now (it fails nothing)"
                } else {
                    "passes now"
                };
                let _ = writeln!(
                    s,
                    "  STALE {} [{}] {now}: remove it from the baseline (reason was: {reason})",
                    r.id, r.suite
                );
            }
        }
        for (i, reason) in &self.known {
            if let Some(r) = report.rows.get(*i) {
                let _ = writeln!(
                    s,
                    "  known {} {} [{}]: {reason}",
                    r.status.label(),
                    r.id,
                    r.suite
                );
            }
        }
        for n in &self.notes {
            let _ = writeln!(s, "  note: {n}");
        }
        if !self.unchecked.is_empty() {
            let _ = writeln!(
                s,
                "  not checked by this run: {}",
                self.unchecked.join(", ")
            );
        }
        crate::redact::text(&s)
    }
}

/// Escapes a TOML basic string (for comments and values written by hand here).
fn toml_str(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// The baseline text for the current failures (`--write-baseline`). Reasons of entries in
/// `previous` are kept; a new entry's reason is the failure's first line, to be edited.
/// Every entry names the rules its failures cite (`rules`), so a new reason is caught.
/// FAIL-OPEN rows are written as entries only with `allow_fail_open`, else as comments.
/// Snapshot differences are left out (a change to review, not a known failure); a case
/// that fails by its snapshot alone is a comment saying so.
pub fn render(report: &Report, previous: Option<&Baseline>, allow_fail_open: bool) -> String {
    let mut s = String::from(
        "# avc-conformance known failures (--baseline FILE). Each entry lets one client fail one\n\
         # case; the run exits 1 on any other failure and on an entry whose case now passes.\n",
    );
    for r in report.rows.iter().filter(|r| is_failure(r.status)) {
        let mut failures = r.failures.iter().filter(|f| !f.is_snapshot()).peekable();
        if failures.peek().is_none() && !r.failures.is_empty() {
            let _ = write!(
                s,
                "\n# {}/{}: only its snapshot differs, which no baseline covers: review it \
                 (`avc-conformance review`) and accept it (`--accept`)\n",
                client_of(&r.suite),
                r.id
            );
            continue;
        }
        let reason = previous
            .and_then(|b| b.entry(r))
            .map(|e| e.reason.clone())
            .unwrap_or_else(|| match failures.peek() {
                Some(f) => format!("{} {} {}: {}", r.status.label(), f.rule, f.kind, f.happened),
                None => format!("{}: {}", r.status.label(), r.detail),
            });
        let reason = crate::redact::text(&reason).replace(['\n', '\r'], " ");
        // a failure without a rule ID is named by its kind
        let rules: BTreeSet<&str> = failures
            .map(|f| {
                if f.rule.is_empty() {
                    f.kind.as_str()
                } else {
                    f.rule.as_str()
                }
            })
            .collect();
        let rules: Vec<String> = rules.into_iter().map(toml_str).collect();
        let mut entry = format!(
            "\n[[failure]]\nclient = {}\ncase = {}\nreason = {}\n",
            toml_str(client_of(&r.suite)),
            toml_str(&r.id),
            toml_str(&reason)
        );
        if !rules.is_empty() {
            let _ = writeln!(entry, "rules = [{}]", rules.join(", "));
        }
        if r.status == Status::FailOpen {
            entry.push_str("status = \"fail-open\"\n");
            if !allow_fail_open {
                entry = format!(
                    "\n# FAIL-OPEN: baselined only with --baseline-allow-fail-open (then uncomment)\n{}",
                    entry
                        .trim_start_matches('\n')
                        .lines()
                        .map(|l| format!("# {l}\n"))
                        .collect::<String>()
                );
            }
        }
        s.push_str(&entry);
    }
    s
}

/// Writes `--write-baseline FILE`.
pub fn write(
    path: &Path,
    report: &Report,
    previous: Option<&Baseline>,
    allow_fail_open: bool,
) -> Result<()> {
    crate::out_file::write(path, render(report, previous, allow_fail_open))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(suite: &str, id: &str, status: Status) -> Row {
        Row {
            status,
            detail: "d".into(),
            ..Row::new(
                suite.into(),
                id.into(),
                vec!["CLAMD-CLIENT-4".into()],
                String::new(),
            )
        }
    }

    fn report(rows: Vec<Row>) -> Report {
        Report {
            rows,
            seconds: 0.0,
            notes: Vec::new(),
        }
    }

    /// Issue 16 part 3: a plain-failure entry never covers FAIL-OPEN; a fail-open entry
    /// needs the flag at load time.
    #[test]
    fn fail_open_is_covered_only_by_a_fail_open_entry_with_the_flag() {
        let p = Path::new("b.toml");
        let plain = "[[failure]]\nclient = \"x\"\ncase = \"c\"\nreason = \"r\"\n";
        let b = Baseline::parse(plain, p, true).unwrap();
        let rep = report(vec![row("client:x", "c", Status::FailOpen)]);
        let o = b.check(&rep);
        assert_eq!(o.new, vec![0]);
        assert_eq!(o.exit_code(&rep, false), 1);

        let fo = format!("{plain}status = \"fail-open\"\n");
        let err = Baseline::parse(&fo, p, false).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(
            err.to_string().contains("--baseline-allow-fail-open"),
            "{err}"
        );
        let b = Baseline::parse(&fo, p, true).unwrap();
        let o = b.check(&rep);
        assert!(o.new.is_empty() && o.known.len() == 1);
        assert_eq!(o.exit_code(&rep, false), 0);
    }

    /// Issue 16 part 3: entries without a reason, duplicates and unknown keys are
    /// configuration errors (exit 2).
    #[test]
    fn bad_baselines_are_configuration_errors() {
        let p = Path::new("b.toml");
        for bad in [
            "[[failure]]\nclient = \"x\"\ncase = \"c\"\nreason = \" \"\n",
            "[[failure]]\nclient = \"x\"\ncase = \"c\"\n",
            "[[failure]]\nclient = \"x\"\ncase = \"c\"\nreason = \"r\"\n[[failure]]\nclient = \"x\"\ncase = \"c\"\nreason = \"r\"\n",
            "[[failure]]\nclient = \"x\"\ncase = \"c\"\nreason = \"r\"\ncolour = 1\n",
            "[[failure]\n",
        ] {
            let e = Baseline::parse(bad, p, false).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{bad}: {e}");
        }
    }

    /// Issue 16 part 3: the written text loads back and covers exactly the failures; a
    /// FAIL-OPEN row stays a comment unless allowed.
    #[test]
    fn written_baseline_loads_back_and_covers_the_failures() {
        let rep = report(vec![
            row("client:x", "a", Status::Fail),
            row("client:x", "b", Status::Pass),
            row("server:clamd", "s", Status::Fail),
            row("client:y", "fo", Status::FailOpen),
        ]);
        let text = render(&rep, None, false);
        let b = Baseline::parse(&text, Path::new("w.toml"), false).unwrap();
        assert_eq!(b.entries.len(), 2, "{text}");
        assert!(text.contains("# case = \"fo\""), "{text}");
        let o = b.check(&rep);
        assert_eq!(o.new, vec![3]);
        let text = render(&rep, Some(&b), true);
        let b = Baseline::parse(&text, Path::new("w.toml"), true).unwrap();
        assert_eq!(b.entries.len(), 3);
        assert_eq!(b.check(&rep).exit_code(&rep, false), 0);
    }

    fn failing(id: &str, rules: &[(&str, &str)]) -> Row {
        Row {
            failures: rules
                .iter()
                .map(|(rule, kind)| crate::judge::Failure {
                    rule: (*rule).into(),
                    kind: (*kind).into(),
                    expected: "e".into(),
                    happened: "h".into(),
                    excerpt: String::new(),
                })
                .collect(),
            ..row("client:x", id, Status::Fail)
        }
    }

    /// CLAMD-CLIENT-1, CLAMD-CLIENT-4: an entry that names its rules covers only failures
    /// citing them (by rule ID or failure kind); a listed case that starts failing for
    /// another reason is a new failure with a note naming it. Without `rules`, any failure.
    #[test]
    fn an_entry_with_rules_covers_only_those_rules() {
        let p = Path::new("b.toml");
        let text = "[[failure]]\nclient = \"x\"\ncase = \"c\"\nreason = \"r\"\nrules = [\"CLAMD-CLIENT-1\", \"hung\"]\n";
        let b = Baseline::parse(text, p, false).unwrap();
        let same = report(vec![failing(
            "c",
            &[("CLAMD-CLIENT-1", "protocol"), ("CLAMD-CLIENT-10", "hung")],
        )]);
        let o = b.check(&same);
        assert_eq!((o.known.len(), o.new.len()), (1, 0), "{:?}", o.notes);
        assert_eq!(o.exit_code(&same, false), 0);
        let worse = report(vec![failing(
            "c",
            &[
                ("CLAMD-CLIENT-1", "protocol"),
                ("CLAMD-CLIENT-4", "wrong-verdict"),
            ],
        )]);
        let o = b.check(&worse);
        assert_eq!(o.new, vec![0]);
        assert_eq!(o.exit_code(&worse, false), 1);
        assert!(
            o.notes[0].contains("CLAMD-CLIENT-4 wrong-verdict")
                && o.notes[0].contains("does not list"),
            "{:?}",
            o.notes
        );
        // an entry without rules still covers any plain failure
        let any = Baseline::parse(
            "[[failure]]\nclient = \"x\"\ncase = \"c\"\nreason = \"r\"\n",
            p,
            false,
        )
        .unwrap();
        assert_eq!(any.check(&worse).exit_code(&worse, false), 0);
        let e = Baseline::parse(&text.replace("\"hung\"", "\" \""), p, false).unwrap_err();
        assert_eq!(e.exit_code(), 2, "{e}");
    }

    /// A listed case that is NOT-APPLICABLE now (and fails nothing) is stale, said as such:
    /// it never counts silently as known or as passing.
    #[test]
    fn a_listed_not_applicable_case_is_stale() {
        let b = Baseline::parse(
            "[[failure]]\nclient = \"x\"\ncase = \"c\"\nreason = \"r\"\n",
            Path::new("b.toml"),
            false,
        )
        .unwrap();
        let rep = report(vec![row("client:x", "c", Status::NotApplicable)]);
        let o = b.check(&rep);
        assert_eq!(o.stale.len(), 1);
        assert_eq!(o.exit_code(&rep, false), 1);
        let t = o.terminal(&rep, Path::new("b.toml"));
        assert!(t.contains("is NOT-APPLICABLE now"), "{t}");
    }

    /// A snapshot difference is a change to review, not a known failure: `--write-baseline`
    /// leaves SNAPSHOT out of `rules` and out of the reason, and writes a case that fails by
    /// its snapshot alone as a comment; no entry covers it (with rules or without); an entry
    /// naming SNAPSHOT is a configuration error. The old writer put `SNAPSHOT` in `rules`,
    /// and its entries then covered every later snapshot change of their cases.
    #[test]
    fn snapshot_differences_are_never_baselined() {
        let p = Path::new("b.toml");
        let rep = report(vec![
            failing(
                "c",
                &[(SNAPSHOT_RULE, "snapshot"), ("CLAMD-CLIENT-1", "protocol")],
            ),
            failing("only", &[(SNAPSHOT_RULE, "snapshot")]),
        ]);
        let text = render(&rep, None, false);
        crate::test_support::assert_shows(
            &text,
            &[
                "rules = [\"CLAMD-CLIENT-1\"]\n",
                "reason = \"FAIL CLAMD-CLIENT-1 protocol: h\"\n",
                "\n# x/only: only its snapshot differs, which no baseline covers",
            ],
        );
        assert!(!text.contains("SNAPSHOT"), "{text}");
        let b = Baseline::parse(&text, p, false).unwrap();
        assert_eq!(b.entries.len(), 1, "{text}");
        let o = b.check(&rep);
        assert_eq!(o.new, vec![0, 1]);
        assert_eq!(o.exit_code(&rep, false), 1);
        assert!(
            o.notes
                .iter()
                .any(|n| n.contains("c [client:x]: its snapshot differs")),
            "{:?}",
            o.notes
        );
        let any = "[[failure]]\nclient = \"x\"\ncase = \"c\"\nreason = \"r\"\n";
        let b_any = Baseline::parse(any, p, false).unwrap();
        assert_eq!(b_any.check(&rep).new, vec![0, 1]);
        // once the snapshot is accepted, the entry covers what is left
        let accepted = report(vec![failing("c", &[("CLAMD-CLIENT-1", "protocol")])]);
        assert_eq!(b.check(&accepted).exit_code(&accepted, false), 0);
        let e = Baseline::parse(&format!("{any}rules = [\"SNAPSHOT\"]\n"), p, false).unwrap_err();
        assert_eq!(e.exit_code(), 2, "{e}");
        assert!(e.to_string().contains("review it"), "{e}");
    }

    /// `--write-baseline` names each entry's rules (sorted, once each; a failure without a
    /// rule ID by its kind), and the text loads back covering exactly those failures.
    #[test]
    fn written_entries_name_their_rules() {
        let rep = report(vec![failing(
            "c",
            &[
                ("CLAMD-CLIENT-4", "wrong-verdict"),
                ("CLAMD-CLIENT-1", "protocol"),
                ("CLAMD-CLIENT-1", "protocol"),
                ("", "hung"),
            ],
        )]);
        let text = render(&rep, None, false);
        assert!(
            text.contains("rules = [\"CLAMD-CLIENT-1\", \"CLAMD-CLIENT-4\", \"hung\"]\n"),
            "{text}"
        );
        let b = Baseline::parse(&text, Path::new("w.toml"), false).unwrap();
        assert_eq!(b.entries[0].rules.len(), 3);
        assert_eq!(b.check(&rep).exit_code(&rep, false), 0);
    }
}
