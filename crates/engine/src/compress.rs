//! Compressed files clamd unpacks (CLAMD-DET-7): gzip, bzip2 and xz. Each yields one
//! member, decompressed as a stream (the walk reads it in bounded pieces; its size is known
//! only by decompressing, like gzip), with memory bounded by the format: bzip2 blocks are at
//! most 900 kB, and an xz dictionary larger than [`XZ_MEM_LIMIT_KIB`] is refused.

use std::io::{self, BufRead, Read};

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

/// zlib's inflate (zlib-rs, a port of zlib) driven as clamd drives it: input that ends
/// before the stream does is the end (`Z_BUF_ERROR`), and a data error ends it with an error
/// after the bytes the failing call inflated (clamd writes them, then stops). Raw deflate for
/// zip members (`unz`), or gzip as `cli_scangzip` reads it, member after member. flate2 drops
/// what the failing call inflated (a gzip cut short and followed by other bytes, a PDF's
/// `endstream`, lost its last output), and miniz accepts a distance too far back.
pub(crate) struct Zlib<R> {
    inner: R,
    z: zlib_rs::Inflate,
    gzip: bool,
    done: bool,
    failed: bool,
}

impl<R: BufRead> Zlib<R> {
    /// Raw deflate (a zip member).
    pub(crate) fn raw(inner: R) -> Self {
        Self::with(inner, false)
    }

    /// gzip, every member of it (`cli_scangzip` resets its stream after each end).
    pub(crate) fn gzip(inner: R) -> Self {
        Self::with(inner, true)
    }

    fn with(inner: R, gzip: bool) -> Self {
        Self {
            inner,
            z: Self::inflate(gzip),
            gzip,
            done: false,
            failed: false,
        }
    }

    fn inflate(gzip: bool) -> zlib_rs::Inflate {
        if gzip {
            zlib_rs::Inflate::new(true, 16 + 15)
        } else {
            zlib_rs::Inflate::new(false, 15)
        }
    }
}

impl<R: BufRead> Read for Zlib<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let bad = || io::Error::new(io::ErrorKind::InvalidData, "bad deflate data");
        if self.failed {
            return Err(bad());
        }
        while !self.done && !buf.is_empty() {
            let input = self.inner.fill_buf()?;
            let eof = input.is_empty();
            let (in0, out0) = (self.z.total_in(), self.z.total_out());
            let status = self
                .z
                .decompress(input, buf, zlib_rs::InflateFlush::NoFlush);
            let consumed = (self.z.total_in() - in0) as usize;
            let produced = (self.z.total_out() - out0) as usize;
            self.inner.consume(consumed);
            match status {
                Err(_) => {
                    self.failed = true;
                    return if produced > 0 {
                        Ok(produced)
                    } else {
                        Err(bad())
                    };
                }
                // the next gzip member starts with the input this one left
                // (`Inflate::reset` would forget the gzip wrapper: a new decoder)
                Ok(zlib_rs::Status::StreamEnd) if self.gzip => self.z = Self::inflate(true),
                Ok(zlib_rs::Status::StreamEnd) => self.done = true,
                Ok(_) if produced == 0 && (eof || consumed == 0) => return Ok(0),
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
