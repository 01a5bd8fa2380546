//! Microsoft Compiled HTML Help (CHM, `ITSF`), as clamd 1.4.6 unpacks it through libmspack
//! (CLAMD-DET-7, `ScanArchive`): the directory (PMGL chunks) lists every file with its
//! section, offset and length; names starting with `::` are system files and not scanned.
//! Section 0 files are stored; section 1 files lie in one LZX stream (the `Content` system
//! file) whose window and reset interval come from `ControlData` and whose 32 KiB frames
//! start where the `ResetTable` says. Frames are decoded with the `lzxd` crate one at a time
//! (memory: the window, at most 2 MiB, and one frame); a file before the current position
//! restarts decoding at its reset point, and the frames decoded for one CHM are capped.
//! A file that cannot be extracted whole is scanned as far as it got, as clamd does; like
//! CAB, files are cut at what is left of `MaxScanSize`.

use std::io::{self, Read, Seek, SeekFrom};

use lzxd::{Lzxd, WindowSize};

use super::le::u32_at;
use crate::spool::SpoolReader;
use crate::tree::{read_up_to, EachMember, MemberSource};

const GUIDS: [u8; 32] = [
    0x10, 0xFD, 0x01, 0x7C, 0xAA, 0x7B, 0xD0, 0x11, 0x9E, 0x0C, 0x00, 0xA0, 0xC9, 0x22, 0xE6, 0xEC,
    0x11, 0xFD, 0x01, 0x7C, 0xAA, 0x7B, 0xD0, 0x11, 0x9E, 0x0C, 0x00, 0xA0, 0xC9, 0x22, 0xE6, 0xEC,
];
const CONTENT: &[u8] = b"::DataSpace/Storage/MSCompressed/Content";
const CONTROL: &[u8] = b"::DataSpace/Storage/MSCompressed/ControlData";
const RESET_TABLE: &[u8] = b"::DataSpace/Storage/MSCompressed/Transform/{7FC28940-9D31-11D0-9B27-00A0C91E9C7C}/InstanceData/ResetTable";
const FRAME: u64 = 32 * 1024;
/// Largest compressed frame accepted (an LZX frame stored verbatim plus block headers).
const MAX_PACKED_FRAME: u64 = 64 * 1024;
/// Most directory entries read from one CHM.
const MAX_ENTRIES: usize = 65_536;

pub(crate) fn is_chm(head: &[u8]) -> bool {
    head.starts_with(b"ITSF")
}

#[derive(Debug, Clone)]
struct Entry {
    name: Vec<u8>,
    section: u64,
    offset: u64,
    length: u64,
}

fn le32(b: &[u8], at: usize) -> u64 {
    u64::from(u32_at(b, at))
}
fn le64(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

fn read_at(r: &mut SpoolReader, pos: u64, len: usize) -> Option<Vec<u8>> {
    let mut b = vec![0u8; len];
    r.seek(SeekFrom::Start(pos)).ok()?;
    (read_up_to(r, &mut b).ok()? == len).then_some(b)
}

/// libmspack's variable-length integer (7 bits per byte, high bit: more follow).
fn encint(c: &[u8], p: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    while *p < c.len() {
        let b = c[*p];
        *p += 1;
        if v >> 56 != 0 {
            return None;
        }
        v = (v << 7) | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

/// The directory: (files, system files, offset of section 0); `None` when libmspack would
/// not open the CHM at all.
fn directory(r: &mut SpoolReader) -> Option<(Vec<Entry>, Vec<Entry>, u64)> {
    let head = read_at(r, 0, 0x38 + 0x28)?;
    if &head[..4] != b"ITSF" || head[0x18..0x38] != GUIDS {
        return None;
    }
    let version = le32(&head, 4);
    let (hs0, hs1, cs0) = (le64(&head, 0x38), le64(&head, 0x48), le64(&head, 0x58));
    let length = le64(&read_at(r, hs0, 0x18)?, 8);
    let h1 = read_at(r, hs1, 0x54)?;
    let dir = hs1 + 0x54;
    let chunk_size = le32(&h1, 0x10);
    let (index_root, first, last, chunks) = (
        le32(&h1, 0x1c),
        le32(&h1, 0x20),
        le32(&h1, 0x24),
        le32(&h1, 0x2c),
    );
    let sec0 = if version < 3 {
        dir + chunk_size * chunks
    } else {
        cs0
    };
    let bad = sec0 > length
        || chunk_size < 0x16
        || chunks == 0
        || chunks > 100_000
        || chunk_size > 8192
        || chunk_size * chunks > length
        || first > last
        || (index_root != 0xffff_ffff && index_root >= chunks);
    if bad {
        return None;
    }
    let (mut files, mut system) = (Vec::new(), Vec::new());
    for n in 0..=(last - first) {
        // a directory chunk that cannot be read makes libmspack give up on the whole CHM
        let chunk = read_at(r, dir + (first + n) * chunk_size, chunk_size as usize)?;
        if &chunk[..4] != b"PMGL" {
            continue;
        }
        let end = chunk.len() - 2;
        let entries = usize::from(u16::from_le_bytes([chunk[end], chunk[end + 1]]));
        let area = &chunk[..end];
        let mut p = 0x14;
        for _ in 0..entries {
            // a bad entry ends the directory; what was read so far is kept
            let Some(name_len) = encint(area, &mut p).filter(|&l| l <= (end - p) as u64) else {
                return Some((files, system, sec0));
            };
            let name = area[p..p + name_len as usize].to_vec();
            p += name_len as usize;
            let fields = (|| {
                Some((
                    encint(area, &mut p)?,
                    encint(area, &mut p)?,
                    encint(area, &mut p)?,
                ))
            })();
            let Some((section, offset, length)) = fields else {
                return Some((files, system, sec0));
            };
            if name.len() < 2 || name[0] == 0 || name[1] == 0 || section > 1 {
                continue;
            }
            if offset == 0 && length == 0 && name.ends_with(b"/") {
                continue;
            }
            let e = Entry {
                name,
                section,
                offset,
                length,
            };
            if e.name.starts_with(b"::") {
                system.push(e);
            } else {
                files.push(e);
            }
            if files.len() + system.len() > MAX_ENTRIES {
                return Some((files, system, sec0));
            }
        }
    }
    Some((files, system, sec0))
}

/// The LZX section: where its frames are and how to decode them.
struct Lzx {
    window: WindowSize,
    /// Frames between decoder resets.
    reset_frames: u64,
    /// Absolute offset of the compressed stream and its length.
    content: u64,
    content_len: u64,
    /// Absolute offset of the reset table's first entry, entry size and count.
    table: u64,
    entry_size: u64,
    entries: u64,
    uncompressed: u64,
}

fn lzx_section(r: &mut SpoolReader, system: &[Entry], sec0: u64) -> Option<Lzx> {
    let find = |name: &[u8]| system.iter().find(|e| e.name == name && e.section == 0);
    let (content, control, rtable) = (find(CONTENT)?, find(CONTROL)?, find(RESET_TABLE)?);
    // libmspack wants ControlData of exactly its structure's size
    if control.length != 0x1c || rtable.length < 0x28 {
        return None;
    }
    let c = read_at(r, sec0 + control.offset, 0x18)?;
    if &c[4..8] != b"LZXC" {
        return None;
    }
    let (mut reset, mut window) = (le32(&c, 0x0c), le32(&c, 0x10));
    if le32(&c, 8) == 2 {
        reset *= FRAME;
        window *= FRAME;
    }
    let window = match window {
        0x8000 => WindowSize::KB32,
        0x10000 => WindowSize::KB64,
        0x20000 => WindowSize::KB128,
        0x40000 => WindowSize::KB256,
        0x80000 => WindowSize::KB512,
        0x100000 => WindowSize::MB1,
        0x200000 => WindowSize::MB2,
        _ => return None,
    };
    if reset == 0 || !reset.is_multiple_of(FRAME) {
        return None;
    }
    let t = read_at(r, sec0 + rtable.offset, 0x28)?;
    let entry_size = le32(&t, 8);
    if le32(&t, 0x20) != FRAME || !(entry_size == 4 || entry_size == 8) {
        return None;
    }
    let table_offset = le32(&t, 0x0c);
    let entries = le32(&t, 4).min(rtable.length.saturating_sub(table_offset) / entry_size);
    Some(Lzx {
        window,
        reset_frames: reset / FRAME,
        content: sec0 + content.offset,
        content_len: content.length.min(le64(&t, 0x18)),
        table: sec0 + rtable.offset + table_offset,
        entry_size,
        entries,
        // libmspack rounds the length up to the reset interval, so every frame is 32 KiB
        uncompressed: le64(&t, 0x10).div_ceil(reset).saturating_mul(reset),
    })
}

/// The decoded LZX section as a seekable-forward stream of frames.
struct Frames {
    lzx: Lzx,
    decoder: Lzxd,
    /// The next frame to decode.
    next: u64,
    frame: Vec<u8>,
    /// Position (in the section) of `frame[0]`, and the read position within `frame`.
    frame_start: u64,
    at: usize,
    /// Frames decoded so far and the most allowed for this CHM.
    decoded: u64,
    budget: u64,
    failed: bool,
}

impl Frames {
    fn new(lzx: Lzx) -> Self {
        // a frame takes at least a 4-byte block header: the packed size bounds the frames
        let total = lzx
            .uncompressed
            .div_ceil(FRAME)
            .min(lzx.content_len / 4 + 1);
        Self {
            decoder: Lzxd::new(lzx.window),
            budget: total.saturating_mul(4).saturating_add(1024),
            lzx,
            next: 0,
            frame: Vec::new(),
            frame_start: 0,
            at: 0,
            decoded: 0,
            failed: false,
        }
    }

    fn entry(&self, r: &mut SpoolReader, k: u64) -> Option<u64> {
        if k >= self.lzx.entries {
            return (k == self.lzx.entries).then_some(self.lzx.content_len);
        }
        let b = read_at(
            r,
            self.lzx.table + k * self.lzx.entry_size,
            self.lzx.entry_size as usize,
        )?;
        Some(if self.lzx.entry_size == 8 {
            le64(&b, 0)
        } else {
            le32(&b, 0)
        })
    }

    /// Decode the next frame into `frame`; false at the end or on an error.
    fn decode_next(&mut self, r: &mut SpoolReader) -> bool {
        if self.failed || self.next * FRAME >= self.lzx.uncompressed || self.decoded >= self.budget
        {
            return false;
        }
        let k = self.next;
        let span = (|| {
            let start = self.entry(r, k)?;
            let end = self.entry(r, k + 1).unwrap_or(self.lzx.content_len);
            (start <= end && end - start <= MAX_PACKED_FRAME && end <= self.lzx.content_len)
                .then_some((start, end))
        })();
        let Some((start, end)) = span else {
            self.failed = true;
            return false;
        };
        let Some(packed) = read_at(r, self.lzx.content + start, (end - start) as usize) else {
            self.failed = true;
            return false;
        };
        if k.is_multiple_of(self.lzx.reset_frames) && k > 0 {
            self.decoder.reset();
        }
        let out_len = FRAME as usize;
        match self.decoder.decompress_next(&packed, out_len) {
            Ok(out) => {
                self.frame.clear();
                self.frame.extend_from_slice(out);
            }
            Err(_) => {
                self.failed = true;
                return false;
            }
        }
        self.frame_start = k * FRAME;
        self.at = 0;
        self.next += 1;
        self.decoded += 1;
        true
    }

    /// Position the stream at `offset`: go on decoding forward, or restart at the reset
    /// point before it.
    fn seek(&mut self, r: &mut SpoolReader, offset: u64) -> bool {
        let here = self.frame_start + self.at as u64;
        if offset < here || self.frame.is_empty() && self.next > 0 {
            let k = offset / FRAME / self.lzx.reset_frames * self.lzx.reset_frames;
            self.decoder.reset();
            self.next = k;
            self.frame.clear();
            self.frame_start = k * FRAME;
            self.at = 0;
            self.failed = false;
        }
        while offset >= self.frame_start + self.frame.len() as u64 {
            if !self.decode_next(r) {
                return false;
            }
        }
        self.at = (offset - self.frame_start) as usize;
        true
    }
}

/// One file of the LZX section: `left` bytes from the current position.
struct Section1<'a> {
    frames: &'a mut Frames,
    r: &'a mut SpoolReader,
    left: u64,
}

impl Read for Section1<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            return Ok(0);
        }
        if self.frames.at == self.frames.frame.len() && !self.frames.decode_next(self.r) {
            // what was extracted is scanned, as clamd does
            self.left = 0;
            return Ok(0);
        }
        let avail = &self.frames.frame[self.frames.at..];
        let n = avail
            .len()
            .min(buf.len())
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        buf[..n].copy_from_slice(&avail[..n]);
        self.frames.at += n;
        self.left -= n as u64;
        Ok(n)
    }
}

struct Chm {
    spool: SpoolReader,
    files: Vec<Entry>,
    sec0: u64,
    frames: Option<Frames>,
}

pub(crate) fn open(mut spool: SpoolReader) -> Option<Box<dyn MemberSource>> {
    let (files, system, sec0) = directory(&mut spool)?;
    let frames = lzx_section(&mut spool, &system, sec0).map(Frames::new);
    Some(Box::new(Chm {
        spool,
        files,
        sec0,
        frames,
    }))
}

impl MemberSource for Chm {
    fn cut_at_scan_budget(&self) -> bool {
        true
    }

    fn for_each_member(mut self: Box<Self>, each: &mut EachMember<'_>) {
        for f in std::mem::take(&mut self.files) {
            if f.length == 0 {
                continue;
            }
            let go_on = if f.section == 0 {
                let Some(start) = self.sec0.checked_add(f.offset) else {
                    continue;
                };
                if self.spool.seek(SeekFrom::Start(start)).is_err() {
                    continue;
                }
                let mut data = (&mut self.spool).take(f.length);
                each(f.name, &mut data, Some(f.length))
            } else {
                let Some(frames) = self.frames.as_mut() else {
                    continue;
                };
                if !frames.seek(&mut self.spool, f.offset) {
                    continue;
                }
                let mut data = Section1 {
                    frames,
                    r: &mut self.spool,
                    left: f.length,
                };
                each(f.name, &mut data, Some(f.length))
            };
            if !go_on {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encints() {
        let mut p = 0;
        assert_eq!(encint(&[0x81, 0x00, 0x05], &mut p), Some(128));
        assert_eq!(encint(&[0x81, 0x00, 0x05], &mut p), Some(5));
        assert_eq!(encint(&[0x80], &mut 0), None);
    }

    #[test]
    fn a_stored_file_from_a_minimal_chm() {
        // ITSF v3, header sections, one PMGL chunk of 0x200 bytes, section 0 after it
        let chunk = 0x200usize;
        let mut f = vec![0u8; 0x60];
        f[..4].copy_from_slice(b"ITSF");
        f[4] = 3;
        f[0x18..0x38].copy_from_slice(&GUIDS);
        let hs0 = 0x60u64;
        let hs1 = hs0 + 0x18;
        let dir = hs1 + 0x54;
        let sec0 = dir + chunk as u64;
        f[0x38..0x40].copy_from_slice(&hs0.to_le_bytes());
        f[0x48..0x50].copy_from_slice(&hs1.to_le_bytes());
        f[0x58..0x60].copy_from_slice(&sec0.to_le_bytes());
        let mut h0 = vec![0u8; 0x18];
        let total = sec0 + 5;
        h0[8..16].copy_from_slice(&total.to_le_bytes());
        f.extend(h0);
        let mut h1 = vec![0u8; 0x54];
        h1[..4].copy_from_slice(b"ITSP");
        h1[0x10..0x14].copy_from_slice(&(chunk as u32).to_le_bytes());
        h1[0x1c..0x20].copy_from_slice(&u32::MAX.to_le_bytes());
        h1[0x2c..0x30].copy_from_slice(&1u32.to_le_bytes());
        f.extend(h1);
        let mut c = vec![0u8; chunk];
        c[..4].copy_from_slice(b"PMGL");
        let mut e = vec![6u8];
        e.extend_from_slice(b"/a.htm");
        e.extend_from_slice(&[0, 0, 5]);
        e.extend_from_slice(&[9]); // a system file: listed, never scanned
        e.extend_from_slice(b"::Sysfile");
        e.extend_from_slice(&[0, 0, 1]);
        c[0x14..0x14 + e.len()].copy_from_slice(&e);
        c[chunk - 2] = 2;
        f.extend(c);
        f.extend_from_slice(b"hello");
        let got: Vec<_> = crate::tree::unpack_all(&f, open)
            .into_iter()
            .map(|(n, d, _)| (n, d))
            .collect();
        assert_eq!(got, vec![(b"/a.htm".to_vec(), b"hello".to_vec())]);
    }
}
