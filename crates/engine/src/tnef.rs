//! TNEF (`winmail.dat`, `application/ms-tnef`), as clamd 1.4.6 unpacks it (CLAMD-DET-7,
//! clamd's `ScanMail`): after the signature `78 9f 3e 22` and a 2-byte key, records of
//! level (1 message, 2 attachment), tag, type and length, each followed by a 2-byte checksum.
//! clamd gathers attachment data (`attAttachData`) into one output file, named by the first
//! `attAttachTitle` seen for it; a message-level record closes that file (kept only if it has
//! a name and data) and starts a new one; at the end an unnamed file is kept as `tnef`.
//! A record that runs past the end, a negative length or an unknown level makes clamd scan
//! none of the files, so the whole structure is checked (first pass, offsets only) before any
//! file is handed to the walk; each file is then streamed from the spool.

use std::io::{self, Read, Seek, SeekFrom};

use crate::spool::SpoolReader;
use crate::tree::{planned, read_up_to, EachMember, MemberSource, Planned};

const SIGNATURE: [u8; 4] = [0x78, 0x9f, 0x3e, 0x22];
const LVL_MESSAGE: u8 = 1;
const LVL_ATTACHMENT: u8 = 2;
const ATT_ATTACHDATA: u16 = 0x800f;
const ATT_ATTACHTITLE: u16 = 0x8010;
/// Data pieces accepted in one TNEF stream; past it the walk ends (bounds the first pass).
const MAX_PIECES: usize = 4096;
/// Longest attachment title kept (bytes).
const MAX_TITLE: u64 = 1024;

pub(crate) fn is_tnef(head: &[u8]) -> bool {
    head.starts_with(&SIGNATURE)
}

/// One output file: its name and where its bytes lie in the TNEF stream.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct File {
    name: Option<Vec<u8>>,
    pieces: Vec<(u64, u64)>,
}

impl File {
    fn keep(self, out: &mut Vec<File>) {
        if self.name.is_some() && self.pieces.iter().any(|p| p.1 > 0) {
            out.push(self);
        }
    }
}

/// Bytes at `pos`, fewer at the end of the stream.
fn read_at(r: &mut SpoolReader, pos: u64, buf: &mut [u8]) -> io::Result<usize> {
    r.seek(SeekFrom::Start(pos))?;
    read_up_to(r, buf)
}

/// The files clamd would scan; `Ok(vec![])` when it would scan none.
fn plan(r: &mut SpoolReader) -> io::Result<Vec<File>> {
    let size = r.seek(SeekFrom::End(0))?;
    let mut magic = [0u8; 4];
    if size < 6 || read_at(r, 0, &mut magic)? < 4 || magic != SIGNATURE {
        return Ok(Vec::new());
    }
    let mut pos = 6u64;
    let mut files = Vec::new();
    let mut current: Option<File> = None;
    let mut pieces = 0usize;
    loop {
        let mut h = [0u8; 9];
        let got = read_at(r, pos, &mut h)?;
        // end of data, a zero level, or a cut header: clamd scans what it has
        if got == 0 || h[0] == 0 || got < 9 {
            break;
        }
        pos += 9;
        let tag = u16::from_le_bytes([h[1], h[2]]);
        let length = i32::from_le_bytes([h[5], h[6], h[7], h[8]]);
        if length == 0 {
            continue;
        }
        let Ok(length) = u64::try_from(length) else {
            return Ok(Vec::new());
        };
        // the record must lie inside the stream, or clamd scans nothing
        if pos + length > size {
            return Ok(Vec::new());
        }
        match h[0] {
            LVL_MESSAGE => {
                if let Some(f) = current.take() {
                    f.keep(&mut files);
                }
                current = Some(File::default());
            }
            LVL_ATTACHMENT if tag == ATT_ATTACHTITLE => {
                let file = current.get_or_insert_with(File::default);
                if file.name.is_none() {
                    let mut title = vec![0u8; length.min(MAX_TITLE) as usize];
                    let n = read_at(r, pos, &mut title)?;
                    title.truncate(n);
                    let end = title.iter().position(|&b| b == 0).unwrap_or(title.len());
                    title.truncate(end);
                    file.name = Some(title);
                }
            }
            LVL_ATTACHMENT if tag == ATT_ATTACHDATA => {
                pieces += 1;
                if pieces > MAX_PIECES {
                    break;
                }
                current
                    .get_or_insert_with(File::default)
                    .pieces
                    .push((pos, length));
            }
            LVL_ATTACHMENT => {}
            _ => return Ok(Vec::new()),
        }
        pos += length + 2;
    }
    if let Some(mut f) = current {
        f.name.get_or_insert_with(|| b"tnef".to_vec());
        f.keep(&mut files);
    }
    Ok(files)
}

pub(crate) fn open(spool: SpoolReader) -> Option<Box<dyn MemberSource>> {
    planned(spool, plan)
}

/// The concatenated byte ranges of one file, read from the spool.
struct Pieces<'a> {
    spool: &'a mut SpoolReader,
    pieces: &'a [(u64, u64)],
    left: u64,
}

impl Read for Pieces<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.left == 0 {
            let Some((&(start, len), rest)) = self.pieces.split_first() else {
                return Ok(0);
            };
            self.spool.seek(SeekFrom::Start(start))?;
            self.pieces = rest;
            self.left = len;
        }
        let want = usize::try_from(self.left)
            .unwrap_or(usize::MAX)
            .min(buf.len());
        let n = self.spool.read(&mut buf[..want])?;
        if n == 0 {
            self.left = 0;
            return Ok(0);
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// A checked TNEF stream ready to hand its files to the walk.
impl MemberSource for Planned<Vec<File>> {
    fn for_each_member(mut self: Box<Self>, each: &mut EachMember<'_>) {
        for file in &self.plan {
            let mut data = Pieces {
                spool: &mut self.spool,
                pieces: &file.pieces,
                left: 0,
            };
            // files clamd writes to disk are skipped, not truncated, past MaxFileSize
            let name = file.name.clone().unwrap_or_default();
            if !each(name, &mut data, None) {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(out: &mut Vec<u8>, level: u8, tag: u16, data: &[u8]) {
        out.push(level);
        out.extend_from_slice(&tag.to_le_bytes());
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        out.extend_from_slice(data);
        out.extend_from_slice(&[0, 0]);
    }

    fn files(tnef: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
        let all = crate::tree::unpack_all(tnef, open);
        all.into_iter().map(|(n, d, _)| (n, d)).collect()
    }

    fn start() -> Vec<u8> {
        let mut v = SIGNATURE.to_vec();
        v.extend_from_slice(&[1, 0]);
        record(&mut v, LVL_MESSAGE, 0x9006, &[0, 0, 1, 0]);
        v
    }

    #[test]
    fn attachments_gather_into_one_file_until_a_message_record() {
        let mut v = start();
        record(&mut v, LVL_ATTACHMENT, ATT_ATTACHTITLE, b"a.exe\0");
        record(&mut v, LVL_ATTACHMENT, ATT_ATTACHDATA, b"one");
        record(&mut v, LVL_ATTACHMENT, ATT_ATTACHTITLE, b"b.exe\0");
        record(&mut v, LVL_ATTACHMENT, ATT_ATTACHDATA, b"two");
        record(&mut v, LVL_MESSAGE, 0x8008, b"IPM.Note");
        record(&mut v, LVL_ATTACHMENT, ATT_ATTACHDATA, b"three");
        assert_eq!(
            files(&v),
            crate::tree::owned(&[(b"a.exe", b"onetwo"), (b"tnef", b"three")])
        );
    }

    #[test]
    fn unnamed_data_before_a_message_record_is_lost() {
        let mut v = start();
        record(&mut v, LVL_ATTACHMENT, ATT_ATTACHDATA, b"lost");
        record(&mut v, LVL_MESSAGE, 0x8008, b"IPM.Note");
        assert!(files(&v).is_empty());
    }

    #[test]
    fn a_record_past_the_end_or_an_unknown_level_scans_nothing() {
        let mut v = start();
        record(&mut v, LVL_ATTACHMENT, ATT_ATTACHDATA, b"data");
        let mut cut = v.clone();
        record(&mut cut, LVL_ATTACHMENT, ATT_ATTACHDATA, b"more");
        cut.truncate(cut.len() - 4);
        assert!(files(&cut).is_empty());
        let mut odd = v.clone();
        record(&mut odd, 7, 1, b"x");
        assert!(files(&odd).is_empty());
        // a cut header is only the end
        v.extend_from_slice(&[2, 0x0f]);
        assert_eq!(files(&v), vec![(b"tnef".to_vec(), b"data".to_vec())]);
    }
}
