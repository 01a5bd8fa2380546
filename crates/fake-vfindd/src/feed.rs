//! Scans a data channel while it arrives: bursts of reads are fed straight to the streaming
//! tree scanner on a blocking thread, so the bytes are never collected whole and no buffer
//! changes threads (issue 17: a hand-off per read cost more than the scan). A channel holds
//! a blocking thread only while its bytes flow: a silent peer is waited for on the runtime
//! (a one-byte `MSG_PEEK`), so silent or trickling channels (up to `--max-connections` x
//! `--max-queue` of them) cannot take every blocking thread from the scans (hostile review:
//! 512 silent channels used to stop every SCAN/FILE). Memory per channel: one read buffer
//! while a burst is read (plus the engine's spool for a container, which spills to a
//! temporary file). Every wait is bounded in time (the data timeout) and the total in bytes
//! (the stream limit).

use std::io::Read;
use std::net::TcpStream as StdTcpStream;
use std::os::fd::{AsFd, AsRawFd};
use std::time::Duration;

use scan_engine::TreeScanner;
use tokio::net::TcpStream;

/// One read from a data channel at most (the raw-copy reference of the bench reads as much).
pub(crate) const CHUNK: usize = 256 * 1024;

/// After a full burst ran dry, how long the blocking thread waits for more before it goes
/// back to the runtime: a fast sender keeps its thread, a trickle gives it back at once.
const FLOWING: Duration = Duration::from_millis(5);

/// A data channel's bytes, fed through the scanner: finish it on a worker.
pub struct Fed {
    /// `None`: the name is excluded and nothing was scanned (SVSP-OPT-EXCLUDE-1).
    pub(crate) scanner: Option<Box<TreeScanner>>,
    /// The first spool error of `update` (reported as the scan's error, as before).
    pub(crate) error: Option<std::io::Error>,
}

impl Fed {
    /// Nothing fed yet; `scanner` `None`: the name is excluded.
    pub(crate) fn new(scanner: Option<TreeScanner>) -> Fed {
        Fed {
            scanner: scanner.map(Box::new),
            error: None,
        }
    }

    /// Scans the next bytes of the stream (nothing more after a spool error).
    pub(crate) fn update(&mut self, bytes: &[u8]) {
        if let (Some(sc), None) = (self.scanner.as_mut(), self.error.as_ref()) {
            self.error = sc.update(bytes).err();
        }
    }
}

impl std::fmt::Debug for Fed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fed")
            .field("bytes", &self.scanner.as_ref().map(|s| s.size()))
            .field("error", &self.error)
            .finish()
    }
}

/// Why a data channel ended without its end of file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ended {
    /// More than the stream limit arrived.
    TooLarge,
    /// The peer was idle past the data timeout, or the connection failed.
    NoConnection,
    /// The scan thread panicked (SVSP-ERR-EFAULT-1).
    Panicked,
}

/// Shuts the connection down when dropped, so that a burst whose session went away stops
/// reading at once (the burst reads a second descriptor of the same socket).
struct ShutdownOnDrop<'a>(&'a TcpStream);

impl Drop for ShutdownOnDrop<'_> {
    fn drop(&mut self) {
        // SAFETY: the borrowed stream keeps the descriptor open.
        unsafe { libc::shutdown(self.0.as_raw_fd(), libc::SHUT_RDWR) };
    }
}

/// How a burst of reads ended.
enum Burst {
    /// Nothing more to read now: wait on the runtime.
    Dry,
    Eof,
    Ended(Ended),
}

/// What moves between the runtime and the blocking thread: the scanner and the count.
struct Feed {
    /// A second descriptor of the socket; non-blocking like the runtime's.
    sock: StdTcpStream,
    fed: Fed,
    total: u64,
    max: u64,
}

/// Reads `stream` to its end, feeding `scanner` as it goes; at most `max` bytes, the peer
/// silent for at most `idle` at a time. The connection is closed when this returns (before
/// any reply is sent) or when the returned future is dropped.
pub(crate) async fn read_and_scan(
    stream: TcpStream,
    scanner: Option<TreeScanner>,
    max: u64,
    idle: Duration,
) -> Result<Fed, Ended> {
    let sock = stream
        .as_fd()
        .try_clone_to_owned()
        .map(StdTcpStream::from)
        .map_err(|_| Ended::NoConnection)?;
    let _closer = ShutdownOnDrop(&stream);
    let mut feed = Feed {
        sock,
        fed: Fed::new(scanner),
        total: 0,
        max,
    };
    // A zero time-out would mean "never": keep every wait bounded.
    let idle = idle.max(Duration::from_millis(1));
    let mut probe = [0u8; 1];
    loop {
        // no thread while the peer is silent; the peek clears stale readiness itself
        match tokio::time::timeout(idle, stream.peek(&mut probe)).await {
            Ok(Ok(0)) => return Ok(feed.fed),
            Ok(Ok(_)) => {}
            // idle past the data timeout, or the connection failed
            Err(_) | Ok(Err(_)) => return Err(Ended::NoConnection),
        }
        let (back, burst) = tokio::task::spawn_blocking(move || {
            let burst = feed.burst();
            (feed, burst)
        })
        .await
        .map_err(|_| Ended::Panicked)?;
        feed = back;
        match burst {
            Burst::Dry => {}
            Burst::Eof => return Ok(feed.fed),
            Burst::Ended(e) => return Err(e),
        }
    }
}

impl Feed {
    /// Reads and scans while bytes are there (non-blocking reads), on a blocking thread.
    fn burst(&mut self) -> Burst {
        let mut buf = vec![0u8; CHUNK];
        let mut run = 0usize;
        loop {
            let n = match self.sock.read(&mut buf) {
                Ok(0) => return Burst::Eof,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    // a full buffer's worth came in this run: more is likely on its way
                    if run >= CHUNK && readable_within(&self.sock, FLOWING) {
                        run = 0;
                        continue;
                    }
                    return Burst::Dry;
                }
                Err(_) => return Burst::Ended(Ended::NoConnection),
            };
            run += n;
            self.total = self.total.saturating_add(n as u64);
            if self.total > self.max {
                return Burst::Ended(Ended::TooLarge);
            }
            self.fed.update(&buf[..n]);
        }
    }
}

/// Whether `sock` has input (or an end) within `wait`.
fn readable_within(sock: &StdTcpStream, wait: Duration) -> bool {
    let mut pfd = libc::pollfd {
        fd: sock.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = libc::c_int::try_from(wait.as_millis()).unwrap_or(libc::c_int::MAX);
    // SAFETY: one valid pollfd for the duration of the call.
    let r = unsafe { libc::poll(&mut pfd, 1, ms) };
    r > 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A connected pair on loopback: (our end, the end `read_and_scan` reads).
    async fn pair() -> (TcpStream, TcpStream) {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let ours = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        let (theirs, _) = l.accept().await.unwrap();
        (ours, theirs)
    }

    /// Dropping the future (its session was cancelled) closes the channel at once, long
    /// before the data timeout would end the blocking read.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn dropped_read_closes_the_channel_at_once() {
        let (mut ours, theirs) = pair().await;
        let reading = tokio::spawn(read_and_scan(
            theirs,
            None,
            1 << 20,
            Duration::from_secs(30),
        ));
        ours.write_all(b"some bytes").await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        reading.abort();
        let mut buf = [0u8; 8];
        let got = tokio::time::timeout(Duration::from_secs(5), ours.read(&mut buf)).await;
        assert!(
            matches!(got, Ok(Ok(0)) | Ok(Err(_))),
            "the channel stayed open: {got:?}"
        );
    }

    /// The limit and the idle time bound every channel; EOF hands back what was fed.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn ends_at_eof_at_the_limit_and_when_idle() {
        let (mut ours, theirs) = pair().await;
        ours.write_all(&[b'a'; 100]).await.unwrap();
        ours.shutdown().await.unwrap();
        let fed = read_and_scan(theirs, None, 100, Duration::from_secs(5)).await;
        assert!(fed.is_ok(), "{fed:?}");

        let (mut ours, theirs) = pair().await;
        ours.write_all(&[b'a'; 101]).await.unwrap();
        let over = read_and_scan(theirs, None, 100, Duration::from_secs(5)).await;
        assert_eq!(over.unwrap_err(), Ended::TooLarge);

        let (_ours, theirs) = pair().await;
        let idle = read_and_scan(theirs, None, 100, Duration::from_millis(200)).await;
        assert_eq!(idle.unwrap_err(), Ended::NoConnection);
    }
}
