//! An independent black-box reading of RFC 5944 against the Home Agent (session 42, helper D).
//! Each test sends registration requests built byte by byte (`tests/common/mip.rs`) to a Home
//! Agent configured alone and reads its replies, asserting what the RFC says (quoted, or closely
//! paraphrased where marked).

mod common;

use common::mip::*;
use std::time::Duration;
use telcp::mip::HomeAgentConfig;

fn cfg() -> HomeAgentConfig {
    let mut c = base_config();
    c.seed = telcp::io::seed(42);
    c
}

fn ha() -> Ha {
    Ha::new(cfg())
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// A request from the home-address mobile node with the extensions `before` placed ahead of the
/// MN-HA authentication extension (so covered by it).
fn request_with(flags: u8, lifetime: u16, id: u64, before: &[(u8, Vec<u8>)]) -> Vec<u8> {
    let mut m = rrq(flags | D, lifetime, HOME, VIP, COA, id);
    for (t, d) in before {
        push_ext(&mut m, *t, d);
    }
    push_auth(&mut m, 32, MN_SPI, MN_KEY);
    m
}

/// RFC 5944 3.8.3.1: on acceptance the reply's "Home Address" and "Identification" are those of
/// the request (3.4: the Identification is "used for matching Registration Requests with
/// Registration Replies"), the "Home Agent" field the HA's address, Code 0, and the reply carries
/// a valid MN-HA authentication extension (3.5.2: each reply "MUST" contain one).
#[test]
fn p_3_8_3_accept_reply_fields() {
    let mut h = ha();
    let id = h.id_at(secs(1));
    let (t, r) = h.ask(secs(1), mn_sock(), &mn_request(0, 600, COA, id));
    assert_eq!(r.code, 0);
    assert_eq!(r.id, id);
    assert_eq!(r.home, HOME);
    assert_eq!(r.ha, VIP);
    assert!(r.lifetime > 0 && r.lifetime <= 600);
    assert!(r.auth_ok(32, MN_SPI, MN_KEY));
    assert_eq!(t.dst, mn_sock(), "the reply goes to the request's source");
}

/// RFC 5944 3.8.2.1 (paraphrase): "Each Registration Request MUST contain a valid Mobile-Home
/// Authentication Extension"; the HA rejects one without, or with an invalid authenticator, with
/// Code 131 "mobile node failed authentication".
#[test]
fn p_3_8_2_no_or_bad_mn_ha_auth_131() {
    let mut h = ha();
    let id = h.id_at(secs(1));
    let bare = rrq(D, 600, HOME, VIP, COA, id);
    let (_, r) = h.ask(secs(1), mn_sock(), &bare);
    assert_eq!(r.code, 131);
    let mut bad = mn_request(0, 600, COA, id + 1);
    let n = bad.len();
    bad[n - 1] ^= 1;
    let (_, r) = h.ask(secs(1), mn_sock(), &bad);
    assert_eq!(r.code, 131);
    // Nothing was bound: a deregistration of all bindings finds none to remove, and a fresh
    // request is accepted normally.
    let (_, r) = h.ask(
        secs(2),
        mn_sock(),
        &mn_request(0, 600, COA, h.id_at(secs(2))),
    );
    assert_eq!(r.code, 0);
}

/// RFC 5944 5.7.1 (timestamps): a request whose Identification timestamp is not "close enough"
/// to the HA's time of day is rejected with 133, and in that reply the HA "MUST copy the
/// low-order 32 bits of the Identification from the Request into the Reply" while the high-order
/// 32 bits carry the HA's own time (so the mobile node can resynchronise). The reply is
/// authenticated (the mobile node checks it before adjusting its clock).
#[test]
fn p_5_7_1_stale_timestamp_133() {
    let mut h = ha();
    let now_ntp = h.id_at(secs(10));
    let stale = h.id_at(secs(10)) - (3600u64 << 32) + 0x1234_5678 - (now_ntp & 0xffff_ffff);
    let (_, r) = h.ask(secs(10), mn_sock(), &mn_request(0, 600, COA, stale));
    assert_eq!(r.code, 133);
    assert_eq!(
        r.id & 0xffff_ffff,
        stale & 0xffff_ffff,
        "low-order 32 bits copied"
    );
    let ha_secs = (r.id >> 32) as i64;
    let want = (now_ntp >> 32) as i64;
    assert!(
        (ha_secs - want).abs() <= 2,
        "high-order bits: the HA's time"
    );
    assert!(r.auth_ok(32, MN_SPI, MN_KEY));
}

/// RFC 5944 5.7.1 (paraphrase of the timestamp rule): the Identification timestamp must also be
/// later than the one of the registration already accepted for the mobile node, or a captured
/// older request could be replayed within the clock tolerance. (A duplicate of the accepted
/// request itself is no exception: its timestamp is equal, not later, so it fails the same
/// check and is refused with 133, probed in `p_5_7_1_duplicate_of_the_accepted_request_133`
/// and `p_5_7_1_duplicate_after_a_later_registration_133`. 3.8.2.2's rule that a duplicate must
/// not extend the lifetime first granted applies to a request that passed 3.8.2.1's checks,
/// which under timestamps a duplicate cannot: 3.6.3 has the mobile node choose a new
/// Identification for every retransmission, and only under nonces is a retransmission sent
/// unchanged.)
#[test]
fn p_5_7_1_older_identification_133() {
    let mut h = ha();
    let id = h.id_at(secs(5));
    let req = mn_request(0, 600, COA, id);
    let (_, r) = h.ask(secs(5), mn_sock(), &req);
    assert_eq!(r.code, 0);
    let older = mn_request(0, 600, COA, id - (1u64 << 32));
    let (_, r) = h.ask(secs(6), mn_sock(), &older);
    assert_eq!(r.code, 133, "an older timestamp than the accepted one");
}

/// RFC 5944 3.8.3.1 (paraphrase): the Lifetime granted is no longer than requested, and the HA
/// "MAY" shorten it to its own maximum.
#[test]
fn p_3_8_3_lifetime_capped() {
    let mut c = cfg();
    c.max_lifetime = 300;
    let mut h = Ha::new(c);
    let (_, r) = h.ask(
        secs(1),
        mn_sock(),
        &mn_request(0, 1000, COA, h.id_at(secs(1))),
    );
    assert_eq!(r.code, 0);
    assert_eq!(r.lifetime, 300);
    let (_, r) = h.ask(
        secs(2),
        mn_sock(),
        &mn_request(0, 100, COA, h.id_at(secs(2))),
    );
    assert_eq!(r.lifetime, 100);
}

/// RFC 5944 3.8.2 / 3.6.1.2: a Lifetime of zero is a deregistration; the accepting reply carries
/// Lifetime 0.
#[test]
fn p_3_8_lifetime_zero_deregisters() {
    let mut h = ha();
    let (_, r) = h.ask(
        secs(1),
        mn_sock(),
        &mn_request(0, 600, COA, h.id_at(secs(1))),
    );
    assert_eq!(r.code, 0);
    let (_, r) = h.ask(secs(2), mn_sock(), &mn_request(0, 0, COA, h.id_at(secs(2))));
    assert_eq!(r.code, 0);
    assert_eq!(r.lifetime, 0);
}

/// RFC 5944 1.9/3.8.2: an extension of type 0-127 the HA does not recognise makes the request
/// unacceptable (rejected, 134 "poorly formed Request"), while an unrecognised extension of type
/// 128-255 "MUST be ignored" and the rest of the request processed.
#[test]
fn p_1_9_unknown_extensions() {
    let mut h = ha();
    let id = h.id_at(secs(1));
    let (_, r) = h.ask(
        secs(1),
        mn_sock(),
        &request_with(0, 600, id, &[(100, vec![1, 2])]),
    );
    assert_eq!(r.code, 134, "unknown non-skippable");
    let id = h.id_at(secs(2));
    let (_, r) = h.ask(
        secs(2),
        mn_sock(),
        &request_with(0, 600, id, &[(200, vec![1, 2])]),
    );
    assert_eq!(r.code, 0, "unknown skippable");
}

/// RFC 5944 3.8.3 (paraphrase): an HA that supports simultaneous bindings accepts S with code 0;
/// the RFC's code 1 is for "registration accepted, but simultaneous mobility bindings
/// unsupported".
#[test]
fn p_3_8_simultaneous_s_bit() {
    let mut h = ha();
    let (_, r) = h.ask(
        secs(1),
        mn_sock(),
        &mn_request(S, 600, COA, h.id_at(secs(1))),
    );
    assert_eq!(r.code, 0);
    let mut c = cfg();
    c.max_simultaneous = 1;
    let mut h = Ha::new(c);
    let (_, r) = h.ask(
        secs(1),
        mn_sock(),
        &mn_request(S, 600, COA, h.id_at(secs(1))),
    );
    assert_eq!(r.code, 1);
}

/// RFC 5944 3.8.2.2 (paraphrase): a request whose Home Agent field is not this HA's address is
/// rejected with 136 "unknown home agent address", and the reply's Home Agent field carries the
/// HA's own unicast address.
#[test]
fn p_3_8_unknown_home_agent_136() {
    let mut h = ha();
    let id = h.id_at(secs(1));
    let mut m = rrq(
        D,
        600,
        HOME,
        std::net::Ipv4Addr::new(10, 0, 255, 255),
        COA,
        id,
    );
    push_auth(&mut m, 32, MN_SPI, MN_KEY);
    let (_, r) = h.ask(secs(1), mn_sock(), &m);
    assert_eq!(r.code, 136);
    assert_ne!(r.ha, std::net::Ipv4Addr::new(10, 0, 255, 255));
    assert!(
        r.ha == HA_OWN || r.ha == VIP,
        "a unicast address of the HA: {}",
        r.ha
    );
}

/// RFC 5944 3.3 / 3.8.2: the reserved r and x bits "MUST be sent as zero; ignored on
/// reception": a request with them set is processed normally.
#[test]
fn p_3_3_reserved_bits_ignored() {
    let mut h = ha();
    let id = h.id_at(secs(1));
    let (_, r) = h.ask(
        secs(1),
        mn_sock(),
        &mn_request(R_RESERVED | X_RESERVED, 600, COA, id),
    );
    assert_eq!(r.code, 0);
}

/// RFC 5944 3.8.3 (paraphrase): every reply copies the request's Identification when it accepts
/// and, on a denial other than 133, still echoes it (the mobile node matches replies to requests
/// by it, 3.6.2.2 / 5.7).
#[test]
fn p_3_8_denial_echoes_identification() {
    let mut c = cfg();
    c.max_simultaneous = 1;
    let mut h = Ha::new(c);
    let id = h.id_at(secs(1));
    let (_, r) = h.ask(
        secs(1),
        mn_sock(),
        &request_with(0, 600, id, &[(100, vec![0])]),
    );
    assert_eq!(r.code, 134);
    assert_eq!(r.id, id);
}

/// RFC 5944 1.9 (as above): the rule for an unrecognised extension of type 0-127 holds wherever
/// it sits; one placed after the MN-HA extension (where a foreign agent's extensions go) still
/// makes the request unacceptable (134), while an unknown 128-255 one there is skipped.
#[test]
fn p_1_9_unknown_extension_after_mn_ha() {
    let mut h = ha();
    let id = h.id_at(secs(1));
    let mut m = mn_request(0, 600, COA, id);
    push_ext(&mut m, 100, &[1, 2]);
    let (_, r) = h.ask(secs(1), mn_sock(), &m);
    assert_eq!(
        r.code, 134,
        "unknown non-skippable after the MN-HA extension"
    );
    let id = h.id_at(secs(2));
    let mut m = mn_request(0, 600, COA, id);
    push_ext(&mut m, 200, &[1, 2]);
    let (_, r) = h.ask(secs(2), mn_sock(), &m);
    assert_eq!(r.code, 0, "unknown skippable after the MN-HA extension");
}

/// RFC 5944 3.8.2.1 (paraphrase): the FA-HA authentication extension is checked when the HA
/// shares a security association with the foreign agent; a request relayed by a foreign agent it
/// has none with, authenticated by the mobile node, is accepted.
#[test]
fn p_3_8_2_fa_without_association_accepted() {
    let mut h = ha();
    let other_fa = std::net::Ipv4Addr::new(203, 0, 113, 77);
    let mut m = rrq(0, 600, HOME, VIP, other_fa, h.id_at(secs(1)));
    push_auth(&mut m, 32, MN_SPI, MN_KEY);
    let (t, r) = h.ask(secs(1), sock(other_fa, 434), &m);
    assert_eq!(r.code, 0);
    assert_eq!(t.dst, sock(other_fa, 434));
}

/// RFC 5944 5.7.1 / 5.6 (paraphrase): after a 133, the mobile node takes the HA's time from the
/// high-order 32 bits of the reply's Identification and registers again; that request (its
/// timestamp now in the HA's time) is accepted.
#[test]
fn p_5_7_1_resynchronised_request_accepted() {
    let mut h = ha();
    let skewed = h.id_at(secs(10)) - (7200u64 << 32);
    let (_, r) = h.ask(secs(10), mn_sock(), &mn_request(0, 600, COA, skewed));
    assert_eq!(r.code, 133);
    let again = (r.id & !0xffff_ffff) | 0x0bad_cafe;
    let (_, r) = h.ask(secs(11), mn_sock(), &mn_request(0, 600, COA, again));
    assert_eq!(r.code, 0);
    assert_eq!(r.id, again);
}

/// RFC 5944 5.7.1: a timestamp well outside the HA's tolerance in the future (30 s ahead, the
/// HA's tolerance being 7 s, the RFC's suggested default) is as unacceptable as a stale one.
#[test]
fn p_5_7_1_future_timestamp_133() {
    let mut h = ha();
    let ahead = h.id_at(secs(40));
    let (_, r) = h.ask(secs(10), mn_sock(), &mn_request(0, 600, COA, ahead));
    assert_eq!(r.code, 133);
    let near = h.id_at(secs(13));
    let (_, r) = h.ask(secs(10), mn_sock(), &mn_request(0, 600, COA, near));
    assert_eq!(r.code, 0, "3 s ahead is within tolerance");
}

/// RFC 5944 3.8.2: a deregistration (Lifetime 0) for a mobile node with no binding is still
/// answered as accepted, Lifetime 0 (nothing to remove is not an error).
#[test]
fn p_3_8_deregistration_without_binding() {
    let mut h = ha();
    let (_, r) = h.ask(secs(1), mn_sock(), &mn_request(0, 0, COA, h.id_at(secs(1))));
    assert_eq!((r.code, r.lifetime), (0, 0));
}

/// RFC 5944 3.8.3 (paraphrase): the reply is sent to the source address and UDP port of the
/// request, an ephemeral port included.
#[test]
fn p_3_8_3_reply_to_source_port() {
    let mut h = ha();
    let from = sock(COA, 50123);
    let (t, r) = h.ask(secs(1), from, &mn_request(0, 600, COA, h.id_at(secs(1))));
    assert_eq!(r.code, 0);
    assert_eq!(t.dst, from);
    assert_eq!(
        t.src.map(|s| s.port()),
        Some(434),
        "from the port the request went to"
    );
}

/// The home agent's time, in whole NTP seconds, `at` after start.
fn ha_seconds(h: &Ha, at: Duration) -> i64 {
    (h.id_at(at) >> 32) as i64
}

/// RFC 5944 5.7.1 with 3.8.2.1, 3.8.2.3 and 3.8.3 (paraphrased): under timestamps the HA takes an
/// Identification as valid only when it is close enough to its own clock and later than every
/// one it accepted before from that mobile node (the field doubles as a sequence number, so a
/// delayed copy of an earlier message cannot be replayed inside the clock tolerance); 3.6.3:
/// the mobile node picks a new Identification for each retransmission, so an exact copy (same
/// bytes, same Identification) of the request the HA accepted, arriving again within its
/// lifetime and within the tolerance, is not a retransmission but a network duplicate or a
/// replay. It fails the validity checks (3.8.2.1): the HA denies it with 133 (3.8.2.3), the
/// reply's Identification carrying the request's low-order 32 bits and the HA's own time in the
/// high-order 32 (5.7.1), MN-HA authenticated (3.5.2), and the binding list is left as it was:
/// same care-of address and Identification, and the lifetime ends when the first grant ends
/// (which is 3.8.2.2's "a duplicate must not extend the lifetime" too).
#[test]
fn p_5_7_1_duplicate_of_the_accepted_request_133() {
    let mut h = ha();
    let id = h.id_at(secs(5));
    let req = mn_request(0, 100, COA, id);
    let (_, r) = h.ask(secs(5), mn_sock(), &req);
    assert_eq!((r.code, r.lifetime, r.id), (0, 100, id));
    // The same bytes 2 s later: inside the 7 s tolerance, inside the lifetime.
    let (t, r) = h.ask(secs(7), mn_sock(), &req);
    assert_eq!(r.code, 133, "not later than the accepted Identification");
    assert_eq!(
        r.id & 0xffff_ffff,
        id & 0xffff_ffff,
        "low-order 32 bits copied"
    );
    assert!(
        ((r.id >> 32) as i64 - ha_seconds(&h, secs(7))).abs() <= 1,
        "high-order 32 bits: the HA's time"
    );
    assert_eq!(r.home, HOME);
    assert!(r.auth_ok(32, MN_SPI, MN_KEY));
    assert_eq!(t.dst, mn_sock());
    let b =
        h.ha.binding(HOME, None)
            .expect("the accepted binding stays");
    assert_eq!(b.identification, id);
    assert_eq!(
        b.care_of.iter().map(|c| c.address).collect::<Vec<_>>(),
        [COA]
    );
    h.tick(secs(104));
    assert!(h.ha.binding(HOME, None).is_some(), "within the first grant");
    h.tick(secs(106));
    assert!(
        h.ha.binding(HOME, None).is_none(),
        "the lifetime ends with the first grant (5 s + 100 s)"
    );
}

/// RFC 5944 5.7.1 (paraphrased, as above): a copy of an accepted request arriving after the
/// mobile node's later request was accepted carries an Identification older than the last one
/// accepted, the "delayed duplicate" the timestamp's sequence rule is there to stop: 133 with
/// the request's low-order 32 bits and the HA's time, and the later registration stands
/// (3.8.2.3: a denied request changes no binding), its care-of address, Identification and
/// lifetime unchanged.
#[test]
fn p_5_7_1_duplicate_after_a_later_registration_133() {
    let mut h = ha();
    let first_id = h.id_at(secs(5));
    let first = mn_request(0, 100, COA, first_id);
    let (_, r) = h.ask(secs(5), mn_sock(), &first);
    assert_eq!(r.code, 0);
    let later_id = h.id_at(secs(6));
    let (_, r) = h.ask(secs(6), mn_sock(), &mn_request(0, 100, COA2, later_id));
    assert_eq!((r.code, r.id), (0, later_id));
    let (t, r) = h.ask(secs(7), mn_sock(), &first);
    assert_eq!(r.code, 133, "older than the last accepted Identification");
    assert_eq!(r.id & 0xffff_ffff, first_id & 0xffff_ffff);
    assert!(((r.id >> 32) as i64 - ha_seconds(&h, secs(7))).abs() <= 1);
    assert!(r.auth_ok(32, MN_SPI, MN_KEY));
    assert_eq!(t.dst, mn_sock());
    let b = h.ha.binding(HOME, None).expect("the later binding stays");
    assert_eq!(b.identification, later_id);
    assert_eq!(
        b.care_of.iter().map(|c| c.address).collect::<Vec<_>>(),
        [COA2]
    );
    h.tick(secs(105));
    assert!(
        h.ha.binding(HOME, None).is_some(),
        "the later grant runs to 106 s"
    );
    h.tick(secs(107));
    assert!(h.ha.binding(HOME, None).is_none());
}
