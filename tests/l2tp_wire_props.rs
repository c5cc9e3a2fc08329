//! Properties of the L2TP wire codec, on the strategies of `telcp::strategies::l2tp`.
#![cfg(feature = "proptest")]

use proptest::prelude::*;
use telcp::l2tp::wire::{Message, ParseOptions};
use telcp::strategies::l2tp;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// parse(emit(m)) == m for every message type (hidden AVPs kept as ciphertext).
    #[test]
    fn parse_emit_roundtrip(m in l2tp::message()) {
        let b = m.to_vec();
        prop_assert_eq!(b.len(), m.encoded_len());
        let p = Message::parse(&b).unwrap();
        prop_assert_eq!(&p, &m);
        // emit(parse(b)) == b
        prop_assert_eq!(p.to_vec(), b);
    }

    /// hide, emit, parse with the secret: the typed message comes back.
    #[test]
    fn hidden_roundtrip(m in l2tp::hideable_message(), secret in proptest::collection::vec(any::<u8>(), 1..20)) {
        let mut h = m.clone();
        h.hide(&secret).unwrap();
        let b = Message::Control(h.clone()).to_vec();
        let opts = ParseOptions { secret: Some(&secret), ..Default::default() };
        let p = Message::parse_with(&b, &opts).unwrap();
        prop_assert_eq!(p, Message::Control(m));
        // Without the secret: ciphertext kept, bytes reproduced exactly.
        let p = Message::parse(&b).unwrap();
        prop_assert_eq!(p.to_vec(), b);
    }

    /// parse never panics on arbitrary bytes, and what parses re-emits to a fixed point.
    #[test]
    fn parse_arbitrary(b in proptest::collection::vec(any::<u8>(), 0..200)) {
        telcp::harness::l2tp::message(&b);
    }

    /// ... also on bytes that start like an L2TPv2 control message.
    #[test]
    fn parse_arbitrary_control(b in proptest::collection::vec(any::<u8>(), 0..200)) {
        let mut v = vec![0xc8, 0x02];
        let len = (b.len() + 4) as u16;
        v.extend_from_slice(&len.to_be_bytes());
        v.extend_from_slice(&b);
        telcp::harness::l2tp::message(&v);
    }

    /// The one-pass owned parse (the endpoints' input) is the borrowed parse made owned, on
    /// valid messages, on the same with one octet changed, and on hidden AVPs with the secret
    /// (unhidden) and without (kept as ciphertext): values, errors and their offsets alike.
    #[test]
    fn parse_owned_is_parse_into_owned(
        m in l2tp::message(),
        flip in any::<(usize, u8)>(),
        secret in proptest::collection::vec(any::<u8>(), 1..20),
    ) {
        let b = m.to_vec();
        let mut changed = b.clone();
        let i = flip.0 % changed.len();
        changed[i] ^= flip.1;
        for d in [&b, &changed] {
            for s in [None, Some(secret.as_slice())] {
                let o = ParseOptions { secret: s, ..Default::default() };
                prop_assert_eq!(
                    Message::parse_owned_with(d, &o),
                    Message::parse_with(d, &o).map(Message::into_owned)
                );
            }
        }
    }

    /// ... with hidden AVPs that the secret unhides.
    #[test]
    fn parse_owned_unhides_as_parse(m in l2tp::hideable_message(), secret in proptest::collection::vec(any::<u8>(), 1..20)) {
        let mut h = m.clone();
        h.hide(&secret).unwrap();
        let b = Message::Control(h).to_vec();
        let o = ParseOptions { secret: Some(&secret), ..Default::default() };
        let owned = Message::parse_owned_with(&b, &o);
        prop_assert_eq!(&owned, &Message::parse_with(&b, &o).map(Message::into_owned));
        prop_assert_eq!(owned, Ok(Message::Control(m)));
    }

    /// ... and on arbitrary octets after a control header.
    #[test]
    fn parse_owned_arbitrary_control(b in proptest::collection::vec(any::<u8>(), 0..200)) {
        let mut v = vec![0xc8, 0x02];
        v.extend_from_slice(&((b.len() + 4) as u16).to_be_bytes());
        v.extend_from_slice(&b);
        let o = ParseOptions::default();
        prop_assert_eq!(
            Message::parse_owned_with(&v, &o),
            Message::parse_with(&v, &o).map(Message::into_owned)
        );
    }
}
