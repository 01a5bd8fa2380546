//! PDF streams, as clamd 1.4.6's `cli_pdf` extracts them (CLAMD-DET-7): every `stream` of
//! every object (embedded files, page contents, object streams...) is a member named
//! `N G obj`, decoded through its `/Filter` chain (`/FlateDecode` and `/ASCIIHexDecode`;
//! decoding stops at the first other filter, and a corrupt deflate stream ends where it
//! breaks, as clamd keeps what it inflated). The data is `/Length` bytes when clamd reads
//! that as a direct number (see [`clamd_length`]) that fits before `endstream`, otherwise
//! everything up to `endstream`, the end-of-line before it included (as clamd 1.4.6 does).
//!
//! Two passes over the spool, both streaming: the first finds `stream` / `endstream`
//! keywords in a sliding window (keeping a small record per stream), the second hands each
//! stream to the walk as a bounded, decoded reader. Nothing is held whole in memory.

use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};

use crate::spool::SpoolReader;
use crate::tree::{planned, read_up_to, EachMember, MemberSource, Planned};

/// Most streams taken from one PDF.
pub(crate) const MAX_STREAMS: usize = 10_000;
/// Bytes before a `stream` keyword searched for its object's dictionary.
const DICT_WINDOW: usize = 4096;
const CHUNK: usize = 64 * 1024;
/// Filters kept per stream.
const MAX_FILTERS: usize = 8;

/// `%PDF-` within the first 1024 bytes (clamd's file type check allows leading junk); here
/// within the sniffed head.
pub(crate) fn is_pdf(head: &[u8]) -> bool {
    memchr::memmem::find(head, b"%PDF-").is_some()
}

pub(crate) fn open(spool: SpoolReader) -> Option<Box<dyn MemberSource>> {
    planned(spool, index)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Filter {
    Flate,
    AsciiHex,
    /// Any filter not decoded here: decoding stops before it.
    Other,
}

#[derive(Debug)]
struct StreamRec {
    name: Vec<u8>,
    start: u64,
    length: Option<u64>,
    filters: Vec<Filter>,
    /// Where `endstream` starts, once found.
    end: Option<u64>,
}

/// Pass one: every `stream` keyword with its dictionary, and the `endstream` after it.
fn index(spool: &mut SpoolReader) -> io::Result<Vec<StreamRec>> {
    let file_len = spool.seek(SeekFrom::End(0))?;
    spool.seek(SeekFrom::Start(0))?;
    let mut streams: Vec<StreamRec> = Vec::new();
    // window = [tail of the previous chunks | new chunk], `base` = offset of window[0]
    let mut window: Vec<u8> = Vec::with_capacity(DICT_WINDOW + CHUNK);
    let mut base: u64 = 0;
    // keyword positions below this (absolute) were handled already
    let mut done_to: u64 = 0;
    let mut chunk = vec![0u8; CHUNK];
    loop {
        let n = read_up_to(spool, &mut chunk)?;
        let at_eof = n < CHUNK;
        window.extend_from_slice(&chunk[..n]);
        for i in memchr::memmem::find_iter(&window, b"stream") {
            let abs = base + i as u64;
            if abs < done_to {
                continue;
            }
            // the byte after the keyword must be in the window to decide
            if i + 8 > window.len() && !at_eof {
                break;
            }
            done_to = abs + 1;
            if i >= 3 && &window[i - 3..i] == b"end" {
                if let Some(open) = streams.last_mut().filter(|s| s.end.is_none()) {
                    if abs - 3 >= open.start {
                        open.end = Some(abs - 3);
                    }
                }
                continue;
            }
            let data_at = match window.get(i + 6..) {
                Some([b'\r', b'\n', ..]) => i + 8,
                Some([b'\n', ..]) | Some([b'\r', ..]) => i + 7,
                _ => continue,
            };
            if streams.len() >= MAX_STREAMS {
                break;
            }
            let dict_from = i.saturating_sub(DICT_WINDOW);
            streams.push(stream_record(&window[dict_from..i], base + data_at as u64));
        }
        if at_eof {
            break;
        }
        // keep the last DICT_WINDOW bytes for the next round's look-backs
        let keep = window.len().min(DICT_WINDOW);
        let drop = window.len() - keep;
        window.drain(..drop);
        base += drop as u64;
    }
    for s in &mut streams {
        s.end.get_or_insert(file_len);
    }
    Ok(streams)
}

/// What the text before a `stream` keyword says: the object's name (`N G obj`), `/Length`
/// and `/Filter` of its dictionary.
fn stream_record(before: &[u8], start: u64) -> StreamRec {
    let obj = memchr::memmem::rfind(before, b"obj");
    let dict = obj.map_or(before, |o| &before[o + 3..]);
    let name = obj.map_or_else(|| b"stream".to_vec(), |o| object_name(&before[..o]));
    StreamRec {
        name,
        start,
        length: clamd_length(dict),
        filters: filters(dict),
        end: None,
    }
}

/// `N G obj` from the text before `obj`.
fn object_name(before: &[u8]) -> Vec<u8> {
    let text = &before[before.len().saturating_sub(32)..];
    let words: Vec<&[u8]> = text
        .split(|b| b.is_ascii_whitespace())
        .filter(|w| !w.is_empty())
        .collect();
    match words.as_slice() {
        [.., n, g] if n.iter().all(u8::is_ascii_digit) && g.iter().all(u8::is_ascii_digit) => {
            let n = n.rsplit(|b| !b.is_ascii_digit()).next().unwrap_or(n);
            [n, b" ", g, b" obj"].concat()
        }
        _ => b"obj".to_vec(),
    }
}

/// `/Length` as clamd's `find_length` reads it: a number; when a space follows it, the next
/// token must be a number too (else the length is unknown), and `N G R` is an indirect
/// length (not resolved here: unknown). Unknown means "up to `endstream`".
fn clamd_length(dict: &[u8]) -> Option<u64> {
    let at = memchr::memmem::rfind(dict, b"/Length")? + 7;
    let rest = &dict[at..];
    // `/Length1` etc. are other keys
    if rest.first().is_some_and(u8::is_ascii_alphanumeric) {
        return None;
    }
    let rest = rest.trim_ascii_start();
    let digits = |t: &[u8]| t.iter().take_while(|b| b.is_ascii_digit()).count();
    let n = digits(rest);
    let value: u64 = std::str::from_utf8(&rest[..n]).ok()?.parse().ok()?;
    let after = &rest[n..];
    if after.first() == Some(&b' ') {
        let g = after[1..].trim_ascii_start();
        let g = g.strip_prefix(b"+").unwrap_or(g);
        let gn = digits(g);
        if gn == 0 || g.len() - gn < 2 || g[gn..].starts_with(b" R") {
            return None;
        }
    }
    Some(value)
}

/// The `/Filter` chain: one name or an array of names.
fn filters(dict: &[u8]) -> Vec<Filter> {
    let Some(at) = memchr::memmem::find(dict, b"/Filter") else {
        return Vec::new();
    };
    let rest = &dict[at + 7..];
    let rest = rest.trim_ascii_start();
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
        .take(MAX_FILTERS)
        .map(|w| match w {
            b"FlateDecode" | b"Fl" => Filter::Flate,
            b"ASCIIHexDecode" | b"AHx" => Filter::AsciiHex,
            _ => Filter::Other,
        })
        .collect()
}

/// ASCIIHexDecode: hex pairs, white space ignored, `>` ends the data.
struct AsciiHex<R> {
    inner: R,
    done: bool,
}

impl<R: BufRead> Read for AsciiHex<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut n = 0;
        let mut high: Option<u8> = None;
        while n < buf.len() && !self.done {
            let mut b = [0u8; 1];
            if self.inner.read(&mut b)? == 0 {
                self.done = true;
                break;
            }
            let v = match b[0] {
                b'>' => {
                    self.done = true;
                    break;
                }
                c => match char::from(c).to_digit(16) {
                    Some(v) => v as u8,
                    None => continue,
                },
            };
            match high.take() {
                Some(h) => {
                    buf[n] = (h << 4) | v;
                    n += 1;
                }
                None => high = Some(v),
            }
        }
        // an odd digit at the end counts as followed by 0
        if let Some(h) = high {
            if n < buf.len() {
                buf[n] = h << 4;
                n += 1;
            }
        }
        Ok(n)
    }
}

/// A PDF and its streams, in file order.
impl MemberSource for Planned<Vec<StreamRec>> {
    fn for_each_member(mut self: Box<Self>, each: &mut EachMember<'_>) {
        for s in std::mem::take(&mut self.plan) {
            let Some(end) = s.end else { continue };
            let len = match s.length {
                Some(l) if s.start.saturating_add(l) <= end => l,
                // as clamd: everything up to `endstream`, its end-of-line included
                _ => end.saturating_sub(s.start),
            };
            if self.spool.seek(SeekFrom::Start(s.start)).is_err() {
                return;
            }
            let raw = BufReader::with_capacity(16 * 1024, (&mut self.spool).take(len));
            let decodable: Vec<Filter> = s
                .filters
                .iter()
                .copied()
                .take_while(|f| *f != Filter::Other)
                .collect();
            let mut reader: Box<dyn Read + '_> = Box::new(raw);
            for f in &decodable {
                reader = match f {
                    Filter::Flate => Box::new(super::ole2::UntilError(
                        flate2::read::ZlibDecoder::new(reader),
                    )),
                    Filter::AsciiHex => Box::new(AsciiHex {
                        inner: BufReader::new(reader),
                        done: false,
                    }),
                    Filter::Other => reader,
                };
            }
            let declared = decodable.is_empty().then_some(len);
            if !each(s.name, &mut reader, declared) {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(pdf: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
        crate::tree::unpack_named(pdf, open)
    }

    #[test]
    fn raw_hex_and_indirect_length_streams() {
        let pdf = b"%PDF-1.4\n1 0 obj\n<</Length 5>>\nstream\nhello\nendstream\nendobj\n\
2 0 obj\n<< /Length 5 >>\nstream\nhello\nendstream\nendobj\n\
12 0 obj\n<< /Filter /AHx /Length 9 0 R >>\nstream\r\n68 69>\r\nendstream\nendobj\n%%EOF\n";
        assert_eq!(
            members(pdf),
            crate::tree::owned(&[
                (b"1 0 obj", b"hello"),
                (b"2 0 obj", b"hello\n"),
                (b"12 0 obj", b"hi")
            ])
        );
    }

    #[test]
    fn keywords_across_the_read_window_are_found() {
        // `stream` at every offset around the first 64 KiB boundary, `endstream` too
        for shift in 0..10 {
            let obj = b"7 0 obj\n<</Length 2>>\n";
            let mut pdf = b"%PDF-1.4\n".to_vec();
            pdf.resize(CHUNK - 3 - obj.len() + shift, b' ');
            pdf.extend_from_slice(obj);
            pdf.extend_from_slice(b"stream\nhi\nendstream\nendobj\n");
            assert_eq!(
                members(&pdf),
                [(b"7 0 obj".to_vec(), b"hi".to_vec())],
                "shift {shift}"
            );
        }
    }

    #[test]
    fn dictionary_values() {
        assert_eq!(clamd_length(b"<< /Length 12\n/Filter /Fl >>"), Some(12));
        assert_eq!(clamd_length(b"<</Length 12/Filter /Fl >>"), Some(12));
        assert_eq!(clamd_length(b"<< /Length 12 /Filter /Fl >>"), None);
        assert_eq!(clamd_length(b"<< /Length 12 7 >>"), Some(12));
        assert_eq!(clamd_length(b"<< /Length 3 0 R >>"), None);
        assert_eq!(clamd_length(b"<< /Length1 3 >>"), None);
        assert_eq!(
            filters(b"<< /Filter [/AHx /FlateDecode /DCTDecode] >>"),
            [Filter::AsciiHex, Filter::Flate, Filter::Other]
        );
        assert_eq!(
            filters(b"<</Filter/FlateDecode/Length 4>>"),
            [Filter::Flate]
        );
    }
}
