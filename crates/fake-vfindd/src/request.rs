//! One accepted scan request: it reaches the queue (QUEUED), waits for a worker, scans on a
//! blocking thread and writes its lines; or, with an injected verdict, writes that instead.

use crate::scan::{run_request, Target};
use crate::shared::Shared;
use crate::writer::Lines;
use faults::ForcedReply;
use std::sync::Arc;
use svsp_proto::{Body, ErrorReply, Id, OptionState};
use tracing::warn;

/// One accepted request's context.
pub(crate) struct ReqCtx {
    pub(crate) shared: Arc<Shared>,
    pub(crate) lines: Lines,
    pub(crate) id: Option<Id>,
    /// The options as they were when the request was accepted (SVSP-CONC-3).
    pub(crate) opts: OptionState,
    /// Legacy `efault-every`: EFAULT in place of DONE.
    pub(crate) efault: bool,
    /// Injected verdict / error for this request.
    pub(crate) forced: Option<ForcedReply>,
}

/// The SVSP body of an injected error / errno reply.
pub(crate) fn forced_error(f: &ForcedReply) -> Option<Body> {
    match f {
        ForcedReply::Error(text) => Some(Body::Error {
            errno: svsp_proto::Errno::Efault,
            text: text.as_bytes().to_vec(),
        }),
        ForcedReply::Errno { name, text } => {
            let errno = svsp_proto::Errno::KNOWN
                .into_iter()
                .find(|e| e.as_str().eq_ignore_ascii_case(name))
                .unwrap_or_else(|| svsp_proto::Errno::Other(name.to_ascii_uppercase()));
            let text = text.clone().unwrap_or_else(|| {
                match errno {
                    svsp_proto::Errno::Eagain => "Server busy",
                    svsp_proto::Errno::Efault => "Internal error",
                    _ => "Injected error",
                }
                .to_string()
            });
            Some(Body::Error {
                errno,
                text: text.into_bytes(),
            })
        }
        ForcedReply::Infected(_) | ForcedReply::Clean => None,
    }
}

impl ReqCtx {
    pub(crate) async fn send(&self, body: Body) -> bool {
        self.lines.send(&self.id, body).await
    }

    /// Stream sources reach the queue once their data is complete (SVSP-RESP-QUEUED-1, INC-35).
    pub(crate) async fn queue_and_run(self, target: Target) {
        if self.shared.want_queued() && !self.send(Body::Queued).await {
            return;
        }
        self.enqueue(target).await;
    }

    /// Puts the request on the FIFO queue now; the returned future ends with the request.
    pub(crate) fn enqueue(self, target: Target) -> impl std::future::Future<Output = ()> {
        let queue = self.shared.queue.clone();
        queue.enqueue(Box::new(move |permit| {
            Box::pin(self.execute(target, permit))
        }))
    }

    /// Scans on a blocking thread while holding a worker permit.
    async fn execute(self, target: Target, permit: tokio::sync::OwnedSemaphorePermit) {
        if let Some(f) = &self.forced {
            drop(permit);
            self.forced_verdict(f, &target).await;
            return;
        }
        let shared = self.shared.clone();
        let lines = self.lines.clone();
        let id = self.id.clone();
        let opts = self.opts;
        let efault = self.efault;
        let res = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let cancelled = lines.cancelled.clone();
            let mut emit = |body: Body| lines.blocking_send(&id, body);
            run_request(&shared.env, &opts, target, efault, &cancelled, &mut emit);
        })
        .await;
        if res.is_err() {
            // SVSP-ERR-EFAULT-1: a panicking worker; the connection survives.
            warn!("scan worker failed");
            self.lines
                .send(&self.id, ErrorReply::InternalError.body())
                .await;
        }
    }

    /// An injected verdict: the SVSP-RESP-INFECTED-1 / SVSP-RESP-DONE-1 lines, or an error.
    async fn forced_verdict(&self, f: &ForcedReply, target: &Target) {
        let target_name = match target {
            Target::Path { name, .. } | Target::Stream { name, .. } => name.clone(),
        };
        let scanning = Body::Scanning(vec![target_name.clone()]);
        let bodies = match f {
            ForcedReply::Infected(virus) => vec![
                scanning,
                Body::Infected {
                    virus: virus.as_bytes().to_vec(),
                    name: vec![target_name.clone()],
                    message: Vec::new(),
                },
                Body::Done {
                    count: Some(1),
                    target: target_name,
                    sha1: None,
                },
            ],
            ForcedReply::Clean => vec![
                scanning,
                Body::Done {
                    count: Some(0),
                    target: target_name,
                    sha1: None,
                },
            ],
            other => forced_error(other).into_iter().collect(),
        };
        for b in bodies {
            if !self.lines.send(&self.id, b).await {
                break;
            }
        }
    }
}
