//! BinHex 4.0 (`.hqx`), as clamd 1.4.6 decodes it (CLAMD-DET-7): the text after the banner
//! line is 6-bit characters between `:` marks, then run-length coded (`0x90`); the decoded
//! stream is a header (name, type, creator, flags, fork lengths, CRC), the data fork, its
//! CRC, the resource fork. clamd scans the data fork, then the resource fork when it is at
//! least 5 bytes long; an input that ends early has its partial fork scanned, while an
//! invalid character ends decoding and loses what clamd had not yet flushed from its
//! 7936-byte buffer (so a small file with a stray character yields nothing).
//!
//! Two passes over the spooled text, no decoded fork in memory: the first decodes without
//! keeping anything (past the header) to learn which forks clamd would scan and how long
//! they are; the second streams each fork to the walk.

use std::io::{self, Read, Seek, SeekFrom};

use crate::spool::SpoolReader;
use crate::tree::{planned, EachMember, MemberSource, Planned};

/// The first line of every BinHex 4.0 file (clamd's file-type magic for it).
const BANNER: &[u8] = b"(This file must be converted with BinHex 4.0)";
/// The 64 characters of the encoding, in value order.
const ALPHABET: &[u8; 64] = b"!\"#$%&'()*+,-012345689@ABCDEFGHIJKLMNPQRSTUVXYZ[`abcdefhijklmpqr";
/// clamd acts on its decode buffer when it holds this many bytes (BUFSIZ - 256).
const FLUSH_AT: u64 = 8192 - 256;
/// Header bytes kept by the first pass: length byte, name (<= 255), the fixed fields.
const HEADER_MAX: usize = 1 + 255 + 21;
/// The run-length escape byte.
const RLE: u8 = 0x90;
/// A resource fork shorter than this is not scanned (clamd: "too small").
const MIN_RESOURCE: u64 = 5;

pub(crate) fn is_binhex(head: &[u8]) -> bool {
    head.starts_with(BANNER)
}

const fn table() -> [u8; 128] {
    let mut t = [0xffu8; 128];
    let mut i = 0;
    while i < 64 {
        t[ALPHABET[i] as usize] = i as u8;
        i += 1;
    }
    t
}
static VALUES: [u8; 128] = table();

/// What one input character yields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Nothing,
    /// `count` copies of `byte` (1 for a literal).
    Bytes {
        byte: u8,
        count: u8,
    },
    /// Decoding ends here (banner not followed by `:`, or an invalid character).
    Stop,
}

/// clamd's character-by-character decoder (6-bit groups, then run-length expansion).
#[derive(Default)]
struct Hqx {
    /// A line break was seen: the banner line is over.
    in_data: bool,
    started: bool,
    phase: u8,
    spare: u8,
    last: u8,
    in_run: bool,
}

impl Hqx {
    fn push(&mut self, c: u8) -> Step {
        if c == b'\r' || c == b'\n' {
            self.in_data = true;
            return Step::Nothing;
        }
        if !self.in_data {
            return Step::Nothing;
        }
        if !self.started {
            if c != b':' {
                return Step::Stop;
            }
            self.started = true;
        }
        if c == b':' {
            return Step::Nothing;
        }
        let Some(&v) = VALUES.get(usize::from(c)).filter(|&&v| v != 0xff) else {
            return Step::Stop;
        };
        let phase = self.phase;
        self.phase = (self.phase + 1) & 3;
        let byte = match phase {
            0 => {
                self.spare = v << 2;
                return Step::Nothing;
            }
            1 => {
                let b = self.spare | (v >> 4);
                self.spare = v << 4;
                b
            }
            2 => {
                let b = self.spare | (v >> 2);
                self.spare = v << 6;
                b
            }
            _ => self.spare | v,
        };
        if self.in_run {
            self.in_run = false;
            if byte != 0 {
                // the marked byte was already written once
                return match byte - 1 {
                    0 => Step::Nothing,
                    count => Step::Bytes {
                        byte: self.last,
                        count,
                    },
                };
            }
            self.last = RLE;
            return Step::Bytes {
                byte: RLE,
                count: 1,
            };
        }
        if byte == RLE {
            self.in_run = true;
            return Step::Nothing;
        }
        self.last = byte;
        Step::Bytes { byte, count: 1 }
    }
}

/// A fork to scan: offset in the decoded stream and length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Fork {
    start: u64,
    len: u64,
    /// The size the header gives it (clamd checks this one against MaxFileSize).
    declared: u64,
}

/// What clamd would scan of one BinHex text, and the stored file name.
#[derive(Debug, Default, PartialEq, Eq)]
struct Plan {
    name: Vec<u8>,
    forks: Vec<Fork>,
    /// MaxFileSize, when set.
    cap: Option<u64>,
}

fn be32(b: &[u8]) -> u64 {
    u64::from(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

/// The first pass: decode all of `r` (keeping only the header) and work out the forks.
fn plan(r: &mut impl Read) -> io::Result<Plan> {
    let mut hqx = Hqx::default();
    let mut header = Vec::with_capacity(HEADER_MAX);
    let (mut total, mut since_flush, mut flushed) = (0u64, 0u64, 0u64);
    let mut stopped = false;
    let mut buf = vec![0u8; 16 * 1024];
    'read: loop {
        let n = match r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        for &c in &buf[..n] {
            // clamd empties its buffer before taking the next character
            if since_flush >= FLUSH_AT {
                flushed = total;
                since_flush = 0;
            }
            match hqx.push(c) {
                Step::Nothing => {}
                Step::Stop => {
                    stopped = true;
                    break 'read;
                }
                Step::Bytes { byte, count } => {
                    let count = usize::from(count);
                    let room = HEADER_MAX.saturating_sub(header.len()).min(count);
                    header.extend(std::iter::repeat_n(byte, room));
                    total += count as u64;
                    since_flush += count as u64;
                }
            }
        }
    }
    let (available, at_end) = if stopped {
        (flushed, false)
    } else {
        (total, true)
    };
    Ok(forks(&header, available, at_end))
}

/// Which forks clamd scans, given the header and how many decoded bytes it acted on.
fn forks(header: &[u8], available: u64, at_end: bool) -> Plan {
    let Some(&namelen) = header.first() else {
        return Plan::default();
    };
    let n = usize::from(namelen);
    let hdrlen = (n + 22) as u64;
    if available <= hdrlen || header.len() < n + 22 {
        return Plan::default();
    }
    let name = header[1..1 + n].to_vec();
    let datalen = be32(&header[n + 12..]);
    let reslen = be32(&header[n + 16..]);
    let mut forks = Vec::new();
    let data_end = hdrlen + datalen;
    if available < data_end {
        // only an input that simply ended has its partial data fork scanned
        if at_end {
            forks.push(Fork {
                start: hdrlen,
                len: available - hdrlen,
                declared: datalen,
            });
        }
        return Plan {
            name,
            forks,
            cap: None,
        };
    }
    forks.push(Fork {
        start: hdrlen,
        len: datalen,
        declared: datalen,
    });
    let res_start = data_end + 2;
    if reslen >= MIN_RESOURCE {
        let len = if available >= res_start + reslen {
            Some(reslen)
        } else {
            (at_end && available > res_start).then(|| available - res_start)
        };
        if let Some(len) = len {
            forks.push(Fork {
                start: res_start,
                len,
                declared: reslen,
            });
        }
    }
    Plan {
        name,
        forks,
        cap: None,
    }
}

/// The decoded stream of a BinHex text, from `skip` bytes on.
struct Decoded<R> {
    inner: R,
    hqx: Hqx,
    input: Vec<u8>,
    pos: usize,
    end: usize,
    pending: (u8, usize),
    skip: u64,
    done: bool,
}

impl<R: Read> Decoded<R> {
    fn new(inner: R, skip: u64) -> Self {
        Self {
            inner,
            hqx: Hqx::default(),
            input: vec![0; 16 * 1024],
            pos: 0,
            end: 0,
            pending: (0, 0),
            skip,
            done: false,
        }
    }

    /// Refill `pending` with the next decoded bytes; false at the end.
    fn fill(&mut self) -> io::Result<bool> {
        while self.pending.1 == 0 {
            if self.done {
                return Ok(false);
            }
            if self.pos == self.end {
                self.end = loop {
                    match self.inner.read(&mut self.input) {
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        other => break other?,
                    }
                };
                self.pos = 0;
                if self.end == 0 {
                    self.done = true;
                    continue;
                }
            }
            let c = self.input[self.pos];
            self.pos += 1;
            match self.hqx.push(c) {
                Step::Nothing => {}
                Step::Stop => self.done = true,
                Step::Bytes { byte, count } => {
                    let mut count = usize::from(count);
                    let skipped = (count as u64).min(self.skip);
                    self.skip -= skipped;
                    count -= skipped as usize;
                    self.pending = (byte, count);
                }
            }
        }
        Ok(true)
    }
}

impl<R: Read> Read for Decoded<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let mut n = 0;
        while n < out.len() {
            if !self.fill()? {
                break;
            }
            let (byte, count) = self.pending;
            let k = count.min(out.len() - n);
            out[n..n + k].fill(byte);
            self.pending.1 -= k;
            n += k;
        }
        Ok(n)
    }
}

/// Plan a spooled BinHex text (first pass); `None` when it cannot be read.
/// `cap` is MaxFileSize: clamd checks each fork's declared size against it.
pub(crate) fn open(spool: SpoolReader, cap: Option<u64>) -> Option<Box<dyn MemberSource>> {
    planned(spool, move |s| plan(s).map(|p| Plan { cap, ..p }))
}

/// A BinHex text ready to hand its forks to the walk.
impl MemberSource for Planned<Plan> {
    fn for_each_member(mut self: Box<Self>, each: &mut EachMember<'_>) {
        for (i, fork) in self.plan.forks.iter().enumerate() {
            if fork.len == 0 || self.spool.seek(SeekFrom::Start(0)).is_err() {
                continue;
            }
            let data = Decoded::new(&mut self.spool, fork.start).take(fork.len);
            // clamd checks the size the header declares: a fork declared over MaxFileSize
            // is skipped (after a data fork, the resource fork too) even when less of it
            // is there; the walk is handed more than MaxFileSize so that it skips it and
            // records the limit as clamd does
            if let Some(cap) = self.plan.cap.filter(|&c| fork.declared > c) {
                let mut over = data.chain(io::repeat(0)).take(cap + 1);
                let go_on = each(self.plan.name.clone(), &mut over, None);
                if !go_on || i == 0 {
                    break;
                }
                continue;
            }
            // no declared size: clamd skips (not truncates) a fork over MaxFileSize
            let mut data = data;
            if !each(self.plan.name.clone(), &mut data, None) {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Encode `decoded` (already run-length coded) as BinHex text: 6 bits a character,
    /// most significant first, the last group padded with zero bits.
    fn encode(decoded: &[u8]) -> Vec<u8> {
        let mut out = BANNER.to_vec();
        out.extend_from_slice(b"\n:");
        let (mut acc, mut bits) = (0u32, 0u32);
        for &b in decoded {
            acc = (acc << 8) | u32::from(b);
            bits += 8;
            while bits >= 6 {
                bits -= 6;
                out.push(ALPHABET[((acc >> bits) & 63) as usize]);
            }
        }
        if bits > 0 {
            out.push(ALPHABET[((acc << (6 - bits)) & 63) as usize]);
        }
        out.extend_from_slice(b":\n");
        out
    }

    fn header(name: &[u8], datalen: u32, reslen: u32) -> Vec<u8> {
        let mut h = vec![name.len() as u8];
        h.extend_from_slice(name);
        h.push(0);
        h.extend_from_slice(&[0; 10]);
        h.extend_from_slice(&datalen.to_be_bytes());
        h.extend_from_slice(&reslen.to_be_bytes());
        h.extend_from_slice(&[0, 0]);
        h
    }

    fn members(text: &[u8]) -> Vec<Vec<u8>> {
        let all = crate::tree::unpack_all(text, |s| open(s, None));
        all.into_iter().map(|(_, d, _)| d).collect()
    }

    /// With MaxFileSize 8: (member sizes handed over) for `text`.
    fn sizes_capped(text: &[u8]) -> Vec<usize> {
        let all = crate::tree::unpack_all(text, |s| open(s, Some(8)));
        all.into_iter().map(|(_, d, _)| d.len()).collect()
    }

    /// CLAMD-DET-7, CLAMD-CONF-3: a fork declared over MaxFileSize is handed over as more
    /// than MaxFileSize (so the walk skips it and records the limit) even when less of it
    /// is there; after the data fork nothing else is handed; a resource fork declared over
    /// it does not stop the data fork.
    #[test]
    fn forks_declared_over_max_file_size() {
        // data declared 20, only 6 there (the text ends): 9 bytes handed, no resource
        let mut d = header(b"a.bin", 20, 5);
        d.extend_from_slice(b"abcdef");
        assert_eq!(sizes_capped(&encode(&d)), [9]);
        // data 6 fits, resource declared 30 with 5 there: data whole, resource over
        let mut d = header(b"a.bin", 6, 30);
        d.extend_from_slice(b"abcdef");
        d.extend_from_slice(&[0, 0]);
        d.extend_from_slice(b"RSRC!");
        assert_eq!(sizes_capped(&encode(&d)), [6, 9]);
    }

    #[test]
    fn data_and_resource_forks_with_a_run() {
        let mut d = header(b"a.bin", 6, 5);
        d.extend_from_slice(&[b'x', RLE, 4, b'y', RLE, 0]); // xxxx y 0x90
        d.extend_from_slice(&[0, 0]);
        d.extend_from_slice(b"RSRC!");
        d.extend_from_slice(&[0, 0]);
        assert_eq!(
            members(&encode(&d)),
            vec![b"xxxxy\x90".to_vec(), b"RSRC!".to_vec()]
        );
    }

    #[test]
    fn small_resource_is_skipped_and_cut_input_scans_the_partial_fork() {
        let mut d = header(b"n", 3, 4);
        d.extend_from_slice(b"abc\0\0wxyz\0\0");
        assert_eq!(members(&encode(&d)), vec![b"abc".to_vec()]);
        let mut cut = header(b"n", 100, 0);
        cut.extend_from_slice(b"partial");
        assert_eq!(members(&encode(&cut)), vec![b"partial".to_vec()]);
    }

    #[test]
    fn a_stray_character_in_a_small_file_loses_everything() {
        let mut d = header(b"n", 3, 0);
        d.extend_from_slice(b"abc\0\0");
        let mut text = encode(&d);
        text.extend_from_slice(b"trailing text\n");
        assert!(members(&text).is_empty());
        assert!(members(b"(This file must be converted with BinHex 4.0)\nno colon").is_empty());
    }
}
