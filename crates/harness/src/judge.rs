//! Judging one client run: the verdict against the expectation, then the transcript's
//! obligation findings.

use serde::Serialize;

use crate::case::Case;
use crate::checks::{Finding, Level};
use crate::client_run::ClientRun;
use crate::profile::{ClientProfile, Protocol, Verdict};
use crate::transcript::{Dir, Transcript};

mod crash;

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
    /// The case's expectation does not hold for the path the client took: its fault never
    /// fired, or it never sent the command the case assumes (`applies_if_sent`). Neither
    /// pass nor fail; does not change the exit code.
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

/// What [`judge`] decided about one run.
#[derive(Debug, Clone)]
pub struct Judgement {
    pub status: Status,
    /// The client's verdict as its profile reads it (None: no verdict, or a hang).
    pub got: Option<Verdict>,
    pub failures: Vec<Failure>,
    /// Why the case did not apply; set exactly when `status` is NOT-APPLICABLE.
    pub not_applicable: Option<String>,
}

/// The pseudo-rule of a transcript that differs from its stored snapshot (or has none in
/// CI): a change to review and accept, never a known defect of a client.
pub const SNAPSHOT_RULE: &str = "SNAPSHOT";

impl Failure {
    /// A snapshot difference ([`SNAPSHOT_RULE`]), not a broken rule.
    pub fn is_snapshot(&self) -> bool {
        self.rule == SNAPSHOT_RULE
    }
}

/// What the transcript and the daemon say about the scan, beside the client's own output.
#[derive(Debug, Clone, Default)]
pub struct Evidence {
    /// The daemon sent a scan verdict (clamd `OK`/`FOUND`, SVSP `DONE`) on some connection.
    pub daemon_verdict: bool,
    /// The daemon's last reply on the connection that carried the client's last scan
    /// command (else its last connection), escaped, signature bodies redacted; None if the
    /// daemon sent nothing there.
    pub last_reply: Option<String>,
    /// Fault-plan cases: whether any fault rule fired (None without a plan).
    pub fault_fired: Option<bool>,
    /// Some connection reached the daemon (through the recording proxy).
    pub connected: bool,
    /// The command words the client sent, first use first (see [`sent_commands`]).
    pub sent: Vec<String>,
}

/// Longest command word recorded: anything longer is not a command of either protocol.
const MAX_WORD: usize = 32;
/// Distinct command words recorded per run.
const MAX_WORDS: usize = 64;

/// The command words a client sent on every connection, each once, first use first:
/// clamd z/n commands as framed (CLAMD-FRAME-1), a legacy one by its first word
/// (CLAMD-FRAME-3, `SCAN <path>\n`); SVSP the keyword of each line (SVSP-FRAME-8), with
/// `SCAN/<source>` recorded as `SCAN`. Words are upper-cased as both daemons match them.
pub fn sent_commands(protocol: Protocol, t: &Transcript) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for conn in t.connections() {
        for_each_word(protocol, t, conn, |w| {
            // only words that can be commands, and a bounded list (a hostile client's lines)
            let word =
                !w.is_empty() && w.len() <= MAX_WORD && w.iter().all(u8::is_ascii_alphabetic);
            let w = String::from_utf8_lossy(w).to_ascii_uppercase();
            if word && out.len() < MAX_WORDS && !out.contains(&w) {
                out.push(w);
            }
        });
    }
    out
}

/// Calls `add` with the first word of each command the client sent on `conn`.
fn for_each_word(protocol: Protocol, t: &Transcript, conn: u32, mut add: impl FnMut(&[u8])) {
    match protocol {
        Protocol::Clamd => {
            let c2s = t.bytes(conn, Dir::C2S);
            for f in crate::checks::clamd::parse_client(&c2s) {
                match f {
                    crate::checks::clamd::ClientFrame::Command { name, .. } => {
                        add(first_word(&name))
                    }
                    // clamd answers one unprefixed command and closes: its first line
                    crate::checks::clamd::ClientFrame::Legacy { at, end } => {
                        add(first_word(&c2s[at..end]))
                    }
                    _ => {}
                }
            }
        }
        Protocol::Svsp => {
            for l in crate::checks::svsp::lines(t, conn, Dir::C2S) {
                let (_, word, _) = crate::checks::svsp::tokens(&l.text);
                add(word.split('/').next().unwrap_or_default().as_bytes());
            }
        }
    }
}

/// Command words that ask for a scan: clamd's SCAN family, INSTREAM and FILDES
/// (CLAMD-CLIENT-5), SVSP's SCAN/<source> and FILE-SHA1.
const SCAN_WORDS: &[&str] = &[
    "SCAN",
    "CONTSCAN",
    "MULTISCAN",
    "ALLMATCHSCAN",
    "INSTREAM",
    "FILDES",
    "FILE-SHA1",
];

/// The connection that carried the client's last scan command, else its last connection:
/// the one whose reply a verdict comes from (a client may PING first on a connection of
/// its own, whose `PONG` says nothing about the scan).
fn scan_connection(protocol: Protocol, t: &Transcript) -> Option<u32> {
    let conns = t.connections();
    let scans = |c: &u32| {
        let mut found = false;
        for_each_word(protocol, t, *c, |w| {
            found |= SCAN_WORDS
                .iter()
                .any(|s| s.as_bytes().eq_ignore_ascii_case(w));
        });
        found
    };
    conns
        .iter()
        .rev()
        .find(|c| scans(c))
        .or(conns.last())
        .copied()
}

/// The bytes up to the first space, tab or CR (a command's name without its argument).
fn first_word(b: &[u8]) -> &[u8] {
    let end = b
        .iter()
        .position(|c| matches!(c, b' ' | b'\t' | b'\r' | 0))
        .unwrap_or(b.len());
    &b[..end]
}

/// Why a case is not applicable to a run, or None when it applies. A case whose assumed
/// command (`applies_if_sent`) never went out says so first (the more precise reason); else
/// a fault case whose fault never fired. Only a run in which the daemon sent a real verdict
/// qualifies (without one a clean is FAIL-OPEN).
fn not_applicable_reason(case: &Case, ev: &Evidence) -> Option<String> {
    if !ev.daemon_verdict {
        return None;
    }
    if let Some(cmd) = &case.applies_if_sent {
        if !ev.sent.iter().any(|s| s == cmd) {
            let why = case
                .applies_why
                .as_deref()
                .unwrap_or("the case's expectation assumes it");
            let sent = if ev.sent.is_empty() {
                String::new()
            } else {
                format!(", only {}", ev.sent.join(", "))
            };
            return Some(format!("the client never sent {cmd}{sent}: {why}"));
        }
    }
    (ev.fault_fired == Some(false)).then(|| {
        // name the command the fault waits for when the client never sent it (a fault at an
        // upload's chunk waits for INSTREAM)
        let wanted: Vec<&str> = case
            .faults
            .iter()
            .filter_map(|r| (r.when.command.as_deref()).or(r.when.chunk.map(|_| "INSTREAM")))
            .filter(|c| !ev.sent.iter().any(|s| s.eq_ignore_ascii_case(c)))
            .collect();
        match wanted.first() {
            Some(cmd) if wanted.len() == case.faults.len() => {
                let sent = if ev.sent.is_empty() {
                    "nothing".to_string()
                } else {
                    format!("only {}", ev.sent.join(", "))
                };
                format!("the fault never fired: it waits for {cmd}, and the client sent {sent}")
            }
            _ => "the fault never fired: the client took a path this fault does not touch"
                .to_string(),
        }
    })
}

impl Evidence {
    pub fn of(protocol: Protocol, t: &Transcript, fault_fired: Option<bool>) -> Self {
        let daemon_verdict = match protocol {
            Protocol::Clamd => crate::checks::clamd::verdict_sent(t),
            Protocol::Svsp => crate::checks::svsp::verdict_sent(t),
        };
        // the reply on the scan's own connection (or its absence), never another one's
        let last_reply = scan_connection(protocol, t)
            .and_then(|c| {
                crate::checks::clamd::split_replies(&t.bytes(c, Dir::S2C))
                    .into_iter()
                    .rfind(|(r, _)| r.iter().any(|b| !b.is_ascii_whitespace() && *b != 0))
            })
            .map(|(r, _)| {
                let r = crate::redact::bytes(&r);
                crate::transcript::shorten(&r, 96)
            });
        Evidence {
            daemon_verdict,
            last_reply,
            fault_fired,
            connected: !t.connections().is_empty(),
            sent: sent_commands(protocol, t),
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

/// The rule a FAIL-OPEN breaks: the case's own fail-closed rule that applies to what the
/// client sent ([`client_rules`]), else the one that covers the reply the client got.
fn fail_open_rule(case: &Case, ev: &Evidence) -> String {
    client_rules(case, ev)
        .into_iter()
        .find(|r| FAIL_CLOSED_RULES.contains(&r.as_str()))
        .unwrap_or_else(|| reply_rule(case.protocol, ev))
}

/// The client rule that covers the reply on the scan's connection: none or cut short,
/// CLAMD-CLIENT-3; the size limit, -4; any other reply, -5 (how a verdict is read from
/// replies). SVSP: SVSP-CLIENT-10 (verdicts fail closed).
fn reply_rule(protocol: Protocol, ev: &Evidence) -> String {
    match protocol {
        Protocol::Svsp => "SVSP-CLIENT-10".into(),
        Protocol::Clamd => match &ev.last_reply {
            None => "CLAMD-CLIENT-3".into(),
            Some(r) if r.contains("size limit") => "CLAMD-CLIENT-4".into(),
            Some(_) => "CLAMD-CLIENT-5".into(),
        },
    }
}

/// The timeout rule of a protocol (CLAMD-CLIENT-10, SVSP-CLIENT-19): what a hang breaks.
fn timeout_rule(protocol: Protocol) -> &'static str {
    match protocol {
        Protocol::Clamd => "CLAMD-CLIENT-10",
        Protocol::Svsp => "SVSP-CLIENT-19",
    }
}

/// The case's client rules that apply to what the client sent, in the case's order: a
/// session rule (CLAMD-CLIENT-9) only if it sent IDSESSION, FILDES's (-13) only if it sent
/// FILDES, the INSTREAM rules (-2, -4) only if it sent INSTREAM; the timeout rule last (a
/// verdict failure that is not a hang breaks it only when nothing else covers it).
fn client_rules(case: &Case, ev: &Evidence) -> Vec<String> {
    let sent = |cmd: &str| ev.sent.iter().any(|s| s == cmd);
    let applies = |r: &str| match r {
        "CLAMD-CLIENT-9" => sent("IDSESSION"),
        "CLAMD-CLIENT-13" => sent("FILDES"),
        "CLAMD-CLIENT-2" | "CLAMD-CLIENT-4" => sent("INSTREAM"),
        _ => true,
    };
    let timeout = timeout_rule(case.protocol);
    let mut rules: Vec<String> = case
        .rules
        .iter()
        .filter(|r| r.contains("-CLIENT-") && applies(r))
        .cloned()
        .collect();
    // stable: the timeout rule goes last, the others keep the case's order
    rules.sort_by_key(|r| r == timeout);
    rules
}

/// The rule a failed verdict breaks: the case's first client rule that applies to what the
/// client sent ([`client_rules`]), else the rule of the reply it got ([`reply_rule`]). A
/// case's server rules (CLAMD-INSTREAM-3, ...) say what the daemon does, never what the
/// client broke.
fn verdict_rule(case: &Case, ev: &Evidence) -> String {
    client_rules(case, ev)
        .into_iter()
        .next()
        .unwrap_or_else(|| reply_rule(case.protocol, ev))
}

/// What the daemon said instead of a verdict; first, that no scan was asked for at all (a
/// client that PINGs, finds no engine and passes the file: c-icap with a clamd that was down
/// when it started), which no reply quoted from a probe's connection would say.
fn reply_said(ev: &Evidence) -> String {
    if !ev.sent.is_empty() && !ev.sent.iter().any(|w| SCAN_WORDS.contains(&w.as_str())) {
        return format!(
            "the client never asked for a scan (it sent only {})",
            ev.sent.join(", ")
        );
    }
    match &ev.last_reply {
        Some(r) => format!("its last reply was `{r}`, not a verdict"),
        None => "it sent no reply (closed, reset, refused or silent)".into(),
    }
}

/// The words [`not_connected_hint`] starts with: a failure that says them has one cause for
/// the whole run (the client never reached the daemon), whatever rule its case cites.
pub const NOT_CONNECTED: &str = "no connection reached the daemon";

/// Most wrong verdicts without a single connection come from a client that was never told
/// where the daemon is (a profile or one-off command that ignores the placeholders): say so,
/// unless nothing listened on purpose (`reached`: a refused case needs no connection).
fn not_connected_hint(reached: bool) -> String {
    if reached {
        String::new()
    } else {
        format!(
            "; {NOT_CONNECTED}: does the command take the address from \
             {{host}}/{{port}}, {{socket}} or a config file written into {{dir}}?"
        )
    }
}

/// The failure kind of a verdict from a client that never reached the daemon.
pub const NOT_CONNECTED_KIND: &str = "not-connected";

/// Whether the client reached the daemon, or did not have to: in a case whose plan refuses
/// the first connection nothing listens (`daemon::RunningDaemon::Refused`), so a refused
/// attempt leaves no trace and no connection is the expected path.
fn reached(case: &Case, ev: &Evidence) -> bool {
    ev.connected
        || case
            .fault_plan()
            .is_some_and(|p| crate::daemon::plan::refuses_first_connection(&p))
}

/// What a client that never reached the daemon did: the same words in every case of a
/// client that never connects (one cause in the report).
fn unreached(run: &ClientRun, v: Verdict) -> String {
    format!(
        "client reported {} (exit {}), so the case tested nothing{}",
        v.to_string().to_uppercase(),
        run.exit_text(),
        not_connected_hint(false)
    )
}

/// Failure kinds that say how the client as a whole behaved (it crashed, hung, printed
/// nothing, matched no verdict rule) rather than what one case's bytes did wrong: the report
/// groups them by what happened, not by the rule each case cites.
pub const CLIENT_WIDE_KINDS: &[&str] = &[
    "crashed",
    "killed",
    "no-output",
    "unclassified",
    "hung",
    NOT_CONNECTED_KIND,
];

/// Whether a failure has a cause that is the client's as a whole (see
/// [`CLIENT_WIDE_KINDS`]; a wrong verdict without any connection counts too). A FAIL-OPEN
/// never does: it keeps its own line at the top of the report.
pub fn is_client_wide(f: &Failure) -> bool {
    f.kind != FAIL_OPEN_KIND
        && (CLIENT_WIDE_KINDS.contains(&f.kind.as_str()) || f.happened.contains(NOT_CONNECTED))
}

/// Why a run that ended by itself gave no verdict, for people: a crash with its exception
/// line, a silent exit 0, a signal, or output the profile's rules do not match.
fn no_verdict(
    run: &ClientRun,
    profile: &ClientProfile,
    hint_reached: bool,
) -> (&'static str, String) {
    let hint = not_connected_hint(hint_reached);
    if let Some(c) = crash::find(&run.stderr, &run.stdout) {
        return (
            "crashed",
            format!(
                "crashed (exit {}, {}): {}{hint}",
                run.exit_text(),
                c.what,
                c.line
            ),
        );
    }
    match run.exit {
        None => (
            "killed",
            format!("killed by a signal before it gave a verdict (a crash?){hint}"),
        ),
        Some(0) if run.stdout.trim().is_empty() && run.stderr.trim().is_empty() => (
            "no-output",
            format!(
                "exit 0 with no output (did the callback run? a program that ends before its \
                 answer arrives exits 0 silently){hint}"
            ),
        ),
        Some(code) => (
            "unclassified",
            format!(
                "exit status {code} and output match no verdict rule of profile {}{}{hint}",
                profile.name,
                first_line(&run.stderr, &run.stdout)
                    .map(|l| format!(": it printed `{l}`"))
                    .unwrap_or_default()
            ),
        ),
    }
}

/// The first line of output that names an error, else the first non-empty line (stderr
/// first), shortened.
fn first_line(stderr: &str, stdout: &str) -> Option<String> {
    let lines = || stderr.lines().chain(stdout.lines()).map(str::trim);
    let line = lines()
        .find(|l| names_error(l))
        .or_else(|| lines().find(|l| !l.is_empty()))?;
    Some(crate::transcript::shorten(line.as_bytes(), 120))
}

fn names_error(l: &str) -> bool {
    l.contains("Error") || l.contains("error:") || l.contains("ERROR")
}

/// Judges verdict and findings.
///
/// FAIL-OPEN: the client reported clean where the case expects otherwise and the daemon
/// never sent a verdict (issue 14 item 3). A fault case whose fault never fired, or a case
/// whose `applies_if_sent` command the client never sent, while the daemon sent a verdict is
/// not applicable: the expectation assumed the fault or the command (issue 14 item 4); a
/// hang or a broken protocol rule still fails it.
pub fn judge(
    case: &Case,
    profile: &ClientProfile,
    run: &ClientRun,
    findings: &[Finding],
    ev: &Evidence,
) -> Judgement {
    let mut failures = Vec::new();
    // computed once: it decides the status and is the report's reason
    let mut not_applicable = not_applicable_reason(case, ev);
    let rule = verdict_rule(case, ev);
    let got = if run.timed_out {
        None
    } else {
        profile.classify(run.exit, &run.stdout, &run.stderr)
    };
    // the client gave no verdict, or not the expected one: quotes the end of its output
    let verdict_failure = |rule: String, kind: &str, happened: String| Failure {
        rule,
        kind: kind.into(),
        expected: format!("verdict {}", case.expect),
        happened,
        excerpt: tail(&run.stderr, &run.stdout),
    };
    let mut status = Status::Pass;
    if run.timed_out {
        status = Status::Fail;
        // the case's timeout rule; else the client rule the case is about (a client that
        // waits for QUEUED hangs by SVSP-CLIENT-8); else the timeout rule all the same
        let timeout_rule = timeout_rule(case.protocol);
        let rules = client_rules(case, ev);
        failures.push(Failure {
            rule: match rules.iter().find(|r| *r == timeout_rule) {
                Some(r) => r.clone(),
                None => rules.into_iter().next().unwrap_or_else(|| timeout_rule.into()),
            },
            kind: "hung".into(),
            expected: format!("verdict {} within the profile timeout ({:.1}s)", case.expect, profile.timeout.as_secs_f64()),
            // the profile's timeout, not the measured time: the same words in every case of
            // a client that always hangs, so the report groups them as one cause
            happened: format!(
                "client still running after the timeout ({:.1}s): killed at the timeout (a client must apply its own timeouts, {timeout_rule})",
                profile.timeout.as_secs_f64()
            ),
            excerpt: tail(&run.stderr, &run.stdout),
        });
    } else {
        match got {
            None => {
                status = Status::Fail;
                let (kind, happened) = no_verdict(run, profile, reached(case, ev));
                failures.push(verdict_failure(rule.clone(), kind, happened));
            }
            // The fault never fired, or the command the case assumes was never sent, and the
            // daemon answered with a real verdict: the expectation does not apply. Without a
            // verdict the client is judged as usual (a clean with no scan is still FAIL-OPEN).
            Some(_) if not_applicable.is_some() => status = Status::NotApplicable,
            // A clean without any verdict from the daemon did not come from a scan, whatever
            // the case expected (CLAMD-CLIENT-3, SVSP-CLIENT-10): `UNKNOWN COMMAND` read as
            // clean is fail-open even on a clean file.
            Some(Verdict::Clean) if !ev.daemon_verdict => {
                status = Status::FailOpen;
                failures.push(verdict_failure(
                    fail_open_rule(case, ev),
                    FAIL_OPEN_KIND,
                    format!(
                        "client reported CLEAN (exit {}) but the daemon never sent a scan verdict: {}",
                        run.exit_text(),
                        reply_said(ev)
                    ),
                ));
            }
            Some(v) if v != case.expect => {
                status = Status::Fail;
                let (kind, happened) = if let Some(c) =
                    crash::find(&run.stderr, &run.stdout).filter(|_| !ev.connected)
                {
                    // An uncaught exception's exit status can match a verdict rule (Python
                    // exits 1, often `infected`): the crash is the cause to read first.
                    (
                        "crashed",
                        format!(
                            "crashed (exit {}, {}): {} (read as {} by the profile){}",
                            run.exit_text(),
                            c.what,
                            c.line,
                            v.to_string().to_uppercase(),
                            not_connected_hint(reached(case, ev))
                        ),
                    )
                } else if !reached(case, ev) {
                    (NOT_CONNECTED_KIND, unreached(run, v))
                } else if v == Verdict::Clean && case.expect == Verdict::Infected {
                    (
                        "missed-detection",
                        format!("client reported CLEAN (exit {})", run.exit_text()),
                    )
                } else {
                    (
                        "wrong-verdict",
                        format!(
                            "client reported {} (exit {}){}",
                            v.to_string().to_uppercase(),
                            run.exit_text(),
                            if ev.daemon_verdict {
                                " after the daemon sent a scan verdict"
                            } else {
                                ""
                            },
                        ),
                    )
                };
                failures.push(verdict_failure(rule.clone(), kind, happened));
            }
            // A case that assumes a command (`applies_if_sent`) and a client that answered
            // it without any connection (it refused the file by itself, e.g. over the size
            // limit): the case's premise never happened.
            // (the report's line adds the verdict: "the client reported <v>")
            Some(v) if !reached(case, ev) && v == case.expect && case.applies_if_sent.is_some() => {
                status = Status::NotApplicable;
                not_applicable = Some(format!(
                    "the client answered without connecting, so it never sent {}",
                    case.applies_if_sent.as_deref().unwrap_or_default()
                ));
            }
            // The expected verdict from a client that never reached the daemon tested
            // nothing (a driver that exits 2 at once "passes" every error case): it fails,
            // except where nothing listens, which is what the case is about.
            Some(v) if !reached(case, ev) => {
                status = Status::Fail;
                failures.push(Failure {
                    rule: rule.clone(),
                    kind: NOT_CONNECTED_KIND.into(),
                    expected: format!(
                        "verdict {} from a conversation with the daemon",
                        case.expect
                    ),
                    happened: unreached(run, v),
                    excerpt: tail(&run.stderr, &run.stdout),
                });
            }
            // The expected verdict, but the case's fault never fired: the client got there
            // by a path the case does not test (a driver that PINGs and gives up reports the
            // error a reset case expects), so it proves nothing either way.
            Some(_) if ev.fault_fired == Some(false) => {
                status = Status::NotApplicable;
                not_applicable =
                    Some("the fault never fired: the client answered without meeting it".into());
            }
            Some(_) => {}
        }
    }
    if !run.timed_out {
        let per_file = file_failures(case, run, &rule);
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
    if status != Status::NotApplicable {
        not_applicable = None;
    }
    Judgement {
        status,
        got,
        failures,
        not_applicable,
    }
}

/// For a `files` input, the client's clamdscan-style line for each file (`<path>: OK`,
/// `<path>: <name> FOUND`, `<path>: <text> ERROR`, on stdout or stderr): an infected file must
/// be reported FOUND, an error one ERROR, and a clean one neither. A client that pairs a
/// session's replies with its requests by position instead of by their `<id>:` number puts
/// a verdict on the wrong file when the replies come out of order (CLAMD-CLIENT-9,
/// CLAMD-SESSION-3, CLAMD-SESSION-4).
fn file_failures(case: &Case, run: &ClientRun, rule: &str) -> Vec<Failure> {
    let Some(files) = case.input.files() else {
        return Vec::new();
    };
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
            rule: rule.to_string(),
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

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Duration;

    use super::*;

    use crate::transcript::{Event, EventKind};

    trait Push {
        fn push(&mut self, conn: u32, dir: Dir, b: &[u8]);
    }
    impl Push for Transcript {
        fn push(&mut self, conn: u32, dir: Dir, b: &[u8]) {
            self.events.push(Event {
                conn,
                at: Duration::ZERO,
                kind: EventKind::Data {
                    dir,
                    bytes: b.to_vec(),
                    len: b.len(),
                    truncated: false,
                },
            });
        }
    }

    /// A case of the shipped suite.
    fn shipped(id: &str) -> Case {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../conformance/cases/client");
        crate::case::load_dir(&dir)
            .unwrap()
            .into_iter()
            .find(|c| c.id == id)
            .unwrap_or_else(|| panic!("{id} is shipped"))
    }

    /// Evidence of a run that connected, sent `sent` and got (`verdict`) a scan verdict.
    fn seen(verdict: bool, sent: &[&str], last_reply: Option<&str>) -> Evidence {
        Evidence {
            daemon_verdict: verdict,
            last_reply: last_reply.map(str::to_string),
            fault_fired: None,
            connected: true,
            sent: sent.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn profile(verdicts: &str) -> ClientProfile {
        let text = format!("protocol = \"clamd\"\ncommand = \"x {{file}}\"\ntimeout_secs = 3\n[verdicts]\n{verdicts}");
        ClientProfile::from_toml(&text, Path::new("p/scanner.toml")).unwrap()
    }

    /// A profile that reads exit 0, 1 and 2 as clean, infected and error.
    fn verdicts() -> ClientProfile {
        profile("clean = { exit = 0 }\ninfected = { exit = 1 }\nerror = { exit = 2 }\n")
    }

    /// `judge` of `run` under [`verdicts`], without protocol findings.
    fn judged(case: &Case, run: &ClientRun, ev: &Evidence) -> Judgement {
        judge(case, &verdicts(), run, &[], ev)
    }

    /// Why a NOT-APPLICABLE judgement did not apply; fails on any other status.
    fn reason(j: &Judgement) -> &str {
        assert_eq!(j.status, Status::NotApplicable, "{:?}", j.failures);
        j.not_applicable
            .as_deref()
            .expect("a NOT-APPLICABLE judgement says why")
    }

    fn run(exit: Option<i32>, timed_out: bool, stdout: &str, stderr: &str) -> ClientRun {
        ClientRun {
            argv: vec!["x".into()],
            exit,
            timed_out,
            stdout: stdout.into(),
            stderr: stderr.into(),
            duration: Duration::from_millis(3100),
            left_running: 0,
        }
    }

    /// A run that exited with `code` and printed nothing.
    fn exited(code: i32) -> ClientRun {
        run(Some(code), false, "", "")
    }

    /// CLAMD-CLIENT-4: a client that refuses an over-limit file by itself, without
    /// connecting, reports the error `clamd.over-limit` expects but never sent INSTREAM:
    /// NOT-APPLICABLE (the case assumes INSTREAM), not a never-connected failure.
    #[test]
    fn clamd_client_4_a_local_refusal_of_an_over_limit_file_is_not_applicable() {
        let case = shipped("clamd.over-limit");
        let j = judged(&case, &exited(2), &Evidence::default());
        assert!(reason(&j).contains("never sent INSTREAM"));
        // a clean report without a connection is still FAIL-OPEN
        let j = judged(&case, &exited(0), &Evidence::default());
        assert_eq!(j.status, Status::FailOpen);
    }

    /// CLAMD-CLIENT-3: a client that connected, never met the case's fault and reported the
    /// error the case expects (a driver that PINGs and gives up) proves nothing: the case is
    /// NOT-APPLICABLE with the reason, not a pass. A wrong verdict in the same run still
    /// fails, and a clean without any verdict is still FAIL-OPEN.
    #[test]
    fn clamd_client_3_the_expected_error_without_the_fault_is_not_applicable() {
        let case = shipped("clamd.fault-reset-mid-stream");
        let ev = Evidence {
            fault_fired: Some(false),
            ..seen(false, &["PING"], Some("PONG"))
        };
        let j = judged(&case, &exited(2), &ev);
        assert!(reason(&j).contains("the fault never fired"), "{j:?}");
        // the fault fired: the expected error passes
        let fired = Evidence {
            fault_fired: Some(true),
            ..ev.clone()
        };
        for (code, ev, want, why) in [
            (1, &ev, Status::Fail, "infected is still a wrong verdict"),
            (0, &ev, Status::FailOpen, "clean without a verdict"),
            (
                2,
                &fired,
                Status::Pass,
                "the expected error once the fault fired",
            ),
        ] {
            assert_eq!(judged(&case, &exited(code), ev).status, want, "{why}");
        }
    }

    /// CLAMD-CLIENT-3: a fault that waits for a command the client never sent (a reset in
    /// the middle of an INSTREAM upload, for a client that scans by path or passes a
    /// descriptor) says so in the NOT-APPLICABLE reason, a fault at an upload's chunk too; a
    /// fault on no command keeps the general words.
    #[test]
    fn clamd_client_3_a_fault_on_a_command_never_sent_names_it() {
        let ev = Evidence {
            fault_fired: Some(false),
            ..seen(true, &["FILDES"], Some("fd[N]: OK"))
        };
        let j = judged(&shipped("clamd.fault-reset-mid-stream"), &exited(0), &ev);
        assert_eq!(j.status, Status::NotApplicable);
        assert!(
            reason(&j).contains("it waits for INSTREAM, and the client sent only FILDES"),
            "{j:?}"
        );
        // a fault at a chunk waits for INSTREAM too
        let j = judged(&shipped("clamd.fault-probability-reset"), &exited(0), &ev);
        assert!(
            reason(&j).contains("it waits for INSTREAM, and the client sent only FILDES"),
            "{j:?}"
        );
        // a fault on no command and no chunk keeps the general words
        let j = judged(&shipped("clamd.fault-slow-read"), &exited(0), &ev);
        assert!(
            reason(&j).contains("the client took a path this fault does not touch"),
            "{j:?}"
        );
    }

    /// CLAMD-CLIENT-3: a client that never reached the daemon tested nothing: the expected
    /// verdict fails (one client-wide cause, "no connection reached the daemon"), a wrong
    /// one too; where nothing listens (`clamd.refused`, `svsp.refused`: a refused attempt
    /// leaves no trace) the error it must report passes.
    #[test]
    fn clamd_client_3_a_client_that_never_connected_does_not_pass() {
        let none = Evidence::default();
        for id in [
            "clamd.close-before-reply",
            "clamd.fault-never-reply",
            "svsp.fault-reset",
        ] {
            let j = judged(&shipped(id), &exited(2), &none);
            assert_eq!(
                (j.status, j.got),
                (Status::Fail, Some(Verdict::Error)),
                "{id}"
            );
            assert_eq!(j.failures.len(), 1, "{id}: {:?}", j.failures);
            let f = &j.failures[0];
            assert_eq!(f.kind, NOT_CONNECTED_KIND, "{id}");
            assert!(f.happened.contains(NOT_CONNECTED), "{f:?}");
            assert!(is_client_wide(f));
        }
        let j = judged(&shipped("clamd.eicar"), &exited(2), &none);
        assert_eq!(j.failures[0].kind, NOT_CONNECTED_KIND, "{:?}", j.failures);
        // the same error after a conversation passes
        let talked = seen(false, &["INSTREAM"], None);
        for (id, ev) in [
            ("clamd.refused", &none),
            ("clamd.fault-refuse", &none),
            ("svsp.refused", &none),
            ("svsp.fault-refuse", &none),
            ("clamd.close-before-reply", &talked),
        ] {
            let j = judged(&shipped(id), &exited(2), ev);
            assert_eq!(j.status, Status::Pass, "{id}: {:?}", j.failures);
        }
    }

    /// CLAMD-CLIENT-3, CLAMD-CLIENT-5: a clean report when the daemon sent no verdict is
    /// FAIL-OPEN even where clean is expected (`UNKNOWN COMMAND` read as clean on
    /// `clamd.empty`), with the rule of the reply it got.
    #[test]
    fn clamd_client_3_clean_without_a_verdict_is_fail_open_even_when_clean_is_expected() {
        let case = shipped("clamd.empty");
        assert_eq!(case.expect, Verdict::Clean);
        let ev = seen(false, &["INSTREAM"], Some("UNKNOWN COMMAND\\n"));
        let j = judged(&case, &exited(0), &ev);
        assert_eq!(j.status, Status::FailOpen, "{:?}", j.failures);
        let f = &j.failures[0];
        assert_eq!(f.kind, FAIL_OPEN_KIND);
        assert_eq!(f.rule, "CLAMD-CLIENT-5");
        assert!(f.happened.contains("`UNKNOWN COMMAND"), "{f:?}");
        let j = judged(&case, &exited(0), &seen(true, &["INSTREAM"], None));
        assert_eq!(j.status, Status::Pass);
    }

    /// CLAMD-CLIENT-3: a clean report from a client that only probed the daemon (c-icap
    /// sends `PING` and `VERSION` at start and, finding no engine, passes every file) says
    /// that no scan was asked for, not the probe's reply.
    #[test]
    fn clamd_client_3_fail_open_without_a_scan_request_says_so() {
        let ev = Evidence {
            connected: true,
            sent: vec!["PING".into(), "VERSION".into()],
            last_reply: Some("ClamAV 1.4.6\\0".into()),
            ..Evidence::default()
        };
        let j = judged(&shipped("clamd.empty"), &exited(0), &ev);
        assert_eq!(j.status, Status::FailOpen, "{:?}", j.failures);
        assert!(
            j.failures[0]
                .happened
                .ends_with("the client never asked for a scan (it sent only PING, VERSION)"),
            "{}",
            j.failures[0].happened
        );
    }

    /// CLAMD-CLIENT-3: a FAIL-OPEN quotes the reply on the connection that carried the scan:
    /// a client that PINGs on a connection of its own and then gets nothing for its
    /// INSTREAM "got no reply", not "its last reply was `PONG`".
    #[test]
    fn clamd_client_3_fail_open_quotes_the_scan_connection() {
        let mut t = Transcript::default();
        t.push(1, Dir::C2S, b"zPING\0");
        t.push(1, Dir::S2C, b"PONG\0");
        t.push(2, Dir::C2S, b"zINSTREAM\0\0\0\0\x01a\0\0\0\0");
        let ev = Evidence {
            connected: true,
            ..Evidence::of(Protocol::Clamd, &t, None)
        };
        assert_eq!(ev.last_reply, None);
        let j = judged(&shipped("clamd.close-before-reply"), &exited(0), &ev);
        assert_eq!(j.status, Status::FailOpen);
        let happened = &j.failures[0].happened;
        assert!(happened.contains("it sent no reply"), "{happened}");
        assert!(!happened.contains("PONG"), "{happened}");
        // the scan's own reply is quoted, and picks the rule when the case names none
        t.push(2, Dir::S2C, b"INSTREAM size limit exceeded. ERROR\0");
        let ev = Evidence::of(Protocol::Clamd, &t, None);
        assert_eq!(
            ev.last_reply.as_deref(),
            Some("INSTREAM size limit exceeded. ERROR\\0")
        );
        assert_eq!(reply_rule(Protocol::Clamd, &ev), "CLAMD-CLIENT-4");
    }

    /// CLAMD-CLIENT-5, CLAMD-CLIENT-9, CLAMD-CLIENT-3, CLAMD-CLIENT-10: a failure names the
    /// client rule it breaks, never a server rule (CLAMD-INSTREAM-3) or a session rule for a
    /// client that sent no IDSESSION; a timeout rule only for a hang or when nothing else
    /// covers the case.
    #[test]
    fn clamd_client_5_failures_name_the_client_rule_they_break() {
        let scan_error = shipped("clamd.fault-scan-error");
        let delay_bytes = shipped("clamd.fault-delay-bytes");
        let delay_reply = shipped("clamd.fault-delay-reply");
        let err_reply = Some("stream: Can't allocate memory ERROR\\0");
        let ok = Some("stream: OK\\0");
        let session = ["IDSESSION", "INSTREAM", "END"];
        for (case, r, ev, rule) in [
            (
                &scan_error,
                exited(1),
                seen(false, &["INSTREAM"], err_reply),
                "CLAMD-CLIENT-5",
            ),
            (
                &scan_error,
                exited(1),
                seen(false, &session, err_reply),
                "CLAMD-CLIENT-9",
            ),
            (
                &scan_error,
                run(None, true, "", ""),
                seen(false, &["INSTREAM"], None),
                "CLAMD-CLIENT-10",
            ),
            // a split reply read as an error: the rule is -3 (EOF/parsing), not the timeout rule
            (
                &delay_bytes,
                exited(2),
                seen(true, &["INSTREAM"], ok),
                "CLAMD-CLIENT-3",
            ),
            // a timeout case names its timeout rule for a too-early give-up
            (
                &delay_reply,
                exited(2),
                seen(true, &["INSTREAM"], ok),
                "CLAMD-CLIENT-10",
            ),
        ] {
            let j = judged(case, &r, &ev);
            assert_eq!(j.status, Status::Fail, "{}: {:?}", case.id, j.failures);
            assert_eq!(j.failures[0].rule, rule, "{}: {:?}", case.id, j.failures);
        }
    }

    fn one_failure(p: &ClientProfile, r: &ClientRun) -> Failure {
        let j = judge(&shipped("clamd.eicar"), p, r, &[], &Evidence::default());
        assert_eq!(j.status, Status::Fail, "{:?}", j.failures);
        assert_eq!(j.failures.len(), 1, "{:?}", j.failures);
        j.failures.into_iter().next().unwrap()
    }

    const TRACEBACK: &str = "Traceback (most recent call last):\n  File \"scan.py\", line 9, in <module>\n    c.instream(f)\n  File \"clamd.py\", line 3, in instream\nConnectionRefusedError: [Errno 111] Connection refused\n";

    /// CLAMD-CLIENT-6: a client that gives no verdict says how it ended, in words a client
    /// author acts on: a crash with its exception line, a silent exit 0, a signal, a hang at
    /// the timeout; output no rule matches quotes its first error line. Each is one cause
    /// for the report, whatever rule the case cites.
    #[test]
    fn clamd_client_6_no_verdict_says_how_the_client_ended() {
        let p = profile("clean = { exit = 0, stdout = ': OK' }\ninfected = { exit = 1 }\nerror = { exit = 2 }\n");
        let f = one_failure(&p, &run(Some(3), false, "", TRACEBACK));
        assert_eq!(f.kind, "crashed");
        assert!(is_client_wide(&f), "{f:?}");
        assert!(
            f.happened.starts_with(
                "crashed (exit 3, Python traceback): ConnectionRefusedError: [Errno 111] Connection refused; no connection reached the daemon"
            ),
            "{}",
            f.happened
        );
        let f = one_failure(&p, &run(Some(0), false, "", " \n"));
        assert_eq!(f.kind, "no-output");
        assert!(
            f.happened
                .starts_with("exit 0 with no output (did the callback run?"),
            "{}",
            f.happened
        );
        let f = one_failure(&p, &run(None, false, "", ""));
        assert_eq!(f.kind, "killed");
        let f = one_failure(
            &p,
            &run(Some(0), false, "scanner 1.2\nERROR: bad config\n", ""),
        );
        assert_eq!(f.kind, "unclassified");
        assert!(
            f.happened.contains("exit status 0 and output match no verdict rule of profile scanner: it printed `ERROR: bad config`"),
            "{}",
            f.happened
        );
        let f = one_failure(&p, &run(None, true, "", ""));
        assert_eq!(f.kind, "hung");
        assert!(
            f.happened.contains("killed at the timeout"),
            "{}",
            f.happened
        );
        assert!(
            f.happened.contains("(3.0s)"),
            "the profile's timeout: {}",
            f.happened
        );
        assert!(is_client_wide(&f), "{f:?}");
    }

    /// CLAMD-CLIENT-6, CLAMD-CLIENT-3: where nothing listens (`clamd.refused`) a client that
    /// crashes on the refusal fails for the crash alone: no hint that it was never told the
    /// address (it had no daemon to reach), and not grouped with the "never connected" cause.
    #[test]
    fn clamd_client_6_a_crash_on_a_refused_connection_has_no_address_hint() {
        let p = profile(
            "clean = { exit = 0 }
infected = { exit = 1, stdout = 'FOUND' }
error = { exit = 2 }
",
        );
        let j = judge(
            &shipped("clamd.refused"),
            &p,
            &run(Some(3), false, "", TRACEBACK),
            &[],
            &Evidence::default(),
        );
        assert_eq!(j.status, Status::Fail, "{:?}", j.failures);
        let f = &j.failures[0];
        assert_eq!(f.kind, "crashed");
        assert!(!f.happened.contains(NOT_CONNECTED), "{}", f.happened);
        assert!(!f.happened.contains("{host}"), "{}", f.happened);
        // elsewhere the same crash without a connection still carries the hint
        let f = one_failure(&p, &run(Some(3), false, "", TRACEBACK));
        assert!(f.happened.contains(NOT_CONNECTED), "{}", f.happened);
    }

    /// CLAMD-CLIENT-6: Python exits 1 on an uncaught exception, which many profiles read as
    /// infected; a client that crashed before it reached the daemon is reported as the crash.
    #[test]
    fn clamd_client_6_a_crash_read_as_a_verdict_is_still_a_crash() {
        let case = Case {
            expect: Verdict::Clean,
            ..shipped("clamd.eicar")
        };
        let crash = run(Some(1), false, "", TRACEBACK);
        let j = judged(&case, &crash, &Evidence::default());
        assert_eq!((j.status, j.got), (Status::Fail, Some(Verdict::Infected)));
        let f = &j.failures[0];
        assert_eq!(f.kind, "crashed");
        assert!(
            f.happened.contains("(read as INFECTED by the profile)"),
            "{f:?}"
        );
        // the same output after a real scan is judged on its verdict
        let ev = Evidence {
            connected: true,
            daemon_verdict: true,
            ..Evidence::default()
        };
        let j = judged(&case, &crash, &ev);
        assert_eq!(j.failures[0].kind, "wrong-verdict");
        assert!(!is_client_wide(&j.failures[0]));
    }

    /// CLAMD-CLIENT-4, CLAMD-CLIENT-1: `clamd.over-limit` assumes INSTREAM. A client that
    /// scanned by path and got a real verdict is NOT-APPLICABLE, with a reason naming the
    /// command (carried in the judgement, set only beside that status); the same client still fails on a hang or a MUST finding, is FAIL-OPEN on a
    /// clean without a scan, and an INSTREAM client's clean is judged as usual.
    #[test]
    fn clamd_client_4_over_limit_applies_only_to_an_instream_client() {
        let case = shipped("clamd.over-limit");
        assert_eq!(case.applies_if_sent.as_deref(), Some("INSTREAM"));
        let clean = run(Some(0), false, "f: OK\n", "");
        let by_path = Evidence {
            daemon_verdict: true,
            connected: true,
            sent: vec!["SCAN".into()],
            ..Evidence::default()
        };
        assert_eq!(
            reason(&judged(&case, &clean, &by_path)),
            "the client never sent INSTREAM, only SCAN: StreamMaxLength does not apply"
        );
        let j = judged(&case, &run(None, true, "", ""), &by_path);
        assert_eq!(j.status, Status::Fail, "a hang still fails");
        assert_eq!(j.not_applicable, None, "no reason beside a failure");
        let must = Finding {
            rule: "CLAMD-CLIENT-1".into(),
            level: Level::Must,
            conn: 1,
            message: "unprefixed".into(),
            excerpt: String::new(),
        };
        let j = judge(&case, &verdicts(), &clean, &[must], &by_path);
        assert_eq!(
            (j.status, j.not_applicable.as_deref()),
            (Status::Fail, None)
        );
        assert_eq!(
            j.failures.len(),
            1,
            "only the protocol rule: {:?}",
            j.failures
        );
        let no_scan = Evidence {
            daemon_verdict: false,
            ..by_path.clone()
        };
        assert_eq!(not_applicable_reason(&case, &no_scan), None);
        assert_eq!(judged(&case, &clean, &no_scan).status, Status::FailOpen);
        let streamed = Evidence {
            sent: vec!["INSTREAM".into()],
            ..by_path
        };
        let j = judged(&case, &clean, &streamed);
        assert_eq!(j.status, Status::Fail);
        assert_eq!(j.failures[0].rule, "CLAMD-CLIENT-4");
    }

    /// CLAMD-FRAME-1, CLAMD-FRAME-3, SVSP-FRAME-8: the command words a client sent, from
    /// z/n frames, a legacy line, or SVSP lines (`SCAN/FILE` as SCAN); never a word of data.
    #[test]
    fn sent_commands_reads_each_framing() {
        let mut t = Transcript::default();
        t.push(
            1,
            Dir::C2S,
            b"zIDSESSION\0zINSTREAM\0\0\0\0\x05ab\ncd\0\0\0\0zEND\0",
        );
        t.push(2, Dir::C2S, b"SCAN /tmp/x\nPING\n");
        assert_eq!(
            sent_commands(Protocol::Clamd, &t),
            ["IDSESSION", "INSTREAM", "END", "SCAN"]
        );
        let mut t = Transcript::default();
        t.push(1, Dir::C2S, b"1 enable verbose\n2 SCAN/FILE x\nquit\n");
        assert_eq!(
            sent_commands(Protocol::Svsp, &t),
            ["ENABLE", "SCAN", "QUIT"]
        );
    }
}
