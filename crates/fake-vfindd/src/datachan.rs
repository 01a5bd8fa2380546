//! Data channels of SCAN/REQUEST (the daemon listens, SVSP-SCAN-REQUEST-1/-2) and SCAN/PORT
//! (the daemon connects back, SVSP-SCAN-PORT-1): one connection read to EOF, bounded in
//! bytes (`--stream-max-length`) and idle time (`--data-timeout`), and scanned while it
//! arrives (`feed`): the data is never collected whole.

use crate::config::Config;
use crate::feed::{self, Ended, Fed};
use crate::writer::Lines;
use scan_engine::TreeScanner;
use std::net::{IpAddr, SocketAddr};
use svsp_proto::{Body, ErrorReply, Id};
use tokio::net::{TcpListener, TcpStream};
use tracing::debug;

/// One request's data channel: where its lines go and the limits that apply.
pub(crate) struct Channel<'a> {
    pub(crate) cfg: &'a Config,
    pub(crate) lines: &'a Lines,
    pub(crate) id: &'a Option<Id>,
    /// Injected `stop-reading`: hold the data connection this long without reading it.
    pub(crate) stall: Option<std::time::Duration>,
}

fn same_ip(a: IpAddr, b: IpAddr) -> bool {
    let norm = |ip: IpAddr| match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    };
    norm(a) == norm(b)
}

impl Channel<'_> {
    async fn send(&self, body: Body) -> bool {
        self.lines.send(self.id, body).await
    }

    /// SVSP-SCAN-REQUEST-1 / -2: `SEND <port>`, then one connection from the control peer.
    pub(crate) async fn request(
        &self,
        local: IpAddr,
        peer: IpAddr,
        name: &[u8],
        scanner: Option<TreeScanner>,
    ) -> Option<Fed> {
        let listener = match TcpListener::bind(SocketAddr::new(local, 0)).await {
            Ok(l) => l,
            Err(_) => {
                self.send(ErrorReply::InternalError.body()).await;
                return None;
            }
        };
        let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
        if !self.send(Body::Send(Some(port))).await {
            return None;
        }
        let deadline = tokio::time::Instant::now() + self.cfg.data_timeout;
        let stream = loop {
            match tokio::time::timeout_at(deadline, listener.accept()).await {
                Ok(Ok((s, a))) if same_ip(a.ip(), peer) => break s,
                Ok(Ok((s, a))) => {
                    debug!("data connection from foreign {a} closed");
                    drop(s);
                }
                Ok(Err(_)) | Err(_) => {
                    self.send(ErrorReply::NoConnection(port).body()).await;
                    return None;
                }
            }
        };
        drop(listener);
        self.read_stream(stream, port, name, scanner).await
    }

    /// SVSP-SCAN-PORT-1: connect to the control peer at `port`.
    pub(crate) async fn port(
        &self,
        peer: IpAddr,
        port: u16,
        name: &[u8],
        scanner: Option<TreeScanner>,
    ) -> Option<Fed> {
        if self.cfg.port_send_echo && !self.send(Body::Send(Some(port))).await {
            return None;
        }
        let stream = match tokio::time::timeout(
            self.cfg.data_timeout,
            TcpStream::connect(SocketAddr::new(peer, port)),
        )
        .await
        {
            Ok(Ok(s)) => s,
            _ => {
                self.send(ErrorReply::NoConnection(port).body()).await;
                return None;
            }
        };
        self.read_stream(stream, port, name, scanner).await
    }

    /// Reads a data connection to EOF, bounded in bytes and idle time, feeding the scanner
    /// as it goes; memory is bounded by the read size, not by the stream limit.
    async fn read_stream(
        &self,
        s: TcpStream,
        port: u16,
        name: &[u8],
        scanner: Option<TreeScanner>,
    ) -> Option<Fed> {
        if let Some(hold) = self.stall {
            // injected stop-reading (SVSP-CLIENT-19): the client's upload blocks once the
            // buffers are full; no line follows, and the close is a reset (unread input)
            debug!(?hold, "injected stop-reading on the data channel");
            tokio::time::sleep(hold).await;
            #[allow(deprecated)]
            let _ = s.set_linger(Some(std::time::Duration::ZERO));
            return None;
        }
        let ended = match feed::read_and_scan(
            s,
            scanner,
            self.cfg.stream_max_length,
            self.cfg.data_timeout,
        )
        .await
        {
            Ok(fed) => return Some(fed),
            Err(e) => e,
        };
        // the data connection is closed by now, before the reply goes out
        let body = match ended {
            // CL-5: no QUEUED, single terminal line.
            Ended::TooLarge => ErrorReply::SizeLimitExceeded(name.to_vec()).body(),
            Ended::NoConnection => ErrorReply::NoConnection(port).body(),
            // SVSP-ERR-EFAULT-1: the scan thread panicked
            Ended::Panicked => ErrorReply::InternalError.body(),
        };
        self.send(body).await;
        None
    }
}
