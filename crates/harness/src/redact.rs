//! Test-signature bodies never reach a report in plain form (issue 14 item 1): the EICAR
//! bytes (built at run time) and the built-in marker signature are shown as
//! `<EICAR, 68 bytes>` and `<test signature Fake.Test.Marker-1, 21 bytes>` in every output.
//!
//! Bytes are redacted before they are escaped or shortened (so a cut cannot leave a piece
//! of a body), and every finished report text is redacted again in each escaped form the
//! reports print (the harness's `\\`-escaping, JSON, XML). A part of a body at least
//! [`PART`] bytes long (a client that wraps the body over two lines, or output cut in the
//! middle of one) is shown as `<part of EICAR>`.

use std::sync::OnceLock;

use aho_corasick::AhoCorasick;

/// The shortest run of a body's bytes (or of one of its printed forms) that is redacted on
/// its own; shorter runs are ordinary text (`EICAR-STANDARD` is 14).
pub const PART: usize = 16;

/// One signature body and the texts shown instead of all of it or of a part.
struct Needle {
    body: Vec<u8>,
    label: String,
    part: String,
}

/// The signature bodies of the database every embedded daemon uses (scan-engine's
/// built-in database: EICAR and the marker signature).
fn needles() -> &'static [Needle] {
    static N: OnceLock<Vec<Needle>> = OnceLock::new();
    N.get_or_init(|| {
        let eicar = scan_engine::eicar();
        let marker = scan_engine::MARKER_BYTES.to_vec();
        let marker_name = format!("test signature {}", scan_engine::MARKER_NAME);
        vec![
            Needle {
                label: format!("<EICAR, {} bytes>", eicar.len()),
                part: "<part of EICAR>".into(),
                body: eicar,
            },
            Needle {
                label: format!("<{marker_name}, {} bytes>", marker.len()),
                part: format!("<part of {marker_name}>"),
                body: marker,
            },
        ]
    })
}

/// The length of the longest printed form of a signature body: output kept up to a limit
/// plus this much can be redacted before it is cut at the limit.
pub fn longest_form() -> usize {
    forms().iter().map(|(f, _)| f.len()).max().unwrap_or(0)
}

/// The byte ranges of `data` that belong to a signature body, with the label of each,
/// sorted by start (overlaps merged into the first).
pub fn body_ranges(data: &[u8]) -> Vec<(usize, usize, &'static str)> {
    let mut out: Vec<(usize, usize, &'static str)> = Vec::new();
    for n in needles() {
        for at in memchr::memmem::find_iter(data, &n.body) {
            out.push((at, at + n.body.len(), n.label.as_str()));
        }
    }
    out.sort_by_key(|r| r.0);
    let mut merged: Vec<(usize, usize, &'static str)> = Vec::new();
    for r in out {
        match merged.last_mut() {
            Some(last) if r.0 < last.1 => last.1 = last.1.max(r.1),
            _ => merged.push(r),
        }
    }
    merged
}

/// `data` with every whole signature body replaced by its label.
fn whole_bodies(data: &[u8]) -> Vec<u8> {
    match body_ranges(data) {
        ranges if ranges.is_empty() => data.to_vec(),
        ranges => splice(data, &ranges),
    }
}

/// `data` with every signature body and every part of one replaced by its label.
pub fn bytes(data: &[u8]) -> Vec<u8> {
    let whole = whole_bodies(data);
    match byte_parts().ranges(&whole) {
        ranges if ranges.is_empty() => whole,
        ranges => splice(&whole, &ranges),
    }
}

/// The forms a body takes in report text: raw, `\\`-escaped, JSON-escaped (of both) and
/// XML-escaped (of both).
fn forms() -> &'static [(String, usize)] {
    static F: OnceLock<Vec<(String, usize)>> = OnceLock::new();
    F.get_or_init(|| {
        let mut out = Vec::new();
        for (i, n) in needles().iter().enumerate() {
            let raw = String::from_utf8_lossy(&n.body).into_owned();
            let esc = crate::input::escape(&n.body);
            for base in [raw, esc] {
                let json = serde_json::to_string(&base)
                    .map(|j| j[1..j.len() - 1].to_string())
                    .unwrap_or_else(|_| base.clone());
                let xml = base
                    .replace('&', "&amp;")
                    .replace('<', "&lt;")
                    .replace('>', "&gt;")
                    .replace('"', "&quot;")
                    .replace('\'', "&apos;");
                for f in [json, xml, base] {
                    if !out.iter().any(|(o, _)| *o == f) {
                        out.push((f, i));
                    }
                }
            }
        }
        // Longest first: an escaped form may contain a shorter one.
        out.sort_by_key(|(f, _)| std::cmp::Reverse(f.len()));
        out
    })
}

/// `text` with every form of every signature body replaced by its label.
pub fn text(text: &str) -> String {
    let mut s = text.to_string();
    for (form, i) in forms() {
        if s.contains(form.as_str()) {
            s = s.replace(form.as_str(), &needles()[*i].label);
        }
    }
    match text_parts().ranges(s.as_bytes()) {
        ranges if ranges.is_empty() => s,
        // Parts are whole characters of a form, so their ranges lie on char boundaries.
        ranges => String::from_utf8_lossy(&splice(s.as_bytes(), &ranges)).into_owned(),
    }
}

/// Every [`PART`]-long window of a set of texts, each with the needle it came from.
struct Parts {
    windows: Option<AhoCorasick>,
    needle: Vec<usize>,
}

impl Parts {
    fn new(texts: impl Iterator<Item = (Vec<u8>, usize)>) -> Self {
        let mut patterns: Vec<Vec<u8>> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut needle = Vec::new();
        for (t, i) in texts {
            // windows of whole characters (of bytes, for a body that is not UTF-8)
            let mut bounds: Vec<usize> = match std::str::from_utf8(&t) {
                Ok(text) => text.char_indices().map(|(at, _)| at).collect(),
                Err(_) => (0..t.len()).collect(),
            };
            bounds.push(t.len());
            for w in bounds.windows(PART + 1) {
                let window = t[w[0]..w[PART]].to_vec();
                if seen.insert(window.clone()) {
                    patterns.push(window);
                    needle.push(i);
                }
            }
        }
        let windows = AhoCorasick::new(&patterns)
            .map_err(|e| tracing::error!("signature part matcher: {e}"))
            .ok();
        Parts { windows, needle }
    }

    /// The merged byte ranges of `data` covered by a window, each with its part label.
    fn ranges(&self, data: &[u8]) -> Vec<(usize, usize, &'static str)> {
        let Some(ac) = &self.windows else {
            return Vec::new();
        };
        let mut merged: Vec<(usize, usize, &'static str)> = Vec::new();
        // Overlapping matches come in order of their end; a run of windows is one part.
        let mut found: Vec<(usize, usize, usize)> = ac
            .find_overlapping_iter(data)
            .map(|m| (m.start(), m.end(), self.needle[m.pattern().as_usize()]))
            .collect();
        found.sort_unstable();
        for (a, b, i) in found {
            match merged.last_mut() {
                Some(last) if a <= last.1 => last.1 = last.1.max(b),
                _ => merged.push((a, b, needles()[i].part.as_str())),
            }
        }
        merged
    }
}

/// Parts of the raw bodies.
fn byte_parts() -> &'static Parts {
    static P: OnceLock<Parts> = OnceLock::new();
    P.get_or_init(|| {
        Parts::new(
            needles()
                .iter()
                .enumerate()
                .map(|(i, n)| (n.body.clone(), i)),
        )
    })
}

/// Parts of every printed form of the bodies.
fn text_parts() -> &'static Parts {
    static P: OnceLock<Parts> = OnceLock::new();
    P.get_or_init(|| Parts::new(forms().iter().map(|(f, i)| (f.as_bytes().to_vec(), *i))))
}

/// `data` with each of `ranges` (sorted, disjoint) replaced by its label.
fn splice(data: &[u8], ranges: &[(usize, usize, &str)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    let mut pos = 0;
    for &(a, b, label) in ranges {
        out.extend_from_slice(&data[pos..a]);
        out.extend_from_slice(label.as_bytes());
        pos = b;
    }
    out.extend_from_slice(&data[pos..]);
    out
}

/// A `tracing` writer that redacts each formatted event (the embedded daemons log into the
/// harness's log, so whatever they log of a client's bytes passes here).
pub struct LogWriter<W>(pub W);

impl<'a, W: tracing_subscriber::fmt::MakeWriter<'a>> tracing_subscriber::fmt::MakeWriter<'a>
    for LogWriter<W>
{
    type Writer = LogWriter<W::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        LogWriter(self.0.make_writer())
    }
}

impl<W: std::io::Write> std::io::Write for LogWriter<W> {
    /// The formatter writes each event in one call, so a body is never split across two.
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .write_all(text(&String::from_utf8_lossy(buf)).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

/// Redacts, then escapes text for HTML element content and attribute values (the HTML
/// report's one escape). `'` and `"`
/// are escaped as the redaction's XML forms expect.
pub fn html(s: &str) -> String {
    use std::fmt::Write as _;
    let s = text(s);
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match html_entity(c) {
            Some(entity) => out.push_str(entity),
            // Control characters from client output would be parse errors; show them.
            None if c.is_control() && c != '\n' && c != '\t' => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            None => out.push(c),
        }
    }
    // No URL in the page, even as text from a client: `://` is written as a character
    // reference (the browser still shows it).
    out.replace("://", "&#58;//")
}

/// The entity for a character that cannot stand as is in HTML text or an attribute value.
fn html_entity(c: char) -> Option<&'static str> {
    Some(match c {
        '&' => "&amp;",
        '<' => "&lt;",
        '>' => "&gt;",
        '"' => "&quot;",
        '\'' => "&apos;",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 14 item 1: every printed form of EICAR and of the marker is replaced.
    #[test]
    fn every_printed_form_of_a_signature_body_is_replaced() {
        let e = scan_engine::eicar();
        let raw = String::from_utf8_lossy(&e).into_owned();
        let esc = crate::input::escape(&e);
        let json = serde_json::to_string(&raw).unwrap();
        for t in [&raw, &esc, &json] {
            let out = text(&format!("before {t} after"));
            assert!(!out.contains(&raw) && !out.contains(&esc), "{out}");
            assert!(out.contains("<EICAR, 68 bytes>"), "{out}");
        }
        let m = text("x AV-FAKE-TEST-MARKER-1 y");
        assert!(!m.contains("AV-FAKE-TEST-MARKER-1"), "{m}");
        let mut data = b"zINSTREAM\0\0\0\0\x44".to_vec();
        data.extend_from_slice(&e);
        let red = bytes(&data);
        assert!(memchr::memmem::find(&red, &e).is_none());
        assert!(red.ends_with(b"<EICAR, 68 bytes>"));
    }

    /// The log writer redacts a body logged as is or with `?` (Debug escaping).
    #[test]
    fn the_log_writer_redacts_each_event() {
        use std::io::Write as _;
        let raw = String::from_utf8_lossy(&scan_engine::eicar()).into_owned();
        let mut w = LogWriter(Vec::new());
        // one write per event, as tracing-subscriber's formatter does
        w.write_all(format!("got {raw} and {raw:?}").as_bytes())
            .unwrap();
        let out = String::from_utf8(w.0).unwrap();
        assert_eq!(out, "got <EICAR, 68 bytes> and \"<EICAR, 68 bytes>\"");
    }

    /// A body wrapped over two lines, or cut, shows no run of [`PART`] bytes of it; shorter
    /// runs (ordinary words) stay.
    #[test]
    fn parts_of_a_body_are_replaced_and_short_runs_stay() {
        let e = scan_engine::eicar();
        let raw = String::from_utf8_lossy(&e).into_owned();
        let (a, b) = raw.split_at(34);
        let out = text(&format!("split: {a}\r\n{b}\ncut: {}", &raw[..30]));
        assert_eq!(
            out,
            "split: <part of EICAR>\r\n<part of EICAR>\ncut: <part of EICAR>"
        );
        let esc = crate::input::escape(&e);
        let json = serde_json::to_string(&esc).unwrap();
        let out = text(&json[..40]);
        assert!(out.ends_with("<part of EICAR>"), "{out}");
        let short = &raw[..PART - 1];
        assert_eq!(text(short), short);
        let mut cut = b"x".repeat(10);
        cut.extend_from_slice(&e[..PART]);
        assert_eq!(bytes(&cut), b"xxxxxxxxxx<part of EICAR>");
    }
}
