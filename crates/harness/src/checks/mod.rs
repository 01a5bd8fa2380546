//! Transcript checks: the protocol obligations of clients (clamd.md §15, svsp.md §13),
//! judged from the bytes the recording proxy saw.

pub mod clamd;
pub mod svsp;

use serde::Serialize;

use crate::input::escape;
use crate::transcript::{Dir, Transcript};

/// How strong the violated rule is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// MUST: the case fails.
    Must,
    /// SHOULD: reported as a warning.
    Should,
}

/// One obligation a client broke, with the offending bytes.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub rule: String,
    pub level: Level,
    pub conn: u32,
    pub message: String,
    /// Escaped bytes around the offence, the offending part in `⟦ ⟧`.
    pub excerpt: String,
}

/// The findings of one connection, each marked in the bytes the client sent on it.
pub(crate) struct Found<'a> {
    conn: u32,
    client: &'a [u8],
    out: &'a mut Vec<Finding>,
}

impl<'a> Found<'a> {
    pub fn new(conn: u32, client: &'a [u8], out: &'a mut Vec<Finding>) -> Self {
        Found { conn, client, out }
    }

    /// A MUST of `rule` broken by client bytes `from..to`: the case fails.
    pub fn must(&mut self, rule: &str, message: impl Into<String>, from: usize, to: usize) {
        self.push(Level::Must, rule, message.into(), from, to);
    }

    /// A SHOULD of `rule` broken by client bytes `from..to`: a warning.
    pub fn should(&mut self, rule: &str, message: impl Into<String>, from: usize, to: usize) {
        self.push(Level::Should, rule, message.into(), from, to);
    }

    fn push(&mut self, level: Level, rule: &str, message: String, from: usize, to: usize) {
        self.out.push(Finding {
            rule: rule.into(),
            level,
            conn: self.conn,
            message,
            excerpt: excerpt(self.client, from, to),
        });
    }
}

/// Runs `check_conn` on each connection of `t` on which the client sent bytes and that was
/// recorded whole (a truncated recording proves nothing about the client's obligations).
pub(crate) fn per_connection(
    t: &Transcript,
    check_conn: fn(&Transcript, u32, &mut Vec<Finding>),
) -> Vec<Finding> {
    let mut out = Vec::new();
    for conn in t.connections() {
        if !t.bytes(conn, Dir::C2S).is_empty() && !t.truncated(conn) {
            check_conn(t, conn, &mut out);
        }
    }
    out
}

/// Escaped context around `data[start..end]`, the range itself marked. Signature bodies
/// (EICAR, the marker) in view are shown by their label, never in plain form (issue 14).
pub fn excerpt(data: &[u8], start: usize, end: usize) -> String {
    const CTX: usize = 24;
    const MAX_MARKED: usize = 48;
    let start = start.min(data.len());
    let end = end.clamp(start, data.len());
    let from = start.saturating_sub(CTX);
    let to = (end + CTX).min(data.len());
    // Bodies overlapping the view, found in a window wide enough to hold any of them.
    let win = from.saturating_sub(256);
    let bodies: Vec<(usize, usize, &str)> =
        crate::redact::body_ranges(&data[win..(to + 256).min(data.len())])
            .into_iter()
            .map(|(a, b, l)| (a + win, b + win, l))
            .collect();
    let show = |a: usize, b: usize| masked(data, a, b, &bodies);
    let marked = if end - start > MAX_MARKED {
        format!(
            "{}…<{} bytes>",
            show(start, start + MAX_MARKED),
            end - start - MAX_MARKED
        )
    } else {
        show(start, end)
    };
    format!(
        "@{start}: {}{}⟦{marked}⟧{}{}",
        if from > 0 { "…" } else { "" },
        show(from, start),
        show(end, to),
        if to < data.len() { "…" } else { "" }
    )
}

/// `data[a..b]` escaped, each (part of a) signature body in it replaced by its label.
fn masked(data: &[u8], a: usize, b: usize, bodies: &[(usize, usize, &str)]) -> String {
    let mut s = String::new();
    let mut pos = a;
    for &(ba, bb, label) in bodies.iter().filter(|r| r.0 < b && r.1 > a) {
        if ba > pos {
            s.push_str(&escape(&data[pos..ba]));
        }
        s.push_str(label);
        pos = pos.max(bb);
    }
    if pos < b {
        s.push_str(&escape(&data[pos..b]));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 14 item 1: an excerpt never shows a signature body, not even the piece a cut
    /// leaves at either edge.
    #[test]
    fn excerpt_shows_signature_bodies_by_label_even_when_cut() {
        let e = scan_engine::eicar();
        let mut data = b"zINSTREAM\0\0\0\0\x44".to_vec();
        data.extend_from_slice(&e);
        data.extend_from_slice(b"\0\0\0\0");
        for (a, b) in [(0, 14), (10, 14), (14, 82), (30, 40), (80, 86)] {
            let x = excerpt(&data, a, b);
            // No 8-byte piece of the body shows.
            for w in e.windows(8) {
                let piece = escape(w);
                assert!(!x.contains(&piece), "{a}..{b}: {x}");
            }
            assert!(x.contains("<EICAR, 68 bytes>"), "{a}..{b}: {x}");
        }
    }
}
