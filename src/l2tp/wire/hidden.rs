//! Hidden AVPs (RFC 2661 section 4.3) and tunnel authentication (section 5.1.1).
//!
//! A hidden AVP's value is the *hidden subformat* (2-octet original length, the original value,
//! optional padding) XORed with an MD5 key stream built from the tunnel secret `S` and the Random
//! Vector `RV` of the most recent Random Vector AVP before it in the message:
//!
//! ```text
//! b1 = MD5(AVP type (2 octets) + S + RV)   c1 = p1 xor b1
//! b2 = MD5(S + c1)                          c2 = p2 xor b2
//! bi = MD5(S + c(i-1))                      ci = pi xor bi
//! ```
//!
//! where `p1, p2, ...` are the 16-octet chunks of the subformat. A last chunk shorter than 16
//! octets is XORed with the first octets of its key block (what padding it to 16 octets and
//! cutting the result gives). The endpoints pad the subformat to a multiple of
//! [`crate::l2tp::Config::hidden_pad_block`] octets (16 by default, see
//! [`super::ControlMessage::hide_padded`]); padded AVPs from peers are accepted, the original length
//! says where the value ends.
//!
//! The tunnel-authentication response is `MD5(ID + S + challenge)` where ID is the message type
//! of the message carrying the response (2 in SCCRP, 3 in SCCCN): [`challenge_response`].

use super::message::MessageType;
use md5::{Digest, Md5};

/// The Challenge Response value for a message of type `message_type` (SCCRP or SCCCN) answering
/// `challenge`, with the tunnel secret `secret`: `MD5(low octet of message type, secret, challenge)`.
pub fn challenge_response(message_type: MessageType, secret: &[u8], challenge: &[u8]) -> [u8; 16] {
    let mut h = Md5::new();
    h.update([message_type.0 as u8]);
    h.update(secret);
    h.update(challenge);
    h.finalize().into()
}

fn xor_chain(attr: u16, secret: &[u8], rv: &[u8], data: &mut [u8], decrypt: bool) {
    let mut h = Md5::new();
    h.update(attr.to_be_bytes());
    h.update(secret);
    h.update(rv);
    let mut key: [u8; 16] = h.finalize().into();
    for chunk in data.chunks_mut(16) {
        let mut cipher = [0u8; 16];
        for (i, b) in chunk.iter_mut().enumerate() {
            if decrypt {
                cipher[i] = *b;
                *b ^= key[i];
            } else {
                *b ^= key[i];
                cipher[i] = *b;
            }
        }
        let mut h = Md5::new();
        h.update(secret);
        h.update(&cipher[..chunk.len()]);
        key = h.finalize().into();
    }
}

/// Hides `value` of an AVP with attribute type `attr`: returns the ciphertext to put in the AVP
/// (2-octet original length, value, `padding`, encrypted). `value.len()` must fit in 16 bits.
pub fn hide(
    attr: u16,
    secret: &[u8],
    random_vector: &[u8],
    value: &[u8],
    padding: &[u8],
) -> Vec<u8> {
    let mut data = Vec::with_capacity(2 + value.len() + padding.len());
    data.extend_from_slice(&(value.len().min(usize::from(u16::MAX)) as u16).to_be_bytes());
    data.extend_from_slice(value);
    data.extend_from_slice(padding);
    xor_chain(attr, secret, random_vector, &mut data, false);
    data
}

/// Reverses [`hide`]: returns the original value, or `None` when the decrypted original length
/// does not fit in the data (a wrong secret or random vector, or a corrupted AVP).
pub fn unhide(attr: u16, secret: &[u8], random_vector: &[u8], hidden: &[u8]) -> Option<Vec<u8>> {
    let mut data = hidden.to_vec();
    xor_chain(attr, secret, random_vector, &mut data, true);
    let len_bytes: [u8; 2] = data.get(..2)?.try_into().ok()?;
    let len = usize::from(u16::from_be_bytes(len_bytes));
    data.get(2..2 + len).map(|v| v.to_vec())
}
