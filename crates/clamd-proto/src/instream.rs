//! Server side: the INSTREAM chunk decoder (CLAMD-INSTREAM-1..5).
//!
//! Feed it the bytes that follow the `INSTREAM` command; it yields data slices (zero copy),
//! the end of the stream, or the size-limit violation. It never allocates: a
//! `\xff\xff\xff\xff` header costs nothing.
//!
//! ```
//! use clamd_proto::instream::{InstreamDecoder, InstreamEvent};
//! let mut dec = InstreamDecoder::new(10);
//! let mut input: &[u8] = b"\0\0\0\x03abc\0\0\0\0";
//! let mut data = Vec::new();
//! loop {
//!     let (used, ev) = dec.decode(input);
//!     input = &input[used..];
//!     match ev {
//!         InstreamEvent::Data(d) => data.extend_from_slice(d),
//!         InstreamEvent::End => break,
//!         InstreamEvent::NeedMore => unreachable!(),
//!         InstreamEvent::LimitExceeded { .. } => unreachable!(),
//!     }
//! }
//! assert_eq!(data, b"abc");
//! ```

/// CLAMD-INSTREAM-4 / CLAMD-CONF-3: default `StreamMaxLength` (100M).
pub const DEFAULT_STREAM_MAX_LENGTH: u64 = 100 * 1024 * 1024;

/// What the decoder found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstreamEvent<'a> {
    /// Stream payload bytes (part of a chunk).
    Data(&'a [u8]),
    /// The zero-length terminator chunk: the stream is complete (CLAMD-INSTREAM-1).
    End,
    /// CLAMD-INSTREAM-4: a chunk header asked for more than the remaining quota. The
    /// server replies `INSTREAM size limit exceeded. ERROR` and closes (CLAMD-INSTREAM-5).
    LimitExceeded {
        /// The chunk length from the header.
        requested: u32,
        /// The quota left before this header.
        remaining: u64,
    },
    /// All input consumed; more bytes are needed.
    NeedMore,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Header { buf: [u8; 4], have: u8 },
    Data { left: u32 },
    Done,
    Failed,
}

/// The chunk decoder.
#[derive(Debug, Clone)]
pub struct InstreamDecoder {
    quota: u64,
    state: State,
    total: u64,
}

impl InstreamDecoder {
    /// A decoder with `quota = stream_max_length` (CLAMD-INSTREAM-4).
    pub fn new(stream_max_length: u64) -> Self {
        InstreamDecoder {
            quota: stream_max_length,
            state: State::Header {
                buf: [0; 4],
                have: 0,
            },
            total: 0,
        }
    }

    /// Quota left.
    pub fn remaining_quota(&self) -> u64 {
        self.quota
    }

    /// Payload bytes announced by accepted chunk headers so far.
    pub fn total_announced(&self) -> u64 {
        self.total
    }

    /// True once the terminator chunk was decoded.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// True once the limit was exceeded.
    pub fn is_failed(&self) -> bool {
        self.state == State::Failed
    }

    /// True while a chunk header or chunk data is incomplete (a half-close now means
    /// "close without reply", CLAMD-CONN-4).
    pub fn is_mid_stream(&self) -> bool {
        matches!(self.state, State::Header { .. } | State::Data { .. })
    }

    /// Decode from `input`; returns how many bytes were consumed and the event. Call again
    /// with the rest until [`InstreamEvent::NeedMore`]. After `End` or `LimitExceeded` the
    /// decoder consumes nothing more (the rest belongs to the next command, or is ignored).
    pub fn decode<'a>(&mut self, input: &'a [u8]) -> (usize, InstreamEvent<'a>) {
        let mut used = 0;
        loop {
            match &mut self.state {
                State::Done => return (used, InstreamEvent::End),
                State::Failed => return (used, InstreamEvent::NeedMore),
                State::Data { left } => {
                    let rest = &input[used..];
                    if rest.is_empty() {
                        return (used, InstreamEvent::NeedMore);
                    }
                    let n = rest.len().min(*left as usize);
                    *left -= n as u32;
                    if *left == 0 {
                        self.state = State::Header {
                            buf: [0; 4],
                            have: 0,
                        };
                    }
                    return (used + n, InstreamEvent::Data(&rest[..n]));
                }
                State::Header { buf, have } => {
                    while (*have as usize) < 4 {
                        match input.get(used) {
                            Some(&b) => {
                                buf[*have as usize] = b;
                                *have += 1;
                                used += 1;
                            }
                            None => return (used, InstreamEvent::NeedMore),
                        }
                    }
                    // CLAMD-INSTREAM-1: 4-byte unsigned big-endian length
                    let len = u32::from_be_bytes(*buf);
                    if len == 0 {
                        // CLAMD-INSTREAM-4: a zero header ends the stream even with no quota
                        self.state = State::Done;
                        return (used, InstreamEvent::End);
                    }
                    // CLAMD-INSTREAM-4: check on the complete header, before any data
                    if u64::from(len) > self.quota {
                        let remaining = self.quota;
                        self.state = State::Failed;
                        return (
                            used,
                            InstreamEvent::LimitExceeded {
                                requested: len,
                                remaining,
                            },
                        );
                    }
                    self.quota -= u64::from(len);
                    self.total += u64::from(len);
                    self.state = State::Data { left: len };
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Run the decoder over reads; return (payload, outcome).
    fn run(limit: u64, reads: &[&[u8]]) -> (Vec<u8>, Option<InstreamEvent<'static>>) {
        let mut d = InstreamDecoder::new(limit);
        let mut data = Vec::new();
        for r in reads {
            let mut input = *r;
            loop {
                let (used, ev) = d.decode(input);
                input = &input[used..];
                match ev {
                    InstreamEvent::Data(x) => data.extend_from_slice(x),
                    InstreamEvent::NeedMore => break,
                    InstreamEvent::End => return (data, Some(InstreamEvent::End)),
                    InstreamEvent::LimitExceeded {
                        requested,
                        remaining,
                    } => {
                        return (
                            data,
                            Some(InstreamEvent::LimitExceeded {
                                requested,
                                remaining,
                            }),
                        )
                    }
                }
            }
        }
        (data, None)
    }

    /// CLAMD-INSTREAM-3.
    #[test]
    fn clamd_instream_3_zero_chunks() {
        assert_eq!(run(10, &[b"\0\0\0\0"]), (vec![], Some(InstreamEvent::End)));
    }

    /// CLAMD-INSTREAM-4.
    #[test]
    fn clamd_instream_4_exact_limit_accepted() {
        let mut s = Vec::new();
        for _ in 0..4 {
            s.extend_from_slice(&4u32.to_be_bytes());
            s.extend_from_slice(b"abcd");
        }
        s.extend_from_slice(&[0; 4]);
        let (d, ev) = run(16, &[&s]);
        assert_eq!(d.len(), 16);
        assert_eq!(ev, Some(InstreamEvent::End));
    }

    /// CLAMD-INSTREAM-4.
    #[test]
    fn clamd_instream_4_one_more_byte_rejected_before_data() {
        let mut s = Vec::new();
        s.extend_from_slice(&16u32.to_be_bytes());
        s.extend_from_slice(&[1; 16]);
        s.extend_from_slice(&1u32.to_be_bytes());
        // no data for the second chunk: the check runs on the header alone
        let (d, ev) = run(16, &[&s]);
        assert_eq!(d.len(), 16);
        assert_eq!(
            ev,
            Some(InstreamEvent::LimitExceeded {
                requested: 1,
                remaining: 0
            })
        );
    }

    /// CLAMD-INSTREAM-4.
    #[test]
    fn clamd_instream_4_huge_headers_exceed() {
        assert_eq!(
            run(104857600, &[b"\xff\xff\xff\xff"]).1,
            Some(InstreamEvent::LimitExceeded {
                requested: u32::MAX,
                remaining: 104857600
            })
        );
        assert!(matches!(
            run(104857600, &[b"\x80\0\0\0"]).1,
            Some(InstreamEvent::LimitExceeded { .. })
        ));
    }

    /// CLAMD-INSTREAM-4.
    #[test]
    fn clamd_instream_4_zero_header_ends_with_quota_used_up() {
        let mut s = 2u32.to_be_bytes().to_vec();
        s.extend_from_slice(b"xy\0\0\0\0");
        assert_eq!(run(2, &[&s]), (b"xy".to_vec(), Some(InstreamEvent::End)));
    }

    /// CLAMD-INSTREAM-1.
    #[test]
    fn clamd_instream_1_split_headers() {
        let (d, ev) = run(100, &[b"\0", b"\0\0", b"\x02a", b"b", b"\0\0\0", b"\0"]);
        assert_eq!(d, b"ab");
        assert_eq!(ev, Some(InstreamEvent::End));
    }

    #[test]
    fn nothing_consumed_after_end() {
        let mut d = InstreamDecoder::new(10);
        let input = b"\0\0\0\0zPING\0";
        let (used, ev) = d.decode(input);
        assert_eq!((used, ev), (4, InstreamEvent::End));
        assert_eq!(d.decode(&input[4..]), (0, InstreamEvent::End));
    }
}
