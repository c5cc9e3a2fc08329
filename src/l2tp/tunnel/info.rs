//! The full record of a tunnel or a session, readable at any time ([`TunnelInfo`],
//! [`SessionInfo`]; `tunnel_info` and `session_info` on the LAC and the LNS).

use super::super::session::SessionState;
use super::super::{CallId, SessionHandoff, SessionRef};
use super::{Core, TunnelState};
use std::net::SocketAddr;

/// A tunnel as the endpoint holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct TunnelInfo {
    /// Our Tunnel ID.
    pub tunnel: u16,
    /// The peer's Tunnel ID (0 while it has not assigned one, RFC 2661 4.4.3).
    pub peer_tunnel: u16,
    /// The peer's address.
    pub peer: SocketAddr,
    /// Our address the peer talks to, when known.
    pub local: Option<SocketAddr>,
    /// State (RFC 2661 7.2).
    pub state: TunnelState,
    /// Sessions held on it (any state).
    pub sessions: usize,
    /// The peer said it can be redirected (`LoadBalanceCapable` in its SCCRQ).
    pub peer_load_balance_capable: bool,
}

/// A session as the endpoint holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionInfo {
    /// Both ends' ids, the addresses, the data policy and sequence numbers as they stand now.
    pub handoff: SessionHandoff,
    /// State (RFC 2661 7.4, 7.5).
    pub state: SessionState,
    /// The LAC's call, if any.
    pub call: Option<CallId>,
    /// Call Serial Number (RFC 2661 4.4.5).
    pub serial: u32,
    /// An admission decision is pending for it ([`super::super::Event::IncomingCall`]).
    pub admission_pending: bool,
    /// PPP frames sent on it (data messages).
    pub frames_sent: u64,
    /// PPP frames received on it (data messages accepted in sequence).
    pub frames_received: u64,
}

impl Core {
    /// The record of tunnel `tid`, if held.
    pub fn tunnel_info(&self, tid: u16) -> Option<TunnelInfo> {
        let t = self.tunnels.get(&tid)?;
        Some(TunnelInfo {
            tunnel: tid,
            peer_tunnel: t.peer_header_id(),
            peer: t.peer,
            local: t.local,
            state: t.state,
            sessions: t.sessions.len(),
            peer_load_balance_capable: t.peer_load_balance_capable,
        })
    }

    /// The record of session `s`, if held.
    pub fn session_info(&self, s: SessionRef) -> Option<SessionInfo> {
        let handoff = self.handoff(s.tunnel, s.session)?;
        let rec = self.tunnels.get(&s.tunnel)?.sessions.get(&s.session)?;
        Some(SessionInfo {
            handoff,
            state: rec.state,
            call: rec.call,
            serial: rec.serial,
            admission_pending: rec.admission.is_some(),
            frames_sent: rec.frames_sent,
            frames_received: rec.frames_received,
        })
    }
}
