//! RTF embedded objects, as clamd 1.4.6's `cli_scanrtf` extracts them (CLAMD-DET-7): the hex
//! text of a `\objdata` group (inside a group that saw `\object`, or one of its sub-groups)
//! is an OLE1 object: 8 magic bytes, a u32 description length and the description (e.g.
//! `Package`), 8 bytes, a u32 data size, then the data. Data that is an OLE2 file is a member
//! as is; other data is an Ole10Native object whose payload (without its header) is the
//! member, as clamd's `cli_decode_ole_object` does. Objects follow one another in the same
//! group. Once text has come, `\object` or `\objdata ` in the group ends the object early
//! (clamd scans what it has), and `\objdata ` starts the next one right there. Everything
//! is read as a stream from the spool: hex is decoded as the walk reads it.

use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};

use crate::spool::SpoolReader;
use crate::tree::{EachMember, MemberSource};

/// Deepest group nesting tracked; deeper groups share the deepest state.
const MAX_DEPTH: usize = 4096;
/// Longest control word (clamd drops longer ones after 32 letters).
const MAX_WORD: usize = 32;
/// Most objects taken from one document.
const MAX_OBJECTS: usize = 10_000;
/// clamd's file copy block (`FILEBUFF`): of an object cut short, only whole blocks are
/// copied out.
const FILEBUFF: u64 = 8192;

pub(crate) fn is_rtf(head: &[u8]) -> bool {
    head.starts_with(b"{\\rtf")
}

pub(crate) fn open(spool: SpoolReader) -> Option<Box<dyn MemberSource>> {
    Some(Box::new(Rtf {
        r: BufReader::with_capacity(16 * 1024, spool),
        groups: vec![Group::default()],
        eof: false,
    }))
}

/// What a group knows: `\object` seen here or in a parent; this group is `\objdata`.
#[derive(Clone, Copy, Default)]
struct Group {
    object: bool,
    objdata: bool,
}

struct Rtf {
    r: BufReader<SpoolReader>,
    groups: Vec<Group>,
    eof: bool,
}

impl Rtf {
    fn next_byte(&mut self) -> Option<u8> {
        if self.eof {
            return None;
        }
        let b = loop {
            match self.r.fill_buf() {
                Ok([]) => break None,
                Ok(buf) => break Some(buf[0]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => break None,
            }
        };
        match b {
            Some(b) => {
                self.r.consume(1);
                Some(b)
            }
            None => {
                self.eof = true;
                None
            }
        }
    }

    fn peek(&mut self) -> Option<u8> {
        match self.r.fill_buf() {
            Ok(buf) => buf.first().copied(),
            Err(_) => None,
        }
    }

    fn top(&mut self) -> &mut Group {
        // never empty: the base group is re-created when a `}` pops it
        if self.groups.is_empty() {
            self.groups.push(Group::default());
        }
        let last = self.groups.len() - 1;
        &mut self.groups[last]
    }

    fn open_group(&mut self) {
        let object = self.top().object;
        if self.groups.len() < MAX_DEPTH {
            self.groups.push(Group {
                object,
                objdata: false,
            });
        }
    }

    fn close_group(&mut self) {
        self.groups.pop();
    }

    /// After a `\`: a control word or a control symbol (one character, eaten), read as
    /// clamd's `cli_scanrtf` does (it knows no `\bin`: binary data after one is text).
    /// A word is up to 32 letters (more: the word is dropped and the rest is text), then
    /// either one white-space byte, eaten and kept as part of the word (clamd matches
    /// `objdata ` with its space), or a number (`-` allowed) whose digits and any letters
    /// after them are eaten (until an `i64` overflow), or nothing. Returns the word.
    fn control(&mut self) -> Vec<u8> {
        let mut word = Vec::new();
        if !self.peek().is_some_and(|c| c.is_ascii_alphabetic()) {
            self.next_byte();
            return word;
        }
        loop {
            if word.len() == MAX_WORD {
                return Vec::new();
            }
            match self.peek() {
                Some(c) if c.is_ascii_alphabetic() => {
                    word.push(c);
                    self.next_byte();
                }
                // C's isspace
                Some(c @ (b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')) => {
                    word.push(c);
                    self.next_byte();
                    return word;
                }
                Some(b'-') => {
                    self.next_byte();
                    break;
                }
                Some(c) if c.is_ascii_digit() => break,
                _ => return word,
            }
        }
        // the number, and the letters clamd skips with it
        let mut param: i64 = 0;
        while let Some(c) = self.peek() {
            if c.is_ascii_digit() {
                let d = i64::from(c - b'0');
                match param.checked_mul(10).and_then(|p| p.checked_add(d)) {
                    Some(p) => param = p,
                    None => break,
                }
            } else if !c.is_ascii_alphabetic() {
                break;
            }
            self.next_byte();
        }
        word
    }

    /// Walk to the start of the next `\objdata` text; false at the end of the document.
    fn seek_objdata(&mut self) -> bool {
        while let Some(b) = self.next_byte() {
            match b {
                b'{' => self.open_group(),
                b'}' => self.close_group(),
                b'\\' => match self.control().as_slice() {
                    // clamd's action table: `object`, and `objdata` with a space
                    b"object" => self.top().object = true,
                    b"objdata " if self.top().object => {
                        self.top().objdata = true;
                        return true;
                    }
                    _ => {}
                },
                _ => {}
            }
        }
        false
    }
}

/// The decoded bytes of the current `\objdata` group: hex digits in its own text, anything
/// else skipped; nested groups and control words carry no object data (clamd's state is
/// not inherited by sub-groups). Ends where the group closes, or early at an action word.
struct ObjData<'a> {
    rtf: &'a mut Rtf,
    depth: usize,
    high: Option<u8>,
    done: bool,
    /// Text came in the group (clamd has begun the object).
    text: bool,
    /// The action word (`object`, `objdata `) that ended the data early.
    ended_by: Option<Vec<u8>>,
}

impl ObjData<'_> {
    fn new(rtf: &mut Rtf) -> ObjData<'_> {
        let depth = rtf.groups.len();
        ObjData {
            rtf,
            depth,
            high: None,
            done: false,
            text: false,
            ended_by: None,
        }
    }

    fn next(&mut self) -> Option<u8> {
        while !self.done {
            let Some(b) = self.rtf.next_byte() else {
                self.done = true;
                break;
            };
            let inside = self.rtf.groups.len() == self.depth;
            match b {
                b'{' => self.rtf.open_group(),
                b'}' => {
                    self.rtf.close_group();
                    if self.rtf.groups.len() < self.depth {
                        self.done = true;
                    }
                }
                b'\\' => {
                    let word = self.rtf.control();
                    // clamd's "premature end of previous block": an action word once the
                    // object has begun ends it
                    if inside && self.text && matches!(word.as_slice(), b"object" | b"objdata ") {
                        self.ended_by = Some(word);
                        self.done = true;
                    } else if word == b"object" {
                        self.rtf.top().object = true;
                    }
                }
                c if inside && c.is_ascii_hexdigit() => {
                    self.text = true;
                    let v = hex(c);
                    match self.high.take() {
                        Some(h) => return Some((h << 4) | v),
                        None => self.high = Some(v),
                    }
                }
                _ => self.text |= inside,
            }
        }
        None
    }

    /// How many more bytes the data holds, up to `max`, read ahead and then rewound.
    fn available(&mut self, max: u64) -> u64 {
        let Ok(pos) = self.rtf.r.stream_position() else {
            return 0;
        };
        let groups = self.rtf.groups.clone();
        let (eof, high, done, text) = (self.rtf.eof, self.high, self.done, self.text);
        let ended_by = self.ended_by.clone();
        let mut n = 0;
        while n < max && self.next().is_some() {
            n += 1;
        }
        self.rtf.groups = groups;
        (self.rtf.eof, self.high, self.done, self.text) = (eof, high, done, text);
        self.ended_by = ended_by;
        if self.rtf.r.seek(SeekFrom::Start(pos)).is_err() {
            self.done = true;
        }
        n
    }

    fn drain(&mut self) {
        while self.next().is_some() {}
    }

    fn read_u32(&mut self) -> Option<u32> {
        let mut v = 0u32;
        for i in 0..4 {
            v |= u32::from(self.next()?) << (8 * i);
        }
        Some(v)
    }

    fn skip(&mut self, n: u64) -> Option<()> {
        for _ in 0..n {
            self.next()?;
        }
        Some(())
    }
}

impl Read for ObjData<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        Ok(crate::tree::fill_from(buf, || self.next()))
    }
}

fn hex(c: u8) -> u8 {
    char::from(c).to_digit(16).unwrap_or(0) as u8
}

impl MemberSource for Rtf {
    fn for_each_member(mut self: Box<Self>, each: &mut EachMember<'_>) {
        let mut count = 0usize;
        // whether an `objdata ` that ended an object starts the next one where it stands
        let mut next_here = false;
        while count < MAX_OBJECTS && (next_here || self.seek_objdata()) {
            let mut data = ObjData::new(&mut self);
            // objects follow one another until the group ends
            while count < MAX_OBJECTS {
                let Some(size) = object_header(&mut data) else {
                    break;
                };
                count += 1;
                let name = format!("objdata {count}").into_bytes();
                if !one_object(&mut data, size, name, each) {
                    return;
                }
            }
            let ended_by = data.ended_by.take();
            if ended_by.is_none() {
                data.drain();
            }
            next_here = match ended_by.as_deref() {
                Some(b"object") => {
                    self.top().object = true;
                    false
                }
                Some(_) => self.top().object,
                None => false,
            };
        }
    }
}

/// The OLE1 header up to the data: the data size. clamd only warns on a wrong magic.
fn object_header(d: &mut ObjData<'_>) -> Option<u64> {
    d.skip(8)?;
    let desc_len = d.read_u32()?;
    d.skip(u64::from(desc_len))?;
    d.skip(8)?;
    Some(u64::from(d.read_u32()?))
}

/// Hand one object's data (`size` bytes) to the walk; then skip what it left unread.
fn one_object(d: &mut ObjData<'_>, size: u64, name: Vec<u8>, each: &mut EachMember<'_>) -> bool {
    let mut head = Vec::with_capacity(2);
    for _ in 0..size.min(2) {
        match d.next() {
            Some(b) => head.push(b),
            None => break,
        }
    }
    let rest = size - head.len() as u64;
    let ole2 = head == [0xd0, 0xcf];
    // data cut short (by the group's end or an action word) is not read as Ole10Native by
    // clamd (its size no longer fits the file): only its first whole blocks are copied out
    let avail = if ole2 {
        size
    } else {
        head.len() as u64 + d.available(rest)
    };
    let mut body = (&mut *d).take(rest);
    let go_on = if ole2 {
        // an OLE2 document: scanned as it is
        let mut data = io::Cursor::new(head).chain(&mut body);
        each(name, &mut data, Some(size))
    } else if avail < size {
        let whole = avail / FILEBUFF * FILEBUFF;
        let mut data = io::Cursor::new(head).chain(&mut body).take(whole);
        whole == 0 || each(name, &mut data, Some(whole))
    } else {
        // an OLE1 "Package": clamd writes the size before it and decodes it as Ole10Native
        let mut obj = io::Cursor::new(u32::try_from(size).unwrap_or(u32::MAX).to_le_bytes())
            .chain(io::Cursor::new(head))
            .chain(&mut body);
        match super::ole2::ole10_payload(&mut obj, size + 4) {
            Some(payload) => each(name, &mut (&mut obj).take(payload), Some(payload)),
            None => true,
        }
    };
    // the rest of this object (whatever the walk did not read)
    let _ = io::copy(&mut body, &mut io::sink());
    go_on
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(doc: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
        crate::tree::unpack_named(doc, open)
    }

    fn hexed(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn ole1(data: &[u8]) -> Vec<u8> {
        let mut o = vec![1, 5, 0, 0, 2, 0, 0, 0, 8, 0, 0, 0];
        o.extend_from_slice(b"Package\0");
        o.extend_from_slice(&[0; 8]);
        o.extend_from_slice(&(data.len() as u32).to_le_bytes());
        o.extend_from_slice(data);
        o
    }

    #[test]
    fn ole2_data_is_a_member_as_is_and_only_inside_an_object() {
        let mut ole = vec![0xd0, 0xcf, 0x11, 0xe0];
        ole.extend_from_slice(b"rest");
        let doc = format!(
            "{{\\rtf1{{\\*\\objdata {}}}{{\\object{{\\*\\objdata {}\r\n}}}}}}",
            hexed(&ole1(&ole)),
            hexed(&ole1(&ole))
        );
        let got = members(doc.as_bytes());
        assert_eq!(got, [(b"objdata 1".to_vec(), ole)]);
    }

    /// CLAMD-DET-7: control words as clamd reads them: `\object ` (space) and `\objdata`
    /// ended by a line break start nothing; a number swallows the letters after it (so
    /// `\bin2ab` eats `ab`, while binary bytes after `\bin4 ` are text); a word over 32
    /// letters is dropped and its remaining letters are text.
    #[test]
    fn control_words_as_clamd_reads_them() {
        let hex = hexed(&ole1(b"\xd0\xcf\x11\xe0rest"));
        let doc = |open: &str, data: &str| {
            format!("{{\\rtf1{{{open}{{\\*\\objdata {data}{hex}}}}}}}").into_bytes()
        };
        let found = |d: &[u8]| !members(d).is_empty();
        assert!(found(&doc("\\object\\objemb", "")));
        assert!(!found(&doc("\\object \\objemb", "")));
        assert!(!found(
            &format!("{{\\rtf1{{\\object{{\\*\\objdata\r\n{hex}}}}}}}").into_bytes()
        ));
        assert!(found(&doc("\\object", "\\bin2ab ")));
        assert!(found(&doc("\\object", "\\bin-3cd ")));
        assert!(!found(&doc("\\object", "\\bin2 ab")));
        assert!(found(&doc("\\object", "\\bin4 \u{1}\u{2}xyz")));
        // 34 letters: the last two (`gh`, not hex) are text, then the hex
        assert!(found(&doc(
            "\\object",
            "\\abcdefghijklmnopqrstuvwxyzabcdefgh"
        )));
        // 33 letters ending in `e`: that `e` is a hex digit, the data shifts
        assert!(!found(&doc(
            "\\object",
            "\\abcdefghijklmnopqrstuvwxyzabcdefe"
        )));
    }

    /// CLAMD-DET-7: once text has come, `\objdata ` ends the object and starts the next in
    /// the same group, `\object` ends it and leaves the rest of the group; an object cut
    /// short is not read as a Package: its whole 8 KiB blocks are the member.
    #[test]
    fn action_words_end_objects_early() {
        let good = hexed(&ole1(
            b"\x02\x00a\x00b\x00\x00\x00\x00\x00\x00\x00\x00\x00c\x00\x07\x00\x00\x00PAYLOAD",
        ));
        let mut cut = ole1(&[7u8; 20_000]);
        cut.truncate(cut.len() - 20_000 + 8200);
        let cut = hexed(&cut);
        let doc =
            |body: &str| format!("{{\\rtf1{{\\object{{\\*\\objdata {body}}}}}}}").into_bytes();
        let names_and_sizes = |d: &[u8]| -> Vec<(Vec<u8>, usize)> {
            members(d).into_iter().map(|(n, b)| (n, b.len())).collect()
        };
        assert_eq!(
            names_and_sizes(&doc(&format!("{cut}\\objdata {good}"))),
            [(b"objdata 1".to_vec(), 8192), (b"objdata 2".to_vec(), 7)]
        );
        assert_eq!(
            names_and_sizes(&doc(&format!("{cut}\\object {good}"))),
            [(b"objdata 1".to_vec(), 8192)]
        );
        // before any text the words change nothing
        assert_eq!(
            names_and_sizes(&doc(&format!("\\object {good}"))),
            [(b"objdata 1".to_vec(), 7)]
        );
    }
}
