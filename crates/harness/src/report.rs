//! Reports: terminal summary, Markdown, JSON and JUnit XML.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use crate::error::{HarnessError, Result};
use crate::judge::{Failure, Status, FAIL_OPEN_KIND};

/// One reported row (a client case or a server case).
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// `client:<profile>` or `server:<protocol>`.
    pub suite: String,
    pub id: String,
    pub rules: Vec<String>,
    pub title: String,
    pub status: Status,
    pub detail: String,
    pub failures: Vec<Failure>,
    pub warnings: Vec<String>,
    pub note: Option<String>,
    pub seconds: f64,
    pub transcript: String,
}

impl Row {
    /// A passing row with nothing to say yet: the one constructor of client, server and
    /// property rows (each fills in what it found).
    pub fn new(suite: String, id: String, rules: Vec<String>, title: String) -> Row {
        Row {
            suite,
            id,
            rules,
            title,
            status: Status::Pass,
            detail: String::new(),
            failures: Vec::new(),
            warnings: Vec::new(),
            note: None,
            seconds: 0.0,
            transcript: String::new(),
        }
    }
}

/// Everything one harness invocation did.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Report {
    pub rows: Vec<Row>,
    pub seconds: f64,
    pub notes: Vec<String>,
}

/// Counts per status.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Counts {
    pub passed: usize,
    pub failed: usize,
    pub fail_open: usize,
    pub harness_errors: usize,
    pub not_available: usize,
    /// Cases whose expectation did not apply to the client's path: a fault that never
    /// fired, a command never sent (neither passed nor failed).
    pub not_applicable: usize,
}

/// Failures of one rule (and kind) across the run, or of one client-wide cause: one cause
/// often fails many cases, so a client author fixes the line at the top first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleTally {
    /// The rule; for a cause, every rule its cases cite, first seen first.
    pub rules: Vec<String>,
    pub kind: String,
    /// Case ids (with their suite) in report order.
    pub cases: Vec<String>,
    /// What happened in the first of them.
    pub example: String,
    /// Set when the tally is one cause of a whole client (it crashed, never started, never
    /// reached the daemon...) across every rule its cases cite.
    pub cause: Option<Cause>,
}

impl RuleTally {
    /// The tally as one line of every report: a cause reads
    /// `client:x: all 42 cases, one cause (crashed): <what happened> [rules ...]`, a rule
    /// `CLAMD-CLIENT-1 (protocol): 3 cases, first <case>: <what happened>`.
    pub fn line(&self) -> String {
        let n = self.cases.len();
        let first = self.cases.first().map(String::as_str).unwrap_or_default();
        match &self.cause {
            Some(c) => {
                let count = if n == c.ran {
                    format!("all {n} case{}", if n == 1 { "" } else { "s" })
                } else {
                    format!("{n} of {} cases", c.ran)
                };
                let what = if self.kind == COULD_NOT_RUN_KIND {
                    format!("could not run: {}", self.example)
                } else {
                    self.example.clone()
                };
                format!(
                    "{}: {count}, one cause ({}): {what} [rules {}; first {first}]",
                    c.suite,
                    self.kind,
                    short_rules(&self.rules)
                )
            }
            None => format!(
                "{} ({}): {n} case{}, first {first}: {}",
                self.rules.join(" "),
                self.kind,
                if n == 1 { "" } else { "s" },
                self.example
            ),
        }
    }
}

/// The client (suite) a cause tally belongs to and how many of its cases ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cause {
    pub suite: String,
    pub ran: usize,
}

/// The kind of a cause tally for harness-error rows (the case could not run: most often
/// the client's program could not be started).
pub const COULD_NOT_RUN_KIND: &str = "could-not-run";

/// What makes two client-wide failures one cause: the words, with what differs from case
/// to case masked (ports and other long numbers, scratch paths, the signature name of a
/// printed `<name> FOUND` line, the hint that no connection reached the daemon, which a
/// case where nothing listens leaves out); a client that never reached the daemon is one
/// cause whatever verdict it printed.
fn cause_key(kind: &str, text: &str) -> String {
    static RES: std::sync::LazyLock<[(regex::Regex, &str); 3]> = std::sync::LazyLock::new(|| {
        [
            (
                regex::Regex::new(r"/tmp/[A-Za-z0-9._/-]+").expect("valid regex"),
                "[TMP]",
            ),
            (regex::Regex::new(r"\d{4,}").expect("valid regex"), "#"),
            (
                regex::Regex::new(r"[^\s`:]+ FOUND").expect("valid regex"),
                "[NAME] FOUND",
            ),
        ]
    });
    if kind == crate::judge::NOT_CONNECTED_KIND {
        return kind.to_string();
    }
    let hint = format!("; {}", crate::judge::NOT_CONNECTED);
    let text = text.split(hint.as_str()).next().unwrap_or(text);
    RES.iter().fold(text.to_string(), |t, (re, with)| {
        re.replace_all(&t, *with).into_owned()
    })
}

/// Whether `n` failing cases of a client that ran `ran` are (nearly) all of them: only
/// then is a cause the client's as a whole (a hang in 2 cases of 42 is those cases').
fn nearly_all(n: usize, ran: usize) -> bool {
    n * 5 >= ran * 4
}

/// What makes failures one tally: their rule and kind, or (a client-wide cause) their
/// client, kind and masked words ([`cause_key`]).
#[derive(PartialEq, Eq)]
enum TallyKey {
    Rule(String, String),
    Cause(String, String, String),
}

impl TallyKey {
    /// The key of a client-wide failure of row `r`.
    fn cause(r: &Row, kind: &str, text: &str) -> TallyKey {
        TallyKey::Cause(r.suite.clone(), kind.into(), cause_key(kind, text))
    }
}

/// The tallies of [`Report::by_rule`] while they are built, in report order.
#[derive(Default)]
struct Tallies(Vec<(TallyKey, RuleTally)>);

impl Tallies {
    fn add_rule(&mut self, r: &Row, f: &Failure) {
        let key = TallyKey::Rule(f.rule.clone(), f.kind.clone());
        self.add(key, r, &f.rule, &f.kind, &f.happened, || None);
    }

    /// `ran`: how many cases of the row's client ran (asked only for a new cause).
    fn add_cause(&mut self, r: &Row, rule: &str, kind: &str, text: &str, ran: impl Fn() -> usize) {
        let key = TallyKey::cause(r, kind, text);
        let t = self.add(key, r, rule, kind, text, || {
            Some(Cause {
                suite: r.suite.clone(),
                ran: ran(),
            })
        });
        if !rule.is_empty() && !t.rules.iter().any(|x| x == rule) {
            t.rules.push(rule.to_string());
        }
    }

    fn add(
        &mut self,
        key: TallyKey,
        r: &Row,
        rule: &str,
        kind: &str,
        text: &str,
        cause: impl FnOnce() -> Option<Cause>,
    ) -> &mut RuleTally {
        let case = format!("{} [{}]", r.id, r.suite);
        let i = match self.0.iter().position(|(k, _)| *k == key) {
            Some(i) => i,
            None => {
                self.0.push((
                    key,
                    RuleTally {
                        rules: if rule.is_empty() {
                            Vec::new()
                        } else {
                            vec![rule.to_string()]
                        },
                        kind: kind.to_string(),
                        cases: Vec::new(),
                        example: text.to_string(),
                        cause: cause(),
                    },
                ));
                self.0.len() - 1
            }
        };
        let t = &mut self.0[i].1;
        if !t.cases.contains(&case) {
            t.cases.push(case);
        }
        t
    }
}

/// The first rules of a cause (space-separated), then how many more.
fn short_rules(rules: &[String]) -> String {
    const SHOWN: usize = 4;
    if rules.len() <= SHOWN {
        rules.join(" ")
    } else {
        format!("{} +{} more", rules[..SHOWN].join(" "), rules.len() - SHOWN)
    }
}

/// `text` as a Markdown code block whose fence is longer than any run of backticks in it:
/// client output or wire bytes that hold a fence cannot end the block and inject Markdown
/// into a CI summary (CommonMark closes a fence only with at least as many backticks).
fn code_block(text: &str) -> String {
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest.max(2) + 1);
    let body = text.strip_suffix('\n').unwrap_or(text);
    format!("{fence}text\n{body}\n{fence}")
}

impl Report {
    /// The rows with this status, in report order.
    fn with_status(&self, status: Status) -> impl Iterator<Item = &Row> {
        self.rows.iter().filter(move |r| r.status == status)
    }

    /// The failures as tallies, a client-wide failure as its cause unless that cause is in
    /// `narrow` (then by its rule, as any other failure).
    fn tallies(&self, narrow: &[TallyKey]) -> Tallies {
        let mut tallies = Tallies::default();
        for r in &self.rows {
            let ran = || self.ran_in(&r.suite);
            if r.status == Status::HarnessError && r.failures.is_empty() {
                let why = r.note.as_deref().unwrap_or(&r.detail);
                let rules = if r.rules.is_empty() {
                    &[String::new()][..]
                } else {
                    &r.rules[..]
                };
                for rule in rules {
                    tallies.add_cause(r, rule, COULD_NOT_RUN_KIND, why, ran);
                }
            }
            for f in &r.failures {
                if crate::judge::is_client_wide(f)
                    && !narrow.contains(&TallyKey::cause(r, &f.kind, &f.happened))
                {
                    tallies.add_cause(r, &f.rule, &f.kind, &f.happened, ran);
                } else {
                    tallies.add_rule(r, f);
                }
            }
        }
        tallies
    }

    /// Failures grouped by rule and kind, except those with a client-wide cause
    /// ([`crate::judge::is_client_wide`], and cases that could not run), which are grouped
    /// per client by what happened, whatever rules their cases cite: a client that crashes
    /// before it connects is one line, not one per rule. Fail-open first (the client said
    /// clean although no scan happened: the defect that matters most, however few cases
    /// show it), then most cases first, a cause before a rule of the same count (ties in
    /// report order).
    pub fn by_rule(&self) -> Vec<RuleTally> {
        // A cause is the client's as a whole only when (nearly) every case of it shows it;
        // the failures of a narrower one (a hang in 2 cases of 42) are tallied by rule.
        let narrow: Vec<TallyKey> = self
            .tallies(&[])
            .0
            .into_iter()
            .filter(|(_, t)| {
                t.kind != COULD_NOT_RUN_KIND
                    && t.cause
                        .as_ref()
                        .is_some_and(|c| !nearly_all(t.cases.len(), c.ran))
            })
            .map(|(k, _)| k)
            .collect();
        let tallies = self.tallies(&narrow);
        let mut tallies: Vec<RuleTally> = tallies.0.into_iter().map(|(_, t)| t).collect();
        // stable: equal keys keep report order
        tallies.sort_by_key(|t| {
            (
                t.kind != FAIL_OPEN_KIND,
                std::cmp::Reverse(t.cases.len()),
                t.cause.is_none(),
            )
        });
        tallies
    }

    /// How many cases of `suite` ran (or tried to): the "all" of "all 42 cases".
    fn ran_in(&self, suite: &str) -> usize {
        self.rows
            .iter()
            .filter(|r| r.suite == suite && r.status != Status::NotAvailable)
            .count()
    }

    /// The by-rule summary as text lines (empty when nothing failed), one per tally
    /// ([`RuleTally::line`]).
    fn by_rule_lines(&self) -> Vec<String> {
        self.by_rule().iter().map(RuleTally::line).collect()
    }

    pub fn counts(&self) -> Counts {
        let mut c = Counts::default();
        for r in &self.rows {
            match r.status {
                Status::Pass => c.passed += 1,
                Status::Fail => c.failed += 1,
                Status::FailOpen => c.fail_open += 1,
                Status::HarnessError => c.harness_errors += 1,
                Status::NotAvailable => c.not_available += 1,
                Status::NotApplicable => c.not_applicable += 1,
            }
        }
        c
    }

    /// Exit code: 0 all ran cases passed; 1 a client (or server) failed a case; 3 the
    /// harness could not run some case (and nothing failed).
    pub fn exit_code(&self, require_available: bool) -> u8 {
        let c = self.counts();
        if c.failed + c.fail_open > 0 {
            1
        } else if c.harness_errors > 0 || (require_available && c.not_available > 0) {
            3
        } else {
            0
        }
    }

    /// The terminal summary (failures in detail, then counts).
    pub fn terminal(&self) -> String {
        let mut s = String::new();
        for r in self.rows.iter().filter(|r| {
            matches!(
                r.status,
                Status::Fail | Status::FailOpen | Status::HarnessError
            )
        }) {
            let _ = writeln!(
                s,
                "\n{} {} [{}] {}",
                r.status.label(),
                r.id,
                r.suite,
                r.title
            );
            if let Some(n) = &r.note {
                let _ = writeln!(s, "  note: {n}");
            }
            for f in &r.failures {
                let _ = writeln!(s, "  rule:     {} ({})", f.rule, f.kind);
                let _ = writeln!(s, "  expected: {}", f.expected);
                let _ = writeln!(s, "  happened: {}", f.happened);
                if !f.excerpt.is_empty() {
                    for l in f.excerpt.lines() {
                        let _ = writeln!(s, "    | {l}");
                    }
                }
            }
            if !r.transcript.is_empty() {
                let _ = writeln!(s, "  transcript:");
                for l in r.transcript.lines().take(24) {
                    let _ = writeln!(s, "    {l}");
                }
            }
        }
        let by_rule = self.by_rule_lines();
        if !by_rule.is_empty() {
            let _ = writeln!(
                s,
                "\nFAILURES BY RULE (fail-open first; a client-wide cause such as a crash is one line whatever rules it fails; fix the first):"
            );
            for l in by_rule {
                let _ = writeln!(s, "  {l}");
            }
        }
        let c = self.counts();
        let fo = self
            .with_status(Status::FailOpen)
            .map(|r| format!("{} [{}]", r.id, r.suite))
            .collect::<Vec<_>>();
        if !fo.is_empty() {
            let _ = writeln!(s, "\nFAIL-OPEN (client reported clean when the scan did not happen; the worst defect):");
            for f in fo {
                let _ = writeln!(s, "  {f}");
            }
        }
        // each client once, with why (a missing program or package: the fix is in it)
        let na: std::collections::BTreeMap<&str, &str> = self
            .with_status(Status::NotAvailable)
            .map(|r| {
                let why = r.note.as_deref().unwrap_or(&r.detail);
                (
                    r.suite.as_str(),
                    why.strip_prefix("not available: ").unwrap_or(why),
                )
            })
            .collect();
        if !na.is_empty() {
            let _ = writeln!(s, "\nnot available (not counted as passed):");
            for (suite, why) in na {
                let _ = writeln!(s, "  {suite}: {why}");
            }
        }
        let nap: Vec<&Row> = self.with_status(Status::NotApplicable).collect();
        if !nap.is_empty() {
            let _ = writeln!(s, "\nNOT APPLICABLE (the case's expectation does not hold for the path the client took (each line says why: a fault that never fired, a command the client never sent); neither passed nor failed):");
            for r in nap {
                let _ = writeln!(s, "  {} [{}]: {}", r.id, r.suite, r.detail);
            }
        }
        let _ = writeln!(
            s,
            "\nconformance: {} passed, {} failed, {} fail-open, {} harness errors, {} not available, {} not applicable ({:.1}s)",
            c.passed, c.failed, c.fail_open, c.harness_errors, c.not_available, c.not_applicable, self.seconds
        );
        crate::redact::text(&s)
    }

    pub fn markdown(&self) -> String {
        let c = self.counts();
        let mut s = String::from("# Conformance report\n\n");
        let _ = writeln!(
            s,
            "**{} passed, {} failed, {} fail-open, {} harness errors, {} not available, {} not applicable** in {:.1}s\n",
            c.passed, c.failed, c.fail_open, c.harness_errors, c.not_available, c.not_applicable, self.seconds
        );
        for n in &self.notes {
            let _ = writeln!(s, "> {n}\n");
        }
        let by_rule = self.by_rule_lines();
        if !by_rule.is_empty() {
            s.push_str(
                "## Failures by rule\n\nFail-open first; then one cause often fails many cases: fix the first. A client-wide \
                 cause (a crash, no output, no connection, a client that could not start) is one \
                 line whatever rules its cases cite.\n\n",
            );
            for l in by_rule {
                let _ = writeln!(s, "- {}", l.replace('|', "\\|"));
            }
            s.push('\n');
        }
        s.push_str("| status | suite | case | rules | detail |\n|---|---|---|---|---|\n");
        for r in &self.rows {
            let _ = writeln!(
                s,
                "| {} | {} | `{}` | {} | {} |",
                r.status.label(),
                r.suite,
                r.id,
                r.rules.join(" "),
                r.detail.replace('|', "\\|")
            );
        }
        let nap: Vec<&Row> = self.with_status(Status::NotApplicable).collect();
        if !nap.is_empty() {
            s.push_str("\n## Not applicable\n\nThe case's expectation does not hold for the path the client took: each line says why (a fault that never fired, a command the client never sent). These cases are neither passed nor failed.\n\n");
            for r in nap {
                let _ = writeln!(s, "- `{}` ({}): {}", r.id, r.suite, r.detail);
            }
        }
        for r in self
            .rows
            .iter()
            .filter(|r| !r.failures.is_empty() || r.status == Status::HarnessError)
        {
            let _ = writeln!(s, "\n## {} `{}` ({})\n", r.status.label(), r.id, r.suite);
            if let Some(n) = &r.note {
                let _ = writeln!(s, "Note: {n}\n");
            }
            for f in &r.failures {
                let _ = writeln!(
                    s,
                    "- **{}** ({})\n  - expected: {}\n  - happened: {}",
                    f.rule, f.kind, f.expected, f.happened
                );
                if !f.excerpt.is_empty() {
                    let _ = writeln!(s, "\n{}", code_block(&f.excerpt));
                }
            }
            if !r.transcript.is_empty() {
                let _ = writeln!(s, "\nTranscript:\n\n{}", code_block(&r.transcript));
            }
        }
        crate::redact::text(&s)
    }

    pub fn json(&self) -> Result<String> {
        #[derive(Serialize)]
        struct J<'a> {
            counts: Counts,
            /// The same tally as the terminal's and Markdown's "failures by rule", causes
            /// included, for tools that show the first thing to fix.
            failures_by_rule: Vec<RuleTally>,
            report: &'a Report,
        }
        serde_json::to_string_pretty(&J {
            counts: self.counts(),
            failures_by_rule: self.by_rule(),
            report: self,
        })
        .map(|s| crate::redact::text(&s))
        .map_err(|e| HarnessError::Usage(format!("json: {e}")))
    }

    pub fn junit(&self) -> Result<String> {
        use quick_junit::{NonSuccessKind, Report as JReport, TestCase, TestCaseStatus, TestSuite};
        let mut report = JReport::new("avc-conformance");
        let mut suites: Vec<(String, TestSuite)> = Vec::new();
        for r in &self.rows {
            let idx = match suites.iter().position(|(n, _)| *n == r.suite) {
                Some(i) => i,
                None => {
                    suites.push((r.suite.clone(), TestSuite::new(r.suite.clone())));
                    suites.len() - 1
                }
            };
            let status = match r.status {
                Status::Pass => TestCaseStatus::success(),
                Status::NotAvailable | Status::NotApplicable => {
                    let mut st = TestCaseStatus::skipped();
                    if let Some(n) = &r.note {
                        st.set_message(n.clone());
                    }
                    st
                }
                Status::Fail | Status::FailOpen | Status::HarnessError => {
                    let kind = if r.status == Status::HarnessError {
                        NonSuccessKind::Error
                    } else {
                        NonSuccessKind::Failure
                    };
                    let mut st = TestCaseStatus::non_success(kind);
                    let msg = match r.failures.first() {
                        Some(f) => format!(
                            "{} {}: expected {}; {}",
                            r.status.label(),
                            f.rule,
                            f.expected,
                            f.happened
                        ),
                        None => r.note.clone().unwrap_or_default(),
                    };
                    st.set_message(msg);
                    st.set_type(r.status.label());
                    let mut desc = String::new();
                    for f in &r.failures {
                        let _ = writeln!(
                            desc,
                            "{} ({}): {}\n{}",
                            f.rule, f.kind, f.happened, f.excerpt
                        );
                    }
                    desc.push_str(&r.transcript);
                    st.set_description(desc);
                    st
                }
            };
            let mut tc = TestCase::new(r.id.clone(), status);
            tc.set_classname(r.suite.clone());
            tc.set_time(Duration::from_secs_f64(r.seconds.max(0.0)));
            suites[idx].1.add_test_case(tc);
        }
        for (_, s) in suites {
            report.add_test_suite(s);
        }
        report
            .to_string()
            .map(|s| crate::redact::text(&s))
            .map_err(|e| HarnessError::Usage(format!("junit: {e}")))
    }

    /// Writes the report files asked for.
    pub fn write_files(
        &self,
        md: Option<&Path>,
        json: Option<&Path>,
        junit: Option<&Path>,
    ) -> Result<()> {
        let w = |p: &Path, s: String| crate::out_file::write(p, s);
        if let Some(p) = md {
            w(p, self.markdown())?;
        }
        if let Some(p) = json {
            w(p, self.json()?)?;
        }
        if let Some(p) = junit {
            w(p, self.junit()?)?;
        }
        Ok(())
    }
}

/// A failing row of client `c` (`failures`: rule, kind, what happened), for tests.
#[cfg(test)]
pub(crate) fn test_row(id: &str, failures: &[(&str, &str, &str)]) -> Row {
    Row {
        status: if failures.iter().any(|f| f.1 == FAIL_OPEN_KIND) {
            Status::FailOpen
        } else if failures.is_empty() {
            Status::Pass
        } else {
            Status::Fail
        },
        failures: failures
            .iter()
            .map(|(rule, kind, happened)| Failure {
                rule: (*rule).into(),
                kind: (*kind).into(),
                expected: String::new(),
                happened: (*happened).into(),
                excerpt: String::new(),
            })
            .collect(),
        ..Row::new("client:c".into(), id.into(), vec![], String::new())
    }
}

#[cfg(test)]
impl Report {
    /// A report of `rows` and nothing else.
    pub(crate) fn of_rows(rows: Vec<Row>) -> Report {
        Report {
            rows,
            ..Default::default()
        }
    }

    /// `n` cases failing CLAMD-CLIENT-1 (`happened`), then one FAIL-OPEN case `fo`.
    pub(crate) fn fail_open_after(n: usize, happened: &str) -> Report {
        let mut rows: Vec<Row> = (0..n)
            .map(|i| {
                test_row(
                    &format!("p{i}"),
                    &[("CLAMD-CLIENT-1", "protocol", happened)],
                )
            })
            .collect();
        rows.push(test_row(
            "fo",
            &[("CLAMD-CLIENT-3", FAIL_OPEN_KIND, "reported CLEAN")],
        ));
        Report::of_rows(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::assert_shows;

    fn row(id: &str, failures: &[(&str, &str, &str)]) -> Row {
        test_row(id, failures)
    }

    /// A rule that fails in many cases comes first, with its count and first example, in
    /// the terminal and Markdown reports; a clean run has no such section.
    #[test]
    fn failures_are_tallied_by_rule_most_cases_first() {
        let report = Report::of_rows(vec![
            row(
                "a",
                &[("CLAMD-CLIENT-2", "wrong-verdict", "reported ERROR")],
            ),
            row("b", &[("CLAMD-CLIENT-1", "protocol", "legacy PING")]),
            row("c", &[("CLAMD-CLIENT-1", "protocol", "legacy PING again")]),
            row("d", &[]),
        ]);
        let tallies = report.by_rule();
        assert_eq!(tallies.len(), 2);
        assert_eq!(tallies[0].rules, ["CLAMD-CLIENT-1"]);
        assert_eq!(tallies[0].cases, ["b [client:c]", "c [client:c]"]);
        assert_eq!(tallies[0].example, "legacy PING");
        assert_shows(
            &report.terminal(),
            &[
                "CLAMD-CLIENT-1 (protocol): 2 cases, first b [client:c]: legacy PING\n",
                "CLAMD-CLIENT-2 (wrong-verdict): 1 case, first a [client:c]",
            ],
        );
        assert!(report.markdown().contains("## Failures by rule"));
        let clean = Report::of_rows(vec![row("d", &[])]);
        assert!(!clean.terminal().contains("BY RULE"));
        assert!(!clean.markdown().contains("Failures by rule"));
    }

    /// Client output holding a Markdown fence stays inside its code block: the fence is
    /// longer than any backtick run in the text.
    #[test]
    fn markdown_code_blocks_cannot_be_closed_by_client_output() {
        let hostile = "x\n```\n# injected heading\n````` more\n";
        let block = code_block(hostile);
        assert!(block.starts_with("``````text\n"), "{block}");
        assert!(block.ends_with("\n``````"), "{block}");
        let inner = &block["``````text\n".len()..block.len() - "\n``````".len()];
        assert_eq!(inner, hostile.trim_end_matches('\n'));
        assert_eq!(code_block("plain"), "```text\nplain\n```");
        let mut r = row("fence", &[("CLAMD-CLIENT-3", "protocol", "bad")]);
        r.transcript = hostile.into();
        let md = Report::of_rows(vec![r]).markdown();
        // the block opens before the injected lines and closes only after all of them
        let open = md.find("``````text\n").expect("long fence opens");
        let close = md[open + 10..].find("\n``````").expect("long fence closes") + open + 10;
        let injected = md.find("# injected heading").expect("kept as text");
        assert!(open < injected && injected < close, "{md}");
        assert_eq!(md.matches("``````").count(), 2, "{md}");
    }

    /// CLAMD-CLIENT-3: a fail-open in one case heads the tally even when a protocol
    /// finding fails every other case (an npm client showed 40 legacy-PING failures above
    /// its one fail-open).
    #[test]
    fn clamd_client_3_fail_open_heads_the_tally() {
        let report = Report::fail_open_after(5, "legacy PING");
        let tallies = report.by_rule();
        assert_eq!(
            tallies.iter().map(|t| t.kind.as_str()).collect::<Vec<_>>(),
            [FAIL_OPEN_KIND, "protocol"]
        );
        let md = report.markdown();
        let fo = md
            .find("CLAMD-CLIENT-3 (fail-open)")
            .expect("fail-open listed");
        let proto = md
            .find("CLAMD-CLIENT-1 (protocol)")
            .expect("protocol listed");
        assert!(fo < proto, "{md}");
    }

    /// CLAMD-CLIENT-3: a client that crashes before it connects fails every case with one
    /// cause; the tally says so in one line that heads it (count and the crash line),
    /// instead of one line per rule its cases cite. The port in the message differs from
    /// case to case and does not split the cause; a different crash is another line, and
    /// a rule failure keeps its own line below.
    #[test]
    fn clamd_client_3_one_cause_is_one_line_across_rules() {
        let crash = |port: u32| {
            format!("crashed (exit 1, Python traceback): ConnectionError: Error 111 connecting to 127.0.0.1:{port}")
        };
        let mut rows: Vec<Row> = [
            "CLAMD-CLIENT-3",
            "CLAMD-CLIENT-6",
            "CLAMD-CLIENT-5",
            "CLAMD-CLIENT-10",
        ]
        .iter()
        .cycle()
        .take(8)
        .enumerate()
        .map(|(i, rule)| {
            row(
                &format!("c{i}"),
                &[(rule, "crashed", &crash(40000 + i as u32))],
            )
        })
        .collect();
        rows.push(row("p", &[("CLAMD-CLIENT-1", "protocol", "legacy PING")]));
        rows.push(row(
            "o",
            &[(
                "CLAMD-CLIENT-6",
                "crashed",
                "crashed (exit 1, stack trace): TypeError: x",
            )],
        ));
        let report = Report::of_rows(rows);
        let tallies = report.by_rule();
        assert_eq!(tallies.len(), 3, "{tallies:?}");
        assert_eq!(tallies[0].cases.len(), 8);
        assert_eq!(
            tallies[0].rules,
            [
                "CLAMD-CLIENT-3",
                "CLAMD-CLIENT-6",
                "CLAMD-CLIENT-5",
                "CLAMD-CLIENT-10"
            ]
        );
        assert_eq!(
            tallies[0].cause,
            Some(Cause {
                suite: "client:c".into(),
                ran: 10
            })
        );
        let md = report.markdown();
        let first = md
            .lines()
            .find(|l| l.starts_with("- "))
            .expect("a tally line");
        assert_eq!(
            first,
            "- client:c: 8 of 10 cases, one cause (crashed): crashed (exit 1, Python traceback): \
             ConnectionError: Error 111 connecting to 127.0.0.1:40000 [rules CLAMD-CLIENT-3 \
             CLAMD-CLIENT-6 CLAMD-CLIENT-5 CLAMD-CLIENT-10; first c0 [client:c]]"
        );
        assert!(md.contains("- CLAMD-CLIENT-1 (protocol): 1 case"), "{md}");
        // the other crash, in 1 case of 10, is that case's: tallied by its rule
        assert!(
            md.contains("- CLAMD-CLIENT-6 (crashed): 1 case, first o [client:c]"),
            "{md}"
        );
        let json = report.json().unwrap();
        assert!(json.contains("\"failures_by_rule\""), "{json}");
    }

    /// A client that could not be started makes every case a harness error with the same
    /// note: one line, "all N cases", naming why.
    #[test]
    fn cases_that_could_not_run_for_one_reason_are_one_line() {
        let rows: Vec<Row> = (0..3)
            .map(|i| Row {
                status: Status::HarnessError,
                note: Some(
                    "client: cannot start \"no-such-scanner\": No such file or directory".into(),
                ),
                rules: vec![format!("CLAMD-CLIENT-{i}")],
                ..Row::new("client:m".into(), format!("m{i}"), vec![], String::new())
            })
            .collect();
        let report = Report::of_rows(rows);
        let term = report.terminal();
        assert!(
            term.contains(
                "  client:m: all 3 cases, one cause (could-not-run): could not run: client: cannot start \"no-such-scanner\": No such file or directory [rules CLAMD-CLIENT-0 CLAMD-CLIENT-1 CLAMD-CLIENT-2; first m0 [client:m]]\n"
            ),
            "{term}"
        );
    }
    /// CLAMD-CLIENT-10, CLAMD-CLIENT-3: a hang in 2 cases of 42 and a crash in 3 are those
    /// cases' failures, tallied by rule, not "one cause" of the whole client; the same hang
    /// in (nearly) every case is.
    #[test]
    fn clamd_client_10_a_cause_is_client_wide_only_in_nearly_every_case() {
        let hung = "client still running after the timeout (10.0s): killed at the timeout";
        let crash = "crashed (exit 1, Python traceback): ConnectionResetError: [Errno 104]";
        let mut rows: Vec<Row> = (0..37).map(|i| row(&format!("ok{i}"), &[])).collect();
        rows.push(row("h1", &[("CLAMD-CLIENT-10", "hung", hung)]));
        rows.push(row("h2", &[("CLAMD-CLIENT-10", "hung", hung)]));
        for id in ["r1", "r2", "r3"] {
            rows.push(row(id, &[("CLAMD-CLIENT-3", "crashed", crash)]));
        }
        let report = Report::of_rows(rows);
        let tallies = report.by_rule();
        assert!(tallies.iter().all(|t| t.cause.is_none()), "{tallies:?}");
        let term = report.terminal();
        assert_shows(
            &term,
            &[
                "  CLAMD-CLIENT-3 (crashed): 3 cases, first r1 [client:c]: crashed",
                "  CLAMD-CLIENT-10 (hung): 2 cases, first h1 [client:c]: client still",
            ],
        );
        assert!(!term.contains("one cause"), "{term}");
        let hang = [("CLAMD-CLIENT-10", "hung", hung)];
        let all: Vec<Row> = (0..10)
            .map(|i| row(&format!("c{i}"), if i == 0 { &[] } else { &hang }))
            .collect();
        let report = Report::of_rows(all);
        assert!(
            report
                .terminal()
                .contains("client:c: 9 of 10 cases, one cause (hung)"),
            "{}",
            report.terminal()
        );
    }

    /// CLAMD-CLIENT-6, CLAMD-CLIENT-3: one cause is one line. A profile whose rule does not
    /// match a FOUND line fails each case with the signature name it printed (EICAR's,
    /// a forced name, a marker's): the names do not split the cause. A client that never
    /// reached the daemon is one cause whatever verdict it printed.
    #[test]
    fn clamd_client_6_signature_names_do_not_split_a_cause() {
        let printed = |name: &str| {
            format!(
                "exit status 1 and output match no verdict rule of profile pyvalve: it printed \
                 `/tmp/avc-conformance-E55rqn/pyvalve-x-owQPRp/input.com: {name} FOUND`"
            )
        };
        let rows: Vec<Row> = [
            "Win.Test.EICAR_HDB-1",
            "Fake.Forced-1",
            "Oracle.Test.MarkerA-1.UNOFFICIAL",
        ]
        .iter()
        .enumerate()
        .map(|(i, name)| {
            row(
                &format!("u{i}"),
                &[("CLAMD-CLIENT-6", "unclassified", &printed(name))],
            )
        })
        .collect();
        let tallies = Report::of_rows(rows).by_rule();
        assert_eq!(tallies.len(), 1, "{tallies:?}");
        assert_eq!(tallies[0].cases.len(), 3);
        let kind = crate::judge::NOT_CONNECTED_KIND;
        let rows = vec![
            row(
                "n1",
                &[(
                    "CLAMD-CLIENT-3",
                    kind,
                    "client reported ERROR (exit 2), so ...",
                )],
            ),
            row(
                "n2",
                &[(
                    "CLAMD-CLIENT-6",
                    kind,
                    "client reported INFECTED (exit 1), so ...",
                )],
            ),
        ];
        let tallies = Report::of_rows(rows).by_rule();
        assert_eq!(tallies.len(), 1, "{tallies:?}");
        assert_eq!(tallies[0].rules, ["CLAMD-CLIENT-3", "CLAMD-CLIENT-6"]);
    }
}
