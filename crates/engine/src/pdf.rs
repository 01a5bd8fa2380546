//! PDF streams, as clamd 1.4.6's `cli_pdf` extracts them (CLAMD-DET-7): every `stream` of
//! every object (embedded files, page contents, object streams...) is a member named
//! `N G obj`, decoded through its `/Filter` chain as far as clamd gets (see
//! [`super::pdf_filters`]). How many bytes of the stream are decoded follows clamd's
//! `pdf_extract_obj` (see [`data_len`]): `/Length` (direct, or an indirect `N G R` resolved
//! to that object's number, as `find_length` does) counts only when it is within 2 bytes of
//! the distance to `endstream`; otherwise everything up to `endstream` is taken.
//!
//! Objects inside object streams count too (see [`objstm`]): clamd finds them when it
//! decodes the object stream, after every object of the file itself, so they answer the
//! indirect `/Length`s of later streams, and the ones it dumps are scanned after all streams.
//!
//! Two passes over the spool, both streaming: the first finds `obj`, `stream` and
//! `endstream` keywords in a sliding window (keeping a small record per stream and per
//! object), the second hands each stream to the walk as a bounded, decoded reader. Nothing
//! is held whole in memory.

use std::collections::{HashMap, HashSet};
use std::io::{self, BufReader, Read, Seek, SeekFrom};

use super::pdf_filters::{self, next_object, Filter, Outcome};
use crate::spool::SpoolReader;
use crate::tree::{planned, read_up_to, EachMember, MemberSource, Planned};

#[path = "pdf_objstm.rs"]
mod objstm;

/// Most streams taken from one PDF.
pub(crate) const MAX_STREAMS: usize = 10_000;
/// Most objects remembered for indirect `/Length` values.
const MAX_OBJECTS: usize = 100_000;
/// Bytes before a `stream` keyword searched for its object's dictionary.
const DICT_WINDOW: usize = 4096;
/// Bytes after an `obj` keyword searched for its value.
const VALUE_WINDOW: usize = 256;
const CHUNK: usize = 64 * 1024;
/// Most decoded bytes of one object stream parsed for its objects (clamd holds it whole;
/// a larger one is scanned but not parsed here).
const OBJSTM_CAP: usize = 8 << 20;
/// Most bytes of object-stream objects held for scanning after the streams, per PDF.
const OBJSTM_DUMP_BUDGET: usize = 16 << 20;
/// Where objects found in object streams sit in the object order: after every object of the
/// file itself, as clamd appends them to its list.
const OBJSTM_POS: u64 = 1 << 62;

/// `%PDF-` within the first 1024 bytes (clamd's file type check allows leading junk); here
/// within the sniffed head.
pub(crate) fn is_pdf(head: &[u8]) -> bool {
    memchr::memmem::find(head, b"%PDF-").is_some()
}

pub(crate) fn open(spool: SpoolReader) -> Option<Box<dyn MemberSource>> {
    planned(spool, index)
}

/// `/Length` as clamd's `find_length` reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Length {
    /// Missing or unreadable: clamd's 0.
    Zero,
    Direct(u64),
    /// `N G R`, as clamd's object key `(N << 8) | (G & 0xff)` (32 bits).
    Indirect(u32),
}

#[derive(Debug)]
struct StreamRec {
    name: Vec<u8>,
    start: u64,
    /// Just after the object's `obj` keyword (clamd's `obj->start`), when seen.
    obj_start: Option<u64>,
    length: Length,
    filters: Vec<Filter>,
    early_change: bool,
    /// The object's key, when its `N G obj` was seen.
    key: Option<u32>,
    /// Whether clamd dumps it (see [`pdf_filters::dumped`]), when no page names it as its
    /// `/Contents`, and when one does.
    dumped: [bool; 2],
    /// Where `endstream` starts, once found.
    end: Option<u64>,
    /// The object stream keys, when clamd reads it as one.
    objstm: Option<objstm::Header>,
}

#[derive(Debug, Default)]
struct Plan {
    streams: Vec<StreamRec>,
    /// Each object key's objects (where each starts, the number it holds), in file order.
    objects: HashMap<u32, Vec<(u64, u64)>>,
    objects_seen: usize,
    /// Keys of the objects named by `/Contents N G R`.
    contents: HashSet<u32>,
    /// Objects found in object streams so far.
    objstm_objects: u64,
}

/// Pass one: every `stream` keyword with its dictionary and the `endstream` after it, and
/// every `N G obj` with the number it starts with.
fn index(spool: &mut SpoolReader) -> io::Result<Plan> {
    let file_len = spool.seek(SeekFrom::End(0))?;
    spool.seek(SeekFrom::Start(0))?;
    let mut plan = Plan::default();
    // window = [tail of the previous chunks | new chunk], `base` = offset of window[0]
    let mut window: Vec<u8> = Vec::with_capacity(DICT_WINDOW + CHUNK);
    let mut base: u64 = 0;
    // keyword positions below these (absolute) were handled already
    let mut streams_done: u64 = 0;
    let mut objects_done: u64 = 0;
    let mut contents_done: u64 = 0;
    let mut chunk = vec![0u8; CHUNK];
    loop {
        let n = read_up_to(spool, &mut chunk)?;
        let at_eof = n < CHUNK;
        window.extend_from_slice(&chunk[..n]);
        find_objects(&window, base, at_eof, &mut objects_done, &mut plan);
        find_contents(
            &window,
            base,
            at_eof,
            &mut contents_done,
            &mut plan.contents,
        );
        let streams = &mut plan.streams;
        for i in memchr::memmem::find_iter(&window, b"stream") {
            let abs = base + i as u64;
            if abs < streams_done {
                continue;
            }
            // the byte after the keyword must be in the window to decide
            if i + 8 > window.len() && !at_eof {
                break;
            }
            streams_done = abs + 1;
            if i >= 3 && &window[i - 3..i] == b"end" {
                if let Some(open) = streams.last_mut().filter(|s| s.end.is_none()) {
                    if abs - 3 >= open.start {
                        open.end = Some(abs - 3);
                    }
                }
                continue;
            }
            // as clamd's find_stream_bounds: CRLF or LF is skipped, a bare CR is data
            let data_at = match window.get(i + 6..) {
                Some([b'\r', b'\n', ..]) => i + 8,
                Some([b'\n', ..]) => i + 7,
                Some([b'\r', ..]) => i + 6,
                _ => continue,
            };
            if streams.len() >= MAX_STREAMS {
                break;
            }
            let dict_from = i.saturating_sub(DICT_WINDOW);
            streams.push(stream_record(
                &window[dict_from..data_at],
                base + dict_from as u64,
                base + data_at as u64,
            ));
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
    for s in &mut plan.streams {
        s.end.get_or_insert(file_len);
    }
    Ok(plan)
}

/// Positions of `needle` in `window` (which starts at file offset `base`) not handled in an
/// earlier round (`done`), stopping before one whose next [`VALUE_WINDOW`] bytes are not in
/// the window yet (the next round sees it again).
fn new_hits<'a>(
    window: &'a [u8],
    needle: &'a [u8],
    base: u64,
    at_eof: bool,
    done: &'a mut u64,
) -> impl Iterator<Item = usize> + 'a {
    let from = *done;
    memchr::memmem::find_iter(window, needle)
        .filter(move |&i| base + i as u64 >= from)
        .take_while(move |&i| at_eof || i + needle.len() + VALUE_WINDOW <= window.len())
        .inspect(move |&i| *done = base + i as u64 + 1)
}

/// clamd's `pdf_findobj` on every `obj` keyword of `window` not handled yet: white space
/// before it, `N G` before that; the value is the number its content starts with.
fn find_objects(window: &[u8], base: u64, at_eof: bool, done: &mut u64, plan: &mut Plan) {
    for i in new_hits(window, b"obj", base, at_eof, done) {
        if plan.objects_seen >= MAX_OBJECTS {
            break;
        }
        let abs = base + i as u64;
        if i == 0 || !matches!(window[i - 1], 0 | 9 | 10 | 12 | 13 | 32) {
            continue;
        }
        let Some((id, gen)) = object_id(&window[i.saturating_sub(40)..i]) else {
            continue;
        };
        let after = &window[i + 3..window.len().min(i + 3 + VALUE_WINDOW)];
        let value = next_object(after)
            .and_then(|at| strtol(&after[at..]))
            .and_then(|(v, _)| u64::try_from(v).ok())
            .unwrap_or(0);
        plan.objects_seen += 1;
        plan.objects
            .entry(object_key(id, gen))
            .or_default()
            .push((abs + 3, value));
    }
}

/// Every `/Contents N G R` of `window` not handled yet (clamd moves the "page contents"
/// mark to the object it names, which makes that object's stream dumped).
fn find_contents(window: &[u8], base: u64, at_eof: bool, done: &mut u64, out: &mut HashSet<u32>) {
    for i in new_hits(window, b"/Contents", base, at_eof, done) {
        if out.len() >= MAX_OBJECTS {
            break;
        }
        let after = &window[i + 9..window.len().min(i + 9 + VALUE_WINDOW)];
        let mut words = after
            .split(|b| b.is_ascii_whitespace())
            .filter(|w| !w.is_empty());
        let num = |w: Option<&[u8]>| -> Option<u64> { std::str::from_utf8(w?).ok()?.parse().ok() };
        let (Some(n), Some(g)) = (num(words.next()), num(words.next())) else {
            continue;
        };
        if words.next().is_some_and(|w| w.starts_with(b"R")) {
            out.insert(object_key(n, g));
        }
    }
}

/// clamd's 32-bit object key: `(id << 8) | (gen & 0xff)`.
fn object_key(id: u64, gen: u64) -> u32 {
    ((id << 8) | (gen & 0xff)) as u32
}

/// `N G` at the end of `before` (the text before `obj`, white space allowed between).
fn object_id(before: &[u8]) -> Option<(u64, u64)> {
    let mut words = before
        .rsplit(|b| b.is_ascii_whitespace())
        .filter(|w| !w.is_empty());
    let g = words.next()?;
    let n = words.next()?;
    let n = n.rsplit(|b| !b.is_ascii_digit()).next().unwrap_or(n);
    let num = |t: &[u8]| -> Option<u64> {
        (!t.is_empty() && t.iter().all(u8::is_ascii_digit))
            .then(|| std::str::from_utf8(t).ok()?.parse().ok())?
    };
    Some((num(n)?, num(g)?))
}

/// What the text before a stream's data says: the object's name (`N G obj`), where it
/// starts, its `/Length`, `/Filter` chain and LZW `/EarlyChange`.
fn stream_record(before: &[u8], before_at: u64, start: u64) -> StreamRec {
    let obj = memchr::memmem::rfind(before, b"obj");
    let dict = obj.map_or(before, |o| &before[o + 3..]);
    let id = obj.and_then(|o| object_id(&before[o.saturating_sub(40)..o]));
    let name = match (id, obj) {
        (Some((n, g)), _) => format!("{n} {g} obj").into_bytes(),
        (None, Some(_)) => b"obj".to_vec(),
        (None, None) => b"stream".to_vec(),
    };
    let filters = pdf_filters::filters(dict);
    StreamRec {
        name,
        start,
        obj_start: obj.map(|o| before_at + o as u64 + 3),
        length: clamd_length(dict),
        early_change: pdf_filters::early_change(dict),
        key: id.map(|(n, g)| object_key(n, g)),
        dumped: [false, true].map(|c| pdf_filters::dumped(dict, &filters, c)),
        filters,
        end: None,
        objstm: objstm::header(dict),
    }
}

/// C's `strtol` (base 10) over `t`: leading white space, a sign, digits. The value and the
/// bytes used; `None` without digits.
pub(crate) fn strtol(t: &[u8]) -> Option<(i64, usize)> {
    let ws = t
        .iter()
        .take_while(|b| matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r'))
        .count();
    let mut at = ws;
    let neg = match t.get(at) {
        Some(b'-') => {
            at += 1;
            true
        }
        Some(b'+') => {
            at += 1;
            false
        }
        _ => false,
    };
    let digits = t[at.min(t.len())..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    if digits == 0 {
        return None;
    }
    let v: i64 = std::str::from_utf8(&t[at..at + digits])
        .ok()?
        .parse()
        .unwrap_or(i64::MAX);
    Some((if neg { -v } else { v }, at + digits))
}

/// `/Length` as clamd's `find_length` reads it: the first `/Length` (even `/Length1`), the
/// token after it as a number; when a space follows, a second number must follow (else the
/// length is 0), and `N G R` makes it indirect.
fn clamd_length(dict: &[u8]) -> Length {
    if dict.len() < 8 {
        return Length::Zero;
    }
    let Some(at) = memchr::memmem::find(dict, b"/Length") else {
        return Length::Zero;
    };
    let from = at + 1;
    let Some(v) = next_object(&dict[from..]) else {
        return Length::Zero;
    };
    let mut i = from + v;
    let Some((value, _)) = strtol(&dict[i..]) else {
        return Length::Zero;
    };
    let Ok(value) = u64::try_from(value) else {
        return Length::Zero;
    };
    while i < dict.len() && dict[i].is_ascii_digit() {
        i += 1;
    }
    if dict.get(i) == Some(&b' ') {
        i += 1;
        let gen = match strtol(&dict[i..]).map(|(g, _)| u64::try_from(g)) {
            Some(Ok(g)) => g,
            _ => return Length::Zero,
        };
        while i < dict.len() && dict[i].is_ascii_digit() {
            i += 1;
        }
        if dict.len() - i < 2 {
            return Length::Zero;
        }
        if &dict[i..i + 2] == b" R" {
            return Length::Indirect(object_key(value, gen));
        }
    }
    Length::Direct(value)
}

impl Plan {
    /// clamd's `find_obj` for the stream of the object starting at `from`: the first object
    /// with `key` from there on, else the first before.
    fn value_of(&self, key: u32, from: Option<u64>) -> u64 {
        let from = from.unwrap_or(0);
        let Some(objects) = self.objects.get(&key) else {
            return 0;
        };
        let after = objects.iter().find(|(start, _)| *start >= from);
        after.or(objects.first()).map_or(0, |(_, value)| *value)
    }
}

/// The bytes of a stream clamd decodes (`pdf_extract_obj`): `length` counts only within 2
/// bytes below the stream's size; a 0 length of a stream without Flate is the size less an
/// end-of-line that clamd looks for at the wrong place (`tail`: the 2 bytes at
/// `obj_start + size - 2`, as clamd reads them).
fn data_len(length: u64, size: u64, flate: bool, tail: Option<[u8; 2]>) -> u64 {
    let mut len = length.min(size);
    if !flate && len == 0 {
        len = size;
        if size > 0 {
            match tail {
                Some([a, b'\n']) => len -= if size > 1 && a == b'\r' { 2 } else { 1 },
                Some([_, b'\r']) => len -= 1,
                _ => {}
            }
        }
    } else if size > len + 2 {
        len = size;
    }
    if len == 0 {
        size
    } else {
        len
    }
}

/// A PDF and its streams, in file order.
impl MemberSource for Planned<Plan> {
    fn for_each_member(mut self: Box<Self>, each: &mut EachMember<'_>) {
        let streams = std::mem::take(&mut self.plan.streams);
        let mut budget = pdf_filters::PROBE_BUDGET;
        let mut later = Later::default();
        for s in streams {
            let Some(end) = s.end else { continue };
            let named = s.key.is_some_and(|k| self.plan.contents.contains(&k));
            if !s.dumped[usize::from(named)] {
                continue;
            }
            let size = end.saturating_sub(s.start);
            let length = match s.length {
                Length::Zero => 0,
                Length::Direct(l) => l,
                Length::Indirect(key) => self.plan.value_of(key, s.obj_start),
            };
            let flate = s.filters.contains(&Filter::Flate);
            let tail = match s.obj_start {
                Some(o) if !flate && length == 0 && size >= 2 => self.read_at(o + size - 2),
                _ => None,
            };
            let len = data_len(length, size, flate, tail);
            let spool = &mut self.spool;
            // clamd parses an object stream only when no filter failed or came out empty
            let mut clean = true;
            let outcome = pdf_filters::chain_outcome(&s.filters, |n| {
                let step =
                    pdf_filters::probe(s.filters[n - 1], decoded(spool, &s, len, n), &mut budget);
                clean &= matches!(step, pdf_filters::Step::Good);
                step
            });
            let (n, declared) = match outcome {
                Outcome::Raw => (0, Some(len)),
                Outcome::Decoded(n) => (n, None),
                Outcome::Empty => continue,
            };
            let Ok(mut reader) = decoded(&mut self.spool, &s, len, n) else {
                return;
            };
            if !each(s.name.clone(), &mut reader, declared) {
                return;
            }
            drop(reader);
            if let (Some(h), true) = (s.objstm, clean) {
                self.objects_of_stream(&s, len, n, h, &mut later);
            }
        }
        for (name, data) in later.dumps {
            if !each(name, &mut &data[..], Some(data.len() as u64)) {
                return;
            }
        }
    }
}

/// Object-stream objects clamd scans after the streams, within [`OBJSTM_DUMP_BUDGET`].
#[derive(Default)]
struct Later {
    dumps: Vec<(Vec<u8>, Vec<u8>)>,
    held: usize,
}

/// The `len` bytes of stream `s` decoded through its first `n` filters.
fn decoded<'a>(
    spool: &'a mut SpoolReader,
    s: &StreamRec,
    len: u64,
    n: usize,
) -> io::Result<Box<dyn Read + 'a>> {
    spool.seek(SeekFrom::Start(s.start))?;
    let mut r: Box<dyn Read + 'a> = Box::new(BufReader::with_capacity(16 * 1024, spool.take(len)));
    for f in &s.filters[..n] {
        r = pdf_filters::decoder(*f, r, s.early_change);
    }
    Ok(r)
}

impl Planned<Plan> {
    /// clamd's `pdf_find_and_parse_objs_in_objstm` on stream `s` (its `len` bytes through
    /// `n` filters): each object found joins the object list (for later indirect lengths),
    /// and the ones clamd dumps as raw bytes are kept in `later`.
    fn objects_of_stream(
        &mut self,
        s: &StreamRec,
        len: u64,
        n: usize,
        h: objstm::Header,
        later: &mut Later,
    ) {
        let Ok(reader) = decoded(&mut self.spool, s, len, n) else {
            return;
        };
        let mut buf = Vec::new();
        let cap = OBJSTM_CAP as u64 + 1;
        if reader.take(cap).read_to_end(&mut buf).is_err() || buf.len() > OBJSTM_CAP {
            return;
        }
        let room = MAX_OBJECTS.saturating_sub(self.plan.objects_seen);
        for o in objstm::objects(&buf, h, room) {
            let key = object_key(o.id, 0);
            let pos = OBJSTM_POS + self.plan.objstm_objects;
            self.plan.objstm_objects += 1;
            self.plan.objects_seen += 1;
            let value = objstm::length_value(&buf, o.start);
            self.plan.objects.entry(key).or_default().push((pos, value));
            let text = o.bytes(&buf);
            let dump = objstm::dump(text, |k| self.plan.objects.contains_key(&k));
            if dump == objstm::Dump::Raw && later.held + text.len() <= OBJSTM_DUMP_BUDGET {
                later.held += text.len();
                later
                    .dumps
                    .push((format!("{} 0 obj", o.id).into_bytes(), text.to_vec()));
            }
        }
    }

    /// Two bytes at `at` of the spool, when there.
    fn read_at(&mut self, at: u64) -> Option<[u8; 2]> {
        let mut b = [0u8; 2];
        self.spool.seek(SeekFrom::Start(at)).ok()?;
        self.spool.read_exact(&mut b).ok()?;
        Some(b)
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

    /// CLAMD-DET-7: `/Length` as clamd's `find_length` reads it.
    #[test]
    fn dictionary_values() {
        use Length::*;
        assert_eq!(clamd_length(b"<< /Length 12\n/Filter /Fl >>"), Direct(12));
        assert_eq!(clamd_length(b"<</Length 12/Filter /Fl >>"), Direct(12));
        assert_eq!(clamd_length(b"<< /Length 12 /Filter /Fl >>"), Zero);
        assert_eq!(clamd_length(b"<< /Length 12 7 >>"), Direct(12));
        assert_eq!(clamd_length(b"<< /Length 3 0 R >>"), Indirect(3 << 8));
        assert_eq!(
            clamd_length(b"<< /Length 300 2 R >>"),
            Indirect(300 << 8 | 2)
        );
        // two spaces before the generation: not read as a reference
        assert_eq!(clamd_length(b"<< /Length 3  0 R >>"), Direct(3));
        // the first `/Length` counts, even `/Length1`
        assert_eq!(clamd_length(b"<< /Length1 3\n/Length 4>>"), Direct(3));
        // a space then no number: 0
        assert_eq!(clamd_length(b"<< /Length1 3 /Length 4>>"), Zero);
        assert_eq!(clamd_length(b"<< /Type /X >>"), Zero);
    }

    /// CLAMD-DET-7: clamd's choice of stream bytes (`pdf_extract_obj`).
    #[test]
    fn data_length_rules() {
        // a length within 2 bytes below the size counts
        assert_eq!(data_len(68, 69, false, None), 68);
        assert_eq!(data_len(68, 70, false, None), 68);
        // further below, or above, the whole stream
        assert_eq!(data_len(68, 71, false, None), 71);
        assert_eq!(data_len(10, 69, true, None), 69);
        assert_eq!(data_len(500, 69, true, None), 69);
        // 0 without Flate: the size less the end-of-line clamd finds at its odd place
        assert_eq!(data_len(0, 69, false, Some(*b"\r\n")), 67);
        assert_eq!(data_len(0, 69, false, Some(*b"x\n")), 68);
        assert_eq!(data_len(0, 69, false, Some(*b"\n\r")), 68);
        assert_eq!(data_len(0, 69, false, Some(*b"ab")), 69);
        assert_eq!(data_len(0, 69, true, Some(*b"\r\n")), 69);
    }

    /// CLAMD-DET-7: an indirect `/Length` is resolved to the object it names (before or
    /// after the stream), and picks the stream bytes by clamd's rules.
    #[test]
    fn indirect_lengths_are_resolved() {
        let pdf = b"%PDF-1.4\n9 0 obj\n5\nendobj\n\
1 0 obj\n<</Length 9 0 R>>\nstream\nhello\nendstream\nendobj\n\
2 0 obj\n<</Length 10 0 R>>\nstream\nhello\nendstream\nendobj\n\
3 0 obj\n<</Length 11 0 R>>\nstream\nhello\nendstream\nendobj\n\
4 0 obj\n<</Length 12 0 R>>\nstream\nhello\nendstream\nendobj\n\
10 0 obj 3 endobj\n12 0 obj 4 endobj\n11 0 obj <</Length 5>> endobj\n%%EOF\n";
        assert_eq!(
            members(pdf),
            crate::tree::owned(&[
                (b"1 0 obj", b"hello"),
                // 3 is more than 2 below the 6 bytes before `endstream`
                (b"2 0 obj", b"hello\n"),
                // object 11 is not a number: length 0
                (b"3 0 obj", b"hello\n"),
                (b"4 0 obj", b"hell"),
            ])
        );
    }

    /// CLAMD-DET-7: objects of a `/Type/ObjStm` answer the indirect `/Length` of a later
    /// stream (read as the token after the object's value), and an object with an action
    /// is scanned after the streams; a stream before the object stream does not see them.
    #[test]
    fn object_stream_objects() {
        // object 7 is `99`, and a length naming it reads the 8 after it
        let text = b"7 0 8 3 9 5\n99 8 << /OpenAction << /S /URI >> >>";
        let objstm = format!(
            "3 0 obj\n<< /Type/ObjStm /N 3 /First 12 /Length {} >>\nstream\n",
            text.len()
        );
        let stream = b"5 0 obj\n<< /Length 7 0 R >>\nstream\nhello!!!x\nendstream\nendobj\n";
        let mut pdf = b"%PDF-1.5\n".to_vec();
        pdf.extend_from_slice(stream);
        pdf.extend_from_slice(objstm.as_bytes());
        pdf.extend_from_slice(text);
        pdf.extend_from_slice(b"\nendstream\nendobj\n");
        pdf.extend_from_slice(&stream[..]);
        // no `/Length` 0 R target: the whole stream (clamd's end-of-line trim looks at the
        // wrong bytes); the object stream keeps its last line feed, and so does object 9
        let open: &[u8] = b"<< /OpenAction << /S /URI >> >>\n";
        let whole: &[u8] = &[&text[..], b"\n"].concat();
        assert_eq!(
            members(&pdf),
            crate::tree::owned(&[
                (b"5 0 obj", b"hello!!!x\n"),
                (b"3 0 obj", whole),
                (b"5 0 obj", b"hello!!!"),
                (b"9 0 obj", open),
            ])
        );
    }

    /// CLAMD-DET-7: ASCII85, LZW and RunLength streams and chains are decoded; a chain
    /// stops at an image filter and a failing ASCII85 filter leaves the previous output.
    #[test]
    fn new_filters_and_chains() {
        let a85 = b"87cURD]i,\"Ebo7~>";
        let mut pdf = b"%PDF-1.4\n".to_vec();
        for (n, filter, data) in [
            (1, "/A85", &a85[..]),
            (
                2,
                "[/AHx /ASCII85Decode]",
                b"3837635552445D692C2245626F377E3E>",
            ),
            (3, "[/A85 /DCTDecode]", &a85[..]),
            (4, "/RunLengthDecode", b"\x04Hello\xfe!\x80"),
            (5, "[/AHx /A85]", b"38377B7D7E3E>"),
            // the ASCIIHex output is too short for one ASCII85 group: empty, nothing scanned
            (7, "[/AHx /A85]", b"3837{}>"),
            (6, "/A85", b"87c{}~>"),
        ] {
            pdf.extend_from_slice(
                format!(
                    "{n} 0 obj\n<</Type /EmbeddedFile /Filter {filter} /Length {}>>\nstream\n",
                    data.len()
                )
                .as_bytes(),
            );
            pdf.extend_from_slice(data);
            pdf.extend_from_slice(b"\nendstream\nendobj\n");
        }
        assert_eq!(
            members(&pdf),
            crate::tree::owned(&[
                (b"1 0 obj", b"Hello World"),
                (b"2 0 obj", b"Hello World"),
                (b"3 0 obj", b"Hello World"),
                (b"4 0 obj", b"Hello!!!"),
                // bad ASCII85 after good ASCIIHex: the hex output
                (b"5 0 obj", b"87{}~>"),
                // bad ASCII85 first: the raw stream
                (b"6 0 obj", b"87c{}~>"),
            ])
        );
    }
}
