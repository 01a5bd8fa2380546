//! HTML `data:` URIs (RFC 2397), as clamd 1.4.6's HTML normaliser extracts them
//! (CLAMD-DET-7): a tag attribute whose value starts with `data:` holds a media type up to
//! `,` and then the data up to the value's end (its closing quote; white space or `>` when
//! unquoted), with `%XX` escapes decoded. clamd writes it out as a small mail message and
//! scans that with its mail parser, so a `;base64` URI yields the decoded bytes and others
//! the text as is; the member here is that attachment, decoded as a stream. Comments
//! (`<!-- ... -->`) hold no URIs. clamd reads it only with both `ScanHTML` and `ScanMail`.

use std::io::{self, BufRead, BufReader, Read};

use crate::spool::SpoolReader;
use crate::tree::{EachMember, MemberSource};

use super::mime::{Decoder, Encoding};

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
    }))
}

struct Html {
    r: BufReader<SpoolReader>,
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
        let mut n = 0;
        while n < buf.len() {
            match self.next() {
                Some(b) => {
                    buf[n] = b;
                    n += 1;
                }
                None => break,
            }
        }
        Ok(n)
    }
}

impl MemberSource for Html {
    fn for_each_member(mut self: Box<Self>, each: &mut EachMember<'_>) {
        for count in 1..=MAX_URIS {
            let Some((kind, quote)) = self.next_uri() else {
                return;
            };
            let base64 = memchr::memmem::find(&kind, b";base64").is_some();
            let name = format!("data {count}").into_bytes();
            let mut data = UriData {
                html: &mut self,
                quote,
                done: false,
                pending: None,
            };
            let go_on = if base64 {
                let mut decoded = Decoder::new(BufReader::new(&mut data), Encoding::Base64);
                each(name, &mut decoded, None)
            } else {
                each(name, &mut data, None)
            };
            if !go_on {
                return;
            }
            // what the walk left of this value
            let _ = io::copy(&mut data, &mut io::sink());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(doc: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
        let src = open(SpoolReader::Memory(io::Cursor::new(doc.to_vec()))).unwrap();
        let mut out = Vec::new();
        src.for_each_member(&mut |name, r, _| {
            let mut v = Vec::new();
            r.read_to_end(&mut v).unwrap();
            out.push((name, v));
            true
        });
        out
    }

    #[test]
    fn base64_percent_and_unquoted_uris_but_not_in_comments_or_text() {
        let doc = b"<html><!-- <img src=\"data:;base64,QUJD\"> --> data:,text\n\
<img SRC=\"DATA:image/png;base64,aGk=\"><a href='data:,a%41b%4' title=x>\
<p class=data:,plain>";
        assert_eq!(
            members(doc),
            [
                (b"data 1".to_vec(), b"hi".to_vec()),
                (b"data 2".to_vec(), b"aAb%4".to_vec()),
                (b"data 3".to_vec(), b"plain".to_vec()),
            ]
        );
        assert!(is_html(b"\r\n<A HREF=x>"));
        assert!(!is_html(b"plain text"));
    }
}
