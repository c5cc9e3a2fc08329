//! The GTPv2-C wire codec (3GPP TS 29.274), for the 4G core's S11 and S5/S8 control plane.
//!
//! * [`Message`] / [`parse`]: a whole datagram, borrowed from the input: the [`Header`] (version 2,
//!   T flag and TEID, MP flag and message priority, 24-bit sequence number; sections 5.1 and
//!   5.4), the information elements in order, and the message piggybacked after it when the P
//!   flag is set (section 5.5.1). Every message type is a list of IEs, so unknown message types
//!   parse too; the named ones are Echo Request/Response, Version Not Supported Indication,
//!   Create Session, Modify Bearer, Delete Session, Create/Update/Delete Bearer
//!   Request/Response ([`MessageType`]).
//! * [`Ie`]: type, length, spare bits and instance, and an [`IeValue`] (section 8.2.1): typed for
//!   IMSI, Cause, Recovery, APN, AMBR, EBI, MSISDN, Indication, PAA, Bearer QoS, RAT Type, Serving
//!   Network, ULI, F-TEID, PDN Type and Selection Mode; grouped IEs ([`IeType::is_grouped`],
//!   Bearer Context among them) parsed recursively; every other IE, and a modelled one whose
//!   value does not have its section's layout, kept raw and re-emitted byte for byte.
//! * Bounds: grouped IEs nest at most [`MAX_GROUP_DEPTH`] deep and a message holds at most
//!   [`MAX_IES`] IEs, nested ones counted ([`WireError::TooDeep`], [`WireError::TooManyIes`]);
//!   `emit` refuses what `parse` would, so what is emitted parses back.
//!
//! Code points are open newtypes ([`MessageType`], [`IeType`], [`CauseValue`], [`InterfaceType`],
//! [`RatType`]) with named constants, so unknown values survive.
//!
//! ```
//! use telcp::steering::gtpv2::{parse, Message, MessageType};
//!
//! let echo = Message::echo_request(0x1234, 7);
//! let bytes = echo.to_vec().unwrap();
//! assert_eq!(bytes, [0x40, 1, 0, 9, 0, 0x12, 0x34, 0, 3, 0, 1, 0, 7]);
//! let back = parse(&bytes).unwrap();
//! assert_eq!(back, echo);
//! assert_eq!(back.message_type(), MessageType::ECHO_REQUEST);
//! assert_eq!(back.recovery(), Some(7));
//! ```

mod error;
mod ie;
mod message;
mod types;
mod values;

/// The APN encoding is the one of GTPv1 (TS 23.003 section 9.1).
pub use crate::steering::gtp::Apn;
pub use error::{EmitError, Field, WireError};
pub use ie::{IE_HEADER_LEN, Ie, IeValue, find};
pub use message::{GTP_C_PORT, Header, MAX_SEQUENCE, Message, parse};
pub use types::{CauseValue, IeType, InterfaceType, MessageType, RatType};
pub use values::{
    Ambr, BearerQos, Cause, Ecgi, Fteid, MAX_BIT_RATE, OffendingIe, Paa, PlmnId, Tai, Tbcd, Uli,
};

/// Deepest nesting of grouped IEs a message may have (a Bearer Context inside a message is depth
/// 1; TS 29.274 nests at most two levels, this leaves room for one more).
pub const MAX_GROUP_DEPTH: usize = 3;

/// Most information elements one message may hold, those inside grouped IEs counted (a Create
/// Session Request with eleven bearer contexts holds well under a hundred).
pub const MAX_IES: usize = 256;
