//! Fuzz harnesses for the Mobile IPv4 subsystem.

use crate::mip::wire::auth::PreparedKey;
use crate::mip::wire::auth::{AuthAlgorithm, SaTable, SecurityAssociation};
use crate::mip::wire::{
    AuthRef, Extension, ExtensionType, GEN_AUTH_MN_AAA, Header, Message, REVOCATION_I_BIT,
    Revocation, RevocationAck, RevocationFlags, Summary, append_auth,
};
use ipnetwork::Ipv4Network;

/// The fixed part of a registration request (RFC 5944 3.3: type 1, 24 octets), all else zero:
/// a message that parses, whose summary is left in place before an in-place parse.
const STALE_REQUEST: [u8; 24] = {
    let mut b = [0; 24];
    b[0] = 1;
    b
};

/// Parses arbitrary bytes as a registration message (the batch's in-place summary equal to
/// [`Summary::parse`]); on success checks `emit(parse(b)) == b`,
/// `parse(emit(m)) == m`, `encoded_len`, and runs authenticator verification (which must not
/// panic whatever the message says).
pub fn message(data: &[u8]) {
    revocation_messages(data);
    let header = Header::parse(data);
    let summary = Summary::parse(data);
    assert_eq!(
        summary.is_ok(),
        Message::parse(data).is_ok(),
        "Summary and Message disagree on validity"
    );
    // The batch's in-place parse (over a summary left from an earlier message, as in its
    // array) summarises as `Summary::parse` does.
    let mut in_place = Summary::parse(&STALE_REQUEST).ok();
    Summary::parse_into(data, &mut in_place);
    assert_eq!(
        in_place,
        summary.as_ref().ok().copied(),
        "parse_into != parse"
    );
    match Message::parse(data) {
        Ok(m) => {
            check_summary(&m, data, summary.ok());
            let out = m.to_vec();
            assert_eq!(out, data, "emit(parse(b)) != b");
            assert_eq!(m.encoded_len(), data.len());
            let again = Message::parse(&out).ok();
            assert_eq!(again.as_ref(), Some(&m), "parse(emit(m)) != m");
            assert_eq!(header.ok().map(|h| h.0), Some(m.header));
            let mut table = SaTable::new();
            table.allow_keyed_md5(true);
            for (spi, alg) in [
                (256, AuthAlgorithm::HmacMd5),
                (257, AuthAlgorithm::KeyedMd5PrefixSuffix),
            ] {
                let _ = table.insert(SecurityAssociation::new(spi, alg, b"fuzz".to_vec()));
            }
            for t in [
                ExtensionType::MN_HA_AUTH,
                ExtensionType::MN_FA_AUTH,
                ExtensionType::FA_HA_AUTH,
                ExtensionType::GENERALIZED_AUTH,
            ] {
                let _ = table.verify(&m, data, t);
            }
            for i in 0..m.extensions.len() {
                let _ = m.authenticated_len(i);
            }
            let _ = m.unknown_non_skippable();
            let _ = m.nai();
            let _ = m.into_owned();
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
}

/// The RFC 3543 Registration Revocation and Acknowledgement parsers: round trips both ways on
/// whatever parses, FA-HA verification never panics.
fn revocation_messages(data: &[u8]) {
    let key = PreparedKey::new(AuthAlgorithm::HmacMd5, b"fuzz");
    if let Ok(m) = Revocation::parse(data) {
        assert_eq!(m.to_vec(), data, "emit(parse(b)) != b (revocation)");
        assert_eq!(m.encoded_len(), data.len());
        assert_eq!(Revocation::parse(data).ok().as_ref(), Some(&m));
        let _ = m.verify_fa_ha(data, 256, &key);
        let _ = m.verify_mn_ha(data, 256, &key);
        for i in 0..m.extensions.len() {
            assert!(m.authenticated_len(i).is_none_or(|n| n <= data.len()));
        }
        let _ = m.into_owned();
    }
    if let Ok(m) = RevocationAck::parse(data) {
        assert_eq!(m.to_vec(), data, "emit(parse(b)) != b (revocation ack)");
        assert_eq!(m.encoded_len(), data.len());
        let _ = m.verify_fa_ha(data, 256, &key);
        let _ = m.verify_mn_ha(data, 256, &key);
        let _ = m.into_owned();
    }
}

/// The one-pass [`Summary`] finds what [`Message`] finds.
fn check_summary(m: &Message<'_>, data: &[u8], s: Option<Summary<'_>>) {
    let Some(s) = s else {
        panic!("Summary refused a message Message accepted");
    };
    assert_eq!(s.header, m.header);
    assert_eq!(s.nai, m.nai());
    assert_eq!(s.unknown_non_skippable, m.unknown_non_skippable());
    let authorizing = m
        .extensions
        .iter()
        .filter(|e| match e {
            Extension::Auth { ext_type, .. } => *ext_type == ExtensionType::MN_HA_AUTH,
            Extension::GeneralizedAuth { subtype, .. } => *subtype == GEN_AUTH_MN_AAA,
            _ => false,
        })
        .count();
    assert_eq!(usize::from(s.authorizing), authorizing.min(255));
    let fa_ha = m
        .extensions
        .iter()
        .filter(|e| matches!(e, Extension::Auth { ext_type, .. } if *ext_type == ExtensionType::FA_HA_AUTH))
        .count();
    assert_eq!(usize::from(s.fa_ha_count), fa_ha.min(255));
    // The NAI a home agent acts on comes before the first MN-HA extension.
    let covered = match (
        m.position(ExtensionType::MN_NAI),
        m.position(ExtensionType::MN_HA_AUTH),
    ) {
        (Some(n), Some(a)) if n > a => None,
        _ => m.nai(),
    };
    assert_eq!(s.covered_nai(), covered);
    for (t, found) in [
        (ExtensionType::MN_HA_AUTH, s.mn_ha),
        (ExtensionType::FA_HA_AUTH, s.fa_ha),
    ] {
        let expected = m.position(t).and_then(|i| {
            let (spi, authenticator) = m.extensions.get(i)?.spi_and_authenticator()?;
            Some(AuthRef {
                spi,
                authenticator,
                covered_len: m.authenticated_len(i)?,
            })
        });
        assert_eq!(found, expected, "{t:?}");
        if let Some(a) = found {
            assert!(a.covered_len <= data.len());
        }
    }
}

/// Drives a [`crate::mip::HomeAgent`] (one of a two-member cluster, small bounds) with
/// operations decoded from `data`: arbitrary datagrams, well-authenticated requests with fuzzed
/// fields, cluster messages under the right key, time steps and commands; with keys from AAA
/// (first byte bit 5: only two mobile nodes keep a configured key) the key requests are
/// answered from the fuzz bytes (the right key, a wrong, short or empty one, a denial, or nothing until
/// the timeout). Datagrams and requests of ops with the high bit set are fed in batches
/// ([`HomeAgent::handle_batch`]). After each operation the table bounds must hold. `start` is the
/// base instant the run starts at (the caller's clock; the harness never reads one).
pub fn home_agent(start: Instant, data: &[u8]) {
    let Ok(ha) = HomeAgent::new(ha_config(data), start) else {
        return;
    };
    let mut run = HaRun {
        ha,
        fa_known: data.first().is_some_and(|b| b & 4 != 0),
        start,
        now: start,
        pn: 0,
        from: SocketAddr::from(([198, 51, 100, 1], 434)),
        to: SocketAddr::from((HA_VIP, 434)),
        sa: ha_mn_sa(),
        key_requests: Vec::new(),
        batch: None,
    };
    let mut i = 1usize;
    while let Some(&op) = data.get(i) {
        i += 1;
        let arg = data.get(i).copied().unwrap_or(0);
        // Datagrams and requests of an op with the high bit set wait for a batch
        // (`HomeAgent::handle_batch`), fed when another op comes or ten are waiting
        // (more than one group of `md5x::GROUP`: four- and eight-lane passes).
        if op & 0x80 != 0 && op % 6 < 2 {
            run.batch.get_or_insert_with(Vec::new);
        }
        match op % 6 {
            0 => {
                let d = take(data, &mut i, arg);
                run.deliver(None, d.to_vec());
            }
            1 => {
                i += 1;
                let b = data.get(i).copied().unwrap_or(0);
                i += 1;
                run.request(arg, b);
            }
            2 => {
                run.now += Duration::from_millis(u64::from(arg) * 40);
                i += 1;
                run.ha.handle_timeout(run.now);
            }
            3 => {
                i += 1;
                if arg & 1 == 0 {
                    run.ha.withdraw();
                } else {
                    run.ha.advertise();
                }
            }
            4 => {
                let d = take(data, &mut i, arg);
                if !run.cluster_message(arg, d) {
                    return;
                }
            }
            _ => {
                i += 1;
                match arg % 4 {
                    0 => {
                        let _ = run.ha.poll_timeout();
                        run.answer_key(arg >> 2);
                    }
                    1 => run.revoke(arg),
                    _ => run.revocation_message(arg),
                }
            }
        }
        if op & 0x80 == 0 || op % 6 >= 2 || run.batch.as_ref().is_some_and(|b| b.len() >= 10) {
            run.flush_batch();
        }
        while run.ha.poll_transmit().is_some() {}
        while let Some(e) = run.ha.poll_event() {
            if let crate::mip::Event::KeyRequest { id, .. } = e
                && run.key_requests.len() < 64
            {
                run.key_requests.push(id);
            }
        }
        run.check_bounds();
    }
    run.flush_batch();
    run.check_bounds();
}

use crate::MacAddr;
use crate::health::NodeId;
use crate::mip::cluster::{Body, ClusterMessage};
use crate::mip::wire::{Builder, Reply, ReplyCode, Request, RequestFlags};
use crate::mip::{
    ClientConfig, FaEvent, ForeignAgent, ForeignAgentConfig, ForwardMode, HomeAgent,
    HomeAgentConfig, Member, MnId, MobileNodeClient, MobileNodeKey,
};
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

/// The cluster key of the harness's Home Agent (and of the messages it forges as member 2).
const CLUSTER_KEY: &[u8] = b"fuzz cluster key";
const HA_VIP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
/// The NTP seconds of the harness's wall clock at `start`.
const HA_WALL: u64 = 1_700_000_000u64 + 2_208_988_800u64;

fn ha_mn_sa() -> SecurityAssociation {
    SecurityAssociation::new(0x100, AuthAlgorithm::HmacMd5, b"mn-ha key (fuzz)".to_vec())
}

fn ha_fa_sa() -> SecurityAssociation {
    SecurityAssociation::new(0x200, AuthAlgorithm::HmacMd5, b"fa-ha key (fuzz)".to_vec())
}

/// `data[i + 1..]`, at most `n` bytes of it; moves `i` past them.
fn take<'a>(data: &'a [u8], i: &mut usize, n: u8) -> &'a [u8] {
    let end = (*i + 1 + usize::from(n)).min(data.len());
    let d = data.get(*i + 1..end).unwrap_or(&[]);
    *i = end;
    d
}

/// Member 1 of a two-member cluster with small bounds; the mode and the layer-2 notices from
/// the first fuzz byte.
fn ha_config(data: &[u8]) -> HomeAgentConfig {
    let member = |n: u8, backup: u32| Member {
        node: NodeId(u32::from(n)),
        addr: SocketAddr::from(([192, 0, 2, n], 434)),
        mac: MacAddr::local(u32::from(n)),
        backups: vec![NodeId(backup)],
    };
    let mut cfg = HomeAgentConfig::new(
        NodeId(1),
        HA_VIP,
        Ipv4Network::new(Ipv4Addr::new(10, 0, 0, 0), 16)
            .unwrap_or_else(|_| Ipv4Network::from(HA_VIP)),
        vec![member(1, 2), member(2, 1)],
        CLUSTER_KEY,
    );
    cfg.seed = crate::io::seed(0);
    cfg.mode = if data.first().is_some_and(|b| b & 1 == 1) {
        ForwardMode::Layer3
    } else {
        ForwardMode::Layer2
    };
    cfg.layer2_notices = data.first().is_some_and(|b| b & 2 == 0);
    cfg.max_bindings = 8;
    cfg.max_pending = 4;
    cfg.max_simultaneous = 2;
    cfg.max_transmits = 64;
    cfg.max_events = 64;
    cfg.max_replication_queue = 16;
    cfg.pool = Ipv4Network::new(Ipv4Addr::new(10, 0, 1, 0), 28).ok();
    // RFC 3543 and RFC 4433 from the first byte: a foreign agent with an FA-HA association
    // (revocation negotiated with it), the dynamic-HA policy.
    if data.first().is_some_and(|b| b & 4 != 0) {
        cfg.revocation = true;
        cfg.max_revocations = 2;
        cfg.foreign_agents = vec![(Ipv4Addr::new(198, 51, 100, 1), ha_fa_sa())];
    }
    cfg.dynamic_ha = match data.first().map(|b| (b >> 3) & 3) {
        Some(1) => crate::mip::DynamicHaPolicy::Serve,
        Some(2) => crate::mip::DynamicHaPolicy::Redirect,
        _ => crate::mip::DynamicHaPolicy::Off,
    };
    // Tunnels (RFC 3024, 3519, 6245) from the first byte's high bits.
    let t = data.first().map_or(0, |b| b >> 5);
    cfg.tunnels = crate::mip::TunnelConfig {
        udp: t & 1 != 0,
        minimal: t & 2 != 0,
        reverse: match t {
            4 | 5 => crate::mip::ReverseTunnelling::Mandatory,
            6 => crate::mip::ReverseTunnelling::Off,
            _ => crate::mip::ReverseTunnelling::Allowed,
        },
        ..Default::default()
    };
    let sa = ha_mn_sa();
    // Keys from AAA: only mobile nodes 0 and 1 keep a configured key.
    let aaa = data.first().is_some_and(|b| b & 0x20 != 0);
    let configured = if aaa { 2 } else { 4 };
    for k in 0..configured {
        cfg.mobile_nodes.push(MobileNodeKey {
            id: MnId::Home(Ipv4Addr::new(10, 0, 5, k)),
            sa: sa.clone(),
        });
    }
    if aaa {
        cfg.aaa = Some(crate::mip::AaaConfig {
            max_pending: 2,
            timeout: Duration::from_secs(1),
            max_keys: 3,
        });
    } else {
        cfg.mobile_nodes.push(MobileNodeKey {
            id: MnId::Nai(b"n@x".as_slice().into()),
            sa,
        });
    }
    cfg
}

/// The Home Agent under test and what the harness feeds it from.
struct HaRun {
    ha: HomeAgent,
    /// The foreign agent (`from`) has an FA-HA association: requests carry the Revocation
    /// Support extension and FA-HA authentication.
    fa_known: bool,
    start: Instant,
    now: Instant,
    pn: u64,
    from: SocketAddr,
    to: SocketAddr,
    sa: SecurityAssociation,
    /// Key requests not answered yet (at most 64 remembered).
    key_requests: Vec<crate::mip::KeyRequestId>,
    /// Datagrams waiting for a batch (link-layer source, payload), when batching.
    batch: Option<Vec<(Option<MacAddr>, Vec<u8>)>>,
}

impl HaRun {
    /// Feeds a datagram from the foreign agent's address, or queues it for the batch.
    fn deliver(&mut self, link_src: Option<MacAddr>, payload: Vec<u8>) {
        match &mut self.batch {
            Some(b) => b.push((link_src, payload)),
            None => {
                let _ = self
                    .ha
                    .handle_frame(self.now, link_src, self.from, self.to, &payload);
            }
        }
    }

    /// Feeds the datagrams waiting for a batch in one [`HomeAgent::handle_batch`].
    fn flush_batch(&mut self) {
        let Some(waiting) = self.batch.take() else {
            return;
        };
        let mut b: Vec<crate::mip::Datagram<'_>> = waiting
            .iter()
            .map(|(mac, d)| crate::mip::Datagram {
                link_src: *mac,
                ..crate::mip::Datagram::new(self.from, self.to, d)
            })
            .collect();
        self.ha.handle_batch(self.now, &mut b);
    }

    /// Answers the oldest key request as `how` says: the right key (with a lifetime and maybe a
    /// home address from AAA), a wrong one of 128 bits, a short or empty one (refused, the
    /// request stays parked), a denial of either kind, or an id never given; any answer leaves
    /// the bounds intact.
    fn answer_key(&mut self, how: u8) {
        use crate::mip::{AaaKey, DenyReason, KeyError, KeyRequestId};
        let Some(&id) = self.key_requests.first() else {
            return;
        };
        let key = |k: &[u8]| AaaKey {
            key: k.to_vec(),
            lifetime: Duration::from_millis(u64::from(how) * 100),
            home_address: (how & 8 != 0).then_some(Ipv4Addr::new(10, 0, 1, how % 16)),
        };
        let now = self.now;
        let r = match how % 7 {
            0 | 1 => self.ha.provide_key(now, id, key(&ha_mn_sa().key)),
            // 128 bits, but not the mobile node's: the request is refused (131).
            2 => self.ha.provide_key(now, id, key(b"a wrong key, 128b")),
            // Under 128 bits (RFC 5944 section 5.1): refused as the embedder's error, the
            // request stays parked.
            3 => {
                let short: &[u8] = if how & 16 != 0 { b"wrong" } else { b"" };
                let r = self.ha.provide_key(now, id, key(short));
                let too_short = KeyError::KeyTooShort {
                    octets: short.len(),
                    min: crate::io::auth::MIN_KEY_LEN,
                };
                // (Or the request timed out already.)
                assert!(r == Err(too_short) || r == Err(KeyError::UnknownRequest(id)));
                r
            }
            4 => self.ha.deny(now, id, DenyReason::AuthenticationFailed),
            5 => self
                .ha
                .deny(now, id, DenyReason::AdministrativelyProhibited),
            _ => {
                let ghost = KeyRequestId(u64::MAX - u64::from(how));
                let r = self.ha.deny(now, ghost, DenyReason::AuthenticationFailed);
                assert_eq!(r, Err(KeyError::UnknownRequest(ghost)));
                return;
            }
        };
        if !matches!(r, Err(KeyError::BadKey | KeyError::KeyTooShort { .. })) {
            self.key_requests.remove(0);
        }
    }

    /// A well-authenticated Registration Request with fuzzed fields, straight from a foreign
    /// agent, forwarded by the other member at layer 3 or at layer 2 (its MAC as source).
    fn request(&mut self, arg: u8, b: u8) {
        let elapsed = self.now.saturating_duration_since(self.start).as_secs();
        let home = if arg & 0x10 != 0 {
            Ipv4Addr::UNSPECIFIED
        } else {
            Ipv4Addr::new(10, 0, 5, arg % 5)
        };
        // A co-located mobile node (D bit, RFC 3543 negotiated in its own request).
        let colocated = !self.fa_known && arg & 0x40 != 0;
        let mut bld = Builder::request(Request {
            // S, and the tunnel flags M, G and T; D when co-located.
            flags: RequestFlags(b & 0x9a | if colocated { RequestFlags::D } else { 0 }),
            lifetime: u16::from(b) * 3,
            home_address: home,
            home_agent: match (arg & 0x20 != 0, b & 0x40 != 0) {
                (true, false) => Ipv4Addr::new(1, 2, 3, 4),
                // RFC 4433: dynamic HA assignment.
                (true, true) => Ipv4Addr::BROADCAST,
                (false, true) => Ipv4Addr::UNSPECIFIED,
                (false, false) => HA_VIP,
            },
            care_of: Ipv4Addr::new(203, 0, 113, b % 4),
            identification: ((HA_WALL + elapsed) << 32) | u64::from(b),
        });
        if arg & 0x10 != 0 {
            bld = bld.nai(b"n@x");
        }
        // RFC 3519 UDP Tunnel Request and RFC 6245 GRE Key, covered by MN-HA.
        if b & 0x04 != 0 {
            bld = bld.extension(Extension::UdpTunnelRequest {
                subtype: 0,
                reserved1: 0,
                flags: b & 0x80,
                encapsulation: [4, 47, 55, 9][usize::from(arg & 3)],
                reserved2: 0,
            });
        }
        // The GRE key as RFC 6245's extension or 3GPP2's CVSE (X.S0011-003).
        if b & 0x01 != 0 && arg & 0x40 != 0 {
            bld = bld.extension(Extension::GreKeyCvse {
                reserved: 0,
                key: u32::from(arg),
            });
        } else if b & 0x01 != 0 {
            bld = bld.extension(Extension::GreKey {
                subtype: 0,
                key: u32::from(arg),
            });
        }
        if colocated {
            bld = bld.extension(Extension::RevocationSupport {
                flags: 0,
                timestamp: 0,
            });
        }
        bld = bld.mn_ha_auth(&self.sa);
        let fa_sa = ha_fa_sa();
        if self.fa_known {
            bld = bld
                .extension(Extension::RevocationSupport {
                    flags: if b & 1 == 1 { REVOCATION_I_BIT } else { 0 },
                    timestamp: u32::from(b),
                })
                .fa_ha_auth(&fa_sa);
        }
        let bytes = bld.to_vec();
        let from = self.from;
        if arg & 0x40 != 0 {
            self.pn += 1;
            let m = ClusterMessage {
                sender: NodeId(2),
                incarnation: 1,
                pn: self.pn,
                body: Body::Forward {
                    fa: from,
                    request: &bytes,
                },
            }
            .to_vec(CLUSTER_KEY);
            self.deliver(None, m);
        } else if arg & 0x80 != 0 {
            self.deliver(Some(MacAddr::local(2)), bytes);
        } else {
            self.deliver(None, bytes);
        }
    }

    /// The revoke command for a mobile node the harness registers (RFC 3543 section 4.1).
    fn revoke(&mut self, arg: u8) {
        let mn = if arg & 0x10 != 0 {
            MnId::Nai(b"n@x".as_slice().into())
        } else {
            MnId::Home(Ipv4Addr::new(10, 0, 5, (arg >> 2) % 5))
        };
        let _ = self.ha.revoke(self.now, &mn, arg & 0x20 != 0);
    }

    /// A Registration Revocation from the foreign agent, or an Acknowledgement of one of this
    /// HA's, with fuzzed identifier and home address, FA-HA authenticated unless `arg` says not.
    fn revocation_message(&mut self, arg: u8) {
        let home_address = Ipv4Addr::new(10, 0, 5, (arg >> 2) % 5);
        let id = u32::from(arg >> 4) + ((HA_WALL as u32) & 0xffff_0000);
        let mut bytes = if arg % 4 == 2 {
            Revocation {
                reserved: 0,
                flags: RevocationFlags(if arg & 0x80 != 0 {
                    RevocationFlags::A
                } else {
                    0
                }),
                home_address,
                home_domain: HA_VIP,
                foreign_domain: Ipv4Addr::new(198, 51, 100, 1),
                revocation_id: id,
                extensions: Vec::new(),
            }
            .to_vec()
        } else {
            RevocationAck {
                reserved: 0,
                flags: RevocationFlags(0),
                home_address,
                revocation_id: id,
                extensions: Vec::new(),
            }
            .to_vec()
        };
        let fa_key = ha_fa_sa().key;
        let key: &[u8] = if arg & 0x40 != 0 { b"wrong" } else { &fa_key };
        append_auth(
            &mut bytes,
            ExtensionType::FA_HA_AUTH,
            0x200,
            AuthAlgorithm::HmacMd5,
            key,
        );
        let _ = self
            .ha
            .handle_datagram(self.now, self.from, self.to, &bytes);
    }

    /// A cluster message body from fuzz bytes, correctly authenticated, its kind re-tagged from
    /// the fuzz data so every body parser runs. False when no MAC could be keyed.
    fn cluster_message(&mut self, arg: u8, d: &[u8]) -> bool {
        self.pn += 1;
        let mut m = ClusterMessage {
            sender: NodeId(2),
            incarnation: 1,
            pn: self.pn,
            body: Body::Relay { reply: d },
        }
        .to_vec(CLUSTER_KEY);
        if let Some(k) = m.get_mut(4) {
            *k = 1 + (arg % 5);
        }
        let l = m.len().saturating_sub(16);
        m.truncate(l);
        let mut mac = match <hmac::Hmac<md5::Md5> as hmac::Mac>::new_from_slice(CLUSTER_KEY) {
            Ok(x) => x,
            Err(_) => return false,
        };
        hmac::Mac::update(&mut mac, &m);
        m.extend_from_slice(&hmac::Mac::finalize(mac).into_bytes());
        let member2 = SocketAddr::from(([192, 0, 2, 2], 434));
        let _ = self.ha.handle_datagram(self.now, member2, self.to, &m);
        true
    }

    /// The table bounds: bindings, pending, simultaneous care-of addresses; every lifetime
    /// within max_lifetime (1800 s), every temporary binding within pending_timeout (3 s),
    /// whichever path made it (a replicated or taken-over binding as much as a registered one).
    fn check_bounds(&self) {
        let t = self.ha.bindings();
        assert!(t.len() <= 8, "binding bound");
        assert!(t.pending_len() <= 4, "pending bound");
        assert!(
            t.iter().all(|(_, b)| b.care_of.len() <= 2),
            "simultaneous bound"
        );
        let lifetime = self.now + Duration::from_secs(1800);
        assert!(
            t.iter()
                .flat_map(|(_, b)| b.care_of.iter())
                .all(|c| c.expires().is_some_and(|e| e <= lifetime)),
            "lifetime bound"
        );
        let pending = self.now + Duration::from_secs(3);
        assert!(
            t.iter()
                .filter_map(|(_, b)| b.pending())
                .all(|p| p.deadline <= pending),
            "pending timeout bound"
        );
    }
}

/// Drives a [`crate::mip::ForeignAgent`] (4 pending requests; FA-HA authentication when the first
/// byte is odd) with operations decoded from `data`: arbitrary datagrams from a mobile node or
/// the home agent, requests with fuzzed identifications from several mobile nodes, replies from
/// the home agent (authenticated or not) and time steps. Checks after each: a relayed reply goes
/// to a mobile node, a relayed request to the home agent, the transmit queue stays bounded, the
/// next deadline is not in the past after a timeout, the visitor list stays within its bound and
/// an accepted registration is reported only for a reply that accepted. `start` is the base
/// instant the run starts at (the caller's clock; the harness never reads one).
pub fn foreign_agent(start: Instant, data: &[u8]) {
    let ha = SocketAddr::from(([192, 0, 2, 1], 434));
    let sa = SecurityAssociation::new(0x200, AuthAlgorithm::HmacMd5, b"fa-ha key (fuzz)".to_vec());
    let cfg = ForeignAgentConfig {
        home_agent: ha,
        fa_ha: data.first().is_some_and(|b| b & 1 == 1).then(|| sa.clone()),
        max_pending: 4,
        pending_timeout: Duration::from_secs(7),
    };
    let Ok(mut fa) = ForeignAgent::new(cfg, start) else {
        return;
    };
    if data.first().is_some_and(|b| b & 2 != 0) {
        fa.support_revocation(data.first().is_some_and(|b| b & 4 != 0));
    }
    let mut now = start;
    let mut rest = data.get(1..).unwrap_or_default();
    while let Some((&op, tail)) = rest.split_first() {
        let (&a, tail) = tail.split_first().unwrap_or((&0, &[]));
        let (&b, tail) = tail.split_first().unwrap_or((&0, &[]));
        rest = tail;
        if op % 5 < 2 {
            let n = usize::from(a).min(rest.len());
            let (raw, tail) = rest.split_at(n);
            rest = tail;
            let from = if op % 5 == 0 { fa_mn(b) } else { ha };
            let _ = fa.handle_datagram(now, from, FA_ADDR, raw);
        } else if op % 5 == 4 {
            now += Duration::from_millis(u64::from(a) * 40);
            fa.handle_timeout(now);
            assert!(
                fa.poll_timeout().is_none_or(|d| d > now),
                "nothing left due"
            );
        } else {
            fa_registration(&mut fa, now, op % 5 == 2, (a, b), &sa);
        }
        check_fa(&mut fa, ha);
    }
}

/// The mobile node of [`mobile_node`]: a co-located care-of address, home 10.0.5.7.
const MN_ADDR: SocketAddr = SocketAddr::V4(std::net::SocketAddrV4::new(
    Ipv4Addr::new(198, 51, 100, 7),
    434,
));

/// A mobile node with a co-located care-of address (RFC 3543 revocation supported when the first
/// byte is odd) fed a script of operations (op, a, b): a raw datagram of `a` bytes from a home
/// agent address, a Registration Revocation of identifier `a` (the A bit, the home address and
/// the MN-HA key right or wrong by the bits of `b`), time passing, a registration or a
/// deregistration. After each: acknowledgements go back to the revocation's sender and requests
/// to the home agent, an accepted revocation leaves no registration in force, nothing is due in
/// the past.
pub fn mobile_node(start: Instant, data: &[u8]) {
    let sa = ha_mn_sa();
    let ha = SocketAddr::from((HA_VIP, 434));
    let home = Ipv4Addr::new(10, 0, 5, 7);
    let wall = Duration::from_secs(HA_WALL - 2_208_988_800);
    let cfg = ClientConfig::new(home, sa.clone(), ha, MN_ADDR, wall);
    let Ok(mut mn) = MobileNodeClient::new(cfg, start) else {
        return;
    };
    mn.support_revocation(data.first().is_some_and(|b| b & 1 == 1));
    let mut now = start;
    let mut rest = data.get(1..).unwrap_or_default();
    while let Some((&op, tail)) = rest.split_first() {
        let (&a, tail) = tail.split_first().unwrap_or((&0, &[]));
        let (&b, tail) = tail.split_first().unwrap_or((&0, &[]));
        rest = tail;
        let from = SocketAddr::from(([192, 0, 2, 1 + b % 3], 434));
        match op % 4 {
            0 => {
                let n = usize::from(a).min(rest.len());
                let (raw, tail) = rest.split_at(n);
                rest = tail;
                let _ = mn.handle_datagram(now, from, MN_ADDR, raw);
            }
            1 => {
                let mut flags = if b & 0x20 == 0 { RevocationFlags::A } else { 0 };
                flags |= u16::from(b & 1) << 14;
                let mut rev = Revocation {
                    reserved: 0,
                    flags: RevocationFlags(flags),
                    home_address: if b & 0x10 == 0 { home } else { HA_VIP },
                    home_domain: HA_VIP,
                    foreign_domain: Ipv4Addr::new(198, 51, 100, 7),
                    revocation_id: u32::from(a),
                    extensions: Vec::new(),
                }
                .to_vec();
                let key: &[u8] = if b & 0x40 == 0 { &sa.key } else { b"wrong" };
                let (t, alg) = (ExtensionType::MN_HA_AUTH, AuthAlgorithm::HmacMd5);
                append_auth(&mut rev, t, sa.spi, alg, key);
                if mn.handle_datagram(now, from, MN_ADDR, &rev).is_ok() {
                    assert!(!mn.is_registered(now), "a revoked registration is over");
                }
            }
            2 => {
                now += Duration::from_millis(u64::from(a) * 40);
                mn.handle_timeout(now);
                assert!(
                    mn.poll_timeout().is_none_or(|d| d > now),
                    "nothing left due"
                );
            }
            _ if a & 1 == 0 => mn.register(now),
            _ => mn.deregister(now),
        }
        while let Some(t) = mn.poll_transmit() {
            if RevocationAck::parse(&t.payload).is_ok() {
                assert_eq!(
                    t.dst, from,
                    "an acknowledgement goes to the revocation's sender"
                );
            } else {
                assert_eq!(t.dst, ha, "requests go to the home agent");
            }
        }
        while mn.poll_event().is_some() {}
    }
}

const FA_ADDR: SocketAddr = SocketAddr::V4(std::net::SocketAddrV4::new(
    Ipv4Addr::new(198, 51, 100, 254),
    434,
));

fn fa_mn(n: u8) -> SocketAddr {
    SocketAddr::from(([198, 51, 100, n % 8], 434))
}

/// A request from mobile node `b` (identification `a`), or the home agent's reply with code `b`
/// (FA-HA authenticated when `b` is odd).
fn fa_registration(
    fa: &mut ForeignAgent,
    now: Instant,
    request: bool,
    (a, b): (u8, u8),
    sa: &SecurityAssociation,
) {
    let home_agent = Ipv4Addr::new(192, 0, 2, 1);
    if !request && a & 0x80 != 0 {
        // RFC 3543: the home agent revokes (A bit; I bit, identifier, key from the fuzz bytes).
        let mut rev = Revocation {
            reserved: 0,
            flags: RevocationFlags(RevocationFlags::A | u16::from(b & 1) << 14),
            home_address: Ipv4Addr::new(10, 0, 5, b % 8),
            home_domain: home_agent,
            foreign_domain: Ipv4Addr::new(198, 51, 100, 254),
            revocation_id: u32::from(a & 0x0f),
            extensions: Vec::new(),
        }
        .to_vec();
        let key: &[u8] = if b & 2 == 0 { &sa.key } else { b"wrong" };
        append_auth(
            &mut rev,
            ExtensionType::FA_HA_AUTH,
            sa.spi,
            AuthAlgorithm::HmacMd5,
            key,
        );
        let _ = fa.handle_datagram(now, SocketAddr::from((home_agent, 434)), FA_ADDR, &rev);
        return;
    }
    if request {
        let q = Builder::request(Request {
            lifetime: 600,
            home_address: Ipv4Addr::new(10, 0, 5, b % 8),
            home_agent,
            care_of: Ipv4Addr::new(198, 51, 100, 254),
            identification: u64::from(a % 16),
            ..Request::default()
        })
        .to_vec();
        let _ = fa.handle_datagram(now, fa_mn(b), FA_ADDR, &q);
        return;
    }
    let reply = Builder::reply(Reply {
        code: ReplyCode(b),
        lifetime: 600,
        home_address: Ipv4Addr::new(10, 0, 5, b % 8),
        home_agent,
        identification: u64::from(a % 16),
    });
    let p = if b & 1 == 1 {
        reply.fa_ha_auth(sa).to_vec()
    } else {
        reply.to_vec()
    };
    let _ = fa.handle_datagram(now, SocketAddr::from((home_agent, 434)), FA_ADDR, &p);
}

/// Where relayed messages go, the queue and visitor bounds, and what the events say.
fn check_fa(fa: &mut ForeignAgent, ha: SocketAddr) {
    let mut n = 0;
    while let Some(t) = fa.poll_transmit() {
        n += 1;
        let request = match Header::parse(&t.payload) {
            Ok((Header::Request(q), _)) => Some(q),
            _ => None,
        };
        let is_ack = RevocationAck::parse(&t.payload).is_ok();
        if let Some(q) = request {
            // RFC 5944 section 3.7.2.3: to the Home Agent field's address (the configured home
            // agent when it names none).
            let named = !q.home_agent.is_unspecified()
                && !q.home_agent.is_broadcast()
                && !q.home_agent.is_multicast();
            let want = if named {
                SocketAddr::new(q.home_agent.into(), ha.port())
            } else {
                ha
            };
            assert_eq!(t.dst, want, "requests go to the home agent they name");
        } else if is_ack {
            assert_eq!(t.dst, ha, "revocation acks go to the home agent");
        } else {
            assert!(t.dst != ha, "replies go to a mobile node");
        }
    }
    assert!(n <= 1024, "transmit queue bounded");
    assert!(fa.stats().visitors <= 4, "visitor list bounded");
    while let Some(e) = fa.poll_event() {
        if let FaEvent::RegistrationAccepted { mobile_node, .. }
        | FaEvent::RegistrationDenied { mobile_node, .. } = e
        {
            assert!(mobile_node != ha, "a reply is reported for a mobile node");
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::Rng;

    #[test]
    fn foreign_agent_harness_on_random_operations() {
        let t0 = std::time::Instant::now();
        let mut rng = Rng::seed_from_u64(0x4641);
        for _ in 0..300 {
            let mut d = vec![0u8; rng.below(300) as usize];
            rng.fill_bytes(&mut d);
            for b in d.iter_mut().step_by(3) {
                *b %= 5;
            }
            super::foreign_agent(t0, &d);
        }
    }
}
