//! State shared by every connection of one server: configuration, scan environment, the
//! job queue, counters, the recorder and the fault set; the ACL predicate and the choices
//! that depend on the configuration alone.

use crate::config::{Config, QueuedMode};
use crate::queue::Queue;
use crate::record::Recorder;
use crate::scan::ScanEnv;
use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, AtomicUsize};
use std::sync::{Arc, Mutex};
use svsp_proto::{FormatOptions, ParseConfig};

/// State shared by all connections.
pub(crate) struct Shared {
    pub(crate) cfg: Config,
    pub(crate) env: ScanEnv,
    /// FIFO job queue towards the workers (SVSP-CONC-4).
    pub(crate) queue: Queue,
    pub(crate) conns: AtomicUsize,
    /// Number of the next connection (1-based, in accept order; never reset, so a reset
    /// of the record never mixes two connections).
    pub(crate) next_conn: AtomicU64,
    /// `--queued=random:<seed>` state.
    pub(crate) rng: Mutex<u64>,
    pub(crate) recorder: Arc<Recorder>,
    pub(crate) faults: faults::FaultSet,
    pub(crate) refusals: Arc<Refusals>,
}

/// Peers remembered as refused; the oldest are forgotten first (a long-running daemon must
/// not grow).
const MAX_REFUSED: usize = 1024;

/// The peers whose connection the daemon refused at accept (fault `refuse`), oldest first: a
/// recording proxy in front cannot tell from its side whether its connect met the reset or
/// relayed bytes first (the harness's snapshots say so by this account, not by timing).
#[derive(Debug, Default)]
pub(crate) struct Refusals(Mutex<VecDeque<SocketAddr>>);

impl Refusals {
    pub(crate) fn push(&self, peer: SocketAddr) {
        let mut q = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if q.len() >= MAX_REFUSED {
            q.pop_front();
        }
        q.push_back(peer);
    }

    pub(crate) fn list(&self) -> Vec<SocketAddr> {
        let q = self.0.lock().unwrap_or_else(|p| p.into_inner());
        q.iter().copied().collect()
    }
}

impl Shared {
    pub(crate) fn parse_config(&self) -> ParseConfig {
        ParseConfig {
            profile: self.cfg.profile,
            enable_future: self.cfg.enable_future,
            stream_max_length: self.cfg.stream_max_length,
        }
    }

    pub(crate) fn format(&self) -> FormatOptions {
        FormatOptions {
            eol: self.cfg.eol,
            lowercase_keywords: self.cfg.quirks.lowercase_keywords,
        }
    }

    /// SVSP-RESP-QUEUED-1 modes.
    pub(crate) fn want_queued(&self) -> bool {
        match self.cfg.queued {
            QueuedMode::Always => true,
            QueuedMode::Never => false,
            QueuedMode::WhenDelayed => !self.queue.worker_free(),
            QueuedMode::Random(_) => {
                let mut s = self.rng.lock().unwrap_or_else(|p| p.into_inner());
                // splitmix64
                *s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
                let mut z = *s;
                z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
                (z ^ (z >> 31)) & 1 == 1
            }
        }
    }

    /// SVSP-CONN-2: whether a peer may connect (`--allow`, `--localhost`).
    pub(crate) fn allowed(&self, ip: IpAddr) -> bool {
        (!self.cfg.localhost_only
            || ip.is_loopback()
            || matches!(ip, IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())))
            && self.cfg.allow.iter().any(|c| c.contains(ip))
    }
}
