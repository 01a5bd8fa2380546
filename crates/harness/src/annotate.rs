//! GitHub Actions output: a Markdown summary appended to `$GITHUB_STEP_SUMMARY`, and one
//! `::error` workflow command per failure (a `::warning` for a failure the baseline
//! allows), so failures show on the run page without opening a log.
//!
//! Workflow-command escaping follows GitHub's runner: in the message `%`, CR and LF are
//! percent-encoded; in property values (`title=`) also `:` and `,`. Signature bodies are
//! redacted before escaping.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::baseline::Outcome;
use crate::error::{HarnessError, Result};
use crate::judge::Status;
use crate::report::{Report, Row};

/// Escapes workflow-command message data.
pub fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a workflow-command property value.
pub fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// The step-summary file when running under GitHub Actions (`GITHUB_STEP_SUMMARY` set and
/// not empty).
pub fn summary_path() -> Option<PathBuf> {
    std::env::var_os("GITHUB_STEP_SUMMARY")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// Whether to print workflow commands: under GitHub Actions only, where they are read.
pub fn enabled() -> bool {
    summary_path().is_some() || std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true")
}

/// The rule a failing row is reported under: its first failure's, else its first rule.
fn rule_of(r: &Row) -> String {
    r.failures
        .first()
        .map(|f| f.rule.clone())
        .or_else(|| r.rules.first().cloned())
        .unwrap_or_default()
}

/// One workflow-command line per failing row (known failures as warnings; stale baseline
/// entries as errors).
pub fn commands(report: &Report, baseline: Option<&Outcome>) -> String {
    let mut s = String::new();
    for (i, r) in report.rows.iter().enumerate() {
        let failing = matches!(r.status, Status::Fail | Status::FailOpen);
        let known = baseline.and_then(|b| b.is_known(i));
        let stale = baseline.is_some_and(|b| b.is_stale(i));
        if !failing && !stale {
            continue;
        }
        let rule = rule_of(r);
        let (level, title, message) = if stale {
            (
                "error",
                format!("stale baseline entry: {} [{}]", r.id, r.suite),
                format!("{} now passes; remove it from the baseline", r.id),
            )
        } else {
            let why = match r.failures.first() {
                Some(f) => format!("expected {}; {}", f.expected, f.happened),
                None => r.detail.clone(),
            };
            let mut msg = format!(
                "{} {} [{}] {}: {why}",
                r.status.label(),
                r.id,
                r.suite,
                rule
            );
            let level = match known {
                Some(reason) => {
                    let _ = write!(msg, " (known failure in the baseline: {reason})");
                    "warning"
                }
                None => "error",
            };
            (
                level,
                format!("{} {} {} [{}]", r.status.label(), r.id, rule, r.suite),
                msg,
            )
        };
        let _ = writeln!(
            s,
            "::{level} title={}::{}",
            escape_property(&crate::redact::text(&title)),
            escape_data(&crate::redact::text(&message))
        );
    }
    s
}

/// What a Markdown table cell shows instead of each character that would break it.
const CELL_ESCAPES: &[(char, &str)] = &[
    ('\n', " "),
    ('\r', " "),
    ('&', "&amp;"),
    ('<', "&lt;"),
    ('>', "&gt;"),
    ('|', "\\|"),
    ('`', "&#96;"),
];

/// A Markdown table cell: one line, no table break, no HTML (GitHub renders HTML in
/// step summaries, so `<` `>` `&` become entities).
fn cell(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match CELL_ESCAPES.iter().find(|(k, _)| *k == c) {
            Some((_, escaped)) => out.push_str(escaped),
            None => out.push(c),
        }
    }
    if out.chars().count() > 300 {
        out = out.chars().take(300).collect::<String>() + "…";
    }
    out
}

/// The Markdown step summary: counts, then a table of every case that did not pass
/// (all cases when there are few).
pub fn summary(report: &Report, baseline: Option<&Outcome>) -> String {
    let c = report.counts();
    let mut s = String::from("## Conformance\n\n");
    let _ = writeln!(
        s,
        "**{} passed, {} failed, {} fail-open, {} harness errors, {} not available, {} not applicable**\n",
        c.passed, c.failed, c.fail_open, c.harness_errors, c.not_available, c.not_applicable
    );
    if let Some(b) = baseline {
        let _ = writeln!(s, "Baseline: {}.\n", b.tally());
    }
    let rows: Vec<(usize, &Row)> = report
        .rows
        .iter()
        .enumerate()
        .filter(|(i, r)| r.status != Status::Pass || baseline.is_some_and(|b| b.is_stale(*i)))
        .collect();
    if rows.is_empty() {
        s.push_str("Every case passed.\n");
        return crate::redact::text(&s);
    }
    s.push_str("| status | suite | case | rule | detail |\n|---|---|---|---|---|\n");
    for (i, r) in rows {
        let mut status = r.status.label().to_string();
        if baseline.is_some_and(|b| b.is_known(i).is_some()) {
            status.push_str(" (known)");
        }
        if baseline.is_some_and(|b| b.is_stale(i)) {
            status = "STALE BASELINE".into();
        }
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} |",
            cell(&status),
            cell(&r.suite),
            cell(&r.id),
            cell(&rule_of(r)),
            cell(&r.detail)
        );
    }
    crate::redact::text(&s)
}

/// Appends the summary to `path` (the step-summary file).
pub fn append_summary(path: &Path, report: &Report, baseline: Option<&Outcome>) -> Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .map_err(|e| HarnessError::io(format!("GITHUB_STEP_SUMMARY {}", path.display()), e))?;
    f.write_all(summary(report, baseline).as_bytes())
        .map_err(|e| HarnessError::io(format!("GITHUB_STEP_SUMMARY {}", path.display()), e))
}

/// Everything GitHub gets from one run (nothing outside GitHub Actions).
pub fn github(report: &Report, baseline: Option<&Outcome>) -> Result<()> {
    if !enabled() {
        return Ok(());
    }
    let mut out = std::io::stdout().lock();
    // A closed stdout must not stop the run from finishing.
    let _ = out.write_all(commands(report, baseline).as_bytes());
    let _ = out.flush();
    if let Some(p) = summary_path() {
        append_summary(&p, report, baseline)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 16 part 4: GitHub's workflow-command escaping; a newline or `::` in client
    /// output cannot start a second command.
    #[test]
    fn workflow_command_values_are_escaped() {
        assert_eq!(escape_data("a%b\r\nc::d"), "a%25b%0D%0Ac::d");
        assert_eq!(escape_property("a:b,c%\n"), "a%3Ab%2Cc%25%0A");
    }

    /// Issue 16 part 4: a table cell cannot break the table or inject HTML.
    #[test]
    fn summary_cells_cannot_break_the_table_or_inject_html() {
        assert_eq!(cell("a|b\n<script>&"), "a\\|b &lt;script&gt;&amp;");
    }
}
