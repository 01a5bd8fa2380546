//! Fake configuration (svsp.md section 12, SVSP-FAKE-1 and SVSP-FAKE-2).

use crate::Error;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;
use svsp_proto::{Eol, Profile};

/// Default detection name for EICAR (SVSP-DET-1).
pub const DEFAULT_EICAR_NAME: &str = "CVDL DOS/EICAR.Test";
/// Marker A (SVSP-DET-2).
pub const MARKER_A: (&str, &[u8]) = ("CVDL Test/Marker.A", b"SVSP-FAKE-MARKER-A");
/// Marker B, a virus name with several spaces (SVSP-DET-2).
pub const MARKER_B: (&str, &[u8]) = ("CVDL Test/Multi Word Name.B", b"SVSP-FAKE-MARKER-B");

/// Default `--idle-timeout` (hardening item 7).
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Default `--max-file-size` (hardening item 2).
pub const DEFAULT_MAX_FILE_BYTES: u64 = 64 << 20;

/// `--dispatch` (SVSP-FRAME-5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Dispatch {
    /// Every complete line at once (default).
    #[default]
    All,
    /// At most one line per read event (FAQ 1 quirk).
    OnePerRead,
}

/// `--queued` (SVSP-RESP-QUEUED-1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum QueuedMode {
    /// One QUEUED per request that reaches the queue (default).
    #[default]
    Always,
    /// Only when no worker was free at acceptance.
    WhenDelayed,
    /// Never.
    Never,
    /// With probability 1/2 from a seeded PRNG.
    Random(u64),
}

/// `--quit` (SVSP-CMD-QUIT-1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum QuitMode {
    /// Finish outstanding requests, then OK (default).
    #[default]
    Drain,
    /// OK at once, cancel outstanding requests.
    Immediate,
}

/// `--member-errors` (SVSP-SCAN-TREE-3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MemberErrors {
    /// Skip unreadable members silently (default).
    #[default]
    Skip,
    /// End the request with `EACCES "<member>"`.
    Terminal,
}

/// `--quirk=...` switches (SVSP-FAKE-2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Quirks {
    /// `done-without-count`.
    pub done_without_count: bool,
    /// `infected-empty-archive-name`.
    pub infected_empty_archive_name: bool,
    /// `unknown-line`.
    pub unknown_line: bool,
    /// `lowercase-keywords`.
    pub lowercase_keywords: bool,
}

impl Quirks {
    /// Enables one quirk by name.
    pub fn enable(&mut self, name: &str) -> Result<(), Error> {
        match name.trim() {
            "done-without-count" => self.done_without_count = true,
            "infected-empty-archive-name" => self.infected_empty_archive_name = true,
            "unknown-line" => self.unknown_line = true,
            "lowercase-keywords" => self.lowercase_keywords = true,
            other => return Err(Error::Config(format!("unknown quirk {other:?}"))),
        }
        Ok(())
    }
}

/// An allowed network (`--allow=CIDR`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Whether `ip` is inside this network (IPv4-mapped IPv6 peers match IPv4 networks).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = if self.prefix == 0 {
                    0
                } else {
                    u32::MAX << (32 - u32::from(self.prefix))
                };
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = if self.prefix == 0 {
                    0
                } else {
                    u128::MAX << (128 - u32::from(self.prefix))
                };
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }

    /// Loopback networks (the default allow list).
    pub fn loopback() -> Vec<Cidr> {
        vec![
            Cidr {
                addr: IpAddr::from([127, 0, 0, 0]),
                prefix: 8,
            },
            Cidr {
                addr: IpAddr::from([0u16, 0, 0, 0, 0, 0, 0, 1]),
                prefix: 128,
            },
        ]
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl FromStr for Cidr {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || Error::Config(format!("invalid CIDR {s:?}"));
        let (a, p) = match s.trim().split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s.trim(), None),
        };
        let addr: IpAddr = a.parse().map_err(|_| bad())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(bad)?,
            None => max,
        };
        Ok(Cidr { addr, prefix })
    }
}

/// Parses a comma-separated CIDR list.
pub fn parse_allow(list: &str) -> Result<Vec<Cidr>, Error> {
    list.split(',')
        .filter(|s| !s.trim().is_empty())
        .map(str::parse)
        .collect()
}

/// Everything the server needs; `Default` is the spec's defaults with port 8081.
#[derive(Debug, Clone)]
pub struct Config {
    /// Listen address (`--listen`, `--svsp-port`; SVSP-TRANS-1).
    pub listen: SocketAddr,
    /// Allowed peers (`--allow`; SVSP-CONN-2).
    pub allow: Vec<Cidr>,
    /// `--localhost`: loopback peers only.
    pub localhost_only: bool,
    /// `--max-connections` (64).
    pub max_connections: usize,
    /// `--profile` (SVSP-SCAN-4).
    pub profile: Profile,
    /// `--dispatch` (SVSP-FRAME-5).
    pub dispatch: Dispatch,
    /// `--eol` (SVSP-FRAME-6).
    pub eol: Eol,
    /// `--queued` (SVSP-RESP-QUEUED-1).
    pub queued: QueuedMode,
    /// `--quit` (SVSP-CMD-QUIT-1).
    pub quit: QuitMode,
    /// `--threads` (4, SVSP-CONC-4).
    pub threads: usize,
    /// `--delay-ms` per part (SVSP-CONC-4).
    pub delay: Duration,
    /// `--max-queue` outstanding requests per connection (32, SVSP-ERR-EAGAIN-1).
    pub max_queue: usize,
    /// `--stream-max-length` (1 MiB).
    pub stream_max_length: u64,
    /// `--data-timeout` (10 s).
    pub data_timeout: Duration,
    /// `--scan-root` (SVSP-NAME-4, CL-7).
    pub scan_root: Option<PathBuf>,
    /// Test hook (`--virtual-root`, hidden): resolve every path, absolute or relative,
    /// beneath this directory, like a chroot; names in responses stay as sent. Lets the
    /// section-14 transcripts use their literal paths (`/tmp/foo`, `/srv/eicar.com`).
    pub virtual_root: Option<PathBuf>,
    /// `--follow-symlinks` (SVSP-SCAN-TREE-2).
    pub follow_symlinks: bool,
    /// `--member-errors` (SVSP-SCAN-TREE-3).
    pub member_errors: MemberErrors,
    /// `--port-send-echo` (SVSP-SCAN-PORT-1).
    pub port_send_echo: bool,
    /// `--enable-future` (SVSP-SCAN-DATA-1, SVSP-SCAN-INLINE-1).
    pub enable_future: bool,
    /// `--idle-timeout` (SVSP-CONN-5; hardening item 7: [`DEFAULT_IDLE_TIMEOUT`] by
    /// default so idle sockets cannot hold every connection slot; `None` or zero: never).
    pub idle_timeout: Option<Duration>,
    /// `--max-file-size`: a FILE target or directory member larger than this is not read
    /// (hardening item 2); no file is ever read past its fstat size.
    pub max_file_bytes: u64,
    /// `--eicar-name` (SVSP-DET-1).
    pub eicar_name: String,
    /// Extra literal signatures after EICAR and the markers (test API only).
    pub extra_signatures: Vec<(String, Vec<u8>)>,
    /// `--quirk` (SVSP-FAKE-2).
    pub quirks: Quirks,
    /// Max line length (SVSP-FRAME-4).
    pub max_line: usize,
    /// Max expanded members per request (SVSP-OPT-EXPAND-2).
    pub max_members: u64,
    /// Max expanded bytes per request (SVSP-OPT-EXPAND-2).
    pub max_expanded_bytes: u64,
    /// How much the transcript record keeps: bytes of traffic per connection (both
    /// directions together; beyond them the transcript is marked truncated) and connections.
    pub record_limits: faults::record::Limits,
    /// The fault plan (`--faults FILE`, `--fault KIND[:ARG][@COND,...]`; crate `faults`,
    /// SVSP-FAKE-2), changeable at run time via [`crate::FakeVfindd::faults`].
    pub fault_plan: faults::FaultPlan,
    /// Address of the HTTP/JSON fault admin API (`--admin ADDR`; off by default).
    pub admin: Option<SocketAddr>,
    /// Bearer token the admin API requires (`--admin-token`, `--admin-token-file`,
    /// `AVC_ADMIN_TOKEN`); needed for a non-loopback admin address.
    pub admin_token: Option<faults::admin::AdminToken>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], svsp_proto::DEFAULT_PORT)),
            allow: Cidr::loopback(),
            localhost_only: false,
            max_connections: 64,
            profile: Profile::Full,
            dispatch: Dispatch::All,
            eol: Eol::Crlf,
            queued: QueuedMode::Always,
            quit: QuitMode::Drain,
            threads: 4,
            delay: Duration::ZERO,
            max_queue: 32,
            stream_max_length: 1 << 20,
            data_timeout: Duration::from_secs(10),
            scan_root: None,
            virtual_root: None,
            follow_symlinks: false,
            member_errors: MemberErrors::Skip,
            port_send_echo: false,
            enable_future: false,
            idle_timeout: Some(DEFAULT_IDLE_TIMEOUT),
            max_file_bytes: DEFAULT_MAX_FILE_BYTES,
            eicar_name: DEFAULT_EICAR_NAME.to_string(),
            extra_signatures: Vec::new(),
            quirks: Quirks::default(),
            max_line: svsp_proto::DEFAULT_MAX_LINE,
            max_members: 10_000,
            max_expanded_bytes: 64 << 20,
            record_limits: faults::record::Limits {
                bytes_per_connection: 8 << 20,
                ..faults::record::Limits::default()
            },
            fault_plan: faults::FaultPlan::default(),
            admin: None,
            admin_token: None,
        }
    }
}

impl Config {
    /// Checks value ranges.
    pub fn validate(&self) -> Result<(), Error> {
        if self.threads == 0 {
            return Err(Error::Config("--threads must be at least 1".into()));
        }
        if self.max_connections == 0 || self.max_queue == 0 {
            return Err(Error::Config(
                "--max-connections and --max-queue must be at least 1".into(),
            ));
        }
        if self.allow.is_empty() {
            // hardening item 6: a daemon that refuses everyone is a mistake, not a mode
            return Err(Error::Config(
                "--allow lists no network: every client would be refused".into(),
            ));
        }
        if self.eicar_name.contains(" : ")
            || self.eicar_name.contains('"')
            || self.eicar_name.contains('\n')
            || self.eicar_name.is_empty()
        {
            return Err(Error::Config("--eicar-name must be non-empty and contain no ` : `, `\"` or LF (SVSP-RESP-INFECTED-1)".into()));
        }
        Ok(())
    }
}

impl Config {
    /// The idle timeout in force (`None`: connections may idle forever).
    pub fn effective_idle_timeout(&self) -> Option<Duration> {
        self.idle_timeout.filter(|d| !d.is_zero())
    }

    /// How long one response line may wait for the peer to take it before the connection
    /// is reset: the idle timeout, or [`DEFAULT_IDLE_TIMEOUT`] when idle connections may
    /// stay. Request workers wait for their lines to be queued, so a peer that never reads
    /// would otherwise hold every `--threads` worker for good.
    pub fn send_timeout(&self) -> Duration {
        self.effective_idle_timeout()
            .unwrap_or(DEFAULT_IDLE_TIMEOUT)
    }

    /// One line saying whom the daemon refuses and when it closes (hardening items 6, 7).
    pub fn refusal_summary(&self) -> String {
        let allow: Vec<String> = self.allow.iter().map(ToString::to_string).collect();
        let idle = match self.effective_idle_timeout() {
            Some(d) => format!("after {}s", d.as_secs_f64()),
            None => "never".to_string(),
        };
        format!(
            "accepting clients from {}{}; DENIED beyond {} connections; idle connections closed {}",
            allow.join(","),
            if self.localhost_only {
                " (loopback only)"
            } else {
                ""
            },
            self.max_connections,
            idle
        )
    }
}

/// Parses `--queued` values.
pub fn parse_queued(s: &str) -> Result<QueuedMode, Error> {
    Ok(match s {
        "always" => QueuedMode::Always,
        "when-delayed" => QueuedMode::WhenDelayed,
        "never" => QueuedMode::Never,
        _ => match s.strip_prefix("random:").and_then(|v| v.parse().ok()) {
            Some(seed) => QueuedMode::Random(seed),
            None => {
                return Err(Error::Config(format!(
                    "invalid --queued {s:?} (always, when-delayed, never, random:<seed>)"
                )))
            }
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SVSP-CONN-2.
    #[test]
    fn svsp_conn_2_cidr_matching() {
        let lo = Cidr::loopback();
        assert!(lo.iter().any(|c| c.contains("127.0.0.1".parse().unwrap())));
        assert!(lo.iter().any(|c| c.contains("::1".parse().unwrap())));
        assert!(lo
            .iter()
            .any(|c| c.contains("::ffff:127.0.0.2".parse().unwrap())));
        assert!(!lo.iter().any(|c| c.contains("10.0.0.1".parse().unwrap())));
        let l = parse_allow("10.0.0.0/8, 192.168.1.5").unwrap();
        assert!(l[0].contains("10.9.9.9".parse().unwrap()));
        assert!(
            l[1].contains("192.168.1.5".parse().unwrap())
                && !l[1].contains("192.168.1.6".parse().unwrap())
        );
        assert!(parse_allow("10.0.0.0/33").is_err());
    }

    /// Hardening item 6: an empty allow list is refused at start-up.
    #[test]
    fn hardening_6_empty_allow_list_is_a_configuration_error() {
        let cfg = Config {
            allow: parse_allow("").unwrap(),
            ..Config::default()
        };
        let e = cfg.validate().unwrap_err().to_string();
        assert!(e.contains("--allow lists no network"), "{e}");
    }

    /// Hardening item 7: an idle timeout by default, and a line saying what is refused.
    #[test]
    fn hardening_7_idle_timeout_by_default_and_refusal_summary() {
        let cfg = Config::default();
        assert_eq!(cfg.effective_idle_timeout(), Some(DEFAULT_IDLE_TIMEOUT));
        assert_eq!(
            cfg.refusal_summary(),
            "accepting clients from 127.0.0.0/8,::1/128; DENIED beyond 64 connections; \
             idle connections closed after 60s"
        );
        let off = Config {
            idle_timeout: Some(Duration::ZERO),
            ..Config::default()
        };
        assert_eq!(off.effective_idle_timeout(), None);
    }

    /// SVSP-FAKE-2.
    #[test]
    fn svsp_fake_2_quirk_names() {
        let mut q = Quirks::default();
        for n in [
            "done-without-count",
            "infected-empty-archive-name",
            "unknown-line",
            "lowercase-keywords",
        ] {
            q.enable(n).unwrap();
        }
        assert!(
            q.done_without_count
                && q.infected_empty_archive_name
                && q.unknown_line
                && q.lowercase_keywords
        );
        assert!(q.enable("nope").is_err());
        assert_eq!(parse_queued("random:7").unwrap(), QueuedMode::Random(7));
    }
}
