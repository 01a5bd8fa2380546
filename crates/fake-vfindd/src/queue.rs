//! The job queue and its workers (SVSP-CONC-4): requests wait in one FIFO shared by all
//! connections and run on at most `--threads` workers at once. Knows nothing of SVSP: a job
//! is a closure that gets its worker permit.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit, Semaphore};

/// What a job does once a worker is free; it holds the permit while it runs.
pub(crate) type Work =
    Box<dyn FnOnce(OwnedSemaphorePermit) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send>;

struct Job {
    work: Work,
    done: oneshot::Sender<()>,
}

/// The FIFO queue towards the workers (cheap to clone).
#[derive(Clone)]
pub(crate) struct Queue {
    tx: mpsc::UnboundedSender<Job>,
    workers: Arc<Semaphore>,
}

impl Queue {
    /// A queue with `threads` workers; the returned task hands jobs out until aborted.
    pub(crate) fn start(threads: usize) -> (Queue, tokio::task::JoinHandle<()>) {
        let workers = Arc::new(Semaphore::new(threads));
        let (tx, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(dispatcher(rx, workers.clone()));
        (Queue { tx, workers }, task)
    }

    /// Whether a worker is free right now (`--queued=when-delayed`).
    pub(crate) fn worker_free(&self) -> bool {
        self.workers.available_permits() > 0
    }

    /// Puts `work` on the queue now (acceptance order); the future ends with the job.
    pub(crate) fn enqueue(&self, work: Work) -> impl Future<Output = ()> {
        let (done, rx) = oneshot::channel();
        let _ = self.tx.send(Job { work, done });
        async move {
            let _ = rx.await;
        }
    }
}

/// Hands jobs to workers strictly in queue order.
async fn dispatcher(mut rx: mpsc::UnboundedReceiver<Job>, workers: Arc<Semaphore>) {
    while let Some(job) = rx.recv().await {
        let Ok(permit) = workers.clone().acquire_owned().await else {
            return;
        };
        tokio::spawn(async move {
            (job.work)(permit).await;
            let _ = job.done.send(());
        });
    }
}
