//! The SMF peer of the 5G steering story (TS 29.244 as a CP function speaks it on N4): sends PFCP
//! requests (Heartbeat, Association Setup, Session Establishment with CHOOSE F-TEID, Session
//! Modification, Session Deletion), retransmits each every T1 = 300 ms up to N1 attempts (TS
//! 29.244 section 6.4), sends the gNB's uplink G-PDUs to the F-TEID the UPF chose, counts every
//! attempt it sends, and records every answer.
#![allow(dead_code)]

use super::sgsn::{N3, T3, inner_ipv4};
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Instant;
use telcp::steering::gtp;
use telcp::steering::pfcp::{
    self, ApplyAction, Cause, FSeid, FTeid, Ie, IeType, Interface, Message, MessageType, NodeId,
    OuterHeaderCreation,
};
use telcp::{Node, Transmit};

/// The SMF's Recovery Time Stamp (seconds since 1900, TS 29.244 section 8.2.65).
pub const SMF_RECOVERY: u32 = 0xe4f0_0000;

/// One PFCP session as the SMF sees it.
#[derive(Debug, Clone, Default)]
pub struct SmfSession {
    /// The SMF's SEID (CP F-SEID) and the gNB's downlink TEID.
    pub cp_seid: u64,
    pub gnb_teid: u32,
    /// The UPF's SEID (UP F-SEID) and the F-TEID it chose: they carry the processor's VID.
    pub up_seid: u64,
    pub up_teid: u32,
    pub established: Option<Cause>,
    /// The Cause of every Session Modification Response.
    pub modified: Vec<Cause>,
    pub deleted: Option<Cause>,
    /// The header SEID of the last response for this session.
    pub last_header_seid: Option<u64>,
}

impl SmfSession {
    pub fn modified_ok(&self) -> usize {
        self.modified
            .iter()
            .filter(|c| **c == Cause::REQUEST_ACCEPTED)
            .count()
    }
}

#[derive(Debug)]
struct Outstanding {
    bytes: Vec<u8>,
    next: Instant,
    tries: u32,
    session: usize,
}

/// A PFCP SMF.
#[derive(Debug)]
pub struct Smf {
    pub control: SocketAddr,
    /// The UPF's PFCP address.
    pub upf: SocketAddr,
    seq: u32,
    pub sessions: Vec<SmfSession>,
    outstanding: BTreeMap<u32, Outstanding>,
    out: Vec<Transmit>,
    /// Every response, in arrival order.
    pub responses: Vec<Message<'static>>,
    pub heartbeat_recovery: Option<u32>,
    /// The Association Setup Response, when one came.
    pub association: Option<Message<'static>>,
    /// Attempts sent (first sends and retransmissions), of requests the line interface passes
    /// to the switch processor (node messages, SEID 0) and of the others.
    pub sent_to_switch: u64,
    pub sent_steered: u64,
    pub n1: u32,
}

impl Smf {
    pub fn new(ip: Ipv4Addr, upf: SocketAddr) -> Smf {
        Smf {
            control: SocketAddr::from((ip, 8805)),
            upf,
            seq: 0,
            sessions: Vec::new(),
            outstanding: BTreeMap::new(),
            out: Vec::new(),
            responses: Vec::new(),
            heartbeat_recovery: None,
            association: None,
            sent_to_switch: 0,
            sent_steered: 0,
            n1: N3,
        }
    }

    fn me(&self) -> Ipv4Addr {
        match self.control.ip() {
            IpAddr::V4(a) => a,
            IpAddr::V6(_) => unreachable!(),
        }
    }

    fn send(&mut self, bytes: Vec<u8>) {
        // S = 0 (node message) or SEID 0: the switch processor's.
        let seid = bytes
            .get(4..12)
            .map_or(0, |t| u64::from_be_bytes(t.try_into().unwrap()));
        if bytes[0] & 0x01 == 0 || seid == 0 {
            self.sent_to_switch += 1;
        } else {
            self.sent_steered += 1;
        }
        self.out.push(Transmit {
            dst: self.upf,
            src: Some(self.control),
            link_dst: None,
            payload: bytes.into(),
        });
    }

    /// Sends `m` (its sequence number set here) for session slot `session`.
    pub fn request(&mut self, now: Instant, mut m: Message<'static>, session: usize) {
        self.seq += 1;
        m.header.sequence = self.seq;
        let bytes = m.to_vec().unwrap();
        self.send(bytes.clone());
        let o = Outstanding {
            bytes,
            next: now + T3,
            tries: 1,
            session,
        };
        self.outstanding.insert(self.seq, o);
    }

    /// Sends an Association Setup Request (TS 29.244 section 7.4.4.1).
    pub fn associate(&mut self, now: Instant) {
        let ies = vec![
            Ie::NodeId(NodeId::Ipv4(self.me())),
            Ie::RecoveryTimeStamp(SMF_RECOVERY),
        ];
        let m = Message::new(MessageType::ASSOCIATION_SETUP_REQUEST, 0, 0, ies);
        self.request(now, m, usize::MAX);
    }

    /// Sends a Heartbeat Request (TS 29.244 section 7.4.2.1).
    pub fn heartbeat(&mut self, now: Instant) {
        self.request(now, Message::heartbeat_request(0, SMF_RECOVERY), usize::MAX);
    }

    /// The IEs of a Session Establishment Request (TS 29.244 table 7.5.2.1-1): Node ID, CP
    /// F-SEID, an uplink PDR whose PDI asks the UPF to CHOOSE the F-TEID, its FAR (forward to
    /// the core), a downlink PDR and its FAR with the gNB's tunnel (Outer Header Creation).
    pub fn establishment_ies(&self, cp_seid: u64, gnb_teid: u32) -> Vec<Ie<'static>> {
        let choose = FTeid::Choose {
            ipv4: true,
            ipv6: false,
            choose_id: None,
        };
        self.establishment_ies_with(cp_seid, gnb_teid, choose)
    }

    /// A Session Establishment Request (sequence number `seq`, CP F-SEID `0x5e1d + seq`, gNB
    /// TEID `0x8800 + seq`) whose uplink PDR names `teid` at `upf`, a TEID the SMF allocated
    /// itself (TS 29.244 8.2.3: an F-TEID without the CHOOSE flag, the CP function's).
    pub fn establishment_assigned(&self, seq: u32, teid: u32, upf: Ipv4Addr) -> Message<'static> {
        let fteid = FTeid::Assigned {
            teid,
            ipv4: Some(upf),
            ipv6: None,
        };
        let ies = self.establishment_ies_with(0x5e1d + u64::from(seq), 0x8800 + seq, fteid);
        Message::new(MessageType::SESSION_ESTABLISHMENT_REQUEST, 0, seq, ies)
    }

    /// [`Smf::establishment_ies`] with `fteid` in the uplink PDR's PDI (CHOOSE, or a TEID the
    /// SMF allocated itself).
    pub fn establishment_ies_with(
        &self,
        cp_seid: u64,
        gnb_teid: u32,
        fteid: FTeid,
    ) -> Vec<Ie<'static>> {
        let me = self.me();
        let pdr = |id: u16, far: u32, pdi: Vec<Ie<'static>>| Ie::Grouped {
            ie_type: IeType::CREATE_PDR,
            ies: vec![
                Ie::PdrId(id),
                Ie::Precedence(255),
                Ie::Grouped {
                    ie_type: IeType::PDI,
                    ies: pdi,
                },
                Ie::FarId(far),
            ],
        };
        let far = |id: u32, dst: Interface, outer: Option<OuterHeaderCreation>| {
            let mut fwd = vec![Ie::DestinationInterface(dst)];
            fwd.extend(outer.map(Ie::OuterHeaderCreation));
            Ie::Grouped {
                ie_type: IeType::CREATE_FAR,
                ies: vec![
                    Ie::FarId(id),
                    Ie::ApplyAction(ApplyAction::new(0x02)),
                    Ie::Grouped {
                        ie_type: IeType::FORWARDING_PARAMETERS,
                        ies: fwd,
                    },
                ],
            }
        };
        vec![
            Ie::NodeId(NodeId::Ipv4(me)),
            Ie::FSeid(FSeid {
                seid: cp_seid,
                ipv4: Some(me),
                ipv6: None,
            }),
            pdr(
                1,
                1,
                vec![Ie::SourceInterface(Interface::ACCESS), Ie::FTeid(fteid)],
            ),
            pdr(2, 2, vec![Ie::SourceInterface(Interface::CORE)]),
            far(1, Interface::CORE, None),
            far(
                2,
                Interface::ACCESS,
                Some(OuterHeaderCreation::gtpu_ipv4(gnb_teid, me)),
            ),
        ]
    }

    /// Sends a Session Establishment Request (header SEID 0) for a new session slot.
    pub fn establish(&mut self, now: Instant) -> usize {
        let idx = self.establish_slot();
        let (cp_seid, gnb_teid) = (self.sessions[idx].cp_seid, self.sessions[idx].gnb_teid);
        let ies = self.establishment_ies(cp_seid, gnb_teid);
        let m = Message::new(MessageType::SESSION_ESTABLISHMENT_REQUEST, 0, 0, ies);
        self.request(now, m, idx);
        idx
    }

    /// Sends a Session Establishment Request (header SEID 0) for a new session slot whose
    /// uplink F-TEID the SMF allocated itself: `teid` at the UPF's address (TS 29.244 section
    /// 5.5.1, from a TEID range the UPF advertised).
    pub fn establish_with_teid(&mut self, now: Instant, teid: u32) -> usize {
        let idx = self.establish_slot();
        self.send_establishment_with_teid(now, idx, teid);
        idx
    }

    /// Asks again for session `idx`, refused (e.g. No resources available, 75: TS 29.244 section
    /// 8.2.1), with the F-TEID the SMF allocated for it: a new Session Establishment Request (a
    /// new sequence number).
    pub fn reestablish_with_teid(&mut self, now: Instant, idx: usize) {
        self.sessions[idx].established = None;
        let teid = self.sessions[idx].up_teid;
        self.send_establishment_with_teid(now, idx, teid);
    }

    fn send_establishment_with_teid(&mut self, now: Instant, idx: usize, teid: u32) {
        let s = &mut self.sessions[idx];
        s.up_teid = teid;
        let (cp_seid, gnb_teid) = (s.cp_seid, s.gnb_teid);
        let upf = match self.upf.ip() {
            IpAddr::V4(a) => a,
            IpAddr::V6(_) => unreachable!(),
        };
        let fteid = FTeid::Assigned {
            teid,
            ipv4: Some(upf),
            ipv6: None,
        };
        let ies = self.establishment_ies_with(cp_seid, gnb_teid, fteid);
        let m = Message::new(MessageType::SESSION_ESTABLISHMENT_REQUEST, 0, 0, ies);
        self.request(now, m, idx);
    }

    /// A new session slot with its SEID and gNB TEID.
    fn establish_slot(&mut self) -> usize {
        let idx = self.sessions.len();
        self.sessions.push(SmfSession {
            cp_seid: 0x5e1d_0000_0000 + idx as u64 + 1,
            gnb_teid: 0x8800_0000 + idx as u32 + 1,
            ..Default::default()
        });
        idx
    }

    /// Sends a hand-made request of type `t` with header SEID `seid` for a new session slot.
    pub fn raw(&mut self, now: Instant, t: MessageType, seid: u64, ies: Vec<Ie<'static>>) -> usize {
        let idx = self.sessions.len();
        self.sessions.push(SmfSession::default());
        self.request(now, Message::new(t, seid, 0, ies), idx);
        idx
    }

    /// Sends a Session Modification Request for session `idx` (a handover: the downlink FAR's
    /// Outer Header Creation names a new gNB TEID), to the UPF's SEID.
    pub fn modify(&mut self, now: Instant, idx: usize) {
        let me = self.me();
        let s = &mut self.sessions[idx];
        s.gnb_teid = s.gnb_teid.wrapping_add(0x100);
        let ies = vec![Ie::Grouped {
            ie_type: IeType::UPDATE_FAR,
            ies: vec![
                Ie::FarId(2),
                Ie::Grouped {
                    ie_type: IeType::UPDATE_FORWARDING_PARAMETERS,
                    ies: vec![Ie::OuterHeaderCreation(OuterHeaderCreation::gtpu_ipv4(
                        s.gnb_teid, me,
                    ))],
                },
            ],
        }];
        let m = Message::new(MessageType::SESSION_MODIFICATION_REQUEST, s.up_seid, 0, ies);
        self.request(now, m, idx);
    }

    /// Sends a Session Deletion Request for session `idx`.
    pub fn delete(&mut self, now: Instant, idx: usize) {
        let seid = self.sessions[idx].up_seid;
        let m = Message::new(MessageType::SESSION_DELETION_REQUEST, seid, 0, vec![]);
        self.request(now, m, idx);
    }

    /// Sends one uplink G-PDU of session `idx` (from the gNB, here the SMF's address) to the
    /// F-TEID the UPF chose, once.
    pub fn g_pdu(&mut self, idx: usize) {
        let teid = self.sessions[idx].up_teid;
        let m = gtp::Message::g_pdu(teid, inner_ipv4(Ipv4Addr::new(10, 45, 0, 1), b"nr data"));
        self.out.push(Transmit {
            dst: SocketAddr::new(self.upf.ip(), 2152),
            src: Some(SocketAddr::new(self.control.ip(), 2152)),
            link_dst: None,
            payload: m.to_vec().unwrap().into(),
        });
    }

    /// Sessions accepted.
    /// Every request answered, or given up at `now`: its `n1` tries sent and the last one's
    /// answer overdue (T1 after it; TS 29.244 section 6.4).
    pub fn idle(&self, now: Instant) -> bool {
        self.outstanding
            .values()
            .all(|o| o.tries >= self.n1 && o.next <= now)
    }

    pub fn established(&self) -> usize {
        self.sessions
            .iter()
            .filter(|s| s.established == Some(Cause::REQUEST_ACCEPTED))
            .count()
    }
}

/// The F-TEID of the first Created PDR.
pub fn created_fteid(m: &Message<'_>) -> Option<u32> {
    m.ies_of(IeType::CREATED_PDR).find_map(|pdr| {
        pdr.ies().iter().find_map(|ie| match ie {
            Ie::FTeid(FTeid::Assigned { teid, .. }) => Some(*teid),
            _ => None,
        })
    })
}

impl Node for Smf {
    fn handle_datagram(
        &mut self,
        _now: Instant,
        _from: SocketAddr,
        _to: SocketAddr,
        data: &[u8],
    ) -> Result<(), telcp::Error> {
        let Ok(m) = pfcp::parse(data) else {
            return Ok(());
        };
        let Some(o) = self.outstanding.remove(&m.header.sequence) else {
            return Ok(()); // a duplicate answer
        };
        let idx = o.session;
        if let Some(s) = self.sessions.get_mut(idx) {
            s.last_header_seid = m.header.seid;
        }
        match m.message_type() {
            MessageType::HEARTBEAT_RESPONSE => self.heartbeat_recovery = m.recovery_time_stamp(),
            MessageType::ASSOCIATION_SETUP_RESPONSE => {
                self.association = Some(m.clone().into_owned())
            }
            MessageType::SESSION_ESTABLISHMENT_RESPONSE => {
                let s = &mut self.sessions[idx];
                s.established = m.cause();
                s.up_seid = m.f_seid().map_or(0, |f| f.seid);
                // A TEID the SMF allocated itself is kept (no Created PDR names it).
                if let Some(t) = created_fteid(&m) {
                    s.up_teid = t;
                }
            }
            MessageType::SESSION_MODIFICATION_RESPONSE => {
                let c = m.cause().unwrap_or(Cause(0));
                self.sessions[idx].modified.push(c);
            }
            MessageType::SESSION_DELETION_RESPONSE => self.sessions[idx].deleted = m.cause(),
            _ => {}
        }
        self.responses.push(m.into_owned());
        Ok(())
    }

    fn handle_timeout(&mut self, now: Instant) {
        let mut again = Vec::new();
        for o in self.outstanding.values_mut() {
            if o.next <= now && o.tries < self.n1 {
                o.tries += 1;
                o.next = now + T3;
                again.push(o.bytes.clone());
            }
        }
        for b in again {
            self.send(b);
        }
    }

    fn poll_transmit(&mut self) -> Option<Transmit> {
        (!self.out.is_empty()).then(|| self.out.remove(0))
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.outstanding
            .values()
            .filter(|o| o.tries < self.n1)
            .map(|o| o.next)
            .min()
    }
}
