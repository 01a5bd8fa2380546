//! Scans a data channel while it arrives: the reader hands each read buffer to a blocking
//! thread that feeds the streaming tree scanner, so the bytes are never collected whole and
//! matching overlaps the network reads. Memory per channel: `DEPTH + 2` read buffers (plus
//! the engine's spool for a container, which spills to a temporary file).

use scan_engine::TreeScanner;
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;

/// One read from a data channel at most (the bound on the buffers in flight).
pub(crate) const CHUNK: usize = 64 * 1024;
/// Buffers queued towards the scan thread before the reader waits (back-pressure).
const DEPTH: usize = 4;

/// A data channel's bytes, fed through the scanner: finish it on a worker.
pub struct Fed {
    /// `None`: the name is excluded and nothing was scanned (SVSP-OPT-EXCLUDE-1).
    pub(crate) scanner: Option<Box<TreeScanner>>,
    /// The first spool error of `update` (reported as the scan's error, as before).
    pub(crate) error: Option<std::io::Error>,
}

impl std::fmt::Debug for Fed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fed")
            .field("bytes", &self.scanner.as_ref().map(|s| s.size()))
            .field("error", &self.error)
            .finish()
    }
}

/// The reading side of one channel's scan thread.
pub(crate) struct Feeder {
    tx: mpsc::Sender<Vec<u8>>,
    spare: std::sync::mpsc::Receiver<Vec<u8>>,
    task: tokio::task::JoinHandle<Fed>,
}

impl Feeder {
    /// Starts the scan thread; it ends when the feeder is finished or dropped.
    pub(crate) fn start(scanner: Option<TreeScanner>) -> Feeder {
        let (tx, mut rx) = mpsc::channel::<Vec<u8>>(DEPTH);
        let (spare_tx, spare) = std::sync::mpsc::channel();
        let task = tokio::task::spawn_blocking(move || {
            let mut fed = Fed {
                scanner: scanner.map(Box::new),
                error: None,
            };
            while let Some(mut buf) = rx.blocking_recv() {
                if let (Some(s), None) = (fed.scanner.as_mut(), fed.error.as_ref()) {
                    fed.error = s.update(&buf).err();
                }
                buf.clear();
                let _ = spare_tx.send(buf); // the reader may be gone: then it is freed
            }
            fed
        });
        Feeder { tx, spare, task }
    }

    /// Reads once from `r` into a recycled buffer; `Ok(n)` with the buffer to feed.
    pub(crate) async fn read<R: AsyncReadExt + Unpin>(
        &mut self,
        r: &mut R,
    ) -> std::io::Result<Vec<u8>> {
        let mut buf = self
            .spare
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(CHUNK));
        // read_buf fills the spare capacity without zeroing it first
        r.read_buf(&mut buf).await?;
        Ok(buf)
    }

    /// Queues a buffer for the scanner (waits while `DEPTH` are pending).
    pub(crate) async fn feed(&mut self, buf: Vec<u8>) {
        let _ = self.tx.send(buf).await;
    }

    /// All bytes were fed: waits for the scanner to take the last one.
    pub(crate) async fn finish(self) -> Option<Fed> {
        drop(self.tx);
        self.task.await.ok()
    }
}
