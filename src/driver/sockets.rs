//! The driver's UDP sockets: one per local address, a receive from whichever is ready first, and
//! the choice of the socket a transmit leaves from.

use std::io;
use std::net::SocketAddr;
use std::task::{Context, Poll};
use tokio::io::ReadBuf;
use tokio::net::UdpSocket;

/// One socket per bound address, in [`crate::driver::DriverConfig::bind`] order, then the
/// sockets adopted while running ([`crate::driver::Commander::bind`]) in the order they came.
pub(super) struct Sockets {
    /// The socket and the local address it reports (port 0 resolved).
    sockets: Vec<(UdpSocket, SocketAddr)>,
    /// How many of `sockets`, from the first, were bound at spawn (never released).
    fixed: usize,
    /// The first socket a receive polls: rotated so a busy socket cannot starve the others.
    next: usize,
}

impl Sockets {
    /// Binds every address; the first error aborts (the sockets already bound are closed).
    pub(super) async fn bind(addrs: &[SocketAddr]) -> io::Result<Sockets> {
        if addrs.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a driver needs at least one address to bind",
            ));
        }
        let mut sockets = Vec::with_capacity(addrs.len());
        for &a in addrs {
            let s = UdpSocket::bind(a).await?;
            let local = s.local_addr()?;
            sockets.push((s, local));
        }
        let fixed = sockets.len();
        Ok(Sockets {
            sockets,
            fixed,
            next: 0,
        })
    }

    /// Adds a socket bound later at `local` ([`crate::driver::Commander::bind`]), after the
    /// others.
    pub(super) fn adopt(&mut self, socket: UdpSocket, local: SocketAddr) {
        self.sockets.push((socket, local));
    }

    /// Closes the adopted socket bound at `local` (exactly the address its bind reported);
    /// false, and nothing changes, when no adopted socket is bound there (the spawn-time
    /// sockets are never released).
    pub(super) fn release(&mut self, local: SocketAddr) -> bool {
        let Some(i) = (self.fixed..self.sockets.len()).find(|&i| self.sockets[i].1 == local) else {
            return false;
        };
        // Dropped here: the OS closes it, and the order of the others is kept.
        drop(self.sockets.remove(i));
        if self.next > i {
            self.next -= 1;
        }
        if self.next >= self.sockets.len() {
            self.next = 0;
        }
        true
    }

    /// The local addresses, in bind order.
    pub(super) fn local_addrs(&self) -> Vec<SocketAddr> {
        self.sockets.iter().map(|(_, a)| *a).collect()
    }

    /// Polls every socket once for a datagram, starting after the one that delivered last.
    /// Ready: the index of the socket, and its receive result (length, source).
    pub(super) fn poll_recv(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<(usize, io::Result<(usize, SocketAddr)>)> {
        let n = self.sockets.len();
        for k in 0..n {
            let i = (self.next + k) % n;
            let mut rb = ReadBuf::new(buf);
            if let Poll::Ready(r) = self.sockets[i].0.poll_recv_from(cx, &mut rb) {
                self.next = (i + 1) % n;
                return Poll::Ready((i, r.map(|from| (rb.filled().len(), from))));
            }
        }
        Poll::Pending
    }

    /// The local address of socket `i`.
    pub(super) fn local(&self, i: usize) -> SocketAddr {
        self.sockets[i].1
    }

    /// The socket a datagram from `src` leaves from: `None` picks the first; otherwise the socket
    /// bound to exactly `src`, else one bound to the unspecified address of its family and port.
    pub(super) fn pick(&self, src: Option<SocketAddr>) -> Option<&UdpSocket> {
        let Some(src) = src else {
            return self.sockets.first().map(|(s, _)| s);
        };
        self.sockets
            .iter()
            .find(|(_, a)| *a == src)
            .or_else(|| {
                self.sockets.iter().find(|(_, a)| {
                    a.ip().is_unspecified()
                        && a.port() == src.port()
                        && a.is_ipv4() == src.is_ipv4()
                })
            })
            .map(|(s, _)| s)
    }
}
