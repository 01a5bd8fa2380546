//! Reports: terminal summary, Markdown, JSON and JUnit XML.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use crate::error::{HarnessError, Result};
use crate::judge::{Failure, Status};

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

impl Report {
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
        let c = self.counts();
        let fo = self
            .rows
            .iter()
            .filter(|r| r.status == Status::FailOpen)
            .map(|r| format!("{} [{}]", r.id, r.suite))
            .collect::<Vec<_>>();
        if !fo.is_empty() {
            let _ = writeln!(s, "\nFAIL-OPEN (client reported clean when the scan did not happen; the worst defect):");
            for f in fo {
                let _ = writeln!(s, "  {f}");
            }
        }
        let na: Vec<String> = self
            .rows
            .iter()
            .filter(|r| r.status == Status::NotAvailable)
            .map(|r| r.suite.clone())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        if !na.is_empty() {
            let _ = writeln!(
                s,
                "\nnot available (not counted as passed): {}",
                na.join(", ")
            );
        }
        let nap: Vec<&Row> = self
            .rows
            .iter()
            .filter(|r| r.status == Status::NotApplicable)
            .collect();
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
        let nap: Vec<&Row> = self
            .rows
            .iter()
            .filter(|r| r.status == Status::NotApplicable)
            .collect();
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
