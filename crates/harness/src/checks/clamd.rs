//! clamd client obligations (clamd.md §15, CLAMD-CLIENT-*), checked on a transcript.

use clamd_proto::{Command, Framing};

use crate::checks::{per_connection, Finding, Found};
use crate::transcript::{Dir, Transcript};

/// A chunk length at or above this is a framing desync, not a real chunk (CLAMD-CLIENT-2:
/// clamd's log then shows requests like 3389593959 bytes).
pub const INSANE_CHUNK: u32 = 0x8000_0000;

/// One unit of what a clamd client sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientFrame {
    /// A z- or n-mode command (`name` without prefix and terminator).
    Command {
        at: usize,
        end: usize,
        mode: u8,
        name: Vec<u8>,
    },
    /// A legacy-mode command: the rest of the bytes (CLAMD-FRAME-3).
    Legacy { at: usize, end: usize },
    /// A z/n command whose terminator never came.
    Unterminated { at: usize, end: usize },
    /// INSTREAM data chunk: header at `at`; `complete` when all `len` bytes were sent.
    Chunk { at: usize, len: u32, complete: bool },
    /// INSTREAM chunk header cut short (fewer than 4 bytes).
    PartialHeader { at: usize, end: usize },
    /// The zero-length terminator chunk.
    Terminator { at: usize },
    /// A chunk length that cannot be real; parsing stops here.
    Insane { at: usize, len: u32 },
}

/// Splits a client's byte stream into frames (commands and INSTREAM chunks), lazily: a
/// client that uploads millions of 1-byte chunks costs one frame at a time, not a frame
/// each (the harness kept every frame and used 239 MB on a 15 MiB upload of them).
pub fn parse_client(b: &[u8]) -> ClientFrames<'_> {
    ClientFrames {
        b,
        cursor: FrameCursor::default(),
    }
}

/// The frames of one client byte stream, in order; see [`parse_client`].
#[derive(Debug, Clone)]
pub struct ClientFrames<'a> {
    b: &'a [u8],
    cursor: FrameCursor,
}

impl Iterator for ClientFrames<'_> {
    type Item = ClientFrame;

    fn next(&mut self) -> Option<ClientFrame> {
        self.cursor.next(self.b)
    }
}

/// Where [`parse_client`] is in a client stream, kept apart from the bytes so that a
/// holder of the bytes can resume it (the report log walks an upload read by read).
#[derive(Debug, Clone, Default)]
pub struct FrameCursor {
    pos: usize,
    /// INSTREAM chunks come next.
    in_stream: bool,
    /// The byte a FILDES command carries its descriptor on comes next (CLAMD-CLIENT-13,
    /// CLAMD-FILDES-1): part of the request, not a command of its own.
    fd_byte: bool,
    /// A frame after which nothing is parsed was returned.
    done: bool,
}

impl FrameCursor {
    /// The next frame of `b` (the same bytes on every call), if any.
    pub fn next(&mut self, b: &[u8]) -> Option<ClientFrame> {
        let frame = self.step(b);
        if frame.is_none() {
            self.done = true;
        }
        frame
    }

    fn step(&mut self, b: &[u8]) -> Option<ClientFrame> {
        if self.fd_byte && self.pos < b.len() {
            self.fd_byte = false;
            self.pos += 1;
        }
        let pos = self.pos;
        if self.done || pos >= b.len() {
            return None;
        }
        if self.in_stream {
            return Some(self.chunk(b));
        }
        let mode = b[pos];
        if mode != b'z' && mode != b'n' {
            self.done = true;
            return Some(ClientFrame::Legacy {
                at: pos,
                end: b.len(),
            });
        }
        let term = if mode == b'z' { 0 } else { b'\n' };
        let Some(rel) = memchr::memchr(term, &b[pos + 1..]) else {
            self.done = true;
            return Some(ClientFrame::Unterminated {
                at: pos,
                end: b.len(),
            });
        };
        let end = pos + 1 + rel + 1;
        let mut name = &b[pos + 1..end - 1];
        if mode == b'n' {
            while let [rest @ .., b'\r'] = name {
                name = rest;
            }
        }
        self.in_stream = name == b"INSTREAM";
        self.fd_byte = name == b"FILDES";
        self.pos = end;
        Some(ClientFrame::Command {
            at: pos,
            end,
            mode,
            name: name.to_vec(),
        })
    }

    /// One INSTREAM frame at `self.pos` (which is inside `b`).
    fn chunk(&mut self, b: &[u8]) -> ClientFrame {
        let pos = self.pos;
        if b.len() - pos < 4 {
            self.done = true;
            return ClientFrame::PartialHeader {
                at: pos,
                end: b.len(),
            };
        }
        let len = u32::from_be_bytes([b[pos], b[pos + 1], b[pos + 2], b[pos + 3]]);
        if len == 0 {
            self.in_stream = false;
            self.pos += 4;
            return ClientFrame::Terminator { at: pos };
        }
        if len >= INSANE_CHUNK {
            self.done = true;
            return ClientFrame::Insane { at: pos, len };
        }
        let complete = b.len() - pos - 4 >= len as usize;
        if complete {
            self.pos += 4 + len as usize;
        } else {
            self.done = true;
        }
        ClientFrame::Chunk {
            at: pos,
            len,
            complete,
        }
    }
}

/// Splits server bytes into reply records, each with its terminator (`\0` or `\n`); a
/// trailing piece without terminator is returned as the last element with `false`.
pub fn split_replies(b: &[u8]) -> Vec<(Vec<u8>, bool)> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, c) in b.iter().enumerate() {
        if *c == 0 || *c == b'\n' {
            out.push((b[start..=i].to_vec(), true));
            start = i + 1;
        }
    }
    if start < b.len() {
        out.push((b[start..].to_vec(), false));
    }
    out
}

/// Replies after which clamd closes the connection, ending any session (CLAMD-REPLY-2
/// "close" column): the fixed texts, and any other `ERROR` line that is not about a scanned
/// subject. Per-file results (`<subject>: <text> OK|FOUND|ERROR`) are not among them
/// (CLAMD-REPLY-4).
fn is_closing_reply(r: &[u8]) -> bool {
    let t = String::from_utf8_lossy(r);
    let t = t.trim_end_matches(['\0', '\n']);
    // Inside IDSESSION every reply starts with `<id>: ` (CLAMD-SESSION-3).
    let body = match t.split_once(": ") {
        Some((id, rest)) if !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) => rest,
        _ => t,
    };
    if clamd_proto::reply::is_closing_text(body) {
        return true;
    }
    let about_a_subject = body.split_once(": ").is_some_and(|(subject, _)| {
        subject == "stream" || subject.starts_with('/') || subject.starts_with("fd[")
    });
    body.ends_with("ERROR") && !about_a_subject
}

/// Whether the server ended the conversation on `conn` before the client: a closing reply
/// among its `replies` ([`split_replies`]), or its end (FIN or reset) before the client's.
pub fn server_closed_first(t: &Transcript, conn: u32, replies: &[(Vec<u8>, bool)]) -> bool {
    replies.iter().any(|(r, _)| is_closing_reply(r))
        || match (t.end_of(conn, Dir::S2C), t.end_of(conn, Dir::C2S)) {
            (Some(se), Some(ce)) => se < ce,
            (Some(_), None) => true,
            _ => false,
        }
}

/// Whether a reply is a scan verdict (`<subject>: OK`, `<subject>: <name> FOUND`,
/// CLAMD-REPLY-4), with or without a session id.
pub fn is_verdict_reply(r: &[u8]) -> bool {
    let t = String::from_utf8_lossy(r);
    let t = t.trim_end_matches(['\0', '\n']);
    let body = match t.split_once(": ") {
        Some((id, rest)) if !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) => rest,
        _ => t,
    };
    body.rsplit_once(": ")
        .is_some_and(|(_, v)| v == "OK" || v.ends_with(" FOUND"))
}

/// Whether the daemon sent a scan verdict on any connection. Without one a client's
/// "clean" cannot come from a scan (issue 14 item 3: FAIL-OPEN needs a scan that really
/// failed).
pub fn verdict_sent(t: &Transcript) -> bool {
    t.connections().into_iter().any(|conn| {
        split_replies(&t.bytes(conn, Dir::S2C))
            .iter()
            .any(|(r, done)| *done && is_verdict_reply(r))
    })
}

/// A command name as shown in a diagnosis.
fn shown_name(name: &[u8]) -> String {
    format!("`{}`", crate::input::escape(&name[..name.len().min(40)]))
}

/// What bytes without a z/n prefix are (issue 14 item 5): more bytes after the INSTREAM
/// terminator, an INSTREAM chunk with no INSTREAM command, or a command without its prefix.
/// Returns the rule, the message (with the byte offset) and the end of the marked range.
fn legacy_diagnosis(
    c: &[u8],
    at: usize,
    end: usize,
    after_terminator: bool,
) -> (&'static str, String, usize) {
    let rest = &c[at..end];
    if after_terminator {
        let zeros = rest.iter().take_while(|b| **b == 0).count();
        let what = if zeros >= 4 {
            "a second zero-length chunk \\0\\0\\0\\0".to_string()
        } else {
            format!("{} more bytes", rest.len())
        };
        return (
            "CLAMD-CLIENT-2",
            format!(
                "{what} at byte {at}, after the INSTREAM terminator at byte {}: the stream ends with exactly one zero-length chunk, and clamd reads what follows as a new command",
                at.saturating_sub(4)
            ),
            (at + if zeros >= 4 { 4 } else { 16 }).min(end),
        );
    }
    if rest.len() >= 4 && rest[0] == 0 {
        let len = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]);
        return (
            "CLAMD-CLIENT-2",
            format!(
                "an INSTREAM data chunk (4-byte length {len}) at byte {at} without a zINSTREAM command before it"
            ),
            at + 4,
        );
    }
    let word_len = rest
        .iter()
        .take_while(|b| b.is_ascii_alphanumeric())
        .count();
    let word = &rest[..word_len];
    let known =
        !word.is_empty() && clamd_proto::parse_command(word, Framing::Z) != Command::Unknown;
    let message = if known {
        format!(
            "command {} at byte {at} without the z/n prefix (legacy mode: INSTREAM and IDSESSION are UNKNOWN COMMAND there; send z{}\\0)",
            shown_name(word),
            String::from_utf8_lossy(word)
        )
    } else {
        format!(
            "bytes at byte {at} that are no z/n-prefixed command (legacy mode: INSTREAM and IDSESSION are UNKNOWN COMMAND there)"
        )
    };
    ("CLAMD-CLIENT-1", message, (at + 16).min(end))
}

fn n_is_request(name: &[u8]) -> bool {
    name != b"IDSESSION" && name != b"END"
}

/// Whether a descriptor came with the FILDES request at client bytes `at..end` (CLAMD-CLIENT-13):
/// with one of its bytes or the extra byte after it. `descriptors` are `(after, count, cut)`,
/// `after` the client's byte count at the end of the read that carried them (a read ends at
/// the message that carries descriptors, so this is where the client's `sendmsg` ended).
fn descriptor_with(descriptors: &[(usize, usize, bool)], at: usize, end: usize) -> bool {
    descriptors
        .iter()
        .any(|&(after, count, _)| count > 0 && after > at && after <= end + 1)
}

/// Checks every connection of a transcript against CLAMD-CLIENT-*.
pub fn check(t: &Transcript) -> Vec<Finding> {
    per_connection(t, check_conn)
}

fn check_conn(t: &Transcript, conn: u32, out: &mut Vec<Finding>) {
    let c = t.bytes(conn, Dir::C2S);
    let mut found = Found::new(conn, &c, out);
    let s = t.bytes(conn, Dir::S2C);
    let replies = split_replies(&s);
    // The server ended the conversation (closing reply, or its EOF before the client's):
    // the client was then allowed to stop mid-stream and without END. Neither side ended:
    // the daemon stopped reading (fault `stop-reading`, CLAMD-CLIENT-10), so the proxy's
    // write blocked and it never read the rest, nor saw the client stop.
    let server_closed_first = server_closed_first(t, conn, &replies)
        || (t.end_of(conn, Dir::S2C).is_none() && t.end_of(conn, Dir::C2S).is_none());
    let mut session = false;
    let mut ended = false;
    let mut commands = 0usize;
    let mut in_stream = false;
    let mut session_requests = 0usize;
    let mut first_command: Option<Vec<u8>> = None;
    let mut after_terminator = false;
    let descriptors = t.descriptors(conn);
    for f in parse_client(&c) {
        let before_was_terminator = std::mem::replace(
            &mut after_terminator,
            matches!(f, ClientFrame::Terminator { .. }),
        );
        match &f {
            ClientFrame::Command {
                at,
                end,
                name,
                mode,
            } => {
                if ended {
                    found.must(
                        "CLAMD-CLIENT-9",
                        "bytes sent after END (the session is over)",
                        *at,
                        *end,
                    );
                    return;
                }
                if !session && commands >= 1 {
                    found.must("CLAMD-CLIENT-12", format!(
                            "a second command {} at byte {at} on a connection outside IDSESSION, after {} (clamd closes after one command; open a new connection per command)",
                            shown_name(name),
                            first_command.as_deref().map(shown_name).unwrap_or_default()
                        ), *at, *end);
                    return;
                }
                if first_command.is_none() {
                    first_command = Some(name.clone());
                }
                commands += 1;
                // The command as clamd parses it (clamd-proto, CLAMD-PARSE-*).
                let framing = if *mode == b'z' {
                    Framing::Z
                } else {
                    Framing::N
                };
                let cmd = clamd_proto::parse_command(name, framing);
                if session && n_is_request(name) {
                    session_requests += 1;
                }
                in_stream = cmd == Command::Instream;
                match &cmd {
                    Command::Quit | Command::Shutdown => found.must(
                        "CLAMD-CLIENT-11",
                        "QUIT/SHUTDOWN shuts the daemon down; never send it to end a conversation",
                        *at,
                        *end,
                    ),
                    Command::IdSession => {
                        if session {
                            found.must("CLAMD-CLIENT-9", "nested IDSESSION", *at, *end);
                        }
                        session = true;
                        continue;
                    }
                    Command::End => {
                        if !session {
                            found.must("CLAMD-CLIENT-9", "END outside IDSESSION", *at, *end);
                        }
                        ended = true;
                        continue;
                    }
                    Command::Unknown => {
                        found.must(
                            "CLAMD-CLIENT-1",
                            "clamd does not know this command (it answers UNKNOWN COMMAND)",
                            *at,
                            *end,
                        );
                        continue;
                    }
                    Command::Fildes if !descriptor_with(&descriptors, *at, *end) => {
                        found.must(
                            "CLAMD-CLIENT-13",
                            "FILDES without a descriptor passed with the request (SCM_RIGHTS on a unix socket, on the sendmsg of the command or its extra byte): clamd answers `No file descriptor received. ERROR`",
                            *at,
                            *end,
                        );
                    }
                    _ => {}
                }
                if let Some(path) = cmd.path() {
                    if !path.starts_with(b"/") {
                        found.must(
                            "CLAMD-CLIENT-7",
                            "path command with a relative path",
                            *at,
                            *end,
                        );
                    }
                    let name_len = cmd.name().map_or(0, |n| n.as_str().len());
                    let one_space = name.get(name_len) == Some(&b' ');
                    if path.starts_with(b"\"") || path.starts_with(b" ") || !one_space {
                        found.must(
                            "CLAMD-CLIENT-7",
                            "path quoted, or not exactly one space after the command name",
                            *at,
                            *end,
                        );
                    }
                }
                if session && !cmd.name().is_some_and(|n| n.allowed_in_session()) {
                    found.must(
                        "CLAMD-CLIENT-9",
                        "command not allowed inside IDSESSION (CLAMD-SESSION-2)",
                        *at,
                        *end,
                    );
                }
            }
            ClientFrame::Legacy { at, end } => {
                let (rule, message, mark_end) =
                    legacy_diagnosis(&c, *at, *end, before_was_terminator);
                found.must(rule, message, *at, mark_end);
                return;
            }
            ClientFrame::Unterminated { at, end } => {
                if !server_closed_first {
                    found.must(
                        "CLAMD-CLIENT-1",
                        "command never terminated (no \\0 / \\n)",
                        *at,
                        *end,
                    );
                }
                return;
            }
            ClientFrame::Chunk { at, len, complete } => {
                if !complete && !server_closed_first {
                    found.must(
                        "CLAMD-CLIENT-2",
                        format!(
                            "chunk announced {len} bytes but the stream ended after {}",
                            c.len() - at - 4
                        ),
                        *at,
                        c.len(),
                    );
                    return;
                }
            }
            ClientFrame::PartialHeader { at, end } => {
                if !server_closed_first {
                    found.must(
                        "CLAMD-CLIENT-2",
                        "stream ended inside a 4-byte chunk header",
                        *at,
                        *end,
                    );
                }
                return;
            }
            ClientFrame::Insane { at, len } => {
                found.must(
                    "CLAMD-CLIENT-2",
                    format!("chunk length {len} (0x{len:08x}) is not a real chunk: INSTREAM framing out of step"),
                    *at,
                    *at + 4,
                );
                return;
            }
            ClientFrame::Terminator { .. } => in_stream = false,
        }
    }
    if in_stream && !server_closed_first {
        found.must(
            "CLAMD-CLIENT-2",
            "INSTREAM data never ended with the zero-length chunk \\0\\0\\0\\0",
            c.len().saturating_sub(8),
            c.len(),
        );
    }
    // A client that gave up on an unanswered request (its own timeout) may close without
    // END: it fails closed, and END would not be answered anyway.
    let complete_replies = replies.iter().filter(|(_, t)| *t).count();
    let abandoned = complete_replies < session_requests;
    if session && !ended && !server_closed_first && !abandoned {
        found.must(
            "CLAMD-CLIENT-9",
            "IDSESSION closed without END",
            c.len().saturating_sub(8),
            c.len(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transcript::{Event, EventKind};
    use std::time::Duration;

    fn t(c: &[u8], s: &[u8], client_first_eof: bool) -> Transcript {
        let ev = |ms: u64, kind| Event {
            conn: 1,
            at: Duration::from_millis(ms),
            kind,
        };
        let data = |dir, b: &[u8]| EventKind::Data {
            dir,
            bytes: b.to_vec(),
            len: b.len(),
            truncated: false,
        };
        let (ce, se) = if client_first_eof { (3, 4) } else { (4, 3) };
        Transcript {
            events: vec![
                ev(
                    0,
                    EventKind::Open {
                        upstream_error: None,
                    },
                ),
                ev(1, data(Dir::C2S, c)),
                ev(2, data(Dir::S2C, s)),
                ev(ce, EventKind::Eof { dir: Dir::C2S }),
                ev(se, EventKind::Eof { dir: Dir::S2C }),
            ],
            ..Default::default()
        }
    }

    fn rules(f: &[Finding]) -> Vec<&str> {
        f.iter().map(|f| f.rule.as_str()).collect()
    }

    #[test]
    fn closing_replies_per_clamd_reply_2_and_4() {
        assert!(is_closing_reply(
            b"1: INSTREAM size limit exceeded. ERROR\0"
        ));
        assert!(is_closing_reply(b"COMMAND READ TIMED OUT\n"));
        assert!(is_closing_reply(b"2: EAGAIN Server busy ERROR\0"));
        assert!(!is_closing_reply(
            b"1: stream: Can't allocate memory ERROR\0"
        ));
        assert!(!is_closing_reply(
            b"3: /tmp/x: File path check failure: No such file or directory. ERROR\0"
        ));
        assert!(!is_closing_reply(b"fd[9]: OK\n"));
        assert!(!is_closing_reply(b"1: PONG\0"));
    }

    #[test]
    fn session_closed_after_a_closing_error_needs_no_end() {
        let c = b"zIDSESSION\0zINSTREAM\0\0\0\0\x01a\0\0\0\0";
        assert!(check(&t(c, b"1: EAGAIN Server busy ERROR\0", true)).is_empty());
        assert_eq!(
            rules(&check(&t(
                c,
                b"1: stream: Can't allocate memory ERROR\0",
                true
            ))),
            ["CLAMD-CLIENT-9"]
        );
    }

    /// Issue 14 item 3: only `OK` and `FOUND` results are verdicts; error replies, size
    /// limit, UNKNOWN COMMAND and PONG are not.
    #[test]
    fn only_ok_and_found_replies_are_scan_verdicts() {
        for (reply, is_verdict) in [
            (&b"stream: OK\0"[..], true),
            (b"1: stream: OK\0", true),
            (b"2: /tmp/x: Win.Test.EICAR_HDB-1 FOUND\0", true),
            (b"fd[9]: OK\n", true),
            (b"UNKNOWN COMMAND\n", false),
            (b"INSTREAM size limit exceeded. ERROR\0", false),
            (b"1: stream: Can't allocate memory ERROR\0", false),
            (b"PONG\0", false),
            (b"1: PONG\0", false),
            (b"COMMAND READ TIMED OUT\0", false),
        ] {
            let shown = String::from_utf8_lossy(reply);
            assert_eq!(is_verdict_reply(reply), is_verdict, "{shown}");
        }
    }

    /// CLAMD-CLIENT-13, CLAMD-FILDES-1: the byte a FILDES command carries its descriptor on
    /// is part of the request (clamav-milter and clamdscan --fdpass send it), not legacy
    /// bytes breaking CLAMD-CLIENT-1; a session of two FILDES requests is well-formed too.
    #[test]
    fn clamd_client_13_the_fildes_byte_is_part_of_the_request() {
        let one = with_descriptors(t(b"nFILDES\n\x00", b"fd[10]: OK\n", false), &[9]);
        assert!(check(&one).is_empty());
        let session = b"zIDSESSION\0zFILDES\0xzFILDES\0yzEND\0";
        let two = with_descriptors(
            t(session, b"1: fd[10]: OK\x002: fd[11]: OK\x00", true),
            &[20, 29],
        );
        assert!(check(&two).is_empty());
        let frames: Vec<_> = parse_client(b"zFILDES\0xzPING\0").collect();
        assert!(
            matches!(&frames[..], [ClientFrame::Command { name: a, .. }, ClientFrame::Command { name: b, .. }] if a == b"FILDES" && b == b"PING"),
            "{frames:?}"
        );
    }

    /// `t` with a descriptor passed at each client byte count in `after`.
    fn with_descriptors(mut t: Transcript, after: &[usize]) -> Transcript {
        for &a in after {
            t.events.push(Event {
                conn: 1,
                at: Duration::from_millis(1),
                kind: EventKind::Descriptors {
                    count: 1,
                    after: a,
                    cut: false,
                },
            });
        }
        t
    }

    /// CLAMD-CLIENT-13: FILDES with no descriptor (over TCP, or a unix client that forgot the
    /// `SCM_RIGHTS`), or with one that came long after the request, breaks the rule; the
    /// request of a session's second FILDES needs a descriptor of its own.
    #[test]
    fn clamd_client_13_fildes_needs_a_descriptor_with_the_request() {
        let no_fd = b"No file descriptor received. ERROR\0";
        assert_eq!(
            rules(&check(&t(b"zFILDES\0X", no_fd, false))),
            ["CLAMD-CLIENT-13"]
        );
        let late = with_descriptors(t(b"zFILDES\0XzPING\0", no_fd, false), &[15]);
        assert!(rules(&check(&late)).contains(&"CLAMD-CLIENT-13"));
        let session = b"zIDSESSION\0zFILDES\0xzFILDES\0yzEND\0";
        let first_only = with_descriptors(t(session, b"1: fd[10]: OK\x00", true), &[20]);
        assert_eq!(rules(&check(&first_only)), ["CLAMD-CLIENT-13"]);
    }

    #[test]
    fn good_session_has_no_findings() {
        let c = b"zIDSESSION\0zINSTREAM\0\0\0\0\x03abc\0\0\0\0zEND\0";
        assert!(check(&t(c, b"1: stream: OK\0", true)).is_empty());
    }

    /// CLAMD-CLIENT-2.
    #[test]
    fn clamd_client_2_missing_terminator() {
        let c = b"zINSTREAM\0\0\0\0\x03abc";
        assert_eq!(rules(&check(&t(c, b"", true))), ["CLAMD-CLIENT-2"]);
    }

    /// CLAMD-CLIENT-1.
    #[test]
    fn clamd_client_1_unprefixed() {
        assert_eq!(
            rules(&check(&t(b"INSTREAM\n", b"UNKNOWN COMMAND\n", true))),
            ["CLAMD-CLIENT-1"]
        );
    }

    /// CLAMD-CLIENT-9.
    #[test]
    fn clamd_client_9_session_without_end() {
        let c = b"zIDSESSION\0zINSTREAM\0\0\0\0\x01a\0\0\0\0";
        assert_eq!(
            rules(&check(&t(c, b"1: stream: OK\0", true))),
            ["CLAMD-CLIENT-9"]
        );
    }

    /// CLAMD-CLIENT-12.
    #[test]
    fn clamd_client_12_second_command_without_session() {
        let c = b"zPING\0zPING\0";
        assert_eq!(rules(&check(&t(c, b"PONG\0", true))), ["CLAMD-CLIENT-12"]);
    }

    /// CLAMD-CLIENT-2.
    #[test]
    fn clamd_client_2_insane_length() {
        let c = b"zINSTREAM\0\xca\x07\x00\x67xx";
        assert_eq!(rules(&check(&t(c, b"", true))), ["CLAMD-CLIENT-2"]);
    }

    /// CLAMD-CLIENT-11.
    #[test]
    fn clamd_client_11_quit_and_clamd_client_7_relative_scan() {
        assert_eq!(
            rules(&check(&t(b"zQUIT\0", b"", true))),
            ["CLAMD-CLIENT-11"]
        );
        assert_eq!(
            rules(&check(&t(b"zSCAN rel/x\0", b"rel/x: OK\0", true))),
            ["CLAMD-CLIENT-7"]
        );
        assert!(check(&t(b"zSCAN /abs/x\0", b"/abs/x: OK\0", true)).is_empty());
    }

    /// Issue 14 item 5 (CLAMD-CLIENT-2): a second zero-length chunk after the terminator
    /// is named as such, at its byte, not as "a command without the z/n prefix".
    #[test]
    fn second_terminator_is_diagnosed_as_bytes_after_the_instream_terminator() {
        let c = b"zINSTREAM\0\0\0\0\x03abc\0\0\0\0\0\0\0\0";
        let f = check(&t(c, b"stream: OK\0", true));
        assert_eq!(rules(&f), ["CLAMD-CLIENT-2"]);
        assert!(
            f[0].message.contains("second zero-length chunk")
                && f[0].message.contains("at byte 21")
                && f[0].message.contains("terminator at byte 17"),
            "{}",
            f[0].message
        );
        assert!(!f[0].message.contains("legacy"), "{}", f[0].message);
    }

    /// Issue 14 item 5: chunks with no INSTREAM command, and a command without its
    /// prefix, each say what they are and where.
    #[test]
    fn chunk_without_instream_and_missing_prefix_are_named_with_their_byte() {
        let f = check(&t(b"\0\0\0\x03abc\0\0\0\0", b"UNKNOWN COMMAND\n", true));
        assert_eq!(rules(&f), ["CLAMD-CLIENT-2"]);
        assert!(
            f[0].message.contains("without a zINSTREAM command")
                && f[0].message.contains("at byte 0"),
            "{}",
            f[0].message
        );
        let f = check(&t(b"INSTREAM\n\0\0\0\0", b"UNKNOWN COMMAND\n", true));
        assert_eq!(rules(&f), ["CLAMD-CLIENT-1"]);
        assert!(
            f[0].message
                .contains("command `INSTREAM` at byte 0 without the z/n prefix"),
            "{}",
            f[0].message
        );
    }

    /// Issue 14 item 5 (CLAMD-CLIENT-12): the second command names itself, the first, and
    /// its byte.
    #[test]
    fn second_command_outside_a_session_names_both_commands_and_the_byte() {
        let f = check(&t(b"zVERSION\0zPING\0", b"ClamAV 1.4.6\0", true));
        assert_eq!(rules(&f), ["CLAMD-CLIENT-12"]);
        assert!(
            f[0].message.contains("`PING` at byte 9") && f[0].message.contains("after `VERSION`"),
            "{}",
            f[0].message
        );
    }

    #[test]
    fn size_limit_reply_excuses_unfinished_stream() {
        let c = b"zINSTREAM\0\0\x10\0\0abc";
        assert!(check(&t(c, b"INSTREAM size limit exceeded. ERROR\0", true)).is_empty());
    }
}
