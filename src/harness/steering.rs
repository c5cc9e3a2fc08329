//! Fuzz harnesses of the steering subsystem.

use crate::steering::gtp::{self, Message};

/// The bytes `gtp::Message::emit` produces for a datagram that parsed: the same, except the
/// fields a receiver ignores (the spare flag bit, and optional fields whose flag is clear) set to
/// zero.
fn canonical_gtp(data: &[u8]) -> Vec<u8> {
    let mut out = data.to_vec();
    let Some(&flags) = data.first() else {
        return out;
    };
    if let Some(b) = out.get_mut(0) {
        *b &= !0x08;
    }
    if flags & 0x07 != 0 {
        if flags & 0x02 == 0 {
            out.iter_mut().skip(8).take(2).for_each(|b| *b = 0);
        }
        if flags & 0x01 == 0 {
            out.iter_mut().skip(10).take(1).for_each(|b| *b = 0);
        }
        if flags & 0x04 == 0 {
            out.iter_mut().skip(11).take(1).for_each(|b| *b = 0);
        }
    }
    out
}

/// Parses `data` as a GTPv1 message; when it parses, emitting it gives back the canonical bytes
/// and parsing those gives back the same message. Never panics otherwise.
pub fn gtp_message(data: &[u8]) {
    let Ok(msg) = gtp::parse(data) else {
        return;
    };
    let out = msg.to_vec();
    assert!(out.is_ok(), "a parsed message must be emittable");
    let out = out.unwrap_or_default();
    assert_eq!(out.len(), msg.encoded_len());
    assert_eq!(out, canonical_gtp(data), "emit(parse(b)) must be b");
    let again: Result<Message<'_>, _> = gtp::parse(&out);
    assert_eq!(again.as_ref(), Ok(&msg), "parse(emit(m)) must be m");
    let view = gtp::GtpView::new_checked(data);
    assert!(view.is_ok());
    if let Ok(v) = view {
        assert_eq!(v.teid(), msg.header.teid);
        assert_eq!(v.message_type(), msg.message_type());
    }
}
