//! Mobile IPv4 (RFC 5944) Home Agents sharing one virtual HA address.
//!
//! * [`wire`]: the registration codec (RRQ/RRP, extensions, authenticators, replay protection).
//! * [`binding`]: the binding table (temporary and permanent bindings, bounded, timer-driven).
//! * [`cluster`]: the authenticated HA-to-HA messages (layer-3 forwarding, replication, takeover).
//! * [`HomeAgent`]: one member of a virtual-HA cluster, sans IO.
//! * [`MobileNodeClient`]: a sans-IO mobile node (co-located care-of address, so it is also its
//!   own foreign agent) that builds authenticated requests, retransmits and accepts replies.
pub mod binding;
pub mod cluster;
mod home_agent;
mod mobile_node;
pub mod wire;

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
