//! The GTPv1 wire codec (3GPP TS 29.060 for GTP-C, TS 29.281 for GTP-U).
//!
//! * [`Message`] / [`parse`]: a whole datagram, borrowed from the input: the [`Header`] (version 1,
//!   PT, E/S/PN flags, message type, length, TEID, optional sequence number, N-PDU number and the
//!   [`ExtensionHeader`] chain, kept and skipped), then a [`Body`]: information elements ([`Ie`])
//!   for the signalling messages (Echo Request/Response, Version Not Supported,
//!   Create/Update/Delete PDP Context Request/Response, Error Indication, Supported Extension
//!   Headers Notification, End Marker), the T-PDU of a G-PDU, or the raw body of other types.
//! * TV elements (type < 128) have the fixed lengths of TS 29.060 section 7.7
//!   ([`IeType::tv_len`]); a TV element of unknown type cannot be delimited and is refused with
//!   [`WireError::UnknownTvIe`]. TLV elements of unknown type are kept raw.
//! * [`GtpView`]: the steering fast path's zero-copy view of the mandatory header.
//! * [`CreatePdpContextRequest`]: a Create PDP Context Request with the elements TS 29.060
//!   section 7.3.1 makes mandatory.
//!
//! Code points are open newtypes ([`MessageType`], [`IeType`], [`Cause`]) with named constants.
//!
//! ```
//! use telcp::steering::gtp::{parse, Ie, Message, MessageType, Cause};
//!
//! let reply = Message::new(
//!     MessageType::ECHO_RESPONSE, 0, 7, vec![Ie::Recovery(3)],
//! );
//! let bytes = reply.to_vec().unwrap();
//! assert_eq!(bytes, [0x32, 2, 0, 6, 0, 0, 0, 0, 0, 7, 0, 0, 14, 3]);
//! let back = parse(&bytes).unwrap();
//! assert_eq!(back, reply);
//! assert_eq!(back.recovery(), Some(3));
//! assert_eq!(back.cause(), None::<Cause>);
//! ```

mod create;
mod error;
mod ie;
mod message;
mod types;
mod view;

pub use create::{CreatePdpContextRequest, DEFAULT_QOS_PROFILE};
pub use error::{EmitError, Field, WireError};
pub use ie::{Apn, EndUserAddress, Ie, Imsi};
pub use message::{
    Body, ExtensionHeader, GTP_C_PORT, GTP_U_PORT, Header, MANDATORY_HEADER_LEN, Message, parse,
    supported_extension_headers,
};
pub use types::{Cause, IeType, MessageType};
pub use view::{GtpView, version};
