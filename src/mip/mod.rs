//! Mobile IPv4 (RFC 5944) Home Agents sharing one virtual HA address.
//!
//! * [`wire`]: the registration codec (RRQ/RRP, extensions, authenticators, replay protection).
//! * [`binding`]: the binding table (temporary and permanent bindings, bounded, timer-driven).
//! * [`cluster`]: the authenticated HA-to-HA messages (layer-3 forwarding, replication, takeover).
//! * [`HomeAgent`]: one member of a virtual-HA cluster, sans IO.
//! * [`MobileNodeClient`]: a sans-IO mobile node (co-located care-of address, so it is also its
//!   own foreign agent, or registering through a [`ForeignAgent`]) that builds authenticated
//!   requests, retransmits and accepts replies.
//! * [`ForeignAgent`]: a minimal relay between mobile nodes and the (virtual) home agent, adding
//!   FA-HA authentication.
//!
//! A mobile node registers through a foreign agent with a one-member cluster over UDP
//! ([`ForwardMode::Layer3`]: no raw sockets), then deregisters; every datagram is handed to
//! the endpoint its `dst` names. The Home Agent answers from the virtual address, on the port
//! the request was sent to (RFC 5944 section 3.8.3.1): port 434 ([`wire::PORT`]) for mobile
//! nodes and foreign agents that follow the RFC, so the caller binds the virtual address on that
//! port (below 1024: root, `CAP_NET_BIND_SERVICE`, or on Linux
//! `net.ipv4.ip_unprivileged_port_start` at most 434; a test without privilege may use another
//! port in [`ForwardMode::Layer3`], since [`ClientConfig`] and [`ForeignAgentConfig`] name the HA
//! by socket address). The caller needs a socket on each address the HA sends from: replies name
//! the virtual address in [`crate::Transmit`]'s `src`; cluster messages (`src` `None`) leave
//! from the HA's own member address ([`Member::addr`]), which the other members know it by.
//!
//! ```
//! use std::net::{Ipv4Addr, SocketAddr};
//! use std::time::{Duration, Instant};
//! use telcp::health::NodeId;
//! use telcp::io::MacAddr;
//! use telcp::mip::wire::auth::{AuthAlgorithm, SecurityAssociation};
//! use telcp::mip::{ClientConfig, ClientEvent, ForeignAgent, ForeignAgentConfig, ForwardMode};
//! use telcp::mip::{HomeAgent, HomeAgentConfig, Member, MnId, MobileNodeClient, MobileNodeKey};
//!
//! let now = Instant::now();
//! let wall_clock = Duration::from_secs(1_700_000_000); // SystemTime::now() since UNIX_EPOCH
//! let virt: Ipv4Addr = "10.1.0.1".parse()?;
//! let ha_own: SocketAddr = "10.1.0.11:434".parse()?;
//! let fa_addr: SocketAddr = "192.0.2.20:434".parse()?;
//! let mn_addr: SocketAddr = "192.0.2.30:434".parse()?;
//! let home: Ipv4Addr = "10.1.0.5".parse()?;
//! let mn_ha = SecurityAssociation::new(300, AuthAlgorithm::HmacMd5, b"mn-ha shared key".to_vec());
//! let fa_ha = SecurityAssociation::new(400, AuthAlgorithm::HmacMd5, b"fa-ha shared key".to_vec());
//!
//! let mac = MacAddr([2, 0, 0, 0, 0, 1]);
//! let member = Member { node: NodeId(1), addr: ha_own, mac, backups: vec![] };
//! let (network, key) = ("10.1.0.0/16".parse()?, b"cluster key of 128 bits");
//! let mut ha_config = HomeAgentConfig::new(NodeId(1), virt, network, vec![member], key);
//! ha_config.mode = ForwardMode::Layer3;
//! ha_config.wall_clock = wall_clock;
//! ha_config.mobile_nodes = vec![MobileNodeKey { id: MnId::Home(home), sa: mn_ha.clone() }];
//! ha_config.foreign_agents = vec![(Ipv4Addr::new(192, 0, 2, 20), fa_ha.clone())];
//! let mut ha = HomeAgent::new(ha_config, now)?;
//!
//! let virtual_ha = SocketAddr::new(virt.into(), 434);
//! let mut fa_config = ForeignAgentConfig::new(virtual_ha);
//! fa_config.fa_ha = Some(fa_ha);
//! let mut fa = ForeignAgent::new(fa_config, now)?;
//!
//! let mut mn_config = ClientConfig::new(home, mn_ha, virtual_ha, mn_addr, wall_clock);
//! mn_config.via = Some(fa_addr);
//! let mut mn = MobileNodeClient::new(mn_config, now)?;
//!
//! // A perfect network: deliver every datagram to the endpoint its `dst` names, until all
//! // three are quiet. The HA's replies name their source (`src`: the virtual address).
//! let run = |mn: &mut MobileNodeClient, fa: &mut ForeignAgent, ha: &mut HomeAgent| loop {
//!     let mut wire = Vec::new();
//!     wire.extend(std::iter::from_fn(|| mn.poll_transmit()).map(|t| (mn_addr, t)));
//!     wire.extend(std::iter::from_fn(|| fa.poll_transmit()).map(|t| (fa_addr, t)));
//!     let ha_out = std::iter::from_fn(|| ha.poll_transmit());
//!     wire.extend(ha_out.map(|t| (t.src.unwrap_or(ha_own), t)));
//!     if wire.is_empty() {
//!         break;
//!     }
//!     for (from, t) in wire {
//!         let (to, data) = (t.dst, &t.payload[..]);
//!         let taken = match to {
//!             _ if to == mn_addr => mn.handle_datagram(now, from, to, data).is_ok(),
//!             _ if to == fa_addr => fa.handle_datagram(now, from, to, data).is_ok(),
//!             _ => ha.handle_datagram(now, from, to, data).is_ok(),
//!         };
//!         assert!(taken);
//!     }
//! };
//! mn.register(now);
//! run(&mut mn, &mut fa, &mut ha);
//! assert!(matches!(mn.poll_event(), Some(ClientEvent::Registered { lifetime: 1800, .. })));
//! assert_eq!(ha.served(), 1);
//! mn.deregister(now);
//! run(&mut mn, &mut fa, &mut ha);
//! assert!(matches!(mn.poll_event(), Some(ClientEvent::Deregistered)));
//! assert_eq!(ha.served(), 0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## The virtual Home Agent
//!
//! Several [`HomeAgent`]s share one virtual HA address (every one owns it; the network delivers a
//! request to one of them, the *first HA*). The first HA authenticates the request (MN-HA, so
//! spoofed requests create no state), looks for the mobile node's binding (by home address, or
//! NAI when the home address is 0.0.0.0) and takes the *second HA* from it; without one it
//! selects the second HA by load among the Up members ([`crate::health`] heartbeats carry each
//! HA's bindings in use and capacity), itself included (it then serves the request alone).
//!
//! Otherwise it creates a temporary binding (FA address, second HA, identification, pending
//! timer) and forwards the request unchanged: in [`ForwardMode::Layer2`] as a frame whose IP
//! destination is still the virtual address and whose `link_dst` is the second HA's MAC. The
//! second HA tells a forwarded frame from a fresh one by its link-layer source, a member's MAC,
//! when the caller passes it ([`HomeAgent::handle_frame`]); callers that only see datagrams keep
//! [`HomeAgentConfig::layer2_notices`] on, and the first HA announces each forwarded request in an
//! authenticated [`cluster::Body::Notice`] (a cluster message and two HMACs more per
//! registration). In [`ForwardMode::Layer3`] inside an authenticated cluster message to the
//! second HA's own address. The second HA checks the MN-HA authenticator and the replay protection
//! (NTP timestamps; 133 with the HA's time), assigns a home address from its pool when asked,
//! bounds the lifetime, binds, and answers through the first HA (layer 2: to the virtual address at
//! the first HA's MAC; layer 3: in a cluster message). The first HA matches the reply to the
//! temporary binding, makes it permanent and relays the reply to the FA; a reply with no
//! temporary binding is dropped and counted. A reply to a request older than the binding's last
//! accepted registration (a late network copy of an old request, forwarded and answered after a
//! newer one was accepted) is relayed and ends the pending request, but leaves the binding as
//! it is, so the first HA's identification stays the serving HA's.
//!
//! Every binding (with its last accepted identification) is replicated to the HA's configured
//! backups over a reliable, acknowledged, authenticated channel ([`crate::replica`]), with a bulk
//! sync when a backup (re)joins or falls too far behind (its queue overflows). The bulk sync is
//! authoritative: it is framed by [`cluster::Entry::SyncBegin`] and [`cluster::Entry::SyncEnd`]
//! carrying an epoch; the
//! backup notes the bindings the sender names in between and, at the end, removes the sender's
//! replicas it did not see (permanent ones the sender serves, temporary ones it relays), so a
//! removal lost with a dropped queue does not leave a stale replica. A sync
//! restarted midway opens a new epoch, which discards the old one's marks; an end for another
//! epoch is ignored; bindings this HA serves itself are never swept. A replicated removal, too,
//! only removes what its sender is authoritative for. When two HAs both claim to serve a mobile
//! node (races under loss, or an HA that took over the bindings of a peer that was only cut off),
//! the claim that wins is the owner a takeover decided, else the newer registration
//! (identification), else the lower node id: the winner re-asserts its binding, the loser yields
//! and re-replicates it naming the winner (at once, with the acknowledgement of the batch that
//! made it yield). A member serving neither claimant that takes a claim to the same registration
//! from a member cut off from the server it saw alive (an asymmetric partition), the server
//! winning it, notes that server: should the claimant's bulk sync stop naming the binding
//! unchanged (it gave it back, its handover dropped with its queue), the binding names that
//! server again rather than being swept, unless that server said meanwhile that it no longer
//! holds it (its removal, or its bulk sync not naming it). An HA that a replica names as the
//! server of a binding it did not serve takes it and says so, so a binding never ends up served
//! by nobody. Replication from two senders is not ordered, so a replica older than the binding it would change (a lower identification:
//! say a first HA's record queued before the mobile node registered anew elsewhere) changes
//! nothing and makes nobody server; a takeover keeps the identification, so it still applies.
//! Bindings taken over from a peer seen alive again with its state (same incarnation) are checked
//! against that peer's next bulk sync (which also names, as [`cluster::Item::Holds`], the
//! bindings it holds for the receiver): those it no longer holds at all, and that were not
//! re-registered here since, are removed. A peer that restarted lost its state: the takeover
//! stands. A takeover received for an HA this HA still sees alive waits
//! until this HA sees it Down (for a few heartbeat intervals; then it is dropped).
//!
//! When an HA is Down, the lowest-numbered live backup (as it sees them) selects the new owner
//! among the live backups by load and announces it as [`cluster::Item::Takeover`] naming itself
//! as coordinator; every HA re-points the bindings, so the owner serves the next re-registrations
//! without 131 or 133. Two survivors that see health differently may both coordinate and choose
//! different owners; the rule that makes them converge: for one failed HA, the decision of the
//! lowest coordinator id wins (then the lowest owner id, should one coordinator have
//! decided twice); so the lowest live backup coordinates even when it applied a decision
//! deferred from a higher coordinator. An HA holding a decision ignores a losing one and
//! answers its sender with the winner; adopting a winner re-points the failed HA's bindings
//! and those the losing decision had moved; the losing owner hands them over (re-replicates
//! them naming the winner), and the losing coordinator and owner are told directly. A
//! decision is forgotten when the failed HA is seen Up again. Each HA emits
//! [`Event::AdvertiseRoute`] / [`Event::WithdrawRoute`] for the virtual network and learns the
//! peers' announcements from their heartbeats ([`HomeAgent::announcers`]).
//!
//! A removal reaches every holder of a copy. Only the serving HA removes a binding (a
//! deregistration, a revocation, the end of its lifetime), and replicates the removal; the batch
//! in flight when a backup is seen Up again is kept and sent again before the bulk sync that
//! follows (which does not sweep the copy a first HA keeps of a binding it relays), so it loses
//! no removal and delivers none twice ([`crate::replica`] docs, delivery). A copy sent by
//! another member before it applied the removal (a first HA's record of a binding it relays,
//! retransmitted under loss or named in its bulk sync) can arrive after it: the serving HA and every member that applied the removal remember
//! the removed binding's identification until its lifetime would have ended (at most
//! `max_bindings`, [`HaStats::removed_evicted`] beyond), so such a copy, not newer than the
//! removal, changes nothing ([`HaStats::replicas_stale`]) and the serving HA answers its sender
//! with the removal. So does, at the HA that removed a binding it served and at every member that
//! applied the removal, another member's claim to serve that registration (a takeover of it,
//! seen Down while cut off or decided before the removal reached the claimant, from a replica
//! the removal had not reached): the removal stands, and the HA that removed it answers the
//! claimant with it. (Without it the serving HA would take the copy as naming it the server of
//! a binding it did not serve, and the removed binding would be served again everywhere.)
//!
//! ## Registration revocation (RFC 3543)
//!
//! With [`HomeAgentConfig::revocation`] on, the serving HA negotiates revocation with a foreign
//! agent that offers it (its Revocation Support extension covered by FA-HA, answered in the
//! reply with the I bit both agents set) or with a mobile node with a co-located care-of address
//! (covered by MN-HA); the negotiation travels with the replicated binding
//! ([`cluster::Record::revocation`]). [`HomeAgent::revoke`] (administratively, or on AAA's
//! request) removes a binding at the HA serving it, everywhere, and sends the Registration
//! Revocation from that HA's own address, retransmitted from
//! [`HomeAgentConfig::revocation_rto`], doubling, up to [`HomeAgentConfig::revocation_retransmits`]
//! times until acknowledged; at most [`HomeAgentConfig::max_revocations`] await
//! acknowledgement. A foreign agent's Revocation, sent to the virtual address, reaches any
//! member: one not serving the binding forwards it over the cluster link to the serving HA,
//! which alone removes the binding and acknowledges.
//!
//! A takeover that makes an HA serve bindings whose tunnel it does not offer revokes them rather
//! than serving them or dropping them silently, but not at once: a live member cut off for a
//! few heartbeats under loss (a false Down) would lose its bindings. The revocations wait
//! [`HomeAgentConfig::takeover_revocation_grace`] (default 10 s, at most 1 h; zero revokes at
//! once) and are cancelled when the member they were taken from is seen Up again (the takeover
//! rules above hand its bindings back; [`HaStats::takeover_grace_cancelled`]) or when the binding
//! is served again; a member seen restarted lost its state, so what was taken from it is revoked
//! at once. At most `max_bindings` wait; beyond, revoked at once
//! ([`HaStats::takeover_grace_full`]).
//!
//! ## How the Home Agent is built
//!
//! [`HomeAgent`] is an orchestrator (demultiplexing, the binding table, health, outboxes,
//! stats) of parts that own their state and never call back into it: the takeover decisions
//! (functions of a read-only view of the table and health that return effects: queue a
//! decision, re-point or restore bindings, replicate, emit an event), one replication channel
//! per peer ([`crate::replica::Channel`]: sequence numbers, queue, batch in flight, bulk syncs;
//! it returns the batches to send), the layer-2 notices, the home-address pool and the route. The rules above that decide
//! what a replica, a removal or a bulk-sync end does are functions of the binding they would
//! change; each has an inline unit test next to it quoting the rule.
pub mod binding;
pub mod cluster;
mod foreign_agent;
mod home_agent;
mod mobile_node;
pub mod wire;

pub use foreign_agent::{FaError, FaEvent, FaStats, ForeignAgent, ForeignAgentConfig};
pub use home_agent::{
    AaaConfig, AaaKey, ConfigError, ConfigField, Datagram, DenyReason, DynamicHaPolicy, Event,
    ForwardMode, HaStats, HomeAgent, HomeAgentConfig, InputError, KeyError, KeyRequestId, Member,
    MobileNodeKey, ReverseTunnelling, Revoked, TunnelConfig,
};
pub use mobile_node::{ClientConfig, ClientError, ClientEvent, ClientStats, MobileNodeClient};
pub use wire::auth::{AuthAlgorithm, SecurityAssociation};

use std::fmt;
use std::net::Ipv4Addr;

/// How a mobile node is identified: its home address, or its NAI when it has none yet (RFC 2794).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum MnId {
    /// A home address.
    Home(Ipv4Addr),
    /// A Network Access Identifier.
    Nai(Box<[u8]>),
}

impl MnId {
    /// The identifier a request names: the home address, or the NAI when the home address is
    /// 0.0.0.0. `None` when neither is usable.
    pub fn of(home_address: Ipv4Addr, nai: Option<&[u8]>) -> Option<MnId> {
        if !home_address.is_unspecified() {
            Some(MnId::Home(home_address))
        } else {
            nai.filter(|n| !n.is_empty()).map(|n| MnId::Nai(n.into()))
        }
    }
}

/// One word for a home address (the key of every Home Agent lookup by mobile node), where the
/// derived hash writes the variant, then the address as a length-prefixed octet slice. Equal
/// identifiers hash equally, as `Eq` requires.
impl std::hash::Hash for MnId {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        match self {
            MnId::Home(a) => state.write_u64(u64::from(a.to_bits())),
            MnId::Nai(n) => {
                state.write_u64(u64::MAX);
                n.hash(state);
            }
        }
    }
}

impl fmt::Debug for MnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MnId::Home(a) => write!(f, "MnId::Home({a})"),
            MnId::Nai(n) => write!(f, "MnId::Nai({:?})", String::from_utf8_lossy(n)),
        }
    }
}
