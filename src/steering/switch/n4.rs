//! GTPv2-C and PFCP at the switch processor: what a line interface passes on with TEID 0, SEID
//! 0 or no identifier at all: set-ups to place (Create Session Request, TS 29.274 section
//! 7.2.1; Session Establishment Request, TS 29.244 section 7.5.2) and node messages answered
//! here (GTPv2-C Echo, TS 29.274 section 7.1; PFCP Heartbeat and Association Setup / Update /
//! Release, TS 29.244 sections 7.4.2 and 7.4.4).

use super::{RefusedSetup, SwitchEvent, SwitchProcessor, Timer, vids};
use crate::steering::common::Route;
use crate::steering::error::InputError;
use crate::steering::fabric::{SessionProtocol, VidState};
use crate::steering::gtpv2::{self, CauseValue};
use crate::steering::path::{PathProtocol, PeerId};
use crate::steering::pfcp::{self, Cause, Ie, IeType, Message, MessageType, NodeId, teidri};
use crate::steering::processor::cp_fteid;
use crate::steering::vid::VirtualId;
use std::borrow::Cow;
use std::net::IpAddr;
use std::time::Instant;

/// UP Function Features (TS 29.244 section 8.2.25), octet 5 bit 5: FTUP, the UP function
/// allocates F-TEIDs (CHOOSE). (Bit 1 is BUCP, downlink data buffering in the CP function.)
const FTUP: u8 = 0x10;

/// The Node ID as a key of the association table: its type octet and its value.
fn node_key(n: &NodeId<'_>) -> (u8, Vec<u8>) {
    match n {
        NodeId::Ipv4(a) => (0, a.octets().to_vec()),
        NodeId::Ipv6(a) => (1, a.octets().to_vec()),
        NodeId::Fqdn(f) => (2, f.0.to_vec()),
    }
}

/// The Node ID of the UP function answering from `gw` (section 8.2.38).
fn own_node_id(gw: IpAddr) -> Ie<'static> {
    Ie::NodeId(match gw {
        IpAddr::V4(a) => NodeId::Ipv4(a),
        IpAddr::V6(a) => NodeId::Ipv6(a),
    })
}

impl SwitchProcessor {
    /// A GTPv2-C datagram with no TEID or TEID 0: an Echo Request (answered, section 7.1.2,
    /// with `recovery`, at most `echo_responses`), a Create Session Request (placed as a Create
    /// PDP Context Request is; refused with No resources available when no processor is
    /// eligible or `max_sessions` is reached), anything else ignored.
    pub(super) fn handle_v2(
        &mut self,
        now: Instant,
        route: Route,
        data: &[u8],
    ) -> Result<(), InputError> {
        let m = match gtpv2::parse(data) {
            Ok(m) => m,
            Err(e) => {
                // TS 29.274 section 7.7.3: a request whose Length disagrees with the datagram
                // is answered with Cause Invalid Length.
                if let Some(r) = gtpv2::Message::length_error_response(data) {
                    self.stats.setups_refused += 1;
                    if self.length_errors.take(now) {
                        self.stats.length_errors += 1;
                        self.transmit_data(route, r.to_vec().ok());
                    } else {
                        self.stats.length_errors_suppressed += 1;
                    }
                }
                return Err(e.into());
            }
        };
        let seq = m.header.sequence;
        let recovery = m.recovery().map(u32::from);
        match m.message_type() {
            gtpv2::MessageType::ECHO_RESPONSE => {
                self.path_response(now, PathProtocol::Gtpv2, route, seq, recovery);
                Ok(())
            }
            gtpv2::MessageType::ECHO_REQUEST => {
                self.path_known(now, PathProtocol::Gtpv2, route, recovery);
                if !self.echo_responses.take(now) {
                    self.stats.echoes_suppressed += 1;
                    return Ok(());
                }
                self.stats.echoes += 1;
                let r = gtpv2::Message::echo_response(seq, self.config.recovery);
                self.transmit_data(route, r.to_vec().ok());
                Ok(())
            }
            gtpv2::MessageType::CREATE_SESSION_REQUEST => {
                self.path_seen(now, PathProtocol::Gtpv2, route, recovery);
                // TS 29.274 section 7.2.1: a new request (not a repeat) of a subscriber (IMSI
                // and EPS Bearer ID) whose context a processor holds replaces that context, so
                // it goes to that processor.
                let key = crate::steering::common::gtpv2_subscriber(&m)
                    .map(|(imsi, ebi)| (SessionProtocol::Gtpv2, imsi, ebi));
                if self.direct_repeat(route, seq, data)
                    || key.is_some_and(|k| self.direct_to_context(now, seq, route, data, k))
                {
                    return Ok(());
                }
                if self.sessions.len() >= self.config.max_sessions
                    || self.direct_new(now, Some(seq), route, data).is_none()
                {
                    self.stats.setups_refused += 1;
                    self.event(SwitchEvent::SetupRefused {
                        request: RefusedSetup::CreateSession {
                            cause: CauseValue::NO_RESOURCES_AVAILABLE,
                        },
                        peer: route.peer,
                        sequence: seq,
                    });
                    let teid = m.fteid(0).map_or(0, |f| f.teid);
                    let cause = gtpv2::Cause::new(CauseValue::NO_RESOURCES_AVAILABLE);
                    let r = gtpv2::Message::new(
                        gtpv2::MessageType::CREATE_SESSION_RESPONSE,
                        Some(teid),
                        seq,
                        vec![gtpv2::Ie::new(gtpv2::IeValue::Cause(cause))],
                    );
                    self.transmit_data(route, r.to_vec().ok());
                }
                Ok(())
            }
            t => {
                self.stats.ignored += 1;
                Err(InputError::UnsupportedGtpv2Message(t))
            }
        }
    }

    /// A PFCP node message, or a session message with SEID 0 (see the
    /// [module documentation](super)).
    pub(super) fn handle_n4(
        &mut self,
        now: Instant,
        route: Route,
        data: &[u8],
    ) -> Result<(), InputError> {
        let gw = route.gateway.ip();
        let m = match pfcp::parse(data) {
            Ok(m) => m,
            Err(e) => {
                self.pfcp_refuse_malformed(now, route, data);
                return Err(e.into());
            }
        };
        let node = m.node_id_received().as_ref().map(node_key);
        let t = m.message_type();
        let (cause, extra) = match t {
            MessageType::HEARTBEAT_RESPONSE => {
                let rts = m.recovery_time_stamp();
                self.path_response(now, PathProtocol::Pfcp, route, m.header.sequence, rts);
                return Ok(());
            }
            MessageType::HEARTBEAT_REQUEST => {
                let rts = m.recovery_time_stamp();
                self.path_known(now, PathProtocol::Pfcp, route, rts);
                if !self.echo_responses.take(now) {
                    self.stats.echoes_suppressed += 1;
                    return Ok(());
                }
                self.stats.echoes += 1;
                let r = Message::heartbeat_response(m.header.sequence, self.recovery_time_stamp());
                self.transmit_data(route, r.to_vec().ok());
                return Ok(());
            }
            MessageType::SESSION_ESTABLISHMENT_REQUEST => {
                return self.establish(now, route, &m, data);
            }
            MessageType::ASSOCIATION_SETUP_REQUEST => {
                let r = self.associate(&m, gw);
                if r.0 == Cause::REQUEST_ACCEPTED {
                    self.path_seen(now, PathProtocol::Pfcp, route, m.recovery_time_stamp());
                    self.path_associated(route, true);
                }
                r
            }
            MessageType::ASSOCIATION_UPDATE_RESPONSE => {
                self.association_update_response(route, &m);
                return Ok(());
            }
            MessageType::ASSOCIATION_UPDATE_REQUEST => match node {
                Some(k) if self.associations.contains(&k) => (Cause::REQUEST_ACCEPTED, vec![]),
                Some(_) => (Cause::NO_ESTABLISHED_PFCP_ASSOCIATION, vec![]),
                None => node_id_refusal(&m),
            },
            MessageType::ASSOCIATION_RELEASE_REQUEST => match node {
                Some(k) if self.associations.remove(&k) => {
                    self.path_associated(route, false);
                    (Cause::REQUEST_ACCEPTED, vec![])
                }
                Some(_) => (Cause::NO_ESTABLISHED_PFCP_ASSOCIATION, vec![]),
                None => node_id_refusal(&m),
            },
            t => {
                self.stats.ignored += 1;
                return Err(InputError::UnsupportedPfcpMessage(t));
            }
        };
        let mut ies = vec![own_node_id(gw), Ie::Cause(cause)];
        ies.extend(extra);
        let r = Message::new(MessageType(t.0 + 1), 0, m.header.sequence, ies);
        self.transmit_data(route, r.to_vec().ok());
        Ok(())
    }

    /// An Association Setup Request (TS 29.244 section 7.4.4.1; Node ID and Recovery Time Stamp
    /// mandatory): the CP function's association is recorded (a repeated setup replaces it,
    /// section 6.2.6.2.2), and the response carries the Recovery Time Stamp and the UP Function
    /// Features (FTUP: this UP function allocates F-TEIDs) and, with
    /// [`SwitchConfig::teid_ranges`], the TEID ranges a CP function may allocate F-TEIDs from
    /// (section 8.2.82, [`Self::teid_ranges`]). Beyond `max_recent` associations: No resources
    /// available.
    ///
    /// [`SwitchConfig::teid_ranges`]: super::SwitchConfig::teid_ranges
    fn associate(&mut self, m: &Message<'_>, gw: IpAddr) -> (Cause, Vec<Ie<'static>>) {
        let Some(node) = m.node_id_received().as_ref().map(node_key) else {
            return node_id_refusal(m);
        };
        if m.recovery_time_stamp().is_none() {
            return (
                Cause::MANDATORY_IE_MISSING,
                vec![offending(IeType::RECOVERY_TIME_STAMP)],
            );
        }
        if !self.associations.contains(&node) && self.associations.len() >= self.config.max_recent {
            self.stats.associations_full += 1;
            return (Cause::NO_RESOURCES_AVAILABLE, vec![]);
        }
        self.associations.insert(node);
        self.stats.associations += 1;
        let features = Ie::Raw {
            ie_type: IeType::UP_FUNCTION_FEATURES,
            value: Cow::Owned(vec![FTUP, 0]),
        };
        let mut ies = vec![Ie::RecoveryTimeStamp(self.recovery_time_stamp()), features];
        ies.extend(self.teid_ranges(gw));
        (Cause::REQUEST_ACCEPTED, ies)
    }

    /// One User Plane IP Resource Information (TS 29.244 section 8.2.82) per TEID range the CP
    /// functions may allocate F-TEIDs from now ([`Self::teidri_pairs`]), at the gateway address
    /// `gw`. Empty without [`SwitchConfig::teid_ranges`](super::SwitchConfig::teid_ranges).
    fn teid_ranges(&self, gw: IpAddr) -> Vec<Ie<'static>> {
        let Some(r) = self.teidri() else {
            return Vec::new();
        };
        let (ipv4, ipv6) = match gw {
            IpAddr::V4(a) => (Some(a), None),
            IpAddr::V6(a) => (None, Some(a)),
        };
        self.teidri_pairs()
            .into_iter()
            .filter_map(|(p, b)| r.info(p, b, ipv4, ipv6))
            .map(Ie::UpIpResourceInformation)
            .collect()
    }

    /// The TEID ranges of the layout (TS 29.244 section 8.2.82), with
    /// [`SwitchConfig::teid_ranges`](super::SwitchConfig::teid_ranges).
    fn teidri(&self) -> Option<teidri::TeidRanges> {
        self.config
            .teid_ranges
            .then(|| teidri::ranges(&self.config.layout).ok())
            .flatten()
    }

    /// A Session Establishment Request (SEID 0): refused with Mandatory IE missing (66) or
    /// Mandatory IE incorrect (69) and the Offending IE naming the Node ID when it has no
    /// readable Node ID (TS 29.244 table 7.5.2.1-1, section 7.6.6); placed as a Create PDP
    /// Context Request is, when its CP function (Node ID) has an association (else No
    /// established PFCP Association, TS 29.244 section 6.2.6.1); refused with No resources available when no
    /// processor is eligible or `max_sessions` is reached. With
    /// [`SwitchConfig::teid_ranges`](super::SwitchConfig::teid_ranges), a request whose Create
    /// PDR carries an F-TEID the CP function allocated goes to the processor of that TEID's VID
    /// (with its backup VID), and is refused with No resources available when that processor is
    /// not eligible.
    fn establish(
        &mut self,
        now: Instant,
        route: Route,
        m: &Message<'_>,
        data: &[u8],
    ) -> Result<(), InputError> {
        let seq = m.header.sequence;
        // TS 29.244 table 7.5.2.1-1: the Node ID is mandatory; a request without a readable
        // one is refused as any request lacking a mandatory IE is (section 7.6.6), before its
        // association can be judged (section 6.2.6.1).
        let (cause, extra) = match m.node_id_received().as_ref().map(node_key) {
            None => node_id_refusal(m),
            Some(k) if !self.associations.contains(&k) => {
                self.stats.no_association += 1;
                (Cause::NO_ESTABLISHED_PFCP_ASSOCIATION, vec![])
            }
            Some(_)
                if self.direct_repeat(route, seq, data)
                    || (self.sessions.len() < self.config.max_sessions
                        && match cp_fteid(m).filter(|_| self.config.teid_ranges) {
                            Some(teid) => self.direct_by_teid(now, seq, route, data, teid),
                            None => self.direct_new(now, Some(seq), route, data),
                        }
                        .is_some()) =>
            {
                return Ok(());
            }
            Some(_) => (Cause::NO_RESOURCES_AVAILABLE, vec![]),
        };
        self.stats.setups_refused += 1;
        self.event(SwitchEvent::SetupRefused {
            request: RefusedSetup::SessionEstablishment { cause },
            peer: route.peer,
            sequence: seq,
        });
        let seid = m.f_seid().map_or(0, |f| f.seid);
        let mut ies = vec![own_node_id(route.gateway.ip()), Ie::Cause(cause)];
        ies.extend(extra);
        let r = Message::new(MessageType::SESSION_ESTABLISHMENT_RESPONSE, seid, seq, ies);
        self.transmit_data(route, r.to_vec().ok());
        Ok(())
    }
}

/// The refusal of a node message without a readable Node ID (TS 29.244 sections 7.6.6 and
/// 7.6.8): Mandatory IE missing when there is none, Mandatory IE incorrect when there is one of
/// a type or length section 8.2.38 does not define; the Offending IE names the Node ID.
fn node_id_refusal(m: &Message<'_>) -> (Cause, Vec<Ie<'static>>) {
    let cause = if m.ie(IeType::NODE_ID).is_some() {
        Cause::MANDATORY_IE_INCORRECT
    } else {
        Cause::MANDATORY_IE_MISSING
    };
    (cause, vec![offending(IeType::NODE_ID)])
}

/// The Offending IE (TS 29.244 section 8.2.22) naming the IE type `t`.
fn offending(t: IeType) -> Ie<'static> {
    Ie::Raw {
        ie_type: IeType::OFFENDING_IE,
        value: Cow::Owned(t.0.to_be_bytes().to_vec()),
    }
}

/// A PFCP Association Update Request this UP function sent, awaiting its response.
#[derive(Debug, Clone, Copy)]
pub(super) struct PendingUpdate {
    seq: u32,
    tries: u32,
}

impl SwitchProcessor {
    /// A PFCP datagram that does not parse: of a version other than 1, answered with a Version
    /// Not Supported Response (TS 29.244 section 7.6.2: the header only, version 1, the
    /// request's sequence number) within `version_not_supported`; a request whose Length
    /// disagrees with the datagram, answered with Cause Invalid length (section 7.6.3) within
    /// `length_errors`; anything else silently discarded.
    fn pfcp_refuse_malformed(&mut self, now: Instant, route: Route, data: &[u8]) {
        if let Some(seq) = Message::unsupported_version_sequence(data) {
            if !self.version_not_supported.take(now) {
                self.stats.version_not_supported_suppressed += 1;
                return;
            }
            self.stats.version_not_supported += 1;
            let r = Message::version_not_supported_response(seq);
            self.transmit_data(route, r.to_vec().ok());
            return;
        }
        let Some(r) = Message::length_error_response(data, own_node_id(route.gateway.ip())) else {
            return;
        };
        if !self.length_errors.take(now) {
            self.stats.length_errors_suppressed += 1;
            return;
        }
        self.stats.length_errors += 1;
        self.transmit_data(route, r.to_vec().ok());
    }

    /// The VIDs whose TEID ranges are advertised (TS 29.244 section 8.2.82), ascending: those
    /// placement may use now, the processors holding a VID that is Up in a table version every
    /// line interface but the silent ones has acknowledged (see the
    /// [module documentation](super), Placement). Not their load: an overloaded processor's
    /// ranges stay advertised (a set-up in them is refused while it is overloaded).
    fn teidri_vids(&self) -> Vec<VirtualId> {
        let acked = self.acked_by_lines();
        let mut usable: Vec<VirtualId> = self
            .slots
            .values()
            .filter(|s| vids::named_up(&self.up_since, s, acked))
            .filter_map(|s| s.vid)
            .filter(|&v| self.info(v).and_then(|i| self.vid_state(i)) == Some(VidState::Up))
            .collect();
        usable.sort_unstable();
        usable
    }

    /// The (VID, backup VID) pairs whose TEID ranges are advertised: every ordered pair of two
    /// distinct [advertised VIDs](Self::teidri_vids), by ascending VIDs (each VID alone, backup
    /// `None`, when the layout has no backup field). Empty without
    /// [`SwitchConfig::teid_ranges`](super::SwitchConfig::teid_ranges).
    fn teidri_pairs(&self) -> Vec<(VirtualId, Option<VirtualId>)> {
        let Some(r) = self.teidri() else {
            return Vec::new();
        };
        let vids = self.teidri_vids();
        if !r.has_backup() {
            return vids.iter().map(|&p| (p, None)).collect();
        }
        vids.iter()
            .flat_map(|&p| {
                vids.iter()
                    .filter(move |&&b| b != p)
                    .map(move |&b| (p, Some(b)))
            })
            .collect()
    }

    /// After a change that may change the advertised TEID ranges ([`Self::teidri_pairs`]: a
    /// table version, a line interface's acknowledgement, one found silent): with
    /// [`SwitchConfig::teid_ranges`](super::SwitchConfig::teid_ranges), when they changed, every
    /// associated CP function is sent a PFCP Association Update Request (TS 29.244 sections
    /// 6.2.7.2 and 7.4.4.3) with the new ranges, replacing the ones sent before (a request not
    /// yet answered is superseded). None when they did not change, and none when no range is
    /// left: a request without User Plane IP Resource Information leaves the CP function's
    /// ranges as they were; a request not yet answered is then no longer repeated (its ranges
    /// are stale, and a repeat would carry none).
    pub(super) fn teidri_changed(&mut self, now: Instant) {
        if !self.config.teid_ranges {
            return;
        }
        let pairs = self.teidri_pairs();
        if pairs == self.teidri_advertised {
            return;
        }
        self.teidri_advertised = pairs;
        if self.teidri_advertised.is_empty() {
            for (peer, _) in self.updates.drain() {
                self.timers.disarm(&Timer::AssociationUpdate(peer));
            }
            return;
        }
        for peer in self.path_associated_peers() {
            self.updates.remove(&peer);
            self.send_association_update(now, peer);
        }
    }

    /// Sends (or repeats) the Association Update Request to `peer`: Node ID and one User Plane IP
    /// Resource Information per TEID range; repeated every `path.t3` up to `path.n3` times in
    /// all (TS 29.244 section 6.4: T1 and N1), then given up and counted.
    fn send_association_update(&mut self, now: Instant, peer: PeerId) {
        let Some(route) = self.path_route(peer) else {
            self.updates.remove(&peer);
            return;
        };
        let cfg = self.config.path;
        let (seq, tries) = match self.updates.get(&peer) {
            Some(u) if u.tries >= cfg.n3.max(1) => {
                self.updates.remove(&peer);
                self.stats.association_updates_unanswered += 1;
                return;
            }
            Some(u) => (u.seq, u.tries + 1),
            None => (self.path_next_seq(PathProtocol::Pfcp), 1),
        };
        self.updates.insert(peer, PendingUpdate { seq, tries });
        let gw = route.gateway.ip();
        let mut ies = vec![own_node_id(gw)];
        ies.extend(self.teid_ranges(gw));
        let m = Message::new(MessageType::ASSOCIATION_UPDATE_REQUEST, 0, seq, ies);
        if tries == 1 {
            self.stats.association_updates += 1;
        }
        self.transmit_data(route, m.to_vec().ok());
        self.timers
            .insert(Timer::AssociationUpdate(peer), now + cfg.t3);
    }

    /// The repeat timer of an Association Update Request.
    pub(super) fn association_update_due(&mut self, now: Instant, peer: PeerId) {
        if !self.path_associated_peers().contains(&peer) {
            self.updates.remove(&peer);
        } else if self.updates.contains_key(&peer) {
            self.send_association_update(now, peer);
        }
    }

    /// An Association Update Response: if it answers our pending request (same peer and
    /// sequence number), the request is done; a cause other than Request accepted is counted.
    fn association_update_response(&mut self, route: Route, m: &Message<'_>) {
        let peer = PeerId {
            protocol: PathProtocol::Pfcp,
            addr: route.peer.ip(),
        };
        if self.updates.get(&peer).map(|u| u.seq) != Some(m.header.sequence) {
            self.stats.ignored += 1;
            return;
        }
        self.updates.remove(&peer);
        self.timers.disarm(&Timer::AssociationUpdate(peer));
        if m.cause() == Some(Cause::REQUEST_ACCEPTED) {
            self.stats.association_updates_accepted += 1;
        } else {
            self.stats.association_updates_refused += 1;
        }
    }
}
