//! Judging one client run: the verdict against the expectation, then the transcript's
//! obligation findings.

use serde::Serialize;

use crate::case::Case;
use crate::checks::{Finding, Level};
use crate::client_run::ClientRun;
use crate::profile::{ClientProfile, Protocol, Verdict};

/// Result category of one case, worst first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// The client reported clean although no complete scan happened: the worst defect.
    FailOpen,
    /// Any other failure (wrong verdict, unclassified output, hang, protocol violation,
    /// snapshot mismatch).
    Fail,
    /// The harness could not run the case (daemon or fixture failure, client not startable).
    HarnessError,
    /// The client is not available here (never counted as passed).
    NotAvailable,
    Pass,
}

impl Status {
    pub fn label(self) -> &'static str {
        match self {
            Status::FailOpen => "FAIL-OPEN",
            Status::Fail => "FAIL",
            Status::HarnessError => "HARNESS-ERROR",
            Status::NotAvailable => "N/A",
            Status::Pass => "PASS",
        }
    }
}

/// Why a case failed: the rule, the expectation, what happened, the offending bytes.
#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    pub rule: String,
    pub kind: String,
    pub expected: String,
    pub happened: String,
    pub excerpt: String,
}

/// Judges verdict and findings. `reached_daemon` says whether any scan reply could have
/// been produced (used only for the wording).
pub fn judge(
    case: &Case,
    profile: &ClientProfile,
    run: &ClientRun,
    findings: &[Finding],
) -> (Status, Option<Verdict>, Vec<Failure>) {
    let mut failures = Vec::new();
    let rule = case.rules.first().cloned().unwrap_or_default();
    let got = if run.timed_out {
        None
    } else {
        profile.classify(run.exit, &run.stdout, &run.stderr)
    };
    let mut status = Status::Pass;
    let timeout_rule = match case.protocol {
        Protocol::Clamd => "CLAMD-CLIENT-10",
        Protocol::Svsp => "SVSP-CLIENT-19",
    };
    if run.timed_out {
        status = Status::Fail;
        failures.push(Failure {
            rule: if case.rules.iter().any(|r| r == timeout_rule) { timeout_rule.into() } else { rule.clone() },
            kind: "hung".into(),
            expected: format!("verdict {} within the profile timeout ({:.1}s)", case.expect, profile.timeout.as_secs_f64()),
            happened: format!(
                "client still running after {:.1}s and was killed (a client must apply its own timeouts, {timeout_rule})",
                run.duration.as_secs_f64()
            ),
            excerpt: tail(&run.stderr, &run.stdout),
        });
    } else {
        match got {
            None => {
                status = Status::Fail;
                failures.push(Failure {
                    rule: rule.clone(),
                    kind: "unclassified".into(),
                    expected: format!("verdict {}", case.expect),
                    happened: format!(
                        "exit status {:?} and output match no verdict rule of profile {}",
                        run.exit, profile.name
                    ),
                    excerpt: tail(&run.stderr, &run.stdout),
                });
            }
            Some(v) if v != case.expect => {
                let fail_open = v == Verdict::Clean && case.expect == Verdict::Error;
                status = if fail_open {
                    Status::FailOpen
                } else {
                    Status::Fail
                };
                failures.push(Failure {
                    rule: rule.clone(),
                    kind: if fail_open {
                        "fail-open".into()
                    } else if v == Verdict::Clean {
                        "missed-detection".into()
                    } else {
                        "wrong-verdict".into()
                    },
                    expected: format!("verdict {}", case.expect),
                    happened: if fail_open {
                        format!(
                            "client reported CLEAN although the scan did not complete (exit {:?})",
                            run.exit
                        )
                    } else {
                        format!("client reported {v} (exit {:?})", run.exit)
                    },
                    excerpt: tail(&run.stderr, &run.stdout),
                });
            }
            Some(_) => {}
        }
    }
    for f in findings.iter().filter(|f| f.level == Level::Must) {
        if status == Status::Pass {
            status = Status::Fail;
        }
        failures.push(Failure {
            rule: f.rule.clone(),
            kind: "protocol".into(),
            expected: format!("transcript obeys {}", f.rule),
            happened: format!("connection #{}: {}", f.conn, f.message),
            excerpt: f.excerpt.clone(),
        });
    }
    (status, got, failures)
}

fn tail(stderr: &str, stdout: &str) -> String {
    let pick = |s: &str| -> String {
        let lines: Vec<&str> = s.lines().collect();
        lines[lines.len().saturating_sub(6)..].join("\n")
    };
    let mut out = String::new();
    if !stdout.trim().is_empty() {
        out.push_str("stdout: ");
        out.push_str(&pick(stdout));
    }
    if !stderr.trim().is_empty() {
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str("stderr: ");
        out.push_str(&pick(stderr));
    }
    out
}
