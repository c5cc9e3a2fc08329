//! A sans-IO Mobile IPv4 mobile node with a co-located care-of address.

use super::wire::auth::PreparedKey;
use super::wire::auth::SecurityAssociation;
use super::wire::replay::{self, NtpTime};
use super::wire::{
    Builder, DYNAMIC_HA_REDIRECTED, Extension, ExtensionType, Header, LIFETIME_DEREGISTER, Message,
    MessageType, PORT, ReplyCode, Request, RequestFlags, Revocation, RevocationAck,
    RevocationFlags, WireError, append_auth_prepared,
};
use super::{ConfigError, ConfigField};
use crate::Transmit;
use crate::io::{Outbox, Overflow};
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

/// The longest retransmission timeout.
const MAX_TIMEOUT: Duration = Duration::from_secs(3600);

/// The longest wait before the next request for a registration asking `lifetime` seconds: RFC
/// 5944 section 3.6.3, the time until a new request SHOULD be no greater than the requested
/// Lifetime (a deregistration, lifetime 0, is bounded by [`MAX_TIMEOUT`] alone).
fn timeout_cap(lifetime: u16) -> Duration {
    match lifetime {
        0 => MAX_TIMEOUT,
        l => MAX_TIMEOUT.min(Duration::from_secs(u64::from(l))),
    }
}

/// Configuration of a [`MobileNodeClient`].
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// The home address; 0.0.0.0 asks the home agent to assign one (then `nai` is required).
    pub home_address: Ipv4Addr,
    /// The NAI sent in every request, if any.
    pub nai: Option<Vec<u8>>,
    /// The MN-HA security association; its key is at least 16 octets (RFC 5944 section 5.1:
    /// HMAC-MD5 with 128-bit keys; [`ConfigError::KeyTooShort`] naming
    /// [`ConfigField::MobileNodeKey`] otherwise), its SPI at least
    /// [`FIRST_USABLE_SPI`](crate::mip::wire::auth::FIRST_USABLE_SPI) (256; RFC 5944 section
    /// 1.6 reserves 0-255; [`ConfigError::OutOfRange`] naming [`ConfigField::Spi`] otherwise).
    pub sa: SecurityAssociation,
    /// The home agent (the virtual HA address and port 434). Its address is the request's Home
    /// Agent field; 0.0.0.0 or 255.255.255.255 asks for one (RFC 4433) through a foreign agent
    /// (`via`). Without `via` requests are sent to it: a usable destination, neither port 0
    /// nor 0.0.0.0 ([`ConfigError::UnusableAddress`] naming [`ConfigField::HomeAgent`]).
    pub home_agent: SocketAddr,
    /// This node's own address (its co-located care-of address and port).
    pub local: SocketAddr,
    /// A foreign agent to register through (its address is then the care-of address, and the
    /// D bit is clear); `None`: co-located care-of address, requests go straight to the HA.
    /// A usable destination ([`ConfigError::UnusableAddress`] naming [`ConfigField::Via`]).
    pub via: Option<SocketAddr>,
    /// Lifetime requested, seconds.
    pub lifetime: u16,
    /// Request simultaneous bindings (S bit).
    pub simultaneous: bool,
    /// Ask the home agent to forward the home network's broadcast datagrams (B bit, RFC 5944
    /// sections 3.3 and 4.2.3).
    pub broadcast: bool,
    /// First retransmission timeout; doubled after each retransmission, up to the requested
    /// lifetime (RFC 5944 section 3.6.3; one hour at most).
    pub retransmit: Duration,
    /// Retransmissions before giving up ([`ClientEvent::Failed`]).
    pub max_retransmits: u32,
    /// Wall-clock time (since the Unix epoch) at the `now` given to [`MobileNodeClient::new`].
    pub wall_clock: Duration,
    /// Re-register automatically when half the granted lifetime has passed.
    pub auto_reregister: bool,
}

impl ClientConfig {
    /// A client registering `home_address` (0.0.0.0 with [`ClientConfig::nai`] set to have the
    /// home agent assign one) with the home agent at `home_agent` (the virtual HA address, UDP
    /// port 434) under the MN-HA security association `sa`, from `local` (its co-located care-of
    /// address and port). `wall_clock` is the time since the Unix epoch at the `now` later given
    /// to [`MobileNodeClient::new`]: identifications are timestamps (RFC 5944 section 5.7), so a
    /// wrong clock gets reply 133 until the client resynchronises.
    ///
    /// The rest, each a public field to change: no NAI, no foreign agent (`via: None`), lifetime
    /// 1,800 s, no simultaneous bindings, no broadcasts, first retransmission after 1 s, doubled after each of
    /// at most 4 retransmissions (the back-off of RFC 5944 section 3.6.3), automatic
    /// re-registration at half the granted lifetime.
    pub fn new(
        home_address: Ipv4Addr,
        sa: SecurityAssociation,
        home_agent: SocketAddr,
        local: SocketAddr,
        wall_clock: Duration,
    ) -> ClientConfig {
        ClientConfig {
            home_address,
            nai: None,
            sa,
            home_agent,
            local,
            via: None,
            lifetime: 1800,
            simultaneous: false,
            broadcast: false,
            retransmit: Duration::from_secs(1),
            max_retransmits: 4,
            wall_clock,
            auto_reregister: true,
        }
    }
}

/// Why the client refused a datagram. The names are the ones the Home Agent
/// ([`crate::mip::InputError`]) and the Foreign Agent ([`crate::mip::FaError`]) use; a
/// configuration is refused with [`ConfigError`], as for every Mobile IP role.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// Not a well-formed registration message.
    #[error(transparent)]
    Wire(#[from] WireError),
    /// A Registration Request: a mobile node takes only replies (RFC 5944 section 3.6).
    #[error("message from the wrong side")]
    WrongSide,
    /// A reply carrying an unrecognized extension of type 0-127: silently discarded (RFC 5944
    /// section 1.9).
    #[error("reply with unrecognized extension {0:?}")]
    UnrecognizedExtension(ExtensionType),
    /// A reply to no request in flight, or whose Identification does not match it (RFC 5944
    /// section 3.6.3).
    #[error("reply matches no request in flight")]
    UnmatchedReply,
    /// A reply with a missing or wrong MN-HA authenticator (RFC 5944 section 3.6.2.1).
    #[error("reply failed authentication")]
    UnauthenticatedReply,
    /// A Registration Revocation (RFC 3543) without the A bit, for another home address, with a
    /// missing or wrong MN-HA authenticator, or while revocation is not supported
    /// ([`MobileNodeClient::support_revocation`]): discarded, unacknowledged.
    #[error("revocation failed authentication")]
    UnauthenticatedRevocation,
    /// A Registration Revocation whose Revocation Identifier is below the last one taken
    /// (RFC 3543 section 3.3: identifiers only grow): discarded, unacknowledged.
    #[error("revocation identifier not fresh")]
    UnmatchedRevocation,
}

/// Counters of a [`MobileNodeClient`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientStats {
    /// Registration Requests sent, retransmissions included (RFC 5944 section 3.6.3).
    pub requests_sent: u64,
    /// Events dropped because 64 were queued (oldest dropped).
    pub events_dropped: u64,
    /// Requests dropped unsent because 16 were queued (oldest dropped).
    pub transmits_dropped: u64,
    /// Redirects followed (RFC 4433: 143 with an authenticated Redirected HA extension).
    pub redirects_followed: u64,
    /// Registration Revocations acknowledged, retransmissions included (RFC 3543).
    pub revocation_acks: u64,
}

/// What happened to the client's registration.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientEvent {
    /// Registration accepted.
    Registered {
        /// The home address (assigned, when asked).
        home_address: Ipv4Addr,
        /// Seconds granted.
        lifetime: u16,
        /// The reply code (0 or 1).
        code: ReplyCode,
    },
    /// Deregistration accepted.
    Deregistered,
    /// The home agent refused.
    Denied {
        /// Its code.
        code: ReplyCode,
    },
    /// No acceptable answer after every retransmission.
    Failed,
    /// The home agent revoked the registration (RFC 3543: a Registration Revocation sent to this
    /// co-located care-of address, MN-HA authenticated): it is no longer in force, and no
    /// re-registration is made automatically. Acknowledged.
    Revoked {
        /// The Revocation Identifier.
        revocation_id: u32,
    },
}

#[derive(Clone, Debug)]
struct Outstanding {
    identification: u64,
    lifetime: u16,
    tries: u32,
    /// Answers 133 taken so far for this registration (at most [`MAX_RESYNCS`]).
    resyncs: u32,
    /// A 133 came after the last resynchronisation: the registration ends Denied at `deadline`
    /// unless an acceptance of the same Identification comes first (the 133 may answer a network
    /// copy of a request the HA accepted, and overtake that acceptance).
    refused: bool,
    /// Redirects followed for this registration (at most [`MAX_REDIRECTS`]).
    redirects: u32,
    deadline: Instant,
    timeout: Duration,
}

/// Requests queued unsent at most (the oldest is dropped: a newer request supersedes it).
const MAX_QUEUED_REQUESTS: usize = 16;
/// Events queued at most (the oldest is dropped).
const MAX_QUEUED_EVENTS: usize = 64;

/// Answers 133 (identification mismatch) a registration may take, each followed by a
/// resynchronised request; the next one denies it at the request's retransmission deadline
/// unless an acceptance of the same Identification comes first.
const MAX_RESYNCS: u32 = 3;

/// Redirects (RFC 4433, reply 143) a registration follows at most; the next one denies it.
const MAX_REDIRECTS: u32 = 2;

/// A mobile node that registers through a (virtual) home agent: builds authenticated requests
/// with NTP-timestamp identifications, retransmits with backoff, resynchronises its clock on 133
/// (and asks again at once, up to three times per registration, apart from its retransmissions),
/// verifies replies. Call order as every endpoint: after `handle_*` or a command, drain
/// [`MobileNodeClient::poll_transmit`] and [`MobileNodeClient::poll_event`], then read
/// [`MobileNodeClient::poll_timeout`]. Bounded: one request in flight, at most 16 queued
/// transmits and 64 queued events (oldest dropped).
#[derive(Debug)]
pub struct MobileNodeClient {
    cfg: ClientConfig,
    start: Instant,
    clock_offset: i128,
    last_id: u64,
    out: Option<Outstanding>,
    home_address: Ipv4Addr,
    registered_until: Option<Instant>,
    reregister_at: Option<Instant>,
    transmits: Outbox<Transmit>,
    events: Outbox<ClientEvent>,
    /// The Home Agent field of the next request (RFC 4433: 0.0.0.0 or 255.255.255.255 until an
    /// HA is assigned) and where requests go (the Requested HA).
    ha_field: Ipv4Addr,
    ha_dst: SocketAddr,
    redirects_followed: u64,
    /// Registration revocation supported ([`MobileNodeClient::support_revocation`]): the MN-HA
    /// key prepared for revocations and their acknowledgements.
    revocation: Option<PreparedKey>,
    /// The last Revocation Identifier taken.
    last_revocation: Option<u32>,
    revocation_acks: u64,
    /// Requests sent, retransmissions included.
    requests_sent: u64,
}

impl MobileNodeClient {
    /// A client; nothing is sent before [`MobileNodeClient::register`].
    ///
    /// # Errors
    /// [`ConfigError::NoIdentity`]: a home address of 0.0.0.0 without an NAI (RFC 2794 section
    /// 2); [`ConfigError::OutOfRange`] naming [`ConfigField::Retransmit`]: a retransmission
    /// timeout of 0 or above one hour; [`ConfigError::KeyTooShort`] naming
    /// [`ConfigField::MobileNodeKey`]: an MN-HA key under 16 octets; [`ConfigError::OutOfRange`]
    /// naming [`ConfigField::Spi`]: an MN-HA SPI of 0-255, reserved (RFC 5944 section 1.6);
    /// [`ConfigError::UnusableAddress`] naming [`ConfigField::Via`] or, without `via`,
    /// [`ConfigField::HomeAgent`]: the destination of the requests at port 0 or 0.0.0.0. The
    /// configuration error type of every Mobile IP role, as
    /// [`HomeAgent::new`](crate::mip::HomeAgent::new) and
    /// [`ForeignAgent::new`](crate::mip::ForeignAgent::new) return it.
    pub fn new(cfg: ClientConfig, now: Instant) -> Result<Self, ConfigError> {
        if cfg.home_address.is_unspecified() && cfg.nai.as_ref().is_none_or(|n| n.is_empty()) {
            return Err(ConfigError::NoIdentity);
        }
        if cfg.retransmit.is_zero() || cfg.retransmit > MAX_TIMEOUT {
            return Err(ConfigError::OutOfRange(ConfigField::Retransmit));
        }
        super::home_agent::check_key(ConfigField::MobileNodeKey, &cfg.sa.key)?;
        super::home_agent::check_spi(cfg.sa.spi)?;
        match cfg.via {
            Some(fa) => super::home_agent::check_peer(ConfigField::Via, fa)?,
            None => super::home_agent::check_peer(ConfigField::HomeAgent, cfg.home_agent)?,
        }
        let ha_field = match cfg.home_agent {
            SocketAddr::V4(a) => *a.ip(),
            SocketAddr::V6(_) => Ipv4Addr::UNSPECIFIED,
        };
        Ok(MobileNodeClient {
            ha_dst: cfg.home_agent,
            home_address: cfg.home_address,
            cfg,
            start: now,
            clock_offset: 0,
            last_id: 0,
            out: None,
            registered_until: None,
            reregister_at: None,
            transmits: Outbox::new(MAX_QUEUED_REQUESTS, Overflow::DropOldest),
            events: Outbox::new(MAX_QUEUED_EVENTS, Overflow::DropOldest),
            ha_field,
            redirects_followed: 0,
            revocation: None,
            last_revocation: None,
            revocation_acks: 0,
            requests_sent: 0,
        })
    }

    /// Supports registration revocation (RFC 3543) with a co-located care-of address (`via:
    /// None`; through a foreign agent, revocation is the agents' business): the requests carry
    /// the Revocation Support extension before the MN-HA authenticator (which covers it), and a
    /// Registration Revocation from the home agent (A bit, this home address, MN-HA
    /// authenticated, an identifier not below the last one) ends the registration
    /// ([`ClientEvent::Revoked`]) and is acknowledged (MN-HA authenticated; a retransmission is
    /// acknowledged again and changes nothing).
    pub fn support_revocation(&mut self, on: bool) {
        self.revocation = on.then(|| self.cfg.sa.prepare());
    }

    /// The home address (the assigned one after registration).
    pub fn home_address(&self) -> Ipv4Addr {
        self.home_address
    }

    /// The Home Agent field the next request carries: the configured HA, 0.0.0.0 or
    /// 255.255.255.255 while asking for dynamic assignment, then the assigned HA.
    pub fn home_agent(&self) -> Ipv4Addr {
        self.ha_field
    }

    /// Asks for dynamic home agent assignment (RFC 4433 section 3): the next requests carry
    /// `all_zero_one` (0.0.0.0 or 255.255.255.255; any other address is taken as a fixed HA) in
    /// the Home Agent field and go to the configured home agent address (the Requested HA). A
    /// reply 143 with an authenticated Redirected HA extension sends the request again to the
    /// redirected HA (at most twice per registration); an acceptance names the assigned HA, which
    /// the following requests use as their Home Agent field and destination. Co-located care-of
    /// address only (`via: None`).
    pub fn request_dynamic_ha(&mut self, all_zero_one: Ipv4Addr) {
        self.ha_field = all_zero_one;
        self.ha_dst = self.cfg.home_agent;
    }

    /// Whether a registration is in force at `now`.
    pub fn is_registered(&self, now: Instant) -> bool {
        self.registered_until.is_some_and(|u| u > now)
    }

    /// Whether a request is in flight.
    pub fn is_pending(&self) -> bool {
        self.out.is_some()
    }

    /// Sends a registration request (replacing any in flight).
    pub fn register(&mut self, now: Instant) {
        let l = self.cfg.lifetime;
        self.start_request(now, l);
    }

    /// Sends a deregistration (lifetime 0).
    pub fn deregister(&mut self, now: Instant) {
        self.reregister_at = None;
        self.start_request(now, LIFETIME_DEREGISTER);
    }

    fn ntp_now(&self, now: Instant) -> u64 {
        let wall = self.cfg.wall_clock + now.saturating_duration_since(self.start);
        let t = i128::from(NtpTime::from_unix(wall).0) + self.clock_offset;
        t.clamp(0, i128::from(u64::MAX)) as u64
    }

    fn start_request(&mut self, now: Instant, lifetime: u16) {
        self.out = Some(Outstanding {
            identification: 0,
            lifetime,
            tries: 0,
            resyncs: 0,
            refused: false,
            redirects: 0,
            deadline: now,
            timeout: self.cfg.retransmit.min(timeout_cap(lifetime)),
        });
        self.send(now);
    }

    fn send(&mut self, now: Instant) {
        let id = self.ntp_now(now).max(self.last_id.wrapping_add(1));
        self.last_id = id;
        let Some(o) = self.out.as_mut() else { return };
        o.identification = id;
        o.deadline = now + o.timeout;
        let mut flags = if self.cfg.via.is_some() {
            0
        } else {
            RequestFlags::D
        };
        if self.cfg.simultaneous {
            flags |= RequestFlags::S;
        }
        if self.cfg.broadcast {
            flags |= RequestFlags::B;
        }
        let care_of = match self.cfg.via.unwrap_or(self.cfg.local) {
            SocketAddr::V4(a) => *a.ip(),
            SocketAddr::V6(_) => Ipv4Addr::UNSPECIFIED,
        };
        let home_agent = self.ha_field;
        let q = Request {
            flags: RequestFlags(flags),
            lifetime: o.lifetime,
            home_address: self.home_address,
            home_agent,
            care_of,
            identification: id,
        };
        let mut b = Builder::request(q);
        if let Some(n) = &self.cfg.nai {
            b = b.nai(n);
        }
        if self.revocation.is_some() && self.cfg.via.is_none() {
            // RFC 3543 section 3.2: covered by the MN-HA authenticator.
            b = b.extension(Extension::RevocationSupport {
                flags: 0,
                timestamp: 0,
            });
        }
        let bytes = b.mn_ha_auth(&self.cfg.sa).to_vec();
        let dst = self.cfg.via.unwrap_or(self.ha_dst);
        self.transmits.push(Transmit::to(dst, bytes));
        self.requests_sent += 1;
    }

    fn push_event(&mut self, e: ClientEvent) {
        self.events.push(e);
    }

    /// Feeds a datagram (a Registration Reply). A reply that carries an unrecognized extension
    /// of type 0-127, answers no request in flight or fails MN-HA authentication is discarded
    /// (RFC 5944 sections 1.9 and 3.6.2.1).
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        from: SocketAddr,
        to: SocketAddr,
        data: &[u8],
    ) -> Result<(), ClientError> {
        if data.first() == Some(&MessageType::REGISTRATION_REVOCATION.0) {
            return self.handle_revocation(from, to, data);
        }
        let m = Message::parse(data)?;
        let Header::Reply(p) = m.header else {
            return Err(ClientError::WrongSide);
        };
        // RFC 5944 section 1.9: a reply with an unrecognized extension of type 0-127 is silently
        // discarded.
        if let Some(t) = m.unknown_non_skippable() {
            return Err(ClientError::UnrecognizedExtension(t));
        }
        let Some(o) = self.out.clone() else {
            return Err(ClientError::UnmatchedReply);
        };
        if !replay::reply_matches(o.identification, p.identification) {
            return Err(ClientError::UnmatchedReply);
        }
        let idx = m
            .position(ExtensionType::MN_HA_AUTH)
            .ok_or(ClientError::UnauthenticatedReply)?;
        m.verify(data, idx, &self.cfg.sa)
            .map_err(|_| ClientError::UnauthenticatedReply)?;
        if p.code == ReplyCode::IDENTIFICATION_MISMATCH {
            // Resynchronise on the HA's clock (high 32 bits) and try again at once.
            let ha = i128::from(p.identification >> 32) << 32;
            let ours = i128::from(self.ntp_now(now) >> 32) << 32;
            self.clock_offset += ha - ours;
            // Identifications stay increasing on the HA's clock, not on the one just corrected:
            // when the HA is behind, the floor set by our own earlier requests would keep every
            // later request ahead of it, and refused with 133 again.
            self.last_id = p.identification;
            // A resynchronisation is not a retransmission: a 133 that answers a duplicate of an
            // accepted request (the network copied it) must not use up the last try. Bounded, so
            // an HA that keeps answering 133 ends the registration.
            // The last 133 is not final at once: RFC 5944 section 5.7 refuses a network copy of
            // an accepted request with 133 too, and its reply may overtake the acceptance of the
            // same Identification (section 3.6.2.1 matches both to this request). The request
            // stays in flight, without retransmission, until its deadline; then it is denied.
            if o.refused {
                return Ok(());
            }
            if let Some(x) = self.out.as_mut() {
                if o.resyncs < MAX_RESYNCS {
                    x.resyncs += 1;
                } else {
                    x.refused = true;
                }
            }
            if o.resyncs < MAX_RESYNCS {
                self.send(now);
            }
            return Ok(());
        }
        if p.code == ReplyCode::REDIRECTED_HA
            && let Some(target) = redirected_ha(&m, idx)
        {
            return self.follow_redirect(now, &o, target);
        }
        if p.code == ReplyCode::UNKNOWN_HA_ADDRESS && self.retry_at_named_ha(now, &o, &p) {
            return Ok(());
        }
        self.out = None;
        self.answered(now, &o, &p);
        Ok(())
    }

    /// A Registration Revocation from the home agent ([`MobileNodeClient::support_revocation`]).
    fn handle_revocation(
        &mut self,
        from: SocketAddr,
        to: SocketAddr,
        data: &[u8],
    ) -> Result<(), ClientError> {
        let rev = Revocation::parse(data)?;
        let Some(key) = &self.revocation else {
            return Err(ClientError::UnauthenticatedRevocation);
        };
        let spi = self.cfg.sa.spi;
        if !rev.flags.a()
            || rev.home_address != self.home_address
            || rev.verify_mn_ha(data, spi, key).is_err()
        {
            return Err(ClientError::UnauthenticatedRevocation);
        }
        let id = rev.revocation_id;
        if self.last_revocation.is_some_and(|l| id < l) {
            return Err(ClientError::UnmatchedRevocation);
        }
        if self.last_revocation != Some(id) {
            self.last_revocation = Some(id);
            self.registered_until = None;
            self.reregister_at = None;
            self.out = None;
            self.events.push(ClientEvent::Revoked { revocation_id: id });
        }
        // RFC 3543 section 3.4: the acknowledgement, I bit clear (no agent informs anyone).
        let mut bytes = RevocationAck {
            reserved: 0,
            flags: RevocationFlags(0),
            home_address: rev.home_address,
            revocation_id: id,
            extensions: Vec::new(),
        }
        .to_vec();
        append_auth_prepared(&mut bytes, ExtensionType::MN_HA_AUTH, spi, key);
        self.transmits.push(Transmit {
            dst: from,
            src: Some(to),
            link_dst: None,
            payload: bytes.into(),
        });
        self.revocation_acks += 1;
        Ok(())
    }

    /// A final answer to the request in flight: accepted (RFC 4433 section 3.2: the reply names
    /// the assigned HA, which later requests use) or denied.
    fn answered(&mut self, now: Instant, o: &Outstanding, p: &super::wire::Reply) {
        if p.code.is_accepted() {
            // RFC 4433 section 3.2: the reply names the assigned HA; later requests use it.
            if is_all_zero_one(self.ha_field) && !is_all_zero_one(p.home_agent) {
                self.ha_field = p.home_agent;
                self.ha_dst = SocketAddr::from((p.home_agent, PORT));
            }
            if o.lifetime == LIFETIME_DEREGISTER {
                self.registered_until = None;
                self.reregister_at = None;
                self.push_event(ClientEvent::Deregistered);
            } else {
                if !p.home_address.is_unspecified() {
                    self.home_address = p.home_address;
                }
                let life = Duration::from_secs(u64::from(p.lifetime));
                self.registered_until = Some(now + life);
                self.reregister_at =
                    (self.cfg.auto_reregister && p.lifetime > 0).then(|| now + life / 2);
                self.push_event(ClientEvent::Registered {
                    home_address: self.home_address,
                    lifetime: p.lifetime,
                    code: p.code,
                });
            }
        } else {
            self.push_event(ClientEvent::Denied { code: p.code });
        }
    }

    /// RFC 4433 section 3.4: a 143 sends the request again, to the redirected HA, the Home
    /// Agent field still the ALL-ZERO-ONE-ADDR; beyond [`MAX_REDIRECTS`] the registration is
    /// denied with 143.
    fn follow_redirect(
        &mut self,
        now: Instant,
        o: &Outstanding,
        target: Ipv4Addr,
    ) -> Result<(), ClientError> {
        if o.redirects >= MAX_REDIRECTS || !is_all_zero_one(self.ha_field) {
            self.out = None;
            self.push_event(ClientEvent::Denied {
                code: ReplyCode::REDIRECTED_HA,
            });
            return Ok(());
        }
        self.resend_to(now, target);
        Ok(())
    }

    /// Sends the outstanding request again, to `ha` on port 434, as a new first try (one more
    /// redirect followed).
    fn resend_to(&mut self, now: Instant, ha: Ipv4Addr) {
        self.ha_dst = SocketAddr::from((ha, PORT));
        self.redirects_followed += 1;
        if let Some(x) = self.out.as_mut() {
            x.redirects += 1;
            x.tries = 0;
            x.timeout = self.cfg.retransmit.min(timeout_cap(x.lifetime));
        }
        self.send(now);
    }

    /// RFC 5944 sections 3.6.1.2 and 3.6.2.3 (dynamic home agent address resolution; code
    /// 136, section 3.4): a home agent refuses a request whose Home Agent field is not its
    /// address (the home network's subnet-directed broadcast address, or a stale one) with 136
    /// and its own unicast address in the reply's Home Agent field; the mobile node sends its
    /// next request there.
    /// Only an authenticated reply (the caller checked the MN-HA authenticator) gets here, so an
    /// unauthenticated 136 redirects nothing. Followed when the named address is a unicast one
    /// other than the one just asked, at most [`MAX_REDIRECTS`] times per registration, and not
    /// while asking for dynamic assignment (RFC 4433: 0.0.0.0 or 255.255.255.255, where the
    /// 136 is the denial). Returns whether the request was sent again.
    fn retry_at_named_ha(&mut self, now: Instant, o: &Outstanding, p: &super::wire::Reply) -> bool {
        let named = p.home_agent;
        let unicast = !(named.is_unspecified()
            || named.is_broadcast()
            || named.is_multicast()
            || named.is_loopback());
        if !unicast
            || named == self.ha_field
            || is_all_zero_one(self.ha_field)
            || o.redirects >= MAX_REDIRECTS
        {
            return false;
        }
        self.ha_field = named;
        self.resend_to(now, named);
        true
    }

    /// Retransmits or re-registers when due.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(o) = self.out.clone()
            && o.deadline <= now
        {
            if o.refused {
                self.out = None;
                self.push_event(ClientEvent::Denied {
                    code: ReplyCode::IDENTIFICATION_MISMATCH,
                });
            } else if o.tries >= self.cfg.max_retransmits {
                self.out = None;
                self.push_event(ClientEvent::Failed);
            } else {
                if let Some(x) = self.out.as_mut() {
                    x.tries += 1;
                    x.timeout = x.timeout.saturating_mul(2).min(timeout_cap(x.lifetime));
                }
                self.send(now);
            }
        }
        if self.out.is_none()
            && let Some(r) = self.reregister_at
            && r <= now
        {
            self.reregister_at = None;
            self.register(now);
        }
    }

    /// The counters so far.
    pub fn stats(&self) -> ClientStats {
        ClientStats {
            requests_sent: self.requests_sent,
            events_dropped: self.events.dropped(),
            transmits_dropped: self.transmits.dropped(),
            redirects_followed: self.redirects_followed,
            revocation_acks: self.revocation_acks,
        }
    }

    /// The next datagram to send.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop()
    }

    /// The next event.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<ClientEvent> {
        self.events.pop()
    }

    /// The next deadline.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        let a = self.out.as_ref().map(|o| o.deadline);
        let b = if self.out.is_none() {
            self.reregister_at
        } else {
            None
        };
        match (a, b) {
            (Some(x), Some(y)) => Some(x.min(y)),
            (x, y) => x.or(y),
        }
    }
}

fn is_all_zero_one(a: Ipv4Addr) -> bool {
    a.is_unspecified() || a.is_broadcast()
}

/// The Redirected HA extension (RFC 4433 section 4.2) of a reply, if the MN-HA authenticator at
/// `auth_index` covers it (it comes before).
fn redirected_ha(m: &Message<'_>, auth_index: usize) -> Option<Ipv4Addr> {
    m.extensions[..auth_index].iter().find_map(|e| match e {
        Extension::DynamicHa {
            subtype: DYNAMIC_HA_REDIRECTED,
            home_agent,
        } if !is_all_zero_one(*home_agent) => Some(*home_agent),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mip::wire::Extension;
    use crate::mip::wire::Reply;
    use crate::mip::wire::auth::AuthAlgorithm;
    use std::borrow::Cow;

    fn ha() -> SocketAddr {
        SocketAddr::from(([192, 0, 2, 1], 434))
    }

    fn me() -> SocketAddr {
        SocketAddr::from(([198, 51, 100, 9], 434))
    }

    fn config() -> ClientConfig {
        ClientConfig {
            lifetime: 600,
            max_retransmits: 3,
            auto_reregister: false,
            ..ClientConfig::new(
                Ipv4Addr::new(10, 0, 1, 1),
                SecurityAssociation::new(
                    1000,
                    AuthAlgorithm::HmacMd5,
                    b"mobile node key 1".to_vec(),
                ),
                ha(),
                me(),
                Duration::from_secs(1_700_000_000),
            )
        }
    }

    #[test]
    fn the_constructors_defaults_make_a_working_client() {
        let t0 = Instant::now();
        let cfg = ClientConfig::new(
            Ipv4Addr::new(10, 0, 1, 1),
            SecurityAssociation::new(1000, AuthAlgorithm::HmacMd5, b"mobile node key 1".to_vec()),
            ha(),
            me(),
            Duration::from_secs(1_700_000_000),
        );
        let Ok(mut mn) = MobileNodeClient::new(cfg, t0) else {
            panic!("the defaults are a valid config");
        };
        mn.register(t0);
        let Some(t) = mn.poll_transmit() else {
            panic!("no request sent");
        };
        assert_eq!(t.dst, ha());
        let Ok(m) = crate::mip::wire::Message::parse(&t.payload) else {
            panic!("not a registration message");
        };
        let crate::mip::wire::Header::Request(rq) = m.header else {
            panic!("not a Registration Request");
        };
        assert_eq!(rq.lifetime, 1800);
        // Co-located care-of address (RFC 5944 3.3): the D bit set, the care-of address our own.
        assert!(rq.flags.has(crate::mip::wire::RequestFlags::D));
        assert_eq!(rq.care_of, Ipv4Addr::new(198, 51, 100, 9));
    }

    /// A client with one Registration Request sent; its identification.
    fn registered(t0: Instant) -> (MobileNodeClient, u64) {
        let Ok(mut mn) = MobileNodeClient::new(config(), t0) else {
            panic!("valid config");
        };
        mn.register(t0);
        let Some(t) = mn.poll_transmit() else {
            panic!("no request sent");
        };
        let Ok(m) = Message::parse(&t.payload) else {
            panic!("request does not parse");
        };
        let Header::Request(q) = m.header else {
            panic!("not a request");
        };
        (mn, q.identification)
    }

    /// An accepting reply to `identification`, carrying `extra` before the MN-HA authenticator.
    fn reply(identification: u64, extra: Option<Extension<'static>>) -> Vec<u8> {
        let sa = config().sa;
        let mut b = Builder::reply(Reply {
            home_address: Ipv4Addr::new(10, 0, 1, 1),
            lifetime: 600,
            identification,
            ..Reply::default()
        });
        if let Some(e) = extra {
            b = b.extension(e);
        }
        b.mn_ha_auth(&sa).to_vec()
    }

    #[test]
    fn configuration_out_of_range_is_named_by_field() {
        let t0 = Instant::now();
        for bad in [Duration::ZERO, Duration::from_secs(3601)] {
            let mut c = config();
            c.retransmit = bad;
            assert_eq!(
                MobileNodeClient::new(c, t0).err(),
                Some(ConfigError::OutOfRange(ConfigField::Retransmit))
            );
        }
    }

    /// RFC 5944 section 5.1: the default algorithm is HMAC-MD5 with a key size of 128 bits: an
    /// MN-HA key under 16 octets is refused, naming the field; 16 octets pass.
    #[test]
    fn an_mn_ha_key_under_128_bits_is_refused() {
        let t0 = Instant::now();
        let mut c = config();
        c.sa.key = vec![5; 15];
        assert_eq!(
            MobileNodeClient::new(c, t0).err(),
            Some(ConfigError::KeyTooShort {
                field: ConfigField::MobileNodeKey,
                octets: 15,
                min: 16
            })
        );
        let mut c = config();
        c.sa.key = vec![5; 16];
        assert!(MobileNodeClient::new(c, t0).is_ok());
    }

    #[test]
    fn a_request_comes_from_the_wrong_side() {
        // RFC 5944 3.6: a mobile node sends Registration Requests and takes Replies.
        let t0 = Instant::now();
        let (mut mn, id) = registered(t0);
        let q = Builder::request(Request {
            identification: id,
            ..Request::default()
        })
        .to_vec();
        assert_eq!(
            mn.handle_datagram(t0, ha(), me(), &q),
            Err(ClientError::WrongSide)
        );
    }

    #[test]
    fn a_reply_with_an_unrecognized_extension_is_silently_discarded() {
        // RFC 5944 1.9: an unrecognized extension of type 0-127 in a Registration Reply: the
        // mobile node silently discards the reply.
        let t0 = Instant::now();
        let (mut mn, id) = registered(t0);
        let ext = ExtensionType(99);
        let r = reply(
            id,
            Some(Extension::Other {
                ext_type: ext,
                data: Cow::Borrowed(&[0, 0]),
            }),
        );
        assert_eq!(
            mn.handle_datagram(t0, ha(), me(), &r),
            Err(ClientError::UnrecognizedExtension(ext))
        );
        assert_eq!(mn.poll_event(), None);
        // The same reply without it registers.
        assert_eq!(mn.handle_datagram(t0, ha(), me(), &reply(id, None)), Ok(()));
        assert!(matches!(
            mn.poll_event(),
            Some(ClientEvent::Registered { .. })
        ));
    }

    #[test]
    fn a_reply_to_no_request_or_unauthenticated_is_refused() {
        // RFC 5944 3.6.3: the reply's Identification must match the request's (the low-order
        // 32 bits for timestamps); 3.6.2.1: the MN-HA authenticator must verify.
        let t0 = Instant::now();
        let (mut mn, id) = registered(t0);
        assert_eq!(
            mn.handle_datagram(t0, ha(), me(), &reply(id ^ 1, None)),
            Err(ClientError::UnmatchedReply)
        );
        let mut r = reply(id, None);
        let last = r.len() - 1;
        r[last] ^= 0xff;
        assert_eq!(
            mn.handle_datagram(t0, ha(), me(), &r),
            Err(ClientError::UnauthenticatedReply)
        );
        assert_eq!(mn.poll_event(), None);
    }
}
