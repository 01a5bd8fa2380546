//! Client side: command encoder, INSTREAM chunk encoder, reply splitter and reply parser.
//!
//! ```
//! use clamd_proto::client::{self, ReplyBody, ReplySplitter, Subject};
//! use clamd_proto::{Command, Framing};
//!
//! // request bytes
//! let req = client::encode_command(Framing::Z, &Command::Scan(b"/tmp/x".to_vec())).unwrap();
//! assert_eq!(req, b"zSCAN /tmp/x\0");
//! let stream = client::encode_instream(Framing::Z, b"hello", 2);
//! assert_eq!(stream, b"zINSTREAM\0\0\0\0\x02he\0\0\0\x02ll\0\0\0\x01o\0\0\0\0");
//!
//! // reply bytes -> records -> typed replies
//! let mut split = ReplySplitter::new(Framing::Z);
//! split.push(b"stream: Win.Test.EICAR_HDB-1 FOUND\0");
//! let record = split.next_record().unwrap().unwrap();
//! let reply = client::parse_reply(&record, false);
//! assert_eq!(reply.subject, Some(Subject::Stream));
//! assert_eq!(reply.body, ReplyBody::Found("Win.Test.EICAR_HDB-1".into()));
//! assert!(split.finish().is_ok());
//! ```

use crate::command::{Command, Framing};
use crate::reply as wire;
use crate::ProtoError;

/// CLAMD-INSTREAM-1: the zero-length terminator chunk.
pub const STREAM_TERMINATOR: [u8; 4] = [0, 0, 0, 0];

/// CLAMD-FILDES-1 / CLAMD-CLIENT-13: the extra byte sent after the FILDES command on the
/// same `sendmsg` as the descriptor (any byte works; clamd ignores it).
pub const FILDES_EXTRA_BYTE: u8 = 0;

/// Default bound for one reply record in [`ReplySplitter`] (a SCAN reply line holds a path of
/// at most 4097 bytes plus a signature name; 64 KiB leaves ample room).
pub const DEFAULT_MAX_RECORD: usize = 64 * 1024;

/// Encode one command in the given framing (CLAMD-CLIENT-1/7).
///
/// z: `z<NAME>[ <path>]\0`; n: `n<NAME>[ <path>]\n`; legacy: `<NAME>[ <path>]\n` (for tests
/// of servers only; clients MUST NOT use it for INSTREAM, IDSESSION, STATS, ...).
/// Paths are sent verbatim after exactly one space. A `\0` in a path cannot be sent at all,
/// a `\n` only in z framing. For FILDES the caller sends [`FILDES_EXTRA_BYTE`] with the
/// descriptor.
pub fn encode_command(framing: Framing, cmd: &Command) -> Result<Vec<u8>, ProtoError> {
    let name = cmd.name().ok_or(ProtoError::UnknownCommand)?;
    let mut out = Vec::with_capacity(16 + cmd.path().map_or(0, <[u8]>::len));
    match framing {
        Framing::Z => out.push(b'z'),
        Framing::N => out.push(b'n'),
        Framing::Legacy => {}
    }
    out.extend_from_slice(name.as_str().as_bytes());
    if let Some(path) = cmd.path() {
        let bad = path.contains(&0) || (framing != Framing::Z && path.contains(&b'\n'));
        if bad {
            return Err(ProtoError::UnencodableArgument {
                framing: framing.name(),
            });
        }
        out.push(b' ');
        out.extend_from_slice(path);
    }
    out.push(framing.terminator());
    Ok(out)
}

/// CLAMD-INSTREAM-1 / CLAMD-CLIENT-2: the 4-byte big-endian chunk header.
pub fn chunk_header(len: u32) -> [u8; 4] {
    len.to_be_bytes()
}

/// Encode `data` as INSTREAM chunks of at most `chunk_size` bytes (at least 1), followed by
/// the terminator chunk. Chunks larger than `u32::MAX` are split.
pub fn encode_chunks(data: &[u8], chunk_size: usize) -> Vec<u8> {
    let mut out = encode_chunks_unterminated(data, chunk_size);
    out.extend_from_slice(&STREAM_TERMINATOR);
    out
}

/// [`encode_chunks`] without the terminator chunk (raw-byte cases add it, or leave it out,
/// themselves).
pub fn encode_chunks_unterminated(data: &[u8], chunk_size: usize) -> Vec<u8> {
    let size = chunk_size.clamp(1, u32::MAX as usize);
    let mut out = Vec::with_capacity(data.len() + 4 * (data.len() / size + 2));
    for chunk in data.chunks(size) {
        out.extend_from_slice(&chunk_header(chunk.len() as u32));
        out.extend_from_slice(chunk);
    }
    out
}

/// A whole INSTREAM request: command, chunks, terminator.
pub fn encode_instream(framing: Framing, data: &[u8], chunk_size: usize) -> Vec<u8> {
    // encode_command cannot fail for INSTREAM (no argument)
    let mut out = encode_command(framing, &Command::Instream).unwrap_or_default();
    out.extend_from_slice(&encode_chunks(data, chunk_size));
    out
}

/// Splits received bytes into reply records (terminator removed).
///
/// * z framing: records end in `\0`; the un-terminated `COMMAND READ TIMED OUT\n`
///   (CLAMD-TIME-3) is recognised as a record of its own.
/// * n/legacy framing: records end in `\n`; a STATS reply (a record starting with `POOLS:`,
///   after an optional `<id>: `) extends to its `END` line (CLAMD-CMD-7).
/// * A record longer than the bound without terminator is an error; [`Self::finish`] at
///   EOF reports bytes without terminator (CLAMD-CLIENT-3).
#[derive(Debug, Clone)]
pub struct ReplySplitter {
    term: u8,
    max_len: usize,
    buf: Vec<u8>,
}

impl ReplySplitter {
    /// A splitter for replies to commands in `framing`.
    pub fn new(framing: Framing) -> Self {
        ReplySplitter {
            term: framing.terminator(),
            max_len: DEFAULT_MAX_RECORD,
            buf: Vec::new(),
        }
    }

    /// Change the record bound.
    pub fn with_max_len(mut self, max_len: usize) -> Self {
        self.max_len = max_len.max(1);
        self
    }

    /// Append received bytes.
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// Bytes received but not yet part of a complete record.
    pub fn pending(&self) -> &[u8] {
        &self.buf
    }

    /// The next complete record, without its terminator.
    pub fn next_record(&mut self) -> Result<Option<Vec<u8>>, ProtoError> {
        let timeout = wire::COMMAND_READ_TIMED_OUT;
        if self.buf.starts_with(timeout) {
            let rec = self.buf[..timeout.len() - 1].to_vec();
            self.buf.drain(..timeout.len());
            return Ok(Some(rec));
        }
        let end = if self.term == b'\n' {
            self.find_n_record()
        } else {
            memchr::memchr(self.term, &self.buf).map(|i| (i, i + 1))
        };
        match end {
            Some((rec_end, consumed)) if rec_end <= self.max_len => {
                let rec = self.buf[..rec_end].to_vec();
                self.buf.drain(..consumed);
                Ok(Some(rec))
            }
            Some(_) => Err(ProtoError::ReplyTooLong { max: self.max_len }),
            None if self.buf.len() > self.max_len => {
                Err(ProtoError::ReplyTooLong { max: self.max_len })
            }
            None => Ok(None),
        }
    }

    fn find_n_record(&self) -> Option<(usize, usize)> {
        let first = memchr::memchr(b'\n', &self.buf)?;
        let (_, body) = split_session_id(&self.buf[..first]);
        if !body.starts_with(b"POOLS:") {
            return Some((first, first + 1));
        }
        // CLAMD-CMD-7: STATS ends with the line "END"
        let mut from = first;
        loop {
            let next = from + 1 + memchr::memchr(b'\n', &self.buf[from + 1..])?;
            if &self.buf[from + 1..next] == b"END" {
                return Some((next, next + 1));
            }
            from = next;
        }
    }

    /// Call at EOF: an error if bytes without terminator remain (CLAMD-CLIENT-3).
    pub fn finish(&self) -> Result<(), ProtoError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(ProtoError::TruncatedReply {
                pending: self.buf.len(),
            })
        }
    }
}

/// The subject of a reply (CLAMD-REPLY-1).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Subject {
    /// A file path (raw bytes).
    Path(Vec<u8>),
    /// `stream` (INSTREAM).
    Stream,
    /// `fd[<n>]` (FILDES).
    Fd(u64),
}

/// A parsed VERSION text (CLAMD-CLIENT-8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionInfo {
    /// Engine version, e.g. `1.4.6`.
    pub engine: String,
    /// Database version, if a CVD is loaded.
    pub db_version: Option<String>,
    /// Database build time (`Sun Nov 22 09:26:02 2026`), if present.
    pub db_time: Option<String>,
}

/// The body of a reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyBody {
    /// `<subject>: OK`
    Ok,
    /// `<subject>: <name> FOUND`
    Found(String),
    /// `[<subject>: ]<message> ERROR` (message without the ` ERROR` suffix)
    Error(String),
    /// `PONG`
    Pong,
    /// `ClamAV <ver>[/<db>/<date>]`
    Version(VersionInfo),
    /// `<version>| COMMANDS: ...`
    VersionCommands {
        /// The version part.
        version: VersionInfo,
        /// The command names.
        commands: Vec<String>,
    },
    /// A STATS text (everything between the optional id and the terminator).
    Stats(String),
    /// `RELOADING`
    Reloading,
    /// `UNKNOWN COMMAND` (an error, CLAMD-CLIENT-5)
    UnknownCommand,
    /// `COMMAND READ TIMED OUT` (an error, CLAMD-CLIENT-5)
    TimedOut,
    /// `<file>: Excluded` / `<file>: Excluded (another filesystem)` (the text after `: `)
    Excluded(String),
    /// Anything else (the text after the optional id).
    Other(Vec<u8>),
}

/// One parsed reply record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// `<id>` inside IDSESSION (CLAMD-SESSION-3).
    pub session_id: Option<u64>,
    /// Path, `stream` or `fd[n]`, when the body has one.
    pub subject: Option<Subject>,
    /// The body.
    pub body: ReplyBody,
}

impl Reply {
    /// True for `Error`, `UnknownCommand`, `TimedOut`, `Other` (CLAMD-CLIENT-3/5).
    pub fn is_error(&self) -> bool {
        matches!(
            self.body,
            ReplyBody::Error(_)
                | ReplyBody::UnknownCommand
                | ReplyBody::TimedOut
                | ReplyBody::Other(_)
        )
    }
}

fn split_session_id(rec: &[u8]) -> (Option<u64>, &[u8]) {
    let digits = rec.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 || digits > 19 || !rec[digits..].starts_with(b": ") {
        return (None, rec);
    }
    let id = std::str::from_utf8(&rec[..digits])
        .ok()
        .and_then(|s| s.parse().ok());
    match id {
        Some(id) => (Some(id), &rec[digits + 2..]),
        None => (None, rec),
    }
}

fn subject_of(bytes: &[u8]) -> Subject {
    if bytes == wire::STREAM_SUBJECT.as_bytes() {
        return Subject::Stream;
    }
    if let Some(inner) = bytes
        .strip_prefix(b"fd[")
        .and_then(|r| r.strip_suffix(b"]"))
    {
        if !inner.is_empty() && inner.iter().all(u8::is_ascii_digit) {
            if let Some(n) = std::str::from_utf8(inner).ok().and_then(|s| s.parse().ok()) {
                return Subject::Fd(n);
            }
        }
    }
    Subject::Path(bytes.to_vec())
}

fn rfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::rfind(hay, needle)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn parse_version(s: &str) -> Option<VersionInfo> {
    let rest = s.strip_prefix("ClamAV ")?;
    let mut parts = rest.splitn(3, '/');
    let engine = parts.next()?.to_string();
    Some(VersionInfo {
        engine,
        db_version: parts.next().map(str::to_string),
        db_time: parts.next().map(str::to_string),
    })
}

/// Subject-less error texts of CLAMD-REPLY-2.
fn is_fixed_error(msg: &[u8]) -> bool {
    [
        wire::INSTREAM_SIZE_LIMIT_EXCEEDED,
        wire::NO_FILE_DESCRIPTOR_RECEIVED,
        wire::COMMAND_INVALID_INSIDE_IDSESSION,
        wire::ONLY_NEW_STYLE_INSIDE_IDSESSION,
        wire::ERROR_PROCESSING_COMMAND,
        wire::ANCILLARY_WITHOUT_FILDES,
        wire::ERROR_WRITING_TEMPORARY_FILE,
        wire::FILDES_NOT_COMPILED,
    ]
    .iter()
    .any(|t| msg == t.as_bytes())
        || msg.starts_with(b"ENGINE VERSION MISMATCH: ")
        || msg.starts_with(b"Only new-line terminated nCMDS")
}

/// Parse one record (terminator already removed, as [`ReplySplitter`] returns it).
///
/// `in_session`: strip a leading `<digits>: ` as the command number (CLAMD-CLIENT-6). Outside
/// a session that text would be part of a path.
///
/// FOUND lines follow CLAMD-CLIENT-6: the name is the last space-free token before ` FOUND`;
/// the subject is everything before the `: ` that precedes it (paths may contain `: `).
/// ERROR lines: subject-less fixed texts are recognised (CLAMD-REPLY-2); otherwise the
/// subject ends at the last `: File path check failure: `, else at the last `: `.
pub fn parse_reply(record: &[u8], in_session: bool) -> Reply {
    if record == &wire::COMMAND_READ_TIMED_OUT[..wire::COMMAND_READ_TIMED_OUT.len() - 1] {
        return Reply {
            session_id: None,
            subject: None,
            body: ReplyBody::TimedOut,
        };
    }
    let (session_id, rest) = if in_session {
        split_session_id(record)
    } else {
        (None, record)
    };
    let mk = |subject: Option<Subject>, body: ReplyBody| Reply {
        session_id,
        subject,
        body,
    };
    match rest {
        b"PONG" => return mk(None, ReplyBody::Pong),
        b"RELOADING" => return mk(None, ReplyBody::Reloading),
        b"UNKNOWN COMMAND" => return mk(None, ReplyBody::UnknownCommand),
        _ => {}
    }
    if rest.starts_with(b"POOLS:") {
        return mk(None, ReplyBody::Stats(text(rest)));
    }
    if rest.starts_with(b"ClamAV ") {
        let s = text(rest);
        if let Some((ver, cmds)) = s.split_once(wire::COMMANDS_SEPARATOR) {
            if let Some(version) = parse_version(ver) {
                let commands = cmds.split_whitespace().map(str::to_string).collect();
                return mk(None, ReplyBody::VersionCommands { version, commands });
            }
        } else if !s.contains(": ") {
            if let Some(v) = parse_version(&s) {
                return mk(None, ReplyBody::Version(v));
            }
        }
    }
    if let Some(head) = rest.strip_suffix(b" FOUND") {
        let name_start = head.iter().rposition(|&b| b == b' ').map_or(0, |i| i + 1);
        let name = text(&head[name_start..]);
        let subject = head[..name_start].strip_suffix(b": ").map(subject_of);
        return mk(subject, ReplyBody::Found(name));
    }
    if let Some(head) = rest.strip_suffix(b" ERROR") {
        if is_fixed_error(head) {
            return mk(None, ReplyBody::Error(text(head)));
        }
        let marker = b": File path check failure: ";
        let split = rfind(head, marker).or_else(|| rfind(head, b": "));
        return match split {
            Some(i) => mk(
                Some(subject_of(&head[..i])),
                ReplyBody::Error(text(&head[i + 2..])),
            ),
            None => mk(None, ReplyBody::Error(text(head))),
        };
    }
    if let Some(subj) = rest.strip_suffix(b": OK") {
        return mk(Some(subject_of(subj)), ReplyBody::Ok);
    }
    for ex in [wire::EXCLUDED_OTHER_FS, wire::EXCLUDED] {
        let mut suffix = b": ".to_vec();
        suffix.extend_from_slice(ex.as_bytes());
        if let Some(subj) = rest.strip_suffix(&suffix[..]) {
            return mk(Some(subject_of(subj)), ReplyBody::Excluded(ex.to_string()));
        }
    }
    mk(None, ReplyBody::Other(rest.to_vec()))
}

/// The verdict of a scan from all its reply records (CLAMD-CLIENT-5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// At least one FOUND line: the signature names in order.
    Infected(Vec<String>),
    /// No FOUND, but an ERROR / UNKNOWN COMMAND / timeout / unparsable line, or no OK line
    /// for the requested subject (including no reply at all).
    Error(String),
    /// An OK line for the requested subject and nothing else wrong.
    Clean,
}

/// CLAMD-CLIENT-5: infected if any FOUND; else error if any error line (even when an OK
/// follows); else clean only if an OK for `requested` arrived (`None` = any subject).
pub fn verdict(replies: &[Reply], requested: Option<&Subject>) -> Verdict {
    let found: Vec<String> = replies
        .iter()
        .filter_map(|r| match &r.body {
            ReplyBody::Found(n) => Some(n.clone()),
            _ => None,
        })
        .collect();
    if !found.is_empty() {
        return Verdict::Infected(found);
    }
    if let Some(r) = replies.iter().find(|r| r.is_error()) {
        let msg = match &r.body {
            ReplyBody::Error(m) => m.clone(),
            ReplyBody::UnknownCommand => wire::UNKNOWN_COMMAND.to_string(),
            ReplyBody::TimedOut => "COMMAND READ TIMED OUT".to_string(),
            ReplyBody::Other(b) => format!("unparsable reply: {}", text(b)),
            _ => String::new(),
        };
        return Verdict::Error(msg);
    }
    let ok = replies.iter().any(|r| {
        r.body == ReplyBody::Ok && requested.is_none_or(|want| r.subject.as_ref() == Some(want))
    });
    if ok {
        Verdict::Clean
    } else {
        Verdict::Error("no OK reply for the requested subject".to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(framing: Framing, bytes: &[u8]) -> Vec<Vec<u8>> {
        let mut s = ReplySplitter::new(framing);
        s.push(bytes);
        let mut out = Vec::new();
        while let Some(r) = s.next_record().unwrap() {
            out.push(r);
        }
        s.finish().unwrap();
        out
    }

    /// CLAMD-CLIENT-1.
    #[test]
    fn clamd_client_1_encode_framings() {
        assert_eq!(
            encode_command(Framing::Z, &Command::Ping).unwrap(),
            b"zPING\0"
        );
        assert_eq!(
            encode_command(Framing::N, &Command::Version).unwrap(),
            b"nVERSION\n"
        );
        assert_eq!(
            encode_command(Framing::Legacy, &Command::Ping).unwrap(),
            b"PING\n"
        );
        assert_eq!(
            encode_command(Framing::N, &Command::ContScan(b"/a b".to_vec())).unwrap(),
            b"nCONTSCAN /a b\n"
        );
        assert!(encode_command(Framing::N, &Command::Scan(b"/a\nb".to_vec())).is_err());
        assert!(encode_command(Framing::Z, &Command::Scan(b"/a\nb".to_vec())).is_ok());
        assert!(encode_command(Framing::Z, &Command::Scan(b"/a\0b".to_vec())).is_err());
        assert_eq!(
            encode_command(Framing::Z, &Command::Unknown),
            Err(ProtoError::UnknownCommand)
        );
    }

    /// CLAMD-CLIENT-2.
    #[test]
    fn clamd_client_2_chunks() {
        assert_eq!(chunk_header(0x44), [0, 0, 0, 0x44]);
        assert_eq!(encode_chunks(b"", 10), b"\0\0\0\0");
        assert_eq!(
            encode_chunks(b"abc", 1),
            b"\0\0\0\x01a\0\0\0\x01b\0\0\0\x01c\0\0\0\0"
        );
    }

    /// CLAMD-TIME-3.
    #[test]
    fn clamd_time_3_timeout_record_in_z_mode() {
        assert_eq!(
            records(Framing::Z, b"COMMAND READ TIMED OUT\n"),
            vec![b"COMMAND READ TIMED OUT".to_vec()]
        );
        let r = parse_reply(b"COMMAND READ TIMED OUT", true);
        assert_eq!(r.body, ReplyBody::TimedOut);
    }

    /// CLAMD-CMD-7.
    #[test]
    fn clamd_cmd_7_stats_record_in_n_mode() {
        let stats = crate::reply::stats(
            crate::reply::ReplyCtx::session(4, Framing::N),
            &crate::reply::StatsInfo {
                max_threads: 10,
                idle_timeout: 30,
            },
        );
        let mut bytes = stats.clone();
        bytes.extend_from_slice(b"5: PONG\n");
        let recs = records(Framing::N, &bytes);
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[0], stats[..stats.len() - 1]);
        let r = parse_reply(&recs[0], true);
        assert_eq!(r.session_id, Some(4));
        assert!(matches!(r.body, ReplyBody::Stats(ref s) if s.ends_with("\nEND")));
        assert_eq!(parse_reply(&recs[1], true).body, ReplyBody::Pong);
    }

    #[test]
    fn splitter_bounds_and_truncation() {
        let mut s = ReplySplitter::new(Framing::Z).with_max_len(8);
        s.push(b"123456789");
        assert_eq!(s.next_record(), Err(ProtoError::ReplyTooLong { max: 8 }));
        let mut s = ReplySplitter::new(Framing::Z);
        s.push(b"PON");
        assert_eq!(s.next_record(), Ok(None));
        assert_eq!(s.finish(), Err(ProtoError::TruncatedReply { pending: 3 }));
    }

    /// CLAMD-CLIENT-6.
    #[test]
    fn clamd_client_6_found_parsing() {
        let r = parse_reply(b"3: /tmp/a: b c/eicar.com: Eicar-Signature FOUND", true);
        assert_eq!(r.session_id, Some(3));
        assert_eq!(
            r.subject,
            Some(Subject::Path(b"/tmp/a: b c/eicar.com".to_vec()))
        );
        assert_eq!(r.body, ReplyBody::Found("Eicar-Signature".into()));
        // outside a session, digits are part of the path
        let r = parse_reply(b"1: x: Sig FOUND", false);
        assert_eq!(r.session_id, None);
        assert_eq!(r.subject, Some(Subject::Path(b"1: x".to_vec())));
        let r = parse_reply(b"fd[11]: Win.Test.EICAR_HDB-1.UNOFFICIAL FOUND", false);
        assert_eq!(r.subject, Some(Subject::Fd(11)));
    }

    /// CLAMD-CLIENT-5.
    #[test]
    fn clamd_client_5_errors_and_verdicts() {
        let e = parse_reply(
            b"/c/x: File path check failure: No such file or directory. ERROR",
            false,
        );
        assert_eq!(e.subject, Some(Subject::Path(b"/c/x".to_vec())));
        assert_eq!(
            e.body,
            ReplyBody::Error("File path check failure: No such file or directory.".into())
        );
        let e = parse_reply(
            b": File path check failure: No such file or directory. ERROR",
            false,
        );
        assert_eq!(e.subject, Some(Subject::Path(Vec::new())));
        let e = parse_reply(b"INSTREAM size limit exceeded. ERROR", false);
        assert_eq!(
            (e.subject, e.body),
            (
                None,
                ReplyBody::Error("INSTREAM size limit exceeded.".into())
            )
        );
        let e = parse_reply(b"/c/fifo: Not supported file type ERROR", false);
        assert_eq!(e.body, ReplyBody::Error("Not supported file type".into()));

        let dir = Subject::Path(b"/c/mixperm".to_vec());
        let replies = vec![
            parse_reply(b"/c/mixperm/secret.com: Access denied. ERROR", false),
            parse_reply(b"/c/mixperm: OK", false),
        ];
        assert!(matches!(verdict(&replies, Some(&dir)), Verdict::Error(_)));
        assert_eq!(
            verdict(&[parse_reply(b"/c/mixperm: OK", false)], Some(&dir)),
            Verdict::Clean
        );
        assert!(matches!(verdict(&[], None), Verdict::Error(_)));
        assert!(matches!(
            verdict(&[parse_reply(b"UNKNOWN COMMAND", false)], None),
            Verdict::Error(_)
        ));
        assert_eq!(
            verdict(
                &[parse_reply(b"stream: X FOUND", false)],
                Some(&Subject::Stream)
            ),
            Verdict::Infected(vec!["X".into()])
        );
    }

    /// CLAMD-CLIENT-8.
    #[test]
    fn clamd_client_8_versions() {
        let r = parse_reply(b"ClamAV 1.4.6", false);
        assert_eq!(
            r.body,
            ReplyBody::Version(VersionInfo {
                engine: "1.4.6".into(),
                db_version: None,
                db_time: None
            })
        );
        let r = parse_reply(b"2: ClamAV 1.4.6/27830/Sun Nov 22 09:26:02 2026", true);
        assert_eq!(r.session_id, Some(2));
        assert_eq!(
            r.body,
            ReplyBody::Version(VersionInfo {
                engine: "1.4.6".into(),
                db_version: Some("27830".into()),
                db_time: Some("Sun Nov 22 09:26:02 2026".into())
            })
        );
        let vc =
            crate::reply::version_commands(crate::reply::ReplyCtx::new(Framing::Z), "ClamAV 1.4.6");
        let r = parse_reply(&vc[..vc.len() - 1], false);
        match r.body {
            ReplyBody::VersionCommands { version, commands } => {
                assert_eq!(version.engine, "1.4.6");
                assert_eq!(commands.len(), 17);
                assert_eq!(commands[0], "SCAN");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn excluded_lines() {
        let r = parse_reply(b"/x/y: Excluded", false);
        assert_eq!(r.subject, Some(Subject::Path(b"/x/y".to_vec())));
        assert_eq!(r.body, ReplyBody::Excluded("Excluded".into()));
    }
}
