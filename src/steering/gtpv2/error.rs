//! Errors of the GTPv2-C codec.

/// Why a GTPv2-C datagram could not be parsed.
///
/// Every variant carries the byte offset (from the start of the datagram) where the problem was
/// found and, where it applies, the field being read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    /// The datagram ended inside `field`.
    #[error("truncated {field} at byte {offset}")]
    Truncated {
        /// Byte offset where `field` starts.
        offset: usize,
        /// The field being read.
        field: Field,
    },
    /// The version field is not 2 (TS 29.274 section 5.1; the peer may be answered with a
    /// Version Not Supported Indication, section 7.1.3).
    #[error("unsupported GTP version {version} at byte {offset}")]
    UnsupportedVersion {
        /// Byte offset of the message's first octet.
        offset: usize,
        /// The version found.
        version: u8,
    },
    /// A length field disagrees with the bytes that follow it.
    #[error("{field} at byte {offset} announces {length} bytes but {available} follow")]
    BadLength {
        /// Byte offset of the length field.
        offset: usize,
        /// The length field.
        field: Field,
        /// The length it announces.
        length: usize,
        /// The bytes actually available.
        available: usize,
    },
    /// Grouped IEs nested deeper than [`super::MAX_GROUP_DEPTH`].
    #[error("grouped IE at byte {offset} nested too deep")]
    TooDeep {
        /// Byte offset of the grouped IE's type octet.
        offset: usize,
    },
    /// More than [`super::MAX_IES`] information elements in one message (nested ones counted).
    #[error("too many IEs, the one at byte {offset} is over the limit")]
    TooManyIes {
        /// Byte offset of the first IE over the limit.
        offset: usize,
    },
    /// A field holds a value the specification does not allow (a piggybacked message with its own
    /// P flag set, TS 29.274 section 5.5.1).
    #[error("invalid {field} at byte {offset}")]
    Invalid {
        /// Byte offset of the field.
        offset: usize,
        /// The field.
        field: Field,
    },
}

impl WireError {
    /// Byte offset of the problem, from the start of the datagram.
    pub fn offset(&self) -> usize {
        match self {
            WireError::Truncated { offset, .. }
            | WireError::UnsupportedVersion { offset, .. }
            | WireError::BadLength { offset, .. }
            | WireError::TooDeep { offset }
            | WireError::TooManyIes { offset }
            | WireError::Invalid { offset, .. } => *offset,
        }
    }
}

/// Why a message could not be emitted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EmitError {
    /// `field` is longer than its 16-bit length field can express.
    #[error("{field} has an unencodable length {length}")]
    BadLength {
        /// The field.
        field: Field,
        /// Its length in octets.
        length: usize,
    },
    /// `field` holds a value wider than its bits on the wire (a 24-bit sequence number, a 4-bit
    /// instance or message priority, a 6-bit interface type, a 40-bit bit rate).
    #[error("{field} out of range")]
    OutOfRange {
        /// The field.
        field: Field,
    },
    /// Grouped IEs nested deeper than [`super::MAX_GROUP_DEPTH`]: the receiver would refuse it.
    #[error("grouped IEs nested too deep")]
    TooDeep,
    /// More than [`super::MAX_IES`] information elements: the receiver would refuse it.
    #[error("too many IEs")]
    TooManyIes,
    /// A piggybacked message that is itself piggybacking (TS 29.274 section 5.5.1).
    #[error("a piggybacked message cannot piggyback another")]
    NestedPiggyback,
}

crate::io::reader::wire_fields! {
    /// A field of a GTPv2-C message (TS 29.274 sections 5 and 8), named in its errors.
    pub enum Field for WireError {} {
        Flags => "flags",
        MessageType => "message type",
        Length => "message length",
        Teid => "TEID",
        SequenceNumber => "sequence number",
        MessagePriority => "message priority",
        PiggybackedMessage => "piggybacked message",
        IeType => "IE type",
        IeLength => "IE length",
        IeInstance => "IE spare and instance",
        IeValue => "IE value",
        InterfaceType => "interface type",
        BitRate => "bit rate",
    }
}
