//! zip members compressed with PKZIP 1.x "implode" (method 6), expanded as clamd 1.4.6
//! does (CLAMD-DET-7; `unzip.rs` reads the zip): local header flag 2 selects an 8 KiB window
//! (7 low distance bits) over 4 KiB (6), flag 4 a third Shannon-Fano tree for literals (and
//! a minimum match of 3 instead of 2). Each tree is sent as a count byte and (bit length,
//! run) bytes; codes are read one bit at a time, least significant bit of each byte first.
//! Like clamd, expansion runs to the end of the compressed data (not to the stated size), a
//! copy from before the start yields zeros, and invalid trees or codes are a read error
//! (clamd then scans nothing of the member). Memory is the 8 KiB window and three trees of
//! at most 256 codes.

use std::collections::HashMap;
use std::io::{self, Read};

use crate::tree::read_up_to;

const LARGE_WINDOW: u16 = 0x0002;
const LITERAL_TREE: u16 = 0x0004;
const MAX_CODE_BITS: u8 = 16;

/// A Shannon-Fano tree: (code length, code aligned to 16 bits) -> symbol.
type Tree = HashMap<(u8, u16), u16>;

/// Build the tree from its transmitted form (clamd's construction: symbols sorted stably by
/// code length, codes assigned from the longest down). `None` when it is malformed.
fn tree(packed: &[u8], symbols: usize) -> Option<Tree> {
    let mut lengths = Vec::with_capacity(symbols);
    for &b in packed {
        let (len, run) = ((b & 15) + 1, usize::from(b >> 4) + 1);
        if lengths.len() + run > symbols {
            return None;
        }
        lengths.extend(std::iter::repeat_n(len, run));
    }
    if lengths.len() != symbols {
        return None;
    }
    let mut order: Vec<usize> = (0..symbols).collect();
    order.sort_by_key(|&s| lengths[s]);
    let (mut code, mut step, mut last) = (0u16, 0u16, 0u8);
    let mut codes = vec![(0u8, 0u16); symbols];
    for &s in order.iter().rev() {
        code = code.wrapping_add(step);
        if lengths[s] != last {
            last = lengths[s];
            step = 1u16.checked_shl(u32::from(16 - last)).unwrap_or(0);
        }
        codes[s] = (last, code);
    }
    // a malformed tree can repeat a code: the lowest symbol wins, as in clamd's lookup
    let mut t = Tree::with_capacity(symbols);
    for (s, key) in codes.into_iter().enumerate() {
        t.entry(key).or_insert(s as u16);
    }
    Some(t)
}

/// Why expansion stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// The compressed data ran out (clamd scans what it has).
    Input,
    /// A malformed tree or code (clamd scans nothing).
    Corrupt,
}

/// Least-significant-bit-first reader over the compressed bytes.
struct Bits<R> {
    inner: R,
    buf: Vec<u8>,
    pos: usize,
    len: usize,
    bitbuf: u32,
    count: u8,
}

impl<R: Read> Bits<R> {
    fn new(inner: R) -> Self {
        Self {
            inner,
            buf: vec![0; 16 * 1024],
            pos: 0,
            len: 0,
            bitbuf: 0,
            count: 0,
        }
    }

    fn byte(&mut self) -> io::Result<Option<u8>> {
        if self.pos == self.len {
            self.len = read_up_to(&mut self.inner, &mut self.buf)?;
            self.pos = 0;
            if self.len == 0 {
                return Ok(None);
            }
        }
        self.pos += 1;
        Ok(Some(self.buf[self.pos - 1]))
    }

    /// `n` (<= 16) bits, or `None` when fewer are left (they are then all used up).
    fn bits(&mut self, n: u8) -> io::Result<Option<u32>> {
        while self.count < n {
            let Some(b) = self.byte()? else {
                return Ok(None);
            };
            self.bitbuf |= u32::from(b) << self.count;
            self.count += 8;
        }
        let v = self.bitbuf & ((1 << n) - 1);
        self.bitbuf >>= n;
        self.count -= n;
        Ok(Some(v))
    }
}

/// The expanded stream of one imploded member (`flags`: the local header's).
pub(crate) struct Explode<R> {
    bits: Bits<R>,
    flags: u16,
    trees: Option<(Option<Tree>, Tree, Tree)>,
    window: Vec<u8>,
    cur: u64,
    /// A copy in progress: (distance, bytes left).
    copy: (u64, u32),
    end: Option<End>,
}

impl<R: Read> Explode<R> {
    pub(crate) fn new(inner: R, flags: u16) -> Self {
        let size = if flags & LARGE_WINDOW != 0 {
            8192
        } else {
            4096
        };
        Self {
            bits: Bits::new(inner),
            flags,
            trees: None,
            window: vec![0; size],
            cur: 0,
            copy: (0, 0),
            end: None,
        }
    }

    /// One transmitted tree (byte aligned, before any code is read).
    fn read_tree(&mut self, symbols: usize) -> io::Result<Result<Tree, End>> {
        let Some(count) = self.bits.byte()? else {
            return Ok(Err(End::Input));
        };
        if usize::from(count) > symbols - 1 {
            return Ok(Err(End::Corrupt));
        }
        let mut packed = Vec::with_capacity(usize::from(count) + 1);
        for _ in 0..=count {
            match self.bits.byte()? {
                Some(b) => packed.push(b),
                None => return Ok(Err(End::Input)),
            }
        }
        Ok(tree(&packed, symbols).ok_or(End::Corrupt))
    }

    fn symbol(&mut self, which: usize) -> io::Result<Result<u16, End>> {
        let mut code = 0u16;
        for got in 0..MAX_CODE_BITS {
            let Some(bit) = self.bits.bits(1)? else {
                return Ok(Err(End::Input));
            };
            code |= (bit as u16) << (15 - got);
            let Some((lit, len, dist)) = &self.trees else {
                return Ok(Err(End::Corrupt));
            };
            let t = match which {
                0 => lit.as_ref(),
                1 => Some(len),
                _ => Some(dist),
            };
            if let Some(&s) = t.and_then(|t| t.get(&(got + 1, code))) {
                return Ok(Ok(s));
            }
        }
        Ok(Err(End::Corrupt))
    }

    fn put(&mut self, b: u8) -> u8 {
        let mask = self.window.len() as u64 - 1;
        self.window[(self.cur & mask) as usize] = b;
        self.cur += 1;
        b
    }

    /// The next expanded byte, or why expansion ended.
    fn next(&mut self) -> io::Result<Result<u8, End>> {
        if let Some(end) = self.end {
            return Ok(Err(end));
        }
        let out = self.step()?;
        if let Err(end) = out {
            self.end = Some(end);
        }
        Ok(out)
    }

    fn step(&mut self) -> io::Result<Result<u8, End>> {
        macro_rules! take {
            ($e:expr) => {
                match $e {
                    Ok(v) => v,
                    Err(end) => return Ok(Err(end)),
                }
            };
        }
        if self.trees.is_none() {
            let lit = if self.flags & LITERAL_TREE != 0 {
                Some(take!(self.read_tree(256)?))
            } else {
                None
            };
            let len = take!(self.read_tree(64)?);
            let dist = take!(self.read_tree(64)?);
            self.trees = Some((lit, len, dist));
        }
        if self.copy.1 > 0 {
            let (distance, left) = self.copy;
            self.copy.1 = left - 1;
            let mask = self.window.len() as u64 - 1;
            let b = if self.cur >= distance {
                self.window[((self.cur - distance) & mask) as usize]
            } else {
                0
            };
            return Ok(Ok(self.put(b)));
        }
        let Some(flag) = self.bits.bits(1)? else {
            return Ok(Err(End::Input));
        };
        let has_literal_tree = self.flags & LITERAL_TREE != 0;
        if flag == 1 {
            let b = if has_literal_tree {
                take!(self.symbol(0)?) as u8
            } else {
                let Some(v) = self.bits.bits(8)? else {
                    return Ok(Err(End::Input));
                };
                v as u8
            };
            return Ok(Ok(self.put(b)));
        }
        let low_bits = if self.flags & LARGE_WINDOW != 0 { 7 } else { 6 };
        let Some(low) = self.bits.bits(low_bits)? else {
            return Ok(Err(End::Input));
        };
        let high = take!(self.symbol(2)?);
        let distance = ((u64::from(high) << low_bits) | u64::from(low)) + 1;
        let mut length = u32::from(take!(self.symbol(1)?));
        if length == 63 {
            let Some(extra) = self.bits.bits(8)? else {
                return Ok(Err(End::Input));
            };
            length += extra;
        }
        self.copy = (distance, length + if has_literal_tree { 3 } else { 2 });
        self.step()
    }
}

impl<R: Read> Read for Explode<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let mut n = 0;
        while n < out.len() {
            match self.next()? {
                Ok(b) => {
                    out[n] = b;
                    n += 1;
                }
                Err(End::Input) => break,
                Err(End::Corrupt) => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "bad implode data",
                    ))
                }
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand(data: &[u8], flags: u16) -> Result<Vec<u8>, End> {
        let mut x = Explode::new(data, flags);
        let mut out = Vec::new();
        loop {
            match x.next().unwrap() {
                Ok(b) => out.push(b),
                Err(End::Input) => return Ok(out),
                Err(e) => return Err(e),
            }
        }
    }

    /// Bits, least significant first, packed into bytes.
    fn pack(bits: &[u8]) -> Vec<u8> {
        let mut out = vec![0u8; bits.len().div_ceil(8)];
        for (i, &b) in bits.iter().enumerate() {
            out[i / 8] |= b << (i % 8);
        }
        out
    }

    fn push(bits: &mut Vec<u8>, value: u32, n: u8) {
        for k in 0..n {
            bits.push(((value >> k) & 1) as u8);
        }
    }

    #[test]
    fn trees_follow_clamd_construction() {
        // 2 codes of length 1: symbol 1 gets code 0, symbol 0 gets 0x8000
        let t = tree(&[0x10], 2).unwrap();
        assert_eq!(t.get(&(1, 0)), Some(&1));
        assert_eq!(t.get(&(1, 0x8000)), Some(&0));
        assert!(tree(&[0x20], 2).is_none(), "three lengths for two symbols");
        assert!(tree(&[0x00], 2).is_none(), "one length for two symbols");
    }

    /// Length and distance trees: 64 codes of 6 bits each (4 entries of 16 x length 6), so
    /// symbol s has the code 63 - s, sent most significant bit first.
    fn flat_trees() -> Vec<u8> {
        [3, 0xf5, 0xf5, 0xf5, 0xf5].repeat(2)
    }

    fn push_symbol(bits: &mut Vec<u8>, sym: u32) {
        for k in (0..6).rev() {
            bits.push((((63 - sym) >> k) & 1) as u8);
        }
    }

    #[test]
    fn literals_and_a_copy_without_a_literal_tree() {
        let mut bits = Vec::new();
        for &b in b"ab" {
            bits.push(1);
            push(&mut bits, u32::from(b), 8);
        }
        // copy: low distance bits 1 and distance symbol 0 (distance 2), length symbol 1 (3)
        bits.push(0);
        push(&mut bits, 1, 6);
        push_symbol(&mut bits, 0);
        push_symbol(&mut bits, 1);
        let mut data = flat_trees();
        data.extend(pack(&bits));
        assert_eq!(expand(&data, 0).unwrap(), b"ababa");
    }

    #[test]
    fn a_copy_from_before_the_start_is_zeros_and_a_bad_tree_is_corrupt() {
        let mut bits = vec![0];
        push(&mut bits, 0, 6);
        push_symbol(&mut bits, 0);
        push_symbol(&mut bits, 0);
        let mut data = flat_trees();
        data.extend(pack(&bits));
        assert_eq!(expand(&data, 0).unwrap(), vec![0, 0]);
        assert_eq!(expand(&[0, 0x10], 0), Err(End::Corrupt));
    }
}
