//! Command names, framings and the command-text parser (CLAMD-PARSE-*).

use std::fmt;

/// How a command is delimited (CLAMD-FRAME-1..3) and so which terminator its replies use
/// (CLAMD-FRAME-4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Framing {
    /// `z<cmd>\0` (CLAMD-FRAME-1); replies end in `\0`.
    Z,
    /// `n<cmd>\n` (CLAMD-FRAME-2); replies end in `\n`.
    N,
    /// Anything else: one read = one command (CLAMD-FRAME-3); replies end in `\n`.
    Legacy,
}

impl Framing {
    /// The reply terminator `<t>` for commands in this framing (CLAMD-FRAME-4).
    pub fn terminator(self) -> u8 {
        match self {
            Framing::Z => b'\0',
            Framing::N | Framing::Legacy => b'\n',
        }
    }

    /// Short lower-case name (`z`, `n`, `legacy`).
    pub fn name(self) -> &'static str {
        match self {
            Framing::Z => "z",
            Framing::N => "n",
            Framing::Legacy => "legacy",
        }
    }
}

impl fmt::Display for Framing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The names of the clamd parse table, in clamd's matching order (CLAMD-PARSE-2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CommandName {
    /// `SCAN <path>`
    Scan,
    /// `QUIT` (= SHUTDOWN, CLAMD-CMD-5)
    Quit,
    /// `RELOAD`
    Reload,
    /// `PING`
    Ping,
    /// `CONTSCAN <path>`
    ContScan,
    /// `VERSIONCOMMANDS`
    VersionCommands,
    /// `VERSION`
    Version,
    /// `END`
    End,
    /// `SHUTDOWN`
    Shutdown,
    /// `MULTISCAN <path>`
    MultiScan,
    /// `FILDES`
    Fildes,
    /// `STATS`
    Stats,
    /// `IDSESSION`
    IdSession,
    /// `INSTREAM`
    Instream,
    /// `DETSTATSCLEAR`
    DetStatsClear,
    /// `DETSTATS`
    DetStats,
    /// `ALLMATCHSCAN <path>`
    AllMatchScan,
}

/// CLAMD-PARSE-2: the parse table in matching order (first prefix match wins). This order is
/// also the order of names in the VERSIONCOMMANDS reply (CLAMD-CMD-3).
pub const COMMAND_TABLE: [CommandName; 17] = [
    CommandName::Scan,
    CommandName::Quit,
    CommandName::Reload,
    CommandName::Ping,
    CommandName::ContScan,
    CommandName::VersionCommands,
    CommandName::Version,
    CommandName::End,
    CommandName::Shutdown,
    CommandName::MultiScan,
    CommandName::Fildes,
    CommandName::Stats,
    CommandName::IdSession,
    CommandName::Instream,
    CommandName::DetStatsClear,
    CommandName::DetStats,
    CommandName::AllMatchScan,
];

impl CommandName {
    /// The exact upper-case wire name (CLAMD-PARSE-1).
    pub fn as_str(self) -> &'static str {
        match self {
            CommandName::Scan => "SCAN",
            CommandName::Quit => "QUIT",
            CommandName::Reload => "RELOAD",
            CommandName::Ping => "PING",
            CommandName::ContScan => "CONTSCAN",
            CommandName::VersionCommands => "VERSIONCOMMANDS",
            CommandName::Version => "VERSION",
            CommandName::End => "END",
            CommandName::Shutdown => "SHUTDOWN",
            CommandName::MultiScan => "MULTISCAN",
            CommandName::Fildes => "FILDES",
            CommandName::Stats => "STATS",
            CommandName::IdSession => "IDSESSION",
            CommandName::Instream => "INSTREAM",
            CommandName::DetStatsClear => "DETSTATSCLEAR",
            CommandName::DetStats => "DETSTATS",
            CommandName::AllMatchScan => "ALLMATCHSCAN",
        }
    }

    /// Whether the command takes a path argument (CLAMD-PARSE-3/4).
    pub fn takes_path(self) -> bool {
        matches!(
            self,
            CommandName::Scan
                | CommandName::ContScan
                | CommandName::MultiScan
                | CommandName::AllMatchScan
        )
    }

    /// Whether legacy (unprefixed) framing is accepted (section 4 table, CLAMD-FRAME-5).
    pub fn legacy_allowed(self) -> bool {
        !matches!(
            self,
            CommandName::VersionCommands
                | CommandName::Stats
                | CommandName::IdSession
                | CommandName::Instream
                | CommandName::AllMatchScan
                | CommandName::End
        )
    }

    /// Whether the command is allowed inside IDSESSION (CLAMD-SESSION-2).
    pub fn allowed_in_session(self) -> bool {
        matches!(
            self,
            CommandName::Ping
                | CommandName::Version
                | CommandName::VersionCommands
                | CommandName::Stats
                | CommandName::Scan
                | CommandName::Instream
                | CommandName::Fildes
                | CommandName::End
        )
    }
}

impl fmt::Display for CommandName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A parsed command.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Command {
    /// `SCAN <path>`: path bytes verbatim (CLAMD-PARSE-4).
    Scan(Vec<u8>),
    /// `QUIT`
    Quit,
    /// `RELOAD`
    Reload,
    /// `PING`
    Ping,
    /// `CONTSCAN <path>`
    ContScan(Vec<u8>),
    /// `VERSIONCOMMANDS`
    VersionCommands,
    /// `VERSION`
    Version,
    /// `END`
    End,
    /// `SHUTDOWN`
    Shutdown,
    /// `MULTISCAN <path>`
    MultiScan(Vec<u8>),
    /// `FILDES` (the extra byte after the terminator has been consumed, CLAMD-FILDES-1)
    Fildes,
    /// `STATS`
    Stats,
    /// `IDSESSION`
    IdSession,
    /// `INSTREAM` (chunks follow; see [`crate::instream`])
    Instream,
    /// `DETSTATSCLEAR`
    DetStatsClear,
    /// `DETSTATS`
    DetStats,
    /// `ALLMATCHSCAN <path>`
    AllMatchScan(Vec<u8>),
    /// Unknown, malformed, or not allowed in legacy framing (CLAMD-CMD-9, CLAMD-FRAME-5).
    Unknown,
}

impl Command {
    /// The table name, or `None` for [`Command::Unknown`].
    pub fn name(&self) -> Option<CommandName> {
        Some(match self {
            Command::Scan(_) => CommandName::Scan,
            Command::Quit => CommandName::Quit,
            Command::Reload => CommandName::Reload,
            Command::Ping => CommandName::Ping,
            Command::ContScan(_) => CommandName::ContScan,
            Command::VersionCommands => CommandName::VersionCommands,
            Command::Version => CommandName::Version,
            Command::End => CommandName::End,
            Command::Shutdown => CommandName::Shutdown,
            Command::MultiScan(_) => CommandName::MultiScan,
            Command::Fildes => CommandName::Fildes,
            Command::Stats => CommandName::Stats,
            Command::IdSession => CommandName::IdSession,
            Command::Instream => CommandName::Instream,
            Command::DetStatsClear => CommandName::DetStatsClear,
            Command::DetStats => CommandName::DetStats,
            Command::AllMatchScan(_) => CommandName::AllMatchScan,
            Command::Unknown => return None,
        })
    }

    /// The path argument of a SCAN-family command.
    pub fn path(&self) -> Option<&[u8]> {
        match self {
            Command::Scan(p)
            | Command::ContScan(p)
            | Command::MultiScan(p)
            | Command::AllMatchScan(p) => Some(p),
            _ => None,
        }
    }

    fn from_name(name: CommandName, arg: Vec<u8>) -> Command {
        match name {
            CommandName::Scan => Command::Scan(arg),
            CommandName::Quit => Command::Quit,
            CommandName::Reload => Command::Reload,
            CommandName::Ping => Command::Ping,
            CommandName::ContScan => Command::ContScan(arg),
            CommandName::VersionCommands => Command::VersionCommands,
            CommandName::Version => Command::Version,
            CommandName::End => Command::End,
            CommandName::Shutdown => Command::Shutdown,
            CommandName::MultiScan => Command::MultiScan(arg),
            CommandName::Fildes => Command::Fildes,
            CommandName::Stats => Command::Stats,
            CommandName::IdSession => Command::IdSession,
            CommandName::Instream => Command::Instream,
            CommandName::DetStatsClear => Command::DetStatsClear,
            CommandName::DetStats => Command::DetStats,
            CommandName::AllMatchScan => Command::AllMatchScan(arg),
        }
    }
}

/// Parse a command text (the bytes after the mode marker, terminator and chomping already
/// removed) the way clamd's `parse_command` does:
///
/// * clamd works on C strings, so the text ends at its first `\0` (CLAMD-FRAME-10: raw bytes);
/// * names match by prefix in [`COMMAND_TABLE`] order, case-sensitively (CLAMD-PARSE-1/2);
/// * a name without argument must be the whole text (CLAMD-PARSE-3);
/// * a name with argument must be followed by at least one byte; exactly one byte is skipped,
///   whatever it is, and the rest is the path verbatim (CLAMD-PARSE-4);
/// * in legacy framing, names not marked "legacy: yes" are unknown (CLAMD-FRAME-5).
pub fn parse_command(text: &[u8], framing: Framing) -> Command {
    let text = match memchr::memchr(0, text) {
        Some(i) => &text[..i],
        None => text,
    };
    for name in COMMAND_TABLE {
        let n = name.as_str().as_bytes();
        if !text.starts_with(n) {
            continue;
        }
        let rest = &text[n.len()..];
        let arg = if name.takes_path() {
            match rest.split_first() {
                // CLAMD-PARSE-4: missing argument
                None => return Command::Unknown,
                // CLAMD-PARSE-4: skip exactly one byte, whatever it is
                Some((_skipped, path)) => path.to_vec(),
            }
        } else {
            if !rest.is_empty() {
                // CLAMD-PARSE-3: trailing garbage
                return Command::Unknown;
            }
            Vec::new()
        };
        if framing == Framing::Legacy && !name.legacy_allowed() {
            // CLAMD-FRAME-5
            return Command::Unknown;
        }
        return Command::from_name(name, arg);
    }
    Command::Unknown
}

/// clamd's `cli_chomp`: remove all trailing `\r` and `\n` bytes (CLAMD-FRAME-2/3).
pub fn chomp(mut s: &[u8]) -> &[u8] {
    while let Some((&last, rest)) = s.split_last() {
        if last == b'\r' || last == b'\n' {
            s = rest;
        } else {
            break;
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// CLAMD-PARSE-1.
    #[test]
    fn clamd_parse_1_case_sensitive() {
        assert_eq!(parse_command(b"ping", Framing::Z), Command::Unknown);
        assert_eq!(parse_command(b"PING", Framing::Z), Command::Ping);
    }

    /// CLAMD-PARSE-2.
    #[test]
    fn clamd_parse_2_prefix_order() {
        assert_eq!(
            parse_command(b"VERSIONCOMMANDS", Framing::Z),
            Command::VersionCommands
        );
        assert_eq!(parse_command(b"VERSION", Framing::Z), Command::Version);
        assert_eq!(
            parse_command(b"DETSTATSCLEAR", Framing::Z),
            Command::DetStatsClear
        );
        assert_eq!(parse_command(b"DETSTATS", Framing::Z), Command::DetStats);
        // SCAN is tried first: "SCANX/x" scans "/x"
        assert_eq!(
            parse_command(b"SCANX/x", Framing::Z),
            Command::Scan(b"/x".to_vec())
        );
        assert_eq!(parse_command(b"STREAM", Framing::Z), Command::Unknown);
        assert_eq!(
            parse_command(b"GET / HTTP/1.1", Framing::Legacy),
            Command::Unknown
        );
    }

    /// CLAMD-PARSE-3.
    #[test]
    fn clamd_parse_3_no_trailing_bytes() {
        for t in [
            &b"PING foo"[..],
            b"PING\t",
            b"PINGX",
            b"VERSIONCOMMANDSX",
            b"PIN",
            b"PING\r",
            b"PING ",
        ] {
            assert_eq!(parse_command(t, Framing::Z), Command::Unknown, "{t:?}");
        }
    }

    /// CLAMD-PARSE-4.
    #[test]
    fn clamd_parse_4_skip_exactly_one_byte() {
        for (line, framing, want) in [
            (&b"SCAN"[..], Framing::Z, Command::Unknown),
            (b"SCAN ", Framing::Z, Command::Scan(Vec::new())),
            (b"SCAN  /x", Framing::Z, Command::Scan(b" /x".to_vec())),
            (b"SCAN\t/x", Framing::Z, Command::Scan(b"/x".to_vec())),
            (
                b"CONTSCAN /a b ",
                Framing::N,
                Command::ContScan(b"/a b ".to_vec()),
            ),
            (
                b"MULTISCAN /m",
                Framing::Legacy,
                Command::MultiScan(b"/m".to_vec()),
            ),
        ] {
            assert_eq!(
                parse_command(line, framing),
                want,
                "CLAMD-PARSE-4: {line:?}"
            );
        }
    }

    /// CLAMD-FRAME-5.
    #[test]
    fn clamd_frame_5_legacy_only_for_some() {
        for t in [
            &b"VERSIONCOMMANDS"[..],
            b"STATS",
            b"IDSESSION",
            b"INSTREAM",
            b"ALLMATCHSCAN /x",
            b"END",
        ] {
            assert_eq!(parse_command(t, Framing::Legacy), Command::Unknown, "{t:?}");
        }
        for t in [
            &b"PING"[..],
            b"VERSION",
            b"RELOAD",
            b"SHUTDOWN",
            b"QUIT",
            b"DETSTATS",
            b"FILDES",
            b"SCAN /x",
        ] {
            assert_ne!(parse_command(t, Framing::Legacy), Command::Unknown, "{t:?}");
        }
    }

    /// CLAMD-FRAME-10.
    #[test]
    fn clamd_frame_10_c_string_semantics() {
        assert_eq!(parse_command(b"PING\0junk", Framing::N), Command::Ping);
        assert_eq!(
            parse_command(b"SCAN /a\0b", Framing::N),
            Command::Scan(b"/a".to_vec())
        );
    }

    #[test]
    fn chomp_removes_all_trailing_cr_lf() {
        assert_eq!(chomp(b"PING\r\n\r\n"), b"PING");
        assert_eq!(chomp(b"\r\n"), b"");
        assert_eq!(chomp(b"A\rB\n"), b"A\rB");
    }
}
