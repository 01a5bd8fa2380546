//! `/FlateDecode` as clamd 1.4.6's `filter_flatedecode` runs zlib (CLAMD-DET-7), as a
//! streaming reader:
//! - when the first attempt fails or ends before any output (a bad zlib header, say, after
//!   stray text), clamd starts again once, just after the first end-of-line run of the data
//!   ("skip till EOL": PDFs with extra bytes before the zlib stream);
//! - an error after some output ends the data (clamd scans the partial output); one before
//!   any output fails the filter;
//! - data that runs out before the zlib stream ends is not an error: what came out counts
//!   (nothing, when nothing did); no data at all is (zlib's `Z_BUF_ERROR`).
//!
//! To start again the bytes read before the first output are kept, at most
//! [`RETRY_RECORD_CAP`]; a stream that reads more than that without any output is not
//! retried (clamd would be).

use std::io::{self, Cursor, Read};

use flate2::{Decompress, FlushDecompress, Status};

/// Most input bytes kept for the one retry.
const RETRY_RECORD_CAP: usize = 4 << 20;
const IN_CHUNK: usize = 16 * 1024;

/// Where the attempt is.
enum Attempt {
    /// The first: the input read so far is kept (`None` once past the cap).
    First(Option<Vec<u8>>),
    /// The retry after the first end of line.
    Retry,
    Done,
}

pub(crate) struct Inflate<'a> {
    source: Box<dyn Read + 'a>,
    z: Decompress,
    inbuf: Vec<u8>,
    at: usize,
    len: usize,
    eof: bool,
    produced: u64,
    attempt: Attempt,
}

impl<'a> Inflate<'a> {
    pub(crate) fn new(source: Box<dyn Read + 'a>) -> Self {
        Inflate {
            source,
            z: Decompress::new(true),
            inbuf: vec![0; IN_CHUNK],
            at: 0,
            len: 0,
            eof: false,
            produced: 0,
            attempt: Attempt::First(Some(Vec::new())),
        }
    }

    fn refill(&mut self) -> io::Result<()> {
        let n = loop {
            match self.source.read(&mut self.inbuf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                r => break r?,
            }
        };
        self.at = 0;
        self.len = n;
        self.eof = n == 0;
        if let Attempt::First(record) = &mut self.attempt {
            match record {
                Some(r) if r.len() + n <= RETRY_RECORD_CAP => r.extend_from_slice(&self.inbuf[..n]),
                _ => *record = None,
            }
        }
        Ok(())
    }

    /// The first attempt ended without output: start again after the first end of line,
    /// once. `false` when that is not possible.
    fn retry(&mut self) -> bool {
        let Attempt::First(Some(record)) = std::mem::replace(&mut self.attempt, Attempt::Retry)
        else {
            return false;
        };
        // what was read but not yet decoded is in `record` too
        let rest = std::mem::replace(&mut self.source, Box::new(io::empty()));
        self.source = Box::new(AfterLine::new(Cursor::new(record).chain(rest)));
        self.z = Decompress::new(true);
        self.at = 0;
        self.len = 0;
        self.eof = false;
        true
    }

    /// The attempt ended with nothing decoded: a retry, or the filter fails.
    fn nothing(&mut self) -> Option<io::Result<usize>> {
        if self.retry() {
            return None;
        }
        self.attempt = Attempt::Done;
        Some(Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "flate: nothing inflated",
        )))
    }
}

impl Read for Inflate<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            if matches!(self.attempt, Attempt::Done) {
                return Ok(0);
            }
            if self.at == self.len && !self.eof {
                self.refill()?;
            }
            let (in0, out0) = (self.z.total_in(), self.z.total_out());
            let result =
                self.z
                    .decompress(&self.inbuf[self.at..self.len], buf, FlushDecompress::None);
            let used = (self.z.total_in() - in0) as usize;
            let out = (self.z.total_out() - out0) as usize;
            self.at += used;
            self.produced += out as u64;
            if out > 0 {
                // past the first output there is no retry
                if let Attempt::First(record) = &mut self.attempt {
                    *record = None;
                }
            }
            let stuck = used == 0 && out == 0;
            match result {
                Ok(Status::StreamEnd) | Err(_) => {
                    if self.produced == 0 {
                        match self.nothing() {
                            Some(r) => return r,
                            None => continue,
                        }
                    }
                    self.attempt = Attempt::Done;
                    return Ok(out);
                }
                Ok(Status::Ok | Status::BufError) => {
                    if out > 0 {
                        return Ok(out);
                    }
                    // no input at all is zlib's Z_BUF_ERROR, an error
                    if self.eof && self.z.total_in() == 0 && self.produced == 0 {
                        match self.nothing() {
                            Some(r) => return r,
                            None => continue,
                        }
                    }
                    // the data ran out before the stream's end: what came out counts
                    if self.eof && self.at == self.len || stuck && self.at < self.len {
                        self.attempt = Attempt::Done;
                        return Ok(0);
                    }
                }
            }
        }
    }
}

/// `inner` from just after its first run of `\r`/`\n` (clamd's `decode_nextlinestart`);
/// nothing when it has none.
struct AfterLine<R> {
    inner: R,
    /// 0: before any line end, 1: in the run, 2: past it.
    state: u8,
}

impl<R> AfterLine<R> {
    fn new(inner: R) -> Self {
        AfterLine { inner, state: 0 }
    }
}

impl<R: Read> Read for AfterLine<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.state < 2 {
            let n = self.inner.read(buf)?;
            if n == 0 {
                return Ok(0);
            }
            for i in 0..n {
                let eol = matches!(buf[i], b'\r' | b'\n');
                if eol {
                    self.state = 1;
                } else if self.state == 1 {
                    self.state = 2;
                    buf.copy_within(i..n, 0);
                    return Ok(n - i);
                }
            }
        }
        self.inner.read(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zlib(data: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn inflate(data: &[u8]) -> io::Result<Vec<u8>> {
        // tiny reads, so chunk borders are crossed
        inflate_from(Box::new(Trickle(Cursor::new(data.to_vec()))))
    }

    fn inflate_from(src: Box<dyn Read>) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        Inflate::new(src).read_to_end(&mut out)?;
        Ok(out)
    }

    /// A reader giving at most 3 bytes a call.
    struct Trickle<R>(R);
    impl<R: Read> Read for Trickle<R> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = buf.len().min(3);
            self.0.read(&mut buf[..n])
        }
    }

    /// CLAMD-DET-7: a whole stream, one after stray bytes and a line end (retried there),
    /// stray bytes without a line end (fails), a truncated one (what came out).
    #[test]
    fn retry_after_line_end_and_partial_output() {
        let text: Vec<u8> = (0..4000u32).map(|i| (i * i % 251) as u8).collect();
        let z = zlib(&text);
        assert_eq!(inflate(&z).unwrap(), text);
        assert_eq!(inflate(&[b"junk\r\n\r\n", &z[..]].concat()).unwrap(), text);
        assert!(inflate(b"junk without a line end").is_err());
        // only one retry: two junk lines fail
        assert!(inflate(&[b"a\nb\n", &z[..]].concat()).is_err());
        let cut = inflate(&z[..z.len() / 2]).unwrap();
        assert!(!cut.is_empty() && text.starts_with(&cut));
        // corrupt midway, after output: the output so far
        let mut bad = z.clone();
        let at = bad.len() - 6;
        bad[at..].fill(0xff);
        let partial = inflate(&bad).unwrap();
        assert!(partial.len() > 100 && partial[..100] == text[..100]);
        // an empty zlib stream is retried after its line end too
        let empty = zlib(b"");
        assert_eq!(
            inflate(&[&empty[..], b"\n", &z[..]].concat()).unwrap(),
            text
        );
        // nothing at all fails; a zlib header alone is an empty stream
        assert!(inflate(b"").is_err());
        assert_eq!(inflate(&z[..2]).unwrap(), b"");
    }

    /// A stream that reads more than the record cap without output is not retried (and
    /// never holds more than the cap).
    #[test]
    fn record_is_capped() {
        // stored empty blocks: input is read, nothing comes out, then a bad block, a line
        // end and a good stream
        let after_empty_blocks = |blocks: usize| {
            let mut data = vec![0x78, 0x01];
            for _ in 0..blocks {
                data.extend_from_slice(&[0x00, 0x00, 0x00, 0xff, 0xff]);
            }
            data.extend_from_slice(&[0x07; 16]);
            data.extend_from_slice(b"\n");
            data.extend_from_slice(&zlib(b"late"));
            inflate_from(Box::new(Cursor::new(data)))
        };
        assert_eq!(after_empty_blocks(10).unwrap(), b"late");
        assert!(after_empty_blocks(RETRY_RECORD_CAP / 5 + 10).is_err());
    }

    use proptest::prelude::*;

    proptest! {
        /// CLAMD-DET-7: a zlib stream after a stray line (no zlib header can start it:
        /// letters other than `h` and `x`) inflates whole; any input ends without a panic.
        #[test]
        fn stray_line_then_zlib(
            junk in "[a-gi-wyz ]{1,40}",
            eol in "[\r\n]{1,3}",
            data in proptest::collection::vec(any::<u8>(), 1..3000),
            noise in proptest::collection::vec(any::<u8>(), 0..400),
        ) {
            let z = zlib(&data);
            let input = [junk.as_bytes(), eol.as_bytes(), &z[..]].concat();
            prop_assert_eq!(inflate(&input).unwrap(), data);
            let _ = inflate(&noise);
        }
    }
}
