//! The proxy's two ends as byte sources and sinks, with descriptor passing on unix sockets:
//! a clamd client's FILDES request (CLAMD-FILDES-1, CLAMD-CLIENT-13) passes an open file as
//! `SCM_RIGHTS` ancillary data with (part of) its bytes, and the proxy must hand it on with
//! the same bytes or the daemon answers `No file descriptor received. ERROR`.
//!
//! Reads take at most [`MAX_FDS_PER_READ`] descriptors: the control buffer has room for no
//! more, so the kernel closes the rest and flags the message `MSG_CTRUNC` (a client that
//! passes 200 descriptors costs the proxy four). Each descriptor is sent on with the bytes it
//! came with and then closed: the proxy never holds more than one read's worth.

use std::future::Future;
use std::io::{self, IoSlice};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, Interest};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};

/// Most descriptors taken from one read (a FILDES request passes exactly one).
pub const MAX_FDS_PER_READ: usize = 4;

/// One read: its bytes (in the caller's buffer), the descriptors passed with them, and
/// whether the sender passed more than were taken (the kernel closed the others).
pub use fake_clamd::fd_recv::Received;

/// Where the proxy reads one direction from.
pub trait Source: Unpin + Send {
    /// Reads once (0 bytes: end of stream).
    fn recv<'a>(
        &'a mut self,
        buf: &'a mut [u8],
    ) -> impl Future<Output = io::Result<Received>> + Send + 'a;
}

/// Where the proxy writes one direction to.
pub trait Sink: Unpin + Send {
    /// Writes all of `bytes`, passing `fds` with the first of them where the transport can
    /// (elsewhere they are closed: a TCP daemon cannot receive them). The descriptors are
    /// closed once sent.
    fn send<'a>(
        &'a mut self,
        bytes: &'a [u8],
        fds: Vec<OwnedFd>,
    ) -> impl Future<Output = io::Result<()>> + Send + 'a;

    /// Ends this direction (FIN).
    fn finish(&mut self) -> impl Future<Output = io::Result<()>> + Send + '_;
}

/// A byte stream without descriptors (TCP, or any stream whose ancillary data is dropped).
pub struct Plain<T>(pub T);

impl<R: AsyncRead + Unpin + Send> Source for Plain<R> {
    async fn recv<'a>(&'a mut self, buf: &'a mut [u8]) -> io::Result<Received> {
        let n = self.0.read(buf).await?;
        Ok(Received {
            n,
            ..Received::default()
        })
    }
}

impl<W: AsyncWrite + Unpin + Send> Sink for Plain<W> {
    async fn send<'a>(&'a mut self, bytes: &'a [u8], _fds: Vec<OwnedFd>) -> io::Result<()> {
        self.0.write_all(bytes).await
    }

    async fn finish(&mut self) -> io::Result<()> {
        self.0.shutdown().await
    }
}

impl Source for OwnedReadHalf {
    async fn recv<'a>(&'a mut self, buf: &'a mut [u8]) -> io::Result<Received> {
        let s = self.as_ref();
        let fd = s.as_raw_fd();
        loop {
            s.readable().await?;
            match s.try_io(Interest::READABLE, || recv_with_fds(fd, buf)) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                other => return other,
            }
        }
    }
}

impl Sink for OwnedWriteHalf {
    async fn send<'a>(&'a mut self, bytes: &'a [u8], fds: Vec<OwnedFd>) -> io::Result<()> {
        let mut rest = bytes;
        if !fds.is_empty() && !rest.is_empty() {
            let s = self.as_ref();
            let fd = s.as_raw_fd();
            let raw: Vec<RawFd> = fds.iter().map(AsRawFd::as_raw_fd).collect();
            let sent = loop {
                s.writable().await?;
                match s.try_io(Interest::WRITABLE, || send_with_fds(fd, rest, &raw)) {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                    other => break other?,
                }
            };
            // The descriptors went with the first byte sent; the rest is plain.
            rest = &rest[sent..];
        }
        drop(fds);
        self.write_all(rest).await
    }

    async fn finish(&mut self) -> io::Result<()> {
        self.shutdown().await
    }
}

/// One `recvmsg` with room for [`MAX_FDS_PER_READ`] descriptors (the fake clamd's reader,
/// which owns every descriptor the kernel installed, also of a truncated message).
fn recv_with_fds(fd: RawFd, buf: &mut [u8]) -> io::Result<Received> {
    fake_clamd::fd_recv::recv_with_fds(fd, buf, MAX_FDS_PER_READ)
}

fn send_with_fds(fd: RawFd, bytes: &[u8], fds: &[RawFd]) -> io::Result<usize> {
    let iov = [IoSlice::new(bytes)];
    let cmsg = [ControlMessage::ScmRights(fds)];
    sendmsg::<()>(fd, &iov, &cmsg, MsgFlags::MSG_NOSIGNAL, None).map_err(io::Error::from)
}
