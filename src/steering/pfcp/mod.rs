//! The PFCP wire codec (3GPP TS 29.244), the N4 / Sxa / Sxb protocol between a CP function (SMF,
//! SGW-C, PGW-C) and a UP function (UPF, SGW-U, PGW-U).
//!
//! * [`Message`] / [`parse`]: a whole datagram, borrowed from the input: the [`Header`] (version 1,
//!   FO, MP and S flags, length, SEID when S = 1, 24-bit sequence number, message priority when
//!   MP = 1; section 7.2.2), then the information elements ([`Ie`]) in order. Every message type
//!   has the same layout, so node messages (Heartbeat, Association Setup/Update/Release, ...) and
//!   session messages (Session Establishment/Modification/Deletion/Report) all parse; unknown
//!   message types too. [`Message::parse_first`] reads a datagram holding several messages (flag FO), and
//!   [`bundle`] cuts such a datagram into its messages (at most [`MAX_BUNDLE`] are taken by the
//!   gateway's line interface, which steers each by its own SEID).
//! * IEs (section 8.1.1): 16-bit type, 16-bit length, value; a type with bit 15 set is
//!   vendor-specific and starts with a 16-bit Enterprise ID ([`Ie::Enterprise`]). Grouped IEs
//!   (Create PDR, PDI, Create FAR, Forwarding Parameters, Create QER, Create URR, the Update and
//!   Remove variants, Created PDR, ...: [`IeType::is_grouped`]) are parsed recursively into
//!   [`Ie::Grouped`]. Typed values: Node ID ([`NodeId`]), F-SEID ([`FSeid`]), F-TEID with CHOOSE and
//!   CHOOSE ID ([`FTeid`]), Cause, Recovery Time Stamp, PDR/FAR/QER/URR ID, Precedence,
//!   Source/Destination Interface, Apply Action ([`ApplyAction`]), UE IP Address
//!   ([`UeIpAddress`]), Outer Header Creation ([`OuterHeaderCreation`]), User Plane IP Resource
//!   Information ([`teidri::UpIpResourceInformation`]). Every other IE, and a
//!   typed one whose value is not in its variant's form, is kept as [`Ie::Raw`] and re-emitted
//!   byte for byte.
//! * Bounds: grouped IEs nest at most [`MAX_DEPTH`] levels (a message's own IEs are level 1; the
//!   deepest standard nesting, e.g. Create PDR / PDI / Ethernet Packet Filter / ..., needs 4) and a
//!   message holds at most [`MAX_IES`] IEs, all levels counted; beyond either the parse fails with
//!   [`WireError::TooDeep`] / [`WireError::TooManyIes`] and emit with [`EmitError::TooDeep`] /
//!   [`EmitError::TooManyIes`]. Every
//!   length is checked before the bytes it announces are read; no input panics.
//!
//! Code points are open newtypes ([`MessageType`], [`IeType`], [`Cause`], [`Interface`]) with
//! named constants.
//!
//! ```
//! use telcp::steering::pfcp::{parse, Ie, Message, MessageType, FTeid, IeType};
//!
//! let hb = Message::heartbeat_request(7, 0xe4f0_0000);
//! let bytes = hb.to_vec().unwrap();
//! assert_eq!(bytes, [0x20, 1, 0, 12, 0, 0, 7, 0, 0, 96, 0, 4, 0xe4, 0xf0, 0, 0]);
//! assert_eq!(parse(&bytes).unwrap(), hb);
//!
//! // A Create PDR asking the UP function to CHOOSE the F-TEID (TS 29.244 section 8.2.3).
//! let pdi = Ie::Grouped { ie_type: IeType::PDI, ies: vec![
//!     Ie::FTeid(FTeid::Choose { ipv4: true, ipv6: false, choose_id: Some(1) }),
//! ]};
//! let req = Message::new(MessageType::SESSION_ESTABLISHMENT_REQUEST, 0, 8, vec![
//!     Ie::Grouped { ie_type: IeType::CREATE_PDR, ies: vec![Ie::PdrId(1), pdi] },
//! ]);
//! let bytes = req.to_vec().unwrap();
//! let back = parse(&bytes).unwrap();
//! assert_eq!(back, req);
//! assert_eq!(back.header.seid, Some(0));
//! ```

mod error;
mod ie;
mod message;
pub mod teidri;
mod types;
mod values;

/// The deepest nesting of grouped IEs a message may have (its own IEs are level 1).
pub const MAX_DEPTH: usize = 8;
/// The most IEs one message may hold, every nesting level counted.
pub const MAX_IES: usize = 1024;

pub use error::{EmitError, Field, WireError};
pub use ie::Ie;
pub use message::{
    Bundle, FIXED_HEADER_LEN, Header, MAX_BUNDLE, Message, PFCP_PORT, bundle, parse,
};
pub use types::{Cause, IeType, Interface, MessageType};
pub use values::{ApplyAction, FSeid, FTeid, NodeId, OuterHeaderCreation, UeIpAddress};
