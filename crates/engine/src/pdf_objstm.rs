//! Objects inside PDF object streams (`/Type/ObjStm`, PDF 1.5), as clamd 1.4.6 finds them
//! (`pdf_find_and_parse_objs_in_objstm`, CLAMD-DET-7). clamd looks for the object stream's
//! keys only in the spelling `/Type/ObjStm` (no space before `/ObjStm`), and only in a stream
//! it dumps and decodes without a filter error. The objects it finds there count for
//! indirect `/Length`s of the streams it extracts later, and one whose dictionary carries an
//! action (`/OpenAction`, `/Launch`), an embedded file, a direct `/Contents` or a dumped
//! filter's name is scanned as a file of its own: its bytes up to the next object's offset.

use super::pdf_filters::{self, next_object, Filter};
use super::strtol;

/// The keys of an object stream's dictionary clamd reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    /// `/First`: where the first object starts (`usize::MAX` when negative, as clamd's cast).
    first: usize,
    /// `/N`: how many objects (`usize::MAX` when negative).
    n: usize,
}

/// The object stream keys of `dict` (the text between `obj` and the stream data), as
/// `pdf_extract_obj` reads them: `/Type/ObjStm`, then `/First`, `/Length` and `/N` must each
/// read as an `int` other than -1.
pub(crate) fn header(dict: &[u8]) -> Option<Header> {
    let at = memchr::memmem::find(dict, b"/Type/ObjStm")?;
    next_object(&dict[at + 1..])?;
    let first = read_int(dict, b"/First")?;
    read_int(dict, b"/Length")?;
    let n = read_int(dict, b"/N")?;
    let size = |v: i32| usize::try_from(v).unwrap_or(usize::MAX);
    Some(Header {
        first: size(first),
        n: size(n),
    })
}

/// clamd's `pdf_readint`: the first `key`, the value after it as a C `long` cut to `int`;
/// `None` for clamd's -1 (missing, unreadable, or -1 itself).
fn read_int(dict: &[u8], key: &[u8]) -> Option<i32> {
    let at = memchr::memmem::find(dict, key)?;
    let mut v = at + 1 + next_object(&dict[at + 1..])?;
    // pdf_getdict backs up over `<` and line feeds before a value
    while v > at && matches!(dict[v - 1], b'<' | b'\n') {
        v -= 1;
    }
    let (value, _) = strtol(&dict[v..]).filter(|(x, _)| *x != i64::MAX)?;
    let value = value as i32;
    (value != -1).then_some(value)
}

/// One object clamd finds in an object stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Object {
    /// The object number (the generation is always 0).
    pub(crate) id: u64,
    /// Where it starts in the decoded stream.
    pub(crate) start: usize,
    /// Its bytes: up to the next object's offset, or to the end of the stream.
    pub(crate) size: usize,
}

impl Object {
    /// The object's bytes in `buf` (the decoded stream).
    pub(crate) fn bytes<'a>(&self, buf: &'a [u8]) -> &'a [u8] {
        &buf[self.start..self.start + self.size]
    }
}

/// The white space clamd's `findNextNonWS` skips.
fn is_ws(b: u8) -> bool {
    matches!(b, 0 | 9 | 10 | 12 | 13 | 32)
}

/// The objects clamd's `pdf_findobj_in_objstm` finds in `buf` (the decoded stream), at most
/// `max`: `/N` pairs "number offset" from the start, each offset counted from `/First`. It
/// stops at the first pair it cannot read, at an offset past the end, and at an offset not
/// above the one before.
pub(crate) fn objects(buf: &[u8], h: Header, max: usize) -> Vec<Object> {
    let mut out = Vec::new();
    if h.first == 0 || buf.is_empty() || h.n == 0 || h.first >= buf.len() {
        return out;
    }
    // clamd skips white space only up to /First
    let skip_ws = |mut i: usize| {
        while i < h.first && i < buf.len() && is_ws(buf[i]) {
            i += 1;
        }
        i
    };
    let skip_digits = |mut i: usize| {
        while i < buf.len() && buf[i].is_ascii_digit() {
            i += 1;
        }
        i
    };
    let number = |i: usize| -> Option<usize> {
        let (v, _) = strtol(buf.get(i..)?).filter(|(v, _)| *v != i64::MAX)?;
        usize::try_from(v).ok()
    };
    let mut pair = 0usize;
    let mut found = 0usize;
    while found < h.n && out.len() < max {
        let Some(id) = number(pair) else { break };
        let off_at = skip_ws(skip_digits(pair));
        let Some(off) = number(off_at) else { break };
        let Some(start) = h.first.checked_add(off).filter(|&s| s <= buf.len()) else {
            break;
        };
        found += 1;
        let after = skip_digits(off_at);
        pair = skip_ws(after);
        let size = if found < h.n && after < buf.len() {
            let next_at = skip_ws(skip_digits(pair));
            let Some(next) = number(next_at) else { break };
            if next <= off || h.first.saturating_add(next) > buf.len() {
                break;
            }
            next - off
        } else {
            buf.len() - start
        };
        out.push(Object {
            id: id as u64,
            start,
            size,
        });
    }
    out
}

/// The number an indirect `/Length` naming this object reads (clamd's `find_length`): from
/// the object's start, `pdf_nextobject` skips the token there first, so the number read is
/// the token after the object's own value; 0 when that is not a number.
pub(crate) fn length_value(buf: &[u8], start: usize) -> u64 {
    let rest = &buf[start.min(buf.len())..];
    next_object(rest)
        .and_then(|at| strtol(&rest[at..]))
        .and_then(|(v, _)| u64::try_from(v).ok())
        .unwrap_or(0)
}

/// What clamd's `pdf_extract_obj` does with an object of an object stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dump {
    /// Not dumped.
    No,
    /// Its bytes are scanned.
    Raw,
    /// A `/JavaScript` object: clamd scans the `/JS` strings it reads out of it.
    Script,
}

/// How clamd's `pdf_parseobj` flags the object `text` and so what `pdf_extract_obj` does
/// with it: only the names of its first dictionary count (none without one); `/OpenAction`,
/// `/JavaScript` and `/Contents` followed by `N G R` pass their flag to the object named,
/// when `exists` says it was found.
pub(crate) fn dump(text: &[u8], exists: impl Fn(u32) -> bool) -> Dump {
    let Some(dict) = first_dict(text) else {
        return Dump::No;
    };
    let (mut script, mut action, mut contents) = (false, false, false);
    for (name, end) in pdf_filters::names_at(dict) {
        let flag = match name {
            b"JavaScript" => &mut script,
            b"OpenAction" => &mut action,
            b"Contents" => &mut contents,
            b"Launch" => {
                action = true;
                continue;
            }
            _ => continue,
        };
        *flag = !reference(&dict[end..]).is_some_and(&exists);
    }
    let chain = pdf_filters::filters(dict);
    let names = pdf_filters::NameFlags::of(dict);
    if names.image && !chain.contains(&Filter::Jpeg) {
        return Dump::No;
    }
    let flagged = names.embedded || pdf_filters::decoded_kind(&chain) || action || contents;
    match (script, flagged) {
        (true, _) => Dump::Script,
        (false, true) => Dump::Raw,
        (false, false) => Dump::No,
    }
}

/// The first `<<` ... matching `>>` of `text` (nested dictionaries counted).
fn first_dict(text: &[u8]) -> Option<&[u8]> {
    let open = memchr::memmem::find(text, b"<<")?;
    let mut depth = 0usize;
    let mut i = open;
    while i + 1 < text.len() {
        match &text[i..i + 2] {
            b"<<" => {
                depth += 1;
                i += 2;
            }
            b">>" => {
                depth -= 1;
                if depth == 0 {
                    return Some(&text[open + 2..i]);
                }
                i += 2;
            }
            _ => i += 1,
        }
    }
    None
}

/// clamd's reading of `N G R` right after a name: the next token a number, the one after it
/// a number, the one after that starting with `R`. The object key it names.
fn reference(after: &[u8]) -> Option<u32> {
    let a = next_object(after)?;
    if !after[a].is_ascii_digit() {
        return None;
    }
    let (id, _) = strtol(&after[a..])?;
    let digits = a + after[a..].iter().take_while(|b| b.is_ascii_digit()).count();
    let b = digits + next_object(&after[digits..])?;
    if !after[b].is_ascii_digit() {
        return None;
    }
    let (gen, _) = strtol(&after[b..])?;
    let c = b + next_object(&after[b..])?;
    (after[c] == b'R').then(|| super::object_key(id as u64, gen as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An object stream's decoded text for `objs` and its header.
    fn stream(objs: &[(u64, &[u8])]) -> (Vec<u8>, Header) {
        let mut head = Vec::new();
        let mut body = Vec::new();
        for (id, data) in objs {
            head.extend_from_slice(format!("{id} {} ", body.len()).as_bytes());
            body.extend_from_slice(data);
            body.push(b'\n');
        }
        head.push(b'\n');
        let h = Header {
            first: head.len(),
            n: objs.len(),
        };
        ([head, body].concat(), h)
    }

    /// CLAMD-DET-7: clamd reads the keys only as `/Type/ObjStm` with `/First`, `/Length`
    /// and `/N` readable.
    #[test]
    fn header_keys() {
        let h = header(b" << /Type/ObjStm /N 3 /First 17 /Length 5 0 R >> stream\n");
        assert_eq!(h, Some(Header { first: 17, n: 3 }));
        assert_eq!(
            header(b"<< /Type /ObjStm /N 3 /First 17 /Length 5 >>"),
            None
        );
        assert_eq!(header(b"<< /Type/ObjStm /N 3 /First 17 >>"), None);
        assert_eq!(
            header(b"<< /Type/ObjStm /N -1 /First 17 /Length 9 >>"),
            None
        );
        let neg = header(b"<< /Type/ObjStm /N 2 /First -5 /Length 9 >>").unwrap();
        assert_eq!(neg.first, usize::MAX);
        assert!(objects(b"1 0 2 3 xxxxxxxx", neg, 100).is_empty());
    }

    /// CLAMD-DET-7: the objects and their sizes (up to the next offset; the last to the
    /// end), and where clamd stops.
    #[test]
    fn objects_and_sizes() {
        let (buf, h) = stream(&[(7, b"68"), (8, b"<< /A 1 >>"), (9, b"(x)")]);
        let found = objects(&buf, h, 100);
        let texts: Vec<(u64, &[u8])> = found.iter().map(|o| (o.id, o.bytes(&buf))).collect();
        assert_eq!(
            texts,
            [
                (7, &b"68\n"[..]),
                (8, &b"<< /A 1 >>\n"[..]),
                (9, &b"(x)\n"[..])
            ]
        );
        // /N larger than the pairs: clamd reads the next pair from the first object's text,
        // fails, and drops the last object
        let more = Header { n: 5, ..h };
        assert_eq!(objects(&buf, more, 100).len(), 2);
        // the cap
        assert_eq!(objects(&buf, h, 2).len(), 2);
        // offsets not increasing: clamd stops before the object
        let bad = b"1 5 2 0\nxxxxxyyyyy";
        let bh = Header { first: 8, n: 2 };
        assert!(objects(bad, bh, 100).is_empty());
        // an offset past the end
        let past = b"1 99\nabc";
        assert!(objects(past, Header { first: 5, n: 1 }, 100).is_empty());
        // /First 0 or past the end: nothing
        assert!(objects(&buf, Header { first: 0, ..h }, 100).is_empty());
        assert!(objects(
            &buf,
            Header {
                first: buf.len(),
                ..h
            },
            100
        )
        .is_empty());
    }

    /// CLAMD-DET-7: the number an indirect `/Length` reads from an object of an object
    /// stream is the token after the object's value.
    #[test]
    fn length_reads_the_next_token() {
        let (buf, h) = stream(&[(7, b"99"), (8, b"68"), (9, b"<< >>")]);
        let found = objects(&buf, h, 100);
        assert_eq!(length_value(&buf, found[0].start), 68);
        assert_eq!(length_value(&buf, found[1].start), 0);
        assert_eq!(length_value(&buf, found[2].start), 0);
    }

    /// CLAMD-DET-7: which objects clamd scans.
    #[test]
    fn dump_rule() {
        let none = |_| false;
        let all = |_| true;
        assert_eq!(dump(b"<< /OpenAction << /S /URI >> >>", none), Dump::Raw);
        assert_eq!(dump(b"<< /OpenAction 5 0 R >>", all), Dump::No);
        assert_eq!(dump(b"<< /OpenAction 5 0 R >>", none), Dump::Raw);
        assert_eq!(dump(b"<< /S /Launch /F (a.exe) >>", all), Dump::Raw);
        assert_eq!(dump(b"<< /S /JavaScript /JS (x) >>", none), Dump::Script);
        assert_eq!(dump(b"<< /Type /Page /Contents 4 0 R >>", all), Dump::No);
        // clamd's token walk skips `[`: an array's first reference takes the flag too
        assert_eq!(dump(b"<< /Type /Page /Contents [4 0 R] >>", all), Dump::No);
        assert_eq!(dump(b"<< /Type /Annot /Contents (note) >>", all), Dump::Raw);
        assert_eq!(dump(b"<< /Type /EmbeddedFile >>", none), Dump::Raw);
        assert_eq!(dump(b"<< /Filter /FlateDecode >>", none), Dump::Raw);
        assert_eq!(dump(b"<< /Filter /LZWDecode >>", none), Dump::No);
        assert_eq!(dump(b"<< /Type /Catalog /Pages 2 0 R >>", none), Dump::No);
        // names outside the first dictionary, or without one, do not count
        assert_eq!(dump(b"68 /OpenAction", none), Dump::No);
        assert_eq!(dump(b"<< /A 1 >> /OpenAction", none), Dump::No);
        assert_eq!(dump(b"<< /OpenAction << /S /URI >>", none), Dump::No);
        assert_eq!(
            dump(b"<< /Subtype /Image /OpenAction << >> >>", none),
            Dump::No
        );
    }

    use proptest::prelude::*;

    proptest! {
        /// CLAMD-DET-7: whatever the stream and its keys, the objects found lie inside it,
        /// start in order, and never outnumber the cap.
        #[test]
        fn objects_stay_inside(
            buf in proptest::collection::vec(prop::sample::select(b"0123456789 \n<>/x".to_vec()), 0..300),
            first in 0usize..320,
            n in 0usize..40,
            max in 0usize..20,
        ) {
            let found = objects(&buf, Header { first, n }, max);
            prop_assert!(found.len() <= max.min(n));
            for o in &found {
                prop_assert!(o.start + o.size <= buf.len());
                let _ = dump(o.bytes(&buf), |_| true);
                let _ = length_value(&buf, o.start);
            }
            prop_assert!(found.windows(2).all(|w| w[0].start < w[1].start));
        }
    }
}
