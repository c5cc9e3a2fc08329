//! What every sans-IO endpoint of the crate shares.
//!
//! * [`Transmit`]: one datagram the caller must send, with the layer-2 next hop where the protocol
//!   needs one ([`MacAddr`], used by the virtual Home Agent's layer-2 forwarding).
//! * [`Rng`]: the only source of randomness, a ChaCha generator seeded from a config field
//!   `seed: Option<[u8; 32]>`. `None` (the default) reads 32 bytes from the operating system once,
//!   in the endpoint's `new` ([`Rng::from_config`]), so challenges, Random Vectors and ids are
//!   unpredictable (RFC 2661 4.3, 5.1.1); `Some` ([`seed`] makes one from a `u64`) makes every run
//!   a pure function of its inputs, for tests and simulations. That one read at construction is
//!   the crate's only contact with the OS, as in quinn-proto: after `new`, an endpoint is sans-IO.
//! * [`TimerQueue`]: one deadline structure per endpoint, keyed by the endpoint's own ids, with an
//!   O(1) earliest deadline and expiry that never scans live timers.
//! * [`HmacMd5Key`]: the one HMAC-MD5 key type, and the authenticated envelope (signed octets and
//!   an HMAC-MD5 trailer) of heartbeats and cluster messages.
//! * [`ct_eq`]: the one constant-time comparison every authenticator check goes through.
//! * [`Reader`]: the one protocol-free byte reader every codec parses with, its truncation a
//!   [`Short`] each codec turns into its own `Truncated` error.
//! * [`ReplayWindow`]: the one anti-replay window, for heartbeats and cluster messages.
//! * [`Outbox`]: the one bounded queue of datagrams and events an endpoint hands its caller, its
//!   [`Overflow`] policy documented and every drop counted.
//! * [`RateLimit`] and [`TokenBucket`]: the bound on answers to unauthenticated input.
//! * [`Node`]: the calls a driver (a socket loop, or the simulator `telcp::sim` of feature `sim`) makes on any endpoint, the
//!   object-safe form of [`crate::Endpoint`].
//!
//! Time enters only as a `now: Instant` argument: nothing in the crate reads a clock.

pub mod auth;
mod ct;
pub mod limit;
pub mod md5x;
pub mod outbox;
pub mod reader;
pub mod replay;
mod rng;
pub(crate) mod table;
mod timer;

pub use auth::HmacMd5Key;

/// Whether a configured peer address can be sent to: neither port 0 (reserved, RFC 6335
/// section 6; no socket listens on it) nor the unspecified address (0.0.0.0, RFC 1122
/// section 3.2.1.3 (a), "MUST NOT be sent, except as a source address"; `::`, RFC 4291 section
/// 2.5.2, "must not be used as the destination address"). Every configuration that names a
/// peer refuses the rest with a typed error.
pub(crate) fn usable_peer(addr: std::net::SocketAddr) -> bool {
    addr.port() != 0 && !addr.ip().is_unspecified()
}
pub use ct::ct_eq;
pub use limit::{RateLimit, TokenBucket};
pub use outbox::{Outbox, Overflow};
pub use reader::{Reader, Short};
pub use replay::ReplayWindow;
pub use rng::{EntropyError, Rng, seed};
pub use timer::TimerQueue;

use bytes::Bytes;
use std::fmt;
use std::net::SocketAddr;
use std::time::Instant;

/// A 48-bit IEEE 802 MAC address.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    /// The broadcast address `ff:ff:ff:ff:ff:ff`.
    pub const BROADCAST: MacAddr = MacAddr([0xff; 6]);

    /// A locally administered unicast address whose low 32 bits are `n` (handy for tests and
    /// simulations: `02:00:nn:nn:nn:nn`).
    pub const fn local(n: u32) -> MacAddr {
        let b = n.to_be_bytes();
        MacAddr([0x02, 0x00, b[0], b[1], b[2], b[3]])
    }

    /// The six octets.
    pub const fn octets(&self) -> [u8; 6] {
        self.0
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = &self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            o[0], o[1], o[2], o[3], o[4], o[5]
        )
    }
}

impl fmt::Debug for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// One datagram for the caller to send.
///
/// The caller sends `payload` as one UDP datagram to `dst`. When `src` is set the datagram must leave
/// from that address (a virtual address shared by a cluster, or the original sender's address for a
/// frame forwarded unchanged at layer 2). When `link_dst` is set the caller must put the frame on the
/// link addressed to that MAC, whatever `dst` says (layer-2 forwarding inside a virtual Home Agent).
#[derive(Clone, PartialEq, Eq)]
pub struct Transmit {
    /// Destination transport address (IP destination and UDP port).
    pub dst: SocketAddr,
    /// Source transport address the datagram must carry. `None`: any local address the caller
    /// owns. `Some`: send from exactly this address; it is often the endpoint's own address (an
    /// answer leaves from the address the request came to), and another one for a cluster's
    /// virtual address or a frame forwarded unchanged at layer 2.
    /// A driver with one socket per local address picks the socket bound to it.
    pub src: Option<SocketAddr>,
    /// Layer-2 next hop, when the protocol needs one.
    pub link_dst: Option<MacAddr>,
    /// The UDP payload.
    pub payload: Bytes,
}

impl Transmit {
    /// A datagram to `dst` from the endpoint's own address, with no layer-2 next hop.
    pub fn to(dst: SocketAddr, payload: impl Into<Bytes>) -> Transmit {
        Transmit {
            dst,
            src: None,
            link_dst: None,
            payload: payload.into(),
        }
    }
}

impl fmt::Debug for Transmit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transmit")
            .field("dst", &self.dst)
            .field("src", &self.src)
            .field("link_dst", &self.link_dst)
            .field("len", &self.payload.len())
            .finish()
    }
}

/// The calls a driver makes on a sans-IO endpoint, whatever its protocol: the object-safe form of
/// [`crate::Endpoint`].
///
/// Every [`crate::Endpoint`] is a `Node` (a blanket impl maps its event into [`crate::Event`] and
/// its typed input error into [`crate::Error`]), so one driver loop, a real socket loop or the deterministic
/// `telcp::sim` network (feature `sim`), can run any mix of them without a downcast to reach events. The call order is the one of every endpoint:
/// after any `handle_*`, drain [`Node::poll_transmit`], then [`Node::poll_event`], then read
/// [`Node::poll_timeout`] and call [`Node::handle_timeout`] when it is reached. Time passed in
/// never goes backwards. Received PPP frames of an L2TP [`crate::l2tp::Lac`] or
/// [`crate::l2tp::Lns`] come out of [`Node::poll_data`] (drained after `poll_event`); a driver
/// that skips it loses them.
pub trait Node: std::any::Any {
    /// Feeds one received datagram. `from` is its source, `to` the local address it was sent to.
    ///
    /// # Errors
    /// Bad input is answered inside the protocol (a refusal queued for transmission) or dropped,
    /// and the endpoint's typed input error is returned in the crate-wide form
    /// [`crate::Error`], for the driver's logs and counters; no state is lost either way.
    fn handle_datagram(
        &mut self,
        now: Instant,
        from: SocketAddr,
        to: SocketAddr,
        data: &[u8],
    ) -> Result<(), crate::Error>;
    /// Feeds one received frame whose link-layer source is known (`link_src`, when the driver
    /// reads frames, not only datagrams). Endpoints that use the source MAC (the virtual Home
    /// Agent learns which member forwarded a request from it) override this; the default ignores
    /// it and calls [`Node::handle_datagram`].
    ///
    /// # Errors
    /// As [`Node::handle_datagram`].
    fn handle_frame(
        &mut self,
        now: Instant,
        link_src: Option<MacAddr>,
        from: SocketAddr,
        to: SocketAddr,
        data: &[u8],
    ) -> Result<(), crate::Error> {
        let _ = link_src;
        self.handle_datagram(now, from, to, data)
    }
    /// Lets timers that are due at `now` fire. Calling it early is a no-op.
    fn handle_timeout(&mut self, now: Instant);
    /// The next datagram to send, if any.
    fn poll_transmit(&mut self) -> Option<Transmit>;
    /// The next event, in the crate-wide form. Every [`crate::Endpoint`] maps its own event
    /// into [`crate::Event`] here; a driver's own test node that reports nothing keeps the default.
    fn poll_event(&mut self) -> Option<crate::Event> {
        None
    }
    /// The next piece of user data received for the caller, in the crate-wide form (an L2TP
    /// session's PPP frame): every [`crate::Endpoint`] maps its own [`crate::Endpoint::poll_data`]
    /// into [`crate::Data`] here; a node without a data path keeps the default, `None`.
    fn poll_data(&mut self) -> Option<crate::Data> {
        None
    }
    /// The earliest instant at which [`Node::handle_timeout`] has work to do.
    fn poll_timeout(&self) -> Option<Instant>;
    /// The counters so far, in the crate-wide form: every [`crate::Endpoint`] maps its own
    /// [`crate::Endpoint::stats`] into [`crate::Stats`] here; a driver's own test node without
    /// counters keeps the default, `None`.
    fn stats(&self) -> Option<crate::Stats> {
        None
    }
}
