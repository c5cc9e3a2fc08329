//! A small scripted PPP client (test helper; telcp itself does not do PPP): LCP (RFC 1661),
//! PAP (RFC 1334) or CHAP with MD5 (RFC 1994), IPCP with address negotiation (RFC 1332), and an
//! IPv4 ICMP echo built by hand (RFC 791, RFC 792) to check that the link carries traffic.
//!
//! Frames in and out are PPP frames as L2TP carries them (RFC 2661 5.4): Address and Control
//! (`FF 03`) then the 2-octet protocol. [`Client::handle`] takes a frame from the peer and returns
//! the frames to send back; every step is written to [`Client::log`].

use md5::{Digest, Md5};
use std::net::Ipv4Addr;

/// PPP protocol numbers.
pub const LCP: u16 = 0xc021;
/// Password Authentication Protocol.
pub const PAP: u16 = 0xc023;
/// Challenge-Handshake Authentication Protocol.
pub const CHAP: u16 = 0xc223;
/// IP Control Protocol.
pub const IPCP: u16 = 0x8021;
/// IPv4 datagrams.
pub const IPV4: u16 = 0x0021;

// Control protocol codes (RFC 1661 5).
const CONF_REQ: u8 = 1;
const CONF_ACK: u8 = 2;
const CONF_NAK: u8 = 3;
const CONF_REJ: u8 = 4;
const TERM_REQ: u8 = 5;
const TERM_ACK: u8 = 6;
const PROTO_REJ: u8 = 8;
const ECHO_REQ: u8 = 9;
const ECHO_REPLY: u8 = 10;

// LCP options (RFC 1661 6) and the IPCP address option (RFC 1332 3.3).
const OPT_AUTH: u8 = 3;
const OPT_MAGIC: u8 = 5;
const OPT_IP_ADDRESS: u8 = 3;

/// The authentication protocol the client wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// PAP Authenticate-Request with the password in clear.
    Pap,
    /// CHAP with MD5 (algorithm 5): Response = MD5(Identifier || secret || Challenge).
    Chap,
}

/// Where the client stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// LCP negotiating.
    Establish,
    /// LCP opened, authenticating.
    Authenticate,
    /// Authenticated, IPCP negotiating.
    Network,
    /// IPCP opened: an address is assigned.
    Up,
    /// Terminate-Request sent or received.
    Terminated,
    /// The peer refused the authentication.
    AuthFailed,
}

/// The scripted client.
#[derive(Debug)]
pub struct Client {
    auth: Auth,
    user: Vec<u8>,
    password: Vec<u8>,
    magic: u32,
    next_id: u8,
    /// Our LCP Configure-Request was acknowledged / we acknowledged the peer's.
    lcp: (bool, bool),
    /// Our IPCP Configure-Request was acknowledged / we acknowledged the peer's.
    ipcp: (bool, bool),
    /// The address we ask for in IPCP (0.0.0.0 until the peer names one in a Nak).
    address: Ipv4Addr,
    /// The peer's IPCP address.
    pub peer_address: Option<Ipv4Addr>,
    /// Where the client stands.
    pub phase: Phase,
    /// The authentication protocol the peer asked for in the LCP option we acknowledged.
    pub auth_used: Option<u16>,
    /// Echo requests sent: (identifier, sequence, destination), and replies matched.
    echo: Option<(u16, u16, Ipv4Addr)>,
    /// Whether the echo was answered (source, identifier and sequence match, checksums valid).
    pub echo_answered: bool,
    /// A readable line per frame in and out.
    pub log: Vec<String>,
}

/// A PPP frame: `FF 03`, the protocol, the body.
pub fn frame(protocol: u16, body: &[u8]) -> Vec<u8> {
    let mut f = vec![0xff, 0x03];
    f.extend_from_slice(&protocol.to_be_bytes());
    f.extend_from_slice(body);
    f
}

/// A control packet (RFC 1661 5): code, identifier, length, data.
fn packet(protocol: u16, code: u8, id: u8, data: &[u8]) -> Vec<u8> {
    let mut b = vec![code, id];
    b.extend_from_slice(&((data.len() + 4) as u16).to_be_bytes());
    b.extend_from_slice(data);
    frame(protocol, &b)
}

/// The protocol and body of a received frame (Address/Control and protocol field compression
/// accepted), or None when too short.
pub fn parse(f: &[u8]) -> Option<(u16, &[u8])> {
    let f = f.strip_prefix(&[0xff, 0x03]).unwrap_or(f);
    match f.first()? {
        p if p & 1 == 1 => Some((u16::from(*p), &f[1..])),
        _ => Some((u16::from_be_bytes([f[0], *f.get(1)?]), &f[2..])),
    }
}

/// The options of a Configure packet body: (type, value) pairs, or None when malformed.
fn options(mut data: &[u8]) -> Option<Vec<(u8, &[u8])>> {
    let mut out = Vec::new();
    while !data.is_empty() {
        let len = usize::from(*data.get(1)?);
        if len < 2 || len > data.len() {
            return None;
        }
        out.push((data[0], &data[2..len]));
        data = &data[len..];
    }
    Some(out)
}

fn encode_options(opts: &[(u8, Vec<u8>)]) -> Vec<u8> {
    let mut b = Vec::new();
    for (t, v) in opts {
        b.push(*t);
        b.push((v.len() + 2) as u8);
        b.extend_from_slice(v);
    }
    b
}

/// The Internet checksum (RFC 1071) of `data`.
pub fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = data
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An IPv4 datagram (RFC 791) carrying an ICMP message `icmp` (checksummed by the caller).
fn ipv4_icmp(src: Ipv4Addr, dst: Ipv4Addr, id: u16, icmp: &[u8]) -> Vec<u8> {
    let mut ip = vec![0x45, 0];
    ip.extend_from_slice(&((20 + icmp.len()) as u16).to_be_bytes());
    ip.extend_from_slice(&id.to_be_bytes());
    ip.extend_from_slice(&[0x40, 0, 64, 1, 0, 0]); // DF, TTL 64, protocol ICMP
    ip.extend_from_slice(&src.octets());
    ip.extend_from_slice(&dst.octets());
    let c = checksum(&ip);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    ip.extend_from_slice(icmp);
    ip
}

/// An ICMP Echo Request (RFC 792: type 8, code 0) with `payload`.
fn icmp_echo(ident: u16, seq: u16, payload: &[u8]) -> Vec<u8> {
    let mut m = vec![8, 0, 0, 0];
    m.extend_from_slice(&ident.to_be_bytes());
    m.extend_from_slice(&seq.to_be_bytes());
    m.extend_from_slice(payload);
    let c = checksum(&m);
    m[2..4].copy_from_slice(&c.to_be_bytes());
    m
}

impl Client {
    /// A client that authenticates as `user` with `password` (the PAP password or the CHAP
    /// secret) using `auth`, with LCP Magic-Number `magic`.
    pub fn new(auth: Auth, user: &str, password: &str, magic: u32) -> Client {
        Client {
            auth,
            user: user.as_bytes().to_vec(),
            password: password.as_bytes().to_vec(),
            magic,
            next_id: 1,
            lcp: (false, false),
            ipcp: (false, false),
            address: Ipv4Addr::UNSPECIFIED,
            peer_address: None,
            phase: Phase::Establish,
            auth_used: None,
            echo: None,
            echo_answered: false,
            log: Vec::new(),
        }
    }

    /// The address IPCP assigned (once [`Phase::Up`]).
    pub fn address(&self) -> Option<Ipv4Addr> {
        (self.phase == Phase::Up).then_some(self.address)
    }

    /// The address IPCP assigned, also after the link went down.
    pub fn assigned(&self) -> Option<Ipv4Addr> {
        self.ipcp.0.then_some(self.address)
    }

    fn id(&mut self) -> u8 {
        self.next_id = self.next_id.wrapping_add(1);
        self.next_id
    }

    fn note(&mut self, dir: &str, what: String) {
        self.log.push(format!("ppp {dir} {what}"));
    }

    /// The first frame: our LCP Configure-Request (Magic-Number only).
    pub fn start(&mut self) -> Vec<Vec<u8>> {
        vec![self.lcp_request()]
    }

    /// Our LCP Configure-Request again (on the restart timer, RFC 1661 4.6) while LCP is not
    /// open; our IPCP Configure-Request again while IPCP is not.
    pub fn retransmit(&mut self) -> Vec<Vec<u8>> {
        match self.phase {
            Phase::Establish if !self.lcp.0 => vec![self.lcp_request()],
            Phase::Network if !self.ipcp.0 => vec![self.ipcp_request()],
            _ => Vec::new(),
        }
    }

    fn lcp_request(&mut self) -> Vec<u8> {
        let id = self.id();
        self.note("send", format!("LCP Configure-Request id={id}"));
        let opts = encode_options(&[(OPT_MAGIC, self.magic.to_be_bytes().to_vec())]);
        packet(LCP, CONF_REQ, id, &opts)
    }

    fn ipcp_request(&mut self) -> Vec<u8> {
        let id = self.id();
        self.note(
            "send",
            format!("IPCP Configure-Request id={id} address={}", self.address),
        );
        let opts = encode_options(&[(OPT_IP_ADDRESS, self.address.octets().to_vec())]);
        packet(IPCP, CONF_REQ, id, &opts)
    }

    /// LCP Terminate-Request (RFC 1661 5.5): the client hangs up.
    pub fn terminate(&mut self) -> Vec<u8> {
        let id = self.id();
        self.phase = Phase::Terminated;
        self.note("send", format!("LCP Terminate-Request id={id}"));
        packet(LCP, TERM_REQ, id, b"telcp test done")
    }

    /// An ICMP Echo Request from our assigned address to `dst`, as a PPP frame; None before
    /// IPCP is up.
    pub fn echo_request(&mut self, dst: Ipv4Addr, ident: u16, seq: u16) -> Option<Vec<u8>> {
        let src = self.address()?;
        let icmp = icmp_echo(ident, seq, b"telcp l2tpns echo payload");
        self.echo = Some((ident, seq, dst));
        self.note(
            "send",
            format!("ICMP Echo Request {src} -> {dst} id={ident} seq={seq}"),
        );
        Some(frame(IPV4, &ipv4_icmp(src, dst, ident, &icmp)))
    }

    /// Handles a frame from the peer; returns the frames to send.
    pub fn handle(&mut self, f: &[u8]) -> Vec<Vec<u8>> {
        let Some((protocol, body)) = parse(f) else {
            self.note("recv", format!("short frame {f:02x?}"));
            return Vec::new();
        };
        match protocol {
            LCP => self.lcp(body),
            PAP => self.pap(body),
            CHAP => self.chap(body),
            IPCP => self.ipcp(body),
            IPV4 => {
                self.ipv4(body);
                Vec::new()
            }
            other => {
                // RFC 1661 5.7: an unknown protocol gets Protocol-Reject once LCP is open.
                self.note("recv", format!("protocol {other:#06x}: Protocol-Reject"));
                let mut data = other.to_be_bytes().to_vec();
                data.extend_from_slice(body);
                let id = self.id();
                vec![packet(LCP, PROTO_REJ, id, &data)]
            }
        }
    }

    /// The code, identifier and data of a control packet.
    fn header(body: &[u8]) -> Option<(u8, u8, &[u8])> {
        let len = usize::from(u16::from_be_bytes([*body.get(2)?, *body.get(3)?]));
        if len < 4 || len > body.len() {
            return None;
        }
        Some((body[0], body[1], &body[4..len]))
    }

    fn lcp(&mut self, body: &[u8]) -> Vec<Vec<u8>> {
        let Some((code, id, data)) = Self::header(body) else {
            self.note("recv", "malformed LCP".into());
            return Vec::new();
        };
        match code {
            CONF_REQ => {
                let Some(opts) = options(data) else {
                    return Vec::new();
                };
                // Nak an authentication protocol other than ours with ours (RFC 1661 5.3).
                let want = match self.auth {
                    Auth::Pap => PAP,
                    Auth::Chap => CHAP,
                };
                let auth = opts.iter().find(|(t, _)| *t == OPT_AUTH);
                if let Some((_, v)) = auth {
                    if v.len() < 2 || u16::from_be_bytes([v[0], v[1]]) != want {
                        self.note(
                            "recv",
                            format!("LCP Configure-Request id={id} auth={v:02x?}: Nak"),
                        );
                        let mut ours = want.to_be_bytes().to_vec();
                        if want == CHAP {
                            ours.push(5);
                        }
                        let nak = encode_options(&[(OPT_AUTH, ours)]);
                        return vec![packet(LCP, CONF_NAK, id, &nak)];
                    }
                    self.auth_used = Some(want);
                }
                self.note(
                    "recv",
                    format!("LCP Configure-Request id={id} {} options: Ack", opts.len()),
                );
                self.lcp.1 = true;
                let mut out = vec![packet(LCP, CONF_ACK, id, data)];
                out.extend(self.lcp_opened());
                out
            }
            CONF_ACK => {
                self.note("recv", format!("LCP Configure-Ack id={id}"));
                self.lcp.0 = true;
                self.lcp_opened()
            }
            CONF_NAK | CONF_REJ => {
                self.note("recv", format!("LCP Configure-Nak/Reject id={id}"));
                vec![self.lcp_request()]
            }
            TERM_REQ => {
                self.note("recv", format!("LCP Terminate-Request id={id}"));
                self.phase = Phase::Terminated;
                vec![packet(LCP, TERM_ACK, id, &[])]
            }
            TERM_ACK => {
                self.note("recv", format!("LCP Terminate-Ack id={id}"));
                Vec::new()
            }
            ECHO_REQ => {
                self.note("recv", format!("LCP Echo-Request id={id}: Echo-Reply"));
                vec![packet(LCP, ECHO_REPLY, id, &self.magic.to_be_bytes())]
            }
            other => {
                self.note("recv", format!("LCP code {other} id={id}"));
                Vec::new()
            }
        }
    }

    /// Both directions of LCP acknowledged: authenticate (PAP: send; CHAP: wait for the
    /// Challenge).
    fn lcp_opened(&mut self) -> Vec<Vec<u8>> {
        if !(self.lcp.0 && self.lcp.1) || self.phase != Phase::Establish {
            return Vec::new();
        }
        self.phase = Phase::Authenticate;
        self.note("state", "LCP opened".into());
        match self.auth {
            Auth::Pap => {
                let id = self.id();
                let mut d = vec![self.user.len() as u8];
                d.extend_from_slice(&self.user);
                d.push(self.password.len() as u8);
                d.extend_from_slice(&self.password);
                self.note("send", format!("PAP Authenticate-Request id={id}"));
                vec![packet(PAP, 1, id, &d)]
            }
            Auth::Chap => Vec::new(),
        }
    }

    fn authenticated(&mut self, ok: bool, what: &str) -> Vec<Vec<u8>> {
        self.note("recv", what.to_owned());
        if !ok {
            self.phase = Phase::AuthFailed;
            return Vec::new();
        }
        if self.phase != Phase::Authenticate {
            return Vec::new();
        }
        self.phase = Phase::Network;
        vec![self.ipcp_request()]
    }

    fn pap(&mut self, body: &[u8]) -> Vec<Vec<u8>> {
        match Self::header(body) {
            Some((2, id, _)) => self.authenticated(true, &format!("PAP Authenticate-Ack id={id}")),
            Some((3, id, _)) => self.authenticated(false, &format!("PAP Authenticate-Nak id={id}")),
            _ => {
                self.note("recv", "unexpected PAP".into());
                Vec::new()
            }
        }
    }

    fn chap(&mut self, body: &[u8]) -> Vec<Vec<u8>> {
        match Self::header(body) {
            Some((1, id, data)) => {
                let Some(challenge) = data.first().and_then(|n| data.get(1..1 + usize::from(*n)))
                else {
                    self.note("recv", "malformed CHAP Challenge".into());
                    return Vec::new();
                };
                let mut h = Md5::new();
                h.update([id]);
                h.update(&self.password);
                h.update(challenge);
                let mut d = vec![16];
                d.extend_from_slice(&h.finalize());
                d.extend_from_slice(&self.user);
                self.note(
                    "recv",
                    format!(
                        "CHAP Challenge id={id} ({} octets): Response",
                        challenge.len()
                    ),
                );
                vec![packet(CHAP, 2, id, &d)]
            }
            Some((3, id, _)) => self.authenticated(true, &format!("CHAP Success id={id}")),
            Some((4, id, _)) => self.authenticated(false, &format!("CHAP Failure id={id}")),
            _ => {
                self.note("recv", "unexpected CHAP".into());
                Vec::new()
            }
        }
    }

    fn ipcp(&mut self, body: &[u8]) -> Vec<Vec<u8>> {
        let Some((code, id, data)) = Self::header(body) else {
            self.note("recv", "malformed IPCP".into());
            return Vec::new();
        };
        let opts = options(data).unwrap_or_default();
        let addr = opts
            .iter()
            .find(|(t, v)| *t == OPT_IP_ADDRESS && v.len() == 4)
            .map(|(_, v)| Ipv4Addr::new(v[0], v[1], v[2], v[3]));
        match code {
            CONF_REQ => {
                self.note(
                    "recv",
                    format!("IPCP Configure-Request id={id} address={addr:?}: Ack"),
                );
                self.peer_address = addr;
                self.ipcp.1 = true;
                let mut out = vec![packet(IPCP, CONF_ACK, id, data)];
                out.extend(self.ipcp_opened());
                out
            }
            CONF_ACK => {
                self.note(
                    "recv",
                    format!("IPCP Configure-Ack id={id} address={addr:?}"),
                );
                self.ipcp.0 = addr == Some(self.address) && !self.address.is_unspecified();
                self.ipcp_opened()
            }
            CONF_NAK => {
                self.note(
                    "recv",
                    format!("IPCP Configure-Nak id={id} address={addr:?}"),
                );
                if let Some(a) = addr {
                    self.address = a;
                }
                vec![self.ipcp_request()]
            }
            other => {
                self.note("recv", format!("IPCP code {other} id={id}"));
                Vec::new()
            }
        }
    }

    fn ipcp_opened(&mut self) -> Vec<Vec<u8>> {
        if self.ipcp.0 && self.ipcp.1 && self.phase == Phase::Network {
            self.phase = Phase::Up;
            self.note("state", format!("IPCP opened, address {}", self.address));
        }
        Vec::new()
    }

    /// An IPv4 datagram for us: is it the ICMP Echo Reply we wait for (RFC 792: type 0, same
    /// identifier and sequence, from the address we pinged, both checksums valid)?
    fn ipv4(&mut self, ip: &[u8]) {
        let ihl = usize::from(ip.first().map_or(0, |b| b & 0x0f)) * 4;
        if ip.len() < 20 || ip[0] >> 4 != 4 || ihl < 20 || ip.len() < ihl + 8 {
            self.note(
                "recv",
                format!("IPv4 short or malformed ({} octets)", ip.len()),
            );
            return;
        }
        let src = Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]);
        let dst = Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]);
        let total = usize::from(u16::from_be_bytes([ip[2], ip[3]])).min(ip.len());
        let icmp = &ip[ihl..total];
        let ok_sums = checksum(&ip[..ihl]) == 0 && checksum(icmp) == 0;
        let ident = u16::from_be_bytes([icmp[4], icmp[5]]);
        let seq = u16::from_be_bytes([icmp[6], icmp[7]]);
        self.note(
            "recv",
            format!(
                "IPv4 {src} -> {dst} protocol {} ICMP type {} id={ident} seq={seq} checksums {}",
                ip[9],
                icmp[0],
                if ok_sums { "valid" } else { "INVALID" }
            ),
        );
        if ip[9] == 1
            && icmp[0] == 0
            && ok_sums
            && Some(dst) == self.address()
            && self.echo == Some((ident, seq, src))
        {
            self.echo_answered = true;
        }
    }
}
