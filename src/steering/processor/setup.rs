//! Directed set-ups: Create PDP Context Requests answered with identifiers carrying this
//! processor's VID (TS 29.060 sections 7.3.1 and 7.3.2).

use super::sync::{imsi_record, own_key, record_imsi};
use super::{Processor, ProcessorEvent, Session, transmit_bytes};
use crate::steering::common::Route;
use crate::steering::common::Wire;
use crate::steering::error::InputError;
use crate::steering::fabric::{SessionProtocol, SessionRecord};
use crate::steering::gtp::{self, Apn, Cause, EndUserAddress, Ie, IeType, Message, MessageType};
use crate::steering::vid::VirtualId;
use std::borrow::Cow;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Instant;

/// Why a set-up got no identifiers: `max_sessions` held, or its UE address slice full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Exhausted {
    Sessions,
    Addresses,
}

/// The PDP type a set-up is granted (TS 29.060 sections 7.3.2 and 7.7.27).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Grant {
    V4,
    V6,
    V4v6,
}

/// The refusal TS 29.060 11.1.5 and 11.1.7 ask for when a request a processor serves lacks a
/// mandatory element (Mandatory IE missing) or carries one it cannot use (Mandatory IE incorrect),
/// `None` when the request is complete. Mandatory per 7.3.1 (Create), 7.3.3 (Update, SGSN-initiated)
/// and 7.3.5 (Delete): TEID Data I, NSAPI, the SGSN addresses for signalling and for user traffic
/// and the QoS Profile (Create and Update), NSAPI (Delete). A QoS Profile too short for the
/// allocation/retention priority and the three value octets of the TS 24.008 QoS IE (7.7.34) is
/// incorrect.
pub(super) fn mandatory_ie_error(req: &Message<'_>) -> Option<Cause> {
    let t = req.message_type();
    let has = |ty: IeType| req.ie(ty).is_some();
    let tunnel = has(IeType::TEID_DATA_I)
        && has(IeType::NSAPI)
        && req.gsn_addresses().count() >= 2
        && has(IeType::QOS_PROFILE);
    let complete = match t {
        MessageType::CREATE_PDP_CONTEXT_REQUEST | MessageType::UPDATE_PDP_CONTEXT_REQUEST => tunnel,
        MessageType::DELETE_PDP_CONTEXT_REQUEST => has(IeType::NSAPI),
        _ => true,
    };
    if !complete {
        return Some(Cause::MANDATORY_IE_MISSING);
    }
    match req.ie(IeType::QOS_PROFILE) {
        Some(Ie::QosProfile(q)) if q.len() < 4 => Some(Cause::MANDATORY_IE_INCORRECT),
        _ => None,
    }
}

impl Processor {
    /// Gives the local index of the session `teid` back to its slice.
    pub(super) fn release_local(&mut self, teid: u32) {
        let l = self.config.layout;
        self.slices.release(l.backup_raw(teid), l.local(teid));
    }

    /// The IPv4 address of slice (`vid`, `backup`) at `local` (see [`crate::steering::ue_pool`]).
    pub(super) fn ue_addr(
        &self,
        vid: VirtualId,
        backup: Option<VirtualId>,
        local: u32,
    ) -> Ipv4Addr {
        self.pool
            .address(vid, backup, local)
            .unwrap_or(Ipv4Addr::UNSPECIFIED)
    }

    /// The /64 of `ue_pool_v6` of the session `teid` (its VIDs and local index), interface
    /// identifier 1.
    pub(super) fn ue_addr_v6(&self, teid: u32) -> Option<Ipv6Addr> {
        let l = self.config.layout;
        self.pool
            .address_v6(l.primary(teid)?, l.backup(teid), l.local(teid))
    }

    /// Whether the APN of a set-up (`None`: the request had none) is one the gateway serves
    /// ([`ProcessorConfig::apns`](super::ProcessorConfig::apns); every APN when the list is
    /// empty): TS 29.060 section 7.3.2.
    pub(super) fn apn_served(&self, apn: Option<&Apn<'_>>) -> bool {
        if self.config.apns.is_empty() {
            return true;
        }
        let Some(name) = apn.and_then(Apn::name).map(|n| n.to_ascii_lowercase()) else {
            return false;
        };
        let ni = network_identifier(&name);
        self.config
            .apns
            .iter()
            .any(|a| a.eq_ignore_ascii_case(&name) || a.eq_ignore_ascii_case(ni))
    }

    /// The PDP type granted to a set-up and the response's cause, or the refusal's cause (TS
    /// 29.060 section 7.3.2): IPv4 always; IPv6 with an IPv6 pool; IPv4v6 with an IPv6 pool
    /// when the SGSN set the Dual Address Bearer Flag (Common Flags, section 7.7.48), IPv4 with
    /// cause 130 when it did not, IPv4 with cause 129 without an IPv6 pool.
    pub(super) fn grant(&self, req: &Message<'_>) -> Result<(Grant, Cause), Cause> {
        let Some(eua) = req.end_user_address() else {
            return Ok((Grant::V4, Cause::REQUEST_ACCEPTED));
        };
        let v6 = self.config.ue_pool_v6.is_some();
        let daf = matches!(
            req.ie(IeType::COMMON_FLAGS),
            Some(Ie::Tlv { value, .. }) if value.first().is_some_and(|f| f & 0x80 != 0)
        );
        if eua.organization & 0x0f != 1 {
            return Err(Cause::UNKNOWN_PDP_ADDRESS_OR_TYPE);
        }
        match eua.pdp_type {
            EndUserAddress::IPV4 => Ok((Grant::V4, Cause::REQUEST_ACCEPTED)),
            EndUserAddress::IPV6 if v6 => Ok((Grant::V6, Cause::REQUEST_ACCEPTED)),
            EndUserAddress::IPV4V6 if v6 && daf => Ok((Grant::V4v6, Cause::REQUEST_ACCEPTED)),
            EndUserAddress::IPV4V6 if v6 => {
                Ok((Grant::V4, Cause::NEW_PDP_TYPE_SINGLE_ADDRESS_BEARER))
            }
            EndUserAddress::IPV4V6 => Ok((Grant::V4, Cause::NEW_PDP_TYPE_NETWORK_PREFERENCE)),
            _ => Err(Cause::UNKNOWN_PDP_ADDRESS_OR_TYPE),
        }
    }

    /// The Create PDP Context Response of session `s` (TS 29.060 section 7.3.2).
    pub(super) fn create_response(&self, s: &Session, seq: u16) -> Message<'static> {
        let v4 = s.record.ue_addr;
        let v6 = self.ue_addr_v6(s.record.teid);
        let eua = match s.grant.0 {
            Grant::V4 => EndUserAddress::ipv4(Some(v4)),
            Grant::V6 => EndUserAddress::ipv6(v6),
            Grant::V4v6 => EndUserAddress::ipv4v6(Some(v4), v6),
        };
        let mut ies = vec![
            Ie::Cause(s.grant.1),
            Ie::Tv {
                ie_type: IeType::REORDERING_REQUIRED,
                value: Cow::Borrowed(&[0xfe]),
            },
            Ie::Recovery(self.config.recovery),
        ];
        ies.extend(tunnel_ies(s, Some(eua)));
        Message::new(
            MessageType::CREATE_PDP_CONTEXT_RESPONSE,
            s.record.peer_teid_c,
            seq,
            ies,
        )
    }

    /// A set-up directed here by the switch processor: a Create PDP Context Request (TS 29.060
    /// section 7.3.1), a Create Session Request (TS 29.274 section 7.2.1), a PFCP Session
    /// Establishment Request (TS 29.244 section 7.5.2), or an L2TP set-up.
    pub(super) fn handle_setup(
        &mut self,
        now: Instant,
        backup: Option<VirtualId>,
        peer: SocketAddr,
        gateway: SocketAddr,
        line: SocketAddr,
        data: &[u8],
    ) -> Result<(), InputError> {
        let vid = self.vid().ok_or(InputError::NotReady)?;
        let route = Route {
            line,
            gateway,
            peer,
        };
        let backup = backup.filter(|b| *b != vid && self.config.layout.backup_field().is_some());
        match crate::steering::common::wire(gateway.port(), data) {
            Wire::Gtpv1 => {}
            Wire::Gtpv2 => return self.setup_v2(now, vid, backup, route, data),
            Wire::Pfcp => return self.setup_n4(now, vid, backup, route, data),
            // An L2TP set-up (tunnel id 0): an LNS on this processor would take it from here.
            Wire::L2tp => return self.handle_l2tp(data),
        }
        let req = gtp::parse(data)?;
        if req.message_type() != MessageType::CREATE_PDP_CONTEXT_REQUEST {
            return Err(InputError::UnsupportedMessage(req.message_type()));
        }
        let seq = req.header.sequence.unwrap_or(0);
        let (record, grant) = match self.setup_record(&req) {
            Ok(r) => r,
            Err((teid, cause)) => {
                self.refuse_setup(route, &req, teid, cause);
                return Ok(());
            }
        };
        if self.retransmitted_or_replaced(now, &record, peer, u32::from(seq)) {
            return Ok(());
        }
        let (local, teid) = match self.allocate_teid(vid, backup) {
            Ok(a) => a,
            Err(e) => {
                let cause = match e {
                    Exhausted::Sessions => Cause::NO_RESOURCES_AVAILABLE,
                    Exhausted::Addresses => Cause::ALL_DYNAMIC_ADDRESSES_OCCUPIED,
                };
                self.refuse_setup(route, &req, record.peer_teid_c, cause);
                return Ok(());
            }
        };
        let record = SessionRecord {
            teid,
            ue_addr: self.ue_addr(vid, backup, local),
            ..record
        };
        let qos = match req.ie(IeType::QOS_PROFILE) {
            Some(Ie::QosProfile(q)) => q.to_vec(),
            _ => Vec::new(),
        };
        let session = Session {
            record,
            peer,
            gateway,
            line,
            qos,
            grant,
            chosen: Vec::new(),
            setup: Some((peer, u32::from(seq))),
        };
        self.create(now, session, u32::from(seq), backup);
        Ok(())
    }

    /// Whether the set-up of `record` repeats one this processor already holds a session for
    /// (answered again from its state, once replicated).
    pub(super) fn repeated(&mut self, record: &SessionRecord, seq: u32) -> bool {
        let Some(&teid) = self.by_subscriber.get(&own_key(record)) else {
            return false;
        };
        self.answer_repeat(teid, seq);
        true
    }

    /// A Create PDP Context Request or Create Session Request (from `peer`, sequence number
    /// `seq`) for a subscriber (IMSI and NSAPI / EPS Bearer ID) whose context of the same
    /// protocol this processor holds (TS 29.060 section 7.3.1, TS 29.274 section 7.2.1): the
    /// same `peer` and `seq` as the set-up of that context is a retransmission, answered
    /// again from it (`true`); a new sequence number or another SGSN / MME is a new session, for
    /// which the old context is torn down here: deleted, its TEID and address freed, its
    /// deletion replicated (so the backup and the switch processor forget it and the line
    /// interface no longer steers to it), any response of it still held dropped, reported
    /// ([`ProcessorEvent::SessionDeleted`]) and counted
    /// ([`ProcessorStats::contexts_replaced`](super::ProcessorStats::contexts_replaced));
    /// the caller then creates the new one (`false`). A set-up without an IMSI (an emergency
    /// attach, whose NSAPI alone names no subscriber) is always answered as a retransmission,
    /// as is one that names a session of the other protocol.
    pub(super) fn retransmitted_or_replaced(
        &mut self,
        now: Instant,
        record: &SessionRecord,
        peer: SocketAddr,
        seq: u32,
    ) -> bool {
        let Some(&teid) = self.by_subscriber.get(&own_key(record)) else {
            return false;
        };
        let Some(old) = self.sessions.get(&teid) else {
            return false;
        };
        let retransmission = record_imsi(record).is_none()
            || old.record.protocol != record.protocol
            || old.setup.is_none_or(|first| first == (peer, seq));
        if retransmission {
            self.answer_repeat(teid, seq);
            return true;
        }
        let old = old.record;
        if let Some(p) = self.pending.get_mut(&teid) {
            p.responses.clear();
        }
        self.stats.contexts_replaced += 1;
        self.event(ProcessorEvent::SessionDeleted {
            teid,
            as_backup: false,
        });
        self.remove_session(now, old, false, None);
        false
    }

    /// A local index of the slice (`vid`, `backup`) of the UE pool and the TEID carrying the
    /// same VIDs and index ([`crate::steering::ue_pool`]): the session's UE address, IPv6
    /// prefix, TEID and SEID all derive from it. Refused when `max_sessions` are held
    /// ([`Exhausted::Sessions`]) or the slice is full ([`Exhausted::Addresses`], counted in
    /// [`ProcessorStats::addresses_exhausted`](super::ProcessorStats::addresses_exhausted)).
    pub(super) fn allocate_teid(
        &mut self,
        vid: VirtualId,
        backup: Option<VirtualId>,
    ) -> Result<(u32, u32), Exhausted> {
        if self.sessions.len() >= self.config.max_sessions {
            return Err(Exhausted::Sessions);
        }
        let b = backup.map_or(0, VirtualId::get);
        let Some(local) = self.slices.allocate(b, self.pool.max_local()) else {
            self.stats.addresses_exhausted += 1;
            return Err(Exhausted::Addresses);
        };
        match self.config.layout.compose(vid, backup, local) {
            Ok(teid) => Ok((local, teid)),
            Err(_) => {
                self.slices.release(b, local);
                Err(Exhausted::Sessions)
            }
        }
    }

    /// Takes the local index of `teid`, a TEID the CP function allocated in this processor's
    /// range (its VIDs already checked): refused when `max_sessions` are held
    /// ([`Exhausted::Sessions`]) or the index is taken or beyond the layout's local part
    /// ([`Exhausted::Addresses`], not counted as an exhausted slice).
    pub(super) fn claim_teid(&mut self, teid: u32) -> Result<u32, Exhausted> {
        if self.sessions.len() >= self.config.max_sessions {
            return Err(Exhausted::Sessions);
        }
        let l = self.config.layout;
        let local = l.local(teid);
        if self.sessions.contains_key(&teid)
            || !self.slices.claim(l.backup_raw(teid), local, l.max_local())
        {
            return Err(Exhausted::Addresses);
        }
        Ok(local)
    }

    /// The answer to the set-up of session `s` with sequence number `seq`, as the fabric
    /// `Transmit` to its line interface.
    fn setup_answer(&self, s: &Session, seq: u32) -> Option<Vec<u8>> {
        let payload = match s.record.protocol {
            SessionProtocol::Gtpv1 => {
                let seq = u16::try_from(seq).unwrap_or(0);
                self.create_response(s, seq).to_vec().ok()?
            }
            SessionProtocol::Gtpv2 => self.create_session_response(s, seq)?,
            SessionProtocol::Pfcp => self.establishment_response(s, seq)?,
        };
        Some(transmit_bytes(s.gateway, s.peer, payload))
    }

    /// The session record a Create PDP Context Request asks for (TEID, version and End User
    /// Address still to be allocated) and the PDP type granted, or the refusal: the TEID of
    /// the response's header and its cause (TS 29.060 sections 7.3.2, 11.1.5 and 11.1.7).
    fn setup_record(
        &self,
        req: &Message<'_>,
    ) -> Result<(SessionRecord, (Grant, Cause)), (u32, Cause)> {
        let (Some(peer_teid_u), Some(peer_teid_c), Some(nsapi), None) = (
            req.teid_data_i(),
            req.teid_control(),
            req.nsapi(),
            mandatory_ie_error(req),
        ) else {
            let teid = req.teid_control().unwrap_or(0);
            let cause = mandatory_ie_error(req).unwrap_or(Cause::MANDATORY_IE_MISSING);
            return Err((teid, cause));
        };
        let mut gsn = req.gsn_addresses();
        let Some(peer_c) = gsn.next() else {
            return Err((peer_teid_c, Cause::MANDATORY_IE_MISSING));
        };
        let peer_u = gsn.next().unwrap_or(peer_c);
        if !self.apn_served(req.apn()) {
            return Err((peer_teid_c, Cause::MISSING_OR_UNKNOWN_APN));
        }
        let grant = self.grant(req).map_err(|cause| (peer_teid_c, cause))?;
        let record = SessionRecord {
            teid: 0,
            version: 1,
            peer_teid_c,
            peer_teid_u,
            peer_c,
            peer_u,
            imsi: imsi_record(req.imsi()),
            nsapi,
            ue_addr: Ipv4Addr::UNSPECIFIED,
            protocol: SessionProtocol::Gtpv1,
            peer_seid: 0,
        };
        Ok((record, grant))
    }

    /// Answers a repeated set-up of the session `teid` from its state, once its replication is
    /// acknowledged (until then the first answer is still held).
    fn answer_repeat(&mut self, teid: u32, seq: u32) {
        if self.pending.contains_key(&teid) {
            return;
        }
        if let Some(s) = self.sessions.get(&teid) {
            if let Some(bytes) = self.setup_answer(s, seq) {
                let line = s.line;
                self.push_to(line, bytes);
            }
        }
    }

    /// Holds a new session, reports it and replicates it; the answer to its set-up (sequence
    /// number `seq`) leaves once the replication is acknowledged.
    pub(super) fn create(
        &mut self,
        now: Instant,
        session: Session,
        seq: u32,
        backup: Option<VirtualId>,
    ) {
        let record = session.record;
        let (teid, line, grant) = (record.teid, session.line, session.grant);
        let bytes = self.setup_answer(&session, seq);
        self.sessions.insert(teid, session);
        self.by_subscriber.insert(own_key(&record), teid);
        // A copy of an earlier set-up of this subscriber held here as a backup is superseded.
        self.supersede_shadow(now, &record);
        self.stats.created += 1;
        self.update_load();
        let ue_addr_v6 = match (record.protocol, grant.0) {
            (SessionProtocol::Gtpv1, Grant::V6 | Grant::V4v6) => self.ue_addr_v6(teid),
            _ => None,
        };
        self.event(ProcessorEvent::SessionCreated {
            teid,
            imsi: record_imsi(&record),
            ue_addr: record.ue_addr,
            ue_addr_v6,
            backup,
        });
        self.replicate(now, record, false, bytes.map(|b| (line, b)));
    }
}

/// The APN Network Identifier of the dotted APN `name`: `name` without a trailing Operator
/// Identifier `mnc<digits>.mcc<digits>.gprs` (TS 23.003 section 9.1.2), `name` itself when it
/// has none.
fn network_identifier(name: &str) -> &str {
    let labels: Vec<&str> = name.rsplitn(4, '.').collect();
    let digits = |l: &str, p: &str| {
        l.strip_prefix(p)
            .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
    };
    match labels.as_slice() {
        [gprs, mcc, mnc, ni] if *gprs == "gprs" && digits(mcc, "mcc") && digits(mnc, "mnc") => ni,
        _ => name,
    }
}

/// The tunnel part of a response accepting a set-up or an update of session `s` (TS 29.060
/// sections 7.3.2 and 7.3.4, in IE type order): TEID Data I, TEID Control Plane and Charging ID
/// (all the session's TEID), the End User Address (set-up only), the gateway's addresses for
/// signalling and user traffic, and the QoS profile requested.
pub(super) fn tunnel_ies(s: &Session, eua: Option<EndUserAddress<'static>>) -> Vec<Ie<'static>> {
    let teid = s.record.teid;
    let gw = s.gateway.ip();
    let mut ies = vec![
        Ie::TeidDataI(teid),
        Ie::TeidControl(teid),
        Ie::ChargingId(teid),
    ];
    ies.extend(eua.map(Ie::EndUserAddress));
    ies.extend([Ie::GsnAddress(gw), Ie::GsnAddress(gw)]);
    if !s.qos.is_empty() {
        ies.push(Ie::QosProfile(Cow::Owned(s.qos.clone())));
    }
    ies
}
