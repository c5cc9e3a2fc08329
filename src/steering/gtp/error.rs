//! Errors of the GTPv1 codec.

/// Why a GTPv1 datagram could not be parsed.
///
/// Every variant carries the byte offset (from the start of the GTP header) where the problem was
/// found and, where it applies, the name of the field being read.
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
    /// The version field is not 1 (a peer may be answered with Version Not Supported).
    #[error("unsupported GTP version {version} at byte 0")]
    UnsupportedVersion {
        /// The version found.
        version: u8,
    },
    /// Protocol type 0: GTP' (charging), which has another header.
    #[error("protocol type 0 (GTP') is not supported, at byte 0")]
    GtpPrime,
    /// A length field disagrees with the bytes that follow it.
    #[error("{field} at byte {offset} announces {declared} bytes but {actual} follow")]
    BadLength {
        /// Byte offset of the length field.
        offset: usize,
        /// The length field.
        field: Field,
        /// The length it announces.
        declared: usize,
        /// The bytes actually available.
        actual: usize,
    },
    /// A TV information element (type below 128) whose fixed length this codec does not know,
    /// so the rest of the message cannot be delimited (TS 29.060 section 7.7).
    #[error("unknown TV information element type {ie_type} at byte {offset}")]
    UnknownTvIe {
        /// Byte offset of the IE type octet.
        offset: usize,
        /// The IE type.
        ie_type: u8,
    },
    /// A field holds a value the specification does not allow.
    #[error("invalid {field} at byte {offset}")]
    Invalid {
        /// Byte offset of the field.
        offset: usize,
        /// The field.
        field: Field,
    },
}

impl WireError {
    /// Byte offset of the problem, from the start of the GTP header.
    pub fn offset(&self) -> usize {
        match self {
            WireError::Truncated { offset, .. }
            | WireError::BadLength { offset, .. }
            | WireError::UnknownTvIe { offset, .. }
            | WireError::Invalid { offset, .. } => *offset,
            WireError::UnsupportedVersion { .. } | WireError::GtpPrime => 0,
        }
    }
}

/// Why a message could not be emitted: a value does not fit its length field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EmitError {
    /// `field` is longer than its length field can express (or, for an extension header, its
    /// content is not `4n - 2` octets long, `1 <= n <= 255`).
    #[error("{field} has an unencodable length {length}")]
    BadLength {
        /// The field.
        field: Field,
        /// Its length in octets.
        length: usize,
    },
}

crate::io::reader::wire_fields! {
    /// A field of a GTPv1 message (TS 29.060 section 6 and 7.7), named in its errors.
    pub enum Field for WireError {} {
        IeType => "IE type",
        IeLength => "IE length",
        EndUserAddressPdpTypeOrganisation => "End User Address PDP type organisation",
        EndUserAddressPdpTypeNumber => "End User Address PDP type number",
        PrivateExtensionIdentifier => "Private Extension identifier",
        TvIeValue => "TV IE value",
        TlvIeValue => "TLV IE value",
        GsnAddressLength => "GSN Address length",
        IeValue => "IE value",
        Flags => "flags",
        MessageType => "message type",
        NPduNumber => "N-PDU number",
        NextExtensionHeaderType => "next extension header type",
        ExtensionHeaderLength => "extension header length",
        Length => "length",
        SequenceNumber => "sequence number",
        Teid => "TEID",
        ExtensionHeaderContent => "extension header content",
        MandatoryHeader => "mandatory header",
    }
}
