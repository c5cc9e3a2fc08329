//! The fabric codec's properties, and the steering fuzz harnesses over random and mutated input.
#![cfg(feature = "proptest")]

use proptest::prelude::*;
use telcp::steering::fabric::{FabricError, FabricMessage, is_fabric};
use telcp::strategies::{gtp as gstrat, steering as strat};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn fabric_parse_emit_parse(m in strat::fabric_message()) {
        let b = m.to_vec();
        prop_assert_eq!(b.len(), m.encoded_len());
        prop_assert!(is_fabric(&b));
        let back = FabricMessage::parse(&b).unwrap();
        prop_assert_eq!(&back, &m);
        prop_assert_eq!(back.to_vec(), b);
    }

    #[test]
    fn fabric_parse_never_panics(b in proptest::collection::vec(any::<u8>(), 0..128)) {
        let _ = FabricMessage::parse(&b);
    }

    #[test]
    fn fabric_truncations_are_typed(m in strat::fabric_message(), cut in any::<usize>()) {
        let b = m.to_vec();
        let cut = cut % b.len();
        if let Err(e) = FabricMessage::parse(&b[..cut]) {
            let typed = matches!(e, FabricError::Truncated { .. } | FabricError::Invalid { .. });
            prop_assert!(typed);
        }
    }

    #[test]
    fn line_harness_on_random_and_gtp_input(
        raw in proptest::collection::vec(any::<u8>(), 0..64),
        m in gstrat::message(),
        fabric in strat::fabric_message(),
    ) {
        telcp::harness::steering::steering_line(std::time::Instant::now(), &raw);
        telcp::harness::steering::steering_line(std::time::Instant::now(), &m.to_vec().unwrap());
        telcp::harness::steering::steering_line(std::time::Instant::now(), &fabric.to_vec());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn switch_harness_on_random_operations(ops in proptest::collection::vec(any::<u8>(), 0..400)) {
        telcp::harness::steering::steering_switch(std::time::Instant::now(), &ops);
    }
}

#[test]
fn switch_harness_reaches_assigned_vids() {
    // VID requests from each slot, then time passing: the harness's invariants hold with VIDs held.
    let mut ops = Vec::new();
    for a in [1u8, 2, 3] {
        ops.extend_from_slice(&[1, a, 1]);
    }
    ops.extend_from_slice(&[5, 0, 10, 3, 0, 200, 4, 0, 0, 2, 1, 1, 2, 1, 0x81, 5, 0, 50]);
    telcp::harness::steering::steering_switch(std::time::Instant::now(), &ops);
}

#[test]
fn line_harness_answers_requests_naming_no_vid() {
    use telcp::steering::gtp::{Ie, Message, MessageType};
    use telcp::steering::{VidLayout, VirtualId};
    // VID 9 is not in the harness's table; VID 1 is (up), VID 2 is (down).
    let layout = VidLayout::default();
    for v in [9u16, 1, 2] {
        let teid = layout.compose(VirtualId::new(v).unwrap(), None, 7).unwrap();
        for t in [
            MessageType::UPDATE_PDP_CONTEXT_REQUEST,
            MessageType::DELETE_PDP_CONTEXT_REQUEST,
            MessageType::UPDATE_PDP_CONTEXT_RESPONSE,
            MessageType::CREATE_PDP_CONTEXT_REQUEST,
        ] {
            let mut m = Message::new(t, teid, 0x4242, vec![Ie::Nsapi(5)]);
            telcp::harness::steering::steering_line(
                std::time::Instant::now(),
                &m.to_vec().unwrap(),
            );
            m.header.sequence = None;
            telcp::harness::steering::steering_line(
                std::time::Instant::now(),
                &m.to_vec().unwrap(),
            );
        }
    }
}

/// Regression (session 53, found by `line_harness_on_random_and_gtp_input`): the line harness
/// seals every kind the input names for another incarnation of the line interface, and each is
/// refused as `StaleIncarnation`, the handshake kinds (VidRequest, TableAck) too since session
/// 54 (only the switch processor takes those whatever incarnation they name). One message of
/// each kind, odd and even lengths (the harness names incarnation 2 or 0 by the parity).
#[test]
fn line_harness_on_each_kind_sealed_for_another_incarnation() {
    use std::borrow::Cow;
    use std::net::SocketAddr;
    use telcp::health::NodeId;
    use telcp::steering::VirtualId;
    let a: SocketAddr = "192.0.2.1:2152".parse().unwrap();
    let kinds = [
        FabricMessage::VidRequest {
            processor: NodeId(11),
            incarnation: 1,
            current: None,
        },
        FabricMessage::VidAssign {
            processor: NodeId(11),
            incarnation: 1,
            vid: VirtualId::new(1).unwrap(),
        },
        FabricMessage::TableUpdate {
            version: 9,
            entries: vec![],
        },
        FabricMessage::TableAck { version: 3 },
        FabricMessage::Transmit {
            from: a,
            to: a,
            data: Cow::Borrowed(b"x"),
        },
        FabricMessage::PurgeAck { id: 7 },
    ];
    for m in kinds {
        let b = m.to_vec();
        telcp::harness::steering::steering_line(std::time::Instant::now(), &b);
        let mut odd = b.clone();
        odd.push(0);
        telcp::harness::steering::steering_line(std::time::Instant::now(), &odd);
    }
}
