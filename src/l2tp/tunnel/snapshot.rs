//! Export and restore of established tunnels and sessions (silent failover): what an
//! LNS replicates to its backup ([`crate::l2tp::replica`]) and how the backup adopts them.
//!
//! A restored tunnel keeps the failed LNS's Tunnel ID, the LAC's address and ours (the address
//! the backup takes), and resumes its control channel from the replicated sequence numbers
//! ([`Channel::resume_replica`]: our next Ns and Nr are learnt from the LAC). A restored session
//! keeps its ids; its data Ns jumps ahead by [`DATA_NS_SKIP`] because RFC 2661 5.8 gives data
//! messages no acknowledgement (a data message's Nr is ignored), so the backup cannot learn how
//! many frames the failed LNS sent since the copy; the LAC takes any data Ns that is not behind
//! the one it expects (within half the sequence space), so frames from the backup are accepted
//! as long as the failed LNS sent fewer than [`DATA_NS_SKIP`] frames on the session after its last
//! copy.
//!
//! An answered call (ICRP decided, no ICCN yet) is replicated with the Ns its ICRP has in the
//! control channel (numbered before it may leave: output commit, `lns::replicate` docs) and
//! restored waiting for the ICCN under the set-up timer (RFC 2661 7.4.2 wait-connect). Once the
//! resumed channel learns the LAC's next expected Ns (its Nr; RFC 2661 5.8: the LAC took every
//! message before it, in order, and none from it on): an ICRP before it was taken by the LAC,
//! which then sent its ICCN and holds the call established (RFC 2661 7.4.1), so the call is
//! established here too (the ICCN, if it still comes, finds it so); an ICRP from it on never
//! reached the LAC in order, so it is sent again at its own Ns ([`Channel::pin`]): a LAC that has
//! the failed LNS's copy out of order sees the same message twice and keeps one, and one that
//! has not takes ours. Every Ns between the LAC's next expected one and such an ICRP that no
//! answered call names (a HELLO, or another message of the failed LNS the replica does not know)
//! is filled by a HELLO: the LAC delivers in order only (5.8), so a gap would stall every later
//! message; a HELLO changes no state at the LAC (6.5), and if the LAC holds the failed LNS's own
//! message at that Ns, ours is the duplicate and is dropped. Sending the ICRP at a fresh Ns
//! instead would give a LAC that already took it a second ICRP for an established call, which
//! RFC 2661 7.4.1 answers by clearing the call.

use super::super::channel::{Channel, seq_lt};
use super::super::replica::{SessionRecord, TunnelRecord};
use super::super::session::{Session, SessionState};
use super::super::wire::Avp;
use super::super::wire::ControlMessage;
use super::super::wire::avp::AvpValue;
use super::{Core, Timer, Tunnel, TunnelState};
use std::num::NonZeroU16;
use std::time::Instant;

/// How far a restored session's data Ns jumps ahead of its copy (a quarter of the 16-bit space).
pub const DATA_NS_SKIP: u16 = 0x4000;

/// Why a replicated tunnel or session could not be restored (the takeover counts it as lost).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestoreError {
    /// Our own tunnel (or one already restored) has that Tunnel ID, or the LAC's tunnel is
    /// already known.
    Collision,
    /// A table is full ([`crate::l2tp::Config::max_tunnels`], `max_sessions`,
    /// `max_sessions_per_tunnel`).
    Full,
    /// The session's tunnel is not here.
    NoTunnel,
}

/// What a replicated tunnel needs that `t` may lack: established, with a known peer Tunnel ID
/// and local address (those two returned).
fn replicable(t: &Tunnel) -> Option<(NonZeroU16, std::net::SocketAddr)> {
    if t.state != TunnelState::Established {
        return None;
    }
    Some((t.peer_id?, t.local?))
}

impl Core {
    /// The replicated state of tunnel `tid`: `None` unless it is established with a known peer
    /// Tunnel ID and local address.
    pub fn export_tunnel(&self, tid: u16) -> Option<TunnelRecord> {
        let t = self.tunnels.get(&tid)?;
        let (peer_tunnel, local) = replicable(t)?;
        let (ns, nr, peer_window) = t.channel.replica_state();
        Some(TunnelRecord {
            tunnel: tid,
            peer_tunnel: peer_tunnel.get(),
            peer: t.peer,
            local,
            ns,
            nr,
            peer_window,
            peer_framing_capabilities: t.peer_framing_capabilities,
            peer_bearer_capabilities: t.peer_bearer_capabilities,
            peer_load_balance_capable: t.peer_load_balance_capable,
            peer_failover: t.peer_failover,
            hello_interval_ms: u32::try_from(self.cfg.hello_interval.as_millis())
                .unwrap_or(u32::MAX),
            epoch: 0,
        })
    }

    /// The control channel's Ns and Nr of tunnel `tid` as [`Core::export_tunnel`] gives them
    /// (its `ns` and `nr`), under the same condition, without the rest of the record: what a
    /// sequence update replicates (`lns::replicate` docs, records).
    pub fn export_sequence(&self, tid: u16) -> Option<(u16, u16)> {
        sequence_of(self.tunnels.get(&tid)?)
    }

    /// Session `sid` of tunnel `tid` answered with an ICRP numbered `icrp_ns` (if it was): the
    /// Ns noted on the session, then what [`Core::export_session`] and [`Core::export_sequence`]
    /// give, with one look-up of the tunnel (`lns::replicate` docs, output commit).
    pub(crate) fn export_answered(
        &mut self,
        tid: u16,
        sid: u16,
        icrp_ns: Option<u16>,
    ) -> (Option<SessionRecord>, Option<(u16, u16)>) {
        match self.tunnels.get_mut(&tid) {
            Some(t) => answered(t, tid, sid, icrp_ns),
            None => (None, None),
        }
    }

    /// Session `sid` of tunnel `tid` answered with `icrp`: the ICRP numbered without being sent
    /// ([`Core::reserve_ctrl`]: its Ns, or `icrp` back when the channel cannot number it), then
    /// what [`Core::export_answered`] gives with that Ns, the two with one look-up of the
    /// tunnel when it has no secret (nothing of the ICRP to hide, [`Core::prepare`]); else as
    /// the two calls (`lns::replicate` docs, output commit).
    #[allow(clippy::type_complexity)]
    pub(crate) fn reserve_answered(
        &mut self,
        tid: u16,
        sid: u16,
        icrp: ControlMessage<'static>,
    ) -> (
        Result<u16, ControlMessage<'static>>,
        Option<SessionRecord>,
        Option<(u16, u16)>,
    ) {
        let plain = self.cfg.secret.is_none();
        match self.tunnels.get_mut(&tid) {
            Some(t) if plain && t.secret.is_none() && t.channel.can_reserve() => {
                let ns = t.channel.reserve_in(icrp, &mut self.arena);
                let (session, sequence) = answered(t, tid, sid, ns);
                // Not `None`: `can_reserve` was checked (as in `reserve_ctrl`).
                (
                    ns.ok_or_else(|| ControlMessage::hello(0)),
                    session,
                    sequence,
                )
            }
            _ => {
                let reply = self.reserve_ctrl(tid, icrp);
                let ns = reply.as_ref().ok().copied();
                let (session, sequence) = self.export_answered(tid, sid, ns);
                (reply, session, sequence)
            }
        }
    }

    /// The replicated state of session `sid` of tunnel `tid`: `None` unless established, or an
    /// incoming call answered with ICRP (wait-connect, no admission pending), with a known peer
    /// Session ID.
    pub fn export_session(&self, tid: u16, sid: u16) -> Option<SessionRecord> {
        session_record(tid, sid, self.tunnels.get(&tid)?.sessions.get(&sid)?)
    }

    /// The details of the call of session `sid` of tunnel `tid`, when it has any (an LNS's
    /// incoming call: the ICRQ's, then the ICCN's merged in; `lns::replicate` docs, records).
    pub fn call_details(
        &self,
        tid: u16,
        sid: u16,
    ) -> Option<&crate::l2tp::call::PackedCallDetails> {
        self.tunnels.get(&tid)?.sessions.get(&sid)?.details.as_ref()
    }

    /// Adopts a replicated tunnel (established, under its own Tunnel ID). `silent`: its channel
    /// resumed and probing the LAC (module docs); else at the replicated Ns/Nr, for the RFC 4951
    /// recovery ([`Core::start_recovery`]) to resume. Within
    /// [`crate::l2tp::Config::max_tunnels`].
    pub(crate) fn adopt_tunnel(
        &mut self,
        now: Instant,
        rec: &TunnelRecord,
        silent: bool,
    ) -> Result<(), RestoreError> {
        if self.tunnels.contains_key(&rec.tunnel)
            || self
                .by_peer
                .get(&self.tunnels, (rec.peer, rec.peer_tunnel))
                .is_some()
        {
            return Err(RestoreError::Collision);
        }
        if self.tunnels.len() >= self.cfg.max_tunnels {
            return Err(RestoreError::Full);
        }
        let mut channel = Channel::with_config(self.shared_channel_config(), rec.peer_tunnel);
        channel.set_peer_window(rec.peer_window);
        if silent {
            channel.resume_replica(now, rec.ns, rec.nr, rec.peer_window);
        } else {
            channel.set_seq(now, rec.ns, rec.nr);
            // Nothing goes on the old tunnel before the RFC 4951 recovery gives the Suggested
            // Control Sequence (`Core::start_recovery`; released when it resumes, or by
            // `resume_silently`), and the answered calls' ICRPs wait for it (`Channel::pin`).
            channel.set_held(now, true);
        }
        let t = Tunnel {
            local_id: rec.tunnel,
            peer_id: NonZeroU16::new(rec.peer_tunnel),
            peer: rec.peer,
            local: Some(rec.local),
            state: TunnelState::Established,
            channel,
            sessions: Default::default(),
            our_challenge: None,
            secret: None,
            tie_breaker: None,
            peer_load_balance_capable: rec.peer_load_balance_capable,
            requested_with_lbc: false,
            peer_framing_capabilities: rec.peer_framing_capabilities,
            peer_bearer_capabilities: rec.peer_bearer_capabilities,
            stop_result: None,
            last_rx: now,
            peer_failover: rec.peer_failover,
            recovery: None,
        };
        self.tunnels.insert(rec.tunnel, Box::new(t));
        self.by_peer.insert(&self.tunnels, rec.tunnel);
        self.arm_hello(now, rec.tunnel);
        self.flush(now, rec.tunnel);
        Ok(())
    }

    /// Adopts a replicated session into its restored tunnel, its data Ns [`DATA_NS_SKIP`] ahead
    /// (module docs): established, or, answered with its ICRP's Ns known, waiting for the ICCN
    /// under the set-up timer, its ICRP pinned to that Ns (module docs). Within the session
    /// limits. `held`: the ICRP is pinned held ([`Channel::pin_held`]), to be released once
    /// our own backup holds the call (`lns::replicate` docs, output commit; [`Core::held_pin`]).
    pub(crate) fn adopt_session(
        &mut self,
        now: Instant,
        rec: &SessionRecord,
        held: bool,
    ) -> Result<(), RestoreError> {
        let t = self
            .tunnels
            .get(&rec.tunnel)
            .ok_or(RestoreError::NoTunnel)?;
        if t.sessions.contains_key(&rec.session) {
            return Err(RestoreError::Collision);
        }
        // Established until the channel learns whether the LAC took the ICRP (module docs):
        // the LAC holds the call so when it did, and data must not wait for that. Answered
        // without a known ICRP Ns (it could not be numbered when answered): established (the
        // LAC may hold it so).
        // An ICRP before the channel's first unacknowledged Ns (the copy's, or ours once
        // resumed) was acknowledged by the LAC, which took it: the call is established there and
        // needs no pin (module docs). Only the others are pinned: at most what the failed LNS
        // had unacknowledged, within the send queue.
        let acked_before = t.channel.replica_state().0;
        let pinned = rec
            .answered
            .then_some(rec.icrp_ns)
            .flatten()
            .filter(|ns| !seq_lt(*ns, acked_before));
        let mut s = Session::new(
            rec.session,
            rec.peer_session,
            SessionState::Established,
            rec.serial,
        );
        s.sequencing = rec.sequencing;
        s.load_balance_capable = rec.load_balance_capable;
        s.data_ns = rec.data_ns.wrapping_add(DATA_NS_SKIP);
        s.data_nr = rec.data_nr;
        s.icrp_ns = pinned;
        // The LAC's ICCN may come yet (it is taken once; any later one is out of order), for
        // a call the copy holds connected too: the copy's Nr may lag the failed LNS's (a
        // tunnel's sequence numbers linger, `lns::replicate` docs, records; a bulk sync names
        // the tunnel before its sessions), so an ICCN the failed LNS took but had not yet
        // acknowledged reaches us again as a new message (RFC 2661 5.8: the LAC retransmits
        // it). `l2tp_failover` seed 506 at 1,000 calls: the taker cleared such a call with CDN.
        s.awaiting_iccn = true;
        if !self.add_session(rec.tunnel, s, true) {
            return Err(RestoreError::Full);
        }
        if let Some(ns) = pinned {
            let mut icrp = ControlMessage::icrp(0, rec.peer_session, rec.session);
            if rec.sequencing {
                icrp.push(Avp::mandatory(AvpValue::SequencingRequired));
            }
            let icrp = self.prepare(rec.tunnel, icrp);
            let ok = self
                .tunnels
                .get_mut(&rec.tunnel)
                .is_some_and(|t| match held {
                    true => t.channel.pin_held(now, ns, icrp),
                    false => t.channel.pin(now, ns, icrp),
                });
            if !ok {
                self.remove_session(now, rec.tunnel, rec.session);
                return Err(RestoreError::Full);
            }
            // On a channel whose next Ns is known already (a session adopted after the
            // takeover, `Channel::pin`), the ICRP is placed at once: out it goes (once released
            // when held; the HELLOs filling the Ns before it go now).
            self.flush(now, rec.tunnel);
        }
        Ok(())
    }

    /// The Ns of the ICRP of session `sid` of tunnel `tid` when it is pinned held and not yet
    /// released ([`Core::adopt_session`] with `held`; [`Channel::pin_held`]): what
    /// [`Core::release_ctrl`] of that Ns lets go.
    pub(crate) fn held_pin(&self, tid: u16, sid: u16) -> Option<u16> {
        let t = self.tunnels.get(&tid)?;
        let ns = t.sessions.get(&sid)?.icrp_ns?;
        t.channel.holds_pin(ns).then_some(ns)
    }

    /// The resumed channel of tunnel `tid` learnt which ICRPs of restored answered calls the
    /// LAC took (module docs): those calls stay established; the others, whose ICRP was sent
    /// again, wait for the ICCN under the set-up timer (RFC 2661 7.4.2 wait-connect).
    pub(super) fn answers_resolved(&mut self, now: Instant, tid: u16) {
        let wait = self.setup_wait();
        let Some(t) = self.tunnels.get_mut(&tid) else {
            return;
        };
        for (ns, taken) in t.channel.take_resolved() {
            let sid = t
                .sessions
                .values()
                .find(|s| {
                    s.icrp_ns == Some(ns)
                        && matches!(
                            s.state,
                            SessionState::Established | SessionState::WaitConnect
                        )
                })
                .map(|s| s.local_id);
            let Some(s) = sid.and_then(|sid| t.sessions.get_mut(&sid)) else {
                continue;
            };
            if taken {
                // Taken, possibly after it was first resolved as sent again: the peer's Nr
                // later passed its Ns (`Channel::pin`), so the LAC holds the call established.
                s.icrp_ns = None;
                if s.state == SessionState::WaitConnect {
                    s.state = SessionState::Established;
                    let sid = s.local_id;
                    self.timers.disarm(&Timer::Session(tid, sid));
                }
            } else {
                s.state = SessionState::WaitConnect;
                let sid = s.local_id;
                self.timers.arm(Timer::Session(tid, sid), now + wait);
            }
        }
    }

    /// Falls back to silent failover on an adopted tunnel whose RFC 4951 recovery could not
    /// start.
    pub(crate) fn resume_silently(&mut self, now: Instant, rec: &TunnelRecord) {
        if let Some(t) = self.tunnels.get_mut(&rec.tunnel) {
            t.channel
                .resume_replica(now, rec.ns, rec.nr, rec.peer_window);
            t.channel.set_held(now, false);
        }
        self.flush(now, rec.tunnel);
    }

    /// Drops tunnel `tid` and its sessions without a word to the peer (no StopCCN, no event):
    /// another LNS took it over and continues it. Returns how many sessions it had.
    ///
    /// An RFC 4951 recovery of `tid` still under way here goes with it, its recovery tunnel
    /// dropped as silently: the recovery is the new owner's to make (its own recovery tunnel).
    /// Left running, the recovery tunnel would go on retransmitting its SCCRQ (RFC 2661 5.8)
    /// for a tunnel we no longer have; the LAC, taking it as the peer failing again (its old
    /// tunnel named by the Tunnel Recovery AVP, RFC 4951 3.2.1), would answer it after the
    /// owner's recovery completed, and hold the old tunnel for a recovery whose SCCRP reaches
    /// the owner, not us, and never completes: what the owner sends on the old tunnel
    /// discarded until then (3.2.1), its control channel gives up (RFC 4951 failover seeds
    /// 17809, 41780). And should the tunnel come back to us (a takeover of the owner), a late
    /// SCCRP on that recovery tunnel would reset the old channel to numbers the LAC had left
    /// behind (seed 23910).
    pub(crate) fn forget_tunnel(&mut self, tid: u16) -> Option<usize> {
        let t = self.remove_tunnel(tid)?;
        self.timers.disarm(&Timer::Hold(tid));
        self.timers.disarm(&Timer::Recovery(tid));
        if let Some(&super::recovery::Recovery::Recovering { via, .. }) = t.recovery.as_deref() {
            if self.remove_tunnel(via).is_some() {
                self.timers.disarm(&Timer::Recovery(via));
            }
        }
        Some(t.sessions.len())
    }
}

/// The control channel's Ns and Nr of `t` when it is replicable ([`Core::export_sequence`]).
fn sequence_of(t: &Tunnel) -> Option<(u16, u16)> {
    replicable(t)?;
    let (ns, nr, _) = t.channel.replica_state();
    Some((ns, nr))
}

/// [`Core::export_answered`] on tunnel `t` (`tid`).
fn answered(
    t: &mut Tunnel,
    tid: u16,
    sid: u16,
    icrp_ns: Option<u16>,
) -> (Option<SessionRecord>, Option<(u16, u16)>) {
    let session = t.sessions.get_mut(&sid).and_then(|s| {
        if icrp_ns.is_some() {
            s.icrp_ns = icrp_ns;
        }
        session_record(tid, sid, s)
    });
    (session, sequence_of(t))
}

/// The replicated state of session `s` (`sid` of tunnel `tid`; [`Core::export_session`]).
fn session_record(tid: u16, sid: u16, s: &Session) -> Option<SessionRecord> {
    // An incoming call is replicated from its ICRP on (`lns::replicate` docs, output
    // commit), not while its admission is pending (no ICRP yet).
    // Answered: waiting for the ICCN, or restored and not yet known taken by the LAC
    // (module docs; `icrp_ns` is cleared when a call connects). A restored call connected is
    // not: every restored call takes its ICCN once (`Session::awaiting_iccn`), whatever its
    // record said, so the flag need not carry that.
    let answered = (s.state == SessionState::WaitConnect && s.admission.is_none())
        || (s.state == SessionState::Established && s.icrp_ns.is_some());
    if s.state != SessionState::Established && !answered {
        return None;
    }
    let icrp_ns = if answered { s.icrp_ns } else { None };
    Some(SessionRecord {
        tunnel: tid,
        session: sid,
        peer_session: s.peer_id?.get(),
        serial: s.serial,
        sequencing: s.sequencing,
        load_balance_capable: s.load_balance_capable,
        data_ns: s.data_ns,
        data_nr: s.data_nr,
        answered,
        icrp_ns,
    })
}
