//! Errors shared by the steering machines.

use super::fabric::{FabricError, FabricMessage};
use super::gtp::WireError;
use super::gtp::{IeType, MessageType};
use super::line::DropReason;
use super::vid::LayoutError;

/// A configuration field of a steering machine ([`crate::steering::line::LineConfig`],
/// [`crate::steering::switch::SwitchConfig`], [`crate::steering::processor::ProcessorConfig`]),
/// named by [`ConfigError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConfigField {
    /// `layout`, the 32-bit TEID layout.
    Layout,
    /// `l2tp_layout`, the 16-bit L2TP layout.
    L2tpLayout,
    /// `processors`, the processor slots.
    Processors,
    /// `line_interfaces`, the line interfaces' fabric addresses.
    LineInterfaces,
    /// `max_sessions`.
    MaxSessions,
    /// `max_recent`.
    MaxRecent,
    /// `queue_limit`, the bound of the output queue.
    QueueLimit,
    /// `event_limit`, the bound of the event queue.
    EventLimit,
    /// `retransmit`.
    Retransmit,
    /// `line_ack_timeout` of a switch processor.
    LineAckTimeout,
    /// `ue_pool`, the IPv4 End User Address pool.
    UePool,
    /// `ue_pool_v6`, the IPv6 prefix pool.
    UePoolV6,
    /// `line_addr` of a processor, the line interface its replies leave through.
    LineAddr,
    /// `switch_addr` of a line interface, the switch processor's fabric address.
    SwitchAddr,
    /// `hello_interval` of a line interface.
    HelloInterval,
}

impl std::fmt::Display for ConfigField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ConfigField::Layout => "layout",
            ConfigField::L2tpLayout => "l2tp_layout",
            ConfigField::Processors => "processors",
            ConfigField::LineInterfaces => "line_interfaces",
            ConfigField::MaxSessions => "max_sessions",
            ConfigField::MaxRecent => "max_recent",
            ConfigField::QueueLimit => "queue_limit",
            ConfigField::EventLimit => "event_limit",
            ConfigField::Retransmit => "retransmit",
            ConfigField::LineAckTimeout => "line_ack_timeout",
            ConfigField::UePool => "ue_pool",
            ConfigField::UePoolV6 => "ue_pool_v6",
            ConfigField::LineAddr => "line_addr",
            ConfigField::SwitchAddr => "switch_addr",
            ConfigField::HelloInterval => "hello_interval",
        })
    }
}

/// A configuration the machine refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A VID layout is invalid.
    #[error("layout: {0}")]
    Layout(#[from] LayoutError),
    /// A layout has the wrong identifier width for its use.
    #[error("{field} must be a {bits}-bit layout")]
    LayoutWidth {
        /// The configuration field.
        field: ConfigField,
        /// The width it needs.
        bits: u8,
    },
    /// A field is zero or empty, or out of its range (the same name in every subsystem).
    #[error("{0} out of range (zero or empty)")]
    OutOfRange(ConfigField),
    /// Two processor slots share an id or an address, or a slot has the switch processor's own
    /// node id.
    #[error("processors: duplicate slot id or address, or the switch processor's own id")]
    DuplicateProcessor,
    /// A bound is larger than the VID layout's local part can number.
    #[error("{0} is more than the layout's local part holds")]
    ExceedsLayout(ConfigField),
    /// An address pool is too small for the VID and local index bits (one address, or one /64,
    /// per session): its prefix length is `prefix`, and the VID fields plus the local part
    /// ([`UePool::min_local_bits`](crate::steering::ue_pool::UePool::min_local_bits): 4 bits,
    /// 15 sessions per slice, unless the TEID layout's local part is narrower) need a prefix
    /// of `longest` bits or shorter (for an IPv6 pool of /64 prefixes, counted within the
    /// first 64 bits).
    #[error(
        "{field} /{prefix} is too small for the VID fields and the local part: /{longest} or shorter needed"
    )]
    PoolTooSmall {
        /// The configuration field ([`ConfigField::UePool`] or [`ConfigField::UePoolV6`]).
        field: ConfigField,
        /// The pool's prefix length as configured.
        prefix: u8,
        /// The longest prefix length that leaves room for the VID fields and the local part.
        longest: u8,
    },
    /// TEID ranges are asked for (`SwitchConfig::teid_ranges`) with a layout the TEID Range
    /// Indication cannot describe (TS 29.244 section 8.2.82).
    #[error("teid_ranges: {0}")]
    Teidri(#[from] crate::steering::pfcp::teidri::TeidriError),
    /// A peer address no datagram can be sent to: port 0
    /// (reserved, RFC 6335 section 6) or the unspecified address (0.0.0.0 or `::`, RFC 1122
    /// section 3.2.1.3, RFC 4291 section 2.5.2). `field` is [`ConfigField::LineInterfaces`]
    /// (a switch processor's), [`ConfigField::LineAddr`] (a processor's) or
    /// [`ConfigField::SwitchAddr`] (a line interface's); the health peers (a switch
    /// processor's `processors`, a processor's `switch_addr`) are refused by the monitor
    /// ([`ConfigError::Health`] with [`crate::health::ConfigError::UnusableAddress`]). The same
    /// name as `l2tp::ConfigError::UnusableAddress` and `mip::ConfigError::UnusableAddress`.
    #[error("{field}: unusable address {addr}")]
    UnusableAddress {
        /// The field.
        field: ConfigField,
        /// The address as configured.
        addr: std::net::SocketAddr,
    },
    /// The health monitor refused its configuration.
    #[error(transparent)]
    Health(#[from] crate::health::ConfigError),
    /// `seed: None` and the operating system gave no entropy.
    #[error(transparent)]
    Entropy(#[from] crate::io::EntropyError),
}

/// The kind of a fabric message ([`crate::steering::fabric::FabricMessage`]), named by
/// [`InputError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FabricKind {
    /// `VidRequest`.
    VidRequest,
    /// `VidAssign`.
    VidAssign,
    /// `TableUpdate`.
    TableUpdate,
    /// `TableAck`.
    TableAck,
    /// `Packet`.
    Packet,
    /// `Directed`.
    Directed,
    /// `Transmit`.
    Transmit,
    /// `Sync`.
    Sync,
    /// `SyncAck`.
    SyncAck,
    /// `Purge`.
    Purge,
    /// `PurgeAck`.
    PurgeAck,
    /// `PeerRecovery`.
    PeerRecovery,
    /// `PeerRecoveryAck`.
    PeerRecoveryAck,
}

impl FabricKind {
    /// The kind of `m`.
    pub fn of(m: &FabricMessage<'_>) -> FabricKind {
        match m {
            FabricMessage::VidRequest { .. } => FabricKind::VidRequest,
            FabricMessage::VidAssign { .. } => FabricKind::VidAssign,
            FabricMessage::TableUpdate { .. } => FabricKind::TableUpdate,
            FabricMessage::TableAck { .. } => FabricKind::TableAck,
            FabricMessage::Packet { .. } => FabricKind::Packet,
            FabricMessage::Directed { .. } => FabricKind::Directed,
            FabricMessage::Transmit { .. } => FabricKind::Transmit,
            FabricMessage::Sync { .. } => FabricKind::Sync,
            FabricMessage::SyncAck { .. } => FabricKind::SyncAck,
            FabricMessage::Purge { .. } => FabricKind::Purge,
            FabricMessage::PurgeAck { .. } => FabricKind::PurgeAck,
            FabricMessage::PeerRecovery { .. } => FabricKind::PeerRecovery,
            FabricMessage::PeerRecoveryAck { .. } => FabricKind::PeerRecoveryAck,
        }
    }
}

/// Why a fabric message was not authorized ([`InputError::NotAuthorized`]; the seal of format
/// version 4, naming the receiver's incarnation since version 5, [`crate::steering::fabric`]
/// module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// A message of a kind that must be sealed arrived unsealed.
    #[error("{0:?} unsealed")]
    Unsealed(FabricKind),
    /// The envelope did not open: truncated, bad MAC (a wrong key or an altered octet), or an
    /// unknown version.
    #[error(transparent)]
    Open(#[from] crate::replica::OpenError),
    /// The sender is not one this machine takes sealed messages from.
    #[error("unknown sender {0:?}")]
    UnknownSender(crate::health::NodeId),
    /// Sealed for another receiver.
    #[error("sealed for receiver {0:?}")]
    Misdirected(crate::health::NodeId),
    /// Sealed for another incarnation of this receiver (one before its restart, or the
    /// sender did not know it yet: 0); not a handshake kind
    /// ([`FabricMessage::is_handshake_kind`](crate::steering::fabric::FabricMessage::is_handshake_kind)).
    #[error("sealed for receiver incarnation {named}")]
    StaleIncarnation {
        /// The receiver incarnation the seal names.
        named: u32,
    },
    /// Seen already, or older than the sender's replay window
    /// ([`crate::replica::ReplayWindow`]), or of an older incarnation.
    #[error("replayed: sender {sender:?}, incarnation {incarnation}, packet number {pn}")]
    Replayed {
        /// The sender.
        sender: crate::health::NodeId,
        /// Its incarnation.
        incarnation: u32,
        /// The packet number.
        pn: u64,
    },
}

/// Bad or unexpected input to a steering machine. The machine's state is unchanged by it, except
/// for counters and, where the protocol says so, a refusal queued for transmission.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InputError {
    /// A fabric datagram did not parse.
    #[error("fabric: {0}")]
    Fabric(#[from] FabricError),
    /// A GTP datagram did not parse.
    #[error("gtp: {0}")]
    Gtp(#[from] WireError),
    /// A fabric message this machine does not take (or not for it).
    #[error("unexpected fabric message {0:?}")]
    Unexpected(FabricKind),
    /// A fabric message from a sender this machine does not take it from (see each machine's
    /// trust rules).
    #[error("fabric message {0:?} from an untrusted sender")]
    Untrusted(FabricKind),
    /// A fabric message refused by its seal ([`crate::steering::fabric`] module docs): not
    /// sealed where its kind must be, a bad MAC, an unknown sender, another receiver, or a
    /// replay. Counted (`fabric_refused`); nothing else changes.
    #[error("fabric message not authorized: {0}")]
    NotAuthorized(AuthError),
    /// The line interface dropped the packet.
    #[error("dropped: {0:?}")]
    Dropped(DropReason),
    /// The processor has no VID yet.
    #[error("no VID assigned yet")]
    NotReady,
    /// No session holds this TEID.
    #[error("no session for TEID {0:#010x}")]
    UnknownTeid(u32),
    /// A heartbeat was refused by the health monitor.
    #[error(transparent)]
    Health(#[from] crate::health::HealthError),
    /// A GTP message of a type this machine does not handle in this place (e.g. a TEID-0 message
    /// other than Echo, Create PDP Context and Error Indication at the switch processor).
    #[error("unsupported GTP message type {0:?}")]
    UnsupportedMessage(MessageType),
    /// A GTP message lacks an information element the machine needs (e.g. an Error Indication
    /// without TEID Data I or GTP-U Peer Address, TS 29.281 section 7.3.1).
    #[error("missing information element {0:?}")]
    MissingIe(IeType),
    /// A GTPv2-C datagram that does not parse (TS 29.274).
    #[error("gtpv2: {0}")]
    Gtpv2(#[from] super::gtpv2::WireError),
    /// A PFCP datagram that does not parse (TS 29.244).
    #[error("pfcp: {0}")]
    Pfcp(#[from] super::pfcp::WireError),
    /// A GTPv2-C message type the machine does not take where it arrived (e.g. a Modify Bearer
    /// Request with TEID 0 at the switch processor).
    #[error("unsupported GTPv2-C message type {0:?}")]
    UnsupportedGtpv2Message(super::gtpv2::MessageType),
    /// A PFCP message type the machine does not take where it arrived.
    #[error("unsupported PFCP message type {0:?}")]
    UnsupportedPfcpMessage(super::pfcp::MessageType),
    /// No session holds this SEID (PFCP).
    #[error("no session for SEID {0:#018x}")]
    UnknownSeid(u64),
    /// An L2TP header too short to hold its tunnel and session ids (RFC 2661 section 3.1).
    #[error("L2TP header too short")]
    ShortL2tpHeader,
    /// A GTP message carried an extension header whose type says the receiving endpoint must
    /// comprehend it, of a type it does not support (TS 29.281 section 5.2.1, TS 29.060
    /// section 6.1): the message was discarded (and answered with a Supported Extension Headers
    /// Notification when the rate limit allowed).
    #[error("unsupported comprehension-required extension header {0:#04x}")]
    UnsupportedExtension(u8),
    /// The output queue is full: the datagram was dropped.
    #[error("output queue full")]
    QueueFull,
    /// A PFCP datagram bundling more messages (flag FO, TS 29.244 section 7.2.2.1) than the
    /// line interface takes: the first `max` were handled, the rest discarded unread.
    #[error("PFCP bundle of more than {max} messages")]
    PfcpBundleTooLong {
        /// [`pfcp::MAX_BUNDLE`](super::pfcp::MAX_BUNDLE).
        max: usize,
    },
}
