//! A small SGSN for the examples: sends GTPv1-C Create PDP Context Requests (retransmitted every
//! 300 ms, up to 8 times) and G-PDUs to a gateway, and records what the gateway answered.
#![allow(dead_code)]

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};
use telcp::steering::gtp::{self, Apn, Cause, EndUserAddress, Ie, Imsi, Message, MessageType};
use telcp::{Node, Transmit};

/// One PDP context as the SGSN sees it.
#[derive(Debug, Clone, Default)]
pub struct Context {
    pub imsi: String,
    pub own_teid: u32,
    /// The gateway's control and data TEIDs (they carry the processor's VID).
    pub gw_teid_c: u32,
    pub gw_teid_u: u32,
    pub ue: Option<Ipv4Addr>,
    pub cause: Option<Cause>,
    pub updated: bool,
}

struct Pending {
    bytes: Vec<u8>,
    next: Instant,
    tries: u32,
    context: usize,
}

pub struct Sgsn {
    /// Control (2123) and user-plane (2152) addresses of this SGSN.
    pub control: SocketAddr,
    pub user: SocketAddr,
    /// The gateway's GTP-C address.
    pub gateway: SocketAddr,
    pub contexts: Vec<Context>,
    seq: u16,
    pending: BTreeMap<u16, Pending>,
    out: Vec<Transmit>,
}

impl Sgsn {
    pub fn new(ip: Ipv4Addr, gateway: SocketAddr) -> Sgsn {
        Sgsn {
            control: SocketAddr::from((ip, 2123)),
            user: SocketAddr::from((ip, 2152)),
            gateway,
            contexts: Vec::new(),
            seq: 0,
            pending: BTreeMap::new(),
            out: Vec::new(),
        }
    }

    fn request(&mut self, now: Instant, m: &Message<'_>, context: usize) {
        let Ok(bytes) = m.to_vec() else { return };
        let Some(seq) = m.header.sequence else { return };
        self.out.push(Transmit {
            dst: self.gateway,
            src: Some(self.control),
            link_dst: None,
            payload: bytes.clone().into(),
        });
        self.pending.insert(
            seq,
            Pending {
                bytes,
                next: now + Duration::from_millis(300),
                tries: 1,
                context,
            },
        );
    }

    fn next_seq(&mut self) -> u16 {
        self.seq = self.seq.wrapping_add(1);
        self.seq
    }

    /// Sends a Create PDP Context Request (TEID 0: a set-up request) for `imsi`.
    pub fn create(&mut self, now: Instant, imsi: &str) -> usize {
        let idx = self.contexts.len();
        let own_teid = 0x5500_0000 + idx as u32 + 1;
        self.contexts.push(Context {
            imsi: imsi.into(),
            own_teid,
            ..Context::default()
        });
        let me = IpAddr::V4(match self.control.ip() {
            IpAddr::V4(a) => a,
            IpAddr::V6(_) => Ipv4Addr::UNSPECIFIED,
        });
        let (Some(imsi), Some(apn)) = (Imsi::from_digits(imsi), Apn::from_name("internet")) else {
            return idx;
        };
        let seq = self.next_seq();
        let m = Message::new(
            MessageType::CREATE_PDP_CONTEXT_REQUEST,
            0,
            seq,
            vec![
                Ie::Imsi(imsi),
                Ie::Recovery(1),
                Ie::SelectionMode(0xfc),
                Ie::TeidDataI(own_teid),
                Ie::TeidControl(own_teid),
                Ie::Nsapi(5),
                Ie::EndUserAddress(EndUserAddress::ipv4(None)),
                Ie::Apn(apn),
                Ie::GsnAddress(me),
                Ie::GsnAddress(me),
                Ie::QosProfile(Cow::Borrowed(&[0, 0x0b, 0x92, 0x1f])),
            ],
        );
        self.request(now, &m, idx);
        idx
    }

    /// Sends an Update PDP Context Request to the gateway's control TEID of context `idx`.
    pub fn update(&mut self, now: Instant, idx: usize) {
        let Some(c) = self.contexts.get(idx) else {
            return;
        };
        let (teid, own) = (c.gw_teid_c, c.own_teid);
        let seq = self.next_seq();
        let m = Message::new(
            MessageType::UPDATE_PDP_CONTEXT_REQUEST,
            teid,
            seq,
            vec![
                Ie::TeidDataI(own),
                Ie::TeidControl(own),
                Ie::Nsapi(5),
                Ie::GsnAddress(self.control.ip()),
                Ie::GsnAddress(self.control.ip()),
                Ie::QosProfile(Cow::Borrowed(&[0, 0x0b, 0x92, 0x1f])),
            ],
        );
        self.request(now, &m, idx);
    }

    /// Sends one G-PDU (a user packet) on context `idx`'s data TEID.
    pub fn g_pdu(&mut self, idx: usize, payload: &[u8]) {
        let Some(c) = self.contexts.get(idx) else {
            return;
        };
        let m = Message::g_pdu(c.gw_teid_u, payload.to_vec());
        if let Ok(bytes) = m.to_vec() {
            let dst = SocketAddr::new(self.gateway.ip(), 2152);
            self.out.push(Transmit {
                dst,
                src: Some(self.user),
                link_dst: None,
                payload: bytes.into(),
            });
        }
    }

    /// Contexts the gateway accepted.
    pub fn accepted(&self) -> usize {
        self.contexts
            .iter()
            .filter(|c| c.cause == Some(Cause::REQUEST_ACCEPTED))
            .count()
    }

    pub fn idle(&self) -> bool {
        self.pending.is_empty()
    }
}

impl Node for Sgsn {
    fn handle_datagram(&mut self, _now: Instant, _from: SocketAddr, _to: SocketAddr, data: &[u8]) {
        let Ok(m) = gtp::parse(data) else { return };
        let Some(p) = m.header.sequence.and_then(|s| self.pending.remove(&s)) else {
            return;
        };
        let Some(c) = self.contexts.get_mut(p.context) else {
            return;
        };
        match m.message_type() {
            MessageType::CREATE_PDP_CONTEXT_RESPONSE => {
                c.cause = m.cause();
                c.gw_teid_c = m.teid_control().unwrap_or(0);
                c.gw_teid_u = m.teid_data_i().unwrap_or(0);
                c.ue = m.end_user_address().and_then(|e| e.ipv4_addr());
            }
            MessageType::UPDATE_PDP_CONTEXT_RESPONSE => {
                c.updated = m.cause() == Some(Cause::REQUEST_ACCEPTED);
            }
            _ => {}
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        for p in self
            .pending
            .values_mut()
            .filter(|p| p.next <= now && p.tries < 8)
        {
            p.tries += 1;
            p.next = now + Duration::from_millis(300);
            self.out.push(Transmit {
                dst: self.gateway,
                src: Some(self.control),
                link_dst: None,
                payload: p.bytes.clone().into(),
            });
        }
        self.pending.retain(|_, p| p.tries < 8 || p.next > now);
    }

    fn poll_transmit(&mut self) -> Option<Transmit> {
        (!self.out.is_empty()).then(|| self.out.remove(0))
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.pending.values().map(|p| p.next).min()
    }
}
