//! Call admission (claim 2): SCCRQ and ICRQ served here, redirected to the pool, or refused;
//! the session messages of an established tunnel (module docs of `lns`).

use super::super::call::PackedCallDetails;
use super::super::session::SessionState;
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
            // A redirect record's call (RFC 2661 7.4.2): the LAC's CDN frees it; an ICCN or
            // OCCN for it is ignored, as for a session not waiting for one.
            Some(MessageType::CDN)
                if self.core.release_redirect(
                    tid,
                    sref.session,
                    m.assigned_session_id().unwrap_or(0),
                ) =>
            {
                // Output commit (`replicate` docs), as for a session's CDN below.
                self.ack_committed(tid, m.header.ns);
            }
            Some(MessageType::ICCN | MessageType::OCCN)
                if self
                    .core
                    .tunnels
                    .get(&tid)
                    .is_some_and(|t| t.sessions.holds_any(sref.session)) => {}
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
                if mt == MessageType::OCCN && state == Some(SessionState::WaitOutgoingReply) {
                    // RFC 2661 7.5.1 wait-reply, "Receive OCCN": "Send CDN, Clean up".
                    self.core.refuse_out_of_order(now, tid, m);
                    return;
                }
                if mt == MessageType::ICCN && state == Some(SessionState::Established) {
                    // RFC 2661 7.4.2 established, "Receive ICCN": "Send CDN, Clean up"; but
                    // the ICCN of a call a takeover restored answered is taken once
                    // (`Session::awaiting_iccn`).
                    let Some(s) = self.core.session_mut(tid, sref.session) else {
                        return;
                    };
                    if std::mem::take(&mut s.awaiting_iccn) {
                        // Its details merged into those the copy held (the ICRQ's), and to our
                        // backup (`replicate` docs, records).
                        let later = self
                            .keeps_call_details()
                            .then(|| self.merge_call_message(sref, m));
                        if let Some(update) = later.flatten() {
                            self.replicate_call_update(tid, sref.session, update);
                        }
                        return;
                    }
                    self.core.refuse_out_of_order(now, tid, m);
                    return;
                }
                if state != Some(want) {
                    return;
                }
                let Some(update) = self.admission_connect(sref, m) else {
                    return;
                };
                let Some(s) = self.core.session_mut(tid, sref.session) else {
                    return;
                };
                s.state = SessionState::Established;
                // Its ICRP was taken (`tunnel::snapshot` docs), and its ICCN now.
                s.icrp_ns = None;
                s.awaiting_iccn = false;
                // Replicated at its ICRQ (`replicate` docs, output commit); again only if the
                // ICCN changed what the record carries (an outgoing call: first at its OCCN).
                let changed = m.sequencing_required() && !s.sequencing;
                if m.sequencing_required() {
                    s.sequencing = true;
                }
                self.core.timers.disarm(&Timer::Session(tid, sref.session));
                self.core.session_up(tid, sref.session, None);
                if changed || mt == MessageType::OCCN {
                    // With the call's details as they stand (`replicate` docs, records).
                    self.replicate_session(tid, sref.session);
                } else if let Some(update) = update {
                    // Only what the ICCN changed of the call's details.
                    self.replicate_call_update(tid, sref.session, update);
                }
            }
            Some(MessageType::OCRP) => {
                if let Some(s) = self.core.session_mut(tid, sref.session) {
                    if s.state == SessionState::WaitOutgoingReply {
                        s.peer_id = m.assigned_session_id().and_then(NonZeroU16::new);
                        s.state = SessionState::WaitOutgoingConnect;
                    } else {
                        // RFC 2661 7.5.1 wait-connect and established, "Receive OCRQ, OCRP"
                        // (a new message: the channel absorbed retransmissions): "Send CDN,
                        // Clean up".
                        self.core.refuse_out_of_order(now, tid, m);
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
                t.sessions.find_by_peer(peer_sid).is_some() || t.sessions.holds_peer(peer_sid),
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
        let details = if self.keeps_call_details() {
            let d = PackedCallDetails::from_message(m);
            (!d.is_empty()).then_some(d)
        } else {
            None
        };
        let Some(s) = self
            .core
            .new_session(tid, peer_sid, SessionState::WaitConnect, serial)
        else {
            return false;
        };
        s.load_balance_capable = lbc;
        s.sequencing = sequencing;
        // The ICRQ's details (RFC 2661 6.6), kept and replicated with the call.
        s.details = details;
        let sid = s.local_id;
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
        if self.core.redirects_held >= self.cfg.max_pending_redirects {
            return false;
        }
        let Some(target) = self.select(peer, local) else {
            return false;
        };
        let peer_sid = m.assigned_session_id().unwrap_or(0);
        // The record: our Session ID, kept in the tunnel's table (not a session, no timer:
        // `tunnel::redirects` docs).
        let expires = now + self.cfg.redirect_hold;
        let Some(sid) = self.core.hold_redirect(tid, peer_sid, expires) else {
            return false;
        };
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

    /// A tunnel set up with `lns` (SCCRQ, then SCCCN at Ns 1, Nr 1): its id and what the LNS
    /// sent for the SCCCN.
    fn establish(lns: &mut Lns, now: Instant) -> (u16, Vec<ControlMessage<'static>>) {
        let out = send(lns, now, ControlMessage::sccrq(9, b"lac".as_slice(), 3));
        let tid = out.iter().find_map(|c| c.assigned_tunnel_id()).unwrap();
        let mut scccn = ControlMessage::scccn(tid);
        (scccn.header.ns, scccn.header.nr) = (1, 1);
        (tid, send(lns, now, scccn))
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
        let (tid, _) = establish(&mut lns, now);
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

    /// A LAC driving one tunnel of an LNS whose pool has room (`over`: overloaded, so ICRQs
    /// are redirected), with the model of what the LNS holds: redirect records and
    /// established sessions, our Session ID to the LAC's.
    struct Drive {
        lns: Lns,
        now: Instant,
        tid: u16,
        ns: u16,
        nr: u16,
        next_peer: u16,
        records: std::collections::BTreeMap<u16, u16>,
        sessions: std::collections::BTreeMap<u16, u16>,
    }

    const HOLD: Duration = Duration::from_secs(2);

    impl Drive {
        fn new(max_pending_redirects: usize) -> Drive {
            let now = Instant::now();
            let mut cfg = LnsConfig {
                common: Config {
                    hello_interval: Duration::from_secs(3600),
                    ..Default::default()
                },
                redirect_hold: HOLD,
                max_pending_redirects,
                ..Default::default()
            };
            cfg.common.seed = crate::io::seed(11);
            let mut lns = Lns::new(cfg, now).unwrap();
            let (tid, _) = establish(&mut lns, now);
            for member in ["10.0.1.1", "10.0.1.2"] {
                lns.pool
                    .update(member.parse().unwrap(), MemberState::Up, 0, 1 << 30, 0);
            }
            Drive {
                lns,
                now,
                tid,
                ns: 2,
                nr: 1,
                next_peer: 1,
                records: Default::default(),
                sessions: Default::default(),
            }
        }

        /// Sends `m` numbered as the LAC's next message, acknowledging all the LNS sent; the
        /// LNS's answers.
        fn lac(&mut self, mut m: ControlMessage<'_>) -> Vec<ControlMessage<'static>> {
            (m.header.ns, m.header.nr) = (self.ns, self.nr);
            self.ns = self.ns.wrapping_add(1);
            let out = send(&mut self.lns, self.now, m);
            for c in &out {
                if c.message_type().is_some() {
                    self.nr = self.nr.max(c.header.ns.wrapping_add(1));
                }
            }
            out
        }

        fn icrq(&mut self, peer: u16) -> Vec<ControlMessage<'static>> {
            let lbc = AvpValue::LoadBalanceCapable {
                vendor: DEFAULT_ENTERPRISE,
            };
            let m = ControlMessage::icrq(self.tid, peer, 1).with(Avp::optional(lbc));
            self.lac(m)
        }

        /// Our Session ID a fresh id must be: neither a record's nor a session's.
        fn fresh(&self, sid: u16) {
            assert!(sid != 0);
            assert!(!self.records.contains_key(&sid), "{sid} held by a record");
            assert!(!self.sessions.contains_key(&sid), "{sid} held by a session");
        }

        /// An ICRQ on an overloaded LNS: redirected (a record), or refused past the bound.
        fn redirect(&mut self) {
            self.lns.set_load(100);
            let peer = self.next_peer;
            self.next_peer += 1;
            let out = self.icrq(peer);
            let icrp = out
                .iter()
                .find(|c| c.message_type() == Some(MessageType::ICRP));
            if self.records.len() >= self.lns.cfg.max_pending_redirects {
                assert!(icrp.is_none(), "past the bound: {out:?}");
                assert!(
                    out.iter()
                        .any(|c| c.message_type() == Some(MessageType::CDN)),
                    "refused: {out:?}"
                );
                return;
            }
            let icrp = icrp.expect("an ICRP");
            assert!(icrp.redirect_target(DEFAULT_ENTERPRISE).is_some());
            let sid = icrp.assigned_session_id().unwrap();
            self.fresh(sid);
            self.records.insert(sid, peer);
        }

        /// An ICRQ, then ICCN, on an LNS with room: an established session.
        fn serve(&mut self) {
            self.lns.set_load(0);
            let peer = self.next_peer;
            self.next_peer += 1;
            let out = self.icrq(peer);
            let icrp = out
                .iter()
                .find(|c| c.message_type() == Some(MessageType::ICRP))
                .expect("an ICRP");
            assert!(icrp.redirect_target(DEFAULT_ENTERPRISE).is_none());
            let sid = icrp.assigned_session_id().unwrap();
            self.fresh(sid);
            self.lac(ControlMessage::iccn(self.tid, sid, 64000, 1));
            self.sessions.insert(sid, peer);
        }

        /// A second ICRQ for the LAC session of record `i`: ignored.
        fn duplicate(&mut self, i: usize) {
            let Some((_, &peer)) = self.records.iter().nth(i % self.records.len().max(1)) else {
                return;
            };
            self.lns.set_load(100);
            let out = self.icrq(peer);
            assert!(out.iter().all(|c| c.message_type().is_none()), "{out:?}");
        }

        /// The LAC's CDN for record `i`: by our Session ID, or (`by_peer`) with 0 in its
        /// header and the LAC's Assigned Session ID.
        fn cdn_record(&mut self, i: usize, by_peer: bool) {
            let Some((&sid, &peer)) = self.records.iter().nth(i % self.records.len().max(1)) else {
                return;
            };
            let rc = ResultCode::new(ResultCodeValue(3));
            let header = if by_peer { 0 } else { sid };
            self.lac(ControlMessage::cdn(self.tid, header, peer, rc));
            self.records.remove(&sid);
        }

        /// The LAC's CDN for session `i`.
        fn cdn_session(&mut self, i: usize) {
            let Some((&sid, &peer)) = self.sessions.iter().nth(i % self.sessions.len().max(1))
            else {
                return;
            };
            let rc = ResultCode::new(ResultCodeValue(3));
            self.lac(ControlMessage::cdn(self.tid, sid, peer, rc));
            self.sessions.remove(&sid);
        }

        /// The redirect hold passes: every record is freed.
        fn expire(&mut self) {
            self.now += HOLD + Duration::from_millis(1);
            if !self.records.is_empty() {
                assert!(self.lns.poll_timeout().is_some_and(|t| t <= self.now));
            }
            self.lns.handle_timeout(self.now);
            while self.lns.poll_transmit().is_some() {}
            while self.lns.poll_event().is_some() {}
            self.records.clear();
        }

        /// What the LNS holds is the model: records counted, held and bounded, sessions
        /// counted, every id held by one of them.
        fn check(&self) {
            assert_eq!(self.lns.pending_redirects(), self.records.len());
            assert!(self.lns.pending_redirects() <= self.lns.cfg.max_pending_redirects);
            assert_eq!(self.lns.session_count(), self.sessions.len());
            let t = &self.lns.core.tunnels[&self.tid];
            assert_eq!(t.sessions.held_len(), self.records.len());
            assert_eq!(t.sessions.len(), self.sessions.len());
            for &sid in self.records.keys() {
                assert!(t.sessions.holds_any(sid) && t.sessions.get(&sid).is_none());
            }
            for &sid in self.sessions.keys() {
                assert!(t.sessions.get(&sid).is_some() && !t.sessions.holds_any(sid));
            }
        }
    }

    /// Redirect records and sessions in one tunnel, many of each (about 3% of the id space
    /// each): no id is handed out twice, a record's id is never a session's; the records are
    /// freed by CDN (either way of naming them) and by the redirect hold, and counted.
    #[test]
    fn redirect_records_and_sessions_never_share_an_id() {
        let mut d = Drive::new(4000);
        for k in 0..2000usize {
            d.redirect();
            d.serve();
            if k % 7 == 0 {
                d.cdn_record(k, k % 2 == 0);
            }
        }
        d.check();
        d.expire();
        d.check();
        assert_eq!(d.lns.pending_redirects(), 0);
        for k in 0..300usize {
            d.redirect();
            d.cdn_session(k);
        }
        d.check();
    }

    /// A record the LAC's CDN freed leaves no expiry entry behind (`tunnel::redirects` docs: it
    /// goes with the record, so no prune has to find it), by our Session ID or by the LAC's; a
    /// record freed out of order leaves the others' expiries in place.
    #[test]
    fn a_record_freed_by_cdn_leaves_no_expiry() {
        let mut d = Drive::new(64);
        for k in 0..200usize {
            d.redirect();
            d.cdn_record(0, k % 2 == 0);
            d.check();
            assert_eq!(d.lns.core.redirect_expiries(), 0, "{k}");
        }
        // Two records; the first made is freed: the second's expiry stays.
        d.redirect();
        let first = *d.records.keys().next().unwrap();
        d.redirect();
        let i = d.records.keys().position(|&sid| sid == first).unwrap();
        d.cdn_record(i, false);
        assert_eq!(d.records.len(), 1);
        assert!(d.lns.poll_timeout().is_some_and(|t| t <= d.now + HOLD));
        d.expire();
        d.check();
        assert_eq!(d.lns.pending_redirects(), 0);
    }

    /// RFC 2661 5.8: a control message nothing answers is acknowledged by a ZLB once the LNS
    /// has processed it (`Core::finish`): the SCCCN that completes a tunnel, then a HELLO.
    #[test]
    fn an_unanswered_message_is_acknowledged_by_a_zlb() {
        let now = Instant::now();
        let mut lns = Lns::new(LnsConfig::default(), now).unwrap();
        let (tid, out) = establish(&mut lns, now);
        assert!(
            out.len() == 1 && out[0].is_zlb() && out[0].header.nr == 2,
            "{out:?}"
        );
        let mut hello = ControlMessage::hello(tid);
        (hello.header.ns, hello.header.nr) = (2, 1);
        let out = send(&mut lns, now, hello);
        assert!(
            out.len() == 1 && out[0].is_zlb() && out[0].header.nr == 3,
            "{out:?}"
        );
    }

    /// A redirect record's Session ID is drawn as a session's is (`Core::hold_redirect` draws
    /// what `Core::alloc_session_id` draws): with the same seed, an overloaded LNS that
    /// redirects every ICRQ assigns in its ICRPs the ids an LNS with room assigns its sessions.
    #[test]
    fn a_record_takes_the_id_a_session_would() {
        let (mut over, mut room) = (Drive::new(4000), Drive::new(4000));
        for _ in 0..300 {
            over.redirect();
            room.serve();
        }
        over.check();
        room.check();
        assert_eq!(over.records.len(), 300);
        assert!(over.records.keys().eq(room.sessions.keys()));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        /// Any sequence of redirected ICRQs, served calls, duplicate ICRQs, CDNs (for records,
        /// by our id or the LAC's, and for sessions) and expiries: the LNS holds what the model
        /// holds after every step ([`Drive::check`]), never more than `max_pending_redirects`
        /// records, and no id twice.
        #[test]
        fn redirect_records_follow_the_model(
            ops in proptest::collection::vec((0u8..7, 0usize..64), 1..160)
        ) {
            let mut d = Drive::new(24);
            for (op, i) in ops {
                match op {
                    0 | 1 => d.redirect(),
                    2 => d.serve(),
                    3 => d.duplicate(i),
                    4 => d.cdn_record(i, i % 2 == 0),
                    5 => d.cdn_session(i),
                    _ if i % 4 == 0 => d.expire(),
                    _ => d.redirect(),
                }
                d.check();
            }
        }
    }
}
