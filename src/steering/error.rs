//! Errors shared by the steering machines.

use super::fabric::FabricError;
use super::gtp::WireError;
use super::line::DropReason;
use super::vid::LayoutError;

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
        field: &'static str,
        /// The width it needs.
        bits: u8,
    },
    /// A field must be non-zero / non-empty.
    #[error("{0} must not be zero or empty")]
    Zero(&'static str),
    /// A field is inconsistent with the rest of the configuration.
    #[error("invalid {field}: {why}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// Why.
        why: &'static str,
    },
    /// The health monitor refused its configuration.
    #[error("health: {0}")]
    Health(String),
    /// `seed: None` and the operating system gave no entropy.
    #[error(transparent)]
    Entropy(#[from] crate::io::EntropyError),
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
    /// A fabric message this machine does not take, or from a sender it does not trust.
    #[error("unexpected fabric message {0}")]
    Unexpected(&'static str),
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
    #[error("health: {0}")]
    Health(String),
    /// A datagram this machine does not handle (e.g. an unsupported message type).
    #[error("unsupported: {0}")]
    Unsupported(&'static str),
    /// A GTP message carried an extension header whose type says the receiving endpoint must
    /// comprehend it, of a type it does not support (TS 29.281 section 5.2.1, TS 29.060
    /// section 6.1): the message was discarded (and answered with a Supported Extension Headers
    /// Notification when the rate limit allowed).
    #[error("unsupported comprehension-required extension header {0:#04x}")]
    UnsupportedExtension(u8),
    /// The output queue is full: the datagram was dropped.
    #[error("output queue full")]
    QueueFull,
}
