//! Errors of the PFCP codec.

/// Why a PFCP datagram could not be parsed.
///
/// Every variant carries the byte offset (from the start of the PFCP header) where the problem
/// was found and, where it applies, the field being read. A PFCP entity answers such a message as
/// TS 29.244 section 7.6 says (e.g. a request whose length is wrong is discarded, an IE whose
/// length is wrong makes Cause "Invalid length").
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
    /// The version field is not 1: the peer is answered with a Version Not Supported Response
    /// (TS 29.244 section 7.2.2.1 and 7.4.4.7).
    #[error("unsupported PFCP version {version} at byte 0")]
    UnsupportedVersion {
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
    /// Grouped IEs nested deeper than [`super::MAX_DEPTH`].
    #[error("grouped IEs nested too deep at byte {offset}")]
    TooDeep {
        /// Byte offset of the IE that would go deeper.
        offset: usize,
    },
    /// More IEs in one message (all levels counted) than [`super::MAX_IES`].
    #[error("too many IEs at byte {offset}")]
    TooManyIes {
        /// Byte offset of the first IE over the limit.
        offset: usize,
    },
}

impl WireError {
    /// Byte offset of the problem, from the start of the PFCP header.
    pub fn offset(&self) -> usize {
        match self {
            WireError::Truncated { offset, .. }
            | WireError::BadLength { offset, .. }
            | WireError::TooDeep { offset }
            | WireError::TooManyIes { offset } => *offset,
            WireError::UnsupportedVersion { .. } => 0,
        }
    }
}

/// Why a message could not be emitted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EmitError {
    /// `field` is longer than its length field can express.
    #[error("{field} has an unencodable length {length}")]
    BadLength {
        /// The field.
        field: Field,
        /// Its length in octets.
        length: usize,
    },
    /// A value the field cannot hold: a sequence number over 24 bits, a message priority over
    /// 4 bits, a vendor-specific type without bit 15 (or a standard one with it), fields of a
    /// typed IE that its flags do not announce.
    #[error("invalid {field}")]
    Invalid {
        /// The field.
        field: Field,
    },
    /// Grouped IEs nested deeper than [`super::MAX_DEPTH`]: the message would not parse back.
    #[error("grouped IEs nested too deep")]
    TooDeep,
    /// More than [`super::MAX_IES`] IEs, all levels counted: the message would not parse back.
    #[error("too many IEs")]
    TooManyIes,
}

crate::io::reader::wire_fields! {
    /// A field of a PFCP message (TS 29.244 sections 7.2 and 8), named in its errors.
    pub enum Field for WireError {} {
        Flags => "flags",
        MessageType => "message type",
        Length => "message length",
        Seid => "SEID",
        SequenceNumber => "sequence number",
        MessagePriority => "message priority",
        IeType => "IE type",
        IeLength => "IE length",
        EnterpriseId => "Enterprise ID",
        IeValue => "IE value",
        NodeIdType => "Node ID type",
        FTeidFlags => "F-TEID flags",
        OuterHeaderCreationDescription => "Outer Header Creation Description",
    }
}
