//! Line framing (SVSP-FRAME-1, SVSP-FRAME-4, SVSP-FRAME-6).
//!
//! Bytes in, lines out. LF ends a line; one CR directly before the LF is part of the
//! terminator (SVSP-FRAME-1). A line longer than the limit is reported once as
//! [`Frame::TooLong`] and the rest of it, up to and including the next LF, is discarded
//! (SVSP-FRAME-4). Framing is lazy: bytes stay raw in the buffer until
//! [`LineFramer::next_frame`] is called, so a caller can switch to raw data mode
//! ([`LineFramer::take_raw`], SVSP-SCAN-DATA-1) at any line boundary.
//!
//! Memory: an unterminated line never keeps more than `max_line + 1` bytes once
//! `next_frame` has looked at it; callers that read in bounded chunks and call
//! `next_frame` after each push therefore stay bounded. [`LineFramer::buffered`] lets a
//! caller that holds lines back (`--dispatch=one-per-read`) apply backpressure.

use memchr::memchr;

/// Default maximum command line length of the fake, terminator excluded (SVSP-FRAME-4).
pub const DEFAULT_MAX_LINE: usize = 8192;

/// Output line terminator (SVSP-FRAME-6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Eol {
    /// `\r\n` (fake default, `--eol=crlf`).
    #[default]
    Crlf,
    /// `\n` (`--eol=lf`).
    Lf,
}

impl Eol {
    /// The terminator bytes.
    pub fn as_bytes(self) -> &'static [u8] {
        match self {
            Eol::Crlf => b"\r\n",
            Eol::Lf => b"\n",
        }
    }
}

/// One framed unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A complete line, terminator removed (SVSP-FRAME-1).
    Line(Vec<u8>),
    /// A line exceeded the limit (SVSP-FRAME-4). Emitted once per over-long line.
    TooLong,
}

/// Incremental line splitter with a bounded line length.
#[derive(Debug, Clone)]
pub struct LineFramer {
    buf: Vec<u8>,
    /// Start of unconsumed bytes in `buf` (compacted lazily).
    start: usize,
    max_line: usize,
    /// Inside an over-long line: drop bytes up to and including the next LF.
    discarding: bool,
}

impl Default for LineFramer {
    fn default() -> Self {
        LineFramer::new(DEFAULT_MAX_LINE)
    }
}

impl LineFramer {
    /// A framer accepting lines of at most `max_line` bytes (terminator excluded).
    pub fn new(max_line: usize) -> Self {
        LineFramer {
            buf: Vec::new(),
            start: 0,
            max_line,
            discarding: false,
        }
    }

    /// The configured maximum line length.
    pub fn max_line(&self) -> usize {
        self.max_line
    }

    /// Appends received bytes.
    pub fn push(&mut self, data: &[u8]) {
        if self.start > 0 && self.start * 2 >= self.buf.len() {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        if self.discarding && self.start == self.buf.len() {
            // Drop the rest of an over-long line without buffering it.
            if let Some(i) = memchr(b'\n', data) {
                self.discarding = false;
                self.buf.extend_from_slice(&data[i + 1..]);
            }
            return;
        }
        self.buf.extend_from_slice(data);
    }

    /// Number of raw bytes buffered and not yet returned.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }

    /// The next complete frame, if any.
    pub fn next_frame(&mut self) -> Option<Frame> {
        loop {
            let pending = &self.buf[self.start..];
            if self.discarding {
                match memchr(b'\n', pending) {
                    Some(i) => {
                        self.start += i + 1;
                        self.discarding = false;
                        continue;
                    }
                    None => {
                        self.start = self.buf.len();
                        return None;
                    }
                }
            }
            return match memchr(b'\n', pending) {
                Some(i) => {
                    let mut line = &pending[..i];
                    if line.last() == Some(&b'\r') {
                        line = &line[..line.len() - 1];
                    }
                    let frame = if line.len() > self.max_line {
                        Frame::TooLong
                    } else {
                        Frame::Line(line.to_vec())
                    };
                    self.start += i + 1;
                    Some(frame)
                }
                // Unterminated: allow max_line bytes plus a CR that may precede the LF.
                None if pending.len() > self.max_line + 1 => {
                    self.start = self.buf.len();
                    self.discarding = true;
                    Some(Frame::TooLong)
                }
                None => None,
            };
        }
    }

    /// Takes up to `max` raw buffered bytes (data mode, SVSP-SCAN-DATA-1). Only meaningful
    /// at a line boundary (directly after a [`Frame::Line`]).
    pub fn take_raw(&mut self, max: usize) -> Vec<u8> {
        if self.discarding {
            return Vec::new();
        }
        let n = max.min(self.buffered());
        let out = self.buf[self.start..self.start + n].to_vec();
        self.start += n;
        out
    }

    /// Drops everything buffered (EOF: a partial line is discarded, SVSP-CONN-4).
    pub fn clear(&mut self) {
        self.buf.clear();
        self.start = 0;
        self.discarding = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(f: &mut LineFramer) -> Vec<Frame> {
        std::iter::from_fn(|| f.next_frame()).collect()
    }

    /// SVSP-FRAME-1.
    #[test]
    fn svsp_frame_1_lf_and_crlf_accepted_inner_cr_kept() {
        let mut f = LineFramer::default();
        f.push(b"A\r\nB\nC\rD\n\r\n");
        assert_eq!(
            frames(&mut f),
            vec![
                Frame::Line(b"A".to_vec()),
                Frame::Line(b"B".to_vec()),
                Frame::Line(b"C\rD".to_vec()),
                Frame::Line(Vec::new())
            ]
        );
    }

    /// SVSP-FRAME-4.
    #[test]
    fn svsp_frame_4_exact_limit_ok_one_more_too_long_then_resync() {
        let mut f = LineFramer::new(8);
        f.push(b"12345678\r\n123456789\nok\n");
        assert_eq!(
            frames(&mut f),
            vec![
                Frame::Line(b"12345678".to_vec()),
                Frame::TooLong,
                Frame::Line(b"ok".to_vec())
            ]
        );
    }

    /// SVSP-FRAME-4.
    #[test]
    fn svsp_frame_4_unterminated_overlong_is_bounded_and_reported_once() {
        let mut f = LineFramer::new(8);
        for _ in 0..1000 {
            f.push(b"xxxxxxxxxxxxxxxx");
            let _ = frames(&mut f);
            assert!(f.buffered() <= 9 + 16);
        }
        let mut f = LineFramer::new(8);
        let mut too_long = 0;
        for _ in 0..100 {
            f.push(b"xxxxxxx");
            too_long += frames(&mut f)
                .iter()
                .filter(|x| **x == Frame::TooLong)
                .count();
        }
        f.push(b"\nQUIT\n");
        let rest = frames(&mut f);
        assert_eq!(
            too_long + rest.iter().filter(|x| **x == Frame::TooLong).count(),
            1
        );
        assert_eq!(rest.last(), Some(&Frame::Line(b"QUIT".to_vec())));
    }

    #[test]
    fn take_raw_after_line_gets_exact_bytes() {
        let mut f = LineFramer::default();
        f.push(b"SCAN/DATA 3\r\na\nbQUIT\n");
        assert_eq!(f.next_frame(), Some(Frame::Line(b"SCAN/DATA 3".to_vec())));
        assert_eq!(f.take_raw(3), b"a\nb".to_vec());
        assert_eq!(f.next_frame(), Some(Frame::Line(b"QUIT".to_vec())));
    }
}
