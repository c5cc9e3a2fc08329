//! The sealed MN-HA key of a replicated record: known answers, round trips, refusals.

use super::*;
use proptest::collection::vec;

fn hex(s: &str) -> Vec<u8> {
    if s == "-" {
        return Vec::new();
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn clear(spi: u32, key: &[u8], secs: u64) -> RecordKey {
    RecordKey {
        spi,
        key: Secret(key.into()),
        left: Duration::from_secs(secs),
    }
}

/// Known answers from an independent implementation (HKDF-SHA256 from the standard library's
/// HMAC, PyCryptodome's XChaCha20-Poly1305): tests/vectors/mip/make_key_wrap_vectors.py.
#[test]
fn sealed_keys_match_an_independent_implementation() {
    let text = include_str!("../../../tests/vectors/mip/key_wrap_vectors.txt");
    let mut n = 0;
    for line in text.lines().filter(|l| !l.is_empty()) {
        let f: Vec<&str> = line.split(' ').collect();
        let [secret, nonce, key, home, nai, spi, secs, ct, tag] =
            [1, 2, 3, 4, 5, 6, 7, 8, 9].map(|i| hex(f[i]));
        let home = Ipv4Addr::new(home[0], home[1], home[2], home[3]);
        let nai = (!nai.is_empty()).then_some(&nai[..]);
        let spi = u32::from_be_bytes(spi.try_into().unwrap());
        let secs = u32::from_be_bytes(secs.try_into().unwrap());
        let wrap = KeyWrap::new(&secret);
        let k = clear(spi, &key, u64::from(secs));
        let sealed = wrap
            .seal(nonce.clone().try_into().unwrap(), home, nai, &k)
            .unwrap();
        assert_eq!(&sealed.ciphertext[..], &ct[..], "{}", f[0]);
        assert_eq!(&sealed.tag[..], &tag[..], "{}", f[0]);
        assert_eq!(wrap.open(home, nai, &sealed), Ok(k), "{}", f[0]);
        n += 1;
    }
    assert_eq!(n, 3);
}

#[test]
fn a_record_key_is_redacted_in_debug() {
    let k = clear(0x1234, b"topsecretkey0123", 60);
    let dbg = format!("{k:?} {:?}", KeyWrap::new(b"topsecret"));
    assert!(!dbg.contains("topsecret"), "{dbg}");
    assert!(!dbg.contains("116, 111, 112"), "{dbg}");
    assert!(dbg.contains("redacted"), "{dbg}");
}

fn record_with(key: Option<SealedKey>, home: Ipv4Addr, nai: Option<&[u8]>) -> Record {
    Record {
        home_address: home,
        nai: nai.map(Box::from),
        first_ha: NodeId(1),
        second_ha: NodeId(2),
        fa: SocketAddr::from(([192, 0, 2, 9], 434)),
        identification: 1,
        state: RecordState::Permanent { care_of: vec![] },
        tunnel: None,
        key,
        revocation: None,
    }
}

fn batch(r: Record) -> Vec<u8> {
    ClusterMessage {
        sender: NodeId(2),
        incarnation: 1,
        pn: 1,
        body: Body::Replicate {
            seq: 1,
            items: vec![Entry::Item(Item::Upsert(r))],
        },
    }
    .to_vec(KEY)
}

/// The wire form carries no key octet in clear, and a key in clear (flag 1, the format before
/// the key was sealed) is refused.
#[test]
fn a_replicated_key_is_never_in_clear_and_a_clear_one_is_refused() {
    let key = *b"\x5a\x11secret-key\x42\x43\x44\x45";
    let k = clear(0x1234, &key, 600);
    let home = Ipv4Addr::new(10, 0, 0, 5);
    let sealed = KeyWrap::new(KEY)
        .seal([7; NONCE_LEN], home, None, &k)
        .unwrap();
    let bytes = batch(record_with(Some(sealed), home, None));
    assert!(
        !bytes.windows(4).any(|w| key.windows(4).any(|k| k == w)),
        "no 4 consecutive key octets on the wire"
    );
    // The same record with flag 1 and the key in clear after it.
    let mut clear_form = batch(record_with(None, home, None));
    clear_form.truncate(clear_form.len() - MAC_LEN - 2);
    clear_form.put_u8(1);
    clear_form.put_u32(0x1234);
    clear_form.put_u32(600);
    clear_form.put_u8(key.len() as u8);
    clear_form.put_slice(&key);
    clear_form.put_u8(0);
    ClusterMac::new(KEY).seal(&mut clear_form);
    assert_eq!(
        ClusterMessage::parse(&clear_form, KEY),
        Err(ClusterError::Unknown)
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Seal then open gives the key back; the record that carries it round-trips on the wire.
    #[test]
    fn seal_open_round_trips(
        secret in vec(any::<u8>(), 1..40),
        nonce in any::<[u8; NONCE_LEN]>(),
        key in vec(any::<u8>(), 1..=255),
        spi in any::<u32>(),
        secs in any::<u32>(),
        home in any::<u32>(),
        nai in proptest::option::of(vec(any::<u8>(), 1..=255)),
    ) {
        let wrap = KeyWrap::new(&secret);
        let home = Ipv4Addr::from(home);
        let k = clear(spi, &key, u64::from(secs));
        let sealed = wrap.seal(nonce, home, nai.as_deref(), &k).unwrap();
        prop_assert_eq!(sealed.ciphertext.len(), key.len());
        prop_assert_eq!(wrap.open(home, nai.as_deref(), &sealed), Ok(k));
        let r = record_with(Some(sealed), home, nai.as_deref());
        let bytes = batch(r.clone());
        let parsed = ClusterMessage::parse(&bytes, KEY).unwrap();
        let Body::Replicate { items, .. } = parsed.body else { panic!("not a batch") };
        prop_assert_eq!(&items[..], &[Entry::Item(Item::Upsert(r))][..]);
    }

    /// One flipped bit of the ciphertext or the tag, or the key moved to another record (home
    /// address, NAI), another SPI or lifetime, or another cluster secret: refused.
    #[test]
    fn a_changed_sealed_key_does_not_open(
        key in vec(any::<u8>(), 1..=64),
        bit in any::<usize>(),
        which in 0u8..7,
    ) {
        let wrap = KeyWrap::new(b"cluster secret");
        let home = Ipv4Addr::new(10, 0, 0, 5);
        let nai: &[u8] = b"mn@example.com";
        let k = clear(0x1234, &key, 600);
        let mut s = wrap.seal([3; NONCE_LEN], home, Some(nai), &k).unwrap();
        let (mut home2, mut nai2, mut wrap2) = (home, nai, wrap.clone());
        match which {
            0 => {
                let i = bit % (s.ciphertext.len() * 8);
                s.ciphertext[i / 8] ^= 1 << (i % 8);
            }
            1 => s.tag[(bit / 8) % TAG_LEN] ^= 1 << (bit % 8),
            2 => s.nonce[(bit / 8) % NONCE_LEN] ^= 1 << (bit % 8),
            3 => home2 = Ipv4Addr::new(10, 0, 0, 6),
            4 => nai2 = b"mn@example.org",
            5 => s.spi ^= 1 << (bit % 32),
            _ => wrap2 = KeyWrap::new(b"cluster secreT"),
        }
        prop_assert_eq!(wrap2.open(home2, Some(nai2), &s), Err(ClusterError::KeyRefused));
        // The lifetime too.
        let mut s = wrap.seal([3; NONCE_LEN], home, Some(nai), &k).unwrap();
        s.left += Duration::from_secs(1);
        prop_assert_eq!(wrap.open(home, Some(nai), &s), Err(ClusterError::KeyRefused));
    }
}
