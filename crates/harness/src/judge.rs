//! Judging one client run: the verdict against the expectation, then the transcript's
//! obligation findings.

use serde::Serialize;

use crate::case::Case;
use crate::checks::{Finding, Level};
use crate::client_run::ClientRun;
use crate::profile::{ClientProfile, Protocol, Verdict};
use crate::transcript::{Dir, Transcript};

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
    /// A fault case whose fault never fired: the client took a path the fault does not
    /// touch. Neither pass nor fail; does not change the exit code.
    NotApplicable,
    Pass,
}

impl Status {
    pub fn label(self) -> &'static str {
        match self {
            Status::FailOpen => "FAIL-OPEN",
            Status::Fail => "FAIL",
            Status::HarnessError => "HARNESS-ERROR",
            Status::NotAvailable => "N/A",
            Status::NotApplicable => "NOT-APPLICABLE",
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

/// What the transcript and the daemon say about the scan, beside the client's own output.
#[derive(Debug, Clone, Default)]
pub struct Evidence {
    /// The daemon sent a scan verdict (clamd `OK`/`FOUND`, SVSP `DONE`) on some connection.
    pub daemon_verdict: bool,
    /// The daemon's last reply (escaped, signature bodies redacted); None if it sent nothing.
    pub last_reply: Option<String>,
    /// Fault-plan cases: whether any fault rule fired (None without a plan).
    pub fault_fired: Option<bool>,
    /// Some connection reached the daemon (through the recording proxy).
    pub connected: bool,
}

impl Evidence {
    pub fn of(protocol: Protocol, t: &Transcript, fault_fired: Option<bool>) -> Self {
        let daemon_verdict = match protocol {
            Protocol::Clamd => crate::checks::clamd::verdict_sent(t),
            Protocol::Svsp => crate::checks::svsp::verdict_sent(t),
        };
        let last_reply = t
            .connections()
            .into_iter()
            .filter_map(|c| {
                crate::checks::clamd::split_replies(&t.bytes(c, Dir::S2C))
                    .into_iter()
                    .rfind(|(r, _)| r.iter().any(|b| !b.is_ascii_whitespace() && *b != 0))
            })
            .next_back()
            .map(|(r, _)| {
                let r = crate::redact::bytes(&r);
                crate::transcript::shorten(&r, 96)
            });
        Evidence {
            daemon_verdict,
            last_reply,
            fault_fired,
            connected: !t.connections().is_empty(),
        }
    }
}

/// The failure kind of a client that reported clean when no scan verdict was sent (the
/// defect the harness exists to catch, CLAMD-CLIENT-3 / FAVE-*).
pub const FAIL_OPEN_KIND: &str = "fail-open";

/// Rules that say a client fails closed; a FAIL-OPEN cites one of them.
const FAIL_CLOSED_RULES: &[&str] = &[
    "CLAMD-CLIENT-3",
    "CLAMD-CLIENT-4",
    "CLAMD-CLIENT-5",
    "CLAMD-CLIENT-10",
    "SVSP-CLIENT-10",
    "SVSP-CLIENT-19",
];

/// The rule a FAIL-OPEN breaks: the case's own fail-closed rule, else the one that covers
/// the reply the client got (none: CLAMD-CLIENT-3; size limit: -4; another reply: -5).
fn fail_open_rule(case: &Case, ev: &Evidence) -> String {
    if let Some(r) = case
        .rules
        .iter()
        .find(|r| FAIL_CLOSED_RULES.contains(&r.as_str()))
    {
        return r.clone();
    }
    match case.protocol {
        Protocol::Svsp => "SVSP-CLIENT-10".into(),
        Protocol::Clamd => match &ev.last_reply {
            None => "CLAMD-CLIENT-3".into(),
            Some(r) if r.contains("size limit") => "CLAMD-CLIENT-4".into(),
            Some(_) => "CLAMD-CLIENT-5".into(),
        },
    }
}

fn reply_said(ev: &Evidence) -> String {
    match &ev.last_reply {
        Some(r) => format!("its last reply was `{r}`, not a verdict"),
        None => "it sent no reply (closed, reset, refused or silent)".into(),
    }
}

/// Most wrong verdicts without a single connection come from a client that was never told
/// where the daemon is (a profile or one-off command that ignores the placeholders): say so.
fn not_connected_hint(ev: &Evidence) -> &'static str {
    if ev.connected {
        ""
    } else {
        "; no connection reached the daemon: does the command take the address from \
         {host}/{port}, {socket} or a config file written into {dir}?"
    }
}

/// Judges verdict and findings.
///
/// FAIL-OPEN: the client reported clean where the case expects otherwise and the daemon
/// never sent a verdict (issue 14 item 3). A fault case whose fault never fired while the
/// daemon sent a verdict is not applicable: the expectation assumed the fault (issue 14
/// item 4); a hang or a broken protocol rule still fails it.
pub fn judge(
    case: &Case,
    profile: &ClientProfile,
    run: &ClientRun,
    findings: &[Finding],
    ev: &Evidence,
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
                        "{} and output match no verdict rule of profile {}{}",
                        run.exit
                            .map_or("no exit status (ended by a signal)".into(), |c| {
                                format!("exit status {c}")
                            }),
                        profile.name,
                        not_connected_hint(ev)
                    ),
                    excerpt: tail(&run.stderr, &run.stdout),
                });
            }
            // The fault never fired and the daemon answered with a real verdict: the
            // expectation (which assumed the fault) does not apply. Without a verdict the
            // client is judged as usual (a clean with no scan is still FAIL-OPEN).
            Some(_) if ev.fault_fired == Some(false) && ev.daemon_verdict => {
                status = Status::NotApplicable
            }
            Some(v) if v != case.expect => {
                let fail_open = v == Verdict::Clean && !ev.daemon_verdict;
                status = if fail_open {
                    Status::FailOpen
                } else {
                    Status::Fail
                };
                let (kind, rule, happened) = if fail_open {
                    (
                        FAIL_OPEN_KIND,
                        fail_open_rule(case, ev),
                        format!(
                            "client reported CLEAN (exit {}) but the daemon never sent a scan verdict: {}",
                            run.exit_text(),
                            reply_said(ev)
                        ),
                    )
                } else if v == Verdict::Clean && case.expect == Verdict::Infected {
                    (
                        "missed-detection",
                        rule.clone(),
                        format!("client reported CLEAN (exit {})", run.exit_text()),
                    )
                } else {
                    (
                        "wrong-verdict",
                        rule.clone(),
                        format!(
                            "client reported {} (exit {}){}{}",
                            v.to_string().to_uppercase(),
                            run.exit_text(),
                            if ev.daemon_verdict {
                                " after the daemon sent a scan verdict"
                            } else {
                                ""
                            },
                            not_connected_hint(ev)
                        ),
                    )
                };
                failures.push(Failure {
                    rule,
                    kind: kind.into(),
                    expected: format!("verdict {}", case.expect),
                    happened,
                    excerpt: tail(&run.stderr, &run.stdout),
                });
            }
            Some(_) => {}
        }
    }
    if !run.timed_out {
        let per_file = file_failures(case, run);
        if !per_file.is_empty() && matches!(status, Status::Pass | Status::NotApplicable) {
            status = Status::Fail;
        }
        failures.extend(per_file);
    }
    for f in findings.iter().filter(|f| f.level == Level::Must) {
        if matches!(status, Status::Pass | Status::NotApplicable) {
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

/// For a `files` input, the client's clamdscan-style line for each file (`<path>: OK`,
/// `<path>: <name> FOUND`, `<path>: <text> ERROR`, on stdout or stderr): an infected file must
/// be reported FOUND, an error one ERROR, and a clean one neither. A client that pairs a
/// session's replies with its requests by position instead of by their `<id>:` number puts
/// a verdict on the wrong file when the replies come out of order (CLAMD-CLIENT-9,
/// CLAMD-SESSION-3, CLAMD-SESSION-4).
fn file_failures(case: &Case, run: &ClientRun) -> Vec<Failure> {
    let Some(files) = case.input.files() else {
        return Vec::new();
    };
    let rule = case.rules.first().cloned().unwrap_or_default();
    let lines: Vec<&str> = run.stdout.lines().chain(run.stderr.lines()).collect();
    let mut out = Vec::new();
    for f in files {
        let named: Vec<&str> = lines
            .iter()
            .map(|l| l.trim_end())
            .filter(|l| {
                l.starts_with(&format!("{}: ", f.name)) || l.contains(&format!("/{}: ", f.name))
            })
            .collect();
        let said: Vec<Verdict> = named.iter().filter_map(|l| line_verdict(l)).collect();
        let ok = match f.expect {
            Verdict::Clean => !said.iter().any(|v| *v != Verdict::Clean),
            v => said.contains(&v),
        };
        if ok {
            continue;
        }
        let happened = if said.is_empty() {
            format!("no result line names {}", f.name)
        } else {
            let words: Vec<String> = said.iter().map(|v| v.to_string().to_uppercase()).collect();
            format!(
                "client reported {} as {} (replies paired by position, not by their number?)",
                f.name,
                words.join(" and ")
            )
        };
        out.push(Failure {
            rule: rule.clone(),
            kind: "file-verdict".into(),
            expected: format!("{}: {}", f.name, f.expect),
            happened,
            excerpt: if named.is_empty() {
                tail(&run.stderr, &run.stdout)
            } else {
                crate::client_run::quotable(&named.join("\n"))
            },
        });
    }
    out
}

/// The verdict of one clamdscan-style result line, if it is one.
fn line_verdict(line: &str) -> Option<Verdict> {
    if line.ends_with(" FOUND") {
        Some(Verdict::Infected)
    } else if line.ends_with(" ERROR") {
        Some(Verdict::Error)
    } else if line.ends_with(": OK") {
        Some(Verdict::Clean)
    } else {
        None
    }
}

/// The last lines of the client's output. When they do not name the error, its first line
/// that does comes first (a Node stack trace ends in frames; `Error: Cannot find module`
/// is at its top).
fn tail(stderr: &str, stdout: &str) -> String {
    let pick = |s: &str| -> String {
        let lines: Vec<&str> = s.lines().collect();
        let last = &lines[lines.len().saturating_sub(6)..];
        let names_error = |l: &str| l.contains("Error") || l.contains("error:");
        match lines.iter().find(|l| names_error(l)) {
            Some(first) if !last.iter().any(|l| names_error(l)) => {
                format!("{first}\n...\n{}", last.join("\n"))
            }
            _ => last.join("\n"),
        }
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
    crate::client_run::quotable(&out)
}
