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
    redacted_text_max(data, sigs, usize::MAX)
}

/// [`redacted_text`] cut to `max` bytes as [`shorten_to`] cuts it, escaping no more than
/// that: the work and memory of a view follow what it shows, not what was recorded (a
/// peer's 8 MiB of binary bytes would be 32 MiB of `\xNN` text, rendered only to be cut).
pub fn redacted_text_max(data: &[u8], sigs: &[Signature], max: usize) -> String {
    // Each shown character stands for at most `ratio` input bytes (a body hidden behind its
    // label), so a prefix of `need` bytes already fills `max`; a body that begins in it
    // ends in it. Only a chain of overlapping bodies (one label) can hide more: then the
    // whole input is read after all.
    let sigs: Vec<&Signature> = sigs.iter().filter(|s| !s.body.is_empty()).collect();
    let longest = sigs.iter().map(|s| s.body.len()).max().unwrap_or(0);
    let ratio = sigs
        .iter()
        .map(|s| s.body.len().div_ceil(s.label.len().max(1)))
        .max()
        .unwrap_or(1)
        .max(1);
    let need = max
        .saturating_add(1)
        .saturating_mul(ratio)
        .saturating_add(longest);
    if need < data.len() {
        let out = redact_escape(&data[..need], &sigs, max);
        if out.len() > max {
            return shorten_to(out, max);
        }
    }
    shorten_to(redact_escape(data, &sigs, max), max)
}

/// Every body in `data` replaced by its label, escaped, until the text passes `max` bytes.
fn redact_escape(data: &[u8], sigs: &[&Signature], max: usize) -> String {
    let mut ranges: Vec<(usize, usize, &str)> = Vec::new();
    for s in sigs {
        let mut from = 0;
        while let Some(p) = find(&data[from..], &s.body) {
            ranges.push((from + p, from + p + s.body.len(), &s.label));
            from += p + 1;
        }
    }
    ranges.sort_by_key(|r| r.0);
    let mut out = String::with_capacity(data.len().min(max.saturating_add(8)));
    let mut pos = 0;
    for (a, b, label) in ranges {
        if out.len() > max {
            break;
        }
        if b <= pos {
            continue;
        }
        if a >= pos {
            escape_max(&data[pos..a], &mut out, max);
            out.push_str(label);
        }
        // an overlapping body extends the hidden range
        pos = b;
    }
    escape_max(&data[pos.min(data.len())..], &mut out, max);
    out
}

/// [`escape_into`] until `out` passes `max` bytes.
fn escape_max(data: &[u8], out: &mut String, max: usize) {
    for piece in data.chunks(1024) {
        if out.len() > max {
            return;
        }
        escape_into(piece, out);
    }
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
                "text": redacted_text_max(&e.bytes, sigs, MAX_TEXT),
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
        "received": redacted_text_max(&received, sigs, MAX_TEXT),
        "sent": redacted_text_max(&sent, sigs, MAX_TEXT),
        "events": events,
    })
}

/// One command as JSON.
pub fn command_json(c: &CommandLine, sigs: &[Signature]) -> Value {
    json!({
        "conn": c.conn,
        "name": c.name,
        "line": redacted_text_max(&c.line, sigs, MAX_TEXT),
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

    /// Live view: the bounded rendering shows exactly what rendering everything and cutting
    /// would show: plain, binary, dense bodies (more input per shown byte), a body across
    /// the cut, a chain of overlapping bodies (one label hiding everything).
    #[test]
    fn bounded_text_is_the_cut_of_the_whole_text() {
        let long = Signature::new("L", b"abcdefghijklmnopqrstuvwxyz0123456789".repeat(3));
        let chain = Signature::new("C", b"zz".to_vec());
        let sigs = [sig(), long.clone(), chain];
        let mut inputs: Vec<Vec<u8>> = vec![
            b"plain text ".repeat(50),
            (0..=255u8).cycle().take(3000).collect(),
            long.body.repeat(40),
            [b"x".repeat(95), b"SECRET-BODY".to_vec()].concat(),
            b"z".repeat(5000),
            [b"z".repeat(4000), b"SECRET-BODY tail".to_vec()].concat(),
        ];
        inputs.push([long.body.repeat(3), b"SECRET-BODY".repeat(30)].concat());
        for data in &inputs {
            for max in [0, 1, 10, 99, 100, 101, 400, 10_000] {
                assert_eq!(
                    redacted_text_max(data, &sigs, max),
                    shorten_to(redacted_text(data, &sigs), max),
                    "max {max}, {} bytes",
                    data.len()
                );
            }
        }
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
