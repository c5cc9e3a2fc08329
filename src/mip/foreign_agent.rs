//! A minimal sans-IO foreign agent: relays registrations between mobile nodes and a home agent.

use super::wire::auth::PreparedKey;
use super::wire::auth::SecurityAssociation;
use super::wire::{
    Builder, Extension, ExtensionType, Header, Message, MessageType, REVOCATION_I_BIT, Reply,
    ReplyCode, Request, Revocation, RevocationAck, RevocationFlags, WireError, append_auth,
};
use super::{ConfigError, ConfigField};
use crate::Transmit;
use crate::io::{Outbox, Overflow};
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

/// Configuration of a [`ForeignAgent`].
#[derive(Clone, Debug)]
pub struct ForeignAgentConfig {
    /// The home agent (the virtual HA address, port 434). A request is relayed to the address
    /// its Home Agent field names, on this port (RFC 5944 section 3.7.2.3); one naming none
    /// (0.0.0.0, or 255.255.255.255 for dynamic assignment, RFC 4433) is relayed here. A usable
    /// destination: neither port 0 nor 0.0.0.0 ([`ConfigError::UnusableAddress`] naming
    /// [`ConfigField::HomeAgent`] otherwise).
    pub home_agent: SocketAddr,
    /// The FA-HA security association: when set, an FA-HA authentication extension is appended
    /// to every relayed request. Its key is at least 16 octets (RFC 5944 section 5.1: HMAC-MD5
    /// with 128-bit keys; [`ConfigError::KeyTooShort`] naming [`ConfigField::ForeignAgentKey`]
    /// otherwise), its SPI at least [`FIRST_USABLE_SPI`](crate::mip::wire::auth::FIRST_USABLE_SPI)
    /// (256; RFC 5944 section 1.6 reserves 0-255; [`ConfigError::OutOfRange`] naming
    /// [`ConfigField::Spi`] otherwise).
    pub fa_ha: Option<SecurityAssociation>,
    /// Most requests awaiting a reply (the oldest is forgotten beyond).
    pub max_pending: usize,
    /// How long a relayed request waits for its reply.
    pub pending_timeout: Duration,
}

impl ForeignAgentConfig {
    /// A foreign agent relaying to `home_agent` (the virtual HA address, UDP port 434,
    /// [`crate::mip::wire::PORT`]) with the defaults: no FA-HA security association (`fa_ha`:
    /// set it when the home agent lists this FA in
    /// [`HomeAgentConfig::foreign_agents`](crate::mip::HomeAgentConfig::foreign_agents)), at
    /// most 1024 relayed requests awaiting a reply (and 1024 visitors), each waiting 10 s for
    /// its reply. Every field stays public to change; [`ForeignAgent::new`] checks them.
    ///
    /// ```
    /// use telcp::mip::{ForeignAgent, ForeignAgentConfig};
    /// let fa = ForeignAgent::new(ForeignAgentConfig::new("192.0.2.1:434".parse().unwrap()),
    ///     std::time::Instant::now());
    /// assert!(fa.is_ok());
    /// ```
    #[must_use]
    pub fn new(home_agent: SocketAddr) -> Self {
        ForeignAgentConfig {
            home_agent,
            fa_ha: None,
            max_pending: 1024,
            pending_timeout: Duration::from_secs(10),
        }
    }
}

/// Why the foreign agent refused a datagram. The names are the ones the Home Agent
/// ([`crate::mip::InputError`]) and the mobile node ([`crate::mip::ClientError`]) use; a
/// configuration is refused with [`ConfigError`], as for every Mobile IP role.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FaError {
    /// Not a registration message.
    #[error(transparent)]
    Wire(#[from] WireError),
    /// A reply to no request this FA relayed (RFC 5944 section 3.7.3.1).
    #[error("reply matches no relayed request")]
    UnmatchedReply,
    /// A request from the home agent's side, or a reply from a mobile node's.
    #[error("message from the wrong side")]
    WrongSide,
    /// A reply without a valid FA-HA authenticator (when the FA has an FA-HA association, RFC
    /// 5944 section 3.7.3.1).
    #[error("reply failed FA-HA authentication")]
    UnauthenticatedReply,
    /// RFC 3543: a Registration Revocation without the A bit, without a valid FA-HA
    /// authenticator, or to an FA that does not offer revocation (no FA-HA association or
    /// [`ForeignAgent::support_revocation`] not called): dropped and counted.
    #[error("revocation refused")]
    RevocationRefused,
    /// RFC 3543: a Registration Revocation whose identifier is below the last one taken
    /// (a replay): dropped and counted.
    #[error("stale revocation identifier")]
    StaleRevocation,
}

/// What the foreign agent reports (RFC 5944 section 3.7).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FaEvent {
    /// A Registration Request was relayed to the home agent (section 3.7.2.3).
    RequestRelayed {
        /// The mobile node's transport address.
        mobile_node: SocketAddr,
        /// The request's Home Address.
        home_address: Ipv4Addr,
        /// The request's Identification.
        identification: u64,
    },
    /// A Registration Reply accepting the registration (code 0 or 1) was relayed to the mobile
    /// node (section 3.7.3.2). With `lifetime` 0 (a deregistration) the mobile node's visitor
    /// entry is removed with this event alone (no [`FaEvent::VisitorExpired`] follows); with a
    /// lifetime, [`FaEvent::VisitorAdded`] follows.
    RegistrationAccepted {
        /// The mobile node's transport address.
        mobile_node: SocketAddr,
        /// The reply's Home Address.
        home_address: Ipv4Addr,
        /// The lifetime granted, in seconds (0: deregistered).
        lifetime: u16,
    },
    /// A Registration Reply denying the registration was relayed to the mobile node (section
    /// 3.7.3.2).
    RegistrationDenied {
        /// The mobile node's transport address.
        mobile_node: SocketAddr,
        /// The home agent's code.
        code: ReplyCode,
    },
    /// An accepted registration with a lifetime above 0 put the mobile node on the visitor list
    /// (section 3.7.3.2), or renewed its entry.
    VisitorAdded {
        /// The mobile node's Home Address.
        home_address: Ipv4Addr,
        /// The mobile node's transport address.
        mobile_node: SocketAddr,
        /// When the entry expires.
        expires: Instant,
    },
    /// A visitor list entry's lifetime ran out, or the entry was dropped to make room (section
    /// 3.7.1: the FA keeps a visitor entry only while its lifetime lasts).
    VisitorExpired {
        /// The mobile node's Home Address.
        home_address: Ipv4Addr,
    },
    /// RFC 3543 section 4.3: the home agent revoked the registration; the visitor entry is gone
    /// and the revocation acknowledged.
    RegistrationRevoked {
        /// The mobile node's Home Address.
        home_address: Ipv4Addr,
        /// The Revocation Identifier.
        revocation_id: u32,
        /// The mobile node was informed (the I bit was set and the visitor known).
        mn_informed: bool,
    },
}

/// Counters of a [`ForeignAgent`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct FaStats {
    /// Requests relayed.
    pub relayed_requests: u64,
    /// Replies relayed.
    pub relayed_replies: u64,
    /// Visitor list entries now held.
    pub visitors: u64,
    /// Visitor entries dropped before their lifetime ran out because the list held
    /// `max_pending` entries.
    pub visitors_dropped: u64,
    /// Events dropped because 1024 were queued (oldest dropped).
    pub events_dropped: u64,
    /// Transmits dropped because 1024 were queued (newest dropped).
    pub transmits_dropped: u64,
    /// RFC 3543 Registration Revocations taken and acknowledged (retransmissions included).
    pub revocations_acked: u64,
    /// Revocations refused (authentication, A bit, replay, revocation not offered).
    pub revocations_refused: u64,
}

/// The visitor list (RFC 5944 section 3.7.1): one entry per Home Address, each with its
/// expiry, bounded by the FA's `max_pending`.
#[derive(Debug, Default)]
struct Visitors {
    entries: HashMap<Ipv4Addr, (SocketAddr, Instant)>,
    expiry: BTreeSet<(Instant, Ipv4Addr)>,
}

impl Visitors {
    fn remove(&mut self, home: Ipv4Addr) -> bool {
        match self.entries.remove(&home) {
            Some((_, at)) => self.expiry.remove(&(at, home)),
            None => false,
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        self.expiry.first().map(|(at, _)| *at)
    }

    fn pop_expired(&mut self, now: Instant) -> Option<Ipv4Addr> {
        let &(at, home) = self.expiry.first()?;
        if at > now {
            return None;
        }
        self.remove(home);
        Some(home)
    }
}

const MAX_QUEUED: usize = 1024;

/// Relays Registration Requests from mobile nodes (through their MN-HA extension, appending FA-HA
/// authentication when configured) to the home agent, and Registration Replies (through their
/// MN-HA extension) back to the mobile node that asked,
/// matched by the identification's low 32 bits (with an FA-HA association, only replies whose
/// FA-HA authenticator verifies). Keeps a visitor list (RFC 5944 section 3.7.1) of accepted
/// registrations until their lifetime runs out and reports [`FaEvent`]s. Bounded: `max_pending`
/// relayed requests, each forgotten after `pending_timeout`; `max_pending` visitors (the one
/// expiring first dropped, counted); at most 1024 queued transmits (newest dropped) and 1024
/// queued events (oldest dropped), both counted in [`FaStats`]. Call order as every endpoint:
/// `handle_*`, then drain [`ForeignAgent::poll_transmit`] and [`ForeignAgent::poll_event`], then
/// [`ForeignAgent::poll_timeout`].
#[derive(Debug)]
pub struct ForeignAgent {
    cfg: ForeignAgentConfig,
    pending: HashMap<u32, (SocketAddr, Instant)>,
    order: VecDeque<(u32, Instant)>,
    transmits: Outbox<Transmit>,
    visitors: Visitors,
    events: Outbox<FaEvent>,
    visitors_dropped: u64,
    /// The latest instant seen (visitor lifetimes count from it).
    last_now: Option<Instant>,
    /// RFC 3543: revocation offered (`Some`), with the I bit (this FA informs mobile nodes).
    revocation: Option<bool>,
    /// The FA-HA key, prepared (revocation messages).
    fa_ha_key: Option<PreparedKey>,
    /// Per home address, the last Revocation Identifier taken (the members of a virtual HA each
    /// count their own), oldest first; at most `max_pending`.
    last_revocation: VecDeque<(Ipv4Addr, u32, bool)>,
    /// When this FA started: its revocation timestamp counts seconds from it.
    start: Instant,
    revocations_acked: u64,
    revocations_refused: u64,
    relayed_requests: u64,
    relayed_replies: u64,
}

impl ForeignAgent {
    /// A foreign agent.
    ///
    /// # Errors
    /// [`ConfigError::OutOfRange`] naming [`ConfigField::MaxPending`] (0) or
    /// [`ConfigField::PendingTimeout`] (0 or above one hour) or [`ConfigField::Spi`] (an FA-HA
    /// SPI of 0-255, reserved by RFC 5944 section 1.6); [`ConfigError::KeyTooShort`]
    /// naming [`ConfigField::ForeignAgentKey`] (an FA-HA key under 16 octets);
    /// [`ConfigError::UnusableAddress`] naming [`ConfigField::HomeAgent`] (port 0 or 0.0.0.0): the
    /// configuration error type of
    /// every Mobile IP role, as [`HomeAgent::new`](crate::mip::HomeAgent::new) and
    /// [`MobileNodeClient::new`](crate::mip::MobileNodeClient::new) return it.
    pub fn new(cfg: ForeignAgentConfig, now: Instant) -> Result<Self, ConfigError> {
        if cfg.max_pending == 0 {
            return Err(ConfigError::OutOfRange(ConfigField::MaxPending));
        }
        if cfg.pending_timeout.is_zero() || cfg.pending_timeout > Duration::from_secs(3600) {
            return Err(ConfigError::OutOfRange(ConfigField::PendingTimeout));
        }
        if let Some(sa) = &cfg.fa_ha {
            super::home_agent::check_key(ConfigField::ForeignAgentKey, &sa.key)?;
            super::home_agent::check_spi(sa.spi)?;
        }
        super::home_agent::check_peer(ConfigField::HomeAgent, cfg.home_agent)?;
        Ok(ForeignAgent {
            cfg,
            pending: HashMap::new(),
            order: VecDeque::new(),
            transmits: Outbox::new(MAX_QUEUED, Overflow::DropNewest),
            visitors: Visitors::default(),
            events: Outbox::new(MAX_QUEUED, Overflow::DropOldest),
            visitors_dropped: 0,
            last_now: Some(now),
            revocation: None,
            fa_ha_key: None,
            last_revocation: VecDeque::new(),
            start: now,
            revocations_acked: 0,
            revocations_refused: 0,
            relayed_requests: 0,
            relayed_replies: 0,
        })
    }

    fn push(&mut self, t: Transmit) {
        self.note_relayed(&t);
        self.transmits.push(t);
    }

    /// Reports what a relayed message means (RFC 5944 sections 3.7.2.3 and 3.7.3.2) and keeps
    /// the visitor list. Called with every relayed datagram, which has parsed already.
    fn note_relayed(&mut self, t: &Transmit) {
        let Ok((header, _)) = Header::parse(&t.payload) else {
            return;
        };
        match header {
            Header::Request(q) => {
                let mobile_node = self
                    .pending
                    .get(&(q.identification as u32))
                    .map_or(t.dst, |(mn, _)| *mn);
                self.push_event(FaEvent::RequestRelayed {
                    mobile_node,
                    home_address: q.home_address,
                    identification: q.identification,
                });
            }
            Header::Reply(p) if p.code.is_accepted() => {
                let mobile_node = t.dst;
                self.push_event(FaEvent::RegistrationAccepted {
                    mobile_node,
                    home_address: p.home_address,
                    lifetime: p.lifetime,
                });
                // Deregistration (lifetime 0) or a renewal: the old entry goes either way.
                self.visitors.remove(p.home_address);
                if p.lifetime > 0 {
                    self.add_visitor(p.home_address, mobile_node, p.lifetime);
                }
            }
            Header::Reply(p) => self.push_event(FaEvent::RegistrationDenied {
                mobile_node: t.dst,
                code: p.code,
            }),
        }
    }

    fn add_visitor(&mut self, home_address: Ipv4Addr, mobile_node: SocketAddr, lifetime: u16) {
        let Some(now) = self.last_now else { return };
        let expires = now + Duration::from_secs(u64::from(lifetime));
        while self.visitors.entries.len() >= self.cfg.max_pending {
            let Some(&(_, first)) = self.visitors.expiry.first() else {
                break;
            };
            self.visitors.remove(first);
            self.visitors_dropped += 1;
            self.push_event(FaEvent::VisitorExpired {
                home_address: first,
            });
        }
        self.visitors
            .entries
            .insert(home_address, (mobile_node, expires));
        self.visitors.expiry.insert((expires, home_address));
        self.push_event(FaEvent::VisitorAdded {
            home_address,
            mobile_node,
            expires,
        });
    }

    fn push_event(&mut self, e: FaEvent) {
        self.events.push(e);
    }

    /// The next event.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<FaEvent> {
        self.events.pop()
    }

    /// The counters so far.
    pub fn stats(&self) -> FaStats {
        FaStats {
            relayed_requests: self.relayed_requests,
            relayed_replies: self.relayed_replies,
            visitors: self.visitors.entries.len() as u64,
            visitors_dropped: self.visitors_dropped,
            events_dropped: self.events.dropped(),
            transmits_dropped: self.transmits.dropped(),
            revocations_acked: self.revocations_acked,
            revocations_refused: self.revocations_refused,
        }
    }

    /// Offers registration revocation (RFC 3543 section 3.1) to the home agent: every request
    /// relayed with an FA-HA authentication extension gets a Revocation Support extension before
    /// it, with the I bit when `inform_mn` (this FA tells a mobile node whose registration the
    /// home agent revokes, when the home agent sets the I bit). Without an FA-HA association
    /// nothing is offered (RFC 3543 requires one).
    pub fn support_revocation(&mut self, inform_mn: bool) {
        self.revocation = Some(inform_mn);
        self.fa_ha_key = self
            .cfg
            .fa_ha
            .as_ref()
            .map(|sa| PreparedKey::new(sa.algorithm, &sa.key));
    }

    /// A Registration Revocation from the home agent (RFC 3543 section 4.3): with the A bit and
    /// a valid FA-HA authenticator, and an identifier not below the last one taken for that home
    /// address (the last `max_pending` home addresses are remembered), the visitor
    /// entry goes ([`FaEvent::RegistrationRevoked`]); with the I bit the mobile node gets an
    /// unsolicited Registration Reply (code 129, lifetime 0, no MN-HA authenticator: the FA
    /// has no MN-HA key). Acknowledged (I bit when informed) with FA-HA; a repeated identifier
    /// (a lost acknowledgement) is acknowledged again.
    fn take_revocation(&mut self, from: SocketAddr, data: &[u8]) -> Result<(), FaError> {
        let rev = Revocation::parse(data)?;
        let (Some(_), Some(sa), Some(key)) = (
            self.revocation,
            self.cfg.fa_ha.clone(),
            self.fa_ha_key.as_ref(),
        ) else {
            self.revocations_refused += 1;
            return Err(FaError::RevocationRefused);
        };
        let valid = rev.verify_fa_ha(data, sa.spi, key).is_ok();
        if !rev.flags.a() || !valid {
            self.revocations_refused += 1;
            return Err(FaError::RevocationRefused);
        }
        let home = rev.home_address;
        let last = self.last_revocation.iter().position(|(h, _, _)| *h == home);
        let last_id = last.map(|i| self.last_revocation[i].1);
        let was_informed = last.is_some_and(|i| self.last_revocation[i].2);
        if last_id.is_some_and(|l| rev.revocation_id < l) {
            self.revocations_refused += 1;
            return Err(FaError::StaleRevocation);
        }
        let repeated = last_id == Some(rev.revocation_id);
        if let Some(i) = last {
            self.last_revocation.remove(i);
        }
        if self.last_revocation.len() >= self.cfg.max_pending {
            self.last_revocation.pop_front();
        }
        let mn = self
            .visitors
            .entries
            .get(&rev.home_address)
            .map(|(mn, _)| *mn);
        // A repeat is answered as the first copy was.
        let informed = if repeated {
            was_informed
        } else {
            rev.flags.i() && self.revocation == Some(true) && mn.is_some()
        };
        self.last_revocation
            .push_back((home, rev.revocation_id, informed));
        if !repeated {
            self.visitors.remove(rev.home_address);
            if let (true, Some(mn)) = (informed, mn) {
                self.inform(mn, &rev);
            }
            self.push_event(FaEvent::RegistrationRevoked {
                home_address: rev.home_address,
                revocation_id: rev.revocation_id,
                mn_informed: informed,
            });
        }
        let flags = if informed { RevocationFlags::ACK_I } else { 0 };
        let mut bytes = RevocationAck {
            reserved: 0,
            flags: RevocationFlags(flags),
            home_address: rev.home_address,
            revocation_id: rev.revocation_id,
            extensions: Vec::new(),
        }
        .to_vec();
        append_auth(
            &mut bytes,
            ExtensionType::FA_HA_AUTH,
            sa.spi,
            sa.algorithm,
            &sa.key,
        );
        self.revocations_acked += 1;
        self.transmits.push(Transmit::to(from, bytes));
        Ok(())
    }

    /// RFC 3543 section 4.3: the mobile node learns of the revocation from a Registration Reply
    /// denying it (129, administratively prohibited by the home agent), lifetime 0.
    fn inform(&mut self, mn: SocketAddr, rev: &Revocation<'_>) {
        let bytes = Builder::reply(Reply {
            code: ReplyCode::HA_ADMIN_PROHIBITED,
            lifetime: 0,
            home_address: rev.home_address,
            home_agent: rev.home_domain,
            identification: 0,
        })
        .to_vec();
        self.transmits.push(Transmit::to(mn, bytes));
    }

    /// Feeds a datagram: a request from a mobile node, or a reply (or RFC 3543 Registration
    /// Revocation) from the home agent. `from` is its source, `to` the local address it arrived
    /// at (unused: the foreign agent answers from its one address), `data` the UDP payload.
    ///
    /// # Errors
    /// [`FaError`]: not a registration message ([`FaError::Wire`]), a reply to no relayed
    /// request, a message from the wrong side, a reply failing FA-HA authentication, a refused
    /// or stale revocation. Nothing is relayed (the refusal is counted in [`FaStats`] where it
    /// has a counter); for logging, the caller goes on.
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        from: SocketAddr,
        to: SocketAddr,
        data: &[u8],
    ) -> Result<(), FaError> {
        let _ = to;
        self.saw(now);
        if data.first() == Some(&MessageType::REGISTRATION_REVOCATION.0) {
            return self.take_revocation(from, data);
        }
        let (header, _) = Header::parse(data)?;
        match header {
            Header::Request(q) => self.relay_request(now, from, &q, data),
            Header::Reply(p) => self.relay_reply(&p, data),
        }
    }

    /// A mobile node's request, relayed to the home agent (RFC 5944 section 3.7.2).
    fn relay_request(
        &mut self,
        now: Instant,
        from: SocketAddr,
        q: &Request,
        data: &[u8],
    ) -> Result<(), FaError> {
        if from == self.cfg.home_agent {
            return Err(FaError::WrongSide);
        }
        // RFC 5944 section 3.7.2.3: the request is relayed unchanged through the MN-HA
        // extension; the extensions after it (for this FA) are removed.
        let keep = through_mn_ha(data)?;
        self.handle_timeout(now);
        let key = q.identification as u32;
        while self.pending.len() >= self.cfg.max_pending {
            match self.order.pop_front() {
                Some((k, d)) => {
                    if self.pending.get(&k).is_some_and(|(_, dd)| *dd == d) {
                        self.pending.remove(&k);
                    }
                }
                None => self.pending.clear(),
            }
        }
        let deadline = now + self.cfg.pending_timeout;
        self.pending.insert(key, (from, deadline));
        if self.order.len() >= self.cfg.max_pending.saturating_mul(2) {
            // Requests repeating an identification leave stale entries behind; drop
            // them (keeping the newest entry of each live request) so a flood cannot
            // grow the queue past the pending table.
            let pending = &self.pending;
            let mut seen = std::collections::HashSet::new();
            let live: Vec<(u32, Instant)> = self
                .order
                .iter()
                .rev()
                .filter(|(k, d)| pending.get(k).is_some_and(|(_, dd)| dd == d) && seen.insert(*k))
                .copied()
                .collect();
            self.order = live.into_iter().rev().collect();
        }
        self.order.push_back((key, deadline));
        let mut out = data[..keep].to_vec();
        if let (Some(inform), Some(_)) = (self.revocation, &self.cfg.fa_ha) {
            // RFC 3543 section 3.2: before the FA-HA extension, which covers it; the timestamp
            // is this FA's (seconds since it started, from 1).
            let secs = now.saturating_duration_since(self.start).as_secs();
            Extension::RevocationSupport {
                flags: if inform { REVOCATION_I_BIT } else { 0 },
                timestamp: u32::try_from(secs).unwrap_or(u32::MAX).saturating_add(1),
            }
            .emit(&mut out);
        }
        if let Some(sa) = &self.cfg.fa_ha {
            append_auth(
                &mut out,
                ExtensionType::FA_HA_AUTH,
                sa.spi,
                sa.algorithm,
                &sa.key,
            );
        }
        self.relayed_requests += 1;
        let ha = relay_destination(q.home_agent, self.cfg.home_agent);
        self.push(Transmit::to(ha, out));
        Ok(())
    }

    /// The home agent's reply, relayed to the mobile node (RFC 5944 section 3.7.3).
    fn relay_reply(&mut self, p: &Reply, data: &[u8]) -> Result<(), FaError> {
        let key = p.identification as u32;
        if !self.pending.contains_key(&key) {
            return Err(FaError::UnmatchedReply);
        }
        // RFC 5944 section 3.7.3.2: the extensions after the MN-HA extension (this FA's
        // FA-HA) are removed before the reply goes to the mobile node.
        let keep = through_mn_ha(data)?;
        if let Some(sa) = &self.cfg.fa_ha {
            let m = Message::parse(data)?;
            let ok = m
                .position(ExtensionType::FA_HA_AUTH)
                .is_some_and(|i| m.verify(data, i, sa).is_ok());
            if !ok {
                return Err(FaError::UnauthenticatedReply);
            }
        }
        let Some((mn, _)) = self.pending.remove(&key) else {
            return Err(FaError::UnmatchedReply);
        };
        self.relayed_replies += 1;
        self.push(Transmit::to(mn, data[..keep].to_vec()));
        Ok(())
    }

    /// Forgets relayed requests whose reply is overdue.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.saw(now);
        while let Some(home_address) = self.visitors.pop_expired(now) {
            self.push_event(FaEvent::VisitorExpired { home_address });
        }
        while let Some(&(k, d)) = self.order.front() {
            if d > now {
                break;
            }
            self.order.pop_front();
            if self.pending.get(&k).is_some_and(|(_, dd)| *dd == d) {
                self.pending.remove(&k);
            }
        }
    }

    /// The next datagram to send.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop()
    }

    /// The next deadline.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        let pending = self.order.front().map(|(_, d)| *d);
        match (pending, self.visitors.next_deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Remembers the latest instant seen (a `now` earlier than one seen before is ignored).
    fn saw(&mut self, now: Instant) {
        self.last_now = Some(self.last_now.map_or(now, |t| t.max(now)));
    }
}

/// Where a request whose Home Agent field is `field` is relayed (RFC 5944 section 3.7.2.3: to
/// that address, UDP port 434, the configured home agent's port): the configured home agent
/// when the field names no unicast address (0.0.0.0, or 255.255.255.255 asking for a dynamic
/// assignment, RFC 4433; a multicast address).
fn relay_destination(field: Ipv4Addr, configured: SocketAddr) -> SocketAddr {
    if field.is_unspecified() || field.is_broadcast() || field.is_multicast() {
        configured
    } else {
        SocketAddr::new(field.into(), configured.port())
    }
}

/// How many leading bytes of a registration message the FA relays: everything through the
/// Mobile-Home Authentication Extension; without one, everything before the first Foreign-Home
/// Authentication Extension (RFC 5944 sections 3.7.2.3 and 3.7.3.2).
fn through_mn_ha(data: &[u8]) -> Result<usize, WireError> {
    let m = Message::parse(data)?;
    let end = |i: usize| m.offset_of(i).map(|o| o + m.extensions[i].encoded_len());
    Ok(match m.position(ExtensionType::MN_HA_AUTH) {
        Some(i) => end(i),
        None => m
            .position(ExtensionType::FA_HA_AUTH)
            .and_then(|i| m.offset_of(i)),
    }
    .map_or(data.len(), |n| n.min(data.len())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> ForeignAgentConfig {
        ForeignAgentConfig {
            home_agent: SocketAddr::from(([192, 0, 2, 1], 434)),
            fa_ha: None,
            max_pending: 4,
            pending_timeout: Duration::from_secs(60),
        }
    }

    #[test]
    fn configuration_out_of_range_is_named_by_field() {
        let t0 = Instant::now();
        let good = config();
        assert!(ForeignAgent::new(good.clone(), t0).is_ok());
        let mut c = good.clone();
        c.max_pending = 0;
        assert_eq!(
            ForeignAgent::new(c, t0).err(),
            Some(ConfigError::OutOfRange(ConfigField::MaxPending))
        );
        for t in [Duration::ZERO, Duration::from_secs(3601)] {
            let mut c = good.clone();
            c.pending_timeout = t;
            assert_eq!(
                ForeignAgent::new(c, t0).err(),
                Some(ConfigError::OutOfRange(ConfigField::PendingTimeout))
            );
        }
    }

    #[test]
    fn a_flood_repeating_one_identification_stays_bounded() {
        // Found by audit: each request pushed a deadline, and a repeated identification only
        // replaced its pending entry, so the deadline queue grew with every request.
        let t0 = Instant::now();
        let cfg = config();
        let Ok(mut fa) = ForeignAgent::new(cfg, t0) else {
            panic!("valid config");
        };
        // A Registration Request (type 1), lifetime 600, identification 7.
        let mut rrq = vec![1u8, 0, 2, 88, 10, 0, 5, 1, 10, 0, 0, 1, 203, 0, 113, 1];
        rrq.extend_from_slice(&7u64.to_be_bytes());
        let mn = SocketAddr::from(([198, 51, 100, 1], 434));
        let to = SocketAddr::from(([198, 51, 100, 2], 434));
        for _ in 0..10_000 {
            assert_eq!(fa.handle_datagram(t0, mn, to, &rrq), Ok(()));
            while fa.poll_transmit().is_some() {}
        }
        assert!(fa.order.len() <= 8, "deadline queue: {}", fa.order.len());
        assert_eq!(fa.pending.len(), 1);
        assert_eq!(fa.stats().relayed_requests, 10_000);
    }
}
