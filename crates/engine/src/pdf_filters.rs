//! The PDF stream filters clamd 1.4.6 decodes (`pdf_decodestream_internal`, CLAMD-DET-7):
//! `/FlateDecode`, `/ASCIIHexDecode`, `/ASCII85Decode`, `/LZWDecode` (with `/EarlyChange`
//! from `/DecodeParms`, the only parameter clamd honours) and `/RunLengthDecode`, each as a
//! streaming reader, plus [`chain_outcome`], which finds how far clamd gets along a chain.
//!
//! clamd decodes filter by filter in memory: a filter that fails keeps the previous
//! filter's output (or the raw stream when none succeeded); Flate and LZW keep what they
//! produced before an error and fail only when they produced nothing; ASCII85, ASCIIHex and
//! RunLength fail wholesale on any bad byte. Image, fax and crypt filters stop the chain, and
//! names that are not filters are not part of it. Here the chain is re-opened from the spool
//! to probe each step instead, so memory stays bounded.

use std::io::{self, BufRead, BufReader, Read};

use super::compress::UntilError;

#[path = "pdf_inflate.rs"]
mod inflate;

/// Filters kept per stream (clamd's `PDF_FILTERLIST_MAX`).
pub(crate) const MAX_FILTERS: usize = 64;
/// Most decoded bytes read to prove that a wholesale-failing filter (ASCII85, ASCIIHex,
/// RunLength) succeeds, per stream and (see [`PROBE_BUDGET`]) per PDF; past this, it is
/// taken as good.
const PROBE_CAP: u64 = 64 << 20;
/// Most decoded bytes all probes of one PDF read together, so many streams cannot make the
/// probes slow.
pub(crate) const PROBE_BUDGET: u64 = 256 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Filter {
    Flate,
    AsciiHex,
    Ascii85,
    Lzw,
    RunLength,
    /// `/DCTDecode` and `/JBIG2Decode`: clamd stops before them, but always dumps.
    Jpeg,
    /// Fax, JPEG 2000 and crypt filters: clamd stops before them.
    Stop,
}

impl Filter {
    /// clamd's filter names (`pdfname_actions`); `None` for a name that is not a filter
    /// (clamd leaves it out of the chain).
    fn from_name(name: &[u8]) -> Option<Filter> {
        Some(match name {
            b"FlateDecode" | b"Fl" => Filter::Flate,
            b"ASCIIHexDecode" | b"AHx" => Filter::AsciiHex,
            b"ASCII85Decode" | b"A85" => Filter::Ascii85,
            b"LZWDecode" | b"LZW" => Filter::Lzw,
            b"RunLengthDecode" | b"RL" => Filter::RunLength,
            b"JBIG2Decode" | b"DCTDecode" | b"DCT" => Filter::Jpeg,
            b"CCITTFaxDecode" | b"CCF" | b"JPXDecode" | b"Crypt" => Filter::Stop,
            _ => return None,
        })
    }
}

/// The `/Filter` chain of a dictionary: one name or an array of names.
pub(crate) fn filters(dict: &[u8]) -> Vec<Filter> {
    let Some(at) = memchr::memmem::find(dict, b"/Filter") else {
        return Vec::new();
    };
    let rest = dict[at + 7..].trim_ascii_start();
    let names: &[u8] = match rest.first() {
        Some(b'[') => {
            let end = rest.iter().position(|&b| b == b']').unwrap_or(rest.len());
            &rest[1..end]
        }
        Some(b'/') => {
            let end = rest[1..]
                .iter()
                .position(|&b| b.is_ascii_whitespace() || matches!(b, b'/' | b'>' | b'['))
                .map_or(rest.len(), |e| e + 1);
            &rest[..end]
        }
        _ => return Vec::new(),
    };
    names
        .split(|&b| b == b'/' || b.is_ascii_whitespace())
        .filter(|w| !w.is_empty())
        .filter_map(Filter::from_name)
        .take(MAX_FILTERS)
        .collect()
}

/// LZW's `/EarlyChange` as clamd reads it (default 1; any non-zero number means early
/// change), from the `/DecodeParms` (or `/DP`) dictionary as `pdf_extract_obj` finds it:
/// the value token after the key, backed up over `<` and line feeds; when that is not a
/// `<`, the next `<` of the dictionary (so `/DecodeParms << /EarlyChange 0 >>`, with a space
/// after `<<`, is lost and `/DecodeParms <</EarlyChange 0>>` counts).
pub(crate) fn early_change(dict: &[u8]) -> bool {
    let Some(params) = decode_parms(dict) else {
        return true;
    };
    // the parameters dictionary's own entries, up to its first `>>`
    let params = &params[..memchr::memmem::find(params, b">>").unwrap_or(params.len())];
    let Some(at) = memchr::memmem::find(params, b"/EarlyChange") else {
        return true;
    };
    let value = params[at + 12..].trim_ascii_start();
    let value = value.strip_prefix(b"+").unwrap_or(value);
    let digits = value.iter().take_while(|b| b.is_ascii_digit()).count();
    match std::str::from_utf8(&value[..digits])
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        Some(v) => v != 0,
        None => true,
    }
}

/// Where clamd parses the stream's parameters: a `<<` it finds as described above.
fn decode_parms(dict: &[u8]) -> Option<&[u8]> {
    let at = memchr::memmem::find(dict, b"/DecodeParms")
        .or_else(|| memchr::memmem::find(dict, b"/DP"))?;
    let rest = &dict[at..];
    let mut q = 1 + next_object(&rest[1..])?;
    while q > 0 && matches!(rest[q - 1], b'<' | b'\n') {
        q -= 1;
    }
    let q = q + rest[q..].iter().position(|&b| b == b'<')?;
    rest[q..].starts_with(b"<<").then(|| &rest[q..])
}

/// Whether clamd dumps (scans) a stream at all (`pdf_extract_obj`'s `DUMP_MASK`): one with
/// a `/Filter` key must have a Flate, ASCIIHex, ASCII85 or JPEG filter, be an embedded
/// file, or be named by a page's `/Contents` (`contents`); an `/Image` is dumped only
/// as JPEG. The names are walked as clamd's `pdf_parseobj` does: `/EmbeddedFile` and
/// `/Image` count outside a `/Filter` value, which `/Length` or `/Crypt` ends.
pub(crate) fn dumped(dict: &[u8], chain: &[Filter], contents: bool) -> bool {
    let f = NameFlags::of(dict);
    if f.image && !chain.contains(&Filter::Jpeg) {
        return false;
    }
    !f.has_filter || decoded_kind(chain) || f.embedded || contents || f.script
}

/// Whether a chain holds a filter whose name alone makes clamd dump an object (Flate,
/// ASCIIHex, ASCII85, JPEG).
pub(crate) fn decoded_kind(chain: &[Filter]) -> bool {
    chain.iter().any(|f| {
        matches!(
            f,
            Filter::Flate | Filter::AsciiHex | Filter::Ascii85 | Filter::Jpeg
        )
    })
}

/// The flags clamd's `pdf_parseobj` sets for the names of a dictionary (see [`dumped`]).
#[derive(Debug, Default)]
pub(crate) struct NameFlags {
    pub(crate) has_filter: bool,
    pub(crate) embedded: bool,
    pub(crate) image: bool,
    /// `/JavaScript`, `/OpenAction` or `/Launch`.
    pub(crate) script: bool,
}

impl NameFlags {
    pub(crate) fn of(dict: &[u8]) -> NameFlags {
        let mut in_filter = false;
        let mut f = NameFlags::default();
        for name in names(dict) {
            match name {
                b"Filter" => {
                    f.has_filter = true;
                    in_filter = true;
                }
                b"Length" | b"Crypt" | b"Sig" | b"V" | b"R" => in_filter = false,
                b"EmbeddedFile" if !in_filter => f.embedded = true,
                b"Image" if !in_filter => f.image = true,
                b"JavaScript" | b"OpenAction" | b"Launch" => f.script = true,
                _ => {}
            }
        }
        f
    }
}

/// The PDF names (`/Name`, without the slash) of `text`, in order.
fn names(text: &[u8]) -> impl Iterator<Item = &[u8]> {
    names_at(text).map(|(name, _)| name)
}

/// The PDF names of `text` with where each ends (the offset just after it).
pub(crate) fn names_at(text: &[u8]) -> impl Iterator<Item = (&[u8], usize)> {
    memchr::memchr_iter(b'/', text).map(move |at| {
        let rest = &text[at + 1..];
        let end = rest
            .iter()
            .position(|b| {
                b.is_ascii_whitespace()
                    || matches!(
                        b,
                        b'/' | b'<' | b'>' | b'[' | b']' | b'(' | b')' | b'{' | b'}' | b'%'
                    )
            })
            .unwrap_or(rest.len());
        (&rest[..end], at + 1 + end)
    })
}

/// clamd's `pdf_nextobject`: from inside a token, the start of the next one (line ends and
/// comments skip to the next line).
pub(crate) fn next_object(t: &[u8]) -> Option<usize> {
    let mut i = 0;
    let mut in_object = true;
    while i < t.len() {
        match t[i] {
            b'\n' | b'\r' | b'%' => {
                // to the end of the line, then past the line ends
                while i < t.len() && !matches!(t[i], b'\r' | b'\n') {
                    i += 1;
                }
                while i < t.len() && matches!(t[i], b'\r' | b'\n') {
                    i += 1;
                }
                if i >= t.len() {
                    return None;
                }
                in_object = false;
            }
            b' ' | b'\t' | b'[' | 0x0b | 0x0c | b'<' => {
                in_object = false;
                i += 1;
            }
            b'/' | b'(' => return Some(i),
            _ if !in_object => return Some(i),
            _ => i += 1,
        }
    }
    None
}

/// Where clamd's decoding of a chain ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// No filter decoded: the raw stream is scanned.
    Raw,
    /// The first `n` filters decoded (n >= 1): their output is scanned.
    Decoded(usize),
    /// A filter after a successful one produced nothing: nothing is scanned.
    Empty,
}

/// Runs clamd's chain loop: `step(n)` says how the n-th filter (n >= 1) does on the
/// output of the ones before it (see [`probe`]). Each filter is tried once, in order.
pub(crate) fn chain_outcome(chain: &[Filter], mut step: impl FnMut(usize) -> Step) -> Outcome {
    let mut good = 0;
    for (i, f) in chain.iter().enumerate() {
        let step = match f {
            Filter::Stop | Filter::Jpeg => Step::Fail,
            _ => step(i + 1),
        };
        match step {
            Step::Good => good = i + 1,
            Step::Fail => break,
            // clamd stops at empty content, counting this filter as not decoded
            Step::Empty if good == 0 => return Outcome::Raw,
            Step::Empty => return Outcome::Empty,
        }
    }
    if good == 0 {
        Outcome::Raw
    } else {
        Outcome::Decoded(good)
    }
}

/// How one filter does.
pub(crate) enum Step {
    Good,
    Empty,
    Fail,
}

/// Whether `f`, the last filter of `r` (the stream decoded so far), decodes: Flate and LZW
/// by their first byte (they keep partial output), the others by reading all of it (they
/// fail on any bad byte), within what is left of `budget` (which the bytes read use up).
pub(crate) fn probe(f: Filter, r: io::Result<Box<dyn Read + '_>>, budget: &mut u64) -> Step {
    let Ok(mut r) = r else { return Step::Fail };
    let cap = match f {
        Filter::Flate | Filter::Lzw => 1,
        _ => PROBE_CAP.min(*budget),
    };
    if cap == 0 {
        return Step::Good;
    }
    let mut counted = (&mut r).take(cap);
    let result = io::copy(&mut counted, &mut io::sink());
    *budget = budget.saturating_sub(cap - counted.limit());
    match result {
        Ok(0) => Step::Empty,
        Ok(_) => Step::Good,
        Err(_) => Step::Fail,
    }
}

/// `inner` decoded through `f` (`Stop` and `Jpeg` pass the bytes through; never asked for).
pub(crate) fn decoder<'a>(f: Filter, inner: Box<dyn Read + 'a>, early: bool) -> Box<dyn Read + 'a> {
    match f {
        Filter::Flate => Box::new(inflate::Inflate::new(Box::new(SkipCr::new(inner)))),
        Filter::Lzw => Box::new(KeepPartial::new(Lzw::new(SkipCr::new(inner), early))),
        Filter::AsciiHex => Box::new(Coded::new(inner, AsciiHex::default())),
        Filter::Ascii85 => Box::new(Coded::new(inner, Ascii85::default())),
        Filter::RunLength => Box::new(Coded::new(inner, RunLength::default())),
        Filter::Stop | Filter::Jpeg => Box::new(UntilError::new(inner)),
    }
}

fn bad(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}

/// Flate (see [`inflate`]) and LZW skip one leading `\r` (a stream keyword ended by a bare CR).
struct SkipCr<R> {
    inner: BufReader<R>,
    started: bool,
}

impl<R: Read> SkipCr<R> {
    fn new(inner: R) -> Self {
        SkipCr {
            inner: BufReader::with_capacity(16 * 1024, inner),
            started: false,
        }
    }
}

impl<R: Read> Read for SkipCr<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if !self.started {
            self.started = true;
            if self.inner.fill_buf()?.first() == Some(&b'\r') {
                self.inner.consume(1);
            }
        }
        self.inner.read(buf)
    }
}

/// An error after some output ends the data (what clamd keeps); an error before any output
/// is passed on (the filter failed).
struct KeepPartial<R> {
    inner: R,
    produced: bool,
    ended: bool,
}

impl<R> KeepPartial<R> {
    fn new(inner: R) -> Self {
        KeepPartial {
            inner,
            produced: false,
            ended: false,
        }
    }
}

impl<R: Read> Read for KeepPartial<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.ended {
            return Ok(0);
        }
        match self.inner.read(buf) {
            Ok(n) => {
                self.produced |= n > 0;
                Ok(n)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Err(e),
            Err(_) if self.produced => {
                self.ended = true;
                Ok(0)
            }
            Err(e) => Err(e),
        }
    }
}

/// LZW (MSB first, 8-bit literals), as in TIFF when `early` (PDF's default EarlyChange 1).
struct Lzw<R> {
    inner: BufReader<R>,
    dec: weezl::decode::Decoder,
    done: bool,
    failed: bool,
}

impl<R: Read> Lzw<R> {
    fn new(inner: R, early: bool) -> Self {
        let dec = if early {
            weezl::decode::Decoder::with_tiff_size_switch(weezl::BitOrder::Msb, 8)
        } else {
            weezl::decode::Decoder::new(weezl::BitOrder::Msb, 8)
        };
        Lzw {
            inner: BufReader::with_capacity(16 * 1024, inner),
            dec,
            done: false,
            failed: false,
        }
    }
}

impl<R: Read> Read for Lzw<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // each round consumes input or yields output (else it ends), and input is finite
        while !self.done && !buf.is_empty() {
            if self.failed {
                self.done = true;
                return Err(bad("bad LZW code"));
            }
            let inp = self.inner.fill_buf()?;
            let r = self.dec.decode_bytes(inp, buf);
            self.inner.consume(r.consumed_in);
            match r.status {
                Err(_) => self.failed = true,
                Ok(weezl::LzwStatus::Done) => self.done = true,
                Ok(_) if r.consumed_in == 0 && r.consumed_out == 0 => self.done = true,
                Ok(_) => {}
            }
            if r.consumed_out > 0 {
                return Ok(r.consumed_out);
            }
        }
        Ok(0)
    }
}

/// A byte-at-a-time decoder: fed one input byte (and whether more follow) at a time.
trait ByteCode {
    /// Decodes `b`; `next` peeks at the byte after it. `Ok(false)` ends the data.
    fn feed(&mut self, b: u8, next: Option<u8>, out: &mut Vec<u8>) -> io::Result<bool>;
    /// Called once when the input ends before the code ended the data.
    fn finish(&mut self, _out: &mut Vec<u8>) -> io::Result<()> {
        Ok(())
    }
}

/// Drives a [`ByteCode`] over a reader, holding at most one step's output.
struct Coded<R, C> {
    inner: BufReader<R>,
    code: C,
    pending: Vec<u8>,
    at: usize,
    done: bool,
}

impl<R: Read, C: ByteCode> Coded<R, C> {
    fn new(inner: R, code: C) -> Self {
        Coded {
            inner: BufReader::with_capacity(16 * 1024, inner),
            code,
            pending: Vec::new(),
            at: 0,
            done: false,
        }
    }

    fn next_byte(&mut self) -> io::Result<Option<u8>> {
        let b = self.inner.fill_buf()?.first().copied();
        if b.is_some() {
            self.inner.consume(1);
        }
        Ok(b)
    }
}

impl<R: Read, C: ByteCode> Read for Coded<R, C> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // every round consumes one input byte, so the loop ends with the input
        while self.at == self.pending.len() && !self.done {
            self.pending.clear();
            self.at = 0;
            match self.next_byte()? {
                None => {
                    self.done = true;
                    self.code.finish(&mut self.pending)?;
                }
                Some(b) => {
                    let next = self.inner.fill_buf()?.first().copied();
                    if !self.code.feed(b, next, &mut self.pending)? {
                        self.done = true;
                    }
                }
            }
        }
        let n = buf.len().min(self.pending.len() - self.at);
        buf[..n].copy_from_slice(&self.pending[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// clamd's `filter_asciihexdecode`: pairs of hex digits, spaces skipped, `>` ends the data;
/// a pair that is not hex fails the filter unless fewer than 4 bytes follow its start (then
/// its first byte is skipped). A lone last byte is ignored.
#[derive(Default)]
struct AsciiHex {
    /// The first byte of a pair, waiting for the second.
    first: Option<u8>,
    /// Bytes fed since `first` could not start a pair, kept to apply the "last 4" rule.
    tail: Vec<u8>,
}

fn hex_value(b: u8) -> Option<u8> {
    char::from(b).to_digit(16).map(|v| v as u8)
}

impl AsciiHex {
    /// Runs clamd's loop over `tail` (bytes known to be within the last few of the input
    /// when `at_end`), returning false at `>`.
    fn drain_tail(&mut self, out: &mut Vec<u8>, at_end: bool) -> io::Result<bool> {
        let t = std::mem::take(&mut self.tail);
        let mut i = 0;
        while i + 1 < t.len() {
            let (a, b) = (t[i], t[i + 1]);
            if a == b' ' {
                i += 1;
                continue;
            }
            if a == b'>' {
                return Ok(false);
            }
            match (hex_value(a), hex_value(b)) {
                (Some(h), Some(l)) => {
                    out.push((h << 4) | l);
                    i += 2;
                }
                _ if at_end && t.len() - i < 4 => i += 1,
                _ => return Err(bad("bad ASCIIHex pair")),
            }
        }
        Ok(true)
    }
}

impl ByteCode for AsciiHex {
    fn feed(&mut self, b: u8, _next: Option<u8>, out: &mut Vec<u8>) -> io::Result<bool> {
        if !self.tail.is_empty() {
            // a bad pair met earlier: it is fine only if the input ends within 4 bytes
            self.tail.push(b);
            if self.tail.len() >= 4 {
                return Err(bad("bad ASCIIHex pair"));
            }
            return Ok(true);
        }
        match self.first.take() {
            None if b == b' ' => Ok(true),
            None if b == b'>' => Ok(false),
            None => {
                self.first = Some(b);
                Ok(true)
            }
            Some(a) => match (hex_value(a), hex_value(b)) {
                (Some(h), Some(l)) => {
                    out.push((h << 4) | l);
                    Ok(true)
                }
                _ => {
                    self.tail = vec![a, b];
                    Ok(true)
                }
            },
        }
    }

    fn finish(&mut self, out: &mut Vec<u8>) -> io::Result<()> {
        self.first = None;
        self.drain_tail(out, true).map(|_| ())
    }
}

/// clamd's `filter_ascii85decode`: groups of five `!`..`u`, `z` for four zeros, white space
/// skipped, `~>` ends the data (flushing a partial group); a partial group without `~>` is
/// dropped; any other byte, a `z` inside a group or a 1-digit last group fails the filter.
#[derive(Default)]
struct Ascii85 {
    sum: u64,
    quintet: u32,
}

impl ByteCode for Ascii85 {
    fn feed(&mut self, b: u8, next: Option<u8>, out: &mut Vec<u8>) -> io::Result<bool> {
        match b {
            b'~' if next == Some(b'>') => {
                let q = self.quintet;
                if q == 1 {
                    return Err(bad("ASCII85 last group of 1"));
                }
                if q > 1 {
                    let mut sum = self.sum;
                    for _ in q..5 {
                        sum *= 85;
                    }
                    sum += 0xFF_FFFF >> ((q - 2) * 8);
                    for i in 0..q - 1 {
                        out.push((sum >> (24 - 8 * i)) as u8);
                    }
                }
                Ok(false)
            }
            b'!'..=b'u' => {
                self.sum = self.sum * 85 + u64::from(b - b'!');
                self.quintet += 1;
                if self.quintet == 5 {
                    let s = self.sum;
                    out.extend_from_slice(&[
                        (s >> 24) as u8,
                        (s >> 16) as u8,
                        (s >> 8) as u8,
                        s as u8,
                    ]);
                    self.sum = 0;
                    self.quintet = 0;
                }
                Ok(true)
            }
            b'z' if self.quintet == 0 => {
                out.extend_from_slice(&[0; 4]);
                Ok(true)
            }
            b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r' => Ok(true),
            _ => Err(bad("bad ASCII85 byte")),
        }
    }
}

/// clamd's `filter_rldecode`: a length byte below 128 copies that many plus one bytes, above
/// 128 repeats the next byte 257 minus it times, 128 ends the data; a run cut short by the
/// end of the input fails the filter.
#[derive(Default)]
struct RunLength {
    /// Literal bytes still to copy.
    copy: usize,
    /// A repeat count waiting for its byte.
    repeat: Option<usize>,
}

impl ByteCode for RunLength {
    fn feed(&mut self, b: u8, _next: Option<u8>, out: &mut Vec<u8>) -> io::Result<bool> {
        if self.copy > 0 {
            self.copy -= 1;
            out.push(b);
        } else if let Some(n) = self.repeat.take() {
            out.extend(std::iter::repeat_n(b, n));
        } else {
            match b {
                0..=127 => self.copy = usize::from(b) + 1,
                128 => return Ok(false),
                _ => self.repeat = Some(257 - usize::from(b)),
            }
        }
        Ok(true)
    }

    fn finish(&mut self, _out: &mut Vec<u8>) -> io::Result<()> {
        if self.copy > 0 || self.repeat.is_some() {
            return Err(bad("RunLength run cut short"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn decode(f: Filter, data: &[u8], early: bool) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        decoder(f, Box::new(data), early).read_to_end(&mut out)?;
        Ok(out)
    }

    /// CLAMD-DET-7: the chain names clamd knows, in order; other names are left out.
    #[test]
    fn filter_names() {
        assert_eq!(
            filters(b"<< /Filter [/AHx /FlateDecode /Foo /DCTDecode] >>"),
            [Filter::AsciiHex, Filter::Flate, Filter::Jpeg]
        );
        assert_eq!(filters(b"<</Filter/LZW/Length 4>>"), [Filter::Lzw]);
        assert_eq!(
            filters(b"<</Filter [/A85/RL /Crypt]>>"),
            [Filter::Ascii85, Filter::RunLength, Filter::Stop]
        );
        assert!(early_change(b"<< /Filter /LZW >>"));
        assert!(!early_change(b"<< /DecodeParms <</EarlyChange 0>> >>"));
        assert!(!early_change(b"<< /DecodeParms [<</EarlyChange 0>>] >>"));
        assert!(!early_change(b"<< /DecodeParms\n<</EarlyChange 0 >> >>"));
        assert!(early_change(b"<< /DP <</EarlyChange 2>> >>"));
        // clamd loses a dictionary with a space after `<<`, and finds the next one
        assert!(early_change(b"<< /DecodeParms << /EarlyChange 0 >> >>"));
        assert!(!early_change(
            b"<< /DecodeParms 5 0 R /X <</EarlyChange 0>> >>"
        ));
        // without /DecodeParms the key does not count
        assert!(early_change(b"<< /EarlyChange 0 >>"));
    }

    /// CLAMD-DET-7: which streams clamd dumps at all.
    #[test]
    fn dump_rule() {
        let lzw = [Filter::Lzw];
        assert!(dumped(b"<< /Length 5 >>", &[], false));
        assert!(!dumped(b"<< /Filter /LZW /Length 5 >>", &lzw, false));
        assert!(!dumped(b"<< /Filter /Foo >>", &[], false));
        assert!(dumped(
            b"<< /Type /EmbeddedFile /Filter /LZW >>",
            &lzw,
            false
        ));
        assert!(!dumped(
            b"<< /Filter /LZW /Type /EmbeddedFile >>",
            &lzw,
            false
        ));
        assert!(dumped(
            b"<< /Filter /LZW /Length 3 /Type /EmbeddedFile >>",
            &lzw,
            false
        ));
        assert!(dumped(b"<< /Filter /LZW >>", &lzw, true));
        assert!(dumped(
            b"<< /Filter [/LZW /Fl] >>",
            &[Filter::Lzw, Filter::Flate],
            false
        ));
        assert!(!dumped(b"<< /Subtype /Image /Length 3 >>", &[], false));
        assert!(dumped(
            b"<< /Subtype /Image /Filter /DCT >>",
            &[Filter::Jpeg],
            false
        ));
    }

    /// CLAMD-DET-7: clamd's ASCII85 corner cases.
    #[test]
    fn ascii85_corners() {
        assert_eq!(decode(Filter::Ascii85, b"z~>", true).unwrap(), [0; 4]);
        // a partial group without `~>` is dropped
        assert_eq!(decode(Filter::Ascii85, b"87cUR87", true).unwrap(), b"Hell");
        // a 1-digit last group, a z inside a group, a stray byte: the filter fails
        assert!(decode(Filter::Ascii85, b"87cUR8~>", true).is_err());
        assert!(decode(Filter::Ascii85, b"87z~>", true).is_err());
        assert!(decode(Filter::Ascii85, b"87cUR{", true).is_err());
        assert!(decode(Filter::Ascii85, b"87cUR~", true).is_err());
    }

    /// CLAMD-DET-7: clamd's ASCIIHex: only spaces are skipped; a bad pair within the last 4
    /// bytes is skipped, earlier it fails the filter.
    #[test]
    fn ascii_hex_corners() {
        assert_eq!(decode(Filter::AsciiHex, b"68 69>", true).unwrap(), b"hi");
        assert_eq!(decode(Filter::AsciiHex, b"6869\r\n", true).unwrap(), b"hi");
        assert_eq!(decode(Filter::AsciiHex, b"686", true).unwrap(), b"h");
        assert!(decode(Filter::AsciiHex, b"68\n6969>", true).is_err());
        assert!(decode(Filter::AsciiHex, b"68zz6969", true).is_err());
    }

    /// CLAMD-DET-7: `/EarlyChange` decides the code widths past 253 codes.
    #[test]
    fn lzw_early_change_matters() {
        let data: Vec<u8> = (0..600u32).map(|i| (i * 7 % 251) as u8).collect();
        for early in [true, false] {
            let lzw = fixtures::documents::lzw(&data, early);
            assert_eq!(decode(Filter::Lzw, &lzw, early).unwrap(), data);
            assert_ne!(decode(Filter::Lzw, &lzw, !early).ok(), Some(data.clone()));
        }
    }

    /// Bounded work: probes read at most what is left of the PDF's budget, use it up, and
    /// take a filter as good once it is spent.
    #[test]
    fn probes_spend_a_budget() {
        let a85 = fixtures::documents::ascii85(&[7u8; 4000], None);
        let open = || Ok(decoder(Filter::Ascii85, Box::new(&a85[..]), true));
        let mut budget = 10_000;
        assert!(matches!(
            probe(Filter::Ascii85, open(), &mut budget),
            Step::Good
        ));
        assert_eq!(budget, 6_000);
        let bad = b"87cUR{".to_vec();
        let open_bad = || Ok(decoder(Filter::Ascii85, Box::new(&bad[..]), true));
        assert!(matches!(
            probe(Filter::Ascii85, open_bad(), &mut budget),
            Step::Fail
        ));
        let mut spent = 0;
        assert!(matches!(
            probe(Filter::Ascii85, open_bad(), &mut spent),
            Step::Good
        ));
    }

    /// CLAMD-DET-7: the chain loop keeps the last good output, or the raw stream.
    #[test]
    fn chain_outcomes() {
        use Step::*;
        let steps = |s: Vec<Step>| {
            let mut s = s.into_iter();
            move |_| s.next().unwrap_or(Fail)
        };
        let c = [Filter::Ascii85, Filter::Flate, Filter::Lzw];
        assert_eq!(
            chain_outcome(&c, steps(vec![Good, Good, Good])),
            Outcome::Decoded(3)
        );
        assert_eq!(
            chain_outcome(&c, steps(vec![Good, Fail])),
            Outcome::Decoded(1)
        );
        assert_eq!(chain_outcome(&c, steps(vec![Fail])), Outcome::Raw);
        assert_eq!(chain_outcome(&c, steps(vec![Empty])), Outcome::Raw);
        assert_eq!(chain_outcome(&c, steps(vec![Good, Empty])), Outcome::Empty);
        let stop = [Filter::Flate, Filter::Stop, Filter::Flate];
        assert_eq!(
            chain_outcome(&stop, steps(vec![Good, Good])),
            Outcome::Decoded(1)
        );
        assert_eq!(chain_outcome(&[], steps(vec![])), Outcome::Raw);
    }

    proptest! {
        /// CLAMD-DET-7: every coding round-trips through its decoder.
        #[test]
        fn codings_round_trip(data in proptest::collection::vec(any::<u8>(), 0..2000), zeros in 0usize..12) {
            let mut data = data;
            data.extend(std::iter::repeat_n(0u8, zeros));
            let a85 = fixtures::documents::ascii85(&data, Some(64));
            prop_assert_eq!(decode(Filter::Ascii85, &a85, true).unwrap(), data.clone());
            let hex = fixtures::documents::ascii_hex(&data, None);
            prop_assert_eq!(decode(Filter::AsciiHex, &hex, true).unwrap(), data.clone());
            let rl = fixtures::documents::run_length(&data);
            prop_assert_eq!(decode(Filter::RunLength, &rl, true).unwrap(), data.clone());
            for early in [true, false] {
                let lzw = fixtures::documents::lzw(&data, early);
                prop_assert_eq!(decode(Filter::Lzw, &lzw, early).unwrap(), data.clone());
            }
        }

        /// Hostile input: no decoder panics, and each output is bounded by its input
        /// (ASCII85 4 bytes per input byte, ASCIIHex half, RunLength 128 times, LZW by the
        /// 4096-entry table).
        #[test]
        fn decoders_are_bounded(data in proptest::collection::vec(any::<u8>(), 0..3000)) {
            let n = data.len();
            for (f, bound) in [
                (Filter::Ascii85, 4 * n + 4),
                (Filter::AsciiHex, n / 2 + 1),
                (Filter::RunLength, 128 * n),
                (Filter::Lzw, 4096 * n + 1),
                (Filter::Flate, 1032 * n + 1),
            ] {
                if let Ok(out) = decode(f, &data, true) {
                    prop_assert!(out.len() <= bound, "{:?}: {} > {}", f, out.len(), bound);
                }
            }
        }
    }
}
