//! Daemons a case runs against: the embedded fakes (with the case's fault plan, in the
//! shared `faults` vocabulary, installed) or the harness's own scripted servers, which
//! produce the older `daemon.fault` faults (kept for faults and shapes the fakes do not
//! offer).

pub mod plan;
pub mod scan;
pub mod scripted_clamd;
pub mod scripted_svsp;

use std::net::SocketAddr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::error::{HarnessError, Result};
use crate::profile::Protocol;

/// Which server implementation runs a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DaemonKind {
    /// The embedded fake daemon when it is built in and the case needs no scripted fault,
    /// else the scripted server.
    #[default]
    Auto,
    /// The embedded fake daemon (fails when it is not built in).
    Fake,
    /// The harness's scripted server.
    Scripted,
}

/// A protocol fault the scripted servers produce at the scan reply.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Fault {
    #[default]
    None,
    /// Reply this text instead of the verdict (clamd: framed with the session id and the
    /// command's terminator unless `raw`; SVSP: prefixed with the request id), then close.
    /// clamd, inside IDSESSION: a per-file reply (`<subject>: ... OK|FOUND|ERROR`) keeps the
    /// session going, as clamd does (CLAMD-REPLY-4).
    Reply {
        text: String,
        #[serde(default)]
        raw: bool,
    },
    /// Close as soon as the scan command has arrived, before reading any data.
    CloseEarly,
    /// Read the whole request, then close without a reply.
    CloseBeforeReply,
    /// Send the first half of the reply without its terminator, then close.
    CloseMidReply,
    /// Read the request and never answer (the client must time out).
    Silent,
    /// clamd: `COMMAND READ TIMED OUT\n` after the request, then close.
    ReadTimeout,
    /// Nothing listens at the address the client gets (connection refused).
    Refuse,
    /// SVSP: answer `DENIED` instead of `READY`.
    Denied,
    /// SVSP: end the scan request with this errno line (`EACCES "<path>"` style).
    Errno { name: String },
}

/// The daemon part of a case.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DaemonSpec {
    #[serde(default)]
    pub kind: DaemonKind,
    /// clamd StreamMaxLength (bytes); SVSP stream limit for REQUEST/PORT data.
    pub stream_max_length: Option<u64>,
    #[serde(default)]
    pub fault: Fault,
    /// SVSP QUEUED mode: `always` (default), `never`, `random:<seed>`.
    pub queued: Option<String>,
    /// Write each reply in pieces of this many bytes.
    pub split_reply: Option<usize>,
    /// Pause before each reply piece, milliseconds.
    pub delay_ms: Option<u64>,
    /// Detect EICAR anywhere in the data (default: the whole file must be EICAR, like
    /// ClamAV's hash signature). Scripted servers only.
    #[serde(default)]
    pub eicar_anywhere: bool,
    /// Fake clamd: what follows `INSTREAM size limit exceeded` (`faithful`, `close`,
    /// `reply-drain` (default here, deterministic), `reset`), CLAMD-INSTREAM-8.
    pub limit_mode: Option<String>,
}

/// Settings the scripted servers run with.
#[derive(Debug, Clone)]
pub struct ScriptConfig {
    pub stream_max_length: u64,
    pub fault: Fault,
    pub queued: QueuedMode,
    pub split_reply: Option<usize>,
    pub delay: std::time::Duration,
    pub eicar_anywhere: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueuedMode {
    Always,
    Never,
    Random(u64),
}

impl DaemonSpec {
    pub fn script_config(&self, protocol: Protocol) -> Result<ScriptConfig> {
        let queued = match self.queued.as_deref() {
            None | Some("always") => QueuedMode::Always,
            Some("never") => QueuedMode::Never,
            Some(other) => match other.strip_prefix("random:").and_then(|s| s.parse().ok()) {
                Some(seed) => QueuedMode::Random(seed),
                None => {
                    return Err(HarnessError::Daemon(format!(
                        "queued = {other:?}: want always, never or random:<seed>"
                    )))
                }
            },
        };
        let default_max = match protocol {
            Protocol::Clamd => 100 << 20,
            Protocol::Svsp => 1 << 20,
        };
        Ok(ScriptConfig {
            stream_max_length: self.stream_max_length.unwrap_or(default_max),
            fault: self.fault.clone(),
            queued,
            split_reply: self.split_reply.filter(|n| *n > 0),
            delay: std::time::Duration::from_millis(self.delay_ms.unwrap_or(0)),
            eicar_anywhere: self.eicar_anywhere,
        })
    }
}

/// A running daemon for one case.
pub struct RunningDaemon {
    /// Where the proxy (or, for `refuse`, the client) connects.
    pub addr: SocketAddr,
    /// Which implementation runs: "scripted-clamd", "fake-clamd", ...
    pub implementation: &'static str,
    task: Option<JoinHandle<()>>,
    _fake: Option<Box<dyn std::any::Any + Send>>,
}

impl Drop for RunningDaemon {
    fn drop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

/// Whether the embedded fake for a protocol is built in.
pub fn fake_available(_protocol: Protocol) -> bool {
    true
}

/// Whether a case can run on the embedded fake (it has no scripted-only behaviour).
pub fn fits_fake(spec: &DaemonSpec) -> bool {
    spec.fault == Fault::None
        && spec.split_reply.is_none()
        && spec.delay_ms.is_none()
        && !spec.eicar_anywhere
}

async fn start_fake(
    spec: &DaemonSpec,
    cfg: &ScriptConfig,
    protocol: Protocol,
    plan: faults::FaultPlan,
) -> Result<RunningDaemon> {
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
            let addr = clamd
                .addr()
                .ok_or_else(|| HarnessError::Daemon("fake clamd has no TCP address".into()))?;
            Ok(RunningDaemon {
                addr,
                implementation: "fake-clamd",
                task: None,
                _fake: Some(Box::new(clamd)),
            })
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
            let addr = v.addr();
            Ok(RunningDaemon {
                addr,
                implementation: "fake-vfindd",
                task: None,
                _fake: Some(Box::new(v)),
            })
        }
    }
}

/// Starts the daemon a case asks for, on an ephemeral loopback port. A fault plan (the
/// case's `faults`) always runs on the embedded fake.
pub async fn start(
    spec: &DaemonSpec,
    protocol: Protocol,
    plan: Option<faults::FaultPlan>,
) -> Result<RunningDaemon> {
    let cfg = Arc::new(spec.script_config(protocol)?);
    let use_fake = match spec.kind {
        DaemonKind::Scripted => false,
        DaemonKind::Fake => true,
        DaemonKind::Auto => plan.is_some() || (fake_available(protocol) && fits_fake(spec)),
    };
    if plan.is_some() && !use_fake {
        return Err(HarnessError::Daemon(
            "fault rules (`faults`) need the embedded fake daemon, not daemon.kind = \"scripted\""
                .into(),
        ));
    }
    if use_fake {
        if !fits_fake(spec) {
            return Err(HarnessError::Daemon(
                "daemon.kind = \"fake\" with a scripted-only setting (fault, split_reply, delay_ms, eicar_anywhere)".into(),
            ));
        }
        return start_fake(spec, &cfg, protocol, plan.unwrap_or_default()).await;
    }
    if cfg.fault == Fault::Refuse {
        // Bind, note the port, close: connecting there is refused.
        let l = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| HarnessError::io("bind", e))?;
        let addr = l.local_addr().map_err(|e| HarnessError::io("addr", e))?;
        drop(l);
        return Ok(RunningDaemon {
            addr,
            implementation: "refuse",
            task: None,
            _fake: None,
        });
    }
    let l = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| HarnessError::io("bind scripted daemon", e))?;
    let addr = l.local_addr().map_err(|e| HarnessError::io("addr", e))?;
    let (task, implementation) = match protocol {
        Protocol::Clamd => (
            tokio::spawn(scripted_clamd::serve(l, cfg)),
            "scripted-clamd",
        ),
        Protocol::Svsp => (tokio::spawn(scripted_svsp::serve(l, cfg)), "scripted-svsp"),
    };
    Ok(RunningDaemon {
        addr,
        implementation,
        task: Some(task),
        _fake: None,
    })
}

/// Writes a reply honouring `split_reply` and `delay`.
pub(crate) async fn write_reply<W: tokio::io::AsyncWrite + Unpin>(
    w: &mut W,
    cfg: &ScriptConfig,
    bytes: &[u8],
) -> std::io::Result<()> {
    use tokio::io::AsyncWriteExt;
    let piece = cfg.split_reply.unwrap_or(bytes.len().max(1));
    for part in bytes.chunks(piece) {
        if !cfg.delay.is_zero() {
            tokio::time::sleep(cfg.delay).await;
        }
        w.write_all(part).await?;
        w.flush().await?;
    }
    Ok(())
}
