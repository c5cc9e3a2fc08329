//! The one SGSN peer of the tests and the examples (TS 29.060 as the SGSN speaks it): sends
//! GTPv1-C requests (Echo, Create, Update and Delete PDP Context), retransmits each every T3 =
//! 300 ms up to N3 attempts (TS 29.060 section 7.6), sends G-PDUs (TS 29.281 section 5), and
//! records every answer, including the unsolicited Error Indication and Version Not Supported.
//! `examples/common/mod.rs` includes this file by `#[path]`, so it depends on nothing else under
//! `tests/common/`.
#![allow(dead_code)]

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};
use telcp::steering::gtp::{self, Cause, CreatePdpContextRequest, Ie, Imsi, Message, MessageType};
use telcp::{Node, Transmit};

/// Attempts per request: a request crosses up to five lossy hops before its answer comes back.
pub const N3: u32 = 12;

/// T3-RESPONSE (TS 29.060 section 7.6): the wait before a request is sent again.
pub const T3: Duration = Duration::from_millis(300);

/// The QoS Profile every request carries (TS 24.008 10.5.6.5, allocation/retention priority 0).
const QOS: &[u8] = &[0, 0x0b, 0x92, 0x1f];

/// One PDP context as the SGSN sees it.
#[derive(Debug, Clone, Default)]
pub struct SgsnSession {
    pub imsi: String,
    pub nsapi: u8,
    pub own_teid: u32,
    /// The gateway's TEIDs from the Create PDP Context Response (they carry the processor's VID).
    pub gw_teid_c: u32,
    pub gw_teid_u: u32,
    pub ue: Option<Ipv4Addr>,
    pub created: Option<Cause>,
    pub updates_ok: u32,
    /// TEIDs the Update responses carried.
    pub update_teids: Vec<u32>,
    pub deleted: Option<Cause>,
}

/// A request waiting for its answer.
#[derive(Debug)]
pub struct Outstanding {
    pub bytes: Vec<u8>,
    pub dst: SocketAddr,
    pub next: Instant,
    pub tries: u32,
    pub session: usize,
}

/// A GTPv1 SGSN: sends requests, retransmits them (T3, N3 attempts), records answers.
#[derive(Debug)]
pub struct Sgsn {
    /// Control (2123) and user-plane (2152) addresses of this SGSN.
    pub control: SocketAddr,
    pub user: SocketAddr,
    /// The gateway's GTP-C address.
    pub gw: SocketAddr,
    pub seq: u16,
    pub sessions: Vec<SgsnSession>,
    pub outstanding: BTreeMap<u16, Outstanding>,
    out: Vec<Transmit>,
    pub responses: Vec<Message<'static>>,
    /// Where the responses came from.
    pub response_sources: Vec<SocketAddr>,
    pub echo_recovery: Option<u8>,
    /// Error Indications and Version Not Supported messages received: (from, to, message).
    pub unsolicited: Vec<(SocketAddr, SocketAddr, Message<'static>)>,
    /// Datagrams received that are no GTPv1 message (a GTPv2 answer): (from, to, octets).
    pub unparsed: Vec<(SocketAddr, SocketAddr, Vec<u8>)>,
    /// Attempts per request (N3).
    pub n3: u32,
}

impl Sgsn {
    /// An SGSN at `ip` (ports 2123 and 2152) talking to the gateway's GTP-C address `gw`.
    pub fn new(ip: Ipv4Addr, gw: SocketAddr) -> Sgsn {
        Sgsn {
            control: SocketAddr::from((ip, 2123)),
            user: SocketAddr::from((ip, 2152)),
            gw,
            seq: 0,
            sessions: Vec::new(),
            outstanding: BTreeMap::new(),
            out: Vec::new(),
            responses: Vec::new(),
            response_sources: Vec::new(),
            echo_recovery: None,
            unsolicited: Vec::new(),
            unparsed: Vec::new(),
            n3: N3,
        }
    }

    fn request(&mut self, now: Instant, m: Message<'static>, session: usize) {
        let bytes = m.to_vec().unwrap();
        let seq = m.header.sequence.unwrap();
        self.out.push(Transmit {
            dst: self.gw,
            src: Some(self.control),
            link_dst: None,
            payload: bytes.clone().into(),
        });
        self.outstanding.insert(
            seq,
            Outstanding {
                bytes,
                dst: self.gw,
                next: now + T3,
                tries: 1,
                session,
            },
        );
    }

    fn next_seq(&mut self) -> u16 {
        self.seq = self.seq.wrapping_add(1);
        self.seq
    }

    /// Sends a hand-made Create PDP Context Request for a new session slot.
    pub fn raw_create(&mut self, now: Instant, ies: Vec<Ie<'static>>) -> usize {
        let idx = self.sessions.len();
        self.sessions.push(SgsnSession::default());
        let seq = self.next_seq();
        let m = Message::new(MessageType::CREATE_PDP_CONTEXT_REQUEST, 0, seq, ies);
        self.request(now, m, idx);
        idx
    }

    /// Sends an Echo Request (TS 29.060 section 7.2.1).
    pub fn echo(&mut self, now: Instant) {
        let seq = self.next_seq();
        self.request(
            now,
            Message::new(MessageType::ECHO_REQUEST, 0, seq, vec![]),
            usize::MAX,
        );
    }

    /// Sends a Create PDP Context Request (TEID 0: a set-up request) for `imsi`.
    pub fn create(&mut self, now: Instant, imsi: &str, nsapi: u8) -> usize {
        let idx = self.sessions.len();
        let own_teid = 0x5500_0000 + idx as u32 + 1;
        self.sessions.push(SgsnSession {
            imsi: imsi.into(),
            nsapi,
            own_teid,
            ..Default::default()
        });
        let seq = self.next_seq();
        let imsi = Some(Imsi::from_digits(imsi).unwrap());
        let mut req = CreatePdpContextRequest::new(imsi, own_teid, nsapi, self.control.ip());
        req.recovery = Some(1);
        req.qos_profile = QOS.to_vec();
        self.request(now, req.message(seq), idx);
        idx
    }

    /// Sends an Update PDP Context Request to the gateway's control TEID of session `idx`.
    pub fn update(&mut self, now: Instant, idx: usize) {
        self.update_with(now, idx, Vec::new());
    }

    /// [`Self::update`] with `extra` IEs (e.g. a Recovery) after the mandatory ones.
    pub fn update_with(&mut self, now: Instant, idx: usize, extra: Vec<Ie<'static>>) {
        let s = &self.sessions[idx];
        let (teid, own, nsapi) = (s.gw_teid_c, s.own_teid, s.nsapi);
        let seq = self.next_seq();
        let me = self.control.ip();
        let m = Message::new(
            MessageType::UPDATE_PDP_CONTEXT_REQUEST,
            teid,
            seq,
            vec![
                Ie::TeidDataI(own),
                Ie::TeidControl(own),
                Ie::Nsapi(nsapi),
                Ie::GsnAddress(me),
                Ie::GsnAddress(me),
                Ie::QosProfile(Cow::Borrowed(QOS)),
            ]
            .into_iter()
            .chain(extra)
            .collect(),
        );
        self.request(now, m, idx);
    }

    /// Sends a Delete PDP Context Request (Teardown Ind set) for session `idx`.
    pub fn delete(&mut self, now: Instant, idx: usize) {
        let teid = self.sessions[idx].gw_teid_c;
        let seq = self.next_seq();
        let m = Message::new(
            MessageType::DELETE_PDP_CONTEXT_REQUEST,
            teid,
            seq,
            vec![Ie::TeardownInd(0xff), Ie::Nsapi(self.sessions[idx].nsapi)],
        );
        self.request(now, m, idx);
    }

    /// Sends one G-PDU carrying `payload` on session `idx`'s data TEID.
    pub fn g_pdu_with(&mut self, idx: usize, payload: Vec<u8>) {
        let teid = self.sessions[idx].gw_teid_u;
        let m = Message::g_pdu(teid, payload);
        self.send_raw(self.user.port(), 2152, m.to_vec().unwrap());
    }

    /// Sends one G-PDU on session `idx`: a UDP packet from the UE's address.
    pub fn g_pdu(&mut self, idx: usize) {
        let ue = self.sessions[idx].ue.unwrap_or(Ipv4Addr::UNSPECIFIED);
        self.g_pdu_with(idx, inner_ipv4(ue, b"user data"));
    }

    /// Sends `bytes` from the SGSN's port `src_port` to the gateway's port `dst_port`, once.
    pub fn send_raw(&mut self, src_port: u16, dst_port: u16, bytes: Vec<u8>) {
        self.out.push(Transmit {
            dst: SocketAddr::new(self.gw.ip(), dst_port),
            src: Some(SocketAddr::new(self.control.ip(), src_port)),
            link_dst: None,
            payload: bytes.into(),
        });
    }

    /// A G-PDU to any TEID, from the SGSN's UDP port `src_port`.
    pub fn g_pdu_to(&mut self, src_port: u16, teid: u32) {
        let m = Message::g_pdu(teid, inner_ipv4(Ipv4Addr::new(10, 9, 9, 9), b"stale"));
        self.send_raw(src_port, 2152, m.to_vec().unwrap());
    }

    fn unsolicited_of(&self, t: MessageType) -> Vec<(SocketAddr, SocketAddr, &Message<'static>)> {
        self.unsolicited
            .iter()
            .filter(|(_, _, m)| m.message_type() == t)
            .map(|(f, t, m)| (*f, *t, m))
            .collect()
    }

    /// Error Indications received, with the TEID Data I each carries.
    pub fn error_indications(&self) -> Vec<(SocketAddr, SocketAddr, &Message<'static>)> {
        self.unsolicited_of(MessageType::ERROR_INDICATION)
    }

    /// Version Not Supported messages received.
    pub fn version_not_supported(&self) -> Vec<(SocketAddr, SocketAddr, &Message<'static>)> {
        self.unsolicited_of(MessageType::VERSION_NOT_SUPPORTED)
    }

    /// Sessions the gateway accepted (Cause "Request accepted", TS 29.060 section 7.7.1).
    pub fn created(&self) -> usize {
        self.sessions
            .iter()
            .filter(|s| s.created == Some(Cause::REQUEST_ACCEPTED))
            .count()
    }

    /// Every request answered or out of attempts.
    pub fn idle(&self) -> bool {
        self.outstanding.values().all(|o| o.tries >= self.n3)
    }
}

impl Node for Sgsn {
    fn handle_datagram(
        &mut self,
        _now: Instant,
        from: SocketAddr,
        to: SocketAddr,
        data: &[u8],
    ) -> Result<(), telcp::Error> {
        let Ok(m) = gtp::parse(data) else {
            self.unparsed.push((from, to, data.to_vec()));
            return Ok(());
        };
        if matches!(
            m.message_type(),
            MessageType::ERROR_INDICATION | MessageType::VERSION_NOT_SUPPORTED
        ) {
            self.unsolicited.push((from, to, m.into_owned()));
            return Ok(());
        }
        self.response_sources.push(from);
        let Some(seq) = m.header.sequence else {
            return Ok(());
        };
        let Some(o) = self.outstanding.remove(&seq) else {
            return Ok(()); // a duplicate answer
        };
        let idx = o.session;
        match m.message_type() {
            MessageType::ECHO_RESPONSE => self.echo_recovery = m.recovery(),
            MessageType::CREATE_PDP_CONTEXT_RESPONSE => {
                let s = &mut self.sessions[idx];
                s.created = m.cause();
                s.gw_teid_c = m.teid_control().unwrap_or(0);
                s.gw_teid_u = m.teid_data_i().unwrap_or(0);
                s.ue = m.end_user_address().and_then(|e| e.ipv4_addr());
            }
            MessageType::UPDATE_PDP_CONTEXT_RESPONSE => {
                let s = &mut self.sessions[idx];
                if m.cause() == Some(Cause::REQUEST_ACCEPTED) {
                    s.updates_ok += 1;
                }
                s.update_teids.extend(m.teid_data_i());
            }
            MessageType::DELETE_PDP_CONTEXT_RESPONSE => {
                self.sessions[idx].deleted = m.cause();
            }
            _ => {}
        }
        self.responses.push(m.into_owned());
        Ok(())
    }

    fn handle_timeout(&mut self, now: Instant) {
        for o in self.outstanding.values_mut() {
            if o.next <= now && o.tries < self.n3 {
                o.tries += 1;
                o.next = now + T3;
                self.out.push(Transmit {
                    dst: o.dst,
                    src: Some(self.control),
                    link_dst: None,
                    payload: o.bytes.clone().into(),
                });
            }
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

/// An IPv4/UDP packet from the UE (RFC 791, RFC 768), with a correct header checksum (UDP
/// checksum 0).
pub fn inner_ipv4(src: Ipv4Addr, payload: &[u8]) -> Vec<u8> {
    let total = (20 + 8 + payload.len()) as u16;
    let mut p = vec![0x45, 0];
    p.extend_from_slice(&total.to_be_bytes());
    p.extend_from_slice(&[0, 1, 0, 0, 64, 17, 0, 0]);
    p.extend_from_slice(&src.octets());
    p.extend_from_slice(&[192, 0, 2, 1]);
    let sum: u32 = p
        .chunks(2)
        .map(|c| (u32::from(c[0]) << 8) | u32::from(c[1]))
        .sum();
    let sum = (sum & 0xffff) + (sum >> 16);
    let sum = !(((sum & 0xffff) + (sum >> 16)) as u16);
    p[10..12].copy_from_slice(&sum.to_be_bytes());
    p.extend_from_slice(&[0x9c, 0x40, 0x9c, 0x41]);
    p.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    p.extend_from_slice(&[0, 0]);
    p.extend_from_slice(payload);
    p
}
