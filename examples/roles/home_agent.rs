//! The `home-agent` role: one member of a virtual Mobile IPv4 Home Agent (RFC 5944) cluster. The
//! members share the virtual HA address; the member the network delivers it to
//! (`serve_virtual_address = true`) takes every Registration Request, forwards each to the member
//! chosen by load (inside an authenticated cluster message: layer-3 mode, since a UDP socket has
//! no link layer), and relays the reply. Route events are logged for a routing daemon to act on.

use super::{Observer, RoleConfig, Running, Secret, StartError, defaults, drive};
use serde::{Deserialize, Deserializer};
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, SystemTime};
use telcp::MacAddr;
use telcp::health::NodeId;
use telcp::ipnetwork::Ipv4Network;
use telcp::mip::wire::auth::{AuthAlgorithm, SecurityAssociation};
use telcp::mip::{self, ForwardMode, HomeAgent, HomeAgentConfig, Member, MnId, MobileNodeKey};

/// `[[members]]`: a member of the cluster (every member lists all, itself included).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberConfig {
    /// Its node id.
    pub node: u32,
    /// Its own address: cluster messages and heartbeats.
    pub addr: SocketAddr,
    /// Its MAC (`02:00:00:00:00:01`); default `02:00:` and the node id.
    #[serde(default, deserialize_with = "mac")]
    pub mac: Option<MacAddr>,
    /// The members that take its bindings over when it is Down.
    #[serde(default)]
    pub backups: Vec<u32>,
}

/// `[[mobile_nodes]]`: a mobile node's MN-HA security association (HMAC-MD5, RFC 5944 3.5).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MobileNodeConfig {
    /// Its home address (or give `nai`).
    pub home_address: Option<Ipv4Addr>,
    /// Its NAI (RFC 2794), when it has no fixed home address.
    pub nai: Option<String>,
    /// The SPI (256 and up).
    pub spi: u32,
    /// The shared key.
    pub key: Secret,
}

/// `[[foreign_agents]]`: a foreign agent's FA-HA security association.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForeignAgentConfig {
    /// Its address.
    pub address: Ipv4Addr,
    /// The SPI (256 and up).
    pub spi: u32,
    /// The shared key.
    pub key: Secret,
}

/// `examples/config/home-agent.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// This HA's node id (one of `members`).
    pub node: u32,
    /// The virtual HA address shared by the cluster.
    pub virtual_address: Ipv4Addr,
    /// The registration port on the virtual address (434).
    #[serde(default = "mip_port")]
    pub port: u16,
    /// The home network the cluster serves (`127.0.11.0/24` in the samples), advertised as a
    /// route; it holds `virtual_address` (the library refuses one outside).
    #[serde(deserialize_with = "prefix")]
    pub virtual_network: Ipv4Network,
    /// Bind the virtual address here: this member receives the registrations.
    #[serde(default = "defaults::yes")]
    pub serve_virtual_address: bool,
    /// The key of the cluster messages (the same on every member).
    pub cluster_key: Secret,
    /// Milliseconds between heartbeats.
    #[serde(default = "heartbeat_ms")]
    pub heartbeat_ms: u64,
    /// Most bindings.
    #[serde(default = "max_bindings")]
    pub max_bindings: usize,
    /// Home addresses to assign to mobile nodes that ask for one (NAI, RFC 2794).
    #[serde(default, deserialize_with = "opt_prefix")]
    pub pool: Option<Ipv4Network>,
    /// A fixed RNG seed (tests); absent: from the operating system.
    pub seed: Option<u64>,
    /// Seconds between stats lines (0: only at exit).
    #[serde(default = "defaults::stats_interval_secs")]
    pub stats_interval_secs: u64,
    /// Every member, this one included.
    pub members: Vec<MemberConfig>,
    /// The mobile nodes' keys.
    #[serde(default)]
    pub mobile_nodes: Vec<MobileNodeConfig>,
    /// The foreign agents' keys.
    #[serde(default)]
    pub foreign_agents: Vec<ForeignAgentConfig>,
}

fn mip_port() -> u16 {
    434
}
fn heartbeat_ms() -> u64 {
    1000
}
fn max_bindings() -> usize {
    100_000
}

fn prefix<'de, D: Deserializer<'de>>(d: D) -> Result<Ipv4Network, D::Error> {
    let s = String::deserialize(d)?;
    s.parse().map_err(serde::de::Error::custom)
}

fn opt_prefix<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Ipv4Network>, D::Error> {
    prefix(d).map(Some)
}

fn mac<'de, D: Deserializer<'de>>(d: D) -> Result<Option<MacAddr>, D::Error> {
    let s = String::deserialize(d)?;
    let octets: Vec<u8> = s
        .split(':')
        .map(|h| u8::from_str_radix(h, 16))
        .collect::<Result<_, _>>()
        .map_err(|_| {
            serde::de::Error::custom(format!("`{s}` is not a MAC address (aa:bb:cc:dd:ee:ff)"))
        })?;
    let octets: [u8; 6] = octets
        .try_into()
        .map_err(|_| serde::de::Error::custom(format!("`{s}` is not six octets")))?;
    Ok(Some(MacAddr(octets)))
}

/// Seconds since the Unix epoch now (the registrations' timestamps, RFC 5944 5.7).
fn wall_clock() -> Duration {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
}

fn describe(ha: &HomeAgent) -> String {
    format!(
        "bindings served {}, advertising {}, {:?}",
        ha.served(),
        ha.is_advertising(),
        ha.stats()
    )
}

impl Config {
    /// The Home Agent's configuration and the addresses to bind.
    fn build(self) -> Result<(HomeAgentConfig, Vec<SocketAddr>), StartError> {
        let members: Vec<Member> = self
            .members
            .iter()
            .map(|m| Member {
                node: NodeId(m.node),
                addr: m.addr,
                mac: m.mac.unwrap_or(MacAddr::local(m.node)),
                backups: m.backups.iter().copied().map(NodeId).collect(),
            })
            .collect();
        let Some(me) = members.iter().find(|m| m.node == NodeId(self.node)) else {
            return Err(format!("home-agent: node {} is not among members", self.node).into());
        };
        let mut bind = vec![me.addr];
        let mut c = HomeAgentConfig::new(
            NodeId(self.node),
            self.virtual_address,
            self.virtual_network,
            members.clone(),
            self.cluster_key.as_bytes(),
        );
        c.mode = ForwardMode::Layer3;
        c.seed = super::seed(self.seed);
        c.wall_clock = wall_clock();
        // `start` sets the incarnation (`super::incarnation`: grows on every restart).
        c.max_bindings = self.max_bindings;
        c.pool = self.pool;
        c.health.interval = Duration::from_millis(self.heartbeat_ms);
        for mn in self.mobile_nodes {
            let id = match (mn.home_address, mn.nai) {
                (Some(a), _) => MnId::Home(a),
                (None, Some(nai)) => MnId::Nai(nai.into_bytes().into_boxed_slice()),
                (None, None) => {
                    return Err("home-agent: a mobile node needs home_address or nai".into());
                }
            };
            let sa = SecurityAssociation::new(mn.spi, AuthAlgorithm::HmacMd5, mn.key.into_bytes());
            c.mobile_nodes.push(MobileNodeKey { id, sa });
        }
        for fa in self.foreign_agents {
            let sa = SecurityAssociation::new(fa.spi, AuthAlgorithm::HmacMd5, fa.key.into_bytes());
            c.foreign_agents.push((fa.address, sa));
        }
        if self.serve_virtual_address {
            bind.push(SocketAddr::from((self.virtual_address, self.port)));
        }
        Ok((c, bind))
    }
}

impl RoleConfig for Config {
    const ROLE: &'static str = "home-agent";

    fn stats_interval(&self) -> Duration {
        Duration::from_secs(self.stats_interval_secs)
    }

    async fn start(self, observer: Observer) -> Result<Running, StartError> {
        let name = format!("ha-{}", self.node);
        let (mut cfg, bind) = self.build()?;
        // Grows on every restart, so the other members see a new incarnation.
        cfg.incarnation = super::incarnation().await;
        let ha =
            HomeAgent::new(cfg, telcp::driver::now()).map_err(|e| format!("home-agent: {e}"))?;
        let (part, _) = drive(
            &name,
            ha,
            bind,
            None,
            |ev: &mip::Event, _| match ev {
                mip::Event::AdvertiseRoute { prefix } => {
                    tracing::info!(%prefix, "route to advertise (for the routing daemon)");
                }
                mip::Event::WithdrawRoute { prefix } => {
                    tracing::info!(%prefix, "route to withdraw (for the routing daemon)");
                }
                _ => {}
            },
            describe,
            &observer,
        )
        .await?;
        Ok(Running {
            role: Self::ROLE,
            parts: vec![part],
        })
    }
}
