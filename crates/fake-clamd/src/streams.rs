//! The daemon's own account of which uploads it read whole: per TCP peer, how many INSTREAM
//! streams were read through their zero-length terminator. A recording proxy in front of
//! the daemon (the harness) cannot tell this from its side: when the daemon closes, the
//! client's last bytes may reach the proxy before or after the close, whether the daemon
//! read them or not. The proxy maps its upstream socket's local address to this peer.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Mutex;

/// Peers remembered; the oldest are forgotten first (a long-running daemon must not grow).
pub(crate) const MAX_PEERS: usize = 1024;

/// Streams read whole, per peer address (most recent peers last).
#[derive(Debug, Default)]
pub(crate) struct StreamsRead {
    peers: Mutex<VecDeque<(SocketAddr, u64)>>,
}

impl StreamsRead {
    /// One more stream of `peer` was read through its terminator.
    pub(crate) fn read_whole(&self, peer: SocketAddr) {
        let mut g = self.peers.lock().unwrap_or_else(|p| p.into_inner());
        match g.iter_mut().rev().find(|(a, _)| *a == peer) {
            Some((_, n)) => *n += 1,
            None => {
                if g.len() >= MAX_PEERS {
                    g.pop_front();
                }
                g.push_back((peer, 1));
            }
        }
    }

    /// Every remembered peer with its count, oldest first.
    pub(crate) fn list(&self) -> Vec<(SocketAddr, u64)> {
        let g = self.peers.lock().unwrap_or_else(|p| p.into_inner());
        g.iter().copied().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counts add up per peer, and the list stays bounded with the oldest peers dropped.
    #[test]
    fn counts_per_peer_and_stays_bounded() {
        let s = StreamsRead::default();
        let a: SocketAddr = "127.0.0.1:1000".parse().unwrap();
        s.read_whole(a);
        s.read_whole(a);
        assert_eq!(s.list(), vec![(a, 2)]);
        for p in 0..MAX_PEERS as u16 {
            s.read_whole(SocketAddr::from(([127, 0, 0, 2], 2000 + p)));
        }
        let l = s.list();
        assert_eq!(l.len(), MAX_PEERS);
        assert!(!l.iter().any(|(p, _)| *p == a), "oldest peer forgotten");
    }
}
