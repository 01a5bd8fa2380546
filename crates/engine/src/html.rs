//! HTML `data:` URIs (RFC 2397), as clamd 1.4.6's HTML normaliser extracts them
//! (CLAMD-DET-7): a tag attribute whose value starts with `data:` holds a media type up to
//! `,` and then the data up to the value's end (its closing quote; white space or `>` when
//! unquoted), with `%XX` escapes decoded. clamd writes it out as a small mail message
//! (`From html-normalise`, `Content-type: <media type>`, `Content-transfer-encoding: base64`
//! for a `;base64` URI) and scans that; the member here is the same message, streamed, so
//! the mail module opens it as clamd's mail parser does: the decoded data is one level
//! deeper (`MaxRecursion`), and with `ScanMail` off it stays unopened. Comments
//! (`<!-- ... -->`) hold no URIs.

use std::io::{self, BufRead, BufReader, Read};

use crate::spool::SpoolReader;
use crate::tree::{EachMember, MemberSource};

/// Most URIs taken from one document.
const MAX_URIS: usize = 10_000;
/// Longest media type read (clamd keeps a 1 KiB tag value).
const MAX_TYPE: usize = 1024;
/// Tags clamd's file typing takes for HTML, looked for (case-insensitively) in the head.
const MARKERS: &[&[u8]] = &[
    b"<html",
    b"<head",
    b"<body",
    b"<title",
    b"<meta",
    b"<script",
    b"<iframe",
    b"<a href",
    b"<img",
    b"<form",
    b"<object",
    b"<embed",
    b"<style",
    b"<table",
    b"<div",
    b"<font",
    b"<!doctype html",
];

/// A text head with one of the HTML markers.
pub(crate) fn is_html(head: &[u8]) -> bool {
    if head.contains(&0) {
        return false;
    }
    let lower = head.to_ascii_lowercase();
    MARKERS
        .iter()
        .any(|m| memchr::memmem::find(&lower, m).is_some())
}

pub(crate) fn open(spool: SpoolReader) -> Option<Box<dyn MemberSource>> {
    Some(Box::new(Html {
        r: BufReader::with_capacity(16 * 1024, spool),
        after_uri: None,
    }))
}

struct Html {
    r: BufReader<SpoolReader>,
    /// Set after a URI: the walk is still inside its tag, at the end of that value.
    after_uri: Option<Quote>,
}

/// How an attribute value ends.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Quote {
    Single,
    Double,
    None,
}

impl Quote {
    fn ends(self, b: u8) -> bool {
        match self {
            Self::Single => b == b'\'',
            Self::Double => b == b'"',
            Self::None => b.is_ascii_whitespace() || b == b'>',
        }
    }
}

impl Html {
    fn peek(&mut self) -> Option<u8> {
        loop {
            match self.r.fill_buf() {
                Ok(buf) => return buf.first().copied(),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return None,
            }
        }
    }

    fn next_byte(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.r.consume(1);
        Some(b)
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_whitespace()) {
            self.next_byte();
        }
    }

    /// Skip past `-->`.
    fn skip_comment(&mut self) {
        let mut dashes = 0;
        while let Some(b) = self.next_byte() {
            match b {
                b'-' => dashes += 1,
                b'>' if dashes >= 2 => return,
                _ => dashes = 0,
            }
        }
    }

    /// Walk to the data of the next `data:` attribute value; returns its media type
    /// (lower case) and how the value ends. None at the end of the document.
    fn next_uri(&mut self) -> Option<(Vec<u8>, Quote)> {
        if let Some(quote) = self.after_uri.take() {
            // the rest of the tag the last URI was in
            if quote != Quote::None && self.peek().is_some_and(|b| quote.ends(b)) {
                self.next_byte();
            }
            if let Some(found) = self.attributes() {
                return Some(found);
            }
        }
        loop {
            // text up to a tag
            while self.next_byte()? != b'<' {}
            if self.peek() == Some(b'!') {
                self.next_byte();
                if self.peek() == Some(b'-') {
                    self.skip_comment();
                }
                continue;
            }
            if let Some(found) = self.tag() {
                return Some(found);
            }
        }
    }

    /// Inside a tag: its name, then attributes until `>`; stops at a `data:` value.
    fn tag(&mut self) -> Option<(Vec<u8>, Quote)> {
        while self
            .peek()
            .is_some_and(|b| !b.is_ascii_whitespace() && b != b'>')
        {
            self.next_byte();
        }
        self.attributes()
    }

    /// A tag's attributes until `>`; stops at a `data:` value.
    fn attributes(&mut self) -> Option<(Vec<u8>, Quote)> {
        loop {
            self.skip_ws();
            match self.peek()? {
                b'>' => {
                    self.next_byte();
                    return None;
                }
                b'=' => {
                    self.next_byte();
                    self.skip_ws();
                    let quote = match self.peek()? {
                        b'"' => Quote::Double,
                        b'\'' => Quote::Single,
                        _ => Quote::None,
                    };
                    if quote != Quote::None {
                        self.next_byte();
                    }
                    if let Some(kind) = self.value(quote) {
                        return Some((kind, quote));
                    }
                }
                _ => {
                    // an attribute name
                    while self
                        .peek()
                        .is_some_and(|b| !b.is_ascii_whitespace() && b != b'>' && b != b'=')
                    {
                        self.next_byte();
                    }
                }
            }
        }
    }

    /// An attribute value: `Some(media type)` when it is a `data:` URI (the reader is then
    /// at its data), otherwise it is skipped.
    fn value(&mut self, quote: Quote) -> Option<Vec<u8>> {
        let mut start = Vec::with_capacity(5);
        while start.len() < 5 {
            match self.peek() {
                Some(b) if !quote.ends(b) => {
                    start.push(b.to_ascii_lowercase());
                    self.next_byte();
                }
                _ => break,
            }
        }
        if start == b"data:" {
            let mut kind = Vec::new();
            loop {
                let b = self.peek()?;
                if quote.ends(b) {
                    break;
                }
                self.next_byte();
                if b == b',' {
                    return Some(kind);
                }
                if kind.len() < MAX_TYPE {
                    kind.push(b.to_ascii_lowercase());
                }
            }
        }
        // not a URI (or no `,` in it): skip to the value's end
        while let Some(b) = self.peek() {
            if quote.ends(b) {
                if quote != Quote::None {
                    self.next_byte();
                }
                break;
            }
            self.next_byte();
        }
        None
    }
}

/// The data of one URI, `%XX` decoded, up to the end of its attribute value.
struct UriData<'a> {
    html: &'a mut Html,
    quote: Quote,
    done: bool,
    /// The second byte of an incomplete `%X` escape.
    pending: Option<u8>,
}

impl UriData<'_> {
    fn next(&mut self) -> Option<u8> {
        if let Some(p) = self.pending.take() {
            return Some(p);
        }
        if self.done {
            return None;
        }
        let b = match self.html.peek() {
            Some(b) if !self.quote.ends(b) => b,
            _ => {
                self.done = true;
                return None;
            }
        };
        self.html.next_byte();
        if b != b'%' {
            return Some(b);
        }
        // %XX; a % without two hex digits stays as it is
        let hex = |c: Option<u8>| c.and_then(|c| char::from(c).to_digit(16));
        let Some(h) = hex(self.html.peek()) else {
            return Some(b'%');
        };
        self.html.next_byte();
        match hex(self.html.peek()) {
            Some(l) => {
                self.html.next_byte();
                Some((h * 16 + l) as u8)
            }
            None => {
                // as clamd: `%` then the digit's value plus '0'
                self.pending = Some((h as u8).wrapping_add(b'0'));
                Some(b'%')
            }
        }
    }
}

impl Read for UriData<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        Ok(crate::tree::fill_from(buf, || self.next()))
    }
}

impl MemberSource for Html {
    fn for_each_member(mut self: Box<Self>, each: &mut EachMember<'_>) {
        for count in 1..=MAX_URIS {
            let Some((kind, quote)) = self.next_uri() else {
                return;
            };
            let name = format!("data {count}").into_bytes();
            let header = rfc2397_header(&kind);
            let mut data = UriData {
                html: &mut self,
                quote,
                done: false,
                pending: None,
            };
            let go_on = each(name, &mut io::Cursor::new(header).chain(&mut data), None);
            if !go_on {
                return;
            }
            // what the walk left of this value
            let _ = io::copy(&mut data, &mut io::sink());
            self.after_uri = Some(quote);
        }
    }
}

/// The head of the message clamd makes of a `data:` URI of media type `kind`.
fn rfc2397_header(kind: &[u8]) -> Vec<u8> {
    let mut h = b"From html-normalise\nContent-type: ".to_vec();
    h.extend_from_slice(kind);
    h.push(b'\n');
    if memchr::memmem::find(kind, b";base64").is_some() {
        h.extend_from_slice(b"Content-transfer-encoding: base64\n");
    }
    h.push(b'\n');
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_percent_and_unquoted_uris_but_not_in_comments_or_text() {
        let doc = b"<html><!-- <img src=\"data:;base64,QUJD\"> --> data:,text\n\
<img SRC=\"DATA:image/png;base64,aGk=\"><a href='data:,a%41b%4' title=x>\
<p class=data:,plain title=\"data:,two\">";
        let mail = |kind: &[u8], data: &[u8]| [rfc2397_header(kind), data.to_vec()].concat();
        assert_eq!(
            crate::tree::unpack_named(doc, open),
            [
                (b"data 1".to_vec(), mail(b"image/png;base64", b"aGk=")),
                (b"data 2".to_vec(), mail(b"", b"aAb%4")),
                (b"data 3".to_vec(), mail(b"", b"plain")),
                (b"data 4".to_vec(), mail(b"", b"two")),
            ]
        );
        assert!(mail(b"a;base64", b"").ends_with(b"encoding: base64\n\n"));
        assert!(is_html(b"\r\n<A HREF=x>"));
        assert!(!is_html(b"plain text"));
    }
}
