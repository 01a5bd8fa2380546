//! Server side: the reply encoder. Every exact clamd 1.4 reply text is defined here, once,
//! with its rule ID (CLAMD-REPLY-1/2, section 7.1).
//!
//! A reply record is `[<id>": "] [<subject>": "] <body> <t>` (CLAMD-REPLY-1). Build the
//! context once per command with [`ReplyCtx`] (terminator from the command's framing, session
//! number if inside IDSESSION) and call the function for the reply you need.

use crate::command::{CommandName, Framing, COMMAND_TABLE};

/// CLAMD-CMD-1
pub const PONG: &str = "PONG";
/// CLAMD-CMD-4
pub const RELOADING: &str = "RELOADING";
/// CLAMD-CMD-9, CLAMD-CMD-8, CLAMD-FRAME-5 (no ERROR suffix)
pub const UNKNOWN_COMMAND: &str = "UNKNOWN COMMAND";
/// CLAMD-TIME-3: always ends in `\n`, never numbered, whatever the framing.
pub const COMMAND_READ_TIMED_OUT: &[u8] = b"COMMAND READ TIMED OUT\n";
/// CLAMD-INSTREAM-5 (message before ` ERROR`)
pub const INSTREAM_SIZE_LIMIT_EXCEEDED: &str = "INSTREAM size limit exceeded.";
/// CLAMD-FILDES-3
pub const NO_FILE_DESCRIPTOR_RECEIVED: &str = "No file descriptor received.";
/// CLAMD-SESSION-5
pub const COMMAND_INVALID_INSIDE_IDSESSION: &str = "Command invalid inside IDSESSION.";
/// CLAMD-SESSION-6: the `\n` and `\0` are the literal two-character texts (bytes 5C 6E, 5C 30).
pub const ONLY_NEW_STYLE_INSIDE_IDSESSION: &str =
    "Only nCMDS\\n and zCMDS\\0 are accepted inside IDSESSION.";
/// CLAMD-SESSION-6, CLAMD-CONN-3
pub const ERROR_PROCESSING_COMMAND: &str = "Error processing command.";
/// CLAMD-FILDES-4
pub const ANCILLARY_WITHOUT_FILDES: &str = "PROTOCOL ERROR: ancillary data sent without FILDES.";
/// CLAMD-INSTREAM-10 (no period)
pub const ERROR_WRITING_TEMPORARY_FILE: &str = "Error writing to temporary file";
/// CLAMD-REPLY-2
pub const FILDES_NOT_COMPILED: &str = "FILDES support not compiled in.";
/// CLAMD-REPLY-1: the suffix of error bodies.
pub const ERROR: &str = "ERROR";
/// CLAMD-REPLY-1: the suffix of detection bodies.
pub const FOUND: &str = "FOUND";
/// CLAMD-REPLY-1: clean body.
pub const OK: &str = "OK";
/// CLAMD-INSTREAM-3: the subject of INSTREAM replies.
pub const STREAM_SUBJECT: &str = "stream";
/// Section 7.1: path check failure (followed by `<strerror>.`).
pub const FILE_PATH_CHECK_FAILURE: &str = "File path check failure:";
/// Section 7.1 / CLAMD-SCAN-12: open failed with EACCES.
pub const ACCESS_DENIED: &str = "Access denied.";
/// Section 7.1 / CLAMD-SCAN-3: fifo, device, socket (no period).
pub const NOT_SUPPORTED_FILE_TYPE: &str = "Not supported file type";
/// Section 7.1 / CLAMD-SCAN-11: ExcludePath (no ERROR suffix).
pub const EXCLUDED: &str = "Excluded";
/// Section 7.1: CrossFilesystems no (no ERROR suffix).
pub const EXCLUDED_OTHER_FS: &str = "Excluded (another filesystem)";
/// Section 7.1 / CLAMD-SCAN-9
pub const ALLMATCHSCAN_DISABLED: &str = "ALLMATCHSCAN command disabled by clamd configuration.";
/// Section 7.1 / CLAMD-SCAN-8
pub const NOT_ENOUGH_THREADS: &str = "Not enough threads for multiscan. Increase MaxThreads.";
/// CLAMD-FILDES-2
pub const NOT_A_REGULAR_FILE: &str = "Not a regular file";
/// CLAMD-CMD-3: separator between the version text and the command list.
pub const COMMANDS_SEPARATOR: &str = "| COMMANDS:";

/// The bodies after which clamd closes the connection, ending any session (CLAMD-REPLY-2
/// "close" column): CLAMD-INSTREAM-5, CLAMD-CMD-9, CLAMD-TIME-3, CLAMD-SESSION-5/6,
/// CLAMD-CONN-3, CLAMD-FILDES-3/4, CLAMD-INSTREAM-10. Clients and checks that must tell a
/// closing error from a per-file result (CLAMD-REPLY-4) use this list, not copies of it.
pub const CLOSING_TEXTS: &[&str] = &[
    INSTREAM_SIZE_LIMIT_EXCEEDED,
    UNKNOWN_COMMAND,
    "COMMAND READ TIMED OUT",
    COMMAND_INVALID_INSIDE_IDSESSION,
    ONLY_NEW_STYLE_INSIDE_IDSESSION,
    ERROR_PROCESSING_COMMAND,
    NO_FILE_DESCRIPTOR_RECEIVED,
    ANCILLARY_WITHOUT_FILDES,
    ERROR_WRITING_TEMPORARY_FILE,
    FILDES_NOT_COMPILED,
    "ENGINE VERSION MISMATCH",
];

/// Whether a reply body (session id and terminator removed) is one of [`CLOSING_TEXTS`]
/// (with or without its final period and ` ERROR`).
pub fn is_closing_text(body: &str) -> bool {
    CLOSING_TEXTS
        .iter()
        .any(|t| body.contains(t.trim_end_matches('.')))
}
/// CLAMD-CMD-2 [F]: default version text of the fake (matches the oracle, no DB part).
pub const DEFAULT_VERSION: &str = "ClamAV 1.4.6";

/// Where a reply goes: the command's terminator and, inside IDSESSION, its number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplyCtx {
    /// CLAMD-SESSION-3: the command number inside a session.
    pub session_id: Option<u64>,
    /// CLAMD-FRAME-4: `\0` or `\n`.
    pub term: u8,
}

impl ReplyCtx {
    /// Outside a session.
    pub fn new(framing: Framing) -> Self {
        ReplyCtx {
            session_id: None,
            term: framing.terminator(),
        }
    }

    /// Command number `id` inside IDSESSION.
    pub fn session(id: u64, framing: Framing) -> Self {
        ReplyCtx {
            session_id: Some(id),
            term: framing.terminator(),
        }
    }

    fn start(&self, out: &mut Vec<u8>) {
        if let Some(id) = self.session_id {
            // CLAMD-SESSION-3: "<id>: ", decimal, no padding
            out.extend_from_slice(id.to_string().as_bytes());
            out.extend_from_slice(b": ");
        }
    }

    fn fixed(&self, body: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        self.start(&mut out);
        for part in body {
            out.extend_from_slice(part);
        }
        out.push(self.term);
        out
    }
}

/// The subject of a scan reply (CLAMD-REPLY-1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject<'a> {
    /// A path, exactly as sent or as built by the walk (CLAMD-SCAN-1/2).
    Path(&'a [u8]),
    /// `stream` (CLAMD-INSTREAM-3).
    Stream,
    /// `fd[<n>]` with the server's descriptor number (CLAMD-FILDES-2).
    Fd(i64),
}

impl Subject<'_> {
    /// The subject bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            Subject::Path(p) => p.to_vec(),
            Subject::Stream => STREAM_SUBJECT.as_bytes().to_vec(),
            Subject::Fd(n) => format!("fd[{n}]").into_bytes(),
        }
    }
}

/// `PONG<t>` (CLAMD-CMD-1).
pub fn pong(ctx: ReplyCtx) -> Vec<u8> {
    ctx.fixed(&[PONG.as_bytes()])
}

/// `RELOADING<t>` (CLAMD-CMD-4).
pub fn reloading(ctx: ReplyCtx) -> Vec<u8> {
    ctx.fixed(&[RELOADING.as_bytes()])
}

/// `UNKNOWN COMMAND<t>` (CLAMD-CMD-9).
pub fn unknown_command(ctx: ReplyCtx) -> Vec<u8> {
    ctx.fixed(&[UNKNOWN_COMMAND.as_bytes()])
}

/// `COMMAND READ TIMED OUT\n` (CLAMD-TIME-3).
pub fn timed_out() -> Vec<u8> {
    COMMAND_READ_TIMED_OUT.to_vec()
}

/// `<version><t>` (CLAMD-CMD-2), e.g. `ClamAV 1.4.6`.
pub fn version(ctx: ReplyCtx, version_text: &str) -> Vec<u8> {
    ctx.fixed(&[version_text.as_bytes()])
}

/// Build a VERSION text: `ClamAV <engine>` or `ClamAV <engine>/<dbver>/<dbtime>` (CLAMD-CMD-2).
pub fn version_text(engine: &str, db: Option<(u64, &str)>) -> String {
    match db {
        Some((ver, time)) => format!("ClamAV {engine}/{ver}/{time}"),
        None => format!("ClamAV {engine}"),
    }
}

/// `<version>| COMMANDS: SCAN QUIT ... ALLMATCHSCAN<t>` (CLAMD-CMD-3).
pub fn version_commands(ctx: ReplyCtx, version_text: &str) -> Vec<u8> {
    let mut body = String::from(version_text);
    body.push_str(COMMANDS_SEPARATOR);
    for name in COMMAND_TABLE {
        body.push(' ');
        body.push_str(CommandName::as_str(name));
    }
    ctx.fixed(&[body.as_bytes()])
}

/// Values shown by STATS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatsInfo {
    /// `MaxThreads`.
    pub max_threads: u64,
    /// `IdleTimeout` (seconds).
    pub idle_timeout: u64,
}

/// CLAMD-CMD-7 [F]: the fixed STATS shape of the fake; the prefix `<id>: ` once, internal
/// lines end in `\n`, only the final terminator follows `END`.
pub fn stats(ctx: ReplyCtx, info: &StatsInfo) -> Vec<u8> {
    let body = format!(
        "POOLS: 1\n\nSTATE: VALID PRIMARY\nTHREADS: live 1  idle 0 max {} idle-timeout {}\nQUEUE: 0 items\n\tSTATS 0.000005 \n\nMEMSTATS: heap N/A mmap N/A used N/A free N/A releasable N/A pools 1 pools_used 5.884M pools_total 5.964M\nEND",
        info.max_threads, info.idle_timeout
    );
    ctx.fixed(&[body.as_bytes()])
}

/// `<message> ERROR<t>` without subject (CLAMD-REPLY-2 fixed errors).
pub fn plain_error(ctx: ReplyCtx, message: &str) -> Vec<u8> {
    ctx.fixed(&[message.as_bytes(), b" ", ERROR.as_bytes()])
}

/// `INSTREAM size limit exceeded. ERROR<t>` (CLAMD-INSTREAM-5).
pub fn size_limit_exceeded(ctx: ReplyCtx) -> Vec<u8> {
    plain_error(ctx, INSTREAM_SIZE_LIMIT_EXCEEDED)
}

/// `No file descriptor received. ERROR<t>` (CLAMD-FILDES-3).
pub fn no_fd_received(ctx: ReplyCtx) -> Vec<u8> {
    plain_error(ctx, NO_FILE_DESCRIPTOR_RECEIVED)
}

/// `Command invalid inside IDSESSION. ERROR<t>` (CLAMD-SESSION-5).
pub fn invalid_inside_session(ctx: ReplyCtx) -> Vec<u8> {
    plain_error(ctx, COMMAND_INVALID_INSIDE_IDSESSION)
}

/// The two records of CLAMD-SESSION-6 (same number, previous command's terminator).
pub fn only_new_style_inside_session(ctx: ReplyCtx) -> Vec<u8> {
    let mut out = plain_error(ctx, ONLY_NEW_STYLE_INSIDE_IDSESSION);
    out.extend_from_slice(&plain_error(ctx, ERROR_PROCESSING_COMMAND));
    out
}

/// `Error processing command. ERROR<t>` (CLAMD-CONN-3, CLAMD-SESSION-6).
pub fn error_processing_command(ctx: ReplyCtx) -> Vec<u8> {
    plain_error(ctx, ERROR_PROCESSING_COMMAND)
}

/// `PROTOCOL ERROR: ancillary data sent without FILDES. ERROR<t>` (CLAMD-FILDES-4).
pub fn ancillary_without_fildes(ctx: ReplyCtx) -> Vec<u8> {
    plain_error(ctx, ANCILLARY_WITHOUT_FILDES)
}

/// `Error writing to temporary file ERROR<t>` (CLAMD-INSTREAM-10).
pub fn error_writing_temp(ctx: ReplyCtx) -> Vec<u8> {
    plain_error(ctx, ERROR_WRITING_TEMPORARY_FILE)
}

/// `<subject>: OK<t>` (CLAMD-REPLY-1, `"%s: %s%c"`).
pub fn ok(ctx: ReplyCtx, subject: Subject<'_>) -> Vec<u8> {
    ctx.fixed(&[&subject.to_bytes(), b": ", OK.as_bytes()])
}

/// `<subject>: <virname> FOUND<t>` (CLAMD-REPLY-1, `"%s: %s FOUND%c"`).
pub fn found(ctx: ReplyCtx, subject: Subject<'_>, virname: &str) -> Vec<u8> {
    ctx.fixed(&[
        &subject.to_bytes(),
        b": ",
        virname.as_bytes(),
        b" ",
        FOUND.as_bytes(),
    ])
}

/// `<subject>: <message> ERROR<t>` (CLAMD-REPLY-1, `"%s: %s %s%c"`).
pub fn error(ctx: ReplyCtx, subject: Subject<'_>, message: &str) -> Vec<u8> {
    ctx.fixed(&[
        &subject.to_bytes(),
        b": ",
        message.as_bytes(),
        b" ",
        ERROR.as_bytes(),
    ])
}

/// `<path>: File path check failure: <strerror>. ERROR<t>` (section 7.1). `strerror` is the
/// C library text without the period (`No such file or directory`).
pub fn path_check_failure(ctx: ReplyCtx, path: &[u8], strerror: &str) -> Vec<u8> {
    error(
        ctx,
        Subject::Path(path),
        &format!("{FILE_PATH_CHECK_FAILURE} {strerror}."),
    )
}

/// `<file>: Access denied. ERROR<t>` (section 7.1).
pub fn access_denied(ctx: ReplyCtx, path: &[u8]) -> Vec<u8> {
    error(ctx, Subject::Path(path), ACCESS_DENIED)
}

/// `<path>: Not supported file type ERROR<t>` (section 7.1).
pub fn not_supported_file_type(ctx: ReplyCtx, path: &[u8]) -> Vec<u8> {
    error(ctx, Subject::Path(path), NOT_SUPPORTED_FILE_TYPE)
}

/// `<file>: Excluded<t>` (section 7.1, CLAMD-SCAN-11).
pub fn excluded(ctx: ReplyCtx, path: &[u8]) -> Vec<u8> {
    ctx.fixed(&[path, b": ", EXCLUDED.as_bytes()])
}

/// `<file>: Excluded (another filesystem)<t>` (section 7.1).
pub fn excluded_other_fs(ctx: ReplyCtx, path: &[u8]) -> Vec<u8> {
    ctx.fixed(&[path, b": ", EXCLUDED_OTHER_FS.as_bytes()])
}

/// `<path>: ALLMATCHSCAN command disabled by clamd configuration. ERROR<t>` (CLAMD-SCAN-9).
pub fn allmatch_disabled(ctx: ReplyCtx, path: &[u8]) -> Vec<u8> {
    error(ctx, Subject::Path(path), ALLMATCHSCAN_DISABLED)
}

/// `<path>: Not enough threads for multiscan. Increase MaxThreads. ERROR<t>` (CLAMD-SCAN-8).
pub fn not_enough_threads(ctx: ReplyCtx, path: &[u8]) -> Vec<u8> {
    error(ctx, Subject::Path(path), NOT_ENOUGH_THREADS)
}

/// `fd[<n>]: Not a regular file ERROR<t>` (CLAMD-FILDES-2).
pub fn fd_not_regular(ctx: ReplyCtx, fd: i64) -> Vec<u8> {
    error(ctx, Subject::Fd(fd), NOT_A_REGULAR_FILE)
}

#[cfg(test)]
mod tests {
    use super::*;

    const Z: ReplyCtx = ReplyCtx {
        session_id: None,
        term: 0,
    };
    const N: ReplyCtx = ReplyCtx {
        session_id: None,
        term: b'\n',
    };

    /// CLAMD-CMD-1.
    #[test]
    fn clamd_cmd_1_pong() {
        assert_eq!(pong(Z), b"PONG\0");
        assert_eq!(pong(N), b"PONG\n");
        assert_eq!(pong(ReplyCtx::session(1, Framing::Z)), b"1: PONG\0");
    }

    /// CLAMD-CMD-3.
    #[test]
    fn clamd_cmd_3_versioncommands_exact() {
        assert_eq!(
            version_commands(Z, DEFAULT_VERSION),
            b"ClamAV 1.4.6| COMMANDS: SCAN QUIT RELOAD PING CONTSCAN VERSIONCOMMANDS VERSION END SHUTDOWN MULTISCAN FILDES STATS IDSESSION INSTREAM DETSTATSCLEAR DETSTATS ALLMATCHSCAN\0"
        );
    }

    /// CLAMD-CMD-2.
    #[test]
    fn clamd_cmd_2_version_text() {
        assert_eq!(version_text("1.4.6", None), "ClamAV 1.4.6");
        assert_eq!(
            version_text("1.4.6", Some((27830, "Sun Nov 22 09:26:02 2026"))),
            "ClamAV 1.4.6/27830/Sun Nov 22 09:26:02 2026"
        );
        assert_eq!(version(N, "ClamAV 1.4.6"), b"ClamAV 1.4.6\n");
    }

    /// CLAMD-CMD-7.
    #[test]
    fn clamd_cmd_7_stats_shape() {
        let s = stats(
            Z,
            &StatsInfo {
                max_threads: 10,
                idle_timeout: 5,
            },
        );
        assert!(s.starts_with(
            b"POOLS: 1\n\nSTATE: VALID PRIMARY\nTHREADS: live 1  idle 0 max 10 idle-timeout 5\n"
        ));
        assert!(s.ends_with(b"\nEND\0"));
        assert_eq!(s.iter().filter(|&&b| b == 0).count(), 1);
        let s = stats(
            ReplyCtx::session(3, Framing::N),
            &StatsInfo {
                max_threads: 2,
                idle_timeout: 30,
            },
        );
        assert!(s.starts_with(b"3: POOLS: 1\n"));
        assert!(s.ends_with(b"\nEND\n"));
    }

    /// CLAMD-TIME-3.
    #[test]
    fn clamd_time_3_timeout_always_newline() {
        assert_eq!(timed_out(), b"COMMAND READ TIMED OUT\n");
    }

    /// CLAMD-INSTREAM-5.
    #[test]
    fn clamd_instream_5_size_limit() {
        assert_eq!(
            size_limit_exceeded(Z),
            b"INSTREAM size limit exceeded. ERROR\0"
        );
        assert_eq!(
            size_limit_exceeded(ReplyCtx::session(2, Framing::Z)),
            b"2: INSTREAM size limit exceeded. ERROR\0"
        );
    }

    /// CLAMD-SESSION-6.
    #[test]
    fn clamd_session_6_literal_backslashes() {
        let r = only_new_style_inside_session(ReplyCtx::session(2, Framing::Z));
        assert_eq!(
            r,
            b"2: Only nCMDS\\n and zCMDS\\0 are accepted inside IDSESSION. ERROR\x002: Error processing command. ERROR\0".to_vec()
        );
    }

    /// CLAMD-REPLY-1.
    #[test]
    fn clamd_reply_1_scan_lines() {
        assert_eq!(ok(Z, Subject::Path(b"/c/x")), b"/c/x: OK\0");
        assert_eq!(ok(N, Subject::Stream), b"stream: OK\n");
        assert_eq!(
            found(Z, Subject::Fd(11), "Win.Test.EICAR_HDB-1.UNOFFICIAL"),
            b"fd[11]: Win.Test.EICAR_HDB-1.UNOFFICIAL FOUND\0"
        );
        assert_eq!(
            path_check_failure(Z, b"", "No such file or directory"),
            b": File path check failure: No such file or directory. ERROR\0"
        );
        assert_eq!(access_denied(Z, b"/c/u"), b"/c/u: Access denied. ERROR\0");
        assert_eq!(
            not_supported_file_type(Z, b"/c/fifo"),
            b"/c/fifo: Not supported file type ERROR\0"
        );
        assert_eq!(excluded(N, b"/x"), b"/x: Excluded\n");
        assert_eq!(fd_not_regular(Z, 12), b"fd[12]: Not a regular file ERROR\0");
        assert_eq!(
            no_fd_received(ReplyCtx::session(1, Framing::Z)),
            b"1: No file descriptor received. ERROR\0"
        );
        assert_eq!(
            invalid_inside_session(ReplyCtx::session(2, Framing::Z)),
            b"2: Command invalid inside IDSESSION. ERROR\0"
        );
        assert_eq!(unknown_command(N), b"UNKNOWN COMMAND\n");
        assert_eq!(reloading(Z), b"RELOADING\0");
        assert_eq!(
            error_writing_temp(Z),
            b"Error writing to temporary file ERROR\0"
        );
        assert_eq!(
            ancillary_without_fildes(ReplyCtx::session(1, Framing::Z)),
            b"1: PROTOCOL ERROR: ancillary data sent without FILDES. ERROR\0"
        );
    }
}
