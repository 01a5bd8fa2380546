//! What a daemon received and sent, as the admin API shows it (`GET /transcripts`,
//! `GET /commands`, the page at `GET /`). The admin server does not know the daemons: each
//! one implements [`LiveState`] over its recorder and passes it in
//! ([`super::AdminOptions::live`]).
//!
//! Bytes are shown as text: printable ASCII as is, `\\`, `\n`, `\r`, `\t`, `\0` and `\xNN`
//! escapes for the rest. Signature bodies the daemon names ([`LiveState::signatures`],
//! e.g. EICAR) are replaced by their label (`<EICAR, 68 bytes>`) *before* escaping or
//! shortening, so no output holds a body or a piece of one cut at a boundary.

use std::sync::Arc;

use serde_json::{json, Value};

pub use crate::record::{CommandLine, Dir, Event, Transcript};
use crate::record::{Recorded, Recorder};

/// A signature body to hide and the label shown in its place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    /// The bytes.
    pub body: Vec<u8>,
    /// E.g. `<EICAR, 68 bytes>`.
    pub label: String,
}

impl Signature {
    /// `body` shown as `<NAME, LEN bytes>`.
    pub fn new(name: &str, body: Vec<u8>) -> Signature {
        Signature {
            label: format!("<{name}, {} bytes>", body.len()),
            body,
        }
    }
}

/// A daemon's recorded state, served by the admin API.
pub trait LiveState: Send + Sync {
    /// The most recent `last` connections, oldest first.
    fn transcripts(&self, last: usize) -> Vec<Transcript<CommandLine>>;
    /// The most recent `last` commands, in connection order.
    fn commands(&self, last: usize) -> Vec<CommandLine>;
    /// Forget every transcript and command (`POST /reset`).
    fn reset(&self);
    /// Bodies never shown (EICAR, test markers).
    fn signatures(&self) -> Vec<Signature>;
}

/// A recorder as the admin API's live view shows it, with the signature bodies it hides.
#[derive(Debug)]
pub struct LiveRecord<C> {
    /// The daemon's recorder.
    pub recorder: Arc<Recorder<C>>,
    /// Bodies shown by label only (EICAR, markers, configured signatures).
    pub signatures: Vec<Signature>,
}

impl<C: Recorded> LiveState for LiveRecord<C> {
    fn transcripts(&self, last: usize) -> Vec<Transcript<CommandLine>> {
        self.recorder
            .last_transcripts(last)
            .into_iter()
            .map(|t| Transcript {
                commands: t.commands.iter().map(Recorded::line).collect(),
                conn: t.conn,
                transport: t.transport,
                note: t.note,
                events: t.events,
                truncated: t.truncated,
            })
            .collect()
    }

    fn commands(&self, last: usize) -> Vec<CommandLine> {
        self.recorder
            .last_commands(last)
            .iter()
            .map(Recorded::line)
            .collect()
    }

    fn reset(&self) {
        self.recorder.clear();
    }

    fn signatures(&self) -> Vec<Signature> {
        self.signatures.clone()
    }
}

/// A shared [`LiveState`].
pub type Live = Arc<dyn LiveState>;

/// Connections in `GET /transcripts`; older ones are counted in `omitted`.
pub const MAX_TRANSCRIPTS: usize = 1000;
/// Commands in `GET /commands`.
pub const MAX_COMMANDS: usize = 10_000;
/// Text of one event or command kept (after redaction); longer ones end in `...`.
pub const MAX_TEXT: usize = 64 * 1024;
/// Escaped text in one reply; later transcripts are counted in `omitted`.
pub const MAX_REPLY_TEXT: usize = 8 << 20;

/// `data` with every signature body replaced by its label, escaped as text.
pub fn redacted_text(data: &[u8], sigs: &[Signature]) -> String {
    let mut ranges: Vec<(usize, usize, &str)> = Vec::new();
    for s in sigs.iter().filter(|s| !s.body.is_empty()) {
        let mut from = 0;
        while let Some(p) = find(&data[from..], &s.body) {
            ranges.push((from + p, from + p + s.body.len(), &s.label));
            from += p + 1;
        }
    }
    ranges.sort_by_key(|r| r.0);
    let mut out = String::with_capacity(data.len());
    let mut pos = 0;
    for (a, b, label) in ranges {
        if b <= pos {
            continue;
        }
        if a >= pos {
            escape_into(&data[pos..a], &mut out);
            out.push_str(label);
        }
        // an overlapping body extends the hidden range
        pos = b;
    }
    escape_into(&data[pos.min(data.len())..], &mut out);
    out
}

/// Printable ASCII as is; `\\ \n \r \t \0` and `\xNN` for the rest.
pub fn escape_into(data: &[u8], out: &mut String) {
    for &b in data {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0 => out.push_str("\\0"),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
}

/// Cut `s` to [`MAX_TEXT`] bytes at a char boundary.
fn shorten(s: String) -> String {
    shorten_to(s, MAX_TEXT)
}

/// Cut `s` to `max` bytes at a char boundary, marking the cut with `...`.
pub(crate) fn shorten_to(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push_str("...");
    }
    s
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Consecutive events of one direction joined (a body read in two pieces is still found
/// and hidden).
pub fn merged(events: &[Event]) -> Vec<Event> {
    let mut out: Vec<Event> = Vec::new();
    for e in events {
        match out.last_mut() {
            Some(last) if last.dir == e.dir && matches!(e.dir, Dir::Recv | Dir::Sent) => {
                last.bytes.extend_from_slice(&e.bytes)
            }
            _ => out.push(e.clone()),
        }
    }
    out
}

/// One transcript as JSON (texts redacted and escaped).
pub fn transcript_json(t: &Transcript<CommandLine>, sigs: &[Signature]) -> Value {
    let events: Vec<Value> = merged(&t.events)
        .iter()
        .map(|e| match e.dir {
            Dir::Recv | Dir::Sent => json!({
                "dir": e.dir.as_str(),
                "len": e.bytes.len(),
                "text": shorten(redacted_text(&e.bytes, sigs)),
            }),
            _ => json!({ "dir": e.dir.as_str() }),
        })
        .collect();
    let received = t.received();
    let sent = t.sent();
    json!({
        "conn": t.conn,
        "transport": t.transport,
        "note": t.note,
        "truncated": t.truncated,
        "closed": t.closed(),
        "bytes_received": received.len(),
        "bytes_sent": sent.len(),
        "received": shorten(redacted_text(&received, sigs)),
        "sent": shorten(redacted_text(&sent, sigs)),
        "events": events,
    })
}

/// One command as JSON.
pub fn command_json(c: &CommandLine, sigs: &[Signature]) -> Value {
    json!({
        "conn": c.conn,
        "name": c.name,
        "line": shorten(redacted_text(&c.line, sigs)),
        "session": c.session,
        "framing": c.framing,
    })
}

/// `GET /transcripts`: `{"transcripts": [...], "omitted": N}`, newest kept when the
/// reply would pass [`MAX_REPLY_TEXT`].
pub fn transcripts_reply(live: &dyn LiveState) -> Value {
    let sigs = live.signatures();
    let all = live.transcripts(MAX_TRANSCRIPTS);
    let (kept, omitted) = newest_within_budget(&all, |t| transcript_json(t, &sigs));
    json!({ "transcripts": kept, "omitted": omitted })
}

/// `GET /commands`: `{"commands": [...], "omitted": N}`.
pub fn commands_reply(live: &dyn LiveState) -> Value {
    let sigs = live.signatures();
    let all = live.commands(MAX_COMMANDS);
    let (kept, omitted) = newest_within_budget(&all, |c| command_json(c, &sigs));
    json!({ "commands": kept, "omitted": omitted })
}

/// Renders from the newest backwards until the text budget is spent; oldest first out.
fn newest_within_budget<T>(items: &[T], render: impl Fn(&T) -> Value) -> (Vec<Value>, usize) {
    let mut kept = Vec::new();
    let mut spent = 0usize;
    for item in items.iter().rev() {
        let v = render(item);
        spent += v.to_string().len();
        if spent > MAX_REPLY_TEXT && !kept.is_empty() {
            break;
        }
        kept.push(v);
    }
    let omitted = items.len() - kept.len();
    kept.reverse();
    (kept, omitted)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sig() -> Signature {
        Signature::new("TEST", b"SECRET-BODY".to_vec())
    }

    /// Live view: a body is replaced before escaping, also twice and overlapping.
    #[test]
    fn bodies_are_replaced_by_their_label() {
        let s = [sig()];
        assert_eq!(
            redacted_text(b"a\0SECRET-BODY\nSECRET-BODY", &s),
            "a\\0<TEST, 11 bytes>\\n<TEST, 11 bytes>"
        );
        assert_eq!(redacted_text(b"\xff\\", &s), "\\xff\\\\");
    }

    /// Live view: a body read in two pieces is joined first, then hidden.
    #[test]
    fn split_reads_are_joined_before_redaction() {
        let t = Transcript::<CommandLine> {
            conn: 1,
            transport: "tcp".into(),
            events: vec![
                Event {
                    dir: Dir::Recv,
                    bytes: b"xxSECRET".to_vec(),
                },
                Event {
                    dir: Dir::Recv,
                    bytes: b"-BODYyy".to_vec(),
                },
                Event {
                    dir: Dir::Closed,
                    bytes: vec![],
                },
            ],
            ..Default::default()
        };
        let v = transcript_json(&t, &[sig()]);
        let text = v.to_string();
        assert!(!text.contains("SECRET"), "{text}");
        assert_eq!(v["events"][0]["text"], "xx<TEST, 11 bytes>yy");
        assert_eq!(v["events"][1]["dir"], "closed");
        assert_eq!(v["closed"], true);
    }
}
