//! GTPv2-C sessions (TS 29.274, S11 as an SGW speaks it): a Create Session Request directed
//! here is answered with F-TEIDs carrying this processor's VID and its backup's; Modify Bearer
//! and Delete Session Requests arrive steered by that TEID and are served from the session or,
//! as the backup, from its replicated copy, exactly as GTPv1's Update and Delete.

use super::setup::Exhausted;
use super::sync::imsi_record;
use super::{Grant, Processor, Session, transmit_bytes};
use crate::steering::common::Route;
use crate::steering::error::InputError;
use crate::steering::fabric::{SessionProtocol, SessionRecord};
use crate::steering::gtp;
use crate::steering::gtpv2::{
    self, Cause, CauseValue, Fteid, Ie, IeType, IeValue, InterfaceType, Message, MessageType,
    OffendingIe, Paa, find,
};
use crate::steering::processor::ProcessorEvent;
use crate::steering::vid::VirtualId;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

use crate::steering::common::{gtpv2_ebi as ebi_of, gtpv2_imsi as imsi_of};

/// The F-TEID of instance `instance` among a Bearer Context's IEs.
fn fteid_in(ies: &[Ie<'_>], instance: u8) -> Option<Fteid> {
    match find(ies, IeType::F_TEID, instance)?.value {
        IeValue::Fteid(f) => Some(f),
        _ => None,
    }
}

/// An F-TEID's address (IPv4 first), `None` without one.
fn fteid_ip(f: &Fteid) -> Option<IpAddr> {
    f.ipv4.map(IpAddr::V4).or_else(|| f.ipv6.map(IpAddr::V6))
}

/// The first mandatory IE a Create Session Request lacks (TS 29.274 table 7.2.1-1: RAT Type,
/// Sender F-TEID for Control Plane, APN, Bearer Contexts to be created with their EPS Bearer
/// ID), as (type, instance); `None` when it has them all.
fn missing_ie(req: &Message<'_>) -> Option<(IeType, u8)> {
    let bearer = req.ie(IeType::BEARER_CONTEXT, 0);
    [
        (IeType::RAT_TYPE, 0, req.ie(IeType::RAT_TYPE, 0).is_some()),
        (IeType::F_TEID, 0, req.fteid(0).is_some()),
        (IeType::APN, 0, req.ie(IeType::APN, 0).is_some()),
        (IeType::BEARER_CONTEXT, 0, bearer.is_some()),
        (
            IeType::EBI,
            0,
            bearer.is_none_or(|b| ebi_of(b.ies()).is_some()),
        ),
    ]
    .into_iter()
    .find(|(_, _, present)| !present)
    .map(|(t, i, _)| (t, i))
}

/// Whether the mandatory IE `missing` found lacking by [`missing_ie`] is there but could not be
/// read (an F-TEID or EPS Bearer ID shorter than its layout, section 8.22 / 8.8): TS 29.274
/// section 7.7.1 calls that incorrect, not missing.
fn incorrect(req: &Message<'_>, (t, instance): (IeType, u8)) -> bool {
    match t {
        IeType::EBI => req
            .ie(IeType::BEARER_CONTEXT, 0)
            .is_some_and(|b| find(b.ies(), IeType::EBI, 0).is_some()),
        _ => req.ie(t, instance).is_some(),
    }
}

/// A Cause IE of `value` (TS 29.274 section 8.4), naming `offending` (type, instance) when
/// given.
fn cause(value: CauseValue, offending: Option<(IeType, u8)>) -> Ie<'static> {
    let mut c = Cause::new(value);
    c.offending = offending.map(|(ie_type, instance)| OffendingIe {
        ie_type,
        length: 0,
        instance,
    });
    Ie::new(IeValue::Cause(c))
}

/// The gateway's F-TEID of `interface` for session TEID `teid` at `gw`.
fn own_fteid(interface: InterfaceType, teid: u32, gw: IpAddr) -> Fteid {
    let (ipv4, ipv6) = match gw {
        IpAddr::V4(a) => (Some(a), None),
        IpAddr::V6(a) => (None, Some(a)),
    };
    Fteid {
        interface_type: interface,
        teid,
        ipv4,
        ipv6,
    }
}

impl Processor {
    /// A Create Session Request directed here (TS 29.274 section 7.2.1): refused with Mandatory
    /// IE missing (naming the IE), Missing or unknown APN (78) for an APN the gateway does not
    /// serve ([`ProcessorConfig::apns`](super::ProcessorConfig::apns), as for GTPv1), No
    /// resources available (73) or, when the UE address slice
    /// of (`vid`, `backup`) is full, All dynamic addresses are occupied (84), answered again
    /// when retransmitted (same IMSI and EPS Bearer ID, peer and sequence number), replacing
    /// the session of the same IMSI and EPS Bearer ID otherwise (section 7.2.1, as
    /// [`Self::retransmitted_or_replaced`] does for GTPv1), else a session with TEID `compose(vid, backup, local)` for both
    /// the S11/S4 control plane and the S1-U user plane and an IPv4 PDN address from this VID's
    /// slice of the UE pool, replicated before the Create Session Response leaves.
    pub(super) fn setup_v2(
        &mut self,
        now: Instant,
        vid: VirtualId,
        backup: Option<VirtualId>,
        route: Route,
        data: &[u8],
    ) -> Result<(), InputError> {
        let req = gtpv2::parse(data)?;
        if req.message_type() != MessageType::CREATE_SESSION_REQUEST {
            return Err(InputError::UnsupportedGtpv2Message(req.message_type()));
        }
        let seq = req.header.sequence;
        let sender = req.fteid(0);
        let peer_teid_c = sender.map_or(0, |f| f.teid);
        if let Some(missing) = missing_ie(&req) {
            // TS 29.274 section 7.7.1: a mandatory IE present but of erroneous content is
            // "Mandatory IE incorrect", one absent "Mandatory IE missing".
            let value = if incorrect(&req, missing) {
                CauseValue::MANDATORY_IE_INCORRECT
            } else {
                CauseValue::MANDATORY_IE_MISSING
            };
            self.refuse_v2(route, &req, peer_teid_c, value, Some(missing));
            return Ok(());
        }
        // TS 29.274 section 7.2.2, table 8.4-1: an APN the gateway does not serve.
        if !self.apn_served(req.apn()) {
            self.refuse_v2(
                route,
                &req,
                peer_teid_c,
                CauseValue::MISSING_OR_UNKNOWN_APN,
                None,
            );
            return Ok(());
        }
        let bearer = req
            .ie(IeType::BEARER_CONTEXT, 0)
            .map(Ie::ies)
            .unwrap_or(&[]);
        let peer_c = sender
            .as_ref()
            .and_then(fteid_ip)
            .unwrap_or(route.peer.ip());
        let s1u = fteid_in(bearer, 0);
        let record = SessionRecord {
            teid: 0,
            version: 1,
            peer_teid_c,
            peer_teid_u: s1u.map_or(0, |f| f.teid),
            peer_c,
            peer_u: s1u.as_ref().and_then(fteid_ip).unwrap_or(peer_c),
            imsi: imsi_record(imsi_of(&req)),
            nsapi: ebi_of(bearer).unwrap_or(0),
            ue_addr: Ipv4Addr::UNSPECIFIED,
            protocol: SessionProtocol::Gtpv2,
            peer_seid: 0,
        };
        // TS 29.274 section 7.2.1: a new request (not a retransmission: TS 29.274 section 7.6)
        // colliding with the PDN connection of the same IMSI and EPS Bearer ID replaces it;
        // the request came with TEID 0 in its header (it reached the switch processor), so the
        // old context is deleted locally before the new one is created.
        if self.retransmitted_or_replaced(now, &record, route.peer, seq) {
            return Ok(());
        }
        let (local, teid) = match self.allocate_teid(vid, backup) {
            Ok(a) => a,
            Err(e) => {
                let value = match e {
                    Exhausted::Sessions => CauseValue::NO_RESOURCES_AVAILABLE,
                    Exhausted::Addresses => CauseValue::ALL_DYNAMIC_ADDRESSES_ARE_OCCUPIED,
                };
                self.refuse_v2(route, &req, peer_teid_c, value, None);
                return Ok(());
            }
        };
        let record = SessionRecord {
            teid,
            ue_addr: self.ue_addr(vid, backup, local),
            ..record
        };
        let session = Session {
            record,
            peer: route.peer,
            gateway: route.gateway,
            line: route.line,
            qos: Vec::new(),
            grant: (Grant::V4, gtp::Cause::REQUEST_ACCEPTED),
            chosen: Vec::new(),
            setup: Some((route.peer, seq)),
        };
        self.create(now, session, seq, backup);
        Ok(())
    }

    /// The Create Session Response of session `s` (TS 29.274 section 7.2.2): Cause Request
    /// accepted, the Sender F-TEID for Control Plane (S11/S4 SGW GTP-C, the session's TEID),
    /// the PDN Address Allocation (IPv4), the Bearer Context created (EPS Bearer ID, Cause, S1-U
    /// SGW F-TEID, the session's TEID) and Recovery; header TEID the MME's.
    pub(super) fn create_session_response(&self, s: &Session, seq: u32) -> Option<Vec<u8>> {
        let r = &s.record;
        let gw = s.gateway.ip();
        let ies = vec![
            cause(CauseValue::REQUEST_ACCEPTED, None),
            Ie::new(IeValue::Fteid(own_fteid(
                InterfaceType::S11S4_SGW_GTP_C,
                r.teid,
                gw,
            ))),
            Ie::new(IeValue::Paa(Paa::Ipv4(r.ue_addr))),
            bearer_context(r, gw),
            Ie::new(IeValue::Recovery(self.config.recovery)),
        ];
        let m = Message::new(
            MessageType::CREATE_SESSION_RESPONSE,
            Some(r.peer_teid_c),
            seq,
            ies,
        );
        m.to_vec().ok()
    }

    /// Answers `req` with its response type (the request's + 1) carrying only a Cause of `value`
    /// (naming `offending`), header TEID `teid`; a set-up refusal is counted in
    /// [`ProcessorStats::refused`](super::ProcessorStats::refused).
    fn refuse_v2(
        &mut self,
        route: Route,
        req: &Message<'_>,
        teid: u32,
        value: CauseValue,
        offending: Option<(IeType, u8)>,
    ) {
        if req.message_type() == MessageType::CREATE_SESSION_REQUEST {
            self.stats.refused += 1;
        }
        let t = MessageType(req.message_type().0.wrapping_add(1));
        let m = Message::new(
            t,
            Some(teid),
            req.header.sequence,
            vec![cause(value, offending)],
        );
        if let Ok(data) = m.to_vec() {
            self.push_to(route.line, transmit_bytes(route.gateway, route.peer, data));
        }
    }

    /// A GTPv2-C message steered here by its TEID: a Modify Bearer Request (section 7.2.7) or
    /// a Delete Session Request (section 7.2.9.1) of a session held here (own or replicated),
    /// served and answered with Request accepted; for a TEID held nowhere here, Context Not
    /// Found with header TEID 0 (section 5.5.2), at most `non_existent` answers.
    pub(super) fn packet_v2(
        &mut self,
        now: Instant,
        route: Route,
        data: &[u8],
    ) -> Result<(), InputError> {
        let served =
            |t| t == MessageType::MODIFY_BEARER_REQUEST || t == MessageType::DELETE_SESSION_REQUEST;
        let mut req = match gtpv2::parse(data) {
            Ok(req) => req,
            Err(e) => {
                self.length_error_v2(now, route, data);
                return Err(e.into());
            }
        };
        // TS 29.274 section 7.7.0: the message piggybacked on a triggered response (P = 1) is
        // processed independently of it; the response (this gateway sends no request it
        // would trigger) is unexpected and discarded.
        if !served(req.message_type()) {
            if let Some(p) = req.piggybacked.take() {
                req = *p;
            }
        }
        let t = req.message_type();
        if !served(t) {
            return Err(InputError::UnsupportedGtpv2Message(t));
        }
        let teid = req.header.teid.unwrap_or(0);
        let seq = req.header.sequence;
        // TS 29.274 section 7.2.7: Recovery is included when the MME contacts this SGW for the
        // first time (after its restart, say): for the switch processor's path table (TS
        // 23.007 section 18).
        if let Some(r) = req.recovery() {
            self.note_recovery(now, SessionProtocol::Gtpv2, teid, route, r);
        }
        if self.answer_again(route.peer, seq, teid) {
            return Ok(());
        }
        let recovery = self.config.recovery;
        let Some((session, as_backup)) = self.session_routed(teid, SessionProtocol::Gtpv2, route)
        else {
            if self.may_answer_unknown(now) {
                self.refuse_v2(route, &req, 0, CauseValue::CONTEXT_NOT_FOUND, None);
            }
            return Err(InputError::UnknownTeid(teid));
        };
        let delete = t == MessageType::DELETE_SESSION_REQUEST;
        let ies = if delete {
            vec![cause(CauseValue::REQUEST_ACCEPTED, None)]
        } else {
            modify(&mut session.record, &req);
            vec![
                cause(CauseValue::REQUEST_ACCEPTED, None),
                bearer_context(&session.record, route.gateway.ip()),
                Ie::new(IeValue::Recovery(recovery)),
            ]
        };
        let record = session.record;
        let resp = Message::new(MessageType(t.0 + 1), Some(record.peer_teid_c), seq, ies);
        let bytes = resp
            .to_vec()
            .ok()
            .map(|d| transmit_bytes(route.gateway, route.peer, d));
        self.event(if delete {
            ProcessorEvent::SessionDeleted { teid, as_backup }
        } else {
            ProcessorEvent::SessionUpdated { teid, as_backup }
        });
        self.answer_served(now, route, record, (seq, bytes), as_backup, delete);
        Ok(())
    }
}

impl Processor {
    /// TS 29.274 section 7.7.3: a Create Session, Modify Bearer or Delete Session Request whose
    /// Length disagrees with the datagram is answered with Cause Invalid Length (header TEID the
    /// peer's when the TEID names a GTPv2 session held here, else 0), at most `length_errors`.
    fn length_error_v2(&mut self, now: Instant, route: Route, data: &[u8]) {
        let Some(mut r) = Message::length_error_response(data) else {
            return;
        };
        let teid = data
            .get(4..8)
            .filter(|_| data.first().is_some_and(|f| f & 0x08 != 0))
            .and_then(|t| t.try_into().ok())
            .map_or(0, u32::from_be_bytes);
        if let Some(s) = self.sessions.get(&teid).or_else(|| self.shadow.get(&teid)) {
            if s.record.protocol == SessionProtocol::Gtpv2 {
                r.header.teid = Some(s.record.peer_teid_c);
            }
        }
        self.answer_length_error(now, route, r.to_vec().ok());
    }

    /// Sends the Invalid Length (GTPv2-C) or Invalid length (PFCP) response `bytes` along
    /// `route`, within `length_errors` (counted in `length_errors`, beyond in
    /// `length_errors_suppressed`).
    pub(super) fn answer_length_error(
        &mut self,
        now: Instant,
        route: Route,
        bytes: Option<Vec<u8>>,
    ) {
        let Some(bytes) = bytes else {
            return;
        };
        if !self.length_errors.take(now) {
            self.stats.length_errors_suppressed += 1;
            return;
        }
        self.stats.length_errors += 1;
        self.push_to(route.line, transmit_bytes(route.gateway, route.peer, bytes));
    }
}

/// The Bearer Context of a response (TS 29.274 sections 7.2.2 and 7.2.8, instance 0): the EPS
/// Bearer ID, Cause Request accepted and the S1-U SGW F-TEID (the session's TEID at `gw`).
fn bearer_context(r: &SessionRecord, gw: IpAddr) -> Ie<'static> {
    Ie::new(IeValue::Grouped {
        ie_type: IeType::BEARER_CONTEXT,
        ies: vec![
            Ie::new(IeValue::Ebi(r.nsapi)),
            cause(CauseValue::REQUEST_ACCEPTED, None),
            Ie::new(IeValue::Fteid(own_fteid(
                InterfaceType::S1U_SGW_GTP_U,
                r.teid,
                gw,
            ))),
        ],
    })
}

/// Applies a Modify Bearer Request (TS 29.274 section 7.2.7) to a session record: a new Sender
/// F-TEID for Control Plane (an MME change) and the S1-U eNodeB F-TEID of the Bearer Context
/// to be modified (instance 0).
fn modify(r: &mut SessionRecord, req: &Message<'_>) {
    if let Some(f) = req.fteid(0) {
        r.peer_teid_c = f.teid;
        r.peer_c = fteid_ip(&f).unwrap_or(r.peer_c);
    }
    let enb = req
        .ie(IeType::BEARER_CONTEXT, 0)
        .and_then(|b| fteid_in(b.ies(), 0));
    if let Some(f) = enb {
        r.peer_teid_u = f.teid;
        r.peer_u = fteid_ip(&f).unwrap_or(r.peer_u);
    }
    r.version = r.version.wrapping_add(1);
}
