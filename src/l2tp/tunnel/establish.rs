//! Tunnel establishment (RFC 2661 7.2): SCCRQ / SCCRP / SCCCN, the Tie Breaker (4.4.3), the
//! challenge and its response (5.1.1), and the stateless StopCCN refusing an SCCRQ.

use super::super::channel::Channel;
use super::super::wire::avp::AvpValue;
use super::super::wire::{
    Avp, ControlMessage, ErrorCode, MessageType, ResultCode, ResultCodeValue, challenge_response,
};
use super::super::{InputError, Table, Unexpected};
use super::{
    Core, NewSccrq, Tunnel, TunnelClosed, TunnelState, Up, advertised_capabilities, refusal,
};
use crate::io::ct_eq;
use bytes::Bytes;
use std::borrow::Cow;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU16;
use std::time::Instant;

impl Tunnel {
    /// A tunnel in set-up: `peer_id` 0 while the peer has not assigned its Tunnel ID.
    pub(super) fn new(
        (local_id, peer_id): (u16, u16),
        peer: SocketAddr,
        state: TunnelState,
        channel: Channel,
        now: Instant,
    ) -> Self {
        Tunnel {
            local_id,
            peer_id: NonZeroU16::new(peer_id),
            peer,
            local: None,
            state,
            channel,
            sessions: Default::default(),
            our_challenge: None,
            tie_breaker: None,
            peer_load_balance_capable: false,
            requested_with_lbc: false,
            peer_framing_capabilities: 0,
            peer_bearer_capabilities: None,
            stop_result: None,
            last_rx: now,
            peer_failover: None,
            recovery: None,
            secret: None,
        }
    }
}

/// Does `response` answer `challenge` for message type `mt` with `secret` (RFC 2661 5.1.1:
/// `MD5(message type, secret, challenge)`, compared in constant time)? No response, or no
/// secret to check it with, is a failure.
pub(super) fn response_ok(
    mt: MessageType,
    secret: Option<&[u8]>,
    challenge: &[u8; 16],
    response: Option<[u8; 16]>,
) -> bool {
    match (response, secret) {
        (Some(r), Some(s)) => ct_eq(&r, &challenge_response(mt, s, challenge)),
        _ => false,
    }
}

impl Core {
    /// The AVPs SCCRQ and SCCRP share after the Host Name (RFC 2661 6.1, 6.2): Bearer
    /// Capabilities, Receive Window Size, the Tie Breaker (SCCRQ only), Firmware Revision and
    /// Vendor Name; then a Challenge when configured, which is returned to check the answer.
    fn add_sccrx_avps(
        &mut self,
        msg: &mut ControlMessage<'static>,
        tie_breaker: Option<u64>,
        challenge: bool,
    ) -> Option<[u8; 16]> {
        msg.push(Avp::mandatory(AvpValue::BearerCapabilities(3)));
        msg.push(Avp::mandatory(AvpValue::ReceiveWindowSize(
            self.cfg.receive_window,
        )));
        if let Some(tb) = tie_breaker {
            msg.push(Avp::optional(AvpValue::TieBreaker(tb)));
        }
        msg.push(Avp::optional(AvpValue::FirmwareRevision(1)));
        msg.push(Avp::optional(AvpValue::VendorName(Cow::Borrowed(b"telcp"))));
        self.failover_avps(msg);
        if !challenge {
            return None;
        }
        let mut c = [0u8; 16];
        self.rng.fill_bytes(&mut c);
        msg.push(Avp::mandatory(AvpValue::Challenge(Cow::Owned(c.to_vec()))));
        Some(c)
    }

    /// Is there room for one more tunnel, and one more in set-up?
    fn tunnel_room(&self) -> bool {
        self.tunnels.len() < self.cfg.max_tunnels
            && self.pending_tunnels.len() < self.cfg.max_pending_tunnels
    }

    /// Opens a tunnel to `peer` (SCCRQ; `lbc`: carry LoadBalanceCapable) from our address
    /// `local` (`None`: the caller's default), set before the SCCRQ is queued so that every
    /// datagram of the tunnel leaves from it (an RFC 4951 recovery tunnel must come from the
    /// failed member's address), with the tunnel's own `secret` (`None`: the configuration's).
    /// A tunnel with its own secret always sends a Challenge and requires the LNS's response
    /// (RFC 2661 5.1.1), whatever [`super::super::Config::challenge`] says: the secret is there
    /// to authenticate that tunnel.
    pub fn open_tunnel_with(
        &mut self,
        now: Instant,
        peer: SocketAddr,
        local: Option<SocketAddr>,
        lbc: bool,
        secret: Option<super::TunnelSecret>,
    ) -> Option<u16> {
        if !self.tunnel_room() {
            return None;
        }
        let id = self.alloc_tunnel_id()?;
        let tb = self.rng.next_u64();
        let mut msg = ControlMessage::sccrq(id, Cow::Owned(self.cfg.host_name.clone()), 3);
        let ask = self.cfg.challenge || secret.is_some();
        let challenge = self.add_sccrx_avps(&mut msg, Some(tb), ask);
        if lbc {
            msg.push(Avp::optional(AvpValue::LoadBalanceCapable {
                vendor: self.cfg.enterprise,
            }));
        }
        let channel = Channel::with_config(self.shared_channel_config(), 0);
        let mut t = Tunnel::new((id, 0), peer, TunnelState::WaitCtlReply, channel, now);
        t.our_challenge = challenge.map(Box::new);
        t.tie_breaker = Some(tb);
        t.requested_with_lbc = lbc;
        t.local = local;
        t.secret = secret;
        self.tunnels.insert(id, Box::new(t));
        self.pending_tunnels.insert(id);
        self.send_ctrl(now, id, msg);
        self.arm_hello(now, id);
        Some(id)
    }

    /// Stateless StopCCN answering an SCCRQ we do not take (no tunnel kept). The SCCRQ is
    /// unauthenticated, its source possibly spoofed: at most [`super::super::Config::refusals`]
    /// of these leave, the rest are counted in [`super::super::Stats::refusals_suppressed`].
    pub fn refuse_sccrq(
        &mut self,
        now: Instant,
        from: SocketAddr,
        to: Option<SocketAddr>,
        sccrq: &ControlMessage<'_>,
        result: ResultCode<'static>,
        redirect: Option<IpAddr>,
    ) {
        if !self.refusals.take(now) {
            self.stats.refusals_suppressed = self.stats.refusals_suppressed.saturating_add(1);
            return;
        }
        self.stats.refusals_sent = self.stats.refusals_sent.saturating_add(1);
        let peer_tid = sccrq.assigned_tunnel_id().unwrap_or(0);
        let mut m = ControlMessage::stopccn(peer_tid, 0, result);
        if let Some(addr) = redirect {
            m.push(Avp::optional(AvpValue::RedirectTarget {
                vendor: self.cfg.enterprise,
                addr,
            }));
        }
        m.header.ns = 0;
        m.header.nr = sccrq.header.ns.wrapping_add(1);
        let mut v = Vec::with_capacity(m.encoded_len());
        m.emit(&mut v);
        self.transmit(from, to, Bytes::from(v));
    }

    /// Why an SCCRQ cannot be accepted here, the StopCCN refusing it already queued: a Challenge
    /// without a secret to answer it (Result 4, RFC 2661 5.1.1), or no room (Result 2 / Error 4).
    /// Otherwise the Challenge Response the SCCRP carries, if one is asked for.
    fn sccrq_admission(
        &mut self,
        now: Instant,
        from: SocketAddr,
        to: SocketAddr,
        sccrq: &ControlMessage<'static>,
        secret: Option<&super::TunnelSecret>,
    ) -> Result<Option<[u8; 16]>, InputError> {
        let mut response = None;
        if let Some(ch) = sccrq.challenge() {
            let secret = secret.map(|s| s.as_bytes()).or(self.cfg.secret.as_deref());
            match secret {
                Some(s) => response = Some(challenge_response(MessageType::SCCRP, s, ch)),
                None => {
                    let rc = ResultCode::new(ResultCodeValue::STOPCCN_NOT_AUTHORIZED);
                    self.refuse_sccrq(now, from, Some(to), sccrq, rc, None);
                    return Err(InputError::NotAuthorized);
                }
            }
        }
        if !self.tunnel_room() {
            let rc = ResultCode::with_error(
                ResultCodeValue::STOPCCN_GENERAL_ERROR,
                ErrorCode::INSUFFICIENT_RESOURCES,
                Cow::Borrowed(&b""[..]),
            );
            self.refuse_sccrq(now, from, Some(to), sccrq, rc, None);
            return Err(InputError::Full(Table::Tunnels));
        }
        Ok(response)
    }

    /// Accepts an SCCRQ: new tunnel, SCCRP sent. Refused (StopCCN, no tunnel kept) when the
    /// tunnel tables are full or its Challenge cannot be answered.
    pub fn accept_tunnel(
        &mut self,
        now: Instant,
        from: SocketAddr,
        to: SocketAddr,
        sccrq: ControlMessage<'static>,
    ) -> Result<u16, InputError> {
        self.accept_tunnel_with(now, from, to, sccrq, None)
    }

    /// [`Core::accept_tunnel`] with the tunnel's own `secret` (`None`: the configuration's): the
    /// SCCRQ's Challenge is answered with it, and the SCCRP always carries a Challenge whose
    /// response the SCCCN must bring (RFC 2661 5.1.1), as for [`Core::open_tunnel_with`]. An
    /// RFC 4951 recovery tunnel takes the old tunnel's secret (3.2.1: "It MUST use the same
    /// secret that was used to authenticate the old tunnel").
    pub(crate) fn accept_tunnel_with(
        &mut self,
        now: Instant,
        from: SocketAddr,
        to: SocketAddr,
        sccrq: ControlMessage<'static>,
        secret: Option<super::TunnelSecret>,
    ) -> Result<u16, InputError> {
        let peer_tid = sccrq.assigned_tunnel_id().unwrap_or(0);
        if peer_tid == 0 {
            return Err(InputError::Unexpected(Unexpected::ZeroTunnelId));
        }
        let response = self.sccrq_admission(now, from, to, &sccrq, secret.as_ref())?;
        let id = self
            .alloc_tunnel_id()
            .ok_or(InputError::Full(Table::Tunnels))?;
        let mut channel = Channel::with_config(self.shared_channel_config(), peer_tid);
        channel.set_peer_window(sccrq.receive_window_size().unwrap_or(4));
        let lbc = sccrq.load_balance_capable(self.cfg.enterprise);
        let caps = advertised_capabilities(&sccrq);
        let peer_failover = sccrq.failover_capability();
        let _ = channel.receive(now, sccrq);
        // Drop the ZLB the channel queued: the SCCRP acknowledges.
        while channel.poll_transmit().is_some() {}
        let mut msg =
            ControlMessage::sccrp(peer_tid, id, Cow::Owned(self.cfg.host_name.clone()), 3);
        let ask = self.cfg.challenge || secret.is_some();
        let challenge = self.add_sccrx_avps(&mut msg, None, ask);
        if let Some(r) = response {
            // After the Challenge, as before: the order of AVPs is free (RFC 2661 4.1).
            msg.push(Avp::mandatory(AvpValue::ChallengeResponse(r)));
        }
        let mut t = Tunnel::new((id, peer_tid), from, TunnelState::WaitCtlConn, channel, now);
        t.local = Some(to);
        t.our_challenge = challenge.map(Box::new);
        t.peer_load_balance_capable = lbc;
        t.peer_failover = peer_failover;
        t.secret = secret;
        (t.peer_framing_capabilities, t.peer_bearer_capabilities) = caps;
        self.tunnels.insert(id, Box::new(t));
        self.by_peer.insert(&self.tunnels, id);
        self.pending_tunnels.insert(id);
        self.send_ctrl(now, id, msg);
        self.arm_hello(now, id);
        Ok(id)
    }

    /// An SCCRQ (a control message with Tunnel ID 0 in its header) from `from`: a
    /// retransmission of one we took is acknowledged by its tunnel; one we cannot take is
    /// refused without keeping state (RFC 2661 4.1); a new one goes to the role.
    pub(super) fn on_sccrq(
        &mut self,
        now: Instant,
        from: SocketAddr,
        to: SocketAddr,
        c: ControlMessage<'static>,
    ) -> Result<(), InputError> {
        let peer_tid = c.assigned_tunnel_id().unwrap_or(0);
        if let Some(existing) = self.by_peer.get(&self.tunnels, (from, peer_tid)) {
            // Retransmitted SCCRQ: the channel re-acknowledges.
            self.deliver(now, existing, c);
            return Ok(());
        }
        if let Some((rc, err)) = refusal(&c) {
            self.refuse_sccrq(now, from, Some(to), &c, rc, None);
            return Err(err);
        }
        // RFC 4951 3.2.1: "When Tie Breaker AVP is used in a non recovery tunnel, the scope of
        // the tie breaker AVP's action MUST only be within non recovery tunnels. Therefore, losing
        // a tie against a non recovery tunnel MUST NOT result in termination of any recovery
        // tunnel": our recovery tunnels take no part in this tie.
        let ours = self
            .tunnels
            .values()
            .find(|t| {
                t.peer.ip() == from.ip()
                    && t.state == TunnelState::WaitCtlReply
                    && !t
                        .recovery
                        .as_deref()
                        .is_some_and(super::recovery::Recovery::is_recovery_tunnel)
            })
            .and_then(|t| t.tie_breaker.map(|tb| (t.local_id, tb)));
        match ours {
            Some((our_tid, tb)) => self.tie_break(from, to, c, our_tid, tb),
            None => {
                self.ups
                    .push_back(Up::Sccrq(Box::new(NewSccrq { from, to, msg: c })));
                Ok(())
            }
        }
    }

    /// RFC 2661 4.4.3: an SCCRQ from a peer to which our own SCCRQ (tunnel `our_tid`, Tie
    /// Breaker `tb`) is still unanswered. Every SCCRQ of ours carries a Tie Breaker. The lower
    /// value wins and the side that sent the higher one silently drops its own tunnel; equal
    /// values: both sides drop theirs; a request without a Tie Breaker loses to one with it.
    fn tie_break(
        &mut self,
        from: SocketAddr,
        to: SocketAddr,
        c: ControlMessage<'static>,
        our_tid: u16,
        tb: u64,
    ) -> Result<(), InputError> {
        let theirs = c.tie_breaker();
        if theirs.is_none_or(|theirs| tb < theirs) {
            // We win: the peer drops its request; ours stays outstanding.
            return Err(InputError::Unexpected(Unexpected::TieBreakerLost));
        }
        let tie = theirs == Some(tb);
        if !tie {
            // We lose: the role first takes the peer's SCCRQ, then re-requests our calls on that
            // tunnel.
            self.ups
                .push_back(Up::Sccrq(Box::new(NewSccrq { from, to, msg: c })));
        }
        // Drop ours silently (on a tie the peer drops its own too, and our calls start again on a
        // fresh tunnel with a fresh Tie Breaker).
        if let Some(mut t) = self.remove_tunnel(our_tid) {
            let sessions = t.sessions.drain().map(|(_, s)| s).collect();
            self.ups.push_back(Up::TunnelClosed(Box::new(TunnelClosed {
                tunnel: our_tid,
                was_setup: true,
                result: None,
                redirect: None,
                sessions,
            })));
        }
        if tie {
            return Err(InputError::Unexpected(Unexpected::TieBreakerEqual));
        }
        Ok(())
    }

    /// The SCCRP answering our SCCRQ (RFC 2661 7.2 wait-ctl-reply): its Challenge Response is
    /// checked, the peer's Tunnel ID, window and capabilities learnt, SCCCN sent (answering its
    /// Challenge, if any). A bad response, or a Challenge we have no secret to answer, clears the
    /// tunnel with StopCCN Result 4.
    pub(super) fn on_sccrp(&mut self, now: Instant, tid: u16, m: &ControlMessage<'static>) {
        let secret = self.secret_of(tid).map(<[u8]>::to_vec);
        let Some(t) = self.tunnels.get_mut(&tid) else {
            return;
        };
        if t.state != TunnelState::WaitCtlReply {
            return;
        }
        let peer_id = m.assigned_tunnel_id().unwrap_or(0);
        t.learn_peer_id(peer_id);
        let not_authorized = || ResultCode::new(ResultCodeValue::STOPCCN_NOT_AUTHORIZED);
        if let Some(ours) = t.our_challenge.as_deref().copied() {
            let r = m.challenge_response();
            if !response_ok(MessageType::SCCRP, secret.as_deref(), &ours, r) {
                self.close_tunnel(now, tid, not_authorized());
                return;
            }
        }
        (t.peer_framing_capabilities, t.peer_bearer_capabilities) = advertised_capabilities(m);
        t.peer_failover = m.failover_capability();
        t.channel
            .set_peer_window(m.receive_window_size().unwrap_or(4));
        self.by_peer.insert(&self.tunnels, tid);
        let mut scccn = ControlMessage::scccn(peer_id);
        if let Some(ch) = m.challenge() {
            let Some(s) = &secret else {
                self.close_tunnel(now, tid, not_authorized());
                return;
            };
            scccn.push(Avp::mandatory(AvpValue::ChallengeResponse(
                challenge_response(MessageType::SCCCN, s, ch),
            )));
        }
        self.send_ctrl(now, tid, scccn);
        self.tunnel_established(now, tid);
    }

    /// The SCCCN completing a tunnel the peer asked for (RFC 2661 7.2 wait-ctl-conn): its
    /// Challenge Response is checked (StopCCN Result 4 when wrong), then the tunnel is up.
    pub(super) fn on_scccn(&mut self, now: Instant, tid: u16, m: &ControlMessage<'static>) {
        let Some(t) = self.tunnels.get(&tid) else {
            return;
        };
        if t.state != TunnelState::WaitCtlConn {
            return;
        }
        if let Some(ours) = t.our_challenge.as_deref().copied() {
            let r = m.challenge_response();
            if !response_ok(MessageType::SCCCN, self.secret_of(tid), &ours, r) {
                let rc = ResultCode::new(ResultCodeValue::STOPCCN_NOT_AUTHORIZED);
                self.close_tunnel(now, tid, rc);
                return;
            }
        }
        self.tunnel_established(now, tid);
    }

    /// A tunnel enters the established state: out of the set-up table, idle timer (LAC),
    /// [`super::super::Event::TunnelUp`], and the role is told.
    fn tunnel_established(&mut self, now: Instant, tid: u16) {
        let Some(t) = self.tunnels.get_mut(&tid) else {
            return;
        };
        t.state = TunnelState::Established;
        let (peer, peer_tunnel, local) = (t.peer, t.peer_header_id(), t.local);
        self.pending_tunnels.remove(&tid);
        self.arm_idle(now, tid);
        self.event(super::super::Event::TunnelUp {
            tunnel: tid,
            peer,
            peer_tunnel,
            local,
        });
        self.ups.push_back(Up::TunnelUp(tid));
    }
}
