//! ARJ archives, as clamd 1.4.6 unpacks them (CLAMD-DET-7, `ScanArchive`): a main header,
//! then per member the `60 ea` mark and a file header (sizes, method, flags, name, comment,
//! CRC, extended headers). Methods 0 (stored), 1-3 (LZ77 + Huffman, 26 KiB dictionary) and
//! 4 (LZ77 with Elias-gamma-like codes) are expanded; encrypted ("garbled") members are
//! skipped. This follows clamd's decoder closely because its quirks decide what is scanned:
//! output is written in 26624-byte pieces and a decoding error drops the piece in progress;
//! decoding runs until the stated size is reached (a last copy may run past it), reading
//! zero bits once the packed size is used up; the next header is read where the decoder
//! stopped reading, and a member clamd cannot expand (unknown method) ends the archive.
//!
//! Memory is the dictionary and the Huffman tables; a member is expanded as a stream. Past
//! [`DRAIN_LIMIT`] bytes decoded in one archive only to find the next header (after the walk
//! stopped reading a member) the archive ends, so tiny headers cannot make a long walk.

use std::io::{self, Read, Seek, SeekFrom};

use crate::spool::SpoolReader;
use crate::tree::{read_up_to, EachMember, MemberSource};

const MARK: [u8; 2] = [0x60, 0xea];
const FIRST_HDR_SIZE: usize = 30;
const HEADERSIZE_MAX: usize = FIRST_HDR_SIZE + 10 + 512 + 2048;
const DICSIZ: usize = 26624;
const THRESHOLD: i32 = 3;
const MAXMATCH: usize = 256;
const NC: usize = 255 + MAXMATCH + 2 - THRESHOLD as usize;
const NP: usize = 16 + 1;
const NT: usize = 16 + 3;
const NPT: usize = NT;
const CBIT: i32 = 9;
const PBIT: i32 = 5;
const TBIT: i32 = 5;
const CTABLESIZE: usize = 4096;
const PTABLESIZE: usize = 256;
const TREE: usize = 2 * NC - 1;
const GARBLED: u8 = 0x01;
/// Most bytes decoded, in one archive, past where the walk stopped reading members (to find
/// the next header).
const DRAIN_LIMIT: u64 = 16 << 20;

pub(crate) fn is_arj(head: &[u8]) -> bool {
    head.starts_with(&MARK)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Ok,
    /// clamd's CL_EFORMAT: the packed data ran out; no more bytes are read.
    Format,
    /// clamd's CL_EUNPACK: a bad table.
    Unpack,
}

/// Where a table walk ends: the lookup table, or a left / right tree node.
#[derive(Clone, Copy)]
enum Slot {
    Table(usize),
    Left(usize),
    Right(usize),
}

/// clamd's ARJ bit reader and decoder state for one member.
struct Decoder<R> {
    input: R,
    inbuf: Vec<u8>,
    inpos: usize,
    inlen: usize,
    /// Bytes read from the member's data.
    consumed: u64,
    comp_size: u32,
    bit_buf: u16,
    sub_bit_buf: u8,
    bit_count: i32,
    status: Status,
    left: Vec<u16>,
    right: Vec<u16>,
    c_len: Vec<u8>,
    c_table: Vec<u16>,
    pt_len: Vec<u8>,
    pt_table: Vec<u16>,
    blocksize: u16,
    getbuf: u16,
    getlen: i32,
}

impl<R: Read> Decoder<R> {
    fn new(input: R, comp_size: u32) -> Self {
        Self {
            input,
            inbuf: vec![0; 8192],
            inpos: 0,
            inlen: 0,
            consumed: 0,
            comp_size,
            bit_buf: 0,
            sub_bit_buf: 0,
            bit_count: 0,
            status: Status::Ok,
            left: vec![0; TREE],
            right: vec![0; TREE],
            c_len: vec![0; NC],
            c_table: vec![0; CTABLESIZE],
            pt_len: vec![0; NPT],
            pt_table: vec![0; PTABLESIZE],
            blocksize: 0,
            getbuf: 0,
            getlen: 0,
        }
    }

    fn byte(&mut self) -> Option<u8> {
        if self.inpos == self.inlen {
            self.inlen = read_up_to(&mut self.input, &mut self.inbuf).unwrap_or(0);
            self.inpos = 0;
            if self.inlen == 0 {
                return None;
            }
        }
        self.inpos += 1;
        Some(self.inbuf[self.inpos - 1])
    }

    fn fill_buf(&mut self, mut n: i32) {
        if self.status == Status::Format {
            return;
        }
        self.bit_buf = (u32::from(self.bit_buf) << n) as u16;
        while n > self.bit_count {
            n -= self.bit_count;
            self.bit_buf |= (u32::from(self.sub_bit_buf) << n) as u16;
            if self.comp_size != 0 {
                self.comp_size -= 1;
                match self.byte() {
                    Some(b) => self.sub_bit_buf = b,
                    None => {
                        self.status = Status::Format;
                        return;
                    }
                }
                self.consumed += 1;
            } else {
                self.sub_bit_buf = 0;
            }
            self.bit_count = 8;
        }
        self.bit_count -= n;
        self.bit_buf |= u16::from(self.sub_bit_buf >> self.bit_count);
    }

    fn getbits(&mut self, n: i32) -> u16 {
        let x = (u32::from(self.bit_buf) >> (16 - n)) as u16;
        self.fill_buf(n);
        x
    }

    fn fail(&mut self, s: Status) -> bool {
        self.status = s;
        false
    }

    fn slot_get(&self, which: Tab, s: Slot) -> u16 {
        match s {
            Slot::Table(i) => self.table(which)[i],
            Slot::Left(i) => self.left[i],
            Slot::Right(i) => self.right[i],
        }
    }

    fn slot_set(&mut self, which: Tab, s: Slot, v: u16) {
        match s {
            Slot::Table(i) => self.table_mut(which)[i] = v,
            Slot::Left(i) => self.left[i] = v,
            Slot::Right(i) => self.right[i] = v,
        }
    }

    fn table(&self, which: Tab) -> &[u16] {
        match which {
            Tab::C => &self.c_table,
            Tab::Pt => &self.pt_table,
        }
    }

    fn table_mut(&mut self, which: Tab) -> &mut [u16] {
        match which {
            Tab::C => &mut self.c_table,
            Tab::Pt => &mut self.pt_table,
        }
    }

    /// clamd's `make_table` over `c_len` or `pt_len`; false (status set) when malformed.
    fn make_table(&mut self, which: Tab, nchar: usize, tablebits: u32) -> bool {
        let bitlen: Vec<u8> = match which {
            Tab::C => self.c_len[..nchar].to_vec(),
            Tab::Pt => self.pt_len[..nchar.min(NPT)].to_vec(),
        };
        let tablesize = self.table(which).len();
        let mut count = [0u16; 17];
        for &l in &bitlen {
            if l >= 17 {
                return self.fail(Status::Unpack);
            }
            count[usize::from(l)] = count[usize::from(l)].wrapping_add(1);
        }
        let mut start = [0u16; 18];
        for i in 1..=16 {
            start[i + 1] = start[i].wrapping_add(((u32::from(count[i])) << (16 - i)) as u16);
        }
        if start[17] != 0 {
            return self.fail(Status::Unpack);
        }
        let jutbits = 16 - tablebits;
        let mut weight = [0u16; 17];
        for i in 1..=16usize {
            if i as u32 <= tablebits {
                start[i] >>= jutbits;
                weight[i] = 1 << (tablebits - i as u32);
            } else {
                weight[i] = (1u32 << (16 - i)) as u16;
            }
        }
        let mut i = u32::from(start[tablebits as usize + 1] >> jutbits);
        if i != 0 {
            let k = 1u32 << tablebits;
            while i != k {
                if i as usize >= tablesize {
                    return self.fail(Status::Unpack);
                }
                self.table_mut(which)[i as usize] = 0;
                i += 1;
            }
        }
        let mut avail = nchar;
        let mask = 1u32 << (15 - tablebits);
        for (ch, &len) in bitlen.iter().enumerate() {
            if len == 0 {
                continue;
            }
            let len = usize::from(len);
            let mut k = u32::from(start[len]);
            let nextcode = k + u32::from(weight[len]);
            if len as u32 <= tablebits {
                if nextcode as usize > tablesize {
                    return self.fail(Status::Unpack);
                }
                for j in k..nextcode {
                    self.table_mut(which)[j as usize] = ch as u16;
                }
            } else {
                let mut p = Slot::Table((k >> jutbits) as usize);
                let mut n = len as u32 - tablebits;
                while n != 0 {
                    if self.slot_get(which, p) == 0 {
                        if avail >= TREE {
                            return self.fail(Status::Unpack);
                        }
                        self.right[avail] = 0;
                        self.left[avail] = 0;
                        self.slot_set(which, p, avail as u16);
                        avail += 1;
                    }
                    let node = usize::from(self.slot_get(which, p));
                    if node >= TREE {
                        return self.fail(Status::Unpack);
                    }
                    p = if k & mask != 0 {
                        Slot::Right(node)
                    } else {
                        Slot::Left(node)
                    };
                    k <<= 1;
                    n -= 1;
                }
                self.slot_set(which, p, ch as u16);
            }
            start[len] = nextcode as u16;
        }
        true
    }

    fn read_pt_len(&mut self, nn: usize, nbit: i32, i_special: i32) {
        let n = i32::from(self.getbits(nbit));
        if n == 0 {
            if nn > NPT {
                self.status = Status::Unpack;
                return;
            }
            let c = self.getbits(nbit);
            self.pt_len[..nn].fill(0);
            self.pt_table.fill(c);
            return;
        }
        let mut i = 0usize;
        while (i as i32) < n && i < NPT {
            let mut c = self.bit_buf >> 13;
            if c == 7 {
                let mut mask = 1u16 << 12;
                while mask & self.bit_buf != 0 {
                    mask >>= 1;
                    c += 1;
                }
            }
            self.fill_buf(if c < 7 { 3 } else { i32::from(c) - 3 });
            if self.status != Status::Ok {
                return;
            }
            self.pt_len[i] = c as u8;
            i += 1;
            if i as i32 == i_special {
                let mut c = i32::from(self.getbits(2));
                if self.status != Status::Ok {
                    return;
                }
                loop {
                    c -= 1;
                    if c < 0 || i >= NPT {
                        break;
                    }
                    self.pt_len[i] = 0;
                    i += 1;
                }
            }
        }
        while i < nn && i < NPT {
            self.pt_len[i] = 0;
            i += 1;
        }
        self.make_table(Tab::Pt, nn, 8);
    }

    fn read_c_len(&mut self) {
        let n = i32::from(self.getbits(CBIT));
        if self.status != Status::Ok {
            return;
        }
        if n == 0 {
            let c = self.getbits(CBIT);
            if self.status != Status::Ok {
                return;
            }
            self.c_len.fill(0);
            self.c_table.fill(c);
            return;
        }
        let mut i = 0usize;
        while (i as i32) < n {
            let first = usize::from(self.pt_table[usize::from(self.bit_buf >> 8)]);
            let Some(c) = self.walk(first, NT, 1 << 7, Status::Format) else {
                return;
            };
            if c >= 19 {
                self.status = Status::Unpack;
                return;
            }
            self.fill_buf(i32::from(self.pt_len[c]));
            if self.status != Status::Ok {
                return;
            }
            if c <= 2 {
                let mut run = match c {
                    0 => 1,
                    1 => i32::from(self.getbits(4)) + 3,
                    _ => i32::from(self.getbits(CBIT)) + 20,
                };
                if self.status != Status::Ok {
                    return;
                }
                loop {
                    run -= 1;
                    if run < 0 {
                        break;
                    }
                    if i >= NC {
                        self.status = Status::Format;
                        return;
                    }
                    self.c_len[i] = 0;
                    i += 1;
                }
            } else {
                if i >= NC {
                    self.status = Status::Format;
                    return;
                }
                self.c_len[i] = (c - 2) as u8;
                i += 1;
            }
        }
        self.c_len[i..].fill(0);
        self.make_table(Tab::C, NC, 12);
    }

    /// Follow a table entry at or past `below` down the left/right tree by the bits of
    /// `bit_buf` from `mask` on; `None` (status `err`) on a node outside the tree.
    fn walk(&mut self, mut c: usize, below: usize, mut mask: u16, err: Status) -> Option<usize> {
        while c >= below {
            if c >= TREE {
                self.status = err;
                return None;
            }
            c = usize::from(if self.bit_buf & mask != 0 {
                self.right[c]
            } else {
                self.left[c]
            });
            mask >>= 1;
        }
        Some(c)
    }

    fn decode_c(&mut self) -> u16 {
        if self.blocksize == 0 {
            self.blocksize = self.getbits(16);
            self.read_pt_len(NT, TBIT, 3);
            self.read_c_len();
            // clamd reads the position table with NT entries too
            self.read_pt_len(NT, PBIT, -1);
        }
        self.blocksize = self.blocksize.wrapping_sub(1);
        let first = usize::from(self.c_table[usize::from(self.bit_buf >> 4)]);
        let Some(j) = self.walk(first, NC, 1 << 3, Status::Unpack) else {
            return 0;
        };
        self.fill_buf(i32::from(self.c_len[j]));
        j as u16
    }

    fn decode_p(&mut self) -> u16 {
        let first = usize::from(self.pt_table[usize::from(self.bit_buf >> 8)]);
        let Some(j) = self.walk(first, NP, 1 << 7, Status::Unpack) else {
            return 0;
        };
        self.fill_buf(i32::from(self.pt_len[j.min(NPT - 1)]));
        if j != 0 {
            let b = (j - 1) as i32;
            return ((1u32 << b) as u16).wrapping_add(self.getbits(b));
        }
        0
    }

    /// Method 4's bit reader.
    fn bfil(&mut self) {
        self.getbuf |= self.bit_buf >> self.getlen;
        self.fill_buf(16 - self.getlen);
        self.getlen = 16;
    }

    fn getbit4(&mut self) -> u16 {
        if self.getlen <= 0 {
            self.bfil();
        }
        let c = u16::from(self.getbuf & 0x8000 != 0);
        self.getbuf = self.getbuf.wrapping_mul(2);
        self.getlen -= 1;
        c
    }

    fn getbits4(&mut self, l: i32) -> u16 {
        if self.getlen < l {
            self.bfil();
        }
        let c = self.getbuf >> (16 - l);
        self.getbuf = (u32::from(self.getbuf) << l) as u16;
        self.getlen -= l;
        c
    }

    fn decode_gamma(&mut self, start: u16, stop: u16) -> u16 {
        let (mut plus, mut pwr) = (0u16, 1u16 << start);
        let mut width = start;
        while width < stop {
            if self.getbit4() == 0 {
                break;
            }
            plus = plus.wrapping_add(pwr);
            pwr = pwr.wrapping_shl(1);
            width += 1;
        }
        let c = if width != 0 {
            self.getbits4(i32::from(width))
        } else {
            0
        };
        c.wrapping_add(plus)
    }
}

#[derive(Clone, Copy)]
enum Tab {
    C,
    Pt,
}

/// One member's expanded stream, piece by piece as clamd writes it.
struct Expand<R> {
    d: Decoder<R>,
    method4: bool,
    text: Vec<u8>,
    out_ptr: usize,
    count: u32,
    orig_size: u32,
    /// Bytes ready for the reader (a finished piece, or the last one at the end).
    ready: Vec<u8>,
    ready_at: usize,
    done: bool,
    started: bool,
}

impl<R: Read> Expand<R> {
    fn new(input: R, comp_size: u32, orig_size: u32, method4: bool) -> Self {
        Self {
            d: Decoder::new(input, comp_size),
            method4,
            text: vec![0; DICSIZ],
            out_ptr: 0,
            count: 0,
            orig_size,
            ready: Vec::new(),
            ready_at: 0,
            done: false,
            started: false,
        }
    }

    fn put(&mut self, b: u8) {
        self.text[self.out_ptr] = b;
        self.out_ptr += 1;
        if self.out_ptr >= DICSIZ {
            self.out_ptr = 0;
            self.ready.extend_from_slice(&self.text);
        }
    }

    /// The position to copy from, as clamd's 16-bit arithmetic computes it; `None` ends
    /// decoding (clamd's `break`, after which the piece in progress is still written).
    fn source(&self, back: u16) -> Option<usize> {
        let mut i = (self.out_ptr as u32)
            .wrapping_sub(back as i16 as i32 as u32)
            .wrapping_sub(1) as u16 as i16;
        if i < 0 {
            i = (i32::from(i) + DICSIZ as i32) as i16;
        }
        (i >= 0 && (i as usize) < DICSIZ).then_some(i as usize)
    }

    fn copy(&mut self, mut i: usize, j: i32) {
        for _ in 0..j.max(0) {
            let b = self.text[i];
            self.put(b);
            i = (i + 1) % DICSIZ;
        }
    }

    /// Decode one symbol; sets `done` at the end (flushing the piece only on success).
    fn step(&mut self) {
        if !self.started {
            self.started = true;
            self.d.fill_buf(16);
            if self.d.status != Status::Ok {
                self.done = true;
                return;
            }
        }
        if self.count >= self.orig_size {
            return self.finish(true);
        }
        if self.method4 {
            let chr = self.d.decode_gamma(0, 7);
            if self.d.status != Status::Ok {
                return self.finish(false);
            }
            if chr == 0 {
                let b = self.d.getbits4(8);
                if self.d.status != Status::Ok {
                    return self.finish(false);
                }
                self.put(b as u8);
                self.count = self.count.wrapping_add(1);
            } else {
                let j = i32::from(chr as i16) - 1 + THRESHOLD;
                self.count = self.count.wrapping_add(j as u32);
                let pos = self.d.decode_gamma(9, 13);
                if self.d.status != Status::Ok {
                    return self.finish(false);
                }
                match self.source(pos) {
                    Some(i) => self.copy(i, j),
                    None => return self.finish(true),
                }
            }
            return;
        }
        let chr = self.d.decode_c();
        if chr <= 255 {
            self.put(chr as u8);
            self.count = self.count.wrapping_add(1);
        } else {
            let j = i32::from(chr) - (256 - THRESHOLD);
            self.count = self.count.wrapping_add(j as u32);
            let back = self.d.decode_p();
            match self.source(back) {
                Some(i) => self.copy(i, j),
                None => return self.finish(true),
            }
        }
        if self.d.status != Status::Ok {
            self.finish(false);
        }
    }

    fn finish(&mut self, ok: bool) {
        if ok && self.out_ptr != 0 {
            self.ready.extend_from_slice(&self.text[..self.out_ptr]);
        }
        self.done = true;
    }
}

impl<R: Read> Read for Expand<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.ready_at == self.ready.len() {
            if self.done {
                return Ok(0);
            }
            self.ready.clear();
            self.ready_at = 0;
            self.step();
        }
        let n = out.len().min(self.ready.len() - self.ready_at);
        out[..n].copy_from_slice(&self.ready[self.ready_at..self.ready_at + n]);
        self.ready_at += n;
        Ok(n)
    }
}

/// A file header's fields that matter here.
struct FileHeader {
    name: Vec<u8>,
    method: u8,
    garbled: bool,
    comp_size: u32,
    orig_size: u32,
}

/// The NUL-terminated string at `pos` within `max + 1` bytes (and the input), as clamd's
/// `fmap_need_offstr`: `None` when there is no NUL there.
fn string_at(r: &mut SpoolReader, pos: u64, max: usize) -> io::Result<Option<Vec<u8>>> {
    let mut buf = vec![0u8; max + 1];
    r.seek(SeekFrom::Start(pos))?;
    let n = read_up_to(r, &mut buf)?;
    buf.truncate(n);
    Ok(buf.iter().position(|&b| b == 0).map(|end| {
        buf.truncate(end.min(max));
        buf
    }))
}

/// clamd's header reader (main and file headers share the layout); `Ok(None)` at the end
/// mark (size 0) or a bad header. `pos` is at the header size field; it ends past the header.
fn read_header(
    r: &mut SpoolReader,
    len: u64,
    pos: &mut u64,
) -> io::Result<Option<(FileHeader, [u8; 30])>> {
    let orig = *pos;
    let mut b = [0u8; 2];
    r.seek(SeekFrom::Start(*pos))?;
    if read_up_to(r, &mut b)? < 2 {
        return Ok(None);
    }
    *pos += 2;
    let header_size = usize::from(u16::from_le_bytes(b));
    if header_size == 0 || header_size > HEADERSIZE_MAX || (header_size + 2) as u64 > len - *pos {
        return Ok(None);
    }
    let mut h = [0u8; 30];
    if read_up_to(r, &mut h)? < 30 {
        return Ok(None);
    }
    *pos += 30;
    let first = usize::from(h[0]);
    if first < FIRST_HDR_SIZE {
        return Ok(None);
    }
    *pos += (first - FIRST_HDR_SIZE) as u64;
    let mut strings = Vec::new();
    for _ in 0..2 {
        let max = (header_size as u64 + 2).wrapping_sub(*pos - orig);
        if max > header_size as u64 {
            return Ok(None);
        }
        let s = if max > 0 {
            match string_at(r, *pos, max as usize)? {
                Some(s) => s,
                None => return Ok(None),
            }
        } else {
            Vec::new()
        };
        *pos += s.len() as u64 + 1;
        strings.push(s);
    }
    *pos += 4; // header CRC
    loop {
        r.seek(SeekFrom::Start(*pos))?;
        if read_up_to(r, &mut b)? < 2 {
            return Ok(None);
        }
        *pos += 2;
        match u16::from_le_bytes(b) {
            0 => break,
            n => *pos += u64::from(n) + 4,
        }
    }
    let le32 = |i: usize| u32::from_le_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
    let header = FileHeader {
        name: strings.swap_remove(0),
        method: h[5],
        garbled: h[4] & GARBLED != 0,
        comp_size: le32(12),
        orig_size: le32(16),
    };
    Ok(Some((header, h)))
}

fn mark_at(r: &mut SpoolReader, pos: u64) -> io::Result<bool> {
    let mut m = [0u8; 2];
    r.seek(SeekFrom::Start(pos))?;
    Ok(read_up_to(r, &mut m)? == 2 && m == MARK)
}

struct Arj {
    spool: SpoolReader,
    len: u64,
    /// Offset of the first member's mark.
    first: u64,
}

pub(crate) fn open(mut spool: SpoolReader) -> Option<Box<dyn MemberSource>> {
    let len = spool.seek(SeekFrom::End(0)).ok()?;
    if !mark_at(&mut spool, 0).ok()? {
        return None;
    }
    let mut pos = 2;
    read_header(&mut spool, len, &mut pos).ok()??;
    Some(Box::new(Arj {
        spool,
        len,
        first: pos,
    }))
}

impl Arj {
    /// Walk the members; `Err` only for an unreadable spool.
    fn walk(&mut self, each: &mut EachMember<'_>) -> io::Result<()> {
        let mut pos = self.first;
        let mut drained = 0u64;
        loop {
            if !mark_at(&mut self.spool, pos)? {
                return Ok(());
            }
            pos += 2;
            let Some((h, _)) = read_header(&mut self.spool, self.len, &mut pos)? else {
                return Ok(());
            };
            if h.garbled {
                pos += u64::from(h.comp_size);
                continue;
            }
            self.spool.seek(SeekFrom::Start(pos))?;
            match h.method {
                0 => {
                    let avail = u64::from(h.comp_size).min(self.len.saturating_sub(pos));
                    let mut data = (&mut self.spool).take(avail);
                    if !each(h.name, &mut data, None) {
                        return Ok(());
                    }
                    pos += avail;
                }
                1..=4 => {
                    let packed = (&mut self.spool).take(u64::from(h.comp_size));
                    let mut x = Expand::new(packed, h.comp_size, h.orig_size, h.method == 4);
                    // clamd writes each member out and scans the file: past MaxFileSize it
                    // is skipped, not cut
                    let go_on = each(h.name, &mut x, None);
                    if !go_on {
                        return Ok(());
                    }
                    // the next header is where the decoder stopped reading
                    let mut sink = vec![0u8; 64 * 1024];
                    loop {
                        let n = x.read(&mut sink)?;
                        if n == 0 {
                            break;
                        }
                        drained += n as u64;
                        if drained > DRAIN_LIMIT {
                            return Ok(());
                        }
                    }
                    pos += x.d.consumed;
                }
                // clamd scans an empty file and reads the next header at this member's data
                _ => {}
            }
        }
    }
}

impl MemberSource for Arj {
    fn for_each_member(mut self: Box<Self>, each: &mut EachMember<'_>) {
        // an unreadable spool ends the archive like its end mark would
        let _ = self.walk(each);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A header block: size, the 30 fixed bytes, name, comment, CRC, no extended header.
    fn header(method: u8, flags: u8, comp: u32, orig: u32, name: &str) -> Vec<u8> {
        let mut fixed = [0u8; 30];
        fixed[0] = 30;
        fixed[4] = flags;
        fixed[5] = method;
        fixed[12..16].copy_from_slice(&comp.to_le_bytes());
        fixed[16..20].copy_from_slice(&orig.to_le_bytes());
        let mut body = fixed.to_vec();
        body.extend_from_slice(name.as_bytes());
        body.extend_from_slice(&[0, 0]);
        let mut out = MARK.to_vec();
        out.extend_from_slice(&(body.len() as u16).to_le_bytes());
        out.extend_from_slice(&body);
        out.extend_from_slice(&[0; 4]); // CRC
        out.extend_from_slice(&[0, 0]); // no extended header
        out
    }

    fn members(data: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
        let all = crate::tree::unpack_all(data, open);
        all.into_iter().map(|(n, d, _)| (n, d)).collect()
    }

    #[test]
    fn stored_members_in_order_and_garbled_ones_skipped() {
        let mut a = header(0, 0, 0, 0, "archive.arj");
        for (name, flags, data) in [
            ("a", 0, &b"first"[..]),
            ("b", GARBLED, b"xx"),
            ("c", 0, b"third"),
        ] {
            a.extend(header(0, flags, data.len() as u32, data.len() as u32, name));
            a.extend_from_slice(data);
        }
        a.extend_from_slice(&MARK);
        a.extend_from_slice(&[0, 0]);
        assert_eq!(
            members(&a),
            crate::tree::owned(&[(b"a", b"first"), (b"c", b"third")])
        );
    }

    #[test]
    fn method_4_literals() {
        // each literal: a 0 bit (length code 0), then 8 bits, most significant first
        let text = b"ARJ4";
        let mut bits = Vec::new();
        for &c in text {
            bits.push(0u8);
            for k in (0..8).rev() {
                bits.push((c >> k) & 1);
            }
        }
        let mut packed = vec![0u8; bits.len().div_ceil(8)];
        for (i, b) in bits.iter().enumerate() {
            packed[i / 8] |= b << (7 - i % 8);
        }
        let mut a = header(0, 0, 0, 0, "x.arj");
        a.extend(header(4, 0, packed.len() as u32, text.len() as u32, "t"));
        a.extend_from_slice(&packed);
        assert_eq!(members(&a), vec![(b"t".to_vec(), text.to_vec())]);
    }

    #[test]
    fn an_unknown_method_ends_the_archive() {
        let mut a = header(0, 0, 0, 0, "x.arj");
        a.extend(header(9, 0, 3, 3, "odd"));
        a.extend_from_slice(b"abc");
        a.extend(header(0, 0, 2, 2, "never"));
        a.extend_from_slice(b"zz");
        assert!(members(&a).is_empty());
    }
}
