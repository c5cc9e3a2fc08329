//! Properties of the L2TP wire codec, on the strategies of `telcp::strategies::l2tp`.
#![cfg(feature = "proptest")]

use proptest::prelude::*;
use telcp::l2tp::wire::{AvpType, AvpValue, Message, ParseOptions};
use telcp::strategies::l2tp;

/// A string value's octets.
fn octets(x: &[u8]) -> &[u8] {
    x
}

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

    /// The typed accessors read the value `get` finds for their type, on any message (typed,
    /// raw and hidden AVPs in any order, repeated types included).
    #[test]
    fn accessors_read_what_get_finds(m in l2tp::message(), secret in proptest::collection::vec(any::<u8>(), 1..20)) {
        let b = m.to_vec();
        let o = ParseOptions { secret: Some(&secret), ..Default::default() };
        let parsed = Message::parse_with(&b, &o).ok();
        for m in [Some(m), parsed].into_iter().flatten() {
            let Message::Control(c) = m else { continue };
            macro_rules! same {
                ($acc:ident, $t:ident, $v:ident, $e:expr) => {
                    prop_assert_eq!(c.$acc(), match c.get(AvpType::$t) {
                        Some(AvpValue::$v(x)) => Some($e(x)),
                        _ => None,
                    });
                };
            }
            same!(assigned_tunnel_id, ASSIGNED_TUNNEL_ID, AssignedTunnelId, |x: &u16| *x);
            same!(assigned_session_id, ASSIGNED_SESSION_ID, AssignedSessionId, |x: &u16| *x);
            same!(call_serial_number, CALL_SERIAL_NUMBER, CallSerialNumber, |x: &u32| *x);
            same!(receive_window_size, RECEIVE_WINDOW_SIZE, ReceiveWindowSize, |x: &u16| *x);
            same!(tie_breaker, TIE_BREAKER, TieBreaker, |x: &u64| *x);
            same!(host_name, HOST_NAME, HostName, octets);
            same!(challenge, CHALLENGE, Challenge, octets);
            same!(challenge_response, CHALLENGE_RESPONSE, ChallengeResponse, |x: &[u8; 16]| *x);
            same!(ppp_disconnect_cause, PPP_DISCONNECT_CAUSE_CODE, PppDisconnectCauseCode, |x| x);
            same!(failover_capability, FAILOVER_CAPABILITY, FailoverCapability, |x: &telcp::l2tp::wire::avp::FailoverCapability| *x);
            same!(tunnel_recovery, TUNNEL_RECOVERY, TunnelRecovery, |x: &telcp::l2tp::wire::avp::TunnelRecovery| *x);
            same!(suggested_control_sequence, SUGGESTED_CONTROL_SEQUENCE, SuggestedControlSequence, |x: &telcp::l2tp::wire::avp::SuggestedControlSequence| *x);
            prop_assert_eq!(c.sequencing_required(), c.get(AvpType::SEQUENCING_REQUIRED).is_some());
        }
    }
}
