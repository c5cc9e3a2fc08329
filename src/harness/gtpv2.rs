//! Fuzz harness of the GTPv2-C codec ([`crate::steering::gtpv2`]).

use crate::steering::gtpv2::{self, Message};

/// Zeroes the spare bits of the header at `off` (TS 29.274 section 5.1: the two low bits of the
/// flags octet, and the octet after the sequence number but for the message priority); returns
/// where the next message would start.
fn canonical_header(out: &mut [u8], off: usize) -> Option<usize> {
    let flags = *out.get(off)?;
    let len = usize::from(u16::from_be_bytes([*out.get(off + 2)?, *out.get(off + 3)?]));
    if let Some(b) = out.get_mut(off) {
        *b &= !0x03;
    }
    let last = off + if flags & 0x08 != 0 { 11 } else { 7 };
    if let Some(b) = out.get_mut(last) {
        *b &= if flags & 0x04 != 0 { 0xf0 } else { 0 };
    }
    Some(off + 4 + len)
}

/// The bytes `gtpv2::Message::emit` produces for a datagram that parsed: the same, with the
/// header spare bits of the message and of the piggybacked one set to zero.
fn canonical(data: &[u8]) -> Vec<u8> {
    let mut out = data.to_vec();
    if let Some(next) = canonical_header(&mut out, 0) {
        if data.first().is_some_and(|f| f & 0x10 != 0) {
            canonical_header(&mut out, next);
        }
    }
    out
}

/// Parses `data` as a GTPv2-C datagram; when it parses, emitting it gives back the canonical
/// bytes and parsing those gives back the same message, owned or borrowed. Never panics
/// otherwise.
pub fn gtpv2_message(data: &[u8]) {
    let Ok(msg) = gtpv2::parse(data) else {
        return;
    };
    let out = msg.to_vec();
    assert!(out.is_ok(), "a parsed message must be emittable: {out:?}");
    let out = out.unwrap_or_default();
    assert_eq!(out.len(), msg.encoded_len());
    assert_eq!(out, canonical(data), "emit(parse(b)) must be b");
    let again: Result<Message<'_>, _> = gtpv2::parse(&out);
    assert_eq!(again.as_ref(), Ok(&msg), "parse(emit(m)) must be m");
    assert_eq!(msg.clone().into_owned(), msg);
}
