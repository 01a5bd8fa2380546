//! The HTML report (`--report-html PATH`): one self-contained file (inline style, no
//! script, no external asset; a Content-Security-Policy that forbids every fetch) that
//! works when opened from a CI artifact. It shows a matrix of cases x clients grouped by
//! rule, FAIL-OPEN and the baseline in sections of their own, and a section per case with
//! its rules, expectation, outcome, fault and transcript timeline.
//!
//! Every text from a run (client output, bytes, case fields) is redacted (signature bodies)
//! and HTML-escaped before it is placed; the finished page is redacted once more.

mod spec;
mod timeline;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

pub use spec::{Rules, SPEC_FILES};

use crate::baseline::Outcome;
use crate::case::Case;
use crate::error::Result;
use crate::judge::Status;
use crate::report::{Report, Row};
use crate::runner::CaseResult;

pub use crate::redact::html as esc;

/// What a client case's section shows beyond its report row.
#[derive(Debug, Clone, Default)]
pub struct CaseDetail {
    pub expected: String,
    pub got: String,
    pub input: String,
    pub daemon: String,
    /// The fault applied (the fault rules), empty when none.
    pub fault: String,
    /// The full timestamped transcript (passing cases too), redacted.
    pub transcript: String,
}

/// Per-row details keyed by (suite, case id), and where the repository is.
#[derive(Debug, Clone, Default)]
pub struct Details {
    pub root: Option<PathBuf>,
    pub cases: BTreeMap<(String, String), CaseDetail>,
}

/// The fault a case applies, in its own words (TOML for fault rules).
pub fn fault_of(case: &Case) -> String {
    if !case.faults.is_empty() {
        let rules: Vec<String> = case
            .faults
            .iter()
            .map(|r| serde_json::to_string(r).unwrap_or_default())
            .collect();
        let seed = case
            .fault_seed
            .map(|s| format!(" (fault_seed {s})"))
            .unwrap_or_default();
        return format!("fault rules: {}{seed}", rules.join("; "));
    }
    String::new()
}

/// A client-wide failure kind as the "client reported" cell says it.
fn no_verdict_label(kind: &str) -> String {
    match kind {
        "no-output" => "nothing (exit 0 with no output)".into(),
        "unclassified" => "unclassified output".into(),
        "killed" => "nothing (killed by a signal)".into(),
        other => format!("nothing ({other})"),
    }
}

impl Details {
    pub fn for_root(root: &Path) -> Self {
        Details {
            root: Some(root.to_path_buf()),
            cases: BTreeMap::new(),
        }
    }

    /// Details of client case results; `cases` gives each case's fault.
    pub fn add_results(&mut self, results: &[CaseResult], cases: &[Case]) {
        for r in results {
            let fault = cases
                .iter()
                .find(|c| c.id == r.case_id)
                .map(fault_of)
                .unwrap_or_default();
            let mut transcript = String::new();
            if let Some(run) = &r.run {
                let _ = writeln!(transcript, "{}", run.header());
            }
            transcript.push_str(&r.transcript_log);
            let got = match (r.got, r.run.as_ref().is_some_and(|x| x.timed_out)) {
                (Some(v), _) => v.to_string(),
                (None, true) => "hung (killed at the timeout)".into(),
                // what the judge made of it: crashed, killed, no output, unclassified
                (None, false) if r.run.is_some() => r
                    .failures
                    .iter()
                    .find(|f| crate::judge::CLIENT_WIDE_KINDS.contains(&f.kind.as_str()))
                    .map_or_else(
                        || "unclassified output".into(),
                        |f| no_verdict_label(&f.kind),
                    ),
                (None, false) => "did not run".into(),
            };
            self.cases.insert(
                (format!("client:{}", r.client), r.case_id.clone()),
                CaseDetail {
                    expected: r.expected.to_string(),
                    got,
                    input: r.input.clone(),
                    daemon: r.daemon.clone(),
                    fault,
                    transcript,
                },
            );
        }
    }
}

const STYLE: &str = "
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#1b1b1b;background:#fff}
h1{margin:0 0 .3em}h2{margin-top:1.6em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.4em 0}td,th{border:1px solid #ccc;padding:2px 6px;vertical-align:top;text-align:left}
.matrix td{text-align:center;font-weight:600;white-space:nowrap}
.o-pass{background:#c9f2cf;color:#0b4d14}.o-fail{background:#f7c4c0;color:#7a0b02}
.o-fail-open{background:#7a0b02;color:#fff}.o-harness-error{background:#ffd89b;color:#5c3a00}
.o-n-a{background:#e6e6e6;color:#555}.o-not-applicable{background:#d6e6f7;color:#113a66}
.known{outline:3px dashed #a36b00;outline-offset:-3px}.stale{outline:3px solid #7a0b02;outline-offset:-3px}
.badge{display:inline-block;padding:1px 8px;border-radius:3px;font-weight:700}
.rule-sum{color:#444;font-weight:400}.muted{color:#777}
.tally.fail-open{color:#7a0b02;font-weight:700}
section.case{border:1px solid #ddd;border-left:6px solid #999;margin:1em 0;padding:.4em .9em}
section.s-o-pass{border-left-color:#2c9a3c}section.s-o-fail{border-left-color:#c0392b}section.s-o-fail-open{border-left-color:#7a0b02;border-left-width:10px}
section.s-o-harness-error{border-left-color:#e67e22}section.s-o-not-applicable{border-left-color:#3b78c2}
.matrix td a{color:inherit}.timeline td:first-child{white-space:nowrap}
.timeline{font:12px/1.3 ui-monospace,monospace;width:100%}.timeline td:nth-child(3),.timeline td:nth-child(4){width:45%;word-break:break-all}
.timeline tr.c td:nth-child(3){background:#eef4ff}.timeline tr.s td:nth-child(4){background:#f1fbef}
.timeline tr.info td{color:#555;background:#fafafa}
.mark{font-weight:700;padding:0 4px;border-radius:2px}.mark.close{background:#ddd}.mark.reset{background:#c0392b;color:#fff}.mark.error{background:#e67e22;color:#fff}
pre{white-space:pre-wrap;word-break:break-all;background:#f6f6f6;padding:4px;margin:.2em 0}
dl{display:grid;grid-template-columns:max-content auto;gap:2px 12px}dt{font-weight:600}dd{margin:0}
";

/// The CSS class of an outcome.
fn class(s: Status) -> &'static str {
    match s {
        Status::Pass => "o-pass",
        Status::Fail => "o-fail",
        Status::FailOpen => "o-fail-open",
        Status::HarnessError => "o-harness-error",
        Status::NotAvailable => "o-n-a",
        Status::NotApplicable => "o-not-applicable",
    }
}

/// The rule a row is grouped under: the case's first (cited) rule.
fn group_of(r: &Row) -> String {
    r.rules
        .first()
        .cloned()
        .unwrap_or_else(|| "(no rule)".into())
}

fn rule_html(rules: &Rules, id: &str) -> String {
    match rules.get(id) {
        Some(sum) => format!(
            "<b>{}</b> <span class=\"rule-sum\">{}</span>",
            esc(id),
            esc(sum)
        ),
        None => format!("<b>{}</b>", esc(id)),
    }
}

/// The whole page.
pub fn render(
    report: &Report,
    details: &Details,
    rules: &Rules,
    baseline: Option<&Outcome>,
) -> String {
    let c = report.counts();
    let mut s = String::new();
    s.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n");
    // No fetch of any kind, even if some text escaped the escaping.
    s.push_str("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'none'; base-uri 'none'\">\n");
    s.push_str("<meta name=\"referrer\" content=\"no-referrer\">\n<meta name=\"viewport\" content=\"width=device-width\">\n");
    let _ = writeln!(
        s,
        "<title>Conformance report: {} failed, {} fail-open</title>\n<style>{STYLE}</style></head><body>",
        c.failed, c.fail_open
    );
    s.push_str("<h1>Conformance report</h1>\n");
    let _ = writeln!(
        s,
        "<p id=\"counts\"><b>{} passed, {} failed, {} fail-open, {} harness errors, {} not available, {} not applicable</b> in {:.1}s</p>",
        c.passed, c.failed, c.fail_open, c.harness_errors, c.not_available, c.not_applicable, report.seconds
    );
    for n in &report.notes {
        let _ = writeln!(s, "<p class=\"muted\">{}</p>", esc(n));
    }
    if rules.is_empty() {
        s.push_str("<p class=\"muted\">Rule texts: this build of the harness has no specification compiled in (../shared/spec was not beside the repository it was built from); rule IDs only.</p>\n");
    } else {
        let names: Vec<&str> = spec::SPEC_FILES.iter().map(|(n, _)| *n).collect();
        let _ = writeln!(
            s,
            "<p class=\"muted\">Rule texts: the first sentence of each rule in the specifications compiled into this harness ({}).</p>",
            esc(&names.join(", "))
        );
    }
    by_rule_section(&mut s, report);
    fail_open_section(&mut s, report, baseline);
    if let Some(b) = baseline {
        baseline_section(&mut s, report, b);
    }
    not_applicable_section(&mut s, report);
    matrix(&mut s, report, rules, baseline);
    s.push_str("<h2 id=\"cases\">Cases</h2>\n");
    for (i, r) in report.rows.iter().enumerate() {
        case_section(&mut s, i, r, details, rules, baseline);
    }
    s.push_str("</body></html>\n");
    crate::redact::text(&s)
}

fn link(i: usize, r: &Row) -> String {
    format!("<a href=\"#r-{i}\">{}</a> [{}]", esc(&r.id), esc(&r.suite))
}

/// The rows with `status`, each with its index in the report (the anchor of its details).
fn numbered_with(report: &Report, status: Status) -> Vec<(usize, &Row)> {
    report
        .rows
        .iter()
        .enumerate()
        .filter(|(_, r)| r.status == status)
        .collect()
}

/// The failures by rule, as the terminal and Markdown reports tally them: fail-open first,
/// then most cases first, a client-wide cause as one line.
fn by_rule_section(s: &mut String, report: &Report) {
    let tallies = report.by_rule();
    if tallies.is_empty() {
        return;
    }
    s.push_str("<h2 id=\"by-rule\">Failures by rule</h2>\n<p>Fail-open first; then one cause often fails many cases: fix the first. A client-wide cause (a crash, no output, no connection, a client that could not start) is one line whatever rules its cases cite.</p><ol class=\"by-rule\">\n");
    for t in &tallies {
        let class = if t.kind == crate::judge::FAIL_OPEN_KIND {
            "tally fail-open"
        } else {
            "tally"
        };
        let _ = writeln!(
            s,
            "<li class=\"{class}\" data-kind=\"{}\">{}</li>",
            esc(&t.kind),
            esc(&t.line())
        );
    }
    s.push_str("</ol>\n");
}

fn fail_open_section(s: &mut String, report: &Report, baseline: Option<&Outcome>) {
    let fo = numbered_with(report, Status::FailOpen);
    if fo.is_empty() {
        return;
    }
    s.push_str("<h2 id=\"fail-open\">FAIL-OPEN</h2>\n<p>The client reported <b>clean</b> when the scan did not happen: the worst defect. Listed here even when a baseline allows it.</p><ul>\n");
    for (i, r) in fo {
        let known = baseline
            .and_then(|b| b.is_known(i))
            .map(|why| {
                format!(
                    " <span class=\"known\">allowed by the baseline: {}</span>",
                    esc(why)
                )
            })
            .unwrap_or_default();
        let _ = writeln!(
            s,
            "<li class=\"fail-open-case\">{}: {}{known}</li>",
            link(i, r),
            esc(&r.detail)
        );
    }
    s.push_str("</ul>\n");
}

fn baseline_section(s: &mut String, report: &Report, b: &Outcome) {
    let _ = writeln!(
        s,
        "<h2 id=\"baseline\">Baseline</h2>\n<p>{}.</p><ul>",
        b.tally()
    );
    let row = |i: usize| report.rows.get(i);
    for i in &b.new {
        if let Some(r) = row(*i) {
            let _ = writeln!(
                s,
                "<li class=\"new\"><b>new</b> {} {}</li>",
                esc(r.status.label()),
                link(*i, r)
            );
        }
    }
    for (i, why) in &b.stale {
        if let Some(r) = row(*i) {
            let _ = writeln!(
                s,
                "<li class=\"stale\"><b>stale</b> {} passes now; remove it (reason was: {})</li>",
                link(*i, r),
                esc(why)
            );
        }
    }
    for (i, why) in &b.known {
        if let Some(r) = row(*i) {
            let _ = writeln!(
                s,
                "<li class=\"known\">known {} {}: {}</li>",
                esc(r.status.label()),
                link(*i, r),
                esc(why)
            );
        }
    }
    for n in b.notes.iter().chain(b.unchecked.iter()) {
        let _ = writeln!(s, "<li class=\"muted\">{}</li>", esc(n));
    }
    s.push_str("</ul>\n");
}

fn not_applicable_section(s: &mut String, report: &Report) {
    let nap = numbered_with(report, Status::NotApplicable);
    if nap.is_empty() {
        return;
    }
    s.push_str("<h2 id=\"not-applicable\">Not applicable</h2>\n<p>The case's expectation does not hold for the path the client took: each line says why (a fault that never fired, a command the client never sent). Neither passed nor failed.</p><ul>\n");
    for (i, r) in nap {
        let _ = writeln!(s, "<li>{}: {}</li>", link(i, r), esc(&r.detail));
    }
    s.push_str("</ul>\n");
}

/// Cases x suites, one table per rule group.
fn matrix(s: &mut String, report: &Report, rules: &Rules, baseline: Option<&Outcome>) {
    s.push_str("<h2 id=\"matrix\">Matrix</h2>\n");
    // group -> case id -> suite -> row index (first seen order kept by BTreeMap keys).
    let mut groups: BTreeMap<String, BTreeMap<String, BTreeMap<String, usize>>> = BTreeMap::new();
    for (i, r) in report.rows.iter().enumerate() {
        groups
            .entry(group_of(r))
            .or_default()
            .entry(r.id.clone())
            .or_default()
            .insert(r.suite.clone(), i);
    }
    for (g, cases) in &groups {
        let suites: Vec<&String> = cases
            .values()
            .flat_map(|m| m.keys())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let _ = writeln!(s, "<h3 class=\"group\">{}</h3>", rule_html(rules, g));
        s.push_str("<table class=\"matrix\"><thead><tr><th>case</th>");
        for su in &suites {
            let _ = write!(s, "<th>{}</th>", esc(su));
        }
        s.push_str("</tr></thead><tbody>\n");
        for (id, by_suite) in cases {
            let title = by_suite
                .values()
                .next()
                .and_then(|i| report.rows.get(*i))
                .map(|r| r.title.as_str())
                .unwrap_or("");
            let _ = write!(
                s,
                "<tr class=\"case\" data-case=\"{}\"><th>{}<br><span class=\"muted\">{}</span></th>",
                esc(id),
                esc(id),
                esc(title)
            );
            for su in &suites {
                match by_suite.get(*su) {
                    Some(&i) => {
                        let r = &report.rows[i];
                        let known = baseline.and_then(|b| b.is_known(i)).is_some();
                        let stale = baseline.is_some_and(|b| b.is_stale(i));
                        let extra = if known {
                            " known"
                        } else if stale {
                            " stale"
                        } else {
                            ""
                        };
                        let label = format!(
                            "{}{}",
                            r.status.label(),
                            if known {
                                " (known)"
                            } else if stale {
                                " (stale baseline)"
                            } else {
                                ""
                            }
                        );
                        let _ = write!(
                            s,
                            "<td class=\"outcome {}{extra}\" data-suite=\"{}\" data-outcome=\"{}\" title=\"{}\"><a href=\"#r-{i}\">{}</a></td>",
                            class(r.status),
                            esc(su),
                            esc(r.status.label()),
                            esc(&r.detail),
                            esc(&label)
                        );
                    }
                    None => s.push_str("<td class=\"muted\">–</td>"),
                }
            }
            s.push_str("</tr>\n");
        }
        s.push_str("</tbody></table>\n");
    }
}

fn case_section(
    s: &mut String,
    i: usize,
    r: &Row,
    details: &Details,
    rules: &Rules,
    baseline: Option<&Outcome>,
) {
    let d = details.cases.get(&(r.suite.clone(), r.id.clone()));
    let _ = writeln!(
        s,
        "<section class=\"case s-{}\" id=\"r-{i}\" data-case=\"{}\" data-suite=\"{}\" data-outcome=\"{}\">",
        class(r.status),
        esc(&r.id),
        esc(&r.suite),
        esc(r.status.label())
    );
    let _ = writeln!(
        s,
        "<h3><span class=\"badge {}\">{}</span> {} <span class=\"muted\">[{}]</span></h3>",
        class(r.status),
        esc(r.status.label()),
        esc(&r.id),
        esc(&r.suite)
    );
    if !r.title.is_empty() {
        let _ = writeln!(s, "<p>{}</p>", esc(&r.title));
    }
    if let Some(why) = baseline.and_then(|b| b.is_known(i)) {
        let _ = writeln!(
            s,
            "<p class=\"known\">Known failure (baseline): {}</p>",
            esc(why)
        );
    }
    if baseline.is_some_and(|b| b.is_stale(i)) {
        s.push_str("<p class=\"stale\">Stale baseline entry: this case passes now.</p>\n");
    }
    s.push_str("<dl>\n<dt>rules</dt><dd><ul class=\"rules\">");
    for id in &r.rules {
        let _ = write!(s, "<li>{}</li>", rule_html(rules, id));
    }
    s.push_str("</ul></dd>\n");
    let mut dd = |k: &str, v: &str| {
        if !v.is_empty() {
            let _ = writeln!(s, "<dt>{}</dt><dd>{}</dd>", esc(k), esc(v));
        }
    };
    if let Some(d) = d {
        dd("expected", &d.expected);
        dd("client reported", &d.got);
        dd("input", &d.input);
        dd("daemon", &d.daemon);
        dd(
            "fault applied",
            if d.fault.is_empty() { "none" } else { &d.fault },
        );
    }
    dd("outcome", &r.detail);
    if let Some(n) = &r.note {
        dd("note", n);
    }
    for w in &r.warnings {
        dd("warning", w);
    }
    s.push_str("</dl>\n");
    for f in &r.failures {
        let _ = writeln!(
            s,
            "<div class=\"failure\"><p>{} <span class=\"muted\">({})</span></p><dl><dt>expected</dt><dd>{}</dd><dt>happened</dt><dd>{}</dd></dl>",
            rule_html(rules, &f.rule),
            esc(&f.kind),
            esc(&f.expected),
            esc(&f.happened)
        );
        if !f.excerpt.is_empty() {
            let _ = writeln!(s, "<pre class=\"excerpt\">{}</pre>", esc(&f.excerpt));
        }
        s.push_str("</div>\n");
    }
    let transcript = match d {
        Some(d) if !d.transcript.is_empty() => d.transcript.as_str(),
        _ => r.transcript.as_str(),
    };
    if !transcript.is_empty() {
        s.push_str("<h4>Transcript</h4>\n");
        s.push_str(&timeline::render(transcript));
    }
    s.push_str("</section>\n");
}

/// Writes `--report-html PATH`.
pub fn write(
    path: &Path,
    report: &Report,
    details: &Details,
    baseline: Option<&Outcome>,
) -> Result<()> {
    // the specs compiled in, never a file of this machine: the same text everywhere
    crate::out_file::write(path, render(report, details, &Rules::builtin(), baseline))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// CLAMD-CLIENT-3: the HTML report has the failures-by-rule tally the terminal and
    /// Markdown reports have, fail-open first, above the matrix; a run without failures
    /// has none.
    #[test]
    fn clamd_client_3_html_tallies_failures_by_rule_fail_open_first() {
        let report = Report::fail_open_after(3, "legacy <PING>");
        let html = render(&report, &Details::default(), &Rules::default(), None);
        // in this order: the section, the fail-open line, the rule line (escaped), the matrix
        let at: Vec<usize> = [
            "<h2 id=\"by-rule\">",
            "<li class=\"tally fail-open\" data-kind=\"fail-open\">CLAMD-CLIENT-3 (fail-open): 1 case, first fo [client:c]: reported CLEAN</li>",
            "CLAMD-CLIENT-1 (protocol): 3 cases, first p0 [client:c]: legacy &lt;PING&gt;",
            "<h2 id=\"matrix\">",
        ]
        .iter()
        .map(|needle| html.find(needle).unwrap_or_else(|| panic!("{needle}: {html}")))
        .collect();
        assert!(at.windows(2).all(|w| w[0] < w[1]), "{at:?}");
        let clean = Report::of_rows(vec![crate::report::test_row("ok", &[])]);
        let html = render(&clean, &Details::default(), &Rules::default(), None);
        assert!(!html.contains("by-rule"), "{html}");
    }
}
