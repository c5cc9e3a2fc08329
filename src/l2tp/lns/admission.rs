//! Call admission (claim 2): SCCRQ and ICRQ served here, redirected to the pool, or refused;
//! the session messages of an established tunnel (module docs of `lns`).

use super::super::session::{Session, SessionState};
use super::super::tunnel::Timer;
use super::super::wire::avp::AvpValue;
use super::super::wire::{
    Avp, AvpType, ControlMessage, ErrorCode, MessageType, ResultCode, ResultCodeValue,
};
use super::super::{Event, SessionRef};
use super::Lns;
use std::borrow::Cow;
use std::net::SocketAddr;
use std::num::NonZeroU16;
use std::time::Instant;

impl Lns {
    pub(super) fn on_sccrq(
        &mut self,
        now: Instant,
        from: SocketAddr,
        to: SocketAddr,
        msg: ControlMessage<'static>,
    ) {
        if let Some(v) = &self.cfg.virtual_lns {
            if to.ip() == v.virtual_addr && !self.is_contact() {
                return;
            }
        }
        let lbc = msg.load_balance_capable(self.cfg.common.enterprise);
        let full = self.core.tunnel_count() >= self.cfg.common.max_tunnels;
        if full || !self.can_serve(None) {
            if lbc {
                if let Some(target) = self.select(from, Some(to)) {
                    let rc = ResultCode::with_error(
                        ResultCodeValue::STOPCCN_GENERAL_ERROR,
                        ErrorCode::TRY_ANOTHER,
                        Cow::Borrowed(&b""[..]),
                    );
                    self.core
                        .refuse_sccrq(now, from, Some(to), &msg, rc, Some(target));
                    self.core.event(Event::RedirectIssued {
                        peer: from,
                        to: target,
                        vendor_avp: true,
                    });
                    return;
                }
            } else if self.cfg.standard_redirect && full {
                if let Some(target) = self.select(from, Some(to)) {
                    let rc = ResultCode::try_another_directed(
                        ResultCodeValue::STOPCCN_GENERAL_ERROR,
                        &[target],
                    );
                    self.core.refuse_sccrq(now, from, Some(to), &msg, rc, None);
                    self.core.event(Event::RedirectIssued {
                        peer: from,
                        to: target,
                        vendor_avp: false,
                    });
                    return;
                }
            }
            if full || lbc {
                let rc = ResultCode::with_error(
                    ResultCodeValue::STOPCCN_GENERAL_ERROR,
                    ErrorCode::INSUFFICIENT_RESOURCES,
                    Cow::Borrowed(&b""[..]),
                );
                self.core
                    .refuse_sccrq(now, from, Some(to), &msg, rc.clone(), None);
                self.core.event(Event::Refused {
                    peer: from,
                    result: rc,
                });
                return;
            }
        }
        let _ = self.core.accept_tunnel(now, from, to, msg);
    }

    pub(super) fn session_msg(
        &mut self,
        now: Instant,
        sref: SessionRef,
        m: &ControlMessage<'static>,
    ) {
        let tid = sref.tunnel;
        match m.message_type() {
            Some(MessageType::ICRQ) => self.on_icrq(now, tid, m),
            Some(mt @ (MessageType::ICCN | MessageType::OCCN)) => {
                // RFC 2661 7.4.2 wait-connect, 7.5.1 wait-cs-answer: the call is up.
                let want = if mt == MessageType::ICCN {
                    SessionState::WaitConnect
                } else {
                    SessionState::WaitOutgoingConnect
                };
                let state = self.core.session_mut(tid, sref.session).map(|s| s.state);
                if state.is_none() {
                    // A call the copy of a tunnel we took over lacks (`takeover` docs): its
                    // ICCN is answered as its data would be, so the LAC clears the call now.
                    self.unknown_session(now, tid, sref.session);
                    return;
                }
                if state != Some(want) || !self.admission_connect(sref, m) {
                    return;
                }
                let Some(s) = self.core.session_mut(tid, sref.session) else {
                    return;
                };
                s.state = SessionState::Established;
                // Its ICRP was taken (`tunnel::snapshot` docs).
                s.icrp_ns = None;
                // Replicated at its ICRQ (`replicate` docs, output commit); again only if the
                // ICCN changed what the record carries (an outgoing call: first at its OCCN).
                let changed = m.sequencing_required() && !s.sequencing;
                if m.sequencing_required() {
                    s.sequencing = true;
                }
                self.core.timers.cancel(&Timer::Session(tid, sref.session));
                self.core.session_up(tid, sref.session, None);
                if changed || mt == MessageType::OCCN {
                    self.replicate_session(tid, sref.session);
                }
            }
            Some(MessageType::OCRP) => {
                if let Some(s) = self.core.session_mut(tid, sref.session) {
                    if s.state == SessionState::WaitOutgoingReply {
                        s.peer_id = m.assigned_session_id().and_then(NonZeroU16::new);
                        s.state = SessionState::WaitOutgoingConnect;
                    }
                }
            }
            Some(MessageType::CDN) => {
                if let Some((s, result)) = self.core.on_cdn(now, tid, m) {
                    self.session_gone(tid, &s, result);
                    // Output commit (`replicate` docs): the LAC keeps the CDN unacknowledged,
                    // for the backup to take if we fail before it holds the session's end.
                    self.ack_committed(tid, m.header.ns);
                }
            }
            // RFC 2661 6.13: WEN goes from the LAC to the LNS, with the LAC's error counters.
            Some(MessageType::WEN) => {
                if let Some(AvpValue::CallErrors(e)) = m.get(AvpType::CALL_ERRORS) {
                    let errors = *e;
                    self.core.event(Event::Wen {
                        session: sref,
                        errors,
                    });
                }
            }
            // RFC 2661 6.14 (and 4.4.6, ACCM): SLI goes from the LNS to the LAC; an LNS has no
            // ACCM to take from the LAC. The channel acknowledged it; it is ignored (the RFC
            // gives the receiver no other duty).
            _ => {}
        }
    }

    /// ICRQ (RFC 2661 7.4.2 idle, claim 2): served here when admission allows; else redirected
    /// (`RedirectTarget` in ICRP to a LAC that said `LoadBalanceCapable`, claim 4; CDN Result 2 /
    /// Error 9 with `standard_redirect`, claim 7); else CDN Result 4.
    fn on_icrq(&mut self, now: Instant, tid: u16, m: &ControlMessage<'static>) {
        let peer_sid = m.assigned_session_id().unwrap_or(0);
        // The tunnel looked up once for what the decision reads of it.
        let Some((peer, local, tunnel_lbc, duplicate)) = self.core.tunnels.get(&tid).map(|t| {
            (
                t.peer,
                t.local,
                t.peer_load_balance_capable,
                t.sessions.find_by_peer(peer_sid).is_some(),
            )
        }) else {
            return;
        };
        // A retransmitted ICRQ is absorbed by the channel; a second ICRQ for the same peer
        // session is a protocol error we ignore.
        if duplicate {
            return;
        }
        let lbc = tunnel_lbc || m.load_balance_capable(self.cfg.common.enterprise);
        let served = if self.can_serve(Some(tid)) {
            if self.cfg.admission.is_some() {
                self.admit_icrq(now, tid, m, lbc)
            } else {
                self.serve_icrq(now, tid, m, lbc)
            }
        } else if lbc {
            self.redirect_icrq(now, tid, (peer, local), m)
        } else if self.cfg.standard_redirect {
            self.redirect_icrq_standard(now, tid, (peer, local), peer_sid)
        } else {
            false
        };
        if !served {
            let rc = ResultCode::new(ResultCodeValue::CDN_TEMPORARY_RESOURCES);
            self.core
                .send_ctrl(now, tid, ControlMessage::cdn(0, peer_sid, 0, rc.clone()));
            self.core.event(Event::Refused { peer, result: rc });
        }
    }

    /// Takes an ICRQ: session in wait-connect, ICRP sent. `false` when no session can be had.
    fn serve_icrq(
        &mut self,
        now: Instant,
        tid: u16,
        m: &ControlMessage<'static>,
        lbc: bool,
    ) -> bool {
        let peer_sid = m.assigned_session_id().unwrap_or(0);
        let serial = m.call_serial_number().unwrap_or(0);
        let sequencing = self.cfg.common.sequencing_required;
        let Some(s) = self
            .core
            .new_session(tid, peer_sid, SessionState::WaitConnect, serial)
        else {
            return false;
        };
        s.load_balance_capable = lbc;
        s.sequencing = sequencing;
        let sid = s.local_id;
        self.core.arm_setup(now, tid, sid);
        let mut icrp = ControlMessage::icrp(0, peer_sid, sid);
        if sequencing {
            icrp.push(Avp::mandatory(AvpValue::SequencingRequired));
        }
        self.reply_committed(now, tid, sid, icrp);
        true
    }

    /// Redirects an ICRQ with `RedirectTarget` in ICRP (claim 4), keeping a redirect record until
    /// the LAC's CDN or [`LnsConfig::redirect_hold`]. `false` when the records are full, no pool
    /// LNS is available, or no Session ID is free. `(peer, local)`: the tunnel's addresses.
    fn redirect_icrq(
        &mut self,
        now: Instant,
        tid: u16,
        (peer, local): (SocketAddr, Option<SocketAddr>),
        m: &ControlMessage<'static>,
    ) -> bool {
        if self.pending_redirects >= self.cfg.max_pending_redirects {
            return false;
        }
        let Some(target) = self.select(peer, local) else {
            return false;
        };
        let Some(sid) = self.core.alloc_session_id(tid, false) else {
            return false;
        };
        let peer_sid = m.assigned_session_id().unwrap_or(0);
        let serial = m.call_serial_number().unwrap_or(0);
        let s = Session::new(sid, peer_sid, SessionState::Redirected, serial);
        if !self.core.add_session(tid, s, false) {
            return false;
        }
        self.pending_redirects += 1;
        self.core
            .timers
            .insert(Timer::Session(tid, sid), now + self.cfg.redirect_hold);
        let redirect = Some((self.cfg.common.enterprise, target));
        self.core.send_icrp(now, tid, peer_sid, sid, redirect);
        self.core.event(Event::RedirectIssued {
            peer,
            to: target,
            vendor_avp: true,
        });
        true
    }

    /// Redirects an ICRQ with CDN Result 2 / Error 9 naming a pool LNS (claim 7; RFC 2661 4.4.2).
    /// `false` when no pool LNS is available. `(peer, local)`: the tunnel's addresses.
    fn redirect_icrq_standard(
        &mut self,
        now: Instant,
        tid: u16,
        (peer, local): (SocketAddr, Option<SocketAddr>),
        peer_sid: u16,
    ) -> bool {
        let Some(target) = self.select(peer, local) else {
            return false;
        };
        let rc = ResultCode::try_another_directed(ResultCodeValue::CDN_GENERAL_ERROR, &[target]);
        self.core
            .send_ctrl(now, tid, ControlMessage::cdn(0, peer_sid, 0, rc));
        self.core.event(Event::RedirectIssued {
            peer,
            to: target,
            vendor_avp: false,
        });
        true
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::pool::MemberState;
    use super::super::super::wire::{DEFAULT_ENTERPRISE, Message};
    use super::super::super::{Config, LnsConfig};
    use super::*;
    use std::time::Duration;

    const LNS: &str = "10.0.0.1:1701";
    const LAC: &str = "10.0.9.1:1701";

    /// Sends `m` from the LAC; the control messages the LNS sends back.
    fn send(lns: &mut Lns, now: Instant, m: ControlMessage<'_>) -> Vec<ControlMessage<'static>> {
        let b = Message::Control(m).to_vec();
        let _ = lns.handle_datagram(now, LAC.parse().unwrap(), LNS.parse().unwrap(), &b);
        let mut out = Vec::new();
        while let Some(t) = lns.poll_transmit() {
            if let Ok(Message::Control(c)) = Message::parse(&t.payload) {
                out.push(c.into_owned());
            }
        }
        while lns.poll_event().is_some() {}
        out
    }

    /// An overloaded LNS (two pool members up with room) redirects an ICRQ from a LAC that said
    /// LoadBalanceCapable with an ICRP naming a pool LNS (claim 4), keeping one record for it;
    /// a second ICRQ for the same peer session (a new message, not a retransmission) is a
    /// protocol error and is ignored (no second ICRP, no second record, RFC 2661 7.4.2); an ICRQ
    /// for another peer session is redirected in turn.
    #[test]
    fn a_second_icrq_for_a_redirected_peer_session_is_ignored() {
        let now = Instant::now();
        let mut cfg = LnsConfig {
            common: Config {
                hello_interval: Duration::from_secs(3600),
                ..Default::default()
            },
            ..Default::default()
        };
        cfg.common.seed = crate::io::seed(3);
        let mut lns = Lns::new(cfg, now).unwrap();
        let out = send(
            &mut lns,
            now,
            ControlMessage::sccrq(9, b"lac".as_slice(), 3),
        );
        let tid = out.iter().find_map(|c| c.assigned_tunnel_id()).unwrap();
        let mut scccn = ControlMessage::scccn(tid);
        (scccn.header.ns, scccn.header.nr) = (1, 1);
        send(&mut lns, now, scccn);
        for member in ["10.0.1.1", "10.0.1.2"] {
            lns.pool
                .update(member.parse().unwrap(), MemberState::Up, 0, 1 << 30, 0);
        }
        lns.set_load(100);
        let lbc = AvpValue::LoadBalanceCapable {
            vendor: DEFAULT_ENTERPRISE,
        };
        let icrq = |peer_sid: u16, ns: u16| {
            let mut m =
                ControlMessage::icrq(tid, peer_sid, u32::from(ns)).with(Avp::optional(lbc.clone()));
            (m.header.ns, m.header.nr) = (ns, 1);
            m
        };
        let redirected = |out: &[ControlMessage<'static>]| {
            out.iter()
                .filter(|c| c.message_type() == Some(MessageType::ICRP))
                .filter(|c| c.redirect_target(DEFAULT_ENTERPRISE).is_some())
                .count()
        };
        assert_eq!(redirected(&send(&mut lns, now, icrq(7, 2))), 1);
        assert_eq!(lns.pending_redirects(), 1);
        let again = send(&mut lns, now, icrq(7, 3));
        assert_eq!(redirected(&again), 0, "{again:?}");
        assert!(
            again.iter().all(|c| c.message_type().is_none()),
            "only an acknowledgement: {again:?}"
        );
        assert_eq!(lns.pending_redirects(), 1);
        assert_eq!(redirected(&send(&mut lns, now, icrq(8, 4))), 1);
        assert_eq!(lns.pending_redirects(), 2);
    }
}
