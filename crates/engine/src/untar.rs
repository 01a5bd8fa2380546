//! POSIX tar archives read as clamd 1.4.6's `cli_untar` reads them (libclamav/untar.c,
//! CLAMD-DET-7): 512-byte blocks from the start; a header whose checksum fails (neither the
//! unsigned nor the signed sum) is skipped and the next block is tried as a header, so a
//! damaged header loses one member, not the rest; a header without `ustar` ends the archive;
//! a first byte of 0 ends it too. Type flags: links, directories, devices, FIFOs and volume
//! headers have no data; GNU long names, pax and Solaris headers are skipped with their data;
//! every other type (unknown ones included) is a file. Numbers are read as `sscanf("%o")`
//! reads them. A member cut short by the end of the archive gets up to one block of zeros, as
//! clamd pads it.

use std::io::{self, Read, Seek, SeekFrom};

use crate::spool::SpoolReader;
use crate::tree::{read_up_to, EachMember, MemberSource};

const BLOCK: u64 = 512;
const CHECKSUM: std::ops::Range<usize> = 148..156;
const SIZE: std::ops::Range<usize> = 124..136;
const TYPE: usize = 156;

/// A tar archive opened for the walk.
pub(crate) struct Tar {
    spool: SpoolReader,
}

pub(crate) fn open(spool: SpoolReader) -> Option<Box<dyn MemberSource>> {
    Some(Box::new(Tar { spool }))
}

/// `sscanf(field, "%o")` stored in an `int`: leading white space, an optional sign, then octal
/// digits up to the first other byte or NUL; `-1` without a digit (clamd's error value).
fn octal(field: &[u8]) -> i32 {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    let mut s = field[..end]
        .iter()
        .skip_while(|b| matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r'))
        .peekable();
    let negative = match s.peek() {
        Some(b'-') => {
            s.next();
            true
        }
        Some(b'+') => {
            s.next();
            false
        }
        _ => false,
    };
    let mut value: u64 = 0;
    let mut digits = 0;
    for &b in s.take_while(|b| (b'0'..=b'7').contains(b)) {
        digits += 1;
        // strtoul saturates on overflow
        value = value
            .checked_mul(8)
            .and_then(|v| v.checked_add(u64::from(b - b'0')))
            .unwrap_or(u64::MAX);
    }
    if digits == 0 {
        return -1;
    }
    let value = if negative {
        value.wrapping_neg()
    } else {
        value
    };
    value as u32 as i32
}

/// clamd's `testchecksum`: the stored value equals the unsigned or the signed byte sum, the
/// checksum field counted as spaces.
fn checksum_ok(block: &[u8]) -> bool {
    let target = octal(&block[CHECKSUM]);
    if target == -1 {
        return false;
    }
    let (mut unsigned, mut signed) = (0i32, 0i32);
    for (i, &b) in block.iter().enumerate() {
        let (u, s) = if CHECKSUM.contains(&i) {
            (32, 32)
        } else {
            (i32::from(b), i32::from(b as i8))
        };
        unsigned += u;
        signed += s;
    }
    target == unsigned || target == signed
}

/// What a header's type flag makes of its entry.
enum Kind {
    File,
    /// No data follows (links, directories, devices...).
    NoData,
    /// Skipped with its data (long names, extended headers).
    Skip,
}

fn kind(flag: u8) -> Kind {
    match flag {
        b'1' | b'5' | b'2' | b'3' | b'4' | b'6' | b'V' => Kind::NoData,
        b'K' | b'L' | b'N' | b'A' | b'E' | b'I' | b'g' | b'x' | b'X' => Kind::Skip,
        _ => Kind::File,
    }
}

/// The member name: the ustar prefix and name fields, each up to its first NUL.
fn name(block: &[u8]) -> Vec<u8> {
    let field = |r: std::ops::Range<usize>| {
        let f = &block[r];
        f[..f.iter().position(|&b| b == 0).unwrap_or(f.len())].to_vec()
    };
    let (prefix, name) = (field(345..500), field(0..100));
    if prefix.is_empty() {
        name
    } else {
        [prefix, name].join(&b'/')
    }
}

impl Tar {
    fn walk(&mut self, each: &mut EachMember<'_>) -> io::Result<()> {
        let total = self.spool.seek(SeekFrom::End(0))?;
        let mut pos: u64 = 0;
        // clamd keeps the last valid size for an entry whose size field does not parse
        let mut size: u64 = 0;
        let mut block = [0u8; BLOCK as usize];
        loop {
            self.spool.seek(SeekFrom::Start(pos))?;
            let nread = read_up_to(&mut self.spool, &mut block)?;
            if nread == 0 || block[0] == 0 || nread < BLOCK as usize {
                return Ok(());
            }
            pos += BLOCK;
            if !checksum_ok(&block) {
                continue;
            }
            if &block[257..262] != b"ustar" {
                return Ok(());
            }
            let mut skip = match kind(block[TYPE]) {
                Kind::NoData => continue,
                Kind::Skip => true,
                Kind::File => false,
            };
            match octal(&block[SIZE]) {
                n if n < 0 => skip = true,
                n => size = n as u64,
            }
            if skip {
                let rem = size % BLOCK;
                let nskip = if rem != 0 || size == 0 {
                    size + BLOCK - rem
                } else {
                    size
                };
                // clamd holds the skip in an int and gives up when it is negative
                if i32::try_from(nskip).is_err() {
                    return Ok(());
                }
                pos += nskip;
                continue;
            }
            let real = size.min(total.saturating_sub(pos));
            let zeros = (size - real).min(BLOCK);
            let mut data = (&mut self.spool)
                .take(real)
                .chain(io::repeat(0).take(zeros));
            if !each(name(&block), &mut data, Some(size)) {
                return Ok(());
            }
            pos += size.div_ceil(BLOCK) * BLOCK;
        }
    }
}

impl MemberSource for Tar {
    fn for_each_member(mut self: Box<Self>, each: &mut EachMember<'_>) {
        // an unreadable spool ends the archive like its end would
        let _ = self.walk(each);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::unpack_named;

    fn header(name: &[u8], size: usize, flag: u8) -> Vec<u8> {
        let mut h = vec![0u8; 512];
        h[..name.len()].copy_from_slice(name);
        h[100..107].copy_from_slice(b"0000644");
        h[124..135].copy_from_slice(format!("{size:011o}").as_bytes());
        h[TYPE] = flag;
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        let sum: u32 = h
            .iter()
            .enumerate()
            .map(|(i, &b)| {
                if CHECKSUM.contains(&i) {
                    32
                } else {
                    u32::from(b)
                }
            })
            .sum();
        h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
        h
    }

    fn tar(members: &[(&[u8], &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        for (n, d) in members {
            out.extend(header(n, d.len(), b'0'));
            out.extend_from_slice(d);
            out.resize(out.len().div_ceil(512) * 512, 0);
        }
        out.extend([0u8; 1024]);
        out
    }

    #[test]
    fn octal_reads_as_sscanf() {
        assert_eq!(octal(b"0000644\0"), 0o644);
        assert_eq!(octal(b"  17 junk"), 0o17);
        assert_eq!(octal(&[0, b'1', b'2']), -1);
        assert_eq!(octal(b"xyz"), -1);
        assert_eq!(octal(b"-1"), -1);
        assert_eq!(octal(b"37777777777"), -1);
    }

    /// CLAMD-DET-7: a header with a bad checksum is skipped, the next member is still read.
    #[test]
    fn bad_checksum_header_is_skipped() {
        let mut t = tar(&[(b"a", b"first"), (b"b", b"second")]);
        t[0] ^= 1;
        assert_eq!(
            unpack_named(&t, open),
            crate::tree::owned(&[(b"b", b"second")])
        );
    }

    #[test]
    fn types_and_truncation() {
        let mut t = header(b"d/", 0, b'5');
        t.extend(header(b"x", 3, b'x'));
        t.extend([b'a'; 512]);
        t.extend(header(b"f", 600, b'0'));
        t.extend([b'z'; 100]);
        let got = unpack_named(&t, open);
        let mut want = vec![b'z'; 100];
        want.extend([0u8; 500]);
        assert_eq!(got, vec![(b"f".to_vec(), want)]);
    }
}
