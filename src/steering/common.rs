//! Pieces the three steering machines share: the layout checks of their configurations, their
//! bounded outbox (datagrams and events, drops counted), fabric datagrams, and the refusal of
//! messages carrying an unsupported comprehension-required extension header.

use super::error::{ConfigError, ConfigField, FabricKind, InputError};
use super::fabric::{FabricMessage, FabricSealer};
use super::gtp::{self, Header, IeType, Message};
use super::vid::VidLayout;
use crate::health::NodeId;
use crate::io::{self, Overflow, TokenBucket, Transmit};
use crate::replica::ReplayWindow;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

/// The layouts every steering machine needs: a 32-bit TEID layout and, if L2TP is steered, a
/// 16-bit one.
/// The IMSI IE of a GTPv2-C message as the session record's eight TBCD octets (filler `0xf`,
/// as GTPv1's IMSI, TS 29.060 section 7.7.2); `None` when the IE is absent or longer than
/// eight octets.
pub(crate) fn gtpv2_imsi(req: &super::gtpv2::Message<'_>) -> Option<gtp::Imsi> {
    let t = req.imsi()?;
    let mut out = [0xff; 8];
    out.get_mut(..t.0.len())?.copy_from_slice(&t.0);
    Some(gtp::Imsi(out))
}

/// The EPS Bearer ID (its low four bits, TS 29.274 section 8.8) among a Bearer Context's IEs.
pub(crate) fn gtpv2_ebi(ies: &[super::gtpv2::Ie<'_>]) -> Option<u8> {
    use super::gtpv2::{IeType as T, IeValue, find};
    match find(ies, T::EBI, 0)?.value {
        IeValue::Ebi(e) => Some(e & 0x0f),
        _ => None,
    }
}

/// Who a Create Session Request sets up a PDN connection for (TS 29.274 section 7.2.1): its
/// IMSI ([`gtpv2_imsi`]) and the EPS Bearer ID of its Bearer Context to be created (instance
/// 0); `None` without either.
pub(crate) fn gtpv2_subscriber(req: &super::gtpv2::Message<'_>) -> Option<(gtp::Imsi, u8)> {
    let bearer = req.ie(super::gtpv2::IeType::BEARER_CONTEXT, 0)?;
    Some((gtpv2_imsi(req)?, gtpv2_ebi(bearer.ies())?))
}

pub(crate) fn check_layouts(
    layout: &VidLayout,
    l2tp_layout: Option<&VidLayout>,
) -> Result<(), ConfigError> {
    if layout.id_bits() != 32 {
        return Err(ConfigError::LayoutWidth {
            field: ConfigField::Layout,
            bits: 32,
        });
    }
    if l2tp_layout.is_some_and(|l| l.id_bits() != 16) {
        return Err(ConfigError::LayoutWidth {
            field: ConfigField::L2tpLayout,
            bits: 16,
        });
    }
    Ok(())
}

/// `Ok` when `value` is non-zero, else [`ConfigError::OutOfRange`] naming `field`.
pub(crate) fn non_zero(field: ConfigField, zero: bool) -> Result<(), ConfigError> {
    if zero {
        Err(ConfigError::OutOfRange(field))
    } else {
        Ok(())
    }
}

/// `Ok` when a datagram can be sent to `addr` ([`crate::io::usable_peer`]), else
/// [`ConfigError::UnusableAddress`] naming `field`.
pub(crate) fn usable(field: ConfigField, addr: std::net::SocketAddr) -> Result<(), ConfigError> {
    if crate::io::usable_peer(addr) {
        Ok(())
    } else {
        Err(ConfigError::UnusableAddress { field, addr })
    }
}

/// Where an answer to a peer goes: through the line interface `line`, from `gateway` (the
/// address the peer sent to), to `peer`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Route {
    pub(crate) line: SocketAddr,
    pub(crate) gateway: SocketAddr,
    pub(crate) peer: SocketAddr,
}

/// The protocol of a datagram a line interface passed on, by the UDP port it was sent to and
/// the version bits of its first octet (as [`VidTable::steer_port`](super::line::VidTable::steer_port)
/// tells them apart).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wire {
    /// GTPv1-C or GTPv1-U (first octet `0x3_`).
    Gtpv1,
    /// GTPv2-C (first octet `0x4_` or `0x5_`, on the GTP ports).
    Gtpv2,
    /// PFCP (port 8805, or first octet `0x2_`).
    Pfcp,
    /// Anything else: L2TPv2.
    L2tp,
}

/// The [`Wire`] of `data` sent to UDP port `port`.
pub(crate) fn wire(port: u16, data: &[u8]) -> Wire {
    use super::pfcp::PFCP_PORT;
    let gtp_port = port == gtp::GTP_C_PORT;
    match data.first().map(|b| b >> 4) {
        _ if port == PFCP_PORT => Wire::Pfcp,
        _ if port == crate::l2tp::L2TP_PORT => Wire::L2tp,
        Some(0x3) => Wire::Gtpv1,
        _ if port == gtp::GTP_U_PORT => Wire::L2tp,
        Some(0x4 | 0x5) if gtp_port => Wire::Gtpv2,
        Some(0x5) => Wire::Gtpv2,
        Some(0x4) if data.get(1).is_some_and(|b| b & 0x0f != 2) => Wire::Gtpv2,
        Some(0x2) => Wire::Pfcp,
        _ => Wire::L2tp,
    }
}

/// The message of the fabric datagram `data` at node `me` in incarnation `incarnation`, a
/// machine that takes sealed messages from the switch processor alone (node `switch`, whose
/// replay window is `window`, from its address: `at_switch_addr` says whether the datagram came
/// from there): opened ([`FabricSealer::open`]); a sealed one from another address refused as
/// [`InputError::Untrusted`] before its packet number is looked at (so the genuine message,
/// sent again from the switch processor's address, is still taken); then admitted
/// ([`FabricSealer::admit`]). A refusal (not parsed, not authorized, untrusted) is counted in
/// `refused`.
pub(crate) fn from_switch<'a>(
    sealer: &mut FabricSealer,
    (me, incarnation, switch): (NodeId, u32, NodeId),
    window: &mut ReplayWindow,
    refused: &mut u64,
    at_switch_addr: bool,
    data: &'a [u8],
) -> Result<FabricMessage<'a>, InputError> {
    let admitted = sealer.open(data).and_then(|opened| {
        if opened.seal.is_some() && !at_switch_addr {
            return Err(InputError::Untrusted(FabricKind::of(&opened.message)));
        }
        FabricSealer::admit((me, Some(incarnation)), &opened, |s| {
            (s == switch).then_some(window)
        })?;
        Ok(opened.message)
    });
    if admitted.is_err() {
        *refused += 1;
    }
    admitted
}

/// A datagram of `payload` from `src` to `dst`.
pub(crate) fn transmit(src: SocketAddr, dst: SocketAddr, payload: Vec<u8>) -> Transmit {
    Transmit {
        dst,
        src: Some(src),
        link_dst: None,
        payload: payload.into(),
    }
}

/// The fabric datagram carrying `msg` from `src` to `dst`.
pub(crate) fn fabric_transmit(
    src: SocketAddr,
    dst: SocketAddr,
    msg: &FabricMessage<'_>,
) -> Transmit {
    transmit(src, dst, msg.to_vec())
}

/// A machine's outbox: datagrams to send and events to report, each an [`io::Outbox`]. A full
/// datagram queue refuses the new datagram ([`Overflow::DropNewest`]), a full event queue drops
/// its oldest event ([`Overflow::DropOldest`]); both are counted.
#[derive(Debug)]
pub(crate) struct Outbox<E> {
    queue: io::Outbox<Transmit>,
    events: io::Outbox<E>,
}

impl<E> Outbox<E> {
    pub(crate) fn new(queue_limit: usize, event_limit: usize) -> Outbox<E> {
        Outbox {
            queue: io::Outbox::new(queue_limit, Overflow::DropNewest),
            events: io::Outbox::new(event_limit, Overflow::DropOldest),
        }
    }

    /// Queues `t`; `false` (counted) when the queue is full.
    pub(crate) fn push(&mut self, t: Transmit) -> bool {
        self.queue.push(t)
    }

    /// Queues `e`, dropping (and counting) the oldest event when the queue is full.
    pub(crate) fn event(&mut self, e: E) {
        self.events.push(e);
    }

    pub(crate) fn poll_transmit(&mut self) -> Option<Transmit> {
        self.queue.pop()
    }

    pub(crate) fn poll_event(&mut self) -> Option<E> {
        self.events.pop()
    }

    /// Datagrams refused because the queue was full.
    pub(crate) fn queue_full(&self) -> u64 {
        self.queue.dropped()
    }

    /// Events dropped (the oldest) because the event queue was full.
    pub(crate) fn events_dropped(&self) -> u64 {
        self.events.dropped()
    }
}

/// The user-plane endpoint a peer's Error Indication names: its TEID Data I and GTP-U Peer
/// Address (TS 29.281 section 7.3.1, both mandatory), or the first of them missing.
pub(crate) fn error_indication_names(m: &Message<'_>) -> Result<(u32, IpAddr), InputError> {
    match (m.teid_data_i(), m.gtp_u_peer_address()) {
        (Some(teid), Some(addr)) => Ok((teid, addr)),
        (None, _) => Err(InputError::MissingIe(IeType::TEID_DATA_I)),
        (Some(_), None) => Err(InputError::MissingIe(IeType::GSN_ADDRESS)),
    }
}

/// What becomes of a message whose extension header chain holds a type the receiving endpoint
/// must comprehend and does not support (TS 29.281 section 5.2.1, TS 29.060 section 6.1): it is
/// discarded, and the sender is told which extension headers are supported with a Supported
/// Extension Headers Notification (TS 29.060 section 7.2.4) when the rate limit allows.
pub(crate) enum UnsupportedExtension {
    /// Answer with this notification.
    Notify {
        /// The unsupported type.
        ext: u8,
        /// The Supported Extension Headers Notification.
        notification: Message<'static>,
    },
    /// The rate limit is exhausted: discarded unanswered.
    Suppressed {
        /// The unsupported type.
        ext: u8,
    },
}

/// Checks `header` (of a message received on `port`, sequence number `seq`) for a
/// comprehension-required extension header the endpoint does not support; `None` when there is
/// none. Takes a token from `bucket` when there is one.
pub(crate) fn unsupported_extension(
    header: &Header<'_>,
    port: u16,
    seq: u16,
    bucket: &mut TokenBucket,
    now: Instant,
) -> Option<UnsupportedExtension> {
    let supported = gtp::supported_extension_headers(port);
    let ext = header.unsupported_extension(supported)?;
    Some(if bucket.take(now) {
        UnsupportedExtension::Notify {
            ext,
            notification: Message::supported_extension_headers_notification(seq, supported),
        }
    } else {
        UnsupportedExtension::Suppressed { ext }
    })
}

/// TEIDs purged recently (the sessions of a restarted peer, or of a failed path): a replication
/// of one of them still in flight when the purge came must not bring it back. At most `cap`
/// (the oldest forgotten first), each kept `ttl`.
#[derive(Debug, Default)]
pub(crate) struct Tombstones {
    set: std::collections::HashSet<u32>,
    order: std::collections::VecDeque<(std::time::Instant, u32)>,
}

impl Tombstones {
    /// Remembers `teid` from `now`.
    pub(crate) fn insert(
        &mut self,
        now: std::time::Instant,
        teid: u32,
        cap: usize,
        ttl: std::time::Duration,
    ) {
        self.expire(now, ttl);
        if cap == 0 || self.set.contains(&teid) {
            return;
        }
        while self.order.len() >= cap {
            match self.order.pop_front() {
                Some((_, t)) => {
                    self.set.remove(&t);
                }
                None => break,
            }
        }
        self.set.insert(teid);
        self.order.push_back((now, teid));
    }

    /// Whether `teid` was purged less than `ttl` ago.
    pub(crate) fn contains(
        &mut self,
        now: std::time::Instant,
        teid: u32,
        ttl: std::time::Duration,
    ) -> bool {
        self.expire(now, ttl);
        self.set.contains(&teid)
    }

    fn expire(&mut self, now: std::time::Instant, ttl: std::time::Duration) {
        while let Some(&(at, t)) = self.order.front() {
            if at + ttl > now {
                break;
            }
            self.order.pop_front();
            self.set.remove(&t);
        }
    }
}
