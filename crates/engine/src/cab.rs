//! Microsoft Cabinet (`MSCF`), as clamd 1.4.6 unpacks it (CLAMD-DET-7, `ScanArchive`), read
//! with the `cab` crate: stored, MSZIP and LZX folders (Quantum is not decoded: such files
//! are skipped). Every file is scanned in directory order; clamd extracts a file up to
//! `MaxFileSize` (truncating, so it is handed over with its declared size), and a file whose
//! extraction fails half-way is scanned as far as it got.
//!
//! The crate decodes a folder from its start for each file read, so the decoding work of one
//! cabinet is bounded by [`WORK_LIMIT`] (a folder's worst case per file, counted up front);
//! past it the cabinet ends. Memory is one data block and the LZX window (at most 2 MiB).

use std::io::{self, Read, Seek, SeekFrom};

use cab::Cabinet;

use crate::spool::SpoolReader;
use crate::tree::{EachMember, MemberSource};

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

pub(crate) fn open(mut spool: SpoolReader) -> Option<Box<dyn MemberSource>> {
    // every data block has an 8-byte header in the file: a folder cannot hold more
    let most_blocks = spool.seek(SeekFrom::End(0)).ok()? / 8;
    spool.seek(SeekFrom::Start(0)).ok()?;
    let cabinet = Cabinet::new(spool).ok()?;
    let mut files = Vec::new();
    for folder in cabinet.folder_entries() {
        let work = u64::from(folder.num_data_blocks()).min(most_blocks) * BLOCK_MAX;
        for file in folder.file_entries() {
            let size = u64::from(file.uncompressed_size());
            files.push((file.name().to_string(), size, work));
        }
    }
    Some(Box::new(Cab { cabinet, files }))
}

/// Ends a stream at its first error, so what was extracted is still scanned.
struct UntilError<R>(Option<R>);

impl<R: Read> Read for UntilError<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Some(r) = self.0.as_mut() else {
            return Ok(0);
        };
        match r.read(buf) {
            Ok(n) => Ok(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Err(e),
            Err(_) => {
                self.0 = None;
                Ok(0)
            }
        }
    }
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
            let mut data = UntilError(Some(reader));
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
        let mut spool = crate::spool::SpoolWriter::new(1 << 20, None);
        spool.write(data).unwrap();
        let mut got = Vec::new();
        open(spool.finish().unwrap())
            .unwrap()
            .for_each_member(&mut |name, r, size| {
                let mut v = Vec::new();
                r.read_to_end(&mut v).unwrap();
                got.push((name, v, size));
                true
            });
        got
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
