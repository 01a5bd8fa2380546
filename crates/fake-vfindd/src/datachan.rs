//! Data channels of SCAN/REQUEST (the daemon listens, SVSP-SCAN-REQUEST-1/-2) and SCAN/PORT
//! (the daemon connects back, SVSP-SCAN-PORT-1): one connection read to EOF, bounded in
//! bytes (`--stream-max-length`) and idle time (`--data-timeout`).

use crate::config::Config;
use crate::writer::Lines;
use std::net::{IpAddr, SocketAddr};
use svsp_proto::{Body, ErrorReply, Id};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tracing::debug;

/// One request's data channel: where its lines go and the limits that apply.
pub(crate) struct Channel<'a> {
    pub(crate) cfg: &'a Config,
    pub(crate) lines: &'a Lines,
    pub(crate) id: &'a Option<Id>,
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
    ) -> Option<Vec<u8>> {
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
        self.read_stream(stream, port, name).await
    }

    /// SVSP-SCAN-PORT-1: connect to the control peer at `port`.
    pub(crate) async fn port(&self, peer: IpAddr, port: u16, name: &[u8]) -> Option<Vec<u8>> {
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
        self.read_stream(stream, port, name).await
    }

    /// Reads a data connection to EOF, bounded in bytes and idle time.
    async fn read_stream(&self, mut s: TcpStream, port: u16, name: &[u8]) -> Option<Vec<u8>> {
        let max = usize::try_from(self.cfg.stream_max_length).unwrap_or(usize::MAX);
        let mut data = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match tokio::time::timeout(self.cfg.data_timeout, s.read(&mut buf)).await {
                Ok(Ok(0)) => return Some(data),
                Ok(Ok(n)) => {
                    if data.len() + n > max {
                        // CL-5: no QUEUED, single terminal line.
                        drop(s);
                        self.send(ErrorReply::SizeLimitExceeded(name.to_vec()).body())
                            .await;
                        return None;
                    }
                    data.extend_from_slice(&buf[..n]);
                }
                Ok(Err(_)) | Err(_) => {
                    self.send(ErrorReply::NoConnection(port).body()).await;
                    return None;
                }
            }
        }
    }
}
