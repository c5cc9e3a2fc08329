//! The values of the AVPs L2TPv2 extensions add: the PPP Disconnect Cause Code of RFC 3145 and
//! the four failover AVPs of RFC 4951.
//!
//! ```text
//! 46 PPP Disconnect Cause Code (RFC 3145):  Disconnect Code (2) | Control Protocol Number (2)
//!                                            | Direction (1) | Message (0 or more octets)
//! 76 Failover Capability (RFC 4951 5.1):     Reserved (14 bits) D C (2 bits) | Recovery Time (4, ms)
//! 77 Tunnel Recovery (RFC 4951 5.2):         Reserved (2) | Reserved (2) | Recover Tunnel ID (2)
//!                                            | Reserved (2) | Recover Remote Tunnel ID (2)
//! 78 Suggested Control Sequence (5.3):       Reserved (2) | Suggested Ns (2) | Suggested Nr (2)
//! 79 Failover Session State (RFC 4951 5.4):  Reserved (2) | Reserved (2) | Session ID (2)
//!                                            | Reserved (2) | Remote Session ID (2)
//! ```
//!
//! 77 and 79 are the L2TPv2 forms of RFC 4951's figures: 10 octets of value (AVP Length 16),
//! each 16-bit id in the low half of a 32-bit word whose high half is reserved (where the L2TPv3
//! forms carry 32-bit ids). Reserved bits are sent as 0 and ignored when received.

use std::borrow::Cow;

crate::io::reader::code_point! {
    /// The Disconnect Code of a PPP Disconnect Cause Code AVP (RFC 3145 3.1; an open code point,
    /// unknown values survive parse and emit). Codes 0 to 4 are the global ones, sent with
    /// Control Protocol Number 0; the others are per PPP control protocol.
    DisconnectCode(u16) {
        /// 0: no information available.
        NO_INFORMATION = 0,
        /// 1: administrative disconnect.
        ADMINISTRATIVE = 1,
        /// 2: LCP renegotiation at the LNS disabled (the LNS expected proxy LCP the LAC did not
        /// send).
        LCP_RENEGOTIATION_DISABLED = 2,
        /// 3: normal disconnection, LCP Terminate-Request sent (Direction says by whom).
        NORMAL = 3,
        /// 4: compulsory encryption required by a PPP peer was refused by the other.
        ENCRYPTION_REFUSED = 4,
    }
}

crate::io::reader::code_point! {
    /// The Direction of a PPP Disconnect Cause Code AVP (RFC 3145 3.1): where the disconnect
    /// originated (an open code point).
    DisconnectDirection(u8) {
        /// 0: global error, no direction.
        GLOBAL = 0,
        /// 1: at the peer (the other end of the PPP link).
        AT_PEER = 1,
        /// 2: at the local end (the sender of the AVP).
        AT_LOCAL = 2,
    }
}

/// The value of a PPP Disconnect Cause Code AVP (attribute 46, RFC 3145 3.1; at least 5 octets),
/// carried in CDN to say why the PPP session ended.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct PppDisconnectCause<'a> {
    /// The Disconnect Code.
    pub code: DisconnectCode,
    /// The PPP Control Protocol Number the code belongs to (e.g. 0xc021 LCP), 0 for the global
    /// codes.
    pub protocol: u16,
    /// Where the disconnect originated.
    pub direction: DisconnectDirection,
    /// A human-readable message (possibly empty; not NUL-terminated).
    pub message: Cow<'a, [u8]>,
}

impl PppDisconnectCause<'_> {
    /// An owned copy.
    pub fn into_owned(self) -> PppDisconnectCause<'static> {
        PppDisconnectCause {
            code: self.code,
            protocol: self.protocol,
            direction: self.direction,
            message: Cow::Owned(self.message.into_owned()),
        }
    }
}

/// The value of a Failover Capability AVP (attribute 76, RFC 4951; 6 octets, sent with M=0 so
/// that a peer without RFC 4951 ignores it), carried in SCCRQ and SCCRP: the sender takes part in
/// RFC 4951 failover for this tunnel.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct FailoverCapability {
    /// C bit (0x0001 of the flags, the last bit: RFC 4951 5.1's figure ends `|D|C|`): the sender
    /// can recover this control channel after its own failure (it may send a recovery SCCRQ with
    /// Tunnel Recovery).
    pub control: bool,
    /// D bit (0x0002 of the flags): the sender can reset the Nr of its data channels that use
    /// sequence numbers after a failover (RFC 4951 3.2.3). RFC 4951 5.1: the AVP is never sent
    /// with both bits clear.
    pub data: bool,
    /// Recovery Time in milliseconds: how long the peer should keep the tunnel, after it finds
    /// the sender silent, waiting for the sender to recover it.
    pub recovery_time_ms: u32,
}

impl FailoverCapability {
    /// The C bit in the flags octets (RFC 4951 5.1: the last bit).
    pub const C_BIT: u16 = 0x0001;
    /// The D bit in the flags octets (RFC 4951 5.1: the bit before C).
    pub const D_BIT: u16 = 0x0002;

    /// The 16-bit flags field (reserved bits 0).
    pub fn flags(self) -> u16 {
        (if self.control { Self::C_BIT } else { 0 }) | (if self.data { Self::D_BIT } else { 0 })
    }
}

/// The value of a Tunnel Recovery AVP (attribute 77, RFC 4951 5.2; 10 octets in L2TPv2: reserved
/// 16 bits, then each id in the low half of a 32-bit word), carried in the SCCRQ
/// of a recovery tunnel: which old tunnel the (failed) sender wants to recover.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct TunnelRecovery {
    /// Recovery Tunnel ID: the sender's own Tunnel ID of the old tunnel.
    pub tunnel_id: u16,
    /// Recovery Remote Tunnel ID: the receiver's Tunnel ID of the old tunnel.
    pub remote_tunnel_id: u16,
}

/// The value of a Suggested Control Sequence AVP (attribute 78, RFC 4951 5.3; 6 octets), carried in
/// the SCCRP answering a recovery SCCRQ: the sequence numbers the recovering endpoint resumes the
/// old tunnel's control channel with.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct SuggestedControlSequence {
    /// Suggested Ns: the Ns of the next control message the recovering endpoint sends on the old
    /// tunnel (the Nr the answering endpoint expects).
    pub ns: u16,
    /// Suggested Nr: the Nr the recovering endpoint sends (the Ns of the answering endpoint's
    /// next control message).
    pub nr: u16,
}

/// The value of a Failover Session State AVP (attribute 79, RFC 4951 5.4; 10 octets in L2TPv2:
/// reserved 16 bits, then each id in the low half of a 32-bit word), one per session in FSQ and
/// FSR.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct FailoverSessionState {
    /// Session ID: the sender's Session ID of the session; in an FSR, 0 when the sender has no
    /// such session.
    pub session_id: u16,
    /// Remote Session ID: the receiver's Session ID of the session, as the sender knows it.
    pub remote_session_id: u16,
}
