//! The daemon's own account of the uploads it read: per peer, how many INSTREAM streams
//! were read through their zero-length terminator, and whether its input was read to the
//! client's end, i.e. the client closed before the daemon did (at a command boundary, or in
//! a `never-reply` fault, which discards input without decoding it), and whether it refused
//! the connection at accept (fault `refuse`). A recording
//! proxy in front of the daemon (the harness) cannot tell this from its side: when the
//! daemon closes, the client's last bytes may reach the proxy before or after the close,
//! whether the daemon read them or not. The proxy maps its upstream socket's local address
//! to the peer named here: a TCP address, or the name a unix peer bound its socket to (the
//! harness's proxy binds each of its unix connections to an abstract name of its own).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Mutex;

/// Peers remembered; the oldest are forgotten first (a long-running daemon must not grow).
pub(crate) const MAX_PEERS: usize = 1024;

/// Who a peer is, as far as the daemon can tell: a TCP address, or the name a unix peer's
/// socket is bound to (an abstract name's bytes, or a path's). Unnamed unix peers, the
/// usual kind, have no account.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Peer {
    Tcp(SocketAddr),
    Unix(Vec<u8>),
}

impl From<SocketAddr> for Peer {
    fn from(a: SocketAddr) -> Self {
        Peer::Tcp(a)
    }
}

/// What the daemon read of one peer's uploads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UploadAccount {
    /// INSTREAM streams read through their terminator.
    pub streams_whole: u64,
    /// Everything the peer sent was read, to its EOF (streams not necessarily decoded): the
    /// client closed its side before the daemon closed.
    pub read_to_end: bool,
    /// The connection was refused: reset at accept (fault `refuse`), nothing read. Whether
    /// the proxy's connect saw the reset, or read the client's first bytes before it, is
    /// timing; this is not.
    pub refused: bool,
}

/// Upload accounts per peer address (most recent peers last).
#[derive(Debug, Default)]
pub(crate) struct StreamsRead {
    peers: Mutex<VecDeque<(Peer, UploadAccount)>>,
}

impl StreamsRead {
    /// One more stream of `peer` was read through its terminator.
    pub(crate) fn read_whole(&self, peer: &Peer) {
        self.update(peer, |a| a.streams_whole += 1);
    }

    /// All input of `peer` was read, to its EOF.
    pub(crate) fn read_to_end(&self, peer: &Peer) {
        self.update(peer, |a| a.read_to_end = true);
    }

    /// The connection of `peer` was reset at accept, before any byte was read.
    pub(crate) fn refused(&self, peer: &Peer) {
        self.update(peer, |a| a.refused = true);
    }

    fn update(&self, peer: &Peer, f: impl FnOnce(&mut UploadAccount)) {
        let mut g = self.peers.lock().unwrap_or_else(|p| p.into_inner());
        match g.iter_mut().rev().find(|(a, _)| a == peer) {
            Some((_, account)) => f(account),
            None => {
                if g.len() >= MAX_PEERS {
                    g.pop_front();
                }
                let mut account = UploadAccount::default();
                f(&mut account);
                g.push_back((peer.clone(), account));
            }
        }
    }

    /// Every remembered peer with its account, oldest first.
    pub(crate) fn list(&self) -> Vec<(Peer, UploadAccount)> {
        let g = self.peers.lock().unwrap_or_else(|p| p.into_inner());
        g.iter().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counts add up per peer, and the list stays bounded with the oldest peers dropped.
    #[test]
    fn counts_per_peer_and_stays_bounded() {
        let s = StreamsRead::default();
        let a = Peer::Tcp("127.0.0.1:1000".parse().unwrap());
        s.read_whole(&a);
        s.read_whole(&a);
        s.read_to_end(&a);
        s.refused(&a);
        let want = UploadAccount {
            streams_whole: 2,
            read_to_end: true,
            refused: true,
        };
        assert_eq!(s.list(), vec![(a.clone(), want)]);
        let named = Peer::Unix(b"avc-proxy-1-1".to_vec());
        s.read_whole(&named);
        assert_eq!(s.list().len(), 2, "a unix peer has an account of its own");
        for p in 0..MAX_PEERS as u16 {
            s.read_whole(&Peer::Tcp(SocketAddr::from(([127, 0, 0, 2], 2000 + p))));
        }
        let l = s.list();
        assert_eq!(l.len(), MAX_PEERS);
        assert!(!l.iter().any(|(p, _)| *p == a), "oldest peer forgotten");
    }
}
