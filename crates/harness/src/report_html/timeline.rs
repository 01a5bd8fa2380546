//! The transcript of a report row as a timeline: the recorder's log lines
//! (`[  12.345 ms] #1 C: bytes`, `#1 S: <EOF>`, `#1 S: <error ...>`; server suites `C: ...`)
//! parsed into entries, rendered as a table with the client's and the daemon's bytes in
//! two columns, closes and resets marked, long data folded.

use std::fmt::Write as _;

use crate::redact::html as esc;

/// Characters of data shown before the rest is folded into a `<details>` element.
const FOLD_AT: usize = 160;
/// Entries shown per row (a hostile client could make the log long).
const MAX_ENTRIES: usize = 400;

#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// Bytes one side sent (already escaped and redacted by the recorder's log).
    Data { client: bool, text: String },
    /// Orderly end of one direction (FIN).
    Close { client: bool },
    /// A read error in one direction: a reset when the message says so.
    Error { client: bool, message: String },
    /// Connection events (`open`, data channel set-up) and header lines (`client:`, `exit:`).
    Info(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub ms: Option<String>,
    pub conn: Option<String>,
    pub kind: Kind,
}

/// Parses the recorder's log text; lines it does not know become `Info`.
pub fn parse(text: &str) -> Vec<Entry> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(parse_line)
        .collect()
}

fn parse_line(line: &str) -> Entry {
    let (ms, rest) = match line.strip_prefix('[').and_then(|r| r.split_once(" ms] ")) {
        Some((t, rest)) if t.trim().parse::<f64>().is_ok() => (Some(t.trim().to_string()), rest),
        _ => (None, line),
    };
    let (conn, rest) = match rest.strip_prefix('#').and_then(|r| r.split_once(' ')) {
        Some((n, rest)) if n.chars().all(|c| c.is_ascii_digit()) && !n.is_empty() => {
            (Some(format!("#{n}")), rest)
        }
        _ => (None, rest),
    };
    let dir = if let Some(r) = rest.strip_prefix("C: ") {
        Some((true, r))
    } else {
        rest.strip_prefix("S: ").map(|r| (false, r))
    };
    let kind = match dir {
        Some((client, "<EOF>")) => Kind::Close { client },
        Some((client, d)) if d.starts_with("<error ") && d.ends_with('>') => Kind::Error {
            client,
            message: d["<error ".len()..d.len() - 1].to_string(),
        },
        Some((client, d)) => Kind::Data {
            client,
            text: d.to_string(),
        },
        None => Kind::Info(rest.to_string()),
    };
    Entry { ms, conn, kind }
}

/// A data cell: short text as is, long text folded (the start stays visible).
fn data_cell(text: &str) -> String {
    let n = text.chars().count();
    if n <= FOLD_AT {
        return format!("<code>{}</code>", esc(text));
    }
    let head: String = text.chars().take(FOLD_AT).collect();
    format!(
        "<details class=\"fold\"><summary><code>{}</code>… ({n} characters; open to show all)</summary><code>{}</code></details>",
        esc(&head),
        esc(text)
    )
}

/// The timeline table of one row's transcript text.
pub fn render(text: &str) -> String {
    let entries = parse(text);
    if entries.is_empty() {
        return "<p class=\"muted\">no transcript recorded</p>".into();
    }
    let mut s = String::from(
        "<table class=\"timeline\"><thead><tr><th>time</th><th>conn</th><th>client → daemon</th><th>daemon → client</th></tr></thead><tbody>\n",
    );
    let shown = entries.len().min(MAX_ENTRIES);
    for e in &entries[..shown] {
        let ms =
            e.ms.as_deref()
                .map(|m| format!("{m} ms"))
                .unwrap_or_default();
        let conn = e.conn.as_deref().unwrap_or("");
        let (class, c, d) = match &e.kind {
            Kind::Data { client, text } => {
                let cell = data_cell(text);
                if *client {
                    ("data c", cell, String::new())
                } else {
                    ("data s", String::new(), cell)
                }
            }
            Kind::Close { client } => {
                let m = "<span class=\"mark close\">close (FIN)</span>".to_string();
                if *client {
                    ("close c", m, String::new())
                } else {
                    ("close s", String::new(), m)
                }
            }
            Kind::Error { client, message } => {
                let reset = message.to_ascii_lowercase().contains("reset");
                let m = format!(
                    "<span class=\"mark {}\">{}: {}</span>",
                    if reset { "reset" } else { "error" },
                    if reset { "reset (RST)" } else { "error" },
                    esc(message)
                );
                let class = if reset { "reset" } else { "error" };
                if *client {
                    (class, m, String::new())
                } else {
                    (class, String::new(), m)
                }
            }
            Kind::Info(t) => {
                let _ = writeln!(
                    s,
                    "<tr class=\"info\"><td>{}</td><td>{}</td><td colspan=\"2\">{}</td></tr>",
                    esc(&ms),
                    esc(conn),
                    esc(t)
                );
                continue;
            }
        };
        let _ = writeln!(
            s,
            "<tr class=\"{class}\"><td>{}</td><td>{}</td><td>{c}</td><td>{d}</td></tr>",
            esc(&ms),
            esc(conn)
        );
    }
    if entries.len() > shown {
        let _ = writeln!(
            s,
            "<tr class=\"info\"><td></td><td></td><td colspan=\"2\">… {} more entries not shown</td></tr>",
            entries.len() - shown
        );
    }
    s.push_str("</tbody></table>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 16 part 1: the recorder's log lines become timeline entries with the
    /// direction, the close and the reset marked.
    #[test]
    fn log_lines_become_timeline_entries() {
        let e = parse("client: x\n[    1.500 ms] #1 open\n[    2.000 ms] #1 C: zINSTREAM\\0\n[    3.000 ms] #1 S: <error Connection reset by peer (os error 104)>\n[    4.000 ms] #1 C: <EOF>\nS: stream: OK\\0\n");
        assert_eq!(e[0].kind, Kind::Info("client: x".into()));
        assert_eq!(e[1].conn.as_deref(), Some("#1"));
        assert_eq!(
            e[2].kind,
            Kind::Data {
                client: true,
                text: "zINSTREAM\\0".into()
            }
        );
        assert_eq!(e[2].ms.as_deref(), Some("2.000"));
        assert!(
            matches!(&e[3].kind, Kind::Error { client: false, message } if message.contains("reset"))
        );
        assert_eq!(e[4].kind, Kind::Close { client: true });
        assert!(matches!(&e[5].kind, Kind::Data { client: false, .. }));
        let html = render("[    3.000 ms] #1 S: <error Connection reset by peer>\n");
        assert!(html.contains("class=\"reset\""), "{html}");
        let long = format!("[    1.000 ms] #1 C: {}\n", "a".repeat(500));
        assert!(render(&long).contains("<details class=\"fold\">"));
    }
}
