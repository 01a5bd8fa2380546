//! Response lines: the typed model, the formatter, and every exact wire string the
//! server writes (section 8 and 9 of svsp.md). Each string lives here once, next to
//! its rule ID.

use crate::frame::Eol;
use crate::id::Id;
use crate::options::OptionName;
use crate::quote::{echo_token, quote_chain_into, quote_into};
use std::fmt;

/// An errno name (SVSP-RESP-ERR-1, section 9).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Errno {
    /// `EINVAL` (SVSP-ERR-EINVAL-1).
    Einval,
    /// `ENOTSUP` (SVSP-ERR-ENOTSUP-1).
    Enotsup,
    /// `EACCES` (SVSP-ERR-EACCES-1).
    Eacces,
    /// `ENOENT` (SVSP-ERR-ENOENT-1).
    Enoent,
    /// `EAGAIN` (SVSP-ERR-EAGAIN-1).
    Eagain,
    /// `EFAULT` (SVSP-ERR-EFAULT-1).
    Efault,
    /// Any other `E...` name a server sent (the fake never does, SVSP-ERR-2).
    Other(String),
}

impl Errno {
    /// The six names the fake uses (SVSP-ERR-2).
    pub const KNOWN: [Errno; 6] = [
        Errno::Einval,
        Errno::Enotsup,
        Errno::Eacces,
        Errno::Enoent,
        Errno::Eagain,
        Errno::Efault,
    ];

    /// The upper-case name.
    pub fn as_str(&self) -> &str {
        match self {
            Errno::Einval => "EINVAL",
            Errno::Enotsup => "ENOTSUP",
            Errno::Eacces => "EACCES",
            Errno::Enoent => "ENOENT",
            Errno::Eagain => "EAGAIN",
            Errno::Efault => "EFAULT",
            Errno::Other(s) => s,
        }
    }

    /// Classifies a keyword: an errno name is `E` followed by ASCII letters
    /// (INC-12; matched case-insensitively, SVSP-CLIENT-12). `None` if not an errno name.
    pub fn from_keyword(word: &[u8]) -> Option<Errno> {
        if word.len() < 2
            || !word[0].eq_ignore_ascii_case(&b'E')
            || !word.iter().all(u8::is_ascii_alphabetic)
        {
            return None;
        }
        let upper = String::from_utf8_lossy(word).to_ascii_uppercase();
        Some(
            Errno::KNOWN
                .into_iter()
                .find(|e| e.as_str() == upper)
                .unwrap_or(Errno::Other(upper)),
        )
    }

    /// Whether a client may retry after this error (SVSP-CLIENT-10: only EAGAIN).
    pub fn is_temporary(&self) -> bool {
        *self == Errno::Eagain
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Every error reply the fake sends, with its errno and exact message (SVSP-RESP-ERR-1).
/// Byte-string payloads are raw client bytes; the formatter escapes or quotes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorReply {
    /// `EINVAL Unrecognized command: <word>` (SVSP-CMD-1, SVSP-ERR-EINVAL-1, FAQ 3).
    UnrecognizedCommand(Vec<u8>),
    /// `EINVAL Missing command` (SVSP-ID-2).
    MissingCommand,
    /// `EINVAL Invalid identifier` (SVSP-ID-2, CL-8).
    InvalidIdentifier,
    /// `EINVAL Line too long` (SVSP-FRAME-4).
    LineTooLong,
    /// `EINVAL Missing option` (SVSP-CMD-ENABLE-2).
    MissingOption,
    /// `ENOTSUP Unknown option: <NAME>` (SVSP-CMD-ENABLE-2, SVSP-ERR-ENOTSUP-1).
    UnknownOption(Vec<u8>),
    /// `EINVAL Missing value for <OPTION>` (SVSP-CMD-ENABLE-2).
    MissingValue(OptionName),
    /// `EINVAL Invalid value for <OPTION>: <v>` (SVSP-CMD-ENABLE-2).
    InvalidValue(OptionName, Vec<u8>),
    /// `EINVAL Unexpected value for <OPTION>: <v>` (SVSP-CMD-ENABLE-2, CL-4).
    UnexpectedValue(OptionName, Vec<u8>),
    /// `ENOTSUP Unknown expander: <name>` (SVSP-OPT-EXPAND-2).
    UnknownExpander(Vec<u8>),
    /// `EINVAL Invalid SCAN form: <word>` (SVSP-SCAN-1, CL-3: the whole command word).
    InvalidScanForm(Vec<u8>),
    /// `ENOTSUP Unknown format: <how>` (SVSP-SCAN-2).
    UnknownFormat(Vec<u8>),
    /// `ENOTSUP Unsupported source: <WHAT>` (SVSP-SCAN-1, SVSP-SCAN-4, SVSP-SCAN-DATA-1).
    UnsupportedSource(Vec<u8>),
    /// `EINVAL Missing filename` (SVSP-SCAN-FILE-1).
    MissingFilename,
    /// `EINVAL Invalid port: <x>` (SVSP-SCAN-PORT-1).
    InvalidPort(Vec<u8>),
    /// `EINVAL Invalid byte count: <x>` (SVSP-SCAN-DATA-1).
    InvalidByteCount(Vec<u8>),
    /// `EINVAL Not a regular file: "<path>"` (SVSP-SCAN-FILESHA1-1, CL-1).
    NotRegularFile(Vec<u8>),
    /// `EINVAL Size limit exceeded: "<name>"` (SVSP-SCAN-REQUEST-2, CL-5).
    SizeLimitExceeded(Vec<u8>),
    /// `ENOENT "<path>"` (SVSP-SCAN-FILE-1, SVSP-ERR-ENOENT-1, FAQ 4).
    NotFound(Vec<u8>),
    /// `EACCES "<path>"` (SVSP-SCAN-FILE-1, SVSP-ERR-EACCES-1, CL-7).
    AccessDenied(Vec<u8>),
    /// `ENOENT No connection to port <n>` (SVSP-SCAN-REQUEST-2, SVSP-SCAN-PORT-1).
    NoConnection(u16),
    /// `EAGAIN Server busy` (SVSP-ERR-EAGAIN-1).
    ServerBusy,
    /// `EFAULT Internal error` (SVSP-ERR-EFAULT-1).
    InternalError,
}

impl ErrorReply {
    /// The errno name of this reply (section 9).
    pub fn errno(&self) -> Errno {
        use ErrorReply::*;
        match self {
            UnrecognizedCommand(_)
            | MissingCommand
            | InvalidIdentifier
            | LineTooLong
            | MissingOption
            | MissingValue(_)
            | InvalidValue(..)
            | UnexpectedValue(..)
            | InvalidScanForm(_)
            | MissingFilename
            | InvalidPort(_)
            | InvalidByteCount(_)
            | NotRegularFile(_)
            | SizeLimitExceeded(_) => Errno::Einval,
            UnknownOption(_) | UnknownExpander(_) | UnknownFormat(_) | UnsupportedSource(_) => {
                Errno::Enotsup
            }
            NotFound(_) | NoConnection(_) => Errno::Enoent,
            AccessDenied(_) => Errno::Eacces,
            ServerBusy => Errno::Eagain,
            InternalError => Errno::Efault,
        }
    }

    /// The exact message text after `<ERRNAME><SP>` (SVSP-RESP-ERR-1).
    pub fn text(&self) -> Vec<u8> {
        use ErrorReply::*;
        fn cat(prefix: &str, tail: &[u8]) -> Vec<u8> {
            let mut v = prefix.as_bytes().to_vec();
            v.extend_from_slice(tail);
            v
        }
        fn quoted(prefix: &str, name: &[u8]) -> Vec<u8> {
            let mut v = prefix.as_bytes().to_vec();
            quote_into(&mut v, name);
            v
        }
        match self {
            // SVSP-ERR-EINVAL-1 (FAQ 3 wording, byte for byte)
            UnrecognizedCommand(w) => cat("Unrecognized command: ", &echo_token(w)),
            // SVSP-ID-2
            MissingCommand => b"Missing command".to_vec(),
            // SVSP-ID-2, CL-8
            InvalidIdentifier => b"Invalid identifier".to_vec(),
            // SVSP-FRAME-4
            LineTooLong => b"Line too long".to_vec(),
            // SVSP-CMD-ENABLE-2
            MissingOption => b"Missing option".to_vec(),
            // SVSP-CMD-ENABLE-2
            UnknownOption(n) => cat("Unknown option: ", &echo_token(n)),
            // SVSP-CMD-ENABLE-2 (canonical option name, CL-3)
            MissingValue(o) => format!("Missing value for {o}").into_bytes(),
            // SVSP-CMD-ENABLE-2
            InvalidValue(o, v) => cat(&format!("Invalid value for {o}: "), &echo_token(v)),
            // SVSP-CMD-ENABLE-2, CL-4
            UnexpectedValue(o, v) => cat(&format!("Unexpected value for {o}: "), &echo_token(v)),
            // SVSP-OPT-EXPAND-2
            UnknownExpander(n) => cat("Unknown expander: ", &echo_token(n)),
            // SVSP-SCAN-1, CL-3
            InvalidScanForm(w) => cat("Invalid SCAN form: ", &echo_token(w)),
            // SVSP-SCAN-2
            UnknownFormat(h) => cat("Unknown format: ", &echo_token(h)),
            // SVSP-SCAN-1, SVSP-SCAN-4, SVSP-SCAN-DATA-1, SVSP-SCAN-INLINE-1
            UnsupportedSource(w) => cat("Unsupported source: ", &echo_token(w)),
            // SVSP-SCAN-FILE-1
            MissingFilename => b"Missing filename".to_vec(),
            // SVSP-SCAN-PORT-1
            InvalidPort(x) => cat("Invalid port: ", &echo_token(x)),
            // SVSP-SCAN-DATA-1
            InvalidByteCount(x) => cat("Invalid byte count: ", &echo_token(x)),
            // SVSP-SCAN-FILESHA1-1, CL-1
            NotRegularFile(p) => quoted("Not a regular file: ", p),
            // SVSP-SCAN-REQUEST-2, CL-5
            SizeLimitExceeded(n) => quoted("Size limit exceeded: ", n),
            // SVSP-ERR-ENOENT-1 (FAQ 4 form)
            NotFound(p) => quoted("", p),
            // SVSP-ERR-EACCES-1
            AccessDenied(p) => quoted("", p),
            // SVSP-SCAN-REQUEST-2 ("ENOENT: no connection to port")
            NoConnection(port) => format!("No connection to port {port}").into_bytes(),
            // SVSP-ERR-EAGAIN-1
            ServerBusy => b"Server busy".to_vec(),
            // SVSP-ERR-EFAULT-1
            InternalError => b"Internal error".to_vec(),
        }
    }

    /// The response body for this error.
    pub fn body(&self) -> Body {
        Body::Error {
            errno: self.errno(),
            text: self.text(),
        }
    }
}

/// The keyword part of a response (everything after the optional id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// `READY` (SVSP-RESP-READY-1; never carries an id, SVSP-ID-3).
    Ready,
    /// `DENIED` (SVSP-RESP-DENIED-1; never carries an id).
    Denied,
    /// `OK` (SVSP-RESP-OK-1).
    Ok,
    /// `QUEUED` (SVSP-RESP-QUEUED-1).
    Queued,
    /// `SEND <port>` for REQUEST, bare `SEND` for DATA/inline (SVSP-RESP-SEND-1).
    Send(Option<u16>),
    /// `SCANNING <name chain>` (SVSP-RESP-SCANNING-1).
    Scanning(Vec<Vec<u8>>),
    /// `INFECTED <virus> : <name chain> : <message>` (SVSP-RESP-INFECTED-1).
    Infected {
        /// Unquoted virus name (may contain spaces).
        virus: Vec<u8>,
        /// Quoted name chain of the part.
        name: Vec<Vec<u8>>,
        /// Free text, may be empty.
        message: Vec<u8>,
    },
    /// `DONE <count> : <target> [: <sha1>]` (SVSP-RESP-DONE-1, SVSP-RESP-DONE-2).
    Done {
        /// Number of INFECTED lines; `None` = count missing (seed form, SVSP-CLIENT-9).
        count: Option<u64>,
        /// The request's target display name (never a chain).
        target: Vec<u8>,
        /// FILE-SHA1 only: 40 hex digits as sent (the fake: lower case).
        sha1: Option<String>,
    },
    /// `<ERRNAME> <message>` (SVSP-RESP-ERR-1).
    Error {
        /// The errno name.
        errno: Errno,
        /// The message text (clients MUST NOT interpret it, SVSP-CLIENT-10).
        text: Vec<u8>,
    },
    /// A line with an unknown keyword, kept verbatim (after the id), for SVSP-CLIENT-12.
    Unknown(Vec<u8>),
}

impl Body {
    /// The upper-case keyword (for errors: the errno name; for unknown lines: its first word).
    pub fn keyword(&self) -> String {
        match self {
            Body::Ready => "READY".into(),
            Body::Denied => "DENIED".into(),
            Body::Ok => "OK".into(),
            Body::Queued => "QUEUED".into(),
            Body::Send(_) => "SEND".into(),
            Body::Scanning(_) => "SCANNING".into(),
            Body::Infected { .. } => "INFECTED".into(),
            Body::Done { .. } => "DONE".into(),
            Body::Error { errno, .. } => errno.as_str().to_string(),
            Body::Unknown(line) => {
                let end = line
                    .iter()
                    .position(|b| *b == b' ' || *b == b'\t')
                    .unwrap_or(line.len());
                String::from_utf8_lossy(&line[..end]).to_ascii_uppercase()
            }
        }
    }

    /// Whether this line ends a request (SVSP-SCAN-3): DONE or an error.
    pub fn is_terminal(&self) -> bool {
        matches!(self, Body::Done { .. } | Body::Error { .. })
    }
}

/// Formatting switches of the fake (SVSP-FRAME-6, SVSP-FAKE-2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FormatOptions {
    /// Line terminator (`--eol`).
    pub eol: Eol,
    /// `--quirk=lowercase-keywords`: keywords and errno names in lower case.
    pub lowercase_keywords: bool,
}

/// One response line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The echoed identifier (SVSP-ID-1), if the command had one.
    pub id: Option<Id>,
    /// Keyword and arguments.
    pub body: Body,
}

impl Response {
    /// A response without id.
    pub fn new(body: Body) -> Response {
        Response { id: None, body }
    }

    /// A response with an optional id.
    pub fn with_id(id: Option<Id>, body: Body) -> Response {
        Response { id, body }
    }

    /// Encodes the line with the default format (CRLF, upper-case keywords).
    pub fn to_wire(&self) -> Vec<u8> {
        self.encode(FormatOptions::default())
    }

    /// Encodes the line including its terminator.
    pub fn encode(&self, fmt: FormatOptions) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        self.encode_into(&mut out, fmt);
        out
    }

    /// Appends the encoded line including its terminator to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>, fmt: FormatOptions) {
        // SVSP-ID-1: "<id><SP>" prefix; SVSP-ID-3: READY/DENIED never carry one.
        if let Some(id) = &self.id {
            if !matches!(self.body, Body::Ready | Body::Denied) {
                out.extend_from_slice(id.as_str().as_bytes());
                out.push(b' ');
            }
        }
        let kw = |out: &mut Vec<u8>, k: &str| {
            if fmt.lowercase_keywords {
                out.extend_from_slice(k.to_ascii_lowercase().as_bytes());
            } else {
                out.extend_from_slice(k.as_bytes());
            }
        };
        match &self.body {
            Body::Ready => kw(out, "READY"),   // SVSP-RESP-READY-1
            Body::Denied => kw(out, "DENIED"), // SVSP-RESP-DENIED-1
            Body::Ok => kw(out, "OK"),         // SVSP-RESP-OK-1
            Body::Queued => kw(out, "QUEUED"), // SVSP-RESP-QUEUED-1
            Body::Send(port) => {
                // SVSP-RESP-SEND-1
                kw(out, "SEND");
                if let Some(p) = port {
                    out.extend_from_slice(format!(" {p}").as_bytes());
                }
            }
            Body::Scanning(chain) => {
                // SVSP-RESP-SCANNING-1
                kw(out, "SCANNING");
                out.push(b' ');
                quote_chain_into(out, chain);
            }
            Body::Infected {
                virus,
                name,
                message,
            } => {
                // SVSP-RESP-INFECTED-1: exactly "<SP>:<SP>" between the three fields
                kw(out, "INFECTED");
                out.push(b' ');
                out.extend_from_slice(virus);
                out.extend_from_slice(b" : ");
                quote_chain_into(out, name);
                out.extend_from_slice(b" : ");
                out.extend_from_slice(&sanitize_text(message));
            }
            Body::Done {
                count,
                target,
                sha1,
            } => {
                // SVSP-RESP-DONE-1 ("DONE <count> : <target>"; seed form "DONE : <target>")
                kw(out, "DONE");
                out.push(b' ');
                if let Some(c) = count {
                    out.extend_from_slice(format!("{c} ").as_bytes());
                }
                out.extend_from_slice(b": ");
                quote_into(out, target);
                // SVSP-RESP-DONE-2: FILE-SHA1 third field
                if let Some(h) = sha1 {
                    out.extend_from_slice(b" : ");
                    out.extend_from_slice(h.as_bytes());
                }
            }
            Body::Error { errno, text } => {
                // SVSP-RESP-ERR-1: "<ERRNAME> <message>"
                kw(out, errno.as_str());
                out.push(b' ');
                out.extend_from_slice(&sanitize_text(text));
            }
            Body::Unknown(line) => out.extend_from_slice(&sanitize_text(line)),
        }
        out.extend_from_slice(fmt.eol.as_bytes());
    }
}

/// Free text must never break framing: LF becomes a space (defensive; the fake's own
/// messages never contain one).
fn sanitize_text(t: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    if t.contains(&b'\n') {
        std::borrow::Cow::Owned(
            t.iter()
                .map(|&b| if b == b'\n' { b' ' } else { b })
                .collect(),
        )
    } else {
        std::borrow::Cow::Borrowed(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(id: Option<&str>, body: Body) -> String {
        String::from_utf8(Response::with_id(id.map(|i| Id::parse(i).unwrap()), body).to_wire())
            .unwrap()
    }

    /// SVSP-ID-1.
    /// SVSP-ID-3: READY and DENIED never carry an identifier.
    #[test]
    fn svsp_id_1_every_line_carries_id_and_svsp_id_3_ready_never() {
        assert_eq!(w(Some("007"), Body::Ok), "007 OK\r\n");
        assert_eq!(w(Some("1"), Body::Queued), "1 QUEUED\r\n");
        assert_eq!(w(Some("1"), Body::Ready), "READY\r\n");
        assert_eq!(w(Some("1"), Body::Denied), "DENIED\r\n");
        assert_eq!(
            w(Some("12"), ErrorReply::ServerBusy.body()),
            "12 EAGAIN Server busy\r\n"
        );
    }

    /// SVSP-RESP-INFECTED-1.
    #[test]
    fn svsp_resp_infected_1_format() {
        let b = Body::Infected {
            virus: b"CVDL W32/Sick".to_vec(),
            name: vec![b"/tmp/foo.zip".to_vec(), b"/other/file".to_vec()],
            message: b"end at 1234".to_vec(),
        };
        assert_eq!(
            w(Some("1"), b),
            "1 INFECTED CVDL W32/Sick : \"/tmp/foo.zip\" -> \"/other/file\" : end at 1234\r\n"
        );
    }

    /// SVSP-RESP-DONE-1.
    /// SVSP-RESP-DONE-2: only FILE-SHA1 has the third field.
    #[test]
    fn svsp_resp_done_1_svsp_resp_done_2_format() {
        assert_eq!(
            w(
                None,
                Body::Done {
                    count: Some(0),
                    target: b"/tmp/foo".to_vec(),
                    sha1: None
                }
            ),
            "DONE 0 : \"/tmp/foo\"\r\n"
        );
        assert_eq!(
            w(
                None,
                Body::Done {
                    count: None,
                    target: b"/tmp/foo".to_vec(),
                    sha1: None
                }
            ),
            "DONE : \"/tmp/foo\"\r\n"
        );
        assert_eq!(
            w(
                Some("7"),
                Body::Done {
                    count: Some(1),
                    target: b"/srv/eicar.com".to_vec(),
                    sha1: Some("3395856ce81f2b7382dee72602f798b642f14140".into())
                }
            ),
            "7 DONE 1 : \"/srv/eicar.com\" : 3395856ce81f2b7382dee72602f798b642f14140\r\n"
        );
    }

    /// SVSP-RESP-SEND-1.
    #[test]
    fn svsp_resp_send_1_with_and_without_port() {
        assert_eq!(w(Some("3"), Body::Send(Some(40123))), "3 SEND 40123\r\n");
        assert_eq!(w(Some("3"), Body::Send(None)), "3 SEND\r\n");
    }

    /// SVSP-RESP-ERR-1.
    #[test]
    fn svsp_resp_err_1_every_message_form() {
        use ErrorReply::*;
        let v = |s: &str| s.as_bytes().to_vec();
        let cases: Vec<(ErrorReply, &str)> = vec![
            (
                UnrecognizedCommand(v("wrongCommand")),
                "EINVAL Unrecognized command: wrongCommand",
            ),
            (MissingCommand, "EINVAL Missing command"),
            (InvalidIdentifier, "EINVAL Invalid identifier"),
            (LineTooLong, "EINVAL Line too long"),
            (MissingOption, "EINVAL Missing option"),
            (
                UnknownOption(v("FROBNICATE")),
                "ENOTSUP Unknown option: FROBNICATE",
            ),
            (
                MissingValue(OptionName::Ignore),
                "EINVAL Missing value for IGNORE",
            ),
            (
                InvalidValue(OptionName::Recurse, v("x")),
                "EINVAL Invalid value for RECURSE: x",
            ),
            (
                UnexpectedValue(OptionName::Recurse, v("v")),
                "EINVAL Unexpected value for RECURSE: v",
            ),
            (UnknownExpander(v("bz2")), "ENOTSUP Unknown expander: bz2"),
            (
                InvalidScanForm(v("SCAN/a/b/c")),
                "EINVAL Invalid SCAN form: SCAN/a/b/c",
            ),
            (UnknownFormat(v("b64")), "ENOTSUP Unknown format: b64"),
            (
                UnsupportedSource(v("DATA")),
                "ENOTSUP Unsupported source: DATA",
            ),
            (MissingFilename, "EINVAL Missing filename"),
            (InvalidPort(v("0")), "EINVAL Invalid port: 0"),
            (InvalidByteCount(v("x")), "EINVAL Invalid byte count: x"),
            (
                NotRegularFile(v("/tmp")),
                "EINVAL Not a regular file: \"/tmp\"",
            ),
            (SizeLimitExceeded(v("")), "EINVAL Size limit exceeded: \"\""),
            (NotFound(v("nonexistent")), "ENOENT \"nonexistent\""),
            (AccessDenied(v("/etc/x")), "EACCES \"/etc/x\""),
            (NoConnection(40123), "ENOENT No connection to port 40123"),
            (ServerBusy, "EAGAIN Server busy"),
            (InternalError, "EFAULT Internal error"),
        ];
        for (e, want) in cases {
            assert_eq!(w(None, e.body()), format!("{want}\r\n"), "{e:?}");
        }
    }

    /// SVSP-ERR-2.
    #[test]
    fn svsp_err_2_only_six_errno_names() {
        assert_eq!(Errno::from_keyword(b"enoent"), Some(Errno::Enoent));
        assert_eq!(
            Errno::from_keyword(b"ENOMEM"),
            Some(Errno::Other("ENOMEM".into()))
        );
        assert_eq!(Errno::from_keyword(b"E"), None);
        assert_eq!(Errno::from_keyword(b"DONE"), None);
    }

    /// SVSP-FRAME-6.
    #[test]
    fn svsp_frame_6_eol_lf_and_lowercase_quirk() {
        let f = FormatOptions {
            eol: Eol::Lf,
            lowercase_keywords: true,
        };
        assert_eq!(
            Response::new(ErrorReply::ServerBusy.body()).encode(f),
            b"eagain Server busy\n".to_vec()
        );
        assert_eq!(
            Response::new(Body::Ready).encode(FormatOptions {
                eol: Eol::Lf,
                ..Default::default()
            }),
            b"READY\n".to_vec()
        );
    }
}
