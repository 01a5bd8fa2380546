//! Configuration as FLAM users know it (FAVE-1, FAVE-2):
//!
//! * `FL_FAVE_PARAMETER=host:port[:timeout]`, default `clamav.daemon:3310` (FLAM's documented
//!   default; the flcl manual writes it `clamav.daemon:3310:10`, the third part being, most likely,
//!   a timeout in seconds; we read it as the I/O timeout, default 10 s);
//! * `FL_CLAMAV_CONNECTION=host:port` (the older name for the clamd address);
//! * command-line flags override both. `FL_FAVE_PARAMETER` wins over `FL_CLAMAV_CONNECTION`.
//!
//! Addresses: `host:port`, `1.2.3.4:port`, `[::1]:port`, `unix:/path` or an absolute path
//! (`/run/clamav/clamd.ctl`). Every part of the parameter string is optional; an empty part
//! takes its default (`:3310` = default host, `host::30` = default port).

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::error::FaveError;

/// FLAM's default daemon host name (FAVE-1).
pub const DEFAULT_HOST: &str = "clamav.daemon";
/// clamd's usual TCP port.
pub const DEFAULT_CLAMD_PORT: u16 = 3310;
/// SVSP's default port (SVSP-TRANS-1).
pub const DEFAULT_SVSP_PORT: u16 = 8081;
/// Default for connect and each read/write (FAVE-2's third part, default 10).
pub const DEFAULT_IO_TIMEOUT: Duration = Duration::from_secs(10);
/// Default for one whole scan (must exceed the daemon's MaxScanTime, CLAMD-CLIENT-10).
pub const DEFAULT_SCAN_TIMEOUT: Duration = Duration::from_secs(300);
/// Default INSTREAM chunk size.
pub const DEFAULT_CHUNK_SIZE: usize = 64 * 1024;
/// Largest chunk we send (keeps header arithmetic far from 0x80000000, CLAMD-INSTREAM-4).
pub const MAX_CHUNK_SIZE: usize = 64 * 1024 * 1024;

pub const ENV_PARAMETER: &str = "FL_FAVE_PARAMETER";
pub const ENV_CLAMAV_CONNECTION: &str = "FL_CLAMAV_CONNECTION";

/// Where the daemon listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    /// Host name or IP literal (IPv6 without brackets here) and port.
    Tcp { host: String, port: u16 },
    /// Unix stream socket (clamd `LocalSocket`).
    Unix(PathBuf),
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Tcp { host, port } if host.contains(':') => write!(f, "[{host}]:{port}"),
            Address::Tcp { host, port } => write!(f, "{host}:{port}"),
            Address::Unix(p) => write!(f, "unix:{}", p.display()),
        }
    }
}

impl Address {
    /// Parse `host[:port]`, `[v6][:port]`, `unix:/path` or `/path`.
    pub fn parse(s: &str, default_port: u16) -> Result<Address, FaveError> {
        let (addr, rest) = split_address(s, default_port)?;
        if let Some(rest) = rest {
            return Err(FaveError::Config(format!(
                "unexpected `:{rest}` after address `{s}` (expected host:port, [v6]:port or unix:/path)"
            )));
        }
        Ok(addr)
    }
}

/// Split an address off the front; returns the remaining `:`-separated text (the part after
/// the port), if any.
fn split_address(s: &str, default_port: u16) -> Result<(Address, Option<String>), FaveError> {
    let s = s.trim();
    if let Some(path) = s.strip_prefix("unix:") {
        if path.is_empty() {
            return Err(FaveError::Config("empty unix socket path".into()));
        }
        return Ok((Address::Unix(PathBuf::from(path)), None));
    }
    if s.starts_with('/') || s.starts_with("./") {
        return Ok((Address::Unix(PathBuf::from(s)), None));
    }
    let (host, after_host) = if let Some(r) = s.strip_prefix('[') {
        let end = r
            .find(']')
            .ok_or_else(|| FaveError::Config(format!("missing `]` in `{s}`")))?;
        let host = &r[..end];
        let after = &r[end + 1..];
        let after = if after.is_empty() {
            None
        } else if let Some(a) = after.strip_prefix(':') {
            Some(a)
        } else {
            return Err(FaveError::Config(format!(
                "expected `:` after `]` in `{s}`"
            )));
        };
        (host.to_string(), after)
    } else {
        let mut it = s.splitn(2, ':');
        let host = it.next().unwrap_or_default();
        let after = it.next();
        if after.is_some_and(|a| a.matches(':').count() > 1) {
            return Err(FaveError::Config(format!(
                "`{s}`: write IPv6 addresses in brackets, e.g. [::1]:3310"
            )));
        }
        (host.to_string(), after)
    };
    let host = if host.is_empty() {
        DEFAULT_HOST.to_string()
    } else {
        host
    };
    let (port_s, rest) = match after_host {
        None => ("", None),
        Some(a) => match a.split_once(':') {
            Some((p, r)) => (p, Some(r.to_string())),
            None => (a, None),
        },
    };
    let port = if port_s.is_empty() {
        default_port
    } else {
        port_s
            .parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| FaveError::Config(format!("bad port `{port_s}` in `{s}`")))?
    };
    Ok((Address::Tcp { host, port }, rest))
}

/// A FAVE parameter string `host:port[:timeout]` (FAVE-2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaveParameter {
    pub address: Address,
    /// Third part, seconds; `None` when absent or empty.
    pub timeout: Option<Duration>,
}

impl FaveParameter {
    pub fn parse(s: &str) -> Result<FaveParameter, FaveError> {
        let (address, rest) = split_address(s, DEFAULT_CLAMD_PORT)?;
        let timeout = match rest.as_deref() {
            None | Some("") => None,
            Some(t) => Some(parse_seconds(t).map_err(|e| {
                FaveError::Config(format!("bad timeout `{t}` in parameter `{s}`: {e}"))
            })?),
        };
        Ok(FaveParameter { address, timeout })
    }
}

/// Seconds, possibly fractional (`10`, `0.5`); zero and negatives are rejected.
pub fn parse_seconds(t: &str) -> Result<Duration, String> {
    let v: f64 = t.trim().parse().map_err(|_| "not a number".to_string())?;
    if !(v > 0.0 && v.is_finite() && v < 1e9) {
        return Err("must be a positive number of seconds".into());
    }
    Ok(Duration::from_secs_f64(v))
}

/// Which daemon protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Clamd,
    Svsp,
}

/// clamd command framing (CLAMD-FRAME-1/2). Both are valid for IDSESSION and INSTREAM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Framing {
    #[default]
    Z,
    N,
}

/// SVSP data source for a scan (SVSP-SCAN-1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SvspSource {
    /// `SCAN/FILE <abs path>`: the daemon reads the file itself (paths only).
    File,
    /// `SCAN/FILE-SHA1 <abs path>`: as FILE, DONE carries the SHA-1.
    FileSha1,
    /// `SCAN/REQUEST [name]`: we connect to the SEND port and stream (default; works remotely).
    #[default]
    Request,
    /// `SCAN/PORT <port> [name]`: we listen, the daemon connects to us.
    Port,
}

/// Timeouts (CLAMD-CLIENT-10, SVSP-CLIENT-19).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    pub connect: Duration,
    /// Each single read or write.
    pub io: Duration,
    /// One whole scan, from open to verdict.
    pub scan: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: DEFAULT_IO_TIMEOUT,
            io: DEFAULT_IO_TIMEOUT,
            scan: DEFAULT_SCAN_TIMEOUT,
        }
    }
}

/// Default of [`ClientConfig::busy_retries`].
pub const DEFAULT_BUSY_RETRIES: u32 = 3;

/// Everything a [`crate::Client`] needs.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    pub protocol: Protocol,
    pub address: Address,
    pub timeouts: Timeouts,
    /// INSTREAM chunk size (clamd) / write size (SVSP data channels).
    pub chunk_size: usize,
    /// Known StreamMaxLength of the daemon: larger streams are refused locally with
    /// [`FaveError::TooLarge`] (origin Local) instead of being sent.
    pub stream_max_length: Option<u64>,
    pub framing: Framing,
    pub svsp_source: SvspSource,
    /// A clamd session idle longer than this is replaced by a fresh one before the next scan
    /// (clamd drops idle sessions after ReadTimeout, CLAMD-SESSION-8).
    pub session_idle_max: Duration,
    /// SVSP `FILE`/`FILE-SHA1`: how often a request refused with `EAGAIN Server busy` is sent
    /// again (doubling back-off from 50 ms, within the scan timeout; SVSP-CLIENT-10). 0 = never.
    pub busy_retries: u32,
}

impl ClientConfig {
    pub fn new(protocol: Protocol, address: Address) -> ClientConfig {
        ClientConfig {
            protocol,
            address,
            timeouts: Timeouts::default(),
            chunk_size: DEFAULT_CHUNK_SIZE,
            stream_max_length: None,
            framing: Framing::Z,
            svsp_source: SvspSource::default(),
            session_idle_max: Duration::from_secs(60),
            busy_retries: DEFAULT_BUSY_RETRIES,
        }
    }

    /// clamd at the address FLAM would use: `FL_FAVE_PARAMETER`, else `FL_CLAMAV_CONNECTION`,
    /// else `clamav.daemon:3310`; the parameter's timeout part sets connect and I/O timeouts.
    pub fn from_env() -> Result<ClientConfig, FaveError> {
        Self::from_env_with(&|k| std::env::var(k).ok())
    }

    /// As [`ClientConfig::from_env`] with an injectable environment (tests).
    pub fn from_env_with(env: &dyn Fn(&str) -> Option<String>) -> Result<ClientConfig, FaveError> {
        let nonempty = |k: &str| env(k).filter(|v| !v.trim().is_empty());
        let param = if let Some(p) = nonempty(ENV_PARAMETER) {
            FaveParameter::parse(&p)
                .map_err(|e| FaveError::Config(format!("{ENV_PARAMETER}: {e}")))?
        } else if let Some(c) = nonempty(ENV_CLAMAV_CONNECTION) {
            FaveParameter {
                address: Address::parse(&c, DEFAULT_CLAMD_PORT)
                    .map_err(|e| FaveError::Config(format!("{ENV_CLAMAV_CONNECTION}: {e}")))?,
                timeout: None,
            }
        } else {
            FaveParameter {
                address: Address::Tcp {
                    host: DEFAULT_HOST.into(),
                    port: DEFAULT_CLAMD_PORT,
                },
                timeout: None,
            }
        };
        let mut cfg = ClientConfig::new(Protocol::Clamd, param.address);
        if let Some(t) = param.timeout {
            cfg.timeouts.connect = t;
            cfg.timeouts.io = t;
        }
        Ok(cfg)
    }

    pub(crate) fn validate(&self) -> Result<(), FaveError> {
        if self.chunk_size == 0 || self.chunk_size > MAX_CHUNK_SIZE {
            return Err(FaveError::Config(format!(
                "chunk size must be 1..={MAX_CHUNK_SIZE}, got {}",
                self.chunk_size
            )));
        }
        if self.protocol == Protocol::Svsp && matches!(self.address, Address::Unix(_)) {
            return Err(FaveError::Config(
                "SVSP runs over TCP only (SVSP-TRANS-1); a unix socket address cannot be used"
                    .into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp(h: &str, p: u16) -> Address {
        Address::Tcp {
            host: h.into(),
            port: p,
        }
    }

    #[test]
    fn addresses_v4_v6_unix_and_defaults() {
        assert_eq!(
            Address::parse("127.0.0.1:3311", 3310).unwrap(),
            tcp("127.0.0.1", 3311)
        );
        assert_eq!(
            Address::parse("[::1]:3311", 3310).unwrap(),
            tcp("::1", 3311)
        );
        assert_eq!(Address::parse("[::1]", 3310).unwrap(), tcp("::1", 3310));
        assert_eq!(
            Address::parse("localhost", 8081).unwrap(),
            tcp("localhost", 8081)
        );
        assert_eq!(
            Address::parse(":4000", 3310).unwrap(),
            tcp(DEFAULT_HOST, 4000)
        );
        assert_eq!(
            Address::parse("unix:/run/clamd.ctl", 3310).unwrap(),
            Address::Unix("/run/clamd.ctl".into())
        );
        assert_eq!(
            Address::parse("/tmp/x.sock", 3310).unwrap(),
            Address::Unix("/tmp/x.sock".into())
        );
        assert!(Address::parse("::1:3310", 3310).is_err());
        assert!(Address::parse("h:0", 3310).is_err());
        assert!(Address::parse("h:99999", 3310).is_err());
        assert!(Address::parse("h:1:2", 3310).is_err());
        assert_eq!(tcp("::1", 5).to_string(), "[::1]:5");
    }

    #[test]
    fn fave_parameter_three_optional_parts() {
        let p = FaveParameter::parse("clamav.daemon:3310:10").unwrap();
        assert_eq!(p.address, tcp("clamav.daemon", 3310));
        assert_eq!(p.timeout, Some(Duration::from_secs(10)));
        let p = FaveParameter::parse("[::1]:3312:2.5").unwrap();
        assert_eq!(p.address, tcp("::1", 3312));
        assert_eq!(p.timeout, Some(Duration::from_millis(2500)));
        let p = FaveParameter::parse("host::7").unwrap();
        assert_eq!(p.address, tcp("host", 3310));
        assert_eq!(p.timeout, Some(Duration::from_secs(7)));
        let p = FaveParameter::parse("").unwrap();
        assert_eq!(p.address, tcp(DEFAULT_HOST, DEFAULT_CLAMD_PORT));
        assert!(FaveParameter::parse("h:1:zero").is_err());
        assert!(FaveParameter::parse("h:1:0").is_err());
    }

    #[test]
    fn env_precedence_parameter_over_connection_over_default() {
        let cfg = ClientConfig::from_env_with(&|_| None).unwrap();
        assert_eq!(cfg.address, tcp("clamav.daemon", 3310));
        assert_eq!(cfg.timeouts.io, DEFAULT_IO_TIMEOUT);
        let cfg = ClientConfig::from_env_with(&|k| {
            (k == ENV_CLAMAV_CONNECTION).then(|| "10.0.0.1:3999".to_string())
        })
        .unwrap();
        assert_eq!(cfg.address, tcp("10.0.0.1", 3999));
        let cfg = ClientConfig::from_env_with(&|k| match k {
            ENV_CLAMAV_CONNECTION => Some("10.0.0.1:3999".into()),
            ENV_PARAMETER => Some("[::1]:4000:3".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(cfg.address, tcp("::1", 4000));
        assert_eq!(cfg.timeouts.io, Duration::from_secs(3));
        assert_eq!(cfg.timeouts.connect, Duration::from_secs(3));
        let err = ClientConfig::from_env_with(&|k| (k == ENV_PARAMETER).then(|| "h:x".into()));
        assert!(matches!(err, Err(FaveError::Config(m)) if m.contains(ENV_PARAMETER)));
    }
}
