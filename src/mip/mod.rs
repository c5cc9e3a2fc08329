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
//! temporary binding is dropped and counted.
//!
//! Every binding (with its last accepted identification) is replicated to the HA's configured
//! backups over a reliable, acknowledged, authenticated channel, with a bulk sync when a backup
//! (re)joins. When an HA is Down, the lowest-numbered live backup selects the new owner among the
//! live backups by load and announces it; every HA re-points the bindings, so the owner serves the
//! next re-registrations without 131 or 133. Each HA emits [`Event::AdvertiseRoute`] /
//! [`Event::WithdrawRoute`] for the virtual network and learns the peers' announcements from their
//! heartbeats ([`HomeAgent::announcers`]).
pub mod binding;
pub mod cluster;
mod foreign_agent;
mod home_agent;
mod mobile_node;
pub mod wire;

pub use foreign_agent::{FaError, ForeignAgent, ForeignAgentConfig};
pub use home_agent::{
    ConfigError, Event, ForwardMode, HaStats, HomeAgent, HomeAgentConfig, InputError, Member,
    MobileNodeKey,
};
pub use mobile_node::{ClientConfig, ClientError, ClientEvent, MobileNodeClient};

use std::fmt;
use std::net::Ipv4Addr;

/// How a mobile node is identified: its home address, or its NAI when it has none yet (RFC 2794).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
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

impl fmt::Debug for MnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MnId::Home(a) => write!(f, "MnId::Home({a})"),
            MnId::Nai(n) => write!(f, "MnId::Nai({:?})", String::from_utf8_lossy(n)),
        }
    }
}
