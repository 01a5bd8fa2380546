//! Server side: the command decoder (CLAMD-TRANS-4, CLAMD-FRAME-*, CLAMD-PARSE-*).
//!
//! The decoder owns clamd's per-connection command buffer of [`COMMAND_BUFFER_SIZE`] bytes.
//! The server reads at most [`CommandDecoder::free_space`] bytes per socket read (at least one
//! byte, see below), passes each read to [`CommandDecoder::feed`], then calls
//! [`CommandDecoder::next_request`] until it returns `None`.
//!
//! * Each `feed` is one socket read and starts a new *parse round*. Legacy (unprefixed)
//!   commands are only recognised as the first command of a round, and take the whole buffer
//!   up to the first `\n` (CLAMD-FRAME-3: "first read = command"; CLAMD-SESSION-6).
//! * z/n commands are buffered across reads (CLAMD-FRAME-8).
//! * When the buffer is full and holds no complete command, the server should still read
//!   (one byte is enough): any further byte makes `feed` return
//!   [`ProtoError::CommandTooLong`] and the server closes without a reply (CLAMD-FRAME-9).
//!   If nothing more arrives, the command timeout applies (CLAMD-TIME-1).
//! * FILDES needs one byte after the command; it is consumed with the command
//!   (CLAMD-FILDES-1). Until it arrives, `next_request` returns `None`.

use crate::command::{chomp, parse_command, Command, Framing};
use crate::ProtoError;

/// CLAMD-TRANS-4: clamd's command buffer, `PATH_MAX + 8` on Linux.
pub const COMMAND_BUFFER_SIZE: usize = 4104;

/// One decoded command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The framing the command used (decides the reply terminator).
    pub framing: Framing,
    /// The parsed command.
    pub command: Command,
    /// The command text as parsed (after marker removal, terminator and chomping), for logs
    /// and transcripts.
    pub text: Vec<u8>,
}

impl Request {
    /// The reply terminator for this request (CLAMD-FRAME-4).
    pub fn terminator(&self) -> u8 {
        self.framing.terminator()
    }
}

/// The command decoder; see the module docs.
#[derive(Debug, Clone)]
pub struct CommandDecoder {
    buf: Vec<u8>,
    pos: usize,
    capacity: usize,
    round_started: bool,
    /// An IDSESSION is open (set by the server; see [`CommandDecoder::set_in_session`]).
    in_session: bool,
}

impl Default for CommandDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl CommandDecoder {
    /// A decoder with clamd's 4104-byte buffer.
    pub fn new() -> Self {
        Self::with_capacity(COMMAND_BUFFER_SIZE)
    }

    /// A decoder with another buffer size (tests, other platforms' `PATH_MAX`).
    pub fn with_capacity(capacity: usize) -> Self {
        CommandDecoder {
            // grown on the first feed: an idle connection holds no buffer
            buf: Vec::new(),
            pos: 0,
            capacity: capacity.max(1),
            round_started: false,
            in_session: false,
        }
    }

    /// Tell the decoder whether an IDSESSION is open: a legacy command there is rejected by
    /// the server at once, so a legacy `FILDES` does not wait for its extra byte (observed on
    /// clamd 1.4.6: `zIDSESSION\0` then `FILDES\n` is answered `Only nCMDS...` at once).
    pub fn set_in_session(&mut self, open: bool) {
        self.in_session = open;
    }

    /// The buffer capacity.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// How many bytes the next read may deliver. When this is 0 the server should still
    /// read (e.g. one byte): data then means CLAMD-FRAME-9.
    pub fn free_space(&self) -> usize {
        self.capacity - (self.buf.len() - self.pos)
    }

    /// Bytes received but not consumed by a command yet.
    pub fn buffered(&self) -> &[u8] {
        &self.buf[self.pos..]
    }

    /// Remove and return the unconsumed bytes (e.g. to hand them to the INSTREAM decoder).
    pub fn take_buffered(&mut self) -> Vec<u8> {
        let rest = self.buf.split_off(self.pos);
        self.buf.clear();
        self.pos = 0;
        rest
    }

    /// Put bytes back at the front of an empty decoder (bytes left over after an INSTREAM
    /// terminator inside a session). Starts a new parse round. Bytes beyond the capacity are
    /// an error (CLAMD-FRAME-9).
    pub fn restore(&mut self, data: &[u8]) -> Result<(), ProtoError> {
        let mut rest = self.take_buffered();
        rest.extend_from_slice(data);
        self.buf.clear();
        self.feed(&rest)
    }

    /// One socket read. Starts a new parse round (legacy commands are recognised only at the
    /// start of a round). Returns [`ProtoError::CommandTooLong`] when `data` does not fit in
    /// the free space (CLAMD-FRAME-9: the server must close without reply).
    pub fn feed(&mut self, data: &[u8]) -> Result<(), ProtoError> {
        if self.pos > 0 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        if data.len() > self.free_space() {
            return Err(ProtoError::CommandTooLong {
                capacity: self.capacity,
            });
        }
        self.buf.extend_from_slice(data);
        self.round_started = true;
        Ok(())
    }

    /// What the buffer starts with (nothing is consumed).
    fn head(&self) -> Head {
        let avail = &self.buf[self.pos..];
        let Some(&first) = avail.first() else {
            return Head::Incomplete;
        };
        let first_of_round = self.round_started;
        // (framing, text, cmdlen as clamd computes it; the consumed length is cmdlen + 1)
        let (framing, text, cmdlen, from_marker_len) = match first {
            // CLAMD-FRAME-1 / CLAMD-FRAME-2
            b'z' | b'n' => {
                let framing = if first == b'z' {
                    Framing::Z
                } else {
                    Framing::N
                };
                let term = framing.terminator();
                // wait for the terminator (FRAME-8)
                let Some(idx) = memchr::memchr(term, avail) else {
                    return Head::Incomplete;
                };
                if framing == Framing::Z {
                    // CLAMD-FRAME-1: nothing stripped
                    (framing, avail[1..idx].to_vec(), idx, avail.len())
                } else {
                    // CLAMD-FRAME-2: clamd chomps the C string that starts at the marker
                    let cstr = cstring(&avail[..idx]);
                    let chomped = chomp(cstr);
                    let text = chomped.get(1..).unwrap_or_default().to_vec();
                    (framing, text, chomped.len(), avail.len())
                }
            }
            // CLAMD-FRAME-3: legacy, only as the first command of a read round
            _ => {
                if !first_of_round {
                    return Head::Incomplete;
                }
                let cmdlen = memchr::memchr(b'\n', avail).unwrap_or(avail.len());
                let text = chomp(cstring(&avail[..cmdlen])).to_vec();
                // clamd measures the FILDES extra byte from the command start (no marker)
                (Framing::Legacy, text, cmdlen, avail.len() + 1)
            }
        };
        let command = parse_command(&text, framing);
        let mut consumed = cmdlen + 1;
        if command == Command::Fildes && !(framing == Framing::Legacy && self.in_session) {
            // CLAMD-FILDES-1: clamd needs more than `FILDES\n` after the marker: one extra
            // byte, consumed with the command.
            if from_marker_len <= 1 + "FILDES\n".len() {
                return Head::FildesAwaitsItsByte;
            }
            consumed += 1;
        }
        Head::Ready {
            request: Request {
                framing,
                command,
                text,
            },
            consumed,
        }
    }

    /// The next complete request, consumed from the buffer.
    pub fn next_request(&mut self) -> Option<Request> {
        match self.head() {
            Head::Ready { request, consumed } => {
                self.pos = (self.pos + consumed).min(self.buf.len());
                self.round_started = false;
                Some(request)
            }
            Head::Incomplete | Head::FildesAwaitsItsByte => None,
        }
    }

    /// Whether the buffer starts with a whole FILDES command that still waits for its extra
    /// byte (CLAMD-FILDES-1): a descriptor that came with it, without that byte, is refused
    /// by clamd 1.4.6 (CLAMD-FILDES-4).
    pub fn awaits_fildes_byte(&self) -> bool {
        matches!(self.head(), Head::FildesAwaitsItsByte)
    }
}

/// What the buffer starts with.
enum Head {
    /// Nothing, or a request not complete yet.
    Incomplete,
    /// A whole FILDES command without its extra byte.
    FildesAwaitsItsByte,
    /// A request, and how many bytes it takes.
    Ready { request: Request, consumed: usize },
}

/// clamd works on C strings: the bytes up to the first `\0`.
fn cstring(s: &[u8]) -> &[u8] {
    match memchr::memchr(0, s) {
        Some(i) => &s[..i],
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(reads: &[&[u8]]) -> Vec<Request> {
        let mut d = CommandDecoder::new();
        let mut out = Vec::new();
        for r in reads {
            d.feed(r).expect("fits");
            while let Some(req) = d.next_request() {
                out.push(req);
            }
        }
        out
    }

    fn cmds(reads: &[&[u8]]) -> Vec<(Framing, Command)> {
        decode_all(reads)
            .into_iter()
            .map(|r| (r.framing, r.command))
            .collect()
    }

    /// CLAMD-FRAME-1.
    #[test]
    fn clamd_frame_1_z_mode_no_stripping() {
        assert_eq!(cmds(&[b"zPING\0"]), vec![(Framing::Z, Command::Ping)]);
        assert_eq!(cmds(&[b"zPING\r\0"]), vec![(Framing::Z, Command::Unknown)]);
        assert_eq!(cmds(&[b"zPING \0"]), vec![(Framing::Z, Command::Unknown)]);
        assert!(
            cmds(&[b"zPING\n"]).is_empty(),
            "\\n does not end a z command"
        );
    }

    /// CLAMD-FRAME-2.
    #[test]
    fn clamd_frame_2_n_mode_chomps() {
        assert_eq!(cmds(&[b"nPING\n"]), vec![(Framing::N, Command::Ping)]);
        assert_eq!(cmds(&[b"nPING\r\n"]), vec![(Framing::N, Command::Ping)]);
        assert!(
            cmds(&[b"nPING\0"]).is_empty(),
            "\\0 does not end an n command"
        );
    }

    /// CLAMD-FRAME-3.
    #[test]
    fn clamd_frame_3_legacy_first_read_is_command() {
        assert_eq!(cmds(&[b"PING"]), vec![(Framing::Legacy, Command::Ping)]);
        assert_eq!(cmds(&[b"PING\n"]), vec![(Framing::Legacy, Command::Ping)]);
        assert_eq!(cmds(&[b"PING\r\n"]), vec![(Framing::Legacy, Command::Ping)]);
        assert_eq!(
            cmds(&[b"PI", b"NG"])[0],
            (Framing::Legacy, Command::Unknown)
        );
        for t in [&b"ZPING\0"[..], b"NPING\n", b"\n", b"\r\n", b"\0", b" PING"] {
            assert_eq!(
                cmds(&[t]),
                vec![(Framing::Legacy, Command::Unknown)],
                "{t:?}"
            );
        }
        // PING\nPING\n in one packet: one command only
        assert_eq!(
            cmds(&[b"PING\nPING\n"]),
            vec![(Framing::Legacy, Command::Ping)]
        );
        let long = vec![b'A'; 4103];
        assert_eq!(cmds(&[&long]), vec![(Framing::Legacy, Command::Unknown)]);
    }

    /// CLAMD-FRAME-3.
    #[test]
    fn clamd_frame_3_legacy_not_after_other_commands_in_same_round() {
        let mut d = CommandDecoder::new();
        d.feed(b"zIDSESSION\0zPING\0PING\n").unwrap();
        assert_eq!(d.next_request().unwrap().command, Command::IdSession);
        assert_eq!(d.next_request().unwrap().command, Command::Ping);
        assert!(d.next_request().is_none(), "legacy waits for the next read");
        d.feed(b"").unwrap();
        let r = d.next_request().unwrap();
        assert_eq!(r.framing, Framing::Legacy);
        assert_eq!(r.command, Command::Ping);
    }

    /// CLAMD-FRAME-6.
    #[test]
    fn clamd_frame_6_7_leading_bytes_and_empty() {
        assert_eq!(cmds(&[b"z PING\0"]), vec![(Framing::Z, Command::Unknown)]);
        assert_eq!(cmds(&[b"z\0"]), vec![(Framing::Z, Command::Unknown)]);
        assert_eq!(cmds(&[b"n\n"]), vec![(Framing::N, Command::Unknown)]);
    }

    /// CLAMD-FRAME-8.
    #[test]
    fn clamd_frame_8_partial_commands_buffered() {
        assert_eq!(cmds(&[b"zPI", b"NG\0"]), vec![(Framing::Z, Command::Ping)]);
        let bytes: Vec<&[u8]> = b"nVERSION\n".chunks(1).collect();
        assert_eq!(cmds(&bytes), vec![(Framing::N, Command::Version)]);
    }

    /// CLAMD-FRAME-9.
    #[test]
    fn clamd_frame_9_buffer_limit() {
        // exactly 4104 bytes with the terminator: parsed normally
        let mut line = b"n".to_vec();
        line.extend(std::iter::repeat_n(b'A', 4102));
        line.push(b'\n');
        assert_eq!(line.len(), 4104);
        assert_eq!(cmds(&[&line]), vec![(Framing::N, Command::Unknown)]);
        // 4104 unterminated bytes: waits; one more byte: error
        let mut d = CommandDecoder::new();
        let full = [b'z'; 4104];
        d.feed(&full).unwrap();
        assert!(d.next_request().is_none());
        assert_eq!(d.free_space(), 0);
        assert!(matches!(
            d.feed(b"\0"),
            Err(ProtoError::CommandTooLong { capacity: 4104 })
        ));
    }

    /// CLAMD-FRAME-9.
    #[test]
    fn clamd_frame_9_max_scan_path_4097() {
        let mut line = b"zSCAN ".to_vec();
        line.extend(std::iter::repeat_n(b'p', 4097));
        line.push(0);
        assert_eq!(line.len(), 4104);
        let r = cmds(&[&line]);
        assert_eq!(r[0].1.path().map(|p| p.len()), Some(4097));
    }

    /// CLAMD-CONN-3.
    #[test]
    fn clamd_conn_3_pipelined_commands_are_decoded_in_order() {
        assert_eq!(
            cmds(&[b"zPING\0nVERSION\nzEND\0"]),
            vec![
                (Framing::Z, Command::Ping),
                (Framing::N, Command::Version),
                (Framing::Z, Command::End)
            ]
        );
    }

    /// CLAMD-FILDES-1, CLAMD-SESSION-2: inside a session a legacy FILDES is a complete
    /// (rejected) command at once; outside one it waits for its extra byte.
    #[test]
    fn legacy_fildes_waits_for_its_extra_byte_only_outside_a_session() {
        let mut d = CommandDecoder::new();
        d.feed(b"FILDES\n").unwrap();
        assert!(d.next_request().is_none());
        let mut d = CommandDecoder::new();
        d.set_in_session(true);
        d.feed(b"FILDES\n").unwrap();
        let r = d.next_request().unwrap();
        assert_eq!((r.framing, r.command), (Framing::Legacy, Command::Fildes));
        // z-framed FILDES still waits in a session (CLAMD-FILDES-1)
        d.feed(b"zFILDES\0").unwrap();
        assert!(d.next_request().is_none());
    }

    /// CLAMD-FILDES-1.
    #[test]
    fn clamd_fildes_1_needs_one_extra_byte() {
        let mut d = CommandDecoder::new();
        d.feed(b"zFILDES\0").unwrap();
        assert!(d.next_request().is_none());
        d.feed(b"X").unwrap();
        assert_eq!(d.next_request().unwrap().command, Command::Fildes);
        assert!(d.buffered().is_empty(), "extra byte consumed");
        assert_eq!(
            cmds(&[b"FILDES\nX"]),
            vec![(Framing::Legacy, Command::Fildes)]
        );
        assert_eq!(
            cmds(&[b"nFILDES\nXzPING\0"]),
            vec![(Framing::N, Command::Fildes), (Framing::Z, Command::Ping)]
        );
    }

    /// CLAMD-FRAME-2.
    #[test]
    fn clamd_frame_2_n_mode_crlf_leaves_lf_like_clamd() {
        // clamd advances by the chomped length + 1, so "\r\n" leaves the "\n" in the buffer
        let mut d = CommandDecoder::new();
        d.feed(b"nPING\r\n").unwrap();
        assert_eq!(d.next_request().unwrap().command, Command::Ping);
        assert_eq!(d.buffered(), b"\n");
    }

    #[test]
    fn take_and_restore() {
        let mut d = CommandDecoder::new();
        d.feed(b"zINSTREAM\0\0\0\0\0zPING\0").unwrap();
        assert_eq!(d.next_request().unwrap().command, Command::Instream);
        assert_eq!(d.take_buffered(), b"\0\0\0\0zPING\0");
        d.restore(b"zPING\0").unwrap();
        assert_eq!(d.next_request().unwrap().command, Command::Ping);
    }
}
