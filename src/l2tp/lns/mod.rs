//! The LNS endpoint: serves sessions; as contact LNS, admits or redirects each call.
//!
//! Admission (claim 2): a new session is served when the LNS accepts calls
//! ([`Lns::set_accepting`]), its session and tunnel tables have room, and its load (set by the
//! caller with [`Lns::set_load`]) is below [`LnsConfig::overload_percent`]. Otherwise:
//!
//! * the LAC said `LoadBalanceCapable` (ICRQ or SCCRQ) and the pool has an available LNS: ICRP with
//!   `RedirectTarget` (claim 4). The session record is kept only until the LAC's CDN or
//!   [`LnsConfig::redirect_hold`]; at most [`LnsConfig::max_pending_redirects`] at once.
//! * the LAC did not, and [`LnsConfig::standard_redirect`] is set: CDN Result 2 / Error 9 with the
//!   address list (claim 7).
//! * otherwise: CDN Result 4 (temporary lack of resources; claim 6 when the pool is empty).
//!
//! An SCCRQ carrying `LoadBalanceCapable` (a tunnel-level request) while the LNS cannot serve is
//! answered, without keeping state, by a StopCCN (Result 2, Error 7) carrying `RedirectTarget`; an
//! SCCRQ without it is accepted (sessions are then decided one by one) unless the tunnel table is
//! full, when it gets StopCCN Result 2 / Error 9 (with `standard_redirect`) or Result 2 / Error 4.
//! These stateless StopCCNs answer unauthenticated, possibly spoofed requests: at most
//! [`Config::refusals`] of them leave (a token bucket), the rest are counted in
//! [`super::Stats::refusals_suppressed`] ([`Lns::stats`]).
//!
//! As a member of a [`VirtualLns`], an LNS answers new SCCRQs sent to the virtual address only
//! while it is the contact LNS; other members drop them.
//!
//! Failover inside the virtual LNS ([`LnsConfig::replication`] with [`LnsConfig::membership`]):
//! each LNS replicates its established tunnels and sessions ([`super::replica`] records) to a
//! backup member chosen by load, over the generic acked, authenticated replication
//! ([`crate::replica`]; design notes: `src/l2tp/lns/replicate.rs`), and takes over those of the
//! members it backs up when health finds them Down: [`Event::TakenOver`] tells the caller to move
//! the failed member's address here and carries every session's data-plane handoff; the LAC's
//! tunnel continues (silently, or by RFC 4951 recovery when the LAC advertised it), no session
//! lost. A member back after a false Down yields what was taken ([`Event::Yielded`]); one that
//! restarted empty is not resurrected (design notes: `src/l2tp/lns/takeover.rs`).
//!
//! Call order: after any `handle_*` or command, drain [`Lns::poll_transmit`], [`Lns::poll_event`],
//! [`Lns::poll_data`], then read [`Lns::poll_timeout`].

mod admission;
mod incoming;
mod replicate;
mod takeover;

pub use incoming::{AcceptParams, AdmissionConfig};
pub use replicate::ReplicationConfig;

use super::pool::{LnsPool, MemberState, PoolView, VirtualLns};
use super::session::{Session, SessionState};
use super::tunnel::{Core, Timer, TunnelState, Up, type_within};
use super::wire::{ControlMessage, ResultCode};
use super::{
    AdmissionId, Close, CommandError, Config, ConfigError, ConfigField, Event, InputError,
    SessionRef, Table, Unexpected,
};
use crate::Transmit;
use crate::health::{
    ClusterKey, Embedded, HealthConfig, HealthEvent, Load, Monitor, MonitorConfig, NodeId,
    NodeState, Role,
};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

/// LNS configuration.
#[derive(Debug, Clone)]
pub struct LnsConfig {
    /// Tunnel and channel parameters (its `max_sessions` and `max_tunnels` are the admission
    /// limits).
    pub common: Config,
    /// Load percentage (0 to 100) at and above which new sessions are not served here. Default
    /// 90.
    pub overload_percent: u8,
    /// Act as contact LNS: redirect calls it cannot serve to the pool. **Default `true`**: a
    /// pool member or a plain LNS sets it `false`.
    pub contact: bool,
    /// Redirect LACs that did not say `LoadBalanceCapable` with Result 2 / Error 9. Default
    /// `false`.
    pub standard_redirect: bool,
    /// How long the record of a redirected call is kept if the LAC sends no CDN. Default 10 s.
    pub redirect_hold: Duration,
    /// Redirected-call records at once (more: refused with CDN result 4). Default 1024.
    pub max_pending_redirects: usize,
    /// Pool table size: the most pool members fed by [`LnsPool::update`], and the most
    /// heartbeat peers. Default 64.
    pub max_pool: usize,
    /// Membership of a virtual LNS, if any. Default `None`.
    pub virtual_lns: Option<VirtualLns>,
    /// Heartbeat tuning (interval, misses before Suspect and Down, event bound; by default
    /// [`HealthConfig::default`]); its `overload_percent` is the pool's: members at or above it
    /// are not selected.
    pub health: HealthConfig,
    /// Heartbeats with the other LNSs (pool members, virtual-LNS members), sharing the L2TP UDP
    /// port: the pool selection and the virtual-LNS liveness read its load table. Each peer's
    /// address is the one LACs are redirected to, unless [`LnsMembership::services`] names
    /// another.
    pub membership: Option<LnsMembership>,
    /// Replicate our tunnels and sessions to a backup member chosen by load, and take over those
    /// of the members we back up when health finds them Down (needs `membership`). Default
    /// `None`. What it costs and loses is in the [module documentation](crate::l2tp) (virtual
    /// LNS failover: set-up latency, what is lost) and [`ReplicationConfig`]; the record
    /// format is [`crate::l2tp::replica`]'s.
    pub replication: Option<ReplicationConfig>,
    /// Call admission by the caller (the rules: [`AdmissionConfig`]): each call this LNS
    /// would serve waits for [`Lns::accept`] or [`Lns::refuse`] after [`Event::IncomingCall`].
    /// `None` (the default): calls are accepted automatically.
    pub admission: Option<AdmissionConfig>,
}

/// Who this LNS is among the LNSs it exchanges heartbeats with (the identity of its health
/// monitor; the tuning is [`LnsConfig::health`]).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct LnsMembership {
    /// This LNS's health node id (not among `peers`).
    pub node: NodeId,
    /// Its role, sent in its heartbeats ([`Role::CONTACT_LNS`] or [`Role::LNS`]).
    pub role: Role,
    /// Grows on every restart so peers recognise it.
    pub incarnation: u32,
    /// The key that authenticates heartbeats (and from which the replication key is derived):
    /// at least 16 octets (RFC 2104 section 3; [`ConfigError::Health`] with
    /// [`KeyTooShort`](crate::health::ConfigError::KeyTooShort) otherwise).
    pub key: ClusterKey,
    /// The other LNSs: node id and the address their heartbeats (and redirected LACs) go to,
    /// neither port 0 nor unspecified ([`ConfigError::Health`] with
    /// [`UnusableAddress`](crate::health::ConfigError::UnusableAddress) otherwise).
    pub peers: Vec<(NodeId, SocketAddr)>,
    /// Whether a valid heartbeat from an LNS not in `peers` adds it (up to
    /// [`LnsConfig::max_pool`]).
    pub accept_unknown: bool,
    /// The service addresses of the peers whose heartbeats and replication go to a cluster
    /// address of their own (their `peers` address) apart from where LACs reach them: node id
    /// and service address, the address a contact LNS redirects LACs to and a virtual-LNS
    /// member's own address in [`VirtualLns::members`] (the pool's members are known by it:
    /// `pool` module docs). A peer not named is reached at its `peers` address. Each node
    /// among `peers`, at most once, the address not unspecified
    /// ([`ConfigError::OutOfRange`] or [`ConfigError::UnusableAddress`] naming
    /// [`ConfigField::MembershipServices`] otherwise). Empty by default.
    pub services: Vec<(NodeId, IpAddr)>,
    /// This LNS's own cluster address, when its heartbeats and replication arrive at an
    /// address apart from its service addresses (where LACs reach it): an SCCRQ (a control
    /// message with Tunnel ID 0, RFC 2661 5.1) arriving there sets up no tunnel. It is
    /// dropped without an answer (RFC 2661 has no Result Code for a wrong address; the LAC's
    /// retransmissions end as with an unreachable LNS, RFC 2661 5.8), counted in
    /// [`super::Stats::sccrqs_at_cluster_address`] and reported as
    /// [`InputError::Unexpected`] with [`Unexpected::AtClusterAddress`]. Any other message
    /// there goes its usual way. `None` (the default): no address is set apart.
    pub cluster_addr: Option<SocketAddr>,
}

impl LnsMembership {
    /// A membership of incarnation 1 that accepts heartbeats from `peers` only.
    pub fn new(
        node: NodeId,
        role: Role,
        key: ClusterKey,
        peers: Vec<(NodeId, SocketAddr)>,
    ) -> LnsMembership {
        LnsMembership {
            node,
            role,
            incarnation: 1,
            key,
            peers,
            accept_unknown: false,
            services: Vec::new(),
            cluster_addr: None,
        }
    }

    /// [`LnsMembership::services`] as a map, checked.
    fn checked_services(&self) -> Result<BTreeMap<NodeId, IpAddr>, ConfigError> {
        let mut map = BTreeMap::new();
        for &(node, ip) in &self.services {
            let addr = SocketAddr::new(ip, super::L2TP_PORT);
            if !crate::io::usable_peer(addr) {
                return Err(ConfigError::UnusableAddress {
                    field: ConfigField::MembershipServices,
                    addr,
                });
            }
            let known = self.peers.iter().any(|p| p.0 == node);
            if !known || map.insert(node, ip).is_some() {
                return Err(ConfigError::OutOfRange(ConfigField::MembershipServices));
            }
        }
        Ok(map)
    }
}

impl Default for LnsConfig {
    fn default() -> Self {
        LnsConfig {
            common: Config::default(),
            overload_percent: 90,
            contact: true,
            standard_redirect: false,
            redirect_hold: Duration::from_secs(10),
            max_pending_redirects: 1024,
            max_pool: 64,
            virtual_lns: None,
            health: HealthConfig::default(),
            membership: None,
            replication: None,
            admission: None,
        }
    }
}

/// The LNS endpoint.
pub struct Lns {
    core: Core,
    cfg: LnsConfig,
    load_percent: u8,
    accepting: bool,
    /// The pool LNSs fed without heartbeats (contact role); [`Lns::pool_view`] reads them with
    /// the heartbeat peers.
    pub pool: LnsPool,
    /// Liveness of the other virtual-LNS members set by [`Lns::set_member_up`], by real address
    /// (for members the monitor does not know).
    member_up: Vec<(IpAddr, bool)>,
    health: Option<Embedded>,
    /// [`LnsMembership::services`], checked.
    services: BTreeMap<NodeId, IpAddr>,
    repl: replicate::Replicator,
    backups: takeover::Backups,
    /// Pending admission decisions (at most [`AdmissionConfig::max_pending`]).
    admissions: BTreeMap<AdmissionId, SessionRef>,
    next_admission: u64,
}

impl std::fmt::Debug for Lns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lns")
            .field("tunnels", &self.core.tunnels.len())
            .field("sessions", &self.core.session_count)
            .finish()
    }
}

impl Lns {
    /// A new LNS.
    pub fn new(cfg: LnsConfig, now: Instant) -> Result<Self, ConfigError> {
        cfg.common.check()?;
        cfg.health.check()?;
        let (health, services) = match &cfg.membership {
            Some(m) => (
                Some(Embedded::new(monitor_config(&cfg, m), None, now)?),
                m.checked_services()?,
            ),
            None => (None, BTreeMap::new()),
        };
        if cfg.redirect_hold > Duration::from_secs(86_400) {
            return Err(ConfigError::OutOfRange(ConfigField::RedirectHold));
        }
        if !incoming::check(&cfg) {
            return Err(ConfigError::OutOfRange(ConfigField::Admission));
        }
        if let Some(v) = &cfg.virtual_lns {
            v.check()?;
        }
        let mut core = Core::new(cfg.common.clone(), now)?;
        core.lns = true;
        let mut repl = replicate::Replicator::new(cfg.membership.as_ref().map(|m| &*m.key));
        repl.released = replicate::Released::new(core.setup_wait(), cfg.common.max_sessions);
        Ok(Lns {
            core,
            pool: LnsPool::new(cfg.max_pool, cfg.health.overload_percent),
            member_up: cfg
                .virtual_lns
                .as_ref()
                .map(|v| v.members.iter().map(|a| (*a, true)).collect())
                .unwrap_or_default(),
            cfg,
            load_percent: 0,
            accepting: true,
            health,
            services,
            repl,
            backups: Default::default(),
            admissions: BTreeMap::new(),
            next_admission: 1,
        })
    }

    /// Sets the load figure used by admission (and sent in heartbeats).
    pub fn set_load(&mut self, percent: u8) {
        self.load_percent = percent;
        self.publish_load();
    }

    fn publish_load(&mut self) {
        let used = u32::try_from(self.session_count()).unwrap_or(u32::MAX);
        let capacity = u32::try_from(self.cfg.common.max_sessions).unwrap_or(u32::MAX);
        let computed = Load::new(used, capacity).percent;
        let percent = if self.accepting {
            self.load_percent.max(computed)
        } else {
            100
        };
        if let Some(m) = &mut self.health {
            m.set_load(Load {
                used,
                capacity,
                percent,
            });
        }
    }

    /// Drains the monitor's events: the pool and the virtual-LNS liveness read its table in
    /// place, so the LNS has nothing to copy; with replication, a member Down is taken over (when
    /// we back it up), one restarted too (what we hold of its former incarnation: a restart is
    /// a crash), one Up is told what we took, and the backup is kept chosen (`replicate`,
    /// `takeover` module docs).
    fn drain_health(&mut self, now: Instant) {
        let mut events = Vec::new();
        if let Some(h) = &mut self.health {
            while let Some(e) = h.poll_event() {
                if self.cfg.replication.is_some() {
                    events.push(e);
                }
            }
        }
        if self.cfg.replication.is_none() {
            return;
        }
        self.ensure_backup();
        for e in events {
            match e {
                HealthEvent::Down { node } => self.member_down(now, node),
                HealthEvent::Restarted {
                    node, incarnation, ..
                } => self.member_restarted(now, node, incarnation),
                HealthEvent::Up { node } => self.member_up(node),
                HealthEvent::Suspect { .. } => {}
            }
        }
        self.ensure_backup();
    }

    /// The health monitor, when configured.
    pub fn monitor(&self) -> Option<&Monitor> {
        self.health.as_ref().map(Embedded::monitor)
    }

    /// The pool as one table: the heartbeat peers' liveness and load, read from the monitor's
    /// load table (each at its service address, [`LnsMembership::services`], else its
    /// heartbeat address), and the members fed through [`Lns::pool`].
    pub fn pool_view(&self) -> PoolView<'_> {
        PoolView::new(&self.pool, self.monitor()).with_services(&self.services)
    }

    /// Admission policy switch: when false, no new session is served here.
    pub fn set_accepting(&mut self, accepting: bool) {
        self.accepting = accepting;
        self.publish_load();
    }

    /// Records the liveness of a virtual-LNS member, for members the monitor does not know
    /// (those it knows are as its heartbeats say).
    pub fn set_member_up(&mut self, addr: IpAddr, up: bool) {
        if let Some(m) = self.member_up.iter_mut().find(|m| m.0 == addr) {
            m.1 = up;
        }
        self.pool.set_state(
            addr,
            if up {
                MemberState::Up
            } else {
                MemberState::Down
            },
        );
    }

    /// Are we the contact LNS of our virtual LNS (always true outside one)?
    pub fn is_contact(&self) -> bool {
        match &self.cfg.virtual_lns {
            None => true,
            Some(v) => {
                let view = self.pool_view();
                v.is_contact(|a| match view.node_at(a) {
                    Some(_) => view.state(a) == Some(NodeState::Up),
                    None => self.member_up.iter().any(|m| m.0 == a && m.1),
                })
            }
        }
    }

    /// Established sessions plus those in set-up (redirect records excluded).
    pub fn session_count(&self) -> usize {
        self.core
            .session_count
            .saturating_sub(self.core.redirects_held)
    }

    shared_endpoint_api!();

    /// How many of our tunnels (any state, an RFC 4951 recovery tunnel included) have `addr` as
    /// our address: the tunnels a LAC reaches at `addr`. A caller that moved `addr` here on an
    /// [`Event::TakenOver`] moves it away again once none is left after an [`Event::Yielded`]
    /// whose `local` is at `addr` (the owner holds it now).
    pub fn tunnels_at(&self, addr: IpAddr) -> usize {
        self.core
            .tunnels
            .values()
            .filter(|t| t.local.is_some_and(|l| l.ip() == addr))
            .count()
    }

    /// Redirect records held.
    pub fn pending_redirects(&self) -> usize {
        self.core.redirects_held
    }

    /// Sends a PPP frame on a session (`session` as [`Event::SessionUp`] named it) in an L2TP
    /// data message (RFC 2661 5.8), queued for `poll_transmit`.
    ///
    /// `frame` is the PPP frame without the serial link's framing (no HDLC flag sequences,
    /// octet stuffing or FCS, RFC 1662 sections 3.1 and 4.2): its Protocol field and
    /// information, with the HDLC Address and Control fields (0xff 0x03) in front unless the
    /// PPP peers agreed to compress them (RFC 1661 section 6.6). Linux's L2TP PPP and xl2tpd
    /// send them. It travels as given: nothing is added or stripped.
    ///
    /// # Errors
    /// [`CommandError::NoSession`] when there is no such established session; nothing queued.
    pub fn send_ppp(&mut self, session: SessionRef, frame: &[u8]) -> Result<(), CommandError> {
        self.core.send_data(session, frame)
    }

    /// Hangs up a session: CDN (RFC 2661 6.12) with `close`'s Result Code and, when it has one,
    /// its PPP Disconnect Cause Code (RFC 3145 3.1: AVP 46, M=0); both reported in
    /// [`Event::SessionDown`]. A [`ResultCode`] converts into a [`Close`] without a cause.
    ///
    /// # Errors
    /// [`CommandError::NoSession`] when there is no such session; [`CommandError::CallDetails`]
    /// when a message does not fit in its AVP. Nothing sent, no event.
    pub fn close_session(
        &mut self,
        now: Instant,
        session: SessionRef,
        close: impl Into<Close>,
    ) -> Result<(), CommandError> {
        let close = close.into();
        close.check()?;
        let Close { result, cause } = close;
        if !self.core.disconnect_with_cause(
            now,
            session.tunnel,
            session.session,
            result.clone(),
            cause.clone(),
        ) {
            return Err(CommandError::NoSession);
        }
        self.admissions.retain(|_, s| *s != session);
        self.replicate_session_gone(session.tunnel, session.session);
        self.flush_replication(now);
        self.core.event(Event::SessionDown {
            session: Some(session),
            call: None,
            result: Some(result),
            cause,
        });
        Ok(())
    }

    /// Closes tunnel `tunnel` (our Tunnel ID, [`Event::TunnelUp`]'s `tunnel`): StopCCN with
    /// `result` (RFC 2661 6.4), its sessions cleared ([`Event::TunnelDown`]), as
    /// [`Lac::close_tunnel`] does.
    ///
    /// The tunnel is then held for [`Config::hold_period`] (31 s by default, RFC 2661 5.7) to
    /// acknowledge the peer's retransmissions: `poll_timeout` stays `Some` until it ends, so a
    /// caller that waits for `None` before exiting waits that long.
    ///
    /// # Errors
    /// [`CommandError::NoTunnel`] when no such tunnel is held; nothing sent, no event.
    ///
    /// [`Lac::close_tunnel`]: super::Lac::close_tunnel
    pub fn close_tunnel(
        &mut self,
        now: Instant,
        tunnel: u16,
        result: ResultCode<'static>,
    ) -> Result<(), CommandError> {
        if !self.core.tunnels.contains_key(&tunnel) {
            return Err(CommandError::NoTunnel);
        }
        self.core.close_tunnel(now, tunnel, result);
        self.process(now);
        self.flush_replication(now);
        Ok(())
    }

    /// Places an outgoing call on an established tunnel (OCRQ); [`Event::SessionUp`] at OCCN.
    /// The OCRQ's Bearer Type and Framing Type are among the LAC's advertised Bearer and Framing
    /// Capabilities (RFC 2661 4.4.3, 4.4.4), digital and synchronous preferred;
    /// [`CommandError::NoCapability`] when the LAC advertised none usable,
    /// [`CommandError::NoTunnel`] when there is no such tunnel, it is not established, or it is
    /// in an RFC 4951 recovery (an old tunnel being recovered or kept for its peer's recovery, or
    /// a recovery tunnel: 3.2.2, "An endpoint MUST prevent the establishment of new sessions
    /// until ... Step I, Section 3.3 is complete"; 3.2.1, a recovery tunnel carries no call).
    pub fn place_call(
        &mut self,
        now: Instant,
        tunnel: u16,
        called_number: &[u8],
    ) -> Result<SessionRef, CommandError> {
        // RFC 2661 4.4.4: the OCRQ's Bearer Type and Framing Type name the call's; 4.4.3: the
        // LAC's Bearer Capabilities (for outgoing calls) and Framing Capabilities say which it can
        // provide. A digital bearer and synchronous framing are asked for when the LAC offers
        // them, else the other type it offers; a LAC that sent no Bearer Capabilities is asked
        // for a digital bearer.
        let (bearer, framing) = match self
            .core
            .tunnels
            .get(&tunnel)
            .filter(|t| t.state == TunnelState::Established && t.recovery.is_none())
        {
            Some(t) => (
                match t.peer_bearer_capabilities {
                    Some(caps) => type_within(caps, 1).ok_or(CommandError::NoCapability)?,
                    None => 1,
                },
                type_within(t.peer_framing_capabilities, 1).ok_or(CommandError::NoCapability)?,
            ),
            None => return Err(CommandError::NoTunnel),
        };
        let sid = self
            .core
            .new_session(tunnel, 0, SessionState::WaitOutgoingReply, 1)
            .ok_or(CommandError::Full(Table::Sessions))?
            .local_id;
        let m = ControlMessage::ocrq(
            0,
            sid,
            1,
            9600,
            64000,
            bearer,
            framing,
            Cow::Owned(called_number.to_vec()),
        );
        // The set-up timer runs from the OCRQ's first transmission (`Core::send_setup`).
        self.core.send_setup(now, tunnel, sid, m);
        Ok(SessionRef {
            tunnel,
            session: sid,
        })
    }

    /// Sends Set-Link-Info on a session.
    pub fn send_sli(
        &mut self,
        now: Instant,
        session: SessionRef,
        send: u32,
        receive: u32,
    ) -> Result<(), CommandError> {
        let peer = self
            .core
            .session_mut(session.tunnel, session.session)
            .map(|s| s.peer_header_id())
            .ok_or(CommandError::NoSession)?;
        self.core.send_ctrl(
            now,
            session.tunnel,
            ControlMessage::sli(0, peer, send, receive),
        );
        Ok(())
    }

    fn can_serve(&self, tunnel: Option<u16>) -> bool {
        let per_tunnel_ok = tunnel
            .and_then(|t| self.core.tunnels.get(&t))
            .is_none_or(|t| {
                // Redirect records take ids as sessions do (`tunnel::redirects` docs).
                t.sessions.len() + t.sessions.held_len() < self.cfg.common.max_sessions_per_tunnel
            });
        self.accepting
            && self.load_percent < self.cfg.overload_percent
            && self.session_count() < self.cfg.common.max_sessions
            && per_tunnel_ok
    }

    fn select(&mut self, peer: SocketAddr, local: Option<SocketAddr>) -> Option<IpAddr> {
        if !self.cfg.contact {
            return None;
        }
        let (vip, me) = match &self.cfg.virtual_lns {
            Some(v) => (Some(v.virtual_addr), v.members.get(v.me).copied()),
            None => (None, None),
        };
        let (local, peer) = (local.map(|l| l.ip()), peer.ip());
        let allowed = |a| Some(a) != vip && Some(a) != me && Some(a) != local && a != peer;
        if self.health.is_none() {
            // No heartbeat peers: the pool is the members fed through `pool` alone, chosen
            // from and counted against in one pass (what the view's selection and
            // `note_redirect` below do then).
            return self.pool.select_noting(allowed);
        }
        let view = self.pool_view();
        let t = view.select_where(allowed)?;
        match (view.node_at(t), &mut self.health) {
            (Some(node), Some(h)) => h.note_assigned(node),
            _ => self.pool.note_redirect(t),
        }
        Some(t)
    }

    /// Feeds one received datagram: `from` is its source (a LAC, a pool member's heartbeat or
    /// replication), `to` the local address it arrived at (replies leave from it:
    /// [`Transmit::src`]), `data` the UDP payload.
    ///
    /// # Errors
    /// [`InputError`] when the datagram was not taken (malformed, unknown tunnel or session,
    /// unexpected in this state, a table full, a refused heartbeat or replication message,
    /// ...): the endpoint's other state is unchanged and any refusal the RFC asks for is already
    /// queued. For logging; the caller goes on.
    ///
    /// [`Transmit::src`]: crate::io::Transmit::src
    #[inline]
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        from: SocketAddr,
        to: SocketAddr,
        data: &[u8],
    ) -> Result<(), InputError> {
        // Replication first (its magic is neither a heartbeat's nor an L2TP header's): its
        // datagrams, two per replicated set-up, go straight to their own function, not through
        // the heartbeat check and the L2TP path's (whose entry alone saves and restores more).
        if replicate::is_replication(data) {
            return self.replica_input(now, from, data);
        }
        self.other_input(now, from, to, data)
    }

    /// [`Lns::handle_datagram`] of a datagram not of the replication: a heartbeat or L2TP.
    #[inline(never)]
    fn other_input(
        &mut self,
        now: Instant,
        from: SocketAddr,
        to: SocketAddr,
        data: &[u8],
    ) -> Result<(), InputError> {
        match self
            .health
            .as_mut()
            .map(|h| h.handle_datagram(now, from, data))
        {
            Some(Some(r)) => {
                self.drain_health(now);
                r.map_err(InputError::Health)
            }
            None if crate::health::is_heartbeat(data) => {
                Err(InputError::Unexpected(Unexpected::Heartbeat))
            }
            _ if self.at_cluster_address(to, data) => {
                self.core.stats.sccrqs_at_cluster_address =
                    self.core.stats.sccrqs_at_cluster_address.saturating_add(1);
                Err(InputError::Unexpected(Unexpected::AtClusterAddress))
            }
            _ => {
                let r = self.l2tp_input(now, from, to, data);
                if let Some(s) = self.core.stray_sccrp.take() {
                    self.stray_recovery_sccrp(now, s);
                }
                if let Err(InputError::UnknownSession(sid)) = r
                    && let Ok(tid) = super::wire::header::peek_tunnel_id(data)
                {
                    self.unknown_session(now, tid, sid);
                }
                self.flush_replication(now);
                r
            }
        }
    }

    /// Whether `data`, arriving at `to`, is an SCCRQ (a control message, Tunnel ID 0) at our
    /// cluster address ([`LnsMembership::cluster_addr`]): no tunnel is set up there.
    fn at_cluster_address(&self, to: SocketAddr, data: &[u8]) -> bool {
        let cluster = self.cfg.membership.as_ref().and_then(|m| m.cluster_addr);
        cluster == Some(to)
            && data.first().is_some_and(|f| f & 0x80 != 0)
            && super::wire::header::peek_tunnel_id(data) == Ok(0)
    }

    /// Lets due timers fire.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.l2tp_timeout(now);
        if self.health.as_ref().is_some_and(|h| h.is_due(now)) {
            // The heartbeats about to leave carry the current load.
            self.publish_load();
            if let Some(h) = &mut self.health {
                h.handle_timeout(now);
            }
            self.drain_health(now);
        }
        self.late_down_timeouts(now);
        if self.cfg.replication.is_some() {
            self.give_up_silent_backup(now);
        }
        self.flush_replication(now);
    }

    /// Next datagram to send (L2TP first, then heartbeats, then replication).
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.core
            .out
            .pop_front()
            .or_else(|| self.health.as_mut().and_then(Embedded::poll_transmit))
            .or_else(|| self.repl.poll_transmit())
    }

    /// Earliest deadline.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        let own = [
            self.core.poll_timeout(),
            self.replication_deadline(),
            self.late_down_deadline(),
        ]
        .into_iter()
        .flatten()
        .min();
        match &self.health {
            Some(h) => h.earliest(own),
            None => own,
        }
    }

    fn process(&mut self, now: Instant) {
        while let Some(up) = self.core.ups.pop_front() {
            match up {
                Up::Sccrq(s) => {
                    let super::tunnel::NewSccrq { from, to, msg } = *s;
                    self.on_sccrq(now, from, to, msg);
                }
                Up::TunnelUp(tid) => self.replicate_tunnel(tid),
                Up::TunnelClosed(c) => {
                    let super::tunnel::TunnelClosed {
                        tunnel, sessions, ..
                    } = *c;
                    self.replicate_tunnel_gone(tunnel);
                    for s in sessions {
                        // Its redirect records went with it (`tunnel::redirects` docs).
                        if s.state == SessionState::Established || s.admission.is_some() {
                            self.session_gone(tunnel, &s, None);
                        }
                    }
                    self.forget_admissions();
                }
                Up::SessionMsg { session, msg } => {
                    self.session_msg(now, session, &msg);
                    self.core.recycle(msg);
                }
                Up::SessionRefused(r) => {
                    let super::tunnel::SessionRefused {
                        tunnel,
                        session,
                        result,
                    } = *r;
                    self.session_gone(tunnel, &session, Some(result));
                }
                Up::SessionTimer(tid, sid) => {
                    let sref = SessionRef {
                        tunnel: tid,
                        session: sid,
                    };
                    if self.admission_timed_out(now, sref) {
                        continue;
                    }
                    let state = self.core.session_mut(tid, sid).map(|s| s.state);
                    match state {
                        // Redirect records are not sessions (`tunnel::redirects` docs): no
                        // session is in the redirected state.
                        Some(SessionState::Established | SessionState::Redirected) | None => {}
                        Some(_) => {
                            // An ICRP held for the backup: the wait runs from its release
                            // (`replicate::Released`).
                            let extended = (state == Some(SessionState::WaitConnect))
                                .then(|| self.repl.released.extends(now, tid, sid))
                                .flatten();
                            if let Some(end) = extended {
                                self.core.timers.arm(Timer::Session(tid, sid), end);
                                continue;
                            }
                            // Set-up did not complete in time (an answered ICRQ was
                            // replicated: `replicate` docs).
                            if state == Some(SessionState::WaitConnect) {
                                self.replicate_session_gone(tid, sid);
                            }
                            let rc = self.core.setup_timed_out(now, tid, sid);
                            let session = Some(SessionRef {
                                tunnel: tid,
                                session: sid,
                            });
                            self.core.session_down(session, None, Some(rc));
                        }
                    }
                }
            }
        }
    }

    /// Session `s` of `tunnel` is gone (already removed): reported down with `result`.
    fn session_gone(&mut self, tunnel: u16, s: &Session, result: Option<ResultCode<'static>>) {
        let tunnel_up = self
            .core
            .tunnels
            .get(&tunnel)
            .is_some_and(|t| t.state == TunnelState::Established);
        let answered = s.state == SessionState::WaitConnect && s.admission.is_none();
        if (s.state == SessionState::Established || answered) && tunnel_up {
            self.replicate_session_gone(tunnel, s.local_id);
        }
        let session = Some(SessionRef {
            tunnel,
            session: s.local_id,
        });
        self.core.session_down(session, None, result);
    }
}

/// The health monitor's configuration: the membership's identity, the LNS's tuning, at most
/// `max_pool` peers, this LNS's sessions against `max_sessions` as its load.
fn monitor_config(cfg: &LnsConfig, m: &LnsMembership) -> MonitorConfig {
    let mut mc = MonitorConfig::new(m.node, m.role, m.key.clone(), m.peers.clone());
    mc.incarnation = m.incarnation;
    mc.health = cfg.health;
    mc.max_peers = cfg.max_pool;
    mc.accept_unknown = m.accept_unknown;
    mc.load = Load::new(
        0,
        u32::try_from(cfg.common.max_sessions).unwrap_or(u32::MAX),
    );
    mc
}

/// Test builder: pool member node 1 of a virtual LNS keyed `b"pool"` (not a contact LNS), with
/// replication on and `peers` as the other members, built at `now`.
#[cfg(test)]
pub(crate) fn pool_member(now: Instant, peers: Vec<(NodeId, SocketAddr)>) -> Lns {
    let m = crate::l2tp::LnsMembership::new(
        NodeId(1),
        crate::health::Role::LNS,
        crate::health::ClusterKey::new(b"pool cluster key"),
        peers,
    );
    let cfg = crate::l2tp::LnsConfig {
        contact: false,
        membership: Some(m),
        replication: Some(ReplicationConfig::default()),
        ..crate::l2tp::LnsConfig::default()
    };
    Lns::new(cfg, now).expect("a valid pool member")
}
