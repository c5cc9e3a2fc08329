//! Rules of the tunnel layer, checked next to the code that implements them.

use super::establish::response_ok;
use super::{IdMap, Up, free_id, refusal, type_within};
use crate::Rng;
use crate::l2tp::wire::avp::AvpValue;
use crate::l2tp::wire::{Avp, AvpType, ControlMessage, ErrorCode, MessageType, ResultCodeValue};
use crate::l2tp::{InputError, SessionRef};
use md5::{Digest, Md5};

fn rng() -> Rng {
    Rng::from_config(crate::io::seed(13)).unwrap()
}

/// RFC 2661 5.1.1 (and 4.4.3, Challenge Response): the response is MD5 over the one-octet
/// Message Type of the message carrying it, the shared secret and the challenge.
#[test]
fn challenge_response_is_md5_of_type_secret_challenge() {
    let (secret, challenge) = (b"tunnel secret".as_slice(), [7u8; 16]);
    let md5 = |ty: u8| -> [u8; 16] {
        let mut h = Md5::new();
        h.update([ty]);
        h.update(secret);
        h.update(challenge);
        h.finalize().into()
    };
    // SCCRP is Message Type 2, SCCCN 3 (RFC 2661 3.2).
    assert!(response_ok(
        MessageType::SCCRP,
        Some(secret),
        &challenge,
        Some(md5(2))
    ));
    assert!(response_ok(
        MessageType::SCCCN,
        Some(secret),
        &challenge,
        Some(md5(3))
    ));
    // The response to the other message, another secret, none at all, or no secret to check it
    // with: not authorised (StopCCN Result 4).
    assert!(!response_ok(
        MessageType::SCCRP,
        Some(secret),
        &challenge,
        Some(md5(3))
    ));
    assert!(!response_ok(
        MessageType::SCCRP,
        Some(b"other"),
        &challenge,
        Some(md5(2))
    ));
    assert!(!response_ok(
        MessageType::SCCRP,
        Some(secret),
        &challenge,
        None
    ));
    assert!(!response_ok(
        MessageType::SCCRP,
        None,
        &challenge,
        Some(md5(2))
    ));
}

/// RFC 2661 4.4.3 Bearer / Framing Capabilities: bit value 1 is digital bearer or synchronous
/// framing, 2 analog or asynchronous; 4.4.4: the type of a call is one the peer supports.
#[test]
fn call_types_fall_within_the_peers_capabilities() {
    assert_eq!(type_within(3, 1), Some(1));
    assert_eq!(type_within(3, 2), Some(2));
    // Only asynchronous / analog advertised: that one, whatever is preferred.
    assert_eq!(type_within(2, 1), Some(2));
    assert_eq!(type_within(1, 2), Some(1));
    // A preference naming no single type falls back to what the peer supports.
    assert_eq!(type_within(2, 3), Some(2));
    // Nothing advertised (or only unknown bits): no type within it.
    assert_eq!(type_within(0, 1), None);
    assert_eq!(type_within(4, 1), None);
}

/// RFC 2661 3.1: Tunnel and Session IDs are non-zero (0 names "not yet assigned"); one id is
/// never handed out twice.
#[test]
fn free_ids_are_nonzero_and_unused() {
    let mut rng = rng();
    let mut map: IdMap<()> = IdMap::default();
    for _ in 0..1000 {
        let id = free_id(&mut rng, &map).unwrap();
        assert_ne!(id, 0);
        assert!(map.insert(id, ()).is_none());
    }
    // Only one id left: found even though random draws all collide.
    let mut full: IdMap<()> = (1..=u16::MAX)
        .filter(|&i| i != 4242)
        .map(|i| (i, ()))
        .collect();
    assert_eq!(free_id(&mut rng, &full), Some(4242));
    full.insert(4242, ());
    assert_eq!(free_id(&mut rng, &full), None);
}

fn sccrq() -> ControlMessage<'static> {
    ControlMessage::sccrq(5, b"lac".to_vec(), 3)
}

fn set(m: &mut ControlMessage<'static>, value: AvpValue<'static>) {
    let key = value.key();
    let a = m.avps.iter_mut().find(|a| a.key() == key).unwrap();
    *a = Avp::mandatory(value);
}

/// RFC 2661 4.4.2 / 4.4.3: an SCCRQ of Protocol Version other than 1.0 gets StopCCN Result 5,
/// its Error Code the highest version supported (1.0: Ver 1, Rev 0 as two octets).
#[test]
fn another_protocol_version_is_refused_with_result_5() {
    assert!(
        refusal(&sccrq()).is_none(),
        "a well-formed 1.0 SCCRQ is taken"
    );
    let mut m = sccrq();
    set(
        &mut m,
        AvpValue::ProtocolVersion {
            version: 2,
            revision: 0,
        },
    );
    let (rc, err) = refusal(&m).unwrap();
    assert_eq!(rc.result, ResultCodeValue(5));
    assert_eq!(rc.error_code(), Some(ErrorCode(0x0100)));
    assert_eq!(
        err,
        InputError::UnsupportedVersion {
            version: 2,
            revision: 0
        }
    );
}

/// RFC 2661 section 6.1: Host Name is required in SCCRQ; a missing required AVP is refused with
/// Result 2 / Error 6. RFC 2661 4.4.3: Assigned Tunnel ID is non-zero; 0 is Error 3 (bad value).
/// StopCCN is never refused: it clears the tunnel whatever it carries.
#[test]
fn missing_avp_and_zero_id_are_refused_stopccn_never() {
    let mut m = sccrq();
    m.avps.retain(|a| a.key().1 != AvpType::HOST_NAME);
    let (rc, err) = refusal(&m).unwrap();
    assert_eq!(
        (rc.result, rc.error_code()),
        (ResultCodeValue(2), Some(ErrorCode::VENDOR_ERROR))
    );
    assert_eq!(
        err,
        InputError::MissingAvp {
            message: MessageType::SCCRQ,
            avp: AvpType::HOST_NAME
        }
    );
    let mut m = sccrq();
    set(&mut m, AvpValue::AssignedTunnelId(0));
    let (rc, _) = refusal(&m).unwrap();
    assert_eq!(rc.error_code(), Some(ErrorCode::BAD_VALUE));
    let mut stop =
        ControlMessage::stopccn(9, 0, crate::l2tp::wire::ResultCode::new(ResultCodeValue(1)));
    stop.avps
        .retain(|a| a.key().1 != AvpType::ASSIGNED_TUNNEL_ID);
    assert!(refusal(&stop).is_none());
}

/// What the tunnel layer hands up to the role is the size of a session message, the item every
/// session-level control message is queued as (`Up` docs: memory per tunnel): the rare, large
/// ones (an SCCRQ with its addresses, a closed tunnel with its sessions, a refused session) are
/// boxed.
#[test]
fn a_hand_up_is_the_size_of_a_session_message() {
    let message = std::mem::size_of::<SessionRef>() + std::mem::size_of::<ControlMessage<'_>>();
    assert!(
        std::mem::size_of::<Up>() <= message.next_multiple_of(8),
        "Up {} B, a session message {message} B",
        std::mem::size_of::<Up>()
    );
}
