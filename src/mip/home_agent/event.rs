//! What a Home Agent reports to its caller: [`Event`].

use super::KeyRequestId;
use crate::health::NodeId;
use crate::mip::MnId;
use crate::mip::binding::Tunnel;
use ipnetwork::IpNetwork;
use std::net::Ipv4Addr;

/// Facts for the caller.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// This HA can serve the virtual network: announce it to the routing daemon.
    AdvertiseRoute {
        /// The virtual network.
        prefix: IpNetwork,
    },
    /// This HA cannot serve the virtual network any more: withdraw the route.
    WithdrawRoute {
        /// The virtual network.
        prefix: IpNetwork,
    },
    /// A temporary binding was created and the request forwarded to the second HA.
    TemporaryBinding {
        /// The mobile node.
        mn: MnId,
        /// The second HA.
        second_ha: NodeId,
    },
    /// A temporary binding's pending timer expired: it is freed.
    TemporaryExpired {
        /// The mobile node.
        mn: MnId,
    },
    /// The first HA made a binding permanent from the second HA's reply.
    BindingPermanent {
        /// The mobile node (by home address).
        home_address: Ipv4Addr,
        /// Granted lifetime.
        lifetime: u16,
        /// The serving HA.
        second_ha: NodeId,
        /// The tunnel the serving HA installs (as this HA decided it from the request under the
        /// cluster's configuration, with the keys of the reply).
        tunnel: Tunnel,
    },
    /// This HA serves a registration at `care_of` (install the tunnel to it, or, with `refresh`,
    /// keep the one installed). Also, one per care-of address, when this HA comes to serve a
    /// tunnel without a registration of it here: a replica names it the server (a first HA's
    /// record, a handover, a late replica of a member taken over here), or a simultaneous
    /// registration (S bit) served here keeps the care-of addresses of a binding another member
    /// served (`lifetime`: what is left of each). Every tunnel this HA comes to serve is told
    /// once with `refresh: false` (or in [`Event::TakenOver`]), and every tunnel it stops
    /// serving once by [`Event::Deregistered`], [`Event::Expired`] or
    /// [`Event::RegistrationRevoked`]: the binding table reports both from its own changes.
    Registered {
        /// Home address.
        home_address: Ipv4Addr,
        /// Care-of address.
        care_of: Ipv4Addr,
        /// Granted lifetime.
        lifetime: u16,
        /// The tunnel to install: encapsulation, keys, reverse tunnelling, local address
        /// (see [`Tunnel`] for the Linux settings).
        tunnel: Tunnel,
        /// The tunnel is already installed, unchanged: a re-registration at the same care-of
        /// address with the same tunnel (a binding's lifetime renewed). Nothing
        /// to install; `lifetime` is the new one. A re-registration that changes the tunnel
        /// (other encapsulation, keys, reverse tunnelling, local address) is told as the old
        /// tunnel's [`Event::Deregistered`] and a new one's `Registered` without `refresh`.
        refresh: bool,
    },
    /// A care-of address of a binding was deregistered (RFC 5944 section 3.8.3: lifetime 0, for
    /// that care-of address or, with the home address as care-of address, for all of them): one
    /// event per care-of address removed, with the tunnel to remove (as
    /// [`Event::Registered`] gave it: `ip tunnel del` / `ip link del` of that device and its
    /// route to the home address). Also, one per care-of address, once, whenever a tunnel this
    /// HA served goes without a deregistration by the mobile node: a registration without the
    /// S bit replaces the binding's other care-of addresses (section 3.6.1.3: the mobile node
    /// moved), or changes the tunnel at the same care-of address; the binding gives way to a
    /// newer registration served by another member (the cluster's two-servers rule), or to the
    /// winning owner of a takeover decision that overrides this HA's (split brain); a binding
    /// this HA took over goes because the member it was taken from, alive after all, no longer
    /// holds it or removed it meanwhile. Only tunnels this HA served (told by
    /// [`Event::Registered`] or [`Event::TakenOver`]) are ever removed: a member that accepts
    /// the deregistration of a binding another member serves reports nothing. The member now
    /// serving a moved binding keeps its own tunnels: this HA stopping to serve (yielding) needs
    /// nothing more from the caller than removing these.
    Deregistered {
        /// Home address.
        home_address: Ipv4Addr,
        /// The tunnel to the deregistered care-of address.
        tunnel: Tunnel,
    },
    /// A care-of address's lifetime ended (RFC 5944 section 3.8.3.1): one event per care-of
    /// address expired whose tunnel this HA served, with the tunnel to remove; the binding goes
    /// with its last one (a replica of a binding another member serves expires silently).
    Expired {
        /// Home address.
        home_address: Ipv4Addr,
        /// The tunnel to the expired care-of address.
        tunnel: Tunnel,
    },
    /// A peer is Up (health): first heard, back from Down, or back from Suspect. Suspect is
    /// not reported (a missed heartbeat or two), so a `PeerUp` may follow another with no
    /// [`Event::PeerDown`] between: the peer was Suspect meanwhile
    /// ([`crate::health::HealthEvent`]).
    PeerUp {
        /// The peer.
        node: NodeId,
    },
    /// A peer is Down (health).
    PeerDown {
        /// The peer.
        node: NodeId,
    },
    /// The bindings served by `failed` are now served by `owner`.
    TakenOver {
        /// The failed HA.
        failed: NodeId,
        /// The new serving HA.
        owner: NodeId,
        /// Bindings moved in this HA's table.
        bindings: usize,
        /// The tunnels this HA serves now because of the takeover (it is the owner): install
        /// them, one per care-of address of each binding moved here whose tunnel it offers (one
        /// it does not offer is revoked, [`HomeAgentConfig::takeover_revocation_grace`](super::HomeAgentConfig::takeover_revocation_grace)).
        /// Empty when another member is the owner. Carried here rather than as one
        /// [`Event::Registered`] each: a takeover moves bindings by the thousand.
        tunnels: Vec<Tunnel>,
    },
    /// RFC 4433: a request for dynamic home agent assignment (Home Agent field 0.0.0.0 or
    /// 255.255.255.255) was given a home agent chosen by load.
    HomeAgentAssigned {
        /// The mobile node.
        mn: MnId,
        /// The assigned HA's address (a member's own; the virtual address under
        /// [`DynamicHaPolicy::Serve`](super::DynamicHaPolicy::Serve) is reported by the usual registration events instead).
        home_agent: Ipv4Addr,
        /// Whether the request was denied with 143 and a Redirected HA extension (the mobile
        /// node asks again there) rather than served here.
        redirected: bool,
    },
    /// RFC 3543: a binding was revoked (by [`HomeAgent::revoke`](super::HomeAgent::revoke), by a
    /// takeover that cannot serve it, or by its foreign agent's Registration Revocation): remove
    /// the tunnel. One event per care-of address of the binding, each with its tunnel (as
    /// [`Event::Registered`] gave it, like [`Event::Deregistered`] and [`Event::Expired`]); one
    /// with `tunnel: None` for a binding with no tunnel installed here (no care-of address
    /// granted, or taken over with a tunnel this HA does not offer).
    RegistrationRevoked {
        /// Home address.
        home_address: Ipv4Addr,
        /// The tunnel to the care-of address to remove.
        tunnel: Option<Tunnel>,
        /// The foreign agent told (a Registration Revocation sent, or received from it).
        foreign_agent: Option<Ipv4Addr>,
        /// The foreign agent revoked it (A bit clear), not this HA.
        by_foreign_agent: bool,
    },
    /// RFC 3543 section 3.4: the foreign agent acknowledged a Registration Revocation.
    RevocationAcknowledged {
        /// Home address.
        home_address: Ipv4Addr,
        /// The foreign agent.
        foreign_agent: Ipv4Addr,
        /// The acknowledgement's I bit: the foreign agent informed the mobile node.
        mn_informed: bool,
    },
    /// A Registration Revocation got no acknowledgement after every retransmission.
    RevocationUnacknowledged {
        /// Home address.
        home_address: Ipv4Addr,
        /// The foreign agent.
        foreign_agent: Ipv4Addr,
    },
    // ----- keys from AAA (`aaa.rs`) -----
    /// A request names a mobile node and SPI this HA holds no key for: it is parked; ask AAA
    /// for the MN-HA key and answer with [`HomeAgent::provide_key`](super::HomeAgent::provide_key)
    /// or [`HomeAgent::deny`](super::HomeAgent::deny) within
    /// [`AaaConfig::timeout`](super::AaaConfig::timeout). One per parked request (copies of it ask
    /// nothing more).
    KeyRequest {
        /// Names the parked request in the answer.
        id: KeyRequestId,
        /// The NAI the request's MN-HA authenticator covers (RFC 2794), if any.
        nai: Option<Box<[u8]>>,
        /// The request's home address (0.0.0.0: the mobile node asks for one).
        home_address: Ipv4Addr,
        /// The SPI of the request's MN-HA authentication extension (RFC 5944 section 3.5.1).
        spi: u32,
        /// The home agent address the mobile node registered with (the request's Home Agent
        /// field: the virtual address, or a member's own): WiMAX derives MN-HA keys from it.
        ha_address: Ipv4Addr,
    },
    /// A parked request got no answer within its timeout: it was refused with 130 (forget the
    /// AAA query; a later answer gets [`KeyError::UnknownRequest`](super::KeyError::UnknownRequest)).
    KeyRequestExpired {
        /// The request's id.
        id: KeyRequestId,
    },
}
