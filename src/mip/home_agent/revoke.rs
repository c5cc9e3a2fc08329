//! Registration revocation (RFC 3543), home agent side: the Revocation Support extension
//! negotiated at registration, the Registration Revocation this HA sends (command
//! [`HomeAgent::revoke`]) and retransmits until acknowledged, and the Revocation a foreign agent
//! sends.
//!
//! Negotiation (RFC 3543 sections 3.1, 3.2): a foreign agent that has an FA-HA security
//! association with this HA puts the Revocation Support extension in the request it relays
//! (before its FA-HA authentication extension, which covers it); when
//! [`HomeAgentConfig::revocation`] is on, the HA that serves the request records the binding as
//! revocable and answers with the extension too (after the MN-HA authentication extension,
//! before FA-HA), the I bit set when the foreign agent set it (both agree the mobile node is to
//! be informed). Its timestamp is this HA's revocation timestamp: every later Revocation
//! Identifier is greater.

use super::register::Asked;
use super::takeover::MnKey;
use super::tunnel::Report;
use super::*;
use crate::io::TimerQueue;
use crate::mip::binding::TunnelParams;
use crate::mip::wire::{
    REVOCATION_I_BIT, RequestFlags, Revocation, RevocationAck, RevocationFlags,
};

/// What [`HomeAgent::revoke`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Revoked {
    /// The binding was removed and a Registration Revocation sent to its foreign agent; it is
    /// retransmitted until acknowledged ([`Event::RevocationAcknowledged`]) or given up
    /// ([`Event::RevocationUnacknowledged`]).
    Sent {
        /// Its Revocation Identifier.
        revocation_id: u32,
    },
    /// The binding was removed; revocation was not negotiated for it (no foreign agent, or one
    /// without revocation support or an FA-HA association), so nothing is sent.
    Removed,
    /// The binding was removed, but [`HomeAgentConfig::max_revocations`] revocations await
    /// acknowledgement: none is sent ([`HaStats::revocations_saturated`]).
    Saturated,
    /// Another HA serves the binding: only the serving HA removes it (replication's authority
    /// rule); call `revoke` there.
    NotServed {
        /// The serving HA.
        server: NodeId,
    },
    /// No binding for that mobile node.
    Unknown,
}

/// Revocation negotiated for a binding: its foreign agent, whether the mobile node is to be
/// informed (the I bit both sides set).
#[derive(Clone, Copy, Debug)]
struct Negotiated {
    fa: SocketAddrV4,
    inform: bool,
}

/// A Registration Revocation awaiting its acknowledgement.
#[derive(Clone, Debug)]
struct Outstanding {
    home_address: Ipv4Addr,
    /// Sent to a mobile node with a co-located care-of address: the MN-HA association
    /// (SPI, key) that authenticates it and its acknowledgement. `None`: to a foreign agent.
    mn_ha: Option<(u32, PreparedKey)>,
    src: SocketAddr,
    dst: SocketAddr,
    bytes: Vec<u8>,
    retransmits: u32,
    rto: Duration,
}

/// The revocation state of one HA: bounded by [`HomeAgentConfig::max_bindings`] (negotiated
/// bindings) and [`HomeAgentConfig::max_revocations`] (outstanding revocations).
#[derive(Debug)]
pub(super) struct Revocations {
    on: bool,
    negotiated: HashMap<Ipv4Addr, Negotiated, Hasher>,
    max_negotiated: usize,
    outstanding: HashMap<(Ipv4Addr, u32), Outstanding, Hasher>,
    timers: TimerQueue<(Ipv4Addr, u32)>,
    max_outstanding: usize,
    rto: Duration,
    max_retransmits: u32,
    /// The last Revocation Identifier used (strictly increasing).
    last_id: u32,
    /// Per foreign agent, the last Revocation Identifier taken from it (replay protection).
    from_fa: HashMap<Ipv4Addr, u32, Hasher>,
    /// [`HomeAgentConfig::takeover_revocation_grace`].
    grace: Duration,
    /// Takeover revocations waiting out the grace: the binding and the member it was taken over
    /// from. At most `max_negotiated` (`max_bindings`).
    graced: HashMap<MnKey, NodeId, Hasher>,
    grace_timers: TimerQueue<MnKey>,
}

impl Revocations {
    pub(super) fn new(cfg: &HomeAgentConfig, hasher: &Hasher) -> Revocations {
        Revocations {
            on: cfg.revocation,
            negotiated: HashMap::with_hasher(hasher.clone()),
            max_negotiated: cfg.max_bindings,
            outstanding: HashMap::with_hasher(hasher.clone()),
            timers: TimerQueue::new(),
            max_outstanding: cfg.max_revocations,
            rto: cfg.revocation_rto,
            max_retransmits: cfg.revocation_retransmits,
            last_id: 0,
            from_fa: HashMap::with_hasher(hasher.clone()),
            grace: cfg.takeover_revocation_grace,
            graced: HashMap::with_hasher(hasher.clone()),
            grace_timers: TimerQueue::new(),
        }
    }

    pub(super) fn next_deadline(&self) -> Option<Instant> {
        let (a, b) = (
            self.timers.next_deadline(),
            self.grace_timers.next_deadline(),
        );
        a.into_iter().chain(b).min()
    }

    /// What a replica of the binding of `home` says of its revocation ([`Record::revocation`]).
    pub(super) fn negotiated_for(&self, home: Ipv4Addr) -> Option<bool> {
        self.negotiated.get(&home).map(|n| n.inform)
    }

    /// Holds what a replica says of revocation for a binding another member serves, so that a
    /// takeover revokes it as negotiated; bounded like the HA's own entries (when full, not held:
    /// a takeover then removes the binding without a revocation message).
    pub(super) fn hold_replicated(&mut self, home: Ipv4Addr, fa: SocketAddrV4, r: Option<bool>) {
        match r {
            None => {
                self.negotiated.remove(&home);
            }
            Some(inform) => {
                if self.negotiated.len() < self.max_negotiated
                    || self.negotiated.contains_key(&home)
                {
                    self.negotiated.insert(home, Negotiated { fa, inform });
                }
            }
        }
    }
}

impl HomeAgent {
    /// This HA's own address (port 434).
    fn own_sock(&self) -> SocketAddr {
        let own = self.own_ip;
        SocketAddr::V4(SocketAddrV4::new(own.unwrap_or(self.vip), PORT))
    }

    /// This HA's revocation timestamp at `now` (NTP seconds), never below the last identifier
    /// used: the value of the Revocation Support extension and of the next identifier.
    fn revocation_timestamp(&self, now: Instant) -> u32 {
        let t = (self.ntp_now(now).0 >> 32) as u32;
        t.max(self.revocations.last_id)
    }

    /// RFC 3543 section 3.2: the foreign agent's Revocation Support extension, when revocation is
    /// on and the request's FA-HA authenticator (already checked) covers it. `Some(i)`: offered,
    /// with the I bit `i`. A mobile node with a co-located care-of address (D bit, no foreign
    /// agent with an association in between) offers it in its own request, covered by its MN-HA
    /// authenticator (already checked): `Some(false)` (the I bit asks a foreign agent to inform
    /// the mobile node; a co-located one is told directly).
    pub(super) fn revocation_offer(&self, from: SocketAddr, data: &[u8]) -> Option<bool> {
        if !self.revocations.on {
            return None;
        }
        let m = Message::parse(data).ok()?;
        let (covered, colocated) = if self.fa_sas.contains_key(&v4(from)) {
            (m.position(ExtensionType::FA_HA_AUTH)?, false)
        } else {
            let Header::Request(q) = m.header else {
                return None;
            };
            if !q.flags.has(RequestFlags::D) {
                return None;
            }
            (m.position(ExtensionType::MN_HA_AUTH)?, true)
        };
        m.extensions[..covered].iter().find_map(|e| match e {
            Extension::RevocationSupport { flags, .. } => {
                Some(!colocated && flags & REVOCATION_I_BIT != 0)
            }
            _ => None,
        })
    }

    /// The Revocation Support extension of an accepting reply (RFC 3543 section 3.2), recording
    /// the binding as revocable; `None` when not negotiated, or when `max_bindings` bindings
    /// are already recorded (then counted in [`HaStats::revocations_saturated`]).
    pub(super) fn revocation_accept(
        &mut self,
        a: &Asked<'_>,
        home: Ipv4Addr,
    ) -> Option<Extension<'static>> {
        let inform = a.revocation?;
        let r = &mut self.revocations;
        if r.negotiated.len() >= r.max_negotiated && !r.negotiated.contains_key(&home) {
            // Entries of bindings gone are dropped before refusing.
            let table = &self.table;
            r.negotiated.retain(|h, _| table.find(*h, None).is_some());
            if r.negotiated.len() >= r.max_negotiated {
                self.stats.revocations_saturated += 1;
                return None;
            }
        }
        let fa = sock4(a.from);
        let before = r.negotiated.insert(home, Negotiated { fa, inform });
        // The binding was replicated before its reply was built: its backups learn of the
        // negotiation now (a takeover revokes as negotiated, `revoke_unservable`).
        if before.is_none_or(|b| b.fa != fa || b.inform != inform)
            && let Some(s) = self.table.find(home, None)
        {
            self.replicate_slot(s, a.now);
        }
        let flags = if inform { REVOCATION_I_BIT } else { 0 };
        Some(Extension::RevocationSupport {
            flags,
            timestamp: self.revocation_timestamp(a.now),
        })
    }

    /// Revokes a mobile node's binding (RFC 3543 section 4.1), administratively or on AAA's
    /// request: the serving HA removes it ([`Event::RegistrationRevoked`], replicated removal)
    /// and, when revocation was negotiated at registration, sends a Registration Revocation
    /// (A bit; I bit when both agents agreed to inform the mobile node and `inform` asks it;
    /// home domain address the virtual address) to the foreign agent, from this HA's own
    /// address (where the acknowledgement must come back), authenticated FA-HA, retransmitted every
    /// [`HomeAgentConfig::revocation_rto`] (doubling) up to
    /// [`HomeAgentConfig::revocation_retransmits`] times until acknowledged.
    pub fn revoke(&mut self, now: Instant, mn: &MnId, inform: bool) -> Revoked {
        let slot = match mn {
            MnId::Home(h) => self.table.find(*h, None),
            MnId::Nai(n) => self.table.find(Ipv4Addr::UNSPECIFIED, Some(n)),
        };
        let Some(b) = slot.and_then(|s| self.table.get(s)) else {
            return Revoked::Unknown;
        };
        if b.second_ha != self.node {
            return Revoked::NotServed {
                server: b.second_ha,
            };
        }
        self.at = now;
        self.report_tunnels(Report::Moved);
        let Some(b) = slot.and_then(|s| self.table.remove(s)) else {
            return Revoked::Unknown;
        };
        self.pool.release(&b.home_address);
        self.remove_served(now, &b, removed::lifetime_end(&b));
        self.update_load();
        let out = self.send_revocation(now, b.home_address, b.nai(), inform);
        let fa = matches!(out, Revoked::Sent { .. }).then(|| *b.fa.ip());
        self.report_revoked(&b, fa, false);
        self.pump(now);
        out
    }

    /// Whether the binding in `s` is this HA's to serve but its tunnel is not offered here
    /// ([`TunnelConfig::serves`]).
    fn unservable(&self, s: u32) -> bool {
        self.table.get(s).is_some_and(|b| {
            let params = b.tunnel_params().copied();
            b.second_ha == self.node
                && !self
                    .tunnels
                    .serves(&params.unwrap_or(TunnelParams::plain(self.vip)))
        })
    }

    /// A takeover from `failed` made this HA serve the bindings in `slots`: those it cannot
    /// serve are revoked ([`HomeAgent::revoke_unservable`]) once
    /// [`HomeAgentConfig::takeover_revocation_grace`] has passed with `failed` still not seen
    /// Up, so that a false Down (a live member cut off for a few heartbeats under loss) does not
    /// revoke that member's bindings (the split-brain rules of the module docs hand them back
    /// when it is seen again). Without a grace, or with `max_bindings` already waiting, at once.
    pub(super) fn revoke_unservable_after_grace(
        &mut self,
        now: Instant,
        slots: &[u32],
        failed: NodeId,
    ) {
        let mut now_slots = Vec::new();
        for &s in slots {
            if !self.unservable(s) {
                continue;
            }
            let Some(b) = self.table.get(s) else {
                continue;
            };
            let key = (b.home_address, b.nai().map(Box::from));
            let r = &mut self.revocations;
            if r.grace.is_zero() {
                now_slots.push(s);
            } else if r.graced.len() >= r.max_negotiated && !r.graced.contains_key(&key) {
                self.stats.takeover_grace_full += 1;
                now_slots.push(s);
            } else {
                if r.graced.insert(key.clone(), failed).is_none() {
                    self.stats.takeover_graced += 1;
                }
                r.grace_timers.arm(key, now + r.grace);
            }
        }
        if !now_slots.is_empty() {
            self.revoke_unservable(now, &now_slots);
        }
    }

    /// Takeover revocations whose grace ended: revoked when the member they were taken over
    /// from is still not Up and this HA still serves them and cannot; otherwise cancelled.
    pub(super) fn grace_timeouts(&mut self, now: Instant) {
        while let Some((key, _)) = self.revocations.grace_timers.pop_expired(now) {
            let Some(failed) = self.revocations.graced.remove(&key) else {
                continue;
            };
            let down = effects::state_of(&self.monitor, self.node, failed) == NodeState::Down;
            let slot = self.table.find(key.0, key.1.as_deref());
            match slot {
                Some(s) if down && self.unservable(s) => {
                    self.revoke_unservable(now, &[s]);
                }
                _ => self.stats.takeover_grace_cancelled += 1,
            }
        }
    }

    /// `node` is seen Up again with its state (health): the takeover revocations of what was
    /// taken over from it are cancelled (it was not down: its bindings go back to it).
    pub(super) fn cancel_graced(&mut self, node: NodeId) {
        let r = &mut self.revocations;
        let before = r.graced.len();
        let timers = &mut r.grace_timers;
        r.graced.retain(|k, f| {
            let keep = *f != node;
            if !keep {
                timers.disarm(k);
            }
            keep
        });
        self.stats.takeover_grace_cancelled += (before - r.graced.len()) as u64;
    }

    /// `node` restarted: its state is gone and the takeover stands, so what waits to be revoked
    /// of what was taken over from it is revoked now.
    pub(super) fn revoke_graced_now(&mut self, now: Instant, node: NodeId) {
        let r = &mut self.revocations;
        let keys: Vec<MnKey> = r
            .graced
            .iter()
            .filter(|(_, f)| **f == node)
            .map(|(k, _)| k.clone())
            .collect();
        let mut slots = Vec::new();
        for k in keys {
            self.revocations.graced.remove(&k);
            self.revocations.grace_timers.disarm(&k);
            match self.table.find(k.0, k.1.as_deref()) {
                Some(s) if self.unservable(s) => slots.push(s),
                _ => self.stats.takeover_grace_cancelled += 1,
            }
        }
        if !slots.is_empty() {
            self.revoke_unservable(now, &slots);
        }
    }

    /// RFC 3543 section 4.1 on takeover: of the bindings in `slots`, now this HA's to serve,
    /// those whose tunnel it does not offer ([`TunnelConfig::serves`]) are revoked as
    /// [`HomeAgent::revoke`] does (removed everywhere, a Registration Revocation to the foreign
    /// agent when it was negotiated, with the I bit when both agents agreed on it, retransmitted
    /// until acknowledged; [`Event::RegistrationRevoked`]) instead of being served, or dropped
    /// silently. Counted in [`HaStats::takeover_revoked`]. Returns how many were revoked.
    pub(super) fn revoke_unservable(&mut self, now: Instant, slots: &[u32]) -> usize {
        let mut n = 0;
        self.report_tunnels(Report::Moved);
        for &s in slots {
            if !self.unservable(s) {
                continue;
            }
            let Some(b) = self.table.remove(s) else {
                continue;
            };
            n += 1;
            self.stats.takeover_revoked += 1;
            self.remove_served(now, &b, removed::lifetime_end(&b));
            let out = self.send_revocation(now, b.home_address, b.nai(), true);
            let fa = matches!(out, Revoked::Sent { .. }).then(|| *b.fa.ip());
            self.report_revoked(&b, fa, false);
        }
        if n > 0 {
            self.update_load();
            self.pump(now);
        }
        n
    }

    /// [`Event::RegistrationRevoked`] for the revoked binding `b`, just removed: one per tunnel
    /// the table reports removed with it (those this HA served), or one without a tunnel when
    /// it served none (no care-of address granted, or a tunnel it does not offer).
    fn report_revoked(&mut self, b: &Binding, foreign_agent: Option<Ipv4Addr>, by_fa: bool) {
        let how = Report::Revoked {
            foreign_agent,
            by_foreign_agent: by_fa,
        };
        if self.report_tunnels(how).removed == 0 {
            self.push_event(Event::RegistrationRevoked {
                home_address: b.home_address,
                tunnel: None,
                foreign_agent,
                by_foreign_agent: by_fa,
            });
        }
    }

    /// The Registration Revocation for `home`, if negotiated (RFC 3543 section 3.3): to the
    /// foreign agent, FA-HA authenticated; to a mobile node with a co-located care-of address
    /// (negotiated in its own request: no foreign agent with an association), at the address
    /// and port it registered from, MN-HA authenticated under its association, the foreign
    /// domain address its care-of address and the I bit clear.
    fn send_revocation(
        &mut self,
        now: Instant,
        home: Ipv4Addr,
        nai: Option<&[u8]>,
        inform: bool,
    ) -> Revoked {
        let Some(n) = self.revocations.negotiated.remove(&home) else {
            return Revoked::Removed;
        };
        let fa_ip = *n.fa.ip();
        let (kind, spi, key, dst, mn_ha) = if let Some(sa) = self.fa_sas.get(&fa_ip) {
            let dst = SocketAddr::V4(SocketAddrV4::new(fa_ip, PORT));
            (ExtensionType::FA_HA_AUTH, sa.spi, sa.key.clone(), dst, None)
        } else if let Some(sa) = self.lookup_sa(home, nai) {
            let (spi, key) = (sa.spi, sa.key.clone());
            let mn = Some((spi, key.clone()));
            (
                ExtensionType::MN_HA_AUTH,
                spi,
                key,
                SocketAddr::V4(n.fa),
                mn,
            )
        } else {
            return Revoked::Removed;
        };
        if self.revocations.outstanding.len() >= self.revocations.max_outstanding {
            self.stats.revocations_saturated += 1;
            return Revoked::Saturated;
        }
        let id = self.revocation_timestamp(now).wrapping_add(1).max(1);
        self.revocations.last_id = id;
        let mut flags = RevocationFlags::A;
        if n.inform && inform && mn_ha.is_none() {
            flags |= RevocationFlags::I;
        }
        let mut bytes = Revocation {
            reserved: 0,
            flags: RevocationFlags(flags),
            home_address: home,
            home_domain: self.vip,
            foreign_domain: fa_ip,
            revocation_id: id,
            extensions: Vec::new(),
        }
        .to_vec();
        append_auth_prepared(&mut bytes, kind, spi, &key);
        // From this HA's own address: the acknowledgement must come back here, where the
        // revocation is outstanding, not to whichever member the virtual address reaches.
        let src = self.own_sock();
        let rto = self.revocations.rto;
        self.revocations.timers.arm((fa_ip, id), now + rto);
        self.revocations.outstanding.insert(
            (fa_ip, id),
            Outstanding {
                home_address: home,
                mn_ha,
                src,
                dst,
                bytes: bytes.clone(),
                retransmits: 0,
                rto,
            },
        );
        self.stats.revocations_sent += 1;
        self.push_transmit(Transmit {
            dst,
            src: Some(src),
            link_dst: None,
            payload: bytes.into(),
        });
        Revoked::Sent { revocation_id: id }
    }

    /// Retransmits the revocations whose acknowledgement is overdue; gives up after
    /// [`HomeAgentConfig::revocation_retransmits`] ([`Event::RevocationUnacknowledged`]).
    pub(super) fn revocation_timeouts(&mut self, now: Instant) {
        while let Some((key, _)) = self.revocations.timers.pop_expired(now) {
            let Some(o) = self.revocations.outstanding.get_mut(&key) else {
                continue;
            };
            if o.retransmits >= self.revocations.max_retransmits {
                let home_address = o.home_address;
                self.revocations.outstanding.remove(&key);
                self.stats.revocations_abandoned += 1;
                self.push_event(Event::RevocationUnacknowledged {
                    home_address,
                    foreign_agent: key.0,
                });
                continue;
            }
            o.retransmits += 1;
            o.rto = o.rto.saturating_mul(2);
            let t = Transmit {
                dst: o.dst,
                src: Some(o.src),
                link_dst: None,
                payload: o.bytes.clone().into(),
            };
            self.revocations.timers.arm(key, now + o.rto);
            self.stats.revocation_retransmits += 1;
            self.push_transmit(t);
        }
    }

    /// A Registration Revocation Acknowledgement (RFC 3543 section 3.4) from a foreign agent (or
    /// a mobile node with a co-located care-of address): it must answer an outstanding
    /// revocation to that address and carry a valid FA-HA (MN-HA) authenticator; then the
    /// revocation is done.
    pub(super) fn handle_revocation_ack(
        &mut self,
        from: SocketAddr,
        data: &[u8],
    ) -> Result<(), InputError> {
        let ack = RevocationAck::parse(data)?;
        let key = (v4(from), ack.revocation_id);
        let Some(o) = self.revocations.outstanding.get(&key) else {
            self.stats.revocation_refused += 1;
            return Err(InputError::UnmatchedRevocation);
        };
        let verified = match &o.mn_ha {
            Some((spi, k)) => ack.verify_mn_ha(data, *spi, k).is_ok(),
            None => self
                .fa_sas
                .get(&key.0)
                .is_some_and(|sa| ack.verify_fa_ha(data, sa.spi, &sa.key).is_ok()),
        };
        let ok = verified && o.home_address == ack.home_address;
        if !ok {
            self.stats.revocation_refused += 1;
            return Err(InputError::UnauthenticatedRevocation);
        }
        let home_address = o.home_address;
        self.revocations.outstanding.remove(&key);
        self.revocations.timers.disarm(&key);
        self.stats.revocations_acked += 1;
        self.push_event(Event::RevocationAcknowledged {
            home_address,
            foreign_agent: key.0,
            mn_informed: ack.flags.0 & RevocationFlags::ACK_I != 0,
        });
        Ok(())
    }

    /// A Registration Revocation from a foreign agent (RFC 3543 section 4.2, A bit clear): with
    /// a valid FA-HA authenticator and an identifier above the last one from that agent, the
    /// binding through that agent is removed; a repeated identifier (the acknowledgement was
    /// lost) is acknowledged again and changes nothing. Acknowledged with FA-HA, from the virtual
    /// address. Sent to the virtual address, it may reach any member: one that holds the binding
    /// as a replica of another member's forwards it unchanged over the cluster link to the
    /// serving member ([`Body::Forward`], [`HaStats::revocations_forwarded`]) and does not
    /// acknowledge it, so the serving member alone removes the binding (replicated to the
    /// backups) and acknowledges; the foreign agent's retransmission covers a lost forward. A
    /// forwarded copy (`forwarded`) is not forwarded again: refused unacknowledged
    /// ([`InputError::UnmatchedRevocation`]) when the receiver does not serve it either. A member
    /// that holds no binding acknowledges.
    pub(super) fn handle_revocation_at(
        &mut self,
        now: Instant,
        from: SocketAddr,
        data: &[u8],
        forwarded: bool,
    ) -> Result<(), InputError> {
        let rev = Revocation::parse(data)?;
        let fa = v4(from);
        let Some(sa) = self.fa_sas.get(&fa) else {
            self.stats.revocation_refused += 1;
            return Err(InputError::UnauthenticatedRevocation);
        };
        if rev.flags.a() || rev.verify_fa_ha(data, sa.spi, &sa.key).is_err() {
            self.stats.revocation_refused += 1;
            return Err(InputError::UnauthenticatedRevocation);
        }
        let (spi, key) = (sa.spi, sa.key.clone());
        let last = self.revocations.from_fa.get(&fa).copied();
        if last.is_some_and(|l| rev.revocation_id < l) {
            self.stats.revocation_refused += 1;
            return Err(InputError::UnmatchedRevocation);
        }
        // Only the serving HA removes a binding: a member holding a replica served elsewhere
        // forwards the revocation there and does not acknowledge it.
        let server = self
            .table
            .find(rev.home_address, None)
            .and_then(|s| self.table.get(s))
            .map(|b| b.second_ha)
            .filter(|s| *s != self.node);
        if let Some(server) = server {
            if forwarded || !self.members.contains_key(&server) {
                self.stats.revocation_refused += 1;
                return Err(InputError::UnmatchedRevocation);
            }
            self.stats.revocations_forwarded += 1;
            self.send_cluster(
                server,
                Body::Forward {
                    fa: from,
                    request: data,
                },
            );
            return Ok(());
        }
        if last != Some(rev.revocation_id) {
            self.revocations.from_fa.insert(fa, rev.revocation_id);
            self.revoked_by_fa(now, fa, rev.home_address);
        }
        let mut bytes = RevocationAck {
            reserved: 0,
            flags: RevocationFlags(0),
            home_address: rev.home_address,
            revocation_id: rev.revocation_id,
            extensions: Vec::new(),
        }
        .to_vec();
        append_auth_prepared(&mut bytes, ExtensionType::FA_HA_AUTH, spi, &key);
        self.push_transmit(Transmit {
            dst: from,
            src: Some(self.vip_sock()),
            link_dst: None,
            payload: bytes.into(),
        });
        Ok(())
    }

    /// The foreign agent `fa` revoked `home`: its binding goes if this HA serves it through that
    /// agent.
    fn revoked_by_fa(&mut self, now: Instant, fa: Ipv4Addr, home: Ipv4Addr) {
        self.stats.revocations_from_fa += 1;
        let slot = self.table.find(home, None);
        let ours = slot
            .and_then(|s| self.table.get(s))
            .is_some_and(|b| b.second_ha == self.node && *b.fa.ip() == fa);
        if !ours {
            return;
        }
        self.report_tunnels(Report::Moved);
        if let Some(b) = slot.and_then(|s| self.table.remove(s)) {
            self.revocations.negotiated.remove(&b.home_address);
            self.pool.release(&b.home_address);
            self.remove_served(now, &b, removed::lifetime_end(&b));
            self.update_load();
            self.report_revoked(&b, Some(fa), true);
            self.pump(now);
        }
    }
}
