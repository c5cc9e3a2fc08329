//! The MME peer of the 4G steering story (TS 29.274 as an MME speaks it on S11): sends GTPv2-C
//! requests (Echo, Create Session, Modify Bearer, Delete Session), retransmits each every T3 =
//! 300 ms up to N3 attempts (TS 29.274 section 7.6), sends the eNodeB's uplink G-PDUs (TS 29.281)
//! to the S1-U F-TEID it was given, counts every attempt it sends, and records every answer.
#![allow(dead_code)]

use super::sgsn::{N3, T3, inner_ipv4};
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Instant;
use telcp::steering::gtp;
use telcp::steering::gtpv2::{
    self, Apn, Cause, CauseValue, Fteid, Ie, IeType, IeValue, InterfaceType, Message, MessageType,
    Paa, RatType, Tbcd,
};
use telcp::{Node, Transmit};

/// One PDN connection as the MME sees it.
#[derive(Debug, Clone, Default)]
pub struct MmeSession {
    pub imsi: String,
    pub ebi: u8,
    /// The MME's S11 TEID and the eNodeB's S1-U TEID for this session.
    pub mme_teid: u32,
    pub enb_teid: u32,
    /// The gateway's S11/S4 SGW GTP-C and S1-U SGW F-TEIDs (they carry the processor's VID).
    pub gw_teid_c: u32,
    pub gw_teid_u: u32,
    pub ue: Option<Ipv4Addr>,
    pub created: Option<Cause>,
    /// The Cause of every Modify Bearer Response.
    pub modified: Vec<CauseValue>,
    pub deleted: Option<Cause>,
}

impl MmeSession {
    /// Modify Bearer Responses that accepted the request.
    pub fn modified_ok(&self) -> usize {
        self.modified
            .iter()
            .filter(|c| **c == CauseValue::REQUEST_ACCEPTED)
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

/// A GTPv2-C MME.
#[derive(Debug)]
pub struct Mme {
    pub control: SocketAddr,
    /// The gateway's GTP-C address.
    pub gw: SocketAddr,
    seq: u32,
    pub sessions: Vec<MmeSession>,
    outstanding: BTreeMap<u32, Outstanding>,
    out: Vec<Transmit>,
    /// Every response, in arrival order.
    pub responses: Vec<Message<'static>>,
    pub echo_recovery: Option<u8>,
    /// Attempts sent (first sends and retransmissions), of requests the line interface passes to
    /// the switch processor (Create Session, Echo) and of the others.
    pub sent_to_switch: u64,
    pub sent_steered: u64,
    pub n3: u32,
}

impl Mme {
    pub fn new(ip: Ipv4Addr, gw: SocketAddr) -> Mme {
        Mme {
            control: SocketAddr::from((ip, 2123)),
            gw,
            seq: 0,
            sessions: Vec::new(),
            outstanding: BTreeMap::new(),
            out: Vec::new(),
            responses: Vec::new(),
            echo_recovery: None,
            sent_to_switch: 0,
            sent_steered: 0,
            n3: N3,
        }
    }

    fn count(&mut self, bytes: &[u8]) {
        // T = 0 (Echo) or TEID 0 (Create Session): the switch processor's.
        let teid = bytes
            .get(4..8)
            .map_or(0, |t| u32::from_be_bytes(t.try_into().unwrap()));
        if bytes[0] & 0x08 == 0 || teid == 0 {
            self.sent_to_switch += 1;
        } else {
            self.sent_steered += 1;
        }
    }

    fn send(&mut self, bytes: Vec<u8>) {
        self.count(&bytes);
        self.out.push(Transmit {
            dst: self.gw,
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

    fn me(&self) -> Ipv4Addr {
        match self.control.ip() {
            IpAddr::V4(a) => a,
            IpAddr::V6(_) => unreachable!(),
        }
    }

    /// The IEs of a Create Session Request for `imsi`, bearer `ebi` (TS 29.274 table 7.2.1-1).
    pub fn create_ies(
        &self,
        imsi: &str,
        ebi: u8,
        mme_teid: u32,
        enb_teid: u32,
    ) -> Vec<Ie<'static>> {
        let me = self.me();
        let fteid = |interface_type, teid| Fteid {
            interface_type,
            teid,
            ipv4: Some(me),
            ipv6: None,
        };
        vec![
            Ie::new(IeValue::Imsi(Tbcd::from_digits(imsi).unwrap())),
            Ie::new(IeValue::RatType(RatType::EUTRAN)),
            Ie::new(IeValue::Fteid(fteid(
                InterfaceType::S11_MME_GTP_C,
                mme_teid,
            ))),
            Ie::new(IeValue::Apn(Apn::from_name("internet").unwrap())),
            Ie::new(IeValue::Paa(Paa::Ipv4(Ipv4Addr::UNSPECIFIED))),
            Ie::new(IeValue::Grouped {
                ie_type: IeType::BEARER_CONTEXT,
                ies: vec![
                    Ie::new(IeValue::Ebi(ebi)),
                    Ie::new(IeValue::Fteid(fteid(
                        InterfaceType::S1U_ENODEB_GTP_U,
                        enb_teid,
                    ))),
                ],
            }),
            Ie::new(IeValue::Recovery(1)),
        ]
    }

    /// Sends a Create Session Request (header TEID 0) for a new session slot.
    pub fn create(&mut self, now: Instant, imsi: &str, ebi: u8) -> usize {
        let idx = self.sessions.len();
        let (mme_teid, enb_teid) = (0x6600_0000 + idx as u32 + 1, 0x7700_0000 + idx as u32 + 1);
        self.sessions.push(MmeSession {
            imsi: imsi.into(),
            ebi,
            mme_teid,
            enb_teid,
            ..Default::default()
        });
        let ies = self.create_ies(imsi, ebi, mme_teid, enb_teid);
        let m = Message::new(MessageType::CREATE_SESSION_REQUEST, Some(0), 0, ies);
        self.request(now, m, idx);
        idx
    }

    /// Sends a hand-made request with header TEID `teid` for a new session slot.
    pub fn raw(
        &mut self,
        now: Instant,
        t: MessageType,
        teid: Option<u32>,
        ies: Vec<Ie<'static>>,
    ) -> usize {
        let idx = self.sessions.len();
        self.sessions.push(MmeSession::default());
        self.request(now, Message::new(t, teid, 0, ies), idx);
        idx
    }

    /// Sends an Echo Request (TS 29.274 section 7.1.1).
    pub fn echo(&mut self, now: Instant) {
        self.request(now, Message::echo_request(0, 1), usize::MAX);
    }

    /// Sends a Modify Bearer Request for session `idx` (a handover: the eNodeB's S1-U TEID
    /// changes), to the gateway's S11 TEID.
    pub fn modify(&mut self, now: Instant, idx: usize) {
        let me = self.me();
        let s = &mut self.sessions[idx];
        s.enb_teid = s.enb_teid.wrapping_add(0x100);
        let ies = vec![Ie::new(IeValue::Grouped {
            ie_type: IeType::BEARER_CONTEXT,
            ies: vec![
                Ie::new(IeValue::Ebi(s.ebi)),
                Ie::new(IeValue::Fteid(Fteid {
                    interface_type: InterfaceType::S1U_ENODEB_GTP_U,
                    teid: s.enb_teid,
                    ipv4: Some(me),
                    ipv6: None,
                })),
            ],
        })];
        let m = Message::new(
            MessageType::MODIFY_BEARER_REQUEST,
            Some(s.gw_teid_c),
            0,
            ies,
        );
        self.request(now, m, idx);
    }

    /// Sends a Delete Session Request for session `idx` (its default bearer's EBI).
    pub fn delete(&mut self, now: Instant, idx: usize) {
        let s = &self.sessions[idx];
        let ies = vec![Ie::new(IeValue::Ebi(s.ebi))];
        let m = Message::new(
            MessageType::DELETE_SESSION_REQUEST,
            Some(s.gw_teid_c),
            0,
            ies,
        );
        self.request(now, m, idx);
    }

    /// Sends one uplink G-PDU of session `idx` (from the eNodeB, here the MME's address) to its
    /// S1-U SGW F-TEID, once.
    pub fn g_pdu(&mut self, idx: usize) {
        let s = &self.sessions[idx];
        let ue = s.ue.unwrap_or(Ipv4Addr::UNSPECIFIED);
        let m = gtp::Message::g_pdu(s.gw_teid_u, inner_ipv4(ue, b"lte user data"));
        self.out.push(Transmit {
            dst: SocketAddr::new(self.gw.ip(), 2152),
            src: Some(SocketAddr::new(self.control.ip(), 2152)),
            link_dst: None,
            payload: m.to_vec().unwrap().into(),
        });
    }

    /// Sessions accepted.
    pub fn created(&self) -> usize {
        self.sessions
            .iter()
            .filter(|s| {
                s.created
                    .is_some_and(|c| c.value == CauseValue::REQUEST_ACCEPTED)
            })
            .count()
    }
}

/// The F-TEID of instance `i` in a list of IEs.
fn fteid_in(ies: &[Ie<'_>], i: u8) -> Option<Fteid> {
    match gtpv2::find(ies, IeType::F_TEID, i)?.value {
        IeValue::Fteid(f) => Some(f),
        _ => None,
    }
}

impl Node for Mme {
    fn handle_datagram(
        &mut self,
        _now: Instant,
        _from: SocketAddr,
        _to: SocketAddr,
        data: &[u8],
    ) -> Result<(), telcp::Error> {
        let Ok(m) = gtpv2::parse(data) else {
            return Ok(());
        };
        let Some(o) = self.outstanding.remove(&m.header.sequence) else {
            return Ok(()); // a duplicate answer
        };
        let idx = o.session;
        match m.message_type() {
            MessageType::ECHO_RESPONSE => self.echo_recovery = m.recovery(),
            MessageType::CREATE_SESSION_RESPONSE => {
                let s = &mut self.sessions[idx];
                s.created = m.cause();
                s.gw_teid_c = m.fteid(0).map_or(0, |f| f.teid);
                let bearer = m.bearer_contexts().next().unwrap_or(&[]);
                s.gw_teid_u = fteid_in(bearer, 0).map_or(0, |f| f.teid);
                s.ue = match m.ie(IeType::PAA, 0).map(|i| &i.value) {
                    Some(IeValue::Paa(Paa::Ipv4(a))) => Some(*a),
                    _ => None,
                };
            }
            MessageType::MODIFY_BEARER_RESPONSE => {
                let c = m.cause_value().unwrap_or(CauseValue(0));
                self.sessions[idx].modified.push(c);
            }
            MessageType::DELETE_SESSION_RESPONSE => self.sessions[idx].deleted = m.cause(),
            _ => {}
        }
        self.responses.push(m.into_owned());
        Ok(())
    }

    fn handle_timeout(&mut self, now: Instant) {
        let mut again = Vec::new();
        for o in self.outstanding.values_mut() {
            if o.next <= now && o.tries < self.n3 {
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
            .filter(|o| o.tries < self.n3)
            .map(|o| o.next)
            .min()
    }
}
