//! Symbian installation files (SIS, EPOC releases before 9), as clamd 1.4.6 unpacks them
//! (CLAMD-DET-7, `ScanArchive`): the UID `0x10000419` at offset 8 marks the format; the
//! header gives the language count and where the file records are; each file record lists,
//! per language, the length, offset and original length of the file's data, which is zlib
//! compressed unless header flag 8 is set. Like clamd, the records are read as one sequence
//! from the header's offset (other record kinds skipped by their stated sizes), a file whose
//! data lies before the end of the header or past the end of the input is skipped, and a
//! compressed file is scanned only if it inflates completely within the larger of three
//! times its packed size and its stated size. The newer SIS 9 format is not opened (clamd
//! opens it; see the README).
//!
//! Each file's data is checked first (inflated once into a counter, at most [`CHECK_LIMIT`]
//! bytes for one SIS) and then inflated again as a stream for the walk: memory is zlib's
//! window, whatever the sizes claim.

use std::io::{self, Read, Seek, SeekFrom};

use flate2::{Decompress, FlushDecompress, Status};

use super::le::{u16_at, u32_at};
use crate::spool::SpoolReader;
use crate::tree::{planned, read_up_to, EachMember, MemberSource, Planned};

const UID_OLD: [u8; 4] = 0x1000_0419u32.to_le_bytes();
/// The four UIDs and clamd's header structure.
const HEADER_END: u64 = 16 + 68;
/// Languages clamd knows; a header with more (or none) is not opened.
const MAX_LANG: u16 = 100;
const PKG_FILE: u32 = 0;
const PKG_LANGFILE: u32 = 1;
const PKG_OPTION: u32 = 2;
const PKG_IF: u32 = 3;
const PKG_ELSIF: u32 = 4;
const FT_NULL: u32 = 4;
/// File records read from one SIS (a record costs 4 bytes, so this bounds the first pass).
const MAX_RECORDS: u32 = 65_536;
/// Most bytes inflated to check the files of one SIS (records may all point at one zlib
/// bomb); past it the remaining records are not read.
const CHECK_LIMIT: u64 = 1 << 30;

/// clamd's check for the old format: UID 3 (offset 8) is `0x10000419`.
pub(crate) fn is_sis(head: &[u8]) -> bool {
    head.get(8..12) == Some(&UID_OLD[..])
}

/// One file to scan: where its data lies and whether it is zlib compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Data {
    offset: u64,
    len: u64,
    compressed: bool,
}

/// The spool read as clamd's sequential record reader does.
struct Records<'a> {
    r: &'a mut SpoolReader,
    pos: u64,
}

impl Records<'_> {
    fn u32(&mut self) -> Option<u32> {
        let mut b = [0u8; 4];
        self.r.seek(SeekFrom::Start(self.pos)).ok()?;
        (read_up_to(self.r, &mut b).ok()? == 4).then(|| {
            self.pos += 4;
            u32::from_le_bytes(b)
        })
    }
}

/// The data of every file clamd would scan, in order.
fn plan(r: &mut SpoolReader) -> io::Result<Vec<Data>> {
    let size = r.seek(SeekFrom::End(0))?;
    r.seek(SeekFrom::Start(0))?;
    let mut h = [0u8; HEADER_END as usize];
    if read_up_to(r, &mut h)? < h.len() {
        return Ok(Vec::new());
    }
    let (langs, files, flags) = (u16_at(&h, 18), u16_at(&h, 20), u16_at(&h, 36));
    let (plangs, pfiles) = (u64::from(u32_at(&h, 48)), u64::from(u32_at(&h, 52)));
    if langs == 0 || langs >= MAX_LANG || plangs + 2 * u64::from(langs) > size {
        return Ok(Vec::new());
    }
    if pfiles < HEADER_END {
        return Ok(Vec::new());
    }
    let compressed = flags & 0x0008 == 0;
    let langs = u32::from(langs);
    let mut rec = Records { r, pos: pfiles };
    let mut out = Vec::new();
    let mut read = 0u32;
    let mut checked = 0u64;
    for _ in 0..files {
        let Some(kind) = rec.u32() else { break };
        let skip = match kind {
            PKG_LANGFILE => langs,
            PKG_FILE => {
                let mut fields = [0u32; 6];
                for f in &mut fields {
                    match rec.u32() {
                        Some(v) => *f = v,
                        None => return Ok(out),
                    }
                }
                let mut table = Vec::with_capacity(3 * langs as usize);
                for _ in 0..3 * langs {
                    match rec.u32() {
                        Some(v) => table.push(u64::from(v)),
                        None => return Ok(out),
                    }
                }
                read += 3 * langs;
                if fields[0] != FT_NULL {
                    let n = langs as usize;
                    for j in 0..n {
                        let (len, offset) = (table[j], table[n + j]);
                        if len == 0 || offset < HEADER_END || offset + len > size {
                            continue;
                        }
                        let limit = (len * 3).max(table[2 * n + j]);
                        let data = Data {
                            offset,
                            len,
                            compressed,
                        };
                        if checked > CHECK_LIMIT {
                            return Ok(out);
                        }
                        if !compressed || inflates_within(rec.r, data, limit, &mut checked)? {
                            out.push(data);
                        }
                    }
                }
                8
            }
            PKG_OPTION => rec.u32().unwrap_or(0).wrapping_mul(langs * 8),
            PKG_IF | PKG_ELSIF => rec.u32().unwrap_or(0),
            _ => 0,
        };
        rec.pos += u64::from(skip);
        read += 1;
        if read > MAX_RECORDS {
            break;
        }
    }
    Ok(out)
}

/// Whether `data` is a complete zlib stream of at most `limit` bytes inflated (zlib's
/// `uncompress` into a buffer of that size, as clamd calls it).
fn inflates_within(
    r: &mut SpoolReader,
    data: Data,
    limit: u64,
    checked: &mut u64,
) -> io::Result<bool> {
    r.seek(SeekFrom::Start(data.offset))?;
    let mut input = r.take(data.len);
    let mut z = Decompress::new(true);
    let mut inbuf = vec![0u8; 16 * 1024];
    let mut outbuf = vec![0u8; 32 * 1024];
    let (mut have, mut at) = (0usize, 0usize);
    loop {
        if at == have {
            have = read_up_to(&mut input, &mut inbuf)?;
            at = 0;
        }
        let before = (z.total_in(), z.total_out());
        let flush = if have == 0 {
            FlushDecompress::Finish
        } else {
            FlushDecompress::None
        };
        let status = match z.decompress(&inbuf[at..have], &mut outbuf, flush) {
            Ok(s) => s,
            Err(_) => return Ok(false),
        };
        at += (z.total_in() - before.0) as usize;
        *checked += z.total_out() - before.1;
        if z.total_out() > limit || *checked > CHECK_LIMIT {
            return Ok(false);
        }
        match status {
            Status::StreamEnd => return Ok(true),
            _ if have == 0 && (z.total_in(), z.total_out()) == before => return Ok(false),
            _ => {}
        }
    }
}

pub(crate) fn open(spool: SpoolReader) -> Option<Box<dyn MemberSource>> {
    planned(spool, plan)
}

/// A checked SIS and its files' places.
impl MemberSource for Planned<Vec<Data>> {
    fn for_each_member(mut self: Box<Self>, each: &mut EachMember<'_>) {
        for (i, d) in self.plan.iter().enumerate() {
            if self.spool.seek(SeekFrom::Start(d.offset)).is_err() {
                break;
            }
            let raw = (&mut self.spool).take(d.len);
            let name = format!("sis{i:02}").into_bytes();
            // clamd writes each file out and scans it: skipped, not cut, past MaxFileSize
            let go_on = if d.compressed {
                each(name, &mut flate2::read::ZlibDecoder::new(raw), None)
            } else {
                each(name, &mut { raw }, None)
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
    use std::io::Write;

    /// An old-format SIS with one language and one file record per (data, stored size).
    fn sis(files: &[(&[u8], u32)], flags: u16) -> Vec<u8> {
        let mut v = vec![0u8; HEADER_END as usize];
        v[8..12].copy_from_slice(&UID_OLD);
        v[18..20].copy_from_slice(&1u16.to_le_bytes());
        v[20..22].copy_from_slice(&(files.len() as u16).to_le_bytes());
        v[36..38].copy_from_slice(&flags.to_le_bytes());
        v[48..52].copy_from_slice(&(HEADER_END as u32).to_le_bytes());
        v.extend_from_slice(&[1, 0]); // language 1
        let pfiles = v.len() as u32;
        v[52..56].copy_from_slice(&pfiles.to_le_bytes());
        let records = 4 * 12 * files.len() as u32;
        let mut data_at = pfiles + records;
        let mut data = Vec::new();
        for (bytes, olen) in files {
            // kind, ftype, options, 4 name fields, len, ptr, olen, 2 skipped words
            for w in [
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                bytes.len() as u32,
                data_at,
                *olen,
                0,
                0,
            ] {
                v.extend_from_slice(&w.to_le_bytes());
            }
            data_at += bytes.len() as u32;
            data.extend_from_slice(bytes);
        }
        v.extend_from_slice(&data);
        v
    }

    fn zlib(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn members(data: &[u8]) -> Vec<Vec<u8>> {
        let all = crate::tree::unpack_all(data, open);
        all.into_iter().map(|(_, d, _)| d).collect()
    }

    #[test]
    fn compressed_files_inflate_and_stored_ones_are_raw() {
        let a = zlib(b"first file");
        let b = zlib(&[9u8; 5000]);
        let file = sis(&[(&a, 10), (&b, 5000)], 0);
        assert!(is_sis(&file));
        assert_eq!(
            members(&file),
            vec![b"first file".to_vec(), vec![9u8; 5000]]
        );
        let stored = sis(&[(b"raw bytes", 9)], 0x0008);
        assert_eq!(members(&stored), vec![b"raw bytes".to_vec()]);
    }

    #[test]
    fn a_file_that_inflates_past_its_limit_or_is_corrupt_is_skipped() {
        let big = zlib(&[0u8; 10_000]);
        // 3 x packed size and the stated size are both below 10 000
        assert!(members(&sis(&[(&big, 100)], 0)).is_empty());
        assert_eq!(members(&sis(&[(&big, 10_000)], 0)).len(), 1);
        let mut bad = zlib(b"some text to pack");
        let n = bad.len();
        bad[n - 1] ^= 1; // adler-32
        assert!(members(&sis(&[(&bad, 17)], 0)).is_empty());
    }
}
