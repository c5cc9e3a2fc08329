//! The `lns` role: an L2TP LNS (RFC 2661) that serves calls and answers LCP Echo-Requests on
//! them; as `mode = "contact"` it redirects calls it cannot serve to the least-loaded pool LNS
//! (heartbeats with the pool), as `"pool"` it reports its load to the contact LNS, and as
//! `"virtual"` it is a member of a virtual LNS sharing one address. With `[replication]` (and a
//! `[cluster]`), it copies its tunnels and sessions to a backup member and takes over those of a
//! member that fails: on `Event::TakenOver` it binds the failed member's address here
//! (`Commander::bind`), so the LACs' tunnels and sessions go on (silent failover; RFC 4951 with
//! `rfc4951 = true` and a LAC that offers it).
//!
//! Two kinds of address. The **service address** (`listen`, and the virtual address) is where
//! LACs reach this LNS: what a taker binds, and what this LNS gives up when another member owns
//! its tunnels. The **cluster address** (`[cluster] listen`) carries the heartbeats and the
//! replication: the driver's first socket, so the LNS's transmits without a source (heartbeats,
//! replication) leave from it, and the other members' `peers` `addr` for this LNS; it never
//! moves, and serves no LAC (`LnsMembership::cluster_addr`: an SCCRQ arriving there is
//! dropped unanswered and counted, `Stats::sccrqs_at_cluster_address`; RFC 2661 has no Result
//! Code for a wrong address, and a LAC's retransmissions end as with an unreachable LNS, so
//! it moves on to its next LNS as it would anyway). With a cluster address, the service
//! addresses are bound once the LNS runs and, when another process holds one (on this host, a
//! member that took it over while this one was down), tried again every [`BIND_RETRY`]. On
//! `Event::AddressTaken` (we restarted, and `owner` took over what our former incarnation
//! served at the address) and on `Event::Yielded` (another member owns the tunnel now and
//! holds its address: the member that took it over from us after a false Down, or the winner
//! of two takers) the address is released (`Commander::unbind`) once no tunnel of ours is left
//! there (`Lns::tunnels_at`), or its retries end: a service address, or one bound on a
//! takeover; the cluster address stays. A service address so given up is tried again every
//! [`RETURN_RETRY`] and bound once the owner has released it (logged "service address
//! bound", with the tries). The taker releases an address it bound on `Event::TakenOver` once
//! no tunnel is left there (the LACs closed them, or they timed out; a tunnel closed by
//! StopCCN counts until its hold period ends, RFC 2661 5.7), logged "no tunnel left at the
//! taken address; address released"; the virtual address is kept while this LNS is the
//! contact. While `listen` is not held here, the LNS takes no new call
//! (`Lns::set_accepting(false)`: its heartbeats report 100 %), so no contact LNS or
//! virtual-LNS member redirects a call to an address another member holds. So on one host a
//! restarted member comes up on its cluster address, the taker keeps the service address and
//! the LACs' calls, and the member serves at its address again once those calls have ended.
//!
//! Without `[cluster] listen`, `listen` carries the LACs, the heartbeats and the replication
//! (as before): the configured addresses are bound at start for the role's life, a yield or an
//! `Event::AddressTaken` naming one of them keeps it (logged), a restarted member cannot start
//! while a taker on this host holds `listen`, and a taker on this host cannot bind the address
//! of a member that restarted first (the gap of issue 15 that `[cluster] listen` closes).
//!
//! The moves are made in event order, one at a time. It binds and releases addresses on the
//! host it runs on: across hosts the network's address move (VRRP, a gratuitous ARP) does the
//! same.
//!
//! A member that takes no new call reports 100 % in its heartbeats; the other members still
//! choose it as their backup when none has room (the library's backup choice: a copy held by a
//! full member beats none), so in a pool of two the taker's tunnels keep their copy while the
//! member waits for its address. Left: a taken address is looked at every
//! [`TAKEN_SWEEP`] while bound (the end of a closed tunnel's hold period raises no event). The
//! wait of [`RETURN_RETRY`] before a released service address is tried again leaves it to the
//! taker, whose bind is pending, on one host; nothing stronger orders the two.

use super::{Observer, RoleConfig, Running, Secret, StartError, defaults, drive};
use serde::Deserialize;
use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use telcp::driver::Commander;
use telcp::health::{ClusterKey, NodeId, Role};
use telcp::l2tp::pool::VirtualLns;
use telcp::l2tp::{self, Lns, LnsConfig, LnsMembership};

/// What this LNS is.
#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Serves calls, alone.
    Standalone,
    /// The contact LNS of a pool: serves calls below its overload mark, redirects the others.
    Contact,
    /// A pool LNS: serves the calls the contact LNS redirects to it.
    Pool,
    /// A member of a virtual LNS (`[virtual]`); the contact among the members redirects.
    Virtual,
}

/// `[cluster]`: heartbeats with the other LNSs.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cluster {
    /// This LNS's node id.
    pub node: u32,
    /// The key that authenticates heartbeats (the same on every member).
    pub key: Secret,
    /// The other LNSs: `{ node = 2, addr = "127.0.10.3:1701" }`.
    pub peers: Vec<Peer>,
    /// Milliseconds between heartbeats.
    #[serde(default = "heartbeat_ms")]
    pub heartbeat_ms: u64,
    /// This LNS's cluster address, apart from its service address (`listen`): its heartbeats
    /// and replication leave from it and arrive at it (the other members' `peers` `addr` for
    /// it); it never moves and is never released. Absent: `listen` carries them too, as
    /// before, and stays bound for the role's life (a restarted member cannot give it up to a
    /// taker on the same host).
    pub listen: Option<SocketAddr>,
}

/// Another LNS.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Peer {
    /// Its node id.
    pub node: u32,
    /// Its cluster address: where our heartbeats and replication go (its `[cluster] listen`,
    /// or its `listen` when it has none).
    pub addr: SocketAddr,
    /// Its service address (its `listen`), where LACs reach it and a contact LNS redirects
    /// them to, when it has a `[cluster] listen` apart (`LnsMembership::services`); absent:
    /// `addr`'s address. A `[virtual]` member's entry in `members` is this address.
    pub service: Option<IpAddr>,
}

/// `[virtual]`: the virtual LNS.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Virtual {
    /// The shared address.
    pub address: IpAddr,
    /// Every member's own service address (its `listen`), in rank order (the same list on
    /// every member).
    pub members: Vec<IpAddr>,
    /// This LNS's index in `members`.
    pub me: usize,
    /// Bind the shared address here (the member the network delivers it to).
    #[serde(default = "defaults::yes")]
    pub bind: bool,
}

/// `[replication]`: copies of our tunnels and sessions at a backup member, and takeover of the
/// members we back up (`telcp::l2tp::ReplicationConfig`; needs `[cluster]`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Replication {
    /// Most tunnels held for one member (more: refused and counted, lost if it fails).
    #[serde(default = "max_replicated_tunnels")]
    pub max_tunnels: usize,
    /// Most sessions held for one member (same).
    #[serde(default = "max_replicated_sessions")]
    pub max_sessions: usize,
    /// Milliseconds records that hold no answer back wait for more before they leave.
    #[serde(default = "linger_ms")]
    pub linger_ms: u64,
    /// Offer RFC 4951 failover (the Failover Capability AVP, C bit): a LAC that offers it too
    /// has its tunnels recovered the RFC 4951 way; the others fail over silently.
    #[serde(default)]
    pub rfc4951: bool,
    /// Keep and replicate each call's details (Calling Number and the like), handed over at a
    /// takeover (`ReplicationConfig::call_details`); on by default.
    #[serde(default = "call_details")]
    pub call_details: bool,
}

/// `examples/config/lns.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The LNS's service address, where LACs reach it (L2TP's port is 1701); with
    /// `[cluster] listen`, the address a taker binds and a restarted or yielding member
    /// releases, and binds again once the taker has released it; new calls are taken only
    /// while it is held.
    pub listen: SocketAddr,
    /// `standalone`, `contact`, `pool` or `virtual`.
    pub mode: Mode,
    /// Our Host Name AVP.
    #[serde(default = "host_name")]
    pub host_name: String,
    /// The tunnel secret; none by default.
    pub secret: Option<Secret>,
    /// Require the LAC's Challenge response (needs `secret`).
    #[serde(default)]
    pub challenge: bool,
    /// The load this LNS reports and admits by, percent.
    #[serde(default)]
    pub load_percent: u8,
    /// At and above this load, calls are not served here (a contact LNS redirects them).
    #[serde(default = "overload")]
    pub overload_percent: u8,
    /// Most sessions.
    #[serde(default = "max_sessions")]
    pub max_sessions: usize,
    /// Redirect LACs that do not say LoadBalanceCapable the standard way (Result 2, Error 9).
    #[serde(default)]
    pub standard_redirect: bool,
    /// Answer LCP Echo-Requests on the sessions (the LNS has no PPP stack beyond that).
    #[serde(default = "defaults::yes")]
    pub answer_lcp_echo: bool,
    /// A fixed RNG seed (tests); absent: from the operating system.
    pub seed: Option<u64>,
    /// Seconds between stats lines (0: only at exit).
    #[serde(default = "defaults::stats_interval_secs")]
    pub stats_interval_secs: u64,
    /// Heartbeats (required by `contact` with a pool, `pool` and `virtual`).
    pub cluster: Option<Cluster>,
    /// The virtual LNS (required by `virtual`).
    #[serde(rename = "virtual")]
    pub virtual_lns: Option<Virtual>,
    /// Replication and takeover (needs `[cluster]`).
    pub replication: Option<Replication>,
}

fn host_name() -> String {
    "telcp-lns".into()
}
fn heartbeat_ms() -> u64 {
    1000
}
fn overload() -> u8 {
    90
}
fn max_sessions() -> usize {
    10_000
}
fn max_replicated_tunnels() -> usize {
    1024
}
fn max_replicated_sessions() -> usize {
    65_536
}
fn linger_ms() -> u64 {
    20
}

fn call_details() -> bool {
    true
}

fn describe(lns: &Lns) -> String {
    format!(
        "sessions {}, tunnels {}, pending redirects {}, {:?}",
        lns.session_count(),
        lns.tunnel_count(),
        lns.pending_redirects(),
        lns.stats()
    )
}

/// What [`Config::build`] makes of a configuration (`tests/roles.rs` builds a member of its
/// own with it).
#[derive(Debug)]
pub struct Built {
    /// The LNS's configuration.
    pub lns: LnsConfig,
    /// The addresses bound at start, for the role's life: the cluster address with
    /// `[cluster] listen`, otherwise `listen` and the virtual address (`[virtual] bind`).
    pub bind: Vec<SocketAddr>,
    /// With `[cluster] listen`, the service addresses (`listen`, the virtual address), bound
    /// once the LNS runs when free and released to a taker; empty otherwise.
    pub service: Vec<SocketAddr>,
    /// The load it reports, percent.
    pub load: u8,
    /// Whether it answers LCP Echo-Requests.
    pub answer_lcp_echo: bool,
}

impl Config {
    /// The LNS configuration, the addresses to bind, the load and whether LCP echoes are
    /// answered. A `[cluster] listen` equal to a service address (`listen`, the virtual
    /// address) is refused: it never moves, they do.
    pub fn build(self) -> Result<Built, StartError> {
        let cluster_listen = self.cluster.as_ref().and_then(|c| c.listen);
        let mut cfg = LnsConfig::default();
        cfg.common.host_name = self.host_name.into_bytes();
        cfg.common.secret = self.secret.map(Secret::into_bytes);
        cfg.common.challenge = self.challenge;
        cfg.common.max_sessions = self.max_sessions;
        cfg.common.seed = super::seed(self.seed);
        cfg.overload_percent = self.overload_percent;
        cfg.standard_redirect = self.standard_redirect;
        cfg.contact = matches!(self.mode, Mode::Contact | Mode::Virtual);
        let mut bind = vec![self.listen];
        if let Some(c) = &self.cluster {
            let role = if cfg.contact {
                Role::CONTACT_LNS
            } else {
                Role::LNS
            };
            let peers = c.peers.iter().map(|p| (NodeId(p.node), p.addr)).collect();
            // Its incarnation is set by `start` (`super::incarnation`: grows on every restart).
            let mut m = LnsMembership::new(
                NodeId(c.node),
                role,
                ClusterKey::new(c.key.as_bytes()),
                peers,
            );
            m.services = c
                .peers
                .iter()
                .filter_map(|p| Some((NodeId(p.node), p.service?)))
                .collect();
            // An SCCRQ at the cluster address sets up no tunnel (dropped, counted).
            m.cluster_addr = c.listen;
            cfg.membership = Some(m);
            cfg.health = cfg
                .health
                .with_interval(Duration::from_millis(c.heartbeat_ms));
        } else if matches!(self.mode, Mode::Pool | Mode::Virtual) {
            return Err(format!("lns: mode {:?} needs a [cluster] section", self.mode).into());
        }
        match (&self.replication, &self.cluster) {
            (Some(r), Some(_)) => {
                let mut rc = l2tp::ReplicationConfig::default();
                rc.max_tunnels = r.max_tunnels;
                rc.max_sessions = r.max_sessions;
                rc.linger = Duration::from_millis(r.linger_ms);
                rc.call_details = r.call_details;
                cfg.replication = Some(rc);
                if r.rfc4951 {
                    cfg.common.failover = Some(l2tp::FailoverConfig::default());
                }
            }
            (Some(_), None) => return Err("lns: [replication] needs a [cluster] section".into()),
            (None, _) => {}
        }
        match (self.mode, self.virtual_lns) {
            (Mode::Virtual, Some(v)) => {
                // The members are known by the address LACs reach them at (`pool` docs): a
                // peer at a cluster address apart names its service address.
                let peers = self.cluster.as_ref().map_or(&[][..], |c| &c.peers[..]);
                for (i, p) in peers.iter().enumerate() {
                    let at = p.service.unwrap_or(p.addr.ip());
                    if !v.members.contains(&at) {
                        return Err(format!(
                            "lns: cluster.peers[{i}]: {at} is not among virtual.members (a peer at a cluster address apart needs its `service`)"
                        )
                        .into());
                    }
                }
                if v.bind {
                    bind.push(SocketAddr::new(v.address, self.listen.port()));
                }
                cfg.virtual_lns = Some(VirtualLns {
                    virtual_addr: v.address,
                    members: v.members,
                    me: v.me,
                });
            }
            (Mode::Virtual, None) => {
                return Err("lns: mode virtual needs a [virtual] section".into());
            }
            (_, Some(_)) => return Err("lns: [virtual] needs mode = \"virtual\"".into()),
            (_, None) => {}
        }
        let (bind, service) = match cluster_listen {
            Some(c) if bind.contains(&c) => {
                return Err(format!(
                    "lns: cluster.listen {c} is a service address (listen, the virtual address): it must be apart"
                )
                .into());
            }
            Some(c) => (vec![c], bind),
            None => (bind, Vec::new()),
        };
        Ok(Built {
            lns: cfg,
            bind,
            service,
            load: self.load_percent,
            answer_lcp_echo: self.answer_lcp_echo,
        })
    }
}

impl RoleConfig for Config {
    const ROLE: &'static str = "lns";

    fn stats_interval(&self) -> Duration {
        Duration::from_secs(self.stats_interval_secs)
    }

    async fn start(self, observer: Observer) -> Result<Running, StartError> {
        let port = self.listen.port();
        let shared = self
            .virtual_lns
            .as_ref()
            .map(|v| SocketAddr::new(v.address, port));
        let Built {
            lns: mut cfg,
            bind,
            service,
            load,
            answer_lcp_echo: answer,
        } = self.build()?;
        if let Some(m) = &mut cfg.membership {
            // Grows on every restart, so peers see the restart (`Event::AddressTaken`).
            m.incarnation = super::incarnation().await;
        }
        let mut lns = Lns::new(cfg, telcp::driver::now()).map_err(|e| format!("lns: {e}"))?;
        lns.set_load(load);
        // No new call until `listen` is held, when it is a service address apart
        // (`move_addresses`).
        lns.set_accepting(service.is_empty());
        let fixed: HashSet<SocketAddr> = bind.iter().copied().collect();
        let (moves, moves_rx) = tokio::sync::mpsc::channel(MOVES_QUEUED);
        let ended = std::sync::Arc::new(tokio::sync::Notify::new());
        let ended_tx = ended.clone();
        let (part, commander) = drive(
            "lns",
            lns,
            bind,
            Some(Box::new(move |d: l2tp::Data, lns: Commander<Lns>| {
                Box::pin(async move {
                    // LCP (0xc021) Echo-Request (code 9): answer with code 10 (RFC 1661 5.8),
                    // on the session the frame came from (`Handle::send_data`, RFC 2661 5.3).
                    if answer && d.frame.get(2..5) == Some(&[0xc0, 0x21, 0x09][..]) {
                        let mut reply = d.frame.to_vec();
                        reply[4] = 0x0a;
                        let r = lns.send_data(d.session, reply).await;
                        tracing::info!(session = ?d.session, result = ?r, "LCP Echo-Request answered");
                    } else {
                        tracing::debug!(session = ?d.session, len = d.frame.len(), "PPP frame received");
                    }
                })
            })),
            move |ev: &l2tp::Event, _: &Commander<Lns>| {
                let m = match ev {
                    // The failed member's address moves here (`Event::TakenOver` docs): bound on
                    // this driver, the LAC's next packet arrives here and our answers leave from
                    // it.
                    l2tp::Event::TakenOver {
                        failed,
                        addr,
                        tunnels,
                        sessions,
                        ..
                    } => Move::Take {
                        at: SocketAddr::new(*addr, port),
                        failed: *failed,
                        tunnels: tunnels.len(),
                        sessions: sessions.len(),
                    },
                    // The owner holds the tunnel's address now (`Event::Yielded` docs).
                    l2tp::Event::Yielded {
                        tunnel,
                        owner,
                        local,
                        ..
                    } => Move::Release {
                        at: *local,
                        tunnel: Some(*tunnel),
                        owner: *owner,
                    },
                    // We restarted, and `owner` took over what our former incarnation served
                    // at `addr` (`Event::AddressTaken` docs): released like a yield's address.
                    l2tp::Event::AddressTaken { addr, owner } => Move::Release {
                        at: Some(SocketAddr::new(*addr, port)),
                        tunnel: None,
                        owner: *owner,
                    },
                    // A taken address may have no tunnel left: one look answers for every
                    // tunnel ended meanwhile (a `Notify` holds one permit).
                    l2tp::Event::TunnelDown { .. } => {
                        ended_tx.notify_one();
                        return;
                    }
                    _ => return,
                };
                if let Err(e) = moves.try_send(m) {
                    tracing::error!(error = %e, "address move dropped (queue full)");
                }
            },
            describe,
            &observer,
        )
        .await?;
        let plan = Plan {
            fixed,
            service,
            shared,
        };
        tokio::spawn(move_addresses(commander, plan, moves_rx, ended));
        Ok(Running {
            role: Self::ROLE,
            parts: vec![part],
        })
    }
}

/// Address moves waiting for [`move_addresses`]; beyond, one is dropped and logged (takeovers
/// and yields are rare: one event per member's address or per tunnel).
const MOVES_QUEUED: usize = 1024;

/// An address to move here, or away, on an ownership event.
#[derive(Debug)]
enum Move {
    /// `Event::TakenOver`: bind `at` here.
    Take {
        at: SocketAddr,
        failed: NodeId,
        tunnels: usize,
        sessions: usize,
    },
    /// `Event::Yielded` (of `tunnel`) or `Event::AddressTaken` (`tunnel` `None`): `owner` holds
    /// `at` (`None`: the tunnel never knew it) now.
    Release {
        at: Option<SocketAddr>,
        tunnel: Option<u16>,
        owner: NodeId,
    },
}

/// A bind the OS refused (or an address given up to its owner), tried again at `due`.
#[derive(Debug, Clone, Copy)]
struct Pending {
    /// The member taken over (`None`: a service address of our configuration).
    failed: Option<NodeId>,
    /// Binds tried.
    tries: u32,
    /// When the next bind is tried.
    due: tokio::time::Instant,
    /// The time between tries: [`BIND_RETRY`], or [`RETURN_RETRY`] for a service address
    /// given up to its owner.
    every: Duration,
}

/// The addresses of the role and where each stands.
struct Addresses {
    lns: Commander<Lns>,
    /// Bound at spawn (the cluster address, or every configured address without one): never
    /// moved.
    fixed: HashSet<SocketAddr>,
    /// The service addresses of the configuration when a cluster address is apart from them
    /// (`listen`, the virtual address): bound here when free, released to their owner, bound
    /// again once the owner released them.
    service: HashSet<SocketAddr>,
    /// `listen` when it is a service address apart from the cluster address: while it is not
    /// held here, the LNS takes no new call (`Lns::set_accepting`, heartbeats at 100 %).
    listen: Option<SocketAddr>,
    /// The virtual LNS's shared address, if any: kept while we are its contact.
    shared: Option<SocketAddr>,
    /// Bound by `Commander::bind` (a service address, or one taken over): releasable.
    bound: HashSet<SocketAddr>,
    /// Binds refused, tried again.
    pending: HashMap<SocketAddr, Pending>,
    /// When the taken addresses still bound are looked at next ([`TAKEN_SWEEP`]).
    sweep: Option<tokio::time::Instant>,
}

/// What [`move_addresses`] knows of the configuration.
struct Plan {
    /// Bound at spawn, never moved.
    fixed: HashSet<SocketAddr>,
    /// The service addresses apart from the cluster address, `listen` first.
    service: Vec<SocketAddr>,
    /// The virtual LNS's shared address (at our port), if any.
    shared: Option<SocketAddr>,
}

/// Makes the address moves one at a time, in event order (a release never overtakes the bind
/// it undoes). The `fixed` addresses (bound at spawn) never move. The `service` addresses
/// (with `[cluster] listen`: `listen` and the virtual address) are bound first, and the
/// addresses taken over on `Event::TakenOver`; a bind the OS refuses (on this host, another
/// process holds the address: a member that took it over, or the failed member's socket not
/// closed yet; across hosts, the address not moved here yet) is tried again every
/// [`BIND_RETRY`], a taken one while tunnels are held at it. `Event::Yielded` and
/// `Event::AddressTaken` release a bound address (a service address or a taken one) once no
/// tunnel of ours is left there, and end the retries of a taken one not bound yet; a service
/// address given up so is tried again every [`RETURN_RETRY`] and bound once its owner has
/// released it. A taken address is released once no tunnel is left there (looked at on every
/// `Event::TunnelDown` and every [`TAKEN_SWEEP`]), but the virtual address while we are the
/// contact. While `listen` is not held, the LNS takes no new call (`Lns::set_accepting`).
async fn move_addresses(
    lns: Commander<Lns>,
    plan: Plan,
    mut moves: tokio::sync::mpsc::Receiver<Move>,
    ended: std::sync::Arc<tokio::sync::Notify>,
) {
    let mut a = Addresses {
        lns,
        fixed: plan.fixed,
        service: plan.service.iter().copied().collect(),
        listen: plan.service.first().copied(),
        shared: plan.shared,
        bound: HashSet::new(),
        pending: HashMap::new(),
        sweep: None,
    };
    for at in plan.service {
        match a.lns.bind(at).await {
            Ok(_) => {
                a.bound.insert(at);
                tracing::info!(%at, "service address bound");
                if !a.held(at).await {
                    return;
                }
            }
            Err(telcp::driver::DriverError::Closed) => return,
            Err(error) => {
                tracing::warn!(%at, %error, "service address not bound yet (held by another process: a member that took it over?), trying again");
                a.pending.insert(
                    at,
                    Pending {
                        failed: None,
                        tries: 1,
                        due: tokio::time::Instant::now() + BIND_RETRY,
                        every: BIND_RETRY,
                    },
                );
            }
        }
    }
    loop {
        let next = a.pending.values().map(|p| p.due).chain(a.sweep).min();
        let due = async {
            match next {
                Some(due) => tokio::time::sleep_until(due).await,
                None => std::future::pending().await,
            }
        };
        let m = tokio::select! {
            m = moves.recv() => m,
            () = due => {
                if !a.due().await {
                    return;
                }
                continue;
            }
            () = ended.notified() => {
                if !a.sweep_taken().await {
                    return;
                }
                continue;
            }
        };
        let Some(m) = m else {
            return;
        };
        let going = match m {
            Move::Take {
                at,
                failed,
                tunnels,
                sessions,
            } => a.take(at, failed, tunnels, sessions).await,
            Move::Release { at, tunnel, owner } => a.release(at, tunnel, owner).await,
        };
        if !going {
            return;
        }
    }
}

impl Addresses {
    /// `Event::TakenOver` of `failed`'s tunnels at `at`: bound here (or tried again).
    /// `false` once the driver has ended.
    async fn take(
        &mut self,
        at: SocketAddr,
        failed: NodeId,
        tunnels: usize,
        sessions: usize,
    ) -> bool {
        if self.fixed.contains(&at) || self.bound.contains(&at) {
            // Ours already: our own address back from a taker, or the same member's address
            // again (the winner of two takers, `Event::TakenOver` docs).
            tracing::info!(?failed, %at, tunnels, sessions, "took over; address held already");
            return true;
        }
        match self.lns.bind(at).await {
            Ok(_) => {
                self.pending.remove(&at);
                tracing::info!(?failed, %at, tunnels, sessions, "took over; address bound");
                return self.bound_here(at).await;
            }
            Err(telcp::driver::DriverError::Closed) => return false,
            // Held by another process here (the member we took over, on this host), or not
            // local: the operator moves it, the event says what to move; tried again
            // meanwhile.
            Err(error) => {
                tracing::warn!(?failed, %at, %error, "took over; address not bound yet, trying again");
                let p = self.pending.entry(at).or_insert(Pending {
                    failed: None,
                    tries: 1,
                    due: tokio::time::Instant::now() + BIND_RETRY,
                    every: BIND_RETRY,
                });
                p.failed = Some(failed);
                // Ours to bind now, not our own service address coming back slowly.
                p.every = BIND_RETRY;
                p.due = p.due.min(tokio::time::Instant::now() + BIND_RETRY);
            }
        }
        true
    }

    /// `Event::Yielded` (`tunnel`) or `Event::AddressTaken` (`tunnel` `None`): `owner` holds
    /// `at` now. `false` once the driver has ended.
    async fn release(
        &mut self,
        at: Option<SocketAddr>,
        tunnel: Option<u16>,
        owner: NodeId,
    ) -> bool {
        let why = if tunnel.is_some() {
            "tunnel yielded"
        } else {
            "address taken"
        };
        let Some(at) = at else {
            tracing::info!(?tunnel, ?owner, "{why}; no address of ours to release");
            return true;
        };
        let ip = at.ip();
        let left = match self.lns.call(move |l, _| l.tunnels_at(ip)).await {
            Ok(left) => left,
            Err(_) => return false,
        };
        let service = self.service.contains(&at);
        if let Some(p) = self.pending.get_mut(&at)
            && left == 0
        {
            if service {
                // Ours again once the owner has released it: tried again, slowly, from now
                // (the owner binds it first: its own retries are every `BIND_RETRY`).
                p.every = RETURN_RETRY;
                p.due = tokio::time::Instant::now() + RETURN_RETRY;
                let every_ms = RETURN_RETRY.as_millis();
                tracing::info!(?tunnel, ?owner, %at, every_ms, "{why}; bind tried again until the owner has released it");
            } else {
                // Given up before the address could be bound: nothing to bind any more.
                self.pending.remove(&at);
                tracing::info!(?tunnel, ?owner, %at, "{why}; bind no longer tried");
            }
            return true;
        }
        if self.bound.contains(&at) {
            if left > 0 {
                tracing::info!(?tunnel, ?owner, %at, left, "{why}; address kept for our other tunnels there");
                return true;
            }
            match self.lns.unbind(at).await {
                Ok(()) => {
                    self.bound.remove(&at);
                    tracing::info!(?tunnel, ?owner, %at, "{why}; address released");
                    if service {
                        self.pending.insert(
                            at,
                            Pending {
                                failed: None,
                                tries: 0,
                                due: tokio::time::Instant::now() + RETURN_RETRY,
                                every: RETURN_RETRY,
                            },
                        );
                        if !self.held(at).await {
                            return false;
                        }
                    }
                }
                Err(telcp::driver::DriverError::Closed) => return false,
                Err(error) => {
                    tracing::warn!(?tunnel, ?owner, %at, %error, "{why}; address not released");
                }
            }
        } else if self.fixed.contains(&at) {
            // Ours by configuration, and carrying our heartbeats (no `[cluster] listen`): the
            // network moves it to the owner across hosts.
            tracing::warn!(?tunnel, ?owner, %at, "{why}; configured address kept (on this host the owner cannot bind it; `[cluster] listen` moves heartbeats off it)");
        } else {
            // Released already (the last of the tunnels yielded there), or never bound here.
            tracing::info!(?tunnel, ?owner, %at, "{why}; no address of ours to release");
        }
        true
    }

    /// What is due: the pending binds whose time has come, the look at the taken addresses.
    /// `false` once the driver has ended.
    async fn due(&mut self) -> bool {
        let now = tokio::time::Instant::now();
        if self.sweep.is_some_and(|s| s <= now) && !self.sweep_taken().await {
            return false;
        }
        self.retry_binds(now).await
    }

    /// Tries the pending binds due by `now` again: bound ones move to `bound`; a taken one
    /// whose tunnels are all gone from this LNS (yielded, ended) is dropped. `false` once the
    /// driver has ended.
    async fn retry_binds(&mut self, now: tokio::time::Instant) -> bool {
        let addrs: Vec<SocketAddr> = self
            .pending
            .iter()
            .filter(|(_, p)| p.due <= now)
            .map(|(a, _)| *a)
            .collect();
        for at in addrs {
            if !self.service.contains(&at) {
                let ip = at.ip();
                match self.lns.call(move |l, _| l.tunnels_at(ip)).await {
                    Ok(0) => {
                        self.pending.remove(&at);
                        tracing::info!(%at, "no tunnel left at the address; bind no longer tried");
                        continue;
                    }
                    Ok(_) => {}
                    Err(_) => return false,
                }
            }
            match self.lns.bind(at).await {
                Ok(_) => {
                    let p = self.pending.remove(&at);
                    let tries = p.map_or(1, |p| p.tries.saturating_add(1));
                    match p.and_then(|p| p.failed) {
                        Some(failed) => {
                            tracing::info!(?failed, %at, tries, "took over; address bound");
                        }
                        None => tracing::info!(%at, tries, "service address bound"),
                    }
                    if !self.bound_here(at).await {
                        return false;
                    }
                }
                Err(telcp::driver::DriverError::Closed) => return false,
                Err(error) => {
                    if let Some(p) = self.pending.get_mut(&at) {
                        p.tries = p.tries.saturating_add(1);
                        p.due = tokio::time::Instant::now() + p.every;
                        tracing::debug!(%at, %error, tries = p.tries, "address not bound yet");
                    }
                }
            }
        }
        true
    }

    /// `at` is bound here now: a service address is held again, a taken one looked at from
    /// now on. `false` once the driver has ended.
    async fn bound_here(&mut self, at: SocketAddr) -> bool {
        self.bound.insert(at);
        if self.service.contains(&at) {
            return self.held(at).await;
        }
        self.sweep
            .get_or_insert(tokio::time::Instant::now() + TAKEN_SWEEP);
        true
    }

    /// The taken addresses still bound (not our service addresses): each with no tunnel left
    /// at it is released (the virtual address is kept while we are the contact); looked at
    /// again in [`TAKEN_SWEEP`] while one is bound. `false` once the driver has ended.
    async fn sweep_taken(&mut self) -> bool {
        let taken: Vec<SocketAddr> = self
            .bound
            .iter()
            .filter(|a| !self.service.contains(a) && !self.fixed.contains(a))
            .copied()
            .collect();
        for at in taken {
            let ip = at.ip();
            let (left, contact) = match self
                .lns
                .call(move |l, _| (l.tunnels_at(ip), l.is_contact()))
                .await
            {
                Ok(r) => r,
                Err(_) => return false,
            };
            if left > 0 || (Some(at) == self.shared && contact) {
                continue;
            }
            match self.lns.unbind(at).await {
                Ok(()) => {
                    self.bound.remove(&at);
                    tracing::info!(%at, "no tunnel left at the taken address; address released");
                }
                Err(telcp::driver::DriverError::Closed) => return false,
                Err(error) => {
                    self.bound.remove(&at);
                    tracing::warn!(%at, %error, "no tunnel left at the taken address; address not released");
                }
            }
        }
        let any = self
            .bound
            .iter()
            .any(|a| !self.service.contains(a) && !self.fixed.contains(a));
        self.sweep = any.then(|| tokio::time::Instant::now() + TAKEN_SWEEP);
        true
    }

    /// After `at` was bound or released: when it is `listen`, whether the LNS takes new calls
    /// follows (`Lns::set_accepting`: its heartbeats report 100 % while it does not, so a
    /// contact LNS or a virtual-LNS member redirects no call to an address another member
    /// holds). `false` once the driver has ended.
    async fn held(&mut self, at: SocketAddr) -> bool {
        if self.listen != Some(at) {
            return true;
        }
        let held = self.bound.contains(&at);
        if self
            .lns
            .call(move |l, _| l.set_accepting(held))
            .await
            .is_err()
        {
            return false;
        }
        if held {
            tracing::info!(%at, "service address held; new calls taken");
        } else {
            tracing::info!(%at, "service address not held; no new call taken (load reported 100 %)");
        }
        true
    }
}

/// How often a refused bind is tried again ([`move_addresses`]).
const BIND_RETRY: Duration = Duration::from_millis(250);

/// How often a service address given up to the member that took it over is tried again
/// ([`move_addresses`]). Slower than [`BIND_RETRY`], so that right after we released it the
/// owner, whose bind is tried every [`BIND_RETRY`], gets it first; and nothing waits on it:
/// no call is redirected here meanwhile (no new call taken), and the owner holds it until its
/// last tunnel there ends, minutes or days later.
const RETURN_RETRY: Duration = Duration::from_secs(1);

/// How often a taken address still bound is looked at for tunnels left ([`move_addresses`];
/// also on every `Event::TunnelDown`): a tunnel closed by StopCCN is held for its hold period
/// (RFC 2661 5.7: lost StopCCNs answered) without an event at its end.
const TAKEN_SWEEP: Duration = Duration::from_secs(1);
