//! Test-signature bodies never reach a report in plain form (issue 14 item 1): the EICAR
//! bytes (built at run time) and the built-in marker signature are shown as
//! `<EICAR, 68 bytes>` and `<test signature Fake.Test.Marker-1, 21 bytes>` in every output.
//!
//! Bytes are redacted before they are escaped or shortened (so a cut cannot leave a piece
//! of a body), and every finished report text is redacted again in each escaped form the
//! reports print (the harness's `\\`-escaping, JSON, XML).

use std::sync::OnceLock;

/// One signature body and the text shown instead.
struct Needle {
    body: Vec<u8>,
    label: String,
}

/// The signature bodies of the database every embedded daemon uses (scan-engine's
/// built-in database: EICAR and the marker signature).
fn needles() -> &'static [Needle] {
    static N: OnceLock<Vec<Needle>> = OnceLock::new();
    N.get_or_init(|| {
        let eicar = scan_engine::eicar();
        let marker = scan_engine::MARKER_BYTES.to_vec();
        vec![
            Needle {
                label: format!("<EICAR, {} bytes>", eicar.len()),
                body: eicar,
            },
            Needle {
                label: format!(
                    "<test signature {}, {} bytes>",
                    scan_engine::MARKER_NAME,
                    marker.len()
                ),
                body: marker,
            },
        ]
    })
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

/// `data` with every signature body replaced by its label.
pub fn bytes(data: &[u8]) -> Vec<u8> {
    let ranges = body_ranges(data);
    if ranges.is_empty() {
        return data.to_vec();
    }
    let mut out = Vec::with_capacity(data.len());
    let mut pos = 0;
    for (a, b, label) in ranges {
        out.extend_from_slice(&data[pos..a]);
        out.extend_from_slice(label.as_bytes());
        pos = b;
    }
    out.extend_from_slice(&data[pos..]);
    out
}

/// The forms a body takes in report text: raw, `\\`-escaped, JSON-escaped (of both) and
/// XML-escaped (of both).
fn forms() -> &'static [(String, &'static str)] {
    static F: OnceLock<Vec<(String, &'static str)>> = OnceLock::new();
    F.get_or_init(|| {
        let mut out = Vec::new();
        for n in needles() {
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
                        out.push((f, n.label.as_str()));
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
    for (form, label) in forms() {
        if s.contains(form.as_str()) {
            s = s.replace(form.as_str(), label);
        }
    }
    s
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
}
