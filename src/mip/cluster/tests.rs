//! Round trips and refusals of the cluster messages and replicated records.

use super::*;
use proptest::collection::vec;
use proptest::prelude::*;

const KEY: &[u8] = b"virtual HA cluster key";

fn node() -> impl Strategy<Value = NodeId> {
    any::<u32>().prop_map(NodeId)
}

fn sock() -> impl Strategy<Value = SocketAddr> {
    (any::<u32>(), any::<u16>())
        .prop_map(|(a, p)| SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::from(a), p)))
}

fn nai() -> impl Strategy<Value = Option<Box<[u8]>>> {
    proptest::option::of(vec(any::<u8>(), 1..=255).prop_map(Vec::into_boxed_slice))
}

fn record_state() -> impl Strategy<Value = RecordState> {
    prop_oneof![
        (any::<u32>(), any::<u32>()).prop_map(|(a, ms)| RecordState::Temporary {
            care_of: Ipv4Addr::from(a),
            pending_left: Duration::from_millis(u64::from(ms)),
        }),
        vec(
            (any::<u32>(), proptest::option::of(0..u32::MAX)),
            0..=MAX_SIMULTANEOUS
        )
        .prop_map(|c| RecordState::Permanent {
            care_of: c
                .into_iter()
                .map(|(a, s)| (
                    Ipv4Addr::from(a),
                    s.map(|s| Duration::from_secs(u64::from(s)))
                ))
                .collect(),
        }),
    ]
}

fn record() -> impl Strategy<Value = Record> {
    (
        any::<u32>(),
        nai(),
        record_state(),
        node(),
        node(),
        sock(),
        any::<u64>(),
        record_key(),
        proptest::option::of(crate::strategies::mip::tunnel_params()),
        proptest::option::of(any::<bool>()),
    )
        .prop_map(
            |(h, nai, state, first_ha, second_ha, fa, identification, key, tunnel, revocation)| {
                Record {
                    home_address: Ipv4Addr::from(h),
                    nai,
                    first_ha,
                    second_ha,
                    fa,
                    identification,
                    state,
                    key,
                    tunnel,
                    revocation,
                }
            },
        )
}

fn record_key() -> impl Strategy<Value = Option<SealedKey>> {
    proptest::option::of(
        (
            any::<u32>(),
            any::<u32>(),
            any::<[u8; NONCE_LEN]>(),
            vec(any::<u8>(), 1..=255),
            any::<[u8; TAG_LEN]>(),
        )
            .prop_map(|(spi, secs, nonce, ciphertext, tag)| SealedKey {
                spi,
                left: Duration::from_secs(u64::from(secs)),
                nonce,
                ciphertext: ciphertext.into(),
                tag,
            }),
    )
}

fn item() -> impl Strategy<Value = Item> {
    prop_oneof![
        record().prop_map(Item::Upsert),
        (any::<u32>(), nai()).prop_map(|(h, nai)| Item::Remove {
            home_address: Ipv4Addr::from(h),
            nai,
        }),
        (node(), node(), node()).prop_map(|(failed, owner, coordinator)| Item::Takeover {
            failed,
            owner,
            coordinator,
        }),
        (any::<u32>(), nai()).prop_map(|(h, nai)| Item::Holds {
            home_address: Ipv4Addr::from(h),
            nai,
        }),
        (any::<u32>(), nai(), any::<u64>(), any::<u32>()).prop_map(
            |(h, nai, identification, c)| Item::Deregistered {
                home_address: Ipv4Addr::from(h),
                nai,
                identification,
                care_of: Some(Ipv4Addr::from(c)).filter(|a| !a.is_unspecified()),
            }
        ),
    ]
}

/// A cluster header of `kind` from node 1, incarnation 1, packet 1.
fn header(kind: u8) -> Vec<u8> {
    let mut b = Vec::new();
    b.put_slice(&MAGIC);
    b.put_u8(VERSION);
    b.put_u8(kind);
    b.put_u16(0);
    b.put_u32(1);
    b.put_u32(1);
    b.put_u64(1);
    b
}

fn message(body: Body<'_>, sender: NodeId, incarnation: u32, pn: u64) -> ClusterMessage<'_> {
    ClusterMessage {
        sender,
        incarnation,
        pn,
        body,
    }
}

fn entry() -> impl Strategy<Value = Entry<Item>> {
    prop_oneof![
        item().prop_map(Entry::Item),
        any::<u32>().prop_map(|epoch| Entry::SyncBegin { epoch }),
        any::<u32>().prop_map(|epoch| Entry::SyncEnd { epoch }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn replicate_batches_round_trip(
        items in vec(entry(), 0..=MAX_ITEMS),
        seq in any::<u64>(),
        sender in node(),
        incarnation in any::<u32>(),
        pn in any::<u64>(),
    ) {
        let m = message(Body::Replicate { seq, items }, sender, incarnation, pn);
        let bytes = m.to_vec(KEY);
        let parsed = ClusterMessage::parse(&bytes, KEY).unwrap();
        prop_assert_eq!(&parsed, &m);
        prop_assert_eq!(parsed.to_vec(KEY), bytes.clone());
        // Any other key refuses it.
        prop_assert_eq!(ClusterMessage::parse(&bytes, b"other"), Err(ClusterError::BadMac));
    }

    #[test]
    fn other_bodies_round_trip(
        kind in 0u8..4,
        fa in sock(),
        payload in vec(any::<u8>(), 0..64),
        home in any::<u32>(),
        n in nai(),
        x in any::<u64>(),
    ) {
        let body = match kind {
            0 => Body::Forward { fa, request: &payload },
            1 => Body::Relay { reply: &payload },
            2 => Body::Notice {
                home_address: Ipv4Addr::from(home),
                nai: n.as_deref(),
                identification: x,
            },
            _ => Body::Ack { seq: x },
        };
        let m = message(body, NodeId(7), 3, x);
        let bytes = m.to_vec(KEY);
        let parsed = ClusterMessage::parse(&bytes, KEY).unwrap();
        prop_assert_eq!(&parsed, &m);
        prop_assert_eq!(parsed.to_vec(KEY), bytes);
    }

    #[test]
    fn signed_arbitrary_bodies_never_panic_and_reemit_exactly(
        kind in 0u8..8,
        body in vec(any::<u8>(), 0..200),
    ) {
        // A correctly authenticated message with an arbitrary body: parse must not panic,
        // and what it accepts re-emits to the same bytes.
        let mut b = header(kind);
        b.put_slice(&body);
        ClusterMac::new(KEY).seal(&mut b);
        if let Ok(parsed) = ClusterMessage::parse(&b, KEY) {
            prop_assert_eq!(parsed.to_vec(KEY), b);
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in vec(any::<u8>(), 0..300)) {
        let _ = ClusterMessage::parse(&data, KEY);
    }
}

/// A sealed message whose body ends early names the field it ran short in (a typed
/// [`Field`], no string).
#[test]
fn a_short_body_names_the_field_it_ran_short_in() {
    let short = |mut b: Vec<u8>| {
        ClusterMac::new(KEY).seal(&mut b);
        match ClusterMessage::parse(&b, KEY) {
            Err(ClusterError::Wire(WireError::Truncated { field, .. })) => field,
            other => panic!("not truncated: {other:?}"),
        }
    };
    // A Replicate batch announcing one Takeover item that stops after `failed`.
    let mut b = header(4);
    b.put_u64(9);
    b.put_u8(1);
    b.put_u8(3);
    b.put_u32(2);
    assert_eq!(short(b), Field::Owner);
    // A Notice cut inside its NAI.
    let mut b = header(3);
    b.put_slice(&[10, 0, 0, 1]);
    b.put_u8(4);
    b.put_slice(b"ab");
    assert_eq!(short(b), Field::Nai);
    // An Ack without its sequence number.
    assert_eq!(short(header(5)), Field::BatchSequence);
}

#[path = "seal_tests.rs"]
mod seal_tests;
