//! Received datagrams: data messages to their session, control messages through the tunnel's
//! channel to the tunnel machine (RFC 2661 7.2) or up to the role; StopCCN and the clearing of a
//! tunnel or a session that sent what cannot be taken (RFC 2661 4.1, 4.4.1, 5.7).

use super::super::session::{Session, SessionState};
use super::super::wire::{
    ControlMessage, DataMessage, ErrorCode, Message, MessageType, ResultCode, ResultCodeValue,
    WireError,
};
use super::super::{Data, Event, InputError, SessionRef, Unexpected};
use super::{Core, Timer, TunnelClosed, TunnelState, Up, refusal};
use bytes::Bytes;
use std::borrow::Cow;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU16;
use std::time::Instant;

impl Core {
    /// Parses and dispatches one datagram. PPP frames go to the data queue (at most
    /// [`super::super::Config::max_data_queue`]; beyond, dropped and counted in
    /// [`super::super::Stats::dropped_frames`]).
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        from: SocketAddr,
        to: SocketAddr,
        data: &[u8],
    ) -> Result<(), InputError> {
        // Hidden AVPs are unhidden with the secret of the tunnel the header names (RFC 2661 4.3).
        let tid = super::super::wire::header::peek_tunnel_id(data).unwrap_or(0);
        // A control message is parsed into an owned one at once (the channel may hold it); a
        // data message's frame is read in place.
        let c = if data.first().is_some_and(|f| f & 0x80 != 0) {
            // Into the AVP buffer of the last message the role was done with (`recycle`): taken
            // out while the options borrow the secret, put back when the parse did not use it.
            let mut spare = std::mem::take(&mut self.spare_avps);
            let r = Message::parse_owned_reusing(data, &self.parse_opts(tid), &mut spare);
            self.spare_avps = spare;
            // A value breaking its type's length rule: read again with that AVP kept raw, one
            // we cannot interpret (`wire::message` docs; RFC 2661 4.1, 4.4.2).
            let r = match r {
                Err(WireError::BadAvpLength { .. }) => {
                    Message::parse_owned_tolerant(data, &self.parse_opts(tid))
                }
                r => r,
            };
            match r? {
                Message::Control(c) => c,
                Message::Data(d) => return self.on_data(now, from, &d),
            }
        } else {
            match Message::parse_with(data, &self.parse_opts(tid))? {
                Message::Data(d) => return self.on_data(now, from, &d),
                Message::Control(c) => c.into_owned(),
            }
        };
        let tid = c.header.tunnel_id;
        if tid == 0 {
            if c.message_type() != Some(MessageType::SCCRQ) {
                return Err(InputError::UnknownTunnel(0));
            }
            if c.tunnel_recovery().is_some() {
                // RFC 4951: the SCCRQ of a recovery tunnel.
                return self.on_recovery_sccrq(now, from, to, c);
            }
            return self.on_sccrq(now, from, to, c);
        }
        let Some(t) = self
            .tunnels
            .get_mut(&tid)
            .filter(|t| t.peer.ip() == from.ip())
        else {
            self.note_stray_sccrp(from, to, &c);
            return Err(InputError::UnknownTunnel(tid));
        };
        // RFC 2661 8.1: the recipient of our SCCRQ "may pick a free port on its own system
        // (other than 1701)" for its reply; the first message from the peer fixes its port for
        // the life of the tunnel.
        if t.state == TunnelState::WaitCtlReply && t.peer_id.is_none() && t.peer != from {
            t.peer = from;
        }
        // A tunnel we opened without naming our address (a LAC's default) learns it from where
        // the peer's messages reach us: the handoff's `local` and our replies' source.
        if t.local.is_none() && !to.ip().is_unspecified() {
            t.local = Some(to);
        }
        self.deliver(now, tid, c);
        Ok(())
    }

    /// A data message: its PPP frame is queued when its session is established and its
    /// sequence number is not stale (RFC 2661 5.8).
    fn on_data(
        &mut self,
        now: Instant,
        from: SocketAddr,
        d: &DataMessage<'_>,
    ) -> Result<(), InputError> {
        let tid = d.header.tunnel_id;
        let sid = d.header.session_id;
        let t = self
            .tunnels
            .get_mut(&tid)
            .ok_or(InputError::UnknownTunnel(tid))?;
        if t.peer != from {
            return Err(InputError::UnknownTunnel(tid));
        }
        // RFC 2661 6.5: any message received on the tunnel, data included, defers HELLO.
        t.last_rx = now;
        let s = t
            .sessions
            .get_mut(&sid)
            .ok_or(InputError::UnknownSession(sid))?;
        if s.state != SessionState::Established {
            return Err(InputError::Unexpected(Unexpected::DataBeforeEstablished));
        }
        let mut seq = d.header.sequence;
        if !self.lns && !s.sequencing_required {
            // RFC 2661 5.4: without Sequencing Required the LNS controls sequencing; a LAC
            // receiving a data message without sequence numbers stops sending them, one with
            // them starts (its Ns picking up where it left off). What it receives is taken as
            // before, in the order it comes (dropping late frames is a MAY it never took here).
            s.sequencing = seq.is_some();
            seq = None;
        }
        if !s.accept_data(seq) {
            return Ok(());
        }
        self.data.push(Data {
            session: SessionRef {
                tunnel: tid,
                session: sid,
            },
            call: s.call,
            frame: Bytes::copy_from_slice(&d.payload),
        });
        Ok(())
    }

    /// A control message for tunnel `tid` through its channel (which acknowledges and orders).
    pub(super) fn deliver(&mut self, now: Instant, tid: u16, c: ControlMessage<'static>) {
        if self.before_reset(tid) {
            // RFC 4951 3.2.1: "Any control packet received on the recovered tunnel before control
            // channel reset (Section 3.2.2) MUST be silently discarded" (`Core::before_reset`).
            return;
        }
        let Some(t) = self.tunnels.get_mut(&tid) else {
            return;
        };
        // The Ns the peer sends next, as this datagram shows it (a ZLB carries it; a message is
        // the one before it).
        let peer_next = c.header.ns.wrapping_add(u16::from(!c.is_zlb()));
        // A tunnel kept for its peer's recovery (RFC 4951 5.1): what it had in flight.
        let waiting = t
            .recovery
            .as_deref()
            .and_then(|r| r.waits().then(|| t.channel.in_flight()));
        // A buffer kept across datagrams (taken: a message may lead to another delivery).
        let mut delivered = std::mem::take(&mut self.delivered);
        t.channel
            .receive_in(now, c, &mut delivered, &mut self.arena);
        let nr_moved = t.channel.take_nr_moved();
        let acked_while_waiting = waiting.is_some_and(|before| t.channel.in_flight() < before);
        if !self.dirty.contains(&tid) {
            self.dirty.push(tid);
        }
        // RFC 2661 6.5: HELLO is due only after `hello_interval` with nothing received on the
        // tunnel; a ZLB or a duplicate is a message received too.
        t.last_rx = now;
        // Taken from the end of the reversed buffer (one message as a rule), in order: no drain,
        // whose drop the compiler inlined or not as unrelated code moved.
        delivered.reverse();
        while let Some(m) = delivered.pop() {
            self.on_message(now, tid, m);
        }
        self.delivered = delivered;
        if nr_moved {
            self.ack_by_hello(now, tid);
        }
        if acked_while_waiting {
            self.wait_ended(tid);
        }
        self.flush(now, tid);
        self.recovery_progress(now, tid, peer_next);
    }

    /// The Nr of tunnel `tid`'s resumed channel moved to a retransmission of the peer
    /// ([`super::super::channel::Channel::resume_replica`]): unless a message of ours in flight
    /// carries the acknowledgement already, a HELLO carries it, retransmitted until the peer
    /// acknowledges it (RFC 2661 5.8, 6.5).
    fn ack_by_hello(&mut self, now: Instant, tid: u16) {
        let Some(t) = self.tunnels.get(&tid) else {
            return;
        };
        if t.state != TunnelState::Established || t.channel.in_flight() > 0 {
            return;
        }
        let peer = t.peer_header_id();
        self.send_ctrl(now, tid, ControlMessage::hello(peer));
    }

    /// One in-order control message of tunnel `tid`.
    fn on_message(&mut self, now: Instant, tid: u16, m: ControlMessage<'static>) {
        let Some(t) = self.tunnels.get_mut(&tid) else {
            return;
        };
        let Some(mt) = m.message_type() else {
            return;
        };
        if t.state == TunnelState::Closing {
            // Held only to acknowledge.
            return;
        }
        if t.recovery.as_ref().is_some_and(|r| r.is_recovery_tunnel()) {
            self.on_recovery_tunnel_message(now, tid, m);
            return;
        }
        if mt == MessageType::SCCRP && t.state == TunnelState::WaitCtlReply && t.peer_id.is_none() {
            // RFC 2661 4.4.3: from now on every header to the peer carries its Assigned Tunnel ID,
            // a StopCCN refusing this SCCRP included.
            if let Some(id) = m.assigned_tunnel_id().filter(|&id| id != 0) {
                t.learn_peer_id(id);
            }
        }
        let state = t.state;
        let established = state == TunnelState::Established;
        let failover_message = matches!(mt, MessageType::FSQ | MessageType::FSR);
        if mt.name().is_none() || (failover_message && self.cfg.failover.is_none()) {
            // RFC 2661 4.4.1: an unknown message type with M=1 in its Message Type AVP clears the
            // tunnel; with M=0 the message is ignored (the channel acknowledged it).
            if m.avps.first().is_some_and(|a| a.mandatory) {
                let rc = ResultCode::with_error(
                    ResultCodeValue(2),
                    ErrorCode::UNKNOWN_MANDATORY_AVP,
                    Cow::Owned(format!("unknown message type {}", mt.0).into_bytes()),
                );
                self.close_tunnel(now, tid, rc);
            }
            return;
        }
        if let Some((rc, _)) = refusal(&m) {
            if mt.is_tunnel_message() {
                self.close_tunnel(now, tid, rc);
            } else {
                self.refuse_session_message(now, tid, &m, rc);
            }
            return;
        }
        // RFC 2661 7.2.1: an SCCRP anywhere but in wait-ctl-reply, an SCCCN anywhere but in
        // wait-ctl-conn, an SCCRQ on an existing tunnel (a new message: the channel absorbed
        // retransmissions) are out of the machine's order: "Send StopCCN, Clean up". Result Code
        // 7, "Finite State Machine error" (4.4.2).
        let expected = match mt {
            MessageType::SCCRP => state == TunnelState::WaitCtlReply,
            MessageType::SCCCN => state == TunnelState::WaitCtlConn,
            MessageType::SCCRQ => false,
            _ => true,
        };
        if !expected {
            let rc = ResultCode::new(ResultCodeValue::STOPCCN_FSM_ERROR);
            self.close_tunnel(now, tid, rc);
            return;
        }
        if established && self.call_message_out_of_order(tid, mt, m.header.session_id) {
            // RFC 2661 7.4.1 (LAC) and 7.4.2 (LNS): "Send CDN, Clean up".
            self.refuse_out_of_order(now, tid, &m);
            return;
        }
        match mt {
            MessageType::SCCRP => self.on_sccrp(now, tid, &m),
            MessageType::SCCCN => self.on_scccn(now, tid, &m),
            MessageType::STOPCCN => {
                let result = m.result_code().cloned().map(ResultCode::into_owned);
                let redirect = m.redirect_target(self.cfg.enterprise);
                if let Some(t) = self.tunnels.get_mut(&tid) {
                    if t.peer_id.is_none() {
                        // A refusal of our SCCRQ: learn the id to acknowledge it.
                        t.learn_peer_id(m.assigned_tunnel_id().unwrap_or(0));
                    }
                }
                self.enter_closing(now, tid, result, redirect);
            }
            MessageType::HELLO => {}
            MessageType::FSQ if established => self.on_fsq(now, tid, &m),
            MessageType::FSR if established => self.on_fsr(now, tid, &m),
            MessageType::ICRQ if established && self.icrq_names_established(tid, &m) => {
                self.refuse_icrq_for_established(now, tid, &m);
            }
            _ if established => self.ups.push_back(Up::SessionMsg {
                session: SessionRef {
                    tunnel: tid,
                    session: m.header.session_id,
                },
                msg: m,
            }),
            _ => {}
        }
    }

    /// Whether call message `mt` for our session `sid` of tunnel `tid` arrives where the incoming
    /// call machines do not take it (RFC 2661 7.4.1, 7.4.2: "Send CDN, Clean up"): an ICRP at an
    /// LNS (it sends ICRPs, never expects one: wait-connect, established), or at a LAC for a call
    /// already established. Retransmissions never get here (the channel absorbed them). The
    /// outgoing-call messages are judged by the LNS itself (`Lns::session_msg`): a state that
    /// an OCRP queued in the same datagram batch changes is not known here yet.
    ///
    /// Not an ICCN at an LNS for a call established (7.4.2 has that row too): the LNS judges it
    /// (`Lns::session_msg`), as a session a backup LNS took over is established from its ICRP on
    /// (`tunnel::snapshot` docs) and the LAC's ICCN may reach the backup after it, once
    /// ([`Session::awaiting_iccn`](crate::l2tp::session::Session::awaiting_iccn)).
    fn call_message_out_of_order(&self, tid: u16, mt: MessageType, sid: u16) -> bool {
        if mt != MessageType::ICRP {
            return false;
        }
        let Some(state) = self
            .tunnels
            .get(&tid)
            .and_then(|t| t.sessions.get(&sid))
            .map(|s| s.state)
        else {
            return false;
        };
        self.lns || state == SessionState::Established
    }

    /// Clears the session call message `m` of tunnel `tid` names, which arrived out of the call
    /// machine's order (RFC 2661 7.4, 7.5: "Send CDN, Clean up"), with CDN Result 2.
    pub(crate) fn refuse_out_of_order(
        &mut self,
        now: Instant,
        tid: u16,
        m: &ControlMessage<'static>,
    ) {
        let mt = m.message_type().map_or(0, |t| t.0);
        let rc = ResultCode::with_error(
            ResultCodeValue::CDN_GENERAL_ERROR,
            ErrorCode::NO_ERROR,
            Cow::Owned(format!("message type {mt} not expected in this call state").into_bytes()),
        );
        self.refuse_session_message(now, tid, m, rc);
    }

    /// Tunnel `tid` enters the closing state (RFC 2661 5.7: StopCCN sent or received): its
    /// sessions go down, HELLO and the idle timer stop, and it is held for the hold period to
    /// acknowledge the peer's retransmissions. Returns the peer's Tunnel ID (`None` if the tunnel
    /// is unknown or already closing).
    fn enter_closing(
        &mut self,
        now: Instant,
        tid: u16,
        result: Option<ResultCode<'static>>,
        redirect: Option<IpAddr>,
    ) -> Option<u16> {
        let t = self.tunnels.get_mut(&tid)?;
        if t.state == TunnelState::Closing {
            return None;
        }
        let was_setup = t.state != TunnelState::Established;
        t.state = TunnelState::Closing;
        t.stop_result = result.clone().map(Box::new);
        let (peer, peer_id) = (t.peer, t.peer_header_id());
        let sessions: Vec<Session> = t.sessions.drain().map(|(_, s)| s).collect();
        let held = t.sessions.release_all();
        self.pending_tunnels.remove(&tid);
        self.session_count = self.session_count.saturating_sub(sessions.len());
        self.forget_held(held);
        // HELLO stops (the tunnel's timer stays for its channel: `on_tunnel_timer`).
        self.timers.disarm(&Timer::Idle(tid));
        self.timers
            .insert(Timer::Hold(tid), now + self.cfg.hold_period);
        self.event(Event::TunnelDown {
            tunnel: tid,
            peer,
            result: result.clone(),
        });
        self.ups.push_back(Up::TunnelClosed(Box::new(TunnelClosed {
            tunnel: tid,
            was_setup,
            result,
            redirect,
            sessions,
        })));
        Some(peer_id)
    }

    /// Sends StopCCN on `tid` and holds the tunnel for the hold period. Its sessions go down.
    pub fn close_tunnel(&mut self, now: Instant, tid: u16, result: ResultCode<'static>) {
        if let Some(peer_id) = self.enter_closing(now, tid, Some(result.clone()), None) {
            self.send_ctrl(now, tid, ControlMessage::stopccn(peer_id, tid, result));
        }
    }

    /// Clears the session a session message belongs to with CDN `result` (RFC 2661 4.1). The CDN
    /// goes to the peer's Session ID, learnt from this message when it assigns it (ICRP, OCRP). A
    /// call request (ICRQ, OCRQ) is refused with a CDN to the Assigned Session ID it carries; a
    /// message that names no session we can answer clears the tunnel (RFC 2661 7.1).
    fn refuse_session_message(
        &mut self,
        now: Instant,
        tid: u16,
        m: &ControlMessage<'static>,
        result: ResultCode<'static>,
    ) {
        let sid = m.header.session_id;
        let assigned = m.assigned_session_id().filter(|&id| id != 0);
        if let Some(s) = self.session_mut(tid, sid) {
            if s.peer_id.is_none() {
                s.peer_id = assigned.and_then(NonZeroU16::new);
            }
            self.refuse_session(now, (tid, sid), result, true);
        } else if sid == 0 {
            match assigned {
                Some(peer_sid) => {
                    self.send_ctrl(now, tid, ControlMessage::cdn(0, peer_sid, 0, result));
                }
                None => self.close_tunnel(now, tid, result),
            }
        }
        // A message for a session we no longer have: acknowledged, nothing to clear.
    }
}
