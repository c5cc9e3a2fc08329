//! PFCP sessions (TS 29.244, N4/Sxb as a UP function speaks it): a Session Establishment Request
//! directed here gets an F-SEID and the F-TEIDs it asks the UP function to CHOOSE, all carrying
//! this processor's VID and its backup's; Session Modification and Deletion Requests arrive
//! steered by that SEID and are served from the session or, as the backup, from its replicated
//! copy, exactly as GTPv1's Update and Delete.
//!
//! A session's TEID (`teid32.compose(VID, backup VID, local)`) and SEID
//! (`seid64.compose64(VID, backup VID, local)`, [`VidLayout::seid_layout`]) share their VIDs and
//! local index, so the session is kept (and replicated) under its TEID and found from either.
//!
//! Limits: every PDR asking for CHOOSE gets the session's one F-TEID (whatever its CHOOSE ID);
//! an F-TEID the CP function assigned itself (CH = 0) inside this processor's TEID range (its
//! VID and the backup VID the switch processor directed it with: the ranges of
//! [`pfcp::teidri`], advertised when [`SwitchConfig::teid_ranges`] is set) becomes the session's
//! TEID, so its G-PDUs reach the session here and, after a failure, at the backup; any other
//! CP-assigned F-TEID is accepted as it is and G-PDUs to it are steered by its own bits; the UE IPv4 address is the one the CP function gave in a PDI's
//! UE IP Address, else the one of the session's slice of the UE pool ([`crate::steering::ue_pool`],
//! the same VIDs and local index as its TEID), returned in each Created PDR's UE IP Address
//! (CHV4, section 7.5.3.2); a full slice refuses the set-up with All dynamic addresses are
//! occupied (79) when the CP function asked for CHV4 or CHV6, No resources available (75)
//! otherwise. Downlink packets to a CP-given address are steered by that address's bits: only
//! an address of the session's own slice reaches the session's processor.
//!
//! [`VidLayout::seid_layout`]: crate::steering::VidLayout::seid_layout
//! [`SwitchConfig::teid_ranges`]: crate::steering::switch::SwitchConfig::teid_ranges

use super::setup::Exhausted;
use super::sync::imsi_record;
use super::{Grant, Processor, ProcessorEvent, Session, transmit_bytes};
use crate::steering::common::Route;
use crate::steering::error::InputError;
use crate::steering::fabric::{SessionProtocol, SessionRecord};
use crate::steering::gtp;
use crate::steering::pfcp::{
    self, Cause, FSeid, FTeid, Ie, IeType, Message, MessageType, NodeId, OuterHeaderCreation,
};
use crate::steering::vid::VirtualId;
use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

/// The first IE of a grouped list (searched depth first) that `pick` accepts.
fn find_in<'i, 'a, T>(ies: &'i [Ie<'a>], pick: &impl Fn(&'i Ie<'a>) -> Option<T>) -> Option<T> {
    ies.iter().find_map(|ie| {
        pick(ie).or_else(|| match ie {
            Ie::Grouped { ies, .. } => find_in(ies, pick),
            _ => None,
        })
    })
}

/// The Outer Header Creation of a message's FARs (Create FAR / Forwarding Parameters, Update
/// FAR / Update Forwarding Parameters): where downlink G-PDUs go (TS 29.244 section 8.2.56).
fn outer_header(req: &Message<'_>) -> Option<OuterHeaderCreation> {
    find_in(&req.ies, &|ie| match ie {
        Ie::OuterHeaderCreation(o) if o.teid.is_some() => Some(*o),
        _ => None,
    })
}

/// The UE IPv4 address a message's PDIs name (UE IP Address, section 8.2.62).
fn ue_ipv4(req: &Message<'_>) -> Option<Ipv4Addr> {
    find_in(&req.ies, &|ie| match ie {
        Ie::UeIpAddress(u) => u.ipv4,
        _ => None,
    })
}

/// Whether a message's PDIs ask the UP function to choose the UE IP address (UE IP Address
/// with CHV4 or CHV6, section 8.2.62).
fn choose_ue_ip(req: &Message<'_>) -> bool {
    find_in(&req.ies, &|ie| match ie {
        Ie::UeIpAddress(u) if u.choose_ipv4 || u.choose_ipv6 => Some(()),
        _ => None,
    })
    .is_some()
}

/// The PDR IDs of the Create PDRs whose PDI asks the UP function to CHOOSE the F-TEID
/// (section 8.2.3).
fn choose_pdrs(req: &Message<'_>) -> Vec<u16> {
    req.ies_of(IeType::CREATE_PDR)
        .filter_map(|pdr| {
            let id = pdr.ies().iter().find_map(|ie| match ie {
                Ie::PdrId(id) => Some(*id),
                _ => None,
            })?;
            let pdi = pdr.ie(IeType::PDI)?;
            pdi.ies()
                .iter()
                .any(|ie| matches!(ie, Ie::FTeid(FTeid::Choose { .. })))
                .then_some(id)
        })
        .collect()
}

/// The first F-TEID the CP function allocated itself (CH = 0) in a Create PDR's PDI (TS 29.244
/// section 7.5.2.2), searched in order.
pub(crate) fn cp_fteid(req: &Message<'_>) -> Option<u32> {
    req.ies_of(IeType::CREATE_PDR).find_map(|pdr| {
        pdr.ie(IeType::PDI)?.ies().iter().find_map(|ie| match ie {
            Ie::FTeid(FTeid::Assigned { teid, .. }) => Some(*teid),
            _ => None,
        })
    })
}

/// The first mandatory IE a Session Establishment Request lacks (TS 29.244 table 7.5.2.1-1:
/// Node ID, CP F-SEID, Create PDR, Create FAR); `None` when it has them all.
fn missing_ie(req: &Message<'_>) -> Option<IeType> {
    [
        (IeType::NODE_ID, req.node_id_received().is_some()),
        (IeType::F_SEID, req.f_seid().is_some()),
        (IeType::CREATE_PDR, req.ie(IeType::CREATE_PDR).is_some()),
        (IeType::CREATE_FAR, req.ie(IeType::CREATE_FAR).is_some()),
    ]
    .into_iter()
    .find(|(_, present)| !present)
    .map(|(t, _)| t)
}

/// The Node ID of the UP function answering from `gw` (section 8.2.38).
fn node_id(gw: IpAddr) -> Ie<'static> {
    Ie::NodeId(match gw {
        IpAddr::V4(a) => NodeId::Ipv4(a),
        IpAddr::V6(a) => NodeId::Ipv6(a),
    })
}

/// `gw` as the (IPv4, IPv6) pair of an F-SEID or F-TEID.
fn addrs(gw: IpAddr) -> (Option<Ipv4Addr>, Option<std::net::Ipv6Addr>) {
    match gw {
        IpAddr::V4(a) => (Some(a), None),
        IpAddr::V6(a) => (None, Some(a)),
    }
}

/// An F-SEID's address (IPv4 first).
fn fseid_ip(f: &FSeid) -> Option<IpAddr> {
    f.ipv4.map(IpAddr::V4).or_else(|| f.ipv6.map(IpAddr::V6))
}

impl Processor {
    /// The SEID of the session `teid` (same VIDs and local index, [`VidLayout::seid_layout`]).
    ///
    /// [`VidLayout::seid_layout`]: crate::steering::VidLayout::seid_layout
    fn seid_of(&self, teid: u32) -> u64 {
        let l = self.config.layout;
        let s = l.seid_layout();
        l.primary(teid)
            .and_then(|p| {
                s.compose64(p, l.backup(teid), u64::from(l.local(teid)))
                    .ok()
            })
            .unwrap_or(0)
    }

    /// The TEID of the session a SEID names, `None` when it cannot be one of ours.
    fn teid_of(&self, seid: u64) -> Option<u32> {
        let l = self.config.layout;
        let s = l.seid_layout();
        let local = u32::try_from(s.local64(seid)).ok()?;
        l.compose(s.primary64(seid)?, s.backup64(seid), local).ok()
    }

    /// A Session Establishment Request directed here (TS 29.244 section 7.5.2): refused with
    /// Mandatory IE missing (and the Offending IE) or No resources available, answered again
    /// when repeated (same CP F-SEID), else a session whose F-SEID and chosen F-TEIDs carry
    /// this processor's VID and `backup`, replicated before the Session Establishment Response
    /// leaves.
    pub(super) fn setup_n4(
        &mut self,
        now: Instant,
        vid: VirtualId,
        backup: Option<VirtualId>,
        route: Route,
        data: &[u8],
    ) -> Result<(), InputError> {
        let req = pfcp::parse(data)?;
        if req.message_type() != MessageType::SESSION_ESTABLISHMENT_REQUEST {
            return Err(InputError::UnsupportedPfcpMessage(req.message_type()));
        }
        let seq = req.header.sequence;
        let cp = req.f_seid();
        let peer_seid = cp.map_or(0, |f| f.seid);
        if let Some(missing) = missing_ie(&req) {
            let offending = Ie::Raw {
                ie_type: IeType::OFFENDING_IE,
                value: Cow::Owned(missing.0.to_be_bytes().to_vec()),
            };
            self.refuse_n4(
                route,
                &req,
                peer_seid,
                Cause::MANDATORY_IE_MISSING,
                Some(offending),
            );
            return Ok(());
        }
        let peer_c = cp.as_ref().and_then(fseid_ip).unwrap_or(route.peer.ip());
        let outer = outer_header(&req);
        let record = SessionRecord {
            teid: 0,
            version: 1,
            peer_teid_c: 0,
            peer_teid_u: outer.and_then(|o| o.teid).unwrap_or(0),
            peer_c,
            peer_u: outer
                .and_then(|o| o.ipv4.map(IpAddr::V4).or(o.ipv6.map(IpAddr::V6)))
                .unwrap_or(peer_c),
            imsi: imsi_record(None),
            nsapi: 0,
            ue_addr: Ipv4Addr::UNSPECIFIED,
            protocol: SessionProtocol::Pfcp,
            peer_seid,
        };
        if self.repeated(&record, seq) {
            return Ok(());
        }
        let (local, teid) = match self.session_teid(&req, vid, backup) {
            Ok(a) => a,
            Err(cause) => {
                self.refuse_n4(route, &req, peer_seid, cause, None);
                return Ok(());
            }
        };
        let record = SessionRecord {
            teid,
            ue_addr: ue_ipv4(&req).unwrap_or_else(|| self.ue_addr(vid, backup, local)),
            ..record
        };
        let session = Session {
            record,
            peer: route.peer,
            gateway: route.gateway,
            line: route.line,
            qos: Vec::new(),
            grant: (Grant::V4, gtp::Cause::REQUEST_ACCEPTED),
            chosen: choose_pdrs(&req),
            setup: None,
        };
        self.create(now, session, seq, backup);
        Ok(())
    }

    /// The local index and TEID of a new session (TS 29.244 section 5.5.1): the CP function's
    /// F-TEID when it allocated one inside this processor's TEID range (CH = 0, carrying `vid`
    /// and `backup`, [`super::super::pfcp::teidri`]), else one of this processor's slice.
    /// Refusals: Rule creation/modification Failure (73) for a CP-allocated TEID already in use
    /// or beyond the layout's local part; All dynamic addresses are occupied (79) for a full
    /// slice when the CP function asked for the UE address (CHV4 / CHV6); else No resources
    /// available (75).
    fn session_teid(
        &mut self,
        req: &Message<'_>,
        vid: VirtualId,
        backup: Option<VirtualId>,
    ) -> Result<(u32, u32), Cause> {
        let l = self.config.layout;
        let ours = |t: &u32| l.primary(*t) == Some(vid) && l.backup(*t) == backup;
        if let Some(teid) = cp_fteid(req).filter(ours) {
            return match self.claim_teid(teid) {
                Ok(local) => Ok((local, teid)),
                Err(Exhausted::Sessions) => Err(Cause::NO_RESOURCES_AVAILABLE),
                Err(Exhausted::Addresses) => Err(Cause::RULE_CREATION_MODIFICATION_FAILURE),
            };
        }
        self.allocate_teid(vid, backup).map_err(|e| match e {
            Exhausted::Addresses if choose_ue_ip(req) => Cause::ALL_DYNAMIC_ADDRESSES_ARE_OCCUPIED,
            _ => Cause::NO_RESOURCES_AVAILABLE,
        })
    }

    /// The Session Establishment Response of session `s` (TS 29.244 section 7.5.3): Node ID,
    /// Cause Request accepted, the UP F-SEID, and a Created PDR (PDR ID, F-TEID) for each PDR
    /// whose F-TEID this processor chose; header SEID the CP function's.
    pub(super) fn establishment_response(&self, s: &Session, seq: u32) -> Option<Vec<u8>> {
        let r = &s.record;
        let gw = s.gateway.ip();
        let (ipv4, ipv6) = addrs(gw);
        let mut ies = vec![
            node_id(gw),
            Ie::Cause(Cause::REQUEST_ACCEPTED),
            Ie::FSeid(FSeid {
                seid: self.seid_of(r.teid),
                ipv4,
                ipv6,
            }),
        ];
        // The UE address this UP function chose (its slice's, as the TEID): returned in the
        // Created PDR (section 7.5.3.2, UE IP Address, Rel-16).
        let l = self.config.layout;
        let chosen_ue = l
            .primary(r.teid)
            .and_then(|p| self.pool.address(p, l.backup(r.teid), l.local(r.teid)))
            .filter(|a| *a == r.ue_addr);
        ies.extend(s.chosen.iter().map(|&id| {
            let mut created = vec![
                Ie::PdrId(id),
                Ie::FTeid(FTeid::Assigned {
                    teid: r.teid,
                    ipv4,
                    ipv6,
                }),
            ];
            created.extend(chosen_ue.map(|a| {
                Ie::UeIpAddress(pfcp::UeIpAddress {
                    destination: false,
                    ipv4: Some(a),
                    ipv6: None,
                    choose_ipv4: false,
                    choose_ipv6: false,
                    ipv6_prefix_delegation_bits: None,
                    ipv6_prefix_length: None,
                })
            }));
            Ie::Grouped {
                ie_type: IeType::CREATED_PDR,
                ies: created,
            }
        }));
        let m = Message::new(
            MessageType::SESSION_ESTABLISHMENT_RESPONSE,
            r.peer_seid,
            seq,
            ies,
        );
        m.to_vec().ok()
    }

    /// Answers `req` with its response type (the request's + 1) carrying the Node ID (for a
    /// Session Establishment Request), Cause `cause` and `offending`, header SEID `seid`.
    fn refuse_n4(
        &mut self,
        route: Route,
        req: &Message<'_>,
        seid: u64,
        cause: Cause,
        offending: Option<Ie<'static>>,
    ) {
        let t = req.message_type();
        let mut ies = Vec::new();
        if t == MessageType::SESSION_ESTABLISHMENT_REQUEST {
            self.stats.refused += 1;
            ies.push(node_id(route.gateway.ip()));
        }
        ies.push(Ie::Cause(cause));
        ies.extend(offending);
        let m = Message::new(
            MessageType(t.0.wrapping_add(1)),
            seid,
            req.header.sequence,
            ies,
        );
        if let Ok(data) = m.to_vec() {
            self.push_to(route.line, transmit_bytes(route.gateway, route.peer, data));
        }
    }

    /// A PFCP message steered here by its SEID: a Session Modification Request (section 7.5.4)
    /// or Session Deletion Request (section 7.5.6) of a session held here (own or replicated),
    /// served and answered with Request accepted; for a SEID held nowhere here, Session
    /// context not found with header SEID 0 (section 7.2.2.4.2), at most `non_existent`
    /// answers.
    pub(super) fn packet_n4(
        &mut self,
        now: Instant,
        route: Route,
        data: &[u8],
    ) -> Result<(), InputError> {
        let req = match pfcp::parse(data) {
            Ok(req) => req,
            Err(e) => {
                self.length_error_n4(now, route, data);
                return Err(e.into());
            }
        };
        let t = req.message_type();
        if t != MessageType::SESSION_MODIFICATION_REQUEST
            && t != MessageType::SESSION_DELETION_REQUEST
        {
            return Err(InputError::UnsupportedPfcpMessage(t));
        }
        let seid = req.header.seid.unwrap_or(0);
        let seq = req.header.sequence;
        let teid = self.teid_of(seid).unwrap_or(0);
        if self.answer_again(route.peer, seq, teid) {
            return Ok(());
        }
        let Some((session, as_backup)) = self.session_routed(teid, SessionProtocol::Pfcp, route)
        else {
            if self.may_answer_unknown(now) {
                self.refuse_n4(route, &req, 0, Cause::SESSION_CONTEXT_NOT_FOUND, None);
            }
            return Err(InputError::UnknownSeid(seid));
        };
        let delete = t == MessageType::SESSION_DELETION_REQUEST;
        if !delete {
            modify(&mut session.record, &req);
        }
        let record = session.record;
        let resp = Message::new(
            MessageType(t.0 + 1),
            record.peer_seid,
            seq,
            vec![Ie::Cause(Cause::REQUEST_ACCEPTED)],
        );
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
    /// TS 29.244 section 7.6.3: a Session Modification or Deletion Request whose Length
    /// disagrees with the datagram is answered with Cause Invalid length (header SEID the CP
    /// function's when the SEID names a session held here, else 0), at most `length_errors`.
    fn length_error_n4(&mut self, now: Instant, route: Route, data: &[u8]) {
        let Some(mut r) = Message::length_error_response(data, node_id(route.gateway.ip())) else {
            return;
        };
        let seid = data
            .get(4..12)
            .filter(|_| data.first().is_some_and(|f| f & 0x01 != 0))
            .and_then(|s| s.try_into().ok())
            .map_or(0, u64::from_be_bytes);
        let held = self.teid_of(seid).and_then(|teid| {
            self.sessions
                .get(&teid)
                .or_else(|| self.shadow.get(&teid))
                .map(|s| s.record.peer_seid)
        });
        if let Some(peer_seid) = held {
            r.header.seid = Some(peer_seid);
        }
        self.answer_length_error(now, route, r.to_vec().ok());
    }
}

/// Applies a Session Modification Request (TS 29.244 section 7.5.4) to a session record: a new
/// CP F-SEID (the CP function moved the session) and the Outer Header Creation of its FARs
/// (where downlink G-PDUs go).
fn modify(r: &mut SessionRecord, req: &Message<'_>) {
    if let Some(f) = req.f_seid() {
        r.peer_seid = f.seid;
        r.peer_c = fseid_ip(&f).unwrap_or(r.peer_c);
    }
    if let Some(o) = outer_header(req) {
        r.peer_teid_u = o.teid.unwrap_or(r.peer_teid_u);
        r.peer_u = o
            .ipv4
            .map(IpAddr::V4)
            .or(o.ipv6.map(IpAddr::V6))
            .unwrap_or(r.peer_u);
    }
    r.version = r.version.wrapping_add(1);
}
