//! RFC 5944 conformance of the Home Agent (sections 1.6, 1.9, 3.2-3.5, 3.8, 5.1 and 5.7, with
//! RFC 2794 NAI rules): a hand-written peer builds each Registration Request byte by byte,
//! authenticates it with HMAC-MD5 computed here, feeds it to a Home Agent configured alone, and
//! checks the reply the RFC demands. Each test's doc comment names the statement ids of
//! `conformance/rfc5944.toml` it checks.

mod common;

use common::mip::*;

use std::time::Duration;

use telcp::mip::binding::{BroadcastDelivery, Encapsulation, Tunnel};
use telcp::mip::wire::auth::{AuthAlgorithm, SecurityAssociation};
use telcp::mip::{
    AaaConfig, ConfigError, ConfigField, Event, HomeAgent, HomeAgentConfig, MnId, MobileNodeKey,
};

/// The one place this file sets a seed.
fn cfg(seed: u64) -> HomeAgentConfig {
    let mut c = base_config();
    c.seed = telcp::io::seed(seed);
    c
}

fn ha() -> Ha {
    Ha::new(cfg(1))
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// A request with home address 0.0.0.0 (RFC 2794 section 2: the NAI, added by the caller,
/// identifies the mobile node), D bit, lifetime 600, to the virtual address, care-of `coa`, with
/// the identification of `at`; unauthenticated.
fn zero_home_rrq(h: &Ha, coa: std::net::Ipv4Addr, at: Duration) -> Vec<u8> {
    rrq(
        D,
        600,
        std::net::Ipv4Addr::UNSPECIFIED,
        VIP,
        coa,
        h.id_at(at),
    )
}

fn events(h: &mut Ha) -> Vec<Event> {
    std::iter::from_fn(|| h.ha.poll_event()).collect()
}

/// Registers the home-address mobile node at `coa` (flags as given) at `at`; asserts acceptance.
fn register(h: &mut Ha, at: Duration, flags: u8, coa: std::net::Ipv4Addr) -> Rrp {
    let id = h.id_at(at);
    let (_, r) = h.ask(at, mn_sock(), &mn_request(flags, 600, coa, id));
    assert!(r.code <= 1, "accepted, got {}", r.code);
    r
}

fn care_ofs(h: &Ha) -> Vec<std::net::Ipv4Addr> {
    h.ha.binding(HOME, None)
        .map(|b| b.care_of.iter().map(|c| c.address).collect())
        .unwrap_or_default()
}

/// mip-3.2-mn-ha-required: a request with no authentication extension at all is refused.
#[test]
fn mip_3_2_mn_ha_required() {
    // RFC 5944 3.2 / 3.5.2: every Registration Request carries a Mobile-Home Authentication
    // Extension; 3.8.2.1 (a): without one the HA rejects with 131.
    let mut h = ha();
    let id = h.id_at(secs(0));
    let m = rrq(D, 600, HOME, VIP, COA, id);
    let (_, r) = h.ask(secs(0), mn_sock(), &m);
    assert_eq!(r.code, 131);
    assert!(
        h.ha.binding(HOME, None).is_none(),
        "no binding from an unauthenticated request"
    );
}

/// mip-3.8.2.1-mn-ha-auth-131: a wrong authenticator, or a field changed after it was computed,
/// gets 131 and creates no binding.
#[test]
fn mip_3_8_2_1_mn_ha_auth_131() {
    // RFC 5944 3.8.2.1 (a): the HA checks the authenticator; if it cannot determine that the
    // request is valid it rejects with code 131.
    let mut h = ha();
    let id = h.id_at(secs(0));
    let mut m = rrq(D, 600, HOME, VIP, COA, id);
    push_auth(&mut m, 32, MN_SPI, b"not the mobile node's key");
    let (_, r) = h.ask(secs(0), mn_sock(), &m);
    assert_eq!(r.code, 131);
    // The right key, but the care-of address altered after the authenticator was computed.
    let mut m = mn_request(0, 600, COA, id);
    m[12..16].copy_from_slice(&COA2.octets());
    let (_, r) = h.ask(secs(0), mn_sock(), &m);
    assert_eq!(r.code, 131);
    assert!(h.ha.binding(HOME, None).is_none());
}

/// mip-3.8.2.1-unknown-mn-131: a mobile node the HA has no security association with gets 131.
#[test]
fn mip_3_8_2_1_unknown_mn_131() {
    // RFC 5944 3.8.2.1 (a): the authenticator is checked with the mobility security association
    // the SPI names; a request the HA cannot authenticate is rejected with 131.
    let mut h = ha();
    let stranger = std::net::Ipv4Addr::new(10, 0, 5, 99);
    let mut m = rrq(D, 600, stranger, VIP, COA, h.id_at(secs(0)));
    push_auth(&mut m, 32, MN_SPI, MN_KEY);
    let (_, r) = h.ask(secs(0), mn_sock(), &m);
    assert_eq!(r.code, 131);
    assert!(h.ha.binding(stranger, None).is_none());
}

/// mip-3.8.2.1-auth-before-identification: authentication is checked before the identification,
/// so a forged request with a stale identification gets 131, never 133 (which would carry the
/// HA's clock to an unauthenticated sender).
#[test]
fn mip_3_8_2_1_auth_before_identification() {
    // RFC 5944 3.8.2.1: (a) authentication first, then (b) the Identification "using the context
    // selected by the SPI".
    let mut h = ha();
    let stale = h.id_at(secs(0)) - (600u64 << 32);
    let mut m = rrq(D, 600, HOME, VIP, COA, stale);
    push_auth(&mut m, 32, MN_SPI, b"forged");
    let (_, r) = h.ask(secs(0), mn_sock(), &m);
    assert_eq!(r.code, 131);
}

/// mip-3.8.2.1-unverifiable-auth-131: a request whose only authenticator is one the HA cannot
/// check (an RFC 3012 MN-AAA authenticator, with no AAA server) is rejected with 131.
#[test]
fn mip_3_8_2_1_unverifiable_auth_131() {
    // RFC 5944 3.8.2.1 (a): the HA MUST either check the authenticator or know that another agent
    // it trusts checked it; otherwise 131.
    let mut h = ha();
    let mut m = rrq(D, 600, HOME, VIP, COA, h.id_at(secs(0)));
    // Generalized authentication (36), subtype 1 (MN-AAA), 16-bit length 20, SPI, 16 bytes.
    m.extend_from_slice(&[36, 1, 0, 20]);
    m.extend_from_slice(&MN_SPI.to_be_bytes());
    m.extend_from_slice(&[0x5a; 16]);
    let (_, r) = h.ask(secs(0), mn_sock(), &m);
    assert_eq!(r.code, 131);
    assert!(h.ha.binding(HOME, None).is_none());
}

/// mip-3.8.2.1-identification-133: an authenticated request whose timestamp is far from the HA's
/// clock is rejected with 133 and binds nothing.
#[test]
fn mip_3_8_2_1_identification_133() {
    // RFC 5944 3.8.2.1 (b): an incorrect Identification is rejected with 133, the reply's
    // Identification computed as section 5.7 says.
    let mut h = ha();
    let id = h.id_at(secs(0)) - (60u64 << 32);
    let (_, r) = h.ask(secs(0), mn_sock(), &mn_request(0, 600, COA, id));
    assert_eq!(r.code, 133);
    assert!(h.ha.binding(HOME, None).is_none());
}

fn via_fa(m: &mut Vec<u8>, fa_ha: Option<&[u8]>) {
    if let Some(key) = fa_ha {
        push_auth(m, 34, FA_SPI, key);
    }
}

/// mip-3.8.2.1-fa-ha-132: a request relayed by a foreign agent the HA shares a security
/// association with must carry a valid Foreign-Home Authentication Extension; missing or invalid,
/// it gets 132 and binds nothing.
#[test]
fn mip_3_8_2_1_fa_ha_132() {
    // RFC 5944 3.8.2.1 (c): with an FA-HA association, no FA-HA extension or an invalid
    // authenticator: reject, and SHOULD reply with code 132.
    let mut h = ha();
    let fa = sock(FA, 434);
    let mut m = rrq(0, 600, HOME, VIP, FA, h.id_at(secs(0)));
    push_auth(&mut m, 32, MN_SPI, MN_KEY);
    let (_, r) = h.ask(secs(0), fa, &m);
    assert_eq!(r.code, 132, "no FA-HA extension");
    let mut bad = m.clone();
    via_fa(&mut bad, Some(b"not the FA's key"));
    let (_, r) = h.ask(secs(0), fa, &bad);
    assert_eq!(r.code, 132, "a wrong FA-HA authenticator");
    assert!(h.ha.binding(HOME, None).is_none());
    let mut good = rrq(0, 600, HOME, VIP, FA, h.id_at(secs(1)));
    push_auth(&mut good, 32, MN_SPI, MN_KEY);
    via_fa(&mut good, Some(FA_KEY));
    let (_, r) = h.ask(secs(1), fa, &good);
    assert_eq!(r.code, 0, "a valid FA-HA authenticator");
}

/// mip-3.8.2.1-fa-ha-exactly-one: a request carrying two Foreign-Home Authentication Extensions
/// is rejected with 132.
#[test]
fn mip_3_8_2_1_fa_ha_exactly_one() {
    // RFC 5944 3.8.2.1 (c): exactly one FA-HA extension; if more than one is found the HA
    // rejects and SHOULD reply 132.
    let mut h = ha();
    let mut m = rrq(0, 600, HOME, VIP, FA, h.id_at(secs(0)));
    push_auth(&mut m, 32, MN_SPI, MN_KEY);
    via_fa(&mut m, Some(FA_KEY));
    via_fa(&mut m, Some(FA_KEY));
    let (_, r) = h.ask(secs(0), sock(FA, 434), &m);
    assert_eq!(r.code, 132);
    assert!(h.ha.binding(HOME, None).is_none());
}

/// mip-3.8.2.1-unknown-ha-136: a request naming a home agent address that is not this HA's is
/// rejected with 136, and the reply's Home Agent field carries the HA's own unicast address so
/// the mobile node can ask again.
#[test]
fn mip_3_8_2_1_unknown_ha_136() {
    // RFC 5944 3.8.2.1: such a request is denied with 136; "the Registration Reply will contain
    // the home agent's unicast address" for the mobile node to re-issue its request.
    let mut h = ha();
    let other = std::net::Ipv4Addr::new(10, 0, 255, 255);
    let mut m = rrq(D, 600, HOME, other, COA, h.id_at(secs(0)));
    push_auth(&mut m, 32, MN_SPI, MN_KEY);
    let (_, out) = h.feed(secs(0), mn_sock(), sock(other, 434), &m);
    assert_eq!(out.len(), 1);
    let r = Rrp::read(&out[0].payload);
    assert_eq!(r.code, 136);
    assert!(
        r.ha == VIP || r.ha == HA_OWN,
        "the Home Agent field names this HA's unicast address, got {}",
        r.ha
    );
    assert!(h.ha.binding(HOME, None).is_none());
}

/// mip-3.8.2.1-poorly-formed-134: a request whose extensions do not parse (a length running past
/// the end) is rejected with 134.
#[test]
fn mip_3_8_2_1_poorly_formed_134() {
    // RFC 5944 3.4 code 134 "poorly formed Request"; 3.8.2.3: a request failing the checks is
    // denied with the code that says why.
    let mut h = ha();
    let mut m = mn_request(0, 600, COA, h.id_at(secs(0)));
    m.extend_from_slice(&[200, 40, 1, 2]);
    let (_, r) = h.ask(secs(0), mn_sock(), &m);
    assert_eq!(r.code, 134);
    assert!(h.ha.binding(HOME, None).is_none());
}

/// mip-1.9-unknown-extension-134: an unrecognized extension of type 0-127 makes the request
/// poorly formed (134), with no binding.
#[test]
fn mip_1_9_unknown_extension_134() {
    // RFC 5944 1.9: an unrecognized extension in the range 0-127 means the whole message is
    // rejected; the HA answers 134 (3.4).
    let mut h = ha();
    let mut m = rrq(D, 600, HOME, VIP, COA, h.id_at(secs(0)));
    push_ext(&mut m, 99, &[1, 2, 3, 4]);
    push_auth(&mut m, 32, MN_SPI, MN_KEY);
    let (_, r) = h.ask(secs(0), mn_sock(), &m);
    assert_eq!(r.code, 134);
    assert!(h.ha.binding(HOME, None).is_none());
}

/// mip-1.9-unknown-extension-skipped: an unrecognized extension of type 128-255 is skipped and
/// the rest of the request processed.
#[test]
fn mip_1_9_unknown_extension_skipped() {
    // RFC 5944 1.9: unrecognized extensions 128-255 are silently ignored, the rest processed.
    let mut h = ha();
    let mut m = rrq(D, 600, HOME, VIP, COA, h.id_at(secs(0)));
    push_ext(&mut m, 250, b"vendor stuff");
    push_auth(&mut m, 32, MN_SPI, MN_KEY);
    let (_, r) = h.ask(secs(0), mn_sock(), &m);
    assert_eq!(r.code, 0);
    assert_eq!(care_ofs(&h), vec![COA]);
}

/// mip-3.3-reserved-bits-ignored: the reserved r and x flag bits are ignored on reception.
#[test]
fn mip_3_3_reserved_bits_ignored() {
    // RFC 5944 3.3: r and x are sent as zero and ignored on reception.
    let mut h = ha();
    let (_, r) = h.ask(
        secs(0),
        mn_sock(),
        &mn_request(R_RESERVED | X_RESERVED, 600, COA, h.id_at(secs(0))),
    );
    assert_eq!(r.code, 0);
}

/// mip-3.5.1-authenticator-coverage: the MN-HA authenticator covers the fixed part, every
/// extension before it and its own type, length and SPI: changing an earlier extension breaks it.
#[test]
fn mip_3_5_1_authenticator_coverage() {
    // RFC 5944 3.5.1: the authenticator protects the UDP payload up to and including the SPI of
    // the authentication extension.
    let mut h = ha();
    let mut m = rrq(D, 600, HOME, VIP, COA, h.id_at(secs(0)));
    push_ext(&mut m, 250, b"covered");
    push_auth(&mut m, 32, MN_SPI, MN_KEY);
    let mut tampered = m.clone();
    tampered[26] ^= 1; // inside the type-250 extension's data
    let (_, r) = h.ask(secs(0), mn_sock(), &tampered);
    assert_eq!(r.code, 131, "an altered earlier extension");
    let mut spi = m.clone();
    let at = spi.len() - 17; // last byte of the SPI
    spi[at] ^= 1;
    let (_, r) = h.ask(secs(0), mn_sock(), &spi);
    assert_eq!(r.code, 131, "an altered SPI");
    let (_, r) = h.ask(secs(0), mn_sock(), &m);
    assert_eq!(r.code, 0, "the untouched request");
}

/// mip-3.5.2-mn-ha-exactly-one: a request with two Mobile-Home Authentication Extensions is
/// refused.
#[test]
fn mip_3_5_2_mn_ha_exactly_one() {
    // RFC 5944 3.5.2 and 3.8.2.1 (a): exactly one authorization-enabling extension MUST be
    // present; the HA cannot find the request valid otherwise and rejects it.
    let mut h = ha();
    let mut m = mn_request(0, 600, COA, h.id_at(secs(0)));
    push_auth(&mut m, 32, MN_SPI, MN_KEY);
    let (_, r) = h.ask(secs(0), mn_sock(), &m);
    assert!(r.code >= 128, "denied by the HA, got {}", r.code);
    assert!(h.ha.binding(HOME, None).is_none());
}

/// mip-3.5.2-mn-ha-ends-authenticated-data: extensions after the MN-HA extension are not
/// authenticated by the mobile node, so the HA never acts on them: an NAI appended after it cannot
/// bind the request to another mobile node's identity.
#[test]
fn mip_3_5_2_mn_ha_ends_authenticated_data() {
    // RFC 5944 3.5.2: the MN-HA extension marks the end of the data the mobile node
    // authenticated; 3.6.1.3: extensions for the HA come before it, those after are for the FA.
    let mut h = ha();
    let mut m = mn_request(0, 600, COA, h.id_at(secs(0)));
    push_ext(&mut m, 131, VICTIM_NAI);
    let (_, out) = h.feed(secs(0), mn_sock(), sock(VIP, 434), &m);
    assert!(
        h.ha.binding(std::net::Ipv4Addr::UNSPECIFIED, Some(VICTIM_NAI))
            .is_none(),
        "an unauthenticated NAI named no binding"
    );
    for t in out {
        let r = Rrp::read(&t.payload);
        assert!(
            !r.exts.iter().any(|e| e.0 == 131 && e.2 == VICTIM_NAI),
            "the reply does not take the victim's NAI"
        );
    }
}

/// mip-3.8.2.2-update-binding: an accepted request creates the mobility binding (home address,
/// care-of address, identification, lifetime) and the HA replies.
#[test]
fn mip_3_8_2_2_update_binding() {
    // RFC 5944 3.8.2.2: the HA MUST update its record of the mobile node's binding(s); 3.8.1:
    // the binding holds care-of address, Identification and remaining lifetime.
    let mut h = ha();
    let id = h.id_at(secs(0));
    let (_, r) = h.ask(secs(0), mn_sock(), &mn_request(0, 600, COA, id));
    assert_eq!(r.code, 0);
    let b = h.ha.binding(HOME, None).expect("a binding");
    assert_eq!(b.identification, id);
    assert_eq!(care_ofs(&h), vec![COA]);
    assert!(events(&mut h).iter().any(|e| matches!(
        e,
        Event::Registered {
            home_address: HOME,
            care_of: COA,
            lifetime: 600,
            ..
        }
    )));
}

/// mip-3.8.2.2-no-s-replaces: with the S bit clear, the new care-of address replaces every
/// previous one.
#[test]
fn mip_3_8_2_2_no_s_replaces() {
    // RFC 5944 3.8.2.2: nonzero lifetime without S (or without HA support): all previous entries
    // of the mobile node's binding list are removed.
    let mut h = ha();
    register(&mut h, secs(0), S, COA);
    register(&mut h, secs(1), S, COA2);
    assert_eq!(care_ofs(&h).len(), 2);
    register(&mut h, secs(2), 0, COA);
    assert_eq!(care_ofs(&h), vec![COA]);
}

/// mip-3.8.2.2-s-bit-retains: with the S bit set and simultaneous bindings supported, previous
/// care-of addresses are kept.
#[test]
fn mip_3_8_2_2_s_bit_retains() {
    // RFC 5944 3.8.2.2: S set and supported: the previous binding entries are retained.
    let mut h = ha();
    register(&mut h, secs(0), 0, COA);
    let r = register(&mut h, secs(1), S, COA2);
    assert_eq!(r.code, 0);
    let mut c = care_ofs(&h);
    c.sort();
    assert_eq!(c, vec![COA, COA2]);
}

/// mip-3.8.2.2-dereg-one: lifetime 0 with a care-of address other than the home address removes
/// only that care-of address.
#[test]
fn mip_3_8_2_2_dereg_one() {
    // RFC 5944 3.8.2.2: lifetime zero, care-of address not the home address: only the entry with
    // that care-of address is deleted; the others stay active.
    let mut h = ha();
    register(&mut h, secs(0), S, COA);
    register(&mut h, secs(1), S, COA2);
    let (_, r) = h.ask(secs(2), mn_sock(), &mn_request(S, 0, COA, h.id_at(secs(2))));
    assert_eq!(r.code, 0);
    assert_eq!(care_ofs(&h), vec![COA2]);
}

/// mip-3.8.2.2-dereg-all: lifetime 0 with the care-of address equal to the home address removes
/// every binding of the mobile node; the reply's lifetime is 0.
///
/// mip-3.8.3.2-dereg-lifetime-zero: the reply to a deregistration carries lifetime 0.
#[test]
fn mip_3_8_2_2_dereg_all() {
    // RFC 5944 3.8.2.2: lifetime zero and care-of = home address: all entries deleted.
    // 3.8.3.2: the granted lifetime is never more than requested, so 0 for a deregistration.
    let mut h = ha();
    register(&mut h, secs(0), S, COA);
    register(&mut h, secs(1), S, COA2);
    events(&mut h);
    let (_, r) = h.ask(
        secs(2),
        mn_sock(),
        &mn_request(0, 0, HOME, h.id_at(secs(2))),
    );
    assert_eq!((r.code, r.lifetime), (0, 0));
    assert!(h.ha.binding(HOME, None).is_none());
    // One event per care-of address, each with the tunnel to remove.
    let plain = |care_of| Tunnel {
        home_address: HOME,
        care_of,
        local: VIP,
        encapsulation: Encapsulation::IpInIp,
        reverse: false,
        broadcast: None,
    };
    let dereg: Vec<Event> = events(&mut h)
        .into_iter()
        .filter(|e| matches!(e, Event::Deregistered { .. }))
        .collect();
    assert_eq!(
        dereg,
        [COA, COA2].map(|c| Event::Deregistered {
            home_address: HOME,
            tunnel: plain(c)
        })
    );
}

/// mip-3.8.2.2-reply-to-source: the reply goes to the source of the request (address and port),
/// even when that is not the care-of address being registered.
#[test]
fn mip_3_8_2_2_reply_to_source() {
    // RFC 5944 3.8.2.2: in all cases the HA MUST send the reply to the source of the request;
    // 3.8.3.1: IP destination and UDP destination port copied from the request's source.
    let mut h = ha();
    let from = sock(FA, 5123);
    let mut m = rrq(0, 600, HOME, VIP, COA2, h.id_at(secs(0)));
    push_auth(&mut m, 32, MN_SPI, MN_KEY);
    push_auth(&mut m, 34, FA_SPI, FA_KEY);
    let (t, r) = h.ask(secs(0), from, &m);
    assert_eq!(r.code, 0);
    assert_eq!(t.dst, from);
}

/// mip-3.8.2.2-duplicate-no-extend: a duplicate of an accepted request (same bytes: home address,
/// identification and care-of address) never extends the lifetime first granted. Under timestamp
/// replay protection it is refused with 133 and leaves the binding as it was.
#[test]
fn mip_3_8_2_2_duplicate_no_extend() {
    // RFC 5944 3.8.2.2: for a duplicate of an accepted current request the new lifetime MUST NOT
    // extend beyond the lifetime originally granted. With timestamps (5.7.1) a valid
    // Identification is both close to the HA's time and later than the last one accepted for the
    // mobile node; a duplicate's equals it, so it fails 3.8.2.1 (b) and is refused with 133
    // (3.8.2.3), a denied request changing no binding. 3.6.3: a mobile node that retransmits uses
    // a new Identification, so an exact copy is a network duplicate or a replay, never a retry.
    // 5.7.1: the 133 reply copies the request's low-order 32 bits of the Identification and puts
    // the HA's time of day in the high-order 32; 3.5.2: every reply carries the MN-HA
    // authentication extension.
    let mut h = ha();
    let id = h.id_at(secs(0));
    let m = mn_request(0, 100, COA, id);
    let (_, r) = h.ask(secs(0), mn_sock(), &m);
    assert_eq!((r.code, r.lifetime, r.id), (0, 100, id));
    let first_end = Some(h.t0 + secs(100));
    let expiries = |h: &Ha| -> Vec<_> {
        let b = h.ha.binding(HOME, None).expect("the binding");
        assert_eq!(b.identification, id, "the accepted Identification stays");
        b.care_of.iter().map(|c| (c.address, c.expires())).collect()
    };
    assert_eq!(expiries(&h), [(COA, first_end)]);
    // The same bytes 4 s later: within the HA's 7 s tolerance (so only its being no later than
    // the accepted Identification can refuse it) and within the lifetime.
    let (t, r) = h.ask(secs(4), mn_sock(), &m);
    assert_eq!(
        r.code, 133,
        "an Identification no later than the accepted one"
    );
    assert_eq!(r.home, HOME);
    assert_eq!(
        r.id & 0xffff_ffff,
        id & 0xffff_ffff,
        "low-order 32 bits copied"
    );
    let ha_time = (h.id_at(secs(4)) >> 32) as i64;
    assert!(
        ((r.id >> 32) as i64 - ha_time).abs() <= 1,
        "high-order 32 bits: the HA's time ({ha_time}), not the request's ({})",
        id >> 32
    );
    assert!(r.auth_ok(32, MN_SPI, MN_KEY), "MN-HA authenticated");
    assert_eq!(t.dst, mn_sock());
    assert_eq!(expiries(&h), [(COA, first_end)], "the lifetime unchanged");
    h.tick(secs(99));
    assert!(h.ha.binding(HOME, None).is_some(), "within the first grant");
    h.tick(secs(101));
    assert!(
        h.ha.binding(HOME, None).is_none(),
        "expired at the first grant's end"
    );
}

/// mip-3.8.2.3-deny-leaves-binding: a denied request changes no binding (a forged
/// deregistration leaves the registration in place).
#[test]
fn mip_3_8_2_3_deny_leaves_binding() {
    // RFC 5944 3.8.2.3: a request that fails the checks is denied; only an accepted request
    // updates the binding list (3.8.2.2).
    let mut h = ha();
    register(&mut h, secs(0), 0, COA);
    let mut m = rrq(D, 0, HOME, VIP, HOME, h.id_at(secs(1)));
    push_auth(&mut m, 32, MN_SPI, b"forged");
    let (_, r) = h.ask(secs(1), mn_sock(), &m);
    assert_eq!(r.code, 131);
    assert_eq!(care_ofs(&h), vec![COA]);
}

/// mip-3.4-code-1-no-simultaneous: an HA that does not support simultaneous bindings accepts a
/// request with S set with code 1.
#[test]
fn mip_3_4_code_1_no_simultaneous() {
    // RFC 5944 3.4 code 1: registration accepted, but simultaneous mobility bindings unsupported;
    // 3.8.2.2: the previous entries are then removed.
    let mut c = cfg(2);
    c.max_simultaneous = 1;
    let mut h = Ha::new(c);
    register(&mut h, secs(0), 0, COA);
    let r = register(&mut h, secs(1), S, COA2);
    assert_eq!(r.code, 1);
    assert_eq!(care_ofs(&h), vec![COA2]);
}

/// mip-3.8.2.2-too-many-135: beyond the simultaneous bindings the HA keeps, a request with S set
/// is denied with 135.
#[test]
fn mip_3_8_2_2_too_many_135() {
    // RFC 5944 3.4 code 135: too many simultaneous mobility bindings.
    let mut c = cfg(3);
    c.max_simultaneous = 2;
    let mut h = Ha::new(c);
    register(&mut h, secs(0), S, COA);
    register(&mut h, secs(1), S, COA2);
    let third = std::net::Ipv4Addr::new(198, 51, 100, 22);
    let (_, r) = h.ask(
        secs(2),
        mn_sock(),
        &mn_request(S, 600, third, h.id_at(secs(2))),
    );
    assert_eq!(r.code, 135);
    assert_eq!(care_ofs(&h).len(), 2);
}

/// mip-3.8.2.2-insufficient-resources-130: an HA whose binding table is full denies with 130.
#[test]
fn mip_3_8_2_2_insufficient_resources_130() {
    // RFC 5944 3.8.2.3: the HA unable to accommodate the request denies it with the reason;
    // 3.4 code 130: insufficient resources.
    let mut c = cfg(4);
    c.max_bindings = 1;
    let mut h = Ha::new(c);
    register(&mut h, secs(0), 0, COA);
    let mut m = zero_home_rrq(&h, COA2, secs(1));
    push_ext(&mut m, 131, NAI);
    push_auth(&mut m, 32, NAI_SPI, NAI_KEY);
    let (_, r) = h.ask(secs(1), sock(COA2, 434), &m);
    assert_eq!(r.code, 130);
}

/// mip-3.8.3.1-ip-udp-fields: the reply's IP source is the address the request was sent to, its
/// UDP source port the request's destination port; destination address and port are the
/// request's source.
#[test]
fn mip_3_8_3_1_ip_udp_fields() {
    // RFC 5944 3.8.3.1: IP source copied from the request's IP destination; UDP source port from
    // its destination port; IP destination and UDP destination port from its source.
    let mut h = ha();
    let from = sock(COA, 40_000);
    let (t, r) = h.ask(secs(0), from, &mn_request(0, 600, COA, h.id_at(secs(0))));
    assert_eq!(r.code, 0);
    assert_eq!(t.dst, from);
    assert_eq!(t.src, Some(sock(VIP, 434)));
    // Sent to the HA's own unicast address (named in the Home Agent field).
    let mut m = rrq(D, 600, HOME, HA_OWN, COA, h.id_at(secs(1)));
    push_auth(&mut m, 32, MN_SPI, MN_KEY);
    let (_, out) = h.feed(secs(1), from, sock(HA_OWN, 434), &m);
    assert_eq!(out.len(), 1);
    assert_eq!(Rrp::read(&out[0].payload).code, 0);
    assert_eq!(out[0].dst, from);
    assert!(
        out[0].src.is_none() || out[0].src == Some(sock(HA_OWN, 434)),
        "sent from the address the request went to, got {:?}",
        out[0].src
    );
    // Sent to the virtual address on a port other than 434: the reply's source port is still the
    // request's destination port.
    let m = mn_request(0, 600, COA, h.id_at(secs(2)));
    let (_, out) = h.feed(secs(2), from, sock(VIP, 4340), &m);
    assert_eq!(out.len(), 1);
    assert_eq!(Rrp::read(&out[0].payload).code, 0);
    assert_eq!(out[0].dst, from);
    assert_eq!(out[0].src, Some(sock(VIP, 4340)));
}

/// mip-3.8.3.2-lifetime-not-longer: the granted lifetime is never longer than requested, nor
/// than the HA's configured maximum.
#[test]
fn mip_3_8_3_2_lifetime_not_longer() {
    // RFC 5944 3.8.3.2: the Lifetime of an accepting reply is no larger than requested; 3.8.2.2:
    // the HA MAY shorten it.
    let mut c = cfg(5);
    c.max_lifetime = 1800;
    let mut h = Ha::new(c);
    let (_, r) = h.ask(
        secs(0),
        mn_sock(),
        &mn_request(0, 600, COA, h.id_at(secs(0))),
    );
    assert_eq!((r.code, r.lifetime), (0, 600));
    let (_, r) = h.ask(
        secs(1),
        mn_sock(),
        &mn_request(0, 5000, COA, h.id_at(secs(1))),
    );
    assert_eq!(r.code, 0);
    assert!(r.lifetime > 0 && r.lifetime <= 1800, "got {}", r.lifetime);
    h.tick(secs(1802));
    assert!(
        h.ha.binding(HOME, None).is_none(),
        "the binding ends with the granted lifetime"
    );
}

/// mip-3.8.3.2-fields-copied: an accepting reply copies the Home Address, Home Agent and
/// Identification fields of the request.
#[test]
fn mip_3_8_3_2_fields_copied() {
    // RFC 5944 3.8.3.2: Home Address and Home Agent from the request; Identification as 5.7
    // says, which for accepted timestamp requests is the request's own.
    let mut h = ha();
    let id = h.id_at(secs(0)) + 12345;
    let (_, r) = h.ask(secs(0), mn_sock(), &mn_request(0, 600, COA, id));
    assert_eq!((r.code, r.home, r.ha, r.id), (0, HOME, VIP, id));
}

/// mip-3.8.3.2-mn-ha-in-reply: every reply to an authenticated request carries exactly one valid
/// MN-HA authentication extension, computed with the mobile node's key (accepting or denying).
#[test]
fn mip_3_8_3_2_mn_ha_in_reply() {
    // RFC 5944 3.5.2: the MN-HA extension is in every Registration Reply; 3.6.2.1: the mobile
    // node discards replies without a valid one.
    let mut h = ha();
    let (_, r) = h.ask(
        secs(0),
        mn_sock(),
        &mn_request(0, 600, COA, h.id_at(secs(0))),
    );
    assert_eq!(r.code, 0);
    assert!(r.auth_ok(32, MN_SPI, MN_KEY));
    let stale = h.id_at(secs(1)) - (100u64 << 32);
    let (_, r) = h.ask(secs(1), mn_sock(), &mn_request(0, 600, COA, stale));
    assert_eq!(r.code, 133);
    assert!(
        r.auth_ok(32, MN_SPI, MN_KEY),
        "a 133 reply is authenticated too"
    );
}

/// mip-3.8.3.2-fa-ha-in-reply: a reply to a foreign agent the HA shares an association with
/// carries a valid FA-HA extension, after the MN-HA extension.
#[test]
fn mip_3_8_3_2_fa_ha_in_reply() {
    // RFC 5944 3.8.3.2 / 3.5.4: the FA-HA extension in the reply when the HA shares an
    // association with the FA; it follows the MN-HA extension and covers it.
    let mut h = ha();
    let mut m = rrq(0, 600, HOME, VIP, FA, h.id_at(secs(0)));
    push_auth(&mut m, 32, MN_SPI, MN_KEY);
    push_auth(&mut m, 34, FA_SPI, FA_KEY);
    let (_, r) = h.ask(secs(0), sock(FA, 434), &m);
    assert_eq!(r.code, 0);
    assert_eq!(r.types(), vec![32, 34]);
    assert!(r.auth_ok(32, MN_SPI, MN_KEY));
    assert!(r.auth_ok(34, FA_SPI, FA_KEY));
}

/// mip-3.3-lifetime-infinite: a lifetime of 0xffff is infinity: such a binding never expires.
#[test]
fn mip_3_3_lifetime_infinite() {
    // RFC 5944 3.3: Lifetime 0xffff indicates infinity.
    let mut c = cfg(6);
    c.max_lifetime = 0xffff;
    let mut h = Ha::new(c);
    let (_, r) = h.ask(
        secs(0),
        mn_sock(),
        &mn_request(0, 0xffff, COA, h.id_at(secs(0))),
    );
    assert_eq!((r.code, r.lifetime), (0, 0xffff));
    h.tick(secs(10 * 86_400));
    assert_eq!(care_ofs(&h), vec![COA]);
}

/// mip-3.8.1-lifetime-expiry: a binding is removed when its granted lifetime runs out.
#[test]
fn mip_3_8_1_lifetime_expiry() {
    // RFC 5944 3.8.1: the binding list holds each binding's remaining lifetime; 3.3: the number
    // of seconds remaining before the registration is considered expired.
    let mut h = ha();
    let (_, r) = h.ask(
        secs(0),
        mn_sock(),
        &mn_request(0, 30, COA, h.id_at(secs(0))),
    );
    assert_eq!((r.code, r.lifetime), (0, 30));
    h.tick(secs(29));
    assert_eq!(care_ofs(&h), vec![COA]);
    events(&mut h);
    h.tick(secs(31));
    assert!(h.ha.binding(HOME, None).is_none());
    assert!(events(&mut h).contains(&Event::Expired {
        home_address: HOME,
        tunnel: Tunnel {
            home_address: HOME,
            care_of: COA,
            local: VIP,
            encapsulation: Encapsulation::IpInIp,
            reverse: false,
            broadcast: None,
        }
    }));
}

/// mip-1.6-spi-reserved: SPIs 0-255 are reserved and are not used by any mobility security
/// association: the HA refuses a configuration giving a mobile node or a foreign agent one
/// (`ConfigError::OutOfRange` naming `ConfigField::Spi`) and takes 256, the first usable SPI; an
/// SA table refuses one too.
#[test]
fn mip_1_6_spi_reserved() {
    // RFC 5944 1.6 (Security Parameter Index): values 0 through 255 are reserved and MUST NOT be
    // used in any mobility security association.
    let mut t = telcp::mip::wire::auth::SaTable::new();
    assert!(
        t.insert(SecurityAssociation::new(
            255,
            AuthAlgorithm::HmacMd5,
            b"k".to_vec()
        ))
        .is_err()
    );
    let mobile = std::net::Ipv4Addr::new(10, 0, 5, 50);
    let fa = std::net::Ipv4Addr::new(203, 0, 113, 10);
    let mn_key = |spi| MobileNodeKey {
        id: MnId::Home(mobile),
        sa: SecurityAssociation::new(spi, AuthAlgorithm::HmacMd5, b"mn-ha key of mn 50".to_vec()),
    };
    let fa_sa =
        |spi| SecurityAssociation::new(spi, AuthAlgorithm::HmacMd5, b"fa-ha key of fa 10".to_vec());
    let refused = Some(ConfigError::OutOfRange(ConfigField::Spi));
    for spi in [0, 200, 255] {
        let mut c = cfg(7);
        c.mobile_nodes.push(mn_key(spi));
        assert_eq!(
            HomeAgent::new(c, std::time::Instant::now()).err(),
            refused,
            "MN-HA SPI {spi}"
        );
        let mut c = cfg(7);
        c.foreign_agents.push((fa, fa_sa(spi)));
        assert_eq!(
            HomeAgent::new(c, std::time::Instant::now()).err(),
            refused,
            "FA-HA SPI {spi}"
        );
    }
    let mut c = cfg(7);
    c.mobile_nodes.push(mn_key(256));
    c.foreign_agents.push((fa, fa_sa(256)));
    assert!(HomeAgent::new(c, std::time::Instant::now()).is_ok());
}

/// mip-3.8.2.1-reserved-spi-131: a request whose MN-HA extension names a reserved SPI (0-255)
/// matches no security association, even with an authenticator computed under the mobile node's
/// key: 131 and no binding; with keys from AAA the HA asks AAA for no key under such an SPI and
/// refuses with 131 as well. A foreign agent's FA-HA extension under a reserved SPI gets 132.
#[test]
fn mip_3_8_2_1_reserved_spi_131() {
    // RFC 5944 1.6: SPIs 0-255 are reserved, no mobility security association uses them.
    // 3.8.2.1: a request whose MN-HA authentication fails is rejected with 131 (mobile node
    // failed authentication); one whose FA-HA authentication fails, with 132.
    let mut h = ha();
    for (i, spi) in [0u32, 255].into_iter().enumerate() {
        let mut m = rrq(D, 600, HOME, VIP, COA, h.id_at(secs(i as u64)));
        push_auth(&mut m, 32, spi, MN_KEY);
        let (_, r) = h.ask(secs(i as u64), mn_sock(), &m);
        assert_eq!(r.code, 131, "MN-HA SPI {spi}");
    }
    assert!(h.ha.binding(HOME, None).is_none());
    for (i, spi) in [0u32, 255].into_iter().enumerate() {
        let at = secs(2 + i as u64);
        let mut m = rrq(0, 600, HOME, VIP, FA, h.id_at(at));
        push_auth(&mut m, 32, MN_SPI, MN_KEY);
        push_auth(&mut m, 34, spi, FA_KEY);
        let (_, r) = h.ask(at, sock(FA, 434), &m);
        assert_eq!(r.code, 132, "FA-HA SPI {spi}");
    }
    assert!(h.ha.binding(HOME, None).is_none());
    // The same request under the configured SPIs is accepted: the SPI alone was refused.
    let mut m = rrq(0, 600, HOME, VIP, FA, h.id_at(secs(4)));
    push_auth(&mut m, 32, MN_SPI, MN_KEY);
    push_auth(&mut m, 34, FA_SPI, FA_KEY);
    let (_, r) = h.ask(secs(4), sock(FA, 434), &m);
    assert!(r.code <= 1, "accepted, got {}", r.code);

    // Keys from AAA: an unknown mobile node under a reserved SPI is refused at once.
    let mut c = cfg(8);
    c.aaa = Some(AaaConfig::default());
    let mut h = Ha::new(c);
    let unknown = std::net::Ipv4Addr::new(10, 0, 5, 60);
    for (i, spi) in [0u32, 255].into_iter().enumerate() {
        let mut m = rrq(D, 600, unknown, VIP, COA, h.id_at(secs(i as u64)));
        push_auth(&mut m, 32, spi, b"mn-ha key AAA would give");
        let (_, r) = h.ask(secs(i as u64), mn_sock(), &m);
        assert_eq!(r.code, 131, "MN-HA SPI {spi} with AAA");
    }
    let asked = |e: &[Event]| e.iter().any(|e| matches!(e, Event::KeyRequest { .. }));
    assert!(
        !asked(&events(&mut h)),
        "no key asked for under a reserved SPI"
    );
    // Under SPI 256 the same request is parked and AAA asked for the key.
    let mut m = rrq(D, 600, unknown, VIP, COA, h.id_at(secs(2)));
    push_auth(&mut m, 32, 256, b"mn-ha key AAA would give");
    let (_, out) = h.feed(secs(2), mn_sock(), sock(VIP, 434), &m);
    assert!(out.is_empty(), "parked, not answered");
    assert!(asked(&events(&mut h)));
}

/// mip-5.1-hmac-md5-default: HMAC-MD5 is the default authentication algorithm, and it is the
/// RFC 2104 construction (RFC 2202 known answer).
#[test]
fn mip_5_1_hmac_md5_default() {
    // RFC 5944 5.1: the default algorithm is HMAC-MD5 [RFC 2104], which implementations MUST
    // support. RFC 2202 test case 1: key 0x0b x 16, data "Hi There".
    use telcp::mip::wire::auth::compute;
    assert_eq!(AuthAlgorithm::default(), AuthAlgorithm::HmacMd5);
    let got = compute(AuthAlgorithm::default(), &[0x0b; 16], b"Hi There");
    let want = [
        0x92, 0x94, 0x72, 0x7a, 0x36, 0x38, 0xbb, 0x1c, 0x13, 0xf4, 0x8e, 0xf8, 0x15, 0x8b, 0xfc,
        0x9d,
    ];
    assert_eq!(got, want);
    assert_eq!(hmac_md5(&[0x0b; 16], b"Hi There"), want);
}

/// mip-5.1-key-lengths: 128-bit keys (the default size) and longer keys both authenticate.
#[test]
fn mip_5_1_key_lengths() {
    // RFC 5944 5.1 / 3.5.1: HMAC-MD5 with a default key size of 128 bits; HMAC itself takes keys
    // of any length.
    for key in [vec![0x42u8; 16], vec![0x17u8; 100]] {
        let mut c = cfg(8);
        c.mobile_nodes[0].sa.key = key.clone();
        let mut h = Ha::new(c);
        let mut m = rrq(D, 600, HOME, VIP, COA, h.id_at(secs(0)));
        push_auth(&mut m, 32, MN_SPI, &key);
        let (_, r) = h.ask(secs(0), mn_sock(), &m);
        assert_eq!(r.code, 0, "key of {} bytes", key.len());
        assert!(r.auth_ok(32, MN_SPI, &key));
    }
}

/// mip-rfc2104.3-short-keys: HMAC keys shorter than the hash output (16 octets for MD5) are
/// strongly discouraged (RFC 2104 section 3) and 128 bits is Mobile IP's default key size (RFC
/// 5944 section 5.1): a Home Agent's cluster, MN-HA and FA-HA keys, a foreign agent's FA-HA key
/// and a mobile node's MN-HA key under 16 octets are refused at configuration, naming the key;
/// 16 octets pass.
#[test]
fn mip_rfc2104_3_short_keys() {
    use std::time::Instant;
    use telcp::mip::{
        ClientConfig, ConfigError, ConfigField, ForeignAgent, ForeignAgentConfig, HomeAgent,
        MobileNodeClient,
    };
    let short = |field, octets| {
        Some(ConfigError::KeyTooShort {
            field,
            octets,
            min: 16,
        })
    };
    let t0 = Instant::now();
    for n in [15, 16] {
        let refused = |field| if n < 16 { short(field, n) } else { None };
        let mut c = cfg(10);
        c.cluster_key = vec![1; n];
        assert_eq!(
            HomeAgent::new(c, t0).err(),
            refused(ConfigField::ClusterKey)
        );
        let mut c = cfg(10);
        c.mobile_nodes[0].sa.key = vec![2; n];
        assert_eq!(
            HomeAgent::new(c, t0).err(),
            refused(ConfigField::MobileNodeKey)
        );
        let mut c = cfg(10);
        c.foreign_agents[0].1.key = vec![3; n];
        assert_eq!(
            HomeAgent::new(c, t0).err(),
            refused(ConfigField::ForeignAgentKey)
        );
        let mut c = ForeignAgentConfig::new(sock(VIP, 434));
        c.fa_ha = Some(SecurityAssociation::new(
            FA_SPI,
            AuthAlgorithm::HmacMd5,
            vec![4; n],
        ));
        assert_eq!(
            ForeignAgent::new(c, t0).err(),
            refused(ConfigField::ForeignAgentKey)
        );
        let sa = SecurityAssociation::new(MN_SPI, AuthAlgorithm::HmacMd5, vec![5; n]);
        let c = ClientConfig::new(HOME, sa, sock(VIP, 434), mn_sock(), WALL);
        assert_eq!(
            MobileNodeClient::new(c, t0).err(),
            refused(ConfigField::MobileNodeKey)
        );
    }
}

/// mip-5.7.1-timestamp-tolerance: timestamps within the default 7-second tolerance of the HA's
/// clock are accepted, those beyond it refused with 133.
#[test]
fn mip_5_7_1_timestamp_tolerance() {
    // RFC 5944 5.7.1: the timestamp must be close enough to the HA's time-of-day clock; the
    // default tolerance is 7 seconds.
    let c = cfg(9);
    assert_eq!(c.replay_tolerance, secs(7));
    let mut h = Ha::new(c);
    let ahead = h.id_at(secs(6));
    let (_, r) = h.ask(secs(0), mn_sock(), &mn_request(0, 600, COA, ahead));
    assert_eq!(r.code, 0, "6 s ahead");
    let mut h = Ha::new(cfg(9));
    let behind = h.id_at(secs(20)) - (8u64 << 32);
    let (_, r) = h.ask(secs(20), mn_sock(), &mn_request(0, 600, COA, behind));
    assert_eq!(r.code, 133, "8 s behind");
}

/// mip-5.7.1-not-newer-133: a timestamp not greater than the last one accepted from the mobile
/// node is refused with 133, even within the tolerance (a replay).
#[test]
fn mip_5_7_1_not_newer_133() {
    // RFC 5944 5.7.1: the Identification MUST be greater than that of any previously accepted
    // request from the mobile node.
    let mut h = ha();
    let id = h.id_at(secs(2));
    let (_, r) = h.ask(secs(2), mn_sock(), &mn_request(0, 600, COA, id));
    assert_eq!(r.code, 0);
    let (_, r) = h.ask(secs(3), mn_sock(), &mn_request(0, 600, COA, id));
    assert_eq!(r.code, 133, "the same identification again");
    let (_, r) = h.ask(secs(3), mn_sock(), &mn_request(0, 600, COA, id - (1 << 32)));
    assert_eq!(r.code, 133, "an older one");
}

/// mip-5.7.1-133-identification: a 133 reply carries the HA's time (seconds) in the high 32 bits
/// of the Identification and the request's low 32 bits.
#[test]
fn mip_5_7_1_133_identification() {
    // RFC 5944 5.7.1: on a mismatch the HA's reply Identification has its own time in the high
    // 32 bits and the request's low-order 32 bits, for the mobile node to resynchronize.
    let mut h = ha();
    let at = secs(40);
    let req = (h.id_at(at) - (1000u64 << 32)) | 0x1234_5678;
    let (_, r) = h.ask(at, mn_sock(), &mn_request(0, 600, COA, req));
    assert_eq!(r.code, 133);
    assert_eq!(r.id & 0xffff_ffff, 0x1234_5678);
    assert_eq!(r.id >> 32, h.id_at(at) >> 32);
}

/// mip-rfc2794.2-home-zero-nai-assigns: a request with home address 0.0.0.0 and an NAI gets a
/// home address assigned in the reply.
///
/// mip-rfc2794.2-reply-includes-nai: the reply to a request carrying an NAI carries the same
/// NAI extension, before the MN-HA extension.
#[test]
fn mip_rfc2794_2_home_zero_nai_assigns() {
    // RFC 2794 section 2: a mobile node without a home address sends 0.0.0.0 and identifies
    // itself with its NAI; the HA assigns an address and returns the NAI extension in the reply.
    let mut h = ha();
    let mut m = zero_home_rrq(&h, COA, secs(0));
    push_ext(&mut m, 131, NAI);
    push_auth(&mut m, 32, NAI_SPI, NAI_KEY);
    let (_, r) = h.ask(secs(0), mn_sock(), &m);
    assert_eq!(r.code, 0);
    let pool: ipnetwork::Ipv4Network = POOL.parse().unwrap();
    assert!(
        pool.contains(r.home) && !r.home.is_unspecified(),
        "assigned {}",
        r.home
    );
    assert_eq!(r.types(), vec![131, 32]);
    assert_eq!(r.exts[0].2, NAI);
    assert!(r.auth_ok(32, NAI_SPI, NAI_KEY));
    assert!(h.ha.binding(r.home, None).is_some());
}

/// mip-rfc2794.2-no-identity-134: a request naming neither a home address nor an NAI identifies
/// no mobile node and is refused as poorly formed (134).
#[test]
fn mip_rfc2794_2_no_identity_134() {
    // RFC 2794 section 2: with home address 0.0.0.0 the NAI is what identifies the mobile node;
    // RFC 5944 3.4 code 134 for a request that cannot be processed as formed.
    let mut h = ha();
    let mut m = zero_home_rrq(&h, COA, secs(0));
    push_auth(&mut m, 32, NAI_SPI, NAI_KEY);
    let (_, r) = h.ask(secs(0), mn_sock(), &m);
    assert_eq!(r.code, 134);
}

/// mip-rfc2794.2-replay-per-nai: replay protection holds for a mobile node known only by NAI:
/// the same request again gets 133 and changes nothing.
#[test]
fn mip_rfc2794_2_replay_per_nai() {
    // RFC 2794 section 2 with RFC 5944 5.7: the HA keys the mobile node's security association
    // and replay state by its NAI when it has no home address.
    let mut h = ha();
    let mut m = zero_home_rrq(&h, COA, secs(0));
    push_ext(&mut m, 131, NAI);
    push_auth(&mut m, 32, NAI_SPI, NAI_KEY);
    let (_, r) = h.ask(secs(0), mn_sock(), &m);
    assert_eq!(r.code, 0);
    let (_, again) = h.ask(secs(1), mn_sock(), &m);
    assert_eq!(again.code, 133);
    let b = h.ha.binding(r.home, None).expect("binding kept");
    assert_eq!(b.identification, r.id);
}

/// mip-rfc2794.2-unknown-nai-131: an NAI the HA has no security association for gets 131.
#[test]
fn mip_rfc2794_2_unknown_nai_131() {
    // RFC 2794 section 2: the NAI selects the mobile node's security association; RFC 5944
    // 3.8.2.1 (a): unauthenticated, 131.
    let mut h = ha();
    let mut m = zero_home_rrq(&h, COA, secs(0));
    push_ext(&mut m, 131, b"nobody@elsewhere.example");
    push_auth(&mut m, 32, NAI_SPI, NAI_KEY);
    let (_, r) = h.ask(secs(0), mn_sock(), &m);
    assert_eq!(r.code, 131);
}

/// mip-rfc3543.4-ha-without-revocation: an HA that does not do registration revocation ignores
/// the (skippable) Revocation Support extension, registers the mobile node, and does not put
/// the extension in its reply (which tells the FA revocation is not offered).
#[test]
fn mip_rfc3543_4_ha_without_revocation() {
    // RFC 3543: the Revocation Support extension (137) is skippable; an HA only includes it in
    // its reply when it agrees to revocation.
    let mut h = ha();
    let mut m = rrq(0, 600, HOME, VIP, FA, h.id_at(secs(0)));
    push_auth(&mut m, 32, MN_SPI, MN_KEY);
    push_ext(&mut m, 137, &[0x80, 0x00, 0, 0, 0, 9]);
    push_auth(&mut m, 34, FA_SPI, FA_KEY);
    let (_, r) = h.ask(secs(0), sock(FA, 434), &m);
    assert_eq!(r.code, 0);
    assert!(!r.types().contains(&137));
}

/// mip-rfc3519.3.1-ha-without-udp-tunnelling: an HA that does not do UDP tunnelling ignores the
/// skippable UDP Tunnel Request extension and registers without a UDP Tunnel Reply.
#[test]
fn mip_rfc3519_3_1_ha_without_udp_tunnelling() {
    // RFC 3519 3.1: the UDP Tunnel Request (144) is skippable, so an HA without UDP tunnelling
    // ignores it and answers without a UDP Tunnel Reply (44).
    let mut h = ha();
    let mut m = rrq(D, 600, HOME, VIP, COA, h.id_at(secs(0)));
    push_ext(&mut m, 144, &[0, 0, 0, 4, 0, 0]);
    push_auth(&mut m, 32, MN_SPI, MN_KEY);
    let (_, r) = h.ask(secs(0), mn_sock(), &m);
    assert_eq!(r.code, 0);
    assert!(!r.types().contains(&44));
}

/// Appends a Critical Vendor/Organization Specific Extension (RFC 3115 section 3.1: type 38,
/// reserved, 16-bit length, Vendor/Org-ID, Vendor-CVSE-Type, value) with a 2-octet value.
fn push_cvse(m: &mut Vec<u8>, vendor: u32, cvse_type: u16) {
    let value = [0xde, 0xad];
    m.extend_from_slice(&[38, 0]);
    m.extend_from_slice(&(6 + value.len() as u16).to_be_bytes());
    m.extend_from_slice(&vendor.to_be_bytes());
    m.extend_from_slice(&cvse_type.to_be_bytes());
    m.extend_from_slice(&value);
}

/// mip-rfc3115.5-unknown-cvse: a CVSE the home agent cannot interpret is refused with 140 when
/// the mobile node sent it and 141 when the foreign agent did; no binding is made. The request
/// is authenticated first (131 wins), and a CVSE that no verified authenticator covers decides
/// nothing.
#[test]
fn mip_rfc3115_5_unknown_cvse_140_141() {
    // RFC 3115 section 5: a home agent receiving a CVSE whose Vendor/Org-ID or Vendor-CVSE-Type
    // it does not support MUST reject the request, with code 140 ("sent by the mobile node to
    // the home agent") or 141 ("sent by the foreign agent to the home agent").
    let mut h = ha();
    let mut m = rrq(D, 600, HOME, VIP, COA, h.id_at(secs(0)));
    push_cvse(&mut m, 9, 1);
    push_auth(&mut m, 32, MN_SPI, MN_KEY);
    let (_, r) = h.ask(secs(0), mn_sock(), &m);
    assert_eq!(
        r.code, 140,
        "the mobile node's CVSE, before its MN-HA extension"
    );
    assert!(h.ha.binding(HOME, None).is_none());
    // The foreign agent's: after MN-HA, covered by its FA-HA extension. A known vendor (3GPP2)
    // with a CVSE type this HA does not interpret is as unknown.
    let mut m = rrq(0, 600, HOME, VIP, FA, h.id_at(secs(1)));
    push_auth(&mut m, 32, MN_SPI, MN_KEY);
    push_cvse(&mut m, 5535, 0x7fff);
    via_fa(&mut m, Some(FA_KEY));
    let (_, r) = h.ask(secs(1), sock(FA, 434), &m);
    assert_eq!(r.code, 141, "the foreign agent's CVSE, covered by FA-HA");
    assert!(h.ha.binding(HOME, None).is_none());
    // Authentication comes first: a wrong MN-HA authenticator is 131 whatever the CVSE.
    let mut m = rrq(D, 600, HOME, VIP, COA, h.id_at(secs(2)));
    push_cvse(&mut m, 9, 1);
    push_auth(&mut m, 32, MN_SPI, b"not the mobile node's key");
    let (_, r) = h.ask(secs(2), mn_sock(), &m);
    assert_eq!(r.code, 131);
    // After every authenticator nothing vouches for it: it decides nothing.
    let mut m = rrq(D, 600, HOME, VIP, COA, h.id_at(secs(3)));
    push_auth(&mut m, 32, MN_SPI, MN_KEY);
    push_cvse(&mut m, 9, 1);
    let (_, r) = h.ask(secs(3), mn_sock(), &m);
    assert_eq!(r.code, 0, "an unauthenticated trailing CVSE is ignored");
    assert!(h.ha.binding(HOME, None).is_some());
}

/// mip-3.5.2-mn-ha-in-every-reply: a denial the HA decides before looking at the Identification
/// (136 for a request to another or a broadcast home agent address, 134 for an unrecognized
/// extension of type 0-127) still carries a valid MN-HA extension when the HA holds the mobile
/// node's key and the request's authenticator verifies under it, so the mobile node can accept
/// the denial (it discards unauthenticated replies, 3.6.2.1).
#[test]
fn mip_3_5_2_mn_ha_in_every_reply() {
    // RFC 5944 3.5.2: exactly one Mobile-Home Authentication Extension MUST be present in all
    // Registration Requests and Registration Replies. 3.6.2.1: the mobile node silently
    // discards a reply without a valid one. 3.6.1.2 / 3.8.2.1: a request sent to the home
    // network's subnet-directed broadcast address is answered 136 with the HA's unicast address.
    let mut h = ha();
    let bcast = std::net::Ipv4Addr::new(10, 0, 255, 255);
    let mut m = rrq(D, 600, HOME, bcast, COA, h.id_at(secs(0)));
    push_auth(&mut m, 32, MN_SPI, MN_KEY);
    let (_, out) = h.feed(secs(0), mn_sock(), sock(bcast, 434), &m);
    assert_eq!(out.len(), 1);
    let r = Rrp::read(&out[0].payload);
    assert_eq!(r.code, 136);
    assert!(
        r.auth_ok(32, MN_SPI, MN_KEY),
        "the 136 reply is authenticated: {:?}",
        r.types()
    );
    // 3.8.3.1: a request sent to a broadcast address is answered from the HA's unicast address.
    assert_ne!(out[0].src.map(|s| s.ip()), Some(bcast.into()));
    let mut m = rrq(D, 600, HOME, VIP, COA, h.id_at(secs(1)));
    push_ext(&mut m, 99, &[1, 2, 3, 4]);
    push_auth(&mut m, 32, MN_SPI, MN_KEY);
    let (_, r) = h.ask(secs(1), mn_sock(), &m);
    assert_eq!(r.code, 134);
    assert!(
        r.auth_ok(32, MN_SPI, MN_KEY),
        "the 134 reply is authenticated"
    );
    // A request the HA cannot authenticate gets no authenticator it could not compute.
    let mut m = rrq(D, 600, HOME, bcast, COA, h.id_at(secs(2)));
    push_auth(&mut m, 32, MN_SPI, b"forged");
    let (_, out) = h.feed(secs(2), mn_sock(), sock(bcast, 434), &m);
    for t in out {
        let r = Rrp::read(&t.payload);
        assert!(r.code >= 128);
        assert!(!r.auth_ok(32, MN_SPI, MN_KEY));
    }
    assert!(h.ha.binding(HOME, None).is_none());
}

/// mip-3.8.3.2-denial-fields: a denying reply copies the Home Address and Home Agent fields of
/// the request (136 excepted: its Home Agent field names this HA) and its Identification (133:
/// the low-order 32 bits).
#[test]
fn mip_3_8_3_2_denial_fields() {
    // RFC 5944 3.8.3.2: Home Address and Home Agent copied from the request (the latter unless
    // 136); Identification as section 5.7 says: the request's, or for 133 its low-order 32 bits
    // under the HA's time.
    let mut h = ha();
    let id = h.id_at(secs(0)) | 0x0000_0000_0bad_cafe;
    // 131: a wrong key.
    let mut m = rrq(D, 600, HOME, VIP, COA, id);
    push_auth(&mut m, 32, MN_SPI, b"wrong");
    let (_, r) = h.ask(secs(0), mn_sock(), &m);
    assert_eq!((r.code, r.home, r.ha, r.id), (131, HOME, VIP, id));
    // 133: far from the HA's clock.
    let stale = (h.id_at(secs(0)) - (100u64 << 32)) | 0x1357;
    let (_, r) = h.ask(secs(0), mn_sock(), &mn_request(0, 600, COA, stale));
    assert_eq!((r.code, r.home, r.ha), (133, HOME, VIP));
    assert_eq!(r.id & 0xffff_ffff, stale & 0xffff_ffff);
    // 135: more simultaneous bindings than the HA keeps.
    let mut c = cfg(11);
    c.max_simultaneous = 1 + 1;
    let mut h = Ha::new(c);
    register(&mut h, secs(0), S, COA);
    register(&mut h, secs(1), S, COA2);
    let id = h.id_at(secs(2));
    let third = std::net::Ipv4Addr::new(198, 51, 100, 22);
    let (_, r) = h.ask(secs(2), mn_sock(), &mn_request(S, 600, third, id));
    assert_eq!((r.code, r.home, r.ha, r.id), (135, HOME, VIP, id));
    assert!(r.auth_ok(32, MN_SPI, MN_KEY));
}

/// mip-3.8.2.2-expiry-keeps-others: when the lifetime of one of a mobile node's simultaneous
/// bindings runs out, that binding alone is removed; the others stay.
#[test]
fn mip_3_8_2_2_expiry_keeps_others() {
    // RFC 5944 3.8.2.2: when the Lifetime of a particular mobility binding expires, the HA MUST
    // delete the binding, but MUST retain any other non-expired simultaneous mobility bindings
    // it holds for the mobile node.
    let mut h = ha();
    let (_, r) = h.ask(
        secs(0),
        mn_sock(),
        &mn_request(S, 30, COA, h.id_at(secs(0))),
    );
    assert_eq!((r.code, r.lifetime), (0, 30));
    let (_, r) = h.ask(
        secs(1),
        mn_sock(),
        &mn_request(S, 300, COA2, h.id_at(secs(1))),
    );
    assert_eq!((r.code, r.lifetime), (0, 300));
    events(&mut h);
    h.tick(secs(32));
    assert_eq!(
        care_ofs(&h),
        vec![COA2],
        "only the expired care-of address goes"
    );
    let ev = events(&mut h);
    assert!(
        ev.iter()
            .any(|e| matches!(e, Event::Expired { tunnel, .. } if tunnel.care_of == COA)),
        "{ev:?}"
    );
    assert!(
        !ev.iter()
            .any(|e| matches!(e, Event::Expired { tunnel, .. } if tunnel.care_of == COA2)),
        "{ev:?}"
    );
    h.tick(secs(302));
    assert!(h.ha.binding(HOME, None).is_none());
}

/// mip-3.8.3.2-infinite-over-maximum: a request for an infinite lifetime (0xffff) from an HA
/// whose maximum is finite is granted that maximum, and the binding ends with it.
#[test]
fn mip_3_8_3_2_infinite_over_maximum() {
    // RFC 5944 3.8.3.2: the Lifetime is copied from the request unless it is greater than the
    // HA is willing to grant; then it is the time the HA will actually provide service, less
    // than requested. 3.3: 0xffff is infinity.
    let mut c = cfg(12);
    c.max_lifetime = 1800;
    let mut h = Ha::new(c);
    let (_, r) = h.ask(
        secs(0),
        mn_sock(),
        &mn_request(0, 0xffff, COA, h.id_at(secs(0))),
    );
    assert_eq!((r.code, r.lifetime), (0, 1800));
    h.tick(secs(1799));
    assert_eq!(care_ofs(&h), vec![COA]);
    h.tick(secs(1801));
    assert!(h.ha.binding(HOME, None).is_none());
}

/// mip-4.2.3-broadcast-b-bit: the B bit reaches the data plane in the binding's tunnel (the
/// Registered event and `HomeAgent::tunnel`): B with D, tunnel the broadcasts as they are; B
/// without D, encapsulate them to the home address first (for the foreign agent); no B, none.
#[test]
fn mip_4_2_3_broadcast_b_bit() {
    // RFC 5944 4.2.3: the HA MUST NOT forward a broadcast datagram to a mobile node other than
    // those that requested it with the B bit (3.3); with D set it tunnels it to the care-of
    // address, otherwise it first encapsulates it in a unicast datagram to the home address and
    // tunnels that to the foreign agent.
    for (flags, want) in [
        (B | D, Some(BroadcastDelivery::MobileNodeDecapsulates)),
        (B, Some(BroadcastDelivery::ForeignAgentDelivers)),
        (D, None),
        (0, None),
    ] {
        let mut h = ha();
        // Flags exactly as given (mn_request always sets D).
        let request = |flags: u8, id: u64| {
            let mut m = rrq(flags, 600, HOME, VIP, COA, id);
            push_auth(&mut m, 32, MN_SPI, MN_KEY);
            m
        };
        let (_, r) = h.ask(secs(0), mn_sock(), &request(flags, h.id_at(secs(0))));
        assert_eq!(r.code, 0, "flags {flags:#x}");
        let registered: Vec<Tunnel> = events(&mut h)
            .into_iter()
            .filter_map(|e| match e {
                Event::Registered { tunnel, .. } => Some(tunnel),
                _ => None,
            })
            .collect();
        assert_eq!(registered.len(), 1, "flags {flags:#x}");
        assert_eq!(registered[0].broadcast, want, "flags {flags:#x}");
        let t = h.ha.tunnel(HOME, COA).expect("the binding's tunnel");
        assert_eq!(t.broadcast, want, "flags {flags:#x}");
        // A re-registration without B withdraws it.
        let id = h.id_at(secs(5));
        let (_, r) = h.ask(secs(5), mn_sock(), &request(flags & !B, id));
        assert_eq!(r.code, 0);
        assert_eq!(h.ha.tunnel(HOME, COA).unwrap().broadcast, None);
    }
}

/// mip-3.8.2-care-of-unusable-134: an authenticated registration (non-zero Lifetime) whose
/// care-of address is 0.0.0.0, broadcast, multicast or the home address itself is refused 134
/// and binds nothing; the same care-of address = home address with Lifetime 0 deregisters.
#[test]
fn mip_3_8_2_care_of_unusable_134() {
    // RFC 5944 3.3: the care-of address is the end of the tunnel; 3.6.1.2 and 3.8.3: the home
    // address as care-of address (with Lifetime 0) deregisters every binding. RFC 5944 names no
    // code for an unusable care-of address: 134, poorly formed request (3.4).
    for coa in [
        std::net::Ipv4Addr::UNSPECIFIED,
        std::net::Ipv4Addr::BROADCAST,
        std::net::Ipv4Addr::new(224, 0, 0, 1),
        HOME,
    ] {
        let mut h = ha();
        let (_, r) = h.ask(
            secs(0),
            mn_sock(),
            &mn_request(0, 600, coa, h.id_at(secs(0))),
        );
        assert_eq!(r.code, 134, "care-of {coa}");
        assert!(h.ha.binding(HOME, None).is_none(), "care-of {coa}");
        // Answered with the MN-HA extension: the mobile node can trust the refusal.
        assert!(r.exts.iter().any(|e| e.0 == 32), "care-of {coa}");
    }
    let mut h = ha();
    register(&mut h, secs(0), 0, COA);
    let (_, r) = h.ask(
        secs(1),
        mn_sock(),
        &mn_request(0, 0, HOME, h.id_at(secs(1))),
    );
    assert_eq!((r.code, r.lifetime), (0, 0));
    assert!(h.ha.binding(HOME, None).is_none());
}
