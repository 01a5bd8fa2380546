//! Sans-io recogniser for the SVSP lines that open a data channel, so the recording proxy can
//! put itself into the data path too:
//!
//! * daemon to client: `[id] SEND <port>` (SVSP-RESP-SEND-1, SVSP-SCAN-REQUEST-1): the client
//!   will connect to `<port>` on the control host;
//! * client to daemon: `[id] SCAN/PORT <port> [name]` (SVSP-SCAN-PORT-1): the daemon will
//!   connect to `<port>` on the control peer's host.
//!
//! Bytes go in as they arrive; out come byte runs to forward unchanged and complete matching
//! lines with the position of their port number. Bytes are held back only while the current
//! line could still become such a line, so a reply written a byte at a time still reaches the
//! client in pieces (the split-reply faults must keep working through the proxy).

use std::ops::Range;

use svsp_proto::{Body, Command, Parsed, Source};

/// Which line the rewriter looks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Watch {
    /// `[id] SEND <port>` from the daemon (SVSP-RESP-SEND-1).
    Send,
    /// `[id] SCAN/PORT <port> [name]` from the client (SVSP-SCAN-PORT-1).
    ScanPort,
}

/// One piece of output, in stream order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// Forward as is.
    Bytes(Vec<u8>),
    /// A complete matching line (terminator included); `port_at` is where its port number is.
    Line {
        line: Vec<u8>,
        port_at: Range<usize>,
        port: u16,
    },
}

impl Piece {
    /// The line with its port number replaced by `new_port` (other pieces unchanged).
    pub fn rewritten(&self, new_port: u16) -> Vec<u8> {
        match self {
            Piece::Bytes(b) => b.clone(),
            Piece::Line { line, port_at, .. } => {
                let mut out = Vec::with_capacity(line.len() + 5);
                out.extend_from_slice(line.get(..port_at.start).unwrap_or_default());
                out.extend_from_slice(new_port.to_string().as_bytes());
                out.extend_from_slice(line.get(port_at.end..).unwrap_or_default());
                out
            }
        }
    }
}

/// Longest line held back: the fake's command line limit plus CRLF (SVSP-FRAME-4); a longer
/// line is not executed, so it cannot open a data channel. Response lines are short.
const MAX_HELD_COMMAND: usize = 8192 + 2;
const MAX_HELD_RESPONSE: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// At the start of a line, or inside a line that may still match (bytes in `pending`).
    Candidate,
    /// Inside a line that cannot match: forward up to and including its LF.
    Passthrough,
}

/// The rewriter for one direction of one control connection.
#[derive(Debug)]
pub struct LineRewriter {
    watch: Watch,
    state: State,
    pending: Vec<u8>,
}

#[derive(Debug, PartialEq, Eq)]
enum Class {
    No,
    Maybe,
    Match { port_at: Range<usize>, port: u16 },
}

impl LineRewriter {
    pub fn new(watch: Watch) -> Self {
        LineRewriter {
            watch,
            state: State::Candidate,
            pending: Vec::new(),
        }
    }

    /// Bytes currently held back.
    pub fn held(&self) -> usize {
        self.pending.len()
    }

    /// Feeds bytes as they arrived; returns what to forward now, in order.
    pub fn feed(&mut self, mut input: &[u8]) -> Vec<Piece> {
        let mut out: Vec<Piece> = Vec::new();
        let mut plain: Vec<u8> = Vec::new();
        while !input.is_empty() {
            let (upto, has_lf) = match memchr::memchr(b'\n', input) {
                Some(i) => (i + 1, true),
                None => (input.len(), false),
            };
            let (part, rest) = input.split_at(upto);
            input = rest;
            match self.state {
                State::Passthrough => {
                    plain.extend_from_slice(part);
                    if has_lf {
                        self.state = State::Candidate;
                    }
                }
                State::Candidate => {
                    self.pending.extend_from_slice(part);
                    match self.classify() {
                        Class::Maybe => {}
                        Class::No => {
                            plain.append(&mut self.pending);
                            if !has_lf {
                                self.state = State::Passthrough;
                            }
                        }
                        Class::Match { port_at, port } => {
                            if !plain.is_empty() {
                                out.push(Piece::Bytes(std::mem::take(&mut plain)));
                            }
                            out.push(Piece::Line {
                                line: std::mem::take(&mut self.pending),
                                port_at,
                                port,
                            });
                        }
                    }
                }
            }
        }
        if !plain.is_empty() {
            out.push(Piece::Bytes(plain));
        }
        out
    }

    /// End of stream: whatever was held back, to forward unchanged.
    pub fn finish(&mut self) -> Vec<u8> {
        self.state = State::Candidate;
        std::mem::take(&mut self.pending)
    }

    fn classify(&self) -> Class {
        let max = match self.watch {
            Watch::Send => MAX_HELD_RESPONSE,
            Watch::ScanPort => MAX_HELD_COMMAND,
        };
        if self.pending.len() > max {
            return Class::No;
        }
        let complete = self.pending.last() == Some(&b'\n');
        let mut text = self.pending.as_slice();
        if complete {
            text = &text[..text.len() - 1];
        }
        // A CR right before the LF is part of the terminator (SVSP-FRAME-1); at the end of an
        // incomplete line it may still become one.
        let text = text.strip_suffix(b"\r").unwrap_or(text);
        match shape(text, complete, self.watch) {
            Shape::No => Class::No,
            Shape::Maybe => {
                if complete {
                    Class::No
                } else {
                    Class::Maybe
                }
            }
            Shape::Port(r) => {
                if !complete {
                    return Class::Maybe;
                }
                // Confirm with the parser the peer itself uses, so only lines it will act on
                // are rewritten.
                let port = match self.watch {
                    Watch::Send => match svsp_proto::parse_response(text) {
                        Ok(Some(resp)) => match resp.body {
                            Body::Send(Some(p)) => Some(p),
                            _ => None,
                        },
                        _ => None,
                    },
                    Watch::ScanPort => {
                        match svsp_proto::parse_line(text, &svsp_proto::ParseConfig::default()) {
                            Parsed::Command {
                                command: Command::Scan(sc),
                                ..
                            } => match sc.source {
                                Source::Port(p) => Some(p),
                                _ => None,
                            },
                            _ => None,
                        }
                    }
                };
                match port {
                    Some(port) if port != 0 && parse_port(&text[r.clone()]) == Some(port) => {
                        Class::Match { port_at: r, port }
                    }
                    _ => Class::No,
                }
            }
        }
    }
}

enum Shape {
    No,
    /// A prefix of a matching line.
    Maybe,
    /// Has the shape of a matching line, the port number at this range.
    Port(Range<usize>),
}

fn is_ws(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

fn ws_run(t: &[u8], i: usize) -> usize {
    t[i..].iter().take_while(|b| is_ws(**b)).count()
}

fn token_end(t: &[u8], i: usize) -> usize {
    i + t[i..].iter().take_while(|b| !is_ws(**b)).count()
}

/// Port number 1-65535 in decimal (leading zeros allowed, as the server's parser does).
fn parse_port(tok: &[u8]) -> Option<u16> {
    if tok.is_empty() || tok.len() > 19 || !tok.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let v: u64 = std::str::from_utf8(tok).ok()?.parse().ok()?;
    u16::try_from(v).ok().filter(|p| *p != 0)
}

/// Whether `word` is, or (when the line is incomplete and the word may grow) could become,
/// one of `words` (ASCII case-insensitive, SVSP-FRAME-8 and SVSP-CLIENT-12).
fn word_fits(word: &[u8], words: &[&[u8]], may_grow: bool) -> bool {
    words.iter().any(|w| {
        if may_grow {
            w.len() >= word.len() && w[..word.len()].eq_ignore_ascii_case(word)
        } else {
            w.eq_ignore_ascii_case(word)
        }
    })
}

/// The shape of `t` (a line without its terminator): leading SP/HTAB, an optional identifier
/// of 1-9 digits (SVSP-ID-2), the keyword, then the port token (SVSP-FRAME-8).
fn shape(t: &[u8], complete: bool, watch: Watch) -> Shape {
    let n = t.len();
    let mut i = ws_run(t, 0);
    if i == n {
        return Shape::Maybe;
    }
    // Identifier?
    let digits = t[i..].iter().take_while(|b| b.is_ascii_digit()).count();
    if digits > 0 {
        if i + digits == n {
            // Still growing: an identifier (or, for the daemon, nothing we want).
            return if digits <= 9 { Shape::Maybe } else { Shape::No };
        }
        if digits > 9 || !is_ws(t[i + digits]) {
            return Shape::No;
        }
        i += digits;
        i += ws_run(t, i);
        if i == n {
            return Shape::Maybe;
        }
    }
    // Keyword.
    let words: &[&[u8]] = match watch {
        Watch::Send => &[b"SEND"],
        // SCAN/<how>/<what> with an empty how is the same source (SVSP-SCAN-1).
        Watch::ScanPort => &[b"SCAN/PORT", b"SCAN//PORT"],
    };
    let kw_end = token_end(t, i);
    if !word_fits(&t[i..kw_end], words, kw_end == n) {
        return Shape::No;
    }
    if kw_end == n {
        return Shape::Maybe;
    }
    i = kw_end + ws_run(t, kw_end);
    if i == n {
        return Shape::Maybe;
    }
    // Port token.
    let p_end = token_end(t, i);
    let tok = &t[i..p_end];
    if !tok.iter().all(u8::is_ascii_digit) || tok.len() > 19 {
        return Shape::No;
    }
    if p_end == n && !complete {
        return Shape::Maybe;
    }
    if parse_port(tok).is_none() {
        return Shape::No;
    }
    match watch {
        // Nothing but blanks may follow the port of a SEND line.
        Watch::Send if ws_run(t, p_end) != n - p_end => Shape::No,
        // A display name may follow (SVSP-NAME-1); it is forwarded with the line.
        _ => Shape::Port(i..p_end),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `input` split at `cuts`, returns (forwarded bytes with ports replaced by 1,
    /// the ports seen, the largest run of bytes a single feed forwarded).
    fn run(watch: Watch, input: &[u8], cuts: &[usize]) -> (Vec<u8>, Vec<u16>) {
        let mut rw = LineRewriter::new(watch);
        let mut out = Vec::new();
        let mut ports = Vec::new();
        let mut last = 0;
        let mut points = cuts.to_vec();
        points.push(input.len());
        for c in points {
            for p in rw.feed(&input[last..c]) {
                if let Piece::Line { port, .. } = &p {
                    ports.push(*port);
                }
                out.extend(p.rewritten(1));
            }
            last = c;
        }
        out.extend(rw.finish());
        (out, ports)
    }

    /// Every single split point and the byte-at-a-time split give the same result.
    fn all_splits(watch: Watch, input: &[u8]) -> (Vec<u8>, Vec<u16>) {
        let whole = run(watch, input, &[]);
        for k in 0..=input.len() {
            assert_eq!(run(watch, input, &[k]), whole, "split at {k}");
        }
        let every: Vec<usize> = (1..input.len()).collect();
        assert_eq!(run(watch, input, &every), whole, "byte at a time");
        whole
    }

    /// Each `(input, forwarded, ports)`: at every split, `input` is forwarded as `forwarded`
    /// (ports replaced by 1) and `ports` are the ports seen.
    fn assert_rewritten(watch: Watch, cases: &[(&[u8], &[u8], &[u16])]) {
        for (input, expect, ports) in cases {
            assert_eq!(
                all_splits(watch, input),
                (expect.to_vec(), ports.to_vec()),
                "{}",
                String::from_utf8_lossy(input)
            );
        }
    }

    /// Each input passes unchanged at every split, and no port is seen.
    fn assert_unchanged(watch: Watch, inputs: &[&[u8]]) {
        for input in inputs {
            let (out, ports) = all_splits(watch, input);
            assert_eq!(&out, input, "{}", String::from_utf8_lossy(input));
            assert!(ports.is_empty(), "{}", String::from_utf8_lossy(input));
        }
    }

    /// SVSP-RESP-SEND-1.
    #[test]
    fn svsp_resp_send_1_rewritten_at_every_split() {
        assert_rewritten(
            Watch::Send,
            &[
                (b"1 SEND 40123\r\n", b"1 SEND 1\r\n", &[40123]),
                (b"SEND 40123\n", b"SEND 1\n", &[40123]),
                (b"007 send 9\r\n", b"007 send 1\r\n", &[9]),
                (
                    b"READY\r\n1 QUEUED\r\n1 SEND 5000\r\n1 DONE 0 : \"\"\r\n",
                    b"READY\r\n1 QUEUED\r\n1 SEND 1\r\n1 DONE 0 : \"\"\r\n",
                    &[5000],
                ),
                (
                    b"1 SEND 5\r\n2 SEND 6\n",
                    b"1 SEND 1\r\n2 SEND 1\n",
                    &[5, 6],
                ),
            ],
        );
    }

    /// SVSP-RESP-SEND-1.
    #[test]
    fn svsp_resp_send_1_lookalikes_pass_unchanged() {
        assert_unchanged(
            Watch::Send,
            &[
                b"SEND\r\n", // inline data (SVSP-SCAN-DATA-1): no port, nothing to proxy
                b"1 SEND\r\n",
                b"SEND 0\r\n",
                b"SEND 65536\r\n",
                b"SEND 12a\r\n",
                b"SEND 12 x\r\n",
                b"SENDX 12\r\n",
                b"1234567890 SEND 12\r\n", // identifier too long (SVSP-ID-2)
                b"1a SEND 12\r\n",
                b"INFECTED SEND 12 : \"x\" : y\r\n",
                b"1 SCANNING \"SEND 12\"\r\n",
                b"SEND 12\rX\n",
                b"SEND 12", // no terminator: flushed at EOF unchanged
            ],
        );
    }

    /// SVSP-SCAN-PORT-1.
    #[test]
    fn svsp_scan_port_1_rewritten_at_every_split() {
        assert_rewritten(
            Watch::ScanPort,
            &[
                (
                    b"1 SCAN/PORT 40123 /tmp/a b\r\n",
                    b"1 SCAN/PORT 1 /tmp/a b\r\n",
                    &[40123],
                ),
                (b"SCAN/PORT 7\n", b"SCAN/PORT 1\n", &[7]),
                (
                    b"  12\tscan//port\t0080 n\n",
                    b"  12\tscan//port\t1 n\n",
                    &[80],
                ),
                (
                    b"ENABLE RECURSE\r\n3 SCAN/PORT 9 x\r\nQUIT\r\n",
                    b"ENABLE RECURSE\r\n3 SCAN/PORT 1 x\r\nQUIT\r\n",
                    &[9],
                ),
            ],
        );
    }

    /// SVSP-SCAN-PORT-1.
    #[test]
    fn svsp_scan_port_1_lookalikes_pass_unchanged() {
        assert_unchanged(
            Watch::ScanPort,
            &[
                b"SCAN/PORT\r\n",
                b"SCAN/PORT 0 x\r\n",
                b"SCAN/PORT 70000\r\n",
                b"SCAN/PORT x12\r\n",
                b"SCAN/PORTS 12\r\n",
                b"SCAN/REQUEST 12\r\n",
                b"SCAN/FILE /SCAN/PORT 12\r\n",
                b"SCAN/X/PORT 12\r\n", // unknown format (SVSP-SCAN-2)
                b"1234567890 SCAN/PORT 12\r\n",
                b"SEND 12\r\n",
                b"SCAN/PORT 12", // unterminated
            ],
        );
    }

    #[test]
    fn bytes_that_cannot_match_are_not_held() {
        // A reply written a byte at a time must reach the client in pieces.
        let mut rw = LineRewriter::new(Watch::Send);
        assert_eq!(rw.feed(b"1"), vec![]);
        assert_eq!(rw.feed(b" "), vec![]);
        assert_eq!(rw.feed(b"Q"), vec![Piece::Bytes(b"1 Q".to_vec())]);
        assert_eq!(rw.feed(b"U"), vec![Piece::Bytes(b"U".to_vec())]);
        assert_eq!(rw.feed(b"\r\nR"), vec![Piece::Bytes(b"\r\nR".to_vec())]);
        assert_eq!(rw.held(), 0);
        let mut rw = LineRewriter::new(Watch::ScanPort);
        assert_eq!(rw.feed(b"QUIT"), vec![Piece::Bytes(b"QUIT".to_vec())]);
    }

    #[test]
    fn long_garbage_is_bounded() {
        let mut long = vec![b'1'; 5];
        long.extend_from_slice(b" SEND ");
        long.extend(std::iter::repeat_n(b' ', 1000));
        long.extend_from_slice(b"5\r\n");
        let (out, ports) = run(Watch::Send, &long, &[]);
        assert_eq!(out, long);
        assert!(ports.is_empty());
        // A command line over the limit is not executed (SVSP-FRAME-4): not rewritten.
        let mut cmd = b"SCAN/PORT 5 ".to_vec();
        cmd.extend(std::iter::repeat_n(b'n', 9000));
        cmd.push(b'\n');
        let mut rw = LineRewriter::new(Watch::ScanPort);
        let mut out = Vec::new();
        for c in cmd.chunks(1000) {
            for p in rw.feed(c) {
                out.extend(p.rewritten(1));
            }
            assert!(rw.held() <= MAX_HELD_COMMAND);
        }
        out.extend(rw.finish());
        assert_eq!(out, cmd);
        // Arbitrary bytes never panic and always come out unchanged or rewritten.
        let junk: Vec<u8> = (0..4096u32).map(|i| (i * 7919 % 251) as u8).collect();
        let (out, _) = run(Watch::Send, &junk, &[13, 400, 401, 2000]);
        assert_eq!(out, junk);
    }
}
