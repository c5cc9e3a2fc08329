//! A zero-copy view of the mandatory GTPv1 header for the steering fast path.

use super::{Field, MessageType, WireError};

/// A smoltcp-style view of the first eight octets of a GTPv1 datagram: reads the flags, message
/// type, length and TEID in place, without parsing the rest.
///
/// [`GtpView::new_checked`] verifies the length, version 1 and protocol type 1; after it, no
/// accessor can fail or panic.
#[derive(Debug, Clone, Copy)]
pub struct GtpView<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> GtpView<T> {
    /// Wraps `buffer` after checking it holds a GTPv1 (PT = 1) mandatory header.
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let b = buffer.as_ref();
        let Some(&flags) = b.first() else {
            return Err(WireError::Truncated {
                offset: 0,
                field: Field::Flags,
            });
        };
        if flags >> 5 != 1 {
            return Err(WireError::UnsupportedVersion {
                version: flags >> 5,
            });
        }
        if flags & 0x10 == 0 {
            return Err(WireError::GtpPrime);
        }
        if b.len() < super::MANDATORY_HEADER_LEN {
            return Err(WireError::Truncated {
                offset: b.len(),
                field: Field::MandatoryHeader,
            });
        }
        Ok(GtpView { buffer })
    }

    #[inline]
    fn octets<const N: usize>(&self, at: usize) -> [u8; N] {
        self.buffer
            .as_ref()
            .get(at..at + N)
            .and_then(|s| s.try_into().ok())
            .unwrap_or([0; N])
    }

    /// The first octet (version, PT, spare, E, S, PN).
    #[inline]
    pub fn flags(&self) -> u8 {
        self.octets::<1>(0)[0]
    }

    /// The message type.
    #[inline]
    pub fn message_type(&self) -> MessageType {
        MessageType(self.octets::<1>(1)[0])
    }

    /// The length field.
    #[inline]
    pub fn length(&self) -> u16 {
        u16::from_be_bytes(self.octets(2))
    }

    /// The TEID.
    #[inline]
    pub fn teid(&self) -> u32 {
        u32::from_be_bytes(self.octets(4))
    }

    /// The sequence number, when the S flag is set and the field is present.
    #[inline]
    pub fn sequence(&self) -> Option<u16> {
        if self.flags() & 0x02 == 0 || self.buffer.as_ref().len() < 10 {
            return None;
        }
        Some(u16::from_be_bytes(self.octets(8)))
    }

    /// The wrapped buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }
}

/// The GTP version field (the three high bits of the first octet) of a datagram, `None` when it
/// is empty. Every GTP version (0, 1, 2) keeps the version there, so a GTPv1 node can tell a
/// message it must answer with [`super::Message::version_not_supported`] without parsing it.
#[inline]
pub fn version(data: &[u8]) -> Option<u8> {
    data.first().map(|b| b >> 5)
}
