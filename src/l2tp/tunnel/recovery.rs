//! RFC 4951 failover: an endpoint that lost its control-channel state (the failed endpoint)
//! recovers a tunnel with a peer that kept it (the non-failed endpoint), and the tunnel's
//! sessions continue.
//!
//! * Capability: with [`FailoverConfig`] ([`crate::l2tp::Config::failover`]) every SCCRQ and
//!   SCCRP but a recovery tunnel's (3.2.1) carries the Failover Capability AVP (5.1: M=0; C bit,
//!   the flags' last bit: this endpoint can recover its own control channel; D bit: its data
//!   channels; Recovery Time in ms; never both bits clear). Each tunnel records what the peer
//!   advertised ([`super::Tunnel::peer_failover`]).
//! * The non-failed endpoint keeps the tunnel: when the control channel of a tunnel whose peer
//!   advertised the C bit gives up (RFC 2661 5.8 retransmissions exhausted), the tunnel is not
//!   torn down but kept until the peer's Recovery Time, counted from when the control channel's
//!   timeout started (5.1), runs out ([`Recovery::Waiting`]); only then, if not recovered, it
//!   goes down. A control message the peer acknowledges meanwhile ends the wait (5.1: the loss
//!   was passing, no failover): the tunnel goes on.
//! * The recovery: the failed endpoint, with the old tunnel back in its table (restored:
//!   [`RestoredTunnel`], or the LNS replica), opens a recovery tunnel: SCCRQ with Tunnel
//!   Recovery (its and the peer's Tunnel IDs of the old tunnel) and sends nothing on the old
//!   tunnel ([`Recovery::Recovering`]). The non-failed endpoint accepts it when it has that
//!   tunnel with that peer Tunnel ID and the peer advertised the C bit on it, and answers with an
//!   SCCRP carrying the Suggested Control Sequence (M=0): the Ns it expects next and the Ns it sends
//!   next (its messages sent before and not acknowledged are dropped once the recovery completes:
//!   the failed endpoint's side of the channel restarts from these numbers). Otherwise it refuses with StopCCN (Result 2 / Error 3;
//!   Error 8 when failover is off here, as an endpoint without RFC 4951 answers the M=1 Tunnel
//!   Recovery AVP). The recovery tunnel is authenticated with the old tunnel's secret (3.2.1).
//!   The failed endpoint sets the old channel's Ns/Nr to the suggestion (0 and 0 without one,
//!   3.2.2) and answers SCCCN; once the SCCCN is acknowledged the recovery tunnel is dropped silently (kept for the
//!   hold period only to acknowledge retransmissions; no StopCCN, no tunnel events) and the old
//!   tunnel resumes. The peer may tear the recovery tunnel down itself once it took the SCCCN
//!   (3.2.2: "Either endpoint can tear down the recovery tunnel after the control channel reset
//!   procedure is complete"): a StopCCN Result 1 acknowledging the SCCCN completes the recovery
//!   too; any other StopCCN on the recovery tunnel ends it (Result 3: tried again, below). The non-failed endpoint resumes it on the SCCCN (its Challenge Response
//!   checked when a challenge is configured): from then on the old tunnel's peer is the address
//!   the recovery came from. Until its reset (SCCRP at the failed endpoint, SCCCN at the other),
//!   what arrives on the old tunnel is discarded silently (3.2.1); from then on it is taken.
//!   A recovery SCCRQ from an address outside [`FailoverConfig::recovery_peers`] (when set) is
//!   refused, StopCCN Result 4 (8).
//! * When the recovery tunnel is up at an end (SCCRP at the failed endpoint, SCCCN at the
//!   other), that end clears silently the old tunnel's sessions not established (3.3 Step I;
//!   no session is set up on the old tunnel before), and resets the data channels using
//!   sequence numbers (3.2.3): with the D bit at both ends the failed endpoint numbers its data
//!   from 0 and an end with the D bit takes [`FailoverConfig::data_reset_packets`] late data
//!   messages in sequence as the new Ns expected; without it at one end the failed endpoint
//!   clears those sessions with CDN.
//! * Overtaken recoveries: a second recovery SCCRQ for a tunnel whose first recovery still waits
//!   for its SCCCN is taken as the peer starting over (it failed again, or two members of a
//!   virtual LNS both took the tunnel over); the non-failed endpoint answers it and stops the
//!   first recovery tunnel with StopCCN Result 3 (Control channel already exists), sent once its
//!   SCCRP is acknowledged. The failed endpoint completes a recovery only when its SCCCN is
//!   acknowledged and it has every message the peer sent on the recovery tunnel (so a StopCCN
//!   still to come is not missed), and on StopCCN Result 3 tries again with a new recovery tunnel,
//!   up to [`MAX_RECOVERY_ATTEMPTS`] in all, whose SCCRP suggests the numbers the peer has now.
//!   RFC 4951 does not cover two recoveries of one tunnel from one peer at once; this is our
//!   reading. An LNS that gets a recovery SCCRP (Suggested Control Sequence) for no tunnel of its
//!   own notes it (`Core::stray_sccrp`) for its role to judge; a virtual LNS member stops one
//!   answering a yielded taker's recovery (`lns::takeover` docs, stray recoveries) with StopCCN
//!   (`Core::stop_stray_sccrp`), and the remote endpoint's recovery of the old tunnel then
//!   fails, the old tunnel going on as before. Both endpoints recovering one tunnel at once (3.2.1, Appendix B) is the Tie
//!   Breakers' call: the loser drops its recovery tunnel and answers the winner's as the remote
//!   endpoint; an ordinary SCCRQ's Tie Breaker is never weighed against a recovery tunnel.
//! * Sessions: the failed endpoint sends FSQ for the sessions it is unsure of (all, or a list:
//!   [`UnsureSessions`]), one Failover Session State each; the peer answers FSR with its Session
//!   ID of each session, 0 for a session it does not have; such a session is cleared locally
//!   without CDN (its role hears of it as a refused session: CDN Result 2 / Error 5 in the event,
//!   nothing sent); a non-zero Session ID keeps it. Either endpoint answers FSQ; a session of its
//!   own that an FSQ names with another peer Session ID is answered 0, kept, and queried by an
//!   FSQ of its own (3.3, Appendix C). FSQ and FSR carry their Message Type with M=0 (4.1, 4.2).
//!   An ICRQ naming one of our established sessions (its Assigned Session ID the peer's Session
//!   ID of it) on a tunnel where both ends advertised a Failover Capability is answered with CDN
//!   carrying our Session ID, and that session is cleared (3.3).
//!
//! Calling it from an endpoint: the LAC exposes `Lac::start_recovery`. The LNS (whose file another
//! branch reorganises) takes recovery SCCRQs, FSQ and FSR and the Recovery Time wait with no code
//! of its own (all in this engine); to recover a tunnel it took over, it restores the tunnel
//! (`Core::restore_tunnel` with the replicated identity, or `Config::restore` at start), then
//! calls `self.core.start_recovery(now, tunnel, UnsureSessions::All)` and `self.process(now)`, and
//! reports the returned [`CommandError`] to its caller.
//!
//! Reading of RFC 4951 this module follows where the text leaves a choice: a Recovery Time of 0
//! keeps the tunnel no longer than its control channel did; a recovery SCCRQ may come from
//! another address than the old peer's (the backup LNS of a virtual LNS), so with a secret and
//! challenge configured the recovery tunnel's challenge authenticates the move.

use super::super::channel::Channel;
use super::super::session::{Session, SessionState};
use super::super::wire::avp::{
    AvpValue, FailoverSessionState, SuggestedControlSequence, TunnelRecovery,
};
use super::super::wire::{
    Avp, AvpType, ControlMessage, ErrorCode, MessageType, ResultCode, ResultCodeValue,
    challenge_response,
};
use super::super::{CommandError, Event, InputError, Table, Unexpected};
use super::establish::response_ok;
use super::{Core, SessionRefused, Timer, Tunnel, TunnelState, Up, refusal};
use std::borrow::Cow;
use std::net::SocketAddr;
use std::num::NonZeroU16;
use std::time::{Duration, Instant};

/// At most this many Failover Session State AVPs in one FSQ (16 octets each).
pub const MAX_FSQ_SESSIONS: usize = 256;

/// At most this many recovery tunnels for one recovery: the failed endpoint tries again when a
/// newer recovery of the same tunnel overtook its own (StopCCN Result 3), as when two members of
/// a virtual LNS both took the tunnel over before one yielded.
pub const MAX_RECOVERY_ATTEMPTS: u8 = 4;

mod types;
pub(crate) use types::restore_ok;
pub use types::{FailoverConfig, MAX_RECOVERY_PEERS, Recovery, RestoredTunnel, UnsureSessions};

/// The SCCRP of an RFC 4951 recovery tunnel (it carries the Suggested Control Sequence) that
/// came for no tunnel of ours: the recovery tunnel it answers was opened by another endpoint
/// behind our address (a virtual LNS member that took a tunnel over and then yielded it), or is
/// gone. What the role needs to stop it (`Core::stop_stray_sccrp`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StraySccrp {
    /// The peer that sent it.
    pub from: SocketAddr,
    /// Our address it came to.
    pub to: SocketAddr,
    /// Its Assigned Tunnel ID: the peer's id of the recovery tunnel.
    pub peer_tunnel: u16,
    /// Its Ns.
    pub ns: u16,
    /// Its Nr: the Ns the peer expects next on its recovery tunnel.
    pub nr: u16,
}

/// StopCCN Result 2 with `error` and a message.
fn general_error(error: ErrorCode, text: &str) -> ResultCode<'static> {
    ResultCode::with_error(
        ResultCodeValue::STOPCCN_GENERAL_ERROR,
        error,
        Cow::Owned(text.as_bytes().to_vec()),
    )
}

impl Core {
    /// The Failover Capability (when configured) and the AVPs queued for the SCCRQ or SCCRP
    /// being built (RFC 4951).
    ///
    /// RFC 4951 3.2.1: "The recovery tunnel MUST NOT include the Failover Capability AVP in its
    /// SCCRQ or SCCRP messages": a recovery tunnel's SCCRQ or SCCRP (the queued AVPs being its
    /// Tunnel Recovery or Suggested Control Sequence) goes without it.
    pub(super) fn failover_avps(&mut self, msg: &mut ControlMessage<'static>) {
        let recovery = self.sccrx_extra.iter().any(|a| {
            matches!(
                a.value,
                AvpValue::TunnelRecovery(_) | AvpValue::SuggestedControlSequence(_)
            )
        });
        if let Some(f) = self.cfg.failover.as_ref().filter(|_| !recovery) {
            msg.push(Avp::optional(AvpValue::FailoverCapability(f.capability())));
        }
        msg.avps.append(&mut self.sccrx_extra);
    }

    /// The tunnels of [`Config::restore`] enter the table, established, with fresh control
    /// channels; those marked start their recovery once every one is in the table. RFC 4951
    /// 3.2.1: "An endpoint MUST NOT use any old Tunnel ID for the recovery tunnel": a recovery
    /// tunnel opened before the next old tunnel was restored could draw that tunnel's id (and
    /// the old tunnel could then not be restored).
    pub(super) fn restore(&mut self, now: Instant) {
        let mut recover = Vec::new();
        for r in std::mem::take(&mut self.cfg.restore) {
            if !self.restore_tunnel(now, &r) {
                continue;
            }
            if let Some(unsure) = r.recover {
                recover.push((r.local_id, unsure));
            }
        }
        for (tid, unsure) in recover {
            let _ = self.start_recovery(now, tid, unsure);
        }
    }

    /// Puts a restored tunnel in the table (its ids checked by [`restore_ok`]); `false`, and
    /// nothing changed, when the Tunnel ID is taken or the tunnel or session limits
    /// ([`crate::l2tp::Config::max_tunnels`], `max_sessions_per_tunnel`, `max_sessions`) would be
    /// passed.
    pub fn restore_tunnel(&mut self, now: Instant, r: &RestoredTunnel) -> bool {
        if self.tunnels.contains_key(&r.local_id)
            || self.tunnels.len() >= self.cfg.max_tunnels
            || r.sessions.len() > self.cfg.max_sessions_per_tunnel
            || self.session_count + r.sessions.len() > self.cfg.max_sessions
        {
            return false;
        }
        let channel = Channel::with_config(self.shared_channel_config(), r.peer_id);
        let mut t = Tunnel::new(
            (r.local_id, r.peer_id),
            r.peer,
            TunnelState::Established,
            channel,
            now,
        );
        t.local = r.local;
        t.peer_failover = Some(r.peer_failover);
        for &(sid, peer_sid) in &r.sessions {
            let mut s = Session::new(sid, peer_sid, SessionState::Established, 0);
            // Sequencing Required configured: the session uses data sequence numbers (an LNS
            // asks for them in every ICRP, a LAC in every ICCN).
            s.sequencing = self.cfg.sequencing_required;
            s.sequencing_required = self.cfg.sequencing_required;
            t.sessions.insert(sid, s);
        }
        self.session_count += t.sessions.len();
        self.tunnels.insert(r.local_id, Box::new(t));
        self.by_peer.insert(&self.tunnels, r.local_id);
        self.arm_hello(now, r.local_id);
        true
    }

    /// RFC 4951, the failed endpoint: recovers tunnel `tid` (already in the table, restored) with
    /// its peer. Opens the recovery tunnel (SCCRQ with Tunnel Recovery, Failover Capability) and
    /// holds the old tunnel until the peer's Suggested Control Sequence resumes it; then FSQ asks
    /// about the `unsure` sessions. Returns the recovery tunnel's id; [`Event::TunnelRecoveryStarted`].
    ///
    /// Errors: [`CommandError::FailoverNotNegotiated`] without the C bit configured here or a
    /// Failover Capability from the peer; [`CommandError::NoTunnel`] when `tid` is not an
    /// established tunnel outside a recovery; [`CommandError::Full`] when no tunnel can be opened.
    pub fn start_recovery(
        &mut self,
        now: Instant,
        tid: u16,
        unsure: UnsureSessions,
    ) -> Result<u16, CommandError> {
        self.recovery_attempt(now, tid, unsure, 1)
    }

    /// [`Core::start_recovery`], attempt `attempt` (a retry emits no second
    /// [`Event::TunnelRecoveryStarted`]).
    fn recovery_attempt(
        &mut self,
        now: Instant,
        tid: u16,
        unsure: UnsureSessions,
        attempt: u8,
    ) -> Result<u16, CommandError> {
        if !self.cfg.failover.as_ref().is_some_and(|f| f.control) {
            return Err(CommandError::FailoverNotNegotiated);
        }
        let t = self
            .tunnels
            .get(&tid)
            .filter(|t| t.state == TunnelState::Established && t.recovery.is_none())
            .ok_or(CommandError::NoTunnel)?;
        if t.peer_failover.is_none() {
            return Err(CommandError::FailoverNotNegotiated);
        }
        let (peer, local, peer_id, secret) =
            (t.peer, t.local, t.peer_header_id(), t.secret.clone());
        let mut query: Vec<u16> = match unsure {
            UnsureSessions::All => t.sessions.keys().copied().collect(),
            UnsureSessions::List(v) => v
                .into_iter()
                .filter(|s| t.sessions.contains_key(s))
                .collect(),
            UnsureSessions::None => Vec::new(),
        };
        query.sort_unstable();
        query.dedup();
        self.sccrx_extra
            .push(Avp::mandatory(AvpValue::TunnelRecovery(TunnelRecovery {
                tunnel_id: tid,
                remote_tunnel_id: peer_id,
            })));
        // RFC 4951 3.2.1: the recovery tunnel is authenticated with the old tunnel's secret.
        let Some(via) = self.open_tunnel_with(now, peer, local, false, secret) else {
            self.sccrx_extra.clear();
            return Err(CommandError::Full(Table::Tunnels));
        };
        if let Some(r) = self.tunnels.get_mut(&via) {
            r.recovery = Some(Box::new(Recovery::RecoveryTunnel {
                old: tid,
                scccn_sent: false,
            }));
        }
        if let Some(t) = self.tunnels.get_mut(&tid) {
            t.channel.set_held(now, true);
            t.recovery = Some(Box::new(Recovery::Recovering {
                via,
                query,
                attempt,
            }));
        }
        if attempt == 1 {
            self.stats.recoveries_started = self.stats.recoveries_started.saturating_add(1);
            self.event(Event::TunnelRecoveryStarted { tunnel: tid, peer });
        }
        Ok(via)
    }

    /// The old tunnel a recovery SCCRQ names, if this endpoint can let the peer recover it: the
    /// tunnel with that peer Tunnel ID, established, the peer having advertised the C bit.
    fn recoverable(&self, rec: TunnelRecovery) -> Option<u16> {
        let t = self.tunnels.get(&rec.remote_tunnel_id)?;
        let ok = t.peer_header_id() == rec.tunnel_id
            && t.state == TunnelState::Established
            && t.peer_failover.is_some_and(|f| f.control)
            && !t
                .recovery
                .as_deref()
                .is_some_and(Recovery::is_recovery_tunnel);
        ok.then_some(rec.remote_tunnel_id)
    }

    /// RFC 4951, the non-failed endpoint: an SCCRQ with Tunnel Recovery. A retransmission goes
    /// to its recovery tunnel; one for a tunnel this endpoint cannot let the peer recover is
    /// refused statelessly (StopCCN); otherwise the recovery tunnel is accepted and its SCCRP
    /// carries the Suggested Control Sequence of the old tunnel.
    pub(super) fn on_recovery_sccrq(
        &mut self,
        now: Instant,
        from: SocketAddr,
        to: SocketAddr,
        c: ControlMessage<'static>,
    ) -> Result<(), InputError> {
        let peer_tid = c.assigned_tunnel_id().unwrap_or(0);
        if let Some(existing) = self.by_peer.get(&self.tunnels, (from, peer_tid)) {
            self.deliver(now, existing, c);
            return Ok(());
        }
        if let Some((rc, err)) = refusal(&c) {
            self.refuse_sccrq(now, from, Some(to), &c, rc, None);
            return Err(err);
        }
        let rec = c.tunnel_recovery().unwrap_or_default();
        let refused = if self.cfg.failover.is_none() {
            Some((
                general_error(
                    ErrorCode::UNKNOWN_MANDATORY_AVP,
                    "Tunnel Recovery not supported",
                ),
                InputError::UnknownMandatoryAvp {
                    vendor: 0,
                    avp: AvpType::TUNNEL_RECOVERY,
                },
            ))
        } else if !self
            .cfg
            .failover
            .as_ref()
            .is_some_and(|f| f.recovery_peer_allowed(from.ip()))
        {
            // RFC 4951 8: a recovery from an address not configured as a recovery endpoint.
            self.stats.recoveries_refused_peer =
                self.stats.recoveries_refused_peer.saturating_add(1);
            Some((
                ResultCode::with_error(
                    ResultCodeValue::STOPCCN_NOT_AUTHORIZED,
                    ErrorCode::NO_ERROR,
                    Cow::Borrowed(&b"not a recovery endpoint of this tunnel"[..]),
                ),
                InputError::Unexpected(Unexpected::RecoveryPeerNotAllowed),
            ))
        } else if self.recoverable(rec).is_none() {
            Some((
                general_error(ErrorCode::BAD_VALUE, "no tunnel to recover"),
                InputError::Unexpected(Unexpected::RecoveryRefused),
            ))
        } else {
            None
        };
        if let Some((rc, err)) = refused {
            self.stats.recoveries_refused = self.stats.recoveries_refused.saturating_add(1);
            self.refuse_sccrq(now, from, Some(to), &c, rc, None);
            return Err(err);
        }
        let old = rec.remote_tunnel_id;
        if let Some(&Recovery::Recovering { via, .. }) =
            self.tunnels.get(&old).and_then(|t| t.recovery.as_deref())
        {
            // RFC 4951 3.2.1 and Appendix B, both endpoints recovering the old tunnel at once:
            // the Tie Breakers of the two recovery SCCRQs (RFC 2661 4.4.3: the lower wins, one
            // without loses) decide the recovery tunnel. We win: theirs is discarded (they answer
            // ours). We lose: ours goes silently and we answer theirs "as if it were a remote
            // endpoint", suggesting the sequence of our old channel.
            let ours = self.tunnels.get(&via).and_then(|t| t.tie_breaker);
            let we_win = match (ours, c.tie_breaker()) {
                (Some(ours), Some(theirs)) => ours <= theirs,
                (Some(_), None) => true,
                (None, _) => false,
            };
            if we_win {
                return Err(InputError::Unexpected(Unexpected::TieBreakerLost));
            }
            self.hold_silently(now, via);
            if let Some(t) = self.tunnels.get_mut(&old) {
                t.recovery = None;
            }
        }
        self.answer_recovery(now, from, to, c, old)
    }

    /// Accepts the recovery tunnel for `old`: its SCCRP suggests the old channel's sequence.
    fn answer_recovery(
        &mut self,
        now: Instant,
        from: SocketAddr,
        to: SocketAddr,
        c: ControlMessage<'static>,
        old: u16,
    ) -> Result<(), InputError> {
        let Some(t) = self.tunnels.get(&old) else {
            return Err(InputError::UnknownTunnel(old));
        };
        let (ns, nr) = t.channel.seq();
        let secret = t.secret.clone();
        let earlier = match t.recovery.as_deref() {
            Some(&Recovery::Answering { via, .. }) => Some(via),
            _ => None,
        };
        // RFC 4951 5.3: "The AVP is not mandatory (the M-bit is set to 0)."
        self.sccrx_extra
            .push(Avp::optional(AvpValue::SuggestedControlSequence(
                SuggestedControlSequence { ns: nr, nr: ns },
            )));
        // RFC 4951 3.2.1: "It MUST use the same secret that was used to authenticate the old
        // tunnel" (a LAC's tunnel may have its own, from its plan).
        let via = match self.accept_tunnel_with(now, from, to, c, secret) {
            Ok(via) => via,
            Err(e) => {
                self.sccrx_extra.clear();
                return Err(e);
            }
        };
        if let Some(earlier) = earlier {
            // The peer started over (it failed again, or two of a virtual LNS's members both took
            // the tunnel over): the earlier recovery tunnel is stopped, StopCCN Result 3. Silence
            // would not do: the tunnel, held to acknowledge, would acknowledge that recovery's
            // SCCCN, and its sender would resume the old tunnel with the numbers of an SCCRP that
            // the newer recovery made stale (seed 128213).
            self.stats.recoveries_superseded = self.stats.recoveries_superseded.saturating_add(1);
            let peer_id = self.tunnels.get(&earlier).map_or(0, |t| t.peer_header_id());
            let rc = ResultCode::with_error(
                ResultCodeValue::STOPCCN_ALREADY_EXISTS,
                ErrorCode::NO_ERROR,
                Cow::Borrowed(&b"a newer recovery of the tunnel overtook this one"[..]),
            );
            self.send_ctrl(now, earlier, ControlMessage::stopccn(peer_id, earlier, rc));
            self.hold_silently(now, earlier);
        }
        if let Some(r) = self.tunnels.get_mut(&via) {
            r.recovery = Some(Box::new(Recovery::RecoveryTunnel {
                old,
                scccn_sent: false,
            }));
        }
        if let Some(t) = self.tunnels.get_mut(&old) {
            t.recovery = Some(Box::new(Recovery::Answering { via, resume_ns: ns }));
        }
        self.stats.recoveries_started = self.stats.recoveries_started.saturating_add(1);
        self.event(Event::TunnelRecoveryStarted {
            tunnel: old,
            peer: from,
        });
        Ok(())
    }

    /// An SCCRP for no tunnel of ours from `from` (LNS only): a recovery SCCRP (it carries the
    /// Suggested Control Sequence, RFC 4951 3.2.1) with an Assigned Tunnel ID is noted in
    /// [`Core::stray_sccrp`] for the role to judge (`Core::stop_stray_sccrp`).
    pub(super) fn note_stray_sccrp(
        &mut self,
        from: SocketAddr,
        to: SocketAddr,
        m: &ControlMessage<'static>,
    ) {
        if !self.lns
            || m.message_type() != Some(MessageType::SCCRP)
            || m.suggested_control_sequence().is_none()
        {
            return;
        }
        let Some(peer_tunnel) = m.assigned_tunnel_id().filter(|id| *id != 0) else {
            return;
        };
        self.stray_sccrp = Some(StraySccrp {
            from,
            to,
            peer_tunnel,
            ns: m.header.ns,
            nr: m.header.nr,
        });
    }

    /// Stops the peer's recovery tunnel that stray SCCRP `s` answers: StopCCN Result 2, Error 1
    /// (RFC 2661 4.4.2: "No control connection exists yet for this LAC-LNS pair"), sent
    /// statelessly as the next message on that tunnel (Ns the SCCRP's Nr, acknowledging the
    /// SCCRP), within [`crate::l2tp::Config::refusals`]. The peer's recovery of the old tunnel
    /// then fails (RFC 4951 3.2.1), and the old tunnel goes on as it was, what its owner sends
    /// on it taken again. Counted in [`crate::l2tp::Stats::stray_recoveries_stopped`].
    pub(crate) fn stop_stray_sccrp(&mut self, now: Instant, s: StraySccrp) {
        if !self.refusals.take(now) {
            self.stats.refusals_suppressed = self.stats.refusals_suppressed.saturating_add(1);
            return;
        }
        self.stats.stray_recoveries_stopped = self.stats.stray_recoveries_stopped.saturating_add(1);
        let rc = ResultCode::with_error(
            ResultCodeValue::STOPCCN_GENERAL_ERROR,
            ErrorCode::NO_CONTROL_CONNECTION,
            Cow::Borrowed(&b"no such control connection: the recovery is no longer ours"[..]),
        );
        let mut m = ControlMessage::stopccn(s.peer_tunnel, 0, rc);
        m.header.ns = s.nr;
        m.header.nr = s.ns.wrapping_add(1);
        let mut v = Vec::with_capacity(m.encoded_len());
        m.emit(&mut v);
        self.transmit(s.from, Some(s.to), bytes::Bytes::from(v));
    }

    /// A recovery tunnel leaves quietly: closing (no StopCCN, no tunnel events), kept for the hold
    /// period to acknowledge retransmissions.
    fn hold_silently(&mut self, now: Instant, tid: u16) {
        let Some(t) = self.tunnels.get_mut(&tid) else {
            return;
        };
        t.state = TunnelState::Closing;
        t.recovery = None;
        self.pending_tunnels.remove(&tid);
        // HELLO stops (closing; the tunnel's timer stays for its channel).
        self.timers.arm(Timer::Hold(tid), now + self.hold_wait());
    }

    /// A control message on recovery tunnel `via` (RFC 4951): SCCRP at the failed endpoint,
    /// SCCCN at the non-failed one, StopCCN at either; nothing else belongs there.
    pub(super) fn on_recovery_tunnel_message(
        &mut self,
        now: Instant,
        via: u16,
        m: ControlMessage<'static>,
    ) {
        let Some(Some(Recovery::RecoveryTunnel { old, scccn_sent })) = self
            .tunnels
            .get(&via)
            .map(|t| t.recovery.as_deref().cloned())
        else {
            return;
        };
        match m.message_type() {
            Some(MessageType::SCCRP) => self.on_recovery_sccrp(now, via, old, &m),
            Some(MessageType::SCCCN) => self.on_recovery_scccn(now, via, old, &m),
            Some(MessageType::STOPCCN) => {
                let mut scccn_taken = false;
                if let Some(t) = self.tunnels.get_mut(&via) {
                    if t.peer_id.is_none() {
                        t.learn_peer_id(m.assigned_tunnel_id().unwrap_or(0));
                    }
                    // Its Nr acknowledges our SCCCN (the only message we send there).
                    scccn_taken = scccn_sent && t.channel.is_idle();
                }
                let result = m.result_code().map(|r| r.result);
                if scccn_taken && result == Some(ResultCodeValue::STOPCCN_GENERAL_REQUEST) {
                    // RFC 4951 3.2.2: the remote endpoint's control channel is reset on our
                    // valid SCCCN, and "Either endpoint can tear down the recovery tunnel after
                    // the control channel reset procedure is complete": a plain teardown
                    // (Result 1) that took our SCCCN completes the recovery.
                    self.complete_recovery(now, via, old);
                    return;
                }
                self.hold_silently(now, via);
                let superseded = result == Some(ResultCodeValue::STOPCCN_ALREADY_EXISTS);
                if !(superseded && self.retry_recovery(now, old)) {
                    self.recovery_failed(old);
                }
            }
            _ => {}
        }
    }

    /// The failed endpoint: its recovery of `old` was overtaken by a newer recovery of the same
    /// tunnel (StopCCN Result 3 on the recovery tunnel): it tries again with a new recovery
    /// tunnel, whose SCCRP suggests the sequence the peer has now, unless
    /// [`MAX_RECOVERY_ATTEMPTS`] were made. `false` when it does not (the recovery failed).
    fn retry_recovery(&mut self, now: Instant, old: u16) -> bool {
        let Some(t) = self.tunnels.get_mut(&old) else {
            return false;
        };
        let (query, attempt) = match t.recovery.as_deref() {
            Some(Recovery::Recovering { query, attempt, .. })
                if *attempt < MAX_RECOVERY_ATTEMPTS =>
            {
                (query.clone(), *attempt)
            }
            _ => return false,
        };
        t.recovery = None;
        if self
            .recovery_attempt(now, old, UnsureSessions::List(query), attempt + 1)
            .is_err()
        {
            return false;
        }
        self.stats.recoveries_superseded = self.stats.recoveries_superseded.saturating_add(1);
        true
    }

    /// The recovery tunnel fails with StopCCN `rc` and goes silently.
    fn abandon_recovery(&mut self, now: Instant, via: u16, old: u16, rc: ResultCode<'static>) {
        let peer_id = self.tunnels.get(&via).map_or(0, |t| t.peer_header_id());
        self.send_ctrl(now, via, ControlMessage::stopccn(peer_id, via, rc));
        self.hold_silently(now, via);
        self.recovery_failed(old);
    }

    /// The failed endpoint: the SCCRP of its recovery tunnel. Its Challenge Response is checked
    /// (StopCCN Result 4); the old channel takes the suggested Ns/Nr (still held), 0 and 0 when
    /// the SCCRP has no Suggested Control Sequence (RFC 4951 3.2.2, 5.3), and SCCCN goes out.
    fn on_recovery_sccrp(&mut self, now: Instant, via: u16, old: u16, m: &ControlMessage<'static>) {
        let secret = self.secret_of(via).map(<[u8]>::to_vec);
        let Some(t) = self.tunnels.get_mut(&via) else {
            return;
        };
        if t.state != TunnelState::WaitCtlReply {
            return;
        }
        t.learn_peer_id(m.assigned_tunnel_id().unwrap_or(0));
        let not_authorized = ResultCode::new(ResultCodeValue::STOPCCN_NOT_AUTHORIZED);
        if let Some(ours) = t.our_challenge.as_deref().copied() {
            if !response_ok(
                MessageType::SCCRP,
                secret.as_deref(),
                &ours,
                m.challenge_response(),
            ) {
                return self.abandon_recovery(now, via, old, not_authorized);
            }
        }
        // RFC 4951 3.2.2: "If the recovery endpoint did not receive the Suggested Control
        // Sequence (SCS) AVP in the SCCRP then it MUST reset the Ns and Nr values to zero."
        let seq = m.suggested_control_sequence().unwrap_or_default();
        t.channel
            .set_peer_window(m.receive_window_size().unwrap_or(4));
        let mut scccn = ControlMessage::scccn(t.peer_header_id());
        if let Some(ch) = m.challenge() {
            let Some(s) = &secret else {
                return self.abandon_recovery(now, via, old, not_authorized);
            };
            scccn.push(Avp::mandatory(AvpValue::ChallengeResponse(
                challenge_response(MessageType::SCCCN, s, ch),
            )));
        }
        t.recovery = Some(Box::new(Recovery::RecoveryTunnel {
            old,
            scccn_sent: true,
        }));
        if let Some(o) = self.tunnels.get_mut(&old) {
            o.channel.set_seq(now, seq.ns, seq.nr);
        }
        self.send_ctrl(now, via, scccn);
        self.clear_not_established(now, old);
        self.data_channel_reset(now, old, true);
    }

    /// RFC 4951 3.2.3, data channel reset of the sessions of `old` that use sequence numbers,
    /// when the recovery tunnel is up at this end (`recovering`: we are the recovery endpoint).
    ///
    /// * "If one of the endpoints does not exhibit the capability (indicated in 'D' bit in the
    ///   Failover Capability AVP) to reset the Nr value, then data channels using sequence
    ///   numbers are considered non recoverable. Those sessions SHOULD be torn down by the
    ///   recovery endpoint by sending a Call-Disconnect-Notify (CDN)": the recovery endpoint
    ///   sends CDN (Result 2; it leaves once the old tunnel resumes) for each, its role hearing
    ///   of it as a refused session.
    /// * Otherwise "The recovery endpoint sets the Ns value to zero" (the remote endpoint
    ///   "continues to use the Ns values it was using previously"), and an endpoint with the D
    ///   bit resets its Nr from [`FailoverConfig::data_reset_packets`] late messages in sequence
    ///   ([`Session::arm_nr_reset`]); a message ahead of the Ns expected is taken as always.
    fn data_channel_reset(&mut self, now: Instant, old: u16, recovering: bool) {
        let (ours, need) = self
            .cfg
            .failover
            .as_ref()
            .map_or((false, 1), |f| (f.data, f.data_reset_packets));
        let Some(t) = self.tunnels.get(&old) else {
            return;
        };
        let both = ours && t.peer_failover.is_some_and(|f| f.data);
        let sequenced: Vec<u16> = t
            .sessions
            .values()
            .filter(|s| s.sequencing)
            .map(|s| s.local_id)
            .collect();
        for sid in sequenced {
            if recovering && !both {
                let text = b"data channel not recoverable (RFC 4951 3.2.3)";
                if self.clear_session(now, (old, sid), ErrorCode::NO_ERROR, text, true) {
                    self.stats.sessions_cleared_at_recovery =
                        self.stats.sessions_cleared_at_recovery.saturating_add(1);
                }
                continue;
            }
            let Some(s) = self.session_mut(old, sid) else {
                continue;
            };
            if recovering {
                s.data_ns = 0;
            }
            if ours {
                s.arm_nr_reset(need);
            }
        }
    }

    /// RFC 4951 3.3 Step I: "For control channel failure, after the recovery tunnel is
    /// established, the sessions that were not in an established state MUST be silently
    /// cleared (i.e., without sending a CDN message) by each endpoint." Called when the
    /// recovery tunnel is up at this end: the recovering endpoint on its SCCRP (its SCCCN sent,
    /// its control channel reset: nothing taken on the old tunnel before, 3.2.1), the remote
    /// endpoint on the SCCCN; so no session is set up on the old tunnel before this (3.2.2: "An
    /// endpoint MUST prevent the establishment of new sessions until it has cleared ... the
    /// sessions that were not in an established state"; a LAC places no new call on a tunnel
    /// in a recovery). Each session of `old` not established goes without CDN; its role hears
    /// of it as a refused session (CDN Result 2 in the event, nothing sent). Only RFC 4951
    /// recoveries: an LNS takeover resumed silently keeps its calls in set-up.
    fn clear_not_established(&mut self, now: Instant, old: u16) {
        let gone: Vec<u16> = match self.tunnels.get(&old) {
            Some(t) => t
                .sessions
                .values()
                .filter(|s| s.state != SessionState::Established)
                .map(|s| s.local_id)
                .collect(),
            None => return,
        };
        for sid in gone {
            let text = b"cleared: not established at the failover (RFC 4951 3.3)";
            if self.clear_session(now, (old, sid), ErrorCode::NO_ERROR, text, false) {
                self.stats.sessions_cleared_at_recovery =
                    self.stats.sessions_cleared_at_recovery.saturating_add(1);
            }
        }
    }

    /// Clears session `sid` of tunnel `tid` for an RFC 4951 reason: CDN Result 2 with `error`
    /// and `text`, sent to the peer when `cdn` (else silently, nothing sent); its role hears of
    /// it as a refused session. The session's messages still queued (an ICRP waiting for the
    /// peer's window) are forgotten ([`Channel::forget_session`]): a cleared call sends nothing
    /// more (the peer cleared it too at Step I, 3.3, and would get an ICRP for a session it no
    /// longer has). `false` when there is no such session.
    fn clear_session(
        &mut self,
        now: Instant,
        (tid, sid): (u16, u16),
        error: ErrorCode,
        text: &'static [u8],
        cdn: bool,
    ) -> bool {
        let Some(t) = self.tunnels.get_mut(&tid) else {
            return false;
        };
        let Some(peer) = t.sessions.get(&sid).map(|s| s.peer_id.map(NonZeroU16::get)) else {
            return false;
        };
        t.channel.forget_session(sid, peer);
        let result = ResultCode::with_error(
            ResultCodeValue::CDN_GENERAL_ERROR,
            error,
            Cow::Borrowed(text),
        );
        self.refuse_session(now, (tid, sid), result, cdn)
    }

    /// Removes session `sid` of tunnel `tid`, sends CDN `result` to the peer's Session ID when
    /// `cdn`, and tells its role ([`Up::SessionRefused`]). `false` when there is no such
    /// session.
    pub(super) fn refuse_session(
        &mut self,
        now: Instant,
        (tid, sid): (u16, u16),
        result: ResultCode<'static>,
        cdn: bool,
    ) -> bool {
        let Some(session) = self.remove_session(now, tid, sid) else {
            return false;
        };
        if cdn {
            let m = ControlMessage::cdn(0, session.peer_header_id(), sid, result.clone());
            self.send_ctrl(now, tid, m);
        }
        self.ups
            .push_back(Up::SessionRefused(Box::new(SessionRefused {
                tunnel: tid,
                session,
                result,
            })));
        true
    }

    /// The non-failed endpoint: the SCCCN of a recovery tunnel (its Challenge Response checked,
    /// StopCCN Result 4 when wrong). The old tunnel resumes with the recovery tunnel's peer.
    fn on_recovery_scccn(&mut self, now: Instant, via: u16, old: u16, m: &ControlMessage<'static>) {
        let Some(t) = self.tunnels.get(&via) else {
            return;
        };
        if t.state != TunnelState::WaitCtlConn {
            return;
        }
        if let Some(ours) = t.our_challenge.as_deref().copied() {
            let r = m.challenge_response();
            if !response_ok(MessageType::SCCCN, self.secret_of(via), &ours, r) {
                let rc = ResultCode::new(ResultCodeValue::STOPCCN_NOT_AUTHORIZED);
                return self.abandon_recovery(now, via, old, rc);
            }
        }
        let (peer, local) = (t.peer, t.local);
        self.hold_silently(now, via);
        let Some(o) = self.tunnels.get_mut(&old) else {
            return;
        };
        let resume_ns = match o.recovery.as_deref() {
            Some(&Recovery::Answering { resume_ns, .. }) => Some(resume_ns),
            _ => None,
        };
        let key = (o.peer, o.peer_header_id());
        o.peer = peer;
        if local.is_some() {
            o.local = local;
        }
        self.by_peer.remove(key, old);
        self.by_peer.insert(&self.tunnels, old);
        // First the calls in set-up go, with what they had queued (nothing is sent: Step I),
        // then the channel resumes: a queued ICRP of theirs never leaves.
        self.clear_not_established(now, old);
        if let (Some(ns), Some(o)) = (resume_ns, self.tunnels.get_mut(&old)) {
            // What we sent before the suggestion and the peer never acknowledged is dropped: its
            // side resumes expecting `ns` (only now, the recovery being authenticated).
            o.channel.discard_before(now, ns);
        }
        self.data_channel_reset(now, old, false);
        self.resumed(now, old);
    }

    /// Whether old tunnel `tid`'s control channel is still before its reset (RFC 4951 3.2.2),
    /// what arrives on it being discarded silently (3.2.1: "Any control packet received on the
    /// recovered tunnel before control channel reset (Section 3.2.2) MUST be silently
    /// discarded"). 3.2.2: "The control channel on the recovery endpoint is reset upon getting a
    /// valid SCCRP on the recovery tunnel, whereas the control channel on the remote endpoint is
    /// reset upon getting a valid SCCCN on the recovery tunnel": the recovering endpoint
    /// discards until its recovery tunnel's SCCRP is taken (its SCCCN sent), not until the
    /// SCCCN is acknowledged (what the peer sends once it took the SCCCN may come first; it is
    /// taken, our answers held until the recovery completes); the remote endpoint until the
    /// SCCCN.
    pub(super) fn before_reset(&self, tid: u16) -> bool {
        match self.tunnels.get(&tid).and_then(|t| t.recovery.as_deref()) {
            Some(Recovery::Answering { .. }) => true,
            Some(Recovery::Recovering { via, .. }) => !matches!(
                self.tunnels.get(via).and_then(|r| r.recovery.as_deref()),
                Some(Recovery::RecoveryTunnel {
                    scccn_sent: true,
                    ..
                })
            ),
            _ => false,
        }
    }

    /// The old tunnel `old` resumed: its recovery is over, HELLO restarts,
    /// [`Event::TunnelRecovered`].
    fn resumed(&mut self, now: Instant, old: u16) {
        let Some(o) = self.tunnels.get_mut(&old) else {
            return;
        };
        o.recovery = None;
        o.last_rx = now;
        o.channel.set_held(now, false);
        let peer = o.peer;
        self.timers.disarm(&Timer::Recovery(old));
        self.arm_hello(now, old);
        self.stats.recoveries_succeeded = self.stats.recoveries_succeeded.saturating_add(1);
        self.event(Event::TunnelRecovered { tunnel: old, peer });
        self.flush(now, old);
    }

    /// After tunnel `tid` received a datagram showing `peer_next` as the peer's next Ns: the
    /// failed endpoint's recovery completes once the SCCCN of its recovery tunnel is
    /// acknowledged and every message the peer sent on it was taken (one still to come may be
    /// the StopCCN of a recovery the peer saw overtaken: the acknowledgement of our SCCCN alone
    /// does not say the SCCRP's numbers are the peer's). The old tunnel resumes, FSQ asks about
    /// the unsure sessions.
    pub(super) fn recovery_progress(&mut self, now: Instant, tid: u16, peer_next: u16) {
        let Some(t) = self.tunnels.get(&tid) else {
            return;
        };
        let Some(&Recovery::RecoveryTunnel {
            old,
            scccn_sent: true,
        }) = t.recovery.as_deref()
        else {
            return;
        };
        if !t.channel.is_idle() || super::super::channel::seq_lt(t.channel.seq().1, peer_next) {
            return;
        }
        self.complete_recovery(now, tid, old);
    }

    /// The failed endpoint's recovery of `old` through recovery tunnel `via` is complete (its
    /// SCCCN taken by the peer): the recovery tunnel goes silently, the old tunnel resumes, and
    /// FSQ asks about the unsure sessions.
    fn complete_recovery(&mut self, now: Instant, via: u16, old: u16) {
        self.hold_silently(now, via);
        let query = match self
            .tunnels
            .get(&old)
            .and_then(|o| o.recovery.as_deref().cloned())
        {
            Some(Recovery::Recovering { query, .. }) => query,
            _ => return,
        };
        if let Some(o) = self
            .tunnels
            .get_mut(&old)
            .filter(|o| o.state == TunnelState::Closing)
        {
            // The peer stopped the old tunnel on it after the reset (taken since the SCCRP): it
            // is not resumed, only let go of (its acknowledgements sent).
            o.recovery = None;
            o.channel.set_held(now, false);
            return;
        }
        self.resumed(now, old);
        self.send_fsq(now, old, &query);
    }

    /// Session `sid` of tunnel `tid` came to us after the tunnel's recovery started (a virtual
    /// LNS member adopts a session the member it took the tunnel from established meanwhile):
    /// one we are unsure of (RFC 4951 3.3: the failed endpoint queries the sessions it is unsure
    /// of; the peer may have cleared it as not yet established). While the tunnel is recovering
    /// it joins the sessions its FSQ will name; once recovered, with a peer that advertised the
    /// C bit and our own failover on, it gets an FSQ of its own. Otherwise nothing.
    pub(crate) fn unsure_session(&mut self, now: Instant, tid: u16, sid: u16) {
        let ours = self.cfg.failover.as_ref().is_some_and(|f| f.control);
        let Some(t) = self.tunnels.get_mut(&tid) else {
            return;
        };
        if !t.sessions.contains_key(&sid) {
            return;
        }
        match t.recovery.as_deref_mut() {
            Some(Recovery::Recovering { query, .. }) => {
                if let Err(i) = query.binary_search(&sid) {
                    query.insert(i, sid);
                }
            }
            None if ours
                && t.state == TunnelState::Established
                && t.peer_failover.is_some_and(|f| f.control) =>
            {
                self.send_fsq(now, tid, &[sid]);
            }
            _ => {}
        }
    }

    /// Every session of tunnel `tid` became one we are unsure of: another endpoint behind our
    /// address (a virtual LNS member that took the tunnel over too and recovered it, then
    /// yielded it to us) may have taken messages of the peer for them that we never get (a
    /// CDN, an FSR answering 0: RFC 2661 5.8, the peer does not send an acknowledged message
    /// again). RFC 4951 3.3: the endpoint queries the sessions it is unsure of with FSQ, and
    /// the peer's FSR decides (a session it answers 0 for is cleared silently, `on_fsr`). Once
    /// recovered, with a peer that advertised the C bit and our own failover on, an FSQ names
    /// them all now (at most [`MAX_FSQ_SESSIONS`] a message; a tunnel's sessions are bounded by
    /// [`crate::l2tp::Config::max_sessions_per_tunnel`]). A tunnel still recovering names them
    /// all in the FSQ that follows its recovery already (a virtual LNS member recovers what it
    /// took with [`UnsureSessions::All`], and a session adopted since joins the query,
    /// [`Core::unsure_session`]). Otherwise nothing.
    pub(crate) fn unsure_sessions(&mut self, now: Instant, tid: u16) {
        let ours = self.cfg.failover.as_ref().is_some_and(|f| f.control);
        let Some(t) = self.tunnels.get(&tid) else {
            return;
        };
        if !ours
            || t.recovery.is_some()
            || t.state != TunnelState::Established
            || !t.peer_failover.is_some_and(|f| f.control)
        {
            return;
        }
        let mut all: Vec<u16> = t.sessions.keys().copied().collect();
        all.sort_unstable();
        self.send_fsq(now, tid, &all);
    }

    /// FSQ on `tid` about our sessions `query` (RFC 4951), at most [`MAX_FSQ_SESSIONS`] a
    /// message.
    pub fn send_fsq(&mut self, now: Instant, tid: u16, query: &[u16]) {
        let Some(t) = self.tunnels.get(&tid) else {
            return;
        };
        let states: Vec<FailoverSessionState> = query
            .iter()
            .filter_map(|sid| t.sessions.get(sid))
            .map(|s| FailoverSessionState {
                session_id: s.local_id,
                remote_session_id: s.peer_header_id(),
            })
            .collect();
        let n = states.len() as u64;
        for chunk in states.chunks(MAX_FSQ_SESSIONS) {
            self.send_ctrl(now, tid, ControlMessage::fsq(0, chunk));
        }
        self.stats.sessions_queried = self.stats.sessions_queried.saturating_add(n);
    }

    /// FSQ (RFC 4951 3.3): FSR with one Failover Session State per queried session: our Session
    /// ID when we have the session with that peer Session ID, or have it still waiting for the
    /// reply that assigns the peer's id (a LAC's call whose ICRP the recovering LNS sends again
    /// after the recovery, `lns::takeover` docs: RFC 4951's FSR answers 0 for a session the
    /// receiver does not have, and this one it has), else 0. A session of ours the query names
    /// with another peer Session ID is not cleared but marked stale and queried in turn ("the
    /// local session MUST not be cleared, but rather marked stale, to be queried later using an
    /// FSQ message"): our FSQ about it follows the FSR.
    pub(super) fn on_fsq(&mut self, now: Instant, tid: u16, m: &ControlMessage<'static>) {
        let Some(t) = self.tunnels.get(&tid) else {
            return;
        };
        let mut stale = Vec::new();
        let states: Vec<FailoverSessionState> = m
            .failover_session_states()
            .map(|q| {
                let ours = q.remote_session_id;
                let session = t.sessions.get(&ours);
                let known = session.is_some_and(|s| {
                    s.peer_header_id() == q.session_id
                        || (s.peer_header_id() == 0
                            && matches!(
                                s.state,
                                SessionState::WaitReply | SessionState::WaitOutgoingReply
                            ))
                });
                if session.is_some() && !known {
                    stale.push(ours);
                }
                FailoverSessionState {
                    session_id: if known { ours } else { 0 },
                    remote_session_id: q.session_id,
                }
            })
            .collect();
        self.send_ctrl(now, tid, ControlMessage::fsr(0, &states));
        stale.sort_unstable();
        stale.dedup();
        stale.truncate(MAX_FSQ_SESSIONS);
        self.send_fsq(now, tid, &stale);
    }

    /// FSR (RFC 4951 3.3): "for each FSS AVP it MUST use the Remote Session ID field to identify
    /// the local session and silently (without sending a CDN) clear the session if the Session
    /// ID in the AVP was zero. Otherwise, it MUST consider the session to be in an established
    /// state and recovered." The role hears of a cleared session as a refused one.
    pub(super) fn on_fsr(&mut self, now: Instant, tid: u16, m: &ControlMessage<'static>) {
        let gone: Vec<u16> = {
            let Some(t) = self.tunnels.get(&tid) else {
                return;
            };
            m.failover_session_states()
                .filter(|r| r.session_id == 0 && t.sessions.contains_key(&r.remote_session_id))
                .map(|r| r.remote_session_id)
                .collect()
        };
        for sid in gone {
            let text = b"cleared: the peer's FSR names no such session";
            if self.clear_session(now, (tid, sid), ErrorCode::INVALID_SESSION_ID, text, false) {
                self.stats.sessions_cleared_by_fsr =
                    self.stats.sessions_cleared_by_fsr.saturating_add(1);
            }
        }
    }

    /// Our Session ID of the established session an ICRQ on tunnel `tid` names, the ICRQ's
    /// Assigned Session ID being the peer's Session ID of that session and its Call Serial
    /// Number another than the session's, when both ends of the tunnel advertised a Failover
    /// Capability (RFC 4951 3.3: the peer, which thinks the session gone, chose its Session ID
    /// again for a new call). The same Call Serial Number is that session's own ICRQ again (a
    /// copy a resumed channel took anew), ignored as before (RFC 2661 7.4.2).
    fn established_named_by_icrq(&self, tid: u16, m: &ControlMessage<'static>) -> Option<u16> {
        let t = self.tunnels.get(&tid)?;
        if self.cfg.failover.is_none() || t.peer_failover.is_none() || m.header.session_id != 0 {
            return None;
        }
        let peer_sid = m.assigned_session_id()?;
        let serial = m.call_serial_number();
        t.sessions
            .find_by_peer(peer_sid)
            .filter(|s| s.state == SessionState::Established && serial != Some(s.serial))
            .map(|s| s.local_id)
    }

    /// Whether ICRQ `m` on tunnel `tid` names one of our established sessions
    /// ([`Core::refuse_icrq_for_established`]).
    pub(super) fn icrq_names_established(&self, tid: u16, m: &ControlMessage<'static>) -> bool {
        self.established_named_by_icrq(tid, m).is_some()
    }

    /// RFC 4951 3.3: "before all sessions are synchronized using an FSQ/FSR mechanism, if
    /// endpoint receives an ICRQ for a session in an established state, then it MUST respond to
    /// such an ICRQ with a CDN. The CDN message must set Assigned/Local Session ID AVP ([L2TPv2]
    /// Section 4.4.4 ...) to its local Session ID and clear the session that it considered
    /// established." The CDN (Result 2, Error 5, to the ICRQ's Assigned Session ID) carries our
    /// Session ID of that session, which is cleared (its role hears of it as a refused
    /// session); the ICRQ's call is not taken. Our reading: the sessions count as not
    /// synchronised whenever the peer's ICRQ names one we hold established (the peer reuses a
    /// Session ID only for a session it no longer has), on any tunnel where both ends advertised
    /// a Failover Capability, recovered or not; on other tunnels such an ICRQ stays RFC 2661's
    /// second ICRQ for a session, ignored.
    pub(super) fn refuse_icrq_for_established(
        &mut self,
        now: Instant,
        tid: u16,
        m: &ControlMessage<'static>,
    ) {
        let Some(sid) = self.established_named_by_icrq(tid, m) else {
            return;
        };
        let text = b"ICRQ for an established session: cleared";
        if self.clear_session(now, (tid, sid), ErrorCode::INVALID_SESSION_ID, text, true) {
            self.stats.sessions_cleared_by_icrq =
                self.stats.sessions_cleared_by_icrq.saturating_add(1);
        }
    }

    /// The control channel of `tid` gave up (RFC 2661 5.8). A tunnel whose peer advertised the C
    /// bit, with failover configured here, is kept until the peer's Recovery Time runs out
    /// (RFC 4951); a tunnel in a recovery waits for it; any other goes down.
    ///
    /// RFC 4951 5.1: the Recovery Time "starts when an endpoint's control channel timeout
    /// ([L2TPv2] Section 5.8 ...) is started": it is counted from when the retransmission timer
    /// of the message that went unacknowledged started (it was sent, or the last
    /// acknowledgement moved the window: [`Channel::unacknowledged_for`]), not from when the
    /// retransmissions ran out. A Recovery Time shorter than the retransmissions took keeps the
    /// tunnel no longer ("A value of zero ... means no additional time is requested").
    pub(crate) fn channel_dead(&mut self, now: Instant, tid: u16) {
        let Some(t) = self.tunnels.get_mut(&tid) else {
            return;
        };
        match &t.recovery {
            Some(r) if r.is_recovery_tunnel() => self.tunnel_dead(tid),
            Some(_) => {}
            None => {
                let started = now
                    .checked_sub(t.channel.unacknowledged_for(now))
                    .unwrap_or(now);
                let until = t
                    .peer_failover
                    .filter(|f| f.control && self.cfg.failover.is_some())
                    .filter(|_| t.state == TunnelState::Established)
                    .map(|f| started + Duration::from_millis(u64::from(f.recovery_time_ms)));
                match until {
                    Some(until) if until > now => {
                        t.recovery = Some(Box::new(Recovery::Waiting { until }));
                        self.timers.arm(Timer::Recovery(tid), until);
                        self.stats.recovery_waits = self.stats.recovery_waits.saturating_add(1);
                    }
                    _ => self.tunnel_dead(tid),
                }
            }
        }
    }

    /// RFC 4951 5.1, the Recovery Time: "The timer is also stopped if a control channel message
    /// is acknowledged by the peer in the situation when there was no failover, but the loss of
    /// the control channel message was a temporary phenomenon." Tunnel `tid`, kept waiting for
    /// its peer's recovery ([`Recovery::Waiting`]), had a control message acknowledged by the
    /// peer: the wait ends (its timer disarmed) and the tunnel goes on as before, its channel
    /// retransmitting what is still unacknowledged.
    pub(super) fn wait_ended(&mut self, tid: u16) {
        let Some(t) = self.tunnels.get_mut(&tid) else {
            return;
        };
        if t.recovery.as_deref().is_some_and(Recovery::waits) {
            t.recovery = None;
            self.timers.disarm(&Timer::Recovery(tid));
        }
    }

    /// Is tunnel `tid` kept for its peer's recovery (waiting, or being recovered)?
    pub(crate) fn awaiting_recovery(&self, tid: u16) -> bool {
        self.tunnels.get(&tid).is_some_and(|t| {
            matches!(
                t.recovery.as_deref(),
                Some(Recovery::Waiting { .. } | Recovery::Answering { .. })
            )
        })
    }

    /// The peer's Recovery Time ran out: a tunnel still waiting goes down; one being recovered
    /// waits for its recovery tunnel.
    pub(super) fn on_recovery_timer(&mut self, now: Instant, tid: u16) {
        match self
            .tunnels
            .get_mut(&tid)
            .map(|t| (t.recovery.as_deref().cloned(), t))
        {
            Some((Some(Recovery::Answering { .. }), _)) => {
                self.timers
                    .insert(Timer::Recovery(tid), now + self.cfg.retransmit_cap);
            }
            Some((Some(Recovery::Waiting { .. }), t)) => {
                t.recovery = None;
                self.tunnel_dead(tid);
            }
            _ => {}
        }
    }

    /// A recovery tunnel's channel died: it goes silently and its recovery failed. `false` when
    /// `tid` is no recovery tunnel.
    pub(super) fn recovery_tunnel_dead(&mut self, tid: u16) -> bool {
        let old = match self.tunnels.get(&tid).and_then(|t| t.recovery.as_deref()) {
            Some(Recovery::RecoveryTunnel { old, .. }) => *old,
            _ => return false,
        };
        self.remove_tunnel(tid);
        self.recovery_failed(old);
        true
    }

    /// The recovery of `old` failed ([`Event::TunnelRecoveryFailed`]). The failed endpoint
    /// cannot resume the old tunnel: it is cleared (its sessions go down). The non-failed
    /// endpoint keeps it until the peer's Recovery Time runs out, if it was waiting.
    fn recovery_failed(&mut self, old: u16) {
        let deadline = self.timers.deadline(&Timer::Recovery(old));
        let Some(t) = self.tunnels.get_mut(&old) else {
            return;
        };
        let was = t.recovery.take();
        let peer = t.peer;
        if let Some(until) = deadline {
            t.recovery = Some(Box::new(Recovery::Waiting { until }));
        }
        self.stats.recoveries_failed = self.stats.recoveries_failed.saturating_add(1);
        self.event(Event::TunnelRecoveryFailed { tunnel: old, peer });
        if matches!(was.as_deref(), Some(Recovery::Recovering { .. })) {
            self.tunnel_dead(old);
        }
    }
}

#[cfg(test)]
mod tests;
