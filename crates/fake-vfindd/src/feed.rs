//! Scans a data channel while it arrives: one blocking thread reads the connection and feeds
//! each read straight to the streaming tree scanner, so the bytes are never collected whole
//! and no buffer changes threads (issue 17: a hand-off per read cost more than the scan).
//! Memory per channel: one read buffer (plus the engine's spool for a container, which
//! spills to a temporary file). Every read is bounded in time (`SO_RCVTIMEO`, the data
//! timeout) and the total in bytes (the stream limit).

use std::io::Read;
use std::net::{Shutdown, TcpStream as StdTcpStream};
use std::time::Duration;

use scan_engine::TreeScanner;
use tokio::net::TcpStream;

/// One read from a data channel at most (the raw-copy reference of the bench reads as much).
pub(crate) const CHUNK: usize = 256 * 1024;

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

/// Shuts the connection down when dropped, so that a scan thread whose session went away
/// stops reading at once instead of at its next time-out.
struct ShutdownOnDrop(StdTcpStream);

impl Drop for ShutdownOnDrop {
    fn drop(&mut self) {
        let _ = self.0.shutdown(Shutdown::Both);
    }
}

/// Reads `stream` to its end on a blocking thread, feeding `scanner` as it goes; at most
/// `max` bytes, each read within `idle`. The connection is closed when this returns (before
/// any reply is sent) or when the returned future is dropped.
pub(crate) async fn read_and_scan(
    stream: TcpStream,
    scanner: Option<TreeScanner>,
    max: u64,
    idle: Duration,
) -> Result<Fed, Ended> {
    let std = stream.into_std().map_err(|_| Ended::NoConnection)?;
    // A zero time-out would mean "never": keep every read bounded.
    let ready = std
        .set_nonblocking(false)
        .and_then(|()| std.set_read_timeout(Some(idle.max(Duration::from_millis(1)))))
        .and_then(|()| std.try_clone());
    let closer = ShutdownOnDrop(ready.map_err(|_| Ended::NoConnection)?);
    let res = tokio::task::spawn_blocking(move || read_loop(std, scanner, max)).await;
    drop(closer);
    res.unwrap_or(Err(Ended::Panicked))
}

fn read_loop(mut s: StdTcpStream, scanner: Option<TreeScanner>, max: u64) -> Result<Fed, Ended> {
    let mut fed = Fed {
        scanner: scanner.map(Box::new),
        error: None,
    };
    let mut buf = vec![0u8; CHUNK];
    let mut total = 0u64;
    loop {
        let n = match s.read(&mut buf) {
            Ok(0) => return Ok(fed),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            // WouldBlock / TimedOut: idle past the data timeout
            Err(_) => return Err(Ended::NoConnection),
        };
        total = total.saturating_add(n as u64);
        if total > max {
            return Err(Ended::TooLarge);
        }
        if let (Some(sc), None) = (fed.scanner.as_mut(), fed.error.as_ref()) {
            fed.error = sc.update(&buf[..n]).err();
        }
    }
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
