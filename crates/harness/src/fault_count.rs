//! Fault-plan cases on an embedded fake whose fault counters the harness can read after the
//! client ran (issue 14 item 4: a fault that never fired makes the case not applicable).
//!
//! `daemon::start` keeps its fake private; this starts the same fake with the same settings
//! and keeps the handle, so that `FaultSet::stats` can be read.

use std::net::SocketAddr;

use crate::daemon::{DaemonSpec, QueuedMode};
use crate::error::{HarnessError, Result};
use crate::profile::Protocol;

/// A running fake with a case's fault plan installed.
pub enum CountedFake {
    Clamd(fake_clamd::FakeClamd),
    Vfindd(fake_vfindd::FakeVfindd),
}

impl CountedFake {
    /// Starts the embedded fake for `protocol` with `spec`'s settings and `plan`, as
    /// `daemon::start` does for a case with `faults`.
    pub async fn start(
        spec: &DaemonSpec,
        protocol: Protocol,
        plan: faults::FaultPlan,
    ) -> Result<CountedFake> {
        let cfg = spec.script_config(protocol)?;
        match protocol {
            Protocol::Clamd => {
                let mode: fake_clamd::StreamLimitMode = spec
                    .limit_mode
                    .as_deref()
                    .unwrap_or("reply-drain")
                    .parse()
                    .map_err(HarnessError::Daemon)?;
                let clamd = fake_clamd::FakeClamd::builder()
                    .stream_max_length(cfg.stream_max_length)
                    .stream_limit(mode)
                    .allow_shutdown(false)
                    .record(false)
                    .faults(plan)
                    .start()
                    .await
                    .map_err(|e| HarnessError::Daemon(format!("fake clamd: {e}")))?;
                Ok(CountedFake::Clamd(clamd))
            }
            Protocol::Svsp => {
                let queued = match cfg.queued {
                    QueuedMode::Always => fake_vfindd::QueuedMode::Always,
                    QueuedMode::Never => fake_vfindd::QueuedMode::Never,
                    QueuedMode::Random(s) => fake_vfindd::QueuedMode::Random(s),
                };
                let v = fake_vfindd::FakeVfindd::builder()
                    .threads(1)
                    .queued(queued)
                    .stream_max_length(cfg.stream_max_length)
                    .fault_plan(plan)
                    .start()
                    .await
                    .map_err(|e| HarnessError::Daemon(format!("fake vfindd: {e}")))?;
                Ok(CountedFake::Vfindd(v))
            }
        }
    }

    pub fn addr(&self) -> Result<SocketAddr> {
        match self {
            CountedFake::Clamd(c) => c
                .addr()
                .ok_or_else(|| HarnessError::Daemon("fake clamd has no TCP address".into())),
            CountedFake::Vfindd(v) => Ok(v.addr()),
        }
    }

    pub fn implementation(&self) -> &'static str {
        match self {
            CountedFake::Clamd(_) => "fake-clamd",
            CountedFake::Vfindd(_) => "fake-vfindd",
        }
    }

    /// How many times the plan's rules fired so far (all rules together).
    pub fn faults_fired(&self) -> u64 {
        let set = match self {
            CountedFake::Clamd(c) => c.faults(),
            CountedFake::Vfindd(v) => v.faults(),
        };
        set.stats().rules.iter().map(|r| r.fired).sum()
    }
}
