//! The typed configuration of the fake: clamd.conf directives that shape the wire
//! (CLAMD-CONF-3) with clamd 1.4's defaults, plus switches of the fake only ([F]).

use std::path::PathBuf;
use std::time::Duration;

use crate::conf::ClamdConf;
use crate::Error;

/// What happens after `INSTREAM size limit exceeded` (CLAMD-INSTREAM-8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StreamLimitMode {
    /// Like clamd: send the reply and close at once, with the client's unread data pending
    /// (the kernel may answer with RST; the outcome is racy, as with clamd).
    #[default]
    Faithful,
    /// Send the reply, half-close (FIN) at once, then discard input until the client closes
    /// or 1 s passes: the client deterministically reads the reply then EOF.
    Close,
    /// Send the reply, read and discard input until the client closes or 1 s passes, then
    /// close (CLAMD-INSTREAM-8 `limit=reply-drain`).
    ReplyDrain,
    /// No reply: abort the connection with RST (`SO_LINGER {1, 0}`).
    Reset,
}

impl std::str::FromStr for StreamLimitMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "faithful" => Ok(Self::Faithful),
            "close" => Ok(Self::Close),
            "reply-drain" => Ok(Self::ReplyDrain),
            "reset" => Ok(Self::Reset),
            _ => Err(format!(
                "unknown stream limit mode {s:?} (faithful, close, reply-drain, reset)"
            )),
        }
    }
}

/// Order of scan replies inside IDSESSION (CLAMD-SESSION-4 [F]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SessionOrder {
    /// What clamd 1.4.6 does when its workers are slower than its reading thread (observed
    /// outcome of its race, CLAMD-SESSION-4/5/7): PING, VERSION, VERSIONCOMMANDS and STATS
    /// are answered when read; scan replies (SCAN, INSTREAM, FILDES) follow the immediate
    /// replies of the same read; a rejected command or closing error closes at once and the
    /// scan replies not yet sent are lost; bytes after END while scans are pending get
    /// `Error processing command. ERROR` and the connection is held open.
    #[default]
    Clamd,
    /// Scan replies in arrival order, sent as soon as ready.
    Arrival,
    /// Scan replies (SCAN, INSTREAM, FILDES) held back and sent in reverse order at END;
    /// PING/VERSION/VERSIONCOMMANDS/STATS are answered at once.
    Reverse,
    /// Like `Reverse` but shuffled so that no scan reply keeps its arrival position (a
    /// client that pairs replies by position always fails); from
    /// [`FakeOptions::session_seed`] when set, so a run can be replayed.
    Random,
}

impl SessionOrder {
    /// Puts the scan replies held until END in this order's sequence (CLAMD-SESSION-4 [F]).
    /// `Clamd` and `Arrival` keep them as they are.
    pub fn reorder<T>(self, held: &mut [T], seed: Option<u64>) {
        use rand::{Rng, SeedableRng};
        match self {
            Self::Clamd | Self::Arrival => {}
            Self::Reverse => held.reverse(),
            Self::Random => {
                let mut rng = match seed {
                    Some(s) => rand::rngs::StdRng::seed_from_u64(s),
                    None => rand::rngs::StdRng::from_entropy(),
                };
                // Sattolo's shuffle: a random cyclic permutation, so no element stays put.
                for i in (1..held.len()).rev() {
                    held.swap(i, rng.gen_range(0..i));
                }
            }
        }
    }
}

impl std::str::FromStr for SessionOrder {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "clamd" => Ok(Self::Clamd),
            "arrival" => Ok(Self::Arrival),
            "reverse" => Ok(Self::Reverse),
            "random" => Ok(Self::Random),
            _ => Err(format!(
                "unknown session order {s:?} (clamd, arrival, reverse, random)"
            )),
        }
    }
}

/// Switches of the fake that clamd does not have.
#[derive(Debug, Clone)]
pub struct FakeOptions {
    /// VERSION text (CLAMD-CMD-2), default `ClamAV 1.4.6`.
    pub version_text: String,
    /// CLAMD-INSTREAM-8.
    pub stream_limit: StreamLimitMode,
    /// CLAMD-SESSION-4.
    pub session_order: SessionOrder,
    /// Seed of `--session-order random` (None: a fresh one per session).
    pub session_seed: Option<u64>,
    /// CLAMD-CMD-5: when false, SHUTDOWN/QUIT close the connection without reply but keep
    /// the daemon running.
    pub allow_shutdown: bool,
    /// CLAMD-DET-2: names from signature files without `.UNOFFICIAL` (mimic production).
    pub official_names: bool,
    /// CLAMD-TIME-4: timeouts fire at `T + slack` (default 0.5 s).
    pub timeout_slack: Duration,
    /// Record commands and transcripts (for the test API).
    pub record: bool,
    /// How much the record keeps: bytes per connection (beyond them the transcript is
    /// marked truncated) and connections (oldest dropped first).
    pub record_limits: faults::record::Limits,
    /// Fault plan installed at start (`--faults FILE`, `--fault SPEC`); changeable at run
    /// time through [`crate::FakeClamd::faults`] or the admin API.
    pub faults: faults::FaultPlan,
    /// Address of the HTTP/JSON fault admin API (`--admin ADDR`; off by default).
    pub admin: Option<std::net::SocketAddr>,
    /// Bearer token the admin API requires (`--admin-token`, `--admin-token-file`,
    /// `AVC_ADMIN_TOKEN`); needed for a non-loopback admin address.
    pub admin_token: Option<faults::admin::AdminToken>,
}

impl Default for FakeOptions {
    fn default() -> Self {
        FakeOptions {
            version_text: clamd_proto::reply::DEFAULT_VERSION.to_string(),
            stream_limit: StreamLimitMode::Faithful,
            session_order: SessionOrder::Clamd,
            session_seed: None,
            allow_shutdown: true,
            official_names: false,
            timeout_slack: Duration::from_millis(500),
            record: false,
            record_limits: faults::record::Limits::default(),
            faults: faults::FaultPlan::default(),
            admin: None,
            admin_token: None,
        }
    }
}

/// Listener settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpListen {
    /// `TCPSocket`; 0 = ephemeral.
    pub port: u16,
    /// `TCPAddr` (multiple); the fake's default is `127.0.0.1` [F].
    pub addrs: Vec<String>,
}

/// The whole configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// TCP listener (`TCPSocket`, `TCPAddr`).
    pub tcp: Option<TcpListen>,
    /// `LocalSocket`.
    pub local_socket: Option<PathBuf>,
    /// `LocalSocketMode` (octal).
    pub local_socket_mode: Option<u32>,
    /// `FixStaleSocket` (default yes).
    pub fix_stale_socket: bool,
    /// `StreamMaxLength` (default 100M).
    pub stream_max_length: u64,
    /// `MaxThreads` (default 10).
    pub max_threads: u64,
    /// `MaxConnectionQueueLength` (default 200).
    pub max_connection_queue_length: u32,
    /// `MaxQueue` (default 100).
    pub max_queue: u64,
    /// `CommandReadTimeout` (default 30 s; 0 = none).
    pub command_read_timeout: Duration,
    /// `ReadTimeout` (default 120 s; 0 = none).
    pub read_timeout: Duration,
    /// `IdleTimeout` (default 30; STATS only).
    pub idle_timeout: u64,
    /// `SendBufTimeout` (default 500 ms).
    pub send_buf_timeout: Duration,
    /// `DatabaseDirectory`; `None` = built-in signatures.
    pub database_directory: Option<PathBuf>,
    /// `TemporaryDirectory`.
    pub temporary_directory: Option<PathBuf>,
    /// `AllowAllMatchScan` (default yes).
    pub allow_all_match_scan: bool,
    /// `ExtendedDetectionInfo` (log only).
    pub extended_detection_info: bool,
    /// `FollowDirectorySymlinks`.
    pub follow_directory_symlinks: bool,
    /// `FollowFileSymlinks`.
    pub follow_file_symlinks: bool,
    /// `MaxDirectoryRecursion` (default 15; 0 = unlimited).
    pub max_directory_recursion: u64,
    /// `ExcludePath` regexes.
    pub exclude_path: Vec<String>,
    /// `CrossFilesystems` (default yes).
    pub cross_filesystems: bool,
    /// `MaxFileSize` (default 100M).
    pub max_file_size: u64,
    /// `MaxScanSize` (default 400M).
    pub max_scan_size: u64,
    /// `MaxRecursion` (default 17): archive depth.
    pub max_recursion: u64,
    /// `MaxFiles` (default 10000): archive members.
    pub max_files: u64,
    /// `AlertExceedsMax`.
    pub alert_exceeds_max: bool,
    /// `HeuristicAlerts` (default yes): report potentially-unwanted alerts such as
    /// `Heuristics.Zip.OverlappingFiles` when nothing else is found.
    pub heuristic_alerts: bool,
    /// `HeuristicScanPrecedence` (default no): such an alert ends the scan at once.
    pub heuristic_scan_precedence: bool,
    /// `ScanArchive` (default yes): tar, gzip, zip and the other archive formats.
    pub scan_archive: bool,
    /// `ScanOLE2`, `ScanPDF`, `ScanHTML`, `ScanMail`, `ScanArchive` (default yes): which of
    /// the formats clamd opens beyond tar/gzip/zip are looked inside.
    pub more_formats: scan_engine::MoreFormats,
    /// `LogFile`.
    pub log_file: Option<PathBuf>,
    /// `LogClean`.
    pub log_clean: bool,
    /// `PidFile`.
    pub pid_file: Option<PathBuf>,
    /// `User`.
    pub user: Option<String>,
    /// The fake's own switches.
    pub fake: FakeOptions,
}

impl Default for Config {
    /// clamd's built-in defaults, listening on 127.0.0.1:3310 (issue 4: "with no config
    /// file it uses clamd's defaults on 127.0.0.1:3310").
    fn default() -> Self {
        Config {
            tcp: Some(TcpListen {
                port: 3310,
                addrs: vec!["127.0.0.1".into()],
            }),
            local_socket: None,
            local_socket_mode: None,
            fix_stale_socket: true,
            stream_max_length: clamd_proto::DEFAULT_STREAM_MAX_LENGTH,
            max_threads: 10,
            max_connection_queue_length: 200,
            max_queue: 100,
            command_read_timeout: Duration::from_secs(30),
            read_timeout: Duration::from_secs(120),
            idle_timeout: 30,
            send_buf_timeout: Duration::from_millis(500),
            database_directory: None,
            temporary_directory: None,
            allow_all_match_scan: true,
            extended_detection_info: false,
            follow_directory_symlinks: false,
            follow_file_symlinks: false,
            max_directory_recursion: 15,
            exclude_path: Vec::new(),
            cross_filesystems: true,
            max_file_size: 100 << 20,
            max_scan_size: 400 << 20,
            max_recursion: 17,
            max_files: 10_000,
            alert_exceeds_max: false,
            heuristic_alerts: true,
            heuristic_scan_precedence: false,
            scan_archive: true,
            more_formats: scan_engine::MoreFormats::all(),
            log_file: None,
            log_clean: false,
            pid_file: None,
            user: None,
            fake: FakeOptions::default(),
        }
    }
}

/// clamd's `Scan*` switches (CLAMD-DET-7): `ScanOLE2` (Word, Excel, PowerPoint), `ScanPDF`,
/// `ScanHTML`, `ScanMail` and `ScanArchive` (bzip2, xz, cpio, 7z and, in clamd 1.4.6, RTF;
/// tar/gzip/zip through [`Config::scan_archive`]). clamd reads an HTML `data:` URI through
/// its mail parser, so it needs both `ScanHTML` and `ScanMail` (the engine does the same).
fn scan_switches(conf: &ClamdConf) -> scan_engine::MoreFormats {
    let on = |name: &str| conf.bool(name).unwrap_or(true);
    let archive = on("ScanArchive");
    scan_engine::MoreFormats {
        ole2: on("ScanOLE2"),
        pdf: on("ScanPDF"),
        html: on("ScanHTML"),
        mail: on("ScanMail"),
        bzip2: archive,
        xz: archive,
        cpio: archive,
        sevenz: archive,
        rtf: archive,
        // clamd 1.4.6: TNEF is mail; the older containers are archives
        tnef: on("ScanMail"),
        binhex: archive,
        szdd: archive,
        cab: archive,
        sis: archive,
        arj: archive,
        chm: archive,
    }
}

impl Config {
    /// An ephemeral-port TCP config on 127.0.0.1 (the test default).
    pub fn ephemeral() -> Self {
        Config {
            tcp: Some(TcpListen {
                port: 0,
                addrs: vec!["127.0.0.1".into()],
            }),
            ..Config::default()
        }
    }

    /// Build from a parsed clamd.conf; directives not present keep clamd's defaults.
    /// Fails like clamd when no server type is defined (CLAMD-CONF-4).
    pub fn from_conf(conf: &ClamdConf) -> Result<Config, Error> {
        let d = Config::default();
        let tcp = match conf.number("TCPSocket") {
            Some(port) => {
                let port = u16::try_from(port)
                    .map_err(|_| Error::Invalid(format!("TCPSocket {port} is not a valid port")))?;
                let mut addrs = conf.get_all("TCPAddr").to_vec();
                if addrs.is_empty() {
                    addrs.push("127.0.0.1".into());
                }
                Some(TcpListen { port, addrs })
            }
            None => None,
        };
        let local_socket = conf.get("LocalSocket").map(PathBuf::from);
        if tcp.is_none() && local_socket.is_none() {
            return Err(Error::NoServerType);
        }
        let local_socket_mode = match conf.get("LocalSocketMode") {
            Some(m) => Some(u32::from_str_radix(m, 8).map_err(|_| {
                Error::Invalid(format!("LocalSocketMode {m} is not an octal mode"))
            })?),
            None => None,
        };
        for re in conf.get_all("ExcludePath") {
            regex::bytes::Regex::new(re).map_err(|e| {
                Error::Invalid(format!("ExcludePath {re}: invalid regular expression: {e}"))
            })?;
        }
        let secs = |name: &str, dflt: Duration| conf.number(name).map_or(dflt, Duration::from_secs);
        // clamd 1.4.6 loads its database, then fails with this line and exits (hardening 11)
        if conf.number("MaxThreads") == Some(0) {
            return Err(Error::Invalid(
                "thrmgr_new failed (MaxThreads must be at least 1)".into(),
            ));
        }
        Ok(Config {
            tcp,
            local_socket,
            local_socket_mode,
            fix_stale_socket: conf.bool("FixStaleSocket").unwrap_or(d.fix_stale_socket),
            stream_max_length: conf.size("StreamMaxLength").unwrap_or(d.stream_max_length),
            max_threads: conf.number("MaxThreads").unwrap_or(d.max_threads),
            max_connection_queue_length: conf
                .number("MaxConnectionQueueLength")
                .map_or(d.max_connection_queue_length, |n| {
                    n.min(u64::from(u32::MAX)) as u32
                }),
            max_queue: conf.number("MaxQueue").unwrap_or(d.max_queue),
            command_read_timeout: secs("CommandReadTimeout", d.command_read_timeout),
            read_timeout: secs("ReadTimeout", d.read_timeout),
            idle_timeout: conf.number("IdleTimeout").unwrap_or(d.idle_timeout),
            send_buf_timeout: conf
                .number("SendBufTimeout")
                .map_or(d.send_buf_timeout, Duration::from_millis),
            database_directory: conf.get("DatabaseDirectory").map(PathBuf::from),
            temporary_directory: conf.get("TemporaryDirectory").map(PathBuf::from),
            allow_all_match_scan: conf
                .bool("AllowAllMatchScan")
                .unwrap_or(d.allow_all_match_scan),
            extended_detection_info: conf.bool("ExtendedDetectionInfo").unwrap_or(false),
            follow_directory_symlinks: conf.bool("FollowDirectorySymlinks").unwrap_or(false),
            follow_file_symlinks: conf.bool("FollowFileSymlinks").unwrap_or(false),
            max_directory_recursion: conf
                .number("MaxDirectoryRecursion")
                .unwrap_or(d.max_directory_recursion),
            exclude_path: conf.get_all("ExcludePath").to_vec(),
            cross_filesystems: conf.bool("CrossFilesystems").unwrap_or(true),
            max_file_size: conf.size("MaxFileSize").unwrap_or(d.max_file_size),
            max_scan_size: conf.size("MaxScanSize").unwrap_or(d.max_scan_size),
            max_recursion: conf.number("MaxRecursion").unwrap_or(d.max_recursion),
            max_files: conf.number("MaxFiles").unwrap_or(d.max_files),
            alert_exceeds_max: conf.bool("AlertExceedsMax").unwrap_or(false),
            heuristic_alerts: conf.bool("HeuristicAlerts").unwrap_or(true),
            heuristic_scan_precedence: conf.bool("HeuristicScanPrecedence").unwrap_or(false),
            scan_archive: conf.bool("ScanArchive").unwrap_or(true),
            more_formats: scan_switches(conf),
            log_file: conf.get("LogFile").map(PathBuf::from),
            log_clean: conf.bool("LogClean").unwrap_or(false),
            pid_file: conf.get("PidFile").map(PathBuf::from),
            user: conf.get("User").map(str::to_string),
            fake: FakeOptions::default(),
        })
    }

    /// Parse clamd.conf text (`origin` names it in error messages) into a config.
    pub fn from_conf_text(text: &str, origin: &str) -> Result<Config, Error> {
        Config::from_conf(&ClamdConf::parse(text, origin)?)
    }

    /// Read a clamd.conf file into a config.
    pub fn from_conf_file(path: &std::path::Path) -> Result<Config, Error> {
        Config::from_conf(&ClamdConf::load(path)?)
    }

    /// Effective MaxQueue: clamd raises it to at least `2 * MaxThreads` (CLAMD-TRANS-6).
    pub fn effective_max_queue(&self) -> usize {
        let q = self
            .max_queue
            .max(self.max_threads.saturating_mul(2))
            .max(1);
        usize::try_from(q).unwrap_or(usize::MAX).min(1 << 20)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// CLAMD-CONF-3.
    #[test]
    fn clamd_conf_3_defaults() {
        let c = Config::from_conf_text("TCPSocket 0\n", "f").unwrap();
        assert_eq!(c.stream_max_length, 104857600);
        assert_eq!(c.max_threads, 10);
        assert_eq!(c.command_read_timeout, Duration::from_secs(30));
        assert_eq!(c.read_timeout, Duration::from_secs(120));
        assert_eq!(c.max_directory_recursion, 15);
        assert!(c.allow_all_match_scan);
        assert_eq!(c.tcp.unwrap().addrs, vec!["127.0.0.1".to_string()]);
    }

    /// CLAMD-DET-7, CLAMD-CONF-2: `ScanOLE2`, `ScanPDF`, `ScanHTML`, `ScanMail`,
    /// `ScanArchive` (default yes) switch the formats the engine opens; the others stay on.
    #[test]
    fn clamd_det_7_scan_switches_turn_formats_off() {
        let on = Config::from_conf_text("TCPSocket 0\n", "f").unwrap();
        assert_eq!(on.more_formats, scan_engine::MoreFormats::all());
        let off = Config::from_conf_text(
            "TCPSocket 0\nScanOLE2 no\nScanPDF false\nScanHTML 0\nScanMail no\n",
            "f",
        )
        .unwrap()
        .more_formats;
        assert!(!off.ole2 && !off.pdf && !off.html && !off.mail);
        assert!(off.rtf && off.sevenz && off.cpio && off.bzip2 && off.xz);
        let one = Config::from_conf_text("TCPSocket 0\nScanPDF no\n", "f").unwrap();
        assert!(!one.more_formats.pdf && one.more_formats.ole2 && one.more_formats.html);
        let no_archive = Config::from_conf_text("TCPSocket 0\nScanArchive no\n", "f").unwrap();
        let m = no_archive.more_formats;
        assert!(!no_archive.scan_archive && !m.rtf && !m.sevenz && !m.cpio && !m.bzip2 && !m.xz);
        assert!(m.ole2 && m.pdf && m.html && m.mail);
    }

    /// CLAMD-CONF-4.
    #[test]
    fn clamd_conf_4_server_type_required() {
        let e = Config::from_conf_text("Foreground yes\n", "f").unwrap_err();
        assert_eq!(
            e.to_string(),
            "ERROR: Please define server type (local and/or TCP)."
        );
    }

    /// CLAMD-CONF-3.
    #[test]
    fn clamd_conf_3_values() {
        let c = Config::from_conf_text(
            "LocalSocket /tmp/x.sock\nLocalSocketMode 660\nStreamMaxLength 1M\nCommandReadTimeout 3\nExcludePath ^/proc\nExcludePath \\.skip$\n",
            "f",
        )
        .unwrap();
        assert!(c.tcp.is_none());
        assert_eq!(c.local_socket_mode, Some(0o660));
        assert_eq!(c.stream_max_length, 1 << 20);
        assert_eq!(c.command_read_timeout, Duration::from_secs(3));
        assert_eq!(c.exclude_path.len(), 2);
    }

    #[test]
    fn fake_modes_parse() {
        assert_eq!(
            "reply-drain".parse::<StreamLimitMode>(),
            Ok(StreamLimitMode::ReplyDrain)
        );
        assert!("x".parse::<StreamLimitMode>().is_err());
        assert_eq!("reverse".parse::<SessionOrder>(), Ok(SessionOrder::Reverse));
    }
}
