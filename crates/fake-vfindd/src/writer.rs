//! The output side of a control connection: one task per connection writes the lines queued
//! by the session and its requests, each whole and flushed (SVSP-FRAME-6), shaped by
//! injected faults once they fired.

use crate::record::Recorder;
use faults::{Action, ConnFaults, Event as FaultEvent};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use svsp_proto::{Body, FormatOptions, Id, Response};
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::{mpsc, watch};
use tracing::debug;

/// Lines queued towards one connection's writer.
pub(crate) const OUT_QUEUE: usize = 256;

/// What the writer task is told.
pub(crate) enum Out {
    Line(Response),
    /// Bytes as they are (an injected raw reply).
    Raw(Vec<u8>),
    Close,
    /// Injected reset: abort with RST instead of FIN.
    Reset,
    /// Injected faults fired: shape the lines from here on (keeps lines queued before the
    /// fault untouched).
    Mark,
}

/// A line sender shared by a session and its requests.
#[derive(Clone)]
pub(crate) struct Lines {
    pub(crate) tx: mpsc::Sender<Out>,
    /// The connection is gone or closing: nothing more is sent.
    pub(crate) cancelled: Arc<AtomicBool>,
    /// Injected `never-reply`: lines are dropped, the connection stays open.
    silent: Arc<AtomicBool>,
    /// Injected `stop-reading` fired outside the session's own reads.
    stall: Stall,
}

/// Stops a session's reads from outside it (a `stop-reading` fired at the verdict or after
/// a reply). Holds no line sender, so the writer may keep one.
#[derive(Clone)]
pub(crate) struct Stall {
    silent: Arc<AtomicBool>,
    hold: Arc<watch::Sender<Option<Duration>>>,
}

impl Stall {
    /// Injected `stop-reading` (SVSP-CLIENT-19): nothing more is written, and the session
    /// stops reading the connection for `hold` ([`Lines::stalled`]), then resets it.
    pub(crate) fn stop_reading(&self, hold: Duration) {
        self.silent.store(true, Ordering::SeqCst);
        self.hold.send_replace(Some(hold));
    }
}

impl Lines {
    /// A sender and the receiver for [`writer`].
    pub(crate) fn new() -> (Lines, mpsc::Receiver<Out>) {
        let (tx, rx) = mpsc::channel(OUT_QUEUE);
        let silent = Arc::new(AtomicBool::new(false));
        let lines = Lines {
            tx,
            cancelled: Arc::new(AtomicBool::new(false)),
            stall: Stall {
                silent: silent.clone(),
                hold: Arc::new(watch::channel(None).0),
            },
            silent,
        };
        (lines, rx)
    }

    /// Queues one line; false = the connection is gone.
    pub(crate) async fn send(&self, id: &Option<Id>, body: Body) -> bool {
        match self.line(id, body) {
            Ok(out) => self.tx.send(out).await.is_ok(),
            Err(alive) => alive,
        }
    }

    /// [`Self::send`] from a worker thread.
    pub(crate) fn blocking_send(&self, id: &Option<Id>, body: Body) -> bool {
        match self.line(id, body) {
            Ok(out) => self.tx.blocking_send(out).is_ok(),
            Err(alive) => alive,
        }
    }

    /// The line to queue; or, when there is nothing to queue (cancelled, or silenced by a
    /// fault), whether the connection is still there.
    fn line(&self, id: &Option<Id>, body: Body) -> Result<Out, bool> {
        let alive = !self.cancelled.load(Ordering::SeqCst);
        if !alive || self.is_silent() {
            return Err(alive);
        }
        Ok(Out::Line(Response::with_id(id.clone(), body)))
    }

    /// Tells the writer something other than a line (close, reset, shaping mark, raw
    /// bytes); raw bytes obey cancel and silence as lines do.
    pub(crate) async fn control(&self, out: Out) {
        let mute = self.cancelled.load(Ordering::SeqCst) || self.is_silent();
        if matches!(out, Out::Raw(_)) && mute {
            return;
        }
        let _ = self.tx.send(out).await;
    }

    /// Nothing more is sent; the writer ends the connection with `how` (`Close`, `Reset`)
    /// after the lines queued so far.
    pub(crate) async fn close(&self, how: Out) {
        self.cancelled.store(true, Ordering::SeqCst);
        let _ = self.tx.send(how).await;
    }

    /// Injected `never-reply`: from now on nothing is written and input is discarded.
    pub(crate) fn silence(&self) {
        self.silent.store(true, Ordering::SeqCst);
    }

    /// See [`Stall::stop_reading`].
    pub(crate) fn stop_reading(&self, hold: Duration) {
        self.stall.stop_reading(hold);
    }

    /// The handle that stops this connection's reads, for the writer.
    pub(crate) fn stall(&self) -> Stall {
        self.stall.clone()
    }

    /// Changes when [`Stall::stop_reading`] is called.
    pub(crate) fn stalled(&self) -> watch::Receiver<Option<Duration>> {
        self.stall.hold.subscribe()
    }

    /// Whether [`Self::silence`] was called.
    pub(crate) fn is_silent(&self) -> bool {
        self.silent.load(Ordering::SeqCst)
    }
}

/// Where the writer's bytes go besides the socket.
pub(crate) struct Sink {
    pub(crate) fmt: FormatOptions,
    pub(crate) recorder: Arc<Recorder>,
    /// The connection's number in the record.
    pub(crate) conn: u64,
    pub(crate) faults: Arc<ConnFaults>,
    /// How long one write may wait for the peer to read ([`crate::Config::send_timeout`]).
    pub(crate) send_timeout: Duration,
    /// Stops the session's reads (`stop-reading` after a reply).
    pub(crate) stall: Stall,
}

/// Why the writer stops writing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    /// The connection failed, or an injected fault closes it after this line.
    Close,
    /// The peer took nothing for the send timeout: reset, so that neither this task nor
    /// the kernel keeps the unread lines.
    Stalled,
}

/// Writes `bytes`, shaped by injected faults; `Err` = stop writing.
async fn write_shaped(wr: &mut OwnedWriteHalf, bytes: &[u8], sink: &Sink) -> Result<(), Stop> {
    let cf = &sink.faults;
    if !cf.shapes_writes() {
        return write_whole(wr, bytes, sink).await;
    }
    let plan = cf.write_plan(bytes);
    for p in plan.pieces {
        if !p.delay.is_zero() {
            tokio::time::sleep(p.delay).await;
        }
        write_whole(wr, &p.bytes, sink).await?;
    }
    if plan.close_after {
        return Err(Stop::Close);
    }
    Ok(())
}

/// SVSP-FRAME-6: written whole and flushed at once, within the send timeout.
async fn write_whole(wr: &mut OwnedWriteHalf, bytes: &[u8], sink: &Sink) -> Result<(), Stop> {
    let write = async {
        wr.write_all(bytes).await?;
        wr.flush().await
    };
    match tokio::time::timeout(sink.send_timeout, write).await {
        Ok(Ok(())) => {}
        Ok(Err(_)) => return Err(Stop::Close),
        Err(_) => {
            debug!("peer took no reply for {:?}: reset", sink.send_timeout);
            return Err(Stop::Stalled);
        }
    }
    sink.faults.bytes_out(bytes.len());
    sink.recorder.sent(sink.conn, bytes);
    Ok(())
}

/// The writer task of one connection: runs until told to close or the peer is gone. After
/// each line it reports the written reply to the fault set (`replies = N` rules).
pub(crate) async fn writer(mut wr: OwnedWriteHalf, mut rx: mpsc::Receiver<Out>, sink: Sink) {
    let mut lines = 0u64;
    let mut armed = false;
    let mut reset = false;
    while let Some(out) = rx.recv().await {
        let bytes = match out {
            Out::Line(resp) => resp.encode(sink.fmt),
            Out::Raw(bytes) => bytes,
            Out::Close => break,
            Out::Mark => {
                armed = true;
                continue;
            }
            Out::Reset => {
                reset = true;
                break;
            }
        };
        let wrote = if armed {
            write_shaped(&mut wr, &bytes, &sink).await
        } else {
            write_whole(&mut wr, &bytes, &sink).await
        };
        if let Err(stop) = wrote {
            reset = stop == Stop::Stalled;
            break;
        }
        lines += 1;
        // lines queued before a fault stay untouched: arm only for shaping this event fired
        let shaped_before = sink.faults.shapes_writes();
        match sink.faults.event(FaultEvent::Reply { n: lines }) {
            Some(Action::Reset) => {
                reset = true;
                break;
            }
            Some(Action::Drop | Action::Timeout) => {
                debug!("fault: closing after {lines} lines");
                break;
            }
            Some(Action::NeverReply) => {
                // keep the connection, write nothing more
                while rx.recv().await.is_some() {}
                return;
            }
            // the session stops reading; this loop gets nothing more to write, then the
            // session's reset
            Some(Action::StopReading(hold)) => sink.stall.stop_reading(hold),
            _ => {}
        }
        armed = armed || (!shaped_before && sink.faults.shapes_writes());
    }
    if reset {
        // linger 0: the close becomes an immediate RST; no FIN from this half
        #[allow(deprecated)]
        let _ = wr.as_ref().set_linger(Some(Duration::ZERO));
        wr.forget();
        return;
    }
    let _ = wr.shutdown().await;
}
