//! The daemon a case runs against: the embedded fake (`crates/fake-clamd`,
//! `crates/fake-vfindd`) with the case's fault plan installed, or, for a refusal of the
//! first connection, no daemon at all (an address where nothing listens).

pub mod plan;

use fake_clamd::FakeDaemon;
use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use crate::error::{HarnessError, Result};
use crate::profile::{Protocol, Transport};
use crate::proxy::Upstream;

/// The daemon part of a case: settings of the embedded fake. Faults are the case's
/// `faults` (fault rules), not daemon settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DaemonSpec {
    /// clamd StreamMaxLength (bytes); SVSP stream limit for REQUEST/PORT data.
    pub stream_max_length: Option<u64>,
    /// SVSP QUEUED mode: `always` (default), `never`, `random:<seed>`.
    pub queued: Option<String>,
    /// Fake clamd: what follows `INSTREAM size limit exceeded` (`faithful`, `close`,
    /// `reply-drain` (default here, deterministic), `reset`), CLAMD-INSTREAM-8.
    pub limit_mode: Option<String>,
    /// Fake clamd: order of scan replies inside IDSESSION (`clamd`, the default, `arrival`,
    /// `reverse`, `random` with a fixed seed), CLAMD-SESSION-4. Usually set by a case's
    /// `session_orders`.
    pub session_order: Option<String>,
}

/// Seed of `random` session order in every case run, so transcripts are the same each run.
pub const SESSION_SEED: u64 = 18;

/// A session order name, checked.
pub fn parse_session_order(name: &str) -> Result<fake_clamd::SessionOrder> {
    name.parse().map_err(HarnessError::Daemon)
}

impl DaemonSpec {
    /// The stream limit for `protocol` (clamd 100 MiB, SVSP 1 MiB unless set).
    pub fn stream_max_length(&self, protocol: Protocol) -> u64 {
        self.stream_max_length.unwrap_or(match protocol {
            Protocol::Clamd => 100 << 20,
            Protocol::Svsp => 1 << 20,
        })
    }

    /// The SVSP QUEUED mode, checked.
    pub fn queued_mode(&self) -> Result<fake_vfindd::QueuedMode> {
        match self.queued.as_deref() {
            None | Some("always") => Ok(fake_vfindd::QueuedMode::Always),
            Some("never") => Ok(fake_vfindd::QueuedMode::Never),
            Some(other) => match other.strip_prefix("random:").and_then(|s| s.parse().ok()) {
                Some(seed) => Ok(fake_vfindd::QueuedMode::Random(seed)),
                None => Err(HarnessError::Daemon(format!(
                    "queued = {other:?}: want always, never or random:<seed>"
                ))),
            },
        }
    }

    /// The fake clamd's size-limit follow-up, checked.
    pub fn limit_mode(&self) -> Result<fake_clamd::StreamLimitMode> {
        self.limit_mode
            .as_deref()
            .unwrap_or("reply-drain")
            .parse()
            .map_err(HarnessError::Daemon)
    }

    /// The fake clamd's IDSESSION reply order, checked.
    pub fn session_order(&self) -> Result<fake_clamd::SessionOrder> {
        self.session_order
            .as_deref()
            .map_or(Ok(fake_clamd::SessionOrder::Clamd), parse_session_order)
    }

    /// Checks the settings without starting anything.
    pub fn validate(&self) -> Result<()> {
        self.queued_mode()?;
        self.limit_mode()?;
        self.session_order()?;
        Ok(())
    }
}

/// A running daemon for one case.
pub enum RunningDaemon {
    Clamd(fake_clamd::FakeClamd),
    Vfindd(fake_vfindd::FakeVfindd),
    /// Nothing listens at this address (the case's fault plan refuses the first
    /// connection): connecting is refused by the kernel.
    Refused(Refusal),
}

/// A loopback port where nothing listens, held for as long as the case runs: a socket
/// bound there without `SO_REUSEADDR` and never listening, so connecting is refused and no
/// other case (running beside this one) can be given the same port meanwhile.
#[derive(Debug)]
pub struct Refusal {
    addr: SocketAddr,
    _held: socket2::Socket,
}

impl Refusal {
    fn new() -> Result<Refusal> {
        use socket2::{Domain, Socket, Type};
        let io = |e| HarnessError::io("reserving a refused port", e);
        let s = Socket::new(Domain::IPV4, Type::STREAM, None).map_err(io)?;
        let any: SocketAddr = ([127, 0, 0, 1], 0).into();
        s.bind(&any.into()).map_err(io)?;
        let addr = s
            .local_addr()
            .map_err(io)?
            .as_socket()
            .ok_or_else(|| HarnessError::Daemon("refused port: not an IP address".into()))?;
        Ok(Refusal { addr, _held: s })
    }
}

impl RunningDaemon {
    /// Where the proxy (or, for a refusal, the client) connects.
    pub fn addr(&self) -> Result<SocketAddr> {
        match self {
            RunningDaemon::Clamd(c) => c
                .addr()
                .ok_or_else(|| HarnessError::Daemon("fake clamd has no TCP address".into())),
            RunningDaemon::Vfindd(v) => Ok(v.addr()),
            RunningDaemon::Refused(r) => Ok(r.addr),
        }
    }

    /// Where the proxy connects: the fake clamd's unix socket when it has one (a client on
    /// a unix socket may pass descriptors, CLAMD-FILDES-1, which TCP cannot carry), else
    /// [`RunningDaemon::addr`].
    pub fn upstream(&self) -> Result<Upstream> {
        match self {
            RunningDaemon::Clamd(c) => match c.socket_path() {
                Some(p) => Ok(Upstream::Unix(p.to_path_buf())),
                None => self.addr().map(Upstream::Tcp),
            },
            _ => self.addr().map(Upstream::Tcp),
        }
    }

    /// Which implementation runs: "fake-clamd", "fake-vfindd" or "refuse".
    pub fn implementation(&self) -> &'static str {
        match self {
            RunningDaemon::Clamd(_) => "fake-clamd",
            RunningDaemon::Vfindd(_) => "fake-vfindd",
            RunningDaemon::Refused(_) => "refuse",
        }
    }

    /// The daemon's account of its uploads (see [`Transcript::daemon_streams`]): the fake
    /// clamd's; SVSP has no INSTREAM. The fake keys it by peer: TCP addresses, and the
    /// abstract names the proxy binds its unix connections to.
    ///
    /// [`Transcript::daemon_streams`]: crate::transcript::Transcript::daemon_streams
    pub fn streams_read_whole(&self) -> Option<Vec<(fake_clamd::Peer, u64)>> {
        match self {
            // input read to its end: every stream the client sent was read
            RunningDaemon::Clamd(c) => Some(
                c.peer_uploads_read()
                    .into_iter()
                    .map(|(peer, a)| {
                        (
                            peer,
                            if a.read_to_end {
                                u64::MAX
                            } else {
                                a.streams_whole
                            },
                        )
                    })
                    .collect(),
            ),
            RunningDaemon::Vfindd(_) | RunningDaemon::Refused(_) => None,
        }
    }

    /// The peers whose connection the daemon refused at accept (fault `refuse`), by its own
    /// account (both fakes keep one); None where there is no daemon (a refusal by address).
    pub fn refused_peers(&self) -> Option<Vec<fake_clamd::Peer>> {
        match self {
            RunningDaemon::Clamd(c) => Some(
                c.peer_uploads_read()
                    .into_iter()
                    .filter(|(_, a)| a.refused)
                    .map(|(peer, _)| peer)
                    .collect(),
            ),
            RunningDaemon::Vfindd(v) => Some(
                v.refused_peers()
                    .into_iter()
                    .map(fake_clamd::Peer::Tcp)
                    .collect(),
            ),
            RunningDaemon::Refused(_) => None,
        }
    }

    /// The fake's fault counters (None for a refusal: no daemon counted anything).
    pub fn fault_stats(&self) -> Option<faults::Stats> {
        match self {
            RunningDaemon::Clamd(c) => Some(c.faults().stats()),
            RunningDaemon::Vfindd(v) => Some(v.faults().stats()),
            RunningDaemon::Refused(_) => None,
        }
    }
}

/// Starts the daemon a case asks for, on an ephemeral loopback port, with `plan` installed
/// (None: no faults). A plan that refuses the first connection gets no daemon: a
/// connection that must be refused needs no server.
pub async fn start(
    spec: &DaemonSpec,
    protocol: Protocol,
    plan: Option<faults::FaultPlan>,
) -> Result<RunningDaemon> {
    start_on(spec, protocol, Transport::Tcp, plan).await
}

/// [`start`] for a client on `transport`: a clamd client on a unix socket gets a fake clamd
/// that also listens on one (in a fresh temporary directory), so the descriptors of its
/// FILDES requests reach the fake (CLAMD-FILDES-5).
pub async fn start_on(
    spec: &DaemonSpec,
    protocol: Protocol,
    transport: Transport,
    plan: Option<faults::FaultPlan>,
) -> Result<RunningDaemon> {
    let plan = plan.unwrap_or_default();
    if plan::refuses_first_connection(&plan) {
        return Refusal::new().map(RunningDaemon::Refused);
    }
    let max = spec.stream_max_length(protocol);
    match protocol {
        Protocol::Clamd => {
            let b = fake_clamd::FakeClamd::builder();
            let b = match transport {
                Transport::Unix => b.unix_socket_in_temp(),
                Transport::Tcp => b,
            };
            b.stream_max_length(max)
                .stream_limit(spec.limit_mode()?)
                .session_order(spec.session_order()?)
                .session_seed(SESSION_SEED)
                .allow_shutdown(false)
                .record(false)
                .faults(plan)
                .start()
                .await
                .map(RunningDaemon::Clamd)
                .map_err(|e| HarnessError::Daemon(format!("fake clamd: {e}")))
        }
        Protocol::Svsp => fake_vfindd::FakeVfindd::builder()
            .threads(1)
            .queued(spec.queued_mode()?)
            .stream_max_length(max)
            .faults(plan)
            .start()
            .await
            .map(RunningDaemon::Vfindd)
            .map_err(|e| HarnessError::Daemon(format!("fake vfindd: {e}"))),
    }
}
