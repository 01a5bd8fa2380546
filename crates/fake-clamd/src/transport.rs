//! One accepted connection, TCP or Unix; Unix reads also collect SCM_RIGHTS descriptors
//! (CLAMD-FILDES-1/5).

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::Duration;

use nix::sys::socket::MsgFlags;
use tokio::io::{AsyncReadExt, AsyncWriteExt, Interest};
use tokio::net::{TcpStream, UnixStream};

use crate::fd_recv::recv_with_fds;

/// Which listener a connection came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportKind {
    /// TCP (`TCPSocket`).
    Tcp,
    /// Unix stream socket (`LocalSocket`).
    Unix,
}

impl TransportKind {
    /// `tcp` or `unix`, as transcripts name it.
    pub fn as_str(self) -> &'static str {
        match self {
            TransportKind::Tcp => "tcp",
            TransportKind::Unix => "unix",
        }
    }
}

pub(crate) enum Conn {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Conn {
    pub(crate) fn kind(&self) -> TransportKind {
        match self {
            Conn::Tcp(_) => TransportKind::Tcp,
            Conn::Unix(_) => TransportKind::Unix,
        }
    }

    /// The peer's address: TCP's, or the name a unix peer bound its socket to (most are
    /// unnamed: None).
    pub(crate) fn peer(&self) -> Option<crate::Peer> {
        match self {
            Conn::Tcp(s) => s.peer_addr().ok().map(crate::Peer::Tcp),
            Conn::Unix(s) => {
                let a = s.peer_addr().ok()?;
                let name = match a.as_abstract_name() {
                    Some(n) => n.to_vec(),
                    None => a.as_pathname()?.as_os_str().as_encoded_bytes().to_vec(),
                };
                Some(crate::Peer::Unix(name))
            }
        }
    }

    /// Wait until input (data, EOF or an error) is really pending. tokio's `readable()`
    /// alone reports a fresh socket ready at once, so a one-byte `MSG_PEEK` confirms it.
    pub(crate) async fn wait_input(&self) -> io::Result<()> {
        let fd = match self {
            Conn::Tcp(s) => s.as_raw_fd(),
            Conn::Unix(s) => s.as_raw_fd(),
        };
        let peek = || {
            let mut one = [0u8; 1];
            match nix::sys::socket::recv(fd, &mut one, MsgFlags::MSG_PEEK | MsgFlags::MSG_DONTWAIT)
            {
                Err(nix::errno::Errno::EAGAIN) => Err(io::ErrorKind::WouldBlock.into()),
                // data, EOF, or an error the next read reports
                _ => Ok(()),
            }
        };
        loop {
            let res = match self {
                Conn::Tcp(s) => {
                    s.readable().await?;
                    s.try_io(Interest::READABLE, peek)
                }
                Conn::Unix(s) => {
                    s.readable().await?;
                    s.try_io(Interest::READABLE, peek)
                }
            };
            match res {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                other => return other,
            }
        }
    }

    /// Read once; on Unix also return descriptors passed with the bytes.
    pub(crate) async fn recv(&mut self, buf: &mut [u8]) -> io::Result<(usize, Vec<OwnedFd>)> {
        match self {
            Conn::Tcp(s) => Ok((s.read(buf).await?, Vec::new())),
            Conn::Unix(s) => loop {
                s.readable().await?;
                let fd = s.as_raw_fd();
                // clamd's control buffer holds one descriptor; a message that carried more is
                // a read error there ("control message truncated") and ends the connection
                match s.try_io(Interest::READABLE, || recv_with_fds(fd, buf, 1)) {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                    Err(e) => return Err(e),
                    Ok(r) if r.cut => {
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            "control message truncated",
                        ))
                    }
                    // clamd takes a control message of exactly one descriptor; two (which
                    // fit its buffer) are ignored: FILDES then has none (observed)
                    Ok(r) if r.fds.len() != 1 => return Ok((r.n, Vec::new())),
                    Ok(r) => return Ok((r.n, r.fds)),
                }
            },
        }
    }

    pub(crate) async fn send(&mut self, data: &[u8], limit: Duration) -> io::Result<()> {
        let fut = async {
            match self {
                Conn::Tcp(s) => s.write_all(data).await,
                Conn::Unix(s) => s.write_all(data).await,
            }
        };
        // CLAMD-TIME-6: SendBufTimeout bounds how long a blocked write may wait
        let limit = limit.max(Duration::from_millis(100));
        match tokio::time::timeout(limit, fut).await {
            Ok(r) => r,
            Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "SendBufTimeout")),
        }
    }

    pub(crate) async fn shutdown_write(&mut self) {
        let _ = match self {
            Conn::Tcp(s) => s.shutdown().await,
            Conn::Unix(s) => s.shutdown().await,
        };
    }

    /// Discard input that is already queued (non-blocking), at most `max` bytes.
    pub(crate) fn drain_queued(&self, max: usize) {
        let fd = match self {
            Conn::Tcp(s) => s.as_raw_fd(),
            Conn::Unix(s) => s.as_raw_fd(),
        };
        let mut scratch = [0u8; 16 * 1024];
        let mut total = 0;
        while total < max {
            match nix::sys::socket::recv(fd, &mut scratch, MsgFlags::MSG_DONTWAIT) {
                Ok(0) | Err(_) => break,
                Ok(n) => total += n,
            }
        }
    }

    /// Make the close an RST (TCP only).
    pub(crate) fn set_reset_on_close(&self) {
        if let Conn::Tcp(s) = self {
            // linger 0 never blocks: the close becomes an immediate RST (CLAMD-INSTREAM-8)
            #[allow(deprecated)]
            let _ = s.set_linger(Some(Duration::ZERO));
        }
    }
}
