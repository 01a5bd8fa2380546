//! Local input read under the whole-scan deadline. A read from a pipe or FIFO can block
//! for ever (`sleep 14 | fave-scan -`, a FIFO without a writer blocks already in `open`),
//! so such inputs are opened and read on a helper thread and handed over in chunks; when
//! the deadline passes the scan fails closed and the thread is abandoned (it ends with the
//! process, or when its read returns and the hand-over finds nobody listening).

use std::io::{self, Read};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError};

use crate::transport::Deadline;

/// What the next call to [`TimedSource::next`] got.
pub(crate) enum Next {
    Data(Vec<u8>),
    Eof,
    Failed(io::Error),
    /// The deadline passed before the source produced anything more.
    TimedOut,
}

/// A reader running on its own thread; at most two chunks wait in the hand-over.
pub(crate) struct TimedSource {
    rx: Receiver<io::Result<Vec<u8>>>,
    ended: bool,
}

impl TimedSource {
    /// Starts a thread that runs `open` and then reads `chunk`-byte pieces until EOF or an
    /// error (an empty piece means EOF).
    pub(crate) fn spawn<R, F>(open: F, chunk: usize) -> io::Result<TimedSource>
    where
        R: Read,
        F: FnOnce() -> io::Result<R> + Send + 'static,
    {
        let (tx, rx) = sync_channel::<io::Result<Vec<u8>>>(1);
        std::thread::Builder::new()
            .name("fave-input".into())
            .spawn(move || {
                let mut r = match open() {
                    Ok(r) => r,
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                };
                loop {
                    let mut buf = vec![0u8; chunk];
                    let piece = match r.read(&mut buf) {
                        Ok(n) => {
                            buf.truncate(n);
                            Ok(buf)
                        }
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(e) => Err(e),
                    };
                    let last = !matches!(&piece, Ok(b) if !b.is_empty());
                    // The scan gave up (deadline, daemon error): stop reading.
                    if tx.send(piece).is_err() || last {
                        return;
                    }
                }
            })?;
        Ok(TimedSource { rx, ended: false })
    }

    /// The next piece, waiting at most until the deadline.
    pub(crate) fn next(&mut self, dl: &Deadline) -> Next {
        if self.ended {
            return Next::Eof;
        }
        match self.rx.recv_timeout(dl.remaining()) {
            Ok(Ok(b)) if b.is_empty() => {
                self.ended = true;
                Next::Eof
            }
            Ok(Ok(b)) => Next::Data(b),
            Ok(Err(e)) => {
                self.ended = true;
                Next::Failed(e)
            }
            Err(RecvTimeoutError::Timeout) => Next::TimedOut,
            // The thread ended without a last word (it cannot, short of a panic).
            Err(RecvTimeoutError::Disconnected) => {
                self.ended = true;
                Next::Failed(io::Error::other("the input reader stopped"))
            }
        }
    }
}
