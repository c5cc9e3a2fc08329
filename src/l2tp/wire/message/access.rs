//! Typed accessors of a control message's AVPs: the first value of each type (RFC 2661 4.4, RFC
//! 3145, RFC 4951) and the vendor AVPs of the configured enterprise.

use super::super::avp::{
    AvpType, AvpValue, FailoverCapability, FailoverSessionState, PppDisconnectCause, ResultCode,
    SuggestedControlSequence, TunnelRecovery,
};
use super::ControlMessage;
use std::net::IpAddr;

// The typed accessors below find the first value of their variant: the one value [`get`] finds
// for its type (a variant is its IETF type's only typed value), without computing every AVP's
// key. Result Code and Protocol Version read through `get`: a vendor AVP built with Vendor ID 0
// has their key.
impl<'a> ControlMessage<'a> {
    /// The first typed IETF value of type `attr`.
    pub fn get(&self, attr: AvpType) -> Option<&AvpValue<'a>> {
        self.avps
            .iter()
            .map(|a| &a.value)
            .find(|v| v.is_recognised() && v.key() == (0, attr))
    }

    /// The first AVP with M=1 that this crate does not recognise (vendor, type): an unknown type
    /// or vendor, a reserved bit set, or a known type whose value broke its length rule (kept
    /// raw where the LAC or LNS read the message, [`super`] docs). RFC 2661 4.1 asks to tear down the session (session
    /// message) or the tunnel (tunnel message) that carries it.
    pub fn unknown_mandatory(&self) -> Option<(u16, AvpType)> {
        self.avps
            .iter()
            .find(|a| a.mandatory && matches!(a.value, AvpValue::Raw { .. }))
            .map(|a| a.key())
    }

    /// Assigned Tunnel ID.
    pub fn assigned_tunnel_id(&self) -> Option<u16> {
        self.avps.iter().find_map(|a| match &a.value {
            AvpValue::AssignedTunnelId(v) => Some(*v),
            _ => None,
        })
    }

    /// Assigned Session ID.
    pub fn assigned_session_id(&self) -> Option<u16> {
        self.avps.iter().find_map(|a| match &a.value {
            AvpValue::AssignedSessionId(v) => Some(*v),
            _ => None,
        })
    }

    /// Call Serial Number.
    pub fn call_serial_number(&self) -> Option<u32> {
        self.avps.iter().find_map(|a| match &a.value {
            AvpValue::CallSerialNumber(v) => Some(*v),
            _ => None,
        })
    }

    /// Receive Window Size.
    pub fn receive_window_size(&self) -> Option<u16> {
        self.avps.iter().find_map(|a| match &a.value {
            AvpValue::ReceiveWindowSize(v) => Some(*v),
            _ => None,
        })
    }

    /// Tie Breaker.
    pub fn tie_breaker(&self) -> Option<u64> {
        self.avps.iter().find_map(|a| match &a.value {
            AvpValue::TieBreaker(v) => Some(*v),
            _ => None,
        })
    }

    /// Host Name.
    pub fn host_name(&self) -> Option<&[u8]> {
        self.avps.iter().find_map(|a| match &a.value {
            AvpValue::HostName(v) => Some(v.as_ref()),
            _ => None,
        })
    }

    /// Challenge.
    pub fn challenge(&self) -> Option<&[u8]> {
        self.avps.iter().find_map(|a| match &a.value {
            AvpValue::Challenge(v) => Some(v.as_ref()),
            _ => None,
        })
    }

    /// Challenge Response.
    pub fn challenge_response(&self) -> Option<[u8; 16]> {
        self.avps.iter().find_map(|a| match &a.value {
            AvpValue::ChallengeResponse(v) => Some(*v),
            _ => None,
        })
    }

    /// Result Code.
    pub fn result_code(&self) -> Option<&ResultCode<'a>> {
        match self.get(AvpType::RESULT_CODE)? {
            AvpValue::ResultCode(v) => Some(v),
            _ => None,
        }
    }

    /// Protocol Version (version, revision).
    pub fn protocol_version(&self) -> Option<(u8, u8)> {
        match self.get(AvpType::PROTOCOL_VERSION)? {
            AvpValue::ProtocolVersion { version, revision } => Some((*version, *revision)),
            _ => None,
        }
    }

    /// Is Sequencing Required present?
    pub fn sequencing_required(&self) -> bool {
        self.avps
            .iter()
            .any(|a| matches!(a.value, AvpValue::SequencingRequired))
    }

    /// Is the `LoadBalanceCapable` vendor AVP of enterprise `enterprise` present?
    pub fn load_balance_capable(&self, enterprise: u16) -> bool {
        self.avps.iter().any(
            |a| matches!(a.value, AvpValue::LoadBalanceCapable { vendor } if vendor == enterprise),
        )
    }

    /// The `RedirectTarget` vendor AVP of enterprise `enterprise`, if present.
    pub fn redirect_target(&self, enterprise: u16) -> Option<IpAddr> {
        self.avps.iter().find_map(|a| match a.value {
            AvpValue::RedirectTarget { vendor, addr } if vendor == enterprise => Some(addr),
            _ => None,
        })
    }

    /// PPP Disconnect Cause Code (RFC 3145), carried in CDN.
    pub fn ppp_disconnect_cause(&self) -> Option<&PppDisconnectCause<'a>> {
        self.avps.iter().find_map(|a| match &a.value {
            AvpValue::PppDisconnectCauseCode(v) => Some(v),
            _ => None,
        })
    }

    /// Failover Capability (RFC 4951), carried in SCCRQ and SCCRP.
    pub fn failover_capability(&self) -> Option<FailoverCapability> {
        self.avps.iter().find_map(|a| match &a.value {
            AvpValue::FailoverCapability(v) => Some(*v),
            _ => None,
        })
    }

    /// Tunnel Recovery (RFC 4951): present in the SCCRQ of a recovery tunnel.
    pub fn tunnel_recovery(&self) -> Option<TunnelRecovery> {
        self.avps.iter().find_map(|a| match &a.value {
            AvpValue::TunnelRecovery(v) => Some(*v),
            _ => None,
        })
    }

    /// Suggested Control Sequence (RFC 4951): present in the SCCRP answering a recovery SCCRQ.
    pub fn suggested_control_sequence(&self) -> Option<SuggestedControlSequence> {
        self.avps.iter().find_map(|a| match &a.value {
            AvpValue::SuggestedControlSequence(v) => Some(*v),
            _ => None,
        })
    }

    /// Every Failover Session State (RFC 4951) in order: one per session of an FSQ or FSR.
    pub fn failover_session_states(&self) -> impl Iterator<Item = FailoverSessionState> + '_ {
        self.avps.iter().filter_map(|a| match a.value {
            AvpValue::FailoverSessionState(v) => Some(v),
            _ => None,
        })
    }
}
