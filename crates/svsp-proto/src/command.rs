//! Command lines: tokenisation (SVSP-FRAME-8), identifiers (SVSP-ID-2), commands
//! (section 5), options (section 6) and SCAN forms (section 7). Parse-time errors come
//! back as [`ErrorReply`] values with the id they must carry.

use crate::frame::Eol;
use crate::id::{Id, MAX_ID_DIGITS};
use crate::options::{Expander, ExpanderSet, OptionName, OptionOp};
use crate::response::ErrorReply;
use crate::SvspError;

/// Which sources the server implements (SVSP-SCAN-4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Profile {
    /// FILE, FILE-SHA1, REQUEST, PORT (default).
    #[default]
    Full,
    /// FILE only (`--profile=first-version`).
    FirstVersion,
}

/// Server-side parse settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseConfig {
    /// Implemented sources (SVSP-SCAN-4).
    pub profile: Profile,
    /// `--enable-future`: DATA and inline (SVSP-SCAN-DATA-1, SVSP-SCAN-INLINE-1).
    pub enable_future: bool,
    /// `--stream-max-length` (bounds the DATA byte count).
    pub stream_max_length: u64,
}

impl Default for ParseConfig {
    fn default() -> Self {
        ParseConfig {
            profile: Profile::Full,
            enable_future: false,
            stream_max_length: 1 << 20,
        }
    }
}

/// The data source of a SCAN (SVSP-SCAN-1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// `/FILE path` (SVSP-SCAN-FILE-1).
    File,
    /// `/FILE-SHA1 path` (SVSP-SCAN-FILESHA1-1).
    FileSha1,
    /// `/REQUEST [name]` (SVSP-SCAN-REQUEST-1).
    Request,
    /// `/PORT port [name]` (SVSP-SCAN-PORT-1).
    Port(u16),
    /// `/DATA bytes [name]` (SVSP-SCAN-DATA-1, FUTURE).
    Data(u64),
    /// Bare `SCAN [name]`: inline until half-close (SVSP-SCAN-INLINE-1, FUTURE).
    Inline,
}

impl Source {
    /// Source name as written after `SCAN/` (`None` for inline).
    pub fn keyword(&self) -> Option<&'static str> {
        match self {
            Source::File => Some("FILE"),
            Source::FileSha1 => Some("FILE-SHA1"),
            Source::Request => Some("REQUEST"),
            Source::Port(_) => Some("PORT"),
            Source::Data(_) => Some("DATA"),
            Source::Inline => None,
        }
    }

    /// True for sources whose bytes come over the network.
    pub fn is_stream(&self) -> bool {
        !matches!(self, Source::File | Source::FileSha1)
    }
}

/// A parsed SCAN (section 7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanCommand {
    /// The data source.
    pub source: Source,
    /// The raw filename / display name (required for FILE and FILE-SHA1).
    pub name: Option<Vec<u8>>,
}

impl ScanCommand {
    /// The display name used in responses (SVSP-NAME-4, SVSP-NAME-5: `""` when absent).
    pub fn display_name(&self) -> &[u8] {
        self.name.as_deref().unwrap_or(b"")
    }
}

/// A parsed command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `ENABLE` / `DISABLE` (SVSP-CMD-ENABLE-1, SVSP-CMD-DISABLE-1), validated.
    Option(OptionOp),
    /// `SCAN...` (section 7).
    Scan(ScanCommand),
    /// `QUIT` (SVSP-CMD-QUIT-1; trailing text ignored).
    Quit,
}

/// The result of parsing one command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// Empty or whitespace-only line: no response at all (SVSP-FRAME-3).
    Blank,
    /// A valid command.
    Command {
        /// Identifier to echo (SVSP-ID-1).
        id: Option<Id>,
        /// The command.
        command: Command,
    },
    /// A parse-time error: exactly one error line, with this id (SVSP-SCAN-3, SVSP-ID-1).
    Error {
        /// Identifier to echo (`None` for `Invalid identifier`, SVSP-ID-2).
        id: Option<Id>,
        /// The reply.
        error: ErrorReply,
    },
}

fn is_ws(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

fn skip_ws(s: &[u8]) -> &[u8] {
    let n = s.iter().take_while(|b| is_ws(**b)).count();
    &s[n..]
}

/// Splits off the first token; returns (token, rest after the following whitespace run).
fn token(s: &[u8]) -> (&[u8], &[u8]) {
    let end = s.iter().position(|b| is_ws(*b)).unwrap_or(s.len());
    (&s[..end], skip_ws(&s[end..]))
}

/// Parses one command line (terminator already removed, SVSP-FRAME-1).
pub fn parse_line(line: &[u8], cfg: &ParseConfig) -> Parsed {
    // SVSP-FRAME-8: strip leading SP/HTAB.
    let line = skip_ws(line);
    // SVSP-FRAME-3: blank lines are ignored silently.
    if line.iter().all(|b| is_ws(*b)) {
        return Parsed::Blank;
    }
    let (first, rest) = token(line);
    let (id, word, args) = if first.iter().all(u8::is_ascii_digit) {
        // SVSP-ID-2 / CL-8: too long -> EINVAL without prefix, not executed.
        if first.len() > MAX_ID_DIGITS {
            return Parsed::Error {
                id: None,
                error: ErrorReply::InvalidIdentifier,
            };
        }
        let id = Id::from_digits_lenient(first);
        if rest.is_empty() {
            return Parsed::Error {
                id,
                error: ErrorReply::MissingCommand,
            };
        }
        let (word, args) = token(rest);
        (id, word, args)
    } else {
        (None, first, rest)
    };
    match parse_command(word, args, cfg) {
        Ok(command) => Parsed::Command { id, command },
        Err(error) => Parsed::Error { id, error },
    }
}

fn parse_command(word: &[u8], args: &[u8], cfg: &ParseConfig) -> Result<Command, ErrorReply> {
    if word.eq_ignore_ascii_case(b"ENABLE") {
        return parse_option(true, args).map(Command::Option);
    }
    if word.eq_ignore_ascii_case(b"DISABLE") {
        return parse_option(false, args).map(Command::Option);
    }
    if word.eq_ignore_ascii_case(b"QUIT") {
        return Ok(Command::Quit);
    }
    if word.len() >= 4
        && word[..4].eq_ignore_ascii_case(b"SCAN")
        && (word.len() == 4 || word[4] == b'/')
    {
        return parse_scan(word, args, cfg).map(Command::Scan);
    }
    // SVSP-CMD-1
    Err(ErrorReply::UnrecognizedCommand(word.to_vec()))
}

/// ENABLE/DISABLE (SVSP-OPT-0, SVSP-CMD-ENABLE-2). `args` is the verbatim rest.
fn parse_option(enable: bool, args: &[u8]) -> Result<OptionOp, ErrorReply> {
    if args.is_empty() {
        return Err(ErrorReply::MissingOption);
    }
    let (name, value) = token(args);
    let Some(opt) = OptionName::parse(name) else {
        return Err(ErrorReply::UnknownOption(name.to_vec()));
    };
    let value = (!value.is_empty()).then_some(value);
    use OptionName::*;
    Ok(match (opt, enable, value) {
        (Ignore, true, None) | (Exclude, true, None) => return Err(ErrorReply::MissingValue(opt)),
        (Ignore, true, Some(v)) => OptionOp::IgnoreAdd(v.to_vec()),
        (Ignore, false, Some(v)) => OptionOp::IgnoreRemove(v.to_vec()),
        (Ignore, false, None) => OptionOp::IgnoreClear,
        (Exclude, true, Some(v)) => OptionOp::ExcludeAdd(v.to_vec()),
        (Exclude, false, Some(v)) => OptionOp::ExcludeRemove(v.to_vec()),
        (Exclude, false, None) => OptionOp::ExcludeClear,
        (Expand, true, None) => OptionOp::ExpandDefault,
        (Expand, false, None) => OptionOp::ExpandOff,
        (Expand, on, Some(v)) => {
            let set = if v == b"*" {
                ExpanderSet::all()
            } else {
                match Expander::parse(v) {
                    Some(e) => ExpanderSet::only(e),
                    None => return Err(ErrorReply::UnknownExpander(v.to_vec())),
                }
            };
            if on {
                OptionOp::ExpandAdd(set)
            } else {
                OptionOp::ExpandRemove(set)
            }
        }
        (Recurse, true, None) => OptionOp::RecurseOn(0),
        (Recurse, true, Some(v)) => {
            if v.is_empty() || !v.iter().all(u8::is_ascii_digit) {
                return Err(ErrorReply::InvalidValue(opt, v.to_vec()));
            }
            // Decimal 0 or more; absurdly large values saturate (the fake caps at 32 anyway).
            let n = v.iter().fold(0u64, |a, d| {
                a.saturating_mul(10).saturating_add(u64::from(d - b'0'))
            });
            OptionOp::RecurseOn(u32::try_from(n).unwrap_or(u32::MAX))
        }
        (Recurse, false, None) => OptionOp::RecurseOff,
        (Original, on, None) => OptionOp::Original(on),
        (Html, true, None) => OptionOp::Html(1),
        (Html, true, Some(v)) => match v {
            b"1" => OptionOp::Html(1),
            b"2" => OptionOp::Html(2),
            b"3" => OptionOp::Html(3),
            _ => return Err(ErrorReply::InvalidValue(opt, v.to_vec())),
        },
        (Html, false, None) => OptionOp::Html(0),
        // CL-4 and the EINVAL cells of SVSP-OPT-0: a value where none is expected.
        (Recurse, false, Some(v)) | (Original, _, Some(v)) | (Html, false, Some(v)) => {
            return Err(ErrorReply::UnexpectedValue(opt, v.to_vec()))
        }
    })
}

fn parse_decimal(tok: &[u8]) -> Option<u64> {
    if tok.is_empty() || tok.len() > 19 || !tok.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(tok).ok()?.parse().ok()
}

/// SCAN forms (SVSP-SCAN-1, -2, -4, section 7.3).
fn parse_scan(word: &[u8], args: &[u8], cfg: &ParseConfig) -> Result<ScanCommand, ErrorReply> {
    let segments: Vec<&[u8]> = if word.len() == 4 {
        Vec::new()
    } else {
        word[5..].split(|b| *b == b'/').collect()
    };
    let (how, what): (&[u8], &[u8]) = match segments.as_slice() {
        [] => (b"", b""),
        [what] => (b"", what),
        [how, what] => (how, what),
        _ => return Err(ErrorReply::InvalidScanForm(word.to_vec())),
    };
    // SVSP-SCAN-2: only the "none" format exists.
    if !how.is_empty() {
        return Err(ErrorReply::UnknownFormat(how.to_vec()));
    }
    let name_opt = |s: &[u8]| (!s.is_empty()).then(|| s.to_vec());
    let supported = |src: &Source| match src {
        Source::File => true,
        Source::FileSha1 | Source::Request | Source::Port(_) => cfg.profile == Profile::Full,
        Source::Data(_) | Source::Inline => cfg.enable_future,
    };
    let unsupported = || {
        ErrorReply::UnsupportedSource(if what.is_empty() {
            b"(none)".to_vec()
        } else {
            what.to_vec()
        })
    };
    let kind = if what.is_empty() {
        Source::Inline
    } else if what.eq_ignore_ascii_case(b"FILE") {
        Source::File
    } else if what.eq_ignore_ascii_case(b"FILE-SHA1") {
        Source::FileSha1
    } else if what.eq_ignore_ascii_case(b"REQUEST") {
        Source::Request
    } else if what.eq_ignore_ascii_case(b"PORT") {
        Source::Port(0)
    } else if what.eq_ignore_ascii_case(b"DATA") {
        Source::Data(0)
    } else {
        return Err(unsupported());
    };
    if !supported(&kind) {
        return Err(unsupported());
    }
    match kind {
        Source::File | Source::FileSha1 => {
            if args.is_empty() {
                return Err(ErrorReply::MissingFilename);
            }
            Ok(ScanCommand {
                source: kind,
                name: Some(args.to_vec()),
            })
        }
        Source::Request | Source::Inline => Ok(ScanCommand {
            source: kind,
            name: name_opt(args),
        }),
        Source::Port(_) => {
            let (tok, rest) = token(args);
            match parse_decimal(tok) {
                Some(p @ 1..=65535) => Ok(ScanCommand {
                    source: Source::Port(p as u16),
                    name: name_opt(rest),
                }),
                _ => Err(ErrorReply::InvalidPort(tok.to_vec())),
            }
        }
        Source::Data(_) => {
            let (tok, rest) = token(args);
            match parse_decimal(tok) {
                Some(n) if n <= cfg.stream_max_length => Ok(ScanCommand {
                    source: Source::Data(n),
                    name: name_opt(rest),
                }),
                _ => Err(ErrorReply::InvalidByteCount(tok.to_vec())),
            }
        }
    }
}

/// Checks that a name can be sent raw in a command (SVSP-NAME-1, SVSP-CLIENT-6).
pub fn is_sendable_name(name: &[u8]) -> bool {
    !name.is_empty() && !name.contains(&b'\n') && name.last() != Some(&b'\r') && !is_ws(name[0])
}

impl Command {
    /// Client side: encodes this command as one line (SVSP-CLIENT-2; CRLF recommended).
    /// Fails when a name or value cannot be written raw (SVSP-NAME-1, SVSP-CLIENT-6).
    pub fn encode(&self, id: Option<&Id>, eol: Eol) -> Result<Vec<u8>, SvspError> {
        let mut out = Vec::new();
        if let Some(id) = id {
            out.extend_from_slice(id.as_str().as_bytes());
            out.push(b' ');
        }
        let arg = |out: &mut Vec<u8>, v: &[u8]| -> Result<(), SvspError> {
            if !is_sendable_name(v) {
                return Err(SvspError::UnsendableName);
            }
            out.push(b' ');
            out.extend_from_slice(v);
            Ok(())
        };
        match self {
            Command::Quit => out.extend_from_slice(b"QUIT"),
            Command::Option(op) => {
                let enable = !matches!(
                    op,
                    OptionOp::IgnoreRemove(_)
                        | OptionOp::IgnoreClear
                        | OptionOp::ExcludeRemove(_)
                        | OptionOp::ExcludeClear
                        | OptionOp::ExpandRemove(_)
                        | OptionOp::ExpandOff
                        | OptionOp::RecurseOff
                        | OptionOp::Original(false)
                        | OptionOp::Html(0)
                );
                out.extend_from_slice(if enable { b"ENABLE " } else { b"DISABLE " });
                out.extend_from_slice(op.option().as_str().as_bytes());
                match op {
                    OptionOp::IgnoreAdd(v)
                    | OptionOp::IgnoreRemove(v)
                    | OptionOp::ExcludeAdd(v)
                    | OptionOp::ExcludeRemove(v) => arg(&mut out, v)?,
                    OptionOp::ExpandAdd(s) | OptionOp::ExpandRemove(s) => {
                        let word = if *s == ExpanderSet::all() {
                            "*".to_string()
                        } else {
                            let names: Vec<&str> = Expander::ALL
                                .iter()
                                .filter(|e| s.contains(**e))
                                .map(|e| e.as_str())
                                .collect();
                            if names.len() != 1 {
                                return Err(SvspError::UnsendableName);
                            }
                            names[0].to_string()
                        };
                        arg(&mut out, word.as_bytes())?
                    }
                    OptionOp::RecurseOn(n) => arg(&mut out, n.to_string().as_bytes())?,
                    OptionOp::Html(n @ 1..=3) => arg(&mut out, n.to_string().as_bytes())?,
                    _ => {}
                }
            }
            Command::Scan(scan) => {
                out.extend_from_slice(b"SCAN");
                if let Some(k) = scan.source.keyword() {
                    out.push(b'/');
                    out.extend_from_slice(k.as_bytes());
                }
                match scan.source {
                    Source::Port(p) => out.extend_from_slice(format!(" {p}").as_bytes()),
                    Source::Data(n) => out.extend_from_slice(format!(" {n}").as_bytes()),
                    _ => {}
                }
                if let Some(n) = &scan.name {
                    arg(&mut out, n)?;
                } else if matches!(scan.source, Source::File | Source::FileSha1) {
                    return Err(SvspError::UnsendableName);
                }
            }
        }
        out.extend_from_slice(eol.as_bytes());
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(line: &[u8]) -> Parsed {
        parse_line(line, &ParseConfig::default())
    }
    fn err(line: &[u8]) -> (Option<String>, String) {
        match p(line) {
            Parsed::Error { id, error } => (
                id.map(|i| i.as_str().to_string()),
                format!(
                    "{} {}",
                    error.errno(),
                    String::from_utf8_lossy(&error.text())
                ),
            ),
            other => panic!("expected error for {line:?}, got {other:?}"),
        }
    }
    fn cmd(line: &[u8]) -> (Option<String>, Command) {
        match p(line) {
            Parsed::Command { id, command } => (id.map(|i| i.as_str().to_string()), command),
            other => panic!("expected command for {line:?}, got {other:?}"),
        }
    }
    fn scan(source: Source, name: Option<&[u8]>) -> Command {
        Command::Scan(ScanCommand {
            source,
            name: name.map(<[u8]>::to_vec),
        })
    }

    /// SVSP-FRAME-3.
    #[test]
    fn svsp_frame_3_blank_lines_ignored() {
        assert_eq!(p(b""), Parsed::Blank);
        assert_eq!(p(b" \t "), Parsed::Blank);
    }

    /// SVSP-FRAME-2.
    #[test]
    fn svsp_frame_2_rest_of_line_is_one_filename() {
        assert_eq!(
            cmd(b"SCAN/FILE /a SCAN/FILE /b").1,
            scan(Source::File, Some(b"/a SCAN/FILE /b"))
        );
    }

    /// SVSP-FRAME-8.
    #[test]
    fn svsp_frame_8_tokenisation_case_and_verbatim_args() {
        assert_eq!(
            cmd(b" \t7\t scan/file   /x y  ").1,
            scan(Source::File, Some(b"/x y  "))
        );
        assert_eq!(cmd(b"Quit now").1, Command::Quit);
        assert_eq!(
            cmd(b"enable recurse").1,
            Command::Option(OptionOp::RecurseOn(0))
        );
        assert_eq!(
            cmd(b"ENABLE IGNORE CVDL W32/Nimda.E ").1,
            Command::Option(OptionOp::IgnoreAdd(b"CVDL W32/Nimda.E ".to_vec()))
        );
    }

    /// SVSP-ID-2.
    #[test]
    fn svsp_id_2_identifier_rules() {
        assert_eq!(cmd(b"007 QUIT"), (Some("007".into()), Command::Quit));
        assert_eq!(cmd(b"123456789 QUIT").0.as_deref(), Some("123456789"));
        assert_eq!(
            err(b"1234567890 QUIT"),
            (None, "EINVAL Invalid identifier".into())
        );
        assert_eq!(
            err(b"42"),
            (Some("42".into()), "EINVAL Missing command".into())
        );
        assert_eq!(
            err(b"42   "),
            (Some("42".into()), "EINVAL Missing command".into())
        );
        assert_eq!(
            err(b"-1 QUIT"),
            (None, "EINVAL Unrecognized command: -1".into())
        );
        assert_eq!(
            err(b"1a QUIT"),
            (None, "EINVAL Unrecognized command: 1a".into())
        );
    }

    /// SVSP-CMD-1.
    #[test]
    fn svsp_cmd_1_unknown_command() {
        assert_eq!(
            err(b"wrongCommand"),
            (None, "EINVAL Unrecognized command: wrongCommand".into())
        );
        assert_eq!(
            err(b"5 SCANX /a"),
            (
                Some("5".into()),
                "EINVAL Unrecognized command: SCANX".into()
            )
        );
    }

    /// SVSP-CMD-ENABLE-2.
    #[test]
    fn svsp_cmd_enable_2_errors() {
        // (line, id echoed, error text)
        let cases: [(&[u8], Option<&str>, &str); 11] = [
            (b"ENABLE", None, "EINVAL Missing option"),
            (
                b"4 ENABLE FROBNICATE",
                Some("4"),
                "ENOTSUP Unknown option: FROBNICATE",
            ),
            (b"ENABLE ignore", None, "EINVAL Missing value for IGNORE"),
            (b"ENABLE EXCLUDE", None, "EINVAL Missing value for EXCLUDE"),
            (
                b"5 ENABLE RECURSE x",
                Some("5"),
                "EINVAL Invalid value for RECURSE: x",
            ),
            (
                b"ENABLE RECURSE -1",
                None,
                "EINVAL Invalid value for RECURSE: -1",
            ),
            (b"ENABLE HTML 4", None, "EINVAL Invalid value for HTML: 4"),
            (
                b"ENABLE ORIGINAL yes",
                None,
                "EINVAL Unexpected value for ORIGINAL: yes",
            ),
            (
                b"DISABLE HTML 2",
                None,
                "EINVAL Unexpected value for HTML: 2",
            ),
            (b"ENABLE EXPAND bz2", None, "ENOTSUP Unknown expander: bz2"),
            (b"DISABLE EXPAND bz2", None, "ENOTSUP Unknown expander: bz2"),
        ];
        for (line, id, text) in cases {
            assert_eq!(
                err(line),
                (id.map(String::from), text.to_string()),
                "{}",
                String::from_utf8_lossy(line)
            );
        }
    }

    /// SVSP-CMD-ENABLE-1.
    #[test]
    fn svsp_cmd_enable_1_and_disable_1_forms() {
        use OptionOp::*;
        let o = |l: &[u8]| match cmd(l).1 {
            Command::Option(op) => op,
            c => panic!("{c:?}"),
        };
        assert_eq!(o(b"ENABLE RECURSE 3"), RecurseOn(3));
        assert_eq!(
            o(b"ENABLE RECURSE 99999999999999999999999"),
            RecurseOn(u32::MAX)
        );
        assert_eq!(o(b"DISABLE RECURSE"), RecurseOff);
        assert_eq!(o(b"ENABLE ORIGINAL"), Original(true));
        assert_eq!(o(b"DISABLE ORIGINAL"), Original(false));
        assert_eq!(o(b"ENABLE HTML"), Html(1));
        assert_eq!(o(b"ENABLE HTML 3"), Html(3));
        assert_eq!(o(b"DISABLE HTML"), Html(0));
        assert_eq!(o(b"ENABLE EXPAND"), ExpandDefault);
        assert_eq!(o(b"ENABLE EXPAND *"), ExpandAdd(ExpanderSet::all()));
        assert_eq!(
            o(b"DISABLE EXPAND Zip"),
            ExpandRemove(ExpanderSet::only(Expander::Zip))
        );
        assert_eq!(o(b"DISABLE EXPAND"), ExpandOff);
        assert_eq!(o(b"DISABLE IGNORE"), IgnoreClear);
        assert_eq!(
            o(b"DISABLE IGNORE CVDL X"),
            IgnoreRemove(b"CVDL X".to_vec())
        );
        assert_eq!(o(b"DISABLE EXCLUDE"), ExcludeClear);
    }

    /// SVSP-CMD-QUIT-1.
    #[test]
    fn svsp_cmd_quit_1_trailing_text_ignored() {
        assert_eq!(cmd(b"3 QUIT bye now"), (Some("3".into()), Command::Quit));
    }

    /// SVSP-SCAN-1.
    #[test]
    fn svsp_scan_1_forms() {
        assert_eq!(cmd(b"SCAN//FILE /a").1, scan(Source::File, Some(b"/a")));
        assert_eq!(
            cmd(b"scan/file-sha1 /a").1,
            scan(Source::FileSha1, Some(b"/a"))
        );
        assert_eq!(cmd(b"SCAN/REQUEST").1, scan(Source::Request, None));
        assert_eq!(
            cmd(b"SCAN/REQUEST report.doc").1,
            scan(Source::Request, Some(b"report.doc"))
        );
        assert_eq!(
            err(b"SCAN/a/b/c /x").1,
            "EINVAL Invalid SCAN form: SCAN/a/b/c"
        );
        assert_eq!(err(b"SCAN/BOGUS /x").1, "ENOTSUP Unsupported source: BOGUS");
        assert_eq!(err(b"SCAN /x").1, "ENOTSUP Unsupported source: (none)");
        assert_eq!(err(b"SCAN/ /x").1, "ENOTSUP Unsupported source: (none)");
    }

    /// SVSP-SCAN-2.
    #[test]
    fn svsp_scan_2_named_format_rejected() {
        assert_eq!(err(b"SCAN/b64/FILE /x").1, "ENOTSUP Unknown format: b64");
    }

    /// SVSP-SCAN-4.
    #[test]
    fn svsp_scan_4_first_version_profile() {
        let cfg = ParseConfig {
            profile: Profile::FirstVersion,
            ..Default::default()
        };
        assert!(matches!(
            parse_line(b"SCAN/FILE /a", &cfg),
            Parsed::Command { .. }
        ));
        for (l, w) in [
            (&b"SCAN/FILE-SHA1 /a"[..], "FILE-SHA1"),
            (b"SCAN/REQUEST", "REQUEST"),
            (b"SCAN/PORT 5", "PORT"),
        ] {
            match parse_line(l, &cfg) {
                Parsed::Error { error, .. } => {
                    assert_eq!(error, ErrorReply::UnsupportedSource(w.as_bytes().to_vec()))
                }
                o => panic!("{o:?}"),
            }
        }
    }

    /// SVSP-SCAN-FILE-1.
    #[test]
    fn svsp_scan_file_1_missing_filename() {
        assert_eq!(err(b"SCAN/FILE").1, "EINVAL Missing filename");
        assert_eq!(err(b"2 SCAN/FILE-SHA1   ").1, "EINVAL Missing filename");
    }

    /// SVSP-SCAN-PORT-1.
    #[test]
    fn svsp_scan_port_1_port_range() {
        assert_eq!(
            cmd(b"SCAN/PORT 65535 n a").1,
            scan(Source::Port(65535), Some(b"n a"))
        );
        assert_eq!(cmd(b"SCAN/PORT 1").1, scan(Source::Port(1), None));
        assert_eq!(err(b"SCAN/PORT 0").1, "EINVAL Invalid port: 0");
        assert_eq!(err(b"SCAN/PORT 65536").1, "EINVAL Invalid port: 65536");
        assert_eq!(err(b"SCAN/PORT x1").1, "EINVAL Invalid port: x1");
        assert_eq!(err(b"SCAN/PORT").1, "EINVAL Invalid port: ");
    }

    /// SVSP-SCAN-DATA-1.
    #[test]
    fn svsp_scan_data_1_future_flag_and_byte_count() {
        assert_eq!(
            err(b"6 SCAN/DATA 100"),
            (Some("6".into()), "ENOTSUP Unsupported source: DATA".into())
        );
        let cfg = ParseConfig {
            enable_future: true,
            stream_max_length: 100,
            ..Default::default()
        };
        assert_eq!(
            parse_line(b"SCAN/DATA 100 n", &cfg),
            Parsed::Command {
                id: None,
                command: scan(Source::Data(100), Some(b"n"))
            }
        );
        assert!(matches!(
            parse_line(b"SCAN/DATA 101", &cfg),
            Parsed::Error {
                error: ErrorReply::InvalidByteCount(_),
                ..
            }
        ));
        assert!(matches!(
            parse_line(b"SCAN/DATA", &cfg),
            Parsed::Error {
                error: ErrorReply::InvalidByteCount(_),
                ..
            }
        ));
    }

    /// SVSP-SCAN-INLINE-1.
    #[test]
    fn svsp_scan_inline_1_future_flag() {
        let cfg = ParseConfig {
            enable_future: true,
            ..Default::default()
        };
        assert_eq!(
            parse_line(b"9 SCAN x", &cfg),
            Parsed::Command {
                id: Id::parse("9").ok(),
                command: scan(Source::Inline, Some(b"x"))
            }
        );
    }

    /// SVSP-NAME-1.
    #[test]
    fn svsp_name_1_quotes_are_part_of_the_name() {
        assert_eq!(
            cmd(b"SCAN/FILE \"/tmp/a\"").1,
            scan(Source::File, Some(b"\"/tmp/a\""))
        );
        assert!(is_sendable_name(b"/a b"));
        assert!(
            !is_sendable_name(b"/a\nb") && !is_sendable_name(b"/a\r") && !is_sendable_name(b" /a")
        );
    }

    #[test]
    fn client_encode_round_trips_through_parser() {
        let cfg = ParseConfig {
            enable_future: true,
            ..Default::default()
        };
        let id = Id::parse("12").unwrap();
        let cmds = vec![
            Command::Quit,
            scan(Source::File, Some(b"/tmp/x y")),
            scan(Source::FileSha1, Some(b"/e")),
            scan(Source::Request, None),
            scan(Source::Port(4000), Some(b"n")),
            scan(Source::Data(3), None),
            Command::Option(OptionOp::IgnoreAdd(b"CVDL A B".to_vec())),
            Command::Option(OptionOp::ExpandAdd(ExpanderSet::only(Expander::Gz))),
            Command::Option(OptionOp::ExpandRemove(ExpanderSet::all())),
            Command::Option(OptionOp::RecurseOn(0)),
            Command::Option(OptionOp::Html(0)),
            Command::Option(OptionOp::Original(true)),
        ];
        for c in cmds {
            let wire = c.encode(Some(&id), Eol::Crlf).unwrap();
            assert!(wire.ends_with(b"\r\n"));
            let got = parse_line(&wire[..wire.len() - 2], &cfg);
            assert_eq!(
                got,
                Parsed::Command {
                    id: Some(id.clone()),
                    command: c
                }
            );
        }
        assert!(scan(Source::File, Some(b"/a\n"))
            .encode(None, Eol::Crlf)
            .is_err());
    }
}
