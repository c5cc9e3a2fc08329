//! Steered packets: G-PDUs, Update and Delete PDP Context Requests of its own sessions or, as
//! the backup, of replicated ones; peers' Error Indications; L2TP packets.

use super::setup::{mandatory_ie_error, tunnel_ies};
use super::{Processor, ProcessorEvent, Session};
use crate::steering::common::{self, Route, UnsupportedExtension, Wire};
use crate::steering::error::{FabricKind, InputError};
use crate::steering::fabric::{SessionProtocol, SessionRecord};
use crate::steering::gtp::{self, Cause, Ie, IeType, Message, MessageType};
use std::net::SocketAddr;
use std::time::Instant;

impl Processor {
    /// A packet a line interface steered here (or the switch processor relayed): a G-PDU, an
    /// Update or Delete PDP Context Request, a peer's Error Indication, or an L2TP packet.
    pub(super) fn handle_packet(
        &mut self,
        now: Instant,
        line: SocketAddr,
        peer: SocketAddr,
        gateway: SocketAddr,
        data: &[u8],
    ) -> Result<(), InputError> {
        let route = Route {
            line,
            gateway,
            peer,
        };
        // A downlink IP packet (the line interface's `handle_downlink`: port 0).
        if gateway.port() == 0 {
            return self.downlink(route, data);
        }
        match common::wire(gateway.port(), data) {
            Wire::Gtpv1 => {}
            Wire::Gtpv2 => return self.packet_v2(now, route, data),
            Wire::Pfcp => return self.packet_n4(now, route, data),
            Wire::L2tp => return self.handle_l2tp(data),
        }
        let req = match gtp::parse(data) {
            Ok(req) => req,
            Err(e) => {
                self.length_error(now, route, data);
                return Err(e.into());
            }
        };
        let seq = req.header.sequence.unwrap_or(0);
        // TS 29.281 section 5.2.1, TS 29.060 section 6.1: not delivered nor served, and the
        // sender told which extension headers are supported.
        match common::unsupported_extension(
            &req.header,
            gateway.port(),
            seq,
            &mut self.extension_headers,
            now,
        ) {
            Some(UnsupportedExtension::Notify { ext, notification }) => {
                if self.reply(route, &notification) {
                    self.stats.extension_headers_notifications += 1;
                }
                return Err(InputError::UnsupportedExtension(ext));
            }
            Some(UnsupportedExtension::Suppressed { ext }) => {
                self.stats.extension_headers_suppressed += 1;
                return Err(InputError::UnsupportedExtension(ext));
            }
            None => {}
        }
        match req.message_type() {
            MessageType::G_PDU => self.user_packet(now, route, req.header.teid),
            // TS 29.281 section 6.1: the GTP-U port carries GTP-U messages only; a GTP-C request
            // sent there (Update or Delete PDP Context) is an unknown message, discarded
            // unanswered. (After the G-PDU, a GTP-U message: its path stays as it was.)
            t if gateway.port() == gtp::GTP_U_PORT && !t.is_gtp_u() => {
                Err(InputError::UnsupportedMessage(t))
            }
            MessageType::ERROR_INDICATION => {
                // Only as the switch processor relays them (rate-limited there): an Error
                // Indication steered here directly (a non-zero header TEID) is refused, so a
                // flood of them cannot make every processor scan its sessions unbounded.
                if line != self.config.switch_addr {
                    return Err(InputError::Untrusted(FabricKind::Packet));
                }
                self.handle_error_indication(now, &req)
            }
            MessageType::UPDATE_PDP_CONTEXT_REQUEST | MessageType::DELETE_PDP_CONTEXT_REQUEST => {
                // TS 29.060 section 7.3.3: an SGSN includes Recovery when it contacts the GGSN
                // for the first time (after its restart, say): for the switch processor's
                // path table (TS 23.007 section 18).
                if let (true, Some(r)) = (gateway.port() == gtp::GTP_C_PORT, req.recovery()) {
                    self.note_recovery(now, SessionProtocol::Gtpv1, req.header.teid, route, r);
                }
                self.serve_request(now, route, &req)
            }
            t => Err(InputError::UnsupportedMessage(t)),
        }
    }

    /// TS 29.060 section 11.1.2: an Update or Delete PDP Context Request (to the GTP-C port)
    /// whose Length disagrees with the datagram gets its response with Cause Invalid message
    /// format, on the SGSN's TEID Control Plane when the header's TEID names a GTPv1 session
    /// held here (own or replicated), else TEID 0; counted in
    /// [`ProcessorStats::length_errors`](super::ProcessorStats::length_errors), at most
    /// `length_errors` answers (beyond, counted in `length_errors_suppressed`).
    fn length_error(&mut self, now: Instant, route: Route, data: &[u8]) {
        if route.gateway.port() != gtp::GTP_C_PORT {
            return;
        }
        let Some(mut r) = Message::length_error_response(data) else {
            return;
        };
        if !self.length_errors.take(now) {
            self.stats.length_errors_suppressed += 1;
            return;
        }
        let teid = gtp::GtpView::new_checked(data).map_or(0, |v| v.teid());
        if let Some(s) = self.sessions.get(&teid).or_else(|| self.shadow.get(&teid)) {
            if s.record.protocol == SessionProtocol::Gtpv1 {
                r.header.teid = s.record.peer_teid_c;
            }
        }
        if self.reply(route, &r) {
            self.stats.length_errors += 1;
        }
    }

    /// A G-PDU: counted for its session; for a TEID held nowhere here, dropped and answered
    /// with an Error Indication (TS 29.281 section 7.3.1).
    fn user_packet(&mut self, now: Instant, route: Route, teid: u32) -> Result<(), InputError> {
        if self.sessions.contains_key(&teid) {
            self.stats.user_packets += 1;
        } else if self.shadow.contains_key(&teid) {
            self.stats.user_packets_backup += 1;
        } else {
            self.stats.unknown_teid += 1;
            if teid != 0 {
                self.send_error_indication(now, route, teid);
            }
            return Err(InputError::UnknownTeid(teid));
        }
        Ok(())
    }

    /// An Update or Delete PDP Context Request (TS 29.060 sections 7.3.3 and 7.3.5), served
    /// from its own session or, as the backup, from the replicated copy.
    fn serve_request(
        &mut self,
        now: Instant,
        route: Route,
        req: &Message<'_>,
    ) -> Result<(), InputError> {
        let teid = req.header.teid;
        let seq = req.header.sequence.unwrap_or(0);
        if self.answer_again(route.peer, u32::from(seq), teid) {
            return Ok(());
        }
        if let (Some(cause), Some(s)) = (
            mandatory_ie_error(req),
            self.sessions.get(&teid).or_else(|| self.shadow.get(&teid)),
        ) {
            let peer_teid_c = s.record.peer_teid_c;
            self.refuse(route, req, peer_teid_c, cause);
            return Ok(());
        }
        // A GTPv1 request names only a PDP context (not a GTPv2-C or PFCP session's TEID); replies
        // go where it came from.
        let recovery = self.config.recovery;
        let Some((session, as_backup)) = self.session_routed(teid, SessionProtocol::Gtpv1, route)
        else {
            if self.may_answer_unknown(now) {
                self.refuse(route, req, 0, Cause::NON_EXISTENT);
            }
            return Err(InputError::UnknownTeid(teid));
        };
        if req.message_type() == MessageType::UPDATE_PDP_CONTEXT_REQUEST {
            let resp = update(session, req, seq, recovery);
            let record = session.record;
            self.event(ProcessorEvent::SessionUpdated { teid, as_backup });
            let bytes = self.reply_bytes(route.gateway, route.peer, &resp);
            self.answer_served(
                now,
                route,
                record,
                (u32::from(seq), bytes),
                as_backup,
                false,
            );
        } else {
            let record = session.record;
            let resp = Message::new(
                MessageType::DELETE_PDP_CONTEXT_RESPONSE,
                record.peer_teid_c,
                seq,
                vec![Ie::Cause(Cause::REQUEST_ACCEPTED)],
            );
            self.event(ProcessorEvent::SessionDeleted { teid, as_backup });
            let bytes = self.reply_bytes(route.gateway, route.peer, &resp);
            self.answer_served(now, route, record, (u32::from(seq), bytes), as_backup, true);
        }
        Ok(())
    }

    /// A request repeated by `peer` (sequence number `seq`) that was answered already: the same
    /// answer again (unless the session `teid`'s change still awaits replication, which sends
    /// it). Whether it was a repeat.
    pub(super) fn answer_again(&mut self, peer: SocketAddr, seq: u32, teid: u32) -> bool {
        let Some((l, bytes)) = self.answered.get(&(peer, seq)) else {
            return false;
        };
        if !self.pending.contains_key(&teid) {
            let (l, bytes) = (*l, bytes.clone());
            self.push_to(l, bytes);
        }
        true
    }

    /// Sends the response of a request served (its fabric `Transmit` bytes, remembered for
    /// repeats): at once as the backup (and a deletion reported to the switch processor), else
    /// held until the change is replicated.
    pub(super) fn answer_served(
        &mut self,
        now: Instant,
        route: Route,
        record: SessionRecord,
        (seq, bytes): (u32, Option<Vec<u8>>),
        as_backup: bool,
        delete: bool,
    ) {
        self.remember(route.peer, seq, route.line, bytes.clone());
        let held = bytes.clone().map(|b| (route.line, b));
        if as_backup {
            self.stats.served_backup += 1;
            if let Some(b) = bytes {
                self.push_to(route.line, b);
            }
        } else {
            self.stats.served_primary += 1;
        }
        match (delete, as_backup) {
            (true, true) => self.remove_session(now, record, true, None),
            (true, false) => self.remove_session(now, record, false, held),
            (false, true) => {}
            (false, false) => self.replicate(now, record, false, held),
        }
    }

    /// Answers a G-PDU for `teid`, which names no session held here, with an Error Indication
    /// through `line`, if the rate limit allows.
    pub(super) fn send_error_indication(&mut self, now: Instant, route: Route, teid: u32) {
        let Route {
            line,
            gateway,
            peer,
        } = route;
        if !self.error_indications.take(now) {
            self.stats.error_indications_suppressed += 1;
            return;
        }
        let port = (peer.port() != gtp::GTP_U_PORT).then_some(peer.port());
        let m = Message::error_indication(teid, gateway.ip(), port);
        let to = SocketAddr::new(peer.ip(), gtp::GTP_U_PORT);
        let route = Route {
            line,
            gateway,
            peer: to,
        };
        if self.reply(route, &m) {
            self.stats.error_indications += 1;
        }
    }

    /// A peer's Error Indication: deletes every session whose peer user-plane endpoint it names.
    pub(super) fn handle_error_indication(
        &mut self,
        now: Instant,
        m: &Message<'_>,
    ) -> Result<(), InputError> {
        let (teid, addr) = common::error_indication_names(m)?;
        self.stats.error_indications_received += 1;
        let named = |s: &Session| s.record.peer_teid_u == teid && s.record.peer_u == addr;
        let mut hit: Vec<(SessionRecord, bool)> = self
            .sessions
            .values()
            .filter(|s| named(s))
            .map(|s| (s.record, false))
            .chain(
                self.shadow
                    .values()
                    .filter(|s| named(s))
                    .map(|s| (s.record, true)),
            )
            .collect();
        // Same order in every run (the maps' order is not).
        hit.sort_by_key(|(r, b)| (r.teid, *b));
        for (record, as_backup) in hit {
            self.stats.sessions_torn_down += 1;
            self.event(ProcessorEvent::SessionErrorIndication {
                teid: record.teid,
                as_backup,
            });
            self.remove_session(now, record, as_backup, None);
        }
        Ok(())
    }

    pub(super) fn remember(
        &mut self,
        peer: SocketAddr,
        seq: u32,
        line: SocketAddr,
        bytes: Option<Vec<u8>>,
    ) {
        let Some(bytes) = bytes else {
            return;
        };
        if self.answered_order.len() >= self.config.queue_limit {
            if let Some(old) = self.answered_order.pop_front() {
                self.answered.remove(&old);
            }
        }
        if self.answered.insert((peer, seq), (line, bytes)).is_none() {
            self.answered_order.push_back((peer, seq));
        }
    }

    pub(super) fn handle_l2tp(&mut self, data: &[u8]) -> Result<(), InputError> {
        let b0 = data.first().copied().unwrap_or(0);
        let at = if b0 & 0x40 != 0 { 4 } else { 2 };
        let (Some(&[t0, t1]), Some(&[s0, s1])) = (data.get(at..at + 2), data.get(at + 2..at + 4))
        else {
            return Err(InputError::ShortL2tpHeader);
        };
        self.stats.l2tp_packets += 1;
        self.event(ProcessorEvent::L2tpPacket {
            tunnel: u16::from_be_bytes([t0, t1]),
            session: u16::from_be_bytes([s0, s1]),
        });
        Ok(())
    }
}

/// Applies an Update PDP Context Request to `session` (the peer's TEIDs, addresses and QoS
/// profile, TS 29.060 section 7.3.3) and builds its response (section 7.3.4).
fn update(session: &mut Session, req: &Message<'_>, seq: u16, recovery: u8) -> Message<'static> {
    let r = &mut session.record;
    if let Some(u) = req.teid_data_i() {
        r.peer_teid_u = u;
    }
    if let Some(c) = req.teid_control() {
        r.peer_teid_c = c;
    }
    let mut gsn = req.gsn_addresses();
    if let Some(c) = gsn.next() {
        r.peer_c = c;
        r.peer_u = gsn.next().unwrap_or(c);
    }
    r.version = r.version.wrapping_add(1);
    if let Some(Ie::QosProfile(q)) = req.ie(IeType::QOS_PROFILE) {
        session.qos = q.to_vec();
    }
    let mut ies = vec![Ie::Cause(Cause::REQUEST_ACCEPTED), Ie::Recovery(recovery)];
    ies.extend(tunnel_ies(session, None));
    Message::new(
        MessageType::UPDATE_PDP_CONTEXT_RESPONSE,
        session.record.peer_teid_c,
        seq,
        ies,
    )
}
