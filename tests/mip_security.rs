//! Mobile IPv4 security (issue 12): every field that decides a binding is covered by the
//! authenticator that admitted the message, every configured bound holds on every path, and the
//! answers to unauthenticated input are rate-limited.

mod common;

use common::hex;

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::{Duration, Instant};
use telcp::MacAddr;
use telcp::Transmit;
use telcp::health::NodeId;
use telcp::io::RateLimit;
use telcp::mip::binding::Binding;
use telcp::mip::wire::auth::{AuthAlgorithm, SecurityAssociation};
use telcp::mip::wire::{
    Builder, Extension, ExtensionType, GEN_AUTH_MN_AAA, Header, Message, Reply, ReplyCode, Request,
    append_auth,
};
use telcp::mip::{HomeAgent, HomeAgentConfig, InputError, Member, MnId, MobileNodeKey};

const VIP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const WALL: Duration = Duration::from_secs(1_700_000_000);
/// NTP seconds of `WALL` in the high 32 bits.
const NTP_WALL: u64 = (1_700_000_000 + 2_208_988_800) << 32;

fn sock(ip: Ipv4Addr) -> SocketAddr {
    SocketAddr::V4(SocketAddrV4::new(ip, 434))
}
fn vip() -> SocketAddr {
    sock(VIP)
}
fn fa() -> SocketAddr {
    sock(Ipv4Addr::new(198, 51, 100, 9))
}

/// MN 1 is known by its NAI only (the HA assigns its home address); MN 2 by home address
/// 10.0.5.2 (SPI 0x1003), MN 3 by home address 10.0.5.3.
fn sa(k: u32) -> SecurityAssociation {
    let spi = match k {
        1 => 0x1001,
        2 => 0x1003,
        _ => 0x1000 + k,
    };
    SecurityAssociation::new(
        spi,
        AuthAlgorithm::HmacMd5,
        format!("mn-ha key of mn {k}").into_bytes(),
    )
}
const MN1_NAI: &[u8] = b"mn1@home.example";
const MN4_NAI: &[u8] = b"mn4@home.example";
fn home(k: u32) -> Ipv4Addr {
    Ipv4Addr::new(10, 0, 5, k as u8)
}

/// The one place the configuration's seed is set.
fn cfg(seed: u64) -> HomeAgentConfig {
    let me = Member {
        node: NodeId(1),
        addr: sock(Ipv4Addr::new(192, 0, 2, 1)),
        mac: MacAddr::local(1),
        backups: vec![],
    };
    let mut c = HomeAgentConfig::new(
        NodeId(1),
        VIP,
        "10.0.0.0/16".parse().unwrap(),
        vec![me],
        b"test cluster key",
    );
    c.seed = telcp::io::seed(seed);
    c.wall_clock = WALL;
    c.pool = Some("10.0.1.0/24".parse().unwrap());
    c.max_simultaneous = 2;
    c.mobile_nodes.push(MobileNodeKey {
        id: MnId::Nai(MN1_NAI.into()),
        sa: sa(1),
    });
    for k in [2, 3] {
        c.mobile_nodes.push(MobileNodeKey {
            id: MnId::Home(home(k)),
            sa: sa(k),
        });
    }
    c.mobile_nodes.push(MobileNodeKey {
        id: MnId::Nai(MN4_NAI.into()),
        sa: sa(4),
    });
    c
}

fn drain(ha: &mut HomeAgent) -> Vec<Transmit> {
    let out: Vec<Transmit> = std::iter::from_fn(|| ha.poll_transmit()).collect();
    while ha.poll_event().is_some() {}
    out
}

fn reply(t: &Transmit) -> Reply {
    match Header::parse(&t.payload) {
        Ok((Header::Reply(p), _)) => p,
        other => panic!("not a reply: {other:?}"),
    }
}

/// Every binding, in a stable order.
fn table(ha: &HomeAgent) -> Vec<Binding> {
    let mut v: Vec<Binding> = ha.bindings().iter().map(|(_, b)| b.clone()).collect();
    v.sort_by(|a, b| (a.home_address, a.nai()).cmp(&(b.home_address, b.nai())));
    v
}

/// `q` (from the FA to the virtual address) is refused with 131, "mobile node failed
/// authentication" (RFC 5944 section 3.4), answered so, and leaves the bindings as `before`.
fn assert_refused_131(ha: &mut HomeAgent, t0: Instant, q: &[u8], before: &[Binding]) {
    assert_eq!(
        ha.handle_datagram(t0, fa(), vip(), q),
        Err(InputError::Refused(ReplyCode::MN_AUTH_FAILED))
    );
    assert_eq!(reply(&drain(ha)[0]).code, ReplyCode::MN_AUTH_FAILED);
    assert_eq!(before, &table(ha)[..]);
}

fn fixed(home_address: Ipv4Addr, fraction: u64) -> Request {
    Request {
        lifetime: 600,
        home_address,
        home_agent: VIP,
        care_of: Ipv4Addr::new(203, 0, 113, 66),
        identification: NTP_WALL | fraction,
        ..Request::default()
    }
}

/// MN 1 registers by NAI and is assigned 10.0.1.1.
fn mn1_registered(t0: Instant) -> HomeAgent {
    let mut ha = HomeAgent::new(cfg(1), t0).unwrap();
    drain(&mut ha);
    let s1 = sa(1);
    let q = Builder::request(fixed(Ipv4Addr::UNSPECIFIED, 0x10))
        .nai(MN1_NAI)
        .mn_ha_auth(&s1)
        .to_vec();
    ha.handle_datagram(t0, fa(), vip(), &q).unwrap();
    let out = drain(&mut ha);
    assert_eq!(reply(&out[0]).code, ReplyCode::ACCEPTED);
    assert_eq!(reply(&out[0]).home_address, Ipv4Addr::new(10, 0, 1, 1));
    ha
}

/// The request of issue 12 fault 9: MN 2 (10.0.5.2, SPI 0x1003), correctly authenticated, with
/// an NAI extension naming MN 1 appended after its MN-HA authenticator.
fn fault_09_bytes() -> Vec<u8> {
    let mut q = hex("010002580a0005020a000001cb007142e8fe6f8000000060");
    let s2 = sa(2);
    append_auth(
        &mut q,
        ExtensionType::MN_HA_AUTH,
        s2.spi,
        s2.algorithm,
        &s2.key,
    );
    q.extend_from_slice(&hex("83106d6e3140686f6d652e6578616d706c65"));
    q
}

/// Issue 12 fault 9. RFC 5944 section 3.6.1.3: the mobile node places every extension the home
/// agent uses before the authorization-enabling extension, and section 3.5.1: the authenticator
/// protects only what precedes it; RFC 2794 section 2: the MN-NAI extension appears before the
/// Mobile-Home Authentication extension. An NAI after the MN-HA authenticator is unauthenticated:
/// the home agent ignores it, so it can neither name nor replace MN 1's binding.
#[test]
fn fault_09_an_nai_after_the_mn_ha_authenticator_does_not_hijack_another_binding() {
    let t0 = Instant::now();
    let mut ha = mn1_registered(t0);
    let before = table(&ha);
    let q = fault_09_bytes();
    // The bytes of the issue: the fixed part is MN 2's, the NAI is MN 1's.
    let m = Message::parse(&q).unwrap();
    assert_eq!(m.nai(), Some(MN1_NAI));
    let _ = ha.handle_datagram(t0, fa(), vip(), &q);
    let out = drain(&mut ha);
    // MN 2's own registration is served (the trailing NAI is ignored), without any NAI.
    let p = reply(&out[0]);
    assert_eq!(p.code, ReplyCode::ACCEPTED);
    assert_eq!(p.home_address, home(2));
    assert_eq!(Message::parse(&out[0].payload).unwrap().nai(), None);
    // MN 1's binding is untouched.
    let b1 = ha.binding(Ipv4Addr::UNSPECIFIED, Some(MN1_NAI)).unwrap();
    assert_eq!(b1.home_address, Ipv4Addr::new(10, 0, 1, 1));
    assert_eq!(&before[..], &table(&ha)[..1]);
    let b2 = ha.binding(home(2), None).unwrap();
    assert_eq!(b2.nai(), None);
    // MN 1's next registration is granted its own address, not 10.0.5.2.
    let s1 = sa(1);
    let q = Builder::request(fixed(Ipv4Addr::UNSPECIFIED, 0x70))
        .nai(MN1_NAI)
        .mn_ha_auth(&s1)
        .to_vec();
    ha.handle_datagram(t0, fa(), vip(), &q).unwrap();
    let out = drain(&mut ha);
    assert_eq!(reply(&out[0]).home_address, Ipv4Addr::new(10, 0, 1, 1));
}

/// Issue 12 fault 9, the same kind with an authenticated NAI: MN 2 puts MN 1's NAI *before* its
/// own MN-HA authenticator. The NAI is covered, but by MN 2's key, not MN 1's: RFC 5944 section
/// 3.8.2.1 has the home agent authenticate the mobile node the request is for, and RFC 2794
/// section 2 identifies that node by its NAI. A request naming a mobile node whose key did not
/// authenticate it is refused 131 and changes nothing.
#[test]
fn fault_09_an_nai_authenticated_by_another_mobile_nodes_key_is_refused_131() {
    let t0 = Instant::now();
    let mut ha = mn1_registered(t0);
    let before = table(&ha);
    let s2 = sa(2);
    let q = Builder::request(fixed(home(2), 0x60))
        .nai(MN1_NAI)
        .mn_ha_auth(&s2)
        .to_vec();
    assert_refused_131(&mut ha, t0, &q, &before);
}

/// Issue 12 fault 9, the same kind by home address: MN 4 (known by NAI, its own key) names the
/// home address the HA assigned to MN 1. RFC 5944 section 3.8.2.1: a binding changes only for the
/// mobile node that authenticated; MN 1's binding is not MN 4's to take (131).
#[test]
fn fault_09_a_home_address_bound_to_another_mobile_node_is_refused_131() {
    let t0 = Instant::now();
    let mut ha = mn1_registered(t0);
    let before = table(&ha);
    let s4 = sa(4);
    let q = Builder::request(fixed(Ipv4Addr::new(10, 0, 1, 1), 0x60))
        .nai(MN4_NAI)
        .mn_ha_auth(&s4)
        .to_vec();
    assert_refused_131(&mut ha, t0, &q, &before);
}

/// Issue 12 fault 10. RFC 5944 section 3.8.2.1: exactly one authorization-enabling extension
/// must be present; with more than one the home agent rejects the registration and sends 131
/// ("mobile node failed authentication"). A second MN-HA extension (SPI 0x1001, all-zero
/// authenticator) after a valid one is refused 131 and creates no binding.
#[test]
fn fault_10_two_mn_ha_extensions_are_refused_131() {
    let t0 = Instant::now();
    let mut ha = mn1_registered(t0);
    let before = table(&ha);
    let s2 = sa(2);
    let q = Builder::request(fixed(home(2), 0x60))
        .mn_ha_auth(&s2)
        .extension(Extension::Auth {
            ext_type: ExtensionType::MN_HA_AUTH,
            spi: 0x1001,
            authenticator: vec![0u8; 16].into(),
        })
        .to_vec();
    assert_refused_131(&mut ha, t0, &q, &before);
}

/// Issue 12 fault 10, the kind: an MN-AAA generalized authentication extension (RFC 3012
/// section 3, an authorization-enabling extension) beside the MN-HA one is a second
/// authorization-enabling extension: 131, before or after the MN-HA.
#[test]
fn fault_10_mn_ha_with_an_mn_aaa_extension_is_refused_131() {
    let t0 = Instant::now();
    let s2 = sa(2);
    let aaa = Extension::GeneralizedAuth {
        subtype: GEN_AUTH_MN_AAA,
        spi: 0x1003,
        authenticator: vec![0u8; 16].into(),
    };
    let after = Builder::request(fixed(home(2), 0x60))
        .mn_ha_auth(&s2)
        .extension(aaa.clone())
        .to_vec();
    let before = Builder::request(fixed(home(2), 0x61))
        .extension(aaa)
        .mn_ha_auth(&s2)
        .to_vec();
    for q in [after, before] {
        let mut ha = mn1_registered(t0);
        let t = table(&ha);
        assert_eq!(
            ha.handle_datagram(t0, fa(), vip(), &q),
            Err(InputError::Refused(ReplyCode::MN_AUTH_FAILED))
        );
        assert_eq!(t, table(&ha));
    }
}

/// What a home agent did with one request: the replies it sent and its table after.
fn outcome(t0: Instant, q: &[u8]) -> (Vec<Vec<u8>>, Vec<Binding>, Vec<Binding>) {
    let mut ha = mn1_registered(t0);
    let before = table(&ha);
    let _ = ha.handle_datagram(t0, fa(), vip(), q);
    let out = drain(&mut ha)
        .into_iter()
        .map(|t| t.payload.to_vec())
        .collect();
    (out, before, table(&ha))
}

/// Issue 12, faults 9 and 10 as a kind (RFC 5944 section 3.5.1: the authenticator protects the
/// fixed part and the extensions before it; section 3.8.2.1: the home agent acts on an
/// authenticated request only). For valid requests of MN 2 (by home address) and MN 1 (by NAI),
/// every change to a byte the MN-HA authenticator does not cover (flipping any bit of the
/// authenticator, appending any of a set of extensions after it, or arbitrary bytes) yields
/// either the very same replies and binding table as the unchanged request, or a refusal
/// (code 128 and up) that leaves the table as it was.
#[test]
fn fault_09_10_bytes_outside_the_authenticated_range_never_change_a_binding_or_reply() {
    let s1 = sa(1);
    let s2 = sa(2);
    let s3 = sa(3);
    let valid = [
        Builder::request(fixed(home(2), 0x60))
            .mn_ha_auth(&s2)
            .to_vec(),
        Builder::request(Request {
            flags: telcp::mip::wire::RequestFlags(telcp::mip::wire::RequestFlags::S),
            ..fixed(Ipv4Addr::UNSPECIFIED, 0x61)
        })
        .nai(MN1_NAI)
        .mn_ha_auth(&s1)
        .to_vec(),
    ];
    let appended: Vec<Vec<u8>> = {
        let exts = [
            Extension::Nai(MN1_NAI.into()),
            Extension::Nai(MN4_NAI.into()),
            Extension::Nai(b"".as_slice().into()),
            Extension::Auth {
                ext_type: ExtensionType::MN_HA_AUTH,
                spi: 0x1001,
                authenticator: vec![0u8; 16].into(),
            },
            Extension::Auth {
                ext_type: ExtensionType::FA_HA_AUTH,
                spi: 0x2000,
                authenticator: vec![1u8; 16].into(),
            },
            Extension::Auth {
                ext_type: ExtensionType::MN_FA_AUTH,
                spi: 0x2000,
                authenticator: vec![1u8; 16].into(),
            },
            Extension::GeneralizedAuth {
                subtype: GEN_AUTH_MN_AAA,
                spi: 0x1001,
                authenticator: vec![0u8; 16].into(),
            },
            Extension::DynamicHa {
                subtype: telcp::mip::wire::DYNAMIC_HA_REQUESTED,
                home_agent: Ipv4Addr::new(192, 0, 2, 9),
            },
            Extension::RevocationSupport {
                flags: telcp::mip::wire::REVOCATION_I_BIT,
                timestamp: 7,
            },
            Extension::Other {
                ext_type: ExtensionType(200),
                data: vec![1, 2, 3].into(),
            },
            Extension::Other {
                ext_type: ExtensionType(99),
                data: vec![1, 2, 3].into(),
            },
        ];
        let mut v: Vec<Vec<u8>> = exts
            .iter()
            .map(|e| {
                let mut b = Vec::new();
                e.emit(&mut b);
                b
            })
            .collect();
        // A signed copy of MN 3's key over a different message cannot help either.
        let mut other = Builder::request(fixed(home(3), 0x60)).to_vec();
        append_auth(
            &mut other,
            ExtensionType::MN_HA_AUTH,
            s3.spi,
            s3.algorithm,
            &s3.key,
        );
        v.push(other[24..].to_vec());
        // Arbitrary tails: truncated extensions, junk.
        v.extend([
            vec![0x83],
            vec![0x83, 0x20],
            vec![0xff; 7],
            vec![0x20, 0x02, 0, 0],
        ]);
        v
    };
    let mut cases = 0;
    let t0 = Instant::now();
    for q in &valid {
        let (base_out, base_before, base_after) = outcome(t0, q);
        assert_eq!(reply_code(&base_out[0]), ReplyCode::ACCEPTED);
        assert_ne!(
            base_before, base_after,
            "the valid request changes the table"
        );
        let covered = Message::parse(q)
            .ok()
            .and_then(|m| {
                m.position(ExtensionType::MN_HA_AUTH)
                    .and_then(|i| m.authenticated_len(i))
            })
            .unwrap();
        let mut variants: Vec<Vec<u8>> = Vec::new();
        for at in covered..q.len() {
            for bit in 0..8 {
                let mut v = q.clone();
                v[at] ^= 1 << bit;
                variants.push(v);
            }
        }
        for tail in &appended {
            let mut v = q.clone();
            v.extend_from_slice(tail);
            variants.push(v);
            // Two at once.
            for tail2 in &appended {
                let mut v = q.clone();
                v.extend_from_slice(tail);
                v.extend_from_slice(tail2);
                variants.push(v);
            }
        }
        for v in &variants {
            cases += 1;
            let (out, before, after) = outcome(t0, v);
            if out == base_out && after == base_after {
                continue;
            }
            assert_eq!(out.len(), 1, "one answer to {v:02x?}");
            assert!(
                reply_code(&out[0]).0 >= 128,
                "not a refusal: {:?} for {v:02x?}",
                reply_code(&out[0])
            );
            assert_eq!(
                before, after,
                "a refused request changed the table: {v:02x?}"
            );
        }
    }
    assert!(cases >= 800, "{cases} cases");
}

fn reply_code(b: &[u8]) -> ReplyCode {
    match Header::parse(b) {
        Ok((Header::Reply(p), _)) => p.code,
        other => panic!("not a reply: {other:?}"),
    }
}

/// Issue 12 fault 16: one authenticated cluster message whose body the fuzzer wrote (harness op
/// 4) left a binding with more care-of addresses than `max_simultaneous` (2 in the harness): a
/// replicated record was not held to the local bound. RFC 5944 section 3.6.1.2 / 3.8.3: the home
/// agent keeps at most as many simultaneous bindings as it supports (135 beyond); that bound holds
/// whichever path inserts the binding. The crash input of `fuzz/seeds/mip_home_agent/`.
#[test]
fn fault_16_a_replicated_record_is_held_to_max_simultaneous() {
    let input = base64(
        "QAqjo3UEBAQEBAQBAQEBAQEBAQEBAQEBAQEBAQEBdAFbJ6kAAAYBAQEEBBsBAAYgAP////////////////////8AAAAAAAAAAEQE",
    );
    telcp::harness::mip::home_agent(Instant::now(), &input);
}

fn base64(s: &str) -> Vec<u8> {
    let val = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        _ => 63,
    };
    let digits: Vec<u8> = s.bytes().filter(|c| *c != b'=').map(val).collect();
    let mut out = Vec::new();
    for chunk in digits.chunks(4) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, d)| acc | (u32::from(*d) << (18 - 6 * i)));
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    out
}

/// A two-member cluster: this HA (1) and HA 2, each the other's backup.
fn cfg_pair(seed: u64) -> HomeAgentConfig {
    let mut c = cfg(seed);
    c.members[0].backups = vec![NodeId(2)];
    c.members.push(Member {
        node: NodeId(2),
        addr: sock(Ipv4Addr::new(192, 0, 2, 2)),
        mac: MacAddr::local(2),
        backups: vec![NodeId(1)],
    });
    c
}

/// Issue 12 fault 16, the kind: every bound of `HomeAgentConfig` holds for state a peer
/// replicates, as for a local registration (RFC 5944 section 3.8.3: the home agent grants no
/// more simultaneous bindings than it supports and no lifetime beyond its own maximum). A record
/// with four care-of addresses (one repeated) and infinite lifetimes keeps the first
/// `max_simultaneous` (2) distinct addresses, each for at most `max_lifetime`; a temporary
/// record waiting `u32::MAX` ms waits at most `pending_timeout`.
#[test]
fn fault_16_replicated_records_are_held_to_every_local_bound() {
    use telcp::mip::cluster::{Body, ClusterMessage, Item, Record, RecordState};
    let t0 = Instant::now();
    let c = cfg_pair(16);
    let (max_lifetime, pending_timeout) = (c.max_lifetime, c.pending_timeout);
    let mut ha = HomeAgent::new(c, t0).unwrap();
    let coa = |i: u8| Ipv4Addr::new(203, 0, 113, i);
    let permanent = Record {
        home_address: home(2),
        nai: None,
        first_ha: NodeId(2),
        second_ha: NodeId(2),
        fa: fa(),
        identification: NTP_WALL,
        state: RecordState::Permanent {
            care_of: vec![
                (coa(1), None),
                (coa(1), None),
                (coa(2), Some(Duration::from_secs(u64::from(u32::MAX - 1)))),
                (coa(3), Some(Duration::from_secs(5))),
                (coa(4), Some(Duration::from_secs(5))),
            ],
        },
        tunnel: None,
        key: None,
        revocation: None,
    };
    let temporary = Record {
        home_address: home(3),
        state: RecordState::Temporary {
            care_of: coa(5),
            pending_left: Duration::from_millis(u64::from(u32::MAX)),
        },
        ..permanent.clone()
    };
    let m = ClusterMessage {
        sender: NodeId(2),
        incarnation: 1,
        pn: 1,
        body: Body::Replicate {
            seq: 1,
            items: vec![
                Item::Upsert(permanent).into(),
                Item::Upsert(temporary).into(),
            ],
        },
    }
    .to_vec(b"test cluster key");
    ha.handle_datagram(
        t0,
        sock(Ipv4Addr::new(192, 0, 2, 2)),
        sock(Ipv4Addr::new(192, 0, 2, 1)),
        &m,
    )
    .unwrap();
    let b = ha.binding(home(2), None).unwrap();
    let got: Vec<Ipv4Addr> = b.care_of.iter().map(|c| c.address).collect();
    assert_eq!(got, vec![coa(1), coa(2)]);
    let limit = t0 + Duration::from_secs(u64::from(max_lifetime));
    assert!(
        b.care_of
            .iter()
            .all(|c| c.expires().is_some_and(|e| e <= limit))
    );
    let p = ha
        .binding(home(3), None)
        .unwrap()
        .pending()
        .cloned()
        .unwrap();
    assert!(p.deadline <= t0 + pending_timeout);
}

/// Issue 12 fault 17. RFC 5944 section 3.8.2.1: the home agent SHOULD answer a request that
/// fails authentication (131) or is poorly formed (134); section 5 (security considerations) on
/// denial of service: those answers go to an address nobody proved. 10,000 forged requests from
/// spoofed addresses over one second get at most the configured bucket's worth of answers
/// (burst + rate x 1 s), the rest suppressed and counted; the authenticated requests that follow
/// are answered at once (they are never limited), and no state was created.
#[test]
fn fault_17_refusals_to_a_flood_of_forged_requests_are_rate_limited() {
    let t0 = Instant::now();
    let mut c = cfg(17);
    c.refusals = RateLimit::new(100, 20);
    let mut ha = HomeAgent::new(c, t0).unwrap();
    drain(&mut ha);
    let mut rng = telcp::Rng::seed_from_u64(17);
    let n = 10_000u32;
    let mut answers = 0u64;
    for i in 0..n {
        let now = t0 + Duration::from_micros(u64::from(i) * 100);
        let from = sock(Ipv4Addr::from(rng.next_u64() as u32));
        let mut q = Builder::request(Request {
            home_agent: if i % 5 == 1 {
                Ipv4Addr::new(192, 0, 2, 77)
            } else {
                VIP
            },
            ..fixed(home(2 + i % 3), u64::from(i))
        })
        .to_vec();
        match i % 5 {
            // A forged MN-HA authenticator (known and unknown mobile nodes): 131.
            0 | 1 => {
                q.extend_from_slice(&[0x20, 20, 0, 0, 0x10, 0x03]);
                q.extend((0..16).map(|_| rng.next_u64() as u8));
            }
            // No authenticator: 131.
            2 => {}
            // An unknown non-skippable extension: 134.
            3 => q.extend_from_slice(&[99, 2, 0, 0]),
            // A truncated extension: 134.
            _ => q.extend_from_slice(&[0x20, 20, 0]),
        }
        assert!(matches!(
            ha.handle_datagram(now, from, vip(), &q),
            Err(InputError::Refused(code)) if code.0 >= 128
        ));
        for t in drain(&mut ha) {
            assert!(reply(&t).code.0 >= 128);
            assert_eq!(t.dst, from, "a refusal goes to the request's source");
            answers += 1;
        }
    }
    let end = t0 + Duration::from_micros(u64::from(n) * 100);
    let st = ha.stats();
    eprintln!(
        "flood: {answers} answers, {} suppressed",
        st.refusals_suppressed
    );
    // 20 at once, then 100 per second over the one second of the flood.
    assert!(answers <= 20 + 100, "{answers} answers");
    assert!(answers >= 100, "{answers} answers: the bucket refills");
    assert_eq!(st.refusals, answers);
    assert_eq!(st.refusals_suppressed, u64::from(n) - answers);
    assert!(ha.bindings().is_empty(), "no state from forged requests");
    // The bucket is empty now; an authenticated request is answered anyway, several times.
    let s2 = sa(2);
    for k in 0..3u64 {
        let q = Builder::request(Request {
            identification: NTP_WALL + (1u64 << 32) + k,
            ..fixed(home(2), 0)
        })
        .mn_ha_auth(&s2)
        .to_vec();
        ha.handle_datagram(end, fa(), vip(), &q).unwrap();
        assert_eq!(reply(&drain(&mut ha)[0]).code, ReplyCode::ACCEPTED);
    }
    // An authenticated request refused 133 (a replayed identification) is answered too.
    let q = Builder::request(fixed(home(2), 1)).mn_ha_auth(&s2).to_vec();
    assert_eq!(
        ha.handle_datagram(end, fa(), vip(), &q),
        Err(InputError::Refused(ReplyCode::IDENTIFICATION_MISMATCH))
    );
    assert_eq!(
        reply(&drain(&mut ha)[0]).code,
        ReplyCode::IDENTIFICATION_MISMATCH
    );
    assert_eq!(ha.stats().refusals_suppressed, u64::from(n) - answers);
}
