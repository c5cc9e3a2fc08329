//! The tunnel a binding needs in the data plane: what the registration decided (encapsulation,
//! reverse tunnelling, GRE keys, UDP encapsulation through a NAT) and the home agent address the
//! tunnel uses.
//!
//! The crate programs no kernel; a caller installs the tunnel from [`Tunnel`]. On Linux (iproute2),
//! for a tunnel `t` of home address `h`:
//!
//! | [`Encapsulation`] | Linux |
//! | --- | --- |
//! | [`Encapsulation::IpInIp`] (RFC 2003) | `ip link add NAME type ipip local t.local remote t.care_of` (or `ip tunnel add NAME mode ipip ...`) |
//! | [`Encapsulation::Gre`] (RFC 2784, keys RFC 2890) | `ip link add NAME type gre local t.local remote t.care_of okey OKEY ikey IKEY` (each key only when `Some`) |
//! | [`Encapsulation::Minimal`] (RFC 2004) | no Linux tunnel device implements it: a user-space or eBPF data plane |
//! | [`Encapsulation::Udp`] (RFC 3519) | `ip link add NAME type ipip local t.local remote PEER_IP encap fou encap-sport 434 encap-dport PEER_PORT` (inner `gre`: `type gre ... encap fou`); RFC 3519 section 3.3 puts a 4-octet header (type 4, next header, reserved) between UDP and the inner packet, which `fou` does not write: a data plane that adds it (eBPF, user space) |
//!
//! then `ip route add h/32 dev NAME` (the home agent forwards the mobile node's traffic into
//! the tunnel). With [`Tunnel::reverse`] the home agent also accepts packets the mobile node
//! sends from its home address through the tunnel (RFC 3024: decapsulate, then route them;
//! Linux: the same device receives them, with `rp_filter` allowing the home address on it).
//! `local` is the source address of the encapsulated packets and the address the foreign agent
//! or mobile node tunnels to: the virtual home agent address, or this home agent's own address
//! when the mobile node registered with it.
//!
//! Broadcasts of the home network (RFC 5944 section 4.2.3) go only into the tunnels whose
//! [`Tunnel::broadcast`] is `Some`, delivered as its [`BroadcastDelivery`] says.

use std::net::{Ipv4Addr, SocketAddrV4};

/// The encapsulation inside a UDP tunnel (RFC 3519 section 3.1, the request's Encapsulation
/// field: the IP protocol number of the inner header).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum UdpInner {
    /// IP-in-IP (4).
    IpInIp,
    /// GRE (47).
    Gre,
    /// Minimal encapsulation (55).
    Minimal,
}

impl UdpInner {
    /// The Encapsulation field's value of RFC 3519 section 3.1 (an IP protocol number), or
    /// `None` for one RFC 3519 does not define.
    pub const fn from_protocol(p: u8) -> Option<UdpInner> {
        match p {
            4 => Some(UdpInner::IpInIp),
            47 => Some(UdpInner::Gre),
            55 => Some(UdpInner::Minimal),
            _ => None,
        }
    }

    /// The IP protocol number (4, 47 or 55), also the next header of the RFC 3519 tunnel header.
    pub const fn protocol(self) -> u8 {
        match self {
            UdpInner::IpInIp => 4,
            UdpInner::Gre => 47,
            UdpInner::Minimal => 55,
        }
    }
}

/// How the packets of a binding are encapsulated between the home agent and the care-of address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Encapsulation {
    /// IP in IP (RFC 2003), every home agent's default (RFC 5944 section 3.8.3: neither M nor G).
    #[default]
    IpInIp,
    /// Minimal encapsulation (RFC 2004): the request's M bit.
    Minimal,
    /// GRE (RFC 2784): the request's G bit, or a GRE Key extension (RFC 6245).
    Gre {
        /// The key the home agent writes in the packets it tunnels to the care-of address: the
        /// one the request's GRE Key extension named (RFC 6245 section 3; Linux `okey`).
        okey: Option<u32>,
        /// The key the home agent expects in the packets tunnelled to it: the one its reply's GRE
        /// Key extension names (Linux `ikey`). The home agent uses the home address as its key
        /// (unique per binding in the home network, and the same on every member, so it survives
        /// a takeover).
        ikey: Option<u32>,
    },
    /// UDP encapsulation through a NAT (RFC 3519): packets to `peer` (the registration's source
    /// address and port, as the NAT rewrote them), from port 434.
    Udp {
        /// The encapsulation inside UDP.
        inner: UdpInner,
        /// Where the tunnelled packets go: the request's IP source address and UDP source port.
        peer: SocketAddrV4,
        /// Keepalive interval the reply announced, seconds (RFC 3519 section 3.2).
        keepalive: u16,
        /// The request forced UDP tunnelling (F flag) rather than the home agent detecting a NAT.
        forced: bool,
    },
}

/// How the home network's broadcast datagrams reach a mobile node that asked for them (RFC 5944
/// section 4.2.3; the request's B bit, delivered as its D bit says).
///
/// Which categories of broadcasts are forwarded is the home agent's configuration (4.2.3: the
/// home agent SHOULD forward them, what it forwards is a matter of configuration): the caller's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BroadcastDelivery {
    /// D set: the mobile node decapsulates itself (co-located care-of address). The home agent
    /// tunnels the broadcast datagram to the care-of address as it is.
    MobileNodeDecapsulates,
    /// D clear: a foreign agent decapsulates. The home agent first encapsulates the broadcast
    /// datagram in a unicast datagram to the mobile node's home address, then tunnels that to
    /// the care-of address: the foreign agent decapsulates the outer header and delivers the
    /// unicast datagram to the mobile node like any other (it needs the home address to know
    /// which visitor gets it), and the mobile node decapsulates the inner one.
    ForeignAgentDelivers,
}

impl BroadcastDelivery {
    /// The delivery a request's flag octet asks for: `None` without the B bit (RFC 5944
    /// section 3.3: B asks for broadcasts, D says the mobile node decapsulates).
    pub const fn from_flags(b: bool, d: bool) -> Option<BroadcastDelivery> {
        match (b, d) {
            (false, _) => None,
            (true, true) => Some(BroadcastDelivery::MobileNodeDecapsulates),
            (true, false) => Some(BroadcastDelivery::ForeignAgentDelivers),
        }
    }
}

/// The tunnel of one granted care-of address, as a data plane installs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Tunnel {
    /// The mobile node's home address (route it into the tunnel).
    pub home_address: Ipv4Addr,
    /// The care-of address (the tunnel's remote end, unless [`Encapsulation::Udp`] names the
    /// NAT's address).
    pub care_of: Ipv4Addr,
    /// The home agent address the tunnel uses (its local end): the virtual address, or the
    /// serving home agent's own address when the mobile node registered with it.
    pub local: Ipv4Addr,
    /// The encapsulation.
    pub encapsulation: Encapsulation,
    /// Reverse tunnelling (RFC 3024, the request's T bit): the home agent accepts and routes the
    /// mobile node's packets arriving through the tunnel.
    pub reverse: bool,
    /// Broadcast datagrams of the home network (RFC 5944 section 4.2.3, the request's B bit):
    /// `None`, the mobile node did not ask for them and the home agent MUST NOT forward it any;
    /// `Some`, forward the configured categories into this tunnel as the [`BroadcastDelivery`]
    /// says (with the D bit clear, inside a unicast datagram to [`Tunnel::home_address`]).
    pub broadcast: Option<BroadcastDelivery>,
}

/// What a binding keeps of its tunnel beyond its addresses (boxed in [`super::Binding`]: a
/// plain IP-in-IP tunnel from the virtual address, the common case, keeps nothing).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TunnelParams {
    /// [`Tunnel::local`].
    pub local: Ipv4Addr,
    /// [`Tunnel::encapsulation`].
    pub encapsulation: Encapsulation,
    /// [`Tunnel::reverse`].
    pub reverse: bool,
    /// [`Tunnel::broadcast`].
    pub broadcast: Option<BroadcastDelivery>,
}

impl TunnelParams {
    /// The parameters of a plain IP-in-IP tunnel without reverse tunnelling from `local`.
    pub const fn plain(local: Ipv4Addr) -> Self {
        TunnelParams {
            local,
            encapsulation: Encapsulation::IpInIp,
            reverse: false,
            broadcast: None,
        }
    }

    /// The tunnel of `home_address` at `care_of`.
    pub const fn tunnel(&self, home_address: Ipv4Addr, care_of: Ipv4Addr) -> Tunnel {
        Tunnel {
            home_address,
            care_of,
            local: self.local,
            encapsulation: self.encapsulation,
            reverse: self.reverse,
            broadcast: self.broadcast,
        }
    }
}

/// [`TunnelParams::to_record`] flag bits.
const REVERSE: u8 = 0x01;
const OKEY: u8 = 0x02;
const IKEY: u8 = 0x04;
const FORCED: u8 = 0x08;
/// Broadcasts asked for (RFC 5944 section 4.2.3, B), and with it the D bit.
const BROADCAST: u8 = 0x10;
const BROADCAST_D: u8 = 0x20;

impl TunnelParams {
    /// The parameters as a replicated binding carries them (the cluster's record,
    /// [`crate::mip::cluster::Record::tunnel`]): kind (1 IP-in-IP, 2 minimal, 3 GRE, 4 UDP),
    /// flags (0x01 reverse, 0x02 and 0x04 keys present, 0x08 forced, 0x10 broadcasts (B),
    /// 0x20 broadcasts decapsulated by the mobile node (D, only with 0x10)), the local address,
    /// then per kind the present GRE keys, or the inner protocol, peer address and port and
    /// keepalive. One encoding per value.
    ///
    /// Parameters without broadcasts encode as before the broadcast flags existed, so members
    /// of older releases decode them; a record with broadcasts is refused by those members.
    pub fn to_record(&self) -> Vec<u8> {
        let mut flags = if self.reverse { REVERSE } else { 0 };
        flags |= match self.broadcast {
            None => 0,
            Some(BroadcastDelivery::ForeignAgentDelivers) => BROADCAST,
            Some(BroadcastDelivery::MobileNodeDecapsulates) => BROADCAST | BROADCAST_D,
        };
        let mut tail = Vec::with_capacity(9);
        let kind = match self.encapsulation {
            Encapsulation::IpInIp => 1,
            Encapsulation::Minimal => 2,
            Encapsulation::Gre { okey, ikey } => {
                for (k, bit) in [(okey, OKEY), (ikey, IKEY)] {
                    if let Some(k) = k {
                        flags |= bit;
                        tail.extend_from_slice(&k.to_be_bytes());
                    }
                }
                3
            }
            Encapsulation::Udp {
                inner,
                peer,
                keepalive,
                forced,
            } => {
                if forced {
                    flags |= FORCED;
                }
                tail.push(inner.protocol());
                tail.extend_from_slice(&peer.ip().octets());
                tail.extend_from_slice(&peer.port().to_be_bytes());
                tail.extend_from_slice(&keepalive.to_be_bytes());
                4
            }
        };
        let mut v = vec![kind, flags];
        v.extend_from_slice(&self.local.octets());
        v.extend_from_slice(&tail);
        v
    }

    /// Parses [`TunnelParams::to_record`]'s bytes; `None` for anything else (an unknown kind, a
    /// flag the kind does not define, a wrong length).
    pub fn from_record(b: &[u8]) -> Option<TunnelParams> {
        let (&[kind, flags], rest) = b.split_first_chunk::<2>()?;
        let (local, rest) = rest.split_first_chunk::<4>()?;
        let u32_at = |b: &[u8], i: usize| {
            b.get(i..i + 4)
                .and_then(|s| s.try_into().ok())
                .map(u32::from_be_bytes)
        };
        let allowed = REVERSE
            | BROADCAST
            | BROADCAST_D
            | match kind {
                3 => OKEY | IKEY,
                4 => FORCED,
                _ => 0,
            };
        if flags & !allowed != 0 || flags & (BROADCAST | BROADCAST_D) == BROADCAST_D {
            return None;
        }
        let (encapsulation, len) = match kind {
            1 => (Encapsulation::IpInIp, 0),
            2 => (Encapsulation::Minimal, 0),
            3 => {
                let mut at = 0;
                let mut key = |bit| {
                    if flags & bit == 0 {
                        return Some(None);
                    }
                    let k = u32_at(rest, at)?;
                    at += 4;
                    Some(Some(k))
                };
                let okey = key(OKEY)?;
                let ikey = key(IKEY)?;
                (Encapsulation::Gre { okey, ikey }, at)
            }
            4 => {
                let t: &[u8; 9] = rest.first_chunk()?;
                let inner = UdpInner::from_protocol(t[0])?;
                let ip = Ipv4Addr::new(t[1], t[2], t[3], t[4]);
                let peer = SocketAddrV4::new(ip, u16::from_be_bytes([t[5], t[6]]));
                let keepalive = u16::from_be_bytes([t[7], t[8]]);
                let forced = flags & FORCED != 0;
                let udp = Encapsulation::Udp {
                    inner,
                    peer,
                    keepalive,
                    forced,
                };
                (udp, 9)
            }
            _ => return None,
        };
        (rest.len() == len).then_some(TunnelParams {
            local: Ipv4Addr::from(*local),
            encapsulation,
            reverse: flags & REVERSE != 0,
            broadcast: BroadcastDelivery::from_flags(
                flags & BROADCAST != 0,
                flags & BROADCAST_D != 0,
            ),
        })
    }
}
