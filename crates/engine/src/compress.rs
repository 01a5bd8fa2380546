//! Compressed files clamd unpacks (CLAMD-DET-7): gzip, bzip2 and xz. Each yields one
//! member, decompressed as a stream (the walk reads it in bounded pieces; its size is known
//! only by decompressing, like gzip), with memory bounded by the format: bzip2 blocks are at
//! most 900 kB, and an xz dictionary larger than [`XZ_MEM_LIMIT_KIB`] is refused.

use std::io::Read;

/// Largest xz decoder memory accepted (KiB): `xz -9` needs about 65 MiB.
pub(crate) const XZ_MEM_LIMIT_KIB: u32 = 80 * 1024;

/// `BZh1`..`BZh9` then the block magic (or the end-of-stream magic of an empty file).
pub(crate) fn is_bzip2(head: &[u8]) -> bool {
    head.len() >= 10
        && head.starts_with(b"BZh")
        && (b'1'..=b'9').contains(&head[3])
        && (head[4..10] == [0x31, 0x41, 0x59, 0x26, 0x53, 0x59]
            || head[4..10] == [0x17, 0x72, 0x45, 0x38, 0x50, 0x90])
}

/// The xz stream header magic.
pub(crate) fn is_xz(head: &[u8]) -> bool {
    head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00])
}

/// The first bzip2 stream of `r`: clamd 1.4.6 (`cli_scanbzip`) stops at its end, so bytes
/// after it (another stream, or what a MIME or PDF layer leaves after the data) are ignored;
/// a damaged or cut stream gives its whole 8 KiB output buffers ([`WholeBuffers`]).
pub(crate) fn bzip2_reader<R: Read>(r: R) -> impl Read {
    WholeBuffers::new(bzip2::read::BzDecoder::new(r))
}

/// gzip read as clamd 1.4.6's `cli_scangzip` reads it: zlib with `MAX_WBITS + 16` fed one
/// 4 KiB page at a time, member after member (a reset after each end). A data error keeps
/// the bytes inflated in that call and ends the data; input that ends early ends it without
/// an error. flate2 drops what a call inflated before its error, so a gzip cut short and
/// followed by other bytes (a PDF's `endstream`, a MIME boundary) lost its last output.
pub(crate) struct GzipAsClamd<R> {
    inner: R,
    z: zlib_rs::Inflate,
    page: Box<[u8; GZIP_PAGE]>,
    at: usize,
    len: usize,
    done: bool,
}

/// clamd's `fmap` page: how much input one `inflate` call gets.
const GZIP_PAGE: usize = 4096;

impl<R: Read> GzipAsClamd<R> {
    pub(crate) fn new(inner: R) -> Self {
        Self {
            inner,
            z: zlib_rs::Inflate::new(true, 16 + 15),
            page: Box::new([0; GZIP_PAGE]),
            at: 0,
            len: 0,
            done: false,
        }
    }
}

impl<R: Read> Read for GzipAsClamd<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while !self.done && !buf.is_empty() {
            if self.at == self.len {
                self.len = self.inner.read(&mut self.page[..])?;
                self.at = 0;
                if self.len == 0 {
                    self.done = true;
                    break;
                }
            }
            let (in0, out0) = (self.z.total_in(), self.z.total_out());
            let status = self.z.decompress(
                &self.page[self.at..self.len],
                buf,
                zlib_rs::InflateFlush::NoFlush,
            );
            self.at += (self.z.total_in() - in0) as usize;
            let produced = (self.z.total_out() - out0) as usize;
            match status {
                Err(_) => self.done = true,
                // the next member starts with the input this one left
                // (`Inflate::reset` would forget the gzip wrapper: a new decoder)
                Ok(zlib_rs::Status::StreamEnd) => self.z = zlib_rs::Inflate::new(true, 16 + 15),
                // no output and nothing taken from a page: nothing will come of it
                Ok(_) if produced == 0 && self.at < self.len => {
                    self.at = self.len;
                }
                Ok(_) => {}
            }
            if produced > 0 {
                return Ok(produced);
            }
        }
        Ok(0)
    }
}

/// A decoder whose first error ends the data, for good: clamd scans what came out before
/// a damaged or cut stream (gzip, CAB folders, OLE2 and PDF zlib data).
pub(crate) struct UntilError<R>(Option<R>);

impl<R: Read> UntilError<R> {
    pub(crate) fn new(inner: R) -> Self {
        UntilError(Some(inner))
    }
}

impl<R: Read> Read for UntilError<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let Some(r) = self.0.as_mut() else {
            return Ok(0);
        };
        match r.read(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => Err(e),
            Err(_) => {
                self.0 = None;
                Ok(0)
            }
            ok => ok,
        }
    }
}

/// clamd's FILEBUFF: `cli_scanbzip` writes its output buffer when it is full or the stream
/// has ended.
const BZIP2_BUFFER: usize = 8192;

/// A decoder's output in whole [`BZIP2_BUFFER`]-byte pieces, the last one shorter only at a
/// clean end: an error ends the data and drops the unfinished piece, as `cli_scanbzip`
/// breaks out of its loop before writing a buffer that is not full.
pub(crate) struct WholeBuffers<R> {
    inner: R,
    buf: Vec<u8>,
    pos: usize,
    len: usize,
    done: bool,
}

impl<R: Read> WholeBuffers<R> {
    pub(crate) fn new(inner: R) -> Self {
        WholeBuffers {
            inner,
            buf: vec![0; BZIP2_BUFFER],
            pos: 0,
            len: 0,
            done: false,
        }
    }

    /// Refills the piece; on an error (or a cut, which the decoder reports as one) the
    /// unfinished piece is dropped and the data ends.
    fn fill(&mut self) {
        self.pos = 0;
        self.len = 0;
        while self.len < self.buf.len() {
            match self.inner.read(&mut self.buf[self.len..]) {
                Ok(0) => {
                    self.done = true;
                    return;
                }
                Ok(n) => self.len += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => {
                    self.done = true;
                    self.len = 0;
                    return;
                }
            }
        }
    }
}

impl<R: Read> Read for WholeBuffers<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.pos == self.len {
            if self.done {
                return Ok(0);
            }
            self.fill();
        }
        let n = out.len().min(self.len - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// The first xz stream of `r`, with the decoder memory limit: clamd 1.4.6 (`cli_scanxz`)
/// stops once `XzUnpacker_IsStreamWasFinished`, so bytes after the stream are ignored.
pub(crate) fn xz_reader<R: Read>(r: R) -> impl Read {
    lzma_rust2::XzReader::new_mem_limit(r, false, XZ_MEM_LIMIT_KIB)
}

/// The member name: the container's base name without its compression suffix
/// (`a.tbz2` → `a.tar`, `x.exe.bz2` → `x.exe`, as SVSP-NAME-6 does for gzip).
pub(crate) fn derived_name(parent: &[u8], suffixes: &[(&[u8], &[u8])]) -> Vec<u8> {
    let base = match parent.iter().rposition(|&b| b == b'/') {
        Some(i) => &parent[i + 1..],
        None => parent,
    };
    let lower = base.to_ascii_lowercase();
    for (suffix, replacement) in suffixes {
        if lower.ends_with(suffix) && lower.len() > suffix.len() {
            let mut v = base[..base.len() - suffix.len()].to_vec();
            v.extend_from_slice(replacement);
            return v;
        }
    }
    base.to_vec()
}

pub(crate) const BZIP2_SUFFIXES: &[(&[u8], &[u8])] = &[
    (b".tbz2", b".tar"),
    (b".tbz", b".tar"),
    (b".bz2", b""),
    (b".bz", b""),
];
pub(crate) const XZ_SUFFIXES: &[(&[u8], &[u8])] = &[(b".txz", b".tar"), (b".xz", b"")];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_drop_the_suffix() {
        assert_eq!(derived_name(b"/d/a.tbz2", BZIP2_SUFFIXES), b"a.tar");
        assert_eq!(derived_name(b"x.exe.BZ2", BZIP2_SUFFIXES), b"x.exe");
        assert_eq!(derived_name(b"p.txz", XZ_SUFFIXES), b"p.tar");
        assert_eq!(derived_name(b"plain", XZ_SUFFIXES), b"plain");
        assert_eq!(derived_name(b".xz", XZ_SUFFIXES), b".xz");
    }

    /// `data` then an error, read through [`WholeBuffers`].
    fn whole(data: &[u8], error_at_end: bool) -> Vec<u8> {
        struct Then<'a>(&'a [u8], bool);
        impl Read for Then<'_> {
            fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
                if self.0.is_empty() {
                    return if self.1 {
                        Err(std::io::Error::other("bad block"))
                    } else {
                        Ok(0)
                    };
                }
                // a few bytes at a time, as a decoder may give them
                let n = out.len().min(self.0.len()).min(1000);
                out[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let mut v = Vec::new();
        WholeBuffers::new(Then(data, error_at_end))
            .read_to_end(&mut v)
            .expect("never an error");
        v
    }

    /// CLAMD-DET-7: after a bzip2 error only whole 8 KiB buffers remain; a clean end keeps
    /// the short last one.
    #[test]
    fn bzip2_output_after_an_error_is_whole_buffers() {
        let data: Vec<u8> = (0..20_000u32).map(|i| i as u8).collect();
        assert_eq!(whole(&data, true), &data[..16_384]);
        assert_eq!(whole(&data[..8191], true), b"");
        assert_eq!(whole(&data, false), data);
        assert_eq!(whole(&data[..8192], true), &data[..8192]);
    }

    #[test]
    fn sniffs_magic() {
        assert!(is_bzip2(b"BZh91AY&SYxx"));
        assert!(!is_bzip2(b"BZh01AY&SY"));
        assert!(is_xz(&[0xfd, b'7', b'z', b'X', b'Z', 0, 0, 4]));
        assert!(!is_xz(b"7z\xbc\xaf"));
    }
}
