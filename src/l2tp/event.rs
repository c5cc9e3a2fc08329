//! What the LAC and the LNS report: [`Event`], the handles it names ([`SessionRef`], [`CallId`])
//! and what a data plane needs ([`SessionHandoff`], [`Data`]).

use super::CallDetails;
use super::wire::ResultCode;
use super::wire::avp::{CallErrors, PppDisconnectCause};
use bytes::Bytes;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

/// A session as the endpoint knows it: our tunnel id and our session id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionRef {
    /// Our Tunnel ID.
    pub tunnel: u16,
    /// Our Session ID.
    pub session: u16,
}

/// The LAC's handle of one user call; it stays the same across redirections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallId(pub u64);

/// The handle of one pending admission decision at an LNS ([`Event::IncomingCall`]): never
/// reused, so an answer to a call already decided, timed out or gone is told apart
/// ([`CommandError::NoAdmission`](super::CommandError::NoAdmission)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AdmissionId(pub u64);

/// What an endpoint reports.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A tunnel is established with `peer`: a data plane creates its tunnel now (Linux:
    /// `L2TP_CMD_TUNNEL_CREATE` with `L2TP_ATTR_CONN_ID` = `tunnel`, `L2TP_ATTR_PEER_CONN_ID` =
    /// `peer_tunnel`, `L2TP_ATTR_PROTO_VERSION` 2, `L2TP_ATTR_ENCAP_TYPE` UDP, the addresses and
    /// UDP ports of `local` and `peer`).
    TunnelUp {
        /// Our Tunnel ID (the peer puts it in the headers it sends; `L2TP_ATTR_CONN_ID`).
        tunnel: u16,
        /// The peer's address (`L2TP_ATTR_IP_DADDR` / `IP6_DADDR`, `L2TP_ATTR_UDP_DPORT`).
        peer: SocketAddr,
        /// The peer's Tunnel ID (its Assigned Tunnel ID, RFC 2661 4.4.3; what our headers carry;
        /// `L2TP_ATTR_PEER_CONN_ID`).
        peer_tunnel: u16,
        /// Our address the peer talks to (`L2TP_ATTR_IP_SADDR` / `IP6_SADDR`,
        /// `L2TP_ATTR_UDP_SPORT`), when known (the `to` of the datagrams received).
        local: Option<SocketAddr>,
    },
    /// A tunnel is gone (StopCCN sent or received, or the peer stopped answering), and with it
    /// every session of it: a data plane removes the tunnel our Tunnel ID names (Linux:
    /// `L2TP_CMD_TUNNEL_DELETE` with `L2TP_ATTR_CONN_ID` = `tunnel`, which deletes its sessions).
    /// After a StopCCN the endpoint still holds the closed tunnel for
    /// [`Config::hold_period`](super::Config::hold_period) (31 s by default, RFC 2661 5.7) to
    /// acknowledge retransmissions, so its `poll_timeout` stays `Some` until then.
    TunnelDown {
        /// Our Tunnel ID (`L2TP_ATTR_CONN_ID`).
        tunnel: u16,
        /// The peer.
        peer: SocketAddr,
        /// The Result Code of the StopCCN, if one was exchanged.
        result: Option<ResultCode<'static>>,
    },
    /// A session is established: `handoff` is what a data plane needs to carry it (Linux:
    /// `L2TP_CMD_SESSION_CREATE`, see [`SessionHandoff`]).
    SessionUp {
        /// The session.
        session: SessionRef,
        /// The LAC's call (None on an LNS).
        call: Option<CallId>,
        /// The peer.
        peer: SocketAddr,
        /// Both ends' ids, the addresses, the data message policy.
        handoff: SessionHandoff,
    },
    /// LNS with [`LnsConfig::admission`](super::LnsConfig::admission): a call this LNS would
    /// serve (not one the contact LNS redirects) asks to be admitted: its ICRQ arrived, no ICRP
    /// has been sent. Answer with [`Lns::accept`](super::Lns::accept) (ICRP) or
    /// [`Lns::refuse`](super::Lns::refuse) (CDN) within
    /// [`AdmissionConfig::timeout`](super::lns::AdmissionConfig::timeout); unanswered, the call
    /// is refused and [`Event::SessionDown`] names `session`.
    IncomingCall {
        /// The decision's handle.
        id: AdmissionId,
        /// The session reserved for the call (our Tunnel ID and the Session ID the ICRP will
        /// assign).
        session: SessionRef,
        /// The LAC.
        peer: SocketAddr,
        /// What the ICRQ says about the call (RFC 2661 6.6: Bearer Type, Physical Channel ID,
        /// Calling and Called Number, Sub-Address).
        details: Box<CallDetails>,
    },
    /// LNS with admission: an admitted call connected (its ICCN arrived, RFC 2661 6.8): the
    /// ICRQ's details with the ICCN's merged in (Connect Speeds, Framing Type, proxy LCP and
    /// proxy authentication, Private Group ID), e.g. for a RADIUS request. [`Event::SessionUp`]
    /// follows; a caller that rejects the call now closes it with
    /// [`Lns::close_session`](super::Lns::close_session).
    CallConnected {
        /// The session.
        session: SessionRef,
        /// The merged details.
        details: Box<CallDetails>,
    },
    /// A session ended (CDN sent or received, or its tunnel went down), or a LAC call failed
    /// before being established. A data plane removes the session `session` names (Linux:
    /// `L2TP_CMD_SESSION_DELETE` with `L2TP_ATTR_CONN_ID` = its tunnel, `L2TP_ATTR_SESSION_ID` =
    /// its session).
    SessionDown {
        /// The session (None for a LAC call that never got one).
        session: Option<SessionRef>,
        /// The LAC's call (None on an LNS).
        call: Option<CallId>,
        /// The Result Code of the CDN, if one was exchanged.
        result: Option<ResultCode<'static>>,
        /// The PPP Disconnect Cause Code (RFC 3145) of the CDN, if it carried one (received) or
        /// we sent one ([`Close::cause`](super::Close::cause), given to
        /// [`Lns::close_session`](super::Lns::close_session) or
        /// [`Lac::close_session`](super::Lac::close_session)).
        cause: Option<PppDisconnectCause<'static>>,
    },
    /// LAC: an LNS went on the deny-list after it failed a plan call ([`Lac::open_call`]
    /// with a [`TunnelPlan`](super::TunnelPlan)); plan calls skip it until `until`
    /// ([`LacConfig::deny_time`](super::LacConfig::deny_time)). Counted in
    /// [`Stats::lns_denied`](super::Stats::lns_denied) too. Not sent when
    /// [`LacConfig::max_denied`](super::LacConfig::max_denied) is 0 (no deny-list).
    ///
    /// [`Lac::open_call`]: super::Lac::open_call
    LnsDenied {
        /// The LNS's address.
        lns: IpAddr,
        /// When it leaves the deny-list.
        until: Instant,
        /// Why it was denied.
        reason: super::lac::DenyReason,
    },
    /// LAC: the call was redirected from one LNS to another.
    Redirected {
        /// The call.
        call: CallId,
        /// The LNS that redirected it.
        from: IpAddr,
        /// The LNS it goes to now.
        to: IpAddr,
    },
    /// Contact LNS: a call (or a tunnel-level request) was redirected to a pool LNS.
    RedirectIssued {
        /// The LAC.
        peer: SocketAddr,
        /// The pool LNS chosen.
        to: IpAddr,
        /// With the vendor AVP (true) or the standard Result 2 / Error 9 (false).
        vendor_avp: bool,
    },
    /// LNS: a call was refused (CDN or StopCCN with this result).
    Refused {
        /// The LAC.
        peer: SocketAddr,
        /// The Result Code sent.
        result: ResultCode<'static>,
    },
    /// A WAN-Error-Notify arrived (at an LNS: RFC 2661 6.13, the LAC sends it to the LNS).
    Wen {
        /// The session.
        session: SessionRef,
        /// The counters.
        errors: CallErrors,
    },
    /// RFC 4951: the recovery of tunnel `tunnel` started. On the recovering (failed) endpoint:
    /// its recovery SCCRQ, with Tunnel Recovery, left. On the non-failed endpoint: it accepted a
    /// recovery SCCRQ for `tunnel` and answered with the Suggested Control Sequence.
    TunnelRecoveryStarted {
        /// Our Tunnel ID of the old tunnel being recovered.
        tunnel: u16,
        /// The peer (on the non-failed endpoint: the address the recovery came from).
        peer: SocketAddr,
    },
    /// RFC 4951: tunnel `tunnel` is recovered: its control channel resumed with the Suggested
    /// Control Sequence (the recovering endpoint next sends FSQ for the sessions it is unsure
    /// of); its sessions continue.
    TunnelRecovered {
        /// Our Tunnel ID of the recovered tunnel.
        tunnel: u16,
        /// The peer (from now on the tunnel's peer).
        peer: SocketAddr,
    },
    /// RFC 4951: the recovery of tunnel `tunnel` failed (the recovery tunnel was refused with
    /// StopCCN, its control channel died, or the answer lacked the Suggested Control Sequence).
    /// On the recovering endpoint the old tunnel is then cleared ([`Event::TunnelDown`] follows);
    /// the non-failed endpoint keeps it until the peer's Recovery Time runs out when its
    /// control channel had given up, and otherwise goes on with it as before.
    TunnelRecoveryFailed {
        /// Our Tunnel ID of the old tunnel.
        tunnel: u16,
        /// The peer.
        peer: SocketAddr,
    },
    /// A Set-Link-Info arrived (at a LAC: RFC 2661 6.14, the LNS sends it to the LAC).
    Sli {
        /// The session.
        session: SessionRef,
        /// Send ACCM.
        send_accm: u32,
        /// Receive ACCM.
        receive_accm: u32,
    },
    // -- Virtual LNS failover --
    /// LNS: this member took over, as their backup, the tunnels and sessions a failed member
    /// served at `addr` (silent failover, [`lns`](super::lns) module docs). The caller moves `addr` to this
    /// LNS (the LAC keeps sending there) and installs every session of `sessions` in its data
    /// plane. One event per failed member's address. The same name and `failed` field as the
    /// Home Agent's [`mip::Event::TakenOver`](crate::mip::Event::TakenOver).
    TakenOver {
        /// The failed member (health node id; RFC 4951 section 1.1's "failed endpoint").
        failed: crate::health::NodeId,
        /// The failed member's address the taken tunnels use: to move here.
        addr: IpAddr,
        /// Our Tunnel IDs of the tunnels taken (the failed member's ids, kept).
        tunnels: Vec<u16>,
        /// The data-plane handoff of every session taken.
        sessions: Vec<SessionHandoff>,
        /// The call details of every session taken, in the order of `sessions` (`details[i]`
        /// is `sessions[i]`'s; `None` when the LAC gave none): what
        /// [`Event::CallConnected`] gave the failed member's caller (the ICRQ's and ICCN's
        /// details merged, RFC 2661 4.4.5; the ICRQ's alone when the member failed before its
        /// backup held the ICCN's), so that the taker can tell whose call it is (accounting,
        /// RADIUS and lawful intercept key on the Calling Number). Without the proxy LCP and
        /// the proxy authentication's challenge, ID and response, which never leave the member
        /// that took the ICCN ([`CallDetails::replicable`]).
        details: Vec<Option<Box<CallDetails>>>,
    },
    /// LNS: a tunnel of ours was taken over by the backup `owner` while it saw us Down (a false
    /// Down), or by a member whose claim on the same failed member beat ours: dropped here
    /// without a StopCCN (the LAC's tunnel continues at `owner`, which holds `local` now); the
    /// caller removes its sessions from the data plane, and stops answering at `local` once no
    /// tunnel of ours is left there ([`Lns::tunnels_at`](super::Lns::tunnels_at)).
    Yielded {
        /// Our Tunnel ID.
        tunnel: u16,
        /// The member that took it over and now serves it (`owner`, as in
        /// [`Event::TakenOver`] of the Home Agent).
        owner: crate::health::NodeId,
        /// Its sessions, by our Session ID.
        sessions: usize,
        /// Our address the tunnel used (the LAC sends there; for a tunnel taken over, the
        /// failed member's address of its [`Event::TakenOver`]), when known; as
        /// [`Event::TunnelUp`]'s `local`.
        local: Option<SocketAddr>,
    },
    /// LNS: this member restarted (a higher [`incarnation`](super::LnsMembership::incarnation))
    /// and `owner` took over the tunnels its former incarnation served at `addr` (the former
    /// incarnation's calls continue at `owner`, which holds `addr` now: its
    /// [`Event::TakenOver`]). The restarted LNS knows none of those tunnels; the caller stops
    /// answering at `addr` (releases it, stops announcing it) once no tunnel of ours is left
    /// there ([`Lns::tunnels_at`](super::Lns::tunnels_at)), so that the LAC's packets reach
    /// `owner`: as on [`Event::Yielded`], whose `owner` it names the same way. Told once per
    /// restart of this member, when `owner` sees it Up.
    AddressTaken {
        /// Our address the former incarnation's tunnels used.
        addr: IpAddr,
        /// The member that took them over and holds `addr` now.
        owner: crate::health::NodeId,
    },
}

/// What a data plane needs to carry a session ([`Event::SessionUp`] at the LAC and the LNS, and
/// [`Event::TakenOver`]): the addresses, both ends' Tunnel and Session IDs, the data sequencing
/// each way (RFC 2661 5.4, 5.8), the role, the header policy.
///
/// The Linux `l2tp` generic-netlink family (`L2TP_CMD_TUNNEL_CREATE`, then
/// `L2TP_CMD_SESSION_CREATE` with `L2TP_ATTR_PW_TYPE` PPP, then a PPPoL2TP socket):
///
/// | Field | Netlink attribute |
/// | --- | --- |
/// | `session.tunnel` | `L2TP_ATTR_CONN_ID` |
/// | `peer_tunnel` | `L2TP_ATTR_PEER_CONN_ID` |
/// | `session.session` | `L2TP_ATTR_SESSION_ID` |
/// | `peer_session` | `L2TP_ATTR_PEER_SESSION_ID` |
/// | `send_seq` | `L2TP_ATTR_SEND_SEQ` |
/// | `recv_seq` | `L2TP_ATTR_RECV_SEQ` |
/// | `lns_mode` | `L2TP_ATTR_LNS_MODE` |
/// | (always UDP, RFC 2661 8.1) | `L2TP_ATTR_ENCAP_TYPE` = `L2TP_ENCAPTYPE_UDP` |
/// | `local` | `L2TP_ATTR_IP_SADDR` or `L2TP_ATTR_IP6_SADDR`, `L2TP_ATTR_UDP_SPORT` |
/// | `peer` | `L2TP_ATTR_IP_DADDR` or `L2TP_ATTR_IP6_DADDR`, `L2TP_ATTR_UDP_DPORT` |
/// | `length_bit`, `offset` | none: the kernel sends no Length and no Offset field (both optional, RFC 2661 3.1) and accepts both |
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionHandoff {
    /// The session (our Tunnel and Session IDs: what the peer puts in its headers).
    pub session: SessionRef,
    /// Our address (at a takeover: the failed member's, to move here).
    pub local: SocketAddr,
    /// The peer's address.
    pub peer: SocketAddr,
    /// The peer's Tunnel ID (what our headers carry).
    pub peer_tunnel: u16,
    /// The peer's Session ID (what our headers carry).
    pub peer_session: u16,
    /// Data messages carry Ns/Nr (both ways: `send_seq` and `recv_seq`).
    pub sequencing: bool,
    /// Our data messages carry Ns/Nr (Sequencing Required was exchanged or is configured, RFC
    /// 2661 5.4).
    pub send_seq: bool,
    /// Data messages from the peer are checked in sequence (late and duplicate ones dropped).
    pub recv_seq: bool,
    /// We are the LNS of this session (RFC 2661 5.4: the LNS decides data sequencing).
    pub lns_mode: bool,
    /// Our data messages carry the Length field (L bit, RFC 2661 3.1).
    pub length_bit: bool,
    /// Our data messages carry an Offset field (O bit): never, this crate sends none.
    pub offset: bool,
    /// Next data Ns to send (the replicated one plus [`DATA_NS_SKIP`](super::tunnel::DATA_NS_SKIP)).
    pub ns: u16,
    /// Next data Ns expected from the LAC.
    pub nr: u16,
}

/// A PPP frame received on a session (see `poll_data`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Data {
    /// The session.
    pub session: SessionRef,
    /// The LAC's call.
    pub call: Option<CallId>,
    /// The PPP frame, as the peer sent it: its Protocol field and information, with the HDLC
    /// Address and Control fields (0xff 0x03) in front when the peer sends them (RFC 1661
    /// section 6.6; Linux's L2TP PPP and xl2tpd do), nothing added or stripped.
    pub frame: Bytes,
}
