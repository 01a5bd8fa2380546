//! Microsoft Cabinet (`MSCF`), as clamd 1.4.6 unpacks it (CLAMD-DET-7, `ScanArchive`), read
//! with the `cab` crate: stored, MSZIP and LZX folders (Quantum is not decoded: such files
//! are skipped). Every file is scanned in directory order; clamd extracts a file up to
//! `MaxFileSize` (truncating, so it is handed over with its declared size), and a file whose
//! extraction fails half-way is scanned as far as it got.
//!
//! The crate decodes a folder from its start for each file read, so the decoding work of one
//! cabinet is bounded by [`WORK_LIMIT`] (a folder's worst case per file, counted up front);
//! past it the cabinet ends. Memory is one data block and the LZX window (at most 2 MiB).
//! The crate panics on a file that starts past its folder's data and on a stored block whose
//! sizes disagree: such files are found in the headers first and skipped.

use std::io::{Read, Seek, SeekFrom};

use cab::Cabinet;

use super::compress::UntilError;
use super::le::{u16_at, u32_at};
use crate::spool::SpoolReader;
use crate::tree::{read_up_to, EachMember, MemberSource};

/// Largest uncompressed size of one CAB data block.
const BLOCK_MAX: u64 = 32 * 1024;
/// Most bytes decoded (files plus the folder data before them) for one cabinet.
const WORK_LIMIT: u64 = 1 << 30;

/// clamd's file-type magic: `MSCF` and four zero bytes.
pub(crate) fn is_cab(head: &[u8]) -> bool {
    head.starts_with(b"MSCF\0\0\0\0")
}

struct Cab {
    cabinet: Cabinet<SpoolReader>,
    /// (name, declared size, worst-case decoding work)
    files: Vec<(String, u64, u64)>,
}

/// What the `cab` crate does not check and would panic on, read from the headers: per
/// folder, the uncompressed size its data blocks add up to and whether a stored block says
/// a size other than the bytes it holds; per file (directory order), folder and offset.
struct Layout {
    folders: Vec<(u64, bool)>,
    files: Vec<(usize, u64)>,
}

fn le32(b: &[u8], at: usize) -> u64 {
    u64::from(u32_at(b, at))
}

fn read_exact_at(r: &mut SpoolReader, pos: u64, buf: &mut [u8]) -> Option<()> {
    r.seek(SeekFrom::Start(pos)).ok()?;
    r.read_exact(buf).ok()
}

/// A NUL-terminated string's length (at most 256 bytes, as the crate reads names).
fn skip_string(r: &mut SpoolReader, pos: u64) -> Option<u64> {
    let mut b = [0u8; 257];
    r.seek(SeekFrom::Start(pos)).ok()?;
    let n = read_up_to(r, &mut b).ok()?;
    b[..n].iter().position(|&c| c == 0).map(|i| i as u64 + 1)
}

fn layout(r: &mut SpoolReader) -> Option<Layout> {
    let mut h = [0u8; 36];
    read_exact_at(r, 0, &mut h)?;
    let (files_at, folders, files, flags) =
        (le32(&h, 16), u16_at(&h, 26), u16_at(&h, 28), u16_at(&h, 30));
    let (mut pos, mut folder_reserve, mut data_reserve) = (36u64, 0u64, 0u64);
    if flags & 4 != 0 {
        let mut rs = [0u8; 4];
        read_exact_at(r, 36, &mut rs)?;
        folder_reserve = u64::from(rs[2]);
        data_reserve = u64::from(rs[3]);
        pos = 40 + u64::from(u16_at(&rs, 0));
    }
    for _ in 0..(flags & 3).count_ones() * 2 {
        pos += skip_string(r, pos)?;
    }
    let mut out = Layout {
        folders: Vec::new(),
        files: Vec::new(),
    };
    for _ in 0..folders {
        let mut f = [0u8; 8];
        read_exact_at(r, pos, &mut f)?;
        pos += 8 + folder_reserve;
        let stored = u16_at(&f, 6) & 0x000f == 0;
        let (mut block, mut total, mut safe) = (le32(&f, 0), 0u64, true);
        for _ in 0..u16_at(&f, 4) {
            let mut d = [0u8; 8];
            if read_exact_at(r, block, &mut d).is_none() {
                break;
            }
            let (packed, size) = (u16_at(&d, 4), u16_at(&d, 6));
            safe &= !stored || packed == size;
            total += u64::from(size);
            block += 8 + data_reserve + u64::from(packed);
        }
        out.folders.push((total, safe));
    }
    pos = files_at;
    for _ in 0..files {
        let mut f = [0u8; 16];
        read_exact_at(r, pos, &mut f)?;
        out.files.push((usize::from(u16_at(&f, 8)), le32(&f, 4)));
        pos += 16 + skip_string(r, pos + 16)?;
    }
    Some(out)
}

pub(crate) fn open(mut spool: SpoolReader) -> Option<Box<dyn MemberSource>> {
    // every data block has an 8-byte header in the file: a folder cannot hold more
    let most_blocks = spool.seek(SeekFrom::End(0)).ok()? / 8;
    let layout = layout(&mut spool)?;
    spool.seek(SeekFrom::Start(0)).ok()?;
    let cabinet = Cabinet::new(spool).ok()?;
    // the crate lists files per folder in directory order, and `read_file` opens the first
    // file of a name: pair names with the directory to check the entry that will be opened
    let mut per_folder: Vec<Vec<(String, u64)>> = Vec::new();
    let mut work = Vec::new();
    for folder in cabinet.folder_entries() {
        work.push(u64::from(folder.num_data_blocks()).min(most_blocks) * BLOCK_MAX);
        let mut names: Vec<(String, u64)> = folder
            .file_entries()
            .map(|f| (f.name().to_string(), u64::from(f.uncompressed_size())))
            .collect();
        names.reverse();
        per_folder.push(names);
    }
    let mut first_of_name = std::collections::HashMap::new();
    let mut files = Vec::new();
    for &(folder, offset) in &layout.files {
        let (name, size) = per_folder.get_mut(folder)?.pop()?;
        let (f, off) = *first_of_name
            .entry(name.clone())
            .or_insert((folder, offset));
        let (total, safe) = *layout.folders.get(f)?;
        if safe && off <= total {
            files.push((name, size, work[folder]));
        }
    }
    Some(Box::new(Cab { cabinet, files }))
}

impl MemberSource for Cab {
    fn cut_at_scan_budget(&self) -> bool {
        true
    }

    fn for_each_member(mut self: Box<Self>, each: &mut EachMember<'_>) {
        let mut work = 0u64;
        for (name, size, folder_work) in std::mem::take(&mut self.files) {
            work = work.saturating_add(folder_work);
            if work > WORK_LIMIT {
                break;
            }
            // a file the crate cannot start (Quantum, a bad folder) is skipped
            let Ok(reader) = self.cabinet.read_file(&name) else {
                continue;
            };
            let mut data = UntilError::new(reader);
            if !each(name.into_bytes(), &mut data, Some(size)) {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Cursor, Write};

    fn build(files: &[(&str, &[u8])], ctype: cab::CompressionType) -> Vec<u8> {
        let mut builder = cab::CabinetBuilder::new();
        let folder = builder.add_folder(ctype);
        for (name, _) in files {
            folder.add_file(*name);
        }
        let mut writer = builder.build(Cursor::new(Vec::new())).unwrap();
        let mut i = 0;
        while let Some(mut w) = writer.next_file().unwrap() {
            w.write_all(files[i].1).unwrap();
            i += 1;
        }
        writer.finish().unwrap().into_inner()
    }

    fn members(data: &[u8]) -> Vec<(Vec<u8>, Vec<u8>, Option<u64>)> {
        crate::tree::unpack_all(data, open)
    }

    #[test]
    fn stored_and_mszip_files_in_order() {
        for ctype in [cab::CompressionType::None, cab::CompressionType::MsZip] {
            let data = build(&[("a.txt", b"alpha"), ("b.bin", &[7u8; 70_000])], ctype);
            assert!(is_cab(&data));
            let got = members(&data);
            assert_eq!(got.len(), 2);
            assert_eq!(got[0], (b"a.txt".to_vec(), b"alpha".to_vec(), Some(5)));
            assert_eq!(got[1].1, vec![7u8; 70_000]);
        }
    }

    #[test]
    fn a_damaged_block_still_yields_what_was_extracted() {
        let mut data = build(&[("a", &[1u8; 40_000])], cab::CompressionType::None);
        // the second data block's bytes no longer match its checksum
        let n = data.len();
        data[n - 10] ^= 0xff;
        let got = members(&data);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].1, vec![1u8; 32_768]);
    }
}
