//! One accepted scan request: it reaches the queue (QUEUED), waits for a worker, scans on a
//! blocking thread and writes its lines; or, with an injected verdict, writes that instead.
//! Its terminal line is the verdict point of the fault plan (`verdict = true` rules).

use crate::scan::{run_request, Target};
use crate::shared::Shared;
use crate::writer::{Lines, Out};
use faults::{Action, ConnFaults, Event as FaultEvent, ForcedReply, ReplyText};
use std::sync::Arc;
use svsp_proto::{Body, ErrorReply, Id, OptionState};
use tracing::{debug, warn};

/// One accepted request's context.
pub(crate) struct ReqCtx {
    pub(crate) shared: Arc<Shared>,
    pub(crate) lines: Lines,
    pub(crate) id: Option<Id>,
    /// The options as they were when the request was accepted (SVSP-CONC-3).
    pub(crate) opts: OptionState,
    /// The connection's faults.
    pub(crate) faults: Arc<ConnFaults>,
    /// The request's number on its connection (the `request` trigger).
    pub(crate) request: u64,
    /// Injected verdict / error for this request (fired at its command).
    pub(crate) forced: Option<ForcedReply>,
    /// Injected reply text for this request (fired at its command).
    pub(crate) reply: Option<ReplyText>,
}

/// The SVSP body of an injected error / errno reply. Without a text, an errno names
/// `target` when there is one (`EACCES "<path>"`, as a scan that failed on it would).
pub(crate) fn forced_error(f: &ForcedReply, target: Option<&[u8]>) -> Option<Body> {
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
            let text = match (text, &errno, target) {
                (Some(t), _, _) => t.clone().into_bytes(),
                (None, svsp_proto::Errno::Eagain, _) => b"Server busy".to_vec(),
                (None, svsp_proto::Errno::Efault, _) => b"Internal error".to_vec(),
                (None, _, Some(t)) => svsp_proto::quote(t),
                (None, _, None) => b"Injected error".to_vec(),
            };
            Some(Body::Error { errno, text })
        }
        ForcedReply::Infected(_) | ForcedReply::Clean => None,
    }
}

/// A framed reply text (`[<id> ]<text><EOL>`) or, raw, the bytes as they are.
pub(crate) fn reply_out(id: &Option<Id>, r: &ReplyText) -> Out {
    if r.raw {
        Out::Raw(r.bytes())
    } else {
        Out::Line(svsp_proto::Response::with_id(
            id.clone(),
            Body::Unknown(r.bytes()),
        ))
    }
}

fn target_name(target: &Target) -> &[u8] {
    match target {
        Target::Path { name, .. } | Target::Fed { name, .. } => name,
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
        if let Some(r) = &self.reply {
            // injected reply text in the place of the whole scan output
            drop(permit);
            let _ = self.lines.control(reply_out(&self.id, r)).await;
            return;
        }
        if let Some(f) = &self.forced {
            drop(permit);
            self.forced_verdict(f, &target).await;
            return;
        }
        let name = target_name(&target).to_vec();
        let shared = self.shared.clone();
        let lines = self.lines.clone();
        let id = self.id.clone();
        let opts = self.opts.clone();
        let res = tokio::task::spawn_blocking(move || {
            let cancelled = lines.cancelled.clone();
            let mut emit = |body: Body| lines.blocking_send(&id, body);
            let verdict = run_request(&shared.env, &opts, target, &cancelled, &mut emit);
            (verdict, permit)
        })
        .await;
        match res {
            Ok((Some(verdict), permit)) => {
                // the worker stays busy until its verdict is queued (SVSP-CONC-4 order)
                self.finish(verdict, &name).await;
                drop(permit);
            }
            Ok((None, _)) => {} // cancelled: the connection is gone
            Err(_) => {
                // SVSP-ERR-EFAULT-1: a panicking worker; the connection survives.
                warn!("scan worker failed");
                self.send(ErrorReply::InternalError.body()).await;
            }
        }
    }

    /// An injected verdict: the SVSP-RESP-INFECTED-1 / SVSP-RESP-DONE-1 lines, or an error.
    async fn forced_verdict(&self, f: &ForcedReply, target: &Target) {
        let name = target_name(target).to_vec();
        let done = |count| Body::Done {
            count: Some(count),
            target: name.clone(),
            sha1: None,
        };
        let (lines, verdict) = match f {
            ForcedReply::Infected(virus) => (
                vec![
                    Body::Scanning(vec![name.clone()]),
                    Body::Infected {
                        virus: virus.as_bytes().to_vec(),
                        name: vec![name.clone()],
                        message: Vec::new(),
                    },
                ],
                done(1),
            ),
            ForcedReply::Clean => (vec![Body::Scanning(vec![name.clone()])], done(0)),
            other => match forced_error(other, None) {
                Some(b) => (Vec::new(), b),
                None => return,
            },
        };
        for b in lines {
            if !self.send(b).await {
                return;
            }
        }
        self.finish(verdict, &name).await;
    }

    /// Writes the verdict (the terminal line), after the faults at the verdict had their say.
    async fn finish(&self, verdict: Body, target: &[u8]) {
        let ev = FaultEvent::Verdict {
            name: "SCAN",
            request: Some(self.request),
        };
        if let Some(a) = self.faults.event(ev) {
            debug!(?a, "injected fault at the verdict");
            match a {
                Action::Drop | Action::Timeout => {
                    // no verdict, FIN (SVSP has no timeout message: a silent close)
                    self.lines.close(Out::Close).await;
                }
                Action::Reset | Action::Refuse | Action::Denied => {
                    self.lines.close(Out::Reset).await;
                }
                Action::NeverReply => self.lines.silence(),
                Action::StopReading(hold) => self.lines.stop_reading(hold),
                Action::StreamLimit(_) => {
                    self.send(ErrorReply::SizeLimitExceeded(target.to_vec()).body())
                        .await;
                }
                Action::Reply(f) => {
                    if let Some(b) = forced_error(&f, Some(target)) {
                        self.send(b).await;
                    }
                }
            }
            return;
        }
        if self.faults.shapes_writes() {
            // truncate, garbage, delay: shape the verdict line
            self.lines.control(Out::Mark).await;
        }
        let forced = match self.faults.take_forced() {
            Some(f) => forced_error(&f, Some(target)),
            None => None,
        };
        if let Some(r) = self.faults.take_reply() {
            self.lines.control(reply_out(&self.id, &r)).await;
        } else {
            self.send(forced.unwrap_or(verdict)).await;
        }
    }
}
