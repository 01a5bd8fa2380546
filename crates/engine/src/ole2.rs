//! OLE2 compound files (Word, Excel, PowerPoint), as clamd 1.4.6 unpacks them (CLAMD-DET-7),
//! read with the `cfb` crate from the container's spool. Members, in clamd's order:
//! - every stream, as stored (clamd dumps each one and scans it);
//! - the payload of each `\x01Ole10Native` stream (an embedded "Package" object), without
//!   its header, as clamd's `cli_decode_ole_object` extracts it: with a hash signature that
//!   payload, not the stream, is what matches;
//! - for a `PowerPoint Document` stream, each top-level `ExOleObjStg` atom (type 0x1011),
//!   zlib-inflated, named `ppt%08x.doc` after its offset as clamd names it: an embedded OLE2
//!   file, opened in turn.
//!
//! Every member is a bounded stream: nothing is held whole in memory.

use std::io::{self, Read, Seek, SeekFrom};
use std::path::PathBuf;

use super::compress::UntilError;
use crate::spool::SpoolReader;
use crate::tree::{EachMember, EachMemberAt, MemberSource};

/// Most streams listed in one compound file; the rest are not scanned.
pub(crate) const MAX_STREAMS: usize = 10_000;
/// Most atoms walked in one `PowerPoint Document` stream.
const MAX_ATOMS: usize = 100_000;
/// Longest NUL-terminated string skipped in an Ole10Native header.
const MAX_OLE10_STRING: u64 = 64 * 1024;
const PPT_EX_OLE_OBJ_STG: u16 = 0x1011;

/// The compound file signature.
pub(crate) fn is_ole2(head: &[u8]) -> bool {
    head.starts_with(&[0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1])
}

/// Open a spooled compound file: its directory must parse.
pub(crate) fn open(mut spool: SpoolReader) -> Option<Box<dyn MemberSource>> {
    let visible = super::ole2_v4::clamd_visible(&mut spool);
    spool.seek(SeekFrom::Start(0)).ok()?;
    let cf = cfb::CompoundFile::open(spool).ok()?;
    Some(Box::new(Ole2 { cf, visible }))
}

struct Ole2 {
    cf: cfb::CompoundFile<SpoolReader>,
    /// For a version 4 file, the stream paths clamd's directory walk reaches (see
    /// [`super::ole2_v4`]); `None`: every stream.
    visible: Option<std::collections::HashSet<PathBuf>>,
}

/// A stream and what clamd does with it beyond scanning it.
struct StreamInfo {
    path: PathBuf,
    shown: String,
    name: String,
    len: u64,
}

impl MemberSource for Ole2 {
    fn for_each_member(self: Box<Self>, each: &mut EachMember<'_>) {
        self.for_each_member_at(&mut |name, data, declared, _| each(name, data, declared));
    }

    /// clamd 1.4.6 scans a Package payload one level below the streams and a PowerPoint
    /// embedded object at the compound file's own level (MaxRecursion).
    fn for_each_member_at(mut self: Box<Self>, each: &mut EachMemberAt<'_>) {
        let streams: Vec<StreamInfo> = self
            .cf
            .walk()
            .filter(|e| e.is_stream())
            .filter(|e| self.visible.as_ref().is_none_or(|v| v.contains(e.path())))
            .take(MAX_STREAMS)
            .map(|e| StreamInfo {
                path: e.path().to_path_buf(),
                // member names as stored, without the root's leading '/'
                shown: e
                    .path()
                    .to_string_lossy()
                    .trim_start_matches('/')
                    .to_string(),
                name: e.name().to_string(),
                len: e.len(),
            })
            .collect();
        for s in &streams {
            let Ok(mut stream) = self.cf.open_stream(&s.path) else {
                continue;
            };
            let name = s.shown.clone().into_bytes();
            if !each(name, &mut stream, Some(s.len), 0) {
                return;
            }
        }
        for s in streams.iter().filter(|s| s.name == "\u{1}Ole10Native") {
            let Ok(mut stream) = self.cf.open_stream(&s.path) else {
                continue;
            };
            let Some(size) = ole10_payload(&mut stream, s.len) else {
                continue;
            };
            let name = format!("{}/payload", s.shown).into_bytes();
            if !each(name, &mut (&mut stream).take(size), Some(size), 1) {
                return;
            }
        }
        for s in streams
            .iter()
            .filter(|s| s.name.eq_ignore_ascii_case("PowerPoint Document"))
        {
            let Ok(stream) = self.cf.open_stream(&s.path) else {
                continue;
            };
            if !ppt_objects(stream, s.len, each) {
                return;
            }
        }
    }
}

fn read_u32(r: &mut impl Read) -> Option<u32> {
    let mut b = [0u8; 4];
    r.read_exact(&mut b).ok()?;
    Some(u32::from_le_bytes(b))
}

/// Skip bytes up to and including a NUL (at most [`MAX_OLE10_STRING`]).
fn skip_cstr(r: &mut impl Read) -> Option<()> {
    let mut b = [0u8; 1];
    for _ in 0..MAX_OLE10_STRING {
        r.read_exact(&mut b).ok()?;
        if b[0] == 0 {
            return Some(());
        }
    }
    None
}

fn skip(r: &mut impl Read, n: u64) -> Option<()> {
    let got = io::copy(&mut r.take(n), &mut io::sink()).ok()?;
    (got == n).then_some(())
}

/// Position `r` (an Ole10Native object of `len` bytes, read from its start) at its payload
/// and return the payload size, as clamd's `cli_decode_ole_object` does: a u32 total size;
/// when at least 4 bytes are left beside it, a Package header follows (2-byte type, label,
/// path, 8 bytes, temp path, u32 payload size), otherwise the payload starts at once. The
/// size is capped at what the object holds (clamd copies what it can read).
pub(crate) fn ole10_payload(r: &mut (impl Read + ?Sized), len: u64) -> Option<u64> {
    let mut r = CountingReader { inner: r, read: 0 };
    let mut size = u64::from(read_u32(&mut r)?);
    if i128::from(len) - i128::from(size) >= 4 {
        skip(&mut r, 2)?;
        skip_cstr(&mut r)?;
        skip_cstr(&mut r)?;
        skip(&mut r, 8)?;
        skip_cstr(&mut r)?;
        size = u64::from(read_u32(&mut r)?);
    }
    Some(size.min(len.saturating_sub(r.read)))
}

struct CountingReader<'a, R: ?Sized> {
    inner: &'a mut R,
    read: u64,
}

impl<R: Read + ?Sized> Read for CountingReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        Ok(n)
    }
}

/// clamd's `ppt_stream_iter`: top-level atoms (8-byte header: version/instance, type,
/// length); an atom of length 0 ends the walk; each `ExOleObjStg` is a 4-byte id then zlib
/// data, inflated as a member. Returns `false` when the walk wants no more members.
fn ppt_objects<R: Read + Seek>(mut s: R, len: u64, each: &mut EachMemberAt<'_>) -> bool {
    let mut pos: u64 = 0;
    for _ in 0..MAX_ATOMS {
        if s.seek(SeekFrom::Start(pos)).is_err() {
            break;
        }
        let mut h = [0u8; 8];
        if s.read_exact(&mut h).is_err() {
            break;
        }
        let kind = u16::from_le_bytes([h[2], h[3]]);
        let alen = u64::from(u32::from_le_bytes([h[4], h[5], h[6], h[7]]));
        if alen == 0 {
            break;
        }
        pos += 8;
        if kind == PPT_EX_OLE_OBJ_STG {
            // clamd names the file after the offset of the compressed data
            let data_at = pos + 4;
            if data_at > len || s.seek(SeekFrom::Start(data_at)).is_err() {
                break;
            }
            let packed = alen.saturating_sub(4);
            let name = format!("ppt{data_at:08x}.doc").into_bytes();
            let mut inflated =
                UntilError::new(flate2::read::ZlibDecoder::new((&mut s).take(packed)));
            if !each(name, &mut inflated, None, -1) {
                return false;
            }
            pos = data_at + packed;
        } else {
            pos = pos.saturating_add(alen);
        }
        if pos >= len {
            break;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn package(label: &str, payload: &[u8]) -> Vec<u8> {
        let mut body = vec![2, 0];
        body.extend_from_slice(label.as_bytes());
        body.push(0);
        body.extend_from_slice(b"C:\\x\\a.exe\0");
        body.extend_from_slice(&[0, 0, 3, 0, 12, 0, 0, 0]);
        body.extend_from_slice(b"C:\\t\\a.exe\0");
        body.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        body.extend_from_slice(payload);
        body.extend_from_slice(&[0; 6]);
        let mut out = (body.len() as u32).to_le_bytes().to_vec();
        out.extend_from_slice(&body);
        out
    }

    #[test]
    fn ole10_payload_skips_the_package_header() {
        let obj = package("a.exe", b"PAYLOAD");
        let mut r = io::Cursor::new(&obj);
        let size = ole10_payload(&mut r, obj.len() as u64).unwrap();
        let mut got = Vec::new();
        r.take(size).read_to_end(&mut got).unwrap();
        assert_eq!(got, b"PAYLOAD");
    }

    #[test]
    fn ole10_payload_without_room_for_a_header_starts_at_once() {
        let mut obj = 100u32.to_le_bytes().to_vec();
        obj.extend_from_slice(b"raw");
        let mut r = io::Cursor::new(&obj);
        assert_eq!(ole10_payload(&mut r, obj.len() as u64), Some(3));
    }
}
