//! RFC 5944 conformance of the mobile node and foreign agent (sections 1.6, 1.9, 3.4, 3.6, 3.7 and
//! 5.7), and of the codec for the extensions of RFC 2794, 3012, 3543 and 3519: a hand-written
//! home agent or mobile node builds each message byte by byte and checks what
//! `telcp::mip::{MobileNodeClient, ForeignAgent}` and `telcp::mip::wire` do with it. Each test's
//! doc comment names the statement ids of `conformance/rfc5944.toml` it checks.

mod common;

use common::mip::*;

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use telcp::mip::wire::auth::{AuthAlgorithm, SecurityAssociation};
use telcp::mip::wire::{Extension, Message};
use telcp::mip::{
    ClientConfig, ClientEvent, ConfigError, ConfigField, FaError, ForeignAgent, ForeignAgentConfig,
    MobileNodeClient,
};

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// The home agent as the mobile node and FA see it.
fn ha_sock() -> SocketAddr {
    sock(VIP, 434)
}

fn client_cfg(home: Ipv4Addr, nai: Option<&[u8]>, via: Option<SocketAddr>) -> ClientConfig {
    ClientConfig {
        home_address: home,
        nai: nai.map(<[u8]>::to_vec),
        sa: SecurityAssociation::new(MN_SPI, AuthAlgorithm::HmacMd5, MN_KEY.to_vec()),
        home_agent: ha_sock(),
        local: mn_sock(),
        via,
        lifetime: 600,
        simultaneous: false,
        broadcast: false,
        retransmit: secs(1),
        max_retransmits: 3,
        wall_clock: WALL,
        auto_reregister: false,
    }
}

struct Mn {
    mn: MobileNodeClient,
    t0: Instant,
}

impl Mn {
    fn new(cfg: ClientConfig) -> Mn {
        let t0 = Instant::now();
        Mn {
            mn: MobileNodeClient::new(cfg, t0).expect("valid client"),
            t0,
        }
    }
    fn sent(&mut self) -> Vec<telcp::Transmit> {
        std::iter::from_fn(|| self.mn.poll_transmit()).collect()
    }
    fn events(&mut self) -> Vec<ClientEvent> {
        std::iter::from_fn(|| self.mn.poll_event()).collect()
    }
    /// Registers and returns the request's bytes.
    fn register(&mut self, at: Duration) -> Vec<u8> {
        self.mn.register(self.t0 + at);
        let out = self.sent();
        assert_eq!(out.len(), 1);
        out[0].payload.to_vec()
    }
    fn feed(&mut self, at: Duration, reply: &[u8]) -> bool {
        self.mn
            .handle_datagram(self.t0 + at, ha_sock(), mn_sock(), reply)
            .is_ok()
    }
}

/// Reads a request's fixed part: (flags, lifetime, home, ha, coa, id).
fn fixed(b: &[u8]) -> (u8, u16, Ipv4Addr, Ipv4Addr, Ipv4Addr, u64) {
    assert_eq!(b[0], 1, "type 1 is a Registration Request (RFC 5944 3.3)");
    let a = |i: usize| Ipv4Addr::new(b[i], b[i + 1], b[i + 2], b[i + 3]);
    (
        b[1],
        u16::from_be_bytes([b[2], b[3]]),
        a(4),
        a(8),
        a(12),
        u64::from_be_bytes(b[16..24].try_into().unwrap()),
    )
}

/// An authenticated reply from the HA to request identification `id`.
fn reply(code: u8, lifetime: u16, home: Ipv4Addr, id: u64, key: &[u8]) -> Vec<u8> {
    let mut p = rrp(code, lifetime, home, VIP, id);
    push_auth(&mut p, 32, MN_SPI, key);
    p
}

/// mip-3.6.1.2-mn-request-fields: with a co-located care-of address the mobile node sets D,
/// names its home address, its home agent and its own address as care-of address, and sends the
/// reserved bits as zero.
///
/// mip-3.3-reserved-bits-zero: the reserved r and x bits are sent as zero.
#[test]
fn mip_3_6_1_2_mn_request_fields() {
    // RFC 5944 3.6.1.2: the fields of the request; 3.3: D for a co-located care-of address, r and
    // x sent as zero.
    let mut m = Mn::new(client_cfg(HOME, None, None));
    let b = m.register(secs(0));
    let (flags, lifetime, home, ha, coa, _) = fixed(&b);
    assert_eq!(flags & D, D);
    assert_eq!(flags & (R_RESERVED | X_RESERVED), 0);
    assert_eq!((lifetime, home, ha, coa), (600, HOME, VIP, COA));
}

/// mip-3.6.1.2-mn-via-fa: registering through a foreign agent, the mobile node uses the FA's
/// address as care-of address, clears D and sends the request to the FA.
#[test]
fn mip_3_6_1_2_mn_via_fa() {
    // RFC 5944 3.6.1.2: Care-of Address: the FA's; D only for a co-located care-of address;
    // 3.6.1.1: the request goes to the foreign agent.
    let fa = sock(FA, 434);
    let mut m = Mn::new(client_cfg(HOME, None, Some(fa)));
    m.mn.register(m.t0);
    let out = m.sent();
    assert_eq!(out[0].dst, fa);
    let (flags, _, _, _, coa, _) = fixed(&out[0].payload);
    assert_eq!(flags & D, 0);
    assert_eq!(coa, FA);
}

/// mip-3.6.1.3-mn-ha-after-ha-extensions: the extensions meant for the HA (the NAI) come first,
/// then exactly one MN-HA extension whose authenticator covers them.
///
/// mip-rfc2794.2-nai-before-mn-ha: the mobile node puts its NAI extension before the MN-HA
/// extension, so it is authenticated.
#[test]
fn mip_3_6_1_3_mn_ha_after_ha_extensions() {
    // RFC 5944 3.6.1.3: IP/UDP, fixed part, non-authentication extensions for the HA, the MN-HA
    // extension, then what the FA needs. RFC 2794 section 2: the NAI precedes the MN-HA.
    let mut m = Mn::new(client_cfg(HOME, Some(NAI), None));
    let b = m.register(secs(0));
    assert_eq!(b[24], 131);
    let nai_end = 26 + b[25] as usize;
    assert_eq!(&b[26..nai_end], NAI);
    assert_eq!(b[nai_end], 32);
    assert_eq!(
        b.len(),
        nai_end + 22,
        "exactly one MN-HA, the last extension"
    );
    assert_eq!(&b[nai_end + 2..nai_end + 6], &MN_SPI.to_be_bytes());
    assert_eq!(hmac_md5(MN_KEY, &b[..nai_end + 6])[..], b[nai_end + 6..]);
}

/// mip-3.6.2.1-mn-discards-bad-auth: a reply without a valid MN-HA authenticator is silently
/// discarded: the registration stays pending and nothing is reported.
#[test]
fn mip_3_6_2_1_mn_discards_bad_auth() {
    // RFC 5944 3.6.2.1: a reply whose MN-HA extension is missing or invalid MUST be silently
    // discarded.
    let mut m = Mn::new(client_cfg(HOME, None, None));
    let (.., id) = fixed(&m.register(secs(0)));
    assert!(!m.feed(secs(0), &reply(0, 600, HOME, id, b"forged")));
    assert!(!m.feed(secs(0), &rrp(0, 600, HOME, VIP, id)));
    assert!(m.events().is_empty());
    assert!(m.mn.is_pending());
    assert!(m.feed(secs(0), &reply(0, 600, HOME, id, MN_KEY)));
    assert!(m.mn.is_registered(m.t0 + secs(1)));
}

/// mip-3.6.2.1-mn-discards-id-mismatch: a reply whose Identification's low 32 bits are not the
/// pending request's is silently discarded.
#[test]
fn mip_3_6_2_1_mn_discards_id_mismatch() {
    // RFC 5944 3.6.2.1 and 5.7: the low-order 32 bits of the reply's Identification MUST match
    // the request's, else the reply is silently discarded.
    let mut m = Mn::new(client_cfg(HOME, None, None));
    let (.., id) = fixed(&m.register(secs(0)));
    assert!(!m.feed(secs(0), &reply(0, 600, HOME, id ^ 1, MN_KEY)));
    assert!(m.events().is_empty());
    assert!(m.mn.is_pending());
}

/// mip-1.6-spi-reserved-mn: the mobile node refuses an MN-HA security association whose SPI
/// is reserved (0-255), naming the field; 256, the first usable SPI, is taken.
#[test]
fn mip_1_6_spi_reserved_mn() {
    // RFC 5944 1.6 (Security Parameter Index): SPI values 0 through 255 are reserved, and no
    // mobility security association uses them.
    for spi in [0, 1, 255] {
        let mut c = client_cfg(HOME, None, None);
        c.sa.spi = spi;
        assert_eq!(
            MobileNodeClient::new(c, Instant::now()).err(),
            Some(ConfigError::OutOfRange(ConfigField::Spi)),
            "MN-HA SPI {spi}"
        );
    }
    let mut c = client_cfg(HOME, None, None);
    c.sa.spi = 256;
    assert!(MobileNodeClient::new(c, Instant::now()).is_ok());
}

/// mip-3.6.2.1-mn-reserved-spi-reply: a reply whose MN-HA extension names a reserved SPI
/// matches no security association of the mobile node, even when its authenticator is computed
/// with the mobile node's key: it is silently discarded and the registration stays pending.
#[test]
fn mip_3_6_2_1_mn_reserved_spi_reply() {
    // RFC 5944 1.6: SPIs 0-255 are reserved, so no association has one; 3.6.2.1: a reply whose
    // MN-HA authentication fails MUST be silently discarded.
    let mut m = Mn::new(client_cfg(HOME, None, None));
    let (.., id) = fixed(&m.register(secs(0)));
    for spi in [0, 255] {
        let mut p = rrp(0, 600, HOME, VIP, id);
        push_auth(&mut p, 32, spi, MN_KEY);
        assert!(!m.feed(secs(0), &p), "MN-HA SPI {spi}");
    }
    assert!(m.events().is_empty());
    assert!(m.mn.is_pending());
    assert!(m.feed(secs(0), &reply(0, 600, HOME, id, MN_KEY)));
    assert!(m.mn.is_registered(m.t0 + secs(1)));
}

/// mip-1.9-mn-discards-unknown-extension: a reply carrying an unrecognized extension of type
/// 0-127 is silently discarded by the mobile node.
#[test]
fn mip_1_9_mn_discards_unknown_extension() {
    // RFC 5944 1.9: a mobile node receiving a Registration Reply with an unrecognized extension
    // in the range 0-127 MUST silently discard it.
    let mut m = Mn::new(client_cfg(HOME, None, None));
    let (.., id) = fixed(&m.register(secs(0)));
    let mut p = rrp(0, 600, HOME, VIP, id);
    push_ext(&mut p, 99, &[0; 4]);
    push_auth(&mut p, 32, MN_SPI, MN_KEY);
    m.feed(secs(0), &p);
    assert!(m.events().is_empty(), "no event from a reply to discard");
    assert!(!m.mn.is_registered(m.t0 + secs(1)));
    assert!(m.mn.is_pending());
}

/// mip-3.6.2.2-mn-granted-lifetime: the registration lasts the lifetime the HA granted, not the
/// one requested, and the mobile node re-registers before it ends.
#[test]
fn mip_3_6_2_2_mn_granted_lifetime() {
    // RFC 5944 3.6.2.2: the mobile node uses the Lifetime of the reply; it SHOULD re-register
    // before the binding expires.
    let mut c = client_cfg(HOME, None, None);
    c.auto_reregister = true;
    let mut m = Mn::new(c);
    let (.., id) = fixed(&m.register(secs(0)));
    assert!(m.feed(secs(0), &reply(0, 60, HOME, id, MN_KEY)));
    assert!(m.mn.is_registered(m.t0 + secs(59)));
    assert!(!m.mn.is_registered(m.t0 + secs(61)));
    let due = m.mn.poll_timeout().expect("a re-registration is scheduled");
    assert!(
        due < m.t0 + secs(60),
        "re-registers before the lifetime ends"
    );
    m.mn.handle_timeout(due);
    assert_eq!(m.sent().len(), 1, "a new request");
}

/// mip-3.4-mn-denial-lifetime-ignored: the Lifetime of a denying reply means nothing: the mobile
/// node reports the denial and is not registered.
#[test]
fn mip_3_4_mn_denial_lifetime_ignored() {
    // RFC 5944 3.4 / 3.8.3.2: when the Code denies the registration, the Lifetime is unspecified
    // and MUST be ignored on reception.
    let mut m = Mn::new(client_cfg(HOME, None, None));
    let (.., id) = fixed(&m.register(secs(0)));
    assert!(m.feed(secs(0), &reply(129, 600, HOME, id, MN_KEY)));
    assert_eq!(
        m.events(),
        vec![ClientEvent::Denied {
            code: telcp::mip::wire::ReplyCode(129)
        }]
    );
    assert!(!m.mn.is_registered(m.t0 + secs(1)));
}

/// mip-5.7.1-mn-resync-133: after a 133 reply the mobile node takes the HA's time from the high
/// 32 bits of its Identification and asks again with a timestamp on the HA's clock.
#[test]
fn mip_5_7_1_mn_resync_133() {
    // RFC 5944 5.7.1: on 133 the mobile node uses the HA's time in the reply's high 32 bits to
    // synchronize, and its next request carries an Identification close to the HA's time: whether
    // the HA's clock is ahead of the mobile node's or behind it.
    for skew in [5000i64, -5000] {
        let mut m = Mn::new(client_cfg(HOME, None, None));
        let (.., id) = fixed(&m.register(secs(0)));
        let ha_secs = (id >> 32).saturating_add_signed(skew);
        let p = reply(133, 0, HOME, (ha_secs << 32) | (id & 0xffff_ffff), MN_KEY);
        assert!(m.feed(secs(0), &p));
        let out = m.sent();
        assert_eq!(out.len(), 1, "a resynchronized request (skew {skew} s)");
        let (.., id2) = fixed(&out[0].payload);
        assert!(
            (id2 >> 32).abs_diff(ha_secs) <= 1,
            "on the HA's clock (skew {skew} s): {} vs {ha_secs}",
            id2 >> 32
        );
    }
}

/// mip-5.7.1-mn-timestamps: the mobile node's Identification is its NTP time, and increases from
/// one request to the next even within one clock tick.
#[test]
fn mip_5_7_1_mn_timestamps() {
    // RFC 5944 5.7.1: the Identification is a 64-bit NTP timestamp, greater than any the mobile
    // node sent before.
    let mut m = Mn::new(client_cfg(HOME, None, None));
    let (.., a) = fixed(&m.register(secs(0)));
    assert!((a >> 32).abs_diff(ntp(WALL) >> 32) <= 1);
    let (.., b) = fixed(&m.register(secs(0)));
    assert!(b > a);
}

/// mip-3.6.3-mn-retransmit-backoff: without a reply, the mobile node retransmits with a timeout
/// that doubles each time, each retransmission with a new Identification, then gives up.
#[test]
fn mip_3_6_3_mn_retransmit_backoff() {
    // RFC 5944 3.6.3: each successive retransmission timeout SHOULD be at least twice the
    // previous one; 5.7: every request carries a new, larger Identification.
    let mut m = Mn::new(client_cfg(HOME, None, None));
    let (.., mut last) = fixed(&m.register(secs(0)));
    let mut prev = m.t0;
    let mut gaps = Vec::new();
    while let Some(due) = m.mn.poll_timeout() {
        m.mn.handle_timeout(due);
        gaps.push(due - prev);
        prev = due;
        for t in m.sent() {
            let (.., id) = fixed(&t.payload);
            assert!(id > last);
            last = id;
        }
        if gaps.len() > 10 {
            break;
        }
    }
    assert_eq!(gaps, vec![secs(1), secs(2), secs(4), secs(8)]);
    assert_eq!(m.events(), vec![ClientEvent::Failed]);
}

/// mip-3.6.3-mn-retransmit-within-lifetime: the mobile node's wait before its next request never
/// exceeds the Lifetime it asks for: the doubling backoff stops there.
#[test]
fn mip_3_6_3_mn_retransmit_within_lifetime() {
    // RFC 5944 3.6.3: the maximum time until a new Registration Request is sent SHOULD be no
    // greater than the requested Lifetime; each successive timeout SHOULD be at least twice the
    // previous one as long as that is less than this maximum.
    let mut cfg = client_cfg(HOME, None, None);
    cfg.lifetime = 5;
    cfg.max_retransmits = 6;
    let mut m = Mn::new(cfg);
    let (_, lifetime, ..) = fixed(&m.register(secs(0)));
    assert_eq!(lifetime, 5);
    let mut prev = m.t0;
    let mut gaps = Vec::new();
    while let Some(due) = m.mn.poll_timeout() {
        m.mn.handle_timeout(due);
        gaps.push(due - prev);
        prev = due;
        m.sent();
        if gaps.len() > 10 {
            break;
        }
    }
    assert_eq!(
        gaps,
        vec![
            secs(1),
            secs(2),
            secs(4),
            secs(5),
            secs(5),
            secs(5),
            secs(5)
        ]
    );
    assert_eq!(m.events(), vec![ClientEvent::Failed]);
    // A first timeout longer than the Lifetime is cut to it too.
    let mut cfg = client_cfg(HOME, None, None);
    cfg.lifetime = 3;
    cfg.retransmit = secs(10);
    let mut m = Mn::new(cfg);
    m.register(secs(0));
    assert_eq!(m.mn.poll_timeout(), Some(m.t0 + secs(3)));
}

/// mip-rfc2794.2-mn-adopts-assigned-home: a mobile node that asked with home address 0.0.0.0
/// takes the home address the reply assigns and uses it in its next request.
#[test]
fn mip_rfc2794_2_mn_adopts_assigned_home() {
    // RFC 2794 section 2: the HA returns the assigned home address in the reply's Home Address
    // field; the mobile node uses it from then on.
    let mut m = Mn::new(client_cfg(Ipv4Addr::UNSPECIFIED, Some(NAI), None));
    let (_, _, home, ..) = fixed(&m.register(secs(0)));
    assert!(home.is_unspecified());
    m.mn.register(m.t0);
    let b = m.sent().remove(0).payload.to_vec();
    let id = fixed(&b).5;
    let assigned = Ipv4Addr::new(10, 0, 9, 5);
    let mut p = rrp(0, 600, assigned, VIP, id);
    push_ext(&mut p, 131, NAI);
    push_auth(&mut p, 32, MN_SPI, MN_KEY);
    assert!(m.feed(secs(0), &p));
    assert_eq!(m.mn.home_address(), assigned);
    let (_, _, home, ..) = fixed(&m.register(secs(1)));
    assert_eq!(home, assigned);
}

// ----- the foreign agent -----

fn fa(fa_ha: bool) -> (ForeignAgent, Instant) {
    let t0 = Instant::now();
    let cfg = ForeignAgentConfig {
        home_agent: ha_sock(),
        fa_ha: fa_ha
            .then(|| SecurityAssociation::new(FA_SPI, AuthAlgorithm::HmacMd5, FA_KEY.to_vec())),
        max_pending: 16,
        pending_timeout: secs(10),
    };
    (ForeignAgent::new(cfg, t0).expect("valid FA"), t0)
}

/// A mobile node's request through the FA, with an MN-FA extension after the MN-HA extension.
fn mn_request_via_fa(id: u64) -> (Vec<u8>, usize) {
    let mut m = rrq(0, 600, HOME, VIP, FA, id);
    push_ext(&mut m, 131, NAI);
    push_auth(&mut m, 32, MN_SPI, MN_KEY);
    let mn_ha_end = m.len();
    push_auth(&mut m, 33, 0x4001, b"mn-fa key");
    (m, mn_ha_end)
}

fn relay(
    f: &mut ForeignAgent,
    t0: Instant,
    from: SocketAddr,
    bytes: &[u8],
) -> Vec<telcp::Transmit> {
    let _ = f.handle_datagram(t0, from, sock(FA, 434), bytes);
    std::iter::from_fn(|| f.poll_transmit()).collect()
}

/// mip-3.7.2.3-fa-preserves-mn-data: the relayed request carries the mobile node's bytes
/// unchanged from the fixed part through the MN-HA extension, so the HA can verify them.
///
/// mip-3.7.2.3-fa-appends-fa-ha: the FA sharing an association with the HA appends a valid
/// FA-HA extension covering everything before it, and sends the request to the HA.
#[test]
fn mip_3_7_2_3_fa_appends_fa_ha() {
    // RFC 5944 3.7.2.3: the FA MUST NOT modify the request up through the MN-HA extension, and
    // MUST append the FA-HA extension when it shares a security association with the HA.
    let (mut f, t0) = fa(true);
    let mut m = rrq(0, 600, HOME, VIP, FA, ntp(WALL));
    push_auth(&mut m, 32, MN_SPI, MN_KEY);
    let out = relay(&mut f, t0, sock(COA, 434), &m);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].dst, ha_sock());
    let b = &out[0].payload;
    assert_eq!(&b[..m.len()], &m[..]);
    let fa_ha = &b[m.len()..];
    assert_eq!(fa_ha.len(), 22);
    assert_eq!(&fa_ha[..6], &[34, 20, 0, 0, 0x30, 0x09]);
    assert_eq!(hmac_md5(FA_KEY, &b[..m.len() + 6])[..], fa_ha[6..]);
}

/// mip-3.7.2.3-fa-relay-to-ha-field: the FA relays a request to the address its Home Agent
/// field names (UDP port 434); a request naming no home agent (0.0.0.0 or 255.255.255.255, RFC
/// 4433 dynamic assignment) goes to the home agent the FA is configured with.
#[test]
fn mip_3_7_2_3_fa_relay_to_ha_field() {
    // RFC 5944 3.7.2.3: the FA relays the request to the mobile node's home agent as named in
    // the Home Agent field; its IP destination is copied from that field, UDP port 434.
    let (mut f, t0) = fa(false);
    for (field, want) in [
        (HA_OWN, sock(HA_OWN, 434)),
        (VIP, ha_sock()),
        (Ipv4Addr::UNSPECIFIED, ha_sock()),
        (Ipv4Addr::BROADCAST, ha_sock()),
    ] {
        let mut m = rrq(
            0,
            600,
            HOME,
            field,
            FA,
            ntp(WALL) + u64::from(field.to_bits()),
        );
        push_auth(&mut m, 32, MN_SPI, MN_KEY);
        let out = relay(&mut f, t0, sock(COA, 434), &m);
        assert_eq!(out.len(), 1, "{field}");
        assert_eq!(out[0].dst, want, "Home Agent field {field}");
        assert_eq!(&out[0].payload[..], &m[..]);
    }
}

/// mip-3.7.2.3-fa-removes-after-mn-ha: extensions the mobile node placed after the MN-HA
/// extension (meant for the FA, such as MN-FA authentication) are processed and removed before
/// the request goes to the HA.
#[test]
fn mip_3_7_2_3_fa_removes_after_mn_ha() {
    // RFC 5944 3.7.2.3: the FA MUST process and remove any extensions following the MN-HA
    // extension (it may then append its own, and the FA-HA extension).
    let (mut f, t0) = fa(true);
    let (m, mn_ha_end) = mn_request_via_fa(ntp(WALL));
    let out = relay(&mut f, t0, sock(COA, 434), &m);
    assert_eq!(out.len(), 1);
    let b = &out[0].payload;
    assert_eq!(&b[..mn_ha_end], &m[..mn_ha_end]);
    assert_eq!(
        b.len(),
        mn_ha_end + 22,
        "only the FA-HA extension follows the MN-HA"
    );
    assert_eq!(b[mn_ha_end], 34);
    assert_eq!(
        hmac_md5(FA_KEY, &b[..mn_ha_end + 6])[..],
        b[mn_ha_end + 6..]
    );
}

/// HA's reply to the FA for request `id`, with MN-HA and (when `fa_key`) FA-HA.
fn ha_reply(id: u64, fa_key: Option<&[u8]>) -> (Vec<u8>, usize) {
    let mut p = rrp(0, 600, HOME, VIP, id);
    push_auth(&mut p, 32, MN_SPI, MN_KEY);
    let end = p.len();
    if let Some(k) = fa_key {
        push_auth(&mut p, 34, FA_SPI, k);
    }
    (p, end)
}

/// mip-3.7.3.1-fa-checks-fa-ha-reply: a reply without a valid FA-HA extension, from an HA the FA
/// shares an association with, is discarded, not relayed.
#[test]
fn mip_3_7_3_1_fa_checks_fa_ha_reply() {
    // RFC 5944 3.7.3.1: with an FA-HA association the FA MUST check the FA-HA extension of the
    // reply and silently discard it when absent or invalid.
    let (mut f, t0) = fa(true);
    let (m, _) = mn_request_via_fa(ntp(WALL));
    relay(&mut f, t0, sock(COA, 434), &m);
    assert!(relay(&mut f, t0, ha_sock(), &ha_reply(ntp(WALL), None).0).is_empty());
    assert!(
        relay(
            &mut f,
            t0,
            ha_sock(),
            &ha_reply(ntp(WALL), Some(b"forged")).0
        )
        .is_empty()
    );
    assert_eq!(
        relay(&mut f, t0, ha_sock(), &ha_reply(ntp(WALL), Some(FA_KEY)).0).len(),
        1
    );
}

/// mip-1.6-spi-reserved-fa: the foreign agent refuses an FA-HA security association whose SPI
/// is reserved (0-255), naming the field; 256, the first usable SPI, is taken.
#[test]
fn mip_1_6_spi_reserved_fa() {
    // RFC 5944 1.6 (Security Parameter Index): SPI values 0 through 255 are reserved, and no
    // mobility security association uses them.
    let cfg = |spi| ForeignAgentConfig {
        fa_ha: Some(SecurityAssociation::new(
            spi,
            AuthAlgorithm::HmacMd5,
            FA_KEY.to_vec(),
        )),
        ..ForeignAgentConfig::new(ha_sock())
    };
    for spi in [0, 1, 255] {
        assert_eq!(
            ForeignAgent::new(cfg(spi), Instant::now()).err(),
            Some(ConfigError::OutOfRange(ConfigField::Spi)),
            "FA-HA SPI {spi}"
        );
    }
    assert!(ForeignAgent::new(cfg(256), Instant::now()).is_ok());
}

/// mip-3.7.3.1-fa-reserved-spi-reply: a reply whose FA-HA extension names a reserved SPI matches
/// no security association of the foreign agent, even when its authenticator is computed with
/// the FA-HA key: it is discarded, not relayed, and the relayed request still waits for its
/// reply.
#[test]
fn mip_3_7_3_1_fa_reserved_spi_reply() {
    // RFC 5944 1.6: SPIs 0-255 are reserved, so no association has one; 3.7.3.1: with an FA-HA
    // association the FA MUST silently discard a reply whose FA-HA extension is invalid.
    let (mut f, t0) = fa(true);
    let (m, _) = mn_request_via_fa(ntp(WALL));
    relay(&mut f, t0, sock(COA, 434), &m);
    for spi in [0, 255] {
        let (mut p, _) = ha_reply(ntp(WALL), None);
        push_auth(&mut p, 34, spi, FA_KEY);
        assert_eq!(
            f.handle_datagram(t0, ha_sock(), sock(FA, 434), &p),
            Err(FaError::UnauthenticatedReply),
            "FA-HA SPI {spi}"
        );
        assert!(f.poll_transmit().is_none(), "nothing relayed");
    }
    assert_eq!(f.stats().relayed_replies, 0);
    assert_eq!(
        relay(&mut f, t0, ha_sock(), &ha_reply(ntp(WALL), Some(FA_KEY)).0).len(),
        1
    );
}

/// mip-3.7.3.1-fa-discards-unmatched: a reply that answers no request the FA relayed is
/// discarded.
#[test]
fn mip_3_7_3_1_fa_discards_unmatched() {
    // RFC 5944 3.7.3.1: the low-order 32 bits of the reply's Identification must match a pending
    // request in the FA's list, else the reply is silently discarded.
    let (mut f, t0) = fa(false);
    let (m, _) = mn_request_via_fa(ntp(WALL));
    relay(&mut f, t0, sock(COA, 434), &m);
    assert!(relay(&mut f, t0, ha_sock(), &ha_reply(ntp(WALL) ^ 0x10, None).0).is_empty());
}

/// mip-3.7.3.2-fa-relays-to-mn: a valid reply goes to the address and port the mobile node sent
/// its request from, with the fields up to the MN-HA extension unchanged.
///
/// mip-3.7.3.2-fa-removes-after-mn-ha: the FA removes the extensions after the MN-HA extension
/// (its FA-HA extension) from the reply it relays.
#[test]
fn mip_3_7_3_2_fa_relays_to_mn() {
    // RFC 5944 3.7.3.2: the FA MUST NOT modify the reply up through the MN-HA extension, MUST
    // process and remove the extensions following it, and relays the reply to the mobile node.
    let (mut f, t0) = fa(true);
    let from = sock(HOME, 5555);
    let (m, _) = mn_request_via_fa(ntp(WALL));
    relay(&mut f, t0, from, &m);
    let (p, end) = ha_reply(ntp(WALL), Some(FA_KEY));
    let out = relay(&mut f, t0, ha_sock(), &p);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].dst, from);
    assert_eq!(&out[0].payload[..], &p[..end]);
}

// ----- the codec of the extensions RFC 5944 refers to -----

fn round_trip(b: &[u8]) -> Message<'_> {
    let m = Message::parse(b).expect("parses");
    assert_eq!(m.to_vec(), b, "re-emitted byte for byte");
    m
}

/// mip-rfc2794.2-nai-extension-format: the Mobile Node NAI extension is type 131, a one-octet
/// length and the NAI, read and written byte for byte.
#[test]
fn mip_rfc2794_2_nai_extension_format() {
    // RFC 2794 section 2: type 131, length, the NAI (RFC 2486 form).
    let mut m = rrq(0, 600, Ipv4Addr::UNSPECIFIED, VIP, COA, 1);
    push_ext(&mut m, 131, NAI);
    let msg = round_trip(&m);
    assert_eq!(msg.nai(), Some(NAI));
}

/// mip-rfc3012.5-generalized-auth-format: the Generalized Mobile IP Authentication extension is
/// type 36, a subtype, a 16-bit length, the SPI and the authenticator, read and written byte for
/// byte; its authenticator covers the message up to and including the SPI.
#[test]
fn mip_rfc3012_5_generalized_auth_format() {
    // RFC 3012 section 5: type 36, subtype (1: MN-AAA), 2-octet length, SPI, authenticator.
    let mut m = rrq(0, 600, HOME, VIP, COA, 1);
    m.extend_from_slice(&[36, 1, 0, 20]);
    m.extend_from_slice(&0x0102_0304u32.to_be_bytes());
    m.extend_from_slice(&[7; 16]);
    let msg = round_trip(&m);
    let Some(Extension::GeneralizedAuth {
        subtype,
        spi,
        authenticator,
    }) = msg.extensions.first()
    else {
        panic!("a generalized authentication extension: {msg:?}");
    };
    assert_eq!(
        (*subtype, *spi, &authenticator[..]),
        (1, 0x0102_0304, &[7u8; 16][..])
    );
    assert_eq!(msg.authenticated_len(0), Some(24 + 8));
}

/// mip-rfc3543.3-revocation-support-format: the Revocation Support extension is type 137, length
/// 6, 16 bits of flags (I first) and a 32-bit timestamp, read and written byte for byte.
#[test]
fn mip_rfc3543_3_revocation_support_format() {
    // RFC 3543 section 3: type 137, length 6, flags (I bit), revocation timestamp.
    let mut m = rrq(0, 600, HOME, VIP, COA, 1);
    push_ext(&mut m, 137, &[0x80, 0x00, 0x00, 0x00, 0x01, 0x02]);
    let msg = round_trip(&m);
    assert_eq!(
        msg.extensions,
        vec![Extension::RevocationSupport {
            flags: 0x8000,
            timestamp: 0x0102
        }]
    );
}

/// mip-rfc3519.3.1-udp-tunnel-request-format: the UDP Tunnel Request extension is type 144,
/// length 6: subtype, reserved, flags (F, R), encapsulation and 16 reserved bits.
///
/// mip-rfc3519.3.2-udp-tunnel-reply-format: the UDP Tunnel Reply extension is type 44, length 6:
/// subtype, reply code, flags (F) and reserved bits, keepalive interval.
#[test]
fn mip_rfc3519_3_1_udp_tunnel_request_format() {
    // RFC 3519 3.1 and 3.2: the two extensions' layouts.
    let mut m = rrq(0, 600, HOME, VIP, COA, 1);
    push_ext(&mut m, 144, &[0, 0, 0x80, 4, 0, 0]);
    let msg = round_trip(&m);
    assert_eq!(
        msg.extensions,
        vec![Extension::UdpTunnelRequest {
            subtype: 0,
            reserved1: 0,
            flags: 0x80,
            encapsulation: 4,
            reserved2: 0
        }]
    );
    let mut p = rrp(0, 600, HOME, VIP, 1);
    push_ext(&mut p, 44, &[0, 0, 0x80, 0x00, 0, 110]);
    let msg = round_trip(&p);
    assert_eq!(
        msg.extensions,
        vec![Extension::UdpTunnelReply {
            subtype: 0,
            code: 0,
            flags: 0x8000,
            keepalive: 110
        }]
    );
}

/// mip-3.6.2.3-mn-136-retry-named-ha: an authenticated 136 (unknown home agent address) names
/// the home agent's unicast address in its Home Agent field; the mobile node sends its request
/// again there, with that address in the Home Agent field. An unauthenticated 136 changes
/// nothing (the mobile node discards it).
#[test]
fn mip_3_6_2_3_mn_136_retry_named_ha() {
    // RFC 5944 3.6.1.2 (dynamic home agent address resolution: a request to the home network's
    // subnet-directed broadcast address is refused 136 by each home agent, with its unicast
    // address in the reply, which the mobile node uses for its next attempt), 3.6.2.1 (a reply
    // that fails authentication is discarded).
    let bcast = Ipv4Addr::new(10, 0, 0, 255);
    let mut mn = Mn::new(ClientConfig {
        home_agent: SocketAddr::from((bcast, 434)),
        ..client_cfg(HOME, None, None)
    });
    let q = mn.register(secs(0));
    let (_, _, _, ha, _, id) = fixed(&q);
    assert_eq!(ha, bcast);
    // Unauthenticated (another key): discarded, nothing sent, no event.
    assert!(!mn.feed(secs(0), &reply(136, 0, HOME, id, b"not the key")));
    assert!(mn.sent().is_empty());
    assert!(mn.events().is_empty());
    assert_eq!(mn.mn.home_agent(), bcast);
    // Authenticated: the request goes again, to the named address (VIP), naming it.
    assert!(mn.feed(secs(0), &reply(136, 0, HOME, id, MN_KEY)));
    assert!(mn.events().is_empty(), "not denied");
    let out = mn.sent();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].dst, SocketAddr::from((VIP, 434)));
    let (_, _, _, ha, _, id) = fixed(&out[0].payload);
    assert_eq!(ha, VIP);
    assert_eq!(mn.mn.home_agent(), VIP);
    // The named home agent accepts: registered.
    assert!(mn.feed(secs(0), &reply(0, 600, HOME, id, MN_KEY)));
    assert!(matches!(
        mn.events()[..],
        [ClientEvent::Registered { lifetime: 600, .. }]
    ));
}

/// mip-rfc1122.3.2.1.3-unspecified-destination: 0.0.0.0 is never a destination (RFC 1122
/// section 3.2.1.3 (a): "MUST NOT be sent, except as a source address"), and port 0 is reserved
/// (RFC 6335 section 6): a foreign agent's home agent, and a mobile node's home agent (without a
/// foreign agent) or foreign agent (`via`), are where their datagrams go, so either is refused
/// at configuration, naming the field. A mobile node registering through a foreign agent may
/// still name 0.0.0.0 or 255.255.255.255 as its home agent (RFC 4433 section 3.1): that is a
/// field of the request, not a destination.
#[test]
fn mip_rfc1122_3_2_1_3_unspecified_destination() {
    use telcp::mip::{ConfigError, ConfigField};
    let t0 = Instant::now();
    for addr in [sock(Ipv4Addr::UNSPECIFIED, 434), sock(VIP, 0)] {
        let mut cfg = ForeignAgentConfig::new(addr);
        cfg.max_pending = 16;
        assert_eq!(
            ForeignAgent::new(cfg, t0).err(),
            Some(ConfigError::UnusableAddress {
                field: ConfigField::HomeAgent,
                addr
            })
        );
        let mut c = client_cfg(HOME, None, None);
        c.home_agent = addr;
        assert_eq!(
            MobileNodeClient::new(c, t0).err(),
            Some(ConfigError::UnusableAddress {
                field: ConfigField::HomeAgent,
                addr
            })
        );
        let c = client_cfg(HOME, None, Some(addr));
        assert_eq!(
            MobileNodeClient::new(c, t0).err(),
            Some(ConfigError::UnusableAddress {
                field: ConfigField::Via,
                addr
            })
        );
    }
    // Through a foreign agent, the Home Agent field may ask for one (RFC 4433).
    for ha in [Ipv4Addr::UNSPECIFIED, Ipv4Addr::BROADCAST] {
        let mut c = client_cfg(HOME, Some(NAI), Some(sock(FA, 434)));
        c.home_agent = sock(ha, 434);
        assert!(MobileNodeClient::new(c, t0).is_ok(), "{ha}");
    }
    assert!(ForeignAgent::new(ForeignAgentConfig::new(ha_sock()), t0).is_ok());
    assert!(MobileNodeClient::new(client_cfg(HOME, None, None), t0).is_ok());
}
