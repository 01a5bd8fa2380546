//! cpio archives, as clamd unpacks them (CLAMD-DET-7): the portable ASCII `odc` (`070707`),
//! `newc` (`070701`) and `crc` (`070702`) formats and the old binary format in either byte
//! order (a 16-bit magic 0o070707, stored `c7 71` little-endian or `71 c7` big-endian).
//! Headers are parsed one at a time from the spool; a member's data is then read as a
//! bounded stream of its declared size. Names longer than [`MAX_NAME`] end the archive.

use std::io::{self, Read, Seek, SeekFrom};

use crate::spool::SpoolReader;
use crate::tree::{read_up_to, EachMember, MemberSource};

/// Longest member name accepted (bytes, with its NUL); a longer one ends the walk.
pub(crate) const MAX_NAME: u64 = 4096;
/// The entry that ends an archive.
const TRAILER: &[u8] = b"TRAILER!!!";
const S_IFMT: u32 = 0o170000;
const S_IFDIR: u32 = 0o040000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Variant {
    Odc,
    Newc,
    Crc,
    BinLe,
    BinBe,
}

impl Variant {
    /// Header length before the name.
    fn header_len(self) -> usize {
        match self {
            Self::Odc => 76,
            Self::Newc | Self::Crc => 110,
            Self::BinLe | Self::BinBe => 26,
        }
    }

    /// Name and data are padded to this alignment (from the header start / data start).
    fn align(self) -> u64 {
        match self {
            Self::Odc => 1,
            Self::Newc | Self::Crc => 4,
            Self::BinLe | Self::BinBe => 2,
        }
    }
}

/// The variant of a cpio archive from its first bytes; a binary header (whose magic is only
/// two bytes) must also carry a plausible name size and a NUL-terminated name.
pub(crate) fn sniff(head: &[u8]) -> Option<Variant> {
    let v = match head.get(..6)? {
        b"070707" => Variant::Odc,
        b"070701" => Variant::Newc,
        b"070702" => Variant::Crc,
        m if m[..2] == [0xc7, 0x71] => Variant::BinLe,
        m if m[..2] == [0x71, 0xc7] => Variant::BinBe,
        _ => return None,
    };
    let hdr = parse_header(v, head.get(..v.header_len())?)?;
    if matches!(v, Variant::BinLe | Variant::BinBe) {
        // the name must end with its NUL where the size says
        let name_end = v.header_len() + usize::try_from(hdr.namesize).ok()?;
        if hdr.namesize == 0 || head.get(name_end - 1).is_some_and(|&b| b != 0) {
            return None;
        }
    }
    Some(v)
}

struct Header {
    mode: u32,
    namesize: u64,
    filesize: u64,
}

fn ascii_num(field: &[u8], radix: u32) -> Option<u64> {
    let text = std::str::from_utf8(field).ok()?;
    u64::from_str_radix(text, radix).ok()
}

fn parse_header(v: Variant, h: &[u8]) -> Option<Header> {
    match v {
        Variant::Odc => Some(Header {
            mode: u32::try_from(ascii_num(&h[18..24], 8)?).ok()?,
            namesize: ascii_num(&h[59..65], 8)?,
            filesize: ascii_num(&h[65..76], 8)?,
        }),
        Variant::Newc | Variant::Crc => {
            let field = |i: usize| ascii_num(&h[6 + 8 * i..14 + 8 * i], 16);
            Some(Header {
                mode: u32::try_from(field(1)?).ok()?,
                namesize: field(11)?,
                filesize: field(6)?,
            })
        }
        Variant::BinLe | Variant::BinBe => {
            let word = |i: usize| {
                let b = [h[2 * i], h[2 * i + 1]];
                u64::from(if v == Variant::BinLe {
                    u16::from_le_bytes(b)
                } else {
                    u16::from_be_bytes(b)
                })
            };
            Some(Header {
                mode: u32::try_from(word(3)).ok()?,
                namesize: word(10),
                // most significant word first, in both byte orders
                filesize: (word(11) << 16) | word(12),
            })
        }
    }
}

/// One member: its name (without the NUL) and declared size; the reader is positioned at
/// its data.
pub(crate) struct Entry {
    pub name: Vec<u8>,
    pub size: u64,
}

/// Walks the headers of a cpio archive in a seekable spool.
pub(crate) struct Reader<R> {
    inner: R,
    variant: Variant,
    /// Offset of the next header.
    next: u64,
    done: bool,
}

fn pad(n: u64, align: u64) -> u64 {
    n.div_ceil(align) * align
}

impl<R: Read + Seek> Reader<R> {
    pub fn new(inner: R, variant: Variant) -> Self {
        Self {
            inner,
            variant,
            next: 0,
            done: false,
        }
    }

    /// The next member with data to scan (regular files and other non-directories with a
    /// non-zero size); `None` at the trailer, at the end of data, or at a bad header.
    pub fn next_entry(&mut self) -> io::Result<Option<Entry>> {
        while !self.done {
            self.inner.seek(SeekFrom::Start(self.next))?;
            let v = self.variant;
            let mut hbuf = [0u8; 110];
            let hlen = v.header_len();
            let got = super::read_up_to(&mut self.inner, &mut hbuf[..hlen])?;
            // every header repeats the archive's magic
            let magic_ok = match v {
                Variant::Odc => hbuf.starts_with(b"070707"),
                Variant::Newc => hbuf.starts_with(b"070701"),
                Variant::Crc => hbuf.starts_with(b"070702"),
                Variant::BinLe => hbuf.starts_with(&[0xc7, 0x71]),
                Variant::BinBe => hbuf.starts_with(&[0x71, 0xc7]),
            };
            let hdr = (got == hlen && magic_ok)
                .then(|| parse_header(v, &hbuf[..hlen]))
                .flatten();
            let Some(hdr) = hdr.filter(|h| h.namesize > 0 && h.namesize <= MAX_NAME) else {
                self.done = true;
                break;
            };
            let mut name = vec![0u8; hdr.namesize as usize];
            if super::read_up_to(&mut self.inner, &mut name)? < name.len() {
                self.done = true;
                break;
            }
            let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
            name.truncate(end);
            let data_start = self.next + pad(hlen as u64 + hdr.namesize, v.align());
            self.next = data_start.saturating_add(pad(hdr.filesize, v.align()));
            if name == TRAILER {
                self.done = true;
                break;
            }
            if hdr.filesize == 0 || hdr.mode & S_IFMT == S_IFDIR {
                continue;
            }
            self.inner.seek(SeekFrom::Start(data_start))?;
            return Ok(Some(Entry {
                name,
                size: hdr.filesize,
            }));
        }
        Ok(None)
    }

    /// The current member's data, at most `size` bytes (fewer when the archive is cut).
    pub fn data(&mut self, size: u64) -> io::Take<&mut R> {
        (&mut self.inner).take(size)
    }
}

/// Open a spooled cpio archive for the walk (its variant sniffed again from the spool).
pub(crate) fn open(mut spool: SpoolReader) -> Option<Box<dyn MemberSource>> {
    let mut head = [0u8; 512];
    let n = read_up_to(&mut spool, &mut head).ok()?;
    let variant = sniff(&head[..n])?;
    Some(Box::new(Reader::new(spool, variant)))
}

impl<R: Read + Seek> MemberSource for Reader<R> {
    fn for_each_member(mut self: Box<Self>, each: &mut EachMember<'_>) {
        // a spool that cannot be read ends the archive like its trailer would
        while let Ok(Some(entry)) = self.next_entry() {
            let mut data = self.data(entry.size);
            if !each(entry.name, &mut data, Some(entry.size)) {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniff_knows_each_variant_and_rejects_a_bare_binary_magic() {
        let mut newc = b"070701".to_vec();
        newc.extend_from_slice(&[b'0'; 104]);
        assert_eq!(sniff(&newc), Some(Variant::Newc));
        let mut odc = b"070707".to_vec();
        odc.extend_from_slice(&[b'0'; 70]);
        assert_eq!(sniff(&odc), Some(Variant::Odc));
        // binary with name size 2 and name "a\0"
        let mut le = vec![0u8; 26];
        le[..2].copy_from_slice(&[0xc7, 0x71]);
        le[20] = 2;
        le.extend_from_slice(b"a\0");
        assert_eq!(sniff(&le), Some(Variant::BinLe));
        le[27] = b'x';
        assert_eq!(sniff(&le), None, "name without its NUL");
        assert_eq!(sniff(&[0x71, 0xc7, 0, 0]), None, "too short");
        assert_eq!(sniff(b"070708xxxx"), None);
    }
}
