//! SZDD (MS-DOS `COMPRESS.EXE`, `expand`), as clamd 1.4.6 unpacks it (CLAMD-DET-7): a
//! 14-byte header (`SZDD`, `88 f0 27 33`, `'A'`, a zero byte (clamd refuses any other
//! "missing character"), the expanded size) and LZSS data: a flag byte, then for each of its
//! 8 bits (low first) a literal byte or a 12-bit position and 4-bit length (+3) into a
//! 4096-byte window that starts zeroed at position 4080. Like clamd, output is written in
//! 2048-byte pieces and stops at the first piece boundary at or past the stated size, so a
//! stream that expands further is cut there. One member, decoded as a stream: memory is the
//! window, whatever the input claims.

use std::io::{self, Read};

use crate::spool::SpoolReader;
use crate::tree::{EachMember, MemberSource};

const MAGIC: &[u8; 10] = b"SZDD\x88\xf0\x27\x33\x41\x00";
const HEADER_LEN: usize = 14;
const WINDOW: usize = 4096;
const START: usize = WINDOW - 16;
/// clamd writes its output in pieces of this size and checks the stated size after each.
const PIECE: u64 = 2048;

/// clamd's file-type magic for SZDD (the rest of the header is checked when opened).
pub(crate) fn is_szdd(head: &[u8]) -> bool {
    head.starts_with(b"SZDD")
}

/// The expanded stream of an SZDD file (`None` unless the whole header is clamd's).
pub(crate) fn reader<R: Read>(mut r: R) -> Option<Expand<R>> {
    let mut h = [0u8; HEADER_LEN];
    r.read_exact(&mut h).ok()?;
    if &h[..10] != MAGIC {
        return None;
    }
    let size = u64::from(u32::from_le_bytes([h[10], h[11], h[12], h[13]]));
    Some(Expand {
        inner: r,
        window: [0; WINDOW],
        pos: START,
        flags: 0,
        bit: 8,
        copy: (0, 0),
        emitted: 0,
        limit: size.div_ceil(PIECE).max(1) * PIECE,
        done: false,
    })
}

/// A spooled SZDD file whose header is clamd's: one member, named after the container.
struct Szdd {
    body: Expand<SpoolReader>,
    name: Vec<u8>,
}

pub(crate) fn open(spool: SpoolReader, parent_name: &[u8]) -> Option<Box<dyn MemberSource>> {
    let body = reader(spool)?;
    let name = super::compress::derived_name(parent_name, &[(b".szdd", b"")]);
    Some(Box::new(Szdd { body, name }))
}

impl MemberSource for Szdd {
    fn for_each_member(mut self: Box<Self>, each: &mut EachMember<'_>) {
        // no declared size: the stated size is only where clamd stops writing
        each(self.name, &mut self.body, None);
    }
}

/// Streaming LZSS expansion of an SZDD body.
pub(crate) struct Expand<R> {
    inner: R,
    window: [u8; WINDOW],
    pos: usize,
    flags: u8,
    /// Next flag bit (8: read a new flag byte).
    bit: u8,
    /// A back-reference in progress: (window position, bytes left).
    copy: (usize, usize),
    emitted: u64,
    /// clamd stops at the first 2048-byte boundary at or past the stated size.
    limit: u64,
    done: bool,
}

impl<R: Read> Expand<R> {
    fn byte_in(&mut self) -> io::Result<Option<u8>> {
        let mut b = [0u8; 1];
        loop {
            match self.inner.read(&mut b) {
                Ok(0) => return Ok(None),
                Ok(_) => return Ok(Some(b[0])),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    fn put(&mut self, b: u8) -> u8 {
        self.window[self.pos] = b;
        self.pos = (self.pos + 1) % WINDOW;
        b
    }

    /// The next expanded byte; `None` at the end of the input.
    fn next(&mut self) -> io::Result<Option<u8>> {
        if self.copy.1 > 0 {
            let (k, left) = self.copy;
            self.copy = ((k + 1) % WINDOW, left - 1);
            let b = self.window[k];
            return Ok(Some(self.put(b)));
        }
        if self.bit == 8 {
            let Some(f) = self.byte_in()? else {
                return Ok(None);
            };
            self.flags = f;
            self.bit = 0;
        }
        let literal = self.flags & (1 << self.bit) != 0;
        self.bit += 1;
        let Some(a) = self.byte_in()? else {
            return Ok(None);
        };
        if literal {
            return Ok(Some(self.put(a)));
        }
        let Some(b) = self.byte_in()? else {
            return Ok(None);
        };
        let k = usize::from(a) | (usize::from(b & 0xf0) << 4);
        self.copy = (k, usize::from(b & 0x0f) + 3);
        self.next()
    }
}

impl<R: Read> Read for Expand<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let mut n = 0;
        while n < out.len() && !self.done {
            if self.emitted >= self.limit && self.emitted.is_multiple_of(PIECE) {
                self.done = true;
                break;
            }
            match self.next()? {
                Some(b) => {
                    out[n] = b;
                    n += 1;
                    self.emitted += 1;
                }
                None => self.done = true,
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn szdd(size: u32, body: &[u8]) -> Vec<u8> {
        let mut v = MAGIC.to_vec();
        v.extend_from_slice(&size.to_le_bytes());
        v.extend_from_slice(body);
        v
    }

    fn expand(data: &[u8]) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        reader(data)?.read_to_end(&mut out).ok()?;
        Some(out)
    }

    #[test]
    fn literals_and_a_back_reference() {
        // flags 0b0000_0111: three literals "abc", then a reference to 4080 (len 3+3)
        let body = [0x07, b'a', b'b', b'c', 0xf0, 0xf3];
        assert_eq!(expand(&szdd(9, &body)).unwrap(), b"abcabcabc");
    }

    #[test]
    fn the_zeroed_window_and_a_bad_header() {
        // a reference to position 0 copies zeros; a cut reference pair ends the stream
        let body = [0x00, 0x00, 0x00, 0x05];
        assert_eq!(expand(&szdd(3, &body)).unwrap(), vec![0u8; 3]);
        let mut bad = szdd(3, &body);
        bad[9] = b'e';
        assert!(
            expand(&bad).is_none(),
            "clamd needs a zero missing character"
        );
    }

    #[test]
    fn output_stops_at_the_piece_boundary_past_the_stated_size() {
        // runs of 18 bytes from a zero window: far more than the stated 10 bytes
        let mut body = Vec::new();
        for _ in 0..400 {
            body.extend_from_slice(&[0x00, 0, 0x0f, 0, 0x0f, 0, 0x0f, 0, 0x0f]);
            body.extend_from_slice(&[0, 0x0f, 0, 0x0f, 0, 0x0f, 0, 0x0f]);
        }
        assert_eq!(expand(&szdd(10, &body)).unwrap().len(), 2048);
        assert_eq!(expand(&szdd(2049, &body)).unwrap().len(), 4096);
    }
}
