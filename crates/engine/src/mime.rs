//! RFC 822 / MIME mail and mbox, as clamd unpacks them (CLAMD-DET-7): multipart at any depth,
//! nested `message/rfc822`, base64, quoted-printable, uuencode (also in plain text bodies).
//!
//! Two steps, both streaming over the spooled message: an [`Indexer`] reads lines (bounded in
//! length) and yields each part as a byte range with its transfer encoding, a few parts at a
//! time, so memory does not grow with the number of parts; a [`Decoder`] then reads one range
//! and decodes it line by line. Nothing holds a whole part in memory.

use std::collections::VecDeque;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};

/// Longest line handled as one; a longer line is split (it is then no header nor boundary).
const MAX_LINE: usize = 16 * 1024;
/// Header bytes kept per entity; the rest of an over-long header block is skipped.
const MAX_HEADER_BYTES: usize = 64 * 1024;
/// Deepest multipart nesting followed; a deeper multipart is scanned as text.
const MAX_NESTING: usize = 64;
/// Longest boundary accepted (RFC 2046 allows 70).
const MAX_BOUNDARY: usize = 256;
/// Longest member name kept.
const MAX_NAME: usize = 255;
/// Parts found per indexing pass, before the walk decodes them.
const BATCH: usize = 32;

/// How a part's bytes are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encoding {
    Base64,
    QuotedPrintable,
    /// From a `begin <mode> <name>` line to `end`.
    Uuencode,
    /// 7bit, 8bit, binary or none: each line is scanned with a `\n` (as clamd decodes text).
    Text,
}

/// One part of a message: bytes `start..end` of the message, encoded as `encoding`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Part {
    pub start: u64,
    pub end: u64,
    pub encoding: Encoding,
    pub name: Vec<u8>,
}

/// Header names a message may start with (case-insensitive, with the colon).
const FIRST_HEADERS: &[&[u8]] = &[
    b"from:",
    b"to:",
    b"cc:",
    b"subject:",
    b"date:",
    b"received:",
    b"return-path:",
    b"delivered-to:",
    b"envelope-to:",
    b"message-id:",
    b"mime-version:",
    b"content-type:",
    b"reply-to:",
    b"sender:",
    b"organization:",
];

/// Whether `head` (a part's first bytes) is a mail message or an mbox.
pub(crate) fn looks_like_mail(head: &[u8]) -> bool {
    if head.starts_with(b"From ") {
        return true;
    }
    let line_end = head.iter().position(|&b| b == b'\n').unwrap_or(head.len());
    let first = head[..line_end].to_ascii_lowercase();
    if FIRST_HEADERS.iter().any(|h| first.starts_with(h)) {
        return true;
    }
    // `X-Anything: value`
    first.starts_with(b"x-")
        && first
            .iter()
            .position(|&b| b == b':')
            .is_some_and(|c| c > 2 && first[..c].iter().all(is_header_name_byte))
}

fn is_header_name_byte(b: &u8) -> bool {
    b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_'
}

/// Reads one line (terminator included) of at most `MAX_LINE` bytes into `line`; returns
/// the number of bytes consumed, 0 at the end.
fn read_line(r: &mut impl BufRead, line: &mut Vec<u8>) -> io::Result<usize> {
    line.clear();
    loop {
        let buf = match r.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.is_empty() {
            return Ok(line.len());
        }
        let room = MAX_LINE - line.len();
        let (take, done) = match buf.iter().take(room).position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => {
                let take = buf.len().min(room);
                (take, line.len() + take == MAX_LINE)
            }
        };
        line.extend_from_slice(&buf[..take]);
        r.consume(take);
        if done {
            return Ok(line.len());
        }
    }
}

/// A line without its `\n` / `\r\n`.
fn content(line: &[u8]) -> &[u8] {
    let l = line.strip_suffix(b"\n").unwrap_or(line);
    l.strip_suffix(b"\r").unwrap_or(l)
}

fn trim(s: &[u8]) -> &[u8] {
    let start = s
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &s[start..end]
}

/// The parsed headers of one entity (message or body part).
#[derive(Debug, Default)]
struct Headers {
    /// Unfolded header lines, `name: value`, bounded by `MAX_HEADER_BYTES` in total.
    lines: Vec<Vec<u8>>,
    bytes: usize,
}

impl Headers {
    fn push(&mut self, line: &[u8]) {
        if self.bytes + line.len() > MAX_HEADER_BYTES {
            return;
        }
        self.bytes += line.len();
        match (line.first(), self.lines.last_mut()) {
            (Some(b' ' | b'\t'), Some(last)) => {
                last.push(b' ');
                last.extend_from_slice(trim(line));
            }
            _ => self.lines.push(line.to_vec()),
        }
    }

    fn get(&self, name: &[u8]) -> Option<&[u8]> {
        self.lines.iter().find_map(|l| {
            let colon = l.iter().position(|&b| b == b':')?;
            trim(&l[..colon])
                .eq_ignore_ascii_case(name)
                .then(|| trim(&l[colon + 1..]))
        })
    }

    /// What the entity's body is.
    fn body(&self) -> Body {
        let (mime, params) = self
            .get(b"content-type")
            .map(parse_params)
            .unwrap_or_default();
        let encoding = match self
            .get(b"content-transfer-encoding")
            .map(|e| e.to_ascii_lowercase())
            .as_deref()
        {
            Some(b"base64") => Encoding::Base64,
            Some(b"quoted-printable") => Encoding::QuotedPrintable,
            Some(b"x-uuencode" | b"uuencode" | b"x-uue") => Encoding::Uuencode,
            _ => Encoding::Text,
        };
        if mime.starts_with(b"multipart/") {
            if let Some(b) = param(&params, b"boundary") {
                if !b.is_empty() && b.len() <= MAX_BOUNDARY {
                    return Body::Multipart(b.to_vec());
                }
            }
        }
        if mime == b"message/rfc822" && encoding == Encoding::Text {
            // clamd writes the enclosed message out as a file of its own and scans that (one
            // level deeper, its bytes counted against MaxScanSize): a member the walk opens
            return Body::Leaf(Encoding::Text, Vec::new());
        }
        let disposition = self.get(b"content-disposition").map(parse_params);
        let name = disposition
            .as_ref()
            .and_then(|(_, p)| param(p, b"filename"))
            .or_else(|| param(&params, b"name"))
            .unwrap_or_default();
        Body::Leaf(encoding, name[..name.len().min(MAX_NAME)].to_vec())
    }
}

enum Body {
    Multipart(Vec<u8>),
    Leaf(Encoding, Vec<u8>),
}

type Params = Vec<(Vec<u8>, Vec<u8>)>;

/// `type/subtype; a=b; c="d;e"` → (lower-case type, [(lower-case name, value)]).
fn parse_params(value: &[u8]) -> (Vec<u8>, Params) {
    let mut fields: Vec<Vec<u8>> = vec![Vec::new()];
    let mut quoted = false;
    let mut escaped = false;
    for &b in value {
        let cur = fields.last_mut().expect("fields is never empty");
        match b {
            _ if escaped => {
                cur.push(b);
                escaped = false;
            }
            b'\\' if quoted => escaped = true,
            b'"' => quoted = !quoted,
            b';' if !quoted => fields.push(Vec::new()),
            _ => cur.push(b),
        }
    }
    let mime = trim(&fields[0]).to_ascii_lowercase();
    let params = fields[1..]
        .iter()
        .filter_map(|f| {
            let eq = f.iter().position(|&b| b == b'=')?;
            Some((
                trim(&f[..eq]).to_ascii_lowercase(),
                trim(&f[eq + 1..]).to_vec(),
            ))
        })
        .collect();
    (mime, params)
}

fn param<'a>(params: &'a Params, name: &[u8]) -> Option<&'a [u8]> {
    params
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_slice())
}

/// A leaf body being read.
#[derive(Debug)]
struct Leaf {
    start: u64,
    encoding: Encoding,
    name: Vec<u8>,
    /// Where the last line's content ended (before its line break: that belongs to a
    /// following boundary line).
    content_end: u64,
    /// Start and name of a uuencoded block inside a text body.
    uu: Option<(u64, Vec<u8>)>,
}

#[derive(Debug)]
enum State {
    Headers(Headers),
    /// Preamble or epilogue of a multipart: skipped up to the next boundary.
    Skip,
    Leaf(Leaf),
}

/// Finds the parts of a message, a few at a time (see the module doc).
pub(crate) struct Indexer {
    pos: u64,
    state: State,
    boundaries: Vec<Vec<u8>>,
    mbox: bool,
    prev_blank: bool,
    first_line: bool,
    ready: VecDeque<Part>,
    eof: bool,
}

impl Indexer {
    pub fn new() -> Self {
        Self {
            pos: 0,
            state: State::Headers(Headers::default()),
            boundaries: Vec::new(),
            mbox: false,
            prev_blank: true,
            first_line: true,
            ready: VecDeque::new(),
            eof: false,
        }
    }

    /// The next part of the message in `r` (which the caller may seek in between).
    pub fn next_part<R: Read + Seek>(&mut self, r: &mut R) -> io::Result<Option<Part>> {
        if self.ready.is_empty() && !self.eof {
            r.seek(SeekFrom::Start(self.pos))?;
            let mut br = BufReader::with_capacity(8 * 1024, r);
            let mut line = Vec::new();
            while self.ready.len() < BATCH {
                let n = read_line(&mut br, &mut line)?;
                if n == 0 {
                    self.finish_leaf(self.pos, true);
                    self.eof = true;
                    break;
                }
                let start = self.pos;
                self.pos += n as u64;
                self.line(&line, start);
            }
        }
        Ok(self.ready.pop_front())
    }

    fn line(&mut self, line: &[u8], start: u64) {
        let text = content(line);
        let first = std::mem::replace(&mut self.first_line, false);
        let blank_before = std::mem::replace(&mut self.prev_blank, text.is_empty());
        if text.starts_with(b"From ") && (first || (self.mbox && blank_before)) {
            // mbox: a new message
            self.mbox = true;
            self.finish_leaf(start, false);
            self.boundaries.clear();
            self.state = State::Headers(Headers::default());
            return;
        }
        if let Some((level, close)) = self.boundary(text) {
            self.finish_leaf(start, false);
            self.boundaries.truncate(level + 1);
            self.state = if close {
                self.boundaries.pop();
                State::Skip
            } else {
                State::Headers(Headers::default())
            };
            return;
        }
        let end_of_line = start + line.len() as u64;
        match &mut self.state {
            State::Headers(h) if text.is_empty() => {
                let body = h.body();
                self.state = match body {
                    Body::Multipart(b) if self.boundaries.len() < MAX_NESTING => {
                        self.boundaries.push(b);
                        State::Skip
                    }
                    Body::Multipart(_) => State::Leaf(Leaf::new(end_of_line, Encoding::Text, b"")),
                    Body::Leaf(enc, name) => State::Leaf(Leaf::new(end_of_line, enc, &name)),
                };
            }
            State::Headers(h) => h.push(text),
            State::Skip => {}
            State::Leaf(leaf) => {
                leaf.content_end = start + text.len() as u64;
                if leaf.encoding != Encoding::Text {
                    return;
                }
                match &leaf.uu {
                    None => {
                        if let Some(name) = uu_begin(text) {
                            leaf.uu = Some((start, name));
                        }
                    }
                    Some(_) if trim(text) == b"end" => {
                        if let Some((uu_start, name)) = leaf.uu.take() {
                            self.ready.push_back(Part {
                                start: uu_start,
                                end: end_of_line,
                                encoding: Encoding::Uuencode,
                                name,
                            });
                        }
                    }
                    Some(_) => {}
                }
            }
        }
    }

    /// `Some((level, is_close))` when `text` is a boundary line of an open multipart.
    fn boundary(&self, text: &[u8]) -> Option<(usize, bool)> {
        let rest = text.strip_prefix(b"--")?;
        self.boundaries.iter().enumerate().rev().find_map(|(i, b)| {
            let after = rest.strip_prefix(b.as_slice())?;
            if after.starts_with(b"--") {
                Some((i, true))
            } else if trim(after).is_empty() {
                Some((i, false))
            } else {
                None
            }
        })
    }

    /// Ends the leaf in progress (if any): at a boundary or `From ` line starting at `at`
    /// (the line break before it is the separator's), or at the end of the message.
    fn finish_leaf(&mut self, at: u64, at_eof: bool) {
        if let State::Leaf(leaf) = std::mem::replace(&mut self.state, State::Skip) {
            let end = if at_eof { at } else { leaf.content_end };
            self.ready.push_back(Part {
                start: leaf.start,
                end: end.max(leaf.start),
                encoding: leaf.encoding,
                name: leaf.name,
            });
            if let Some((uu_start, name)) = leaf.uu {
                self.ready.push_back(Part {
                    start: uu_start,
                    end: end.max(uu_start),
                    encoding: Encoding::Uuencode,
                    name,
                });
            }
        }
    }
}

impl Leaf {
    fn new(start: u64, encoding: Encoding, name: &[u8]) -> Self {
        Self {
            start,
            encoding,
            name: name.to_vec(),
            content_end: start,
            uu: None,
        }
    }
}

/// The file name of a `begin <octal mode> <name>` line.
fn uu_begin(text: &[u8]) -> Option<Vec<u8>> {
    let rest = text.strip_prefix(b"begin ")?;
    let sp = rest.iter().position(|&b| b == b' ')?;
    let mode = &rest[..sp];
    if mode.is_empty() || mode.len() > 6 || !mode.iter().all(|b| (b'0'..=b'7').contains(b)) {
        return None;
    }
    let name = trim(&rest[sp + 1..]);
    Some(name[..name.len().min(MAX_NAME)].to_vec())
}

/// Decodes one part as a stream.
pub(crate) struct Decoder<R> {
    inner: R,
    encoding: Encoding,
    line: Vec<u8>,
    out: Vec<u8>,
    out_pos: usize,
    done: bool,
    /// base64: pending bits.
    acc: u32,
    bits: u32,
    /// uuencode: inside the block.
    uu_open: bool,
}

impl<R: BufRead> Decoder<R> {
    pub fn new(inner: R, encoding: Encoding) -> Self {
        Self {
            inner,
            encoding,
            line: Vec::new(),
            out: Vec::new(),
            out_pos: 0,
            done: false,
            acc: 0,
            bits: 0,
            uu_open: false,
        }
    }

    fn decode_line(&mut self) {
        let line = std::mem::take(&mut self.line);
        match self.encoding {
            Encoding::Base64 => self.base64(&line),
            Encoding::QuotedPrintable => quoted_printable(content(&line), &mut self.out),
            Encoding::Text => {
                self.out.extend_from_slice(content(&line));
                self.out.push(b'\n');
            }
            Encoding::Uuencode => self.uu(content(&line)),
        }
        self.line = line;
    }

    fn base64(&mut self, data: &[u8]) {
        for &c in data {
            let v = match c {
                b'A'..=b'Z' => c - b'A',
                b'a'..=b'z' => c - b'a' + 26,
                b'0'..=b'9' => c - b'0' + 52,
                b'+' => 62,
                b'/' => 63,
                b'=' => {
                    // padding ends a quantum: drop the partial bits
                    self.acc = 0;
                    self.bits = 0;
                    continue;
                }
                _ => continue,
            };
            self.acc = (self.acc << 6) | u32::from(v);
            self.bits += 6;
            if self.bits >= 8 {
                self.bits -= 8;
                self.out.push((self.acc >> self.bits) as u8);
                self.acc &= (1 << self.bits) - 1;
            }
        }
    }

    fn uu(&mut self, text: &[u8]) {
        if !self.uu_open {
            self.uu_open = uu_begin(text).is_some();
            return;
        }
        if trim(text) == b"end" {
            self.done = true;
            return;
        }
        let Some((&len_char, body)) = text.split_first() else {
            return;
        };
        let len = usize::from(len_char.wrapping_sub(b' ') & 0x3f);
        let mut decoded = Vec::with_capacity(len + 3);
        for group in body.chunks(4) {
            let mut q = [0u8; 4];
            for (i, &c) in group.iter().enumerate() {
                q[i] = c.wrapping_sub(b' ') & 0x3f;
            }
            decoded.push((q[0] << 2) | (q[1] >> 4));
            decoded.push((q[1] << 4) | (q[2] >> 2));
            decoded.push((q[2] << 6) | q[3]);
        }
        decoded.truncate(len);
        self.out.extend_from_slice(&decoded);
    }
}

/// One quoted-printable line: `=XX` escapes, a trailing `=` joins the next line, trailing
/// white space is dropped (RFC 2045 6.7).
fn quoted_printable(text: &[u8], out: &mut Vec<u8>) {
    let end = text
        .iter()
        .rposition(|b| *b != b' ' && *b != b'\t')
        .map_or(0, |e| e + 1);
    let text = &text[..end];
    let (text, soft) = match text.strip_suffix(b"=") {
        Some(t) => (t, true),
        None => (text, false),
    };
    let mut i = 0;
    while i < text.len() {
        if text[i] == b'=' {
            if let (Some(h), Some(l)) = (
                text.get(i + 1).and_then(|c| hex_val(*c)),
                text.get(i + 2).and_then(|c| hex_val(*c)),
            ) {
                out.push((h << 4) | l);
                i += 3;
                continue;
            }
        }
        out.push(text[i]);
        i += 1;
    }
    if !soft {
        out.push(b'\n');
    }
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'A'..=b'F' => Some(c - b'A' + 10),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

impl<R: BufRead> Read for Decoder<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.out_pos < self.out.len() {
                let n = buf.len().min(self.out.len() - self.out_pos);
                buf[..n].copy_from_slice(&self.out[self.out_pos..self.out_pos + n]);
                self.out_pos += n;
                return Ok(n);
            }
            self.out.clear();
            self.out_pos = 0;
            if self.done {
                return Ok(0);
            }
            let mut line = std::mem::take(&mut self.line);
            let n = read_line(&mut self.inner, &mut line)?;
            self.line = line;
            if n == 0 {
                self.done = true;
                continue;
            }
            self.decode_line();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn parts(msg: &[u8]) -> Vec<(Encoding, Vec<u8>, Vec<u8>)> {
        let mut r = Cursor::new(msg.to_vec());
        let mut ix = Indexer::new();
        let mut out = Vec::new();
        while let Some(p) = ix.next_part(&mut r).unwrap() {
            let body = &msg[p.start as usize..p.end as usize];
            let mut d = Decoder::new(body, p.encoding);
            let mut v = Vec::new();
            d.read_to_end(&mut v).unwrap();
            out.push((p.encoding, p.name, v));
        }
        out
    }

    #[test]
    fn nested_multipart_base64_and_text_parts() {
        let msg = b"From: a\r\nContent-Type: multipart/mixed; boundary=\"o\"\r\n\r\npre\r\n--o\r\n\
Content-Type: multipart/alternative; boundary=i\r\n\r\n--i\r\nContent-Type: text/plain\r\n\r\nhi\r\n\
--i--\r\n--o\r\nContent-Type: application/x; name=\"a.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n\
aGVs\r\nbG8=\r\n--o--\r\nepilogue\r\n";
        let p = parts(msg);
        assert_eq!(p.len(), 2, "{p:?}");
        assert_eq!(p[0], (Encoding::Text, Vec::new(), b"hi\n".to_vec()));
        assert_eq!(
            p[1],
            (Encoding::Base64, b"a.bin".to_vec(), b"hello".to_vec())
        );
    }

    #[test]
    fn uuencode_in_a_text_body_is_a_part_of_its_own() {
        let msg = b"Subject: x\n\ntext\nbegin 644 f.txt\n#86)C\n`\nend\nmore\n";
        let p = parts(msg);
        assert_eq!(p.len(), 2, "{p:?}");
        assert_eq!(p[0].0, Encoding::Uuencode);
        assert_eq!(p[0].1, b"f.txt");
        assert_eq!(p[0].2, b"abc");
    }

    #[test]
    fn quoted_printable_soft_breaks_and_escapes() {
        let mut out = Vec::new();
        quoted_printable(b"a=3Db=", &mut out);
        quoted_printable(b"c  ", &mut out);
        assert_eq!(out, b"a=bc\n");
    }

    #[test]
    fn mbox_messages_and_rfc822_inside() {
        let msg = b"From x Thu\nContent-Type: text/plain\n\none\n\nFrom y Fri\n\
Content-Type: message/rfc822\n\nContent-Type: text/plain\nContent-Transfer-Encoding: base64\n\ndHdv\n";
        let p = parts(msg);
        assert_eq!(p.len(), 2, "{p:?}");
        assert_eq!(p[0].2, b"one\n");
        // CLAMD-DET-7: the enclosed message is one member, opened by the walk a level deeper
        assert_eq!(
            p[1].2,
            b"Content-Type: text/plain\nContent-Transfer-Encoding: base64\n\ndHdv\n"
        );
    }

    #[test]
    fn sniffs_headers_and_mbox() {
        assert!(looks_like_mail(b"From someone Mon\n"));
        assert!(looks_like_mail(b"Received: from x\n"));
        assert!(looks_like_mail(b"X-Spam-Flag: NO\n"));
        assert!(!looks_like_mail(b"X-: a\n"));
        assert!(!looks_like_mail(b"hello: world\n"));
    }
}
