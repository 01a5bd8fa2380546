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
    /// Fault cases whose fault never fired (neither passed nor failed).
    pub not_applicable: usize,
}

/// Failures of one rule (and kind) across the run: one cause often fails many cases, so a
/// client author fixes the rule at the top first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleTally {
    pub rule: String,
    pub kind: String,
    /// Case ids (with their suite) in report order.
    pub cases: Vec<String>,
    /// What happened in the first of them.
    pub example: String,
}

impl Report {
    /// The rows with this status, in report order.
    fn with_status(&self, status: Status) -> impl Iterator<Item = &Row> {
        self.rows.iter().filter(move |r| r.status == status)
    }

    /// Failures grouped by rule and kind: fail-open first (the client said clean although no
    /// scan happened: the defect that matters most, however few cases show it), then most
    /// cases first (ties in report order).
    pub fn by_rule(&self) -> Vec<RuleTally> {
        let mut tallies: Vec<RuleTally> = Vec::new();
        for r in &self.rows {
            for f in &r.failures {
                let case = format!("{} [{}]", r.id, r.suite);
                match tallies
                    .iter_mut()
                    .find(|t| t.rule == f.rule && t.kind == f.kind)
                {
                    Some(t) if !t.cases.contains(&case) => t.cases.push(case),
                    Some(_) => {}
                    None => tallies.push(RuleTally {
                        rule: f.rule.clone(),
                        kind: f.kind.clone(),
                        cases: vec![case],
                        example: f.happened.clone(),
                    }),
                }
            }
        }
        // stable: equal keys keep report order
        tallies.sort_by_key(|t| (t.kind != FAIL_OPEN_KIND, std::cmp::Reverse(t.cases.len())));
        tallies
    }

    /// The by-rule summary as text lines (empty when nothing failed).
    fn by_rule_lines(&self) -> Vec<String> {
        self.by_rule()
            .iter()
            .map(|t| {
                let n = t.cases.len();
                let first = &t.cases[0];
                format!(
                    "{} ({}): {n} case{}, first {first}: {}",
                    t.rule,
                    t.kind,
                    if n == 1 { "" } else { "s" },
                    t.example
                )
            })
            .collect()
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
                "\nFAILURES BY RULE (fail-open first; one cause often fails many cases: fix the first):"
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
            let _ = writeln!(s, "\nNOT APPLICABLE (the fault never fired: the client took a path this fault does not touch; neither passed nor failed):");
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
                "## Failures by rule\n\nFail-open first; then one cause often fails many cases: fix the first.\n\n",
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
            s.push_str("\n## Not applicable\n\nThe fault never fired: the client took a path this fault does not touch. These cases are neither passed nor failed.\n\n");
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
                    let _ = writeln!(s, "\n```text\n{}\n```", f.excerpt);
                }
            }
            if !r.transcript.is_empty() {
                let _ = writeln!(s, "\nTranscript:\n\n```text\n{}```", r.transcript);
            }
        }
        crate::redact::text(&s)
    }

    pub fn json(&self) -> Result<String> {
        #[derive(Serialize)]
        struct J<'a> {
            counts: Counts,
            report: &'a Report,
        }
        serde_json::to_string_pretty(&J {
            counts: self.counts(),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, failures: &[(&str, &str, &str)]) -> Row {
        Row {
            status: if failures.is_empty() {
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

    /// A rule that fails in many cases comes first, with its count and first example, in
    /// the terminal and Markdown reports; a clean run has no such section.
    #[test]
    fn failures_are_tallied_by_rule_most_cases_first() {
        let report = Report {
            rows: vec![
                row(
                    "a",
                    &[("CLAMD-CLIENT-2", "wrong-verdict", "reported ERROR")],
                ),
                row("b", &[("CLAMD-CLIENT-1", "protocol", "legacy PING")]),
                row("c", &[("CLAMD-CLIENT-1", "protocol", "legacy PING again")]),
                row("d", &[]),
            ],
            ..Default::default()
        };
        let tallies = report.by_rule();
        assert_eq!(tallies.len(), 2);
        assert_eq!(tallies[0].rule, "CLAMD-CLIENT-1");
        assert_eq!(tallies[0].cases, ["b [client:c]", "c [client:c]"]);
        assert_eq!(tallies[0].example, "legacy PING");
        let term = report.terminal();
        assert!(
            term.contains("CLAMD-CLIENT-1 (protocol): 2 cases, first b [client:c]: legacy PING\n"),
            "{term}"
        );
        assert!(
            term.contains("CLAMD-CLIENT-2 (wrong-verdict): 1 case, first a [client:c]"),
            "{term}"
        );
        assert!(report.markdown().contains("## Failures by rule"));
        let clean = Report {
            rows: vec![row("d", &[])],
            ..Default::default()
        };
        assert!(!clean.terminal().contains("BY RULE"));
        assert!(!clean.markdown().contains("Failures by rule"));
    }

    /// CLAMD-CLIENT-3: a fail-open in one case heads the tally even when a protocol
    /// finding fails every other case (an npm client showed 40 legacy-PING failures above
    /// its one fail-open).
    #[test]
    fn clamd_client_3_fail_open_heads_the_tally() {
        let mut rows: Vec<Row> = (0..5)
            .map(|i| {
                row(
                    &format!("p{i}"),
                    &[("CLAMD-CLIENT-1", "protocol", "legacy PING")],
                )
            })
            .collect();
        rows.push(row(
            "fo",
            &[("CLAMD-CLIENT-3", FAIL_OPEN_KIND, "reported CLEAN")],
        ));
        let report = Report {
            rows,
            ..Default::default()
        };
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
}
