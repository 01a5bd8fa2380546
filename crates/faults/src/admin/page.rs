//! `GET /`: the live state as one self-contained HTML page (no script, no external
//! resource; the CSP header forbids both). Every text from a peer is redacted (see
//! [`super::live`]) and then HTML-escaped.

use std::fmt::Write;

use super::live::{self, Dir, LiveState};
use crate::{FaultSet, Stats};

/// Connections shown on the page (the newest); the JSON API has more.
const PAGE_TRANSCRIPTS: usize = 100;
/// Commands shown on the page (the newest).
const PAGE_COMMANDS: usize = 500;

/// Sent with the page: nothing but inline style, no framing by other sites.
pub(crate) const CSP: &str =
    "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// `&`, `<`, `>`, `"`, `'` escaped.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}\
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.2em .5em;text-align:left;vertical-align:top}\
th{background:#f3f3f3}pre,code{font-family:ui-monospace,monospace;font-size:90%}\
pre{white-space:pre-wrap;word-break:break-all;margin:0}.recv{color:#05529b}.sent{color:#1b6e20}\
.meta{color:#777}details{margin:.3em 0}summary{cursor:pointer}";

/// The whole page.
pub fn render(title: &str, set: &FaultSet, live: Option<&dyn LiveState>) -> String {
    let stats = set.stats();
    let mut h = String::new();
    let t = html_escape(title);
    let _ = write!(
        h,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"refresh\" content=\"2\"><title>{t}: live state</title>\
         <style>{STYLE}</style></head><body><h1>{t}: live state</h1>\
         <p class=\"meta\">Reloads every 2 s. JSON: <code>/transcripts</code>, <code>/commands</code>, \
         <code>/stats</code>, <code>/faults</code>. Signature bodies are shown as their label.</p>"
    );
    counters(&mut h, &stats);
    rules(&mut h, set, &stats);
    match live {
        Some(l) => {
            commands(&mut h, l);
            transcripts(&mut h, l, &stats);
        }
        None => h.push_str("<p class=\"meta\">This server records no transcripts.</p>"),
    }
    h.push_str("</body></html>");
    h
}

fn counters(h: &mut String, s: &Stats) {
    let _ = write!(
        h,
        "<h2>Counters</h2><table><tr><th>connections</th><th>commands</th><th>bytes in</th>\
         <th>bytes out</th><th>faults fired</th><th>seed</th></tr><tr><td>{}</td><td>{}</td>\
         <td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr></table>",
        s.connections, s.commands, s.bytes_in, s.bytes_out, s.faults_fired, s.seed
    );
}

fn rules(h: &mut String, set: &FaultSet, s: &Stats) {
    let plan = set.plan();
    h.push_str("<h2>Active fault rules</h2>");
    if plan.rules.is_empty() {
        h.push_str("<p class=\"meta\">none</p>");
        return;
    }
    h.push_str("<table><tr><th>name</th><th>fired</th><th>rule</th></tr>");
    for (rule, st) in plan.rules.iter().zip(&s.rules) {
        let text = serde_json::to_string(rule).unwrap_or_default();
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
            html_escape(&st.name),
            st.fired,
            html_escape(&text)
        );
    }
    h.push_str("</table>");
}

/// A section's heading with the number of entries shown; `none yet` and false when there
/// are none.
fn heading(h: &mut String, title: &str, shown: usize) -> bool {
    let _ = write!(h, "<h2>{title} ({shown} newest)</h2>");
    if shown == 0 {
        h.push_str("<p class=\"meta\">none yet</p>");
    }
    shown > 0
}

fn commands(h: &mut String, l: &dyn LiveState) {
    let sigs = l.signatures();
    let cmds = l.commands(PAGE_COMMANDS);
    if !heading(h, "Commands", cmds.len()) {
        return;
    }
    h.push_str("<table><tr><th>conn</th><th>session</th><th>framing</th><th>command</th></tr>");
    for c in &cmds {
        let line = live::redacted_text_max(&c.line, &sigs, SHORT);
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
            c.conn,
            c.session.map(|s| s.to_string()).unwrap_or_default(),
            html_escape(c.framing.as_deref().unwrap_or("")),
            html_escape(&line),
        );
    }
    h.push_str("</table>");
}

fn transcripts(h: &mut String, l: &dyn LiveState, s: &Stats) {
    let sigs = l.signatures();
    let ts = l.transcripts(PAGE_TRANSCRIPTS);
    if !heading(h, "Connections", ts.len()) {
        return;
    }
    for t in ts.iter().rev() {
        let open = s.per_connection.iter().find(|c| c.conn == t.conn).map(|c| {
            if c.open {
                "open"
            } else {
                "closed"
            }
        });
        let state = if t.closed() {
            "closed by the server"
        } else {
            open.unwrap_or("")
        };
        let note = t
            .note
            .as_deref()
            .map(|n| format!(", {n}"))
            .unwrap_or_default();
        let _ = write!(
            h,
            "<details open><summary>connection {} ({}{}){}{}</summary><table>",
            t.conn,
            html_escape(&t.transport),
            html_escape(&note),
            if state.is_empty() {
                String::new()
            } else {
                format!(" {state}")
            },
            if t.truncated {
                ", recording truncated"
            } else {
                ""
            },
        );
        for e in live::merged(&t.events) {
            let text = match e.dir {
                Dir::Recv | Dir::Sent => live::redacted_text_max(&e.bytes, &sigs, SHORT),
                Dir::Fd => "(file descriptor passed)".to_string(),
                Dir::Closed => "(closed)".to_string(),
            };
            let dir = e.dir.as_str();
            let _ = write!(
                h,
                "<tr class=\"{dir}\"><td>{dir}</td><td>{}</td><td><pre>{}</pre></td></tr>",
                e.bytes.len(),
                html_escape(&text),
            );
        }
        h.push_str("</table></details>");
    }
}

/// The page shows at most 4 KiB of one text.
const SHORT: usize = 4096;

#[cfg(test)]
mod tests {
    use super::*;

    /// Live view: markup from peers is inert.
    #[test]
    fn html_escape_covers_markup_and_quotes() {
        assert_eq!(
            html_escape("<script>\"'&"),
            "&lt;script&gt;&quot;&#39;&amp;"
        );
    }
}
