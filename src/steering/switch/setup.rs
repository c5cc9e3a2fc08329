//! Set-up direction, path management (Echo, answered and, for GTP-C, the peers' paths),
//! Version Not Supported, extension headers and
//! peers' Error Indications: what a line interface passes to the switch processor.

use super::{RefusedSetup, SwitchEvent, SwitchProcessor, Timer};
use crate::steering::common::{self, Route, UnsupportedExtension, Wire};
use crate::steering::error::InputError;
use crate::steering::fabric::{FabricMessage, SessionProtocol, VidState};
use crate::steering::gtp::{self, Cause, Ie, Message, MessageType, WireError};
use crate::steering::path::PathProtocol;
use crate::steering::vid::VirtualId;
use std::borrow::Cow;
use std::net::SocketAddr;
use std::time::Instant;

impl SwitchProcessor {
    pub(super) fn expire_recent(&mut self, now: Instant) {
        while let Some(&(at, peer, seq)) = self.recent.front() {
            if at + self.config.recent_window > now && self.recent.len() <= self.config.max_recent {
                break;
            }
            self.recent.pop_front();
            self.recent_map.remove(&(peer, seq));
        }
        match self.recent.front() {
            Some(&(at, _, _)) => {
                self.timers
                    .insert(Timer::Recent, at + self.config.recent_window);
            }
            None => {
                self.timers.disarm(&Timer::Recent);
            }
        }
    }

    pub(super) fn transmit_out(&mut self, route: Route, m: &Message<'_>) {
        self.transmit_data(route, m.to_vec().ok());
    }

    /// Sends the datagram `data` (when there is one) along `route`.
    pub(super) fn transmit_data(&mut self, route: Route, data: Option<Vec<u8>>) {
        let Route {
            line,
            gateway,
            peer,
        } = route;
        if let Some(data) = data {
            let msg = FabricMessage::Transmit {
                from: gateway,
                to: peer,
                data: Cow::Owned(data),
            };
            self.send(line, &msg);
        }
    }

    /// A datagram a line interface passed on (TEID 0): a set-up request to direct, an Echo
    /// Request, a peer's Error Indication, or a GTP-C datagram of another version.
    pub(super) fn handle_setup(
        &mut self,
        now: Instant,
        route: Route,
        data: &[u8],
    ) -> Result<(), InputError> {
        let port = route.gateway.port();
        if port == gtp::GTP_C_PORT && gtp::version(data).is_some_and(|v| v != 1 && v != 2) {
            return self.version_not_supported(now, route, data);
        }
        match common::wire(port, data) {
            Wire::Gtpv1 => {}
            Wire::Gtpv2 => return self.handle_v2(now, route, data),
            Wire::Pfcp => return self.handle_n4(now, route, data),
            Wire::L2tp => {
                // An L2TP set-up (tunnel id 0): directed the same way, never repeated nor
                // refused.
                if self.direct_new(now, None, route, data).is_none() {
                    self.stats.setups_refused += 1;
                }
                return Ok(());
            }
        }
        let m = match gtp::parse(data) {
            Ok(m) => m,
            Err(e) => {
                // TS 29.060 section 11.1.2: a Create PDP Context Request whose Length disagrees
                // with the datagram gets its response with Invalid message format.
                let answer = (port == gtp::GTP_C_PORT)
                    .then(|| Message::length_error_response(data))
                    .flatten();
                if let Some(r) = answer {
                    self.stats.setups_refused += 1;
                    if self.length_errors.take(now) {
                        self.stats.length_errors += 1;
                        self.transmit_out(route, &r);
                    } else {
                        self.stats.length_errors_suppressed += 1;
                    }
                }
                return Err(e.into());
            }
        };
        let seq = m.header.sequence.unwrap_or(0);
        let ext =
            common::unsupported_extension(&m.header, port, seq, &mut self.extension_headers, now);
        if let Some(ext) = ext {
            self.stats.ignored += 1;
            return Err(self.refuse_extension(route, ext));
        }
        let control = port == gtp::GTP_C_PORT;
        // TS 29.281 section 6.1: the GTP-U port carries GTP-U messages only; a GTP-C request
        // sent there (a Create PDP Context Request) is an unknown message, discarded unanswered.
        if port == gtp::GTP_U_PORT && !m.message_type().is_gtp_u() {
            self.stats.ignored += 1;
            return Err(InputError::UnsupportedMessage(m.message_type()));
        }
        match m.message_type() {
            MessageType::ECHO_REQUEST => {
                if control {
                    self.path_known(now, PathProtocol::Gtpv1, route, m.recovery().map(u32::from));
                } else if port == gtp::GTP_U_PORT {
                    self.path_known(now, PathProtocol::Gtpu, route, None);
                }
                self.echo(now, route, seq);
                return Ok(());
            }
            MessageType::ECHO_RESPONSE if control => {
                let recovery = m.recovery().map(u32::from);
                self.path_response(now, PathProtocol::Gtpv1, route, u32::from(seq), recovery);
                return Ok(());
            }
            MessageType::ECHO_RESPONSE if port == gtp::GTP_U_PORT => {
                // TS 29.281 section 7.2.2: its Recovery is ignored by the receiver.
                self.path_response(now, PathProtocol::Gtpu, route, u32::from(seq), None);
                return Ok(());
            }
            MessageType::CREATE_PDP_CONTEXT_REQUEST => {
                self.path_seen(now, PathProtocol::Gtpv1, route, m.recovery().map(u32::from));
            }
            MessageType::ERROR_INDICATION => {
                return self.relay_error_indication(now, route, &m, data);
            }
            t => {
                self.stats.ignored += 1;
                return Err(InputError::UnsupportedMessage(t));
            }
        }
        if self.direct_repeat(route, u32::from(seq), data)
            || match (m.imsi(), m.nsapi()) {
                (Some(imsi), Some(nsapi)) => {
                    let key = (SessionProtocol::Gtpv1, imsi, nsapi);
                    self.direct_to_context(now, u32::from(seq), route, data, key)
                }
                _ => false,
            }
        {
            return Ok(());
        }
        if self.sessions.len() >= self.config.max_sessions {
            return self.refuse(route, &m);
        }
        if self
            .direct_new(now, Some(u32::from(seq)), route, data)
            .is_none()
        {
            return self.refuse(route, &m);
        }
        Ok(())
    }

    /// TS 29.281 section 5.2.1, TS 29.060 section 6.1: a message with an unsupported
    /// comprehension-required extension header is discarded, and the sender told which
    /// extension headers are supported (if the rate limit allows).
    fn refuse_extension(&mut self, route: Route, ext: UnsupportedExtension) -> InputError {
        match ext {
            UnsupportedExtension::Notify { ext, notification } => {
                self.stats.extension_headers_notifications += 1;
                self.transmit_out(route, &notification);
                InputError::UnsupportedExtension(ext)
            }
            UnsupportedExtension::Suppressed { ext } => {
                self.stats.extension_headers_suppressed += 1;
                InputError::UnsupportedExtension(ext)
            }
        }
    }

    /// Answers an Echo Request (TS 29.060 section 7.2.2, TS 29.281 section 7.2.2), if the rate
    /// limit allows.
    fn echo(&mut self, now: Instant, route: Route, seq: u16) {
        if !self.echo_responses.take(now) {
            self.stats.echoes_suppressed += 1;
            return;
        }
        self.stats.echoes += 1;
        // The restart counter is GTP-C's: on GTP-U it is sent as 0 (TS 29.281 section 7.2.2,
        // TS 29.060 section 7.7.12).
        let recovery = if route.gateway.port() == gtp::GTP_U_PORT {
            0
        } else {
            self.config.recovery
        };
        let r = Message::new(
            MessageType::ECHO_RESPONSE,
            0,
            seq,
            vec![Ie::Recovery(recovery)],
        );
        self.transmit_out(route, &r);
    }

    /// A repeated set-up (same peer and sequence number within `recent_window`) goes to the
    /// processor chosen the first time, while it is operational; otherwise the repeat is a new
    /// set-up (the peer never got the answer, so the first attempt is void). Whether it was
    /// directed.
    pub(super) fn direct_repeat(&mut self, route: Route, seq: u32, data: &[u8]) -> bool {
        let Some(&(p, b)) = self.recent_map.get(&(route.peer, seq)) else {
            return false;
        };
        let live = self
            .info(p)
            .filter(|i| self.vid_state(i) == Some(VidState::Up))
            .map(|i| i.addr);
        let Some(addr) = live else {
            return false;
        };
        self.stats.setups_repeated += 1;
        self.direct(addr, b, route, data);
        true
    }

    /// Directs a new set-up to a processor chosen by load, with a backup chosen the same way
    /// among the others; a GTP set-up (`recent`: its peer and sequence number) is remembered
    /// for repeats. `None` when no processor is eligible (counted in
    /// `setups_awaiting_tables` when one would be but for the line interfaces' tables).
    pub(super) fn direct_new(
        &mut self,
        now: Instant,
        seq: Option<u32>,
        route: Route,
        data: &[u8],
    ) -> Option<()> {
        let Some(primary) = self.select(None) else {
            if !self.eligible_by(None, false).is_empty() {
                self.stats.setups_awaiting_tables += 1;
            }
            return None;
        };
        let backup_slot = self.select(Some(primary));
        let (Some(pvid), Some(paddr)) = (
            self.slots.get(&primary).and_then(|s| s.vid),
            self.slots.get(&primary).map(|s| s.addr),
        ) else {
            return Some(());
        };
        let bvid = backup_slot
            .and_then(|b| self.slots.get(&b))
            .and_then(|s| s.vid);
        self.direct_to(now, seq, route, data, (paddr, pvid, bvid));
        Some(())
    }

    /// Directs a Session Establishment Request whose CP function allocated the F-TEID `teid`
    /// in one of the advertised TEID ranges ([`SwitchConfig::teid_ranges`]) to the processor
    /// holding its primary VID, with its backup VID; `None` (nothing sent) when that processor
    /// is not eligible (down, overloaded, full, its VID not yet Up in a table every line
    /// interface acknowledged) or the backup VID is no other processor's.
    ///
    /// [`SwitchConfig::teid_ranges`]: super::SwitchConfig::teid_ranges
    pub(super) fn direct_by_teid(
        &mut self,
        now: Instant,
        seq: u32,
        route: Route,
        data: &[u8],
        teid: u32,
    ) -> Option<()> {
        let l = self.config.layout;
        let pvid = l.primary(teid)?;
        let bvid = l.backup(teid);
        let holder = |v: VirtualId| self.slots.iter().find(|(_, s)| s.vid == Some(v));
        let (&primary, slot) = holder(pvid)?;
        let paddr = slot.addr;
        if l.backup_field().is_some() && bvid.and_then(holder).is_none_or(|(id, _)| *id == primary)
        {
            return None;
        }
        if !self.eligible(None).contains(&primary) {
            if self.eligible_by(None, false).contains(&primary) {
                self.stats.setups_awaiting_tables += 1;
            }
            return None;
        }
        self.direct_to(now, Some(seq), route, data, (paddr, pvid, bvid));
        Some(())
    }

    /// Remembers the set-up `seq` of `route` (for retransmissions), counts it and directs it to
    /// the processor at `to.0` holding VID `to.1`, with backup VID `to.2`.
    pub(super) fn direct_to(
        &mut self,
        now: Instant,
        seq: Option<u32>,
        route: Route,
        data: &[u8],
        (paddr, pvid, bvid): (SocketAddr, VirtualId, Option<VirtualId>),
    ) {
        if let Some(seq) = seq {
            self.recent.push_back((now, route.peer, seq));
            self.recent_map.insert((route.peer, seq), (pvid, bvid));
            self.expire_recent(now);
        }
        self.stats.setups_directed += 1;
        self.event(SwitchEvent::SetupDirected {
            primary: pvid,
            backup: bvid,
        });
        self.direct(paddr, bvid, route, data);
    }

    /// Answers a GTP-C datagram of another version with a Version Not Supported (TS 29.060
    /// section 11.1.1, TS 29.274 section 7.7.2: its header's Version field is "the latest GTP
    /// version that that node supports"). This port serves GTPv1-C and GTPv2-C, so a message of
    /// a later version (3 to 7) gets a GTPv2 Version Not Supported Indication (TS 29.274
    /// section 7.1.3: the header only, no TEID; sequence number 0, as a message of an unknown
    /// version has no sequence number this node can read). A GTPv0 message keeps the GTPv1
    /// Version Not Supported (TS 29.060 section 7.2.3).
    pub(super) fn version_not_supported(
        &mut self,
        now: Instant,
        route: Route,
        data: &[u8],
    ) -> Result<(), InputError> {
        let version = gtp::version(data).unwrap_or(0);
        let refused = Err(InputError::Gtp(WireError::UnsupportedVersion { version }));
        // Type 3 is Version Not Supported in GTPv0, v1 and v2: never answered.
        if data
            .get(1)
            .is_none_or(|t| *t == MessageType::VERSION_NOT_SUPPORTED.0)
        {
            self.stats.ignored += 1;
            return refused;
        }
        if !self.version_not_supported.take(now) {
            self.stats.version_not_supported_suppressed += 1;
            return refused;
        }
        self.stats.version_not_supported += 1;
        if version >= 3 {
            let vnsi = crate::steering::gtpv2::Message::version_not_supported_indication(0);
            self.transmit_data(route, vnsi.to_vec().ok());
        } else {
            self.transmit_out(route, &Message::version_not_supported());
        }
        refused
    }

    /// Relays a peer's Error Indication to every processor holding a VID.
    pub(super) fn relay_error_indication(
        &mut self,
        now: Instant,
        route: Route,
        m: &Message<'_>,
        data: &[u8],
    ) -> Result<(), InputError> {
        let (teid, addr) = common::error_indication_names(m).inspect_err(|_| {
            self.stats.ignored += 1;
        })?;
        if !self.error_indications.take(now) {
            self.stats.error_indications_suppressed += 1;
            return Ok(());
        }
        self.stats.error_indications_relayed += 1;
        self.event(SwitchEvent::ErrorIndication { teid, peer: addr });
        let mut to: Vec<SocketAddr> = self
            .slots
            .values()
            .filter(|s| s.vid.is_some())
            .map(|s| s.addr)
            .collect();
        to.sort();
        let msg = FabricMessage::Packet {
            from: route.peer,
            to: route.gateway,
            data: Cow::Borrowed(data),
        };
        for a in to {
            self.send(a, &msg);
        }
        Ok(())
    }

    pub(super) fn direct(
        &mut self,
        addr: SocketAddr,
        backup: Option<VirtualId>,
        route: Route,
        data: &[u8],
    ) {
        let msg = FabricMessage::Directed {
            backup,
            from: route.peer,
            to: route.gateway,
            data: Cow::Borrowed(data),
        };
        self.send(addr, &msg);
    }

    pub(super) fn refuse(&mut self, route: Route, req: &Message<'_>) -> Result<(), InputError> {
        self.stats.setups_refused += 1;
        let cause = Cause::NO_RESOURCES_AVAILABLE;
        self.event(SwitchEvent::SetupRefused {
            request: RefusedSetup::CreatePdpContext { cause },
            peer: route.peer,
            sequence: req.header.sequence.map_or(0, u32::from),
        });
        let r = Message::new(
            MessageType::CREATE_PDP_CONTEXT_RESPONSE,
            req.teid_control().unwrap_or(0),
            req.header.sequence.unwrap_or(0),
            vec![Ie::Cause(cause)],
        );
        self.transmit_out(route, &r);
        Ok(())
    }
}
